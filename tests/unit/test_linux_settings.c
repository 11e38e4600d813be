/*
 * test_linux_settings.c — the Linux implementation's settings table and its
 * pure pieces: every documented setting listed with SPEC.md's default and
 * range whether Linux honours it or not; exactly the four that map onto a
 * kernel mechanism are honoured, the rest answer MMC_ENOTSUP with a reason;
 * the page-out split of pressure.c; the swap header of swap.c (checked
 * against the kernel's struct swap_header layout).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lx.h"
#include "test_util.h"

/* SPEC.md's table, written out independently of settings.c. */
static const struct {
  const char *name;
  int64_t def, osdi, min, max; /* max -1: SPEC.md gives none */
  bool honoured;
} spec[] = {
    {"Numa.RebalanceEnable", 1, 1, 0, 1, true},
    {"Numa.RebalancePeriod", 2000, 2000, 100, 60000, false},
    {"Numa.MigImbalanceThreshold", 10, 10, 1, 200, false},
    {"Numa.RebalanceCoresTotal", 4, 4, 1, 32, false},
    {"Numa.RebalanceCoresNode", 2, 2, 1, 8, false},
    {"Numa.PageMigEnable", 1, 1, 0, 1, false},
    {"Numa.PageMigRateMax", 8000, 8000, 0, 250000, false},
    {"Numa.MigThreshold", 2, 2, 0, 100, false},
    {"Numa.MigThrashThreshold", 50, 50, 0, 100, false},
    {"Numa.LocalityWeightMem", 1, 1, 0, 100, false},
    {"Numa.SwapInterval", 3, 3, 1, 10000, false},
    {"Numa.LatencyProbePeriod", 500, 500, 10, 100000, false},
    {"Mem.ShareScanTime", 60, 60, 10, 600, false},
    {"Mem.ShareScanGHz", 4, 4, 0, 32, true},
    {"Mem.ShareRateMax", 1024, 1024, 0, 32768, false},
    {"Mem.ShareForceSalting", 2, 2, 0, 2, false},
    {"Mem.IdleTax", 75, 75, 0, 99, false},
    {"Mem.IdleTaxType", 1, 1, 0, 1, false},
    {"Mem.SamplePeriod", 60, 30, 1, -1, true},
    {"Mem.SampleActivePctMin", 1, 1, 0, 10, false},
    {"Mem.BalancePeriod", 15, 15, 1, -1, false},
    {"Mem.CtlMaxPercent", 65, 65, 0, 99, false},
    {"Mem.MemMinFreePct", 0, 0, 0, 50, false},
    {"Mem.MemZipEnable", 1, 1, 0, 1, true},
    {"Mem.MemZipMaxPct", 10, 10, 5, 100, false},
};

static void table_self_check(void **state) {
  (void)state;
  char why[256] = "";
  if (!lx_settings_table_check(why, sizeof why))
    fail_msg("%s", why);
}

static void every_documented_setting_is_listed(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof spec / sizeof spec[0]; i++) {
    lx_setting_id_t id;
    mmc_error_t err = {0};
    assert_int_equal(lx_setting_lookup(spec[i].name, &id, &err), 0);
    const lx_setting_def_t *d = lx_setting_def(id);
    assert_int_equal(d->def[LX_PROFILE_ESXI67], spec[i].def);
    assert_int_equal(d->def[LX_PROFILE_OSDI02], spec[i].osdi);
    assert_int_equal(d->min, spec[i].min);
    if (spec[i].max >= 0)
      assert_int_equal(d->max, spec[i].max);
    else
      assert_non_null(strstr(d->meaning, "ours"));
    if ((d->unsupported == NULL) != spec[i].honoured)
      fail_msg("%s: honoured should be %d", spec[i].name, spec[i].honoured);
  }
}

static void unsupported_says_why(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof spec / sizeof spec[0]; i++) {
    if (spec[i].honoured)
      continue;
    lx_setting_id_t id;
    mmc_error_t err = {0};
    assert_int_equal(lx_setting_lookup(spec[i].name, &id, NULL), 0);
    /* even the documented default is refused: the setting changes nothing */
    assert_int_equal(lx_setting_check(id, spec[i].def, &err), MMC_ENOTSUP);
    assert_non_null(strstr(err.msg, spec[i].name));
    assert_non_null(strstr(err.msg, "Linux"));
  }
}

static void range_errors_keep_the_convention(void **state) {
  (void)state;
  mmc_error_t err = {0};
  assert_int_equal(lx_setting_check(LX_SET_MEM_SHARE_SCAN_GHZ, 33, &err), MMC_ERANGE);
  assert_string_equal(err.msg, "Mem.ShareScanGHz: 33 is out of range 0..32 MB/s/GHz");
  assert_int_equal(lx_setting_check(LX_SET_MEM_SHARE_SCAN_GHZ, 32, &err), 0);
  assert_int_equal(lx_setting_check(LX_SET_NUMA_REBALANCE_ENABLE, -1, &err), MMC_ERANGE);
  assert_string_equal(err.msg, "Numa.RebalanceEnable: -1 is out of range 0..1");
  lx_setting_id_t id;
  assert_int_equal(lx_setting_lookup("Mem.NoSuch", &id, &err), MMC_ENOENT);
  assert_non_null(strstr(err.msg, "Mem.NoSuch"));
  assert_int_equal(lx_setting_lookup(NULL, &id, &err), MMC_ENOENT);
}

static void own_settings_are_named_linux(void **state) {
  (void)state;
  for (int i = 0; i < LX_SET_COUNT; i++) {
    const lx_setting_def_t *d = lx_setting_def((lx_setting_id_t)i);
    bool documented = strncmp(d->name, "Linux.", 6) != 0;
    if (!documented)
      assert_null(d->unsupported);
    else
      assert_true(!strncmp(d->name, "Numa.", 5) || !strncmp(d->name, "Mem.", 4));
  }
}

static void profiles(void **state) {
  (void)state;
  lx_profile_t p;
  assert_int_equal(lx_profile_parse(NULL, &p, NULL), 0);
  assert_int_equal(p, LX_PROFILE_ESXI67);
  assert_int_equal(lx_profile_parse("osdi02", &p, NULL), 0);
  assert_int_equal(p, LX_PROFILE_OSDI02);
  mmc_error_t err = {0};
  assert_int_equal(lx_profile_parse("esx", &p, &err), MMC_EINVAL);
  assert_non_null(strstr(err.msg, "esxi-6.7"));
}

/* ---- pressure.c: the excess split in proportion to resident pages */

static void split_in_proportion(void **state) {
  (void)state;
  uint64_t res[3] = {300, 100, 0}, floor[3] = {0, 0, 0}, take[3];
  lx_pressure_split(res, floor, 3, 100, take);
  assert_int_equal(take[0] + take[1] + take[2], 100);
  assert_int_equal(take[0], 75);
  assert_int_equal(take[1], 25);
  assert_int_equal(take[2], 0);
}

static void split_rounding_and_floors(void **state) {
  (void)state;
  uint64_t res[3] = {10, 10, 10}, floor[3] = {0, 0, 0}, take[3];
  lx_pressure_split(res, floor, 3, 10, take);
  assert_int_equal(take[0] + take[1] + take[2], 10);
  for (int i = 0; i < 3; i++)
    assert_true(take[i] >= 3 && take[i] <= 4);
  uint64_t res2[2] = {50, 50}, floor2[2] = {40, 0}, take2[2];
  lx_pressure_split(res2, floor2, 2, 1000, take2); /* more than there is: all above floors */
  assert_int_equal(take2[0], 10);
  assert_int_equal(take2[1], 50);
  lx_pressure_split(res2, floor2, 2, 0, take2);
  assert_int_equal(take2[0] + take2[1], 0);
}

/* ---- swap.c: mkswap's version-1 header */

static void swap_header_layout(void **state) {
  (void)state;
  unsigned char page[MMC_PAGE_SIZE];
  memset(page, 0xff, sizeof page);
  lx_swap_format_header(page, 16384);
  assert_memory_equal(page + MMC_PAGE_SIZE - 10, "SWAPSPACE2", 10);
  uint32_t version, last, bad;
  memcpy(&version, page + 1024, 4);
  memcpy(&last, page + 1028, 4);
  memcpy(&bad, page + 1032, 4);
  assert_int_equal(version, 1);
  assert_int_equal(last, 16383);
  assert_int_equal(bad, 0);
  for (int i = 0; i < 1024; i++) /* boot block zeroed */
    assert_int_equal(page[i], 0);
}

static void swap_dir_on_tmpfs_is_refused(void **state) {
  (void)state;
  char why[256] = "";
  if (lx_swap_dir_ok("/dev/shm", why, sizeof why))
    test_skip("/dev/shm is not tmpfs here, so no refusal to test");
  assert_non_null(strstr(why, "tmpfs"));
  assert_false(lx_swap_dir_ok("/no/such/dir", why, sizeof why));
  assert_non_null(strstr(why, "/no/such/dir"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(table_self_check),
      cmocka_unit_test(every_documented_setting_is_listed),
      cmocka_unit_test(unsupported_says_why),
      cmocka_unit_test(range_errors_keep_the_convention),
      cmocka_unit_test(own_settings_are_named_linux),
      cmocka_unit_test(profiles),
      cmocka_unit_test(split_in_proportion),
      cmocka_unit_test(split_rounding_and_floors),
      cmocka_unit_test(swap_header_layout),
      cmocka_unit_test(swap_dir_on_tmpfs_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
