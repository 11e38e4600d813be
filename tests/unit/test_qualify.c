/*
 * test_qualify.c — the measurements behind `mmcert qualify`
 * (suite/qualify_measure.c): Spearman's rank correlation (perfect, reversed,
 * ties, undefined), node-bound buffers really on their node, bandwidth
 * giving positive finite figures and refusing a CPU-less source, move_pages
 * accounting, the virtual-machine verdict agreeing with /proc/cpuinfo, and
 * the LLC size agreeing with sysfs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>
#include <sys/mman.h>
#include <unistd.h>

#include "qualify.h"
#include "test_util.h"

static void test_spearman(void **state) {
  (void)state;
  const double x[] = {10, 21, 31, 31, 21, 10};
  const double up[] = {100, 150, 200, 210, 160, 90};
  const double down[] = {300, 200, 100, 90, 210, 310};
  assert_true(fabs(suite_qm_spearman(x, x, 6) - 1.0) < 1e-12);
  /* Monotone in x but ties broken differently: still near 1. */
  assert_true(suite_qm_spearman(x, up, 6) > 0.9);
  assert_true(suite_qm_spearman(x, down, 6) < -0.9);
  const double flat[] = {5, 5, 5, 5, 5, 5};
  assert_true(isnan(suite_qm_spearman(x, flat, 6)));
  assert_true(isnan(suite_qm_spearman(x, up, 1)));
  /* Ties share the average rank: [1,1,2] vs [1,2,3] gives rho = sqrt(3)/2. */
  const double a[] = {1, 1, 2}, b[] = {1, 2, 3};
  assert_true(fabs(suite_qm_spearman(a, b, 3) - sqrt(3.0) / 2.0) < 1e-12);
}

static mmt_topology_t *this_machine(void) {
  mmt_topology_t *t = NULL;
  mmc_error_t err = {0};
  assert_int_equal(mmt_load(NULL, &t, &err), 0);
  return t;
}

static void test_bind_and_migrate(void **state) {
  (void)state;
  mmt_topology_t *t = this_machine();
  uint32_t node = t->desc.nodes[0].os_index;
  size_t bytes = 4u << 20;
  void *buf = NULL;
  mmc_error_t err = {0};
  int rc = mmt_bind_buffer(&buf, bytes, node, &err);
  if (rc == MMC_ENOTSUP) { /* a kernel or sandbox without NUMA policy */
    mmt_free(t);
    test_skip("no NUMA memory policy here: %s", err.msg);
  }
  assert_int_equal(rc, 0);
  assert_int_equal(((unsigned char *)buf)[bytes - 1], 1); /* touched */
  munmap(buf, bytes);
  assert_int_equal(mmt_bind_buffer(&buf, bytes, MMC_MAX_NODES, &err), MMC_ENOTSUP);
  /* To the node the pages are already on: every page ends up there. */
  suite_qm_migration_t m;
  assert_int_equal(suite_qm_migrate(node, node, bytes, &m, &err), 0);
  assert_int_equal(m.pages, bytes / (size_t)sysconf(_SC_PAGESIZE));
  assert_int_equal(m.moved, m.pages);
  assert_true(m.calls >= 1 && m.calls <= SUITE_QM_MOVE_TRIES);
  assert_true(m.seconds > 0);
  mmt_free(t);
}

static void test_bandwidth(void **state) {
  (void)state;
  mmt_topology_t *t = this_machine();
  const mmc_node_t *n0 = &t->desc.nodes[0];
  double copy = -1, triad = -1;
  mmc_error_t err = {0};
  int rc = suite_qm_bandwidth(n0, n0, 8u << 20, 2, &copy, &triad, &err);
  if (rc == MMC_ENOTSUP) {
    mmt_free(t);
    test_skip("no bandwidth measurement here: %s", err.msg);
  }
  assert_int_equal(rc, 0);
  print_message("# copy %.2f GB/s, triad %.2f GB/s\n", copy, triad);
  assert_true(copy > 0 && isfinite(copy));
  assert_true(triad > 0 && isfinite(triad));
  mmc_node_t cpuless = *n0;
  cpuless.ncpus = 0;
  assert_int_equal(suite_qm_bandwidth(&cpuless, n0, 8u << 20, 1, &copy, &triad, &err), MMC_EINVAL);
  assert_true(copy == 0 && triad == 0); /* nothing measured reads as nothing, not stale */
  mmt_free(t);
}

static bool cpuinfo_has_hypervisor_flag(void) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[4096];
  bool yes = false;
  while (f && !yes && fgets(line, sizeof line, f))
    yes = !strncmp(line, "flags", 5) && strstr(line, " hypervisor");
  if (f)
    fclose(f);
  return yes;
}

static void test_virt_and_llc(void **state) {
  (void)state;
  suite_qm_virt_t v;
  suite_qm_detect_virt(&v);
  print_message("# virtual=%d hv='%s' evidence: %s\n", v.is_virtual, v.hypervisor, v.evidence);
  if (cpuinfo_has_hypervisor_flag()) {
    assert_true(v.is_virtual);
    assert_non_null(strstr(v.evidence, "CPUID hypervisor bit"));
  }
  size_t llc = suite_qm_llc_bytes();
  if (access("/sys/devices/system/cpu/cpu0/cache/index0/size", R_OK) == 0)
    assert_true(llc >= 4096);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spearman),
      cmocka_unit_test(test_bind_and_migrate),
      cmocka_unit_test(test_bandwidth),
      cmocka_unit_test(test_virt_and_llc),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
