/*
 * test_share.c — transparent page sharing of the reference implementation
 * (share.c) at the mechanism level, on the stepped clock: hashing and full
 * comparison (forced collisions), merging through the remap, COW isolation,
 * reference counts and their cap, salting modes, per-node tables, stale
 * hints, pacing, release at power-off, the table under churn.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mech.h"
#include "ref.h"
#include "share.h"

#include "ref_test.h" /* mmcert_impl: the reference, from libmmref.a */
static const mmc_impl_t *I = &mmcert_impl;

#define SEC 1000000000ull
#define SCAN_S 600ull /* Mem.ShareScanTime=10 min: one pass of any VM */

typedef struct topo {
  mmc_node_t nodes[4];
  uint32_t cpus[4][2];
  mmc_topology_t t;
} topo_t;

static void topo_make(topo_t *tp, uint32_t n) {
  memset(tp, 0, sizeof *tp);
  for (uint32_t i = 0; i < n; i++) {
    tp->cpus[i][0] = 2 * i;
    tp->cpus[i][1] = 2 * i + 1;
    tp->nodes[i] = (mmc_node_t){
        .os_index = i, .memory_bytes = 64ull << 20, .ncpus = 2, .cpus = tp->cpus[i], .ncores = 2};
  }
  tp->t = (mmc_topology_t){
      .nnodes = n, .nodes = tp->nodes, .ncores = 2 * n, .cpu_mhz = 2000, .name = "test"};
}

static mmc_host_t *host(topo_t *tp, uint32_t nodes, int64_t salting, int64_t hash_bits) {
  topo_make(tp, nodes);
  mmc_setting_value_t s[] = {{"Mem.ShareScanTime", 10},
                             {"Mem.ShareForceSalting", salting},
                             {"Ref.ShareHashBits", hash_bits}};
  mmc_host_config_t cfg = {
      .topology = &tp->t, .clock = MMC_CLOCK_STEPPED, .seed = 7, .settings = s, .nsettings = 3};
  mmc_host_t *h = NULL;
  mmc_error_t err = {0};
  if (I->host_create(&cfg, &h, &err))
    fail_msg("host_create: %s", err.msg);
  return h;
}

typedef struct vm {
  mmc_vm_id_t id;
  mmc_vcpu_t *v;
  uint64_t npages;
} vm_t;

static vm_t vm_on(mmc_host_t *h, uint64_t npages, uint64_t affinity, const char *salt) {
  mmc_vm_config_t c;
  mmc_vm_config_init(&c);
  c.memory_bytes = npages * MMC_PAGE_SIZE;
  c.node_affinity = affinity;
  c.salt = salt;
  vm_t vm = {.npages = npages};
  mmc_error_t err = {0};
  if (I->vm_power_on(h, &c, &vm.id, &err) || I->vcpu_enter(h, vm.id, 0, &vm.v, &err))
    fail_msg("power on: %s", err.msg);
  return vm;
}

static void vm_off(mmc_host_t *h, vm_t *vm) {
  I->vcpu_exit(vm->v);
  assert_int_equal(I->vm_power_off(h, vm->id, NULL), 0);
}

static uint8_t *pg(vm_t *vm, uint64_t g, bool write) {
  mmc_error_t err = {0};
  uint8_t *p = I->page(vm->v, g, write, &err);
  if (!p)
    fail_msg("page %llu: %s", (unsigned long long)g, err.msg);
  return p;
}

/* Fill page g with content `tag` (0 = zeros). */
static void put(vm_t *vm, uint64_t g, uint64_t tag) {
  uint8_t *p = pg(vm, g, true);
  for (size_t i = 0; i < MMC_PAGE_SIZE; i += 8) {
    uint64_t w = tag ? tag * 0x9e3779b97f4a7c15ull + i : 0;
    memcpy(p + i, &w, 8);
  }
  I->quiesce(vm->v);
}

static bool holds(vm_t *vm, uint64_t g, uint64_t tag) {
  const uint8_t *p = pg(vm, g, false);
  bool ok = true;
  for (size_t i = 0; ok && i < MMC_PAGE_SIZE; i += 8) {
    uint64_t w = tag ? tag * 0x9e3779b97f4a7c15ull + i : 0, x;
    memcpy(&x, p + i, 8);
    ok = x == w;
  }
  I->quiesce(vm->v);
  return ok;
}

/* One full pass of every VM (and one more tick of slack). */
/* Pages [0, n) of a and b hold the same contents: tag base + g. */
static void put_same(vm_t *a, vm_t *b, uint64_t n, uint64_t base) {
  for (uint64_t g = 0; g < n; g++) {
    put(a, g, base + g);
    put(b, g, base + g);
  }
}

static void scan_pass(mmc_host_t *h) {
  assert_int_equal(I->advance(h, I->now(h) + (SCAN_S + 2) * SEC, NULL), 0);
}

/* Pages [0, n) of a read tag base_a + g and of b base_b + g; then both VMs
 * off and the host destroyed. */
static void hold_then_close(mmc_host_t *h, vm_t *a, uint64_t base_a, vm_t *b, uint64_t base_b,
                            uint64_t n) {
  for (uint64_t g = 0; g < n; g++) {
    assert_true(holds(a, g, base_a + g));
    assert_true(holds(b, g, base_b + g));
  }
  vm_off(h, a);
  vm_off(h, b);
  I->host_destroy(h);
}

static mmc_vm_stats_t vs(mmc_host_t *h, vm_t *vm) {
  mmc_vm_stats_t s;
  assert_int_equal(I->vm_stats(h, vm->id, &s, NULL), 0);
  return s;
}

static uint64_t pte_of(mmc_host_t *h, vm_t *vm, uint64_t g) {
  return ref_pmap_get(ref_vm_get(h, vm->id)->pmap, g);
}

static void identical_pages_merge_across_vms(void **state) {
  (void)state;
  topo_t tp;
  mmc_host_t *h = host(&tp, 1, 0, 64);
  vm_t a = vm_on(h, 64, 0, NULL), b = vm_on(h, 64, 0, NULL);
  for (uint64_t g = 0; g < 64; g++) {
    put(&a, g, 1000 + g);
    put(&b, g, g < 32 ? 1000 + g : 5000 + g); /* half identical */
  }
  scan_pass(h);
  assert_int_equal(vs(h, &a).shared_pages, 32);
  assert_int_equal(vs(h, &b).shared_pages, 32);
  assert_int_equal(vs(h, &a).pages_scanned, 64);
  mmc_host_stats_t hs;
  assert_int_equal(I->host_stats(h, &hs, NULL), 0);
  assert_int_equal(hs.shared_frames, 32);
  assert_int_equal(hs.saved_pages, 32);
  for (uint64_t g = 0; g < 64; g++) {
    uint64_t pa = pte_of(h, &a, g), pb = pte_of(h, &b, g);
    if (g < 32) {
      assert_int_equal(ref_pte_state(pa), REF_PTE_SHARED);
      assert_int_equal(pa, pb);
      assert_int_equal(ref_share_refs(h, 0, ref_pte_frame(pa)), 2);
      assert_ptr_equal(pg(&a, g, false), pg(&b, g, false));
    } else {
      assert_int_equal(ref_pte_state(pa), REF_PTE_PRIVATE);
    }
    assert_true(holds(&a, g, 1000 + g));
    assert_true(holds(&b, g, g < 32 ? 1000 + g : 5000 + g));
  }
  I->quiesce(a.v);
  I->quiesce(b.v);
  /* 64 + 64 pages on 96 frames. */
  assert_int_equal(ref_pool_used(h->pools[0]), 96);
  vm_off(h, &a);
  assert_int_equal(ref_pool_used(h->pools[0]), 64);
  assert_int_equal(vs(h, &b).shared_pages, 32); /* still mapped, alone */
  vm_off(h, &b);
  assert_int_equal(ref_pool_used(h->pools[0]), 0);
  I->host_destroy(h);
}

/* A shared page given to the balloon leaves the VM's shared (and zero)
 * count with its frame reference; the other sharer keeps its page. */
static void ballooned_shared_page_leaves_the_counts(void **state) {
  (void)state;
  topo_t tp;
  mmc_host_t *h = host(&tp, 1, 0, 64);
  vm_t a = vm_on(h, 8, 0, NULL), b = vm_on(h, 8, 0, NULL);
  for (uint64_t g = 0; g < 8; g++) {
    put(&a, g, g == 1 ? 0 : 300 + g); /* page 1 all zeros */
    put(&b, g, g == 1 ? 0 : 300 + g);
  }
  scan_pass(h);
  mmc_vm_stats_t sa = vs(h, &a);
  assert_int_equal(sa.shared_pages, 8);
  assert_int_equal(sa.zero_pages, 1);
  const uint64_t give[] = {0, 1};
  assert_int_equal(I->balloon_give(h, a.id, give, 2, NULL), 0);
  sa = vs(h, &a);
  assert_int_equal(sa.ballooned_pages, 2);
  assert_int_equal(sa.shared_pages, 6);
  assert_int_equal(sa.zero_pages, 0);
  assert_int_equal(sa.resident_pages, 6);
  assert_int_equal(vs(h, &b).shared_pages, 8);
  assert_true(holds(&b, 0, 300) && holds(&b, 1, 0));
  vm_off(h, &a);
  vm_off(h, &b);
  I->host_destroy(h);
}

static void forced_collisions_never_merge_different_content(void **state) {
  (void)state;
  topo_t tp;
  mmc_host_t *h = host(&tp, 1, 0, 2); /* 4 hash values for every page */
  vm_t a = vm_on(h, 32, 0, NULL), b = vm_on(h, 32, 0, NULL);
  for (uint64_t g = 0; g < 32; g++) {
    put(&a, g, 100 + g);
    put(&b, g, g % 2 ? 100 + g : 900 + g);
  }
  scan_pass(h);
  ref_share_info_t in;
  assert_int_equal(ref_share_info(h, &in), 1);
  assert_true(in.collisions > 0);
  assert_int_equal(vs(h, &a).shared_pages, 16);
  for (uint64_t g = 0; g < 32; g++) {
    assert_true(holds(&a, g, 100 + g));
    assert_true(holds(&b, g, g % 2 ? 100 + g : 900 + g));
    assert_int_equal(ref_pte_state(pte_of(h, &b, g)), g % 2 ? REF_PTE_SHARED : REF_PTE_PRIVATE);
  }
  vm_off(h, &a);
  vm_off(h, &b);
  assert_int_equal(ref_pool_used(h->pools[0]), 0);
  I->host_destroy(h);
}

static void cow_gives_the_writer_a_private_copy(void **state) {
  (void)state;
  topo_t tp;
  mmc_host_t *h = host(&tp, 1, 0, 64);
  vm_t a = vm_on(h, 8, 0, NULL), b = vm_on(h, 8, 0, NULL), c = vm_on(h, 8, 0, NULL);
  for (uint64_t g = 0; g < 8; g++) {
    put(&a, g, 7);
    put(&b, g, 7);
    put(&c, g, 7);
  }
  scan_pass(h);
  uint64_t shared = pte_of(h, &a, 0);
  assert_int_equal(ref_pte_state(shared), REF_PTE_SHARED);
  assert_int_equal(ref_share_refs(h, 0, ref_pte_frame(shared)), 24); /* one content in all */
  uint8_t *old = pg(&b, 0, false);
  I->quiesce(b.v);
  uint8_t *w = pg(&a, 0, true);
  assert_ptr_not_equal(w, old);
  /* The private copy holds the shared content before the write. */
  w[100] ^= 0xff;
  I->quiesce(a.v);
  uint8_t *r = pg(&a, 0, true);
  assert_ptr_equal(r, w); /* the same private frame now */
  r[100] ^= 0xff;
  I->quiesce(a.v);
  assert_true(holds(&a, 0, 7));
  w = pg(&a, 0, true);
  memset(w, 0xab, MMC_PAGE_SIZE);
  I->quiesce(a.v);
  assert_int_equal(ref_pte_state(pte_of(h, &a, 0)), REF_PTE_PRIVATE);
  assert_int_equal(ref_share_refs(h, 0, ref_pte_frame(shared)), 23);
  assert_true(holds(&b, 0, 7));
  assert_true(holds(&c, 0, 7));
  assert_int_equal(pg(&a, 0, false)[100], 0xab);
  I->quiesce(a.v);
  assert_int_equal(vs(h, &a).cow_breaks, 1);
  assert_int_equal(vs(h, &a).shared_pages, 7);
  assert_int_equal(vs(h, &a).resident_pages, 8);
  /* Every sharer writes: the last one frees the shared frame. */
  for (uint64_t g = 0; g < 8; g++) {
    put(&a, g, 1);
    put(&b, g, 2);
    put(&c, g, 3);
  }
  assert_int_equal(ref_share_refs(h, 0, ref_pte_frame(shared)), 0);
  assert_int_equal(ref_pool_used(h->pools[0]), 24);
  vm_off(h, &a);
  vm_off(h, &b);
  vm_off(h, &c);
  assert_int_equal(ref_pool_used(h->pools[0]), 0);
  I->host_destroy(h);
}

static void refcount_cap_starts_another_frame(void **state) {
  (void)state;
  topo_t tp;
  mmc_host_t *h = host(&tp, 1, 0, 64);
  atomic_store(&ref_share_test_ref_max, 3);
  vm_t a = vm_on(h, 8, 0, NULL);
  for (uint64_t g = 0; g < 8; g++)
    put(&a, g, 42); /* 8 identical pages in one VM */
  scan_pass(h);
  scan_pass(h);
  ref_share_info_t in;
  ref_share_info(h, &in);
  /* 8 pages, at most 3 per frame: 3 frames (3 + 3 + 2). */
  assert_int_equal(in.sharers, 8);
  assert_int_equal(in.shared_frames, 3);
  for (uint64_t g = 0; g < 8; g++)
    assert_true(ref_share_refs(h, 0, ref_pte_frame(pte_of(h, &a, g))) <= 3);
  atomic_store(&ref_share_test_ref_max, 0);
  vm_off(h, &a);
  assert_int_equal(ref_pool_used(h->pools[0]), 0);
  I->host_destroy(h);
}

/* Two VMs with salts sa/sb share their identical page or not. */
static uint64_t shared_with_salts(int64_t mode, const char *sa, const char *sb) {
  topo_t tp;
  mmc_host_t *h = host(&tp, 1, mode, 64);
  vm_t a = vm_on(h, 4, 0, sa), b = vm_on(h, 4, 0, sb);
  put_same(&a, &b, 4, 77);
  scan_pass(h);
  uint64_t n = vs(h, &b).shared_pages;
  vm_off(h, &a);
  vm_off(h, &b);
  I->host_destroy(h);
  return n;
}

static void salting_modes(void **state) {
  (void)state;
  assert_int_equal(shared_with_salts(0, "x", "y"), 4); /* salts ignored */
  assert_int_equal(shared_with_salts(0, NULL, NULL), 4);
  assert_int_equal(shared_with_salts(1, NULL, NULL), 4); /* unset = 0 */
  assert_int_equal(shared_with_salts(1, NULL, "0"), 4);
  assert_int_equal(shared_with_salts(1, "x", "x"), 4);
  assert_int_equal(shared_with_salts(1, "x", NULL), 0);
  assert_int_equal(shared_with_salts(1, "", ""), 0);     /* empty = unique */
  assert_int_equal(shared_with_salts(2, NULL, NULL), 0); /* unset = unique */
  assert_int_equal(shared_with_salts(2, "x", "x"), 4);
  assert_int_equal(shared_with_salts(2, "x", "y"), 0);
  assert_int_equal(shared_with_salts(2, "", ""), 0);
}

static void zero_pages_share_within_a_salted_vm(void **state) {
  (void)state;
  topo_t tp;
  mmc_host_t *h = host(&tp, 1, 2, 64);
  vm_t a = vm_on(h, 16, 0, NULL);
  for (uint64_t g = 0; g < 16; g++)
    put(&a, g, g < 10 ? 0 : 300 + g);
  scan_pass(h);
  mmc_vm_stats_t s = vs(h, &a);
  assert_int_equal(s.zero_pages, 10);
  assert_int_equal(s.shared_pages, 10);
  assert_int_equal(ref_pool_used(h->pools[0]), 7);
  put(&a, 3, 5);
  assert_int_equal(vs(h, &a).zero_pages, 9);
  assert_true(holds(&a, 4, 0));
  vm_off(h, &a);
  I->host_destroy(h);
}

static void sharing_stays_within_a_node(void **state) {
  (void)state;
  topo_t tp;
  mmc_host_t *h = host(&tp, 2, 0, 64);
  vm_t a = vm_on(h, 8, 1, NULL), b = vm_on(h, 8, 2, NULL), c = vm_on(h, 8, 1, NULL),
       d = vm_on(h, 8, 2, NULL);
  vm_t *all[] = {&a, &b, &c, &d};
  for (int i = 0; i < 4; i++)
    for (uint64_t g = 0; g < 8; g++)
      put(all[i], g, 11 + g);
  scan_pass(h);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(vs(h, all[i]).shared_pages, 8);
    for (uint64_t g = 0; g < 8; g++)
      assert_int_equal(ref_pte_node(pte_of(h, all[i], g)), i % 2);
  }
  /* One copy per node. */
  assert_int_equal(ref_pool_used(h->pools[0]), 8);
  assert_int_equal(ref_pool_used(h->pools[1]), 8);
  assert_int_equal(pte_of(h, &a, 0), pte_of(h, &c, 0));
  assert_int_not_equal(pte_of(h, &a, 0), pte_of(h, &b, 0));
  /* move_range moves private pages only: shared ones keep their node. */
  uint64_t moved = 9;
  I->quiesce(a.v);
  assert_int_equal(I->move_range(h, a.id, 0, 8, 1, &moved, NULL), 0);
  assert_int_equal(moved, 0);
  for (int i = 0; i < 4; i++)
    vm_off(h, all[i]);
  assert_int_equal(ref_pool_used(h->pools[0]) + ref_pool_used(h->pools[1]), 0);
  I->host_destroy(h);
}

static void sharers_that_moved_take_the_content_along(void **state) {
  (void)state;
  topo_t tp;
  mmc_host_t *h = host(&tp, 2, 0, 64);
  vm_t a = vm_on(h, 8, 1, NULL), c = vm_on(h, 8, 1, NULL);
  put_same(&a, &c, 8, 500);
  scan_pass(h);
  assert_int_equal(ref_pool_used(h->pools[0]), 8);
  /* Both sharers get node 1 as their home. */
  vm_t *both[] = {&a, &c};
  for (int i = 0; i < 2; i++) {
    mmc_vm_config_t cfg;
    mmc_vm_config_init(&cfg);
    cfg.memory_bytes = 8 * MMC_PAGE_SIZE;
    cfg.node_affinity = 2;
    assert_int_equal(I->vm_reconfigure(h, both[i]->id, &cfg, NULL), 0);
  }
  scan_pass(h); /* private copies on the home node */
  scan_pass(h); /* merged again there */
  for (int i = 0; i < 2; i++) {
    assert_int_equal(vs(h, both[i]).shared_pages, 8);
    assert_int_equal(vs(h, both[i]).pages_per_node[1], 8);
    for (uint64_t g = 0; g < 8; g++) {
      assert_int_equal(ref_pte_node(pte_of(h, both[i], g)), 1);
      assert_true(holds(both[i], g, 500 + g));
    }
  }
  assert_int_equal(ref_pool_used(h->pools[0]), 0);
  assert_int_equal(ref_pool_used(h->pools[1]), 8);
  ref_share_info_t in;
  ref_share_info(h, &in);
  assert_int_equal(in.unshared, 16);
  vm_off(h, &a);
  vm_off(h, &c);
  assert_int_equal(ref_pool_used(h->pools[1]), 0);
  I->host_destroy(h);
}

static void salting_turned_on_unshares(void **state) {
  (void)state;
  topo_t tp;
  mmc_host_t *h = host(&tp, 1, 0, 64);
  vm_t a = vm_on(h, 8, 0, NULL), b = vm_on(h, 8, 0, NULL);
  put_same(&a, &b, 8, 40);
  scan_pass(h);
  assert_int_equal(vs(h, &b).shared_pages, 8);
  assert_int_equal(I->setting_set(h, "Mem.ShareForceSalting", 2, NULL), 0);
  scan_pass(h);
  assert_int_equal(vs(h, &a).shared_pages, 0);
  assert_int_equal(vs(h, &b).shared_pages, 0);
  assert_int_equal(ref_pool_used(h->pools[0]), 16);
  hold_then_close(h, &a, 40, &b, 40, 8);
}

static void stale_hints_are_rehashed_not_merged(void **state) {
  (void)state;
  topo_t tp;
  mmc_host_t *h = host(&tp, 1, 0, 64);
  vm_t a = vm_on(h, 4, 0, NULL);
  for (uint64_t g = 0; g < 4; g++)
    put(&a, g, 60 + g);
  scan_pass(h); /* a's pages are hints now */
  ref_share_info_t in;
  ref_share_info(h, &in);
  assert_int_equal(in.hints, 4);
  for (uint64_t g = 0; g < 4; g++)
    put(&a, g, 90 + g); /* the hinted pages change */
  vm_t b = vm_on(h, 4, 0, NULL);
  for (uint64_t g = 0; g < 4; g++)
    put(&b, g, 60 + g); /* b holds a's old content */
  /* Scan b only (a excluded) so b meets a's stale hints. */
  mmc_vm_config_t c;
  mmc_vm_config_init(&c);
  c.memory_bytes = 4 * MMC_PAGE_SIZE;
  c.pshare_enable = false;
  assert_int_equal(I->vm_reconfigure(h, a.id, &c, NULL), 0);
  scan_pass(h);
  ref_share_info(h, &in);
  assert_int_equal(in.sharers, 0);
  assert_true(in.stale_hints >= 4);
  hold_then_close(h, &a, 90, &b, 60, 4);
}

static void pacing_follows_the_settings(void **state) {
  (void)state;
  topo_t tp;
  mmc_host_t *h = host(&tp, 1, 0, 64);
  vm_t a = vm_on(h, 6000, 0, NULL); /* 6000 pages / 600 s = 10 pages/s */
  assert_int_equal(I->advance(h, I->now(h) + 60 * SEC, NULL), 0);
  assert_int_equal(vs(h, &a).pages_scanned, 600);
  assert_int_equal(I->setting_set(h, "Mem.ShareRateMax", 4, NULL), 0);
  assert_int_equal(I->advance(h, I->now(h) + 60 * SEC, NULL), 0);
  assert_int_equal(vs(h, &a).pages_scanned, 600 + 240);
  assert_int_equal(I->setting_set(h, "Mem.ShareRateMax", 0, NULL), 0);
  assert_int_equal(I->advance(h, I->now(h) + 60 * SEC, NULL), 0);
  assert_int_equal(vs(h, &a).pages_scanned, 840);
  assert_int_equal(I->setting_set(h, "Mem.ShareRateMax", 1024, NULL), 0);
  assert_int_equal(I->setting_set(h, "Mem.ShareScanGHz", 0, NULL), 0);
  assert_int_equal(I->advance(h, I->now(h) + 60 * SEC, NULL), 0);
  assert_int_equal(vs(h, &a).pages_scanned, 840);
  /* Host cap: 1 MB/s/GHz x 4 GHz (2 cores x 2000 MHz) = 1024 pages/s; a
   * 10-minute VM of 1.2M pages wants 2048 pages/s: the host budget binds. */
  assert_int_equal(I->setting_set(h, "Mem.ShareScanGHz", 1, NULL), 0);
  assert_int_equal(I->setting_set(h, "Mem.ShareRateMax", 32768, NULL), 0);
  vm_t b = vm_on(h, 1228800, 0, NULL);
  uint64_t a0 = vs(h, &a).pages_scanned;
  assert_int_equal(I->advance(h, I->now(h) + 10 * SEC, NULL), 0);
  uint64_t total = vs(h, &a).pages_scanned - a0 + vs(h, &b).pages_scanned;
  assert_true(total <= 10240 && total >= 10240 - 20);
  vm_off(h, &a);
  vm_off(h, &b);
  I->host_destroy(h);
}

/* TPS-3, SET-2: scanning turned back on in the middle of a scanner tick
 * earns its pace from the change, not from the tick's start (a tick delayed
 * past the change would otherwise scan for the time it was off). */
static void resumed_scanning_earns_from_the_change(void **state) {
  (void)state;
  topo_t tp;
  mmc_host_t *h = host(&tp, 1, 0, 64);
  vm_t a = vm_on(h, 6000, 0, NULL); /* 6000 pages / 600 s = 10 pages/s */
  int64_t ghz = 0;
  assert_int_equal(I->setting_get(h, "Mem.ShareScanGHz", &ghz, NULL), 0);
  assert_int_equal(I->setting_set(h, "Mem.ShareScanGHz", 0, NULL), 0);
  uint64_t t0 = I->now(h);
  assert_int_equal(I->advance(h, t0 + 10 * SEC + SEC / 2, NULL), 0);
  assert_int_equal(vs(h, &a).pages_scanned, 0);
  assert_int_equal(I->setting_set(h, "Mem.ShareScanGHz", ghz, NULL), 0);
  assert_int_equal(I->advance(h, t0 + 11 * SEC, NULL), 0); /* the tick after: half a second */
  assert_int_equal(vs(h, &a).pages_scanned, 5);
  assert_int_equal(I->advance(h, t0 + 12 * SEC, NULL), 0);
  assert_int_equal(vs(h, &a).pages_scanned, 15);
  vm_off(h, &a);
  I->host_destroy(h);
}

/* ---- live: merges and COW breaks under running vCPU threads */

/* Each vCPU keeps a few pages hot (a page in use while a merge waits is not
 * merged: its mark is cancelled) and now and then rewrites any page (COW
 * when shared). */
enum { live_pages = 1024, live_hot = 32, live_any_every = 16, live_rounds = 3000, live_runs = 20 };

typedef struct live_vcpu {
  mmc_host_t *h;
  mmc_vm_id_t id;
  uint64_t vmtag; /* content unique to this VM */
  uint32_t version[live_pages];
  _Atomic bool stop;
  _Atomic uint64_t rounds;
  uint64_t bad;
} live_vcpu_t;

/* Version 0: the same content in every VM (sharable); later versions
 * unique to the VM. */
static uint64_t live_tag(const live_vcpu_t *l, uint64_t g, uint32_t v) {
  return v == 0 ? 1000 + g : l->vmtag * 100000 + g * 100 + v;
}

static void *live_thread(void *arg) {
  live_vcpu_t *l = arg;
  mmc_vcpu_t *v = NULL;
  if (I->vcpu_enter(l->h, l->id, 0, &v, NULL))
    return NULL;
  vm_t vm = {.id = l->id, .v = v, .npages = live_pages};
  uint64_t r = l->vmtag;
  for (uint64_t g = 0; g < live_pages; g++)
    put(&vm, g, live_tag(l, g, 0));
  atomic_store(&l->rounds, 1);
  for (uint64_t round = 0; !atomic_load(&l->stop); round++) {
    r = r * 6364136223846793005ull + 1442695040888963407ull;
    bool any = round % live_any_every == 0;
    uint64_t g = (r >> 33) % (any ? live_pages : live_hot);
    if (any || round % 4 == 0) { /* rewrite: COW when shared */
      uint32_t nv = l->version[g] + 1 < 4 ? l->version[g] + 1 : 0;
      put(&vm, g, live_tag(l, g, nv));
      l->version[g] = nv;
    } else {
      l->bad += !holds(&vm, g, live_tag(l, g, l->version[g]));
    }
    atomic_fetch_add(&l->rounds, 1);
  }
  for (uint64_t g = 0; g < live_pages; g++)
    l->bad += !holds(&vm, g, live_tag(l, g, l->version[g]));
  I->vcpu_exit(v);
  return NULL;
}

static void live_vcpus_race_the_scanner(void **state) {
  (void)state;
  topo_t tp;
  topo_make(&tp, 1);
  mmc_setting_value_t s[] = {{"Mem.ShareScanTime", 10},
                             {"Mem.ShareForceSalting", 0},
                             {"Ref.ShareTick", 60000},
                             {"Ref.ShareScanBlock", 1}};
  mmc_host_config_t cfg = {
      .topology = &tp.t, .clock = MMC_CLOCK_LIVE, .seed = 3, .settings = s, .nsettings = 4};
  mmc_host_t *h = NULL;
  assert_int_equal(I->host_create(&cfg, &h, NULL), 0);
  live_vcpu_t l[3];
  pthread_t th[3];
  for (int i = 0; i < 3; i++) {
    memset(&l[i], 0, sizeof l[i]);
    mmc_vm_config_t c;
    mmc_vm_config_init(&c);
    c.memory_bytes = live_pages * MMC_PAGE_SIZE;
    l[i].h = h;
    l[i].vmtag = (uint64_t)i + 1;
    assert_int_equal(I->vm_power_on(h, &c, &l[i].id, NULL), 0);
    assert_int_equal(pthread_create(&th[i], NULL, live_thread, &l[i]), 0);
  }
  for (int i = 0; i < 3; i++)
    while (atomic_load(&l[i].rounds) == 0)
      sched_yield();
  uint64_t most_shared = 0;
  for (int k = 0; k < live_runs; k++) {
    ref_share_run(h, (SCAN_S + 1) * SEC);
    uint64_t sh = 0;
    for (int i = 0; i < 3; i++)
      sh += vs(h, &(vm_t){.id = l[i].id}).shared_pages;
    most_shared = sh > most_shared ? sh : most_shared;
    uint64_t r0 = atomic_load(&l[0].rounds);
    while (atomic_load(&l[0].rounds) < r0 + live_rounds / live_runs)
      sched_yield(); /* let the vCPUs write (and break COW) between runs */
  }
  for (int i = 0; i < 3; i++)
    atomic_store(&l[i].stop, true);
  uint64_t cow = 0;
  for (int i = 0; i < 3; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(l[i].bad, 0);
    cow += vs(h, &(vm_t){.id = l[i].id}).cow_breaks;
  }
  ref_share_info_t in;
  ref_share_info(h, &in);
  if (most_shared == 0 || cow == 0)
    print_message("shared %llu cow %llu: hashed %llu merged %llu hints %llu collisions %llu stale "
                  "%llu runs %llu\n",
                  (unsigned long long)most_shared, (unsigned long long)cow,
                  (unsigned long long)in.hashed, (unsigned long long)in.merged,
                  (unsigned long long)in.hints, (unsigned long long)in.collisions,
                  (unsigned long long)in.stale_hints, (unsigned long long)in.runs);
  assert_true(most_shared > 0);
  assert_true(cow > 0);
  for (int i = 0; i < 3; i++)
    assert_int_equal(I->vm_power_off(h, l[i].id, NULL), 0);
  assert_int_equal(ref_pool_used(h->pools[0]), 0);
  I->host_destroy(h);
}

/* The table (open addressing, backward-shift deletion, resizing) under
 * churn: thousands of entries behind a 12-bit hash (many equal hashes, so
 * probe runs with equal keys), COW breaks freeing shared frames, changed
 * hint pages, a VM's hints swept at power-off. Afterwards a new clone of
 * one VM still finds a twin for every page: a slot lost or stranded by a
 * deletion would leave some of its pages unshared. */
static uint64_t churn_tag(uint64_t g) {
  return g % 4 == 1 ? 50000 + g : 10 + g;
}

static void table_survives_churn(void **state) {
  (void)state;
  enum { P = 1024 };
  topo_t tp;
  mmc_host_t *h = host(&tp, 1, 0, 12);
  vm_t a = vm_on(h, P, 0, NULL), b = vm_on(h, P, 0, NULL), c = vm_on(h, P, 0, NULL);
  uint64_t want_a = 0, want_c = 0;
  for (uint64_t g = 0; g < P; g++) {
    put(&a, g, 10 + g);
    put(&b, g, g % 2 ? 20000 + g : 10 + g);
    put(&c, g, g % 3 ? 30000 + g : 10 + g);
    want_a += g % 2 == 0 || g % 3 == 0;
    want_c += g % 3 == 0;
  }
  scan_pass(h);
  assert_int_equal(vs(h, &a).shared_pages, want_a);
  assert_int_equal(vs(h, &b).shared_pages, P / 2);
  assert_int_equal(vs(h, &c).shared_pages, want_c);
  for (uint64_t g = 0; g < P; g++) {
    if (g % 2 == 0)
      put(&b, g, 40000 + g); /* COW breaks */
    if (g % 4 == 1)
      put(&a, g, churn_tag(g)); /* hints (or sharers) change */
  }
  vm_off(h, &c);
  scan_pass(h);
  scan_pass(h);
  vm_t d = vm_on(h, P, 0, NULL);
  for (uint64_t g = 0; g < P; g++)
    put(&d, g, churn_tag(g));
  scan_pass(h);
  scan_pass(h);
  assert_int_equal(vs(h, &d).shared_pages, P);
  ref_share_info_t in;
  assert_int_equal(ref_share_info(h, &in), 1);
  assert_true(in.collisions > 0);
  for (uint64_t g = 0; g < P; g++) {
    assert_true(holds(&a, g, churn_tag(g)));
    assert_true(holds(&b, g, g % 2 ? 20000 + g : 40000 + g));
    assert_true(holds(&d, g, churn_tag(g)));
    assert_int_equal(pte_of(h, &a, g), pte_of(h, &d, g));
  }
  vm_off(h, &a);
  vm_off(h, &b);
  vm_off(h, &d);
  assert_int_equal(ref_pool_used(h->pools[0]), 0);
  I->host_destroy(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(identical_pages_merge_across_vms),
      cmocka_unit_test(ballooned_shared_page_leaves_the_counts),
      cmocka_unit_test(forced_collisions_never_merge_different_content),
      cmocka_unit_test(cow_gives_the_writer_a_private_copy),
      cmocka_unit_test(refcount_cap_starts_another_frame),
      cmocka_unit_test(salting_modes),
      cmocka_unit_test(zero_pages_share_within_a_salted_vm),
      cmocka_unit_test(sharing_stays_within_a_node),
      cmocka_unit_test(sharers_that_moved_take_the_content_along),
      cmocka_unit_test(salting_turned_on_unshares),
      cmocka_unit_test(stale_hints_are_rehashed_not_merged),
      cmocka_unit_test(pacing_follows_the_settings),
      cmocka_unit_test(resumed_scanning_earns_from_the_change),
      cmocka_unit_test(live_vcpus_race_the_scanner),
      cmocka_unit_test(table_survives_churn),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
