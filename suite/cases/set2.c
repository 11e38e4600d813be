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

void case_set_2(suite_ctx_t *c) {
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
