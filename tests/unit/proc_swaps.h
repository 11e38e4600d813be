/*
 * proc_swaps.h — for tests: whether /proc/swaps lists an area whose name
 * contains `needle` (the kernel's own list of swap areas, the probe that a
 * swap file is on or off).
 */
#ifndef TEST_PROC_SWAPS_H
#define TEST_PROC_SWAPS_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static inline bool proc_swaps_has(const char *needle) {
  char buf[8192];
  FILE *f = fopen("/proc/swaps", "r");
  size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f)
    fclose(f);
  buf[n] = '\0';
  return strstr(buf, needle) != NULL;
}

#endif
