/*
 * share.h — transparent page sharing of the reference implementation
 * (share.c): the REF_MECH_SHARE row and what tests may inspect. Internal
 * header, never installed. Prefix ref_share_.
 *
 * SPEC: TPS-1..6, TPS-8, SALT-1, SALT-2, SEC-1 (COW isolation). See share.c
 * for the design and its invariants.
 */
#ifndef REF_SHARE_H
#define REF_SHARE_H

#include <stdatomic.h>
#include <stdint.h>

#include "ref.h"

extern const ref_mech_t ref_share_mech;

/* Counters of the whole host, for tests and benchmarks (h->lock not needed:
 * a snapshot under the tables' locks). */
typedef struct ref_share_info {
  uint64_t shared_frames; /* frames holding shared content with >= 1 sharer */
  uint64_t sharers;       /* guest pages pointing at those frames */
  uint64_t hints;         /* hint entries (pages hashed, no match yet) */
  uint64_t collisions;    /* hash matches whose full comparison differed */
  uint64_t stale_hints;   /* hints dropped: page changed, moved or gone */
  uint64_t hashed;        /* pages hashed by the scanner */
  uint64_t merged;        /* pages remapped onto a shared frame */
  uint64_t runs;          /* scanner runs */
} ref_share_info_t;

/* 0 when the host has no sharing state (mechanism not attached). */
int ref_share_info(ref_host_t *h, ref_share_info_t *out);

/* Reference count of the shared frame `frame` on node index `node` (0 when
 * the frame is not a shared frame). For tests. */
uint64_t ref_share_refs(ref_host_t *h, uint32_t node, uint64_t frame);

/* Test-only: when non-zero, the most sharers one frame may have (the real
 * cap is UINT32_MAX: a full frame is never shared further; an identical
 * page then starts a new shared frame). Never set outside tests. */
extern _Atomic uint32_t ref_share_test_ref_max;

#endif
