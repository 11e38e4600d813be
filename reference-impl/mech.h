/*
 * mech.h — the reference implementation's mechanism layer: frame pools and
 * the guest page map with its quiescence protocol. Policies never touch the
 * OS; they call this layer. Internal header: never installed.
 *
 * Conventions stated once: functions returning int return 0 or a negative
 * mmc_status_t and fill `err` (may be NULL) through mmc_fail(); nothing
 * changes on failure. Prefix: ref_.
 *
 * ---------------------------------------------------------------- frames
 * One pool per NUMA node of the host topology: a memfd named
 * "mmcert-node<OSINDEX>" sized to the node's capacity (sparse: nothing is
 * allocated until touched), mapped once MAP_SHARED; on a real node the
 * mapping is mbind(MPOL_BIND)-ed to that node, so the kernel places and can
 * confirm every frame. Frames are 4 KB, numbered 0..capacity-1 within the
 * pool; allocation is lazy (a bump index, then a free stack of recycled
 * frames). Freeing a frame punches it out of the memfd
 * (fallocate(PUNCH_HOLE)), so the kernel really gets the memory back (RSS and
 * mincore show it) and the next user reads zeros: that is how frames are
 * zeroed before reuse (SEC-1). Metadata: 4.125 bytes per frame (the free
 * stack and the allocation bitmap).
 *
 * ---------------------------------------------------------------- page map
 * One 64-bit entry (pte) per guest page, read by the vCPU fast path with one
 * seq_cst load. Layout (see REF_PTE_*): state in bits 0..3, flags in 4..7,
 * node index in 8..15, frame (or swap/zip slot) in 16..63.
 *
 * The quiescence protocol (the software TLB shootdown) — how a remap (mark,
 * one wait for the vCPUs' quiescent points, copy, publish) and a vCPU's slow
 * path (BUSY, copy-on-write) move an entry between its states, who may make
 * each transition, who waits for whom, the rules R1-R8 and the invariants
 * I1-I3 (no write lost, a pointer valid until the next quiescent point, one
 * frame under a writer) — is stated once, as a state table, at the top of
 * pmap.c. Locks: ref.h, "Lock ordering".
 */
#ifndef REF_MECH_H
#define REF_MECH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "debug.h"
#include "mmc_error.h"
#include "mmcert/impl.h"

/* ---------------------------------------------------------------- frames */

typedef struct ref_pool ref_pool_t;

#define REF_NO_FRAME UINT64_MAX

int ref_pool_create(uint32_t node_index, uint32_t os_index, bool real, uint64_t capacity_pages,
                    ref_pool_t **out, mmc_error_t *err);
void ref_pool_destroy(ref_pool_t *p);
/* A zero-filled frame, or REF_NO_FRAME when the pool is full. Thread-safe. */
uint64_t ref_frame_alloc(ref_pool_t *p);
/* Give a frame back to the kernel (punch) and to the free stack. Thread-safe. */
void ref_frame_free(ref_pool_t *p, uint64_t frame);
/* The same for n frames at once (sorts `frames` in place): one punch per run
 * of contiguous frames and one lock round, for bulk frees (migration). */
void ref_frame_free_many(ref_pool_t *p, uint64_t *frames, size_t n);
/* Frames to give back in bulk, by node: a mechanism freeing many frames in
 * one pass (migration, sharing) queues them and flushes once, so each run
 * of contiguous frames costs one punch (ref_frame_free_many). Zero-init. */
typedef struct ref_frame_list {
  uint64_t *frames[MMC_MAX_NODES]; /* queued frames of pools[node] */
  size_t n[MMC_MAX_NODES];         /* entries queued */
  size_t cap[MMC_MAX_NODES];       /* entries allocated */
} ref_frame_list_t;
/* Queue frame `frame` of pools[node]; freed at once when the list cannot
 * grow. */
void ref_frame_list_add(ref_frame_list_t *l, ref_pool_t *const *pools, uint32_t node,
                        uint64_t frame);
/* Give every queued frame back: one ref_frame_free_many per node. */
void ref_frame_list_flush(ref_frame_list_t *l, ref_pool_t *const *pools);
/* Release the list's memory (flush first: queued frames are not freed). */
void ref_frame_list_fini(ref_frame_list_t *l);
/* qsort/bsearch order of uint64_t values (frames, gpfns, hashes), ascending. */
int ref_cmp_u64(const void *a, const void *b);
uint8_t *ref_pool_base(const ref_pool_t *p); /* frame f is at base + f * 4096 */
uint64_t ref_pool_capacity(const ref_pool_t *p);
uint64_t ref_pool_used(const ref_pool_t *p); /* frames allocated and not freed */
/* Frames that can still be allocated: capacity - used - withheld. */
uint64_t ref_pool_free(const ref_pool_t *p);
/* Injected frame exhaustion (MMC_FAULT_FRAME_EXHAUSTION): from now on at
 * most `free_pages` frames can be allocated beyond those in use, as if the
 * rest were taken; MMC_FAULT_CLEAR gives them back. */
void ref_pool_withhold(ref_pool_t *p, uint64_t free_pages);
int ref_pool_fd(const ref_pool_t *p);        /* the memfd (for tests and probes) */
/* Bytes of bookkeeping reserved for the pool (free stack + allocation
 * bitmap): bounded by capacity * 4.125 B, i.e. about 0.1 % of managed memory. */
size_t ref_pool_metadata_bytes(const ref_pool_t *p);
/* Debug invariant check (counters agree, every free-stack entry is a distinct
 * freed frame below the bump index); O(frames touched). */
bool ref_pool_is_valid(ref_pool_t *p);

/* ---------------------------------------------------------------- page map */

enum ref_pte_state {
  REF_PTE_UNBACKED = 0,   /* never touched: reads as zero, first touch allocates */
  REF_PTE_PRIVATE = 1,    /* frame owned by this page */
  REF_PTE_SHARED = 2,     /* frame shared (read-only; a write breaks COW) */
  REF_PTE_BALLOONED = 3,  /* given to the balloon: no frame */
  REF_PTE_COMPRESSED = 4, /* slot in the VM's compression cache */
  REF_PTE_SWAPPED = 5,    /* slot in the VM's swap file */
};
#define REF_PTE_STATE_MASK 0xfull
#define REF_PTE_MARK (1ull << 4)    /* remap pending: waiting for quiescence */
#define REF_PTE_COPY (1ull << 5)    /* remap in its copy phase */
#define REF_PTE_BUSY (1ull << 6)    /* locked by a slow path (fault, COW, swap-in) */
#define REF_PTE_SAMPLED (1ull << 7) /* invalidated for working-set sampling */
#define REF_PTE_FLAGS_MASK 0xf0ull
#define REF_PTE_NODE_SHIFT 8
#define REF_PTE_NODE_MASK 0xffull
#define REF_PTE_FRAME_SHIFT 16

static inline uint64_t ref_pte_make(unsigned state, uint32_t node, uint64_t frame) {
  return (uint64_t)state | ((uint64_t)node << REF_PTE_NODE_SHIFT) | (frame << REF_PTE_FRAME_SHIFT);
}
static inline unsigned ref_pte_state(uint64_t pte) {
  return (unsigned)(pte & REF_PTE_STATE_MASK);
}
static inline uint32_t ref_pte_node(uint64_t pte) {
  return (uint32_t)((pte >> REF_PTE_NODE_SHIFT) & REF_PTE_NODE_MASK);
}
static inline uint64_t ref_pte_frame(uint64_t pte) {
  return pte >> REF_PTE_FRAME_SHIFT;
}

typedef struct ref_pmap ref_pmap_t;
typedef struct ref_vcpu_q ref_vcpu_q_t; /* a vCPU's quiescence state inside a pmap */

/* What the owner of a page map (the VM) does on the slow paths. All return 0
 * or a negative status; `*pte` is in/out: the current entry on input (BUSY
 * cleared), the entry to publish on output. Called with the pte BUSY-locked
 * by the calling vCPU. */
typedef struct ref_fault_ops {
  /* First touch of an UNBACKED page, a BALLOONED page touched anyway, a
   * SWAPPED/COMPRESSED page (swap-in), a SHARED page written (COW: called
   * after other vCPUs quiesced), a SAMPLED page (count the touch). */
  int (*fault)(void *owner, uint32_t vcpu, uint64_t gpfn, bool write, uint64_t *pte,
               mmc_error_t *err);
} ref_fault_ops_t;

int ref_pmap_create(uint64_t npages, uint32_t nvcpus, uint8_t *const *pool_bases,
                    const ref_fault_ops_t *ops, void *owner, ref_pmap_t **out, mmc_error_t *err);
/* The caller frees the frames first (ref_pmap_for_each). */
void ref_pmap_destroy(ref_pmap_t *m);
uint64_t ref_pmap_npages(const ref_pmap_t *m);
/* Current entry (acquire). */
uint64_t ref_pmap_get(const ref_pmap_t *m, uint64_t gpfn);
/* Set an entry outside any vCPU access (power-on, balloon under the VM lock
 * with the page not in use): CAS from `expected`; false if it changed. */
bool ref_pmap_cas(ref_pmap_t *m, uint64_t gpfn, uint64_t expected, uint64_t desired);

/* Call fn for every entry that is not UNBACKED (0), in gpfn order, skipping
 * the parts of the map never written (not resident: mincore). For power-off
 * and whole-VM walks; entries may change meanwhile unless the VM is idle. */
typedef void (*ref_pmap_visit_fn)(void *ctx, uint64_t gpfn, uint64_t pte);
void ref_pmap_for_each_populated(const ref_pmap_t *m, ref_pmap_visit_fn fn, void *ctx);

/* vCPU side. The handle is bound to one vCPU index of the map. */
ref_vcpu_q_t *ref_pmap_vcpu(ref_pmap_t *m, uint32_t index);
/* The fast path: pointer to the page's frame, or NULL with err (ERANGE,
 * ERETRY, or what the fault op returned). */
void *ref_pmap_page(ref_pmap_t *m, ref_vcpu_q_t *v, uint64_t gpfn, bool write, mmc_error_t *err);
void ref_pmap_quiesce(ref_vcpu_q_t *v);
/* vCPU leaves: implies quiesce; a remap never waits for an offline vCPU. */
void ref_pmap_vcpu_offline(ref_vcpu_q_t *v);

/* Remapping. transform() is called in the copy phase for each page still
 * marked: it receives the current pte (flags cleared) and writes the pte to
 * publish (e.g. copies the frame to a new node); returning false leaves the
 * page as it was. release() is called after publishing, with the old pte
 * (e.g. to free the old frame or drop a share reference). */
typedef struct ref_remap_ops {
  bool (*transform)(void *ctx, uint64_t gpfn, uint64_t old_pte, uint64_t *new_pte);
  void (*release)(void *ctx, uint64_t gpfn, uint64_t old_pte);
  /* Optional: which entries to mark (e.g. only PRIVATE on a remote node). */
  bool (*eligible)(void *ctx, uint64_t gpfn, uint64_t pte);
  /* Optional, used instead of transform() when set: up to REF_REMAP_CHUNK
   * pages at once, all in their copy phase (e.g. one pwritev(2) per run of
   * contiguous destination frames); sets ok[i] and new_ptes[i] per page as
   * transform() would. */
  void (*transform_many)(void *ctx, const uint64_t *gpfns, const uint64_t *old_ptes, size_t n,
                         uint64_t *new_ptes, bool *ok);
} ref_remap_ops_t;
/* Most pages handed to one transform_many() call: vCPUs touching a page of
 * the chunk wait (spin, then yield) until the whole chunk is published. */
#define REF_REMAP_CHUNK 64

typedef struct ref_remap_result {
  uint64_t remapped;  /* pages published with a new entry */
  uint64_t cancelled; /* marks cancelled by vCPUs or entries that changed */
  uint64_t wait_ns;   /* time spent waiting for quiescence */
} ref_remap_result_t;

/* One batch: mark, one wait, copy and publish. Called from a non-vCPU thread
 * (live mode) or from advance() with every vCPU quiesced (stepped mode). */
void ref_pmap_remap(ref_pmap_t *m, const uint64_t *gpfns, size_t n, const ref_remap_ops_t *ops,
                    void *ctx, ref_remap_result_t *res);

/* Invariant check (states in range; when idle — no vCPU entered, no remap —
 * no entry with MARK/COPY/BUSY and no vCPU active or waiting); debug
 * assertions (debug.h) and tests. */
bool ref_pmap_is_valid(const ref_pmap_t *m, bool idle);
/* No vCPU of the map active (holding pointers) or waiting: O(vCPUs). */
bool ref_pmap_quiescent(const ref_pmap_t *m);

#endif
