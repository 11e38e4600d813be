/*
 * memstate.c — free-memory states with hysteresis and their action sets
 * (STATE-1). The policy section is documented in memstate.h; the mechanism
 * section (row REF_MECH_MEMSTATE) follows it; see "mechanism" below.
 *
 * Invariants: see memstate_thresholds_are_valid.
 */
#include "memstate.h"
#include "twin.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "idletax.h"
#include "mmc_clock.h"
#include "reclaim.h"

/* ================================================================ policy */

#define MEMSTATE_PAGES_PER_GB (MMC_GIB / MMC_PAGE_SIZE)

/* The sliding scale: bands of host memory (GB) and their percentages; the
 * last band is open-ended. */
static const struct {
  uint64_t gb; /* band size; 0 = the rest */
  uint64_t pct;
} memstate_scale[] = {{4, 6}, {8, 4}, {16, 2}, {0, 1}};

uint64_t memstate_min_free_auto(uint64_t total_pages) {
  uint64_t left = total_pages, hundredths = 0; /* pages x percent */
  for (size_t i = 0; i < sizeof memstate_scale / sizeof memstate_scale[0] && left; i++) {
    uint64_t band = memstate_scale[i].gb ? memstate_scale[i].gb * MEMSTATE_PAGES_PER_GB : left;
    uint64_t take = left < band ? left : band;
    uint64_t pct = memstate_scale[i].pct;
    if (REF_TWIN(STATE1_SECOND_BAND_AT_3_PCT) && i == 1)
      pct = 3; /* twin: a typo in the sliding scale */
    hundredths += take * pct;
    left -= take;
  }
  return hundredths / 100;
}

uint64_t memstate_min_free(uint64_t total_pages, uint32_t min_free_pct) {
  if (min_free_pct == 0)
    return memstate_min_free_auto(total_pages);
  return total_pages * min_free_pct / 100;
}

/* ceil(x * num / den), without overflow for realistic page counts. */
static uint64_t memstate_ceil_frac(uint64_t x, uint64_t num, uint64_t den) {
  return (x * num + den - 1) / den;
}

void memstate_thresholds_esxi(uint64_t min_free_pages, uint32_t hysteresis_pct,
                              memstate_thresholds_t *t) {
  uint64_t m = min_free_pages;
  *t = (memstate_thresholds_t){.min_free_pages = m, .hysteresis_pct = hysteresis_pct};
  t->enter[MMC_STATE_HIGH] = t->floor[MMC_STATE_HIGH] =
      memstate_ceil_frac(m, MEMSTATE_PCT_HIGH, 100);
  t->enter[MMC_STATE_CLEAR] = t->floor[MMC_STATE_CLEAR] =
      memstate_ceil_frac(m, MEMSTATE_PCT_CLEAR, 100);
  t->enter[MMC_STATE_SOFT] = t->floor[MMC_STATE_SOFT] =
      memstate_ceil_frac(m, MEMSTATE_PCT_SOFT, 100);
  t->enter[MMC_STATE_HARD] = memstate_ceil_frac(m, MEMSTATE_PCT_HARD, 100);
  t->floor[MMC_STATE_HARD] = memstate_ceil_frac(m, MEMSTATE_PCT_LOW, 100);
}

void memstate_thresholds_osdi02(uint64_t total_pages, uint32_t hysteresis_pct,
                                memstate_thresholds_t *t) {
  const uint64_t bp = 10000; /* basis points */
  uint64_t high = memstate_ceil_frac(total_pages, MEMSTATE_OSDI02_BP_HIGH, bp);
  *t = (memstate_thresholds_t){.min_free_pages = high, .hysteresis_pct = hysteresis_pct};
  t->enter[MMC_STATE_HIGH] = t->floor[MMC_STATE_HIGH] = high;
  t->enter[MMC_STATE_CLEAR] = t->floor[MMC_STATE_CLEAR] = high; /* empty: never entered */
  t->enter[MMC_STATE_SOFT] = t->floor[MMC_STATE_SOFT] =
      memstate_ceil_frac(total_pages, MEMSTATE_OSDI02_BP_SOFT, bp);
  t->enter[MMC_STATE_HARD] = memstate_ceil_frac(total_pages, MEMSTATE_OSDI02_BP_HARD, bp);
  t->floor[MMC_STATE_HARD] = memstate_ceil_frac(total_pages, MEMSTATE_OSDI02_BP_LOW, bp);
}

mmc_mem_state_t memstate_initial(const memstate_thresholds_t *t, uint64_t free_pages) {
  for (unsigned s = MMC_STATE_HIGH; s < MMC_STATE_LOW; s++)
    if (free_pages >= t->floor[s])
      return (mmc_mem_state_t)s;
  return MMC_STATE_LOW;
}

/* enter level plus the margin: the free pages needed to move up into s. */
static uint64_t memstate_up_level(const memstate_thresholds_t *t, unsigned s) {
  if (REF_TWIN(STATE1_UPWARD_MARGIN_DROPPED))
    return t->enter[s]; /* twin: no hysteresis on the way up */
  return memstate_ceil_frac(t->enter[s], 100u + t->hysteresis_pct, 100);
}

mmc_mem_state_t memstate_next(const memstate_thresholds_t *t, mmc_mem_state_t cur,
                              uint64_t free_pages) {
  if ((unsigned)cur >= MEMSTATE_NSTATES)
    return memstate_initial(t, free_pages);
  if (free_pages < t->floor[cur]) /* down: immediately, to the state whose floor is met */
    return memstate_initial(t, free_pages);
  for (unsigned s = MMC_STATE_HIGH; s < (unsigned)cur; s++) /* up: highest state reached */
    if (free_pages >= memstate_up_level(t, s))
      return (mmc_mem_state_t)s;
  return cur;
}

uint32_t memstate_actions(mmc_mem_state_t s) {
  uint32_t a = MEMSTATE_ACT_SHARE;
  switch (s) {
  case MMC_STATE_LOW: a |= MEMSTATE_ACT_BLOCK;                         /* fall through */
  case MMC_STATE_HARD: a |= MEMSTATE_ACT_COMPRESS | MEMSTATE_ACT_SWAP; /* fall through */
  case MMC_STATE_SOFT: a |= MEMSTATE_ACT_BALLOON;                      /* fall through */
  case MMC_STATE_CLEAR: a |= MEMSTATE_ACT_BREAK_LARGE;                 /* fall through */
  case MMC_STATE_HIGH: return a;
  }
  return a;
}

const char *memstate_name(mmc_mem_state_t s) {
  static const char *const names[MEMSTATE_NSTATES] = {"high", "clear", "soft", "hard", "low"};
  return (unsigned)s < MEMSTATE_NSTATES ? names[s] : "?";
}

bool memstate_thresholds_are_valid(const memstate_thresholds_t *t) {
  for (unsigned s = MMC_STATE_HIGH; s < MMC_STATE_LOW; s++) {
    if (t->floor[s] > t->enter[s])
      return false;
    if (t->enter[s + 1] > t->enter[s] || t->floor[s + 1] > t->floor[s])
      return false;
  }
  return t->enter[MMC_STATE_LOW] == 0 && t->floor[MMC_STATE_LOW] == 0;
}

/* ================================================================ mechanism
 * (row REF_MECH_MEMSTATE, MMC_CAP_MEMSTATE; reclaim.h)
 *
 * Every Ref.ReclaimPeriod (a host hook: both clocks) the tick
 *  1. counts free frames over every pool and moves the state with
 *     memstate_next (profile esxi-6.7: sliding scale or Mem.MemMinFreePct;
 *     osdi02: 6/4/2/1 % of memory); a change raises MMC_EV_STATE_CHANGE
 *     (node_from/node_to = old/new state, count = free pages);
 *  2. computes reclamation targets (mstate_targets: the one switch point): the
 *     allocation target of REF_MECH_ALLOC (shares, working set, idle tax over
 *     capacity - minFree) scaled by (capacity - high level) / (capacity -
 *     minFree), never below the reservation, so that VMs at their targets
 *     leave the host in the high state: 400 % of minFree plus two
 *     hysteresis margins free, one margin above the level at which the host
 *     returns to high (aiming at that level itself made it a limit
 *     approached from below: see mstate_targets);
 *     without ALLOC, idletax_targets over the same memory with active
 *     fraction 1 (pure shares within reservation and limit);
 *  3. sets each VM's balloon target to balloon + resident - target, clamped
 *     to [0, cap] (BAL-2); in the high state a balloon only deflates. This is
 *     target-driven: once a lower state has started reclaiming, the clear
 *     state keeps ballooning toward the targets (our reading: "clear" adds no
 *     new mechanism but does not undo the balloon);
 *  4. in the hard state, for each VM above target whose balloon cannot keep
 *     up (no driver, at its cap, or short of its target for
 *     Ref.BalloonSlowTime: SWAP-3), and in the low state for every VM above
 *     target (memory is nearly gone: no waiting for guests), reclaims the
 *     excess through swap.c
 *     (compression first, then swap), at most Ref.SwapRate x period pages;
 *  5. wakes vCPUs waiting in the gate.
 * The low-state gate (ref_memstate_gate): a VM above target may not allocate
 * a new frame while the state is low; a vCPU finding every allowed pool full
 * may not either. Live clock: it waits on a condition variable for the next
 * tick (at most one period), then fails the access with MMC_ERETRY so the
 * vCPU quiesces and redoes it; the first blocked access bounces at once
 * (ERETRY without waiting), and only its retry, which holds no pointer by
 * the contract, waits, marked quiescent, so the tick's remaps never wait for
 * a blocked vCPU. After Ref.LowBlockTimeout of such retries the access
 * fails with MMC_ENOMEM. Stepped clock: nothing runs while a vCPU waits: a
 * vCPU finding the pools full reclaims directly from the VM furthest above
 * its target (then ERETRY: the retry finds a frame), and a VM above target
 * in the low state fails at once with MMC_ENOMEM. Either way a blocked vCPU
 * never hangs, and nothing is lost (the page stays as it was).
 * Locking (ref.h, "Lock ordering"): the tick runs with h->lock held and
 * wakes the gate under mstate->wait_lock. The gate runs on a vCPU thread with
 * the entry BUSY and h->lock not held: its live wait is a timed wait on
 * mstate->wake, quiesced; its stepped direct reclaim only trylocks h->lock (L2)
 * and, when it gets it, reclaims from another VM as the tick would (that
 * remap waits only for the other VM's vCPUs, quiesced on the stepped clock:
 * pmap.c R7).
 */

typedef struct mstate_host {
  _Atomic uint32_t state;
  memstate_thresholds_t t; /* of the last tick (h->lock) */
  pthread_mutex_t wait_lock;
  pthread_cond_t wake; /* CLOCK_MONOTONIC */
  uint64_t epoch;      /* ticks so far (wait_lock) */
} mstate_host_t;

typedef struct mstate_vm {
  _Atomic uint64_t target;
  _Atomic bool above;           /* resident > target at the last tick */
  _Atomic uint64_t *blocked_ns; /* per vCPU: CLOCK_MONOTONIC start of its wait, 0 = none */
  uint32_t nvcpus;              /* entries of blocked_ns; fixed at power-on (the fault path
                                   reads it without h->lock, so never from vm->cfg) */
} mstate_vm_t;

static mstate_host_t *mstate_host(ref_host_t *h) {
  return ref_host_mech(h, REF_MECH_MEMSTATE);
}

/* Free frames of the whole host now (sum over pools). */
static uint64_t mstate_free_pages(ref_host_t *h) {
  uint64_t free_pages = 0;
  for (uint32_t n = 0; n < h->nnodes; n++)
    if (h->pools[n])
      free_pages += ref_pool_free(h->pools[n]);
  return free_pages;
}

static uint64_t mstate_capacity(ref_host_t *h) {
  uint64_t cap = 0;
  for (uint32_t n = 0; n < h->nnodes; n++)
    if (h->pools[n])
      cap += ref_pool_capacity(h->pools[n]);
  return cap;
}

static void mstate_thresholds(ref_host_t *h, memstate_thresholds_t *t) {
  uint64_t total = mstate_capacity(h);
  if (h->settings.profile == REF_PROFILE_OSDI02)
    memstate_thresholds_osdi02(total, MEMSTATE_HYSTERESIS_PCT_DEFAULT, t);
  else
    memstate_thresholds_esxi(
        memstate_min_free(total, (uint32_t)ref_set(h, REF_SET_MEM_MIN_FREE_PCT)),
        MEMSTATE_HYSTERESIS_PCT_DEFAULT, t);
}

uint64_t ref_reclaim_target(ref_host_t *h, ref_vm_t *vm) {
  mstate_vm_t *v = vm->mech[REF_MECH_MEMSTATE];
  return v ? atomic_load(&v->target) : vm->npages;
}

static uint64_t mstate_resident(const ref_host_t *h, const ref_vm_t *vm) {
  uint64_t r = 0;
  for (uint32_t n = 0; n < h->nnodes; n++)
    r += atomic_load_explicit(&vm->pages_per_node[n], memory_order_relaxed);
  return r;
}

/* ---------------------------------------------------------------- targets */

typedef struct mstate_collect {
  ref_vm_t **vms;
  idletax_vm_t *in;
  size_t n, cap;
  bool oom;
} mstate_collect_t;

static void mstate_collect_vm(ref_host_t *h, ref_vm_t *vm, void *ctx) {
  mstate_collect_t *c = ctx;
  if (c->n == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 16;
    ref_vm_t **v = realloc(c->vms, cap * sizeof *v);
    if (v)
      c->vms = v;
    idletax_vm_t *in = v ? realloc(c->in, cap * sizeof *in) : NULL;
    if (in)
      c->in = in;
    if (!v || !in) {
      c->oom = true;
      return;
    }
    c->cap = cap;
  }
  double shares = 0;
  idletax_shares(vm->cfg.shares, vm->npages, &shares, NULL);
  c->vms[c->n] = vm;
  c->in[c->n] = (idletax_vm_t){.shares = shares,
                               .configured_pages = vm->npages,
                               .reservation_pages = vm->reserved_pages,
                               .limit_pages = vm->cfg.limit_bytes / MMC_PAGE_SIZE,
                               .active_frac = 1.0,
                               .current_pages = mstate_resident(h, vm)};
  c->n++;
}

/* THE switch point for targets: until REF_MECH_ALLOC publishes targets
 * (shares + working set + idle tax), pure shares with active fraction 1 over
 * the memory available to VMs. */
static void mstate_targets(ref_host_t *h, const memstate_thresholds_t *t, mstate_collect_t *c) {
  ref_vm_for_each(h, mstate_collect_vm, c);
  if (c->oom || c->n == 0)
    return;
  uint64_t cap = mstate_capacity(h);
  /* Reclamation aims one hysteresis band above the level at which the host
   * returns to high (enter x (1 + 2h), the up-level being enter x (1 + h)).
   * Aiming at the up-level itself made it a limit approached from below:
   * measured (bench reclaim, pressure): free memory passed the high enter
   * level 3 s after the pressure event, then hovered a few dozen pages
   * under the up-level for ~7 s, because pages the guests read back from
   * swap re-grew them faster than their once-a-second balloon polls took
   * pages; the state came back to high only by chance. */
  uint64_t high = (t->enter[MMC_STATE_HIGH] * (100 + 2 * t->hysteresis_pct) + 99) / 100;
  uint64_t avail = cap > high ? cap - high : 0;
  /* ALLOC shares out capacity - minFree; reclamation aims at the high state. */
  uint64_t alloc_avail = cap > t->min_free_pages ? cap - t->min_free_pages : 0;
  idletax_params_t p = {.tau = (double)ref_set(h, REF_SET_MEM_IDLE_TAX) / 100.0,
                        .type = (idletax_type_t)ref_set(h, REF_SET_MEM_IDLE_TAX_TYPE)};
  idletax_target_t *out = calloc(c->n, sizeof *out);
  if (!out)
    return;
  idletax_targets(&p, avail, c->in, c->n, out, NULL); /* EADMISSION still fills minima */
  for (size_t i = 0; i < c->n; i++) {
    mstate_vm_t *v = c->vms[i]->mech[REF_MECH_MEMSTATE];
    uint64_t tg = out[i].target_pages;
    if (ref_mechs[REF_MECH_ALLOC]) { /* ALLOC's target, scaled to leave the high level free */
      uint64_t at = ref_alloc_target(h, c->vms[i]);
      uint64_t floor = c->in[i].reservation_pages < at ? c->in[i].reservation_pages : at;
      tg = alloc_avail > avail ? (uint64_t)((double)at * (double)avail / (double)alloc_avail) : at;
      tg = tg < floor ? floor : tg;
    }
    atomic_store(&v->target, tg);
    atomic_store(&v->above, c->in[i].current_pages > tg);
  }
  free(out);
}

/* ---------------------------------------------------------------- tick */

static void mstate_set_state(ref_host_t *h, mstate_host_t *m, mmc_mem_state_t next,
                             uint64_t free_pages) {
  mmc_mem_state_t cur = (mmc_mem_state_t)atomic_load(&m->state);
  if (next == cur)
    return;
  atomic_store(&m->state, (uint32_t)next);
  if (ref_mechs[REF_MECH_ALLOC])
    ref_alloc_recompute(h); /* ALLOC-6: targets follow memory-state changes */
  mmc_event_t ev = {.type = MMC_EV_STATE_CHANGE,
                    .node_from = (int32_t)cur,
                    .node_to = (int32_t)next,
                    .count = free_pages};
  snprintf(ev.reason, sizeof ev.reason, "%s->%s", memstate_name(cur), memstate_name(next));
  ref_event_emit(h, ev);
}

/* Balloon target and host swapping for one VM (steps 3 and 4). */
static void mstate_reclaim_vm(ref_host_t *h, ref_vm_t *vm, mmc_mem_state_t st, uint64_t now) {
  uint64_t target = ref_reclaim_target(h, vm), resident = mstate_resident(h, vm);
  uint64_t bal = ref_balloon_size(vm);
  uint64_t want = bal + resident > target ? bal + resident - target : 0;
  uint64_t cur = ref_balloon_get_target(vm);
  if (st == MMC_STATE_HIGH && want > cur)
    want = cur; /* plenty of memory: deflate only */
  ref_balloon_set_target(h, vm, want, now);
  /* twin SWAP3_SWAPS_IN_SOFT_STATE: swapping joins ballooning in the soft state */
  bool swap_too = REF_TWIN(SWAP3_SWAPS_IN_SOFT_STATE) && st == MMC_STATE_SOFT;
  if (!((memstate_actions(st) & MEMSTATE_ACT_SWAP) || swap_too) || resident <= target)
    return;
  if (st != MMC_STATE_LOW && !ref_balloon_cannot_keep_up(h, vm, now) && !swap_too)
    return; /* SWAP-3: the balloon is preferred while it keeps up (not in low) */
  uint64_t period_ms = (uint64_t)ref_set(h, REF_SET_REF_RECLAIM_PERIOD);
  uint64_t budget = (uint64_t)ref_set(h, REF_SET_REF_SWAP_RATE) * period_ms / 1000;
  uint64_t excess = resident - target;
  ref_swap_reclaim(h, vm, excess < budget ? excess : (budget ? budget : 1));
}

static void mstate_tick(ref_host_t *h, uint64_t now, void *ctx) {
  mstate_host_t *m = ctx;
  mstate_thresholds(h, &m->t);
  ref_assert(memstate_thresholds_are_valid(&m->t));
  uint64_t free_pages = mstate_free_pages(h);
  mstate_set_state(h, m, memstate_next(&m->t, (mmc_mem_state_t)atomic_load(&m->state), free_pages),
                   free_pages);
  mstate_collect_t c = {0};
  mstate_targets(h, &m->t, &c);
  mmc_mem_state_t st = (mmc_mem_state_t)atomic_load(&m->state);
  for (size_t i = 0; i < c.n && !c.oom; i++)
    mstate_reclaim_vm(h, c.vms[i], st, now);
  free(c.vms);
  free(c.in);
  /* What swapping freed counts at once (e.g. hard -> soft in the same tick). */
  free_pages = mstate_free_pages(h);
  mstate_set_state(h, m, memstate_next(&m->t, st, free_pages), free_pages);
  ref_lock(&m->wait_lock, REF_LC_MSTATE_WAIT);
  m->epoch++;
  pthread_cond_broadcast(&m->wake);
  ref_unlock(&m->wait_lock, REF_LC_MSTATE_WAIT);
}

/* ---------------------------------------------------------------- gate */

static bool mstate_blocked(ref_host_t *h, mstate_host_t *m, ref_vm_t *vm, bool pool_full) {
  mstate_vm_t *v = vm->mech[REF_MECH_MEMSTATE];
  return pool_full || (atomic_load(&m->state) == MMC_STATE_LOW && v && atomic_load(&v->above) &&
                       mstate_resident(h, vm) >= atomic_load(&v->target));
}

/* Stepped clock, pools full: reclaim now from the other VM furthest above
 * its target (its vCPUs are all quiesced in stepped mode), if no control
 * call holds the host: a trylock, never a wait (ref.h L2). Returns frames
 * freed. */
typedef struct mstate_pick {
  ref_vm_t *self, *best;
  uint64_t best_excess;
} mstate_pick_t;

static void mstate_pick_vm(ref_host_t *h, ref_vm_t *vm, void *ctx) {
  mstate_pick_t *p = ctx;
  uint64_t r = mstate_resident(h, vm), t = ref_reclaim_target(h, vm);
  uint64_t excess = r > t ? r - t + 1 : (r ? 1 : 0); /* above target first, then any */
  if (vm != p->self && excess > p->best_excess) {
    p->best = vm;
    p->best_excess = excess;
  }
}

static uint64_t mstate_direct_reclaim(ref_host_t *h, ref_vm_t *self) {
  if (!ref_host_trylock(h))
    return 0;
  mstate_pick_t p = {.self = self};
  ref_vm_for_each(h, mstate_pick_vm, &p);
  uint64_t want = (uint64_t)ref_set(h, REF_SET_REF_SWAP_CLUSTER_PAGES);
  uint64_t got = p.best ? ref_swap_reclaim(h, p.best, want) : 0;
  ref_host_unlock(h);
  return got;
}

/* Live clock: the first blocked access of a vCPU fails with ERETRY at once,
 * so the vCPU quiesces (the contract: quiesce, then redo the access); when
 * the same access comes back the vCPU holds no pointer, so it is marked
 * quiescent (no remap waits for it) and waits for the next tick. */
int ref_memstate_gate(ref_host_t *h, ref_vm_t *vm, uint32_t vcpu, bool pool_full,
                      mmc_error_t *err) {
  mstate_host_t *m = mstate_host(h);
  mstate_vm_t *v = vm->mech[REF_MECH_MEMSTATE];
  if (!m || !v || vcpu >= v->nvcpus)
    return 0;
  _Atomic uint64_t *since = &v->blocked_ns[vcpu];
  if (!mstate_blocked(h, m, vm, pool_full))
    return 0; /* the blocked time ends when the frame is had (gate_passed) */
  const char *why = pool_full ? "no free frame on any node it may use"
                              : "the host is in the low memory state and the VM is above its "
                                "target";
  if (h->clock == MMC_CLOCK_STEPPED) {
    if (pool_full && mstate_direct_reclaim(h, vm))
      return mmc_fail(err, MMC_ERETRY, "VM %u: memory reclaimed from another VM; retry", vm->id);
    return mmc_fail(err, MMC_ENOMEM, "VM %u: %s (stepped clock: advance time to reclaim)", vm->id,
                    why);
  }
  uint64_t t0 = mmc_mono_ns(), start = atomic_load(since);
  if (!start) {
    atomic_store(since, t0);
    return mmc_fail(err, MMC_ERETRY, "VM %u: blocked (%s); quiesce and retry the access", vm->id,
                    why);
  }
  uint64_t timeout = (uint64_t)ref_set(h, REF_SET_REF_LOW_BLOCK_TIMEOUT) * MMC_NS_PER_MS;
  if (t0 - start >= timeout) {
    atomic_store(since, 0);
    return mmc_fail(err, MMC_ENOMEM, "VM %u: %s for %llu ms (Ref.LowBlockTimeout)", vm->id, why,
                    (unsigned long long)((t0 - start) / MMC_NS_PER_MS));
  }
  ref_pmap_quiesce(vm->vcpus[vcpu].q); /* a retried access: nothing held */
  /* Wait for the next tick, at most one period (and never past the timeout). */
  uint64_t slice = ref_settings_period_ns(&h->settings, REF_SET_REF_RECLAIM_PERIOD);
  uint64_t left = timeout - (t0 - start);
  uint64_t abs = t0 + (slice < left ? slice : left);
  struct timespec ts = mmc_ns_timespec(abs);
  ref_lock(&m->wait_lock, REF_LC_MSTATE_WAIT);
  uint64_t epoch = m->epoch;
  while (m->epoch == epoch && pthread_cond_timedwait(&m->wake, &m->wait_lock, &ts) == 0)
    ;
  ref_unlock(&m->wait_lock, REF_LC_MSTATE_WAIT);
  return mmc_fail(err, MMC_ERETRY, "VM %u: waited for memory (%s); quiesce and retry the access",
                  vm->id, why);
}

void ref_memstate_gate_passed(ref_vm_t *vm, uint32_t vcpu) {
  mstate_vm_t *v = vm->mech[REF_MECH_MEMSTATE];
  if (!v || vcpu >= v->nvcpus)
    return;
  _Atomic uint64_t *since = &v->blocked_ns[vcpu];
  if (atomic_load_explicit(since, memory_order_relaxed)) /* no write on the common path */
    atomic_store_explicit(since, 0, memory_order_relaxed);
}

/* ---------------------------------------------------------------- row */

static int mstate_attach(ref_host_t *h, mmc_error_t *err) {
  mstate_host_t *m = calloc(1, sizeof *m);
  if (!m)
    return mmc_fail(err, MMC_ENOMEM, "memstate: out of memory");
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&m->wake, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&m->wait_lock, NULL);
  mstate_thresholds(h, &m->t);
  atomic_init(&m->state, (uint32_t)memstate_initial(&m->t, mstate_free_pages(h)));
  ref_hook_t hook = {
      .name = "memstate", .period = REF_SET_REF_RECLAIM_PERIOD, .run = mstate_tick, .ctx = m};
  int rc = ref_host_add_hook(h, &hook, err);
  if (rc) {
    pthread_cond_destroy(&m->wake);
    pthread_mutex_destroy(&m->wait_lock);
    free(m);
    return rc;
  }
  ref_host_set_mech(h, REF_MECH_MEMSTATE, m);
  return 0;
}

static void mstate_detach(ref_host_t *h) {
  mstate_host_t *m = mstate_host(h);
  if (!m)
    return;
  pthread_cond_destroy(&m->wake);
  pthread_mutex_destroy(&m->wait_lock);
  free(m);
  ref_host_set_mech(h, REF_MECH_MEMSTATE, NULL);
}

static int mstate_vm_on(ref_host_t *h, ref_vm_t *vm, mmc_error_t *err) {
  mstate_vm_t *v = calloc(1, sizeof *v);
  _Atomic uint64_t *b = calloc(vm->cfg.vcpus, sizeof *b);
  if (!v || !b) {
    free(v);
    free(b);
    return mmc_fail(err, MMC_ENOMEM, "memstate: out of memory for VM %u", vm->id);
  }
  atomic_init(&v->target, vm->npages);
  v->blocked_ns = b;
  v->nvcpus = vm->cfg.vcpus;
  vm->mech[REF_MECH_MEMSTATE] = v;
  return 0;
}

static void mstate_vm_off(ref_host_t *h, ref_vm_t *vm) {
  mstate_vm_t *v = vm->mech[REF_MECH_MEMSTATE];
  if (!v)
    return;
  free(v->blocked_ns);
  free(v);
  vm->mech[REF_MECH_MEMSTATE] = NULL;
}

static void mstate_vm_stats(ref_host_t *h, ref_vm_t *vm, mmc_vm_stats_t *out) {
  if (!ref_mechs[REF_MECH_ALLOC]) /* ALLOC reports its own targets once it exists */
    out->target_pages = ref_reclaim_target(h, vm);
}

static void mstate_host_stats(ref_host_t *h, mmc_host_stats_t *out) {
  mstate_host_t *m = mstate_host(h);
  memstate_thresholds_t t;
  mstate_thresholds(h, &t);
  out->mem_state = m ? atomic_load(&m->state) : MMC_STATE_HIGH;
  out->min_free_pages = t.min_free_pages;
}

const ref_mech_t ref_mech_memstate = {.name = "memstate",
                                      .caps = MMC_CAP_MEMSTATE,
                                      .attach = mstate_attach,
                                      .detach = mstate_detach,
                                      .vm_on = mstate_vm_on,
                                      .vm_off = mstate_vm_off,
                                      .vm_stats = mstate_vm_stats,
                                      .host_stats = mstate_host_stats};
