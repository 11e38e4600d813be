/* no_symbol.c — deliberately broken test implementation: exports no mmcert_impl symbol.
 * Built as build/tests/impls/no_symbol.so; the runner must refuse it or survive it. */
#define TESTIMPL_NO_SYMBOL
#define TESTIMPL_NAME "test-no_symbol"
#include "minimal.c"
