/*
 * bounds.c — bounds of the checks on random quantities; see bounds.h.
 *
 * Tails are summed in log space from the probability mass function (lgamma),
 * so they are exact to double precision for the sizes the cases use (n up
 * to some 10^5). Quantile searches walk the tail from its end and stop at
 * the first count whose tail passes alpha.
 */
#include "bounds.h"

#include <math.h>

static double log_choose(uint64_t n, uint64_t k) {
  return lgamma((double)n + 1) - lgamma((double)k + 1) - lgamma((double)(n - k) + 1);
}

static double binom_pmf(uint64_t k, uint64_t n, double p) {
  if (p <= 0)
    return k == 0;
  if (p >= 1)
    return k == n;
  return exp(log_choose(n, k) + (double)k * log(p) + (double)(n - k) * log1p(-p));
}

double bound_binom_cdf(uint64_t k, uint64_t n, double p) {
  if (k >= n)
    return 1.0;
  double s = 0;
  for (uint64_t i = 0; i <= k; i++)
    s += binom_pmf(i, n, p);
  return s < 1.0 ? s : 1.0;
}

/* Support of the hypergeometric: [lo, hi]. */
static void hyper_support(uint64_t N, uint64_t K, uint64_t m, uint64_t *lo, uint64_t *hi) {
  *lo = m > N - K ? m - (N - K) : 0;
  *hi = K < m ? K : m;
}

static double hyper_pmf(uint64_t k, uint64_t N, uint64_t K, uint64_t m) {
  uint64_t lo, hi;
  hyper_support(N, K, m, &lo, &hi);
  if (k < lo || k > hi)
    return 0;
  return exp(log_choose(K, k) + log_choose(N - K, m - k) - log_choose(N, m));
}

double bound_hyper_cdf(uint64_t k, uint64_t N, uint64_t K, uint64_t m) {
  uint64_t lo, hi;
  hyper_support(N, K, m, &lo, &hi);
  if (k >= hi)
    return 1.0;
  double s = 0;
  for (uint64_t i = lo; i <= k; i++)
    s += hyper_pmf(i, N, K, m);
  return s < 1.0 ? s : 1.0;
}

uint64_t bound_binom_min(uint64_t n, double p, double alpha) {
  double below = 0; /* P(X < k) */
  uint64_t k = 0;
  while (k <= n) {
    double next = below + binom_pmf(k, n, p); /* P(X < k + 1) */
    if (next > alpha)
      break;
    below = next;
    k++;
  }
  return k;
}

uint64_t bound_hyper_min(uint64_t N, uint64_t K, uint64_t m, double alpha) {
  uint64_t lo, hi;
  hyper_support(N, K, m, &lo, &hi);
  double below = 0;
  uint64_t k = lo;
  while (k <= hi) {
    double next = below + hyper_pmf(k, N, K, m);
    if (next > alpha)
      break;
    below = next;
    k++;
  }
  return k;
}

uint64_t bound_hyper_max(uint64_t N, uint64_t K, uint64_t m, double alpha) {
  uint64_t lo, hi;
  hyper_support(N, K, m, &lo, &hi);
  double above = 0; /* P(X > k) */
  uint64_t k = hi;
  while (k > lo) {
    double next = above + hyper_pmf(k, N, K, m); /* P(X > k - 1) */
    if (next > alpha)
      break;
    above = next;
    k--;
  }
  return k;
}

double bound_kl(double q, double p) {
  double a = q > 0 ? q * log(q / p) : 0;
  double b = q < 1 ? (1 - q) * log((1 - q) / (1 - p)) : 0;
  return a + b;
}

/* The t in [0, room] with m KL(p + sign t || p) = log(1/alpha), by
 * bisection (KL grows with t); room when even that is likelier than alpha. */
static double chernoff(double p, double m, double alpha, double sign) {
  double room = sign > 0 ? 1 - p : p, target = log(1 / alpha);
  if (room <= 0)
    return 0;
  if (m * bound_kl(p + sign * room, p) < target)
    return room;
  double lo = 0, hi = room;
  for (int i = 0; i < 100; i++) {
    double mid = (lo + hi) / 2;
    if (m * bound_kl(p + sign * mid, p) < target)
      lo = mid;
    else
      hi = mid;
  }
  return hi;
}

double bound_chernoff_up(double p, double m, double alpha) {
  return chernoff(p, m, alpha, +1);
}

double bound_chernoff_down(double p, double m, double alpha) {
  return chernoff(p, m, alpha, -1);
}

/* What is left of an estimator's start value after the case's warm-up of 16
 * periods at a gain of 0.25 or more: 0.75^16 = 1 % of at most a whole. */
#define BOUND_WSS_START_LEFT 0.01

void bound_wss3(double f, unsigned n, unsigned readings, unsigned periods, double alpha,
                bound_wss3_t *out) {
  double half = alpha / 2;
  out->sampling_error = sqrt(f * (1 - f) / n);
  out->reading_hi = bound_chernoff_up(f, n, half / (3.0 * readings)) + BOUND_WSS_START_LEFT;
  out->reading_lo = bound_chernoff_down(f, n, half / readings) + BOUND_WSS_START_LEFT;
  double m = (double)periods * n;
  out->mean_hi = out->sampling_error + bound_chernoff_up(f, m, half) + BOUND_WSS_START_LEFT;
  out->mean_lo = bound_chernoff_down(f, m, half) + BOUND_WSS_START_LEFT;
}

uint64_t bound_spread_min(uint64_t starts, unsigned parts, double alpha) {
  return bound_binom_min(starts, 1.0 / parts, alpha / parts);
}
