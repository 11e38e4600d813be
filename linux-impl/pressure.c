/*
 * pressure.c — the one policy of ours: what happens when a host holds more
 * guest memory than it has (SWAP-2's "requested amount"; the swap half of
 * INT-1's overcommit).
 *
 * Why it exists. The kernel reclaims when the *machine* runs short (kswapd
 * between the zone watermarks; a cgroup's memory.high/max for a group of
 * whole processes). A host of the contract is smaller than the machine (its
 * nodes' memory_bytes, capped by --host-memory) and shares one process with
 * the other hosts and the suite, so none of the kernel's triggers ever sees
 * it full: the kernel has the mechanism (MADV_PAGEOUT) but no policy that
 * would apply it here. This file is the minimal honest stand-in, and it is
 * ours, not Linux's:
 *  - every Linux.PressurePeriod it counts the frames the host's VMs hold
 *    (pagemap: present pages other than the zero page, KSM frames counted
 *    once);
 *  - when they exceed the host's memory, the excess is taken from the VMs
 *    in proportion to their resident pages, each VM's share paged out with
 *    MADV_PAGEOUT from a clock hand that sweeps its guest pages in order.
 *  - before that, a VM holding more than its limit (sched.mem.max) has the
 *    excess paged out, as memory.max would do for a cgroup of its own;
 *    locked pages (its reservation, reserve.c) never go.
 * It does not imitate ESXi: no memory states, no preference for the
 * balloon, no random choice of pages; and it does not pretend to be the
 * kernel's LRU, which a process cannot reach for one range (MADV_PAGEOUT
 * ignores how recently a page was used).
 *
 * Invariant: pages are only ever paged out, never dropped: a paged-out page
 * is in swap (or zswap) and comes back with its contents on the next
 * access. Needs root and PFNs from pagemap (MMC_CAP_SWAP implies root).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lx.h"

void lx_pressure_split(const uint64_t *resident, const uint64_t *floor, uint32_t n, uint64_t excess,
                       uint64_t *take) {
  uint64_t above = 0;
  for (uint32_t i = 0; i < n; i++)
    above += resident[i] > floor[i] ? resident[i] - floor[i] : 0;
  uint64_t want = excess < above ? excess : above, given = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t a = resident[i] > floor[i] ? resident[i] - floor[i] : 0;
    take[i] = above ? (uint64_t)((unsigned __int128)want * a / above) : 0;
    given += take[i];
  }
  /* Rounding leftovers, one page each, to the VMs with room, in order. */
  for (uint32_t i = 0; given < want && i < n; i++) {
    uint64_t a = resident[i] > floor[i] ? resident[i] - floor[i] : 0;
    if (take[i] < a) {
      take[i]++;
      given++;
    }
  }
}

/* One VM's pagemap: PFNs of its resident pages other than the zero page
 * (0 elsewhere). Returns how many. */
static uint64_t vm_frames(lx_vm_t *vm, uint64_t *pfns, uint64_t zero) {
  uint64_t present = 0, swapped = 0, n = 0;
  if (lx_pagemap(vm->base, vm->npages, &present, &swapped, pfns, NULL, NULL) != 0)
    return 0;
  for (uint64_t g = 0; g < vm->npages; g++) {
    if (pfns[g] == zero)
      pfns[g] = 0;
    n += pfns[g] != 0;
  }
  return n;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

static uint64_t distinct(uint64_t *v, uint64_t n) {
  qsort(v, n, sizeof *v, cmp_u64);
  uint64_t d = 0;
  for (uint64_t i = 0; i < n; i++)
    d += v[i] && (i == 0 || v[i] != v[i - 1]);
  return d;
}

/* Page out `want` resident pages of `vm` from its hand, in runs; the hand
 * sweeps the unlocked gpfns only (a reservation is locked: reserve.c).
 * Returns the pages asked for. */
static uint64_t take_from(lx_host_t *h, lx_vm_t *vm, const uint64_t *pfns, uint64_t want) {
  uint64_t lo = vm->locked_pages, span = vm->npages - lo, done = 0, seen = 0;
  while (span && done < want && seen < span) {
    uint64_t g = vm->hand < lo || vm->hand >= vm->npages ? lo : vm->hand, run = 0;
    while (g + run < vm->npages && seen < span && done + run < want && pfns[g + run]) {
      run++;
      seen++;
    }
    if (run) {
      mmc_error_t e = {0};
      if (lx_swap_pageout(h, vm, g, run, &e) != 0) {
        mmc_event_t ev = {.type = MMC_EV_ERROR, .vm = vm->id, .node_from = -1, .node_to = -1};
        snprintf(ev.reason, sizeof ev.reason, "page-out: %.20s", e.msg);
        lx_emit(h, ev);
        return done;
      }
      done += run;
    } else {
      seen++;
    }
    vm->hand = g + (run ? run : 1);
  }
  return done;
}

/* The host's VMs, their resident frames (pfns, one slot per guest page,
 * at off[k]) and resident counts; floor: resident pages that cannot go
 * (locked: the reservation). */
typedef struct census {
  uint32_t n;
  lx_vm_t **vms;
  uint64_t *off, *res, *floor, *take, *pfns, *sorted;
} census_t;

static void census_free(census_t *c) {
  free(c->vms);
  free(c->off);
  free(c->res);
  free(c->floor);
  free(c->take);
  free(c->pfns);
  free(c->sorted);
}

static uint64_t count_nonzero(const uint64_t *v, uint64_t n) {
  uint64_t k = 0;
  for (uint64_t i = 0; i < n; i++)
    k += v[i] != 0;
  return k;
}

static bool census_take(lx_host_t *h, uint64_t total, census_t *c) {
  memset(c, 0, sizeof *c);
  c->vms = calloc(h->vm_cap, sizeof *c->vms);
  c->off = calloc(h->vm_cap, sizeof *c->off);
  c->res = calloc(h->vm_cap, sizeof *c->res);
  c->floor = calloc(h->vm_cap, sizeof *c->floor);
  c->take = calloc(h->vm_cap, sizeof *c->take);
  c->pfns = malloc(total * sizeof *c->pfns);
  c->sorted = malloc(total * sizeof *c->sorted);
  if (!c->vms || !c->off || !c->res || !c->floor || !c->take || !c->pfns || !c->sorted)
    return false;
  uint64_t zero = lx_zero_pfn(), at = 0;
  for (uint32_t i = 1; i < h->vm_cap; i++) {
    lx_vm_t *vm = h->vms[i];
    if (!vm || !atomic_load(&vm->on))
      continue;
    c->vms[c->n] = vm;
    c->off[c->n] = at;
    c->res[c->n] = vm_frames(vm, c->pfns + at, zero);
    c->floor[c->n++] = count_nonzero(c->pfns + at, vm->locked_pages);
    at += vm->npages;
  }
  return true;
}

/* sched.mem.max: what a VM holds above its limit goes first. */
static void hold_limits(lx_host_t *h, census_t *c) {
  for (uint32_t k = 0; k < c->n; k++) {
    lx_vm_t *vm = c->vms[k];
    uint64_t limit = vm->cfg.limit_bytes / MMC_PAGE_SIZE;
    if (limit && c->res[k] > limit)
      c->res[k] -= take_from(h, vm, c->pfns + c->off[k], c->res[k] - limit);
  }
}

static bool any_limit(const lx_host_t *h) {
  for (uint32_t i = 1; i < h->vm_cap; i++)
    if (h->vms[i] && atomic_load(&h->vms[i]->on) && h->vms[i]->cfg.limit_bytes &&
        h->vms[i]->cfg.limit_bytes < h->vms[i]->cfg.memory_bytes)
      return true;
  return false;
}

void lx_pressure_run(lx_host_t *h, uint64_t now) {
  (void)now;
  uint64_t total = 0;
  for (uint32_t i = 1; i < h->vm_cap; i++)
    if (h->vms[i] && atomic_load(&h->vms[i]->on))
      total += h->vms[i]->npages;
  if (total <= h->capacity_pages && !any_limit(h))
    return; /* the VMs could not hold more than they may */
  census_t c;
  if (!census_take(h, total, &c)) {
    census_free(&c);
    return;
  }
  hold_limits(h, &c);
  uint64_t sum = 0;
  for (uint32_t k = 0; k < c.n; k++)
    sum += c.res[k];
  if (sum > h->capacity_pages) {
    memcpy(c.sorted, c.pfns, total * sizeof *c.sorted);
    uint64_t frames = distinct(c.sorted, total);
    if (frames > h->capacity_pages) {
      lx_pressure_split(c.res, c.floor, c.n, frames - h->capacity_pages, c.take);
      for (uint32_t k = 0; k < c.n; k++)
        if (c.take[k])
          take_from(h, c.vms[k], c.pfns + c.off[k], c.take[k]);
    }
  }
  census_free(&c);
}
