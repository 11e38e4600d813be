/*
 * test_bench.c — the generic --repeat of `mmcert bench`
 * (suite_bench_figure): the measurement runs exactly `repeat` times, every
 * sample is kept in order, the printed row quotes the median, the IQR and
 * the range; a failing measurement stops the figure and prints nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench.h"

typedef struct feed {
  const double *values;
  unsigned calls, fail_at;
} feed_t;

static int next_value(void *arg, double *v) {
  feed_t *f = arg;
  if (f->calls == f->fail_at)
    return -1;
  *v = f->values[f->calls++];
  return 0;
}

static void repeats_and_summarises(void **state) {
  (void)state;
  static const double values[] = {5, 1, 4, 2, 3};
  feed_t f = {.values = values, .fail_at = 99};
  char *out = NULL;
  size_t len = 0;
  FILE *o = open_memstream(&out, &len);
  suite_bench_opts_t opts = {.repeat = 5, .out = o, .err = stderr};
  double samples[5];
  assert_int_equal(suite_bench_figure(&opts, "copy", "GB/s", "higher", next_value, &f, samples), 0);
  fclose(o);
  assert_int_equal(f.calls, 5);
  assert_memory_equal(samples, values, sizeof values);
  assert_non_null(strstr(out, "copy"));
  assert_non_null(strstr(out, " 3 GB/s"));
  assert_non_null(strstr(out, "IQR 2..4"));
  assert_non_null(strstr(out, "range 1..5"));
  assert_non_null(strstr(out, "n=5  (higher is better)"));
  free(out);
}

static void failure_stops(void **state) {
  (void)state;
  static const double values[] = {1, 2, 3};
  feed_t f = {.values = values, .fail_at = 1};
  char *out = NULL;
  size_t len = 0;
  FILE *o = open_memstream(&out, &len);
  suite_bench_opts_t opts = {.repeat = 3, .out = o, .err = stderr};
  assert_int_equal(suite_bench_figure(&opts, "copy", "GB/s", "higher", next_value, &f, NULL), -1);
  fclose(o);
  assert_int_equal(f.calls, 1);
  assert_int_equal(len, 0);
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(repeats_and_summarises),
      cmocka_unit_test(failure_stops),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
