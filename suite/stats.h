/*
 * stats.h — summaries and the Mann–Whitney U test for `mmcert compare`
 * and repeated runs (prefix suite_stats_).
 *
 * Summaries quote the median and the spread (quartiles by linear
 * interpolation, R's type 7, and min/max). The U test is two-sided: exact
 * (the null distribution counted, no approximation) when neither sample has
 * more than SUITE_STATS_EXACT_MAX values and there are no ties; otherwise
 * the normal approximation with tie correction and continuity correction
 * (as R's wilcox.test and SciPy's mannwhitneyu do).
 */
#ifndef SUITE_STATS_H
#define SUITE_STATS_H

#include <stdbool.h>
#include <stddef.h>

#define SUITE_STATS_EXACT_MAX 50

typedef struct suite_summary {
  size_t n;
  double min, q1, median, q3, max;
} suite_summary_t;

typedef struct suite_mw {
  double u;   /* U of the first sample: pairs (x, y) with x > y, ties count 1/2 */
  double p;   /* two-sided p-value */
  bool exact; /* exact distribution (no ties, small samples) */
} suite_mw_t;

/* Median of x[0..n) (x is not changed); NaN when n == 0. */
double suite_stats_median(const double *x, size_t n);
/* All fields NaN (n = 0) when n == 0. */
void suite_stats_summary(const double *x, size_t n, suite_summary_t *out);
/* -1 when either sample is empty, else 0. */
int suite_stats_mann_whitney(const double *x, size_t nx, const double *y, size_t ny,
                             suite_mw_t *out);
/* The same, always by the normal approximation (for tests and comparison). */
int suite_stats_mw_normal(const double *x, size_t nx, const double *y, size_t ny, suite_mw_t *out);
/* The smallest two-sided p the test can give for these sizes (no ties):
 * 2 / C(nx+ny, nx). Below alpha only from about 4 samples a side. */
double suite_stats_mw_min_p(size_t nx, size_t ny);
/* The critical value: the largest u whose two-sided p (U = u, or
 * U = nx ny - u) is below alpha, from the exact distribution when neither
 * size exceeds SUITE_STATS_EXACT_MAX, else the normal approximation; -1
 * when no U reaches alpha for these sizes. */
long suite_stats_mw_critical(size_t nx, size_t ny, double alpha);

#endif
