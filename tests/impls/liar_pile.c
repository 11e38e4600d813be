/* liar_pile.c — deliberately wrong test implementation: the reference with
 * one lie (LIAR_PILE, see liar.h): every VM piled on one node. Built as
 * build/tests/impls/liar_pile.so. */
#define LIAR_PILE
#define LIAR_NAME "test-liar_pile"
#include "liar.h"
