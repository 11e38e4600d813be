/*
 * numa_scen.h — scenarios of the rebalancer and migration cases (NUMA-4..7,
 * -10, -12, MIG-1..5, SET-2; prefix scen_).
 *
 * A scenario is a stepped host on a topology of the case's choosing, VMs
 * whose placement, memory location and declared CPU demand the case sets
 * exactly (placement pinned with numa.nodeAffinity at power-on, then
 * released with vm_reconfigure), driven by the workloads' stepped driver
 * (wl_run_stepped: each tick steps and quiesces every vCPU, then advances
 * the clock). Every page of a VM is written at boot by the touch workload,
 * so wl_verify can check every page later. Events are collected as they
 * come (scen_events), so checks can look at times and reasons afterwards.
 * Setup failures end the case as broken (case_util conventions).
 */
#ifndef SUITE_NUMA_SCEN_H
#define SUITE_NUMA_SCEN_H

#include <stdbool.h>
#include <stdint.h>

#include "case_util.h"
#include "workload.h"

#define SCEN_MAX_VMS 16u
#define SCEN_MS 1000000ull
#define SCEN_MIB (1024ull * 1024ull)
/* The rebalancer scenarios' emulated hosts (stepped and live): 2 nodes of 2
 * cores, where the rebalancer runs with the documented cores thresholds, and
 * of 1 core (the thresholds lowered to the host, as NUMA-8b shows they may
 * be), where one busy vCPU fills a node. */
#define SCEN_TOPO2 "synthetic:node:2 core:2 pu:1;memory=256M"
#define SCEN_TOPO2_ONE_CORE "synthetic:node:2 core:1 pu:1;memory=256M"

typedef struct ns {
  suite_ctx_t *c;
  const mmc_impl_t *im;
  mmt_topology_t *topo; /* owned */
  mmc_host_t *h;
  wl_vm_t *vm[SCEN_MAX_VMS];
  mmc_vm_config_t cfg[SCEN_MAX_VMS];
  uint32_t nvms;
  uint64_t cursor; /* events read so far */
  mmc_event_t *ev; /* every event read, in order */
  size_t nev, cap;
  uint64_t tick_ns; /* stepping tick: Numa.RebalancePeriod / 20 */
  /* 0: scen_vm writes every page (touch workload); else only pages
   * [0, boot_pages) are written at boot and the VM then idles (wl_idle). */
  uint64_t boot_pages;
  /* Else, when not 0: every page but the last spare_pages is written. */
  uint64_t spare_pages;
  uint64_t fresh[SCEN_MAX_VMS]; /* next never-written page of each VM (scen_home_probe) */
  int home[SCEN_MAX_VMS];       /* node its new memory came from when last probed; -2 unknown */
} scen_t;

/* A home change seen by the probe: VM k's new memory came from `from`, then,
 * at host time t (the end of the tick it was seen after), from `to`. */
typedef struct scen_move {
  uint64_t t;
  uint32_t k;
  int from, to;
} scen_move_t;

/* A stepped host on topology `spec` with `set` settings after the run's. */
void scen_init(scen_t *s, suite_ctx_t *c, const char *spec, const mmc_setting_value_t *set,
               size_t nset);
void scen_fini(scen_t *s);
/* Power on a VM of `vcpus` vCPUs and `bytes`, pinned to `pin` (0 = any),
 * write every page (on its home), enter its vCPUs and declare `demand`
 * permille for each. Returns its index in s->vm. */
uint32_t scen_vm(scen_t *s, uint32_t vcpus, uint64_t bytes, uint64_t pin, uint32_t demand);
/* numa.nodeAffinity of VM k := mask (0 releases the pin). */
void scen_pin(scen_t *s, uint32_t k, uint64_t mask);
void scen_demand(scen_t *s, uint32_t k, uint32_t permille);
/* Write the next version of pages [first, first+n) of VM k with vCPU 0. */
void scen_write(scen_t *s, uint32_t k, uint64_t first, uint64_t n);
/* Step every VM and advance until host time t (ticks of s->tick_ns, the last
 * one shortened to end at t). */
void scen_run_until(scen_t *s, uint64_t t);
uint64_t scen_now(scen_t *s);
uint64_t scen_period(scen_t *s); /* Numa.RebalancePeriod in ns */
mmc_vm_stats_t scen_stats(scen_t *s, uint32_t k);
/* Read new events into s->ev. */
void scen_events(scen_t *s);
/* Events of `type` for VM k (k >= SCEN_MAX_VMS: any VM) from index `from`. */
size_t scen_count(scen_t *s, size_t from, uint32_t type, uint32_t k);
/* Index of VM id in s->vm, or SCEN_MAX_VMS. */
uint32_t scen_index(scen_t *s, mmc_vm_id_t id);
/* Pages [first, first+n) of VM k attributed by the probe: how many are not
 * on `node` (-1 when the probe could not attribute some). Uses vCPU 0. */
int64_t scen_pages_off(scen_t *s, cu_locator_t *loc, uint32_t k, uint64_t first, uint64_t n,
                       uint32_t node);
/* Where new memory of VM k comes from now — its home as the kernel sees it
 * (NUMA-1, -7): vCPU 0 writes the next never-written page (pages
 * [boot_pages, npages) are kept for this; set boot_pages) and the locator
 * says where it is. -1 when unattributed; broken when none is left. */
int scen_home_probe(scen_t *s, cu_locator_t *loc, uint32_t k);
/* Step until host time t_end, probing every VM's home after every `every`
 * ticks (and at t_end); home changes go to mv[0..max), their count is
 * returned (beyond max only counted). The home changes a case judges come
 * from here, not from MMC_EV_HOME_CHANGE. */
size_t scen_watch(scen_t *s, cu_locator_t *loc, uint64_t t_end, unsigned every, scen_move_t *mv,
                  size_t max);
/* Events of `type` for VM k since `from` whose reason is `reason`. */
size_t scen_count_reason(scen_t *s, size_t from, uint32_t type, uint32_t k, const char *reason);

/* wl_verify of VM k (every page against the truth); true when all match. */
bool scen_verify(scen_t *s, uint32_t k, char *line, size_t len);
/* The same for any workload VM whose vCPU 0 this thread may enter (the live
 * scenarios' too, numa_live.h). */
bool scen_verify_vm(suite_ctx_t *c, wl_vm_t *vm, char *line, size_t len);
/* The rebalancer is active on this topology with the documented thresholds. */
bool scen_rebalancer_can_run(const mmc_topology_t *t);

#endif
