/* junk_pipe.c — deliberately broken test implementation: host_create writes garbage into every pipe
 * it reaches, the runner's record pipe too: the case must be broken saying the stream was
 * malformed. Built as build/tests/impls/junk_pipe.so. */
#define TESTIMPL_JUNK_PIPE
#define TESTIMPL_NAME "test-junk_pipe"
#include "minimal.c"
