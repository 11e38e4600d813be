/*
 * access.c — `mmcert bench access`: the cost of guest memory access through
 * the implementation's translation (page(), 4 KB at a time) against raw
 * access to the very same frames, both measured in the same run (DESIGN.md
 * "Performance, measured, never guessed"; target: ratio >= 0.95).
 *
 * Kernels as in STREAM, over three arrays a, b, c of one VM's memory:
 *   copy:  c = a            (2 x bytes moved)
 *   triad: a = b + s * c    (3 x bytes moved)
 * Guest: every 4 KB page of each array is asked from page() (write access
 * for the destination) right before it is used, and the vCPU quiesces every
 * bench_quiesce_every pages, as a guest step would. Raw: the frame pointers
 * of all pages are taken once (the vCPU stays entered and does not quiesce,
 * so they stay valid) and the same kernels run over them, two ways (see
 * raw_copy). Best of `repeat` rounds of each (at least 20: a shared machine
 * is noisy), which side goes first alternating, the caches flushed before
 * every timed loop so both start cold. Loops are timed in the thread's CPU
 * time, so a round in which the thread was preempted is not charged the
 * time it did not run.
 */
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "mmc_error.h"

#define BENCH_MIB (1024ull * 1024ull)
enum {
  access_array_mib = 32,     /* per array: well beyond the caches */
  access_quiesce_every = 64, /* pages between quiescent points (guest loop) */
  access_min_repeat = 20,
  access_flush_mib = 64, /* twice the largest L3 seen here */
  access_doubles = MMC_PAGE_SIZE / sizeof(double),
};
#define ACCESS_TRIAD_SCALAR 3.0

typedef struct access_ctx {
  const mmc_impl_t *im;
  mmc_vcpu_t *v;
  uint64_t n; /* pages per array; a = [0,n), b = [n,2n), c = [2n,3n) */
  void **ptr; /* 3n raw frame pointers */
} access_ctx_t;

static void triad_page(double *restrict a, const double *restrict b, const double *restrict c) {
  for (size_t j = 0; j < access_doubles; j++)
    a[j] = b[j] + ACCESS_TRIAD_SCALAR * c[j];
}

static void *page_or_null(access_ctx_t *x, uint64_t g, bool write, mmc_error_t *err) {
  for (;;) {
    void *p = x->im->page(x->v, g, write, err);
    if (p || err->code != MMC_ERETRY)
      return p;
    x->im->quiesce(x->v);
  }
}

/* Guest copy c = a through page(); ns or 0 on error. */
static uint64_t guest_copy(access_ctx_t *x, mmc_error_t *err) {
  uint64_t t0 = bu_thread_cpu_ns();
  for (uint64_t i = 0; i < x->n; i++) {
    void *dst = page_or_null(x, 2 * x->n + i, true, err);
    const void *src = dst ? page_or_null(x, i, false, err) : NULL;
    if (!src)
      return 0;
    memcpy(dst, src, MMC_PAGE_SIZE);
    if ((i + 1) % access_quiesce_every == 0)
      x->im->quiesce(x->v);
  }
  x->im->quiesce(x->v);
  return bu_thread_cpu_ns() - t0;
}

static uint64_t guest_triad(access_ctx_t *x, mmc_error_t *err) {
  uint64_t t0 = bu_thread_cpu_ns();
  for (uint64_t i = 0; i < x->n; i++) {
    double *a = page_or_null(x, i, true, err);
    const double *b = a ? page_or_null(x, x->n + i, false, err) : NULL;
    const double *c = b ? page_or_null(x, 2 * x->n + i, false, err) : NULL;
    if (!c)
      return 0;
    triad_page(a, b, c);
    if ((i + 1) % access_quiesce_every == 0)
      x->im->quiesce(x->v);
  }
  x->im->quiesce(x->v);
  return bu_thread_cpu_ns() - t0;
}

/* Take every frame pointer with write access (so later guest writes do not
 * need a copy-on-write), hold them: no quiesce until the raw loops end. */
static int take_frames(access_ctx_t *x, mmc_error_t *err) {
  for (uint64_t g = 0; g < 3 * x->n; g++)
    if (!(x->ptr[g] = page_or_null(x, g, true, err)))
      return err->code ? err->code : MMC_EINVAL;
  return 0;
}

/* Raw access two ways, the faster one is the peer: a tight loop over the
 * pointers, and the same loop asking an opaque function for each pointer
 * as the guest loop asks page(), so the peer is never the slower shape of
 * loop (the guest copy measured faster than the tight raw loop here). */
__attribute__((noinline)) static void *frame_at(const access_ctx_t *x, uint64_t g) {
  return x->ptr[g];
}

static uint64_t raw_copy(access_ctx_t *x, bool called) {
  uint64_t t0 = bu_thread_cpu_ns();
  if (called)
    for (uint64_t i = 0; i < x->n; i++)
      memcpy(frame_at(x, 2 * x->n + i), frame_at(x, i), MMC_PAGE_SIZE);
  else
    for (uint64_t i = 0; i < x->n; i++)
      memcpy(x->ptr[2 * x->n + i], x->ptr[i], MMC_PAGE_SIZE);
  return bu_thread_cpu_ns() - t0;
}

static uint64_t raw_triad(access_ctx_t *x, bool called) {
  uint64_t t0 = bu_thread_cpu_ns();
  if (called)
    for (uint64_t i = 0; i < x->n; i++)
      triad_page(frame_at(x, i), frame_at(x, x->n + i), frame_at(x, 2 * x->n + i));
  else
    for (uint64_t i = 0; i < x->n; i++)
      triad_page(x->ptr[i], x->ptr[x->n + i], x->ptr[2 * x->n + i]);
  return bu_thread_cpu_ns() - t0;
}

/* Values as STREAM starts with (a = 1, b = 2, c = 0), written through
 * page(): every page backed by a private frame of real content before
 * anything is timed. */
static int init_arrays(access_ctx_t *x, mmc_error_t *err) {
  static const double init[3] = {1.0, 2.0, 0.0};
  for (uint64_t g = 0; g < 3 * x->n; g++) {
    double *p = page_or_null(x, g, true, err);
    if (!p)
      return err->code ? err->code : MMC_EINVAL;
    for (size_t j = 0; j < access_doubles; j++)
      p[j] = init[g / x->n];
    if ((g + 1) % access_quiesce_every == 0)
      x->im->quiesce(x->v);
  }
  x->im->quiesce(x->v);
  return 0;
}

static uint64_t min_ns(uint64_t best, uint64_t t) {
  return best == 0 || t < best ? t : best;
}

/* Evict the arrays from the caches before a timed loop, so neither side
 * starts with the other's leftovers (the L3 may hold a whole array). */
static void flush_caches(unsigned char *scratch) {
  for (size_t i = 0; i < access_flush_mib * BENCH_MIB; i += 64)
    scratch[i]++;
}

static int run_guest(access_ctx_t *x, unsigned char *scratch, uint64_t best[4], mmc_error_t *err) {
  flush_caches(scratch);
  uint64_t gc = guest_copy(x, err);
  flush_caches(scratch);
  uint64_t gt = gc ? guest_triad(x, err) : 0;
  if (!gc || !gt)
    return err->code ? err->code : MMC_EINVAL;
  best[2] = min_ns(best[2], gc);
  best[3] = min_ns(best[3], gt);
  return 0;
}

static int run_raw(access_ctx_t *x, unsigned char *scratch, uint64_t best[4], mmc_error_t *err) {
  int rc = take_frames(x, err);
  if (rc)
    return rc;
  for (int called = 0; called < 2; called++) {
    flush_caches(scratch);
    best[0] = min_ns(best[0], raw_copy(x, called));
    flush_caches(scratch);
    best[1] = min_ns(best[1], raw_triad(x, called));
  }
  x->im->quiesce(x->v);
  return 0;
}

/* Rounds of raw and guest copy and triad, which one first alternating;
 * best times out. */
static int measure(access_ctx_t *x, unsigned rounds, unsigned char *scratch, uint64_t best[4],
                   mmc_error_t *err) {
  memset(best, 0, 4 * sizeof best[0]);
  for (unsigned r = 0; r < rounds; r++) {
    int rc = r % 2 ? run_guest(x, scratch, best, err) : run_raw(x, scratch, best, err);
    if (rc == 0)
      rc = r % 2 ? run_raw(x, scratch, best, err) : run_guest(x, scratch, best, err);
    if (rc)
      return rc;
  }
  return 0;
}

static void report(const suite_bench_opts_t *o, const uint64_t best[4], uint64_t array_bytes) {
  double gb = (double)array_bytes / 1e9;
  double raw_copy_bw = 2 * gb / ((double)best[0] / 1e9),
         raw_triad_bw = 3 * gb / ((double)best[1] / 1e9);
  double g_copy_bw = 2 * gb / ((double)best[2] / 1e9),
         g_triad_bw = 3 * gb / ((double)best[3] / 1e9);
  bu_header(o->out);
  bu_row(o->out, "copy through page() (4 KB)", g_copy_bw, "GB/s", "copy, raw, same frames",
         raw_copy_bw, g_copy_bw / raw_copy_bw, ">= 0.95");
  bu_row(o->out, "triad through page() (4 KB)", g_triad_bw, "GB/s", "triad, raw, same frames",
         raw_triad_bw, g_triad_bw / raw_triad_bw, ">= 0.95");
}

int suite_bench_access(const suite_bench_opts_t *o) {
  suite_impl_t si;
  if (bu_load_impl(o, &si))
    return 1;
  const mmc_impl_t *im = si.impl;
  mmt_topology_t *topo = NULL;
  mmc_host_t *h = NULL;
  int failed = 1;
  if (bu_load_topology(o, NULL, &topo) || bu_host(o, im, topo, 1, &h))
    goto out;
  uint64_t array_bytes = access_array_mib * BENCH_MIB;
  mmc_vm_config_t cfg;
  mmc_vm_config_init(&cfg);
  cfg.name = "bench-access";
  cfg.memory_bytes = 3 * array_bytes;
  mmc_vm_id_t vm = 0;
  mmc_error_t err = {0};
  access_ctx_t x = {.im = im, .n = array_bytes / MMC_PAGE_SIZE};
  x.ptr = calloc(3 * x.n, sizeof *x.ptr);
  if (!x.ptr) {
    fprintf(o->err, "mmcert bench access: out of memory\n");
    goto out;
  }
  if (im->vm_power_on(h, &cfg, &vm, &err) != 0 || im->vcpu_enter(h, vm, 0, &x.v, &err) != 0) {
    fprintf(o->err, "mmcert bench access: %s\n", err.msg);
    goto out_ptr;
  }
  unsigned rounds = o->repeat < access_min_repeat ? access_min_repeat : o->repeat;
  uint64_t best[4];
  /* A first round backs every page and warms the translation: not timed. */
  uint64_t warm[4];
  unsigned char *scratch = calloc(access_flush_mib, BENCH_MIB);
  int rc = scratch ? init_arrays(&x, &err) : MMC_ENOMEM;
  if (rc == 0)
    rc = measure(&x, 1, scratch, warm, &err);
  if (rc == 0)
    rc = measure(&x, rounds, scratch, best, &err);
  free(scratch);
  if (rc == MMC_ENOMEM && !err.msg[0])
    snprintf(err.msg, sizeof err.msg, "out of memory for the cache-flush buffer");
  im->vcpu_exit(x.v);
  if (rc != 0) {
    fprintf(o->err, "mmcert bench access: guest access failed: %s\n", err.msg);
    goto out_ptr;
  }
  fprintf(o->out, "  %s %s on %s, 3 arrays of %llu MiB, best of %u rounds (thread CPU time)\n",
          im->name, im->version, topo->source, (unsigned long long)(array_bytes / BENCH_MIB),
          rounds);
  report(o, best, array_bytes);
  failed = 0;
out_ptr:
  free(x.ptr);
out:
  if (h)
    im->host_destroy(h);
  if (topo)
    mmt_free(topo);
  suite_impl_unload(&si);
  return failed;
}
