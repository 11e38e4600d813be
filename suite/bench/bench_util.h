/*
 * bench_util.h — what the benchmarks share (prefix bu_): loading
 * the implementation (as `mmcert run` does: $MMCERT_IMPL, else libmmref.so
 * next to mmcert, else the installed one), a host on a topology, timing, and
 * the table row "figure | peer | ratio | target".
 */
#ifndef SUITE_BENCH_UTIL_H
#define SUITE_BENCH_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench.h"
#include "mmc_topology.h"
#include "runner.h"

/* 0, or non-zero after a message on opts->err. */
int bu_load_impl(const suite_bench_opts_t *o, suite_impl_t *si);
/* A topology from spec (NULL = this machine); message on failure. */
int bu_load_topology(const suite_bench_opts_t *o, const char *spec, mmt_topology_t **out);
/* Host on topo, stepped clock when the implementation has it (else live). */
int bu_host(const suite_bench_opts_t *o, const mmc_impl_t *im, const mmt_topology_t *topo,
            uint64_t seed, mmc_host_t **out);
/* The same with the host's swap files in `swap_dir` (NULL = the
 * implementation's default). */
int bu_host_swap(const suite_bench_opts_t *o, const mmc_impl_t *im, const mmt_topology_t *topo,
                 uint64_t seed, const char *swap_dir, mmc_host_t **out);

uint64_t bu_now_ns(void);
/* CPU time of the calling thread: a loop timed with it does not count the
 * time the thread spent preempted by other work on a shared machine. */
uint64_t bu_thread_cpu_ns(void);
double bu_percentile(double *v, size_t n, double p); /* sorts v */

/* ---- the copy + free floor (suite/bench/floor.c) */

#define BU_PWRITEV_RUN 64 /* pages per pwritev(2) (<= IOV_MAX) */
/* Nodes 0 and 1 of t are kernel nodes (buffers are then bound to them). */
bool bu_two_real_nodes(const mmc_topology_t *t);
/* A sparse memfd of len bytes mapped shared, bound to node `os` when real:
 * fresh frames like a pool's. NULL on failure (*fd may be open). */
uint8_t *bu_fresh_map(size_t len, bool real, int os, int *fd);
/* pwritev(2) of n pages at src into fd from offset 0, BU_PWRITEV_RUN pages
 * a call; a short write stops it (callers check the last byte). */
void bu_pwritev_pages(int fd, const uint8_t *src, uint64_t n);
/* n pages from a written memfd into fresh frames of another by pwritev,
 * then the sources punched in runs of run_pages: pages per CPU-second of
 * this thread (CLOCK_THREAD_CPUTIME_ID), 0 when it failed. */
double bu_copy_free_cpu_rate(const mmc_topology_t *t, uint64_t n, uint64_t run_pages);

/* Column header, then one row: the figure and its value, the peer and its
 * value, their ratio (figure / peer, or peer / figure when lower is better),
 * and the target as text ("≥ 0.95"). */
void bu_header(FILE *f);
void bu_row(FILE *f, const char *figure, double value, const char *unit, const char *peer,
            double peer_value, double ratio, const char *target);
/* A row over n rounds: round `shown` printed (n or more: the medians of
 * the rounds), every round's figure v[i], peer pv[i] (pv NULL: no peer) and
 * ratio recorded as samples, so `compare` can test them; the target is
 * judged on the row printed (on the median ratio when medians).
 * ratio_higher: the ratio is better higher even without a target (a peer
 * measured in the same round that the implementation does not change, so
 * the ratio cancels the machine's drift between runs). */
void bu_row_rounds(FILE *f, const char *figure, const double *v, const char *unit, const char *peer,
                   const double *pv, size_t n, size_t shown, const char *target, bool ratio_higher);

#endif
