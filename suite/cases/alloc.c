/*
 * alloc.c — ALLOC-1, admission control: a power-on whose reservation cannot
 * be guaranteed is refused with MMC_EADMISSION and a message, and leaves
 * nothing behind (no VM, no frames, no power-on event, no shared memory the
 * kernel can see); a reservation that fits is accepted, and room freed by a
 * power-off is admitted again.
 *
 * The host runs on a copy of the run's topology capped to a small size, so
 * reservations are fractions of a known capacity and nothing large is ever
 * backed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case_util.h"
#include "cases_list.h"
#include "mmc_error.h"

#define MIB (1024ull * 1024ull)
enum { alloc1_host_mib = 256 };

/* `pct` percent of `cap`, in whole pages. */
static uint64_t pct_of(uint64_t cap, unsigned pct) {
  uint64_t b = cap / 100 * pct;
  return b - b % MMC_PAGE_SIZE;
}

static mmc_vm_config_t reserved_vm(const char *name, uint64_t bytes) {
  mmc_vm_config_t cfg = cu_vm(name, 1, bytes);
  cfg.reservation_bytes = cfg.memory_bytes;
  return cfg;
}

/* Memory the implementation holds, measured outside it: resident pages of
 * the node-named pool mappings when it has them, else the process's shared
 * memory (RssShmem, coarser: any shmem page of the process counts) less the
 * pages of the program's and libraries' own files, which are shared memory
 * where the root is tmpfs (the 4-node guest) and grow as code runs for the
 * first time (another thread of the implementation may run new code during
 * the measurement: the Linux implementation's pressure job, with swap). */
static uint64_t held_bytes(suite_ctx_t *c) {
  mmc_error_t err = {0};
  if (sc_impl(c)->capabilities & MMC_CAP_NODE_MAPPINGS) {
    uint64_t pages = 0;
    sc_require(c, probe_pools_resident(&pages, &err), &err, "pool residency (mincore)");
    return pages * MMC_PAGE_SIZE;
  }
  probe_rollup_t r;
  sc_require(c, probe_rollup(&r, NULL, &err), &err, "smaps_rollup");
  return r.rss_shmem_bytes > r.image_shmem_bytes ? r.rss_shmem_bytes - r.image_shmem_bytes : 0;
}

/* A power-on that must be refused with `want`; checks nothing was left. */
static void expect_refused(suite_ctx_t *c, mmc_host_t *h, const mmc_vm_config_t *cfg, int want,
                           const char *what) {
  const mmc_impl_t *im = sc_impl(c);
  /* The same power-on once unmeasured first: its first run faults in the
   * code of the refusal path (held_bytes leaves the code's own pages out
   * too) and whatever shared memory it sets up once, on first use.
   * A refusal that leaks leaks again on the measured attempt. */
  mmc_vm_id_t warm = 0;
  if (im->vm_power_on(h, cfg, &warm, &(mmc_error_t){0}) == 0)
    im->vm_power_off(h, warm, NULL);
  mmc_host_stats_t before = cu_host_stats(c, h);
  mmc_error_t err = {0};
  uint64_t held_before = held_bytes(c);
  uint64_t cursor = 0;
  cu_count_events(c, h, &cursor, MMC_EV_POWER_ON, 0);
  mmc_vm_id_t id = 0;
  err = (mmc_error_t){0};
  int rc = im->vm_power_on(h, cfg, &id, &err);
  char name[160];
  snprintf(name, sizeof name, "%s: refused with %s and a message", what, mmc_status_name(want));
  sc_check(c, rc == want && err.code == want && err.msg[0], name, "rc %s, err.code %s, msg '%s'",
           mmc_status_name(rc), mmc_status_name(err.code), err.msg);
  if (rc == 0)
    im->vm_power_off(h, id, NULL);
  else
    sc_diag(c, "%s: %s", what, err.msg);
  mmc_host_stats_t after = cu_host_stats(c, h);
  uint64_t held_after = held_bytes(c);
  /* A leftover of the refused VM lowers the free pages in all. Per node
   * they may move for other reasons while the host runs on (a kernel's
   * NUMA balancing moves the first VM's pages between nodes; sharing or
   * paging out frees some), so the sum is compared, and only a drop. */
  uint64_t free_before = 0, free_after = 0;
  for (uint32_t n = 0; n < before.nnodes && n < MMC_MAX_NODES; n++) {
    free_before += before.node_free_pages[n];
    free_after += after.node_free_pages[n];
  }
  uint64_t free_drop = free_before > free_after ? free_before - free_after : 0;
  snprintf(name, sizeof name, "%s: nothing left behind (memory held, %s)", what,
           sc_impl(c)->capabilities & MMC_CAP_NODE_MAPPINGS ? "pool mappings, mincore"
                                                            : "RssShmem less program files");
  sc_check(c, held_after <= held_before, name, "memory held %llu -> %llu bytes",
           (unsigned long long)held_before, (unsigned long long)held_after);
  snprintf(name, sizeof name, "%s: VMs on the host (nvms) unchanged", what);
  cu_crosscheck_value(c, name, "host_stats.nvms", before.nvms, after.nvms, 0);
  snprintf(name, sizeof name, "%s: free pages of all nodes lowered by", what);
  cu_crosscheck_host(c, &after, MMC_HOSTSTAT_NODE_FREE, name, 0, (long long)free_drop, 0);
  snprintf(name, sizeof name, "%s: MMC_EV_POWER_ON events", what);
  cu_crosscheck_events(c, h, MMC_EV_POWER_ON, name, 0,
                       (long long)cu_count_events(c, h, &cursor, MMC_EV_POWER_ON, 0), 0);
}

static mmc_vm_id_t expect_accepted(suite_ctx_t *c, mmc_host_t *h, const mmc_vm_config_t *cfg,
                                   const char *what) {
  mmc_vm_id_t id = 0;
  mmc_error_t err = {0};
  int rc = sc_impl(c)->vm_power_on(h, cfg, &id, &err);
  sc_check(c, rc == 0 && id > 0, what, "rc %s: %s", mmc_status_name(rc), err.msg);
  return rc == 0 ? id : 0;
}

void case_alloc_1(suite_ctx_t *c) {
  mmt_topology_t *t = cu_run_topology_copy(c);
  mmc_error_t err = {0};
  if (cu_total_memory(&t->desc) > alloc1_host_mib * MIB)
    sc_require(c, mmt_cap_memory(t, alloc1_host_mib * MIB, &err), &err, "capping host memory");
  uint64_t cap = cu_total_memory(&t->desc);
  mmc_host_t *h = sc_host(c, t, cu_clock(c), NULL, 0);
  sc_diag(c, "host capacity %llu MiB on %u nodes", (unsigned long long)(cap / MIB), t->desc.nnodes);
  mmc_vm_config_t a = reserved_vm("alloc1-a", pct_of(cap, 50));
  mmc_vm_config_t b = reserved_vm("alloc1-b", pct_of(cap, 60));
  mmc_vm_config_t small = reserved_vm("alloc1-c", pct_of(cap, 20));
  mmc_vm_config_t huge = reserved_vm("alloc1-huge", pct_of(cap, 100) + cap / 4);
  /* The first power-on must work for anything below to mean something. */
  mmc_vm_id_t ida = cu_power_on(c, h, &a);
  expect_refused(c, h, &b, MMC_EADMISSION, "60% reservation beside 50%");
  expect_refused(c, h, &huge, MMC_EADMISSION, "reservation above host memory");
  mmc_vm_id_t idc = expect_accepted(c, h, &small, "20% reservation beside 50%: accepted");
  /* A VM without reservation is not subject to admission. */
  mmc_vm_config_t plain = cu_vm("alloc1-plain", 1, pct_of(cap, 60));
  mmc_vm_id_t idp = expect_accepted(c, h, &plain, "no reservation, 60% configured: accepted");
  /* Bad input is EINVAL, not admission: reservation above configured size. */
  mmc_vm_config_t inval = cu_vm("alloc1-inval", 1, 4 * MIB);
  inval.reservation_bytes = 8 * MIB;
  expect_refused(c, h, &inval, MMC_EINVAL, "reservation above the VM's size");
  sc_require(c, sc_impl(c)->vm_power_off(h, ida, &err), &err, "power off VM a");
  mmc_vm_id_t idb = expect_accepted(c, h, &b, "60% reservation once 50% is released: accepted");
  /* The accepted reservations are usable: touch every reserved page of c. */
  if (idc) {
    uint64_t np = small.memory_bytes / MMC_PAGE_SIZE, resident = 0;
    void **ptrs = calloc(np, sizeof *ptrs);
    if (!ptrs)
      sc_broken(c, "out of memory for page pointers");
    cu_vcpu_run_t run;
    cu_vcpu_touch(c, h, &t->desc, idc, 0, 1, np, true, 1, ptrs, &run);
    for (uint64_t g = 0; g < np; g++) {
      uint64_t r = 0;
      sc_require(c, probe_mincore(ptrs[g], MMC_PAGE_SIZE, &r, NULL, &err), &err, "mincore");
      resident += r;
    }
    free(ptrs);
    sc_check_int(c, "reserved VM: every page backed after touching it (mincore)", (long long)np,
                 (long long)resident);
    mmc_vm_stats_t st = cu_vm_stats(c, h, idc);
    cu_crosscheck_vm(c, &st, MMC_VMSTAT_RESIDENT, "reserved VM's resident pages",
                     (long long)resident, (long long)st.resident_pages, 0);
  }
  (void)idp;
  (void)idb;
  sc_host_destroy(c, h);
  mmt_free(t);
}
