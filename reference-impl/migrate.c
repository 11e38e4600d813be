/*
 * migrate.c — the page-migration engine's mechanism (one ref_mech_t row,
 * REF_MECH_MIGRATE, MMC_CAP_MIGRATION): MIG-1..5 and NUMA-7 (memory follows
 * its home). Its decision is the pure policy of migpace.h (how many pages a
 * tick may move); this file feeds it from the host and applies what it
 * says. Home changes come from the rebalancer (rebalancer.c, which calls
 * ref_migrate_home_changed: MIG-2) or from elsewhere (an affinity
 * reconfigure: noticed at the next tick).
 *
 * Migration engine (hook on Ref.MigrateTick, 100 ms by default: short
 * enough that "immediately" (MIG-2) means within a tenth of a second and
 * the pace is smooth, long enough that a tick moves whole batches). Per NUMA
 * client with remote pages since its last home change:
 *  - budget = migpace_budget() over the tick (Numa.PageMigRateMax, ramp after
 *    the home change — the MIG-4 mechanism: a VM moved away and back within a
 *    period or two only ever runs at the bottom of the ramp —, slower when
 *    little remote memory is left or the destination is short of free frames
 *    above its share of minFree: MIG-3); 0 when Numa.PageMigEnable=0 (MIG-5:
 *    home changes still happen, nothing moves);
 *  - pages are found by a cursor walking the client's gpfn range: PRIVATE
 *    pages whose frame is off the home; batches of Ref.MigrateBatchPages go
 *    through ref_pmap_remap (mark, one quiescence wait, then per chunk of
 *    REF_REMAP_CHUNK pages (transform_many): frames of the home, sorted,
 *    and one pwritev(2) per run of contiguous ones into the home's memfd —
 *    the kernel allocates the page-cache pages without zeroing them first
 *    (a faulting memcpy paid that and a fault per page: ~3.5 us against
 *    ~1.6 us per page measured), then a read of each page maps the run
 *    (kernel fault-around, ~0.23 us per page against ~0.52 us for
 *    MADV_POPULATE_READ: the page is mapped on the home as after a kernel
 *    migration) —,
 *    publish, and the old frames freed after the batch with one punch per
 *    contiguous run (ref_frame_free_many): MIG-1);
 *    pages a vCPU was using (mark cancelled) are retried in the same tick up
 *    to Ref.MigrateRetries times, then met again by up to Ref.MigrateRetries
 *    more passes over the range in the tick while passes make progress, and
 *    by the next tick otherwise;
 *  - each batch emits MMC_EV_MIGRATION_BATCH (count = pages moved, node_from
 *    = their node when they all came from one, else -1, reason
 *    "wait_ns=<quiescence wait of the batch> cpu_us=<CPU time this thread
 *    spent on it, waits included>") and adds to pages_migrated.
 *  A client stops being scanned when a whole pass of its range found nothing
 *  to move. Live clock, paced: a tick starts no new batch, retry or pass
 *  once it has used half of Ref.MigrateTick (the hook holds the host lock,
 *  and with vCPUs preempted while holding pointers a quiescence wait can
 *  take milliseconds: control calls must not starve); what is left waits for
 *  the next tick. Stepped clock: no time bound (deterministic). Ref.MigrateUnthrottled=1 (the
 * benchmark) moves every remote page at the next tick, no cap, no ramp. Numa.PageMigRateMax=0 is a
 * rate of zero: nothing moves (it is inside the documented range, so it cannot mean "unlimited";
 * unthrottled is our own setting). Test knob (not a setting, never for production): the environment
 * variable MMCERT_TEST_SLOW_COPY_PCT=P, read at host creation, makes every chunk's page copies
 * cost P % more CPU time of the engine's thread (ref.h), so the results tooling can show a
 * regressed migration benchmark.
 *
 * Locking: the tick runs with h->lock held (ref.h), so it never overlaps the
 * rebalancer, a power-off or move_range; the per-VM state is created and
 * freed under the same lock (vm_on/vm_off).
 *
 * Figures (`mmcert bench migration`, 2-core development VM shared with
 * other sessions' builds, emulated nodes; measured, vary run to run;
 * doc/migration.md has the profile and the series): unthrottled
 * migration of a 256 MB VM with 2 vCPUs writing, 16 batches of 4096 pages.
 * Medians of 10 locked runs, before and after interleaved (3 series, load
 * 3-7), before -> after the futex wake-up of the remapper and the
 * read-fault mapping: wall 135 k -> 254 k pages/s (0.55 -> 1.04 GB/s),
 * ratio to the fresh-frames peer 0.55 -> 0.68, pages per CPU-second of the
 * engine 358 k -> 392 k (~2.5 us per page: ~59 % the pwritev copy, ~27 %
 * the punch of the old frames, ~7 % the mapping, ~7 % the rest),
 * quiescence wait per batch p50 3.3 ms -> 32 us. The per-CPU ceiling
 * against the peer (which neither frees nor maps) is about 0.75 (its copy
 * followed by the punch of its sources, measured in the same run); the wall
 * ratio also carries how much of a core the scheduler gives the engine
 * beside the peer. vCPUs rewriting every page of a 16 MB VM: 44 k -> 46 k
 * pages/s (noisy).
 *
 * Invariants: a client's `home` here equals its home in vm.c after every
 * hook (a change made elsewhere, e.g. by an affinity reconfigure, is noticed
 * at the next tick and restarts the ramp); the pages moved within t of a home
 * change never exceed migpace_bound(t) (unless unthrottled); pages_per_node
 * stays exact (each publish moves one page from its node to the home).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>

#include "memstate.h"
#include "mmc_clock.h"
#include "migpace.h"
#include "ref.h"
#include "twin.h"

typedef struct mig_client {
  migpace_state_t pace;
  uint32_t home;             /* the home the engine last saw */
  bool active;               /* remote pages may remain */
  uint64_t cursor;           /* next gpfn to examine (absolute) */
  uint64_t remote;           /* pages off the home (multi-client VMs: counted here) */
#ifdef REF_TWINS
  migpace_state_t twin_pace; /* liar twins: the pace their reports follow */
  uint64_t twin_unreported;  /* liar twins: pages moved and not reported yet */
#endif
} mig_client_t;

typedef struct mig_vm {
  mig_client_t client[MMC_MAX_NODES];
} mig_vm_t;

typedef struct mig_host {
  uint64_t last_tick_ns;
  uint64_t *batch;
  size_t batch_cap;
  unsigned slow_copy_pct; /* MMCERT_TEST_SLOW_COPY_PCT */
  /* Live clock, paced: CLOCK_MONOTONIC time after which this tick starts
   * no more work (half the tick: the hook holds the host lock); 0 = none. */
  uint64_t tick_deadline;
  /* Old frames of the batch under way, by node: freed in bulk after it
   * (one punch per contiguous run). */
  ref_frame_list_t freed;
} mig_host_t;

static mig_host_t *mig_host(ref_host_t *h) {
  return ref_host_mech(h, REF_MECH_MIGRATE);
}

static mig_vm_t *mig_vm(ref_vm_t *vm) {
  return vm->mech[REF_MECH_MIGRATE];
}

static uint64_t node_free(ref_host_t *h, uint32_t n) {
  if (n >= h->nnodes || !h->pools[n])
    return 0;
  return ref_pool_free(h->pools[n]);
}

/* The destination's share of minFree: migration never pushes a node into
 * reclamation. */
static uint64_t dest_reserve(ref_host_t *h, uint32_t n) {
  uint64_t total = 0;
  for (uint32_t i = 0; i < h->nnodes; i++)
    total += h->pools[i] ? ref_pool_capacity(h->pools[i]) : 0;
  if (!total || !h->pools[n])
    return 0;
  uint64_t min_free = memstate_min_free(total, (uint32_t)ref_set(h, REF_SET_MEM_MIN_FREE_PCT));
  return (uint64_t)((double)min_free * (double)ref_pool_capacity(h->pools[n]) / (double)total);
}

/* Pages of client i of vm off its home. Single-client VMs: exact from the
 * VM's counters; several clients: the count kept since the home change. */
static uint64_t client_remote(ref_host_t *h, ref_vm_t *vm, uint32_t i, const mig_client_t *mc) {
  if (vm->nclients > 1)
    return mc->remote;
  uint64_t r = 0;
  for (uint32_t n = 0; n < h->nnodes; n++)
    if (n != mc->home)
      r += atomic_load_explicit(&vm->pages_per_node[n], memory_order_relaxed);
  return r;
}

/* A private page off the home, not locked by a remap or a slow path. A
 * page sampled for the working set (SAMPLED) moves like any other: the page
 * map keeps the flag on the new entry. */
static bool movable(uint64_t pte, uint32_t home) {
  return (pte & (REF_PTE_STATE_MASK | (REF_PTE_FLAGS_MASK & ~REF_PTE_SAMPLED))) ==
             REF_PTE_PRIVATE &&
         ref_pte_node(pte) != home;
}

/* Client i's home is now `home` (at now_ns): the ramp restarts and the
 * engine scans its range from the start. */
static void note_home(ref_vm_t *vm, uint32_t i, uint32_t home, uint64_t now_ns) {
  mig_client_t *mc = &mig_vm(vm)->client[i];
  const ref_client_t *cl = &vm->client[i];
  uint64_t late =
      REF_TWIN(MIG2_STARTS_A_PERIOD_LATE)
          ? ref_settings_period_ns(&vm->vcpus[0].h->settings, REF_SET_NUMA_REBALANCE_PERIOD)
          : 0;
  migpace_home_changed(&mc->pace, now_ns + late);
#ifdef REF_TWINS
  migpace_home_changed(&mc->twin_pace, now_ns);
#endif
  mc->home = home;
  mc->active = true;
  mc->cursor = cl->first_gpfn;
  mc->remote = 0;
  if (vm->nclients > 1)
    for (uint64_t g = cl->first_gpfn; g < cl->first_gpfn + cl->npages; g++)
      mc->remote += movable(ref_pmap_get(vm->pmap, g), home);
}

typedef struct mig_ctx {
  ref_host_t *h;
  mig_host_t *mh;
  ref_vm_t *vm;
  mig_client_t *mc;
  uint32_t node;     /* destination: the home */
  unsigned slow_pct; /* test knob */
  int32_t from;      /* source node of the batch, -1 mixed, -2 none yet */
} mig_ctx_t;

static bool mig_eligible(void *ctx, uint64_t gpfn, uint64_t pte) {
  const mig_ctx_t *c = ctx;
  return movable(pte, c->node);
}

uint64_t ref_thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Busy on the thread's own CPU clock, so the time it adds is CPU time of
 * this thread even when it is preempted meanwhile (a wait on the wall clock
 * would add less CPU the busier the machine). */
void ref_slow_copy(unsigned pct, uint64_t spent_ns) {
  uint64_t until = ref_thread_cpu_ns() + spent_ns * pct / 100;
  while (ref_thread_cpu_ns() < until)
    ;
}

/* Copy pages [i, j) of the chunk to frames f[i..j) (contiguous, ascending)
 * of the home with one pwritev(2) into its memfd: the kernel fills the new
 * page-cache pages from the sources without zeroing them first (on a real
 * node the pool's mbind policy, shared by the memfd, places them). A short
 * or failed write is finished with memcpy through the mapping. */
static void copy_run(mig_ctx_t *c, const uint64_t *old_ptes, const uint64_t *f, size_t i,
                     size_t j) {
  if (REF_TWIN(MIG1_COPY_SKIPPED))
    return; /* twin: the new frames are published as they came, zero */
  struct iovec iov[REF_REMAP_CHUNK];
  for (size_t k = i; k < j; k++)
    iov[k - i] = (struct iovec){.iov_base = c->h->pool_bases[ref_pte_node(old_ptes[k])] +
                                            ref_pte_frame(old_ptes[k]) * MMC_PAGE_SIZE,
                                .iov_len = MMC_PAGE_SIZE};
  ssize_t w =
      pwritev(ref_pool_fd(c->h->pools[c->node]), iov, (int)(j - i), (off_t)(f[i] * MMC_PAGE_SIZE));
  size_t done = w > 0 ? (size_t)w / MMC_PAGE_SIZE : 0;
  uint8_t *dst = c->h->pool_bases[c->node];
  for (size_t k = i + done; k < j; k++) /* a partial page is rewritten whole */
    memcpy(dst + f[k] * MMC_PAGE_SIZE, iov[k - i].iov_base, MMC_PAGE_SIZE);
  /* Map the run, so the page is resident and mapped on the home as after a
   * kernel migration: the vCPU's next access takes no fault and
   * move_pages(2) reports its node. A read of each page does it: the first
   * read of a window faults and the kernel's fault-around maps the window's
   * pages (16 with the default fault_around_bytes), the other reads hit; a
   * shared shmem mapping is mapped writable (no write faults later).
   * Measured ~0.23 us per page against ~0.52 us for MADV_POPULATE_READ
   * of the run, which walks the page tables page by page (GUP). */
  const volatile uint8_t *run = dst + f[i] * MMC_PAGE_SIZE;
  for (size_t k = 0; k < j - i; k++)
    (void)run[k * MMC_PAGE_SIZE];
}

/* MIG-1 for a chunk of pages: frames of the home for every page, then one
 * copy per run of contiguous frames. */
static void mig_transform_many(void *ctx, const uint64_t *gpfns, const uint64_t *old_ptes, size_t n,
                               uint64_t *new_ptes, bool *ok) {
  mig_ctx_t *c = ctx;
  uint64_t f[REF_REMAP_CHUNK];
  size_t nf = 0;
  (void)gpfns;
  if (!c->h->pools[c->node])
    return;
  for (size_t k = 0; k < n; k++)
    if (ref_pte_state(old_ptes[k]) == REF_PTE_PRIVATE) {
      f[nf] = ref_frame_alloc(c->h->pools[c->node]);
      if (f[nf] == REF_NO_FRAME)
        break;
      nf++;
    }
  /* Frames of the chunk ascending, so that pages copied to contiguous
   * frames form runs (the pool's free stack hands them out descending). */
  qsort(f, nf, sizeof *f, ref_cmp_u64);
  /* The first nf private pages take f[] in order; src[] their old entries. */
  uint64_t src[REF_REMAP_CHUNK];
  size_t np = 0;
  for (size_t k = 0; k < n && np < nf; k++)
    if (ref_pte_state(old_ptes[k]) == REF_PTE_PRIVATE) {
      src[np] = old_ptes[k];
      ok[k] = true;
      new_ptes[k] = ref_pte_make(REF_PTE_PRIVATE, c->node, f[np]);
      np++;
    }
  size_t run = 0;
  uint64_t cpu0 = c->slow_pct ? ref_thread_cpu_ns() : 0;
  for (size_t k = 1; k <= np; k++)
    if (k == np || f[k] != f[k - 1] + 1) {
      copy_run(c, src, f, run, k);
      run = k;
    }
  if (c->slow_pct)
    ref_slow_copy(c->slow_pct, ref_thread_cpu_ns() - cpu0);
}

static void mig_release(void *ctx, uint64_t gpfn, uint64_t old_pte) {
  mig_ctx_t *c = ctx;
  int32_t from = (int32_t)ref_pte_node(old_pte);
  ref_frame_list_add(&c->mh->freed, c->h->pools, (uint32_t)from, ref_pte_frame(old_pte));
  atomic_fetch_sub_explicit(&c->vm->pages_per_node[from], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&c->vm->pages_per_node[c->node], 1, memory_order_relaxed);
  if (c->mc->remote)
    c->mc->remote--;
  c->from = c->from == -2 || c->from == from ? from : -1;
}

static const ref_remap_ops_t mig_ops = {
    .release = mig_release, .eligible = mig_eligible, .transform_many = mig_transform_many};

static bool tick_over(const mig_host_t *mh) {
  return mh->tick_deadline && mmc_mono_ns() >= mh->tick_deadline;
}

#ifdef REF_TWINS
/* The liar twins' batches are not counted or reported when moved. */
static bool twin_quiet(ref_host_t *h) {
  return REF_TWIN(MIG3_MOVES_AT_ONCE_REPORTS_PACE) || REF_TWIN(MIG4_FULL_RATE_REPORTS_RAMP) ||
         (REF_TWIN(MIG5_MOVES_UNREPORTED) && !ref_set(h, REF_SET_NUMA_PAGE_MIG_ENABLE));
}

/* Twin MIG1_MOVES_COUNTED_NOT_DONE: the batch's pages are counted on the
 * home and reported moved; their entries and frames stay where they were. */
static uint64_t twin_fake_batch(mig_ctx_t *c, const uint64_t *gpfns, size_t n) {
  uint64_t done = 0;
  for (size_t k = 0; k < n; k++) {
    uint64_t pte = ref_pmap_get(c->vm->pmap, gpfns[k]);
    if (!movable(pte, c->node))
      continue;
    atomic_fetch_sub(&c->vm->pages_per_node[ref_pte_node(pte)], 1);
    atomic_fetch_add(&c->vm->pages_per_node[c->node], 1);
    done++;
  }
  return done;
}
#endif

static uint64_t mig_batch(mig_ctx_t *c, const uint64_t *gpfns, size_t n) {
  int64_t retries = ref_set(c->h, REF_SET_REF_MIGRATE_RETRIES);
  ref_remap_result_t res = {.cancelled = 1};
  uint64_t done = 0, wait_ns = 0, cpu0 = ref_thread_cpu_ns();
  c->from = -2;
#ifdef REF_TWINS
  if (REF_TWIN(MIG1_MOVES_COUNTED_NOT_DONE))
    done = twin_fake_batch(c, gpfns, n), res.cancelled = 0;
#endif
  for (int64_t a = 0; a <= retries && res.cancelled && (a == 0 || !tick_over(c->mh)); a++) {
    ref_pmap_remap(c->vm->pmap, gpfns, n, &mig_ops, c, &res);
    done += res.remapped;
    wait_ns += res.wait_ns;
  }
  ref_frame_list_flush(&c->mh->freed, c->h->pools);
  if (!done)
    return 0;
#ifdef REF_TWINS
  if (twin_quiet(c->h)) { /* twin: moved, not counted (reported later at the pace, or never) */
    c->mc->twin_unreported += done;
    return done;
  }
#endif
  atomic_fetch_add(&c->vm->pages_migrated, done);
  mmc_event_t ev = {.type = MMC_EV_MIGRATION_BATCH,
                    .vm = c->vm->id,
                    .node_from = c->from < 0 ? -1 : c->from,
                    .node_to = (int32_t)c->node,
                    .count = done};
  char why[2 * sizeof ev.reason];
  int len = snprintf(why, sizeof why, "wait_ns=%" PRIu64 " cpu_us=%" PRIu64, wait_ns,
                     (ref_thread_cpu_ns() - cpu0) / 1000);
  if (len < 0 || (size_t)len >= sizeof ev.reason) /* never cut a figure: the wait alone */
    len = snprintf(why, sizeof why, "wait_ns=%" PRIu64, wait_ns);
  memcpy(ev.reason, why, sizeof ev.reason - 1);
  ev.reason[sizeof ev.reason - 1] = '\0';
  ref_event_emit(c->h, ev);
  return done;
}

/* One pass over client i's range from its cursor, moving up to `budget`
 * pages; *found counts the movable pages met. Returns pages moved. */
static uint64_t mig_pass(mig_host_t *mh, mig_ctx_t *c, ref_vm_t *vm, uint32_t i, size_t cap,
                         uint64_t budget, uint64_t *found) {
  mig_client_t *mc = c->mc;
  const ref_client_t *cl = &vm->client[i];
  uint64_t end = cl->first_gpfn + cl->npages, moved = 0, seen = 0;
  size_t n = 0;
  *found = 0;
  while (seen < cl->npages && moved + n < budget && !(n == 0 && tick_over(mh))) {
    uint64_t g = mc->cursor;
    mc->cursor = g + 1 < end ? g + 1 : cl->first_gpfn;
    seen++;
    if (!movable(ref_pmap_get(vm->pmap, g), mc->home))
      continue;
    (*found)++;
    mh->batch[n++] = g;
    if (n == cap) {
      moved += mig_batch(c, mh->batch, n);
      n = 0;
    }
  }
  if (n)
    moved += mig_batch(c, mh->batch, n);
  if (seen >= cl->npages && *found == 0)
    mc->active = false; /* a whole pass found nothing off the home */
  return moved;
}

/* Move up to `budget` remote pages of client i; returns pages moved. Pages
 * vCPUs kept cancelling are met again by further passes within the tick
 * (up to Ref.MigrateRetries more) as long as each pass makes progress:
 * under vCPUs rewriting their memory continuously, waiting for the next
 * tick left most of it behind. */
static uint64_t mig_client_run(ref_host_t *h, mig_host_t *mh, ref_vm_t *vm, uint32_t i,
                               uint64_t budget) {
  mig_client_t *mc = &mig_vm(vm)->client[i];
  size_t cap = (size_t)ref_set(h, REF_SET_REF_MIGRATE_BATCH_PAGES);
  if (cap > mh->batch_cap) {
    uint64_t *b = realloc(mh->batch, cap * sizeof *b);
    if (!b)
      return 0; /* try again next tick */
    mh->batch = b;
    mh->batch_cap = cap;
  }
  mig_ctx_t c = {
      .h = h, .mh = mh, .vm = vm, .mc = mc, .node = mc->home, .slow_pct = mh->slow_copy_pct};
  int64_t passes = 1 + ref_set(h, REF_SET_REF_MIGRATE_RETRIES);
  uint64_t moved = 0, found = 0, got = 0;
  do {
    got = mig_pass(mh, &c, vm, i, cap, budget - moved, &found);
    moved += got;
  } while (--passes > 0 && got > 0 && found > got && moved < budget && mc->active &&
           !tick_over(mh));
  return moved;
}

static void mig_params(ref_host_t *h, uint32_t dst, migpace_params_t *p) {
  migpace_params_default(p, ref_set(h, REF_SET_NUMA_PAGE_MIG_ENABLE) != 0,
                         (uint64_t)ref_set(h, REF_SET_NUMA_PAGE_MIG_RATE_MAX),
                         ref_settings_period_ns(&h->settings, REF_SET_NUMA_REBALANCE_PERIOD),
                         dest_reserve(h, dst));
  p->unthrottled = ref_set(h, REF_SET_REF_MIGRATE_UNTHROTTLED) != 0;
}

/* What the twins change in the pace (twin.h); nothing in the reference. */
static void twin_params(ref_host_t *h, migpace_params_t *p) {
  if (REF_TWIN(MIG3_CAP_PER_TICK)) /* the cap taken per tick instead of per second */
    p->rate_max = p->rate_max * 1000 / (uint64_t)ref_set(h, REF_SET_REF_MIGRATE_TICK);
  if (REF_TWIN(MIG3_NO_SLOWDOWN_NEAR_END))
    p->remote_knee_pages = 0;
  if (REF_TWIN(MIG3_DEST_FREE_IGNORED))
    p->dest_reserve_pages = p->dest_knee_pages = 0;
  if (REF_TWIN(MIG4_NO_RAMP) || REF_TWIN(MIG4_FULL_RATE_REPORTS_RAMP))
    p->ramp_ns = 0;
  if (REF_TWIN(MIG3_MOVES_AT_ONCE_REPORTS_PACE))
    p->unthrottled = true;
  if (REF_TWIN(MIG5_ENABLE_IGNORED) || REF_TWIN(MIG5_MOVES_UNREPORTED))
    p->enable = true;
}

#ifdef REF_TWINS
/* The liar twins report what they moved at the documented pace: batches
 * of the budget the reference would have had, as if moved now. */
static void twin_report(ref_host_t *h, ref_vm_t *vm, mig_client_t *mc, uint32_t home, uint64_t now,
                        uint64_t dt) {
  if (!mc->twin_unreported || REF_TWIN(MIG5_MOVES_UNREPORTED))
    return;
  migpace_params_t p;
  mig_params(h, home, &p);
  uint64_t b = migpace_budget(&mc->twin_pace, &p, now, dt, mc->twin_unreported, node_free(h, home));
  if (!b)
    return;
  mc->twin_unreported -= b;
  migpace_account(&mc->twin_pace, b);
  atomic_fetch_add(&vm->pages_migrated, b);
  ref_event_emit(h, (mmc_event_t){.type = MMC_EV_MIGRATION_BATCH,
                                  .vm = vm->id,
                                  .node_from = -1,
                                  .node_to = (int32_t)home,
                                  .count = b,
                                  .reason = "wait_ns=0"});
}
#endif

typedef struct tick_arg {
  mig_host_t *mh;
  uint64_t now, dt;
} tick_arg_t;

static void mig_tick_vm(ref_host_t *h, ref_vm_t *vm, void *arg) {
  tick_arg_t *a = arg;
  mig_vm_t *mv = mig_vm(vm);
  if (!mv || !vm->placed)
    return;
  for (uint32_t i = 0; i < vm->nclients; i++) {
    mig_client_t *mc = &mv->client[i];
    uint32_t home = atomic_load(&vm->client[i].home);
    if (home != mc->home) /* changed elsewhere (affinity reconfigure) */
      note_home(vm, i, home, a->now);
#ifdef REF_TWINS
    twin_report(h, vm, mc, home, a->now, a->dt);
#endif
    if (!mc->active)
      continue;
    uint64_t remote = client_remote(h, vm, i, mc);
    if (!remote) {
      mc->active = false;
      continue;
    }
    migpace_params_t p;
    mig_params(h, home, &p);
    twin_params(h, &p);
    uint64_t budget = migpace_budget(&mc->pace, &p, a->now, a->dt, remote, node_free(h, home));
    if (budget)
      migpace_account(&mc->pace, mig_client_run(h, a->mh, vm, i, budget));
    ref_assert(migpace_is_valid(&mc->pace));
  }
}

static void mig_tick(ref_host_t *h, uint64_t now_ns, void *ctx) {
  mig_host_t *mh = ctx;
  tick_arg_t a = {.mh = mh, .now = now_ns, .dt = now_ns - mh->last_tick_ns};
  mh->last_tick_ns = now_ns;
  mh->tick_deadline = 0;
  if (h->clock == MMC_CLOCK_LIVE && !ref_set(h, REF_SET_REF_MIGRATE_UNTHROTTLED))
    mh->tick_deadline =
        mmc_mono_ns() + ref_settings_period_ns(&h->settings, REF_SET_REF_MIGRATE_TICK) / 2;
  ref_vm_for_each(h, mig_tick_vm, &a);
}

void ref_migrate_home_changed(ref_vm_t *vm, uint32_t client, uint32_t home, uint64_t now_ns) {
  if (mig_vm(vm))
    note_home(vm, client, home, now_ns);
}

/* ================================================================ the row */

unsigned ref_slow_copy_pct(void) {
  const char *s = getenv("MMCERT_TEST_SLOW_COPY_PCT");
  if (!s || !*s)
    return 0;
  char *end = NULL;
  unsigned long v = strtoul(s, &end, 10);
  return end && *end == '\0' && v <= REF_SLOW_COPY_PCT_MAX ? (unsigned)v : 0;
}

static void mig_detach(ref_host_t *h) {
  mig_host_t *mh = mig_host(h);
  if (!mh)
    return;
  free(mh->batch);
  ref_frame_list_fini(&mh->freed);
  free(mh);
  ref_host_set_mech(h, REF_MECH_MIGRATE, NULL);
}

static int mig_attach(ref_host_t *h, mmc_error_t *err) {
  mig_host_t *mh = calloc(1, sizeof *mh);
  if (!mh)
    return mmc_fail(err, MMC_ENOMEM, "migration: out of memory");
  mh->slow_copy_pct = ref_slow_copy_pct();
  mh->last_tick_ns = ref_host_now(h);
  ref_host_set_mech(h, REF_MECH_MIGRATE, mh);
  const ref_hook_t tick = {
      .name = "page migration", .period = REF_SET_REF_MIGRATE_TICK, .run = mig_tick, .ctx = mh};
  int rc = ref_host_add_hook(h, &tick, err);
  if (rc)
    mig_detach(h);
  return rc;
}

static int mig_vm_on(ref_host_t *h, ref_vm_t *vm, mmc_error_t *err) {
  mig_vm_t *mv = calloc(1, sizeof *mv);
  if (!mv)
    return mmc_fail(err, MMC_ENOMEM, "migration: out of memory for VM %u", vm->id);
  uint64_t now = ref_host_now(h);
  for (uint32_t i = 0; i < vm->nclients; i++) {
    mv->client[i].home = atomic_load(&vm->client[i].home);
    migpace_home_changed(&mv->client[i].pace, now);
#ifdef REF_TWINS
    migpace_home_changed(&mv->client[i].twin_pace, now);
#endif
  }
  vm->mech[REF_MECH_MIGRATE] = mv;
  return 0;
}

static void mig_vm_off(ref_host_t *h, ref_vm_t *vm) {
  mig_vm_t *mv = mig_vm(vm);
  if (!mv)
    return;
  free(mv);
  vm->mech[REF_MECH_MIGRATE] = NULL;
}

const ref_mech_t ref_mech_migrate = {
    .name = "migrate",
    .caps = REF_CAPS_MIGRATE,
    .attach = mig_attach,
    .detach = mig_detach,
    .vm_on = mig_vm_on,
    .vm_off = mig_vm_off,
};
