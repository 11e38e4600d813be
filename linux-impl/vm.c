/*
 * vm.c — VMs and the vCPU side of the Linux implementation.
 *
 * A VM's memory is one anonymous private mapping (MAP_NORESERVE) of its
 * configured size, translated by the hardware: page() returns base + offset
 * and quiesce() has nothing to wait for, because every remap the kernel
 * does (migration, KSM merge and copy-on-write, swap-out and swap-in) is a
 * page-table change with its own TLB shootdown; a write through a pointer
 * can never be lost and two vCPUs can never see two frames for one page.
 * Anonymous private memory is what KSM merges and what swap holds; untouched
 * pages read from the kernel's shared zero page (SEC-1: a new mapping never
 * shows another VM's data; the kernel zeroes every page it hands out).
 *
 * Placement is the kernel's: no binding at all unless the VM asks for
 * numa.nodeAffinity (NUMA-9: numa.c binds memory with mbind and vCPU
 * threads with sched_setaffinity); otherwise the scheduler runs a vCPU
 * thread anywhere and first touch decides each page's node.
 *
 * What Linux cannot do is refused, never pretended: a salt answers
 * MMC_ENOTSUP (no MMC_CAP_SALTING). Reservations are locked memory and
 * admission control is ours (reserve.c); limits are held by pressure.c.
 * Shares are accepted and have no effect, as MMC_CAP_ALLOC_TARGETS is
 * clear.
 *
 * Invariants:
 *  - a refused power-on leaves nothing: no mapping, no file, no id used;
 *  - power-off with a vCPU entered is MMC_EBUSY, so the mapping outlives
 *    every pointer page() returned;
 *  - a vCPU thread leaves with the CPU affinity it entered with.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lx.h"

typedef struct lx_vcpu_priv {
  lx_vcpu_t pub;
  cpu_set_t entered_mask; /* the thread's affinity before vcpu_enter */
  bool mask_saved;
  uint64_t cpu_at_enter; /* ns of the thread's CPU clock at enter */
} lx_vcpu_priv_t;

static uint64_t clock_ns(clockid_t c) {
  struct timespec ts;
  if (clock_gettime(c, &ts) != 0)
    return 0;
  return (uint64_t)ts.tv_sec * LX_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------------- configuration */

static int check_affinity(const lx_host_t *h, uint64_t aff, mmc_error_t *err) {
  if (!aff)
    return 0;
  if (!(lx_kernel.caps & MMC_CAP_NODE_AFFINITY))
    return mmc_fail(err, MMC_ENOTSUP, "numa.nodeAffinity: %s", lx_why_not(MMC_CAP_NODE_AFFINITY));
  if (h->nnodes < 64 && aff >> h->nnodes)
    return mmc_fail(err, MMC_ENOENT,
                    "numa.nodeAffinity 0x%llx names a node that does not exist (nodes 0..%u)",
                    (unsigned long long)aff, h->nnodes - 1);
  bool cpus = false;
  for (uint32_t n = 0; n < h->nnodes; n++)
    cpus = cpus || ((aff >> n & 1) && h->nodes[n].ncpus);
  if (!cpus)
    return mmc_fail(err, MMC_EINVAL,
                    "numa.nodeAffinity 0x%llx names only nodes without CPUs: the vCPUs could "
                    "run nowhere",
                    (unsigned long long)aff);
  return 0;
}

static int check_config(const lx_host_t *h, const mmc_vm_config_t *c, mmc_error_t *err) {
  if (!c)
    return mmc_fail(err, MMC_EINVAL, "VM config is NULL");
  if (c->vcpus < 1 || c->vcpus > MMC_MAX_VCPUS)
    return mmc_fail(err, MMC_EINVAL, "vcpus %u is out of range 1..%u", c->vcpus, MMC_MAX_VCPUS);
  if (c->memory_bytes == 0 || c->memory_bytes % MMC_PAGE_SIZE)
    return mmc_fail(err, MMC_EINVAL, "memory %llu bytes: must be a positive multiple of %u",
                    (unsigned long long)c->memory_bytes, MMC_PAGE_SIZE);
  if (c->reservation_bytes > c->memory_bytes)
    return mmc_fail(err, MMC_EINVAL, "reservation %llu bytes is above the VM's memory %llu",
                    (unsigned long long)c->reservation_bytes, (unsigned long long)c->memory_bytes);
  if (c->shares == 0 || c->shares < MMC_SHARES_HIGH)
    return mmc_fail(err, MMC_EINVAL,
                    "shares %lld: use MMC_SHARES_LOW/NORMAL/HIGH or a positive "
                    "number",
                    (long long)c->shares);
  if (c->maxmemctl_bytes < -1)
    return mmc_fail(err, MMC_EINVAL, "sched.mem.maxmemctl %lld: -1 (unset) or >= 0",
                    (long long)c->maxmemctl_bytes);
  int rc = check_affinity(h, c->node_affinity, err);
  if (rc)
    return rc;
  if (c->salt)
    return mmc_fail(err, MMC_ENOTSUP, "sched.mem.pshare.salt: %s", lx_why_not(MMC_CAP_SALTING));
  if (c->limit_bytes && c->limit_bytes < c->reservation_bytes)
    return mmc_fail(err, MMC_EINVAL, "limit %llu bytes is below the reservation %llu",
                    (unsigned long long)c->limit_bytes, (unsigned long long)c->reservation_bytes);
  return 0;
}

static void keep_config(lx_vm_t *vm, const mmc_vm_config_t *c) {
  vm->cfg = *c;
  snprintf(vm->name, sizeof vm->name, "%s", c->name ? c->name : "");
  vm->cfg.name = vm->name;
  vm->cfg.salt = NULL;
}

/* ---------------------------------------------------------------- power */

static int grow_table(lx_host_t *h, mmc_vm_id_t id, mmc_error_t *err) {
  if (id < h->vm_cap)
    return 0;
  uint32_t cap = h->vm_cap ? h->vm_cap * 2 : 64;
  while (cap <= id)
    cap *= 2;
  lx_vm_t **t = realloc(h->vms, cap * sizeof *t);
  if (!t)
    return mmc_fail(err, MMC_ENOMEM, "power-on: out of memory for the VM table");
  memset(t + h->vm_cap, 0, (cap - h->vm_cap) * sizeof *t);
  h->vms = t;
  h->vm_cap = cap;
  return 0;
}

/* The VM's mapping between two inaccessible guard pages: the kernel merges
 * adjacent anonymous mappings of equal flags into one VMA, and a VM must
 * be its own VMAs for smaps (KSM, Referenced, Rss) to describe it alone. */
#define LX_GUARD MMC_PAGE_SIZE

static int map_memory(lx_vm_t *vm, mmc_error_t *err) {
  vm->bytes = (size_t)vm->npages * MMC_PAGE_SIZE;
  uint8_t *p = mmap(NULL, vm->bytes + 2 * LX_GUARD, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    return mmc_fail(err, errno == ENOMEM ? MMC_EADMISSION : MMC_EIO,
                    "power-on: cannot map %zu bytes of guest memory: %s", vm->bytes,
                    strerror(errno));
  if (mprotect(p + LX_GUARD, vm->bytes, PROT_READ | PROT_WRITE) != 0) {
    munmap(p, vm->bytes + 2 * LX_GUARD);
    return mmc_fail(err, MMC_EIO, "power-on: mprotect of guest memory: %s", strerror(errno));
  }
  vm->base = p + LX_GUARD;
  vm->balloon_map = calloc((vm->npages + 7) / 8, 1);
  if (!vm->balloon_map)
    return mmc_fail(err, MMC_ENOMEM, "power-on: out of memory for the balloon map");
  return 0;
}

void lx_vm_free(lx_host_t *h, lx_vm_t *vm) {
  if (vm->base)
    munmap(vm->base - LX_GUARD, vm->bytes + 2 * LX_GUARD); /* swapped pages go with it, then
                                                              the file can go */
  lx_swap_vm_remove(h, vm);
  if (vm->id < h->vm_cap && h->vms[vm->id] == vm)
    h->vms[vm->id] = NULL;
  free(vm->balloon_map);
  free(vm);
}

static int setup_vm(lx_host_t *h, lx_vm_t *vm, mmc_error_t *err) {
  int rc = lx_reserve_admit(h, NULL, &vm->cfg, err);
  if (rc == 0)
    rc = map_memory(vm, err);
  if (rc == 0 && vm->cfg.node_affinity)
    rc = lx_numa_bind_memory(h, vm, vm->cfg.node_affinity, err);
  if (rc == 0)
    rc = lx_reserve_apply(vm, lx_reserved_pages(&vm->cfg), err); /* after the binding */
  if (rc == 0 && (lx_kernel.caps & MMC_CAP_SHARING))
    rc = lx_ksm_vm_apply(h, vm, err);
  if (rc == 0 && (lx_kernel.caps & MMC_CAP_SWAP))
    rc = lx_swap_vm_create(h, vm, err);
  return rc;
}

int lx_vm_power_on(mmc_host_t *h, const mmc_vm_config_t *cfg, mmc_vm_id_t *out, mmc_error_t *err) {
  if (!out)
    return mmc_fail(err, MMC_EINVAL, "power-on: output pointer is NULL");
  lx_lock(h);
  int rc = check_config(h, cfg, err);
  lx_vm_t *vm = rc ? NULL : calloc(1, sizeof *vm);
  if (!rc && !vm)
    rc = mmc_fail(err, MMC_ENOMEM, "power-on: out of memory");
  if (!rc && !(rc = grow_table(h, h->next_id, err))) {
    vm->id = h->next_id;
    vm->npages = cfg->memory_bytes / MMC_PAGE_SIZE;
    keep_config(vm, cfg);
    rc = setup_vm(h, vm, err);
  }
  if (rc) {
    if (vm)
      lx_vm_free(h, vm);
    lx_unlock(h);
    return rc;
  }
  h->vms[vm->id] = vm;
  h->next_id++;
  h->nvms++;
  atomic_store(&vm->on, true);
  lx_emit(h, (mmc_event_t){.type = MMC_EV_POWER_ON,
                           .vm = vm->id,
                           .node_from = -1,
                           .node_to = -1,
                           .count = vm->npages});
  *out = vm->id;
  lx_unlock(h);
  return 0;
}

static int check_same(const lx_vm_t *vm, const mmc_vm_config_t *c, mmc_error_t *err) {
  if (c->vcpus != vm->cfg.vcpus || c->memory_bytes != vm->cfg.memory_bytes ||
      strcmp(c->name ? c->name : "", vm->name))
    return mmc_fail(err, MMC_EINVAL,
                    "reconfigure VM %u: name, vcpus and memory must stay as they were", vm->id);
  return 0;
}

int lx_vm_reconfigure(mmc_host_t *h, mmc_vm_id_t id, const mmc_vm_config_t *cfg, mmc_error_t *err) {
  lx_lock(h);
  lx_vm_t *vm = lx_vm_get(h, id, err);
  int rc = vm ? check_config(h, cfg, err) : MMC_ENOENT;
  if (rc == 0)
    rc = check_same(vm, cfg, err);
  if (rc == 0)
    rc = lx_reserve_admit(h, vm, cfg, err);
  if (rc == 0 && cfg->node_affinity != vm->cfg.node_affinity)
    rc = lx_numa_rebind(h, vm, cfg->node_affinity, err);
  if (rc == 0)
    rc = lx_reserve_apply(vm, lx_reserved_pages(cfg), err);
  if (rc == 0) {
    bool share_changed = cfg->pshare_enable != vm->cfg.pshare_enable;
    keep_config(vm, cfg);
    if (share_changed && (lx_kernel.caps & MMC_CAP_SHARING))
      rc = lx_ksm_vm_apply(h, vm, err);
    lx_emit(h, (mmc_event_t){.type = MMC_EV_RECONFIGURE, .vm = id, .node_from = -1, .node_to = -1});
  }
  lx_unlock(h);
  return rc;
}

int lx_vm_power_off(mmc_host_t *h, mmc_vm_id_t id, mmc_error_t *err) {
  lx_lock(h);
  lx_vm_t *vm = lx_vm_get(h, id, err);
  int rc = vm ? 0 : MMC_ENOENT;
  if (vm && vm->nentered)
    rc = mmc_fail(err, MMC_EBUSY, "power-off VM %u: %u vCPUs are still entered", id, vm->nentered);
  if (rc == 0) {
    atomic_store(&vm->on, false);
    h->nvms--;
    lx_emit(h, (mmc_event_t){.type = MMC_EV_POWER_OFF,
                             .vm = id,
                             .node_from = -1,
                             .node_to = -1,
                             .count = vm->npages});
    lx_vm_free(h, vm);
  }
  lx_unlock(h);
  return rc;
}

/* ---------------------------------------------------------------- the vCPU side */

int lx_vcpu_enter(mmc_host_t *h, mmc_vm_id_t id, uint32_t index, mmc_vcpu_t **out,
                  mmc_error_t *err) {
  if (!out)
    return mmc_fail(err, MMC_EINVAL, "vcpu_enter: output pointer is NULL");
  lx_lock(h);
  lx_vm_t *vm = lx_vm_get(h, id, err);
  int rc = vm ? 0 : MMC_ENOENT;
  if (vm && index >= vm->cfg.vcpus)
    rc = mmc_fail(err, MMC_EINVAL, "vcpu_enter: VM %u has vCPUs 0..%u, not %u", id,
                  vm->cfg.vcpus - 1, index);
  else if (vm && vm->vcpus[index])
    rc = mmc_fail(err, MMC_EBUSY, "vcpu_enter: vCPU %u of VM %u is entered by another thread",
                  index, id);
  lx_vcpu_priv_t *v = rc ? NULL : calloc(1, sizeof *v);
  if (rc == 0 && !v)
    rc = mmc_fail(err, MMC_ENOMEM, "vcpu_enter: out of memory");
  if (rc == 0) {
    v->pub = (lx_vcpu_t){.h = h, .vm = vm, .index = index, .tid = gettid()};
    pthread_getcpuclockid(pthread_self(), &v->pub.cpu_clock);
    v->cpu_at_enter = clock_ns(v->pub.cpu_clock);
    v->mask_saved = sched_getaffinity(0, sizeof v->entered_mask, &v->entered_mask) == 0;
    if (vm->cfg.node_affinity)
      rc = lx_numa_bind_vcpu(h, &v->pub, vm->cfg.node_affinity, err);
  }
  if (rc == 0) {
    vm->vcpus[index] = &v->pub;
    vm->nentered++;
    *out = (mmc_vcpu_t *)v;
  } else {
    free(v);
  }
  lx_unlock(h);
  return rc;
}

void *lx_page(mmc_vcpu_t *handle, uint64_t gpfn, bool write, mmc_error_t *err) {
  (void)write; /* the hardware takes the copy-on-write fault itself */
  lx_vcpu_t *v = (lx_vcpu_t *)handle;
  if (!v) {
    mmc_fail(err, MMC_EINVAL, "page: vCPU handle is NULL");
    return NULL;
  }
  lx_vm_t *vm = v->vm;
  if (!atomic_load_explicit(&vm->on, memory_order_relaxed)) {
    mmc_fail(err, MMC_ESTATE, "page: VM %u is powered off", vm->id);
    return NULL;
  }
  if (gpfn >= vm->npages) {
    mmc_fail(err, MMC_ERANGE, "page: gpfn %llu is out of range 0..%llu", (unsigned long long)gpfn,
             (unsigned long long)vm->npages - 1);
    return NULL;
  }
  return vm->base + gpfn * MMC_PAGE_SIZE;
}

void lx_quiesce(mmc_vcpu_t *v) {
  (void)v; /* the hardware's translation needs no quiescent point */
}

void lx_vcpu_set_demand(mmc_vcpu_t *handle, uint32_t permille) {
  lx_vcpu_t *v = (lx_vcpu_t *)handle;
  if (v)
    atomic_store_explicit(&v->demand, permille, memory_order_relaxed);
}

void lx_vcpu_exit(mmc_vcpu_t *handle) {
  lx_vcpu_priv_t *v = (lx_vcpu_priv_t *)handle;
  if (!v)
    return;
  lx_host_t *h = v->pub.h;
  lx_lock(h);
  lx_vm_t *vm = v->pub.vm;
  vm->exec_ns_done += clock_ns(v->pub.cpu_clock) - v->cpu_at_enter;
  vm->vcpus[v->pub.index] = NULL;
  vm->nentered--;
  lx_unlock(h);
  if (v->mask_saved)
    sched_setaffinity(0, sizeof v->entered_mask, &v->entered_mask);
  free(v);
}

uint64_t lx_vm_exec_ns(lx_vm_t *vm) {
  uint64_t ns = vm->exec_ns_done;
  for (uint32_t i = 0; i < vm->cfg.vcpus; i++) {
    lx_vcpu_priv_t *v = (lx_vcpu_priv_t *)vm->vcpus[i];
    if (v)
      ns += clock_ns(v->pub.cpu_clock) - v->cpu_at_enter;
  }
  return ns;
}

int lx_vcpu_info(mmc_host_t *h, mmc_vm_id_t id, uint32_t index, mmc_vcpu_info_t *out,
                 mmc_error_t *err) {
  if (!out)
    return mmc_fail(err, MMC_EINVAL, "vcpu_info: output pointer is NULL");
  lx_lock(h);
  lx_vm_t *vm = lx_vm_get(h, id, err);
  int rc = vm ? 0 : MMC_ENOENT;
  if (vm && index >= vm->cfg.vcpus)
    rc = mmc_fail(err, MMC_EINVAL, "vcpu_info: VM %u has vCPUs 0..%u, not %u", id,
                  vm->cfg.vcpus - 1, index);
  if (rc == 0) {
    lx_vcpu_t *v = vm->vcpus[index];
    /* No home node: where the scheduler last ran the thread, when entered. */
    int node = v ? lx_numa_thread_node(h, v->tid) : -1;
    *out = (mmc_vcpu_info_t){.node = node < 0 ? 0 : (uint32_t)node,
                             .binding_applied = v && vm->cfg.node_affinity != 0,
                             .vnode = 0};
  }
  lx_unlock(h);
  return rc;
}

/* ---------------------------------------------------------------- statistics */

/* Fields Linux cannot give for one VM of a process. */
#define LX_VM_UNOBSERVED                                                                           \
  (MMC_VMSTAT_HOME_NODE | MMC_VMSTAT_COMPRESSED | MMC_VMSTAT_TARGET | MMC_VMSTAT_HOME_CHANGES |    \
   MMC_VMSTAT_COW_BREAKS | MMC_VMSTAT_PAGES_SCANNED | MMC_VMSTAT_PAGES_SAMPLED |                   \
   MMC_VMSTAT_REMOTE_FALLBACK | MMC_VMSTAT_PAGES_MIGRATED)

static void fill_stats(lx_vm_t *vm, const lx_obs_t *o, mmc_vm_stats_t *out) {
  memset(out, 0, sizeof *out);
  out->configured_pages = vm->npages;
  out->nclients = 1;
  out->vnuma_nodes = 1;
  memcpy(out->pages_per_node, o->per_node, sizeof out->pages_per_node);
  out->resident_pages = o->present;
  out->zero_pages = o->zero;
  out->shared_pages = o->ksm + o->zero;
  out->ballooned_pages = vm->ballooned;
  out->swapped_pages = o->swapped;
  out->wss_estimate_pages = vm->wss_pages;
  out->balloon_target_pages = 0; /* the kernel never asks a balloon for pages */
  out->pages_migrated = vm->pages_moved;
  out->exec_ns = lx_vm_exec_ns(vm);
  out->unobserved = LX_VM_UNOBSERVED;
  if (!o->per_node_known)
    out->unobserved |= MMC_VMSTAT_PAGES_PER_NODE;
  if (!o->ksm_known || !o->zero_known)
    out->unobserved |= MMC_VMSTAT_SHARED;
  if (!o->zero_known)
    out->unobserved |= MMC_VMSTAT_ZERO;
  if (!vm->wss_valid)
    out->unobserved |= MMC_VMSTAT_WSS_ESTIMATE; /* no window has completed yet */
}

int lx_vm_stats(mmc_host_t *h, mmc_vm_id_t id, mmc_vm_stats_t *out, mmc_error_t *err) {
  if (!out)
    return mmc_fail(err, MMC_EINVAL, "vm_stats: output pointer is NULL");
  lx_lock(h);
  lx_vm_t *vm = lx_vm_get(h, id, err);
  int rc = vm ? 0 : MMC_ENOENT;
  lx_obs_t o;
  if (rc == 0)
    rc = lx_observe_vm(h, vm, &o, NULL, err);
  if (rc == 0)
    fill_stats(vm, &o, out);
  lx_unlock(h);
  return rc;
}
