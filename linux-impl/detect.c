/*
 * detect.c — what this kernel offers this process, found once when
 * libmmlinux.so is loaded, and so which capabilities the implementation
 * declares and why the others are clear (impl.h "What may be missing").
 *
 * A mechanism is offered only when it is there now: a kernel built without
 * KSM, a process without root (ksmd and swap areas are machine-wide and
 * only root may change them), a temporary directory on tmpfs (the kernel
 * refuses swap files there) each clear a flag, and why_not() says which.
 * Behaviours Linux does not have at all are clear on every machine, and
 * their sentence says what Linux does instead. Nothing here changes the
 * machine.
 *
 * Invariant: lx_kernel.caps is written once, by the constructor, before any
 * other function of the object can run; why_not() never returns a sentence
 * for a flag that is set.
 */
#include <errno.h>
#include <numaif.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "lx.h"
#include "mmc_tmpdir.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif
#ifndef RAMFS_MAGIC
#define RAMFS_MAGIC 0x858458f6
#endif

lx_kernel_t lx_kernel;

static char why_sharing[192], why_swap[192], why_compression[192], why_migration[160],
    why_affinity[160], why_wss[160];

static bool file_has(const char *path, const char *needle) {
  char buf[8192];
  FILE *f = fopen(path, "r");
  if (!f)
    return false;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  return strstr(buf, needle) != NULL;
}

/* Nodes in /sys/devices/system/node/online ("0", "0-3", "0,2-3"). */
static int online_nodes(void) {
  char buf[256];
  FILE *f = fopen("/sys/devices/system/node/online", "r");
  if (!f)
    return 1;
  int n = 0;
  if (fgets(buf, sizeof buf, f))
    for (char *s = buf; *s && *s != '\n';) {
      int a, b;
      int k = 0;
      if (sscanf(s, "%d-%d%n", &a, &b, &k) == 2 && k > 0)
        n += b - a + 1;
      else if (sscanf(s, "%d%n", &a, &k) == 1 && k > 0)
        n += 1;
      else
        break;
      s += k;
      if (*s == ',')
        s++;
    }
  fclose(f);
  return n > 0 ? n : 1;
}

static bool move_pages_works(void) {
  static char probe[4096] __attribute__((aligned(4096)));
  probe[0] = 1;
  void *pages[1] = {probe};
  int status[1] = {0};
  return move_pages(0, 1, pages, NULL, status, 0) == 0;
}

/* Why the default swap directory cannot hold swap files, or "". */
static void swap_dir_check(char *why, size_t len) {
  why[0] = '\0';
  lx_swap_dir_ok(mmc_tmpdir(), why, len);
}

static void probe_kernel(lx_kernel_t *k) {
  k->root = geteuid() == 0;
  k->numa_syscalls = get_mempolicy(NULL, NULL, 0, NULL, 0) == 0;
  k->move_pages = k->numa_syscalls && move_pages_works();
  k->ksm = access("/sys/kernel/mm/ksm/run", F_OK) == 0;
  k->smaps_ksm = file_has("/proc/self/smaps_rollup", "\nKSM:");
  k->swap = access("/proc/swaps", F_OK) == 0;
  k->zswap = access("/sys/module/zswap/parameters/enabled", F_OK) == 0;
  k->numa_balancing = access("/proc/sys/kernel/numa_balancing", F_OK) == 0;
  k->clear_refs = access("/proc/self/clear_refs", W_OK) == 0;
  k->kpageflags = k->root && access("/proc/kpageflags", R_OK) == 0;
  k->nodes = online_nodes();
}

static uint64_t decide(const lx_kernel_t *k) {
  uint64_t caps = MMC_CAP_CLOCK_LIVE | MMC_CAP_REAL_NODES_ONLY | MMC_CAP_BALLOON;
  if (k->move_pages)
    caps |= MMC_CAP_MIGRATION | MMC_CAP_MOVE_RANGE;
  else
    snprintf(why_migration, sizeof why_migration,
             "this kernel does not migrate pages on request: move_pages(2) failed "
             "(CONFIG_MIGRATION or CONFIG_NUMA missing)");
  if (k->numa_syscalls)
    caps |= MMC_CAP_NODE_AFFINITY;
  else
    snprintf(why_affinity, sizeof why_affinity,
             "this kernel has no NUMA memory policy: get_mempolicy(2) failed (CONFIG_NUMA "
             "missing)");
  if (k->ksm && k->root)
    caps |= MMC_CAP_SHARING;
  else
    snprintf(why_sharing, sizeof why_sharing, "%s",
             !k->ksm ? "this kernel has no KSM: /sys/kernel/mm/ksm is missing (CONFIG_KSM)"
                     : "KSM needs root here: ksmd is machine-wide and only root may start and "
                       "pace it");
  char dir_why[160];
  swap_dir_check(dir_why, sizeof dir_why);
  if (k->swap && k->root && !dir_why[0])
    caps |= MMC_CAP_SWAP;
  else
    snprintf(why_swap, sizeof why_swap, "%s",
             !k->swap   ? "this kernel has no swap: /proc/swaps is missing (CONFIG_SWAP)"
             : !k->root ? "host swapping needs root here: swap areas are machine-wide (swapon)"
                        : dir_why);
  if ((caps & MMC_CAP_SWAP) && k->zswap)
    caps |= MMC_CAP_COMPRESSION;
  else
    snprintf(why_compression, sizeof why_compression, "%s",
             !k->zswap ? "this kernel has no zswap: /sys/module/zswap is missing (CONFIG_ZSWAP)"
                       : "zswap compresses pages on their way to swap, and host swapping is "
                         "not available here");
  if (k->clear_refs)
    caps |= MMC_CAP_WSS;
  else
    snprintf(why_wss, sizeof why_wss,
             "the kernel's referenced bits cannot be cleared: /proc/self/clear_refs is not "
             "writable");
  return caps;
}

void lx_detect(void) {
  probe_kernel(&lx_kernel);
  lx_kernel.caps = decide(&lx_kernel);
}

const char *lx_why_not(uint64_t cap) {
  if (lx_kernel.caps & cap)
    return NULL;
  switch (cap) {
  case MMC_CAP_CLOCK_STEPPED:
    return "Linux runs its own daemons (ksmd, kswapd, NUMA balancing, the scheduler) on real "
           "time: there is no stepped clock to advance";
  case MMC_CAP_PLACEMENT:
    return "Linux has no NUMA home node: a vCPU thread runs on any allowed CPU and a page "
           "comes from the node of the CPU that first touches it (first touch)";
  case MMC_CAP_REBALANCE:
    return "Linux has no fixed-period NUMA rebalancer: the scheduler balances load all the "
           "time and automatic NUMA balancing moves tasks and pages by sampled hinting faults";
  case MMC_CAP_MIGRATION: return why_migration;
  case MMC_CAP_MOVE_RANGE: return why_migration;
  case MMC_CAP_SHARING: return why_sharing;
  case MMC_CAP_WSS: return why_wss;
  case MMC_CAP_ALLOC_TARGETS:
    return "Linux has no share-based memory allocation and no idle memory tax; cgroup "
           "memory.min/low/max charge a whole process (its mm), never one VM of it";
  case MMC_CAP_COMPRESSION: return why_compression;
  case MMC_CAP_SWAP: return why_swap;
  case MMC_CAP_MEMSTATE:
    return "Linux has no ESXi memory states: kswapd reclaims between each zone's min, low and "
           "high watermarks";
  case MMC_CAP_VNUMA:
    return "Linux has no virtual NUMA topology of its own: a KVM guest's nodes are what QEMU "
           "is told (-numa)";
  case MMC_CAP_NODE_MAPPINGS:
    return "guest memory is one anonymous mapping per VM and the kernel places each page on "
           "a node: move_pages(2) and /proc/self/pagemap tell where, no mapping name does";
  case MMC_CAP_SALTING:
    return "Linux has no per-VM salt: KSM merges identical pages of any two mergeable areas";
  case MMC_CAP_FAULT_INJECTION:
    return "Linux offers no injection of swap write errors or frame exhaustion for one process";
  case MMC_CAP_NODE_AFFINITY: return why_affinity;
  default: return NULL;
  }
}
