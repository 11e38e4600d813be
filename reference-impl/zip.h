/*
 * zip.h — the compression cache of a VM (ZIP-1): pages compressed with LZ4
 * into fixed 2 KB slots of process memory, in front of the swap file.
 * Internal header, never installed. Prefix ref_zip_.
 *
 * SPEC ZIP-1 (vSphere Resource Management, "Memory Compression": a page
 * that compresses to 2 KB or less goes to the VM's compression cache
 * instead of the swap file; the cache is at most Mem.MemZipMaxPct % of the
 * VM's memory). The policy (which pages leave, compression first, the
 * swap file otherwise) is swap.c's; zip.c is the store. See zip.c for the
 * design and its invariants.
 *
 * Locking: none of its own; the caller serialises every call on one cache
 * (swap.c: the VM's swap lock).
 */
#ifndef REF_ZIP_H
#define REF_ZIP_H

#include <stdbool.h>
#include <stdint.h>

#define REF_ZIP_SLOT 2048u /* ZIP-1: "compresses to <= 2 KB" */

/* One VM's cache. Fields valid after ref_zip_init; the tables and the
 * mapping exist from ref_zip_alloc's success to ref_zip_free. */
typedef struct ref_zip {
  uint64_t max;        /* slots the cache may ever have: the VM's memory at 100 % */
  uint8_t *cache;      /* max slots of REF_ZIP_SLOT bytes (NORESERVE mapping); NULL: not made */
  uint64_t bump;       /* slots [0, bump) have been handed out at least once */
  uint64_t nfree;      /* entries of free_slot in use */
  uint32_t *free_slot; /* freed slots below bump, reused first */
  uint16_t *len;       /* compressed length of each used slot */
} ref_zip_t;

/* An empty cache for a VM of npages pages; nothing is allocated yet. */
void ref_zip_init(ref_zip_t *z, uint64_t npages);
/* Its tables and mapping (made at the VM's first swap-out: most VMs never
 * compress); false when memory for them cannot be had (nothing is kept). */
bool ref_zip_alloc(ref_zip_t *z);
/* Everything ref_zip_alloc made (any part may be missing). */
void ref_zip_free(ref_zip_t *z);
/* Slots the cache may hold now: pct % of the VM's npages (Mem.MemZipMaxPct,
 * read at each page by the caller). */
uint64_t ref_zip_cap(const ref_zip_t *z, uint64_t npages, uint64_t pct);
/* Compress one page into a slot: true and *slot when it compressed to at
 * most REF_ZIP_SLOT bytes and fewer than cap slots are in use. */
bool ref_zip_store(ref_zip_t *z, uint64_t cap, const uint8_t *page, uint64_t *slot);
/* Decompress slot into dst (one page) and free the slot: 0, or -1 when the
 * slot does not decompress to a whole page (then the slot is kept). */
int ref_zip_load(ref_zip_t *z, uint64_t slot, uint8_t *dst);
/* Free a slot without reading it (its page left the VM). */
void ref_zip_drop(ref_zip_t *z, uint64_t slot);
/* Slots in use. */
uint64_t ref_zip_used(const ref_zip_t *z);

#endif
