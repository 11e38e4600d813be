/* wrong_default.c — deliberately broken test implementation: Numa.RebalancePeriod defaults to 1000,
 * not the documented 2000. Built as build/tests/impls/wrong_default.so; the runner must refuse it
 * or survive it. */
#define TESTIMPL_WRONG_DEFAULT
#define TESTIMPL_NAME "test-wrong_default"
#include "minimal.c"
