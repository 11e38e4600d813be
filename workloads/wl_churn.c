/*
 * wl_churn.c — the churn generator: VMs arriving and leaving, and changing
 * phase (working-set fraction, CPU demand), in stepped mode.
 *
 * SPEC ids served: NUMA-10 (steady state is reached after churn: this makes
 * the churn and logs exactly what it did), NUMA-2/4/5 (imbalance created
 * deterministically through the CPU-demand model).
 *
 * Everything is drawn from one rng seeded by cfg.seed in a fixed order (per
 * tick: leaves, arrivals, phase changes, in VM order), so the same seed and
 * the same implementation answers give the same events at the same times.
 * The generator acts only through the contract (vm_power_on/off, vcpu_enter/
 * exit, page, quiesce, vcpu_set_demand, advance) and logs every event it
 * caused with the host time and the contract's status code.
 * Invariants: a VM in the alive list is powered on with all its vCPUs
 * entered by this thread; a leaving VM has its vCPUs exited before
 * vm_power_off (which would answer MMC_EBUSY otherwise).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmc_error.h"
#include "workload.h"

#define PERMILLE 1000u

typedef struct churn_vm {
  wl_vm_t *vm;
  uint64_t leave_ns;
  uint64_t next_phase_ns; /* UINT64_MAX = never */
} churn_vm_t;

struct wl_churn {
  const mmc_impl_t *impl;
  mmc_host_t *host;
  wl_churn_cfg_t cfg;
  wl_rng_t rng;
  uint64_t next_arrival_ns;
  uint32_t arrivals; /* for VM names */
  churn_vm_t *alive; /* cfg.max_vms slots */
  size_t nalive;
  wl_churn_event_t *ev;
  size_t nev, cap;
};

static uint64_t draw_range(wl_rng_t *r, uint64_t lo, uint64_t hi) {
  return lo + wl_rng_below(r, hi - lo + 1);
}

static int check_cfg(const mmc_impl_t *impl, const wl_churn_cfg_t *c, mmc_error_t *err) {
  if (!(impl->capabilities & MMC_CAP_CLOCK_STEPPED))
    return mmc_fail(err, MMC_ENOTSUP, "churn: implementation %s lacks MMC_CAP_CLOCK_STEPPED",
                    impl->name);
  if (c->max_vms == 0)
    return mmc_fail(err, MMC_EINVAL, "churn: max_vms is 0 (at least 1)");
  if (c->min_pages == 0 || c->max_pages < c->min_pages)
    return mmc_fail(err, MMC_EINVAL, "churn: VM size %llu..%llu pages (need 1 <= min <= max)",
                    (unsigned long long)c->min_pages, (unsigned long long)c->max_pages);
  if (c->max_vcpus == 0 || c->max_vcpus > MMC_MAX_VCPUS)
    return mmc_fail(err, MMC_EINVAL, "churn: max_vcpus %u (allowed 1..%u)", c->max_vcpus,
                    MMC_MAX_VCPUS);
  if (c->max_life_ns < c->min_life_ns || c->min_life_ns == 0)
    return mmc_fail(err, MMC_EINVAL, "churn: lifetime %llu..%llu ns (need 0 < min <= max)",
                    (unsigned long long)c->min_life_ns, (unsigned long long)c->max_life_ns);
  if (c->max_demand_permille > PERMILLE)
    return mmc_fail(err, MMC_ERANGE, "churn: max demand %u permille out of range 0..%u",
                    c->max_demand_permille, PERMILLE);
  return 0;
}

static int log_event(wl_churn_t *c, const wl_churn_event_t *e, mmc_error_t *err) {
  if (c->nev == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 64;
    wl_churn_event_t *n = realloc(c->ev, cap * sizeof *n);
    if (!n)
      return mmc_fail(err, MMC_ENOMEM, "churn: no memory for %zu events", cap);
    c->ev = n;
    c->cap = cap;
  }
  c->ev[c->nev++] = *e;
  return 0;
}

int wl_churn_create(wl_churn_t **out, const mmc_impl_t *impl, mmc_host_t *host,
                    const wl_churn_cfg_t *cfg, mmc_error_t *err) {
  *out = NULL;
  if (!impl || !host || !cfg)
    return mmc_fail(err, MMC_EINVAL, "churn: implementation, host and config required");
  int rc = check_cfg(impl, cfg, err);
  if (rc)
    return rc;
  wl_churn_t *c = calloc(1, sizeof *c);
  if (c)
    c->alive = calloc(cfg->max_vms, sizeof *c->alive);
  if (!c || !c->alive) {
    free(c);
    return mmc_fail(err, MMC_ENOMEM, "churn: no memory for %u VMs", cfg->max_vms);
  }
  c->impl = impl;
  c->host = host;
  c->cfg = *cfg;
  wl_rng_seed(&c->rng, cfg->seed);
  c->next_arrival_ns = impl->now(host) + wl_rng_below(&c->rng, 2 * cfg->mean_interarrival_ns + 1);
  *out = c;
  return 0;
}

/* Exit the vCPUs, power off, forget. */
static int churn_leave(wl_churn_t *c, size_t i, uint64_t now, mmc_error_t *err) {
  wl_vm_t *vm = c->alive[i].vm;
  mmc_vm_id_t id = vm->id;
  wl_churn_event_t e = {.time_ns = now,
                        .kind = WL_CHURN_LEAVE,
                        .vm = id,
                        .pages = vm->truth.npages,
                        .vcpus = vm->nvcpus};
  wl_vm_destroy(vm);
  c->alive[i] = c->alive[--c->nalive];
  mmc_error_t perr = {0};
  e.status = c->impl->vm_power_off(c->host, id, &perr);
  int rc = log_event(c, &e, err);
  if (rc)
    return rc;
  if (e.status)
    return mmc_fail(err, e.status, "churn: vm_power_off(%u): %s", id, perr.msg);
  return 0;
}

/* Draws one phase: a steady working-set fraction and a CPU demand. */
static void draw_phase(wl_churn_t *c, wl_ws_cfg_t *ws, uint32_t *demand) {
  *ws = (wl_ws_cfg_t){.shape = WL_WS_STEADY,
                      .f0_permille = (uint32_t)wl_rng_below(&c->rng, PERMILLE + 1),
                      .write = true};
  *demand = (uint32_t)wl_rng_below(&c->rng, c->cfg.max_demand_permille + 1);
}

static int apply_demand(wl_vm_t *vm, uint32_t demand, mmc_error_t *err) {
  for (uint32_t j = 0; j < vm->nvcpus; j++) {
    int rc = wl_vm_set_demand(vm, j, demand, err);
    if (rc)
      return rc;
  }
  return 0;
}

static int start_vm(wl_churn_t *c, mmc_vm_id_t id, wl_churn_event_t *e, uint64_t seed,
                    const wl_ws_cfg_t *ws, wl_vm_t **out, mmc_error_t *err) {
  wl_vm_params_t p = {.impl = c->impl,
                      .host = c->host,
                      .id = id,
                      .nvcpus = e->vcpus,
                      .npages = e->pages,
                      .seed = seed,
                      .ops = &wl_ws_ops,
                      .cfg = ws};
  int rc = wl_vm_create(out, &p, err);
  if (rc)
    return rc;
  rc = wl_vm_enter_all(*out, err);
  if (!rc)
    rc = apply_demand(*out, e->demand_permille, err);
  if (rc) {
    wl_vm_destroy(*out);
    *out = NULL;
  }
  return rc;
}

static int churn_arrive(wl_churn_t *c, uint64_t now, mmc_error_t *err) {
  wl_churn_cfg_t *k = &c->cfg;
  wl_churn_event_t e = {.time_ns = now, .kind = WL_CHURN_ARRIVE};
  e.pages = draw_range(&c->rng, k->min_pages, k->max_pages);
  e.vcpus = (uint32_t)draw_range(&c->rng, 1, k->max_vcpus);
  uint64_t life = draw_range(&c->rng, k->min_life_ns, k->max_life_ns);
  uint64_t seed = wl_rng_next(&c->rng);
  wl_ws_cfg_t ws;
  draw_phase(c, &ws, &e.demand_permille);
  e.ws_permille = ws.f0_permille;

  char name[MMC_NAME_MAX];
  snprintf(name, sizeof name, "churn-%u", ++c->arrivals);
  mmc_vm_config_t vc;
  mmc_vm_config_init(&vc);
  vc.name = name;
  vc.vcpus = e.vcpus;
  vc.memory_bytes = e.pages * MMC_PAGE_SIZE;
  mmc_error_t perr = {0};
  e.status = c->impl->vm_power_on(c->host, &vc, &e.vm, &perr);
  if (e.status == MMC_EADMISSION || e.status == MMC_ENOMEM) {
    e.kind = WL_CHURN_REFUSED;
    e.vm = 0;
    return log_event(c, &e, err);
  }
  if (e.status)
    return mmc_fail(err, e.status, "churn: vm_power_on(%s, %u vCPUs, %llu pages): %s", name,
                    e.vcpus, (unsigned long long)e.pages, perr.msg);
  wl_vm_t *vm;
  int rc = start_vm(c, e.vm, &e, seed, &ws, &vm, err);
  if (rc) {
    c->impl->vm_power_off(c->host, e.vm, NULL);
    return rc;
  }
  c->alive[c->nalive++] =
      (churn_vm_t){.vm = vm,
                   .leave_ns = now + life,
                   .next_phase_ns = k->phase_ns ? now + k->phase_ns : UINT64_MAX};
  return log_event(c, &e, err);
}

static int churn_phase(wl_churn_t *c, churn_vm_t *cv, uint64_t now, mmc_error_t *err) {
  wl_ws_cfg_t ws;
  wl_churn_event_t e = {.time_ns = now,
                        .kind = WL_CHURN_PHASE,
                        .vm = cv->vm->id,
                        .pages = cv->vm->truth.npages,
                        .vcpus = cv->vm->nvcpus};
  draw_phase(c, &ws, &e.demand_permille);
  e.ws_permille = ws.f0_permille;
  int rc = wl_ws_set_cfg(cv->vm, &ws, err);
  if (!rc)
    rc = apply_demand(cv->vm, e.demand_permille, err);
  if (rc)
    return rc;
  cv->next_phase_ns = now + c->cfg.phase_ns;
  return log_event(c, &e, err);
}

/* Events due at host time t, in a fixed order. */
static int churn_events(wl_churn_t *c, uint64_t t, mmc_error_t *err) {
  for (size_t i = 0; i < c->nalive;) {
    if (c->alive[i].leave_ns > t) {
      i++;
      continue;
    }
    int rc = churn_leave(c, i, t, err); /* moves the last VM into slot i */
    if (rc)
      return rc;
  }
  while (c->next_arrival_ns <= t) {
    if (c->nalive < c->cfg.max_vms) {
      int rc = churn_arrive(c, t, err);
      if (rc)
        return rc;
    }
    c->next_arrival_ns += 1 + wl_rng_below(&c->rng, 2 * c->cfg.mean_interarrival_ns + 1);
  }
  for (size_t i = 0; i < c->nalive; i++) {
    if (c->alive[i].next_phase_ns > t)
      continue;
    int rc = churn_phase(c, &c->alive[i], t, err);
    if (rc)
      return rc;
  }
  return 0;
}

int wl_churn_run(wl_churn_t *c, uint64_t until_ns, uint64_t tick_ns, mmc_error_t *err) {
  if (tick_ns == 0)
    return mmc_fail(err, MMC_EINVAL, "churn: tick of 0 ns");
  for (uint64_t t = c->impl->now(c->host); t < until_ns; t += tick_ns) {
    int rc = churn_events(c, t, err);
    for (size_t i = 0; !rc && i < c->nalive; i++)
      rc = wl_vm_step_all(c->alive[i].vm, t, tick_ns, err);
    if (!rc)
      rc = c->impl->advance(c->host, t + tick_ns, err);
    if (rc)
      return rc;
  }
  return 0;
}

size_t wl_churn_nevents(const wl_churn_t *c) {
  return c->nev;
}
const wl_churn_event_t *wl_churn_events(const wl_churn_t *c) {
  return c->ev;
}
size_t wl_churn_nalive(const wl_churn_t *c) {
  return c->nalive;
}
wl_vm_t *wl_churn_vm(const wl_churn_t *c, size_t i) {
  return i < c->nalive ? c->alive[i].vm : NULL;
}

void wl_churn_destroy(wl_churn_t *c) {
  if (!c)
    return;
  while (c->nalive > 0) {
    mmc_vm_id_t id = c->alive[c->nalive - 1].vm->id;
    wl_vm_destroy(c->alive[--c->nalive].vm);
    c->impl->vm_power_off(c->host, id, NULL);
  }
  free(c->alive);
  free(c->ev);
  free(c);
}
