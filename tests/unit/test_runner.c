/*
 * test_runner.c — the runner end to end on a table of test cases, one per
 * way a case can end: pass, a failed check, a crash (abort), a hang (killed
 * at its timeout), skipped from its needs, sc_skip, sc_broken, no checks,
 * and a host left alive (the runner destroys it). Against the reference
 * implementation linked in (libmmref.a). Checks the verdicts, that the run
 * goes on after the crash and the hang, that what a case reported before
 * dying is kept, the exit status, and the TAP against
 * tests/golden/runner.tap (MMCERT_REGEN_GOLDEN=1 rewrites it; the mmcert
 * and implementation versions are replaced by @VERSION@ and @IMPL_VERSION@).
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

#include "certificate.h"
#include "runner.h"

#define GOLDEN MMCERT_SOURCE_DIR "/tests/golden/runner.tap"

#include "suite_run_util.h" /* the reference (libmmref.a) run in memory */

static void t_pass(suite_ctx_t *c) {
  sc_check(c, true, "first", "never shown");
  sc_diag(c, "a note");
  sc_metric(c, "latency", "ns", "lower", 12.5);
  sc_check_range(c, "in range", 1, 2, 1.5);
}
static void t_fail(suite_ctx_t *c) {
  sc_check(c, true, "fine", NULL);
  sc_check_int(c, "answer", 42, 41);
}
static void t_crash(suite_ctx_t *c) {
  sc_check(c, true, "before the crash", NULL);
  abort();
}
static void t_hang(suite_ctx_t *c) {
  sc_check(c, true, "before the hang", NULL);
  for (;;)
    pause();
}
static void t_skip(suite_ctx_t *c) {
  sc_skip(c, "not applicable: %s", "reason given by the case");
}
static void t_broken(suite_ctx_t *c) {
  sc_broken(c, "setup failed: %d", 7);
}
static void t_nochecks(suite_ctx_t *c) {
  (void)c;
}
static void t_host(suite_ctx_t *c) {
  mmc_host_t *h = sc_host(c, NULL, MMC_CLOCK_STEPPED, NULL, 0);
  int64_t v = 0;
  int rc = sc_impl(c)->setting_get(h, "Numa.RebalancePeriod", &v, NULL);
  sc_check(c, rc == 0 && v == 1000, "the run's --set reached the host", "rc %d, value %lld", rc,
           (long long)v);
}
/* Checks pass but a part could not be judged: not shown, never a pass. */
static void t_unprobed(suite_ctx_t *c) {
  sc_check(c, true, "what could be probed", NULL);
  sc_not_shown(c, "no independent probe for %s here", "the rest");
  sc_check(c, true, "more that could", NULL);
}
/* Only a live form: the runner picks live, the case sees it. */
static void t_live(suite_ctx_t *c) {
  sc_check(c, sc_clock(c) == MMC_CLOCK_LIVE, "runs in its live form", NULL);
}
static void t_never(suite_ctx_t *c) {
  sc_check(c, false, "must not run: skipped from its needs", NULL);
}

static const suite_case_t cases[] = {
    {.id = "T-PASS", .spec_ids = "X-1", .title = "passes", .timeout_s = 10, .run = t_pass},
    {.id = "T-FAIL", .spec_ids = "X-2", .title = "fails", .timeout_s = 10, .run = t_fail},
    {.id = "T-CRASH", .spec_ids = "X-3", .title = "crashes", .timeout_s = 10, .run = t_crash},
    {.id = "T-HANG", .spec_ids = "X-4", .title = "hangs", .timeout_s = 1, .run = t_hang},
    {.id = "T-NEEDS",
     .spec_ids = "X-5",
     .title = "needs real NUMA",
     .needs = SUITE_NEED_REAL_NUMA,
     .timeout_s = 10,
     .run = t_never},
    {.id = "T-SKIP", .spec_ids = "X-6", .title = "skips", .timeout_s = 10, .run = t_skip},
    {.id = "T-BROKEN", .spec_ids = "X-7", .title = "breaks", .timeout_s = 10, .run = t_broken},
    {.id = "T-NONE",
     .spec_ids = "X-8",
     .title = "checks nothing",
     .timeout_s = 10,
     .run = t_nochecks},
    {.id = "T-HOST", .spec_ids = "X-9", .title = "makes a host", .timeout_s = 10, .run = t_host},
    {.id = "T-UNPROBED",
     .spec_ids = "X-10",
     .title = "cannot judge a part",
     .timeout_s = 10,
     .run = t_unprobed},
    {.id = "T-LIVE",
     .spec_ids = "X-11 X-1",
     .title = "has a live form only",
     .clocks = SUITE_CLOCKS_LIVE,
     .timeout_s = 10,
     .run = t_live},
    {.id = "T-STEPPED",
     .spec_ids = "X-12",
     .title = "has a stepped form only",
     .clocks = SUITE_CLOCKS_STEPPED,
     .timeout_s = 10,
     .run = t_pass},
    {0},
};

/* Replace every `what` in s by `with` (s is heap-allocated; returns it). */
static char *replace_all(char *s, const char *what, const char *with) {
  size_t wl = strlen(what), nl = strlen(with);
  for (char *p = strstr(s, what); p; p = strstr(p + nl, what)) {
    size_t off = (size_t)(p - s), len = strlen(s);
    char *n = malloc(len - wl + nl + 1);
    memcpy(n, s, off);
    memcpy(n + off, with, nl);
    strcpy(n + off + nl, s + off + wl);
    free(s);
    s = n;
    p = s + off;
  }
  return s;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return NULL;
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  for (int ch; (ch = fgetc(f)) != EOF;)
    fputc(ch, m);
  fclose(f);
  fclose(m);
  return buf;
}

static void every_ending(void **state) {
  (void)state;
  mmc_setting_value_t set = {.name = "Numa.RebalancePeriod", .value = 1000};
  test_run_t r;
  test_run_init(&r, cases);
  r.run.mode = SUITE_MODE_QUICK;
  r.run.seed = 99;
  r.run.timeout_scale = 0.2;
  r.run.sets = &set;
  r.run.nsets = 1;
  assert_int_equal(test_run_go(&r), SUITE_EXIT_FAIL);
  assert_int_equal(r.run.nresults, 12);
  static const suite_verdict_t want[] = {SUITE_PASS, SUITE_FAIL, SUITE_BROKEN, SUITE_BROKEN,
                                         SUITE_SKIP, SUITE_SKIP, SUITE_BROKEN, SUITE_BROKEN,
                                         SUITE_PASS, SUITE_SKIP, SUITE_PASS,   SUITE_PASS};
  static const suite_notshown_kind_t kinds[sizeof want / sizeof want[0]] = {
      [4] = SUITE_NOTSHOWN_TOPOLOGY, [5] = SUITE_NOTSHOWN_UNPROBED, [9] = SUITE_NOTSHOWN_UNPROBED};
  for (size_t i = 0; i < r.run.nresults; i++) {
    assert_int_equal(r.run.results[i].verdict, want[i]);
    assert_int_equal(r.run.results[i].notshown_kind, kinds[i]);
  }
  assert_true(r.run.results[3].timed_out);
  assert_int_equal(r.run.results[10].clock, MMC_CLOCK_LIVE);
  assert_int_equal(r.run.totals[SUITE_PASS], 4);
  assert_int_equal(r.run.totals[SUITE_FAIL], 1);
  assert_int_equal(r.run.totals[SUITE_SKIP], 3);
  assert_int_equal(r.run.totals[SUITE_BROKEN], 4);
  /* Every id has its status (X-1 judged by T-PASS and T-LIVE, both passed). */
  assert_non_null(r.run.cert);
  assert_int_equal(r.run.cert->n, 12);
  assert_int_equal(r.run.cert->failed, 5);
  assert_int_equal(suite_cert_verdict(r.run.cert), SUITE_NOT_CERTIFIED);
  /* The settings were read once, in the preflight child, with --set applied. */
  assert_true(r.run.nsettings > 0);
  assert_non_null(strstr(r.errs, "T-HANG"));
  char impl_version[128];
  snprintf(impl_version, sizeof impl_version, " %s (ABI", mmcert_impl.version);
  r.out = replace_all(r.out, impl_version, " @IMPL_VERSION@ (ABI");
  r.out = replace_all(r.out, MMCERT_VERSION, "@VERSION@");
  const char *regen = getenv("MMCERT_REGEN_GOLDEN"), *regen2 = getenv("MMCERT_REGENERATE");
  if ((regen && !strcmp(regen, "1")) || (regen2 && !strcmp(regen2, "1"))) {
    FILE *g = fopen(GOLDEN, "w");
    assert_non_null(g);
    fputs(r.out, g);
    assert_int_equal(fclose(g), 0);
  }
  char *golden = slurp(GOLDEN);
  assert_non_null(golden);
  assert_string_equal(r.out, golden);
  free(golden);
  test_run_free(&r);
}

/* A --set the implementation refuses is a usage error before any TAP. */
/* A part not shown for want of what the machine gives: the case's kind is
 * that part's (the first), and the later unprobed part's reason joins it. */
static void t_machine_part(suite_ctx_t *c) {
  sc_check(c, true, "what could be judged", NULL);
  sc_not_shown_kind(c, SUITE_NOTSHOWN_MACHINE, "the machine gave the busy threads %d %%", 40);
  sc_not_shown(c, "no independent probe for %s here", "the rest");
}

static void part_not_shown_keeps_its_kind(void **state) {
  (void)state;
  static const suite_case_t one[] = {{.id = "T-MACHINE-PART",
                                      .spec_ids = "X-1",
                                      .title = "a part the machine cannot give",
                                      .timeout_s = 10,
                                      .run = t_machine_part},
                                     {0}};
  test_run_t r;
  test_run_init(&r, one);
  assert_int_equal(test_run_go(&r), SUITE_EXIT_INCOMPLETE);
  assert_int_equal(r.run.nresults, 1);
  const suite_result_t *res = &r.run.results[0];
  assert_int_equal(res->verdict, SUITE_SKIP);
  assert_int_equal(res->notshown_kind, SUITE_NOTSHOWN_MACHINE);
  assert_non_null(strstr(res->reason, "the machine gave the busy threads 40 %"));
  assert_non_null(strstr(res->reason, "no independent probe for the rest here"));
  assert_non_null(strstr(r.out, "[machine]"));
  test_run_free(&r);
}

static void refused_set_is_usage_error(void **state) {
  (void)state;
  mmc_setting_value_t set = {.name = "Numa.RebalancePeriod", .value = 99};
  test_run_t r;
  test_run_init(&r, cases);
  r.run.topology_spec = NULL;
  r.run.sets = &set;
  r.run.nsets = 1;
  assert_int_equal(test_run_go(&r), SUITE_EXIT_USAGE);
  assert_int_equal(r.outlen, 0);
  assert_non_null(strstr(r.errs, "Numa.RebalancePeriod=99"));
  assert_non_null(strstr(r.errs, "100"));
  assert_non_null(strstr(r.errs, "60000"));
  test_run_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_ending),
      cmocka_unit_test(part_not_shown_keeps_its_kind),
      cmocka_unit_test(refused_set_is_usage_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
