/*
 * lx.h — the Linux implementation's internal header (prefix lx_).
 *
 * libmmlinux.so maps the contract (suite/include/mmcert/impl.h) onto the
 * running kernel's own memory management, with the kernel's own policies:
 * guest memory is one anonymous private mapping per VM, translated by the
 * hardware (page() = base + offset, quiesce() waits for nothing); placement
 * is first touch, NUMA balancing and the scheduler; sharing is KSM; host
 * swapping is MADV_PAGEOUT into swap files, compression zswap; the working
 * set is what the kernel's referenced bits show. README.md says, mechanism
 * by mechanism, what the kernel does, what it does not, and how a case can
 * tell when the kernel's daemons are done.
 *
 * Files: host.c (host, daemon thread, events, host statistics, the exported
 * table), settings.c (the one settings table), detect.c (what this kernel
 * and this process may do: capabilities and why_not), vm.c (VMs and the vCPU
 * side), numa.c (node affinity, migration, move_range), ksm.c (sharing),
 * balloon.c, swap.c (swap files, zswap, page-out), pressure.c (the one
 * policy of ours: a host over its memory), wss.c (working set), observe.c
 * (pagemap, kpageflags, smaps: the statistics).
 *
 * Locking, one rule: h->lock (a mutex) guards the VM table, every VM's
 * control state and the borrowed machine state; control calls (lx_lock)
 * and the daemon's jobs take it. The daemon lets the control calls that
 * wait for it in before its next job (for 100 ms at most: host.c's
 * let_callers_in): a mutex is not fair, and jobs that
 * outlast their period (a TCG guest) re-took it for minutes while a
 * vm_reconfigure waited. page(), quiesce() and vcpu_set_demand() take no
 * lock: a VM cannot be powered off while a vCPU is entered (MMC_EBUSY), so
 * its mapping outlives every pointer page() returned. The event ring
 * (common/evring.c) has its own lock, taken inside h->lock, never around it.
 *
 * Errors follow common/mmc_error.h.
 */
#ifndef LX_H
#define LX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "mmc_error.h"
#include "mmc_evring.h"
#include "mmcert/impl.h"

#define LX_NS_PER_SEC 1000000000ull
#define LX_NS_PER_MS 1000000ull
#define LX_PATH_MAX 4096

/* ---------------------------------------------------------------- settings (settings.c) */

typedef enum lx_profile {
  LX_PROFILE_ESXI67 = 0,
  LX_PROFILE_OSDI02 = 1,
  LX_PROFILE_COUNT
} lx_profile_t;

typedef enum lx_setting_id {
  LX_SET_NUMA_REBALANCE_ENABLE = 0,
  LX_SET_NUMA_REBALANCE_PERIOD,
  LX_SET_NUMA_MIG_IMBALANCE_THRESHOLD,
  LX_SET_NUMA_REBALANCE_CORES_TOTAL,
  LX_SET_NUMA_REBALANCE_CORES_NODE,
  LX_SET_NUMA_PAGE_MIG_ENABLE,
  LX_SET_NUMA_PAGE_MIG_RATE_MAX,
  LX_SET_NUMA_MIG_THRESHOLD,
  LX_SET_NUMA_MIG_THRASH_THRESHOLD,
  LX_SET_NUMA_LOCALITY_WEIGHT_MEM,
  LX_SET_NUMA_SWAP_INTERVAL,
  LX_SET_NUMA_LATENCY_PROBE_PERIOD,
  LX_SET_MEM_SHARE_SCAN_TIME,
  LX_SET_MEM_SHARE_SCAN_GHZ,
  LX_SET_MEM_SHARE_RATE_MAX,
  LX_SET_MEM_SHARE_FORCE_SALTING,
  LX_SET_MEM_IDLE_TAX,
  LX_SET_MEM_IDLE_TAX_TYPE,
  LX_SET_MEM_SAMPLE_PERIOD,
  LX_SET_MEM_SAMPLE_ACTIVE_PCT_MIN,
  LX_SET_MEM_BALANCE_PERIOD,
  LX_SET_MEM_CTL_MAX_PERCENT,
  LX_SET_MEM_MIN_FREE_PCT,
  LX_SET_MEM_ZIP_ENABLE,
  LX_SET_MEM_ZIP_MAX_PCT,
  /* ---- ours (Linux.*) */
  LX_SET_EVENT_RING_SIZE,
  LX_SET_PRESSURE_PERIOD,
  LX_SET_OBSERVE_PERIOD,
  LX_SET_MOVE_BATCH_PAGES,
  LX_SET_KSM_SLEEP_MS,
  LX_SET_COUNT
} lx_setting_id_t;

/* One row: documented name, default per profile, range, unit, meaning, and
 * why Linux cannot honour it (NULL when it does). */
typedef struct lx_setting_def {
  lx_setting_id_t id; /* equals the row's index (checked) */
  const char *name;
  int64_t def[LX_PROFILE_COUNT];
  int64_t min;
  int64_t max;
  const char *unit;
  const char *meaning;
  const char *unsupported; /* "Linux has no ..." or NULL */
} lx_setting_def_t;

int lx_profile_parse(const char *name, lx_profile_t *out, mmc_error_t *err);
const lx_setting_def_t *lx_setting_def(lx_setting_id_t id);
/* Name -> id: MMC_ENOENT for an unknown name. */
int lx_setting_lookup(const char *name, lx_setting_id_t *out, mmc_error_t *err);
/* MMC_ENOTSUP with the row's sentence for a setting Linux cannot honour,
 * MMC_ERANGE "NAME: V is out of range MIN..MAX UNIT" otherwise when out of
 * range, 0 when the value may be stored. */
int lx_setting_check(lx_setting_id_t id, int64_t value, mmc_error_t *err);
/* Table self-check: ids in order, unique names, min <= default <= max. */
bool lx_settings_table_check(char *why, size_t whylen);

/* ---------------------------------------------------------------- the kernel (detect.c) */

/* What this kernel offers this process, found once when the object loads. */
typedef struct lx_kernel {
  bool root;           /* effective uid 0: machine knobs may be borrowed */
  bool numa_syscalls;  /* get_mempolicy works (CONFIG_NUMA) */
  bool move_pages;     /* move_pages(2) answers a query (CONFIG_MIGRATION) */
  bool ksm;            /* /sys/kernel/mm/ksm/run exists */
  bool smaps_ksm;      /* /proc/self/smaps has a "KSM:" field */
  bool swap;           /* /proc/swaps exists (CONFIG_SWAP) */
  bool zswap;          /* /sys/module/zswap/parameters/enabled exists */
  bool numa_balancing; /* /proc/sys/kernel/numa_balancing exists */
  bool clear_refs;     /* /proc/self/clear_refs is writable */
  bool kpageflags;     /* /proc/kpageflags readable (root) */
  int nodes;           /* kernel NUMA nodes online */
  uint64_t caps;       /* MMC_CAP_* this implementation offers here */
} lx_kernel_t;

extern lx_kernel_t lx_kernel;
void lx_detect(void);
const char *lx_why_not(uint64_t capability);

/* ---------------------------------------------------------------- objects */

typedef struct mmc_host lx_host_t; /* the contract's opaque host */
typedef struct lx_vm lx_vm_t;

typedef struct lx_vcpu {
  lx_host_t *h;
  lx_vm_t *vm;
  uint32_t index;
  pid_t tid;               /* the entered thread */
  clockid_t cpu_clock;     /* its CPU-time clock */
  _Atomic uint32_t demand; /* declared, permille (recorded only: Linux measures) */
} lx_vcpu_t;

struct lx_vm {
  mmc_vm_id_t id;
  mmc_vm_config_t cfg; /* as powered on or reconfigured; name/salt point below */
  char name[MMC_NAME_MAX];
  _Atomic bool on;
  uint64_t npages;
  uint8_t *base; /* the mapping: npages x MMC_PAGE_SIZE, anonymous private */
  size_t bytes;
  lx_vcpu_t *vcpus[MMC_MAX_VCPUS]; /* entered vCPUs by index, NULL when none */
  uint32_t nentered;
  uint64_t exec_ns_done; /* CPU time of vCPU threads that exited */
  uint8_t *balloon_map;  /* one bit per guest page given to the balloon */
  uint64_t ballooned;
  bool mergeable;              /* MADV_MERGEABLE applied */
  char swap_path[LX_PATH_MAX]; /* "" when the VM has no swap file */
  bool swap_on;                /* swapon'd */
  uint64_t hand;               /* pressure.c: next gpfn to consider for page-out */
  uint64_t wss_pages;          /* wss.c: pages referenced in the last full window */
  bool wss_valid;              /* a whole window has completed */
  bool wss_armed;              /* the VM existed when the last window began */
  uint64_t ksm_seen;           /* ksm.c: KSM pages at the last observation */
  uint64_t pages_moved;        /* by move_range and binding changes */
  uint64_t paged_out;          /* pages MADV_PAGEOUT was asked to reclaim */
  uint64_t locked_pages;       /* reserve.c: gpfns [0, locked_pages) are mlock()ed */
};

/* A periodic job of the daemon thread. */
typedef struct lx_job {
  const char *name;
  lx_setting_id_t period; /* the setting holding its period */
  uint64_t last_ns;       /* host time it last ran */
  void (*run)(lx_host_t *h, uint64_t now);
} lx_job_t;

#define LX_MAX_JOBS 4

struct mmc_host {
  pthread_mutex_t lock;
  pthread_cond_t wake;
  atomic_uint callers;         /* control calls waiting for h->lock (lx_lock) */
  pthread_cond_t callers_gone; /* the daemon waits there until callers is 0 */
  lx_profile_t profile;
  int64_t set[LX_SET_COUNT];
  uint64_t seed;
  struct timespec t0;
  /* topology (copied) */
  uint32_t nnodes;
  mmc_node_t nodes[MMC_MAX_NODES];
  uint32_t *cpu_storage;
  uint32_t ncores;
  uint32_t cpu_mhz;
  uint64_t capacity_pages; /* the topology's memory: what the host may hold */
  /* VMs: vms[id], ids never reused */
  lx_vm_t **vms;
  uint32_t vm_cap;
  mmc_vm_id_t next_id;
  uint32_t nvms;
  mmc_evring_t events; /* Linux.EventRingSize entries (common/evring.c) */
  /* the daemon thread */
  pthread_t daemon;
  bool daemon_running, daemon_stop;
  lx_job_t jobs[LX_MAX_JOBS];
  uint32_t njobs;
  /* borrowed machine state */
  bool borrowing;
  bool ksm_started;
  uint64_t ksm_process_seen; /* ksm.c: ksm_merging_pages of the process at the last look */
  bool zswap_set;
  bool reclaimers_paused; /* swap.c: proactive page-out kdamonds borrowed off */
  char swap_dir[LX_PATH_MAX];
  char swap_prefix[64]; /* "mmcert-PID-N": this host's swap file names */
  /* wss.c */
  uint64_t wss_window_start;
};

/* ---------------------------------------------------------------- host.c */

uint64_t lx_now(lx_host_t *h);
void lx_emit(lx_host_t *h, mmc_event_t ev);
/* h->lock for a control call: ahead of the daemon's next job. */
void lx_lock(lx_host_t *h);
void lx_unlock(lx_host_t *h);
/* The daemon thread running h->jobs, each every its period setting; stop
 * joins it. Called by host_create/host_destroy (and the daemon's tests). */
int lx_daemon_start(lx_host_t *h, mmc_error_t *err);
/* h->lock, h->wake and h->callers_gone (CLOCK_MONOTONIC, as lx_now). */
int lx_host_sync_init(lx_host_t *h, mmc_error_t *err);
void lx_daemon_stop(lx_host_t *h);
lx_vm_t *lx_vm_get(lx_host_t *h, mmc_vm_id_t id, mmc_error_t *err); /* h->lock held */
static inline int64_t lx_set(const lx_host_t *h, lx_setting_id_t id) {
  return h->set[id];
}
int lx_node_of_os(const lx_host_t *h, int os_node); /* index or -1 */

/* ---------------------------------------------------------------- vm.c */

int lx_vm_power_on(mmc_host_t *h, const mmc_vm_config_t *cfg, mmc_vm_id_t *out, mmc_error_t *err);
int lx_vm_reconfigure(mmc_host_t *h, mmc_vm_id_t vm, const mmc_vm_config_t *cfg, mmc_error_t *err);
int lx_vm_power_off(mmc_host_t *h, mmc_vm_id_t vm, mmc_error_t *err);
void lx_vm_free(lx_host_t *h, lx_vm_t *vm); /* h->lock held; unmaps, removes swap */
int lx_vcpu_enter(mmc_host_t *h, mmc_vm_id_t vm, uint32_t index, mmc_vcpu_t **out,
                  mmc_error_t *err);
void *lx_page(mmc_vcpu_t *v, uint64_t gpfn, bool write, mmc_error_t *err);
void lx_quiesce(mmc_vcpu_t *v);
void lx_vcpu_set_demand(mmc_vcpu_t *v, uint32_t permille);
void lx_vcpu_exit(mmc_vcpu_t *v);
int lx_vcpu_info(mmc_host_t *h, mmc_vm_id_t vm, uint32_t index, mmc_vcpu_info_t *out,
                 mmc_error_t *err);
int lx_vm_stats(mmc_host_t *h, mmc_vm_id_t vm, mmc_vm_stats_t *out, mmc_error_t *err);
uint64_t lx_vm_exec_ns(lx_vm_t *vm); /* h->lock held */

/* ---------------------------------------------------------------- numa.c */

/* Node mask (indices) -> CPU set / OS node mask. */
int lx_numa_bind_memory(lx_host_t *h, lx_vm_t *vm, uint64_t affinity, mmc_error_t *err);
int lx_numa_bind_vcpu(lx_host_t *h, const lx_vcpu_t *v, uint64_t affinity, mmc_error_t *err);
/* A changed affinity: new policy, vCPUs rebound, pages outside it moved. */
int lx_numa_rebind(lx_host_t *h, lx_vm_t *vm, uint64_t affinity, mmc_error_t *err);
int lx_move_range(mmc_host_t *h, mmc_vm_id_t vm, uint64_t gpfn, uint64_t count, uint32_t node,
                  uint64_t *moved, mmc_error_t *err);
/* Node index of the CPU a thread last ran on; -1 when unknown. */
int lx_numa_thread_node(const lx_host_t *h, pid_t tid);

/* ---------------------------------------------------------------- ksm.c */

int lx_ksm_host_start(lx_host_t *h, mmc_error_t *err);            /* borrow ksmd for the host */
int lx_ksm_vm_apply(lx_host_t *h, lx_vm_t *vm, mmc_error_t *err); /* MADV_(UN)MERGEABLE */
int lx_ksm_setting_changed(lx_host_t *h, lx_setting_id_t id, mmc_error_t *err);
void lx_ksm_observe(lx_host_t *h, uint64_t now); /* daemon job: MMC_EV_SHARE */

/* ---------------------------------------------------------------- balloon.c */

int lx_balloon_target(mmc_host_t *h, mmc_vm_id_t vm, uint64_t *pages, mmc_error_t *err);
int lx_balloon_give(mmc_host_t *h, mmc_vm_id_t vm, const uint64_t *gpfns, size_t n,
                    mmc_error_t *err);
int lx_balloon_take(mmc_host_t *h, mmc_vm_id_t vm, const uint64_t *gpfns, size_t n,
                    mmc_error_t *err);

/* ---------------------------------------------------------------- swap.c */

/* The host's swap directory (given, or $TMPDIR/mmcert-linux-swap). */
int lx_swap_host_init(lx_host_t *h, const char *swap_dir, mmc_error_t *err);
/* Power-on: the VM's swap file, sized configured - reservation, mode 0600,
 * formatted, recorded with the borrow module (not yet swapped on). */
int lx_swap_vm_create(lx_host_t *h, lx_vm_t *vm, mmc_error_t *err);
/* Power-off (after munmap): swapoff when on, remove. */
void lx_swap_vm_remove(lx_host_t *h, lx_vm_t *vm);
/* MADV_PAGEOUT of [gpfn, gpfn+count) (swapping on the VM's file and zswap
 * first when not yet on). */
int lx_swap_pageout(lx_host_t *h, lx_vm_t *vm, uint64_t gpfn, uint64_t count, mmc_error_t *err);
/* Swap file format (mkswap's version-1 header) into `page`; tested. */
void lx_swap_format_header(unsigned char *page, uint64_t file_pages);
bool lx_swap_dir_ok(const char *dir, char *why, size_t whylen);

/* ---------------------------------------------------------------- reserve.c */

uint64_t lx_reserved_pages(const mmc_vm_config_t *c);
/* MMC_EADMISSION when the host's reservations (without `self`, plus c's)
 * would exceed its memory. h->lock held. */
int lx_reserve_admit(lx_host_t *h, const lx_vm_t *self, const mmc_vm_config_t *c, mmc_error_t *err);
/* mlock/munlock so that gpfns [0, pages) are locked (MMC_EADMISSION when
 * the kernel refuses). */
int lx_reserve_apply(lx_vm_t *vm, uint64_t pages, mmc_error_t *err);

/* ---------------------------------------------------------------- pressure.c */

void lx_pressure_run(lx_host_t *h, uint64_t now); /* daemon job */
/* Pages to take from each VM for an excess (pure; tested). */
void lx_pressure_split(const uint64_t *resident, const uint64_t *floor, uint32_t n, uint64_t excess,
                       uint64_t *take);

/* ---------------------------------------------------------------- wss.c */

void lx_wss_run(lx_host_t *h, uint64_t now); /* daemon job: one window */

/* ---------------------------------------------------------------- observe.c */

/* What the kernel shows of a VM's pages. */
typedef struct lx_obs {
  uint64_t present; /* pagemap: page present (includes the zero page) */
  uint64_t swapped; /* pagemap: swapped out (or in zswap) */
  uint64_t zero;    /* present pages that are the shared zero page */
  uint64_t ksm;     /* present pages that are KSM pages */
  bool ksm_known, zero_known;
  uint64_t per_node[MMC_MAX_NODES]; /* present pages by node index */
  bool per_node_known;
} lx_obs_t;

int lx_observe_vm(lx_host_t *h, lx_vm_t *vm, lx_obs_t *out, uint64_t *pfns, mmc_error_t *err);
/* smaps fields of the VMAs inside [start, end): kB summed. */
typedef struct lx_smaps {
  uint64_t rss_kb, referenced_kb, ksm_kb, swap_kb;
  bool has_ksm;
} lx_smaps_t;
int lx_smaps_range(const char *path, uintptr_t start, uintptr_t end, lx_smaps_t *out,
                   mmc_error_t *err);
/* The same for every powered-on VM of the host in one pass over
 * /proc/self/smaps: out[vm id], h->vm_cap entries. h->lock held. */
int lx_smaps_all(lx_host_t *h, lx_smaps_t *out, mmc_error_t *err);
/* One pagemap pass over [addr, addr + n pages): present/swap bits, PFNs
 * (0 without CAP_SYS_ADMIN) when pfns != NULL, present bitmap when vec. */
int lx_pagemap(const void *addr, uint64_t n, uint64_t *present, uint64_t *swapped, uint64_t *pfns,
               uint8_t *vec, mmc_error_t *err);
/* PFN of the shared zero page (root), 0 when unknown. */
uint64_t lx_zero_pfn(void);

#endif
