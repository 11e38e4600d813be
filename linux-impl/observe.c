/*
 * observe.c — what the kernel shows of a VM's memory, for vm_stats and
 * host_stats: the statistics the Linux implementation reports are the
 * kernel's own view, read through the same interfaces any tool would use.
 *
 *  - /proc/self/pagemap: per page, present or swapped, and (root only) the
 *    page frame number: resident_pages, swapped_pages (swap or zswap),
 *    zero pages (the PFN of the shared zero page), frames for host_stats;
 *  - /proc/self/smaps: per mapping, Rss (present pages other than the zero
 *    page), Referenced (wss.c), KSM (pages that are KSM pages, on kernels
 *    that print it), Swap;
 *  - /proc/kpageflags (root): KPF_KSM per frame, where smaps has no KSM;
 *  - move_pages(2) with no target: the node of each present page.
 * Without root a VM's zero pages are present pages that smaps does not
 * count in Rss. A field none of these gives is marked unobserved by the
 * caller, never reported as zero.
 *
 * Invariant: reading changes nothing (no clear_refs here: wss.c owns it).
 */
#include <errno.h>
#include <fcntl.h>
#include <numaif.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lx.h"

#define PM_PRESENT (1ull << 63)
#define PM_SWAP (1ull << 62)
#define PM_PFN_MASK ((1ull << 55) - 1)
#define KPF_KSM 21
#define PM_CHUNK 4096

int lx_pagemap(const void *addr, uint64_t n, uint64_t *present, uint64_t *swapped, uint64_t *pfns,
               uint8_t *vec, mmc_error_t *err) {
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return mmc_fail(err, MMC_EIO, "/proc/self/pagemap: %s", strerror(errno));
  uint64_t buf[PM_CHUNK];
  uint64_t first = (uint64_t)(uintptr_t)addr / MMC_PAGE_SIZE;
  *present = *swapped = 0;
  int rc = 0;
  for (uint64_t at = 0; at < n && rc == 0; at += PM_CHUNK) {
    uint64_t k = n - at < PM_CHUNK ? n - at : PM_CHUNK;
    ssize_t r = pread(fd, buf, k * 8, (off_t)((first + at) * 8));
    if (r != (ssize_t)(k * 8)) {
      rc = mmc_fail(err, MMC_EIO, "/proc/self/pagemap: short read: %s",
                    r < 0 ? strerror(errno) : "end of file");
      break;
    }
    for (uint64_t i = 0; i < k; i++) {
      bool p = buf[i] & PM_PRESENT, s = !p && (buf[i] & PM_SWAP);
      *present += p;
      *swapped += s;
      if (pfns)
        pfns[at + i] = p ? buf[i] & PM_PFN_MASK : 0;
      if (vec)
        vec[at + i] = p;
    }
  }
  close(fd);
  return rc;
}

static uint64_t zero_pfn;
static pthread_once_t zero_once = PTHREAD_ONCE_INIT;

/* Read a fresh anonymous page: the kernel maps its shared zero page. */
static void find_zero_pfn(void) {
  volatile uint8_t *p = mmap(NULL, MMC_PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return;
  (void)p[0];
  uint64_t present, swapped, pfn = 0;
  if (lx_pagemap((const void *)p, 1, &present, &swapped, &pfn, NULL, NULL) == 0 && present)
    zero_pfn = pfn;
  munmap((void *)p, MMC_PAGE_SIZE);
}

uint64_t lx_zero_pfn(void) {
  pthread_once(&zero_once, find_zero_pfn);
  return zero_pfn;
}

/* ---------------------------------------------------------------- smaps */

static bool parse_range(const char *line, uintptr_t *lo, uintptr_t *hi) {
  unsigned long long a, b;
  if (sscanf(line, "%llx-%llx ", &a, &b) != 2)
    return false;
  *lo = (uintptr_t)a;
  *hi = (uintptr_t)b;
  return true;
}

static void add_field(const char *line, lx_smaps_t *o) {
  unsigned long long kb;
  if (sscanf(line, "Rss: %llu kB", &kb) == 1)
    o->rss_kb += kb;
  else if (sscanf(line, "Referenced: %llu kB", &kb) == 1)
    o->referenced_kb += kb;
  else if (sscanf(line, "KSM: %llu kB", &kb) == 1) {
    o->ksm_kb += kb;
    o->has_ksm = true;
  } else if (sscanf(line, "Swap: %llu kB", &kb) == 1)
    o->swap_kb += kb;
}

int lx_smaps_range(const char *path, uintptr_t start, uintptr_t end, lx_smaps_t *out,
                   mmc_error_t *err) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path ? path : "/proc/self/smaps", "r");
  if (!f)
    return mmc_fail(err, MMC_EIO, "%s: %s", path ? path : "/proc/self/smaps", strerror(errno));
  char line[512];
  bool in = false;
  uintptr_t lo, hi;
  while (fgets(line, sizeof line, f)) {
    if (parse_range(line, &lo, &hi))
      in = lo >= start && hi <= end;
    else if (in)
      add_field(line, out);
  }
  fclose(f);
  return 0;
}

/* The VM whose mapping holds [lo, hi), or NULL. */
static lx_vm_t *vm_of_range(lx_host_t *h, uintptr_t lo, uintptr_t hi) {
  for (uint32_t i = 1; i < h->vm_cap; i++) {
    lx_vm_t *vm = h->vms[i];
    if (vm && atomic_load(&vm->on) && lo >= (uintptr_t)vm->base &&
        hi <= (uintptr_t)vm->base + vm->bytes)
      return vm;
  }
  return NULL;
}

int lx_smaps_all(lx_host_t *h, lx_smaps_t *out, mmc_error_t *err) {
  memset(out, 0, h->vm_cap * sizeof *out);
  FILE *f = fopen("/proc/self/smaps", "r");
  if (!f)
    return mmc_fail(err, MMC_EIO, "/proc/self/smaps: %s", strerror(errno));
  char line[512];
  lx_vm_t *in = NULL;
  uintptr_t lo, hi;
  while (fgets(line, sizeof line, f)) {
    if (parse_range(line, &lo, &hi))
      in = vm_of_range(h, lo, hi);
    else if (in)
      add_field(line, &out[in->id]);
  }
  fclose(f);
  return 0;
}

/* ---------------------------------------------------------------- per VM */

/* KSM pages among present frames, from /proc/kpageflags (root). */
static uint64_t ksm_by_kpageflags(const uint64_t *pfns, uint64_t n, uint64_t zero, bool *ok) {
  int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
  uint64_t count = 0;
  *ok = fd >= 0;
  for (uint64_t i = 0; *ok && i < n; i++) {
    uint64_t flags;
    if (!pfns[i] || pfns[i] == zero)
      continue;
    if (pread(fd, &flags, 8, (off_t)(pfns[i] * 8)) != 8)
      *ok = false;
    count += flags >> KPF_KSM & 1;
  }
  if (fd >= 0)
    close(fd);
  return count;
}

/* Present pages by node, from a move_pages(2) query of the present ones. */
static void per_node(lx_host_t *h, lx_vm_t *vm, const uint8_t *vec, lx_obs_t *o) {
  void *pages[PM_CHUNK];
  int status[PM_CHUNK];
  o->per_node_known = lx_kernel.move_pages;
  for (uint64_t g = 0; o->per_node_known && g < vm->npages;) {
    unsigned long k = 0;
    for (; g < vm->npages && k < PM_CHUNK; g++)
      if (vec[g])
        pages[k++] = vm->base + g * MMC_PAGE_SIZE;
    if (k && move_pages(0, k, pages, NULL, status, 0) != 0) {
      o->per_node_known = false;
      break;
    }
    for (unsigned long i = 0; i < k; i++) {
      int n = status[i] >= 0 ? lx_node_of_os(h, status[i]) : -1;
      if (n >= 0)
        o->per_node[n]++;
    }
  }
}

static void zero_and_ksm(lx_vm_t *vm, const uint64_t *pfns, const lx_smaps_t *sm, lx_obs_t *o) {
  uint64_t zero = lx_zero_pfn();
  if (zero) { /* PFNs are visible (root) */
    for (uint64_t g = 0; g < vm->npages; g++)
      o->zero += pfns[g] == zero;
  } else {
    uint64_t rss = sm->rss_kb * 1024 / MMC_PAGE_SIZE;
    o->zero = o->present > rss ? o->present - rss : 0;
  }
  o->zero_known = true;
  if (sm->has_ksm) {
    o->ksm = sm->ksm_kb * 1024 / MMC_PAGE_SIZE;
    o->ksm_known = true;
  } else if (lx_kernel.kpageflags) {
    o->ksm = ksm_by_kpageflags(pfns, vm->npages, zero, &o->ksm_known);
  }
}

int lx_observe_vm(lx_host_t *h, lx_vm_t *vm, lx_obs_t *o, uint64_t *pfns_out, mmc_error_t *err) {
  memset(o, 0, sizeof *o);
  uint64_t *pfns = pfns_out ? pfns_out : malloc(vm->npages * sizeof *pfns);
  uint8_t *vec = malloc(vm->npages);
  int rc = 0;
  if (!pfns || !vec)
    rc = mmc_fail(err, MMC_ENOMEM, "vm_stats: out of memory for %llu pages",
                  (unsigned long long)vm->npages);
  if (rc == 0)
    rc = lx_pagemap(vm->base, vm->npages, &o->present, &o->swapped, pfns, vec, err);
  lx_smaps_t sm;
  if (rc == 0)
    rc = lx_smaps_range(NULL, (uintptr_t)vm->base, (uintptr_t)vm->base + vm->bytes, &sm, err);
  if (rc == 0) {
    zero_and_ksm(vm, pfns, &sm, o);
    per_node(h, vm, vec, o);
  }
  if (pfns != pfns_out)
    free(pfns);
  free(vec);
  return rc;
}
