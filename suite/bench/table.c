/*
 * table.c — the benchmarks `mmcert bench` knows (see bench.h). Add one row
 * per benchmark here; the dispatcher in main.c needs no other change.
 */
#include "bench.h"

const suite_bench_t suite_benches[] = {
    {0}, /* end */
};
