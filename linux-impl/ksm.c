/*
 * ksm.c — transparent page sharing by the kernel's KSM (TPS-1, TPS-2, TPS-3,
 * TPS-4, TPS-5, TPS-6, TPS-8).
 *
 * What KSM does (mm/ksm.c): ksmd wakes every sleep_millisecs, visits
 * pages_to_scan pages of the areas marked MADV_MERGEABLE, keeps a checksum
 * per page to skip pages that keep changing, and merges a page whose
 * contents equal (full memcmp) a page in its stable or unstable tree into
 * one write-protected KSM page; a write breaks the sharing by copy-on-write
 * in the page fault. Zero pages are mapped to the kernel's zero page when
 * use_zero_pages is 1. With merge_across_nodes 0 pages merge only with
 * pages of the same node. All of it is machine-wide: the rate, the switch,
 * the trees.
 *
 * How the contract maps onto it:
 *  - a VM with sched.mem.pshare.enable is MADV_MERGEABLE, one without is
 *    not (TPS-6); Mem.ShareScanGHz=0 unmerges every VM (MADV_UNMERGEABLE);
 *  - while a host exists, its knobs are borrowed (common/borrow.c): run=1,
 *    sleep_millisecs = Linux.KsmSleepMillisecs, pages_to_scan = the host
 *    budget Mem.ShareScanGHz x GHz (cpu_mhz x cores, 1000 MHz a core when
 *    unknown) in 4 KB pages per second, times the sleep; use_zero_pages=1
 *    (TPS-5); merge_across_nodes=0 on a host of two or more nodes when KSM
 *    holds no page anywhere (the kernel refuses the switch otherwise: then
 *    an MMC_EV_ERROR says merging stays across nodes);
 *  - Linux has no per-VM scan time, per-VM cap or salt: those settings are
 *    MMC_ENOTSUP (settings.c) and MMC_CAP_SALTING is clear.
 * What is observed: per VM, the pages that are KSM pages (smaps "KSM:", or
 * /proc/kpageflags as root) and zero pages (observe.c); every
 * Linux.ObservePeriod a growth of a VM's KSM pages is reported as one
 * MMC_EV_SHARE with the growth (reason "ksmd"): what ksmd did, seen
 * afterwards, never a claim of ours. Merges into the zero page are not
 * reported as events: a process cannot tell them from reads of untouched
 * pages, which map the same zero page. A case tells ksmd is done by
 * /sys/kernel/mm/ksm/full_scans advancing twice with nothing new merged.
 *
 * Invariant: a VM is MADV_MERGEABLE exactly when sharing is on for it
 * (vm->mergeable says so), and knobs change only through the borrow module.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lx.h"
#include "mmc_borrow.h"

#define KSM_DIR "/sys/kernel/mm/ksm/"
#define MHZ_UNKNOWN 1000u
#define PAGES_PER_MB 256u

static uint32_t host_cores(const lx_host_t *h) {
  uint32_t cores = h->ncores;
  for (uint32_t n = 0; !cores && n < h->nnodes; n++)
    cores += h->nodes[n].ncores ? h->nodes[n].ncores : h->nodes[n].ncpus;
  return cores ? cores : 1;
}

/* pages_to_scan for the host budget and ksmd's sleep: at least 1. */
static uint64_t pages_to_scan(const lx_host_t *h) {
  uint64_t mhz = (uint64_t)(h->cpu_mhz ? h->cpu_mhz : MHZ_UNKNOWN) * host_cores(h);
  uint64_t per_s = (uint64_t)lx_set(h, LX_SET_MEM_SHARE_SCAN_GHZ) * mhz * PAGES_PER_MB / 1000;
  uint64_t n = per_s * (uint64_t)lx_set(h, LX_SET_KSM_SLEEP_MS) / 1000;
  return n ? n : 1;
}

static int set_knob(const char *name, uint64_t v, mmc_error_t *err) {
  char path[128], val[32];
  snprintf(path, sizeof path, KSM_DIR "%s", name);
  snprintf(val, sizeof val, "%llu", (unsigned long long)v);
  return mmc_borrow_knob(path, val, err);
}

static uint64_t read_u64(const char *path) {
  char buf[64];
  if (mmc_borrow_read(path, buf, sizeof buf, NULL) != 0)
    return 0;
  return strtoull(buf, NULL, 10);
}

/* merge_across_nodes=0 only while KSM holds no page on the machine. */
static void per_node_merging(lx_host_t *h) {
  if (h->nnodes < 2)
    return;
  mmc_error_t e = {0};
  if (read_u64(KSM_DIR "pages_shared") == 0 && set_knob("merge_across_nodes", 0, &e) == 0)
    return;
  mmc_event_t ev = {.type = MMC_EV_ERROR, .node_from = -1, .node_to = -1};
  snprintf(ev.reason, sizeof ev.reason, "ksm merges across nodes");
  lx_emit(h, ev);
}

static int apply_rate(lx_host_t *h, mmc_error_t *err) {
  int rc = set_knob("sleep_millisecs", (uint64_t)lx_set(h, LX_SET_KSM_SLEEP_MS), err);
  if (rc == 0)
    rc = set_knob("pages_to_scan", pages_to_scan(h), err);
  return rc;
}

int lx_ksm_host_start(lx_host_t *h, mmc_error_t *err) {
  int rc = apply_rate(h, err);
  if (rc == 0)
    rc = set_knob("use_zero_pages", 1, err);
  if (rc == 0)
    per_node_merging(h);
  if (rc == 0 && lx_set(h, LX_SET_MEM_SHARE_SCAN_GHZ) > 0)
    rc = set_knob("run", 1, err);
  h->ksm_started = rc == 0;
  return rc;
}

int lx_ksm_vm_apply(lx_host_t *h, lx_vm_t *vm, mmc_error_t *err) {
  bool want = h->ksm_started && vm->cfg.pshare_enable && lx_set(h, LX_SET_MEM_SHARE_SCAN_GHZ) > 0;
  if (want == vm->mergeable)
    return 0;
  if (madvise(vm->base, vm->bytes, want ? MADV_MERGEABLE : MADV_UNMERGEABLE) != 0)
    return mmc_fail(err, errno == ENOMEM || errno == EAGAIN ? MMC_ENOMEM : MMC_EIO,
                    "madvise(%s) of VM %u: %s", want ? "MADV_MERGEABLE" : "MADV_UNMERGEABLE",
                    vm->id, strerror(errno));
  vm->mergeable = want;
  return 0;
}

int lx_ksm_setting_changed(lx_host_t *h, lx_setting_id_t id, mmc_error_t *err) {
  (void)id;
  if (!h->ksm_started && !(lx_kernel.caps & MMC_CAP_SHARING))
    return 0;
  int rc = apply_rate(h, err);
  if (rc == 0 && lx_set(h, LX_SET_MEM_SHARE_SCAN_GHZ) > 0)
    rc = set_knob("run", 1, err);
  h->ksm_started = h->ksm_started || rc == 0;
  for (uint32_t i = 1; rc == 0 && i < h->vm_cap; i++)
    if (h->vms[i] && atomic_load(&h->vms[i]->on))
      rc = lx_ksm_vm_apply(h, h->vms[i], err);
  return rc;
}

/* ksm_merging_pages of this process: a line of ksm_stat on newer kernels,
 * its own file /proc/self/ksm_merging_pages since 5.19 (6.1's ksm_stat has
 * only ksm_rmap_items). Without either, the observation walks smaps every
 * period: ~0.3 s for a 256 MB VM in the 4-node TCG guest, longer than the
 * period, so the daemon ran it back to back. */
static uint64_t process_merging(bool *known) {
  FILE *f = fopen("/proc/self/ksm_stat", "r");
  char line[128];
  unsigned long long v = 0;
  *known = false;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "ksm_merging_pages %llu", &v) == 1)
      *known = true;
  if (f)
    fclose(f);
  if (*known)
    return v;
  f = fopen("/proc/self/ksm_merging_pages", "r");
  *known = f && fscanf(f, "%llu", &v) == 1;
  if (f)
    fclose(f);
  return *known ? v : 0;
}

void lx_ksm_observe(lx_host_t *h, uint64_t now) {
  (void)now;
  bool known;
  uint64_t total = process_merging(&known);
  if (known && total == h->ksm_process_seen)
    return; /* nothing merged or unmerged anywhere in this process */
  h->ksm_process_seen = total;
  lx_smaps_t *sm = lx_kernel.smaps_ksm ? calloc(h->vm_cap, sizeof *sm) : NULL;
  if (sm && lx_smaps_all(h, sm, NULL) != 0) {
    free(sm);
    return;
  }
  for (uint32_t i = 1; i < h->vm_cap; i++) {
    lx_vm_t *vm = h->vms[i];
    lx_obs_t o;
    if (!vm || !atomic_load(&vm->on) || !vm->mergeable)
      continue;
    /* One smaps pass for all VMs where smaps counts KSM pages; else the
     * kernel's page flags, VM by VM (root). */
    if (sm) {
      o.ksm = sm[i].ksm_kb * 1024 / MMC_PAGE_SIZE;
      o.ksm_known = true;
    } else if (lx_observe_vm(h, vm, &o, NULL, NULL) != 0) {
      continue;
    }
    if (o.ksm_known && o.ksm > vm->ksm_seen)
      lx_emit(h, (mmc_event_t){.type = MMC_EV_SHARE,
                               .vm = vm->id,
                               .node_from = -1,
                               .node_to = -1,
                               .count = o.ksm - vm->ksm_seen,
                               .reason = "ksmd"});
    vm->ksm_seen = o.ksm;
  }
  free(sm);
}
