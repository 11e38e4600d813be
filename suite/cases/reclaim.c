/*
 * reclaim.c — cases of reclamation: free-memory states (STATE-1), ballooning
 * (BAL-1..3), host swapping and its files (SWAP-1..3, SEC-2), the compression
 * cache (ZIP-1), sharing before swapping (TPS-7), fault injection (with the
 * check that swap victims are spread over the VM: SWAP-2's random choice),
 * and the full form of INT-1 with every mechanism at once.
 *
 * Hosts run on copies of the run's topology capped to a small size, so the
 * states are forced by a few thousand touched pages. Stepped cases are
 * deterministic from the run's seed; one "tick" is one virtual second
 * (RC_TICK_NS), long enough for any implementation's periodic reclamation.
 * Their live forms wait for that second of reclamation on the probe
 * instead (rc_reclaim_second: the written pages leaving memory, within
 * SWAP-2's 2 s). STATE-1 has none: its curve of free memory is held still
 * at each point only by a stepped clock (a live reclaimer moves it).
 * Expected values are computed here from SPEC.md, not read from the
 * implementation: minFree by the sliding scale, the state bands, the balloon
 * cap, the compression cap.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "case_util.h"
#include "cases_list.h"
#include "mmc_error.h"
#include "mmc_tmpdir.h"
#include "workload.h"

#define MIB (1024ull * 1024ull)
#define PAGES_PER_MIB (MIB / MMC_PAGE_SIZE)
#define RC_TICK_NS 1000000000ull /* one virtual second */
#define RC_STEP_NS 100000000ull  /* workload step in stepped runs */

/* ---------------------------------------------------------------- helpers */

static int rc_cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* The run's topology capped to `mib` (as is when smaller). */
static mmt_topology_t *rc_topo(suite_ctx_t *c, uint64_t mib) {
  mmt_topology_t *t = cu_run_topology_copy(c);
  mmc_error_t err = {0};
  if (cu_total_memory(&t->desc) > mib * MIB)
    sc_require(c, mmt_cap_memory(t, mib * MIB, &err), &err, "capping host memory");
  return t;
}

static uint64_t rc_free(suite_ctx_t *c, mmc_host_t *h) {
  mmc_host_stats_t s = cu_host_stats(c, h);
  uint64_t f = 0;
  for (uint32_t n = 0; n < s.nnodes && n < MMC_MAX_NODES; n++)
    f += s.node_free_pages[n];
  return f;
}

static uint64_t rc_capacity(suite_ctx_t *c, mmc_host_t *h) {
  mmc_host_stats_t s = cu_host_stats(c, h);
  uint64_t f = 0;
  for (uint32_t n = 0; n < s.nnodes && n < MMC_MAX_NODES; n++)
    f += s.node_capacity_pages[n];
  return f;
}

/* True when the run's profile is osdi02 (Mem.SamplePeriod defaults to 30 s). */
static bool rc_osdi02(suite_ctx_t *c, mmc_host_t *h) {
  const mmc_impl_t *im = sc_impl(c);
  mmc_setting_info_t si;
  for (size_t i = 0; im->setting_info(h, i, &si) == 0; i++)
    if (strcmp(si.name, "Mem.SamplePeriod") == 0)
      return si.default_value == 30;
  return false;
}

/* SPEC STATE-1: minFree by the sliding scale, computed here independently. */
static uint64_t rc_min_free(uint64_t pages) {
  const uint64_t gb = 1024 * PAGES_PER_MIB;
  const uint64_t band[] = {4 * gb, 8 * gb, 16 * gb, UINT64_MAX};
  const uint64_t pct[] = {6, 4, 2, 1};
  uint64_t left = pages, acc = 0;
  for (int i = 0; i < 4 && left; i++) {
    uint64_t take = left < band[i] ? left : band[i];
    acc += take * pct[i];
    left -= take;
  }
  return acc / 100;
}

/* Fill [0, n) of vm with pattern `tag` (page 0 entered here, stepped/single thread). */
static void rc_fill(uint8_t *p, uint64_t g, uint64_t tag, bool compressible) {
  uint64_t x = (g + 1) * 0x9e3779b97f4a7c15ull ^ tag, *w = (uint64_t *)p;
  memset(p, 0, MMC_PAGE_SIZE);
  for (size_t i = 0; i < MMC_PAGE_SIZE / 8; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    if (!compressible || i < 8)
      w[i] = x;
  }
}

/* Write pages [0, n) of vm; stop early when the host's free frames drop to
 * `stop_free`. Returns pages written. */
static uint64_t rc_write_ptrs(suite_ctx_t *c, mmc_host_t *h, mmc_vm_id_t vm, uint64_t n,
                              uint64_t tag, bool compressible, uint64_t stop_free, void **ptrs) {
  const mmc_impl_t *im = sc_impl(c);
  mmc_vcpu_t *v = NULL;
  mmc_error_t err = {0};
  sc_require(c, im->vcpu_enter(h, vm, 0, &v, &err), &err, "vcpu_enter");
  uint64_t g = 0;
  for (; g < n; g++) {
    if (stop_free && g % 64 == 0 && rc_free(c, h) <= stop_free)
      break;
    uint8_t *p = cu_page(im, v, g, true, &err);
    if (!p) {
      im->vcpu_exit(v);
      sc_broken(c, "write page %llu of VM %u: %s", (unsigned long long)g, vm, err.msg);
    }
    rc_fill(p, g, tag, compressible);
    if (ptrs)
      ptrs[g] = p;
    im->quiesce(v);
  }
  im->vcpu_exit(v);
  return g;
}

static uint64_t rc_write(suite_ctx_t *c, mmc_host_t *h, mmc_vm_id_t vm, uint64_t n, uint64_t tag,
                         bool compressible, uint64_t stop_free) {
  return rc_write_ptrs(c, h, vm, n, tag, compressible, stop_free, NULL);
}

/* Pages of [0, n) not holding their pattern. */
static uint64_t rc_bad(suite_ctx_t *c, mmc_host_t *h, mmc_vm_id_t vm, uint64_t n, uint64_t tag,
                       bool compressible) {
  const mmc_impl_t *im = sc_impl(c);
  mmc_vcpu_t *v = NULL;
  mmc_error_t err = {0};
  uint8_t want[MMC_PAGE_SIZE];
  uint64_t bad = 0;
  sc_require(c, im->vcpu_enter(h, vm, 0, &v, &err), &err, "vcpu_enter");
  for (uint64_t g = 0; g < n; g++) {
    const uint8_t *p = cu_page(im, v, g, false, &err);
    if (!p) {
      im->vcpu_exit(v);
      sc_broken(c, "read page %llu of VM %u: %s", (unsigned long long)g, vm, err.msg);
    }
    rc_fill(want, g, tag, compressible);
    bad += memcmp(p, want, MMC_PAGE_SIZE) != 0;
    im->quiesce(v);
  }
  im->vcpu_exit(v);
  return bad;
}

static mmc_vm_id_t rc_vm(suite_ctx_t *c, mmc_host_t *h, const char *name, uint64_t pages,
                         bool driver) {
  mmc_vm_config_t cfg = cu_vm(name, 1, pages * MMC_PAGE_SIZE);
  cfg.balloon_driver = driver;
  return cu_power_on(c, h, &cfg);
}

/* Live: run `vms` on their own vCPU threads at the stepped cases' pace, one
 * workload step per RC_STEP_NS (demand 0: each duty-cycle period of that
 * length runs one step and sleeps the rest), so a live form puts the same
 * load on the host as its stepped form does per second. */
static wl_live_t *rc_live_start(suite_ctx_t *c, wl_vm_t *const *vms, size_t n) {
  mmc_error_t err = {0};
  for (size_t i = 0; i < n; i++)
    for (uint32_t k = 0; k < vms[i]->nvcpus; k++)
      sc_require(c, wl_vm_set_demand(vms[i], k, 0, &err), &err, "demand 0");
  wl_live_cfg_t lc = {.demand_period_ns = RC_STEP_NS};
  wl_live_t *l = NULL;
  sc_require(c, wl_live_start(&l, vms, n, &lc, &err), &err, "wl_live_start");
  return l;
}

/* A host on `t` in the case's clock with the settings `s` set one by one;
 * NULL, after cu_not_shown naming `what`, when the implementation does not
 * honour one of them (MMC_ENOTSUP): that part of the case is not shown. */
static mmc_host_t *rc_host_set(suite_ctx_t *c, mmt_topology_t *t, const mmc_setting_value_t *s,
                               size_t ns, const char *what) {
  mmc_host_t *h = sc_host(c, t, sc_clock(c), NULL, 0);
  for (size_t i = 0; i < ns; i++) {
    mmc_error_t err = {0};
    int rc = sc_impl(c)->setting_set(h, s[i].name, s[i].value, &err);
    if (rc == MMC_ENOTSUP) {
      cu_not_shown(c, "%s: the implementation does not honour %s=%lld: %s", what, s[i].name,
                   (long long)s[i].value, err.msg);
      sc_host_destroy(c, h);
      return NULL;
    }
    sc_require(c, rc, &err, s[i].name);
  }
  return h;
}

/* Pages of [0, n) that left memory since they were written through ptrs:
 * their frame is no longer in memory (mincore: a pool frame the
 * implementation gave back), or no longer mapped there at all (pagemap's
 * present bit: a page the kernel paged out, whose copy may sit in the swap
 * cache until its write-back ends, which mincore still counts). */
static uint64_t rc_released(suite_ctx_t *c, void *const *ptrs, uint64_t n) {
  probe_pagemap_t pm;
  mmc_error_t err = {0};
  sc_require(c, probe_pagemap_open(&pm, NULL, NULL, &err), &err, "opening /proc/self/pagemap");
  uint64_t gone = 0;
  enum { batch = 512 };
  probe_pagemap_entry_t e[batch];
  for (uint64_t g = 0; g < n; g += batch) {
    size_t k = n - g < batch ? (size_t)(n - g) : batch;
    sc_require(c, probe_pagemap_read(&pm, ptrs + g, k, e, &err), &err, "pagemap");
    for (size_t i = 0; i < k; i++) {
      uint64_t r = 0;
      sc_require(c, probe_mincore(ptrs[g + i], MMC_PAGE_SIZE, &r, NULL, &err), &err, "mincore");
      gone += r == 0 || !e[i].present;
    }
  }
  probe_pagemap_close(&pm);
  return gone;
}

/* One second of reclamation after pages [0, n) were written through ptrs.
 * Stepped: the clock advances by it. Live: the reclaimer runs on its own;
 * the written frames are watched (mincore) until, some having left memory,
 * none has for RC_QUIET_NS — five reclaim periods of the implementations
 * here (Ref.ReclaimPeriod, Linux.PressurePeriod: 100 ms) — and at most
 * RC_RECLAIM_BOUND_NS, the 2 s in which SWAP-2 says reclamation gets what
 * it asks for. */
#define RC_QUIET_NS 500000000ull
#define RC_RECLAIM_BOUND_NS 2000000000ull
static void rc_reclaim_second(suite_ctx_t *c, mmc_host_t *h, void *const *ptrs, uint64_t n) {
  if (sc_clock(c) == MMC_CLOCK_STEPPED) {
    cu_advance(c, h, RC_TICK_NS);
    return;
  }
  uint64_t t0 = cu_now_ns(), quiet_since = t0, last = rc_released(c, ptrs, n);
  while (cu_now_ns() - t0 < RC_RECLAIM_BOUND_NS &&
         (last == 0 || cu_now_ns() - quiet_since < RC_QUIET_NS)) {
    struct timespec ts = {0, (long)(RC_STEP_NS / 2)};
    nanosleep(&ts, NULL);
    uint64_t now = rc_released(c, ptrs, n);
    if (now != last)
      quiet_since = cu_now_ns();
    last = now;
  }
}

/* ---------------------------------------------------------------- STATE-1 */

typedef struct curve_point {
  unsigned permille;          /* free memory, permille of minFree */
  mmc_mem_state_t esxi, osdi; /* expected state by profile */
  unsigned above;             /* permille of minFree of the enter level this point sits just
                                 above on the way up (0: none): the state must not rise yet */
} curve_point_t;

/* Down to low, then back up; the 24 % points sit in the 16..32 % gap where
 * the state depends on the direction (hysteresis). On the way up a point
 * just above each enter level (hard 32 %, soft 64 %, clear 100 %, high
 * 400 %: 1-3 % above it) keeps the lower state: leaving a state upward
 * needs a margin above the enter level, or free memory hovering at a
 * boundary would flap between two states ("transitions have hysteresis");
 * the next point, 25-40 % above, must have moved up (no margin is that
 * wide). osdi02 levels are 6/4/2/1 % of memory = 100/67/33/17 % of its
 * minFree (6 %); its clear state has high's levels, so it is never seen. */
static const curve_point_t state1_curve[] = {
    {4500, MMC_STATE_HIGH, MMC_STATE_HIGH, 0},  {3500, MMC_STATE_CLEAR, MMC_STATE_HIGH, 0},
    {900, MMC_STATE_SOFT, MMC_STATE_SOFT, 0},   {500, MMC_STATE_HARD, MMC_STATE_HARD, 0},
    {240, MMC_STATE_HARD, MMC_STATE_HARD, 0},   {100, MMC_STATE_LOW, MMC_STATE_LOW, 0},
    {240, MMC_STATE_LOW, MMC_STATE_LOW, 0},     {330, MMC_STATE_LOW, MMC_STATE_LOW, 320},
    {450, MMC_STATE_HARD, MMC_STATE_HARD, 0},   {650, MMC_STATE_HARD, MMC_STATE_HARD, 640},
    {850, MMC_STATE_SOFT, MMC_STATE_SOFT, 0},   {1010, MMC_STATE_SOFT, MMC_STATE_SOFT, 1000},
    {1300, MMC_STATE_CLEAR, MMC_STATE_HIGH, 0}, {4040, MMC_STATE_CLEAR, MMC_STATE_HIGH, 4000},
    {5000, MMC_STATE_HIGH, MMC_STATE_HIGH, 0},
};
enum { state1_falling = 6 }; /* points before this index fall, the rest rise */

/* minFree of a host of `size_mib` MiB (the run's nodes, memory resized);
 * on the smallest (256 MiB) also with Mem.MemMinFreePct. */
static void state1_threshold(suite_ctx_t *c, uint64_t size_mib) {
  mmt_topology_t *t = cu_run_topology_copy(c);
  uint32_t nmem = 0;
  for (uint32_t n = 0; n < t->desc.nnodes; n++)
    nmem += t->desc.nodes[n].memory_bytes > 0;
  uint64_t per = size_mib * MIB / (nmem ? nmem : 1) / MMC_PAGE_SIZE * MMC_PAGE_SIZE;
  for (uint32_t n = 0; n < t->desc.nnodes; n++)
    if (t->desc.nodes[n].memory_bytes)
      ((mmc_node_t *)&t->desc.nodes[n])->memory_bytes = per;
  mmc_host_t *h = sc_host(c, t, cu_clock(c), NULL, 0);
  uint64_t pages = per / MMC_PAGE_SIZE * nmem;
  bool osdi = rc_osdi02(c, h);
  uint64_t want = osdi ? (pages * 6 + 99) / 100 : rc_min_free(pages);
  char name[128];
  snprintf(name, sizeof name, "minFree of a %llu MiB host is %s", (unsigned long long)size_mib,
           osdi ? "6 % of memory (osdi02)" : "the sliding scale 6/4/2/1 %");
  mmc_host_stats_t hs = cu_host_stats(c, h);
  if (cu_reported_host(c, &hs, MMC_HOSTSTAT_MIN_FREE, "STATE-1 minFree"))
    sc_check(c, hs.min_free_pages + (osdi ? 1 : 0) >= want && hs.min_free_pages <= want, name,
             "expected %llu pages, host says %llu", (unsigned long long)want,
             (unsigned long long)hs.min_free_pages);
  sc_host_destroy(c, h);
  if (size_mib == 256 && !osdi) {
    mmc_setting_value_t s[] = {{"Mem.MemMinFreePct", 5}};
    h = sc_host(c, t, cu_clock(c), s, 1);
    sc_check_int(c, "Mem.MemMinFreePct=5: minFree is 5 % of memory", (long long)(pages * 5 / 100),
                 (long long)cu_host_stats(c, h).min_free_pages);
    sc_host_destroy(c, h);
  }
  mmt_free(t);
}

/* Free memory set to `free_pages` by a fully reserved VM (never reclaimed:
 * its target is its reservation) touching the rest; the previous one goes. */
static mmc_vm_id_t state1_set_free(suite_ctx_t *c, mmc_host_t *h, mmc_vm_id_t prev, uint64_t cap,
                                   uint64_t free_pages) {
  mmc_error_t err = {0};
  if (prev)
    sc_require(c, sc_impl(c)->vm_power_off(h, prev, &err), &err, "vm_power_off");
  mmc_vm_config_t cfg = cu_vm("state1", 1, (cap - free_pages) * MMC_PAGE_SIZE);
  cfg.reservation_bytes = cfg.memory_bytes;
  mmc_vm_id_t id = cu_power_on(c, h, &cfg);
  rc_write(c, h, id, cap - free_pages, 1, true, 0);
  cu_advance(c, h, RC_TICK_NS);
  return id;
}

/* Free pages of the host as the kernel sees them: capacity less the frames
 * its pools hold (mincore over the node mappings). */
static bool state1_probe_free(suite_ctx_t *c, uint64_t cap, uint64_t *free_pages) {
  if (!(sc_impl(c)->capabilities & MMC_CAP_NODE_MAPPINGS))
    return false;
  uint64_t held = 0;
  mmc_error_t err = {0};
  sc_require(c, probe_pools_resident(&held, &err), &err, "pool residency (mincore)");
  *free_pages = held < cap ? cap - held : 0;
  return true;
}

static void state1_states(suite_ctx_t *c) {
  mmt_topology_t *t = rc_topo(c, 256);
  mmc_host_t *h = sc_host(c, t, MMC_CLOCK_STEPPED, NULL, 0);
  bool osdi = rc_osdi02(c, h);
  mmc_host_stats_t hs = cu_host_stats(c, h);
  /* The curve is placed by the documented minFree of the topology's memory,
   * computed here. */
  uint64_t cap = cu_total_memory(&t->desc) / MMC_PAGE_SIZE, cursor = 0;
  uint64_t mf = osdi ? (cap * 6 + 99) / 100 : rc_min_free(cap);
  if (!cu_reported_host(c, &hs, MMC_HOSTSTAT_MEM_STATE, "STATE-1 states under a free-memory curve"))
    goto out;
  sc_check_int(c, "an empty host is in the high state", MMC_STATE_HIGH, hs.mem_state);
  mmc_vm_id_t vm = 0;
  mmc_mem_state_t prev = MMC_STATE_HIGH;
  uint64_t changes = 0;
  cu_count_events(c, h, &cursor, MMC_EV_STATE_CHANGE, 0);
  for (size_t i = 0; i < sizeof state1_curve / sizeof state1_curve[0]; i++) {
    const curve_point_t *p = &state1_curve[i];
    uint64_t free_pages = mf * p->permille / 1000;
    if (free_pages >= cap)
      sc_skip(c, "host too small for the curve (%llu pages, minFree %llu)", (unsigned long long)cap,
              (unsigned long long)mf);
    vm = state1_set_free(c, h, vm, cap, free_pages);
    mmc_mem_state_t want = osdi ? p->osdi : p->esxi;
    char name[160];
    uint64_t seen = 0;
    if (p->above && !osdi && state1_probe_free(c, cap, &seen)) {
      /* The point tests a margin only if free memory really is above the
       * enter level (the pools' residency says how much is free). */
      snprintf(name, sizeof name,
               "point %zu: free memory above %.1f %% of minFree (premise; mincore)", i,
               p->above / 10.0);
      sc_check(c, seen * 1000 >= mf * p->above, name, "%llu pages free, the level is %llu",
               (unsigned long long)seen, (unsigned long long)(mf * p->above / 1000));
    }
    snprintf(name, sizeof name, "point %zu: free %.1f %% of minFree (%s%s) -> state %d", i,
             p->permille / 10.0, i >= state1_falling ? "rising" : "falling",
             p->above ? ", just above an enter level: no rise yet" : "", (int)want);
    sc_check_int(c, name, want, cu_host_stats(c, h).mem_state);
    changes += want != prev;
    prev = want;
  }
  if (cu_reported_events(c, h, 1ull << MMC_EV_STATE_CHANGE, "STATE-1 transitions counted"))
    sc_check_int(c, "one MMC_EV_STATE_CHANGE per transition (no flapping)", (long long)changes,
                 (long long)cu_count_events(c, h, &cursor, MMC_EV_STATE_CHANGE, 0));
out:
  sc_host_destroy(c, h);
  mmt_free(t);
}

/* Variants (cases.c): param a host size in MiB (minFree), or "curve" (the
 * states under the free-memory curve). */
void case_state_1(suite_ctx_t *c) {
  const suite_variant_t *v = sc_variant(c);
  char *end = NULL;
  unsigned long long mib = v && v->param ? strtoull(v->param, &end, 10) : 0;
  if (v && v->param && !strcmp(v->param, "curve"))
    state1_states(c);
  else if (mib && end && !*end)
    state1_threshold(c, mib);
  else
    sc_broken(c, "STATE-1 runs per variant, param a size in MiB or \"curve\" (cases.c)");
}

/* ---------------------------------------------------------------- BAL-1..3 */

enum { bal_host_mib = 128, bal_a_mib = 64, bal_b_mib = 96, bal_cap_mib = 8, bal_secs = 10 };

/* Part A: the case is the driver. Frames of given pages leave the pool
 * (mincore through the pointers page() returned), taken pages read zero. */
static void bal_mincore(suite_ctx_t *c, mmc_host_t *h) {
  const mmc_impl_t *im = sc_impl(c);
  enum { n = 256 };
  mmc_vm_id_t id = rc_vm(c, h, "bal-mincore", 16 * PAGES_PER_MIB, true);
  mmc_vcpu_t *v = NULL;
  mmc_error_t err = {0};
  void *ptr[n];
  uint64_t gp[n], res = 0;
  sc_require(c, im->vcpu_enter(h, id, 0, &v, &err), &err, "vcpu_enter");
  for (int i = 0; i < n; i++) {
    gp[i] = (uint64_t)i * 3;
    if (!(ptr[i] = cu_page(im, v, gp[i], true, &err)))
      sc_broken(c, "page: %s", err.msg);
    memset(ptr[i], 0x5a, MMC_PAGE_SIZE);
  }
  for (int i = 0; i < n; i++) {
    uint64_t r = 0;
    probe_mincore(ptr[i], MMC_PAGE_SIZE, &r, NULL, NULL);
    res += r;
  }
  im->vcpu_exit(v);
  sc_check_int(c, "written pages are resident (mincore)", n, (long long)res);
  sc_require(c, im->balloon_give(h, id, gp, n, &err), &err, "balloon_give");
  res = 0;
  for (int i = 0; i < n; i++) {
    uint64_t r = 0;
    probe_mincore(ptr[i], MMC_PAGE_SIZE, &r, NULL, NULL);
    res += r;
  }
  sc_check_int(c, "BAL-1: frames of given pages are returned to the kernel (mincore)", 0,
               (long long)res);
  mmc_vm_stats_t sg = cu_vm_stats(c, h, id);
  cu_crosscheck_vm(c, &sg, MMC_VMSTAT_BALLOONED, "ballooned_pages counts the given pages", n,
                   (long long)sg.ballooned_pages, 0);
  sc_check(c, im->balloon_give(h, id, gp, 1, &err) == MMC_EINVAL, "a page given twice: MMC_EINVAL",
           "%s", err.msg);
  sc_require(c, im->balloon_take(h, id, gp, n, &err), &err, "balloon_take");
  uint64_t nonzero = 0;
  sc_require(c, im->vcpu_enter(h, id, 0, &v, &err), &err, "vcpu_enter");
  for (int i = 0; i < n; i++) {
    const uint8_t *p = cu_page(im, v, gp[i], false, &err);
    if (!p)
      sc_broken(c, "page: %s", err.msg);
    for (size_t k = 0; k < MMC_PAGE_SIZE; k++)
      if (p[k]) {
        nonzero++;
        break;
      }
    im->quiesce(v);
  }
  im->vcpu_exit(v);
  sc_check_int(c, "pages taken back read zero", 0, (long long)nonzero);
  sc_require(c, im->vm_power_off(h, id, &err), &err, "vm_power_off");
}

static wl_vm_t *rc_guest(suite_ctx_t *c, mmc_host_t *h, const char *name, uint64_t mib,
                         int64_t shares, int64_t maxmemctl, const wl_guest_cfg_t *g, uint64_t k) {
  mmc_vm_config_t cfg = cu_vm(name, 1, mib * MIB);
  cfg.balloon_driver = g->driver;
  cfg.shares = shares;
  cfg.maxmemctl_bytes = maxmemctl;
  wl_vm_t *vm = NULL;
  mmc_error_t err = {0};
  sc_require(
      c, wl_vm_boot(&vm, sc_impl(c), h, &cfg, wl_seed_mix(sc_seed(c), k), &wl_guest_ops, g, &err),
      &err, "wl_vm_boot");
  return vm;
}

static void rc_verify_guest(suite_ctx_t *c, wl_vm_t *vm, uint64_t *mism) {
  wl_verify_report_t rep;
  mmc_error_t err = {0};
  sc_require(c, wl_guest_verify(vm, &rep, &err), &err, "wl_guest_verify");
  char line[512], name[128];
  wl_verify_format(&rep, line, sizeof line);
  snprintf(name, sizeof name, "VM %u: every page not in the balloon holds its last value", vm->id);
  sc_check(c, rep.mismatches == 0, name, "%s", line);
  if (mism)
    *mism += rep.mismatches;
}

/* What part B saw of the balloon of A (the driver VM) over the run. */
typedef struct bal_obs {
  uint64_t max_target, max_bal;              /* largest target the host asked, largest balloon */
  uint64_t moves, max_step;                  /* changes of the balloon seen, largest increase */
  uint64_t mismatch, seen_driver, seen_stat; /* ballooned_pages against the driver */
  double secs;                               /* time the guests ran */
} bal_obs_t;

static void bal_note(bal_obs_t *o, uint64_t tgt, uint64_t bal, uint64_t *prev) {
  o->max_target = tgt > o->max_target ? tgt : o->max_target;
  o->max_bal = bal > o->max_bal ? bal : o->max_bal;
  if (bal != *prev) {
    o->moves++;
    o->max_step = bal > *prev && bal - *prev > o->max_step ? bal - *prev : o->max_step;
  }
  *prev = bal;
}

/* Stepped: the guests stepped for bal_secs virtual seconds; after every
 * step the host's target, the driver's balloon and ballooned_pages. */
static void bal_run_stepped(suite_ctx_t *c, mmc_host_t *h, wl_vm_t *a, wl_vm_t *b, bal_obs_t *o) {
  const mmc_impl_t *im = sc_impl(c);
  wl_vm_t *vms[2] = {a, b};
  mmc_error_t err = {0};
  sc_require(c, wl_vm_enter_all(a, &err), &err, "enter");
  sc_require(c, wl_vm_enter_all(b, &err), &err, "enter");
  uint64_t prev = 0, t0 = im->now(h);
  for (uint64_t k = 0; k < bal_secs * RC_TICK_NS / RC_STEP_NS; k++) {
    wl_stepped_cfg_t sc = {.duration_ns = RC_STEP_NS, .tick_ns = RC_STEP_NS, .advance = true};
    sc_require(c, wl_run_stepped(vms, 2, &sc, &err), &err, "wl_run_stepped");
    uint64_t tgt = 0;
    sc_require(c, im->balloon_target(h, a->id, &tgt, &err), &err, "balloon_target");
    wl_guest_stats_t now;
    wl_guest_stats(a, &now); /* the suite's own driver: pages it gave and holds */
    uint64_t bal = now.balloon, said = cu_vm_stats(c, h, a->id).ballooned_pages;
    if (said != bal && !o->mismatch++) {
      o->seen_driver = bal;
      o->seen_stat = said;
    }
    bal_note(o, tgt, bal, &prev);
  }
  o->secs = (double)((im->now(h) - t0) / RC_TICK_NS);
}

/* Live: the guests on their own vCPU threads for bal_secs of real time;
 * every bal_live_sample_ms the host's target and the driver's balloon
 * (given - taken: the driver's atomic counters) are sampled. A sample
 * between the driver's give and its count could disagree with
 * ballooned_pages, so that cross-check is made once the threads stopped. */
enum { bal_live_sample_ms = 100 };

static void bal_run_live(suite_ctx_t *c, mmc_host_t *h, wl_vm_t *const *vms, size_t n,
                         unsigned secs, bal_obs_t *o) {
  const mmc_impl_t *im = sc_impl(c);
  wl_vm_t *a = vms[0];
  mmc_error_t err = {0};
  uint64_t prev = 0, t0 = cu_now_ns(), end = t0 + secs * RC_TICK_NS;
  wl_live_t *live = rc_live_start(c, vms, n);
  while (cu_now_ns() < end) {
    struct timespec ts = {0, bal_live_sample_ms * 1000000L};
    nanosleep(&ts, NULL);
    uint64_t tgt = 0;
    sc_require(c, im->balloon_target(h, a->id, &tgt, &err), &err, "balloon_target");
    wl_guest_stats_t now;
    wl_guest_stats(a, &now);
    bal_note(o, tgt, now.given - now.taken, &prev);
  }
  wl_live_stop(live);
  sc_require(c, wl_live_join(live, &err), &err, "guest vCPU thread");
  o->secs = (double)(cu_now_ns() - t0) / 1e9;
  wl_guest_stats_t gs;
  wl_guest_stats(a, &gs);
  uint64_t said = cu_vm_stats(c, h, a->id).ballooned_pages;
  if (said != gs.balloon) {
    o->mismatch = 1;
    o->seen_driver = gs.balloon;
    o->seen_stat = said;
  }
}

void case_bal_1(suite_ctx_t *c) {
  bool live = sc_clock(c) == MMC_CLOCK_LIVE;
  mmt_topology_t *t = rc_topo(c, bal_host_mib);
  mmc_host_t *h = sc_host(c, t, sc_clock(c), NULL, 0);
  bal_mincore(c, h);
  /* Part B: A (driver, 30 % free, 30 % page cache, balloon capped by
   * sched.mem.maxmemctl) and B (no driver, no free memory, high shares)
   * overcommit the host; A's entitlement is small, so its balloon target
   * hits the cap. */
  wl_guest_cfg_t ga = WL_GUEST_PAGE_CACHE;
  ga.anon_permille = 400;
  ga.cache_permille = 300;
  ga.boot_pages_per_step = 1024;
  ga.writes_per_step = 16;
  ga.reads_per_step = 16;
  ga.cache_reads_per_step = 8;
  ga.driver = true;
  wl_guest_cfg_t gb = WL_GUEST_NO_FREE;
  gb.boot_pages_per_step = 1024;
  gb.writes_per_step = 16;
  gb.reads_per_step = 16;
  uint64_t cap_pages = bal_cap_mib * PAGES_PER_MIB;
  wl_vm_t *a =
      rc_guest(c, h, "bal-a", bal_a_mib, MMC_SHARES_NORMAL, (int64_t)(cap_pages * 4096), &ga, 1);
  wl_vm_t *b = rc_guest(c, h, "bal-b", bal_b_mib, MMC_SHARES_HIGH, -1, &gb, 2);
  wl_vm_t *vms[2] = {a, b};
  mmc_error_t err = {0};
  uint64_t cursor = 0;
  bal_obs_t o = {0};
  cu_count_events(c, h, &cursor, MMC_EV_ERROR, 0);
  if (live)
    bal_run_live(c, h, vms, 2, bal_secs, &o);
  else
    bal_run_stepped(c, h, a, b, &o);
  wl_guest_stats_t gs;
  wl_guest_stats(a, &gs);
  uint64_t cap = a->truth.npages * 65 / 100 < cap_pages ? a->truth.npages * 65 / 100 : cap_pages;
  sc_check(c, o.max_target == cap && o.max_bal == cap,
           "BAL-2: balloon target and size reach the cap",
           "cap %llu (maxmemctl), max target %llu, max ballooned %llu", (unsigned long long)cap,
           (unsigned long long)o.max_target, (unsigned long long)o.max_bal);
  sc_check(c, o.max_target <= cap && o.max_bal <= cap,
           "BAL-2: never above min(CtlMaxPercent, maxmemctl)",
           "cap %llu, max target %llu, max ballooned %llu", (unsigned long long)cap,
           (unsigned long long)o.max_target, (unsigned long long)o.max_bal);
  /* Live: polls are the driver's, on workload time (CLOCK_MONOTONIC since
   * its thread started): one a second within one either way, as stepped. */
  sc_check(c, (double)gs.polls + 1 >= floor(o.secs) && (double)gs.polls <= ceil(o.secs) + 1,
           "BAL-3: the driver polls once a second", "%llu polls in %.2f %s seconds",
           (unsigned long long)gs.polls, o.secs, live ? "real" : "virtual");
  sc_check(c, o.moves <= gs.polls && o.max_step <= WL_GUEST_RATE_DEFAULT,
           "BAL-3: the balloon moves only at polls, by at most the driver's rate",
           "%llu changes for %llu polls, largest step %llu pages (rate %llu/s)",
           (unsigned long long)o.moves, (unsigned long long)gs.polls,
           (unsigned long long)o.max_step, WL_GUEST_RATE_DEFAULT);
  uint64_t cache_given = 0;
  for (uint64_t g = gs.anon_pages; g < gs.anon_pages + gs.cache_pages; g++)
    cache_given += wl_guest_is_ballooned(a, g);
  sc_check_int(c, "BAL-1: the guest gave free pages first (no cache page while free ones last)", 0,
               (long long)cache_given);
  sc_check_int(c, "BAL-1: no vCPU touched a ballooned page (no MMC_EV_ERROR)", 0,
               (long long)cu_count_events(c, h, &cursor, MMC_EV_ERROR, 0));
  mmc_vm_stats_t sa = cu_vm_stats(c, h, a->id);
  cu_crosscheck_vm(c, &sa, MMC_VMSTAT_BALLOONED,
                   live ? "BAL-3: the balloon's size once the guests stopped (the driver's count)"
                        : "BAL-3: the balloon's size at every step (the driver's count; first "
                          "difference)",
                   (long long)(o.mismatch ? o.seen_driver : gs.balloon),
                   (long long)(o.mismatch ? o.seen_stat : sa.ballooned_pages), 0);
  if (cu_reported_vm(c, &sa, MMC_VMSTAT_RESIDENT | MMC_VMSTAT_BALLOONED,
                     "BAL-1: frames of given pages (reported; part A probes them by mincore)"))
    sc_check(c, sa.resident_pages + sa.ballooned_pages <= a->truth.npages,
             "BAL-1: given pages hold no frame", "resident %llu + ballooned %llu > %llu",
             (unsigned long long)sa.resident_pages, (unsigned long long)sa.ballooned_pages,
             (unsigned long long)a->truth.npages);
  /* Memory comes back (B leaves): the balloon deflates; contents intact. */
  if (!live)
    wl_vm_exit_all(b);
  sc_require(c, wl_vm_shutdown(b, &err), &err, "power off B");
  if (live) {
    bal_obs_t d = {0};
    bal_run_live(c, h, &a, 1, 4, &d);
  } else {
    for (uint64_t k = 0; k < 4 * RC_TICK_NS / RC_STEP_NS; k++) {
      wl_stepped_cfg_t sc = {.duration_ns = RC_STEP_NS, .tick_ns = RC_STEP_NS, .advance = true};
      sc_require(c, wl_run_stepped(&a, 1, &sc, &err), &err, "wl_run_stepped");
    }
  }
  wl_guest_stats_t after;
  wl_guest_stats(a, &after);
  sc_check_int(c, "the balloon deflates once memory is plentiful (the driver holds no page)", 0,
               (long long)after.balloon);
  mmc_vm_stats_t sd = cu_vm_stats(c, h, a->id);
  cu_crosscheck_vm(c, &sd, MMC_VMSTAT_BALLOONED, "ballooned pages after the deflate", 0,
                   (long long)sd.ballooned_pages, 0);
  rc_verify_guest(c, a, NULL);
  sc_metric(c, "balloon_pages_given", "pages", "", (double)gs.given);
  if (!live)
    wl_vm_exit_all(a);
  wl_vm_destroy(a);
  sc_host_destroy(c, h);
  mmt_free(t);
}

/* ---------------------------------------------------------------- SWAP-1, SEC-2 */

static int rc_list(const char *dir, char names[][256], int max) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (e->d_name[0] != '.' && n < max)
      snprintf(names[n++], 256, "%.250s", e->d_name);
  if (d)
    closedir(d);
  return n;
}

static void swap1_refusals(suite_ctx_t *c, mmt_topology_t *t, const char *dir) {
  const mmc_impl_t *im = sc_impl(c);
  char path[PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/not-a-dir", dir);
  int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    sc_broken(c, "create %s: %s", path, strerror(errno));
  close(fd);
  /* A swap directory under a regular file: root cannot write there either. */
  char bad[PATH_MAX + 32];
  snprintf(bad, sizeof bad, "%s/sub", path);
  mmc_host_t *h = sc_host_swap(c, t, cu_clock(c), NULL, 0, bad);
  mmc_vm_config_t cfg = cu_vm("swap1-bad", 1, 16 * MIB);
  mmc_vm_id_t id = 0;
  mmc_error_t err = {0};
  int rc = im->vm_power_on(h, &cfg, &id, &err);
  sc_check(c, (rc == MMC_EADMISSION || rc == MMC_EIO) && err.msg[0],
           "SWAP-1: unwritable swap directory: power-on refused with a message", "rc %s: %s",
           mmc_status_name(rc), err.msg);
  sc_diag(c, "refusal: %s", err.msg);
  cu_crosscheck_value(c, "SWAP-1: the refused VM left nothing behind", "host_stats.nvms", 0,
                      cu_host_stats(c, h).nvms, 0);
  sc_host_destroy(c, h);
  unlink(path);
  /* Space short: a VM larger than the free space of the file system. */
  struct statvfs sv;
  if (statvfs(dir, &sv) != 0)
    sc_broken(c, "statvfs %s: %s", dir, strerror(errno));
  uint64_t room = (uint64_t)sv.f_bavail * sv.f_frsize;
  h = sc_host_swap(c, t, cu_clock(c), NULL, 0, dir);
  cfg = cu_vm("swap1-huge", 1, (room + room / 2 + MIB) / MMC_PAGE_SIZE * MMC_PAGE_SIZE);
  rc = im->vm_power_on(h, &cfg, &id, &err);
  sc_check(c, (rc == MMC_EADMISSION || rc == MMC_EIO) && err.msg[0],
           "SWAP-1: swap file larger than the free space: power-on refused", "rc %s: %s",
           mmc_status_name(rc), err.msg);
  char names[4][256];
  sc_check_int(c, "SWAP-1: nothing left in the swap directory", 0, rc_list(dir, names, 4));
  if (rc == 0)
    im->vm_power_off(h, id, NULL);
  sc_host_destroy(c, h);
}

void case_swap_1(suite_ctx_t *c) {
  const mmc_impl_t *im = sc_impl(c);
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s/mmcert-swap1-XXXXXX", mmc_tmpdir());
  if (!mkdtemp(dir))
    sc_broken(c, "cannot make a directory in %s ($TMPDIR, else /tmp): %s", mmc_tmpdir(),
              strerror(errno));
  mmt_topology_t *t = rc_topo(c, 64);
  mmc_host_t *h = sc_host_swap(c, t, cu_clock(c), NULL, 0, dir);
  mmc_vm_config_t a = cu_vm("swap1-a", 1, 64 * MIB), b = cu_vm("swap1-b", 1, 32 * MIB);
  a.reservation_bytes = 16 * MIB;
  mmc_vm_id_t ia = cu_power_on(c, h, &a);
  char names[8][256];
  int n = rc_list(dir, names, 8);
  sc_check_int(c, "SWAP-1: one swap file per VM, created at power-on", 1, n);
  if (n == 1) {
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", dir, names[0]);
    struct stat st;
    sc_check(c, stat(path, &st) == 0 && S_ISREG(st.st_mode), "the swap file is a regular file",
             "%s", path);
    sc_check_int(c, "SEC-2: swap file mode is 0600", 0600, (long long)(st.st_mode & 07777));
    sc_check_int(c, "SEC-2: swap file owned by the host process's user", (long long)getuid(),
                 (long long)st.st_uid);
    sc_check_int(c, "SWAP-1: swap file size is configured - reservation",
                 (long long)(a.memory_bytes - a.reservation_bytes), (long long)st.st_size);
  }
  mmc_vm_id_t ib = cu_power_on(c, h, &b);
  sc_check_int(c, "SWAP-1: a second VM gets its own file", 2, rc_list(dir, names, 8));
  mmc_error_t err = {0};
  sc_require(c, im->vm_power_off(h, ia, &err), &err, "power off");
  sc_check_int(c, "SWAP-1: power-off removes the VM's swap file", 1, rc_list(dir, names, 8));
  sc_require(c, im->vm_power_off(h, ib, &err), &err, "power off");
  sc_check_int(c, "SEC-2: no file left in the swap directory", 0, rc_list(dir, names, 8));
  sc_host_destroy(c, h);
  swap1_refusals(c, t, dir);
  rmdir(dir);
  mmt_free(t);
}

/* ---------------------------------------------------------------- SWAP-2, SWAP-3 */

/* The driver VM (60 % free) is small enough that its balloon covers its
 * excess in one poll; the other VM's excess can only be swapped. The driver
 * VM starts a second after the other, so that its excess arises while the
 * host is already hard: its balloon is preferred there too (SWAP-3). */
enum { swap2_host_mib = 128, swap2_vm_mib = 96, swap2_drv_mib = 64, swap2_secs = 8 };

/* How long the host stayed in the hard/low states, from its state events
 * (their host-clock times): entries, the longest stretch. */
typedef struct swap2_hard {
  bool in_hard;
  uint64_t since, longest, entries;
} swap2_hard_t;

static void swap2_events(suite_ctx_t *c, mmc_host_t *h, uint64_t *cursor, swap2_hard_t *hd) {
  mmc_event_t ev[64];
  size_t n;
  while ((n = sc_impl(c)->events_read(h, cursor, ev, 64)) > 0)
    for (size_t i = 0; i < n; i++) {
      if (ev[i].type != MMC_EV_STATE_CHANGE)
        continue;
      bool hard = ev[i].node_to >= MMC_STATE_HARD;
      if (hard && !hd->in_hard) {
        hd->entries++;
        hd->since = ev[i].time_ns;
      } else if (!hard && hd->in_hard && ev[i].time_ns - hd->since > hd->longest) {
        hd->longest = ev[i].time_ns - hd->since;
      }
      hd->in_hard = hard;
    }
}

/* Stepped: 100 ms steps with the clock advanced, the driver VM a second
 * late. */
static void swap2_run_stepped(suite_ctx_t *c, mmc_host_t *h, wl_vm_t *nd, wl_vm_t *dr,
                              swap2_hard_t *hd) {
  wl_vm_t *vms[2] = {nd, dr};
  mmc_error_t err = {0};
  uint64_t cursor = 0;
  sc_require(c, wl_vm_enter_all(nd, &err), &err, "enter");
  sc_require(c, wl_vm_enter_all(dr, &err), &err, "enter");
  for (uint64_t k = 0; k < swap2_secs * RC_TICK_NS / RC_STEP_NS; k++) {
    wl_stepped_cfg_t sc = {.duration_ns = RC_STEP_NS, .tick_ns = RC_STEP_NS, .advance = true};
    bool late = k < RC_TICK_NS / RC_STEP_NS; /* the driver VM waits its second */
    sc_require(c, wl_run_stepped(vms, late ? 1 : 2, &sc, &err), &err, "wl_run_stepped");
    swap2_events(c, h, &cursor, hd);
  }
  wl_vm_exit_all(nd);
  wl_vm_exit_all(dr);
}

/* Live: the same on the guests' own vCPU threads in real time, a step per
 * 100 ms (rc_live_start), the driver VM's threads a second after the
 * other's; events read every 50 ms, their times are the host's. */
static void swap2_run_live(suite_ctx_t *c, mmc_host_t *h, wl_vm_t *nd, wl_vm_t *dr,
                           swap2_hard_t *hd) {
  mmc_error_t err = {0};
  wl_live_t *l2 = NULL;
  uint64_t cursor = 0, t0 = cu_now_ns();
  wl_live_t *l1 = rc_live_start(c, &nd, 1);
  for (uint64_t now = t0; now < t0 + swap2_secs * RC_TICK_NS; now = cu_now_ns()) {
    if (!l2 && now >= t0 + RC_TICK_NS)
      l2 = rc_live_start(c, &dr, 1);
    struct timespec ts = {0, 50000000L};
    nanosleep(&ts, NULL);
    swap2_events(c, h, &cursor, hd);
  }
  wl_live_stop(l1);
  if (l2)
    wl_live_stop(l2);
  sc_require(c, wl_live_join(l1, &err), &err, "guest vCPU thread");
  if (l2)
    sc_require(c, wl_live_join(l2, &err), &err, "guest vCPU thread");
}

/* Pages a VM's statistics say left memory by host swapping or compression;
 * *known false when part of that is unobserved (compressed pages an
 * implementation counts among swapped ones, or not at all). */
static uint64_t swap2_out(const mmc_vm_stats_t *s, bool *exact) {
  *exact = !(s->unobserved & (MMC_VMSTAT_SWAPPED | MMC_VMSTAT_COMPRESSED));
  return (s->unobserved & MMC_VMSTAT_SWAPPED ? 0 : s->swapped_pages) +
         (s->unobserved & MMC_VMSTAT_COMPRESSED ? 0 : s->compressed_pages);
}

void case_swap_2(suite_ctx_t *c) {
  mmt_topology_t *t = rc_topo(c, swap2_host_mib);
  mmc_host_t *h = sc_host(c, t, sc_clock(c), NULL, 0);
  wl_guest_cfg_t gn = WL_GUEST_NO_FREE, gd = WL_GUEST_FREE_MEMORY;
  gn.boot_pages_per_step = gd.boot_pages_per_step = 512;
  gn.writes_per_step = gd.writes_per_step = 16;
  gn.reads_per_step = gd.reads_per_step = 16;
  gd.driver = true;
  gd.rate_pages_per_s = 16384;
  wl_vm_t *nd = rc_guest(c, h, "swap2-nodriver", swap2_vm_mib, MMC_SHARES_NORMAL, -1, &gn, 3);
  wl_vm_t *dr = rc_guest(c, h, "swap2-driver", swap2_drv_mib, MMC_SHARES_NORMAL, -1, &gd, 4);
  /* SWAP-2's "requested amount": what the hard/low states ask for. Measure
   * from the state-change events how long the host stays there (it must get
   * out by swapping: one VM has no driver, the other's balloon is slow). */
  swap2_hard_t hd = {0};
  uint64_t cursor = 0;
  if (sc_clock(c) == MMC_CLOCK_LIVE)
    swap2_run_live(c, h, nd, dr, &hd);
  else
    swap2_run_stepped(c, h, nd, dr, &hd);
  bool end_hard = cu_host_stats(c, h).mem_state >= MMC_STATE_HARD;
  mmc_vm_stats_t sn = cu_vm_stats(c, h, nd->id), sd = cu_vm_stats(c, h, dr->id);
  sc_diag(c, "no driver: resident %llu target %llu swapped %llu compressed %llu",
          (unsigned long long)sn.resident_pages, (unsigned long long)sn.target_pages,
          (unsigned long long)sn.swapped_pages, (unsigned long long)sn.compressed_pages);
  sc_diag(c, "driver: resident %llu target %llu ballooned %llu swapped %llu compressed %llu",
          (unsigned long long)sd.resident_pages, (unsigned long long)sd.target_pages,
          (unsigned long long)sd.ballooned_pages, (unsigned long long)sd.swapped_pages,
          (unsigned long long)sd.compressed_pages);
  /* Which VM was swapped and which ballooned is read from the statistics:
   * no probe here tells a swapped page from a compressed or ballooned one
   * (its frame is gone either way). Swapped and
   * compressed pages are counted together: a decision needs only as much of
   * them as the implementation observes (an implementation counting
   * compressed pages among the swapped ones marks compressed unobserved). */
  const uint64_t bal_bits = MMC_VMSTAT_BALLOONED | MMC_VMSTAT_BALLOON_TARGET;
  bool reported = cu_reported_vm(c, &sn, bal_bits, "SWAP-2/3 which reclamation each VM got") &&
                  cu_reported_vm(c, &sd, bal_bits, "SWAP-2/3 which reclamation each VM got");
  bool exact_n = false, exact_d = false;
  uint64_t out_n = swap2_out(&sn, &exact_n), out_d = swap2_out(&sd, &exact_d);
  bool swapped_ok = out_n > 0 && sn.balloon_target_pages == 0;
  if (reported && (swapped_ok || exact_n || sn.balloon_target_pages))
    sc_check(c, swapped_ok, "SWAP-2/3: the VM without a driver is swapped, never asked to balloon",
             "swapped %llu compressed %llu balloon target %llu",
             (unsigned long long)sn.swapped_pages, (unsigned long long)sn.compressed_pages,
             (unsigned long long)sn.balloon_target_pages);
  else if (reported)
    cu_not_shown(c, "SWAP-2/3: the VM without a driver lost no page the implementation can count "
                    "(swapped_pages 0, compressed_pages unobserved)");
  mmc_host_stats_t hs2 = cu_host_stats(c, h);
  if (cu_reported_host(c, &hs2, MMC_HOSTSTAT_MEM_STATE, "SWAP-2 time in the hard/low states") &&
      cu_reported_events(c, h, 1ull << MMC_EV_STATE_CHANGE, "SWAP-2 time in the hard/low states"))
    sc_check(c, hd.entries > 0 && hd.longest <= 2 * RC_TICK_NS && !end_hard,
             "SWAP-2: the host leaves the hard/low states within 2 s, without guest help",
             "entered hard/low %llu times, longest stretch %.1f s, still there at the end: %s",
             (unsigned long long)hd.entries, hd.longest / 1e9, end_hard ? "yes" : "no");
  /* Ballooned and not swapped: no balloon, or a swapped page, decides it
   * alone; "none swapped" needs every such page observed. */
  bool ballooned_only = sd.ballooned_pages > 0 && out_d == 0;
  if (reported && (!ballooned_only || exact_d))
    sc_check(c, ballooned_only,
             "SWAP-3: the VM with a fast enough driver is ballooned, not swapped",
             "ballooned %llu swapped %llu compressed %llu", (unsigned long long)sd.ballooned_pages,
             (unsigned long long)sd.swapped_pages, (unsigned long long)sd.compressed_pages);
  else if (reported)
    cu_not_shown(c, "SWAP-3: the driver VM was ballooned and none of it swapped, but whether any "
                    "was compressed the implementation does not observe");
  uint64_t outs = cu_count_events(c, h, &cursor, MMC_EV_SWAP_OUT, nd->id);
  /* Reading everything back needs frames; the pools are full, so a
   * swap-in may take memory from the other VM (direct reclaim). */
  rc_verify_guest(c, dr, NULL);
  rc_verify_guest(c, nd, NULL);
  /* Stepped, nothing else runs during the walk, so the VM's swapped count
   * must fall; live, reclamation goes on meanwhile (the host is still over
   * its memory) and the count says nothing: the contents checked above are
   * what shows the pages came back. */
  if (reported && !(sn.unobserved & MMC_VMSTAT_SWAPPED) && sc_clock(c) == MMC_CLOCK_STEPPED)
    sc_check(c, cu_vm_stats(c, h, nd->id).swapped_pages < sn.swapped_pages || sn.swapped_pages == 0,
             "SWAP-2: pages read back were swapped in", "swapped %llu before the walk",
             (unsigned long long)sn.swapped_pages);
  sc_metric(c, "swap_out_events", "events", "", (double)outs);
  wl_vm_destroy(nd);
  wl_vm_destroy(dr);
  sc_host_destroy(c, h);
  mmt_free(t);
}

/* ---------------------------------------------------------------- ZIP-1 */

/* One host: a VM writes pages until the host is below half of minFree,
 * one second of reclamation passes (rc_reclaim_second), the contents are
 * checked. False, after cu_not_shown, when a setting of the part is not
 * honoured. */
static bool zip_run(suite_ctx_t *c, mmt_topology_t *t, bool compressible,
                    const mmc_setting_value_t *s, size_t ns, bool squeeze, uint64_t *npages,
                    mmc_vm_stats_t *st) {
  mmc_host_t *h = rc_host_set(c, t, s, ns, "ZIP-1");
  if (!h)
    return false;
  uint64_t cap = rc_capacity(c, h), mf = cu_host_stats(c, h).min_free_pages;
  if (squeeze) { /* a reserved idle VM: the writer's entitlement shrinks, its excess grows */
    mmc_vm_config_t r = cu_vm("zip1-reserved", 1, cap / 2 * MMC_PAGE_SIZE);
    r.reservation_bytes = r.memory_bytes;
    cu_power_on(c, h, &r);
  }
  mmc_vm_id_t vm = rc_vm(c, h, "zip1", cap * 3 / 2, false);
  void **ptrs = calloc(cap * 3 / 2, sizeof *ptrs);
  if (!ptrs)
    sc_broken(c, "out of memory for page pointers");
  uint64_t n = rc_write_ptrs(c, h, vm, cap * 3 / 2, 11, compressible, mf / 2, ptrs);
  rc_reclaim_second(c, h, ptrs, n);
  free(ptrs);
  *st = cu_vm_stats(c, h, vm);
  char name[128];
  snprintf(name, sizeof name, "%s pages intact after swap-in/decompression",
           compressible ? "compressible" : "incompressible");
  sc_check_int(c, name, 0, (long long)rc_bad(c, h, vm, n, 11, compressible));
  sc_host_destroy(c, h);
  *npages = cap * 3 / 2;
  return true;
}

/* Where the victims went (compression cache or swap file) is read from the
 * statistics: their frames leave memory either way, and no probe here tells
 * a compressed page from a swapped one. */
static bool zip_reported(suite_ctx_t *c, const mmc_vm_stats_t *s) {
  return cu_reported_vm(c, s, MMC_VMSTAT_COMPRESSED | MMC_VMSTAT_SWAPPED,
                        "ZIP-1 compressed against swapped pages");
}

void case_zip_1(suite_ctx_t *c) {
  mmt_topology_t *t = rc_topo(c, 64);
  uint64_t np = 0;
  mmc_vm_stats_t s;
  /* Where pages went is a report: without it the other parts show nothing
   * either (the contents of the first are still checked). */
  if (!zip_run(c, t, true, NULL, 0, false, &np, &s) || !zip_reported(c, &s))
    goto out;
  sc_check(c, s.compressed_pages > 0 && s.swapped_pages == 0,
           "ZIP-1: compressible pages go to the compression cache, not to disk",
           "compressed %llu swapped %llu", (unsigned long long)s.compressed_pages,
           (unsigned long long)s.swapped_pages);
  if (zip_run(c, t, false, NULL, 0, false, &np, &s) && zip_reported(c, &s))
    sc_check(c, s.compressed_pages == 0 && s.swapped_pages > 0,
             "ZIP-1: incompressible pages go to the swap file", "compressed %llu swapped %llu",
             (unsigned long long)s.compressed_pages, (unsigned long long)s.swapped_pages);
  mmc_setting_value_t cap5[] = {{"Mem.MemZipMaxPct", 5}};
  if (zip_run(c, t, true, cap5, 1, true, &np, &s) && zip_reported(c, &s)) {
    uint64_t cap_slots = np * MMC_PAGE_SIZE * 5 / 100 / 2048;
    sc_check(c, s.compressed_pages > 0 && s.compressed_pages <= cap_slots && s.swapped_pages > 0,
             "ZIP-1: the cache stays within Mem.MemZipMaxPct (5 %); the rest goes to disk",
             "compressed %llu (cap %llu pages of 2 KB) swapped %llu",
             (unsigned long long)s.compressed_pages, (unsigned long long)cap_slots,
             (unsigned long long)s.swapped_pages);
  }
  mmc_setting_value_t off[] = {{"Mem.MemZipEnable", 0}};
  if (zip_run(c, t, true, off, 1, false, &np, &s) && zip_reported(c, &s))
    sc_check(c, s.compressed_pages == 0 && s.swapped_pages > 0,
             "Mem.MemZipEnable=0: no compression, pages are swapped",
             "compressed %llu swapped %llu", (unsigned long long)s.compressed_pages,
             (unsigned long long)s.swapped_pages);
out:
  mmt_free(t);
}

/* ---------------------------------------------------------------- fault injection */

/* SWAP-2 "pages are chosen at random", probed. Each walk reads every page of
 * the VM (read access: swapped pages come back), keeping the pointer page()
 * gave; a virtual second of reclamation follows; then the pages whose frame
 * has left memory (mincore on those pointers: a victim's frame is given back,
 * or, when the hardware translates, its page is no longer present) are the
 * victims, found without asking the implementation. An implementation may
 * take victims in clusters (the reference takes runs of up to 64 pages from
 * random starts), so what must be uniform is where the clusters start: a
 * victim with no other victim in the swap2_gap pages before it starts one.
 * Over swap2_walks walks every eighth of the VM must hold at least the count
 * bound_spread_min gives, derived from Binomial(starts, 1/8) for a false
 * failure <= BOUND_ALPHA (suite/bounds.h; tests/unit/test_bounds.c shows
 * the rate on a model of uniformly random cluster starts). A policy taking
 * pages in address order, or any region it prefers, leaves some eighth
 * empty. The implementation's swapped_pages is only cross-checked against
 * the victims seen. */
enum { swap2_parts = 8, swap2_walks = 4, swap2_gap = 16 };

/* Read pages [0, n) of vm, keeping their pointers. */
static void swap2_walk(suite_ctx_t *c, mmc_host_t *h, mmc_vm_id_t vm, uint64_t n, void **ptrs) {
  const mmc_impl_t *im = sc_impl(c);
  mmc_vcpu_t *v = NULL;
  mmc_error_t err = {0};
  sc_require(c, im->vcpu_enter(h, vm, 0, &v, &err), &err, "vcpu_enter");
  for (uint64_t g = 0; g < n; g++) {
    if (!(ptrs[g] = cu_page(im, v, g, false, &err)))
      sc_broken(c, "read page %llu: %s", (unsigned long long)g, err.msg);
    im->quiesce(v);
  }
  im->vcpu_exit(v);
}

/* Pages of [0, n) whose frame left memory since ptrs[] was taken; cluster
 * starts counted per part. */
static uint64_t swap2_victims(suite_ctx_t *c, void *const *ptrs, uint64_t n,
                              uint64_t parts[swap2_parts], uint64_t *starts) {
  uint64_t victims = 0, last = UINT64_MAX;
  for (uint64_t g = 0; g < n; g++) {
    uint64_t r = 1;
    mmc_error_t err = {0};
    sc_require(c, probe_mincore(ptrs[g], MMC_PAGE_SIZE, &r, NULL, &err), &err, "mincore");
    if (r)
      continue;
    victims++;
    if (last == UINT64_MAX || g - last > swap2_gap) {
      parts[g * swap2_parts / n]++;
      (*starts)++;
    }
    last = g;
  }
  return victims;
}

/* After pages [0, n) of vm were written (their pointers in ptrs) and a
 * reclamation second passed: the victims, walk after walk. */
static void swap2_check_spread(suite_ctx_t *c, mmc_host_t *h, mmc_vm_id_t vm, uint64_t n,
                               void **ptrs) {
  uint64_t parts[swap2_parts] = {0}, starts = 0, victims = 0;
  for (int w = 0; w < swap2_walks; w++) {
    if (w > 0) {
      swap2_walk(c, h, vm, n, ptrs);
      rc_reclaim_second(c, h, ptrs, n);
    }
    uint64_t got = swap2_victims(c, ptrs, n, parts, &starts);
    victims += got;
    mmc_vm_stats_t st = cu_vm_stats(c, h, vm);
    char name[160];
    snprintf(name, sizeof name, "SWAP-2 walk %d: pages out of memory (swapped + compressed)", w);
    cu_crosscheck_vm(c, &st, MMC_VMSTAT_SWAPPED, name, (long long)got,
                     (long long)(st.swapped_pages + st.compressed_pages), 0);
  }
  uint64_t least = UINT64_MAX, need = bound_spread_min(starts, swap2_parts, BOUND_ALPHA);
  char spread[swap2_parts * 24] = "";
  for (size_t i = 0, used = 0; i < swap2_parts && used < sizeof spread; i++) {
    least = parts[i] < least ? parts[i] : least;
    used += (size_t)snprintf(spread + used, sizeof spread - used, " %llu",
                             (unsigned long long)parts[i]);
  }
  sc_diag(c, "%d walks: %llu victims (mincore), %llu cluster starts, per eighth%s", swap2_walks,
          (unsigned long long)victims, (unsigned long long)starts, spread);
  sc_check(c, need > 0, "SWAP-2: enough cluster starts for the spread to mean something (premise)",
           "%llu starts: even an empty eighth is not rare enough", (unsigned long long)starts);
  char name[200];
  snprintf(name, sizeof name,
           "SWAP-2: victims are spread over the whole VM (random): every eighth holds >= %llu "
           "of %llu cluster starts (false failure <= %g)",
           (unsigned long long)need, (unsigned long long)starts, BOUND_ALPHA);
  sc_check(c, least >= need, name,
           "cluster starts per eighth%s; the least %llu is below %llu, which uniformly random "
           "starts undershoot with probability <= %g",
           spread, (unsigned long long)least, (unsigned long long)need, BOUND_ALPHA);
}

void case_swap_enospc(suite_ctx_t *c) {
  const mmc_impl_t *im = sc_impl(c);
  mmt_topology_t *t = rc_topo(c, 64);
  mmc_setting_value_t s[] = {{"Mem.MemZipEnable", 0}};
  mmc_host_t *h = sc_host(c, t, sc_clock(c), s, 1);
  mmc_error_t err = {0};
  mmc_fault_t fault = {.kind = MMC_FAULT_SWAP_WRITE, .count = 1000000, .error = ENOSPC};
  int rc = im->inject_fault(h, &fault, &err);
  if (rc == MMC_ENOTSUP) /* a kind the implementation lacks (impl.h allows it) */
    sc_skip(c, "needs MMC_FAULT_SWAP_WRITE injection: %s", err.msg);
  sc_require(c, rc, &err, "inject_fault(swap write, ENOSPC)");
  uint64_t cap = rc_capacity(c, h), mf = cu_host_stats(c, h).min_free_pages, cursor = 0;
  mmc_vm_id_t vm = rc_vm(c, h, "enospc", cap * 3 / 2, false);
  void **ptrs = calloc(cap * 3 / 2, sizeof *ptrs);
  if (!ptrs)
    sc_broken(c, "out of memory for page pointers");
  uint64_t n = rc_write_ptrs(c, h, vm, cap * 3 / 2, 21, false, mf / 2, ptrs);
  cu_count_events(c, h, &cursor, MMC_EV_ERROR, 0);
  rc_reclaim_second(c, h, ptrs, n); /* live: the whole 2 s bound, as nothing may leave */
  uint64_t parts[swap2_parts] = {0}, starts = 0;
  uint64_t gone = swap2_victims(c, ptrs, n, parts, &starts);
  sc_check_int(c, "ENOSPC while swapping: every page stays in memory (mincore)", 0,
               (long long)gone);
  mmc_vm_stats_t st = cu_vm_stats(c, h, vm);
  cu_crosscheck_vm(c, &st, MMC_VMSTAT_SWAPPED, "ENOSPC: no page swapped", 0,
                   (long long)st.swapped_pages, 0);
  if (cu_reported_events(c, h, 1ull << MMC_EV_ERROR, "ENOSPC reported"))
    sc_check(c, cu_count_events(c, h, &cursor, MMC_EV_ERROR, vm) > 0,
             "ENOSPC while swapping: reported as MMC_EV_ERROR", "no error event");
  sc_check_int(c, "ENOSPC while swapping: nothing lost", 0,
               (long long)rc_bad(c, h, vm, n, 21, false));
  fault.count = MMC_FAULT_CLEAR;
  sc_require(c, im->inject_fault(h, &fault, &err), &err, "inject_fault(clear)");
  rc_reclaim_second(c, h, ptrs, n);
  memset(parts, 0, sizeof parts);
  starts = 0;
  gone = swap2_victims(c, ptrs, n, parts, &starts);
  sc_check(c, gone > 0, "once writes work again, swapping resumes (pages leave memory, mincore)",
           "none of %llu pages left memory", (unsigned long long)n);
  swap2_check_spread(c, h, vm, n, ptrs); /* every page was resident when it was swapped */
  sc_check_int(c, "and contents are intact after swap-in", 0,
               (long long)rc_bad(c, h, vm, n, 21, false));
  free(ptrs);
  sc_host_destroy(c, h);
  mmt_free(t);
}

/* ---------------------------------------------------------------- TPS-7 */

/* Write pages [0, n) of vm all with the same content (page 0 of `tag`), until
 * the host is down to stop_free; each page's pointer goes to ptrs[g]. Returns
 * pages written. */
static uint64_t tps7_write(suite_ctx_t *c, mmc_host_t *h, mmc_vm_id_t vm, uint64_t n,
                           uint64_t stop_free, bool compressible, void **ptrs) {
  const mmc_impl_t *im = sc_impl(c);
  mmc_vcpu_t *v = NULL;
  mmc_error_t err = {0};
  sc_require(c, im->vcpu_enter(h, vm, 0, &v, &err), &err, "vcpu_enter");
  uint64_t g = 0;
  for (; g < n && (g % 64 || !stop_free || rc_free(c, h) > stop_free); g++) {
    uint8_t *p = cu_page(im, v, g, true, &err);
    if (!p) {
      im->vcpu_exit(v);
      sc_broken(c, "write page %llu: %s", (unsigned long long)g, err.msg);
    }
    rc_fill(p, 0, 31, compressible);
    ptrs[g] = p;
    im->quiesce(v);
  }
  im->vcpu_exit(v);
  return g;
}

/* Read every page back, checking its content; count the pages that share a
 * frame with another page (frame identity, read before each quiesce) and
 * the frames merging saved (pages on a shared frame less those frames: one
 * shared frame per node when the VM spans several). */
static void tps7_read_back(suite_ctx_t *c, mmc_host_t *h, mmc_vm_id_t vm, uint64_t n,
                           bool compressible, cu_frames_t *fr, uint64_t *bad, uint64_t *merged,
                           uint64_t *saved) {
  const mmc_impl_t *im = sc_impl(c);
  mmc_vcpu_t *v = NULL;
  mmc_error_t err = {0};
  uint8_t want[MMC_PAGE_SIZE];
  rc_fill(want, 0, 31, compressible);
  uint64_t *ids = calloc(n ? n : 1, sizeof *ids);
  if (!ids)
    sc_broken(c, "out of memory for %llu frame ids", (unsigned long long)n);
  sc_require(c, im->vcpu_enter(h, vm, 0, &v, &err), &err, "vcpu_enter");
  for (uint64_t g = 0; g < n; g++) {
    const uint8_t *p = cu_page(im, v, g, false, &err);
    if (!p)
      sc_broken(c, "read page %llu: %s", (unsigned long long)g, err.msg);
    *bad += memcmp(p, want, MMC_PAGE_SIZE) != 0;
    ids[g] = fr ? cu_frame_of(c, fr, p) : 0;
    im->quiesce(v);
  }
  im->vcpu_exit(v);
  qsort(ids, n, sizeof *ids, rc_cmp_u64);
  *merged = *saved = 0;
  for (uint64_t i = 0; i < n;) {
    uint64_t j = i;
    while (j < n && ids[j] == ids[i])
      j++;
    if (ids[i] && j - i > 1) {
      *merged += j - i;
      *saved += j - i - 1;
    }
    i = j;
  }
  free(ids);
}

/* One TPS-7 host: a VM whose every page holds the same content overfills
 * it; one second of reclamation (rc_reclaim_second); then the pages that
 * share a frame must account for every frame released. The scanner is
 * slowed down (one pass per 600 min): what is shared in that second comes
 * from sharing tried on the reclamation victims themselves. An
 * implementation that does not honour Mem.ShareScanTime is slowed by the
 * host budget instead: Mem.ShareScanGHz=1 on a host of 1 MHz a core (a
 * page or so a second; the kernel's KSM, at its floor of one page per
 * wake-up, needs minutes for one pass over the VM); one that honours
 * neither cannot be shown (a merge could be its scanner's). */
static void tps7_run(suite_ctx_t *c, bool zip, bool compressible, const char *label) {
  mmt_topology_t *t = rc_topo(c, 64);
  mmc_setting_value_t s[] = {
      {"Mem.MemZipEnable", zip}, {"Mem.ShareForceSalting", 0}, {"Mem.ShareScanTime", 600}};
  mmc_host_t *h = NULL;
  if (sc_clock(c) == MMC_CLOCK_STEPPED) {
    h = sc_host(c, t, MMC_CLOCK_STEPPED, s, 3);
  } else {
    t->desc.cpu_mhz = 1;
    if (!(h = rc_host_set(c, t, s, 1, label))) {
      mmt_free(t);
      return;
    }
    const mmc_impl_t *im = sc_impl(c);
    mmc_error_t err = {0};
    int rc = im->setting_set(h, "Mem.ShareForceSalting", 0, &err);
    if (rc != 0 && (rc != MMC_ENOTSUP || (im->capabilities & MMC_CAP_SALTING)))
      sc_require(c, rc, &err, "Mem.ShareForceSalting");
    if (im->setting_set(h, "Mem.ShareScanTime", 600, &err) != 0 &&
        im->setting_set(h, "Mem.ShareScanGHz", 1, &err) != 0) {
      cu_not_shown(c,
                   "%s: TPS-7: the implementation honours neither Mem.ShareScanTime nor "
                   "Mem.ShareScanGHz, so its scanner cannot be slowed and a merge could be its "
                   "scanner's rather than sharing tried before swapping",
                   label);
      sc_host_destroy(c, h);
      mmt_free(t);
      return;
    }
  }
  cu_frames_t fr;
  bool frames = cu_frames_init(c, &fr, "TPS-7 (which pages share a frame)");
  uint64_t cap = rc_capacity(c, h), mf = cu_host_stats(c, h).min_free_pages;
  mmc_vm_id_t a = rc_vm(c, h, "tps7", cap * 3 / 2, false);
  void **ptrs = calloc(cap * 3 / 2, sizeof *ptrs);
  if (!ptrs)
    sc_broken(c, "out of memory for page pointers");
  uint64_t n = tps7_write(c, h, a, cap * 3 / 2, mf / 2, compressible, ptrs);
  rc_reclaim_second(c, h, ptrs, n);
  uint64_t released = rc_released(c, ptrs, n), bad = 0, merged = 0, saved = 0;
  tps7_read_back(c, h, a, n, compressible, frames ? &fr : NULL, &bad, &merged, &saved);
  char name[200];
  snprintf(name, sizeof name, "%s: reclamation released frames (premise; mincore, pagemap)", label);
  sc_check(c, released > 0, name, "none of %llu pages left memory in one second",
           (unsigned long long)n);
  if (frames) {
    /* k pages merged onto one frame release k - 1 frames: every released
     * frame is accounted for by merging when the frames saved cover it. */
    snprintf(name, sizeof name,
             "%s: TPS-7: the victims, all with identical twins, were shared, not swapped or "
             "compressed (%s)",
             label, cu_frames_name(&fr));
    sc_check(c, saved > 0 && saved >= released, name,
             "%llu frames released, merging saved %llu (%llu pages on shared frames): %lld went "
             "another way",
             (unsigned long long)released, (unsigned long long)saved, (unsigned long long)merged,
             (long long)released - (long long)saved);
    mmc_vm_stats_t sa = cu_vm_stats(c, h, a);
    snprintf(name, sizeof name, "%s: shared_pages", label);
    cu_crosscheck_vm(c, &sa, MMC_VMSTAT_SHARED, name, (long long)merged, (long long)sa.shared_pages,
                     1);
    cu_frames_free(&fr);
  }
  snprintf(name, sizeof name, "%s: TPS-7: contents intact", label);
  sc_check_int(c, name, 0, (long long)bad);
  free(ptrs);
  sc_host_destroy(c, h);
  mmt_free(t);
}

void case_tps_7(suite_ctx_t *c) {
  tps7_run(c, false, false, "Mem.MemZipEnable=0");
  /* The default settings: compression on. Sharing comes before compression
   * too (ZIP-1 compresses "before swapping"; TPS-7 shares before either). */
  tps7_run(c, true, false, "Mem.MemZipEnable=1 (default), incompressible");
  tps7_run(c, true, true, "Mem.MemZipEnable=1 (default), compressible");
}

/* ---------------------------------------------------------------- INT-1 full form */

enum { int1f_vms = 8, int1f_host_mib = 64 };
#define INT1F_QUICK_NS 3000000000ull
#define INT1F_FULL_NS 30000000000ull

void case_int_1_full(suite_ctx_t *c) {
  const mmc_impl_t *im = sc_impl(c);
  const mmt_topology_t *run = sc_topology(c);
  /* Two nodes so move_range moves pages too; an implementation that runs
   * only on real nodes gets the run's topology as it is (no move then). */
  bool own = run->desc.nnodes < 2 && !(im->capabilities & MMC_CAP_REAL_NODES_ONLY);
  mmt_topology_t *t = own ? cu_topology(c, "builtin:2") : cu_run_topology_copy(c);
  mmc_error_t err = {0};
  if (cu_total_memory(&t->desc) > int1f_host_mib * MIB)
    sc_require(c, mmt_cap_memory(t, int1f_host_mib * MIB, &err), &err, "capping host memory");
  mmc_host_t *h = sc_host(c, t, MMC_CLOCK_LIVE, NULL, 0);
  uint64_t cap = rc_capacity(c, h);
  /* 8 VMs of a quarter of the host each: 2x overcommitted. */
  uint64_t mib = cap / PAGES_PER_MIB / 4;
  wl_vm_t *vms[int1f_vms];
  for (int k = 0; k < int1f_vms; k++) {
    wl_guest_cfg_t g = k % 2 ? WL_GUEST_NO_FREE : WL_GUEST_PAGE_CACHE;
    g.writes_per_step = 8;
    g.reads_per_step = 8;
    g.cache_reads_per_step = 4;
    g.boot_pages_per_step = 256;
    g.driver = k % 2 == 0;
    g.poll_ns = 100000000ull; /* live: poll every 100 ms so the balloon moves in a short run */
    vms[k] = rc_guest(c, h, "int1f", mib, MMC_SHARES_NORMAL, -1, &g, 100 + (uint64_t)k);
  }
  wl_live_t *live = NULL;
  wl_live_cfg_t lc = {0};
  uint64_t cursor = 0;
  sc_require(c, wl_live_start(&live, vms, int1f_vms, &lc, &err), &err, "wl_live_start");
  uint64_t deadline =
      cu_now_ns() + (sc_mode(c) == SUITE_MODE_FULL ? INT1F_FULL_NS : INT1F_QUICK_NS);
  uint64_t rng = sc_seed(c) ^ 0x1417f, moved = 0, moves = 0;
  while (cu_now_ns() < deadline) {
    if ((im->capabilities & MMC_CAP_MOVE_RANGE) && t->desc.nnodes >= 2) {
      wl_vm_t *vm = vms[cu_rand(&rng) % int1f_vms];
      uint64_t at = cu_rand(&rng) % vm->truth.npages, m = 0;
      uint64_t cnt = vm->truth.npages - at < 256 ? vm->truth.npages - at : 256;
      if (im->move_range(h, vm->id, at, cnt, (uint32_t)(cu_rand(&rng) % t->desc.nnodes), &m,
                         NULL) == 0)
        moved += m;
      moves++;
    }
    sched_yield();
  }
  wl_live_stop(live);
  sc_require(c, wl_live_join(live, &err), &err, "guest vCPU thread");
  uint64_t ops = 0, mism = 0, idle = 0, ballooned = 0, swapped = 0, zipped = 0, asked = 0;
  for (int k = 0; k < int1f_vms; k++) {
    wl_counts_t n;
    wl_vm_counts(vms[k], &n);
    ops += n.pages_written + n.pages_read;
    mism += n.mismatches;
    idle += n.pages_written == 0;
    wl_guest_stats_t gs;
    wl_guest_stats(vms[k], &gs);
    ballooned += gs.given;
    asked += gs.given + gs.short_polls; /* the host wanted pages at some poll */
  }
  uint64_t outs = 0, ins = 0, zips = 0;
  mmc_event_t buf[256];
  size_t k;
  while ((k = im->events_read(h, &cursor, buf, 256)) > 0)
    for (size_t i = 0; i < k; i++) {
      outs += buf[i].type == MMC_EV_SWAP_OUT ? buf[i].count : 0;
      zips += buf[i].type == MMC_EV_COMPRESS ? buf[i].count : 0;
      ins += buf[i].type == MMC_EV_SWAP_IN;
    }
  swapped = outs;
  zipped = zips;
  sc_check_int(c, "no mismatch seen by the verifying vCPUs during the run", 0, (long long)mism);
  sc_check_int(c, "every vCPU made progress", 0, (long long)idle);
  if (asked) /* a host with no balloon policy never asks: nothing to exercise */
    sc_check(c, ballooned > 0, "balloon active during the run", "nothing ballooned");
  else
    sc_diag(c, "the host never asked a balloon for pages: the run exercised no ballooning");
  sc_check(c, swapped + zipped > 0, "swapping or compression active during the run",
           "no page swapped or compressed");
  uint64_t final_mism = 0;
  for (int j = 0; j < int1f_vms; j++)
    rc_verify_guest(c, vms[j], &final_mism);
  uint64_t page_ops = ops + ballooned + swapped + zipped + ins + moved;
  sc_metric(c, "page_operations", "pages", "higher", (double)page_ops);
  sc_diag(c,
          "%llu guest page accesses, %llu ballooned, %llu swapped out, %llu compressed, %llu "
          "swapped in, %llu moved in %llu move_range calls; %llu mismatches at the end",
          (unsigned long long)ops, (unsigned long long)ballooned, (unsigned long long)swapped,
          (unsigned long long)zipped, (unsigned long long)ins, (unsigned long long)moved,
          (unsigned long long)moves, (unsigned long long)final_mism);
  for (int j = 0; j < int1f_vms; j++)
    wl_vm_destroy(vms[j]);
  sc_host_destroy(c, h);
  mmt_free(t);
}
