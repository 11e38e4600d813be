/*
 * perf.h — perf_event_open(2) counters for the suite (prefix perf_probe_,
 * and sc_perf_ for cases).
 *
 * A probe is a set of events counted on a target: given threads (tids), or
 * the whole calling process (every thread alive when the probe opens, and,
 * through `inherit`, every thread those start afterwards). Software events
 * (page faults, context switches, CPU migrations, task clock) work on any
 * Linux kernel with perf events; hardware events (cycles, instructions, LLC
 * misses) and the generic NUMA cache events (PERF_COUNT_HW_CACHE_NODE read
 * access/miss) need a hardware PMU; named raw events ("pfm:NAME", e.g.
 * remote/local DRAM loads) go through libpfm4 and exist only when configure
 * found it (config.h MMCERT_HAVE_LIBPFM).
 *
 * Invariant: an event that could not be counted reads `supported = false`
 * with the reason (the errno of perf_event_open translated: no PMU, event
 * unknown to this PMU, perf_event_paranoid too high, no permission, thread
 * gone) and its value is never used; a counter the kernel never scheduled
 * (time_running 0) is unsupported too, never a zero reading. Multiplexed
 * counters are scaled by time_enabled/time_running and say so.
 */
#ifndef SUITE_PROBES_PERF_H
#define SUITE_PROBES_PERF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "case.h"
#include "mmc_error.h"

typedef enum perf_probe_kind {
  PERF_PROBE_SOFTWARE = 0, /* kernel software events: always available */
  PERF_PROBE_HARDWARE,     /* generic hardware events: need a PMU */
  PERF_PROBE_CACHE,        /* generic PERF_TYPE_HW_CACHE events: need a PMU */
  PERF_PROBE_RAW,          /* named raw PMU events through libpfm4 */
} perf_probe_kind_t;

typedef struct perf_probe_event_info {
  const char *name; /* perf(1)'s spelling: "minor-faults", "cycles", "node-load-misses" */
  const char *unit; /* "faults", "ns", "cycles", ... */
  const char *what; /* one line */
  perf_probe_kind_t kind;
  uint32_t type; /* perf_event_attr.type */
  uint64_t config;
} perf_probe_event_info_t;

/* The built-in events, software first. */
const perf_probe_event_info_t *perf_probe_events(size_t *n);
const char *perf_probe_kind_name(perf_probe_kind_t k); /* "software", "hardware", ... */

#define PERF_PROBE_NAME_MAX 96
#define PERF_PROBE_REASON_MAX 320

typedef struct perf_probe_reading {
  char name[PERF_PROBE_NAME_MAX];
  const char *unit;
  perf_probe_kind_t kind;
  bool supported;
  uint64_t value;                     /* scaled when running < enabled; only when supported */
  double running_fraction;            /* time_running / time_enabled; 1 = counted all along */
  bool user_only;                     /* kernel-side counts excluded (perf_event_paranoid 2) */
  char reason[PERF_PROBE_REASON_MAX]; /* unsupported: why; supported: notes or "" */
} perf_probe_reading_t;

typedef struct perf_probe perf_probe_t;

/* Named raw events for local/remote DRAM loads (numatop's idea), as
 * "pfm:NAME", on the CPU families mmcert knows: usable only with libpfm4
 * and only where it knows the name on this CPU (perf_probe_check_name). */
const char *const *perf_probe_numa_raw_events(size_t *n);

/* Is `name` a countable event here: a built-in name, or "pfm:NAME" with
 * libpfm4 built in and knowing NAME? MMC_EINVAL with a message naming the
 * event and listing the built-in names (and what raw names need). */
int perf_probe_check_name(const char *name, mmc_error_t *err);

/* Open and start counting `events` (NULL = every built-in event) on `tids`
 * (NULL or ntids 0 = the whole calling process). Events the kernel refuses
 * are kept as unsupported with their reason: that is not an error. Errors:
 * MMC_EINVAL unknown event name, MMC_ENOMEM. */
int perf_probe_open(perf_probe_t **out, const char *const *events, size_t nevents,
                    const pid_t *tids, size_t ntids, mmc_error_t *err);
size_t perf_probe_count(const perf_probe_t *p);
/* Counts since perf_probe_open into out[0 .. perf_probe_count). A counter
 * that fails to read turns unsupported with the reason. */
void perf_probe_read(perf_probe_t *p, perf_probe_reading_t *out);
void perf_probe_close(perf_probe_t *p); /* NULL is fine */

/* The reason text for a perf_event_open errno. `paranoid` is
 * /proc/sys/kernel/perf_event_paranoid (-1 when missing), `privileged` is
 * root or CAP_PERFMON/CAP_SYS_ADMIN, `pmu_list` the PMUs the kernel exposes
 * (NULL when unknown). Exposed for the unit test. */
void perf_probe_reason(int errnum, perf_probe_kind_t kind, int paranoid, bool privileged,
                       const char *pmu_list, char *buf, size_t cap);
int perf_probe_paranoid(void);
bool perf_probe_privileged(void);

/* ---- for cases: record counters of the case's threads as metrics.
 * sc_perf_begin starts the built-in events on `tids` (NULL/0 = this process,
 * including threads it starts later: call it before starting vCPU threads
 * and sc_perf_end after joining them, since an exited thread's counts join
 * its parent's counter). sc_perf_end records one metric "perf.<event>" per
 * supported event with its unit, and sc_metric_unsupported "perf.<event>"
 * with the reason for the rest, plus "perf.remote_access_fraction"
 * (node-load-misses / node-loads, NUMA-7 and MIG-1) or why it is
 * unsupported; then frees the probe. Out of memory ends the case as
 * broken. */
typedef struct sc_perf sc_perf_t;
sc_perf_t *sc_perf_begin(suite_ctx_t *c, const pid_t *tids, size_t ntids);
void sc_perf_end(suite_ctx_t *c, sc_perf_t *p);

#endif
