/*
 * test_needs.c — the runner writes every SKIP reason from a case's needs
 * (suite_needs_unmet in suite/runner.c) with its kind: missing capabilities
 * by name (and why_not), the clock form, not applicable (real nodes only),
 * real NUMA nodes, node count, memory; no reason when everything is there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "runner.h"

static const mmc_impl_t fake_impl = {
    .name = "fake", .version = "1", .capabilities = MMC_CAP_CLOCK_STEPPED | MMC_CAP_PLACEMENT};

typedef struct fixture {
  suite_impl_t si;
  suite_run_t run;
} fixture_t;

static fixture_t fx;

static int setup(void **state) {
  mmc_error_t err;
  fx.si = (suite_impl_t){.impl = &fake_impl};
  fx.run = (suite_run_t){.si = &fx.si};
  if (mmt_load("builtin:2", &fx.run.topo, &err) != 0)
    return -1;
  *state = &fx;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  mmt_free(fx.run.topo);
  return 0;
}

static suite_notshown_kind_t unmet(const suite_case_t *c, char *reason) {
  return suite_needs_unmet(&fx.run, c, NULL, NULL, reason, 256);
}

static void all_met(void **state) {
  (void)state;
  char r[256];
  suite_case_t c = {
      .id = "X", .needs_caps = MMC_CAP_PLACEMENT, .clocks = SUITE_CLOCKS_STEPPED, .min_nodes = 2};
  assert_int_equal(unmet(&c, r), SUITE_NOTSHOWN_NONE);
  assert_string_equal(r, "");
}

static void missing_caps_by_name(void **state) {
  (void)state;
  char r[256];
  suite_case_t c = {.id = "X", .needs_caps = MMC_CAP_SWAP | MMC_CAP_REBALANCE | MMC_CAP_PLACEMENT};
  assert_int_equal(unmet(&c, r), SUITE_NOTSHOWN_CAPABILITY);
  assert_string_equal(r, "needs MMC_CAP_REBALANCE MMC_CAP_SWAP (implementation fake lacks it)");
  /* why_not's sentences follow the flags. */
  snprintf(fx.si.why_not[11], sizeof fx.si.why_not[11], "no swap here");
  assert_int_equal(unmet(&c, r), SUITE_NOTSHOWN_CAPABILITY);
  assert_string_equal(
      r, "needs MMC_CAP_REBALANCE MMC_CAP_SWAP (implementation fake lacks it: no swap here)");
  fx.si.why_not[11][0] = '\0';
}

/* The clock form: stepped when both have it, live only when the case has a
 * live form, and --clock forces one or says why it cannot. */
static void clock_forms(void **state) {
  (void)state;
  char r[256];
  mmc_clock_mode_t clk = MMC_CLOCK_LIVE;
  suite_case_t both = {.id = "B"};
  assert_int_equal(suite_needs_unmet(&fx.run, &both, NULL, &clk, r, sizeof r), SUITE_NOTSHOWN_NONE);
  assert_int_equal(clk, MMC_CLOCK_STEPPED);
  suite_case_t live = {.id = "L", .clocks = SUITE_CLOCKS_LIVE};
  assert_int_equal(unmet(&live, r), SUITE_NOTSHOWN_CLOCK);
  assert_non_null(strstr(r, "case L has only a live-clock form; implementation fake runs only a "
                            "stepped clock"));
  fx.run.clock_forced = true;
  fx.run.clock_force = MMC_CLOCK_LIVE;
  assert_int_equal(unmet(&both, r), SUITE_NOTSHOWN_CLOCK);
  assert_non_null(strstr(r, "MMC_CAP_CLOCK_LIVE"));
  suite_case_t stepped = {.id = "S", .clocks = SUITE_CLOCKS_STEPPED};
  assert_int_equal(unmet(&stepped, r), SUITE_NOTSHOWN_CLOCK);
  assert_non_null(strstr(r, "case S has no live form (--clock live)"));
  fx.run.clock_forced = false;
}

/* An implementation that runs only on real nodes is not applicable on an
 * emulated topology, whatever the case. */
static void real_nodes_only(void **state) {
  (void)state;
  char r[512];
  static const mmc_impl_t real_only = {
      .name = "kernel",
      .version = "1",
      .capabilities = MMC_CAP_CLOCK_STEPPED | MMC_CAP_REAL_NODES_ONLY};
  fx.si.impl = &real_only;
  suite_case_t c = {.id = "X"};
  assert_int_equal(suite_needs_unmet(&fx.run, &c, NULL, NULL, r, sizeof r),
                   SUITE_NOTSHOWN_NOT_APPLICABLE);
  assert_non_null(strstr(r, "MMC_CAP_REAL_NODES_ONLY"));
  assert_non_null(strstr(r, "2 emulated nodes"));
  fx.si.impl = &fake_impl;
}

static void real_numa_on_emulated_nodes(void **state) {
  (void)state;
  char r[256];
  suite_case_t c = {.id = "X", .needs = SUITE_NEED_REAL_NUMA};
  assert_int_equal(unmet(&c, r), SUITE_NOTSHOWN_TOPOLOGY);
  assert_non_null(strstr(r, "needs 2 real NUMA nodes"));
  assert_non_null(strstr(r, "has 0"));
}

static void node_count_and_memory(void **state) {
  (void)state;
  char r[256];
  suite_case_t c = {.id = "X", .min_nodes = 4};
  assert_int_equal(unmet(&c, r), SUITE_NOTSHOWN_TOPOLOGY);
  assert_non_null(strstr(r, "needs 4 NUMA nodes"));
  assert_non_null(strstr(r, "has 2"));
  suite_case_t m = {.id = "M", .min_memory = 1ull << 50};
  assert_int_equal(unmet(&m, r), SUITE_NOTSHOWN_TOPOLOGY);
  assert_non_null(strstr(r, "needs 1073741824 MiB of host memory"));
}

static void root(void **state) {
  (void)state;
  char r[256];
  suite_case_t c = {.id = "X", .needs = SUITE_NEED_ROOT};
  assert_int_equal(unmet(&c, r), geteuid() != 0 ? SUITE_NOTSHOWN_MACHINE : SUITE_NOTSHOWN_NONE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(all_met),
      cmocka_unit_test(missing_caps_by_name),
      cmocka_unit_test(clock_forms),
      cmocka_unit_test(real_nodes_only),
      cmocka_unit_test(real_numa_on_emulated_nodes),
      cmocka_unit_test(node_count_and_memory),
      cmocka_unit_test(root),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
