/*
 * settings.h — the reference implementation's one settings table (SET-1, SET-2).
 *
 * Every advanced setting of doc/spec.md ("Advanced settings") is a row here with
 * its documented name, its default under each profile (esxi-6.7, osdi02), its
 * range, unit and a one-line meaning; the reference implementation's own
 * tunables follow, named "Ref.*" and marked "(ours)" in their meaning. Rows
 * are indexed by ref_setting_id_t so policies read a value with one relaxed
 * atomic load, never a string lookup. The per-VM option defaults of doc/spec.md
 * (shares per MB, numa.vcpu.min, numa.vcpu.maxPerVirtualNode) live here too.
 *
 * Invariants (checked by ref_settings_table_check, run by test_settings):
 *  - names are unique and the enum order matches the table order;
 *  - min <= default <= max for every profile;
 *  - a rejected set leaves the stored value unchanged (SET-1).
 * SET-2 (a change takes effect from the next period of the policy that reads
 * it) holds because policies read the value at the start of each period and
 * the clocks compute each next due time from the period read then.
 */
#ifndef REF_SETTINGS_H
#define REF_SETTINGS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmc_error.h"
#include "mmcert/impl.h"

typedef enum ref_profile {
  REF_PROFILE_ESXI67 = 0, /* "esxi-6.7", the default */
  REF_PROFILE_OSDI02 = 1, /* "osdi02": the paper's values where they differ */
  REF_PROFILE_COUNT
} ref_profile_t;

/* One id per row of the table, in table order. */
typedef enum ref_setting_id {
  REF_SET_NUMA_REBALANCE_ENABLE = 0,
  REF_SET_NUMA_REBALANCE_PERIOD,
  REF_SET_NUMA_MIG_IMBALANCE_THRESHOLD,
  REF_SET_NUMA_REBALANCE_CORES_TOTAL,
  REF_SET_NUMA_REBALANCE_CORES_NODE,
  REF_SET_NUMA_PAGE_MIG_ENABLE,
  REF_SET_NUMA_PAGE_MIG_RATE_MAX,
  REF_SET_NUMA_MIG_THRESHOLD,
  REF_SET_NUMA_MIG_THRASH_THRESHOLD,
  REF_SET_NUMA_LOCALITY_WEIGHT_MEM,
  REF_SET_NUMA_SWAP_INTERVAL,
  REF_SET_NUMA_LATENCY_PROBE_PERIOD,
  REF_SET_MEM_SHARE_SCAN_TIME,
  REF_SET_MEM_SHARE_SCAN_GHZ,
  REF_SET_MEM_SHARE_RATE_MAX,
  REF_SET_MEM_SHARE_FORCE_SALTING,
  REF_SET_MEM_IDLE_TAX,
  REF_SET_MEM_IDLE_TAX_TYPE,
  REF_SET_MEM_SAMPLE_PERIOD,
  REF_SET_MEM_SAMPLE_ACTIVE_PCT_MIN,
  REF_SET_MEM_BALANCE_PERIOD,
  REF_SET_MEM_CTL_MAX_PERCENT,
  REF_SET_MEM_MIN_FREE_PCT,
  REF_SET_MEM_ZIP_ENABLE,
  REF_SET_MEM_ZIP_MAX_PCT,
  /* ---- the reference implementation's own tunables (ours) */
  REF_SET_REF_EVENT_RING_SIZE,
  REF_SET_REF_PLACEMENT_EXACT_SETS,
  REF_SET_REF_MOVE_BATCH_PAGES,
  REF_SET_REF_MOVE_RETRIES,
  REF_SET_REF_VCPU_DEMAND_DEFAULT,
  /* ---- reclamation (memstate.c, balloon.c, swap.c) */
  REF_SET_REF_RECLAIM_PERIOD,
  REF_SET_REF_LOW_BLOCK_TIMEOUT,
  REF_SET_REF_SWAP_RATE,
  REF_SET_REF_SWAP_CLUSTER_PAGES,
  REF_SET_REF_BALLOON_SLOW_TIME,
  REF_SET_REF_SWAP_PREALLOCATE,
  /* ---- working-set sampling and allocation targets (wss.c, idletax.c; ours) */
  REF_SET_REF_WSS_SAMPLE_PAGES,
  REF_SET_REF_WSS_FAST_GAIN,
  REF_SET_REF_WSS_SLOW_GAIN,
  REF_SET_REF_WSS_INITIAL_ACTIVE,
  REF_SET_REF_WSS_TICK,
  /* ---- page migration (migrate.c) */
  REF_SET_REF_MIGRATE_TICK,
  REF_SET_REF_MIGRATE_BATCH_PAGES,
  REF_SET_REF_MIGRATE_RETRIES,
  REF_SET_REF_MIGRATE_UNTHROTTLED,
  /* ---- page sharing (share.c) */
  REF_SET_REF_SHARE_TICK,
  REF_SET_REF_SHARE_HASH_BITS,
  REF_SET_REF_SHARE_SCAN_BLOCK,
  REF_SET_REF_SHARE_SCAN_TIME_UNIT_MS,
  REF_SET_REF_SAMPLE_PERIOD_UNIT_MS,
  REF_SET_COUNT
} ref_setting_id_t;

/* One row: documented name, default per profile, range, unit, meaning. */
typedef struct ref_setting_def {
  ref_setting_id_t id; /* equals the row's index (checked) */
  const char *name;
  int64_t def[REF_PROFILE_COUNT];
  int64_t min;
  int64_t max;
  const char *unit;
  const char *meaning;
} ref_setting_def_t;

/* Current values of one host. Written under the host lock by
 * ref_settings_set*, read lock-free by policies (relaxed loads). */
typedef struct ref_settings {
  ref_profile_t profile;
  _Atomic int64_t v[REF_SET_COUNT];
} ref_settings_t;

/* Per-VM option defaults (doc/spec.md "Per-VM options"). */
typedef struct ref_vm_option_defaults {
  int64_t shares_per_mb_low;    /* sched.mem.shares=low: 5 per MB */
  int64_t shares_per_mb_normal; /* normal: 10 per MB */
  int64_t shares_per_mb_high;   /* high: 20 per MB */
  uint32_t vcpu_min;            /* numa.vcpu.min: 9 */
  uint32_t max_per_vnode;       /* numa.vcpu.maxPerVirtualNode: 8 */
} ref_vm_option_defaults_t;

extern const ref_vm_option_defaults_t ref_vm_defaults;

/* "esxi-6.7" (also NULL or "") or "osdi02"; MMC_EINVAL naming the allowed ones. */
int ref_profile_parse(const char *name, ref_profile_t *out, mmc_error_t *err);

/* The row for an id (never NULL for id < REF_SET_COUNT). */
const ref_setting_def_t *ref_setting_def(ref_setting_id_t id);

/* Fill every value with the profile's default. */
void ref_settings_init(ref_settings_t *s, ref_profile_t profile);

/* Name -> id; MMC_ENOENT "unknown setting NAME" for an unknown name. */
int ref_settings_lookup(const char *name, ref_setting_id_t *out, mmc_error_t *err);

/* Range-checked set (MMC_ERANGE "NAME: V is out of range MIN..MAX UNIT",
 * value kept) by id or by name (MMC_ENOENT for an unknown name). */
/* The range check alone (same error as a set), nothing stored. */
int ref_settings_check(ref_setting_id_t id, int64_t value, mmc_error_t *err);
int ref_settings_set_id(ref_settings_t *s, ref_setting_id_t id, int64_t value, mmc_error_t *err);
int ref_settings_set(ref_settings_t *s, const char *name, int64_t value, mmc_error_t *err);

/* Current value (relaxed atomic load). */
static inline int64_t ref_settings_get(const ref_settings_t *s, ref_setting_id_t id) {
  return atomic_load_explicit(&((ref_settings_t *)s)->v[id], memory_order_relaxed);
}

/* Contract view of row `index` with the profile's default; MMC_ENOENT past the end. */
int ref_settings_info(const ref_settings_t *s, size_t index, mmc_setting_info_t *out);

/* A period-type setting's current value in nanoseconds ("ms", "s", "min");
 * 0 when the setting is not a time. */
uint64_t ref_settings_period_ns(const ref_settings_t *s, ref_setting_id_t id);

/* Self-check of the table: ids in order, names unique and non-empty, min <=
 * default <= max in every profile, meaning present. false with a reason. */
bool ref_settings_table_check(char *why, size_t whylen);

#endif
