/*
 * qualify_read.c — the validator of `mmcert qualify` reports (see
 * qualify_read.h). Messages name the JSON path of the first problem and
 * what is allowed there, like the results validator.
 */
#include "qualify_read.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct vq {
  mmc_error_t *err;
  int rc;
} vq_t;

__attribute__((format(printf, 3, 4))) static bool bad(vq_t *v, const char *path, const char *fmt,
                                                      ...) {
  if (v->rc)
    return false;
  char what[MMC_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  v->rc = mmc_fail(v->err, MMC_EINVAL, "%s: %s", path, what);
  return false;
}

/* Member `key` of `o` when it has JSON type `t`; NULL after noting why. */
static json_t *need(vq_t *v, const json_t *o, const char *path, const char *key, json_type t) {
  static const char *const names[] = {"an object", "an array", "a string", "an integer",
                                      "a number",  "true",     "false",    "null"};
  char p[160];
  snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", key);
  json_t *m = json_object_get(o, key);
  if (!m)
    return bad(v, p, "missing (required, %s)", names[t]), NULL;
  bool ok = json_typeof(m) == t || (t == JSON_REAL && json_is_number(m)) ||
            (t == JSON_TRUE && json_is_boolean(m));
  if (!ok)
    return bad(v, p, "expected %s", t == JSON_TRUE ? "a boolean" : names[t]), NULL;
  return m;
}

/* n x n of numbers (integers when `ints`), null allowed when `nulls`. */
static void matrix(vq_t *v, const json_t *m, const char *path, size_t n, bool ints, bool nulls) {
  if (!m)
    return;
  if (json_array_size(m) != n) {
    bad(v, path, "expected %zu rows (topology.nnodes), found %zu", n, json_array_size(m));
    return;
  }
  for (size_t i = 0; i < n; i++) {
    const json_t *row = json_array_get(m, i);
    if (!json_is_array(row) || json_array_size(row) != n) {
      bad(v, path, "row %zu: expected an array of %zu values", i, n);
      return;
    }
    for (size_t j = 0; j < n; j++) {
      const json_t *x = json_array_get(row, j);
      bool ok = (json_is_null(x) && nulls) || (ints ? json_is_integer(x) : json_is_number(x));
      if (!ok) {
        bad(v, path, "[%zu][%zu]: expected %s%s", i, j, ints ? "an integer" : "a number",
            nulls ? " or null" : "");
        return;
      }
    }
  }
}

static void pairs(vq_t *v, const json_t *a, const char *path) {
  size_t i;
  json_t *p;
  json_array_foreach(a, i, p) {
    char pp[96];
    snprintf(pp, sizeof pp, "%s[%zu]", path, i);
    json_t *from = need(v, p, pp, "from", JSON_INTEGER), *to = need(v, p, pp, "to", JSON_INTEGER);
    json_t *measured = need(v, p, pp, "measured", JSON_TRUE);
    if (!from || !to || !measured)
      return;
    if (json_is_true(measured) && !need(v, p, pp, "gb_per_s", JSON_REAL))
      return;
  }
}

int suite_qr_validate(const json_t *doc, mmc_error_t *err) {
  vq_t v = {.err = err};
  if (!json_is_object(doc))
    return mmc_fail(err, MMC_EINVAL, "expected a JSON object (an mmcert qualify report)");
  json_t *s = need(&v, doc, "", "schema", JSON_STRING);
  if (s && strcmp(json_string_value(s), "mmcert-qualify"))
    return mmc_fail(err, MMC_EINVAL, "schema: \"%s\", expected \"mmcert-qualify\"",
                    json_string_value(s));
  json_t *ver = need(&v, doc, "", "schema_version", JSON_INTEGER);
  if (ver && json_integer_value(ver) != SUITE_QUALIFY_SCHEMA)
    return mmc_fail(err, MMC_EINVAL,
                    "schema_version %lld, this mmcert reads qualify reports of version %d (run "
                    "mmcert qualify again to get one)",
                    (long long)json_integer_value(ver), SUITE_QUALIFY_SCHEMA);
  need(&v, doc, "", "run_id", JSON_STRING);
  need(&v, doc, "", "start_time", JSON_STRING);
  json_t *m = need(&v, doc, "", "machine", JSON_OBJECT);
  if (m) {
    need(&v, m, "machine", "hostname", JSON_STRING);
    need(&v, m, "machine", "class", JSON_STRING);
  }
  json_t *t = need(&v, doc, "", "topology", JSON_OBJECT);
  json_t *nn = t ? need(&v, t, "topology", "nnodes", JSON_INTEGER) : NULL;
  if (v.rc)
    return v.rc;
  long long n = json_integer_value(nn);
  if (n < 1 || n > 1024)
    return mmc_fail(err, MMC_EINVAL, "topology.nnodes: %lld, expected 1..1024", n);
  matrix(&v, need(&v, t, "topology", "firmware_distances", JSON_ARRAY),
         "topology.firmware_distances", (size_t)n, true, false);
  json_t *lat = need(&v, doc, "", "latency", JSON_OBJECT);
  if (lat)
    matrix(&v, need(&v, lat, "latency", "ns_per_load", JSON_ARRAY), "latency.ns_per_load",
           (size_t)n, false, true);
  json_t *bw = need(&v, doc, "", "bandwidth", JSON_OBJECT);
  if (bw) {
    matrix(&v, need(&v, bw, "bandwidth", "copy_gb_per_s", JSON_ARRAY), "bandwidth.copy_gb_per_s",
           (size_t)n, false, true);
    matrix(&v, need(&v, bw, "bandwidth", "triad_gb_per_s", JSON_ARRAY), "bandwidth.triad_gb_per_s",
           (size_t)n, false, true);
  }
  json_t *mig = need(&v, doc, "", "migration", JSON_OBJECT);
  if (mig) {
    pairs(&v, need(&v, mig, "migration", "pairs", JSON_ARRAY), "migration.pairs");
    json_t *eng = need(&v, mig, "migration", "engine", JSON_OBJECT);
    if (eng)
      pairs(&v, need(&v, eng, "migration.engine", "pairs", JSON_ARRAY), "migration.engine.pairs");
  }
  return v.rc;
}

double *suite_qr_matrix(const json_t *doc, const char *section, const char *key, size_t *n) {
  const json_t *m = json_object_get(json_object_get(doc, section), key);
  *n = json_array_size(m);
  double *x = *n ? malloc(*n * *n * sizeof *x) : NULL;
  for (size_t i = 0; x && i < *n; i++)
    for (size_t j = 0; j < *n; j++) {
      const json_t *c = json_array_get(json_array_get(m, i), j);
      x[i * *n + j] = json_is_number(c) ? json_number_value(c) : NAN;
    }
  return x;
}
