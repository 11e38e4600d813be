/*
 * minimal.c — a tiny but correct implementation for the runner's own tests:
 * host creation and the documented settings (SPEC.md "Advanced settings"),
 * stepped clock; every other mechanism honestly returns MMC_ENOTSUP with its
 * capability flag clear. The deliberately broken variants (crash_create.c,
 * hang_create.c, wrong_default.c) include this file with one TESTIMPL_*
 * switch defined. A test asset, not an implementation to certify.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include "mmc_error.h"
#include "mmcert/impl.h"

#ifndef TESTIMPL_NAME
#define TESTIMPL_NAME "test-minimal"
#endif
#ifdef TESTIMPL_WRONG_DEFAULT
#define REBALANCE_PERIOD_DEFAULT 1000 /* deliberately not the documented 2000 */
#else
#define REBALANCE_PERIOD_DEFAULT 2000
#endif

typedef struct tsetting {
  const char *name;
  int64_t def, def_osdi02, min, max;
  const char *unit;
} tsetting_t;

static const tsetting_t table[] = {
    {"Numa.RebalanceEnable", 1, 1, 0, 1, ""},
    {"Numa.RebalancePeriod", REBALANCE_PERIOD_DEFAULT, REBALANCE_PERIOD_DEFAULT, 100, 60000, "ms"},
    {"Numa.MigImbalanceThreshold", 10, 10, 1, 200, "%"},
    {"Numa.RebalanceCoresTotal", 4, 4, 1, 32, ""},
    {"Numa.RebalanceCoresNode", 2, 2, 1, 8, ""},
    {"Numa.PageMigEnable", 1, 1, 0, 1, ""},
    {"Numa.PageMigRateMax", 8000, 8000, 0, 250000, "pages/s"},
    {"Numa.MigThreshold", 2, 2, 0, 100, "%"},
    {"Numa.MigThrashThreshold", 50, 50, 0, 100, "%"},
    {"Numa.LocalityWeightMem", 1, 1, 0, 100, ""},
    {"Numa.SwapInterval", 3, 3, 1, 10000, ""},
    {"Numa.LatencyProbePeriod", 500, 500, 10, 100000, "ms"},
    {"Mem.ShareScanTime", 60, 60, 10, 600, "min"},
    {"Mem.ShareScanGHz", 4, 4, 0, 32, "MB/s/GHz"},
    {"Mem.ShareRateMax", 1024, 1024, 0, 32768, "pages/s"},
    {"Mem.ShareForceSalting", 2, 2, 0, 2, ""},
    {"Mem.IdleTax", 75, 75, 0, 99, "%"},
    {"Mem.IdleTaxType", 1, 1, 0, 1, ""},
    {"Mem.SamplePeriod", 60, 30, 1, 3600, "s"},
    {"Mem.SampleActivePctMin", 1, 1, 0, 10, "%"},
    {"Mem.BalancePeriod", 15, 15, 1, 3600, "s"},
    {"Mem.CtlMaxPercent", 65, 65, 0, 99, "%"},
    {"Mem.MemMinFreePct", 0, 0, 0, 50, "%"},
    {"Mem.MemZipEnable", 1, 1, 0, 1, ""},
    {"Mem.MemZipMaxPct", 10, 10, 5, 100, "%"},
};
#define NSETTINGS (sizeof table / sizeof table[0])

struct mmc_host {
  bool osdi02;
  int64_t value[NSETTINGS];
  uint64_t now;
};

static int find(const char *name) {
  for (size_t i = 0; i < NSETTINGS; i++)
    if (name && !strcmp(table[i].name, name))
      return (int)i;
  return -1;
}

static int t_setting_set(mmc_host_t *h, const char *name, int64_t v, mmc_error_t *err) {
#ifdef TESTIMPL_CRASH_ON_SET
  if (name && !strcmp(name, TESTIMPL_CRASH_ON_SET))
    raise(SIGSEGV); /* mid-case: the checks reported before must survive */
#endif
  int i = find(name);
  if (i < 0)
    return mmc_fail(err, MMC_ENOENT, "%s: no such setting", name ? name : "(null)");
  if (v < table[i].min || v > table[i].max)
    return mmc_fail(err, MMC_ERANGE, "%s: %lld is out of range %lld..%lld %s", name, (long long)v,
                    (long long)table[i].min, (long long)table[i].max, table[i].unit);
  h->value[i] = v;
  return 0;
}

static int t_setting_get(mmc_host_t *h, const char *name, int64_t *v, mmc_error_t *err) {
  int i = find(name);
  if (i < 0)
    return mmc_fail(err, MMC_ENOENT, "%s: no such setting", name ? name : "(null)");
  *v = h->value[i];
  return 0;
}

__attribute__((unused)) static int t_setting_info(mmc_host_t *h, size_t index,
                                                  mmc_setting_info_t *out) {
  if (index >= NSETTINGS)
    return MMC_ENOENT;
  const tsetting_t *s = &table[index];
  *out = (mmc_setting_info_t){.name = s->name,
                              .default_value = h->osdi02 ? s->def_osdi02 : s->def,
                              .min = s->min,
                              .max = s->max,
                              .unit = s->unit,
                              .meaning = "test implementation"};
  return 0;
}

static int t_host_create(const mmc_host_config_t *cfg, mmc_host_t **out, mmc_error_t *err) {
#ifdef TESTIMPL_CRASH_CREATE
  raise(SIGSEGV); /* as a NULL dereference would, without undefined behaviour */
#endif
#ifdef TESTIMPL_HANG_CREATE
  for (;;)
    pause(); /* hangs until killed: the runner's timeout must end it */
#endif
#ifdef TESTIMPL_NOISY
  printf("noise from host_create on stdout\n"); /* must not reach the TAP */
  fflush(stdout);
#endif
  if (!cfg || !cfg->topology || cfg->topology->nnodes == 0)
    return mmc_fail(err, MMC_EINVAL, "host_create: no topology");
  if (cfg->clock != MMC_CLOCK_STEPPED)
    return mmc_fail(err, MMC_ENOTSUP, "host_create: only the stepped clock is implemented");
  bool osdi02 = cfg->profile && !strcmp(cfg->profile, "osdi02");
  if (cfg->profile && !osdi02 && strcmp(cfg->profile, "esxi-6.7"))
    return mmc_fail(err, MMC_EINVAL, "profile '%s': expected esxi-6.7 or osdi02", cfg->profile);
  mmc_host_t *h = calloc(1, sizeof *h);
  if (!h)
    return mmc_fail(err, MMC_ENOMEM, "host_create: out of memory");
  h->osdi02 = osdi02;
  for (size_t i = 0; i < NSETTINGS; i++)
    h->value[i] = osdi02 ? table[i].def_osdi02 : table[i].def;
  for (size_t i = 0; i < cfg->nsettings; i++) {
    int rc = t_setting_set(h, cfg->settings[i].name, cfg->settings[i].value, err);
    if (rc) {
      free(h);
      return rc;
    }
  }
  *out = h;
  return 0;
}

static void t_host_destroy(mmc_host_t *h) {
  free(h);
}

static int t_advance(mmc_host_t *h, uint64_t now, mmc_error_t *err) {
  if (now < h->now)
    return mmc_fail(err, MMC_ESTATE, "advance: %llu is before now %llu", (unsigned long long)now,
                    (unsigned long long)h->now);
  h->now = now;
  return 0;
}
static uint64_t t_now(mmc_host_t *h) {
  return h->now;
}

#define NOTSUP(what) mmc_fail(err, MMC_ENOTSUP, "%s: not implemented by " TESTIMPL_NAME, what)
static int t_power_on(mmc_host_t *h, const mmc_vm_config_t *c, mmc_vm_id_t *id, mmc_error_t *err) {
  return NOTSUP("vm_power_on");
}
static int t_reconfigure(mmc_host_t *h, mmc_vm_id_t vm, const mmc_vm_config_t *c,
                         mmc_error_t *err) {
  return NOTSUP("vm_reconfigure");
}
static int t_power_off(mmc_host_t *h, mmc_vm_id_t vm, mmc_error_t *err) {
  return NOTSUP("vm_power_off");
}
static int t_vcpu_enter(mmc_host_t *h, mmc_vm_id_t vm, uint32_t i, mmc_vcpu_t **o,
                        mmc_error_t *err) {
  return NOTSUP("vcpu_enter");
}
static void *t_page(mmc_vcpu_t *v, uint64_t g, bool w, mmc_error_t *err) {
  NOTSUP("page");
  return NULL;
}
static void t_quiesce(mmc_vcpu_t *v) {}
static void t_set_demand(mmc_vcpu_t *v, uint32_t p) {}
static void t_vcpu_exit(mmc_vcpu_t *v) {}
static int t_vcpu_info(mmc_host_t *h, mmc_vm_id_t vm, uint32_t i, mmc_vcpu_info_t *o,
                       mmc_error_t *err) {
  return NOTSUP("vcpu_info");
}
static int t_balloon_target(mmc_host_t *h, mmc_vm_id_t vm, uint64_t *p, mmc_error_t *err) {
  return NOTSUP("balloon_target");
}
static int t_balloon_give(mmc_host_t *h, mmc_vm_id_t vm, const uint64_t *g, size_t n,
                          mmc_error_t *err) {
  return NOTSUP("balloon_give");
}
static int t_balloon_take(mmc_host_t *h, mmc_vm_id_t vm, const uint64_t *g, size_t n,
                          mmc_error_t *err) {
  return NOTSUP("balloon_take");
}
static int t_vm_stats(mmc_host_t *h, mmc_vm_id_t vm, mmc_vm_stats_t *o, mmc_error_t *err) {
  return NOTSUP("vm_stats");
}
static int t_host_stats(mmc_host_t *h, mmc_host_stats_t *o, mmc_error_t *err) {
  return NOTSUP("host_stats");
}
static size_t t_events_read(mmc_host_t *h, uint64_t *c, mmc_event_t *b, size_t m) {
  return 0;
}

#ifndef TESTIMPL_NO_SYMBOL
__attribute__((visibility("default")))
#endif
const mmc_impl_t
#ifdef TESTIMPL_NO_SYMBOL
    not_the_contract_symbol
#else
    mmcert_impl
#endif
    = {
#ifdef TESTIMPL_ABI
        .abi_version = TESTIMPL_ABI,
#else
        .abi_version = MMCERT_ABI_VERSION,
#endif
#ifdef TESTIMPL_STRUCT_SIZE
        .struct_size = TESTIMPL_STRUCT_SIZE,
#else
        .struct_size = sizeof(mmc_impl_t),
#endif
        .name = TESTIMPL_NAME,
        .version = "0.0.1",
        .capabilities = MMC_CAP_CLOCK_STEPPED,
        .host_create = t_host_create,
        .host_destroy = t_host_destroy,
        .setting_set = t_setting_set,
        .setting_get = t_setting_get,
#ifndef TESTIMPL_NULL_FN
        .setting_info = t_setting_info,
#endif
        .advance = t_advance,
        .now = t_now,
        .vm_power_on = t_power_on,
        .vm_reconfigure = t_reconfigure,
        .vm_power_off = t_power_off,
        .vcpu_enter = t_vcpu_enter,
        .page = t_page,
        .quiesce = t_quiesce,
        .vcpu_set_demand = t_set_demand,
        .vcpu_exit = t_vcpu_exit,
        .vcpu_info = t_vcpu_info,
        .balloon_target = t_balloon_target,
        .balloon_give = t_balloon_give,
        .balloon_take = t_balloon_take,
        .vm_stats = t_vm_stats,
        .host_stats = t_host_stats,
        .events_read = t_events_read,
};
