/*
 * balloon.c — the host side of ballooning (BAL-1, BAL-2, BAL-3 host part,
 * SWAP-3 "balloon preferred"; row REF_MECH_BALLOON, MMC_CAP_BALLOON).
 *
 * The host asks (balloon_target), the guest driver chooses the pages and
 * hands them over (balloon_give) or takes them back (balloon_take); the
 * reclaim tick of memstate.c sets the targets from allocation targets
 * (reclaim.h). Rules:
 *  - target <= cap = min(Mem.CtlMaxPercent % of configured memory,
 *    sched.mem.maxmemctl) (BAL-2); a VM without a driver
 *    (cfg.balloon_driver = false) or Mem.CtlMaxPercent = 0 has cap 0 and so
 *    never gets a target;
 *  - give: every gpfn is checked first (range, not given already: MMC_EINVAL,
 *    nothing changed); pages without a frame (never touched, swapped,
 *    compressed) become REF_PTE_BALLOONED by CAS; pages with a frame go
 *    through ref_pmap_remap (one quiescence wait per call), whose release
 *    frees the frame at once with ref_frame_free, i.e. punched out of the
 *    pool's memfd: the kernel really gets the memory back (BAL-1). A page a
 *    vCPU keeps using during the call is retried Ref.MoveRetries times; if it
 *    is still in use the call fails with MMC_EBUSY (the pages given before it
 *    stay given). The caller must not hold page pointers of the VM (a remap
 *    waits for every active vCPU): the guest driver quiesces first;
 *  - take: every gpfn must be BALLOONED (MMC_EINVAL otherwise, nothing
 *    changed); it becomes UNBACKED: it reads as zero and its next touch
 *    allocates a zeroed frame;
 *  - a vCPU touching a BALLOONED page is a guest bug (the guest promised not
 *    to): the access fails with MMC_EINVAL, the VM's violation count grows
 *    and MMC_EV_ERROR "touched ballooned page" is raised; the page stays
 *    ballooned (nothing is handed to the guest that could hide the bug).
 * Events: MMC_EV_BALLOON per give (count = pages, reason "give") and take
 * (reason "take").
 *
 * Invariants: size = number of BALLOONED entries of the VM; target <= cap.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "reclaim.h"
#include "twin.h"

typedef struct bal_vm {
  _Atomic uint64_t size;       /* BALLOONED entries */
  _Atomic uint64_t target;     /* pages the balloon should hold */
  uint64_t short_since_ns;     /* host time the balloon fell short of its target; 0 = not */
  _Atomic uint64_t violations; /* touches of ballooned pages */
} bal_vm_t;

static bal_vm_t *bal_of(const ref_vm_t *vm) {
  return vm->mech[REF_MECH_BALLOON];
}

/* BAL-2: min(Mem.CtlMaxPercent % of configured, sched.mem.maxmemctl); 0
 * without a driver. */
static uint64_t bal_cap(ref_host_t *h, const ref_vm_t *vm) {
  if (!vm->cfg.balloon_driver)
    return 0;
  uint64_t cap = vm->npages * (uint64_t)ref_set(h, REF_SET_MEM_CTL_MAX_PERCENT) / 100;
  if (vm->cfg.maxmemctl_bytes >= 0 && !REF_TWIN(BAL2_MAXMEMCTL_IGNORED)) {
    uint64_t m = (uint64_t)vm->cfg.maxmemctl_bytes / MMC_PAGE_SIZE;
    if (m < cap)
      cap = m;
  }
  return cap;
}

uint64_t ref_balloon_size(const ref_vm_t *vm) {
  const bal_vm_t *b = bal_of(vm);
  return b ? atomic_load(&b->size) : 0;
}

uint64_t ref_balloon_get_target(const ref_vm_t *vm) {
  const bal_vm_t *b = bal_of(vm);
  return b ? atomic_load(&b->target) : 0;
}

void ref_balloon_set_target(ref_host_t *h, ref_vm_t *vm, uint64_t pages, uint64_t now_ns) {
  bal_vm_t *b = bal_of(vm);
  if (!b)
    return;
  uint64_t cap = bal_cap(h, vm);
  atomic_store(&b->target, pages < cap ? pages : cap);
  if (atomic_load(&b->size) >= atomic_load(&b->target))
    b->short_since_ns = 0;
  else if (!b->short_since_ns)
    b->short_since_ns = now_ns ? now_ns : 1;
}

bool ref_balloon_cannot_keep_up(ref_host_t *h, const ref_vm_t *vm, uint64_t now_ns) {
  const bal_vm_t *b = bal_of(vm);
  uint64_t cap = bal_cap(h, vm);
  if (!b || cap == 0 || atomic_load(&b->size) >= cap || REF_TWIN(SWAP3_HARD_STATE_SWAPS_REGARDLESS))
    return true; /* twin: in the hard state every VM above target is swapped */
  uint64_t slow = ref_settings_period_ns(&h->settings, REF_SET_REF_BALLOON_SLOW_TIME);
  return b->short_since_ns && now_ns - b->short_since_ns >= slow;
}

/* ---------------------------------------------------------------- contract calls */

static int bal_find(ref_host_t *h, mmc_vm_id_t id, ref_vm_t **out, mmc_error_t *err) {
  ref_vm_t *vm = ref_vm_get(h, id);
  if (!vm)
    return mmc_fail(err, MMC_ENOENT, "balloon: VM %u does not exist or is powered off", id);
  *out = vm;
  return 0;
}

int ref_balloon_target(ref_host_t *h, mmc_vm_id_t id, uint64_t *pages, mmc_error_t *err) {
  ref_vm_t *vm = NULL;
  if (!pages)
    return mmc_fail(err, MMC_EINVAL, "balloon_target: output pointer is NULL");
  ref_host_lock(h);
  int rc = bal_find(h, id, &vm, err);
  if (rc == 0)
    *pages = ref_balloon_get_target(vm);
  ref_host_unlock(h);
  return rc;
}

static int bal_check(const ref_vm_t *vm, const uint64_t *gpfns, size_t n, bool give,
                     mmc_error_t *err) {
  if (n && !gpfns)
    return mmc_fail(err, MMC_EINVAL, "balloon: %zu pages given but the list is NULL", n);
  for (size_t i = 0; i < n; i++) {
    if (gpfns[i] >= vm->npages)
      return mmc_fail(err, MMC_EINVAL, "balloon: page %llu is out of range 0..%llu of VM %u",
                      (unsigned long long)gpfns[i], (unsigned long long)(vm->npages - 1), vm->id);
    bool in = ref_pte_state(ref_pmap_get(vm->pmap, gpfns[i])) == REF_PTE_BALLOONED;
    if (give && in)
      return mmc_fail(err, MMC_EINVAL, "balloon_give: page %llu of VM %u is already ballooned",
                      (unsigned long long)gpfns[i], vm->id);
    if (!give && !in)
      return mmc_fail(err, MMC_EINVAL, "balloon_take: page %llu of VM %u was not given",
                      (unsigned long long)gpfns[i], vm->id);
    for (size_t j = 0; j < i && j < 64; j++) /* cheap duplicate check of close neighbours */
      if (gpfns[i - 1 - j] == gpfns[i])
        return mmc_fail(err, MMC_EINVAL, "balloon: page %llu is listed twice",
                        (unsigned long long)gpfns[i]);
  }
  return 0;
}

typedef struct bal_ctx {
  ref_host_t *h;
  ref_vm_t *vm;
} bal_ctx_t;

static bool bal_eligible(void *ctx, uint64_t gpfn, uint64_t pte) {
  unsigned st = ref_pte_state(pte);
  return st == REF_PTE_PRIVATE || st == REF_PTE_SHARED;
}

static bool bal_transform(void *ctx, uint64_t gpfn, uint64_t old_pte, uint64_t *new_pte) {
  *new_pte = ref_pte_make(REF_PTE_BALLOONED, 0, 0);
  return true;
}

/* The frame goes back to the kernel now (PRIVATE), or the share mechanism
 * drops this page's reference (SHARED). */
static void bal_release(void *ctx, uint64_t gpfn, uint64_t old_pte) {
  bal_ctx_t *c = ctx;
  unsigned st = ref_pte_state(old_pte);
  if (st == REF_PTE_PRIVATE) {
    uint32_t n = ref_pte_node(old_pte);
    if (!REF_TWIN(BAL1_BALLOONED_FRAMES_KEPT)) /* twin: counted as given back, kept */
      ref_frame_free(c->h->pools[n], ref_pte_frame(old_pte));
    atomic_fetch_sub(&c->vm->pages_per_node[n], 1);
  } else if (ref_mechs[REF_MECH_SHARE] && ref_mechs[REF_MECH_SHARE]->release) {
    ref_mechs[REF_MECH_SHARE]->release(c->h, c->vm, gpfn, old_pte);
  }
  atomic_fetch_add(&bal_of(c->vm)->size, 1);
}

static const ref_remap_ops_t bal_ops = {
    .transform = bal_transform, .release = bal_release, .eligible = bal_eligible};

/* One page without a frame: CAS to BALLOONED. true when done. */
static bool bal_give_frameless(ref_host_t *h, ref_vm_t *vm, uint64_t g, uint64_t pte) {
  unsigned st = ref_pte_state(pte);
  if ((pte & REF_PTE_FLAGS_MASK) ||
      (st != REF_PTE_UNBACKED && st != REF_PTE_SWAPPED && st != REF_PTE_COMPRESSED))
    return false;
  if (!ref_pmap_cas(vm->pmap, g, pte, ref_pte_make(REF_PTE_BALLOONED, 0, 0)))
    return false;
  if (st != REF_PTE_UNBACKED)
    ref_swap_drop(h, vm, pte);
  atomic_fetch_add(&bal_of(vm)->size, 1);
  return true;
}

static uint64_t bal_count(const ref_vm_t *vm, const uint64_t *gpfns, size_t n) {
  uint64_t k = 0;
  for (size_t i = 0; i < n; i++)
    k += ref_pte_state(ref_pmap_get(vm->pmap, gpfns[i])) == REF_PTE_BALLOONED;
  return k;
}

static int bal_give_locked(ref_host_t *h, ref_vm_t *vm, const uint64_t *gpfns, size_t n,
                           mmc_error_t *err) {
  bal_ctx_t ctx = {.h = h, .vm = vm};
  int64_t retries = ref_set(h, REF_SET_REF_MOVE_RETRIES);
  for (int64_t a = 0; a <= retries; a++) {
    for (size_t i = 0; i < n; i++) {
      uint64_t pte = ref_pmap_get(vm->pmap, gpfns[i]);
      /* A sampling mark only: drop it (the page leaves the working set anyway). */
      if ((pte & REF_PTE_FLAGS_MASK) == REF_PTE_SAMPLED &&
          ref_pmap_cas(vm->pmap, gpfns[i], pte, pte & ~REF_PTE_SAMPLED))
        pte &= ~REF_PTE_SAMPLED;
      bal_give_frameless(h, vm, gpfns[i], pte);
    }
    ref_remap_result_t res;
    ref_pmap_remap(vm->pmap, gpfns, n, &bal_ops, &ctx, &res);
    if (bal_count(vm, gpfns, n) == n)
      return 0;
  }
  return mmc_fail(err, MMC_EBUSY,
                  "balloon_give: VM %u kept using %llu of the %zu pages it gave (the others "
                  "are given)",
                  vm->id, (unsigned long long)(n - bal_count(vm, gpfns, n)), n);
}

int ref_balloon_give(ref_host_t *h, mmc_vm_id_t id, const uint64_t *gpfns, size_t n,
                     mmc_error_t *err) {
  ref_vm_t *vm = NULL;
  ref_host_lock(h);
  int rc = bal_find(h, id, &vm, err);
  if (rc == 0)
    rc = bal_check(vm, gpfns, n, true, err);
  if (rc == 0) {
    uint64_t before = ref_balloon_size(vm);
    rc = bal_give_locked(h, vm, gpfns, n, err);
    bal_vm_t *b = bal_of(vm);
    if (atomic_load(&b->size) >= atomic_load(&b->target))
      b->short_since_ns = 0;
    ref_event_emit(h, (mmc_event_t){.type = MMC_EV_BALLOON,
                                    .vm = id,
                                    .node_from = -1,
                                    .node_to = -1,
                                    .count = ref_balloon_size(vm) - before,
                                    .reason = "give"});
  }
  ref_host_unlock(h);
  return rc;
}

int ref_balloon_take(ref_host_t *h, mmc_vm_id_t id, const uint64_t *gpfns, size_t n,
                     mmc_error_t *err) {
  ref_vm_t *vm = NULL;
  ref_host_lock(h);
  int rc = bal_find(h, id, &vm, err);
  if (rc == 0)
    rc = bal_check(vm, gpfns, n, false, err);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    /* No vCPU can hold or lock a ballooned entry (its touch fails): plain CAS. */
    uint64_t pte = ref_pmap_get(vm->pmap, gpfns[i]);
    if (ref_pmap_cas(vm->pmap, gpfns[i], pte, 0))
      atomic_fetch_sub(&bal_of(vm)->size, 1);
  }
  if (rc == 0)
    ref_event_emit(h, (mmc_event_t){.type = MMC_EV_BALLOON,
                                    .vm = id,
                                    .node_from = -1,
                                    .node_to = -1,
                                    .count = n,
                                    .reason = "take"});
  ref_host_unlock(h);
  return rc;
}

/* ---------------------------------------------------------------- row */

static int bal_vm_on(ref_host_t *h, ref_vm_t *vm, mmc_error_t *err) {
  bal_vm_t *b = calloc(1, sizeof *b);
  if (!b)
    return mmc_fail(err, MMC_ENOMEM, "balloon: out of memory for VM %u", vm->id);
  vm->mech[REF_MECH_BALLOON] = b;
  return 0;
}

static void bal_vm_off(ref_host_t *h, ref_vm_t *vm) {
  free(vm->mech[REF_MECH_BALLOON]);
  vm->mech[REF_MECH_BALLOON] = NULL;
}

static int bal_fault(ref_host_t *h, ref_vm_t *vm, uint32_t vcpu, uint64_t gpfn, bool write,
                     uint64_t *pte, mmc_error_t *err) {
  bal_vm_t *b = bal_of(vm);
  if (b)
    atomic_fetch_add(&b->violations, 1);
  ref_event_emit(h, (mmc_event_t){.type = MMC_EV_ERROR,
                                  .vm = vm->id,
                                  .node_from = -1,
                                  .node_to = -1,
                                  .client = vcpu,
                                  .count = gpfn,
                                  .reason = "touched ballooned page"});
  return mmc_fail(err, MMC_EINVAL,
                  "VM %u vCPU %u touched page %llu, which its balloon holds (take it back first)",
                  vm->id, vcpu, (unsigned long long)gpfn);
}

static void bal_vm_stats(ref_host_t *h, ref_vm_t *vm, mmc_vm_stats_t *out) {
  out->ballooned_pages =
      REF_TWIN(BAL3_SIZE_REPORTS_TARGET) ? ref_balloon_get_target(vm) : ref_balloon_size(vm);
  out->balloon_target_pages = ref_balloon_get_target(vm);
}

const ref_mech_t ref_mech_balloon = {.name = "balloon",
                                     .caps = MMC_CAP_BALLOON,
                                     .vm_on = bal_vm_on,
                                     .vm_off = bal_vm_off,
                                     .fault_states = REF_STATE_BIT(REF_PTE_BALLOONED),
                                     .fault = bal_fault,
                                     .vm_stats = bal_vm_stats};
