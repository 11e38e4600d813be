/* escape.c — deliberately broken test implementation: host_create starts a helper in a session of
 * its own; mmcert must kill it when the case ends and report it. Built as
 * build/tests/impls/escape.so. */
#define TESTIMPL_ESCAPE
#define TESTIMPL_NAME "test-escape"
#include "minimal.c"
