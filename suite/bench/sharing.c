/*
 * sharing.c — `mmcert bench sharing`: the cost of transparent page sharing
 * (TPS-1, TPS-8) against the kernel's KSM merging the same content, measured
 * in the same run.
 *
 * For N = 2, 4, 8 identical VMs of 64 MB (MMCERT_BENCH_SHARE_MB changes the
 * size, 16..256): every page holds image content, identical across the VMs
 * and different within one, so full sharing saves (N-1) x pages.
 *  - The implementation: a stepped host on this machine's topology with the
 *    scanner unthrottled as far as the settings allow (ShareScanTime 10 min,
 *    ShareRateMax 32768, ShareScanGHz 32, salting off); advance() runs the
 *    scanner synchronously, so the thread's CPU time around advance() minus
 *    that of the same advance() calls on an identical host with the scanner
 *    off (ScanGHz 0: the other mechanisms' ticks) is the sharing cost; the
 *    wall time is the time to full sharing (the host clock moves by passes,
 *    the wall clock only by work). Full sharing = host saved_pages reaching
 *    (N-1) x pages.
 *  - KSM: N forked processes map the same content MADV_MERGEABLE; ksmd runs
 *    with pages_to_scan raised and sleep_millisecs 0 until pages_sharing
 *    reaches (N-1) x pages; its CPU time is ksmd's CPU-time clock
 *    (clock_getcpuclockid, nanoseconds; /proc/PID/schedstat when that
 *    fails), never the 10 ms ticks of /proc/PID/stat; its merges
 *    pages_sharing up to the target (the counter
 *    is system-wide). ksmd also scans other processes' mergeable memory (a
 *    QEMU guest's RAM): when its pages per full scan exceed ours, a WARNING
 *    says so, with an estimate splitting ksmd's CPU by pages scanned. Each round starts with run=2
 * (unmerge everything: the counters then start from 0). Every KSM setting touched (run,
 * pages_to_scan, sleep_millisecs) is borrowed through common/borrow.c: recorded first and given
 * back at the end, at exit, on signals, and by the next mmcert after a SIGKILL. Not root or no
 * /sys/kernel/mm/ksm: the KSM rows say SKIP with the reason.
 *  - Hashing: the same pages with unique content (nothing to merge), three
 *    passes: the scanner's pages hashed per CPU-second (net of the same
 *    baseline) in the steady state (best of passes 2 to 6, every page
 *    already a hint: the target's figure) and in the first pass (the tables
 *    built on the way: shown, no target), beside raw XXH3-64 over the same
 *    pages: their page() pointers taken first, only the hashing timed.
 * Targets: merged pages per CPU-second >= 4x KSM's; the scanner's
 * hashing >= 0.7 of raw XXH3.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "bench_util.h"
#include "mmc_borrow.h"
#include "mmc_error.h"
#include "workload.h"

#define SHB_MIB (1024ull * 1024ull)
#define SHB_NS 1000000000ull
#define SHB_IMAGE_SEED 0x5a4e5eedull
#define SHB_KSM_DIR "/sys/kernel/mm/ksm/"
#define SHB_KSM_PAGES_TO_SCAN "100000"
#define SHB_KSM_DEADLINE_S 120
#define SHB_STEP_S 10 /* host seconds per advance() while waiting for full sharing */
#define SHB_RAW_MIN_NS 200000000ull
#define SHB_HASH_S 600    /* host seconds of the hashing pass: one ShareScanTime */
#define SHB_HASH_PASSES 6 /* the first, then the steady state (best of the rest) */
#define SHB_BASE_REPS 3   /* baseline runs; the least is subtracted */
#define SHB_SCAN_GHZ 32
enum { shb_default_mb = 64, shb_min_mb = 16, shb_max_mb = 256, shb_max_vms = 8 };
static const uint32_t shb_ns[] = {2, 4, 8};

static double cpu_now_s(void) {
  return (double)bu_thread_cpu_ns() / 1e9;
}

static double wall_now_s(void) {
  return (double)bu_now_ns() / 1e9;
}

/* ------------------------------------------------------------ the implementation */

typedef struct ours {
  double wall_s, cpu_s;   /* to full sharing */
  double base_s;          /* the same advance() calls with the scanner off */
  double host_s;          /* host time it took */
  uint64_t saved, target; /* pages */
  double scan_pps_cpu; /* unique content: pages scanned per CPU-second (net of base), first pass */
  double scan_cpu_s, scan_base_s; /* the first pass's CPU, and its baseline */
  uint64_t scanned;
  double steady_pps;   /* the best of the later passes (every page a hint already) */
  double steady_cpu_s; /* that pass's CPU */
  uint64_t steady_scanned;
  double raw_pps; /* XXH3 over the same pages */
} ours_t;

typedef struct vms {
  const mmc_impl_t *im;
  mmc_host_t *h;
  uint32_t n;
  uint64_t npages;
  mmc_vm_id_t id[shb_max_vms];
  mmc_vcpu_t *v[shb_max_vms];
} vms_t;

/* Power on out->n VMs of out->npages pages on out->h and write each page:
 * the same image in every VM, or (unique) one of its own per VM. */
static int vms_fill(const suite_bench_opts_t *o, vms_t *out, bool unique) {
  const mmc_impl_t *im = out->im;
  mmc_error_t err = {0};
  for (uint32_t i = 0; i < out->n; i++) {
    mmc_vm_config_t c;
    mmc_vm_config_init(&c);
    c.name = "bench-sharing";
    c.memory_bytes = out->npages * MMC_PAGE_SIZE;
    if (im->vm_power_on(out->h, &c, &out->id[i], &err) ||
        im->vcpu_enter(out->h, out->id[i], 0, &out->v[i], &err)) {
      fprintf(o->err, "mmcert bench sharing: power-on %u of %u: %s\n", i + 1, out->n, err.msg);
      return 1;
    }
    for (uint64_t g = 0; g < out->npages; g++) {
      void *p = im->page(out->v[i], g, true, &err);
      if (!p) {
        fprintf(o->err, "mmcert bench sharing: page %llu: %s\n", (unsigned long long)g, err.msg);
        return 1;
      }
      wl_page_fill(p, unique ? SHB_IMAGE_SEED + 1 + i : SHB_IMAGE_SEED, g, 1);
    }
    im->quiesce(out->v[i]);
  }
  return 0;
}

/* scan_ghz 0 stops the scanner (TPS-6): the baseline host. */
static int vms_open(const suite_bench_opts_t *o, const mmc_impl_t *im, const mmt_topology_t *topo,
                    uint32_t n, uint64_t npages, bool unique, int64_t scan_ghz, vms_t *out) {
  const mmc_setting_value_t s[] = {{"Mem.ShareScanTime", 10},
                                   {"Mem.ShareRateMax", 32768},
                                   {"Mem.ShareScanGHz", scan_ghz},
                                   {"Mem.ShareForceSalting", 0}};
  memset(out, 0, sizeof *out);
  out->im = im;
  out->n = n;
  out->npages = npages;
  mmc_host_config_t cfg = {.topology = &topo->desc,
                           .clock = MMC_CLOCK_STEPPED,
                           .seed = 1,
                           .settings = s,
                           .nsettings = sizeof s / sizeof s[0]};
  mmc_error_t err = {0};
  if (im->host_create(&cfg, &out->h, &err)) {
    fprintf(o->err, "mmcert bench sharing: host_create: %s\n", err.msg);
    return 1;
  }
  return vms_fill(o, out, unique);
}

static void vms_close(vms_t *v) {
  if (!v->h)
    return;
  for (uint32_t i = 0; i < v->n; i++) {
    if (v->v[i])
      v->im->vcpu_exit(v->v[i]);
    if (v->id[i])
      v->im->vm_power_off(v->h, v->id[i], NULL);
  }
  v->im->host_destroy(v->h);
  v->h = NULL;
}

static uint64_t vms_scanned(vms_t *v) {
  uint64_t s = 0;
  for (uint32_t i = 0; i < v->n; i++) {
    mmc_vm_stats_t st;
    if (v->im->vm_stats(v->h, v->id[i], &st, NULL) == 0)
      s += st.pages_scanned;
  }
  return s;
}

/* Identical VMs: advance until saved_pages reaches (n-1) x pages. */
static int ours_merge(const suite_bench_opts_t *o, const mmc_impl_t *im, const mmt_topology_t *topo,
                      uint32_t n, uint64_t npages, ours_t *r) {
  vms_t v;
  int rc = vms_open(o, im, topo, n, npages, false, SHB_SCAN_GHZ, &v);
  r->target = (uint64_t)(n - 1) * npages;
  uint64_t h0 = im->now(v.h);
  double w0 = wall_now_s(), c0 = cpu_now_s();
  /* Three passes at most (one suffices for the reference). */
  for (uint64_t t = SHB_STEP_S; rc == 0 && t <= 3 * 600; t += SHB_STEP_S) {
    mmc_error_t err = {0};
    if (im->advance(v.h, h0 + t * SHB_NS, &err)) {
      fprintf(o->err, "mmcert bench sharing: advance: %s\n", err.msg);
      rc = 1;
      break;
    }
    mmc_host_stats_t hs;
    im->host_stats(v.h, &hs, NULL);
    r->saved = hs.saved_pages;
    if (r->saved >= r->target)
      break;
  }
  r->cpu_s = cpu_now_s() - c0;
  r->wall_s = wall_now_s() - w0;
  if (rc == 0)
    r->host_s = (double)(im->now(v.h) - h0) / 1e9;
  vms_close(&v);
  return rc;
}

/* Advance the host by host_s seconds in SHB_STEP_S steps, as every timed
 * part does: the CPU seconds it took this thread in *cpu. */
static int advance_steps(const suite_bench_opts_t *o, const mmc_impl_t *im, mmc_host_t *h,
                         uint64_t host_s, double *cpu) {
  uint64_t h0 = im->now(h);
  double c0 = cpu_now_s();
  int rc = 0;
  for (uint64_t t = SHB_STEP_S; rc == 0 && t <= host_s; t += SHB_STEP_S) {
    mmc_error_t err = {0};
    rc = im->advance(h, h0 + t * SHB_NS, &err);
    if (rc)
      fprintf(o->err, "mmcert bench sharing: advance: %s\n", err.msg);
  }
  *cpu = cpu_now_s() - c0;
  return rc;
}

/* The host's own periodic work over the same host time and steps with the
 * scanner off (ScanGHz 0): what advance() costs besides sharing (other
 * mechanisms' ticks), subtracted from the figures the ratios use, since
 * ksmd's CPU time is KSM's work alone. */
static int ours_baseline(const suite_bench_opts_t *o, const mmc_impl_t *im,
                         const mmt_topology_t *topo, uint32_t n, uint64_t npages, double host_s,
                         double *cpu_s) {
  vms_t v;
  int rc = vms_open(o, im, topo, n, npages, false, 0, &v);
  /* The least of SHB_BASE_REPS runs: a baseline inflated by noise would
   * inflate every net figure it is subtracted from. */
  *cpu_s = 0;
  for (int rep = 0; rc == 0 && rep < SHB_BASE_REPS; rep++) {
    double c = 0;
    rc = advance_steps(o, im, v.h, (uint64_t)host_s, &c);
    if (rep == 0 || c < *cpu_s)
      *cpu_s = c;
  }
  vms_close(&v);
  return rc;
}

static volatile uint64_t shb_hash_sink;

/* Raw XXH3-64 over the same pages: each VM's page pointers are taken first
 * (page() and its bookkeeping are not hashing), then only the hashing is
 * timed, in gpfn order, before the vCPU's quiescent point ends the
 * pointers' validity. Repeated for at least SHB_RAW_MIN_NS of CPU; the
 * best pass over one VM's pages is the figure. */
static int raw_hash(const suite_bench_opts_t *o, const mmc_impl_t *im, vms_t *v, ours_t *r) {
  const uint8_t **ptr = malloc(v->npages * sizeof *ptr);
  if (!ptr) {
    fprintf(o->err, "mmcert bench sharing: out of memory for %llu page pointers\n",
            (unsigned long long)v->npages);
    return 1;
  }
  uint64_t sink = 0;
  double cpu = 0, best = 0;
  int rc = 0;
  while (rc == 0 && cpu * 1e9 < SHB_RAW_MIN_NS) {
    for (uint32_t i = 0; rc == 0 && i < v->n; i++) {
      mmc_error_t err = {0};
      for (uint64_t g = 0; rc == 0 && g < v->npages; g++)
        if (!(ptr[g] = v->im->page(v->v[i], g, false, &err))) {
          fprintf(o->err, "mmcert bench sharing: page %llu: %s\n", (unsigned long long)g, err.msg);
          rc = 1;
        }
      double c0 = cpu_now_s();
      for (uint64_t g = 0; rc == 0 && g < v->npages; g++)
        sink ^= XXH3_64bits(ptr[g], MMC_PAGE_SIZE);
      double dt = cpu_now_s() - c0;
      cpu += dt;
      v->im->quiesce(v->v[i]);
      if (dt > 0 && (double)v->npages / dt > best)
        best = (double)v->npages / dt; /* the best pass, as the scanner's figure is */
    }
  }
  free(ptr);
  r->raw_pps = best;
  shb_hash_sink = sink; /* the hashing is the work: keep it */
  return rc;
}

/* One pass (ShareScanTime) in the same steps as the baseline: its CPU
 * seconds and the pages it scanned. */
static int hash_pass(const suite_bench_opts_t *o, const mmc_impl_t *im, vms_t *v, double *cpu,
                     uint64_t *scanned) {
  uint64_t s0 = vms_scanned(v);
  int rc = advance_steps(o, im, v->h, SHB_HASH_S, cpu);
  *scanned = vms_scanned(v) - s0;
  return rc;
}

/* Unique content, nothing merges: SHB_HASH_PASSES passes of hashing. The
 * first builds the scanner's tables (every page becomes a hint); the later
 * ones are the steady state of a scanner over pages it has seen, and the
 * best of them (a shared machine is noisy) is the scanner's hashing rate the
 * target is on. Then raw XXH3 over the same pages. */
static int ours_hash(const suite_bench_opts_t *o, const mmc_impl_t *im, const mmt_topology_t *topo,
                     uint32_t n, uint64_t npages, ours_t *r) {
  vms_t v;
  int rc = vms_open(o, im, topo, n, npages, true, SHB_SCAN_GHZ, &v);
  double base = 0;
  if (rc == 0)
    rc = ours_baseline(o, im, topo, n, npages, SHB_HASH_S, &base);
  r->scan_base_s = base;
  for (int p = 0; rc == 0 && p < SHB_HASH_PASSES; p++) {
    double cpu = 0;
    uint64_t scanned = 0;
    rc = hash_pass(o, im, &v, &cpu, &scanned);
    double pps = cpu > base ? (double)scanned / (cpu - base) : 0;
    if (p == 0) {
      r->scan_cpu_s = cpu;
      r->scanned = scanned;
      r->scan_pps_cpu = pps;
    } else if (pps > r->steady_pps) {
      r->steady_pps = pps;
      r->steady_cpu_s = cpu;
      r->steady_scanned = scanned;
    }
  }
  if (rc == 0)
    rc = raw_hash(o, im, &v, r);
  vms_close(&v);
  return rc;
}

/* ------------------------------------------------------------ KSM */

/* Every KSM knob is borrowed (common/borrow.c): recorded before the first
 * change, given back at the end, at exit, on signals, and by the next
 * mmcert after a SIGKILL. */
static int ksm_write(const char *name, const char *value) {
  char path[96];
  snprintf(path, sizeof path, SHB_KSM_DIR "%s", name);
  return mmc_borrow_knob(path, value, NULL);
}

static uint64_t ksm_u64(const char *name) {
  char path[96], b[32];
  snprintf(path, sizeof path, SHB_KSM_DIR "%s", name);
  return mmc_borrow_read(path, b, sizeof b, NULL) == 0 ? strtoull(b, NULL, 10) : 0;
}

/* ksmd's pid (a kernel thread: low pids), 0 when there is none. */
static pid_t ksmd_pid(void) {
  static pid_t pid;
  char path[64], buf[64];
  for (pid_t p = 1; p < 4096 && !pid; p++) {
    snprintf(path, sizeof path, "/proc/%d/comm", (int)p);
    FILE *f = fopen(path, "r");
    if (!f)
      continue;
    if (fgets(buf, sizeof buf, f) && strcmp(buf, "ksmd\n") == 0)
      pid = p;
    fclose(f);
  }
  return pid;
}

/* CPU seconds used by ksmd so far, at nanosecond resolution: its CPU-time
 * clock (clock_getcpuclockid), else the time on CPU of /proc/PID/schedstat
 * (ns); < 0 when neither can be read. Never the utime+stime of
 * /proc/PID/stat: those count clock ticks (10 ms at USER_HZ 100), which
 * over a KSM run of ~0.2 s of CPU bound the figure to +-5 %. */
static double ksmd_cpu_s(void) {
  pid_t pid = ksmd_pid();
  if (!pid)
    return -1;
  clockid_t cid;
  struct timespec ts;
  if (clock_getcpuclockid(pid, &cid) == 0 && clock_gettime(cid, &ts) == 0)
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/schedstat", (int)pid);
  FILE *f = fopen(path, "r");
  unsigned long long ns = 0;
  bool ok = f && fscanf(f, "%llu", &ns) == 1;
  if (f)
    fclose(f);
  return ok ? (double)ns / 1e9 : -1;
}

typedef struct ksm_res {
  bool skipped;
  char why[160];
  double wall_s, cpu_s;
  uint64_t sharing, target;
  uint64_t scanned, full_scans; /* ksmd's pages_scanned and full_scans in the window */
} ksm_res_t;

/* A child: the content, MADV_MERGEABLE, ready byte, then wait for EOF. */
static void ksm_child(uint64_t npages, int ready, int hold) {
  size_t bytes = npages * MMC_PAGE_SIZE;
  uint8_t *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char ok = 1;
  if (m == MAP_FAILED) {
    ok = 0;
  } else {
    for (uint64_t g = 0; g < npages; g++)
      wl_page_fill(m + g * MMC_PAGE_SIZE, SHB_IMAGE_SEED, g, 1);
    ok = madvise(m, bytes, MADV_MERGEABLE) == 0;
  }
  if (write(ready, &ok, 1) != 1)
    _exit(1);
  char b;
  while (read(hold, &b, 1) > 0) {
  }
  _exit(0);
}

static int ksm_run(uint32_t n, uint64_t npages, ksm_res_t *r) {
  memset(r, 0, sizeof *r);
  r->target = (uint64_t)(n - 1) * npages;
  if (geteuid() != 0) {
    r->skipped = true;
    snprintf(r->why, sizeof r->why, "not root: KSM settings cannot be changed");
    return 0;
  }
  if (access(SHB_KSM_DIR "run", W_OK) != 0) {
    r->skipped = true;
    snprintf(r->why, sizeof r->why, "no KSM: " SHB_KSM_DIR " is missing");
    return 0;
  }
  mmc_error_t err = {0};
  if (mmc_borrow_begin(&err)) {
    r->skipped = true;
    snprintf(r->why, sizeof r->why, "%.*s", (int)sizeof r->why - 1, err.msg);
    return 0;
  }
  int ready[2], hold[2];
  if (pipe(ready) || pipe(hold)) {
    snprintf(r->why, sizeof r->why, "pipe: %s", strerror(errno));
    return -1;
  }
  pid_t kids[shb_max_vms];
  uint32_t nk = 0;
  int rc = 0;
  /* run=2 unmerges what earlier rounds (or anyone) left, so pages_sharing
   * starts from 0 (the counters of exited processes stay until ksmd runs
   * again); ksmd then stays off while the children fill their memory. */
  ksm_write("run", "2");
  ksm_write("run", "0");
  for (; nk < n; nk++) {
    kids[nk] = fork();
    if (kids[nk] < 0) {
      snprintf(r->why, sizeof r->why, "fork: %s", strerror(errno));
      rc = -1;
      break;
    }
    if (kids[nk] == 0) {
      close(ready[0]);
      close(hold[1]);
      ksm_child(npages, ready[1], hold[0]);
    }
  }
  close(ready[1]);
  close(hold[0]);
  for (uint32_t i = 0; rc == 0 && i < nk; i++) {
    char ok = 0;
    if (read(ready[0], &ok, 1) != 1 || !ok) {
      snprintf(r->why, sizeof r->why, "a KSM child could not map or madvise its memory");
      rc = -1;
    }
  }
  if (rc == 0 &&
      (ksm_write("pages_to_scan", SHB_KSM_PAGES_TO_SCAN) || ksm_write("sleep_millisecs", "0"))) {
    snprintf(r->why, sizeof r->why, "cannot write KSM settings: %s", strerror(errno));
    rc = -1;
  }
  uint64_t scanned0 = ksm_u64("pages_scanned"), full0 = ksm_u64("full_scans");
  double c0 = ksmd_cpu_s(), w0 = wall_now_s();
  if (rc == 0 && c0 < 0) {
    snprintf(r->why, sizeof r->why, "ksmd's CPU time is unreadable (/proc/PID/stat)");
    rc = -1;
  }
  if (rc == 0 && ksm_write("run", "1")) {
    snprintf(r->why, sizeof r->why, "cannot start KSM: %s", strerror(errno));
    rc = -1;
  }
  while (rc == 0 && wall_now_s() - w0 < SHB_KSM_DEADLINE_S) {
    r->sharing = ksm_u64("pages_sharing");
    if (r->sharing >= r->target)
      break;
    struct timespec ts = {0, 5000000}; /* polling the kernel's counter, not synchronising */
    nanosleep(&ts, NULL);
  }
  r->wall_s = wall_now_s() - w0;
  r->cpu_s = rc == 0 ? ksmd_cpu_s() - c0 : 0;
  r->scanned = ksm_u64("pages_scanned") - scanned0;
  r->full_scans = ksm_u64("full_scans") - full0;
  ksm_write("run", "0");
  close(hold[1]); /* children exit */
  close(ready[0]);
  for (uint32_t i = 0; i < nk; i++)
    waitpid(kids[i], NULL, 0);
  mmc_borrow_end();
  return rc;
}

/* ------------------------------------------------------------ the table */

static uint64_t bench_pages(void) {
  const char *e = getenv("MMCERT_BENCH_SHARE_MB");
  long mb = e && *e ? strtol(e, NULL, 10) : shb_default_mb;
  if (mb < shb_min_mb || mb > shb_max_mb)
    mb = shb_default_mb;
  return (uint64_t)mb * SHB_MIB / MMC_PAGE_SIZE;
}

/* KSM's merges of our pages: pages_sharing is system-wide, so pages other
 * processes merged meanwhile (it can end above the target) are not ours. */
static uint64_t ksm_ours(const ksm_res_t *k) {
  return k->sharing < k->target ? k->sharing : k->target;
}

/* Our merged pages per sharing CPU-second. */
static double ours_rate_of(const ours_t *us) {
  double net = us->cpu_s - us->base_s;
  return net > 0 ? (double)us->saved / net : 0;
}

/* KSM's merged pages per CPU-second with ksmd's CPU split in proportion to
 * the pages it scanned per full scan (an estimate: ksmd's work per page is
 * roughly even). */
static double ksm_share_rate(const ksm_res_t *k, uint64_t ours_pages) {
  double per_scan = k->full_scans ? (double)k->scanned / (double)k->full_scans : 0;
  double cpu = per_scan > 0 ? k->cpu_s * (double)ours_pages / per_scan : 0;
  return cpu > 0 ? (double)ksm_ours(k) / cpu : 1;
}

static void print_n(const suite_bench_opts_t *o, uint32_t n, const ours_t *us, const ksm_res_t *k) {
  char fig[64], peer[64];
  double net = us->cpu_s - us->base_s;
  double ours_rate = net > 0 ? (double)us->saved / net : 0;
  snprintf(fig, sizeof fig, "N=%u time to full sharing", n);
  if (k->skipped) {
    bu_row(o->out, fig, us->wall_s, "s", "KSM (skipped)", 0, 0, "");
  } else {
    snprintf(peer, sizeof peer, "KSM time to %s", k->sharing >= k->target ? "full" : "deadline");
    bu_row(o->out, fig, us->wall_s, "s", peer, k->wall_s,
           us->wall_s > 0 ? k->wall_s / us->wall_s : 0, "");
  }
  snprintf(fig, sizeof fig, "N=%u sharing CPU to full sharing", n);
  bu_row(o->out, fig, net, "s", "KSM ksmd CPU", k->cpu_s, net > 0 ? k->cpu_s / net : 0, "");
  snprintf(fig, sizeof fig, "N=%u merged pages per CPU-s", n);
  double ksm_rate = k->cpu_s > 0 ? (double)ksm_ours(k) / k->cpu_s : 0;
  bu_row(o->out, fig, ours_rate, "pg/s", "KSM merged pages per CPU-s", ksm_rate,
         ksm_rate > 0 ? ours_rate / ksm_rate : 0, ">= 4");
  snprintf(fig, sizeof fig, "N=%u scanner hashed pages per CPU-s", n);
  bu_row(o->out, fig, us->steady_pps, "pg/s", "raw XXH3-64 pages per CPU-s", us->raw_pps,
         us->raw_pps > 0 ? us->steady_pps / us->raw_pps : 0, ">= 0.7");
  snprintf(fig, sizeof fig, "N=%u first pass hashed per CPU-s", n);
  bu_row(o->out, fig, us->scan_pps_cpu, "pg/s", "raw XXH3-64 pages per CPU-s", us->raw_pps,
         us->raw_pps > 0 ? us->scan_pps_cpu / us->raw_pps : 0, "(info)");
  fprintf(o->out,
          "  N=%u: saved %llu of %llu pages in %.0f s of host time; KSM pages_sharing %llu of "
          "%llu%s%s\n",
          n, (unsigned long long)us->saved, (unsigned long long)us->target, us->host_s,
          (unsigned long long)k->sharing, (unsigned long long)k->target,
          k->skipped ? "; KSM SKIP: " : "", k->skipped ? k->why : "");
  /* ksmd scans every process's mergeable memory (a QEMU guest's RAM is
   * mergeable by default): its CPU then covers more than our N x pages.
   * Said, not corrected for: the figure stays ksmd's measured CPU. */
  uint64_t ours_pages = (uint64_t)n * (k->target / (n - 1));
  if (!k->skipped && k->full_scans > 0 && k->scanned / k->full_scans > ours_pages + ours_pages / 8)
    fprintf(o->out,
            "  N=%u: WARNING ksmd scanned %llu pages per full scan, ours are %llu: other "
            "processes' mergeable memory shares ksmd's CPU (KSM figures are pessimistic); "
            "estimate with ksmd's CPU split by pages scanned: %.0f merged pages per CPU-s, "
            "ratio %.2f\n",
            n, (unsigned long long)(k->scanned / k->full_scans), (unsigned long long)ours_pages,
            ksm_share_rate(k, ours_pages), ours_rate_of(us) / ksm_share_rate(k, ours_pages));
  fprintf(
      o->out,
      "  N=%u: sharing CPU = advance() CPU - the same advance() calls with the scanner off: "
      "merging %.3f - %.3f s; hashing: first pass %.3f - %.3f s for %llu pages (tables built),\n"
      "  best later pass %.3f - %.3f s for %llu pages (steady state: the target's figure)\n",
      n, us->cpu_s, us->base_s, us->scan_cpu_s, us->scan_base_s, (unsigned long long)us->scanned,
      us->steady_cpu_s, us->scan_base_s, (unsigned long long)us->steady_scanned);
  fflush(o->out);
}

/* ------------------------------------------------------------ a live implementation */

/* An implementation whose sharing runs on its own threads or in the kernel
 * (the Linux implementation's is ksmd) has no advance() to time: its VMs
 * are written with sharing off (Mem.ShareScanGHz=0), sharing is switched on
 * at its fastest documented pace (ScanGHz 32; the pacing settings it lacks,
 * MMC_ENOTSUP, are left out), and the wall time runs until the host's saved
 * pages reach (n-1) x pages. Its CPU is that of the process's other threads
 * and of ksmd over the same window (this thread only polls), and the saving
 * is confirmed by pagemap frame numbers (root): pages minus distinct frames
 * behind the VMs' page() pointers. */
typedef struct live {
  double wall_s, cpu_s;   /* to full sharing (or the deadline) */
  uint64_t saved, target; /* the host's saved_pages */
  uint64_t saved_probe;   /* pages - distinct frames, from pagemap (0: not probed) */
  bool probed;
  double scanned_per_cpu_s; /* ksmd's pages scanned per its CPU-second (0: none) */
  double ksmd_s;            /* ksmd's part of cpu_s */
} live_t;

static double process_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int live_set(const suite_bench_opts_t *o, vms_t *v, const char *name, int64_t value) {
  mmc_error_t err = {0};
  int rc = v->im->setting_set(v->h, name, value, &err);
  if (rc && rc != MMC_ENOTSUP) {
    fprintf(o->err, "mmcert bench sharing: %s=%lld: %s\n", name, (long long)value, err.msg);
    return 1;
  }
  return 0;
}

static int live_open(const suite_bench_opts_t *o, const mmc_impl_t *im, const mmt_topology_t *topo,
                     uint32_t n, uint64_t npages, vms_t *out) {
  memset(out, 0, sizeof *out);
  out->im = im;
  out->n = n;
  out->npages = npages;
  mmc_host_config_t cfg = {.topology = &topo->desc, .clock = MMC_CLOCK_LIVE, .seed = 1};
  mmc_error_t err = {0};
  if (im->host_create(&cfg, &out->h, &err)) {
    fprintf(o->err, "mmcert bench sharing: host_create: %s\n", err.msg);
    return 1;
  }
  if (live_set(o, out, "Mem.ShareScanGHz", 0) || live_set(o, out, "Mem.ShareScanTime", 10) ||
      live_set(o, out, "Mem.ShareRateMax", 32768) || live_set(o, out, "Mem.ShareForceSalting", 0))
    return 1;
  return vms_fill(o, out, false);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Pages minus the distinct frames behind them, by /proc/self/pagemap PFNs
 * of the VMs' page() pointers (visible to root only). */
static bool probe_saved(vms_t *v, uint64_t *saved) {
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  uint64_t total = (uint64_t)v->n * v->npages, k = 0;
  uint64_t *pfn = fd >= 0 ? malloc(total * sizeof *pfn) : NULL;
  bool ok = pfn != NULL;
  for (uint32_t i = 0; ok && i < v->n; i++)
    for (uint64_t g = 0; ok && g < v->npages; g++) {
      mmc_error_t err = {0};
      void *p = v->im->page(v->v[i], g, false, &err);
      uint64_t e = 0;
      ok = p && pread(fd, &e, 8, (off_t)((uintptr_t)p / MMC_PAGE_SIZE * 8)) == 8;
      pfn[k++] = e >> 63 ? e & ((1ull << 55) - 1) : 0;
    }
  if (fd >= 0)
    close(fd);
  uint64_t distinct = 0;
  if (ok) {
    qsort(pfn, total, sizeof *pfn, cmp_u64);
    for (uint64_t i = 0; i < total; i++)
      distinct += pfn[i] && (i == 0 || pfn[i] != pfn[i - 1]);
    ok = distinct > 0; /* all zero: PFNs hidden (not root) */
  }
  free(pfn);
  *saved = ok ? total - distinct : 0;
  return ok;
}

static int ours_live(const suite_bench_opts_t *o, const mmc_impl_t *im, const mmt_topology_t *topo,
                     uint32_t n, uint64_t npages, live_t *r) {
  vms_t v;
  memset(r, 0, sizeof *r);
  r->target = (uint64_t)(n - 1) * npages;
  int rc = live_open(o, im, topo, n, npages, &v);
  uint64_t scanned0 = ksm_u64("pages_scanned");
  double k0 = ksmd_cpu_s(), p0 = process_cpu_s(), t0 = cpu_now_s(), w0 = wall_now_s();
  if (rc == 0)
    rc = live_set(o, &v, "Mem.ShareScanGHz", SHB_SCAN_GHZ); /* sharing on: the clock runs */
  while (rc == 0 && wall_now_s() - w0 < SHB_KSM_DEADLINE_S) {
    mmc_host_stats_t hs;
    mmc_error_t err = {0};
    if (im->host_stats(v.h, &hs, &err)) {
      fprintf(o->err, "mmcert bench sharing: host_stats: %s\n", err.msg);
      rc = 1;
      break;
    }
    if (hs.unobserved & MMC_HOSTSTAT_SAVED_PAGES) {
      fprintf(o->err,
              "mmcert bench sharing: %s cannot observe saved pages here "
              "(MMC_HOSTSTAT_SAVED_PAGES): nothing to time\n",
              im->name);
      rc = 1;
      break;
    }
    r->saved = hs.saved_pages;
    if (r->saved >= r->target)
      break;
    struct timespec ts = {0, 20000000}; /* polling the host's counter, not synchronising */
    nanosleep(&ts, NULL);
  }
  r->wall_s = wall_now_s() - w0;
  double kcpu = k0 >= 0 ? ksmd_cpu_s() - k0 : 0;
  r->cpu_s = (process_cpu_s() - p0) - (cpu_now_s() - t0) + kcpu;
  r->ksmd_s = kcpu;
  uint64_t scanned = ksm_u64("pages_scanned") - scanned0;
  r->scanned_per_cpu_s = kcpu > 0 ? (double)scanned / kcpu : 0;
  if (rc == 0)
    r->probed = probe_saved(&v, &r->saved_probe);
  vms_close(&v);
  return rc;
}

static void print_live(const suite_bench_opts_t *o, uint32_t n, const live_t *us,
                       const ksm_res_t *k) {
  char fig[64], peer[64];
  snprintf(fig, sizeof fig, "N=%u time to full sharing", n);
  snprintf(peer, sizeof peer, "KSM time to %s", k->sharing >= k->target ? "full" : "deadline");
  if (k->skipped)
    bu_row(o->out, fig, us->wall_s, "s", "KSM (skipped)", 0, 0, "");
  else
    bu_row(o->out, fig, us->wall_s, "s", peer, k->wall_s,
           us->wall_s > 0 ? k->wall_s / us->wall_s : 0, "");
  snprintf(fig, sizeof fig, "N=%u sharing CPU to full sharing", n);
  bu_row(o->out, fig, us->cpu_s, "s", "KSM ksmd CPU", k->cpu_s,
         us->cpu_s > 0 ? k->cpu_s / us->cpu_s : 0, "");
  snprintf(fig, sizeof fig, "N=%u merged pages per CPU-s", n);
  double rate =
      us->cpu_s > 0 ? (double)(us->saved < us->target ? us->saved : us->target) / us->cpu_s : 0;
  double ksm_rate = k->cpu_s > 0 ? (double)ksm_ours(k) / k->cpu_s : 0;
  bu_row(o->out, fig, rate, "pg/s", "KSM merged pages per CPU-s", ksm_rate,
         ksm_rate > 0 ? rate / ksm_rate : 0, "");
  fprintf(o->out,
          "  N=%u: saved %llu of %llu pages (host_stats)%s; live clock, Mem.ShareScanGHz=%d; "
          "sharing CPU = ksmd %.3f s + the process's other threads %.3f s in the window; KSM "
          "pages_sharing %llu of %llu%s%s\n",
          n, (unsigned long long)us->saved, (unsigned long long)us->target,
          us->saved >= us->target ? "" : " by the deadline", SHB_SCAN_GHZ, us->ksmd_s,
          us->cpu_s - us->ksmd_s, (unsigned long long)k->sharing, (unsigned long long)k->target,
          k->skipped ? "; KSM SKIP: " : "", k->skipped ? k->why : "");
  if (!us->probed)
    fprintf(o->out, "  N=%u: saving not confirmed by pagemap frame numbers (they need root)\n", n);
  if (us->probed)
    fprintf(o->out, "  N=%u: saved by pagemap frame numbers: %llu pages%s\n", n,
            (unsigned long long)us->saved_probe,
            us->saved_probe + n >= us->target ? "" : " (SHORT of the statistic: see above)");
  if (us->scanned_per_cpu_s > 0)
    fprintf(o->out,
            "  N=%u: ksmd scanned %.0f pages per CPU-second in the window (checksums, "
            "tree walks and merges; raw XXH3 is not comparable: the kernel's own loop)\n",
            n, us->scanned_per_cpu_s);
  fflush(o->out);
}

/* The live form: N identical VMs through the implementation, beside KSM on
 * the same content in the same run. */
static int sharing_live(const suite_bench_opts_t *o, const mmc_impl_t *im,
                        const mmt_topology_t *topo, uint64_t npages) {
  fprintf(o->out, "  %s %s: N identical VMs of %llu MB on %s, live clock; KSM in the same run\n",
          im->name, im->version, (unsigned long long)(npages * MMC_PAGE_SIZE / SHB_MIB),
          topo->source);
  bu_header(o->out);
  for (size_t k = 0; k < sizeof shb_ns / sizeof shb_ns[0]; k++) {
    uint32_t n = shb_ns[k];
    live_t us;
    ksm_res_t ks;
    if (ours_live(o, im, topo, n, npages, &us))
      return 1;
    if (ksm_run(n, npages, &ks)) {
      fprintf(o->err, "mmcert bench sharing: KSM: %s\n", ks.why);
      return 1;
    }
    print_live(o, n, &us, &ks);
  }
  return 0;
}

int suite_bench_sharing(const suite_bench_opts_t *o) {
  suite_impl_t si;
  if (bu_load_impl(o, &si))
    return 1;
  const mmc_impl_t *im = si.impl;
  int failed = 1;
  mmt_topology_t *topo = NULL;
  if (!(im->capabilities & MMC_CAP_SHARING)) {
    fprintf(o->err, "mmcert bench sharing: %s lacks MMC_CAP_SHARING%s%s\n", im->name,
            im->why_not && im->why_not(MMC_CAP_SHARING) ? ": " : "",
            im->why_not && im->why_not(MMC_CAP_SHARING) ? im->why_not(MMC_CAP_SHARING) : "");
    goto out;
  }
  if (bu_load_topology(o, NULL, &topo))
    goto out;
  uint64_t npages = bench_pages();
  if (!(im->capabilities & MMC_CAP_CLOCK_STEPPED)) {
    failed = sharing_live(o, im, topo, npages);
    goto out;
  }
  fprintf(o->out, "  %s %s: N identical VMs of %llu MB on %s, stepped clock; KSM in the same run\n",
          im->name, im->version, (unsigned long long)(npages * MMC_PAGE_SIZE / SHB_MIB),
          topo->source);
  bu_header(o->out);
  for (size_t k = 0; k < sizeof shb_ns / sizeof shb_ns[0]; k++) {
    uint32_t n = shb_ns[k];
    ours_t us = {0};
    ksm_res_t ks;
    if (ours_merge(o, im, topo, n, npages, &us) ||
        ours_baseline(o, im, topo, n, npages, us.host_s, &us.base_s) ||
        ours_hash(o, im, topo, n, npages, &us))
      goto out;
    if (ksm_run(n, npages, &ks)) {
      fprintf(o->err, "mmcert bench sharing: KSM: %s\n", ks.why);
      goto out;
    }
    print_n(o, n, &us, &ks);
  }
  failed = 0;
out:
  if (topo)
    mmt_free(topo);
  suite_impl_unload(&si);
  return failed;
}
