/*
 * ref.h — internal header of the reference implementation's host: the host
 * object, its clock with the periodic-hook list, the event ring, and the
 * split between host.c (host, settings, clock, events, the contract table)
 * and vm.c (VM lifecycle, vCPUs, memory). Never installed. Prefix ref_.
 *
 * Lock ordering. The reference's one statement of its locks, in the way of
 * Linux's mm/rmap.c: every file's "Locking" note refers here. Outer first:
 * a thread holding a lock takes only locks listed below it and to the
 * right, never one above; a wait (a condition variable, a remap's wait for
 * vCPUs to quiesce, a wait for a BUSY entry) counts as taking what it
 * waits for. Debug builds check it (debug.h: MMREF_DEBUG >= 1 tracks the
 * locks each thread holds and asserts the order at every acquisition).
 *
 *   h->lock                   host.c: control calls (settings writes,
 *                             advance, VM lifecycle, vcpu_enter, stats,
 *                             balloon, move_range, inject_fault) and every
 *                             periodic hook (stepped: inside advance; live:
 *                             the clock thread, which sleeps on h->wake)
 *     vCPU quiescence         pmap.c W1: a remap waits for the vCPUs
 *                             active at its snapshot
 *       entry BUSY            pmap.c: a vCPU's slow path, held across its
 *                             fault op (vCPU-to-vCPU waits inside one map,
 *                             BUSY and copy-on-write, are not ordered:
 *                             pmap.c R4 breaks their cycles)
 *         mstate->wait_lock   memstate.c: the low-memory gate's timed wait
 *                             on mstate->wake (one reclaim period at most)
 *         swap_vm->lock       swap.c: a VM's slots, compression cache
 *                             (zip.c), batch pages and swap file
 *         wss_vm->lock        wss.c: a VM's samples and estimator
 *           mem->place_lock   vm.c: placement aggregates, vCPU demand
 *         sh_table->lock      share.c: one node's shared frames and hints
 *     swap_pipe->mu           swap.c: one reclaim call's hand-off to its
 *                             writer thread (cv)
 *   leaves, taken under any of the above or alone (frames are allocated
 *   and events emitted anywhere):
 *     pool->lock              frames.c: one node's free stack and bitmap
 *                             (swap_vm->lock -> pool->lock when a failed
 *                             write gives a frame back)
 *     evring lock             common/evring.c: the event ring
 * place_lock is also taken alone, by vcpu_set_demand.
 *
 * Which paths may never take which:
 *  L1 The vCPU fast path (page() finding a usable entry, quiesce) takes no
 *     lock at all: one load, or two stores.
 *  L2 A vCPU thread holding page pointers or a BUSY entry never blocks on
 *     h->lock: a control call holding h->lock may be waiting for it (a
 *     remap's W1; swap.c's page_failed waiting for an entry a vCPU holds
 *     BUSY). So page, quiesce, vcpu_set_demand and vcpu_exit never take
 *     h->lock; vcpu_enter does, before the vCPU holds anything. The one
 *     exception is a trylock, which never waits and so closes no cycle:
 *     memstate.c's direct reclaim, on the stepped clock only, trylocks
 *     h->lock from the fault path and gives up when it is held. It stays
 *     (rather than the rule forbidding it) because on the stepped clock
 *     nothing else can free memory for a vCPU that finds every pool full:
 *     no hook runs between advance() calls, and the suite's one thread is
 *     the one in the fault.
 *  L3 No mutex but h->lock is held across a wait for another thread: not
 *     across a remap (W1) or a copy-on-write wait (W5), not across a wait
 *     for a BUSY entry (swap.c's page_failed drops swap_vm->lock between
 *     its tries), not across a condition wait but its own. Table, swap,
 *     wss, place and pool locks guard data for microseconds (swap_vm->lock
 *     also a slot's pread or LZ4 run).
 *  L4 A remap (ref_pmap_remap) is made only with h->lock held, which
 *     serialises the remaps of a map (pmap.c R2), and never by an active
 *     vCPU of that map.
 *  L5 The reference starts two kinds of threads: the live clock thread
 *     (host.c: h->lock, then the hooks' locks) and a reclaim call's swap
 *     writer (swap.c: only swap_pipe->mu; it writes from frames no vCPU
 *     can reach).
 *
 * Periodic work (SET-2): a policy registers a hook with the id of its period
 * setting (unit ms, s or min). The next run of a hook is due at its last run
 * plus the period read at that run (ref_hook_t.period_ns), so a changed
 * period takes effect from the next period and never moves the one under way. Stepped clock: advance(t) runs every hook due up to t, in due-time
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

#include "debug.h"
#include "mmc_error.h"
#include "mmc_evring.h"
#include "mmcert/impl.h"
#include "settings.h"

#define REF_MAX_HOOKS 16u
/* "No home" (placement disabled by Numa.RebalanceEnable=0 at power-on), as
 * reported in vm_stats.home_node/client_home[] and vcpu_info.node. */
#define REF_NO_NODE UINT32_MAX

typedef struct mmc_host ref_host_t;
typedef struct ref_vm ref_vm_t;
typedef struct ref_pool ref_pool_t;

/* The documented mechanisms, one file each (see "mechanisms" below). */
typedef enum ref_mech_id {
  REF_MECH_REBALANCE, /* rebalancer.c (policy rebalance.c): NUMA-4..6/8/10/12 */
  REF_MECH_MIGRATE,   /* migrate.c (policy migpace.c): MIG-*, NUMA-7 */
  REF_MECH_SHARE,     /* share.c: TPS-*, SALT-* */
  REF_MECH_WSS,       /* wss.c: WSS-* */
  REF_MECH_ALLOC,     /* idletax.c: ALLOC-2..6 targets */
  REF_MECH_MEMSTATE,  /* memstate.c: STATE-1 */
  REF_MECH_BALLOON,   /* balloon.c: BAL-* */
  REF_MECH_SWAP,      /* swap.c + zip.c (compression cache): SWAP-*, ZIP-1, TPS-7 */
  REF_MECH_COUNT
} ref_mech_id_t;

typedef void (*ref_hook_fn)(ref_host_t *h, uint64_t now_ns, void *ctx);

typedef struct ref_hook {
  const char *name;        /* for messages */
  ref_setting_id_t period; /* setting holding the period (ms, s or min) */
  ref_hook_fn run;         /* called with h->lock held */
  void *ctx;
  uint64_t last_ns; /* host time of the last run (0 = creation) */
  /* The period under way, read from `period` when it began (at the last
   * run, or at registration): SET-2, a changed setting takes effect from
   * the next period, so a change never moves the due time under way. */
  uint64_t period_ns;
#ifdef REF_TWINS
  uint64_t twin_period_ns; /* the period when registered (twin SET2_PERIOD_READ_ONCE) */
#endif
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
  void *mem;                  /* vm.c's private host state (VM table, placement aggregates) */
  void *mech[REF_MECH_COUNT]; /* per-mechanism host state (ref_host_mech) */

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

  mmc_evring_t events; /* Ref.EventRingSize entries (common/evring.c) */

  uint64_t rebalance_periods; /* bumped by the rebalancer hook */
  char *swap_dir;             /* mmc_host_config_t.swap_dir copied; NULL = private temp dir */

  /* Injected faults (inject_fault, MMC_FAULT_SWAP_WRITE): swap writes still
   * to fail, and the errno they fail with. */
  _Atomic int64_t fault_swap_writes;
  _Atomic int fault_swap_errno;
};

/* h->lock through the lock-order check of debug builds (debug.h). */
static inline void ref_host_lock(ref_host_t *h) {
  ref_lock(&h->lock, REF_LC_HOST);
}
static inline void ref_host_unlock(ref_host_t *h) {
  ref_unlock(&h->lock, REF_LC_HOST);
}
/* Never waits (ref.h L2): false when another thread holds h->lock. */
static inline bool ref_host_trylock(ref_host_t *h) {
  return ref_trylock(&h->lock, REF_LC_HOST);
}

/* ---------------------------------------------------------------- VMs
 * The VM and vCPU objects, shared by vm.c and the mechanism files (migrate.c,
 * share.c, wss.c, idletax.c, memstate.c, balloon.c, swap.c). vm.c owns their
 * lifecycle; a mechanism keeps its per-VM state in vm->mech[its id]. */
#include "mech.h"

typedef struct ref_client {
  _Atomic uint32_t home; /* node index; read by the fault path */
#ifdef REF_TWINS
  uint32_t twin_first_home; /* the home at power-on (twin NUMA7_NEW_MEMORY_FROM_OLD_HOME) */
  uint32_t twin_shown_home; /* reported, not real (twin NUMA12_MOVES_ONLY_REPORTED); REF_NO_NODE */
#endif
  uint32_t first_vcpu;
  uint32_t nvcpus;
  uint64_t first_gpfn;
  uint64_t npages;
} ref_client_t;

struct mmc_vcpu {
  ref_host_t *h;
  ref_vm_t *vm;
  uint32_t index;
  uint32_t client; /* NUMA client of this vCPU (0 when unplaced) */
  ref_vcpu_q_t *q; /* quiescence state in the VM's page map */
  _Atomic bool entered;
  pid_t tid; /* thread that entered (valid while entered) */
  /* The entering thread's CPU time at vcpu_enter (under h->lock, as the
   * accounting hooks read it), and at the last exit, by the exiting thread
   * before `entered` is cleared, its tid and CPU time: the execution time
   * before the first accounting and after the last is not lost (WSS-1). */
  uint64_t enter_cpu_ns;
  _Atomic pid_t exit_tid;
  _Atomic uint64_t exit_cpu_ns;
  bool binding_applied;
  /* permille, counted in the placement aggregates: written under
   * place_lock with them; atomic because the live rebalancer reads it under
   * h->lock while the vCPU's thread declares a new one */
  _Atomic uint32_t demand;
};

struct ref_vm {
  mmc_vm_id_t id;
  char name[MMC_NAME_MAX];
  mmc_vm_config_t cfg; /* current configuration; cfg.name and cfg.salt point below */
  char *salt;          /* owned copy, NULL = unset */
  uint64_t npages;
  uint64_t reserved_pages;
  ref_pmap_t *pmap;
  bool placed; /* false: Numa.RebalanceEnable was 0 at power-on */
  uint32_t nclients;
  ref_client_t client[MMC_MAX_NODES];
  uint32_t vnuma_nodes;
  mmc_vcpu_t *vcpus;
  _Atomic uint32_t nentered;
  _Atomic uint64_t pages_per_node[MMC_MAX_NODES];
  _Atomic uint64_t remote_fallback;
  _Atomic bool falling_back; /* last allocation was off-home */
  _Atomic uint64_t pages_migrated;
  _Atomic uint64_t home_changes;
  _Atomic uint32_t rr;        /* round-robin cursor when unplaced */
  _Atomic uint64_t affinity;  /* cfg.node_affinity for the fault path (no h->lock there) */
  void *mech[REF_MECH_COUNT]; /* per-mechanism state (vm_on/vm_off of its ref_mech_t) */
};

/* ---------------------------------------------------------------- mechanisms
 * Every documented mechanism is one file with one ref_mech_t row, listed in
 * mechs.c by id. The host and vm.c call the rows' hooks; a row leaves unused
 * hooks NULL. Order of calls: attach (host creation, after memory exists,
 * before the live clock starts: register periodic hooks here), vm_on (end of
 * power-on), fault (vCPU slow path), vm_off (start of power-off, before
 * frames are released), release (power-off, per page in one of its states),
 * detach (host destruction, after every VM is off).
 * Locking (see "Lock ordering" above): vm_on/vm_off/vm_stats/host_stats/
 * setting_changed/vm_reconfigured run with h->lock held; attach and detach
 * at host creation and destruction, when no other thread of the host runs;
 * fault on a vCPU thread with the entry BUSY and h->lock not held (L2,
 * pmap.c); release with h->lock held and no vCPU entered. */

#define REF_FAULT_SAMPLED (1u << 31) /* in fault_states: entries with REF_PTE_SAMPLED */
#define REF_STATE_BIT(s) (1u << (s))

typedef struct ref_mech {
  const char *name;
  uint64_t caps; /* mmc_capability flags this mechanism makes true */
  int (*attach)(ref_host_t *h, mmc_error_t *err);
  void (*detach)(ref_host_t *h);
  int (*vm_on)(ref_host_t *h, ref_vm_t *vm, mmc_error_t *err);
  void (*vm_off)(ref_host_t *h, ref_vm_t *vm);
  /* Slow path for entries whose state bit (REF_STATE_BIT) is in fault_states,
   * and for SAMPLED entries when REF_FAULT_SAMPLED is: *pte in/out as in
   * ref_fault_ops_t. A SAMPLED handler only counts the touch and leaves *pte
   * to the state's handler. */
  uint32_t fault_states;
  int (*fault)(ref_host_t *h, ref_vm_t *vm, uint32_t vcpu, uint64_t gpfn, bool write, uint64_t *pte,
               mmc_error_t *err);
  /* Power-off: free what a page in one of release_states holds. */
  uint32_t release_states;
  void (*release)(ref_host_t *h, ref_vm_t *vm, uint64_t gpfn, uint64_t pte);
  void (*vm_stats)(ref_host_t *h, ref_vm_t *vm, mmc_vm_stats_t *out);
  void (*host_stats)(ref_host_t *h, mmc_host_stats_t *out);
  /* A setting was changed through setting_set (after the new value is
   * stored; not at host creation), h->lock held. */
  void (*setting_changed)(ref_host_t *h, ref_setting_id_t id);
  /* A running VM's configuration changed (vm_reconfigure succeeded), h->lock held. */
  void (*vm_reconfigured)(ref_host_t *h, ref_vm_t *vm);
} ref_mech_t;

/* mechs.c: indexed by ref_mech_id_t; NULL where a mechanism is not built. */
extern const ref_mech_t *const ref_mechs[REF_MECH_COUNT];
/* The OR of every built mechanism's caps, as a constant for the contract
 * table: REF_CAPS_<NAME> below is 0 until that mechanism works, then its
 * flags (edit the one line); ref_mechs_check verifies at host creation that
 * the rows in mechs.c provide exactly these. */
#define REF_MECH_CAPS                                                                              \
  (REF_CAPS_REBALANCE | REF_CAPS_MIGRATE | REF_CAPS_SHARE | REF_CAPS_WSS | REF_CAPS_ALLOC |        \
   REF_CAPS_MEMSTATE | REF_CAPS_BALLOON | REF_CAPS_SWAP)

#define REF_CAPS_REBALANCE MMC_CAP_REBALANCE

#define REF_CAPS_MIGRATE MMC_CAP_MIGRATION

#define REF_CAPS_SHARE ((uint64_t)MMC_CAP_SHARING | MMC_CAP_SALTING)

#define REF_CAPS_WSS MMC_CAP_WSS

#define REF_CAPS_ALLOC MMC_CAP_ALLOC_TARGETS

#define REF_CAPS_MEMSTATE MMC_CAP_MEMSTATE

#define REF_CAPS_BALLOON MMC_CAP_BALLOON

#define REF_CAPS_SWAP (MMC_CAP_SWAP | MMC_CAP_COMPRESSION)

int ref_mechs_check(mmc_error_t *err);
/* migrate.c: the test knob MMCERT_TEST_SLOW_COPY_PCT=P (0 or unset: off;
 * 1..REF_SLOW_COPY_PCT_MAX), so a deliberately slowed build shows as a
 * regression: every move_range batch (its frame allocations, copies and
 * remapping) and the page copies of every chunk the migration engine moves
 * are timed on the thread's CPU clock and followed by a busy wait on that
 * clock for P % of what they took. A share
 * of the measured cost, not a fixed delay: a loaded machine makes copies
 * dearer (caches and memory bandwidth shared), and a delay fixed beforehand
 * would then be a smaller share of them; the share keeps the slowed build
 * P % slower in CPU time whatever the load. */
#define REF_SLOW_COPY_PCT_MAX 1000
unsigned ref_slow_copy_pct(void);
/* CPU time of the calling thread, ns: a cost without the time the thread
 * waited for a core (the engine reports it beside the wall time). */
uint64_t ref_thread_cpu_ns(void);
void ref_slow_copy(unsigned pct, uint64_t spent_ns);
/* migrate.c: client `client` of vm has a new home since now_ns (the
 * rebalancer moved it): the engine's ramp restarts and it scans the
 * client's range from the start, at its next tick (MIG-2). h->lock held. */
void ref_migrate_home_changed(ref_vm_t *vm, uint32_t client, uint32_t home, uint64_t now_ns);
/* Host-wide per-mechanism state (attach/detach own it). */
void *ref_host_mech(ref_host_t *h, ref_mech_id_t id);
void ref_host_set_mech(ref_host_t *h, ref_mech_id_t id, void *state);

/* vm.c: VM lookup and iteration for mechanisms (h->lock held). */
ref_vm_t *ref_vm_get(ref_host_t *h, mmc_vm_id_t id); /* NULL when off or unknown */
typedef void (*ref_vm_fn)(ref_host_t *h, ref_vm_t *vm, void *ctx);
void ref_vm_for_each(ref_host_t *h, ref_vm_fn fn, void *ctx);
/* Allocate a zeroed frame for `vm` on `want`, else the nearest allowed node
 * with a free one (counts fallback); used by first touch, COW, swap-in. */
int ref_vm_alloc_frame(ref_host_t *h, ref_vm_t *vm, uint32_t want, uint32_t *node_out,
                       uint64_t *frame_out, mmc_error_t *err);
/* Home node of the NUMA client owning gpfn (REF_NO_NODE when unplaced). */
uint32_t ref_vm_home_of(const ref_vm_t *vm, uint64_t gpfn);
/* Sum of the CPU demand (permille) of the VM's entered vCPUs: what the
 * stepped clock counts as running (wss.c: VM execution time). */
uint64_t ref_vm_running_demand(ref_host_t *h, const ref_vm_t *vm);
/* Host memory VMs can hold in total: the frame pools' capacity (idletax.c
 * subtracts what the host keeps free). */
uint64_t ref_mem_capacity_pages(ref_host_t *h);
/* No vCPU of any VM holds pointers or waits (pmap.c R7; h->lock held). */
bool ref_mem_quiescent(ref_host_t *h);

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
  (MMC_CAP_PLACEMENT | MMC_CAP_VNUMA | MMC_CAP_MOVE_RANGE | MMC_CAP_NODE_MAPPINGS |                \
   MMC_CAP_NODE_AFFINITY)
int ref_mem_init(ref_host_t *h, mmc_error_t *err);
void ref_mem_fini(ref_host_t *h);
void ref_mem_host_stats(ref_host_t *h, mmc_host_stats_t *out); /* with h->lock held */

/* For policies (rebalancer, migration): called with h->lock held, e.g. from a
 * periodic hook. A view of one NUMA client of a running, placed VM. */
typedef struct ref_client_view {
  mmc_vm_id_t vm;
  uint32_t client;                           /* index within the VM */
  uint32_t home;                             /* node index */
  uint32_t vcpus;                            /* vCPUs of this client */
  uint64_t demand_permille;                  /* sum of its vCPUs' CPU demand */
  uint64_t npages;                           /* guest pages of its gpfn range */
  uint64_t affinity;                         /* numa.nodeAffinity of the VM; 0 = any */
  uint64_t reserved_pages;                   /* the VM's reservation */
  const _Atomic uint64_t *vm_pages_per_node; /* the whole VM's resident pages by node */
  uint64_t home_changes;                     /* the VM's so far */
} ref_client_view_t;
typedef void (*ref_client_fn)(void *ctx, const ref_client_view_t *c);
/* Every client of every running placed VM, by VM id then client index. */
void ref_vm_for_each_client(ref_host_t *h, ref_client_fn fn, void *ctx);
/* Make `node` the home of a client (NUMA-4/7): its load moves, its entered
 * vCPUs are rebound on real nodes, MMC_EV_HOME_CHANGE with `reason`
 * ("balance", "locality", "swap", ...), and its new memory comes from there.
 * No-op when it is already the home. ESTATE unplaced VM, ERANGE client,
 * EINVAL node without CPUs or outside the affinity. */
int ref_vm_set_home(ref_host_t *h, mmc_vm_id_t vm, uint32_t client, uint32_t node,
                    const char *reason, mmc_error_t *err);
#ifdef REF_TWINS
/* Twin NUMA12_MOVES_ONLY_REPORTED: the home change is counted, reported
 * (MMC_EV_HOME_CHANGE, vm_stats, vcpu_info, the rebalancer's own view) and
 * nothing else happens. */
void ref_vm_twin_report_home(ref_host_t *h, mmc_vm_id_t vm, uint32_t client, uint32_t node,
                             const char *reason);
#endif

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
