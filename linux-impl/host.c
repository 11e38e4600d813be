/*
 * host.c — the Linux implementation's host: creation on this machine's own
 * NUMA nodes, settings by documented name (SET-1, SET-2), the live clock
 * and its daemon thread, the event stream, host statistics, and the exported
 * contract table `mmcert_impl`.
 *
 * The clock is live only (MMC_CAP_CLOCK_LIVE): the kernel's daemons (ksmd,
 * kswapd, NUMA balancing, the scheduler) run on real time and cannot be
 * stepped, so a stepped host is refused and advance() is MMC_ENOTSUP. Our
 * own daemon thread runs three periodic jobs, each the observation or the
 * one policy of ours described in its file: pressure.c (a host over its
 * memory), ksm.c (KSM merges seen per VM) and wss.c (the working-set
 * window). A setting's new period is read when a job is next scheduled, so
 * a change takes effect from the next period (SET-2).
 *
 * Topologies: every node must be a kernel NUMA node of this machine
 * (MMC_CAP_REAL_NODES_ONLY); an emulated one is refused with MMC_ENOTSUP,
 * and the suite then calls the topology not applicable. The nodes' memory
 * (memory_bytes, capped by the suite's --host-memory) is the host's memory:
 * what pressure.c holds resident guest memory to.
 *
 * Invariants:
 *  - a failed host_create leaves nothing behind: no thread, no file, no
 *    borrowed knob (the borrow is ended, which restores);
 *  - event seq numbers are 0,1,2,... without gaps; a reader that fell more
 *    than the ring behind gets one MMC_EV_LOST with the count;
 *  - a rejected setting keeps its old value.
 * Locking: lx.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lx.h"
#include "mmc_borrow.h"

/* Event types this implementation never reports: what the kernel does
 * there is invisible to a process, or the behaviour does not exist. */
#define LX_UNOBSERVED_EVENTS                                                                       \
  ((1ull << MMC_EV_PLACEMENT) | (1ull << MMC_EV_HOME_CHANGE) | (1ull << MMC_EV_COW_BREAK) |        \
   (1ull << MMC_EV_SWAP_IN) | (1ull << MMC_EV_COMPRESS) | (1ull << MMC_EV_STATE_CHANGE) |          \
   (1ull << MMC_EV_REBALANCE) | (1ull << MMC_EV_FALLBACK))

/* ---------------------------------------------------------------- clock */

uint64_t lx_now(lx_host_t *h) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t s = (int64_t)ts.tv_sec - (int64_t)h->t0.tv_sec;
  int64_t ns = (int64_t)ts.tv_nsec - (int64_t)h->t0.tv_nsec;
  return (uint64_t)(s * (int64_t)LX_NS_PER_SEC + ns);
}

static int host_advance(mmc_host_t *h, uint64_t now_ns, mmc_error_t *err) {
  (void)h;
  (void)now_ns;
  return mmc_fail(err, MMC_ENOTSUP, "advance: %s", lx_why_not(MMC_CAP_CLOCK_STEPPED));
}

static uint64_t host_now(mmc_host_t *h) {
  return lx_now(h);
}

/* ---------------------------------------------------------------- events */

void lx_emit(lx_host_t *h, mmc_event_t ev) {
  mmc_evring_emit(&h->events, ev, lx_now(h));
}

void lx_lock(lx_host_t *h) {
  atomic_fetch_add(&h->callers, 1);
  pthread_mutex_lock(&h->lock);
  atomic_fetch_sub(&h->callers, 1);
}

void lx_unlock(lx_host_t *h) {
  if (atomic_load(&h->callers) == 0) /* the last waiting caller is done */
    pthread_cond_signal(&h->callers_gone);
  pthread_mutex_unlock(&h->lock);
}

static size_t host_events_read(mmc_host_t *h, uint64_t *cursor, mmc_event_t *buf, size_t max) {
  return h ? mmc_evring_read(&h->events, cursor, buf, max, lx_now(h)) : 0;
}

/* ---------------------------------------------------------------- the daemon thread */

static uint64_t period_ns(const lx_host_t *h, lx_setting_id_t id) {
  const lx_setting_def_t *d = lx_setting_def(id);
  uint64_t v = (uint64_t)lx_set(h, id);
  if (!strcmp(d->unit, "s"))
    return v * LX_NS_PER_SEC;
  return v * LX_NS_PER_MS; /* "ms" */
}

static void add_job(lx_host_t *h, const char *name, lx_setting_id_t period,
                    void (*run)(lx_host_t *, uint64_t)) {
  if (h->njobs < LX_MAX_JOBS)
    h->jobs[h->njobs++] = (lx_job_t){.name = name, .period = period, .run = run};
}

/* h->lock held: the control calls waiting for the lock go first. Without
 * this a job that outlasts its period ran back to back, and the mutex,
 * released only for an instant between runs, went to the daemon again.
 * At most LX_YIELD_MAX_NS, so that a caller polling without pause cannot
 * keep the jobs out for good either. */
#define LX_YIELD_MAX_NS 100000000ull
static void let_callers_in(lx_host_t *h) {
  uint64_t abs = (uint64_t)h->t0.tv_sec * LX_NS_PER_SEC + (uint64_t)h->t0.tv_nsec + lx_now(h) +
                 LX_YIELD_MAX_NS;
  struct timespec until = {.tv_sec = (time_t)(abs / LX_NS_PER_SEC),
                           .tv_nsec = (long)(abs % LX_NS_PER_SEC)};
  while (atomic_load(&h->callers) > 0 && !h->daemon_stop)
    if (pthread_cond_timedwait(&h->callers_gone, &h->lock, &until) == ETIMEDOUT)
      return;
}

static void *daemon_main(void *arg) {
  lx_host_t *h = arg;
  pthread_mutex_lock(&h->lock);
  while (!h->daemon_stop) {
    uint64_t now = lx_now(h), next = UINT64_MAX;
    for (uint32_t i = 0; i < h->njobs && !h->daemon_stop; i++) {
      lx_job_t *j = &h->jobs[i];
      uint64_t due = j->last_ns + period_ns(h, j->period);
      let_callers_in(h);
      if (due <= now && !h->daemon_stop) {
        j->last_ns = now;
        j->run(h, now); /* with h->lock held */
        due = now + period_ns(h, j->period);
      }
      if (due < next)
        next = due;
    }
    if (next == UINT64_MAX) {
      pthread_cond_wait(&h->wake, &h->lock);
      continue;
    }
    uint64_t abs = (uint64_t)h->t0.tv_sec * LX_NS_PER_SEC + (uint64_t)h->t0.tv_nsec + next;
    struct timespec ts = {.tv_sec = (time_t)(abs / LX_NS_PER_SEC),
                          .tv_nsec = (long)(abs % LX_NS_PER_SEC)};
    pthread_cond_timedwait(&h->wake, &h->lock, &ts);
  }
  pthread_mutex_unlock(&h->lock);
  return NULL;
}

/* The jobs of the mechanisms this kernel has. */
static void add_kernel_jobs(lx_host_t *h) {
  uint64_t caps = lx_kernel.caps;
  if (caps & MMC_CAP_SWAP)
    add_job(h, "pressure", LX_SET_PRESSURE_PERIOD, lx_pressure_run);
  if (caps & MMC_CAP_SHARING)
    add_job(h, "ksm-observe", LX_SET_OBSERVE_PERIOD, lx_ksm_observe);
  if (caps & MMC_CAP_WSS)
    add_job(h, "wss", LX_SET_MEM_SAMPLE_PERIOD, lx_wss_run);
}

int lx_daemon_start(lx_host_t *h, mmc_error_t *err) {
  uint64_t now = lx_now(h);
  for (uint32_t i = 0; i < h->njobs; i++)
    h->jobs[i].last_ns = now;
  int e = pthread_create(&h->daemon, NULL, daemon_main, h);
  if (e)
    return mmc_fail(err, MMC_ENOMEM, "host_create: cannot start the daemon thread: %s",
                    strerror(e));
  h->daemon_running = true;
  return 0;
}

void lx_daemon_stop(lx_host_t *h) {
  if (!h->daemon_running)
    return;
  lx_lock(h);
  h->daemon_stop = true;
  pthread_cond_broadcast(&h->wake);
  pthread_cond_broadcast(&h->callers_gone);
  lx_unlock(h);
  pthread_join(h->daemon, NULL);
  h->daemon_running = false;
}

/* ---------------------------------------------------------------- settings */

/* The mechanism behind a changed honoured setting. h->lock held. */
static int apply_setting(lx_host_t *h, lx_setting_id_t id, mmc_error_t *err) {
  switch (id) {
  case LX_SET_MEM_SHARE_SCAN_GHZ:
  case LX_SET_KSM_SLEEP_MS: return lx_ksm_setting_changed(h, id, err);
  case LX_SET_NUMA_REBALANCE_ENABLE:
    if (h->borrowing && h->nnodes > 1 && lx_kernel.numa_balancing)
      return mmc_borrow_knob("/proc/sys/kernel/numa_balancing", lx_set(h, id) ? "1" : "0", err);
    return 0;
  case LX_SET_MEM_ZIP_ENABLE:
    if (h->zswap_set)
      return mmc_borrow_knob("/sys/module/zswap/parameters/enabled", lx_set(h, id) ? "Y" : "N",
                             err);
    return 0;
  default: return 0;
  }
}

static int set_locked(lx_host_t *h, const char *name, int64_t value, bool apply, mmc_error_t *err) {
  lx_setting_id_t id;
  int rc = lx_setting_lookup(name, &id, err);
  if (rc == 0)
    rc = lx_setting_check(id, value, err);
  if (rc)
    return rc;
  int64_t old = h->set[id];
  h->set[id] = value;
  if (apply && (rc = apply_setting(h, id, err)) != 0) {
    h->set[id] = old;
    apply_setting(h, id, NULL);
    return rc;
  }
  pthread_cond_broadcast(&h->wake); /* jobs recompute their due times */
  return 0;
}

static int host_setting_set(mmc_host_t *h, const char *name, int64_t value, mmc_error_t *err) {
  lx_lock(h);
  int rc = set_locked(h, name, value, true, err);
  lx_unlock(h);
  return rc;
}

static int host_setting_get(mmc_host_t *h, const char *name, int64_t *value, mmc_error_t *err) {
  lx_setting_id_t id;
  int rc = lx_setting_lookup(name, &id, err);
  if (rc)
    return rc;
  const lx_setting_def_t *d = lx_setting_def(id);
  if (d->unsupported)
    return mmc_fail(err, MMC_ENOTSUP, "%s: %s", d->name, d->unsupported);
  if (!value)
    return mmc_fail(err, MMC_EINVAL, "setting_get %s: value pointer is NULL", name);
  lx_lock(h);
  *value = h->set[id];
  lx_unlock(h);
  return 0;
}

static int host_setting_info(mmc_host_t *h, size_t index, mmc_setting_info_t *out) {
  const lx_setting_def_t *d = lx_setting_def((lx_setting_id_t)index);
  if (!d || !out)
    return MMC_ENOENT;
  lx_profile_t p = h ? h->profile : LX_PROFILE_ESXI67;
  *out = (mmc_setting_info_t){.name = d->name,
                              .default_value = d->def[p],
                              .min = d->min,
                              .max = d->max,
                              .unit = d->unit,
                              .meaning = d->meaning};
  return 0;
}

/* ---------------------------------------------------------------- creation */

int lx_node_of_os(const lx_host_t *h, int os_node) {
  for (uint32_t i = 0; i < h->nnodes; i++)
    if ((int)h->nodes[i].os_index == os_node)
      return (int)i;
  return -1;
}

static int check_topology(const mmc_topology_t *t, mmc_error_t *err) {
  if (!t)
    return mmc_fail(err, MMC_EINVAL, "host_create: topology is missing");
  if (t->nnodes < 1 || t->nnodes > MMC_MAX_NODES || !t->nodes)
    return mmc_fail(err, MMC_EINVAL, "host_create: topology has %u nodes (allowed 1..%u)",
                    t->nnodes, MMC_MAX_NODES);
  for (uint32_t i = 0; i < t->nnodes; i++) {
    const mmc_node_t *n = &t->nodes[i];
    char path[64];
    snprintf(path, sizeof path, "/sys/devices/system/node/node%u", n->os_index);
    if (!n->real || (lx_kernel.nodes > 1 && access(path, F_OK) != 0) ||
        (lx_kernel.nodes <= 1 && n->os_index != 0))
      return mmc_fail(err, MMC_ENOTSUP,
                      "host_create: node %u (OS node %u) is not a NUMA node of this machine's "
                      "kernel: the Linux implementation runs only on the machine's own nodes",
                      i, n->os_index);
    if (n->ncpus && !n->cpus)
      return mmc_fail(err, MMC_EINVAL, "host_create: node %u has %u CPUs but no CPU list", i,
                      n->ncpus);
  }
  return 0;
}

static int copy_topology(lx_host_t *h, const mmc_topology_t *t, mmc_error_t *err) {
  size_t ncpu = 0;
  for (uint32_t i = 0; i < t->nnodes; i++)
    ncpu += t->nodes[i].ncpus;
  h->cpu_storage = calloc(ncpu ? ncpu : 1, sizeof *h->cpu_storage);
  if (!h->cpu_storage)
    return mmc_fail(err, MMC_ENOMEM, "host_create: out of memory copying the topology");
  h->nnodes = t->nnodes;
  h->ncores = t->ncores;
  h->cpu_mhz = t->cpu_mhz;
  size_t at = 0;
  for (uint32_t i = 0; i < t->nnodes; i++) {
    h->nodes[i] = t->nodes[i];
    if (t->nodes[i].ncpus)
      memcpy(h->cpu_storage + at, t->nodes[i].cpus, t->nodes[i].ncpus * sizeof(uint32_t));
    h->nodes[i].cpus = h->cpu_storage + at;
    at += t->nodes[i].ncpus;
    h->capacity_pages += t->nodes[i].memory_bytes / MMC_PAGE_SIZE;
  }
  return 0;
}

static int apply_config_settings(lx_host_t *h, const mmc_host_config_t *cfg, mmc_error_t *err) {
  if (cfg->nsettings && !cfg->settings)
    return mmc_fail(err, MMC_EINVAL, "host_create: %zu settings given but the list is NULL",
                    cfg->nsettings);
  for (size_t i = 0; i < cfg->nsettings; i++) {
    int rc = set_locked(h, cfg->settings[i].name, cfg->settings[i].value, false, err);
    if (rc)
      return rc;
  }
  return 0;
}

int lx_host_sync_init(lx_host_t *h, mmc_error_t *err) {
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int rc = pthread_cond_init(&h->wake, &ca);
  if (rc == 0)
    rc = pthread_cond_init(&h->callers_gone, &ca); /* CLOCK_MONOTONIC too: let_callers_in */
  pthread_condattr_destroy(&ca);
  if (rc || pthread_mutex_init(&h->lock, NULL))
    return mmc_fail(err, MMC_ENOMEM, "host_create: cannot initialise locks");
  return 0;
}

/* Borrow what the host needs of the machine: ksmd, NUMA balancing. Swap
 * files and zswap are borrowed when first needed (swap.c). */
static int borrow_machine(lx_host_t *h, mmc_error_t *err) {
  bool numa = h->nnodes > 1 && lx_kernel.numa_balancing;
  if (!lx_kernel.root || !(lx_kernel.caps & (MMC_CAP_SHARING | MMC_CAP_SWAP) || numa))
    return 0;
  int rc = mmc_borrow_begin(err);
  if (rc)
    return rc;
  h->borrowing = true;
  if (numa && (rc = apply_setting(h, LX_SET_NUMA_REBALANCE_ENABLE, err)))
    return rc;
  if (lx_kernel.caps & MMC_CAP_SHARING)
    rc = lx_ksm_host_start(h, err);
  return rc;
}

static void host_free(lx_host_t *h) {
  for (uint32_t id = 0; id < h->vm_cap; id++)
    if (h->vms[id]) {
      lx_lock(h);
      lx_vm_free(h, h->vms[id]);
      lx_unlock(h);
    }
  if (h->borrowing)
    mmc_borrow_end();
  free(h->vms);
  mmc_evring_fini(&h->events);
  free(h->cpu_storage);
  pthread_cond_destroy(&h->wake);
  pthread_cond_destroy(&h->callers_gone);
  pthread_mutex_destroy(&h->lock);
  free(h);
}

static int check_config(const mmc_host_config_t *cfg, mmc_host_t **out, lx_profile_t *profile,
                        mmc_error_t *err) {
  if (!cfg || !out)
    return mmc_fail(err, MMC_EINVAL, "host_create: config or output pointer is NULL");
  if (cfg->clock == MMC_CLOCK_STEPPED)
    return mmc_fail(err, MMC_ENOTSUP, "host_create: stepped clock: %s",
                    lx_why_not(MMC_CAP_CLOCK_STEPPED));
  if (cfg->clock != MMC_CLOCK_LIVE)
    return mmc_fail(err, MMC_EINVAL, "host_create: clock mode %d unknown (0 stepped, 1 live)",
                    (int)cfg->clock);
  int rc = lx_profile_parse(cfg->profile, profile, err);
  return rc ? rc : check_topology(cfg->topology, err);
}

static int host_create(const mmc_host_config_t *cfg, mmc_host_t **out, mmc_error_t *err) {
  lx_profile_t profile;
  int rc = check_config(cfg, out, &profile, err);
  if (rc)
    return rc;
  lx_host_t *h = calloc(1, sizeof *h);
  if (!h)
    return mmc_fail(err, MMC_ENOMEM, "host_create: out of memory");
  h->profile = profile;
  h->seed = cfg->seed;
  h->next_id = 1;
  h->ksm_process_seen = UINT64_MAX;
  for (int i = 0; i < LX_SET_COUNT; i++)
    h->set[i] = lx_setting_def((lx_setting_id_t)i)->def[profile];
  clock_gettime(CLOCK_MONOTONIC, &h->t0);
  if ((rc = lx_host_sync_init(h, err)) || (rc = apply_config_settings(h, cfg, err)) ||
      (rc = copy_topology(h, cfg->topology, err)))
    goto out_free;
  if ((rc = mmc_evring_init(&h->events, (uint64_t)lx_set(h, LX_SET_EVENT_RING_SIZE), err))) {
    mmc_error_prefix(err, "host_create");
    goto out_free;
  }
  if ((lx_kernel.caps & MMC_CAP_SWAP) && (rc = lx_swap_host_init(h, cfg->swap_dir, err)))
    goto out_free;
  lx_lock(h);
  rc = borrow_machine(h, err);
  lx_unlock(h);
  if (!rc)
    add_kernel_jobs(h);
  if (rc || (rc = lx_daemon_start(h, err)))
    goto out_free;
  *out = h;
  return 0;
out_free:
  host_free(h);
  return rc;
}

static void host_destroy(mmc_host_t *h) {
  if (!h)
    return;
  lx_daemon_stop(h);
  host_free(h);
}

/* ---------------------------------------------------------------- VMs by id */

lx_vm_t *lx_vm_get(lx_host_t *h, mmc_vm_id_t id, mmc_error_t *err) {
  if (id == 0 || id >= h->vm_cap || !h->vms[id] || !atomic_load(&h->vms[id]->on)) {
    mmc_fail(err, MMC_ENOENT, "VM %u does not exist or is powered off", id);
    return NULL;
  }
  return h->vms[id];
}

/* ---------------------------------------------------------------- host statistics */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Frames behind every present guest page of the host, from pagemap PFNs
 * (root): how many distinct, how many back more than one guest page. */
static void count_frames(uint64_t *pfns, uint64_t n, uint64_t *distinct, uint64_t *shared) {
  qsort(pfns, n, sizeof *pfns, cmp_u64);
  *distinct = *shared = 0;
  for (uint64_t i = 0; i < n;) {
    uint64_t j = i + 1;
    while (j < n && pfns[j] == pfns[i])
      j++;
    if (pfns[i]) {
      (*distinct)++;
      *shared += j - i > 1;
    }
    i = j;
  }
}

static uint64_t total_pages(const lx_host_t *h) {
  uint64_t n = 0;
  for (uint32_t id = 1; id < h->vm_cap; id++)
    if (h->vms[id] && atomic_load(&h->vms[id]->on))
      n += h->vms[id]->npages;
  return n;
}

static int stats_pages(lx_host_t *h, mmc_host_stats_t *out, mmc_error_t *err) {
  uint64_t used[MMC_MAX_NODES] = {0}, backed = 0, at = 0;
  uint64_t *pfns = NULL;
  if (lx_kernel.kpageflags && !(pfns = calloc(total_pages(h) + 1, sizeof *pfns)))
    return mmc_fail(err, MMC_ENOMEM, "host_stats: out of memory for page frame numbers");
  for (uint32_t id = 1; id < h->vm_cap; id++) {
    lx_vm_t *vm = h->vms[id];
    if (!vm || !atomic_load(&vm->on))
      continue;
    lx_obs_t o;
    int rc = lx_observe_vm(h, vm, &o, pfns ? pfns + at : NULL, err);
    if (rc) {
      free(pfns);
      return rc;
    }
    for (uint32_t n = 0; n < h->nnodes; n++)
      used[n] += o.per_node[n];
    backed += o.present;
    at += vm->npages;
  }
  for (uint32_t n = 0; n < h->nnodes; n++) {
    out->node_capacity_pages[n] = h->nodes[n].memory_bytes / MMC_PAGE_SIZE;
    out->node_free_pages[n] =
        used[n] < out->node_capacity_pages[n] ? out->node_capacity_pages[n] - used[n] : 0;
  }
  if (pfns) {
    uint64_t distinct, shared;
    count_frames(pfns, at, &distinct, &shared);
    out->shared_frames = shared;
    out->saved_pages = backed > distinct ? backed - distinct : 0;
    free(pfns);
  } else {
    out->unobserved |= MMC_HOSTSTAT_SHARED_FRAMES | MMC_HOSTSTAT_SAVED_PAGES;
  }
  return 0;
}

static int host_stats(mmc_host_t *h, mmc_host_stats_t *out, mmc_error_t *err) {
  if (!out)
    return mmc_fail(err, MMC_EINVAL, "host_stats: output pointer is NULL");
  memset(out, 0, sizeof *out);
  lx_lock(h);
  out->nnodes = h->nnodes;
  out->nvms = h->nvms;
  out->now_ns = lx_now(h);
  out->unobserved = MMC_HOSTSTAT_MEM_STATE | MMC_HOSTSTAT_MIN_FREE | MMC_HOSTSTAT_REBALANCE_PERIODS;
  out->unobserved_events = LX_UNOBSERVED_EVENTS;
  if (!lx_kernel.move_pages)
    out->unobserved |= MMC_HOSTSTAT_NODE_FREE;
  int rc = stats_pages(h, out, err);
  lx_unlock(h);
  return rc;
}

/* ---------------------------------------------------------------- faults */

static int inject_fault(mmc_host_t *h, const mmc_fault_t *f, mmc_error_t *err) {
  (void)h;
  (void)f;
  return mmc_fail(err, MMC_ENOTSUP, "inject_fault: %s", lx_why_not(MMC_CAP_FAULT_INJECTION));
}

/* ---------------------------------------------------------------- the table */

/* Not const: the capabilities are this machine's, filled in when the object
 * is loaded (lx_at_load), before the suite can read the table. */
__attribute__((visibility("default"))) mmc_impl_t mmcert_impl = {
    .abi_version = MMCERT_ABI_VERSION,
    .struct_size = sizeof(mmc_impl_t),
    .name = "linux",
    .version = MMCERT_VERSION,
    .capabilities = 0,
    .host_create = host_create,
    .host_destroy = host_destroy,
    .setting_set = host_setting_set,
    .setting_get = host_setting_get,
    .setting_info = host_setting_info,
    .advance = host_advance,
    .now = host_now,
    .vm_power_on = lx_vm_power_on,
    .vm_reconfigure = lx_vm_reconfigure,
    .vm_power_off = lx_vm_power_off,
    .vcpu_enter = lx_vcpu_enter,
    .page = lx_page,
    .quiesce = lx_quiesce,
    .vcpu_set_demand = lx_vcpu_set_demand,
    .vcpu_exit = lx_vcpu_exit,
    .vcpu_info = lx_vcpu_info,
    .balloon_target = lx_balloon_target,
    .balloon_give = lx_balloon_give,
    .balloon_take = lx_balloon_take,
    .vm_stats = lx_vm_stats,
    .host_stats = host_stats,
    .events_read = host_events_read,
    .move_range = lx_move_range,
    .inject_fault = inject_fault,
    .why_not = lx_why_not,
};

__attribute__((constructor)) static void lx_at_load(void) {
  lx_detect();
  mmcert_impl.capabilities = lx_kernel.caps;
}
