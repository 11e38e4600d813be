/*
 * host.c — the reference implementation's host: creation from a topology,
 * settings by documented name (SET-1, SET-2), the stepped and live clocks
 * running registered periodic hooks, the event ring, host statistics, and the
 * exported contract table `mmcert_impl`.
 *
 * Invariants:
 *  - a failed host_create leaves nothing behind (every step unwinds);
 *  - stepped clock: time only moves in advance(), never back (MMC_ESTATE), and
 *    no thread of ours runs; live clock: advance() is MMC_ENOTSUP;
 *  - a hook runs on the grid of its period (last run + k periods) on both
 *    clocks: a live run that starts late, because the machine kept the
 *    clock's thread off the CPU, moves no later run, and periods it missed
 *    whole are skipped, not caught up (NUMA-4: home changes at period
 *    boundaries);
 *  - event seq numbers are 0,1,2,... without gaps; a reader that fell more
 *    than the ring's capacity behind gets one MMC_EV_LOST with the count;
 *  - a rejected setting keeps its old value (settings.c).
 * Locking: see ref.h.
 */
#include "ref.h"
#include "reclaim.h"
#include "mech.h"
#include "mmc_clock.h"
#include "twin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DIST_LOCAL 10u /* ACPI SLIT convention when no matrix is given */
#define DIST_REMOTE 20u

/* ---------------------------------------------------------------- clock */

uint64_t ref_host_now(ref_host_t *h) {
  if (h->clock == MMC_CLOCK_STEPPED)
    return atomic_load(&h->now_ns);
  return mmc_mono_ns() - mmc_timespec_ns(&h->t0);
}

int ref_host_add_hook(ref_host_t *h, const ref_hook_t *hook, mmc_error_t *err) {
  if (ref_settings_period_ns(&h->settings, hook->period) == 0)
    return mmc_fail(err, MMC_EINVAL, "hook %s: setting %s is not a period", hook->name,
                    ref_setting_def(hook->period)->name);
  ref_host_lock(h);
  if (h->nhooks >= REF_MAX_HOOKS) {
    ref_host_unlock(h);
    return mmc_fail(err, MMC_ENOMEM, "too many periodic hooks (max %u) adding %s", REF_MAX_HOOKS,
                    hook->name);
  }
  h->hooks[h->nhooks] = *hook;
  h->hooks[h->nhooks].last_ns = ref_host_now(h);
  h->hooks[h->nhooks].period_ns = ref_settings_period_ns(&h->settings, hook->period);
#ifdef REF_TWINS
  h->hooks[h->nhooks].twin_period_ns = ref_settings_period_ns(&h->settings, hook->period);
#endif
  h->nhooks++;
  pthread_cond_broadcast(&h->wake);
  ref_host_unlock(h);
  return 0;
}

/* Index of the hook due first (ties: registration order) and its due time;
 * -1 when there is none. Called with h->lock held. */
static int next_hook(ref_host_t *h, uint64_t *due_out) {
  int best = -1;
  uint64_t best_due = UINT64_MAX;
  for (uint32_t i = 0; i < h->nhooks; i++) {
    uint64_t period = h->hooks[i].period_ns;
#ifdef REF_TWINS
    if (REF_TWIN(SET2_PERIOD_READ_ONCE)) /* twin: the period of the hook's registration */
      period = h->hooks[i].twin_period_ns;
    if (REF_TWIN(SET2_PERIOD_CHANGES_PERIOD_UNDER_WAY)) /* twin: the setting as it is now */
      period = ref_settings_period_ns(&h->settings, h->hooks[i].period);
#endif
    uint64_t due = h->hooks[i].last_ns + period;
    if (due < best_due) {
      best_due = due;
      best = (int)i;
    }
  }
  *due_out = best_due;
  return best;
}

/* The hook's run at `now`, due at `due`, counts as the run of the last
 * period boundary not after now. */
static void run_hook(ref_host_t *h, int i, uint64_t due, uint64_t now) {
  ref_assert(ref_lock_held(REF_LC_HOST));
  uint64_t period = due - h->hooks[i].last_ns;
  h->hooks[i].last_ns = period && now > due ? due + (now - due) / period * period : due;
  h->hooks[i].period_ns = ref_settings_period_ns(&h->settings, h->hooks[i].period); /* SET-2 */
  h->hook_runs++;
  h->hooks[i].run(h, now, h->hooks[i].ctx);
}

static void *live_main(void *arg) {
  ref_host_t *h = arg;
  ref_host_lock(h);
  while (!h->live_stop) {
    uint64_t due;
    int i = next_hook(h, &due);
    uint64_t now = ref_host_now(h);
    if (i >= 0 && due <= now) {
      run_hook(h, i, due, now);
      continue;
    }
    if (i < 0) {
      pthread_cond_wait(&h->wake, &h->lock);
      continue;
    }
    /* Absolute CLOCK_MONOTONIC deadline of the due time. */
    struct timespec ts = mmc_ns_timespec(mmc_timespec_ns(&h->t0) + due);
    pthread_cond_timedwait(&h->wake, &h->lock, &ts);
  }
  ref_host_unlock(h);
  return NULL;
}

static int host_advance(mmc_host_t *h, uint64_t now_ns, mmc_error_t *err) {
  if (h->clock != MMC_CLOCK_STEPPED)
    return mmc_fail(err, MMC_ENOTSUP, "advance: the host runs the live clock (stepped only)");
  ref_host_lock(h);
  uint64_t cur = atomic_load(&h->now_ns);
  if (now_ns < cur) {
    ref_host_unlock(h);
    return mmc_fail(err, MMC_ESTATE, "advance: time %llu ns is before the host clock %llu ns",
                    (unsigned long long)now_ns, (unsigned long long)cur);
  }
  uint64_t due;
  int i;
  ref_assert(ref_mem_quiescent(h)); /* the contract: every vCPU quiesced first (pmap.c R7) */
  while ((i = next_hook(h, &due)) >= 0 && due <= now_ns) {
    atomic_store(&h->now_ns, due);
    run_hook(h, i, due, due);
  }
  atomic_store(&h->now_ns, now_ns);
  ref_host_unlock(h);
  return 0;
}

static uint64_t host_now(mmc_host_t *h) {
  return ref_host_now(h);
}

/* ---------------------------------------------------------------- events */

void ref_event_emit(ref_host_t *h, mmc_event_t ev) {
  mmc_evring_emit(&h->events, ev, ref_host_now(h));
}

static size_t host_events_read(mmc_host_t *h, uint64_t *cursor, mmc_event_t *buf, size_t max) {
  return mmc_evring_read(&h->events, cursor, buf, max, ref_host_now(h));
}

/* ---------------------------------------------------------------- settings */

static int host_setting_set(mmc_host_t *h, const char *name, int64_t value, mmc_error_t *err) {
  ref_setting_id_t id;
  int rc = ref_settings_lookup(name, &id, err);
  if (rc)
    return rc;
  ref_host_lock(h);
  rc = ref_settings_check(id, value, err);
  if (rc == 0 && id == REF_SET_REF_EVENT_RING_SIZE &&
      (rc = mmc_evring_resize(&h->events, (uint64_t)value, err)) != 0)
    mmc_error_prefix(err, "Ref.EventRingSize");
  if (rc == 0)
    rc = ref_settings_set_id(&h->settings, id, value, err);
  for (unsigned i = 0; rc == 0 && i < REF_MECH_COUNT; i++)
    if (ref_mechs[i] && ref_mechs[i]->setting_changed)
      ref_mechs[i]->setting_changed(h, id);
  if (rc == 0)
    pthread_cond_broadcast(&h->wake); /* twins that read the period as it is now */
  ref_host_unlock(h);
  return rc;
}

static int host_setting_get(mmc_host_t *h, const char *name, int64_t *value, mmc_error_t *err) {
  ref_setting_id_t id;
  int rc = ref_settings_lookup(name, &id, err);
  if (rc)
    return rc;
  *value = ref_settings_get(&h->settings, id);
  return 0;
}

static int host_setting_info(mmc_host_t *h, size_t index, mmc_setting_info_t *out) {
  return ref_settings_info(&h->settings, index, out);
}

/* ---------------------------------------------------------------- creation */

/* Mechanisms (mechs.c) attach in id order at host creation, after memory
 * exists and before the live clock starts; they register their periodic
 * hooks then. Detach runs in reverse order once every VM is off and the
 * pools are gone: a mechanism frees only its own state there. */
static int attach_mechs(ref_host_t *h, mmc_error_t *err) {
  int rc = ref_mechs_check(err);
  for (unsigned i = 0; rc == 0 && i < REF_MECH_COUNT; i++)
    if (ref_mechs[i] && ref_mechs[i]->attach)
      rc = ref_mechs[i]->attach(h, err);
  return rc;
}

static void detach_mechs(ref_host_t *h) {
  for (unsigned i = REF_MECH_COUNT; i-- > 0;)
    if (ref_mechs[i] && ref_mechs[i]->detach)
      ref_mechs[i]->detach(h);
}

void *ref_host_mech(ref_host_t *h, ref_mech_id_t id) {
  return h->mech[id];
}
void ref_host_set_mech(ref_host_t *h, ref_mech_id_t id, void *state) {
  h->mech[id] = state;
}

static int check_topology(const mmc_topology_t *t, mmc_error_t *err) {
  if (!t)
    return mmc_fail(err, MMC_EINVAL, "host_create: topology is missing");
  if (t->nnodes < 1 || t->nnodes > MMC_MAX_NODES || !t->nodes)
    return mmc_fail(err, MMC_EINVAL, "host_create: topology has %u nodes (allowed 1..%u)",
                    t->nnodes, MMC_MAX_NODES);
  for (uint32_t i = 0; i < t->nnodes; i++) {
    if (t->nodes[i].ncpus && !t->nodes[i].cpus)
      return mmc_fail(err, MMC_EINVAL, "host_create: node %u has %u CPUs but no CPU list", i,
                      t->nodes[i].ncpus);
  }
  if (!t->distance)
    return 0;
  for (uint32_t i = 0; i < t->nnodes * t->nnodes; i++) {
    if (t->distance[i] == 0)
      return mmc_fail(err, MMC_EINVAL, "host_create: distance[%u][%u] is 0 (must be > 0)",
                      i / t->nnodes, i % t->nnodes);
  }
  return 0;
}

/* Fill near[n]: node indices by increasing distance from n, ties by index. */
static void build_near(ref_host_t *h) {
  for (uint32_t n = 0; n < h->nnodes; n++) {
    for (uint32_t i = 0; i < h->nnodes; i++)
      h->near[n][i] = (uint8_t)i;
    /* insertion sort: at most 64 entries, once per host */
    for (uint32_t i = 1; i < h->nnodes; i++) {
      uint8_t x = h->near[n][i];
      uint32_t j = i;
      while (j > 0) {
        uint8_t y = h->near[n][j - 1];
        uint32_t dx = x == n ? 0 : ref_distance(h, n, x) + 1;
        uint32_t dy = y == n ? 0 : ref_distance(h, n, y) + 1;
        if (dy < dx || (dy == dx && y < x))
          break;
        h->near[n][j] = y;
        j--;
      }
      h->near[n][j] = x;
    }
  }
}

static int copy_topology(ref_host_t *h, const mmc_topology_t *t, mmc_error_t *err) {
  size_t ncpu = 0;
  for (uint32_t i = 0; i < t->nnodes; i++)
    ncpu += t->nodes[i].ncpus;
  h->nnodes = t->nnodes;
  h->ncores = t->ncores;
  h->cpu_mhz = t->cpu_mhz;
  h->cpu_storage = calloc(ncpu ? ncpu : 1, sizeof *h->cpu_storage);
  h->distance = calloc((size_t)t->nnodes * t->nnodes, sizeof *h->distance);
  if (!h->cpu_storage || !h->distance)
    return mmc_fail(err, MMC_ENOMEM, "host_create: out of memory copying the topology");
  size_t at = 0;
  for (uint32_t i = 0; i < t->nnodes; i++) {
    h->nodes[i] = t->nodes[i];
    if (t->nodes[i].ncpus)
      memcpy(h->cpu_storage + at, t->nodes[i].cpus, t->nodes[i].ncpus * sizeof(uint32_t));
    h->nodes[i].cpus = h->cpu_storage + at;
    at += t->nodes[i].ncpus;
    for (uint32_t j = 0; j < t->nnodes; j++) {
      uint32_t d = i == j ? DIST_LOCAL : DIST_REMOTE;
      h->distance[i * t->nnodes + j] = t->distance ? t->distance[i * t->nnodes + j] : d;
    }
  }
  build_near(h);
  return 0;
}

static int apply_settings(ref_host_t *h, const mmc_host_config_t *cfg, mmc_error_t *err) {
  if (cfg->nsettings && !cfg->settings)
    return mmc_fail(err, MMC_EINVAL, "host_create: %zu settings given but the list is NULL",
                    cfg->nsettings);
  for (size_t i = 0; i < cfg->nsettings; i++) {
    int rc = ref_settings_set(&h->settings, cfg->settings[i].name, cfg->settings[i].value, err);
    if (rc)
      return rc;
  }
  return 0;
}

static int init_sync(ref_host_t *h, mmc_error_t *err) {
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int rc = pthread_cond_init(&h->wake, &ca);
  pthread_condattr_destroy(&ca);
  if (rc || pthread_mutex_init(&h->lock, NULL))
    return mmc_fail(err, MMC_ENOMEM, "host_create: cannot initialise locks");
  return 0;
}

static void host_free(ref_host_t *h) {
  free(h->swap_dir);
  mmc_evring_fini(&h->events);
  free(h->cpu_storage);
  free(h->distance);
  pthread_cond_destroy(&h->wake);
  pthread_mutex_destroy(&h->lock);
  free(h);
}

static int host_create(const mmc_host_config_t *cfg, mmc_host_t **out, mmc_error_t *err) {
  if (!cfg || !out)
    return mmc_fail(err, MMC_EINVAL, "host_create: config or output pointer is NULL");
  if (cfg->clock != MMC_CLOCK_STEPPED && cfg->clock != MMC_CLOCK_LIVE)
    return mmc_fail(err, MMC_EINVAL, "host_create: clock mode %d unknown (0 stepped, 1 live)",
                    (int)cfg->clock);
  ref_profile_t profile;
  int rc = ref_profile_parse(cfg->profile, &profile, err);
  if (rc)
    return rc;
  rc = check_topology(cfg->topology, err);
  if (rc)
    return rc;
  ref_host_t *h = calloc(1, sizeof *h);
  if (!h)
    return mmc_fail(err, MMC_ENOMEM, "host_create: out of memory");
  h->clock = cfg->clock;
  h->seed = cfg->seed;
  ref_settings_init(&h->settings, profile);
  clock_gettime(CLOCK_MONOTONIC, &h->t0);
  if ((rc = init_sync(h, err)) || (rc = apply_settings(h, cfg, err)) ||
      (rc = copy_topology(h, cfg->topology, err)))
    goto out_free;
  rc = mmc_evring_init(&h->events, (uint64_t)ref_set(h, REF_SET_REF_EVENT_RING_SIZE), err);
  if (rc) {
    mmc_error_prefix(err, "host_create");
    goto out_free;
  }
  if (cfg->swap_dir && !(h->swap_dir = strdup(cfg->swap_dir))) {
    rc = mmc_fail(err, MMC_ENOMEM, "host_create: out of memory");
    goto out_free;
  }
  if ((rc = ref_mem_init(h, err)))
    goto out_free;
  if ((rc = attach_mechs(h, err)))
    goto out_mem;
  if (h->clock == MMC_CLOCK_LIVE) {
    int e = pthread_create(&h->live_thread, NULL, live_main, h);
    if (e) {
      rc = mmc_fail(err, MMC_ENOMEM, "host_create: cannot start the clock thread: %s", strerror(e));
      goto out_mem;
    }
    h->live_running = true;
  }
  *out = h;
  return 0;
out_mem:
  ref_mem_fini(h);
  detach_mechs(h);
out_free:
  host_free(h);
  return rc;
}

static void host_destroy(mmc_host_t *h) {
  if (!h)
    return;
  if (h->live_running) {
    ref_host_lock(h);
    h->live_stop = true;
    pthread_cond_broadcast(&h->wake);
    ref_host_unlock(h);
    pthread_join(h->live_thread, NULL);
  }
  ref_mem_fini(h);
  detach_mechs(h);
  host_free(h);
}

/* ---------------------------------------------------------------- stats */

static int host_stats(mmc_host_t *h, mmc_host_stats_t *out, mmc_error_t *err) {
  if (!out)
    return mmc_fail(err, MMC_EINVAL, "host_stats: output pointer is NULL");
  memset(out, 0, sizeof *out);
  ref_host_lock(h);
  out->nnodes = h->nnodes;
  out->rebalance_periods = h->rebalance_periods;
  out->now_ns = ref_host_now(h);
  ref_mem_host_stats(h, out);
  for (unsigned i = 0; i < REF_MECH_COUNT; i++)
    if (ref_mechs[i] && ref_mechs[i]->host_stats)
      ref_mechs[i]->host_stats(h, out);
  ref_host_unlock(h);
  return 0;
}

/* ---------------------------------------------------------------- balloon */

static int balloon_target(mmc_host_t *h, mmc_vm_id_t vm, uint64_t *pages, mmc_error_t *err) {
  return ref_balloon_target(h, vm, pages, err);
}
static int balloon_give(mmc_host_t *h, mmc_vm_id_t vm, const uint64_t *gpfns, size_t n,
                        mmc_error_t *err) {
  return ref_balloon_give(h, vm, gpfns, n, err);
}
static int balloon_take(mmc_host_t *h, mmc_vm_id_t vm, const uint64_t *gpfns, size_t n,
                        mmc_error_t *err) {
  return ref_balloon_take(h, vm, gpfns, n, err);
}

/* ---------------------------------------------------------------- faults */

static int inject_swap_write(mmc_host_t *h, const mmc_fault_t *f, mmc_error_t *err) {
  if (f->count == MMC_FAULT_CLEAR || f->count == 0) {
    atomic_store(&h->fault_swap_writes, 0);
    return 0;
  }
  if (f->error != ENOSPC && f->error != EIO)
    return mmc_fail(err, MMC_EINVAL, "inject_fault: swap write error %d is not ENOSPC or EIO",
                    f->error);
  if (f->count > INT64_MAX)
    return mmc_fail(err, MMC_EINVAL, "inject_fault: count %llu is too large",
                    (unsigned long long)f->count);
  atomic_store(&h->fault_swap_errno, f->error);
  atomic_store(&h->fault_swap_writes, (int64_t)f->count);
  return 0;
}

static int inject_exhaustion(mmc_host_t *h, const mmc_fault_t *f, mmc_error_t *err) {
  if (f->node < -1 || f->node >= (int32_t)h->nnodes)
    return mmc_fail(err, MMC_ENOENT, "inject_fault: node %d is not -1 or 0..%u", f->node,
                    h->nnodes - 1);
  for (uint32_t n = 0; n < h->nnodes; n++)
    if (h->pools[n] && (f->node < 0 || (uint32_t)f->node == n))
      ref_pool_withhold(h->pools[n], f->count);
  return 0;
}

static int inject_fault(mmc_host_t *h, const mmc_fault_t *f, mmc_error_t *err) {
  if (!f)
    return mmc_fail(err, MMC_EINVAL, "inject_fault: fault pointer is NULL");
  switch (f->kind) {
  case MMC_FAULT_SWAP_WRITE: return inject_swap_write(h, f, err);
  case MMC_FAULT_FRAME_EXHAUSTION: return inject_exhaustion(h, f, err);
  default:
    return mmc_fail(err, MMC_EINVAL,
                    "inject_fault: unknown kind %u (1 swap write, 2 frame "
                    "exhaustion)",
                    f->kind);
  }
}

/* ---------------------------------------------------------------- the table */

#define REF_HOST_CAPS (MMC_CAP_CLOCK_STEPPED | MMC_CAP_CLOCK_LIVE | MMC_CAP_FAULT_INJECTION)

/* Writable in the twin build only, which names the twin it runs as (twin.h). */
__attribute__((visibility("default"))) REF_TWIN_CONST mmc_impl_t mmcert_impl = {
    .abi_version = MMCERT_ABI_VERSION,
    .struct_size = sizeof(mmc_impl_t),
    .name = "reference",
    .version = MMCERT_VERSION,
    .capabilities = REF_HOST_CAPS | REF_MEM_CAPS | REF_MECH_CAPS,
    .host_create = host_create,
    .host_destroy = host_destroy,
    .setting_set = host_setting_set,
    .setting_get = host_setting_get,
    .setting_info = host_setting_info,
    .advance = host_advance,
    .now = host_now,
    .vm_power_on = ref_vm_power_on,
    .vm_reconfigure = ref_vm_reconfigure,
    .vm_power_off = ref_vm_power_off,
    .vcpu_enter = ref_vcpu_enter,
    .page = ref_vcpu_page,
    .quiesce = ref_vcpu_quiesce,
    .vcpu_set_demand = ref_vcpu_set_demand,
    .vcpu_exit = ref_vcpu_exit,
    .vcpu_info = ref_vcpu_info,
    .balloon_target = balloon_target,
    .balloon_give = balloon_give,
    .balloon_take = balloon_take,
    .vm_stats = ref_vm_stats,
    .host_stats = host_stats,
    .events_read = host_events_read,
    .move_range = ref_move_range,
    .inject_fault = inject_fault,
    .why_not = NULL, /* every capability is set */
};
