/*
 * memstate.c — free-memory states with hysteresis and their action sets
 * (STATE-1). The policy section is documented in memstate.h; the mechanism
 * section comes later.
 *
 * Invariants: see memstate_thresholds_are_valid.
 */
#include "memstate.h"

/* ================================================================ policy */

#define MEMSTATE_PAGES_PER_GB ((1ull << 30) / MMC_PAGE_SIZE)

/* The sliding scale: bands of host memory (GB) and their percentages; the
 * last band is open-ended. */
static const struct {
  uint64_t gb; /* band size; 0 = the rest */
  uint64_t pct;
} memstate_scale[] = {{4, 6}, {8, 4}, {16, 2}, {0, 1}};

uint64_t memstate_min_free_auto(uint64_t total_pages) {
  uint64_t left = total_pages, hundredths = 0; /* pages x percent */
  for (size_t i = 0; i < sizeof memstate_scale / sizeof memstate_scale[0] && left; i++) {
    uint64_t band = memstate_scale[i].gb ? memstate_scale[i].gb * MEMSTATE_PAGES_PER_GB : left;
    uint64_t take = left < band ? left : band;
    hundredths += take * memstate_scale[i].pct;
    left -= take;
  }
  return hundredths / 100;
}

uint64_t memstate_min_free(uint64_t total_pages, uint32_t min_free_pct) {
  if (min_free_pct == 0)
    return memstate_min_free_auto(total_pages);
  return total_pages * min_free_pct / 100;
}

/* ceil(x * num / den), without overflow for realistic page counts. */
static uint64_t memstate_ceil_frac(uint64_t x, uint64_t num, uint64_t den) {
  return (x * num + den - 1) / den;
}

void memstate_thresholds_esxi(uint64_t min_free_pages, uint32_t hysteresis_pct,
                              memstate_thresholds_t *t) {
  uint64_t m = min_free_pages;
  *t = (memstate_thresholds_t){.min_free_pages = m, .hysteresis_pct = hysteresis_pct};
  t->enter[MMC_STATE_HIGH] = t->floor[MMC_STATE_HIGH] =
      memstate_ceil_frac(m, MEMSTATE_PCT_HIGH, 100);
  t->enter[MMC_STATE_CLEAR] = t->floor[MMC_STATE_CLEAR] =
      memstate_ceil_frac(m, MEMSTATE_PCT_CLEAR, 100);
  t->enter[MMC_STATE_SOFT] = t->floor[MMC_STATE_SOFT] =
      memstate_ceil_frac(m, MEMSTATE_PCT_SOFT, 100);
  t->enter[MMC_STATE_HARD] = memstate_ceil_frac(m, MEMSTATE_PCT_HARD, 100);
  t->floor[MMC_STATE_HARD] = memstate_ceil_frac(m, MEMSTATE_PCT_LOW, 100);
}

void memstate_thresholds_osdi02(uint64_t total_pages, uint32_t hysteresis_pct,
                                memstate_thresholds_t *t) {
  const uint64_t bp = 10000; /* basis points */
  uint64_t high = memstate_ceil_frac(total_pages, MEMSTATE_OSDI02_BP_HIGH, bp);
  *t = (memstate_thresholds_t){.min_free_pages = high, .hysteresis_pct = hysteresis_pct};
  t->enter[MMC_STATE_HIGH] = t->floor[MMC_STATE_HIGH] = high;
  t->enter[MMC_STATE_CLEAR] = t->floor[MMC_STATE_CLEAR] = high; /* empty: never entered */
  t->enter[MMC_STATE_SOFT] = t->floor[MMC_STATE_SOFT] =
      memstate_ceil_frac(total_pages, MEMSTATE_OSDI02_BP_SOFT, bp);
  t->enter[MMC_STATE_HARD] = memstate_ceil_frac(total_pages, MEMSTATE_OSDI02_BP_HARD, bp);
  t->floor[MMC_STATE_HARD] = memstate_ceil_frac(total_pages, MEMSTATE_OSDI02_BP_LOW, bp);
}

mmc_mem_state_t memstate_initial(const memstate_thresholds_t *t, uint64_t free_pages) {
  for (unsigned s = MMC_STATE_HIGH; s < MMC_STATE_LOW; s++)
    if (free_pages >= t->floor[s])
      return (mmc_mem_state_t)s;
  return MMC_STATE_LOW;
}

/* enter level plus the margin: the free pages needed to move up into s. */
static uint64_t memstate_up_level(const memstate_thresholds_t *t, unsigned s) {
  return memstate_ceil_frac(t->enter[s], 100u + t->hysteresis_pct, 100);
}

mmc_mem_state_t memstate_next(const memstate_thresholds_t *t, mmc_mem_state_t cur,
                              uint64_t free_pages) {
  if ((unsigned)cur >= MEMSTATE_NSTATES)
    return memstate_initial(t, free_pages);
  if (free_pages < t->floor[cur]) /* down: immediately, to the state whose floor is met */
    return memstate_initial(t, free_pages);
  for (unsigned s = MMC_STATE_HIGH; s < (unsigned)cur; s++) /* up: highest state reached */
    if (free_pages >= memstate_up_level(t, s))
      return (mmc_mem_state_t)s;
  return cur;
}

uint32_t memstate_actions(mmc_mem_state_t s) {
  uint32_t a = MEMSTATE_ACT_SHARE;
  switch (s) {
  case MMC_STATE_LOW: a |= MEMSTATE_ACT_BLOCK;                         /* fall through */
  case MMC_STATE_HARD: a |= MEMSTATE_ACT_COMPRESS | MEMSTATE_ACT_SWAP; /* fall through */
  case MMC_STATE_SOFT: a |= MEMSTATE_ACT_BALLOON;                      /* fall through */
  case MMC_STATE_CLEAR: a |= MEMSTATE_ACT_BREAK_LARGE;                 /* fall through */
  case MMC_STATE_HIGH: return a;
  }
  return a;
}

const char *memstate_name(mmc_mem_state_t s) {
  static const char *const names[MEMSTATE_NSTATES] = {"high", "clear", "soft", "hard", "low"};
  return (unsigned)s < MEMSTATE_NSTATES ? names[s] : "?";
}

bool memstate_thresholds_are_valid(const memstate_thresholds_t *t) {
  for (unsigned s = MMC_STATE_HIGH; s < MMC_STATE_LOW; s++) {
    if (t->floor[s] > t->enter[s])
      return false;
    if (t->enter[s + 1] > t->enter[s] || t->floor[s + 1] > t->floor[s])
      return false;
  }
  return t->enter[MMC_STATE_LOW] == 0 && t->floor[MMC_STATE_LOW] == 0;
}
