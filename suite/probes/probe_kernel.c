/*
 * probe_kernel.c — page -> node by move_pages(2), resident pages by
 * mincore(2), thread CPU affinity by sched_getaffinity(2) (NUMA-1, NUMA-9,
 * SEC-1, INT-1).
 *
 * move_pages with nodes == NULL moves nothing: it reports the node of each
 * page, which on real NUMA hardware is the ground truth for "new memory comes
 * from the home node". mincore answers for shared (memfd) mappings too, so it
 * shows which frames of a pool really hold memory.
 */
#include <errno.h>
#include <numaif.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmc_error.h"
#include "probes.h"

/* move_pages takes at most this many pages per call here, so a huge query
 * does not need a huge kernel buffer at once. */
enum { probe_query_batch = 4096 };

int probe_move_pages_query(void *const *pages, size_t n, int *status, mmc_error_t *err) {
  for (size_t done = 0; done < n;) {
    size_t k = n - done < probe_query_batch ? n - done : probe_query_batch;
    long rc = move_pages(0, (unsigned long)k, (void **)(pages + done), NULL, status + done, 0);
    if (rc < 0)
      return mmc_fail(err, MMC_EIO, "probe move_pages: query of %zu pages failed: %s", k,
                      strerror(errno));
    done += k;
  }
  return 0;
}

int probe_page_os_node(const void *addr) {
  void *p = (void *)((uintptr_t)addr & ~(uintptr_t)(MMC_PAGE_SIZE - 1));
  int status = -EFAULT;
  if (move_pages(0, 1, &p, NULL, &status, 0) < 0)
    return -errno;
  return status;
}

int probe_mincore(const void *addr, size_t len, uint64_t *resident, unsigned char *vec,
                  mmc_error_t *err) {
  long psz = sysconf(_SC_PAGESIZE);
  uintptr_t start = (uintptr_t)addr & ~(uintptr_t)(psz - 1);
  uintptr_t end = ((uintptr_t)addr + len + (uintptr_t)psz - 1) & ~(uintptr_t)(psz - 1);
  size_t npages = (end - start) / (size_t)psz;
  unsigned char *v = vec ? vec : malloc(npages ? npages : 1);
  if (!v)
    return mmc_fail(err, MMC_ENOMEM, "probe mincore: out of memory for %zu pages", npages);
  int rc = 0;
  if (npages && mincore((void *)start, end - start, v) != 0)
    rc = mmc_fail(err, MMC_EIO, "probe mincore: %p+%zu: %s", addr, len, strerror(errno));
  uint64_t count = 0;
  for (size_t i = 0; rc == 0 && i < npages; i++)
    count += v[i] & 1;
  if (rc == 0)
    *resident = count;
  if (!vec)
    free(v);
  return rc;
}

/* The topology node index holding OS CPU `cpu`; -1 when none. */
static int cpu_node(const mmc_topology_t *topo, uint32_t cpu) {
  for (uint32_t n = 0; n < topo->nnodes; n++)
    for (uint32_t i = 0; i < topo->nodes[n].ncpus; i++)
      if (topo->nodes[n].cpus[i] == cpu)
        return (int)n;
  return -1;
}

static bool node_fully_allowed(const mmc_node_t *node, const cpu_set_t *set, size_t size) {
  if (node->ncpus == 0)
    return false;
  for (uint32_t i = 0; i < node->ncpus; i++)
    if (!CPU_ISSET_S(node->cpus[i], size, set))
      return false;
  return true;
}

int probe_thread_affinity(const mmc_topology_t *topo, pid_t tid, probe_affinity_t *out,
                          mmc_error_t *err) {
  long conf = sysconf(_SC_NPROCESSORS_CONF);
  int maxcpu = conf > 1024 ? (int)conf : 1024;
  cpu_set_t *set = CPU_ALLOC(maxcpu);
  if (!set)
    return mmc_fail(err, MMC_ENOMEM, "probe affinity: out of memory for a CPU set");
  size_t size = CPU_ALLOC_SIZE(maxcpu);
  if (sched_getaffinity(tid, size, set) != 0) {
    int e = errno;
    CPU_FREE(set);
    return mmc_fail(err, MMC_EIO, "probe affinity: sched_getaffinity(%d): %s", (int)tid,
                    strerror(e));
  }
  probe_affinity_t a = {0};
  for (int cpu = 0; cpu < maxcpu; cpu++) {
    if (!CPU_ISSET_S(cpu, size, set))
      continue;
    a.ncpus++;
    int n = cpu_node(topo, (uint32_t)cpu);
    if (n < 0)
      a.cpus_outside++;
    else
      a.nodes |= 1ull << n;
  }
  for (uint32_t n = 0; n < topo->nnodes; n++)
    if (node_fully_allowed(&topo->nodes[n], set, size))
      a.nodes_full |= 1ull << n;
  CPU_FREE(set);
  *out = a;
  return 0;
}
