/*
 * twin.h — broken twins of the reference: the compile-time switch and the
 * list of twins (prefix ref_twin_, REF_TWIN). Internal header, never
 * installed.
 *
 * What. A twin is the reference with one documented behaviour broken, the
 * way implementations really get it wrong: a wrong comparison, a missed
 * setting, a skipped copy, an off-by-one, a dropped margin; and twins that
 * lie, reporting the documented behaviour in their statistics and events
 * while doing otherwise, which only the suite's independent probes can
 * catch. The kill matrix (tests/twins/kill-matrix.pl, run by `make check`
 * and published by `make kill-matrix` as doc/kill-matrix.md) runs each twin
 * through the cases that name its SPEC id and requires the certificate to
 * fail that id: a twin the suite passes is a hole in the suite. Every SPEC
 * id of doc/spec.md has at least one twin (the matrix refuses an id
 * without).
 *
 * How. The reference's sources carry hooks, `if (REF_TWIN(NAME)) ...`, at
 * the line a twin breaks. In the normal build REF_TWINS is undefined and
 * REF_TWIN(NAME) is the constant 0: the compiler drops every hook, and no
 * twin name, table or selector exists in libmmref.so or libmmref.a
 * (tests/cli/kill-matrix.t checks the library for them). The twin build
 * compiles the same sources once more with -DREF_TWINS=1 into
 * build/tests/twins/libmmref-twins.so, every hook compiled in, and
 * tests/twins/twin.c chooses the one twin the library runs as, at load,
 * from the file name it was loaded by: build/tests/twins/NAME.so is a
 * symbolic link to the library, so
 *     mmcert run --impl build/tests/twins/NAME.so --spec ID
 * runs twin NAME, and its certificate names the implementation "twin:NAME".
 * Loaded by any other name the library is the reference itself.
 *
 * Why one build with hooks and links rather than a build or patch per
 * twin: a build of the reference per twin (67 of them) would cost minutes
 * of a 2-core `make check`; the one extra build costs what the reference's
 * own does (about 8 s on 2 cores) and a link nothing, and the whole matrix
 * then runs in 35-90 s on 2 cores, depending on what else runs. A patch
 * set would stop applying with the next change of the code it patches; a
 * hook sits in that code, is compiled with it in every `make check`, and
 * says in place what breaking it means. Choosing by file name rather than
 * an environment variable keeps a twin a plain implementation path,
 * whatever the runner does with its children's environment.
 *
 * Invariants: REF_TWIN(NAME) is 0 unless REF_TWINS is defined; at most one
 * twin is active in a process (ref_twin_active, set once at load); a hook
 * changes only what its row says; twins break behaviour, they do not
 * crash (a crash proves nothing about the suite's checks).
 *
 * A row: X(NAME, "SPEC id", "topology", kind, "how, in one line"), kind
 * REF_TWIN_BROKEN (the behaviour is wrong and reported as it is) or
 * REF_TWIN_LIAR (wrong, while statistics and events report it right). The
 * name a twin is run by is NAME in lower case with '-' for '_'.
 */
#ifndef REF_TWIN_H
#define REF_TWIN_H

#define REF_TWIN_BROKEN 0
#define REF_TWIN_LIAR 1

/* clang-format off */
#define REF_TWIN_LIST(X)                                                                           \
  X(SET1_RANGE_OFF_BY_ONE, "SET-1", "builtin:2", REF_TWIN_BROKEN,                                  \
    "range check compares with > max + 1: one above the maximum is accepted")                      \
  X(SET2_PERIOD_READ_ONCE, "SET-2", "builtin:2", REF_TWIN_BROKEN,                                  \
    "a periodic hook keeps the period it had when registered: changes never apply")               \
  X(SET2_PERIOD_CHANGES_PERIOD_UNDER_WAY, "SET-2", "builtin:2", REF_TWIN_BROKEN,                   \
    "a changed period moves the due time of the period under way, not only the next ones")        \
  X(SET2_REBALANCER_KEEPS_PERIOD_REPORTS_CHANGE, "SET-2", "builtin:2", REF_TWIN_LIAR,              \
    "the rebalancer decides on the period of power-on; its runs are reported on the changed one") \
  X(NUMA1_FIRST_TOUCH_NEXT_NODE, "NUMA-1", "builtin:2", REF_TWIN_LIAR,                             \
    "first touch takes its frame from the nearest other node; pages_per_node counts it on the home") \
  X(NUMA2_MEMORY_NOT_COMMITTED, "NUMA-2", "builtin:4", REF_TWIN_BROKEN,                            \
    "placement records each client's vCPUs in the node loads but not its memory")                 \
  X(NUMA3_DISTANCE_IGNORED, "NUMA-3", "builtin:4", REF_TWIN_BROKEN,                                \
    "a wide VM's node set is chosen by load alone, distances ignored")                            \
  X(NUMA4_RUNS_EVERY_MIGRATE_TICK, "NUMA-4", "builtin:2", REF_TWIN_BROKEN,                         \
    "the rebalancer's hook is registered with Ref.MigrateTick's period, not Numa.RebalancePeriod") \
  X(NUMA5_MIG_THRESHOLD_FOR_IMBALANCE, "NUMA-5", "builtin:2", REF_TWIN_BROKEN,                     \
    "the imbalance is compared with Numa.MigThreshold instead of Numa.MigImbalanceThreshold")     \
  X(NUMA5_MEMORY_FIT_NOT_CHECKED, "NUMA-5", "builtin:2", REF_TWIN_BROKEN,                          \
    "a VM is moved to a node whose free memory cannot hold it")                                   \
  X(NUMA6_LOCALITY_SIGN_SWAPPED, "NUMA-6", "builtin:2", REF_TWIN_BROKEN,                           \
    "the locality term of a candidate's score has source and destination swapped")                \
  X(NUMA7_NEW_MEMORY_FROM_OLD_HOME, "NUMA-7", "builtin:2", REF_TWIN_LIAR,                          \
    "after a home change first touches still use the home of power-on; stats and events show the new home") \
  X(NUMA8_ENABLE_IGNORED_AT_POWER_ON, "NUMA-8", "builtin:2", REF_TWIN_BROKEN,                      \
    "Numa.RebalanceEnable=0 is not read at power-on: VMs still get home nodes")                   \
  X(NUMA8_CORES_NODE_OFF_BY_ONE, "NUMA-8", "builtin:2", REF_TWIN_BROKEN,                           \
    "a node with exactly Numa.RebalanceCoresNode cores turns the rebalancer off")                  \
  X(NUMA9_RECONFIGURE_KEEPS_HOME, "NUMA-9", "builtin:2", REF_TWIN_BROKEN,                          \
    "a reconfigured numa.nodeAffinity is stored but the home outside it is not moved")            \
  X(NUMA10_MARGINS_DROPPED, "NUMA-10", "builtin:4", REF_TWIN_BROKEN,                               \
    "balance moves lose both margins (Numa.MigThreshold, Numa.MigThrashThreshold): any move that does not worsen the pair is made") \
  X(NUMA11_VCPU_MIN_OFF_BY_ONE, "NUMA-11", "builtin:2", REF_TWIN_BROKEN,                           \
    "virtual NUMA from numa.vcpu.min + 1 vCPUs on (compared with <= instead of <)")               \
  X(NUMA12_LOCALITY_IGNORES_CPU, "NUMA-12", "builtin:2", REF_TWIN_BROKEN,                          \
    "locality moves leave CPU out: a VM moves to its memory's node however loaded it is")         \
  X(NUMA12_MOVES_ONLY_REPORTED, "NUMA-12", "builtin:2", REF_TWIN_LIAR,                             \
    "locality moves and swaps are reported (events, home in vm_stats and vcpu_info); nothing moves") \
  X(MIG1_COPY_SKIPPED, "MIG-1", "builtin:2", REF_TWIN_BROKEN,                                      \
    "migration publishes the new frames without copying into them")                               \
  X(MIG1_MOVES_COUNTED_NOT_DONE, "MIG-1", "builtin:2", REF_TWIN_LIAR,                              \
    "batches are counted and reported migrated, pages_per_node on the home; no page moves")      \
  X(MIG2_STARTS_A_PERIOD_LATE, "MIG-2", "builtin:2", REF_TWIN_BROKEN,                              \
    "migration toward the new home begins one rebalancer period after the home change")          \
  X(MIG3_CAP_PER_TICK, "MIG-3", "builtin:2", REF_TWIN_BROKEN,                                      \
    "Numa.PageMigRateMax applied per Ref.MigrateTick instead of per second: ten times the cap")   \
  X(MIG3_NO_SLOWDOWN_NEAR_END, "MIG-3", "builtin:2", REF_TWIN_BROKEN,                              \
    "the rate does not slow down when little remote memory is left")                              \
  X(MIG3_DEST_FREE_IGNORED, "MIG-3", "builtin:2", REF_TWIN_BROKEN,                                 \
    "the rate does not slow down when the destination is short of free memory")                   \
  X(MIG3_MOVES_AT_ONCE_REPORTS_PACE, "MIG-3", "builtin:2", REF_TWIN_LIAR,                          \
    "every page moves at the first tick; pages_migrated and batch events follow the capped pace") \
  X(MIG4_NO_RAMP, "MIG-4", "builtin:2", REF_TWIN_BROKEN,                                           \
    "migration starts at the full rate: no ramp after a home change")                             \
  X(MIG4_FULL_RATE_REPORTS_RAMP, "MIG-4", "builtin:2", REF_TWIN_LIAR,                              \
    "migration runs at the full rate at once; pages_migrated and events follow the ramp")         \
  X(MIG5_ENABLE_IGNORED, "MIG-5", "builtin:2", REF_TWIN_BROKEN,                                    \
    "Numa.PageMigEnable=0 is not read: pages migrate")                                            \
  X(MIG5_MOVES_UNREPORTED, "MIG-5", "builtin:2", REF_TWIN_LIAR,                                    \
    "with Numa.PageMigEnable=0 pages still migrate, uncounted and without events")                \
  X(TPS1_HASH_MATCH_TAKEN_AS_EQUAL, "TPS-1", "builtin:2", REF_TWIN_BROKEN,                         \
    "pages whose hashes match are merged without the full comparison")                            \
  X(TPS2_COW_WRITER_KEEPS_SHARED_FRAME, "TPS-2", "builtin:2", REF_TWIN_LIAR,                       \
    "a write to a shared page makes the shared frame the writer's own; the COW break is reported") \
  X(TPS3_RATE_MAX_IGNORED, "TPS-3", "builtin:2", REF_TWIN_BROKEN,                                  \
    "Mem.ShareRateMax is not applied to a VM's scan")                                              \
  X(TPS3_BURST_REPORTED_PACED, "TPS-3", "builtin:2", REF_TWIN_LIAR,                               \
    "the first run scans and merges every page; pages_scanned and savings are reported at the pace") \
  X(TPS4_SHARED_PAGE_LEFT_ON_OLD_NODE, "TPS-4", "builtin:2", REF_TWIN_BROKEN,                      \
    "after a home change shared pages stay on the old node's frame")                              \
  X(TPS5_ZERO_PAGES_SKIPPED, "TPS-5", "builtin:2", REF_TWIN_BROKEN,                                \
    "the scanner skips pages full of zeros")                                                      \
  X(TPS6_PSHARE_ENABLE_IGNORED, "TPS-6", "builtin:2", REF_TWIN_BROKEN,                             \
    "sched.mem.pshare.enable=FALSE is not read: the VM is scanned and shares")                    \
  X(TPS7_SHARING_SKIPPED_BEFORE_SWAP, "TPS-7", "builtin:2", REF_TWIN_BROKEN,                       \
    "pages are written to swap without trying to share them first")                               \
  X(TPS7_SHARING_SKIPPED_WHEN_COMPRESSING, "TPS-7", "builtin:2", REF_TWIN_BROKEN,                  \
    "sharing before swap is tried only when Mem.MemZipEnable=0")                                  \
  X(TPS8_MERGED_FRAMES_KEPT, "TPS-8", "builtin:2", REF_TWIN_LIAR,                                  \
    "merged pages' private frames are never freed; saved_pages counts the savings")              \
  X(TPS8_COUNTED_NEVER_MERGED, "TPS-8", "builtin:2", REF_TWIN_LIAR,                               \
    "pages are counted and reported shared (shared_pages, saved_pages, events), never merged")   \
  X(SALT1_SALT_NOT_COMPARED, "SALT-1", "builtin:2", REF_TWIN_BROKEN,                               \
    "the salt is left out of the share table's key and match")                                    \
  X(SALT2_EMPTY_SALT_IS_A_SALT, "SALT-2", "builtin:2", REF_TWIN_BROKEN,                            \
    "an empty sched.mem.pshare.salt is taken as a salt: VMs with empty salts share")              \
  X(SALT2_HOST_STARTS_AT_FORCE_SALTING_1, "SALT-2", "builtin:2", REF_TWIN_BROKEN,                  \
    "a new host runs Mem.ShareForceSalting=1 (setting_info still says 2)")                         \
  X(ALLOC1_RESERVATIONS_NOT_SUMMED, "ALLOC-1", "builtin:2", REF_TWIN_BROKEN,                       \
    "admission control checks the new reservation alone, not the sum with running VMs'")          \
  X(ALLOC2_HIGH_SHARES_AS_NORMAL, "ALLOC-2", "builtin:2", REF_TWIN_BROKEN,                         \
    "sched.mem.shares=high counts 10 shares per MB, as normal")                                   \
  X(ALLOC3_IDLE_COST_ONE_PLUS_TAU, "ALLOC-3", "builtin:2", REF_TWIN_BROKEN,                        \
    "an idle page costs 1 + tau instead of 1 / (1 - tau) (flat tax)")                             \
  X(ALLOC4_ZERO_TAX_TAKEN_AS_UNSET, "ALLOC-4", "builtin:2", REF_TWIN_BROKEN,                       \
    "Mem.IdleTax=0 is taken as unset: the 75 % default applies")                                  \
  X(ALLOC5_TAX_TYPE_IGNORED, "ALLOC-5", "builtin:2", REF_TWIN_BROKEN,                              \
    "Mem.IdleTaxType=1 is not read: the tax is flat")                                             \
  X(ALLOC6_EVENTS_DO_NOT_RECOMPUTE, "ALLOC-6", "builtin:2", REF_TWIN_BROKEN,                       \
    "targets are recomputed only every Mem.BalancePeriod, not on power-on/off or changes")        \
  X(ALLOC6_RECOMPUTED_AT_EVERY_WSS_TICK, "ALLOC-6", "builtin:2", REF_TWIN_BROKEN,                 \
    "targets are recomputed at every working-set tick: they follow the estimates off the grid")   \
  X(WSS1_WALL_TIME_NOT_VM_TIME, "WSS-1", "builtin:2", REF_TWIN_BROKEN,                             \
    "sample periods run on host time: a VM whose vCPUs do not run still advances")               \
  X(WSS2_SLOW_AVERAGE_DROPPED, "WSS-2", "builtin:2", REF_TWIN_BROKEN,                              \
    "the estimate leaves out the slow average: decreases are followed as fast as increases")      \
  X(WSS2_FAST_GAIN_READS_SLOW_GAIN, "WSS-2", "builtin:2", REF_TWIN_BROKEN,                         \
    "the fast average's gain is read from Ref.WssSlowGain: increases are followed slowly")        \
  X(WSS3_EVERY_OTHER_SAMPLE_INVALIDATED, "WSS-3", "builtin:2", REF_TWIN_BROKEN,                    \
    "only every other planned page is invalidated, while the fraction divides by all of them")    \
  X(WSS4_TARGET_GROWS_5_PCT_PER_BALANCE_PERIOD, "WSS-4", "builtin:2", REF_TWIN_BROKEN,             \
    "a target grows by at most 5 % of the VM per Mem.BalancePeriod: a taxed VM ramps back slowly")       \
  X(STATE1_SECOND_BAND_AT_3_PCT, "STATE-1", "builtin:2", REF_TWIN_BROKEN,                          \
    "minFree's sliding scale takes 3 % of the second band instead of 4 %")                        \
  X(STATE1_UPWARD_MARGIN_DROPPED, "STATE-1", "builtin:2", REF_TWIN_BROKEN,                         \
    "no hysteresis on the way up: a state is entered at its level, without the margin")           \
  X(BAL1_BALLOONED_FRAMES_KEPT, "BAL-1", "builtin:2", REF_TWIN_LIAR,                               \
    "ballooned pages are counted as given back while their frames stay resident")                 \
  X(BAL2_MAXMEMCTL_IGNORED, "BAL-2", "builtin:2", REF_TWIN_BROKEN,                                 \
    "sched.mem.maxmemctl is not applied to the balloon's cap")                                    \
  X(BAL3_SIZE_REPORTS_TARGET, "BAL-3", "builtin:2", REF_TWIN_LIAR,                                 \
    "ballooned_pages reports the host's target, not what the driver gave")                        \
  X(SWAP1_FILE_SIZE_IGNORES_RESERVATION, "SWAP-1", "builtin:2", REF_TWIN_BROKEN,                   \
    "the swap file is sized to the configured memory, reservation not subtracted")                \
  X(SWAP1_FILE_LEFT_AT_POWER_OFF, "SWAP-1", "builtin:2", REF_TWIN_BROKEN,                          \
    "power-off closes the swap file but leaves it behind")                                        \
  X(SWAP2_VICTIMS_FROM_THE_FIRST_PAGE, "SWAP-2", "builtin:2", REF_TWIN_BROKEN,                     \
    "swap victims are taken from the first pages of the VM, not at random")                       \
  X(SWAP3_SWAPS_IN_SOFT_STATE, "SWAP-3", "builtin:2", REF_TWIN_BROKEN,                             \
    "host swapping joins ballooning in the soft state, before the balloon had its chance")        \
  X(SWAP3_HARD_STATE_SWAPS_REGARDLESS, "SWAP-3", "builtin:2", REF_TWIN_BROKEN,                    \
    "in the hard state every VM above target is swapped, even one whose balloon keeps up")       \
  X(ZIP1_CACHE_CAP_IGNORED, "ZIP-1", "builtin:2", REF_TWIN_BROKEN,                                 \
    "Mem.MemZipMaxPct is not applied: the compression cache grows without cap")                  \
  X(INT1_FAILED_SWAP_WRITE_IGNORED, "INT-1", "builtin:2", REF_TWIN_BROKEN,                         \
    "a failed swap write is taken as written: the page's data is lost")                           \
  X(SEC1_FRAMES_NOT_ZEROED, "SEC-1", "builtin:2", REF_TWIN_BROKEN,                                 \
    "a freed frame goes back to the free list without being punched: reused unzeroed")            \
  X(SEC2_SWAP_FILE_WORLD_READABLE, "SEC-2", "builtin:2", REF_TWIN_BROKEN,                          \
    "swap files are made with mode 0644")

/* clang-format on */

#ifdef REF_TWINS
enum ref_twin_id {
  REF_TWIN_ID_NONE = 0,
#define REF_TWIN_ENUM(name, spec, topo, kind, how) REF_TWIN_ID_##name,
  REF_TWIN_LIST(REF_TWIN_ENUM)
#undef REF_TWIN_ENUM
      REF_TWIN_ID_COUNT
};
/* The twin this process runs as (tests/twins/twin.c); REF_TWIN_ID_NONE = the
 * reference. Set once, before any host exists. */
extern int ref_twin_active;
#define REF_TWIN(name) (ref_twin_active == REF_TWIN_ID_##name)
#define REF_TWIN_CONST /* the contract table: twin.c writes the twin's name */
#else
#define REF_TWIN(name) 0
#define REF_TWIN_CONST const
#endif

#endif
