/*
 * wss.c — working-set estimation by sampling (WSS-1..3). The policy section
 * (sample plan, period accounting in VM execution time, EWMA estimator) is
 * documented in wss.h; the mechanism section comes later.
 *
 * Invariants: see wss_is_valid.
 */
#include "wss.h"

#include <math.h>

/* ================================================================ policy */

#define WSS_NS_PER_S 1000000000ull
#define WSS_PERIOD_DEFAULT_S 60ull  /* Mem.SamplePeriod default (esxi-6.7 profile) */
#define WSS_ACTIVE_MIN_DEFAULT 0.01 /* Mem.SampleActivePctMin default, 1 % */

static double wss_clamp01(double x) {
  if (!(x >= 0.0)) /* also catches NaN */
    return 0.0;
  return x > 1.0 ? 1.0 : x;
}

void wss_params_default(wss_params_t *p) {
  *p = (wss_params_t){.period_ns = WSS_PERIOD_DEFAULT_S * WSS_NS_PER_S,
                      .alpha_fast = WSS_ALPHA_FAST,
                      .alpha_slow = WSS_ALPHA_SLOW,
                      .active_min = WSS_ACTIVE_MIN_DEFAULT};
}

void wss_init(wss_state_t *st, double initial_frac) {
  double f = wss_clamp01(initial_frac);
  *st = (wss_state_t){.fast = f, .slow = f, .last_f = f};
}

static bool wss_contains(const uint64_t *v, uint32_t n, uint64_t x) {
  for (uint32_t i = 0; i < n; i++)
    if (v[i] == x)
      return true;
  return false;
}

uint32_t wss_plan(ref_rng_t *rng, uint64_t npages, uint32_t n, uint64_t *out) {
  uint32_t m = npages < n ? (uint32_t)npages : n;
  uint32_t k = 0;
  /* Floyd: for j = N-m .. N-1, pick t in [0, j]; take t unless already
   * taken, else take j. Every m-subset is equally likely. */
  for (uint64_t j = npages - m; j < npages; j++) {
    uint64_t t = ref_rng_below(rng, j + 1);
    out[k] = wss_contains(out, k, t) ? j : t;
    k++;
  }
  return k;
}

void wss_begin_period(wss_state_t *st, uint32_t sampled) {
  st->sampled = sampled;
  st->touched = 0;
}

void wss_touch(wss_state_t *st) {
  if (st->touched < st->sampled)
    st->touched++;
}

static double wss_period_fraction(const wss_state_t *st) {
  return st->sampled ? (double)st->touched / st->sampled : 0.0;
}

bool wss_exec(wss_state_t *st, const wss_params_t *p, uint64_t exec_ns) {
  if (!p->period_ns) /* not a valid setting (>= 1 s); never divide by it */
    return false;
  st->exec_in_period_ns += exec_ns;
  if (st->exec_in_period_ns < p->period_ns)
    return false;
  st->exec_in_period_ns %= p->period_ns;
  double f = wss_period_fraction(st);
  st->fast += p->alpha_fast * (f - st->fast);
  st->slow += p->alpha_slow * (f - st->slow);
  st->fast = wss_clamp01(st->fast);
  st->slow = wss_clamp01(st->slow);
  st->last_f = f;
  st->periods++;
  st->sampled = 0;
  st->touched = 0;
  return true;
}

double wss_fast_partial(const wss_state_t *st, const wss_params_t *p) {
  if (!st->sampled)
    return st->fast;
  return st->fast + p->alpha_fast * (wss_period_fraction(st) - st->fast);
}

double wss_estimate(const wss_state_t *st, const wss_params_t *p) {
  double e = fmax(st->slow, fmax(st->fast, wss_fast_partial(st, p)));
  return fmax(wss_clamp01(e), wss_clamp01(p->active_min));
}

bool wss_is_valid(const wss_state_t *st, const wss_params_t *p) {
  return st->fast >= 0.0 && st->fast <= 1.0 && st->slow >= 0.0 && st->slow <= 1.0 &&
         st->touched <= st->sampled && p->period_ns > 0 && st->exec_in_period_ns < p->period_ns;
}
