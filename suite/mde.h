/*
 * mde.h — minimum detectable effects of `mmcert compare` (prefix
 * suite_mde_): how small a change the two-sided Mann–Whitney
 * test of stats.h can flag with the samples at hand, and how many samples
 * a side a smaller one would need.
 *
 * Two questions, two answers:
 *  - detectable now: the smallest shift of NEW's median (relative to OLD's)
 *    that, applied to NEW's samples as they are (same spread), would reach
 *    p < alpha against OLD's samples — in the metric's worse direction.
 *    No model: it is read off the samples (below). A shift of that size in
 *    truth is caught about half of the time; "never" when the sample sizes
 *    cannot reach alpha at all (2 / C(m+n, m) >= alpha: 3+3 at 0.05).
 *  - at k samples a side: the shift caught with probability `power` when
 *    both sides are k samples of the same normal noise, in units of its
 *    standard deviation (Monte Carlo of the same test, fixed seed, so the
 *    answer is reproducible). The noise of a metric is estimated from its
 *    samples (suite_mde_spread), so `--repeat` guidance follows.
 *
 * Detectable now, computed exactly: with OLD x (median mx) and NEW's
 * deviations e_j = y_j - median(y), NEW moved to median mx + d has
 * U(d) = #{(i, j): x_i > e_j + mx + d}, a step function of d; the test
 * rejects when U <= u_crit or U >= m n - u_crit (stats.h's critical value),
 * so the smallest d is an order statistic of the pairwise thresholds
 * x_i - e_j - mx.
 */
#ifndef SUITE_MDE_H
#define SUITE_MDE_H

#include <stddef.h>

#define SUITE_MDE_POWER 0.8
#define SUITE_MDE_MAX_SAMPLES 1000 /* guidance stops here: "more than 1000" */

/* Smallest relative change of NEW's median that these samples would flag at
 * alpha, in direction dir (+1 up, -1 down), as a fraction of |median(x)|;
 * NAN when the sizes can never reach alpha, INFINITY when the old median is
 * 0 (a relative change is undefined). */
double suite_mde_now(const double *x, size_t m, const double *y, size_t n, double alpha, int dir);

/* The noise of a metric relative to its level: a robust standard
 * deviation of both sides' deviations from their own medians (1.4826 x
 * their median absolute deviation; the standard deviation when that is 0)
 * over |median(x)|. 0 when every sample equals its side's median. */
double suite_mde_spread(const double *x, size_t m, const double *y, size_t n);

/* The shift, in standard deviations of normal noise, that the test at
 * alpha catches with probability `power` with k samples a side; NAN when k
 * samples a side can never reach alpha. */
double suite_mde_at(size_t k, double alpha, double power);

/* Samples a side needed to catch a relative change `effect` of a metric
 * whose relative noise is `spread` with probability `power` at alpha
 * (the smallest k, at least the smallest that can reach alpha); 0 when
 * more than SUITE_MDE_MAX_SAMPLES would be needed. */
size_t suite_mde_samples_for(double effect, double spread, double alpha, double power);

#endif
