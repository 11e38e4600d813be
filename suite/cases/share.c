/*
 * share.c — cases of transparent page sharing (issue 5): TPS-1..6, TPS-8,
 * SALT-1, SALT-2, and SEC-1's copy-on-write part. TPS-7 (share before swap)
 * belongs to the reclamation cases.
 *
 * Every case runs on the stepped clock (deterministic from the run's seed)
 * on emulated topologies of 1, 2 and 4 nodes (a 1-node synthetic machine,
 * builtin:2, builtin:4), whatever the run's topology, with a fixed CPU
 * frequency (2000 MHz unless a case says otherwise) so the host scan budget
 * Mem.ShareScanGHz x GHz is known: GHz = cpu_mhz x the topology's cores /
 * 1000. Mem.ShareScanTime is set to its minimum (10 min), so one scan pass
 * of any VM takes 600 s of host time; cases advance by passes.
 *
 * Ground truth comes from the workloads (clone: image pages identical across
 * clones, zero pages, unique pages; wl_verify reads every page against what
 * was written). Independent probes: pointer identity of page() results (two
 * pages share a frame exactly when their pointers are equal), the node of a
 * pointer by its "mmcert-node<N>" mapping in /proc/self/maps, and the frames
 * really in use by mincore(2) over those pool mappings (freed frames are
 * given back to the kernel, so residency counts frames held).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "case_util.h"
#include "mmc_error.h"
#include "workload.h"

#define SH_NS_PER_S 1000000000ull
#define SH_SCAN_MIN 10                  /* Mem.ShareScanTime used: its minimum */
#define SH_PASS_S (SH_SCAN_MIN * 60ull) /* one pass of every VM */
#define SH_SLACK_S 5ull                 /* a few scanner periods more */
#define SH_MHZ 2000u
enum {
  sh_max_vms = 16,
  sh_quick_pages = 1024, /* 4 MB VMs in quick mode */
  sh_full_pages = 16384, /* 64 MB in full mode */
};

static const char *const sh_topos[] = {"synthetic:node:1 core:2 pu:1;memory=1G", "builtin:2",
                                       "builtin:4"};
#define SH_NTOPOS (sizeof sh_topos / sizeof sh_topos[0])

/* ------------------------------------------------------------ a host of clones */

typedef struct farm {
  suite_ctx_t *c;
  const mmc_impl_t *im;
  mmt_topology_t *t;
  mmc_host_t *h;
  size_t n;
  wl_vm_t *vm[sh_max_vms];
  mmc_vm_config_t cfg[sh_max_vms];
  uint32_t node[sh_max_vms];
  uint64_t npages;
  char label[64];
} farm_t;

static uint64_t sh_pages(suite_ctx_t *c) {
  return sc_mode(c) == SUITE_MODE_FULL ? sh_full_pages : sh_quick_pages;
}

/* A stepped host on `spec` with ShareScanTime at 10 min, then `extra`. */
static void farm_open(suite_ctx_t *c, farm_t *f, const char *spec, uint32_t mhz,
                      const mmc_setting_value_t *extra, size_t nextra) {
  memset(f, 0, sizeof *f);
  f->c = c;
  f->im = sc_impl(c);
  f->t = cu_topology(c, spec);
  f->t->desc.cpu_mhz = mhz;
  f->npages = sh_pages(c);
  snprintf(f->label, sizeof f->label, "%u node%s", f->t->desc.nnodes,
           f->t->desc.nnodes > 1 ? "s" : "");
  mmc_setting_value_t s[8] = {{"Mem.ShareScanTime", SH_SCAN_MIN}};
  size_t ns = 1;
  for (size_t i = 0; i < nextra && ns < 8; i++)
    s[ns++] = extra[i];
  f->h = sc_host(c, f->t, MMC_CLOCK_STEPPED, s, ns);
}

/* Power on a 1-vCPU clone VM on `node` and write its layout. */
static size_t farm_add(farm_t *f, uint32_t node, const char *salt, bool pshare,
                       const wl_clone_cfg_t *cc) {
  if (f->n == sh_max_vms)
    sc_broken(f->c, "more than %d VMs in one case", sh_max_vms);
  size_t i = f->n;
  mmc_vm_config_t cfg = cu_vm("clone", 1, f->npages * MMC_PAGE_SIZE);
  cfg.node_affinity = 1ull << node;
  cfg.salt = salt;
  cfg.pshare_enable = pshare;
  mmc_error_t err = {0};
  int rc = wl_vm_boot(&f->vm[i], f->im, f->h, &cfg, wl_seed_mix(sc_seed(f->c), i), &wl_clone_ops,
                      cc, &err);
  if (rc == MMC_ENOTSUP)
    cu_enotsup_verdict(f->c, &cfg, &err, "booting a clone VM");
  sc_require(f->c, rc, &err, "booting a clone VM");
  f->n++;
  sc_require(f->c, wl_vm_enter_all(f->vm[i], &err), &err, "entering the clone's vCPU");
  for (int k = 0; k < 4 && !wl_clone_booted(f->vm[i]); k++)
    sc_require(f->c, wl_vm_step_all(f->vm[i], f->im->now(f->h), 0, &err), &err, "clone boot");
  if (!wl_clone_booted(f->vm[i]))
    sc_broken(f->c, "clone VM %zu did not finish writing its layout", i);
  f->cfg[i] = cfg;
  f->node[i] = node;
  return i;
}

static void farm_close(farm_t *f) {
  mmc_error_t err = {0};
  for (size_t i = 0; i < f->n; i++)
    sc_require(f->c, wl_vm_shutdown(f->vm[i], &err), &err, "shutting a clone down");
  sc_host_destroy(f->c, f->h);
  mmt_free(f->t);
}

static void farm_passes(farm_t *f, unsigned passes) {
  cu_advance(f->c, f->h, (passes * SH_PASS_S + SH_SLACK_S) * SH_NS_PER_S);
}

static mmc_vcpu_t *farm_vcpu(farm_t *f, size_t i) {
  return f->vm[i]->vcpus[0].handle;
}

/* page() of VM i, read access; the pointer stays valid until farm_quiesce. */
static void *farm_ptr(farm_t *f, size_t i, uint64_t g) {
  mmc_error_t err = {0};
  void *p = cu_page(f->im, farm_vcpu(f, i), g, false, &err);
  if (!p)
    sc_broken(f->c, "page %llu of VM %u: %s", (unsigned long long)g, f->vm[i]->id, err.msg);
  return p;
}

static void farm_quiesce(farm_t *f) {
  for (size_t i = 0; i < f->n; i++)
    f->im->quiesce(farm_vcpu(f, i));
}

/* Every page of every VM against the truth. */
static void farm_verify(farm_t *f, const char *when) {
  for (size_t i = 0; i < f->n; i++) {
    wl_verify_report_t rep;
    mmc_error_t err = {0};
    sc_require(f->c, wl_vm_verify(f->vm[i], &rep, &err), &err, "wl_verify");
    char line[512], name[160];
    wl_verify_format(&rep, line, sizeof line);
    snprintf(name, sizeof name, "%s, %s: VM %zu reads exactly its own content (every page)",
             f->label, when, i);
    sc_check(f->c, rep.mismatches == 0 && rep.pages_checked == f->npages, name, "%s", line);
  }
}

/* Frames held in every node's pool now, by mincore over the node mappings. */
static void pool_resident(farm_t *f, uint64_t *per_node) {
  probe_maps_t m;
  mmc_error_t err = {0};
  sc_require(f->c, probe_maps_load(&m, NULL, &err), &err, "reading /proc/self/maps");
  memset(per_node, 0, f->t->desc.nnodes * sizeof *per_node);
  for (size_t r = 0; r < m.n; r++) {
    int node = probe_node_index(&f->t->desc, (int)m.ranges[r].os_node);
    uint64_t res = 0;
    sc_require(f->c,
               probe_mincore((void *)m.ranges[r].start, m.ranges[r].end - m.ranges[r].start, &res,
                             NULL, &err),
               &err, "mincore over a pool mapping");
    if (node >= 0)
      per_node[node] += res;
  }
  probe_maps_free(&m);
}

static uint64_t sum_u64(const uint64_t *v, size_t n) {
  uint64_t s = 0;
  for (size_t i = 0; i < n; i++)
    s += v[i];
  return s;
}

static mmc_vm_stats_t farm_stats(farm_t *f, size_t i) {
  return cu_vm_stats(f->c, f->h, f->vm[i]->id);
}

/* Image pages of VM i on which VM j's page() pointer equals VM i's, out of
 * the image pages still intact in both. */
static void image_identity(farm_t *f, size_t i, size_t j, uint64_t *same, uint64_t *total) {
  *same = *total = 0;
  for (uint64_t g = 0; g < f->npages; g++) {
    if (wl_clone_kind(f->vm[i], g) != WL_CLONE_IMAGE || f->vm[i]->truth.src[g] != WL_SRC_IMAGE ||
        f->vm[j]->truth.src[g] != WL_SRC_IMAGE)
      continue;
    (*total)++;
    *same += farm_ptr(f, i, g) == farm_ptr(f, j, g);
    farm_quiesce(f);
  }
}

static const wl_clone_cfg_t sh_clone = {
    .image_seed = 0x1a6e, .image_permille = 600, .zero_permille = 100};

static const mmc_setting_value_t sh_unsalted[] = {{"Mem.ShareForceSalting", 0}};

/* ------------------------------------------------------------ TPS-1 */

/* Content of page g; `twist` flips the very last byte. */
static void tps1_fill(uint8_t *p, uint64_t g, bool twist) {
  for (size_t k = 0; k < MMC_PAGE_SIZE; k += 8) {
    uint64_t w = (g + 1) * 0x9e3779b97f4a7c15ull ^ k;
    memcpy(p + k, &w, 8);
  }
  if (twist)
    p[MMC_PAGE_SIZE - 1] ^= 0x01;
}

/* Two VMs: even pages identical, odd pages differing in their last byte. */
static void tps1_run(suite_ctx_t *c, const char *spec, const mmc_setting_value_t *extra,
                     size_t nextra, const char *how) {
  farm_t f;
  farm_open(c, &f, spec, SH_MHZ, extra, nextra);
  const mmc_impl_t *im = f.im;
  uint32_t node = f.t->desc.nnodes - 1;
  mmc_vm_id_t id[2];
  mmc_vcpu_t *v[2];
  mmc_error_t err = {0};
  for (int k = 0; k < 2; k++) {
    mmc_vm_config_t cfg = cu_vm("tps1", 1, f.npages * MMC_PAGE_SIZE);
    cfg.node_affinity = 1ull << node;
    id[k] = cu_power_on(c, f.h, &cfg);
    sc_require(c, im->vcpu_enter(f.h, id[k], 0, &v[k], &err), &err, "vcpu_enter");
    for (uint64_t g = 0; g < f.npages; g++) {
      uint8_t *p = cu_page(im, v[k], g, true, &err);
      if (!p)
        sc_broken(c, "page: %s", err.msg);
      tps1_fill(p, g, k == 1 && g % 2);
    }
    im->quiesce(v[k]);
  }
  farm_passes(&f, 2);
  uint64_t same_even = 0, same_odd = 0, bad = 0;
  uint8_t want[MMC_PAGE_SIZE];
  for (uint64_t g = 0; g < f.npages; g++) {
    uint8_t *a = cu_page(im, v[0], g, false, &err), *b = cu_page(im, v[1], g, false, &err);
    if (!a || !b)
      sc_broken(c, "page: %s", err.msg);
    if (g % 2)
      same_odd += a == b;
    else
      same_even += a == b;
    tps1_fill(want, g, false);
    bad += memcmp(a, want, MMC_PAGE_SIZE) != 0;
    tps1_fill(want, g, g % 2);
    bad += memcmp(b, want, MMC_PAGE_SIZE) != 0;
    im->quiesce(v[0]);
    im->quiesce(v[1]);
  }
  uint64_t half = f.npages / 2;
  char name[160];
  snprintf(name, sizeof name, "%s, %s: identical pages share one frame (pointer identity)", f.label,
           how);
  sc_check(c, same_even == half, name, "%llu of %llu identical pages shared",
           (unsigned long long)same_even, (unsigned long long)half);
  snprintf(name, sizeof name, "%s, %s: pages differing in one byte are never shared", f.label, how);
  sc_check(c, same_odd == 0, name, "%llu differing pages share a frame",
           (unsigned long long)same_odd);
  snprintf(name, sizeof name, "%s, %s: every page reads its own content", f.label, how);
  sc_check(c, bad == 0, name, "%llu pages read something else", (unsigned long long)bad);
  mmc_vm_stats_t s = cu_vm_stats(c, f.h, id[1]);
  snprintf(name, sizeof name, "%s, %s: shared_pages counts the identical pages", f.label, how);
  sc_check_int(c, name, (long long)half, (long long)s.shared_pages);
  for (int k = 0; k < 2; k++) {
    im->vcpu_exit(v[k]);
    sc_require(c, im->vm_power_off(f.h, id[k], &err), &err, "vm_power_off");
  }
  farm_close(&f);
}

void case_tps_1(suite_ctx_t *c) {
  /* The reference implementation masks its hash with Ref.ShareHashBits: 2
   * bits put every page into one of 4 hash values, so different pages
   * collide all the time and only the full comparison keeps them apart. */
  static const mmc_setting_value_t forced[] = {{"Mem.ShareForceSalting", 0},
                                               {"Ref.ShareHashBits", 2}};
  int64_t dummy = 0;
  for (size_t t = 0; t < SH_NTOPOS; t++) {
    tps1_run(c, sh_topos[t], sh_unsalted, 1, "full hash");
    farm_t f;
    farm_open(c, &f, sh_topos[t], SH_MHZ, NULL, 0);
    bool can_force = f.im->setting_get(f.h, "Ref.ShareHashBits", &dummy, NULL) == 0;
    farm_close(&f);
    if (can_force)
      tps1_run(c, sh_topos[t], forced, 2, "forced hash collisions");
    else if (t == 0)
      sc_diag(c, "forced collisions not tried: the implementation has no Ref.ShareHashBits");
  }
}

/* ------------------------------------------------------------ TPS-2, SEC-1 */

enum { tps2_cow_steps = 4, tps2_cow_per_step = 32 };

static void tps2_run(suite_ctx_t *c, const char *spec) {
  farm_t f;
  farm_open(c, &f, spec, SH_MHZ, sh_unsalted, 1);
  uint32_t node = f.t->desc.nnodes - 1;
  wl_clone_cfg_t cc = sh_clone;
  cc.cow_writes_per_step = tps2_cow_per_step;
  for (int k = 0; k < 3; k++)
    farm_add(&f, node, NULL, true, &cc);
  farm_passes(&f, 1);
  farm_verify(&f, "after sharing");
  /* Pointers of the shared image pages before the writer runs. */
  void **before = calloc(f.npages, sizeof *before);
  if (!before)
    sc_broken(c, "out of memory");
  for (uint64_t g = 0; g < f.npages; g++) {
    before[g] = farm_ptr(&f, 1, g);
    farm_quiesce(&f);
  }
  uint64_t shared0 = farm_stats(&f, 0).shared_pages;
  uint64_t cursor = 0;
  uint64_t share_events = cu_count_events(c, f.h, &cursor, MMC_EV_SHARE, 0);
  mmc_error_t err = {0};
  for (int s = 0; s < tps2_cow_steps; s++)
    sc_require(c, wl_vm_step_all(f.vm[0], f.im->now(f.h), 0, &err), &err, "COW writer step");
  uint64_t cow_events = cu_count_events(c, f.h, &cursor, MMC_EV_COW_BREAK, f.vm[0]->id);
  wl_clone_census_t census;
  sc_require(c, wl_clone_census(f.vm[0], &census, &err), &err, "census");
  farm_verify(&f, "after the COW writer");
  uint64_t rewritten = 0, not_private = 0, others_moved = 0, others_split = 0;
  for (uint64_t g = 0; g < f.npages; g++) {
    if (wl_clone_kind(f.vm[0], g) != WL_CLONE_IMAGE || f.vm[0]->truth.src[g] == WL_SRC_IMAGE)
      continue;
    rewritten++;
    void *w = farm_ptr(&f, 0, g), *o1 = farm_ptr(&f, 1, g), *o2 = farm_ptr(&f, 2, g);
    not_private += w == o1 || w == o2 || w == before[g];
    others_moved += o1 != before[g];
    others_split += o1 != o2;
    farm_quiesce(&f);
  }
  mmc_vm_stats_t s0 = farm_stats(&f, 0);
  char name[160];
  snprintf(name, sizeof name, "%s: the writer rewrote shared image pages (premise)", f.label);
  sc_check(c, rewritten == (uint64_t)tps2_cow_steps * tps2_cow_per_step && shared0 > 0, name,
           "%llu pages rewritten, %llu shared before", (unsigned long long)rewritten,
           (unsigned long long)shared0);
  snprintf(name, sizeof name, "%s: each written page got a private frame (pointer identity)",
           f.label);
  sc_check(c, not_private == 0, name,
           "%llu written pages still map the shared frame or another VM's",
           (unsigned long long)not_private);
  snprintf(name, sizeof name, "%s: the other VMs keep sharing the old frame", f.label);
  sc_check(c, others_moved == 0 && others_split == 0, name,
           "%llu pages moved, %llu no longer shared between the readers",
           (unsigned long long)others_moved, (unsigned long long)others_split);
  snprintf(name, sizeof name, "%s: cow_breaks counts the writes to shared pages", f.label);
  sc_check_int(c, name, (long long)rewritten, (long long)s0.cow_breaks);
  snprintf(name, sizeof name, "%s: MMC_EV_SHARE reported the merges, MMC_EV_COW_BREAK each break",
           f.label);
  sc_check(c, share_events > 0 && cow_events == rewritten, name,
           "%llu share events; %llu COW-break events for %llu pages written",
           (unsigned long long)share_events, (unsigned long long)cow_events,
           (unsigned long long)rewritten);
  snprintf(name, sizeof name, "%s: the writer's shared_pages dropped by the pages written",
           f.label);
  sc_check_int(c, name, (long long)(shared0 - rewritten), (long long)s0.shared_pages);
  free(before);
  farm_close(&f);
}

void case_tps_2(suite_ctx_t *c) {
  for (size_t t = 0; t < SH_NTOPOS; t++)
    tps2_run(c, sh_topos[t]);
}

/* ------------------------------------------------------------ TPS-3 */

enum { tps3_pages = 12000, tps3_sample_s = 30, tps3_rate_max = 2, tps3_cap_s = 200 };
/* The whole host's MHz in TPS-3 (cpu_mhz = this / cores): 0.08 GHz, so
 * ShareScanGHz=1 gives 20.48 pages/s, below two 12000-page VMs' 40. */
#define TPS3_HOST_MHZ 80u

/* |seen - expected| within 3 % of expected + 2 pages. */
static bool near(double seen, double expected) {
  double tol = expected * 0.03 + 2;
  return seen >= expected - tol && seen <= expected + tol;
}

static void tps3_run(suite_ctx_t *c, const char *spec) {
  farm_t f;
  mmt_topology_t *probe = cu_topology(c, spec);
  uint32_t mhz = TPS3_HOST_MHZ / (probe->desc.ncores ? probe->desc.ncores : 1);
  mmt_free(probe);
  farm_open(c, &f, spec, mhz ? mhz : 1, sh_unsalted, 1);
  f.npages = tps3_pages;
  char name[200];
  farm_add(&f, 0, NULL, true, &sh_clone);
  farm_add(&f, 0, NULL, true, &sh_clone);
  double ghz = (double)f.t->desc.cpu_mhz * f.t->desc.ncores / 1000.0;
  double host_rate = (double)cu_setting(c, f.h, "Mem.ShareScanGHz") * ghz * 256;
  double vm_rate = (double)tps3_pages / (double)SH_PASS_S;
  sc_diag(c, "VM rate %.3f pages/s by ShareScanTime; host budget %.2f pages/s", vm_rate, host_rate);
  /* Phase A: ShareScanTime paces (RateMax 1024 and the host budget are far). */
  uint64_t t0 = f.im->now(f.h), bad = 0, samples = 0, levels = 0, burst = 0;
  uint64_t prev_saved = 0, prev_scanned = 0;
  for (uint64_t t = tps3_sample_s; t <= SH_PASS_S; t += tps3_sample_s) {
    mmc_error_t aerr = {0};
    sc_require(c, f.im->advance(f.h, t0 + t * SH_NS_PER_S, &aerr), &aerr, "advance");
    uint64_t scanned = farm_stats(&f, 0).pages_scanned + farm_stats(&f, 1).pages_scanned;
    uint64_t saved = cu_host_stats(c, f.h).saved_pages;
    bad += !near((double)scanned, 2 * vm_rate * (double)t);
    burst += saved - prev_saved > scanned - prev_scanned; /* more saved than scanned */
    levels += saved > prev_saved;
    snprintf(name, sizeof name, "%s: saved pages at %llu s", f.label, (unsigned long long)t);
    sc_metric(c, name, "pages", "", (double)saved);
    prev_saved = saved;
    prev_scanned = scanned;
    samples++;
  }
  snprintf(name, sizeof name, "%s: pages scanned follow Mem.ShareScanTime at every sample",
           f.label);
  sc_check(c, bad == 0, name, "%llu of %llu samples off by more than 3 %% + 2 pages",
           (unsigned long long)bad, (unsigned long long)samples);
  wl_clone_expect_t ex;
  mmc_error_t err = {0};
  sc_require(c, wl_clone_expected(&sh_clone, tps3_pages, 2, &ex, &err), &err, "expected savings");
  snprintf(name, sizeof name, "%s: savings grow gradually with the scan, never in one burst",
           f.label);
  sc_check(c, burst == 0 && levels >= samples / 2 && prev_saved > ex.ideal_saved_pages / 2, name,
           "%llu samples saved more than was scanned; savings rose in %llu of %llu samples to %llu "
           "(ideal %llu)",
           (unsigned long long)burst, (unsigned long long)levels, (unsigned long long)samples,
           (unsigned long long)prev_saved, (unsigned long long)ex.ideal_saved_pages);
  /* Phase B: Mem.ShareRateMax below the ScanTime rate caps each VM. */
  sc_require(c, f.im->setting_set(f.h, "Mem.ShareRateMax", tps3_rate_max, &err), &err, "set");
  uint64_t a0 = farm_stats(&f, 0).pages_scanned;
  cu_advance(c, f.h, 120 * SH_NS_PER_S);
  uint64_t da = farm_stats(&f, 0).pages_scanned - a0;
  snprintf(name, sizeof name, "%s: Mem.ShareRateMax caps a VM's scan rate", f.label);
  sc_check(c, near((double)da, tps3_rate_max * 120.0), name, "%llu pages in 120 s at %d pages/s",
           (unsigned long long)da, tps3_rate_max);
  /* Phase C: the host budget (ShareScanGHz=1 on 0.02 GHz) below the VMs'. */
  sc_require(c, f.im->setting_set(f.h, "Mem.ShareRateMax", 1024, &err), &err, "set");
  sc_require(c, f.im->setting_set(f.h, "Mem.ShareScanGHz", 1, &err), &err, "set");
  double budget = 1 * ghz * 256;
  uint64_t s0 = farm_stats(&f, 0).pages_scanned + farm_stats(&f, 1).pages_scanned;
  cu_advance(c, f.h, tps3_cap_s * SH_NS_PER_S);
  uint64_t ds = farm_stats(&f, 0).pages_scanned + farm_stats(&f, 1).pages_scanned - s0;
  snprintf(name, sizeof name, "%s: Mem.ShareScanGHz caps the host's scan rate (MB/s per GHz)",
           f.label);
  sc_check(c, budget < 2 * vm_rate && near((double)ds, budget * tps3_cap_s), name,
           "%llu pages in %d s, budget %.2f pages/s", (unsigned long long)ds, tps3_cap_s, budget);
  farm_close(&f);
}

void case_tps_3(suite_ctx_t *c) {
  for (size_t t = 0; t < SH_NTOPOS; t++)
    tps3_run(c, sh_topos[t]);
}

/* ------------------------------------------------------------ TPS-4 */

static void tps4_run(suite_ctx_t *c, const char *spec) {
  farm_t f;
  farm_open(c, &f, spec, SH_MHZ, sh_unsalted, 1);
  uint32_t nn = f.t->desc.nnodes;
  for (uint32_t k = 0; k < 2 * nn; k++)
    farm_add(&f, k % nn, NULL, true, &sh_clone);
  farm_passes(&f, 1);
  cu_locator_t loc;
  cu_locator_init(c, &loc, &f.t->desc);
  void **ptrs = calloc(f.npages, sizeof *ptrs);
  int *where = calloc(f.npages, sizeof *where);
  if (!ptrs || !where)
    sc_broken(c, "out of memory");
  uint64_t remote = 0, unattributed = 0;
  for (size_t i = 0; i < f.n; i++) {
    for (uint64_t g = 0; g < f.npages; g++)
      ptrs[g] = farm_ptr(&f, i, g);
    cu_locate(c, &loc, ptrs, f.npages, where);
    farm_quiesce(&f);
    for (uint64_t g = 0; g < f.npages; g++) {
      unattributed += where[g] < 0;
      remote += where[g] >= 0 && (uint32_t)where[g] != f.node[i];
    }
  }
  char name[160];
  snprintf(name, sizeof name, "%s: every page of every VM, shared or not, is on its node (%s)",
           f.label, cu_locator_name(&loc));
  sc_check(c, remote == 0 && unattributed == 0, name, "%llu pages remote, %llu unattributed",
           (unsigned long long)remote, (unsigned long long)unattributed);
  /* Two clones per node: they share with each other, not across nodes. */
  uint64_t same = 0, total = 0, cross = 0, ctotal = 0;
  image_identity(&f, 0, nn, &same, &total);
  if (nn > 1)
    image_identity(&f, 0, 1, &cross, &ctotal);
  snprintf(name, sizeof name, "%s: clones on one node share their image pages", f.label);
  sc_check(c, same == total && total > 0, name, "%llu of %llu shared", (unsigned long long)same,
           (unsigned long long)total);
  if (nn > 1) {
    snprintf(name, sizeof name, "%s: clones on different nodes share nothing", f.label);
    sc_check(c, cross == 0, name, "%llu of %llu image pages share a frame across nodes",
             (unsigned long long)cross, (unsigned long long)ctotal);
  }
  /* One copy per node: each node's pool holds the frames of its two clones
   * with perfect sharing (mincore over the pool mappings). */
  wl_clone_expect_t ex;
  mmc_error_t err = {0};
  sc_require(c, wl_clone_expected(&sh_clone, f.npages, 2, &ex, &err), &err, "expected");
  uint64_t res[MMC_MAX_NODES];
  pool_resident(&f, res);
  uint64_t off = 0;
  for (uint32_t n = 0; n < nn; n++)
    off += res[n] != ex.min_frames;
  snprintf(name, sizeof name, "%s: each node's pool holds one copy: %llu frames (mincore)", f.label,
           (unsigned long long)ex.min_frames);
  sc_check(c, off == 0, name, "%llu nodes differ; node 0 holds %llu", (unsigned long long)off,
           (unsigned long long)res[0]);
  /* The two clones of node 0 get node 1 as their home: their shared pages
   * must follow (copies on the new home, merged there with node 1's
   * clones), so node 0 keeps no shared content. Their private (unique) pages
   * are page migration's business (MIG-*): they may or may not have moved.
   * Three passes: the first may be the rest of a pass begun before. */
  for (size_t i = 0; i < f.n; i += nn) {
    mmc_vm_config_t cfg = f.cfg[i];
    cfg.node_affinity = 1ull << 1;
    cu_reconfigure(c, f.h, f.vm[i]->id, &cfg, "vm_reconfigure");
    f.node[i] = 1;
  }
  farm_passes(&f, 3);
  farm_verify(&f, "after the home change");
  remote = 0;
  uint64_t sharable = 0;
  for (uint64_t g = 0; g < f.npages; g++)
    ptrs[g] = farm_ptr(&f, 0, g);
  cu_locate(c, &loc, ptrs, f.npages, where);
  farm_quiesce(&f);
  for (uint64_t g = 0; g < f.npages; g++) {
    if (wl_clone_kind(f.vm[0], g) == WL_CLONE_UNIQUE)
      continue;
    sharable++;
    remote += where[g] != 1;
  }
  snprintf(name, sizeof name,
           "%s: after a home change every image and zero page of the VM is on its new home",
           f.label);
  sc_check(c, remote == 0, name, "%llu of %llu pages elsewhere", (unsigned long long)remote,
           (unsigned long long)sharable);
  image_identity(&f, 0, 1, &same, &total);
  snprintf(name, sizeof name, "%s: moved clones share with the new node's clones", f.label);
  sc_check(c, same == total && total > 0, name, "%llu of %llu", (unsigned long long)same,
           (unsigned long long)total);
  wl_clone_expect_t ex4;
  sc_require(c, wl_clone_expected(&sh_clone, f.npages, 4, &ex4, &err), &err, "expected");
  pool_resident(&f, res);
  snprintf(name, sizeof name,
           "%s: one copy for the 4 clones of nodes 0+1, none of it on node 0 (mincore)", f.label);
  sc_check(c, res[0] + res[1] == ex4.min_frames && res[0] <= 2 * ex4.unique_pages, name,
           "node 0 holds %llu frames (at most %llu private ones), node 1 %llu; %llu expected in "
           "all",
           (unsigned long long)res[0], (unsigned long long)(2 * ex4.unique_pages),
           (unsigned long long)res[1], (unsigned long long)ex4.min_frames);
  free(ptrs);
  free(where);
  cu_locator_free(&loc);
  farm_close(&f);
}

void case_tps_4(suite_ctx_t *c) {
  for (size_t t = 1; t < SH_NTOPOS; t++)
    tps4_run(c, sh_topos[t]);
}

/* ------------------------------------------------------------ TPS-5 */

static void tps5_run(suite_ctx_t *c, const char *spec) {
  static const wl_clone_cfg_t cc = {
      .image_seed = 0x5e50, .image_permille = 300, .zero_permille = 400};
  farm_t f;
  farm_open(c, &f, spec, SH_MHZ, NULL, 0); /* default salting: each VM alone */
  uint32_t node = f.t->desc.nnodes - 1;
  farm_add(&f, node, NULL, true, &cc);
  farm_add(&f, node, NULL, true, &cc);
  farm_passes(&f, 1);
  farm_verify(&f, "after sharing");
  wl_clone_expect_t ex;
  mmc_error_t err = {0};
  sc_require(c, wl_clone_expected(&cc, f.npages, 1, &ex, &err), &err, "expected");
  char name[160];
  for (size_t i = 0; i < f.n; i++) {
    void *first = NULL;
    uint64_t zeros = 0, same = 0;
    for (uint64_t g = 0; g < f.npages; g++) {
      if (wl_clone_kind(f.vm[i], g) != WL_CLONE_ZERO)
        continue;
      void *p = farm_ptr(&f, i, g);
      first = first ? first : p;
      same += p == first;
      zeros++;
    }
    farm_quiesce(&f);
    mmc_vm_stats_t s = farm_stats(&f, i);
    snprintf(name, sizeof name, "%s: VM %zu's %llu zero pages share one frame (pointer identity)",
             f.label, i, (unsigned long long)zeros);
    sc_check(c, zeros == ex.zero_pages && same == zeros, name, "%llu of %llu on the first's frame",
             (unsigned long long)same, (unsigned long long)zeros);
    snprintf(name, sizeof name, "%s: VM %zu: zero_pages counts them", f.label, i);
    sc_check_int(c, name, (long long)ex.zero_pages, (long long)s.zero_pages);
  }
  farm_close(&f);
}

void case_tps_5(suite_ctx_t *c) {
  for (size_t t = 0; t < SH_NTOPOS; t++)
    tps5_run(c, sh_topos[t]);
}

/* ------------------------------------------------------------ TPS-6 */

static uint64_t farm_scanned(farm_t *f) {
  uint64_t s = 0;
  for (size_t i = 0; i < f->n; i++)
    s += farm_stats(f, i).pages_scanned;
  return s;
}

static void tps6_run(suite_ctx_t *c, const char *spec) {
  farm_t f;
  farm_open(c, &f, spec, SH_MHZ, sh_unsalted, 1);
  uint32_t node = f.t->desc.nnodes - 1;
  farm_add(&f, node, NULL, true, &sh_clone);
  farm_add(&f, node, NULL, true, &sh_clone);
  farm_add(&f, node, NULL, false, &sh_clone); /* sched.mem.pshare.enable = FALSE */
  farm_passes(&f, 1);
  char name[160];
  uint64_t same = 0, total = 0, x = 0, xt = 0;
  image_identity(&f, 0, 1, &same, &total);
  image_identity(&f, 0, 2, &x, &xt);
  mmc_vm_stats_t s2 = farm_stats(&f, 2);
  snprintf(name, sizeof name, "%s: VMs with sharing on share (premise)", f.label);
  sc_check(c, same == total && total > 0, name, "%llu of %llu", (unsigned long long)same,
           (unsigned long long)total);
  snprintf(name, sizeof name, "%s: the VM with pshare.enable=FALSE shares no page", f.label);
  sc_check(c, x == 0 && s2.shared_pages == 0 && s2.zero_pages == 0, name,
           "%llu image pages on a shared frame; shared_pages %llu", (unsigned long long)x,
           (unsigned long long)s2.shared_pages);
  /* Two new clones while scanning is off: nothing scanned, nothing shared. */
  static const char *const off[] = {"Mem.ShareScanGHz", "Mem.ShareRateMax"};
  mmc_error_t err = {0};
  size_t a = farm_add(&f, node, NULL, true, &sh_clone),
         b = farm_add(&f, node, NULL, true, &sh_clone);
  for (int k = 0; k < 2; k++) {
    int64_t old = cu_setting(c, f.h, off[k]);
    sc_require(c, f.im->setting_set(f.h, off[k], 0, &err), &err, off[k]);
    uint64_t before = farm_scanned(&f);
    farm_passes(&f, 1);
    image_identity(&f, a, b, &same, &total);
    snprintf(name, sizeof name, "%s: %s=0 disables scanning", f.label, off[k]);
    sc_check(c, farm_scanned(&f) == before && same == 0, name,
             "%llu pages scanned, %llu image pages shared",
             (unsigned long long)(farm_scanned(&f) - before), (unsigned long long)same);
    sc_require(c, f.im->setting_set(f.h, off[k], old, &err), &err, off[k]);
  }
  farm_passes(&f, 1);
  image_identity(&f, a, b, &same, &total);
  snprintf(name, sizeof name, "%s: re-enabled, the new clones share (premise)", f.label);
  sc_check(c, same == total && total > 0, name, "%llu of %llu", (unsigned long long)same,
           (unsigned long long)total);
  farm_close(&f);
}

void case_tps_6(suite_ctx_t *c) {
  for (size_t t = 0; t < SH_NTOPOS; t++)
    tps6_run(c, sh_topos[t]);
}

/* ------------------------------------------------------------ TPS-8 */

static void tps8_run(suite_ctx_t *c, const char *spec) {
  farm_t f;
  farm_open(c, &f, spec, SH_MHZ, sh_unsalted, 1);
  uint32_t nn = f.t->desc.nnodes, nvms = nn >= 2 ? 2 * nn : 4, per_node[MMC_MAX_NODES] = {0};
  for (uint32_t k = 0; k < nvms; k++) {
    farm_add(&f, k % nn, NULL, true, &sh_clone);
    per_node[k % nn]++;
  }
  uint64_t res[MMC_MAX_NODES];
  pool_resident(&f, res);
  uint64_t before = sum_u64(res, nn);
  /* Ideal: per node, one frame per distinct content of its clones. */
  uint64_t min_frames = 0, written = 0;
  mmc_error_t err = {0};
  for (uint32_t n = 0; n < nn; n++) {
    wl_clone_expect_t ex;
    sc_require(c, wl_clone_expected(&sh_clone, f.npages, per_node[n], &ex, &err), &err, "expected");
    min_frames += ex.min_frames;
    written += per_node[n] * f.npages;
  }
  uint64_t ideal = written - min_frames;
  farm_passes(&f, 2);
  farm_verify(&f, "after sharing");
  mmc_host_stats_t hs = cu_host_stats(c, f.h);
  pool_resident(&f, res);
  uint64_t after = sum_u64(res, nn);
  char name[200];
  snprintf(name, sizeof name, "%s: %u clones: host saved_pages equals the ideal %llu", f.label,
           nvms, (unsigned long long)ideal);
  sc_check_int(c, name, (long long)ideal, (long long)hs.saved_pages);
  snprintf(name, sizeof name, "%s: pool frames before sharing = pages written (mincore)", f.label);
  sc_check_int(c, name, (long long)written, (long long)before);
  snprintf(name, sizeof name,
           "%s: pool frames after = image + zero + N x unique per node (mincore)", f.label);
  sc_check_int(c, name, (long long)min_frames, (long long)after);
  /* Pointer identity: every image page of each node's clones on one frame. */
  uint64_t same = 0, total = 0, s = 0, t = 0;
  for (uint32_t k = nn; k < nvms; k++) {
    image_identity(&f, k - nn, k, &s, &t);
    same += s;
    total += t;
  }
  snprintf(name, sizeof name, "%s: image pages of clones on one node share a frame", f.label);
  sc_check(c, same == total && total > 0, name, "%llu of %llu", (unsigned long long)same,
           (unsigned long long)total);
  sc_metric(c, "savings / ideal", "ratio", "higher", ideal ? (double)hs.saved_pages / ideal : 0);
  sc_metric(c, "host frames / pages written", "ratio", "lower", (double)after / (double)written);
  farm_close(&f);
}

void case_tps_8(suite_ctx_t *c) {
  for (size_t t = 0; t < SH_NTOPOS; t++)
    tps8_run(c, sh_topos[t]);
}

/* ------------------------------------------------------------ SALT-1/2 */

/* What SALT-2 says two VMs' pages may share under `mode`: a key per VM. */
static void salt_key(int64_t mode, const char *salt, size_t idx, char *key, size_t len) {
  if (mode == 0)
    snprintf(key, len, "all");
  else if (mode == 1 && !salt)
    snprintf(key, len, "salt:0");
  else if (!salt || !*salt)
    snprintf(key, len, "unique:%zu", idx);
  else
    snprintf(key, len, "salt:%s", salt);
}

/* mode < 0: Mem.ShareForceSalting left at its default, which SALT-2 says is
 * 2 (so a wrong default fails here, not only SET-1's table). */
static void salt_run(suite_ctx_t *c, const char *spec, int64_t mode, const char *const *salts,
                     size_t n) {
  mmc_setting_value_t s[] = {{"Mem.ShareForceSalting", mode}};
  bool dflt = mode < 0;
  mode = dflt ? 2 : mode;
  farm_t f;
  farm_open(c, &f, spec, SH_MHZ, s, dflt ? 0 : 1);
  uint32_t node = f.t->desc.nnodes - 1;
  for (size_t i = 0; i < n; i++)
    farm_add(&f, node, salts[i], true, &sh_clone);
  farm_passes(&f, 1);
  farm_verify(&f, "after sharing");
  uint64_t wrong = 0, pairs = 0;
  char first[200] = "";
  for (size_t i = 0; i < n; i++) {
    for (size_t j = i + 1; j < n; j++) {
      char ki[64], kj[64];
      salt_key(mode, salts[i], i, ki, sizeof ki);
      salt_key(mode, salts[j], j, kj, sizeof kj);
      bool want = strcmp(ki, kj) == 0;
      uint64_t same = 0, total = 0;
      image_identity(&f, i, j, &same, &total);
      bool ok = total > 0 && (want ? same == total : same == 0);
      pairs++;
      if (!ok && !wrong++)
        snprintf(first, sizeof first, "VMs %zu (salt %s) and %zu (salt %s): %llu of %llu shared", i,
                 salts[i] ? salts[i] : "unset", j, salts[j] ? salts[j] : "unset",
                 (unsigned long long)same, (unsigned long long)total);
    }
  }
  char name[160];
  snprintf(name, sizeof name, "%s, ForceSalting=%lld%s: pages shared exactly when salts match",
           f.label, (long long)mode, dflt ? " (the default, not set)" : "");
  sc_check(c, wrong == 0, name, "%llu of %llu pairs wrong; first: %s", (unsigned long long)wrong,
           (unsigned long long)pairs, first);
  farm_close(&f);
}

void case_salt_1(suite_ctx_t *c) {
  static const char *const salts[] = {"x", "x", "y", NULL};
  for (size_t t = 0; t < SH_NTOPOS; t++)
    salt_run(c, sh_topos[t], 2, salts, 4);
}

void case_salt_2(suite_ctx_t *c) {
  static const char *const salts[] = {NULL, NULL, "a", "a", "b", "", "", "0"};
  for (int64_t mode = 0; mode <= 2; mode++)
    for (size_t t = 0; t < SH_NTOPOS; t++)
      salt_run(c, sh_topos[t], mode, salts, 8);
  salt_run(c, sh_topos[0], -1, salts, 8); /* the default */
}
