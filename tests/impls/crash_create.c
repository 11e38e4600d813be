/* crash_create.c — deliberately broken test implementation: host_create raises SIGSEGV.
 * Built as build/tests/impls/crash_create.so; the runner must refuse it or survive it. */
#define TESTIMPL_CRASH_CREATE
#define TESTIMPL_NAME "test-crash_create"
#include "minimal.c"
