/*
 * reserve.c — reservations, admission control and limits (ALLOC-1; the
 * floor and ceiling of SWAP-1 and of pressure.c).
 *
 * What Linux has. A KVM host guarantees a guest's memory by locking it:
 * QEMU's -overcommit mem-lock=on (libvirt's <locked/>) mlock()s the guest's
 * RAM, so the kernel never reclaims it, and mlock() itself fails when the
 * kernel cannot make the pages resident (RLIMIT_MEMLOCK for a non-root
 * process). The kernel's per-group controls (cgroup memory.min, memory.max)
 * charge whole processes, so they cannot hold one VM of this process.
 *
 * What this does:
 *  - sched.mem.min: the first `reservation` bytes of the VM's mapping are
 *    mlock()ed at power-on (made resident and never reclaimed): the VM keeps
 *    at least that much, which is what a reservation guarantees; which guest
 *    pages are locked is ours to choose (the lowest), the kernel's mlock is
 *    the mechanism;
 *  - admission control, which Linux does not have (the contract requires
 *    it): a power-on or reconfigure is refused with MMC_EADMISSION when the
 *    reservations of the host's VMs would exceed the host's memory (its
 *    nodes' memory_bytes), or when mlock() fails (the kernel's own refusal,
 *    named with its errno);
 *  - sched.mem.max: pressure.c pages out what a VM holds above its limit,
 *    as the kernel's memory.max would for a cgroup of its own (ours: the
 *    kernel cannot do it for part of a process).
 * Locked pages cannot be paged out (MADV_PAGEOUT refuses locked mappings)
 * or dropped by the balloon (MADV_DONTNEED refuses them): pressure.c sweeps
 * only the unlocked part, and balloon.c refuses a locked page with a reason.
 *
 * Invariant: Σ reservations of the host's powered-on VMs <= host memory,
 * and vm->locked_pages is what is mlock()ed now.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include <sys/syscall.h>
#include <unistd.h>

#include "lx.h"

uint64_t lx_reserved_pages(const mmc_vm_config_t *c) {
  return c->reservation_bytes / MMC_PAGE_SIZE;
}

int lx_reserve_admit(lx_host_t *h, const lx_vm_t *self, const mmc_vm_config_t *c,
                     mmc_error_t *err) {
  uint64_t others = 0;
  for (uint32_t i = 1; i < h->vm_cap; i++) {
    const lx_vm_t *vm = h->vms[i];
    if (vm && vm != self && atomic_load(&vm->on))
      others += lx_reserved_pages(&vm->cfg);
  }
  uint64_t want = lx_reserved_pages(c);
  if (want && others + want > h->capacity_pages)
    return mmc_fail(err, MMC_EADMISSION,
                    "admission: reservation of %llu MiB cannot be guaranteed: the host has "
                    "%llu MiB and %llu MiB are reserved already",
                    (unsigned long long)(want * MMC_PAGE_SIZE >> 20),
                    (unsigned long long)(h->capacity_pages * MMC_PAGE_SIZE >> 20),
                    (unsigned long long)(others * MMC_PAGE_SIZE >> 20));
  return 0;
}

/* mlock(2) and munlock(2) as system calls: the sanitizers' runtimes replace
 * the libc wrappers with no-ops (AddressSanitizer's "mlock is not
 * supported"), so an instrumented build would lock nothing and a
 * reservation would be neither resident nor safe from reclaim. */
static int lock_range(void *addr, size_t len) {
  return (int)syscall(SYS_mlock, addr, len);
}

static void unlock_range(void *addr, size_t len) {
  syscall(SYS_munlock, addr, len);
}

int lx_reserve_apply(lx_vm_t *vm, uint64_t pages, mmc_error_t *err) {
  if (pages > vm->locked_pages) {
    size_t off = (size_t)vm->locked_pages * MMC_PAGE_SIZE;
    size_t len = (size_t)(pages - vm->locked_pages) * MMC_PAGE_SIZE;
    if (lock_range(vm->base + off, len) != 0)
      return mmc_fail(err, MMC_EADMISSION,
                      "admission: the kernel cannot lock a %zu MiB reservation of VM %u "
                      "(mlock: %s)",
                      len >> 20, vm->id, strerror(errno));
  } else if (pages < vm->locked_pages) {
    unlock_range(vm->base + (size_t)pages * MMC_PAGE_SIZE,
                 (size_t)(vm->locked_pages - pages) * MMC_PAGE_SIZE);
  }
  vm->locked_pages = pages;
  return 0;
}
