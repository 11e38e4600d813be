/* bad_name.c — deliberately broken test implementation: its name pointer points nowhere: a clear
 * refusal (exit 2), never a crash of mmcert. Built as build/tests/impls/bad_name.so. */
#define TESTIMPL_BAD_NAME
#define TESTIMPL_NAME "test-bad_name"
#include "minimal.c"
