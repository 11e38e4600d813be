/*
 * frames.c — frame pools: the machine memory of the reference implementation,
 * one pool per NUMA node of the host topology (mech.h, "frames").
 *
 * SPEC: NUMA-1 (new memory on the home node: a real node's pool is
 * mbind(MPOL_BIND)-ed to that node, so the kernel places every frame there and
 * move_pages(2) can confirm it; an emulated node's pool is a memfd of its own,
 * named after the node, so /proc/self/maps attributes each address to a node),
 * SEC-1 (frames are zeroed before reuse: a freed frame is punched out of the
 * memfd, so the next user reads zeros from fresh kernel pages).
 *
 * How: memfd_create("mmcert-node<OSINDEX>") sized to the capacity with
 * ftruncate (sparse: nothing is allocated until a frame is touched), mapped
 * once MAP_SHARED|MAP_NORESERVE, so an emulated topology of tens of GB costs
 * address space only. Allocation is lazy: a bump index hands out never-used
 * frames (which read as zeros), then a LIFO stack of freed frames. Freeing
 * punches the frame (fallocate PUNCH_HOLE|KEEP_SIZE), giving the memory back
 * to the kernel (RSS, mincore and the memfd's st_blocks drop) before the frame
 * is pushed on the free stack. One mutex per pool (no global lock), a leaf
 * of the lock order (ref.h): nothing is taken under it, and the punch runs
 * outside it.
 *
 * Metadata: the free stack (4 B per frame, frame numbers as uint32_t, so a
 * pool holds at most 2^32 frames = 16 TB) and an allocation bitmap (1 bit per
 * frame, catches double frees), both in anonymous MAP_NORESERVE mappings, so
 * only the touched part costs memory: 4.125 B per 4096 B frame, 0.1 % < 0.5 %.
 *
 * Invariants (ref_pool_is_valid):
 *  - bump <= capacity, nfree <= bump, used == bump - nfree;
 *  - the free stack holds distinct frames < bump, none marked allocated;
 *  - an allocated frame is marked in the bitmap; a free one reads as zeros
 *    and holds no memory (it was punched before it went on the stack).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <numaif.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mech.h"
#include "twin.h"

#define FRAME_SIZE ((uint64_t)MMC_PAGE_SIZE)
#define BITS_PER_WORD 64u

struct ref_pool {
  uint32_t node_index;   /* index in the host topology */
  uint32_t os_index;     /* OS node number (memfd name, mbind target) */
  bool real;             /* mbind-ed to os_index */
  int fd;                /* the memfd */
  uint8_t *base;         /* capacity * 4096 bytes, MAP_SHARED on fd */
  uint64_t capacity;     /* frames */
  pthread_mutex_t lock;  /* guards bump, nfree, free_stack, allocated */
  uint64_t bump;         /* frames [0, bump) have been handed out at least once */
  uint64_t nfree;        /* entries in free_stack */
  uint32_t *free_stack;  /* freed frames, LIFO; capacity entries reserved */
  uint64_t *allocated;   /* bitmap: frame currently allocated */
  size_t meta_bytes;     /* bytes reserved for free_stack + allocated */
  _Atomic uint64_t used; /* bump - nfree, readable without the lock */
  _Atomic uint64_t withheld; /* frames an injected exhaustion keeps from use */
};

/* Anonymous, lazily backed metadata array of `bytes` (zero-filled). */
static void *meta_map(size_t bytes) {
  void *p =
      mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static int bind_to_node(ref_pool_t *p, mmc_error_t *err) {
  unsigned long mask[(REF_PTE_NODE_MASK + 1) / (8 * sizeof(unsigned long)) + 1];
  memset(mask, 0, sizeof mask);
  if (p->os_index >= 8 * sizeof mask - 1)
    return mmc_fail(err, MMC_ERANGE, "frame pool: OS node %" PRIu32 " is beyond %zu", p->os_index,
                    8 * sizeof mask - 2);
  mask[p->os_index / (8 * sizeof(unsigned long))] |= 1ul
                                                     << (p->os_index % (8 * sizeof(unsigned long)));
  /* maxnode counts bits; the kernel ignores the last one, hence +1. */
  if (mbind(p->base, p->capacity * FRAME_SIZE, MPOL_BIND, mask, 8 * sizeof mask, 0) != 0)
    return mmc_fail(err, MMC_EIO, "frame pool: mbind(MPOL_BIND) to node %" PRIu32 ": %s",
                    p->os_index, strerror(errno));
  return 0;
}

static int pool_map(ref_pool_t *p, mmc_error_t *err) {
  char name[32];
  snprintf(name, sizeof name, "mmcert-node%" PRIu32, p->os_index);
  p->fd = memfd_create(name, MFD_CLOEXEC);
  if (p->fd < 0)
    return mmc_fail(err, MMC_EIO, "frame pool: memfd_create(%s): %s", name, strerror(errno));
  off_t bytes = (off_t)(p->capacity * FRAME_SIZE);
  if (ftruncate(p->fd, bytes) != 0)
    return mmc_fail(err, MMC_EIO, "frame pool: ftruncate(%s, %" PRIu64 " frames): %s", name,
                    p->capacity, strerror(errno));
  void *base =
      mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, p->fd, 0);
  if (base == MAP_FAILED)
    return mmc_fail(err, MMC_ENOMEM, "frame pool: mmap of %s (%" PRIu64 " frames): %s", name,
                    p->capacity, strerror(errno));
  p->base = base;
  return p->real ? bind_to_node(p, err) : 0;
}

int ref_pool_create(uint32_t node_index, uint32_t os_index, bool real, uint64_t capacity_pages,
                    ref_pool_t **out, mmc_error_t *err) {
  if (capacity_pages == 0 || capacity_pages > UINT32_MAX)
    return mmc_fail(err, MMC_ERANGE,
                    "frame pool for node %" PRIu32 ": capacity %" PRIu64
                    " frames is out of range 1..%" PRIu32,
                    node_index, capacity_pages, UINT32_MAX);
  ref_pool_t *p = calloc(1, sizeof *p);
  if (!p)
    return mmc_fail(err, MMC_ENOMEM, "frame pool: out of memory");
  p->node_index = node_index;
  p->os_index = os_index;
  p->real = real;
  p->fd = -1;
  p->capacity = capacity_pages;
  size_t stack_bytes = (size_t)capacity_pages * sizeof(uint32_t);
  size_t bitmap_bytes = (size_t)((capacity_pages + BITS_PER_WORD - 1) / BITS_PER_WORD) * 8;
  p->meta_bytes = stack_bytes + bitmap_bytes;
  p->free_stack = meta_map(stack_bytes);
  p->allocated = meta_map(bitmap_bytes);
  int rc = 0;
  if (!p->free_stack || !p->allocated)
    rc = mmc_fail(err, MMC_ENOMEM, "frame pool: cannot reserve %zu bytes of metadata",
                  p->meta_bytes);
  if (rc == 0)
    rc = pool_map(p, err);
  if (rc == 0)
    rc = pthread_mutex_init(&p->lock, NULL) == 0
             ? 0
             : mmc_fail(err, MMC_ENOMEM, "frame pool: pthread_mutex_init failed");
  if (rc != 0) {
    if (p->base)
      munmap(p->base, p->capacity * FRAME_SIZE);
    if (p->fd >= 0)
      close(p->fd);
    if (p->free_stack)
      munmap(p->free_stack, stack_bytes);
    if (p->allocated)
      munmap(p->allocated, bitmap_bytes);
    free(p);
    return rc;
  }
  *out = p;
  return 0;
}

void ref_pool_destroy(ref_pool_t *p) {
  if (!p)
    return;
  ref_assert_walk(ref_pool_is_valid(p));
  pthread_mutex_destroy(&p->lock);
  munmap(p->base, p->capacity * FRAME_SIZE);
  close(p->fd);
  munmap(p->free_stack, (size_t)p->capacity * sizeof(uint32_t));
  munmap(p->allocated, (size_t)((p->capacity + BITS_PER_WORD - 1) / BITS_PER_WORD) * 8);
  free(p);
}

static bool bit_get(const uint64_t *bm, uint64_t i) {
  return (bm[i / BITS_PER_WORD] >> (i % BITS_PER_WORD)) & 1u;
}
static void bit_set(uint64_t *bm, uint64_t i, bool on) {
  uint64_t m = 1ull << (i % BITS_PER_WORD);
  if (on)
    bm[i / BITS_PER_WORD] |= m;
  else
    bm[i / BITS_PER_WORD] &= ~m;
}

/* The O(1) part of ref_pool_is_valid (p->lock held): checked at every
 * allocation and free in debug builds. */
static bool counters_ok(const ref_pool_t *p) {
  return p->bump <= p->capacity && p->nfree <= p->bump &&
         atomic_load_explicit(&p->used, memory_order_relaxed) == p->bump - p->nfree;
}

uint64_t ref_frame_alloc(ref_pool_t *p) {
  uint64_t f = REF_NO_FRAME;
  ref_lock(&p->lock, REF_LC_POOL);
  uint64_t withheld = atomic_load_explicit(&p->withheld, memory_order_relaxed);
  if (withheld && p->bump - p->nfree + withheld >= p->capacity)
    ; /* injected exhaustion: the node looks full */
  else if (p->nfree > 0)
    f = p->free_stack[--p->nfree];
  else if (p->bump < p->capacity)
    f = p->bump++;
  if (f != REF_NO_FRAME) {
    bit_set(p->allocated, f, true);
    atomic_fetch_add_explicit(&p->used, 1, memory_order_relaxed);
  }
  ref_assert(counters_ok(p));
  ref_unlock(&p->lock, REF_LC_POOL);
  return f;
}

/* A programming error in the caller: report it loudly rather than corrupt
 * the pool (a double free would hand one frame to two pages: SEC-1). */
static void frame_misuse(const ref_pool_t *p, uint64_t frame, const char *what) {
  fprintf(stderr, "mmref: frame pool node %" PRIu32 ": free of frame %" PRIu64 " %s\n",
          p->node_index, frame, what);
  abort();
}

void ref_frame_free(ref_pool_t *p, uint64_t frame) {
  if (frame >= p->capacity)
    frame_misuse(p, frame, "beyond the pool's capacity");
  /* Punch first, outside the lock: the frame is still ours, so nobody else
   * can be handed it while its memory goes back to the kernel. */
  if (REF_TWIN(SEC1_FRAMES_NOT_ZEROED))
    ; /* twin: the frame keeps what its last user wrote */
  else if (fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                     (off_t)(frame * FRAME_SIZE), (off_t)FRAME_SIZE) != 0)
    memset(p->base + frame * FRAME_SIZE, 0, FRAME_SIZE); /* still zero it (SEC-1) */
  ref_lock(&p->lock, REF_LC_POOL);
  if (!bit_get(p->allocated, frame)) {
    ref_unlock(&p->lock, REF_LC_POOL);
    frame_misuse(p, frame, "that is not allocated (double free)");
  }
  bit_set(p->allocated, frame, false);
  p->free_stack[p->nfree++] = (uint32_t)frame;
  atomic_fetch_sub_explicit(&p->used, 1, memory_order_relaxed);
  ref_assert(counters_ok(p));
  ref_unlock(&p->lock, REF_LC_POOL);
}

int ref_cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

static void punch_run(ref_pool_t *p, uint64_t first, uint64_t n) {
  if (REF_TWIN(SEC1_FRAMES_NOT_ZEROED))
    return; /* twin: the frames keep what their last users wrote */
  if (fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(first * FRAME_SIZE),
                (off_t)(n * FRAME_SIZE)) != 0)
    memset(p->base + first * FRAME_SIZE, 0, n * FRAME_SIZE); /* still zero them (SEC-1) */
}

void ref_frame_free_many(ref_pool_t *p, uint64_t *frames, size_t n) {
  if (n == 0)
    return;
  qsort(frames, n, sizeof *frames, ref_cmp_u64);
  for (size_t i = 0; i < n; i++)
    if (frames[i] >= p->capacity || (i && frames[i] == frames[i - 1]))
      frame_misuse(p, frames[i],
                   i && frames[i] == frames[i - 1] ? "twice in one bulk free"
                                                   : "beyond the pool's capacity");
  /* Punch each run of contiguous frames with one call, outside the lock. */
  size_t run = 0;
  for (size_t i = 1; i <= n; i++)
    if (i == n || frames[i] != frames[i - 1] + 1) {
      punch_run(p, frames[run], frames[i - 1] - frames[run] + 1);
      run = i;
    }
  ref_lock(&p->lock, REF_LC_POOL);
  for (size_t i = 0; i < n; i++) {
    if (!bit_get(p->allocated, frames[i])) {
      ref_unlock(&p->lock, REF_LC_POOL);
      frame_misuse(p, frames[i], "that is not allocated (double free)");
    }
    bit_set(p->allocated, frames[i], false);
    p->free_stack[p->nfree++] = (uint32_t)frames[i];
  }
  atomic_fetch_sub_explicit(&p->used, n, memory_order_relaxed);
  ref_assert(counters_ok(p));
  ref_unlock(&p->lock, REF_LC_POOL);
}

void ref_frame_list_add(ref_frame_list_t *l, ref_pool_t *const *pools, uint32_t node,
                        uint64_t frame) {
  if (l->n[node] == l->cap[node]) {
    size_t cap = l->cap[node] ? 2 * l->cap[node] : 256;
    uint64_t *f = realloc(l->frames[node], cap * sizeof *f);
    if (!f) {
      ref_frame_free(pools[node], frame);
      return;
    }
    l->frames[node] = f;
    l->cap[node] = cap;
  }
  l->frames[node][l->n[node]++] = frame;
}

void ref_frame_list_flush(ref_frame_list_t *l, ref_pool_t *const *pools) {
  for (uint32_t n = 0; n < MMC_MAX_NODES; n++)
    if (l->n[n]) {
      ref_frame_free_many(pools[n], l->frames[n], l->n[n]);
      l->n[n] = 0;
    }
}

void ref_frame_list_fini(ref_frame_list_t *l) {
  for (uint32_t n = 0; n < MMC_MAX_NODES; n++)
    free(l->frames[n]);
  *l = (ref_frame_list_t){0};
}

uint8_t *ref_pool_base(const ref_pool_t *p) {
  return p->base;
}
uint64_t ref_pool_capacity(const ref_pool_t *p) {
  return p->capacity;
}
uint64_t ref_pool_used(const ref_pool_t *p) {
  return atomic_load_explicit(&p->used, memory_order_relaxed);
}
uint64_t ref_pool_free(const ref_pool_t *p) {
  uint64_t taken = ref_pool_used(p) + atomic_load_explicit(&p->withheld, memory_order_relaxed);
  return taken >= p->capacity ? 0 : p->capacity - taken;
}
void ref_pool_withhold(ref_pool_t *p, uint64_t free_pages) {
  ref_lock(&p->lock, REF_LC_POOL);
  uint64_t free_now = p->capacity - (p->bump - p->nfree);
  uint64_t w = free_pages == MMC_FAULT_CLEAR || free_pages >= free_now ? 0 : free_now - free_pages;
  atomic_store_explicit(&p->withheld, w, memory_order_relaxed);
  ref_unlock(&p->lock, REF_LC_POOL);
}
int ref_pool_fd(const ref_pool_t *p) {
  return p->fd;
}
size_t ref_pool_metadata_bytes(const ref_pool_t *p) {
  return p->meta_bytes;
}

bool ref_pool_is_valid(ref_pool_t *p) {
  bool ok = true;
  ref_lock(&p->lock, REF_LC_POOL);
  ok = counters_ok(p);
  /* Each free-stack entry: below bump, not allocated, and seen once (the
   * allocated bitmap is borrowed as the "seen" mark and restored). */
  uint64_t nmarked = 0;
  for (; ok && nmarked < p->nfree; nmarked++) {
    uint32_t f = p->free_stack[nmarked];
    ok = f < p->bump && !bit_get(p->allocated, f);
    if (!ok)
      break;
    bit_set(p->allocated, f, true);
  }
  while (nmarked > 0)
    bit_set(p->allocated, p->free_stack[--nmarked], false);
  uint64_t nalloc = 0;
  for (uint64_t w = 0; ok && w < (p->bump + BITS_PER_WORD - 1) / BITS_PER_WORD; w++)
    nalloc += (uint64_t)__builtin_popcountll(p->allocated[w]);
  ok = ok && nalloc == p->bump - p->nfree;
  ref_unlock(&p->lock, REF_LC_POOL);
  return ok;
}
