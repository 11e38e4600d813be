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

typedef struct suite_bench_opts {
  const mmc_impl_t *impl; /* --impl (default libmmref.so), loaded and checked */
  const char *impl_path;
  unsigned repeat; /* --repeat N: measurements per figure (>= 1) */
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

/* Terminated by a row with name == NULL; may hold no benchmark yet. */
extern const suite_bench_t suite_benches[];

#endif
