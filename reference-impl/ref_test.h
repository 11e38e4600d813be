/*
 * ref_test.h — what the reference implementation exposes to its white-box
 * unit tests (tests/unit/) and to nothing else: test-only knobs and
 * witnesses of the page map and the share mechanism, a raw entry setter,
 * introspection of the share tables and of the allocation-target
 * recomputes, and the contract table as the tests link it (libmmref.a).
 * Never installed; no source of the reference includes it but the ones
 * defining these names, and libmmref.so exports none of them (its version
 * script exports mmcert_impl alone).
 *
 * Knobs are atomics a test sets before it starts the threads it checks and
 * resets after; 0 is always "as in production".
 */
#ifndef REF_REF_TEST_H
#define REF_REF_TEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mech.h"
#include "mmcert/impl.h"

/* The reference's contract table (host.c), linked statically. */
extern const mmc_impl_t mmcert_impl;

/* ---------------------------------------------------------------- pmap.c */

/* Skip the quiescence wait of remaps and COW (W1, W5), to prove that the
 * tests of I1-I3 catch a missing wait. */
extern _Atomic bool ref_pmap_test_skip_wait;
/* Witness: W3 waits begun (a test waits on it instead of on time). */
extern _Atomic uint64_t ref_pmap_test_mark_waits;
/* Replaces MARK_WAIT_NS when not 0 (a slow sanitizer run must not turn the
 * test of the wait into a test of the bound). */
extern _Atomic uint64_t ref_pmap_test_mark_wait_ns;
/* Witness: futex sleeps remappers began (R6). */
extern _Atomic uint64_t ref_pmap_test_remap_sleeps;
/* Replaces REMAP_SLEEP_NS when not 0 (a long bound turns a missed wake-up
 * into a test failure instead of a millisecond's delay). */
extern _Atomic uint64_t ref_pmap_test_remap_sleep_ns;
/* CAS of an entry to any value, lock flags included: for tests that put an
 * entry in a protocol state (MARK, BUSY) by hand. ref_pmap_cas, the owner's
 * transition, refuses locked entries in debug builds. */
bool ref_pmap_test_cas(ref_pmap_t *m, uint64_t gpfn, uint64_t expected, uint64_t desired);

/* ---------------------------------------------------------------- share.c */

/* When non-zero, the most sharers one frame may have (the real cap is
 * UINT32_MAX: a full frame is never shared further; an identical page then
 * starts a new shared frame). */
extern _Atomic uint32_t ref_share_test_ref_max;

/* Counters of the whole host (a snapshot under the tables' locks). */
typedef struct ref_share_info {
  uint64_t shared_frames; /* frames holding shared content with >= 1 sharer */
  uint64_t sharers;       /* guest pages pointing at those frames */
  uint64_t hints;         /* hint entries (pages hashed, no match yet) */
  uint64_t collisions;    /* hash matches whose full comparison differed */
  uint64_t stale_hints;   /* hints dropped: page changed, moved or gone */
  uint64_t hashed;        /* pages hashed by the scanner */
  uint64_t merged;        /* pages remapped onto a shared frame */
  uint64_t unshared;      /* shared pages given a private copy: off their home node or
                             under another salt */
  uint64_t runs;          /* scanner runs */
} ref_share_info_t;

/* 0 when the host has no sharing state (mechanism not attached). */
int ref_share_info(struct mmc_host *h, ref_share_info_t *out);
/* Reference count of the shared frame `frame` on node index `node` (0 when
 * the frame is not a shared frame). */
uint64_t ref_share_refs(struct mmc_host *h, uint32_t node, uint64_t frame);
/* Run the scanner once now as if dt_ns had passed since its last run; takes
 * h->lock (tests of the live clock: its own runs are Ref.ShareTick apart
 * and a pass takes at least 10 minutes). The caller must not be an entered
 * vCPU holding pointers (the merge waits for quiescence). */
void ref_share_run(struct mmc_host *h, uint64_t dt_ns);

/* ---------------------------------------------------------------- idletax.c */

/* Allocation-target recomputes since host creation. */
uint64_t ref_alloc_recomputes(struct mmc_host *h);

#endif
