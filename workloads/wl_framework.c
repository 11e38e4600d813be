/*
 * wl_framework.c — workload VMs and vCPUs, guest page access through the
 * contract with the MMC_ERETRY protocol, the stepped and live drivers, and
 * the CPU-demand model.
 *
 * SPEC ids served: INT-1 (writes go through page(write) and update the truth
 * only once the whole page is written; reads are checked whole), NUMA-4..12
 * (CPU demand: declared with vcpu_set_demand in stepped mode, generated as a
 * busy/sleep duty cycle on the vCPU thread in live mode).
 *
 * Contract rules honoured (mmcert/impl.h "Threading", "Guest pointers"):
 *   - stepped: one thread drives every vCPU in turn; each vCPU is quiesced
 *     after its step, before the next runs and before advance();
 *   - live: each vCPU is entered, used and exited by its own thread, which
 *     quiesces after every step;
 *   - a write asks page(write) first and fills the page through that pointer
 *     (never a read pointer kept from before);
 *   - MMC_ERETRY: we hold no pointer we still use, so quiesce and redo the
 *     access from scratch, at most WL_RETRY_MAX times.
 * Invariant: the truth entry of a page changes only after its content was
 * written completely, by the one vCPU that owns the page.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mmc_error.h"
#include "workload.h"

#define PERMILLE 1000u
#define NS_PER_S 1000000000ull

/* ---------------------------------------------------------------- VMs */

int wl_vm_create(wl_vm_t **out, const wl_vm_params_t *p, mmc_error_t *err) {
  *out = NULL;
  if (!p || !p->impl || !p->host || !p->ops || !p->ops->step)
    return mmc_fail(err, MMC_EINVAL, "workload VM: implementation, host and workload required");
  if (p->nvcpus == 0 || p->nvcpus > MMC_MAX_VCPUS)
    return mmc_fail(err, MMC_EINVAL, "workload VM %u: %u vCPUs (allowed 1..%u)", p->id, p->nvcpus,
                    MMC_MAX_VCPUS);
  wl_vm_t *vm = calloc(1, sizeof *vm);
  if (!vm)
    return mmc_fail(err, MMC_ENOMEM, "workload VM %u: no memory", p->id);
  int rc = wl_truth_init(&vm->truth, p->seed, p->npages, err);
  if (rc)
    goto out_free;
  vm->vcpus = calloc(p->nvcpus, sizeof *vm->vcpus);
  if (!vm->vcpus) {
    rc = mmc_fail(err, MMC_ENOMEM, "workload VM %u: no memory for %u vCPUs", p->id, p->nvcpus);
    goto out_truth;
  }
  vm->impl = p->impl;
  vm->host = p->host;
  vm->id = p->id;
  vm->nvcpus = p->nvcpus;
  vm->seed = p->seed;
  vm->ops = p->ops;
  vm->t0_ns = p->impl->now ? p->impl->now(p->host) : 0;
  for (uint32_t i = 0; i < p->nvcpus; i++) {
    wl_vcpu_t *v = &vm->vcpus[i];
    v->vm = vm;
    v->index = i;
    v->demand_permille = PERMILLE; /* a guest that computes all the time */
    wl_rng_seed(&v->rng, wl_seed_mix(p->seed, i));
  }
  if (p->ops->init) {
    rc = p->ops->init(vm, p->cfg, err);
    if (rc) {
      mmc_error_prefix(err, "workload %s on VM %u", p->ops->name, p->id);
      goto out_vcpus;
    }
  }
  *out = vm;
  return 0;
out_vcpus:
  free(vm->vcpus);
out_truth:
  wl_truth_fini(&vm->truth);
out_free:
  free(vm);
  return rc;
}

void wl_vm_destroy(wl_vm_t *vm) {
  if (!vm)
    return;
  wl_vm_exit_all(vm);
  if (vm->ops->fini)
    vm->ops->fini(vm);
  free(vm->vcpus);
  wl_truth_fini(&vm->truth);
  free(vm);
}

int wl_vm_boot(wl_vm_t **out, const mmc_impl_t *impl, mmc_host_t *host, const mmc_vm_config_t *cfg,
               uint64_t seed, const wl_ops_t *ops, const void *wcfg, mmc_error_t *err) {
  *out = NULL;
  mmc_vm_id_t id;
  int rc = impl->vm_power_on(host, cfg, &id, err);
  if (rc) {
    mmc_error_prefix(err, "vm_power_on(%s)", cfg->name ? cfg->name : "unnamed");
    return rc;
  }
  wl_vm_params_t p = {.impl = impl,
                      .host = host,
                      .id = id,
                      .nvcpus = cfg->vcpus,
                      .npages = cfg->memory_bytes / MMC_PAGE_SIZE,
                      .seed = seed,
                      .ops = ops,
                      .cfg = wcfg};
  rc = wl_vm_create(out, &p, err);
  if (rc)
    impl->vm_power_off(host, id, NULL);
  return rc;
}

int wl_vm_shutdown(wl_vm_t *vm, mmc_error_t *err) {
  if (!vm)
    return 0;
  const mmc_impl_t *impl = vm->impl;
  mmc_host_t *host = vm->host;
  mmc_vm_id_t id = vm->id;
  wl_vm_destroy(vm);
  int rc = impl->vm_power_off(host, id, err);
  if (rc)
    mmc_error_prefix(err, "vm_power_off(%u)", id);
  return rc;
}

int wl_vm_verify(wl_vm_t *vm, wl_verify_report_t *rep, mmc_error_t *err) {
  mmc_vcpu_t *h = vm->vcpus[0].handle;
  bool entered_here = false;
  if (!h) {
    int rc = vm->impl->vcpu_enter(vm->host, vm->id, 0, &h, err);
    if (rc) {
      mmc_error_prefix(err, "verify VM %u: vcpu_enter(0)", vm->id);
      return rc;
    }
    entered_here = true;
  }
  int rc = wl_verify(vm->impl, h, &vm->truth, 0, rep, err);
  if (rc)
    mmc_error_prefix(err, "verify VM %u", vm->id);
  if (entered_here)
    vm->impl->vcpu_exit(h);
  return rc;
}

int wl_vm_enter_all(wl_vm_t *vm, mmc_error_t *err) {
  for (uint32_t i = 0; i < vm->nvcpus; i++) {
    wl_vcpu_t *v = &vm->vcpus[i];
    if (v->handle)
      continue;
    int rc = vm->impl->vcpu_enter(vm->host, vm->id, i, &v->handle, err);
    if (rc) {
      v->handle = NULL;
      mmc_error_prefix(err, "VM %u vCPU %u: vcpu_enter", vm->id, i);
      wl_vm_exit_all(vm);
      return rc;
    }
  }
  return 0;
}

void wl_vm_exit_all(wl_vm_t *vm) {
  for (uint32_t i = 0; i < vm->nvcpus; i++) {
    wl_vcpu_t *v = &vm->vcpus[i];
    if (!v->handle)
      continue;
    vm->impl->vcpu_exit(v->handle);
    v->handle = NULL;
  }
}

int wl_vm_set_demand(wl_vm_t *vm, uint32_t vcpu, uint32_t permille, mmc_error_t *err) {
  if (vcpu >= vm->nvcpus)
    return mmc_fail(err, MMC_EINVAL, "VM %u: vCPU %u does not exist (0..%u)", vm->id, vcpu,
                    vm->nvcpus - 1);
  if (permille > PERMILLE)
    return mmc_fail(err, MMC_ERANGE, "VM %u vCPU %u: demand %u permille out of range 0..%u", vm->id,
                    vcpu, permille, PERMILLE);
  vm->vcpus[vcpu].demand_permille = permille;
  return 0;
}

void wl_vcpu_counts(const wl_vcpu_t *v, wl_counts_t *o) {
  o->steps = atomic_load_explicit(&v->c.steps, memory_order_relaxed);
  o->pages_written = atomic_load_explicit(&v->c.pages_written, memory_order_relaxed);
  o->pages_read = atomic_load_explicit(&v->c.pages_read, memory_order_relaxed);
  o->pages_verified = atomic_load_explicit(&v->c.pages_verified, memory_order_relaxed);
  o->mismatches = atomic_load_explicit(&v->c.mismatches, memory_order_relaxed);
  o->retries = atomic_load_explicit(&v->c.retries, memory_order_relaxed);
  o->busy_ns = atomic_load_explicit(&v->c.busy_ns, memory_order_relaxed);
  o->cpu_ns = atomic_load_explicit(&v->c.cpu_ns, memory_order_relaxed);
}

void wl_vm_counts(const wl_vm_t *vm, wl_counts_t *o) {
  memset(o, 0, sizeof *o);
  for (uint32_t i = 0; i < vm->nvcpus; i++) {
    wl_counts_t c;
    wl_vcpu_counts(&vm->vcpus[i], &c);
    o->steps += c.steps;
    o->pages_written += c.pages_written;
    o->pages_read += c.pages_read;
    o->pages_verified += c.pages_verified;
    o->mismatches += c.mismatches;
    o->retries += c.retries;
    o->busy_ns += c.busy_ns;
    o->cpu_ns += c.cpu_ns;
  }
}

/* ---------------------------------------------------------------- access */

/* Only the owning thread writes a vCPU's counters: a relaxed load+store is
 * enough and cheaper than an atomic read-modify-write. */
static inline void count(_Atomic uint64_t *c, uint64_t n) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static inline void trace(wl_vcpu_t *v, uint64_t gpfn, bool write) {
  uint64_t h = (v->trace_hash ^ (gpfn << 1 | (uint64_t)write)) * 0x9e3779b97f4a7c15ull;
  v->trace_hash = h ^ (h >> 29);
}

int wl_access(wl_vcpu_t *v, uint64_t gpfn, bool write, wl_access_fn fn, void *arg,
              mmc_error_t *err) {
  wl_vm_t *vm = v->vm;
  if (gpfn >= vm->truth.npages)
    return mmc_fail(err, MMC_ERANGE, "VM %u: gpfn %llu out of range 0..%llu", vm->id,
                    (unsigned long long)gpfn, (unsigned long long)vm->truth.npages - 1);
  if (!v->handle)
    return mmc_fail(err, MMC_ESTATE, "VM %u vCPU %u: not entered", vm->id, v->index);
  mmc_error_t e = {0};
  for (uint32_t n = 0; n <= WL_RETRY_MAX; n++) {
    e = (mmc_error_t){0};
    void *p = vm->impl->page(v->handle, gpfn, write, &e);
    if (p) {
      trace(v, gpfn, write);
      return fn(p, arg);
    }
    if (e.code != MMC_ERETRY)
      return mmc_fail(err, e.code ? e.code : MMC_EINVAL, "VM %u vCPU %u: page(%llu, %s): %s",
                      vm->id, v->index, (unsigned long long)gpfn, write ? "write" : "read",
                      e.code ? e.msg : "NULL without an error code");
    vm->impl->quiesce(v->handle);
    count(&v->c.retries, 1);
  }
  return mmc_fail(err, MMC_ERETRY,
                  "VM %u vCPU %u: page(%llu) still MMC_ERETRY after %u retries (the last: %s)",
                  vm->id, v->index, (unsigned long long)gpfn, WL_RETRY_MAX, e.msg);
}

typedef struct fill_arg {
  uint64_t seed;
  uint64_t gpfn;
  uint32_t version;
  bool probe_zero;     /* the page must read zero before we write it */
  wl_page_seen_t seen; /* valid when probe_zero */
} fill_arg_t;

/* Before the first write of a page that must read zero, check that it does:
 * every workload doubles as a SEC-1 probe on the frames it is handed for
 * writing (the page a write fault maps may be a reused frame). */
static int do_fill(void *page, void *arg) {
  fill_arg_t *a = arg;
  if (a->probe_zero)
    wl_page_check(page, a->seed, a->gpfn, 0, &a->seen);
  wl_page_fill(page, a->seed, a->gpfn, a->version);
  return 0;
}

static void note_check(wl_vcpu_t *v, uint64_t gpfn, uint32_t expected, const wl_page_seen_t *s) {
  count(&v->c.pages_verified, 1);
  if (s->verdict == WL_PAGE_OK)
    return;
  if (atomic_load_explicit(&v->c.mismatches, memory_order_relaxed) == 0)
    v->first_mismatch = wl_mismatch_make(gpfn, expected, s);
  count(&v->c.mismatches, 1);
}

static int write_as(wl_vcpu_t *v, uint64_t gpfn, uint8_t src, uint32_t version, mmc_error_t *err) {
  wl_truth_t *t = &v->vm->truth;
  fill_arg_t a = {.seed = src == WL_SRC_IMAGE ? t->image_seed : t->seed,
                  .gpfn = gpfn,
                  .version = version,
                  .probe_zero = t->version[gpfn] == 0};
  int rc = wl_access(v, gpfn, true, do_fill, &a, err);
  if (rc)
    return rc;
  if (a.probe_zero)
    note_check(v, gpfn, 0, &a.seen);
  t->version[gpfn] = version;
  t->src[gpfn] = src;
  count(&v->c.pages_written, 1);
  return 0;
}

int wl_write_next(wl_vcpu_t *v, uint64_t gpfn, mmc_error_t *err) {
  if (gpfn >= v->vm->truth.npages)
    return wl_access(v, gpfn, true, do_fill, NULL, err); /* reports ERANGE */
  uint32_t next = v->vm->truth.version[gpfn] + 1;
  /* 0 means "never written": skip it on wrap. */
  return write_as(v, gpfn, WL_SRC_VM, next ? next : 1, err);
}

int wl_write_image(wl_vcpu_t *v, uint64_t gpfn, mmc_error_t *err) {
  return write_as(v, gpfn, WL_SRC_IMAGE, 1, err);
}

int wl_write_zero(wl_vcpu_t *v, uint64_t gpfn, mmc_error_t *err) {
  return write_as(v, gpfn, WL_SRC_VM, 0, err);
}

typedef struct check_arg {
  const wl_truth_t *t;
  uint64_t gpfn;
  wl_page_seen_t seen;
} check_arg_t;

static int do_check(void *page, void *arg) {
  check_arg_t *a = arg;
  wl_page_check(page, wl_truth_seed(a->t, a->gpfn), a->gpfn, a->t->version[a->gpfn], &a->seen);
  return 0;
}

int wl_read_check(wl_vcpu_t *v, uint64_t gpfn, wl_page_verdict_t *verdict, mmc_error_t *err) {
  check_arg_t a = {.t = &v->vm->truth, .gpfn = gpfn};
  if (gpfn >= a.t->npages)
    return wl_access(v, gpfn, false, do_check, NULL, err); /* reports ERANGE */
  int rc = wl_access(v, gpfn, false, do_check, &a, err);
  if (rc)
    return rc;
  count(&v->c.pages_read, 1);
  note_check(v, gpfn, a.t->version[gpfn], &a.seen);
  if (verdict)
    *verdict = a.seen.verdict;
  return 0;
}

/* ---------------------------------------------------------------- stepped */

static int step_one(wl_vcpu_t *v, uint64_t t_ns, uint64_t dt_ns, mmc_error_t *err) {
  wl_vm_t *vm = v->vm;
  int rc = vm->ops->step(v, t_ns, dt_ns, err);
  /* Quiesce even after a failed step: the next vCPU and advance() may need
   * our pointers released. */
  vm->impl->quiesce(v->handle);
  count(&v->c.steps, 1);
  if (rc)
    mmc_error_prefix(err, "workload %s, VM %u vCPU %u", vm->ops->name, vm->id, v->index);
  return rc;
}

int wl_vm_step_all(wl_vm_t *vm, uint64_t now_ns, uint64_t dt_ns, mmc_error_t *err) {
  uint64_t t = now_ns > vm->t0_ns ? now_ns - vm->t0_ns : 0;
  for (uint32_t i = 0; i < vm->nvcpus; i++) {
    wl_vcpu_t *v = &vm->vcpus[i];
    if (!v->handle)
      return mmc_fail(err, MMC_ESTATE, "VM %u vCPU %u: not entered (wl_vm_enter_all first)", vm->id,
                      i);
    if (vm->impl->vcpu_set_demand)
      vm->impl->vcpu_set_demand(v->handle, v->demand_permille);
    int rc = step_one(v, t, dt_ns, err);
    if (rc)
      return rc;
  }
  return 0;
}

int wl_run_stepped(wl_vm_t *const *vms, size_t nvms, const wl_stepped_cfg_t *cfg,
                   mmc_error_t *err) {
  if (nvms == 0 || !cfg || cfg->tick_ns == 0)
    return mmc_fail(err, MMC_EINVAL, "stepped run: needs >= 1 VM and a tick > 0 ns");
  const mmc_impl_t *impl = vms[0]->impl;
  mmc_host_t *host = vms[0]->host;
  for (size_t i = 1; i < nvms; i++)
    if (vms[i]->host != host)
      return mmc_fail(err, MMC_EINVAL, "stepped run: VM %u is on another host", vms[i]->id);
  uint64_t start = impl->now(host), end = start + cfg->duration_ns;
  for (uint64_t t = start; t < end; t += cfg->tick_ns) {
    for (size_t i = 0; i < nvms; i++) {
      int rc = wl_vm_step_all(vms[i], t, cfg->tick_ns, err);
      if (rc)
        return rc;
    }
    if (!cfg->advance)
      continue;
    int rc = impl->advance(host, t + cfg->tick_ns, err);
    if (rc) {
      mmc_error_prefix(err, "stepped run: advance(%llu ns)",
                       (unsigned long long)(t + cfg->tick_ns));
      return rc;
    }
  }
  return 0;
}

/* ---------------------------------------------------------------- live */

typedef struct live_thread {
  struct wl_live *live;
  wl_vcpu_t *v;
  pthread_t tid;
  bool started;
} live_thread_t;

struct wl_live {
  size_t n;
  live_thread_t *t;
  atomic_bool stop;
  uint64_t start_ns;
  uint64_t deadline_ns; /* 0 = none */
  uint64_t period_ns;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  size_t entered; /* under lock: threads past vcpu_enter (ok or failed) */
  size_t failed;  /* under lock */
};

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t_ns) {
  struct timespec ts = {.tv_sec = (time_t)(t_ns / NS_PER_S), .tv_nsec = (long)(t_ns % NS_PER_S)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
    ;
}

static bool live_over(struct wl_live *l, uint64_t now) {
  if (atomic_load_explicit(&l->stop, memory_order_acquire))
    return true;
  return l->deadline_ns && now >= l->deadline_ns;
}

static void live_entered(struct wl_live *l, bool ok) {
  pthread_mutex_lock(&l->lock);
  l->entered++;
  l->failed += !ok;
  pthread_cond_broadcast(&l->cond);
  pthread_mutex_unlock(&l->lock);
}

/* One duty-cycle period: step (quiescing each time) until the demand's busy
 * share of the period is used, then sleep the rest. Live sleeping here is
 * load generation, not synchronisation. */
static int live_period(struct wl_live *l, wl_vcpu_t *v, uint64_t *last) {
  wl_vm_t *vm = v->vm;
  uint64_t p0 = mono_ns(), now = p0;
  uint64_t busy = l->period_ns * v->demand_permille / PERMILLE;
  do {
    int rc = step_one(v, now - vm->live_t0_ns, now - *last, &v->err);
    *last = now;
    if (rc)
      return rc;
    now = mono_ns();
  } while (now - p0 < busy && !live_over(l, now));
  count(&v->c.busy_ns, now - p0);
  uint64_t wake = p0 + l->period_ns;
  if (l->deadline_ns && wake > l->deadline_ns)
    wake = l->deadline_ns;
  if (v->demand_permille < PERMILLE && !live_over(l, now) && wake > now)
    sleep_until(wake);
  return 0;
}

static void *live_main(void *arg) {
  live_thread_t *lt = arg;
  struct wl_live *l = lt->live;
  wl_vcpu_t *v = lt->v;
  wl_vm_t *vm = v->vm;
  int rc = vm->impl->vcpu_enter(vm->host, vm->id, v->index, &v->handle, &v->err);
  if (rc) {
    v->handle = NULL;
    v->status = rc;
    mmc_error_prefix(&v->err, "VM %u vCPU %u: vcpu_enter", vm->id, v->index);
    live_entered(l, false);
    return NULL;
  }
  live_entered(l, true);
  uint64_t last = mono_ns(), cpu = thread_cpu_ns();
  while (!live_over(l, mono_ns())) {
    rc = live_period(l, v, &last);
    uint64_t now = thread_cpu_ns();
    count(&v->c.cpu_ns, now - cpu);
    cpu = now;
    if (rc) {
      v->status = rc;
      atomic_store_explicit(&l->stop, true, memory_order_release);
      break;
    }
  }
  vm->impl->vcpu_exit(v->handle); /* implies quiesce */
  v->handle = NULL;
  return NULL;
}

static int live_join_all(struct wl_live *l, mmc_error_t *err) {
  int first = 0;
  for (size_t i = 0; i < l->n; i++) {
    if (!l->t[i].started)
      continue;
    pthread_join(l->t[i].tid, NULL);
    wl_vcpu_t *v = l->t[i].v;
    if (v->status && !first) {
      first = v->status;
      mmc_fail(err, v->status, "%s", v->err.msg);
    }
  }
  pthread_cond_destroy(&l->cond);
  pthread_mutex_destroy(&l->lock);
  free(l->t);
  free(l);
  return first;
}

static int live_alloc(struct wl_live **out, wl_vm_t *const *vms, size_t nvms,
                      const wl_live_cfg_t *cfg, mmc_error_t *err) {
  size_t n = 0;
  for (size_t i = 0; i < nvms; i++)
    n += vms[i]->nvcpus;
  struct wl_live *l = calloc(1, sizeof *l);
  live_thread_t *t = calloc(n ? n : 1, sizeof *t);
  if (!l || !t) {
    free(l);
    free(t);
    return mmc_fail(err, MMC_ENOMEM, "live run: no memory for %zu threads", n);
  }
  l->n = n;
  l->t = t;
  l->period_ns = cfg && cfg->demand_period_ns ? cfg->demand_period_ns : WL_DEMAND_PERIOD_NS;
  l->start_ns = mono_ns();
  l->deadline_ns = cfg && cfg->duration_ns ? l->start_ns + cfg->duration_ns : 0;
  atomic_init(&l->stop, false);
  pthread_mutex_init(&l->lock, NULL);
  pthread_cond_init(&l->cond, NULL);
  size_t k = 0;
  for (size_t i = 0; i < nvms; i++) {
    if (!vms[i]->live_t0_ns) /* workload time goes on across live runs */
      vms[i]->live_t0_ns = l->start_ns;
    for (uint32_t j = 0; j < vms[i]->nvcpus; j++)
      t[k++] = (live_thread_t){.live = l, .v = &vms[i]->vcpus[j]};
  }
  *out = l;
  return 0;
}

int wl_live_start(wl_live_t **out, wl_vm_t *const *vms, size_t nvms, const wl_live_cfg_t *cfg,
                  mmc_error_t *err) {
  *out = NULL;
  if (nvms == 0)
    return mmc_fail(err, MMC_EINVAL, "live run: needs >= 1 VM");
  for (size_t i = 0; i < nvms; i++)
    for (uint32_t j = 0; j < vms[i]->nvcpus; j++)
      if (vms[i]->vcpus[j].handle)
        return mmc_fail(err, MMC_ESTATE,
                        "live run: VM %u vCPU %u is entered by the caller; each live thread "
                        "enters its own vCPU",
                        vms[i]->id, j);
  struct wl_live *l = NULL;
  int rc = live_alloc(&l, vms, nvms, cfg, err);
  if (rc)
    return rc;
  size_t started = 0;
  for (size_t i = 0; i < l->n; i++) {
    l->t[i].v->status = 0;
    if (pthread_create(&l->t[i].tid, NULL, live_main, &l->t[i]) != 0) {
      rc = mmc_fail(err, MMC_ENOMEM, "live run: cannot create thread %zu of %zu", i, l->n);
      break;
    }
    l->t[i].started = true;
    started++;
  }
  pthread_mutex_lock(&l->lock);
  while (l->entered < started)
    pthread_cond_wait(&l->cond, &l->lock);
  size_t failed = l->failed;
  pthread_mutex_unlock(&l->lock);
  if (rc == 0 && failed == 0) {
    *out = l;
    return 0;
  }
  atomic_store_explicit(&l->stop, true, memory_order_release);
  int jrc = live_join_all(l, rc ? NULL : err);
  return rc ? rc : jrc;
}

void wl_live_stop(wl_live_t *l) {
  if (l)
    atomic_store_explicit(&l->stop, true, memory_order_release);
}

int wl_live_join(wl_live_t *l, mmc_error_t *err) {
  if (!l)
    return mmc_fail(err, MMC_EINVAL, "live join: no live run");
  return live_join_all(l, err);
}
