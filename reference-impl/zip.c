/*
 * zip.c — the compression cache of a VM (ZIP-1; capability
 * MMC_CAP_COMPRESSION through swap.c's row, which decides when a page is
 * compressed: before the swap file, at each swap-out).
 *
 * What the documentation says (ZIP-1): a page about to be swapped that
 * compresses to 2 KB or less is kept, compressed, in the VM's compression
 * cache instead of being written to its swap file; the cache of a VM is at
 * most Mem.MemZipMaxPct % (default 10) of its configured memory; an access
 * decompresses the page back into a frame.
 *
 * How: LZ4 (LZ4_compress_default) into a 2 KB stack buffer — a result that
 * does not fit is refused by LZ4 itself, so an incompressible page costs one
 * attempt and no copy. The cache is one anonymous NORESERVE mapping of
 * REF_ZIP_SLOT-byte slots sized for 100 % of the VM (the largest
 * Mem.MemZipMaxPct), so the setting can change at run time without
 * moving anything; what the setting caps is the number of slots in use
 * (ref_zip_cap, checked at each store). Slots are handed out by a bump
 * pointer, freed ones reused first (a stack). Memory grows only where
 * slots are written.
 *
 * Invariants: bump <= max; nfree <= bump; every slot below bump is either
 * in use (its len valid) or on the free stack, once; used = bump - nfree
 * never exceeds the cap in force when the slot was stored.
 */
#include "zip.h"

#include <lz4.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "debug.h"
#include "mmcert/impl.h"
#include "twin.h"

void ref_zip_init(ref_zip_t *z, uint64_t npages) {
  *z = (ref_zip_t){.max = npages * (MMC_PAGE_SIZE / REF_ZIP_SLOT)};
}

bool ref_zip_alloc(ref_zip_t *z) {
  if (z->cache)
    return true;
  z->free_slot = malloc((z->max ? z->max : 1) * sizeof *z->free_slot);
  z->len = malloc((z->max ? z->max : 1) * sizeof *z->len);
  void *cache = mmap(NULL, z->max * REF_ZIP_SLOT, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (!z->free_slot || !z->len || cache == MAP_FAILED) {
    if (cache != MAP_FAILED)
      munmap(cache, z->max * REF_ZIP_SLOT);
    ref_zip_free(z);
    return false;
  }
  /* Huge pages for the cache where THP allows it: filling it took one
   * zero-fill fault per 4 KB (two slots), more than the compression of
   * its pages; one fault per 2 MB instead (measured: a period of 15.5k
   * compressed pages 55 -> 30 ms). Advice only: without THP it works as
   * before. Its memory grows in steps of 2 MB, under the same cap. */
  (void)madvise(cache, z->max * REF_ZIP_SLOT, MADV_HUGEPAGE);
  z->cache = cache;
  return true;
}

void ref_zip_free(ref_zip_t *z) {
  if (z->cache)
    munmap(z->cache, z->max * REF_ZIP_SLOT);
  free(z->free_slot);
  free(z->len);
  *z = (ref_zip_t){.max = z->max};
}

uint64_t ref_zip_cap(const ref_zip_t *z, uint64_t npages, uint64_t pct) {
  uint64_t cap = npages * MMC_PAGE_SIZE / 100 * pct / REF_ZIP_SLOT;
  if (REF_TWIN(ZIP1_CACHE_CAP_IGNORED))
    return z->max;
  return cap < z->max ? cap : z->max;
}

uint64_t ref_zip_used(const ref_zip_t *z) {
  return z->bump - z->nfree;
}

static bool slot_take(ref_zip_t *z, uint64_t cap, uint64_t *out) {
  if (ref_zip_used(z) >= cap)
    return false;
  if (z->nfree) {
    *out = z->free_slot[--z->nfree];
    return true;
  }
  if (z->bump >= z->max)
    return false;
  *out = z->bump++;
  return true;
}

bool ref_zip_store(ref_zip_t *z, uint64_t cap, const uint8_t *page, uint64_t *slot) {
  char tmp[REF_ZIP_SLOT];
  int len = LZ4_compress_default((const char *)page, tmp, MMC_PAGE_SIZE, (int)sizeof tmp);
  if (len <= 0 || !slot_take(z, cap, slot))
    return false;
  memcpy(z->cache + *slot * REF_ZIP_SLOT, tmp, (size_t)len);
  z->len[*slot] = (uint16_t)len;
  return true;
}

void ref_zip_drop(ref_zip_t *z, uint64_t slot) {
  ref_assert(slot < z->bump && z->nfree < z->bump);
  z->free_slot[z->nfree++] = (uint32_t)slot;
}

int ref_zip_load(ref_zip_t *z, uint64_t slot, uint8_t *dst) {
  int n = LZ4_decompress_safe((const char *)z->cache + slot * REF_ZIP_SLOT, (char *)dst,
                              z->len[slot], MMC_PAGE_SIZE);
  if (n != (int)MMC_PAGE_SIZE)
    return -1;
  ref_zip_drop(z, slot);
  return 0;
}
