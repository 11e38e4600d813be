/*
 * history.c — the SQLite results history (see history.h). Tables:
 *   schema_version(version)          one row: SUITE_HIST_SCHEMA
 *   runs(id, run_id UNIQUE, content_hash UNIQUE, file, imported_at, impl,
 *        version, abi, machine_class, hostname, topology_hash,
 *        topology_summary, mode, mmcert_version, seed, repeat, start_time,
 *        end_time, pass, fail, skip, broken, doc)
 *   checks(run, case_id, check_id, name, spec_ids, verdict, diag)
 *   samples(run, case_id, metric, unit, better, idx, value)
 * The whole document is kept in runs.doc, so later mmcert versions can
 * re-read what they did not index. Waiting for a lock is bounded
 * (BUSY_TIMEOUT_MS), never unbounded.
 */
#include "history.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>

#include "results_read.h"

enum { BUSY_TIMEOUT_MS = 2000 };

static const char schema_sql[] =
    "CREATE TABLE schema_version(version INTEGER NOT NULL);"
    "CREATE TABLE runs(id INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE,"
    " content_hash TEXT NOT NULL UNIQUE, file TEXT, imported_at TEXT NOT NULL,"
    " impl TEXT NOT NULL, version TEXT NOT NULL, abi INTEGER, machine_class TEXT NOT NULL,"
    " hostname TEXT, topology_hash TEXT NOT NULL, topology_summary TEXT, mode TEXT NOT NULL,"
    " mmcert_version TEXT, seed INTEGER, repeat INTEGER, start_time TEXT NOT NULL,"
    " end_time TEXT, pass INTEGER, fail INTEGER, skip INTEGER, broken INTEGER,"
    " doc TEXT NOT NULL);"
    "CREATE TABLE checks(run INTEGER NOT NULL REFERENCES runs(id), case_id TEXT NOT NULL,"
    " check_id TEXT, name TEXT NOT NULL, spec_ids TEXT, verdict TEXT NOT NULL, diag TEXT);"
    "CREATE TABLE samples(run INTEGER NOT NULL REFERENCES runs(id), case_id TEXT NOT NULL,"
    " metric TEXT NOT NULL, unit TEXT, better TEXT, idx INTEGER NOT NULL, value REAL NOT NULL);"
    "CREATE INDEX runs_select ON runs(impl, version, machine_class);"
    "CREATE INDEX samples_run ON samples(run);"
    "CREATE INDEX checks_run ON checks(run);";

static int db_fail(sqlite3 *db, const char *path, const char *what, int src, mmc_error_t *err) {
  int code = src == SQLITE_BUSY || src == SQLITE_LOCKED      ? MMC_EBUSY
             : src == SQLITE_NOTADB || src == SQLITE_CORRUPT ? MMC_EINVAL
                                                             : MMC_EIO;
  const char *hint = code == MMC_EBUSY
                         ? " (another connection holds a write lock; try again when it is done)"
                     : code == MMC_EINVAL ? " (not an mmcert history database: move it away or "
                                            "choose another with --db)"
                                          : "";
  return mmc_fail(err, code, "history %s: %s: %s%s", path, what,
                  db ? sqlite3_errmsg(db) : sqlite3_errstr(src), hint);
}

static int exec(sqlite3 *db, const char *path, const char *sql, mmc_error_t *err) {
  int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? 0 : db_fail(db, path, sql, rc, err);
}

/* 0: found version; 1: no schema_version table (empty or foreign file). */
static int read_version(sqlite3 *db, const char *path, int *version, bool *empty,
                        mmc_error_t *err) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL);
  if (rc != SQLITE_OK)
    return db_fail(db, path, "reading the schema", rc, err);
  rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_finalize(st);
    return db_fail(db, path, "reading the schema", rc, err);
  }
  *empty = sqlite3_column_int(st, 0) == 0;
  sqlite3_finalize(st);
  if (*empty)
    return 1;
  rc = sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &st, NULL);
  if (rc != SQLITE_OK)
    return mmc_fail(err, MMC_EINVAL,
                    "history %s: an SQLite database but not an mmcert history (no "
                    "schema_version table); choose another file with --db",
                    path);
  rc = sqlite3_step(st);
  *version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
  sqlite3_finalize(st);
  return 0;
}

static int ensure_schema(sqlite3 *db, const char *path, bool create, mmc_error_t *err) {
  int version = 0;
  bool empty = false;
  int rc = read_version(db, path, &version, &empty, err);
  if (rc < 0)
    return rc;
  if (rc == 0)
    return version == SUITE_HIST_SCHEMA
               ? 0
               : mmc_fail(err, MMC_EINVAL,
                          "history %s: schema version %d, this mmcert reads version %d", path,
                          version, SUITE_HIST_SCHEMA);
  if (!create)
    return mmc_fail(err, MMC_ENOENT, "history %s: empty database (import results first)", path);
  char sql[64];
  snprintf(sql, sizeof sql, "INSERT INTO schema_version VALUES(%d);", SUITE_HIST_SCHEMA);
  if ((rc = exec(db, path, "BEGIN IMMEDIATE", err)))
    return rc;
  if ((rc = exec(db, path, schema_sql, err)) || (rc = exec(db, path, sql, err))) {
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
  }
  return exec(db, path, "COMMIT", err);
}

int suite_hist_open(const char *path, bool create, sqlite3 **out, mmc_error_t *err) {
  *out = NULL;
  FILE *probe = fopen(path, "r");
  if (!probe && !create)
    return mmc_fail(err, MMC_ENOENT,
                    "history %s: no such database (create one with: mmcert results import "
                    "FILE...)",
                    path);
  if (probe)
    fclose(probe);
  sqlite3 *db = NULL;
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path, &db, flags, NULL);
  if (rc != SQLITE_OK) {
    rc = db_fail(db, path, "cannot open", rc, err);
    sqlite3_close(db);
    return rc;
  }
  sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
  rc = ensure_schema(db, path, create, err);
  if (rc) {
    sqlite3_close(db);
    return rc;
  }
  *out = db;
  return 0;
}

void suite_hist_close(sqlite3 *db) {
  sqlite3_close(db);
}

/* ------------------------------------------------------------ import */

static const char *s_at(const json_t *d, const char *obj, const char *key) {
  const char *s = json_string_value(json_object_get(obj ? json_object_get(d, obj) : d, key));
  return s ? s : "";
}

static long long i_at(const json_t *d, const char *obj, const char *key) {
  return json_integer_value(json_object_get(obj ? json_object_get(d, obj) : d, key));
}

/* Which run already holds this run id or text? 0 when none. */
static long long existing(sqlite3 *db, const char *run_id, const char *hash) {
  sqlite3_stmt *st;
  long long id = 0;
  if (sqlite3_prepare_v2(db, "SELECT id FROM runs WHERE run_id = ?1 OR content_hash = ?2", -1, &st,
                         NULL) != SQLITE_OK)
    return 0;
  sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW)
    id = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return id;
}

static int step_done(sqlite3 *db, sqlite3_stmt *st, const char *path, const char *what,
                     mmc_error_t *err) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : db_fail(db, path, what, rc, err);
}

static int insert_run(sqlite3 *db, const char *dbpath, const char *file, const char *text,
                      const char *hash, const json_t *d, long long *id, mmc_error_t *err) {
  static const char sql[] =
      "INSERT INTO runs(run_id, content_hash, file, imported_at, impl, version, abi, "
      "machine_class, hostname, topology_hash, topology_summary, mode, mmcert_version, seed, "
      "repeat, start_time, end_time, pass, fail, skip, broken, doc) VALUES(?1, ?2, ?3, "
      "strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
      "?15, ?16, ?17, ?18, ?19, ?20, ?21)";
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK)
    return db_fail(db, dbpath, "preparing the insert", rc, err);
  const char *texts[] = {s_at(d, NULL, "run_id"), hash, file, s_at(d, "implementation", "name"),
                         s_at(d, "implementation", "version")};
  for (int i = 0; i < 5; i++)
    sqlite3_bind_text(st, i + 1, texts[i], -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 6, i_at(d, "implementation", "abi_version"));
  const char *more[] = {s_at(d, "machine", "class"), s_at(d, "machine", "hostname"),
                        s_at(d, "topology", "hash"), s_at(d, "topology", "summary"),
                        s_at(d, NULL, "mode"),       s_at(d, NULL, "mmcert_version")};
  for (int i = 0; i < 6; i++)
    sqlite3_bind_text(st, i + 7, more[i], -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 13, i_at(d, NULL, "seed"));
  sqlite3_bind_int64(st, 14, i_at(d, NULL, "repeat"));
  sqlite3_bind_text(st, 15, s_at(d, NULL, "start_time"), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 16, s_at(d, NULL, "end_time"), -1, SQLITE_STATIC);
  static const char *const tot[] = {"pass", "fail", "skip", "broken"};
  for (int i = 0; i < 4; i++)
    sqlite3_bind_int64(st, 17 + i, i_at(d, "totals", tot[i]));
  sqlite3_bind_text(st, 21, text, -1, SQLITE_STATIC);
  rc = step_done(db, st, dbpath, "inserting the run", err);
  sqlite3_finalize(st);
  *id = sqlite3_last_insert_rowid(db);
  return rc;
}

static int insert_rows(sqlite3 *db, const char *dbpath, long long run, const json_t *d,
                       mmc_error_t *err) {
  sqlite3_stmt *ck, *sm;
  int rc = sqlite3_prepare_v2(db, "INSERT INTO checks VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1, &ck,
                              NULL);
  if (rc != SQLITE_OK)
    return db_fail(db, dbpath, "preparing the check insert", rc, err);
  rc = sqlite3_prepare_v2(db, "INSERT INTO samples VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1, &sm,
                          NULL);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(ck);
    return db_fail(db, dbpath, "preparing the sample insert", rc, err);
  }
  rc = 0;
  size_t i, j, k;
  json_t *c, *x, *v;
  json_array_foreach(json_object_get(d, "cases"), i, c) {
    const char *cid = s_at(c, NULL, "id");
    json_array_foreach(json_object_get(c, "checks"), j, x) {
      if (rc)
        break;
      sqlite3_bind_int64(ck, 1, run);
      sqlite3_bind_text(ck, 2, cid, -1, SQLITE_STATIC);
      const char *f[] = {s_at(x, NULL, "id"), s_at(x, NULL, "name"), s_at(x, NULL, "spec_ids"),
                         s_at(x, NULL, "verdict"), s_at(x, NULL, "diag")};
      for (int b = 0; b < 5; b++)
        sqlite3_bind_text(ck, 3 + b, f[b], -1, SQLITE_STATIC);
      rc = step_done(db, ck, dbpath, "inserting a check", err);
    }
    json_array_foreach(json_object_get(c, "metrics"), j, x) {
      json_array_foreach(json_object_get(x, "samples"), k, v) {
        if (rc)
          break;
        sqlite3_bind_int64(sm, 1, run);
        sqlite3_bind_text(sm, 2, cid, -1, SQLITE_STATIC);
        sqlite3_bind_text(sm, 3, s_at(x, NULL, "name"), -1, SQLITE_STATIC);
        sqlite3_bind_text(sm, 4, s_at(x, NULL, "unit"), -1, SQLITE_STATIC);
        sqlite3_bind_text(sm, 5, s_at(x, NULL, "better"), -1, SQLITE_STATIC);
        sqlite3_bind_int64(sm, 6, (sqlite3_int64)k);
        sqlite3_bind_double(sm, 7, json_number_value(v));
        rc = step_done(db, sm, dbpath, "inserting a sample", err);
      }
    }
  }
  sqlite3_finalize(ck);
  sqlite3_finalize(sm);
  return rc;
}

static char *slurp(const char *path, mmc_error_t *err) {
  struct stat st;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
    mmc_fail(err, MMC_EINVAL, "%s: not a regular file (expected an mmcert results JSON file)",
             path);
    return NULL;
  }
  FILE *f = fopen(path, "r");
  if (!f) {
    mmc_fail(err, MMC_ENOENT, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 65536, len = 0;
  char *buf = malloc(cap);
  for (size_t n; buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0;) {
    len += n;
    if (cap - len < 2) {
      char *nb = realloc(buf, cap *= 2);
      if (!nb)
        free(buf);
      buf = nb;
    }
  }
  fclose(f);
  if (!buf)
    mmc_fail(err, MMC_ENOMEM, "%s: out of memory reading it", path);
  else
    buf[len] = '\0';
  return buf;
}

static int import_one(sqlite3 *db, const char *dbpath, const char *file, FILE *note, bool *skipped,
                      mmc_error_t *err) {
  char *text = slurp(file, err);
  if (!text)
    return err->code ? err->code : MMC_EIO;
  json_t *doc;
  int rc = suite_rr_load_text(text, file, &doc, err);
  if (rc) {
    free(text);
    return rc;
  }
  char hash[32];
  snprintf(hash, sizeof hash, "xxh3:%016llx", (unsigned long long)XXH3_64bits(text, strlen(text)));
  long long dup = existing(db, s_at(doc, NULL, "run_id"), hash), id = 0;
  *skipped = dup != 0;
  if (dup)
    fprintf(note, "%s: skipped: run %s is already in the history (entry %lld)\n", file,
            s_at(doc, NULL, "run_id"), dup);
  else if (!(rc = insert_run(db, dbpath, file, text, hash, doc, &id, err)) &&
           !(rc = insert_rows(db, dbpath, id, doc, err)))
    fprintf(note, "%s: imported as entry %lld (%s %s, %s, %s)\n", file, id,
            s_at(doc, "implementation", "name"), s_at(doc, "implementation", "version"),
            s_at(doc, "machine", "class"), s_at(doc, NULL, "start_time"));
  json_decref(doc);
  free(text);
  return rc;
}

int suite_hist_import(sqlite3 *db, const char *const *files, size_t nfiles, FILE *note,
                      size_t *imported, size_t *skipped, mmc_error_t *err) {
  const char *dbpath = sqlite3_db_filename(db, "main");
  *imported = *skipped = 0;
  int rc = exec(db, dbpath, "BEGIN IMMEDIATE", err);
  if (rc)
    return rc;
  for (size_t i = 0; i < nfiles && !rc; i++) {
    bool skip = false;
    rc = import_one(db, dbpath, files[i], note, &skip, err);
    *skipped += skip;
    *imported += !skip && !rc;
  }
  if (!rc)
    rc = exec(db, dbpath, "COMMIT", err);
  if (rc) {
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    *imported = 0;
  }
  return rc;
}

/* ------------------------------------------------------------ selections */

int suite_hist_parse_filter(const char *text, char *buf, size_t cap, suite_hist_filter_t *f,
                            mmc_error_t *err) {
  *f = (suite_hist_filter_t){0};
  if (strlen(text) >= cap)
    return mmc_fail(err, MMC_EINVAL, "selection '%s' is too long", text);
  snprintf(buf, cap, "%s", text);
  for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(kv, '=');
    if (!eq || eq == kv || !eq[1])
      return mmc_fail(err, MMC_EINVAL,
                      "selection item '%s': expected KEY=VALUE (keys: impl, version, machine, "
                      "mode, topology, run, last)",
                      kv);
    *eq++ = '\0';
    const char **slot = !strcmp(kv, "impl")       ? &f->impl
                        : !strcmp(kv, "version")  ? &f->version
                        : !strcmp(kv, "machine")  ? &f->machine
                        : !strcmp(kv, "mode")     ? &f->mode
                        : !strcmp(kv, "topology") ? &f->topology
                        : !strcmp(kv, "run")      ? &f->run
                                                  : NULL;
    if (slot) {
      *slot = eq;
      continue;
    }
    char *end;
    long n = strtol(eq, &end, 10);
    if (strcmp(kv, "last"))
      return mmc_fail(err, MMC_EINVAL,
                      "selection key '%s' is unknown; allowed: impl, version, machine, mode, "
                      "topology, run, last",
                      kv);
    if (*end || n < 1 || n > 1000000)
      return mmc_fail(err, MMC_EINVAL, "selection last=%s: expected an integer 1..1000000", eq);
    f->last = (unsigned)n;
  }
  return 0;
}

/* Newest first when `last` limits, then re-ordered oldest first. */
static int prepare_select(sqlite3 *db, const suite_hist_filter_t *f, const char *cols,
                          sqlite3_stmt **st, mmc_error_t *err) {
  char sql[1024];
  snprintf(sql, sizeof sql,
           "SELECT * FROM (SELECT %s FROM runs WHERE (?1 IS NULL OR impl = ?1) AND (?2 IS NULL "
           "OR version = ?2) AND (?3 IS NULL OR machine_class = ?3) AND (?4 IS NULL OR mode = "
           "?4) AND (?5 IS NULL OR topology_hash = ?5) AND (?6 IS NULL OR run_id LIKE ?6 || "
           "'%%') ORDER BY start_time DESC, id DESC LIMIT ?7) ORDER BY start_time, id",
           cols);
  int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
  if (rc != SQLITE_OK)
    return db_fail(db, sqlite3_db_filename(db, "main"), "selecting runs", rc, err);
  const char *v[] = {f->impl, f->version, f->machine, f->mode, f->topology, f->run};
  for (int i = 0; i < 6; i++)
    if (v[i])
      sqlite3_bind_text(*st, i + 1, v[i], -1, SQLITE_STATIC);
  sqlite3_bind_int64(*st, 7, f->last ? (sqlite3_int64)f->last : -1);
  return 0;
}

static const char *col(sqlite3_stmt *st, int i) {
  const unsigned char *s = sqlite3_column_text(st, i);
  return s ? (const char *)s : "";
}

int suite_hist_list(sqlite3 *db, const suite_hist_filter_t *f, FILE *out, mmc_error_t *err) {
  sqlite3_stmt *st;
  int rc = prepare_select(db, f,
                          "id, run_id, impl, version, machine_class, mode, start_time, pass, "
                          "fail, skip, broken, topology_summary",
                          &st, err);
  if (rc)
    return rc;
  fprintf(out, "%-5s %-12s %-12s %-10s %-24s %-6s %-21s %-15s %s\n", "ENTRY", "RUN", "IMPL",
          "VERSION", "MACHINE CLASS", "MODE", "START", "PASS/FAIL/SKIP/BROKEN", "TOPOLOGY");
  int n = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    char tot[64];
    snprintf(tot, sizeof tot, "%d/%d/%d/%d", sqlite3_column_int(st, 7), sqlite3_column_int(st, 8),
             sqlite3_column_int(st, 9), sqlite3_column_int(st, 10));
    fprintf(out, "%-5lld %-12.12s %-12s %-10s %-24s %-6s %-21s %-15s %s\n",
            (long long)sqlite3_column_int64(st, 0), col(st, 1), col(st, 2), col(st, 3), col(st, 4),
            col(st, 5), col(st, 6), tot, col(st, 11));
    n++;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return db_fail(db, sqlite3_db_filename(db, "main"), "listing runs", rc, err);
  fprintf(out, "%d run%s\n", n, n == 1 ? "" : "s");
  return 0;
}

int suite_hist_select(sqlite3 *db, const suite_hist_filter_t *f, json_t **docs, mmc_error_t *err) {
  sqlite3_stmt *st;
  int rc = prepare_select(db, f, "id, doc, start_time", &st, err);
  if (rc)
    return rc;
  *docs = json_array();
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    char label[64];
    snprintf(label, sizeof label, "history entry %lld", (long long)sqlite3_column_int64(st, 0));
    json_t *doc;
    int vr = suite_rr_load_text(col(st, 1), label, &doc, err);
    if (vr) {
      sqlite3_finalize(st);
      json_decref(*docs);
      *docs = NULL;
      return vr;
    }
    json_array_append_new(*docs, doc);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    json_decref(*docs);
    *docs = NULL;
    return db_fail(db, sqlite3_db_filename(db, "main"), "selecting runs", rc, err);
  }
  return 0;
}
