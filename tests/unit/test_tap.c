/*
 * test_tap.c — the TAP writer (suite/tap.c) against golden output in
 * tests/golden/tap.out. MMCERT_REGEN_GOLDEN=1 (or MMCERT_REGENERATE=1) rewrites
 * the golden file instead of comparing (review the diff before committing it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tap.h"

#define GOLDEN MMCERT_SOURCE_DIR "/tests/golden/tap.out"

/* Everything the writer can emit, once. */
static void write_sample(FILE *f) {
  tap_t top, sub, subsub;
  tap_init(&top, f, 0);
  tap_version(&top);
  tap_plan(&top, 4);
  tap_diag(&top, "seed: %d", 42);
  tap_subtest(&top, &sub, "SET-1");
  tap_plan(&sub, 3);
  tap_ok(&sub, true, "Numa.RebalancePeriod is %d by default", 2000);
  tap_ok(&sub, false, "name with # hash and\nnewline");
  tap_diag(&sub, "expected %d, saw %d\nsecond line\n", 2000, 1000);
  tap_subtest(&sub, &subsub, "deeper");
  tap_plan(&subsub, 1);
  tap_ok(&subsub, true, "nested");
  tap_ok(&sub, true, "deeper");
  tap_ok(&top, false, "SET-1 settings");
  tap_skip(&top, "NUMA-4 rebalancing", "implementation lacks capability %s", "MMC_CAP_REBALANCE");
  tap_ok_note(&top, false, "HANG-1 hangs", "TIMEOUT after %.1f s", 1.5);
  tap_ok(&top, true, "%s", "");
  tap_diag(&top, "%s", "");
  tap_diag(&top, "Totals: pass:%u fail:%u skip:%u broken:%u", 1u, 1u, 1u, 1u);
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "r");
  if (!f)
    return NULL;
  char *buf = NULL;
  size_t cap = 0;
  FILE *m = open_memstream(&buf, &cap);
  int ch;
  while ((ch = fgetc(f)) != EOF)
    fputc(ch, m);
  fclose(f);
  fclose(m);
  *len = cap;
  return buf;
}

static void golden_output(void **state) {
  (void)state;
  char *out = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&out, &len);
  assert_non_null(m);
  write_sample(m);
  fclose(m);
  /* MMCERT_REGENERATE is the topology printouts' switch: honour both. */
  const char *regen = getenv("MMCERT_REGEN_GOLDEN"), *regen2 = getenv("MMCERT_REGENERATE");
  if ((regen && !strcmp(regen, "1")) || (regen2 && !strcmp(regen2, "1"))) {
    FILE *g = fopen(GOLDEN, "w");
    assert_non_null(g);
    assert_int_equal(fwrite(out, 1, len, g), len);
    assert_int_equal(fclose(g), 0);
  }
  size_t glen = 0;
  char *golden = read_file(GOLDEN, &glen);
  assert_non_null(golden);
  assert_string_equal(out, golden);
  free(out);
  free(golden);
}

/* A '#' in a description must not become a directive; counts go up by one
 * per line at each level separately. */
static void escaping_and_counts(void **state) {
  (void)state;
  char *out = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&out, &len);
  tap_t t, s;
  tap_init(&t, m, 0);
  tap_ok(&t, true, "a # SKIP b");
  tap_subtest(&t, &s, "x");
  tap_ok(&s, true, "one");
  tap_ok(&t, true, "two");
  fclose(m);
  assert_string_equal(out, "ok 1 - a \\# SKIP b\n"
                           "    # Subtest: x\n"
                           "    ok 1 - one\n"
                           "ok 2 - two\n");
  assert_int_equal(t.count, 2);
  assert_int_equal(s.count, 1);
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(golden_output),
      cmocka_unit_test(escaping_and_counts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
