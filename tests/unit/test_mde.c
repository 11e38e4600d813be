/*
 * test_mde.c — suite/mde.c and the critical values of suite/stats.c:
 * the critical U against the exact test itself (the largest u whose p is
 * below alpha, and u + 1 not), also through the normal approximation; the
 * change "detectable now" against the test (NEW moved by it is flagged,
 * moved by 1 % less it is not), "never" for 3+3 at 0.05, both directions;
 * the spread of normal-looking samples; the shift caught with 80 % power
 * against known values (two-sample t test: 1 standard deviation needs 17
 * a side; the Wilcoxon test about pi/3 times as many), the Monte Carlo
 * meeting the large-sample formula at 50 a side, and the samples needed
 * growing as the effect shrinks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <math.h>

#include "mde.h"
#include "stats.h"

static void p_at(double u, size_t m, size_t n, suite_mw_t *r) {
  /* Samples with exactly U = u pairs x > y: x's first u-by-n block above. */
  double x[64], y[64];
  for (size_t j = 0; j < n; j++)
    y[j] = (double)j + 0.5;
  long left = (long)u;
  for (size_t i = 0; i < m; i++) {
    long take = left > (long)n ? (long)n : left;
    x[i] = (double)take - 0.25 + 1e-3 * (double)i; /* above `take` of the y's, no ties */
    left -= take;
  }
  suite_stats_mann_whitney(x, m, y, n, r);
}

static void test_critical(void **state) {
  (void)state;
  assert_int_equal(suite_stats_mw_critical(3, 3, 0.05), -1); /* min p = 0.1 */
  assert_int_equal(suite_stats_mw_critical(4, 4, 0.05), 0);  /* 2/70 */
  for (size_t k = 4; k <= 12; k++) {
    long u = suite_stats_mw_critical(k, k, 0.05);
    suite_mw_t r;
    p_at((double)u, k, k, &r);
    assert_true(r.exact);
    assert_true(r.p < 0.05);
    p_at((double)u + 1, k, k, &r);
    assert_true(r.p >= 0.05);
  }
  /* Published table (Mann-Whitney, two-sided 0.05): 5+5 -> 2, 8+8 -> 13, 10+10 -> 23. */
  assert_int_equal(suite_stats_mw_critical(5, 5, 0.05), 2);
  assert_int_equal(suite_stats_mw_critical(8, 8, 0.05), 13);
  assert_int_equal(suite_stats_mw_critical(10, 10, 0.05), 23);
  /* Normal approximation beyond the exact range: about mu - 1.96 sigma. */
  long u = suite_stats_mw_critical(60, 60, 0.05);
  double mu = 1800, sigma = sqrt(60.0 * 60 * 121 / 12);
  assert_true(fabs((double)u - (mu - 1.96 * sigma - 0.5)) <= 1.5);
}

static void test_now(void **state) {
  (void)state;
  const double x[] = {100, 102, 98, 101, 99, 103, 97, 100.5}; /* no ties: the exact test */
  const double y[] = {90, 93, 88, 91, 92, 89, 90.5, 94};
  for (int dir = -1; dir <= 1; dir += 2) {
    double d = suite_mde_now(x, 8, y, 8, 0.05, dir);
    assert_true(d > 0 && d < 0.2);
    double my = suite_stats_median(y, 8), mx = suite_stats_median(x, 8);
    double moved[8];
    suite_mw_t r;
    for (int k = 0; k < 8; k++)
      moved[k] = y[k] - my + mx * (1 + dir * (d + 1e-9));
    suite_stats_mann_whitney(x, 8, moved, 8, &r);
    assert_true(r.p < 0.05);
    for (int k = 0; k < 8; k++)
      moved[k] = y[k] - my + mx * (1 + dir * (d - 0.01));
    suite_stats_mann_whitney(x, 8, moved, 8, &r);
    assert_true(r.p >= 0.05);
  }
  assert_true(isnan(suite_mde_now(x, 3, y, 3, 0.05, -1)));
  const double zero[] = {0, 0, 0, 0};
  assert_true(isinf(suite_mde_now(zero, 4, y, 4, 0.05, 1)));
}

static void test_spread(void **state) {
  (void)state;
  /* Deviations +-1, +-2 around 100: MAD 1.5, sigma 2.22, relative 2.2 %. */
  const double x[] = {98, 99, 100, 101, 102}, y[] = {48, 49, 50, 51, 52};
  assert_true(fabs(suite_mde_spread(x, 5, y, 5) - 1.4826 * 1 / 100) < 1e-9);
  const double same[] = {5, 5, 5, 5};
  assert_true(suite_mde_spread(same, 4, same, 4) == 0);
}

static void test_power(void **state) {
  (void)state;
  assert_true(isnan(suite_mde_at(3, 0.05, 0.8)));
  /* One standard deviation: the t test needs 17 a side for 80 %; the rank
   * test a little more (pi/3 asymptotically). */
  size_t k = suite_mde_samples_for(0.1, 0.1, 0.05, 0.8);
  assert_true(k >= 17 && k <= 21);
  /* 50 a side: Monte Carlo and the large-sample formula agree within 5 %. */
  double mc = suite_mde_at(50, 0.05, 0.8), formula = (1.959964 + 0.841621) * sqrt(M_PI / 3) * 0.2;
  assert_true(fabs(mc / formula - 1) < 0.05);
  /* Smaller effects need more samples; no noise needs the fewest that reach alpha. */
  assert_true(suite_mde_samples_for(0.05, 0.1, 0.05, 0.8) > k);
  assert_int_equal(suite_mde_samples_for(0.05, 0, 0.05, 0.8), 4);
  assert_int_equal(suite_mde_samples_for(0.001, 1, 0.05, 0.8), 0); /* beyond 1000 */
  /* Fewer samples catch only larger shifts. */
  assert_true(suite_mde_at(5, 0.05, 0.8) > suite_mde_at(10, 0.05, 0.8));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_critical),
      cmocka_unit_test(test_now),
      cmocka_unit_test(test_spread),
      cmocka_unit_test(test_power),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
