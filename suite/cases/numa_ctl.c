/*
 * numa_ctl.c — NUMA controls: NUMA-8 (Numa.RebalanceEnable=0 turns off
 * placement and rebalancing; the RebalanceCoresTotal/Node thresholds turn
 * off the rebalancer on small hosts), NUMA-9 (numa.nodeAffinity confines
 * vCPUs and memory, probe-verified, and the VM stays NUMA-managed; affinity
 * targets are nodes with CPUs, and an affinity naming only memory-only nodes
 * is refused with MMC_EINVAL since no vCPU could run there), NUMA-11
 * (virtual NUMA node count).
 *
 * What "no placement" means here (the reference documents it in
 * reference-impl/placement.h and ref.h): the VM gets no home, reported as
 * home_node == UINT32_MAX (any value >= nnodes is accepted as "none"); no
 * MMC_EV_PLACEMENT event is emitted; vCPUs are not bound (binding_applied
 * false, the vCPU thread keeps the CPUs it had). The rebalancer's runs are
 * counted by host_stats.rebalance_periods and MMC_EV_REBALANCE events.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case_util.h"
#include "cases_list.h"
#include "mmc_error.h"

#define MIB (1024ull * 1024ull)

/* ------------------------------------------------------------------ NUMA-8 */

enum { numa8_vms = 4, numa8_periods = 10 };

/* The rebalancer's runs are a documented quantity no probe sees (a period
 * that moves nothing leaves no trace): judged on the implementation's
 * counters, so not shown when it does not observe them. */
static bool rebalancer_reported(suite_ctx_t *c, mmc_host_t *h, const char *what) {
  mmc_host_stats_t hs = cu_host_stats(c, h);
  return cu_reported_host(c, &hs, MMC_HOSTSTAT_REBALANCE_PERIODS, what) &&
         cu_reported_events(c, h, 1ull << MMC_EV_REBALANCE, what);
}

/* On the live clock quick mode shortens Numa.RebalancePeriod to this (its
 * documented minimum) where the implementation honours it, so ten periods
 * take a second of real time instead of twenty. */
enum { numa8_live_period_ms = 100 };

static void numa8_live_period(suite_ctx_t *c, mmc_host_t *h) {
  if (cu_clock(c) != MMC_CLOCK_LIVE || sc_mode(c) != SUITE_MODE_QUICK)
    return;
  uint64_t old_ns = (uint64_t)cu_setting(c, h, "Numa.RebalancePeriod") * 1000000ull;
  if (sc_impl(c)->setting_set(h, "Numa.RebalancePeriod", numa8_live_period_ms, NULL) != 0)
    return;
  /* SET-2: the period under way (begun at power-on) keeps its old length;
   * the shortened ones follow it. Wait it out: its run, or none when the
   * rebalancer is off. */
  uint64_t cursor = 0, end = cu_now_ns() + old_ns + numa8_live_period_ms * 1000000ull;
  cu_count_events(c, h, &cursor, MMC_EV_REBALANCE, 0); /* runs before the change */
  while (cu_now_ns() < end && cu_count_events(c, h, &cursor, MMC_EV_REBALANCE, 0) == 0)
    cu_sleep_until_ns(cu_now_ns() + 10 * 1000000ull);
}

/* Let `periods` rebalancer periods pass — the stepped clock advanced by
 * them, or as much real time slept on the live clock — and return how many
 * rebalancer runs host_stats and the event stream show meanwhile. */
static void run_periods(suite_ctx_t *c, mmc_host_t *h, uint32_t periods, uint64_t *runs,
                        uint64_t *events) {
  uint64_t cursor = 0;
  cu_count_events(c, h, &cursor, MMC_EV_REBALANCE, 0); /* skip what happened before */
  uint64_t before = cu_host_stats(c, h).rebalance_periods;
  uint64_t period_ns = (uint64_t)cu_setting(c, h, "Numa.RebalancePeriod") * 1000000ull;
  if (cu_clock(c) == MMC_CLOCK_LIVE)
    cu_sleep_until_ns(cu_now_ns() + periods * period_ns);
  else {
    for (uint32_t i = 0; i < periods; i++)
      cu_advance(c, h, period_ns);
    cu_advance(c, h, 1);
  }
  *runs = cu_host_stats(c, h).rebalance_periods - before;
  *events = cu_count_events(c, h, &cursor, MMC_EV_REBALANCE, 0);
}

/* "The rebalancer runs" over `periods` periods: every period on the stepped
 * clock, one MMC_EV_REBALANCE each. Live: its thread may start late by
 * however the machine's load delays it, which only lengthens a period, so
 * at least half of them and at most one more than fit (the first may fall
 * at the window's start), and an event per run but for one caught between
 * the two readings. "Off" is exact on either clock: no run at all. */
static bool numa8_runs(suite_ctx_t *c, uint64_t runs, uint64_t events, uint32_t periods) {
  if (cu_clock(c) == MMC_CLOCK_STEPPED)
    return runs >= periods && events == runs;
  return runs >= periods / 2 && runs <= periods + 1 && events + 1 >= runs && events <= runs + 1;
}

void case_numa_8(suite_ctx_t *c) {
  const mmc_topology_t *t = &sc_topology(c)->desc;
  const mmc_impl_t *im = sc_impl(c);
  const mmc_setting_value_t off[] = {{"Numa.RebalanceEnable", 0}};
  mmc_host_t *h = sc_host(c, NULL, cu_clock(c), off, 1);
  uint64_t cursor = 0;
  probe_affinity_t parent;
  mmc_error_t err = {0};
  sc_require(c, probe_thread_affinity(t, 0, &parent, &err), &err, "probe affinity");
  uint64_t bytes = cu_min_node_memory(t) / 16 < 8 * MIB ? cu_min_node_memory(t) / 16 : 8 * MIB;
  for (uint32_t k = 0; k < numa8_vms; k++) {
    mmc_vm_config_t cfg = cu_vm("numa8", 1, bytes);
    mmc_vm_id_t vm = cu_power_on(c, h, &cfg);
    mmc_vm_stats_t st = cu_vm_stats(c, h, vm);
    char name[96];
    snprintf(name, sizeof name, "VM %u: no home node with placement disabled", vm);
    if (cu_reported_vm(c, &st, MMC_VMSTAT_HOME_NODE, name))
      sc_check(c, st.home_node >= t->nnodes, name, "home_node %u (of %u nodes)", st.home_node,
               t->nnodes);
    /* The vCPU runs and its memory works, unbound. */
    cu_vcpu_run_t run;
    cu_vcpu_touch(c, h, t, vm, 0, 1, cfg.memory_bytes / MMC_PAGE_SIZE, true, vm, NULL, &run);
    const mmc_vcpu_info_t info = run.info; /* while entered */
    snprintf(name, sizeof name, "VM %u vCPU 0: binding not applied, thread CPUs unchanged", vm);
    sc_check(c, !info.binding_applied && run.affinity.ncpus == parent.ncpus, name,
             "binding_applied=%d; vCPU thread has %u CPUs, its parent %u", info.binding_applied,
             run.affinity.ncpus, parent.ncpus);
  }
  if (cu_reported_events(c, h, 1ull << MMC_EV_PLACEMENT, "NUMA-8 placements"))
    sc_check_int(c, "no MMC_EV_PLACEMENT event with placement disabled", 0,
                 (long long)cu_count_events(c, h, &cursor, MMC_EV_PLACEMENT, 0));
  if (!(im->capabilities & MMC_CAP_REBALANCE)) {
    sc_diag(c, "rebalancer part not checked: needs MMC_CAP_REBALANCE");
    return;
  }
  numa8_live_period(c, h);
  uint64_t runs, events;
  run_periods(c, h, numa8_periods, &runs, &events);
  if (rebalancer_reported(c, h, "NUMA-8 rebalancer periods")) {
    sc_check_int(c, "rebalancer did not run (host_stats.rebalance_periods)", 0, (long long)runs);
    sc_check_int(c, "no MMC_EV_REBALANCE event", 0, (long long)events);
  }
}

/* One threshold scenario: a topology, optional threshold settings, and
 * whether the rebalancer must run; one variant of NUMA-8b each (cases.c). */
typedef struct numa8b_row {
  const char *variant;
  const char *topology;
  int64_t cores_total, cores_node; /* 0 = default */
  bool runs;
  const char *why;
} numa8b_row_t;

static const numa8b_row_t numa8b_rows[] = {
    {"total-below", "synthetic:node:2 core:1 pu:1", 0, 0, false,
     "2 host cores < RebalanceCoresTotal 4"},
    {"node-below", "synthetic:node:4 core:1 pu:1", 0, 0, false,
     "1 core per node < RebalanceCoresNode 2"},
    {"at-thresholds", "synthetic:node:2 core:2 pu:1", 0, 0, true,
     "4 cores, 2 per node: at both thresholds"},
    {"lowered", "synthetic:node:2 core:1 pu:1", 2, 1, true,
     "thresholds lowered to 2 total, 1 per node"},
    {"total-raised", "synthetic:node:2 core:2 pu:1", 5, 0, false,
     "RebalanceCoresTotal raised to 5"},
    {"node-raised", "synthetic:node:2 core:2 pu:1", 0, 3, false, "RebalanceCoresNode raised to 3"},
};

static const numa8b_row_t *numa8b_row(suite_ctx_t *c) {
  const suite_variant_t *v = sc_variant(c);
  for (size_t i = 0; v && i < sizeof numa8b_rows / sizeof numa8b_rows[0]; i++)
    if (!strcmp(numa8b_rows[i].variant, v->name))
      return &numa8b_rows[i];
  sc_broken(c, "NUMA-8b runs per variant, and variant '%s' has no row in the case",
            v ? v->name : "(none)");
}

void case_numa_8b(suite_ctx_t *c) {
  const numa8b_row_t *r = numa8b_row(c);
  char spec[128];
  snprintf(spec, sizeof spec, "%s;memory=64M", r->topology);
  mmt_topology_t *t = cu_topology(c, spec);
  mmc_setting_value_t set[2];
  size_t nset = 0;
  if (r->cores_total)
    set[nset++] = (mmc_setting_value_t){"Numa.RebalanceCoresTotal", r->cores_total};
  if (r->cores_node)
    set[nset++] = (mmc_setting_value_t){"Numa.RebalanceCoresNode", r->cores_node};
  mmc_host_t *h = sc_host(c, t, cu_clock(c), set, nset);
  numa8_live_period(c, h);
  mmc_vm_config_t cfg = cu_vm("numa8b", 1, 4 * MIB);
  cu_power_on(c, h, &cfg);
  uint64_t runs, events;
  run_periods(c, h, numa8_periods, &runs, &events);
  char name[160];
  snprintf(name, sizeof name, "%s: rebalancer %s (%s)", r->topology, r->runs ? "runs" : "off",
           r->why);
  if (!rebalancer_reported(c, h, name))
    ;
  else if (r->runs)
    sc_check(c, numa8_runs(c, runs, events, numa8_periods), name,
             "%llu runs and %llu MMC_EV_REBALANCE events in %d periods", (unsigned long long)runs,
             (unsigned long long)events, numa8_periods);
  else
    sc_check(c, runs == 0 && events == 0, name,
             "%llu runs and %llu MMC_EV_REBALANCE events in %d periods", (unsigned long long)runs,
             (unsigned long long)events, numa8_periods);
  sc_host_destroy(c, h);
  mmt_free(t);
}

/* ------------------------------------------------------------------ NUMA-9 */

enum { numa9_vms = 3 };

/* Touch every page of `vm` from each vCPU and check the vCPUs' binding and
 * the pages' nodes (probe) against `mask`. */
static void check_confined(suite_ctx_t *c, cu_locator_t *loc, mmc_host_t *h, mmc_vm_id_t vm,
                           const mmc_vm_config_t *cfg, uint64_t first, uint64_t mask,
                           const char *what) {
  const mmc_topology_t *t = loc->topo;
  uint64_t npages = cfg->memory_bytes / MMC_PAGE_SIZE;
  void **ptrs = calloc(npages, sizeof *ptrs);
  int *node = calloc(npages, sizeof *node);
  if (!ptrs || !node)
    sc_broken(c, "out of memory for page pointers");
  char name[160];
  for (uint32_t i = 0; i < cfg->vcpus; i++) {
    cu_vcpu_run_t run;
    cu_vcpu_touch(c, h, t, vm, i, cfg->vcpus, npages, true, vm, ptrs, &run);
    const mmc_vcpu_info_t info = run.info; /* while entered */
    bool real = info.node < t->nnodes && t->nodes[info.node].real;
    snprintf(name, sizeof name, "%s: vCPU %u on an allowed node%s", what, i,
             real ? " (sched_getaffinity)" : "");
    sc_check(c,
             info.node < t->nnodes && (mask >> info.node & 1) &&
                 (!real || (run.affinity.nodes & ~mask) == 0),
             name, "vcpu_info.node %u, thread on node mask 0x%llx, allowed 0x%llx", info.node,
             (unsigned long long)run.affinity.nodes, (unsigned long long)mask);
  }
  cu_locate(c, loc, ptrs + first, npages - first, node);
  uint64_t bad = 0;
  int bad_node = -1;
  for (uint64_t g = 0; g < npages - first; g++)
    if (node[g] < 0 || !(mask >> node[g] & 1)) {
      bad++;
      bad_node = node[g];
    }
  snprintf(name, sizeof name, "%s: pages %llu.. all on allowed nodes (probe %s)", what,
           (unsigned long long)first, cu_locator_name(loc));
  sc_check(c, bad == 0, name, "%llu of %llu pages outside mask 0x%llx (e.g. node %d)",
           (unsigned long long)bad, (unsigned long long)(npages - first), (unsigned long long)mask,
           bad_node);
  free(ptrs);
  free(node);
}

/* A topology with memory-only nodes for the CPU-less part of NUMA-9: the
 * run's own when it has some (real nodes in check-numa's guest), else this
 * one: two packages, each a node with CPUs and a memory-only node. */
#define NUMA9_MEMORY_ONLY_TOPOLOGY "synthetic:pack:2 [numa] [numa] core:2 pu:1;memory=64M"

static uint32_t lowest(uint64_t mask) {
  return (uint32_t)__builtin_ctzll(mask);
}

static uint32_t highest(uint64_t mask) {
  return 63u - (uint32_t)__builtin_clzll(mask);
}

/* Affinity to memory-only nodes (NUMA-9 with KNL MCDRAM or CXL memory): a VM's
 * vCPUs must run on a node with CPUs, so an affinity naming only CPU-less
 * nodes is refused (MMC_EINVAL with a message) at power-on and at
 * reconfigure, leaving nothing behind and the running VM unchanged; a mask
 * that adds a memory-only node to a CPU node is valid: the home is the CPU
 * node and every page stays inside the mask. */
static void numa9_memory_only(suite_ctx_t *c) {
  const mmc_impl_t *im = sc_impl(c);
  const mmt_topology_t *run = sc_topology(c);
  mmt_topology_t *own = NULL;
  if (!cu_memory_only_nodes(&run->desc) || !cu_home_nodes(&run->desc))
    own = cu_topology(c, NUMA9_MEMORY_ONLY_TOPOLOGY);
  const mmt_topology_t *mt = own ? own : run;
  const mmc_topology_t *t = &mt->desc;
  sc_diag(c, "memory-only nodes: topology %s", own ? NUMA9_MEMORY_ONLY_TOPOLOGY : "of the run");
  mmc_host_t *h = sc_host(c, mt, cu_clock(c), NULL, 0);
  cu_locator_t loc;
  bool probe = cu_locator_try(c, &loc, t, "page placement");
  uint64_t memonly = cu_memory_only_nodes(t), homes = cu_home_nodes(t);
  uint32_t mo = lowest(memonly), cpu_node = lowest(homes);
  uint64_t bytes = cu_min_node_memory(t) / 16 < 8 * MIB ? cu_min_node_memory(t) / 16 : 8 * MIB;
  char name[160];
  mmc_error_t err = {0};
  /* Power-on with only memory-only nodes: refused, nothing behind. */
  uint32_t before = cu_host_stats(c, h).nvms;
  mmc_vm_config_t cfg = cu_vm("numa9-memonly", 1, bytes);
  cfg.node_affinity = memonly;
  mmc_vm_id_t id = 0;
  int rc = im->vm_power_on(h, &cfg, &id, &err);
  snprintf(name, sizeof name, "power-on with affinity 0x%llx (memory-only nodes only): MMC_EINVAL",
           (unsigned long long)memonly);
  sc_check(c, rc == MMC_EINVAL && err.msg[0], name, "rc %s (%d), message '%s'", mmc_status_name(rc),
           rc, err.msg);
  cu_crosscheck_value(c, "refused VM (memory-only affinity) left nothing behind", "host_stats.nvms",
                      before, cu_host_stats(c, h).nvms, 0);
  /* A CPU node plus a memory-only node: valid, homed on the CPU node. */
  cfg.node_affinity = 1ull << cpu_node | 1ull << mo;
  id = cu_power_on(c, h, &cfg);
  mmc_vm_stats_t st = cu_vm_stats(c, h, id);
  snprintf(name, sizeof name,
           "VM %u (affinity 0x%llx: node %u with CPUs, %u memory-only) homed on %u", id,
           (unsigned long long)cfg.node_affinity, cpu_node, mo, cpu_node);
  cu_crosscheck_vm(c, &st, MMC_VMSTAT_HOME_NODE, name, cpu_node, st.home_node, 0);
  if (probe) {
    snprintf(name, sizeof name, "VM %u with a memory-only node in its affinity", id);
    check_confined(c, &loc, h, id, &cfg, 0, cfg.node_affinity, name);
  }
  /* Reconfigure that VM to the memory-only node alone: refused, unchanged. */
  mmc_vm_config_t bad = cfg;
  bad.node_affinity = 1ull << mo;
  err = (mmc_error_t){0};
  rc = im->vm_reconfigure(h, id, &bad, &err);
  snprintf(name, sizeof name, "reconfigure VM %u to memory-only node %u alone: MMC_EINVAL", id, mo);
  sc_check(c, rc == MMC_EINVAL && err.msg[0], name, "rc %s (%d), message '%s'", mmc_status_name(rc),
           rc, err.msg);
  st = cu_vm_stats(c, h, id);
  snprintf(name, sizeof name, "VM %u keeps home %u after the refused reconfigure", id, cpu_node);
  cu_crosscheck_vm(c, &st, MMC_VMSTAT_HOME_NODE, name, cpu_node, st.home_node, 0);
  if (probe) {
    snprintf(name, sizeof name, "VM %u after the refused reconfigure", id);
    check_confined(c, &loc, h, id, &cfg, 0, cfg.node_affinity, name);
    cu_locator_free(&loc);
  }
  sc_host_destroy(c, h);
  /* With placement off (NUMA-8) the vCPUs still need a node with CPUs. */
  const mmc_setting_value_t off[] = {{"Numa.RebalanceEnable", 0}};
  h = sc_host(c, mt, cu_clock(c), off, 1);
  cfg.node_affinity = memonly;
  err = (mmc_error_t){0};
  rc = im->vm_power_on(h, &cfg, &id, &err);
  snprintf(name, sizeof name, "placement off: power-on with affinity 0x%llx refused (MMC_EINVAL)",
           (unsigned long long)memonly);
  sc_check(c, rc == MMC_EINVAL && err.msg[0], name, "rc %s (%d), message '%s'", mmc_status_name(rc),
           rc, err.msg);
  cu_crosscheck_value(c, "placement off: refused VM left nothing behind", "host_stats.nvms", 0,
                      cu_host_stats(c, h).nvms, 0);
  sc_host_destroy(c, h);
  if (own)
    mmt_free(own);
}

void case_numa_9(suite_ctx_t *c) {
  const mmc_topology_t *t = &sc_topology(c)->desc;
  const mmc_impl_t *im = sc_impl(c);
  /* Affinity targets are nodes a VM can run on (CPUs) with memory of their
   * own: the lowest and the highest such node. */
  uint64_t homes = cu_home_nodes(t);
  if (!homes)
    sc_broken(c, "the topology has no node with both CPUs and memory: no VM can be homed");
  uint32_t first = lowest(homes), last = highest(homes);
  mmc_host_t *h = sc_host(c, NULL, cu_clock(c), NULL, 0);
  cu_locator_t loc;
  cu_locator_init(c, &loc, t);
  uint64_t bytes = cu_min_node_memory(t) / 16 < 8 * MIB ? cu_min_node_memory(t) / 16 : 8 * MIB;
  uint32_t vcpus = cu_min_node_cores(t) >= 2 ? 2 : 1;
  char name[160];
  /* Several VMs confined to the last node: affinity wins over balance. */
  mmc_vm_id_t vms[numa9_vms];
  mmc_vm_config_t cfg = cu_vm("numa9", vcpus, bytes);
  cfg.node_affinity = 1ull << last;
  for (int k = 0; k < numa9_vms; k++) {
    vms[k] = cu_power_on(c, h, &cfg);
    mmc_vm_stats_t st = cu_vm_stats(c, h, vms[k]);
    snprintf(name, sizeof name, "VM %u (affinity node %u) homed there, still NUMA-managed", vms[k],
             last);
    cu_crosscheck_vm(c, &st, MMC_VMSTAT_HOME_NODE, name, last, st.home_node, 0);
    snprintf(name, sizeof name, "VM %u confined to node %u", vms[k], last);
    check_confined(c, &loc, h, vms[k], &cfg, 0, cfg.node_affinity, name);
  }
  /* Reconfigure a VM to the first node with half its pages untouched:
   * untouched memory then comes from there. */
  mmc_vm_config_t half = cu_vm("numa9-half", vcpus, bytes);
  half.node_affinity = 1ull << last;
  mmc_vm_id_t vm = cu_power_on(c, h, &half);
  uint64_t npages = half.memory_bytes / MMC_PAGE_SIZE;
  for (uint32_t i = 0; i < vcpus; i++) {
    cu_vcpu_run_t run;
    cu_vcpu_touch(c, h, t, vm, i, vcpus, npages / 2, true, vm, NULL, &run);
  }
  half.node_affinity = 1ull << first;
  mmc_error_t err = {0};
  cu_reconfigure(c, h, vm, &half, "vm_reconfigure to the first node");
  mmc_vm_stats_t st = cu_vm_stats(c, h, vm);
  snprintf(name, sizeof name, "VM %u reconfigured to affinity node %u: home %u", vm, first, first);
  cu_crosscheck_vm(c, &st, MMC_VMSTAT_HOME_NODE, name, first, st.home_node, 0);
  snprintf(name, sizeof name, "VM %u after reconfigure", vm);
  check_confined(c, &loc, h, vm, &half, npages / 2, half.node_affinity, name);
  /* Affinity to a node that does not exist: refused, nothing powered on. */
  uint32_t before = cu_host_stats(c, h).nvms;
  mmc_vm_config_t bad = cu_vm("numa9-bad", 1, bytes);
  bad.node_affinity = t->nnodes < MMC_MAX_NODES ? 1ull << t->nnodes : 0;
  if (bad.node_affinity) {
    mmc_vm_id_t id = 0;
    err = (mmc_error_t){0};
    int rc = im->vm_power_on(h, &bad, &id, &err);
    sc_check(c, rc == MMC_ENOENT && err.msg[0], "affinity to a missing node: MMC_ENOENT",
             "rc %s (%d), message '%s'", mmc_status_name(rc), rc, err.msg);
    cu_crosscheck_value(c, "refused VM left nothing behind", "host_stats.nvms", before,
                        cu_host_stats(c, h).nvms, 0);
  }
  cu_locator_free(&loc);
  sc_host_destroy(c, h);
  numa9_memory_only(c);
}

/* ------------------------------------------------------------------ NUMA-11 */

typedef struct numa11_row {
  const char *variant;                     /* the variant (cases.c) that powers this VM on */
  uint32_t vcpus, vcpu_min, max_per_vnode; /* 0 = default (9, 8) */
} numa11_row_t;

/* The documented rule: >= numa.vcpu.min vCPUs expose ceil(vcpus / maxPer)
 * virtual nodes, else none (1). */
static uint32_t vnodes_expected(const numa11_row_t *r) {
  uint32_t min = r->vcpu_min ? r->vcpu_min : 9, per = r->max_per_vnode ? r->max_per_vnode : 8;
  return r->vcpus >= min ? (r->vcpus + per - 1) / per : 1;
}

/* Each variant (cases.c: a pair of settings) powers on its rows' VMs. */
void case_numa_11(suite_ctx_t *c) {
  static const numa11_row_t rows[] = {
      {"default", 8, 0, 0},           {"default", 9, 0, 0},         {"default", 16, 0, 0},
      {"default", 17, 0, 0},          {"max-per-node-4", 8, 0, 4},  {"max-per-node-4", 9, 0, 4},
      {"max-per-node-4", 16, 0, 4},   {"max-per-node-4", 17, 0, 4}, {"vcpu-min-4-max-4", 8, 4, 4},
      {"max-per-node-16", 17, 0, 16},
  };
  const suite_variant_t *variant = sc_variant(c);
  const mmc_impl_t *im = sc_impl(c);
  mmc_host_t *h = sc_host(c, NULL, cu_clock(c), NULL, 0);
  size_t ran = 0;
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    const numa11_row_t *r = &rows[i];
    if (!variant || strcmp(r->variant, variant->name) != 0)
      continue;
    ran++;
    mmc_vm_config_t cfg = cu_vm("numa11", r->vcpus, 4 * MIB);
    cfg.vcpu_min = r->vcpu_min;
    cfg.max_per_vnode = r->max_per_vnode;
    mmc_vm_id_t vm = cu_power_on(c, h, &cfg);
    mmc_vm_stats_t st = cu_vm_stats(c, h, vm);
    uint32_t want = vnodes_expected(r);
    char name[160];
    snprintf(name, sizeof name, "%u vCPUs, vcpu.min %u, maxPerVirtualNode %u: %u virtual nodes",
             r->vcpus, r->vcpu_min ? r->vcpu_min : 9, r->max_per_vnode ? r->max_per_vnode : 8,
             want);
    if (cu_reported_vm(c, &st, MMC_VMSTAT_VNUMA_NODES, name))
      sc_check_int(c, name, want, st.vnuma_nodes);
    /* Every vCPU in a virtual node that exists, none over-full, none empty. */
    uint32_t per[MMC_MAX_VCPUS] = {0};
    uint32_t cap = r->max_per_vnode ? r->max_per_vnode : 8, bad = 0;
    for (uint32_t v = 0; v < r->vcpus; v++) {
      mmc_vcpu_info_t info;
      mmc_error_t err = {0};
      sc_require(c, im->vcpu_info(h, vm, v, &info, &err), &err, "vcpu_info");
      if (info.vnode >= want || info.vnode >= MMC_MAX_VCPUS)
        bad++;
      else
        per[info.vnode]++;
    }
    uint32_t empty = 0, over = 0;
    for (uint32_t n = 0; n < want; n++) {
      empty += per[n] == 0;
      over += want > 1 && per[n] > cap;
    }
    snprintf(name, sizeof name, "%u vCPUs: vCPUs spread over the %u virtual nodes", r->vcpus, want);
    sc_check(c, bad == 0 && empty == 0 && over == 0, name,
             "%u vCPUs in a missing virtual node, %u nodes empty, %u over %u vCPUs", bad, empty,
             over, cap);
    mmc_error_t err = {0};
    sc_require(c, im->vm_power_off(h, vm, &err), &err, "vm_power_off");
  }
  if (!ran)
    sc_broken(c, "NUMA-11 runs per variant, and variant '%s' has no VM in the case's rows",
              variant ? variant->name : "(none)");
}
