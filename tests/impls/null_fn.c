/* null_fn.c — deliberately broken test implementation: setting_info is NULL.
 * Built as build/tests/impls/null_fn.so; the runner must refuse it or survive it. */
#define TESTIMPL_NULL_FN
#define TESTIMPL_NAME "test-null_fn"
#include "minimal.c"
