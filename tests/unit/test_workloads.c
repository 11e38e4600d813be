/*
 * test_workloads.c — unit and integration tests of libworkloads.
 *
 * SPEC ids exercised: INT-1 (whole-page content check, writer-verifier),
 * SEC-1 (never-written pages must read zero: garbage detection), WSS ground
 * truth (the set each step touches is exactly the exposed true set), TPS-8
 * (clone proportions and the distinct-content count, measured).
 *
 * Unit tests run on wl_fake_impl.h (a test double of the contract that also
 * checks the stepped quiesce rule and injects MMC_ERETRY); integration tests
 * run on the reference implementation (`mmcert_impl`, linked statically from
 * libmmref.a), which has every mechanism: an error there fails the test,
 * never skips it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sched.h>

#include <cmocka.h>

#include "mmc_clock.h"
#include <xxhash.h>

#include "mmc_error.h"
#include "wl_fake_impl.h"
#include "workload.h"

#include "ref_test.h" /* mmcert_impl: the reference, linked from libmmref.a */

#define MS 1000000ull
#define TICK_NS (10 * MS)

/* ---------------------------------------------------------------- helpers */

typedef struct env {
  const mmc_impl_t *impl;
  mmc_host_t *host;
  wl_vm_t *vm[8];
  size_t nvm;
} env_t;

/* One emulated node (no binding, no mbind): enough for workloads. */
static const uint32_t test_cpus[] = {0};
static const uint32_t test_distance[] = {10};
static const mmc_node_t test_node = {
    .os_index = 0, .memory_bytes = 256ull << 20, .ncpus = 1, .cpus = test_cpus, .ncores = 1};
static const mmc_topology_t test_topology = {.nnodes = 1,
                                             .nodes = &test_node,
                                             .distance = test_distance,
                                             .ncores = 1,
                                             .name = "test_workloads: 1 emulated node"};

/* Two emulated nodes, for remapping between pools. */
static const uint32_t test_cpus2[] = {1};
static const uint32_t test_distance2[] = {10, 20, 20, 10};
static const mmc_node_t test_nodes2[] = {
    {.os_index = 0, .memory_bytes = 128ull << 20, .ncpus = 1, .cpus = test_cpus, .ncores = 1},
    {.os_index = 1, .memory_bytes = 128ull << 20, .ncpus = 1, .cpus = test_cpus2, .ncores = 1}};
static const mmc_topology_t test_topology2 = {.nnodes = 2,
                                              .nodes = test_nodes2,
                                              .distance = test_distance2,
                                              .ncores = 2,
                                              .name = "test_workloads: 2 emulated nodes"};

static void env_host_on(env_t *e, const mmc_impl_t *impl, mmc_clock_mode_t clock,
                        const mmc_topology_t *topo) {
  memset(e, 0, sizeof *e);
  e->impl = impl;
  mmc_host_config_t hc = {.topology = topo, .clock = clock, .seed = 1};
  mmc_error_t err = {0};
  int rc = impl->host_create(&hc, &e->host, &err);
  if (rc)
    fail_msg("host_create: %s", err.msg);
}

static void env_host(env_t *e, const mmc_impl_t *impl, mmc_clock_mode_t clock) {
  env_host_on(e, impl, clock, &test_topology);
}

static wl_vm_t *env_vm(env_t *e, uint32_t vcpus, uint64_t npages, uint64_t seed,
                       const wl_ops_t *ops, const void *cfg) {
  mmc_vm_config_t vc;
  mmc_vm_config_init(&vc);
  vc.vcpus = vcpus;
  vc.memory_bytes = npages * MMC_PAGE_SIZE;
  mmc_error_t err = {0};
  mmc_vm_id_t id;
  if (e->impl->vm_power_on(e->host, &vc, &id, &err))
    fail_msg("vm_power_on: %s", err.msg);
  wl_vm_params_t p = {.impl = e->impl,
                      .host = e->host,
                      .id = id,
                      .nvcpus = vcpus,
                      .npages = npages,
                      .seed = seed,
                      .ops = ops,
                      .cfg = cfg};
  wl_vm_t *vm;
  if (wl_vm_create(&vm, &p, &err))
    fail_msg("wl_vm_create: %s", err.msg);
  e->vm[e->nvm++] = vm;
  return vm;
}

static void env_enter(env_t *e) {
  mmc_error_t err = {0};
  for (size_t i = 0; i < e->nvm; i++)
    if (wl_vm_enter_all(e->vm[i], &err))
      fail_msg("enter: %s", err.msg);
}

static void env_run(env_t *e, uint64_t duration_ns) {
  mmc_error_t err = {0};
  wl_stepped_cfg_t sc = {.duration_ns = duration_ns, .tick_ns = TICK_NS, .advance = true};
  if (wl_run_stepped(e->vm, e->nvm, &sc, &err))
    fail_msg("wl_run_stepped: %s", err.msg);
}

static void env_verify(env_t *e, wl_vm_t *vm, wl_verify_report_t *rep) {
  mmc_error_t err = {0};
  if (wl_verify(e->impl, vm->vcpus[0].handle, &vm->truth, 0, rep, &err))
    fail_msg("wl_verify: %s", err.msg);
}

static void env_free(env_t *e) {
  for (size_t i = 0; i < e->nvm; i++) {
    mmc_vm_id_t id = e->vm[i]->id;
    wl_vm_destroy(e->vm[i]);
    e->impl->vm_power_off(e->host, id, NULL);
  }
  e->impl->host_destroy(e->host);
}

/* Pointer to a page for the test itself (playing the hypervisor). */
static unsigned char *raw_page(wl_vm_t *vm, uint64_t gpfn) {
  mmc_error_t err = {0};
  unsigned char *p = vm->impl->page(vm->vcpus[0].handle, gpfn, true, &err);
  if (!p)
    fail_msg("page: %s", err.msg);
  return p;
}

/* ---------------------------------------------------------------- content */

static void test_content_roundtrip(void **state) {
  (void)state;
  static unsigned char page[MMC_PAGE_SIZE], other[MMC_PAGE_SIZE];
  wl_page_seen_t s;
  wl_page_fill(page, 42, 7, 3);
  assert_int_equal(wl_page_check(page, 42, 7, 3, &s), WL_PAGE_OK);
  /* Deterministic: the same triple gives the same bytes. */
  wl_page_fill(other, 42, 7, 3);
  assert_memory_equal(page, other, MMC_PAGE_SIZE);
  /* Another version of the same page: stale, and the version seen is named. */
  assert_int_equal(wl_page_check(page, 42, 7, 4, &s), WL_PAGE_STALE);
  assert_true(s.header_intact);
  assert_int_equal(s.seen_version, 3);
  /* Another gpfn or another seed: foreign. */
  assert_int_equal(wl_page_check(page, 42, 8, 3, &s), WL_PAGE_FOREIGN);
  assert_int_equal(s.seen_gpfn, 7);
  assert_int_equal(wl_page_check(page, 43, 7, 3, &s), WL_PAGE_FOREIGN);
  assert_int_equal(s.seen_seed, 42);
  /* Zero expected (never written) but data there: SEC-1 garbage. */
  assert_int_equal(wl_page_check(page, 42, 7, 0, &s), WL_PAGE_GARBAGE);
  /* Zeros where data was written: a lost write. */
  memset(other, 0, sizeof other);
  assert_int_equal(wl_page_check(other, 42, 7, 3, &s), WL_PAGE_STALE);
  assert_int_equal(s.seen_version, 0);
  assert_int_equal(wl_page_check(other, 42, 7, 0, &s), WL_PAGE_OK);
  wl_page_fill(other, 1, 2, 0);
  assert_int_equal(wl_page_check(other, 1, 2, 0, NULL), WL_PAGE_OK);
  /* A single flipped bit anywhere in the page is detected. */
  for (size_t i = 0; i < MMC_PAGE_SIZE; i++) {
    page[i] ^= (unsigned char)(1u << (i % 8));
    wl_page_verdict_t v = wl_page_check(page, 42, 7, 3, NULL);
    page[i] ^= (unsigned char)(1u << (i % 8));
    if (v != WL_PAGE_CORRUPT)
      fail_msg("byte %zu flipped: verdict %s, expected corrupt", i, wl_page_verdict_name(v));
  }
  /* A single nonzero byte in a never-written page is garbage. */
  memset(other, 0, sizeof other);
  other[MMC_PAGE_SIZE - 1] = 1;
  assert_int_equal(wl_page_check(other, 42, 7, 0, NULL), WL_PAGE_GARBAGE);
  assert_int_equal(wl_page_check(other, 42, 7, 1, NULL), WL_PAGE_CORRUPT);
}

static void test_rng_determinism(void **state) {
  (void)state;
  wl_rng_t a, b, c;
  wl_rng_seed(&a, 5);
  wl_rng_seed(&b, 5);
  wl_rng_seed(&c, 6);
  int differ = 0;
  for (int i = 0; i < 1000; i++) {
    uint64_t x = wl_rng_next(&a);
    assert_int_equal(x, wl_rng_next(&b));
    differ += x != wl_rng_next(&c);
    assert_true(wl_rng_below(&a, 10) < 10);
    wl_rng_below(&b, 10);
    wl_rng_below(&c, 10);
  }
  assert_true(differ > 990);
}

/* ---------------------------------------------------------------- verify */

static void test_verify_classifies(void **state) {
  (void)state;
  env_t e;
  env_host(&e, &fake_impl, MMC_CLOCK_STEPPED);
  wl_touch_cfg_t tc = {.pages_per_step = 0};
  wl_idle_cfg_t ic = {.write_at_boot = false};
  wl_vm_t *a = env_vm(&e, 2, 64, 11, &wl_touch_ops, &tc);
  wl_vm_t *b = env_vm(&e, 1, 64, 22, &wl_idle_ops, &ic);
  env_enter(&e);
  env_run(&e, 3 * TICK_NS);
  assert_int_equal(wl_touch_passes(a), 1);
  wl_verify_report_t rep;
  env_verify(&e, a, &rep);
  assert_int_equal(rep.pages_checked, 64);
  assert_int_equal(rep.mismatches, 0);
  env_verify(&e, b, &rep);
  assert_int_equal(rep.mismatches, 0);

  /* Play a buggy hypervisor: lose a write (zeros; an old version), leak A's
   * data into B's never-written page, flip a byte. */
  memset(raw_page(a, 5), 0, MMC_PAGE_SIZE);
  wl_page_fill(raw_page(a, 9), 11, 9, 0xffffffffu); /* a version never current */
  raw_page(a, 20)[100] ^= 0x40;
  static unsigned char leak[MMC_PAGE_SIZE];
  memcpy(leak, raw_page(a, 3), MMC_PAGE_SIZE);
  fake_quiesce(a->vcpus[0].handle); /* one vCPU holds pointers at a time */
  memcpy(raw_page(b, 3), leak, MMC_PAGE_SIZE);
  fake_quiesce(b->vcpus[0].handle);

  env_verify(&e, a, &rep);
  assert_int_equal(rep.mismatches, 3);
  assert_int_equal(rep.by_verdict[WL_PAGE_STALE], 2);
  assert_int_equal(rep.by_verdict[WL_PAGE_CORRUPT], 1);
  assert_int_equal(rep.nfirst, 3);
  assert_int_equal(rep.first[0].gpfn, 5);
  assert_int_equal(rep.first[0].expected_version, 1);
  assert_int_equal(rep.first[0].seen_version, 0);
  assert_int_equal(rep.first[1].gpfn, 9);
  assert_int_equal(rep.first[1].seen_version, 0xffffffffu);
  assert_int_equal(rep.first[2].gpfn, 20);
  env_verify(&e, b, &rep);
  assert_int_equal(rep.mismatches, 1);
  assert_int_equal(rep.by_verdict[WL_PAGE_GARBAGE], 1);
  assert_int_equal(rep.first[0].gpfn, 3);
  assert_true(rep.first[0].header_intact);
  assert_int_equal(rep.first[0].seen_seed, 11); /* names the VM it came from */
  char line[512];
  wl_verify_format(&rep, line, sizeof line);
  assert_non_null(strstr(line, "gpfn 3 garbage"));
  assert_int_equal(atomic_load(&e.host->rule_violations), 0);
  env_free(&e);
}

/* The first write of a page checks it read zero (SEC-1 probe). */
static void test_first_write_probe(void **state) {
  (void)state;
  env_t e;
  env_host(&e, &fake_impl, MMC_CLOCK_STEPPED);
  wl_touch_cfg_t tc = {.pages_per_step = 0, .rewrite = true};
  wl_vm_t *vm = env_vm(&e, 1, 32, 8, &wl_touch_ops, &tc);
  env_enter(&e);
  wl_page_fill(raw_page(vm, 4), 12345, 4, 2); /* a previous owner's data */
  fake_quiesce(vm->vcpus[0].handle);
  env_run(&e, 2 * TICK_NS); /* two passes: only the first probes */
  wl_counts_t c;
  wl_vm_counts(vm, &c);
  assert_int_equal(c.pages_written, 64);
  assert_int_equal(c.pages_verified, 32);
  assert_int_equal(c.mismatches, 1);
  assert_int_equal(vm->vcpus[0].first_mismatch.gpfn, 4);
  assert_int_equal(vm->vcpus[0].first_mismatch.verdict, WL_PAGE_GARBAGE);
  assert_int_equal(vm->vcpus[0].first_mismatch.seen_seed, 12345);
  env_free(&e);
}

/* The drivers survive MMC_ERETRY (quiesce, redo) and keep every write. */
static void test_eretry_handled(void **state) {
  (void)state;
  env_t e;
  env_host(&e, &fake_impl, MMC_CLOCK_STEPPED);
  e.host->eretry_every = 3;
  wl_touch_cfg_t tc = {.pages_per_step = 16, .rewrite = true};
  wl_vm_t *vm = env_vm(&e, 2, 100, 3, &wl_touch_ops, &tc);
  env_enter(&e);
  env_run(&e, 20 * TICK_NS);
  wl_counts_t c;
  wl_vm_counts(vm, &c);
  assert_int_equal(c.pages_written, 20 * 2 * 16);
  assert_true(c.retries > 0);
  assert_int_equal(c.retries, atomic_load(&e.host->eretries));
  e.host->eretry_every = 0;
  wl_verify_report_t rep;
  env_verify(&e, vm, &rep);
  assert_int_equal(rep.mismatches, 0);
  assert_int_equal(atomic_load(&e.host->rule_violations), 0);
  env_free(&e);
}

/* ---------------------------------------------------------------- working set */

static void test_ws_shapes(void **state) {
  (void)state;
  wl_ws_cfg_t c = {
      .shape = WL_WS_RISING, .f0_permille = 100, .f1_permille = 900, .ramp_ns = 800 * MS};
  assert_int_equal(wl_ws_permille_at(&c, 0), 100);
  assert_int_equal(wl_ws_permille_at(&c, 400 * MS), 500);
  assert_int_equal(wl_ws_permille_at(&c, 800 * MS), 900);
  assert_int_equal(wl_ws_permille_at(&c, 5000 * MS), 900);
  c.shape = WL_WS_FALLING;
  c.f0_permille = 900;
  c.f1_permille = 100;
  assert_int_equal(wl_ws_permille_at(&c, 200 * MS), 700);
  assert_int_equal(wl_ws_pages_at(&c, 1000, 200 * MS), 700);
  wl_ws_cfg_t s = {
      .shape = WL_WS_STEPS, .nlevels = 3, .levels_permille = {200, 600, 50}, .level_ns = 100 * MS};
  assert_int_equal(wl_ws_permille_at(&s, 0), 200);
  assert_int_equal(wl_ws_permille_at(&s, 150 * MS), 600);
  assert_int_equal(wl_ws_permille_at(&s, 250 * MS), 50);
  assert_int_equal(wl_ws_permille_at(&s, 10000 * MS), 50);
  wl_ws_cfg_t st = {.shape = WL_WS_STEADY, .f0_permille = 333};
  assert_int_equal(wl_ws_pages_at(&st, 3000, 12345), 999);
  wl_ws_cfg_t bi = {.shape = WL_WS_BOOT_IDLE, .f0_permille = 250, .ramp_ns = 300 * MS};
  assert_int_equal(wl_ws_permille_at(&bi, 0), 250);
  assert_int_equal(wl_ws_permille_at(&bi, 299 * MS), 250);
  assert_int_equal(wl_ws_permille_at(&bi, 300 * MS), 0);
  assert_int_equal(wl_ws_permille_at(&bi, 100000 * MS), 0);
  wl_ws_cfg_t al = {
      .shape = WL_WS_ALTERNATE, .f0_permille = 500, .f1_permille = 150, .level_ns = 100 * MS};
  assert_int_equal(wl_ws_permille_at(&al, 0), 500);
  assert_int_equal(wl_ws_permille_at(&al, 150 * MS), 150);
  assert_int_equal(wl_ws_permille_at(&al, 250 * MS), 500);
  assert_int_equal(wl_ws_permille_at(&al, 350 * MS), 150);
}

/* Each step writes exactly the exposed true set at that time, no more. */
static void test_ws_ground_truth(void **state) {
  (void)state;
  env_t e;
  env_host(&e, &fake_impl, MMC_CLOCK_STEPPED);
  wl_ws_cfg_t c = {.shape = WL_WS_STEPS,
                   .nlevels = 4,
                   .levels_permille = {250, 750, 100, 500},
                   .level_ns = 3 * TICK_NS,
                   .write = true};
  const uint64_t n = 400;
  wl_vm_t *vm = env_vm(&e, 3, n, 99, &wl_ws_ops, &c);
  env_enter(&e);
  uint32_t before[400];
  uint64_t set[400];
  for (int tick = 0; tick < 14; tick++) {
    memcpy(before, vm->truth.version, sizeof before);
    uint64_t t = (uint64_t)tick * TICK_NS;
    env_run(&e, TICK_NS);
    uint64_t k = wl_ws_true_set(vm, t, set, n);
    assert_int_equal(k, wl_ws_pages_at(&c, n, t));
    uint64_t touched = 0;
    for (uint64_t g = 0; g < n; g++) {
      bool in = wl_ws_in_set(vm, g, t);
      bool wrote = vm->truth.version[g] == before[g] + 1;
      if (in != wrote)
        fail_msg("tick %d gpfn %llu: in set %d, written %d", tick, (unsigned long long)g, in,
                 wrote);
      if (!wrote)
        assert_int_equal(vm->truth.version[g], before[g]);
      touched += wrote;
    }
    assert_int_equal(touched, k);
    for (uint64_t i = 0; i < k; i++)
      assert_true(wl_ws_in_set(vm, set[i], t));
  }
  /* Sets are nested: the 10% set is inside the 25% set. */
  for (uint64_t g = 0; g < n; g++)
    if (wl_ws_in_set(vm, g, 6 * TICK_NS))
      assert_true(wl_ws_in_set(vm, g, 0));
  wl_verify_report_t rep;
  env_verify(&e, vm, &rep);
  assert_int_equal(rep.mismatches, 0);
  env_free(&e);
}

/* Read mode: each step reads and checks exactly the set; a vCPU reading
 * another VM's data where zeros belong counts a mismatch (SEC-1). */
static void test_ws_read_mode(void **state) {
  (void)state;
  env_t e;
  env_host(&e, &fake_impl, MMC_CLOCK_STEPPED);
  wl_ws_cfg_t c = {.shape = WL_WS_STEADY, .f0_permille = 500, .write = false};
  wl_vm_t *vm = env_vm(&e, 2, 100, 4, &wl_ws_ops, &c);
  env_enter(&e);
  env_run(&e, 2 * TICK_NS);
  wl_counts_t k;
  wl_vm_counts(vm, &k);
  assert_int_equal(k.pages_read, 2 * 50);
  assert_int_equal(k.pages_verified, 2 * 50);
  assert_int_equal(k.pages_written, 0);
  assert_int_equal(k.mismatches, 0);
  uint64_t set[50];
  assert_int_equal(wl_ws_true_set(vm, 0, set, 50), 50);
  wl_page_fill(raw_page(vm, set[7]), 999, set[7], 1);
  fake_quiesce(vm->vcpus[0].handle);
  env_run(&e, TICK_NS);
  wl_vm_counts(vm, &k);
  assert_int_equal(k.mismatches, 1);
  const wl_vcpu_t *v = &vm->vcpus[7 % 2];
  assert_int_equal(v->first_mismatch.gpfn, set[7]);
  assert_int_equal(v->first_mismatch.verdict, WL_PAGE_GARBAGE);
  assert_int_equal(v->first_mismatch.seen_seed, 999);
  env_free(&e);
}

/* ---------------------------------------------------------------- clone */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Distinct page contents over all pages of vms (hash, sort, count). */
static uint64_t distinct_contents(wl_vm_t **vms, uint32_t nvms, uint64_t n) {
  uint64_t *h = calloc(nvms * n, sizeof *h);
  assert_non_null(h);
  for (uint32_t i = 0; i < nvms; i++) {
    for (uint64_t g = 0; g < n; g++)
      h[i * n + g] = XXH3_64bits(raw_page(vms[i], g), MMC_PAGE_SIZE);
    fake_quiesce(vms[i]->vcpus[0].handle);
  }
  qsort(h, nvms * n, sizeof *h, cmp_u64);
  uint64_t distinct = 1;
  for (uint64_t i = 1; i < nvms * n; i++)
    distinct += h[i] != h[i - 1];
  free(h);
  return distinct;
}

static void test_clone_proportions(void **state) {
  (void)state;
  env_t e;
  env_host(&e, &fake_impl, MMC_CLOCK_STEPPED);
  wl_clone_cfg_t c = {.image_seed = 777,
                      .image_permille = 600,
                      .zero_permille = 150,
                      .pages_per_step = 50,
                      .cow_writes_per_step = 20};
  const uint64_t n = 1000;
  const uint32_t nvms = 3;
  for (uint32_t i = 0; i < nvms; i++)
    env_vm(&e, 2, n, 1000 + i, &wl_clone_ops, &c);
  env_enter(&e);
  assert_false(wl_clone_booted(e.vm[0]));
  env_run(&e, 10 * TICK_NS);
  for (uint32_t i = 0; i < nvms; i++)
    assert_true(wl_clone_booted(e.vm[i]));

  wl_clone_expect_t x;
  assert_int_equal(wl_clone_expected(&c, n, nvms, &x, NULL), 0);
  assert_int_equal(x.image_pages, 600);
  assert_int_equal(x.zero_pages, 150);
  assert_int_equal(x.unique_pages, 250);
  assert_int_equal(x.sharable_pages, nvms * 750);
  assert_int_equal(x.min_frames, 600 + nvms * 250 + 1);
  assert_int_equal(x.ideal_saved_pages, nvms * n - x.min_frames);

  /* Exact counts, same layout in every clone. */
  uint64_t kinds[3] = {0};
  for (uint64_t g = 0; g < n; g++) {
    int k = wl_clone_kind(e.vm[0], g);
    kinds[k]++;
    for (uint32_t i = 1; i < nvms; i++)
      assert_int_equal(wl_clone_kind(e.vm[i], g), k);
  }
  assert_int_equal(kinds[WL_CLONE_IMAGE], x.image_pages);
  assert_int_equal(kinds[WL_CLONE_ZERO], x.zero_pages);
  assert_int_equal(kinds[WL_CLONE_UNIQUE], x.unique_pages);

  /* Measure the distinct contents actually in guest memory: it must equal
   * min_frames. */
  assert_int_equal(distinct_contents(e.vm, nvms, n), x.min_frames);
  wl_clone_census_t cs;
  assert_int_equal(wl_clone_census(e.vm[0], &cs, NULL), 0);
  assert_int_equal(cs.image_intact, 600);
  assert_int_equal(cs.zero, 150);
  assert_int_equal(cs.vm_content, 250);

  /* COW writer: 3 steps x 2 vCPUs x 20 image pages rewritten per VM, the
   * same gpfns in every clone; distinct contents follow exactly. */
  env_run(&e, 3 * TICK_NS);
  for (uint32_t i = 0; i < nvms; i++) {
    assert_int_equal(wl_clone_census(e.vm[i], &cs, NULL), 0);
    assert_int_equal(cs.image_intact, 600 - 3 * 2 * 20);
    assert_int_equal(cs.vm_content, 250 + 3 * 2 * 20);
  }
  assert_int_equal(distinct_contents(e.vm, nvms, n), cs.image_intact + nvms * cs.vm_content + 1);
  for (uint32_t i = 0; i < nvms; i++) {
    wl_verify_report_t rep;
    env_verify(&e, e.vm[i], &rep);
    assert_int_equal(rep.mismatches, 0);
  }
  env_free(&e);
}

/* ---------------------------------------------------------------- determinism */

/* Run a VM of each generator for a while; return the trace hashes. */
static void run_for_trace(uint64_t seed, uint64_t out[4]) {
  env_t e;
  env_host(&e, &fake_impl, MMC_CLOCK_STEPPED);
  e.host->eretry_every = 7; /* retries must not change the sequence */
  wl_ws_cfg_t ws = {.shape = WL_WS_RISING,
                    .f0_permille = 100,
                    .f1_permille = 800,
                    .ramp_ns = 10 * TICK_NS,
                    .write = true};
  wl_wv_cfg_t wv = {.writes_per_step = 8, .reads_per_step = 8};
  wl_clone_cfg_t cl = {
      .image_seed = seed, .image_permille = 500, .zero_permille = 100, .pages_per_step = 7};
  wl_touch_cfg_t tc = {.pages_per_step = 5, .rewrite = true};
  env_vm(&e, 2, 200, seed, &wl_ws_ops, &ws);
  env_vm(&e, 3, 200, seed + 1, &wl_wv_ops, &wv);
  env_vm(&e, 2, 200, seed + 2, &wl_clone_ops, &cl);
  env_vm(&e, 2, 200, seed + 3, &wl_touch_ops, &tc);
  env_enter(&e);
  env_run(&e, 15 * TICK_NS);
  for (size_t i = 0; i < e.nvm; i++) {
    out[i] = XXH3_64bits(e.vm[i]->truth.version, 200 * sizeof(uint32_t));
    for (uint32_t j = 0; j < e.vm[i]->nvcpus; j++)
      out[i] = wl_seed_mix(out[i], e.vm[i]->vcpus[j].trace_hash);
    wl_counts_t c;
    wl_vm_counts(e.vm[i], &c);
    assert_int_equal(c.mismatches, 0);
  }
  env_free(&e);
}

static void test_generators_deterministic(void **state) {
  (void)state;
  uint64_t a[4], b[4], c[4];
  run_for_trace(1234, a);
  run_for_trace(1234, b);
  run_for_trace(4321, c);
  for (int i = 0; i < 4; i++)
    assert_int_equal(a[i], b[i]);
  /* Seed-driven choices differ; touch-all (index 3) walks pages in gpfn order
   * whatever the seed, by design. */
  for (int i = 0; i < 3; i++)
    assert_int_not_equal(a[i], c[i]);
}

/* ---------------------------------------------------------------- demand */

static void test_demand_stepped(void **state) {
  (void)state;
  env_t e;
  env_host(&e, &fake_impl, MMC_CLOCK_STEPPED);
  wl_idle_cfg_t ic = {0};
  wl_vm_t *vm = env_vm(&e, 2, 8, 1, &wl_idle_ops, &ic);
  mmc_error_t err = {0};
  assert_int_equal(wl_vm_set_demand(vm, 1, 250, &err), 0);
  assert_int_equal(wl_vm_set_demand(vm, 0, 1001, &err), MMC_ERANGE);
  assert_non_null(strstr(err.msg, "0..1000"));
  assert_int_equal(wl_vm_set_demand(vm, 2, 10, &err), MMC_EINVAL);
  env_enter(&e);
  env_run(&e, TICK_NS);
  assert_int_equal(vm->vcpus[0].handle->demand, 1000);
  assert_int_equal(vm->vcpus[1].handle->demand, 250);
  env_free(&e);
}

/* ---------------------------------------------------------------- bad input */

static void test_bad_input(void **state) {
  (void)state;
  env_t e;
  env_host(&e, &fake_impl, MMC_CLOCK_STEPPED);
  mmc_error_t err = {0};
  wl_vm_t *vm;
  wl_vm_params_t p = {
      .impl = &fake_impl, .host = e.host, .id = 1, .nvcpus = 0, .npages = 4, .ops = &wl_idle_ops};
  assert_int_equal(wl_vm_create(&vm, &p, &err), MMC_EINVAL);
  assert_non_null(strstr(err.msg, "allowed 1..256"));
  p.nvcpus = 1;
  p.npages = 0;
  assert_int_equal(wl_vm_create(&vm, &p, &err), MMC_EINVAL);
  p.npages = 4;
  wl_ws_cfg_t ws = {.shape = WL_WS_STEADY, .f0_permille = 1200};
  p.ops = &wl_ws_ops;
  p.cfg = &ws;
  assert_int_equal(wl_vm_create(&vm, &p, &err), MMC_ERANGE);
  assert_non_null(strstr(err.msg, "1200"));
  wl_clone_cfg_t cl = {.image_permille = 600, .zero_permille = 500};
  p.ops = &wl_clone_ops;
  p.cfg = &cl;
  assert_int_equal(wl_vm_create(&vm, &p, &err), MMC_ERANGE);
  /* wl_vm_boot: a refused power-on leaves nothing behind; a good one
   * shuts down cleanly. */
  mmc_vm_config_t vc;
  mmc_vm_config_init(&vc);
  vc.vcpus = 0;
  vc.memory_bytes = 4 * MMC_PAGE_SIZE;
  wl_idle_cfg_t ic = {0};
  assert_int_equal(wl_vm_boot(&vm, &fake_impl, e.host, &vc, 1, &wl_idle_ops, &ic, &err),
                   MMC_EINVAL);
  assert_null(vm);
  assert_non_null(strstr(err.msg, "vm_power_on(unnamed)"));
  vc.vcpus = 1;
  assert_int_equal(wl_vm_boot(&vm, &fake_impl, e.host, &vc, 1, &wl_ws_ops, &ws, &err), MMC_ERANGE);
  assert_int_equal(e.host->power_ons, e.host->power_offs); /* powered off again */
  assert_int_equal(wl_vm_boot(&vm, &fake_impl, e.host, &vc, 1, &wl_idle_ops, &ic, &err), 0);
  assert_int_equal(wl_vm_shutdown(vm, &err), 0);
  assert_int_equal(e.host->power_ons, e.host->power_offs);
  wl_stepped_cfg_t sc = {.duration_ns = 1, .tick_ns = 0};
  assert_int_equal(wl_run_stepped(NULL, 0, &sc, &err), MMC_EINVAL);
  env_free(&e);
}

/* ---------------------------------------------------------------- live */

static void run_live_wv(const mmc_impl_t *impl, uint64_t duration_ns) {
  env_t e;
  env_host(&e, impl, MMC_CLOCK_LIVE);
  wl_wv_cfg_t wv = {.writes_per_step = 16, .reads_per_step = 16};
  wl_vm_t *vm = env_vm(&e, 4, 1024, 5, &wl_wv_ops, &wv);
  mmc_error_t err = {0};
  wl_live_t *l;
  wl_live_cfg_t lc = {.duration_ns = duration_ns};
  if (wl_live_start(&l, e.vm, e.nvm, &lc, &err))
    fail_msg("wl_live_start: %s", err.msg);
  if (wl_live_join(l, &err))
    fail_msg("live run: %s", err.msg);
  wl_counts_t c;
  for (uint32_t i = 0; i < 4; i++) {
    wl_vcpu_counts(&vm->vcpus[i], &c);
    assert_true(c.steps > 0);
    assert_true(c.pages_written > 0);
    assert_true(c.pages_verified > 0);
    if (c.mismatches)
      fail_msg("vCPU %u: %llu mismatches, first gpfn %llu (%s)", i,
               (unsigned long long)c.mismatches,
               (unsigned long long)vm->vcpus[i].first_mismatch.gpfn,
               wl_page_verdict_name(vm->vcpus[i].first_mismatch.verdict));
    assert_null(vm->vcpus[i].handle); /* exited */
  }
  /* Verify the whole VM from this thread afterwards (vCPU 0 entered and
   * exited around the walk). */
  wl_verify_report_t rep;
  if (wl_vm_verify(vm, &rep, &err))
    fail_msg("wl_vm_verify: %s", err.msg);
  assert_int_equal(rep.pages_checked, 1024);
  assert_null(vm->vcpus[0].handle);
  char line[512];
  wl_verify_format(&rep, line, sizeof line);
  if (rep.mismatches)
    fail_msg("verify: %s", line);
  env_free(&e);
}

static void test_live_wv_fake(void **state) {
  (void)state;
  run_live_wv(&fake_impl, 200 * MS);
}

static void test_live_stop_and_demand(void **state) {
  (void)state;
  env_t e;
  env_host(&e, &fake_impl, MMC_CLOCK_LIVE);
  wl_idle_cfg_t ic = {0};
  wl_vm_t *vm = env_vm(&e, 2, 8, 1, &wl_idle_ops, &ic);
  mmc_error_t err = {0};
  assert_int_equal(wl_vm_set_demand(vm, 0, 100, &err), 0);
  wl_live_t *l;
  wl_live_cfg_t lc = {.duration_ns = 0, .demand_period_ns = 5 * MS};
  assert_int_equal(wl_live_start(&l, e.vm, 1, &lc, &err), 0);
  /* Wait on progress counters (the 100% vCPU's busy time) with a deadline. */
  wl_counts_t c0, c1;
  uint64_t deadline = mmc_mono_ns() + 10 * MMC_NS_PER_S;
  do {
    sched_yield();
    wl_vcpu_counts(&vm->vcpus[1], &c1);
  } while (c1.busy_ns < 100 * MS && mmc_mono_ns() < deadline);
  wl_live_stop(l);
  assert_int_equal(wl_live_join(l, &err), 0);
  wl_vcpu_counts(&vm->vcpus[0], &c0);
  wl_vcpu_counts(&vm->vcpus[1], &c1);
  assert_true(c1.busy_ns >= 100 * MS);
  assert_true(c0.steps >= 1);
  /* Duty cycle: a 10% vCPU is busy far less than a 100% one over the same
   * run (expected ratio 10; 3 leaves room for a loaded machine). */
  if (!(c0.busy_ns * 3 < c1.busy_ns))
    fail_msg("busy ns: 10%% vCPU %llu, 100%% vCPU %llu", (unsigned long long)c0.busy_ns,
             (unsigned long long)c1.busy_ns);
  env_free(&e);
}

/* ---------------------------------------------------------------- churn */

/* A churn of `cc` on `h`, run for `ns` of host time; any error fails the test. */
static wl_churn_t *churn_ran(const mmc_impl_t *impl, mmc_host_t *h, const wl_churn_cfg_t *cc,
                             uint64_t ns) {
  wl_churn_t *c;
  mmc_error_t err = {0};
  if (wl_churn_create(&c, impl, h, cc, &err))
    fail_msg("churn: %s", err.msg);
  if (wl_churn_run(c, ns, TICK_NS, &err))
    fail_msg("churn run on %s: %s", impl->name, err.msg);
  return c;
}

static size_t churn_log(uint64_t seed, wl_churn_event_t *out, size_t max, uint64_t *xhash) {
  env_t e;
  env_host(&e, &fake_impl, MMC_CLOCK_STEPPED);
  wl_churn_cfg_t cc = {.seed = seed,
                       .max_vms = 5,
                       .min_pages = 16,
                       .max_pages = 64,
                       .max_vcpus = 3,
                       .mean_interarrival_ns = 50 * MS,
                       .min_life_ns = 100 * MS,
                       .max_life_ns = 400 * MS,
                       .phase_ns = 80 * MS,
                       .max_demand_permille = 1000};
  wl_churn_t *c = churn_ran(&fake_impl, e.host, &cc, 2000 * MS);
  assert_true(wl_churn_nalive(c) <= 5);
  size_t n = wl_churn_nevents(c), arrive = 0, leave = 0;
  const wl_churn_event_t *ev = wl_churn_events(c);
  for (size_t i = 0; i < n; i++) {
    arrive += ev[i].kind == WL_CHURN_ARRIVE;
    leave += ev[i].kind == WL_CHURN_LEAVE;
    assert_int_equal(ev[i].status, 0);
    assert_true(ev[i].pages >= 16 && ev[i].pages <= 64);
  }
  assert_int_equal(arrive, e.host->power_ons);
  assert_int_equal(leave, e.host->power_offs);
  assert_int_equal(arrive - leave, wl_churn_nalive(c));
  *xhash = 0;
  for (size_t i = 0; i < wl_churn_nalive(c); i++) {
    wl_vm_t *vm = wl_churn_vm(c, i);
    wl_verify_report_t rep;
    mmc_error_t err = {0};
    assert_int_equal(wl_verify(e.impl, vm->vcpus[0].handle, &vm->truth, 0, &rep, &err), 0);
    assert_int_equal(rep.mismatches, 0);
    *xhash = wl_seed_mix(*xhash, vm->vcpus[0].trace_hash);
  }
  memcpy(out, ev, (n < max ? n : max) * sizeof *ev);
  wl_churn_destroy(c);
  assert_int_equal(e.host->power_ons, e.host->power_offs);
  e.impl->host_destroy(e.host);
  return n;
}

static void test_churn_deterministic(void **state) {
  (void)state;
  static wl_churn_event_t a[512], b[512], c[512];
  uint64_t ha, hb, hc;
  size_t na = churn_log(8, a, 512, &ha), nb = churn_log(8, b, 512, &hb);
  size_t nc = churn_log(9, c, 512, &hc);
  assert_true(na > 10);
  assert_int_equal(na, nb);
  assert_memory_equal(a, b, (na < 512 ? na : 512) * sizeof *a);
  assert_int_equal(ha, hb);
  assert_true(na != nc || memcmp(a, c, (na < 512 ? na : 512) * sizeof *a) != 0);
  size_t phases = 0;
  for (size_t i = 0; i < na && i < 512; i++)
    phases += a[i].kind == WL_CHURN_PHASE;
  assert_true(phases > 0);
}

/* ---------------------------------------------------------------- reference */

static void test_ref_stepped_touch_verify(void **state) {
  (void)state;
  const mmc_impl_t *impl = &mmcert_impl;
  env_t e;
  env_host(&e, impl, MMC_CLOCK_STEPPED);
  wl_touch_cfg_t tc = {.pages_per_step = 64, .rewrite = true};
  wl_idle_cfg_t ic = {0};
  wl_vm_t *a = env_vm(&e, 2, 512, 17, &wl_touch_ops, &tc);
  wl_vm_t *b = env_vm(&e, 1, 256, 18, &wl_idle_ops, &ic);
  env_enter(&e);
  env_run(&e, 10 * TICK_NS);
  assert_true(wl_touch_passes(a) >= 1);
  wl_verify_report_t rep;
  char line[512];
  env_verify(&e, a, &rep);
  wl_verify_format(&rep, line, sizeof line);
  if (rep.mismatches)
    fail_msg("touch-all on the reference: %s", line);
  env_verify(&e, b, &rep); /* SEC-1: never written reads zero */
  wl_verify_format(&rep, line, sizeof line);
  if (rep.mismatches)
    fail_msg("idle VM on the reference: %s", line);
  env_free(&e);
}

/* Every generator in stepped mode on the reference, then SEC-1: a VM
 * powered on after the others are gone reads zeros on their old frames. */
static void test_ref_stepped_generators(void **state) {
  (void)state;
  const mmc_impl_t *impl = &mmcert_impl;
  env_t e;
  env_host(&e, impl, MMC_CLOCK_STEPPED);
  wl_ws_cfg_t ws = {.shape = WL_WS_STEPS,
                    .nlevels = 3,
                    .levels_permille = {300, 900, 100},
                    .level_ns = 3 * TICK_NS,
                    .write = true};
  wl_clone_cfg_t cl = {.image_seed = 5,
                       .image_permille = 500,
                       .zero_permille = 200,
                       .pages_per_step = 100,
                       .cow_writes_per_step = 10};
  wl_wv_cfg_t wv = {.writes_per_step = 32, .reads_per_step = 32};
  env_vm(&e, 3, 600, 31, &wl_ws_ops, &ws);
  env_vm(&e, 2, 600, 32, &wl_clone_ops, &cl);
  env_vm(&e, 2, 600, 33, &wl_clone_ops, &cl);
  env_vm(&e, 4, 600, 34, &wl_wv_ops, &wv);
  env_enter(&e);
  env_run(&e, 12 * TICK_NS);
  mmc_error_t err = {0};
  for (size_t i = 0; i < e.nvm; i++) {
    wl_counts_t c;
    wl_vm_counts(e.vm[i], &c);
    assert_int_equal(c.mismatches, 0);
    wl_verify_report_t rep;
    env_verify(&e, e.vm[i], &rep);
    char line[512];
    wl_verify_format(&rep, line, sizeof line);
    if (rep.mismatches)
      fail_msg("%s on the reference: %s", e.vm[i]->ops->name, line);
  }
  assert_true(wl_clone_booted(e.vm[1]) && wl_clone_booted(e.vm[2]));
  while (e.nvm > 0)
    assert_int_equal(wl_vm_shutdown(e.vm[--e.nvm], &err), 0);
  /* Half read only, half written once: a write fault gets a frame, and the
   * first-write probe checks it read zero before we filled it. */
  wl_idle_cfg_t ic = {0};
  wl_touch_cfg_t tc = {.pages_per_step = 0};
  wl_vm_t *fresh = env_vm(&e, 1, 1200, 35, &wl_idle_ops, &ic);
  wl_vm_t *fresh2 = env_vm(&e, 1, 1200, 36, &wl_touch_ops, &tc);
  env_enter(&e);
  env_run(&e, TICK_NS);
  wl_counts_t c;
  wl_vm_counts(fresh2, &c);
  assert_int_equal(c.pages_verified, 1200);
  if (c.mismatches)
    fail_msg("SEC-1: first write to gpfn %llu of a fresh VM found %s data",
             (unsigned long long)fresh2->vcpus[0].first_mismatch.gpfn,
             wl_page_verdict_name(fresh2->vcpus[0].first_mismatch.verdict));
  wl_verify_report_t rep;
  char line[512];
  for (size_t i = 0; i < e.nvm; i++) {
    assert_int_equal(wl_vm_verify(e.vm[i], &rep, &err), 0);
    wl_verify_format(&rep, line, sizeof line);
    if (rep.mismatches)
      fail_msg("SEC-1: fresh VM %zu on the reference: %s", i, line);
  }
  assert_int_equal(wl_vm_verify(fresh, &rep, &err), 0);
  env_free(&e);
}

/* Churn through the reference's power-on/off on two nodes; every VM alive
 * at the end verifies. */
static void test_ref_churn(void **state) {
  (void)state;
  const mmc_impl_t *impl = &mmcert_impl;
  env_t e;
  env_host_on(&e, impl, MMC_CLOCK_STEPPED, &test_topology2);
  wl_churn_cfg_t cc = {.seed = 3,
                       .max_vms = 6,
                       .min_pages = 64,
                       .max_pages = 512,
                       .max_vcpus = 2,
                       .mean_interarrival_ns = 40 * MS,
                       .min_life_ns = 100 * MS,
                       .max_life_ns = 500 * MS,
                       .phase_ns = 100 * MS,
                       .max_demand_permille = 1000};
  wl_churn_t *c = churn_ran(impl, e.host, &cc, 1500 * MS);
  mmc_error_t err = {0};
  size_t arrive = 0, leave = 0;
  for (size_t i = 0; i < wl_churn_nevents(c); i++) {
    arrive += wl_churn_events(c)[i].kind == WL_CHURN_ARRIVE;
    leave += wl_churn_events(c)[i].kind == WL_CHURN_LEAVE;
  }
  assert_true(arrive > 5 && leave > 0);
  for (size_t i = 0; i < wl_churn_nalive(c); i++) {
    wl_verify_report_t rep;
    assert_int_equal(wl_vm_verify(wl_churn_vm(c, i), &rep, &err), 0);
    assert_int_equal(rep.mismatches, 0);
  }
  mmc_host_stats_t hs;
  if (impl->host_stats(e.host, &hs, &err) == 0)
    assert_int_equal(hs.nvms, wl_churn_nalive(c));
  wl_churn_destroy(c);
  env_free(&e);
}

static void test_ref_live_wv(void **state) {
  (void)state;
  const mmc_impl_t *impl = &mmcert_impl;
  run_live_wv(impl, 1000 * MS);
}

/* INT-1 with remapping underneath: 4 writer-verifier threads while this
 * thread moves the whole VM back and forth between two pools. */
static void test_ref_live_wv_remap(void **state) {
  (void)state;
  const mmc_impl_t *impl = &mmcert_impl;
  env_t e;
  env_host_on(&e, impl, MMC_CLOCK_LIVE, &test_topology2);
  wl_wv_cfg_t wv = {.writes_per_step = 16, .reads_per_step = 16};
  const uint64_t n = 2048;
  wl_vm_t *vm = env_vm(&e, 4, n, 6, &wl_wv_ops, &wv);
  mmc_error_t err = {0};
  /* Busy a quarter of the time: vCPUs that never pause cancel nearly every
   * mark (a touched page is not moved), and we want pages to move. */
  for (uint32_t i = 0; i < 4; i++)
    assert_int_equal(wl_vm_set_demand(vm, i, 250, &err), 0);
  wl_live_t *l;
  wl_live_cfg_t lc = {.duration_ns = 0};
  if (wl_live_start(&l, e.vm, e.nvm, &lc, &err))
    fail_msg("wl_live_start: %s", err.msg);
  uint64_t moved_total = 0, rounds = 0;
  uint64_t end = mmc_mono_ns() + MMC_NS_PER_S;
  int rc = 0;
  do {
    uint64_t moved = 0;
    rc = impl->move_range(e.host, vm->id, 0, n, (uint32_t)(rounds++ % 2), &moved, &err);
    moved_total += moved;
  } while (!rc && mmc_mono_ns() < end);
  wl_live_stop(l);
  int jrc = wl_live_join(l, &err);
  if (rc)
    fail_msg("move_range: %s", err.msg);
  if (jrc)
    fail_msg("live run: %s", err.msg);
  wl_counts_t c;
  wl_vm_counts(vm, &c);
  print_message("# remap: %llu pages moved in %llu rounds; %llu written, %llu verified, "
                "%llu retries\n",
                (unsigned long long)moved_total, (unsigned long long)rounds,
                (unsigned long long)c.pages_written, (unsigned long long)c.pages_verified,
                (unsigned long long)c.retries);
  assert_true(moved_total > 0);
  assert_true(c.pages_verified > 0);
  assert_int_equal(c.mismatches, 0);
  wl_verify_report_t rep;
  if (wl_vm_verify(vm, &rep, &err))
    fail_msg("wl_vm_verify: %s", err.msg);
  char line[512];
  wl_verify_format(&rep, line, sizeof line);
  if (rep.mismatches)
    fail_msg("verify after remapping: %s", line);
  env_free(&e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_content_roundtrip),
      cmocka_unit_test(test_rng_determinism),
      cmocka_unit_test(test_verify_classifies),
      cmocka_unit_test(test_first_write_probe),
      cmocka_unit_test(test_eretry_handled),
      cmocka_unit_test(test_ws_shapes),
      cmocka_unit_test(test_ws_ground_truth),
      cmocka_unit_test(test_ws_read_mode),
      cmocka_unit_test(test_clone_proportions),
      cmocka_unit_test(test_generators_deterministic),
      cmocka_unit_test(test_demand_stepped),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_live_wv_fake),
      cmocka_unit_test(test_live_stop_and_demand),
      cmocka_unit_test(test_churn_deterministic),
      cmocka_unit_test(test_ref_stepped_touch_verify),
      cmocka_unit_test(test_ref_stepped_generators),
      cmocka_unit_test(test_ref_churn),
      cmocka_unit_test(test_ref_live_wv),
      cmocka_unit_test(test_ref_live_wv_remap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
