/*
 * idletax.h — proportional shares with an idle memory tax: allocation targets
 * by min-funding revocation (ALLOC-1 .. ALLOC-5; OSDI02 §5-6; seed 003
 * "Shares", "Memory Tax for Idle Virtual Machines").
 *
 * ======================================================================
 * POLICY (this section): pure functions over plain state. The caller passes
 * every input: host memory available to VMs, each VM's shares, sizes, active
 * fraction (from wss.h) and the settings Mem.IdleTax / Mem.IdleTaxType. The
 * mechanism part (when to recompute: every Mem.BalancePeriod, power-on/off,
 * setting and memory-state changes, ALLOC-6; publishing targets to the
 * reclamation mechanisms) is the second section of this file.
 * ======================================================================
 *
 * Shares. sched.mem.shares is low / normal / high = 5 / 10 / 20 shares per MB
 * of configured memory, or a positive number (idletax_shares).
 *
 * Bounds (ALLOC-1). A VM's target T satisfies
 *   reservation <= T <= min(limit, configured)   (limit 0 = none).
 * Admission control (idletax_admit) refuses a power-on whose reservation
 * cannot be guaranteed, so the sum of reservations never exceeds the memory
 * available to VMs.
 *
 * The adjusted shares-per-page ratio (ALLOC-3). For a VM with S shares
 * holding P pages of which a fraction f is active:
 *   rho = S / (P (f + k (1 - f))),  k = 1 / (1 - tau_eff)
 * i.e. an idle page costs k times an active one. tau = Mem.IdleTax / 100.
 *   Mem.IdleTaxType = 0 (flat):        tau_eff = tau.
 *   Mem.IdleTaxType = 1 (progressive): tau_eff = tau * r / (1 + r), where
 *     r = idle / active = (1 - f) / f is the VM's idle-to-active ratio,
 *     i.e. tau_eff = tau * (1 - f). It rises strictly with r, is 0 for a
 *     fully active VM (nothing to tax), tends to tau as the VM becomes
 *     entirely idle, and never exceeds tau (ALLOC-5). Chosen because it is the
 *     simplest function with those properties and keeps the inverse of the
 *     cost in closed form (a quadratic, see idletax.c).
 * Worked values, flat, tau = 0.75 (k = 4), S = P: f = 1 -> 1.0, 0.5 -> 0.4,
 * 0.25 -> 0.3077, 0 -> 0.25.
 *
 * Active pages. The working-set estimate f_ws is a fraction of the VM's
 * configured memory (wss.h samples all guest pages), so the VM's active
 * pages are A = f_ws * configured, a fixed quantity while targets are
 * computed. At an allocation of P pages the active fraction of the
 * allocation is f(P) = min(1, A / P), and the VM's cost is
 *   c(P) = P (f(P) + k(f(P)) (1 - f(P))) = A + k (P - A)   (P >= A, flat)
 * so rho(P) = S / c(P) rises as P shrinks.
 *
 * Min-funding revocation (ALLOC-2, ALLOC-3). Start every VM at its maximum;
 * while the targets exceed the memory available, take a page from the VM
 * with the lowest rho that is above its minimum. That process ends when every
 * VM that lost memory has the same rho = lambda (a "water level") and every
 * VM still at its maximum has rho >= lambda. idletax_targets computes that
 * end state directly: it finds lambda by bisection on
 *   sum_i clamp(c_i^-1(S_i / lambda), min_i, max_i) = available,
 * which is decreasing in lambda, then rounds to whole pages (floor, then the
 * leftover pages one each by largest fractional part, ties to the lower
 * index: deterministic). tests/unit/test_idletax.c checks it against the
 * literal page-at-a-time process. Cost: two bisections of 100 steps over
 * the n VMs and one sort, O(n log n); test_idletax prints the time for 1000
 * VMs (about 1.6 ms on the development machine; targets are recomputed
 * every Mem.BalancePeriod, 15 s).
 *
 * At most tau of a VM's idle memory is taken (ALLOC-4). Let P0 be the VM's
 * target with tau = 0 (pure shares) and I0 = max(0, P0 - A) its idle pages
 * there. The tax guarantees T >= P0 - tau_eff(P0) * I0. With A fixed this
 * holds by construction: taxing raises costs, so the level drops
 * (lambda <= lambda0) and every VM's cost budget S / lambda >= P0; solving
 * c(T) = S / lambda gives T - A >= (1 - tau_eff) (P0 - A). The function
 * still enforces it explicitly as a lower bound (tax_floor_pages), so
 * rounding or a clamp can never violate it.
 * Consequences: tau = 0 allocates strictly by shares (2x shares, 2x memory
 * for VMs not at a bound); OSDI02's experiment (two equal-share VMs, one
 * idle, one active, host too small for both): tau = 0 each near half,
 * tau = 0.75 the idle VM keeps about 1/(1+k) of the pair's memory and the
 * active one gets the rest, up to its size.
 *
 * Invariants of a result (idletax_result_is_valid): min <= target <= max per
 * VM; target >= tax floor; sum of targets <= available, and == available
 * when the sum of maxima exceeds it (no memory left unassigned under
 * contention).
 */
#ifndef REF_IDLETAX_H
#define REF_IDLETAX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmc_error.h"

/* ---------------------------------------------------------------- policy */

#define IDLETAX_SHARES_PER_MB_LOW 5.0
#define IDLETAX_SHARES_PER_MB_NORMAL 10.0
#define IDLETAX_SHARES_PER_MB_HIGH 20.0

typedef enum idletax_type {
  IDLETAX_FLAT = 0,        /* Mem.IdleTaxType = 0 */
  IDLETAX_PROGRESSIVE = 1, /* Mem.IdleTaxType = 1 (default) */
} idletax_type_t;

typedef struct idletax_params {
  double tau;          /* Mem.IdleTax / 100, in [0, 0.99] */
  idletax_type_t type; /* Mem.IdleTaxType */
} idletax_params_t;

/* Shares of a VM from sched.mem.shares: MMC_SHARES_LOW/NORMAL/HIGH (5/10/20
 * per MB of configured memory) or a positive number. 0 with *out set, or
 * MMC_EINVAL naming the allowed values. */
int idletax_shares(int64_t spec, uint64_t configured_pages, double *out, mmc_error_t *err);

/* Admission control (ALLOC-1): 0 when a VM reserving `new_reservation` pages
 * can be guaranteed beside `reserved` pages already reserved out of
 * `available`; MMC_EADMISSION with a message giving the numbers otherwise. */
int idletax_admit(uint64_t available, uint64_t reserved, uint64_t new_reservation,
                  mmc_error_t *err);

/* Effective tax rate for a VM whose active fraction (of what it holds) is f
 * in [0, 1]: tau (flat) or tau * (1 - f) (progressive). Always in [0, tau]. */
double idletax_rate(const idletax_params_t *p, double f);

/* rho = S / (P (f + k (1 - f))), k = 1 / (1 - idletax_rate(p, f)), for a VM
 * with S shares holding P > 0 pages of which the fraction f is active.
 * Returns +infinity for P == 0 (a VM holding nothing is never a victim). */
double idletax_rho(double shares, double pages, double f, const idletax_params_t *p);

typedef struct idletax_vm {
  double shares;              /* from idletax_shares; >= 0 (0: gets its minimum) */
  uint64_t configured_pages;  /* configured size */
  uint64_t reservation_pages; /* sched.mem.min; <= configured */
  uint64_t limit_pages;       /* sched.mem.max; 0 = unlimited */
  double active_frac;         /* working-set estimate as a fraction of configured, [0, 1] */
  uint64_t current_pages;     /* pages held now; only used for reclaim_pages */
} idletax_vm_t;

typedef struct idletax_target {
  uint64_t target_pages;    /* the allocation target */
  uint64_t min_pages;       /* reservation (clamped to max) */
  uint64_t max_pages;       /* min(limit, configured) */
  uint64_t share_pages;     /* the target with tau = 0 (pure shares), whole pages */
  uint64_t tax_floor_pages; /* lower bound from "at most tau of idle taken" */
  uint64_t reclaim_pages;   /* max(0, current - target): what reclamation must take */
  double rho;               /* rho at the target (+inf when the target is 0) */
} idletax_target_t;

/* Compute every VM's target for `available` pages of host memory available
 * to VMs (already net of minFree and overheads: the caller decides). out[i]
 * belongs to vms[i]. Returns 0, or MMC_EINVAL (bad input, nothing written) or
 * MMC_EADMISSION when the reservations alone exceed `available` (out is then
 * filled with every VM at its minimum, so the caller can still act). */
int idletax_targets(const idletax_params_t *p, uint64_t available, const idletax_vm_t *vms,
                    size_t n, idletax_target_t *out, mmc_error_t *err);

/* Check the invariants listed above for a result of idletax_targets. */
bool idletax_result_is_valid(uint64_t available, const idletax_target_t *out, size_t n);

/* ================================================================ mechanism
 * Allocation targets of the reference host (ref_mech_t row REF_MECH_ALLOC,
 * MMC_CAP_ALLOC_TARGETS; ALLOC-2..6). idletax.c documents it in full.
 *
 * Inputs per running VM: shares (sched.mem.shares), configured size,
 * reservation, limit, the working-set estimate (wss.h, a fraction of the
 * configured size) and the pages it holds now. Host memory available to VMs
 * = the frame pools' capacity minus minFree, the memory the host keeps free
 * (Mem.MemMinFreePct: that percentage; when 0, the profile's default: the
 * sliding scale of memstate.h, or 6 % in the osdi02 profile). Mem.IdleTax / Mem.IdleTaxType
 * are read at each recompute.
 *
 * When (ALLOC-6): every Mem.BalancePeriod (a periodic hook), at power-on
 * (the new VM included) and power-off (the leaving VM excluded), after every
 * setting_set and vm_reconfigure, and whenever another mechanism calls
 * ref_alloc_recompute (memory-state changes). Nowhere else: between those
 * moments targets stay fixed even though working-set estimates move.
 * Events are applied lazily, so a burst of power-ons costs one recompute
 * (power-on stays O(1): the placement benchmark's p99 target): the event
 * marks the targets stale and they are recomputed before anyone can see or
 * change their inputs: at the next target read (vm_stats, ref_alloc_target),
 * at the next working-set tick (before estimates move: ref_alloc_flush),
 * or at the balance hook. The only input that can move in between is a
 * partial-period estimate touched by a vCPU meanwhile. */
struct mmc_host;
struct ref_vm;
struct ref_mech;
extern const struct ref_mech ref_mech_alloc;
/* Recompute every running VM's target now (h->lock held). */
void ref_alloc_recompute(struct mmc_host *h);
/* Recompute now if an event made the targets stale (h->lock held). */
void ref_alloc_flush(struct mmc_host *h);
/* A VM's allocation target in pages (what reclamation drives it toward);
 * its configured size when no target was computed. h->lock held. */
uint64_t ref_alloc_target(struct mmc_host *h, const struct ref_vm *vm);

#endif
