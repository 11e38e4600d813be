/* liar_lose.c — deliberately wrong test implementation: the reference with
 * one lie (LIAR_LOSE, see liar.h). Built as build/tests/impls/liar_lose.so. */
#define LIAR_LOSE
#define LIAR_NAME "test-liar_lose"
#include "liar.h"
