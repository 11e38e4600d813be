/*
 * case.h — how a conformance case is declared and what it may call.
 *
 * A case is one row (like LTP's struct tst_test): id, the SPEC ids it checks,
 * a title, what it needs, a timeout, and a function. The runner forks a child
 * per case, enforces the timeout, writes every SKIP reason from the needs (so
 * they read alike), and turns a crash or hang of the implementation into one
 * `not ok` while the run goes on. Inside the child a case reports through the
 * sc_* functions below; each check becomes a KTAP-indented subtest and a JSON
 * record, each metric a JSON record with its unit.
 *
 * Result kinds stay distinct: pass, fail (a check failed), not shown (a
 * "skip": nothing failed but the case could not judge its SPEC ids here,
 * with the reason and its kind — capability absent, clock form, topology,
 * machine, not applicable, unprobed), broken (the harness or the
 * implementation failed before anything could be checked: an unexpected
 * error from a setup call, a crash, a timeout, MMC_ENOTSUP where the
 * contract does not allow it). The certificate (certificate.h) turns the
 * cases' results into a status per SPEC id.
 *
 * Clock forms: a case declares which forms it has (`clocks`); the runner
 * picks one per run — stepped when the case and the implementation both
 * have it (deterministic from the seed), else live; `mmcert run --clock`
 * forces one — and the case reads it with sc_clock().
 *
 * Variants (like LTP's .test_variants): a case that judges its SPEC ids on
 * several topologies or parameter sets declares them in its row
 * (`variants`) instead of looping in its body. The runner runs each variant
 * as a test point of its own, named "CASE/VARIANT" (NUMA-2/unequal-nodes)
 * in the TAP stream, the results file, the certificate's reasons and
 * `--case`; the body reads its variant with sc_variant().
 *
 * Variants and clock forms: a variant may narrow the case's clock forms
 * (its own `clocks`): a case that judges its ids on three emulated
 * topologies on the stepped clock but on the run's machine alone on the
 * live one declares the three stepped-only and a fourth live-only. The
 * runner picks the case's form first, over the forms its variants have
 * (as above: stepped when the case and the implementation both have it,
 * else live; --clock forces), then runs only the variants of that form.
 * The variants of the other form are not run and do not count: a SPEC id
 * is shown when every variant of the chosen form, of every case that
 * judges it, passed (the TAP stream names the others "not run on this
 * clock form"). A case with no form the implementation has is not shown
 * [clock], each variant with the reason; a variant of the other form that
 * `--case CASE/VARIANT` names alone is not shown [clock] too, never run in
 * a form the case did not pick.
 */
#ifndef SUITE_CASE_H
#define SUITE_CASE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdnoreturn.h>

#include "mmc_topology.h"
#include "mmcert/impl.h"

/* Needs beyond implementation capabilities. */
enum suite_need {
  SUITE_NEED_REAL_NUMA = 1u << 0, /* at least min_nodes real kernel NUMA nodes */
  SUITE_NEED_ROOT = 1u << 1,
  SUITE_NEED_PMU = 1u << 2, /* hardware perf events */
  SUITE_NEED_KSM = 1u << 3, /* /sys/kernel/mm/ksm */
};

/* The clock forms a case has (suite_case_t.clocks; 0 = both). */
enum suite_clock_form {
  SUITE_CLOCKS_STEPPED = 1u << 0, /* advance(): deterministic, from the seed */
  SUITE_CLOCKS_LIVE = 1u << 1,    /* the implementation's own threads, real time */
  /* Both, said where a row gained its live form (0 means the same). */
  SUITE_CLOCKS_BOTH = SUITE_CLOCKS_STEPPED | SUITE_CLOCKS_LIVE,
};

/* Why a case is not shown (JSON "not_shown_kind"; suite_notshown_kind_name). */
typedef enum suite_notshown_kind {
  SUITE_NOTSHOWN_NONE = 0,
  SUITE_NOTSHOWN_CAPABILITY,     /* the implementation lacks a capability (flag named) */
  SUITE_NOTSHOWN_CLOCK,          /* no clock form both the case and the implementation have */
  SUITE_NOTSHOWN_TOPOLOGY,       /* the topology is too small: nodes, real nodes, memory */
  SUITE_NOTSHOWN_MACHINE,        /* the machine lacks something: root, PMU, KSM */
  SUITE_NOTSHOWN_NOT_APPLICABLE, /* the implementation runs only on real nodes; the
                              topology the case needs is emulated */
  SUITE_NOTSHOWN_UNPROBED,       /* the case could not judge a part: no independent probe
                              here, an unobserved statistic, a clear capability */
} suite_notshown_kind_t;

typedef struct suite_ctx suite_ctx_t;

/* One variant of a case (suite_case_t.variants). */
typedef struct suite_variant {
  const char *name;  /* [a-z0-9-], unique in its case: "unequal-nodes"; NULL ends the list */
  const char *param; /* what the body reads, as its case documents: a topology
                        ("builtin:4"; NULL = the run's), a count, a keyword */
  const char *title; /* one line for `mmcert list --variants` */
  uint32_t clocks;   /* suite_clock_form flags; 0 = the case's */
} suite_variant_t;

typedef struct suite_case {
  const char *id;       /* unique, usually the main SPEC id: "NUMA-1" */
  const char *spec_ids; /* space-separated SPEC ids checked: "NUMA-1 NUMA-7" */
  const char *title;    /* one line */
  uint64_t needs_caps;  /* mmc_capability flags the implementation must have */
  uint32_t needs;       /* suite_need flags */
  uint32_t min_nodes;   /* nodes the run's topology must have; 0 = any */
  uint64_t min_memory;  /* bytes of host memory the case needs; 0 = any */
  uint32_t clocks;      /* suite_clock_form flags of the forms it has; 0 = both */
  /* With clocks == SUITE_CLOCKS_STEPPED: why it has no live form — what its
   * checks need that a live clock does not give, or that the form is not
   * written yet (the certificate's "not shown [clock]" reason on a
   * live-only implementation or --clock live, and `mmcert list`'s). */
  const char *no_live;
  unsigned timeout_s; /* quick mode, per variant; full mode allows 20x */
  void (*run)(suite_ctx_t *ctx);
  const suite_variant_t *variants; /* NULL = none; else ends with a {0} row */
} suite_case_t;

/* The variants of `c` (0 when it has none) and the one named `name`. */
size_t suite_case_nvariants(const suite_case_t *c);
const suite_variant_t *suite_case_variant(const suite_case_t *c, const char *name);
/* "NUMA-2/unequal-nodes", or the case id when v is NULL: how a variant is
 * named everywhere (TAP, results, certificate, --case). */
void suite_case_name(const suite_case_t *c, const suite_variant_t *v, char *buf, size_t cap);
/* The clock forms of variant v of c; v NULL: the case's, those of some
 * variant of it when it has variants. Never 0 for a row the suite accepts. */
uint32_t suite_case_clocks(const suite_case_t *c, const suite_variant_t *v);
/* "stepped,live", "stepped" or "live": clock forms as list and explain print them. */
const char *suite_clocks_name(uint32_t forms);

/* The table: defined in suite/cases.c, terminated by a row with id == NULL. */
extern const suite_case_t suite_cases[];

/* BENCH: the results of `mmcert bench`, whose "cases" are benchmarks. */
typedef enum suite_mode {
  SUITE_MODE_QUICK = 0,
  SUITE_MODE_FULL = 1,
  SUITE_MODE_BENCH = 2
} suite_mode_t;

/* ---- what the run gives a case */
const mmc_impl_t *sc_impl(suite_ctx_t *c);
const mmt_topology_t *sc_topology(suite_ctx_t *c); /* the run's topology (after --host-memory) */
suite_mode_t sc_mode(suite_ctx_t *c);
uint64_t sc_seed(suite_ctx_t *c); /* the run's seed (printed in the TAP header) */
/* The clock form the runner chose for this case (see "Clock forms"). */
mmc_clock_mode_t sc_clock(suite_ctx_t *c);
/* The variant this child runs (see "Variants"); NULL for a case without. */
const suite_variant_t *sc_variant(suite_ctx_t *c);

/* Create a host on `topo` (NULL = the run's) with the run's --set settings,
 * seed and profile, then `extra` settings (NULL-terminated name/value list may
 * be NULL). On failure the case is marked broken with the error and does not
 * return. The runner destroys hosts still alive when the case returns. */
mmc_host_t *sc_host(suite_ctx_t *c, const mmt_topology_t *topo, mmc_clock_mode_t clock,
                    const mmc_setting_value_t *extra, size_t nextra);
/* sc_host with mmc_host_config_t.swap_dir = swap_dir (SWAP-1, SEC-2: the
 * case looks at the files itself). */
mmc_host_t *sc_host_swap(suite_ctx_t *c, const mmt_topology_t *topo, mmc_clock_mode_t clock,
                         const mmc_setting_value_t *extra, size_t nextra, const char *swap_dir);
void sc_host_destroy(suite_ctx_t *c, mmc_host_t *h);

/* ---- reporting (child side); every printf-like one is format-checked */
/* One check = one subtest. Returns ok so callers can stop early. The
 * diagnostic is printed (and recorded) only when the check fails. */
__attribute__((format(printf, 4, 5))) bool sc_check(suite_ctx_t *c, bool ok, const char *name,
                                                    const char *diag_fmt, ...);
bool sc_check_int(suite_ctx_t *c, const char *name, long long expected, long long seen);
bool sc_check_range(suite_ctx_t *c, const char *name, double lo, double hi, double seen);
/* A metric: better is "lower", "higher" or "" (informational). */
void sc_metric(suite_ctx_t *c, const char *name, const char *unit, const char *better,
               double value);
/* One point of a time series: t in seconds of the case's clock
 * (virtual time on a stepped host), value in `unit`. Names "group/label"
 * are drawn in one plot per group ("wss/estimate" with "wss/true"). */
void sc_series(suite_ctx_t *c, const char *name, const char *unit, double t, double value);
/* A metric that could not be measured here (e.g. a perf counter without a
 * PMU): recorded with no value and the reason, never as a zero. */
void sc_metric_unsupported(suite_ctx_t *c, const char *name, const char *unit, const char *reason);
__attribute__((format(printf, 2, 3))) void sc_diag(suite_ctx_t *c, const char *fmt, ...);
/* End the case as not shown (kind "unprobed"), with the reason; failures
 * reported so far still count. */
__attribute__((format(printf, 2, 3))) noreturn void sc_skip(suite_ctx_t *c, const char *fmt, ...);
/* sc_skip with the kind named: a clock form that needs what the run's
 * topology lacks (SUITE_NOTSHOWN_TOPOLOGY), say, when the row cannot declare it
 * because the other form builds a topology of its own. */
__attribute__((format(printf, 3, 4))) noreturn void
sc_skip_kind(suite_ctx_t *c, suite_notshown_kind_t kind, const char *fmt, ...);
/* A part of the case cannot be judged here (no independent probe, a
 * statistic the implementation marks unobserved, a capability one check
 * needs is clear): recorded, and the case goes on. Unless a check fails,
 * the case then ends not shown with these reasons instead of passing. */
__attribute__((format(printf, 2, 3))) void sc_not_shown(suite_ctx_t *c, const char *fmt, ...);
/* sc_not_shown with the kind named: the machine did not give what the part
 * needs (SUITE_NOTSHOWN_MACHINE: the CPU a live imbalance needs), say. The
 * case's kind is its first such part's. */
__attribute__((format(printf, 3, 4))) void
sc_not_shown_kind(suite_ctx_t *c, suite_notshown_kind_t kind, const char *fmt, ...);
/* End the case as broken: the harness or implementation could not run it. */
__attribute__((format(printf, 2, 3))) noreturn void sc_broken(suite_ctx_t *c, const char *fmt, ...);
/* Shorthand: when rc != 0, sc_broken with "what: err.msg". */
void sc_require(suite_ctx_t *c, int rc, const mmc_error_t *err, const char *what);

#endif
