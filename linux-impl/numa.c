/*
 * numa.c — node affinity and page migration on the kernel's NUMA calls
 * (NUMA-9, MIG-1; the suite's move_range).
 *
 * Linux has no home node (MMC_CAP_PLACEMENT is clear): without an affinity
 * a VM's memory follows the default policy (first touch: the node of the CPU
 * that faults a page in) and its vCPU threads run where the scheduler puts
 * them; automatic NUMA balancing, when kernel.numa_balancing is on, later
 * moves tasks and pages by sampled hinting faults, on its own schedule.
 * Only a VM option asks for more:
 *  - numa.nodeAffinity binds the VM's memory with mbind(MPOL_BIND) over
 *    the affinity's nodes and its vCPU threads with sched_setaffinity to
 *    their CPUs (NUMA-9);
 *  - a changed affinity rebinds, then migrates the pages now outside the
 *    allowed nodes with mbind(MPOL_MF_MOVE), the kernel's own migration
 *    for a changed binding, Linux.MoveBatchPages pages at a time, so each
 *    batch is one MMC_EV_MIGRATION_BATCH with its count and the CPU time
 *    it took ("cpu_us=N");
 *  - move_range() moves pages with move_pages(2) to one node (the suite's
 *    remapping tool), same batching and events.
 * Pages are counted as moved only when move_pages(2) queried before and
 * after finds them on another node. The kernel moves only pages mapped
 * once (a KSM page shared by several VMs stays where it is).
 *
 * Invariant: nothing here runs without h->lock, so the VM's mapping stays
 * while its pages move; the vCPUs keep running and fault on the migration
 * entries the kernel installs, which is how no write is ever lost.
 */
#include <errno.h>
#include <numaif.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lx.h"

#define LX_NODEMASK_WORDS (MMC_MAX_NODES / (8 * sizeof(unsigned long)) + 1)

/* OS node mask of the node indices in `aff`, for mbind. */
static void os_nodemask(const lx_host_t *h, uint64_t aff, unsigned long *mask) {
  memset(mask, 0, LX_NODEMASK_WORDS * sizeof *mask);
  for (uint32_t n = 0; n < h->nnodes; n++)
    if (aff >> n & 1) {
      uint32_t os = h->nodes[n].os_index;
      if (os < LX_NODEMASK_WORDS * 8 * sizeof *mask)
        mask[os / (8 * sizeof *mask)] |= 1ul << (os % (8 * sizeof *mask));
    }
}

static int do_mbind(lx_host_t *h, void *addr, size_t len, uint64_t aff, unsigned flags,
                    mmc_error_t *err) {
  unsigned long mask[LX_NODEMASK_WORDS];
  os_nodemask(h, aff, mask);
  int mode = aff ? MPOL_BIND : MPOL_DEFAULT;
  if (mbind(addr, len, mode, aff ? mask : NULL, aff ? LX_NODEMASK_WORDS * 8 * sizeof *mask : 0,
            flags) != 0)
    return mmc_fail(err, errno == EIO ? MMC_EIO : MMC_EINVAL, "mbind(%s, nodes 0x%llx): %s",
                    aff ? "MPOL_BIND" : "MPOL_DEFAULT", (unsigned long long)aff, strerror(errno));
  return 0;
}

int lx_numa_bind_memory(lx_host_t *h, lx_vm_t *vm, uint64_t aff, mmc_error_t *err) {
  return do_mbind(h, vm->base, vm->bytes, aff, 0, err);
}

int lx_numa_bind_vcpu(lx_host_t *h, const lx_vcpu_t *v, uint64_t aff, mmc_error_t *err) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (uint32_t n = 0; n < h->nnodes; n++)
    if (!aff || (aff >> n & 1))
      for (uint32_t c = 0; c < h->nodes[n].ncpus; c++)
        if (h->nodes[n].cpus[c] < CPU_SETSIZE)
          CPU_SET(h->nodes[n].cpus[c], &set);
  if (sched_setaffinity(v->tid, sizeof set, &set) != 0)
    return mmc_fail(err, MMC_EINVAL, "sched_setaffinity(vCPU %u of VM %u, nodes 0x%llx): %s",
                    v->index, v->vm->id, (unsigned long long)aff, strerror(errno));
  return 0;
}

int lx_numa_thread_node(const lx_host_t *h, pid_t tid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  bool ok = fgets(buf, sizeof buf, f) != NULL;
  fclose(f);
  const char *s = ok ? strrchr(buf, ')') : NULL;
  if (!s)
    return -1;
  /* field 39 (processor): after ')' comes field 3 (state) */
  int field = 2, cpu = -1;
  for (s++; *s; s++)
    if (*s == ' ' && ++field == 39) {
      cpu = atoi(s + 1);
      break;
    }
  for (uint32_t n = 0; cpu >= 0 && n < h->nnodes; n++)
    for (uint32_t c = 0; c < h->nodes[n].ncpus; c++)
      if ((int)h->nodes[n].cpus[c] == cpu)
        return (int)n;
  return -1;
}

/* ---------------------------------------------------------------- migration batches */

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * LX_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Node of each page of [gpfn, gpfn+n): OS node, or a negative errno for a
 * page not present. */
static int query_nodes(lx_vm_t *vm, uint64_t gpfn, uint64_t n, void **pages, int *status,
                       mmc_error_t *err) {
  for (uint64_t i = 0; i < n; i++)
    pages[i] = vm->base + (gpfn + i) * MMC_PAGE_SIZE;
  if (move_pages(0, (unsigned long)n, pages, NULL, status, 0) != 0)
    return mmc_fail(err, MMC_EIO, "move_pages query: %s", strerror(errno));
  return 0;
}

typedef struct batch {
  void **pages;
  int *before, *after, *target;
  uint64_t cap;
} batch_t;

static int batch_alloc(batch_t *b, uint64_t cap, mmc_error_t *err) {
  b->cap = cap;
  b->pages = calloc(cap, sizeof *b->pages);
  b->before = calloc(cap, sizeof *b->before);
  b->after = calloc(cap, sizeof *b->after);
  b->target = calloc(cap, sizeof *b->target);
  if (!b->pages || !b->before || !b->after || !b->target)
    return mmc_fail(err, MMC_ENOMEM, "migration: out of memory for a batch of %llu pages",
                    (unsigned long long)cap);
  return 0;
}

static void batch_free(batch_t *b) {
  free(b->pages);
  free(b->before);
  free(b->after);
  free(b->target);
}

/* Pages whose node changed, and the most common source node (-1 mixed). */
static uint64_t count_moved(const batch_t *b, uint64_t n, int *from_os) {
  uint64_t moved = 0;
  int from = -2;
  for (uint64_t i = 0; i < n; i++)
    if (b->before[i] >= 0 && b->after[i] >= 0 && b->after[i] != b->before[i]) {
      moved++;
      from = from == -2 || from == b->before[i] ? b->before[i] : -1;
    }
  *from_os = from < 0 ? -1 : from;
  return moved;
}

static void emit_batch(lx_host_t *h, lx_vm_t *vm, uint64_t moved, int from_os, int to_os,
                       uint64_t cpu_ns, const char *why) {
  if (!moved)
    return;
  vm->pages_moved += moved;
  mmc_event_t ev = {.type = MMC_EV_MIGRATION_BATCH,
                    .vm = vm->id,
                    .node_from = from_os < 0 ? -1 : lx_node_of_os(h, from_os),
                    .node_to = to_os < 0 ? -1 : lx_node_of_os(h, to_os),
                    .count = moved};
  snprintf(ev.reason, sizeof ev.reason, "%s cpu_us=%llu", why, (unsigned long long)(cpu_ns / 1000));
  lx_emit(h, ev);
}

/* One batch by mbind(MPOL_MF_MOVE): the kernel moves what its new policy
 * no longer allows. */
static int rebind_batch(lx_host_t *h, lx_vm_t *vm, uint64_t gpfn, uint64_t n, uint64_t aff,
                        batch_t *b, mmc_error_t *err) {
  int rc = query_nodes(vm, gpfn, n, b->pages, b->before, err);
  if (rc)
    return rc;
  uint64_t c0 = thread_cpu_ns();
  rc = do_mbind(h, vm->base + gpfn * MMC_PAGE_SIZE, n * MMC_PAGE_SIZE, aff, MPOL_MF_MOVE, err);
  uint64_t cpu = thread_cpu_ns() - c0;
  if (rc == 0)
    rc = query_nodes(vm, gpfn, n, b->pages, b->after, err);
  int from;
  uint64_t moved = rc ? 0 : count_moved(b, n, &from);
  int to = __builtin_popcountll(aff) == 1 ? (int)h->nodes[__builtin_ctzll(aff)].os_index : -1;
  if (moved)
    emit_batch(h, vm, moved, from, to, cpu, "rebind");
  return rc;
}

int lx_numa_rebind(lx_host_t *h, lx_vm_t *vm, uint64_t aff, mmc_error_t *err) {
  int rc = lx_numa_bind_memory(h, vm, aff, err);
  for (uint32_t i = 0; rc == 0 && i < vm->cfg.vcpus; i++)
    if (vm->vcpus[i])
      rc = lx_numa_bind_vcpu(h, vm->vcpus[i], aff, err);
  if (rc || !aff || !lx_kernel.move_pages)
    return rc;
  uint64_t per = (uint64_t)lx_set(h, LX_SET_MOVE_BATCH_PAGES);
  batch_t b = {0};
  rc = batch_alloc(&b, per, err);
  for (uint64_t g = 0; rc == 0 && g < vm->npages; g += per)
    rc = rebind_batch(h, vm, g, vm->npages - g < per ? vm->npages - g : per, aff, &b, err);
  batch_free(&b);
  return rc;
}

/* One batch by move_pages(2) to OS node `os`. */
static int move_batch(lx_host_t *h, lx_vm_t *vm, uint64_t gpfn, uint64_t n, int os, batch_t *b,
                      uint64_t *moved, mmc_error_t *err) {
  int rc = query_nodes(vm, gpfn, n, b->pages, b->before, err);
  if (rc)
    return rc;
  for (uint64_t i = 0; i < n; i++)
    b->target[i] = os;
  uint64_t c0 = thread_cpu_ns();
  long r = move_pages(0, (unsigned long)n, b->pages, b->target, b->after, MPOL_MF_MOVE);
  uint64_t cpu = thread_cpu_ns() - c0;
  if (r < 0)
    return mmc_fail(err, errno == ENODEV || errno == EINVAL ? MMC_EINVAL : MMC_EIO,
                    "move_pages to OS node %d: %s", os, strerror(errno));
  int from;
  uint64_t k = count_moved(b, n, &from);
  *moved += k;
  emit_batch(h, vm, k, from, os, cpu, "move_range");
  return 0;
}

int lx_move_range(mmc_host_t *h, mmc_vm_id_t id, uint64_t gpfn, uint64_t count, uint32_t node,
                  uint64_t *moved, mmc_error_t *err) {
  if (!moved)
    return mmc_fail(err, MMC_EINVAL, "move_range: output pointer is NULL");
  *moved = 0;
  if (!(lx_kernel.caps & MMC_CAP_MOVE_RANGE))
    return mmc_fail(err, MMC_ENOTSUP, "move_range: %s", lx_why_not(MMC_CAP_MOVE_RANGE));
  lx_lock(h);
  lx_vm_t *vm = lx_vm_get(h, id, err);
  int rc = vm ? 0 : MMC_ENOENT;
  if (rc == 0 && node >= h->nnodes)
    rc = mmc_fail(err, MMC_ENOENT, "move_range: node %u does not exist (0..%u)", node,
                  h->nnodes - 1);
  if (rc == 0 && (gpfn >= vm->npages || count > vm->npages - gpfn))
    rc = mmc_fail(err, MMC_ERANGE, "move_range: pages %llu..+%llu outside 0..%llu",
                  (unsigned long long)gpfn, (unsigned long long)count,
                  (unsigned long long)vm->npages - 1);
  uint64_t per = (uint64_t)lx_set(h, LX_SET_MOVE_BATCH_PAGES);
  batch_t b = {0};
  if (rc == 0)
    rc = batch_alloc(&b, per, err);
  for (uint64_t g = gpfn; rc == 0 && g < gpfn + count; g += per)
    rc = move_batch(h, vm, g, gpfn + count - g < per ? gpfn + count - g : per,
                    (int)h->nodes[node].os_index, &b, moved, err);
  batch_free(&b);
  lx_unlock(h);
  return rc;
}
