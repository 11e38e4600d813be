/*
 * settings.c — the settings table and its range-checked accessors (SET-1, SET-2).
 *
 * Names, defaults and ranges of the documented settings are exactly doc/spec.md's
 * table. Where doc/spec.md gives only a lower bound ("≥1") the upper bound is ours
 * and the meaning says so. Rows named "Ref.*" are the reference
 * implementation's own tunables, marked "(ours)". Invariants: see settings.h.
 */
#include "settings.h"
#include "mmc_units.h"
#include "twin.h"

#include <stdio.h>
#include <string.h>

#define BOTH(x)                                                                                    \
  { (x), (x) }

/* Indexed by ref_setting_id_t: ref_settings_table_check verifies the order. */
static const ref_setting_def_t table[REF_SET_COUNT] = {
    {REF_SET_NUMA_REBALANCE_ENABLE, "Numa.RebalanceEnable", BOTH(1), 0, 1, "",
     "0 disables rebalancing and initial placement"},
    {REF_SET_NUMA_REBALANCE_PERIOD, "Numa.RebalancePeriod", BOTH(2000), 100, 60000, "ms",
     "period of the NUMA rebalancer"},
    {REF_SET_NUMA_MIG_IMBALANCE_THRESHOLD, "Numa.MigImbalanceThreshold", BOTH(10), 1, 200, "%",
     "minimum CPU imbalance between nodes to move a VM"},
    {REF_SET_NUMA_REBALANCE_CORES_TOTAL, "Numa.RebalanceCoresTotal", BOTH(4), 1, 32, "",
     "fewer host cores than this turns the rebalancer off"},
    {REF_SET_NUMA_REBALANCE_CORES_NODE, "Numa.RebalanceCoresNode", BOTH(2), 1, 8, "",
     "fewer cores per node than this turns the rebalancer off"},
    {REF_SET_NUMA_PAGE_MIG_ENABLE, "Numa.PageMigEnable", BOTH(1), 0, 1, "",
     "migrate pages toward the home node"},
    {REF_SET_NUMA_PAGE_MIG_RATE_MAX, "Numa.PageMigRateMax", BOTH(8000), 0, 250000, "pages/s",
     "cap of the page migration rate (unit assumed)"},
    {REF_SET_NUMA_MIG_THRESHOLD, "Numa.MigThreshold", BOTH(2), 0, 100, "%",
     "minimum improvement for one migration"},
    {REF_SET_NUMA_MIG_THRASH_THRESHOLD, "Numa.MigThrashThreshold", BOTH(50), 0, 100, "%",
     "max post-move imbalance as % of the pre-move imbalance (anti-thrash)"},
    {REF_SET_NUMA_LOCALITY_WEIGHT_MEM, "Numa.LocalityWeightMem", BOTH(1), 0, 100, "",
     "benefit of +1 % memory locality"},
    {REF_SET_NUMA_SWAP_INTERVAL, "Numa.SwapInterval", BOTH(3), 1, 10000, "",
     "rebalancer periods between considerations of VM swaps between nodes"},
    {REF_SET_NUMA_LATENCY_PROBE_PERIOD, "Numa.LatencyProbePeriod", BOTH(500), 10, 100000, "ms",
     "internode latency re-probe interval"},
    {REF_SET_MEM_SHARE_SCAN_TIME, "Mem.ShareScanTime", BOTH(60), 10, 600, "min",
     "time to scan a whole VM once for page sharing"},
    {REF_SET_MEM_SHARE_SCAN_GHZ, "Mem.ShareScanGHz", BOTH(4), 0, 32, "MB/s/GHz",
     "host page-sharing scan budget per GHz of CPU; 0 disables sharing"},
    {REF_SET_MEM_SHARE_RATE_MAX, "Mem.ShareRateMax", BOTH(1024), 0, 32768, "pages/s",
     "per-VM page-sharing scan cap; 0 disables"},
    {REF_SET_MEM_SHARE_FORCE_SALTING, "Mem.ShareForceSalting", BOTH(2), 0, 2, "",
     "who may share with whom: 0 salts ignored, 1 configured salt, 2 per-VM unique salt"},
    {REF_SET_MEM_IDLE_TAX, "Mem.IdleTax", BOTH(75), 0, 99, "%", "idle memory tax rate"},
    {REF_SET_MEM_IDLE_TAX_TYPE, "Mem.IdleTaxType", BOTH(1), 0, 1, "",
     "idle tax: 0 flat, 1 variable (progressive)"},
    {REF_SET_MEM_SAMPLE_PERIOD,
     "Mem.SamplePeriod",
     {60, 30},
     1,
     3600,
     "s",
     "working-set sample period in VM execution time (max 3600 is ours)"},
    {REF_SET_MEM_SAMPLE_ACTIVE_PCT_MIN, "Mem.SampleActivePctMin", BOTH(1), 0, 10, "%",
     "floor of the active-memory estimate"},
    {REF_SET_MEM_BALANCE_PERIOD, "Mem.BalancePeriod", BOTH(15), 1, 3600, "s",
     "memory reallocation period (max 3600 is ours)"},
    {REF_SET_MEM_CTL_MAX_PERCENT, "Mem.CtlMaxPercent", BOTH(65), 0, 99, "%",
     "balloon cap as % of configured memory; 0 disables ballooning"},
    {REF_SET_MEM_MIN_FREE_PCT, "Mem.MemMinFreePct", BOTH(0), 0, 50, "%",
     "minFree as % of memory; 0 = sliding scale"},
    {REF_SET_MEM_ZIP_ENABLE, "Mem.MemZipEnable", BOTH(1), 0, 1, "", "compression cache on"},
    {REF_SET_MEM_ZIP_MAX_PCT, "Mem.MemZipMaxPct", BOTH(10), 5, 100, "%",
     "compression cache cap as % of VM memory"},
    {REF_SET_REF_EVENT_RING_SIZE, "Ref.EventRingSize", BOTH(65536), 64, 16777216, "",
     "events kept for events_read; a change keeps the newest events (ours)"},
    {REF_SET_REF_PLACEMENT_EXACT_SETS, "Ref.PlacementExactSets", BOTH(4096), 1, 1000000, "",
     "largest count of node sets searched exhaustively for a wide VM; above it a greedy "
     "search (ours)"},
    {REF_SET_REF_MOVE_BATCH_PAGES, "Ref.MoveBatchPages", BOTH(512), 1, 65536, "",
     "pages per remap batch of move_range: one quiescence wait per batch (ours)"},
    {REF_SET_REF_MOVE_RETRIES, "Ref.MoveRetries", BOTH(3), 0, 100, "",
     "extra attempts of a move_range batch whose pages vCPUs were using (ours)"},
    {REF_SET_REF_VCPU_DEMAND_DEFAULT, "Ref.VcpuDemandDefault", BOTH(1000), 0, 1000, "permille",
     "CPU demand assumed for a vCPU until it declares or is measured otherwise (ours)"},
    /* ---- reclamation: memstate.c, balloon.c, swap.c */
    {REF_SET_REF_RECLAIM_PERIOD, "Ref.ReclaimPeriod", BOTH(100), 10, 10000, "ms",
     "period of the free-memory state check, balloon targets and host swapping (ours)"},
    {REF_SET_REF_LOW_BLOCK_TIMEOUT, "Ref.LowBlockTimeout", BOTH(5000), 0, 600000, "ms",
     "longest a vCPU blocked for memory (above target in the low state, or every pool it "
     "may use full) waits before its access fails (live clock) (ours)"},
    {REF_SET_REF_SWAP_RATE, "Ref.SwapRate", BOTH(262144), 1, 16777216, "pages/s",
     "cap of host swapping plus compression per VM (ours)"},
    {REF_SET_REF_SWAP_CLUSTER_PAGES, "Ref.SwapClusterPages", BOTH(64), 1, 1024, "pages",
     "pages written to a swap file by one pwrite (ours)"},
    {REF_SET_REF_BALLOON_SLOW_TIME, "Ref.BalloonSlowTime", BOTH(3), 1, 3600, "s",
     "a balloon short of its target for this long is too slow: host swapping covers the "
     "rest, SWAP-3 (ours)"},
    {REF_SET_REF_SWAP_PREALLOCATE, "Ref.SwapPreallocate", BOTH(0), 0, 1, "",
     "1: swap files are fully allocated at power-on (fallocate); 0: sparse, after a "
     "free-space check (ours)"},
    /* Working-set sampling and allocation targets (wss.h documents the gains). */
    {REF_SET_REF_WSS_SAMPLE_PAGES, "Ref.WssSamplePages", BOTH(100), 1, 10000, "pages",
     "guest pages invalidated per working-set sample period, n (OSDI02: 100) (ours)"},
    {REF_SET_REF_WSS_FAST_GAIN, "Ref.WssFastGain", BOTH(75), 1, 100, "%",
     "gain of the fast working-set average: responds to increases within about one period "
     "(ours)"},
    {REF_SET_REF_WSS_SLOW_GAIN, "Ref.WssSlowGain", BOTH(25), 1, 100, "%",
     "gain of the slow working-set average, at most the fast gain: decays over several "
     "periods (ours)"},
    {REF_SET_REF_WSS_INITIAL_ACTIVE, "Ref.WssInitialActive", BOTH(100), 0, 100, "%",
     "working-set estimate of a VM at power-on, before any period completed (ours)"},
    {REF_SET_REF_WSS_TICK, "Ref.WssTick", BOTH(100), 10, 10000, "ms",
     "period of the hook that accounts VM execution time and closes sample periods (ours)"},
    /* migrate.c: the page-migration engine */
    {REF_SET_REF_MIGRATE_TICK, "Ref.MigrateTick", BOTH(100), 1, 10000, "ms",
     "period of the page-migration engine; each tick moves what Numa.PageMigRateMax allows "
     "for the tick (ours)"},
    {REF_SET_REF_MIGRATE_BATCH_PAGES, "Ref.MigrateBatchPages", BOTH(256), 1, 65536, "",
     "pages per migration batch: one quiescence wait per batch (ours)"},
    {REF_SET_REF_MIGRATE_RETRIES, "Ref.MigrateRetries", BOTH(3), 0, 100, "",
     "extra attempts, within a tick, of batch pages vCPUs were using, and extra "
     "passes over a VM's memory while they make progress (ours)"},
    {REF_SET_REF_MIGRATE_UNTHROTTLED, "Ref.MigrateUnthrottled", BOTH(0), 0, 1, "",
     "1: migrate every remote page at the next tick, no cap, ramp or slow-down; for the "
     "migration benchmark (ours)"},
    /* share.c: page sharing */
    {REF_SET_REF_SHARE_TICK, "Ref.ShareTick", BOTH(1000), 10, 60000, "ms",
     "period of the page-sharing scanner's runs; the pacing settings spread the scan over "
     "them (ours)"},
    {REF_SET_REF_SHARE_HASH_BITS, "Ref.ShareHashBits", BOTH(64), 1, 64, "",
     "bits of the XXH3 page hash kept; below 64 forces hash collisions, for tests of "
     "TPS-1 (ours)"},
    {REF_SET_REF_SHARE_SCAN_BLOCK, "Ref.ShareScanBlock", BOTH(512), 1, 4096, "pages",
     "the scanner visits blocks of this many consecutive guest pages in random order; 1 = "
     "single pages (ours)"},
    {REF_SET_REF_SHARE_SCAN_TIME_UNIT_MS, "Ref.ShareScanTimeUnitMs", BOTH(60000), 1, 60000, "ms",
     "length of one unit of Mem.ShareScanTime: 60000 (a minute) as documented; smaller values "
     "shorten a scan pass for quick live-clock runs, whose real time cannot wait 10 minutes "
     "(ours)"},
    {REF_SET_REF_SAMPLE_PERIOD_UNIT_MS, "Ref.SamplePeriodUnitMs", BOTH(1000), 1, 1000, "ms",
     "length of one unit of Mem.SamplePeriod: 1000 (a second) as documented; smaller values "
     "shorten working-set periods for quick live-clock runs, whose real time a minimum of one "
     "second per period makes long (ours)"},
};

const ref_vm_option_defaults_t ref_vm_defaults = {
    .shares_per_mb_low = 5,
    .shares_per_mb_normal = 10,
    .shares_per_mb_high = 20,
    .vcpu_min = 9,
    .max_per_vnode = 8,
};

static const char *const profile_names[REF_PROFILE_COUNT] = {"esxi-6.7", "osdi02"};

int ref_profile_parse(const char *name, ref_profile_t *out, mmc_error_t *err) {
  if (!name || !*name) {
    *out = REF_PROFILE_ESXI67;
    return 0;
  }
  for (int p = 0; p < REF_PROFILE_COUNT; p++) {
    if (strcmp(name, profile_names[p]) == 0) {
      *out = (ref_profile_t)p;
      return 0;
    }
  }
  return mmc_fail(err, MMC_EINVAL, "profile \"%s\" is unknown: use esxi-6.7 or osdi02", name);
}

const ref_setting_def_t *ref_setting_def(ref_setting_id_t id) {
  return id < REF_SET_COUNT ? &table[id] : NULL;
}

void ref_settings_init(ref_settings_t *s, ref_profile_t profile) {
  s->profile = profile;
  for (int i = 0; i < REF_SET_COUNT; i++)
    atomic_init(&s->v[i], table[i].def[profile]);
  if (REF_TWIN(SALT2_HOST_STARTS_AT_FORCE_SALTING_1)) /* twin: the pre-2015 default */
    atomic_store(&s->v[REF_SET_MEM_SHARE_FORCE_SALTING], 1);
}

int ref_settings_lookup(const char *name, ref_setting_id_t *out, mmc_error_t *err) {
  if (!name)
    return mmc_fail(err, MMC_ENOENT, "setting name is missing (NULL)");
  for (int i = 0; i < REF_SET_COUNT; i++) {
    if (strcmp(name, table[i].name) == 0) {
      *out = (ref_setting_id_t)i;
      return 0;
    }
  }
  return mmc_fail(err, MMC_ENOENT, "unknown setting \"%s\" (names are case-sensitive, e.g. %s)",
                  name, table[REF_SET_NUMA_REBALANCE_PERIOD].name);
}

int ref_settings_check(ref_setting_id_t id, int64_t value, mmc_error_t *err) {
  const ref_setting_def_t *d = ref_setting_def(id);
  if (!d)
    return mmc_fail(err, MMC_ENOENT, "setting id %d does not exist", (int)id);
  int64_t max = REF_TWIN(SET1_RANGE_OFF_BY_ONE) ? d->max + 1 : d->max;
  if (value < d->min || value > max)
    return mmc_fail(err, MMC_ERANGE, "%s: %lld is out of range %lld..%lld%s%s", d->name,
                    (long long)value, (long long)d->min, (long long)d->max, *d->unit ? " " : "",
                    d->unit);
  return 0;
}

int ref_settings_set_id(ref_settings_t *s, ref_setting_id_t id, int64_t value, mmc_error_t *err) {
  int rc = ref_settings_check(id, value, err);
  if (rc)
    return rc;
  atomic_store_explicit(&s->v[id], value, memory_order_relaxed);
  return 0;
}

int ref_settings_set(ref_settings_t *s, const char *name, int64_t value, mmc_error_t *err) {
  ref_setting_id_t id;
  int rc = ref_settings_lookup(name, &id, err);
  if (rc)
    return rc;
  return ref_settings_set_id(s, id, value, err);
}

int ref_settings_info(const ref_settings_t *s, size_t index, mmc_setting_info_t *out) {
  if (index >= REF_SET_COUNT)
    return MMC_ENOENT;
  const ref_setting_def_t *d = &table[index];
  *out = (mmc_setting_info_t){.name = d->name,
                              .default_value = d->def[s->profile],
                              .min = d->min,
                              .max = d->max,
                              .unit = d->unit,
                              .meaning = d->meaning};
  return 0;
}

uint64_t ref_settings_period_ns(const ref_settings_t *s, ref_setting_id_t id) {
  const ref_setting_def_t *d = ref_setting_def(id);
  if (!d)
    return 0;
  uint64_t v = (uint64_t)ref_settings_get(s, id);
  if (strcmp(d->unit, "ms") == 0)
    return v * MMC_NS_PER_MS;
  if (strcmp(d->unit, "s") == 0)
    return v * MMC_NS_PER_S;
  if (strcmp(d->unit, "min") == 0)
    return v * 60ull * MMC_NS_PER_S;
  return 0;
}

bool ref_settings_table_check(char *why, size_t whylen) {
  for (int i = 0; i < REF_SET_COUNT; i++) {
    const ref_setting_def_t *d = &table[i];
    if ((int)d->id != i || !d->name || !*d->name || !d->unit || !d->meaning || !*d->meaning) {
      snprintf(why, whylen, "row %d: id, name, unit or meaning wrong or missing", i);
      return false;
    }
    if (d->min > d->max) {
      snprintf(why, whylen, "%s: min %lld > max %lld", d->name, (long long)d->min,
               (long long)d->max);
      return false;
    }
    for (int p = 0; p < REF_PROFILE_COUNT; p++) {
      if (d->def[p] < d->min || d->def[p] > d->max) {
        snprintf(why, whylen, "%s: default %lld of profile %s outside %lld..%lld", d->name,
                 (long long)d->def[p], profile_names[p], (long long)d->min, (long long)d->max);
        return false;
      }
    }
    for (int j = 0; j < i; j++) {
      if (strcmp(table[j].name, d->name) == 0) {
        snprintf(why, whylen, "%s: name appears twice (rows %d and %d)", d->name, j, i);
        return false;
      }
    }
  }
  return true;
}
