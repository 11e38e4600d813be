/*
 * set2.c — case SET-2: a setting changed at run time takes effect from the
 * next period of the policy that reads it. Shown on the rebalancer's own
 * period (Numa.RebalancePeriod) and judged by what the rebalancer does,
 * seen by a probe: its home changes, each located by where a VM's
 * never-written pages land (numa_scen.h's scen_watch on the stepped clock,
 * numa_live.h's vCPU threads on the live one). The implementation's
 * MMC_EV_REBALANCE events are only cross-checked against the moves the
 * probe saw: a rebalancer that reports runs on one grid and acts on
 * another is caught by the probe (twin
 * set2-rebalancer-keeps-period-reports-change).
 *
 * The scenario: two busy 1-vCPU VMs on node 0 of a 2-node host with 2
 * cores a node (the rebalancer runs with the documented thresholds), node
 * 1 idle. While the case holds the imbalance back both VMs are pinned to
 * node 0 (numa.nodeAffinity); released, the rebalancer moves one of them
 * to node 1, and it can do so only at a period boundary (NUMA-4): the
 * first one after the release. After each move the case holds both on
 * node 0 again (the moved one pinned back) and releases them at an instant
 * it chooses, so each move marks a boundary and each step judges the time
 * from one move to the next (2000 and 500 ms; stepped):
 *  0. released at the start: the first move, the anchor;
 *  1. released right after a move: the next one 2000 ms after it;
 *  2. set to 500 ms right after a move and released: the period under way
 *     keeps its due time, 2000 ms after that move (a period read again at
 *     every tick moves 500 ms after);
 *  3. held half a short period, then released: the move comes at the end
 *     of that first short period, 500 ms after the one before (a
 *     rebalancer still on the 2000 ms grid, whatever its events say, moves
 *     2000 ms after);
 *  4. held half a short period, set back to 2000 ms and released: the
 *     short period under way ends at its due time, 500 ms after the move
 *     before (2000 ms when the change moved it);
 *  5. released right after a move: 2000 ms to the next.
 * Stepped: every VM's home is probed after every tick (100 ms) and ticks
 * end on every boundary, so a move is seen at its boundary: each gap is
 * exact. (NUMA-5 checks the same rule for a threshold the rebalancer
 * reads.)
 *
 * Live form: the same steps in real time, quick mode at 400 and 100 ms.
 * A move is known to lie between two probes of its VM's thread, 10 ms
 * apart when the machine lets it run, (t_lo, t]; so the gap from one move
 * to the next lies in an interval. The wanted gap is allowed a slack of
 * half the difference between the periods either way (a live rebalancer
 * wakes late by however the machine delays it, which lengthens a gap, or
 * shortens the next), so the wrong answers lie two slacks off: a gap
 * passes lying wholly within the slack and fails lying wholly outside.
 * It cannot be told, and the step is not shown (machine), when the
 * interval straddles a bound (a probe thread kept off the CPU), when the
 * case released the VMs more than a short period after the move before
 * (a rebalancer reading the period at every tick could then move within
 * the slack), or when the gap is outside while the machine kept the probe
 * threads off the CPU for more than half the slack (a starved probe can
 * miss a move). No move at all is a failure only while each busy VM's
 * thread had the CPU the imbalance needs, else not shown (machine) too.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cases_list.h"
#include "mmc_error.h"
#include "numa_live.h"
#include "numa_scen.h"

#define SET2_FULL 1000u /* permille: one core */
enum {
  set2_long_ms = 2000,
  set2_short_ms = 500,
  set2_vms = 2,
  set2_nsteps = 5,
  set2_boot_pages = 256,      /* stepped: written at boot, the rest kept for probes */
  set2_vm_mib = 8,            /* stepped */
  set2_live_data_pages = 256, /* live: written at boot */
};

typedef enum set2_len { SET2_SAME = 0, SET2_LONG, SET2_SHORT } set2_len_t;

/* One step, done right after the move before: its check's name (printf:
 * the period after the step's change, then the gap, both in ms), the
 * period written (SET2_SAME: none), whether the VMs are held until half a
 * short period after that move, and the period the next move must follow
 * it by. */
typedef struct set2_step {
  const char *name;
  set2_len_t set;
  bool mid;
  set2_len_t gap;
} set2_step_t;

static const set2_step_t set2_steps[set2_nsteps] = {
    {"before the change, at %llu ms: released right after a move, the next move %llu ms after "
     "it (probe)",
     SET2_SAME, false, SET2_LONG},
    {"changed to %llu ms right after a move: the period under way still ends %llu ms after it "
     "(probe)",
     SET2_SHORT, false, SET2_LONG},
    {"at %llu ms: released in the middle of the next period, the move comes at its end, %llu ms "
     "after the move before (probe)",
     SET2_SAME, true, SET2_SHORT},
    {"changed back to %llu ms in the middle of a short period: the period under way ends at its "
     "due time, %llu ms after the move before (probe)",
     SET2_LONG, true, SET2_SHORT},
    {"at %llu ms again: released right after a move, the next move %llu ms after it (probe)",
     SET2_SAME, false, SET2_LONG},
};

/* The step's check name, "live: " first on the live clock. */
static const char *set2_name(char *buf, size_t len, bool live, const set2_step_t *st,
                             uint64_t cur_ms, uint64_t gap_ms) {
  int n = snprintf(buf, len, "%s", live ? "live: " : "");
  snprintf(buf + n, len - (size_t)n, st->name, (unsigned long long)cur_ms,
           (unsigned long long)gap_ms);
  return buf;
}

static void set2_period(suite_ctx_t *c, const mmc_impl_t *im, mmc_host_t *h, uint64_t ms) {
  mmc_error_t err = {0};
  sc_require(c, im->setting_set(h, "Numa.RebalancePeriod", (int64_t)ms, &err), &err,
             "setting_set Numa.RebalancePeriod");
}

/* What the case saw of one step: the VMs released at r (case clock) and
 * r_host (host clock), the move after it in (lo, hi] (case clock). */
typedef struct set2_seen {
  uint64_t r, r_host, lo, hi;
  bool told; /* the step was judged (live: not "cannot be told") */
} set2_seen_t;

/* Cross-check: the first rebalancer run the implementation reported moving
 * a VM after each release (MMC_EV_REBALANCE with count > 0, host clock)
 * came as long after the release as the move the probe saw (within the
 * probe's precision). Not the first run after the release: on the live
 * clock a run may rightly find too little demand to move anything when the
 * machine starves the busy VMs' threads. */
static void set2_crosscheck(suite_ctx_t *c, mmc_host_t *h, const char *pre, const set2_seen_t *st,
                            size_t n, const mmc_event_t *ev, size_t nev) {
  for (size_t i = 0; i < n; i++) {
    if (!st[i].told)
      continue; /* the probe may have missed the move (a starved thread) */
    size_t j = 0;
    while (j < nev &&
           (ev[j].type != MMC_EV_REBALANCE || ev[j].count == 0 || ev[j].time_ns <= st[i].r_host))
      j++;
    double a = (double)st[i].lo - (double)st[i].r, b = (double)st[i].hi - (double)st[i].r;
    char name[200];
    snprintf(name, sizeof name,
             "%sSET-2 step %zu: ms from the release to the move (the first run reported moving a "
             "VM, MMC_EV_REBALANCE)",
             pre, i + 1);
    cu_crosscheck_events(c, h, MMC_EV_REBALANCE, name, llround((a + b) / 2e6),
                         j < nev ? llround((double)(ev[j].time_ns - st[i].r_host) / 1e6) : -1,
                         b > a ? (long long)((b - a) / 2e6) + 1 : 0);
  }
}

/* ---- stepped */

/* numa.nodeAffinity of both VMs := mask. Held (mask != 0): each VM's home
 * probed again, and it must be node 0 (else the scenario cannot be made:
 * broken). */
static void set2_pin(scen_t *s, cu_locator_t *loc, uint64_t mask) {
  for (uint32_t k = 0; k < set2_vms; k++) {
    scen_pin(s, k, mask);
    if (!mask)
      continue;
    s->home[k] = scen_home_probe(s, loc, k);
    if (s->home[k] != 0)
      sc_broken(s->c, "setup: VM %u pinned to node 0 gets new memory from node %d (probe)", k,
                s->home[k]);
  }
}

/* Step tick by tick until a probe sees a VM's new memory come from node 1
 * (a rebalancer move: the case pins only to node 0), or host time `end`. */
static bool set2_watch(scen_t *s, cu_locator_t *loc, uint64_t end, scen_move_t *out) {
  while (scen_now(s) < end) {
    uint64_t next = (scen_now(s) / s->tick_ns + 1) * s->tick_ns;
    scen_move_t mv[SCEN_MAX_VMS];
    size_t n = scen_watch(s, loc, next < end ? next : end, 1, mv, SCEN_MAX_VMS);
    for (size_t i = 0; i < n && i < SCEN_MAX_VMS; i++)
      if (mv[i].to == 1) {
        *out = mv[i];
        return true;
      }
  }
  return false;
}

/* One step, right after the move before (*prev): hold both VMs, wait,
 * change the period and release them as the step says, then watch for the
 * next move and judge it. False when none came. */
static bool set2_stepped_step(scen_t *s, cu_locator_t *loc, const uint64_t *p,
                              const set2_step_t *st, uint64_t *cur_ms, scen_move_t *prev,
                              set2_seen_t *seen) {
  set2_pin(s, loc, 1u << 0);
  if (st->mid)
    scen_run_until(s, prev->t + p[SET2_SHORT] / 2);
  if (st->set) {
    *cur_ms = p[st->set] / SCEN_MS;
    set2_period(s->c, s->im, s->h, *cur_ms);
  }
  set2_pin(s, loc, 0);
  uint64_t r = scen_now(s);
  scen_move_t mv;
  bool moved = set2_watch(s, loc, prev->t + p[st->gap] + 2 * p[SET2_LONG], &mv);
  char name[240];
  set2_name(name, sizeof name, false, st, *cur_ms, p[st->gap] / SCEN_MS);
  sc_check(s->c, moved && mv.t - prev->t == p[st->gap], name,
           "the next move %s %.0f ms after the move before (host clock)",
           moved ? "came" : "did not come within",
           (double)((moved ? mv.t : scen_now(s)) - prev->t) / 1e6);
  if (!moved)
    return false;
  *seen = (set2_seen_t){.r = r, .r_host = r, .lo = mv.t, .hi = mv.t, .told = true};
  *prev = mv;
  return true;
}

static void set2_stepped(suite_ctx_t *c) {
  const mmc_setting_value_t set[] = {{"Numa.RebalancePeriod", set2_long_ms}};
  scen_t s;
  cu_locator_t loc;
  scen_init(&s, c, SCEN_TOPO2, set, 1);
  s.boot_pages = set2_boot_pages;
  if (!cu_locator_try(c, &loc, &s.topo->desc,
                      "the rebalancer's home changes (probed by where new memory goes)")) {
    scen_fini(&s);
    return;
  }
  const uint64_t p[] = {0, set2_long_ms * SCEN_MS, set2_short_ms * SCEN_MS};
  for (uint32_t k = 0; k < set2_vms; k++)
    scen_vm(&s, 1, set2_vm_mib * SCEN_MIB, 1u << 0, SET2_FULL);
  size_t ev0 = s.nev;
  set2_pin(&s, &loc, 0);
  scen_move_t prev;
  if (sc_check(c, set2_watch(&s, &loc, scen_now(&s) + 2 * p[SET2_LONG], &prev),
               "the imbalance, released, moved a VM within two periods (probe)",
               "no home change seen in %.0f ms", 2.0 * set2_long_ms)) {
    set2_seen_t seen[set2_nsteps];
    uint64_t cur_ms = set2_long_ms;
    size_t n = 0;
    while (n < set2_nsteps &&
           set2_stepped_step(&s, &loc, p, &set2_steps[n], &cur_ms, &prev, &seen[n]))
      n++;
    scen_events(&s);
    set2_crosscheck(c, s.h, "", seen, n, s.ev + ev0, s.nev - ev0);
  }
  cu_locator_free(&loc);
  scen_fini(&s);
}

/* ---- live */

typedef struct set2_live {
  suite_ctx_t *c;
  nl_t s;
  uint32_t seen[NL_MAX_VMS]; /* home changes of each VM already taken */
  uint64_t p[3];             /* by set2_len_t, ns */
  uint64_t slack;            /* (long - short) / 2 */
  uint64_t late_before;      /* the machine's delay during the step before */
  double thr;                /* Numa.MigImbalanceThreshold, % */
  uint64_t cur_ms;           /* Numa.RebalancePeriod as last set */
  uint32_t k;                /* the VM of the move before */
  nl_change_t prev;          /* the move before */
} set2_live_t;

/* CPU time each busy VM's thread used so far. */
static void set2_cpu(set2_live_t *l, uint64_t *cpu) {
  for (uint32_t k = 0; k < set2_vms; k++)
    cpu[k] = nl_cpu_ns(&l->s, k);
}

/* No move came since t0 (the threads' CPU times then: cpu0). With each busy
 * VM at Numa.MigImbalanceThreshold % of a core or more, node 0 was that
 * far above idle node 1 and moving the lighter VM gained as many points
 * (more than Numa.MigThreshold's documented 2): a failure. Less, and the
 * machine kept the imbalance from being made: not shown. */
static void set2_no_move(set2_live_t *l, const char *name, uint64_t t0, const uint64_t *cpu0) {
  double wall = (double)(cu_now_ns() - t0), least = 1.0;
  for (uint32_t k = 0; k < set2_vms; k++)
    least = fmin(least, (double)(nl_cpu_ns(&l->s, k) - cpu0[k]) / wall);
  if (least >= l->thr / 100.0)
    sc_check(l->c, false, name,
             "no home change seen in %.1f s, each busy VM's thread using %.0f %% of a core or more",
             wall / 1e9, 100.0 * least);
  else
    sc_not_shown_kind(l->c, SUITE_NOTSHOWN_MACHINE,
                      "%s: no home change seen in %.1f s; the imbalance needs each busy VM at %.0f "
                      "%% of a core (Numa.MigImbalanceThreshold) and the machine gave one %.0f %%",
                      name, wall / 1e9, l->thr, 100.0 * least);
}

/* Wait until `deadline` for the next home change to `node` the probes of
 * VM `only` (NL_MAX_VMS: any VM) saw; changes to other nodes are taken on
 * the way. */
static bool set2_next(set2_live_t *l, uint32_t only, int node, uint64_t deadline, uint32_t *k,
                      nl_change_t *out) {
  for (;;) {
    for (uint32_t i = 0; i < l->s.nvms; i++) {
      if (only < NL_MAX_VMS && i != only)
        continue;
      nl_change_t ch[NL_MAX_CHANGES];
      uint32_t n = nl_changes(&l->s, i, ch, NL_MAX_CHANGES);
      n = n < NL_MAX_CHANGES ? n : NL_MAX_CHANGES;
      while (l->seen[i] < n) {
        nl_change_t x = ch[l->seen[i]++];
        if (x.to == node) {
          *k = i;
          *out = x;
          return true;
        }
      }
    }
    if (cu_now_ns() >= deadline)
      return false;
    cu_sleep_until_ns(cu_now_ns() + NL_MS); /* polling the probes, with a deadline */
  }
}

/* Hold both VMs on node 0 (the moved one, k, pinned back: wait until its
 * probe sees it there), or release them (mask 0). */
static void set2_live_pin(set2_live_t *l, uint32_t k, uint64_t mask) {
  for (uint32_t i = 0; i < set2_vms; i++)
    nl_pin(&l->s, i, mask, mask ? "vm_reconfigure (hold on node 0)" : "vm_reconfigure (release)");
  uint32_t who;
  nl_change_t back;
  if (mask && !set2_next(l, k, 0, cu_now_ns() + 10 * l->p[SET2_LONG], &who, &back)) {
    nl_stop(&l->s); /* broken with the thread's error, if it failed */
    sc_broken(l->c,
              "setup: VM %u pinned back to node 0: its new memory not from node 0 in 10 "
              "periods (probe)",
              k);
  }
}

/* Judge one step: the move before, prev, and this one, mv; the VMs
 * released at r. The gap between them lies in [lo, hi] (the probes' times
 * either side of each move); it passes lying wholly within the slack of
 * the wanted gap, fails lying wholly outside. False when it cannot be told
 * (not shown, machine): the interval straddles the bound, the VMs were
 * released too late for a wrong rebalancer's move to fall outside, or the
 * gap is outside while the machine kept the probe threads off the CPU for
 * more than half the slack (a starved probe can miss a move). */
static bool set2_live_judge(set2_live_t *l, const char *name, const set2_step_t *st,
                            const nl_change_t *prev, const nl_change_t *mv, uint64_t r) {
  suite_ctx_t *c = l->c;
  uint64_t gap = l->p[st->gap], rel = r - prev->t_lo, rel_max = l->p[SET2_SHORT],
           late = l->late_before > nl_max_late(&l->s) ? l->late_before : nl_max_late(&l->s);
  double lo = ((double)mv->t_lo - (double)prev->t) / 1e6,
         hi = ((double)mv->t - (double)prev->t_lo) / 1e6, want = (double)gap / 1e6,
         slack = (double)l->slack / 1e6;
  bool inside = lo >= want - slack && hi <= want + slack,
       outside = hi < want - slack || lo > want + slack;
  const char *why = rel > rel_max         ? "the VMs were released too late after the move before"
                    : !inside && !outside ? "the gap straddles a bound"
                    : outside && late > l->slack / 2 ? "the probe threads were kept off the CPU"
                                                     : NULL;
  if (why) {
    sc_not_shown_kind(c, SUITE_NOTSHOWN_MACHINE,
                      "%s: cannot be told: %s (the move came %.1f to %.1f ms after the one before, "
                      "wanted %.0f +-%.0f; released %.1f ms after it, at most %.1f; probe threads "
                      "kept off the CPU up to %.1f ms)",
                      name, why, lo, hi, want, slack, (double)rel / 1e6, (double)rel_max / 1e6,
                      (double)late / 1e6);
    return false;
  }
  sc_check(c, inside, name,
           "the move came %.1f to %.1f ms after the move before (wanted %.0f ms, +-%.0f); "
           "released %.1f ms after it",
           lo, hi, want, slack, (double)rel / 1e6);
  return true;
}

static void set2_live_period(set2_live_t *l, set2_len_t len) {
  l->cur_ms = l->p[len] / NL_MS;
  set2_period(l->c, l->s.im, l->s.h, l->cur_ms);
}

/* One step, right after the move before (l->prev, of VM l->k): hold both
 * VMs, wait, change the period and release them as the step says, then
 * wait for the next move and judge it. False when none came. */
static bool set2_live_step(set2_live_t *l, const set2_step_t *st, set2_seen_t *seen) {
  l->late_before = nl_max_late(&l->s);
  nl_reset_late(&l->s);
  if (st->set && !st->mid) /* right after the move */
    set2_live_period(l, st->set);
  set2_live_pin(l, l->k, 1u << 0);
  if (st->mid)
    cu_sleep_until_ns(l->prev.t_lo + (l->prev.t - l->prev.t_lo) / 2 + l->p[SET2_SHORT] / 2);
  if (st->set && st->mid)
    set2_live_period(l, st->set);
  set2_live_pin(l, l->k, 0);
  uint64_t r_host = l->s.im->now(l->s.h), r = cu_now_ns(), cpu0[set2_vms];
  set2_cpu(l, cpu0);
  char name[240];
  set2_name(name, sizeof name, true, st, l->cur_ms, l->p[st->gap] / NL_MS);
  nl_change_t mv;
  if (!set2_next(l, NL_MAX_VMS, 1, l->prev.t + l->p[st->gap] + 2 * l->p[SET2_LONG], &l->k, &mv)) {
    set2_no_move(l, name, r, cpu0);
    return false;
  }
  bool told = set2_live_judge(l, name, st, &l->prev, &mv, r);
  *seen = (set2_seen_t){.r = r, .r_host = r_host, .lo = mv.t_lo, .hi = mv.t, .told = told};
  l->prev = mv;
  return true;
}

/* Never-written pages each VM keeps for its probes: one every NL_PROBE_NS
 * for as long as the release and every step may wait. */
static uint64_t set2_live_spare(const set2_live_t *l) {
  uint64_t span = 4 * l->p[SET2_LONG] + set2_nsteps * (3 * l->p[SET2_LONG] + l->p[SET2_SHORT]);
  return span / NL_PROBE_NS + 256;
}

/* The cross-check on every event the host reported. */
static void set2_live_crosscheck(set2_live_t *l, const set2_seen_t *seen, size_t n) {
  uint64_t cursor = 0;
  size_t nev;
  mmc_event_t *ev = cu_read_events(l->c, l->s.h, &cursor, &nev);
  set2_crosscheck(l->c, l->s.h, "live: ", seen, n, ev, nev);
  free(ev);
}

static void set2_live(suite_ctx_t *c) {
  bool quick = sc_mode(c) == SUITE_MODE_QUICK;
  uint64_t lms = quick ? set2_long_ms / 5 : set2_long_ms,
           sms = quick ? set2_short_ms / 5 : set2_short_ms;
  const mmc_setting_value_t set[] = {{"Numa.RebalancePeriod", (int64_t)lms}};
  set2_live_t *l = calloc(1, sizeof *l);
  if (!l)
    sc_broken(c, "out of memory");
  l->c = c;
  if (!nl_init(&l->s, c, SCEN_TOPO2, set, 1)) {
    free(l);
    return;
  }
  l->p[SET2_LONG] = lms * NL_MS;
  l->p[SET2_SHORT] = sms * NL_MS;
  l->slack = (l->p[SET2_LONG] - l->p[SET2_SHORT]) / 2;
  uint64_t spare = set2_live_spare(l);
  const nl_vm_cfg_t vc = {.bytes = (set2_live_data_pages + spare) * MMC_PAGE_SIZE,
                          .spare = spare,
                          .busy = true,
                          .run = true};
  for (uint32_t k = 0; k < set2_vms; k++)
    nl_vm(&l->s, &vc);
  l->thr = (double)cu_setting(c, l->s.h, "Numa.MigImbalanceThreshold");
  l->cur_ms = lms;
  nl_release_all(&l->s);
  const char *first = "live: the imbalance, released, moved a VM within three periods (probe)";
  uint64_t r = cu_now_ns(), cpu0[set2_vms];
  set2_cpu(l, cpu0);
  if (!set2_next(l, NL_MAX_VMS, 1, r + 3 * l->p[SET2_LONG], &l->k, &l->prev)) {
    set2_no_move(l, first, r, cpu0);
    goto out;
  }
  /* Passed: its failure (or not shown) is set2_no_move's, above. */
  sc_check(c, true, first, "a move %.1f to %.1f ms after the release",
           ((double)l->prev.t_lo - (double)r) / 1e6, ((double)l->prev.t - (double)r) / 1e6);
  set2_seen_t seen[set2_nsteps];
  size_t n = 0;
  while (n < set2_nsteps && set2_live_step(l, &set2_steps[n], &seen[n]))
    n++;
  nl_stop(&l->s);
  set2_live_crosscheck(l, seen, n);
out:
  nl_fini(&l->s);
  free(l);
}

void case_set_2(suite_ctx_t *c) {
  if (sc_clock(c) == MMC_CLOCK_LIVE)
    set2_live(c);
  else
    set2_stepped(c);
}
