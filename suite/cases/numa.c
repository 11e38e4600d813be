/*
 * numa.c — initial placement cases: NUMA-1 (home node, vCPU binding, new
 * memory from the home node), NUMA-2 (balanced initial placement), NUMA-3
 * (wide VMs on the closest node set).
 *
 * Every page check goes through the probes (move_pages on real nodes,
 * /proc/self/maps names on emulated ones), never through the
 * implementation's pages_per_node alone. VM sizes are derived from the
 * topology so that nothing needs a fallback to a remote node: a page off its
 * home is then a placement error, not memory pressure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case_util.h"
#include "mmc_error.h"
#include "cases_list.h"

#define MIB (1024ull * 1024ull)

/* ------------------------------------------------------------------ NUMA-1 */

enum { numa1_max_vms = 16, numa1_vm_mib = 16 };

/* Probe every page of a VM whose vCPUs touched it: all on `home`. */
static void check_pages_on(suite_ctx_t *c, cu_locator_t *loc, void **ptrs, uint64_t npages,
                           uint64_t allowed_nodes, const char *what) {
  int *node = malloc(npages * sizeof *node);
  if (!node)
    sc_broken(c, "out of memory for %llu page nodes", (unsigned long long)npages);
  cu_locate(c, loc, ptrs, npages, node);
  uint64_t off = 0, unknown = 0, first_bad = UINT64_MAX;
  for (uint64_t g = 0; g < npages; g++) {
    bool bad = node[g] < 0 || !(allowed_nodes & (1ull << node[g]));
    unknown += node[g] < 0;
    off += node[g] >= 0 && bad;
    if (bad && first_bad == UINT64_MAX)
      first_bad = g;
  }
  sc_check(c, off == 0 && unknown == 0, what,
           "%llu of %llu pages off the allowed nodes (mask 0x%llx), %llu not attributable "
           "by %s; first bad gpfn %llu on node %d",
           (unsigned long long)off, (unsigned long long)npages, (unsigned long long)allowed_nodes,
           (unsigned long long)unknown, cu_locator_name(loc), (unsigned long long)first_bad,
           first_bad == UINT64_MAX ? -1 : node[first_bad]);
  free(node);
}

/* vCPU binding: on a real node the thread runs only on the home's CPUs and
 * the implementation says so; on an emulated node the binding is recorded
 * only. */
static void check_binding(suite_ctx_t *c, const mmc_topology_t *t, mmc_host_t *h, mmc_vm_id_t vm,
                          uint32_t index, uint64_t allowed_nodes, const cu_vcpu_run_t *run) {
  const mmc_vcpu_info_t info = run->info; /* taken while the vCPU was entered */
  char name[96];
  snprintf(name, sizeof name, "VM %u vCPU %u bound to an allowed node (%u)", vm, index, info.node);
  sc_check(c, info.node < t->nnodes && (allowed_nodes & (1ull << info.node)), name,
           "vcpu_info.node %u, allowed mask 0x%llx", info.node, (unsigned long long)allowed_nodes);
  if (info.node >= t->nnodes)
    return;
  bool real = t->nodes[info.node].real;
  snprintf(name, sizeof name, "VM %u vCPU %u binding %s", vm, index,
           real ? "applied (sched_getaffinity)" : "recorded only (emulated node)");
  if (!real) {
    sc_check(c, !info.binding_applied, name, "binding_applied is true on an emulated node");
    return;
  }
  sc_check(c,
           info.binding_applied && run->affinity.nodes == (1ull << info.node) &&
               run->affinity.cpus_outside == 0 && run->affinity.ncpus > 0,
           name,
           "binding_applied=%d, thread affinity: %u CPUs on node mask 0x%llx, %u outside "
           "any node; expected only node %u",
           info.binding_applied, run->affinity.ncpus, (unsigned long long)run->affinity.nodes,
           run->affinity.cpus_outside, info.node);
}

void case_numa_1(suite_ctx_t *c) {
  const mmc_topology_t *t = &sc_topology(c)->desc;
  const mmc_impl_t *im = sc_impl(c);
  bool live = cu_all_real(t) && (im->capabilities & MMC_CAP_CLOCK_LIVE);
  mmc_host_t *h = sc_host(c, NULL, live ? MMC_CLOCK_LIVE : cu_clock(c), NULL, 0);
  cu_locator_t loc;
  cu_locator_init(c, &loc, t);
  uint32_t nvms = t->nnodes * 2 < numa1_max_vms ? t->nnodes * 2 : numa1_max_vms;
  uint32_t vcpus = cu_min_node_cores(t) >= 2 ? 2 : 1;
  /* Two VMs per node at most use a quarter of the smallest node. */
  uint64_t bytes = cu_min_node_memory(t) / 8;
  if (bytes > numa1_vm_mib * MIB)
    bytes = numa1_vm_mib * MIB;
  uint64_t used = 0;
  for (uint32_t k = 0; k < nvms; k++) {
    char vmname[32];
    snprintf(vmname, sizeof vmname, "numa1-%u", k);
    mmc_vm_config_t cfg = cu_vm(vmname, vcpus, bytes);
    mmc_vm_id_t vm = cu_power_on(c, h, &cfg);
    mmc_vm_stats_t st = cu_vm_stats(c, h, vm);
    char name[96];
    snprintf(name, sizeof name, "VM %u has a home node (one client)", vm);
    if (!sc_check(c, st.home_node < t->nnodes && st.nclients == 1, name,
                  "home_node %u of %u nodes, %u clients", st.home_node, t->nnodes, st.nclients))
      continue;
    used |= 1ull << st.home_node;
    uint64_t npages = cfg.memory_bytes / MMC_PAGE_SIZE;
    void **ptrs = calloc(npages, sizeof *ptrs);
    if (!ptrs)
      sc_broken(c, "out of memory for %llu page pointers", (unsigned long long)npages);
    for (uint32_t i = 0; i < vcpus; i++) {
      cu_vcpu_run_t run;
      cu_vcpu_touch(c, h, t, vm, i, vcpus, npages, true, vm, ptrs, &run);
      check_binding(c, t, h, vm, i, 1ull << st.home_node, &run);
    }
    snprintf(name, sizeof name, "VM %u: every first-touched page on home node %u (probe)", vm,
             st.home_node);
    check_pages_on(c, &loc, ptrs, npages, 1ull << st.home_node, name);
    free(ptrs);
    st = cu_vm_stats(c, h, vm);
    snprintf(name, sizeof name, "VM %u: remote fallback pages", vm);
    cu_crosscheck_vm(c, &st, MMC_VMSTAT_REMOTE_FALLBACK, name, 0,
                     (long long)st.remote_fallback_pages, 0);
  }
  sc_diag(c, "%u VMs x %u vCPUs x %llu MiB, homes used mask 0x%llx, probe %s", nvms, vcpus,
          (unsigned long long)(bytes / MIB), (unsigned long long)used, cu_locator_name(&loc));
  cu_locator_free(&loc);
}

/* ------------------------------------------------------------------ NUMA-2 */

/* Loads come from probes, not from the implementation's client homes: each
 * VM's memory by the node of numa2_sample pages spread evenly over it (each
 * written by vCPU k % vcpus, then located by the page locator), its vCPUs
 * by their thread's CPU affinity on real nodes; on emulated nodes, where a
 * binding is only recorded, a VM's vCPUs count where its memory is, in the
 * same proportion (a NUMA client is a share of both). The home nodes the
 * implementation reports are cross-checked against the probed ones.
 *
 * The stated tolerance: every node's load is within NUMA2_TOLERANCE_VMS
 * times the largest single VM's share of a node of the capacity-weighted
 * mean. A greedy placer in arrival order keeps max-min within one VM per
 * resource; the factor leaves room for a placer that balances CPU and
 * memory jointly. Piling VMs on a few nodes exceeds it
 * (tests/impls/liar_pile.c, tests/cli/cases.t), and so does a placer that
 * balances CPU alone: the "apart" workload makes CPU and memory pull apart.
 *
 * Balance is judged over the nodes that can be a home: with CPUs (no vCPU
 * runs on a memory-only node, so no VM is homed there) and with memory (a
 * home's memory load is measured against its own memory). Memory-only nodes
 * (KNL MCDRAM, CXL expanders) and memory-less CPU nodes are left out:
 * counting them would call every placement unbalanced, since none can be a
 * home. Nodes that differ in memory are judged by the fraction of their own
 * capacity (seed 001: "the overall CPU and memory load among NUMA nodes
 * remains balanced"); the unequal machine below checks that. */
#define NUMA2_TOLERANCE_VMS 1.5
enum { numa2_max_vms = 32, numa2_sample = 64 };

typedef struct numa2_load {
  double cpu[MMC_MAX_NODES], mem[MMC_MAX_NODES];
  double cpucap[MMC_MAX_NODES], memcap[MMC_MAX_NODES]; /* 0: not a home */
  double max_vm_cpu, max_vm_mem; /* largest single VM share, as node fraction */
} numa2_load_t;

typedef struct numa2_vm {
  uint32_t vcpus, units;
} numa2_vm_t;

static double node_cores(const mmc_node_t *n) {
  return n->ncores ? n->ncores : n->ncpus;
}

static void check_balance(suite_ctx_t *c, const mmc_topology_t *t, const double *load,
                          const double *cap, double max_vm, const char *resource, const char *label,
                          double *imbalance) {
  double sum = 0, capsum = 0;
  uint32_t counted = 0;
  for (uint32_t n = 0; n < t->nnodes; n++)
    if (cap[n] > 0) {
      sum += load[n];
      capsum += cap[n];
      counted++;
    }
  double mean = capsum > 0 ? sum / capsum : 0; /* ideal fraction of every node */
  double tol = NUMA2_TOLERANCE_VMS * max_vm, worst = 0;
  int worst_node = -1;
  for (uint32_t n = 0; n < t->nnodes; n++) {
    if (cap[n] <= 0)
      continue;
    double dev = load[n] / cap[n] - mean;
    if (dev < 0)
      dev = -dev;
    if (dev > worst) {
      worst = dev;
      worst_node = (int)n;
    }
  }
  char name[224], which[48] = "every node";
  if (counted < t->nnodes)
    snprintf(which, sizeof which, "each of the %u nodes that can be homes", counted);
  snprintf(name, sizeof name, "%s: %s load of %s within %.2f of the mean %.3f (1.5 x largest VM)",
           label, resource, which, tol, mean);
  sc_check(c, worst <= tol + 1e-9, name, "node %d deviates by %.3f (load %.3f)", worst_node, worst,
           worst_node >= 0 ? load[worst_node] / cap[worst_node] : 0);
  *imbalance = mean > 0 ? worst / mean : 0;
}

/* "mixed": vCPUs and memory loosely correlated as in real fleets, then one
 * VM wider than a node (two NUMA clients, probed like the others). */
static size_t numa2_mixed(const mmc_topology_t *t, numa2_vm_t *v) {
  static const uint32_t units[16] = {1, 4, 8, 2, 2, 1, 2, 4, 4, 1, 2, 2, 8, 1, 4, 2};
  static const uint32_t vcpus[16] = {1, 2, 4, 1, 2, 1, 1, 4, 2, 1, 2, 1, 4, 1, 2, 1};
  uint32_t cores = cu_min_node_cores(t);
  size_t n = 0;
  for (; n < 16; n++)
    v[n] = (numa2_vm_t){vcpus[n] < cores ? vcpus[n] : cores, units[n]};
  if (__builtin_popcountll(cu_home_nodes(t)) >= 2)
    v[n++] = (numa2_vm_t){2 * cores, 2};
  return n;
}

/* "apart": CPU and memory pull apart. Rounds of CPU-heavy VMs (a node's
 * cores, one unit), one per half of the homes, then memory-heavy 1-vCPU VMs
 * (8 units) enough to fill the other half's cores. A placer that balances
 * CPU alone puts every memory-heavy VM on the second half. On many nodes
 * one round is cut to numa2_max_vms VMs. */
static size_t numa2_apart(const mmc_topology_t *t, numa2_vm_t *v) {
  uint32_t k = (uint32_t)__builtin_popcountll(cu_home_nodes(t)), cores = cu_min_node_cores(t);
  uint32_t heavy = (k + 1) / 2, light = (k - heavy) * cores;
  heavy = heavy < numa2_max_vms / 2 ? heavy : numa2_max_vms / 2;
  light = light < numa2_max_vms - heavy ? light : numa2_max_vms - heavy;
  size_t n = 0;
  do {
    for (uint32_t i = 0; i < heavy; i++)
      v[n++] = (numa2_vm_t){cores, 1};
    for (uint32_t i = 0; i < light; i++)
      v[n++] = (numa2_vm_t){1, 8};
  } while (n + heavy + light <= 24);
  return n;
}

/* Probe where VM `vm` is: its memory by numa2_sample located pages, its
 * vCPUs by thread affinity (real nodes) or with its memory (emulated).
 * Adds to L; returns the mask of nodes holding its memory. */
static uint64_t numa2_probe_vm(suite_ctx_t *c, mmc_host_t *h, const mmc_topology_t *t,
                               cu_locator_t *loc, mmc_vm_id_t vm, const mmc_vm_config_t *cfg,
                               numa2_load_t *L, uint64_t *unattributed) {
  uint64_t np = cfg->memory_bytes / MMC_PAGE_SIZE, ns = np < numa2_sample ? np : numa2_sample;
  uint64_t gpfn[numa2_sample];
  void *ptr[numa2_sample];
  int node[numa2_sample];
  double share[MMC_MAX_NODES] = {0}, vcpus_on[MMC_MAX_NODES] = {0};
  bool real = cu_all_real(t);
  for (uint32_t i = 0; i < cfg->vcpus; i++) {
    size_t k = 0;
    uint64_t mine[numa2_sample];
    size_t idx[numa2_sample];
    for (uint64_t j = i; j < ns; j += cfg->vcpus) {
      idx[k] = (size_t)j;
      mine[k++] = j * np / ns;
    }
    void *p[numa2_sample];
    cu_vcpu_run_t run;
    cu_vcpu_touch_list(c, h, t, vm, i, mine, k, true, vm, p, &run);
    for (size_t q = 0; q < k; q++) {
      gpfn[idx[q]] = mine[q];
      ptr[idx[q]] = p[q];
    }
    if (real && __builtin_popcountll(run.affinity.nodes) == 1)
      vcpus_on[__builtin_ctzll(run.affinity.nodes)] += 1;
    else if (real)
      (*unattributed)++; /* a vCPU not confined to one node */
  }
  cu_locate(c, loc, ptr, ns, node);
  uint64_t mask = 0;
  for (uint64_t j = 0; j < ns; j++) {
    if (node[j] < 0) {
      (*unattributed)++;
      continue;
    }
    share[node[j]] += 1.0 / (double)ns;
    mask |= 1ull << node[j];
  }
  for (uint32_t n = 0; n < t->nnodes; n++) {
    double mem = share[n] * (double)cfg->memory_bytes;
    double cpu = real ? vcpus_on[n] : share[n] * cfg->vcpus;
    L->mem[n] += mem;
    L->cpu[n] += cpu;
    if (L->memcap[n] > 0 && mem / L->memcap[n] > L->max_vm_mem)
      L->max_vm_mem = mem / L->memcap[n];
    if (L->cpucap[n] > 0 && cpu / L->cpucap[n] > L->max_vm_cpu)
      L->max_vm_cpu = cpu / L->cpucap[n];
  }
  (void)gpfn;
  return mask;
}

/* Power on the workload's VMs on `mt`, probe each, judge the balance. */
static void numa2_run(suite_ctx_t *c, const mmt_topology_t *mt, const char *label,
                      const numa2_vm_t *v, size_t nvms, double *lat, size_t *nlat) {
  const mmc_topology_t *t = &mt->desc;
  const mmc_impl_t *im = sc_impl(c);
  mmc_host_t *h = sc_host(c, mt, cu_clock(c), NULL, 0);
  cu_locator_t loc;
  if (!cu_locator_try(c, &loc, t, "NUMA-2 balance (loads come from probed placement)")) {
    sc_host_destroy(c, h);
    return;
  }
  uint64_t units = 0, homes = cu_home_nodes(t);
  for (size_t i = 0; i < nvms; i++)
    units += v[i].units;
  /* Half of the memory the homes can hold; an 8-unit VM at most a third of
   * the smallest home. */
  uint64_t unit = cu_nodes_memory(t, homes) / 2 / units;
  if (unit * 8 > cu_min_node_memory(t) / 3)
    unit = cu_min_node_memory(t) / 3 / 8;
  numa2_load_t L;
  memset(&L, 0, sizeof L);
  for (uint32_t n = 0; n < t->nnodes; n++)
    if (homes >> n & 1) {
      L.cpucap[n] = node_cores(&t->nodes[n]);
      L.memcap[n] = (double)t->nodes[n].memory_bytes;
    }
  uint64_t unattributed = 0, disagree = 0;
  for (size_t i = 0; i < nvms; i++) {
    mmc_vm_config_t cfg = cu_vm("numa2", v[i].vcpus, unit * v[i].units);
    mmc_vm_id_t vm = 0;
    mmc_error_t err = {0};
    uint64_t t0 = cu_now_ns();
    int rc = im->vm_power_on(h, &cfg, &vm, &err);
    uint64_t t1 = cu_now_ns();
    if (rc == MMC_ENOTSUP)
      cu_enotsup_verdict(c, &cfg, &err, "vm_power_on");
    sc_require(c, rc, &err, "vm_power_on");
    lat[(*nlat)++] = (double)(t1 - t0) / 1000.0;
    uint64_t probed = numa2_probe_vm(c, h, t, &loc, vm, &cfg, &L, &unattributed);
    mmc_vm_stats_t st = cu_vm_stats(c, h, vm);
    uint64_t said = 0;
    for (uint32_t k = 0; k < st.nclients && k < MMC_MAX_NODES; k++)
      said |= st.client_home[k] < t->nnodes ? 1ull << st.client_home[k] : 1ull << 63;
    if (st.unobserved & MMC_VMSTAT_HOME_NODE || said != probed) {
      char name[160];
      snprintf(name, sizeof name, "%s: VM %u's reported home nodes (node mask)", label, vm);
      disagree += !cu_crosscheck_vm(c, &st, MMC_VMSTAT_HOME_NODE, name, (long long)probed,
                                    (long long)said, 0);
    }
  }
  char name[160];
  snprintf(name, sizeof name, "%s: every sampled page and vCPU attributed to a node (%s%s)", label,
           cu_locator_name(&loc), cu_all_real(t) ? ", sched_getaffinity" : "");
  sc_check(c, unattributed == 0, name, "%llu not attributable", (unsigned long long)unattributed);
  snprintf(name, sizeof name, "%s: reported home nodes agree with the probed ones for every VM",
           label);
  if (!disagree)
    sc_check(c, true, name, "%s", "");
  double cpu_imb, mem_imb;
  check_balance(c, t, L.cpu, L.cpucap, L.max_vm_cpu, "CPU", label, &cpu_imb);
  check_balance(c, t, L.mem, L.memcap, L.max_vm_mem, "memory", label, &mem_imb);
  sc_diag(c, "%s: %zu VMs; worst deviation from the mean: CPU %.1f%%, memory %.1f%% of the mean",
          label, nvms, cpu_imb * 100, mem_imb * 100);
  cu_locator_free(&loc);
  sc_host_destroy(c, h);
}

/* Every home node has the same number of cores (the "apart" workload's
 * CPU-heavy VMs fill one node's cores exactly). */
static bool homes_alike(const mmc_topology_t *t) {
  uint64_t homes = cu_home_nodes(t);
  for (uint32_t n = 0; n < t->nnodes; n++)
    if (homes >> n & 1 && node_cores(&t->nodes[n]) != cu_min_node_cores(t))
      return false;
  return true;
}

static void numa2_topology(suite_ctx_t *c, const mmt_topology_t *mt, const char *name, double *lat,
                           size_t *nlat) {
  numa2_vm_t v[numa2_max_vms];
  char label[128];
  snprintf(label, sizeof label, "%s, mixed", name);
  numa2_run(c, mt, label, v, numa2_mixed(&mt->desc, v), lat, nlat);
  if (__builtin_popcountll(cu_home_nodes(&mt->desc)) < 2)
    return;
  if (!homes_alike(&mt->desc)) {
    sc_diag(c,
            "%s: homes differ in cores; the CPU-and-memory-apart workload runs on the "
            "built-in and unequal-memory machines",
            name);
    return;
  }
  snprintf(label, sizeof label, "%s, CPU and memory apart", name);
  numa2_run(c, mt, label, v, numa2_apart(&mt->desc, v), lat, nlat);
}

/* Nodes that differ: 1, 2 and 4 GiB with 2 cores each, OS ids 0, 2, 5
 * (gaps), and a 2 GiB memory-only node 7 — where a placer that weighs
 * nodes alike, or lets the CPU decide alone, overloads the small node. */
#define NUMA2_UNEQUAL_SPEC "synthetic:pack:1 [numa] group:3 [numa] core:2 pu:1;memory=1G"
static mmt_topology_t *numa2_unequal(suite_ctx_t *c) {
  static const uint32_t os_cpu[3] = {0, 2, 5}, gib_cpu[3] = {1, 2, 4};
  mmt_topology_t *t = cu_topology(c, NUMA2_UNEQUAL_SPEC);
  uint32_t k = 0;
  for (uint32_t n = 0; n < t->desc.nnodes; n++) {
    bool cpus = t->nodes[n].ncpus > 0;
    if (cpus && k >= 3)
      sc_broken(c, "%s: more than 3 nodes with CPUs", NUMA2_UNEQUAL_SPEC);
    t->nodes[n].os_index = cpus ? os_cpu[k] : 7;
    t->nodes[n].memory_bytes = (uint64_t)(cpus ? gib_cpu[k] : 2) << 30;
    k += cpus;
  }
  snprintf(t->source, sizeof t->source, "1/2/4 GiB nodes, ids 0/2/5, memory-only node 7");
  return t;
}

/* One machine per variant (cases.c): its param is a topology
 * ("builtin:4"), "unequal" for the machine above, or NULL for the run's. */
void case_numa_2(suite_ctx_t *c) {
  const suite_variant_t *v = sc_variant(c);
  if (!v)
    sc_broken(c, "NUMA-2 runs per variant (its row in cases.c declares them)");
  double lat[2 * numa2_max_vms];
  size_t nlat = 0;
  if (!v->param) {
    numa2_topology(c, sc_topology(c), "run topology", lat, &nlat);
  } else {
    bool unequal = !strcmp(v->param, "unequal");
    mmt_topology_t *t = unequal ? numa2_unequal(c) : cu_topology(c, v->param);
    numa2_topology(c, t, unequal ? "unequal nodes" : v->param, lat, &nlat);
    mmt_free(t);
  }
  double p50 = cu_percentile(lat, nlat, 50), p99 = cu_percentile(lat, nlat, 99);
  sc_metric(c, "placement_latency_p50", "us", "lower", p50);
  sc_metric(c, "placement_latency_p99", "us", "lower", p99);
}

/* ------------------------------------------------------------------ NUMA-3 */

/* An asymmetric, irregular 4-node matrix: the closest pair is {1,3} and the
 * closest triple {1,2,3}, so "the first k nodes" or "consecutive nodes" is
 * wrong. */
static const uint32_t numa3_dist4[16] = {10, 30, 25, 28, 31, 10, 21, 12,
                                         24, 22, 10, 20, 27, 13, 19, 10};
enum { numa3_cores = 2, numa3_nodes8 = 8 };

/* Sum of distances over ordered pairs of distinct nodes of `set`. */
static uint64_t set_cost(const mmt_topology_t *t, uint64_t set) {
  uint64_t cost = 0;
  for (uint32_t a = 0; a < t->desc.nnodes; a++)
    for (uint32_t b = 0; b < t->desc.nnodes; b++)
      if (a != b && (set >> a & 1) && (set >> b & 1))
        cost += mmt_distance(t, a, b);
  return cost;
}

/* Brute force: the least cost over every k-subset of nodes with CPUs. */
static uint64_t best_cost(const mmt_topology_t *t, uint32_t k, uint64_t *best_set) {
  uint64_t best = UINT64_MAX;
  for (uint64_t s = 1; s < (1ull << t->desc.nnodes); s++) {
    if ((uint32_t)__builtin_popcountll(s) != k)
      continue;
    bool ok = true;
    for (uint32_t n = 0; n < t->desc.nnodes; n++)
      if ((s >> n & 1) && t->desc.nodes[n].ncpus == 0)
        ok = false;
    uint64_t cost = ok ? set_cost(t, s) : UINT64_MAX;
    if (cost < best) {
      best = cost;
      *best_set = s;
    }
  }
  return best;
}

/* The wide VM's node set comes from the probe: its vCPUs write every page
 * (each a stride of its own), and the nodes holding those pages are its
 * clients' nodes. The node set the implementation reports is cross-checked;
 * the vCPUs' binding is checked against the probed set. */
static void numa3_vm(suite_ctx_t *c, const mmt_topology_t *mt, const char *tname, uint32_t k) {
  const mmc_topology_t *t = &mt->desc;
  mmc_host_t *h = sc_host(c, mt, cu_clock(c), NULL, 0);
  cu_locator_t loc;
  char name[160];
  snprintf(name, sizeof name, "%s: NUMA-3 node set (probed page placement)", tname);
  if (!cu_locator_try(c, &loc, t, name)) {
    sc_host_destroy(c, h);
    return;
  }
  uint32_t vcpus = k * numa3_cores;
  mmc_vm_config_t cfg = cu_vm("numa3-wide", vcpus, 8 * MIB);
  mmc_vm_id_t vm = cu_power_on(c, h, &cfg);
  uint64_t npages = cfg.memory_bytes / MMC_PAGE_SIZE;
  void **ptrs = calloc(npages, sizeof *ptrs);
  int *node = calloc(npages, sizeof *node);
  cu_vcpu_run_t *run = calloc(vcpus, sizeof *run);
  if (!ptrs || !node || !run)
    sc_broken(c, "out of memory for page pointers");
  for (uint32_t i = 0; i < vcpus; i++)
    cu_vcpu_touch(c, h, t, vm, i, vcpus, npages, true, i + 1, ptrs, &run[i]);
  cu_locate(c, &loc, ptrs, npages, node);
  uint64_t set = 0, unknown = 0;
  for (uint64_t g = 0; g < npages; g++) {
    if (node[g] < 0)
      unknown++;
    else
      set |= 1ull << node[g];
  }
  snprintf(name, sizeof name, "%s: %u-vCPU VM's memory on %u distinct nodes (probe %s)", tname,
           vcpus, k, cu_locator_name(&loc));
  if (!sc_check(c, unknown == 0 && (uint32_t)__builtin_popcountll(set) == k, name,
                "memory on node set 0x%llx, %llu pages unattributed", (unsigned long long)set,
                (unsigned long long)unknown))
    goto out;
  uint64_t opt_set = 0, opt = best_cost(mt, k, &opt_set), got = set_cost(mt, set);
  snprintf(name, sizeof name, "%s: node set of the %u clients is a closest one (probe)", tname, k);
  sc_check(c, got == opt, name, "set 0x%llx costs %llu, the optimum 0x%llx costs %llu",
           (unsigned long long)set, (unsigned long long)got, (unsigned long long)opt_set,
           (unsigned long long)opt);
  mmc_vm_stats_t st = cu_vm_stats(c, h, vm);
  uint64_t said = 0;
  for (uint32_t i = 0; i < st.nclients && i < MMC_MAX_NODES; i++)
    said |= st.client_home[i] < t->nnodes ? 1ull << st.client_home[i] : 1ull << 63;
  snprintf(name, sizeof name, "%s: the clients' home nodes (node mask)", tname);
  cu_crosscheck_vm(c, &st, MMC_VMSTAT_HOME_NODE, name, (long long)set, (long long)said, 0);
  for (uint32_t i = 0; i < vcpus; i++)
    check_binding(c, t, h, vm, i, set, &run[i]);
out:
  free(ptrs);
  free(node);
  free(run);
  cu_locator_free(&loc);
  sc_host_destroy(c, h);
}

/* A synthetic topology string with the given distance matrix. */
static mmt_topology_t *numa3_topology(suite_ctx_t *c, uint32_t nnodes, const uint32_t *dist) {
  char spec[2048];
  int len =
      snprintf(spec, sizeof spec, "synthetic:node:%u core:%u pu:1;distances=", nnodes, numa3_cores);
  for (uint32_t i = 0; i < nnodes * nnodes; i++)
    len += snprintf(spec + len, sizeof spec - (size_t)len, "%s%u", i ? "," : "", dist[i]);
  snprintf(spec + len, sizeof spec - (size_t)len, ";memory=256M");
  return cu_topology(c, spec);
}

static void numa3_asymmetric4(suite_ctx_t *c) {
  mmt_topology_t *t4 = numa3_topology(c, 4, numa3_dist4);
  for (uint32_t k = 2; k <= 3; k++)
    numa3_vm(c, t4, "4 nodes, asymmetric", k);
  mmt_free(t4);
}

/* 8 nodes at random points of a plane (from the run's seed): distances
 * from the geometry, one direction 1 more than the other. */
static void numa3_seeded8(suite_ctx_t *c) {
  uint32_t d8[numa3_nodes8 * numa3_nodes8];
  uint64_t rng = sc_seed(c);
  int x[numa3_nodes8], y[numa3_nodes8];
  for (int i = 0; i < numa3_nodes8; i++) {
    x[i] = (int)(cu_rand(&rng) % 40);
    y[i] = (int)(cu_rand(&rng) % 40);
  }
  for (int a = 0; a < numa3_nodes8; a++)
    for (int b = 0; b < numa3_nodes8; b++) {
      int dx = x[a] - x[b], dy = y[a] - y[b];
      d8[a * numa3_nodes8 + b] =
          a == b ? 10 : (uint32_t)(12 + (dx < 0 ? -dx : dx) + (dy < 0 ? -dy : dy) + (a < b));
    }
  mmt_topology_t *t8 = numa3_topology(c, numa3_nodes8, d8);
  for (uint32_t k = 2; k <= 4; k++)
    numa3_vm(c, t8, "8 nodes, seeded", k);
  mmt_free(t8);
}

/* One machine per variant (cases.c): param "asymmetric-4" or "seeded-8". */
void case_numa_3(suite_ctx_t *c) {
  const suite_variant_t *v = sc_variant(c);
  if (v && v->param && !strcmp(v->param, "asymmetric-4"))
    numa3_asymmetric4(c);
  else if (v && v->param && !strcmp(v->param, "seeded-8"))
    numa3_seeded8(c);
  else
    sc_broken(c, "NUMA-3 runs per variant, param asymmetric-4 or seeded-8 (cases.c)");
}
