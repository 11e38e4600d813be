/* small_struct.c — deliberately broken test implementation: its table claims
 * a struct_size smaller than this mmcert's mmc_impl_t (an older, shorter
 * table). Built as build/tests/impls/small_struct.so; mmcert must refuse it. */
#define TESTIMPL_STRUCT_SIZE 64u
#define TESTIMPL_NAME "test-small_struct"
#include "minimal.c"
