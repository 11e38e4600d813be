/*
 * bounds.h — bounds of the suite's checks on random quantities, each with
 * its false-failure probability (prefix bound_).
 *
 * A certificate that fails a correct implementation by chance is as wrong
 * as one that passes a broken one. Every check that compares something
 * random (a sampled working-set estimate, the spread of randomly chosen swap
 * victims, sharing progress over a randomly laid out VM) takes its bound
 * from here: derived from the documented sampling, for a stated probability
 * BOUND_ALPHA that a correct implementation fails the check by chance. The
 * check's diagnostic names that probability; tests/unit/test_bounds.c runs
 * each bound over enough seeds (against the reference's pure policies where
 * there is one) to show the rate holds (`make check-stats` runs the full
 * count). The functions are pure: no clock, no randomness, no I/O.
 *
 * Tools: exact binomial and hypergeometric tails (log-space sums), and the
 * Chernoff bound exp(-m KL(p +- t || p)) for a mean of m Bernoulli(p) draws,
 * which also bounds any weighted average of independent sample fractions
 * whose weights are at most 1/m each and sum to 1 (such an average is
 * majorised by the plain mean of m draws, and the moment generating function
 * is Schur-convex), and sampling without replacement (Hoeffding 1963,
 * theorem 4).
 */
#ifndef SUITE_BOUNDS_H
#define SUITE_BOUNDS_H

#include <stdint.h>

/* The false-failure probability each statistical check allows. */
#define BOUND_ALPHA 1e-4

/* P(X <= k) for X ~ Binomial(n, p). */
double bound_binom_cdf(uint64_t k, uint64_t n, double p);
/* P(X <= k) for X ~ Hypergeometric: m draws without replacement from N
 * items of which K are marked. */
double bound_hyper_cdf(uint64_t k, uint64_t N, uint64_t K, uint64_t m);
/* The smallest count a check may accept: the largest k with
 * P(X < k) <= alpha (0 when even 0 is that rare... never: P(X < 0) = 0). */
uint64_t bound_binom_min(uint64_t n, double p, double alpha);
uint64_t bound_hyper_min(uint64_t N, uint64_t K, uint64_t m, double alpha);
/* The largest count a check may accept: the smallest k with
 * P(X > k) <= alpha. */
uint64_t bound_hyper_max(uint64_t N, uint64_t K, uint64_t m, double alpha);
/* Kullback-Leibler divergence of Bernoulli(q) from Bernoulli(p). */
double bound_kl(double q, double p);
/* The deviation t >= 0 of a mean of m Bernoulli(p) draws above p (up) or
 * below p (down) with Chernoff probability exp(-m KL(p +- t || p)) <= alpha. */
double bound_chernoff_up(double p, double m, double alpha);
double bound_chernoff_down(double p, double m, double alpha);

/* ---- WSS-3: a steady touched fraction f, n pages sampled per period.
 * The estimator the SPEC documents (WSS-2) is the largest of three
 * components: a slow and a fast exponentially weighted average of the
 * periods' sampled fractions, and the fast one with the current period.
 * Whatever their gains (in (0, 1]), each component is a weighted average of
 * sample fractions with weights summing to at most 1 (plus the start value's
 * share, gone after warm-up).
 *  - Every reading: above f by more than reading_hi needs one of the three
 *    components there, below f by more than reading_lo needs all of them
 *    (the largest is at least the slow one): Chernoff on one period's n
 *    pages, union over `readings` readings (3 components up, 1 down).
 *  - The mean of the readings over `periods` whole periods: each period's
 *    fraction weighs at most 1/periods in it, so Chernoff on periods x n
 *    pages; above, the largest-of-three's own bias is allowed one sampling
 *    error s = sqrt(f (1 - f) / n) (WSS-3: "within the sampling error").
 * alpha is the probability of the whole check failing (split evenly). */
typedef struct bound_wss3 {
  double reading_lo, reading_hi; /* each reading in [f - lo, f + hi] */
  double mean_lo, mean_hi;       /* the mean of the readings in [f - lo, f + hi] */
  double sampling_error;         /* s */
} bound_wss3_t;
void bound_wss3(double f, unsigned n, unsigned readings, unsigned periods, double alpha,
                bound_wss3_t *out);

/* ---- WSS-2: a step of D = 0.6 between 0.2 and 0.8, n = 100. The
 * documented dynamics ("responds to increases within about one period, to
 * decreases over several") as thresholds on fractions of the step, the
 * sampling noise of the one or two periods that decide each folded in (at
 * f = 0.8 one period's fraction has s = 4 points; the fast average carries
 * most of it): one period after a step up at least f0 + UP1 x D; two periods
 * after, within UP2_GAP of f1; one period after a step down still at least
 * f1 + DOWN1 x D. Their false-failure rates with the reference's estimator
 * are measured by tests/unit/test_bounds.c (make check-stats). */
#define BOUND_WSS2_UP1 0.6
#define BOUND_WSS2_UP2_GAP 0.15
#define BOUND_WSS2_DOWN1 0.5

/* ---- SWAP-2: victims "chosen at random". An implementation may take them
 * in clusters (runs of neighbouring pages from a random start); what must be
 * uniform is where the clusters start. With `starts` cluster starts over a
 * VM cut into `parts` equal parts, each part holds Binomial(starts, 1/parts)
 * of them under the null; the smallest count accepted in every part (union
 * over the parts) at probability alpha. */
uint64_t bound_spread_min(uint64_t starts, unsigned parts, double alpha);

#endif
