/*
 * repeat.c — the generic repetition of `mmcert bench --repeat N` (see
 * bench.h): a benchmark hands one measurement function per figure; this
 * repeats it, keeps every sample, and prints the median with its spread
 * (interquartile range and min..max), so every benchmark summarises alike.
 */
#include <stdlib.h>

#include "bench.h"
#include "stats.h"

int suite_bench_figure(const suite_bench_opts_t *o, const char *name, const char *unit,
                       const char *better, suite_bench_measure_fn measure, void *arg,
                       double *samples) {
  unsigned n = o->repeat ? o->repeat : 1;
  double *x = samples ? samples : malloc(n * sizeof *x);
  if (!x) {
    fprintf(o->err, "mmcert bench: %s: out of memory for %u samples\n", name, n);
    return -1;
  }
  int rc = 0;
  for (unsigned i = 0; i < n && !rc; i++)
    rc = measure(arg, &x[i]);
  if (!rc) {
    suite_summary_t s;
    suite_stats_summary(x, n, &s);
    fprintf(o->out, "  %-32s %12.6g %-8s IQR %.6g..%.6g  range %.6g..%.6g  n=%u%s%s%s\n", name,
            s.median, unit, s.q1, s.q3, s.min, s.max, n, better && *better ? "  (" : "",
            better && *better ? better : "", better && *better ? " is better)" : "");
  }
  if (x != samples)
    free(x);
  return rc;
}
