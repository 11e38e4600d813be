/*
 * set2.c — case SET-2: a setting changed at run time takes effect from the
 * next period of the policy that reads it. Checked on the rebalancer's own
 * period (Numa.RebalancePeriod), through the spacing of MMC_EV_REBALANCE
 * events on the stepped clock: 2000 ms apart, the setting changed to 500 ms
 * right at a period boundary, then 500 ms apart from the next period on;
 * and back to 2000 ms. (NUMA-5 checks the same for a threshold read by the
 * rebalancer: Numa.MigImbalanceThreshold lowered between periods moves a
 * VM at the next one.)
 *
 * Emulated 2-node topology with 2 cores per node, so the rebalancer runs
 * with the documented thresholds; no VM is needed for its periods to count.
 *
 * Live form: the same three phases in real time, quick mode at a fifth of
 * the periods (400 and 100 ms). A live rebalancer's thread wakes late by
 * however the machine delays it, never early, and a setting cannot be
 * changed exactly at a boundary: a gap "is" period p when it lies in
 * [0.95 p, p + (long - short) / 2] — half the distance between the two
 * periods, so a gap of the one is never taken for the other. As in the
 * stepped form, the gaps are judged from the first run after a change on;
 * when that first run came (the old due time, by the statement) is printed
 * beside them. Event times are the host's clock (now()).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cases_list.h"
#include "mmc_error.h"
#include "numa_scen.h"

#define SET2_TOPO "synthetic:node:2 core:2 pu:1;memory=64M"
enum { set2_before = 3, set2_after = 6, set2_long_ms = 2000, set2_short_ms = 500 };

/* Times of the MMC_EV_REBALANCE events from index `from`. */
static size_t rebalance_times(scen_t *s, size_t from, uint64_t *t, size_t max) {
  size_t n = 0;
  for (size_t i = from; i < s->nev && n < max; i++)
    if (s->ev[i].type == MMC_EV_REBALANCE)
      t[n++] = s->ev[i].time_ns;
  return n;
}

/* Every gap between consecutive times (and from `start` to the first) is
 * `want_ns`. */
static void check_spacing(suite_ctx_t *c, const char *name, uint64_t start, const uint64_t *t,
                          size_t n, size_t want_n, uint64_t want_ns) {
  size_t bad = 0;
  uint64_t prev = start, bad_gap = 0;
  for (size_t i = 0; i < n; i++) {
    if (t[i] - prev != want_ns) {
      bad++;
      bad_gap = t[i] - prev;
    }
    prev = t[i];
  }
  sc_check(c, n == want_n && bad == 0, name,
           "%zu periods (wanted %zu), %zu gaps not %llu ms (e.g. %.3f ms)", n, want_n, bad,
           (unsigned long long)(want_ns / SCEN_MS), (double)bad_gap / 1e6);
}

/* ---- live */

typedef struct set2_live {
  suite_ctx_t *c;
  const mmc_impl_t *im;
  mmc_host_t *h;
  uint64_t cursor;
  uint64_t slack; /* (long - short) / 2 */
} set2_live_t;

/* Times of the MMC_EV_REBALANCE events read since the last call. */
static size_t set2_live_times(set2_live_t *l, uint64_t *t, size_t max) {
  mmc_event_t buf[64];
  size_t n = 0, got;
  while ((got = l->im->events_read(l->h, &l->cursor, buf, 64)) > 0)
    for (size_t i = 0; i < got; i++)
      if (buf[i].type == MMC_EV_REBALANCE && n < max)
        t[n++] = buf[i].time_ns;
  return n;
}

static bool set2_gap_is(const set2_live_t *l, uint64_t gap, uint64_t p) {
  return gap * 100 >= p * 95 && gap <= p + l->slack;
}

/* After waiting `wait_ns` from now: every gap between the runs since the
 * change of period p (at least `want_gaps` of them); `due` is the old
 * period's due time, for the diagnostic. */
static uint64_t set2_live_phase(set2_live_t *l, const char *name, uint64_t due, uint64_t wait_ns,
                                uint64_t p, size_t want_gaps) {
  uint64_t t[256];
  cu_sleep_until_ns(cu_now_ns() + wait_ns);
  size_t n = set2_live_times(l, t, 256), bad = 0;
  uint64_t bad_gap = 0;
  for (size_t i = 1; i < n; i++)
    if (!set2_gap_is(l, t[i] - t[i - 1], p)) {
      bad++;
      bad_gap = t[i] - t[i - 1];
    }
  sc_check(l->c, n >= want_gaps + 1 && bad == 0, name,
           "%zu runs (wanted %zu or more); %zu gaps outside [%.0f, %.0f] ms (e.g. %.3f ms)", n,
           want_gaps + 1, bad, (double)p * 0.95 / 1e6, (double)(p + l->slack) / 1e6,
           (double)bad_gap / 1e6);
  if (n)
    sc_diag(l->c, "%s: the first run %+.3f ms from the old period's due time", name,
            ((double)t[0] - (double)due) / 1e6);
  return n ? t[n - 1] : due; /* the last run: the next phase's reference */
}

/* The last run's time up to now (0 when none yet). */
static uint64_t set2_live_last(set2_live_t *l, uint64_t prev_last) {
  uint64_t t[256];
  size_t n = set2_live_times(l, t, 256);
  return n ? t[n - 1] : prev_last;
}

static void set2_live(suite_ctx_t *c) {
  bool quick = sc_mode(c) == SUITE_MODE_QUICK;
  uint64_t lms = quick ? set2_long_ms / 5 : set2_long_ms,
           sms = quick ? set2_short_ms / 5 : set2_short_ms;
  const mmc_setting_value_t set[] = {{"Numa.RebalancePeriod", (int64_t)lms}};
  mmt_topology_t *topo = cu_topology(c, SET2_TOPO);
  set2_live_t l = {.c = c, .im = sc_impl(c)};
  l.h = sc_host(c, topo, MMC_CLOCK_LIVE, set, 1);
  uint64_t lp = lms * SCEN_MS, sp = sms * SCEN_MS;
  l.slack = (lp - sp) / 2;
  mmc_error_t err = {0};
  uint64_t t[256];
  /* Before: runs lp apart. */
  uint64_t t0 = l.im->now(l.h);
  cu_sleep_until_ns(cu_now_ns() + set2_before * lp);
  size_t n = set2_live_times(&l, t, 256), bad = 0;
  uint64_t bad_gap = 0;
  for (size_t i = 1; i < n; i++)
    if (!set2_gap_is(&l, t[i] - t[i - 1], lp)) {
      bad++;
      bad_gap = t[i] - t[i - 1];
    }
  char name[160];
  snprintf(name, sizeof name, "live: before the change: periods %llu ms apart",
           (unsigned long long)lms);
  sc_check(c, n >= set2_before - 1 && n && t[0] <= t0 + lp + l.slack && bad == 0, name,
           "%zu runs in %d periods, %zu gaps outside [%.0f, %.0f] ms (e.g. %.3f ms)", n,
           set2_before, bad, (double)lp * 0.95 / 1e6, (double)(lp + l.slack) / 1e6,
           (double)bad_gap / 1e6);
  uint64_t last = n ? t[n - 1] : t0;
  /* Changed to short: from the next period on. */
  sc_require(c, l.im->setting_set(l.h, "Numa.RebalancePeriod", (int64_t)sms, &err), &err,
             "setting_set Numa.RebalancePeriod");
  last = set2_live_last(&l, last); /* a run between the reading and the change */
  snprintf(name, sizeof name, "live: changed to %llu ms: %llu ms apart from the next period",
           (unsigned long long)sms, (unsigned long long)sms);
  last = set2_live_phase(&l, name, last + lp, lp + l.slack + set2_after * sp, sp, set2_after - 2);
  /* Back to long in the middle of a short period. */
  last = set2_live_last(&l, last);
  uint64_t now = l.im->now(l.h);
  if (now < last + sp / 2)
    cu_sleep_until_ns(cu_now_ns() + (last + sp / 2 - now));
  sc_require(c, l.im->setting_set(l.h, "Numa.RebalancePeriod", (int64_t)lms, &err), &err,
             "setting_set Numa.RebalancePeriod");
  last = set2_live_last(&l, last);
  snprintf(name, sizeof name,
           "live: changed back to %llu ms mid-period: %llu ms apart from the next period",
           (unsigned long long)lms, (unsigned long long)lms);
  set2_live_phase(&l, name, last + sp, sp + 3 * lp, lp, 2);
  sc_host_destroy(c, l.h);
  mmt_free(topo);
}

void case_set_2(suite_ctx_t *c) {
  if (sc_clock(c) == MMC_CLOCK_LIVE) {
    set2_live(c);
    return;
  }
  const mmc_setting_value_t set[] = {{"Numa.RebalancePeriod", set2_long_ms}};
  scen_t s;
  scen_init(&s, c, SET2_TOPO, set, 1);
  uint64_t t[32], t0 = scen_now(&s), lp = set2_long_ms * SCEN_MS, sp = set2_short_ms * SCEN_MS;
  scen_run_until(&s, t0 + set2_before * lp);
  size_t n = rebalance_times(&s, 0, t, 32);
  check_spacing(c, "before the change: periods 2000 ms apart", t0, t, n, set2_before, lp);
  mmc_error_t err = {0};
  uint64_t t1 = scen_now(&s);
  sc_require(c, s.im->setting_set(s.h, "Numa.RebalancePeriod", set2_short_ms, &err), &err,
             "setting_set Numa.RebalancePeriod");
  size_t from = s.nev;
  scen_run_until(&s, t1 + set2_after * sp);
  n = rebalance_times(&s, from, t, 32);
  check_spacing(c, "changed to 500 ms at a boundary: 500 ms apart from the next period", t1, t, n,
                set2_after, sp);
  /* Back to 2000 ms in the middle of a short period: the period under way
   * ends at its old due time at the latest, later ones are 2000 ms. */
  scen_run_until(&s, scen_now(&s) + sp / 2);
  sc_require(c, s.im->setting_set(s.h, "Numa.RebalancePeriod", set2_long_ms, &err), &err,
             "setting_set Numa.RebalancePeriod");
  from = s.nev;
  uint64_t t2 = scen_now(&s);
  scen_run_until(&s, t2 + 3 * lp);
  n = rebalance_times(&s, from, t, 32);
  if (sc_check(c, n >= 2, "after changing back: periods continue", "%zu periods in %llu ms", n,
               (unsigned long long)(3 * lp / SCEN_MS)))
    check_spacing(c, "changed back to 2000 ms mid-period: 2000 ms apart from the next period", t[0],
                  t + 1, n - 1, n - 1, lp);
  scen_fini(&s);
}
