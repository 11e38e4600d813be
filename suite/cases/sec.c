/*
 * sec.c — SEC-1: a VM never observes another VM's data. A fresh VM reads
 * zeros everywhere, even on frames another VM filled and released: VM A
 * fills every page of most of one node with a non-zero pattern and powers
 * off; VM B, on the same node, reads every page (read access), then takes
 * write access to every page and reads it before writing: all zero. The
 * node is small (the topology is capped), so B must reuse A's frames;
 * frame identity (cu_frames: the kernel's PFN in /proc/self/pagemap as
 * root, else the node file and offset of MMC_CAP_NODE_MAPPINGS) shows it
 * did, so the check is not vacuous. Repeated for a second generation (C
 * after B). Which frames a fresh VM gets is the allocator's choice (the
 * kernel's, for a hardware-translated implementation): the case is shown
 * when some generation reused frames of the VM before it, and not shown
 * when none did (zeros on fresh frames prove nothing). Either clock: nothing here waits on
 * a period. A node affinity only where the topology has a choice of node.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case_util.h"
#include "cases_list.h"
#include "mmc_error.h"

#define MIB (1024ull * 1024ull)
enum { sec1_node_mib = 32, sec1_rounds = 2, sec1_vm_pct = 70 };

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Frame identities of n page pointers, sorted. */
static void frames_of(suite_ctx_t *c, cu_frames_t *fr, void *const *ptrs, uint64_t n,
                      uint64_t *out) {
  cu_frames_of(c, fr, ptrs, n, out);
  qsort(out, n, sizeof *out, cmp_u64);
}

/* How many frames of `b` are also in `a` (both sorted; 0 = unattributed). */
static uint64_t overlap(const uint64_t *a, const uint64_t *b, uint64_t n) {
  uint64_t k = 0;
  for (uint64_t i = 0, j = 0; i < n && j < n;) {
    if (a[i] < b[j])
      i++;
    else if (a[i] > b[j])
      j++;
    else {
      k += a[i] != 0;
      i++;
      j++;
    }
  }
  return k;
}

void case_sec_1(suite_ctx_t *c) {
  mmt_topology_t *t = cu_run_topology_copy(c);
  mmc_error_t err = {0};
  uint64_t want = (uint64_t)t->desc.nnodes * sec1_node_mib * MIB;
  if (cu_total_memory(&t->desc) > want)
    sc_require(c, mmt_cap_memory(t, want, &err), &err, "capping host memory");
  const mmc_topology_t *d = &t->desc;
  uint32_t node = 0;
  while (node < d->nnodes && (!d->nodes[node].ncpus || !d->nodes[node].memory_bytes))
    node++;
  if (node == d->nnodes)
    sc_broken(c, "topology has no node with CPUs and memory");
  mmc_host_t *h = sc_host(c, t, cu_clock(c), NULL, 0);
  const mmc_impl_t *im = sc_impl(c);
  uint64_t bytes = d->nodes[node].memory_bytes / 100 * sec1_vm_pct;
  mmc_vm_config_t cfg = cu_vm("sec1", 1, bytes);
  cfg.node_affinity = d->nnodes > 1 ? 1ull << node : 0;
  uint64_t npages = cfg.memory_bytes / MMC_PAGE_SIZE;
  void **ptrs = calloc(npages, sizeof *ptrs);
  uint64_t *prev = calloc(npages, sizeof *prev), *cur = calloc(npages, sizeof *cur);
  cu_frames_t fr;
  bool frames = cu_frames_init(c, &fr, "SEC-1 frame reuse (premise)");
  if (!ptrs || !prev || !cur)
    sc_broken(c, "out of memory for page pointers");
  cu_vcpu_run_t run;
  uint64_t reused_any = 0;
  mmc_vm_id_t vm = cu_power_on(c, h, &cfg);
  cu_vcpu_touch(c, h, d, vm, 0, 1, npages, true, 0x5a, ptrs, &run);
  if (frames)
    frames_of(c, &fr, ptrs, npages, prev);
  for (int round = 1; round <= sec1_rounds; round++) {
    sc_require(c, im->vm_power_off(h, vm, &err), &err, "vm_power_off");
    vm = cu_power_on(c, h, &cfg);
    char name[160];
    cu_vcpu_touch(c, h, d, vm, 0, 1, npages, false, 0, NULL, &run);
    snprintf(name, sizeof name, "generation %d: every page reads zero (read access)", round);
    sc_check(c, run.nonzero_pages == 0 && run.pages == npages, name, "%llu of %llu pages not zero",
             (unsigned long long)run.nonzero_pages, (unsigned long long)run.pages);
    memset(ptrs, 0, npages * sizeof *ptrs);
    cu_vcpu_touch(c, h, d, vm, 0, 1, npages, true, 0x5a + (uint64_t)round, ptrs, &run);
    snprintf(name, sizeof name, "generation %d: every page zero when first written", round);
    sc_check(c, run.nonzero_pages == 0 && run.pages == npages, name,
             "%llu of %llu pages held data before the VM wrote them",
             (unsigned long long)run.nonzero_pages, (unsigned long long)run.pages);
    if (!frames)
      continue;
    frames_of(c, &fr, ptrs, npages, cur);
    uint64_t reused = overlap(prev, cur, npages);
    reused_any += reused;
    snprintf(name, sizeof name, "generation %d reused frames of the previous VM (premise)", round);
    if (reused > 0) /* a generation on fresh frames only is not evidence against the rest */
      sc_check(c, true, name, NULL);
    sc_diag(c, "generation %d: %llu of %llu frames reused", round, (unsigned long long)reused,
            (unsigned long long)npages);
    uint64_t *tmp = prev;
    prev = cur;
    cur = tmp;
  }
  if (frames) {
    if (reused_any == 0)
      cu_not_shown(c,
                   "SEC-1: no generation reused a frame of the VM before it (%s), so reading "
                   "zeros proved nothing",
                   cu_frames_name(&fr));
    cu_frames_free(&fr);
  }
  free(ptrs);
  free(prev);
  free(cur);
  sc_host_destroy(c, h);
  mmt_free(t);
}
