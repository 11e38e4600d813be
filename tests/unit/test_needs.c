/*
 * test_needs.c — the runner writes every SKIP reason from a case's needs
 * (suite_needs_unmet in suite/runner.c): missing capabilities by name, real
 * NUMA nodes, node count, memory; and no reason when everything is there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

static bool unmet(const suite_case_t *c, char *reason) {
  return suite_needs_unmet(&fx.run, c, reason, 256);
}

static void all_met(void **state) {
  (void)state;
  char r[256];
  suite_case_t c = {
      .id = "X", .needs_caps = MMC_CAP_PLACEMENT, .needs = SUITE_NEED_STEPPED, .min_nodes = 2};
  assert_false(unmet(&c, r));
  assert_string_equal(r, "");
}

static void missing_caps_by_name(void **state) {
  (void)state;
  char r[256];
  suite_case_t c = {.id = "X", .needs_caps = MMC_CAP_SWAP | MMC_CAP_REBALANCE | MMC_CAP_PLACEMENT};
  assert_true(unmet(&c, r));
  assert_string_equal(r, "needs MMC_CAP_REBALANCE MMC_CAP_SWAP (implementation fake lacks it)");
  suite_case_t live = {.id = "L", .needs = SUITE_NEED_LIVE};
  assert_true(unmet(&live, r));
  assert_non_null(strstr(r, "MMC_CAP_CLOCK_LIVE"));
}

static void real_numa_on_emulated_nodes(void **state) {
  (void)state;
  char r[256];
  suite_case_t c = {.id = "X", .needs = SUITE_NEED_REAL_NUMA};
  assert_true(unmet(&c, r));
  assert_non_null(strstr(r, "needs 2 real NUMA nodes"));
  assert_non_null(strstr(r, "has 0"));
}

static void node_count_and_memory(void **state) {
  (void)state;
  char r[256];
  suite_case_t c = {.id = "X", .min_nodes = 4};
  assert_true(unmet(&c, r));
  assert_non_null(strstr(r, "needs 4 NUMA nodes"));
  assert_non_null(strstr(r, "has 2"));
  suite_case_t m = {.id = "M", .min_memory = 1ull << 50};
  assert_true(unmet(&m, r));
  assert_non_null(strstr(r, "needs 1073741824 MiB of host memory"));
}

static void root(void **state) {
  (void)state;
  char r[256];
  suite_case_t c = {.id = "X", .needs = SUITE_NEED_ROOT};
  assert_int_equal(unmet(&c, r), geteuid() != 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(all_met),
      cmocka_unit_test(missing_caps_by_name),
      cmocka_unit_test(real_numa_on_emulated_nodes),
      cmocka_unit_test(node_count_and_memory),
      cmocka_unit_test(root),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
