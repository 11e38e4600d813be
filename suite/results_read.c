/*
 * results_read.c — the validator of results schema 2 and the pooling of
 * runs into one side of a comparison (see results_read.h). The checks here
 * mirror doc/results.schema.json; keep the two in step.
 */
#include "results_read.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "results.h"

/* ------------------------------------------------------------ validation */

typedef struct vctx {
  mmc_error_t *err;
  int rc;
} vctx_t;

__attribute__((format(printf, 3, 4))) static bool bad(vctx_t *v, const char *path, const char *fmt,
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

static const char *type_name(const json_t *j) {
  switch (json_typeof(j)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: return "an integer";
  case JSON_REAL: return "a number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  default: return "null";
  }
}

/* Member `key` of object `o` of type `t` ("string", "integer", "number",
 * "object", "array", "boolean"); NULL after recording the problem. */
static json_t *member(vctx_t *v, const json_t *o, const char *path, const char *key,
                      const char *t) {
  char p[256];
  snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", key);
  json_t *m = json_object_get(o, key);
  if (!m)
    return bad(v, p, "missing (required, %s)", t), NULL;
  bool ok =
      (!strcmp(t, "string") && json_is_string(m)) ||
      (!strcmp(t, "integer") && json_is_integer(m)) ||
      (!strcmp(t, "number") && json_is_number(m)) || (!strcmp(t, "object") && json_is_object(m)) ||
      (!strcmp(t, "array") && json_is_array(m)) || (!strcmp(t, "boolean") && json_is_boolean(m));
  if (!ok)
    return bad(v, p, "expected %s, found %s", t, type_name(m)), NULL;
  return m;
}

static bool one_of(vctx_t *v, const json_t *s, const char *path, const char *const *allowed) {
  for (int i = 0; allowed[i]; i++)
    if (!strcmp(json_string_value(s), allowed[i]))
      return true;
  char list[256] = "";
  for (int i = 0; allowed[i]; i++)
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%s\"", i ? ", " : "",
             allowed[i]);
  return bad(v, path, "\"%s\" is not one of %s", json_string_value(s), list);
}

static bool numbers(vctx_t *v, const json_t *a, const char *path, bool nonempty) {
  if (nonempty && json_array_size(a) == 0)
    return bad(v, path, "expected at least one value");
  size_t i;
  json_t *x;
  json_array_foreach(a, i, x) if (!json_is_number(x)) return bad(
      v, path, "element %zu is %s, expected a number", i, type_name(x));
  return true;
}

static void check_check(vctx_t *v, const json_t *c, const char *path) {
  static const char *const verdicts[] = {"pass", "fail", NULL};
  json_t *vd = member(v, c, path, "verdict", "string");
  member(v, c, path, "id", "string");
  member(v, c, path, "name", "string");
  member(v, c, path, "spec_ids", "string");
  member(v, c, path, "ok", "boolean");
  member(v, c, path, "diag", "string");
  if (vd)
    one_of(v, vd, path, verdicts);
}

static void check_metric(vctx_t *v, const json_t *m, const char *path) {
  static const char *const betters[] = {"lower", "higher", "", NULL};
  char p[256];
  member(v, m, path, "name", "string");
  member(v, m, path, "unit", "string");
  json_t *b = member(v, m, path, "better", "string");
  json_t *s = member(v, m, path, "samples", "array");
  if (b)
    one_of(v, b, path, betters);
  snprintf(p, sizeof p, "%s.samples", path);
  /* A metric that could not be measured here carries its reason instead of
   * samples ("unsupported"); any other metric has at least one sample. */
  json_t *why = json_object_get(m, "unsupported");
  if (why && !json_is_string(why))
    bad(v, path, "\"unsupported\" is %s, expected a string (the reason)", type_name(why));
  if (s)
    numbers(v, s, p, !why);
}

static void check_series(vctx_t *v, const json_t *s, const char *path) {
  char p[256];
  member(v, s, path, "name", "string");
  member(v, s, path, "unit", "string");
  member(v, s, path, "rep", "integer");
  json_t *t = member(v, s, path, "t", "array"), *y = member(v, s, path, "v", "array");
  snprintf(p, sizeof p, "%s.t", path);
  if (t)
    numbers(v, t, p, false);
  snprintf(p, sizeof p, "%s.v", path);
  if (y)
    numbers(v, y, p, false);
  if (t && y && json_array_size(t) != json_array_size(y))
    bad(v, path, "t has %zu points but v has %zu", json_array_size(t), json_array_size(y));
}

typedef void (*elem_fn)(vctx_t *, const json_t *, const char *);

static void each(vctx_t *v, const json_t *arr, const char *path, elem_fn fn) {
  size_t i;
  json_t *e;
  json_array_foreach(arr, i, e) {
    char p[256];
    snprintf(p, sizeof p, "%s[%zu]", path, i);
    if (!json_is_object(e)) {
      bad(v, p, "expected an object, found %s", type_name(e));
      return;
    }
    fn(v, e, p);
  }
}

static void check_case(vctx_t *v, const json_t *c, const char *path) {
  static const char *const verdicts[] = {"pass", "fail", "skip", "broken", NULL};
  char p[256];
  member(v, c, path, "id", "string");
  member(v, c, path, "spec_ids", "string");
  member(v, c, path, "title", "string");
  member(v, c, path, "repetitions", "integer");
  json_t *vd = member(v, c, path, "verdict", "string");
  if (vd)
    one_of(v, vd, path, verdicts);
  json_t *a;
  if ((a = member(v, c, path, "checks", "array")))
    snprintf(p, sizeof p, "%s.checks", path), each(v, a, p, check_check);
  if ((a = member(v, c, path, "metrics", "array")))
    snprintf(p, sizeof p, "%s.metrics", path), each(v, a, p, check_metric);
  if ((a = member(v, c, path, "series", "array")))
    snprintf(p, sizeof p, "%s.series", path), each(v, a, p, check_series);
}

int suite_rr_validate(const json_t *doc, mmc_error_t *err) {
  vctx_t v = {.err = err};
  if (!json_is_object(doc))
    return mmc_fail(err, MMC_EINVAL, "expected a JSON object at the top, found %s", type_name(doc));
  json_t *s = member(&v, doc, "", "schema", "string");
  if (s && strcmp(json_string_value(s), "mmcert-results"))
    return mmc_fail(err, MMC_EINVAL, "schema is \"%s\", expected \"mmcert-results\"",
                    json_string_value(s));
  json_t *ver = member(&v, doc, "", "schema_version", "integer");
  if (ver && json_integer_value(ver) != SUITE_RESULTS_SCHEMA)
    return mmc_fail(err, MMC_EINVAL,
                    "schema_version %lld, this mmcert reads version %d only (run the suite again "
                    "with this mmcert to get a version-%d file)",
                    (long long)json_integer_value(ver), SUITE_RESULTS_SCHEMA, SUITE_RESULTS_SCHEMA);
  if (v.rc)
    return v.rc;
  static const char *const modes[] = {"quick", "full", "bench", NULL};
  member(&v, doc, "", "run_id", "string");
  member(&v, doc, "", "mmcert_version", "string");
  member(&v, doc, "", "seed", "integer");
  member(&v, doc, "", "repeat", "integer");
  member(&v, doc, "", "start_time", "string");
  member(&v, doc, "", "end_time", "string");
  member(&v, doc, "", "settings", "array");
  member(&v, doc, "", "totals", "object");
  json_t *mode = member(&v, doc, "", "mode", "string");
  if (mode)
    one_of(&v, mode, "mode", modes);
  json_t *m = member(&v, doc, "", "machine", "object");
  if (m) {
    member(&v, m, "machine", "hostname", "string");
    member(&v, m, "machine", "class", "string");
    member(&v, m, "machine", "cpus", "integer");
    member(&v, m, "machine", "memory_bytes", "integer");
  }
  json_t *t = member(&v, doc, "", "topology", "object");
  if (t) {
    member(&v, t, "topology", "summary", "string");
    member(&v, t, "topology", "hash", "string");
    member(&v, t, "topology", "nnodes", "integer");
  }
  json_t *im = member(&v, doc, "", "implementation", "object");
  if (im) {
    member(&v, im, "implementation", "name", "string");
    member(&v, im, "implementation", "version", "string");
    member(&v, im, "implementation", "abi_version", "integer");
  }
  json_t *cases = member(&v, doc, "", "cases", "array");
  if (cases)
    each(&v, cases, "cases", check_case);
  return v.rc;
}

/* ------------------------------------------------------------ loading */

static int parse_error(const char *label, const json_error_t *je, size_t size, mmc_error_t *err) {
  if (size == 0)
    return mmc_fail(err, MMC_EINVAL, "%s: empty file, expected an mmcert results JSON document",
                    label);
  /* jansson says "premature end of input" or "unexpected token near end
   * of file" when the text stops early. */
  bool early = strstr(je->text, "premature end") || strstr(je->text, "end of file");
  return mmc_fail(err, MMC_EINVAL,
                  "%s: %s at line %d, column %d: %s (expected an mmcert results "
                  "JSON document)",
                  label, early ? "truncated JSON (the text ends early)" : "not valid JSON",
                  je->line, je->column, je->text);
}

static int validated(json_t *doc, const char *label, json_t **out, mmc_error_t *err) {
  mmc_error_t e = {0};
  if (suite_rr_validate(doc, &e) != 0) {
    json_decref(doc);
    return mmc_fail(err, MMC_EINVAL, "%s: not a valid mmcert results file: %s", label, e.msg);
  }
  *out = doc;
  return 0;
}

int suite_rr_load_text(const char *text, const char *label, json_t **out, mmc_error_t *err) {
  json_error_t je;
  json_t *doc = json_loads(text, 0, &je);
  if (!doc)
    return parse_error(label, &je, strlen(text), err);
  return validated(doc, label, out, err);
}

int suite_rr_load_file(const char *path, json_t **out, mmc_error_t *err) {
  struct stat st;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
    return mmc_fail(err, MMC_EINVAL,
                    "%s: not a regular file (expected an mmcert results JSON file)", path);
  FILE *f = fopen(path, "r");
  if (!f)
    return mmc_fail(err, MMC_ENOENT, "%s: cannot open: %m", path);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  rewind(f);
  json_error_t je;
  json_t *doc = json_loadf(f, 0, &je);
  fclose(f);
  if (!doc)
    return parse_error(path, &je, size > 0 ? (size_t)size : 0, err);
  return validated(doc, path, out, err);
}

/* ------------------------------------------------------------ pooling */

static suite_rr_metric_t *find_metric(suite_rr_t *rr, const char *cid, const char *name) {
  for (size_t i = 0; i < rr->nmetrics; i++)
    if (!strcmp(rr->metrics[i].case_id, cid) && !strcmp(rr->metrics[i].name, name))
      return &rr->metrics[i];
  return NULL;
}

static suite_rr_check_t *find_check(suite_rr_t *rr, const char *cid, const char *name) {
  for (size_t i = 0; i < rr->nchecks; i++)
    if (!strcmp(rr->checks[i].case_id, cid) && !strcmp(rr->checks[i].name, name))
      return &rr->checks[i];
  return NULL;
}

static int verdict_rank(const char *v) {
  static const char *const order[] = {"pass", "skip", "fail", "broken"};
  for (int i = 0; i < 4; i++)
    if (!strcmp(v, order[i]))
      return i;
  return 0;
}

static void *grow(void *p, size_t n, size_t size) {
  void *q = realloc(p, (n + 1) * size);
  if (!q)
    abort(); /* out of memory while reading results: nothing sensible is left */
  return q;
}

static void pool_metric(suite_rr_t *rr, const char *cid, const json_t *m) {
  const char *name = json_string_value(json_object_get(m, "name"));
  suite_rr_metric_t *dst = find_metric(rr, cid, name);
  if (!dst) {
    rr->metrics = grow(rr->metrics, rr->nmetrics, sizeof *rr->metrics);
    dst = &rr->metrics[rr->nmetrics++];
    *dst = (suite_rr_metric_t){.case_id = cid,
                               .name = name,
                               .unit = json_string_value(json_object_get(m, "unit")),
                               .better = json_string_value(json_object_get(m, "better"))};
  }
  json_t *s = json_object_get(m, "samples");
  size_t i;
  json_t *x;
  json_array_foreach(s, i, x) {
    dst->samples = grow(dst->samples, dst->n, sizeof *dst->samples);
    dst->samples[dst->n++] = json_number_value(x);
  }
}

static void pool_check(suite_rr_t *rr, const char *cid, const json_t *c) {
  const char *name = json_string_value(json_object_get(c, "name"));
  bool ok = json_is_true(json_object_get(c, "ok"));
  suite_rr_check_t *dst = find_check(rr, cid, name);
  if (!dst) {
    rr->checks = grow(rr->checks, rr->nchecks, sizeof *rr->checks);
    dst = &rr->checks[rr->nchecks++];
    *dst = (suite_rr_check_t){.case_id = cid,
                              .id = json_string_value(json_object_get(c, "id")),
                              .name = name,
                              .spec_ids = json_string_value(json_object_get(c, "spec_ids")),
                              .diag = json_string_value(json_object_get(c, "diag")),
                              .ok = true};
  }
  if (!ok && dst->ok) {
    dst->ok = false;
    dst->diag = json_string_value(json_object_get(c, "diag"));
  }
}

static void pool_case(suite_rr_t *rr, const json_t *c) {
  const char *cid = json_string_value(json_object_get(c, "id"));
  const char *verdict = json_string_value(json_object_get(c, "verdict"));
  size_t k = 0;
  while (k < rr->ncases && strcmp(rr->cases[k].id, cid))
    k++;
  if (k == rr->ncases) {
    rr->cases = grow(rr->cases, rr->ncases, sizeof *rr->cases);
    rr->cases[rr->ncases++] = (suite_rr_case_t){.id = cid, .verdict = verdict};
  } else if (verdict_rank(verdict) > verdict_rank(rr->cases[k].verdict)) {
    rr->cases[k].verdict = verdict;
  }
  size_t i;
  json_t *x;
  json_array_foreach(json_object_get(c, "metrics"), i, x) pool_metric(rr, cid, x);
  json_array_foreach(json_object_get(c, "checks"), i, x) pool_check(rr, cid, x);
}

static const char *str_at(const json_t *doc, const char *obj, const char *key) {
  return json_string_value(json_object_get(obj ? json_object_get(doc, obj) : doc, key));
}

int suite_rr_from_docs(json_t *docs, const char *label, suite_rr_t *out, mmc_error_t *err) {
  *out = (suite_rr_t){.docs = docs};
  snprintf(out->label, sizeof out->label, "%s", label);
  if (json_array_size(docs) == 0) {
    json_decref(docs);
    out->docs = NULL;
    return mmc_fail(err, MMC_ENOENT, "%s: no run selected", label);
  }
  json_t *first = json_array_get(docs, 0);
  out->impl = str_at(first, "implementation", "name");
  out->version = str_at(first, "implementation", "version");
  out->machine_class = str_at(first, "machine", "class");
  out->topo_hash = str_at(first, "topology", "hash");
  out->topo_summary = str_at(first, "topology", "summary");
  out->mode = str_at(first, NULL, "mode");
  out->run_id = str_at(first, NULL, "run_id");
  size_t i;
  json_t *d;
  json_array_foreach(docs, i, d) {
    if (strcmp(str_at(d, "topology", "hash"), out->topo_hash) ||
        strcmp(str_at(d, NULL, "mode"), out->mode)) {
      int rc = mmc_fail(err, MMC_EINVAL,
                        "%s: the selected runs differ in topology or mode (run %s: %s, %s; run "
                        "%s: %s, %s): narrow the selection, e.g. with mode= or topology=",
                        label, out->run_id, out->topo_summary, out->mode, str_at(d, NULL, "run_id"),
                        str_at(d, "topology", "summary"), str_at(d, NULL, "mode"));
      suite_rr_free(out);
      return rc;
    }
    size_t k;
    json_t *c;
    json_array_foreach(json_object_get(d, "cases"), k, c) pool_case(out, c);
  }
  return 0;
}

int suite_rr_open_file(const char *path, suite_rr_t *out, mmc_error_t *err) {
  json_t *doc;
  *out = (suite_rr_t){0};
  int rc = suite_rr_load_file(path, &doc, err);
  if (rc)
    return rc;
  json_t *docs = json_array();
  json_array_append_new(docs, doc);
  return suite_rr_from_docs(docs, path, out, err);
}

void suite_rr_free(suite_rr_t *rr) {
  for (size_t i = 0; i < rr->nmetrics; i++)
    free(rr->metrics[i].samples);
  free(rr->metrics);
  free(rr->checks);
  free(rr->cases);
  json_decref(rr->docs);
  *rr = (suite_rr_t){0};
}
