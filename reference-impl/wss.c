/*
 * wss.c — working-set estimation by sampling (WSS-1..4). The policy section
 * (sample plan, period accounting in VM execution time, EWMA estimator) and
 * the mechanism section (invalidating sampled pages in the guest page map,
 * counting first touches, VM execution time in both clocks) are documented
 * in wss.h.
 *
 * Invariants: see wss_is_valid and the mechanism section.
 */
#include "wss.h"
#include "twin.h"

#include <math.h>

#include "mmc_units.h"

/* ================================================================ policy */

#define WSS_PERIOD_DEFAULT_S 60ull  /* Mem.SamplePeriod default (esxi-6.7 profile) */
#define WSS_ACTIVE_MIN_DEFAULT 0.01 /* Mem.SampleActivePctMin default, 1 % */

static double wss_clamp01(double x) {
  if (!(x >= 0.0)) /* also catches NaN */
    return 0.0;
  return x > 1.0 ? 1.0 : x;
}

void wss_params_default(wss_params_t *p) {
  *p = (wss_params_t){.period_ns = WSS_PERIOD_DEFAULT_S * MMC_NS_PER_S,
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

/* The fast average including the current partial period:
 * fast + a_f (touched/sampled - fast), or fast when nothing is sampled. */
static double wss_fast_partial(const wss_state_t *st, const wss_params_t *p) {
  if (!st->sampled)
    return st->fast;
  return st->fast + p->alpha_fast * (wss_period_fraction(st) - st->fast);
}

double wss_estimate(const wss_state_t *st, const wss_params_t *p) {
  double slow = REF_TWIN(WSS2_SLOW_AVERAGE_DROPPED) ? 0.0 : st->slow;
  double e = fmax(slow, fmax(st->fast, wss_fast_partial(st, p)));
  return fmax(wss_clamp01(e), wss_clamp01(p->active_min));
}

bool wss_is_valid(const wss_state_t *st, const wss_params_t *p) {
  return st->fast >= 0.0 && st->fast <= 1.0 && st->slow >= 0.0 && st->slow <= 1.0 &&
         st->touched <= st->sampled && p->period_ns > 0 && st->exec_in_period_ns < p->period_ns;
}

/* ============================================================= mechanism
 * Documented in wss.h ("mechanism"). Locking (ref.h, "Lock ordering"): the
 * per-VM state is guarded by its own mutex, taken by the tick hook (h->lock
 * held) and by the vCPU slow path (entry BUSY, h->lock not held); under it
 * only place_lock is taken (ref_vm_running_demand), and it is never held
 * across a wait.
 * Invariants: every sample of the current period is distinct; a sample is
 * counted touched at most once; pages_sampled grows by exactly the number of
 * pages of each new period (n unless the VM has fewer pages). */

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "idletax.h"
#include "mmc_clock.h"
#include "ref.h"

#define WSS_LOCK_FLAGS (REF_PTE_MARK | REF_PTE_COPY | REF_PTE_BUSY)
#define WSS_PERMILLE 1000ull
#define WSS_PCT 100.0
#define WSS_RESAMPLE_FACTOR 4u /* extra random draws per sample for locked entries */
#define WSS_CAS_TRIES 8u       /* a vCPU changing the entry meanwhile: reload and retry */

typedef enum wss_how {
  WSS_INVALIDATED = 0, /* SAMPLED set: the next access is counted in the fault */
  WSS_PASSIVE = 1,     /* held by reclamation: touched if it came back by the end */
} wss_how_t;

typedef struct wss_sample {
  uint64_t gpfn;
  uint8_t how;    /* wss_how_t */
  uint8_t state0; /* WSS_PASSIVE: the reclaimed state when sampled */
  bool touched;
} wss_sample_t;

typedef struct wss_vm {
  pthread_mutex_t lock; /* everything below */
  wss_state_t st;
  ref_rng_t rng;
  wss_sample_t *s; /* samples of the current period */
  uint64_t *plan;  /* scratch for wss_plan */
  uint32_t n, cap;
  bool planned;           /* a period is under way */
  uint64_t pages_sampled; /* since power-on */
  uint64_t exec_ns;       /* VM execution time since power-on */
  uint64_t exec_rem;      /* stepped: remainder of dt * D / (1000 * vcpus) */
  uint64_t last_ns;       /* host time of the last accounting */
  pid_t *tid;             /* live: thread of each vCPU at the last tick (0: none) */
  uint64_t *cpu_ns;       /* live: that thread's CPU time then */
} wss_vm_t;

static wss_vm_t *wss_of(ref_vm_t *vm) {
  return vm->mech[REF_MECH_WSS];
}

static void wss_params_now(ref_host_t *h, wss_params_t *p) {
  double fast =
      (double)ref_set(h, REF_TWIN(WSS2_FAST_GAIN_READS_SLOW_GAIN) ? REF_SET_REF_WSS_SLOW_GAIN
                                                                  : REF_SET_REF_WSS_FAST_GAIN) /
      WSS_PCT;
  double slow = (double)ref_set(h, REF_SET_REF_WSS_SLOW_GAIN) / WSS_PCT;
  *p =
      (wss_params_t){.period_ns = ref_settings_period_ns(&h->settings, REF_SET_MEM_SAMPLE_PERIOD) *
                                  (uint64_t)ref_set(h, REF_SET_REF_SAMPLE_PERIOD_UNIT_MS) / 1000,
                     .alpha_fast = fast,
                     .alpha_slow = slow < fast ? slow : fast,
                     .active_min = (double)ref_set(h, REF_SET_MEM_SAMPLE_ACTIVE_PCT_MIN) / WSS_PCT};
}

/* ---- execution time */

static uint64_t wss_exec_live(ref_vm_t *vm, wss_vm_t *w) {
  uint64_t sum = 0;
  for (uint32_t i = 0; i < vm->cfg.vcpus; i++) {
    mmc_vcpu_t *v = &vm->vcpus[i];
    uint64_t now = 0;
    bool ok = atomic_load(&v->entered) && mmc_thread_cpu_ns(v->tid, &now);
    uint64_t at_exit = atomic_load(&v->exit_cpu_ns);
    if (ok && w->tid[i] == v->tid && now >= w->cpu_ns[i])
      sum += now - w->cpu_ns[i];
    else if (ok && w->tid[i] != v->tid && v->enter_cpu_ns && now >= v->enter_cpu_ns)
      sum += now - v->enter_cpu_ns; /* entered since the last accounting */
    else if (!ok && w->tid[i] && atomic_load(&v->exit_tid) == w->tid[i] && at_exit >= w->cpu_ns[i])
      sum += at_exit - w->cpu_ns[i]; /* it ran from the last accounting to its exit */
    w->tid[i] = ok ? v->tid : 0;
    w->cpu_ns[i] = now;
  }
  return sum / vm->cfg.vcpus;
}

static uint64_t wss_exec_stepped(ref_host_t *h, ref_vm_t *vm, wss_vm_t *w, uint64_t dt) {
  uint64_t demand = REF_TWIN(WSS1_WALL_TIME_NOT_VM_TIME) ? WSS_PERMILLE * vm->cfg.vcpus
                                                         : ref_vm_running_demand(h, vm);
  unsigned __int128 num = (unsigned __int128)dt * demand + w->exec_rem;
  uint64_t den = WSS_PERMILLE * vm->cfg.vcpus;
  w->exec_rem = (uint64_t)(num % den);
  return (uint64_t)(num / den);
}

/* ---- sampling */

static bool wss_taken(const wss_vm_t *w, uint64_t gpfn) {
  for (uint32_t i = 0; i < w->n; i++)
    if (w->s[i].gpfn == gpfn)
      return true;
  return false;
}

static bool wss_reclaimed(unsigned st) {
  return st == REF_PTE_BALLOONED || st == REF_PTE_COMPRESSED || st == REF_PTE_SWAPPED;
}

/* Add gpfn to the period's samples; false when its entry is locked. */
static bool wss_take(ref_vm_t *vm, wss_vm_t *w, uint64_t gpfn) {
  for (unsigned t = 0; t < WSS_CAS_TRIES; t++) {
    uint64_t pte = ref_pmap_get(vm->pmap, gpfn);
    if (pte & WSS_LOCK_FLAGS)
      continue;
    unsigned st = ref_pte_state(pte);
    if (wss_reclaimed(st) && !(pte & REF_PTE_SAMPLED)) {
      w->s[w->n++] = (wss_sample_t){.gpfn = gpfn, .how = WSS_PASSIVE, .state0 = (uint8_t)st};
      return true;
    }
    if ((pte & REF_PTE_SAMPLED) || ref_pmap_cas(vm->pmap, gpfn, pte, pte | REF_PTE_SAMPLED)) {
      w->s[w->n++] = (wss_sample_t){.gpfn = gpfn, .how = WSS_INVALIDATED};
      return true;
    }
  }
  return false;
}

static int wss_reserve(wss_vm_t *w, uint32_t n) {
  if (n <= w->cap)
    return 0;
  wss_sample_t *s = realloc(w->s, n * sizeof *s);
  if (s)
    w->s = s;
  uint64_t *plan = realloc(w->plan, n * sizeof *plan);
  if (plan)
    w->plan = plan;
  if (!s || !plan)
    return MMC_ENOMEM;
  w->cap = n;
  return 0;
}

/* Start a period: n distinct random pages, locked entries replaced by other
 * random pages (a bounded number of draws). */
static void wss_begin(ref_host_t *h, ref_vm_t *vm, wss_vm_t *w) {
  uint32_t want = (uint32_t)ref_set(h, REF_SET_REF_WSS_SAMPLE_PAGES);
  w->n = 0;
  w->planned = true;
  if (wss_reserve(w, want)) {
    wss_begin_period(&w->st, 0); /* no memory: this period measures nothing */
    return;
  }
  uint32_t k = wss_plan(&w->rng, vm->npages, want, w->plan);
  uint32_t extra = WSS_RESAMPLE_FACTOR * k;
  for (uint32_t i = 0; i < k; i++) {
    if (REF_TWIN(WSS3_EVERY_OTHER_SAMPLE_INVALIDATED) && i % 2)
      continue; /* twin: a stride of 2; the fraction below still divides by k */
    if (wss_take(vm, w, w->plan[i]))
      continue;
    while (extra > 0) { /* replace the locked page by another one */
      extra--;
      uint64_t g = ref_rng_below(&w->rng, vm->npages);
      bool dup = wss_taken(w, g);
      for (uint32_t j = i + 1; j < k && !dup; j++)
        dup = w->plan[j] == g;
      if (!dup && wss_take(vm, w, g))
        break;
    }
  }
  w->pages_sampled += w->n;
  wss_begin_period(&w->st, REF_TWIN(WSS3_EVERY_OTHER_SAMPLE_INVALIDATED) ? k : w->n);
}

/* Passive samples that came back from reclamation count as touched. */
static void wss_resolve_passive(ref_vm_t *vm, wss_vm_t *w) {
  for (uint32_t i = 0; i < w->n; i++) {
    wss_sample_t *s = &w->s[i];
    if (s->how != WSS_PASSIVE || s->touched)
      continue;
    if (ref_pte_state(ref_pmap_get(vm->pmap, s->gpfn)) != s->state0) {
      s->touched = true;
      wss_touch(&w->st);
    }
  }
}

/* Clear SAMPLED on the untouched invalidated samples. An entry locked by a
 * slow path is left: that fault clears it (and is not counted: the period is
 * over); one in a remap keeps SAMPLED and costs its next access one slow
 * path, uncounted. */
static void wss_restore(ref_vm_t *vm, wss_vm_t *w) {
  for (uint32_t i = 0; i < w->n; i++) {
    if (w->s[i].how != WSS_INVALIDATED || w->s[i].touched)
      continue;
    uint64_t g = w->s[i].gpfn;
    for (unsigned t = 0; t < WSS_CAS_TRIES; t++) {
      uint64_t pte = ref_pmap_get(vm->pmap, g);
      if (!(pte & REF_PTE_SAMPLED) || (pte & WSS_LOCK_FLAGS) ||
          ref_pmap_cas(vm->pmap, g, pte, pte & ~REF_PTE_SAMPLED))
        break;
    }
  }
  w->n = 0;
}

/* ---- the periodic hook: execution time, period ends */

static void wss_account(ref_host_t *h, ref_vm_t *vm, void *ctx) {
  uint64_t now = *(const uint64_t *)ctx;
  wss_vm_t *w = wss_of(vm);
  if (!w)
    return;
  uint64_t dt = now > w->last_ns ? now - w->last_ns : 0;
  w->last_ns = now;
  wss_params_t p;
  wss_params_now(h, &p);
  ref_lock(&w->lock, REF_LC_WSS_VM);
  uint64_t delta =
      h->clock == MMC_CLOCK_STEPPED ? wss_exec_stepped(h, vm, w, dt) : wss_exec_live(vm, w);
  w->exec_ns += delta;
  if (!w->planned) {
    wss_begin(h, vm, w);
  } else {
    if (w->st.exec_in_period_ns + delta >= p.period_ns)
      wss_resolve_passive(vm, w);
    if (wss_exec(&w->st, &p, delta)) {
      wss_restore(vm, w);
      wss_begin(h, vm, w);
    }
  }
  ref_assert(wss_is_valid(&w->st, &p));
  ref_unlock(&w->lock, REF_LC_WSS_VM);
}

static void wss_tick(ref_host_t *h, uint64_t now_ns, void *ctx) {
  (void)ctx;
  if (REF_TWIN(ALLOC6_RECOMPUTED_AT_EVERY_WSS_TICK))
    ref_alloc_recompute(h); /* twin: targets follow the estimates off the grid */
  else
    ref_alloc_flush(h); /* stale targets are computed from the estimates they saw */
  ref_vm_for_each(h, wss_account, &now_ns);
}

/* ---- ref_mech_t */

static int wss_attach(ref_host_t *h, mmc_error_t *err) {
  ref_hook_t hook = {.name = "wss", .period = REF_SET_REF_WSS_TICK, .run = wss_tick};
  return ref_host_add_hook(h, &hook, err);
}

static void wss_vm_free(wss_vm_t *w) {
  if (!w)
    return;
  pthread_mutex_destroy(&w->lock);
  free(w->s);
  free(w->plan);
  free(w->tid);
  free(w->cpu_ns);
  free(w);
}

static int wss_vm_on(ref_host_t *h, ref_vm_t *vm, mmc_error_t *err) {
  wss_vm_t *w = calloc(1, sizeof *w);
  if (w) {
    w->tid = calloc(vm->cfg.vcpus, sizeof *w->tid);
    w->cpu_ns = calloc(vm->cfg.vcpus, sizeof *w->cpu_ns);
  }
  if (!w || !w->tid || !w->cpu_ns || pthread_mutex_init(&w->lock, NULL)) {
    if (w) {
      free(w->tid);
      free(w->cpu_ns);
    }
    free(w);
    return mmc_fail(err, MMC_ENOMEM, "working-set sampling: out of memory for VM %u", vm->id);
  }
  uint64_t x = h->seed ^ ((uint64_t)vm->id << 32);
  ref_rng_seed(&w->rng, ref_splitmix64(&x));
  wss_init(&w->st, (double)ref_set(h, REF_SET_REF_WSS_INITIAL_ACTIVE) / WSS_PCT);
  w->last_ns = ref_host_now(h);
  vm->mech[REF_MECH_WSS] = w;
  return 0;
}

static void wss_vm_off(ref_host_t *h, ref_vm_t *vm) {
  (void)h;
  wss_vm_t *w = wss_of(vm);
  if (!w)
    return;
  wss_restore(vm, w); /* no vCPU is entered: every entry is quiet */
  vm->mech[REF_MECH_WSS] = NULL;
  wss_vm_free(w);
}

/* The vCPU slow path met a SAMPLED entry: count its first touch. */
static int wss_mech_fault(ref_host_t *h, ref_vm_t *vm, uint32_t vcpu, uint64_t gpfn, bool write,
                          uint64_t *pte, mmc_error_t *err) {
  (void)h, (void)vcpu, (void)write, (void)pte, (void)err;
  wss_vm_t *w = wss_of(vm);
  if (!w)
    return 0;
  ref_lock(&w->lock, REF_LC_WSS_VM);
  for (uint32_t i = 0; i < w->n; i++) {
    wss_sample_t *s = &w->s[i];
    if (s->gpfn != gpfn)
      continue;
    if (s->how == WSS_INVALIDATED && !s->touched) {
      s->touched = true;
      wss_touch(&w->st);
    }
    break;
  }
  ref_unlock(&w->lock, REF_LC_WSS_VM);
  return 0;
}

static void wss_vm_stats(ref_host_t *h, ref_vm_t *vm, mmc_vm_stats_t *out) {
  wss_vm_t *w = wss_of(vm);
  if (!w)
    return;
  wss_params_t p;
  wss_params_now(h, &p);
  ref_lock(&w->lock, REF_LC_WSS_VM);
  out->wss_estimate_pages = (uint64_t)llround(wss_estimate(&w->st, &p) * (double)vm->npages);
  out->pages_sampled = w->pages_sampled;
  out->exec_ns = w->exec_ns;
  ref_unlock(&w->lock, REF_LC_WSS_VM);
}

double ref_wss_active_frac(ref_host_t *h, ref_vm_t *vm) {
  wss_vm_t *w = wss_of(vm);
  if (!w)
    return 1.0;
  wss_params_t p;
  wss_params_now(h, &p);
  ref_lock(&w->lock, REF_LC_WSS_VM);
  double f = wss_estimate(&w->st, &p);
  ref_unlock(&w->lock, REF_LC_WSS_VM);
  return f;
}

const ref_mech_t ref_mech_wss = {
    .name = "wss",
    .caps = MMC_CAP_WSS,
    .attach = wss_attach,
    .vm_on = wss_vm_on,
    .vm_off = wss_vm_off,
    .fault_states = REF_FAULT_SAMPLED,
    .fault = wss_mech_fault,
    .vm_stats = wss_vm_stats,
};
