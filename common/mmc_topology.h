/*
 * mmc_topology.h — host topologies for the suite and its tools (prefix mmt_).
 *
 * Sources, side by side as in hwloc: the real machine (hwloc's discovery),
 * an hwloc XML export (`--topology FILE.xml`), an hwloc synthetic string
 * (`--topology 'synthetic:node:4 core:2 pu:1'`, optionally followed by
 * `;distances=10,21,...` row-major, nnodes*nnodes values, and memory per node
 * `;memory=2G`), and the built-in emulated topologies used when this machine
 * has a single node (`--topology builtin:4`). The result is the contract's
 * plain mmc_topology_t (so an implementation never needs hwloc) plus what the
 * suite wants to print. Node ids may have gaps; nodes may have no CPUs
 * (memory-only) or no memory.
 *
 * A node is `real` only when the topology is this machine's own (discovered,
 * not loaded from a file or string): then mbind/move_pages/sched_setaffinity
 * apply to it. Every other node is emulated.
 */
#ifndef MMC_TOPOLOGY_H
#define MMC_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mmcert/impl.h"

typedef struct mmt_topology {
  mmc_topology_t desc;          /* what the contract passes to an implementation */
  bool is_this_machine;         /* discovered from the running kernel */
  bool distances_from_firmware; /* distance matrix came from hwloc (ACPI SLIT) */
  const char *distance_origin;  /* static text saying where desc.distance came from
                                   (firmware table, the synthetic string, the built-in
                                   table, or assumed 10 local / 20 remote) */
  uint32_t npus;                /* all PUs */
  char source[256];             /* "this machine", the file path, the synthetic string */
  /* storage behind desc's pointers (owned) */
  mmc_node_t *nodes;
  uint32_t *distance;
  uint32_t *cpu_storage;
} mmt_topology_t;

/* spec: NULL or "" = this machine; "builtin:N" (N = 2, 4, 8); "synthetic:..."
 * (hwloc synthetic string, see above); otherwise a path to an hwloc XML file.
 * Errors: MMC_ENOENT file missing, MMC_EINVAL not hwloc XML / bad synthetic
 * string / bad distance matrix (the message says what and where). */
int mmt_load(const char *spec, mmt_topology_t **out, mmc_error_t *err);
void mmt_free(mmt_topology_t *t);

/* Cap the memory the implementation may use to `bytes` in all, split in
 * proportion to the nodes' sizes (memory-less nodes stay at 0). MMC_ERANGE
 * when bytes is below one page per node with memory. */
int mmt_cap_memory(mmt_topology_t *t, uint64_t bytes, mmc_error_t *err);

/* Human-readable printout: nodes (index, OS id, CPUs, cores, memory,
 * real/emulated), the distance matrix and its origin. */
void mmt_print(FILE *f, const mmt_topology_t *t);

/* Replace the distance matrix by one measured here, as ESXi can at boot:
 * from each node with CPUs, a thread pinned to that node's CPUs chases
 * pointers (a random cycle of cache lines, so every load waits on the one
 * before) through a buffer of `buffer_bytes` (0 = a default larger than any
 * LLC) bound with mbind to each node, checked with move_pages. The result is
 * relative like a firmware table: 10 * ns[i][j] / ns[i][i]; a CPU-less node's
 * row is its column. `latency_ns` (nnodes*nnodes, may be NULL) receives the
 * raw nanoseconds per load (0 for rows not measured). Real nodes only:
 * MMC_ENOTSUP when a node is emulated or the kernel has no NUMA policy
 * (the message says which); the matrix is left unchanged on any error. */
int mmt_measure_distances(mmt_topology_t *t, size_t buffer_bytes, double *latency_ns,
                          mmc_error_t *err);

/* An anonymous buffer of `bytes` bound with mbind to OS node `os_node`,
 * every page faulted in and checked with move_pages(2) to be there.
 * MMC_ENOTSUP when the kernel has no NUMA memory policy (or forbids it),
 * MMC_EIO when a page is elsewhere; munmap it when done. */
int mmt_bind_buffer(void **out, size_t bytes, uint32_t os_node, mmc_error_t *err);

/* Distance between node indices, 10 local / 20 remote when unknown. */
uint32_t mmt_distance(const mmt_topology_t *t, uint32_t from, uint32_t to);

/* A loaded topology as bytes and back, so a process that parsed an
 * untrusted file (hwloc XML, which can crash hwloc) can hand the result to
 * one that did not. mmt_decode checks every invariant of a loaded topology
 * on what arrived (MMC_EINVAL when one fails). *buf is malloc'd. */
int mmt_encode(const mmt_topology_t *t, void **buf, size_t *len);
int mmt_decode(const void *buf, size_t len, mmt_topology_t **out, mmc_error_t *err);

/* Parse "4G", "512M", "1048576", "2GB", "1.5G" into bytes; MMC_EINVAL with a
 * message naming the text and the allowed forms. */
int mmt_parse_size(const char *text, uint64_t *bytes, mmc_error_t *err);

#endif
