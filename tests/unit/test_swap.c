/*
 * test_swap.c — swap.c through the contract: per-VM swap files (SWAP-1,
 * SEC-2: size, mode 0600, removal, clean refusal), host swapping without
 * guest help and contents after swap-in (SWAP-2), the compression cache and
 * its cap (ZIP-1), and fault injection (Ref.SwapFailWrites: ENOSPC keeps the
 * pages resident, MMC_EV_ERROR, nothing lost).
 *
 * Sizes: one 32 MB node (8192 frames, minFree 491 pages: hard below 315
 * free); a 64 MB VM writing 8000 pages puts the host in the hard state.
 */
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ref_util.h"

#define HOST_MB 32
#define VM_MB 64
#define FILL 8000

static char dir[64];

static int setup(void **state) {
  snprintf(dir, sizeof dir, "/tmp/test_swap-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  return rmdir(dir); /* fails when a swap file was left behind */
}

/* The single regular file in dir: path and stat; false when none. */
static bool one_file(char *path, size_t len, struct stat *st) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *e;
  int n = 0;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') {
      if (snprintf(path, len, "%s/%.200s", dir, e->d_name) < 0)
        return false;
      n++;
    }
  closedir(d);
  assert_true(n <= 1);
  return n == 1 && stat(path, st) == 0;
}

static void swap_file_lifecycle(void **state) {
  rt_topo_t tp;
  rt_topo(&tp, HOST_MB);
  mmc_host_t *h = rt_host(&tp, MMC_CLOCK_STEPPED, dir, NULL, 0);
  mmc_vm_config_t c;
  mmc_vm_config_init(&c);
  c.memory_bytes = VM_MB << 20;
  c.reservation_bytes = 4 << 20;
  mmc_vm_id_t id;
  assert_int_equal(I->vm_power_on(h, &c, &id, NULL), 0);
  char path[512];
  struct stat st;
  assert_true(one_file(path, sizeof path, &st));
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_true(S_ISREG(st.st_mode));
  assert_int_equal((uint64_t)st.st_size, (uint64_t)(VM_MB - 4) << 20);
  assert_int_equal(I->vm_power_off(h, id, NULL), 0);
  assert_false(one_file(path, sizeof path, &st));
  I->host_destroy(h);
}

static void unwritable_dir_refuses_power_on(void **state) {
  rt_topo_t tp;
  rt_topo(&tp, HOST_MB);
  char bad[128];
  snprintf(bad, sizeof bad, "%s/missing", dir); /* root bypasses modes: use a missing dir */
  mmc_host_t *h = rt_host(&tp, MMC_CLOCK_STEPPED, bad, NULL, 0);
  mmc_vm_config_t c;
  mmc_vm_config_init(&c);
  c.memory_bytes = VM_MB << 20;
  mmc_vm_id_t id = 0;
  mmc_error_t err = {0};
  assert_int_equal(I->vm_power_on(h, &c, &id, &err), MMC_EADMISSION);
  assert_non_null(strstr(err.msg, "swap file"));
  assert_non_null(strstr(err.msg, "No such file"));
  assert_int_equal(rt_hstats(h).nvms, 0);
  I->host_destroy(h);
}

static void swaps_without_guest_and_restores(void **state) {
  rt_topo_t tp;
  rt_topo(&tp, HOST_MB);
  mmc_setting_value_t s[] = {{"Mem.MemZipEnable", 0}};
  mmc_host_t *h = rt_host(&tp, MMC_CLOCK_STEPPED, dir, s, 1);
  mmc_vm_id_t vm = rt_vm(h, VM_MB, false);
  rt_write(h, vm, FILL, 1, false);
  uint64_t cur = 0;
  rt_ticks(h, 1);
  mmc_vm_stats_t vs = rt_vstats(h, vm);
  assert_true(vs.swapped_pages > 0);
  assert_int_equal(vs.compressed_pages, 0);
  assert_int_equal(vs.resident_pages + vs.swapped_pages, FILL);
  assert_true(vs.resident_pages <= vs.target_pages);
  mmc_host_stats_t hs = rt_hstats(h);
  assert_int_equal(hs.node_free_pages[0], 8192 - vs.resident_pages);
  assert_true(hs.mem_state < MMC_STATE_HARD); /* swapping got the host out of hard */
  assert_true(rt_events(h, &cur, MMC_EV_SWAP_OUT, NULL) > 0);
  assert_int_equal(rt_verify(h, vm, FILL, 1, false), 0);
  vs = rt_vstats(h, vm);
  assert_int_equal(vs.swapped_pages, 0);
  assert_int_equal(vs.resident_pages, FILL);
  I->host_destroy(h);
}

static void compressible_pages_go_to_the_cache(void **state) {
  rt_topo_t tp;
  rt_topo(&tp, HOST_MB);
  mmc_host_t *h = rt_host(&tp, MMC_CLOCK_STEPPED, dir, NULL, 0);
  mmc_vm_id_t vm = rt_vm(h, VM_MB, false);
  rt_write(h, vm, FILL, 2, true);
  uint64_t cur = 0;
  rt_ticks(h, 1);
  mmc_vm_stats_t vs = rt_vstats(h, vm);
  /* cache cap: 10 % of 64 MB = 6.4 MB = 3276 slots of 2 KB; excess ~1971 */
  assert_true(vs.compressed_pages > 0);
  assert_int_equal(vs.swapped_pages, 0);
  assert_true(rt_events(h, &cur, MMC_EV_COMPRESS, NULL) > 0);
  assert_int_equal(rt_verify(h, vm, FILL, 2, true), 0);
  assert_int_equal(rt_vstats(h, vm).compressed_pages, 0);
  I->host_destroy(h);
}

static void cache_cap_sends_the_rest_to_disk(void **state) {
  rt_topo_t tp;
  rt_topo(&tp, HOST_MB);
  mmc_setting_value_t s[] = {{"Mem.MemZipMaxPct", 5}};
  mmc_host_t *h = rt_host(&tp, MMC_CLOCK_STEPPED, dir, s, 1);
  mmc_vm_id_t vm = rt_vm(h, 16, false); /* cap: 5 % of 16 MB = 409 slots */
  mmc_vm_id_t big = rt_vm(h, VM_MB, false);
  rt_write(h, vm, 4000, 3, true);
  rt_write(h, big, 4000, 4, true);
  rt_ticks(h, 1);
  mmc_vm_stats_t vs = rt_vstats(h, vm);
  assert_true(vs.compressed_pages <= 409);
  assert_true(vs.compressed_pages + vs.swapped_pages > 0);
  if (vs.compressed_pages == 409)
    assert_true(vs.swapped_pages > 0);
  assert_int_equal(rt_verify(h, vm, 4000, 3, true), 0);
  assert_int_equal(rt_verify(h, big, 4000, 4, true), 0);
  I->host_destroy(h);
}

/* Inject MMC_FAULT_SWAP_WRITE through the contract. */
static void fail_swap_writes(mmc_host_t *h, uint64_t count, int error) {
  mmc_fault_t f = {.kind = MMC_FAULT_SWAP_WRITE, .count = count, .error = error};
  mmc_error_t err = {0};
  assert_int_equal(I->inject_fault(h, &f, &err), 0);
}

static int64_t swap_writes_left(mmc_host_t *h) {
  return atomic_load(&((ref_host_t *)h)->fault_swap_writes);
}

/* A stepped host with compression off (every victim goes to the file)
 * whose next `count` swap writes fail with `error`, and one VM *vm written
 * with FILL pages of `seed`. */
static mmc_host_t *failing_host(rt_topo_t *tp, uint64_t count, int error, mmc_vm_id_t *vm,
                                uint64_t seed) {
  rt_topo(tp, HOST_MB);
  mmc_setting_value_t s[] = {{"Mem.MemZipEnable", 0}};
  mmc_host_t *h = rt_host(tp, MMC_CLOCK_STEPPED, dir, s, 1);
  fail_swap_writes(h, count, error);
  *vm = rt_vm(h, VM_MB, false);
  rt_write(h, *vm, FILL, seed, false);
  return h;
}

static void enospc_keeps_pages_resident(void **state) {
  rt_topo_t tp;
  mmc_vm_id_t vm;
  mmc_host_t *h = failing_host(&tp, 1000, ENOSPC, &vm, 5);
  uint64_t cur = 0;
  rt_ticks(h, 1);
  mmc_vm_stats_t vs = rt_vstats(h, vm);
  assert_int_equal(vs.swapped_pages, 0);
  assert_int_equal(vs.resident_pages, FILL);
  mmc_event_t ev;
  assert_true(rt_events(h, &cur, MMC_EV_ERROR, &ev) > 0);
  assert_non_null(strstr(ev.reason, "No space"));
  assert_true(ev.count > 0);
  assert_true(swap_writes_left(h) < 1000);
  assert_int_equal(rt_verify(h, vm, FILL, 5, false), 0);
  /* Writes work again: swapping resumes. */
  fail_swap_writes(h, MMC_FAULT_CLEAR, 0);
  assert_int_equal(swap_writes_left(h), 0);
  rt_ticks(h, 1);
  assert_true(rt_vstats(h, vm).swapped_pages > 0);
  assert_int_equal(rt_verify(h, vm, FILL, 5, false), 0);
  I->host_destroy(h);
}

/* Fault injection in the middle of a pipelined swap-out (a tick's request
 * spans several batches, one being written while the next is prepared):
 * the first writes fail, later ones succeed. Every page is resident or
 * swapped, none lost, and all read back intact. */
static void enospc_mid_pipeline_loses_nothing(void **state) {
  rt_topo_t tp;
  mmc_vm_id_t vm;
  mmc_host_t *h = failing_host(&tp, 3, EIO, &vm, 6);
  uint64_t cur = 0;
  rt_ticks(h, 1);
  mmc_vm_stats_t vs = rt_vstats(h, vm);
  assert_int_equal(vs.resident_pages + vs.swapped_pages, FILL);
  mmc_event_t ev;
  assert_true(rt_events(h, &cur, MMC_EV_ERROR, &ev) > 0);
  assert_non_null(strstr(ev.reason, "Input/output error"));
  assert_int_equal(swap_writes_left(h), 0);
  rt_ticks(h, 2);
  vs = rt_vstats(h, vm);
  assert_true(vs.swapped_pages > 0);
  assert_int_equal(vs.resident_pages + vs.swapped_pages, FILL);
  mmc_host_stats_t hs = rt_hstats(h);
  assert_int_equal(hs.node_free_pages[0], 8192 - vs.resident_pages);
  assert_int_equal(rt_verify(h, vm, FILL, 6, false), 0);
  I->host_destroy(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(swap_file_lifecycle),
      cmocka_unit_test(unwritable_dir_refuses_power_on),
      cmocka_unit_test(swaps_without_guest_and_restores),
      cmocka_unit_test(compressible_pages_go_to_the_cache),
      cmocka_unit_test(cache_cap_sends_the_rest_to_disk),
      cmocka_unit_test(enospc_keeps_pages_resident),
      cmocka_unit_test(enospc_mid_pipeline_loses_nothing),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
