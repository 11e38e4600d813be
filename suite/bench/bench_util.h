/*
 * bench_util.h — what the benchmarks of issue 3 share (prefix bu_): loading
 * the implementation (as `mmcert run` does: $MMCERT_IMPL, else libmmref.so
 * next to mmcert, else the installed one), a host on a topology, timing, and
 * the table row "figure | peer | ratio | target".
 */
#ifndef SUITE_BENCH_UTIL_H
#define SUITE_BENCH_UTIL_H

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

/* Column header, then one row: the figure and its value, the peer and its
 * value, their ratio (figure / peer, or peer / figure when lower is better),
 * and the target as text ("≥ 0.95"). */
void bu_header(FILE *f);
void bu_row(FILE *f, const char *figure, double value, const char *unit, const char *peer,
            double peer_value, double ratio, const char *target);

#endif
