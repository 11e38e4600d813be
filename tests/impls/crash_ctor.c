/* crash_ctor.c — deliberately broken test implementation: a constructor raises SIGSEGV as the
 * object is loaded: mmcert must say so (exit 2) and survive, since it never loads an object itself.
 * Built as build/tests/impls/crash_ctor.so. */
#define TESTIMPL_CTOR_CRASH
#define TESTIMPL_NAME "test-crash_ctor"
#include "minimal.c"
