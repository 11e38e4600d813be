/*
 * debug.c — the failure report of the reference's assertions and, at
 * MMREF_DEBUG >= 1, the per-thread record of the locks held that checks
 * ref.h's lock order (debug.h).
 *
 * How: one bit per lock class in a thread-local mask; taking class c with
 * any bit at or above c set is a violation (the classes are ranked outer
 * first). A lock of one class is held at most once per thread (the
 * reference never nests two pools, two tables, two VMs' locks).
 *
 * Invariants: the mask holds exactly the classes this thread has locked and
 * not unlocked; nothing here takes a lock or allocates.
 */
#include "debug.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

_Noreturn void ref_assert_fail(const char *expr, const char *file, int line, const char *func) {
  fprintf(stderr, "mmref: assertion failed: %s (%s:%d, %s)\n", expr, file, line, func);
  abort();
}

#if MMREF_DEBUG >= 1

static const char *const class_name[REF_LC_COUNT] = {[REF_LC_HOST] = "h->lock",
                                                     [REF_LC_BUSY] = "an entry BUSY",
                                                     [REF_LC_MSTATE_WAIT] = "mstate->wait_lock",
                                                     [REF_LC_SWAP_VM] = "swap_vm->lock",
                                                     [REF_LC_WSS_VM] = "wss_vm->lock",
                                                     [REF_LC_PLACE] = "mem->place_lock",
                                                     [REF_LC_TABLE] = "sh_table->lock",
                                                     [REF_LC_SWAP_PIPE] = "swap_pipe->mu",
                                                     [REF_LC_POOL] = "pool->lock"};

static _Thread_local uint32_t held_mask; /* bit c: a lock of class c is held */

void ref_lock_order_check(ref_lock_class_t c) {
  uint32_t at_or_above = held_mask >> c << c;
  if (!at_or_above)
    return;
  unsigned worst = (unsigned)(31 - __builtin_clz(at_or_above));
  fprintf(stderr,
          "mmref: lock order: taking %s while holding %s (reference-impl/ref.h, \"Lock "
          "ordering\")\n",
          class_name[c], class_name[worst]);
  abort();
}

void ref_lock_note(ref_lock_class_t c, bool held) {
  uint32_t bit = 1u << c;
  if (held) {
    ref_assert(!(held_mask & bit));
    held_mask |= bit;
  } else {
    ref_assert(held_mask & bit);
    held_mask &= ~bit;
  }
}

bool ref_lock_held(ref_lock_class_t c) {
  return held_mask >> c & 1u;
}

#endif
