/*
 * mmcert/impl.h — the contract between the mmcert suite and a memory-manager
 * implementation under test.
 *
 * An implementation is a shared object that exports one symbol,
 * MMCERT_IMPL_SYMBOL ("mmcert_impl"), of type `const mmc_impl_t`. The suite
 * dlopen()s the object, reads the table, and refuses it unless
 * `abi_version == MMCERT_ABI_VERSION` and `struct_size >= sizeof(mmc_impl_t)`.
 * Nothing here assumes how the implementation works inside: the reference
 * implementation (libmmref.so, a software MMU over per-node frame pools) and a
 * kernel-backed one (move_pages, KSM, madvise, swap) must both fit.
 *
 * Rules stated once for every function below
 * -------------------------------------------
 * Errors.  Functions returning `int` return 0 on success or a negative
 *   `mmc_status_t` (MMC_E*) on failure. When `err` is not NULL it is filled
 *   on failure with the same code and a one-line message that names what was
 *   wrong and, for a value, what is allowed ("Numa.RebalancePeriod: 50 is out
 *   of range 100..60000 ms"). On failure nothing changed: a rejected setting
 *   keeps its old value, a refused power-on leaves no VM behind.
 * Ownership.  Pointers passed in (configs, topology, strings, arrays) are
 *   borrowed for the duration of the call only; the implementation copies what
 *   it keeps. Objects it returns (mmc_host_t, mmc_vcpu_t) are owned by it and
 *   released by the matching destroy/exit call.
 * Threading.  Control calls (settings, advance, VM lifecycle, balloon, stats,
 *   events, move_range) may be made from any thread, concurrently; the
 *   implementation serialises them as it needs. A vCPU handle is used by one
 *   thread at a time (live mode: its own thread; stepped mode: the suite's
 *   single thread drives every vCPU in turn, quiescing each before the next
 *   runs and all of them before advance()). page() and quiesce() may run
 *   concurrently with control calls and with other vCPUs. host_destroy() is
 *   called once, after every vCPU has exited.
 * Guest pointers.  Like a TLB entry: a pointer from page() is valid until the
 *   vCPU's next quiesce(). Asking again for the same page with write=true may
 *   move it (copy-on-write): earlier read-only pointers of this vCPU to that
 *   page are then stale, so ask for write access before reading a page you
 *   are about to write. No write through a valid pointer is ever lost, and
 *   once a vCPU holds a writable pointer to a page no other vCPU of the VM can
 *   obtain or keep a pointer to a different frame for that page.
 * Units.  Memory in bytes unless a name says pages (4096-byte guest pages,
 *   MMC_PAGE_SIZE); time in nanoseconds of the host clock; nodes by index
 *   0..nnodes-1 into the topology given at host creation (the OS node number
 *   is in mmc_node_t.os_index).
 * Clocks.  Stepped: time moves only when the suite calls advance(now); the
 *   implementation does then, deterministically (given the host seed), all
 *   periodic work due up to `now`, and never runs threads of its own. Live:
 *   the implementation runs its own threads on CLOCK_MONOTONIC; advance()
 *   fails with MMC_ENOTSUP. An implementation advertises the modes it has in
 *   its capabilities.
 * What may be missing, and how to say so (ABI 2).  Every mechanism with a
 *   capability flag may be absent: its flag is clear, its calls return
 *   MMC_ENOTSUP, and the suite reports the SPEC ids that need it as "not
 *   shown", naming the flag (and why_not()'s sentence when given). Nothing
 *   else may be absent: host creation, settings lookup, power-on/off, the
 *   vCPU side (vcpu_enter, page, quiesce, vcpu_exit) and the statistics and
 *   event calls must work in every implementation; MMC_ENOTSUP from them, or
 *   from a call whose capability flag is set, is a defect the suite reports
 *   as broken. The one exception: power-on/reconfigure of a config that asks
 *   for a mechanism whose flag is clear (a salt without MMC_CAP_SALTING, a
 *   node affinity without MMC_CAP_NODE_AFFINITY) answers MMC_ENOTSUP, and
 *   vcpu_info may answer MMC_ENOTSUP when both MMC_CAP_PLACEMENT and
 *   MMC_CAP_NODE_AFFINITY are clear (a vCPU then has no node to report).
 *   Individually:
 *   - a documented setting the implementation cannot honour answers
 *     setting_set/setting_get with MMC_ENOTSUP and a message saying why
 *     ("Mem.IdleTax: Linux has no idle memory tax"); setting_info still lists
 *     it with the documented default, min and max, and host_create refuses
 *     it in cfg->settings with MMC_ENOTSUP;
 *   - a statistic the implementation cannot observe has its MMC_VMSTAT_* or
 *     MMC_HOSTSTAT_* bit set in `unobserved`, and an event type it never
 *     reports has its bit (1 << type) set in mmc_host_stats_t.unobserved_events;
 *     checks that need them are "not shown", never judged on a zero;
 *   - an implementation that runs only on the machine's own kernel NUMA nodes
 *     (MMC_CAP_REAL_NODES_ONLY) refuses a topology with an emulated node in
 *     host_create with MMC_ENOTSUP; the suite then calls every case "not
 *     applicable" on that topology instead of running it.
 * Hardware translation.  An implementation may hand out pointers into memory
 *   the hardware translates (one mapping per VM, page() = base + offset). The
 *   suite identifies frames by the kernel's view of a pointer (move_pages(2)
 *   node, /proc/self/pagemap frame number, /proc/kpageflags), never by the
 *   implementation's internals, so such pointers are judged like any other.
 */
#ifndef MMCERT_IMPL_H
#define MMCERT_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change of the types or the table below.
 * 2: capabilities SALTING, REAL_NODES_ONLY, FAULT_INJECTION, NODE_AFFINITY;
 *    `unobserved` statistics and event masks; inject_fault(), why_not(). */
#define MMCERT_ABI_VERSION 2u
/* Name of the exported `const mmc_impl_t` object. */
#define MMCERT_IMPL_SYMBOL "mmcert_impl"

#define MMC_PAGE_SIZE 4096u
#define MMC_MAX_NODES 64u  /* node sets are 64-bit masks */
#define MMC_MAX_VCPUS 256u /* per VM */
#define MMC_ERRMSG_MAX 256u
#define MMC_NAME_MAX 64u

typedef enum mmc_status {
  MMC_OK = 0,
  MMC_EINVAL = -1,     /* malformed argument (zero vCPUs, reservation > size, ...) */
  MMC_ENOENT = -2,     /* unknown setting, VM id, node */
  MMC_ERANGE = -3,     /* value outside its documented range */
  MMC_ENOMEM = -4,     /* the implementation itself ran out of memory */
  MMC_EADMISSION = -5, /* admission control: a reservation cannot be guaranteed */
  MMC_ENOTSUP = -6,    /* not implemented: the capability flag is clear */
  MMC_ESTATE = -7,     /* call not valid in this state (VM off, wrong clock mode, time going back) */
  MMC_EIO = -8,        /* I/O error (swap file, ...); the message has errno text */
  MMC_EBUSY = -9,      /* resource in use (power-off with vCPUs entered, ...) */
  MMC_ERETRY = -10,    /* page() only: the access needs other vCPUs of the VM to
                          pass a quiescent point while this vCPU holds pointers
                          too (two vCPUs waiting on each other). Quiesce, then
                          redo the access from scratch, like a restarted fault. */
} mmc_status_t;

typedef struct mmc_error {
  int code;                 /* an mmc_status_t */
  char msg[MMC_ERRMSG_MAX]; /* NUL-terminated, no trailing newline */
} mmc_error_t;

/* ---------------------------------------------------------------- capabilities */

/* One flag per mechanism; a clear flag means the matching calls return
 * MMC_ENOTSUP and the suite SKIPs the checks that need it, naming the flag. */
enum mmc_capability {
  MMC_CAP_CLOCK_STEPPED = 1ull << 0,  /* advance() works */
  MMC_CAP_CLOCK_LIVE = 1ull << 1,     /* own threads on real time */
  MMC_CAP_PLACEMENT = 1ull << 2,      /* NUMA home nodes at power-on (NUMA-1/2/3) */
  MMC_CAP_REBALANCE = 1ull << 3,      /* periodic rebalancer (NUMA-4..6, 10, 12) */
  MMC_CAP_MIGRATION = 1ull << 4,      /* page migration toward the home (MIG-*) */
  MMC_CAP_MOVE_RANGE = 1ull << 5,     /* move_range(): the suite's remapping stress tool */
  MMC_CAP_SHARING = 1ull << 6,        /* transparent page sharing (TPS-*; SALT-* need
                                         MMC_CAP_SALTING too) */
  MMC_CAP_WSS = 1ull << 7,            /* working-set sampling (WSS-*) */
  MMC_CAP_ALLOC_TARGETS = 1ull << 8,  /* shares + idle tax targets (ALLOC-2..6) */
  MMC_CAP_BALLOON = 1ull << 9,        /* balloon channel (BAL-*) */
  MMC_CAP_COMPRESSION = 1ull << 10,   /* compression cache (ZIP-1) */
  MMC_CAP_SWAP = 1ull << 11,          /* host swapping (SWAP-*) */
  MMC_CAP_MEMSTATE = 1ull << 12,      /* free-memory states (STATE-1) */
  MMC_CAP_VNUMA = 1ull << 13,         /* virtual NUMA topology (NUMA-11) */
  MMC_CAP_NODE_MAPPINGS = 1ull << 14, /* guest frames live in mappings named
                                         "mmcert-node<OSINDEX>" in /proc/self/maps,
                                         so the suite can attribute any page()
                                         pointer to a node without asking */
  MMC_CAP_SALTING = 1ull << 15,       /* sched.mem.pshare.salt and Mem.ShareForceSalting
                                         decide who shares with whom (SALT-*); without it
                                         any two identical pages may be shared, and a
                                         VM config with a salt is refused (MMC_ENOTSUP) */
  MMC_CAP_REAL_NODES_ONLY = 1ull << 16, /* runs only on this machine's kernel NUMA
                                           nodes: emulated topologies are refused */
  MMC_CAP_FAULT_INJECTION = 1ull << 17, /* inject_fault() works (kinds it lacks answer
                                           MMC_ENOTSUP) */
  MMC_CAP_NODE_AFFINITY = 1ull << 18,   /* numa.nodeAffinity confines vCPUs and memory
                                           (NUMA-9), with or without home nodes; without
                                           it a config with an affinity is refused
                                           (MMC_ENOTSUP) */
};

/* ---------------------------------------------------------------- topology */

typedef struct mmc_node {
  uint32_t os_index;     /* the node's number for the OS/firmware (may have gaps) */
  uint64_t memory_bytes; /* memory the implementation may use on this node */
  uint32_t ncpus;        /* CPUs (PUs) of the node; 0 for a memory-only node */
  const uint32_t *cpus;  /* ncpus OS CPU numbers */
  uint32_t ncores;       /* physical cores of the node */
  bool real;             /* a kernel NUMA node of this machine: mbind/move_pages/
                            sched_setaffinity apply; false = emulated */
} mmc_node_t;

typedef struct mmc_topology {
  uint32_t nnodes;          /* 1..MMC_MAX_NODES */
  const mmc_node_t *nodes;  /* nnodes entries, by index */
  const uint32_t *distance; /* nnodes*nnodes relative distances (10 = local),
                               row-major [from*nnodes+to]; NULL = unknown */
  uint32_t ncores;          /* cores of the whole host */
  uint32_t cpu_mhz;         /* nominal CPU frequency, for Mem.ShareScanGHz; 0 = unknown */
  const char *name;         /* e.g. "this machine", "synthetic:...", a file name */
} mmc_topology_t;

/* ---------------------------------------------------------------- host */

typedef struct mmc_host mmc_host_t; /* opaque, owned by the implementation */

typedef enum mmc_clock_mode { MMC_CLOCK_STEPPED = 0, MMC_CLOCK_LIVE = 1 } mmc_clock_mode_t;

typedef struct mmc_setting_value {
  const char *name; /* documented name, e.g. "Numa.RebalancePeriod" */
  int64_t value;    /* in the setting's unit (see mmc_setting_info_t) */
} mmc_setting_value_t;

typedef struct mmc_host_config {
  const mmc_topology_t *topology;
  mmc_clock_mode_t clock;
  uint64_t seed;                      /* every random choice derives from it */
  const char *profile;                /* "esxi-6.7" (default when NULL) or "osdi02" */
  const mmc_setting_value_t *settings; /* applied in order after the profile */
  size_t nsettings;
  const char *swap_dir;               /* where per-VM swap files go; NULL = a private
                                         temporary directory */
} mmc_host_config_t;

typedef struct mmc_setting_info {
  const char *name;
  int64_t default_value; /* under the host's profile */
  int64_t min;
  int64_t max;
  const char *unit;    /* "ms", "%", "pages/s", "min", "s", "MB/s/GHz", "" */
  const char *meaning; /* one line */
} mmc_setting_info_t;

/* ---------------------------------------------------------------- VMs */

typedef uint32_t mmc_vm_id_t; /* > 0; ids are not reused within one host */

#define MMC_SHARES_LOW (-1)    /* 5 per MB of configured memory */
#define MMC_SHARES_NORMAL (-2) /* 10 per MB */
#define MMC_SHARES_HIGH (-3)   /* 20 per MB */

typedef struct mmc_vm_config {
  const char *name;           /* for events and messages; may be NULL */
  uint32_t vcpus;             /* 1..MMC_MAX_VCPUS */
  uint64_t memory_bytes;      /* configured size, a multiple of MMC_PAGE_SIZE, > 0 */
  int64_t shares;             /* sched.mem.shares: MMC_SHARES_* or a positive number */
  uint64_t reservation_bytes; /* sched.mem.min; <= memory_bytes */
  uint64_t limit_bytes;       /* sched.mem.max; 0 = unlimited */
  uint64_t node_affinity;     /* numa.nodeAffinity as a mask of node indices; 0 = any */
  bool pshare_enable;         /* sched.mem.pshare.enable */
  const char *salt;           /* sched.mem.pshare.salt; NULL = unset, "" = empty */
  int64_t maxmemctl_bytes;    /* sched.mem.maxmemctl; -1 = unset */
  bool balloon_driver;        /* the guest runs a balloon driver */
  uint32_t vcpu_min;          /* numa.vcpu.min; 0 = default (9) */
  uint32_t max_per_vnode;     /* numa.vcpu.maxPerVirtualNode; 0 = default (8) */
} mmc_vm_config_t;

/* Fill a config with the documented per-VM defaults (normal shares, no
 * reservation or limit, sharing on, salt unset, driver present). */
static inline void mmc_vm_config_init(mmc_vm_config_t *c) {
  *c = (mmc_vm_config_t){.vcpus = 1,
                         .shares = MMC_SHARES_NORMAL,
                         .pshare_enable = true,
                         .maxmemctl_bytes = -1,
                         .balloon_driver = true};
}

typedef struct mmc_vcpu mmc_vcpu_t; /* opaque vCPU handle */

typedef struct mmc_vcpu_info {
  uint32_t node;       /* node index the vCPU is bound to (its NUMA client's home) */
  bool binding_applied; /* sched_setaffinity was applied (real node); false =
                           recorded only (emulated node, or not entered) */
  uint32_t vnode;      /* virtual NUMA node of the vCPU (0 without vNUMA) */
} mmc_vcpu_info_t;

/* ---------------------------------------------------------------- statistics */

typedef enum mmc_mem_state {
  MMC_STATE_HIGH = 0,
  MMC_STATE_CLEAR = 1,
  MMC_STATE_SOFT = 2,
  MMC_STATE_HARD = 3,
  MMC_STATE_LOW = 4,
} mmc_mem_state_t;

/* Bits of mmc_vm_stats_t.unobserved: a set bit means the implementation
 * cannot observe that field and its value means nothing. */
enum mmc_vm_stat {
  MMC_VMSTAT_HOME_NODE = 1ull << 0, /* home_node, nclients, client_home */
  MMC_VMSTAT_VNUMA_NODES = 1ull << 1,
  MMC_VMSTAT_PAGES_PER_NODE = 1ull << 2,
  MMC_VMSTAT_RESIDENT = 1ull << 3,
  MMC_VMSTAT_SHARED = 1ull << 4,
  MMC_VMSTAT_ZERO = 1ull << 5,
  MMC_VMSTAT_BALLOONED = 1ull << 6,
  MMC_VMSTAT_COMPRESSED = 1ull << 7,
  MMC_VMSTAT_SWAPPED = 1ull << 8,
  MMC_VMSTAT_WSS_ESTIMATE = 1ull << 9,
  MMC_VMSTAT_TARGET = 1ull << 10,
  MMC_VMSTAT_BALLOON_TARGET = 1ull << 11,
  MMC_VMSTAT_HOME_CHANGES = 1ull << 12,
  MMC_VMSTAT_PAGES_MIGRATED = 1ull << 13,
  MMC_VMSTAT_COW_BREAKS = 1ull << 14,
  MMC_VMSTAT_PAGES_SCANNED = 1ull << 15,
  MMC_VMSTAT_PAGES_SAMPLED = 1ull << 16,
  MMC_VMSTAT_EXEC_NS = 1ull << 17,
  MMC_VMSTAT_REMOTE_FALLBACK = 1ull << 18,
};

/* Bits of mmc_host_stats_t.unobserved. */
enum mmc_host_stat {
  MMC_HOSTSTAT_NODE_CAPACITY = 1ull << 0,
  MMC_HOSTSTAT_NODE_FREE = 1ull << 1,
  MMC_HOSTSTAT_SHARED_FRAMES = 1ull << 2,
  MMC_HOSTSTAT_SAVED_PAGES = 1ull << 3,
  MMC_HOSTSTAT_MEM_STATE = 1ull << 4,
  MMC_HOSTSTAT_MIN_FREE = 1ull << 5,
  MMC_HOSTSTAT_REBALANCE_PERIODS = 1ull << 6,
};

typedef struct mmc_vm_stats {
  uint64_t configured_pages;
  uint32_t home_node;             /* home of client 0 */
  uint32_t nclients;              /* NUMA clients the VM was split into */
  uint32_t client_home[MMC_MAX_NODES]; /* home node of each client */
  uint32_t vnuma_nodes;           /* virtual NUMA nodes exposed; 1 = none */
  uint64_t pages_per_node[MMC_MAX_NODES]; /* resident guest pages by node of frame */
  uint64_t resident_pages;        /* guest pages backed by a frame (private or shared) */
  uint64_t shared_pages;          /* guest pages backed by a shared frame */
  uint64_t zero_pages;            /* guest pages backed by a shared zero frame */
  uint64_t ballooned_pages;
  uint64_t compressed_pages;
  uint64_t swapped_pages;
  uint64_t wss_estimate_pages;    /* working-set estimate */
  uint64_t target_pages;          /* allocation target (entitlement) */
  uint64_t balloon_target_pages;
  uint64_t home_changes;
  uint64_t pages_migrated;
  uint64_t cow_breaks;
  uint64_t pages_scanned;         /* by the share scanner */
  uint64_t pages_sampled;         /* by working-set sampling */
  uint64_t exec_ns;               /* VM execution time as the implementation counts it */
  uint64_t remote_fallback_pages; /* pages allocated off-home because home was full */
  uint64_t unobserved;            /* MMC_VMSTAT_* bits of fields not observable */
} mmc_vm_stats_t;

typedef struct mmc_host_stats {
  uint32_t nnodes;
  uint64_t node_capacity_pages[MMC_MAX_NODES];
  uint64_t node_free_pages[MMC_MAX_NODES];
  uint64_t shared_frames;      /* frames holding shared content */
  uint64_t saved_pages;        /* guest pages backed minus frames used for them */
  uint32_t mem_state;          /* mmc_mem_state_t */
  uint64_t min_free_pages;
  uint32_t nvms;
  uint64_t rebalance_periods;  /* rebalancer runs so far */
  uint64_t now_ns;
  uint64_t unobserved;         /* MMC_HOSTSTAT_* bits of fields not observable */
  uint64_t unobserved_events;  /* bit (1 << mmc_event_type_t) for each event type
                                  this implementation never reports */
} mmc_host_stats_t;

/* ---------------------------------------------------------------- events */

typedef enum mmc_event_type {
  MMC_EV_LOST = 0,        /* the reader fell behind: `count` events were dropped */
  MMC_EV_POWER_ON,
  MMC_EV_POWER_OFF,
  MMC_EV_PLACEMENT,       /* client `client` placed on node_to */
  MMC_EV_HOME_CHANGE,     /* node_from -> node_to; `reason` says balance/locality/swap/affinity */
  MMC_EV_MIGRATION_BATCH, /* `count` pages moved node_from -> node_to */
  MMC_EV_SHARE,           /* `count` pages merged */
  MMC_EV_COW_BREAK,
  MMC_EV_BALLOON,         /* `count` pages given (+) or taken back, see reason */
  MMC_EV_SWAP_OUT,
  MMC_EV_SWAP_IN,
  MMC_EV_COMPRESS,
  MMC_EV_STATE_CHANGE,    /* node_from/node_to carry old/new mmc_mem_state_t */
  MMC_EV_REBALANCE,       /* one rebalancer period ran */
  MMC_EV_RECONFIGURE,
  MMC_EV_FALLBACK,        /* new memory came from a non-home node: home full */
  MMC_EV_ERROR,           /* a mechanism failed (I/O error, ...); reason has text */
} mmc_event_type_t;

typedef struct mmc_event {
  uint64_t seq;     /* 0,1,2,... per host, no gaps except reported by MMC_EV_LOST */
  uint64_t time_ns; /* host clock */
  uint32_t type;    /* mmc_event_type_t */
  mmc_vm_id_t vm;   /* 0 = host-wide */
  int32_t node_from;
  int32_t node_to;
  uint32_t client;
  uint64_t count;
  char reason[32];
} mmc_event_t;

/* ---------------------------------------------------------------- faults */

/* Faults the suite injects to see them survived (MMC_CAP_FAULT_INJECTION).
 * An injected fault stays until cleared: the same kind and node with
 * count MMC_FAULT_CLEAR. */
#define MMC_FAULT_CLEAR UINT64_MAX
typedef enum mmc_fault_kind {
  MMC_FAULT_SWAP_WRITE = 1,       /* the next `count` writes of guest pages to swap fail
                                     with errno `error` (ENOSPC or EIO): the pages must
                                     stay resident and intact, the error be reported
                                     (MMC_EV_ERROR) */
  MMC_FAULT_FRAME_EXHAUSTION = 2, /* node `node` (-1: every node) has at most `count`
                                     free pages from now on, as if the rest were in use:
                                     new memory there is refused or comes from elsewhere */
} mmc_fault_kind_t;

typedef struct mmc_fault {
  uint32_t kind;  /* mmc_fault_kind_t */
  int32_t node;   /* node index, or -1 (FRAME_EXHAUSTION) */
  uint64_t count; /* writes to fail / pages left free; MMC_FAULT_CLEAR clears */
  int error;      /* errno for SWAP_WRITE */
} mmc_fault_t;

/* ---------------------------------------------------------------- the table */

typedef struct mmc_impl {
  uint32_t abi_version; /* MMCERT_ABI_VERSION */
  uint32_t struct_size; /* sizeof(mmc_impl_t) as compiled by the implementation */
  const char *name;     /* short, e.g. "reference" */
  const char *version;  /* e.g. "0.1.0" */
  uint64_t capabilities; /* mmc_capability flags */

  /* Host. Creates a host on the topology with the profile's defaults, then
   * applies cfg->settings in order; any rejected setting fails the call.
   * Live clock: threads start here. */
  int (*host_create)(const mmc_host_config_t *cfg, mmc_host_t **out, mmc_error_t *err);
  /* Stops threads, powers off remaining VMs, releases every frame and file. */
  void (*host_destroy)(mmc_host_t *h);

  /* Settings by documented name. set: MMC_ENOENT unknown name, MMC_ERANGE out
   * of range (value unchanged). Takes effect from the next period of the
   * policy that reads it (SET-2). setting_info enumerates index 0.. until it
   * returns MMC_ENOENT. */
  int (*setting_set)(mmc_host_t *h, const char *name, int64_t value, mmc_error_t *err);
  int (*setting_get)(mmc_host_t *h, const char *name, int64_t *value, mmc_error_t *err);
  int (*setting_info)(mmc_host_t *h, size_t index, mmc_setting_info_t *out);

  /* Clock. advance: stepped mode only; now_ns must not go back (MMC_ESTATE).
   * now: the host clock in either mode. */
  int (*advance)(mmc_host_t *h, uint64_t now_ns, mmc_error_t *err);
  uint64_t (*now)(mmc_host_t *h);

  /* VMs. power_on: MMC_EINVAL bad config, MMC_EADMISSION reservation not
   * guaranteed (or swap file cannot be made), MMC_ENOENT affinity to a node
   * that does not exist. reconfigure: same checks; name, vcpus and
   * memory_bytes must stay as they were (MMC_EINVAL). power_off: frees every
   * frame and file of the VM; MMC_EBUSY while vCPUs are entered. */
  int (*vm_power_on)(mmc_host_t *h, const mmc_vm_config_t *cfg, mmc_vm_id_t *out,
                     mmc_error_t *err);
  int (*vm_reconfigure)(mmc_host_t *h, mmc_vm_id_t vm, const mmc_vm_config_t *cfg,
                        mmc_error_t *err);
  int (*vm_power_off)(mmc_host_t *h, mmc_vm_id_t vm, mmc_error_t *err);

  /* vCPU side. vcpu_enter makes the calling thread vCPU `index` of `vm` (binds
   * it to its node's CPUs on a real node) and returns its handle; one thread
   * per vCPU at a time (MMC_EBUSY otherwise). page() returns a host pointer to
   * MMC_PAGE_SIZE bytes holding guest page `gpfn`, writable when `write`; it
   * stays valid and backed by the frame holding that page's data until this
   * vCPU's next quiesce() or vcpu_exit(). NULL on error (gpfn out of range:
   * MMC_ERANGE; VM powered off: MMC_ESTATE) with err filled. It may block
   * (swap-in, a remap being published, low memory state) but never
   * indefinitely. quiesce() declares that the vCPU holds no pointer from
   * page() any more. vcpu_set_demand declares the vCPU's CPU demand in
   * permille of one core for the stepped clock (live mode measures it).
   * vcpu_exit implies quiesce and releases the handle. */
  int (*vcpu_enter)(mmc_host_t *h, mmc_vm_id_t vm, uint32_t index, mmc_vcpu_t **out,
                    mmc_error_t *err);
  void *(*page)(mmc_vcpu_t *v, uint64_t gpfn, bool write, mmc_error_t *err);
  void (*quiesce)(mmc_vcpu_t *v);
  void (*vcpu_set_demand)(mmc_vcpu_t *v, uint32_t permille);
  void (*vcpu_exit)(mmc_vcpu_t *v);
  int (*vcpu_info)(mmc_host_t *h, mmc_vm_id_t vm, uint32_t index, mmc_vcpu_info_t *out,
                   mmc_error_t *err);

  /* Balloon channel (the guest driver's side). target: pages the host wants
   * the balloon to hold now. give: the guest hands these pages over (it will
   * not touch them); take: the guest takes them back (they read as zero).
   * MMC_EINVAL for a page given twice or taken that was not given. */
  int (*balloon_target)(mmc_host_t *h, mmc_vm_id_t vm, uint64_t *pages, mmc_error_t *err);
  int (*balloon_give)(mmc_host_t *h, mmc_vm_id_t vm, const uint64_t *gpfns, size_t n,
                      mmc_error_t *err);
  int (*balloon_take)(mmc_host_t *h, mmc_vm_id_t vm, const uint64_t *gpfns, size_t n,
                      mmc_error_t *err);

  /* Observation. events_read copies up to `max` events with seq >= *cursor,
   * advances *cursor past them and returns how many; a gap is reported as
   * one MMC_EV_LOST event first. */
  int (*vm_stats)(mmc_host_t *h, mmc_vm_id_t vm, mmc_vm_stats_t *out, mmc_error_t *err);
  int (*host_stats)(mmc_host_t *h, mmc_host_stats_t *out, mmc_error_t *err);
  size_t (*events_read)(mmc_host_t *h, uint64_t *cursor, mmc_event_t *buf, size_t max);

  /* Optional (MMC_CAP_MOVE_RANGE): move guest pages [gpfn, gpfn+count) of a
   * running VM to `node` now, under the same rules as migration. The suite's
   * remapping stress tool. Returns pages moved in *moved. */
  int (*move_range)(mmc_host_t *h, mmc_vm_id_t vm, uint64_t gpfn, uint64_t count,
                    uint32_t node, uint64_t *moved, mmc_error_t *err);

  /* Optional (MMC_CAP_FAULT_INJECTION; NULL otherwise): inject or clear a
   * fault (see mmc_fault_t). MMC_ENOTSUP for a kind this implementation
   * cannot inject, MMC_EINVAL for a bad kind, node or error. */
  int (*inject_fault)(mmc_host_t *h, const mmc_fault_t *fault, mmc_error_t *err);

  /* Optional (may be NULL): one sentence saying why a capability flag is
   * clear, for certificates ("Linux has no per-VM salt: KSM merges identical
   * pages of any two mergeable areas"); NULL for a flag that is set or
   * unexplained. Called with one MMC_CAP_* bit at a time; needs no host. */
  const char *(*why_not)(uint64_t capability);
} mmc_impl_t;

#ifdef __cplusplus
}
#endif
#endif /* MMCERT_IMPL_H */
