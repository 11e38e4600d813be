/*
 * results_read.h — reading and validating results files (prefix suite_rr_;
 * issue 9). Every command that reads results (compare, report, results
 * import, selections from the history) goes through suite_rr_validate, so
 * a file that is not JSON, is truncated, or is of another schema version is
 * refused with one message naming the file, what is wrong and what is
 * allowed (doc/results-schema.md).
 *
 * A suite_rr_t is one side of a comparison: one run, or several runs of a
 * history selection pooled (samples of a metric concatenated, a check
 * failing when it failed in any run). Runs pooled together must share
 * topology hash and mode. Strings point into the JSON documents it holds.
 */
#ifndef SUITE_RESULTS_READ_H
#define SUITE_RESULTS_READ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "mmc_error.h"

typedef struct suite_rr_metric {
  const char *case_id, *name, *unit, *better; /* better: "lower", "higher" or "" */
  double *samples;                            /* owned */
  size_t n;
} suite_rr_metric_t;

typedef struct suite_rr_check {
  const char *case_id, *id, *name, *spec_ids, *diag;
  bool ok; /* passed in every run and repetition */
} suite_rr_check_t;

typedef struct suite_rr_case {
  const char *id;
  const char *verdict; /* worst over the pooled runs */
} suite_rr_case_t;

typedef struct suite_rr {
  char label[512]; /* file name or selection, for messages */
  json_t *docs;    /* array of the validated documents (owned) */
  /* from the first document (all pooled runs agree on topology and mode) */
  const char *impl, *version, *machine_class, *topo_hash, *topo_summary, *mode, *run_id;
  suite_rr_metric_t *metrics;
  size_t nmetrics;
  suite_rr_check_t *checks;
  size_t nchecks;
  suite_rr_case_t *cases;
  size_t ncases;
} suite_rr_t;

/* 0 when `doc` is a schema-2 results document; else MMC_EINVAL with the
 * JSON path of the first problem ("cases[0].metrics[1].samples: ..."). */
int suite_rr_validate(const json_t *doc, mmc_error_t *err);
/* Parse and validate a file; *doc owned by the caller. */
int suite_rr_load_file(const char *path, json_t **doc, mmc_error_t *err);
/* Parse and validate text (a document stored in the history). */
int suite_rr_load_text(const char *text, const char *label, json_t **doc, mmc_error_t *err);
/* Pool documents (steals the references in `docs`, an array). */
int suite_rr_from_docs(json_t *docs, const char *label, suite_rr_t *out, mmc_error_t *err);
/* One file as one side. */
int suite_rr_open_file(const char *path, suite_rr_t *out, mmc_error_t *err);
void suite_rr_free(suite_rr_t *rr);

#endif
