/*
 * wss.c — the working set as the kernel can observe it (WSS-1, WSS-3).
 *
 * What Linux has. The kernel keeps an accessed ("young") bit per page table
 * entry and a referenced flag per page, which reclaim ages; a process sees
 * them through /proc/self/smaps ("Referenced:", per mapping) and clears them
 * by writing 1 to /proc/self/clear_refs. Other interfaces were considered
 * and are detected, not used: idle page tracking (/sys/kernel/mm/page_idle,
 * per frame, root; often not built: CONFIG_IDLE_PAGE_TRACKING), DAMON's
 * virtual-address monitoring (a machine-wide kdamond of its own; often not
 * built: CONFIG_DAMON_VADDR), and userfaultfd minor faults (which would
 * re-create ESXi's sampling, a policy Linux does not have).
 *
 * What this does: every Mem.SamplePeriod (the observation window, the one
 * sampling setting that maps) it reads each VM's referenced pages from
 * smaps and then clears the bits, so a VM's estimate is the pages the
 * hardware found accessed in the last full window: every page, not a random
 * sample; no smoothing; no floor (Mem.SampleActivePctMin is MMC_ENOTSUP).
 * Until a first window has completed the estimate is unobserved.
 *
 * Caveats, said plainly: the bits must be cleared with the TLB flushed
 * (clear_refs() below), or hot pages read as idle; clear_refs clears the bits of the whole process,
 * so two hosts in one process share windows (each host reads, then clears);
 * and the window is wall time, not VM execution time (Linux has none).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lx.h"

static void write_clear_refs(const char *what) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (!f)
    return;
  fputs(what, f);
  fclose(f);
}

/* "1" clears the accessed bits but (6.x, x86) does not flush the TLB, so
 * a page whose translation stays cached is used without the hardware
 * setting its bit again: a VM touching 64 pages without pause read as 0 to
 * 64 of them, window after window. "4" (clear soft-dirty) ends with a flush
 * of the whole mm on every kernel, soft-dirty built or not; its cost is one
 * write-protect fault on the next write to each page, once a window. */
static void clear_refs(void) {
  write_clear_refs("1");
  write_clear_refs("4");
}

void lx_wss_run(lx_host_t *h, uint64_t now) {
  (void)now;
  lx_smaps_t *sm = calloc(h->vm_cap ? h->vm_cap : 1, sizeof *sm);
  if (sm && lx_smaps_all(h, sm, NULL) == 0)
    for (uint32_t i = 1; i < h->vm_cap; i++) {
      lx_vm_t *vm = h->vms[i];
      if (!vm || !atomic_load(&vm->on))
        continue;
      if (vm->wss_armed) {
        vm->wss_pages = sm[i].referenced_kb * 1024 / MMC_PAGE_SIZE;
        vm->wss_valid = true;
      }
      vm->wss_armed = true; /* its first whole window begins now */
    }
  free(sm);
  clear_refs();
}
