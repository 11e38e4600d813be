/*
 * results_read.h — the one reader of results files (prefix suite_rr_).
 * `results import`, `results show`, `compare`, `report` and history
 * selections all read through it, so a file is accepted or refused the
 * same way everywhere.
 *
 * Reading streams the file through jansson (never a NUL-terminated copy:
 * a NUL byte or anything after the document is refused, named as such), and
 * validates it against results schema 2 exactly as doc/results.schema.json
 * states it: one table of rules (results_read.c) mirrors the JSON Schema,
 * and tests/cli/schema.t checks both agree on mutated files. Strings that
 * reach gnuplot scripts, file names, SQL or a terminal (ids, names, units,
 * versions) may hold no control character; free text (diagnostics,
 * reasons, titles) only tab and newline. A refusal is one message naming
 * the file, the JSON path, what was wrong and what is allowed.
 *
 * A suite_rr_t is one side of a comparison: one run, or several runs of a
 * history selection pooled (samples of a metric concatenated in run order,
 * a check failing when it failed in any run, a case taking its worst
 * verdict). Pooling sorts once, O(n log n) in the number of metrics,
 * checks and cases; lookups by key are binary searches. Runs pooled
 * together must share topology hash and mode. Strings point into the JSON
 * documents it holds.
 */
#ifndef SUITE_RESULTS_READ_H
#define SUITE_RESULTS_READ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "mmc_error.h"

typedef struct suite_rr_metric {
  const char *case_id, *name, *unit, *better; /* better: "lower", "higher" or "" */
  const char *unsupported; /* why some run could not measure it ("no PMU"); NULL when all did */
  double *samples;         /* owned; n == 0 when no run could measure it */
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
  long long seed;    /* the first run's seed */
  bool seeds_differ; /* the pooled runs ran under more than one seed */
  /* in order of first appearance */
  suite_rr_metric_t *metrics;
  size_t nmetrics;
  suite_rr_check_t *checks;
  size_t nchecks;
  suite_rr_case_t *cases;
  size_t ncases;
  /* private: indexes into the arrays above, sorted by key, for lookups */
  size_t *metric_index, *check_index, *case_index;
} suite_rr_t;

/* 0 when `doc` is a schema-2 results document; else MMC_EINVAL with the
 * JSON path of the first problem ("cases[0].metrics[1].samples: ...").
 * Integers written as integral reals (5.0, which JSON Schema counts as
 * integers) are turned into JSON integers in place. */
int suite_rr_validate(json_t *doc, mmc_error_t *err);
/* The writer's side of the same rules: replace every character a string
 * of `doc` may not hold (by the rule of its field) with '?', so what mmcert
 * writes it always reads back. */
void suite_rr_scrub(json_t *doc);
/* Stream and parse a file, not validated (the history tells results from
 * qualify reports by their "schema"); `hash` as below. */
int suite_rr_parse_file(const char *path, json_t **doc, char *hash, size_t hashcap,
                        mmc_error_t *err);
/* Stream, parse and validate a file; *doc owned by the caller. `hash`
 * (may be NULL) receives "xxh3:<16 hex>" of the file's bytes. */
int suite_rr_load_file(const char *path, json_t **doc, char *hash, size_t hashcap,
                       mmc_error_t *err);
/* The same for len bytes of text (a document stored in the history). */
int suite_rr_load_text(const char *text, size_t len, const char *label, json_t **doc,
                       mmc_error_t *err);
/* Pool documents (steals the references in `docs`, an array). */
int suite_rr_from_docs(json_t *docs, const char *label, suite_rr_t *out, mmc_error_t *err);
/* One file as one side. */
int suite_rr_open_file(const char *path, suite_rr_t *out, mmc_error_t *err);
/* Lookups by key (NULL when absent): O(log n). */
const suite_rr_metric_t *suite_rr_find_metric(const suite_rr_t *rr, const char *case_id,
                                              const char *name);
const suite_rr_check_t *suite_rr_find_check(const suite_rr_t *rr, const char *case_id,
                                            const char *name);
const suite_rr_case_t *suite_rr_find_case(const suite_rr_t *rr, const char *id);
void suite_rr_free(suite_rr_t *rr);

#endif
