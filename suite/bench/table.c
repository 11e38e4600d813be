/*
 * table.c — the benchmarks `mmcert bench` knows (see bench.h). Add one row
 * per benchmark here; the dispatcher in main.c needs no other change.
 */
#include "bench.h"

/* suite/bench/access.c, suite/bench/placement.c */
int suite_bench_access(const suite_bench_opts_t *opts);
int suite_bench_placement(const suite_bench_opts_t *opts);
/* suite/bench/migration.c */
int suite_bench_migration(const suite_bench_opts_t *opts);
/* suite/bench/reclaim.c */
int suite_bench_reclaim(const suite_bench_opts_t *opts);
/* suite/bench/sharing.c */
int suite_bench_sharing(const suite_bench_opts_t *opts);
/* suite/bench/move.c */
int suite_bench_move(const suite_bench_opts_t *opts);

const suite_bench_t suite_benches[] = {
    {.name = "access",
     .title = "guest access through page() against raw access to the same frames (copy, triad)",
     .run = suite_bench_access},
    {.name = "placement",
     .title = "1000 power-ons into a 24-node host: power-on and placement decision cost p50/p99",
     .run = suite_bench_placement},
    {.name = "migration",
     .title = "unthrottled page migration vs memcpy (and move_pages); rebalancer cost at 1000 VMs",
     .run = suite_bench_migration},
    {.name = "move",
     .title = "move_range of a resting VM per CPU-second (ns clock) vs the copy + punch floor",
     .run = suite_bench_move},
    {.name = "reclaim",
     .title = "balloon, compression, swap-out beside raw pwrite, swap-in latency beside raw "
              "pread, time back to the high state after a pressure event",
     .run = suite_bench_reclaim},
    {.name = "sharing",
     .title = "page sharing of N identical VMs against KSM: time, CPU, merges/CPU-s, hashing",
     .run = suite_bench_sharing},
    {0}, /* end */
};
