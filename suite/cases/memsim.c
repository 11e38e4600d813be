/*
 * memsim.c — stepped scenarios for the WSS and ALLOC cases (see memsim.h).
 * Invariant: a VM is stepped only while its vCPUs are entered, and every
 * vCPU is quiesced (wl_vm_step_all) before the clock advances.
 */
#include "memsim.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "mmc_error.h"

/* Live: a host with the settings of `set` the implementation honours; those
 * it does not are left alone (tried on a first host). When it honours
 * Mem.BalancePeriod the host is made again with them at creation, so that
 * balance periods begin with the host: a period changed later keeps the
 * period under way (SET-2), and Mem.BalancePeriod's default (15 s) would
 * hold the first quick one back that long (ALLOC-6 live judges the grid). */
static mmc_host_t *ms_live_host(ms_env_t *e, const mmc_setting_value_t *set, size_t n) {
  mmc_host_t *h = sc_host(e->c, e->topo, MMC_CLOCK_LIVE, NULL, 0);
  mmc_setting_value_t ok[18];
  size_t nok = 0;
  bool balance = false;
  for (size_t i = 0; i < n && nok < 16; i++) {
    if (e->im->setting_set(h, set[i].name, set[i].value, NULL) != 0) {
      sc_diag(e->c, "%s=%lld left alone: the implementation does not honour it", set[i].name,
              (long long)set[i].value);
      continue;
    }
    balance = balance || strcmp(set[i].name, "Mem.BalancePeriod") == 0;
    ok[nok++] = set[i];
  }
  if (sc_mode(e->c) == SUITE_MODE_QUICK &&
      e->im->setting_set(h, "Ref.SamplePeriodUnitMs", MS_LIVE_UNIT_MS, NULL) == 0) {
    ok[nok++] = (mmc_setting_value_t){"Ref.SamplePeriodUnitMs", MS_LIVE_UNIT_MS};
    if (e->im->setting_set(h, "Ref.WssTick", MS_LIVE_UNIT_MS / 10, NULL) == 0)
      ok[nok++] = (mmc_setting_value_t){"Ref.WssTick", MS_LIVE_UNIT_MS / 10};
  }
  if (!balance)
    return h;
  sc_host_destroy(e->c, h);
  return sc_host(e->c, e->topo, MMC_CLOCK_LIVE, ok, nok);
}

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
  e->clock = sc_clock(c);
  int64_t unit_ms = 1000;
  if (e->clock == MMC_CLOCK_STEPPED) {
    e->h = sc_host(c, e->topo, MMC_CLOCK_STEPPED, set, n);
  } else {
    e->h = ms_live_host(e, set, n);
    e->im->setting_get(e->h, "Ref.SamplePeriodUnitMs", &unit_ms, NULL);
  }
  e->sp_ns = (uint64_t)cu_setting(c, e->h, "Mem.SamplePeriod") * (uint64_t)unit_ms * 1000000ull;
  int64_t bp = 0;
  e->bp_ns = e->im->setting_get(e->h, "Mem.BalancePeriod", &bp, NULL) == 0
                 ? (uint64_t)bp * 1000000000ull
                 : 0;
  e->tick_ns = e->sp_ns / MS_TICKS_PER_PERIOD;
  sc_diag(c, "host %llu MiB on %u nodes, %s clock, sample period %.3f s, Mem.BalancePeriod %llu s",
          (unsigned long long)(e->cap_bytes / MS_MIB), e->topo->desc.nnodes,
          e->clock == MMC_CLOCK_LIVE ? "live" : "stepped", (double)e->sp_ns / 1e9,
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
  if (e->clock == MMC_CLOCK_STEPPED)
    wl_vm_exit_all(e->vm[i]);
  e->running[i] = false;
}

void ms_start(ms_env_t *e, size_t i) {
  mmc_error_t err = {0};
  if (e->clock == MMC_CLOCK_STEPPED)
    sc_require(e->c, wl_vm_enter_all(e->vm[i], &err), &err, "entering the VM's vCPUs");
  e->running[i] = true;
}

/* ------------------------------------------------------------ live */

uint64_t ms_cpu_ns(ms_env_t *e, size_t i) {
  wl_counts_t n;
  wl_vm_counts(e->vm[i], &n);
  return n.cpu_ns / (e->vm[i]->nvcpus ? e->vm[i]->nvcpus : 1);
}

static void ms_nap(uint64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
  nanosleep(&ts, NULL);
}

void ms_wait(ms_env_t *e, uint64_t ns) {
  (void)e;
  uint64_t end = cu_now_ns() + ns;
  while (cu_now_ns() < end)
    ms_nap(5000000ull);
}

void ms_run_live(ms_env_t *e, unsigned periods, ms_live_fn fn, void *arg) {
  wl_vm_t *run[MS_MAX_VMS];
  size_t idx[MS_MAX_VMS], n = 0;
  uint64_t end[MS_MAX_VMS], next[MS_MAX_VMS];
  for (size_t i = 0; i < e->n; i++)
    if (e->running[i]) {
      idx[n] = i;
      run[n] = e->vm[i];
      uint64_t c0 = ms_cpu_ns(e, i);
      end[n] = c0 + periods * e->sp_ns;
      next[n] = c0 + e->tick_ns;
      n++;
    }
  if (n == 0)
    return;
  wl_live_t *l = NULL;
  wl_live_cfg_t lc = {0};
  mmc_error_t err = {0};
  sc_require(e->c, wl_live_start(&l, run, n, &lc, &err), &err, "wl_live_start");
  /* A VM the scheduler starves this long has not executed: the case cannot
   * go on (broken, not failed). */
  uint64_t cap = cu_now_ns() + 20 * (periods * e->sp_ns) * n + 30000000000ull;
  for (bool done = false; !done;) {
    ms_nap(2000000ull);
    done = true;
    for (size_t k = 0; k < n; k++) {
      uint64_t cpu = ms_cpu_ns(e, idx[k]);
      for (; cpu >= next[k] && next[k] <= end[k]; next[k] += e->tick_ns)
        if (fn)
          fn(e, idx[k], arg);
      done = done && cpu >= end[k];
    }
    if (!done && cu_now_ns() > cap) {
      wl_live_stop(l);
      wl_live_join(l, &err);
      sc_broken(e->c, "live VMs did not execute %u sample periods in the time allowed", periods);
    }
  }
  wl_live_stop(l);
  sc_require(e->c, wl_live_join(l, &err), &err, "a live vCPU thread");
}

/* The idle holder: enters the VM's vCPUs, then waits to be told to exit. */
typedef struct ms_idle {
  ms_env_t *e;
  size_t i;
  pthread_t tid;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int state; /* 0 starting, 1 entered, 2 asked to exit, -1 failed */
  mmc_error_t err;
} ms_idle_t;
static ms_idle_t ms_idle_one;

static void *ms_idle_main(void *arg) {
  ms_idle_t *d = arg;
  wl_vm_t *vm = d->e->vm[d->i];
  int rc = wl_vm_enter_all(vm, &d->err);
  pthread_mutex_lock(&d->lock);
  d->state = rc ? -1 : 1;
  pthread_cond_broadcast(&d->cond);
  while (d->state == 1)
    pthread_cond_wait(&d->cond, &d->lock);
  pthread_mutex_unlock(&d->lock);
  if (rc == 0)
    wl_vm_exit_all(vm);
  return NULL;
}

void ms_idle_enter(ms_env_t *e, size_t i) {
  ms_idle_t *d = &ms_idle_one;
  *d = (ms_idle_t){.e = e, .i = i};
  pthread_mutex_init(&d->lock, NULL);
  pthread_cond_init(&d->cond, NULL);
  if (pthread_create(&d->tid, NULL, ms_idle_main, d) != 0)
    sc_broken(e->c, "pthread_create for an idle vCPU holder");
  pthread_mutex_lock(&d->lock);
  while (d->state == 0)
    pthread_cond_wait(&d->cond, &d->lock);
  int st = d->state;
  pthread_mutex_unlock(&d->lock);
  if (st < 0) {
    pthread_join(d->tid, NULL);
    sc_broken(e->c, "entering VM %zu's vCPUs: %s", i, d->err.msg);
  }
}

void ms_idle_exit(ms_env_t *e) {
  (void)e;
  ms_idle_t *d = &ms_idle_one;
  pthread_mutex_lock(&d->lock);
  d->state = 2;
  pthread_cond_broadcast(&d->cond);
  pthread_mutex_unlock(&d->lock);
  pthread_join(d->tid, NULL);
  pthread_cond_destroy(&d->cond);
  pthread_mutex_destroy(&d->lock);
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
