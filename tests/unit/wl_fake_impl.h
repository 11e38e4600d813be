/*
 * wl_fake_impl.h — a minimal in-test implementation of the contract
 * (mmcert/impl.h) for testing libworkloads without the reference: every VM
 * is a calloc'd array of pages, page() hands out pointers into it.
 *
 * It is a test double, not an implementation: no NUMA, no sharing, no
 * policies. What it adds is checking and fault injection:
 *   - it counts stepped-mode rule violations (a vCPU asking for a page while
 *     another vCPU of the host still holds pointers; advance() while a vCPU
 *     holds pointers) so tests prove the drivers quiesce as the contract says;
 *   - eretry_every = N makes every Nth page() call of a vCPU that holds
 *     pointers fail with MMC_ERETRY, as a real remapper would;
 *   - tests corrupt pages directly through page() pointers to play a buggy
 *     hypervisor (lost write, other VM's data, flipped byte).
 * Invariant: the fake never changes page contents on its own.
 */
#ifndef WL_FAKE_IMPL_H
#define WL_FAKE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mmc_error.h"
#include "mmcert/impl.h"

#define FAKE_MAX_VMS 64u

struct mmc_vcpu {
  struct fake_vm *vm;
  uint32_t index;
  atomic_bool held; /* holds pointers from page() */
  uint32_t demand;
  uint64_t calls;
};

typedef struct fake_vm {
  struct mmc_host *host;
  mmc_vm_id_t id;
  uint64_t npages;
  uint32_t nvcpus;
  unsigned char *mem;
  struct mmc_vcpu *vcpus;
  bool *entered;
} fake_vm_t;

struct mmc_host {
  pthread_mutex_t lock;
  mmc_clock_mode_t clock;
  uint64_t now_ns;
  fake_vm_t *vms[FAKE_MAX_VMS];
  mmc_vm_id_t next_id;
  uint32_t eretry_every;                /* 0 = never */
  atomic_uint_fast64_t held_vcpus;      /* vCPUs holding pointers now */
  atomic_uint_fast64_t rule_violations; /* stepped-mode quiesce rule broken */
  atomic_uint_fast64_t eretries;
  uint64_t power_ons, power_offs;
};

static int fake_host_create(const mmc_host_config_t *cfg, mmc_host_t **out, mmc_error_t *err) {
  mmc_host_t *h = calloc(1, sizeof *h);
  if (!h)
    return mmc_fail(err, MMC_ENOMEM, "fake: no memory");
  pthread_mutex_init(&h->lock, NULL);
  h->clock = cfg->clock;
  h->next_id = 1;
  *out = h;
  return 0;
}

static void fake_vm_free(fake_vm_t *vm) {
  free(vm->mem);
  free(vm->vcpus);
  free(vm->entered);
  free(vm);
}

static void fake_host_destroy(mmc_host_t *h) {
  for (size_t i = 0; i < FAKE_MAX_VMS; i++)
    if (h->vms[i])
      fake_vm_free(h->vms[i]);
  pthread_mutex_destroy(&h->lock);
  free(h);
}

static int fake_advance(mmc_host_t *h, uint64_t now, mmc_error_t *err) {
  if (h->clock != MMC_CLOCK_STEPPED)
    return mmc_fail(err, MMC_ENOTSUP, "fake: advance() in live mode");
  if (now < h->now_ns)
    return mmc_fail(err, MMC_ESTATE, "fake: time going back");
  if (atomic_load(&h->held_vcpus) != 0)
    atomic_fetch_add(&h->rule_violations, 1);
  h->now_ns = now;
  return 0;
}

static uint64_t fake_now(mmc_host_t *h) {
  return h->now_ns;
}

static fake_vm_t *fake_find(mmc_host_t *h, mmc_vm_id_t id) {
  for (size_t i = 0; i < FAKE_MAX_VMS; i++)
    if (h->vms[i] && h->vms[i]->id == id)
      return h->vms[i];
  return NULL;
}

static int fake_power_on(mmc_host_t *h, const mmc_vm_config_t *cfg, mmc_vm_id_t *out,
                         mmc_error_t *err) {
  if (cfg->vcpus == 0 || cfg->memory_bytes == 0 || cfg->memory_bytes % MMC_PAGE_SIZE)
    return mmc_fail(err, MMC_EINVAL, "fake: bad VM config");
  fake_vm_t *vm = calloc(1, sizeof *vm);
  if (!vm)
    return mmc_fail(err, MMC_ENOMEM, "fake: no memory");
  vm->npages = cfg->memory_bytes / MMC_PAGE_SIZE;
  vm->nvcpus = cfg->vcpus;
  vm->mem = calloc(vm->npages, MMC_PAGE_SIZE);
  vm->vcpus = calloc(cfg->vcpus, sizeof *vm->vcpus);
  vm->entered = calloc(cfg->vcpus, sizeof *vm->entered);
  if (!vm->mem || !vm->vcpus || !vm->entered) {
    fake_vm_free(vm);
    return mmc_fail(err, MMC_ENOMEM, "fake: no memory");
  }
  pthread_mutex_lock(&h->lock);
  size_t slot = 0;
  while (slot < FAKE_MAX_VMS && h->vms[slot])
    slot++;
  if (slot == FAKE_MAX_VMS) {
    pthread_mutex_unlock(&h->lock);
    fake_vm_free(vm);
    return mmc_fail(err, MMC_EADMISSION, "fake: at most %u VMs", FAKE_MAX_VMS);
  }
  vm->id = h->next_id++;
  vm->host = h;
  for (uint32_t i = 0; i < vm->nvcpus; i++)
    vm->vcpus[i] = (struct mmc_vcpu){.vm = vm, .index = i};
  h->vms[slot] = vm;
  h->power_ons++;
  pthread_mutex_unlock(&h->lock);
  *out = vm->id;
  return 0;
}

static int fake_power_off(mmc_host_t *h, mmc_vm_id_t id, mmc_error_t *err) {
  pthread_mutex_lock(&h->lock);
  for (size_t i = 0; i < FAKE_MAX_VMS; i++) {
    fake_vm_t *vm = h->vms[i];
    if (!vm || vm->id != id)
      continue;
    for (uint32_t j = 0; j < vm->nvcpus; j++)
      if (vm->entered[j]) {
        pthread_mutex_unlock(&h->lock);
        return mmc_fail(err, MMC_EBUSY, "fake: VM %u vCPU %u entered", id, j);
      }
    h->vms[i] = NULL;
    h->power_offs++;
    pthread_mutex_unlock(&h->lock);
    fake_vm_free(vm);
    return 0;
  }
  pthread_mutex_unlock(&h->lock);
  return mmc_fail(err, MMC_ENOENT, "fake: no VM %u", id);
}

static int fake_vcpu_enter(mmc_host_t *h, mmc_vm_id_t id, uint32_t index, mmc_vcpu_t **out,
                           mmc_error_t *err) {
  pthread_mutex_lock(&h->lock);
  fake_vm_t *vm = fake_find(h, id);
  int rc = 0;
  if (!vm)
    rc = mmc_fail(err, MMC_ENOENT, "fake: no VM %u", id);
  else if (index >= vm->nvcpus)
    rc = mmc_fail(err, MMC_EINVAL, "fake: no vCPU %u", index);
  else if (vm->entered[index])
    rc = mmc_fail(err, MMC_EBUSY, "fake: vCPU %u already entered", index);
  if (!rc) {
    vm->entered[index] = true;
    *out = &vm->vcpus[index];
  }
  pthread_mutex_unlock(&h->lock);
  return rc;
}

static void fake_quiesce(mmc_vcpu_t *v) {
  if (atomic_exchange(&v->held, false))
    atomic_fetch_sub(&v->vm->host->held_vcpus, 1);
}

static void *fake_page(mmc_vcpu_t *v, uint64_t gpfn, bool write, mmc_error_t *err) {
  mmc_host_t *h = v->vm->host;
  if (gpfn >= v->vm->npages) {
    mmc_fail(err, MMC_ERANGE, "fake: gpfn %llu out of range", (unsigned long long)gpfn);
    return NULL;
  }
  bool held = atomic_load(&v->held);
  v->calls++;
  if (held && h->eretry_every && v->calls % h->eretry_every == 0) {
    atomic_fetch_add(&h->eretries, 1);
    mmc_fail(err, MMC_ERETRY, "fake: injected retry");
    return NULL;
  }
  if (!held) {
    /* Stepped mode: nobody else may hold pointers when this vCPU starts. */
    if (atomic_fetch_add(&h->held_vcpus, 1) != 0 && h->clock == MMC_CLOCK_STEPPED)
      atomic_fetch_add(&h->rule_violations, 1);
    atomic_store(&v->held, true);
  }
  return v->vm->mem + gpfn * MMC_PAGE_SIZE;
}

static void fake_set_demand(mmc_vcpu_t *v, uint32_t permille) {
  v->demand = permille;
}

static void fake_vcpu_exit(mmc_vcpu_t *v) {
  fake_quiesce(v);
  mmc_host_t *h = v->vm->host;
  pthread_mutex_lock(&h->lock);
  v->vm->entered[v->index] = false;
  pthread_mutex_unlock(&h->lock);
}

static const mmc_impl_t fake_impl = {
    .abi_version = MMCERT_ABI_VERSION,
    .struct_size = sizeof(mmc_impl_t),
    .name = "fake",
    .version = "0",
    .capabilities = MMC_CAP_CLOCK_STEPPED | MMC_CAP_CLOCK_LIVE,
    .host_create = fake_host_create,
    .host_destroy = fake_host_destroy,
    .advance = fake_advance,
    .now = fake_now,
    .vm_power_on = fake_power_on,
    .vm_power_off = fake_power_off,
    .vcpu_enter = fake_vcpu_enter,
    .page = fake_page,
    .quiesce = fake_quiesce,
    .vcpu_set_demand = fake_set_demand,
    .vcpu_exit = fake_vcpu_exit,
};

#endif
