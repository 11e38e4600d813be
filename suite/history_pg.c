/*
 * history_pg.c — the PostgreSQL backend of the results history
 * (history_db.h), through libpq: one server holds the history of a fleet,
 * `--db postgresql://user@host:port/dbname` (any libpq URI or
 * "postgres://"; MMCERT_DB as the default).
 *
 * The tables live in the schema "mmcert" of the named database (made by
 * the first import), so a database shared with other applications is never
 * mistaken for a history and never touched outside that schema. Every
 * session sets search_path to it, lock_timeout to LOCK_TIMEOUT, and
 * connects with a bounded timeout (CONNECT_TIMEOUT_S, which the URI's own
 * connect_timeout overrides). Schema creation and migration take a
 * transaction-scoped advisory lock (SCHEMA_LOCK_KEY), so importers starting
 * together on an empty database create it once.
 *
 * Statements are prepared on the server at their first step (named
 * "hdb<N>", freed by hdb finalize) and run with text parameters; results
 * come back as text. Errors: SQLSTATE 55P03 (lock timeout), 40P01
 * (deadlock) and 40001 (serialization) are MMC_EBUSY — history.c retries
 * the transaction —, anything else MMC_EIO with the server's primary
 * message. Messages show the URI without its password.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history_db.h"

#define CONNECT_TIMEOUT_S "10"
#define LOCK_TIMEOUT "'20s'"
#define SCHEMA_LOCK_KEY "7291036450113" /* any constant: mmcert's schema lock */
enum { MAX_PARAMS = 32 };

typedef struct pg {
  hdb_t base;
  PGconn *conn;
  unsigned next_name; /* prepared statement names */
} pg_t;

struct hdb_stmt {
  pg_t *c;
  char *sql;
  char name[24];
  bool prepared;
  int nparams;
  char *params[MAX_PARAMS];
  PGresult *res;
  int row; /* rows returned so far */
};

bool hdb_is_pg(const char *where) {
  return !strncmp(where, "postgresql://", 13) || !strncmp(where, "postgres://", 11);
}

/* The URI with "user:PASSWORD@" and "password=VALUE" masked. */
static void mask_password(const char *uri, char *buf, size_t cap) {
  snprintf(buf, cap, "%s", uri);
  char *auth = strstr(buf, "://");
  if (auth) {
    auth += 3;
    char *at = strchr(auth, '@'), *slash = strchr(auth, '/');
    char *colon = strchr(auth, ':');
    if (at && (!slash || at < slash) && colon && colon < at) {
      char rest[256];
      snprintf(rest, sizeof rest, "%s", at);
      snprintf(colon, cap - (size_t)(colon - buf), ":***%s", rest);
    }
  }
  for (char *p = strstr(buf, "password="); p; p = strstr(p + 1, "password=")) {
    char *v = p + 9, *end = v + strcspn(v, "&");
    char rest[256];
    snprintf(rest, sizeof rest, "%s", end);
    snprintf(v, cap - (size_t)(v - buf), "***%s", rest);
  }
}

/* The first line of a server or libpq message. */
static void first_line(const char *msg, char *buf, size_t cap) {
  if (!msg || !*msg)
    msg = "(no message)";
  if (!strncmp(msg, "ERROR:  ", 8) || !strncmp(msg, "FATAL:  ", 8))
    msg += 8;
  snprintf(buf, cap, "%.*s", (int)strcspn(msg, "\n"), msg);
}

static int pg_fail(pg_t *c, const char *what, const PGresult *res, mmc_error_t *err) {
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  char line[200];
  first_line(primary ? primary : PQerrorMessage(c->conn), line, sizeof line);
  bool busy =
      state && (!strcmp(state, "55P03") || !strcmp(state, "40P01") || !strcmp(state, "40001"));
  c->base.retry = busy && strcmp(state, "55P03");
  if (busy)
    return mmc_fail(err, MMC_EBUSY, "history %s: %s: %s (other importers hold the rows; try again)",
                    c->base.label, what, line);
  if (PQstatus(c->conn) == CONNECTION_BAD)
    return mmc_fail(err, MMC_EIO, "history %s: %s: connection lost: %s", c->base.label, what, line);
  return mmc_fail(err, MMC_EIO, "history %s: %s: %s%s%s%s", c->base.label, what, line,
                  state ? " (SQLSTATE " : "", state ? state : "", state ? ")" : "");
}

static void quiet(void *arg, const char *msg) {
  (void)arg, (void)msg; /* NOTICEs ("schema already exists") are not for the user */
}

static void pg_close(hdb_t *db) {
  pg_t *c = (pg_t *)db;
  if (!c)
    return;
  PQfinish(c->conn);
  free(c);
}

static int pg_exec(hdb_t *db, const char *sql, mmc_error_t *err) {
  pg_t *c = (pg_t *)db;
  PGresult *res = PQexec(c->conn, sql);
  ExecStatusType st = PQresultStatus(res);
  int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : pg_fail(c, sql, res, err);
  PQclear(res);
  return rc;
}

static int pg_open(const char *where, bool create, hdb_t **out, mmc_error_t *err) {
  (void)create; /* the database must exist; the schema is made by history.c */
  *out = NULL;
  pg_t *c = calloc(1, sizeof *c);
  if (!c)
    return mmc_fail(err, MMC_ENOMEM, "history: out of memory");
  c->base.ops = &hdb_pg_ops;
  mask_password(where, c->base.label, sizeof c->base.label);
  const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
  const char *vals[] = {CONNECT_TIMEOUT_S, "mmcert", where, NULL};
  c->conn = PQconnectdbParams(keys, vals, 1);
  if (!c->conn || PQstatus(c->conn) != CONNECTION_OK) {
    char line[200];
    first_line(c->conn ? PQerrorMessage(c->conn) : "out of memory", line, sizeof line);
    int rc = mmc_fail(err, MMC_EIO,
                      "history %s: cannot connect: %s (is the server up, and does it accept "
                      "this user and database?)",
                      c->base.label, line);
    pg_close(&c->base);
    return rc;
  }
  PQsetNoticeProcessor(c->conn, quiet, NULL);
  /* A lock_timeout given in the URI (options=-c lock_timeout=...) stays. */
  PGresult *show = PQexec(c->conn, "SHOW lock_timeout");
  bool unset = PQresultStatus(show) == PGRES_TUPLES_OK && PQntuples(show) == 1 &&
               !strcmp(PQgetvalue(show, 0, 0), "0");
  PQclear(show);
  int rc = pg_exec(&c->base, "SET search_path TO mmcert; SET client_min_messages = warning", err);
  if (!rc && unset)
    rc = pg_exec(&c->base, "SET lock_timeout = " LOCK_TIMEOUT, err);
  if (rc) {
    pg_close(&c->base);
    return rc;
  }
  *out = &c->base;
  return 0;
}

static int pg_begin_write(hdb_t *db, bool schema, mmc_error_t *err) {
  int rc = pg_exec(db, "BEGIN", err);
  if (rc || !schema)
    return rc;
  rc = pg_exec(
      db, "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK_KEY "); CREATE SCHEMA IF NOT EXISTS mmcert",
      err);
  if (rc)
    pg_exec(db, "ROLLBACK", NULL);
  return rc;
}

static int pg_lock_timeout(hdb_t *db, int ms, mmc_error_t *err) {
  char sql[64];
  snprintf(sql, sizeof sql, "SET lock_timeout = %d", ms > 0 ? ms : 1);
  return pg_exec(db, sql, err);
}

static int pg_prepare(hdb_t *db, const char *sql, hdb_stmt_t **out, mmc_error_t *err) {
  pg_t *c = (pg_t *)db;
  hdb_stmt_t *s = calloc(1, sizeof *s);
  if (!s || !(s->sql = strdup(sql))) {
    free(s);
    return mmc_fail(err, MMC_ENOMEM, "history %s: out of memory", c->base.label);
  }
  s->c = c;
  for (const char *p = strchr(sql, '$'); p; p = strchr(p + 1, '$')) {
    int k = atoi(p + 1);
    s->nparams = k > s->nparams && k <= MAX_PARAMS ? k : s->nparams;
  }
  snprintf(s->name, sizeof s->name, "hdb%u", c->next_name++);
  *out = s;
  return 0;
}

static void set_param(hdb_stmt_t *s, int i, char *v) {
  if (i < 1 || i > MAX_PARAMS) {
    free(v);
    return;
  }
  free(s->params[i - 1]);
  s->params[i - 1] = v;
}

static void pg_bind_text(hdb_stmt_t *s, int i, const char *v) {
  set_param(s, i, v ? strdup(v) : NULL);
}

static void pg_bind_int(hdb_stmt_t *s, int i, long long v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", v);
  set_param(s, i, strdup(buf));
}

static void pg_bind_double(hdb_stmt_t *s, int i, double v) {
  char buf[40];
  snprintf(buf, sizeof buf, "%.17g", v);
  set_param(s, i, strdup(buf));
}

static int run(hdb_stmt_t *s, const char *what, mmc_error_t *err) {
  pg_t *c = s->c;
  if (!s->prepared) {
    PGresult *p = PQprepare(c->conn, s->name, s->sql, 0, NULL);
    int rc = PQresultStatus(p) == PGRES_COMMAND_OK ? 0 : pg_fail(c, what, p, err);
    PQclear(p);
    if (rc)
      return rc;
    s->prepared = true;
  }
  s->res =
      PQexecPrepared(c->conn, s->name, s->nparams, (const char *const *)s->params, NULL, NULL, 0);
  s->row = 0;
  ExecStatusType st = PQresultStatus(s->res);
  return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : pg_fail(c, what, s->res, err);
}

static int pg_step(hdb_stmt_t *s, const char *what, mmc_error_t *err) {
  if (!s->res) {
    int rc = run(s, what, err);
    if (rc)
      return rc;
  } else if (PQresultStatus(s->res) != PGRES_COMMAND_OK &&
             PQresultStatus(s->res) != PGRES_TUPLES_OK) {
    return pg_fail(s->c, what, s->res, err);
  }
  if (s->row < PQntuples(s->res)) {
    s->row++;
    return HDB_ROW;
  }
  return HDB_DONE;
}

static const char *pg_col_text(hdb_stmt_t *s, int i) {
  if (!s->res || s->row < 1 || i >= PQnfields(s->res))
    return "";
  return PQgetvalue(s->res, s->row - 1, i);
}

static long long pg_col_int(hdb_stmt_t *s, int i) {
  return strtoll(pg_col_text(s, i), NULL, 10);
}

static void pg_reset(hdb_stmt_t *s) {
  PQclear(s->res);
  s->res = NULL;
  s->row = 0;
  for (int i = 0; i < s->nparams; i++) {
    free(s->params[i]);
    s->params[i] = NULL;
  }
}

static void pg_finalize(hdb_stmt_t *s) {
  if (!s)
    return;
  pg_reset(s);
  if (s->prepared && PQtransactionStatus(s->c->conn) != PQTRANS_INERROR) {
    char sql[48];
    snprintf(sql, sizeof sql, "DEALLOCATE %s", s->name);
    PQclear(PQexec(s->c->conn, sql));
  }
  free(s->sql);
  free(s);
}

const hdb_ops_t hdb_pg_ops = {
    .kind = "PostgreSQL",
    .id_column = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .begin_write = pg_begin_write,
    .lock_timeout = pg_lock_timeout,
    .count_tables_sql = "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'mmcert'",
    .count_table_sql = "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'mmcert' "
                       "AND tablename = $1",
    .prepare = pg_prepare,
    .bind_text = pg_bind_text,
    .bind_int = pg_bind_int,
    .bind_double = pg_bind_double,
    .step = pg_step,
    .col_text = pg_col_text,
    .col_int = pg_col_int,
    .reset = pg_reset,
    .finalize = pg_finalize,
};
