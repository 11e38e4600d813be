/* hang_ctor.c — deliberately broken test implementation: a constructor never returns: the
 * inspection of the object must time out (exit 2, saying where it hung). Built as
 * build/tests/impls/hang_ctor.so. */
#define TESTIMPL_CTOR_HANG
#define TESTIMPL_NAME "test-hang_ctor"
#include "minimal.c"
