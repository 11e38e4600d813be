/*
 * bench.h — benchmarks of `mmcert bench` (prefix suite_bench_), one row per
 * benchmark in the table suite_benches[] (suite/bench/table.c), so the
 * command is a table-driven dispatcher like the cases.
 *
 * A benchmark measures and prints its own table rows: the figure, the
 * physical limit or peer it is compared with (measured in the same run),
 * and the ratio (DESIGN.md "Performance, measured, never guessed").
 */
#ifndef SUITE_BENCH_H
#define SUITE_BENCH_H

#include <stdio.h>

#include "mmcert/impl.h"
#include "runner.h"

typedef struct suite_bench_opts {
  const suite_impl_t *si; /* --impl (default libmmref.so), inspected; each benchmark loads
                             it in its own process (bu_load_impl); NULL: it finds one */
  const char *impl_path;
  unsigned repeat; /* --repeat N: measurements per figure; 0 when not given
                     (each benchmark then takes its own default) */
  FILE *out;       /* the table */
  FILE *err;       /* messages */
} suite_bench_opts_t;

typedef struct suite_bench {
  const char *name;  /* what `mmcert bench NAME` selects: "migrate", "hash" */
  const char *title; /* one line */
  /* 0 when measured and printed; otherwise non-zero after a message on
   * opts->err (the command then exits 1). */
  int (*run)(const suite_bench_opts_t *opts);
} suite_bench_t;

/* One measurement of a figure: 0 and *value, or non-zero after a message
 * on the opts' err stream. */
typedef int (*suite_bench_measure_fn)(void *arg, double *value);

/* The generic --repeat: measure one figure opts->repeat times (every sample
 * kept in samples[0..repeat) when samples is not NULL) and print one row
 *   "  NAME  MEDIAN UNIT  IQR Q1..Q3  range MIN..MAX  n=N  (BETTER is better)"
 * on opts->out. Returns 0, or the first non-zero from `measure` (nothing
 * printed then). suite/bench/repeat.c. */
int suite_bench_figure(const suite_bench_opts_t *opts, const char *name, const char *unit,
                       const char *better, suite_bench_measure_fn measure, void *arg,
                       double *samples);

/* Every table row a benchmark prints from now on is also recorded into r
 * (NULL: not recorded): the figure, its peer and their ratio as metrics,
 * the target, when it is one ("[p99] >= X [unit]", "<= X"), as a check.
 * mmcert bench sets it around each benchmark (one runs at a time) and
 * writes the results file (mode bench). suite/bench/bench_util.c. */
void suite_bench_record_into(suite_result_t *r);

/* Run benchmark b in a child of mmcert (supervise.c): the implementation is
 * loaded there, never in mmcert; its rows arrive as records while it runs,
 * so a benchmark whose implementation crashes or stops is broken, said so,
 * and keeps the figures it measured. Fills r (records, verdict: broken when
 * it could not measure, fail when a target was missed, else pass; reason;
 * duration). suite/bench/bench_util.c. */
void suite_bench_run(const suite_bench_t *b, const suite_bench_opts_t *opts, suite_result_t *r);

/* Terminated by a row with name == NULL; may hold no benchmark yet. */
extern const suite_bench_t suite_benches[];

#endif
