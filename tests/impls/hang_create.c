/* hang_create.c — deliberately broken test implementation: host_create never returns.
 * Built as build/tests/impls/hang_create.so; the runner must refuse it or survive it. */
#define TESTIMPL_HANG_CREATE
#define TESTIMPL_NAME "test-hang_create"
#include "minimal.c"
