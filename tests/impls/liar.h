/*
 * liar.h — deliberately wrong implementations for the suite's own tests: a
 * wrapper that dlopen()s the reference (libmmref.so two directories up from
 * this object, i.e. build/libmmref.so) and passes every call through except
 * one lie, chosen by the including file:
 *   LIAR_HOME   vm_stats and vcpu_info report every home node shifted by one:
 *               only a probe of where pages really are can tell (NUMA-1).
 *   LIAR_DIRTY  the first write access to each guest page hands out a frame
 *               full of 0xAB bytes, as if not zeroed before reuse (SEC-1).
 *   LIAR_LOSE   every 997th write access hands out a private scratch copy of
 *               the page, so what the guest writes there is lost (INT-1).
 *   LIAR_PILE   every VM powered on without a numa.nodeAffinity is given the
 *               affinity of the lowest node that accepts it (the reference
 *               refuses memory-only nodes), so all of them pile up on one node
 *               and report it honestly: the balance checks must fail (NUMA-2).
 * Each proves a case catches that lie (tests/cli/cases.t).
 */
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmcert/impl.h"

mmc_impl_t mmcert_impl; /* filled at load time from the real table */
static const mmc_impl_t *real;

/* A wrapped vCPU handle: the real one and the VM it belongs to. */
typedef struct liar_vcpu {
  mmc_vcpu_t *real;
  mmc_vm_id_t vm;
} liar_vcpu_t;

enum { liar_max_vms = 1024, liar_lose_every = 997 };

#ifdef LIAR_DIRTY
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char *seen[liar_max_vms]; /* per VM id: page already handed out */
static uint64_t seen_n[liar_max_vms];
#endif
#ifdef LIAR_LOSE
static atomic_ulong writes;
static _Thread_local unsigned char scratch[MMC_PAGE_SIZE];
#endif

static int liar_vcpu_enter(mmc_host_t *h, mmc_vm_id_t vm, uint32_t index, mmc_vcpu_t **out,
                           mmc_error_t *err) {
  liar_vcpu_t *w = calloc(1, sizeof *w);
  if (!w)
    return MMC_ENOMEM;
  int rc = real->vcpu_enter(h, vm, index, &w->real, err);
  if (rc) {
    free(w);
    return rc;
  }
  w->vm = vm;
  *out = (mmc_vcpu_t *)w;
  return 0;
}

static void liar_vcpu_exit(mmc_vcpu_t *v) {
  liar_vcpu_t *w = (liar_vcpu_t *)v;
  real->vcpu_exit(w->real);
  free(w);
}

static void liar_quiesce(mmc_vcpu_t *v) {
  real->quiesce(((liar_vcpu_t *)v)->real);
}

static void liar_set_demand(mmc_vcpu_t *v, uint32_t permille) {
  real->vcpu_set_demand(((liar_vcpu_t *)v)->real, permille);
}

static void *liar_page(mmc_vcpu_t *v, uint64_t gpfn, bool write, mmc_error_t *err) {
  liar_vcpu_t *w = (liar_vcpu_t *)v;
  unsigned char *p = real->page(w->real, gpfn, write, err);
  if (!p || !write)
    return p;
#ifdef LIAR_DIRTY
  pthread_mutex_lock(&seen_lock);
  if (w->vm < liar_max_vms && seen[w->vm] && gpfn < seen_n[w->vm] && !seen[w->vm][gpfn]) {
    seen[w->vm][gpfn] = 1;
    memset(p, 0xab, MMC_PAGE_SIZE);
  }
  pthread_mutex_unlock(&seen_lock);
#endif
#ifdef LIAR_LOSE
  if (atomic_fetch_add(&writes, 1) % liar_lose_every == liar_lose_every - 1) {
    memcpy(scratch, p, MMC_PAGE_SIZE);
    return scratch;
  }
#endif
  return p;
}

static int liar_power_on(mmc_host_t *h, const mmc_vm_config_t *cfg, mmc_vm_id_t *out,
                         mmc_error_t *err) {
#ifdef LIAR_PILE
  if (cfg && cfg->node_affinity == 0) {
    mmc_vm_config_t one = *cfg;
    for (uint32_t n = 0; n < MMC_MAX_NODES; n++) {
      one.node_affinity = 1ull << n;
      int prc = real->vm_power_on(h, &one, out, err);
      if (prc == 0 || prc == MMC_ENOENT) /* placed, or past the last node */
        return prc == 0 ? 0 : real->vm_power_on(h, cfg, out, err);
    }
  }
#endif
  int rc = real->vm_power_on(h, cfg, out, err);
#ifdef LIAR_DIRTY
  if (rc == 0 && *out < liar_max_vms) {
    pthread_mutex_lock(&seen_lock);
    seen_n[*out] = cfg->memory_bytes / MMC_PAGE_SIZE;
    seen[*out] = calloc(seen_n[*out], 1);
    pthread_mutex_unlock(&seen_lock);
  }
#endif
  return rc;
}

static int liar_vcpu_info(mmc_host_t *h, mmc_vm_id_t vm, uint32_t index, mmc_vcpu_info_t *out,
                          mmc_error_t *err) {
  int rc = real->vcpu_info(h, vm, index, out, err);
#ifdef LIAR_HOME
  mmc_host_stats_t hs;
  if (rc == 0 && real->host_stats(h, &hs, NULL) == 0 && out->node < hs.nnodes)
    out->node = (out->node + 1) % hs.nnodes;
#else
  (void)h;
#endif
  return rc;
}

static int liar_vm_stats(mmc_host_t *h, mmc_vm_id_t vm, mmc_vm_stats_t *out, mmc_error_t *err) {
  int rc = real->vm_stats(h, vm, out, err);
#ifdef LIAR_HOME
  mmc_host_stats_t hs;
  if (rc == 0 && real->host_stats(h, &hs, NULL) == 0) {
    if (out->home_node < hs.nnodes)
      out->home_node = (out->home_node + 1) % hs.nnodes;
    for (uint32_t i = 0; i < out->nclients && i < MMC_MAX_NODES; i++)
      if (out->client_home[i] < hs.nnodes)
        out->client_home[i] = (out->client_home[i] + 1) % hs.nnodes;
  }
#endif
  return rc;
}

__attribute__((constructor)) static void liar_load(void) {
  Dl_info self;
  char path[PATH_MAX];
  if (!dladdr((void *)liar_load, &self) || !self.dli_fname)
    return;
  snprintf(path, sizeof path, "%s", self.dli_fname);
  char lib[PATH_MAX + 32];
  snprintf(lib, sizeof lib, "%s/../../libmmref.so", dirname(path));
  void *hd = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  real = hd ? dlsym(hd, MMCERT_IMPL_SYMBOL) : NULL;
  if (!real) {
    fprintf(stderr, "liar: cannot load the reference %s: %s\n", lib, dlerror());
    return; /* the table stays zero: the suite refuses it (wrong ABI) */
  }
  mmcert_impl = *real;
  mmcert_impl.name = LIAR_NAME;
  mmcert_impl.vcpu_enter = liar_vcpu_enter;
  mmcert_impl.vcpu_exit = liar_vcpu_exit;
  mmcert_impl.quiesce = liar_quiesce;
  mmcert_impl.vcpu_set_demand = liar_set_demand;
  mmcert_impl.page = liar_page;
  mmcert_impl.vm_power_on = liar_power_on;
  mmcert_impl.vcpu_info = liar_vcpu_info;
  mmcert_impl.vm_stats = liar_vm_stats;
}
