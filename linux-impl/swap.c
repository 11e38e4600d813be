/*
 * swap.c — host swapping and compression on the kernel's swap and zswap
 * (SWAP-1, SWAP-2, ZIP-1, SEC-2).
 *
 * What the kernel offers: swap areas (swapon(2) of a file on a disk
 * filesystem) shared by the whole machine; MADV_PAGEOUT, which reclaims the
 * given range's pages now (anonymous ones to swap), whatever their age; and
 * zswap, a compressed pool in memory in front of the swap areas that keeps
 * a page when it compresses well and writes it to swap when it does not.
 * A swapped page comes back by the hardware's fault on the next access.
 *
 * How the contract maps onto it:
 *  - SWAP-1: each VM gets its own file at power-on, in the host's swap
 *    directory (mmc_host_config_t.swap_dir, else $TMPDIR/mmcert-linux-swap),
 *    named mmcert-PID-HOST-vmID.swap, sized configured - reservation (the reservation is locked and
 *    never swapped: reserve.c), mode 0600, fully allocated (the kernel refuses a
 *    file with holes) and formatted with mkswap's header; a file that
 *    cannot be made refuses the power-on (MMC_EADMISSION). It is removed
 *    at power-off. The file is recorded with the borrow module before it
 *    exists, so a crashed run's files are removed by the next run.
 *  - the file is swapped on only when the host first pages out from that VM
 *    (every area at one priority, so the kernel spreads over them): any
 *    swap area makes every idle page of the machine a candidate for
 *    reclaim, so none exists longer than needed. Linux's swap areas belong
 *    to the machine, not to a VM: a VM's pages may land in any area that is
 *    on, including another VM's file.
 *  - other page-out agents pause while our areas are on: a DAMON kdamond
 *    running a "pageout" scheme (a machine's configuration, not the
 *    kernel's default) would otherwise page out every process's idle
 *    memory into areas that exist only for the run, and the VM pages it
 *    took would leave memory without the host knowing (no MMC_EV_SWAP_OUT,
 *    paged_out short). Its state is borrowed ("off"; restored with the
 *    other knobs, also after a crash).
 *  - ZIP-1: with Mem.MemZipEnable=1, zswap is switched on (borrowed) before
 *    the first area; zswap's pool size is machine-wide (max_pool_percent),
 *    so Mem.MemZipMaxPct is MMC_ENOTSUP, and which pages sit compressed
 *    rather than on disk is not visible per process (MMC_VMSTAT_COMPRESSED
 *    unobserved, no MMC_EV_COMPRESS).
 *  - who pages out, and when, is pressure.c's.
 * Invariant: a swap file exists exactly from power-on to power-off of its
 * VM, and swapoff runs after the VM's mapping is gone, so swapoff reads
 * nothing of ours back.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "lx.h"
#include "mmc_borrow.h"
#include "mmc_tmpdir.h"

#define SWAP_PRIORITY 100
#define SWAP_MIN_PAGES 10 /* the kernel refuses smaller areas */
#define SWAP_MAGIC "SWAPSPACE2"

void lx_swap_format_header(unsigned char *page, uint64_t file_pages) {
  memset(page, 0, MMC_PAGE_SIZE);
  uint32_t version = 1, last = (uint32_t)(file_pages - 1), bad = 0;
  memcpy(page + 1024, &version, 4); /* struct swap_header.info, after 1024 boot bytes */
  memcpy(page + 1028, &last, 4);
  memcpy(page + 1032, &bad, 4);
  memcpy(page + 1052, "mmcert", 6); /* volume label (uuid at 1036 left zero) */
  memcpy(page + MMC_PAGE_SIZE - 10, SWAP_MAGIC, 10);
}

bool lx_swap_dir_ok(const char *dir, char *why, size_t whylen) {
  struct statfs fs;
  if (statfs(dir, &fs) != 0) {
    snprintf(why, whylen, "swap directory %s: %s", dir, strerror(errno));
    return false;
  }
  const char *kind = NULL;
  switch ((unsigned long)fs.f_type) {
  case 0x01021994ul: kind = "tmpfs"; break;
  case 0x858458f6ul: kind = "ramfs"; break;
  case 0x794c7630ul: kind = "overlayfs"; break;
  case 0x6969ul: kind = "NFS"; break;
  default: return true;
  }
  snprintf(why, whylen,
           "the kernel refuses swap files on %s, and the swap directory %s is there (set "
           "TMPDIR to a disk filesystem)",
           kind, dir);
  return false;
}

/* Without a swap_dir the files go to $TMPDIR/mmcert-linux-swap, one
 * directory for every host (0700, never removed), so a killed run leaves no
 * directory behind: its files are removed by the borrow module. */
int lx_swap_host_init(lx_host_t *h, const char *dir, mmc_error_t *err) {
  static _Atomic unsigned host_seq;
  if (dir && *dir)
    snprintf(h->swap_dir, sizeof h->swap_dir, "%s", dir); /* checked at power-on (SWAP-1) */
  else
    snprintf(h->swap_dir, sizeof h->swap_dir, "%s/mmcert-linux-swap", mmc_tmpdir());
  if (!(dir && *dir) && mkdir(h->swap_dir, 0700) != 0 && errno != EEXIST)
    return mmc_fail(err, MMC_EIO, "host_create: cannot make the swap directory %s: %s", h->swap_dir,
                    strerror(errno));
  snprintf(h->swap_prefix, sizeof h->swap_prefix, "mmcert-%ld-%u", (long)getpid(),
           atomic_fetch_add(&host_seq, 1));
  return 0;
}

/* The file itself: exclusive, 0600, allocated, formatted. A VM reserved
 * whole gets an empty file (nothing of it can be swapped). */
static int make_file(const char *path, uint64_t bytes, mmc_error_t *err) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return mmc_fail(err, MMC_EADMISSION, "power-on: cannot create swap file %s: %s", path,
                    strerror(errno));
  unsigned char page[MMC_PAGE_SIZE];
  lx_swap_format_header(page, bytes / MMC_PAGE_SIZE);
  int rc = 0;
  if (fchmod(fd, 0600) != 0 ||
      (bytes >= MMC_PAGE_SIZE && (fallocate(fd, 0, 0, (off_t)bytes) != 0 ||
                                  pwrite(fd, page, sizeof page, 0) != (ssize_t)sizeof page)))
    rc = mmc_fail(err, MMC_EADMISSION, "power-on: cannot allocate swap file %s (%llu bytes): %s",
                  path, (unsigned long long)bytes, strerror(errno));
  close(fd);
  if (rc)
    unlink(path);
  return rc;
}

int lx_swap_vm_create(lx_host_t *h, lx_vm_t *vm, mmc_error_t *err) {
  uint64_t bytes = vm->cfg.memory_bytes - vm->cfg.reservation_bytes;
  if (!h->borrowing)
    return 0;
  char path[LX_PATH_MAX];
  if (snprintf(path, sizeof path, "%s/%s-vm%u.swap", h->swap_dir, h->swap_prefix, vm->id) >=
      (int)sizeof path)
    return mmc_fail(err, MMC_EADMISSION, "power-on: swap directory path too long");
  char why[256];
  if (!lx_swap_dir_ok(h->swap_dir, why, sizeof why))
    return mmc_fail(err, MMC_EADMISSION, "power-on: no swap file can be made: %s", why);
  int rc = mmc_borrow_swap_add(path, err);
  if (rc)
    return rc;
  if ((rc = make_file(path, bytes, err)) != 0) {
    mmc_borrow_swap_remove(path, NULL);
    return rc;
  }
  snprintf(vm->swap_path, sizeof vm->swap_path, "%s", path);
  return 0;
}

void lx_swap_vm_remove(lx_host_t *h, lx_vm_t *vm) {
  if (!vm->swap_path[0])
    return;
  mmc_error_t e = {0};
  if (mmc_borrow_swap_remove(vm->swap_path, &e) != 0) {
    mmc_event_t ev = {.type = MMC_EV_ERROR, .vm = vm->id, .node_from = -1, .node_to = -1};
    snprintf(ev.reason, sizeof ev.reason, "swapoff failed");
    lx_emit(h, ev);
  }
  vm->swap_path[0] = '\0';
  vm->swap_on = false;
}

#define DAMON_KDAMONDS "/sys/kernel/mm/damon/admin/kdamonds"

/* Whether kdamond directory `kd` (under DAMON_KDAMONDS) has a context with
 * a scheme whose action is pageout. */
static bool kdamond_pages_out(const char *kd) {
  char path[LX_PATH_MAX], action[32];
  for (int c = 0; c < 64; c++)
    for (int s = 0; s < 64; s++) {
      snprintf(path, sizeof path, DAMON_KDAMONDS "/%s/contexts/%d/schemes/%d/action", kd, c, s);
      if (mmc_borrow_read(path, action, sizeof action, NULL) != 0) {
        if (s == 0)
          return false; /* no context c: none further */
        break;
      }
      if (strncmp(action, "pageout", 7) == 0)
        return true;
    }
  return false;
}

/* Every running kdamond that pages out is borrowed off (see the top). */
static int pause_proactive_reclaimers(lx_host_t *h, mmc_error_t *err) {
  if (h->reclaimers_paused)
    return 0;
  DIR *d = opendir(DAMON_KDAMONDS);
  int rc = 0;
  struct dirent *de;
  while (d && rc == 0 && (de = readdir(d)) != NULL) {
    if (de->d_name[0] < '0' || de->d_name[0] > '9')
      continue;
    char state_path[LX_PATH_MAX], state[16];
    snprintf(state_path, sizeof state_path, DAMON_KDAMONDS "/%s/state", de->d_name);
    if (mmc_borrow_read(state_path, state, sizeof state, NULL) != 0 || strncmp(state, "on", 2))
      continue;
    if (kdamond_pages_out(de->d_name))
      rc = mmc_borrow_knob(state_path, "off", err);
  }
  if (d)
    closedir(d);
  h->reclaimers_paused = rc == 0;
  return rc;
}

/* zswap first (Mem.MemZipEnable), other page-out agents paused, then the
 * VM's area. */
static int swap_on(lx_host_t *h, lx_vm_t *vm, mmc_error_t *err) {
  if (vm->swap_on)
    return 0;
  if (!vm->swap_path[0] || vm->npages - lx_reserved_pages(&vm->cfg) < SWAP_MIN_PAGES)
    return mmc_fail(err, MMC_ENOTSUP, "VM %u has no swap file the kernel accepts", vm->id);
  int rc = 0;
  if ((lx_kernel.caps & MMC_CAP_COMPRESSION) && !h->zswap_set) {
    rc = mmc_borrow_knob("/sys/module/zswap/parameters/enabled",
                         lx_set(h, LX_SET_MEM_ZIP_ENABLE) ? "Y" : "N", err);
    h->zswap_set = rc == 0;
  }
  if (rc == 0)
    rc = pause_proactive_reclaimers(h, err);
  if (rc == 0 && (rc = mmc_borrow_swapon(vm->swap_path, SWAP_PRIORITY, err)) == 0)
    vm->swap_on = true;
  return rc;
}

/* Pages of the range mapped to a frame, by pagemap: a page MADV_PAGEOUT
 * unmapped is a swap entry at once, even while its write is under way
 * (mincore would still count it: it is in the swap cache until written). */
static uint64_t resident(const lx_vm_t *vm, uint64_t gpfn, uint64_t count) {
  uint64_t present = 0, swapped = 0;
  if (lx_pagemap(vm->base + gpfn * MMC_PAGE_SIZE, count, &present, &swapped, NULL, NULL, NULL))
    return 0;
  return present;
}

int lx_swap_pageout(lx_host_t *h, lx_vm_t *vm, uint64_t gpfn, uint64_t count, mmc_error_t *err) {
  int rc = swap_on(h, vm, err);
  if (rc)
    return rc;
  uint64_t before = resident(vm, gpfn, count);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (madvise(vm->base + gpfn * MMC_PAGE_SIZE, count * MMC_PAGE_SIZE, MADV_PAGEOUT) != 0)
    rc = mmc_fail(err, MMC_EIO, "madvise(MADV_PAGEOUT) of VM %u: %s", vm->id, strerror(errno));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  uint64_t us = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000);
  uint64_t after = resident(vm, gpfn, count);
  if (rc == 0 && before > after) {
    vm->paged_out += before - after;
    mmc_event_t ev = {.type = MMC_EV_SWAP_OUT,
                      .vm = vm->id,
                      .node_from = -1,
                      .node_to = -1,
                      .count = before - after};
    snprintf(ev.reason, sizeof ev.reason, "MADV_PAGEOUT us=%llu", (unsigned long long)us);
    lx_emit(h, ev);
  }
  return rc;
}
