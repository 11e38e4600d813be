/*
 * test_memstate_mech.c — the mechanism section of memstate.c through the
 * contract: host_stats mem_state/min_free_pages, states moving with free
 * frames (MMC_EV_STATE_CHANGE, each transition once), the low-state gate
 * (stepped: the access fails at once with MMC_ENOMEM; live: a blocked vCPU
 * resumes when memory comes back, and gives up after Ref.LowBlockTimeout).
 * Reclamation is turned down (no balloon, no compression, 1 page/s of
 * swap) so free memory follows the touches.
 *
 * Sizes: one 64 MB node (16384 frames): minFree 983; floors high 3932,
 * clear 983, soft 630, hard 158 (16 %); targets share 12058 pages.
 */
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "mmc_clock.h"
#include "memstate.h"
#include "ref_util.h"

#define HOST_MB 64
#define NPAGES 16384u

static const mmc_setting_value_t quiet[] = {
    {"Mem.CtlMaxPercent", 0}, {"Mem.MemZipEnable", 0}, {"Ref.SwapRate", 1}};

/* Touch pages [from, from+n) of vm; returns pages touched before an error. */
static uint64_t touch(mmc_host_t *h, mmc_vm_id_t vm, uint64_t from, uint64_t n, mmc_error_t *err) {
  mmc_vcpu_t *v;
  assert_int_equal(I->vcpu_enter(h, vm, 0, &v, NULL), 0);
  uint64_t k = 0;
  for (; k < n; k++) {
    uint8_t *p = I->page(v, from + k, true, err);
    if (!p)
      break;
    p[0] = 1;
    I->quiesce(v);
  }
  I->vcpu_exit(v);
  return k;
}

/* Touch until the host's free frames are `free_target` (stepped), tick. */
static void fill_to(mmc_host_t *h, mmc_vm_id_t vm, uint64_t *next, uint64_t free_target) {
  uint64_t free_now = rt_hstats(h).node_free_pages[0];
  mmc_error_t err = {0};
  if (free_now > free_target) {
    uint64_t n = free_now - free_target;
    assert_int_equal(touch(h, vm, *next, n, &err), n);
    *next += n;
  }
  rt_ticks(h, 1);
}

static void states_follow_free_memory(void **state) {
  rt_topo_t tp;
  rt_topo(&tp, HOST_MB);
  mmc_host_t *h = rt_host(&tp, MMC_CLOCK_STEPPED, NULL, quiet, 3);
  mmc_host_stats_t hs = rt_hstats(h);
  assert_int_equal(hs.min_free_pages, memstate_min_free_auto(NPAGES));
  assert_int_equal(hs.min_free_pages, 983);
  assert_int_equal(hs.mem_state, MMC_STATE_HIGH);
  mmc_vm_id_t big = rt_vm(h, 128, false), small = rt_vm(h, 32, false);
  uint64_t nb = 0, ns = 0, cur = 0;
  fill_to(h, big, &nb, 3932);
  assert_int_equal(rt_hstats(h).mem_state, MMC_STATE_HIGH);
  fill_to(h, big, &nb, 3931);
  assert_int_equal(rt_hstats(h).mem_state, MMC_STATE_CLEAR);
  fill_to(h, small, &ns, 700);
  assert_int_equal(rt_hstats(h).mem_state, MMC_STATE_SOFT);
  fill_to(h, small, &ns, 300);
  assert_int_equal(rt_hstats(h).mem_state, MMC_STATE_HARD);
  fill_to(h, small, &ns, 150);
  assert_int_equal(rt_hstats(h).mem_state, MMC_STATE_LOW);
  mmc_event_t ev;
  assert_int_equal(rt_events(h, &cur, MMC_EV_STATE_CHANGE, &ev), 4);
  assert_int_equal(ev.node_from, MMC_STATE_HARD);
  assert_int_equal(ev.node_to, MMC_STATE_LOW);
  /* stepped low state: a VM above target cannot allocate; the access fails */
  mmc_error_t err = {0};
  assert_int_equal(touch(h, small, ns, 1, &err), 0);
  assert_int_equal(err.code, MMC_ENOMEM);
  assert_non_null(strstr(err.msg, "low memory state"));
  /* a few more pages back: still low (16 % floor, 32 % + margin to leave) */
  rt_ticks(h, 3);
  assert_int_equal(rt_hstats(h).mem_state, MMC_STATE_LOW);
  /* memory comes back: up in one jump, one event */
  assert_int_equal(I->vm_power_off(h, big, NULL), 0);
  rt_ticks(h, 1);
  assert_int_equal(rt_hstats(h).mem_state, MMC_STATE_HIGH);
  assert_int_equal(rt_events(h, &cur, MMC_EV_STATE_CHANGE, &ev), 1);
  assert_int_equal(ev.node_from, MMC_STATE_LOW);
  assert_int_equal(touch(h, small, ns, 1, &err), 1);
  I->host_destroy(h);
}

static void osdi02_profile_uses_percent_of_memory(void **state) {
  rt_topo_t tp;
  rt_topo(&tp, HOST_MB);
  mmc_host_config_t cfg = {.topology = &tp.t, .clock = MMC_CLOCK_STEPPED, .profile = "osdi02"};
  mmc_host_t *h = NULL;
  assert_int_equal(I->host_create(&cfg, &h, NULL), 0);
  assert_int_equal(rt_hstats(h).min_free_pages, (NPAGES * 6 + 99) / 100);
  I->host_destroy(h);
}

typedef struct blocked {
  mmc_host_t *h;
  mmc_vm_id_t vm;
  uint64_t gpfn;
  _Atomic uint64_t retries;
  _Atomic int done; /* 1 ok, -1 failed */
  mmc_error_t err;
} blocked_t;

static void *blocked_vcpu(void *arg) {
  blocked_t *b = arg;
  mmc_vcpu_t *v;
  if (I->vcpu_enter(b->h, b->vm, 0, &v, &b->err)) {
    atomic_store(&b->done, -1);
    return NULL;
  }
  for (;;) {
    uint8_t *p = I->page(v, b->gpfn, true, &b->err);
    I->quiesce(v);
    if (p || b->err.code != MMC_ERETRY) {
      atomic_store(&b->done, p ? 1 : -1);
      break;
    }
    atomic_fetch_add(&b->retries, 1);
  }
  I->vcpu_exit(v);
  return NULL;
}

/* Live host at low: `big` filler above target, `small` touching until its
 * access is refused (ERETRY: blocked). Returns the first gpfn refused. */
static uint64_t live_low(mmc_host_t *h, mmc_vm_id_t big, mmc_vm_id_t small) {
  mmc_error_t err = {0};
  assert_int_equal(touch(h, big, 0, 10000, &err), 10000);
  uint64_t g = touch(h, small, 0, 8192, &err);
  assert_int_equal(err.code, MMC_ERETRY);
  return g;
}

static void live_blocked_vcpu_resumes(void **state) {
  rt_topo_t tp;
  rt_topo(&tp, HOST_MB);
  mmc_setting_value_t s[] = {{"Mem.CtlMaxPercent", 0},
                             {"Mem.MemZipEnable", 0},
                             {"Ref.SwapRate", 1},
                             {"Ref.ReclaimPeriod", 10}};
  mmc_host_t *h = rt_host(&tp, MMC_CLOCK_LIVE, NULL, s, 4);
  mmc_vm_id_t big = rt_vm(h, 128, false), small = rt_vm(h, 32, false);
  blocked_t b = {.h = h, .vm = small, .gpfn = live_low(h, big, small)};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, blocked_vcpu, &b), 0);
  uint64_t t0 = mmc_mono_ns();
  while (atomic_load(&b.retries) < 2 && !atomic_load(&b.done) &&
         mmc_mono_ns() - t0 < 10 * MMC_NS_PER_S)
    sched_yield();
  assert_int_equal(atomic_load(&b.done), 0); /* still blocked */
  assert_int_equal(I->vm_power_off(h, big, NULL), 0);
  pthread_join(t, NULL);
  if (atomic_load(&b.done) != 1)
    fail_msg("blocked vCPU did not resume: %s", b.err.msg);
  I->host_destroy(h);
}

static void live_block_times_out(void **state) {
  rt_topo_t tp;
  rt_topo(&tp, HOST_MB);
  mmc_setting_value_t s[] = {{"Mem.CtlMaxPercent", 0},
                             {"Mem.MemZipEnable", 0},
                             {"Ref.SwapRate", 1},
                             {"Ref.ReclaimPeriod", 10},
                             {"Ref.LowBlockTimeout", 50}};
  /* Host swapping (1 page/s) earns its credit while the set-up touches
   * 10000 pages, which takes seconds on a loaded machine under ASAN: a frame
   * it frees within the window lets the access through (done = 1, the
   * behaviour the test before this one checks). Such a run says nothing
   * of the timeout: a fresh host, up to three times. */
  mmc_host_t *h = NULL;
  blocked_t b;
  uint64_t t0 = 0;
  for (int attempt = 0; attempt < 3; attempt++) {
    if (h)
      I->host_destroy(h);
    h = rt_host(&tp, MMC_CLOCK_LIVE, NULL, s, 5);
    mmc_vm_id_t big = rt_vm(h, 128, false), small = rt_vm(h, 32, false);
    b = (blocked_t){.h = h, .vm = small, .gpfn = live_low(h, big, small)};
    t0 = mmc_mono_ns();
    blocked_vcpu(&b);
    if (atomic_load(&b.done) != 1)
      break;
  }
  assert_int_equal(atomic_load(&b.done), -1);
  assert_int_equal(b.err.code, MMC_ENOMEM);
  assert_non_null(strstr(b.err.msg, "Ref.LowBlockTimeout"));
  assert_true(mmc_mono_ns() - t0 >= 40 * MMC_NS_PER_MS);
  I->host_destroy(h);
}

/* Every pool full while the host's state, read at its last tick, is not
 * yet low: the gate's first call lets the access through, the allocation
 * fails, and the gate's second call blocks it. Its retries must wait (at
 * most a period, here cut short by Ref.LowBlockTimeout) and then give up
 * with MMC_ENOMEM; they bounced back at once, never timing out, when the
 * first call of each retry reset the vCPU's blocked time (INT-1-full live
 * gave up after 1000000 retries under load). The tick is 10 s away, so
 * nothing is reclaimed meanwhile. */
enum { bounce_cap = 100000 };

static void live_full_pools_wait_then_time_out(void **state) {
  (void)state;
  rt_topo_t tp;
  rt_topo(&tp, HOST_MB);
  mmc_setting_value_t s[] = {{"Mem.CtlMaxPercent", 0},
                             {"Mem.MemZipEnable", 0},
                             {"Ref.SwapRate", 1},
                             {"Ref.ReclaimPeriod", 10000},
                             {"Ref.LowBlockTimeout", 50}};
  mmc_host_t *h = rt_host(&tp, MMC_CLOCK_LIVE, NULL, s, 5);
  mmc_vm_id_t vm = rt_vm(h, 128, false);
  mmc_vcpu_t *v;
  assert_int_equal(I->vcpu_enter(h, vm, 0, &v, NULL), 0);
  mmc_error_t err = {0};
  uint64_t g = 0, bounces = 0;
  for (; g < 2 * NPAGES; g++) { /* until a touch is refused */
    uint8_t *p = I->page(v, g, true, &err);
    I->quiesce(v);
    if (!p)
      break;
    p[0] = 1;
  }
  assert_int_equal(err.code, MMC_ERETRY);
  uint64_t t0 = mmc_mono_ns();
  while (err.code == MMC_ERETRY && bounces < bounce_cap) {
    err = (mmc_error_t){0};
    uint8_t *p = I->page(v, g, true, &err);
    I->quiesce(v);
    assert_null(p);
    bounces++;
  }
  uint64_t took = mmc_mono_ns() - t0;
  I->vcpu_exit(v);
  I->host_destroy(h);
  if (err.code != MMC_ENOMEM)
    fail_msg("page %llu: %llu retries in %.1f ms without MMC_ENOMEM (last: %s)",
             (unsigned long long)g, (unsigned long long)bounces, (double)took / 1e6, err.msg);
  assert_non_null(strstr(err.msg, "Ref.LowBlockTimeout"));
  assert_true(took >= 40 * MMC_NS_PER_MS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(states_follow_free_memory),
      cmocka_unit_test(osdi02_profile_uses_percent_of_memory),
      cmocka_unit_test(live_blocked_vcpu_resumes),
      cmocka_unit_test(live_block_times_out),
      cmocka_unit_test(live_full_pools_wait_then_time_out),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
