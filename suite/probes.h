/*
 * probes.h — the suite's independent probes (prefix probe_).
 *
 * A conformance case never takes an implementation's statistics on trust
 * alone: these functions ask the kernel what is really there. They know
 * nothing about how an implementation works inside; they rely only on the
 * kernel (move_pages, mincore, sched_getaffinity, /proc) and on what the
 * contract promises (MMC_CAP_NODE_MAPPINGS: guest frames live in mappings
 * named "mmcert-node<OSINDEX>").
 *
 * SPEC ids served: NUMA-1, NUMA-9 (page -> node, vCPU -> node), INT-1,
 * SEC-1, and every later case that counts resident or shared memory.
 *
 * Errors follow common/mmc_error.h: 0 or a negative mmc_status_t, with err
 * filled (MMC_EIO carries the errno text).
 */
#ifndef SUITE_PROBES_H
#define SUITE_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mmcert/impl.h"

/* ---- page -> node through /proc/self/maps (emulated and real nodes) */

/* One mapping whose name says which node's memory it holds. */
typedef struct probe_range {
  uintptr_t start, end; /* [start, end) */
  uint64_t offset;      /* file offset of `start` (frame identity across maps) */
  uint32_t os_node;     /* the OSINDEX in "mmcert-node<OSINDEX>" */
} probe_range_t;

/* A snapshot of the node mappings, sorted by address, parsed once; take a
 * new one after the implementation may have mapped more (host creation). */
typedef struct probe_maps {
  probe_range_t *ranges;
  size_t n;
} probe_maps_t;

/* Parse /proc/self/maps (or `path` when not NULL, for tests). */
int probe_maps_load(probe_maps_t *m, const char *path, mmc_error_t *err);
void probe_maps_free(probe_maps_t *m);
/* The OS node index of the mapping holding `addr`, or -1 when `addr` is in
 * no "mmcert-node" mapping. O(log n). */
int probe_maps_os_node(const probe_maps_t *m, const void *addr);
/* The node mapping holding `addr`, NULL when none. */
const probe_range_t *probe_maps_find(const probe_maps_t *m, const void *addr);
/* A frame's identity independent of where it is mapped: (OS node, offset in
 * the node's file) packed as os_node << 48 | offset / page; 0 when `addr` is
 * in no node mapping. Two pointers with one identity share one frame. */
uint64_t probe_maps_frame(const probe_maps_t *m, const void *addr);
/* Node index in `topo` whose os_index is `os_node`; -1 when none. */
int probe_node_index(const mmc_topology_t *topo, int os_node);
/* Resident 4 KB pages over every node-named pool mapping of this process
 * (mincore on each "mmcert-node<N>" range): what the pools really hold,
 * whatever else the process maps (on a tmpfs root even the binary's pages
 * count as shared memory, so RssShmem cannot tell). */
int probe_pools_resident(uint64_t *pages, mmc_error_t *err);

/* ---- page -> node through move_pages(2) (real NUMA nodes only) */

/* Ask the kernel which node holds each of `n` pages (move_pages with
 * nodes=NULL: a query, nothing moves). status[i] is the OS node or a negative
 * errno (-ENOENT: not present, -EFAULT: not mapped). The pages must be
 * resident for a node answer: touch them first. */
int probe_move_pages_query(void *const *pages, size_t n, int *status, mmc_error_t *err);
/* One page: the OS node, or the negative errno from the kernel. */
int probe_page_os_node(const void *addr);

/* ---- resident pages through mincore(2) */

/* Count pages of [addr, addr+len) resident in memory (addr rounded down to
 * a page, len up). With `vec` (one byte per page) the per-page answer too. */
int probe_mincore(const void *addr, size_t len, uint64_t *resident, unsigned char *vec,
                  mmc_error_t *err);

/* ---- process memory through /proc/self/smaps_rollup, /proc/self/status and
 * /proc/self/smaps */

typedef struct probe_rollup {
  uint64_t rss_bytes;       /* smaps_rollup Rss */
  uint64_t pss_bytes;       /* Pss */
  uint64_t pss_anon_bytes;  /* Pss_Anon */
  uint64_t pss_shmem_bytes; /* Pss_Shmem: memfd/shmem pages (the pools) */
  uint64_t swap_bytes;      /* Swap */
  uint64_t rss_shmem_bytes; /* /proc/self/status RssShmem */
  /* Of RssShmem, the pages of the program's and its libraries' own files
   * when they are on tmpfs (a tmpfs root): code, not memory anyone holds.
   * 0 with `path` (a test's file). */
  uint64_t image_shmem_bytes;
} probe_rollup_t;

int probe_rollup(probe_rollup_t *out, const char *path, mmc_error_t *err);

/* ---- frames and page state through /proc/self/pagemap, /proc/kpageflags */

/* One pagemap entry, decoded (Documentation/admin-guide/mm/pagemap.rst). */
typedef struct probe_pagemap_entry {
  uint64_t pfn;     /* page frame number; 0 when not present, or when PFNs are
                       not visible (no CAP_SYS_ADMIN) */
  bool present;     /* bit 63: in RAM */
  bool swapped;     /* bit 62: in the kernel's swap */
  bool file_shared; /* bit 61: a file page or shared anonymous (memfd, shmem) */
  bool exclusive;   /* bit 56: mapped exactly once */
  bool soft_dirty;  /* bit 55 */
} probe_pagemap_entry_t;

typedef struct probe_pagemap {
  int fd;       /* /proc/self/pagemap */
  int flags_fd; /* /proc/kpageflags, -1 when not readable (not root) */
  bool pfns;    /* PFNs are visible: frame identity by PFN works */
} probe_pagemap_t;

/* kpageflags bits (include/uapi/linux/kernel-page-flags.h). */
#define PROBE_KPF_ANON (1ull << 12)
#define PROBE_KPF_KSM (1ull << 21)       /* merged by the kernel's samepage merging */
#define PROBE_KPF_ZERO_PAGE (1ull << 24) /* the kernel's shared zero page */

/* Open the probe; `pagemap_path`/`kpageflags_path` NULL = the real files
 * (tests pass files of their own). A kpageflags that cannot be opened is not
 * an error: flags_fd stays -1. */
int probe_pagemap_open(probe_pagemap_t *pm, const char *pagemap_path, const char *kpageflags_path,
                       mmc_error_t *err);
void probe_pagemap_close(probe_pagemap_t *pm);
/* The entries of `n` pages (any address inside each page). Consecutive
 * pages are read in one call. */
int probe_pagemap_read(const probe_pagemap_t *pm, void *const *pages, size_t n,
                       probe_pagemap_entry_t *out, mmc_error_t *err);
/* One raw entry decoded (exported for tests). */
probe_pagemap_entry_t probe_pagemap_decode(uint64_t raw);
/* kpageflags of each PFN (0 for PFN 0). MMC_ENOTSUP when kpageflags is not
 * readable. */
int probe_kpageflags(const probe_pagemap_t *pm, const uint64_t *pfns, size_t n, uint64_t *flags,
                     mmc_error_t *err);

/* ---- the kernel's samepage merging (probe_ksm.c): a witness of ksmd's progress */

typedef struct probe_ksm {
  bool mergeable;         /* this process has memory under KSM (/proc/self/ksm_stat) */
  bool running;           /* /sys/kernel/mm/ksm/run is 1 */
  uint64_t full_scans;    /* passes ksmd completed over every mergeable area */
  bool has_pages_scanned; /* pages_scanned exists (Linux 6.7+) */
  uint64_t pages_scanned; /* pages ksmd visited, machine-wide */
} probe_ksm_t;

/* Read KSM's state; `ksm_stat_path` NULL = /proc/self/ksm_stat (tests pass
 * a file). MMC_ENOTSUP when the kernel has no KSM. */
int probe_ksm_read(probe_ksm_t *out, const char *ksm_stat_path, mmc_error_t *err);

/* ---- CPU affinity -> nodes */

typedef struct probe_affinity {
  uint32_t ncpus;        /* CPUs in the affinity mask */
  uint64_t nodes;        /* node indices (of the topology) holding any of them */
  uint32_t cpus_outside; /* allowed CPUs that belong to no node of the topology */
  uint64_t nodes_full;   /* nodes all of whose CPUs are allowed */
} probe_affinity_t;

/* Affinity of thread `tid` (0 = the calling thread) mapped onto `topo`. */
int probe_thread_affinity(const mmc_topology_t *topo, pid_t tid, probe_affinity_t *out,
                          mmc_error_t *err);

#endif
