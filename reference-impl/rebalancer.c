/*
 * rebalancer.c — the NUMA rebalancer's mechanism (one ref_mech_t row,
 * REF_MECH_REBALANCE, MMC_CAP_REBALANCE): NUMA-4, -5, -6, -8, -10, -12. The
 * decision is the pure policy of rebalance.h (which NUMA client goes where,
 * once per period); this file feeds it from the host and applies what it
 * says. The pages follow through the migration engine (migrate.c).
 *
 * A hook on Numa.RebalancePeriod (both clocks). Each period:
 *  - input: every NUMA client of every placed VM (ref_vm_for_each_client) as
 *    one rebalance_vm_t: its home, vCPUs, CPU demand, the VM's resident pages
 *    by node, affinity and the period of its last move; every node with its
 *    cores (CPU capacity = cores), frames and free frames;
 *  - CPU demand: stepped clock, the vCPUs' declared demand (vcpu_set_demand,
 *    Ref.VcpuDemandDefault until declared); live clock, what the thread that
 *    entered the vCPU asked of the CPU since the last period over the
 *    period's length: the time it ran plus the time it waited runnable
 *    (mmc_thread_demand_ns; the CPU time it was granted where the kernel
 *    does not account the wait), at most one core. A hypervisor balances
 *    by demand, not by what contention left a vCPU: two busy vCPUs sharing
 *    one core are two cores of demand on that node, which is the imbalance
 *    a move relieves (NUMA-4, NUMA-12). A vCPU not yet measured for a whole
 *    period counts its declared demand, one not entered counts nothing (it
 *    runs nowhere);
 *  - rebalance_step() decides at most one move or one swap; each move goes
 *    through ref_vm_set_home (MMC_EV_HOME_CHANGE with reason "balance",
 *    "locality" or "swap"; new memory from the new home: NUMA-7) and starts
 *    migration toward the new home at once (ref_migrate_home_changed: MIG-2);
 *  - then host rebalance_periods is bumped and one MMC_EV_REBALANCE is
 *    emitted (count = home changes made, reason = the imbalance measured).
 * When the policy reports the rebalancer disabled (Numa.RebalanceEnable=0,
 * fewer host cores than Numa.RebalanceCoresTotal, a node with fewer than
 * Numa.RebalanceCoresNode, a single node) the period is not counted and no
 * event is emitted (NUMA-8). Settings are read at the start of each period
 * (SET-2). Memory-only nodes count as nodes without cores, which disables
 * the rebalancer (none of the documented hosts has them).
 * Not modelled: CPU shares and reservations (the contract's VM config has
 * memory ones only), so every client's CPU entitlement is its demand; a
 * VM's memory must still fit the destination's free frames (NUMA-5).
 *
 * Locking: the hook runs with h->lock held (ref.h), so it never overlaps
 * the migration engine's tick, a power-off or move_range; the per-VM state
 * is created and freed under the same lock (vm_on/vm_off).
 *
 * Figures: one period of the rebalancer alone, 1000 VMs on 24 nodes
 * (`mmcert bench placement`'s host, 2-core development VM shared with other
 * sessions): p50 0.06-0.22 ms, max 0.5-5.5 ms.
 *
 * Invariants: the input arrays hold one row per NUMA client of the period
 * being decided (n <= cap); a client's last_move_period is the host's
 * rebalance_periods when the rebalancer last moved it, REBALANCE_NEVER
 * before; the live-demand baseline of a vCPU belongs to the thread in
 * cpu_tid (0 = none yet).
 */
#include <stdio.h>
#include <stdlib.h>

#include "mmc_clock.h"
#include "rebalance.h"
#include "ref.h"
#include "twin.h"

#define REB_PERMILLE 1000.0

typedef struct reb_vm {
  uint64_t last_move_period[MMC_MAX_NODES]; /* by client; REBALANCE_NEVER until moved */
  uint64_t *cpu_ns; /* live: per vCPU, its thread's demand (ns) at the last period */
  pid_t *cpu_tid;   /* the thread measured (0 = none yet) */
} reb_vm_t;

/* Which client a row of the policy's input is. */
typedef struct reb_who {
  mmc_vm_id_t vm;
  uint32_t client;
} reb_who_t;

typedef struct reb_host {
  rebalance_vm_t *in; /* the policy's input, grown as needed */
  reb_who_t *who;
  uint64_t *pages; /* cap * nnodes */
  size_t cap, n;
  uint64_t last_period_ns;
  uint64_t period_ns; /* length of the period being measured (live demand) */
  bool measure_ok;    /* fill: allocation failed when false */
#ifdef REF_TWINS
  uint64_t twin_period_ns, twin_due_ns; /* twin SET2_REBALANCER_KEEPS_PERIOD_REPORTS_CHANGE */
#endif
} reb_host_t;

static reb_vm_t *reb_vm(ref_vm_t *vm) {
  return vm->mech[REF_MECH_REBALANCE];
}

static bool grow_input(reb_host_t *rh, uint32_t nnodes) {
  if (rh->n < rh->cap)
    return true;
  size_t cap = rh->cap ? rh->cap * 2 : 64;
  rebalance_vm_t *in = realloc(rh->in, cap * sizeof *in);
  if (in)
    rh->in = in;
  reb_who_t *who = realloc(rh->who, cap * sizeof *who);
  if (who)
    rh->who = who;
  uint64_t *pages = realloc(rh->pages, cap * nnodes * sizeof *pages);
  if (pages)
    rh->pages = pages;
  if (!in || !who || !pages)
    return false;
  rh->cap = cap;
  return true;
}

/* Thread tid's demand so far (ns): run time plus run-queue wait, or its CPU
 * time where the kernel does not account the wait. The source is the
 * machine's, so a vCPU's baseline and its next reading share it. */
static bool thread_demand_ns(pid_t tid, uint64_t *out) {
  return mmc_thread_demand_ns(tid, out) || mmc_thread_cpu_ns(tid, out);
}

/* Live clock: one vCPU's demand in cores over the last period. */
static double live_demand(reb_host_t *rh, reb_vm_t *rv, mmc_vcpu_t *v) {
  uint32_t k = v->index;
  if (!atomic_load(&v->entered)) {
    rv->cpu_tid[k] = 0;
    return 0.0;
  }
  uint64_t now = 0;
  bool ok = thread_demand_ns(v->tid, &now);
  bool measured = ok && rv->cpu_tid[k] == v->tid && rh->period_ns && now >= rv->cpu_ns[k];
  double d = measured ? (double)(now - rv->cpu_ns[k]) / (double)rh->period_ns
                      : (double)v->demand / REB_PERMILLE;
  d = d > 1.0 ? 1.0 : d; /* a reading late by a scheduling tick is not more than a core */
  rv->cpu_tid[k] = ok ? v->tid : 0;
  rv->cpu_ns[k] = now;
  return d;
}

typedef struct fill_arg {
  ref_host_t *h;
  reb_host_t *rh;
} fill_arg_t;

static void fill_client(void *ctx, const ref_client_view_t *cv) {
  fill_arg_t *a = ctx;
  reb_host_t *rh = a->rh;
  ref_host_t *h = a->h;
  ref_vm_t *vm = ref_vm_get(h, cv->vm);
  reb_vm_t *rv = vm ? reb_vm(vm) : NULL;
  if (!rv || !rh->measure_ok || !grow_input(rh, h->nnodes)) {
    rh->measure_ok = false;
    return;
  }
  size_t k = rh->n++;
  uint64_t *pages = rh->pages + k * h->nnodes;
  for (uint32_t n = 0; n < h->nnodes; n++)
    pages[n] = atomic_load_explicit(&cv->vm_pages_per_node[n], memory_order_relaxed);
  double demand = (double)cv->demand_permille / REB_PERMILLE;
  if (h->clock == MMC_CLOCK_LIVE) {
    const ref_client_t *cl = &vm->client[cv->client];
    demand = 0.0;
    for (uint32_t j = 0; j < cl->nvcpus; j++)
      demand += live_demand(rh, rv, &vm->vcpus[cl->first_vcpu + j]);
  }
  rh->who[k] = (reb_who_t){.vm = cv->vm, .client = cv->client};
  rh->in[k] = (rebalance_vm_t){.home = cv->home,
                               .vcpus = cv->vcpus,
                               .cpu_demand = demand,
                               .pages_per_node = NULL,
                               .affinity = cv->affinity,
                               .last_move_period = rv->last_move_period[cv->client]};
}

static void fill_nodes(ref_host_t *h, rebalance_node_t *nodes) {
  for (uint32_t n = 0; n < h->nnodes; n++) {
    const mmc_node_t *nd = &h->nodes[n];
    uint32_t cores = nd->ncpus ? (nd->ncores ? nd->ncores : nd->ncpus) : 0;
    ref_pool_t *p = h->pools[n];
    nodes[n] = (rebalance_node_t){.cores = cores,
                                  .cpu_capacity = cores ? (double)cores : 1.0,
                                  .mem_capacity_pages = p ? ref_pool_capacity(p) : 0,
                                  .mem_free_pages = p ? ref_pool_free(p) : 0};
  }
}

static void fill_settings(ref_host_t *h, rebalance_settings_t *s) {
  *s = (rebalance_settings_t){
      .enable = ref_set(h, REF_SET_NUMA_REBALANCE_ENABLE) != 0,
      .imbalance_threshold = (uint32_t)ref_set(h, REF_SET_NUMA_MIG_IMBALANCE_THRESHOLD),
      .mig_threshold = (uint32_t)ref_set(h, REF_SET_NUMA_MIG_THRESHOLD),
      .thrash_threshold = (uint32_t)ref_set(h, REF_SET_NUMA_MIG_THRASH_THRESHOLD),
      .locality_weight = (uint32_t)ref_set(h, REF_SET_NUMA_LOCALITY_WEIGHT_MEM),
      .swap_interval = (uint32_t)ref_set(h, REF_SET_NUMA_SWAP_INTERVAL),
      .cores_total_min = (uint32_t)ref_set(h, REF_SET_NUMA_REBALANCE_CORES_TOTAL),
      .cores_node_min = (uint32_t)ref_set(h, REF_SET_NUMA_REBALANCE_CORES_NODE)};
}

static const char *reason_name(rebalance_reason_t r) {
  return r == REBALANCE_LOCALITY ? "locality" : r == REBALANCE_SWAP ? "swap" : "balance";
}

static uint32_t apply_moves(ref_host_t *h, reb_host_t *rh, const rebalance_result_t *r,
                            uint64_t period, uint64_t now) {
  uint32_t done = 0;
  for (uint32_t k = 0; k < r->nmoves; k++) {
    const rebalance_move_t *m = &r->moves[k];
    const reb_who_t *w = &rh->who[m->vm];
    mmc_error_t err = {0};
#ifdef REF_TWINS
    if (REF_TWIN(NUMA12_MOVES_ONLY_REPORTED) && m->reason != REBALANCE_BALANCE) {
      ref_vm_twin_report_home(h, w->vm, w->client, m->to, reason_name(m->reason));
      reb_vm(ref_vm_get(h, w->vm))->last_move_period[w->client] = period;
      done++;
      continue;
    }
#endif
    if (ref_vm_set_home(h, w->vm, w->client, m->to, reason_name(m->reason), &err) != 0) {
      ref_event_emit(h, (mmc_event_t){.type = MMC_EV_ERROR,
                                      .vm = w->vm,
                                      .node_from = (int32_t)m->from,
                                      .node_to = (int32_t)m->to,
                                      .client = w->client,
                                      .reason = "rebalance: set_home failed"});
      continue;
    }
    ref_vm_t *vm = ref_vm_get(h, w->vm);
    reb_vm(vm)->last_move_period[w->client] = period;
    ref_migrate_home_changed(vm, w->client, m->to, now); /* MIG-2: migration starts now */
    done++;
  }
  return done;
}

#ifdef REF_TWINS
/* Twin SET2_REBALANCER_KEEPS_PERIOD_REPORTS_CHANGE: a run off the grid of
 * the period the rebalancer had at power-on decides nothing, yet is counted
 * and reported as a period that found nothing to move. True when skipped. */
static bool twin_off_grid(ref_host_t *h, reb_host_t *rh, uint64_t now_ns) {
  if (now_ns < rh->twin_due_ns) {
    h->rebalance_periods++;
    ref_event_emit(h, (mmc_event_t){.type = MMC_EV_REBALANCE,
                                    .node_from = -1,
                                    .node_to = -1,
                                    .reason = "imbalance 0.0%"});
    return true;
  }
  rh->twin_due_ns += ((now_ns - rh->twin_due_ns) / rh->twin_period_ns + 1) * rh->twin_period_ns;
  return false;
}
#endif

static void rebalance_period(ref_host_t *h, uint64_t now_ns, void *ctx) {
  reb_host_t *rh = ctx;
#ifdef REF_TWINS
  if (REF_TWIN(SET2_REBALANCER_KEEPS_PERIOD_REPORTS_CHANGE) && twin_off_grid(h, rh, now_ns))
    return;
#endif
  rebalance_settings_t s;
  rebalance_node_t nodes[MMC_MAX_NODES];
  fill_settings(h, &s);
  fill_nodes(h, nodes);
  rh->period_ns = now_ns - rh->last_period_ns;
  rh->last_period_ns = now_ns;
  rh->n = 0;
  rh->measure_ok = true;
  fill_arg_t a = {.h = h, .rh = rh};
  ref_vm_for_each_client(h, fill_client, &a);
  for (size_t k = 0; k < rh->n; k++)
    rh->in[k].pages_per_node = rh->pages + k * h->nnodes;
  rebalance_result_t r;
  mmc_error_t err = {0};
  int rc = rh->measure_ok ? rebalance_step(&s, nodes, h->nnodes, rh->in, (uint32_t)rh->n,
                                           h->rebalance_periods, &r, &err)
                          : MMC_ENOMEM;
  ref_assert(rc || rebalance_result_is_valid(&r, nodes, h->nnodes, rh->in, (uint32_t)rh->n));
  if (rc) {
    ref_event_emit(h, (mmc_event_t){.type = MMC_EV_ERROR,
                                    .node_from = -1,
                                    .node_to = -1,
                                    .reason = "rebalance: no decision"});
    return;
  }
  if (r.disabled)
    return; /* NUMA-8: not a period of the rebalancer */
  uint32_t moved = apply_moves(h, rh, &r, h->rebalance_periods, now_ns);
  h->rebalance_periods++;
  mmc_event_t ev = {.type = MMC_EV_REBALANCE, .node_from = -1, .node_to = -1, .count = moved};
  snprintf(ev.reason, sizeof ev.reason, "imbalance %.1f%%", r.imbalance);
  ref_event_emit(h, ev);
}

/* ================================================================ the row */

static void reb_detach(ref_host_t *h) {
  reb_host_t *rh = ref_host_mech(h, REF_MECH_REBALANCE);
  if (!rh)
    return;
  free(rh->in);
  free(rh->who);
  free(rh->pages);
  free(rh);
  ref_host_set_mech(h, REF_MECH_REBALANCE, NULL);
}

static int reb_attach(ref_host_t *h, mmc_error_t *err) {
  reb_host_t *rh = calloc(1, sizeof *rh);
  if (!rh)
    return mmc_fail(err, MMC_ENOMEM, "rebalancer: out of memory");
  rh->last_period_ns = ref_host_now(h);
#ifdef REF_TWINS
  rh->twin_period_ns = ref_settings_period_ns(&h->settings, REF_SET_NUMA_REBALANCE_PERIOD);
  rh->twin_due_ns = rh->last_period_ns + rh->twin_period_ns;
#endif
  ref_host_set_mech(h, REF_MECH_REBALANCE, rh);
  const ref_hook_t hook = {.name = "rebalancer",
                           .period = REF_TWIN(NUMA4_RUNS_EVERY_MIGRATE_TICK)
                                         ? REF_SET_REF_MIGRATE_TICK
                                         : REF_SET_NUMA_REBALANCE_PERIOD,
                           .run = rebalance_period,
                           .ctx = rh};
  int rc = ref_host_add_hook(h, &hook, err);
  if (rc)
    reb_detach(h);
  return rc;
}

static int reb_vm_on(ref_host_t *h, ref_vm_t *vm, mmc_error_t *err) {
  reb_vm_t *rv = calloc(1, sizeof *rv);
  uint64_t *cpu = calloc(vm->cfg.vcpus, sizeof *cpu);
  pid_t *tid = calloc(vm->cfg.vcpus, sizeof *tid);
  if (!rv || !cpu || !tid) {
    free(rv);
    free(cpu);
    free(tid);
    return mmc_fail(err, MMC_ENOMEM, "rebalancer: out of memory for VM %u", vm->id);
  }
  rv->cpu_ns = cpu;
  rv->cpu_tid = tid;
  for (uint32_t i = 0; i < MMC_MAX_NODES; i++)
    rv->last_move_period[i] = REBALANCE_NEVER;
  vm->mech[REF_MECH_REBALANCE] = rv;
  return 0;
}

static void reb_vm_off(ref_host_t *h, ref_vm_t *vm) {
  reb_vm_t *rv = reb_vm(vm);
  if (!rv)
    return;
  free(rv->cpu_ns);
  free(rv->cpu_tid);
  free(rv);
  vm->mech[REF_MECH_REBALANCE] = NULL;
}

const ref_mech_t ref_mech_rebalance = {
    .name = "rebalance",
    .caps = REF_CAPS_REBALANCE,
    .attach = reb_attach,
    .detach = reb_detach,
    .vm_on = reb_vm_on,
    .vm_off = reb_vm_off,
};
