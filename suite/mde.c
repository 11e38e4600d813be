/*
 * mde.c — minimum detectable effects (see mde.h).
 *
 * At k samples a side the power of the test is estimated by Monte Carlo
 * for k <= MC_MAX_K: MC_DRAWS pairs of k standard normal samples (the same
 * draws for every shift tried, from a fixed seed per k, so the power is a
 * monotone step function of the shift and the answer reproducible), each
 * pair sorted once; a shift d rejects a pair when its U (old > new + d)
 * reaches the critical value of stats.h. The shift with the wanted power
 * is found by bisection. Beyond MC_MAX_K the large-sample formula is used:
 * the test's asymptotic efficiency against the t test under normal noise
 * is 3/pi, so d = (z(1 - alpha/2) + z(power)) sqrt(pi/3) sqrt(2/k).
 * Results are cached per (k, alpha, power) for the process.
 */
#include "mde.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

enum { MC_MAX_K = 50, MC_DRAWS = 1000, BISECT_STEPS = 40, CACHE = 128 };

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* ------------------------------------------------------------ detectable now */

double suite_mde_now(const double *x, size_t m, const double *y, size_t n, double alpha, int dir) {
  long ucrit = suite_stats_mw_critical(m, n, alpha);
  if (ucrit < 0 || !m || !n)
    return NAN;
  double mx = suite_stats_median(x, m), my = suite_stats_median(y, n);
  if (mx == 0)
    return INFINITY;
  double *a = malloc(m * n * sizeof *a);
  if (!a)
    return NAN;
  /* a_ij > d: the pair counts against the change of size d in direction dir. */
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++)
      a[i * n + j] = dir * (x[i] - (y[j] - my) - mx);
  qsort(a, m * n, sizeof *a, cmp_double);
  double d = a[m * n - 1 - (size_t)ucrit]; /* the (ucrit + 1)-th largest */
  free(a);
  return fmax(0, d) / fabs(mx);
}

double suite_mde_spread(const double *x, size_t m, const double *y, size_t n) {
  double mx = suite_stats_median(x, m), my = suite_stats_median(y, n);
  size_t N = m + n;
  double *r = malloc((N ? N : 1) * sizeof *r);
  if (!r || !N) {
    free(r);
    return NAN;
  }
  double ss = 0;
  for (size_t i = 0; i < N; i++) {
    double v = i < m ? x[i] - mx : y[i - m] - my;
    ss += v * v;
    r[i] = fabs(v);
  }
  double sigma = 1.4826 * suite_stats_median(r, N);
  free(r);
  if (sigma == 0 && N > 2)
    sigma = sqrt(ss / (double)(N - 2)); /* two medians estimated */
  if (sigma == 0)
    return 0;
  return mx == 0 ? INFINITY : sigma / fabs(mx);
}

/* ------------------------------------------------------------ at k a side */

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double normal(uint64_t *s) { /* Box-Muller, one of the pair */
  double u1 = ((double)(splitmix(s) >> 11) + 0.5) / 9007199254740992.0;
  double u2 = (double)(splitmix(s) >> 11) / 9007199254740992.0;
  return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

/* U of sorted a against sorted b + d: pairs with a_i > b_j + d. */
static long u_of(const double *a, const double *b, size_t k, double d) {
  long u = 0;
  size_t j = 0;
  for (size_t i = 0; i < k; i++) {
    while (j < k && b[j] + d < a[i])
      j++;
    u += (long)j;
  }
  return u;
}

static double power_of(const double *draws, size_t k, long ucrit, double d) {
  size_t hit = 0;
  for (size_t s = 0; s < MC_DRAWS; s++)
    hit += u_of(draws + 2 * s * k, draws + (2 * s + 1) * k, k, d) <= ucrit;
  return (double)hit / MC_DRAWS;
}

/* z with P(Z <= z) = p, by bisection on erfc. */
static double z_of(double p) {
  double lo = -10, hi = 10;
  for (int i = 0; i < 100; i++) {
    double mid = (lo + hi) / 2;
    if (0.5 * erfc(-mid / sqrt(2)) < p)
      lo = mid;
    else
      hi = mid;
  }
  return (lo + hi) / 2;
}

static double monte_carlo(size_t k, long ucrit, double power) {
  double *draws = malloc(2 * MC_DRAWS * k * sizeof *draws);
  if (!draws)
    return NAN;
  uint64_t seed = 0x6d6d63657274ull + k;
  for (size_t i = 0; i < 2 * MC_DRAWS * k; i++)
    draws[i] = normal(&seed);
  for (size_t s = 0; s < 2 * MC_DRAWS; s++)
    qsort(draws + s * k, k, sizeof *draws, cmp_double);
  double lo = 0, hi = 1;
  while (power_of(draws, k, ucrit, hi) < power && hi < 1e6)
    hi *= 2;
  for (int i = 0; i < BISECT_STEPS; i++) {
    double mid = (lo + hi) / 2;
    if (power_of(draws, k, ucrit, mid) >= power)
      hi = mid;
    else
      lo = mid;
  }
  free(draws);
  return hi;
}

double suite_mde_at(size_t k, double alpha, double power) {
  static struct {
    size_t k;
    double alpha, power, d;
  } cache[CACHE];
  static size_t ncache;
  for (size_t i = 0; i < ncache; i++)
    if (cache[i].k == k && cache[i].alpha == alpha && cache[i].power == power)
      return cache[i].d;
  long ucrit = suite_stats_mw_critical(k, k, alpha);
  double d = NAN;
  if (ucrit >= 0 && k <= MC_MAX_K)
    d = monte_carlo(k, ucrit, power);
  else if (ucrit >= 0)
    d = (z_of(1 - alpha / 2) + z_of(power)) * sqrt(M_PI / 3) * sqrt(2.0 / (double)k);
  cache[ncache % CACHE].k = k;
  cache[ncache % CACHE].alpha = alpha;
  cache[ncache % CACHE].power = power;
  cache[ncache % CACHE].d = d;
  ncache++;
  return d;
}

size_t suite_mde_samples_for(double effect, double spread, double alpha, double power) {
  size_t k = 2;
  while (k <= SUITE_MDE_MAX_SAMPLES && suite_stats_mw_critical(k, k, alpha) < 0)
    k++;
  if (spread == 0)
    return k <= SUITE_MDE_MAX_SAMPLES ? k : 0;
  if (!(spread > 0) || !isfinite(spread))
    return 0;
  double target = effect / spread;
  for (; k <= MC_MAX_K; k++)
    if (suite_mde_at(k, alpha, power) <= target)
      return k;
  /* The large-sample formula, solved for k. */
  double z = (z_of(1 - alpha / 2) + z_of(power)) * sqrt(M_PI / 3) * sqrt(2.0) / target;
  double need = ceil(z * z);
  if (need < (double)k)
    need = (double)k;
  return need <= SUITE_MDE_MAX_SAMPLES ? (size_t)need : 0;
}
