/*
 * history_sqlite.c — the SQLite backend of the results history
 * (history_db.h): one file, no server, the default (results/history.db).
 *
 * Waiting for another connection's write lock is bounded (BUSY_TIMEOUT_MS),
 * never unbounded; a write transaction is BEGIN IMMEDIATE, so two importers
 * serialise on the file lock instead of failing at COMMIT. Parameters $N
 * are bound by their name (SQLite numbers named parameters in order of
 * first appearance, which need not be N).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "history_db.h"

enum { BUSY_TIMEOUT_MS = 2000 };

typedef struct sq {
  hdb_t base;
  sqlite3 *db;
} sq_t;

struct hdb_stmt {
  sq_t *c;
  sqlite3_stmt *st;
};

static int sq_fail(sq_t *c, const char *what, int src, mmc_error_t *err) {
  int code = src == SQLITE_BUSY || src == SQLITE_LOCKED      ? MMC_EBUSY
             : src == SQLITE_NOTADB || src == SQLITE_CORRUPT ? MMC_EINVAL
                                                             : MMC_EIO;
  const char *hint = code == MMC_EBUSY
                         ? " (another connection holds a write lock; try again when it is done)"
                     : code == MMC_EINVAL ? " (not an mmcert history database: move it away or "
                                            "choose another with --db)"
                                          : "";
  return mmc_fail(err, code, "history %s: %s: %s%s", c->base.label, what,
                  c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(src), hint);
}

static void sq_close(hdb_t *db) {
  sq_t *c = (sq_t *)db;
  if (!c)
    return;
  sqlite3_close(c->db);
  free(c);
}

static int sq_open(const char *path, bool create, hdb_t **out, mmc_error_t *err) {
  *out = NULL;
  FILE *probe = fopen(path, "r");
  if (!probe && !create)
    return mmc_fail(err, MMC_ENOENT,
                    "history %s: no such database (create one with: mmcert results import "
                    "FILE...)",
                    path);
  if (probe)
    fclose(probe);
  sq_t *c = calloc(1, sizeof *c);
  if (!c)
    return mmc_fail(err, MMC_ENOMEM, "history %s: out of memory", path);
  c->base.ops = &hdb_sqlite_ops;
  snprintf(c->base.label, sizeof c->base.label, "%s", path);
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path, &c->db, flags, NULL);
  if (rc != SQLITE_OK) {
    rc = sq_fail(c, "cannot open", rc, err);
    sq_close(&c->base);
    return rc;
  }
  sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
  *out = &c->base;
  return 0;
}

static int sq_exec(hdb_t *db, const char *sql, mmc_error_t *err) {
  sq_t *c = (sq_t *)db;
  int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? 0 : sq_fail(c, sql, rc, err);
}

static int sq_begin_write(hdb_t *db, bool schema, mmc_error_t *err) {
  (void)schema; /* the file lock serialises every writer */
  return sq_exec(db, "BEGIN IMMEDIATE", err);
}

static int sq_lock_timeout(hdb_t *db, int ms, mmc_error_t *err) {
  sq_t *c = (sq_t *)db;
  int rc = sqlite3_busy_timeout(c->db, ms);
  return rc == SQLITE_OK ? 0 : sq_fail(c, "setting the busy timeout", rc, err);
}

static int sq_prepare(hdb_t *db, const char *sql, hdb_stmt_t **out, mmc_error_t *err) {
  sq_t *c = (sq_t *)db;
  *out = NULL;
  hdb_stmt_t *s = calloc(1, sizeof *s);
  if (!s)
    return mmc_fail(err, MMC_ENOMEM, "history %s: out of memory", c->base.label);
  s->c = c;
  int rc = sqlite3_prepare_v2(c->db, sql, -1, &s->st, NULL);
  if (rc != SQLITE_OK) {
    free(s);
    return sq_fail(c, "preparing a statement", rc, err);
  }
  *out = s;
  return 0;
}

static int sq_index(hdb_stmt_t *s, int i) {
  char name[16];
  snprintf(name, sizeof name, "$%d", i);
  return sqlite3_bind_parameter_index(s->st, name);
}

static void sq_bind_text(hdb_stmt_t *s, int i, const char *v) {
  int k = sq_index(s, i);
  if (v)
    sqlite3_bind_text(s->st, k, v, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(s->st, k);
}

static void sq_bind_int(hdb_stmt_t *s, int i, long long v) {
  sqlite3_bind_int64(s->st, sq_index(s, i), v);
}

static void sq_bind_double(hdb_stmt_t *s, int i, double v) {
  sqlite3_bind_double(s->st, sq_index(s, i), v);
}

static int sq_step(hdb_stmt_t *s, const char *what, mmc_error_t *err) {
  int rc = sqlite3_step(s->st);
  if (rc == SQLITE_ROW)
    return HDB_ROW;
  if (rc == SQLITE_DONE)
    return HDB_DONE;
  return sq_fail(s->c, what, rc, err);
}

static const char *sq_col_text(hdb_stmt_t *s, int i) {
  const unsigned char *t = sqlite3_column_text(s->st, i);
  return t ? (const char *)t : "";
}

static long long sq_col_int(hdb_stmt_t *s, int i) {
  return sqlite3_column_int64(s->st, i);
}

static void sq_reset(hdb_stmt_t *s) {
  sqlite3_reset(s->st);
  sqlite3_clear_bindings(s->st);
}

static void sq_finalize(hdb_stmt_t *s) {
  if (!s)
    return;
  sqlite3_finalize(s->st);
  free(s);
}

const hdb_ops_t hdb_sqlite_ops = {
    .kind = "SQLite",
    .id_column = "INTEGER PRIMARY KEY",
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .begin_write = sq_begin_write,
    .lock_timeout = sq_lock_timeout,
    .count_tables_sql = "SELECT count(*) FROM sqlite_master",
    .count_table_sql = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
    .prepare = sq_prepare,
    .bind_text = sq_bind_text,
    .bind_int = sq_bind_int,
    .bind_double = sq_bind_double,
    .step = sq_step,
    .col_text = sq_col_text,
    .col_int = sq_col_int,
    .reset = sq_reset,
    .finalize = sq_finalize,
};
