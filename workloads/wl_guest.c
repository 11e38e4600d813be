/*
 * wl_guest.c — a guest operating system model with a balloon driver
 * (BAL-1, BAL-3; guests for SWAP-2/3, ZIP-1, INT-1 full form).
 *
 * Memory layout by gpfn (wl_guest_cfg_t): [0, anon) anonymous memory the
 * guest must keep, [anon, anon + cache) page cache (clean: the guest could
 * drop it and read it again from its disk), the rest free (never touched).
 * Three standard guests: with free memory, with a page cache, with no free
 * memory (all anonymous) — see WL_GUEST_* presets in workload.h.
 *
 * vCPU i boots by writing its stripe of the anonymous range (and vCPU 0 the
 * cache and the free pages: a guest has used its free pages before, so they
 * hold frames the balloon can give back), boot_pages_per_step at a time; then each step writes
 * writes_per_step and re-reads reads_per_step random pages of its stripe
 * (like writer-verifier), and vCPU 0 re-reads cache_reads_per_step cache
 * pages still in the cache.
 *
 * The balloon driver (cfg.driver) runs on vCPU 0 from its first step (boot
 * skips pages the balloon took):
 *  - it polls balloon_target once per poll_ns of workload time (1 s by
 *    default: in stepped mode that is virtual time, so polls are exact);
 *  - it moves the balloon toward the target by at most rate_pages_per_s x
 *    poll period pages per poll (inflate or deflate: "at a limited rate");
 *  - to inflate it gives free pages first, then page-cache pages (the guest
 *    drops them: what it would page out itself), never anonymous pages; when
 *    none are left the balloon stays short of its target (the host swaps);
 *  - it never touches a page it gave; deflating takes pages back last in,
 *    first out; a page taken back reads zero and becomes free;
 *  - before calling the host it quiesces its vCPU (a give remaps pages and
 *    waits for every vCPU of the VM holding pointers).
 * Truth: pages given are not checked (wl_guest_verify skips them); pages
 * taken back must read zero (truth version 0).
 *
 * Invariants: page state and truth of cache/free pages change only on
 * vCPU 0 (the driver and the cache reader), anonymous pages only on their
 * stripe's vCPU, so the truth table needs no locks (workload.h).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mmc_error.h"
#include "workload.h"

#define NS_PER_S 1000000000ull
#define GUEST_GIVE_CHUNK 1024u /* gpfns per balloon_give/take call */

enum { PG_ANON = 0, PG_CACHE = 1, PG_FREE = 2, PG_BALLOON = 3 };

typedef struct guest {
  wl_guest_cfg_t cfg;
  uint64_t anon, cache_end; /* [0, anon) anon, [anon, cache_end) cache */
  uint8_t *kind;            /* per page: PG_* */
  uint64_t *balloon;        /* stack of given gpfns */
  uint64_t nballoon;
  uint64_t free_cursor;  /* next free page to give (ascending) */
  uint64_t cache_cursor; /* cache pages given so far from the top (descending) */
  uint64_t next_poll_ns;
  bool polled_once;
  uint64_t *boot_next; /* per vCPU: next own page to write at boot */
  _Atomic bool *booted;
  _Atomic uint64_t polls, given, taken, target, short_polls;
} guest_t;

static int guest_init(wl_vm_t *vm, const void *cfg, mmc_error_t *err) {
  const wl_guest_cfg_t *c = cfg;
  if (!c || c->anon_permille + c->cache_permille > 1000)
    return mmc_fail(err, MMC_EINVAL, "guest: anon_permille + cache_permille must be <= 1000");
  guest_t *g = calloc(1, sizeof *g);
  uint64_t n = vm->truth.npages;
  if (!g)
    return mmc_fail(err, MMC_ENOMEM, "guest: out of memory");
  g->cfg = *c;
  if (!g->cfg.poll_ns)
    g->cfg.poll_ns = NS_PER_S;
  if (!g->cfg.rate_pages_per_s)
    g->cfg.rate_pages_per_s = WL_GUEST_RATE_DEFAULT;
  g->anon = n * c->anon_permille / 1000;
  g->cache_end = g->anon + n * c->cache_permille / 1000;
  g->kind = malloc(n);
  g->balloon = malloc(n * sizeof *g->balloon);
  g->boot_next = calloc(vm->nvcpus, sizeof *g->boot_next);
  g->booted = calloc(vm->nvcpus, sizeof *g->booted);
  if (!g->kind || !g->balloon || !g->boot_next || !g->booted) {
    free(g->kind);
    free(g->balloon);
    free(g->boot_next);
    free(g->booted);
    free(g);
    return mmc_fail(err, MMC_ENOMEM, "guest: out of memory for %llu pages", (unsigned long long)n);
  }
  for (uint64_t p = 0; p < n; p++)
    g->kind[p] = p < g->anon ? PG_ANON : p < g->cache_end ? PG_CACHE : PG_FREE;
  g->free_cursor = g->cache_end;
  vm->state = g;
  return 0;
}

static void guest_fini(wl_vm_t *vm) {
  guest_t *g = vm->state;
  if (!g)
    return;
  free(g->kind);
  free(g->balloon);
  free(g->boot_next);
  free(g->booted);
  free(g);
  vm->state = NULL;
}

/* vCPU i's stripe of the anonymous range. */
static void stripe(const wl_vm_t *vm, const guest_t *g, uint32_t i, uint64_t *lo, uint64_t *hi) {
  *lo = i * g->anon / vm->nvcpus;
  *hi = (i + 1) * g->anon / vm->nvcpus;
}

/* Boot: the stripe, then (vCPU 0) the cache. Returns 0 or an error. */
static int guest_boot(wl_vcpu_t *v, guest_t *g, mmc_error_t *err) {
  uint64_t lo, hi;
  stripe(v->vm, g, v->index, &lo, &hi);
  uint64_t end = v->index == 0 ? v->vm->truth.npages : hi, len = hi - lo;
  uint64_t budget = g->cfg.boot_pages_per_step ? g->cfg.boot_pages_per_step : UINT64_MAX;
  uint64_t *k = &g->boot_next[v->index];
  for (; budget && *k < len + (end > hi ? end - g->anon : 0); budget--, (*k)++) {
    uint64_t p = *k < len ? lo + *k : g->anon + (*k - len);
    if (g->kind[p] == PG_BALLOON)
      continue; /* given during boot: never touched */
    int rc = wl_write_next(v, p, err);
    if (rc)
      return rc;
  }
  if (*k >= len + (end > hi ? end - g->anon : 0))
    atomic_store(&g->booted[v->index], true);
  return 0;
}

/* ---------------------------------------------------------------- driver */

static uint64_t pick_page(wl_vm_t *vm, guest_t *g) {
  while (g->free_cursor < vm->truth.npages && g->kind[g->free_cursor] != PG_FREE)
    g->free_cursor++;
  if (g->free_cursor < vm->truth.npages)
    return g->free_cursor++;
  while (g->cache_cursor < g->cache_end - g->anon) {
    uint64_t p = g->cache_end - 1 - g->cache_cursor++;
    if (g->kind[p] == PG_CACHE)
      return p; /* the guest drops this clean cache page */
  }
  return UINT64_MAX;
}

static int inflate(wl_vcpu_t *v, guest_t *g, uint64_t n, mmc_error_t *err) {
  wl_vm_t *vm = v->vm;
  uint64_t chunk[GUEST_GIVE_CHUNK];
  while (n) {
    size_t k = 0;
    uint64_t p;
    while (k < GUEST_GIVE_CHUNK && k < n && (p = pick_page(vm, g)) != UINT64_MAX)
      chunk[k++] = p;
    if (!k)
      return 0; /* nothing left the guest can give */
    int rc = vm->impl->balloon_give(vm->host, vm->id, chunk, k, err);
    if (rc)
      return rc;
    for (size_t i = 0; i < k; i++) {
      g->kind[chunk[i]] = PG_BALLOON;
      g->balloon[g->nballoon++] = chunk[i];
    }
    atomic_fetch_add(&g->given, k);
    n -= k;
  }
  return 0;
}

static int deflate(wl_vcpu_t *v, guest_t *g, uint64_t n, mmc_error_t *err) {
  wl_vm_t *vm = v->vm;
  while (n && g->nballoon) {
    size_t k = n < GUEST_GIVE_CHUNK ? (size_t)n : GUEST_GIVE_CHUNK;
    if (k > g->nballoon)
      k = (size_t)g->nballoon;
    const uint64_t *top = g->balloon + g->nballoon - k;
    int rc = vm->impl->balloon_take(vm->host, vm->id, top, k, err);
    if (rc)
      return rc;
    for (size_t i = 0; i < k; i++) {
      g->kind[top[i]] = PG_FREE; /* reads zero now */
      vm->truth.version[top[i]] = 0;
      if (top[i] < g->free_cursor)
        g->free_cursor = top[i];
    }
    g->nballoon -= k;
    atomic_fetch_add(&g->taken, k);
    n -= k;
  }
  return 0;
}

static int driver_poll(wl_vcpu_t *v, guest_t *g, uint64_t t_ns, mmc_error_t *err) {
  if (g->polled_once && t_ns < g->next_poll_ns)
    return 0;
  g->next_poll_ns = (g->polled_once ? g->next_poll_ns : t_ns) + g->cfg.poll_ns;
  while (g->next_poll_ns <= t_ns) /* a late poll does not make up for missed ones */
    g->next_poll_ns += g->cfg.poll_ns;
  g->polled_once = true;
  wl_vm_t *vm = v->vm;
  uint64_t target = 0;
  int rc = vm->impl->balloon_target(vm->host, vm->id, &target, err);
  if (rc)
    return rc;
  atomic_fetch_add(&g->polls, 1);
  atomic_store(&g->target, target);
  uint64_t allow = g->cfg.rate_pages_per_s * g->cfg.poll_ns / NS_PER_S;
  if (!allow)
    allow = 1;
  vm->impl->quiesce(v->handle); /* hold no pointer while the host remaps */
  if (target > g->nballoon) {
    uint64_t want = target - g->nballoon;
    rc = inflate(v, g, want < allow ? want : allow, err);
  } else if (target < g->nballoon) {
    uint64_t want = g->nballoon - target;
    rc = deflate(v, g, want < allow ? want : allow, err);
  }
  if (g->nballoon < target)
    atomic_fetch_add(&g->short_polls, 1);
  return rc;
}

/* ---------------------------------------------------------------- steps */

static int guest_step(wl_vcpu_t *v, uint64_t t_ns, uint64_t dt_ns, mmc_error_t *err) {
  guest_t *g = v->vm->state;
  int prc = v->index == 0 && g->cfg.driver ? driver_poll(v, g, t_ns, err) : 0;
  if (prc)
    return prc;
  if (!atomic_load(&g->booted[v->index]))
    return guest_boot(v, g, err);
  uint64_t lo, hi;
  stripe(v->vm, g, v->index, &lo, &hi);
  for (uint32_t i = 0; hi > lo && i < g->cfg.writes_per_step; i++) {
    int rc = wl_write_next(v, lo + wl_rng_below(&v->rng, hi - lo), err);
    if (rc)
      return rc;
  }
  for (uint32_t i = 0; hi > lo && i < g->cfg.reads_per_step; i++) {
    int rc = wl_read_check(v, lo + wl_rng_below(&v->rng, hi - lo), NULL, err);
    if (rc)
      return rc;
  }
  if (v->index != 0)
    return 0;
  for (uint32_t i = 0; g->cache_end > g->anon && i < g->cfg.cache_reads_per_step; i++) {
    uint64_t p = g->anon + wl_rng_below(&v->rng, g->cache_end - g->anon);
    int rc = g->kind[p] == PG_CACHE ? wl_read_check(v, p, NULL, err) : 0;
    if (rc)
      return rc;
  }
  return 0;
}

const wl_ops_t wl_guest_ops = {
    .name = "guest", .init = guest_init, .step = guest_step, .fini = guest_fini};

bool wl_guest_booted(const wl_vm_t *vm) {
  const guest_t *g = vm->ops == &wl_guest_ops ? vm->state : NULL;
  for (uint32_t i = 0; g && i < vm->nvcpus; i++)
    if (!atomic_load(&g->booted[i]))
      return false;
  return g != NULL;
}

void wl_guest_stats(const wl_vm_t *vm, wl_guest_stats_t *out) {
  memset(out, 0, sizeof *out);
  guest_t *g = vm->ops == &wl_guest_ops ? vm->state : NULL;
  if (!g)
    return;
  out->polls = atomic_load(&g->polls);
  out->given = atomic_load(&g->given);
  out->taken = atomic_load(&g->taken);
  out->last_target = atomic_load(&g->target);
  out->short_polls = atomic_load(&g->short_polls);
  out->balloon = g->nballoon;
  out->anon_pages = g->anon;
  out->cache_pages = g->cache_end - g->anon;
}

bool wl_guest_is_ballooned(const wl_vm_t *vm, uint64_t gpfn) {
  const guest_t *g = vm->ops == &wl_guest_ops ? vm->state : NULL;
  return g && gpfn < vm->truth.npages && g->kind[gpfn] == PG_BALLOON;
}

/* ---------------------------------------------------------------- verify */

int wl_guest_verify(wl_vm_t *vm, wl_verify_report_t *rep, mmc_error_t *err) {
  memset(rep, 0, sizeof *rep);
  mmc_vcpu_t *h = vm->vcpus[0].handle;
  bool entered_here = !h;
  int rc = 0;
  if (entered_here && (rc = vm->impl->vcpu_enter(vm->host, vm->id, 0, &h, err)))
    return rc;
  const wl_truth_t *t = &vm->truth;
  for (uint64_t p = 0; p < t->npages && rc == 0; p++) {
    if (wl_guest_is_ballooned(vm, p))
      continue;
    const void *page;
    while (!(page = vm->impl->page(h, p, false, err)) && err && err->code == MMC_ERETRY) {
      vm->impl->quiesce(h);
      rep->retries++;
    }
    if (!page) {
      rc = err ? err->code : MMC_EINVAL;
      break;
    }
    wl_page_seen_t s;
    rep->pages_checked++;
    if (wl_page_check(page, wl_truth_seed(t, p), p, t->version[p], &s) != WL_PAGE_OK)
      wl_verify_report_add(rep, p, t->version[p], &s);
    if ((p + 1) % WL_VERIFY_QUIESCE_EVERY == 0)
      vm->impl->quiesce(h);
  }
  vm->impl->quiesce(h);
  if (entered_here)
    vm->impl->vcpu_exit(h);
  return rc;
}
