/*
 * rebalance.h — the NUMA rebalancer's decision for one period (NUMA-4, -5,
 * -6, -8, -10, -12; seeds 000, 001, 002 "Dynamic Load Balancing and Page
 * Migration"; RM "How ESXi NUMA Scheduling Works").
 *
 * ======================================================================
 * POLICY (this section): one pure function, rebalance_step(), from a
 * snapshot of nodes and VMs plus the setting values to at most one decision
 * (one home change, or one swap of two VMs). No clock, no threads, no
 * memory of its own: the caller runs it every Numa.RebalancePeriod (NUMA-4),
 * passes the period index, applies the moves (home change, events, page
 * migration) and records each VM's last move period. The mechanism (the
 * periodic hook feeding it from the host) is rebalancer.c; the pages follow
 * through the migration engine (migrate.c).
 * ======================================================================
 *
 * Load. A VM counts on its home node for load = min(cpu_demand,
 * cpu_entitlement) cores (demand alone when it has no entitlement cap): what
 * it uses and is entitled to use. A node's utilisation u = sum of its VMs'
 * loads / cpu_capacity. The imbalance is (max u - min u) over the nodes, in
 * percentage points of capacity: "pre" is the imbalance now, i.e. between
 * the most loaded node (source) and the least loaded one (destination);
 * "post" is the imbalance over all nodes that a move would leave.
 *
 * Disabled (NUMA-8): Numa.RebalanceEnable = 0, fewer host cores than
 * Numa.RebalanceCoresTotal, a node with fewer cores than
 * Numa.RebalanceCoresNode, or a single node: no decision.
 *
 * One decision per period, the first that applies:
 *  1. Balance move (NUMA-4, -5, -6) when pre >= Numa.MigImbalanceThreshold:
 *     a VM homed on the most loaded node goes to the least loaded node
 *     (ties: lower node index). A candidate must
 *       - be allowed there (affinity), fit (vcpus <= the node's cores),
 *         have load > 0;
 *       - improve the pair: gain = pre - 100 |u_src' - u_dst'| >=
 *         Numa.MigThreshold (u' after the move; measured on the pair, not
 *         on max - min over all nodes, so that with several equally loaded
 *         nodes a move still counts);
 *       - not thrash: when the move reverses the pair (u_dst' > u_src'),
 *         the reversed imbalance 100 (u_dst' - u_src') must be <=
 *         Numa.MigThrashThreshold % of pre — otherwise the next period
 *         would move it back. So a VM of load l moves only if
 *         l <= (1 + thrash/100) / 2 of the pair's difference (75 % at the
 *         default 50 %), and small VMs are never refused for this reason;
 *       - respect entitlements (NUMA-5): the destination's CPU reservations
 *         plus the VM's fit its capacity, and the move does not push the
 *         destination above its capacity unless the source was above its own;
 *       - have room for its memory: the destination's free pages cover the
 *         VM's pages that would have to migrate there.
 *     Among candidates the best score wins:
 *       score = gain + Numa.LocalityWeightMem * dloc,
 *     dloc = the change in the VM's memory locality in percentage points
 *     (100 * (pages on destination - pages on source) / VM pages), so a VM
 *     that already has memory on the destination is preferred (NUMA-6);
 *     remaining ties: more pages on the destination, then the VM moved
 *     longest ago, then the lower VM index.
 *  2. Locality move (NUMA-12): a VM whose allowed node with the most of its
 *     memory (node m) is not its home goes to m when
 *     LocalityWeightMem * (locality gain in points) >= MigThreshold and no
 *     CPU contention results: m stays within its capacity and its
 *     reservations fit, and post < MigImbalanceThreshold or post <= pre (so
 *     the next period's balance step has nothing to undo). Best benefit
 *     wins; ties: lower VM index.
 *  3. Swap (NUMA-12), only in periods where period % Numa.SwapInterval == 0:
 *     for each pair of nodes (x, y), the VM on x with the largest locality
 *     gain toward y is swapped with the VM on y with the largest gain toward
 *     x when benefit = LocalityWeightMem * (gain_a + gain_b) + (pre - post)
 *     >= MigThreshold, neither node is pushed above capacity (or made worse
 *     if already above), reservations and affinities hold, and
 *     post < MigImbalanceThreshold or post <= pre. Best benefit wins.
 * Units (ours; ESXi does not document them): imbalance and locality are
 * both in percentage points, so LocalityWeightMem = 1 means "+1 % of a VM's
 * memory made local is worth 1 point of imbalance".
 * Steady state (NUMA-10): a balance move of load l between nodes whose
 * utilisations differ by D (equal capacities) changes sum(u^2) by
 * 2 l (l - D) < 0, since the anti-thrash rule keeps l < D, so balance moves
 * alone cannot cycle; locality moves and swaps never raise the imbalance
 * above the threshold (or above pre), so they do not hand the balance step
 * work to undo. That is an argument, not a proof for mixed capacities:
 * test_rebalance checks that 200 random hosts with a fixed workload reach a
 * state with no move.
 *
 * Cost: O(VMs * nodes + nodes^2) per call (loads, each VM's best node, the
 * swap table), no allocation; test_rebalance prints the cost at 1000 VMs on
 * 24 nodes (about 50 us per period on the development machine).
 */
#ifndef REF_REBALANCE_H
#define REF_REBALANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "mmc_error.h"

/* ---------------------------------------------------------------- policy */

#define REBALANCE_NEVER UINT64_MAX /* last_move_period of a VM never moved */
#define REBALANCE_MAX_MOVES 2u     /* a swap is two moves */

typedef struct rebalance_node {
  uint32_t cores;              /* physical cores of the node */
  double cpu_capacity;         /* CPU capacity in cores; > 0 */
  uint64_t mem_capacity_pages; /* frames of the node */
  uint64_t mem_free_pages;     /* free frames now */
} rebalance_node_t;

typedef struct rebalance_vm {
  uint32_t home;                  /* home node index (< nnodes) */
  uint32_t vcpus;                 /* vCPUs of this VM (or NUMA client) */
  double cpu_demand;              /* cores it would consume now (>= 0): consumed CPU time
                                     per period in live mode, the workload's declared
                                     demand in stepped mode */
  double cpu_entitlement;         /* cores its shares/reservation entitle it to; 0 = no cap */
  double cpu_reservation;         /* cores reserved; must fit on its node */
  const uint64_t *pages_per_node; /* nnodes entries: resident pages by node; NULL = none */
  uint64_t affinity;              /* allowed nodes (bit i = node i); 0 = any */
  uint64_t last_move_period;      /* period of its last home change, or REBALANCE_NEVER */
} rebalance_vm_t;

typedef struct rebalance_settings {
  bool enable;                  /* Numa.RebalanceEnable */
  uint32_t imbalance_threshold; /* Numa.MigImbalanceThreshold, % */
  uint32_t mig_threshold;       /* Numa.MigThreshold, % (points of improvement) */
  uint32_t thrash_threshold;    /* Numa.MigThrashThreshold, % of pre */
  uint32_t locality_weight;     /* Numa.LocalityWeightMem */
  uint32_t swap_interval;       /* Numa.SwapInterval, periods (>= 1) */
  uint32_t cores_total_min;     /* Numa.RebalanceCoresTotal */
  uint32_t cores_node_min;      /* Numa.RebalanceCoresNode */
} rebalance_settings_t;

typedef enum rebalance_reason {
  REBALANCE_BALANCE = 1,
  REBALANCE_LOCALITY = 2,
  REBALANCE_SWAP = 3,
} rebalance_reason_t;

typedef struct rebalance_move {
  uint32_t vm;   /* index into the VM array */
  uint32_t from; /* its home now */
  uint32_t to;   /* its new home */
  rebalance_reason_t reason;
} rebalance_move_t;

typedef struct rebalance_result {
  bool disabled;                               /* NUMA-8: rebalancer off */
  uint32_t nmoves;                             /* 0, 1 or 2 (a swap) */
  rebalance_move_t moves[REBALANCE_MAX_MOVES]; /* valid for i < nmoves */
  double imbalance;                            /* pre, percentage points */
  double imbalance_after;                      /* after the moves (== pre if none) */
} rebalance_result_t;

/* Fill settings with the documented defaults (doc/spec.md, "Advanced settings"). */
void rebalance_settings_default(rebalance_settings_t *s);

/* Decide this period's moves (see above). 0, or MMC_EINVAL (nothing decided)
 * when the input is malformed: nnodes outside 1..MMC_MAX_NODES, a home
 * outside the nodes, a capacity <= 0, swap_interval 0. */
int rebalance_step(const rebalance_settings_t *s, const rebalance_node_t *nodes, uint32_t nnodes,
                   const rebalance_vm_t *vms, uint32_t nvms, uint64_t period,
                   rebalance_result_t *out, mmc_error_t *err);

/* Invariants of a decision for this snapshot: at most one balance or
 * locality move, or exactly two swap moves exchanging two VMs' homes; every
 * move changes a VM's home from its current one to another node it is
 * allowed on and fits (affinity, vcpus <= cores); nothing when disabled. */
bool rebalance_result_is_valid(const rebalance_result_t *r, const rebalance_node_t *nodes,
                               uint32_t nnodes, const rebalance_vm_t *vms, uint32_t nvms);

#endif
