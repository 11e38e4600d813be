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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
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
  cu_frames_t fr; /* frame identity: pagemap PFN or node-mapping offset */
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
  /* Sharing is judged by which frame holds a page; without a way to tell,
   * nothing here can be shown. */
  if (!cu_frames_init(c, &f->fr, "sharing (which frame holds a page)"))
    sc_skip(c, "sharing cases need frame identity (pagemap PFNs as root, or "
               "MMC_CAP_NODE_MAPPINGS)");
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

static int sh_cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Power every VM of the farm off (the host stays). */
static void farm_drop_all(farm_t *f) {
  mmc_error_t err = {0};
  for (size_t i = 0; i < f->n; i++) {
    sc_require(f->c, wl_vm_shutdown(f->vm[i], &err), &err, "shutting a clone down");
    f->vm[i] = NULL;
  }
  f->n = 0;
}

static void farm_close(farm_t *f) {
  mmc_error_t err = {0};
  for (size_t i = 0; i < f->n; i++)
    sc_require(f->c, wl_vm_shutdown(f->vm[i], &err), &err, "shutting a clone down");
  sc_host_destroy(f->c, f->h);
  cu_frames_free(&f->fr);
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

/* The frame holding page g of VM i now (read access). */
static uint64_t farm_frame(farm_t *f, size_t i, uint64_t g) {
  uint64_t id = cu_frame_of(f->c, &f->fr, farm_ptr(f, i, g));
  f->im->quiesce(f->vm[i]->vcpus[0].handle);
  return id;
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

/* Image pages of VM i held by the same frame as VM j's, out of the image
 * pages still intact in both (frame identity, not pointer equality: pages
 * the hardware translates have distinct pointers even when merged). */
static void image_identity(farm_t *f, size_t i, size_t j, uint64_t *same, uint64_t *total) {
  *same = *total = 0;
  for (uint64_t g = 0; g < f->npages; g++) {
    if (wl_clone_kind(f->vm[i], g) != WL_CLONE_IMAGE || f->vm[i]->truth.src[g] != WL_SRC_IMAGE ||
        f->vm[j]->truth.src[g] != WL_SRC_IMAGE)
      continue;
    (*total)++;
    uint64_t a = farm_frame(f, i, g);
    *same += a && a == farm_frame(f, j, g);
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
    uint64_t fa = cu_frame_of(c, &f.fr, a), fb = cu_frame_of(c, &f.fr, b);
    bool same = fa && fa == fb;
    if (g % 2)
      same_odd += same;
    else
      same_even += same;
    tps1_fill(want, g, false);
    bad += memcmp(a, want, MMC_PAGE_SIZE) != 0;
    tps1_fill(want, g, g % 2);
    bad += memcmp(b, want, MMC_PAGE_SIZE) != 0;
    im->quiesce(v[0]);
    im->quiesce(v[1]);
  }
  uint64_t half = f.npages / 2;
  char name[160];
  snprintf(name, sizeof name, "%s, %s: identical pages share one frame (%s)", f.label, how,
           cu_frames_name(&f.fr));
  sc_check(c, same_even == half, name, "%llu of %llu identical pages shared",
           (unsigned long long)same_even, (unsigned long long)half);
  snprintf(name, sizeof name, "%s, %s: pages differing in one byte are never shared", f.label, how);
  sc_check(c, same_odd == 0, name, "%llu differing pages share a frame",
           (unsigned long long)same_odd);
  snprintf(name, sizeof name, "%s, %s: every page reads its own content", f.label, how);
  sc_check(c, bad == 0, name, "%llu pages read something else", (unsigned long long)bad);
  mmc_vm_stats_t s = cu_vm_stats(c, f.h, id[1]);
  snprintf(name, sizeof name, "%s, %s: shared_pages", f.label, how);
  cu_crosscheck_vm(c, &s, MMC_VMSTAT_SHARED, name, (long long)same_even, (long long)s.shared_pages,
                   0);
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
  uint64_t *before = calloc(f.npages, sizeof *before);
  if (!before)
    sc_broken(c, "out of memory");
  for (uint64_t g = 0; g < f.npages; g++)
    before[g] = farm_frame(&f, 1, g);
  uint64_t shared0 = farm_stats(&f, 0).shared_pages, shared_before = 0, total_before = 0;
  image_identity(&f, 0, 1, &shared_before, &total_before);
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
    uint64_t w = farm_frame(&f, 0, g), o1 = farm_frame(&f, 1, g), o2 = farm_frame(&f, 2, g);
    not_private += !w || w == o1 || w == o2 || w == before[g];
    others_moved += o1 != before[g];
    others_split += o1 != o2;
  }
  mmc_vm_stats_t s0 = farm_stats(&f, 0);
  char name[160];
  snprintf(name, sizeof name, "%s: the writer rewrote shared image pages (premise)", f.label);
  sc_check(c, rewritten == (uint64_t)tps2_cow_steps * tps2_cow_per_step && shared_before > 0, name,
           "%llu pages rewritten, %llu image pages of VM 0 shared a frame before",
           (unsigned long long)rewritten, (unsigned long long)shared_before);
  snprintf(name, sizeof name, "%s: each written page got a private frame (%s)", f.label,
           cu_frames_name(&f.fr));
  sc_check(c, not_private == 0, name,
           "%llu written pages still map the shared frame or another VM's",
           (unsigned long long)not_private);
  snprintf(name, sizeof name, "%s: the other VMs keep sharing the old frame", f.label);
  sc_check(c, others_moved == 0 && others_split == 0, name,
           "%llu pages moved, %llu no longer shared between the readers",
           (unsigned long long)others_moved, (unsigned long long)others_split);
  uint64_t private_now = rewritten - not_private;
  snprintf(name, sizeof name, "%s: cow_breaks, the writes that got a private frame", f.label);
  cu_crosscheck_vm(c, &s0, MMC_VMSTAT_COW_BREAKS, name, (long long)private_now,
                   (long long)s0.cow_breaks, 0);
  snprintf(name, sizeof name, "%s: MMC_EV_COW_BREAK, one per private frame", f.label);
  cu_crosscheck_events(c, f.h, MMC_EV_COW_BREAK, name, (long long)private_now,
                       (long long)cow_events, 0);
  snprintf(name, sizeof name, "%s: MMC_EV_SHARE reported merges (any)", f.label);
  cu_crosscheck_events(c, f.h, MMC_EV_SHARE, name, 1, share_events > 0, 0);
  snprintf(name, sizeof name, "%s: the writer's shared_pages dropped by the pages written",
           f.label);
  cu_crosscheck_vm(c, &s0, MMC_VMSTAT_SHARED, name, (long long)(shared0 - private_now),
                   (long long)s0.shared_pages, 0);
  free(before);
  farm_close(&f);
}

void case_tps_2(suite_ctx_t *c) {
  for (size_t t = 0; t < SH_NTOPOS; t++)
    tps2_run(c, sh_topos[t]);
}

/* ------------------------------------------------------------ TPS-3 */

/* Pacing, probed by frame identity over time. Merges are what a scan can
 * be seen doing: a VM whose pages are 70 % zero (its own zero pages share
 * one frame once scanned; no other VM is needed) is laid out at random from
 * the run's seed, so whatever order the scanner takes — it cannot know a
 * page's content before reading it — the zero pages among the first m it
 * scanned are hypergeometric (N pages, K zero, m drawn). The documented
 * pace bounds m from above (Mem.ShareScanTime: N pages per pass; at most
 * Mem.ShareRateMax pages/s; the host at most Mem.ShareScanGHz MB/s per GHz)
 * and, where that pace is the binding one, from below (a VM is scanned once
 * per pass: no slower either), with 3 % + 2 pages of rounding; so the pages
 * seen merged (the zero pages on the VM's most shared frame) must lie in
 * [hyper_min(m_lo), hyper_max(m_hi)] at every sample, each side at
 * BOUND_ALPHA / (2 x samples): a false failure <= 1e-4 per check
 * (suite/bounds.h; test_bounds shows the hypergeometric rate). Between two
 * samples no more merge than the cap lets be scanned: savings grow, never in
 * one burst. pages_scanned is only cross-checked: at least the merges seen,
 * at most the cap. */
enum { tps3_pages = 12000, tps3_sample_s = 30, tps3_rate_max = 2, tps3_max_samples = 24 };
enum { tps3_rate_s = 120, tps3_cap_s = 200 };
/* The whole host's MHz in TPS-3 (cpu_mhz = this / cores): 0.0625 GHz, so
 * the default ShareScanGHz=4 gives 64 pages/s (room for 3 VMs at the 20
 * pages/s ShareScanTime asks) and ShareScanGHz=1 gives 16, below one VM's. */
#define TPS3_HOST_MHZ 62.5

static const wl_clone_cfg_t tps3_clone_base = {.image_permille = 0, .zero_permille = 700};

/* Zero pages of VM i on its most shared frame (frames read before each
 * quiesce); 0 when no frame is shared. */
static uint64_t tps3_merged(farm_t *f, cu_frames_t *fr, size_t i, uint64_t *ids) {
  uint64_t n = 0;
  for (uint64_t g = 0; g < f->npages; g++) {
    if (wl_clone_kind(f->vm[i], g) != WL_CLONE_ZERO)
      continue;
    ids[n++] = cu_frame_of(f->c, fr, farm_ptr(f, i, g));
    farm_quiesce(f);
  }
  qsort(ids, n, sizeof *ids, sh_cmp_u64);
  uint64_t best = 0;
  for (uint64_t k = 0, run = 0; k < n; k++) {
    run = k > 0 && ids[k] == ids[k - 1] ? run + 1 : 1;
    best = ids[k] && run > best ? run : best;
  }
  return best > 1 ? best : 0;
}

/* Pages a pace of `rate` pages/s can have scanned in t seconds: the
 * documented figure with 3 % + 2 pages of rounding either way. */
static double tps3_m_hi(double rate, double t) {
  return rate * t * 1.03 + 2;
}
static double tps3_m_lo(double rate, double t) {
  double m = rate * t * 0.97 - 2;
  return m > 0 ? m : 0;
}

typedef struct tps3_phase {
  const char *what; /* the setting that paces */
  double rate;      /* pages/s it allows this VM */
  bool lower;       /* that pace binds: it bounds from below too */
  unsigned seconds; /* observed for */
  unsigned samples; /* equally spaced samples */
} tps3_phase_t;

/* Boot a fresh zero-heavy VM and watch its merges over the phase. */
static void tps3_phase(farm_t *f, cu_frames_t *fr, const wl_clone_cfg_t *cc, const tps3_phase_t *p,
                       uint64_t *ids) {
  suite_ctx_t *c = f->c;
  size_t i = farm_add(f, 0, NULL, true, cc);
  uint64_t N = f->npages, K = 0;
  for (uint64_t g = 0; g < N; g++)
    K += wl_clone_kind(f->vm[i], g) == WL_CLONE_ZERO;
  uint64_t t0 = f->im->now(f->h), prev = 0, outside = 0, burst = 0, merged = 0;
  double alpha = BOUND_ALPHA / (2.0 * p->samples);
  char first[200] = "", name[240];
  for (unsigned k = 1; k <= p->samples; k++) {
    double t = (double)p->seconds * k / p->samples;
    mmc_error_t err = {0};
    sc_require(c, f->im->advance(f->h, t0 + (uint64_t)(t * SH_NS_PER_S), &err), &err, "advance");
    merged = tps3_merged(f, fr, i, ids);
    uint64_t hi = bound_hyper_max(N, K, (uint64_t)fmin((double)N, tps3_m_hi(p->rate, t)), alpha);
    uint64_t lo =
        p->lower ? bound_hyper_min(N, K, (uint64_t)ceil(tps3_m_lo(p->rate, t)), alpha) : 0;
    if ((merged < lo || merged > hi) && !outside++)
      snprintf(first, sizeof first, "at %.0f s: %llu merged, allowed %llu..%llu", t,
               (unsigned long long)merged, (unsigned long long)lo, (unsigned long long)hi);
    double step = tps3_m_hi(p->rate, (double)p->seconds / p->samples);
    burst += (double)(merged - (merged > prev ? prev : merged)) > step + 1;
    prev = merged;
    snprintf(name, sizeof name, "%s: %s: zero pages merged at %.0f s", f->label, p->what, t);
    sc_metric(c, name, "pages", "", (double)merged);
  }
  snprintf(name, sizeof name,
           "%s: %s paces the scan: merges seen (%s) within what %.2f pages/s can have scanned, "
           "at every sample (false failure <= %g)",
           f->label, p->what, cu_frames_name(fr), p->rate, BOUND_ALPHA);
  sc_check(c, outside == 0, name,
           "%llu of %u samples outside; first %s (hypergeometric, %llu "
           "zero of %llu pages)",
           (unsigned long long)outside, p->samples, first, (unsigned long long)K,
           (unsigned long long)N);
  snprintf(name, sizeof name, "%s: %s: savings grow gradually, never in one burst", f->label,
           p->what);
  sc_check(c, burst == 0, name, "%llu samples merged more than %.0f s of scanning allows",
           (unsigned long long)burst, (double)p->seconds / p->samples);
  mmc_vm_stats_t st = farm_stats(f, i);
  snprintf(name, sizeof name, "%s: %s: pages_scanned at least the merges seen, at most the pace",
           f->label, p->what);
  cu_crosscheck_vm_range(c, &st, MMC_VMSTAT_PAGES_SCANNED, name, (long long)merged,
                         (long long)tps3_m_hi(p->rate, p->seconds), (long long)st.pages_scanned);
}

static void tps3_run(suite_ctx_t *c, const char *spec) {
  farm_t f;
  mmt_topology_t *probe = cu_topology(c, spec);
  double per_core = TPS3_HOST_MHZ / (probe->desc.ncores ? probe->desc.ncores : 1);
  mmt_free(probe);
  /* cpu_mhz is whole MHz per core: the host's GHz, cores x cpu_mhz, is
   * computed from what the topology ends up with, not assumed. */
  farm_open(c, &f, spec, per_core >= 1.5 ? (uint32_t)lround(per_core) : 1, sh_unsalted, 1);
  f.npages = tps3_pages;
  cu_frames_t fr;
  if (!cu_frames_init(c, &fr, "TPS-3 (sharing progress by frame identity)")) {
    farm_close(&f);
    return;
  }
  double ghz = (double)f.t->desc.cpu_mhz * f.t->desc.ncores / 1000.0;
  double scan_time_rate = (double)tps3_pages / (double)SH_PASS_S;
  double budget_default = (double)cu_setting(c, f.h, "Mem.ShareScanGHz") * ghz * 256;
  sc_diag(c,
          "%s: a VM's pace by ShareScanTime %.2f pages/s; host budget %.2f pages/s at "
          "ShareScanGHz=4, %.2f at 1",
          f.label, scan_time_rate, budget_default, ghz * 256);
  uint64_t *ids = calloc(tps3_pages, sizeof *ids);
  if (!ids)
    sc_broken(c, "out of memory");
  wl_clone_cfg_t cc = tps3_clone_base;
  cc.image_seed = wl_seed_mix(sc_seed(c), 0x7b3); /* the layout is random per run */
  /* A: Mem.ShareScanTime paces (RateMax 1024 and the budget are far). */
  tps3_phase_t a = {"Mem.ShareScanTime", scan_time_rate, true, SH_PASS_S,
                    SH_PASS_S / tps3_sample_s};
  tps3_phase(&f, &fr, &cc, &a, ids);
  /* B: Mem.ShareRateMax below the ScanTime pace caps the VM. */
  mmc_error_t err = {0};
  sc_require(c, f.im->setting_set(f.h, "Mem.ShareRateMax", tps3_rate_max, &err), &err, "set");
  cc.image_seed++;
  tps3_phase_t b = {"Mem.ShareRateMax", tps3_rate_max, true, tps3_rate_s, 4};
  tps3_phase(&f, &fr, &cc, &b, ids);
  /* C: the host budget below one VM's pace; the other VMs go first, so the
   * new one has the budget alone. */
  sc_require(c, f.im->setting_set(f.h, "Mem.ShareRateMax", 1024, &err), &err, "set");
  sc_require(c, f.im->setting_set(f.h, "Mem.ShareScanGHz", 1, &err), &err, "set");
  farm_drop_all(&f);
  cc.image_seed++;
  double budget = ghz * 256;
  tps3_phase_t cph = {"Mem.ShareScanGHz", budget < scan_time_rate ? budget : scan_time_rate,
                      budget < scan_time_rate, tps3_cap_s, 4};
  if (!cph.lower)
    sc_diag(c, "%s: the host budget %.2f pages/s does not bind (topology cpu_mhz rounding)",
            f.label, budget);
  tps3_phase(&f, &fr, &cc, &cph, ids);
  free(ids);
  cu_frames_free(&fr);
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
    uint64_t first = 0;
    uint64_t zeros = 0, same = 0;
    for (uint64_t g = 0; g < f.npages; g++) {
      if (wl_clone_kind(f.vm[i], g) != WL_CLONE_ZERO)
        continue;
      uint64_t p = farm_frame(&f, i, g);
      first = first ? first : p;
      same += p && p == first;
      zeros++;
    }
    mmc_vm_stats_t s = farm_stats(&f, i);
    snprintf(name, sizeof name, "%s: VM %zu's %llu zero pages share one frame (%s)", f.label, i,
             (unsigned long long)zeros, cu_frames_name(&f.fr));
    sc_check(c, zeros == ex.zero_pages && same == zeros, name, "%llu of %llu on the first's frame",
             (unsigned long long)same, (unsigned long long)zeros);
    snprintf(name, sizeof name, "%s: VM %zu: zero_pages", f.label, i);
    cu_crosscheck_vm(c, &s, MMC_VMSTAT_ZERO, name, (long long)same, (long long)s.zero_pages, 0);
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
  sc_check(c, x == 0, name, "%llu image pages on a frame shared with VM 0", (unsigned long long)x);
  snprintf(name, sizeof name, "%s: the excluded VM's shared_pages", f.label);
  cu_crosscheck_vm(c, &s2, MMC_VMSTAT_SHARED, name, 0, (long long)s2.shared_pages, 0);
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
    sc_check(c, same == 0, name, "%llu image pages of the new clones share a frame",
             (unsigned long long)same);
    snprintf(name, sizeof name, "%s: %s=0: pages scanned meanwhile", f.label, off[k]);
    mmc_vm_stats_t sa = farm_stats(&f, a);
    cu_crosscheck_vm(c, &sa, MMC_VMSTAT_PAGES_SCANNED, name, 0,
                     (long long)(farm_scanned(&f) - before), 0);
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
  snprintf(name, sizeof name, "%s: %u clones: host saved_pages", f.label, nvms);
  cu_crosscheck_host(c, &hs, MMC_HOSTSTAT_SAVED_PAGES, name, (long long)(before - after),
                     (long long)hs.saved_pages, 0);
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
  sc_metric(c, "savings / ideal", "ratio", "higher", ideal ? (double)(before - after) / ideal : 0);
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
