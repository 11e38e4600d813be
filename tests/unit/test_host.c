/*
 * test_host.c — the reference host through the contract table (mmcert_impl):
 * creation and its errors, settings by name (SET-1), stepped and live clocks
 * with periodic hooks (SET-2), the event ring (seq, MMC_EV_LOST).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sched.h>
#include <string.h>

#include <cmocka.h>

#include "ref.h"

extern const mmc_impl_t mmcert_impl;
static const mmc_impl_t *I = &mmcert_impl;

/* An emulated topology of n nodes, `cores` CPUs each, `mb` MB each. */
typedef struct topo {
  mmc_node_t nodes[MMC_MAX_NODES];
  uint32_t cpus[MMC_MAX_NODES][16];
  uint32_t dist[MMC_MAX_NODES * MMC_MAX_NODES];
  mmc_topology_t t;
} topo_t;

static void topo_make(topo_t *tp, uint32_t n, uint32_t cores, uint64_t mb) {
  memset(tp, 0, sizeof *tp);
  for (uint32_t i = 0; i < n; i++) {
    for (uint32_t c = 0; c < cores; c++)
      tp->cpus[i][c] = i * cores + c;
    tp->nodes[i] = (mmc_node_t){.os_index = i,
                                .memory_bytes = mb << 20,
                                .ncpus = cores,
                                .cpus = tp->cpus[i],
                                .ncores = cores,
                                .real = false};
    for (uint32_t j = 0; j < n; j++)
      tp->dist[i * n + j] = i == j ? 10 : 20 + 10 * (i / 2 != j / 2);
  }
  tp->t = (mmc_topology_t){
      .nnodes = n, .nodes = tp->nodes, .distance = tp->dist, .ncores = n * cores, .name = "test"};
}

static mmc_host_t *make_host(topo_t *tp, mmc_clock_mode_t clock, const mmc_setting_value_t *s,
                             size_t ns) {
  mmc_host_config_t cfg = {
      .topology = &tp->t, .clock = clock, .seed = 1, .settings = s, .nsettings = ns};
  mmc_host_t *h = NULL;
  mmc_error_t err = {0};
  int rc = I->host_create(&cfg, &h, &err);
  if (rc)
    fail_msg("host_create: %s", err.msg);
  return h;
}

static void table_is_sane(void **state) {
  (void)state;
  assert_int_equal(I->abi_version, MMCERT_ABI_VERSION);
  assert_int_equal(I->struct_size, sizeof(mmc_impl_t));
  assert_true(I->capabilities & MMC_CAP_CLOCK_STEPPED);
  assert_false(I->capabilities & MMC_CAP_BALLOON);
}

static void create_applies_settings_in_order(void **state) {
  (void)state;
  topo_t tp;
  topo_make(&tp, 2, 2, 64);
  mmc_setting_value_t s[] = {{"Numa.RebalancePeriod", 500}, {"Numa.RebalancePeriod", 700}};
  mmc_host_t *h = make_host(&tp, MMC_CLOCK_STEPPED, s, 2);
  int64_t v = 0;
  assert_int_equal(I->setting_get(h, "Numa.RebalancePeriod", &v, NULL), 0);
  assert_int_equal(v, 700);
  I->host_destroy(h);
}

static void create_fails_with_the_settings_error(void **state) {
  (void)state;
  topo_t tp;
  topo_make(&tp, 2, 2, 64);
  mmc_setting_value_t s[] = {{"Numa.RebalancePeriod", 500}, {"Numa.RebalancePeriod", 50}};
  mmc_host_config_t cfg = {.topology = &tp.t, .settings = s, .nsettings = 2};
  mmc_host_t *h = NULL;
  mmc_error_t err = {0};
  assert_int_equal(I->host_create(&cfg, &h, &err), MMC_ERANGE);
  assert_null(h);
  assert_string_equal(err.msg, "Numa.RebalancePeriod: 50 is out of range 100..60000 ms");
  s[1].name = "Numa.Bogus";
  assert_int_equal(I->host_create(&cfg, &h, &err), MMC_ENOENT);
  cfg.settings = NULL;
  cfg.profile = "esx-3";
  assert_int_equal(I->host_create(&cfg, &h, &err), MMC_EINVAL);
  assert_non_null(strstr(err.msg, "esx-3"));
  cfg.profile = NULL;
  cfg.topology = NULL;
  assert_int_equal(I->host_create(&cfg, &h, &err), MMC_EINVAL);
  assert_non_null(strstr(err.msg, "topology"));
}

static void settings_through_the_contract(void **state) {
  (void)state;
  topo_t tp;
  topo_make(&tp, 2, 2, 64);
  mmc_host_t *h = make_host(&tp, MMC_CLOCK_STEPPED, NULL, 0);
  mmc_error_t err = {0};
  int64_t v = 0;
  assert_int_equal(I->setting_set(h, "Numa.RebalancePeriod", 50, &err), MMC_ERANGE);
  assert_string_equal(err.msg, "Numa.RebalancePeriod: 50 is out of range 100..60000 ms");
  assert_int_equal(I->setting_get(h, "Numa.RebalancePeriod", &v, &err), 0);
  assert_int_equal(v, 2000);
  assert_int_equal(I->setting_set(h, "Mem.IdleTax", 0, &err), 0);
  assert_int_equal(I->setting_get(h, "Mem.IdleTax", &v, &err), 0);
  assert_int_equal(v, 0);
  assert_int_equal(I->setting_get(h, "Mem.Nope", &v, &err), MMC_ENOENT);
  assert_int_equal(I->setting_set(h, "Mem.Nope", 1, &err), MMC_ENOENT);
  mmc_setting_info_t info;
  size_t n = 0;
  while (I->setting_info(h, n, &info) == 0)
    n++;
  assert_int_equal(n, REF_SET_COUNT);
  I->host_destroy(h);
}

static void osdi02_profile_defaults(void **state) {
  (void)state;
  topo_t tp;
  topo_make(&tp, 1, 2, 64);
  mmc_host_config_t cfg = {.topology = &tp.t, .profile = "osdi02"};
  mmc_host_t *h = NULL;
  assert_int_equal(I->host_create(&cfg, &h, NULL), 0);
  int64_t v = 0;
  assert_int_equal(I->setting_get(h, "Mem.SamplePeriod", &v, NULL), 0);
  assert_int_equal(v, 30);
  I->host_destroy(h);
}

/* A hook counting its runs and recording the times it saw. */
typedef struct hook_log {
  uint64_t runs;
  uint64_t times[64];
} hook_log_t;

static void log_hook(ref_host_t *h, uint64_t now, void *ctx) {
  hook_log_t *l = ctx;
  if (l->runs < 64)
    l->times[l->runs] = now;
  l->runs++;
}

static void stepped_clock_runs_hooks_when_due(void **state) {
  (void)state;
  topo_t tp;
  topo_make(&tp, 2, 2, 64);
  mmc_host_t *h = make_host(&tp, MMC_CLOCK_STEPPED, NULL, 0);
  hook_log_t log = {0};
  ref_hook_t hook = {
      .name = "test", .period = REF_SET_NUMA_REBALANCE_PERIOD, .run = log_hook, .ctx = &log};
  assert_int_equal(ref_host_add_hook(h, &hook, NULL), 0);
  mmc_error_t err = {0};
  assert_int_equal(I->advance(h, 1999999999ull, &err), 0);
  assert_int_equal(log.runs, 0);
  assert_int_equal(I->advance(h, 6500000000ull, &err), 0);
  assert_int_equal(log.runs, 3);
  assert_int_equal(log.times[0], 2000000000ull);
  assert_int_equal(log.times[2], 6000000000ull);
  assert_int_equal(I->now(h), 6500000000ull);
  /* SET-2: the new period counts from the last run */
  assert_int_equal(I->setting_set(h, "Numa.RebalancePeriod", 100, &err), 0);
  assert_int_equal(I->advance(h, 6500000000ull, &err), 0);
  assert_int_equal(log.runs, 8);
  assert_int_equal(log.times[7], 6500000000ull);
  /* time never goes back */
  assert_int_equal(I->advance(h, 1000, &err), MMC_ESTATE);
  assert_non_null(strstr(err.msg, "before the host clock"));
  assert_int_equal(I->now(h), 6500000000ull);
  I->host_destroy(h);
}

static void live_clock_has_no_advance(void **state) {
  (void)state;
  topo_t tp;
  topo_make(&tp, 2, 2, 64);
  mmc_host_t *h = make_host(&tp, MMC_CLOCK_LIVE, NULL, 0);
  mmc_error_t err = {0};
  assert_int_equal(I->advance(h, 1000, &err), MMC_ENOTSUP);
  uint64_t a = I->now(h);
  uint64_t b;
  while ((b = I->now(h)) == a)
    ;
  assert_true(b > a);
  I->host_destroy(h);
}

static void count_hook(ref_host_t *h, uint64_t now, void *ctx) {
  atomic_fetch_add((_Atomic uint64_t *)ctx, 1);
}

static void live_clock_thread_runs_hooks(void **state) {
  (void)state;
  topo_t tp;
  topo_make(&tp, 2, 2, 64);
  mmc_setting_value_t s[] = {{"Numa.RebalancePeriod", 100}};
  mmc_host_t *h = make_host(&tp, MMC_CLOCK_LIVE, s, 1);
  _Atomic uint64_t runs = 0;
  ref_hook_t hook = {
      .name = "test", .period = REF_SET_NUMA_REBALANCE_PERIOD, .run = count_hook, .ctx = &runs};
  assert_int_equal(ref_host_add_hook(h, &hook, NULL), 0);
  uint64_t deadline = I->now(h) + 10000000000ull;
  while (atomic_load(&runs) < 3 && I->now(h) < deadline)
    sched_yield();
  assert_true(atomic_load(&runs) >= 3);
  /* three periods of 100 ms cannot pass in less than 300 ms */
  assert_true(I->now(h) >= 300000000ull);
  I->host_destroy(h);
}

static void events_have_seq_and_report_loss(void **state) {
  (void)state;
  topo_t tp;
  topo_make(&tp, 1, 2, 64);
  mmc_setting_value_t s[] = {{"Ref.EventRingSize", 64}};
  mmc_host_t *h = make_host(&tp, MMC_CLOCK_STEPPED, s, 1);
  for (int i = 0; i < 10; i++)
    ref_event_emit(h, (mmc_event_t){.type = MMC_EV_RECONFIGURE, .count = (uint64_t)i});
  mmc_event_t buf[128];
  uint64_t cur = 0;
  assert_int_equal(I->events_read(h, &cur, buf, 4), 4);
  assert_int_equal(cur, 4);
  for (int i = 0; i < 4; i++)
    assert_int_equal(buf[i].seq, (uint64_t)i);
  assert_int_equal(I->events_read(h, &cur, buf, 128), 6);
  assert_int_equal(buf[5].count, 9);
  assert_int_equal(I->events_read(h, &cur, buf, 128), 0);
  /* overrun: 100 more into a ring of 64 */
  for (int i = 0; i < 100; i++)
    ref_event_emit(h, (mmc_event_t){.type = MMC_EV_RECONFIGURE, .count = (uint64_t)(10 + i)});
  assert_int_equal(I->events_read(h, &cur, buf, 128), 65);
  assert_int_equal(buf[0].type, MMC_EV_LOST);
  assert_int_equal(buf[0].count, 36);
  assert_int_equal(buf[1].seq, 46);
  assert_int_equal(buf[64].seq, 109);
  assert_int_equal(cur, 110);
  I->host_destroy(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(table_is_sane),
      cmocka_unit_test(create_applies_settings_in_order),
      cmocka_unit_test(create_fails_with_the_settings_error),
      cmocka_unit_test(settings_through_the_contract),
      cmocka_unit_test(osdi02_profile_defaults),
      cmocka_unit_test(stepped_clock_runs_hooks_when_due),
      cmocka_unit_test(live_clock_has_no_advance),
      cmocka_unit_test(live_clock_thread_runs_hooks),
      cmocka_unit_test(events_have_seq_and_report_loss),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
