/*
 * test_util.h — what any unit test may share: a skip that says why.
 * cmocka 1.1.5 writes a skipped test as "not ok N # SKIP name" with no
 * reason; test_skip() prints "# SKIP reason: ..." first, and
 * tests/cmocka-tap turns the pair into "ok N # SKIP <reason> - name", which
 * prove shows. Header only; include after <cmocka.h>.
 */
#ifndef TESTS_TEST_UTIL_H
#define TESTS_TEST_UTIL_H

#include <stdarg.h>
#include <stdio.h>

#define TEST_SKIP_REASON "# SKIP reason: " /* tests/cmocka-tap matches it */

__attribute__((format(printf, 1, 2))) static inline void test_skip_say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs(TEST_SKIP_REASON, stdout);
  vprintf(fmt, ap);
  fputc('\n', stdout);
  fflush(stdout);
  va_end(ap);
}

/* End the running test as skipped, saying why (printf-like). */
#define test_skip(...)                                                                             \
  do {                                                                                             \
    test_skip_say(__VA_ARGS__);                                                                    \
    skip();                                                                                        \
  } while (0)

#endif
