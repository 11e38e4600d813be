/*
 * placement.c — `mmcert bench placement`: the cost of one initial placement
 * decision at scale (NUMA-1/2/3; issue 3 target: p99 <= 10 us). 1000 VMs of
 * mixed sizes are powered on one after the other into a 24-node host (the
 * hwloc export 192em64t-24n8c2t.xml from ../shared/topologies when found,
 * else a synthetic 24-node machine of the same shape) on the stepped clock,
 * timing each vm_power_on. The peer is the fastest power-on of the run, so
 * the ratio p99/p50 shows how far the slow tail is from the typical case;
 * the target is on the absolute p99.
 */
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "mmc_error.h"

#define BENCH_MIB (1024ull * 1024ull)
enum { placement_vms = 1000, placement_vm_sizes = 8 };
#define PLACEMENT_TARGET_P99_US 10.0
static const char placement_xml[] = "shared/topologies/192em64t-24n8c2t.xml";
/* Same shape as the export: 24 nodes x 8 cores x 2 threads. */
static const char placement_synthetic[] = "synthetic:node:24 core:8 pu:2;memory=64G";

/* The export, looked for beside the source tree (../shared from the repo
 * root, the usual layout) from the working directory and from mmcert's. */
static const char *find_xml(char *buf, size_t cap) {
  const char *env = getenv("MMCERT_TOPOLOGIES");
  if (env && *env) {
    snprintf(buf, cap, "%s/192em64t-24n8c2t.xml", env);
    if (access(buf, R_OK) == 0)
      return buf;
  }
  static const char *const ups[] = {"..", "../..", "../../.."};
  for (size_t i = 0; i < sizeof ups / sizeof ups[0]; i++) {
    snprintf(buf, cap, "%s/%s", ups[i], placement_xml);
    if (access(buf, R_OK) == 0)
      return buf;
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    char *dir = dirname(exe); /* .../repo/build; worktrees sit one level deeper */
    for (size_t i = 1; i < sizeof ups / sizeof ups[0]; i++) {
      snprintf(buf, cap, "%s/%s/%s", dir, ups[i], placement_xml);
      if (access(buf, R_OK) == 0)
        return buf;
    }
  }
  return NULL;
}

int suite_bench_placement(const suite_bench_opts_t *o) {
  static const uint32_t vcpus[placement_vm_sizes] = {1, 2, 4, 1, 8, 2, 1, 4};
  static const uint64_t mib[placement_vm_sizes] = {16, 64, 128, 32, 256, 64, 16, 128};
  suite_impl_t si;
  if (bu_load_impl(o, &si))
    return 1;
  const mmc_impl_t *im = si.impl;
  if (!(im->capabilities & MMC_CAP_CLOCK_STEPPED) || !(im->capabilities & MMC_CAP_PLACEMENT)) {
    fprintf(o->err, "mmcert bench placement: %s lacks MMC_CAP_CLOCK_STEPPED or MMC_CAP_PLACEMENT\n",
            im->name);
    suite_impl_unload(&si);
    return 1;
  }
  char path[PATH_MAX];
  const char *xml = find_xml(path, sizeof path);
  mmt_topology_t *topo = NULL;
  mmc_host_t *h = NULL;
  int failed = 1;
  unsigned rounds = o->repeat ? o->repeat : 1;
  double *lat = calloc((size_t)placement_vms * rounds, sizeof *lat);
  if (!lat || bu_load_topology(o, xml ? xml : placement_synthetic, &topo))
    goto out;
  size_t nlat = 0, refused = 0;
  for (unsigned r = 0; r < rounds; r++) {
    if (bu_host(o, im, topo, 1 + r, &h))
      goto out;
    for (int i = 0; i < placement_vms; i++) {
      mmc_vm_config_t cfg;
      mmc_vm_config_init(&cfg);
      cfg.name = "bench-placement";
      cfg.vcpus = vcpus[i % placement_vm_sizes];
      cfg.memory_bytes = mib[(i / 3) % placement_vm_sizes] * BENCH_MIB;
      mmc_vm_id_t vm;
      mmc_error_t err = {0};
      uint64_t t0 = bu_now_ns();
      int rc = im->vm_power_on(h, &cfg, &vm, &err);
      uint64_t t1 = bu_now_ns();
      if (rc == MMC_EADMISSION) {
        refused++;
        continue;
      }
      if (rc != 0) {
        fprintf(o->err, "mmcert bench placement: power-on %d: %s\n", i, err.msg);
        goto out;
      }
      lat[nlat++] = (double)(t1 - t0) / 1000.0;
    }
    im->host_destroy(h);
    h = NULL;
  }
  if (nlat == 0) {
    fprintf(o->err, "mmcert bench placement: no power-on succeeded\n");
    goto out;
  }
  double p50 = bu_percentile(lat, nlat, 50), p99 = bu_percentile(lat, nlat, 99);
  double best = lat[0];
  fprintf(o->out, "  %s %s, %d VMs x %u rounds on %s (%u nodes), stepped clock%s\n", im->name,
          im->version, placement_vms, rounds, topo->source, topo->desc.nnodes,
          refused ? ", some refused by admission" : "");
  bu_header(o->out);
  bu_row(o->out, "power-on latency p50", p50, "us", "fastest power-on", best, p50 / best, "");
  bu_row(o->out, "power-on latency p99", p99, "us", "power-on latency p50", p50, p99 / p50,
         "p99 <= 10 us");
  fprintf(o->out, "  p99 %.3f us: %s the 10 us target\n", p99,
          p99 <= PLACEMENT_TARGET_P99_US ? "meets" : "MISSES");
  failed = 0;
out:
  if (h)
    im->host_destroy(h);
  if (topo)
    mmt_free(topo);
  free(lat);
  suite_impl_unload(&si);
  return failed;
}
