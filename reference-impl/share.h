/*
 * share.h — transparent page sharing of the reference implementation
 * (share.c): the REF_MECH_SHARE row. Internal header, never installed.
 * Prefix ref_share_.
 *
 * SPEC: TPS-1..6, TPS-8, SALT-1, SALT-2, SEC-1 (COW isolation). See share.c
 * for the design and its invariants.
 */
#ifndef REF_SHARE_H
#define REF_SHARE_H

#include <stdatomic.h>
#include <stdint.h>

#include "ref.h"

extern const ref_mech_t ref_mech_share;

/* Test introspection and knobs (ref_share_info, ref_share_refs,
 * ref_share_run, ref_share_test_ref_max): ref_test.h. */

#endif
