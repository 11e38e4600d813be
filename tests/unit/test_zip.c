/*
 * test_zip.c — the compression cache (zip.c, ZIP-1) on its own: a page that
 * compresses to at most 2 KB is stored and comes back byte for byte; an
 * incompressible page is refused; the cap (Mem.MemZipMaxPct of the VM)
 * bounds the slots in use and a freed slot is reused; a corrupt slot is
 * reported, not decompressed into garbage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "mmcert/impl.h"
#include "rng.h"
#include "zip.h"

enum { NPAGES = 64 };

/* Text-like content: compresses far below 2 KB. */
static void compressible(uint8_t *p, uint64_t seed) {
  for (size_t i = 0; i < MMC_PAGE_SIZE; i++)
    p[i] = (uint8_t)('a' + (i / 64 + seed) % 26);
}

/* Random bytes: LZ4 cannot bring them under 2 KB. */
static void random_page(uint8_t *p, uint64_t seed) {
  ref_rng_t r;
  ref_rng_seed(&r, seed);
  for (size_t i = 0; i < MMC_PAGE_SIZE; i += 8) {
    uint64_t v = ref_rng_next(&r);
    memcpy(p + i, &v, 8);
  }
}

/* Each test gets a made cache of a 64-page VM. */
static int zip_up(void **state) {
  ref_zip_t *z = malloc(sizeof *z);
  if (!z)
    return -1;
  ref_zip_init(z, NPAGES);
  *state = z;
  return ref_zip_alloc(z) ? 0 : -1;
}

static int zip_down(void **state) {
  ref_zip_free(*state);
  free(*state);
  return 0;
}

static void round_trip(void **state) {
  ref_zip_t *z = *state;
  assert_int_equal(z->max, NPAGES * 2);
  uint8_t in[MMC_PAGE_SIZE], out[MMC_PAGE_SIZE];
  compressible(in, 3);
  uint64_t slot = 99;
  assert_true(ref_zip_store(z, ref_zip_cap(z, NPAGES, 10), in, &slot));
  assert_int_equal(slot, 0);
  assert_true(z->len[slot] > 0 && z->len[slot] <= REF_ZIP_SLOT);
  assert_int_equal(ref_zip_used(z), 1);
  assert_int_equal(ref_zip_load(z, slot, out), 0);
  assert_memory_equal(in, out, MMC_PAGE_SIZE);
  assert_int_equal(ref_zip_used(z), 0); /* a load frees the slot */
}

static void incompressible_page_refused(void **state) {
  ref_zip_t *z = *state;
  uint8_t in[MMC_PAGE_SIZE];
  random_page(in, 7);
  uint64_t slot;
  assert_false(ref_zip_store(z, z->max, in, &slot));
  assert_int_equal(ref_zip_used(z), 0);
}

/* 10 % of 64 pages = 6.4 pages = 12 slots of 2 KB (rounded down). */
static void cap_bounds_slots_and_freed_slots_return(void **state) {
  ref_zip_t *z = *state;
  uint64_t cap = ref_zip_cap(z, NPAGES, 10);
  assert_int_equal(cap, NPAGES * MMC_PAGE_SIZE / 100 * 10 / REF_ZIP_SLOT);
  assert_int_equal(cap, 12);
  /* At 100 % the whole mapping but for the rounding of the percentage. */
  assert_in_range(ref_zip_cap(z, NPAGES, 100), z->max - 1, z->max);
  uint8_t in[MMC_PAGE_SIZE];
  uint64_t slot = 0;
  for (uint64_t i = 0; i < cap; i++) {
    compressible(in, i);
    assert_true(ref_zip_store(z, cap, in, &slot));
    assert_int_equal(slot, i);
  }
  compressible(in, cap);
  assert_false(ref_zip_store(z, cap, in, &slot)); /* full at the cap */
  ref_zip_drop(z, 5);
  assert_true(ref_zip_store(z, cap, in, &slot));
  assert_int_equal(slot, 5); /* the freed slot, not a new one */
  assert_int_equal(ref_zip_used(z), cap);
}

static void corrupt_slot_reported(void **state) {
  ref_zip_t *z = *state;
  uint8_t in[MMC_PAGE_SIZE], out[MMC_PAGE_SIZE];
  compressible(in, 1);
  uint64_t slot;
  assert_true(ref_zip_store(z, z->max, in, &slot));
  z->len[slot] = 3; /* a truncated stream cannot give a whole page */
  assert_int_equal(ref_zip_load(z, slot, out), -1);
  assert_int_equal(ref_zip_used(z), 1); /* kept: the caller reports it */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(round_trip, zip_up, zip_down),
      cmocka_unit_test_setup_teardown(incompressible_page_refused, zip_up, zip_down),
      cmocka_unit_test_setup_teardown(cap_bounds_slots_and_freed_slots_return, zip_up, zip_down),
      cmocka_unit_test_setup_teardown(corrupt_slot_reported, zip_up, zip_down),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
