/*
 * migrate.c — cases of NUMA page migration (issue 4): MIG-1 (pages on the
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
 * moves the VM away and back at chosen times. MIG-3's rates and MIG-4's
 * pages moved are counted by the probe (where the VM's pages are, sampled
 * every period); pages_migrated is only cross-checked. MIG-2 reads the time
 * of the first MMC_EV_MIGRATION_BATCH.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases_issue4.h"
#include "mmc_error.h"
#include "numa_scen.h"

#define TOPO2 "synthetic:node:2 core:2 pu:1;memory=256M"
#define TOPO2_BIG "synthetic:node:2 core:2 pu:1;memory=512M"
#define FULL 1000u
#define NS_PER_S 1000000000ull

/* The base imbalance with VMs of `bytes`; returns after the first home
 * change (or broken after `periods`): *k the moved VM, *t its time. */
static void base_move(ns_t *s, uint64_t bytes, uint32_t periods, uint32_t *k, uint64_t *t,
                      uint32_t *from, uint32_t *to) {
  ns_vm(s, 1, bytes, 1u << 0, FULL);
  ns_vm(s, 1, bytes, 1u << 0, FULL);
  ns_vm(s, 1, 4 * NS_MIB, 1u << 1, 0);
  for (uint32_t i = 0; i < 3; i++)
    ns_pin(s, i, 0);
  size_t from_ev = s->nev;
  uint64_t p = ns_period(s), t0 = ns_now(s);
  for (uint32_t i = 1; i <= periods; i++) {
    ns_run_until(s, t0 + i * p);
    for (size_t e = from_ev; e < s->nev; e++)
      if (s->ev[e].type == MMC_EV_HOME_CHANGE && strcmp(s->ev[e].reason, "affinity") != 0) {
        *k = ns_index(s, s->ev[e].vm);
        *t = s->ev[e].time_ns;
        *from = (uint32_t)s->ev[e].node_from;
        *to = (uint32_t)s->ev[e].node_to;
        return;
      }
  }
  sc_broken(s->c, "setup: the base imbalance moved no VM in %u periods", periods);
}

/* Run until VM k has migrated `pages` or `limit_ns` passed (checked every
 * period); returns pages_migrated. */
static uint64_t run_migration(ns_t *s, uint32_t k, uint64_t pages, uint64_t limit_ns) {
  uint64_t p = ns_period(s), t0 = ns_now(s), moved = 0;
  for (uint64_t t = t0 + p; (moved = ns_stats(s, k).pages_migrated) < pages && t <= t0 + limit_ns;
       t += p)
    ns_run_until(s, t);
  return moved;
}

/* Batches of VM k: times and counts (caller frees). */
typedef struct batches {
  uint64_t *t, *n;
  size_t len;
} batches_t;

static batches_t collect(ns_t *s, uint32_t k, size_t from) {
  batches_t b = {calloc(s->nev + 1, sizeof *b.t), calloc(s->nev + 1, sizeof *b.n), 0};
  if (!b.t || !b.n)
    sc_broken(s->c, "out of memory");
  for (size_t i = from; i < s->nev; i++)
    if (s->ev[i].type == MMC_EV_MIGRATION_BATCH && s->ev[i].vm == s->vm[k]->id) {
      b.t[b.len] = s->ev[i].time_ns;
      b.n[b.len++] = s->ev[i].count;
    }
  return b;
}

static void batches_free(batches_t *b) {
  free(b->t);
  free(b->n);
}

/* ------------------------------------------------------------------ MIG-1, MIG-2 */

#define MIG1_LIMIT_NS (300 * NS_PER_S)

void case_mig_1(suite_ctx_t *c) {
  ns_t s;
  ns_init(&s, c, TOPO2, NULL, 0);
  cu_locator_t loc;
  cu_locator_init(c, &loc, &s.topo->desc);
  const uint64_t bytes = 16 * NS_MIB, pages = bytes / MMC_PAGE_SIZE;
  uint32_t k, from, to;
  uint64_t t_move;
  base_move(&s, bytes, 2, &k, &t_move, &from, &to);
  size_t ev0 = 0;
  uint64_t moved = run_migration(&s, k, pages, MIG1_LIMIT_NS);
  mmc_vm_stats_t st = ns_stats(&s, k);
  sc_metric(c, "migration time (default pace)", "s", "", (double)(ns_now(&s) - t_move) / 1e9);
  sc_check(c, moved == pages && st.pages_per_node[to] == pages,
           "every page of the moved VM migrated to its new home",
           "%llu of %llu migrated, %llu on node %u", (unsigned long long)moved,
           (unsigned long long)pages, (unsigned long long)st.pages_per_node[to], to);
  char name[160];
  snprintf(name, sizeof name, "every page on node %u (probe %s)", to, cu_locator_name(&loc));
  int64_t off = ns_pages_off(&s, &loc, k, 0, pages, to);
  sc_check(c, off == 0, name, "%lld of %llu pages elsewhere (-1: unattributed)", (long long)off,
           (unsigned long long)pages);
  for (uint32_t i = 0; i < s.nvms; i++) {
    char line[512];
    snprintf(name, sizeof name, "VM %u: every page holds what was written (wl_verify)", i);
    bool ok = ns_verify(&s, i, line, sizeof line);
    sc_check(c, ok, name, "%s", line);
  }
  /* MIG-2: the first batch before the next rebalancer period. */
  batches_t b = collect(&s, k, ev0);
  uint64_t p = ns_period(&s);
  sc_check(c, b.len > 0 && b.t[0] >= t_move && b.t[0] - t_move < p,
           "MIG-2: migration began before the next rebalancer period",
           "first batch %.3f s after the home change (period %.3f s)",
           b.len ? (double)(b.t[0] - t_move) / 1e9 : -1.0, (double)p / 1e9);
  if (b.len)
    sc_metric(c, "first batch after the home change", "ms", "lower",
              (double)(b.t[0] - t_move) / 1e6);
  batches_free(&b);
  cu_locator_free(&loc);
  ns_fini(&s);
}

/* ------------------------------------------------------------------ MIG-3 */

#define MIG3_RATE 2000     /* pages/s */
#define MIG3_PERIOD_MS 200 /* short periods: the case takes seconds of host time */
#define MIG3_LIMIT_NS (120 * NS_PER_S)
#define MIG3_MAX_SAMPLES (MIG3_LIMIT_NS / (MIG3_PERIOD_MS * NS_MS) + 2)

/* The rate is read off the probe, not off the implementation's batch
 * events: every period the moved VM's pages are located, and the pages on
 * the new home at each sample make the series the bounds are checked on.
 * pages_migrated is only cross-checked against it. */
typedef struct mig3_run {
  uint64_t t_move, moved, reported, peak, tail_pages, tail_ns, done_ns;
  uint32_t to;
  size_t n;
  uint64_t *t, *on; /* sample times (since the home change), pages on the new home */
} mig3_run_t;

/* Largest count of pages arriving in a 1 s window [j s, (j+1) s) after
 * the home change, from the samples (the last one of each window). */
static uint64_t mig3_peak(const mig3_run_t *r) {
  uint64_t best = 0, base = 0, win = 0, last = 0;
  for (size_t i = 0; i < r->n; i++) {
    uint64_t w = r->t[i] / NS_PER_S;
    if (w != win) { /* a sample at a window's end opens the next one */
      base = last, win = w;
    }
    last = r->on[i];
    best = last - base > best ? last - base : best;
  }
  return best;
}

/* The tail: from the sample after which under a tenth was left remote to
 * the one where the VM was all home. */
static void mig3_tail(mig3_run_t *r, uint64_t pages) {
  size_t from = r->n, to = r->n;
  for (size_t i = 0; i < r->n; i++) {
    if (from == r->n && pages - r->on[i] < pages / 10)
      from = i;
    if (to == r->n && r->on[i] == pages)
      to = i;
  }
  r->tail_pages = from < to && to < r->n ? r->on[to] - r->on[from] : 0;
  r->tail_ns = from < to && to < r->n ? r->t[to] - r->t[from] : 0;
}

/* One MIG-3 run; with `short_dest` the destination keeps only 10 % more
 * free memory than the VM's pages. Stops at `limit` after the move. */
static void mig3_run(suite_ctx_t *c, bool short_dest, uint64_t limit, mig3_run_t *r) {
  const mmc_setting_value_t set[] = {{"Numa.PageMigRateMax", MIG3_RATE},
                                     {"Numa.RebalancePeriod", MIG3_PERIOD_MS}};
  const uint64_t bytes = 32 * NS_MIB, pages = bytes / MMC_PAGE_SIZE;
  ns_t s;
  ns_init(&s, c, TOPO2, set, 2);
  cu_locator_t loc;
  cu_locator_init(c, &loc, &s.topo->desc);
  if (short_dest) { /* fill node 1 first, pinned, idle */
    uint64_t free1 = cu_host_stats(c, s.h).node_free_pages[1];
    uint64_t keep = pages + pages / 10 + 4 * NS_MIB / MMC_PAGE_SIZE; /* + the idle VM */
    if (free1 > keep)
      ns_vm(&s, 1, (free1 - keep) * MMC_PAGE_SIZE, 1u << 1, 0);
  }
  uint32_t k, from, to;
  base_move(&s, bytes, 3, &k, &r->t_move, &from, &to);
  r->to = to;
  r->t = calloc(MIG3_MAX_SAMPLES, sizeof *r->t);
  r->on = calloc(MIG3_MAX_SAMPLES, sizeof *r->on);
  if (!r->t || !r->on)
    sc_broken(c, "out of memory for the MIG-3 samples");
  uint64_t p = ns_period(&s);
  for (uint64_t t = r->t_move + p; t <= r->t_move + limit && r->n < MIG3_MAX_SAMPLES; t += p) {
    ns_run_until(&s, t);
    int64_t off = ns_pages_off(&s, &loc, k, 0, pages, to);
    if (off < 0)
      sc_broken(c, "MIG-3: the probe (%s) could not attribute every page", cu_locator_name(&loc));
    r->t[r->n] = ns_now(&s) - r->t_move;
    r->on[r->n++] = pages - (uint64_t)off;
    if (pages - (uint64_t)off == pages)
      break;
  }
  r->moved = r->n ? r->on[r->n - 1] : 0;
  r->reported = ns_stats(&s, k).pages_migrated;
  r->done_ns = ns_now(&s) - r->t_move;
  r->peak = mig3_peak(r);
  mig3_tail(r, pages);
  cu_locator_free(&loc);
  ns_fini(&s);
}

void case_mig_3(suite_ctx_t *c) {
  mig3_run_t roomy = {0}, tight = {0};
  mig3_run(c, false, MIG3_LIMIT_NS, &roomy);
  const uint64_t pages = 32 * NS_MIB / MMC_PAGE_SIZE;
  sc_check(c, roomy.moved == pages, "roomy destination: the whole VM migrated (probe)",
           "%llu of %llu pages on the new home after %.1f s", (unsigned long long)roomy.moved,
           (unsigned long long)pages, (double)roomy.done_ns / 1e9);
  sc_check_int(c, "roomy destination: pages_migrated agrees with the probe", (long long)roomy.moved,
               (long long)roomy.reported);
  sc_metric(c, "peak rate (1 s window)", "pages/s", "", (double)roomy.peak);
  char name[160];
  snprintf(name, sizeof name, "rate within Numa.PageMigRateMax %d pages/s (1 s windows, probe)",
           MIG3_RATE);
  sc_check(c, roomy.peak <= MIG3_RATE + MIG3_RATE / 20 + 1, name, "peak %llu pages arrived in 1 s",
           (unsigned long long)roomy.peak);
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
           "destination short of free memory: slower (fewer pages in the same time, probe)",
           "%llu pages vs %llu with a roomy destination in %.1f s", (unsigned long long)tight.moved,
           (unsigned long long)roomy.moved, (double)roomy.done_ns / 1e9);
  free(roomy.t), free(roomy.on), free(tight.t), free(tight.on);
}

/* ------------------------------------------------------------------ MIG-4 */

/* Pages of VM k not on node 0 by the probe; broken when it cannot tell. */
static uint64_t mig4_away(ns_t *s, cu_locator_t *loc, uint32_t k, uint64_t pages) {
  int64_t off = ns_pages_off(s, loc, k, 0, pages, 0);
  if (off < 0)
    sc_broken(s->c, "MIG-4: the probe (%s) could not attribute every page", cu_locator_name(loc));
  return (uint64_t)off;
}

/* Pages moved are counted by the probe, not taken from pages_migrated:
 * pages go only toward node 1 while the VM is away and only back toward
 * node 0 after, so X pages found on node 1 when it comes back, of which Y
 * are still there at the end, are X + (X - Y) moves. The statistic is
 * cross-checked against that count. */
void case_mig_4(suite_ctx_t *c) {
  for (uint32_t away = 1; away <= 2; away++) {
    ns_t s;
    ns_init(&s, c, TOPO2_BIG, NULL, 0);
    cu_locator_t loc;
    cu_locator_init(c, &loc, &s.topo->desc);
    int64_t cap = cu_setting(c, s.h, "Numa.PageMigRateMax");
    uint64_t p = ns_period(&s);
    /* Big enough that moving at the cap for the whole time would move far
     * more than the bound: cap x (away + 1) periods, plus a margin. */
    uint64_t pages = (uint64_t)cap * (away + 1) * p / NS_PER_S * 5 / 4;
    uint32_t k = ns_vm(&s, 1, pages * MMC_PAGE_SIZE, 1u << 0, 0);
    uint64_t t0 = ns_now(&s);
    ns_pin(&s, k, 1u << 1); /* away */
    ns_run_until(&s, t0 + away * p);
    uint64_t went = mig4_away(&s, &loc, k, pages);
    ns_pin(&s, k, 1u << 0); /* and back */
    ns_run_until(&s, t0 + (away + 1) * p);
    uint64_t stayed = mig4_away(&s, &loc, k, pages), moved = went + (went - stayed);
    mmc_vm_stats_t st = ns_stats(&s, k);
    double allowed = 0.5 * (double)cap * (double)((away + 1) * p) / 1e9;
    char name[160];
    snprintf(name, sizeof name,
             "away %u period(s) and back: pages moved <= half the cap over the time (probe)", away);
    sc_check(c, (double)moved <= allowed, name,
             "%llu pages moved: %llu went to node 1, %llu of them came back (bound %.0f, VM %llu "
             "pages)",
             (unsigned long long)moved, (unsigned long long)went,
             (unsigned long long)(went - stayed), allowed, (unsigned long long)pages);
    snprintf(name, sizeof name, "away %u: pages_migrated agrees with the probe", away);
    if (st.unobserved & MMC_VMSTAT_PAGES_MIGRATED)
      sc_diag(c, "%s: not checked, pages_migrated is unobserved", name);
    else
      sc_check_int(c, name, (long long)moved, (long long)st.pages_migrated);
    snprintf(name, sizeof name, "pages moved, away %u period(s) and back", away);
    sc_metric(c, name, "pages", "lower", (double)moved);
    char line[512];
    snprintf(name, sizeof name, "away %u: every page intact (wl_verify)", away);
    bool ok = ns_verify(&s, k, line, sizeof line);
    sc_check(c, ok, name, "%s", line);
    cu_locator_free(&loc);
    ns_fini(&s);
  }
}

/* ------------------------------------------------------------------ MIG-5 */

void case_mig_5(suite_ctx_t *c) {
  const mmc_setting_value_t set[] = {{"Numa.PageMigEnable", 0}};
  ns_t s;
  ns_init(&s, c, TOPO2, set, 1);
  cu_locator_t loc;
  cu_locator_init(c, &loc, &s.topo->desc);
  const uint64_t bytes = 4 * NS_MIB, pages = bytes / MMC_PAGE_SIZE;
  uint32_t k, from, to;
  uint64_t t;
  base_move(&s, bytes, 2, &k, &t, &from, &to);
  ns_run_until(&s, ns_now(&s) + 10 * ns_period(&s));
  sc_check(c, ns_stats(&s, k).home_node == to, "the home change still happened",
           "home %u, expected %u", ns_stats(&s, k).home_node, to);
  uint64_t migrated = 0;
  for (uint32_t i = 0; i < s.nvms; i++)
    migrated += ns_stats(&s, i).pages_migrated;
  sc_check_int(c, "no page migrated (pages_migrated of every VM)", 0, (long long)migrated);
  sc_check_int(c, "no MMC_EV_MIGRATION_BATCH", 0,
               (long long)ns_count(&s, 0, MMC_EV_MIGRATION_BATCH, NS_MAX_VMS));
  char name[160];
  snprintf(name, sizeof name, "the moved VM's pages all still on node %u (probe %s)", from,
           cu_locator_name(&loc));
  int64_t off = ns_pages_off(&s, &loc, k, 0, pages, from);
  sc_check(c, off == 0, name, "%lld of %llu pages elsewhere", (long long)off,
           (unsigned long long)pages);
  cu_locator_free(&loc);
  ns_fini(&s);
}
