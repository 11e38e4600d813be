/*
 * certificate.h — a run's verdict per SPEC id (prefix suite_cert_).
 *
 * A run certifies SPEC ids, not cases. Each id of the run's scope ends:
 *   shown      every case that judges it passed, in every variant it
 *              declares of the clock form the run picked for it (case.h,
 *              "Variants and clock forms"; its checks rest on independent
 *              probes);
 *   failed     a case that judges it failed a check or broke (the case and
 *              variant, "NUMA-2/unequal-nodes", and the first failing
 *              check or the broken reason are named);
 *   not shown  nothing failed, but some case that judges it could not run
 *              or could not judge all of it here: the reason and its kind
 *              (capability absent, clock form, topology, machine, not
 *              applicable, unprobed, not selected).
 * The verdict: NOT CERTIFIED when an id failed (exit 1), INCOMPLETE when
 * none failed and some were not shown (exit 4, kselftest's skip code),
 * CERTIFIED when every id was shown (exit 0). Skips never add up to a pass.
 *
 * Scope: a full run covers every SPEC id the suite knows; `--spec GLOB`
 * certifies the matching ids (every case that judges them is selected);
 * `--case GLOB` certifies the ids its cases name, and an id that another,
 * unselected case also judges is "not shown: not selected". Certificates of
 * several runs of one implementation combine (suite_cert_combine): an id is
 * failed when it failed anywhere, shown when it was shown somewhere and
 * failed nowhere (a one-node machine and an emulated 4-node topology
 * together show the NUMA ids), else not shown with every run's reason.
 *
 * Pure functions over plain data: unit-tested in tests/unit/test_certificate.c.
 */
#ifndef SUITE_CERTIFICATE_H
#define SUITE_CERTIFICATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "case.h"
#include "mmc_error.h"
#include "runner.h"

typedef enum suite_cert_status {
  SUITE_CERT_SHOWN = 0,
  SUITE_CERT_FAILED,
  SUITE_CERT_NOT_SHOWN,
} suite_cert_status_t;

typedef enum suite_cert_verdict {
  SUITE_CERTIFIED = 0,
  SUITE_NOT_CERTIFIED,
  SUITE_INCOMPLETE,
} suite_cert_verdict_t;

/* Exit status of a certificate's verdict: 0, 1, 4. */
enum { SUITE_EXIT_INCOMPLETE = 4 };

typedef struct suite_cert_id {
  char id[32];
  suite_cert_status_t status;
  char cases[256];   /* the cases that judge it, space-separated */
  char kind[24];     /* not shown: the first reason's kind ("capability", ...) */
  char reason[1024]; /* failed: case, check and diagnostic; not shown: case and
                        reason (several joined by "; "); shown: "" */
} suite_cert_id_t;

typedef struct suite_cert {
  char scope[16];       /* "all", "spec" or "case" (how the ids were chosen) */
  char selection[512];  /* the globs, e.g. "--spec 'NUMA-*'"; "" for all */
  suite_cert_id_t *ids; /* sorted as the spec lists them */
  size_t n;
  unsigned shown, failed, not_shown;
} suite_cert_t;

/* One case's outcome in a run (several repetitions: the worst one), per
 * variant for a case that has variants. */
typedef struct suite_cert_case {
  const char *id;
  const char *variant;  /* the variant's name; NULL for a case without */
  const char *spec_ids; /* space-separated */
  suite_verdict_t verdict;
  suite_notshown_kind_t kind; /* not shown: why */
  const char *reason;         /* skip or broken reason; fail: "n of m checks failed" */
  const char *check;          /* fail: the first failing check's name, else NULL */
  const char *diag;           /* fail: its diagnostic, else NULL */
  uint32_t form;              /* the clock form the runner picked for the case
                                 (suite_result_t.form); 0: none, every variant counts */
} suite_cert_case_t;

/* "capability", "clock", ...; "" for SUITE_NOTSHOWN_NONE. */
const char *suite_notshown_kind_name(suite_notshown_kind_t k);
suite_notshown_kind_t
suite_notshown_kind_parse(const char *name);                 /* SUITE_NOTSHOWN_NONE when unknown */
const char *suite_cert_status_name(suite_cert_status_t s);   /* "shown", "failed", "not shown" */
const char *suite_cert_verdict_name(suite_cert_verdict_t v); /* "CERTIFIED", ... */
suite_cert_verdict_t suite_cert_verdict(const suite_cert_t *cert);
int suite_cert_exit(const suite_cert_t *cert); /* 0, 1 or 4 */

/* The SPEC ids a full run certifies: with the suite's own table, every id
 * of the specification (doc/spec.md, spec.h); with another table (tests),
 * the ids its cases name, in the specification's area order. A
 * NULL-terminated array of static strings. */
const char *const *suite_cert_all_ids(const suite_case_t *table);
/* Does `spec_ids` (space-separated) name `id`? */
bool suite_cert_names(const char *spec_ids, const char *id);

/* Build the certificate of one run. `scope` lists the ids to certify
 * (NULL-terminated); `table` is the whole case table, so an id judged by a
 * case that did not run is "not selected"; `ran` the outcomes. */
int suite_cert_build(const char *const *scope, const suite_case_t *table,
                     const suite_cert_case_t *ran, size_t nran, const char *scope_kind,
                     const char *selection, suite_cert_t *out, mmc_error_t *err);
/* The outcomes of a run's results (worst repetition per case); `out` has
 * run->nresults entries at most; strings point into `run`. */
size_t suite_cert_cases_of_run(const suite_run_t *run, suite_cert_case_t *out);
/* Combine certificates of runs of one implementation; labels name the runs
 * in reasons ("this-machine", "builtin:4"). */
int suite_cert_combine(const suite_cert_t *certs, const char *const *labels, size_t n,
                       suite_cert_t *out, mmc_error_t *err);
void suite_cert_free(suite_cert_t *cert);

/* The certificate block of a results document and back. from_json:
 * MMC_ENOENT when the document has none (a bench file, an older file). */
json_t *suite_cert_json(const suite_cert_t *cert);
int suite_cert_from_json(const json_t *doc, suite_cert_t *out, mmc_error_t *err);

/* The block as TAP comments ("# " lines): one line per id, then the verdict. */
void suite_cert_print(FILE *f, const suite_cert_t *cert, const char *title);

#endif
