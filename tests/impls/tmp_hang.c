/* tmp_hang.c — deliberately broken test implementation: host_create writes a 1 MiB swap-like file
 * under $TMPDIR and hangs: an interrupted or killed mmcert must leave no such file behind (now, or
 * at its next start). Built as build/tests/impls/tmp_hang.so. */
#define TESTIMPL_TMP_HANG
#define TESTIMPL_NAME "test-tmp_hang"
#include "minimal.c"
