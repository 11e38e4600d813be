/*
 * test_stats.c — suite/stats.c against published values: R's wilcox.test
 * example (Hollander & Wolfe, W = 35, one-sided p = 0.1272), SciPy's
 * mannwhitneyu example (males/females, U = 17, exact p = 1/9, asymptotic p =
 * 0.11134688653314041), complete separation (p = 2 / C(10, 5)), a tied
 * sample worked by hand, and R type-7 quartiles.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>

#include "stats.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void assert_near(double got, double want, double tol) {
  if (fabs(got - want) > tol)
    fail_msg("got %.12g, want %.12g (tolerance %g)", got, want, tol);
}

static void test_r_example(void **state) {
  (void)state;
  const double x[] = {0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46};
  const double y[] = {1.15, 0.88, 0.90, 0.74, 1.21};
  suite_mw_t r;
  assert_int_equal(suite_stats_mann_whitney(x, N(x), y, N(y), &r), 0);
  assert_true(r.exact);
  assert_near(r.u, 35, 0);
  assert_near(r.p, 2 * 0.1272, 0.0002); /* R prints the one-sided 0.1272 */
  /* The test is symmetric: swapping the samples keeps p, U becomes m n - U. */
  suite_mw_t s;
  suite_stats_mann_whitney(y, N(y), x, N(x), &s);
  assert_near(s.u, 50 - 35, 0);
  assert_near(s.p, r.p, 1e-12);
}

static void test_scipy_example(void **state) {
  (void)state;
  const double males[] = {19, 22, 16, 29, 24}, females[] = {20, 11, 17, 12};
  suite_mw_t r;
  suite_stats_mann_whitney(males, 5, females, 4, &r);
  assert_true(r.exact);
  assert_near(r.u, 17, 0);
  assert_near(r.p, 1.0 / 9, 1e-12);
  suite_stats_mw_normal(males, 5, females, 4, &r);
  assert_false(r.exact);
  assert_near(r.p, 0.11134688653314041, 1e-12);
}

static void test_separation(void **state) {
  (void)state;
  const double a[] = {1, 2, 3, 4, 5}, b[] = {6, 7, 8, 9, 10};
  suite_mw_t r;
  suite_stats_mann_whitney(a, 5, b, 5, &r);
  assert_near(r.u, 0, 0);
  assert_near(r.p, 2.0 / 252, 1e-12);
  assert_near(suite_stats_mw_min_p(5, 5), 2.0 / 252, 1e-12);
  /* Three a side can never reach 0.05: the smallest p is 2/20. */
  suite_stats_mann_whitney(a, 3, b, 3, &r);
  assert_near(r.p, 0.1, 1e-12);
  assert_near(suite_stats_mw_min_p(3, 3), 0.1, 1e-12);
  suite_stats_mann_whitney(a, 1, b, 1, &r);
  assert_near(r.p, 1, 0);
}

/* x = {1,2,2,3}, y = {2,3,3,4}: mid-ranks give Rx = 13, U = 3; tie groups
 * of 3 and 3, sum(t^3 - t) = 48; var = 16/12 (9 - 48/56) = 10.857142857;
 * z = (|3 - 8| - 0.5) / sqrt(var) = 1.3656982; p = erfc(z / sqrt 2). */
static void test_ties(void **state) {
  (void)state;
  const double x[] = {1, 2, 2, 3}, y[] = {2, 3, 3, 4};
  suite_mw_t r;
  suite_stats_mann_whitney(x, 4, y, 4, &r);
  assert_false(r.exact);
  assert_near(r.u, 3, 0);
  assert_near(r.p, 0.17203370892182296, 1e-12);
  const double same[] = {5, 5, 5};
  suite_stats_mann_whitney(same, 3, same, 3, &r);
  assert_near(r.p, 1, 0);
  assert_int_equal(suite_stats_mann_whitney(x, 0, y, 4, &r), -1);
}

/* Large samples take the normal approximation; where both apply they agree. */
static void test_large_and_agreement(void **state) {
  (void)state;
  double a[60], b[60];
  for (int i = 0; i < 60; i++) {
    a[i] = i;
    b[i] = i + 30.5;
  }
  suite_mw_t r, e;
  suite_stats_mann_whitney(a, 60, b, 60, &r);
  assert_false(r.exact);
  assert_true(r.p < 1e-6);
  for (int i = 0; i < 20; i++)
    b[i] = i + 3.5; /* overlapping samples */
  suite_stats_mann_whitney(a, 20, b, 20, &e);
  suite_stats_mw_normal(a, 20, b, 20, &r);
  assert_true(e.exact);
  assert_near(r.p, e.p, 0.01);
  assert_true(e.p > 0.01 && e.p < 0.99); /* overlapping: neither extreme */
}

static void test_summary(void **state) {
  (void)state;
  const double odd[] = {5, 1, 4, 2, 3}, even[] = {4, 1, 3, 2};
  suite_summary_t s;
  suite_stats_summary(odd, 5, &s);
  assert_near(s.median, 3, 0);
  assert_near(s.q1, 2, 0);
  assert_near(s.q3, 4, 0);
  assert_near(s.min, 1, 0);
  assert_near(s.max, 5, 0);
  suite_stats_summary(even, 4, &s);
  assert_near(s.median, 2.5, 1e-12);
  assert_near(s.q1, 1.75, 1e-12); /* R: quantile(1:4, 0.25) */
  assert_near(s.q3, 3.25, 1e-12);
  assert_true(isnan(suite_stats_median(odd, 0)));
  assert_near(odd[0], 5, 0); /* the input is not reordered */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_r_example),           cmocka_unit_test(test_scipy_example),
      cmocka_unit_test(test_separation),          cmocka_unit_test(test_ties),
      cmocka_unit_test(test_large_and_agreement), cmocka_unit_test(test_summary),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
