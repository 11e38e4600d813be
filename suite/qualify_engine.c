/*
 * qualify_engine.c — page migration throughput of mmcert's own engine for
 * `mmcert qualify --impl PATH`: through the
 * contract's move_range (MMC_CAP_MOVE_RANGE), a VM whose memory is on node
 * A is moved whole to node B and timed, on a host built on this machine's
 * real topology.
 *
 * Invariants: placement is checked with vm_stats before and after (pages on
 * A before, on B after), so a move_range that reports pages it did not move
 * is an error, not a figure; the VM is powered off and the host destroyed on
 * every path.
 */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "qualify.h"

#define ENGINE_SEED 0x71a1f7 /* placement is deterministic; any seed would do */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int suite_qm_engine_host(const mmc_impl_t *im, const mmt_topology_t *t, mmc_host_t **out,
                         mmc_error_t *err) {
  if (!(im->capabilities & MMC_CAP_MOVE_RANGE) || !im->move_range)
    return mmc_fail(err, MMC_ENOTSUP, "implementation '%s' has no MMC_CAP_MOVE_RANGE", im->name);
  mmc_host_config_t cfg = {.topology = &t->desc,
                           .clock = (im->capabilities & MMC_CAP_CLOCK_STEPPED) ? MMC_CLOCK_STEPPED
                                                                               : MMC_CLOCK_LIVE,
                           .seed = ENGINE_SEED};
  return im->host_create(&cfg, out, err);
}

/* Write every page once through a vCPU, so each has a frame. */
static int fill(const mmc_impl_t *im, mmc_host_t *h, mmc_vm_id_t vm, uint64_t npages,
                mmc_error_t *err) {
  mmc_vcpu_t *v = NULL;
  int rc = im->vcpu_enter(h, vm, 0, &v, err);
  if (rc)
    return rc;
  for (uint64_t g = 0; g < npages && !suite_qm_stop; g++) {
    unsigned char *p = im->page(v, g, true, err);
    if (!p) {
      rc = err->code ? err->code : MMC_EIO;
      break;
    }
    p[0] = (unsigned char)(g | 1);
    im->quiesce(v);
  }
  im->vcpu_exit(v);
  return rc;
}

static int on_node(const mmc_impl_t *im, mmc_host_t *h, mmc_vm_id_t vm, uint32_t node,
                   uint64_t *pages, mmc_error_t *err) {
  mmc_vm_stats_t st;
  int rc = im->vm_stats(h, vm, &st, err);
  if (!rc)
    *pages = st.pages_per_node[node];
  return rc;
}

int suite_qm_engine_migrate(const mmc_impl_t *im, mmc_host_t *h, uint32_t from, bool from_has_cpus,
                            uint32_t to, size_t bytes, suite_qm_migration_t *m, mmc_error_t *err) {
  memset(m, 0, sizeof *m);
  mmc_vm_config_t cfg;
  mmc_vm_config_init(&cfg);
  cfg.name = "qualify-move";
  cfg.memory_bytes = bytes / MMC_PAGE_SIZE * MMC_PAGE_SIZE;
  /* A memory-only node cannot home a VM: home it anywhere, then stage its
   * pages onto `from` with an untimed move_range. */
  cfg.node_affinity = from_has_cpus ? 1ull << from : 0;
  mmc_vm_id_t vm;
  int rc = im->vm_power_on(h, &cfg, &vm, err);
  if (rc)
    return rc;
  uint64_t npages = cfg.memory_bytes / MMC_PAGE_SIZE, before = 0, after = 0;
  rc = fill(im, h, vm, npages, err);
  uint64_t staged = 0;
  if (!rc && !from_has_cpus)
    rc = im->move_range(h, vm, 0, npages, from, &staged, err);
  if (!rc)
    rc = on_node(im, h, vm, from, &before, err);
  if (!rc && before == 0)
    rc = mmc_fail(err, MMC_EIO, "no page of the VM is on node index %" PRIu32 " after filling it",
                  from);
  if (!rc) {
    uint64_t moved = 0;
    double t0 = now_s();
    rc = im->move_range(h, vm, 0, npages, to, &moved, err);
    m->seconds = now_s() - t0;
    m->calls = 1;
    m->pages = before;
    m->moved = moved;
  }
  if (!rc)
    rc = on_node(im, h, vm, to, &after, err);
  if (!rc && after < m->moved)
    rc = mmc_fail(err, MMC_EIO,
                  "move_range reported %" PRIu64 " pages moved but only %" PRIu64
                  " are on node index %" PRIu32,
                  m->moved, after, to);
  if (!rc && m->seconds > 0)
    m->gbs = (double)(m->moved * MMC_PAGE_SIZE) / m->seconds * 1e-9;
  mmc_error_t off_err = {0};
  im->vm_power_off(h, vm, &off_err);
  return rc;
}
