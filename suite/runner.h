/*
 * runner.h — the run of `mmcert run` (prefix suite_): options, per-case
 * results, the child/parent record protocol, implementation loading.
 *
 * Shape of a run: the parent has the implementation inspected in a child
 * (impl_load.c: its ABI, table size, required functions, name, version,
 * capabilities and why_not() sentences, copied) and loads the topology,
 * forks a "preflight" child that creates one host to read every setting
 * (and validate --set values), then forks one child per selected case
 * (runner.c, supervise.c); each child loads the implementation itself
 * (suite_impl_open). A child reports through the sc_* functions (ctx.c),
 * each call becoming one record on a pipe, so what a case reported before it
 * crashed or hung is kept. The parent prints TAP and fills suite_result_t,
 * which results.c turns into JSON. Invariant: the parent never calls into
 * the implementation, nor runs its constructors.
 */
#ifndef SUITE_RUNNER_H
#define SUITE_RUNNER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "case.h"
#include "mmc_topology.h"
#include "mmcert/impl.h"

/* ---- a loaded implementation (impl_load.c) */
typedef struct suite_impl {
  /* In the parent, &summary: the inspected facts (ABI, struct_size, name,
   * version, capabilities), every function NULL. A test may point it at a
   * table linked into the program instead; suite_impl_open then uses it. */
  const mmc_impl_t *impl;
  mmc_impl_t summary;
  char name[MMC_NAME_MAX]; /* summary.name points here, copied from the object */
  char version[64];        /* summary.version */
  char path[PATH_MAX];     /* as given (or the default), for messages and JSON */
  char why_not[64][512];   /* why_not() of each clear capability bit; "" = none */
} suite_impl_t;

/* Inspect the object at `path` in a child with a deadline
 * (suite_sup_load_timeout), never in mmcert: its constructors, a garbage
 * name pointer, a crash or a hang cost that child only. Refuses, with a
 * message naming the path and the reason: path missing (MMC_ENOENT), not a
 * loadable shared object (dlerror text), symbol missing, ABI version
 * differs, struct_size too small, a required function pointer NULL, name or
 * version not a printable string, the loading crashed or did not finish
 * (all MMC_EINVAL). */
int suite_impl_load(const char *path, suite_impl_t *out, mmc_error_t *err);
void suite_impl_unload(suite_impl_t *si);
/* In a child: the implementation's own table, loaded here (or the linked-in
 * table a test gave). The object must still be what was inspected. */
int suite_impl_open(const suite_impl_t *si, const mmc_impl_t **impl, mmc_error_t *err);
/* "CLOCK_STEPPED" for MMC_CAP_CLOCK_STEPPED; NULL for an unknown bit. */
const char *suite_cap_name(uint64_t cap);

/* ---- records a child sends to the parent */
typedef enum suite_rec_kind {
  SUITE_REC_CHECK = 1, /* name, ok, text = diag (failed checks only) */
  SUITE_REC_METRIC,    /* name, unit, better, value; text = reason when unsupported */
  SUITE_REC_DIAG,      /* text */
  SUITE_REC_SKIP,      /* text = reason; the case ends */
  SUITE_REC_BROKEN,    /* text = reason; the case ends */
  SUITE_REC_SETTING,   /* preflight: name, unit, ival[0..3] = value, default, min, max */
  SUITE_REC_SET_ERROR, /* preflight: a --set value was refused; text = message */
  SUITE_REC_DONE,      /* the case function returned */
  SUITE_REC_SERIES,    /* one time-series point: name, unit, value; t in ival[0] (double bits) */
  SUITE_REC_NOT_SHOWN, /* text = what the case could not judge; the case goes on */
} suite_rec_kind_t;

typedef struct suite_rec {
  suite_rec_kind_t kind;
  bool ok;
  double value;
  int64_t ival[4];
  char *name; /* owned; "" when absent, never NULL after decoding */
  char *text;
  char *unit;
  char *better;
} suite_rec_t;

typedef enum suite_verdict {
  SUITE_PASS = 0,
  SUITE_FAIL,
  SUITE_SKIP,
  SUITE_BROKEN,
} suite_verdict_t;

/* The time of a SUITE_REC_SERIES record (stored as the bits of a double). */
double suite_rec_series_t(const suite_rec_t *r);

const char *suite_verdict_name(suite_verdict_t v); /* "pass", "fail", "skip", "broken" */

typedef struct suite_result {
  const suite_case_t *c;
  const suite_variant_t *v; /* the variant it ran; NULL for a case without */
  char name[96];            /* suite_case_name: "NUMA-2/builtin-4", or the case id;
                               filled by whoever fills `c` (results.c writes it as "id") */
  unsigned rep;             /* repetition, 0..repeat-1 (--repeat) */
  suite_verdict_t verdict;
  suite_notshown_kind_t notshown_kind; /* SUITE_SKIP: why the case is not shown */
  mmc_clock_mode_t clock;              /* the clock form it ran in (when it ran) */
  uint32_t form;    /* the form the runner picked for its case (SUITE_CLOCKS_STEPPED or
                       _LIVE; 0: none, not shown [clock]): its variants of the other
                       form are not run and do not count (case.h, "Variants") */
  char reason[512]; /* skip/broken reason, timeout or signal; "" for pass/fail */
  double duration_s;
  bool timed_out;
  char stream_error[160]; /* the child's record pipe carried something malformed: what */
  suite_rec_t *recs;      /* every record in arrival order (owned) */
  size_t nrecs;
  size_t cap;
} suite_result_t;

/* One setting as the implementation reports it (preflight). */
typedef struct suite_setting {
  char name[MMC_NAME_MAX];
  char unit[32];
  char meaning[160]; /* setting_info's one line */
  int64_t value;     /* after the profile and --set */
  int64_t def;       /* default under the profile */
  int64_t min;
  int64_t max;
  bool user_set; /* given with --set */
} suite_setting_t;

typedef struct suite_run {
  /* inputs, filled by main.c */
  const suite_impl_t *si;
  const char *topology_spec; /* as given; NULL = this machine */
  mmt_topology_t *topo;      /* loaded and capped */
  uint64_t host_memory;      /* --host-memory; 0 = not capped */
  suite_mode_t mode;
  uint64_t seed;
  const char *profile; /* "esxi-6.7" or "osdi02" */
  double timeout_scale;
  mmc_setting_value_t *sets; /* --set, in order */
  size_t nsets;
  const suite_case_t *cases; /* the table to run; NULL = suite_cases (tests pass their own) */
  const char **globs;        /* --case (CASE or CASE/VARIANT globs); none = all */
  size_t nglobs;
  const char **spec_globs; /* --spec: every case naming a matching SPEC id */
  size_t nspec_globs;
  bool clock_forced; /* --clock given: every case runs in clock_force */
  mmc_clock_mode_t clock_force;
  FILE *out;       /* TAP (stdout) */
  FILE *err;       /* messages and the summary table (stderr) */
  unsigned repeat; /* --repeat: runs of every selected case; 0 means 1 */
  bool progress;   /* "case n of m" lines on err (main.c: when err is a terminal) */
  bool perf;       /* record perf_event counters of each case's process as perf.*
                      metrics (main.c: on unless --no-perf) */
  /* outputs */
  suite_setting_t *settings; /* from the preflight; NULL when it failed */
  size_t nsettings;
  char settings_note[640]; /* why settings are missing, when they are */
  suite_result_t *results; /* repetition-major: every case once, then again */
  size_t nresults;
  double start_time; /* CLOCK_REALTIME seconds */
  double end_time;
  unsigned totals[4];      /* by suite_verdict_t */
  struct suite_cert *cert; /* the run's certificate (certificate.h); NULL
                              for a bench or when it could not be built */
} suite_run_t;

/* Exit codes of the command: `run` answers with its certificate's verdict,
 * 0 CERTIFIED, 1 NOT CERTIFIED (SUITE_EXIT_FAIL), 4 INCOMPLETE
 * (SUITE_EXIT_INCOMPLETE, certificate.h); 2 bad usage. */
enum { SUITE_EXIT_OK = 0, SUITE_EXIT_FAIL = 1, SUITE_EXIT_USAGE = 2 };

/* Select, preflight, run every case, print TAP, the certificate and the
 * summary. Returns an exit code; SUITE_EXIT_USAGE with a message on
 * run->err for a glob that matches nothing or a refused --set. */
int suite_run(suite_run_t *run);
void suite_run_free(suite_run_t *run);

/* Read every setting of the implementation on run->topo in a child
 * process (and check run->sets) into run->settings; on failure the reason
 * goes to run->settings_note. SUITE_EXIT_USAGE when a --set was refused. */
int suite_run_preflight(suite_run_t *run);
/* Append a copy of *rec (its strings change owner) to r->recs. */
void suite_result_add_rec(suite_result_t *r, const suite_rec_t *rec);
/* Seconds: monotonic (for durations), and real time (start/end of a run). */
double suite_mono_now(void);
double suite_real_now(void);
/* "quick", "full", "bench". */
const char *suite_mode_name(suite_mode_t m);

/* Does any need of `c` (in variant `v`, NULL for none) fail on this run?
 * SUITE_NOTSHOWN_NONE when all are met; else the kind, with the reason
 * written (the runner's one source of skip reasons, so they read alike).
 * *clock gets the clock form to run in. */
suite_notshown_kind_t suite_needs_unmet(const suite_run_t *run, const suite_case_t *c,
                                        const suite_variant_t *v, mmc_clock_mode_t *clock,
                                        char *reason, size_t cap);
/* "needs MMC_CAP_X (implementation N lacks it: why)" for the clear bits of
 * `missing`. */
void suite_caps_reason(const suite_impl_t *si, uint64_t missing, char *reason, size_t cap);
/* The implementation runs only on real nodes and `t` has an emulated one. */
bool suite_not_applicable(const suite_impl_t *si, const mmt_topology_t *t, char *reason,
                          size_t cap);

/* ---- child side (ctx.c); both end the process */
_Noreturn void suite_child_case(const suite_run_t *run, const suite_case_t *c,
                                const suite_variant_t *v, mmc_clock_mode_t clock, int fd);
_Noreturn void suite_child_preflight(const suite_run_t *run, int fd);

/* ---- record wire format (ctx.c writes, runner.c reads) */
int suite_rec_send(int fd, const suite_rec_t *r);
/* write(2) all n bytes, retrying on EINTR and short writes; 0 or -1. */
int suite_write_all(int fd, const void *buf, size_t n);
/* Decode one record from buf[0..len): returns bytes consumed, 0 when more
 * bytes are needed, -1 on a malformed record. */
long suite_rec_decode(const unsigned char *buf, size_t len, suite_rec_t *out);
void suite_rec_free(suite_rec_t *r);
/* A child's pipe as it arrives (supervise.h consume, ctx a suite_result_t):
 * every whole record appended; -1 on a malformed one, said in
 * stream_error. */
int suite_rec_take(void *ctx, const unsigned char *buf, size_t len, size_t *used);

#endif
