/*
 * matrix.c — `mmcert report --matrix FILE... [-o OUT.md]`: the conformance
 * matrix (DESIGN.md "Certificates"): one row per SPEC id, one column per
 * certificate, each cell the id's status there with its reason, so what
 * ESXi documents, what the reference does and what Linux does read side by
 * side. doc/conformance.md is this output (`make conformance`).
 *
 * Inputs are results files of `mmcert run` (their certificate block) or
 * combined certificates of `mmcert certify --json`. Each column is labelled
 * with the implementation, its version and where it ran (topology, kernel,
 * machine class, or the runs combined). Rows follow doc/spec.md's order;
 * an id a column's certificate does not cover says so.
 *
 * Refused with exit 2, nothing written: a file that is not JSON, not a
 * valid results file, or has no certificate; no file; an output that cannot
 * be written. The output is written whole (temporary file, rename).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certificate.h"
#include "commands.h"
#include "matrix.h"
#include "results_read.h"
#include "runner.h"
#include "spec.h"

enum { MATRIX_MAX_COLUMNS = 16, MATRIX_REASON_MAX = 400 };

typedef struct column {
  const char *file;
  json_t *doc;
  suite_cert_t cert;
  char title[128]; /* "linux 0.1.0" */
  char where[512]; /* "this machine (1 node), kernel 6.18, class ..." */
} column_t;

static const char *jstr(const json_t *o, const char *k1, const char *k2) {
  const json_t *v = json_object_get(o, k1);
  if (k2)
    v = json_object_get(v, k2);
  const char *s = json_string_value(v);
  return s ? s : "";
}

/* Where a results file's run happened, or which runs a combined one has. */
static void describe(column_t *c) {
  snprintf(c->title, sizeof c->title, "%s %s", jstr(c->doc, "implementation", "name"),
           jstr(c->doc, "implementation", "version"));
  const json_t *runs = json_object_get(c->doc, "runs");
  if (json_is_array(runs)) {
    size_t at =
        (size_t)snprintf(c->where, sizeof c->where, "%zu runs combined:", json_array_size(runs));
    for (size_t i = 0; i < json_array_size(runs) && at < sizeof c->where; i++) {
      const char *run = json_string_value(json_array_get(runs, i));
      const char *base = run ? strrchr(run, '/') : NULL; /* the file's name, not its path */
      at += (size_t)snprintf(c->where + at, sizeof c->where - at, "%s %s", i ? "," : "",
                             base ? base + 1 : run ? run : "?");
    }
    return;
  }
  const json_t *kernel = json_object_get(c->doc, "kernel");
  const char *release =
      json_is_object(kernel) ? jstr(kernel, "release", NULL) : json_string_value(kernel);
  snprintf(
      c->where, sizeof c->where, "%s (%lld node%s), kernel %s, %s, %s mode",
      jstr(c->doc, "topology", "source"),
      (long long)json_integer_value(json_object_get(json_object_get(c->doc, "topology"), "nnodes")),
      json_integer_value(json_object_get(json_object_get(c->doc, "topology"), "nnodes")) == 1 ? ""
                                                                                              : "s",
      release && *release ? release : "?", jstr(c->doc, "machine", "class"),
      jstr(c->doc, "mode", NULL));
}

static int load_column(column_t *c, mmc_error_t *err) {
  json_error_t je;
  c->doc = json_load_file(c->file, 0, &je);
  if (!c->doc)
    return mmc_fail(err, MMC_EINVAL, "%s: not JSON (line %d: %s)", c->file, je.line, je.text);
  const char *schema = jstr(c->doc, "schema", NULL);
  if (!strcmp(schema, "mmcert-results")) {
    int rc = suite_rr_validate(c->doc, err);
    if (rc) {
      mmc_error_prefix(err, "%s", c->file);
      return rc;
    }
  } else if (strcmp(schema, "mmcert-certificate")) {
    return mmc_fail(err, MMC_EINVAL,
                    "%s: schema \"%s\": expected a results file of mmcert run or a certificate "
                    "of mmcert certify --json",
                    c->file, schema);
  }
  int rc = suite_cert_from_json(c->doc, &c->cert, err);
  if (rc) {
    mmc_error_prefix(err, "%s", c->file);
    return rc;
  }
  describe(c);
  return 0;
}

/* ---------------------------------------------------------------- markdown */

/* A table cell: no '|' (escaped), no newline, at most MATRIX_REASON_MAX. */
static void cell(FILE *f, const char *s) {
  size_t n = 0;
  for (; *s && n < MATRIX_REASON_MAX; s++, n++) {
    if (*s == '|')
      fputs("\\|", f);
    else if (*s == '\n' || *s == '\r' || *s == '\t')
      fputc(' ', f);
    else
      fputc(*s, f);
  }
  if (*s)
    fputs("…", f);
}

static const suite_cert_id_t *find_id(const suite_cert_t *c, const char *id) {
  for (size_t i = 0; i < c->n; i++)
    if (!strcmp(c->ids[i].id, id))
      return &c->ids[i];
  return NULL;
}

static void status_cell(FILE *f, const suite_cert_t *c, const char *id) {
  const suite_cert_id_t *e = find_id(c, id);
  if (!e) {
    fputs("— not in this certificate", f);
    return;
  }
  switch (e->status) {
  case SUITE_CERT_SHOWN: fputs("**shown**", f); return;
  case SUITE_CERT_FAILED: fputs("**failed**: ", f); break;
  default: fprintf(f, "not shown (%s): ", e->kind[0] ? e->kind : "?"); break;
  }
  cell(f, e->reason);
}

static void header(FILE *f, const column_t *cols, size_t n) {
  fputs("# Conformance matrix\n\n"
        "Generated by `mmcert report --matrix` (`make conformance`); do not edit by hand.\n"
        "One row per SPEC id of doc/spec.md, one column per certificate: **shown** (every case\n"
        "that judges the id passed on independent probes), **failed** (the first failing check\n"
        "or the broken reason), or not shown with the kind of reason (capability: the\n"
        "implementation lacks the mechanism, with its why_not; clock; topology; machine; not\n"
        "applicable; unprobed; not selected).\n\n"
        "| column | implementation | where | verdict | shown | failed | not shown |\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n",
        f);
  for (size_t i = 0; i < n; i++) {
    const suite_cert_t *c = &cols[i].cert;
    fprintf(f, "| %zu | %s | ", i + 1, cols[i].title);
    cell(f, cols[i].where);
    fprintf(f, " | %s | %u | %u | %u |\n", suite_cert_verdict_name(suite_cert_verdict(c)), c->shown,
            c->failed, c->not_shown);
  }
}

/* Ids in the specification's order, then any a certificate has that the
 * specification of this mmcert does not (an older or newer run). */
static void rows(FILE *f, const column_t *cols, size_t n) {
  fputs("\n| SPEC id | behaviour |", f);
  for (size_t i = 0; i < n; i++)
    fprintf(f, " %zu: %s |", i + 1, cols[i].title);
  fputs("\n| --- | --- |", f);
  for (size_t i = 0; i < n; i++)
    fputs(" --- |", f);
  fputc('\n', f);
  for (const suite_spec_t *s = suite_spec; s->id; s++) {
    fprintf(f, "| %s | ", s->id);
    cell(f, s->title);
    fputs(" |", f);
    for (size_t i = 0; i < n; i++) {
      fputc(' ', f);
      status_cell(f, &cols[i].cert, s->id);
      fputs(" |", f);
    }
    fputc('\n', f);
  }
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < cols[i].cert.n; k++) {
      const char *id = cols[i].cert.ids[k].id;
      if (suite_spec_find(id))
        continue;
      fprintf(f, "| %s | (not in this mmcert's specification) |", id);
      for (size_t j = 0; j < n; j++) {
        fputc(' ', f);
        status_cell(f, &cols[j].cert, id);
        fputs(" |", f);
      }
      fputc('\n', f);
    }
}

int suite_matrix_write(const char *const *files, size_t n, FILE *f, mmc_error_t *err) {
  if (n == 0)
    return mmc_fail(err, MMC_EINVAL, "--matrix needs at least one results or certificate file");
  if (n > MATRIX_MAX_COLUMNS)
    return mmc_fail(err, MMC_EINVAL, "--matrix: %zu files, at most %d columns", n,
                    MATRIX_MAX_COLUMNS);
  column_t cols[MATRIX_MAX_COLUMNS];
  memset(cols, 0, sizeof cols);
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    cols[i].file = files[i];
    rc = load_column(&cols[i], err);
  }
  if (rc == 0) {
    header(f, cols, n);
    rows(f, cols, n);
  }
  for (size_t i = 0; i < n; i++) {
    suite_cert_free(&cols[i].cert);
    json_decref(cols[i].doc);
  }
  return rc;
}

/* Written whole or not at all: a temporary file beside `out`, renamed. */
static int write_file(const char *const *files, size_t n, const char *out, mmc_error_t *err) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f)
    return mmc_fail(err, MMC_EIO, "-o %s: %s", out, strerror(errno));
  int rc = suite_matrix_write(files, n, f, err);
  if (fclose(f) != 0 && rc == 0)
    rc = mmc_fail(err, MMC_EIO, "-o %s: %s", out, strerror(errno));
  if (rc == 0 && rename(tmp, out) != 0)
    rc = mmc_fail(err, MMC_EIO, "-o %s: %s", out, strerror(errno));
  if (rc)
    unlink(tmp);
  return rc;
}

int suite_matrix_main(const char *const *files, size_t n, const char *out) {
  mmc_error_t err = {0};
  int rc = out ? write_file(files, n, out, &err) : suite_matrix_write(files, n, stdout, &err);
  if (rc) {
    fprintf(stderr, "mmcert report --matrix: %s\n", err.msg);
    return SUITE_EXIT_USAGE;
  }
  if (out)
    printf("matrix: %s\n", out);
  return SUITE_EXIT_OK;
}
