/*
 * case_util.h — helpers shared by the conformance cases (prefix cu_).
 *
 * Setup steps that must succeed for a case to mean anything (power-on of a
 * VM the case sized to fit, entering a vCPU, loading a built-in topology)
 * end the case as broken on failure, so case bodies stay short. The page
 * locator attributes guest pointers to nodes through the probes only: the
 * kernel's move_pages(2) on real nodes, /proc/self/maps names on emulated
 * ones (MMC_CAP_NODE_MAPPINGS); a case that needs attribution and has
 * neither SKIPs with that reason.
 */
#ifndef SUITE_CASE_UTIL_H
#define SUITE_CASE_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "case.h"
#include "probes.h"

/* The clock form the runner chose for the case (sc_clock): stepped when the
 * case and the implementation both have it, else live. */
mmc_clock_mode_t cu_clock(suite_ctx_t *c);
/* mmt_load(spec) or broken. Free with mmt_free. */
mmt_topology_t *cu_topology(suite_ctx_t *c, const char *spec);
/* A deep copy of the run's topology (free with mmt_free), to cap further. */
mmt_topology_t *cu_run_topology_copy(suite_ctx_t *c);
/* True when every node of the topology is a real kernel node. */
bool cu_all_real(const mmc_topology_t *t);
/* Smallest node memory and core count among nodes with CPUs and memory. */
uint64_t cu_min_node_memory(const mmc_topology_t *t);
uint32_t cu_min_node_cores(const mmc_topology_t *t);
uint64_t cu_total_memory(const mmc_topology_t *t);
/* Bit i set for node index i that can be a VM's home with local memory:
 * it has CPUs and memory. Memory-only (CPU-less) nodes, as on KNL (MCDRAM)
 * or CXL memory expanders, hold pages but run no vCPU, so no home is there
 * and no affinity may name only them. */
uint64_t cu_home_nodes(const mmc_topology_t *t);
/* Bit i set for node index i with memory and no CPUs. */
uint64_t cu_memory_only_nodes(const mmc_topology_t *t);
/* Memory of the nodes in `mask`. */
uint64_t cu_nodes_memory(const mmc_topology_t *t, uint64_t mask);

/* VM config with the documented defaults, `vcpus` and `bytes` (rounded down
 * to whole pages, at least one). */
mmc_vm_config_t cu_vm(const char *name, uint32_t vcpus, uint64_t bytes);
/* Power on or end the case: not shown when the config asks for a mechanism
 * whose capability flag is clear (cu_enotsup_verdict), broken on any other
 * error. */
mmc_vm_id_t cu_power_on(suite_ctx_t *c, mmc_host_t *h, const mmc_vm_config_t *cfg);
/* vm_reconfigure under the same rules. */
void cu_reconfigure(suite_ctx_t *c, mmc_host_t *h, mmc_vm_id_t vm, const mmc_vm_config_t *cfg,
                    const char *what);

/* ---- what may be missing (impl.h, "What may be missing, and how to say so")
 *
 * A part of a case that cannot be judged here (no independent probe, an
 * unobserved statistic, a clear capability flag for that check) is "not
 * shown" with the reason; the case goes on and, unless a check failed, ends
 * not shown instead of passing. Never a pass on the implementation's word. */
__attribute__((format(printf, 2, 3))) void cu_not_shown(suite_ctx_t *c, const char *fmt, ...);
/* "MMC_CAP_SALTING" and, when the implementation says why it lacks it
 * (why_not), ": <its sentence>", into buf. */
const char *cu_cap_reason(suite_ctx_t *c, uint64_t cap, char *buf, size_t len);
/* The one verdict on MMC_ENOTSUP from vm_power_on or vm_reconfigure of
 * `cfg`. The contract allows it only for a config that asks for a mechanism
 * whose capability flag is clear (a salt without MMC_CAP_SALTING, a node
 * affinity without MMC_CAP_NODE_AFFINITY): then the case ends not shown,
 * naming the flag. Anything else is a defect: the case ends broken. */
noreturn void cu_enotsup_verdict(suite_ctx_t *c, const mmc_vm_config_t *cfg, const mmc_error_t *err,
                                 const char *what);
mmc_vm_stats_t cu_vm_stats(suite_ctx_t *c, mmc_host_t *h, mmc_vm_id_t vm);
mmc_host_stats_t cu_host_stats(suite_ctx_t *c, mmc_host_t *h);

/* page() with ERETRY handled as the contract says (quiesce, redo). NULL with
 * err filled on any other error. */
void *cu_page(const mmc_impl_t *im, mmc_vcpu_t *v, uint64_t gpfn, bool write, mmc_error_t *err);

/* ---- page -> node attribution by probes */
typedef enum cu_locate_by { CU_BY_MAPS = 0, CU_BY_MOVE_PAGES = 1 } cu_locate_by_t;
typedef struct cu_locator {
  const mmc_topology_t *topo;
  cu_locate_by_t by;
  probe_maps_t maps;
} cu_locator_t;

/* Pick the probe for `topo` (SKIPs when none applies); call after the host
 * exists so its pools are mapped. */
void cu_locator_init(suite_ctx_t *c, cu_locator_t *l, const mmc_topology_t *topo);
void cu_locator_refresh(suite_ctx_t *c, cu_locator_t *l);
void cu_locator_free(cu_locator_t *l);
const char *cu_locator_name(const cu_locator_t *l);
/* Node index of each page; negative when unattributed: -1 not in a node
 * mapping, not resident, or an OS node outside the topology; by
 * move_pages(2), its status (-EFAULT, -ENOENT: no page it names a node for,
 * as the kernel's zero page). Refreshes the maps snapshot once when some
 * page is unattributed. */
void cu_locate(suite_ctx_t *c, cu_locator_t *l, void *const *pages, size_t n, int *node);
/* Pages [first, first + n) of a VM read through its vCPU v (entered on this
 * thread; quiesced before returning): how many are not on `node`, -1 when
 * the locator could not attribute some. */
int64_t cu_pages_off(suite_ctx_t *c, cu_locator_t *l, mmc_vcpu_t *v, uint64_t first, uint64_t n,
                     uint32_t node);
/* cu_locate for a thread other than the case's (live vCPU threads): the
 * maps snapshot as it is (no refresh: the pools are mapped when the host is
 * made), nothing ended on failure; 0 or a negative status with err filled. */
int cu_locate_snapshot(const cu_locator_t *l, void *const *pages, size_t n, int *node,
                       mmc_error_t *err);

/* ---- numbers */
double cu_percentile(double *v, size_t n, double p); /* sorts v */
uint64_t cu_now_ns(void);                            /* CLOCK_MONOTONIC */
/* Sleeps (not spins: live cases share the machine's cores with the
 * implementation's own threads) until CLOCK_MONOTONIC reads t. */
void cu_sleep_until_ns(uint64_t t);
/* splitmix64: the cases' deterministic randomness from the run's seed. */
uint64_t cu_rand(uint64_t *state);

/* ---- one vCPU on its own thread */
/* Run vCPU `index` of `vm` on a new thread (joined before returning, so the
 * stepped clock's one-vCPU-at-a-time rule holds): enter, read the thread's
 * CPU affinity and vcpu_info, then access every page gpfn in [0, npages) with
 * gpfn % stride == index % stride, when `write` filling the whole page with a
 * non-zero byte derived from `fill`, then (fill, gpfn) in its first 16 bytes, storing the pointer
 * in ptrs[gpfn] (when ptrs is not NULL), and exit. Errors end the case as broken. */
typedef struct cu_vcpu_run {
  probe_affinity_t affinity; /* of the vCPU thread after vcpu_enter */
  mmc_vcpu_info_t info;      /* vcpu_info while entered (binding_applied is
                                false once the vCPU has exited) */
  uint64_t pages;            /* pages accessed */
  uint64_t nonzero_pages;    /* pages whose whole content was not zero when first seen */
} cu_vcpu_run_t;
void cu_vcpu_touch(suite_ctx_t *c, mmc_host_t *h, const mmc_topology_t *topo, mmc_vm_id_t vm,
                   uint32_t index, uint32_t stride, uint64_t npages, bool write, uint64_t fill,
                   void **ptrs, cu_vcpu_run_t *out);
/* The same for the pages gpfns[0..n) in that order; ptrs[k] gets the
 * pointer of gpfns[k]. */
void cu_vcpu_touch_list(suite_ctx_t *c, mmc_host_t *h, const mmc_topology_t *topo, mmc_vm_id_t vm,
                        uint32_t index, const uint64_t *gpfns, size_t n, bool write, uint64_t fill,
                        void **ptrs, cu_vcpu_run_t *out);

/* Like cu_locator_init but returns false (after cu_not_shown naming `what`,
 * the part that needed it) instead of ending the case, for cases whose
 * probe check is one part among others. */
bool cu_locator_try(suite_ctx_t *c, cu_locator_t *l, const mmc_topology_t *topo, const char *what);
/* ---- frame identity (TPS-*, SALT-*, SEC-1, SWAP-2): which frame holds a page
 *
 * Two guest pages share a frame exactly when the kernel maps their pointers
 * to one physical page. Pointer equality shows that only for a software MMU
 * (the reference hands out pointers into its pools); an implementation
 * whose pages the hardware translates (one mapping per VM) returns distinct
 * pointers even for pages the kernel merged. So frames are identified by
 * the kernel: the PFN in /proc/self/pagemap when visible (root), else the
 * (node, offset) of a "mmcert-node<N>" mapping (MMC_CAP_NODE_MAPPINGS). */
typedef enum cu_frames_by { CU_FRAMES_PFN = 0, CU_FRAMES_MAPS = 1 } cu_frames_by_t;
typedef struct cu_frames {
  cu_frames_by_t by;
  probe_pagemap_t pm; /* open when by == CU_FRAMES_PFN */
  probe_maps_t maps;  /* loaded when by == CU_FRAMES_MAPS */
} cu_frames_t;
/* Pick the probe (after the host exists); false after cu_not_shown naming
 * `what` when neither works (not root and no MMC_CAP_NODE_MAPPINGS). */
bool cu_frames_init(suite_ctx_t *c, cu_frames_t *f, const char *what);
void cu_frames_free(cu_frames_t *f);
const char *cu_frames_name(const cu_frames_t *f);
/* The frame of each page pointer (pointers still valid: before the vCPU's
 * next quiesce); 0 = no frame (not present, or not in a node mapping). */
void cu_frames_of(suite_ctx_t *c, cu_frames_t *f, void *const *ptrs, size_t n, uint64_t *id);
uint64_t cu_frame_of(suite_ctx_t *c, cu_frames_t *f, const void *ptr);

/* ---- statistics and events in verdicts: the audit list
 *
 * An implementation's statistics and events are claims. A case reads them
 * for a verdict only through the functions below, so `grep -n
 * 'cu_crosscheck_\|cu_reported_'` lists every such reading:
 *  - cu_crosscheck_*: a statistic or event count against what an
 *    independent probe measured; a disagreement beyond `tol` is a failure.
 *    The probe's own check carries the verdict; an unobserved statistic
 *    (its bit in `unobserved`) makes only the cross-check not shown (a
 *    diagnostic says so; the case keeps the verdict its probes give).
 *  - cu_reported_*: a documented quantity with no physical counterpart a
 *    probe could see (a working-set estimate, an allocation target, the
 *    memory state and minFree, the balloon target the host asks for, the
 *    rebalancer's periods): the report is the behaviour under test. Returns
 *    false after cu_not_shown when the implementation does not observe it,
 *    so the check is not shown rather than judged on a zero.
 * cu_vm_stats/cu_host_stats/events outside these feed set-up, sizing and
 * diagnostics only. */
bool cu_crosscheck_vm(suite_ctx_t *c, const mmc_vm_stats_t *st, uint64_t bit, const char *name,
                      long long probe, long long stat, long long tol);
bool cu_crosscheck_host(suite_ctx_t *c, const mmc_host_stats_t *st, uint64_t bit, const char *name,
                        long long probe, long long stat, long long tol);
/* The statistic must lie in [lo, hi], bounds the probe gives (at least
 * what the probe saw, at most what the documented pace allows). */
bool cu_crosscheck_vm_range(suite_ctx_t *c, const mmc_vm_stats_t *st, uint64_t bit,
                            const char *name, long long lo, long long hi, long long stat);
/* Any other claim the implementation makes (vcpu_info, an event's reason,
 * event counts over a window), named by `what`, against the probe. */
bool cu_crosscheck_value(suite_ctx_t *c, const char *name, const char *what, long long probe,
                         long long value, long long tol);
/* Events of `type` the implementation reported (counted by the caller)
 * against the probe's count. */
bool cu_crosscheck_events(suite_ctx_t *c, mmc_host_t *h, uint32_t type, const char *name,
                          long long probe, long long events, long long tol);
bool cu_reported_vm(suite_ctx_t *c, const mmc_vm_stats_t *st, uint64_t bits, const char *what);
bool cu_reported_host(suite_ctx_t *c, const mmc_host_stats_t *st, uint64_t bits, const char *what);
/* Event types (bit 1 << type) the check needs are all reported. */
bool cu_reported_events(suite_ctx_t *c, mmc_host_t *h, uint64_t type_bits, const char *what);
/* Field names of MMC_VMSTAT_* / MMC_HOSTSTAT_* bits ("shared_pages"). */
const char *cu_vmstat_name(uint64_t bit);
const char *cu_hoststat_name(uint64_t bit);

/* Every event from *cursor on, in an array the caller frees (*n of them;
 * NULL when there are none); broken when memory runs out. */
mmc_event_t *cu_read_events(suite_ctx_t *c, mmc_host_t *h, uint64_t *cursor, size_t *n);
/* Read events from *cursor on; count those of `type` (for `vm`, 0 = any). */
uint64_t cu_count_events(suite_ctx_t *c, mmc_host_t *h, uint64_t *cursor, uint32_t type,
                         mmc_vm_id_t vm);
/* Advance the stepped clock by `ns` (broken on error). */
void cu_advance(suite_ctx_t *c, mmc_host_t *h, uint64_t ns);
/* A setting's current value (broken on error). */
int64_t cu_setting(suite_ctx_t *c, mmc_host_t *h, const char *name);

#endif
