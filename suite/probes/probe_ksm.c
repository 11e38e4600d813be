/*
 * probe_ksm.c — the kernel's samepage merging seen from outside (TPS-1..8 on
 * the live clock): whether this process has memory under KSM, and how far
 * ksmd has got.
 *
 * A live case must know when a scanner has had its chance before it judges
 * what it merged (kselftest's ksm tests wait for two full scans). The
 * implementation's own pages_scanned is a claim; when the process's memory
 * is under KSM (/proc/self/ksm_stat says "ksm_mergeable: yes", kernel 6.1+,
 * or ksm_rmap_items > 0), ksmd's machine-wide full_scans counter in
 * /sys/kernel/mm/ksm is the kernel's own witness: a page needs two full
 * scans to merge (one to record its checksum, one to meet its twin).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmc_error.h"
#include "probes.h"

#define KSM_DIR "/sys/kernel/mm/ksm/"

static bool read_u64(const char *path, uint64_t *v) {
  FILE *f = fopen(path, "r");
  if (!f)
    return false;
  unsigned long long x = 0;
  bool ok = fscanf(f, "%llu", &x) == 1;
  fclose(f);
  if (ok)
    *v = x;
  return ok;
}

/* /proc/self/ksm_stat: the process has mergeable memory KSM scans. */
static bool self_mergeable(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return false;
  char line[128], word[16] = "";
  unsigned long long items = 0;
  bool yes = false;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "ksm_mergeable: %15s", word) == 1 && strcmp(word, "yes") == 0)
      yes = true;
    if (sscanf(line, "ksm_rmap_items %llu", &items) == 1 && items > 0)
      yes = true;
  }
  fclose(f);
  return yes;
}

int probe_ksm_read(probe_ksm_t *out, const char *ksm_stat_path, mmc_error_t *err) {
  probe_ksm_t k = {0};
  uint64_t run = 0;
  if (!read_u64(KSM_DIR "full_scans", &k.full_scans))
    return mmc_fail(err, MMC_ENOTSUP, "probe ksm: %sfull_scans: %s (no KSM in this kernel?)",
                    KSM_DIR, strerror(errno));
  k.running = read_u64(KSM_DIR "run", &run) && run == 1;
  k.has_pages_scanned = read_u64(KSM_DIR "pages_scanned", &k.pages_scanned);
  k.mergeable = self_mergeable(ksm_stat_path ? ksm_stat_path : "/proc/self/ksm_stat");
  *out = k;
  return 0;
}
