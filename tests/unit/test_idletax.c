/*
 * test_idletax.c — unit tests of the shares / idle tax policy (idletax.h):
 * shares per MB, admission, the rho formula and its worked table (ALLOC-3),
 * strict shares at tau = 0 (ALLOC-2, ALLOC-4), the progressive rate
 * (ALLOC-5), OSDI02's idle-tax experiment in pure form, bounds (ALLOC-1),
 * agreement with the literal page-at-a-time min-funding revocation, the
 * "at most tau of idle memory" bound, determinism.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mmc_clock.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "idletax.h"
#include "rng.h"
#include "wss.h"

#define MB_PAGES 256u /* 4 KB pages per MB */

static const idletax_params_t FLAT0 = {.tau = 0.0, .type = IDLETAX_FLAT};
static const idletax_params_t FLAT75 = {.tau = 0.75, .type = IDLETAX_FLAT};
static const idletax_params_t PROG75 = {.tau = 0.75, .type = IDLETAX_PROGRESSIVE};

static idletax_vm_t vm(double shares, uint64_t pages, double f) {
  return (idletax_vm_t){
      .shares = shares, .configured_pages = pages, .active_frac = f, .current_pages = pages};
}

static uint64_t sum_targets(const idletax_target_t *t, size_t n) {
  uint64_t s = 0;
  for (size_t i = 0; i < n; i++)
    s += t[i].target_pages;
  return s;
}

static void test_shares_per_mb(void **state) {
  (void)state;
  double s;
  uint64_t gb = 1024 * MB_PAGES;
  assert_int_equal(idletax_shares(MMC_SHARES_LOW, gb, &s, NULL), 0);
  assert_true(s == 5 * 1024.0);
  assert_int_equal(idletax_shares(MMC_SHARES_NORMAL, gb, &s, NULL), 0);
  assert_true(s == 10 * 1024.0);
  assert_int_equal(idletax_shares(MMC_SHARES_HIGH, gb, &s, NULL), 0);
  assert_true(s == 20 * 1024.0);
  assert_int_equal(idletax_shares(1234, gb, &s, NULL), 0);
  assert_true(s == 1234.0);
  mmc_error_t err = {0};
  assert_int_equal(idletax_shares(0, gb, &s, &err), MMC_EINVAL);
  assert_non_null(strstr(err.msg, "sched.mem.shares"));
  assert_int_equal(idletax_shares(-7, gb, &s, NULL), MMC_EINVAL);
}

static void test_admission(void **state) {
  (void)state;
  mmc_error_t err = {0};
  assert_int_equal(idletax_admit(1000, 600, 400, NULL), 0);
  assert_int_equal(idletax_admit(1000, 600, 401, &err), MMC_EADMISSION);
  assert_non_null(strstr(err.msg, "401"));
  assert_int_equal(idletax_admit(1000, 1200, 0, NULL), MMC_EADMISSION);
}

/* ALLOC-3 worked table: tau = 0.75, S = P, flat. */
static void test_rho_worked_table(void **state) {
  (void)state;
  const double f[] = {1.0, 0.5, 0.25, 0.0};
  const double rho[] = {1.0, 0.4, 0.3077, 0.25};
  for (int i = 0; i < 4; i++)
    assert_true(fabs(idletax_rho(1000, 1000, f[i], &FLAT75) - rho[i]) < 5e-5);
  /* tau = 0: rho = S / P whatever the activity. */
  for (int i = 0; i < 4; i++)
    assert_true(fabs(idletax_rho(2000, 1000, f[i], &FLAT0) - 2.0) < 1e-12);
  assert_true(isinf(idletax_rho(10, 0, 0.5, &FLAT75)));
}

/* ALLOC-5: the progressive rate rises with idle/active and never exceeds tau. */
static void test_progressive_rate(void **state) {
  (void)state;
  double prev = -1.0;
  for (int i = 100; i >= 0; i--) { /* f falling = idle/active rising */
    double f = i / 100.0, r = idletax_rate(&PROG75, f);
    assert_true(r <= 0.75 + 1e-15);
    assert_true(r > prev);
    prev = r;
    assert_true(idletax_rate(&FLAT75, f) == 0.75);
    /* a progressive tax never charges more than the flat one */
    assert_true(idletax_rho(1, 1, f, &PROG75) >= idletax_rho(1, 1, f, &FLAT75) - 1e-15);
  }
  assert_true(idletax_rate(&PROG75, 1.0) == 0.0);
  assert_true(fabs(idletax_rate(&PROG75, 0.0) - 0.75) < 1e-15);
}

/* ALLOC-2 / ALLOC-4: tau = 0 allocates strictly by shares, activity ignored. */
static void test_tau0_strictly_by_shares(void **state) {
  (void)state;
  idletax_vm_t v[3] = {vm(1000, 10000, 0.0), vm(2000, 10000, 1.0), vm(4000, 10000, 0.3)};
  idletax_target_t t[3];
  assert_int_equal(idletax_targets(&FLAT0, 7000, v, 3, t, NULL), 0);
  assert_int_equal(t[0].target_pages, 1000);
  assert_int_equal(t[1].target_pages, 2000);
  assert_int_equal(t[2].target_pages, 4000);
  assert_true(idletax_result_is_valid(7000, t, 3));
  /* twice the shares, twice the memory, for two active VMs */
  idletax_vm_t w[2] = {vm(10, 5000, 1.0), vm(20, 5000, 1.0)};
  assert_int_equal(idletax_targets(&FLAT75, 6000, w, 2, t, NULL), 0);
  assert_int_equal(t[0].target_pages, 2000);
  assert_int_equal(t[1].target_pages, 4000);
}

/* OSDI02 idle-tax experiment, pure form: two VMs, equal shares, same size C,
 * host holds C (both cannot fit); one idle (1 % floor), one fully active. */
static void test_osdi02_idle_tax_experiment(void **state) {
  (void)state;
  const uint64_t C = 256 * MB_PAGES, avail = C;
  idletax_vm_t v[2] = {vm(10.0 * 256, C, 0.01), vm(10.0 * 256, C, 1.0)};
  idletax_target_t t[2];
  assert_int_equal(idletax_targets(&FLAT0, avail, v, 2, t, NULL), 0);
  assert_int_equal(t[0].target_pages, C / 2); /* each half */
  assert_int_equal(t[1].target_pages, C / 2);

  assert_int_equal(idletax_targets(&FLAT75, avail, v, 2, t, NULL), 0);
  print_message("# tau=0.75 flat: idle VM %llu pages, active VM %llu pages of %llu\n",
                (unsigned long long)t[0].target_pages, (unsigned long long)t[1].target_pages,
                (unsigned long long)avail);
  assert_true(t[1].target_pages > t[0].target_pages); /* memory moved to the active VM */
  /* equal rho: P_b = A + k (P_a - A), P_a + P_b = C  =>  P_a = (C + (k-1) A) / (1 + k) */
  double A = 0.01 * C, k = 4.0, pa = (C + (k - 1) * A) / (1 + k);
  assert_true(fabs((double)t[0].target_pages - pa) <= 1.0);
  assert_int_equal(sum_targets(t, 2), avail);
  /* at most tau of the idle VM's idle memory (at its share-based half) taken */
  double idle0 = C / 2.0 - A, taken = C / 2.0 - (double)t[0].target_pages;
  assert_true(taken <= 0.75 * idle0 + 1.0);
  assert_true(taken > 0.5 * idle0); /* and most of it was taken */
  assert_true(idletax_result_is_valid(avail, t, 2));

  /* progressive: the idle VM is taxed at nearly tau, so nearly the same */
  assert_int_equal(idletax_targets(&PROG75, avail, v, 2, t, NULL), 0);
  assert_true(t[1].target_pages > t[0].target_pages);
  assert_true(C / 2.0 - (double)t[0].target_pages <=
              idletax_rate(&PROG75, A / (C / 2.0)) * idle0 + 1.0);
  assert_true(idletax_result_is_valid(avail, t, 2));
}

/* ALLOC-3: with one page too few, the page comes from the VM with the lowest
 * rho at its maximum, here the idle one although its shares are higher. */
static void test_reclaims_lowest_rho_first(void **state) {
  (void)state;
  idletax_vm_t v[3] = {vm(1000, 1000, 1.0), vm(1200, 1000, 0.0), vm(900, 1000, 1.0)};
  /* rho at max, tau = 0.75: 1.0, 1.2 / 4 = 0.3, 0.9 */
  assert_true(idletax_rho(1200, 1000, 0.0, &FLAT75) < idletax_rho(900, 1000, 1.0, &FLAT75));
  idletax_target_t t[3];
  assert_int_equal(idletax_targets(&FLAT75, 2999, v, 3, t, NULL), 0);
  assert_int_equal(t[0].target_pages, 1000);
  assert_int_equal(t[1].target_pages, 999);
  assert_int_equal(t[2].target_pages, 1000);
  /* with tau = 0 the order is by shares per page: VM 2 pays */
  assert_int_equal(idletax_targets(&FLAT0, 2999, v, 3, t, NULL), 0);
  assert_int_equal(t[2].target_pages, 999);
  assert_int_equal(t[1].target_pages, 1000);
}

/* WSS-4 in pure form: the idle VM of the experiment, its memory reclaimed,
 * becomes fully active; with the working-set estimator of wss.h its target
 * is back at its share-based half after one sample period. */
static void test_reclaimed_vm_ramps_back(void **state) {
  (void)state;
  const uint64_t C = 65536;
  wss_params_t wp;
  wss_params_default(&wp);
  wss_state_t ws;
  wss_init(&ws, 0.0);
  idletax_vm_t v[2] = {vm(2560, C, wss_estimate(&ws, &wp)), vm(2560, C, 1.0)};
  idletax_target_t t[2];
  assert_int_equal(idletax_targets(&FLAT75, C, v, 2, t, NULL), 0);
  assert_true(t[0].target_pages < C / 4); /* reclaimed while idle */
  wss_begin_period(&ws, 100);
  for (int i = 0; i < 100; i++) /* every sampled page touched */
    wss_touch(&ws);
  assert_true(wss_exec(&ws, &wp, wp.period_ns));
  v[0].active_frac = wss_estimate(&ws, &wp); /* 0.75 after one period */
  assert_int_equal(idletax_targets(&FLAT75, C, v, 2, t, NULL), 0);
  assert_int_equal(t[0].target_pages, C / 2);
  assert_int_equal(t[1].target_pages, C / 2);
}

/* ALLOC-1: reservations and limits; what a limited VM cannot take goes to the
 * others by shares. */
static void test_reservation_and_limit(void **state) {
  (void)state;
  idletax_vm_t v[3] = {vm(100, 8000, 0.0), vm(100, 8000, 1.0), vm(100, 8000, 1.0)};
  v[0].reservation_pages = 3000; /* above its share of 2000 */
  v[2].limit_pages = 1000;       /* below its share */
  idletax_target_t t[3];
  assert_int_equal(idletax_targets(&FLAT75, 6000, v, 3, t, NULL), 0);
  assert_int_equal(t[0].target_pages, 3000);
  assert_int_equal(t[2].target_pages, 1000);
  assert_int_equal(t[1].target_pages, 2000);
  assert_int_equal(t[0].min_pages, 3000);
  assert_int_equal(t[2].max_pages, 1000);
  assert_true(idletax_result_is_valid(6000, t, 3));
  /* no contention: everyone gets min(limit, configured) */
  assert_int_equal(idletax_targets(&FLAT75, 100000, v, 3, t, NULL), 0);
  assert_int_equal(t[0].target_pages, 8000);
  assert_int_equal(t[2].target_pages, 1000);
  assert_int_equal(t[0].reclaim_pages, 0);
  /* reservations beyond what is available: admission error, all at minimum */
  mmc_error_t err = {0};
  v[1].reservation_pages = 4000;
  assert_int_equal(idletax_targets(&FLAT75, 6000, v, 3, t, &err), MMC_EADMISSION);
  assert_int_equal(t[0].target_pages, 3000);
  assert_int_equal(t[1].target_pages, 4000);
  assert_non_null(strstr(err.msg, "7000"));
}

static void test_reclaim_pages(void **state) {
  (void)state;
  idletax_vm_t v[2] = {vm(1, 1000, 0.0), vm(1, 1000, 1.0)};
  v[0].current_pages = 900;
  v[1].current_pages = 100;
  idletax_target_t t[2];
  assert_int_equal(idletax_targets(&FLAT0, 1000, v, 2, t, NULL), 0);
  assert_int_equal(t[0].reclaim_pages, 400);
  assert_int_equal(t[1].reclaim_pages, 0);
}

static void test_bad_input(void **state) {
  (void)state;
  idletax_vm_t v[1] = {vm(1, 1000, 1.5)};
  idletax_target_t t[1];
  mmc_error_t err = {0};
  assert_int_equal(idletax_targets(&FLAT75, 100, v, 1, t, &err), MMC_EINVAL);
  v[0] = vm(1, 1000, 0.5);
  v[0].reservation_pages = 2000;
  assert_int_equal(idletax_targets(&FLAT75, 100, v, 1, t, &err), MMC_EINVAL);
  assert_non_null(strstr(err.msg, "reservation"));
  idletax_params_t bad = {.tau = 1.0, .type = IDLETAX_FLAT};
  v[0].reservation_pages = 0;
  assert_int_equal(idletax_targets(&bad, 100, v, 1, t, &err), MMC_EINVAL);
  assert_non_null(strstr(err.msg, "Mem.IdleTax"));
}

/* --------------------------------------------- the literal process, page by page */

static double ref_rho(const idletax_params_t *p, const idletax_vm_t *v, uint64_t pages) {
  double A = v->active_frac * (double)v->configured_pages;
  return idletax_rho(v->shares, (double)pages, pages ? fmin(1.0, A / pages) : 1.0, p);
}

static void literal_revocation(const idletax_params_t *p, const idletax_vm_t *v, size_t n,
                               uint64_t avail, uint64_t *P) {
  uint64_t sum = 0, lo[8];
  for (size_t i = 0; i < n; i++) {
    P[i] = v[i].configured_pages;
    if (v[i].limit_pages && v[i].limit_pages < P[i])
      P[i] = v[i].limit_pages;
    lo[i] = v[i].reservation_pages < P[i] ? v[i].reservation_pages : P[i];
    sum += P[i];
  }
  while (sum > avail) {
    size_t best = n;
    double best_rho = INFINITY;
    for (size_t i = 0; i < n; i++) {
      if (P[i] <= lo[i])
        continue;
      double r = ref_rho(p, &v[i], P[i]);
      if (best == n || r < best_rho)
        best = i, best_rho = r;
    }
    P[best]--, sum--;
  }
}

/* Random small hosts: the direct solution agrees with page-at-a-time
 * min-funding revocation within a couple of pages, respects every bound and
 * never takes more than tau of a VM's idle memory. */
static void test_matches_literal_revocation(void **state) {
  (void)state;
  const idletax_params_t ps[] = {FLAT0,
                                 {.tau = 0.5, .type = IDLETAX_FLAT},
                                 FLAT75,
                                 PROG75,
                                 {.tau = 0.95, .type = IDLETAX_PROGRESSIVE}};
  ref_rng_t r;
  ref_rng_seed(&r, 42);
  int worst = 0;
  for (int round = 0; round < 300; round++) {
    size_t n = 2 + ref_rng_below(&r, 5);
    idletax_vm_t v[8];
    uint64_t sum_lo = 0, sum_hi = 0;
    for (size_t i = 0; i < n; i++) {
      v[i] = vm(1 + (double)ref_rng_below(&r, 50), 50 + ref_rng_below(&r, 400),
                ref_rng_below(&r, 101) / 100.0);
      if (ref_rng_below(&r, 4) == 0)
        v[i].reservation_pages = ref_rng_below(&r, v[i].configured_pages / 2);
      if (ref_rng_below(&r, 4) == 0)
        v[i].limit_pages = 1 + ref_rng_below(&r, v[i].configured_pages);
      uint64_t hi = v[i].limit_pages && v[i].limit_pages < v[i].configured_pages
                        ? v[i].limit_pages
                        : v[i].configured_pages;
      sum_hi += hi;
      sum_lo += v[i].reservation_pages < hi ? v[i].reservation_pages : hi;
    }
    if (sum_hi <= sum_lo + 1)
      continue;
    uint64_t avail = sum_lo + ref_rng_below(&r, sum_hi - sum_lo);
    const idletax_params_t *p = &ps[round % 5];
    idletax_target_t t[8];
    uint64_t lit[8];
    assert_int_equal(idletax_targets(p, avail, v, n, t, NULL), 0);
    literal_revocation(p, v, n, avail, lit);
    assert_true(idletax_result_is_valid(avail, t, n));
    assert_int_equal(sum_targets(t, n), avail);
    for (size_t i = 0; i < n; i++) {
      int d = abs((int)t[i].target_pages - (int)lit[i]);
      worst = d > worst ? d : worst;
      assert_true(d <= 2);
      double A = v[i].active_frac * v[i].configured_pages, p0 = (double)t[i].share_pages;
      double idle0 = fmax(0.0, p0 - A);
      double rate = idletax_rate(p, p0 > 0 ? fmin(1.0, A / p0) : 1.0);
      assert_true(p0 - (double)t[i].target_pages <= rate * idle0 + 1.0);
    }
  }
  print_message("# worst difference from the literal process: %d page(s)\n", worst);
}

static void test_deterministic(void **state) {
  (void)state;
  idletax_vm_t v[4] = {vm(7, 3000, 0.2), vm(7, 3000, 0.2), vm(3, 5000, 0.9), vm(11, 900, 0.0)};
  idletax_target_t a[4], b[4];
  assert_int_equal(idletax_targets(&PROG75, 5001, v, 4, a, NULL), 0);
  assert_int_equal(idletax_targets(&PROG75, 5001, v, 4, b, NULL), 0);
  assert_memory_equal(a, b, sizeof a);
  /* identical VMs get targets at most one page apart (leftover by index) */
  assert_true(a[0].target_pages - a[1].target_pages <= 1);
}

/* 1000 VMs: it runs and keeps its invariants (cost is O(n) per bisection step). */
static void test_many_vms(void **state) {
  (void)state;
  enum { N = 1000 };
  idletax_vm_t *v = calloc(N, sizeof *v);
  idletax_target_t *t = calloc(N, sizeof *t);
  assert_non_null(v);
  assert_non_null(t);
  ref_rng_t r;
  ref_rng_seed(&r, 7);
  uint64_t sum = 0;
  for (int i = 0; i < N; i++) {
    v[i] =
        vm(1 + (double)ref_rng_below(&r, 100), 1000 + ref_rng_below(&r, 100000), ref_rng_unit(&r));
    sum += v[i].configured_pages;
  }
  uint64_t t0 = mmc_mono_ns();
  assert_int_equal(idletax_targets(&PROG75, sum / 3, v, N, t, NULL), 0);
  print_message("# 1000 VMs: targets in %.0f us\n", (double)(mmc_mono_ns() - t0) / 1e3);
  assert_true(idletax_result_is_valid(sum / 3, t, N));
  free(v);
  free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shares_per_mb),
      cmocka_unit_test(test_admission),
      cmocka_unit_test(test_rho_worked_table),
      cmocka_unit_test(test_progressive_rate),
      cmocka_unit_test(test_tau0_strictly_by_shares),
      cmocka_unit_test(test_osdi02_idle_tax_experiment),
      cmocka_unit_test(test_reclaims_lowest_rho_first),
      cmocka_unit_test(test_reclaimed_vm_ramps_back),
      cmocka_unit_test(test_reservation_and_limit),
      cmocka_unit_test(test_reclaim_pages),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_matches_literal_revocation),
      cmocka_unit_test(test_deterministic),
      cmocka_unit_test(test_many_vms),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
