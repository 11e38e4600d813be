/*
 * qualify.h — `mmcert qualify` (prefix suite_qualify_ for the command,
 * suite_qm_ for its measurements).
 *
 * qualify measures the machine it runs on, never a described topology:
 * firmware distances next to a measured latency matrix, a STREAM-like
 * bandwidth matrix, move_pages(2) migration throughput between every node
 * pair, the perf events available, and checks that the measurements agree
 * with the firmware. Measurements that cannot be made here (one node, a
 * node without CPUs or without memory, no NUMA policy) are reported as not
 * applicable with the reason, never as numbers.
 */
#ifndef SUITE_QUALIFY_H
#define SUITE_QUALIFY_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmc_error.h"
#include "mmc_topology.h"

/* The command: argv[0] is "qualify". Exit 0 report complete and every
 * applicable check passed; 1 a check failed or a measurement hit an error
 * (the report is still written); 2 bad usage; 128+signal when SIGINT or
 * SIGTERM interrupted it (a partial report marked incomplete is written). */
int suite_qualify_main(int argc, char **argv);

/* ---- measurements (qualify_measure.c) */

/* Set by the SIGINT/SIGTERM handler: the signal number; loops poll it. */
extern volatile sig_atomic_t suite_qm_stop;

/* Largest CPU cache in bytes from sysfs (0 when unknown). */
size_t suite_qm_llc_bytes(void);

/* Is this a virtual machine? Evidence from the CPUID hypervisor bit and
 * vendor leaf, /sys/hypervisor and DMI; `hv` the CPUID vendor ("KVMKVMKVM",
 * "TCGTCGTCGTCG", ...) or "". */
typedef struct suite_qm_virt {
  bool is_virtual;
  char hypervisor[16];
  char dmi_vendor[128];
  char dmi_product[128];
  char evidence[384];
} suite_qm_virt_t;
void suite_qm_detect_virt(suite_qm_virt_t *v);

/* Buffers bound to a node: mmt_bind_buffer (common/mmc_topology.h). */

/* STREAM-like copy (c = a) and triad (a = b + s*c) over three arrays of
 * `array_bytes` bound to memory node `dst`, by one thread pinned to each
 * CPU of `src`; best of `reps` in GB/s (10^9 bytes: copy moves 16 and triad
 * 24 bytes per element, as STREAM counts). When suite_qm_stop is set it
 * returns 0 early with the reps done so far (0 GB/s when none). */
int suite_qm_bandwidth(const mmc_node_t *src, const mmc_node_t *dst, size_t array_bytes,
                       unsigned reps, double *copy_gbs, double *triad_gbs, mmc_error_t *err);

/* move_pages(2) of `bytes` bound to node `from` into node `to`. Pages the
 * kernel reports busy (EBUSY, EAGAIN: e.g. still in a per-CPU LRU batch) are
 * retried, up to SUITE_QM_MOVE_TRIES calls in all, timed together. */
#define SUITE_QM_MOVE_TRIES 3
typedef struct suite_qm_migration {
  uint64_t pages;       /* asked to move */
  uint64_t moved;       /* found on `to` afterwards */
  double seconds;       /* the move_pages calls */
  double cpu_seconds;   /* ... CPU time of the calling thread in them (kernel time included) */
  unsigned calls;       /* 1, or more when busy pages were retried */
  double gbs;           /* moved bytes / seconds, 10^9 bytes */
  int first_bad_status; /* a page's status when not moved (negative errno), 0 = none */
} suite_qm_migration_t;
int suite_qm_migrate(uint32_t from, uint32_t to, size_t bytes, suite_qm_migration_t *m,
                     mmc_error_t *err);

/* mmcert's own engine (qualify_engine.c): a host on `t` (this machine)
 * for the implementation, MMC_ENOTSUP without MMC_CAP_MOVE_RANGE; then one
 * VM per call, filled on node index `from` (homed there, or, for a
 * memory-only node, staged there by an untimed move_range) and moved whole
 * to `to` with move_range, timed; placement checked with vm_stats before
 * and after. */
int suite_qm_engine_host(const mmc_impl_t *im, const mmt_topology_t *t, mmc_host_t **out,
                         mmc_error_t *err);
int suite_qm_engine_migrate(const mmc_impl_t *im, mmc_host_t *h, uint32_t from, bool from_has_cpus,
                            uint32_t to, size_t bytes, suite_qm_migration_t *m, mmc_error_t *err);

/* Spearman rank correlation of x and y (ties share their average rank);
 * NAN when either is constant or n < 2. */
double suite_qm_spearman(const double *x, const double *y, size_t n);

#endif
