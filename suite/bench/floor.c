/*
 * floor.c — the kernel work of moving pages without a page map, the floor a
 * migration engine is measured against per CPU-second (bench_util.h): a
 * pwritev(2) of the pages from a memfd like a frame pool's (mapped and
 * written, like a VM's frames) into fresh frames of another, then the
 * sources punched in runs (as an engine frees a batch: SEC-1). Shared by
 * `mmcert bench migration` and `mmcert bench move`.
 */
#include <fcntl.h>
#include <numa.h>
#include <numaif.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench_util.h"

bool bu_two_real_nodes(const mmc_topology_t *t) {
  return t->nnodes >= 2 && t->nodes[0].real && t->nodes[1].real;
}

uint8_t *bu_fresh_map(size_t len, bool real, int os, int *fd) {
  *fd = memfd_create("mmcert-bench-peer", MFD_CLOEXEC);
  if (*fd < 0 || ftruncate(*fd, (off_t)len) != 0)
    return NULL;
  uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, *fd, 0);
  if (p == MAP_FAILED)
    return NULL;
  unsigned long mask = 1ul << os;
  if (real && os < (int)(8 * sizeof mask) - 1)
    mbind(p, len, MPOL_BIND, &mask, 8 * sizeof mask, 0);
  return p;
}

void bu_pwritev_pages(int fd, const uint8_t *src, uint64_t n) {
  struct iovec iov[BU_PWRITEV_RUN];
  for (uint64_t i = 0; i < n; i += BU_PWRITEV_RUN) {
    uint64_t m = n - i < BU_PWRITEV_RUN ? n - i : BU_PWRITEV_RUN;
    for (uint64_t j = 0; j < m; j++)
      iov[j] = (struct iovec){.iov_base = (void *)(src + (i + j) * MMC_PAGE_SIZE),
                              .iov_len = MMC_PAGE_SIZE};
    if (pwritev(fd, iov, (int)m, (off_t)(i * MMC_PAGE_SIZE)) != (ssize_t)(m * MMC_PAGE_SIZE))
      return; /* caught by the caller's check of the last byte */
  }
}

double bu_copy_free_cpu_rate(const mmc_topology_t *t, uint64_t n, uint64_t run_pages) {
  size_t len = n * MMC_PAGE_SIZE;
  bool real = bu_two_real_nodes(t) && numa_available() >= 0;
  int sfd = -1, dfd = -1;
  uint8_t *src = bu_fresh_map(len, real, real ? (int)t->nodes[0].os_index : 0, &sfd);
  uint8_t *dst = bu_fresh_map(len, real, real ? (int)t->nodes[1].os_index : 0, &dfd);
  double rate = 0;
  if (src && dst) {
    memset(src, 0x5a, len);
    uint64_t c0 = bu_thread_cpu_ns();
    bu_pwritev_pages(dfd, src, n);
    bool freed = true;
    for (uint64_t i = 0; i < n; i += run_pages) {
      uint64_t m = n - i < run_pages ? n - i : run_pages;
      freed &= fallocate(sfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                         (off_t)(i * MMC_PAGE_SIZE), (off_t)(m * MMC_PAGE_SIZE)) == 0;
    }
    uint64_t c1 = bu_thread_cpu_ns();
    if (freed && c1 > c0 && dst[len - 1] == 0x5a && src[len - 1] == 0)
      rate = (double)n / ((double)(c1 - c0) / 1e9);
  }
  if (src)
    munmap(src, len);
  if (dst)
    munmap(dst, len);
  if (sfd >= 0)
    close(sfd);
  if (dfd >= 0)
    close(dfd);
  return rate;
}
