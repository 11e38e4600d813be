/*
 * wl_content.c — page content derivation, the per-VM truth table, and
 * wl_verify(), which walks a whole VM through the contract.
 *
 * SPEC ids: INT-1 (every page keeps exactly the last value written: the whole
 * page is checked, not a sample of it), SEC-1 (a never-written page must read
 * zero; a foreign header names the VM seed it came from).
 *
 * Content of (seed, gpfn, version >= 1): a 32-byte header {magic, seed, gpfn,
 * version, check = low 32 bits of XXH3(first 28 bytes)} followed by 508
 * words of splitmix64 seeded with XXH3(header). Version 0 is all zeros.
 * Invariants: the content is a pure function of (seed, gpfn, version); two
 * different triples give different headers, so any single flipped byte, any
 * other page and any other version is detected, and an intact header says
 * exactly which page/version the frame holds (stale vs foreign vs corrupt).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "mmc_error.h"
#include "workload.h"

#define HDR_CHECKED_BYTES offsetof(wl_page_hdr_t, check)
#define BODY_WORDS ((MMC_PAGE_SIZE - sizeof(wl_page_hdr_t)) / sizeof(uint64_t))

_Static_assert(sizeof(wl_page_hdr_t) == 32, "page header is 32 bytes");
_Static_assert((MMC_PAGE_SIZE - sizeof(wl_page_hdr_t)) % sizeof(uint64_t) == 0,
               "page body is whole words");

/* ---------------------------------------------------------------- rng */

static inline uint64_t splitmix_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void wl_rng_seed(wl_rng_t *r, uint64_t seed) {
  r->s = seed;
}

uint64_t wl_rng_next(wl_rng_t *r) {
  return splitmix_next(&r->s);
}

uint64_t wl_rng_below(wl_rng_t *r, uint64_t n) {
  /* Multiply-high: bias below 2^-64 * n, irrelevant for picking pages. */
  return (uint64_t)(((unsigned __int128)wl_rng_next(r) * n) >> 64);
}

uint64_t wl_seed_mix(uint64_t a, uint64_t b) {
  uint64_t in[2] = {a, b};
  return XXH3_64bits(in, sizeof in);
}

/* ---------------------------------------------------------------- content */

static uint32_t hdr_check(const wl_page_hdr_t *h) {
  return (uint32_t)XXH3_64bits(h, HDR_CHECKED_BYTES);
}

static void hdr_make(wl_page_hdr_t *h, uint64_t seed, uint64_t gpfn, uint32_t version) {
  memset(h, 0, sizeof *h);
  h->magic = WL_PAGE_MAGIC;
  h->seed = seed;
  h->gpfn = gpfn;
  h->version = version;
  h->check = hdr_check(h);
}

static uint64_t body_seed(const wl_page_hdr_t *h) {
  return XXH3_64bits_withSeed(h, sizeof *h, WL_PAGE_MAGIC);
}

void wl_page_fill(void *page, uint64_t seed, uint64_t gpfn, uint32_t version) {
  if (version == 0) {
    memset(page, 0, MMC_PAGE_SIZE);
    return;
  }
  wl_page_hdr_t h;
  hdr_make(&h, seed, gpfn, version);
  memcpy(page, &h, sizeof h);
  uint64_t s = body_seed(&h);
  uint64_t *w = (uint64_t *)((char *)page + sizeof h);
  for (size_t i = 0; i < BODY_WORDS; i++)
    w[i] = splitmix_next(&s);
}

static bool page_is_zero(const void *page) {
  const uint64_t *w = page;
  uint64_t acc = 0;
  for (size_t i = 0; i < MMC_PAGE_SIZE / sizeof *w; i++)
    acc |= w[i];
  return acc == 0;
}

/* The body matches what header h promises. */
static bool body_matches(const void *page, const wl_page_hdr_t *h) {
  uint64_t s = body_seed(h);
  const uint64_t *w = (const uint64_t *)((const char *)page + sizeof *h);
  uint64_t diff = 0;
  for (size_t i = 0; i < BODY_WORDS; i++)
    diff |= w[i] ^ splitmix_next(&s);
  return diff == 0;
}

static bool hdr_intact(const wl_page_hdr_t *h) {
  return h->magic == WL_PAGE_MAGIC && h->version != 0 && h->check == hdr_check(h);
}

/* Verdict for a page that is not all zeros, given its header. */
static wl_page_verdict_t classify_nonzero(const void *page, uint64_t seed, uint64_t gpfn,
                                          uint32_t version, wl_page_seen_t *s) {
  wl_page_hdr_t h;
  memcpy(&h, page, sizeof h);
  if (!hdr_intact(&h))
    return version == 0 ? WL_PAGE_GARBAGE : WL_PAGE_CORRUPT;
  s->header_intact = true;
  s->seen_seed = h.seed;
  s->seen_gpfn = h.gpfn;
  s->seen_version = h.version;
  if (version == 0)
    return WL_PAGE_GARBAGE;
  bool intact = body_matches(page, &h);
  if (!intact)
    return WL_PAGE_CORRUPT;
  if (h.seed != seed || h.gpfn != gpfn)
    return WL_PAGE_FOREIGN;
  return h.version == version ? WL_PAGE_OK : WL_PAGE_STALE;
}

/* The fast path: the page holds exactly (seed, gpfn, version). */
static bool exact_match(const void *page, uint64_t seed, uint64_t gpfn, uint32_t version) {
  wl_page_hdr_t want, seen;
  hdr_make(&want, seed, gpfn, version);
  memcpy(&seen, page, sizeof seen);
  return memcmp(&want, &seen, sizeof want) == 0 && body_matches(page, &want);
}

wl_page_verdict_t wl_page_check(const void *page, uint64_t seed, uint64_t gpfn, uint32_t version,
                                wl_page_seen_t *seen) {
  wl_page_seen_t s = {0};
  if (version != 0 && exact_match(page, seed, gpfn, version)) {
    s = (wl_page_seen_t){.verdict = WL_PAGE_OK,
                         .header_intact = true,
                         .seen_seed = seed,
                         .seen_gpfn = gpfn,
                         .seen_version = version};
  } else if (page_is_zero(page))
    s.verdict = version == 0 ? WL_PAGE_OK : WL_PAGE_STALE;
  else
    s.verdict = classify_nonzero(page, seed, gpfn, version, &s);
  if (seen)
    *seen = s;
  return s.verdict;
}

const char *wl_page_verdict_name(wl_page_verdict_t v) {
  switch (v) {
  case WL_PAGE_OK: return "ok";
  case WL_PAGE_GARBAGE: return "garbage";
  case WL_PAGE_STALE: return "stale";
  case WL_PAGE_FOREIGN: return "foreign";
  case WL_PAGE_CORRUPT: return "corrupt";
  }
  return "?";
}

/* ---------------------------------------------------------------- truth */

int wl_truth_init(wl_truth_t *t, uint64_t seed, uint64_t npages, mmc_error_t *err) {
  memset(t, 0, sizeof *t);
  if (npages == 0)
    return mmc_fail(err, MMC_EINVAL, "workload truth table: 0 pages (a VM has at least 1)");
  t->version = calloc(npages, sizeof *t->version);
  t->src = calloc(npages, sizeof *t->src);
  if (!t->version || !t->src) {
    wl_truth_fini(t);
    return mmc_fail(err, MMC_ENOMEM, "workload truth table: no memory for %llu pages",
                    (unsigned long long)npages);
  }
  t->seed = seed;
  t->npages = npages;
  return 0;
}

void wl_truth_fini(wl_truth_t *t) {
  free(t->version);
  free(t->src);
  memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------- verify */

void wl_verify_report_add(wl_verify_report_t *rep, uint64_t gpfn, uint32_t expected,
                          const wl_page_seen_t *s) {
  rep->mismatches++;
  rep->by_verdict[s->verdict]++;
  if (rep->nfirst < WL_VERIFY_FIRST)
    rep->first[rep->nfirst++] = wl_mismatch_make(gpfn, expected, s);
}

/* page(read) with the MMC_ERETRY protocol: we hold no pointer we still use,
 * so quiescing and asking again is a restart from scratch. */
static int read_page(const mmc_impl_t *impl, mmc_vcpu_t *vcpu, uint64_t gpfn, const void **out,
                     uint64_t *retries, mmc_error_t *err) {
  mmc_error_t e = {0};
  for (uint32_t n = 0; n <= WL_RETRY_MAX; n++) {
    e = (mmc_error_t){0};
    *out = impl->page(vcpu, gpfn, false, &e);
    if (*out)
      return 0;
    if (e.code != MMC_ERETRY)
      return mmc_fail(err, e.code ? e.code : MMC_EINVAL, "verify: page(%llu, read): %s",
                      (unsigned long long)gpfn, e.code ? e.msg : "NULL without an error code");
    impl->quiesce(vcpu);
    (*retries)++;
  }
  return mmc_fail(err, MMC_ERETRY,
                  "verify: page(%llu, read) still MMC_ERETRY after %u retries (the last: %s)",
                  (unsigned long long)gpfn, WL_RETRY_MAX, e.msg);
}

int wl_verify(const mmc_impl_t *impl, mmc_vcpu_t *vcpu, const wl_truth_t *t, uint32_t quiesce_every,
              wl_verify_report_t *rep, mmc_error_t *err) {
  memset(rep, 0, sizeof *rep);
  if (!impl || !vcpu || !t || !t->version)
    return mmc_fail(err, MMC_EINVAL, "verify: implementation, vCPU handle and truth required");
  if (quiesce_every == 0)
    quiesce_every = WL_VERIFY_QUIESCE_EVERY;
  int rc = 0;
  for (uint64_t g = 0; g < t->npages; g++) {
    const void *p;
    rc = read_page(impl, vcpu, g, &p, &rep->retries, err);
    if (rc)
      break;
    wl_page_seen_t s;
    uint32_t expected = t->version[g];
    rep->pages_checked++;
    if (wl_page_check(p, wl_truth_seed(t, g), g, expected, &s) != WL_PAGE_OK)
      wl_verify_report_add(rep, g, expected, &s);
    if ((g + 1) % quiesce_every == 0)
      impl->quiesce(vcpu);
  }
  impl->quiesce(vcpu);
  return rc;
}

void wl_verify_format(const wl_verify_report_t *rep, char *buf, size_t len) {
  size_t off = 0;
#define OUT(...)                                                                                   \
  do {                                                                                             \
    if (off < len)                                                                                 \
      off += (size_t)snprintf(buf + off, len - off, __VA_ARGS__);                                  \
  } while (0)
  OUT("%llu pages checked, %llu mismatches", (unsigned long long)rep->pages_checked,
      (unsigned long long)rep->mismatches);
  if (rep->mismatches) {
    OUT(" (garbage %llu, stale %llu, foreign %llu, corrupt %llu)",
        (unsigned long long)rep->by_verdict[WL_PAGE_GARBAGE],
        (unsigned long long)rep->by_verdict[WL_PAGE_STALE],
        (unsigned long long)rep->by_verdict[WL_PAGE_FOREIGN],
        (unsigned long long)rep->by_verdict[WL_PAGE_CORRUPT]);
    OUT("; first:");
  }
  for (size_t i = 0; i < rep->nfirst; i++) {
    const wl_mismatch_t *m = &rep->first[i];
    OUT(" gpfn %llu %s expected v%u", (unsigned long long)m->gpfn, wl_page_verdict_name(m->verdict),
        m->expected_version);
    if (m->header_intact)
      OUT(" seen v%u (seed %#llx gpfn %llu)", m->seen_version, (unsigned long long)m->seen_seed,
          (unsigned long long)m->seen_gpfn);
    else if (m->verdict == WL_PAGE_STALE)
      OUT(" seen zeros");
    OUT(i + 1 < rep->nfirst ? "," : "");
  }
#undef OUT
}
