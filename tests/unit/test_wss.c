/*
 * test_wss.c — unit tests of the working-set estimation policy (wss.h):
 * sample plans (WSS-1), period accounting in VM execution time (WSS-1), the
 * estimator's step response against the bounds documented in wss.h (WSS-2),
 * convergence under real Bernoulli sampling with n = 100 (WSS-3), the floor.
 * Deterministic: every random draw comes from a fixed seed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wss.h"

#define N_SAMPLE 100u
#define VM_PAGES 20000u
#define SEED 0x5eedu
#define EPS 1e-9

static wss_params_t params(void) {
  wss_params_t p;
  wss_params_default(&p);
  return p;
}

/* One period of real sampling: plan n pages, count those inside the active
 * set [0, active_pages) as touched, then run the period to its end. */
static void sampled_period(wss_state_t *st, const wss_params_t *p, ref_rng_t *rng,
                           uint64_t active_pages) {
  uint64_t g[N_SAMPLE];
  uint32_t n = wss_plan(rng, VM_PAGES, N_SAMPLE, g);
  wss_begin_period(st, n);
  for (uint32_t i = 0; i < n; i++)
    if (g[i] < active_pages)
      wss_touch(st);
  assert_true(wss_exec(st, p, p->period_ns));
}

/* One noise-free period: exactly round(f * 100) of 100 samples touched. */
static void exact_period(wss_state_t *st, const wss_params_t *p, double f) {
  wss_begin_period(st, N_SAMPLE);
  uint32_t t = (uint32_t)lround(f * N_SAMPLE);
  for (uint32_t i = 0; i < t; i++)
    wss_touch(st);
  assert_true(wss_exec(st, p, p->period_ns));
}

static void test_plan_distinct_in_range_deterministic(void **state) {
  (void)state;
  ref_rng_t a, b;
  ref_rng_seed(&a, SEED);
  ref_rng_seed(&b, SEED);
  for (int round = 0; round < 50; round++) {
    uint64_t x[N_SAMPLE], y[N_SAMPLE];
    assert_int_equal(wss_plan(&a, VM_PAGES, N_SAMPLE, x), N_SAMPLE);
    assert_int_equal(wss_plan(&b, VM_PAGES, N_SAMPLE, y), N_SAMPLE);
    assert_memory_equal(x, y, sizeof x);
    for (uint32_t i = 0; i < N_SAMPLE; i++) {
      assert_true(x[i] < VM_PAGES);
      for (uint32_t j = 0; j < i; j++)
        assert_true(x[i] != x[j]);
    }
  }
}

static void test_plan_small_vm_takes_every_page(void **state) {
  (void)state;
  ref_rng_t r;
  ref_rng_seed(&r, SEED);
  uint64_t x[N_SAMPLE];
  assert_int_equal(wss_plan(&r, 40, N_SAMPLE, x), 40);
  int seen[40] = {0};
  for (int i = 0; i < 40; i++)
    seen[x[i]]++;
  for (int i = 0; i < 40; i++)
    assert_int_equal(seen[i], 1);
  assert_int_equal(wss_plan(&r, 0, N_SAMPLE, x), 0);
}

/* Every page is equally likely: 200 pages, 20 per plan, 5000 plans: each page
 * expected 500 times, s.d. ~21; allow 5 s.d. */
static void test_plan_uniform(void **state) {
  (void)state;
  enum { PAGES = 200, PER = 20, PLANS = 5000 };
  ref_rng_t r;
  ref_rng_seed(&r, SEED);
  unsigned count[PAGES] = {0};
  for (int k = 0; k < PLANS; k++) {
    uint64_t x[PER];
    wss_plan(&r, PAGES, PER, x);
    for (int i = 0; i < PER; i++)
      count[x[i]]++;
  }
  double expect = (double)PLANS * PER / PAGES;
  double sd = sqrt(expect * (1.0 - (double)PER / PAGES));
  for (int i = 0; i < PAGES; i++)
    assert_true(fabs(count[i] - expect) < 5 * sd);
}

/* WSS-1: the period is VM execution time; a VM that does not run does not
 * advance; time past the boundary carries over; one call closes at most one
 * period. */
static void test_period_in_execution_time(void **state) {
  (void)state;
  wss_params_t p = params();
  wss_state_t st;
  wss_init(&st, 1.0);
  for (int i = 0; i < 1000; i++)
    assert_false(wss_exec(&st, &p, 0)); /* stopped vCPUs: wall time passes, not exec time */
  assert_int_equal(st.periods, 0);
  assert_false(wss_exec(&st, &p, p.period_ns / 2));
  assert_false(wss_exec(&st, &p, p.period_ns / 2 - 1));
  assert_true(wss_exec(&st, &p, 3));
  assert_int_equal(st.periods, 1);
  assert_int_equal(st.exec_in_period_ns, 2);
  assert_true(wss_exec(&st, &p, 5 * p.period_ns));
  assert_int_equal(st.periods, 2);
  assert_int_equal(st.exec_in_period_ns, 2);
  assert_true(wss_is_valid(&st, &p));
}

/* WSS-3: steady touched fraction, real sampling with n = 100: the mean
 * estimate is within 2 points of f, and at least 95 % of period estimates
 * are within 2 sampling s.d. (10 points at f = 0.5). */
static void test_steady_converges_within_sampling_error(void **state) {
  (void)state;
  const double fs[] = {0.05, 0.2, 0.5, 0.8, 0.95};
  wss_params_t p = params();
  for (size_t k = 0; k < sizeof fs / sizeof fs[0]; k++) {
    double f = fs[k];
    ref_rng_t r;
    ref_rng_seed(&r, SEED + k);
    wss_state_t st;
    wss_init(&st, 1.0);
    uint64_t active = (uint64_t)(f * VM_PAGES);
    for (int i = 0; i < 30; i++) /* converge from the cautious start */
      sampled_period(&st, &p, &r, active);
    double sum = 0, s = sqrt(f * (1 - f) / N_SAMPLE);
    int within = 0, periods = 2000;
    for (int i = 0; i < periods; i++) {
      sampled_period(&st, &p, &r, active);
      double e = wss_estimate(&st, &p);
      sum += e;
      within += fabs(e - f) <= 2 * s + EPS;
    }
    double mean = sum / periods;
    print_message("# f=%.2f mean estimate %.4f, %.1f%% within 2 s.d. (%.3f)\n", f, mean,
                  100.0 * within / periods, 2 * s);
    assert_true(fabs(mean - f) < 0.02);
    assert_true(within >= periods * 95 / 100);
  }
}

/* WSS-2 step up, noise-free: est_k >= f1 - 0.25^k D. */
static void test_step_up_bound_exact(void **state) {
  (void)state;
  wss_params_t p = params();
  wss_state_t st;
  wss_init(&st, 0.1);
  const double f0 = 0.1, f1 = 0.7, D = f1 - f0;
  for (int i = 0; i < 20; i++)
    exact_period(&st, &p, f0);
  assert_true(fabs(wss_estimate(&st, &p) - f0) < 1e-6);
  for (int k = 1; k <= 4; k++) {
    exact_period(&st, &p, f1);
    double bound = f1 - pow(1 - p.alpha_fast, k) * D;
    assert_true(wss_estimate(&st, &p) >= bound - EPS);
    assert_true(wss_estimate(&st, &p) <= f1 + EPS);
  }
  /* k = 1 means 75 % of the step, k = 2 means 93.75 %: the documented numbers. */
  wss_init(&st, f0);
  exact_period(&st, &p, f1);
  assert_true(fabs(wss_estimate(&st, &p) - (f0 + 0.75 * D)) < 1e-9);
  exact_period(&st, &p, f1);
  assert_true(fabs(wss_estimate(&st, &p) - (f0 + 0.9375 * D)) < 1e-9);
}

/* The partial-period average raises the estimate during the period, as pages
 * are touched, before the period closes. */
static void test_partial_period_raises_estimate(void **state) {
  (void)state;
  wss_params_t p = params();
  wss_state_t st;
  wss_init(&st, 0.1);
  wss_begin_period(&st, N_SAMPLE);
  double before = wss_estimate(&st, &p);
  for (int i = 0; i < 60; i++)
    wss_touch(&st);
  double during = wss_estimate(&st, &p);
  assert_true(during > before + 0.3);
  assert_true(fabs(during - (0.1 + 0.75 * (0.6 - 0.1))) < 1e-9);
  for (int i = 0; i < 1000; i++) /* counts beyond the sample are ignored */
    wss_touch(&st);
  assert_int_equal(st.touched, N_SAMPLE);
}

/* WSS-2 step down, noise-free: est_k = f1 + 0.75^k D (slow average). */
static void test_step_down_decays_over_several_periods(void **state) {
  (void)state;
  wss_params_t p = params();
  wss_state_t st;
  const double f0 = 0.8, f1 = 0.2, D = f0 - f1;
  wss_init(&st, f0);
  for (int k = 1; k <= 16; k++) {
    exact_period(&st, &p, f1);
    double expect = f1 + pow(1 - p.alpha_slow, k) * D;
    assert_true(fabs(wss_estimate(&st, &p) - expect) < 1e-9);
  }
  wss_init(&st, f0);
  exact_period(&st, &p, f1);
  assert_true(wss_estimate(&st, &p) >= f1 + 0.75 * D - EPS); /* still high after one */
  for (int k = 2; k <= 8; k++)
    exact_period(&st, &p, f1);
  assert_true(wss_estimate(&st, &p) <= f1 + 0.11 * D); /* 0.75^8 = 0.100 */
}

/* The same responses under real sampling (n = 100) with the documented noise
 * allowance of 3 s.d. of the relevant average. */
static void test_steps_with_sampling_noise(void **state) {
  (void)state;
  wss_params_t p = params();
  const double f0 = 0.2, f1 = 0.7, D = f1 - f0;
  double s1 = sqrt(f1 * (1 - f1) / N_SAMPLE);
  double s_fast = s1 * sqrt(p.alpha_fast / (2 - p.alpha_fast));
  double s0 = sqrt(f0 * (1 - f0) / N_SAMPLE);
  double s_slow = fmax(s0, s1) * sqrt(p.alpha_slow / (2 - p.alpha_slow));
  for (uint64_t seed = 1; seed <= 20; seed++) {
    ref_rng_t r;
    ref_rng_seed(&r, seed);
    wss_state_t st;
    wss_init(&st, f0);
    for (int i = 0; i < 20; i++)
      sampled_period(&st, &p, &r, (uint64_t)(f0 * VM_PAGES));
    sampled_period(&st, &p, &r, (uint64_t)(f1 * VM_PAGES));
    sampled_period(&st, &p, &r, (uint64_t)(f1 * VM_PAGES));
    assert_true(wss_estimate(&st, &p) >= f1 - 0.0625 * D - 3 * s_fast);
    for (int i = 0; i < 20; i++)
      sampled_period(&st, &p, &r, (uint64_t)(f1 * VM_PAGES));
    for (int k = 1; k <= 8; k++) {
      sampled_period(&st, &p, &r, (uint64_t)(f0 * VM_PAGES));
      double e = wss_estimate(&st, &p);
      if (k == 1)
        assert_true(e >= f0 + 0.75 * D - 3 * s_slow);
      if (k == 8)
        assert_true(e <= f0 + 0.10 * D + 3 * s_slow + 3 * s_fast);
    }
  }
}

static void test_floor_applied(void **state) {
  (void)state;
  wss_params_t p = params();
  wss_state_t st;
  wss_init(&st, 0.0);
  for (int i = 0; i < 10; i++)
    exact_period(&st, &p, 0.0);
  assert_true(fabs(wss_estimate(&st, &p) - 0.01) < 1e-12);
  p.active_min = 0.07; /* Mem.SampleActivePctMin = 7 */
  assert_true(fabs(wss_estimate(&st, &p) - 0.07) < 1e-12);
  p.active_min = 0.0;
  assert_true(wss_estimate(&st, &p) == 0.0);
  wss_init(&st, 0.5); /* above the floor the floor does nothing */
  p.active_min = 0.1;
  assert_true(fabs(wss_estimate(&st, &p) - 0.5) < 1e-12);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plan_distinct_in_range_deterministic),
      cmocka_unit_test(test_plan_small_vm_takes_every_page),
      cmocka_unit_test(test_plan_uniform),
      cmocka_unit_test(test_period_in_execution_time),
      cmocka_unit_test(test_steady_converges_within_sampling_error),
      cmocka_unit_test(test_step_up_bound_exact),
      cmocka_unit_test(test_partial_period_raises_estimate),
      cmocka_unit_test(test_step_down_decays_over_several_periods),
      cmocka_unit_test(test_steps_with_sampling_noise),
      cmocka_unit_test(test_floor_applied),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
