/* liar_dirty.c — deliberately wrong test implementation: the reference with
 * one lie (LIAR_DIRTY, see liar.h). Built as build/tests/impls/liar_dirty.so. */
#define LIAR_DIRTY
#define LIAR_NAME "test-liar_dirty"
#include "liar.h"
