/*
 * debug.h — the reference implementation's debug levels, in the way of
 * mimalloc's MI_DEBUG: its invariants asserted at their transition points,
 * and the lock order of ref.h checked at every acquisition. Internal header,
 * never installed. Prefix ref_ (REF_ for macros).
 *
 * MMREF_DEBUG, set by the Makefile for every object of the reference (0 in
 * the normal build, 2 in the sanitizer builds `make SANITIZE=...`, so in
 * CI's ASAN/UBSAN and TSAN unit tests and suite runs; `make MMREF_DEBUG=N`
 * chooses; the broken twins are always built at 0, a twin must fail the
 * suite's checks, not an assertion):
 *  0  nothing: ref_assert and ref_assert_walk compile to nothing, ref_lock
 *     and friends to the plain pthread calls;
 *  1  ref_assert: O(1) checks at transitions — the page map's rules R2 (one
 *     remap of a map at a time, never by an active vCPU of it) and its
 *     entry transitions (an owner CAS never touches a locked entry, a
 *     publication ends COPY or BUSY), pool counters at every allocation
 *     and free, the policies' own checkers on the state they just produced
 *     (migpace_is_valid, wss_is_valid, memstate_thresholds_are_valid,
 *     rebalance_result_is_valid, idletax_result_is_valid), "h->lock held"
 *     where a function requires it, stepped-clock vCPUs quiesced at
 *     advance() (pmap.c R7), a powered-off VM holding no frame; and the
 *     lock order (ref_lock: a thread takes no lock ranked at or above one
 *     it holds, ref.h "Lock ordering");
 *  2  + ref_assert_walk: checks that walk a structure, placed where the
 *     code walks it anyway or rarely — at power-off the VM's counters
 *     (pages per node, shared, ballooned, swapped, compressed) against its
 *     entries and ref_pmap_is_valid (the release walks the map anyway),
 *     ref_pool_is_valid of every pool at power-off and host destruction.
 *     The sanitizer suites keep their run time (README: figures).
 * A failed assertion prints "mmref: assertion failed: EXPR (FILE:LINE,
 * FUNC)" and aborts: in the suite the case is broken (its process crashed),
 * in a unit test the test fails.
 *
 * Invariants: at level 0 nothing here costs anything; at every level the
 * lock wrappers lock and unlock exactly what pthread would.
 */
#ifndef REF_DEBUG_H
#define REF_DEBUG_H

#include <pthread.h>
#include <stdbool.h>

#ifndef MMREF_DEBUG
#define MMREF_DEBUG 0
#endif

/* Prints the failed expression and where, then aborts. */
_Noreturn void ref_assert_fail(const char *expr, const char *file, int line, const char *func);

/* Below its level an assertion is not evaluated (sizeof): no code, no cost,
 * but the checker it names is still compiled and type-checked. */
#define REF_ASSERT_NOT_EVALUATED(e) ((void)sizeof(!(e)))

#if MMREF_DEBUG >= 1
#define ref_assert(e) ((e) ? (void)0 : ref_assert_fail(#e, __FILE__, __LINE__, __func__))
#else
#define ref_assert(e) REF_ASSERT_NOT_EVALUATED(e)
#endif

#if MMREF_DEBUG >= 2
#define ref_assert_walk(e) ref_assert(e)
#else
#define ref_assert_walk(e) REF_ASSERT_NOT_EVALUATED(e)
#endif

/* ---------------------------------------------------------------- lock order
 * The classes of ref.h's "Lock ordering", ranked outer first. REF_LC_BUSY
 * is not a mutex: a vCPU's slow path holding an entry BUSY (pmap.c notes
 * it), ranked so that taking h->lock under it is caught (L2). A thread may
 * take a class only when every class it holds ranks lower; a trylock is
 * exempt (it never waits) but is then held like any lock. The event ring's
 * lock (common/, shared with other implementations) is a leaf, not
 * tracked. */
typedef enum ref_lock_class {
  REF_LC_HOST = 0,        /* h->lock */
  REF_LC_BUSY = 1,        /* an entry BUSY (pmap.c) */
  REF_LC_MSTATE_WAIT = 2, /* mstate->wait_lock (memstate.c) */
  REF_LC_SWAP_VM = 3,     /* swap_vm->lock (swap.c) */
  REF_LC_WSS_VM = 4,      /* wss_vm->lock (wss.c) */
  REF_LC_PLACE = 5,       /* mem->place_lock (vm.c) */
  REF_LC_TABLE = 6,       /* sh_table->lock (share.c) */
  REF_LC_SWAP_PIPE = 7,   /* swap_pipe->mu (swap.c) */
  REF_LC_POOL = 8,        /* pool->lock (frames.c) */
  REF_LC_COUNT
} ref_lock_class_t;

#if MMREF_DEBUG >= 1
/* debug.c: this thread takes / took / released a lock of class c. */
void ref_lock_order_check(ref_lock_class_t c);
void ref_lock_note(ref_lock_class_t c, bool held);
bool ref_lock_held(ref_lock_class_t c);
#else
static inline void ref_lock_order_check(ref_lock_class_t c) {
  (void)c;
}
static inline void ref_lock_note(ref_lock_class_t c, bool held) {
  (void)c, (void)held;
}
/* Without tracking nothing is known: callers only use it in ref_assert. */
static inline bool ref_lock_held(ref_lock_class_t c) {
  (void)c;
  return true;
}
#endif

static inline void ref_lock(pthread_mutex_t *mu, ref_lock_class_t c) {
  ref_lock_order_check(c);
  pthread_mutex_lock(mu);
  ref_lock_note(c, true);
}

static inline bool ref_trylock(pthread_mutex_t *mu, ref_lock_class_t c) {
  if (pthread_mutex_trylock(mu) != 0)
    return false;
  ref_lock_note(c, true);
  return true;
}

static inline void ref_unlock(pthread_mutex_t *mu, ref_lock_class_t c) {
  ref_lock_note(c, false);
  pthread_mutex_unlock(mu);
}

#endif
