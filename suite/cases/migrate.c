/*
 * migrate.c — cases of NUMA page migration: MIG-1 (pages on the
 * new home after migration, probe-verified, every page's content intact),
 * MIG-2 (migration begins immediately), MIG-3 (rate within
 * Numa.PageMigRateMax; slower near the end and when the destination is short
 * of free memory), MIG-4 (a VM moved away and back within one or two periods
 * drags little memory along), MIG-5 (Numa.PageMigEnable=0: home changes, no
 * page moves).
 *
 * Stepped clock, emulated 2-node topology (numa_scen.h). The home change is
 * the rebalancer's (the "base" imbalance of rebalance.c: two busy VMs on
 * node 0, an idle one on node 1), except in MIG-4 where numa.nodeAffinity
 * moves the VM away and back at chosen times. Rates come from the
 * MMC_EV_MIGRATION_BATCH events (time, count) of the moved VM. MIG-4 also
 * has a live form (real time, the run's topology, the same bound over the
 * time that really passed); so have MIG-1/-2, MIG-3 and MIG-5 (the same
 * base imbalance in real time, numa_live.h).
 *
 * Bounds the documentation does not give, chosen here: "immediately" =
 * before the next rebalancer period; the cap is checked over 1 s windows
 * from the home change (5 % + 1 page slack); "slower near the end" = the
 * mean rate while under a tenth of the VM is left remote is below half the
 * peak 1 s rate; "destination short" = free memory there only 10 % above
 * the VM's pages: it must move fewer pages in the time the roomy case needed
 * to finish; "brief" = pages moved in both directions at most half of what
 * the cap allows over the time away plus one period.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases_list.h"
#include "mmc_error.h"
#include "numa_live.h"
#include "numa_scen.h"

#define TOPO2_BIG "synthetic:node:2 core:2 pu:1;memory=512M"
#define FULL 1000u
#define NS_PER_S 1000000000ull
#define SCEN_WATCH_PERIOD 20u /* scen_watch: probe homes once a rebalancer period */

/* What base_move saw. */
typedef struct base_moved {
  uint32_t k, from, to; /* the moved VM, its old and new home */
  uint64_t t;           /* the end of the tick the move was seen after */
  uint64_t before;      /* its pages [0, before) were written before the move (the ones
                           migration must carry) */
  size_t ev0;           /* s->nev before the base imbalance: its events start there */
} base_moved_t;

/* The base imbalance with VMs of `bytes` (all but a few pages written, the
 * rest kept for scen_home_probe); returns after the first home change the
 * probe sees (or broken after `periods`). */
static base_moved_t base_move(scen_t *s, cu_locator_t *loc, uint64_t bytes, uint32_t periods) {
  base_moved_t m = {.ev0 = s->nev};
  s->spare_pages = 16;
  scen_vm(s, 1, bytes, 1u << 0, FULL);
  scen_vm(s, 1, bytes, 1u << 0, FULL);
  scen_vm(s, 1, 4 * SCEN_MIB, 1u << 1, 0);
  for (uint32_t i = 0; i < 3; i++)
    scen_pin(s, i, 0);
  uint64_t p = scen_period(s), t0 = scen_now(s);
  scen_move_t mv[4];
  for (uint32_t i = 1; i <= periods; i++)
    if (scen_watch(s, loc, t0 + i * p, SCEN_WATCH_PERIOD, mv, 4) > 0) {
      m.k = mv[0].k;
      m.t = mv[0].t;
      m.from = (uint32_t)mv[0].from;
      m.to = (uint32_t)mv[0].to;
      m.before = s->fresh[m.k] - 1; /* the page that showed the move went straight there */
      return m;
    }
  sc_broken(s->c, "setup: the base imbalance moved no VM in %u periods (probe)", periods);
}

/* Pages [0, n) of VM k on node `to` now (probe). */
static uint64_t on_node(scen_t *s, cu_locator_t *loc, uint32_t k, uint64_t n, uint32_t to) {
  int64_t off = scen_pages_off(s, loc, k, 0, n, to);
  if (off < 0)
    sc_broken(s->c, "pages of VM %u not attributable to a node by %s", k, cu_locator_name(loc));
  return n - (uint64_t)off;
}

/* Pages of VM k that arrived on `to`, sampled at the end of every period
 * from t_move until all `pages` are there or `limit_ns` passed. */
typedef struct arrivals {
  uint64_t t[1024], on[1024];
  size_t n;
} arrivals_t;

static void watch_arrivals(scen_t *s, cu_locator_t *loc, uint32_t k, uint64_t pages, uint32_t to,
                           uint64_t t_move, uint64_t limit_ns, arrivals_t *a) {
  uint64_t p = scen_period(s);
  a->n = 0;
  a->t[0] = t_move;
  a->on[0] = on_node(s, loc, k, pages, to);
  a->n = 1;
  for (uint64_t t = t_move + p; t <= t_move + limit_ns && a->n < 1024; t += p) {
    scen_run_until(s, t);
    a->t[a->n] = t;
    a->on[a->n] = on_node(s, loc, k, pages, to);
    if (a->on[a->n++] >= pages)
      return;
  }
}

/* Most pages that arrived in a 1 s window [t_move + j s, t_move + (j+1) s):
 * samples every period, and periods divide a second. */
static uint64_t peak_window(const arrivals_t *a) {
  uint64_t best = 0;
  for (size_t i = 0; i < a->n; i++)
    for (size_t j = i + 1; j < a->n && a->t[j] - a->t[i] <= NS_PER_S; j++)
      if (a->t[j] - a->t[i] == NS_PER_S && a->on[j] - a->on[i] > best)
        best = a->on[j] - a->on[i];
  return best;
}

/* ------------------------------------------------------------------ MIG-1, MIG-2 */
/* ------------------------------------------------------------------ MIG-1, MIG-2 */

#define MIG1_LIMIT_NS (300 * NS_PER_S)

/* Live form (numa_live.h): the base imbalance in real time, 4 MiB VMs (a
 * quarter of the stepped form's, so the default pace moves them in seconds).
 * MIG-1: every page written before the move is on the new home within
 * MIG1_LIVE_LIMIT_NS of it (the documentation bounds the pace only from
 * above, MIG-3: this is a deadline for the case, not a bound under test)
 * and every page of every VM holds what was written. MIG-2: "immediately"
 * is before the next rebalancer period, as stepped: the first arrival is
 * known to lie in (t_first_lo, t_first] and the change in (t_lo, t]; it
 * passes when t_first - t_lo < p (early enough whatever the probes' delay)
 * and fails when t_first_lo - t >= p + the longest the machine kept a
 * probe thread beyond its pace meanwhile (the implementation's thread may
 * have been held as long); in between it is not shown (machine). */
#define MIG1_LIVE_LIMIT_NS (30 * NS_PER_S)

/* MIG-2 live: the first arrival against one period from the change. */
static void mig2_live(suite_ctx_t *c, nl_t *s, const nl_change_t *mv, uint64_t t_first,
                      uint64_t t_first_lo) {
  const uint64_t p = s->period_ns, late = nl_max_late(s);
  const char *name = "MIG-2 live: migration began before the next rebalancer period (probe)";
  if (!t_first) {
    sc_check(c, false, name, "no page on node %d within %.1f s of the home change", mv->to,
             (double)MIG1_LIVE_LIMIT_NS / 1e9);
    return;
  }
  double lo = ((double)t_first_lo - (double)mv->t) / 1e6, hi = (double)(t_first - mv->t_lo) / 1e6;
  sc_metric(c, "first pages on the new home after the home change (live, at most)", "ms", "lower",
            hi);
  if (t_first - mv->t_lo < p || t_first_lo < mv->t || t_first_lo - mv->t < p + late) {
    if (t_first - mv->t_lo < p)
      sc_check(c, true, name, "first pages %.1f..%.1f ms after the change", lo, hi);
    else
      sc_not_shown_kind(c, SUITE_NOTSHOWN_MACHINE,
                        "MIG-2 live: the first pages arrived %.1f..%.1f ms after the home "
                        "change, the period is %.0f ms and a probe thread was held up to %.1f ms",
                        lo, hi, (double)p / 1e6, (double)late / 1e6);
    return;
  }
  sc_check(c, false, name,
           "first pages %.1f..%.1f ms after the home change: a period (%.0f ms) late, and the "
           "machine held the probes at most %.1f ms",
           lo, hi, (double)p / 1e6, (double)late / 1e6);
}

/* MIG-1 live after the migration: pages where they should be and intact. */
static void mig1_live_judge(suite_ctx_t *c, nl_t *s, uint32_t k, const nl_change_t *mv,
                            double took) {
  char name[160];
  nl_change_t later[2];
  if (nl_changes(s, k, later, 2) > 1) {
    /* A VM whose memory is still mostly on its old node may be moved back
     * by a locality move (NUMA-12) once the machine's load leaves that node
     * without contention: its pages then have no one destination. */
    cu_not_shown(c,
                 "MIG-1 live: the moved VM's home changed again during the migration (node %d "
                 "to %d): the pages had no one destination to be judged against",
                 later[1].from, later[1].to);
  } else {
    snprintf(name, sizeof name, "live: every page of the moved VM on node %d (probe %s)", mv->to,
             cu_locator_name(&s->loc));
    int64_t off = nl_pages_off(s, k, 0, mv->page, (uint32_t)mv->to);
    sc_check(c, off == 0, name,
             "%lld of %llu pages elsewhere %.1f s after the move (-1: unattributed)",
             (long long)off, (unsigned long long)mv->page, took);
    /* The page that showed the move may have been first written on the old
     * home just before the change and migrated before it was located: one
     * page more than those written before it may have moved. */
    mmc_vm_stats_t st = cu_vm_stats(c, s->h, s->vm[k]->id);
    long long seen = off < 0 ? 0 : (long long)mv->page - off;
    cu_crosscheck_vm_range(c, &st, MMC_VMSTAT_PAGES_MIGRATED, "live: pages migrated", seen,
                           seen + 1, (long long)st.pages_migrated);
  }
  for (uint32_t i = 0; i < s->nvms; i++) {
    char line[512];
    snprintf(name, sizeof name, "live: VM %u: every page holds what was written (wl_verify)", i);
    bool ok = nl_verify(s, i, line, sizeof line);
    sc_check(c, ok, name, "%s", line);
  }
}

static void mig1_live(suite_ctx_t *c) {
  nl_t s;
  if (!nl_init(&s, c, SCEN_TOPO2, NULL, 0))
    return;
  uint32_t k;
  nl_change_t mv;
  char why[256];
  /* Home probes go on during the migration (a second move is seen). */
  uint64_t extra = MIG1_LIVE_LIMIT_NS / NL_PROBE_NS;
  nl_base_t b = nl_base_move(&s, 4 * SCEN_MIB, extra, &k, &mv, why, sizeof why);
  if (b == NL_NO_MOVE)
    sc_broken(c, "setup: the base imbalance moved no VM (probe): %s", why);
  if (b == NL_MACHINE) {
    nl_fini(&s);
    return;
  }
  nl_reset_late(&s);
  nl_track(&s, k, mv.page, mv.to); /* pages written on the old home */
  uint64_t on = 0, t_first = 0, t_first_lo = 0, deadline = mv.t + MIG1_LIVE_LIMIT_NS;
  for (; on < mv.page && cu_now_ns() < deadline; cu_sleep_until_ns(cu_now_ns() + NL_PROBE_NS))
    nl_tracked(&s, k, &on, &t_first, &t_first_lo);
  double took = (double)(cu_now_ns() - mv.t) / 1e9;
  mig2_live(c, &s, &mv, t_first, t_first_lo);
  nl_stop(&s);
  sc_metric(c, "migration time (default pace, live)", "s", "", took);
  mig1_live_judge(c, &s, k, &mv, took);
  nl_fini(&s);
}

void case_mig_1(suite_ctx_t *c) {
  if (sc_clock(c) == MMC_CLOCK_LIVE) {
    mig1_live(c);
    return;
  }
  scen_t s;
  scen_init(&s, c, SCEN_TOPO2, NULL, 0);
  cu_locator_t loc;
  cu_locator_init(c, &loc, &s.topo->desc);
  base_moved_t m = base_move(&s, &loc, 16 * SCEN_MIB, 2);
  uint32_t k = m.k, to = m.to;
  uint64_t t_move = m.t, pages = m.before;
  /* MIG-2: pages arrive before the next rebalancer period (probed every
   * tick from the home change). */
  uint64_t p = scen_period(&s), first = 0, t_first = 0;
  while (!first && scen_now(&s) < t_move + p) {
    scen_run_until(&s, scen_now(&s) + s.tick_ns);
    first = on_node(&s, &loc, k, pages, to);
    t_first = scen_now(&s);
  }
  sc_check(c, first > 0, "MIG-2: migration began before the next rebalancer period (probe)",
           "no page on node %u within %.3f s of the home change", to, (double)p / 1e9);
  if (first)
    sc_metric(c, "first pages on the new home after the home change", "ms", "lower",
              (double)(t_first - t_move) / 1e6);
  arrivals_t *a = calloc(1, sizeof *a);
  if (!a)
    sc_broken(c, "out of memory");
  watch_arrivals(&s, &loc, k, pages, to, scen_now(&s), MIG1_LIMIT_NS, a);
  uint64_t moved = a->on[a->n - 1];
  sc_metric(c, "migration time (default pace)", "s", "", (double)(scen_now(&s) - t_move) / 1e9);
  char name[160];
  snprintf(name, sizeof name, "every page of the moved VM on node %u (probe %s)", to,
           cu_locator_name(&loc));
  sc_check(c, moved == pages, name, "%llu of %llu pages there", (unsigned long long)moved,
           (unsigned long long)pages);
  mmc_vm_stats_t st = scen_stats(&s, k);
  cu_crosscheck_vm(c, &st, MMC_VMSTAT_PAGES_MIGRATED, "pages migrated", (long long)moved,
                   (long long)st.pages_migrated, 0);
  for (uint32_t i = 0; i < s.nvms; i++) {
    char line[512];
    snprintf(name, sizeof name, "VM %u: every page holds what was written (wl_verify)", i);
    bool ok = scen_verify(&s, i, line, sizeof line);
    sc_check(c, ok, name, "%s", line);
  }
  free(a);
  cu_locator_free(&loc);
  scen_fini(&s);
}

/* ------------------------------------------------------------------ MIG-3 */

#define MIG3_RATE 2000     /* pages/s */
#define MIG3_PERIOD_MS 200 /* short periods: the case takes seconds of host time */
#define MIG3_LIMIT_NS (120 * NS_PER_S)

typedef struct mig3_run {
  uint64_t t_move, pages, moved, peak, tail_pages, tail_ns, done_ns, batch_peak;
  uint64_t late_ns; /* live: the machine's longest delay of a probe thread */
  uint32_t to;
} mig3_run_t;

/* Pages the implementation says it moved in 1 s windows (its batch events),
 * for the cross-check. */
static uint64_t batch_peak(scen_t *s, uint32_t k, uint64_t t0) {
  uint64_t best = 0, cur = 0, win = UINT64_MAX;
  for (size_t i = 0; i < s->nev; i++) {
    const mmc_event_t *e = &s->ev[i];
    if (e->type != MMC_EV_MIGRATION_BATCH || e->vm != s->vm[k]->id || e->time_ns < t0)
      continue;
    uint64_t w = (e->time_ns - t0) / NS_PER_S;
    if (w != win)
      cur = 0, win = w;
    cur += e->count;
    best = cur > best ? cur : best;
  }
  return best;
}

/* One MIG-3 run; with `short_dest` the destination keeps only 10 % more
 * free memory than the VM's pages. Stops at `limit` after the move. The
 * rate is the probe's: the moved VM's pages on the destination, located
 * at the end of every rebalancer period (5 a second). */
/* Node 1's free pages before any VM: its memory in the topology the case
 * built the host on (a figure of the case's, not the implementation's
 * node_free_pages statistic, so a wrong statistic cannot leave the
 * destination roomy while the case believes it short). */
static uint64_t mig3_node1_pages(const mmt_topology_t *t) {
  return t->desc.nodes[1].memory_bytes / MMC_PAGE_SIZE;
}

static void mig3_run(suite_ctx_t *c, bool short_dest, uint64_t limit, mig3_run_t *r) {
  const mmc_setting_value_t set[] = {{"Numa.PageMigRateMax", MIG3_RATE},
                                     {"Numa.RebalancePeriod", MIG3_PERIOD_MS}};
  const uint64_t bytes = 32 * SCEN_MIB;
  uint64_t pages = bytes / MMC_PAGE_SIZE - 16;
  scen_t s;
  scen_init(&s, c, SCEN_TOPO2, set, 2);
  cu_locator_t loc;
  cu_locator_init(c, &loc, &s.topo->desc);
  if (short_dest) { /* fill node 1 first, pinned, idle */
    uint64_t free1 = mig3_node1_pages(s.topo);
    uint64_t keep = pages + pages / 10 + 4 * SCEN_MIB / MMC_PAGE_SIZE; /* + the idle VM */
    s.spare_pages = 16;
    if (free1 > keep)
      scen_vm(&s, 1, (free1 - keep) * MMC_PAGE_SIZE, 1u << 1, 0);
  }
  base_moved_t m = base_move(&s, &loc, bytes, 3);
  uint32_t k = m.k, to = m.to;
  r->t_move = m.t;
  r->to = to;
  r->pages = pages = m.before;
  arrivals_t *a = calloc(1, sizeof *a);
  if (!a)
    sc_broken(c, "out of memory");
  watch_arrivals(&s, &loc, k, pages, to, r->t_move, limit, a);
  r->moved = a->on[a->n - 1];
  r->done_ns = scen_now(&s) - r->t_move;
  r->peak = peak_window(a);
  /* Tail: from the sample after which under a tenth was left remote. */
  uint64_t t_tail = 0;
  size_t i_tail = 0;
  for (size_t i = 0; i < a->n && !t_tail; i++)
    if (pages - a->on[i] < pages / 10) {
      t_tail = a->t[i];
      i_tail = i;
    }
  r->tail_pages = t_tail ? a->on[a->n - 1] - a->on[i_tail] : 0;
  r->tail_ns = t_tail ? a->t[a->n - 1] - t_tail : 0;
  scen_events(&s);
  r->batch_peak = batch_peak(&s, k, r->t_move);
  mmc_vm_stats_t st = scen_stats(&s, k);
  char name[160];
  snprintf(name, sizeof name, "MIG-3%s: pages migrated", short_dest ? " (destination short)" : "");
  cu_crosscheck_vm(c, &st, MMC_VMSTAT_PAGES_MIGRATED, name, (long long)r->moved,
                   (long long)st.pages_migrated, 0);
  free(a);
  cu_locator_free(&loc);
  scen_fini(&s);
}

/* Live form (numa_live.h): the two runs in real time, the arrivals counted
 * by the moved VM's own thread every NL_PROBE_NS (each count is known to
 * cover what arrived from its start to its end: nl_sample_t). The cap: over
 * every window of at least 1 s between two counts, the pages that arrived
 * may exceed the cap over the window's whole length by 5 % + 1 page, as
 * stepped; by what the cap allows over the longest the machine kept a
 * probe thread off the CPU meanwhile (an engine held up that long may move
 * in one go what its pace allowed in that time); and by the most pages the
 * probe ever saw arrive between two consecutive counts (pages arrive in
 * batches, and a window not aligned with them may begin just after a batch
 * paced before it). A rate over that is wrong whatever the load. The
 * slow-downs are judged as stepped. */
/* A deadline of the case, not a bound under test: 4 times what the
 * reference needs on a quiet machine; a run that did not finish by then
 * while the machine held the probe threads a period or more is not shown
 * (machine). */
#define MIG3_LIVE_LIMIT_NS (30 * NS_PER_S)

typedef struct mig3_live_cap {
  double peak;   /* most pages/s over a window of at least 1 s */
  double step;   /* most pages between two consecutive counts */
  double excess; /* most pages over what a window allowed (<= 0: none) */
  double win_s;  /* that window's length */
  uint64_t pages_in;
} mig3_live_cap_t;

static mig3_live_cap_t mig3_live_windows(const nl_sample_t *h, uint32_t n, double cap,
                                         double late) {
  mig3_live_cap_t w = {.excess = -1e300};
  for (uint32_t i = 1; i < n; i++)
    w.step = fmax(w.step, (double)h[i].on - (double)h[i - 1].on);
  for (uint32_t i = 0, j = 0; i < n; i++) {
    while (j < n && h[j].t1 < h[i].t0 + NS_PER_S)
      j++;
    if (j >= n)
      break;
    double len = (double)(h[j].t1 - h[i].t0) / 1e9, in = (double)h[j].on - (double)h[i].on;
    double over = in - (cap * (len + late) * 1.05 + 1 + w.step);
    w.peak = fmax(w.peak, in / len);
    if (over > w.excess) {
      w.excess = over;
      w.win_s = len;
      w.pages_in = (uint64_t)in;
    }
  }
  return w;
}

static void mig3_live_run(suite_ctx_t *c, bool short_dest, uint64_t limit, mig3_run_t *r,
                          mig3_live_cap_t *w) {
  const mmc_setting_value_t set[] = {{"Numa.PageMigRateMax", MIG3_RATE}};
  nl_t s;
  if (!nl_init(&s, c, SCEN_TOPO2, set, 1))
    sc_skip(c, "MIG-3 live: no probe locates pages here");
  const uint64_t bytes = 32 * SCEN_MIB, pages = bytes / MMC_PAGE_SIZE + nl_probe_pages(&s);
  if (short_dest) { /* fill node 1 first, pinned, idle */
    uint64_t free1 = mig3_node1_pages(s.topo);
    uint64_t keep = pages + pages / 10 + 4 * SCEN_MIB / MMC_PAGE_SIZE; /* + the idle VM */
    nl_vm_cfg_t fill = {.bytes = (free1 - keep) * MMC_PAGE_SIZE,
                        .spare = 16,
                        .mem = 1,
                        .home = 1,
                        .keep_pin = true};
    if (free1 > keep)
      nl_vm(&s, &fill);
  }
  uint32_t k;
  nl_change_t mv;
  char why[256];
  uint64_t extra = limit / NL_PROBE_NS;
  nl_base_t b = nl_base_move(&s, bytes, extra, &k, &mv, why, sizeof why);
  if (b == NL_NO_MOVE)
    sc_broken(c, "setup: the base imbalance moved no VM (probe): %s", why);
  if (b == NL_MACHINE)
    sc_skip_kind(c, SUITE_NOTSHOWN_MACHINE, "MIG-3 live: no home change to migrate after");
  nl_homes_off(&s);
  nl_reset_late(&s);
  r->pages = mv.page;
  r->to = (uint32_t)mv.to;
  nl_track(&s, k, mv.page, mv.to);
  uint64_t on = 0, t1 = 0, t1_lo = 0;
  for (; on < mv.page && cu_now_ns() < mv.t + limit; cu_sleep_until_ns(cu_now_ns() + NL_PROBE_NS))
    nl_tracked(&s, k, &on, &t1, &t1_lo);
  r->late_ns = nl_max_late(&s);
  double late = (double)r->late_ns / 1e9;
  nl_stop(&s);
  nl_sample_t *h = calloc(NL_MAX_SAMPLES, sizeof *h);
  if (!h)
    sc_broken(c, "out of memory");
  uint32_t n = nl_samples(&s, k, h, NL_MAX_SAMPLES);
  if (n == 0)
    sc_broken(c, "MIG-3 live: the moved VM's thread counted nothing");
  r->moved = h[n - 1].on;
  r->done_ns = h[n - 1].t1 - mv.t;
  *w = mig3_live_windows(h, n, MIG3_RATE, late);
  r->peak = (uint64_t)w->peak;
  uint32_t i_tail = n;
  for (uint32_t i = 0; i < n && i_tail == n; i++)
    if (mv.page - h[i].on < mv.page / 10)
      i_tail = i;
  r->tail_pages = i_tail < n ? h[n - 1].on - h[i_tail].on : 0;
  r->tail_ns = i_tail < n ? h[n - 1].t1 - h[i_tail].t0 : 0;
  sc_diag(c, "MIG-3 live%s: %llu of %llu pages in %.2f s, %u counts, machine delay up to %.1f ms",
          short_dest ? " (destination short)" : "", (unsigned long long)r->moved,
          (unsigned long long)r->pages, (double)r->done_ns / 1e9, n, late * 1e3);
  free(h);
  nl_fini(&s);
}

static void mig3_live(suite_ctx_t *c) {
  mig3_run_t roomy = {0}, tight = {0};
  mig3_live_cap_t w, wt;
  mig3_live_run(c, false, MIG3_LIVE_LIMIT_NS, &roomy, &w);
  if (roomy.moved < roomy.pages && roomy.late_ns >= NL_QUICK_PERIOD_MS * NL_MS)
    sc_skip_kind(c, SUITE_NOTSHOWN_MACHINE,
                 "MIG-3 live: %llu of %llu pages migrated in %.0f s while the machine held the "
                 "probe threads up to %.0f ms",
                 (unsigned long long)roomy.moved, (unsigned long long)roomy.pages,
                 (double)MIG3_LIVE_LIMIT_NS / 1e9, (double)roomy.late_ns / 1e6);
  sc_check(c, roomy.moved == roomy.pages, "live: roomy destination: the whole VM migrated (probe)",
           "%llu of %llu pages in %.1f s", (unsigned long long)roomy.moved,
           (unsigned long long)roomy.pages, (double)MIG3_LIVE_LIMIT_NS / 1e9);
  sc_metric(c, "peak rate (live, windows of 1 s or more)", "pages/s", "", w.peak);
  char name[160];
  snprintf(name, sizeof name,
           "live: rate within Numa.PageMigRateMax %d pages/s (windows of 1 s or more, probe)",
           MIG3_RATE);
  sc_check(c, w.excess <= 0, name,
           "%llu pages arrived in %.3f s: %.0f over the cap with its slack, the machine's delay "
           "and the largest step (%.0f pages) between two counts",
           (unsigned long long)w.pages_in, w.win_s, w.excess, w.step);
  double tail = roomy.tail_ns ? (double)roomy.tail_pages / ((double)roomy.tail_ns / 1e9) : 0.0;
  sc_metric(c, "rate with < 10 % remote left (live)", "pages/s", "", tail);
  sc_check(c, roomy.tail_ns > 0 && tail < 0.5 * w.peak,
           "live: slower near the end: rate under 10 % remote < half the peak (probe)",
           "tail %.0f pages/s over %.2f s, peak %.0f pages/s", tail, (double)roomy.tail_ns / 1e9,
           w.peak);
  mig3_live_run(c, true, roomy.done_ns, &tight, &wt);
  sc_metric(c, "pages moved, destination short (live)", "pages", "", (double)tight.moved);
  sc_check(c, tight.moved * 10 <= roomy.moved * 9,
           "live: destination short of free memory: slower (fewer pages in the same time; probe)",
           "%llu pages vs %llu with a roomy destination in %.1f s", (unsigned long long)tight.moved,
           (unsigned long long)roomy.moved, (double)roomy.done_ns / 1e9);
}

void case_mig_3(suite_ctx_t *c) {
  if (sc_clock(c) == MMC_CLOCK_LIVE) {
    mig3_live(c);
    return;
  }
  mig3_run_t roomy = {0}, tight = {0};
  mig3_run(c, false, MIG3_LIMIT_NS, &roomy);
  const uint64_t pages = roomy.pages;
  sc_check(c, roomy.moved == pages, "roomy destination: the whole VM migrated (probe)",
           "%llu of %llu pages in %.1f s", (unsigned long long)roomy.moved,
           (unsigned long long)pages, (double)MIG3_LIMIT_NS / 1e9);
  sc_metric(c, "peak rate (1 s window)", "pages/s", "", (double)roomy.peak);
  char name[160];
  snprintf(name, sizeof name, "rate within Numa.PageMigRateMax %d pages/s (1 s windows, probe)",
           MIG3_RATE);
  sc_check(c, roomy.peak <= MIG3_RATE + MIG3_RATE / 20 + 1, name, "peak %llu pages arrived in 1 s",
           (unsigned long long)roomy.peak);
  cu_crosscheck_value(c, "peak 1 s window of the implementation's batch events",
                      "MMC_EV_MIGRATION_BATCH counts", (long long)roomy.peak,
                      (long long)roomy.batch_peak, MIG3_RATE / 20 + 1);
  double tail = roomy.tail_ns ? (double)roomy.tail_pages / ((double)roomy.tail_ns / 1e9) : 0.0;
  sc_metric(c, "rate with < 10 % remote left", "pages/s", "", tail);
  sc_check(c, roomy.tail_ns > 0 && tail < 0.5 * (double)roomy.peak,
           "slower near the end: rate under 10 % remote < half the peak (probe)",
           "tail %.0f pages/s over %.2f s, peak %llu pages/s", tail, (double)roomy.tail_ns / 1e9,
           (unsigned long long)roomy.peak);
  /* Destination short of free memory: fewer pages in the same time. */
  mig3_run(c, true, roomy.done_ns, &tight);
  sc_metric(c, "pages moved, destination short", "pages", "", (double)tight.moved);
  sc_check(c, tight.moved * 10 <= roomy.moved * 9,
           "destination short of free memory: slower (fewer pages in the same time; probe)",
           "%llu pages vs %llu with a roomy destination in %.1f s", (unsigned long long)tight.moved,
           (unsigned long long)roomy.moved, (double)roomy.done_ns / 1e9);
}

/* ------------------------------------------------------------------ MIG-4 */

/* MIG-4 on the live clock, on the run's topology (two nodes with CPUs and
 * memory, else not shown: topology): the VM is written on node A, its
 * affinity moved to B for `away` periods of real time and back, and pages
 * are located by the probe as stepped, with its vCPU 0 entered on this
 * thread (quiesced between probes: it holds nothing the implementation
 * waits for). The cap and the period are the implementation's settings, or
 * their documented defaults where it does not honour them (setting_info
 * lists those); quick mode sets Numa.RebalancePeriod to 500 ms where
 * honoured. The bound is half the cap over the time that really passed
 * from the first move to the last probe (the waits of a loaded machine
 * only widen it by what the cap would allow in that time). */
#define MIG4_LIVE_PERIOD_MS 500

static int64_t mig4_setting(suite_ctx_t *c, mmc_host_t *h, const char *name) {
  const mmc_impl_t *im = sc_impl(c);
  int64_t v = 0;
  if (im->setting_get(h, name, &v, NULL) == 0)
    return v;
  mmc_setting_info_t si;
  for (size_t i = 0; im->setting_info(h, i, &si) == 0; i++)
    if (strcmp(si.name, name) == 0)
      return si.default_value;
  sc_broken(c, "setting %s is neither readable nor listed by setting_info", name);
}

static void mig4_live_run(suite_ctx_t *c, uint32_t away) {
  const mmc_impl_t *im = sc_impl(c);
  mmt_topology_t *t = cu_run_topology_copy(c);
  uint64_t homes = cu_home_nodes(&t->desc);
  if (__builtin_popcountll(homes) < 2) {
    mmt_free(t);
    sc_skip_kind(c, SUITE_NOTSHOWN_TOPOLOGY,
                 "MIG-4 on the live clock moves a VM between two nodes with CPUs and memory of "
                 "the run's topology; it has %d",
                 __builtin_popcountll(homes));
  }
  uint32_t a = (uint32_t)__builtin_ctzll(homes), b = (uint32_t)__builtin_ctzll(homes & (homes - 1));
  mmc_host_t *h = sc_host(c, t, MMC_CLOCK_LIVE, NULL, 0);
  if (sc_mode(c) == SUITE_MODE_QUICK)
    im->setting_set(h, "Numa.RebalancePeriod", MIG4_LIVE_PERIOD_MS, NULL);
  int64_t cap = mig4_setting(c, h, "Numa.PageMigRateMax");
  uint64_t p = (uint64_t)mig4_setting(c, h, "Numa.RebalancePeriod") * SCEN_MS;
  uint64_t pages = (uint64_t)cap * (away + 1) * p / NS_PER_S * 5 / 4;
  if (pages * MMC_PAGE_SIZE > cu_min_node_memory(&t->desc) / 2)
    pages = cu_min_node_memory(&t->desc) / 2 / MMC_PAGE_SIZE;
  cu_locator_t loc;
  cu_locator_init(c, &loc, &t->desc);
  mmc_vm_config_t cfg = cu_vm("mig4", 1, pages * MMC_PAGE_SIZE);
  cfg.node_affinity = 1ull << a;
  mmc_vm_id_t id = cu_power_on(c, h, &cfg);
  mmc_vcpu_t *v = NULL;
  mmc_error_t err = {0};
  wl_truth_t truth;
  sc_require(c, wl_truth_init(&truth, wl_seed_mix(sc_seed(c), away), pages, &err), &err, "truth");
  sc_require(c, im->vcpu_enter(h, id, 0, &v, &err), &err, "vcpu_enter");
  for (uint64_t g = 0; g < pages; g++) {
    void *q = cu_page(im, v, g, true, &err);
    if (!q)
      sc_broken(c, "page %llu: %s", (unsigned long long)g, err.msg);
    wl_page_fill(q, wl_truth_seed(&truth, g), g, 1);
    truth.version[g] = 1;
    if (g % 256 == 255)
      im->quiesce(v);
  }
  im->quiesce(v);
  uint64_t t0 = cu_now_ns();
  cfg.node_affinity = 1ull << b; /* away */
  cu_reconfigure(c, h, id, &cfg, "vm_reconfigure (away)");
  cu_sleep_until_ns(t0 + away * p);
  int64_t off_b = cu_pages_off(c, &loc, v, 0, pages, b);
  cfg.node_affinity = 1ull << a; /* and back */
  cu_reconfigure(c, h, id, &cfg, "vm_reconfigure (back)");
  cu_sleep_until_ns(t0 + (away + 1) * p);
  int64_t off_end = cu_pages_off(c, &loc, v, 0, pages, b);
  double elapsed = (double)(cu_now_ns() - t0) / 1e9;
  if (off_b < 0 || off_end < 0)
    sc_broken(c, "pages of the VM not attributable to a node by %s", cu_locator_name(&loc));
  uint64_t there = pages - (uint64_t)off_b, left = pages - (uint64_t)off_end;
  uint64_t moved = there + (there > left ? there - left : 0);
  double allowed = 0.5 * (double)cap * elapsed;
  char name[160];
  snprintf(name, sizeof name,
           "away %u period(s) and back: pages moved <= half the cap over the time (probe)", away);
  sc_check(c, (double)moved <= allowed, name,
           "%llu pages moved (%llu on the away node when pinned back, %llu still there at the "
           "end; bound %.0f = half of %lld pages/s over %.2f s, VM %llu pages)",
           (unsigned long long)moved, (unsigned long long)there, (unsigned long long)left, allowed,
           (long long)cap, elapsed, (unsigned long long)pages);
  snprintf(name, sizeof name, "pages moved, away %u period(s) and back", away);
  sc_metric(c, name, "pages", "lower", (double)moved);
  mmc_vm_stats_t st = cu_vm_stats(c, h, id);
  snprintf(name, sizeof name, "away %u: pages migrated, at least those seen moving", away);
  cu_crosscheck_vm_range(c, &st, MMC_VMSTAT_PAGES_MIGRATED, name, (long long)moved,
                         (long long)(2 * pages), (long long)st.pages_migrated);
  wl_verify_report_t rep;
  int rc = wl_verify(im, v, &truth, 256, &rep, &err);
  im->vcpu_exit(v);
  sc_require(c, rc, &err, "wl_verify");
  char line[512];
  wl_verify_format(&rep, line, sizeof line);
  snprintf(name, sizeof name, "away %u: every page intact (wl_verify)", away);
  sc_check(c, rep.mismatches == 0 && rep.pages_checked == pages, name, "%s", line);
  wl_truth_fini(&truth);
  cu_locator_free(&loc);
  sc_require(c, im->vm_power_off(h, id, &err), &err, "vm_power_off");
  sc_host_destroy(c, h);
  mmt_free(t);
}

/* Pages moved, probed: those on the away node when the VM is pinned back
 * (each moved there once) plus those that came back by the end (a lower
 * bound: a page cannot go away and back while the home stays away). */
void case_mig_4(suite_ctx_t *c) {
  if (sc_clock(c) == MMC_CLOCK_LIVE) {
    for (uint32_t away = 1; away <= 2; away++)
      mig4_live_run(c, away);
    return;
  }
  for (uint32_t away = 1; away <= 2; away++) {
    scen_t s;
    scen_init(&s, c, TOPO2_BIG, NULL, 0);
    cu_locator_t loc;
    cu_locator_init(c, &loc, &s.topo->desc);
    int64_t cap = cu_setting(c, s.h, "Numa.PageMigRateMax");
    uint64_t p = scen_period(&s);
    /* Big enough that moving at the cap for the whole time would move far
     * more than the bound: cap x (away + 1) periods, plus a margin. */
    uint64_t pages = (uint64_t)cap * (away + 1) * p / NS_PER_S * 5 / 4;
    uint32_t k = scen_vm(&s, 1, pages * MMC_PAGE_SIZE, 1u << 0, 0);
    uint64_t t0 = scen_now(&s);
    scen_pin(&s, k, 1u << 1); /* away */
    scen_run_until(&s, t0 + away * p);
    uint64_t there = on_node(&s, &loc, k, pages, 1);
    scen_pin(&s, k, 1u << 0); /* and back */
    scen_run_until(&s, t0 + (away + 1) * p);
    uint64_t left = on_node(&s, &loc, k, pages, 1);
    uint64_t moved = there + (there > left ? there - left : 0);
    double allowed = 0.5 * (double)cap * (double)((away + 1) * p) / 1e9;
    char name[160];
    snprintf(name, sizeof name,
             "away %u period(s) and back: pages moved <= half the cap over the time (probe)", away);
    sc_check(c, (double)moved <= allowed, name,
             "%llu pages moved (%llu on the away node when pinned back, %llu still there at the "
             "end; bound %.0f, VM %llu pages)",
             (unsigned long long)moved, (unsigned long long)there, (unsigned long long)left,
             allowed, (unsigned long long)pages);
    snprintf(name, sizeof name, "pages moved, away %u period(s) and back", away);
    sc_metric(c, name, "pages", "lower", (double)moved);
    mmc_vm_stats_t st = scen_stats(&s, k);
    snprintf(name, sizeof name, "away %u: pages migrated, at least those seen moving", away);
    cu_crosscheck_vm_range(c, &st, MMC_VMSTAT_PAGES_MIGRATED, name, (long long)moved,
                           (long long)(2 * pages), (long long)st.pages_migrated);
    char line[512];
    snprintf(name, sizeof name, "away %u: every page intact (wl_verify)", away);
    bool ok = scen_verify(&s, k, line, sizeof line);
    sc_check(c, ok, name, "%s", line);
    cu_locator_free(&loc);
    scen_fini(&s);
  }
}

/* ------------------------------------------------------------------ MIG-5 */

/* Live form: the base imbalance in real time with migration off: the probes
 * must see the home change (MIG-5: home changes still happen; none seen
 * while A and B had the CPU it needs is a failure, as stepped); the case
 * then waits MIG5_LIVE_PERIODS more periods, the VMs still running, and
 * every page written before the move must still be on the old node. */
#define MIG5_LIVE_PERIODS 4u

static void mig5_live(suite_ctx_t *c, const mmc_setting_value_t *set, size_t nset) {
  nl_t s;
  if (!nl_init(&s, c, SCEN_TOPO2, set, nset))
    return;
  uint32_t k;
  nl_change_t mv;
  char why[256];
  nl_base_t b = nl_base_move(&s, 4 * SCEN_MIB, 0, &k, &mv, why, sizeof why);
  if (b == NL_NO_MOVE)
    sc_check(c, false, "live: home changes still happen (probe)", "%s", why);
  if (b != NL_MOVED) {
    nl_fini(&s);
    return;
  }
  sc_check(c, true, "live: home changes still happen (probe)", "VM %u from node %d to %d", k,
           mv.from, mv.to);
  nl_homes_off(&s);
  cu_sleep_until_ns(mv.t + MIG5_LIVE_PERIODS * s.period_ns);
  nl_stop(&s);
  /* Where it is homed now is not judged: with its memory left on the old
   * node, a locality move back (NUMA-12) is the rebalancer's right once the
   * machine's load leaves that node without contention. */
  sc_diag(c, "new memory of the moved VM from node %d %u periods after the move",
          nl_home_now(&s, k), MIG5_LIVE_PERIODS);
  char name[160];
  snprintf(name, sizeof name, "live: the moved VM's pages all still on node %d (probe %s)", mv.from,
           cu_locator_name(&s.loc));
  int64_t off = nl_pages_off(&s, k, 0, mv.page, (uint32_t)mv.from);
  sc_check(c, off == 0, name, "%lld of %llu pages elsewhere after %u periods", (long long)off,
           (unsigned long long)mv.page, MIG5_LIVE_PERIODS);
  uint64_t migrated = 0, cursor = 0;
  for (uint32_t i = 0; i < s.nvms; i++)
    migrated += cu_vm_stats(c, s.h, s.vm[i]->id).pages_migrated;
  mmc_vm_stats_t st = cu_vm_stats(c, s.h, s.vm[k]->id);
  cu_crosscheck_vm(c, &st, MMC_VMSTAT_PAGES_MIGRATED, "live: no page migrated (every VM)",
                   off < 0 ? 0 : off, (long long)migrated, 0);
  cu_crosscheck_events(c, s.h, MMC_EV_MIGRATION_BATCH, "live: no MMC_EV_MIGRATION_BATCH", 0,
                       (long long)cu_count_events(c, s.h, &cursor, MMC_EV_MIGRATION_BATCH, 0), 0);
  nl_fini(&s);
}

void case_mig_5(suite_ctx_t *c) {
  const mmc_setting_value_t set[] = {{"Numa.PageMigEnable", 0}};
  if (sc_clock(c) == MMC_CLOCK_LIVE) {
    mig5_live(c, set, 1);
    return;
  }
  scen_t s;
  scen_init(&s, c, SCEN_TOPO2, set, 1);
  cu_locator_t loc;
  cu_locator_init(c, &loc, &s.topo->desc);
  base_moved_t m = base_move(&s, &loc, 4 * SCEN_MIB, 2);
  uint32_t k = m.k, from = m.from, to = m.to;
  uint64_t pages = m.before;
  scen_move_t mv[4];
  scen_watch(&s, &loc, scen_now(&s) + 10 * scen_period(&s), SCEN_WATCH_PERIOD, mv, 4);
  sc_check(c, s.home[k] == (int)to, "the home change still happened (probe)",
           "new memory from node %d, expected %u", s.home[k], to);
  char name[160];
  snprintf(name, sizeof name, "the moved VM's pages all still on node %u (probe %s)", from,
           cu_locator_name(&loc));
  int64_t off = scen_pages_off(&s, &loc, k, 0, pages, from);
  sc_check(c, off == 0, name, "%lld of %llu pages elsewhere", (long long)off,
           (unsigned long long)pages);
  uint64_t migrated = 0;
  mmc_vm_stats_t st = scen_stats(&s, k);
  for (uint32_t i = 0; i < s.nvms; i++)
    migrated += scen_stats(&s, i).pages_migrated;
  cu_crosscheck_vm(c, &st, MMC_VMSTAT_PAGES_MIGRATED, "no page migrated (every VM)",
                   off < 0 ? 0 : off, (long long)migrated, 0);
  cu_crosscheck_events(c, s.h, MMC_EV_MIGRATION_BATCH, "no MMC_EV_MIGRATION_BATCH", 0,
                       (long long)scen_count(&s, m.ev0, MMC_EV_MIGRATION_BATCH, SCEN_MAX_VMS), 0);
  cu_locator_free(&loc);
  scen_fini(&s);
}
