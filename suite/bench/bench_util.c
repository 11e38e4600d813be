/*
 * bench_util.c — shared helpers of the benchmarks; see bench_util.h.
 */
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "config.h"
#include "mmc_error.h"

int bu_load_impl(const suite_bench_opts_t *o, suite_impl_t *si) {
  char path[PATH_MAX];
  const char *env = getenv("MMCERT_IMPL");
  if (env && *env) {
    snprintf(path, sizeof path, "%s", env);
  } else {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    path[0] = '\0';
    if (n > 0) {
      exe[n] = '\0';
      snprintf(path, sizeof path, "%s/libmmref.so", dirname(exe));
    }
    if (!path[0] || access(path, R_OK) != 0)
      snprintf(path, sizeof path, "%s/libmmref.so", MMCERT_LIBDIR);
  }
  mmc_error_t err = {0};
  if (suite_impl_load(path, si, &err) != 0) {
    fprintf(o->err, "mmcert bench: %s\n", err.msg);
    return 1;
  }
  return 0;
}

int bu_load_topology(const suite_bench_opts_t *o, const char *spec, mmt_topology_t **out) {
  mmc_error_t err = {0};
  if (mmt_load(spec, out, &err) != 0) {
    fprintf(o->err, "mmcert bench: topology %s: %s\n", spec ? spec : "of this machine", err.msg);
    return 1;
  }
  return 0;
}

int bu_host(const suite_bench_opts_t *o, const mmc_impl_t *im, const mmt_topology_t *topo,
            uint64_t seed, mmc_host_t **out) {
  return bu_host_swap(o, im, topo, seed, NULL, out);
}

int bu_host_swap(const suite_bench_opts_t *o, const mmc_impl_t *im, const mmt_topology_t *topo,
                 uint64_t seed, const char *swap_dir, mmc_host_t **out) {
  mmc_host_config_t cfg = {
      .topology = &topo->desc,
      .clock = (im->capabilities & MMC_CAP_CLOCK_STEPPED) ? MMC_CLOCK_STEPPED : MMC_CLOCK_LIVE,
      .seed = seed,
      .swap_dir = swap_dir,
  };
  mmc_error_t err = {0};
  if (im->host_create(&cfg, out, &err) != 0) {
    fprintf(o->err, "mmcert bench: host_create on %s: %s\n", topo->source, err.msg);
    return 1;
  }
  return 0;
}

uint64_t bu_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t bu_thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double bu_percentile(double *v, size_t n, double p) {
  if (n == 0)
    return 0;
  qsort(v, n, sizeof *v, cmp_double);
  size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
  rank = rank < 1 ? 1 : rank > n ? n : rank;
  return v[rank - 1];
}

void bu_header(FILE *f) {
  fprintf(f, "  %-34s %12s %-6s  %-34s %12s  %7s  %s\n", "figure", "value", "unit", "peer", "value",
          "ratio", "target");
}

void bu_row(FILE *f, const char *figure, double value, const char *unit, const char *peer,
            double peer_value, double ratio, const char *target) {
  fprintf(f, "  %-34s %12.3f %-6s  %-34s %12.3f  %7.3f  %s\n", figure, value, unit, peer,
          peer_value, ratio, target);
  fflush(f);
}
