/*
 * test_migpace.c — unit tests of the migration pacing policy (migpace.h):
 * immediate start (MIG-2), the cap and the slow-downs for little remote
 * memory and a short destination (MIG-3), the bound on pages moved for a VM
 * moved away and back within one or two periods (MIG-4), PageMigEnable = 0
 * (MIG-5), tick-length independence, unthrottled mode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "migpace.h"

#define MS 1000000ull
#define S 1000000000ull
#define RATE 8000u       /* Numa.PageMigRateMax default */
#define PERIOD (2 * S)   /* Numa.RebalancePeriod default */
#define RESERVE 1000u    /* destination's share of minFree in these tests */
#define PLENTY 10000000u /* free pages: no destination slow-down */
#define MANY 100000000u  /* remote pages: no end slow-down */

static migpace_params_t defaults(void) {
  migpace_params_t p;
  migpace_params_default(&p, true, RATE, PERIOD, RESERVE);
  return p;
}

/* Run ticks of `tick` ns over [from, to), moving every page allowed;
 * remote pages go down as they move. Returns pages moved. */
static uint64_t run(migpace_state_t *st, const migpace_params_t *p, uint64_t from, uint64_t to,
                    uint64_t tick, uint64_t *remote, uint64_t dest_free) {
  uint64_t moved = 0;
  for (uint64_t t = from + tick; t <= to; t += tick) {
    uint64_t b = migpace_budget(st, p, t, tick, *remote, dest_free);
    assert_true(b <= *remote);
    *remote -= b;
    moved += b;
    migpace_account(st, b);
    assert_true(migpace_is_valid(st));
  }
  return moved;
}

static void test_defaults(void **state) {
  (void)state;
  migpace_params_t p = defaults();
  assert_true(p.enable);
  assert_int_equal(p.rate_max, RATE);
  assert_int_equal(p.ramp_ns, 5 * PERIOD);
  assert_int_equal(p.remote_knee_pages, RATE);
  assert_int_equal(p.dest_reserve_pages, RESERVE);
  assert_int_equal(p.dest_knee_pages, RESERVE);
}

/* MIG-2: pages move in the very first tick after a home change. */
static void test_starts_immediately(void **state) {
  (void)state;
  migpace_params_t p = defaults();
  migpace_state_t st;
  migpace_home_changed(&st, 5 * S);
  uint64_t b = migpace_budget(&st, &p, 5 * S + 100 * MS, 100 * MS, MANY, PLENTY);
  /* 8000 x (0.0625 x 0.1 + 0.9375 x 0.01 / 20) = 53.99 */
  assert_int_equal(b, 53);
  assert_true(migpace_rate(&p, &st, 5 * S, MANY, PLENTY) == RATE * 0.0625);
}

/* MIG-3: after the ramp the rate is the cap, whatever the tick length. */
static void test_cap_and_tick_independence(void **state) {
  (void)state;
  migpace_params_t p = defaults();
  const uint64_t ticks[] = {1 * MS, 8 * MS, 100 * MS, 1 * S};
  for (size_t k = 0; k < 4; k++) {
    migpace_state_t st;
    migpace_home_changed(&st, 0);
    uint64_t remote = MANY;
    uint64_t early = run(&st, &p, 0, 10 * S, ticks[k], &remote, PLENTY);
    /* ramp integral over 10 s: 0.0625 x 10 + 0.9375 x 5 = 5.3125 s -> 42500 */
    assert_true(llabs((long long)early - 42500) <= 1);
    uint64_t late = run(&st, &p, 10 * S, 20 * S, ticks[k], &remote, PLENTY);
    assert_true(llabs((long long)late - 10 * RATE) <= 1);
    assert_true(migpace_rate(&p, &st, 20 * S, MANY, PLENTY) == RATE);
  }
}

/* MIG-3: slower when little remote memory is left, and it still finishes. */
static void test_slows_near_the_end(void **state) {
  (void)state;
  migpace_params_t p = defaults();
  migpace_state_t st;
  migpace_home_changed(&st, 0);
  const uint64_t after = 20 * S; /* well past the ramp */
  assert_true(migpace_rate(&p, &st, after, RATE, PLENTY) == RATE);
  assert_true(migpace_rate(&p, &st, after, RATE / 2, PLENTY) == RATE / 2.0);
  assert_true(migpace_rate(&p, &st, after, 10, PLENTY) == RATE * 0.125);
  /* 20000 remote pages from t = 20 s: monotone slowdown, all moved */
  uint64_t remote = 20000, t = after, prev = RATE;
  int ticks = 0;
  while (remote && ticks < 100000) {
    uint64_t b = migpace_budget(&st, &p, t + 10 * MS, 10 * MS, remote, PLENTY);
    if (remote < RATE / 2)
      assert_true(b < RATE / 100); /* below the full-rate 80 per 10 ms */
    assert_true(b <= prev + 2);    /* non-increasing, up to the page carried between ticks */
    prev = b, remote -= b, t += 10 * MS, ticks++;
  }
  assert_int_equal(remote, 0);
  /* full rate alone would take 2.5 s; the tail adds a bounded amount */
  print_message("# 20000 pages moved in %.2f s after the ramp\n", ticks * 0.01);
  assert_true(ticks * 10 * MS < 6 * S);
}

/* MIG-3: slower when the destination has little free memory; stops at the
 * reserve. */
static void test_destination_short_of_memory(void **state) {
  (void)state;
  migpace_params_t p = defaults();
  migpace_state_t st;
  migpace_home_changed(&st, 0);
  const uint64_t t = 20 * S;
  assert_true(migpace_rate(&p, &st, t, MANY, RESERVE) == 0.0);
  assert_true(migpace_rate(&p, &st, t, MANY, RESERVE - 1) == 0.0);
  assert_true(migpace_rate(&p, &st, t, MANY, RESERVE + RESERVE / 2) == RATE / 2.0);
  assert_true(migpace_rate(&p, &st, t, MANY, 2 * RESERVE) == RATE);
  assert_int_equal(migpace_budget(&st, &p, t, S, MANY, RESERVE), 0);
}

/* MIG-4: a VM moved away and back within one or two periods moves at most
 * migpace_bound() pages each way — far less than at the full rate. */
static void test_brief_move_bounded(void **state) {
  (void)state;
  migpace_params_t p = defaults();
  for (uint64_t periods = 1; periods <= 2; periods++) {
    uint64_t T = periods * PERIOD;
    migpace_state_t st;
    migpace_home_changed(&st, 0); /* moved to a node where it has nothing */
    uint64_t remote = MANY;
    uint64_t out = run(&st, &p, 0, T, 10 * MS, &remote, PLENTY);
    assert_true(out <= migpace_bound(&p, T));
    assert_int_equal(st.moved_since_home, out);
    /* moved back: only what was just moved is remote now */
    migpace_home_changed(&st, T);
    assert_int_equal(st.moved_since_home, 0);
    uint64_t back_remote = out;
    uint64_t back = run(&st, &p, T, 2 * T, 10 * MS, &back_remote, PLENTY);
    print_message("# away for %llu period(s): %llu pages out, %llu back (full rate: %llu)\n",
                  (unsigned long long)periods, (unsigned long long)out, (unsigned long long)back,
                  (unsigned long long)(RATE * T / S));
    assert_true(out + back <= 2 * migpace_bound(&p, T));
    assert_true(out < RATE * T / S / 3); /* under a third of the full-rate amount */
  }
  /* the documented figures */
  assert_int_equal(migpace_bound(&p, PERIOD), 2501);
  assert_int_equal(migpace_bound(&p, 2 * PERIOD), 8001);
  /* without the ramp the same brief move drags the full rate along */
  migpace_params_t flat = p;
  flat.ramp_ns = 0;
  assert_int_equal(migpace_bound(&flat, PERIOD), 16001);
}

/* MIG-5 and the benchmark's unthrottled mode. */
static void test_disabled_and_unthrottled(void **state) {
  (void)state;
  migpace_params_t p = defaults();
  p.enable = false;
  migpace_state_t st;
  migpace_home_changed(&st, 0);
  uint64_t remote = MANY;
  assert_int_equal(run(&st, &p, 0, 30 * S, S, &remote, PLENTY), 0);
  assert_true(migpace_rate(&p, &st, 30 * S, MANY, PLENTY) == 0.0);
  assert_int_equal(migpace_bound(&p, S), 0);
  p = defaults();
  p.unthrottled = true;
  assert_int_equal(migpace_budget(&st, &p, 1, 1, 12345, 0), 12345);
  assert_true(isinf(migpace_rate(&p, &st, 1, 1, 0)));
  assert_int_equal(migpace_bound(&p, S), MIGPACE_UNLIMITED);
}

/* A pause (nothing remote) saves nothing up; a home change resets the carry. */
static void test_no_burst_after_pause(void **state) {
  (void)state;
  migpace_params_t p = defaults();
  migpace_state_t st;
  migpace_home_changed(&st, 0);
  for (uint64_t t = S; t <= 60 * S; t += S)
    assert_int_equal(migpace_budget(&st, &p, t, S, 0, PLENTY), 0);
  assert_true(st.carry == 0.0);
  assert_true(migpace_budget(&st, &p, 60 * S + 100 * MS, 100 * MS, MANY, PLENTY) <= RATE / 10);
  /* a tick that ends at or before the home change allows nothing */
  migpace_home_changed(&st, 100 * S);
  assert_int_equal(migpace_budget(&st, &p, 100 * S, S, MANY, PLENTY), 0);
  assert_int_equal(migpace_budget(&st, &p, 99 * S, S, MANY, PLENTY), 0);
  assert_true(migpace_budget(&st, &p, 100 * S + S, 2 * S, MANY, PLENTY) > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_starts_immediately),
      cmocka_unit_test(test_cap_and_tick_independence),
      cmocka_unit_test(test_slows_near_the_end),
      cmocka_unit_test(test_destination_short_of_memory),
      cmocka_unit_test(test_brief_move_bounded),
      cmocka_unit_test(test_disabled_and_unthrottled),
      cmocka_unit_test(test_no_burst_after_pause),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
