/* liar_home.c — deliberately wrong test implementation: the reference with
 * one lie (LIAR_HOME, see liar.h). Built as build/tests/impls/liar_home.so. */
#define LIAR_HOME
#define LIAR_NAME "test-liar_home"
#include "liar.h"
