/*
 * test_placement.c — the pure initial-placement policy (NUMA-2, -3, -9, -11):
 * balance on 2/4/8 nodes, wide VMs on the closest node set (checked against
 * an independent brute force), greedy search on a big hierarchical topology,
 * affinity, memory-only nodes, vNUMA counts, exact splits, and NUMA-2's
 * balance at 1000 VMs on 24 nodes (the decision's cost there is a figure of
 * `mmcert bench placement`, not a test). Numa.RebalanceEnable=0 is handled
 * by the host, which then does not call the policy (test_host.c checks that).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "placement.h"

#define MB_PAGES(mb) ((uint64_t)(mb)*256u)

static uint32_t dist[MMC_MAX_NODES * MMC_MAX_NODES];

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* n nodes of `cores` cores and `mb` MB; distance 10 local, `near` within a
 * group of `group` nodes, `far` otherwise. */
static void host_make(placement_host_t *h, uint32_t n, uint32_t cores, uint64_t mb, uint32_t group,
                      uint32_t nearv, uint32_t far) {
  memset(h, 0, sizeof *h);
  h->nnodes = n;
  h->distance = dist;
  for (uint32_t i = 0; i < n; i++) {
    h->node[i] = (placement_node_t){.ncores = cores, .mem_pages = MB_PAGES(mb)};
    for (uint32_t j = 0; j < n; j++)
      dist[i * n + j] = i == j ? 10 : (i / group == j / group ? nearv : far);
  }
}

static placement_request_t req(uint32_t vcpus, uint64_t mb) {
  return (placement_request_t){.vcpus = vcpus,
                               .mem_pages = MB_PAGES(mb),
                               .vcpu_demand = 1000,
                               .vcpu_min = 9,
                               .max_per_vnode = 8,
                               .exact_sets_max = 4096};
}

static void balance_on(uint32_t nnodes) {
  placement_host_t h;
  host_make(&h, nnodes, 8, 16384, 2, 20, 30);
  double max_vm_frac = 0;
  for (int v = 0; v < 16; v++) {
    uint32_t vcpus = 1 + (uint32_t)(rnd() % 4);
    uint64_t mb = 256u << (rnd() % 4); /* 256 MB .. 2 GB */
    placement_request_t r = req(vcpus, mb);
    placement_decision_t d;
    assert_int_equal(placement_decide(&h, &r, &d, NULL), 0);
    assert_int_equal(d.nclients, 1);
    placement_commit(&h, &d, r.vcpu_demand, +1);
    double f = (double)vcpus / 8.0;
    if (f > max_vm_frac)
      max_vm_frac = f;
  }
  /* Greedy least-loaded placement keeps every node within one VM of the mean. */
  double mean = 0;
  for (uint32_t n = 0; n < nnodes; n++)
    mean += placement_node_load(&h, n, 0, 0) / nnodes;
  for (uint32_t n = 0; n < nnodes; n++) {
    double l = placement_node_load(&h, n, 0, 0);
    if (l > mean + max_vm_frac || l < mean - max_vm_frac)
      fail_msg("%u nodes: node %u load %.3f, mean %.3f, tolerance %.3f", nnodes, n, l, mean,
               max_vm_frac);
  }
}

static void balances_2_4_8_nodes(void **state) {
  (void)state;
  balance_on(2);
  balance_on(4);
  balance_on(8);
}

static void balances_memory_too(void **state) {
  (void)state;
  /* CPU-light, memory-heavy VMs spread by memory: 4 VMs of 6 GB on 2 nodes of 16 GB. */
  placement_host_t h;
  host_make(&h, 2, 8, 16384, 2, 20, 20);
  placement_add(&h, 0, 4000, 0); /* node 0 has more CPU load already */
  for (int v = 0; v < 4; v++) {
    placement_request_t r = req(1, 6144);
    placement_decision_t d;
    assert_int_equal(placement_decide(&h, &r, &d, NULL), 0);
    placement_commit(&h, &d, 1000, +1);
  }
  assert_int_equal(h.node[0].mem_load, MB_PAGES(12288));
  assert_int_equal(h.node[1].mem_load, MB_PAGES(12288));
}

/* Independent brute force over bitmasks: the smallest sum of pairwise
 * distances (both directions) of any k CPU nodes within `mask`. */
static uint32_t brute_min(const placement_host_t *h, uint32_t k, uint64_t mask) {
  uint32_t best = UINT32_MAX;
  for (uint64_t s = 1; s < (1ull << h->nnodes); s++) {
    if ((uint32_t)__builtin_popcountll(s) != k || (mask && (s & ~mask)))
      continue;
    bool ok = true;
    uint32_t sum = 0;
    for (uint32_t i = 0; i < h->nnodes && ok; i++) {
      if (!(s & (1ull << i)))
        continue;
      ok = h->node[i].ncores > 0;
      for (uint32_t j = i + 1; j < h->nnodes; j++)
        if (s & (1ull << j))
          sum += h->distance[i * h->nnodes + j] + h->distance[j * h->nnodes + i];
    }
    if (ok && sum < best)
      best = sum;
  }
  return best;
}

static uint32_t set_sum(const placement_host_t *h, const placement_decision_t *d) {
  uint32_t sum = 0;
  for (uint32_t i = 0; i < d->nclients; i++)
    for (uint32_t j = i + 1; j < d->nclients; j++) {
      uint32_t a = d->client[i].node, b = d->client[j].node;
      assert_int_not_equal(a, b);
      sum += h->distance[a * h->nnodes + b] + h->distance[b * h->nnodes + a];
    }
  return sum;
}

static void wide_vms_take_the_closest_set(void **state) {
  (void)state;
  for (int trial = 0; trial < 20; trial++) {
    placement_host_t h;
    host_make(&h, 8, 4, 8192, 8, 10, 10);
    /* random symmetric distances 11..40 */
    for (uint32_t i = 0; i < 8; i++)
      for (uint32_t j = i + 1; j < 8; j++)
        dist[i * 8 + j] = dist[j * 8 + i] = 11 + (uint32_t)(rnd() % 30);
    for (uint32_t k = 2; k <= 5; k++) {
      placement_request_t r = req(4 * k, 1024); /* k clients by CPU */
      placement_decision_t d;
      assert_int_equal(placement_decide(&h, &r, &d, NULL), 0);
      assert_int_equal(d.nclients, k);
      assert_true(d.exact);
      assert_int_equal(set_sum(&h, &d), brute_min(&h, k, 0));
      assert_int_equal(d.dist_sum, set_sum(&h, &d));
    }
  }
}

static void equally_close_sets_tie_break_by_load(void **state) {
  (void)state;
  placement_host_t h;
  host_make(&h, 4, 4, 8192, 2, 12, 30); /* pairs {0,1} and {2,3} equally close */
  placement_add(&h, 0, 2000, 0);
  placement_request_t r = req(8, 1024);
  placement_decision_t d;
  assert_int_equal(placement_decide(&h, &r, &d, NULL), 0);
  assert_int_equal(d.nclients, 2);
  assert_int_equal(d.client[0].node, 2);
  assert_int_equal(d.client[1].node, 3);
}

static void greedy_on_24_nodes_finds_a_socket(void **state) {
  (void)state;
  placement_host_t h;
  host_make(&h, 24, 4, 4096, 6, 12, 32); /* 4 sockets of 6 nodes */
  placement_request_t r = req(24, 1024); /* 6 clients */
  r.exact_sets_max = 1000;               /* C(24,6) = 134596: greedy */
  placement_decision_t d;
  assert_int_equal(placement_decide(&h, &r, &d, NULL), 0);
  assert_int_equal(d.nclients, 6);
  assert_false(d.exact);
  assert_int_equal(set_sum(&h, &d), brute_min(&h, 6, 0));
  for (uint32_t i = 1; i < 6; i++)
    assert_int_equal(d.client[i].node / 6, d.client[0].node / 6);
}

static void memory_wider_than_a_node_splits(void **state) {
  (void)state;
  placement_host_t h;
  host_make(&h, 4, 8, 2048, 2, 12, 30);
  placement_request_t r = req(2, 5000); /* 5000 MB over 2048 MB nodes: 3 clients */
  placement_decision_t d;
  assert_int_equal(placement_decide(&h, &r, &d, NULL), 0);
  assert_int_equal(d.nclients, 3);
  uint64_t next = 0;
  uint32_t vnext = 0;
  for (uint32_t i = 0; i < d.nclients; i++) {
    assert_int_equal(d.client[i].first_gpfn, next);
    assert_int_equal(d.client[i].first_vcpu, vnext);
    next += d.client[i].npages;
    vnext += d.client[i].nvcpus;
  }
  assert_int_equal(next, MB_PAGES(5000));
  assert_int_equal(vnext, 2);
}

static void affinity_restricts_candidates(void **state) {
  (void)state;
  placement_host_t h;
  host_make(&h, 4, 4, 8192, 2, 12, 30);
  for (int v = 0; v < 6; v++) {
    placement_request_t r = req(1, 512);
    r.affinity = (1ull << 1) | (1ull << 3);
    placement_decision_t d;
    assert_int_equal(placement_decide(&h, &r, &d, NULL), 0);
    assert_true(d.client[0].node == 1 || d.client[0].node == 3);
    placement_commit(&h, &d, 1000, +1);
  }
  assert_int_equal(h.node[0].cpu_load, 0);
  assert_int_equal(h.node[2].cpu_load, 0);
  assert_int_equal(h.node[1].cpu_load, 3000);
  assert_int_equal(h.node[3].cpu_load, 3000);
  /* a wide VM under affinity stays within it and the set is the closest in it */
  placement_request_t r = req(8, 512);
  r.affinity = 0xe; /* nodes 1,2,3 */
  placement_decision_t d;
  assert_int_equal(placement_decide(&h, &r, &d, NULL), 0);
  assert_int_equal(d.nclients, 2);
  assert_int_equal(set_sum(&h, &d), brute_min(&h, 2, 0xe));
  assert_int_equal(d.client[0].node, 2);
  assert_int_equal(d.client[1].node, 3);
}

static void memory_only_nodes_never_host_vcpus(void **state) {
  (void)state;
  placement_host_t h;
  host_make(&h, 4, 4, 8192, 4, 12, 12);
  h.node[0].ncores = 0; /* memory-only, empty: would be the least loaded */
  h.node[2].ncores = 0;
  for (int v = 0; v < 8; v++) {
    placement_request_t r = req(2, 512);
    placement_decision_t d;
    assert_int_equal(placement_decide(&h, &r, &d, NULL), 0);
    assert_true(d.client[0].node == 1 || d.client[0].node == 3);
    placement_commit(&h, &d, 1000, +1);
  }
  placement_request_t r = req(2, 512);
  r.affinity = 1ull << 2;
  placement_decision_t d;
  mmc_error_t err = {0};
  assert_int_equal(placement_decide(&h, &r, &d, &err), MMC_EINVAL);
  assert_non_null(strstr(err.msg, "memory-only"));
  /* width counts only CPU nodes: 16 vCPUs over 2 CPU nodes of 4 cores = 2 clients */
  r = req(16, 512);
  assert_int_equal(placement_decide(&h, &r, &d, NULL), 0);
  assert_int_equal(d.nclients, 2);
  assert_int_equal(d.client[0].node, 1);
  assert_int_equal(d.client[1].node, 3);
}

static void vnuma_node_counts(void **state) {
  (void)state;
  assert_int_equal(placement_vnuma_nodes(8, 9, 8), 1);
  assert_int_equal(placement_vnuma_nodes(9, 9, 8), 2);
  assert_int_equal(placement_vnuma_nodes(16, 9, 8), 2);
  assert_int_equal(placement_vnuma_nodes(17, 9, 8), 3);
  assert_int_equal(placement_vnuma_nodes(64, 9, 8), 8);
  assert_int_equal(placement_vnuma_nodes(4, 4, 2), 2);
  assert_int_equal(placement_vnuma_nodes(3, 4, 2), 1);
  placement_host_t h;
  host_make(&h, 2, 16, 8192, 2, 20, 20);
  placement_request_t r = req(12, 512);
  placement_decision_t d;
  assert_int_equal(placement_decide(&h, &r, &d, NULL), 0);
  assert_int_equal(d.vnuma_nodes, 2);
  assert_int_equal(d.nclients, 1);
}

static void commit_and_uncommit_restore_aggregates(void **state) {
  (void)state;
  placement_host_t h, before;
  host_make(&h, 4, 4, 2048, 2, 12, 30);
  before = h;
  placement_request_t r = req(10, 5000);
  placement_decision_t d;
  assert_int_equal(placement_decide(&h, &r, &d, NULL), 0);
  placement_commit(&h, &d, 700, +1);
  placement_commit(&h, &d, 700, -1);
  assert_memory_equal(h.node, before.node, sizeof h.node);
  /* The balance scale is a high-water mark: the VM's clients set it. */
  assert_true(h.cpu_unit > 0 && h.mem_unit > 0);
}

/* ---- NUMA-2's balance check on the pure policy */

typedef struct vmreq {
  uint32_t vcpus;
  uint64_t pages;
} vmreq_t;

/* Place `n` VMs in order, then judge as suite/cases/numa.c does: over the
 * nodes that can be homes (CPUs and memory), each resource's fraction of
 * the node's capacity is within 1.5 x the largest single client's fraction
 * of the capacity-weighted mean. Returns the worst deviation / tolerance
 * (<= 1 passes); `why` says where. */
static double place_and_judge(placement_host_t *h, const vmreq_t *v, size_t n, char *why,
                              size_t len) {
  double max_cpu = 0, max_mem = 0;
  for (size_t i = 0; i < n; i++) {
    placement_request_t r = req(v[i].vcpus, 1);
    r.mem_pages = v[i].pages;
    placement_decision_t d;
    assert_int_equal(placement_decide(h, &r, &d, NULL), 0);
    placement_commit(h, &d, r.vcpu_demand, +1);
    for (uint32_t k = 0; k < d.nclients; k++) {
      const placement_node_t *x = &h->node[d.client[k].node];
      double c = (double)d.client[k].nvcpus / x->ncores, m = (double)d.client[k].npages;
      m = x->mem_pages ? m / (double)x->mem_pages : 0;
      max_cpu = c > max_cpu ? c : max_cpu;
      max_mem = m > max_mem ? m : max_mem;
    }
  }
  double cl = 0, cc = 0, ml = 0, mc = 0;
  for (uint32_t i = 0; i < h->nnodes; i++)
    if (h->node[i].ncores && h->node[i].mem_pages) {
      cl += (double)h->node[i].cpu_load / 1000.0;
      cc += h->node[i].ncores;
      ml += (double)h->node[i].mem_load;
      mc += (double)h->node[i].mem_pages;
    }
  double worst = 0;
  for (uint32_t i = 0; i < h->nnodes; i++) {
    const placement_node_t *x = &h->node[i];
    if (!x->ncores || !x->mem_pages)
      continue;
    double dc = (double)x->cpu_load / 1000.0 / x->ncores - cl / cc;
    double dm = (double)x->mem_load / (double)x->mem_pages - ml / mc;
    double rc = (dc < 0 ? -dc : dc) / (1.5 * max_cpu), rm = (dm < 0 ? -dm : dm) / (1.5 * max_mem);
    if (rc > worst) {
      worst = rc;
      snprintf(why, len, "node %u CPU %.3f vs mean %.3f, tolerance %.3f", i,
               (double)x->cpu_load / 1000.0 / x->ncores, cl / cc, 1.5 * max_cpu);
    }
    if (rm > worst) {
      worst = rm;
      snprintf(why, len, "node %u memory %.3f vs mean %.3f, tolerance %.3f", i,
               (double)x->mem_load / (double)x->mem_pages, ml / mc, 1.5 * max_mem);
    }
  }
  return worst;
}

/* The case's two workloads for k home nodes of `cores` cores: "mixed" (vCPUs
 * and memory loosely correlated) and "apart" (rounds of CPU-heavy VMs, one per
 * half of the nodes, then memory-heavy 1-vCPU VMs enough to fill the other
 * half's CPUs: a placer that balances CPU alone puts all memory on half the
 * nodes). Memory in units; scale_units() sizes a unit as the case does. */
static size_t numa2_mixed(vmreq_t *v, uint32_t cores) {
  static const uint32_t mem[16] = {1, 4, 8, 2, 2, 1, 2, 4, 4, 1, 2, 2, 8, 1, 4, 2};
  static const uint32_t cpu[16] = {1, 2, 4, 1, 2, 1, 1, 4, 2, 1, 2, 1, 4, 1, 2, 1};
  for (size_t i = 0; i < 16; i++)
    v[i] = (vmreq_t){cpu[i] < cores ? cpu[i] : cores, mem[i]};
  v[16] = (vmreq_t){2 * cores, 2}; /* wider than a node: two clients */
  return 17;
}

static size_t numa2_apart(vmreq_t *v, uint32_t k, uint32_t cores, size_t max) {
  uint32_t heavy = (k + 1) / 2, light = (k - heavy) * cores;
  heavy = heavy < max / 2 ? heavy : (uint32_t)(max / 2);
  light = light < max - heavy ? light : (uint32_t)(max - heavy);
  size_t n = 0;
  do {
    for (uint32_t i = 0; i < heavy; i++)
      v[n++] = (vmreq_t){cores, 1};
    for (uint32_t i = 0; i < light; i++)
      v[n++] = (vmreq_t){1, 8};
  } while (n + heavy + light <= 24);
  return n;
}

/* Units to pages as the case sizes them: all VMs fill half of the homes'
 * memory, and an 8-unit VM at most a third of the smallest home. */
static void scale_units(const placement_host_t *h, vmreq_t *v, size_t n) {
  uint64_t units = 0, home = 0, smallest = UINT64_MAX;
  for (size_t i = 0; i < n; i++)
    units += v[i].pages;
  for (uint32_t i = 0; i < h->nnodes; i++)
    if (h->node[i].ncores && h->node[i].mem_pages) {
      home += h->node[i].mem_pages;
      smallest = h->node[i].mem_pages < smallest ? h->node[i].mem_pages : smallest;
    }
  uint64_t unit = home / 2 / units;
  if (unit * 8 > smallest / 3)
    unit = smallest / 3 / 8;
  for (size_t i = 0; i < n; i++)
    v[i].pages *= unit;
}

/* 1, 2 and 4 GiB nodes of `cores` cores, and a 2 GiB memory-only node. */
static void host_unequal(placement_host_t *h, uint32_t cores) {
  host_make(h, 4, cores, 1024, 4, 21, 21);
  h->node[1].mem_pages = MB_PAGES(2048);
  h->node[2].mem_pages = MB_PAGES(4096);
  h->node[3] = (placement_node_t){.ncores = 0, .mem_pages = MB_PAGES(2048)};
}

static void judge(placement_host_t *h, vmreq_t *v, size_t n, const char *what) {
  char why[160] = "";
  scale_units(h, v, n);
  double w = place_and_judge(h, v, n, why, sizeof why);
  if (w > 1.0 + 1e-9)
    fail_msg("%s: %s (%.2f x the tolerance)", what, why, w);
}

static void numa2_workloads_balance_both_resources(void **state) {
  (void)state;
  vmreq_t v[64];
  for (uint32_t k = 2; k <= 8; k *= 2) {
    placement_host_t h;
    host_make(&h, k, 4, 2048, 2, 20, 30);
    judge(&h, v, numa2_mixed(v, 4), "mixed, equal nodes");
    host_make(&h, k, 4, 2048, 2, 20, 30);
    char what[64];
    snprintf(what, sizeof what, "apart, %u equal nodes", k);
    judge(&h, v, numa2_apart(v, k, 4, 32), what);
  }
  /* Unequal nodes, CPUs overcommitted (24 vCPUs on 6 cores): the machine on
   * which the larger-fraction rule loaded the 1 GiB node to 0.92. */
  placement_host_t h;
  host_unequal(&h, 2);
  judge(&h, v, numa2_mixed(v, 2), "mixed, 1/2/4 GiB nodes");
  host_unequal(&h, 2);
  judge(&h, v, numa2_apart(v, 3, 2, 32), "apart, 1/2/4 GiB nodes");
}

/* One random machine as hardware comes (2-8 nodes with the same cores, 2, 4
 * or 8, and 1-8 GiB each, some memory-only) and a random stream of 8-24 VMs
 * whose vCPUs stay within `overcommit` x the homes' cores; the worst
 * deviation / tolerance of NUMA-2's check. */
static double random_trial(uint32_t overcommit, char *why, size_t len) {
  placement_host_t h;
  vmreq_t v[24];
  uint32_t k = 2 + (uint32_t)(rnd() % 7), cores = 2u << (rnd() % 3), home_cores = 0, vcpus = 0;
  host_make(&h, k, cores, 1024, k, 21, 21);
  for (uint32_t i = 0; i < k; i++) {
    h.node[i].mem_pages = MB_PAGES(1024u << (rnd() % 4));
    if (i > 0 && rnd() % 5 == 0)
      h.node[i].ncores = 0; /* memory-only */
    home_cores += h.node[i].ncores;
  }
  size_t n = 8 + rnd() % 17;
  for (size_t i = 0; i < n; i++) {
    v[i] = (vmreq_t){1 + (uint32_t)(rnd() % cores), 1 + rnd() % 8};
    if ((vcpus += v[i].vcpus) > overcommit * home_cores) {
      n = i;
      break;
    }
  }
  scale_units(&h, v, n);
  return place_and_judge(&h, v, n, why, len);
}

/* With vCPUs up to twice the cores the check holds on every machine; beyond
 * (4x) the greedy arrival-order placement cannot always keep both resources
 * within 1.5 client sizes, and the rate is printed (before the deviation-
 * based rule it was 45 % of machines at any overcommit). */
static void numa2_random_machines_balance(void **state) {
  (void)state;
  enum { trials = 2000 };
  int over = 0;
  for (int t = 0; t < trials; t++) {
    char why[160] = "";
    double w = random_trial(2, why, sizeof why);
    if (w > 1.0 + 1e-9)
      fail_msg("trial %d (vCPUs <= 2 x cores): %s (%.2f x the tolerance)", t, why, w);
  }
  for (int t = 0; t < trials; t++) {
    char why[160] = "";
    over += random_trial(4, why, sizeof why) > 1.0 + 1e-9;
  }
  printf("# vCPUs up to 4 x cores: %d of %d random machines outside NUMA-2's tolerance\n", over,
         trials);
}

/* At the scale `mmcert bench placement` times (1000 VMs on 24 nodes of 8
 * cores in sockets of 6 nodes, 2 % of the VMs wider than a node): every
 * decision is made and the host passes NUMA-2's balance check as the small
 * ones above do. The decision's cost is that benchmark's figure, beside
 * the power-on around it; a unit test only says whether it is right. */
static void placement_at_scale_1000_vms_24_nodes(void **state) {
  (void)state;
  enum { NVM = 1000 };
  static vmreq_t v[NVM];
  placement_host_t h;
  host_make(&h, 24, 8, 65536, 6, 12, 32);
  for (int i = 0; i < NVM; i++)
    v[i] = (vmreq_t){1 + (uint32_t)(rnd() % (i % 50 == 0 ? 16 : 4)), MB_PAGES(256u << (rnd() % 4))};
  char why[160] = "";
  double w = place_and_judge(&h, v, NVM, why, sizeof why);
  print_message("# 1000 VMs on 24 nodes: worst deviation %.2f x the tolerance (%s)\n", w, why);
  if (w > 1.0 + 1e-9)
    fail_msg("1000 VMs on 24 nodes: %s (%.2f x the tolerance)", why, w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(balances_2_4_8_nodes),
      cmocka_unit_test(balances_memory_too),
      cmocka_unit_test(wide_vms_take_the_closest_set),
      cmocka_unit_test(equally_close_sets_tie_break_by_load),
      cmocka_unit_test(greedy_on_24_nodes_finds_a_socket),
      cmocka_unit_test(memory_wider_than_a_node_splits),
      cmocka_unit_test(affinity_restricts_candidates),
      cmocka_unit_test(memory_only_nodes_never_host_vcpus),
      cmocka_unit_test(vnuma_node_counts),
      cmocka_unit_test(commit_and_uncommit_restore_aggregates),
      cmocka_unit_test(numa2_workloads_balance_both_resources),
      cmocka_unit_test(numa2_random_machines_balance),
      cmocka_unit_test(placement_at_scale_1000_vms_24_nodes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
