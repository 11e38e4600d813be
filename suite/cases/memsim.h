/*
 * memsim.h — stepped scenarios for the working-set and allocation cases
 * (suite/cases/wss.c, suite/cases/idletax.c; WSS-1..4, ALLOC-2..6): a host
 * on the run's topology capped to a small size (so "a host that cannot hold
 * every VM" is cheap), VMs running working-set workloads with exact ground
 * truth (workloads/workload.h), and a stepped loop that steps the running
 * VMs, advances the clock and lets the case observe after every tick.
 *
 * Periods: quick mode SETS Mem.SamplePeriod and Mem.BalancePeriod to short
 * values (MS_QUICK_*); full mode leaves the profile's documented defaults.
 * The case reads both back (cu_setting) and scales its durations by them,
 * so the same case body runs in both modes. Prefix ms_. Everything is
 * deterministic from the run's seed.
 *
 * Live clock (WSS-1..3): the host runs its own threads; settings it does
 * not honour are left alone (only Mem.SamplePeriod matters there), and
 * quick mode shortens a period further where the implementation counts
 * Mem.SamplePeriod in units of Ref.SamplePeriodUnitMs (MS_LIVE_UNIT_MS,
 * with its hook Ref.WssTick at a tenth of that). A VM runs on its own vCPU
 * threads at full demand (ms_run_live) and its execution time is probed as
 * those threads' CPU time (the workloads' cpu_ns): a period of "VM
 * execution time" is judged on that, never on the wall clock, whatever
 * else the machine runs. The case observes each VM at every tick of its
 * own execution time (a quarter period, as stepped).
 */
#ifndef SUITE_MEMSIM_H
#define SUITE_MEMSIM_H

#include <stdbool.h>
#include <stdint.h>

#include "case_util.h"
#include "mmc_topology.h"
#include "workload.h"

#define MS_MAX_VMS 8u
#define MS_MIB (1024ull * 1024ull)
#define MS_QUICK_SAMPLE_PERIOD_S 1  /* Mem.SamplePeriod in quick mode (its minimum) */
#define MS_QUICK_BALANCE_PERIOD_S 2 /* Mem.BalancePeriod in quick mode */
#define MS_TICKS_PER_PERIOD 4u      /* workload steps per sample period */
#define MS_LIVE_UNIT_MS 100         /* Ref.SamplePeriodUnitMs in quick live runs */

typedef struct ms_env {
  suite_ctx_t *c;
  const mmc_impl_t *im;
  mmt_topology_t *topo;
  mmc_host_t *h;
  uint64_t cap_bytes; /* host memory after capping */
  uint64_t sp_ns;     /* Mem.SamplePeriod */
  uint64_t bp_ns;     /* Mem.BalancePeriod */
  uint64_t tick_ns;   /* sp / MS_TICKS_PER_PERIOD */
  size_t n;
  wl_vm_t *vm[MS_MAX_VMS];
  mmc_vm_config_t cfg[MS_MAX_VMS];
  bool running[MS_MAX_VMS]; /* vCPUs entered and stepped (live: run by ms_run_live) */
  mmc_clock_mode_t clock;
} ms_env_t;

/* Host on the run's topology capped to host_mib, stepped clock, quick-mode
 * periods, then `extra` settings. Broken on failure. */
void ms_host(ms_env_t *e, suite_ctx_t *c, uint64_t host_mib, const mmc_setting_value_t *extra,
             size_t nextra);
/* Power on a VM of `mib` MB with `shares` running the working-set workload
 * `ws` (vCPUs entered: running). Returns its index in e->vm. */
size_t ms_vm(ms_env_t *e, const char *name, uint64_t mib, int64_t shares, const wl_ws_cfg_t *ws);
/* Stop (exit every vCPU: the VM executes nothing) / start it again. */
void ms_stop(ms_env_t *e, size_t i);
void ms_start(ms_env_t *e, size_t i);
/* Called after each tick's advance, with the host clock. */
typedef void (*ms_observe_fn)(ms_env_t *e, uint64_t now_ns, void *arg);
/* Run for `duration_ns` in ticks: step every running VM, advance by one
 * tick, observe. */
void ms_run(ms_env_t *e, uint64_t duration_ns, ms_observe_fn fn, void *arg);
/* Live: run the running VMs on their own vCPU threads until each has
 * executed `periods` sample periods more (its threads' CPU time); fn (may
 * be NULL) is called for VM i at every tick of its execution time. */
typedef void (*ms_live_fn)(ms_env_t *e, size_t i, void *arg);
void ms_run_live(ms_env_t *e, unsigned periods, ms_live_fn fn, void *arg);
/* Live: VM i's execution time as probed (its vCPU threads' CPU time, per
 * vCPU). */
uint64_t ms_cpu_ns(ms_env_t *e, size_t i);
/* Live: hold VM i's vCPUs entered by a thread that runs nothing (the VM is
 * on but idle) until ms_idle_exit. */
void ms_idle_enter(ms_env_t *e, size_t i);
void ms_idle_exit(ms_env_t *e);
/* Live: wait `ns` of real time (the VM stopped or idle: nothing to probe
 * but that nothing happens). */
void ms_wait(ms_env_t *e, uint64_t ns);
mmc_vm_stats_t ms_stats(ms_env_t *e, size_t i);
/* The cases judge documented quantities the implementation reports (its
 * working-set estimate, its allocation targets, its sampling counts): no
 * probe sees them. False (the case's check not shown) when VM i's
 * statistics mark one of `bits` unobserved. */
bool ms_reported(ms_env_t *e, size_t i, uint64_t bits, const char *what);
void ms_set(ms_env_t *e, const char *name, int64_t value);
/* True fraction of VM i's pages its workload touches at host time now. */
double ms_true_frac(ms_env_t *e, size_t i, uint64_t now_ns);
/* Pages to MiB, for metrics. */
double ms_mib(uint64_t pages);
/* Shut every VM down, destroy the host, free the topology. */
void ms_free(ms_env_t *e);

#endif
