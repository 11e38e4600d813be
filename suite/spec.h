/*
 * spec.h — the specification compiled into mmcert: every SPEC id with its
 * statement, documented source, settings, and the cases and checks that
 * judge it; and the documented advanced settings.
 *
 * The tables are generated at build time from doc/spec.md (the one
 * hand-written copy) by suite/spec_gen.awk into build/gen/spec_table.c, so
 * `mmcert explain`, `mmcert list --spec` and the certificate read the same
 * words a user reads in the document. Both tables are in doc/spec.md's
 * order and end with a row whose first member is NULL.
 *
 * Invariants (tests/unit/test_spec.c holds them): ids are unique; every id
 * is named by at least one case of suite_cases[] and every SPEC id a case
 * names is here; `cases` lists exactly the cases that name the id.
 */
#ifndef SUITE_SPEC_H
#define SUITE_SPEC_H

#include <stddef.h>
#include <stdint.h>

typedef struct suite_spec {
  const char *id;        /* "TPS-3" */
  const char *area;      /* the document's section: "Transparent page sharing" */
  const char *statement; /* the behaviour, as the suite decides it */
  const char *source;    /* seed documents, OSDI02, RM sections */
  const char *settings;  /* settings and options it depends on, with defaults */
  const char *title;     /* a few words: "paced scanning" */
  const char *cases;     /* case ids that name it, ", "-separated (suite_cases[] decides) */
  const char *checks;    /* "CASE: check name" lines, '\n'-separated; <x> = varies */
  const char *gaps;      /* what of the statement no check decides; "" when nothing */
} suite_spec_t;

extern const suite_spec_t suite_spec[]; /* ends with id == NULL */

/* The entry of `id` (exact, case-sensitive), or NULL. */
const suite_spec_t *suite_spec_find(const char *id);

/* How many entries suite_spec[] has. */
size_t suite_spec_count(void);

/* A documented advanced setting (doc/spec.md "Advanced settings"). */
typedef struct suite_spec_setting {
  const char *name;   /* "Mem.IdleTax" */
  int64_t def;        /* default under the esxi-6.7 profile */
  int64_t def_osdi02; /* default under the osdi02 profile */
  int64_t min;
  int64_t max;         /* INT64_MAX: no documented maximum */
  const char *unit;    /* "ms", "%", "" */
  const char *meaning; /* one line */
  const char *source;
} suite_spec_setting_t;

extern const suite_spec_setting_t suite_spec_settings[]; /* ends with name == NULL */

/* The setting called `name` (exact), or NULL. */
const suite_spec_setting_t *suite_spec_setting_find(const char *name);

#endif
