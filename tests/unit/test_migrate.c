/*
 * test_migrate.c — the rebalancer and page-migration mechanism of the
 * reference (reference-impl/migrate.c) through the contract, stepped clock:
 * an imbalance forced by declared CPU demand moves one VM exactly at the
 * period boundary (NUMA-4), with its events; its pages then move to the new
 * home at the paced rate (never above migpace_bound since the home change,
 * something within the first tick: MIG-2, MIG-3), contents intact (MIG-1),
 * until none is left; Numa.PageMigEnable=0 keeps the home change and moves
 * nothing (MIG-5); Ref.MigrateUnthrottled moves everything at one tick; a
 * host below Numa.RebalanceCoresTotal counts no period (NUMA-8).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mmc_clock.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "migpace.h"
#include "ref.h"

#include "ref_test.h" /* mmcert_impl: the reference, from libmmref.a */
static const mmc_impl_t *I = &mmcert_impl;

#define MS 1000000ull
#define VM_PAGES 1024u /* 4 MB */
#define NVMS 3u

typedef struct topo {
  mmc_node_t nodes[2];
  uint32_t cpus[2][2];
  mmc_topology_t t;
} topo_t;

static void topo_make(topo_t *tp, uint32_t cores) {
  memset(tp, 0, sizeof *tp);
  for (uint32_t i = 0; i < 2; i++) {
    for (uint32_t c = 0; c < cores; c++)
      tp->cpus[i][c] = i * cores + c;
    tp->nodes[i] = (mmc_node_t){.os_index = i,
                                .memory_bytes = 64ull << 20,
                                .ncpus = cores,
                                .cpus = tp->cpus[i],
                                .ncores = cores};
  }
  tp->t = (mmc_topology_t){.nnodes = 2, .nodes = tp->nodes, .ncores = 2 * cores, .name = "t"};
}

typedef struct rig {
  topo_t tp;
  mmc_host_t *h;
  mmc_vm_id_t vm[NVMS];
  mmc_vcpu_t *v[NVMS];
  uint32_t home[NVMS];
  uint64_t cursor;
} rig_t;

static void fill_page(uint8_t *p, mmc_vm_id_t vm, uint64_t g) {
  for (size_t i = 0; i < MMC_PAGE_SIZE; i += 8) {
    uint64_t w = (uint64_t)vm << 48 ^ g << 16 ^ i;
    memcpy(p + i, &w, 8);
  }
}

static bool page_ok(const uint8_t *p, mmc_vm_id_t vm, uint64_t g) {
  uint8_t want[MMC_PAGE_SIZE];
  fill_page(want, vm, g);
  return memcmp(p, want, MMC_PAGE_SIZE) == 0;
}

/* Three 1-vCPU VMs, every page written; the two sharing a node declare a
 * full core each, the third nothing: that node is 100 % loaded, the other
 * idle. Returns the index of the lone VM. */
static uint32_t rig_up(rig_t *r, const mmc_setting_value_t *s, size_t ns, uint32_t cores) {
  memset(r, 0, sizeof *r);
  topo_make(&r->tp, cores);
  mmc_host_config_t cfg = {
      .topology = &r->tp.t, .clock = MMC_CLOCK_STEPPED, .seed = 7, .settings = s, .nsettings = ns};
  mmc_error_t err = {0};
  if (I->host_create(&cfg, &r->h, &err))
    fail_msg("host_create: %s", err.msg);
  uint32_t per[2] = {0, 0};
  for (uint32_t k = 0; k < NVMS; k++) {
    mmc_vm_config_t c;
    mmc_vm_config_init(&c);
    c.memory_bytes = (uint64_t)VM_PAGES * MMC_PAGE_SIZE;
    assert_int_equal(I->vm_power_on(r->h, &c, &r->vm[k], &err), 0);
    assert_int_equal(I->vcpu_enter(r->h, r->vm[k], 0, &r->v[k], &err), 0);
    mmc_vm_stats_t st;
    assert_int_equal(I->vm_stats(r->h, r->vm[k], &st, &err), 0);
    r->home[k] = st.home_node;
    per[st.home_node]++;
    for (uint64_t g = 0; g < VM_PAGES; g++)
      fill_page(I->page(r->v[k], g, true, &err), r->vm[k], g);
    I->quiesce(r->v[k]);
  }
  uint32_t busy = per[0] == 2 ? 0 : 1, lone = 0;
  assert_int_equal(per[busy], 2);
  for (uint32_t k = 0; k < NVMS; k++) {
    I->vcpu_set_demand(r->v[k], r->home[k] == busy ? 1000 : 0);
    if (r->home[k] != busy)
      lone = k;
  }
  return lone;
}

static void rig_down(rig_t *r) {
  mmc_error_t err = {0};
  for (uint32_t k = 0; k < NVMS; k++) {
    I->vcpu_exit(r->v[k]);
    assert_int_equal(I->vm_power_off(r->h, r->vm[k], &err), 0);
  }
  I->host_destroy(r->h);
}

static uint64_t count_events(rig_t *r, uint32_t type, uint64_t *last_time) {
  mmc_event_t ev[64];
  uint64_t n = 0;
  size_t got;
  while ((got = I->events_read(r->h, &r->cursor, ev, 64)) > 0)
    for (size_t i = 0; i < got; i++)
      if (ev[i].type == type) {
        n++;
        if (last_time)
          *last_time = ev[i].time_ns;
      }
  return n;
}

static mmc_vm_stats_t stats(rig_t *r, uint32_t k) {
  mmc_vm_stats_t st;
  mmc_error_t err = {0};
  assert_int_equal(I->vm_stats(r->h, r->vm[k], &st, &err), 0);
  return st;
}

static void adv(rig_t *r, uint64_t t) {
  mmc_error_t err = {0};
  assert_int_equal(I->advance(r->h, t, &err), 0);
}

/* The VM that moved, or NVMS when none did. */
static uint32_t moved_vm(rig_t *r) {
  uint32_t m = NVMS;
  for (uint32_t k = 0; k < NVMS; k++)
    if (stats(r, k).home_changes) {
      assert_int_equal(m, NVMS); /* one move per period */
      m = k;
    }
  return m;
}

static const uint64_t period = 2000 * MS;

static void home_change_at_the_period(void **state) {
  (void)state;
  rig_t r;
  rig_up(&r, NULL, 0, 2);
  count_events(&r, MMC_EV_HOME_CHANGE, NULL);
  adv(&r, period - 1);
  assert_int_equal(moved_vm(&r), NVMS); /* nothing between periods */
  mmc_host_stats_t hs;
  assert_int_equal(I->host_stats(r.h, &hs, NULL), 0);
  assert_int_equal(hs.rebalance_periods, 0);
  adv(&r, period);
  uint32_t m = moved_vm(&r);
  assert_int_not_equal(m, NVMS);
  assert_int_not_equal(stats(&r, m).home_node, r.home[m]);
  uint64_t t = 0;
  assert_int_equal(count_events(&r, MMC_EV_HOME_CHANGE, &t), 1);
  assert_int_equal(t, period);
  assert_int_equal(I->host_stats(r.h, &hs, NULL), 0);
  assert_int_equal(hs.rebalance_periods, 1);
  /* Balanced now: further periods move nothing. */
  adv(&r, 5 * period);
  assert_int_equal(stats(&r, m).home_changes, 1);
  assert_int_equal(I->host_stats(r.h, &hs, NULL), 0);
  assert_int_equal(hs.rebalance_periods, 5);
  rig_down(&r);
}

/* After the move, tick by tick: pages_migrated within migpace_bound of the
 * time since the home change, > 0 after the first tick, all local in the
 * end with every page's content intact. */
static void pages_follow_at_the_paced_rate(void **state) {
  (void)state;
  rig_t r;
  rig_up(&r, NULL, 0, 2);
  adv(&r, period);
  uint32_t m = moved_vm(&r);
  assert_int_not_equal(m, NVMS);
  uint32_t to = stats(&r, m).home_node;
  migpace_params_t p;
  migpace_params_default(&p, true, 8000, period, 0);
  const uint64_t tick = 100 * MS;
  uint64_t t = period, moved = 0;
  count_events(&r, MMC_EV_MIGRATION_BATCH, NULL);
  for (int i = 1; moved < VM_PAGES && i <= 1200; i++) {
    t += tick;
    adv(&r, t);
    moved = stats(&r, m).pages_migrated;
    assert_true(moved <= migpace_bound(&p, t - period));
    if (i == 1)
      assert_true(moved > 0); /* MIG-2: at once */
  }
  assert_int_equal(moved, VM_PAGES);
  mmc_vm_stats_t st = stats(&r, m);
  assert_int_equal(st.pages_per_node[to], VM_PAGES);
  assert_true(count_events(&r, MMC_EV_MIGRATION_BATCH, NULL) > 0);
  mmc_error_t err = {0};
  for (uint64_t g = 0; g < VM_PAGES; g++)
    assert_true(page_ok(I->page(r.v[m], g, false, &err), r.vm[m], g));
  I->quiesce(r.v[m]);
  rig_down(&r);
}

static void page_mig_disabled_moves_nothing(void **state) {
  (void)state;
  const mmc_setting_value_t s[] = {{"Numa.PageMigEnable", 0}};
  rig_t r;
  rig_up(&r, s, 1, 2);
  adv(&r, 30 * period);
  uint32_t m = moved_vm(&r);
  assert_int_not_equal(m, NVMS); /* the home change still happens */
  assert_int_equal(stats(&r, m).pages_migrated, 0);
  assert_int_equal(stats(&r, m).pages_per_node[r.home[m]], VM_PAGES);
  /* Enabled again: migration resumes. */
  assert_int_equal(I->setting_set(r.h, "Numa.PageMigEnable", 1, NULL), 0);
  adv(&r, 31 * period);
  assert_true(stats(&r, m).pages_migrated > 0);
  rig_down(&r);
}

static void unthrottled_moves_all_at_one_tick(void **state) {
  (void)state;
  const mmc_setting_value_t s[] = {{"Ref.MigrateUnthrottled", 1}};
  rig_t r;
  rig_up(&r, s, 1, 2);
  adv(&r, period + 100 * MS);
  uint32_t m = moved_vm(&r);
  assert_int_not_equal(m, NVMS);
  assert_int_equal(stats(&r, m).pages_migrated, VM_PAGES);
  rig_down(&r);
}

static void small_host_counts_no_period(void **state) {
  (void)state;
  rig_t r;
  rig_up(&r, NULL, 0, 1); /* 2 cores < RebalanceCoresTotal 4 */
  adv(&r, 10 * period);
  mmc_host_stats_t hs;
  assert_int_equal(I->host_stats(r.h, &hs, NULL), 0);
  assert_int_equal(hs.rebalance_periods, 0);
  assert_int_equal(moved_vm(&r), NVMS);
  assert_int_equal(count_events(&r, MMC_EV_REBALANCE, NULL), 0);
  rig_down(&r);
}

/* Live clock: CPU demand is measured, not declared. A and B (node 0) run
 * busy vCPU threads, C (node 1) has its vCPU entered but idle. Declared
 * demand (every vCPU 1000 permille) would leave node 0 at 100 % and node 1
 * at 50 %, where moving a full core only flips the imbalance (no move);
 * measured, node 1 is idle and one of A, B must move there. */
typedef struct spin {
  mmc_host_t *h;
  mmc_vm_id_t vm;
  bool busy;
  _Atomic int *stop;
} spin_t;

static void *spin_vcpu(void *arg) {
  spin_t *s = arg;
  mmc_vcpu_t *v = NULL;
  mmc_error_t err = {0};
  if (I->vcpu_enter(s->h, s->vm, 0, &v, &err))
    return NULL;
  while (!atomic_load(s->stop)) {
    if (s->busy) {
      uint8_t *p = I->page(v, 0, true, &err);
      if (p)
        p[0]++;
      I->quiesce(v);
    } else {
      struct timespec ts = {0, 1000000}; /* idle: blocked, consuming no CPU */
      nanosleep(&ts, NULL);
    }
  }
  I->vcpu_exit(v);
  return NULL;
}

static void live_demand_is_measured(void **state) {
  (void)state;
  topo_t tp;
  topo_make(&tp, 2);
  const mmc_setting_value_t s[] = {{"Numa.RebalancePeriod", 100}};
  mmc_host_config_t cfg = {
      .topology = &tp.t, .clock = MMC_CLOCK_LIVE, .seed = 3, .settings = s, .nsettings = 1};
  mmc_host_t *h = NULL;
  mmc_error_t err = {0};
  assert_int_equal(I->host_create(&cfg, &h, &err), 0);
  mmc_vm_id_t vm[3];
  for (uint32_t k = 0; k < 3; k++) {
    mmc_vm_config_t c;
    mmc_vm_config_init(&c);
    c.memory_bytes = 64 * MMC_PAGE_SIZE;
    c.node_affinity = k < 2 ? 1u : 2u;
    assert_int_equal(I->vm_power_on(h, &c, &vm[k], &err), 0);
    c.node_affinity = 0;
    assert_int_equal(I->vm_reconfigure(h, vm[k], &c, &err), 0);
  }
  _Atomic int stop = 0;
  spin_t sp[3];
  pthread_t th[3];
  for (uint32_t k = 0; k < 3; k++) {
    sp[k] = (spin_t){.h = h, .vm = vm[k], .busy = k < 2, .stop = &stop};
    assert_int_equal(pthread_create(&th[k], NULL, spin_vcpu, &sp[k]), 0);
  }
  uint64_t cursor = 0, moves = 0;
  uint64_t t0 = mmc_mono_ns();
  do {
    mmc_event_t ev[64];
    size_t got = I->events_read(h, &cursor, ev, 64);
    for (size_t i = 0; i < got; i++)
      moves += ev[i].type == MMC_EV_HOME_CHANGE && strcmp(ev[i].reason, "balance") == 0 &&
               ev[i].vm != vm[2] && ev[i].node_to == 1;
    if (!got) {
      struct timespec ts = {0, 5000000}; /* polling the event counter */
      nanosleep(&ts, NULL);
    }
  } while (!moves && mmc_mono_ns() - t0 < 20 * MMC_NS_PER_S);
  atomic_store(&stop, 1);
  for (uint32_t k = 0; k < 3; k++)
    pthread_join(th[k], NULL);
  assert_true(moves >= 1);
  for (uint32_t k = 0; k < 3; k++)
    assert_int_equal(I->vm_power_off(h, vm[k], &err), 0);
  I->host_destroy(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(home_change_at_the_period),
      cmocka_unit_test(pages_follow_at_the_paced_rate),
      cmocka_unit_test(page_mig_disabled_moves_nothing),
      cmocka_unit_test(unthrottled_moves_all_at_one_tick),
      cmocka_unit_test(small_host_counts_no_period),
      cmocka_unit_test(live_demand_is_measured),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
