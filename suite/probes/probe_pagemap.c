/*
 * probe_pagemap.c — frame identity and page state through the kernel's
 * /proc/self/pagemap and /proc/kpageflags (TPS-1..8, SALT-*, SEC-1, SWAP-2,
 * MIG-*; probes any implementation can be judged by).
 *
 * pagemap has one 64-bit entry per virtual page of the process
 * (Documentation/admin-guide/mm/pagemap.rst): bit 63 present, 62 swapped,
 * 61 file page or shared anonymous, 56 exclusively mapped, 55 soft-dirty,
 * bits 0-54 the page frame number (PFN) when present. Since Linux 4.2 the
 * PFN reads as 0 without CAP_SYS_ADMIN, so frame identity by PFN needs root;
 * the other bits are visible to anyone. kpageflags has one 64-bit word of
 * KPF_* flags per PFN (root only): KSM marks a page merged by the kernel's
 * samepage merging, ZERO_PAGE the kernel's shared zero page.
 *
 * Why it matters: an implementation that hands out pointers into memory the
 * hardware translates (one mapping per VM, page() = base + offset) never
 * returns equal pointers for two guest pages, even when the kernel merged
 * their frames (KSM) or maps both to the zero page. Two pointers hold the
 * same frame exactly when their PFNs are equal; that is true for the
 * reference's software MMU (pointers into memfd pools) as well, so one probe
 * judges both kinds.
 *
 * Invariant: a PFN is read at one instant; callers read the PFNs of pointers
 * that are valid (before the vCPU's next quiesce) so the frame cannot be
 * remapped meanwhile by the implementation's contract.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmc_error.h"
#include "probes.h"

#define PM_PFN_MASK ((1ull << 55) - 1)
#define PM_SOFT_DIRTY (1ull << 55)
#define PM_EXCLUSIVE (1ull << 56)
#define PM_FILE_SHARED (1ull << 61)
#define PM_SWAPPED (1ull << 62)
#define PM_PRESENT (1ull << 63)

probe_pagemap_entry_t probe_pagemap_decode(uint64_t raw) {
  probe_pagemap_entry_t e = {
      .present = (raw & PM_PRESENT) != 0,
      .swapped = (raw & PM_SWAPPED) != 0,
      .file_shared = (raw & PM_FILE_SHARED) != 0,
      .exclusive = (raw & PM_EXCLUSIVE) != 0,
      .soft_dirty = (raw & PM_SOFT_DIRTY) != 0,
  };
  /* Bits 0-54 hold the swap type and offset of a swapped page, not a PFN. */
  if (e.present)
    e.pfn = raw & PM_PFN_MASK;
  return e;
}

static int read_exact(int fd, void *buf, size_t len, off_t at, const char *what, mmc_error_t *err) {
  ssize_t got = pread(fd, buf, len, at);
  if (got == (ssize_t)len)
    return 0;
  return mmc_fail(err, MMC_EIO, "probe pagemap: reading %s at offset %lld: %s", what, (long long)at,
                  got < 0 ? strerror(errno) : "short read");
}

/* Are PFNs visible to this process? Ask for a page surely present: the one
 * holding a local variable the call has just written. */
static int pfns_visible(int fd, bool *out, mmc_error_t *err) {
  volatile uint64_t here = 1;
  uint64_t raw = 0;
  uintptr_t vpn = (uintptr_t)&here / MMC_PAGE_SIZE;
  int rc = read_exact(fd, &raw, sizeof raw, (off_t)(vpn * sizeof raw), "pagemap", err);
  if (rc == 0)
    *out = probe_pagemap_decode(raw).pfn != 0;
  return rc;
}

int probe_pagemap_open(probe_pagemap_t *pm, const char *pagemap_path, const char *kpageflags_path,
                       mmc_error_t *err) {
  *pm = (probe_pagemap_t){.fd = -1, .flags_fd = -1};
  const char *file = pagemap_path ? pagemap_path : "/proc/self/pagemap";
  pm->fd = open(file, O_RDONLY | O_CLOEXEC);
  if (pm->fd < 0)
    return mmc_fail(err, MMC_EIO, "probe pagemap: cannot open %s: %s", file, strerror(errno));
  int rc = pagemap_path ? 0 : pfns_visible(pm->fd, &pm->pfns, err);
  if (rc) {
    probe_pagemap_close(pm);
    return rc;
  }
  if (pagemap_path)
    pm->pfns = true; /* a test file holds whatever PFNs it was given */
  /* kpageflags is root-only; its absence only means no KSM/zero-page bits. */
  const char *flags = kpageflags_path ? kpageflags_path : "/proc/kpageflags";
  pm->flags_fd = open(flags, O_RDONLY | O_CLOEXEC);
  return 0;
}

void probe_pagemap_close(probe_pagemap_t *pm) {
  if (pm->fd >= 0)
    close(pm->fd);
  if (pm->flags_fd >= 0)
    close(pm->flags_fd);
  *pm = (probe_pagemap_t){.fd = -1, .flags_fd = -1};
}

/* Entries are read in runs of consecutive virtual pages (a hardware-
 * translated VM's pointers are base + offset), at most this many at once. */
enum { probe_pagemap_run = 512 };

int probe_pagemap_read(const probe_pagemap_t *pm, void *const *pages, size_t n,
                       probe_pagemap_entry_t *out, mmc_error_t *err) {
  uint64_t raw[probe_pagemap_run];
  for (size_t i = 0; i < n;) {
    uintptr_t vpn = (uintptr_t)pages[i] / MMC_PAGE_SIZE;
    size_t run = 1;
    while (i + run < n && run < probe_pagemap_run &&
           (uintptr_t)pages[i + run] / MMC_PAGE_SIZE == vpn + run)
      run++;
    int rc =
        read_exact(pm->fd, raw, run * sizeof raw[0], (off_t)(vpn * sizeof raw[0]), "pagemap", err);
    if (rc)
      return rc;
    for (size_t k = 0; k < run; k++)
      out[i + k] = probe_pagemap_decode(raw[k]);
    i += run;
  }
  return 0;
}

int probe_kpageflags(const probe_pagemap_t *pm, const uint64_t *pfns, size_t n, uint64_t *flags,
                     mmc_error_t *err) {
  if (pm->flags_fd < 0)
    return mmc_fail(err, MMC_ENOTSUP,
                    "probe kpageflags: /proc/kpageflags is not readable (it needs root)");
  for (size_t i = 0; i < n; i++) {
    flags[i] = 0;
    if (!pfns[i])
      continue;
    int rc = read_exact(pm->flags_fd, &flags[i], sizeof flags[i],
                        (off_t)(pfns[i] * sizeof flags[i]), "kpageflags", err);
    if (rc)
      return rc;
  }
  return 0;
}
