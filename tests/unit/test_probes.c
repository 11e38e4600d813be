/*
 * test_probes.c — the suite's probes against memory this test sets up
 * itself: a memfd named like a pool ("mmcert-node<N>"), mincore before and
 * after touching and after a hole punch, move_pages on this machine's first
 * node, smaps_rollup, thread affinity, pagemap entries (present, exclusive,
 * one PFN for one frame mapped twice, the zero page) and kpageflags (KSM and
 * zero-page bits, from the real file as root and from files the test
 * writes). Probes serve NUMA-1/9, SEC-1, INT-1, TPS-*, SWAP-2.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <linux/magic.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "probes.h"
#include "test_util.h"

enum { test_pages = 64 };
#define TEST_BYTES ((size_t)test_pages * MMC_PAGE_SIZE)

/* A pool-like mapping: memfd named `name`, sized, mapped shared. */
static char *map_pool(const char *name, int *fd_out) {
  int fd = memfd_create(name, MFD_CLOEXEC);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (off_t)TEST_BYTES), 0);
  char *p = mmap(NULL, TEST_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  assert_true(p != MAP_FAILED);
  *fd_out = fd;
  return p;
}

static void test_maps_attributes_named_pools(void **state) {
  int fd3, fd7, fdx;
  char *p3 = map_pool("mmcert-node3", &fd3);
  char *p7 = map_pool("mmcert-node7", &fd7);
  char *px = map_pool("mmcert-node12x", &fdx); /* not a node name */
  char *anon = mmap(NULL, TEST_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(anon != MAP_FAILED);
  memset(p3, 1, TEST_BYTES);
  probe_maps_t m;
  mmc_error_t err = {0};
  assert_int_equal(probe_maps_load(&m, NULL, &err), 0);
  assert_true(m.n >= 2);
  for (size_t i = 1; i < m.n; i++)
    assert_true(m.ranges[i - 1].end <= m.ranges[i].start);
  assert_int_equal(probe_maps_os_node(&m, p3), 3);
  assert_int_equal(probe_maps_os_node(&m, p3 + TEST_BYTES - 1), 3);
  assert_int_equal(probe_maps_os_node(&m, p7 + 5 * MMC_PAGE_SIZE), 7);
  assert_int_equal(probe_maps_os_node(&m, px), -1);
  assert_int_equal(probe_maps_os_node(&m, anon), -1);
  assert_int_equal(probe_maps_os_node(&m, &m), -1);
  probe_maps_free(&m);
  /* After unmapping, a fresh snapshot no longer attributes the address. */
  munmap(p7, TEST_BYTES);
  assert_int_equal(probe_maps_load(&m, NULL, &err), 0);
  assert_int_equal(probe_maps_os_node(&m, p7), -1);
  assert_int_equal(probe_maps_os_node(&m, p3), 3);
  probe_maps_free(&m);
  munmap(p3, TEST_BYTES);
  munmap(px, TEST_BYTES);
  munmap(anon, TEST_BYTES);
  close(fd3);
  close(fd7);
  close(fdx);
}

static void test_maps_from_file_and_missing_file(void **state) {
  char path[] = "/tmp/test_probes_mapsXXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char text[] =
      "7f0000001000-7f0000003000 rw-s 00002000 00:01 42   /memfd:mmcert-node2 (deleted)\n"
      "7f0000000000-7f0000001000 rw-s 00000000 00:01 41   /memfd:mmcert-node0 (deleted)\n"
      "7f0000004000-7f0000005000 rw-p 00000000 00:00 0 \n"
      "7f0000005000-7f0000006000 rw-s 00000000 00:01 43   /dev/shm/mmcert-node5\n";
  assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
  close(fd);
  probe_maps_t m;
  mmc_error_t err = {0};
  assert_int_equal(probe_maps_load(&m, path, &err), 0);
  assert_int_equal(m.n, 3);
  assert_true(m.ranges[0].start == 0x7f0000000000ull); /* sorted */
  assert_int_equal(m.ranges[1].offset, 0x2000);
  assert_int_equal(probe_maps_os_node(&m, (void *)0x7f0000002fffull), 2);
  assert_int_equal(probe_maps_os_node(&m, (void *)0x7f0000003000ull), -1);
  assert_int_equal(probe_maps_os_node(&m, (void *)0x7f0000004800ull), -1);
  assert_int_equal(probe_maps_os_node(&m, (void *)0x7f0000005000ull), 5);
  /* Frame identity: node 2's mapping starts at file offset 0x2000 (frame 2). */
  assert_true(probe_maps_frame(&m, (void *)0x7f0000001010ull) == ((2ull << 48 | 2) + 1));
  assert_true(probe_maps_frame(&m, (void *)0x7f0000000000ull) == 1);
  assert_true(probe_maps_frame(&m, (void *)0x7f0000004000ull) == 0);
  assert_non_null(probe_maps_find(&m, (void *)0x7f0000002000ull));
  probe_maps_free(&m);
  unlink(path);
  assert_int_equal(probe_maps_load(&m, path, &err), MMC_EIO);
  assert_non_null(strstr(err.msg, path));
}

static void test_node_index_maps_os_numbers(void **state) {
  mmc_node_t nodes[3] = {{.os_index = 0}, {.os_index = 2}, {.os_index = 5}};
  mmc_topology_t t = {.nnodes = 3, .nodes = nodes};
  assert_int_equal(probe_node_index(&t, 5), 2);
  assert_int_equal(probe_node_index(&t, 2), 1);
  assert_int_equal(probe_node_index(&t, 1), -1);
  assert_int_equal(probe_node_index(&t, -1), -1);
}

static void test_mincore_touch_and_punch(void **state) {
  int fd;
  char *p = map_pool("mmcert-node0", &fd);
  uint64_t res = 99;
  unsigned char vec[test_pages];
  mmc_error_t err = {0};
  assert_int_equal(probe_mincore(p, TEST_BYTES, &res, NULL, &err), 0);
  assert_int_equal(res, 0);
  for (size_t i = 0; i < test_pages; i += 2)
    p[i * MMC_PAGE_SIZE] = 1;
  assert_int_equal(probe_mincore(p, TEST_BYTES, &res, vec, &err), 0);
  assert_int_equal(res, test_pages / 2);
  assert_true(vec[0] & 1);
  assert_false(vec[1] & 1);
  memset(p, 2, TEST_BYTES);
  assert_int_equal(probe_mincore(p, TEST_BYTES, &res, NULL, &err), 0);
  assert_int_equal(res, test_pages);
  /* Punch the second half: the frames are gone from the page cache. */
  assert_int_equal(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)TEST_BYTES / 2,
                             (off_t)TEST_BYTES / 2),
                   0);
  assert_int_equal(probe_mincore(p, TEST_BYTES, &res, NULL, &err), 0);
  assert_int_equal(res, test_pages / 2);
  /* A sub-page start is rounded down: one byte covers its whole page. */
  assert_int_equal(probe_mincore(p + 10, 1, &res, NULL, &err), 0);
  assert_int_equal(res, 1);
  /* An unmapped range is an error with a message, not a count. */
  munmap(p, TEST_BYTES);
  assert_int_equal(probe_mincore(p, TEST_BYTES, &res, NULL, &err), MMC_EIO);
  assert_true(strlen(err.msg) > 0);
  close(fd);
}

static void test_move_pages_query_node0(void **state) {
  int fd;
  char *p = map_pool("mmcert-node0", &fd);
  void *pages[test_pages];
  int status[test_pages];
  memset(p, 3, TEST_BYTES / 2); /* first half resident */
  for (size_t i = 0; i < test_pages; i++)
    pages[i] = p + i * MMC_PAGE_SIZE;
  mmc_error_t err = {0};
  assert_int_equal(probe_move_pages_query(pages, test_pages, status, &err), 0);
  /* This machine: the first online node holds what we touched; untouched
   * shared pages are not present. */
  int first = status[0];
  assert_true(first >= 0);
  assert_int_equal(access("/sys/devices/system/node/node0", F_OK) == 0 ? first : 0, 0);
  for (size_t i = 0; i < test_pages / 2; i++)
    assert_int_equal(status[i], first);
  for (size_t i = test_pages / 2; i < test_pages; i++)
    assert_int_equal(status[i], -ENOENT);
  assert_int_equal(probe_page_os_node(p + 100), first);
  assert_int_equal(probe_page_os_node(p + TEST_BYTES - 1), -ENOENT);
  munmap(p, TEST_BYTES);
  close(fd);
}

static void test_rollup_sees_shmem_grow(void **state) {
  probe_rollup_t before, after;
  mmc_error_t err = {0};
  assert_int_equal(probe_rollup(&before, NULL, &err), 0);
  assert_true(before.rss_bytes > 0);
  int fd;
  char *p = map_pool("mmcert-node0", &fd);
  memset(p, 4, TEST_BYTES);
  assert_int_equal(probe_rollup(&after, NULL, &err), 0);
  assert_true(after.rss_shmem_bytes >= before.rss_shmem_bytes + TEST_BYTES);
  assert_true(after.pss_shmem_bytes >= before.pss_shmem_bytes + TEST_BYTES);
  assert_true(after.rss_bytes >= before.rss_bytes + TEST_BYTES);
  munmap(p, TEST_BYTES);
  close(fd);
  assert_int_equal(probe_rollup(&after, "/nonexistent/smaps_rollup", &err), MMC_EIO);
}

static int find_cmocka(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  if (info->dlpi_name && strstr(info->dlpi_name, "libcmocka")) {
    snprintf(data, PATH_MAX, "%s", info->dlpi_name);
    return 1;
  }
  return 0;
}

/* A library loaded from tmpfs: its mapped pages are RssShmem and are counted
 * as image pages; once unloaded they are gone from both. */
static void test_rollup_tells_image_pages_apart(void **state) {
  (void)state;
  struct statfs fs;
  if (statfs("/dev/shm", &fs) != 0 || (unsigned long)fs.f_type != TMPFS_MAGIC) {
    skip(); /* no tmpfs here to load a library from */
    return;
  }
  char lib[PATH_MAX] = "";
  dl_iterate_phdr(find_cmocka, lib);
  assert_true(lib[0]);
  char copy[] = "/dev/shm/mmcert-test-image-XXXXXX.so";
  int out = mkstemps(copy, 3);
  assert_true(out >= 0);
  FILE *in = fopen(lib, "rb");
  assert_non_null(in);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    assert_int_equal(write(out, buf, n), (ssize_t)n);
  fclose(in);
  close(out);
  probe_rollup_t before, loaded, after;
  mmc_error_t err = {0};
  assert_int_equal(probe_rollup(&before, NULL, &err), 0);
  void *h = dlopen(copy, RTLD_NOW | RTLD_LOCAL);
  assert_non_null(h);
  assert_int_equal(probe_rollup(&loaded, NULL, &err), 0);
  assert_true(loaded.image_shmem_bytes > before.image_shmem_bytes);
  assert_true(loaded.rss_shmem_bytes - before.rss_shmem_bytes >=
              loaded.image_shmem_bytes - before.image_shmem_bytes);
  dlclose(h);
  unlink(copy);
  assert_int_equal(probe_rollup(&after, NULL, &err), 0);
  assert_int_equal(after.image_shmem_bytes, before.image_shmem_bytes);
  /* From a file (a test's), no image is read. */
  assert_int_equal(probe_rollup(&after, "/proc/self/smaps_rollup", &err), 0);
  assert_int_equal(after.image_shmem_bytes, 0);
}

static void test_affinity_maps_cpus_to_nodes(void **state) {
  /* Two fake nodes: CPU 0 on node 0, every other CPU on node 1. */
  long n = sysconf(_SC_NPROCESSORS_CONF);
  assert_true(n >= 1);
  uint32_t *cpus = calloc((size_t)n, sizeof *cpus);
  assert_non_null(cpus);
  for (long i = 0; i < n; i++)
    cpus[i] = (uint32_t)i;
  mmc_node_t nodes[2] = {{.ncpus = 1, .cpus = cpus}, {.ncpus = (uint32_t)n - 1, .cpus = cpus + 1}};
  mmc_topology_t t = {.nnodes = 2, .nodes = nodes};
  cpu_set_t saved, only0;
  assert_int_equal(sched_getaffinity(0, sizeof saved, &saved), 0);
  CPU_ZERO(&only0);
  CPU_SET(0, &only0);
  assert_int_equal(sched_setaffinity(0, sizeof only0, &only0), 0);
  probe_affinity_t a;
  mmc_error_t err = {0};
  assert_int_equal(probe_thread_affinity(&t, 0, &a, &err), 0);
  assert_int_equal(a.ncpus, 1);
  assert_int_equal(a.nodes, 1);
  assert_int_equal(a.nodes_full, 1);
  assert_int_equal(a.cpus_outside, 0);
  /* Only node 0 described: the other CPUs, when allowed, fall outside. */
  assert_int_equal(sched_setaffinity(0, sizeof saved, &saved), 0);
  t.nnodes = 1;
  assert_int_equal(probe_thread_affinity(&t, 0, &a, &err), 0);
  assert_int_equal(a.ncpus, (uint32_t)CPU_COUNT(&saved));
  assert_int_equal(a.cpus_outside, a.ncpus - (CPU_ISSET(0, &saved) ? 1 : 0));
  assert_int_equal(probe_thread_affinity(&t, -5, &a, &err), MMC_EIO);
  free(cpus);
}

/* ---- pagemap / kpageflags */

static void test_pagemap_decode_bits(void **state) {
  probe_pagemap_entry_t e = probe_pagemap_decode(1ull << 63 | 1ull << 56 | 0x1234);
  assert_true(e.present);
  assert_true(e.exclusive);
  assert_false(e.swapped);
  assert_false(e.file_shared);
  assert_int_equal(e.pfn, 0x1234);
  /* A swapped page's low bits are a swap entry, never a PFN. */
  e = probe_pagemap_decode(1ull << 62 | 0x99);
  assert_true(e.swapped);
  assert_false(e.present);
  assert_int_equal(e.pfn, 0);
  e = probe_pagemap_decode(1ull << 63 | 1ull << 61 | 1ull << 55 | ((1ull << 55) - 1));
  assert_true(e.file_shared);
  assert_true(e.soft_dirty);
  assert_int_equal(e.pfn, (1ull << 55) - 1);
  assert_false(probe_pagemap_decode(0).present);
}

static void read_entries(probe_pagemap_t *pm, char *base, size_t n, probe_pagemap_entry_t *e) {
  void *pages[test_pages];
  for (size_t i = 0; i < n; i++)
    pages[i] = base + i * MMC_PAGE_SIZE + 7; /* any address inside the page */
  mmc_error_t err = {0};
  assert_int_equal(probe_pagemap_read(pm, pages, n, e, &err), 0);
}

static void test_pagemap_anon_present_exclusive_gone(void **state) {
  probe_pagemap_t pm;
  mmc_error_t err = {0};
  assert_int_equal(probe_pagemap_open(&pm, NULL, NULL, &err), 0);
  assert_int_equal(pm.pfns, geteuid() == 0); /* PFNs only for CAP_SYS_ADMIN */
  char *p = mmap(NULL, TEST_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(p != MAP_FAILED);
  madvise(p, TEST_BYTES, MADV_NOHUGEPAGE);
  probe_pagemap_entry_t e[test_pages];
  read_entries(&pm, p, test_pages, e);
  for (size_t i = 0; i < test_pages; i++)
    assert_false(e[i].present);
  for (size_t i = 0; i < test_pages; i += 2)
    p[i * MMC_PAGE_SIZE] = (char)(i + 1);
  read_entries(&pm, p, test_pages, e);
  for (size_t i = 0; i < test_pages; i++) {
    assert_int_equal(e[i].present, i % 2 == 0);
    assert_int_equal(e[i].exclusive, i % 2 == 0);
    assert_false(e[i].file_shared);
    if (pm.pfns && i % 2 == 0)
      assert_true(e[i].pfn != 0 && (i < 2 || e[i].pfn != e[i - 2].pfn)); /* own frames */
  }
  /* Discarded pages are gone again. */
  assert_int_equal(madvise(p, TEST_BYTES / 2, MADV_DONTNEED), 0);
  read_entries(&pm, p, test_pages, e);
  for (size_t i = 0; i < test_pages / 2; i++)
    assert_false(e[i].present);
  assert_true(e[test_pages / 2].present);
  munmap(p, TEST_BYTES);
  probe_pagemap_close(&pm);
}

/* One memfd frame mapped at two addresses: one PFN, not exclusive. This is
 * what makes frame identity independent of pointers. */
static void test_pagemap_same_frame_two_addresses(void **state) {
  int fd;
  char *a = map_pool("mmcert-pagemap", &fd);
  char *b = mmap(NULL, TEST_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  assert_true(b != MAP_FAILED);
  memset(a, 5, TEST_BYTES);
  (void)*(volatile char *)b; /* map b's first page */
  probe_pagemap_t pm;
  mmc_error_t err = {0};
  assert_int_equal(probe_pagemap_open(&pm, NULL, NULL, &err), 0);
  probe_pagemap_entry_t ea[1], eb[1];
  read_entries(&pm, a, 1, ea);
  read_entries(&pm, b, 1, eb);
  assert_true(ea[0].present && eb[0].present);
  assert_true(ea[0].file_shared && eb[0].file_shared);
  assert_false(ea[0].exclusive);
  if (pm.pfns)
    assert_int_equal(ea[0].pfn, eb[0].pfn);
  else
    print_message("PFNs not visible (not root): frame equality not checked\n");
  munmap(b, TEST_BYTES);
  munmap(a, TEST_BYTES);
  close(fd);
  probe_pagemap_close(&pm);
}

/* Reading untouched private anonymous pages maps the kernel's zero page:
 * one PFN for all, flagged ZERO_PAGE in kpageflags (root). */
static void test_pagemap_zero_page_flags(void **state) {
  probe_pagemap_t pm;
  mmc_error_t err = {0};
  assert_int_equal(probe_pagemap_open(&pm, NULL, NULL, &err), 0);
  if (!pm.pfns || pm.flags_fd < 0) {
    probe_pagemap_close(&pm);
    test_skip("not root: no frame numbers in /proc/self/pagemap, no /proc/kpageflags");
  }
  char *p = mmap(NULL, TEST_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(p != MAP_FAILED);
  madvise(p, TEST_BYTES, MADV_NOHUGEPAGE);
  for (size_t i = 0; i < 4; i++)
    (void)*(volatile char *)(p + i * MMC_PAGE_SIZE);
  p[5 * MMC_PAGE_SIZE] = 1; /* a private frame beside them */
  probe_pagemap_entry_t e[6];
  read_entries(&pm, p, 6, e);
  uint64_t pfns[6], flags[6];
  for (size_t i = 0; i < 6; i++)
    pfns[i] = e[i].pfn;
  assert_int_equal(probe_kpageflags(&pm, pfns, 6, flags, &err), 0);
  for (size_t i = 0; i < 4; i++) {
    assert_true(e[i].present);
    assert_int_equal(e[i].pfn, e[0].pfn);
    assert_true(flags[i] & PROBE_KPF_ZERO_PAGE);
  }
  assert_false(e[4].present);
  assert_int_equal(flags[4], 0);
  assert_true(e[5].pfn != e[0].pfn);
  assert_false(flags[5] & (PROBE_KPF_ZERO_PAGE | PROBE_KPF_KSM));
  assert_true(flags[5] & PROBE_KPF_ANON);
  munmap(p, TEST_BYTES);
  probe_pagemap_close(&pm);
}

/* kpageflags from files the test writes: a KSM page and the zero page are
 * told apart; a missing kpageflags is MMC_ENOTSUP with a message. */
static void test_kpageflags_from_files(void **state) {
  char pm_path[] = "/tmp/mmcert-test-pagemap-XXXXXX", kf_path[] = "/tmp/mmcert-test-kpf-XXXXXX";
  int pfd = mkstemp(pm_path), kfd = mkstemp(kf_path);
  assert_true(pfd >= 0 && kfd >= 0);
  uint64_t entries[3] = {0, 1ull << 63 | 5, 1ull << 63 | 7};
  uint64_t words[8] = {0};
  words[5] = PROBE_KPF_KSM | PROBE_KPF_ANON;
  words[7] = PROBE_KPF_ZERO_PAGE;
  assert_int_equal(write(pfd, entries, sizeof entries), (ssize_t)sizeof entries);
  assert_int_equal(write(kfd, words, sizeof words), (ssize_t)sizeof words);
  close(pfd);
  close(kfd);
  probe_pagemap_t pm;
  mmc_error_t err = {0};
  assert_int_equal(probe_pagemap_open(&pm, pm_path, kf_path, &err), 0);
  void *pages[3] = {(void *)0, (void *)(uintptr_t)MMC_PAGE_SIZE,
                    (void *)(uintptr_t)(2 * MMC_PAGE_SIZE + 9)};
  probe_pagemap_entry_t e[3];
  assert_int_equal(probe_pagemap_read(&pm, pages, 3, e, &err), 0);
  uint64_t pfns[3] = {e[0].pfn, e[1].pfn, e[2].pfn}, flags[3];
  assert_int_equal(probe_kpageflags(&pm, pfns, 3, flags, &err), 0);
  assert_int_equal(flags[0], 0);
  assert_true(flags[1] & PROBE_KPF_KSM);
  assert_false(flags[1] & PROBE_KPF_ZERO_PAGE);
  assert_true(flags[2] & PROBE_KPF_ZERO_PAGE);
  /* Past the end of the file: an error naming the file, not a zero. */
  void *far[1] = {(void *)(uintptr_t)(100 * MMC_PAGE_SIZE)};
  assert_int_equal(probe_pagemap_read(&pm, far, 1, e, &err), MMC_EIO);
  assert_non_null(strstr(err.msg, "pagemap"));
  probe_pagemap_close(&pm);
  unlink(kf_path);
  assert_int_equal(probe_pagemap_open(&pm, pm_path, kf_path, &err), 0);
  assert_int_equal(probe_kpageflags(&pm, pfns, 3, flags, &err), MMC_ENOTSUP);
  assert_non_null(strstr(err.msg, "kpageflags"));
  probe_pagemap_close(&pm);
  unlink(pm_path);
  assert_int_equal(probe_pagemap_open(&pm, pm_path, NULL, &err), MMC_EIO);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_maps_attributes_named_pools),
      cmocka_unit_test(test_maps_from_file_and_missing_file),
      cmocka_unit_test(test_node_index_maps_os_numbers),
      cmocka_unit_test(test_mincore_touch_and_punch),
      cmocka_unit_test(test_move_pages_query_node0),
      cmocka_unit_test(test_rollup_sees_shmem_grow),
      cmocka_unit_test(test_rollup_tells_image_pages_apart),
      cmocka_unit_test(test_affinity_maps_cpus_to_nodes),
      cmocka_unit_test(test_pagemap_decode_bits),
      cmocka_unit_test(test_pagemap_anon_present_exclusive_gone),
      cmocka_unit_test(test_pagemap_same_frame_two_addresses),
      cmocka_unit_test(test_pagemap_zero_page_flags),
      cmocka_unit_test(test_kpageflags_from_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
