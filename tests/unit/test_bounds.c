/*
 * test_bounds.c — the bounds of the suite's statistical checks
 * (suite/bounds.h): the distributions against values known in closed form,
 * and each check's false-failure rate over many seeds, against the
 * reference's pure policies where there is one.
 *
 * Seeds: MMCERT_STATS_SEEDS (default 3000, about a second, in `make check`);
 * `make check-stats` runs 100000 (30000 with no failure already bound the
 * rate below 1e-4 at 95 % confidence: 3/30000). Each rate test prints the
 * failures, the seeds, that confidence bound, and the largest
 * deviation / bound ratio seen, so a bound far looser than needed shows.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bounds.h"
#include "rng.h"
#include "wss.h"

static unsigned seeds(void) {
  const char *s = getenv("MMCERT_STATS_SEEDS");
  long v = s ? strtol(s, NULL, 10) : 0;
  return v > 0 ? (unsigned)v : 3000u;
}

/* Print the rate; true when the failures exceed what BOUND_ALPHA per check
 * allows over `trials` (more than 3 x the expected count + 3: a correct
 * bound fails this with negligible probability, a wrong one soon). */
static bool rate_exceeded(const char *what, uint64_t failures, uint64_t trials,
                          double worst_ratio) {
  double upper = (failures ? (double)failures + 3.0 : 3.0) / (double)trials;
  printf("# %s: %llu failures in %llu seeds (rate <= %.1e at 95 %%)", what,
         (unsigned long long)failures, (unsigned long long)trials, upper);
  if (worst_ratio >= 0)
    printf(", worst deviation %.2f of the bound", worst_ratio);
  printf("\n");
  return (double)failures > 3.0 * BOUND_ALPHA * (double)trials + 3.0;
}

static void rate(const char *what, uint64_t failures, uint64_t trials, double worst_ratio) {
  if (rate_exceeded(what, failures, trials, worst_ratio))
    fail_msg("%s: %llu failures in %llu seeds, more than a %g false-failure rate allows", what,
             (unsigned long long)failures, (unsigned long long)trials, BOUND_ALPHA);
}

/* ---- distributions */

static void binomial_tails(void **state) {
  (void)state;
  assert_true(fabs(bound_binom_cdf(5, 10, 0.5) - 0.623046875) < 1e-12);
  assert_true(fabs(bound_binom_cdf(0, 10, 0.5) - 1.0 / 1024) < 1e-15);
  assert_true(bound_binom_cdf(10, 10, 0.3) == 1.0);
  /* The smallest accepted count: the tail below it within alpha, the tail
   * including it beyond. */
  uint64_t k = bound_binom_min(100, 0.5, 1e-4);
  assert_true(k > 0);
  assert_true(bound_binom_cdf(k - 1, 100, 0.5) <= 1e-4);
  assert_true(bound_binom_cdf(k, 100, 0.5) > 1e-4);
  assert_int_equal(bound_binom_min(3, 0.5, 1e-4), 0); /* even 0 of 3 is likelier */
}

static void hypergeometric_tails(void **state) {
  (void)state;
  /* N = 10, K = 5, m = 5: symmetric around 2.5, C(10,5) = 252. */
  assert_true(fabs(bound_hyper_cdf(2, 10, 5, 5) - 0.5) < 1e-12);
  assert_true(fabs(bound_hyper_cdf(0, 10, 5, 5) - 1.0 / 252) < 1e-12);
  assert_true(bound_hyper_cdf(5, 10, 5, 5) == 1.0);
  /* m > N - K: at least m - (N - K) marked are drawn. */
  assert_int_equal(bound_hyper_min(10, 8, 5, 1e-9), 3);
  uint64_t lo = bound_hyper_min(12000, 8400, 600, 1e-4);
  uint64_t hi = bound_hyper_max(12000, 8400, 600, 1e-4);
  assert_true(lo < 420 && 420 < hi);
  assert_true(bound_hyper_cdf(lo - 1, 12000, 8400, 600) <= 1e-4);
  assert_true(1.0 - bound_hyper_cdf(hi, 12000, 8400, 600) <= 1e-4);
  assert_true(1.0 - bound_hyper_cdf(hi - 1, 12000, 8400, 600) > 1e-4);
}

static void chernoff_solves_its_equation(void **state) {
  (void)state;
  double t = bound_chernoff_up(0.5, 100, 1e-6);
  assert_true(fabs(100 * bound_kl(0.5 + t, 0.5) - log(1e6)) < 1e-6);
  t = bound_chernoff_down(0.1, 1600, 1e-4);
  assert_true(fabs(1600 * bound_kl(0.1 - t, 0.1) - log(1e4)) < 1e-6);
  /* No deviation is rare enough: the whole room. */
  assert_true(bound_chernoff_down(0.1, 2, 1e-9) == 0.1);
  /* Chernoff is never tighter than the exact tail it bounds. */
  double tb = bound_chernoff_down(0.5, 100, 1e-4);
  uint64_t k = (uint64_t)ceil((0.5 - tb) * 100);
  assert_true(bound_binom_cdf(k - 1, 100, 0.5) <= 1e-4);
}

/* ---- WSS-3 with the reference's estimator (reference-impl/wss.h) */

/* Sampled pages in the set: n draws without replacement from N pages of
 * which K are touched every tick (the case's steady workload). */
static uint32_t hits(ref_rng_t *r, uint64_t N, uint64_t K, uint32_t n) {
  uint32_t h = 0;
  for (uint32_t i = 0; i < n; i++) {
    if ((double)(ref_rng_next(r) >> 11) * 0x1.0p-53 * (double)(N - i) < (double)(K - h))
      h++;
  }
  return h;
}

enum { w3_n = 100, w3_pages = 2048, w3_ticks = 4, w3_warm = 16, w3_periods = 16 };

/* One VM of the case: warm-up, then w3_periods x w3_ticks readings; the
 * worst ratio of a deviation to its bound; true when a check failed. */
static bool wss3_vm(ref_rng_t *r, double f, double *worst) {
  wss_params_t p;
  wss_params_default(&p);
  p.period_ns = 1;
  p.active_min = 0;
  wss_state_t st;
  wss_init(&st, 1.0); /* the reference starts a VM at 1.0 */
  uint64_t K = (uint64_t)(f * w3_pages);
  double lo = 0, hi = 0, sum = 0;
  unsigned n = 0;
  bound_wss3_t b;
  bound_wss3((double)K / w3_pages, w3_n, w3_periods * w3_ticks, w3_periods, BOUND_ALPHA, &b);
  wss_begin_period(&st, w3_n);
  for (unsigned per = 0; per < w3_warm + w3_periods; per++) {
    uint32_t h = hits(r, w3_pages, K, w3_n);
    for (unsigned tk = 1; tk <= w3_ticks; tk++) {
      if (tk == 1)
        for (uint32_t i = 0; i < h; i++)
          wss_touch(&st); /* every sampled page of the set is touched in the first tick */
      if (tk == w3_ticks && wss_exec(&st, &p, 1))
        wss_begin_period(&st, w3_n); /* the period closes at its last tick; the next begins */
      if (per < w3_warm)
        continue;
      double e = wss_estimate(&st, &p) - (double)K / w3_pages;
      lo = n ? fmin(lo, e) : e;
      hi = n ? fmax(hi, e) : e;
      sum += e;
      n++;
    }
  }
  double mean = sum / n;
  double ratio =
      fmax(fmax(-lo / b.reading_lo, hi / b.reading_hi), fmax(-mean / b.mean_lo, mean / b.mean_hi));
  *worst = fmax(*worst, ratio);
  return ratio > 1.0;
}

static void wss3_false_failure_rate(void **state) {
  (void)state;
  static const double f[3] = {0.1, 0.5, 0.9};
  unsigned S = seeds();
  for (int i = 0; i < 3; i++) {
    uint64_t failures = 0;
    double worst = 0;
    for (unsigned s = 0; s < S; s++) {
      ref_rng_t r;
      ref_rng_seed(&r, 0x3e5u + 7919u * s + (uint64_t)i);
      failures += wss3_vm(&r, f[i], &worst);
    }
    char what[64];
    snprintf(what, sizeof what, "WSS-3 at f = %.1f (reference estimator, n = %d)", f[i], w3_n);
    rate(what, failures, S, worst);
  }
}

/* The bounds are not vacuous: an estimator 15 points off fails WSS-3's mean
 * check, one with a tenth of the samples fails the readings check. */
static void wss3_bounds_catch_wrong_estimates(void **state) {
  (void)state;
  bound_wss3_t b;
  bound_wss3(0.5, w3_n, 64, 16, BOUND_ALPHA, &b);
  assert_true(b.mean_hi < 0.15 && b.mean_lo < 0.15);
  assert_true(b.reading_hi < 0.35 && b.reading_lo < 0.35);
  printf("# WSS-3 bounds at f = 0.5: readings -%.1f/+%.1f, mean -%.1f/+%.1f points\n",
         100 * b.reading_lo, 100 * b.reading_hi, 100 * b.mean_lo, 100 * b.mean_hi);
}

/* ---- WSS-2: the step-following checks of suite/cases/wss.c with the
 * reference's estimator: 0.8 for 5 periods, 0.2 for 10, 0.8 again; the
 * thresholds are the documented dynamics ("within about one period",
 * "several periods") less the sampling noise. */
enum { w2_pages = 4096, w2_settle = 5, w2_down = 10, w2_up = 6 };

static void wss2_trace(ref_rng_t *r, double *est, unsigned *n) {
  wss_params_t p;
  wss_params_default(&p);
  p.period_ns = 1;
  p.active_min = 0.01;
  wss_state_t st;
  wss_init(&st, 1.0);
  wss_begin_period(&st, w3_n);
  *n = 0;
  for (unsigned per = 0; per < w2_settle + w2_down + w2_up; per++) {
    double f = per < w2_settle || per >= w2_settle + w2_down ? 0.8 : 0.2;
    uint32_t h = hits(r, w2_pages, (uint64_t)(f * w2_pages), w3_n);
    for (unsigned tk = 1; tk <= w3_ticks; tk++) {
      if (tk == 1)
        for (uint32_t i = 0; i < h; i++)
          wss_touch(&st);
      if (tk == w3_ticks && wss_exec(&st, &p, 1))
        wss_begin_period(&st, w3_n);
      est[(*n)++] = wss_estimate(&st, &p);
    }
  }
}

static double w2_periods_to(const double *est, unsigned n, unsigned at, double f1, double tol) {
  for (unsigned i = at; i < n; i++)
    if (fabs(est[i] - f1) <= tol)
      return (double)(i - at + 1) / w3_ticks;
  return INFINITY;
}

static void wss2_false_failure_rate(void **state) {
  (void)state;
  unsigned S = seeds();
  uint64_t fail[5] = {0};
  double est[(w2_settle + w2_down + w2_up) * w3_ticks];
  const double lo = 0.2, hi = 0.8, d = hi - lo;
  for (unsigned s = 0; s < S; s++) {
    ref_rng_t r;
    ref_rng_seed(&r, 0x2e5u + 2750159u * s);
    unsigned n;
    wss2_trace(&r, est, &n);
    unsigned at_down = w2_settle * w3_ticks, at_up = (w2_settle + w2_down) * w3_ticks;
    double up1 = est[at_up + w3_ticks], up2 = est[at_up + 2 * w3_ticks];
    double down1 = est[at_down + w3_ticks];
    double t_down = w2_periods_to(est, n, at_down, lo, 0.2 * d);
    double t_up = w2_periods_to(est, n, at_up, hi, 0.1);
    fail[0] += !(up1 >= lo + BOUND_WSS2_UP1 * d);
    fail[1] += !(up2 >= hi - BOUND_WSS2_UP2_GAP);
    fail[2] += !(down1 >= lo + BOUND_WSS2_DOWN1 * d);
    fail[3] += !(t_down >= 3.0 && t_down <= w2_down);
    fail[4] += !(t_up < t_down);
  }
  static const char *const what[5] = {
      "WSS-2 step up, one period after", "WSS-2 step up, two periods after",
      "WSS-2 step down, one period after", "WSS-2 step down, periods to follow",
      "WSS-2 up faster than down"};
  int bad = 0;
  for (int i = 0; i < 5; i++)
    bad += rate_exceeded(what[i], fail[i], S, -1);
  if (bad)
    fail_msg("%d of the WSS-2 checks fail more often than a %g false-failure rate allows", bad,
             BOUND_ALPHA);
}

/* ---- SWAP-2: uniformly random cluster starts (the reference's policy:
 * runs of up to 64 resident pages from a uniformly random start, wrapping) */

enum { sp_pages = 24000, sp_run = 64, sp_gap = 16, sp_parts = 8, sp_walks = 4 };

static uint64_t spread_walk(ref_rng_t *r, uint32_t victims, uint64_t parts[sp_parts]) {
  static uint8_t out[sp_pages];
  memset(out, 0, sizeof out);
  uint32_t taken = 0;
  while (taken < victims) {
    uint64_t start = ref_rng_next(r) % sp_pages;
    for (uint32_t k = 0; k < sp_run && taken < victims; k++) {
      uint64_t g = (start + k) % sp_pages;
      if (!out[g]) {
        out[g] = 1;
        taken++;
      }
    }
  }
  uint64_t starts = 0, last = UINT64_MAX;
  for (uint64_t g = 0; g < sp_pages; g++) {
    if (!out[g])
      continue;
    if (last == UINT64_MAX || g - last > sp_gap) {
      parts[g * sp_parts / sp_pages]++;
      starts++;
    }
    last = g;
  }
  return starts;
}

static void swap2_false_failure_rate(void **state) {
  (void)state;
  static const uint32_t victims[] = {512, 2048, 4096};
  unsigned S = seeds();
  for (size_t v = 0; v < sizeof victims / sizeof victims[0]; v++) {
    uint64_t failures = 0;
    double worst = 0;
    for (unsigned s = 0; s < S; s++) {
      ref_rng_t r;
      ref_rng_seed(&r, 0x5a2u + 104729u * s + v);
      uint64_t parts[sp_parts] = {0}, starts = 0;
      for (int w = 0; w < sp_walks; w++)
        starts += spread_walk(&r, victims[v], parts);
      uint64_t need = bound_spread_min(starts, sp_parts, BOUND_ALPHA), least = UINT64_MAX;
      for (int i = 0; i < sp_parts; i++)
        least = parts[i] < least ? parts[i] : least;
      failures += least < need;
      double expect = (double)starts / sp_parts;
      worst = fmax(worst, (expect - (double)least) / (expect - (double)need));
    }
    char what[96];
    snprintf(what, sizeof what, "SWAP-2 spread, %u victims a walk in 64-page clusters", victims[v]);
    rate(what, failures, S, worst);
  }
  /* Address order fails: every start in the first eighth. */
  uint64_t need = bound_spread_min(4 * 40, sp_parts, BOUND_ALPHA);
  assert_true(need > 0);
}

/* ---- TPS-3: merges among the pages scanned so far. Whatever order the
 * scanner takes (it cannot know a page's content before reading it), the
 * sharable pages among the first m scanned of a VM laid out at random are
 * hypergeometric; the case accepts [hyper_min, hyper_max]. */
static void tps3_false_failure_rate(void **state) {
  (void)state;
  enum { N = 12000, K = 8400 };
  static uint8_t sharable[N];
  static const uint32_t m[] = {600, 3000, 9000};
  unsigned S = seeds();
  uint64_t failures = 0, trials = 0;
  double worst = 0;
  for (unsigned s = 0; s < S; s++) {
    ref_rng_t r;
    ref_rng_seed(&r, 0x7b3u + 15485863u * s);
    /* A random layout: K sharable pages among N (Fisher-Yates on flags). */
    for (uint32_t i = 0; i < N; i++)
      sharable[i] = i < K;
    for (uint32_t i = N - 1; i > 0; i--) {
      uint32_t j = (uint32_t)(ref_rng_next(&r) % (i + 1));
      uint8_t t = sharable[i];
      sharable[i] = sharable[j];
      sharable[j] = t;
    }
    uint32_t seen = 0, at = 0;
    for (size_t q = 0; q < sizeof m / sizeof m[0]; q++) {
      for (; at < m[q]; at++) /* the scanner's order: ascending gpfn */
        seen += sharable[at];
      uint64_t lo = bound_hyper_min(N, K, m[q], BOUND_ALPHA / 2),
               hi = bound_hyper_max(N, K, m[q], BOUND_ALPHA / 2);
      failures += seen < lo || seen > hi;
      trials++;
      double mid = (double)m[q] * K / N;
      worst = fmax(worst, fabs(seen - mid) / (seen < mid ? mid - (double)lo : (double)hi - mid));
    }
  }
  rate("TPS-3 sharable pages among those scanned (hypergeometric)", failures, trials, worst);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(binomial_tails),
      cmocka_unit_test(hypergeometric_tails),
      cmocka_unit_test(chernoff_solves_its_equation),
      cmocka_unit_test(wss3_false_failure_rate),
      cmocka_unit_test(wss3_bounds_catch_wrong_estimates),
      cmocka_unit_test(wss2_false_failure_rate),
      cmocka_unit_test(swap2_false_failure_rate),
      cmocka_unit_test(tps3_false_failure_rate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
