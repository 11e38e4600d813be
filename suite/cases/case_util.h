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
/* Power on or end the case: SKIP on MMC_ENOTSUP (no VMs in this
 * implementation), broken on any other error. */
mmc_vm_id_t cu_power_on(suite_ctx_t *c, mmc_host_t *h, const mmc_vm_config_t *cfg);
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
/* Node index of each page (-1 unattributed: not in a node mapping, not
 * resident, or an OS node outside the topology). Refreshes the maps snapshot
 * once when some page is unattributed. */
void cu_locate(suite_ctx_t *c, cu_locator_t *l, void *const *pages, size_t n, int *node);

/* ---- numbers */
double cu_percentile(double *v, size_t n, double p); /* sorts v */
uint64_t cu_now_ns(void);                            /* CLOCK_MONOTONIC */
/* splitmix64: the cases' deterministic randomness from the run's seed. */
uint64_t cu_rand(uint64_t *state);

#endif

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

/* Like cu_locator_init but returns false (after a diagnostic) instead of
 * skipping the case, for cases whose probe check is one part among others. */
bool cu_locator_try(suite_ctx_t *c, cu_locator_t *l, const mmc_topology_t *topo);
/* Read events from *cursor on; count those of `type` (for `vm`, 0 = any). */
uint64_t cu_count_events(suite_ctx_t *c, mmc_host_t *h, uint64_t *cursor, uint32_t type,
                         mmc_vm_id_t vm);
/* Advance the stepped clock by `ns` (broken on error). */
void cu_advance(suite_ctx_t *c, mmc_host_t *h, uint64_t ns);
/* A setting's current value (broken on error). */
int64_t cu_setting(suite_ctx_t *c, mmc_host_t *h, const char *name);
