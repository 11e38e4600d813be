/* null_page.c — deliberately broken test implementation: page() returns NULL without filling the
 * error: a case that needs a page must say what it saw, not an empty reason. Built as
 * build/tests/impls/null_page.so. */
#define TESTIMPL_NULL_PAGE
#define TESTIMPL_NAME "test-null_page"
#include "minimal.c"
