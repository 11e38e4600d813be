/*
 * test_history.c — results over releases end to end in-process: a case
 * table recording time series and metrics run with --repeat 3 gives a
 * schema-2 document that the validator accepts (and a damaged one it
 * refuses with the JSON path); the history — an SQLite file and a database
 * on the throw-away PostgreSQL server of make check — imports runs once, as
 * one transaction (a bad file or a lock leaves every table as it was), and
 * selects by filter and recency (a run id prefix is text, not a pattern);
 * SQLite refuses a corrupt file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <math.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "history.h"
#include "history_db.h"
#include "results.h"
#include "results_read.h"
#include "runner.h"

#define FIX MMCERT_SOURCE_DIR "/tests/fixtures/results/"

#include "ref_test.h" /* mmcert_impl: the reference, from libmmref.a */
#include "test_util.h"

static void t_series(suite_ctx_t *c) {
  for (int i = 0; i < 5; i++)
    sc_series(c, "mig/done", "pages", 0.5 * i, 100.0 * i);
  sc_series(c, "mig/total", "pages", 0, 400);
  /* A figure that differs between repetitions (each is its own process). */
  sc_metric(c, "throughput", "MB/s", "higher", 1000.0 + (double)(getpid() % 97));
  sc_metric(c, "broken figure", "x", "lower", NAN); /* left out, said in a diag */
  sc_series(c, "mig/done", "pages", INFINITY, 1);
  sc_check(c, true, "progress recorded", NULL);
}

static const suite_case_t cases[] = {
    {.id = "T-SERIES", .spec_ids = "MIG-1", .title = "records series", .run = t_series},
    {0},
};

static json_t *run_doc(void) {
  suite_impl_t si = {.impl = &mmcert_impl, .path = "/fake/libmmref.so"};
  mmc_error_t err;
  mmt_topology_t *topo = NULL;
  assert_int_equal(mmt_load("builtin:2", &topo, &err), 0);
  FILE *devnull = fopen("/dev/null", "w");
  suite_run_t run = {.si = &si,
                     .topo = topo,
                     .seed = 5,
                     .profile = "esxi-6.7",
                     .timeout_scale = 1,
                     .repeat = 3,
                     .cases = cases,
                     .out = devnull,
                     .err = devnull};
  assert_int_equal(suite_run(&run), SUITE_EXIT_OK);
  assert_int_equal(run.nresults, 3);
  json_t *doc = suite_results_json(&run);
  suite_run_free(&run);
  mmt_free(topo);
  fclose(devnull);
  return doc;
}

static json_t *metric(json_t *c, const char *name) {
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(c, "metrics"), i,
                     m) if (!strcmp(json_string_value(json_object_get(m, "name")), name)) return m;
  return NULL;
}

static void repeat_series_validate(void **state) {
  (void)state;
  json_t *doc = run_doc();
  mmc_error_t err = {0};
  assert_int_equal(suite_rr_validate(doc, &err), 0);
  json_t *c = json_array_get(json_object_get(doc, "cases"), 0);
  assert_int_equal(json_array_size(json_object_get(doc, "cases")), 1);
  assert_int_equal(json_integer_value(json_object_get(c, "repetitions")), 3);
  assert_int_equal(json_array_size(json_object_get(metric(c, "throughput"), "samples")), 3);
  assert_int_equal(json_array_size(json_object_get(metric(c, "wall_time"), "samples")), 3);
  json_t *series = json_object_get(c, "series");
  assert_int_equal(json_array_size(series), 6); /* 2 names x 3 repetitions */
  json_t *s0 = json_array_get(series, 0);
  assert_string_equal(json_string_value(json_object_get(s0, "name")), "mig/done");
  assert_int_equal(json_array_size(json_object_get(s0, "t")), 5);
  assert_true(json_real_value(json_array_get(json_object_get(s0, "t"), 4)) == 2.0);
  assert_true(json_real_value(json_array_get(json_object_get(s0, "v"), 4)) == 400.0);
  assert_null(metric(c, "broken figure"));
  json_t *diag = json_array_get(json_object_get(c, "diags"), 0);
  assert_non_null(strstr(json_string_value(diag), "metric broken figure: non-finite value nan"));
  json_t *ck = json_array_get(json_object_get(c, "checks"), 0);
  assert_string_equal(json_string_value(json_object_get(ck, "id")), "T-SERIES/1");
  assert_string_equal(json_string_value(json_object_get(ck, "spec_ids")), "MIG-1");
  assert_int_equal(json_integer_value(json_object_get(ck, "seen")), 3);

  /* Damage it: the validator names the path. */
  json_t *m = metric(c, "throughput");
  json_array_clear(json_object_get(m, "samples"));
  assert_int_not_equal(suite_rr_validate(doc, &err), 0);
  assert_non_null(strstr(err.msg, "cases[0].metrics[0].samples: expected at least one value"));
  json_object_del(m, "samples");
  assert_int_not_equal(suite_rr_validate(doc, &err), 0);
  assert_non_null(strstr(err.msg, "cases[0].metrics[0].samples: missing"));
  json_object_set_new(doc, "schema_version", json_integer(1));
  assert_int_not_equal(suite_rr_validate(doc, &err), 0);
  assert_non_null(strstr(err.msg, "schema_version 1"));
  json_object_set_new(doc, "mode", json_string("slow"));
  json_object_set_new(doc, "schema_version", json_integer(SUITE_RESULTS_SCHEMA));
  assert_int_not_equal(suite_rr_validate(doc, &err), 0);
  json_decref(doc);
}

/* ------------------------------------------------------------ backends */

/* The history tests run on both backends: an SQLite file in a temporary
 * directory, and a fresh database on the throw-away PostgreSQL server that
 * tests/pg-server.sh started (MMCERT_TEST_PG), dropped afterwards. */
typedef struct backend {
  bool pg;
  const char *skip; /* why this backend cannot be tested here */
  char dir[64], run[96];
  char where[512]; /* what suite_hist_open gets */
  char admin[512]; /* PostgreSQL: the server's own database, to create/drop ours */
  char dbname[64];
} backend_t;

static long long count(suite_hist_t *db, const char *table) {
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
  hdb_stmt_t *st;
  mmc_error_t err = {0};
  assert_int_equal(db->ops->prepare(db, sql, &st, &err), 0);
  assert_int_equal(db->ops->step(st, "counting", &err), HDB_ROW);
  long long n = db->ops->col_int(st, 0);
  db->ops->finalize(st);
  return n;
}

static void pg_admin(const backend_t *b, const char *sql) {
  PGconn *c = PQconnectdb(b->admin);
  assert_int_equal(PQstatus(c), CONNECTION_OK);
  PQclear(PQexec(c, "SET client_min_messages = warning")); /* no NOTICE on stderr */
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK)
    fail_msg("%s: %s", sql, PQerrorMessage(c));
  PQclear(r);
  PQfinish(c);
}

static int setup_common(void **state, bool pg) {
  backend_t *b = calloc(1, sizeof *b);
  b->pg = pg;
  snprintf(b->dir, sizeof b->dir, "/tmp/test_history.XXXXXX");
  if (!mkdtemp(b->dir))
    return -1;
  snprintf(b->run, sizeof b->run, "%s/run.json", b->dir);
  snprintf(b->where, sizeof b->where, "%s/h.db", b->dir);
  *state = b;
  if (!pg)
    return 0;
  const char *uri = getenv("MMCERT_TEST_PG");
  if (!uri) {
    b->skip = getenv("MMCERT_TEST_PG_BROKEN") ? "BROKEN" : getenv("MMCERT_TEST_PG_SKIP");
    if (!b->skip)
      b->skip = "MMCERT_TEST_PG is not set (make check starts a server: tests/pg-server.sh)";
    return 0;
  }
  snprintf(b->admin, sizeof b->admin, "%s", uri);
  snprintf(b->dbname, sizeof b->dbname, "test_history_%d", (int)getpid());
  /* The URI's database is its last path element: ours replaces it. */
  const char *slash = strrchr(uri, '/');
  snprintf(b->where, sizeof b->where, "%.*s/%s", (int)(slash - uri), uri, b->dbname);
  char sql[128];
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", b->dbname);
  pg_admin(b, sql);
  snprintf(sql, sizeof sql, "CREATE DATABASE %s", b->dbname);
  pg_admin(b, sql);
  return 0;
}

static int setup_sqlite(void **state) {
  return setup_common(state, false);
}

static int setup_pg(void **state) {
  return setup_common(state, true);
}

static int teardown(void **state) {
  backend_t *b = *state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", b->dir);
  int rc = system(cmd);
  if (b->pg && !b->skip) {
    snprintf(cmd, sizeof cmd, "DROP DATABASE IF EXISTS %s WITH (FORCE)", b->dbname);
    pg_admin(b, cmd);
  }
  free(b);
  return rc == 0 ? 0 : -1;
}

/* Skip with the reason (or fail when the server was meant to run). */
static bool unavailable(const backend_t *b) {
  if (!b->skip)
    return false;
  if (!strcmp(b->skip, "BROKEN"))
    fail_msg("PostgreSQL did not start: %s", getenv("MMCERT_TEST_PG_BROKEN"));
  printf("# PostgreSQL backend not tested: %s\n", b->skip);
  return true;
}

/* Another connection holds a write lock on the history. */
typedef struct holder {
  sqlite3 *sq;
  PGconn *pg;
} holder_t;

static void hold_lock(const backend_t *b, holder_t *h) {
  *h = (holder_t){0};
  if (!b->pg) {
    assert_int_equal(sqlite3_open(b->where, &h->sq), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h->sq, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    return;
  }
  h->pg = PQconnectdb(b->where);
  assert_int_equal(PQstatus(h->pg), CONNECTION_OK);
  PGresult *r = PQexec(h->pg, "BEGIN; LOCK TABLE mmcert.runs IN EXCLUSIVE MODE");
  assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
  PQclear(r);
}

static void release_lock(holder_t *h) {
  if (h->sq) {
    sqlite3_exec(h->sq, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(h->sq);
  }
  if (h->pg) {
    PQclear(PQexec(h->pg, "ROLLBACK"));
    PQfinish(h->pg);
  }
}

static void import_once_all_or_nothing(void **state) {
  backend_t *b = *state;
  if (unavailable(b)) {
    test_skip("PostgreSQL backend not tested: %s", b->skip);
    return;
  }
  json_t *doc = run_doc();
  mmc_error_t err = {0};
  assert_int_equal(suite_results_write_file(b->run, doc, &err), 0);
  json_decref(doc);
  suite_hist_t *db;
  if (suite_hist_open(b->where, true, NULL, &db, &err) != 0)
    fail_msg("%s", err.msg);
  FILE *note = fopen("/dev/null", "w");
  size_t imported, skipped;
  const char *two[] = {b->run, FIX "old.json"};
  assert_int_equal(suite_hist_import(db, two, 2, note, &imported, &skipped, &err), 0);
  assert_int_equal(imported, 2);
  assert_int_equal(count(db, "runs"), 2);
  /* 3 throughput + 3 wall_time samples, and the fixture's 3 metrics x 8. */
  assert_int_equal(count(db, "samples"), 6 + 24);
  assert_int_equal(count(db, "checks"), 1 + 2);
  assert_int_equal(count(db, "schema_version"), 1);

  /* The same run again: skipped. */
  assert_int_equal(suite_hist_import(db, two, 1, note, &imported, &skipped, &err), 0);
  assert_int_equal(imported, 0);
  assert_int_equal(skipped, 1);

  /* A good file and a truncated one: neither lands. */
  const char *mixed[] = {FIX "same.json", FIX "truncated.json"};
  assert_int_not_equal(suite_hist_import(db, mixed, 2, note, &imported, &skipped, &err), 0);
  assert_non_null(strstr(err.msg, "truncated.json"));
  assert_int_equal(count(db, "runs"), 2);
  assert_int_equal(count(db, "samples"), 30);

  /* Another connection holds a write lock: MMC_EBUSY, unchanged. */
  holder_t h;
  hold_lock(b, &h);
  assert_int_equal(db->ops->lock_timeout(db, 50, &err), 0); /* the test does not wait it out */
  assert_int_equal(suite_hist_import(db, mixed, 1, note, &imported, &skipped, &err), MMC_EBUSY);
  assert_non_null(strstr(err.msg, b->pg ? "lock timeout" : "locked"));
  release_lock(&h);
  assert_int_equal(count(db, "runs"), 2);
  assert_int_equal(suite_hist_import(db, mixed, 1, note, &imported, &skipped, &err), 0);
  assert_int_equal(count(db, "runs"), 3);
  fclose(note);

  /* Selections: by version, and the newest only. */
  suite_hist_filter_t f;
  char buf[256];
  json_t *docs;
  assert_int_equal(
      suite_hist_parse_filter("impl=reference,version=0.1.0", buf, sizeof buf, &f, &err), 0);
  assert_int_equal(suite_hist_select(db, &f, &docs, &err), 0);
  assert_int_equal(json_array_size(docs), 3); /* the in-process run is 0.1.0 too */
  json_decref(docs);
  assert_int_equal(suite_hist_parse_filter("run=fixture-,last=1", buf, sizeof buf, &f, &err), 0);
  assert_int_equal(suite_hist_select(db, &f, &docs, &err), 0);
  assert_int_equal(json_array_size(docs), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(docs, 0), "run_id")),
                      "fixture-same"); /* started after fixture-old */
  json_decref(docs);
  /* A run id prefix is text: '_' and '%' are no wildcards. */
  static const char *const patterns[] = {"run=fixture_", "run=%", "run=fixture-%"};
  for (int i = 0; i < 3; i++) {
    assert_int_equal(suite_hist_parse_filter(patterns[i], buf, sizeof buf, &f, &err), 0);
    assert_int_equal(suite_hist_select(db, &f, &docs, &err), 0);
    assert_int_equal(json_array_size(docs), 0);
    json_decref(docs);
  }
  suite_hist_close(db);
}

static void filters_and_bad_files(void **state) {
  backend_t *b = *state;
  suite_hist_filter_t f;
  char buf[64];
  mmc_error_t err = {0};
  assert_int_equal(suite_hist_parse_filter("last=0", buf, sizeof buf, &f, &err), MMC_EINVAL);
  assert_int_equal(suite_hist_parse_filter("colour=red", buf, sizeof buf, &f, &err), MMC_EINVAL);
  assert_non_null(strstr(err.msg, "allowed: impl, version"));
  assert_int_equal(suite_hist_parse_filter("impl", buf, sizeof buf, &f, &err), MMC_EINVAL);
  assert_int_equal(suite_hist_parse_filter("mode=full,machine=x", buf, sizeof buf, &f, &err), 0);
  assert_string_equal(f.mode, "full");
  assert_string_equal(f.machine, "x");

  suite_hist_t *db = NULL;
  assert_int_equal(suite_hist_open(b->where, false, NULL, &db, &err), MMC_ENOENT);
  assert_true(access(b->where, F_OK) != 0); /* not created by a reader */
  FILE *g = fopen(b->where, "w");
  for (int i = 0; i < 64; i++)
    fputs("garbage garbage garbage\n", g);
  fclose(g);
  assert_int_equal(suite_hist_open(b->where, true, NULL, &db, &err), MMC_EINVAL);
  assert_non_null(strstr(err.msg, "not a database"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(repeat_series_validate),
      {"import_once_all_or_nothing (SQLite)", import_once_all_or_nothing, setup_sqlite, teardown,
       NULL},
      {"import_once_all_or_nothing (PostgreSQL)", import_once_all_or_nothing, setup_pg, teardown,
       NULL},
      cmocka_unit_test_setup_teardown(filters_and_bad_files, setup_sqlite, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
