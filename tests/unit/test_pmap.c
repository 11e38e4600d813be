/*
 * test_pmap.c — the guest page map and its quiescence protocol
 * (reference-impl/pmap.c): single-threaded paths (fast path, ERANGE, first
 * touch, MARK cancel, remap counts, SAMPLED, COW, fault errors), the ERETRY
 * cycle breaker with two vCPU threads, deterministic proofs that the I2/I3
 * checks catch a missing quiescence wait (test-only flag), and a stress test
 * of I1-I3: vCPU threads writing version-stamped values into their own and
 * common pages while a remapper thread migrates, re-shares and samples
 * random batches between three pools and writers break COW.
 *
 * Page layout used throughout: vCPU v owns the 8-byte slot at offset v * 64;
 * a slot holds (gpfn + 1) << 32 | version, so a frame seen by the wrong page
 * (reused too early) or punched (zeros) is told apart from a stale version.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "mmc_clock.h"

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mech.h"
#include "ref_test.h"

#define PAGE MMC_PAGE_SIZE
#define NPOOLS 3
#define POOL_FRAMES 4096
#define SLOT_STRIDE 64 /* bytes between vCPU slots */
#define MAXV 8

/* ------------------------------------------------------------ fixture: a tiny VM */

typedef struct tvm {
  ref_pool_t *pool[NPOOLS];
  uint8_t *bases[NPOOLS];
  _Atomic uint32_t *refs[NPOOLS]; /* share count per frame (SHARED entries) */
  ref_pmap_t *map;
  _Atomic uint64_t faults, first_touch, cow, sampled;
  _Atomic int fail_next; /* the next fault returns this status */
} tvm_t;

static uint8_t *frame_at(tvm_t *t, uint64_t pte) {
  return t->bases[ref_pte_node(pte)] + ref_pte_frame(pte) * PAGE;
}

static void unref(tvm_t *t, uint32_t node, uint64_t frame) {
  if (atomic_fetch_sub(&t->refs[node][frame], 1) == 1)
    ref_frame_free(t->pool[node], frame);
}

static int t_fault(void *owner, uint32_t vcpu, uint64_t gpfn, bool write, uint64_t *pte,
                   mmc_error_t *err) {
  tvm_t *t = owner;
  atomic_fetch_add(&t->faults, 1);
  int fail = atomic_exchange(&t->fail_next, 0);
  if (fail)
    return mmc_fail(err, fail, "injected fault failure");
  if (*pte & REF_PTE_SAMPLED)
    atomic_fetch_add(&t->sampled, 1); /* the pmap clears the flag itself */
  unsigned st = ref_pte_state(*pte);
  if (st == REF_PTE_PRIVATE || (st == REF_PTE_SHARED && !write))
    return 0;
  uint32_t node = vcpu % NPOOLS;
  uint64_t f = ref_frame_alloc(t->pool[node]);
  if (f == REF_NO_FRAME)
    return mmc_fail(err, MMC_ENOMEM, "pool %u full", node);
  if (st == REF_PTE_SHARED) { /* COW break: called after the other vCPUs quiesced */
    memcpy(t->bases[node] + f * PAGE, frame_at(t, *pte), PAGE);
    unref(t, ref_pte_node(*pte), ref_pte_frame(*pte));
    atomic_fetch_add(&t->cow, 1);
  } else if (st == REF_PTE_UNBACKED || st == REF_PTE_BALLOONED) {
    atomic_fetch_add(&t->first_touch, 1);
  } else {
    ref_frame_free(t->pool[node], f);
    return mmc_fail(err, MMC_EIO, "state %u not handled by the test", st);
  }
  *pte = ref_pte_make(REF_PTE_PRIVATE, node, f);
  return 0;
}

static const ref_fault_ops_t t_ops = {.fault = t_fault};

static tvm_t *tvm_new(uint64_t npages, uint32_t nvcpus) {
  tvm_t *t = calloc(1, sizeof *t);
  mmc_error_t err = {0};
  for (int i = 0; i < NPOOLS; i++) {
    if (ref_pool_create((uint32_t)i, (uint32_t)i, false, POOL_FRAMES, &t->pool[i], &err) != 0)
      fail_msg("pool: %s", err.msg);
    t->bases[i] = ref_pool_base(t->pool[i]);
    t->refs[i] = calloc(POOL_FRAMES, sizeof *t->refs[i]);
  }
  if (ref_pmap_create(npages, nvcpus, t->bases, &t_ops, t, &t->map, &err) != 0)
    fail_msg("pmap: %s", err.msg);
  return t;
}

static void tvm_free(tvm_t *t) {
  for (uint64_t g = 0; g < ref_pmap_npages(t->map); g++) {
    uint64_t pte = ref_pmap_get(t->map, g);
    if (ref_pte_state(pte) == REF_PTE_PRIVATE)
      ref_frame_free(t->pool[ref_pte_node(pte)], ref_pte_frame(pte));
    else if (ref_pte_state(pte) == REF_PTE_SHARED)
      unref(t, ref_pte_node(pte), ref_pte_frame(pte));
  }
  for (int i = 0; i < NPOOLS; i++) {
    assert_int_equal(ref_pool_used(t->pool[i]), 0); /* no frame leaked */
    assert_true(ref_pool_is_valid(t->pool[i]));
    ref_pool_destroy(t->pool[i]);
    free(t->refs[i]);
  }
  ref_pmap_destroy(t->map);
  free(t);
}

/* Back `gpfn` with a private frame on `node`. */
static uint64_t set_private(tvm_t *t, uint64_t gpfn, uint32_t node) {
  uint64_t f = ref_frame_alloc(t->pool[node]);
  uint64_t pte = ref_pte_make(REF_PTE_PRIVATE, node, f);
  assert_true(ref_pmap_cas(t->map, gpfn, ref_pmap_get(t->map, gpfn), pte));
  return pte;
}

/* Make pages [first, first+n) share one frame on `node`, filled with `byte`. */
static uint64_t set_shared(tvm_t *t, uint64_t first, uint64_t n, uint32_t node, int byte) {
  uint64_t f = ref_frame_alloc(t->pool[node]);
  memset(t->bases[node] + f * PAGE, byte, PAGE);
  atomic_store(&t->refs[node][f], (uint32_t)n);
  uint64_t pte = ref_pte_make(REF_PTE_SHARED, node, f);
  for (uint64_t g = first; g < first + n; g++)
    assert_true(ref_pmap_cas(t->map, g, ref_pmap_get(t->map, g), pte));
  return pte;
}

/* ------------------------------------------------------------ remap ops */

enum { RM_MIGRATE, RM_RESHARE, RM_SAMPLE };
typedef struct rctx {
  tvm_t *t;
  int kind;
  unsigned seed;
  uint64_t eligible_below; /* only gpfns below this are eligible */
  _Atomic int *hold;       /* when set: transform of hold_gpfn spins until *hold */
  uint64_t hold_gpfn;
  _Atomic int in_copy; /* set when transform reached hold_gpfn */
} rctx_t;

static bool r_eligible(void *ctx, uint64_t gpfn, uint64_t pte) {
  rctx_t *c = ctx;
  return ref_pte_state(pte) == REF_PTE_PRIVATE && gpfn < c->eligible_below;
}

static bool r_transform(void *ctx, uint64_t gpfn, uint64_t old, uint64_t *new_pte) {
  rctx_t *c = ctx;
  if (c->hold && gpfn == c->hold_gpfn) {
    atomic_store(&c->in_copy, 1);
    while (!atomic_load(c->hold))
      sched_yield();
  }
  if (c->kind == RM_SAMPLE) {
    *new_pte = old | REF_PTE_SAMPLED;
    return true;
  }
  uint32_t node = (ref_pte_node(old) + 1 + (uint32_t)(rand_r(&c->seed) % (NPOOLS - 1))) % NPOOLS;
  uint64_t f = ref_frame_alloc(c->t->pool[node]);
  if (f == REF_NO_FRAME)
    return false;
  memcpy(c->t->bases[node] + f * PAGE, frame_at(c->t, old), PAGE);
  unsigned st = REF_PTE_PRIVATE;
  if (c->kind == RM_RESHARE) {
    atomic_store(&c->t->refs[node][f], 1);
    st = REF_PTE_SHARED;
  }
  *new_pte = ref_pte_make(st, node, f);
  return true;
}

static void r_release(void *ctx, uint64_t gpfn, uint64_t old) {
  rctx_t *c = ctx;
  (void)gpfn;
  if (c->kind != RM_SAMPLE)
    ref_frame_free(c->t->pool[ref_pte_node(old)], ref_pte_frame(old));
}

static const ref_remap_ops_t r_ops = {
    .transform = r_transform, .release = r_release, .eligible = r_eligible};

/* ------------------------------------------------------------ helpers */

/* Wait (yielding) until *flag >= want; false after 10 s (a hang). */
static bool wait_flag(_Atomic int *flag, int want) {
  uint64_t deadline = mmc_mono_ns() + 10 * MMC_NS_PER_S;
  while (atomic_load(flag) < want) {
    if (mmc_mono_ns() > deadline)
      return false;
    sched_yield();
  }
  return true;
}

/* Read `page` through q and hold the pointer, then wait until both vCPUs
 * of the test hold theirs (`holding` counts them); false with *rc set (the
 * read's error, or -100 when the other never came) when that failed. */
static bool hold_then_meet(tvm_t *t, ref_vcpu_q_t *q, uint64_t page, _Atomic int *holding,
                           int *rc) {
  mmc_error_t err = {0};
  if (!ref_pmap_page(t->map, q, page, false, &err)) {
    *rc = err.code;
    return false;
  }
  atomic_fetch_add(holding, 1);
  if (!wait_flag(holding, 2)) {
    *rc = -100;
    return false;
  }
  return true;
}

static _Atomic uint64_t *slot(void *page, uint32_t v) {
  return (_Atomic uint64_t *)((uint8_t *)page + (size_t)v * SLOT_STRIDE);
}
static uint64_t stamp(uint64_t gpfn, uint64_t version) {
  return (gpfn + 1) << 32 | version;
}

/* Published pointers (the I3 check): per vCPU, up to HELD entries, each
 * ptr | (gpfn + 1) << 48 in one atomic word, 0 = empty. A vCPU publishes an
 * entry after page() returned it and clears it before quiescing, so two
 * entries seen at once belong to pointers valid at the same time. */
#define HELD 8
static _Atomic uint64_t pub[MAXV][HELD];

static uint64_t pub_word(uint64_t gpfn, const void *p) {
  return (uint64_t)(uintptr_t)p | (gpfn + 1) << 48;
}

/* I3: every other vCPU's published pointer for `gpfn` equals `p`. Returns
 * the number of violations. */
static uint64_t check_pub(uint32_t self, uint32_t nvcpus, uint64_t gpfn, const void *p) {
  uint64_t bad = 0;
  for (uint32_t u = 0; u < nvcpus; u++)
    for (int k = 0; u != self && k < HELD; k++) {
      uint64_t w = atomic_load(&pub[u][k]);
      if (w && (w >> 48) == gpfn + 1 && (w & ((1ull << 48) - 1)) != (uint64_t)(uintptr_t)p)
        bad++;
    }
  return bad;
}

static void pub_clear(uint32_t v) {
  for (int k = 0; k < HELD; k++)
    atomic_store(&pub[v][k], 0);
}

/* ------------------------------------------------------------ single-threaded */

static void test_create_errors(void **state) {
  (void)state;
  ref_pmap_t *m = NULL;
  mmc_error_t err = {0};
  uint8_t *bases[1] = {0};
  assert_int_equal(ref_pmap_create(0, 1, bases, &t_ops, NULL, &m, &err), MMC_EINVAL);
  assert_int_equal(ref_pmap_create(4, 0, bases, &t_ops, NULL, &m, &err), MMC_EINVAL);
  ref_fault_ops_t none = {0};
  assert_int_equal(ref_pmap_create(4, 1, bases, &none, NULL, &m, &err), MMC_EINVAL);
  assert_null(m);
}

static void test_fast_path_and_erange(void **state) {
  (void)state;
  tvm_t *t = tvm_new(16, 2);
  ref_vcpu_q_t *v = ref_pmap_vcpu(t->map, 0);
  assert_non_null(v);
  assert_null(ref_pmap_vcpu(t->map, 2));
  uint64_t pte = set_private(t, 3, 1);
  mmc_error_t err = {0};
  uint8_t *p = ref_pmap_page(t->map, v, 3, true, &err);
  assert_ptr_equal(p, frame_at(t, pte));
  p[100] = 42;
  assert_ptr_equal(ref_pmap_page(t->map, v, 3, false, &err), p);
  assert_int_equal(atomic_load(&t->faults), 0); /* no slow path */
  assert_null(ref_pmap_page(t->map, v, 16, false, &err));
  assert_int_equal(err.code, MMC_ERANGE);
  assert_non_null(strstr(err.msg, "16"));
  ref_pmap_quiesce(v);
  assert_true(ref_pmap_is_valid(t->map, true));
  tvm_free(t);
}

static void test_first_touch(void **state) {
  (void)state;
  tvm_t *t = tvm_new(8, 1);
  ref_vcpu_q_t *v = ref_pmap_vcpu(t->map, 0);
  mmc_error_t err = {0};
  assert_int_equal(ref_pte_state(ref_pmap_get(t->map, 5)), REF_PTE_UNBACKED);
  uint8_t *p = ref_pmap_page(t->map, v, 5, false, &err);
  assert_non_null(p);
  assert_int_equal(atomic_load(&t->first_touch), 1);
  for (unsigned i = 0; i < PAGE; i++)
    assert_int_equal(p[i], 0);
  uint64_t pte = ref_pmap_get(t->map, 5);
  assert_int_equal(ref_pte_state(pte), REF_PTE_PRIVATE);
  assert_int_equal(pte & REF_PTE_FLAGS_MASK, 0);
  assert_ptr_equal(ref_pmap_page(t->map, v, 5, true, &err), p);
  assert_int_equal(atomic_load(&t->faults), 1);
  ref_pmap_vcpu_offline(v);
  assert_true(ref_pmap_is_valid(t->map, true));
  tvm_free(t);
}

static void test_cancel_mark(void **state) {
  (void)state;
  tvm_t *t = tvm_new(8, 1);
  ref_vcpu_q_t *v = ref_pmap_vcpu(t->map, 0);
  uint64_t pte = set_private(t, 2, 0);
  assert_true(ref_pmap_test_cas(t->map, 2, pte, pte | REF_PTE_MARK));
  assert_false(ref_pmap_is_valid(t->map, true)); /* a MARK left while idle is invalid */
  mmc_error_t err = {0};
  assert_ptr_equal(ref_pmap_page(t->map, v, 2, true, &err), frame_at(t, pte));
  assert_int_equal(ref_pmap_get(t->map, 2), pte); /* mark cancelled */
  assert_int_equal(atomic_load(&t->faults), 0);
  ref_pmap_quiesce(v);
  assert_true(ref_pmap_is_valid(t->map, true));
  tvm_free(t);
}

/* SAMPLED is transparent to a remap: a sampled page moves, keeps SAMPLED
 * (its next access still takes the slow path once), and a vCPU cancelling
 * the mark of a sampled page leaves SAMPLED set. */
static void test_remap_keeps_sampled(void **state) {
  (void)state;
  tvm_t *t = tvm_new(8, 1);
  ref_vcpu_q_t *v = ref_pmap_vcpu(t->map, 0);
  mmc_error_t err = {0};
  uint64_t pte = set_private(t, 3, 0);
  assert_true(ref_pmap_cas(t->map, 3, pte, pte | REF_PTE_SAMPLED));
  rctx_t c = {.t = t, .kind = RM_MIGRATE, .seed = 1, .eligible_below = 8};
  uint64_t g = 3;
  ref_remap_result_t res;
  ref_pmap_remap(t->map, &g, 1, &r_ops, &c, &res);
  assert_int_equal(res.remapped, 1);
  uint64_t moved = ref_pmap_get(t->map, 3);
  assert_true(moved & REF_PTE_SAMPLED);
  assert_int_not_equal(ref_pte_node(moved), 0);
  assert_true(ref_pmap_is_valid(t->map, true));
  assert_ptr_equal(ref_pmap_page(t->map, v, 3, false, &err), frame_at(t, moved));
  assert_int_equal(atomic_load(&t->sampled), 1);
  assert_int_equal(ref_pmap_get(t->map, 3), moved & ~REF_PTE_SAMPLED);
  ref_pmap_quiesce(v);
  /* A cancelled mark keeps SAMPLED. */
  pte = set_private(t, 4, 0);
  assert_true(ref_pmap_test_cas(t->map, 4, pte, pte | REF_PTE_SAMPLED | REF_PTE_MARK));
  assert_ptr_equal(ref_pmap_page(t->map, v, 4, false, &err), frame_at(t, pte));
  assert_int_equal(atomic_load(&t->sampled), 2);
  assert_int_equal(ref_pmap_get(t->map, 4), pte);
  ref_pmap_quiesce(v);
  tvm_free(t);
}

static void test_remap_counts(void **state) {
  (void)state;
  tvm_t *t = tvm_new(16, 2);
  ref_vcpu_q_t *v = ref_pmap_vcpu(t->map, 1);
  mmc_error_t err = {0};
  uint64_t old[10];
  for (uint64_t g = 0; g < 10; g++) {
    old[g] = set_private(t, g, 0);
    uint8_t *p = ref_pmap_page(t->map, v, g, true, &err);
    atomic_store(slot(p, 1), stamp(g, 7));
  }
  ref_pmap_quiesce(v); /* stepped mode: everyone quiesced, the remap never waits */
  set_shared(t, 10, 2, 2, 0);
  /* Page 9 is busy in a slow path: not marked, counted cancelled. */
  assert_true(ref_pmap_test_cas(t->map, 9, old[9], old[9] | REF_PTE_BUSY));
  rctx_t c = {.t = t, .kind = RM_MIGRATE, .seed = 1, .eligible_below = 8};
  uint64_t batch[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 99};
  ref_remap_result_t res = {0};
  ref_pmap_remap(t->map, batch, sizeof batch / sizeof batch[0], &r_ops, &c, &res);
  assert_int_equal(res.remapped, 8); /* 0..7; 8 not eligible, 10..12 not private, 99 out of range */
  assert_int_equal(res.cancelled, 1);
  assert_int_equal(ref_pool_used(t->pool[0]), 2); /* 8 and 9 stayed, the rest were freed */
  for (uint64_t g = 0; g < 8; g++) {
    uint64_t pte = ref_pmap_get(t->map, g);
    assert_int_not_equal(ref_pte_node(pte), 0);
    assert_int_equal(atomic_load(slot(frame_at(t, pte), 1)), stamp(g, 7)); /* copied */
  }
  assert_true(ref_pmap_test_cas(t->map, 9, old[9] | REF_PTE_BUSY, old[9]));
  assert_true(ref_pmap_is_valid(t->map, true));
  /* A remap with no page eligible does not wait and reports nothing. */
  c.eligible_below = 0;
  ref_pmap_remap(t->map, batch, 8, &r_ops, &c, &res);
  assert_int_equal(res.remapped + res.cancelled, 0);
  tvm_free(t);
}

static void test_sampled(void **state) {
  (void)state;
  tvm_t *t = tvm_new(8, 1);
  ref_vcpu_q_t *v = ref_pmap_vcpu(t->map, 0);
  mmc_error_t err = {0};
  uint64_t pte = set_private(t, 4, 2);
  rctx_t c = {.t = t, .kind = RM_SAMPLE, .eligible_below = 8};
  uint64_t g = 4;
  ref_remap_result_t res;
  ref_pmap_remap(t->map, &g, 1, &r_ops, &c, &res);
  assert_int_equal(res.remapped, 1);
  assert_int_equal(ref_pmap_get(t->map, 4), pte | REF_PTE_SAMPLED);
  assert_true(ref_pmap_is_valid(t->map, true)); /* SAMPLED is a resting state */
  assert_ptr_equal(ref_pmap_page(t->map, v, 4, false, &err), frame_at(t, pte));
  assert_int_equal(atomic_load(&t->sampled), 1);
  assert_int_equal(ref_pmap_get(t->map, 4), pte); /* cleared by the slow path */
  assert_ptr_equal(ref_pmap_page(t->map, v, 4, true, &err), frame_at(t, pte));
  assert_int_equal(atomic_load(&t->faults), 1); /* the next touch is fast */
  ref_pmap_quiesce(v);
  tvm_free(t);
}

static void test_cow_single(void **state) {
  (void)state;
  tvm_t *t = tvm_new(8, 2);
  ref_vcpu_q_t *v = ref_pmap_vcpu(t->map, 1);
  mmc_error_t err = {0};
  uint64_t sh = set_shared(t, 0, 3, 0, 0x11);
  uint8_t *r = ref_pmap_page(t->map, v, 1, false, &err);
  assert_ptr_equal(r, frame_at(t, sh));
  uint8_t *w = ref_pmap_page(t->map, v, 1, true, &err); /* own read pointer goes stale */
  assert_non_null(w);
  assert_ptr_not_equal(w, r);
  assert_int_equal(w[0], 0x11);
  assert_int_equal(w[PAGE - 1], 0x11);
  w[0] = 0x22;
  assert_int_equal(r[0], 0x11); /* COW isolates the writer (SEC-1) */
  assert_int_equal(atomic_load(&t->cow), 1);
  assert_int_equal(atomic_load(&t->refs[0][ref_pte_frame(sh)]), 2);
  assert_int_equal(ref_pmap_get(t->map, 0), sh);
  assert_int_equal(ref_pte_state(ref_pmap_get(t->map, 1)), REF_PTE_PRIVATE);
  ref_pmap_quiesce(v);
  assert_true(ref_pmap_is_valid(t->map, true));
  tvm_free(t);
}

static void test_fault_error(void **state) {
  (void)state;
  tvm_t *t = tvm_new(8, 1);
  ref_vcpu_q_t *v = ref_pmap_vcpu(t->map, 0);
  mmc_error_t err = {0};
  atomic_store(&t->fail_next, MMC_EIO);
  assert_null(ref_pmap_page(t->map, v, 3, true, &err));
  assert_int_equal(err.code, MMC_EIO);
  assert_int_equal(ref_pmap_get(t->map, 3), 0); /* unchanged, not left BUSY */
  assert_non_null(ref_pmap_page(t->map, v, 3, true, &err));
  ref_pmap_quiesce(v);
  assert_true(ref_pmap_is_valid(t->map, true));
  tvm_free(t);
}

/* ------------------------------------------------------------ ERETRY cycle */

/* Two vCPU threads racing on one test VM (the ERETRY cycle and the BUSY
 * waiter below): what each saw. */
typedef struct pair {
  tvm_t *t;
  uint32_t cow; /* the vCPU that writes (test_busy_waiter_vs_cow) */
  _Atomic int holding;
  int rc[2], retries[2];
  uint8_t *got[2];
} pair_t;

/* What a thread of a pair is given: the pair and its vCPU. */
typedef struct pair_arg {
  pair_t *p;
  uint32_t v;
} pair_arg_t;

/* vCPU 0 reads page 0 and vCPU 1 reads page 1 (both shared); then each writes
 * the page the other holds. Each COW waits for the other's quiescence: the
 * cycle must break at the higher index (vCPU 1 gets MMC_ERETRY, quiesces,
 * retries), and vCPU 0 must not. */
static void *cyc_thread(void *arg) {
  pair_arg_t *a = arg;
  pair_t *c = a->p;
  ref_vcpu_q_t *q = ref_pmap_vcpu(c->t->map, a->v);
  mmc_error_t err = {0};
  c->rc[a->v] = 0;
  if (!hold_then_meet(c->t, q, a->v, &c->holding, &c->rc[a->v]))
    return NULL;
  for (;;) {
    uint8_t *w = ref_pmap_page(c->t->map, q, 1 - a->v, true, &err);
    if (w) {
      w[a->v] = 1;
      break;
    }
    if (err.code != MMC_ERETRY) {
      c->rc[a->v] = err.code;
      break;
    }
    c->retries[a->v]++;
    ref_pmap_quiesce(q); /* drop every pointer, then redo the access */
  }
  ref_pmap_quiesce(q);
  return NULL;
}

static void test_eretry_cycle(void **state) {
  (void)state;
  for (int round = 0; round < 20; round++) {
    tvm_t *t = tvm_new(4, 2);
    set_shared(t, 0, 2, 0, 0);
    pair_t c = {.t = t};
    pair_arg_t a[2] = {{&c, 0}, {&c, 1}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
      assert_int_equal(pthread_create(&th[i], NULL, cyc_thread, &a[i]), 0);
    for (int i = 0; i < 2; i++)
      pthread_join(th[i], NULL);
    assert_int_equal(c.rc[0], 0);
    assert_int_equal(c.rc[1], 0);
    assert_int_equal(c.retries[0], 0); /* the lower index never gives up */
    assert_true(c.retries[1] >= 1);    /* the cycle was broken by vCPU 1 */
    assert_int_equal(atomic_load(&t->cow), 2);
    assert_true(ref_pmap_is_valid(t->map, true));
    tvm_free(t);
  }
}

/* A vCPU meeting an entry BUSY with another vCPU's COW, while holding a
 * pointer the COW waits for: one of the two must give way, the higher index.
 * vCPU `cow` writes shared page 0 while both hold page 2; the other vCPU
 * reads page 0 once it sees it BUSY. */
static void *busy2_thread(void *arg) {
  pair_arg_t *a = arg;
  pair_t *b = a->p;
  ref_vcpu_q_t *q = ref_pmap_vcpu(b->t->map, a->v);
  mmc_error_t err = {0};
  bool writer = a->v == b->cow;
  if (!hold_then_meet(b->t, q, 2, &b->holding, &b->rc[a->v]))
    return NULL;
  if (!writer) {
    uint64_t deadline = mmc_mono_ns() + 10 * MMC_NS_PER_S;
    while (!(ref_pmap_get(b->t->map, 0) & REF_PTE_BUSY))
      if (mmc_mono_ns() > deadline) {
        b->rc[a->v] = -101;
        return NULL;
      }
  }
  for (;;) {
    uint8_t *p = ref_pmap_page(b->t->map, q, 0, writer, &err);
    if (p) {
      b->got[a->v] = p;
      break;
    }
    if (err.code != MMC_ERETRY) {
      b->rc[a->v] = err.code;
      break;
    }
    b->retries[a->v]++;
    ref_pmap_quiesce(q);
  }
  ref_pmap_quiesce(q);
  return NULL;
}

static void run_busy2(uint32_t cow) {
  tvm_t *t = tvm_new(4, 2);
  uint64_t sh = set_shared(t, 0, 2, 0, 0);
  set_private(t, 2, 1);
  pair_t b = {.t = t, .cow = cow};
  pair_arg_t a[2] = {{&b, 0}, {&b, 1}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_create(&th[i], NULL, busy2_thread, &a[i]), 0);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  assert_int_equal(b.rc[0], 0);
  assert_int_equal(b.rc[1], 0);
  assert_int_equal(b.retries[0], 0); /* the lower index never gives way */
  assert_true(b.retries[1] >= 1);
  assert_int_equal(atomic_load(&t->cow), 1);
  uint8_t *priv = frame_at(t, ref_pmap_get(t->map, 0));
  assert_ptr_equal(b.got[cow], priv);
  /* The reader got the shared frame before the COW, or the new one after. */
  assert_true(b.got[1 - cow] == priv || b.got[1 - cow] == frame_at(t, sh));
  assert_true(ref_pmap_is_valid(t->map, true));
  tvm_free(t);
}

static void test_busy_waiter_vs_cow(void **state) {
  (void)state;
  for (int round = 0; round < 10; round++) {
    run_busy2(1); /* the COW writer (higher) gives way to the reader */
    run_busy2(0); /* the reader (higher) gives way to the COW writer */
  }
}

/* ------------------------------------------------------------ the checks catch a missing wait */

/* vCPU 0 (a thread) holds page 0 writable and has written a token; a remap of
 * page 0 runs in another thread; then vCPU 1 (this thread) asks for page 0.
 * With the protocol, the remap waits for vCPU 0 and vCPU 1 cancels its mark:
 * both see one frame, the token survives. Without the wait (test flag), the
 * remap publishes a new frame and frees the old one under vCPU 0: the I3
 * check (two frames at once) and the I2 check (the held pointer reads the
 * punched frame's zeros) must both fire. Returns violations found. */
typedef struct hold {
  tvm_t *t;
  _Atomic int held; /* vCPU 0 holds the page */
  _Atomic int go;   /* vCPU 0 may check and quiesce */
  _Atomic int done; /* the remap returned */
  uint64_t i2_bad;  /* vCPU 0's re-read of its token failed */
  ref_remap_result_t res;
  rctx_t *ctx;   /* remap context; NULL = migrate page 0 */
  uint64_t gpfn; /* page the remapper moves (with ctx) */
} hold_t;

static void *hold_vcpu0(void *arg) {
  hold_t *h = arg;
  ref_vcpu_q_t *q = ref_pmap_vcpu(h->t->map, 0);
  mmc_error_t err = {0};
  uint8_t *p = ref_pmap_page(h->t->map, q, 0, true, &err);
  atomic_store(slot(p, 0), stamp(0, 1));
  atomic_store(&pub[0][0], pub_word(0, p));
  atomic_store(&h->held, 1);
  if (wait_flag(&h->go, 1))
    h->i2_bad = atomic_load(slot(p, 0)) != stamp(0, 1);
  pub_clear(0);
  ref_pmap_quiesce(q);
  return NULL;
}

static void *hold_remapper(void *arg) {
  hold_t *h = arg;
  rctx_t c = {.t = h->t, .kind = RM_MIGRATE, .seed = 3, .eligible_below = 1};
  uint64_t g = h->ctx ? h->gpfn : 0;
  ref_pmap_remap(h->t->map, &g, 1, &r_ops, h->ctx ? h->ctx : &c, &h->res);
  atomic_store(&h->done, 1);
  return NULL;
}

static uint64_t run_hold_scenario(bool broken, ref_remap_result_t *res) {
  tvm_t *t = tvm_new(2, 2);
  set_private(t, 0, 0);
  hold_t h = {.t = t};
  pthread_t a, r;
  atomic_store(&ref_pmap_test_skip_wait, broken);
  assert_int_equal(pthread_create(&a, NULL, hold_vcpu0, &h), 0);
  assert_true(wait_flag(&h.held, 1));
  assert_int_equal(pthread_create(&r, NULL, hold_remapper, &h), 0);
  /* With the protocol the remap must stop in its wait with the page marked;
   * broken, it must run to the end (a mark seen in passing proves nothing). */
  if (broken) {
    assert_true(wait_flag(&h.done, 1));
  } else {
    uint64_t deadline = mmc_mono_ns() + 10 * MMC_NS_PER_S;
    while (!(ref_pmap_get(t->map, 0) & REF_PTE_MARK) && !atomic_load(&h.done))
      assert_true(mmc_mono_ns() < deadline);
  }
  ref_vcpu_q_t *q1 = ref_pmap_vcpu(t->map, 1);
  mmc_error_t err = {0};
  uint8_t *p1 = ref_pmap_page(t->map, q1, 0, false, &err);
  assert_non_null(p1);
  uint64_t bad = check_pub(1, 2, 0, p1);
  bad += atomic_load(slot(p1, 0)) != stamp(0, 1);
  ref_pmap_quiesce(q1);
  atomic_store(&h.go, 1);
  pthread_join(a, NULL);
  pthread_join(r, NULL);
  atomic_store(&ref_pmap_test_skip_wait, false);
  bad += h.i2_bad;
  *res = h.res;
  assert_true(ref_pmap_is_valid(t->map, true));
  tvm_free(t);
  return bad;
}

static void test_remap_waits_for_holder(void **state) {
  (void)state;
  ref_remap_result_t res;
  assert_int_equal(run_hold_scenario(false, &res), 0);
  /* vCPU 1, holding nothing, waited for the mark up to its bound (vCPU 0
   * waits for vCPU 1 here, as a guest spin lock would), then cancelled it. */
  assert_int_equal(res.remapped, 0);
  assert_int_equal(res.cancelled, 1);
}

/* A remapper whose vCPU does not quiesce soon sleeps on the map's futex, and
 * the vCPU's quiescent point wakes it: vCPU 0 (a thread) holds page 0, the
 * remap of page 0 goes to sleep (witness), the sleep's bound is a minute, so
 * only the wake-up from vCPU 0's quiesce can end it within the deadline;
 * vCPU 1's quiescent points meanwhile must not wake it. */
static void test_remapper_woken_by_quiesce(void **state) {
  (void)state;
  tvm_t *t = tvm_new(2, 2);
  set_private(t, 0, 0);
  set_private(t, 1, 0);
  hold_t h = {.t = t};
  pthread_t a, r;
  atomic_store(&ref_pmap_test_remap_sleep_ns, 60ull * 1000000000u);
  assert_int_equal(pthread_create(&a, NULL, hold_vcpu0, &h), 0);
  assert_true(wait_flag(&h.held, 1));
  uint64_t sleeps = atomic_load(&ref_pmap_test_remap_sleeps);
  assert_int_equal(pthread_create(&r, NULL, hold_remapper, &h), 0);
  uint64_t deadline = mmc_mono_ns() + 10 * MMC_NS_PER_S;
  while (atomic_load(&ref_pmap_test_remap_sleeps) == sleeps)
    assert_true(mmc_mono_ns() < deadline);
  assert_false(atomic_load(&h.done)); /* asleep, page 0 still held */
  /* vCPU 1 (this thread, not active when the remap looked) quiesces again
   * and again: only the vCPUs a remapper waits for wake it. */
  uint64_t asleep = atomic_load(&ref_pmap_test_remap_sleeps);
  ref_vcpu_q_t *q1 = ref_pmap_vcpu(t->map, 1);
  mmc_error_t err = {0};
  for (int i = 0; i < 100; i++) {
    assert_non_null(ref_pmap_page(t->map, q1, 1, false, &err));
    ref_pmap_quiesce(q1);
  }
  assert_int_equal(atomic_load(&ref_pmap_test_remap_sleeps), asleep);
  assert_false(atomic_load(&h.done));
  atomic_store(&h.go, 1); /* vCPU 0 quiesces */
  assert_true(wait_flag(&h.done, 1));
  pthread_join(a, NULL);
  pthread_join(r, NULL);
  atomic_store(&ref_pmap_test_remap_sleep_ns, 0);
  assert_int_equal(h.res.remapped, 1);
  assert_int_equal(h.i2_bad, 0);
  assert_int_not_equal(ref_pte_node(ref_pmap_get(t->map, 0)), 0);
  assert_true(ref_pmap_is_valid(t->map, true));
  tvm_free(t);
}

/* The rule for vCPUs holding no pointer: vCPU 0 (a thread) holds page 0, so a
 * remap of page 1 stops in its wait with page 1 marked; vCPU 1, fresh, asks
 * for page 1 and must wait (quiesced) instead of cancelling the mark; once
 * vCPU 0 quiesces the remap publishes and vCPU 1 gets the new frame with the
 * copied content. Under the old rule vCPU 1 cancelled: remapped 0. */
typedef struct fresh {
  tvm_t *t;
  uint8_t *got; /* vCPU 1's pointer */
  _Atomic int returned;
} fresh_t;

static void *fresh_vcpu1(void *arg) {
  fresh_t *f = arg;
  mmc_error_t err = {0};
  ref_vcpu_q_t *q = ref_pmap_vcpu(f->t->map, 1);
  f->got = ref_pmap_page(f->t->map, q, 1, true, &err);
  atomic_store(&f->returned, 1);
  return NULL;
}

static void test_fresh_vcpu_waits_for_mark(void **state) {
  (void)state;
  tvm_t *t = tvm_new(2, 2);
  set_private(t, 0, 0);
  uint64_t old1 = set_private(t, 1, 0);
  atomic_store(slot(frame_at(t, old1), 1), stamp(1, 5));
  hold_t h = {.t = t};
  fresh_t f = {.t = t};
  atomic_store(&ref_pmap_test_mark_wait_ns, 60ull * 1000000000u); /* only go ends it */
  pthread_t a, r, b;
  assert_int_equal(pthread_create(&a, NULL, hold_vcpu0, &h), 0);
  assert_true(wait_flag(&h.held, 1));
  rctx_t c = {.t = t, .kind = RM_MIGRATE, .seed = 5, .eligible_below = 2};
  h.ctx = &c;
  h.gpfn = 1;
  assert_int_equal(pthread_create(&r, NULL, hold_remapper, &h), 0);
  uint64_t deadline = mmc_mono_ns() + 10 * MMC_NS_PER_S;
  while (!(ref_pmap_get(t->map, 1) & REF_PTE_MARK))
    assert_true(mmc_mono_ns() < deadline);
  uint64_t waits = atomic_load(&ref_pmap_test_mark_waits);
  assert_int_equal(pthread_create(&b, NULL, fresh_vcpu1, &f), 0);
  while (atomic_load(&ref_pmap_test_mark_waits) == waits && !atomic_load(&f.returned))
    assert_true(mmc_mono_ns() < deadline);
  assert_false(atomic_load(&f.returned)); /* waiting, not cancelled */
  atomic_store(&h.go, 1);                 /* vCPU 0 quiesces: the remap goes on */
  pthread_join(a, NULL);
  pthread_join(r, NULL);
  pthread_join(b, NULL);
  assert_int_equal(h.res.remapped, 1);
  assert_int_equal(h.res.cancelled, 0);
  uint64_t now1 = ref_pmap_get(t->map, 1);
  assert_int_not_equal(ref_pte_node(now1), 0);
  atomic_store(&ref_pmap_test_mark_wait_ns, 0);
  assert_ptr_equal(f.got, frame_at(t, now1));
  assert_int_equal(atomic_load(slot(f.got, 1)), stamp(1, 5)); /* copied */
  ref_pmap_quiesce(ref_pmap_vcpu(t->map, 1));
  assert_true(ref_pmap_is_valid(t->map, true));
  tvm_free(t);
}

/* Copy phase: the remap of pages {1, 2} stops in the copy of page 1 (test
 * hook), page 2 still marked. vCPU 0 (a thread) holds page 0, then asks for
 * page 2: it must wait for the copy instead of cancelling, and get the new
 * frame. */
typedef struct copyph {
  tvm_t *t;
  rctx_t *c;
  ref_remap_result_t res;
  uint8_t *got;
  _Atomic int returned;
} copyph_t;

static void *copyph_remapper(void *arg) {
  copyph_t *x = arg;
  uint64_t g[] = {1, 2};
  ref_pmap_remap(x->t->map, g, 2, &r_ops, x->c, &x->res);
  return NULL;
}

static void *copyph_vcpu0(void *arg) {
  copyph_t *x = arg;
  mmc_error_t err = {0};
  ref_vcpu_q_t *q = ref_pmap_vcpu(x->t->map, 0);
  assert_non_null(ref_pmap_page(x->t->map, q, 0, false, &err)); /* holds a pointer now */
  x->got = ref_pmap_page(x->t->map, q, 2, true, &err);
  atomic_store(&x->returned, 1);
  return NULL;
}

static void test_holder_waits_in_copy_phase(void **state) {
  (void)state;
  tvm_t *t = tvm_new(3, 1);
  set_private(t, 0, 0);
  set_private(t, 1, 0);
  uint64_t old2 = set_private(t, 2, 0);
  atomic_store(slot(frame_at(t, old2), 0), stamp(2, 9));
  _Atomic int go = 0;
  rctx_t c = {
      .t = t, .kind = RM_MIGRATE, .seed = 9, .eligible_below = 3, .hold = &go, .hold_gpfn = 1};
  copyph_t x = {.t = t, .c = &c};
  atomic_store(&ref_pmap_test_mark_wait_ns, 60ull * 1000000000u);
  pthread_t r, v;
  assert_int_equal(pthread_create(&r, NULL, copyph_remapper, &x), 0);
  assert_true(wait_flag(&c.in_copy, 1)); /* copy phase, page 2 still marked */
  assert_true(ref_pmap_get(t->map, 2) & REF_PTE_MARK);
  uint64_t waits = atomic_load(&ref_pmap_test_mark_waits);
  assert_int_equal(pthread_create(&v, NULL, copyph_vcpu0, &x), 0);
  uint64_t deadline = mmc_mono_ns() + 10 * MMC_NS_PER_S;
  while (atomic_load(&ref_pmap_test_mark_waits) == waits && !atomic_load(&x.returned))
    assert_true(mmc_mono_ns() < deadline);
  assert_false(atomic_load(&x.returned)); /* waiting, not cancelled */
  atomic_store(&go, 1);
  pthread_join(r, NULL);
  pthread_join(v, NULL);
  atomic_store(&ref_pmap_test_mark_wait_ns, 0);
  assert_int_equal(x.res.remapped, 2);
  assert_int_equal(x.res.cancelled, 0);
  uint64_t now2 = ref_pmap_get(t->map, 2);
  assert_int_not_equal(ref_pte_node(now2), 0);
  assert_ptr_equal(x.got, frame_at(t, now2));
  assert_int_equal(atomic_load(slot(x.got, 0)), stamp(2, 9));
  ref_pmap_quiesce(ref_pmap_vcpu(t->map, 0));
  assert_true(ref_pmap_is_valid(t->map, true));
  tvm_free(t);
}

/* A vCPU that already holds a pointer cancels a mark at once (it may be what
 * the remapper waits for). */
static void test_holder_cancels_mark(void **state) {
  (void)state;
  tvm_t *t = tvm_new(4, 1);
  ref_vcpu_q_t *v = ref_pmap_vcpu(t->map, 0);
  set_private(t, 0, 0);
  uint64_t pte = set_private(t, 1, 0);
  mmc_error_t err = {0};
  assert_non_null(ref_pmap_page(t->map, v, 0, false, &err)); /* now holds a pointer */
  assert_true(ref_pmap_test_cas(t->map, 1, pte, pte | REF_PTE_MARK));
  uint64_t waits = atomic_load(&ref_pmap_test_mark_waits);
  assert_ptr_equal(ref_pmap_page(t->map, v, 1, true, &err), frame_at(t, pte));
  assert_int_equal(ref_pmap_get(t->map, 1), pte);
  assert_int_equal(atomic_load(&ref_pmap_test_mark_waits), waits); /* no wait */
  ref_pmap_quiesce(v);
  assert_true(ref_pmap_is_valid(t->map, true));
  tvm_free(t);
}

/* transform_many: the copy phase in chunks of at most REF_REMAP_CHUNK, each
 * page of a chunk in COPY during the call; a page the op declines keeps its
 * entry and is not counted. */
typedef struct chunk_ctx {
  rctx_t r;
  tvm_t *t;
  size_t calls, max_n, not_copy;
  uint64_t decline; /* gpfn whose transform is declined */
} chunk_ctx_t;

static void r_transform_many(void *ctx, const uint64_t *gpfns, const uint64_t *old_ptes, size_t n,
                             uint64_t *new_ptes, bool *ok) {
  chunk_ctx_t *c = ctx;
  c->calls++;
  c->max_n = n > c->max_n ? n : c->max_n;
  for (size_t k = 0; k < n; k++) {
    if (!(ref_pmap_get(c->t->map, gpfns[k]) & REF_PTE_COPY))
      c->not_copy++;
    ok[k] = gpfns[k] != c->decline && r_transform(&c->r, gpfns[k], old_ptes[k], &new_ptes[k]);
  }
}

static void r_release_chunk(void *ctx, uint64_t gpfn, uint64_t old) {
  r_release(&((chunk_ctx_t *)ctx)->r, gpfn, old);
}

static bool r_eligible_chunk(void *ctx, uint64_t gpfn, uint64_t pte) {
  return r_eligible(&((chunk_ctx_t *)ctx)->r, gpfn, pte);
}

static void test_remap_chunked(void **state) {
  (void)state;
  enum { npages = 2 * REF_REMAP_CHUNK + 5 };
  tvm_t *t = tvm_new(npages, 2);
  ref_vcpu_q_t *v = ref_pmap_vcpu(t->map, 1);
  mmc_error_t err = {0};
  uint64_t batch[npages], old[npages];
  for (uint64_t g = 0; g < npages; g++) {
    old[g] = set_private(t, g, 0);
    uint8_t *p = ref_pmap_page(t->map, v, g, true, &err);
    atomic_store(slot(p, 1), stamp(g, 3));
    batch[g] = g;
  }
  ref_pmap_quiesce(v);
  chunk_ctx_t c = {
      .r = {.t = t, .kind = RM_MIGRATE, .seed = 2, .eligible_below = npages}, .t = t, .decline = 7};
  const ref_remap_ops_t ops = {.transform = r_transform,
                               .release = r_release_chunk,
                               .eligible = r_eligible_chunk,
                               .transform_many = r_transform_many};
  ref_remap_result_t res = {0};
  ref_pmap_remap(t->map, batch, npages, &ops, &c, &res);
  assert_int_equal(c.calls, 3);
  assert_int_equal(c.max_n, REF_REMAP_CHUNK);
  assert_int_equal(c.not_copy, 0);
  assert_int_equal(res.remapped, npages - 1);
  assert_int_equal(ref_pmap_get(t->map, 7), old[7]); /* declined: as it was */
  for (uint64_t g = 0; g < npages; g++) {
    uint64_t pte = ref_pmap_get(t->map, g);
    assert_true(g == 7 || ref_pte_node(pte) != 0);
    assert_int_equal(atomic_load(slot(frame_at(t, pte), 1)), stamp(g, 3));
  }
  assert_true(ref_pmap_is_valid(t->map, true));
  tvm_free(t);
}

static void test_checks_catch_missing_remap_wait(void **state) {
  (void)state;
  ref_remap_result_t res;
  assert_true(run_hold_scenario(true, &res) >= 2); /* I3 and I2 both fire */
  assert_int_equal(res.remapped, 1);
}

/* COW twin: vCPU 0 (thread) holds shared page 0 for reading; vCPU 1 writes
 * it. With the protocol the COW waits for vCPU 0 (entry BUSY meanwhile);
 * broken, it completes at once and vCPU 0 sees vCPU 1 holding another frame. */
typedef struct cowh {
  tvm_t *t;
  bool broken;
  _Atomic int step; /* 1: vCPU 0 holds; 2: vCPU 1 published its write */
  uint64_t bad;
} cowh_t;

static void *cow_vcpu0(void *arg) {
  cowh_t *h = arg;
  ref_vcpu_q_t *q = ref_pmap_vcpu(h->t->map, 0);
  mmc_error_t err = {0};
  uint8_t *p = ref_pmap_page(h->t->map, q, 0, false, &err);
  atomic_store(&pub[0][0], pub_word(0, p));
  atomic_store(&h->step, 1);
  /* Until vCPU 1 is blocked in its COW (entry BUSY) or has its pointer;
   * broken, only the latter (BUSY is then seen only in passing). */
  uint64_t deadline = mmc_mono_ns() + 10 * MMC_NS_PER_S;
  while (atomic_load(&h->step) != 2 && (h->broken || !(ref_pmap_get(h->t->map, 0) & REF_PTE_BUSY)))
    if (mmc_mono_ns() > deadline)
      break;
  h->bad = check_pub(0, 2, 0, p);
  pub_clear(0);
  ref_pmap_quiesce(q);
  return NULL;
}

static uint64_t run_cow_scenario(bool broken) {
  tvm_t *t = tvm_new(2, 2);
  set_shared(t, 0, 2, 0, 0);
  cowh_t h = {.t = t, .broken = broken};
  pthread_t a;
  atomic_store(&ref_pmap_test_skip_wait, broken);
  assert_int_equal(pthread_create(&a, NULL, cow_vcpu0, &h), 0);
  assert_true(wait_flag(&h.step, 1));
  ref_vcpu_q_t *q1 = ref_pmap_vcpu(t->map, 1);
  mmc_error_t err = {0};
  uint8_t *w = ref_pmap_page(t->map, q1, 0, true, &err);
  assert_non_null(w);
  atomic_store(&pub[1][0], pub_word(0, w));
  atomic_store(&h.step, 2);
  pthread_join(a, NULL);
  pub_clear(1);
  ref_pmap_quiesce(q1);
  atomic_store(&ref_pmap_test_skip_wait, false);
  assert_int_equal(atomic_load(&t->cow), 1);
  tvm_free(t);
  return h.bad;
}

static void test_cow_waits_for_reader(void **state) {
  (void)state;
  assert_int_equal(run_cow_scenario(false), 0);
}

static void test_checks_catch_missing_cow_wait(void **state) {
  (void)state;
  assert_int_equal(run_cow_scenario(true), 1);
}

/* ------------------------------------------------------------ stress: I1-I3 */

enum {
  S_VCPUS = 4,
  S_OWN = 128, /* own pages per vCPU (others may read them) */
  S_YIELD_EVERY = 4,
  S_COMMON = 64, /* pages every vCPU writes (its own slot); half start shared */
  S_PAGES = S_VCPUS * S_OWN + S_COMMON,
  S_WINDOWS = 3000, /* quiescent periods per vCPU, at least */
  /* ...and then on until the run exercised each path this much (or the
   * deadline passes, and the asserts below say which path starved). */
  S_MIN_REMAPPED = 300,
  S_MIN_COW = 30,
  S_MIN_SAMPLED = 10,
  S_DEADLINE_S = 8,
};

typedef struct stress {
  tvm_t *t;
  _Atomic int running; /* vCPU threads still running */
  _Atomic uint64_t i1_bad, i2_bad, i3_bad, retries, batches, remapped, cancelled, accesses;
  uint64_t expect[S_VCPUS][S_PAGES]; /* last version written by vCPU v (its own array) */
} stress_t;

static bool stress_enough(stress_t *s) {
  return atomic_load(&s->remapped) >= S_MIN_REMAPPED && atomic_load(&s->t->cow) >= S_MIN_COW &&
         atomic_load(&s->t->sampled) >= S_MIN_SAMPLED;
}

typedef struct held {
  uint64_t gpfn;
  uint8_t *p;
} held_t;

typedef struct sarg {
  stress_t *s;
  uint32_t v;
} sarg_t;

/* Every slot of the page carries this page's tag or is still zero. */
static bool tags_ok(const uint8_t *p, uint64_t gpfn) {
  for (uint32_t u = 0; u < S_VCPUS; u++) {
    uint64_t x = atomic_load_explicit(slot((void *)p, u), memory_order_relaxed);
    if (x && (x >> 32) != gpfn + 1)
      return false;
  }
  return true;
}

/* Drop every pointer: I2 re-read of each held page, then quiesce. */
static void end_window(stress_t *s, uint32_t v, ref_vcpu_q_t *q, held_t *h, int n) {
  for (int k = 0; k < n; k++) {
    uint64_t want = s->expect[v][h[k].gpfn];
    uint64_t got = atomic_load_explicit(slot(h[k].p, v), memory_order_relaxed);
    if (got != (want ? stamp(h[k].gpfn, want) : 0) || !tags_ok(h[k].p, h[k].gpfn))
      atomic_fetch_add(&s->i2_bad, 1);
  }
  pub_clear(v);
  ref_pmap_quiesce(q);
}

static int find_held(const held_t *h, int n, uint64_t gpfn) {
  for (int k = 0; k < n; k++)
    if (h[k].gpfn == gpfn)
      return k;
  return -1;
}

static void *stress_vcpu(void *arg) {
  sarg_t *a = arg;
  stress_t *s = a->s;
  uint32_t v = a->v;
  ref_vcpu_q_t *q = ref_pmap_vcpu(s->t->map, v);
  unsigned seed = 1234 + v;
  held_t h[HELD];
  uint64_t deadline = mmc_mono_ns() + S_DEADLINE_S * MMC_NS_PER_S;
  for (int w = 0; w < S_WINDOWS || (!stress_enough(s) && mmc_mono_ns() < deadline); w++) {
    int n = 0, want = 1 + rand_r(&seed) % HELD;
    while (n < want) {
      uint64_t g = rand_r(&seed) % 2 ? (uint64_t)v * S_OWN + (uint64_t)rand_r(&seed) % S_OWN
                                     : (uint64_t)rand_r(&seed) % S_PAGES;
      bool own_or_common = g >= S_VCPUS * S_OWN || g / S_OWN == v;
      bool write = own_or_common && rand_r(&seed) % 2;
      int k = find_held(h, n, g);
      if (write && k >= 0) { /* contract: its read pointer may go stale: drop it */
        atomic_store(&pub[v][k], 0);
        h[k] = h[--n];
        if (k < n)
          atomic_store(&pub[v][k], pub_word(h[k].gpfn, h[k].p));
        atomic_store(&pub[v][n], 0);
      } else if (k >= 0) {
        continue; /* already held */
      }
      mmc_error_t err = {0};
      uint8_t *p = ref_pmap_page(s->t->map, q, g, write, &err);
      if (!p) {
        if (err.code != MMC_ERETRY) {
          atomic_fetch_add(&s->i1_bad, 1000000); /* unexpected error */
          break;
        }
        atomic_fetch_add(&s->retries, 1);
        end_window(s, v, q, h, n); /* quiesce, then redo from scratch */
        n = 0;
        continue;
      }
      atomic_fetch_add_explicit(&s->accesses, 1, memory_order_relaxed);
      h[n] = (held_t){g, p};
      atomic_store(&pub[v][n], pub_word(g, p));
      n++;
      atomic_fetch_add(&s->i3_bad, check_pub(v, S_VCPUS, g, p));
      uint64_t cur = atomic_load_explicit(slot(p, v), memory_order_relaxed);
      uint64_t ver = s->expect[v][g];
      if (cur != (ver ? stamp(g, ver) : 0) || !tags_ok(p, g))
        atomic_fetch_add(&s->i1_bad, 1); /* our last write is not there */
      if (write) {
        s->expect[v][g] = ++ver;
        atomic_store_explicit(slot(p, v), stamp(g, ver), memory_order_relaxed);
      }
    }
    end_window(s, v, q, h, n);
    /* Like a guest halting now and then: give up the CPU at a quiescent
     * point, as real vCPU threads do (with more threads than cores, a vCPU
     * preempted while holding pointers stalls every remap for a time slice). */
    if (w % S_YIELD_EVERY == 0)
      sched_yield();
  }
  ref_pmap_vcpu_offline(q);
  atomic_fetch_sub(&s->running, 1);
  return NULL;
}

static void *stress_remapper(void *arg) {
  stress_t *s = arg;
  rctx_t c = {.t = s->t, .seed = 99, .eligible_below = S_PAGES};
  uint64_t batch[32];
  while (atomic_load(&s->running) > 0) {
    int r = rand_r(&c.seed) % 10;
    c.kind = r < 7 ? RM_MIGRATE : r < 9 ? RM_RESHARE : RM_SAMPLE;
    size_t n = 1 + rand_r(&c.seed) % 32;
    for (size_t i = 0; i < n; i++)
      batch[i] = rand_r(&c.seed) % S_PAGES;
    ref_remap_result_t res;
    ref_pmap_remap(s->t->map, batch, n, &r_ops, &c, &res);
    atomic_fetch_add(&s->remapped, res.remapped);
    atomic_fetch_add(&s->cancelled, res.cancelled);
    atomic_fetch_add(&s->batches, 1);
  }
  return NULL;
}

static void test_stress_invariants(void **state) {
  (void)state;
  stress_t *s = calloc(1, sizeof *s);
  s->t = tvm_new(S_PAGES, S_VCPUS);
  tvm_t *t = s->t;
  /* Own pages private on node v % NPOOLS; common pages: half unbacked, half
   * sharing frames in groups of 8 (COW on first write). */
  for (uint64_t g = 0; g < S_VCPUS * S_OWN; g++)
    set_private(t, g, (uint32_t)(g / S_OWN) % NPOOLS);
  for (uint64_t g = S_VCPUS * S_OWN; g < S_PAGES - S_COMMON / 2; g += 8)
    set_shared(t, g, 8, (uint32_t)(g / 8) % NPOOLS, 0);
  atomic_store(&s->running, S_VCPUS);
  pthread_t th[S_VCPUS], rm;
  sarg_t a[S_VCPUS];
  assert_int_equal(pthread_create(&rm, NULL, stress_remapper, s), 0);
  for (uint32_t v = 0; v < S_VCPUS; v++) {
    a[v] = (sarg_t){s, v};
    assert_int_equal(pthread_create(&th[v], NULL, stress_vcpu, &a[v]), 0);
  }
  for (int v = 0; v < S_VCPUS; v++)
    pthread_join(th[v], NULL);
  pthread_join(rm, NULL);

  print_message("# stress: %" PRIu64 " accesses, %" PRIu64 " batches, %" PRIu64
                " remapped, %" PRIu64 " cancelled, %" PRIu64 " COW, %" PRIu64
                " sampled touches, %" PRIu64 " ERETRY\n",
                atomic_load(&s->accesses), atomic_load(&s->batches), atomic_load(&s->remapped),
                atomic_load(&s->cancelled), atomic_load(&t->cow), atomic_load(&t->sampled),
                atomic_load(&s->retries));
  assert_int_equal(atomic_load(&s->i1_bad), 0);
  assert_int_equal(atomic_load(&s->i2_bad), 0);
  assert_int_equal(atomic_load(&s->i3_bad), 0);
  assert_true(ref_pmap_is_valid(t->map, true));
  /* The run exercised what it claims to. */
  assert_true(atomic_load(&s->remapped) >= S_MIN_REMAPPED);
  assert_true(atomic_load(&t->cow) >= S_MIN_COW);
  assert_true(atomic_load(&t->sampled) >= S_MIN_SAMPLED);

  /* I1 at rest: every page holds every vCPU's last write; frames and share
   * counts add up (nothing freed twice, nothing leaked). */
  uint64_t frames = 0;
  for (uint64_t g = 0; g < S_PAGES; g++) {
    uint64_t pte = ref_pmap_get(t->map, g);
    unsigned st = ref_pte_state(pte);
    if (st == REF_PTE_UNBACKED) {
      for (uint32_t v = 0; v < S_VCPUS; v++)
        assert_int_equal(s->expect[v][g], 0);
      continue;
    }
    assert_true(st == REF_PTE_PRIVATE || st == REF_PTE_SHARED);
    uint8_t *p = frame_at(t, pte);
    for (uint32_t v = 0; v < S_VCPUS; v++) {
      uint64_t want = s->expect[v][g] ? stamp(g, s->expect[v][g]) : 0;
      if (atomic_load(slot(p, v)) != want)
        fail_msg("I1: page %" PRIu64 " slot of vCPU %u holds %#" PRIx64 ", last write %#" PRIx64, g,
                 v, atomic_load(slot(p, v)), want);
    }
    frames += st == REF_PTE_PRIVATE;
  }
  for (int n = 0; n < NPOOLS; n++)
    for (uint64_t f = 0; f < POOL_FRAMES; f++)
      frames += atomic_load(&t->refs[n][f]) > 0;
  uint64_t used = 0;
  for (int n = 0; n < NPOOLS; n++)
    used += ref_pool_used(t->pool[n]);
  assert_int_equal(used, frames);
  tvm_free(t);
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create_errors),
      cmocka_unit_test(test_fast_path_and_erange),
      cmocka_unit_test(test_first_touch),
      cmocka_unit_test(test_cancel_mark),
      cmocka_unit_test(test_remap_counts),
      cmocka_unit_test(test_remap_chunked),
      cmocka_unit_test(test_sampled),
      cmocka_unit_test(test_remap_keeps_sampled),
      cmocka_unit_test(test_cow_single),
      cmocka_unit_test(test_fault_error),
      cmocka_unit_test(test_eretry_cycle),
      cmocka_unit_test(test_busy_waiter_vs_cow),
      cmocka_unit_test(test_remap_waits_for_holder),
      cmocka_unit_test(test_remapper_woken_by_quiesce),
      cmocka_unit_test(test_fresh_vcpu_waits_for_mark),
      cmocka_unit_test(test_holder_cancels_mark),
      cmocka_unit_test(test_holder_waits_in_copy_phase),
      cmocka_unit_test(test_checks_catch_missing_remap_wait),
      cmocka_unit_test(test_cow_waits_for_reader),
      cmocka_unit_test(test_checks_catch_missing_cow_wait),
      cmocka_unit_test(test_stress_invariants),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
