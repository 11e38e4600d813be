/*
 * probe_rollup.c — the process's memory as the kernel counts it:
 * /proc/self/smaps_rollup (Rss, Pss, Pss_Anon, Pss_Shmem, Swap) and
 * RssShmem from /proc/self/status. Frame pools are shared memory (memfd), so
 * Pss_Shmem/RssShmem show what the pools really hold, whatever an
 * implementation reports (TPS savings, reclamation, SEC-1 "nothing left
 * behind"). On a tmpfs root (the 4-node guest's initramfs) the program's and
 * its libraries' own files are shared memory too: their mapped pages count
 * in RssShmem, grow as code runs for the first time (a fault maps up to 16
 * pages), and are told apart here (image_shmem_bytes, from /proc/self/smaps
 * and the loaded objects' files), so that "memory held" (ALLOC-1) is not
 * read from the code that happened to run.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <link.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

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

enum { max_images = 64 };

/* The files of the loaded objects (the program and its libraries) that are on
 * tmpfs, by their real paths as /proc/self/smaps names them. */
typedef struct images {
  char path[max_images][PATH_MAX];
  size_t n;
} images_t;

static void add_image(images_t *im, const char *name) {
  char real[PATH_MAX];
  struct statfs fs;
  if (im->n >= max_images || !name[0] || !realpath(name, real) || statfs(real, &fs) != 0 ||
      (unsigned long)fs.f_type != TMPFS_MAGIC)
    return;
  for (size_t i = 0; i < im->n; i++)
    if (strcmp(im->path[i], real) == 0)
      return;
  snprintf(im->path[im->n++], PATH_MAX, "%s", real);
}

static int add_object(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  if (info->dlpi_name && info->dlpi_name[0])
    add_image(data, info->dlpi_name);
  return 0;
}

static bool is_image(const images_t *im, const char *path) {
  for (size_t i = 0; i < im->n; i++)
    if (strcmp(im->path[i], path) == 0)
      return true;
  return false;
}

/* Shared memory pages of the loaded objects' own files: per mapping of such a
 * file, its resident pages less the private copies (Rss - Anonymous). */
static int image_shmem(uint64_t *bytes, mmc_error_t *err) {
  images_t *im = calloc(1, sizeof *im);
  if (!im)
    return mmc_fail(err, MMC_ENOMEM, "probe rollup: out of memory for the image list");
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    add_image(im, exe);
  }
  dl_iterate_phdr(add_object, im);
  *bytes = 0;
  if (im->n == 0) { /* no image on tmpfs: nothing to read */
    free(im);
    return 0;
  }
  FILE *f = fopen("/proc/self/smaps", "re");
  if (!f) {
    free(im);
    return mmc_fail(err, MMC_EIO, "probe rollup: cannot open /proc/self/smaps: %s",
                    strerror(errno));
  }
  char line[PATH_MAX + 256];
  bool in_image = false;
  uint64_t rss = 0, kb;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    int off = 0;
    if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &off) == 2 && off > 0) {
      char *path = line + off;
      path[strcspn(path, "\n")] = '\0';
      in_image = path[0] == '/' && is_image(im, path);
    } else if (in_image && sscanf(line, "Rss: %" SCNu64, &kb) == 1) {
      rss = kb;
    } else if (in_image && sscanf(line, "Anonymous: %" SCNu64, &kb) == 1) {
      *bytes += (rss > kb ? rss - kb : 0) * 1024;
    }
  }
  fclose(f);
  free(im);
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
  if (rc == 0 && !path)
    rc = image_shmem(&r.image_shmem_bytes, err);
  if (rc == 0)
    *out = r;
  return rc;
}
