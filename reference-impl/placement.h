/*
 * placement.h — initial NUMA placement, a pure policy (NUMA-1, -2, -3, -9, -11).
 *
 * Plain structs in, a decision out: no memory allocation, no threads, no OS.
 * The host keeps one placement_host_t with per-node aggregates (CPU demand and
 * committed memory of the NUMA clients homed there) and updates it
 * incrementally with placement_add() when VMs come and go or change demand,
 * so a decision costs O(nodes) for a VM that fits one node and never scans
 * VMs.
 *
 * Model.
 *  - CPU load of node n: sum of the vCPU demand (permille of one core) of the
 *    clients homed on n, relative to n's cores (ncores * 1000). Memory load:
 *    committed guest pages (configured size of the clients) relative to n's
 *    capacity. Both are fractions of the node's own capacity, so a node with
 *    half the memory counts as full with half the pages (nodes may differ).
 *  - Balance is judged per resource against that resource's mean: the
 *    capacity-weighted mean fraction over the nodes that can be homes (CPUs
 *    and memory), with the client added. A node's deviation from the mean
 *    is measured in units of a client's size on that node (this client's
 *    fraction of the node, or the largest fraction any client had of its
 *    home so far when that is larger: cpu_unit, mem_unit), and its score is
 *    the larger of the two deviations (the "peak"). In client units, because
 *    the two resources live on different scales: with CPUs overcommitted 4x
 *    every CPU fraction is near 4 and every memory fraction under 1, and
 *    comparing raw fractions (as the larger-fraction rule did before) made
 *    the CPU decide alone and left memory wherever it fell — a 1 GiB node of
 *    a 1/2/4 GiB machine ended at 0.92 of its memory beside a mean of 0.29
 *    (NUMA-2, seed 001: "the overall CPU and memory load among NUMA nodes
 *    remains balanced"). Dividing by the mean instead over-weights a
 *    resource little used overall, and a unit taken on an average node makes
 *    a small node look full (both kept every VM off a 1 GiB node beside 8 GiB
 *    ones while its CPUs idled).
 *  - A node the client's memory does not fit (committed pages would exceed
 *    its capacity), or one without memory, is chosen only when no candidate
 *    fits.
 *  - A VM with more vCPUs than the largest candidate node has cores, or more
 *    memory than it holds, becomes nclients = max(ceil(vcpus / cores),
 *    ceil(pages / node pages)) NUMA clients (capped by the candidate count);
 *    vCPUs and the guest-physical range are split into nclients contiguous,
 *    near-equal parts (NUMA-3).
 *  - Candidates: nodes with CPUs (memory-only nodes never host vCPUs) within
 *    the affinity mask (0 = all) (NUMA-9).
 *  - One client: among candidates it fits, the lowest peak deviation after
 *    adding it; ties by the sum of both deviations, then by lowest index.
 *  - k > 1 clients: the set of k distinct candidates with the smallest sum of
 *    pairwise distances (NUMA-3); among equally close sets the one with the
 *    fewest nodes the client does not fit, then the least loaded (sum of the
 *    nodes' peak deviations after adding their client). When C(candidates,
 *    k) <= exact_sets_max every set is tried (exact); otherwise a greedy
 *    search: from each candidate as seed, add the node with the smallest
 *    distance to the nodes chosen so far (ties by load, index), keep the best
 *    resulting set. The greedy result is optimal on hierarchical topologies
 *    (sockets of nodes) and a heuristic in general.
 *  - vNUMA (NUMA-11): vcpus >= vcpu_min exposes ceil(vcpus / max_per_vnode)
 *    virtual nodes, else 1.
 * Numa.RebalanceEnable=0 (NUMA-8) is the caller's business: it does not call
 * placement_decide at all and the VM gets no home.
 */
#ifndef REF_PLACEMENT_H
#define REF_PLACEMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "mmc_error.h"
#include "mmcert/impl.h"

typedef struct placement_node {
  uint32_t ncores;    /* cores for vCPUs; 0 = memory-only node, never a home */
  uint64_t mem_pages; /* memory capacity in pages */
  int64_t cpu_load;   /* sum of vCPU demand of clients homed here, permille */
  int64_t mem_load;   /* committed guest pages of clients homed here */
} placement_node_t;

typedef struct placement_host {
  uint32_t nnodes;
  const uint32_t *distance; /* nnodes*nnodes, row-major; never NULL */
  placement_node_t node[MMC_MAX_NODES];
  double cpu_unit, mem_unit; /* largest client committed so far, as a fraction of
                                its home's CPU / memory: the scale balance is
                                judged in (a high-water mark, never lowered;
                                0 before the first commit) */
} placement_host_t;

typedef struct placement_request {
  uint32_t vcpus;          /* >= 1 */
  uint64_t mem_pages;      /* >= 1 */
  uint64_t affinity;       /* node mask; 0 = any node */
  uint32_t vcpu_demand;    /* permille per vCPU assumed at placement */
  uint32_t vcpu_min;       /* numa.vcpu.min */
  uint32_t max_per_vnode;  /* numa.vcpu.maxPerVirtualNode, >= 1 */
  uint64_t exact_sets_max; /* Ref.PlacementExactSets */
} placement_request_t;

typedef struct placement_client {
  uint32_t node;       /* home node index */
  uint32_t first_vcpu; /* vCPUs [first_vcpu, first_vcpu + nvcpus) */
  uint32_t nvcpus;
  uint64_t first_gpfn; /* guest pages [first_gpfn, first_gpfn + npages) */
  uint64_t npages;
} placement_client_t;

typedef struct placement_decision {
  uint32_t nclients; /* 1..MMC_MAX_NODES */
  placement_client_t client[MMC_MAX_NODES];
  uint32_t vnuma_nodes; /* >= 1 */
  bool exact;           /* the node set came from the exhaustive search */
  uint32_t dist_sum;    /* sum of pairwise distances of the chosen set */
} placement_decision_t;

/* Decide where a new VM goes. MMC_EINVAL when no candidate node exists (the
 * affinity names only memory-only nodes, or the topology has no CPUs). Does
 * not change `h`: apply the decision with placement_commit. */
int placement_decide(const placement_host_t *h, const placement_request_t *r,
                     placement_decision_t *d, mmc_error_t *err);

/* Add (sign +1) or remove (sign -1) a decided VM's load; adding also raises
 * cpu_unit/mem_unit to the VM's clients' sizes. */
void placement_commit(placement_host_t *h, const placement_decision_t *d, uint32_t vcpu_demand,
                      int sign);

/* Change one node's aggregates (a client moving, a vCPU's demand changing). */
static inline void placement_add(placement_host_t *h, uint32_t node, int64_t cpu, int64_t mem) {
  h->node[node].cpu_load += cpu;
  h->node[node].mem_load += mem;
}

/* The least loaded candidate in `allowed` (0 = any) for a client of the given
 * size, or UINT32_MAX when there is none. Used when a home must move
 * (affinity change). */
uint32_t placement_pick_node(const placement_host_t *h, uint64_t allowed, int64_t cpu, int64_t mem);

/* NUMA-11: virtual NUMA node count. */
uint32_t placement_vnuma_nodes(uint32_t vcpus, uint32_t vcpu_min, uint32_t max_per_vnode);

/* Utilization of node n after adding (cpu, mem): the larger of its CPU and
 * memory fractions. */
double placement_node_load(const placement_host_t *h, uint32_t n, int64_t cpu, int64_t mem);

#endif
