/* wrong_abi.c — deliberately broken test implementation: built for ABI 3.
 * Built as build/tests/impls/wrong_abi.so; mmcert must refuse it (exit 2). */
#define TESTIMPL_ABI 3u
#define TESTIMPL_NAME "test-wrong-abi"
#include "minimal.c"
