/*
 * stats.c — medians, quartiles and the two-sided Mann–Whitney U test (see
 * stats.h). The exact null distribution of U for sizes m, n is counted with
 * the recurrence f(m, n, u) = f(m-1, n, u-n) + f(m, n-1, u) (additions only,
 * so no cancellation in floating point); larger or tied samples use the
 * normal approximation with the tie-corrected variance
 *   sigma^2 = m n / 12 * ((N + 1) - sum(t^3 - t) / (N (N - 1)))
 * and a continuity correction of 1/2.
 */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double *sorted_copy(const double *x, size_t n) {
  double *s = malloc((n ? n : 1) * sizeof *s);
  if (!s)
    return NULL;
  if (n) { /* x may be NULL when n is 0, which memcpy must not get */
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
  }
  return s;
}

/* R type 7: h = (n - 1) q, interpolate between the neighbours. */
static double quantile_sorted(const double *s, size_t n, double q) {
  double h = (double)(n - 1) * q;
  size_t lo = (size_t)floor(h);
  size_t hi = lo + 1 < n ? lo + 1 : lo;
  return s[lo] + (h - (double)lo) * (s[hi] - s[lo]);
}

void suite_stats_summary(const double *x, size_t n, suite_summary_t *out) {
  *out = (suite_summary_t){.n = n, .min = NAN, .q1 = NAN, .median = NAN, .q3 = NAN, .max = NAN};
  double *s = n ? sorted_copy(x, n) : NULL;
  if (!s)
    return;
  out->min = s[0];
  out->max = s[n - 1];
  out->q1 = quantile_sorted(s, n, 0.25);
  out->median = quantile_sorted(s, n, 0.5);
  out->q3 = quantile_sorted(s, n, 0.75);
  free(s);
}

double suite_stats_median(const double *x, size_t n) {
  suite_summary_t s;
  suite_stats_summary(x, n, &s);
  return s.median;
}

double suite_stats_mw_min_p(size_t nx, size_t ny) {
  /* C(nx+ny, nx) as a product, in doubles (exact enough for a bound). */
  double c = 1;
  for (size_t i = 1; i <= nx; i++)
    c = c * (double)(ny + i) / (double)i;
  double p = 2.0 / c;
  return p < 1 ? p : 1;
}

/* The null distribution of U for sizes m, n without ties: P(U = k) for
 * k = 0..m n (malloc'd; NULL when out of memory). */
static double *exact_dist(size_t m, size_t n) {
  size_t umax = m * n, w = umax + 1;
  /* prev[i][k] = f(i, j-1, k), cur[i][k] = f(i, j, k) for i = 0..m. */
  double *prev = calloc((m + 1) * w, sizeof *prev), *cur = calloc((m + 1) * w, sizeof *cur);
  double *dist = malloc(w * sizeof *dist);
  if (!prev || !cur || !dist) {
    free(prev);
    free(cur);
    free(dist);
    return NULL;
  }
  for (size_t i = 0; i <= m; i++)
    prev[i * w] = 1; /* f(i, 0, 0) = 1 */
  for (size_t j = 1; j <= n; j++) {
    memset(cur, 0, (m + 1) * w * sizeof *cur);
    cur[0] = 1; /* f(0, j, 0) = 1 */
    for (size_t i = 1; i <= m; i++)
      for (size_t k = 0; k <= i * j; k++)
        cur[i * w + k] = (k >= j ? cur[(i - 1) * w + k - j] : 0) + prev[i * w + k];
    double *t = prev;
    prev = cur;
    cur = t;
  }
  double total = 0;
  for (size_t k = 0; k <= umax; k++)
    total += prev[m * w + k];
  for (size_t k = 0; k <= umax; k++)
    dist[k] = prev[m * w + k] / total;
  free(prev);
  free(cur);
  return dist;
}

/* P(U <= u) under the null for sizes m, n without ties. */
static double exact_cdf(size_t m, size_t n, double u) {
  double *dist = exact_dist(m, n), below = 0;
  if (!dist)
    return NAN;
  for (size_t k = 0; k <= m * n; k++)
    if ((double)k <= u + 1e-9)
      below += dist[k];
  free(dist);
  return below;
}

long suite_stats_mw_critical(size_t m, size_t n, double alpha) {
  if (!m || !n)
    return -1;
  double mu = (double)m * (double)n / 2;
  if (m <= SUITE_STATS_EXACT_MAX && n <= SUITE_STATS_EXACT_MAX) {
    double *dist = exact_dist(m, n), cdf = 0;
    if (!dist)
      return -1;
    long u = -1;
    for (size_t k = 0; (double)k < mu && 2 * (cdf += dist[k]) < alpha; k++)
      u = (long)k;
    free(dist);
    return u;
  }
  /* Normal approximation (no ties): p(u) = erfc((mu - u - 1/2) / sigma / sqrt 2),
   * decreasing in mu - u: the largest u below alpha by bisection. */
  double sigma = sqrt((double)m * (double)n * (double)(m + n + 1) / 12);
  long lo = -1, hi = (long)floor(mu); /* p(lo) < alpha (or lo = -1), p(hi) >= alpha */
  if (erfc(fmax(0, mu - 0.5) / sigma / sqrt(2)) >= alpha)
    return -1;
  lo = 0;
  while (hi - lo > 1) {
    long mid = lo + (hi - lo) / 2;
    if (erfc(fmax(0, mu - (double)mid - 0.5) / sigma / sqrt(2)) < alpha)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

typedef struct tagged {
  double v;
  int who; /* 0 = x, 1 = y */
} tagged_t;

static int cmp_tagged(const void *a, const void *b) {
  return cmp_double(&((const tagged_t *)a)->v, &((const tagged_t *)b)->v);
}

static int mann_whitney(const double *x, size_t nx, const double *y, size_t ny, bool allow_exact,
                        suite_mw_t *out) {
  if (!nx || !ny)
    return -1;
  size_t n = nx + ny;
  tagged_t *a = malloc(n * sizeof *a);
  if (!a)
    return -1;
  for (size_t i = 0; i < nx; i++)
    a[i] = (tagged_t){x[i], 0};
  for (size_t i = 0; i < ny; i++)
    a[nx + i] = (tagged_t){y[i], 1};
  qsort(a, n, sizeof *a, cmp_tagged);
  /* Mid-ranks; sum of x's ranks; tie term sum(t^3 - t). */
  double rx = 0, ties = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && a[j + 1].v == a[i].v)
      j++;
    double rank = (double)(i + j) / 2 + 1, t = (double)(j - i + 1);
    for (size_t k = i; k <= j; k++)
      rx += a[k].who == 0 ? rank : 0;
    ties += t * t * t - t;
    i = j + 1;
  }
  free(a);
  double u = rx - (double)nx * (double)(nx + 1) / 2, mu = (double)nx * (double)ny / 2;
  *out = (suite_mw_t){.u = u};
  if (allow_exact && ties == 0 && nx <= SUITE_STATS_EXACT_MAX && ny <= SUITE_STATS_EXACT_MAX) {
    /* U is symmetric about mu: double the smaller tail. */
    double lo = u <= mu ? u : 2 * mu - u;
    out->p = fmin(1.0, 2 * exact_cdf(nx, ny, lo));
    out->exact = true;
    return 0;
  }
  double N = (double)n;
  double var = (double)nx * (double)ny / 12 * ((N + 1) - ties / (N * (N - 1)));
  if (var <= 0) { /* every value equal: no evidence of any difference */
    out->p = 1;
    return 0;
  }
  double z = fmax(0, fabs(u - mu) - 0.5) / sqrt(var);
  out->p = fmin(1.0, erfc(z / sqrt(2)));
  return 0;
}

int suite_stats_mann_whitney(const double *x, size_t nx, const double *y, size_t ny,
                             suite_mw_t *out) {
  return mann_whitney(x, nx, y, ny, true, out);
}

int suite_stats_mw_normal(const double *x, size_t nx, const double *y, size_t ny, suite_mw_t *out) {
  return mann_whitney(x, nx, y, ny, false, out);
}
