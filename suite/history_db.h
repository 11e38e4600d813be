/*
 * history_db.h — the storage backends of the results history behind one
 * small interface (prefix hdb_; internal to suite/history*.c).
 *
 * history.c holds everything the backends share: the schema (one text,
 * portable SQL), its versions and migrations, imports, selections and the
 * listing. A backend only connects, runs statements and classifies its
 * errors. Two exist:
 *   history_sqlite.c  a file (the default, results/history.db): no server
 *   history_pg.c      a PostgreSQL server (libpq), "postgresql://..." or
 *                     "postgres://...": the history of a fleet
 *
 * Rules every backend keeps, so the SQL in history.c runs unchanged on both:
 *  - parameters are written $1, $2, ... (SQLite binds them by that name,
 *    PostgreSQL natively); every parameter is bound as text, an integer, a
 *    double or NULL before the first hdb_step;
 *  - hdb_step returns HDB_ROW, HDB_DONE or a negative mmc_status_t with err
 *    filled: MMC_EBUSY for a lock not obtained in time (or a deadlock or
 *    serialization failure: the whole transaction may be retried),
 *    MMC_EINVAL for "not an mmcert history", MMC_EIO for everything else;
 *    a deadlock or serialization conflict also sets hdb_t.retry;
 *    messages name the database (with any password masked) and the step;
 *  - columns are read as text (NULL reads as "") or integers;
 *  - hdb_begin_write starts the one kind of write transaction history.c
 *    uses: it serialises schema creation and migration between processes
 *    (SQLite: BEGIN IMMEDIATE, bounded by a busy timeout; PostgreSQL: BEGIN
 *    and a transaction-scoped advisory lock when `schema` is true).
 * Invariant: a failed statement inside a transaction leaves the caller to
 * roll back (hdb_exec "ROLLBACK"); nothing is committed behind its back.
 */
#ifndef SUITE_HISTORY_DB_H
#define SUITE_HISTORY_DB_H

#include <stdbool.h>

#include "mmc_error.h"

enum { HDB_DONE = 0, HDB_ROW = 1 };

typedef struct hdb hdb_t;
typedef struct hdb_stmt hdb_stmt_t;

typedef struct hdb_ops {
  const char *kind;      /* "SQLite", "PostgreSQL": for messages */
  const char *id_column; /* DDL of an automatic integer primary key */
  /* create: SQLite makes the file when missing (else MMC_ENOENT); a
   * server-side database must exist either way (its tables are made by
   * history.c). */
  int (*open)(const char *where, bool create, hdb_t **out, mmc_error_t *err);
  void (*close)(hdb_t *db);
  /* Statements without parameters, possibly several separated by ';'. */
  int (*exec)(hdb_t *db, const char *sql, mmc_error_t *err);
  int (*begin_write)(hdb_t *db, bool schema, mmc_error_t *err);
  /* How long a statement waits for another connection's lock before
   * MMC_EBUSY (tests shorten it). */
  int (*lock_timeout)(hdb_t *db, int ms, mmc_error_t *err);
  /* count(*) of the tables in the history's namespace: all of them, and
   * the one named $1. */
  const char *count_tables_sql, *count_table_sql;
  int (*prepare)(hdb_t *db, const char *sql, hdb_stmt_t **st, mmc_error_t *err);
  void (*bind_text)(hdb_stmt_t *st, int i, const char *v); /* NULL binds NULL */
  void (*bind_int)(hdb_stmt_t *st, int i, long long v);
  void (*bind_double)(hdb_stmt_t *st, int i, double v);
  int (*step)(hdb_stmt_t *st, const char *what, mmc_error_t *err);
  const char *(*col_text)(hdb_stmt_t *st, int i);
  long long (*col_int)(hdb_stmt_t *st, int i);
  void (*reset)(hdb_stmt_t *st); /* run again with new bindings */
  void (*finalize)(hdb_stmt_t *st);
} hdb_ops_t;

/* Every connection starts with its backend's table. */
struct hdb {
  const hdb_ops_t *ops;
  char label[256]; /* the database for messages: a path, or a URI without its password */
  bool retry;      /* the last MMC_EBUSY was a deadlock or serialization conflict */
};

extern const hdb_ops_t hdb_sqlite_ops;
extern const hdb_ops_t hdb_pg_ops;

/* "postgresql://..." or "postgres://..."? */
bool hdb_is_pg(const char *where);

#endif
