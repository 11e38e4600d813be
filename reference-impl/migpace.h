/*
 * migpace.h — pacing of NUMA page migration toward a VM's home node (MIG-2,
 * MIG-3, MIG-4, MIG-5; seeds 000, 001, 002 "Dynamic Load Balancing and Page
 * Migration").
 *
 * ======================================================================
 * POLICY (this section): pure functions over a small per-VM state. The
 * caller passes the time (host clock, either mode), the VM's remote pages,
 * the destination's free pages and the setting values. The mechanism
 * (choosing and copying the pages, remapping under quiescence, events) is
 * the migration engine in migrate.c; it asks migpace_budget() how many pages
 * it may move each tick and reports what it moved.
 * ======================================================================
 *
 * What the documentation says: migration starts immediately after a home
 * change (MIG-2); its rate is managed — capped by Numa.PageMigRateMax and
 * lower when the VM has little remote memory left or the destination node
 * has little free memory (MIG-3); memory is not moved needlessly when a VM
 * stays on a new node only briefly (MIG-4; the mechanism is ours);
 * Numa.PageMigEnable = 0 stops migration (MIG-5).
 *
 * The rate, t = time since the current home was set:
 *   rate(t) = PageMigRateMax * ramp(t) * f_remote * f_dest   pages/s
 *   ramp(t)  = min(1, m + (1 - m) t / R)       (MIG-2, MIG-4)
 *   f_remote = 1 when remote >= K_r, else max(r_min, remote / K_r)   (MIG-3)
 *   f_dest   = min(1, max(0, free - reserve) / K_d)                   (MIG-3)
 * with, by default (migpace_params_default):
 *   R   = MIGPACE_RAMP_PERIODS (5) rebalance periods: 10 s at the 2 s default;
 *   m   = 1/16: migration begins at once, at 1/16 of the cap;
 *   K_r = one second of migration at the cap (8000 pages = 31 MB);
 *   r_min = 1/8, so the tail still finishes;
 *   reserve = the destination's share of minFree (the caller passes it):
 *     migration never pushes a node into reclamation;
 *   K_d = reserve (full speed once free memory is twice the reserve).
 * Why the ramp (MIG-4): a VM moved away and back again within a period or
 * two only ever runs at the bottom of the ramp, so it drags little memory
 * along; a VM that stays reaches full speed after R, having lost only about
 * R (1 - m) / 2 seconds of full-rate migration.
 * The bound the suite checks: pages moved within T of a home change are at
 * most PageMigRateMax * integral_0^T ramp(t) dt + 1 (migpace_bound), i.e.
 * for T <= R: PageMigRateMax (m T + (1 - m) T^2 / (2 R)) + 1. Defaults:
 * T = 1 period (2 s): 2500 pages (instead of 16000 at the full rate);
 * T = 2 periods (4 s): 8000 pages (instead of 32000).
 *
 * Ticks: migpace_budget integrates the rate exactly over the tick (so
 * results do not depend on the tick length), adds the fraction of a page
 * carried from the last tick, and returns whole pages, never more than the
 * remote pages left. Only the fraction below one page is carried, and
 * nothing when the remote pages were the limit, so a pause or an unused
 * budget never saves up a burst; a home change resets the carry.
 * Unthrottled mode (the migration benchmark): no cap, no ramp, no factors.
 *
 * Invariants (migpace_is_valid): 0 <= carry < 1; moved_since_home counts
 * the pages reported since the last home change.
 */
#ifndef REF_MIGPACE_H
#define REF_MIGPACE_H

#include <stdbool.h>
#include <stdint.h>

/* ---------------------------------------------------------------- policy */

#define MIGPACE_RAMP_PERIODS 5u   /* R in rebalance periods (ours) */
#define MIGPACE_RAMP_START 0.0625 /* m = 1/16 (ours) */
#define MIGPACE_REMOTE_KNEE_S 1.0 /* K_r in seconds at the cap (ours) */
#define MIGPACE_REMOTE_MIN 0.125  /* r_min = 1/8 (ours) */
#define MIGPACE_UNLIMITED UINT64_MAX

typedef struct migpace_params {
  bool enable;                 /* Numa.PageMigEnable */
  bool unthrottled;            /* benchmark: no cap, no ramp, no slow-down */
  uint64_t rate_max;           /* Numa.PageMigRateMax, pages/s */
  uint64_t ramp_ns;            /* R; 0 = no ramp */
  double ramp_start;           /* m in (0, 1] */
  uint64_t remote_knee_pages;  /* K_r; 0 = no slow-down near the end */
  double remote_min;           /* r_min in (0, 1] */
  uint64_t dest_reserve_pages; /* free pages the destination keeps */
  uint64_t dest_knee_pages;    /* K_d; 0 = full rate as soon as free > reserve */
} migpace_params_t;

typedef struct migpace_state {
  uint64_t home_since_ns;    /* host time of the last home change */
  double carry;              /* fraction of a page carried to the next tick, [0, 1) */
  uint64_t moved_since_home; /* pages reported by migpace_account since then */
} migpace_state_t;

/* Defaults from the settings: rate_max = Numa.PageMigRateMax, R =
 * MIGPACE_RAMP_PERIODS x rebalance_period_ns (Numa.RebalancePeriod),
 * reserve = dest_reserve_pages, K_d = reserve, K_r = rate_max x 1 s. */
void migpace_params_default(migpace_params_t *p, bool enable, uint64_t rate_max,
                            uint64_t rebalance_period_ns, uint64_t dest_reserve_pages);

/* The VM's home changed at now_ns (also call at power-on): the ramp restarts. */
void migpace_home_changed(migpace_state_t *st, uint64_t now_ns);

/* The instantaneous rate (pages/s) at now_ns for a VM with remote_pages not
 * on its home and a destination with dest_free_pages free. 0 when disabled,
 * +infinity when unthrottled. */
double migpace_rate(const migpace_params_t *p, const migpace_state_t *st, uint64_t now_ns,
                    uint64_t remote_pages, uint64_t dest_free_pages);

/* Pages the mechanism may move in the tick (now_ns - dt_ns, now_ns]. Never
 * more than remote_pages (all of them when unthrottled); 0 when disabled
 * (MIG-5). Updates the carry. */
uint64_t migpace_budget(migpace_state_t *st, const migpace_params_t *p, uint64_t now_ns,
                        uint64_t dt_ns, uint64_t remote_pages, uint64_t dest_free_pages);

/* The mechanism moved `pages` (<= the budget it was given). */
void migpace_account(migpace_state_t *st, uint64_t pages);

/* The most pages migpace_budget can allow in total within t_ns of a home
 * change (factors at 1): rate_max x integral of the ramp, plus one page of
 * carry. MIGPACE_UNLIMITED when unthrottled. */
uint64_t migpace_bound(const migpace_params_t *p, uint64_t t_ns);

bool migpace_is_valid(const migpace_state_t *st);

#endif
