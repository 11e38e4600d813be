/*
 * migpace.c — pacing of NUMA page migration (MIG-2..5). The policy section
 * is documented in migpace.h; the mechanism (the migration engine) is in
 * migrate.c.
 *
 * Invariants: see migpace_is_valid.
 */
#include "migpace.h"

#include <math.h>

/* ================================================================ policy */

#define MIGPACE_NS_PER_S 1e9

void migpace_params_default(migpace_params_t *p, bool enable, uint64_t rate_max,
                            uint64_t rebalance_period_ns, uint64_t dest_reserve_pages) {
  *p = (migpace_params_t){
      .enable = enable,
      .rate_max = rate_max,
      .ramp_ns = MIGPACE_RAMP_PERIODS * rebalance_period_ns,
      .ramp_start = MIGPACE_RAMP_START,
      .remote_knee_pages = (uint64_t)((double)rate_max * MIGPACE_REMOTE_KNEE_S),
      .remote_min = MIGPACE_REMOTE_MIN,
      .dest_reserve_pages = dest_reserve_pages,
      .dest_knee_pages = dest_reserve_pages,
  };
}

void migpace_home_changed(migpace_state_t *st, uint64_t now_ns) {
  *st = (migpace_state_t){.home_since_ns = now_ns};
}

/* integral_0^t ramp, in seconds (t in ns since the home change). */
static double migpace_ramp_integral(const migpace_params_t *p, double t_ns) {
  double t = t_ns / MIGPACE_NS_PER_S;
  if (t <= 0.0)
    return 0.0;
  if (!p->ramp_ns)
    return t;
  double r = (double)p->ramp_ns / MIGPACE_NS_PER_S, m = p->ramp_start;
  if (t <= r)
    return m * t + (1.0 - m) * t * t / (2.0 * r);
  return m * r + (1.0 - m) * r / 2.0 + (t - r);
}

static double migpace_ramp(const migpace_params_t *p, double t_ns) {
  if (!p->ramp_ns)
    return 1.0;
  double x = p->ramp_start + (1.0 - p->ramp_start) * t_ns / (double)p->ramp_ns;
  return x > 1.0 ? 1.0 : x;
}

static double migpace_factors(const migpace_params_t *p, uint64_t remote, uint64_t dest_free) {
  double f_remote = 1.0, f_dest = 1.0;
  if (p->remote_knee_pages && remote < p->remote_knee_pages)
    f_remote = fmax(p->remote_min, (double)remote / (double)p->remote_knee_pages);
  uint64_t room = dest_free > p->dest_reserve_pages ? dest_free - p->dest_reserve_pages : 0;
  if (!room)
    f_dest = 0.0;
  else if (p->dest_knee_pages && room < p->dest_knee_pages)
    f_dest = (double)room / (double)p->dest_knee_pages;
  return f_remote * f_dest;
}

double migpace_rate(const migpace_params_t *p, const migpace_state_t *st, uint64_t now_ns,
                    uint64_t remote_pages, uint64_t dest_free_pages) {
  if (!p->enable)
    return 0.0;
  if (p->unthrottled)
    return INFINITY;
  double t = now_ns > st->home_since_ns ? (double)(now_ns - st->home_since_ns) : 0.0;
  return (double)p->rate_max * migpace_ramp(p, t) *
         migpace_factors(p, remote_pages, dest_free_pages);
}

uint64_t migpace_budget(migpace_state_t *st, const migpace_params_t *p, uint64_t now_ns,
                        uint64_t dt_ns, uint64_t remote_pages, uint64_t dest_free_pages) {
  if (!p->enable || !remote_pages) {
    st->carry = 0.0;
    return 0;
  }
  if (p->unthrottled)
    return remote_pages;
  if (now_ns <= st->home_since_ns)
    return 0; /* the tick ends before the home change: nothing yet */
  uint64_t start = now_ns >= dt_ns ? now_ns - dt_ns : 0;
  if (start < st->home_since_ns)
    start = st->home_since_ns; /* the ramp begins at the home change */
  double t0 = (double)(start - st->home_since_ns);
  double t1 = (double)(now_ns - st->home_since_ns);
  double pages = (double)p->rate_max *
                     (migpace_ramp_integral(p, t1) - migpace_ramp_integral(p, t0)) *
                     migpace_factors(p, remote_pages, dest_free_pages) +
                 st->carry;
  double whole = floor(pages);
  if (whole >= (double)remote_pages) {
    st->carry = 0.0;
    return remote_pages;
  }
  st->carry = pages - whole;
  return (uint64_t)whole;
}

void migpace_account(migpace_state_t *st, uint64_t pages) {
  st->moved_since_home += pages;
}

uint64_t migpace_bound(const migpace_params_t *p, uint64_t t_ns) {
  if (p->unthrottled)
    return MIGPACE_UNLIMITED;
  if (!p->enable)
    return 0;
  return (uint64_t)floor((double)p->rate_max * migpace_ramp_integral(p, (double)t_ns)) + 1;
}

bool migpace_is_valid(const migpace_state_t *st) {
  return st->carry >= 0.0 && st->carry < 1.0;
}
