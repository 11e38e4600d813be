/*
 * test_history.c — results over releases end to end in-process: a case
 * table recording time series and metrics run with --repeat 3 gives a
 * schema-2 document that the validator accepts (and a damaged one it
 * refuses with the JSON path); the SQLite history imports runs once, as one
 * transaction (a bad file or a lock leaves every table as it was), refuses
 * a corrupt file, and selects by filter and recency.
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

#include "history.h"
#include "results.h"
#include "results_read.h"
#include "runner.h"

#define FIX MMCERT_SOURCE_DIR "/tests/fixtures/results/"

extern const mmc_impl_t mmcert_impl; /* the reference, from libmmref.a */

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

static long long count(sqlite3 *db, const char *table) {
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  long long n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return n;
}

typedef struct paths {
  char dir[64], db[96], run[96];
} paths_t;

static int setup(void **state) {
  paths_t *p = calloc(1, sizeof *p);
  snprintf(p->dir, sizeof p->dir, "/tmp/test_history.XXXXXX");
  if (!mkdtemp(p->dir))
    return -1;
  snprintf(p->db, sizeof p->db, "%s/h.db", p->dir);
  snprintf(p->run, sizeof p->run, "%s/run.json", p->dir);
  *state = p;
  return 0;
}

static int teardown(void **state) {
  paths_t *p = *state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", p->dir);
  int rc = system(cmd);
  free(p);
  return rc == 0 ? 0 : -1;
}

static void import_once_all_or_nothing(void **state) {
  paths_t *p = *state;
  json_t *doc = run_doc();
  mmc_error_t err = {0};
  assert_int_equal(suite_results_write_file(p->run, doc, &err), 0);
  json_decref(doc);
  sqlite3 *db;
  assert_int_equal(suite_hist_open(p->db, true, &db, &err), 0);
  FILE *note = fopen("/dev/null", "w");
  size_t imported, skipped;
  const char *two[] = {p->run, FIX "old.json"};
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

  /* Another connection holds a write transaction: MMC_EBUSY, unchanged. */
  sqlite3 *other;
  assert_int_equal(sqlite3_open(p->db, &other), SQLITE_OK);
  assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_busy_timeout(db, 0); /* the test does not wait out the 2 s */
  assert_int_equal(suite_hist_import(db, mixed, 1, note, &imported, &skipped, &err), MMC_EBUSY);
  assert_non_null(strstr(err.msg, "locked"));
  sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(other);
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
  suite_hist_close(db);
}

static void filters_and_bad_files(void **state) {
  paths_t *p = *state;
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

  sqlite3 *db = NULL;
  assert_int_equal(suite_hist_open(p->db, false, &db, &err), MMC_ENOENT);
  assert_true(access(p->db, F_OK) != 0); /* not created by a reader */
  FILE *g = fopen(p->db, "w");
  for (int i = 0; i < 64; i++)
    fputs("garbage garbage garbage\n", g);
  fclose(g);
  assert_int_equal(suite_hist_open(p->db, true, &db, &err), MMC_EINVAL);
  assert_non_null(strstr(err.msg, "not a database"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(repeat_series_validate),
      cmocka_unit_test_setup_teardown(import_once_all_or_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(filters_and_bad_files, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
