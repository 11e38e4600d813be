/*
 * settings.c — the Linux implementation's one settings table (SET-1, SET-2).
 *
 * Every advanced setting of SPEC.md is a row with its documented name,
 * default (per profile), range and unit, whether or not Linux has it: the
 * suite lists them all through setting_info. A row Linux cannot honour
 * carries the sentence saying why ("Linux has no ..."), and setting_set,
 * setting_get and host_create answer MMC_ENOTSUP with it: a value that
 * changes nothing is not accepted as if it did. Four documented settings map
 * onto a kernel mechanism and are honoured:
 *   Numa.RebalanceEnable  kernel.numa_balancing (hosts of two or more nodes)
 *   Mem.ShareScanGHz      ksmd's pages_to_scan per sleep_millisecs; 0 = off
 *   Mem.SamplePeriod      the window of the working-set observation
 *   Mem.MemZipEnable      zswap in front of the swap files
 * Rows named "Linux.*" are this implementation's own and say "(ours)".
 *
 * Invariants (lx_settings_table_check, run by test_linux_settings): ids in
 * table order, unique names, min <= default <= max in every profile, a
 * meaning on every row; a rejected value leaves the stored one unchanged
 * (the host stores only after lx_setting_check passed).
 */
#include <stdio.h>
#include <string.h>

#include "lx.h"

#define BOTH(x)                                                                                    \
  { (x), (x) }

static const char no_rebalancer[] =
    "Linux has no fixed-period NUMA rebalancer: the scheduler balances load all the time and "
    "automatic NUMA balancing moves tasks and pages by sampled hinting faults";

static const lx_setting_def_t table[LX_SET_COUNT] = {
    {LX_SET_NUMA_REBALANCE_ENABLE, "Numa.RebalanceEnable", BOTH(1), 0, 1, "",
     "automatic NUMA balancing (kernel.numa_balancing) on hosts of two or more nodes; 0 off", NULL},
    {LX_SET_NUMA_REBALANCE_PERIOD, "Numa.RebalancePeriod", BOTH(2000), 100, 60000, "ms",
     "period of the NUMA rebalancer", no_rebalancer},
    {LX_SET_NUMA_MIG_IMBALANCE_THRESHOLD, "Numa.MigImbalanceThreshold", BOTH(10), 1, 200, "%",
     "minimum CPU imbalance between nodes to move a VM",
     "Linux has no imbalance threshold for moving a VM: the scheduler's load balancer and NUMA "
     "balancing decide by their own heuristics"},
    {LX_SET_NUMA_REBALANCE_CORES_TOTAL, "Numa.RebalanceCoresTotal", BOTH(4), 1, 32, "",
     "fewer host cores than this turns the rebalancer off",
     "Linux has no core-count condition for NUMA balancing"},
    {LX_SET_NUMA_REBALANCE_CORES_NODE, "Numa.RebalanceCoresNode", BOTH(2), 1, 8, "",
     "fewer cores per node than this turns the rebalancer off",
     "Linux has no per-node core-count condition for NUMA balancing"},
    {LX_SET_NUMA_PAGE_MIG_ENABLE, "Numa.PageMigEnable", BOTH(1), 0, 1, "",
     "migrate pages toward the home node",
     "Linux has no switch for NUMA balancing's page migration apart from its task placement "
     "(kernel.numa_balancing switches both: Numa.RebalanceEnable)"},
    {LX_SET_NUMA_PAGE_MIG_RATE_MAX, "Numa.PageMigRateMax", BOTH(8000), 0, 250000, "pages/s",
     "cap of the page migration rate",
     "Linux has no rate cap for NUMA balancing's migrations (the promotion rate limit applies "
     "to memory tiering only)"},
    {LX_SET_NUMA_MIG_THRESHOLD, "Numa.MigThreshold", BOTH(2), 0, 100, "%",
     "minimum improvement for one migration",
     "Linux has no minimum-improvement threshold for moving a VM"},
    {LX_SET_NUMA_MIG_THRASH_THRESHOLD, "Numa.MigThrashThreshold", BOTH(50), 0, 100, "%",
     "max post-move imbalance as % of the pre-move imbalance",
     "Linux has no anti-thrash threshold of this kind"},
    {LX_SET_NUMA_LOCALITY_WEIGHT_MEM, "Numa.LocalityWeightMem", BOTH(1), 0, 100, "",
     "benefit of +1 % memory locality",
     "Linux has no locality weight: NUMA balancing weighs hinting faults by its own rules"},
    {LX_SET_NUMA_SWAP_INTERVAL, "Numa.SwapInterval", BOTH(3), 1, 10000, "",
     "rebalancer periods between considerations of VM swaps between nodes",
     "Linux has no periodic swap of two VMs between nodes (NUMA balancing may swap two tasks "
     "on its own)"},
    {LX_SET_NUMA_LATENCY_PROBE_PERIOD, "Numa.LatencyProbePeriod", BOTH(500), 10, 100000, "ms",
     "internode latency re-probe interval",
     "Linux reads internode distances once from the firmware table (SLIT) and never probes "
     "latency"},
    {LX_SET_MEM_SHARE_SCAN_TIME, "Mem.ShareScanTime", BOTH(60), 10, 600, "min",
     "time to scan a whole VM once for page sharing",
     "Linux has no per-VM scan time: ksmd scans all mergeable memory at one machine-wide rate"},
    {LX_SET_MEM_SHARE_SCAN_GHZ, "Mem.ShareScanGHz", BOTH(4), 0, 32, "MB/s/GHz",
     "ksmd's rate: pages_to_scan per sleep_millisecs = this x the CPU's GHz; 0 disables "
     "sharing (VMs unmerged)",
     NULL},
    {LX_SET_MEM_SHARE_RATE_MAX, "Mem.ShareRateMax", BOTH(1024), 0, 32768, "pages/s",
     "per-VM page-sharing scan cap",
     "Linux has no per-VM scan cap: ksmd's rate (pages_to_scan) is machine-wide"},
    {LX_SET_MEM_SHARE_FORCE_SALTING, "Mem.ShareForceSalting", BOTH(2), 0, 2, "",
     "who may share with whom",
     "Linux has no page-sharing salt: KSM merges identical pages of any two mergeable areas"},
    {LX_SET_MEM_IDLE_TAX, "Mem.IdleTax", BOTH(75), 0, 99, "%", "idle memory tax rate",
     "Linux has no idle memory tax"},
    {LX_SET_MEM_IDLE_TAX_TYPE, "Mem.IdleTaxType", BOTH(1), 0, 1, "", "idle tax: 0 flat, 1 variable",
     "Linux has no idle memory tax"},
    {LX_SET_MEM_SAMPLE_PERIOD,
     "Mem.SamplePeriod",
     {60, 30},
     1,
     3600,
     "s",
     "window of the working-set observation: pages the kernel found referenced in it "
     "(max 3600 is ours)",
     NULL},
    {LX_SET_MEM_SAMPLE_ACTIVE_PCT_MIN, "Mem.SampleActivePctMin", BOTH(1), 0, 10, "%",
     "floor of the active-memory estimate",
     "Linux has no floor of its working-set observation: it reports what was referenced"},
    {LX_SET_MEM_BALANCE_PERIOD, "Mem.BalancePeriod", BOTH(15), 1, 3600, "s",
     "memory reallocation period (max 3600 is ours)",
     "Linux has no periodic reallocation of memory targets"},
    {LX_SET_MEM_CTL_MAX_PERCENT, "Mem.CtlMaxPercent", BOTH(65), 0, 99, "%",
     "balloon cap as % of configured memory",
     "Linux has no balloon cap: a balloon holds what the host asks, and the kernel never asks"},
    {LX_SET_MEM_MIN_FREE_PCT, "Mem.MemMinFreePct", BOTH(0), 0, 50, "%", "minFree as % of memory",
     "Linux has no minFree of this kind: kswapd reclaims between each zone's min/low/high "
     "watermarks (vm.min_free_kbytes)"},
    {LX_SET_MEM_ZIP_ENABLE, "Mem.MemZipEnable", BOTH(1), 0, 1, "",
     "zswap (a compressed cache in front of swap) on while this host swaps", NULL},
    {LX_SET_MEM_ZIP_MAX_PCT, "Mem.MemZipMaxPct", BOTH(10), 5, 100, "%",
     "compression cache cap as % of VM memory",
     "Linux has no per-VM compression cap: zswap's max_pool_percent caps the whole machine's "
     "pool"},
    /* ---- ours */
    {LX_SET_EVENT_RING_SIZE, "Linux.EventRingSize", BOTH(65536), 64, 16777216, "",
     "events kept for events_read; read at host creation (ours)", NULL},
    {LX_SET_PRESSURE_PERIOD, "Linux.PressurePeriod", BOTH(100), 10, 10000, "ms",
     "period of the check of resident guest memory against the host's memory, whose excess is "
     "paged out (ours: the kernel has no policy for a host smaller than the machine)",
     NULL},
    {LX_SET_OBSERVE_PERIOD, "Linux.ObservePeriod", BOTH(100), 10, 10000, "ms",
     "period of the observation of KSM merges per VM, reported as MMC_EV_SHARE (ours)", NULL},
    {LX_SET_MOVE_BATCH_PAGES, "Linux.MoveBatchPages", BOTH(4096), 1, 65536, "pages",
     "pages per move_pages(2) call when a binding change or move_range migrates memory; one "
     "MMC_EV_MIGRATION_BATCH each (ours)",
     NULL},
    {LX_SET_KSM_SLEEP_MS, "Linux.KsmSleepMillisecs", BOTH(20), 1, 10000, "ms",
     "ksmd's sleep_millisecs while a host with sharing exists (the kernel's default; ours)", NULL},
};

static const char *const profile_names[LX_PROFILE_COUNT] = {"esxi-6.7", "osdi02"};

int lx_profile_parse(const char *name, lx_profile_t *out, mmc_error_t *err) {
  if (!name || !*name) {
    *out = LX_PROFILE_ESXI67;
    return 0;
  }
  for (int p = 0; p < LX_PROFILE_COUNT; p++)
    if (!strcmp(name, profile_names[p])) {
      *out = (lx_profile_t)p;
      return 0;
    }
  return mmc_fail(err, MMC_EINVAL, "profile \"%s\" is unknown: use esxi-6.7 or osdi02", name);
}

const lx_setting_def_t *lx_setting_def(lx_setting_id_t id) {
  return (unsigned)id < LX_SET_COUNT ? &table[id] : NULL;
}

int lx_setting_lookup(const char *name, lx_setting_id_t *out, mmc_error_t *err) {
  if (!name)
    return mmc_fail(err, MMC_ENOENT, "setting name is missing (NULL)");
  for (int i = 0; i < LX_SET_COUNT; i++)
    if (!strcmp(name, table[i].name)) {
      *out = (lx_setting_id_t)i;
      return 0;
    }
  return mmc_fail(err, MMC_ENOENT, "unknown setting \"%s\" (names are case-sensitive, e.g. %s)",
                  name, table[LX_SET_MEM_SHARE_SCAN_GHZ].name);
}

int lx_setting_check(lx_setting_id_t id, int64_t value, mmc_error_t *err) {
  const lx_setting_def_t *d = lx_setting_def(id);
  if (!d)
    return mmc_fail(err, MMC_ENOENT, "setting id %d does not exist", (int)id);
  if (d->unsupported)
    return mmc_fail(err, MMC_ENOTSUP, "%s: %s", d->name, d->unsupported);
  if (value < d->min || value > d->max)
    return mmc_fail(err, MMC_ERANGE, "%s: %lld is out of range %lld..%lld%s%s", d->name,
                    (long long)value, (long long)d->min, (long long)d->max, *d->unit ? " " : "",
                    d->unit);
  return 0;
}

bool lx_settings_table_check(char *why, size_t whylen) {
  for (int i = 0; i < LX_SET_COUNT; i++) {
    const lx_setting_def_t *d = &table[i];
    if ((int)d->id != i || !d->name || !*d->name || !d->unit || !d->meaning || !*d->meaning) {
      snprintf(why, whylen, "row %d: id, name, unit or meaning wrong or missing", i);
      return false;
    }
    if (!strncmp(d->name, "Linux.", 6) && !strstr(d->meaning, "ours")) {
      snprintf(why, whylen, "%s: an own setting's meaning must say \"ours\"", d->name);
      return false;
    }
    for (int p = 0; p < LX_PROFILE_COUNT; p++)
      if (d->min > d->max || d->def[p] < d->min || d->def[p] > d->max) {
        snprintf(why, whylen, "%s: default %lld of %s outside %lld..%lld", d->name,
                 (long long)d->def[p], profile_names[p], (long long)d->min, (long long)d->max);
        return false;
      }
    for (int j = 0; j < i; j++)
      if (!strcmp(table[j].name, d->name)) {
        snprintf(why, whylen, "%s appears twice (rows %d and %d)", d->name, j, i);
        return false;
      }
  }
  return true;
}
