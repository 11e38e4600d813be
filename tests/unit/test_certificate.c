/*
 * test_certificate.c — the verdict per SPEC id (suite/certificate.c): a
 * failed or broken case fails every id it names; a skip leaves them not
 * shown with its kind; an id judged by a case that did not run is "not
 * selected"; skips never add up to a pass; combining runs shows an id shown
 * anywhere and failed nowhere; the JSON block reads back as written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "certificate.h"

static void noop(suite_ctx_t *c) {
  (void)c;
}

static const suite_case_t table[] = {
    {.id = "A", .spec_ids = "NUMA-1", .title = "a", .run = noop},
    {.id = "B", .spec_ids = "NUMA-1 NUMA-3", .title = "b", .run = noop},
    {.id = "C", .spec_ids = "TPS-2 SEC-1", .title = "c", .run = noop},
    {.id = "D", .spec_ids = "SET-1", .title = "d", .run = noop},
    {0},
};

static const suite_cert_id_t *find(const suite_cert_t *c, const char *id) {
  for (size_t i = 0; i < c->n; i++)
    if (!strcmp(c->ids[i].id, id))
      return &c->ids[i];
  fail_msg("id %s missing", id);
  return NULL;
}

static void ids_in_spec_order(void **state) {
  (void)state;
  const char *const *all = suite_cert_all_ids(table);
  const char *want[] = {"SET-1", "NUMA-1", "NUMA-3", "TPS-2", "SEC-1", NULL};
  for (int i = 0; want[i]; i++)
    assert_string_equal(all[i], want[i]);
  assert_null(all[5]);
  assert_true(suite_cert_names("NUMA-1 NUMA-3", "NUMA-3"));
  assert_false(suite_cert_names("NUMA-10", "NUMA-1"));
}

static void statuses_and_verdicts(void **state) {
  (void)state;
  const suite_cert_case_t ran[] = {
      {.id = "A", .spec_ids = "NUMA-1", .verdict = SUITE_PASS},
      {.id = "B",
       .spec_ids = "NUMA-1 NUMA-3",
       .verdict = SUITE_SKIP,
       .kind = SUITE_NOTSHOWN_TOPOLOGY,
       .reason = "needs 2 NUMA nodes"},
      {.id = "C",
       .spec_ids = "TPS-2 SEC-1",
       .verdict = SUITE_FAIL,
       .check = "cow",
       .diag = "shared after write"},
      {.id = "D", .spec_ids = "SET-1", .verdict = SUITE_PASS},
  };
  suite_cert_t cert;
  mmc_error_t err = {0};
  assert_int_equal(suite_cert_build(suite_cert_all_ids(table), table, ran, 4, "all", "", &cert,
                                    &err),
                   0);
  assert_int_equal(cert.n, 5);
  assert_int_equal(find(&cert, "SET-1")->status, SUITE_CERT_SHOWN);
  /* A passes, B skipped: NUMA-1 is not shown (skips never add up to a pass). */
  const suite_cert_id_t *n1 = find(&cert, "NUMA-1");
  assert_int_equal(n1->status, SUITE_CERT_NOT_SHOWN);
  assert_string_equal(n1->kind, "topology");
  assert_non_null(strstr(n1->reason, "case B: needs 2 NUMA nodes"));
  assert_string_equal(n1->cases, "A B");
  const suite_cert_id_t *sec = find(&cert, "SEC-1");
  assert_int_equal(sec->status, SUITE_CERT_FAILED);
  assert_non_null(strstr(sec->reason, "case C: check 'cow' failed: shared after write"));
  assert_int_equal(cert.shown, 1);
  assert_int_equal(cert.failed, 2);
  assert_int_equal(cert.not_shown, 2);
  assert_int_equal(suite_cert_verdict(&cert), SUITE_NOT_CERTIFIED);
  assert_int_equal(suite_cert_exit(&cert), 1);
  suite_cert_free(&cert);
}

/* A --case subset: NUMA-1 is also judged by B, which did not run. */
static void subset_not_selected(void **state) {
  (void)state;
  const suite_cert_case_t ran[] = {{.id = "A", .spec_ids = "NUMA-1", .verdict = SUITE_PASS}};
  const char *scope[] = {"NUMA-1", NULL};
  suite_cert_t cert;
  mmc_error_t err = {0};
  assert_int_equal(suite_cert_build(scope, table, ran, 1, "case", "--case 'A'", &cert, &err), 0);
  assert_int_equal(cert.n, 1);
  assert_int_equal(cert.ids[0].status, SUITE_CERT_NOT_SHOWN);
  assert_string_equal(cert.ids[0].kind, "not selected");
  assert_int_equal(suite_cert_verdict(&cert), SUITE_INCOMPLETE);
  assert_int_equal(suite_cert_exit(&cert), SUITE_EXIT_INCOMPLETE);
  suite_cert_free(&cert);
  /* Both cases ran and passed: certified, for this one id only. */
  const suite_cert_case_t both[] = {{.id = "A", .spec_ids = "NUMA-1", .verdict = SUITE_PASS},
                                    {.id = "B", .spec_ids = "NUMA-1 NUMA-3", .verdict = SUITE_PASS}};
  assert_int_equal(suite_cert_build(scope, table, both, 2, "spec", "--spec 'NUMA-1'", &cert, &err),
                   0);
  assert_int_equal(suite_cert_verdict(&cert), SUITE_CERTIFIED);
  assert_int_equal(suite_cert_exit(&cert), 0);
  suite_cert_free(&cert);
}

/* Several repetitions: the worst decides. */
static void worst_repetition(void **state) {
  (void)state;
  const suite_cert_case_t ran[] = {{.id = "D", .spec_ids = "SET-1", .verdict = SUITE_PASS},
                                   {.id = "D", .spec_ids = "SET-1", .verdict = SUITE_BROKEN,
                                    .reason = "TIMEOUT"}};
  const char *scope[] = {"SET-1", NULL};
  suite_cert_t cert;
  mmc_error_t err = {0};
  assert_int_equal(suite_cert_build(scope, table, ran, 2, "all", "", &cert, &err), 0);
  assert_int_equal(cert.ids[0].status, SUITE_CERT_FAILED);
  assert_non_null(strstr(cert.ids[0].reason, "case D broken: TIMEOUT"));
  suite_cert_free(&cert);
}

static suite_cert_t one(const char *id, suite_cert_status_t st, const char *reason) {
  suite_cert_t c = {.n = 1, .ids = calloc(1, sizeof(suite_cert_id_t))};
  snprintf(c.scope, sizeof c.scope, "all");
  snprintf(c.ids[0].id, sizeof c.ids[0].id, "%s", id);
  c.ids[0].status = st;
  snprintf(c.ids[0].reason, sizeof c.ids[0].reason, "%s", reason);
  snprintf(c.ids[0].kind, sizeof c.ids[0].kind, "%s", st == SUITE_CERT_NOT_SHOWN ? "topology" : "");
  c.shown = st == SUITE_CERT_SHOWN;
  c.failed = st == SUITE_CERT_FAILED;
  c.not_shown = st == SUITE_CERT_NOT_SHOWN;
  return c;
}

static void combine_runs(void **state) {
  (void)state;
  const char *labels[] = {"this machine", "builtin:4"};
  mmc_error_t err = {0};
  suite_cert_t out;
  /* Not shown on one node, shown on the emulated 4: shown. */
  suite_cert_t a[2] = {one("NUMA-9", SUITE_CERT_NOT_SHOWN, "needs 2 nodes"),
                       one("NUMA-9", SUITE_CERT_SHOWN, "")};
  assert_int_equal(suite_cert_combine(a, labels, 2, &out, &err), 0);
  assert_int_equal(out.ids[0].status, SUITE_CERT_SHOWN);
  assert_int_equal(suite_cert_verdict(&out), SUITE_CERTIFIED);
  suite_cert_free(&out);
  /* Shown in one run, failed in the other: failed, naming the run. */
  suite_cert_t b[2] = {one("TPS-1", SUITE_CERT_SHOWN, ""),
                       one("TPS-1", SUITE_CERT_FAILED, "case TPS-1: check 'x' failed")};
  assert_int_equal(suite_cert_combine(b, labels, 2, &out, &err), 0);
  assert_int_equal(out.ids[0].status, SUITE_CERT_FAILED);
  assert_non_null(strstr(out.ids[0].reason, "builtin:4: case TPS-1"));
  suite_cert_free(&out);
  /* Not shown in both: not shown with both reasons. */
  suite_cert_t c[2] = {one("SWAP-1", SUITE_CERT_NOT_SHOWN, "no swap"),
                       one("SWAP-1", SUITE_CERT_NOT_SHOWN, "still no swap")};
  assert_int_equal(suite_cert_combine(c, labels, 2, &out, &err), 0);
  assert_int_equal(out.ids[0].status, SUITE_CERT_NOT_SHOWN);
  assert_non_null(strstr(out.ids[0].reason, "this machine: no swap; builtin:4: still no swap"));
  assert_int_equal(suite_cert_verdict(&out), SUITE_INCOMPLETE);
  suite_cert_free(&out);
  for (int i = 0; i < 2; i++) {
    suite_cert_free(&a[i]);
    suite_cert_free(&b[i]);
    suite_cert_free(&c[i]);
  }
}

static void json_round_trip(void **state) {
  (void)state;
  suite_cert_t c = one("ZIP-1", SUITE_CERT_NOT_SHOWN, "needs MMC_CAP_COMPRESSION");
  json_t *doc = json_pack("{s:o}", "certificate", suite_cert_json(&c));
  suite_cert_t back;
  mmc_error_t err = {0};
  assert_int_equal(suite_cert_from_json(doc, &back, &err), 0);
  assert_int_equal(back.n, 1);
  assert_string_equal(back.ids[0].id, "ZIP-1");
  assert_int_equal(back.ids[0].status, SUITE_CERT_NOT_SHOWN);
  assert_string_equal(back.ids[0].kind, "topology");
  assert_string_equal(back.ids[0].reason, "needs MMC_CAP_COMPRESSION");
  assert_int_equal(back.not_shown, 1);
  /* A status this mmcert does not know is refused, not guessed. */
  json_object_set_new(json_array_get(json_object_get(json_object_get(doc, "certificate"), "ids"), 0),
                      "status", json_string("passed"));
  suite_cert_free(&back);
  assert_int_equal(suite_cert_from_json(doc, &back, &err), MMC_EINVAL);
  assert_non_null(strstr(err.msg, "\"passed\""));
  json_t *empty = json_object();
  assert_int_equal(suite_cert_from_json(empty, &back, &err), MMC_ENOENT);
  json_decref(empty);
  json_decref(doc);
  suite_cert_free(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ids_in_spec_order),   cmocka_unit_test(statuses_and_verdicts),
      cmocka_unit_test(subset_not_selected), cmocka_unit_test(worst_repetition),
      cmocka_unit_test(combine_runs),        cmocka_unit_test(json_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
