/*
 * topology_measure.c — a measured NUMA distance matrix: a latency
 * matrix from a pointer chase between node-bound buffers, on real
 * multi-node machines only.
 *
 * How: for each target node, one buffer bound to it with mbind(MPOL_BIND)
 * and touched, then checked page by page with move_pages (so a silently
 * ignored policy cannot pass as a measurement). The buffer holds one pointer
 * per cache line, linked in a single random cycle (Sattolo's shuffle), so each
 * load depends on the one before and neither the prefetcher nor the
 * out-of-order core can overlap them. The calling thread pins itself to each
 * source node's CPUs in turn (its affinity is restored afterwards), walks the
 * cycle and keeps the fastest of a few rounds (noise only ever adds time).
 *
 * Invariants: the matrix changes only when every pair was measured; the
 * caller's CPU affinity is the same on return as on entry; every buffer is
 * unmapped. Kernel calls are made with syscall(2) so libmmcommon needs no
 * libnuma.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/mempolicy.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mmc_clock.h"
#include "mmc_error.h"
#include "mmc_topology.h"

#define CHASE_DEFAULT_BYTES (64 * MMC_MIB) /* above the LLC of any machine we target */
#define CHASE_MIN_BYTES MMC_MIB
#define CHASE_LINE 64u /* one pointer per cache line */
#define CHASE_LOADS (1u << 21)
#define CHASE_ROUNDS 3
#define CHASE_SEED 0x9e3779b97f4a7c15ull

static const char ORIGIN_MEASURED[] = "measured here (pointer chase between node-bound buffers)";

static uint64_t xorshift(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

int mmt_bind_buffer(void **out, size_t bytes, uint32_t os_node, mmc_error_t *err) {
  void *buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED)
    return mmc_fail(err, MMC_ENOMEM, "mmap of %zu bytes: %s", bytes, strerror(errno));
  unsigned long mask[MMC_MAX_NODES * 2 / (8 * sizeof(unsigned long)) + 1] = {0};
  if (os_node >= MMC_MAX_NODES || os_node >= 8 * sizeof mask) {
    munmap(buf, bytes);
    return mmc_fail(err, MMC_ENOTSUP, "node OS id %" PRIu32 " is beyond the measurable range",
                    os_node);
  }
  mask[os_node / (8 * sizeof(unsigned long))] |= 1ul << (os_node % (8 * sizeof(unsigned long)));
  if (syscall(SYS_mbind, buf, bytes, MPOL_BIND, mask, 8 * sizeof mask + 1, MPOL_MF_STRICT) != 0) {
    int e = errno;
    munmap(buf, bytes);
    /* ENOSYS: a kernel without NUMA; EPERM: a container's seccomp filter. */
    return mmc_fail(err, e == ENOSYS || e == EPERM ? MMC_ENOTSUP : MMC_EIO,
                    "mbind to node %" PRIu32 ": %s (no NUMA memory policy available here)", os_node,
                    strerror(e));
  }
  memset(buf, 1, bytes); /* fault every page in under the policy (non-zero: seen touched) */

  long page = sysconf(_SC_PAGESIZE);
  size_t npages = bytes / (size_t)page;
  void **pages = malloc(npages * sizeof *pages);
  int *status = malloc(npages * sizeof *status);
  int rc = MMC_OK;
  if (!pages || !status) {
    rc = mmc_fail(err, MMC_ENOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < npages; i++)
    pages[i] = (char *)buf + i * (size_t)page;
  if (syscall(SYS_move_pages, 0, npages, pages, NULL, status, 0) != 0) {
    rc = mmc_fail(err, errno == ENOSYS || errno == EPERM ? MMC_ENOTSUP : MMC_EIO,
                  "move_pages query: %s", strerror(errno));
    goto out;
  }
  for (size_t i = 0; i < npages; i++) {
    if (status[i] != (int)os_node) {
      rc = mmc_fail(err, MMC_EIO,
                    "page %zu of a buffer bound to node %" PRIu32 " is on %d (move_pages)", i,
                    os_node, status[i]);
      goto out;
    }
  }
out:
  free(pages);
  free(status);
  if (rc)
    munmap(buf, bytes);
  else
    *out = buf;
  return rc;
}

/* One pointer per line, all lines in a single random cycle. */
static void link_cycle(void *buf, size_t bytes) {
  size_t n = bytes / CHASE_LINE;
  size_t *order = malloc(n * sizeof *order);
  char *base = buf;
  uint64_t seed = CHASE_SEED;
  if (!order) { /* fall back to a fixed large stride: still dependent loads */
    for (size_t i = 0; i < n; i++)
      *(void **)(base + i * CHASE_LINE) = base + ((i + 4099) % n) * CHASE_LINE;
    return;
  }
  for (size_t i = 0; i < n; i++)
    order[i] = i;
  for (size_t i = n - 1; i > 0; i--) { /* Sattolo: one cycle through all */
    size_t j = (size_t)(xorshift(&seed) % i);
    size_t tmp = order[i];
    order[i] = order[j];
    order[j] = tmp;
  }
  for (size_t i = 0; i < n; i++)
    *(void **)(base + order[i] * CHASE_LINE) = base + order[(i + 1) % n] * CHASE_LINE;
  free(order);
}

/* Nanoseconds per dependent load, best of CHASE_ROUNDS. */
static double chase(void *buf) {
  double best = 0;
  for (int r = 0; r < CHASE_ROUNDS; r++) {
    void *volatile *p = (void *volatile *)buf;
    double t0 = (double)mmc_mono_ns();
    for (unsigned i = 0; i < CHASE_LOADS; i++)
      p = (void *volatile *)*p;
    double ns = ((double)mmc_mono_ns() - t0) / CHASE_LOADS;
    if (p && (r == 0 || ns < best)) /* p read so the loop is not dead code */
      best = ns;
  }
  return best;
}

static int pin_to(const mmc_node_t *node, mmc_error_t *err) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (uint32_t c = 0; c < node->ncpus; c++)
    if (node->cpus[c] < CPU_SETSIZE)
      CPU_SET(node->cpus[c], &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0)
    return mmc_fail(err, MMC_EIO, "pinning to node %" PRIu32 "'s CPUs: %s", node->os_index,
                    strerror(errno));
  return MMC_OK;
}

int mmt_measure_distances(mmt_topology_t *t, size_t buffer_bytes, double *latency_ns,
                          mmc_error_t *err) {
  const mmc_topology_t *d = &t->desc;
  uint32_t n = d->nnodes;
  for (uint32_t i = 0; i < n; i++)
    if (!d->nodes[i].real)
      return mmc_fail(err, MMC_ENOTSUP,
                      "measured distances need real NUMA nodes; node %" PRIu32 " (OS id %" PRIu32
                      ") of '%s' is emulated",
                      i, d->nodes[i].os_index, t->source);
  if (buffer_bytes == 0)
    buffer_bytes = CHASE_DEFAULT_BYTES;
  if (buffer_bytes < CHASE_MIN_BYTES)
    return mmc_fail(err, MMC_EINVAL, "chase buffer of %zu bytes is below the minimum %llu",
                    buffer_bytes, (unsigned long long)CHASE_MIN_BYTES);

  double *ns = calloc((size_t)n * n, sizeof *ns);
  uint32_t *rel = calloc((size_t)n * n, sizeof *rel);
  cpu_set_t saved;
  int rc = MMC_OK;
  if (!ns || !rel) {
    rc = mmc_fail(err, MMC_ENOMEM, "out of memory");
    goto out_free;
  }
  if (sched_getaffinity(0, sizeof saved, &saved) != 0) {
    rc = mmc_fail(err, MMC_EIO, "sched_getaffinity: %s", strerror(errno));
    goto out_free;
  }
  for (uint32_t j = 0; j < n && !rc; j++) {
    void *buf = NULL;
    if (d->nodes[j].memory_bytes == 0)
      continue; /* nothing can be allocated there: row values stay 0 */
    rc = mmt_bind_buffer(&buf, buffer_bytes, d->nodes[j].os_index, err);
    if (rc)
      break;
    link_cycle(buf, buffer_bytes);
    for (uint32_t i = 0; i < n && !rc; i++) {
      if (d->nodes[i].ncpus == 0)
        continue;
      rc = pin_to(&d->nodes[i], err);
      if (!rc)
        ns[i * n + j] = chase(buf);
    }
    munmap(buf, buffer_bytes);
  }
  sched_setaffinity(0, sizeof saved, &saved);
  if (rc)
    goto out_free;

  /* Relative to each row's local latency; CPU-less rows mirror their column,
   * memory-less columns mirror their row (symmetry is all we can assume). */
  for (uint32_t i = 0; i < n; i++) {
    for (uint32_t j = 0; j < n; j++) {
      uint32_t a = i, b = j;
      if (d->nodes[i].ncpus == 0 || d->nodes[j].memory_bytes == 0) {
        a = j;
        b = i;
      }
      double local = ns[a * n + a], v = ns[a * n + b];
      if (i == j)
        rel[i * n + j] = 10;
      else if (local > 0 && v > 0)
        rel[i * n + j] = (uint32_t)(10.0 * v / local + 0.5);
      else
        rel[i * n + j] = mmt_distance(t, i, j); /* neither side measurable: keep */
      if (i != j && rel[i * n + j] <= 10)
        rel[i * n + j] = 11; /* remote never reads as local: keep the diagonal smallest */
    }
  }
  memcpy(t->distance, rel, (size_t)n * n * sizeof *rel);
  t->distances_from_firmware = false;
  t->distance_origin = ORIGIN_MEASURED;
  if (latency_ns)
    memcpy(latency_ns, ns, (size_t)n * n * sizeof *ns);
out_free:
  free(ns);
  free(rel);
  return rc;
}
