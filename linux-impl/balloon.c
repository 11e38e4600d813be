/*
 * balloon.c — the balloon channel on MADV_DONTNEED (BAL-1).
 *
 * The mechanism is the one a KVM host uses for a virtio balloon: the pages
 * the guest driver hands over are dropped with madvise(MADV_DONTNEED), so
 * their frames go back to the kernel at once (mincore and pagemap show them
 * gone) and a later access reads the zero page; a page taken back is simply
 * the guest's again and reads as zero until written. Anonymous private
 * memory has no backing file, so MADV_REMOVE does not apply; MADV_DONTNEED
 * frees the same way.
 *
 * The policy is not Linux's to have: the kernel never asks a balloon for
 * pages (a KVM balloon's target is set by whoever manages the VM), so
 * balloon_target() always answers 0 and there is no cap to enforce
 * (Mem.CtlMaxPercent is MMC_ENOTSUP). The guest may still give pages on its
 * own; they are freed and counted.
 *
 * A page of the VM's reservation is locked (reserve.c) and cannot be given.
 *
 * Invariants: a page is given at most once before it is taken back; a call
 * that fails changes nothing (every page is checked before any is freed).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "lx.h"

static bool bit(const uint8_t *map, uint64_t g) {
  return map[g / 8] >> (g % 8) & 1;
}
static void bit_set(uint8_t *map, uint64_t g) {
  map[g / 8] |= (uint8_t)(1u << (g % 8));
}
static void bit_clear(uint8_t *map, uint64_t g) {
  map[g / 8] &= (uint8_t) ~(1u << (g % 8));
}

int lx_balloon_target(mmc_host_t *h, mmc_vm_id_t id, uint64_t *pages, mmc_error_t *err) {
  if (!pages)
    return mmc_fail(err, MMC_EINVAL, "balloon_target: output pointer is NULL");
  lx_lock(h);
  lx_vm_t *vm = lx_vm_get(h, id, err);
  lx_unlock(h);
  if (!vm)
    return MMC_ENOENT;
  *pages = 0; /* the kernel never asks for balloon pages */
  return 0;
}

/* Mark pages[0..n) given (want=true) or taken; on a page that is out of
 * range or in the wrong state, undo and fail. */
static int flip(lx_vm_t *vm, const uint64_t *g, size_t n, bool give, mmc_error_t *err) {
  for (size_t i = 0; i < n; i++) {
    int rc = 0;
    if (g[i] >= vm->npages)
      rc = mmc_fail(err, MMC_ERANGE, "balloon: gpfn %llu is out of range 0..%llu",
                    (unsigned long long)g[i], (unsigned long long)vm->npages - 1);
    else if (give && g[i] < vm->locked_pages)
      rc = mmc_fail(err, MMC_EINVAL,
                    "balloon_give: gpfn %llu is in VM %u's reservation, locked (mlock): the "
                    "kernel drops no locked page",
                    (unsigned long long)g[i], vm->id);
    else if (bit(vm->balloon_map, g[i]) == give)
      rc = mmc_fail(err, MMC_EINVAL, "balloon_%s: gpfn %llu %s", give ? "give" : "take",
                    (unsigned long long)g[i],
                    give ? "is already in the balloon" : "was not given to the balloon");
    if (rc) {
      for (size_t j = 0; j < i; j++)
        (give ? bit_clear : bit_set)(vm->balloon_map, g[j]);
      return rc;
    }
    (give ? bit_set : bit_clear)(vm->balloon_map, g[i]);
  }
  return 0;
}

/* MADV_DONTNEED in runs of consecutive gpfns (one call per run). */
static int release(lx_vm_t *vm, const uint64_t *g, size_t n, mmc_error_t *err) {
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && g[j] == g[j - 1] + 1)
      j++;
    if (madvise(vm->base + g[i] * MMC_PAGE_SIZE, (j - i) * MMC_PAGE_SIZE, MADV_DONTNEED) != 0)
      return mmc_fail(err, MMC_EIO, "balloon_give: madvise(MADV_DONTNEED): %s", strerror(errno));
    i = j;
  }
  return 0;
}

static int balloon_change(mmc_host_t *h, mmc_vm_id_t id, const uint64_t *g, size_t n, bool give,
                          mmc_error_t *err) {
  if (n && !g)
    return mmc_fail(err, MMC_EINVAL, "balloon: %zu pages given but the list is NULL", n);
  lx_lock(h);
  lx_vm_t *vm = lx_vm_get(h, id, err);
  int rc = vm ? flip(vm, g, n, give, err) : MMC_ENOENT;
  if (rc == 0 && give && (rc = release(vm, g, n, err)) != 0)
    flip(vm, g, n, false, NULL);
  if (rc == 0 && n) {
    vm->ballooned = give ? vm->ballooned + n : vm->ballooned - n;
    mmc_event_t ev = {.type = MMC_EV_BALLOON, .vm = id, .node_from = -1, .node_to = -1, .count = n};
    snprintf(ev.reason, sizeof ev.reason, "%s", give ? "give" : "take");
    lx_emit(h, ev);
  }
  lx_unlock(h);
  return rc;
}

int lx_balloon_give(mmc_host_t *h, mmc_vm_id_t id, const uint64_t *g, size_t n, mmc_error_t *err) {
  return balloon_change(h, id, g, n, true, err);
}

int lx_balloon_take(mmc_host_t *h, mmc_vm_id_t id, const uint64_t *g, size_t n, mmc_error_t *err) {
  return balloon_change(h, id, g, n, false, err);
}
