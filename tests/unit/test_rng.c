/*
 * test_rng.c — unit tests of the reference implementation's generator
 * (rng.h): known-answer vectors for splitmix64 and xoshiro256** (computed by
 * an independent Python transcription of the authors' reference code),
 * bounds and uniformity of ref_rng_below, the range of ref_rng_unit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>

#include "rng.h"

static void test_known_answers(void **state) {
  (void)state;
  uint64_t x = 0;
  assert_true(ref_splitmix64(&x) == 0xe220a8397b1dcdafull); /* the published first value */
  ref_rng_t r;
  ref_rng_seed(&r, 0);
  assert_true(r.s[0] == 0xe220a8397b1dcdafull);
  assert_true(r.s[1] == 0x6e789e6aa1b965f4ull);
  assert_true(r.s[2] == 0x06c45d188009454full);
  assert_true(r.s[3] == 0xf88bb8a8724c81ecull);
  assert_true(ref_rng_next(&r) == 0x99ec5f36cb75f2b4ull);
  assert_true(ref_rng_next(&r) == 0xbf6e1f784956452aull);
  assert_true(ref_rng_next(&r) == 0x1a5f849d4933e6e0ull);
  assert_true(ref_rng_is_valid(&r));
}

static void test_below_and_unit(void **state) {
  (void)state;
  enum { N = 7, DRAWS = 70000 };
  ref_rng_t r;
  ref_rng_seed(&r, 99);
  unsigned count[N] = {0};
  for (int i = 0; i < DRAWS; i++) {
    uint64_t v = ref_rng_below(&r, N);
    assert_true(v < N);
    count[v]++;
    double u = ref_rng_unit(&r);
    assert_true(u >= 0.0 && u < 1.0);
  }
  double expect = (double)DRAWS / N, sd = sqrt(expect * (1.0 - 1.0 / N));
  for (int i = 0; i < N; i++)
    assert_true(fabs(count[i] - expect) < 5 * sd);
  assert_int_equal(ref_rng_below(&r, 0), 0);
  assert_int_equal(ref_rng_below(&r, 1), 0);
  ref_rng_t a, b;
  ref_rng_seed(&a, 5), ref_rng_seed(&b, 5);
  for (int i = 0; i < 100; i++)
    assert_true(ref_rng_below(&a, UINT64_MAX - 3) == ref_rng_below(&b, UINT64_MAX - 3));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known_answers),
      cmocka_unit_test(test_below_and_unit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
