/*
 * numa_live.c — live-clock scenarios of the rebalancer and migration cases
 * (see numa_live.h). Invariants: while its thread runs, a VM's vCPU is used
 * by that thread only, and the case thread reads what the thread publishes
 * under its lock; after nl_stop the case thread enters the vCPU itself for
 * each call and exits it again, so no vCPU is ever entered twice.
 */
#include "numa_live.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mmc_clock.h"
#include "mmc_error.h"
#include "numa_scen.h"

static void nl_nap(uint64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
  nanosleep(&ts, NULL);
}

bool nl_init(nl_t *s, suite_ctx_t *c, const char *spec, const mmc_setting_value_t *set,
             size_t nset) {
  memset(s, 0, sizeof *s);
  s->c = c;
  s->im = sc_impl(c);
  s->topo = cu_topology(c, spec);
  s->h = sc_host(c, s->topo, MMC_CLOCK_LIVE, set, nset);
  /* SET-2: the period under way when the setting changes keeps its length,
   * so the short periods begin one old period after the host was made;
   * nl_release_all waits for that. */
  uint64_t made = cu_now_ns(), old = (uint64_t)cu_setting(c, s->h, "Numa.RebalancePeriod") * NL_MS;
  bool chosen = false; /* the case set the period itself (SET-2) */
  for (size_t i = 0; i < nset; i++)
    chosen = chosen || strcmp(set[i].name, "Numa.RebalancePeriod") == 0;
  if (sc_mode(c) == SUITE_MODE_QUICK && !chosen &&
      s->im->setting_set(s->h, "Numa.RebalancePeriod", NL_QUICK_PERIOD_MS, NULL) != 0)
    sc_diag(c, "Numa.RebalancePeriod=%d left alone: the implementation does not honour it",
            NL_QUICK_PERIOD_MS);
  s->period_ns = (uint64_t)cu_setting(c, s->h, "Numa.RebalancePeriod") * NL_MS;
  s->periods_from = made + old;
  sc_diag(c, "live scenario on %s, Numa.RebalancePeriod %llu ms, seed %llu", spec,
          (unsigned long long)(s->period_ns / NL_MS), (unsigned long long)sc_seed(c));
  if (cu_locator_try(c, &s->loc, &s->topo->desc, "home changes and page moves (probed)"))
    return true;
  sc_host_destroy(c, s->h);
  mmt_free(s->topo);
  return false;
}

/* ---- the vCPU threads */

/* Where page g of the VM is now (*node, -1 unattributed), through the
 * thread's entered vCPU. */
static int nl_locate_page(nl_t *s, wl_vcpu_t *v, uint64_t g, int *node, mmc_error_t *err) {
  void *p = cu_page(s->im, v->handle, g, false, err);
  int rc = p ? cu_locate_snapshot(&s->loc, &p, 1, node, err) : MMC_EINVAL;
  s->im->quiesce(v->handle);
  return rc;
}

/* Write the next never-written page and locate it: the VM's home now. */
static int nl_probe_home(nl_vcpu_t *t, wl_vcpu_t *v, uint64_t now, uint64_t prev,
                         mmc_error_t *err) {
  nl_t *s = t->s;
  uint64_t g = t->fresh;
  if (g >= s->vm[t->k]->truth.npages)
    return 0; /* none left: the case sized the VM for its deadline */
  int node = -1;
  int rc = wl_write_next(v, g, err);
  if (rc == 0)
    rc = nl_locate_page(s, v, g, &node, err);
  if (rc)
    return rc;
  pthread_mutex_lock(&t->lock);
  t->fresh = g + 1;
  if (t->home != -2 && node != t->home) {
    t->last_change = (nl_change_t){.t_lo = prev, .t = now, .page = g, .from = t->home, .to = node};
    t->all_changes++;
    if (t->nchanges < NL_MAX_CHANGES)
      t->change[t->nchanges++] = t->last_change;
  }
  t->home = node;
  pthread_mutex_unlock(&t->lock);
  return 0;
}

static int nl_burst_once(nl_vcpu_t *t, wl_vcpu_t *v, uint64_t now, mmc_error_t *err) {
  pthread_mutex_lock(&t->lock);
  nl_burst_t b = {.first = t->fresh, .n = t->burst_n, .before = t->home};
  uint32_t changes = t->nchanges;
  pthread_mutex_unlock(&t->lock);
  if (!b.n)
    return 0;
  if (b.first + b.n >= t->s->vm[t->k]->truth.npages)
    return mmc_fail(err, MMC_ERANGE, "a burst of %llu pages from page %llu: too few left",
                    (unsigned long long)b.n, (unsigned long long)b.first);
  int rc = 0;
  for (uint64_t g = b.first; rc == 0 && g < b.first + b.n; g++)
    rc = wl_write_next(v, g, err);
  t->s->im->quiesce(v->handle);
  pthread_mutex_lock(&t->lock);
  t->fresh = b.first + b.n;
  pthread_mutex_unlock(&t->lock);
  if (rc == 0)
    rc = nl_probe_home(t, v, cu_now_ns(), now, err);
  pthread_mutex_lock(&t->lock);
  b.after = t->home;
  b.steady = t->nchanges == changes && b.before == b.after;
  b.done = rc == 0;
  t->burst = b;
  t->burst_n = 0;
  pthread_mutex_unlock(&t->lock);
  return rc;
}

/* Count pages [0, n) on `node` (one batch of pointers, located at once). */
static int nl_count(nl_t *s, wl_vcpu_t *v, uint64_t n, int node, uint64_t *on, mmc_error_t *err) {
  void **ptrs = calloc(n, sizeof *ptrs);
  int *where = calloc(n, sizeof *where);
  int rc = ptrs && where ? 0
                         : mmc_fail(err, MMC_ENOMEM, "out of memory for %llu pointers",
                                    (unsigned long long)n);
  for (uint64_t g = 0; rc == 0 && g < n; g++)
    if (!(ptrs[g] = cu_page(s->im, v->handle, g, false, err)))
      rc = MMC_EINVAL;
  if (rc == 0)
    rc = cu_locate_snapshot(&s->loc, ptrs, n, where, err);
  s->im->quiesce(v->handle);
  *on = 0;
  for (uint64_t g = 0; rc == 0 && g < n; g++)
    *on += where[g] == node;
  free(ptrs);
  free(where);
  return rc;
}

static int nl_track_once(nl_vcpu_t *t, wl_vcpu_t *v, uint64_t now, uint64_t prev,
                         mmc_error_t *err) {
  pthread_mutex_lock(&t->lock);
  uint64_t n = t->track_n;
  int node = t->track_node;
  pthread_mutex_unlock(&t->lock);
  if (!n)
    return 0;
  uint64_t on = 0;
  int rc = nl_count(t->s, v, n, node, &on, err);
  if (rc)
    return rc;
  uint64_t end = cu_now_ns();
  pthread_mutex_lock(&t->lock);
  if (t->track_n == n && t->track_node == node) {
    t->on = on;
    t->t_on = now;
    if (t->hist && t->nhist < NL_MAX_SAMPLES)
      t->hist[t->nhist++] = (nl_sample_t){.t0 = now, .t1 = end, .on = on};
    if (on && !t->t_first) {
      t->t_first = now;
      t->t_first_lo = prev;
    }
  }
  pthread_mutex_unlock(&t->lock);
  return 0;
}

/* Busy: use the CPU until `until`; idle: sleep until then. Either way the
 * longest the machine kept the thread from running meanwhile (the largest
 * gap between two clock readings of the spin, or the oversleep) is the
 * machine's delay as this thread saw it, apart from any time spent in the
 * implementation's calls. */
static void nl_pace(nl_vcpu_t *t, bool busy, uint32_t duty, uint64_t until) {
  uint64_t late = 0, now = cu_now_ns();
  if (!busy) {
    if (now < until)
      nl_nap(until - now);
    uint64_t woke = cu_now_ns();
    late = woke > until ? woke - until : 0;
  } else {
    /* A duty below full spins its share of the pace, then sleeps. */
    uint64_t spin_end = duty ? until - NL_PROBE_NS + NL_PROBE_NS * duty / 1000 : until;
    for (uint64_t last = now; now < spin_end && !atomic_load(&t->stop); last = now) {
      now = cu_now_ns(); /* busy: runnable all along, a full core of demand */
      late = now - last > late ? now - last : late;
    }
    if (now < until && !atomic_load(&t->stop))
      nl_nap(until - now);
  }
  pthread_mutex_lock(&t->lock);
  t->max_late_ns = late > t->max_late_ns ? late : t->max_late_ns;
  pthread_mutex_unlock(&t->lock);
}

/* The calling thread's run time plus run delay (ns), or 0. */
static uint64_t nl_schedstat_ns(void) {
  uint64_t ns = 0;
  return mmc_thread_demand_ns((pid_t)syscall(SYS_gettid), &ns) ? ns : 0;
}

static void *nl_thread(void *arg) {
  nl_vcpu_t *t = arg;
  nl_t *s = t->s;
  wl_vm_t *vm = s->vm[t->k];
  wl_vcpu_t *v = &vm->vcpus[0];
  mmc_error_t err = {0};
  int rc = wl_vm_enter_all(vm, &err);
  for (uint64_t prev = cu_now_ns(), paces = 0; rc == 0 && !atomic_load(&t->stop); paces++) {
    uint64_t now = cu_now_ns();
    pthread_mutex_lock(&t->lock);
    bool busy = t->busy, declare = t->load_changed;
    uint32_t duty = t->duty;
    t->load_changed = false;
    pthread_mutex_unlock(&t->lock);
    if (declare && s->im->vcpu_set_demand)
      s->im->vcpu_set_demand(v->handle, busy ? (duty ? duty : 1000) : 0);
    if (atomic_load(&t->probe_homes) && paces % t->probe_every == 0)
      rc = nl_probe_home(t, v, now, prev, &err);
    if (rc == 0)
      rc = nl_burst_once(t, v, now, &err);
    if (rc == 0)
      rc = nl_track_once(t, v, now, prev, &err);
    struct timespec cpu;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    uint64_t demand = nl_schedstat_ns();
    pthread_mutex_lock(&t->lock);
    t->cpu_ns = (uint64_t)cpu.tv_sec * 1000000000ull + (uint64_t)cpu.tv_nsec;
    t->demand_ns = demand;
    pthread_mutex_unlock(&t->lock);
    prev = now;
    nl_pace(t, busy, duty, now + NL_PROBE_NS);
  }
  if (rc) {
    snprintf(t->err, sizeof t->err, "VM %u: %s (%s)", vm->id, err.msg, mmc_status_name(rc));
    atomic_store(&t->failed, true);
  }
  wl_vm_exit_all(vm);
  return NULL;
}

static void nl_start(nl_t *s, uint32_t k, bool busy, uint32_t duty, uint32_t probe_every) {
  nl_vcpu_t *t = &s->cpu[k];
  t->s = s;
  t->k = k;
  t->busy = busy;
  t->duty = duty < 1000 ? duty : 0;
  t->load_changed = true;
  t->probe_every = probe_every ? probe_every : 1;
  t->home = -2;
  t->fresh = s->data[k];
  atomic_init(&t->stop, false);
  atomic_init(&t->probe_homes, true);
  atomic_init(&t->failed, false);
  pthread_mutex_init(&t->lock, NULL);
  if (pthread_create(&t->tid, NULL, nl_thread, t) != 0)
    sc_broken(s->c, "pthread_create for a live vCPU");
  t->started = true;
}

/* ---- the case's side */

/* Wait for the first home probe of VM k's thread (its baseline: a change
 * before it would go unseen). */
static void nl_first_probe(nl_t *s, uint32_t k) {
  nl_vcpu_t *t = &s->cpu[k];
  uint64_t deadline = cu_now_ns() + 10 * s->period_ns;
  for (;;) {
    pthread_mutex_lock(&t->lock);
    s->home0[k] = t->home;
    pthread_mutex_unlock(&t->lock);
    if (s->home0[k] != -2 || atomic_load(&t->failed))
      return;
    if (cu_now_ns() >= deadline) {
      nl_stop(s); /* broken with the thread's error, if it failed */
      sc_broken(s->c, "the vCPU thread of VM %u made no home probe in 10 periods", k);
    }
    nl_nap(NL_MS); /* polling the thread's first probe, with a deadline */
  }
}

void nl_pin(nl_t *s, uint32_t k, uint64_t mask, const char *what) {
  s->cfg[k].node_affinity = mask;
  cu_reconfigure(s->c, s->h, s->vm[k]->id, &s->cfg[k], what);
}

uint32_t nl_vm(nl_t *s, const nl_vm_cfg_t *vc) {
  if (s->nvms >= NL_MAX_VMS)
    sc_broken(s->c, "live scenario: more than %u VMs", NL_MAX_VMS);
  uint32_t k = s->nvms;
  s->cfg[k] = cu_vm("numa-live", 1, vc->bytes);
  s->cfg[k].node_affinity = vc->placed ? 0 : 1ull << vc->mem;
  wl_idle_cfg_t ic = {.write_at_boot = false};
  mmc_error_t err = {0};
  int rc = wl_vm_boot(&s->vm[k], s->im, s->h, &s->cfg[k], wl_seed_mix(sc_seed(s->c), k),
                      &wl_idle_ops, &ic, &err);
  if (rc == MMC_ENOTSUP)
    cu_enotsup_verdict(s->c, &s->cfg[k], &err, "booting a live scenario VM");
  sc_require(s->c, rc, &err, "wl_vm_boot");
  s->nvms++;
  s->home0[k] = -2;
  s->keep_pin[k] = vc->keep_pin;
  uint64_t n = s->vm[k]->truth.npages;
  s->data[k] = vc->spare < n ? n - vc->spare : 0;
  nl_write(s, k, 0, s->data[k]);
  s->mem_off[k] = vc->placed ? 0 : nl_pages_off(s, k, 0, s->data[k], vc->mem);
  if (!vc->placed && vc->home != vc->mem)
    nl_pin(s, k, 1ull << vc->home, "vm_reconfigure (pin home)");
  if (vc->placed)
    s->keep_pin[k] = true; /* nothing to release */
  if (vc->run) {
    nl_start(s, k, vc->busy, vc->duty, vc->probe_every);
    nl_first_probe(s, k);
  }
  return k;
}

void nl_release_all(nl_t *s) {
  cu_sleep_until_ns(s->periods_from);
  for (uint32_t k = 0; k < s->nvms; k++)
    if (!s->keep_pin[k])
      nl_pin(s, k, 0, "vm_reconfigure (release the pin)");
}

bool nl_wait_change(nl_t *s, uint64_t deadline, uint32_t *k, nl_change_t *mv) {
  for (;;) {
    for (uint32_t i = 0; i < s->nvms; i++) {
      nl_vcpu_t *t = &s->cpu[i];
      if (!t->started)
        continue;
      pthread_mutex_lock(&t->lock);
      bool seen = t->nchanges > 0;
      if (seen)
        *mv = t->change[0];
      pthread_mutex_unlock(&t->lock);
      if (seen) {
        *k = i;
        return true;
      }
      if (atomic_load(&t->failed))
        return false; /* nl_stop reports it */
    }
    if (cu_now_ns() >= deadline)
      return false;
    nl_nap(NL_MS); /* polling what the threads publish, with a deadline */
  }
}

uint64_t nl_cpu_ns(nl_t *s, uint32_t k) {
  pthread_mutex_lock(&s->cpu[k].lock);
  uint64_t ns = s->cpu[k].cpu_ns;
  pthread_mutex_unlock(&s->cpu[k].lock);
  return ns;
}

uint64_t nl_demand_ns(nl_t *s, uint32_t k) {
  pthread_mutex_lock(&s->cpu[k].lock);
  uint64_t ns = s->cpu[k].demand_ns;
  pthread_mutex_unlock(&s->cpu[k].lock);
  return ns;
}

uint64_t nl_probe_pages(const nl_t *s) {
  return NL_BASE_PERIODS * s->period_ns / NL_PROBE_NS + 256;
}

void nl_base(nl_t *s, uint64_t bytes, uint64_t extra) {
  uint64_t spare = nl_probe_pages(s) + extra;
  const nl_vm_cfg_t busy = {.bytes = bytes + spare * MMC_PAGE_SIZE,
                            .spare = spare,
                            .busy = true,
                            .run = true},
                    idle = {.bytes = 4 * 1024 * 1024, .mem = 1, .home = 1};
  nl_vm(s, &busy);
  nl_vm(s, &busy);
  nl_vm(s, &idle);
  nl_release_all(s);
}

/* CPU time the busy VMs' threads used so far. */
static uint64_t nl_busy_cpu(nl_t *s) {
  uint64_t ns = 0;
  for (uint32_t k = 0; k < s->nvms; k++)
    if (s->cpu[k].started && s->cpu[k].busy)
      ns += nl_cpu_ns(s, k);
  return ns;
}

nl_base_t nl_await(nl_t *s, uint64_t wait, double imbalance_pct, uint32_t *k, nl_change_t *mv,
                   char *why, size_t len) {
  uint64_t t0 = cu_now_ns(), cpu0 = nl_busy_cpu(s);
  if (nl_wait_change(s, t0 + wait, k, mv))
    return NL_MOVED;
  double used = (double)(nl_busy_cpu(s) - cpu0) / (double)(cu_now_ns() - t0);
  double cores =
      s->topo->desc.nodes[0].ncores ? s->topo->desc.nodes[0].ncores : s->topo->desc.nodes[0].ncpus;
  double need = 2.0 * imbalance_pct / 100.0;
  snprintf(why, len, "no home change seen in %.1f s; the busy VMs used %.2f cores of node 0's %.0f",
           (double)wait / 1e9, used, cores);
  if (used / cores >= need)
    return NL_NO_MOVE;
  sc_not_shown_kind(s->c, SUITE_NOTSHOWN_MACHINE,
                    "the imbalance needs the busy VMs at %.0f %% of node 0's cores (twice the "
                    "%.0f %% threshold); the machine gave their threads %.0f %%",
                    100.0 * need, imbalance_pct, 100.0 * used / cores);
  return NL_MACHINE;
}

nl_base_t nl_base_move(nl_t *s, uint64_t bytes, uint64_t extra, uint32_t *k, nl_change_t *mv,
                       char *why, size_t len) {
  nl_base(s, bytes, extra);
  double thr = (double)cu_setting(s->c, s->h, "Numa.MigImbalanceThreshold");
  return nl_await(s, NL_BASE_PERIODS * s->period_ns, thr, k, mv, why, len);
}

uint32_t nl_changes(nl_t *s, uint32_t k, nl_change_t *out, uint32_t max) {
  nl_vcpu_t *t = &s->cpu[k];
  pthread_mutex_lock(&t->lock);
  uint32_t n = t->nchanges;
  memcpy(out, t->change, (n < max ? n : max) * sizeof *out);
  pthread_mutex_unlock(&t->lock);
  return n;
}

void nl_homes_off(nl_t *s) {
  for (uint32_t i = 0; i < s->nvms; i++)
    if (s->cpu[i].started)
      atomic_store(&s->cpu[i].probe_homes, false);
}

bool nl_burst(nl_t *s, uint32_t k, uint64_t n, uint64_t deadline, nl_burst_t *out) {
  nl_vcpu_t *t = &s->cpu[k];
  pthread_mutex_lock(&t->lock);
  t->burst = (nl_burst_t){0};
  t->burst_n = n;
  pthread_mutex_unlock(&t->lock);
  for (;;) {
    pthread_mutex_lock(&t->lock);
    *out = t->burst;
    pthread_mutex_unlock(&t->lock);
    if (out->done || atomic_load(&t->failed) || cu_now_ns() >= deadline)
      return out->done;
    nl_nap(NL_MS); /* polling the thread's answer, with a deadline */
  }
}

void nl_track(nl_t *s, uint32_t k, uint64_t n, int node) {
  nl_vcpu_t *t = &s->cpu[k];
  nl_sample_t *hist = calloc(NL_MAX_SAMPLES, sizeof *hist);
  if (!hist)
    sc_broken(s->c, "out of memory for %u samples", NL_MAX_SAMPLES);
  pthread_mutex_lock(&t->lock);
  free(t->hist);
  t->hist = hist;
  t->nhist = 0;
  t->track_n = n;
  t->track_node = node;
  t->on = t->t_on = t->t_first = t->t_first_lo = 0;
  pthread_mutex_unlock(&t->lock);
}

uint32_t nl_samples(nl_t *s, uint32_t k, nl_sample_t *out, uint32_t max) {
  nl_vcpu_t *t = &s->cpu[k];
  if (t->started)
    sc_broken(s->c, "live scenario: VM %u's samples are read after nl_stop", k);
  uint32_t n = t->nhist < max ? t->nhist : max;
  if (n)
    memcpy(out, t->hist, n * sizeof *out);
  return n;
}

void nl_tracked(nl_t *s, uint32_t k, uint64_t *on, uint64_t *t_first, uint64_t *t_first_lo) {
  nl_vcpu_t *t = &s->cpu[k];
  pthread_mutex_lock(&t->lock);
  *on = t->on;
  *t_first = t->t_first;
  *t_first_lo = t->t_first_lo;
  pthread_mutex_unlock(&t->lock);
}

void nl_reset_late(nl_t *s) {
  for (uint32_t i = 0; i < s->nvms; i++) {
    if (!s->cpu[i].started)
      continue;
    pthread_mutex_lock(&s->cpu[i].lock);
    s->cpu[i].max_late_ns = 0;
    pthread_mutex_unlock(&s->cpu[i].lock);
  }
}

uint64_t nl_max_late(nl_t *s) {
  uint64_t late = 0;
  for (uint32_t i = 0; i < s->nvms; i++) {
    if (!s->cpu[i].started)
      continue;
    pthread_mutex_lock(&s->cpu[i].lock);
    late = s->cpu[i].max_late_ns > late ? s->cpu[i].max_late_ns : late;
    pthread_mutex_unlock(&s->cpu[i].lock);
  }
  return late;
}

/* Join VM i's thread (asked to stop); its failure into err when err is
 * still empty. */
static void nl_join(nl_t *s, uint32_t i, char *err, size_t len) {
  nl_vcpu_t *t = &s->cpu[i];
  if (!t->started)
    return;
  pthread_join(t->tid, NULL);
  t->started = false;
  s->data[i] = t->fresh; /* the probe pages written are data now */
  pthread_mutex_destroy(&t->lock);
  if (t->err[0] && !err[0])
    snprintf(err, len, "%s", t->err);
}

void nl_stop(nl_t *s) {
  for (uint32_t i = 0; i < s->nvms; i++)
    if (s->cpu[i].started)
      atomic_store(&s->cpu[i].stop, true);
  char err[sizeof s->cpu[0].err] = "";
  for (uint32_t i = 0; i < s->nvms; i++)
    nl_join(s, i, err, sizeof err);
  if (err[0])
    sc_broken(s->c, "live vCPU thread: %s", err);
}

void nl_vm_off(nl_t *s, uint32_t k) {
  char err[sizeof s->cpu[0].err] = "";
  if (s->cpu[k].started)
    atomic_store(&s->cpu[k].stop, true);
  nl_join(s, k, err, sizeof err);
  if (err[0]) {
    nl_stop(s);
    sc_broken(s->c, "live vCPU thread: %s", err);
  }
  mmc_error_t e = {0};
  int rc = s->vm[k] ? wl_vm_shutdown(s->vm[k], &e) : 0;
  s->vm[k] = NULL;
  if (rc) {
    nl_stop(s);
    sc_broken(s->c, "power-off of live scenario VM %u: %s (%s)", k, e.msg, mmc_status_name(rc));
  }
}

void nl_set_load(nl_t *s, uint32_t k, bool busy, uint32_t duty) {
  nl_vcpu_t *t = &s->cpu[k];
  pthread_mutex_lock(&t->lock);
  t->busy = busy;
  t->duty = duty < 1000 ? duty : 0;
  t->load_changed = true;
  pthread_mutex_unlock(&t->lock);
}

uint64_t nl_last_change(nl_t *s, uint32_t k, nl_change_t *last) {
  nl_vcpu_t *t = &s->cpu[k];
  pthread_mutex_lock(&t->lock);
  uint64_t n = t->all_changes;
  if (n)
    *last = t->last_change;
  pthread_mutex_unlock(&t->lock);
  return n;
}

void nl_fini(nl_t *s) {
  nl_stop(s);
  mmc_error_t err = {0};
  for (uint32_t k = 0; k < s->nvms; k++) {
    free(s->cpu[k].hist);
    if (s->vm[k] && wl_vm_shutdown(s->vm[k], &err))
      sc_diag(s->c, "power-off of VM %u: %s", k, err.msg);
  }
  cu_locator_free(&s->loc);
  sc_host_destroy(s->c, s->h);
  mmt_free(s->topo);
  memset(s, 0, sizeof *s);
}

/* The case thread's turn with VM k's vCPU (threads stopped). */
static wl_vcpu_t *nl_enter(nl_t *s, uint32_t k) {
  if (s->cpu[k].started)
    sc_broken(s->c, "live scenario: VM %u's vCPU is its thread's until nl_stop", k);
  mmc_error_t err = {0};
  sc_require(s->c, wl_vm_enter_all(s->vm[k], &err), &err, "wl_vm_enter_all");
  return &s->vm[k]->vcpus[0];
}

uint64_t nl_fresh(nl_t *s, uint32_t k) {
  return s->data[k];
}

int nl_home_now(nl_t *s, uint32_t k) {
  wl_vcpu_t *v = nl_enter(s, k);
  uint64_t g = s->data[k];
  if (g >= s->vm[k]->truth.npages)
    sc_broken(s->c, "live scenario VM %u has no never-written page left to probe its home", k);
  mmc_error_t err = {0};
  sc_require(s->c, wl_write_next(v, g, &err), &err, "wl_write_next");
  void *p = cu_page(s->im, v->handle, g, false, &err);
  if (!p)
    sc_broken(s->c, "page %llu: %s", (unsigned long long)g, err.msg);
  int node = -1;
  cu_locate(s->c, &s->loc, &p, 1, &node);
  s->data[k] = g + 1;
  wl_vm_exit_all(s->vm[k]);
  return node;
}

void nl_write(nl_t *s, uint32_t k, uint64_t first, uint64_t n) {
  wl_vcpu_t *v = nl_enter(s, k);
  mmc_error_t err = {0};
  for (uint64_t g = first; g < first + n; g++) {
    sc_require(s->c, wl_write_next(v, g, &err), &err, "wl_write_next");
    if (g % 256 == 255)
      s->im->quiesce(v->handle); /* hold nothing a remapper waits for for long */
  }
  if (first + n > s->data[k])
    s->data[k] = first + n;
  wl_vm_exit_all(s->vm[k]);
}

int64_t nl_pages_off(nl_t *s, uint32_t k, uint64_t first, uint64_t n, uint32_t node) {
  wl_vcpu_t *v = nl_enter(s, k);
  int64_t off = cu_pages_off(s->c, &s->loc, v->handle, first, n, node);
  wl_vm_exit_all(s->vm[k]);
  return off;
}

bool nl_verify(nl_t *s, uint32_t k, char *line, size_t len) {
  if (s->cpu[k].started)
    sc_broken(s->c, "live scenario: VM %u's vCPU is its thread's until nl_stop", k);
  return scen_verify_vm(s->c, s->vm[k], line, len);
}
