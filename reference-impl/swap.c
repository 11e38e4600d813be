/*
 * swap.c — host swapping with a compression cache in front (SWAP-1, SWAP-2,
 * ZIP-1, TPS-7, SEC-2; row REF_MECH_SWAP, MMC_CAP_SWAP | MMC_CAP_COMPRESSION).
 *
 * Swap files (SWAP-1, SEC-2). The host's swap directory is
 * mmc_host_config_t.swap_dir. Without one, each VM's file is an unnamed
 * O_TMPFILE under $TMPDIR, else /tmp (or, where the file system lacks
 * O_TMPFILE, a file in its own mkdtemp directory, unlinked at once): only
 * the open descriptor names it, so nothing can be left behind even if the
 * process is killed.
 * Each VM gets "vm<id>-<pid>-<n>.vswp" there at power-on,
 * created O_EXCL with mode 0600, sized configured − reservation pages and
 * allocated with fallocate (so a short file system refuses the power-on
 * now, not a swap-out later) when Ref.SwapPreallocate = 1; by default
 * (0) the file is sparse (ftruncate) after checking that the file system
 * has room for it, so that hundreds of test VMs do not fill a shared disk —
 * a later ENOSPC while swapping is then handled like any write error (the
 * page stays resident). A file that cannot be created or allocated
 * fails the power-on with MMC_EADMISSION naming the path and the errno
 * text; nothing is left behind. Power-off closes and unlinks it. Guest data
 * goes nowhere else (the compression cache is process memory).
 *
 * Swap-out (ref_swap_reclaim, called by the reclaim tick of memstate.c with
 * h->lock held). Victims are chosen at random (xoshiro seeded from the host
 * seed and the VM id: deterministic in stepped mode), in random clusters:
 * a uniformly random starting page and the resident private pages among the
 * next SWAP_VICTIM_RUN (64 = one 256 KB write of the default
 * Ref.SwapClusterPages), then, if too few, a scan from a random point.
 * Why clusters are faithful to SWAP-2 ("pages are chosen at random"): what
 * the rule excludes is choosing with knowledge of the guest (the host has
 * none; the seeds contrast random host swapping with the guest's own
 * paging via the balloon); a random cluster is as blind as independent
 * draws, every page is equally likely to be taken, and the victims of a
 * tick are spread over the whole VM (the SWAP-2 case checks that). What
 * clusters buy is I/O and frame release in clusters: neighbouring guest
 * pages mostly sit in neighbouring frames and get neighbouring slots, so
 * one pwritev writes them and one fallocate gives their frames back —
 * freeing frames one by one (a punch, hence a
 * page-table zap and TLB flush, per 4 KB) cost more than the write itself.
 * A batch of up to SWAP_CLUSTERS_PER_BATCH x Ref.SwapClusterPages victims
 * goes through ref_pmap_remap (one quiescence wait); for each page, in order:
 *   1. sharing (TPS-7): first the whole batch goes through the share
 *      mechanism's table (ref_share_before_swap, defined in share.c, a weak
 *      symbol here): pages merged onto a shared frame are SHARED now and
 *      are not swapped (the remap takes PRIVATE pages only);
 *   2. compression (ZIP-1, when Mem.MemZipEnable): the VM's compression
 *      cache (zip.c) keeps the page when it compresses to at most 2 KB and
 *      the cache is below Mem.MemZipMaxPct % of the VM's memory (read at
 *      each page) -> entry REF_PTE_COMPRESSED with the cache slot in the
 *      frame bits; its frame is freed with the batch;
 *   3. otherwise the page gets a swap slot -> REF_PTE_SWAPPED; its old frame
 *      (which no vCPU can reach any more) is kept, unchanged, until the
 *      write is done: the data is written from it, not copied first.
 * The batch is then written with pwritev in runs of consecutive slots of at
 * most Ref.SwapClusterPages pages (batch_write), then finished
 * (batch_finish): frames of written pages and of compressed ones are queued
 * as runs of contiguous frames (per node, at most SWAP_RUN_MAX) and given
 * back to the kernel by one ref_frame_free_many (one fallocate) each. A run
 * that fails (ENOSPC, EIO, short write; or a fault injected through the
 * contract, MMC_FAULT_SWAP_WRITE, host.c): each page's entry is
 * switched back (CAS) to its old private frame, still holding the data, and
 * the slot is freed: the page stays resident, nothing is lost; MMC_EV_ERROR
 * "swap write: <errno text>" (count = pages kept) is raised and the VM's
 * error count grows; no new batch is started in this call.
 * Pipeline (swap_pipe_t): a call wanting more than one batch starts a writer
 * thread for its duration; batch k is written there while this thread
 * prepares batch k+1 and finishes batch k-1 (two swap_batch_t per VM) and
 * punches the queued frame runs. Writing (a copy into the page cache) and
 * giving frames back (unmap, free) each cost about a microsecond per page:
 * on two cores they overlap instead of adding up. Only this thread punches:
 * when the idle writer punched too, 31 % of all punching time was the two
 * threads spinning on the memfd's inode lock (shmem_fallocate takes it for
 * the whole punch; perf, doc/reclaim.md). Without the thread (one batch, or
 * pthread_create failed) the same steps run in order. Every queued frame is
 * given back before the call returns (the writer is joined), so the pools'
 * free counts are exact when the reclaim tick looks at them.
 * The swap file stays sparse; its blocks are allocated 4 MB ahead of the
 * writes (alloc_ahead), which makes the buffered writes cheaper.
 * A vCPU touching a page of an unfinished batch reads it from its old frame
 * (swap-in below), so no write is needed for it.
 *
 * Swap-in (the fault row for SWAPPED and COMPRESSED, on the vCPU thread
 * with the entry BUSY): through the low-memory gate of memstate.c, a zeroed
 * frame on the home node of the page's client (ref_vm_alloc_frame), then
 * pread of the slot (or decompression of the cache slot, zip.c); the slot is
 * freed and the entry becomes PRIVATE. A read error fails the access with
 * MMC_EIO and leaves the page swapped (MMC_EV_ERROR). Events: MMC_EV_SWAP_OUT
 * and MMC_EV_COMPRESS per batch (count = pages), MMC_EV_SWAP_IN per page
 * (reason "swap" or "zip").
 *
 * Locking (ref.h, "Lock ordering"): the per-VM `lock` guards the slot
 * allocator, the compression cache (zip.c takes no lock of its own), the
 * batches' page lists (npend, taken)
 * and the file; it is taken under h->lock (reclaim) or with an entry BUSY
 * (swap-in), takes only a pool's lock under it, and is never held while
 * waiting for vCPUs or for a BUSY entry (page_failed drops it between its
 * tries: L3). The writer thread takes only the pipe's mutex: it reads the
 * old frames and the pend entries of the batch it was handed (the hand-off
 * through that mutex orders those accesses) and sets their err.
 *
 * Invariants: swapped = SWAPPED entries; compressed = COMPRESSED entries;
 * every used slot belongs to exactly one entry (or to a pending page of an
 * unfinished batch); the old frame of a pending page is allocated and
 * unchanged until its batch is finished; a page whose write failed is
 * PRIVATE with its old frame.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sched.h>
#include <unistd.h>

#include "mmc_tmpdir.h"
#include "reclaim.h"
#include "rng.h"
#include "twin.h"
#include "zip.h"

#define SWAP_CLUSTERS_PER_BATCH 8u /* clusters per remap (one quiescence wait each batch) */
#define SWAP_PROBES_PER_VICTIM 2u  /* random probes per wanted victim before scanning */
#define SWAP_VICTIM_RUN 64u        /* consecutive pages taken from each random start */
#define SWAP_ALLOC_AHEAD 1024u     /* pages of swap file given blocks at once (4 MB) */
#define SWAP_RUN_MAX 256u          /* most frames given back by one fallocate (1 MB) */
#define SWAP_CLUSTER_MAX 1024u     /* most pages per write: the maximum of Ref.SwapClusterPages */
#define SWAP_PATH_MAX 4096u
#define SWAP_DIR_MAX (SWAP_PATH_MAX - 128u) /* room for the file name */

/* TPS-7 hook, defined in share.c when sharing is built: the batch's pages
 * go through the share table first; those merged become SHARED and are not
 * swapped. Returns pages merged. */
extern size_t ref_share_before_swap(ref_host_t *h, ref_vm_t *vm, const uint64_t *gpfns, size_t n)
    __attribute__((weak));

typedef struct swap_host {
  char dir[SWAP_DIR_MAX];
  bool own_dir; /* no swap_dir given: dir is a mkdtemp template (private files) */
} swap_host_t;

/* One page of a batch bound for the swap file: written from its old frame. */
typedef struct swap_pend {
  uint64_t gpfn;
  uint64_t slot;
  uint64_t old_pte; /* its private frame, kept until written */
  int err;          /* errno of its run's write, set by the writer (0: written) */
  bool taken;       /* swapped in from the old frame before the write was done */
} swap_pend_t;

/* A batch of the swap-out pipeline (two per VM: one being written while the
 * other is prepared or finished). Arrays of s->batch entries. */
typedef struct swap_batch {
  swap_pend_t *pend; /* pages for the file, in slot order */
  size_t npend;
  uint64_t *freeing; /* old entries whose frames the batch gives back */
  size_t nfreeing;
  uint64_t *frames; /* scratch: one node's frames of freeing */
  uint64_t zipped, shared;
} swap_batch_t;

typedef struct swap_vm {
  pthread_mutex_t lock;
  int fd;
  char *path;    /* for messages and removal; heap, exact size: a fixed PATH_MAX
                   buffer per VM made power-on touch a fresh heap page (bench placement) */
  bool unlinked; /* private file: no name left once created */
  uint64_t nslots, slot_bump, nfree_slots;
  uint32_t *free_slots;
  ref_zip_t zip; /* the compression cache (ZIP-1); its mapping made with the buffers */
  ref_rng_t rng;
  swap_batch_t b[2];
  size_t batch;
  uint64_t falloc_end; /* slots [0, falloc_end) have file blocks (alloc_ahead) */
  _Atomic uint64_t swapped, compressed, io_errors;
} swap_vm_t;

static swap_vm_t *sw_of(const ref_vm_t *vm) {
  return vm->mech[REF_MECH_SWAP];
}

/* ---------------------------------------------------------------- slots */

static bool slot_alloc(swap_vm_t *s, uint64_t *out) {
  if (s->slot_bump < s->nslots) {
    *out = s->slot_bump++;
    return true;
  }
  if (!s->nfree_slots)
    return false;
  *out = s->free_slots[--s->nfree_slots];
  return true;
}

static void slot_free(swap_vm_t *s, uint64_t slot) {
  ref_assert(slot < s->slot_bump && s->nfree_slots < s->slot_bump);
  s->free_slots[s->nfree_slots++] = (uint32_t)slot;
}

void ref_swap_drop(ref_host_t *h, ref_vm_t *vm, uint64_t old_pte) {
  swap_vm_t *s = sw_of(vm);
  if (!s)
    return;
  ref_lock(&s->lock, REF_LC_SWAP_VM);
  if (ref_pte_state(old_pte) == REF_PTE_SWAPPED) {
    slot_free(s, ref_pte_frame(old_pte));
    atomic_fetch_sub(&s->swapped, 1);
  } else if (ref_pte_state(old_pte) == REF_PTE_COMPRESSED) {
    ref_zip_drop(&s->zip, ref_pte_frame(old_pte));
    atomic_fetch_sub(&s->compressed, 1);
  }
  ref_unlock(&s->lock, REF_LC_SWAP_VM);
}

/* ---------------------------------------------------------------- swap-out */

/* Up to max random victims (resident private pages without flags). */
static bool victim_ok(const ref_vm_t *vm, uint64_t g) {
  uint64_t pte = ref_pmap_get(vm->pmap, g);
  /* SAMPLED is transparent to remaps (pmap.c): a sampled page can go too. */
  return ref_pte_state(pte) == REF_PTE_PRIVATE && !(pte & REF_PTE_FLAGS_MASK & ~REF_PTE_SAMPLED);
}

/* Up to max victims (resident private pages without flags): random
 * clusters (the resident private pages among SWAP_VICTIM_RUN consecutive
 * pages from a uniformly random start, wrapping at the end so that every
 * page is equally likely), then, if too few, a scan from a random point.
 * Duplicates are possible: the caller sorts and drops them. */
static size_t pick_victims(ref_vm_t *vm, swap_vm_t *s, uint64_t *out, size_t max) {
  size_t n = 0;
  for (size_t p = 0; p < max * SWAP_PROBES_PER_VICTIM / SWAP_VICTIM_RUN + 1 && n < max; p++) {
    uint64_t g =
        REF_TWIN(SWAP2_VICTIMS_FROM_THE_FIRST_PAGE) ? 0 : ref_rng_below(&s->rng, vm->npages);
    for (uint64_t k = 0; k < SWAP_VICTIM_RUN && k < vm->npages && n < max; k++)
      if (victim_ok(vm, (g + k) % vm->npages))
        out[n++] = (g + k) % vm->npages;
  }
  if (n == max)
    return n;
  uint64_t start =
      REF_TWIN(SWAP2_VICTIMS_FROM_THE_FIRST_PAGE) ? 0 : ref_rng_below(&s->rng, vm->npages);
  for (uint64_t k = 0; k < vm->npages && n < max; k++) {
    uint64_t g = (start + k) % vm->npages;
    if (victim_ok(vm, g))
      out[n++] = g;
  }
  return n;
}

static size_t sort_unique(uint64_t *v, size_t n) {
  if (n < 2)
    return n;
  qsort(v, n, sizeof *v, ref_cmp_u64);
  size_t k = 1;
  for (size_t i = 1; i < n; i++)
    if (v[i] != v[k - 1])
      v[k++] = v[i];
  return k;
}

static void out_events(ref_host_t *h, ref_vm_t *vm, uint64_t zipped, uint64_t written) {
  if (zipped)
    ref_event_emit(h, (mmc_event_t){.type = MMC_EV_COMPRESS,
                                    .vm = vm->id,
                                    .node_from = -1,
                                    .node_to = -1,
                                    .count = zipped,
                                    .reason = "zip"});
  if (written)
    ref_event_emit(h, (mmc_event_t){.type = MMC_EV_SWAP_OUT,
                                    .vm = vm->id,
                                    .node_from = -1,
                                    .node_to = -1,
                                    .count = written,
                                    .reason = "swap"});
}

/* Release the swap-out working memory (any part of it may be missing). */
static void sw_free_buffers(swap_vm_t *s) {
  ref_zip_free(&s->zip);
  free(s->free_slots);
  s->free_slots = NULL;
  for (size_t i = 0; i < 2; i++) {
    free(s->b[i].pend);
    free(s->b[i].freeing);
    free(s->b[i].frames);
    s->b[i] = (swap_batch_t){0};
  }
}

static bool batch_alloc(swap_batch_t *b, size_t n) {
  b->pend = malloc(n * sizeof *b->pend);
  b->freeing = malloc(n * sizeof *b->freeing);
  b->frames = malloc(n * sizeof *b->frames);
  return b->pend && b->freeing && b->frames;
}

/* The VM's swap-out working memory, made on first use; false when memory
 * for it cannot be had (nothing is swapped then, an error event says why). */
static bool sw_buffers(ref_host_t *h, ref_vm_t *vm, swap_vm_t *s) {
  if (s->zip.cache) /* made last: everything is */
    return true;
  s->free_slots = malloc((s->nslots ? s->nslots : 1) * sizeof *s->free_slots);
  bool batches = batch_alloc(&s->b[0], s->batch) & batch_alloc(&s->b[1], s->batch);
  if (s->free_slots && batches && ref_zip_alloc(&s->zip))
    return true;
  sw_free_buffers(s);
  mmc_event_t ev = {.type = MMC_EV_ERROR, .vm = vm->id, .node_from = -1, .node_to = -1};
  snprintf(ev.reason, sizeof ev.reason, "swap: out of memory");
  ref_event_emit(h, ev);
  return false;
}

enum { KIND_NONE, KIND_FREE_NOW, KIND_PENDING };

typedef struct out_ctx {
  ref_host_t *h;
  ref_vm_t *vm;
  swap_vm_t *s;
  swap_batch_t *b;
  bool zip;
  int last_kind;
} out_ctx_t;

static bool out_eligible(void *ctx, uint64_t gpfn, uint64_t pte) {
  return ref_pte_state(pte) == REF_PTE_PRIVATE;
}

/* ZIP-1: into the cache when the page compresses to a slot and the cache
 * is below Mem.MemZipMaxPct % of the VM. */
static bool out_compress(out_ctx_t *c, const uint8_t *src, uint64_t *new_pte) {
  uint64_t pct = (uint64_t)ref_set(c->h, REF_SET_MEM_ZIP_MAX_PCT), slot;
  if (!ref_zip_store(&c->s->zip, ref_zip_cap(&c->s->zip, c->vm->npages, pct), src, &slot))
    return false;
  *new_pte = ref_pte_make(REF_PTE_COMPRESSED, 0, slot);
  return true;
}

/* Compressed (its frame is freed with the batch), or bound for the swap
 * file: a slot now, the data written from the old frame later (no copy). */
static bool out_transform(void *ctx, uint64_t gpfn, uint64_t old_pte, uint64_t *new_pte) {
  out_ctx_t *c = ctx;
  swap_vm_t *s = c->s;
  swap_batch_t *b = c->b;
  c->last_kind = KIND_NONE;
  if (ref_pte_state(old_pte) != REF_PTE_PRIVATE)
    return false;
  const uint8_t *src =
      c->h->pool_bases[ref_pte_node(old_pte)] + ref_pte_frame(old_pte) * MMC_PAGE_SIZE;
  ref_lock(&s->lock, REF_LC_SWAP_VM);
  bool done = c->zip && out_compress(c, src, new_pte);
  if (done) {
    c->last_kind = KIND_FREE_NOW;
    b->zipped++;
    atomic_fetch_add(&s->compressed, 1);
  } else if (b->npend < s->batch) {
    uint64_t slot;
    if ((done = slot_alloc(s, &slot))) {
      b->pend[b->npend++] = (swap_pend_t){.gpfn = gpfn, .slot = slot, .old_pte = old_pte};
      *new_pte = ref_pte_make(REF_PTE_SWAPPED, 0, slot);
      c->last_kind = KIND_PENDING;
      atomic_fetch_add(&s->swapped, 1);
    }
  }
  ref_unlock(&s->lock, REF_LC_SWAP_VM);
  return done;
}

/* ---------------------------------------------------------------- pipe */

/* A run of contiguous frames of one node to give back (one fallocate). */
typedef struct swap_run {
  uint32_t node;
  uint64_t first, n;
} swap_run_t;

/* One ref_swap_reclaim call's pipeline. With a writer thread (a call that
 * wants more than one batch): the writer writes batch k while this thread
 * prepares batch k+1 (pick, share, remap) and finishes batch k-1. Frames to
 * give back are queued as runs and punched by this thread only, while it
 * waits for the writer and when the call ends (two punching threads spin
 * on the memfd's inode lock). Without the thread the same steps run in
 * order. */
typedef struct swap_pipe {
  ref_host_t *h;
  swap_vm_t *s;
  bool threaded;
  pthread_t th;
  pthread_mutex_t mu; /* guards job, quit and the run queue */
  pthread_cond_t cv;
  swap_batch_t *job; /* handed to the writer, not yet written */
  bool quit;
  swap_run_t *runs; /* ring of rcap runs to punch */
  size_t rhead, rlen, rcap;
} swap_pipe_t;

/* Give back one run (outside every lock but the pool's). */
static void run_release(ref_host_t *h, const swap_run_t *r) {
  uint64_t f[SWAP_RUN_MAX];
  for (uint64_t i = 0; i < r->n; i++)
    f[i] = r->first + i;
  ref_frame_free_many(h->pools[r->node], f, r->n);
}

/* Pop one queued run and give it back; p->mu held on entry and on return
 * (dropped meanwhile). false when the queue is empty. */
static bool pipe_release_one(swap_pipe_t *p) {
  if (!p->rlen)
    return false;
  swap_run_t r = p->runs[p->rhead];
  p->rhead = (p->rhead + 1) % p->rcap;
  p->rlen--;
  ref_unlock(&p->mu, REF_LC_SWAP_PIPE);
  run_release(p->h, &r);
  ref_lock(&p->mu, REF_LC_SWAP_PIPE);
  return true;
}

/* p->mu held (dropped while helping when the queue is full). */
static void pipe_push(swap_pipe_t *p, swap_run_t r) {
  while (p->rlen == p->rcap) /* full: help first */
    pipe_release_one(p);
  p->runs[(p->rhead + p->rlen) % p->rcap] = r;
  p->rlen++;
}

/* Queue the frames a finished batch gives back: node by node, sorted,
 * contiguous frames in one run of at most SWAP_RUN_MAX. They leave the VM
 * now (pages_per_node); the pools count them free once punched. */
static void release_batch_frames(swap_pipe_t *p, ref_vm_t *vm, swap_batch_t *b) {
  ref_lock(&p->mu, REF_LC_SWAP_PIPE); /* one lock and one wake-up for the batch */
  while (b->nfreeing) {
    uint32_t node = ref_pte_node(b->freeing[0]);
    size_t n = 0, keep = 0;
    for (size_t i = 0; i < b->nfreeing; i++)
      if (ref_pte_node(b->freeing[i]) == node)
        b->frames[n++] = ref_pte_frame(b->freeing[i]);
      else
        b->freeing[keep++] = b->freeing[i];
    b->nfreeing = keep;
    n = sort_unique(b->frames, n);
    atomic_fetch_sub(&vm->pages_per_node[node], n);
    for (size_t i = 0; i < n;) {
      size_t j = i + 1;
      while (j < n && j - i < SWAP_RUN_MAX && b->frames[j] == b->frames[j - 1] + 1)
        j++;
      pipe_push(p, (swap_run_t){.node = node, .first = b->frames[i], .n = j - i});
      i = j;
    }
  }
  pthread_cond_broadcast(&p->cv);
  ref_unlock(&p->mu, REF_LC_SWAP_PIPE);
}

/* Everything queued given back, by this thread. */
static void pipe_drain(swap_pipe_t *p) {
  ref_lock(&p->mu, REF_LC_SWAP_PIPE);
  while (pipe_release_one(p))
    ;
  ref_unlock(&p->mu, REF_LC_SWAP_PIPE);
}

static void free_private(ref_host_t *h, ref_vm_t *vm, uint64_t pte) {
  uint32_t n = ref_pte_node(pte);
  ref_frame_free(h->pools[n], ref_pte_frame(pte));
  atomic_fetch_sub(&vm->pages_per_node[n], 1);
}

static void out_release(void *ctx, uint64_t gpfn, uint64_t old_pte) {
  out_ctx_t *c = ctx;
  if (c->last_kind == KIND_FREE_NOW) /* freed with the batch, after publication */
    c->b->freeing[c->b->nfreeing++] = old_pte;
  /* KIND_PENDING: the frame is freed once its run is written (batch_finish). */
}

static const ref_remap_ops_t out_ops = {
    .transform = out_transform, .release = out_release, .eligible = out_eligible};

/* pwritev all of it, or errno of the failure (ENOSPC for a short write). */
static int write_run(ref_host_t *h, int fd, struct iovec *iov, int niov, off_t off) {
  /* Injected fault (MMC_FAULT_SWAP_WRITE): this write fails. */
  int64_t k = atomic_load(&h->fault_swap_writes);
  while (k > 0 && !atomic_compare_exchange_weak(&h->fault_swap_writes, &k, k - 1))
    ;
  if (k > 0)
    return atomic_load(&h->fault_swap_errno);
  while (niov > 0) {
    ssize_t w = pwritev(fd, iov, niov, off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return w < 0 ? errno : ENOSPC;
    off += w;
    for (; niov > 0 && (size_t)w >= iov->iov_len; niov--, iov++)
      w -= (ssize_t)iov->iov_len;
    if (niov > 0) { /* short write inside this vector */
      iov->iov_base = (uint8_t *)iov->iov_base + w;
      iov->iov_len -= (size_t)w;
    }
  }
  return 0;
}

/* Give the sparse swap file blocks for slots [0, end) ahead of the writes,
 * SWAP_ALLOC_AHEAD pages at a time. A buffered write into a hole reserves
 * blocks page by page (ext4 delayed allocation: a third of the cost of the
 * write); into blocks already allocated it only copies: measured here
 * (ext4, 256 KB writes) 4.2 GB/s into holes, 6.1 GB/s with a fallocate per
 * 4 MB ahead, the fallocate included. The file stays sparse beyond what was
 * written (power-on stays cheap, a short disk is not filled by idle VMs).
 * Best effort: where it fails (no fallocate, no space) the write itself
 * allocates, or fails and keeps its pages resident. Called by the one
 * thread writing (s->falloc_end is the writer's). */
static void alloc_ahead(swap_vm_t *s, uint64_t end) {
  if (end <= s->falloc_end)
    return;
  uint64_t to = end + SWAP_ALLOC_AHEAD < s->nslots ? end + SWAP_ALLOC_AHEAD : s->nslots;
  if (fallocate(s->fd, 0, (off_t)(s->falloc_end * MMC_PAGE_SIZE),
                (off_t)((to - s->falloc_end) * MMC_PAGE_SIZE)) == 0)
    s->falloc_end = to;
  else if (errno == EOPNOTSUPP)
    s->falloc_end = s->nslots; /* not on this file system: do not ask again */
}

/* Write a batch's pages from their old frames: runs of consecutive slots
 * of at most Ref.SwapClusterPages pages, one pwritev each (neighbouring
 * frames in one vector). Each page gets its run's errno (0: written). The
 * frames are the batch's until batch_finish; no lock is needed: only the
 * writer reads them, a swap-in copies them under s->lock. */
static void batch_write(ref_host_t *h, swap_vm_t *s, swap_batch_t *b) {
  size_t cluster = (size_t)ref_set(h, REF_SET_REF_SWAP_CLUSTER_PAGES);
  struct iovec iov[SWAP_CLUSTER_MAX];
  for (size_t i = 0; i < b->npend;) {
    int niov = 0;
    size_t j = i;
    do {
      uint64_t pte = b->pend[j].old_pte;
      uint8_t *src = h->pool_bases[ref_pte_node(pte)] + ref_pte_frame(pte) * MMC_PAGE_SIZE;
      if (niov && (uint8_t *)iov[niov - 1].iov_base + iov[niov - 1].iov_len == src)
        iov[niov - 1].iov_len += MMC_PAGE_SIZE;
      else
        iov[niov++] = (struct iovec){.iov_base = src, .iov_len = MMC_PAGE_SIZE};
      j++;
    } while (j < b->npend && j - i < cluster && b->pend[j].slot == b->pend[j - 1].slot + 1);
    alloc_ahead(s, b->pend[j - 1].slot + 1);
    int e = write_run(h, s->fd, iov, niov, (off_t)(b->pend[i].slot * MMC_PAGE_SIZE));
    for (; i < j; i++)
      b->pend[i].err = e;
  }
}

/* Back to the old private frame, keeping a SAMPLED mark set meanwhile. */
static bool revert(ref_vm_t *vm, const swap_pend_t *p, uint64_t cur) {
  uint64_t now = ref_pmap_get(vm->pmap, p->gpfn), sampled = now & REF_PTE_SAMPLED;
  return ref_pmap_cas(vm->pmap, p->gpfn, cur | sampled, p->old_pte | sampled);
}

/* A page whose write failed goes back to its old frame. s->lock held.
 * Returns 1 when it stays resident there (0: a vCPU took it meanwhile). */
static uint64_t page_failed(ref_host_t *h, ref_vm_t *vm, swap_vm_t *s, swap_pend_t *p) {
  slot_free(s, p->slot);
  uint64_t cur = ref_pte_make(REF_PTE_SWAPPED, 0, p->slot);
  /* Until a vCPU takes it from the batch, the entry is ours; a vCPU that
   * locked it BUSY waits for s->lock in swap-in: let it run, then retry. */
  while (!p->taken && !revert(vm, p, cur)) {
    ref_unlock(&s->lock, REF_LC_SWAP_VM);
    sched_yield();
    ref_lock(&s->lock, REF_LC_SWAP_VM);
  }
  if (p->taken) { /* back in a new frame already (swap-in counted it): drop the old one */
    free_private(h, vm, p->old_pte);
    return 0;
  }
  atomic_fetch_sub(&s->swapped, 1);
  return 1;
}

/* After its write: frames of written pages (and of compressed ones) go back
 * to the kernel, pages of failed runs stay resident (MMC_EV_ERROR). Returns
 * the frames the batch freed (sharing included). */
static uint64_t batch_finish(swap_pipe_t *pp, ref_vm_t *vm, swap_batch_t *b, uint64_t *kept_out) {
  ref_host_t *h = pp->h;
  swap_vm_t *s = pp->s;
  uint64_t written = 0, kept = 0;
  int first_err = 0;
  ref_lock(&s->lock, REF_LC_SWAP_VM);
  for (size_t i = 0; i < b->npend; i++) {
    swap_pend_t *p = &b->pend[i];
    if (p->err && REF_TWIN(INT1_FAILED_SWAP_WRITE_IGNORED))
      p->err = 0; /* twin: the page counts as written; its slot holds nothing */
    if (p->err) {
      first_err = first_err ? first_err : p->err;
      kept += page_failed(h, vm, s, p);
      continue;
    }
    b->freeing[b->nfreeing++] = p->old_pte;
    if (p->taken) /* swapped in meanwhile: its slot is ours to free */
      slot_free(s, p->slot);
    else
      written++;
  }
  b->npend = 0;
  ref_unlock(&s->lock, REF_LC_SWAP_VM);
  release_batch_frames(pp, vm, b);
  if (first_err) {
    atomic_fetch_add(&s->io_errors, 1);
    mmc_event_t ev = {
        .type = MMC_EV_ERROR, .vm = vm->id, .node_from = -1, .node_to = -1, .count = kept};
    snprintf(ev.reason, sizeof ev.reason, "swap write: %s", strerror(first_err));
    ref_event_emit(h, ev);
  }
  out_events(h, vm, b->zipped, written);
  *kept_out = kept;
  return b->zipped + b->shared + written;
}

/* ---------------------------------------------------------------- writer */

static void *writer_main(void *arg) {
  swap_pipe_t *p = arg;
  ref_lock(&p->mu, REF_LC_SWAP_PIPE);
  for (;;) {
    if (p->job) {
      swap_batch_t *b = p->job;
      ref_unlock(&p->mu, REF_LC_SWAP_PIPE);
      batch_write(p->h, p->s, b);
      ref_lock(&p->mu, REF_LC_SWAP_PIPE);
      p->job = NULL;
      pthread_cond_broadcast(&p->cv);
    } else if (p->quit) {
      break;
    } else {
      pthread_cond_wait(&p->cv, &p->mu);
    }
  }
  ref_unlock(&p->mu, REF_LC_SWAP_PIPE);
  return NULL;
}

static bool pipe_start(swap_pipe_t *p, ref_host_t *h, swap_vm_t *s, bool thread) {
  *p = (swap_pipe_t){.h = h, .s = s, .rcap = 2 * s->batch};
  p->runs = malloc(p->rcap * sizeof *p->runs);
  if (!p->runs)
    return false;
  if (pthread_mutex_init(&p->mu, NULL)) {
    free(p->runs);
    return false;
  }
  if (pthread_cond_init(&p->cv, NULL)) {
    pthread_mutex_destroy(&p->mu);
    free(p->runs);
    return false;
  }
  /* No thread (one batch, or it cannot be made): this thread does it all. */
  p->threaded = thread && pthread_create(&p->th, NULL, writer_main, p) == 0;
  return true;
}

/* Write b: hand it to the writer, or write it now. */
static void pipe_write(swap_pipe_t *p, swap_batch_t *b) {
  if (!p->threaded) {
    batch_write(p->h, p->s, b);
    return;
  }
  ref_lock(&p->mu, REF_LC_SWAP_PIPE);
  p->job = b;
  pthread_cond_broadcast(&p->cv);
  ref_unlock(&p->mu, REF_LC_SWAP_PIPE);
}

/* Until the writer is done with its batch, give back queued frames. */
static void pipe_wait(swap_pipe_t *p) {
  ref_lock(&p->mu, REF_LC_SWAP_PIPE);
  while (p->job)
    if (!pipe_release_one(p))
      pthread_cond_wait(&p->cv, &p->mu);
  ref_unlock(&p->mu, REF_LC_SWAP_PIPE);
}

/* Every queued frame given back (the writer's last punch included: join). */
static void pipe_stop(swap_pipe_t *p) {
  pipe_drain(p);
  if (p->threaded) {
    ref_lock(&p->mu, REF_LC_SWAP_PIPE);
    p->quit = true;
    pthread_cond_broadcast(&p->cv);
    ref_unlock(&p->mu, REF_LC_SWAP_PIPE);
    pthread_join(p->th, NULL);
  }
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p->runs);
}

/* ---------------------------------------------------------------- reclaim */

/* Pick, share and remap up to max victims into batch b. false: none left. */
static bool batch_prepare(ref_host_t *h, ref_vm_t *vm, swap_vm_t *s, swap_batch_t *b,
                          uint64_t *victims, uint64_t max) {
  size_t n = pick_victims(vm, s, victims, max < s->batch ? max : s->batch);
  n = sort_unique(victims, n); /* each page once (the share table requires it) */
  b->zipped = b->shared = 0;
  if (!n)
    return false;
  out_ctx_t c = {.h = h, .vm = vm, .s = s, .b = b, .zip = ref_set(h, REF_SET_MEM_ZIP_ENABLE) != 0};
  bool share_first = !REF_TWIN(TPS7_SHARING_SKIPPED_BEFORE_SWAP) &&
                     !(REF_TWIN(TPS7_SHARING_SKIPPED_WHEN_COMPRESSING) && c.zip);
  if (ref_share_before_swap && ref_mechs[REF_MECH_SHARE] && share_first)
    b->shared = ref_share_before_swap(h, vm, victims, n); /* TPS-7: merged pages stay */
  ref_remap_result_t res;
  ref_pmap_remap(vm->pmap, victims, n, &out_ops, &c, &res);
  return true;
}

static uint64_t batch_pages(const swap_batch_t *b) {
  return b ? b->zipped + b->shared + b->npend : 0;
}

uint64_t ref_swap_reclaim(ref_host_t *h, ref_vm_t *vm, uint64_t want) {
  swap_vm_t *s = sw_of(vm);
  ref_assert(ref_lock_held(REF_LC_HOST));
  if (!s || !want || !sw_buffers(h, vm, s))
    return 0;
  uint64_t *victims = malloc(s->batch * sizeof *victims);
  swap_pipe_t p;
  if (!victims || !pipe_start(&p, h, s, want > s->batch)) {
    free(victims);
    return 0;
  }
  swap_batch_t *flight = NULL; /* written (or being written), not finished */
  uint64_t freed = 0, kept = 0;
  unsigned idle = 0;
  for (size_t i = 0;; i ^= 1) {
    swap_batch_t *b = &s->b[i], *done = flight;
    uint64_t ahead = freed + batch_pages(flight);
    bool made =
        !kept && idle < 2 && ahead < want && batch_prepare(h, vm, s, b, victims, want - ahead);
    if (p.threaded && flight)
      pipe_wait(&p);
    if (made)
      pipe_write(&p, b); /* threaded: written while `done` is finished */
    flight = made ? b : NULL;
    if (!p.threaded) { /* in order: this batch is written, finish it now */
      done = flight;
      flight = NULL;
    }
    if (!done) {
      if (!flight)
        break;
      continue;
    }
    uint64_t got = batch_finish(&p, vm, done, &kept);
    if (!p.threaded)
      pipe_drain(&p);
    freed += got;
    idle = got ? 0 : idle + 1;
    /* kept: the file refuses writes: stop for this call, pages are resident */
  }
  pipe_stop(&p);
  free(victims);
  return freed;
}

/* ---------------------------------------------------------------- swap-in */

/* A page of a batch not finished yet is still in its old frame. */
static bool read_pending(ref_host_t *h, swap_vm_t *s, uint64_t slot, uint8_t *dst) {
  for (size_t b = 0; b < 2; b++)
    for (size_t i = 0; i < s->b[b].npend; i++) {
      swap_pend_t *p = &s->b[b].pend[i];
      if (p->slot != slot || p->taken)
        continue;
      memcpy(dst,
             h->pool_bases[ref_pte_node(p->old_pte)] + ref_pte_frame(p->old_pte) * MMC_PAGE_SIZE,
             MMC_PAGE_SIZE);
      p->taken = true;
      return true;
    }
  return false;
}

static int read_slot(ref_host_t *h, swap_vm_t *s, uint64_t slot, uint8_t *dst) {
  if (read_pending(h, s, slot, dst))
    return 1; /* from the batch: its finish frees the slot and the frame */
  size_t got = 0;
  while (got < MMC_PAGE_SIZE) {
    ssize_t r = pread(s->fd, dst + got, MMC_PAGE_SIZE - got, (off_t)(slot * MMC_PAGE_SIZE + got));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return r < 0 ? -errno : -EIO;
    got += (size_t)r;
  }
  return 0;
}

static int swap_in_data(ref_host_t *h, ref_vm_t *vm, swap_vm_t *s, uint64_t pte, uint8_t *dst,
                        mmc_error_t *err) {
  uint64_t slot = ref_pte_frame(pte);
  if (ref_pte_state(pte) == REF_PTE_COMPRESSED) {
    if (ref_zip_load(&s->zip, slot, dst) != 0)
      return mmc_fail(err, MMC_EIO, "VM %u: compression cache slot %llu is corrupt", vm->id,
                      (unsigned long long)slot);
    atomic_fetch_sub(&s->compressed, 1);
    return 0;
  }
  int r = read_slot(h, s, slot, dst);
  if (r < 0)
    return mmc_fail(err, MMC_EIO, "VM %u: swap-in of slot %llu from %s: %s", vm->id,
                    (unsigned long long)slot, s->path, strerror(-r));
  if (r == 0)
    slot_free(s, slot);
  atomic_fetch_sub(&s->swapped, 1);
  return 0;
}

static int swap_fault(ref_host_t *h, ref_vm_t *vm, uint32_t vcpu, uint64_t gpfn, bool write,
                      uint64_t *pte, mmc_error_t *err) {
  swap_vm_t *s = sw_of(vm);
  uint32_t node = 0;
  uint64_t frame = 0;
  int rc = ref_memstate_gate(h, vm, vcpu, false, err);
  if (rc == 0 &&
      (rc = ref_vm_alloc_frame(h, vm, ref_vm_home_of(vm, gpfn), &node, &frame, err)) == MMC_ENOMEM)
    rc = ref_memstate_gate(h, vm, vcpu, true, err);
  if (rc)
    return rc;
  ref_memstate_gate_passed(vm, vcpu);
  bool zip = ref_pte_state(*pte) == REF_PTE_COMPRESSED;
  ref_lock(&s->lock, REF_LC_SWAP_VM);
  rc = swap_in_data(h, vm, s, *pte, h->pool_bases[node] + frame * MMC_PAGE_SIZE, err);
  ref_unlock(&s->lock, REF_LC_SWAP_VM);
  if (rc) {
    ref_frame_free(h->pools[node], frame);
    atomic_fetch_add(&s->io_errors, 1);
    ref_event_emit(h, (mmc_event_t){.type = MMC_EV_ERROR,
                                    .vm = vm->id,
                                    .node_from = -1,
                                    .node_to = -1,
                                    .count = gpfn,
                                    .reason = "swap read failed"});
    return rc;
  }
  atomic_fetch_add(&vm->pages_per_node[node], 1);
  *pte = ref_pte_make(REF_PTE_PRIVATE, node, frame);
  mmc_event_t ev = {
      .type = MMC_EV_SWAP_IN, .vm = vm->id, .node_from = -1, .node_to = (int32_t)node, .count = 1};
  snprintf(ev.reason, sizeof ev.reason, "%s", zip ? "zip" : "swap");
  ref_event_emit(h, ev);
  return 0;
}

/* ---------------------------------------------------------------- files */

/* s->path from a format; 0, or -1 when out of memory. */
__attribute__((format(printf, 2, 3))) static int sw_set_path(swap_vm_t *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  free(s->path);
  s->path = n < 0 ? NULL : malloc((size_t)n + 1);
  if (!s->path)
    return -1;
  va_start(ap, fmt);
  vsnprintf(s->path, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return 0;
}

/* A private swap file without a name: O_TMPFILE in the temporary
 * directory (one inode, no directory entry to make or remove: the cheapest
 * way to honour "created at power-on" on every power-on); where the file
 * system lacks O_TMPFILE, a file in a mkdtemp directory, unlinked at once. */
static int open_private(swap_host_t *sh, ref_vm_t *vm, swap_vm_t *s, char *dir) {
  char parent[SWAP_DIR_MAX];
  snprintf(parent, sizeof parent, "%s", sh->dir);
  char *slash = strrchr(parent, '/');
  if (slash)
    *(slash == parent ? slash + 1 : slash) = '\0';
  int fd = open(parent, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) {
    dir[0] = '\0';
    if (fd >= 0 && sw_set_path(s, "%s/(unnamed O_TMPFILE of VM %u)", parent, vm->id)) {
      close(fd);
      errno = ENOMEM;
      return -1;
    }
    return fd;
  }
  if (!mkdtemp(dir))
    return -1;
  static _Atomic uint64_t private_made;
  if (sw_set_path(s, "%s/vm%u-%ld-%llu.vswp", dir, vm->id, (long)getpid(),
                  (unsigned long long)atomic_fetch_add(&private_made, 1))) {
    errno = ENOMEM;
    return -1;
  }
  return open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
}

static int make_file(ref_host_t *h, swap_host_t *sh, ref_vm_t *vm, swap_vm_t *s, mmc_error_t *err) {
  char dir[SWAP_DIR_MAX];
  snprintf(dir, sizeof dir, "%s", sh->dir);
  if (sh->own_dir) {
    s->fd = open_private(sh, vm, s, dir);
  } else {
    /* Unique per process (several hosts may share one swap_dir). */
    static _Atomic uint64_t files_made;
    s->fd = sw_set_path(s, "%s/vm%u-%ld-%llu.vswp", dir, vm->id, (long)getpid(),
                        (unsigned long long)atomic_fetch_add(&files_made, 1))
                ? (errno = ENOMEM, -1)
                : open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  }
  int e = s->fd < 0 ? errno : 0;
  off_t size = (off_t)(s->nslots * MMC_PAGE_SIZE);
  struct statvfs sv;
  if (!e)
    e = fchmod(s->fd, REF_TWIN(SEC2_SWAP_FILE_WORLD_READABLE) ? 0644 : 0600) ? errno
                                                                             : 0; /* umask */
  if (!e)
    e = fstatvfs(s->fd, &sv) ? errno : 0;
  if (!e && (uint64_t)sv.f_bavail * sv.f_frsize < (uint64_t)size)
    e = ENOSPC; /* checked first: fallocate could fill the file system before failing */
  if (!e && size > 0)
    e = ref_set(h, REF_SET_REF_SWAP_PREALLOCATE) ? posix_fallocate(s->fd, 0, size)
        : ftruncate(s->fd, size)                 ? errno
                                                 : 0;
  if (!e && ref_set(h, REF_SET_REF_SWAP_PREALLOCATE))
    s->falloc_end = s->nslots; /* all of it has blocks already */
  if (s->fd >= 0 && s->path && (e || (sh->own_dir && dir[0])))
    unlink(s->path); /* failed, or private: the open descriptor is the only name */
  if (sh->own_dir) {
    if (dir[0])
      rmdir(dir);
    s->unlinked = true;
  }
  if (e) {
    if (s->fd >= 0)
      close(s->fd);
    s->fd = -1;
    char limit[96] = "";
    struct rlimit r;
    if (e == EMFILE && getrlimit(RLIMIT_NOFILE, &r) == 0) /* one open file per VM */
      snprintf(limit, sizeof limit, " (this process may open %llu files: raise it with ulimit -n)",
               (unsigned long long)r.rlim_cur);
    return mmc_fail(err, MMC_EADMISSION, "VM %u: cannot create its %llu MB swap file %s: %s%s",
                    vm->id, (unsigned long long)(size >> 20), s->path ? s->path : sh->dir,
                    strerror(e), limit);
  }
  return 0;
}

static void sw_free(swap_vm_t *s) {
  if (s->fd >= 0) {
    close(s->fd);
    if (!s->unlinked && s->path && !REF_TWIN(SWAP1_FILE_LEFT_AT_POWER_OFF))
      unlink(s->path);
  }
  free(s->path);
  sw_free_buffers(s);
  pthread_mutex_destroy(&s->lock);
  free(s);
}

static int sw_vm_on(ref_host_t *h, ref_vm_t *vm, mmc_error_t *err) {
  swap_vm_t *s = calloc(1, sizeof *s);
  if (!s)
    return mmc_fail(err, MMC_ENOMEM, "swap: out of memory for VM %u", vm->id);
  pthread_mutex_init(&s->lock, NULL);
  s->fd = -1;
  s->nslots = vm->npages - (vm->reserved_pages < vm->npages ? vm->reserved_pages : vm->npages);
  if (REF_TWIN(SWAP1_FILE_SIZE_IGNORES_RESERVATION))
    s->nslots = vm->npages;
  ref_zip_init(&s->zip, vm->npages);
  s->batch = (size_t)ref_set(h, REF_SET_REF_SWAP_CLUSTER_PAGES) * SWAP_CLUSTERS_PER_BATCH;
  ref_rng_seed(&s->rng, h->seed ^ ((uint64_t)vm->id * 0x9e3779b97f4a7c15ull));
  /* Slot tables, cluster buffers and the compression cache are made at the
   * VM's first swap-out (sw_buffers): most VMs never swap, and power-on
   * stays cheap (placement benchmark). The swap file itself is made now
   * (SWAP-1: power-on fails when it cannot be). */
  int rc = make_file(h, ref_host_mech(h, REF_MECH_SWAP), vm, s, err);
  if (rc) {
    sw_free(s);
    return rc;
  }
  vm->mech[REF_MECH_SWAP] = s;
  return 0;
}

static void sw_vm_off(ref_host_t *h, ref_vm_t *vm) {
  swap_vm_t *s = sw_of(vm);
  if (s)
    sw_free(s);
  vm->mech[REF_MECH_SWAP] = NULL;
}

static int sw_attach(ref_host_t *h, mmc_error_t *err) {
  swap_host_t *sh = calloc(1, sizeof *sh);
  if (!sh)
    return mmc_fail(err, MMC_ENOMEM, "swap: out of memory");
  if (h->swap_dir && strlen(h->swap_dir) >= sizeof sh->dir) {
    free(sh);
    return mmc_fail(err, MMC_EINVAL, "swap_dir is %zu bytes long (max %zu)", strlen(h->swap_dir),
                    sizeof sh->dir - 1);
  }
  if (h->swap_dir) {
    snprintf(sh->dir, sizeof sh->dir, "%s", h->swap_dir);
  } else { /* a mkdtemp template: one transient directory per VM (make_file) */
    snprintf(sh->dir, sizeof sh->dir, "%s/mmcert-swap-XXXXXX", mmc_tmpdir());
    sh->own_dir = true;
  }
  ref_host_set_mech(h, REF_MECH_SWAP, sh);
  return 0;
}

static void sw_detach(ref_host_t *h) {
  swap_host_t *sh = ref_host_mech(h, REF_MECH_SWAP);
  if (!sh)
    return;
  free(sh);
  ref_host_set_mech(h, REF_MECH_SWAP, NULL);
}

static void sw_vm_stats(ref_host_t *h, ref_vm_t *vm, mmc_vm_stats_t *out) {
  swap_vm_t *s = sw_of(vm);
  if (!s)
    return;
  out->swapped_pages = atomic_load(&s->swapped);
  out->compressed_pages = atomic_load(&s->compressed);
}

const ref_mech_t ref_mech_swap = {.name = "swap",
                                  .caps = MMC_CAP_SWAP | MMC_CAP_COMPRESSION,
                                  .attach = sw_attach,
                                  .detach = sw_detach,
                                  .vm_on = sw_vm_on,
                                  .vm_off = sw_vm_off,
                                  .fault_states = REF_STATE_BIT(REF_PTE_SWAPPED) |
                                                  REF_STATE_BIT(REF_PTE_COMPRESSED),
                                  .fault = swap_fault,
                                  .vm_stats = sw_vm_stats};
