/*
 * idletax.c — shares, the idle memory tax and allocation targets by
 * min-funding revocation (ALLOC-1..5). The policy section is documented in
 * idletax.h; the mechanism section (ALLOC-2..6: the targets of the reference
 * host and when they are recomputed) follows it, documented in idletax.h too.
 *
 * Invariants: see idletax_result_is_valid; the mechanism publishes only
 * results of idletax_targets (or keeps the previous targets on an error).
 */
#include "idletax.h"
#include "mmc_units.h"
#include "twin.h"

#include <math.h>
#include <stdlib.h>

/* ================================================================ policy */

#define IDLETAX_PAGES_PER_MB ((double)MMC_MIB / MMC_PAGE_SIZE)
#define IDLETAX_TAU_MAX 0.99     /* Mem.IdleTax range 0..99 % */
#define IDLETAX_BISECT_STEPS 100 /* halvings of log(lambda): far below one page */
#define IDLETAX_TINY_PAGES 1e-6  /* an allocation that rounds to nothing */

int idletax_shares(int64_t spec, uint64_t configured_pages, double *out, mmc_error_t *err) {
  double mb = (double)configured_pages / IDLETAX_PAGES_PER_MB;
  switch (spec) {
  case MMC_SHARES_LOW: *out = IDLETAX_SHARES_PER_MB_LOW * mb; return 0;
  case MMC_SHARES_NORMAL: *out = IDLETAX_SHARES_PER_MB_NORMAL * mb; return 0;
  case MMC_SHARES_HIGH: /* twin ALLOC2_HIGH_SHARES_AS_NORMAL: the normal row read */
    *out = mb * (REF_TWIN(ALLOC2_HIGH_SHARES_AS_NORMAL) ? IDLETAX_SHARES_PER_MB_NORMAL
                                                        : IDLETAX_SHARES_PER_MB_HIGH);
    return 0;
  default: break;
  }
  if (spec <= 0)
    return mmc_fail(err, MMC_EINVAL,
                    "sched.mem.shares: %lld is not allowed; use low, normal, high or a "
                    "positive number",
                    (long long)spec);
  *out = (double)spec;
  return 0;
}

int idletax_admit(uint64_t available, uint64_t reserved, uint64_t new_reservation,
                  mmc_error_t *err) {
  if (reserved <= available && new_reservation <= available - reserved)
    return 0;
  return mmc_fail(err, MMC_EADMISSION,
                  "admission control: reservation of %llu pages cannot be guaranteed: %llu "
                  "of %llu pages available to VMs are already reserved",
                  (unsigned long long)new_reservation, (unsigned long long)reserved,
                  (unsigned long long)available);
}

static double idletax_tau(const idletax_params_t *p) {
  if (!(p->tau > 0.0))
    return REF_TWIN(ALLOC4_ZERO_TAX_TAKEN_AS_UNSET) ? 0.75 : 0.0;
  return p->tau > IDLETAX_TAU_MAX ? IDLETAX_TAU_MAX : p->tau;
}

double idletax_rate(const idletax_params_t *p, double f) {
  double tau = idletax_tau(p);
  if (p->type == IDLETAX_FLAT)
    return tau;
  f = f < 0.0 ? 0.0 : (f > 1.0 ? 1.0 : f);
  return tau * (1.0 - f); /* = tau * r / (1 + r), r = (1 - f) / f */
}

double idletax_rho(double shares, double pages, double f, const idletax_params_t *p) {
  if (!(pages > 0.0))
    return INFINITY;
  double k = 1.0 / (1.0 - idletax_rate(p, f));
  return shares / (pages * (f + k * (1.0 - f)));
}

/* c(P): the cost of holding P pages with A active (idletax.h). */
static double idletax_cost(const idletax_params_t *p, double active, double pages) {
  if (pages <= active)
    return pages;
  double idle = pages - active;
  double rate = idletax_rate(p, active / pages);
  if (REF_TWIN(ALLOC3_IDLE_COST_ONE_PLUS_TAU) && p->type == IDLETAX_FLAT)
    return active + idle * (1.0 + rate);
  return active + idle / (1.0 - rate);
}

/* c^-1(C): the pages whose cost is C. Flat: linear. Progressive: with
 * g = P - A and D = C - A, g (A + g) = D (A + (1 - tau) g), a quadratic
 * g^2 + b g - D A = 0 with b = A - D (1 - tau); its positive root, in the
 * form that avoids cancellation for either sign of b. */
static double idletax_cost_inv(const idletax_params_t *p, double active, double cost) {
  if (cost <= active)
    return cost;
  double tau = idletax_tau(p), d = cost - active;
  if (p->type == IDLETAX_FLAT && REF_TWIN(ALLOC3_IDLE_COST_ONE_PLUS_TAU))
    return active + d / (1.0 + tau);
  if (p->type == IDLETAX_FLAT)
    return active + d * (1.0 - tau);
  double b = active - d * (1.0 - tau), q = d * active;
  double root = sqrt(b * b + 4.0 * q);
  double g = b <= 0.0 ? (root - b) / 2.0 : (2.0 * q) / (b + root);
  return active + g;
}

typedef struct idletax_work {
  double active;    /* A, pages */
  double shares;    /* S */
  uint64_t lo, hi;  /* bounds */
  double cont;      /* continuous allocation at the level */
  uint64_t floor_l; /* integer lower bound for rounding */
} idletax_work_t;

static double idletax_alloc_at(const idletax_params_t *p, const idletax_work_t *w, double lambda) {
  double pages = w->shares > 0.0 ? idletax_cost_inv(p, w->active, w->shares / lambda) : 0.0;
  if (pages < (double)w->lo)
    return (double)w->lo;
  return pages > (double)w->hi ? (double)w->hi : pages;
}

static double idletax_sum_at(const idletax_params_t *p, const idletax_work_t *w, size_t n,
                             double lambda) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += idletax_alloc_at(p, &w[i], lambda);
  return s;
}

/* The water level: the lambda where the allocations sum to `available`
 * (bisection on log lambda; the sum is non-increasing in lambda), then
 * fills w[].cont. Requires sum lo <= available < sum hi. */
static void idletax_level(const idletax_params_t *p, idletax_work_t *w, size_t n,
                          double available) {
  double lmin = INFINITY, lmax = 0.0;
  for (size_t i = 0; i < n; i++) {
    if (w[i].shares <= 0.0)
      continue;
    double c_hi = idletax_cost(p, w[i].active, (double)w[i].hi);
    if (c_hi > 0.0)
      lmin = fmin(lmin, w[i].shares / c_hi);             /* every VM at its maximum below this */
    lmax = fmax(lmax, w[i].shares / IDLETAX_TINY_PAGES); /* every VM at its minimum */
  }
  if (!(lmax > 0.0)) { /* no VM has shares: everyone at the minimum */
    for (size_t i = 0; i < n; i++)
      w[i].cont = (double)w[i].lo;
    return;
  }
  if (!isfinite(lmin))
    lmin = lmax;
  double a = log(lmin) - 1.0, b = log(lmax) + 1.0;
  for (int it = 0; it < IDLETAX_BISECT_STEPS; it++) {
    double mid = 0.5 * (a + b);
    if (idletax_sum_at(p, w, n, exp(mid)) > available)
      a = mid; /* too much handed out: raise the level */
    else
      b = mid;
  }
  for (size_t i = 0; i < n; i++)
    w[i].cont = idletax_alloc_at(p, &w[i], exp(b));
}

typedef struct idletax_rank {
  double frac; /* fractional part of the continuous allocation */
  size_t i;    /* VM index */
} idletax_rank_t;

/* Larger fractional part first, then lower index: the deterministic order
 * in which leftover pages are handed out. */
static int idletax_by_fraction(const void *x, const void *y) {
  const idletax_rank_t *a = x, *b = y;
  if (a->frac != b->frac)
    return a->frac > b->frac ? -1 : 1;
  return a->i < b->i ? -1 : (a->i > b->i);
}

/* Whole pages summing exactly to `total` (sum floor_l <= total <= sum hi):
 * floor of cont (at least floor_l), then leftover pages by fraction order,
 * then, if any remain (VMs without shares), in index order; an excess (from
 * raised lower bounds) is taken back from the smallest fractions first. */
static int idletax_round(const idletax_work_t *w, size_t n, uint64_t total, uint64_t *t) {
  idletax_rank_t *order = malloc((n ? n : 1) * sizeof *order);
  if (!order)
    return MMC_ENOMEM;
  uint64_t sum = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t v = (uint64_t)floor(w[i].cont);
    t[i] = v < w[i].floor_l ? w[i].floor_l : (v > w[i].hi ? w[i].hi : v);
    sum += t[i];
    order[i] = (idletax_rank_t){.frac = w[i].cont - floor(w[i].cont), .i = i};
  }
  qsort(order, n, sizeof *order, idletax_by_fraction);
  for (size_t k = 0; k < n && sum < total; k++)
    if (t[order[k].i] < w[order[k].i].hi)
      t[order[k].i]++, sum++;
  for (size_t i = 0; i < n && sum < total; i++) {
    uint64_t room = w[i].hi - t[i], give = total - sum < room ? total - sum : room;
    t[i] += give, sum += give;
  }
  for (size_t k = n; k-- > 0 && sum > total;) {
    size_t i = order[k].i;
    uint64_t spare = t[i] - w[i].floor_l, take = sum - total < spare ? sum - total : spare;
    t[i] -= take, sum -= take;
  }
  free(order);
  return 0;
}

static int idletax_check(const idletax_params_t *p, const idletax_vm_t *vms, size_t n,
                         mmc_error_t *err) {
  if (!(p->tau >= 0.0 && p->tau <= IDLETAX_TAU_MAX))
    return mmc_fail(err, MMC_EINVAL, "Mem.IdleTax: %g is out of range 0..99 %%", p->tau * 100);
  if (p->type != IDLETAX_FLAT && p->type != IDLETAX_PROGRESSIVE)
    return mmc_fail(err, MMC_EINVAL, "Mem.IdleTaxType: %d is out of range 0..1", (int)p->type);
  for (size_t i = 0; i < n; i++) {
    const idletax_vm_t *v = &vms[i];
    if (!(v->shares >= 0.0) || !(v->active_frac >= 0.0 && v->active_frac <= 1.0))
      return mmc_fail(err, MMC_EINVAL,
                      "VM %zu: shares must be >= 0 and the active fraction in 0..1", i);
    if (v->reservation_pages > v->configured_pages)
      return mmc_fail(err, MMC_EINVAL, "VM %zu: reservation %llu pages exceeds its size %llu", i,
                      (unsigned long long)v->reservation_pages,
                      (unsigned long long)v->configured_pages);
  }
  return 0;
}

static void idletax_bounds(const idletax_vm_t *v, idletax_work_t *w) {
  uint64_t hi = v->configured_pages;
  if (v->limit_pages && v->limit_pages < hi)
    hi = v->limit_pages;
  *w = (idletax_work_t){.active = v->active_frac * (double)v->configured_pages,
                        .shares = v->shares,
                        .lo = v->reservation_pages < hi ? v->reservation_pages : hi,
                        .hi = hi};
  w->floor_l = w->lo;
}

static void idletax_fill(const idletax_params_t *p, const idletax_vm_t *vms,
                         const idletax_work_t *w, size_t n, idletax_target_t *out) {
  for (size_t i = 0; i < n; i++) {
    uint64_t t = out[i].target_pages, cur = vms[i].current_pages;
    out[i].min_pages = w[i].lo;
    out[i].max_pages = w[i].hi;
    out[i].reclaim_pages = cur > t ? cur - t : 0;
    double f = t ? fmin(1.0, w[i].active / (double)t) : 1.0;
    out[i].rho = idletax_rho(w[i].shares, (double)t, f, p);
  }
}

int idletax_targets(const idletax_params_t *p, uint64_t available, const idletax_vm_t *vms,
                    size_t n, idletax_target_t *out, mmc_error_t *err) {
  int rc = idletax_check(p, vms, n, err);
  if (rc)
    return rc;
  idletax_work_t *w = calloc(n ? n : 1, sizeof *w);
  uint64_t *tmp = calloc(n ? n : 1, sizeof *tmp);
  if (!w || !tmp) {
    rc = mmc_fail(err, MMC_ENOMEM, "idle tax: no memory for %zu VMs", n);
    goto out_free;
  }
  uint64_t sum_lo = 0, sum_hi = 0;
  for (size_t i = 0; i < n; i++) {
    idletax_bounds(&vms[i], &w[i]);
    sum_lo += w[i].lo, sum_hi += w[i].hi;
  }
  if (sum_hi <= available || sum_lo > available) { /* no contention, or overcommitted */
    bool fits = sum_hi <= available;
    for (size_t i = 0; i < n; i++) {
      uint64_t t = fits ? w[i].hi : w[i].lo;
      out[i] = (idletax_target_t){.target_pages = t, .share_pages = t, .tax_floor_pages = t};
    }
    idletax_fill(p, vms, w, n, out);
    if (!fits)
      rc = mmc_fail(err, MMC_EADMISSION,
                    "reservations total %llu pages but only %llu are available to VMs",
                    (unsigned long long)sum_lo, (unsigned long long)available);
    goto out_free;
  }
  /* Pure shares first (tau = 0): the reference for the tax floor. */
  const idletax_params_t shares_only = {.tau = 0.0, .type = IDLETAX_FLAT};
  idletax_level(&shares_only, w, n, (double)available);
  if ((rc = idletax_round(w, n, available, tmp)))
    goto out_nomem;
  for (size_t i = 0; i < n; i++) {
    double p0 = (double)tmp[i], idle0 = fmax(0.0, p0 - w[i].active);
    double rate = idletax_rate(p, p0 > 0.0 ? fmin(1.0, w[i].active / p0) : 1.0);
    uint64_t taken_max = (uint64_t)floor(rate * idle0);
    uint64_t fl = tmp[i] - (taken_max < tmp[i] ? taken_max : tmp[i]);
    out[i] = (idletax_target_t){.share_pages = tmp[i], .tax_floor_pages = fl};
    w[i].floor_l = fl > w[i].lo ? fl : w[i].lo;
  }
  /* Then with the tax, never below the floors. */
  idletax_level(p, w, n, (double)available);
  if ((rc = idletax_round(w, n, available, tmp)))
    goto out_nomem;
  for (size_t i = 0; i < n; i++)
    out[i].target_pages = tmp[i];
  idletax_fill(p, vms, w, n, out);
  goto out_free;
out_nomem:
  rc = mmc_fail(err, MMC_ENOMEM, "idle tax: no memory for %zu VMs", n);
out_free:
  free(tmp);
  free(w);
  return rc;
}

bool idletax_result_is_valid(uint64_t available, const idletax_target_t *out, size_t n) {
  uint64_t sum = 0, sum_hi = 0, sum_lo = 0;
  for (size_t i = 0; i < n; i++) {
    const idletax_target_t *t = &out[i];
    if (t->target_pages < t->min_pages || t->target_pages > t->max_pages)
      return false;
    if (t->target_pages < t->tax_floor_pages)
      return false;
    sum += t->target_pages, sum_hi += t->max_pages, sum_lo += t->min_pages;
  }
  if (sum_lo > available) /* overcommitted: everyone at the minimum */
    return sum == sum_lo;
  if (sum > available)
    return false;
  return sum_hi <= available || sum == available;
}

/* ============================================================= mechanism
 * Documented in idletax.h ("mechanism"). All of it runs with h->lock held
 * (hooks, power-on/off, setting and reconfigure notifications), so the
 * per-VM targets need no lock of their own. */

#include "memstate.h"
#include "ref.h"
#include "ref_test.h"
#include "wss.h"

#define ALLOC_PCT 100.0
#define ALLOC_OSDI02_MIN_FREE_PCT 6u /* OSDI02 §6: the high state's 6 % */

typedef struct alloc_vm {
  idletax_target_t t; /* the last result for this VM */
  bool computed;
#ifdef REF_TWINS
  uint64_t twin_grown_ns; /* twin WSS4_TARGET_GROWS_5_PCT_PER_BALANCE_PERIOD */
#endif
} alloc_vm_t;

typedef struct alloc_host {
  uint64_t recomputes;
  bool dirty; /* an event happened since the last recompute */
} alloc_host_t;

/* Memory the host keeps free: minFree (memstate.h): Mem.MemMinFreePct
 * when set (> 0), else the profile's default (esxi-6.7: the sliding scale;
 * osdi02: 6 %). */
static uint64_t alloc_available(ref_host_t *h) {
  uint64_t cap = ref_mem_capacity_pages(h);
  uint32_t pct = (uint32_t)ref_set(h, REF_SET_MEM_MIN_FREE_PCT);
  uint64_t keep = h->settings.profile == REF_PROFILE_OSDI02 && pct == 0
                      ? cap * ALLOC_OSDI02_MIN_FREE_PCT / 100u
                      : memstate_min_free(cap, pct);
  return keep < cap ? cap - keep : 0;
}

typedef struct alloc_list {
  ref_vm_t **vm;
  size_t n, cap;
  bool nomem;
} alloc_list_t;

static void alloc_push(alloc_list_t *l, ref_vm_t *vm) {
  if (!vm->mech[REF_MECH_ALLOC] || l->nomem)
    return;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    ref_vm_t **v = realloc(l->vm, cap * sizeof *v);
    if (!v) {
      l->nomem = true;
      return;
    }
    l->vm = v, l->cap = cap;
  }
  l->vm[l->n++] = vm;
}

static void alloc_collect(ref_host_t *h, ref_vm_t *vm, void *ctx) {
  (void)h;
  alloc_push(ctx, vm);
}

static uint64_t alloc_resident(const ref_host_t *h, const ref_vm_t *vm) {
  uint64_t sum = 0;
  for (uint32_t n = 0; n < h->nnodes; n++)
    sum += atomic_load(&vm->pages_per_node[n]);
  return sum;
}

static void alloc_describe(ref_host_t *h, ref_vm_t *vm, idletax_vm_t *out) {
  double shares = 0.0; /* power-on and reconfigure validated cfg.shares */
  if (idletax_shares(vm->cfg.shares, vm->npages, &shares, NULL))
    idletax_shares(MMC_SHARES_NORMAL, vm->npages, &shares, NULL);
  *out = (idletax_vm_t){.shares = shares,
                        .configured_pages = vm->npages,
                        .reservation_pages =
                            vm->reserved_pages < vm->npages ? vm->reserved_pages : vm->npages,
                        .limit_pages = vm->cfg.limit_bytes / MMC_PAGE_SIZE,
                        .active_frac = ref_wss_active_frac(h, vm),
                        .current_pages = alloc_resident(h, vm)};
}

#ifdef REF_TWINS
/* Twin WSS4_TARGET_GROWS_5_PCT_PER_BALANCE_PERIOD: a target may grow by 5 %
 * of the VM once per Mem.BalancePeriod, however far below its share it is. */
static void twin_damp_growth(ref_host_t *h, ref_vm_t *vm, alloc_vm_t *a, idletax_target_t *t) {
  if (!REF_TWIN(WSS4_TARGET_GROWS_5_PCT_PER_BALANCE_PERIOD) || !a->computed ||
      t->target_pages <= a->t.target_pages)
    return;
  uint64_t now = ref_host_now(h);
  if (now - a->twin_grown_ns < ref_settings_period_ns(&h->settings, REF_SET_MEM_BALANCE_PERIOD)) {
    t->target_pages = a->t.target_pages;
    return;
  }
  a->twin_grown_ns = now;
  if (t->target_pages > a->t.target_pages + vm->npages / 20)
    t->target_pages = a->t.target_pages + vm->npages / 20;
}
#endif

/* Recompute over the running VMs. On an error the previous targets stay. */
static void alloc_recompute(ref_host_t *h) {
  alloc_host_t *ah = ref_host_mech(h, REF_MECH_ALLOC);
  alloc_list_t l = {0};
  ref_vm_for_each(h, alloc_collect, &l);
  idletax_vm_t *in = calloc(l.n ? l.n : 1, sizeof *in);
  idletax_target_t *out = calloc(l.n ? l.n : 1, sizeof *out);
  if (!l.nomem && in && out) {
    for (size_t i = 0; i < l.n; i++)
      alloc_describe(h, l.vm[i], &in[i]);
    idletax_params_t p = {.tau = (double)ref_set(h, REF_SET_MEM_IDLE_TAX) / ALLOC_PCT,
                          .type = (idletax_type_t)ref_set(h, REF_SET_MEM_IDLE_TAX_TYPE)};
    if (REF_TWIN(ALLOC5_TAX_TYPE_IGNORED))
      p.type = IDLETAX_FLAT; /* twin: Mem.IdleTaxType never read */
    uint64_t available = alloc_available(h);
    int rc = idletax_targets(&p, available, in, l.n, out, NULL);
    ref_assert(rc || idletax_result_is_valid(available, out, l.n));
    /* EADMISSION: reservations exceed what is available; every VM at its
     * minimum is still the right target. */
    for (size_t i = 0; (rc == 0 || rc == MMC_EADMISSION) && i < l.n; i++) {
      alloc_vm_t *a = l.vm[i]->mech[REF_MECH_ALLOC];
#ifdef REF_TWINS
      twin_damp_growth(h, l.vm[i], a, &out[i]);
#endif
      a->t = out[i];
      a->computed = true;
    }
    if (ah)
      ah->recomputes++, ah->dirty = false;
  }
  free(in);
  free(out);
  free(l.vm);
}

void ref_alloc_recompute(ref_host_t *h) {
  alloc_recompute(h);
}

/* An event that changes targets: recompute before anyone can see them. */
static void alloc_mark(ref_host_t *h) {
  alloc_host_t *ah = ref_host_mech(h, REF_MECH_ALLOC);
  if (ah && !REF_TWIN(ALLOC6_EVENTS_DO_NOT_RECOMPUTE))
    ah->dirty = true;
}

void ref_alloc_flush(ref_host_t *h) {
  alloc_host_t *ah = ref_host_mech(h, REF_MECH_ALLOC);
  if (ah && ah->dirty)
    alloc_recompute(h);
}

uint64_t ref_alloc_target(ref_host_t *h, const ref_vm_t *vm) {
  ref_alloc_flush(h);
  const alloc_vm_t *a = vm->mech[REF_MECH_ALLOC];
  return a && a->computed ? a->t.target_pages : vm->npages;
}

uint64_t ref_alloc_recomputes(ref_host_t *h) {
  alloc_host_t *ah = ref_host_mech(h, REF_MECH_ALLOC);
  return ah ? ah->recomputes : 0;
}

/* ---- ref_mech_t */

static void alloc_balance(ref_host_t *h, uint64_t now_ns, void *ctx) {
  (void)now_ns, (void)ctx;
  ref_alloc_recompute(h);
}

static int alloc_attach(ref_host_t *h, mmc_error_t *err) {
  alloc_host_t *ah = calloc(1, sizeof *ah);
  if (!ah)
    return mmc_fail(err, MMC_ENOMEM, "allocation targets: out of memory");
  ref_host_set_mech(h, REF_MECH_ALLOC, ah);
  ref_hook_t hook = {.name = "alloc", .period = REF_SET_MEM_BALANCE_PERIOD, .run = alloc_balance};
  int rc = ref_host_add_hook(h, &hook, err);
  if (rc) {
    ref_host_set_mech(h, REF_MECH_ALLOC, NULL);
    free(ah);
  }
  return rc;
}

static void alloc_detach(ref_host_t *h) {
  free(ref_host_mech(h, REF_MECH_ALLOC));
  ref_host_set_mech(h, REF_MECH_ALLOC, NULL);
}

static int alloc_vm_on(ref_host_t *h, ref_vm_t *vm, mmc_error_t *err) {
  alloc_vm_t *a = calloc(1, sizeof *a);
  if (!a)
    return mmc_fail(err, MMC_ENOMEM, "allocation targets: out of memory for VM %u", vm->id);
  vm->mech[REF_MECH_ALLOC] = a;
  alloc_mark(h);
  return 0;
}

static void alloc_vm_off(ref_host_t *h, ref_vm_t *vm) {
  alloc_mark(h); /* the VM leaves the table right after this */
  free(vm->mech[REF_MECH_ALLOC]);
  vm->mech[REF_MECH_ALLOC] = NULL;
}

static void alloc_vm_stats(ref_host_t *h, ref_vm_t *vm, mmc_vm_stats_t *out) {
  out->target_pages = ref_alloc_target(h, vm);
}

static void alloc_setting_changed(ref_host_t *h, ref_setting_id_t id) {
  (void)id;
  alloc_mark(h);
}

static void alloc_vm_reconfigured(ref_host_t *h, ref_vm_t *vm) {
  (void)vm;
  alloc_mark(h);
}

const ref_mech_t ref_mech_alloc = {
    .name = "alloc",
    .caps = MMC_CAP_ALLOC_TARGETS,
    .attach = alloc_attach,
    .detach = alloc_detach,
    .vm_on = alloc_vm_on,
    .vm_off = alloc_vm_off,
    .vm_stats = alloc_vm_stats,
    .setting_changed = alloc_setting_changed,
    .vm_reconfigured = alloc_vm_reconfigured,
};
