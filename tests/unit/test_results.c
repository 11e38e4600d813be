/*
 * test_results.c — the JSON results writer (suite/results.c): every
 * documented field is present with the run's values, the file is written
 * whole, and a failed write leaves nothing behind (no temporary file, the
 * old file untouched). Also the child->parent record wire format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results.h"
#include "runner.h"
#include "test_util.h"

static const mmc_impl_t fake_impl = {.abi_version = MMCERT_ABI_VERSION,
                                     .struct_size = sizeof(mmc_impl_t),
                                     .name = "fake",
                                     .version = "9.9.9",
                                     .capabilities = MMC_CAP_CLOCK_STEPPED | MMC_CAP_SWAP};
static const suite_case_t fake_case = {.id = "SET-1", .spec_ids = "SET-1", .title = "t"};

typedef struct fixture {
  suite_impl_t si;
  suite_run_t run;
  suite_setting_t setting;
  mmc_setting_value_t set;
  char dir[64];
} fixture_t;

static void add(suite_result_t *r, suite_rec_t rec) {
  r->recs = realloc(r->recs, (r->nrecs + 1) * sizeof *r->recs);
  rec.name = strdup(rec.name ? rec.name : "");
  rec.text = strdup(rec.text ? rec.text : "");
  rec.unit = strdup(rec.unit ? rec.unit : "");
  rec.better = strdup(rec.better ? rec.better : "");
  r->recs[r->nrecs++] = rec;
}

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  f->si = (suite_impl_t){.impl = &fake_impl};
  snprintf(f->si.path, sizeof f->si.path, "/x/fake.so");
  mmc_error_t err;
  mmt_topology_t *t = NULL;
  if (mmt_load("builtin:2", &t, &err) != 0)
    return -1;
  f->setting = (suite_setting_t){.name = "Mem.IdleTax",
                                 .unit = "%",
                                 .value = 50,
                                 .def = 75,
                                 .min = 0,
                                 .max = 99,
                                 .user_set = true};
  f->set = (mmc_setting_value_t){.name = "Mem.IdleTax", .value = 50};
  f->run = (suite_run_t){.si = &f->si,
                         .topology_spec = "builtin:2",
                         .topo = t,
                         .mode = SUITE_MODE_QUICK,
                         .seed = 1234567890123ull,
                         .profile = "esxi-6.7",
                         .timeout_scale = 1.0,
                         .sets = &f->set,
                         .nsets = 1,
                         .settings = &f->setting,
                         .nsettings = 1,
                         .start_time = 1.7e9,
                         .end_time = 1.7e9 + 3};
  f->run.results = calloc(1, sizeof *f->run.results);
  f->run.nresults = 1;
  suite_result_t *r = &f->run.results[0];
  r->c = &fake_case;
  r->verdict = SUITE_FAIL;
  r->duration_s = 0.25;
  snprintf(r->reason, sizeof r->reason, "1 of 2 checks failed");
  add(r, (suite_rec_t){.kind = SUITE_REC_CHECK, .ok = true, .name = "a"});
  add(r, (suite_rec_t){.kind = SUITE_REC_CHECK, .ok = false, .name = "b", .text = "why"});
  add(r,
      (suite_rec_t){
          .kind = SUITE_REC_METRIC, .name = "lat", .unit = "ns", .better = "lower", .value = 12.5});
  f->run.totals[SUITE_FAIL] = 1;
  snprintf(f->dir, sizeof f->dir, "/tmp/mmcert-test-results.XXXXXX");
  if (!mkdtemp(f->dir))
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  if (system(cmd) != 0)
    return -1;
  f->run.settings = NULL; /* not heap-owned here */
  f->run.nsettings = 0;
  suite_run_free(&f->run);
  mmt_free(f->run.topo);
  free(f);
  return 0;
}

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  if (d)
    closedir(d);
  return n;
}

static void fields_present(void **state) {
  fixture_t *f = *state;
  char path[128];
  snprintf(path, sizeof path, "%s/run.json", f->dir);
  mmc_error_t err = {0};
  assert_int_equal(suite_results_write(path, &f->run, &err), 0);
  assert_int_equal(count_entries(f->dir), 1); /* no temporary left */
  json_error_t jerr;
  json_t *d = json_load_file(path, 0, &jerr);
  assert_non_null(d);
  assert_string_equal(json_string_value(json_object_get(d, "schema")), "mmcert-results");
  assert_int_equal(json_integer_value(json_object_get(d, "schema_version")), SUITE_RESULTS_SCHEMA);
  assert_string_equal(json_string_value(json_object_get(d, "mmcert_version")), MMCERT_VERSION);
  assert_int_equal(json_integer_value(json_object_get(d, "seed")), 1234567890123ll);
  assert_string_equal(json_string_value(json_object_get(d, "mode")), "quick");
  assert_string_equal(json_string_value(json_object_get(d, "start_time")), "2023-11-14T22:13:20Z");
  json_t *m = json_object_get(d, "machine");
  assert_non_null(json_object_get(m, "hostname"));
  assert_non_null(json_object_get(m, "cpu_model"));
  assert_true(json_integer_value(json_object_get(m, "numa_nodes")) >= 1);
  assert_non_null(json_string_value(json_object_get(json_object_get(d, "kernel"), "release")));
  json_t *topo = json_object_get(d, "topology");
  assert_int_equal(json_integer_value(json_object_get(topo, "nnodes")), 2);
  assert_int_equal(json_array_size(json_object_get(topo, "distances")), 2);
  json_t *im = json_object_get(d, "implementation");
  assert_string_equal(json_string_value(json_object_get(im, "name")), "fake");
  assert_string_equal(json_string_value(json_object_get(im, "version")), "9.9.9");
  assert_string_equal(json_string_value(json_object_get(im, "path")), "/x/fake.so");
  assert_int_equal(json_integer_value(json_object_get(im, "abi_version")), MMCERT_ABI_VERSION);
  assert_int_equal(json_array_size(json_object_get(im, "capabilities")), 2);
  json_t *s = json_array_get(json_object_get(d, "settings"), 0);
  assert_string_equal(json_string_value(json_object_get(s, "name")), "Mem.IdleTax");
  assert_int_equal(json_integer_value(json_object_get(s, "value")), 50);
  assert_int_equal(json_integer_value(json_object_get(s, "default")), 75);
  assert_true(json_is_true(json_object_get(s, "set")));
  json_t *c = json_array_get(json_object_get(d, "cases"), 0);
  assert_string_equal(json_string_value(json_object_get(c, "verdict")), "fail");
  json_t *checks = json_object_get(c, "checks");
  assert_int_equal(json_array_size(checks), 2);
  assert_true(json_is_false(json_object_get(json_array_get(checks, 1), "ok")));
  assert_string_equal(json_string_value(json_object_get(json_array_get(checks, 1), "diag")), "why");
  json_t *met = json_array_get(json_object_get(c, "metrics"), 0);
  assert_string_equal(json_string_value(json_object_get(met, "unit")), "ns");
  assert_string_equal(json_string_value(json_object_get(met, "better")), "lower");
  assert_true(json_real_value(json_object_get(met, "value")) == 12.5);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(d, "totals"), "fail")), 1);
  json_decref(d);
}

/* rename() onto a non-empty directory fails after the temporary file was
 * written: it must be removed, and the directory left as it was. */
static void failed_write_leaves_nothing(void **state) {
  fixture_t *f = *state;
  char target[128], inner[160];
  snprintf(target, sizeof target, "%s/busy", f->dir);
  snprintf(inner, sizeof inner, "%s/keep", target);
  assert_int_equal(mkdir(target, 0755), 0);
  FILE *k = fopen(inner, "w");
  assert_non_null(k);
  fclose(k);
  mmc_error_t err = {0};
  int rc = suite_results_write(target, &f->run, &err);
  assert_int_equal(rc, MMC_EIO);
  assert_non_null(strstr(err.msg, target));
  assert_non_null(strstr(err.msg, "rename"));
  assert_int_equal(count_entries(f->dir), 1);
  assert_int_equal(count_entries(target), 1);
}

static void missing_dir_is_an_error(void **state) {
  fixture_t *f = *state;
  char path[128];
  snprintf(path, sizeof path, "%s/no/such/dir/run.json", f->dir);
  mmc_error_t err = {0};
  assert_int_equal(suite_results_write(path, &f->run, &err), MMC_EIO);
  assert_non_null(strstr(err.msg, "no/such/dir"));
  assert_int_equal(count_entries(f->dir), 0);
}

/* A directory we may not write to (root may write anywhere: skipped then). */
static void unwritable_dir_leaves_nothing(void **state) {
  fixture_t *f = *state;
  if (geteuid() == 0)
    test_skip("root writes into a read-only directory: nothing to refuse");
  char ro[128], path[160];
  snprintf(ro, sizeof ro, "%s/ro", f->dir);
  snprintf(path, sizeof path, "%s/run.json", ro);
  assert_int_equal(mkdir(ro, 0555), 0);
  mmc_error_t err = {0};
  assert_int_equal(suite_results_write(path, &f->run, &err), MMC_EIO);
  assert_non_null(strstr(err.msg, ro));
  assert_int_equal(count_entries(ro), 0);
  chmod(ro, 0755);
}

/* Replacing an existing file is all-or-nothing: after a success the new
 * content is there whole. */
static void replaces_whole_file(void **state) {
  fixture_t *f = *state;
  char path[128];
  snprintf(path, sizeof path, "%s/run.json", f->dir);
  FILE *o = fopen(path, "w");
  fputs("old", o);
  fclose(o);
  mmc_error_t err = {0};
  assert_int_equal(suite_results_write(path, &f->run, &err), 0);
  json_error_t jerr;
  json_t *d = json_load_file(path, 0, &jerr);
  assert_non_null(d);
  json_decref(d);
  assert_int_equal(count_entries(f->dir), 1);
}

/* The record wire format survives being cut anywhere. */
static void records_round_trip(void **state) {
  (void)state;
  int p[2];
  assert_int_equal(pipe(p), 0);
  suite_rec_t in = {.kind = SUITE_REC_METRIC,
                    .name = "n",
                    .unit = "ms",
                    .better = "lower",
                    .text = "",
                    .value = 3.5,
                    .ival = {1, -2, 3, INT64_MAX}};
  assert_int_equal(suite_rec_send(p[1], &in), 0);
  close(p[1]);
  unsigned char buf[512];
  ssize_t n = read(p[0], buf, sizeof buf);
  close(p[0]);
  assert_true(n > 0);
  suite_rec_t out;
  for (ssize_t cut = 0; cut < n; cut++)
    assert_int_equal(suite_rec_decode(buf, (size_t)cut, &out), 0);
  assert_int_equal(suite_rec_decode(buf, (size_t)n, &out), n);
  assert_int_equal(out.kind, SUITE_REC_METRIC);
  assert_string_equal(out.name, "n");
  assert_string_equal(out.unit, "ms");
  assert_string_equal(out.better, "lower");
  assert_true(out.value == 3.5);
  assert_int_equal(out.ival[3], INT64_MAX);
  suite_rec_free(&out);
  buf[0] ^= 0xff; /* bad magic: refused, not misread */
  assert_int_equal(suite_rec_decode(buf, (size_t)n, &out), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(fields_present, setup, teardown),
      cmocka_unit_test_setup_teardown(failed_write_leaves_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(missing_dir_is_an_error, setup, teardown),
      cmocka_unit_test_setup_teardown(unwritable_dir_leaves_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(replaces_whole_file, setup, teardown),
      cmocka_unit_test(records_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
