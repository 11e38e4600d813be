/*
 * test_memstate.c — unit tests of the free-memory state policy (memstate.h,
 * STATE-1): minFree for several host sizes against the sliding scale
 * computed here independently, Mem.MemMinFreePct, thresholds, the osdi02
 * profile, transitions under scripted free-memory curves (including the
 * 16-32 % band and no flapping at a boundary), action sets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "memstate.h"

#define GB_PAGES 262144.0 /* 4 KB pages per GB */

/* The sliding scale written as a piecewise-linear function of host size in
 * GB, independently of the implementation's band loop. */
static double expected_min_free_gb(double g) {
  double a = fmin(g, 4.0), b = fmin(fmax(g - 4.0, 0.0), 8.0), c = fmin(fmax(g - 12.0, 0.0), 16.0),
         d = fmax(g - 28.0, 0.0);
  return 0.06 * a + 0.04 * b + 0.02 * c + 0.01 * d;
}

static void test_min_free_sliding_scale(void **state) {
  (void)state;
  const double sizes_gb[] = {1, 4, 12, 28, 64, 256, 3.5, 4.25, 100};
  for (size_t i = 0; i < sizeof sizes_gb / sizeof sizes_gb[0]; i++) {
    uint64_t total = (uint64_t)(sizes_gb[i] * GB_PAGES);
    double expect = expected_min_free_gb(sizes_gb[i]) * GB_PAGES;
    uint64_t got = memstate_min_free(total, 0);
    print_message("# %6.2f GB: minFree %llu pages (%.2f MB)\n", sizes_gb[i],
                  (unsigned long long)got, got / 256.0);
    assert_true(fabs((double)got - expect) < 1.0);
    assert_int_equal(got, memstate_min_free_auto(total));
  }
  /* The documented figures, in MB. */
  assert_true(fabs(memstate_min_free(64 * 262144ull, 0) / 256.0 - 1269.76) < 0.01);
  assert_true(fabs(memstate_min_free(28 * 262144ull, 0) / 256.0 - 901.12) < 0.01);
  assert_int_equal(memstate_min_free(0, 0), 0);
}

static void test_min_free_pct_setting(void **state) {
  (void)state;
  assert_int_equal(memstate_min_free(1000000, 5), 50000);
  assert_int_equal(memstate_min_free(1000000, 50), 500000);
  assert_int_equal(memstate_min_free(999, 1), 9); /* rounded down */
}

static void test_thresholds_exact(void **state) {
  (void)state;
  const double sizes_gb[] = {1, 4, 12, 28, 64, 256};
  for (size_t i = 0; i < sizeof sizes_gb / sizeof sizes_gb[0]; i++) {
    uint64_t m = memstate_min_free((uint64_t)(sizes_gb[i] * GB_PAGES), 0);
    memstate_thresholds_t t;
    memstate_thresholds_esxi(m, 0, &t);
    assert_true(memstate_thresholds_are_valid(&t));
    const struct {
      mmc_mem_state_t s;
      uint64_t pct;
    } enter[] = {
        {MMC_STATE_HIGH, 400}, {MMC_STATE_CLEAR, 100}, {MMC_STATE_SOFT, 64}, {MMC_STATE_HARD, 32}};
    for (size_t k = 0; k < 4; k++) {
      uint64_t lvl = t.enter[enter[k].s];
      /* lvl is the least page count with 100 * free >= pct * minFree */
      assert_true(100 * lvl >= enter[k].pct * m);
      assert_true(lvl == 0 || 100 * (lvl - 1) < enter[k].pct * m);
    }
    assert_true(100 * t.floor[MMC_STATE_HARD] >= 16 * m);
    assert_true(100 * (t.floor[MMC_STATE_HARD] - 1) < 16 * m);
    /* With no history, the state is the one the table gives. */
    assert_int_equal(memstate_initial(&t, 4 * m), MMC_STATE_HIGH);
    assert_int_equal(memstate_initial(&t, 4 * m - 1), MMC_STATE_CLEAR);
    assert_int_equal(memstate_initial(&t, m), MMC_STATE_CLEAR);
    assert_int_equal(memstate_initial(&t, m - 1), MMC_STATE_SOFT);
    assert_int_equal(memstate_initial(&t, t.enter[MMC_STATE_SOFT] - 1), MMC_STATE_HARD);
    assert_int_equal(memstate_initial(&t, t.floor[MMC_STATE_HARD] - 1), MMC_STATE_LOW);
  }
}

/* Replay a curve, return the number of transitions; *last gets the final state. */
static int replay(const memstate_thresholds_t *t, mmc_mem_state_t start, const double *pct,
                  size_t n, mmc_mem_state_t *seen) {
  mmc_mem_state_t s = start;
  int changes = 0;
  for (size_t i = 0; i < n; i++) {
    mmc_mem_state_t next =
        memstate_next(t, s, (uint64_t)llround(pct[i] / 100.0 * (double)t->min_free_pages));
    changes += next != s;
    s = next;
    if (seen)
      seen[i] = s;
  }
  return changes;
}

/* Down through every state and back up, with the margin (10 %) on the way up. */
static void test_scripted_curve(void **state) {
  (void)state;
  memstate_thresholds_t t;
  memstate_thresholds_esxi(100000, MEMSTATE_HYSTERESIS_PCT_DEFAULT, &t);
  const double curve[] = {500, 399, 100, 99, 64, 63, 32, 20, 16,  15, /* down */
                          20,  31,  33,  35, 36, 64, 70, 71, 100, 109, 111, 400, 439, 441};
  const mmc_mem_state_t want[] = {
      MMC_STATE_HIGH,  MMC_STATE_CLEAR, MMC_STATE_CLEAR, MMC_STATE_SOFT, MMC_STATE_SOFT,
      MMC_STATE_HARD,  MMC_STATE_HARD,  MMC_STATE_HARD,  MMC_STATE_HARD, MMC_STATE_LOW,
      MMC_STATE_LOW,   MMC_STATE_LOW,   MMC_STATE_LOW,   MMC_STATE_LOW,  MMC_STATE_HARD,
      MMC_STATE_HARD,  MMC_STATE_HARD,  MMC_STATE_SOFT,  MMC_STATE_SOFT, MMC_STATE_SOFT,
      MMC_STATE_CLEAR, MMC_STATE_CLEAR, MMC_STATE_CLEAR, MMC_STATE_HIGH};
  mmc_mem_state_t seen[sizeof curve / sizeof curve[0]];
  replay(&t, MMC_STATE_HIGH, curve, sizeof curve / sizeof curve[0], seen);
  for (size_t i = 0; i < sizeof curve / sizeof curve[0]; i++) {
    if (seen[i] != want[i])
      print_message("# at %g %%: %s, want %s\n", curve[i], memstate_name(seen[i]),
                    memstate_name(want[i]));
    assert_int_equal(seen[i], want[i]);
  }
  /* a big recovery jumps several states at once */
  assert_int_equal(memstate_next(&t, MMC_STATE_LOW, 500000), MMC_STATE_HIGH);
  /* a collapse drops several at once */
  assert_int_equal(memstate_next(&t, MMC_STATE_HIGH, 1000), MMC_STATE_LOW);
}

/* Free memory hovering around a boundary (within the margin) changes the
 * state once, not at every crossing. */
static void test_no_flapping(void **state) {
  (void)state;
  memstate_thresholds_t t;
  memstate_thresholds_esxi(100000, MEMSTATE_HYSTERESIS_PCT_DEFAULT, &t);
  double wobble[400];
  for (int i = 0; i < 400; i++)
    wobble[i] = (i % 2) ? 99.0 : 105.0; /* around clear's 100 % */
  assert_int_equal(replay(&t, MMC_STATE_CLEAR, wobble, 400, NULL), 1);
  for (int i = 0; i < 400; i++)
    wobble[i] = (i % 2) ? 15.0 : 31.0; /* across the 16-32 % band */
  assert_int_equal(replay(&t, MMC_STATE_HARD, wobble, 400, NULL), 1);
  for (int i = 0; i < 400; i++)
    wobble[i] = (i % 2) ? 399.0 : 430.0; /* around high */
  assert_int_equal(replay(&t, MMC_STATE_HIGH, wobble, 400, NULL), 1);
  /* without a margin the same wobble around clear flaps at every crossing (399 of 400: the first
   * sample is already clear): the margin is what prevents it */
  memstate_thresholds_esxi(100000, 0, &t);
  for (int i = 0; i < 400; i++)
    wobble[i] = (i % 2) ? 99.0 : 105.0;
  assert_int_equal(replay(&t, MMC_STATE_CLEAR, wobble, 400, NULL), 399);
}

static void test_osdi02_profile(void **state) {
  (void)state;
  const uint64_t total = 1000000;
  memstate_thresholds_t t;
  memstate_thresholds_osdi02(total, MEMSTATE_HYSTERESIS_PCT_DEFAULT, &t);
  assert_true(memstate_thresholds_are_valid(&t));
  assert_int_equal(t.enter[MMC_STATE_HIGH], 60000);
  assert_int_equal(t.enter[MMC_STATE_SOFT], 40000);
  assert_int_equal(t.enter[MMC_STATE_HARD], 20000);
  assert_int_equal(t.floor[MMC_STATE_HARD], 10000);
  mmc_mem_state_t s = MMC_STATE_HIGH;
  s = memstate_next(&t, s, 59999);
  assert_int_equal(s, MMC_STATE_SOFT); /* no clear state in OSDI02 */
  s = memstate_next(&t, s, 39999);
  assert_int_equal(s, MMC_STATE_HARD);
  s = memstate_next(&t, s, 10000);
  assert_int_equal(s, MMC_STATE_HARD);
  s = memstate_next(&t, s, 9999);
  assert_int_equal(s, MMC_STATE_LOW);
  s = memstate_next(&t, s, 21999);
  assert_int_equal(s, MMC_STATE_LOW);
  s = memstate_next(&t, s, 22000);
  assert_int_equal(s, MMC_STATE_HARD);
  s = memstate_next(&t, s, 66000);
  assert_int_equal(s, MMC_STATE_HIGH);
}

static void test_actions(void **state) {
  (void)state;
  uint32_t high = memstate_actions(MMC_STATE_HIGH), clear = memstate_actions(MMC_STATE_CLEAR),
           soft = memstate_actions(MMC_STATE_SOFT), hard = memstate_actions(MMC_STATE_HARD),
           low = memstate_actions(MMC_STATE_LOW);
  assert_int_equal(high, MEMSTATE_ACT_SHARE);
  assert_int_equal(clear, MEMSTATE_ACT_SHARE | MEMSTATE_ACT_BREAK_LARGE);
  assert_int_equal(soft, clear | MEMSTATE_ACT_BALLOON);
  assert_int_equal(hard, soft | MEMSTATE_ACT_COMPRESS | MEMSTATE_ACT_SWAP);
  assert_int_equal(low, hard | MEMSTATE_ACT_BLOCK);
  assert_false(soft & MEMSTATE_ACT_SWAP);
  assert_false(hard & MEMSTATE_ACT_BLOCK);
  assert_string_equal(memstate_name(MMC_STATE_SOFT), "soft");
  assert_string_equal(memstate_name((mmc_mem_state_t)9), "?");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_min_free_sliding_scale),
      cmocka_unit_test(test_min_free_pct_setting),
      cmocka_unit_test(test_thresholds_exact),
      cmocka_unit_test(test_scripted_curve),
      cmocka_unit_test(test_no_flapping),
      cmocka_unit_test(test_osdi02_profile),
      cmocka_unit_test(test_actions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
