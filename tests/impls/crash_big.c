/* crash_big.c — deliberately broken test implementation: claims placement and crashes on a host of
 * 16 nodes or more (the placement benchmark makes one of 24): mmcert bench must keep what the other
 * benchmarks measured. Built as build/tests/impls/crash_big.so. */
#define TESTIMPL_CRASH_BIG
#define TESTIMPL_NAME "test-crash_big"
#include "minimal.c"
