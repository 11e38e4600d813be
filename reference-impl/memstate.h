/*
 * memstate.h — free-memory states and the reclamation each one enables
 * (STATE-1; seeds 003, 004; OSDI02 §6; RM "Memory Reclamation").
 *
 * ======================================================================
 * POLICY (this section): pure functions. The caller passes host memory,
 * free frames and the setting values (Mem.MemMinFreePct, the profile, the
 * hysteresis margin). The mechanism part (counting free frames, raising
 * MMC_EV_STATE_CHANGE, reclamation targets, balloon targets, host swapping,
 * blocking and waking vCPUs in the low state) is the second section of
 * memstate.c; its interface is reclaim.h.
 * ======================================================================
 *
 * minFree (esxi-6.7 profile, Mem.MemMinFreePct = 0): the sliding scale
 *   6 % of the first 4 GB + 4 % of the next 8 GB + 2 % of the next 16 GB
 *   + 1 % of the rest,
 * in whole pages, rounded down. Mem.MemMinFreePct = p > 0: p % of memory.
 * Examples: 1 GB -> 61.4 MB, 4 GB -> 245.8 MB, 12 GB -> 573.4 MB,
 * 28 GB -> 901.1 MB, 64 GB -> 1269.8 MB, 256 GB -> 3235.8 MB.
 *
 * States by free memory (percent of minFree), each with an "enter" level
 * (free memory needed to move up into it) and a "floor" (it is kept while
 * free memory stays at or above it):
 *             enter   floor   enables (cumulative, see memstate_actions)
 *   high      400 %   400 %   sharing
 *   clear     100 %   100 %   + break large pages (share them)
 *   soft       64 %    64 %   + balloon
 *   hard       32 %    16 %   + compress, swap
 *   low         -       -     + block VMs above their target
 * The documentation gives hard >= 32 % and low < 16 % and nothing for 16-32 %.
 * We make that gap a hysteresis band: hard, entered from above, is kept down
 * to 16 %; low, once entered, is left only at 32 % (plus the margin below).
 *
 * Hysteresis (our design; the documentation only says "transitions have
 * hysteresis"). Downward moves are immediate: when free memory falls below
 * the current state's floor, the state becomes the highest one whose floor
 * is met. Upward moves need a margin: a state is left upward only when free
 * memory reaches the higher state's enter level times (1 + margin), margin =
 * MEMSTATE_HYSTERESIS_PCT_DEFAULT % (10 %) unless the caller passes
 * another; it may then jump several states. So free memory hovering within
 * the margin of a boundary causes at most one transition (no flapping).
 *
 * osdi02 profile: thresholds 6 / 4 / 2 / 1 % of host memory for high / soft /
 * hard / low (OSDI02 §6), mapped onto the same table: high enter = floor = 6 %,
 * clear has the same levels as high (so it is never entered: OSDI02 has no
 * clear state), soft 4 %, hard enter 2 % floor 1 %, low below 1 %; the same
 * margin applies.
 *
 * Action sets: sharing runs in every state, because this implementation has
 * only 4 KB pages (nothing to break before sharing; TPS-3 paces scanning
 * independently of the state). Each lower state adds its mechanism: clear
 * breaks large pages (a no-op here), soft balloons, hard compresses and
 * swaps (balloon preferred where it can, SWAP-3), low also blocks VMs above
 * target from allocating.
 *
 * Invariants (memstate_thresholds_are_valid): for states from high to low,
 * enter and floor levels do not increase; floor <= enter; low's levels are 0.
 */
#ifndef REF_MEMSTATE_H
#define REF_MEMSTATE_H

#include <stdbool.h>
#include <stdint.h>

#include "mmcert/impl.h"

/* ---------------------------------------------------------------- policy */

#define MEMSTATE_NSTATES 5u
#define MEMSTATE_HYSTERESIS_PCT_DEFAULT 10u /* ours: upward margin, % of the enter level */

/* Thresholds in percent of minFree (esxi-6.7 profile, STATE-1). */
#define MEMSTATE_PCT_HIGH 400u
#define MEMSTATE_PCT_CLEAR 100u
#define MEMSTATE_PCT_SOFT 64u
#define MEMSTATE_PCT_HARD 32u
#define MEMSTATE_PCT_LOW 16u

/* Thresholds in hundredths of a percent of host memory (osdi02 profile). */
#define MEMSTATE_OSDI02_BP_HIGH 600u
#define MEMSTATE_OSDI02_BP_SOFT 400u
#define MEMSTATE_OSDI02_BP_HARD 200u
#define MEMSTATE_OSDI02_BP_LOW 100u

enum memstate_action {
  MEMSTATE_ACT_SHARE = 1u << 0,       /* page sharing scans */
  MEMSTATE_ACT_BREAK_LARGE = 1u << 1, /* break large pages (none here: no-op) */
  MEMSTATE_ACT_BALLOON = 1u << 2,
  MEMSTATE_ACT_COMPRESS = 1u << 3,
  MEMSTATE_ACT_SWAP = 1u << 4,
  MEMSTATE_ACT_BLOCK = 1u << 5, /* block VMs above target from allocating */
};

typedef struct memstate_thresholds {
  uint64_t min_free_pages;          /* minFree (osdi02: 6 % of memory, for stats) */
  uint64_t enter[MEMSTATE_NSTATES]; /* by mmc_mem_state_t: free pages to move up into it
                                       (before the margin); low: 0 */
  uint64_t floor[MEMSTATE_NSTATES]; /* kept while free >= floor; low: 0 */
  uint32_t hysteresis_pct;          /* upward margin, % of the enter level */
} memstate_thresholds_t;

/* minFree by the sliding scale (pages, rounded down). */
uint64_t memstate_min_free_auto(uint64_t total_pages);

/* minFree for Mem.MemMinFreePct = pct: the sliding scale when pct == 0,
 * else pct % of total_pages (rounded down). */
uint64_t memstate_min_free(uint64_t total_pages, uint32_t min_free_pct);

/* Thresholds of the esxi-6.7 profile for a given minFree: each level is
 * ceil(minFree * pct / 100), so `free >= level` is exactly "free >= pct % of
 * minFree". */
void memstate_thresholds_esxi(uint64_t min_free_pages, uint32_t hysteresis_pct,
                              memstate_thresholds_t *t);

/* Thresholds of the osdi02 profile: 6/4/2/1 % of total_pages (ceil). */
void memstate_thresholds_osdi02(uint64_t total_pages, uint32_t hysteresis_pct,
                                memstate_thresholds_t *t);

/* The state after observing free_pages in state cur (see the rules above).
 * Pure: call it whenever free memory is sampled. */
mmc_mem_state_t memstate_next(const memstate_thresholds_t *t, mmc_mem_state_t cur,
                              uint64_t free_pages);

/* The state for free_pages with no history (at host start): the highest
 * state whose floor is met. */
mmc_mem_state_t memstate_initial(const memstate_thresholds_t *t, uint64_t free_pages);

/* Bit set of enum memstate_action enabled in a state. */
uint32_t memstate_actions(mmc_mem_state_t s);

/* "high", "clear", "soft", "hard", "low"; "?" for anything else. */
const char *memstate_name(mmc_mem_state_t s);

bool memstate_thresholds_are_valid(const memstate_thresholds_t *t);

#endif
