/*
 * memsim.c — stepped scenarios for the WSS and ALLOC cases (see memsim.h).
 * Invariant: a VM is stepped only while its vCPUs are entered, and every
 * vCPU is quiesced (wl_vm_step_all) before the clock advances.
 */
#include "memsim.h"

#include <string.h>

#include "mmc_error.h"

void ms_host(ms_env_t *e, suite_ctx_t *c, uint64_t host_mib, const mmc_setting_value_t *extra,
             size_t nextra) {
  memset(e, 0, sizeof *e);
  e->c = c;
  e->im = sc_impl(c);
  e->topo = cu_run_topology_copy(c);
  mmc_error_t err = {0};
  if (cu_total_memory(&e->topo->desc) > host_mib * MS_MIB)
    sc_require(c, mmt_cap_memory(e->topo, host_mib * MS_MIB, &err), &err, "capping host memory");
  e->cap_bytes = cu_total_memory(&e->topo->desc);
  mmc_setting_value_t set[16];
  size_t n = 0;
  if (sc_mode(c) == SUITE_MODE_QUICK) {
    set[n++] = (mmc_setting_value_t){"Mem.SamplePeriod", MS_QUICK_SAMPLE_PERIOD_S};
    set[n++] = (mmc_setting_value_t){"Mem.BalancePeriod", MS_QUICK_BALANCE_PERIOD_S};
  }
  for (size_t i = 0; i < nextra && n < sizeof set / sizeof set[0]; i++)
    set[n++] = extra[i];
  e->h = sc_host(c, e->topo, MMC_CLOCK_STEPPED, set, n);
  e->sp_ns = (uint64_t)cu_setting(c, e->h, "Mem.SamplePeriod") * 1000000000ull;
  e->bp_ns = (uint64_t)cu_setting(c, e->h, "Mem.BalancePeriod") * 1000000000ull;
  e->tick_ns = e->sp_ns / MS_TICKS_PER_PERIOD;
  sc_diag(c, "host %llu MiB on %u nodes, Mem.SamplePeriod %llu s, Mem.BalancePeriod %llu s",
          (unsigned long long)(e->cap_bytes / MS_MIB), e->topo->desc.nnodes,
          (unsigned long long)(e->sp_ns / 1000000000ull),
          (unsigned long long)(e->bp_ns / 1000000000ull));
}

size_t ms_vm(ms_env_t *e, const char *name, uint64_t mib, int64_t shares, const wl_ws_cfg_t *ws) {
  if (e->n >= MS_MAX_VMS)
    sc_broken(e->c, "memsim: more than %u VMs", MS_MAX_VMS);
  size_t i = e->n;
  e->cfg[i] = cu_vm(name, 1, mib * MS_MIB);
  e->cfg[i].shares = shares;
  mmc_error_t err = {0};
  int rc = wl_vm_boot(&e->vm[i], e->im, e->h, &e->cfg[i], wl_seed_mix(sc_seed(e->c), i + 1),
                      &wl_ws_ops, ws, &err);
  if (rc == MMC_ENOTSUP)
    cu_enotsup_verdict(e->c, &e->cfg[i], &err, "booting a working-set VM");
  sc_require(e->c, rc, &err, "booting a working-set VM");
  e->n++;
  ms_start(e, i);
  return i;
}

void ms_stop(ms_env_t *e, size_t i) {
  wl_vm_exit_all(e->vm[i]);
  e->running[i] = false;
}

void ms_start(ms_env_t *e, size_t i) {
  mmc_error_t err = {0};
  sc_require(e->c, wl_vm_enter_all(e->vm[i], &err), &err, "entering the VM's vCPUs");
  e->running[i] = true;
}

void ms_run(ms_env_t *e, uint64_t duration_ns, ms_observe_fn fn, void *arg) {
  uint64_t now = e->im->now(e->h), end = now + duration_ns;
  mmc_error_t err = {0};
  while (now < end) {
    for (size_t i = 0; i < e->n; i++)
      if (e->running[i])
        sc_require(e->c, wl_vm_step_all(e->vm[i], now, e->tick_ns, &err), &err, "workload step");
    now += e->tick_ns;
    sc_require(e->c, e->im->advance(e->h, now, &err), &err, "advance");
    if (fn)
      fn(e, now, arg);
  }
}

mmc_vm_stats_t ms_stats(ms_env_t *e, size_t i) {
  return cu_vm_stats(e->c, e->h, e->vm[i]->id);
}

bool ms_reported(ms_env_t *e, size_t i, uint64_t bits, const char *what) {
  mmc_vm_stats_t s = ms_stats(e, i);
  return cu_reported_vm(e->c, &s, bits, what);
}

void ms_set(ms_env_t *e, const char *name, int64_t value) {
  mmc_error_t err = {0};
  char what[96];
  snprintf(what, sizeof what, "setting %s = %lld", name, (long long)value);
  sc_require(e->c, e->im->setting_set(e->h, name, value, &err), &err, what);
}

double ms_true_frac(ms_env_t *e, size_t i, uint64_t now_ns) {
  wl_vm_t *vm = e->vm[i];
  uint64_t t = now_ns > vm->t0_ns ? now_ns - vm->t0_ns : 0;
  return (double)wl_ws_true_set(vm, t, NULL, 0) / (double)vm->truth.npages;
}

double ms_mib(uint64_t pages) {
  return (double)pages * MMC_PAGE_SIZE / (double)MS_MIB;
}

void ms_free(ms_env_t *e) {
  for (size_t i = 0; i < e->n; i++) {
    mmc_error_t err = {0};
    if (e->vm[i] && wl_vm_shutdown(e->vm[i], &err))
      sc_diag(e->c, "VM %zu shutdown: %s", i, err.msg);
    e->vm[i] = NULL;
  }
  sc_host_destroy(e->c, e->h);
  mmt_free(e->topo);
}
