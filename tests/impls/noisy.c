/* noisy.c — test implementation that prints to stdout in host_create, as a
 * careless one might. Built as build/tests/impls/noisy.so; mmcert must keep
 * its stdout pure TAP (the noise goes to stderr). Otherwise correct. */
#define TESTIMPL_NOISY
#define TESTIMPL_NAME "test-noisy"
#include "minimal.c"
