/*
 * reclaim.h — how the reclamation mechanisms of the reference host talk to
 * each other (STATE-1, BAL-1..3, SWAP-1..3, ZIP-1, TPS-7, SEC-2).
 * Internal header, never installed. Prefix ref_.
 *
 * memstate.c (mechanism section) owns the periodic reclaim tick (every
 * Ref.ReclaimPeriod): free frames -> state (MMC_EV_STATE_CHANGE), allocation
 * targets, balloon targets (balloon.c), host swapping and compression
 * (swap.c, with the compression cache in zip.c), in the order of preference sharing > balloon >
 * compression > swap that the state allows (SWAP-3). It also owns the low-state gate that the vCPU
 * fault paths call before they allocate a frame.
 *
 * Locking (ref.h, "Lock ordering"): the tick runs with h->lock held;
 * balloon_* contract calls take h->lock; the gate and swap-in run on vCPU
 * threads with the entry BUSY and without h->lock, which the gate's direct
 * reclaim on the stepped clock only ever trylocks (L2).
 */
#ifndef REF_RECLAIM_H
#define REF_RECLAIM_H

#include "ref.h"

/* ---------------------------------------------------------------- memstate.c */

extern const ref_mech_t ref_mech_memstate;

/* The allocation target of a VM as of the last tick (pages); the VM's
 * configured size before the first tick. The one place that decides where
 * targets come from (see memstate.c "targets"). */
uint64_t ref_reclaim_target(ref_host_t *h, ref_vm_t *vm);

/* vCPU fault path, before allocating a frame for `vm` (first touch,
 * swap-in), and again with pool_full after an allocation found every
 * allowed pool full. Returns 0 (go ahead), MMC_ERETRY (live clock: it waited
 * up to one reclaim period for memory; the caller fails the access with
 * ERETRY so the vCPU quiesces and redoes it) or MMC_ENOMEM (stepped clock, or
 * blocked longer than Ref.LowBlockTimeout: the access fails; nothing lost). */
int ref_memstate_gate(ref_host_t *h, ref_vm_t *vm, uint32_t vcpu, bool pool_full, mmc_error_t *err);
/* The access the gate let through got its frame: the vCPU's blocked time
 * (Ref.LowBlockTimeout) ends. Only here: the gate's first call of an
 * access (pool_full false) passing says nothing of the allocation after
 * it, so resetting there made a vCPU finding every pool full bounce back
 * at once on every retry, never waiting and never timing out. */
void ref_memstate_gate_passed(ref_vm_t *vm, uint32_t vcpu);

/* ---------------------------------------------------------------- balloon.c */

extern const ref_mech_t ref_mech_balloon;

int ref_balloon_target(ref_host_t *h, mmc_vm_id_t vm, uint64_t *pages, mmc_error_t *err);
int ref_balloon_give(ref_host_t *h, mmc_vm_id_t vm, const uint64_t *gpfns, size_t n,
                     mmc_error_t *err);
int ref_balloon_take(ref_host_t *h, mmc_vm_id_t vm, const uint64_t *gpfns, size_t n,
                     mmc_error_t *err);
/* Pages the balloon holds now / is asked to hold. */
uint64_t ref_balloon_size(const ref_vm_t *vm);
uint64_t ref_balloon_get_target(const ref_vm_t *vm);
/* Set the target (clamped to the cap) at host time now (h->lock held). */
void ref_balloon_set_target(ref_host_t *h, ref_vm_t *vm, uint64_t pages, uint64_t now_ns);
/* SWAP-3: true when the VM has no driver, its balloon is at its cap, or the
 * balloon has been short of its target for Ref.BalloonSlowTime. */
bool ref_balloon_cannot_keep_up(ref_host_t *h, const ref_vm_t *vm, uint64_t now_ns);

/* ---------------------------------------------------------------- swap.c */

extern const ref_mech_t ref_mech_swap;

/* Reclaim up to `want` resident pages of vm now (h->lock held, not from a
 * vCPU of vm): random victims, sharing tried first (TPS-7), then the
 * compression cache (ZIP-1, when Mem.MemZipEnable), else the swap file.
 * Returns the frames freed. */
uint64_t ref_swap_reclaim(ref_host_t *h, ref_vm_t *vm, uint64_t want);
/* Forget the slot a SWAPPED/COMPRESSED entry points to (its page was given to
 * the balloon after the entry was replaced). */
void ref_swap_drop(ref_host_t *h, ref_vm_t *vm, uint64_t old_pte);

#endif
