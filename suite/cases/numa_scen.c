/*
 * numa_scen.c — scenarios of the rebalancer and migration cases (see
 * numa_scen.h). Invariant: between calls every vCPU of every scenario VM is
 * entered on the case's thread and quiesced (the stepped clock's rule).
 */
#include "numa_scen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmc_error.h"

#define SCEN_TICKS_PER_PERIOD 20u
#define SCEN_EV_CHUNK 256u

void scen_init(scen_t *s, suite_ctx_t *c, const char *spec, const mmc_setting_value_t *set,
               size_t nset) {
  memset(s, 0, sizeof *s);
  s->c = c;
  s->im = sc_impl(c);
  s->topo = cu_topology(c, spec);
  s->h = sc_host(c, s->topo, MMC_CLOCK_STEPPED, set, nset);
  s->tick_ns = scen_period(s) / SCEN_TICKS_PER_PERIOD;
  for (uint32_t k = 0; k < SCEN_MAX_VMS; k++)
    s->home[k] = -2;
  sc_diag(c, "scenario on %s, seed %llu", spec, (unsigned long long)sc_seed(c));
}

void scen_fini(scen_t *s) {
  mmc_error_t err = {0};
  for (uint32_t k = 0; k < s->nvms; k++)
    if (s->vm[k] && wl_vm_shutdown(s->vm[k], &err))
      sc_diag(s->c, "power-off of VM %u: %s", k, err.msg);
  sc_host_destroy(s->c, s->h);
  mmt_free(s->topo);
  free(s->ev);
  memset(s, 0, sizeof *s);
}

uint64_t scen_period(scen_t *s) {
  return (uint64_t)cu_setting(s->c, s->h, "Numa.RebalancePeriod") * SCEN_MS;
}

uint64_t scen_now(scen_t *s) {
  return s->im->now(s->h);
}

uint32_t scen_vm(scen_t *s, uint32_t vcpus, uint64_t bytes, uint64_t pin, uint32_t demand) {
  if (s->nvms >= SCEN_MAX_VMS)
    sc_broken(s->c, "scenario: more than %u VMs", SCEN_MAX_VMS);
  uint32_t k = s->nvms;
  s->cfg[k] = cu_vm("numa-scen", vcpus, bytes);
  s->cfg[k].node_affinity = pin;
  wl_touch_cfg_t tc = {.pages_per_step = 0, .rewrite = false};
  wl_idle_cfg_t ic = {.write_at_boot = false};
  mmc_error_t err = {0};
  uint64_t seed = wl_seed_mix(sc_seed(s->c), k);
  int rc = s->boot_pages || s->spare_pages
               ? wl_vm_boot(&s->vm[k], s->im, s->h, &s->cfg[k], seed, &wl_idle_ops, &ic, &err)
               : wl_vm_boot(&s->vm[k], s->im, s->h, &s->cfg[k], seed, &wl_touch_ops, &tc, &err);
  if (rc == MMC_ENOTSUP)
    cu_enotsup_verdict(s->c, &s->cfg[k], &err, "booting a scenario VM");
  sc_require(s->c, rc, &err, "wl_vm_boot");
  s->nvms++;
  sc_require(s->c, wl_vm_enter_all(s->vm[k], &err), &err, "wl_vm_enter_all");
  scen_demand(s, k, demand);
  uint64_t n = s->cfg[k].memory_bytes / MMC_PAGE_SIZE;
  s->fresh[k] = s->boot_pages    ? (s->boot_pages < n ? s->boot_pages : n)
                : s->spare_pages ? (s->spare_pages < n ? n - s->spare_pages : 0)
                                 : n;
  if (s->boot_pages || s->spare_pages) {
    scen_write(s, k, 0, s->fresh[k]);
    return k;
  }
  /* One step writes every page (touch workload, all at once). */
  sc_require(s->c, wl_vm_step_all(s->vm[k], scen_now(s), 0, &err), &err, "boot writes");
  return k;
}

void scen_write(scen_t *s, uint32_t k, uint64_t first, uint64_t n) {
  mmc_error_t err = {0};
  wl_vcpu_t *v = &s->vm[k]->vcpus[0];
  for (uint64_t g = first; g < first + n; g++)
    sc_require(s->c, wl_write_next(v, g, &err), &err, "wl_write_next");
  s->im->quiesce(v->handle);
}

void scen_pin(scen_t *s, uint32_t k, uint64_t mask) {
  s->cfg[k].node_affinity = mask;
  cu_reconfigure(s->c, s->h, s->vm[k]->id, &s->cfg[k], "vm_reconfigure (numa.nodeAffinity)");
}

void scen_demand(scen_t *s, uint32_t k, uint32_t permille) {
  mmc_error_t err = {0};
  for (uint32_t i = 0; i < s->vm[k]->nvcpus; i++)
    sc_require(s->c, wl_vm_set_demand(s->vm[k], i, permille, &err), &err, "wl_vm_set_demand");
  for (uint32_t i = 0; i < s->vm[k]->nvcpus; i++)
    if (s->im->vcpu_set_demand)
      s->im->vcpu_set_demand(s->vm[k]->vcpus[i].handle, permille);
}

void scen_run_until(scen_t *s, uint64_t t) {
  mmc_error_t err = {0};
  for (uint64_t now = scen_now(s); now < t; now = scen_now(s)) {
    uint64_t step = t - now < s->tick_ns ? t - now : s->tick_ns;
    wl_stepped_cfg_t sc = {.duration_ns = step, .tick_ns = step, .advance = true};
    if (s->nvms)
      sc_require(s->c, wl_run_stepped(s->vm, s->nvms, &sc, &err), &err, "wl_run_stepped");
    else
      cu_advance(s->c, s->h, step);
    scen_events(s);
  }
}

mmc_vm_stats_t scen_stats(scen_t *s, uint32_t k) {
  return cu_vm_stats(s->c, s->h, s->vm[k]->id);
}

void scen_events(scen_t *s) {
  for (;;) {
    if (s->cap - s->nev < SCEN_EV_CHUNK) {
      size_t cap = s->cap ? s->cap * 2 : 4 * SCEN_EV_CHUNK;
      mmc_event_t *ev = realloc(s->ev, cap * sizeof *ev);
      if (!ev)
        sc_broken(s->c, "out of memory for events");
      s->ev = ev;
      s->cap = cap;
    }
    size_t got = s->im->events_read(s->h, &s->cursor, s->ev + s->nev, SCEN_EV_CHUNK);
    s->nev += got;
    if (got < SCEN_EV_CHUNK)
      return;
  }
}

uint32_t scen_index(scen_t *s, mmc_vm_id_t id) {
  for (uint32_t k = 0; k < s->nvms; k++)
    if (s->vm[k] && s->vm[k]->id == id)
      return k;
  return SCEN_MAX_VMS;
}

size_t scen_count(scen_t *s, size_t from, uint32_t type, uint32_t k) {
  size_t n = 0;
  for (size_t i = from; i < s->nev; i++)
    if (s->ev[i].type == type && (k >= SCEN_MAX_VMS || s->ev[i].vm == s->vm[k]->id))
      n++;
  return n;
}

int64_t scen_pages_off(scen_t *s, cu_locator_t *loc, uint32_t k, uint64_t first, uint64_t n,
                       uint32_t node) {
  return cu_pages_off(s->c, loc, s->vm[k]->vcpus[0].handle, first, n, node);
}

int scen_home_probe(scen_t *s, cu_locator_t *loc, uint32_t k) {
  uint64_t n = s->cfg[k].memory_bytes / MMC_PAGE_SIZE, g = s->fresh[k];
  if (g >= n)
    sc_broken(s->c, "scenario VM %u has no unwritten page left to probe its home (%llu pages)", k,
              (unsigned long long)n);
  mmc_error_t err = {0};
  wl_vcpu_t *v = &s->vm[k]->vcpus[0];
  sc_require(s->c, wl_write_next(v, g, &err), &err, "wl_write_next");
  void *p = cu_page(s->im, v->handle, g, false, &err);
  if (!p)
    sc_broken(s->c, "page %llu: %s", (unsigned long long)g, err.msg);
  int node = -1;
  cu_locate(s->c, loc, &p, 1, &node);
  s->im->quiesce(v->handle);
  s->fresh[k] = g + 1;
  return node;
}

size_t scen_watch(scen_t *s, cu_locator_t *loc, uint64_t t_end, unsigned every, scen_move_t *mv,
                  size_t max) {
  size_t n = 0;
  for (uint32_t k = 0; k < s->nvms; k++)
    if (s->home[k] == -2)
      s->home[k] = scen_home_probe(s, loc, k);
  for (unsigned tick = 1; scen_now(s) < t_end; tick++) {
    /* Ticks end on multiples of tick_ns, so on every period boundary. */
    uint64_t now = scen_now(s), next = (now / s->tick_ns + 1) * s->tick_ns;
    next = next < t_end ? next : t_end;
    scen_run_until(s, next);
    if (tick % (every ? every : 1) && next < t_end)
      continue;
    for (uint32_t k = 0; k < s->nvms; k++) {
      int node = scen_home_probe(s, loc, k);
      if (node != s->home[k] && n < max)
        mv[n] = (scen_move_t){.t = next, .k = k, .from = s->home[k], .to = node};
      n += node != s->home[k];
      s->home[k] = node;
    }
  }
  return n;
}

size_t scen_count_reason(scen_t *s, size_t from, uint32_t type, uint32_t k, const char *reason) {
  size_t n = 0;
  for (size_t i = from; i < s->nev; i++)
    n += s->ev[i].type == type && (k >= SCEN_MAX_VMS || s->ev[i].vm == s->vm[k]->id) &&
         strcmp(s->ev[i].reason, reason) == 0;
  return n;
}

bool scen_verify_vm(suite_ctx_t *c, wl_vm_t *vm, char *line, size_t len) {
  wl_verify_report_t rep;
  mmc_error_t err = {0};
  sc_require(c, wl_vm_verify(vm, &rep, &err), &err, "wl_verify");
  wl_verify_format(&rep, line, len);
  return rep.mismatches == 0 && rep.pages_checked == vm->truth.npages;
}

bool scen_verify(scen_t *s, uint32_t k, char *line, size_t len) {
  return scen_verify_vm(s->c, s->vm[k], line, len);
}

bool scen_rebalancer_can_run(const mmc_topology_t *t) {
  enum { cores_total_min = 4, cores_node_min = 2 }; /* documented defaults */
  uint32_t total = 0;
  if (t->nnodes < 2)
    return false;
  for (uint32_t n = 0; n < t->nnodes; n++) {
    uint32_t cores = t->nodes[n].ncores ? t->nodes[n].ncores : t->nodes[n].ncpus;
    if (cores < cores_node_min)
      return false;
    total += cores;
  }
  return total >= cores_total_min;
}
