/*
 * test_balloon.c — balloon.c through the contract: frames of given pages are
 * really freed (pool used and mincore of the frames), give/take errors, taken
 * pages read zero, touching a ballooned page fails and is reported, the cap
 * (Mem.CtlMaxPercent, sched.mem.maxmemctl; BAL-2), no target without a
 * driver, and targets that follow allocation targets (inflate under
 * pressure, deflate when memory comes back).
 *
 * Sizes: one 64 MB node (16384 frames, minFree 983 pages, high needs 4326
 * free with the margin); a 128 MB VM touching 14000 pages leaves 2384 free.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "reclaim.h"
#include "ref_util.h"

#define HOST_MB 64

static void touch(mmc_host_t *h, mmc_vm_id_t vm, uint64_t from, uint64_t n) {
  mmc_vcpu_t *v;
  mmc_error_t err = {0};
  assert_int_equal(I->vcpu_enter(h, vm, 0, &v, &err), 0);
  for (uint64_t g = from; g < from + n; g++) {
    uint8_t *p = rt_page(v, g, true, &err);
    if (!p)
      fail_msg("touch %llu: %s", (unsigned long long)g, err.msg);
    memset(p, 0xa5, MMC_PAGE_SIZE);
    I->quiesce(v);
  }
  I->vcpu_exit(v);
}

static void given_frames_are_freed(void **state) {
  rt_topo_t tp;
  rt_topo(&tp, HOST_MB);
  mmc_host_t *h = rt_host(&tp, MMC_CLOCK_STEPPED, NULL, NULL, 0);
  mmc_vm_id_t id = rt_vm(h, 32, true);
  touch(h, id, 0, 1000);
  ref_vm_t *vm = ref_vm_get(h, id);
  uint64_t frames[500], gpfns[500];
  for (int i = 0; i < 500; i++) {
    gpfns[i] = (uint64_t)i * 2;
    frames[i] = ref_pte_frame(ref_pmap_get(vm->pmap, gpfns[i]));
  }
  uint64_t used = ref_pool_used(h->pools[0]);
  uint64_t cur = 0;
  assert_int_equal(I->balloon_give(h, id, gpfns, 500, NULL), 0);
  assert_int_equal(ref_pool_used(h->pools[0]), used - 500);
  long pg = sysconf(_SC_PAGESIZE);
  uint8_t *base = ref_pool_base(h->pools[0]);
  for (int i = 0; i < 500; i++) {
    unsigned char vec = 1;
    assert_int_equal(mincore(base + frames[i] * MMC_PAGE_SIZE, (size_t)pg, &vec), 0);
    assert_int_equal(vec & 1, 0);
  }
  mmc_vm_stats_t vs = rt_vstats(h, id);
  assert_int_equal(vs.ballooned_pages, 500);
  assert_int_equal(vs.resident_pages, 500);
  mmc_event_t ev;
  assert_int_equal(rt_events(h, &cur, MMC_EV_BALLOON, &ev), 1);
  assert_int_equal(ev.count, 500);
  /* errors: twice, out of range, take of a page not given; nothing changes */
  mmc_error_t err = {0};
  assert_int_equal(I->balloon_give(h, id, gpfns, 1, &err), MMC_EINVAL);
  assert_non_null(strstr(err.msg, "already"));
  uint64_t far = 1u << 30, odd = 1;
  assert_int_equal(I->balloon_give(h, id, &far, 1, &err), MMC_EINVAL);
  assert_int_equal(I->balloon_take(h, id, &odd, 1, &err), MMC_EINVAL);
  assert_non_null(strstr(err.msg, "not given"));
  assert_int_equal(rt_vstats(h, id).ballooned_pages, 500);
  /* a touch of a given page fails and is reported */
  mmc_vcpu_t *v;
  assert_int_equal(I->vcpu_enter(h, id, 0, &v, NULL), 0);
  assert_null(I->page(v, gpfns[3], false, &err));
  assert_int_equal(err.code, MMC_EINVAL);
  I->vcpu_exit(v);
  assert_int_equal(rt_events(h, &cur, MMC_EV_ERROR, &ev), 1);
  /* take back: zeros, written anew like any page */
  assert_int_equal(I->balloon_take(h, id, gpfns, 500, NULL), 0);
  assert_int_equal(rt_vstats(h, id).ballooned_pages, 0);
  assert_int_equal(I->vcpu_enter(h, id, 0, &v, NULL), 0);
  for (int i = 0; i < 500; i++) {
    const uint8_t *p = rt_page(v, gpfns[i], false, &err);
    assert_non_null(p);
    for (size_t k = 0; k < MMC_PAGE_SIZE; k++)
      if (p[k])
        fail_msg("taken page %llu byte %zu is %u", (unsigned long long)gpfns[i], k, p[k]);
    I->quiesce(v);
  }
  I->vcpu_exit(v);
  /* untouched and never-touched pages can be given too */
  uint64_t fresh = 5000;
  assert_int_equal(I->balloon_give(h, id, &fresh, 1, NULL), 0);
  assert_int_equal(I->vm_power_off(h, id, NULL), 0);
  assert_int_equal(ref_pool_used(h->pools[0]), 0);
  I->host_destroy(h);
}

/* A 128 MB VM touching 15800 of the 16384 frames (hard state); returns its
 * balloon target and, in *want, what it should be: the VM's pages over its
 * allocation target (from its own stats), clamped to `cap`. */
static uint64_t target_after_pressure(int64_t ctl_pct, int64_t maxmemctl, bool driver, uint64_t cap,
                                      uint64_t *want) {
  rt_topo_t tp;
  rt_topo(&tp, HOST_MB);
  mmc_setting_value_t s[] = {{"Mem.CtlMaxPercent", ctl_pct}};
  mmc_host_t *h = rt_host(&tp, MMC_CLOCK_STEPPED, NULL, s, 1);
  mmc_vm_config_t c;
  mmc_vm_config_init(&c);
  c.memory_bytes = 128 << 20;
  c.maxmemctl_bytes = maxmemctl;
  c.balloon_driver = driver;
  mmc_vm_id_t id;
  assert_int_equal(I->vm_power_on(h, &c, &id, NULL), 0);
  touch(h, id, 0, 15800);
  rt_ticks(h, 1);
  uint64_t t = UINT64_MAX;
  assert_int_equal(I->balloon_target(h, id, &t, NULL), 0);
  mmc_vm_stats_t vs = rt_vstats(h, id);
  assert_int_equal(vs.balloon_target_pages, t);
  uint64_t held = vs.resident_pages + vs.swapped_pages + vs.compressed_pages;
  assert_true(held > ref_reclaim_target(h, ref_vm_get(h, id)));
  uint64_t over = 15800 - ref_reclaim_target(h, ref_vm_get(h, id)); /* memstate.c's */
  *want = over < cap ? over : cap;
  I->host_destroy(h);
  return t;
}

static void targets_follow_pressure_and_caps(void **state) {
  uint64_t want = 0;
  uint64_t got = target_after_pressure(65, -1, true, 32768 * 65 / 100, &want);
  assert_int_equal(got, want);
  assert_true(got > 0);
  got = target_after_pressure(1, -1, true, 32768 / 100, &want);
  assert_int_equal(got, want);
  got = target_after_pressure(65, 1 << 20, true, 256, &want);
  assert_int_equal(got, want);
  assert_int_equal(target_after_pressure(0, -1, true, 0, &want), 0);
  assert_int_equal(target_after_pressure(65, -1, false, 0, &want), 0);
}

static void balloon_deflates_when_memory_returns(void **state) {
  rt_topo_t tp;
  rt_topo(&tp, HOST_MB);
  mmc_host_t *h = rt_host(&tp, MMC_CLOCK_STEPPED, NULL, NULL, 0);
  /* a's shares (32 MB) entitle it to a fifth of the 12058 pages available */
  mmc_vm_id_t a = rt_vm(h, 32, true), b = rt_vm(h, 128, false);
  touch(h, a, 0, 6000);
  touch(h, b, 0, 8000);
  rt_ticks(h, 1);
  uint64_t t = 0;
  assert_int_equal(I->balloon_target(h, a, &t, NULL), 0);
  assert_true(t > 0);
  uint64_t gp[64];
  for (int i = 0; i < 64; i++)
    gp[i] = 6000 + (uint64_t)i; /* free guest pages */
  assert_int_equal(I->balloon_give(h, a, gp, 64, NULL), 0);
  assert_int_equal(I->vm_power_off(h, b, NULL), 0);
  rt_ticks(h, 1);
  assert_int_equal(I->balloon_target(h, a, &t, NULL), 0);
  assert_int_equal(t, 0);
  I->host_destroy(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(given_frames_are_freed),
      cmocka_unit_test(targets_follow_pressure_and_caps),
      cmocka_unit_test(balloon_deflates_when_memory_returns),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
