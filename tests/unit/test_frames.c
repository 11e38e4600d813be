/*
 * test_frames.c — frame pools (reference-impl/frames.c): lazy allocation,
 * punch really gives memory back (mincore, memfd st_blocks, RSS), reuse reads
 * zeros (SEC-1), full pool, metadata bound, memfd name in /proc/self/maps,
 * mbind to a real node (NUMA-1), concurrent alloc/free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <inttypes.h>
#include <numaif.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mech.h"

#define PAGE MMC_PAGE_SIZE

static ref_pool_t *make_pool(uint32_t os_index, bool real, uint64_t cap) {
  ref_pool_t *p = NULL;
  mmc_error_t err = {0};
  int rc = ref_pool_create(0, os_index, real, cap, &p, &err);
  if (rc != 0)
    fail_msg("ref_pool_create: %s", err.msg);
  return p;
}

static uint64_t memfd_blocks(const ref_pool_t *p) {
  struct stat st;
  assert_int_equal(fstat(ref_pool_fd(p), &st), 0);
  return (uint64_t)st.st_blocks; /* 512-byte units */
}

static bool resident(const ref_pool_t *p, uint64_t frame) {
  unsigned char vec = 0;
  assert_int_equal(mincore(ref_pool_base(p) + frame * PAGE, PAGE, &vec), 0);
  return vec & 1;
}

/* Rss of the whole process in kB, from /proc/self/smaps_rollup. */
static uint64_t rss_kb(void) {
  FILE *f = fopen("/proc/self/smaps_rollup", "r");
  assert_non_null(f);
  char line[256];
  uint64_t kb = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "Rss: %" SCNu64 " kB", &kb) == 1)
      break;
  fclose(f);
  return kb;
}

static void test_lazy(void **state) {
  (void)state;
  ref_pool_t *p = make_pool(3, false, 1024);
  assert_int_equal(ref_pool_used(p), 0);
  assert_int_equal(ref_pool_capacity(p), 1024);
  assert_int_equal(memfd_blocks(p), 0);
  uint64_t f[10];
  for (int i = 0; i < 10; i++) {
    f[i] = ref_frame_alloc(p);
    assert_int_not_equal(f[i], REF_NO_FRAME);
  }
  assert_int_equal(ref_pool_used(p), 10);
  /* Allocated but untouched frames cost nothing. */
  assert_int_equal(memfd_blocks(p), 0);
  assert_false(resident(p, f[0]));
  for (int i = 0; i < 10; i++)
    memset(ref_pool_base(p) + f[i] * PAGE, 0x5a, PAGE);
  assert_true(memfd_blocks(p) >= 10 * PAGE / 512);
  assert_true(resident(p, f[0]));
  assert_true(ref_pool_is_valid(p));
  ref_pool_destroy(p);
}

static void test_punch_frees(void **state) {
  (void)state;
  enum { N = 8192 }; /* 32 MB: well above RSS noise */
  ref_pool_t *p = make_pool(1, false, N);
  static uint64_t f[N];
  for (int i = 0; i < N; i++) {
    f[i] = ref_frame_alloc(p);
    memset(ref_pool_base(p) + f[i] * PAGE, 0xa5, PAGE);
  }
  uint64_t rss_full = rss_kb();
  uint64_t blocks_full = memfd_blocks(p);
  assert_true(blocks_full >= (uint64_t)N * PAGE / 512);
  for (int i = 0; i < N; i++)
    assert_true(resident(p, f[i]));
  for (int i = 0; i < N; i++)
    ref_frame_free(p, f[i]);
  assert_int_equal(ref_pool_used(p), 0);
  for (int i = 0; i < N; i++)
    assert_false(resident(p, f[i]));
  assert_int_equal(memfd_blocks(p), 0);
  uint64_t rss_empty = rss_kb();
  /* At least 90 % of the 32 MB really went back to the kernel. */
  assert_true(rss_full >= rss_empty + (uint64_t)N * PAGE / 1024 * 9 / 10);
  assert_true(ref_pool_is_valid(p));
  ref_pool_destroy(p);
}

/* Bulk free: runs and holes in any order, every frame punched (not
 * resident, reads zero when reused), the others untouched, counts exact. */
static void test_free_many(void **state) {
  (void)state;
  enum { N = 64 };
  ref_pool_t *p = make_pool(2, false, N);
  uint64_t f[N];
  for (int i = 0; i < N; i++) {
    f[i] = ref_frame_alloc(p);
    memset(ref_pool_base(p) + f[i] * PAGE, 0x77, PAGE);
  }
  /* Frames 40..47 (one run), 3, 10, 11 and 63, given out of order. */
  uint64_t bulk[] = {45, 3, 63, 40, 11, 41, 42, 43, 44, 10, 46, 47};
  size_t nb = sizeof bulk / sizeof bulk[0];
  ref_frame_free_many(p, bulk, nb);
  assert_int_equal(ref_pool_used(p), N - nb);
  for (size_t i = 0; i < nb; i++)
    assert_false(resident(p, bulk[i]));
  assert_true(resident(p, 4) && resident(p, 39) && resident(p, 48) && resident(p, 62));
  assert_int_equal(ref_pool_base(p)[12 * PAGE], 0x77);
  assert_true(ref_pool_is_valid(p));
  for (size_t i = 0; i < nb; i++) {
    uint64_t g = ref_frame_alloc(p);
    assert_int_not_equal(g, REF_NO_FRAME);
    for (unsigned b = 0; b < PAGE; b++)
      if (ref_pool_base(p)[g * PAGE + b] != 0)
        fail_msg("reused frame %" PRIu64 " byte %u is not zero (SEC-1)", g, b);
  }
  assert_int_equal(ref_frame_alloc(p), REF_NO_FRAME);
  ref_frame_free_many(p, bulk, 0); /* nothing */
  assert_true(ref_pool_is_valid(p));
  ref_pool_destroy(p);
}

static void test_reuse_reads_zeros(void **state) {
  (void)state;
  ref_pool_t *p = make_pool(0, false, 64);
  uint64_t a = ref_frame_alloc(p);
  uint8_t *pa = ref_pool_base(p) + a * PAGE;
  memset(pa, 0xff, PAGE);
  ref_frame_free(p, a);
  uint64_t b = ref_frame_alloc(p);
  assert_int_equal(b, a); /* LIFO: the same frame comes back */
  uint8_t *pb = ref_pool_base(p) + b * PAGE;
  for (unsigned i = 0; i < PAGE; i++)
    if (pb[i] != 0)
      fail_msg("byte %u of a reused frame is 0x%02x, not 0 (SEC-1)", i, pb[i]);
  assert_true(ref_pool_is_valid(p));
  ref_pool_destroy(p);
}

static void test_full_pool(void **state) {
  (void)state;
  ref_pool_t *p = make_pool(0, false, 16);
  uint64_t f[16];
  for (int i = 0; i < 16; i++) {
    f[i] = ref_frame_alloc(p);
    assert_int_equal(f[i], (uint64_t)i); /* bump order */
  }
  assert_int_equal(ref_frame_alloc(p), REF_NO_FRAME);
  assert_int_equal(ref_pool_used(p), 16);
  ref_frame_free(p, f[5]);
  assert_int_equal(ref_frame_alloc(p), 5);
  assert_int_equal(ref_frame_alloc(p), REF_NO_FRAME);
  assert_true(ref_pool_is_valid(p));
  ref_pool_destroy(p);
}

static void test_bad_capacity(void **state) {
  (void)state;
  ref_pool_t *p = NULL;
  mmc_error_t err = {0};
  assert_int_equal(ref_pool_create(0, 0, false, 0, &p, &err), MMC_ERANGE);
  assert_null(p);
  assert_non_null(strstr(err.msg, "capacity"));
  assert_int_equal(ref_pool_create(0, 0, false, (uint64_t)UINT32_MAX + 1, &p, &err), MMC_ERANGE);
  assert_null(p);
}

static void test_metadata_bound(void **state) {
  (void)state;
  /* 40 GB of address space for one emulated node: sparse, costs nothing. */
  uint64_t cap = 40ull * 1024 * 1024 * 1024 / PAGE;
  ref_pool_t *p = make_pool(0, false, cap);
  size_t meta = ref_pool_metadata_bytes(p);
  double managed = (double)cap * PAGE;
  assert_true(meta >= cap * 4);                /* the free stack is really reserved */
  assert_true((double)meta / managed < 0.005); /* under 0.5 % of managed memory */
  uint64_t last = 0;
  for (int i = 0; i < 100; i++)
    last = ref_frame_alloc(p);
  assert_int_equal(last, 99);
  assert_int_equal(memfd_blocks(p), 0);
  ref_pool_destroy(p);
}

static void test_name_in_maps(void **state) {
  (void)state;
  ref_pool_t *p = make_pool(7, false, 32);
  char want[64];
  snprintf(want, sizeof want, "%" PRIxPTR "-", (uintptr_t)ref_pool_base(p));
  FILE *f = fopen("/proc/self/maps", "r");
  assert_non_null(f);
  char line[512];
  bool found = false;
  while (!found && fgets(line, sizeof line, f))
    found = strncmp(line, want, strlen(want)) == 0 && strstr(line, "/memfd:mmcert-node7") != NULL;
  fclose(f);
  assert_true(found);
  /* And the fd's own link names it too. */
  char link[64], target[256] = {0};
  snprintf(link, sizeof link, "/proc/self/fd/%d", ref_pool_fd(p));
  assert_true(readlink(link, target, sizeof target - 1) > 0);
  assert_non_null(strstr(target, "/memfd:mmcert-node7"));
  ref_pool_destroy(p);
}

/* NUMA-1: a real node's pool is bound to it; every touched frame is there.
 * Node 0 exists on every Linux machine. */
static void test_mbind_real_node(void **state) {
  (void)state;
  ref_pool_t *p = make_pool(0, true, 64);
  uint64_t f = ref_frame_alloc(p);
  uint8_t *addr = ref_pool_base(p) + f * PAGE;
  addr[0] = 1;
  int mode = -1;
  unsigned long mask[16] = {0};
  assert_int_equal(get_mempolicy(&mode, mask, 8 * sizeof mask, addr, MPOL_F_ADDR), 0);
  assert_int_equal(mode, MPOL_BIND);
  assert_int_equal(mask[0], 1ul);
  void *pages[1] = {addr};
  int status[1] = {-1};
  assert_int_equal(move_pages(0, 1, pages, NULL, status, 0), 0);
  assert_int_equal(status[0], 0);
  ref_pool_destroy(p);

  /* An emulated node is not bound. */
  p = make_pool(5, false, 64);
  addr = ref_pool_base(p);
  assert_int_equal(get_mempolicy(&mode, mask, 8 * sizeof mask, addr, MPOL_F_ADDR), 0);
  assert_int_equal(mode, MPOL_DEFAULT);
  ref_pool_destroy(p);
}

static void test_mbind_missing_node(void **state) {
  (void)state;
  ref_pool_t *p = NULL;
  mmc_error_t err = {0};
  /* OS node 200 does not exist here: mbind refuses, nothing is left behind. */
  assert_int_equal(ref_pool_create(0, 200, true, 64, &p, &err), MMC_EIO);
  assert_null(p);
  assert_non_null(strstr(err.msg, "mbind"));
}

enum { CT_THREADS = 2, CT_ROUNDS = 2000, CT_HELD = 32 };
static ref_pool_t *ct_pool;

/* Each thread stamps the frames it holds with its id and checks the stamp
 * before freeing: a frame handed to two holders would show the other's id. */
static void *ct_thread(void *arg) {
  uint64_t id = (uint64_t)(uintptr_t)arg + 1, held[CT_HELD];
  uint8_t *base = ref_pool_base(ct_pool);
  uint64_t bad = 0;
  for (int r = 0; r < CT_ROUNDS; r++) {
    int n = 1 + r % CT_HELD;
    for (int i = 0; i < n; i++) {
      held[i] = ref_frame_alloc(ct_pool);
      uint64_t *w = (uint64_t *)(base + held[i] * PAGE);
      bad += *w != 0; /* fresh frames read zeros */
      *w = id;
    }
    for (int i = 0; i < n; i++) {
      bad += *(uint64_t *)(base + held[i] * PAGE) != id;
      ref_frame_free(ct_pool, held[i]);
    }
  }
  return (void *)(uintptr_t)bad;
}

static void test_concurrent(void **state) {
  (void)state;
  ct_pool = make_pool(0, false, CT_THREADS * CT_HELD);
  pthread_t t[CT_THREADS];
  for (uintptr_t i = 0; i < CT_THREADS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, ct_thread, (void *)i), 0);
  uint64_t bad = 0;
  for (int i = 0; i < CT_THREADS; i++) {
    void *r;
    pthread_join(t[i], &r);
    bad += (uint64_t)(uintptr_t)r;
  }
  assert_int_equal(bad, 0);
  assert_int_equal(ref_pool_used(ct_pool), 0);
  assert_true(ref_pool_is_valid(ct_pool));
  ref_pool_destroy(ct_pool);
}

/* Injected exhaustion (MMC_FAULT_FRAME_EXHAUSTION): at most N more frames,
 * free pages say so, a free makes room again, clearing gives all back. */
static void test_withhold(void **state) {
  ref_pool_t *p = make_pool(0, false, 64);
  uint64_t a = ref_frame_alloc(p), b = ref_frame_alloc(p);
  assert_int_equal(ref_pool_free(p), 62);
  ref_pool_withhold(p, 3);
  assert_int_equal(ref_pool_free(p), 3);
  uint64_t got[3];
  for (int i = 0; i < 3; i++)
    assert_int_not_equal(got[i] = ref_frame_alloc(p), REF_NO_FRAME);
  assert_int_equal(ref_frame_alloc(p), REF_NO_FRAME);
  assert_int_equal(ref_pool_free(p), 0);
  ref_frame_free(p, got[0]);
  assert_int_equal(ref_pool_free(p), 1);
  assert_int_not_equal(got[0] = ref_frame_alloc(p), REF_NO_FRAME);
  ref_pool_withhold(p, 0); /* full: nothing more */
  assert_int_equal(ref_frame_alloc(p), REF_NO_FRAME);
  ref_pool_withhold(p, MMC_FAULT_CLEAR);
  assert_int_equal(ref_pool_free(p), 64 - 5);
  uint64_t c = ref_frame_alloc(p);
  assert_int_not_equal(c, REF_NO_FRAME);
  ref_frame_free(p, c);
  for (int i = 0; i < 3; i++)
    ref_frame_free(p, got[i]);
  ref_frame_free(p, a);
  ref_frame_free(p, b);
  assert_true(ref_pool_is_valid(p));
  ref_pool_destroy(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lazy),
      cmocka_unit_test(test_punch_frees),
      cmocka_unit_test(test_free_many),
      cmocka_unit_test(test_reuse_reads_zeros),
      cmocka_unit_test(test_full_pool),
      cmocka_unit_test(test_withhold),
      cmocka_unit_test(test_bad_capacity),
      cmocka_unit_test(test_metadata_bound),
      cmocka_unit_test(test_name_in_maps),
      cmocka_unit_test(test_mbind_real_node),
      cmocka_unit_test(test_mbind_missing_node),
      cmocka_unit_test(test_concurrent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
