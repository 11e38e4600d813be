/*
 * fuzz.h — what the fuzz targets (tests/fuzz/fuzz_*.c) share.
 *
 * Each target feeds bytes to one parser of input mmcert does not control
 * (results files and qualify reports from other machines, history
 * selections, sizes, topology strings and the topology wire form, --set
 * values) and checks properties that must hold for any input: no crash or
 * sanitizer report, a refusal always carries a message, and what is
 * accepted has the invariants the rest of mmcert relies on. A broken
 * property aborts (fuzz_require), which libFuzzer reports as a crash with
 * the input saved.
 *
 * `make fuzz` links them with libFuzzer (clang -fsanitize=fuzzer,address,
 * undefined, in build-fuzz/); `make check` links the same files with
 * tests/fuzz/replay.c (any compiler) and runs every committed input under
 * tests/fuzz/corpus/<target>/, so an input that once found a bug stays a
 * test.
 */
#ifndef MMCERT_FUZZ_H
#define MMCERT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Not assert(): it must hold in -DNDEBUG builds too, and say which. */
#define fuzz_require(cond)                                                                         \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond);                  \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

/* The input as a NUL-terminated string (NULL when it holds a NUL byte:
 * command-line text never does). Free with free(). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
  if (memchr(data, '\0', size))
    return NULL;
  char *s = malloc(size + 1);
  if (!s)
    return NULL;
  memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

#endif
