/*
 * results.h — JSON results of a run (prefix suite_results_), with jansson.
 *
 * Schema "mmcert-results" version SUITE_RESULTS_SCHEMA: machine, kernel,
 * topology, implementation, mmcert version, mode, seed, settings, start/end
 * time, totals, and every case with its verdict, duration, checks, metrics
 * and diagnostics. Written atomically: a temporary file in the target's
 * directory, fsync, rename, fsync of the directory; on any failure the
 * temporary file is removed, so a reader sees the old file or the whole new
 * one, never half of one.
 */
#ifndef SUITE_RESULTS_H
#define SUITE_RESULTS_H

#include <jansson.h>
#include <stddef.h>

#include "runner.h"

/* 2: run_id, repeat, machine.class, topology summary and hash, checks
 * with id/spec_ids/verdict, metrics with samples, time series, per-case
 * repetitions (doc/results-schema.md). */
#define SUITE_RESULTS_SCHEMA 2

/* "<ncpus>c-<GiB>g-<nodes>n-<cpu model short>" of this machine, e.g.
 * "2c-24g-1n-amd-epyc": what baselines and history group runs by. */
void suite_machine_class(char *buf, size_t cap);
/* A new run id: 32 hex digits from getrandom (time and pid without
 * entropy). Results files and qualify reports carry one. */
void suite_results_run_id(char *buf, size_t cap);
/* "xxh64:<16 hex>" over nodes' memory, CPUs and distances. */
void suite_topology_hash(const mmt_topology_t *t, char *buf, size_t cap);

/* The whole document; NULL only when out of memory. */
json_t *suite_results_json(const suite_run_t *run);
/* Write `doc` to `path` atomically; MMC_EIO with the path and errno text. */
int suite_results_write_file(const char *path, const json_t *doc, mmc_error_t *err);
/* Both of the above. */
int suite_results_write(const char *path, const suite_run_t *run, mmc_error_t *err);
/* The same for a name nobody chose (the default path): never replaces a
 * file. When `path` is taken (two runs in the same second, or at once) the
 * file is PATH-2.json, PATH-3.json, ...: link(2) makes the claim atomic.
 * The name used is written back into path. */
int suite_results_write_new(char *path, size_t cap, const json_t *doc, mmc_error_t *err);
int suite_results_write_run_new(char *path, size_t cap, const suite_run_t *run,
                                mmc_error_t *err);
/* "results/runs/20261123-104500-reference.json" into buf; creates
 * results/runs/ (relative to the working directory) when missing. */
int suite_results_default_path(const char *impl_name, double when, char *buf, size_t cap,
                               mmc_error_t *err);

#endif
