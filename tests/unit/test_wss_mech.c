/*
 * test_wss_mech.c — the working-set sampling mechanism of the reference host
 * (wss.c "mechanism", WSS-1..3) through the contract and the page map:
 * exactly n pages invalidated per period, periods in VM execution time (a
 * stopped VM does not advance; half demand runs at half rate), first touches
 * counted (resident and never-touched pages), untouched pages restored, the
 * estimate decaying by the slow gain exactly when nothing is touched,
 * sampled pages still movable (remaps keep SAMPLED), power-off frees
 * everything, and execution time from thread CPU clocks in live mode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "mmc_clock.h"

#include "mech.h"
#include "ref.h"
#include "wss.h"

#include "ref_util.h" /* I: the reference, from libmmref.a; rt_* helpers */

#define NS 1000000000ull
#define MS 1000000ull
#define VM_PAGES 2048u /* 8 MB */

typedef struct topo {
  mmc_node_t nodes[2];
  uint32_t cpus[2][2];
  mmc_topology_t t;
} topo_t;

static void topo_make(topo_t *tp, uint32_t n) {
  memset(tp, 0, sizeof *tp);
  for (uint32_t i = 0; i < n; i++) {
    tp->cpus[i][0] = 2 * i, tp->cpus[i][1] = 2 * i + 1;
    tp->nodes[i] = (mmc_node_t){
        .os_index = i, .memory_bytes = 64ull << 20, .ncpus = 2, .cpus = tp->cpus[i], .ncores = 2};
  }
  tp->t = (mmc_topology_t){.nnodes = n, .nodes = tp->nodes, .ncores = 2 * n, .name = "wss"};
}

static mmc_host_t *host(topo_t *tp, mmc_clock_mode_t clock) {
  topo_make(tp, 2);
  /* 1 s periods, 100 ms ticks (the defaults' Ref.WssTick). */
  mmc_setting_value_t s[] = {{"Mem.SamplePeriod", 1}};
  mmc_host_config_t cfg = {
      .topology = &tp->t, .clock = clock, .seed = 7, .settings = s, .nsettings = 1};
  mmc_host_t *h = NULL;
  mmc_error_t err = {0};
  if (I->host_create(&cfg, &h, &err))
    fail_msg("host_create: %s", err.msg);
  return h;
}

static mmc_vm_id_t power_on(mmc_host_t *h, uint32_t vcpus) {
  mmc_vm_config_t c;
  mmc_vm_config_init(&c);
  c.vcpus = vcpus;
  c.memory_bytes = (uint64_t)VM_PAGES * MMC_PAGE_SIZE;
  return rt_power_on(h, &c);
}

static void advance_to(mmc_host_t *h, uint64_t t) {
  mmc_error_t err = {0};
  if (I->advance(h, t, &err))
    fail_msg("advance: %s", err.msg);
}

static uint64_t count_sampled(mmc_host_t *h, mmc_vm_id_t id) {
  ref_vm_t *vm = ref_vm_get(h, id);
  uint64_t n = 0;
  for (uint64_t g = 0; g < vm->npages; g++)
    n += (ref_pmap_get(vm->pmap, g) & REF_PTE_SAMPLED) != 0;
  return n;
}

/* The set-up most tests share: a stepped host on two nodes, one VM of
 * `vcpus` vCPUs, its vCPU `index` entered. rig_down exits the vCPU the
 * test holds then (none: v NULL) and destroys the host. */
typedef struct rig {
  topo_t tp;
  mmc_host_t *h;
  mmc_vm_id_t id;
  mmc_vcpu_t *v;
} rig_t;

static void rig_up(rig_t *r, uint32_t vcpus, uint32_t index) {
  r->h = host(&r->tp, MMC_CLOCK_STEPPED);
  r->id = power_on(r->h, vcpus);
  r->v = NULL;
  assert_int_equal(I->vcpu_enter(r->h, r->id, index, &r->v, NULL), 0);
}

static void rig_down(rig_t *r) {
  if (r->v)
    I->vcpu_exit(r->v);
  I->host_destroy(r->h);
}

/* Touch pages [0, n) (write), then quiesce. */
static void touch(mmc_vcpu_t *v, uint64_t from, uint64_t n) {
  mmc_error_t err = {0};
  for (uint64_t g = from; g < from + n; g++) {
    uint8_t *p = I->page(v, g, true, &err);
    if (!p)
      fail_msg("page %llu: %s", (unsigned long long)g, err.msg);
    p[0] = (uint8_t)(g + 1);
  }
  I->quiesce(v);
}

static void n_per_period_in_execution_time(void **state) {
  (void)state;
  topo_t tp;
  mmc_host_t *h = host(&tp, MMC_CLOCK_STEPPED);
  mmc_vm_id_t id = power_on(h, 1);
  assert_int_equal(rt_vstats(h, id).pages_sampled, 0); /* power-on stays cheap */
  mmc_vcpu_t *v = NULL;
  assert_int_equal(I->vcpu_enter(h, id, 0, &v, NULL), 0);
  advance_to(h, 100 * MS); /* first tick: the first period starts */
  assert_int_equal(rt_vstats(h, id).pages_sampled, WSS_SAMPLE_PAGES_DEFAULT);
  assert_int_equal(count_sampled(h, id), WSS_SAMPLE_PAGES_DEFAULT);
  assert_int_equal(rt_vstats(h, id).exec_ns, 100 * MS);
  /* Running at full demand: one period per second of host time. */
  for (uint64_t k = 1; k <= 5; k++) {
    advance_to(h, 100 * MS + k * NS);
    mmc_vm_stats_t s = rt_vstats(h, id);
    assert_int_equal(s.pages_sampled, (k + 1) * WSS_SAMPLE_PAGES_DEFAULT);
    assert_int_equal(s.exec_ns, 100 * MS + k * NS);
    assert_int_equal(count_sampled(h, id), WSS_SAMPLE_PAGES_DEFAULT); /* old ones restored */
  }
  /* Stopped (exited): neither execution time nor periods advance. */
  I->vcpu_exit(v);
  uint64_t t = 100 * MS + 5 * NS;
  mmc_vm_stats_t before = rt_vstats(h, id);
  advance_to(h, t + 10 * NS);
  mmc_vm_stats_t after = rt_vstats(h, id);
  assert_int_equal(after.exec_ns, before.exec_ns);
  assert_int_equal(after.pages_sampled, before.pages_sampled);
  /* Entered at demand 0: stopped too. Half demand: half rate. */
  assert_int_equal(I->vcpu_enter(h, id, 0, &v, NULL), 0);
  I->vcpu_set_demand(v, 0);
  advance_to(h, t + 20 * NS);
  assert_int_equal(rt_vstats(h, id).exec_ns, before.exec_ns);
  I->vcpu_set_demand(v, 500);
  advance_to(h, t + 22 * NS);
  after = rt_vstats(h, id);
  assert_int_equal(after.exec_ns, before.exec_ns + NS);
  assert_int_equal(after.pages_sampled, before.pages_sampled + WSS_SAMPLE_PAGES_DEFAULT);
  I->vcpu_exit(v);
  I->host_destroy(h);
}

static void two_vcpus_one_running_is_half_rate(void **state) {
  (void)state;
  rig_t r;
  rig_up(&r, 2, 1);
  advance_to(r.h, 4 * NS);
  assert_int_equal(rt_vstats(r.h, r.id).exec_ns, 2 * NS);
  rig_down(&r);
}

static void idle_estimate_decays_by_the_slow_gain(void **state) {
  (void)state;
  rig_t r;
  rig_up(&r, 1, 0);
  assert_int_equal(rt_vstats(r.h, r.id).wss_estimate_pages,
                   VM_PAGES); /* Ref.WssInitialActive 100 % */
  advance_to(r.h, 100 * MS);
  for (int k = 1; k <= 8; k++) {
    advance_to(r.h, 100 * MS + (uint64_t)k * NS);
    double want = fmax(pow(1.0 - WSS_ALPHA_SLOW, k), 0.01) * VM_PAGES;
    assert_int_equal(rt_vstats(r.h, r.id).wss_estimate_pages, (uint64_t)llround(want));
  }
  rig_down(&r);
}

/* Touch a fixed half of the VM every 100 ms: the estimate settles near 0.5. */
static void steady_half_is_measured(void **state) {
  (void)state;
  rig_t r;
  rig_up(&r, 1, 0);
  double err_sum = 0;
  int nerr = 0;
  for (uint64_t t = 100 * MS; t <= 30 * NS; t += 100 * MS) {
    touch(r.v, 0, VM_PAGES / 2);
    advance_to(r.h, t);
    if (t >= 10 * NS) {
      double est = (double)rt_vstats(r.h, r.id).wss_estimate_pages / VM_PAGES;
      err_sum += fabs(est - 0.5);
      nerr++;
      /* 3 standard deviations of one period's measurement (5 points). */
      assert_true(est >= 0.5 - 0.15 && est <= 0.5 + 0.15);
    }
  }
  print_message("# steady f = 0.5: mean |estimate - f| = %.3f over %d reads\n", err_sum / nerr,
                nerr);
  assert_true(err_sum / nerr < 0.08);
  rig_down(&r);
}

/* A sampled never-touched page: its first touch is counted and backs it. */
static void first_touch_of_a_sampled_unbacked_page(void **state) {
  (void)state;
  rig_t r;
  rig_up(&r, 1, 0);
  advance_to(r.h, 100 * MS);
  ref_vm_t *vm = ref_vm_get(r.h, r.id);
  uint64_t g = 0;
  while (!(ref_pmap_get(vm->pmap, g) & REF_PTE_SAMPLED))
    g++;
  assert_int_equal(ref_pte_state(ref_pmap_get(vm->pmap, g)), REF_PTE_UNBACKED);
  touch(r.v, g, 1);
  uint64_t pte = ref_pmap_get(vm->pmap, g);
  assert_int_equal(ref_pte_state(pte), REF_PTE_PRIVATE);
  assert_false(pte & REF_PTE_SAMPLED);
  assert_int_equal(rt_vstats(r.h, r.id).resident_pages, 1);
  /* Counted: at the period's end f = 1/100 (0 if the touch was missed). */
  advance_to(r.h, 100 * MS + NS);
  double f = (double)rt_vstats(r.h, r.id).wss_estimate_pages / VM_PAGES;
  /* fast = 1 + 0.75 (0.01 - 1) = 0.2575; slow = 1 + 0.25 (0.01 - 1) = 0.7525 */
  assert_true(fabs(f - 0.7525) < 1.0 / VM_PAGES);
  rig_down(&r);
}

/* move_range moves sampled pages too (remaps keep SAMPLED), touches are
 * still counted, power-off frees every frame. */
static void sampled_pages_move_and_power_off_frees(void **state) {
  (void)state;
  rig_t r;
  rig_up(&r, 1, 0);
  touch(r.v, 0, VM_PAGES);
  advance_to(r.h, 100 * MS);
  assert_int_equal(count_sampled(r.h, r.id), WSS_SAMPLE_PAGES_DEFAULT);
  uint32_t home = rt_vstats(r.h, r.id).home_node, other = 1 - home;
  uint64_t moved = 0;
  mmc_error_t err = {0};
  I->vcpu_exit(r.v);
  assert_int_equal(I->move_range(r.h, r.id, 0, VM_PAGES, other, &moved, &err), 0);
  assert_int_equal(moved, VM_PAGES);
  assert_int_equal(count_sampled(r.h, r.id), WSS_SAMPLE_PAGES_DEFAULT);
  assert_int_equal(rt_vstats(r.h, r.id).pages_per_node[other], VM_PAGES);
  assert_int_equal(I->vcpu_enter(r.h, r.id, 0, &r.v, NULL), 0);
  touch(r.v, 0, VM_PAGES);
  assert_int_equal(count_sampled(r.h, r.id), 0);
  advance_to(r.h, 100 * MS + NS); /* every sample touched: f = 1 */
  assert_int_equal(rt_vstats(r.h, r.id).wss_estimate_pages, VM_PAGES);
  I->vcpu_exit(r.v);
  assert_int_equal(I->vm_power_off(r.h, r.id, &err), 0);
  for (uint32_t n = 0; n < 2; n++)
    assert_int_equal(ref_pool_used(r.h->pools[n]), 0);
  I->host_destroy(r.h);
}

/* Pages held by reclamation are sampled passively: not invalidated, and
 * counted touched at the period's end when they came back meanwhile. Here
 * every page is BALLOONED (set directly in the page map: no balloon
 * mechanism needed), then the pages of one half come back. */
static void reclaimed_pages_are_sampled_passively(void **state) {
  (void)state;
  topo_t tp;
  mmc_host_t *h = host(&tp, MMC_CLOCK_STEPPED);
  mmc_vm_id_t id = power_on(h, 1);
  ref_vm_t *vm = ref_vm_get(h, id);
  const uint64_t ballooned = ref_pte_make(REF_PTE_BALLOONED, 0, 0);
  for (uint64_t g = 0; g < vm->npages; g++)
    assert_true(ref_pmap_cas(vm->pmap, g, 0, ballooned));
  mmc_vcpu_t *v = NULL;
  assert_int_equal(I->vcpu_enter(h, id, 0, &v, NULL), 0);
  advance_to(h, 100 * MS);
  assert_int_equal(rt_vstats(h, id).pages_sampled, WSS_SAMPLE_PAGES_DEFAULT);
  assert_int_equal(count_sampled(h, id), 0); /* nothing invalidated */
  uint64_t back = 0;
  for (uint64_t g = 0; g < vm->npages / 2; g++)
    assert_true(ref_pmap_cas(vm->pmap, g, ballooned, 0));
  advance_to(h, 100 * MS + NS);
  /* Expected f: the samples drawn in the lower half came back. Redo the
   * draw with the mechanism's seeding (host seed 7, VM id). */
  uint64_t x = 7 ^ ((uint64_t)id << 32);
  ref_rng_t rng;
  ref_rng_seed(&rng, ref_splitmix64(&x));
  uint64_t plan[WSS_SAMPLE_PAGES_DEFAULT];
  uint32_t k = wss_plan(&rng, vm->npages, WSS_SAMPLE_PAGES_DEFAULT, plan);
  for (uint32_t i = 0; i < k; i++)
    back += plan[i] < vm->npages / 2;
  double f = (double)back / k;
  double want = fmax(1.0 + WSS_ALPHA_SLOW * (f - 1.0), 1.0 + WSS_ALPHA_FAST * (f - 1.0));
  assert_int_equal(rt_vstats(h, id).wss_estimate_pages, (uint64_t)llround(want * VM_PAGES));
  assert_true(back > 20 && back < 80);
  I->vcpu_exit(v);
  for (uint64_t g = vm->npages / 2; g < vm->npages; g++) /* nothing to free there */
    assert_true(ref_pmap_cas(vm->pmap, g, ballooned, 0));
  I->host_destroy(h);
}

/* Same seed, same samples. */
static void deterministic_with_the_seed(void **state) {
  (void)state;
  uint64_t first[2][WSS_SAMPLE_PAGES_DEFAULT];
  for (int run = 0; run < 2; run++) {
    rig_t r;
    rig_up(&r, 1, 0);
    advance_to(r.h, 100 * MS);
    ref_vm_t *vm = ref_vm_get(r.h, r.id);
    uint32_t k = 0;
    for (uint64_t g = 0; g < vm->npages; g++)
      if (ref_pmap_get(vm->pmap, g) & REF_PTE_SAMPLED)
        first[run][k++] = g;
    assert_int_equal(k, WSS_SAMPLE_PAGES_DEFAULT);
    rig_down(&r);
  }
  assert_memory_equal(first[0], first[1], sizeof first[0]);
}

/* Live clock: execution time is the vCPU thread's CPU time. */
typedef struct live_arg {
  mmc_host_t *h;
  mmc_vm_id_t id;
  int rc;
} live_arg_t;

static void *live_vcpu(void *p) {
  live_arg_t *a = p;
  mmc_vcpu_t *v = NULL;
  if ((a->rc = I->vcpu_enter(a->h, a->id, 0, &v, NULL)))
    return NULL;
  uint64_t t0 = mmc_mono_ns();
  /* Busy until the host counted 300 ms of execution, or 20 s passed. */
  for (;;) {
    touch(v, 0, 64);
    mmc_vm_stats_t s = rt_vstats(a->h, a->id);
    if (s.exec_ns >= 300 * MS || mmc_mono_ns() - t0 > 20 * NS)
      break;
  }
  I->vcpu_exit(v);
  return NULL;
}

static uint64_t hook_runs(mmc_host_t *h) {
  ref_host_lock(h);
  uint64_t n = h->hook_runs;
  ref_host_unlock(h);
  return n;
}

static void live_exec_is_thread_cpu_time(void **state) {
  (void)state;
  topo_t tp;
  mmc_host_t *h = host(&tp, MMC_CLOCK_LIVE);
  live_arg_t a = {.h = h, .id = power_on(h, 1)};
  uint64_t t0 = mmc_mono_ns();
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, live_vcpu, &a), 0);
  pthread_join(th, NULL);
  uint64_t wall = mmc_mono_ns() - t0;
  assert_int_equal(a.rc, 0);
  /* The stretch from the last accounting to the exit is accounted at the
   * hook's next run (live_exit_accounts_the_last_stretch). */
  uint64_t ticks = hook_runs(h);
  while (hook_runs(h) < ticks + 2)
    sched_yield();
  mmc_vm_stats_t s = rt_vstats(h, a.id);
  assert_true(s.exec_ns >= 300 * MS);
  assert_true(s.exec_ns <= wall);
  assert_true(s.pages_sampled >= WSS_SAMPLE_PAGES_DEFAULT);
  /* The thread is gone: execution time stops. */
  uint64_t e = s.exec_ns;
  ticks = hook_runs(h);
  while (hook_runs(h) < ticks + 3)
    sched_yield();
  assert_int_equal(rt_vstats(h, a.id).exec_ns, e);
  I->host_destroy(h);
}

/* A vCPU that executes while the host's hooks cannot run (the test holds
 * the host lock: a starved clock thread) and exits: that execution time
 * is accounted at the next run, not lost with the thread (WSS-1). */
typedef struct stretch_arg {
  mmc_host_t *h;
  mmc_vm_id_t id;
  int rc;
  _Atomic int phase; /* 1: entered and accounted; 2: the host is locked; 3: exited */
} stretch_arg_t;

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return mmc_timespec_ns(&ts);
}

static void *stretch_vcpu(void *p) {
  stretch_arg_t *a = p;
  mmc_vcpu_t *v = NULL;
  if ((a->rc = I->vcpu_enter(a->h, a->id, 0, &v, NULL))) {
    atomic_store(&a->phase, 3);
    return NULL;
  }
  uint64_t t0 = mmc_mono_ns();
  while (rt_vstats(a->h, a->id).exec_ns < 50 * MS && mmc_mono_ns() - t0 < 20 * NS)
    touch(v, 0, 64);
  atomic_store(&a->phase, 1);
  while (atomic_load(&a->phase) != 2)
    touch(v, 0, 64);
  for (uint64_t c0 = thread_cpu_ns(); thread_cpu_ns() - c0 < 100 * MS;)
    touch(v, 0, 64); /* page() never takes the host lock (ref.h) */
  I->vcpu_exit(v);
  atomic_store(&a->phase, 3);
  return NULL;
}

static void live_exit_accounts_the_last_stretch(void **state) {
  (void)state;
  topo_t tp;
  mmc_host_t *h = host(&tp, MMC_CLOCK_LIVE);
  stretch_arg_t a = {.h = h, .id = power_on(h, 1)};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, stretch_vcpu, &a), 0);
  while (atomic_load(&a.phase) == 0)
    sched_yield();
  uint64_t before = rt_vstats(h, a.id).exec_ns;
  ref_host_lock(h);
  atomic_store(&a.phase, 2);
  while (atomic_load(&a.phase) != 3)
    sched_yield();
  ref_host_unlock(h);
  pthread_join(th, NULL);
  assert_int_equal(a.rc, 0);
  uint64_t ticks = hook_runs(h);
  while (hook_runs(h) < ticks + 2)
    sched_yield();
  assert_true(rt_vstats(h, a.id).exec_ns >= before + 100 * MS);
  I->host_destroy(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(n_per_period_in_execution_time),
      cmocka_unit_test(two_vcpus_one_running_is_half_rate),
      cmocka_unit_test(idle_estimate_decays_by_the_slow_gain),
      cmocka_unit_test(steady_half_is_measured),
      cmocka_unit_test(first_touch_of_a_sampled_unbacked_page),
      cmocka_unit_test(sampled_pages_move_and_power_off_frees),
      cmocka_unit_test(reclaimed_pages_are_sampled_passively),
      cmocka_unit_test(deterministic_with_the_seed),
      cmocka_unit_test(live_exec_is_thread_cpu_time),
      cmocka_unit_test(live_exit_accounts_the_last_stretch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
