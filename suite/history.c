/*
 * history.c — the results history (see history.h), on either backend
 * (history_db.h). Tables, version 2:
 *   schema_version(version)          one row: SUITE_HIST_SCHEMA
 *   runs(id, run_id UNIQUE, content_hash UNIQUE, file, imported_at, impl,
 *        version, abi, machine_class, hostname, topology_hash,
 *        topology_summary, mode, mmcert_version, seed, repeat, start_time,
 *        end_time, pass, fail, skip, broken, doc)
 *   checks(run, case_id, check_id, name, spec_ids, verdict, diag)
 *   samples(run, case_id, metric, unit, better, idx, value)
 *   qualifications(id, run_id UNIQUE, content_hash UNIQUE, file,
 *        imported_at, machine_class, hostname, start_time, nnodes, doc)
 * The whole document is kept in doc, so later mmcert versions can re-read
 * what they did not index. The SQL is one text for both backends: standard
 * types (TEXT, BIGINT, DOUBLE PRECISION; only the automatic id differs),
 * $N parameters, ON CONFLICT DO NOTHING RETURNING, CAST(... AS TEXT), substr.
 *
 * Versions and migrations: schema_steps[v - 1] creates what version v adds.
 * A new history runs every step; an older one runs the steps it lacks; both
 * in one write transaction that first re-reads the version (another
 * process may have created or migrated it meanwhile).
 *
 * Imports from many machines at once: the documents of one import are
 * inserted in run_id order (two importers of overlapping sets then wait on
 * each other's rows in the same order and cannot deadlock); an insert that
 * finds its run_id or content hash present does nothing and the file is
 * reported skipped. A transaction that fails on a lock, a deadlock or a
 * serialization conflict is rolled back and tried again, IMPORT_TRIES in
 * all; notes are printed only after the COMMIT.
 */
#include "history.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history_db.h"
#include "qualify_read.h"
#include "results_read.h"

enum { IMPORT_TRIES = 3, SELECT_ALL = 1000000000 };

/* Each step holds %s where a table's automatic id column goes. */
static const char *const schema_steps[SUITE_HIST_SCHEMA] = {
    /* 1 */
    "CREATE TABLE schema_version(version INTEGER NOT NULL);"
    "CREATE TABLE runs(id %s, run_id TEXT NOT NULL UNIQUE,"
    " content_hash TEXT NOT NULL UNIQUE, file TEXT, imported_at TEXT NOT NULL,"
    " impl TEXT NOT NULL, version TEXT NOT NULL, abi BIGINT, machine_class TEXT NOT NULL,"
    " hostname TEXT, topology_hash TEXT NOT NULL, topology_summary TEXT, mode TEXT NOT NULL,"
    " mmcert_version TEXT, seed BIGINT, repeat BIGINT, start_time TEXT NOT NULL,"
    " end_time TEXT, pass BIGINT, fail BIGINT, skip BIGINT, broken BIGINT,"
    " doc TEXT NOT NULL);"
    "CREATE TABLE checks(run BIGINT NOT NULL REFERENCES runs(id), case_id TEXT NOT NULL,"
    " check_id TEXT, name TEXT NOT NULL, spec_ids TEXT, verdict TEXT NOT NULL, diag TEXT);"
    "CREATE TABLE samples(run BIGINT NOT NULL REFERENCES runs(id), case_id TEXT NOT NULL,"
    " metric TEXT NOT NULL, unit TEXT, better TEXT, idx BIGINT NOT NULL,"
    " value DOUBLE PRECISION NOT NULL);"
    "CREATE INDEX runs_select ON runs(impl, version, machine_class);"
    "CREATE INDEX samples_run ON samples(run);"
    "CREATE INDEX checks_run ON checks(run);",
    /* 2 */
    "CREATE TABLE qualifications(id %s, run_id TEXT NOT NULL UNIQUE,"
    " content_hash TEXT NOT NULL UNIQUE, file TEXT, imported_at TEXT NOT NULL,"
    " machine_class TEXT NOT NULL, hostname TEXT NOT NULL, start_time TEXT NOT NULL,"
    " nnodes BIGINT, doc TEXT NOT NULL);"
    "CREATE INDEX qualifications_select ON qualifications(machine_class, hostname);"
    "CREATE INDEX runs_host ON runs(machine_class, hostname);",
};

const char *suite_hist_default(void) {
  const char *e = getenv(SUITE_HIST_ENV);
  return e && *e ? e : SUITE_HIST_DEFAULT_PATH;
}

const char *suite_hist_label(const suite_hist_t *h) {
  return h->label;
}

void suite_hist_close(suite_hist_t *h) {
  if (h)
    h->ops->close(h);
}

static int exec(hdb_t *db, const char *sql, mmc_error_t *err) {
  return db->ops->exec(db, sql, err);
}

static void rollback(hdb_t *db) {
  db->ops->exec(db, "ROLLBACK", NULL);
}

/* ------------------------------------------------------------ schema */

/* Tables in the history's namespace: all (name NULL), or the one named. */
static int count_tables(hdb_t *db, const char *name, long long *n, mmc_error_t *err) {
  hdb_stmt_t *st;
  int rc =
      db->ops->prepare(db, name ? db->ops->count_table_sql : db->ops->count_tables_sql, &st, err);
  if (rc)
    return rc;
  if (name)
    db->ops->bind_text(st, 1, name);
  rc = db->ops->step(st, "reading the schema", err);
  *n = rc == HDB_ROW ? db->ops->col_int(st, 0) : 0;
  db->ops->finalize(st);
  return rc < 0 ? rc : 0;
}

/* *version: 0 when the history's namespace holds no table at all. */
static int read_version(hdb_t *db, int *version, mmc_error_t *err) {
  long long all = 0, sv = 0;
  int rc = count_tables(db, NULL, &all, err);
  if (!rc)
    rc = count_tables(db, "schema_version", &sv, err);
  if (rc)
    return rc;
  *version = 0;
  if (!all)
    return 0;
  if (!sv)
    return mmc_fail(err, MMC_EINVAL,
                    "history %s: a %s database but not an mmcert history (no schema_version "
                    "table); choose another with --db",
                    db->label, db->ops->kind);
  hdb_stmt_t *st;
  if ((rc = db->ops->prepare(db, "SELECT version FROM schema_version", &st, err)))
    return rc;
  rc = db->ops->step(st, "reading the schema version", err);
  *version = rc == HDB_ROW ? (int)db->ops->col_int(st, 0) : -1;
  db->ops->finalize(st);
  return rc < 0 ? rc : 0;
}

static int run_steps(hdb_t *db, int from, int to, mmc_error_t *err) {
  for (int v = from + 1; v <= to; v++) {
    size_t cap = strlen(schema_steps[v - 1]) + 2 * strlen(db->ops->id_column) + 1;
    char *sql = malloc(cap);
    if (!sql)
      return mmc_fail(err, MMC_ENOMEM, "history %s: out of memory", db->label);
    snprintf(sql, cap, schema_steps[v - 1], db->ops->id_column);
    int rc = exec(db, sql, err);
    free(sql);
    if (rc)
      return rc;
  }
  char sql[96];
  snprintf(sql, sizeof sql,
           from ? "UPDATE schema_version SET version = %d"
                : "INSERT INTO schema_version VALUES(%d)",
           to);
  return exec(db, sql, err);
}

/* Create or migrate under the write lock; `version` as read before it. */
static int upgrade(hdb_t *db, FILE *note, mmc_error_t *err) {
  int rc = db->ops->begin_write(db, true, err);
  if (rc)
    return rc;
  int version = 0;
  if (!(rc = read_version(db, &version, err)) && version < SUITE_HIST_SCHEMA)
    rc = run_steps(db, version, SUITE_HIST_SCHEMA, err);
  if (!rc)
    rc = exec(db, "COMMIT", err);
  if (rc) {
    rollback(db);
    return rc;
  }
  if (note && version && version < SUITE_HIST_SCHEMA)
    fprintf(note, "mmcert: history %s: schema version %d migrated to %d\n", db->label, version,
            SUITE_HIST_SCHEMA);
  return 0;
}

static int ensure_schema(hdb_t *db, bool create, FILE *note, mmc_error_t *err) {
  int version = 0;
  int rc = read_version(db, &version, err);
  if (rc)
    return rc;
  if (version == SUITE_HIST_SCHEMA)
    return 0;
  if (version > SUITE_HIST_SCHEMA || version < 0)
    return mmc_fail(err, MMC_EINVAL,
                    "history %s: schema version %d, this mmcert reads versions 1..%d (a newer "
                    "history needs a newer mmcert)",
                    db->label, version, SUITE_HIST_SCHEMA);
  if (!version && !create)
    return mmc_fail(err, MMC_ENOENT,
                    "history %s: empty database (create one with: mmcert results import --db "
                    "%s FILE...)",
                    db->label, db->label);
  return upgrade(db, note, err);
}

int suite_hist_open(const char *where, bool create, FILE *note, suite_hist_t **out,
                    mmc_error_t *err) {
  *out = NULL;
  const hdb_ops_t *ops = hdb_is_pg(where) ? &hdb_pg_ops : &hdb_sqlite_ops;
  hdb_t *db = NULL;
  int rc = ops->open(where, create, &db, err);
  if (rc)
    return rc;
  if ((rc = ensure_schema(db, create, note, err))) {
    ops->close(db);
    return rc;
  }
  *out = db;
  return 0;
}

/* ------------------------------------------------------------ import */

static const char *s_at(const json_t *d, const char *obj, const char *key) {
  const char *s = json_string_value(json_object_get(obj ? json_object_get(d, obj) : d, key));
  return s ? s : "";
}

static long long i_at(const json_t *d, const char *obj, const char *key) {
  return json_integer_value(json_object_get(obj ? json_object_get(d, obj) : d, key));
}

/* One file to import, loaded and validated before anything is written. */
typedef struct item {
  const char *file;
  char *text;
  char hash[32];
  json_t *doc;
  bool qualify; /* an mmcert qualify report, else a results file */
} item_t;

/* Read through the one results reader (streamed: what is parsed is
 * exactly the file); a qualify report names its schema, everything else
 * must be a results file. The history keeps the document as validated,
 * compact, and the hash of the file's bytes (the same text twice is a
 * duplicate). */
static int load_item(item_t *it, mmc_error_t *err) {
  int rc = suite_rr_parse_file(it->file, &it->doc, it->hash, sizeof it->hash, err);
  if (rc)
    return rc;
  it->qualify = !strcmp(s_at(it->doc, NULL, "schema"), "mmcert-qualify");
  rc = it->qualify ? suite_qr_validate(it->doc, err) : suite_rr_validate(it->doc, err);
  if (rc) {
    if (it->qualify)
      mmc_error_prefix(err, "%s", it->file);
    else
      mmc_error_prefix(err, "%s: not a valid mmcert results file", it->file);
    return rc;
  }
  it->text = json_dumps(it->doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
  return it->text ? 0 : mmc_fail(err, MMC_ENOMEM, "%s: out of memory", it->file);
}

static int by_run_id(const void *a, const void *b) {
  const item_t *x = a, *y = b;
  int c = strcmp(s_at(x->doc, NULL, "run_id"), s_at(y->doc, NULL, "run_id"));
  return c ? c : strcmp(x->hash, y->hash);
}

static void now_iso(char *buf, size_t cap) {
  time_t t = time(NULL);
  struct tm tm;
  strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
}

/* Run `st` (an INSERT ... RETURNING id) and finalize it; *id = 0 when
 * nothing was inserted. */
static int insert_returning(hdb_t *db, hdb_stmt_t *st, const char *what, long long *id,
                            mmc_error_t *err) {
  int rc = db->ops->step(st, what, err);
  *id = rc == HDB_ROW ? db->ops->col_int(st, 0) : 0;
  db->ops->finalize(st);
  return rc < 0 ? rc : 0;
}

/* A column of a file table filled from the document: text or integer,
 * at doc.section.key (section NULL: the top level). */
typedef struct doc_col {
  bool integer;
  const char *section, *key;
} doc_col_t;

/* Insert results file `it` with `sql`, whose parameters are run_id,
 * content_hash, file, imported_at, then `cols` in order, then the document
 * itself (both file tables are so); *id as insert_returning. */
static int insert_file(hdb_t *db, const char *sql, const item_t *it, const char *now,
                       const doc_col_t *cols, int ncols, const char *what, long long *id,
                       mmc_error_t *err) {
  hdb_stmt_t *st;
  int rc = db->ops->prepare(db, sql, &st, err);
  if (rc)
    return rc;
  const char *texts[] = {s_at(it->doc, NULL, "run_id"), it->hash, it->file, now};
  for (int i = 0; i < 4; i++)
    db->ops->bind_text(st, i + 1, texts[i]);
  for (int i = 0; i < ncols; i++) {
    const doc_col_t *c = &cols[i];
    if (c->integer)
      db->ops->bind_int(st, 5 + i, i_at(it->doc, c->section, c->key));
    else
      db->ops->bind_text(st, 5 + i, s_at(it->doc, c->section, c->key));
  }
  db->ops->bind_text(st, 5 + ncols, it->text);
  return insert_returning(db, st, what, id, err);
}

static int insert_run(hdb_t *db, const item_t *it, const char *now, long long *id,
                      mmc_error_t *err) {
  static const char sql[] =
      "INSERT INTO runs(run_id, content_hash, file, imported_at, impl, version, abi, "
      "machine_class, hostname, topology_hash, topology_summary, mode, mmcert_version, seed, "
      "repeat, start_time, end_time, pass, fail, skip, broken, doc) VALUES($1, $2, $3, $4, $5, "
      "$6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) "
      "ON CONFLICT DO NOTHING RETURNING id";
  static const doc_col_t cols[] = {{false, "implementation", "name"},
                                   {false, "implementation", "version"},
                                   {true, "implementation", "abi_version"},
                                   {false, "machine", "class"},
                                   {false, "machine", "hostname"},
                                   {false, "topology", "hash"},
                                   {false, "topology", "summary"},
                                   {false, NULL, "mode"},
                                   {false, NULL, "mmcert_version"},
                                   {true, NULL, "seed"},
                                   {true, NULL, "repeat"},
                                   {false, NULL, "start_time"},
                                   {false, NULL, "end_time"},
                                   {true, "totals", "pass"},
                                   {true, "totals", "fail"},
                                   {true, "totals", "skip"},
                                   {true, "totals", "broken"}};
  return insert_file(db, sql, it, now, cols, (int)(sizeof cols / sizeof cols[0]),
                     "inserting the run", id, err);
}

static int insert_qualification(hdb_t *db, const item_t *it, const char *now, long long *id,
                                mmc_error_t *err) {
  static const char sql[] =
      "INSERT INTO qualifications(run_id, content_hash, file, imported_at, machine_class, "
      "hostname, start_time, nnodes, doc) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9) "
      "ON CONFLICT DO NOTHING RETURNING id";
  static const doc_col_t cols[] = {{false, "machine", "class"},
                                   {false, "machine", "hostname"},
                                   {false, NULL, "start_time"},
                                   {true, "topology", "nnodes"}};
  return insert_file(db, sql, it, now, cols, (int)(sizeof cols / sizeof cols[0]),
                     "inserting the qualification", id, err);
}

static int insert_checks(hdb_t *db, long long run, const json_t *d, mmc_error_t *err) {
  hdb_stmt_t *ck;
  int rc = db->ops->prepare(db, "INSERT INTO checks VALUES($1, $2, $3, $4, $5, $6, $7)", &ck, err);
  if (rc)
    return rc;
  size_t i, j;
  json_t *c, *x;
  json_array_foreach(json_object_get(d, "cases"), i, c) {
    json_array_foreach(json_object_get(c, "checks"), j, x) {
      if (rc)
        break;
      db->ops->bind_int(ck, 1, run);
      db->ops->bind_text(ck, 2, s_at(c, NULL, "id"));
      const char *f[] = {s_at(x, NULL, "id"), s_at(x, NULL, "name"), s_at(x, NULL, "spec_ids"),
                         s_at(x, NULL, "verdict"), s_at(x, NULL, "diag")};
      for (int b = 0; b < 5; b++)
        db->ops->bind_text(ck, 3 + b, f[b]);
      rc = db->ops->step(ck, "inserting a check", err);
      db->ops->reset(ck);
    }
  }
  db->ops->finalize(ck);
  return rc < 0 ? rc : 0;
}

static int insert_samples(hdb_t *db, long long run, const json_t *d, mmc_error_t *err) {
  hdb_stmt_t *sm;
  int rc = db->ops->prepare(db, "INSERT INTO samples VALUES($1, $2, $3, $4, $5, $6, $7)", &sm, err);
  if (rc)
    return rc;
  size_t i, j, k;
  json_t *c, *x, *v;
  json_array_foreach(json_object_get(d, "cases"), i, c) {
    json_array_foreach(json_object_get(c, "metrics"), j, x) {
      json_array_foreach(json_object_get(x, "samples"), k, v) {
        if (rc)
          break;
        db->ops->bind_int(sm, 1, run);
        db->ops->bind_text(sm, 2, s_at(c, NULL, "id"));
        db->ops->bind_text(sm, 3, s_at(x, NULL, "name"));
        db->ops->bind_text(sm, 4, s_at(x, NULL, "unit"));
        db->ops->bind_text(sm, 5, s_at(x, NULL, "better"));
        db->ops->bind_int(sm, 6, (long long)k);
        db->ops->bind_double(sm, 7, json_number_value(v));
        rc = db->ops->step(sm, "inserting a sample", err);
        db->ops->reset(sm);
      }
    }
  }
  db->ops->finalize(sm);
  return rc < 0 ? rc : 0;
}

/* Which entry already holds this run id or text? */
static long long existing(hdb_t *db, const item_t *it) {
  hdb_stmt_t *st;
  long long id = 0;
  if (db->ops->prepare(db,
                       it->qualify
                           ? "SELECT id FROM qualifications WHERE run_id = $1 OR content_hash = $2"
                           : "SELECT id FROM runs WHERE run_id = $1 OR content_hash = $2",
                       &st, NULL))
    return 0;
  db->ops->bind_text(st, 1, s_at(it->doc, NULL, "run_id"));
  db->ops->bind_text(st, 2, it->hash);
  if (db->ops->step(st, "finding the run", NULL) == HDB_ROW)
    id = db->ops->col_int(st, 0);
  db->ops->finalize(st);
  return id;
}

static int import_item(hdb_t *db, const item_t *it, const char *now, FILE *note, bool *skipped,
                       mmc_error_t *err) {
  long long id = 0;
  int rc =
      it->qualify ? insert_qualification(db, it, now, &id, err) : insert_run(db, it, now, &id, err);
  if (!rc && id && !it->qualify && !(rc = insert_checks(db, id, it->doc, err)))
    rc = insert_samples(db, id, it->doc, err);
  if (rc)
    return rc;
  *skipped = !id;
  const json_t *d = it->doc;
  if (!id)
    fprintf(note, "%s: skipped: %s %s is already in the history (entry %lld)\n", it->file,
            it->qualify ? "qualification" : "run", s_at(d, NULL, "run_id"), existing(db, it));
  else if (it->qualify)
    fprintf(note, "%s: imported as qualification %lld (%s, %s, %s)\n", it->file, id,
            s_at(d, "machine", "hostname"), s_at(d, "machine", "class"),
            s_at(d, NULL, "start_time"));
  else
    fprintf(note, "%s: imported as entry %lld (%s %s, %s, %s)\n", it->file, id,
            s_at(d, "implementation", "name"), s_at(d, "implementation", "version"),
            s_at(d, "machine", "class"), s_at(d, NULL, "start_time"));
  return 0;
}

/* One transaction over every item; notes into a buffer the caller prints
 * once it committed. */
static int import_once(hdb_t *db, const item_t *items, size_t n, char **notes, size_t *imported,
                       size_t *skipped, mmc_error_t *err) {
  size_t len = 0;
  FILE *note = open_memstream(notes, &len);
  if (!note)
    return mmc_fail(err, MMC_ENOMEM, "history %s: out of memory", db->label);
  char now[32];
  now_iso(now, sizeof now);
  *imported = *skipped = 0;
  int rc = db->ops->begin_write(db, false, err);
  for (size_t i = 0; i < n && !rc; i++) {
    bool skip = false;
    rc = import_item(db, &items[i], now, note, &skip, err);
    *skipped += !rc && skip;
    *imported += !rc && !skip;
  }
  if (!rc)
    rc = exec(db, "COMMIT", err);
  if (rc) {
    rollback(db);
    *imported = *skipped = 0;
  }
  fclose(note);
  return rc;
}

int suite_hist_import(suite_hist_t *db, const char *const *files, size_t nfiles, FILE *note,
                      size_t *imported, size_t *skipped, mmc_error_t *err) {
  *imported = *skipped = 0;
  item_t *items = calloc(nfiles ? nfiles : 1, sizeof *items);
  if (!items)
    return mmc_fail(err, MMC_ENOMEM, "out of memory for %zu files", nfiles);
  int rc = 0;
  for (size_t i = 0; i < nfiles && !rc; i++) {
    items[i].file = files[i];
    rc = load_item(&items[i], err);
  }
  if (!rc)
    qsort(items, nfiles, sizeof *items, by_run_id);
  for (int attempt = 1; !rc; attempt++) {
    char *notes = NULL;
    db->retry = false;
    rc = import_once(db, items, nfiles, &notes, imported, skipped, err);
    if (!rc)
      fputs(notes ? notes : "", note);
    free(notes);
    if (!rc || !db->retry || attempt == IMPORT_TRIES)
      break;
    rc = 0; /* a deadlock or serialization conflict: the whole transaction again */
  }
  for (size_t i = 0; i < nfiles; i++) {
    free(items[i].text);
    json_decref(items[i].doc);
  }
  free(items);
  return rc;
}

/* ------------------------------------------------------------ selections */

int suite_hist_parse_filter(const char *text, char *buf, size_t cap, suite_hist_filter_t *f,
                            mmc_error_t *err) {
  static const char keys[] = "impl, version, machine, mode, topology, run, host, file, last";
  *f = (suite_hist_filter_t){0};
  if (strlen(text) >= cap)
    return mmc_fail(err, MMC_EINVAL, "selection '%s' is too long", text);
  snprintf(buf, cap, "%s", text);
  for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(kv, '=');
    if (!eq || eq == kv || !eq[1])
      return mmc_fail(err, MMC_EINVAL, "selection item '%s': expected KEY=VALUE (keys: %s)", kv,
                      keys);
    *eq++ = '\0';
    const char **slot = !strcmp(kv, "impl")       ? &f->impl
                        : !strcmp(kv, "version")  ? &f->version
                        : !strcmp(kv, "machine")  ? &f->machine
                        : !strcmp(kv, "mode")     ? &f->mode
                        : !strcmp(kv, "topology") ? &f->topology
                        : !strcmp(kv, "run")      ? &f->run
                        : !strcmp(kv, "host")     ? &f->host
                        : !strcmp(kv, "file")     ? &f->file
                                                  : NULL;
    if (slot) {
      *slot = eq;
      continue;
    }
    char *end;
    long n = strtol(eq, &end, 10);
    if (strcmp(kv, "last"))
      return mmc_fail(err, MMC_EINVAL, "selection key '%s' is unknown; allowed: %s", kv, keys);
    if (*end || n < 1 || n > 1000000)
      return mmc_fail(err, MMC_EINVAL, "selection last=%s: expected an integer 1..1000000", eq);
    f->last = (unsigned)n;
  }
  return 0;
}

/* Newest first when `last` limits, then re-ordered oldest first. The run
 * id and the file are prefixes compared as text (substr), so '%' and '_'
 * in them match only themselves. */
static int prepare_select(hdb_t *db, const suite_hist_filter_t *f, const char *cols,
                          hdb_stmt_t **st, mmc_error_t *err) {
  char sql[1200];
  snprintf(sql, sizeof sql,
           "SELECT * FROM (SELECT %s FROM runs WHERE (CAST($1 AS TEXT) IS NULL OR impl = $1) "
           "AND (CAST($2 AS TEXT) IS NULL OR version = $2) AND (CAST($3 AS TEXT) IS NULL OR "
           "machine_class = $3) AND (CAST($4 AS TEXT) IS NULL OR mode = $4) AND (CAST($5 AS "
           "TEXT) IS NULL OR topology_hash = $5) AND (CAST($6 AS TEXT) IS NULL OR "
           "substr(run_id, 1, length($6)) = $6) AND (CAST($7 AS TEXT) IS NULL OR hostname = $7) "
           "AND (CAST($8 AS TEXT) IS NULL OR substr(file, 1, length($8)) = $8) "
           "ORDER BY start_time DESC, id DESC LIMIT $9) AS sel ORDER BY start_time, id",
           cols);
  int rc = db->ops->prepare(db, sql, st, err);
  if (rc)
    return rc;
  const char *v[] = {f->impl,     f->version, f->machine, f->mode,
                     f->topology, f->run,     f->host,    f->file};
  for (int i = 0; i < 8; i++)
    db->ops->bind_text(*st, i + 1, v[i]);
  db->ops->bind_int(*st, 9, f->last ? (long long)f->last : SELECT_ALL);
  return 0;
}

int suite_hist_list(suite_hist_t *db, const suite_hist_filter_t *f, FILE *out, mmc_error_t *err) {
  hdb_stmt_t *st;
  int rc = prepare_select(db, f,
                          "id, run_id, impl, version, machine_class, mode, start_time, pass, "
                          "fail, skip, broken, topology_summary",
                          &st, err);
  if (rc)
    return rc;
  const hdb_ops_t *o = db->ops;
  fprintf(out, "%-5s %-12s %-12s %-10s %-24s %-6s %-21s %-15s %s\n", "ENTRY", "RUN", "IMPL",
          "VERSION", "MACHINE CLASS", "MODE", "START", "PASS/FAIL/SKIP/BROKEN", "TOPOLOGY");
  int n = 0;
  while ((rc = o->step(st, "listing runs", err)) == HDB_ROW) {
    char tot[64];
    snprintf(tot, sizeof tot, "%lld/%lld/%lld/%lld", o->col_int(st, 7), o->col_int(st, 8),
             o->col_int(st, 9), o->col_int(st, 10));
    fprintf(out, "%-5lld %-12.12s %-12s %-10s %-24s %-6s %-21s %-15s %s\n", o->col_int(st, 0),
            o->col_text(st, 1), o->col_text(st, 2), o->col_text(st, 3), o->col_text(st, 4),
            o->col_text(st, 5), o->col_text(st, 6), tot, o->col_text(st, 11));
    n++;
  }
  o->finalize(st);
  if (rc < 0)
    return rc;
  fprintf(out, "%d run%s\n", n, n == 1 ? "" : "s");
  return 0;
}

/* Rows of (id, doc): each doc validated by `load`, appended to *docs. */
static int collect_docs(hdb_t *db, hdb_stmt_t *st, bool qualify, json_t **docs, mmc_error_t *err) {
  const hdb_ops_t *o = db->ops;
  *docs = json_array();
  int rc;
  while ((rc = o->step(st, "selecting runs", err)) == HDB_ROW) {
    char label[96];
    snprintf(label, sizeof label, "history %s %lld", qualify ? "qualification" : "entry",
             o->col_int(st, 0));
    json_t *doc = NULL;
    int vr;
    if (qualify) {
      doc = json_loads(o->col_text(st, 1), 0, NULL);
      vr = doc ? suite_qr_validate(doc, err)
               : mmc_fail(err, MMC_EINVAL, "not valid JSON (the database was changed by hand?)");
      if (vr)
        mmc_error_prefix(err, "%s", label);
    } else {
      const char *text = o->col_text(st, 1);
      vr = suite_rr_load_text(text, strlen(text), label, &doc, err);
    }
    if (vr) {
      json_decref(doc);
      rc = vr;
      break;
    }
    json_array_append_new(*docs, doc);
  }
  o->finalize(st);
  if (rc < 0) {
    json_decref(*docs);
    *docs = NULL;
    return rc;
  }
  return 0;
}

int suite_hist_select(suite_hist_t *db, const suite_hist_filter_t *f, json_t **docs,
                      mmc_error_t *err) {
  hdb_stmt_t *st;
  int rc = prepare_select(db, f, "id, doc, start_time", &st, err);
  return rc ? rc : collect_docs(db, st, false, docs, err);
}

int suite_hist_select_qualify(suite_hist_t *db, const suite_hist_filter_t *f, json_t **docs,
                              mmc_error_t *err) {
  hdb_stmt_t *st;
  int rc = db->ops->prepare(db,
                            "SELECT id, doc FROM qualifications WHERE (CAST($1 AS TEXT) IS NULL "
                            "OR machine_class = $1) AND (CAST($2 AS TEXT) IS NULL OR hostname = "
                            "$2) AND (CAST($3 AS TEXT) IS NULL OR substr(file, 1, length($3)) = "
                            "$3) AND (CAST($4 AS TEXT) IS NULL OR substr(run_id, 1, length($4)) "
                            "= $4) ORDER BY start_time, id",
                            &st, err);
  if (rc)
    return rc;
  db->ops->bind_text(st, 1, f->machine);
  db->ops->bind_text(st, 2, f->host);
  db->ops->bind_text(st, 3, f->file);
  db->ops->bind_text(st, 4, f->run);
  return collect_docs(db, st, true, docs, err);
}
