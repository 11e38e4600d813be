/*
 * probe_rollup.c — the process's memory as the kernel counts it:
 * /proc/self/smaps_rollup (Rss, Pss, Pss_Anon, Pss_Shmem, Swap) and
 * RssShmem from /proc/self/status. Frame pools are shared memory (memfd), so
 * Pss_Shmem/RssShmem show what the pools really hold, whatever an
 * implementation reports (TPS savings, reclamation, SEC-1 "nothing left
 * behind").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mmc_error.h"
#include "probes.h"

/* Read "Key:   123 kB" lines of `file` into the matching fields. */
typedef struct probe_field {
  const char *key;
  uint64_t *dst;
} probe_field_t;

static int read_kb_fields(const char *file, const probe_field_t *fields, size_t nfields,
                          mmc_error_t *err) {
  FILE *f = fopen(file, "re");
  if (!f)
    return mmc_fail(err, MMC_EIO, "probe rollup: cannot open %s: %s", file, strerror(errno));
  char line[256];
  size_t found = 0;
  while (fgets(line, sizeof line, f)) {
    for (size_t i = 0; i < nfields; i++) {
      size_t kl = strlen(fields[i].key);
      uint64_t kb;
      if (strncmp(line, fields[i].key, kl) == 0 && line[kl] == ':' &&
          sscanf(line + kl + 1, "%" SCNu64, &kb) == 1) {
        *fields[i].dst = kb * 1024;
        found++;
      }
    }
  }
  fclose(f);
  if (found < nfields)
    return mmc_fail(err, MMC_EIO, "probe rollup: %s lacks %zu of the %zu expected fields", file,
                    nfields - found, nfields);
  return 0;
}

int probe_rollup(probe_rollup_t *out, const char *path, mmc_error_t *err) {
  probe_rollup_t r = {0};
  const probe_field_t rollup[] = {
      {"Rss", &r.rss_bytes},           {"Pss", &r.pss_bytes},
      {"Pss_Anon", &r.pss_anon_bytes}, {"Pss_Shmem", &r.pss_shmem_bytes},
      {"Swap", &r.swap_bytes},
  };
  const probe_field_t status[] = {{"RssShmem", &r.rss_shmem_bytes}};
  int rc = read_kb_fields(path ? path : "/proc/self/smaps_rollup", rollup,
                          sizeof rollup / sizeof rollup[0], err);
  if (rc == 0 && !path)
    rc = read_kb_fields("/proc/self/status", status, 1, err);
  if (rc == 0)
    *out = r;
  return rc;
}
