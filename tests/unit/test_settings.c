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
#include "spec.h"

/* The documented table is doc/spec.md's (compiled in: suite/spec.h), never
 * settings.c's own: the reference is checked against the documentation. */

static void table_self_check(void **state) {
  (void)state;
  char why[256] = "";
  assert_true(ref_settings_table_check(why, sizeof why));
}

static void our_own_settings_say_so(void **state) {
  (void)state;
  for (int i = 0; i < REF_SET_COUNT; i++) {
    const ref_setting_def_t *d = ref_setting_def((ref_setting_id_t)i);
    if (strncmp(d->name, "Ref.", 4) == 0 && !strstr(d->meaning, "(ours)"))
      fail_msg("%s: meaning does not say the setting is ours", d->name);
  }
}

static void every_documented_setting_exists(void **state) {
  (void)state;
  ref_settings_t e, o;
  ref_settings_init(&e, REF_PROFILE_ESXI67);
  ref_settings_init(&o, REF_PROFILE_OSDI02);
  for (const suite_spec_setting_t *t = suite_spec_settings; t->name; t++) {
    ref_setting_id_t id;
    mmc_error_t err = {0};
    if (ref_settings_lookup(t->name, &id, &err) != 0)
      fail_msg("%s (doc/spec.md) is not in the reference's settings table", t->name);
    const ref_setting_def_t *d = ref_setting_def(id);
    assert_string_equal(d->name, t->name);
    assert_int_equal(ref_settings_get(&e, id), t->def);
    assert_int_equal(ref_settings_get(&o, id), t->def_osdi02);
    assert_int_equal(d->min, t->min);
    if (t->max != INT64_MAX)
      assert_int_equal(d->max, t->max);
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
  size_t documented = 0;
  while (suite_spec_settings[documented].name)
    documented++;
  assert_true(n >= documented);
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
      cmocka_unit_test(our_own_settings_say_so),
      cmocka_unit_test(osdi02_profile_differs_only_where_documented),
      cmocka_unit_test(out_of_range_keeps_old_value),
      cmocka_unit_test(unknown_name_is_enoent),
      cmocka_unit_test(info_enumerates_until_enoent),
      cmocka_unit_test(periods_convert_by_unit),
      cmocka_unit_test(profiles_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
