/* crash_on_set.c — deliberately broken test implementation: setting_set of
 * Mem.IdleTax raises SIGSEGV, so SET-1 dies midway. Built as
 * build/tests/impls/crash_on_set.so; the runner must keep every check the
 * case reported before the crash. */
#define TESTIMPL_CRASH_ON_SET "Mem.IdleTax"
#define TESTIMPL_NAME "test-crash_on_set"
#include "minimal.c"
