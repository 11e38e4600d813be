/*
 * history.h — the results history in SQLite (prefix suite_hist_; issue 9):
 * `mmcert results import`, `mmcert results list`, and history selections
 * ("db:impl=reference,version=0.1.0") for compare and report.
 *
 * Invariants: the database carries a schema_version table (version
 * SUITE_HIST_SCHEMA); an import is one transaction (BEGIN IMMEDIATE ...
 * COMMIT) over every file named, so a failure anywhere (a bad file, a
 * locked or full database) leaves the database as it was; a run is stored
 * once: its run_id and the hash of its text are UNIQUE, and a second import
 * of either is reported and skipped. Every document is validated
 * (results_read.h) before it is stored and again when it is read back.
 */
#ifndef SUITE_HISTORY_H
#define SUITE_HISTORY_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>

#include "mmc_error.h"

#define SUITE_HIST_SCHEMA 1
#define SUITE_HIST_DEFAULT_PATH "results/history.db"

typedef struct suite_hist_filter {
  const char *impl, *version, *machine, *mode, *topology, *run; /* NULL = any */
  unsigned last; /* only the N most recent matching runs; 0 = all */
} suite_hist_filter_t;

/* create: make the file (and its schema) when missing; otherwise a missing
 * file is MMC_ENOENT. A file that is not an SQLite database, or not an mmcert
 * history, or of another schema version is MMC_EINVAL; locked is MMC_EBUSY. */
int suite_hist_open(const char *path, bool create, sqlite3 **db, mmc_error_t *err);
void suite_hist_close(sqlite3 *db);

/* All files or none. Notes ("imported", "skipped: already imported") go to
 * `note`. */
int suite_hist_import(sqlite3 *db, const char *const *files, size_t nfiles, FILE *note,
                      size_t *imported, size_t *skipped, mmc_error_t *err);

/* "impl=reference,version=0.1.0,last=3" (the text after "db:"); `buf` holds
 * the strings the filter points at. Unknown keys are MMC_EINVAL naming the
 * allowed ones. */
int suite_hist_parse_filter(const char *text, char *buf, size_t cap, suite_hist_filter_t *f,
                            mmc_error_t *err);
int suite_hist_list(sqlite3 *db, const suite_hist_filter_t *f, FILE *out, mmc_error_t *err);
/* The matching runs' documents, oldest first (validated), in *docs (an
 * array, owned by the caller; possibly empty). */
int suite_hist_select(sqlite3 *db, const suite_hist_filter_t *f, json_t **docs, mmc_error_t *err);

#endif
