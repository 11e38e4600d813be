/*
 * test_settings.c — the reference settings table (SET-1): documented names,
 * defaults per profile, ranges; range-checked set keeps the old value;
 * unknown names; table self-check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "settings.h"

/* SPEC.md's table, written out independently of settings.c. */
static const struct {
  const char *name;
  int64_t def, min, max;
} spec[] = {
    {"Numa.RebalanceEnable", 1, 0, 1},
    {"Numa.RebalancePeriod", 2000, 100, 60000},
    {"Numa.MigImbalanceThreshold", 10, 1, 200},
    {"Numa.RebalanceCoresTotal", 4, 1, 32},
    {"Numa.RebalanceCoresNode", 2, 1, 8},
    {"Numa.PageMigEnable", 1, 0, 1},
    {"Numa.PageMigRateMax", 8000, 0, 250000},
    {"Numa.MigThreshold", 2, 0, 100},
    {"Numa.MigThrashThreshold", 50, 0, 100},
    {"Numa.LocalityWeightMem", 1, 0, 100},
    {"Numa.SwapInterval", 3, 1, 10000},
    {"Numa.LatencyProbePeriod", 500, 10, 100000},
    {"Mem.ShareScanTime", 60, 10, 600},
    {"Mem.ShareScanGHz", 4, 0, 32},
    {"Mem.ShareRateMax", 1024, 0, 32768},
    {"Mem.ShareForceSalting", 2, 0, 2},
    {"Mem.IdleTax", 75, 0, 99},
    {"Mem.IdleTaxType", 1, 0, 1},
    {"Mem.SamplePeriod", 60, 1, -1}, /* max: ours */
    {"Mem.SampleActivePctMin", 1, 0, 10},
    {"Mem.BalancePeriod", 15, 1, -1}, /* max: ours */
    {"Mem.CtlMaxPercent", 65, 0, 99},
    {"Mem.MemMinFreePct", 0, 0, 50},
    {"Mem.MemZipEnable", 1, 0, 1},
    {"Mem.MemZipMaxPct", 10, 5, 100},
};

static void table_self_check(void **state) {
  (void)state;
  char why[256] = "";
  assert_true(ref_settings_table_check(why, sizeof why));
}

static void every_documented_setting_exists(void **state) {
  (void)state;
  ref_settings_t s;
  ref_settings_init(&s, REF_PROFILE_ESXI67);
  for (size_t i = 0; i < sizeof spec / sizeof spec[0]; i++) {
    ref_setting_id_t id;
    mmc_error_t err = {0};
    assert_int_equal(ref_settings_lookup(spec[i].name, &id, &err), 0);
    const ref_setting_def_t *d = ref_setting_def(id);
    assert_string_equal(d->name, spec[i].name);
    assert_int_equal(ref_settings_get(&s, id), spec[i].def);
    assert_int_equal(d->min, spec[i].min);
    if (spec[i].max >= 0)
      assert_int_equal(d->max, spec[i].max);
    else
      assert_non_null(strstr(d->meaning, "ours"));
  }
}

static void osdi02_profile_differs_only_where_documented(void **state) {
  (void)state;
  ref_settings_t e, o;
  ref_settings_init(&e, REF_PROFILE_ESXI67);
  ref_settings_init(&o, REF_PROFILE_OSDI02);
  for (int i = 0; i < REF_SET_COUNT; i++) {
    if (i == REF_SET_MEM_SAMPLE_PERIOD)
      assert_int_equal(ref_settings_get(&o, i), 30);
    else
      assert_int_equal(ref_settings_get(&o, i), ref_settings_get(&e, i));
  }
  mmc_setting_info_t info;
  assert_int_equal(ref_settings_info(&o, REF_SET_MEM_SAMPLE_PERIOD, &info), 0);
  assert_int_equal(info.default_value, 30);
}

static void out_of_range_keeps_old_value(void **state) {
  (void)state;
  ref_settings_t s;
  ref_settings_init(&s, REF_PROFILE_ESXI67);
  mmc_error_t err = {0};
  assert_int_equal(ref_settings_set(&s, "Numa.RebalancePeriod", 5000, &err), 0);
  assert_int_equal(ref_settings_set(&s, "Numa.RebalancePeriod", 50, &err), MMC_ERANGE);
  assert_int_equal(err.code, MMC_ERANGE);
  assert_string_equal(err.msg, "Numa.RebalancePeriod: 50 is out of range 100..60000 ms");
  assert_int_equal(ref_settings_get(&s, REF_SET_NUMA_REBALANCE_PERIOD), 5000);
  assert_int_equal(ref_settings_set(&s, "Numa.RebalanceEnable", 2, &err), MMC_ERANGE);
  assert_string_equal(err.msg, "Numa.RebalanceEnable: 2 is out of range 0..1");
  assert_int_equal(ref_settings_get(&s, REF_SET_NUMA_REBALANCE_ENABLE), 1);
  /* bounds themselves are accepted */
  assert_int_equal(ref_settings_set(&s, "Numa.RebalancePeriod", 100, &err), 0);
  assert_int_equal(ref_settings_set(&s, "Numa.RebalancePeriod", 60000, &err), 0);
  assert_int_equal(ref_settings_set(&s, "Numa.RebalancePeriod", 60001, &err), MMC_ERANGE);
  assert_int_equal(ref_settings_get(&s, REF_SET_NUMA_REBALANCE_PERIOD), 60000);
}

static void unknown_name_is_enoent(void **state) {
  (void)state;
  ref_settings_t s;
  ref_settings_init(&s, REF_PROFILE_ESXI67);
  mmc_error_t err = {0};
  assert_int_equal(ref_settings_set(&s, "Numa.NoSuchThing", 1, &err), MMC_ENOENT);
  assert_non_null(strstr(err.msg, "Numa.NoSuchThing"));
  assert_int_equal(ref_settings_set(&s, "numa.rebalanceperiod", 1000, &err), MMC_ENOENT);
  assert_int_equal(ref_settings_set(&s, NULL, 1, &err), MMC_ENOENT);
}

static void info_enumerates_until_enoent(void **state) {
  (void)state;
  ref_settings_t s;
  ref_settings_init(&s, REF_PROFILE_ESXI67);
  mmc_setting_info_t info;
  size_t n = 0;
  while (ref_settings_info(&s, n, &info) == 0) {
    assert_non_null(info.name);
    assert_true(info.min <= info.default_value && info.default_value <= info.max);
    n++;
  }
  assert_int_equal(n, REF_SET_COUNT);
  assert_true(n >= sizeof spec / sizeof spec[0]);
}

static void periods_convert_by_unit(void **state) {
  (void)state;
  ref_settings_t s;
  ref_settings_init(&s, REF_PROFILE_ESXI67);
  assert_int_equal(ref_settings_period_ns(&s, REF_SET_NUMA_REBALANCE_PERIOD), 2000000000ull);
  assert_int_equal(ref_settings_period_ns(&s, REF_SET_MEM_SAMPLE_PERIOD), 60000000000ull);
  assert_int_equal(ref_settings_period_ns(&s, REF_SET_MEM_SHARE_SCAN_TIME), 3600000000000ull);
  assert_int_equal(ref_settings_period_ns(&s, REF_SET_MEM_IDLE_TAX), 0);
}

static void profiles_parse(void **state) {
  (void)state;
  ref_profile_t p;
  mmc_error_t err = {0};
  assert_int_equal(ref_profile_parse(NULL, &p, &err), 0);
  assert_int_equal(p, REF_PROFILE_ESXI67);
  assert_int_equal(ref_profile_parse("osdi02", &p, &err), 0);
  assert_int_equal(p, REF_PROFILE_OSDI02);
  assert_int_equal(ref_profile_parse("esx-5", &p, &err), MMC_EINVAL);
  assert_non_null(strstr(err.msg, "esx-5"));
  assert_int_equal(ref_vm_defaults.shares_per_mb_normal, 10);
  assert_int_equal(ref_vm_defaults.vcpu_min, 9);
  assert_int_equal(ref_vm_defaults.max_per_vnode, 8);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(table_self_check),
      cmocka_unit_test(every_documented_setting_exists),
      cmocka_unit_test(osdi02_profile_differs_only_where_documented),
      cmocka_unit_test(out_of_range_keeps_old_value),
      cmocka_unit_test(unknown_name_is_enoent),
      cmocka_unit_test(info_enumerates_until_enoent),
      cmocka_unit_test(periods_convert_by_unit),
      cmocka_unit_test(profiles_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
