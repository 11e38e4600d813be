/*
 * pmap.c — the guest page map (one 64-bit entry per guest page) and its
 * quiescence protocol, the software TLB shootdown of mech.h. This comment
 * is the protocol's one statement; mech.h and the other files point here.
 *
 * SPEC: INT-1 (no data lost while pages move under running vCPUs), SEC-1 (COW
 * isolates writers), and the mechanism under NUMA migration, sharing, swap
 * and working-set sampling. The contract's "Guest pointers" paragraph is what
 * this file guarantees to the suite.
 *
 * ---------------------------------------------------------------- actors
 *  vCPU      a thread in page()/quiesce() for one vCPU slot of the map. It
 *            is "holding" from its first page() after a quiescent point
 *            (active = 1) until the next one, "fresh" in that first page()
 *            (it holds no pointer yet).
 *  remapper  a thread in ref_pmap_remap (migration, sharing, swap-out,
 *            balloon, move_range). Never an active vCPU of the map (it
 *            would wait for itself), one at a time per map (R2).
 *  owner     a control path setting an entry with ref_pmap_cas while no
 *            vCPU can use the page (power-on, balloon, working-set
 *            sampling, a failed swap write); it never waits on an entry.
 *
 * ---------------------------------------------------------------- entry states
 * An entry is a base state S (UNBACKED, PRIVATE, SHARED, BALLOONED,
 * COMPRESSED, SWAPPED: mech.h), at most one lock flag, and SAMPLED:
 *
 *  entry     meaning                                a vCPU meeting it
 *  S         plain                                  PRIVATE, or SHARED for a
 *                                                   read: the pointer (fast
 *                                                   path); else locks it BUSY
 *  S|MARK    a remap wants the page and waits for   holding: cancels it (W3);
 *            the vCPUs active at its snapshot       fresh: waits quiesced (W3)
 *  S|COPY    a remap copies it (transform)          waits (W2)
 *  S|BUSY    a vCPU's slow path owns it             waits (W4)
 *  +SAMPLED  with any of the above: the next        slow path: counted by the
 *            access is counted (wss.c)              sampling fault, then as S
 *
 * ---------------------------------------------------------------- transitions
 * Each is one atomic operation on the entry, by the one actor named; CAS
 * and loads are seq_cst unless "release" is said. No other transition
 * exists: MARK, COPY and BUSY never combine, and only the actor that set a
 * lock flag clears it (but a vCPU may cancel a MARK).
 *
 *  from     to        by        operation      when
 *  S        S|MARK    remapper  CAS            mark phase: no lock flag set,
 *                                              eligible() accepts S
 *  S|MARK   S         vCPU      CAS (cancel)   holding, the remap not
 *                                              copying; or W3's bound ran out
 *  S|MARK   S|COPY    remapper  CAS            after W1; fails when cancelled:
 *                                              the page is skipped
 *  S|COPY   S'        remapper  release store  transform() gave S' (SAMPLED
 *                                              kept), then release(S)
 *  S|COPY   S         remapper  release store  transform() declined
 *  S        S|BUSY    vCPU      CAS            slow path (S not fast for the
 *                                              access, or SAMPLED)
 *  S|BUSY   S'        vCPU      release store  the fault op gave S' (lock
 *                                              flags and SAMPLED cleared)
 *  S|BUSY   S         vCPU      store          the fault op failed, or the
 *                                              COW wait gave way (R4)
 *  S        S^SAMPLED owner     CAS            sampling sets it, the end of
 *                                              the period clears it; no lock
 *                                              flag set
 *  S        S'        owner     CAS            no vCPU can hold S: UNBACKED,
 *                                              SWAPPED or COMPRESSED to
 *                                              BALLOONED, BALLOONED to
 *                                              UNBACKED, a SWAPPED page whose
 *                                              write failed back to PRIVATE
 *
 * ---------------------------------------------------------------- who waits for whom
 *  W1 remapper  for every vCPU active at its snapshot (taken after marking)
 *               to pass a quiescent point (qseq moved or active dropped).
 *               Not bounded: the contract makes vCPUs quiesce. Spins, then
 *               sleeps on the map's futex until one of them wakes it (R6).
 *  W2 vCPU      meeting COPY: for the publication, spinning then yielding;
 *               a chunk of copies away (transform waits for nothing).
 *  W3 vCPU      meeting MARK. Fresh: quiesced, for the entry to change, at
 *               most MARK_WAIT_NS, then it cancels. Holding, while the
 *               remap copies (`copying`, read after the entry): the same,
 *               not quiesced. Holding otherwise: no wait, it cancels.
 *  W4 vCPU      meeting BUSY. Fresh: quiesced, for the entry to change.
 *               Holding: with `waiting` set, for the entry to change, or
 *               MMC_ERETRY by R4.
 *  W5 vCPU      in its own COW (entry BUSY): with `waiting` set, for the
 *               other vCPUs active at its snapshot, as W1; gives way by R4.
 *  Waits spin (WAIT_SPINS), then sched_yield(), then nap (backoff); they
 *  end when the awaited vCPUs quiesce, never by time, except W3's bound and
 *  W1's futex sleep bound (REMAP_SLEEP_NS: a missed wake-up costs a
 *  millisecond, not a hang).
 *
 * ---------------------------------------------------------------- rules
 *  R1 Dekker pair. A vCPU publishes active (seq_cst exchange) before its
 *     first entry load (seq_cst) after a quiescent point; quiesce() bumps
 *     qseq (seq_cst fetch_add) then clears active (seq_cst store). A waiter
 *     sets MARK or BUSY (seq_cst CAS) before it reads each vCPU's qseq and
 *     active (seq_cst loads). So either the waiter sees the vCPU active and
 *     waits for it (W1, W5), or the vCPU's load sees the flag.
 *  R2 One remap of a map at a time: its owner serialises them (h->lock,
 *     ref.h), so `copying` is 0 or 1. A remap is never made by an active
 *     vCPU of the map. Both are asserted in debug builds (debug.h).
 *  R3 A remapper never waits for a vCPU that waits for it: a holding vCPU
 *     meeting MARK cancels instead of waiting, except while the remap
 *     copies, when the remapper waits for nobody; a fresh one waits
 *     quiesced, so nobody waits for it meanwhile. W3's bound covers a vCPU
 *     the remapper waits for that itself waits, outside the map, for the
 *     fresh one (a guest spin lock).
 *  R4 Cycles among vCPUs (W4, W5) break at their highest-index member. A
 *     vCPU in W4 or W5 sets `waiting`; when a vCPU with a lower index that
 *     it waits for (W5), or any lower-index vCPU (W4: the holder of a BUSY
 *     entry is not known), is waiting too, it undoes what it did (the entry
 *     back to S) and fails the access with MMC_ERETRY, quiesces and
 *     retries. A fresh vCPU holds nothing and so cannot be in a cycle once
 *     quiesced: in W4 it waits quiesced, in W5 it steps aside quiesced
 *     until the lower-index vCPU stops waiting, then starts over; it never
 *     fails with ERETRY.
 *  R5 A vCPU's slow path keeps the entry BUSY for the whole fault op. It
 *     waits with it held only in W5 and in waits of its fault op that never
 *     wait for this map's vCPUs: the low-memory gate (bounded) and, on the
 *     stepped clock, the direct reclaim from another VM (memstate.c). No
 *     mutex is held across any wait of this file (ref.h, "Lock ordering").
 *  R6 Waking the remapper. After its spins a remapper sets remap_sleeping
 *     and asks the vCPUs it waits for (wake_remapper), looks once more,
 *     then sleeps on the futex word. The next quiescent point of one of
 *     them clears the word, wakes it and yields the core (vcpu_quiesce):
 *     an awaited vCPU is usually one preempted while holding pointers, and
 *     would otherwise keep the remapper's core until the next scheduler
 *     tick (the 1-10 ms per batch measured before, tens of microseconds
 *     with it). The request and qseq form a Dekker pair (seq_cst), so the
 *     wake-up is never lost.
 *  R7 Stepped clock: every vCPU is quiesced before advance() (the
 *     contract), so a remap there never waits.
 *  R8 SAMPLED is transparent to remaps: a sampled page is marked, copied
 *     and published like any other and the new entry keeps SAMPLED (a
 *     cancelled mark leaves it too), so its next access is still counted;
 *     otherwise the sampled pages of every VM could never be migrated,
 *     shared or swapped. eligible(), transform() and release() see the
 *     entry without flags.
 *
 * ---------------------------------------------------------------- invariants
 * (tests/unit/test_pmap.c checks them with concurrent threads; ref_pmap_is_valid
 * checks the entries)
 *  I1 no write lost: every write through a pointer obtained from page() is
 *     visible in the page's frame after the next remap completes;
 *  I2 a pointer stays valid (its frame neither freed nor reused) until the
 *     vCPU's next quiescent point;
 *  I3 once a vCPU holds a page writable, no other vCPU of the map holds or can
 *     obtain a pointer to another frame for that page. (In fact all pointers
 *     held at one time by different vCPUs for one page are equal; only a
 *     vCPU's own read-only pointers go stale when it breaks COW itself.)
 * Why they hold: a marked entry becomes COPY only if no vCPU cancelled the
 * mark, i.e. (R1) no vCPU obtained the old frame since the mark; after W1
 * no vCPU holds it from before. So while COPY is set nobody holds the old
 * frame (the copy is complete: I1), it is released only after the new
 * entry is published (I2), and the new frame is the only one reachable
 * (I3). A holding vCPU that waits in W3 while the remap copies cannot hold
 * the old frame of a page still marked either: getting it would have
 * cancelled the mark. Copy-on-write is the same wait minus the calling
 * vCPU (W5): BUSY keeps new readers out while the holders of the shared
 * frame quiesce.
 *
 * Remap accounting: only entries with no lock flag are marked (an entry
 * BUSY or MARK/COPY from another remap is counted `cancelled` with those a
 * vCPU cancelled); entries eligible() refuses and pages whose transform()
 * declines count in neither; gpfns out of range are ignored. With
 * transform_many() the copy phase takes up to REF_REMAP_CHUNK pages into
 * COPY, transforms them in one call and publishes them in order: a vCPU
 * meeting COPY waits for a chunk of copies instead of one.
 *
 * The map keeps the caller's pool_bases array (indexed by the node field of
 * an entry): it must outlive the map. The fault ops are copied.
 */
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mech.h"
#include "mmc_clock.h"
#include "ref_test.h"

#define CACHE_LINE 64
/* Spins before each sched_yield() in a wait: a quiescent point or a page copy
 * is usually microseconds away; beyond that, give the CPU to whoever we wait
 * for (this machine has fewer cores than vCPU threads in tests). Internal
 * mechanism constant, not a policy tunable. */
#define WAIT_SPINS 64
/* Longest a vCPU holding no pointer waits for a MARKed entry before it
 * cancels the remap of that page (see wait_mark): well above a remap's usual
 * wait (every active vCPU passing a quiescent point: microseconds) and a
 * scheduler time slice, far below anything a guest would notice as a hang.
 * Internal mechanism constant, not a policy tunable. */
#define MARK_WAIT_NS (20 * MMC_NS_PER_MS)
/* Yields before a waiter starts napping, and the nap: see backoff(). */
#define WAIT_YIELDS 16
#define WAIT_NAP_NS 20000L
/* Longest a remapper sleeps on its futex before it looks at the vCPUs again.
 * Not what ends the wait (a vCPU's quiescent point wakes it, see
 * remap_backoff); a bound so that a missed wake-up costs a millisecond, not
 * a hang. Internal mechanism constant, not a policy tunable. */
#define REMAP_SLEEP_NS MMC_NS_PER_MS
/* Waiters take snapshots of this many vCPUs at a time (stack array). */
#define SNAP_CHUNK 64
/* Remap batches of up to this many pages keep their state on the stack. */
#define BATCH_STACK 256

#define LOCK_FLAGS (REF_PTE_MARK | REF_PTE_COPY | REF_PTE_BUSY)

/* Test knobs and witnesses: ref_test.h. */
_Atomic bool ref_pmap_test_skip_wait;
_Atomic uint64_t ref_pmap_test_mark_waits;
_Atomic uint64_t ref_pmap_test_mark_wait_ns;
_Atomic uint64_t ref_pmap_test_remap_sleeps;
_Atomic uint64_t ref_pmap_test_remap_sleep_ns;

struct ref_vcpu_q {
  /* 1 from this vCPU's first page() after a quiescent point until the next
   * one; written only by the vCPU, read by waiters. Own cache line. */
  alignas(CACHE_LINE) _Atomic uint64_t active;
  /* Quiescent points passed; written only by the vCPU, read by waiters. */
  alignas(CACHE_LINE) _Atomic uint64_t qseq;
  /* 1 while the vCPU waits in a slow path (COW or BUSY): the cycle breaker. */
  _Atomic uint32_t waiting;
  /* 1 while a sleeping remapper waits for this vCPU: its next quiescent
   * point wakes the remapper (vcpu_quiesce). Set by the remapper, cleared by
   * whichever of the two comes first. */
  _Atomic uint32_t wake_remapper;
  uint32_t index;  /* in the map */
  ref_pmap_t *map; /* owner */
  /* Debug builds: the thread that last activated this vCPU (thread_token),
   * valid while active; a remap by that thread would wait for itself (R2). */
  _Atomic(const void *) thread;
};

struct ref_pmap {
  _Atomic uint64_t *pte; /* npages entries, in their own mapping */
  size_t pte_bytes;      /* length of that mapping */
  uint64_t npages;       /* guest pages */
  uint32_t nvcpus;       /* vCPU slots */
  ref_vcpu_q_t *vcpus;   /* nvcpus slots, cache-line aligned */
  uint8_t *const *bases; /* pool base by node index (caller's array, outlives the map) */
  ref_fault_ops_t ops;   /* slow paths */
  void *owner;           /* first argument of ops */
  /* Remaps of this map in their copy phase (0 or 1: remaps of one map are
   * serialised by its owner, R2). See page_slow's MARK case. */
  _Atomic uint32_t copying;
  /* Debug builds: remaps of this map under way, from mark to publish (R2
   * asserts it is never more than 1). */
  _Atomic uint32_t remapping;
  /* Futex word: 1 while a remapper sleeps in its wait phase (remap_backoff);
   * a vCPU asked to wake it clears it first. Own cache line. */
  alignas(CACHE_LINE) _Atomic uint32_t remap_sleeping;
};

int ref_pmap_create(uint64_t npages, uint32_t nvcpus, uint8_t *const *pool_bases,
                    const ref_fault_ops_t *ops, void *owner, ref_pmap_t **out, mmc_error_t *err) {
  if (npages == 0 || nvcpus == 0)
    return mmc_fail(err, MMC_EINVAL,
                    "page map: %" PRIu64 " pages and %" PRIu32
                    " vCPUs given; both must be at least 1",
                    npages, nvcpus);
  if (!pool_bases || !ops || !ops->fault)
    return mmc_fail(err, MMC_EINVAL, "page map: pool bases and a fault op are required");
  ref_pmap_t *m = calloc(1, sizeof *m);
  if (!m)
    return mmc_fail(err, MMC_ENOMEM, "page map: out of memory");
  /* The entries come from their own anonymous mapping: zero (UNBACKED) until
   * written, so power-on costs no memset whatever the VM's size, and the
   * parts never written stay non-resident, which ref_pmap_for_each_populated
   * uses to skip them. */
  m->pte_bytes = npages * sizeof *m->pte;
  void *ptes = mmap(NULL, m->pte_bytes, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  m->pte = ptes == MAP_FAILED ? NULL : ptes;
  size_t vbytes =
      ((size_t)nvcpus * sizeof(ref_vcpu_q_t) + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
  m->vcpus = aligned_alloc(CACHE_LINE, vbytes);
  if (!m->pte || !m->vcpus) {
    if (m->pte)
      munmap((void *)m->pte, m->pte_bytes);
    free(m->vcpus);
    free(m);
    return mmc_fail(err, MMC_ENOMEM,
                    "page map: cannot allocate %" PRIu64 " entries for %" PRIu32 " vCPUs", npages,
                    nvcpus);
  }
  memset(m->vcpus, 0, vbytes);
  for (uint32_t i = 0; i < nvcpus; i++) {
    m->vcpus[i].index = i;
    m->vcpus[i].map = m;
  }
  m->npages = npages;
  m->nvcpus = nvcpus;
  m->bases = pool_bases;
  m->ops = *ops;
  m->owner = owner;
  *out = m;
  return 0;
}

void ref_pmap_destroy(ref_pmap_t *m) {
  if (!m)
    return;
  munmap((void *)m->pte, m->pte_bytes);
  free(m->vcpus);
  free(m);
}

void ref_pmap_for_each_populated(const ref_pmap_t *m, ref_pmap_visit_fn fn, void *ctx) {
  const size_t psz = (size_t)sysconf(_SC_PAGESIZE);
  const uint64_t per_page = psz / sizeof *m->pte;
  const size_t npp = (m->pte_bytes + psz - 1) / psz;
  unsigned char *vec = malloc(npp ? npp : 1);
  /* Without the residency vector, visit everything: slower, same result. */
  bool all = !vec || mincore((void *)m->pte, m->pte_bytes, vec) != 0;
  for (size_t p = 0; p < npp; p++) {
    if (!all && !(vec[p] & 1))
      continue; /* never written: every entry there is UNBACKED */
    uint64_t end = (p + 1) * per_page < m->npages ? (p + 1) * per_page : m->npages;
    for (uint64_t g = p * per_page; g < end; g++) {
      uint64_t pte = atomic_load_explicit(&m->pte[g], memory_order_acquire);
      if (pte != 0)
        fn(ctx, g, pte);
    }
  }
  free(vec);
}

uint64_t ref_pmap_npages(const ref_pmap_t *m) {
  return m->npages;
}

uint64_t ref_pmap_get(const ref_pmap_t *m, uint64_t gpfn) {
  return atomic_load_explicit(&m->pte[gpfn], memory_order_acquire);
}

bool ref_pmap_test_cas(ref_pmap_t *m, uint64_t gpfn, uint64_t expected, uint64_t desired) {
  return atomic_compare_exchange_strong(&m->pte[gpfn], &expected, desired);
}

bool ref_pmap_cas(ref_pmap_t *m, uint64_t gpfn, uint64_t expected, uint64_t desired) {
  /* The owner's transitions: never from or to a locked entry. */
  ref_assert(!((expected | desired) & LOCK_FLAGS));
  return atomic_compare_exchange_strong(&m->pte[gpfn], &expected, desired);
}

ref_vcpu_q_t *ref_pmap_vcpu(ref_pmap_t *m, uint32_t index) {
  return index < m->nvcpus ? &m->vcpus[index] : NULL;
}

/* ------------------------------------------------------------ waiting */

/* An address unique to the calling thread (R2's assertion). */
static const void *thread_token(void) {
  static _Thread_local char token;
  return &token;
}

static void backoff(unsigned *spins) {
  if (++*spins % WAIT_SPINS)
    return;
  if (*spins < WAIT_SPINS * WAIT_YIELDS) {
    sched_yield();
    return;
  }
  /* Still waiting: whoever we wait for was likely preempted while holding
   * pointers (more runnable threads than cores). sched_yield() may hand the
   * core straight back to us; a short sleep lets it run. */
  struct timespec ts = {0, WAIT_NAP_NS};
  nanosleep(&ts, NULL);
}

static void futex_wait_u32(_Atomic uint32_t *word, uint32_t val, uint64_t ns) {
  struct timespec ts = mmc_ns_timespec(ns);
  syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *word) {
  syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* A quiescent point (R1). When a remapper sleeps waiting for this vCPU,
 * wake it and yield (R6): without the yield this vCPU keeps the core until
 * the next scheduler tick (4 ms at HZ=250: the kernel does not preempt a
 * task that just got the core for a waking one). Only vCPUs the remapper
 * waits for wake it, so vCPUs quiescing often do not keep waking it for
 * nothing. The load is seq_cst after the qseq update: the Dekker pair with
 * remap_backoff (either the remapper sees qseq moved, or this load sees its
 * request). */
static void vcpu_quiesce(ref_vcpu_q_t *v) {
  atomic_fetch_add(&v->qseq, 1);
  atomic_store(&v->active, 0);
  if (atomic_load(&v->wake_remapper) && atomic_exchange(&v->wake_remapper, 0)) {
    ref_pmap_t *m = v->map;
    atomic_store(&m->remap_sleeping, 0);
    futex_wake_all(&m->remap_sleeping);
    sched_yield();
  }
}

/* Start holding pointers: the vCPU side of the Dekker pair. */
static void vcpu_activate(ref_vcpu_q_t *v) {
#if MMREF_DEBUG >= 1
  atomic_store_explicit(&v->thread, thread_token(), memory_order_relaxed);
#endif
  atomic_exchange(&v->active, 1);
}

/* True when some vCPU other than `self` with a lower index is waiting. */
static bool lower_waiting(const ref_pmap_t *m, const ref_vcpu_q_t *self) {
  for (uint32_t j = 0; j < self->index; j++)
    if (atomic_load(&m->vcpus[j].waiting))
      return true;
  return false;
}

/* Ask (want) or stop asking the pending vCPUs of a snapshot chunk to wake
 * a sleeping remapper at their next quiescent point. */
static void ask_wake(ref_pmap_t *m, uint32_t base, uint64_t pending, uint32_t want) {
  for (uint32_t k = 0; k < 64 && pending >> k; k++) /* no shift by 64 */
    if (pending >> k & 1)
      atomic_store(&m->vcpus[base + k].wake_remapper, want);
}

/* A remapper's backoff while vCPUs of a snapshot chunk have not quiesced:
 * spin a little (a quiescent point is usually microseconds away), then raise
 * the map's remap_sleeping word and ask the pending vCPUs to wake us, look
 * at them once more (the caller's loop), and sleep on the word until one of
 * them passes a quiescent point (vcpu_quiesce). *armed: asked since the
 * last look. */
static void remap_backoff(ref_pmap_t *m, uint32_t base, uint64_t pending, unsigned *spins,
                          bool *armed) {
  if (++*spins < WAIT_SPINS)
    return;
  if (!*armed) {
    atomic_store(&m->remap_sleeping, 1);
    ask_wake(m, base, pending, 1);
    *armed = true;
    return;
  }
  uint64_t bound = atomic_load_explicit(&ref_pmap_test_remap_sleep_ns, memory_order_relaxed);
  atomic_fetch_add_explicit(&ref_pmap_test_remap_sleeps, 1, memory_order_relaxed);
  futex_wait_u32(&m->remap_sleeping, 1, bound ? bound : REMAP_SLEEP_NS);
  *armed = false;
}

/* Wait until every vCPU (but `self`) that was active after the caller's pte
 * update has passed a quiescent point. Called after the update (seq_cst).
 * With a `self` (a vCPU in COW), gives up with MMC_ERETRY when an awaited
 * vCPU with a lower index is itself waiting, and names it in *blocker.
 * Without (a remapper), sleeps on the map's futex (remap_backoff). */
static int wait_quiescent(ref_pmap_t *m, const ref_vcpu_q_t *self, uint32_t *blocker) {
  for (uint32_t base = 0; base < m->nvcpus; base += SNAP_CHUNK) {
    uint32_t n = m->nvcpus - base < SNAP_CHUNK ? m->nvcpus - base : SNAP_CHUNK;
    uint64_t snap[SNAP_CHUNK], pending = 0;
    for (uint32_t k = 0; k < n; k++) {
      ref_vcpu_q_t *o = &m->vcpus[base + k];
      if (o == self)
        continue;
      snap[k] = atomic_load(&o->qseq);
      if (atomic_load(&o->active)) {
        pending |= 1ull << k;
        /* R2: waiting for a vCPU this thread holds active never ends. */
        ref_assert(atomic_load_explicit(&o->thread, memory_order_relaxed) != thread_token());
      }
    }
    unsigned spins = 0;
    bool armed = false;
    uint64_t asked = 0; /* vCPUs of the chunk asked to wake us */
    while (pending) {
      for (uint32_t k = 0; k < n; k++) {
        if (!(pending >> k & 1))
          continue;
        ref_vcpu_q_t *o = &m->vcpus[base + k];
        if (atomic_load(&o->qseq) != snap[k] || !atomic_load(&o->active))
          pending &= ~(1ull << k);
        else if (self && o->index < self->index && atomic_load(&o->waiting)) {
          *blocker = o->index;
          return MMC_ERETRY;
        }
      }
      if (pending && self) {
        backoff(&spins);
      } else if (pending) {
        remap_backoff(m, base, pending, &spins, &armed);
        asked |= armed ? pending : 0;
      }
    }
    if (asked) { /* nobody need wake or yield to us any more */
      ask_wake(m, base, asked, 0);
      atomic_store(&m->remap_sleeping, 0);
    }
  }
  return 0;
}

/* ------------------------------------------------------------ vCPU side */

static void *frame_ptr(const ref_pmap_t *m, uint64_t pte) {
  return m->bases[ref_pte_node(pte)] + ref_pte_frame(pte) * MMC_PAGE_SIZE;
}

static bool fast_ok(uint64_t pte, bool write) {
  uint64_t low = pte & (REF_PTE_STATE_MASK | REF_PTE_FLAGS_MASK);
  return low == REF_PTE_PRIVATE || (!write && low == REF_PTE_SHARED);
}

/* W4: wait for another vCPU's slow path to unlock the entry. 0 when it
 * changed; MMC_ERETRY when this vCPU, holding pointers, might be in a
 * waiting cycle (R4). */
static int wait_busy(ref_pmap_t *m, ref_vcpu_q_t *v, uint64_t gpfn, uint64_t busy, bool fresh) {
  unsigned spins = 0;
  if (fresh) {
    /* Holding nothing: be quiescent while waiting, so no one waits for us. */
    vcpu_quiesce(v);
    while (atomic_load(&m->pte[gpfn]) == busy)
      backoff(&spins);
    vcpu_activate(v);
    return 0;
  }
  atomic_store(&v->waiting, 1);
  int rc = 0;
  while (rc == 0 && atomic_load(&m->pte[gpfn]) == busy) {
    if (lower_waiting(m, v))
      rc = MMC_ERETRY;
    else
      backoff(&spins);
  }
  atomic_store(&v->waiting, 0);
  return rc;
}

/* W3: a fresh vCPU, or any vCPU while the remap copies, met a MARKed
 * entry. Instead of cancelling the remap (which, with vCPUs writing at full
 * speed, cancels nearly every page) it waits for the entry to change,
 * quiesced when fresh (R3, R5), bounded by MARK_WAIT_NS (R3: a vCPU the
 * remapper waits for may wait, outside the map, for this one). true when
 * the entry changed (redo the access), false when the bound passed (the
 * caller cancels the mark). Re-activates before returning. */
static bool wait_mark(ref_pmap_t *m, ref_vcpu_q_t *v, uint64_t gpfn, uint64_t marked, bool fresh) {
  unsigned spins = 0;
  uint64_t deadline = 0;
  bool changed = true;
  if (fresh)
    vcpu_quiesce(v);
  atomic_fetch_add_explicit(&ref_pmap_test_mark_waits, 1, memory_order_relaxed);
  while (atomic_load(&m->pte[gpfn]) == marked) {
    backoff(&spins);
    if (spins % WAIT_SPINS)
      continue;
    uint64_t t = mmc_mono_ns();
    if (!deadline) {
      uint64_t bound = atomic_load_explicit(&ref_pmap_test_mark_wait_ns, memory_order_relaxed);
      deadline = t + (bound ? bound : MARK_WAIT_NS);
    } else if (t >= deadline) {
      changed = false;
      break;
    }
  }
  if (fresh)
    vcpu_activate(v);
  return changed;
}

static int retry_error(uint64_t gpfn, mmc_error_t *err) {
  return mmc_fail(err, MMC_ERETRY,
                  "page %" PRIu64 ": another vCPU of the VM waits for this one; quiesce and "
                  "retry the access",
                  gpfn);
}

/* R4 for a fresh vCPU: its COW wait (W5) gave way to a lower-index waiter;
 * instead of failing, step aside quiesced (nobody can wait for it then,
 * and it holds no entry) until that vCPU stops waiting, and start over. */
static void step_aside(ref_pmap_t *m, ref_vcpu_q_t *v, uint32_t blocker) {
  unsigned spins = 0;
  vcpu_quiesce(v);
  while (atomic_load(&m->vcpus[blocker].waiting))
    backoff(&spins);
  vcpu_activate(v);
}

#define RESTART 1 /* locked_fault: the entry was unlocked, redo the access */

/* The entry is locked (BUSY, value `locked`): COW wait if needed, fault op,
 * publish. Returns the published entry through *pub, or RESTART. */
static int locked_fault(ref_pmap_t *m, ref_vcpu_q_t *v, uint64_t gpfn, bool write, bool fresh,
                        uint64_t locked, uint64_t *pub, mmc_error_t *err) {
  uint64_t cur = locked & ~REF_PTE_BUSY;
  if (write && ref_pte_state(cur) == REF_PTE_SHARED) {
    /* Other vCPUs may hold pointers to the shared frame: wait for them. */
    uint32_t blocker = 0;
    atomic_store(&v->waiting, 1);
    int rc = ref_pmap_test_skip_wait ? 0 : wait_quiescent(m, v, &blocker);
    atomic_store(&v->waiting, 0);
    if (rc != 0) {
      atomic_store(&m->pte[gpfn], cur);
      if (!fresh)
        return retry_error(gpfn, err);
      step_aside(m, v, blocker);
      return RESTART;
    }
  }
  uint64_t out = cur;
  int rc = m->ops.fault(m->owner, v->index, gpfn, write, &out, err);
  if (rc != 0) {
    atomic_store(&m->pte[gpfn], cur);
    return rc;
  }
  out &= ~(LOCK_FLAGS | REF_PTE_SAMPLED);
  ref_assert(atomic_load_explicit(&m->pte[gpfn], memory_order_relaxed) == locked);
  atomic_store_explicit(&m->pte[gpfn], out, memory_order_release);
  if (!fast_ok(out, write))
    return mmc_fail(err, MMC_EINVAL, "page %" PRIu64 ": the fault op left state %u, not %s", gpfn,
                    ref_pte_state(out), write ? "private" : "private or shared");
  *pub = out;
  return 0;
}

static void *page_slow(ref_pmap_t *m, ref_vcpu_q_t *v, uint64_t gpfn, bool write, bool fresh,
                       uint64_t pte, mmc_error_t *err) {
  unsigned spins = 0;
  for (;; pte = atomic_load(&m->pte[gpfn])) {
    if (fast_ok(pte, write))
      return frame_ptr(m, pte);
    if (pte & REF_PTE_COPY) { /* a remap is publishing: a chunk of copies away */
      backoff(&spins);
      continue;
    }
    if (pte & REF_PTE_MARK) {
      /* Holding nothing, let the remap finish (bounded); otherwise, or when
       * the bound passed, cancel the remap of this page and use it. */
      if ((fresh || atomic_load(&m->copying)) && wait_mark(m, v, gpfn, pte, fresh))
        continue;
      atomic_compare_exchange_strong(&m->pte[gpfn], &pte, pte & ~REF_PTE_MARK);
      continue;
    }
    if (pte & REF_PTE_BUSY) {
      if (wait_busy(m, v, gpfn, pte, fresh) != 0) {
        retry_error(gpfn, err);
        return NULL;
      }
      continue;
    }
    ref_lock_order_check(REF_LC_BUSY); /* ref.h: no mutex held into a slow path */
    if (!atomic_compare_exchange_strong(&m->pte[gpfn], &pte, pte | REF_PTE_BUSY))
      continue;
    uint64_t pub = 0;
    ref_lock_note(REF_LC_BUSY, true);
    int rc = locked_fault(m, v, gpfn, write, fresh, pte | REF_PTE_BUSY, &pub, err);
    ref_lock_note(REF_LC_BUSY, false); /* every return of locked_fault unlocked it */
    if (rc == RESTART)
      continue;
    if (rc != 0)
      return NULL;
    return frame_ptr(m, pub);
  }
}

void *ref_pmap_page(ref_pmap_t *m, ref_vcpu_q_t *v, uint64_t gpfn, bool write, mmc_error_t *err) {
  if (gpfn >= m->npages) {
    mmc_fail(err, MMC_ERANGE, "page %" PRIu64 " is out of range 0..%" PRIu64, gpfn, m->npages - 1);
    return NULL;
  }
  bool fresh = atomic_load_explicit(&v->active, memory_order_relaxed) == 0;
  if (fresh)
    vcpu_activate(v);
  /* seq_cst: the Dekker pair with waiters (on x86 and arm64 the same
   * instruction as an acquire load). */
  uint64_t pte = atomic_load(&m->pte[gpfn]);
  if (fast_ok(pte, write))
    return frame_ptr(m, pte);
  return page_slow(m, v, gpfn, write, fresh, pte, err);
}

void ref_pmap_quiesce(ref_vcpu_q_t *v) {
  if (atomic_load_explicit(&v->active, memory_order_relaxed))
    vcpu_quiesce(v);
}

void ref_pmap_vcpu_offline(ref_vcpu_q_t *v) {
  ref_pmap_quiesce(v);
}

/* ------------------------------------------------------------ remapping */

/* Mark phase: returns how many pages were marked; marked[i] holds the
 * entry as marked, or 0 when page i is not part of the batch any more. */
static size_t remap_mark(ref_pmap_t *m, const uint64_t *gpfns, size_t n, const ref_remap_ops_t *ops,
                         void *ctx, uint64_t *marked, ref_remap_result_t *res) {
  size_t nmarked = 0;
  for (size_t i = 0; i < n; i++) {
    marked[i] = 0;
    uint64_t g = gpfns[i];
    if (g >= m->npages)
      continue;
    uint64_t pte = atomic_load(&m->pte[g]);
    if (pte & LOCK_FLAGS) { /* busy or being remapped */
      res->cancelled++;
      continue;
    }
    if (ops->eligible && !ops->eligible(ctx, g, pte & ~REF_PTE_SAMPLED))
      continue;
    if (!atomic_compare_exchange_strong(&m->pte[g], &pte, pte | REF_PTE_MARK)) {
      res->cancelled++;
      continue;
    }
    marked[i] = pte | REF_PTE_MARK;
    nmarked++;
  }
  return nmarked;
}

/* Publish one page after its transform: the new entry (SAMPLED kept), then
 * release the old one; or put the old entry back when the transform failed. */
static void publish_one(ref_pmap_t *m, uint64_t g, uint64_t old, bool ok, uint64_t new_pte,
                        const ref_remap_ops_t *ops, void *ctx, ref_remap_result_t *res) {
  uint64_t sampled = old & REF_PTE_SAMPLED, plain = old & ~REF_PTE_SAMPLED;
  ref_assert(atomic_load_explicit(&m->pte[g], memory_order_relaxed) == (old | REF_PTE_COPY));
  if (!ok) {
    atomic_store_explicit(&m->pte[g], old, memory_order_release);
    return;
  }
  atomic_store_explicit(&m->pte[g], (new_pte & ~LOCK_FLAGS) | sampled, memory_order_release);
  if (ops->release)
    ops->release(ctx, g, plain);
  res->remapped++;
}

/* Pages of the copy phase gathered for one transform_many() call. */
typedef struct publish_chunk {
  size_t n;
  uint64_t gpfn[REF_REMAP_CHUNK], old[REF_REMAP_CHUNK], plain[REF_REMAP_CHUNK];
  uint64_t new_pte[REF_REMAP_CHUNK];
  bool ok[REF_REMAP_CHUNK];
} publish_chunk_t;

static void chunk_flush(ref_pmap_t *m, publish_chunk_t *c, const ref_remap_ops_t *ops, void *ctx,
                        ref_remap_result_t *res) {
  if (!c->n)
    return;
  for (size_t j = 0; j < c->n; j++) {
    c->plain[j] = c->new_pte[j] = c->old[j] & ~REF_PTE_SAMPLED;
    c->ok[j] = false;
  }
  ops->transform_many(ctx, c->gpfn, c->plain, c->n, c->new_pte, c->ok);
  for (size_t j = 0; j < c->n; j++)
    publish_one(m, c->gpfn[j], c->old[j], c->ok[j], c->new_pte[j], ops, ctx, res);
  c->n = 0;
}

static void remap_publish(ref_pmap_t *m, const uint64_t *gpfns, size_t n,
                          const ref_remap_ops_t *ops, void *ctx, const uint64_t *marked,
                          ref_remap_result_t *res) {
  publish_chunk_t chunk;
  chunk.n = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t exp = marked[i];
    if (!exp)
      continue;
    uint64_t g = gpfns[i], old = exp & ~REF_PTE_MARK;
    if (!atomic_compare_exchange_strong(&m->pte[g], &exp, old | REF_PTE_COPY)) {
      res->cancelled++; /* a vCPU used the page meanwhile */
      continue;
    }
    if (ops->transform_many) {
      chunk.gpfn[chunk.n] = g;
      chunk.old[chunk.n++] = old;
      if (chunk.n == REF_REMAP_CHUNK)
        chunk_flush(m, &chunk, ops, ctx, res);
      continue;
    }
    uint64_t new_pte = old & ~REF_PTE_SAMPLED;
    bool ok = ops->transform(ctx, g, old & ~REF_PTE_SAMPLED, &new_pte);
    publish_one(m, g, old, ok, new_pte, ops, ctx, res);
  }
  if (ops->transform_many)
    chunk_flush(m, &chunk, ops, ctx, res);
}

static void remap_chunk(ref_pmap_t *m, const uint64_t *gpfns, size_t n, const ref_remap_ops_t *ops,
                        void *ctx, uint64_t *marked, ref_remap_result_t *res) {
  if (remap_mark(m, gpfns, n, ops, ctx, marked, res) == 0)
    return;
  uint64_t t0 = mmc_mono_ns();
  if (!ref_pmap_test_skip_wait)
    wait_quiescent(m, NULL, NULL);
  res->wait_ns += mmc_mono_ns() - t0;
  atomic_fetch_add(&m->copying, 1);
  remap_publish(m, gpfns, n, ops, ctx, marked, res);
  atomic_fetch_sub(&m->copying, 1);
}

void ref_pmap_remap(ref_pmap_t *m, const uint64_t *gpfns, size_t n, const ref_remap_ops_t *ops,
                    void *ctx, ref_remap_result_t *res) {
#if MMREF_DEBUG >= 1
  uint32_t others = atomic_fetch_add(&m->remapping, 1);
  ref_assert(others == 0); /* R2: remaps of one map never overlap */
#endif
  ref_remap_result_t r = {0};
  uint64_t stack[BATCH_STACK];
  uint64_t *marked = n <= BATCH_STACK ? stack : malloc(n * sizeof *marked);
  if (marked) {
    remap_chunk(m, gpfns, n, ops, ctx, marked, &r);
  } else {
    /* No memory for the batch state: one wait per BATCH_STACK pages. */
    for (size_t i = 0; i < n; i += BATCH_STACK)
      remap_chunk(m, gpfns + i, n - i < BATCH_STACK ? n - i : BATCH_STACK, ops, ctx, stack, &r);
  }
  if (marked != stack)
    free(marked);
  if (res)
    *res = r;
#if MMREF_DEBUG >= 1
  atomic_fetch_sub(&m->remapping, 1);
#endif
}

bool ref_pmap_quiescent(const ref_pmap_t *m) {
  for (uint32_t i = 0; i < m->nvcpus; i++)
    if (atomic_load(&m->vcpus[i].active) || atomic_load(&m->vcpus[i].waiting))
      return false;
  return true;
}

typedef struct valid_walk {
  bool idle, ok;
} valid_walk_t;

static void valid_visit(void *ctx, uint64_t gpfn, uint64_t pte) {
  valid_walk_t *w = ctx;
  if (ref_pte_state(pte) > REF_PTE_SWAPPED || (w->idle && (pte & LOCK_FLAGS)))
    w->ok = false;
}

/* The written parts of the map only (an UNBACKED entry is valid), so the
 * check of a large VM costs what its power-off walk costs. */
bool ref_pmap_is_valid(const ref_pmap_t *m, bool idle) {
  valid_walk_t w = {.idle = idle, .ok = true};
  ref_pmap_for_each_populated(m, valid_visit, &w);
  return w.ok && (!idle || ref_pmap_quiescent(m));
}
