/*
 * test_sharepace.c — the page-sharing scanner's pacing policy
 * (sharepace.h): a VM scanned once per Mem.ShareScanTime, capped by
 * Mem.ShareRateMax, the host's Mem.ShareScanGHz budget cut in proportion
 * and fairly when it binds, no burst after a pause (TPS-3), scanning off
 * for a VM without sharing and with either rate at 0 (TPS-6).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sharepace.h"

#define MS 1000000ull
#define S 1000000000ull

/* ScanTime 1 minute, no VM cap, a host budget far above the VMs'. */
static sharepace_params_t roomy(void) {
  return (sharepace_params_t){
      .scan_time_ms = 60000, .rate_max = SHAREPACE_UNLIMITED, .scan_ghz = 32, .host_mhz = 100000};
}

/* Run every dt over [0, total) and return the VM's pages. */
static uint64_t scanned(const sharepace_params_t *p, sharepace_host_t *host, sharepace_vm_t *vm,
                        uint64_t dt, uint64_t total) {
  sharepace_vm_t *vms[] = {vm};
  uint64_t sum = 0;
  for (uint64_t t = 0; t < total; t += dt) {
    sharepace_run(p, host, vms, 1, dt);
    assert_true(sharepace_is_valid(host, vms, 1));
    sum += vm->quota;
  }
  return sum;
}

static void one_pass_per_scan_time(void **state) {
  (void)state;
  sharepace_params_t p = roomy();
  sharepace_host_t host = {0};
  sharepace_vm_t vm = {.npages = 3600, .enabled = true};
  assert_int_equal(scanned(&p, &host, &vm, S, 60 * S), 3600);
  /* The same with short runs: the carry loses nothing, whatever the tick. */
  sharepace_vm_t vm2 = {.npages = 3600, .enabled = true};
  sharepace_host_t host2 = {0};
  assert_int_equal(scanned(&p, &host2, &vm2, 7 * MS, 60 * S + 7 * MS - 60 * S % (7 * MS)), 3600);
}

static void rate_max_caps_a_large_vm(void **state) {
  (void)state;
  sharepace_params_t p = roomy();
  p.rate_max = 1024; /* Mem.ShareRateMax default */
  sharepace_host_t host = {0};
  sharepace_vm_t vm = {.npages = 1u << 20, .enabled = true}; /* 4 GB: 17476 pages/s by time */
  assert_int_equal(scanned(&p, &host, &vm, 100 * MS, 10 * S), 10240);
}

/* A long gap between runs gives at most one pass, never a saved-up burst. */
static void no_burst_after_a_pause(void **state) {
  (void)state;
  sharepace_params_t p = roomy();
  sharepace_host_t host = {0};
  sharepace_vm_t vm = {.npages = 600, .enabled = true};
  sharepace_vm_t *vms[] = {&vm};
  sharepace_run(&p, &host, vms, 1, 3600 * S);
  assert_int_equal(vm.quota, 600);
  assert_true(sharepace_is_valid(&host, vms, 1));
}

/* Host: 1 GHz x ShareScanGHz 1 = 256 pages/s; three VMs want 300, 600 and
 * 900 pages/s: each gets its proportional floor, the pages left go in
 * turn, and the host's budget is used whole. */
static void host_budget_cut_in_proportion_and_in_turn(void **state) {
  (void)state;
  sharepace_params_t p = {.scan_time_ms = 10000,
                          .rate_max = SHAREPACE_UNLIMITED,
                          .scan_ghz = 1,
                          .host_mhz = sharepace_host_mhz(1000, 1)};
  sharepace_host_t host = {0};
  sharepace_vm_t a = {.npages = 3000, .enabled = true}, b = {.npages = 6000, .enabled = true},
                 c = {.npages = 9000, .enabled = true};
  sharepace_vm_t *vms[] = {&a, &b, &c};
  uint64_t got[3] = {0};
  for (int run = 0; run < 3; run++) {
    sharepace_run(&p, &host, vms, 3, S);
    assert_int_equal(a.quota + b.quota + c.quota, 256);
    assert_int_equal(a.want + b.want + c.want, 1800);
    for (int i = 0; i < 3; i++) {
      uint64_t floor = vms[i]->want * 256 / 1800;
      assert_in_range(vms[i]->quota, floor, floor + 1);
      got[i] += vms[i]->quota;
    }
    assert_true(sharepace_is_valid(&host, vms, 3));
  }
  /* Floors 42, 85 and 128 leave 1 page a run: over three runs each VM had it once. */
  assert_int_equal(got[0], 3 * 42 + 1);
  assert_int_equal(got[1], 3 * 85 + 1);
  assert_int_equal(got[2], 3 * 128 + 1);
}

static void sharing_off(void **state) {
  (void)state;
  assert_false(sharepace_enabled(0, 1024)); /* Mem.ShareScanGHz = 0 */
  assert_false(sharepace_enabled(4, 0));    /* Mem.ShareRateMax = 0 */
  assert_true(sharepace_enabled(4, 1024));
  sharepace_params_t p = roomy();
  sharepace_host_t host = {0};
  sharepace_vm_t off = {.npages = 600, .enabled = false, .credit = 5};
  sharepace_vm_t *vms[] = {&off};
  sharepace_run(&p, &host, vms, 1, 10 * S);
  assert_int_equal(off.quota, 0);
  assert_int_equal(off.credit, 5); /* untouched: nothing earned while off */
}

static void host_clock_defaults(void **state) {
  (void)state;
  assert_int_equal(sharepace_host_mhz(2400, 8), 19200);
  assert_int_equal(sharepace_host_mhz(0, 8), 8 * SHAREPACE_MHZ_UNKNOWN);
  assert_int_equal(sharepace_host_mhz(2400, 0), 2400);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(one_pass_per_scan_time),
      cmocka_unit_test(rate_max_caps_a_large_vm),
      cmocka_unit_test(no_burst_after_a_pause),
      cmocka_unit_test(host_budget_cut_in_proportion_and_in_turn),
      cmocka_unit_test(sharing_off),
      cmocka_unit_test(host_clock_defaults),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
