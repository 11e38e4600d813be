/*
 * history.h — the results history (prefix suite_hist_):
 * `mmcert results import`, `mmcert results list`, history selections
 * ("db:impl=reference,version=0.1.0") for compare and report, and the
 * qualification runs a fleet report reads.
 *
 * Where it lives: a path is an SQLite file (default results/history.db, no
 * server); "postgresql://..." (or "postgres://...") a PostgreSQL database,
 * where a fleet of machines imports into one history. The environment
 * variable MMCERT_DB replaces the default; --db replaces both. Both
 * backends hold the same tables with the same SQL (history_db.h).
 *
 * Invariants: the history carries a schema_version table (version
 * SUITE_HIST_SCHEMA); an older version is migrated by the first open, in
 * one transaction that also serialises concurrent openers; a newer one is
 * refused. An import is one transaction over every file named, so a failure
 * anywhere (a bad file, a lock not obtained in time, a full disk, a server
 * that goes away or refuses a statement) leaves the history as it was. A
 * run or qualification is stored once: its run_id and the hash of its text
 * are UNIQUE, inserts are ON CONFLICT DO NOTHING, so importing a run twice
 * — also from two machines at the same moment — leaves one row, and the
 * second import reports it skipped. Every document is validated before it
 * is stored and again when it is read back.
 */
#ifndef SUITE_HISTORY_H
#define SUITE_HISTORY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "mmc_error.h"

/* 1: runs, checks, samples. 2: qualifications (mmcert qualify documents). */
#define SUITE_HIST_SCHEMA 2
#define SUITE_HIST_DEFAULT_PATH "results/history.db"
#define SUITE_HIST_ENV "MMCERT_DB"

typedef struct hdb suite_hist_t;

typedef struct suite_hist_filter {
  const char *impl, *version, *machine, *mode, *topology, *run, *host; /* NULL = any */
  const char *file; /* prefix of the file name the run was imported from */
  unsigned last;    /* only the N most recent matching runs; 0 = all */
} suite_hist_filter_t;

/* $MMCERT_DB when set and not empty, else SUITE_HIST_DEFAULT_PATH. */
const char *suite_hist_default(void);

/* create: an SQLite file is made when missing (a server's database must
 * exist; its tables are made here); otherwise a missing file or an empty
 * database is MMC_ENOENT. A file that is not an SQLite database, a database
 * that is not an mmcert history, or a newer schema version is MMC_EINVAL; a
 * lock not obtained in time MMC_EBUSY; a server that cannot be reached or
 * refuses MMC_EIO. Migrations of an older schema are noted on `note` (NULL:
 * silent). */
int suite_hist_open(const char *where, bool create, FILE *note, suite_hist_t **h, mmc_error_t *err);
void suite_hist_close(suite_hist_t *h);
/* The database for messages (a URI's password masked). */
const char *suite_hist_label(const suite_hist_t *h);

/* All files or none: results files (schema mmcert-results) into runs,
 * qualification reports (schema mmcert-qualify) into qualifications. Notes
 * ("imported", "skipped: already imported") go to `note`, only once the
 * transaction committed. */
int suite_hist_import(suite_hist_t *h, const char *const *files, size_t nfiles, FILE *note,
                      size_t *imported, size_t *skipped, mmc_error_t *err);

/* "impl=reference,version=0.1.0,last=3" (the text after "db:"); `buf` holds
 * the strings the filter points at. Unknown keys are MMC_EINVAL naming the
 * allowed ones. */
int suite_hist_parse_filter(const char *text, char *buf, size_t cap, suite_hist_filter_t *f,
                            mmc_error_t *err);
int suite_hist_list(suite_hist_t *h, const suite_hist_filter_t *f, FILE *out, mmc_error_t *err);
/* The matching runs' documents, oldest first (validated), in *docs (an
 * array, owned by the caller; possibly empty). */
int suite_hist_select(suite_hist_t *h, const suite_hist_filter_t *f, json_t **docs,
                      mmc_error_t *err);
/* The qualification documents of machine class f->machine, oldest first,
 * validated; host, file (the prefix of the imported file's name) and run
 * (a run id prefix) narrow them as they narrow runs. impl, version, mode,
 * topology and last describe runs only and do not apply. */
int suite_hist_select_qualify(suite_hist_t *h, const suite_hist_filter_t *f, json_t **docs,
                              mmc_error_t *err);

#endif
