/*
 * ref.h — internal header of the reference implementation's host: the host
 * object, its clock with the periodic-hook list, the event ring, and the
 * split between host.c (host, settings, clock, events, the contract table)
 * and vm.c (VM lifecycle, vCPUs, memory). Never installed. Prefix ref_.
 *
 * Locking: `lock` serialises every control call (settings writes, advance,
 * VM lifecycle, stats, move_range) and every periodic hook run (stepped:
 * inside advance; live: on the clock thread). The vCPU fast path never takes
 * it. `ev_lock` protects the event ring only and is taken inside `lock` or
 * alone (vCPU fault paths emit events without `lock`). vCPU-side calls
 * (page, quiesce, set_demand, exit) never take `lock`: a remap holds it while
 * it waits for the VM's vCPUs to pass a quiescent point.
 *
 * Periodic work (SET-2): a policy registers a hook with the id of its period
 * setting (unit ms, s or min). The next run of a hook is due at its last run
 * plus the period read now, so a changed period takes effect from the next
 * period. Stepped clock: advance(t) runs every hook due up to t, in due-time
 * order (ties by registration order), with the host clock set to the due time
 * while it runs. Live clock: a host thread sleeps on CLOCK_MONOTONIC until the
 * earliest due time and runs the hook then.
 */
#ifndef REF_REF_H
#define REF_REF_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "mmc_error.h"
#include "mmcert/impl.h"
#include "settings.h"

#define REF_MAX_HOOKS 16u
#define REF_NO_NODE UINT32_MAX /* "no home": placement disabled (Numa.RebalanceEnable=0) */

typedef struct mmc_host ref_host_t;
typedef struct ref_vm ref_vm_t;
typedef struct ref_pool ref_pool_t;

typedef void (*ref_hook_fn)(ref_host_t *h, uint64_t now_ns, void *ctx);

typedef struct ref_hook {
  const char *name;        /* for messages */
  ref_setting_id_t period; /* setting holding the period (ms, s or min) */
  ref_hook_fn run;         /* called with h->lock held */
  void *ctx;
  uint64_t last_ns; /* host time of the last run (0 = creation) */
} ref_hook_t;

struct mmc_host {
  pthread_mutex_t lock;
  mmc_clock_mode_t clock;
  uint64_t seed;
  ref_settings_t settings;

  /* Topology, copied at creation; nodes[i].cpus points into cpu_storage. */
  uint32_t nnodes;
  mmc_node_t nodes[MMC_MAX_NODES];
  uint32_t *cpu_storage;
  uint32_t *distance; /* nnodes*nnodes, filled with 10/20 when the topology had none */
  uint32_t ncores;
  uint32_t cpu_mhz;
  /* near[n] lists every node index by increasing distance from n (n first,
   * ties by index): the fallback order of first-touch allocation. */
  uint8_t near[MMC_MAX_NODES][MMC_MAX_NODES];

  /* Memory (vm.c): one frame pool per node with memory, NULL otherwise. */
  ref_pool_t *pools[MMC_MAX_NODES];
  uint8_t *pool_bases[MMC_MAX_NODES];
  void *mem; /* vm.c's private host state (VM table, placement aggregates) */

  /* Clock. Stepped: now_ns moves only in advance(). Live: now = monotonic - t0. */
  _Atomic uint64_t now_ns;
  struct timespec t0;
  ref_hook_t hooks[REF_MAX_HOOKS];
  uint32_t nhooks;
  pthread_t live_thread;
  bool live_running;
  bool live_stop;      /* under lock */
  pthread_cond_t wake; /* CLOCK_MONOTONIC; signalled on stop and setting changes */
  uint64_t hook_runs;  /* total hook runs, for tests */

  /* Events: ring of ev_cap entries, seq = ev_next++ (ev_lock). */
  pthread_mutex_t ev_lock;
  mmc_event_t *ring;
  uint64_t ev_cap;
  uint64_t ev_next;

  uint64_t rebalance_periods; /* bumped by the rebalancer hook */
};

/* A policy with periodic work (rebalancer, share scanner, sampler, ...)
 * provides one of these; host.c calls each listed in its `policies` table at
 * host creation, after memory exists and before the live clock starts, and
 * the function registers its hooks with ref_host_add_hook. */
typedef int (*ref_attach_fn)(ref_host_t *h, mmc_error_t *err);

/* host.c */
uint64_t ref_host_now(ref_host_t *h);
/* Register a periodic hook; its first run is one period from now. */
int ref_host_add_hook(ref_host_t *h, const ref_hook_t *hook, mmc_error_t *err);
/* Append an event: seq and time are filled here. Thread-safe. */
void ref_event_emit(ref_host_t *h, mmc_event_t ev);
static inline int64_t ref_set(const ref_host_t *h, ref_setting_id_t id) {
  return ref_settings_get(&h->settings, id);
}
static inline uint32_t ref_distance(const ref_host_t *h, uint32_t a, uint32_t b) {
  return h->distance[a * h->nnodes + b];
}

/* vm.c: memory and VMs. ref_mem_init runs at the end of host creation (pools,
 * VM table); ref_mem_fini powers every VM off and frees the pools. */
/* Capabilities of the memory side (vm.c). */
#define REF_MEM_CAPS                                                                               \
  (MMC_CAP_PLACEMENT | MMC_CAP_VNUMA | MMC_CAP_MOVE_RANGE | MMC_CAP_NODE_MAPPINGS)
int ref_mem_init(ref_host_t *h, mmc_error_t *err);
void ref_mem_fini(ref_host_t *h);
void ref_mem_host_stats(ref_host_t *h, mmc_host_stats_t *out); /* with h->lock held */

int ref_vm_power_on(mmc_host_t *h, const mmc_vm_config_t *cfg, mmc_vm_id_t *out, mmc_error_t *err);
int ref_vm_reconfigure(mmc_host_t *h, mmc_vm_id_t vm, const mmc_vm_config_t *cfg, mmc_error_t *err);
int ref_vm_power_off(mmc_host_t *h, mmc_vm_id_t vm, mmc_error_t *err);
int ref_vcpu_enter(mmc_host_t *h, mmc_vm_id_t vm, uint32_t index, mmc_vcpu_t **out,
                   mmc_error_t *err);
void *ref_vcpu_page(mmc_vcpu_t *v, uint64_t gpfn, bool write, mmc_error_t *err);
void ref_vcpu_quiesce(mmc_vcpu_t *v);
void ref_vcpu_set_demand(mmc_vcpu_t *v, uint32_t permille);
void ref_vcpu_exit(mmc_vcpu_t *v);
int ref_vcpu_info(mmc_host_t *h, mmc_vm_id_t vm, uint32_t index, mmc_vcpu_info_t *out,
                  mmc_error_t *err);
int ref_vm_stats(mmc_host_t *h, mmc_vm_id_t vm, mmc_vm_stats_t *out, mmc_error_t *err);
int ref_move_range(mmc_host_t *h, mmc_vm_id_t vm, uint64_t gpfn, uint64_t count, uint32_t node,
                   uint64_t *moved, mmc_error_t *err);

#endif
