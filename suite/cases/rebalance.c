/*
 * rebalance.c — cases of the NUMA rebalancer (issue 4): NUMA-4 (home changes
 * only at period boundaries; live period spacing), NUMA-5 (threshold,
 * entitlements), NUMA-6 (destination preference), NUMA-7 (new memory on the
 * new home, probe-verified), NUMA-12 (locality moves and swaps, and never
 * into CPU contention), NUMA-10 (steady state after churn; convergence time).
 *
 * Deterministic scenarios (numa_scen.h) on an emulated 2-node topology with
 * 2 cores per node (the documented Numa.RebalanceCoresTotal/Node minimums),
 * stepped clock, so loads are exact: the suite declares each vCPU's CPU
 * demand and pins where VMs and their memory start. Loads are measured as
 * the documentation implies: demand over the node's cores. The "base"
 * imbalance: VMs A and B (1 vCPU, a full core each) on node 0, C (idle) on
 * node 1: node 0 at 100 %, node 1 at 0 %, and one move of A or B balances.
 *
 * What the documentation leaves open and the cases therefore do not assume:
 * which of two equal candidates moves (except where NUMA-6 decides), the
 * exact thresholds' arithmetic beyond "under the threshold nothing moves".
 * CPU shares are not part of the contract's VM config, so NUMA-5 checks the
 * entitlement it can state: a VM whose memory does not fit the destination's
 * free memory is not moved there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cases_issue4.h"
#include "mmc_error.h"
#include "numa_scen.h"

#define TOPO2 "synthetic:node:2 core:2 pu:1;memory=256M"
#define TOPO2_SMALL "synthetic:node:2 core:2 pu:1;memory=64M"
#define TOPO4 "synthetic:node:4 core:2 pu:1;memory=512M"
#define FULL 1000u /* permille: one core */

/* A and B busy on node 0, C idle on node 1, all released. Returns C's index
 * (A = 0, B = 1). */
static void base3(ns_t *s, uint64_t bytes) {
  ns_vm(s, 1, bytes, 1u << 0, FULL);
  ns_vm(s, 1, bytes, 1u << 0, FULL);
  ns_vm(s, 1, bytes, 1u << 1, 0);
  for (uint32_t k = 0; k < 3; k++)
    ns_pin(s, k, 0);
}

/* The first MMC_EV_HOME_CHANGE from event index `from` whose reason is not
 * "affinity" (the cases' own pins), or NULL. */
static const mmc_event_t *first_move(ns_t *s, size_t from) {
  for (size_t i = from; i < s->nev; i++)
    if (s->ev[i].type == MMC_EV_HOME_CHANGE && strcmp(s->ev[i].reason, "affinity") != 0)
      return &s->ev[i];
  return NULL;
}

static size_t moves_since(ns_t *s, size_t from) {
  size_t n = 0;
  for (size_t i = from; i < s->nev; i++)
    n += s->ev[i].type == MMC_EV_HOME_CHANGE && strcmp(s->ev[i].reason, "affinity") != 0;
  return n;
}

/* ------------------------------------------------------------------ NUMA-4 */

/* Live clock: the spacing of MMC_EV_REBALANCE with Numa.RebalancePeriod at
 * its minimum (100 ms). */
enum { numa4_live_events = 11 };
#define NUMA4_LIVE_PERIOD_MS 100
#define NUMA4_LIVE_DEADLINE_NS 20000000000ull
#define NUMA4_POLL_NS 5000000L

static void numa4_live(suite_ctx_t *c) {
  const mmc_impl_t *im = sc_impl(c);
  mmt_topology_t *t = cu_topology(c, TOPO2);
  const mmc_setting_value_t set[] = {{"Numa.RebalancePeriod", NUMA4_LIVE_PERIOD_MS}};
  mmc_host_t *h = sc_host(c, t, MMC_CLOCK_LIVE, set, 1);
  uint64_t cursor = 0, times[numa4_live_events];
  size_t n = 0;
  uint64_t deadline = cu_now_ns() + NUMA4_LIVE_DEADLINE_NS;
  while (n < numa4_live_events && cu_now_ns() < deadline) {
    mmc_event_t ev[32];
    size_t got = im->events_read(h, &cursor, ev, 32);
    for (size_t i = 0; i < got && n < numa4_live_events; i++)
      if (ev[i].type == MMC_EV_REBALANCE)
        times[n++] = ev[i].time_ns;
    if (!got) {
      struct timespec ts = {0, NUMA4_POLL_NS}; /* polling the event counter */
      nanosleep(&ts, NULL);
    }
  }
  sc_host_destroy(c, h);
  mmt_free(t);
  if (!sc_check(c, n == numa4_live_events, "live: rebalancer periods observed",
                "%zu MMC_EV_REBALANCE events in %llu s, wanted %d", n,
                (unsigned long long)(NUMA4_LIVE_DEADLINE_NS / 1000000000ull), numa4_live_events))
    return;
  const double p = NUMA4_LIVE_PERIOD_MS * 1e6;
  double lo = 1e300, hi = 0, sum = 0;
  for (size_t i = 1; i < n; i++) {
    double d = (double)(times[i] - times[i - 1]);
    lo = d < lo ? d : lo;
    hi = d > hi ? d : hi;
    sum += d;
  }
  double mean = sum / (double)(n - 1);
  sc_metric(c, "live period spacing mean", "ms", "", mean / 1e6);
  sc_metric(c, "live period spacing max", "ms", "lower", hi / 1e6);
  sc_check_range(c, "live: mean spacing within 10 % of Numa.RebalancePeriod (ms)", 0.9 * p / 1e6,
                 1.1 * p / 1e6, mean / 1e6);
  sc_check(c, lo >= 0.5 * p && hi <= 2.0 * p,
           "live: every spacing within [0.5, 2] x Numa.RebalancePeriod",
           "spacings from %.1f to %.1f ms for a %.0f ms period", lo / 1e6, hi / 1e6, p / 1e6);
}

void case_numa_4(suite_ctx_t *c) {
  ns_t s;
  ns_init(&s, c, TOPO2, NULL, 0);
  base3(&s, 4 * NS_MIB);
  uint64_t p = ns_period(&s), t0 = ns_now(&s);
  size_t from = s.nev;
  ns_run_until(&s, t0 + p - 1);
  sc_check_int(c, "no home change before the first period", 0, (long long)moves_since(&s, from));
  ns_run_until(&s, t0 + 4 * p);
  size_t nmoves = moves_since(&s, from), off = 0, unmatched = 0;
  for (size_t i = from; i < s.nev; i++) {
    const mmc_event_t *e = &s.ev[i];
    if (e->type != MMC_EV_HOME_CHANGE || strcmp(e->reason, "affinity") == 0)
      continue;
    off += (e->time_ns - t0) % p != 0;
    bool same = false; /* a rebalancer period ran at that very time */
    for (size_t j = from; j < s.nev; j++)
      same |= s.ev[j].type == MMC_EV_REBALANCE && s.ev[j].time_ns == e->time_ns;
    unmatched += !same;
  }
  sc_check(c, nmoves >= 1, "the imbalance (100 % vs 0 %) moved a VM", "%zu home changes", nmoves);
  sc_check(c, off == 0, "every home change at a period boundary (stepped clock)",
           "%zu of %zu home changes between boundaries", off, nmoves);
  sc_check(c, unmatched == 0, "every home change in a period with MMC_EV_REBALANCE",
           "%zu home changes without a rebalancer period at that time", unmatched);
  sc_check_int(c, "one MMC_EV_REBALANCE per period", 4,
               (long long)ns_count(&s, from, MMC_EV_REBALANCE, NS_MAX_VMS));
  ns_fini(&s);
  if (sc_impl(c)->capabilities & MMC_CAP_CLOCK_LIVE)
    numa4_live(c);
  else
    sc_diag(c, "live part not run: no MMC_CAP_CLOCK_LIVE");
}

/* ------------------------------------------------------------------ NUMA-5 */

enum { numa5_periods = 5 };

void case_numa_5(suite_ctx_t *c) {
  /* Threshold: the base imbalance is 100 points; with the threshold at 150
   * nothing moves; lowered to 50 at a boundary, the next period moves. */
  const mmc_setting_value_t high[] = {{"Numa.MigImbalanceThreshold", 150}};
  ns_t s;
  ns_init(&s, c, TOPO2, high, 1);
  base3(&s, 4 * NS_MIB);
  uint64_t p = ns_period(&s), t0 = ns_now(&s);
  size_t from = s.nev;
  ns_run_until(&s, t0 + numa5_periods * p);
  sc_check_int(c, "imbalance 100 points under Numa.MigImbalanceThreshold 150: no move", 0,
               (long long)moves_since(&s, from));
  mmc_error_t err = {0};
  sc_require(c, s.im->setting_set(s.h, "Numa.MigImbalanceThreshold", 50, &err), &err,
             "setting_set");
  from = s.nev;
  ns_run_until(&s, t0 + (numa5_periods + 1) * p);
  const mmc_event_t *m = first_move(&s, from);
  sc_check(c, m && m->time_ns == t0 + (numa5_periods + 1) * p,
           "threshold lowered to 50: the next period moves a VM", "%s",
           m ? "the move came at another time" : "no move");
  ns_fini(&s);

  /* Entitlement: node 1 is nearly full (an idle VM pinned there holds 44 of
   * its 64 MB), so neither busy 24 MB VM of node 0 fits its free memory. */
  ns_init(&s, c, TOPO2_SMALL, NULL, 0);
  ns_vm(&s, 1, 24 * NS_MIB, 1u << 0, FULL);
  ns_vm(&s, 1, 24 * NS_MIB, 1u << 0, FULL);
  ns_vm(&s, 1, 44 * NS_MIB, 1u << 1, 0);
  ns_pin(&s, 0, 0);
  ns_pin(&s, 1, 0);
  mmc_host_stats_t hs = cu_host_stats(c, s.h);
  sc_diag(c, "node 1 free: %llu pages; each busy VM: %llu pages",
          (unsigned long long)hs.node_free_pages[1],
          (unsigned long long)(24 * NS_MIB / MMC_PAGE_SIZE));
  t0 = ns_now(&s);
  from = s.nev;
  ns_run_until(&s, t0 + numa5_periods * p);
  sc_check_int(c, "no VM moved to a node its memory does not fit", 0,
               (long long)moves_since(&s, from));
  sc_diag(c, "CPU shares/reservations are not in the contract's VM config: not checked");
  ns_fini(&s);
}

/* ------------------------------------------------------------------ NUMA-6 */

void case_numa_6(suite_ctx_t *c) {
  /* A (index 0) and B (index 1) equally busy on node 0; B's memory is on
   * node 1 (written there, then its home moved to node 0; page migration off
   * so it stays). Lower index would favour A: the move must be B's. */
  const mmc_setting_value_t set[] = {{"Numa.PageMigEnable", 0}};
  ns_t s;
  ns_init(&s, c, TOPO2, set, 1);
  ns_vm(&s, 1, 4 * NS_MIB, 1u << 0, FULL);
  ns_vm(&s, 1, 4 * NS_MIB, 1u << 1, FULL);
  ns_pin(&s, 1, 1u << 0);
  ns_vm(&s, 1, 4 * NS_MIB, 1u << 1, 0);
  for (uint32_t k = 0; k < 3; k++)
    ns_pin(&s, k, 0);
  mmc_vm_stats_t b = ns_stats(&s, 1);
  sc_check(c, b.home_node == 0 && b.pages_per_node[1] == b.configured_pages,
           "setup: B homed on node 0 with its memory on node 1", "home %u, %llu of %llu pages",
           b.home_node, (unsigned long long)b.pages_per_node[1],
           (unsigned long long)b.configured_pages);
  size_t from = s.nev;
  ns_run_until(&s, ns_now(&s) + 2 * ns_period(&s));
  const mmc_event_t *m = first_move(&s, from);
  if (!sc_check(c, m != NULL, "the imbalance moved a VM", "no home change in 2 periods"))
    goto out;
  sc_check(c, ns_index(&s, m->vm) == 1 && m->node_to == 1,
           "the VM with memory on the destination (B) moved there", "VM index %u moved to %d",
           ns_index(&s, m->vm), m->node_to);
  sc_check_int(c, "A stayed", 0, (long long)ns_stats(&s, 0).home_changes);
out:
  ns_fini(&s);
}

/* ------------------------------------------------------------------ NUMA-7 */

void case_numa_7(suite_ctx_t *c) {
  /* The base scenario with 8 MB VMs, only their first half written at boot;
   * page migration off, so the old pages stay where they were (the probe
   * must tell the two halves apart). After the move the moved VM writes its
   * second half: every such page must be on the new home, and its vCPU must
   * run there. */
  const mmc_setting_value_t set[] = {{"Numa.PageMigEnable", 0}};
  ns_t s;
  ns_init(&s, c, TOPO2, set, 1);
  cu_locator_t loc;
  cu_locator_init(c, &loc, &s.topo->desc);
  const uint64_t bytes = 8 * NS_MIB, half = bytes / MMC_PAGE_SIZE / 2;
  s.boot_pages = half;
  base3(&s, bytes);
  size_t from = s.nev;
  ns_run_until(&s, ns_now(&s) + ns_period(&s));
  const mmc_event_t *m = first_move(&s, from);
  if (!sc_check(c, m != NULL, "the imbalance moved a VM", "no home change in one period"))
    goto out;
  uint32_t k = ns_index(&s, m->vm), to = (uint32_t)m->node_to, old = (uint32_t)m->node_from;
  ns_write(&s, k, half, half);
  char name[160];
  snprintf(name, sizeof name, "new memory of the moved VM on its new home node %u (probe %s)", to,
           cu_locator_name(&loc));
  int64_t off = ns_pages_off(&s, &loc, k, half, half, to);
  sc_check(c, off == 0, name, "%lld of %llu new pages elsewhere (-1: unattributed)", (long long)off,
           (unsigned long long)half);
  snprintf(name, sizeof name, "its old memory still on node %u (migration off; probe %s)", old,
           cu_locator_name(&loc));
  off = ns_pages_off(&s, &loc, k, 0, half, old);
  sc_check(c, off == 0, name, "%lld of %llu old pages elsewhere", (long long)off,
           (unsigned long long)half);
  mmc_vcpu_info_t info;
  mmc_error_t err = {0};
  sc_require(c, s.im->vcpu_info(s.h, m->vm, 0, &info, &err), &err, "vcpu_info");
  sc_check_int(c, "the moved VM's vCPU runs on the new home (vcpu_info)", to, info.node);
out:
  cu_locator_free(&loc);
  ns_fini(&s);
}

/* ------------------------------------------------------------------ NUMA-12 */

enum { numa12_periods = 6 };

/* VM whose memory is written on node `mem` and whose home is then `home`
 * (released unless `keep_pin`), with `vcpus` vCPUs at `demand` each. */
static uint32_t vm_split(ns_t *s, uint32_t vcpus, uint32_t mem, uint32_t home, uint32_t demand,
                         bool keep_pin) {
  uint32_t k = ns_vm(s, vcpus, 4 * NS_MIB, 1u << mem, demand);
  ns_pin(s, k, 1u << home);
  if (!keep_pin)
    ns_pin(s, k, 0);
  return k;
}

/* VM k writes the second half of its pages (untouched until now): how many
 * of them the probe finds off `node` (-1: some unattributed). */
static int64_t numa12_new_off(ns_t *s, cu_locator_t *loc, uint32_t k, uint32_t node) {
  uint64_t half = s->cfg[k].memory_bytes / MMC_PAGE_SIZE / 2;
  ns_write(s, k, half, half);
  return ns_pages_off(s, loc, k, half, half, node);
}

static void numa12_locality(suite_ctx_t *c, const mmc_setting_value_t *set, bool contended) {
  ns_t s;
  ns_init(&s, c, TOPO2, set, 1);
  cu_locator_t loc;
  cu_locator_init(c, &loc, &s.topo->desc);
  /* A: memory on node 0 (its first half written there), home node 1, a
   * fifth of a core. */
  s.boot_pages = 4 * NS_MIB / MMC_PAGE_SIZE / 2;
  uint32_t a = vm_split(&s, 1, 0, 1, 200, false);
  s.boot_pages = 0;
  if (contended) { /* node 0 full: two pinned VMs of a core each */
    ns_vm(&s, 1, 4 * NS_MIB, 1u << 0, FULL);
    ns_vm(&s, 1, 4 * NS_MIB, 1u << 0, FULL);
  }
  size_t from = s.nev;
  ns_run_until(&s, ns_now(&s) + numa12_periods * ns_period(&s));
  const mmc_event_t *m = first_move(&s, from);
  if (contended) {
    sc_check(c, m == NULL, "no locality move into a node at full CPU (no contention created)",
             "VM index %u moved to node %d (%s)", m ? ns_index(&s, m->vm) : 0, m ? m->node_to : -1,
             m ? m->reason : "");
  } else if (sc_check(c, m != NULL, "locality move: A goes to the node holding its memory",
                      "no home change in %d periods", numa12_periods)) {
    sc_check(c, ns_index(&s, m->vm) == a && m->node_to == 0 && strcmp(m->reason, "locality") == 0,
             "the move is A's, to node 0, reason \"locality\"", "VM index %u to node %d, '%s'",
             ns_index(&s, m->vm), m->node_to, m->reason);
    mmc_vm_stats_t st = ns_stats(&s, a);
    sc_check_int(c, "A's memory is local afterwards", (long long)st.resident_pages,
                 (long long)st.pages_per_node[st.home_node]);
    int64_t off = numa12_new_off(&s, &loc, a, 0);
    sc_check(c, off == 0, "A's new memory after the move comes from node 0 (probe)",
             "%lld pages elsewhere (-1: unattributed)", (long long)off);
  }
  cu_locator_free(&loc);
  ns_fini(&s);
}

static void numa12_swap(suite_ctx_t *c, const mmc_setting_value_t *set, bool contended) {
  ns_t s;
  ns_init(&s, c, TOPO2, set, 1);
  cu_locator_t loc;
  cu_locator_init(c, &loc, &s.topo->desc);
  int64_t interval = cu_setting(c, s.h, "Numa.SwapInterval");
  uint32_t a, b;
  if (!contended) {
    /* A: memory 0, home 1; B: memory 1, home 0; a core each. Neither can
     * move alone without unbalancing; swapped, both are local. Only their
     * first halves are written at first. */
    s.boot_pages = 4 * NS_MIB / MMC_PAGE_SIZE / 2;
    a = vm_split(&s, 1, 0, 1, FULL, false);
    b = vm_split(&s, 1, 1, 0, FULL, false);
    s.boot_pages = 0;
  } else {
    /* A (2 vCPUs, 2 cores of demand) memory 0, home 1; B (half a core)
     * memory 1, home 0; C pinned on node 0 with a core. Swapped, node 0
     * would need 3 cores of its 2. */
    a = vm_split(&s, 2, 0, 1, FULL, false);
    b = vm_split(&s, 1, 1, 0, FULL / 2, false);
    ns_vm(&s, 1, 4 * NS_MIB, 1u << 0, FULL);
  }
  size_t from = s.nev;
  ns_run_until(&s, ns_now(&s) + (uint64_t)(3 * interval + 1) * ns_period(&s));
  size_t n = moves_since(&s, from);
  if (contended) {
    const mmc_event_t *m = first_move(&s, from);
    sc_check(c, n == 0, "no swap that would overload a node (no contention created)",
             "%zu home changes, first VM index %u to node %d (%s)", n, m ? ns_index(&s, m->vm) : 0,
             m ? m->node_to : -1, m ? m->reason : "");
    cu_locator_free(&loc);
    ns_fini(&s);
    return;
  }
  mmc_vm_stats_t sa = ns_stats(&s, a), sb = ns_stats(&s, b);
  sc_check(c, sa.home_node == 0 && sb.home_node == 1, "swap: A and B exchanged nodes",
           "A home %u, B home %u, %zu home changes", sa.home_node, sb.home_node, n);
  size_t swaps = 0;
  uint64_t t[2] = {0, 0};
  for (size_t i = from; i < s.nev; i++)
    if (s.ev[i].type == MMC_EV_HOME_CHANGE && strcmp(s.ev[i].reason, "swap") == 0 && swaps < 2)
      t[swaps++] = s.ev[i].time_ns;
  sc_check(c, swaps == 2 && t[0] == t[1], "both home changes are one swap (reason, same period)",
           "%zu home changes with reason \"swap\"", swaps);
  sc_check(c,
           sa.pages_per_node[0] == sa.resident_pages && sb.pages_per_node[1] == sb.resident_pages,
           "after the swap both VMs' memory is local", "A %llu/%llu on node 0, B %llu/%llu on 1",
           (unsigned long long)sa.pages_per_node[0], (unsigned long long)sa.resident_pages,
           (unsigned long long)sb.pages_per_node[1], (unsigned long long)sb.resident_pages);
  int64_t off_a = numa12_new_off(&s, &loc, a, 0), off_b = numa12_new_off(&s, &loc, b, 1);
  sc_check(c, off_a == 0 && off_b == 0,
           "after the swap both VMs' new memory comes from their new homes (probe)",
           "A: %lld pages off node 0, B: %lld off node 1 (-1: unattributed)", (long long)off_a,
           (long long)off_b);
  cu_locator_free(&loc);
  ns_fini(&s);
}

void case_numa_12(suite_ctx_t *c) {
  /* Page migration off: memory stays where the scenario put it, so locality
   * is what the rebalancer sees, not what migration already fixed. */
  const mmc_setting_value_t set[] = {{"Numa.PageMigEnable", 0}};
  numa12_locality(c, set, false);
  numa12_locality(c, set, true);
  numa12_swap(c, set, false);
  numa12_swap(c, set, true);
}

/* ------------------------------------------------------------------ NUMA-10 */

/* Small VMs (at most 2 MB): the working-set workload writes its whole set
 * every step, and the case must stay within seconds. */
enum {
  numa10_steady_periods = 10,
  numa10_max_vms = 8,
  numa10_max_vcpus = 2,
  numa10_min_pages = 128,
  numa10_max_pages = 512,
  numa10_ticks_per_period = 4,
};
#define NUMA10_CHURN_NS 30000000000ull
#define NUMA10_LIMIT_NS 600000000000ull /* "seconds to minutes": 10 min */

/* Time of the last rebalancer home change in events [from, ...). */
static bool last_move_time(const mmc_event_t *ev, size_t n, uint64_t *t) {
  bool any = false;
  for (size_t i = 0; i < n; i++)
    if (ev[i].type == MMC_EV_HOME_CHANGE && strcmp(ev[i].reason, "affinity") != 0) {
      *t = ev[i].time_ns;
      any = true;
    }
  return any;
}

/* A lone busy VM (two full vCPUs on a 2-core node) beside an idle node:
 * moving it would only put the same imbalance on the other node, so a
 * rebalancer whose moves must gain (Numa.MigThreshold) and must not flip
 * the imbalance (Numa.MigThrashThreshold) leaves it where it is, while one
 * without those margins moves it back and forth every period and never
 * settles. The churn below may or may not meet such a case; this one is
 * deterministic. */
enum { numa10_lone_periods = 12 };

static void numa10_lone(suite_ctx_t *c) {
  ns_t s;
  ns_init(&s, c, TOPO2, NULL, 0);
  ns_vm(&s, 2, 4 * NS_MIB, 1u << 0, FULL);
  ns_pin(&s, 0, 0);
  uint64_t p = ns_period(&s), t0 = ns_now(&s);
  size_t from = s.nev;
  ns_run_until(&s, t0 + numa10_lone_periods * p);
  size_t n = moves_since(&s, from), late = 0;
  for (size_t i = from; i < s.nev; i++)
    late += s.ev[i].type == MMC_EV_HOME_CHANGE && strcmp(s.ev[i].reason, "affinity") != 0 &&
            s.ev[i].time_ns > t0 + 2 * p;
  sc_check(c, n <= 1 && late == 0,
           "a lone busy VM beside an idle node: steady (at most one home change, none after the "
           "second period)",
           "%zu home changes in %d periods, %zu after the second", n, numa10_lone_periods, late);
  ns_fini(&s);
}

void case_numa_10(suite_ctx_t *c) {
  const mmc_impl_t *im = sc_impl(c);
  const mmt_topology_t *run = sc_topology(c);
  mmt_topology_t *own = ns_rebalancer_can_run(&run->desc) ? NULL : cu_topology(c, TOPO4);
  const mmt_topology_t *mt = own ? own : run;
  mmc_host_t *h = sc_host(c, mt, MMC_CLOCK_STEPPED, NULL, 0);
  uint64_t period = (uint64_t)cu_setting(c, h, "Numa.RebalancePeriod") * NS_MS;
  uint64_t tick = period / numa10_ticks_per_period;
  wl_churn_cfg_t cc = {.seed = sc_seed(c),
                       .max_vms = numa10_max_vms,
                       .min_pages = numa10_min_pages,
                       .max_pages = numa10_max_pages,
                       .max_vcpus = numa10_max_vcpus,
                       .mean_interarrival_ns = period,
                       .min_life_ns = 5 * period,
                       .max_life_ns = 15 * period,
                       .phase_ns = 3 * period,
                       .max_demand_permille = FULL};
  sc_diag(c, "churn on %s for %llu s, seed %llu", mt->desc.name,
          (unsigned long long)(NUMA10_CHURN_NS / 1000000000ull), (unsigned long long)cc.seed);
  wl_churn_t *ch = NULL;
  mmc_error_t err = {0};
  sc_require(c, wl_churn_create(&ch, im, h, &cc, &err), &err, "wl_churn_create");
  sc_require(c, wl_churn_run(ch, im->now(h) + NUMA10_CHURN_NS, tick, &err), &err, "wl_churn_run");
  /* The workload change is over: the VMs alive keep running, unchanged. */
  uint64_t end = im->now(h), cursor = 0, last = end;
  size_t nalive = wl_churn_nalive(ch);
  wl_vm_t *vms[numa10_max_vms];
  for (size_t i = 0; i < nalive && i < numa10_max_vms; i++)
    vms[i] = wl_churn_vm(ch, i);
  size_t cap = 1024, nev = 0;
  mmc_event_t *ev = malloc(cap * sizeof *ev);
  if (!ev)
    sc_broken(c, "out of memory for events");
  /* The churn phase's rebalancer moves (informational: the seed decides). */
  uint64_t churn_moves = 0, last_any = 0;
  for (mmc_event_t tmp[256];;) {
    size_t got = im->events_read(h, &cursor, tmp, 256);
    if (!got)
      break;
    for (size_t i = 0; i < got; i++)
      churn_moves += last_move_time(&tmp[i], 1, &last_any);
  }
  sc_metric(c, "home changes during churn", "", "", (double)churn_moves);
  bool steady = false;
  while (!steady && im->now(h) - end < NUMA10_LIMIT_NS) {
    wl_stepped_cfg_t sc = {.duration_ns = period, .tick_ns = tick, .advance = true};
    sc_require(c, wl_run_stepped(vms, nalive, &sc, &err), &err, "wl_run_stepped");
    size_t got;
    do {
      if (cap - nev < 256) {
        mmc_event_t *bigger = realloc(ev, 2 * cap * sizeof *ev);
        if (!bigger)
          sc_broken(c, "out of memory for events");
        ev = bigger;
        cap *= 2;
      }
      got = im->events_read(h, &cursor, ev + nev, 256);
      nev += got;
    } while (got == 256);
    uint64_t t = end;
    last_move_time(ev, nev, &t);
    last = t;
    steady = im->now(h) - last >= numa10_steady_periods * period;
  }
  /* Convergence: from the last workload change (arrival, departure or
   * phase change) to the last home change, in either phase. */
  size_t nch = wl_churn_nevents(ch);
  uint64_t changed = nch ? wl_churn_events(ch)[nch - 1].time_ns : 0;
  if (last == end && last_any)
    last = last_any;
  double conv = last > changed ? (double)(last - changed) / 1e9 : 0.0;
  sc_diag(c, "%zu VMs alive after churn; %zu churn events", nalive, wl_churn_nevents(ch));
  sc_metric(c, "convergence time", "s", "lower", conv);
  char name[160];
  snprintf(name, sizeof name, "steady state (no home change for %d periods) within %llu s",
           numa10_steady_periods, (unsigned long long)(NUMA10_LIMIT_NS / 1000000000ull));
  sc_check(c, steady, name, "home changes still happening %.0f s after the churn",
           (double)(im->now(h) - end) / 1e9);
  free(ev);
  wl_churn_destroy(ch);
  sc_host_destroy(c, h);
  if (own)
    mmt_free(own);
  numa10_lone(c);
}
