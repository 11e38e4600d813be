/*
 * size.c — memory sizes written by people ("4G", "512MiB", "1.5G", "1048576").
 *
 * Used by --host-memory, `;memory=` of synthetic topologies, and anywhere
 * else a size is typed. Units are binary (K = 1024) because page counts and
 * node sizes are; an optional trailing "B" or "iB" is accepted so "2GB",
 * "2GiB" and "2G" mean the same. A decimal fraction is allowed with a unit
 * and the result is rounded down to whole bytes.
 *
 * Invariants: on any error *bytes is left untouched and the message quotes the
 * text and lists the accepted forms; the arithmetic never wraps (overflow is
 * detected and reported, not truncated).
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mmc_error.h"
#include "mmc_topology.h"

#define SIZE_FORMS                                                                                 \
  "a whole number of bytes or a number with K, M, G or T (optionally B or iB), e.g. 512M, 1.5G, "  \
  "2GiB"

/* Digits after the point beyond this cannot change the result of a
 * multiplication by at most 2^40 in a way that matters (10^13 > 2^40). */
#define SIZE_MAX_FRACTION_DIGITS 13

static int unit_shift(char c) {
  switch (toupper((unsigned char)c)) {
  case 'K': return 10;
  case 'M': return 20;
  case 'G': return 30;
  case 'T': return 40;
  default: return -1;
  }
}

/* After the unit letter: nothing, "B" or "iB" (any case). */
static bool valid_unit_tail(const char *p) {
  if (*p == '\0')
    return true;
  if ((p[0] == 'B' || p[0] == 'b') && p[1] == '\0')
    return true;
  return (p[0] == 'i' || p[0] == 'I') && (p[1] == 'B' || p[1] == 'b') && p[2] == '\0';
}

int mmt_parse_size(const char *text, uint64_t *bytes, mmc_error_t *err) {
  if (!text || !*text)
    return mmc_fail(err, MMC_EINVAL, "empty size; expected %s", SIZE_FORMS);
  const char *p = text;
  if (*p == '-')
    return mmc_fail(err, MMC_EINVAL, "size '%s' is negative; expected %s", text, SIZE_FORMS);
  if (!isdigit((unsigned char)*p))
    return mmc_fail(err, MMC_EINVAL, "size '%s' does not start with a digit; expected %s", text,
                    SIZE_FORMS);

  uint64_t whole = 0;
  for (; isdigit((unsigned char)*p); p++) {
    unsigned d = (unsigned)(*p - '0');
    if (whole > (UINT64_MAX - d) / 10)
      return mmc_fail(err, MMC_ERANGE, "size '%s' is too large (more than 2^64-1 bytes)", text);
    whole = whole * 10 + d;
  }

  /* Fraction kept as numerator/10^digits, exact. */
  uint64_t frac = 0, frac_den = 1;
  bool has_point = false;
  if (*p == '.') {
    has_point = true;
    p++;
    if (!isdigit((unsigned char)*p))
      return mmc_fail(err, MMC_EINVAL, "size '%s': no digit after the decimal point; expected %s",
                      text, SIZE_FORMS);
    for (int n = 0; isdigit((unsigned char)*p); p++, n++) {
      if (n < SIZE_MAX_FRACTION_DIGITS) {
        frac = frac * 10 + (uint64_t)(*p - '0');
        frac_den *= 10;
      }
    }
  }

  int shift = 0;
  if (*p) {
    shift = unit_shift(*p);
    if (shift < 0 && (*p == 'B' || *p == 'b') && p[1] == '\0')
      shift = 0; /* "100B" */
    else if (shift < 0 || !valid_unit_tail(p + 1))
      return mmc_fail(err, MMC_EINVAL, "size '%s': unknown unit '%s'; expected %s", text, p,
                      SIZE_FORMS);
  }
  if (has_point && shift == 0)
    return mmc_fail(err, MMC_EINVAL, "size '%s': a fraction of a byte; use a unit (K, M, G, T)",
                    text);

  if (shift > 0 && whole > (UINT64_MAX >> shift))
    return mmc_fail(err, MMC_ERANGE, "size '%s' is too large (more than 2^64-1 bytes)", text);
  uint64_t total = whole << shift;
  /* frac/frac_den < 1, so (frac << shift)/frac_den < 2^shift: compute in 128 bits. */
  unsigned __int128 part = ((unsigned __int128)frac << shift) / frac_den;
  if (total > UINT64_MAX - (uint64_t)part)
    return mmc_fail(err, MMC_ERANGE, "size '%s' is too large (more than 2^64-1 bytes)", text);
  *bytes = total + (uint64_t)part;
  return MMC_OK;
}
