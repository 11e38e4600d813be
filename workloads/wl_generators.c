/*
 * wl_generators.c — workloads with exact ground truth: idle, touch-all,
 * working set with phases, clone, writer-verifier.
 *
 * SPEC ids served: WSS-1..4 (the working-set generator touches exactly the
 * pages of its current set and exposes that set at any time t), TPS-5/TPS-8
 * (the clone generator writes image, zero and unique pages in exact
 * proportions and computes the ideal savings; its COW writer then rewrites
 * image pages, TPS-2, with wl_clone_census as ground truth), INT-1 (writer-verifier: each
 * vCPU re-reads its own pages right after writing, checking the version it
 * last wrote), SEC-1 (idle VMs that never wrote must read zero).
 *
 * Invariants:
 *   - Page ownership: idle/touch/clone give vCPU i the pages g with
 *     g % nvcpus == i; the working set gives it the set positions p with
 *     p % nvcpus == i; the writer-verifier gives it a contiguous stripe. So
 *     no two vCPUs ever write the same page, and the truth needs no lock.
 *   - Everything chosen is drawn from the VM seed (or the image seed for the
 *     clone layout) with wl_rng_t: same seeds, same accesses, same order.
 *   - The working sets of one VM are nested: the set at t is the first
 *     n(t) entries of one fixed permutation, so growing only adds pages.
 */
#include <stdlib.h>
#include <string.h>

#include "mmc_error.h"
#include "workload.h"

#define PERMILLE 1000u
/* Stream labels: derive independent seeds for independent choices. */
#define LABEL_WS_PERM 0x77732d7065726d00ull      /* "ws-perm" */
#define LABEL_CLONE_LAYOUT 0x636c6f6e652d6c00ull /* "clone-l" */

/* ---------------------------------------------------------------- shared */

/* Per-vCPU progress over its own pages g = i, i+n, i+2n, ... */
typedef struct own_cursor {
  uint64_t next;           /* own index of the next page to write */
  _Atomic uint64_t passes; /* complete passes over the own pages */
} own_cursor_t;

static uint64_t own_count(const wl_vm_t *vm, uint32_t i) {
  uint64_t n = vm->truth.npages;
  return i < n ? (n - 1 - i) / vm->nvcpus + 1 : 0;
}

static uint64_t own_gpfn(const wl_vm_t *vm, uint32_t i, uint64_t k) {
  return i + k * vm->nvcpus;
}

typedef int (*own_write_fn)(wl_vcpu_t *v, uint64_t gpfn, mmc_error_t *err);

/* Write up to `budget` own pages (0 = the rest of this pass) with fn; with
 * `wrap`, a finished pass starts the next one within the same budget. */
static int own_walk(wl_vcpu_t *v, own_cursor_t *c, uint32_t budget, bool wrap, own_write_fn fn,
                    mmc_error_t *err) {
  uint64_t total = own_count(v->vm, v->index);
  if (total == 0)
    return 0;
  uint64_t left = budget ? budget : total - c->next;
  if (!budget && c->next == total && wrap)
    left = total;
  while (left > 0) {
    if (c->next == total) {
      if (!wrap)
        return 0;
      c->next = 0;
    }
    int rc = fn(v, own_gpfn(v->vm, v->index, c->next), err);
    if (rc)
      return rc;
    left--;
    if (++c->next == total)
      atomic_fetch_add_explicit(&c->passes, 1, memory_order_relaxed);
  }
  return 0;
}

/* A random permutation of 0..n-1 (Fisher-Yates) and its inverse. */
static int make_perm(uint64_t n, uint64_t seed, uint32_t **perm, uint32_t **pos, mmc_error_t *err) {
  if (n > UINT32_MAX)
    return mmc_fail(err, MMC_ERANGE, "%llu pages: at most %u pages per VM for this workload",
                    (unsigned long long)n, UINT32_MAX);
  *perm = malloc(n * sizeof **perm);
  *pos = malloc(n * sizeof **pos);
  if (!*perm || !*pos) {
    free(*perm);
    free(*pos);
    return mmc_fail(err, MMC_ENOMEM, "no memory for a permutation of %llu pages",
                    (unsigned long long)n);
  }
  for (uint64_t i = 0; i < n; i++)
    (*perm)[i] = (uint32_t)i;
  wl_rng_t r;
  wl_rng_seed(&r, seed);
  for (uint64_t i = n - 1; i > 0; i--) {
    uint64_t j = wl_rng_below(&r, i + 1);
    uint32_t tmp = (*perm)[i];
    (*perm)[i] = (*perm)[j];
    (*perm)[j] = tmp;
  }
  for (uint64_t i = 0; i < n; i++)
    (*pos)[(*perm)[i]] = (uint32_t)i;
  return 0;
}

/* The state of idle and touch-all: their configuration, first, (`size`
 * bytes of the state struct, `cfg_size` of them the configuration, copied
 * when given) and an own_cursor_t per vCPU after it. */
static int cursors_init(wl_vm_t *vm, size_t size, size_t cfg_size, const void *cfg,
                        mmc_error_t *err) {
  char *s = calloc(1, size + vm->nvcpus * sizeof(own_cursor_t));
  if (!s)
    return mmc_fail(err, MMC_ENOMEM, "no memory");
  if (cfg)
    memcpy(s, cfg, cfg_size);
  vm->state = s;
  return 0;
}

/* ---------------------------------------------------------------- idle */

typedef struct idle_state {
  wl_idle_cfg_t cfg;
  own_cursor_t cur[]; /* per vCPU */
} idle_state_t;

static int idle_init(wl_vm_t *vm, const void *cfg, mmc_error_t *err) {
  return cursors_init(vm, sizeof(idle_state_t), sizeof(wl_idle_cfg_t), cfg, err);
}

static int idle_step(wl_vcpu_t *v, uint64_t t_ns, uint64_t dt_ns, mmc_error_t *err) {
  idle_state_t *s = v->vm->state;
  if (!s->cfg.write_at_boot)
    return 0;
  return own_walk(v, &s->cur[v->index], s->cfg.pages_per_step, false, wl_write_next, err);
}

static void free_state(wl_vm_t *vm) {
  free(vm->state);
  vm->state = NULL;
}

const wl_ops_t wl_idle_ops = {
    .name = "idle", .init = idle_init, .step = idle_step, .fini = free_state};

/* ---------------------------------------------------------------- touch-all */

typedef struct touch_state {
  wl_touch_cfg_t cfg;
  own_cursor_t cur[];
} touch_state_t;

static int touch_init(wl_vm_t *vm, const void *cfg, mmc_error_t *err) {
  return cursors_init(vm, sizeof(touch_state_t), sizeof(wl_touch_cfg_t), cfg, err);
}

static int touch_step(wl_vcpu_t *v, uint64_t t_ns, uint64_t dt_ns, mmc_error_t *err) {
  touch_state_t *s = v->vm->state;
  own_cursor_t *c = &s->cur[v->index];
  if (!s->cfg.rewrite && atomic_load_explicit(&c->passes, memory_order_relaxed) > 0)
    return 0;
  return own_walk(v, c, s->cfg.pages_per_step, s->cfg.rewrite, wl_write_next, err);
}

const wl_ops_t wl_touch_ops = {
    .name = "touch-all", .init = touch_init, .step = touch_step, .fini = free_state};

uint64_t wl_touch_passes(const wl_vm_t *vm) {
  if (vm->ops != &wl_touch_ops)
    return 0;
  const touch_state_t *s = vm->state;
  uint64_t min = UINT64_MAX;
  for (uint32_t i = 0; i < vm->nvcpus; i++) {
    if (own_count(vm, i) == 0)
      continue;
    uint64_t p = atomic_load_explicit(&s->cur[i].passes, memory_order_relaxed);
    min = p < min ? p : min;
  }
  return min == UINT64_MAX ? 0 : min;
}

/* ---------------------------------------------------------------- working set */

typedef struct ws_state {
  wl_ws_cfg_t cfg;
  uint32_t *perm; /* set order: the set at t is perm[0 .. n(t)) */
  uint32_t *pos;  /* inverse of perm */
} ws_state_t;

static int ws_check_cfg(const wl_ws_cfg_t *c, mmc_error_t *err) {
  if (c->shape > WL_WS_ALTERNATE)
    return mmc_fail(err, MMC_EINVAL,
                    "working set: shape %d unknown (steady, rising, falling, "
                    "steps, boot-idle, alternate)",
                    (int)c->shape);
  if (c->f0_permille > PERMILLE || c->f1_permille > PERMILLE)
    return mmc_fail(err, MMC_ERANGE, "working set: f0 %u / f1 %u permille out of range 0..%u",
                    c->f0_permille, c->f1_permille, PERMILLE);
  if (c->shape == WL_WS_ALTERNATE && c->level_ns == 0)
    return mmc_fail(err, MMC_EINVAL, "working set alternate: level_ns must be > 0");
  if (c->shape != WL_WS_STEPS)
    return 0;
  if (c->nlevels == 0 || c->nlevels > WL_WS_MAX_LEVELS || c->level_ns == 0)
    return mmc_fail(err, MMC_EINVAL,
                    "working set steps: %u levels of %llu ns (allowed 1..%u "
                    "levels, > 0 ns each)",
                    c->nlevels, (unsigned long long)c->level_ns, WL_WS_MAX_LEVELS);
  for (uint32_t k = 0; k < c->nlevels; k++)
    if (c->levels_permille[k] > PERMILLE)
      return mmc_fail(err, MMC_ERANGE, "working set steps: level %u is %u permille (0..%u)", k,
                      c->levels_permille[k], PERMILLE);
  return 0;
}

uint32_t wl_ws_permille_at(const wl_ws_cfg_t *c, uint64_t t_ns) {
  switch (c->shape) {
  case WL_WS_STEADY: return c->f0_permille;
  case WL_WS_RISING:
  case WL_WS_FALLING: {
    if (c->ramp_ns == 0 || t_ns >= c->ramp_ns)
      return c->f1_permille;
    int64_t d = (int64_t)c->f1_permille - (int64_t)c->f0_permille;
    return (uint32_t)((int64_t)c->f0_permille +
                      (int64_t)((__int128)d * (__int128)t_ns / (__int128)c->ramp_ns));
  }
  case WL_WS_STEPS: {
    if (c->nlevels == 0)
      return 0;
    uint64_t k = c->level_ns ? t_ns / c->level_ns : 0;
    return c->levels_permille[k < c->nlevels ? k : c->nlevels - 1];
  }
  case WL_WS_BOOT_IDLE: return t_ns < c->ramp_ns ? c->f0_permille : 0;
  case WL_WS_ALTERNATE: {
    uint64_t k = c->level_ns ? t_ns / c->level_ns : 0;
    return k % 2 ? c->f1_permille : c->f0_permille;
  }
  }
  return 0;
}

uint64_t wl_ws_pages_at(const wl_ws_cfg_t *c, uint64_t npages, uint64_t t_ns) {
  return npages * wl_ws_permille_at(c, t_ns) / PERMILLE;
}

static int ws_init(wl_vm_t *vm, const void *cfg, mmc_error_t *err) {
  if (!cfg)
    return mmc_fail(err, MMC_EINVAL, "working set: a wl_ws_cfg_t is required");
  int rc = ws_check_cfg(cfg, err);
  if (rc)
    return rc;
  ws_state_t *s = calloc(1, sizeof *s);
  if (!s)
    return mmc_fail(err, MMC_ENOMEM, "no memory");
  s->cfg = *(const wl_ws_cfg_t *)cfg;
  rc = make_perm(vm->truth.npages, wl_seed_mix(vm->seed, LABEL_WS_PERM), &s->perm, &s->pos, err);
  if (rc) {
    free(s);
    return rc;
  }
  vm->state = s;
  return 0;
}

static int ws_step(wl_vcpu_t *v, uint64_t t_ns, uint64_t dt_ns, mmc_error_t *err) {
  const ws_state_t *s = v->vm->state;
  uint64_t n = wl_ws_pages_at(&s->cfg, v->vm->truth.npages, t_ns);
  for (uint64_t p = v->index; p < n; p += v->vm->nvcpus) {
    int rc =
        s->cfg.write ? wl_write_next(v, s->perm[p], err) : wl_read_check(v, s->perm[p], NULL, err);
    if (rc)
      return rc;
  }
  return 0;
}

static void ws_fini(wl_vm_t *vm) {
  ws_state_t *s = vm->state;
  if (s) {
    free(s->perm);
    free(s->pos);
  }
  free_state(vm);
}

const wl_ops_t wl_ws_ops = {
    .name = "working-set", .init = ws_init, .step = ws_step, .fini = ws_fini};

static const ws_state_t *ws_of(const wl_vm_t *vm) {
  return vm->ops == &wl_ws_ops ? vm->state : NULL;
}

bool wl_ws_in_set(const wl_vm_t *vm, uint64_t gpfn, uint64_t t_ns) {
  const ws_state_t *s = ws_of(vm);
  if (!s || gpfn >= vm->truth.npages)
    return false;
  return s->pos[gpfn] < wl_ws_pages_at(&s->cfg, vm->truth.npages, t_ns);
}

uint64_t wl_ws_true_set(const wl_vm_t *vm, uint64_t t_ns, uint64_t *out, uint64_t max) {
  const ws_state_t *s = ws_of(vm);
  if (!s)
    return 0;
  uint64_t n = wl_ws_pages_at(&s->cfg, vm->truth.npages, t_ns);
  for (uint64_t i = 0; out && i < n && i < max; i++)
    out[i] = s->perm[i];
  return n;
}

int wl_ws_set_cfg(wl_vm_t *vm, const wl_ws_cfg_t *c, mmc_error_t *err) {
  ws_state_t *s = vm->state;
  if (vm->ops != &wl_ws_ops)
    return mmc_fail(err, MMC_EINVAL, "VM %u runs workload %s, not working-set", vm->id,
                    vm->ops->name);
  int rc = ws_check_cfg(c, err);
  if (rc)
    return rc;
  s->cfg = *c;
  return 0;
}

/* ---------------------------------------------------------------- clone */

typedef struct clone_vcpu {
  own_cursor_t boot; /* boot writing; passes > 0 once done */
  uint64_t cow_next; /* own index where the COW writer looks next */
} clone_vcpu_t;

typedef struct clone_state {
  wl_clone_cfg_t cfg;
  uint8_t *kind; /* WL_CLONE_* per gpfn */
  clone_vcpu_t cur[];
} clone_state_t;

static int clone_counts(const wl_clone_cfg_t *c, uint64_t npages, uint64_t *img, uint64_t *zero,
                        mmc_error_t *err) {
  if (c->image_permille + (uint64_t)c->zero_permille > PERMILLE)
    return mmc_fail(err, MMC_ERANGE, "clone: image %u + zero %u permille exceeds %u",
                    c->image_permille, c->zero_permille, PERMILLE);
  *img = npages * c->image_permille / PERMILLE;
  *zero = npages * c->zero_permille / PERMILLE;
  return 0;
}

int wl_clone_expected(const wl_clone_cfg_t *c, uint64_t npages, uint32_t nvms, wl_clone_expect_t *o,
                      mmc_error_t *err) {
  memset(o, 0, sizeof *o);
  uint64_t img = 0, zero = 0;
  int rc = clone_counts(c, npages, &img, &zero, err);
  if (rc)
    return rc;
  o->image_pages = img;
  o->zero_pages = zero;
  o->unique_pages = npages - img - zero;
  /* Image pages carry their gpfn in the header, so within one VM they all
   * differ: they are sharable only across clones. All zero pages are one
   * content. */
  o->sharable_pages = (nvms >= 2 ? nvms * img : 0) + (nvms * zero >= 2 ? nvms * zero : 0);
  o->min_frames = (nvms ? img : 0) + nvms * o->unique_pages + (nvms && zero ? 1 : 0);
  o->ideal_saved_pages = nvms * npages - o->min_frames;
  return 0;
}

static int clone_init(wl_vm_t *vm, const void *cfg, mmc_error_t *err) {
  if (!cfg)
    return mmc_fail(err, MMC_EINVAL, "clone: a wl_clone_cfg_t is required");
  const wl_clone_cfg_t *c = cfg;
  uint64_t n = vm->truth.npages, img = 0, zero = 0;
  int rc = clone_counts(c, n, &img, &zero, err);
  if (rc)
    return rc;
  clone_state_t *s = calloc(1, sizeof *s + vm->nvcpus * sizeof s->cur[0]);
  uint8_t *kind = malloc(n);
  uint32_t *perm = NULL, *pos = NULL;
  if (!s || !kind) {
    rc = mmc_fail(err, MMC_ENOMEM, "clone: no memory for %llu pages", (unsigned long long)n);
    goto out_free;
  }
  /* The layout depends on the image seed only: every clone agrees. */
  rc = make_perm(n, wl_seed_mix(c->image_seed, LABEL_CLONE_LAYOUT), &perm, &pos, err);
  if (rc)
    goto out_free;
  for (uint64_t p = 0; p < n; p++)
    kind[perm[p]] = p < img ? WL_CLONE_IMAGE : p < img + zero ? WL_CLONE_ZERO : WL_CLONE_UNIQUE;
  free(perm);
  free(pos);
  s->cfg = *c;
  s->kind = kind;
  vm->truth.image_seed = c->image_seed;
  vm->state = s;
  return 0;
out_free:
  free(kind);
  free(s);
  return rc;
}

static int clone_write(wl_vcpu_t *v, uint64_t gpfn, mmc_error_t *err) {
  const clone_state_t *s = v->vm->state;
  switch (s->kind[gpfn]) {
  case WL_CLONE_IMAGE: return wl_write_image(v, gpfn, err);
  case WL_CLONE_ZERO: return wl_write_zero(v, gpfn, err);
  default: return wl_write_next(v, gpfn, err);
  }
}

/* COW writer: rewrite the next `budget` own image pages still holding image
 * content, in ascending gpfn order, with VM-seed content. */
static int clone_cow(wl_vcpu_t *v, clone_vcpu_t *c, uint32_t budget, mmc_error_t *err) {
  const clone_state_t *s = v->vm->state;
  uint64_t total = own_count(v->vm, v->index);
  for (; budget > 0 && c->cow_next < total; c->cow_next++) {
    uint64_t g = own_gpfn(v->vm, v->index, c->cow_next);
    if (s->kind[g] != WL_CLONE_IMAGE || v->vm->truth.src[g] != WL_SRC_IMAGE)
      continue;
    int rc = wl_write_next(v, g, err);
    if (rc)
      return rc;
    budget--;
  }
  return 0;
}

static int clone_step(wl_vcpu_t *v, uint64_t t_ns, uint64_t dt_ns, mmc_error_t *err) {
  clone_state_t *s = v->vm->state;
  clone_vcpu_t *c = &s->cur[v->index];
  if (atomic_load_explicit(&c->boot.passes, memory_order_relaxed) == 0)
    return own_walk(v, &c->boot, s->cfg.pages_per_step, false, clone_write, err);
  return clone_cow(v, c, s->cfg.cow_writes_per_step, err);
}

static void clone_fini(wl_vm_t *vm) {
  clone_state_t *s = vm->state;
  if (s)
    free(s->kind);
  free_state(vm);
}

const wl_ops_t wl_clone_ops = {
    .name = "clone", .init = clone_init, .step = clone_step, .fini = clone_fini};

int wl_clone_kind(const wl_vm_t *vm, uint64_t gpfn) {
  if (vm->ops != &wl_clone_ops || gpfn >= vm->truth.npages)
    return MMC_EINVAL;
  return ((const clone_state_t *)vm->state)->kind[gpfn];
}

bool wl_clone_booted(const wl_vm_t *vm) {
  if (vm->ops != &wl_clone_ops)
    return false;
  const clone_state_t *s = vm->state;
  for (uint32_t i = 0; i < vm->nvcpus; i++)
    if (own_count(vm, i) && atomic_load_explicit(&s->cur[i].boot.passes, memory_order_relaxed) == 0)
      return false;
  return true;
}

int wl_clone_census(const wl_vm_t *vm, wl_clone_census_t *o, mmc_error_t *err) {
  memset(o, 0, sizeof *o);
  if (vm->ops != &wl_clone_ops)
    return mmc_fail(err, MMC_EINVAL, "VM %u runs workload %s, not clone", vm->id, vm->ops->name);
  const clone_state_t *s = vm->state;
  for (uint64_t g = 0; g < vm->truth.npages; g++) {
    if (vm->truth.src[g] == WL_SRC_IMAGE)
      o->image_intact++;
    else if (s->kind[g] == WL_CLONE_ZERO)
      o->zero++;
    else
      o->vm_content++;
  }
  return 0;
}

/* ---------------------------------------------------------------- writer-verifier */

static int wv_init(wl_vm_t *vm, const void *cfg, mmc_error_t *err) {
  wl_wv_cfg_t *s = calloc(1, sizeof *s);
  if (!s)
    return mmc_fail(err, MMC_ENOMEM, "no memory");
  if (cfg)
    *s = *(const wl_wv_cfg_t *)cfg;
  if (s->writes_per_step == 0 && s->reads_per_step == 0) {
    free(s);
    return mmc_fail(err, MMC_EINVAL, "writer-verifier: 0 writes and 0 reads per step");
  }
  vm->state = s;
  return 0;
}

static int wv_step(wl_vcpu_t *v, uint64_t t_ns, uint64_t dt_ns, mmc_error_t *err) {
  const wl_wv_cfg_t *c = v->vm->state;
  uint64_t n = v->vm->truth.npages, k = v->vm->nvcpus;
  uint64_t lo = v->index * n / k, hi = (v->index + 1) * n / k;
  if (hi == lo)
    return 0;
  for (uint32_t i = 0; i < c->writes_per_step; i++) {
    int rc = wl_write_next(v, lo + wl_rng_below(&v->rng, hi - lo), err);
    if (rc)
      return rc;
  }
  for (uint32_t i = 0; i < c->reads_per_step; i++) {
    int rc = wl_read_check(v, lo + wl_rng_below(&v->rng, hi - lo), NULL, err);
    if (rc)
      return rc;
  }
  return 0;
}

const wl_ops_t wl_wv_ops = {
    .name = "writer-verifier", .init = wv_init, .step = wv_step, .fini = free_state};
