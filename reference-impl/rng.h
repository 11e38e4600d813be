/*
 * rng.h — the reference implementation's one pseudo-random generator, so every
 * random choice (working-set samples, swap victims, tie-breaks) is
 * reproducible from a seed.
 *
 * Generator: xoshiro256** (Blackman & Vigna, 2018; public domain reference
 * code at prng.di.unimi.it), 256 bits of state, period 2^256 - 1, passes
 * BigCrush. Seeding: the 64-bit seed is expanded with splitmix64 (the seeding
 * procedure the xoshiro authors recommend), which never yields the all-zero
 * state that xoshiro must avoid.
 *
 * Not thread-safe: one ref_rng_t per user (per VM, per policy). Not for
 * anything security-related.
 *
 * Invariants: the state is never all zero (ref_rng_is_valid); the same seed
 * gives the same sequence on every platform (only 64-bit integer arithmetic;
 * ref_rng_unit uses the top 53 bits, exact in a double).
 */
#ifndef REF_RNG_H
#define REF_RNG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct ref_rng {
  uint64_t s[4]; /* xoshiro256** state; never all zero */
} ref_rng_t;

/* splitmix64: advance *x and return the next output. Also a fine hash of a
 * 64-bit value (deriving per-VM seeds from a host seed and a VM id). */
static inline uint64_t ref_splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static inline void ref_rng_seed(ref_rng_t *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++)
    r->s[i] = ref_splitmix64(&x);
  if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) /* cannot happen; keep the invariant obvious */
    r->s[0] = 1;
}

static inline bool ref_rng_is_valid(const ref_rng_t *r) {
  return (r->s[0] | r->s[1] | r->s[2] | r->s[3]) != 0;
}

static inline uint64_t ref_rng_rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

/* Next 64 uniformly distributed bits. */
static inline uint64_t ref_rng_next(ref_rng_t *r) {
  uint64_t *s = r->s;
  uint64_t result = ref_rng_rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = ref_rng_rotl(s[3], 45);
  return result;
}

/* Uniform integer in [0, n), n > 0, without modulo bias (Lemire's
 * multiply-and-reject). Returns 0 when n == 0. */
static inline uint64_t ref_rng_below(ref_rng_t *r, uint64_t n) {
  if (n == 0)
    return 0;
  unsigned __int128 m = (unsigned __int128)ref_rng_next(r) * n;
  uint64_t low = (uint64_t)m;
  if (low < n) {
    uint64_t threshold = -n % n; /* 2^64 mod n */
    while (low < threshold) {
      m = (unsigned __int128)ref_rng_next(r) * n;
      low = (uint64_t)m;
    }
  }
  return (uint64_t)(m >> 64);
}

/* Uniform double in [0, 1). */
static inline double ref_rng_unit(ref_rng_t *r) {
  return (double)(ref_rng_next(r) >> 11) * 0x1.0p-53;
}

#endif
