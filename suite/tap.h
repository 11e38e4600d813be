/*
 * tap.h — a tiny TAP version 13 writer (prefix tap_), in the manner of
 * c-tap-harness: plan, ok, skip, diag, subtests.
 *
 * Output is what Debian's `prove` accepts: a "TAP version 13" header (never
 * 14), test lines "ok N - description", directives after " # ", diagnostics
 * as "# text" lines. Subtests are indented four spaces per level as KTAP
 * does ("    # Subtest: NAME", their own "1..N", then their lines), and the
 * parent's result line follows them. Invariants: a description never
 * carries a raw '#' or newline (escaped as "\#" and " "), so a check name
 * can never turn into a directive; every line goes out whole.
 */
#ifndef SUITE_TAP_H
#define SUITE_TAP_H

#include <stdbool.h>
#include <stdio.h>

typedef struct tap {
  FILE *out;       /* where lines go */
  unsigned indent; /* spaces before every line: 0 top level, +4 per subtest */
  unsigned count;  /* test lines written so far at this level */
} tap_t;

void tap_init(tap_t *t, FILE *out, unsigned indent);
/* "TAP version 13": once, first, top level only. */
void tap_version(tap_t *t);
void tap_plan(tap_t *t, unsigned n);
/* "ok N - desc" / "not ok N - desc"; returns ok. */
__attribute__((format(printf, 3, 4))) bool tap_ok(tap_t *t, bool ok, const char *fmt, ...);
/* "ok N - desc # SKIP reason". */
__attribute__((format(printf, 3, 4))) void tap_skip(tap_t *t, const char *desc,
                                                    const char *reason_fmt, ...);
/* A result line with a free-form note after the description, as in
 * "not ok 3 - HANG-1 # TIMEOUT after 30 s" (not a SKIP/TODO directive). */
__attribute__((format(printf, 4, 5))) bool tap_ok_note(tap_t *t, bool ok, const char *desc,
                                                       const char *note_fmt, ...);
/* "# text"; a multi-line text becomes one "# " line per line. */
__attribute__((format(printf, 2, 3))) void tap_diag(tap_t *t, const char *fmt, ...);
/* Open a subtest of `parent`: writes "# Subtest: name" at the child's indent
 * and initialises `child` one level deeper. The caller writes the child's
 * plan and lines, then the parent's result line. */
void tap_subtest(tap_t *parent, tap_t *child, const char *name);

#endif
