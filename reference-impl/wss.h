/*
 * wss.h — working-set estimation by sampling (WSS-1, WSS-2, WSS-3; OSDI02 §5.3;
 * seed 003 "Working set size").
 *
 * ======================================================================
 * POLICY (this section): pure functions over plain state. No clock, no
 * memory, no settings lookup: the caller passes VM execution time, the
 * sampling counts and the setting values. The mechanism part (invalidating
 * the sampled pages in the guest page map, counting the first touch) will be
 * is the second section of this file; it calls the functions below.
 * ======================================================================
 *
 * What the documentation says. Each period of Mem.SamplePeriod seconds of the
 * VM's *execution* time, n random guest pages (n = 100 in OSDI02) are
 * invalidated; the next guest access to one of them is counted (and restores
 * it); f = touched / n estimates the fraction of the VM's memory that is
 * active. Estimates respond fast to increases and slowly to decreases: the
 * estimate is the maximum of a slow exponentially weighted moving average
 * (EWMA), a fast EWMA, and a version of the fast EWMA that includes the counts
 * of the current, partial period. It is floored by Mem.SampleActivePctMin.
 *
 * How a host uses it, per VM:
 *   wss_init(&st, initial_frac);
 *   wss_plan(&rng, configured_pages, n, gpfns);  -> invalidate those pages
 *   wss_begin_period(&st, count_returned);
 *   ... each access to a still-invalidated sampled page: wss_touch(&st);
 *   ... each clock step: if (wss_exec(&st, &params, vm_exec_ns_delta))
 *         { restore the untouched samples; plan and begin a new period }
 *   wss_estimate(&st, &params) whenever the allocation policy needs f.
 * Periods are VM execution time: a VM whose vCPUs did not run passes 0 to
 * wss_exec and its period does not advance (WSS-1).
 *
 * Gains (our choice; OSDI02 does not publish its values):
 *   fast gain  a_f = WSS_ALPHA_FAST = 0.75
 *   slow gain  a_s = WSS_ALPHA_SLOW = 0.25
 * Why: a_f close to 1 makes the estimate follow an increase in about one
 * period (WSS-2, WSS-4); a_s small makes it forget memory that became idle
 * over several periods, so a VM is not taxed for a short lull. Larger a_f
 * adds noise: with Bernoulli sampling of n pages the per-period measurement
 * has standard deviation s = sqrt(f(1-f)/n) (5 points at f = 0.5, n = 100);
 * an EWMA of gain a has stationary s.d. s*sqrt(a/(2-a)) = 0.77 s for the fast
 * and 0.38 s for the slow average. The maximum of the two is biased upward by
 * about 0.2 s (1 point at n = 100), well within WSS-3's sampling error.
 *
 * Bounds (noise-free measurements, a step from f0 to f1 at a period boundary,
 * D = |f1 - f0|, estimate read at the end of the k-th complete period after
 * the step, before the floor):
 *   step up (f1 > f0): est_k >= f1 - (1 - a_f)^k D = f1 - 0.25^k D
 *     k = 1: >= 75 % of the step, k = 2: >= 93.75 %, k = 3: >= 98.4 %;
 *     "reaches the new level within about one period". During period k the
 *     partial-period average already rises toward f0 + a_f D as pages are
 *     touched.
 *   step down (f1 < f0): est_k = f1 + (1 - a_s)^k D = f1 + 0.75^k D
 *     (the slow average dominates once the fast one has dropped)
 *     k = 1: 75 % of the step still held, 2: 56 %, 4: 32 %, 8: 10 %,
 *     16: 1 %; "decays over several periods".
 * With sampling noise add about +-3 s_fast to the step-up bound and +-3
 * s_slow to the step-down value (test_wss checks these with n = 100).
 *
 * Invariants (wss_is_valid): 0 <= fast, slow <= 1; touched <= sampled;
 * exec_in_period_ns < period length after every wss_exec.
 */
#ifndef REF_WSS_H
#define REF_WSS_H

#include <stdbool.h>
#include <stdint.h>

#include "rng.h"

/* ---------------------------------------------------------------- policy */

/* Defaults of wss_params_default; the mechanism reads the Ref.WssFastGain,
 * Ref.WssSlowGain and Ref.WssSamplePages settings, whose defaults are these. */
#define WSS_ALPHA_FAST 0.75           /* fast EWMA gain, see the bounds above */
#define WSS_ALPHA_SLOW 0.25           /* slow EWMA gain */
#define WSS_SAMPLE_PAGES_DEFAULT 100u /* n, OSDI02 */

typedef struct wss_params {
  uint64_t period_ns; /* Mem.SamplePeriod in ns of VM execution time; > 0 */
  double alpha_fast;  /* fast gain in (0, 1]; normally WSS_ALPHA_FAST */
  double alpha_slow;  /* slow gain in (0, 1]; normally WSS_ALPHA_SLOW; <= alpha_fast */
  double active_min;  /* Mem.SampleActivePctMin / 100, the floor of the estimate */
} wss_params_t;

typedef struct wss_state {
  double fast;                /* fast EWMA of completed periods' f, in [0, 1] */
  double slow;                /* slow EWMA of completed periods' f, in [0, 1] */
  uint64_t exec_in_period_ns; /* VM execution time accumulated in the current period */
  uint64_t periods;           /* completed periods */
  uint32_t sampled;           /* pages sampled in the current period (0: none planned) */
  uint32_t touched;           /* of those, touched so far; <= sampled */
  double last_f;              /* f of the last completed period; valid when periods > 0 */
} wss_state_t;

/* Fill params with the documented defaults: 60 s period, the gains above,
 * 1 % floor. */
void wss_params_default(wss_params_t *p);

/* Start a VM's estimator. Both averages start at initial_frac (clamped to
 * [0, 1]): 1.0 is the cautious choice for a VM just powered on (nothing is
 * taxed as idle before it has been measured); no period is under way. */
void wss_init(wss_state_t *st, double initial_frac);

/* Choose min(n, npages) distinct guest page numbers in [0, npages), uniformly
 * at random from rng, into out[] (room for n). Deterministic for a given rng
 * state. Robert Floyd's algorithm: O(n^2) comparisons, no allocation; n is
 * small (100). Returns the number written. */
uint32_t wss_plan(ref_rng_t *rng, uint64_t npages, uint32_t n, uint64_t *out);

/* A new period starts with `sampled` pages invalidated (from wss_plan). */
void wss_begin_period(wss_state_t *st, uint32_t sampled);

/* One sampled page was touched for the first time this period. Counts beyond
 * `sampled` are ignored (the mechanism restores the page on first touch, so a
 * second count would be a caller bug; ignoring it keeps the invariant). */
void wss_touch(wss_state_t *st);

/* Add VM execution time. When the accumulated time reaches the period, the
 * period closes: f = touched / sampled (0 when nothing was sampled) is folded
 * into both averages, the counts reset to zero, and true is returned: the
 * caller then restores the untouched samples and begins a new period. Time
 * beyond the boundary carries into the next period; a step longer than a
 * whole period still closes only one period (there was only one sample to
 * measure), the excess whole periods are dropped. */
bool wss_exec(wss_state_t *st, const wss_params_t *p, uint64_t exec_ns);

/* The estimate: max(slow, fast, fast_partial), floored by p->active_min,
 * in [active_min, 1]. */
double wss_estimate(const wss_state_t *st, const wss_params_t *p);

bool wss_is_valid(const wss_state_t *st, const wss_params_t *p);

/* ================================================================ mechanism
 * The sampling mechanism of the reference host (ref_mech_t row
 * REF_MECH_WSS, MMC_CAP_WSS). wss.c documents it in full; in short:
 *
 * VM execution time. Stepped clock: between two ticks (Ref.WssTick) a VM
 * executes dt * D / (1000 * vcpus), D = the summed demand (permille) of its
 * ENTERED vCPUs (vcpu_set_demand; Ref.VcpuDemandDefault until set): a VM
 * with every vCPU entered at full demand runs at wall-clock rate; a VM whose
 * vCPUs are exited or at demand 0 does not execute, so its sample period
 * does not advance (WSS-1). The state seen at a tick counts for the whole
 * interval since the previous tick (stepped vCPUs change state only between
 * advance() calls, so the error is at most one tick per change). Live clock:
 * the CPU time of the entered vCPUs' threads (Linux per-thread CPU clocks)
 * since the previous tick, divided by vcpus.
 *
 * Sampling. Each period n = Ref.WssSamplePages distinct random guest pages
 * (all configured pages, xoshiro seeded from the host seed and VM id) are
 * invalidated by setting REF_PTE_SAMPLED (CAS). A page never touched
 * (UNBACKED) is sampled like any other: OSDI02 samples guest pages, and a
 * page the guest never touched is idle unless the guest touches it during
 * the period (its first touch is counted). Pages held by reclamation
 * (BALLOONED, COMPRESSED, SWAPPED) are sampled passively: not invalidated
 * (their access already takes another mechanism's slow path), counted
 * touched when the period ends if they were brought back meanwhile. An
 * entry locked by a slow path or a remap is replaced by another random page.
 * The first vCPU access to an invalidated page goes through the slow path
 * (pmap), where vm.c calls wss_mech_fault: it counts the touch; the page is
 * restored by vm.c. At the period's end untouched pages are restored and f =
 * touched / n feeds the estimator above. Sampling starts at the first tick
 * after power-on (power-on itself stays cheap). A sampled page can still be
 * migrated, shared or swapped: remaps keep SAMPLED on the new entry (pmap.c).
 * A vCPU that obtained a pointer before the page was invalidated keeps using
 * it until its next quiescent point without being counted, like a TLB entry
 * not yet flushed; its next access after quiescing is counted. */
struct mmc_host;
struct ref_vm;
struct ref_mech;
extern const struct ref_mech ref_mech_wss;
/* The VM's working-set estimate as a fraction of its configured memory (the
 * value wss_estimate gives); 1.0 when sampling is not attached. h->lock held. */
double ref_wss_active_frac(struct mmc_host *h, struct ref_vm *vm);

#endif
