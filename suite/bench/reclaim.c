/*
 * reclaim.c — `mmcert bench reclaim`: the reclamation paths beside
 * what the machine does without them, measured in the same run.
 *
 *  - balloon reclaim: balloon_give of written pages (pages/s) beside raw
 *    fallocate(PUNCH_HOLE) of as many pages of a memfd (the kernel's cost of
 *    returning frames);
 *  - compression: one reclaim period of a VM whose pages compress (a 1 KB
 *    random head, zeros after) beside raw LZ4 compression of the same pages;
 *    the compression ratio is measured with LZ4 on those pages;
 *  - swap-out: one reclaim period with compression off and incompressible
 *    pages (MB/s), beside raw sequential pwrite of as many bytes (distinct
 *    pages in memory, written once) in 256 KB writes to a file in the same
 *    directory (target >= 0.8); also beside the same writes from one hot
 *    256 KB buffer, and beside the raw floor of a swap-out (doc/reclaim.md);
 *    median of br_swap_rounds rounds (--repeat N > 1: N, at most 64), each
 *    a fresh host's period followed by its peers;
 *  - swap-in latency: p50/p99 of page() on swapped pages (random order)
 *    beside raw 4 KB random pread of the VM's swap file;
 *  - pressure: live host filled to its high level by a guest with a balloon
 *    driver (polling once a second); a second such guest of half the host
 *    is powered on (the pressure event): time until the host is back in
 *    the high state, and until it left it.
 * Hosts run on this machine's topology capped to bench_host_mib, with the
 * swap directory a private directory under /tmp made here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lz4.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "bench_util.h"
#include "mmc_error.h"
#include "mmc_tmpdir.h"
#include "stats.h"
#include "workload.h"

#define BR_MIB (1024ull * 1024ull)
#define BR_TICK_NS 1000000000ull
#define BR_RAW_CHUNK (256u * 1024u)
enum { bench_host_mib = 256, br_lat_samples = 4096, br_pressure_deadline_s = 60 };

typedef struct br {
  const suite_bench_opts_t *o;
  const mmc_impl_t *im;
  mmt_topology_t *topo;
  char dir[PATH_MAX];
} br_t;

static int br_fail(br_t *b, const char *what, const mmc_error_t *err) {
  fprintf(b->o->err, "mmcert bench reclaim: %s: %s\n", what, err ? err->msg : strerror(errno));
  return 1;
}

static int br_host(br_t *b, mmc_clock_mode_t clock, const mmc_setting_value_t *s, size_t n,
                   mmc_host_t **h) {
  mmc_host_config_t cfg = {.topology = &b->topo->desc,
                           .clock = clock,
                           .seed = 1,
                           .settings = s,
                           .nsettings = n,
                           .swap_dir = b->dir};
  mmc_error_t err = {0};
  return b->im->host_create(&cfg, h, &err) ? br_fail(b, "host_create", &err) : 0;
}

static void br_fill(uint8_t *p, uint64_t g, bool compressible) {
  uint64_t x = (g + 1) * 0x9e3779b97f4a7c15ull, *w = (uint64_t *)p;
  memset(p, 0, MMC_PAGE_SIZE);
  for (size_t i = 0; i < (compressible ? 1024u : MMC_PAGE_SIZE) / 8; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    w[i] = x;
  }
}

static uint64_t br_free(br_t *b, mmc_host_t *h, uint64_t *min_free) {
  mmc_host_stats_t s;
  b->im->host_stats(h, &s, NULL);
  uint64_t f = 0;
  for (uint32_t n = 0; n < s.nnodes; n++)
    f += s.node_free_pages[n];
  if (min_free)
    *min_free = s.min_free_pages;
  return f;
}

/* Power on a VM of `pages` and write it until the host has `stop_free`
 * free frames; returns the VM and pages written in *n. */
static int br_vm(br_t *b, mmc_host_t *h, uint64_t pages, bool compressible, uint64_t stop_free,
                 mmc_vm_id_t *vm, uint64_t *n) {
  const mmc_impl_t *im = b->im;
  mmc_vm_config_t c;
  mmc_vm_config_init(&c);
  c.memory_bytes = pages * MMC_PAGE_SIZE;
  c.balloon_driver = false;
  mmc_error_t err = {0};
  mmc_vcpu_t *v = NULL;
  if (im->vm_power_on(h, &c, vm, &err) || im->vcpu_enter(h, *vm, 0, &v, &err))
    return br_fail(b, "power on", &err);
  uint64_t g = 0;
  for (; g < pages && (g % 256 || br_free(b, h, NULL) > stop_free); g++) {
    uint8_t *p;
    while (!(p = im->page(v, g, true, &err)) && err.code == MMC_ERETRY)
      im->quiesce(v);
    if (!p) {
      im->vcpu_exit(v);
      return br_fail(b, "write", &err);
    }
    br_fill(p, g, compressible);
    im->quiesce(v);
  }
  im->vcpu_exit(v);
  *n = g;
  return 0;
}

/* ---------------------------------------------------------------- balloon */

/* Seconds to punch n written pages out of a memfd one page at a time (how
 * the pools give a frame back); <= 0 on failure. */
static double br_punch_secs(uint64_t n) {
  int fd = memfd_create("bench-punch", MFD_CLOEXEC);
  size_t bytes = n * MMC_PAGE_SIZE;
  uint8_t *m = fd >= 0 && ftruncate(fd, (off_t)bytes) == 0
                   ? mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                   : MAP_FAILED;
  if (m == MAP_FAILED) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  memset(m, 1, bytes);
  uint64_t t0 = bu_now_ns();
  for (uint64_t g = 0; g < n; g++)
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(g * MMC_PAGE_SIZE),
              MMC_PAGE_SIZE);
  double s = (double)(bu_now_ns() - t0) / 1e9;
  munmap(m, bytes);
  close(fd);
  return s;
}

static int br_balloon(br_t *b) {
  const mmc_impl_t *im = b->im;
  mmc_host_t *h = NULL;
  mmc_clock_mode_t clock =
      (im->capabilities & MMC_CAP_CLOCK_STEPPED) ? MMC_CLOCK_STEPPED : MMC_CLOCK_LIVE;
  if (br_host(b, clock, NULL, 0, &h))
    return 1;
  uint64_t min_free = 0, cap = br_free(b, h, &min_free), n = 0;
  mmc_vm_id_t vm = 0;
  if (br_vm(b, h, cap / 2, false, 0, &vm, &n)) {
    im->host_destroy(h);
    return 1;
  }
  uint64_t chunk[1024];
  mmc_error_t err = {0};
  uint64_t t0 = bu_now_ns();
  for (uint64_t g = 0; g < n; g += 1024) {
    size_t k = 0;
    for (; k < 1024 && g + k < n; k++)
      chunk[k] = g + k;
    if (im->balloon_give(h, vm, chunk, k, &err)) {
      im->host_destroy(h);
      return br_fail(b, "balloon_give", &err);
    }
  }
  double secs = (double)(bu_now_ns() - t0) / 1e9;
  im->host_destroy(h);
  double raw = br_punch_secs(n);
  if (raw <= 0)
    return br_fail(b, "memfd", NULL);
  double rate = (double)n / secs, raw_rate = (double)n / raw;
  bu_row(b->o->out, "balloon reclaim (give, 1024/call)", rate / 1e3, "kpg/s",
         "raw punch-hole of written pages", raw_rate / 1e3, rate / raw_rate, "(info)");
  return 0;
}

/* ---------------------------------------------------------------- zip + swap */

typedef struct br_out {
  double secs;
  uint64_t zipped, swapped, written;
  mmc_host_t *h;
  mmc_vm_id_t vm;
} br_out_t;

/* A VM written past the hard level, then one virtual second: what it
 * reclaimed and the wall time of that advance. Keeps the host. */
static int br_reclaim(br_t *b, bool compressible, bool zip, br_out_t *r) {
  const mmc_impl_t *im = b->im;
  mmc_setting_value_t s[] = {{"Mem.MemZipEnable", zip}};
  if (br_host(b, MMC_CLOCK_STEPPED, s, 1, &r->h))
    return 1;
  uint64_t min_free = 0, cap = br_free(b, r->h, &min_free);
  if (br_vm(b, r->h, cap * 2, compressible, min_free / 2, &r->vm, &r->written))
    return 1;
  mmc_error_t err = {0};
  uint64_t t0 = bu_now_ns();
  if (im->advance(r->h, im->now(r->h) + BR_TICK_NS, &err))
    return br_fail(b, "advance", &err);
  r->secs = (double)(bu_now_ns() - t0) / 1e9;
  mmc_vm_stats_t st;
  im->vm_stats(r->h, r->vm, &st, NULL);
  r->zipped = st.compressed_pages;
  r->swapped = st.swapped_pages;
  return 0;
}

static int br_zip(br_t *b) {
  br_out_t r = {0};
  int rc = br_reclaim(b, true, true, &r);
  if (r.h)
    b->im->host_destroy(r.h);
  if (rc || !r.zipped)
    return rc ? rc : br_fail(b, "compression: nothing was compressed", NULL);
  /* Peer and ratio: LZ4 on the same pages here. */
  uint8_t page[MMC_PAGE_SIZE];
  char out[LZ4_COMPRESSBOUND(MMC_PAGE_SIZE)];
  uint64_t bytes = 0, t0 = bu_now_ns();
  for (uint64_t g = 0; g < r.zipped; g++) {
    br_fill(page, g, true);
    bytes += (uint64_t)LZ4_compress_default((const char *)page, out, MMC_PAGE_SIZE, sizeof out);
  }
  double raw = (double)(bu_now_ns() - t0) / 1e9;
  double rate = (double)r.zipped / r.secs, raw_rate = (double)r.zipped / raw;
  bu_row(b->o->out, "compression (reclaim period)", rate / 1e3, "kpg/s",
         "raw LZ4 of the same pages", raw_rate / 1e3, rate / raw_rate, "(info)");
  double ratio = (double)r.zipped * MMC_PAGE_SIZE / (double)bytes;
  bu_row(b->o->out, "compression ratio (LZ4, these pages)", ratio, "x",
         "slot size 2 KB: ratio of the cache", MMC_PAGE_SIZE / 2048.0,
         ratio / (MMC_PAGE_SIZE / 2048.0), "(info)");
  return 0;
}

/* Raw sequential pwrite of `bytes` in BR_RAW_CHUNK writes: seconds (< 0 on
 * failure). `distinct`: the data is `bytes` of distinct pages in ordinary
 * memory, written once, as a swap-out writes pages that were not used
 * lately (the peer: a pwrite of as many bytes); else one
 * BR_RAW_CHUNK buffer written again and again, which its cache keeps hot
 * (the copy then never waits for memory: an upper bound, reported too). */
static double br_raw_write(br_t *b, uint64_t bytes, bool distinct) {
  char path[PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/raw-write", b->dir);
  size_t len = distinct ? (bytes + BR_RAW_CHUNK - 1) / BR_RAW_CHUNK * BR_RAW_CHUNK : BR_RAW_CHUNK;
  int fd = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
  uint8_t *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  double s = -1;
  if (fd >= 0 && buf != MAP_FAILED) {
    for (size_t i = 0; i < len; i += MMC_PAGE_SIZE)
      br_fill(buf + i, i / MMC_PAGE_SIZE, false);
    uint64_t t0 = bu_now_ns(), off = 0;
    for (; off < bytes; off += BR_RAW_CHUNK)
      if (pwrite(fd, buf + (distinct ? off : 0), BR_RAW_CHUNK, (off_t)off) != (ssize_t)BR_RAW_CHUNK)
        break;
    s = off >= bytes ? (double)(bu_now_ns() - t0) / 1e9 : -1;
  }
  if (buf != MAP_FAILED)
    munmap(buf, len);
  if (fd >= 0) {
    close(fd);
    unlink(path);
  }
  return s;
}

/* The least work a swap-out of n pages must do, done the fastest raw way:
 * hash each page (TPS-7: sharing is tried before a page is swapped), write
 * it from where it lies (pwrite of BR_RAW_CHUNK runs of a memfd to a file in
 * the same directory) and give its memory back (punch the run: frames
 * really freed). On one thread in that order; or on two, as a pipeline
 * like the reference's: one thread writes chunk k while the other hashes
 * chunks ahead (at most br_floor_lead) and punches chunks already written —
 * the most two cores can do with these kernel primitives. Seconds; <= 0 on
 * failure. */
enum { br_floor_lead = 8 };

typedef struct br_floor {
  int fd, mfd;
  uint8_t *m;
  size_t chunks;
  _Atomic size_t hashed, written; /* chunks done by each side */
  bool failed;                    /* the hashing/punching side's (or the only thread's) */
  bool write_failed;              /* the writer thread's; read after the join */
} br_floor_t;

static volatile uint64_t br_hash_sink;

static uint64_t br_floor_hash(const br_floor_t *f, size_t k) {
  uint64_t sum = 0;
  for (size_t i = 0; i < BR_RAW_CHUNK; i += MMC_PAGE_SIZE)
    sum += XXH3_64bits(f->m + k * BR_RAW_CHUNK + i, MMC_PAGE_SIZE);
  return sum;
}

static bool br_floor_write(br_floor_t *f, size_t k) {
  off_t off = (off_t)(k * BR_RAW_CHUNK);
  return pwrite(f->fd, f->m + off, BR_RAW_CHUNK, off) == (ssize_t)BR_RAW_CHUNK;
}

static bool br_floor_punch(br_floor_t *f, size_t k) {
  return fallocate(f->mfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(k * BR_RAW_CHUNK),
                   BR_RAW_CHUNK) == 0;
}

static void *br_floor_writer(void *arg) {
  br_floor_t *f = arg;
  for (size_t k = 0; k < f->chunks; k++) {
    while (atomic_load(&f->hashed) <= k)
      sched_yield();
    f->write_failed |= !br_floor_write(f, k);
    atomic_store(&f->written, k + 1);
  }
  return NULL;
}

/* The hashing and punching side of the two-thread floor. */
static uint64_t br_floor_pipe(br_floor_t *f) {
  pthread_t th;
  if (pthread_create(&th, NULL, br_floor_writer, f)) {
    f->failed = true;
    return 0;
  }
  uint64_t sum = 0;
  size_t punched = 0;
  while (punched < f->chunks) {
    size_t h = atomic_load(&f->hashed), w = atomic_load(&f->written);
    if (h < f->chunks && h < w + br_floor_lead) {
      sum += br_floor_hash(f, h);
      atomic_store(&f->hashed, h + 1);
    } else if (punched < w) {
      f->failed |= !br_floor_punch(f, punched++);
    } else {
      sched_yield();
    }
  }
  pthread_join(th, NULL);
  f->failed |= f->write_failed;
  return sum;
}

static double br_floor_secs(br_t *b, uint64_t n, int threads) {
  char path[PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/raw-floor", b->dir);
  br_floor_t f = {.chunks = (n * MMC_PAGE_SIZE + BR_RAW_CHUNK - 1) / BR_RAW_CHUNK};
  size_t bytes = f.chunks * BR_RAW_CHUNK;
  f.fd = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
  f.mfd = memfd_create("bench-floor", MFD_CLOEXEC);
  f.m = f.fd >= 0 && f.mfd >= 0 && ftruncate(f.mfd, (off_t)bytes) == 0
            ? mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, f.mfd, 0)
            : MAP_FAILED;
  double s = -1;
  if (f.m != MAP_FAILED) {
    for (size_t i = 0; i < bytes; i += MMC_PAGE_SIZE)
      br_fill(f.m + i, i / MMC_PAGE_SIZE, false);
    uint64_t sum = 0, t0 = bu_now_ns();
    if (threads > 1)
      sum = br_floor_pipe(&f);
    for (size_t k = 0; threads == 1 && k < f.chunks && !f.failed; k++) {
      sum += br_floor_hash(&f, k);
      f.failed = !br_floor_write(&f, k) || !br_floor_punch(&f, k);
    }
    s = f.failed ? -1 : (double)(bu_now_ns() - t0) / 1e9;
    br_hash_sink = sum; /* the hashing is part of the work: keep it */
    munmap(f.m, bytes);
  }
  if (f.mfd >= 0)
    close(f.mfd);
  if (f.fd >= 0) {
    close(f.fd);
    unlink(path);
  }
  return s;
}

/* The one swap file in the directory. */
static int br_swap_file(br_t *b) {
  DIR *d = opendir(b->dir);
  struct dirent *e;
  int fd = -1;
  while (d && (e = readdir(d)) && fd < 0)
    if (e->d_name[0] != '.') {
      char p[PATH_MAX + 256];
      snprintf(p, sizeof p, "%s/%s", b->dir, e->d_name);
      fd = open(p, O_RDONLY | O_CLOEXEC);
    }
  if (d)
    closedir(d);
  return fd;
}

static int cmp_d(const void *a, const void *c) {
  double x = *(const double *)a, y = *(const double *)c;
  return x < y ? -1 : x > y;
}

/* p50/p99 of page() on swapped pages (random gpfns among the written ones)
 * and of raw 4 KB random preads of the swap file's written part. */
/* The swap-in's physical peer: br_lat_samples reads of one page each at
 * pseudo-random pages first..first+span-1 of `fd` (continuing the random
 * sequence at x), each timed into raw[] (microsecond figures made by
 * br_latency_percentiles). A failed read leaves the rest of raw[] at 0. */
static void br_pread_peer(int fd, uint64_t x, uint64_t first, uint64_t span, double *raw) {
  uint8_t page[MMC_PAGE_SIZE];
  span = span ? span : 1;
  for (size_t i = 0; i < br_lat_samples; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t t0 = bu_now_ns();
    if (pread(fd, page, MMC_PAGE_SIZE, (off_t)((first + (x >> 11) % span) * MMC_PAGE_SIZE)) < 0)
      break;
    raw[i] = (double)(bu_now_ns() - t0);
  }
}

/* p50/p99 of n swap-in latencies and of the br_lat_samples raw reads, in
 * microseconds (ns in); both arrays are sorted. */
static void br_latency_percentiles(double *lat, size_t n, double *raw, double *p50, double *p99,
                                   double *r50, double *r99) {
  qsort(lat, n, sizeof *lat, cmp_d);
  qsort(raw, br_lat_samples, sizeof *raw, cmp_d);
  *p50 = n ? lat[n / 2] / 1e3 : 0;
  *p99 = n ? lat[n * 99 / 100] / 1e3 : 0;
  *r50 = raw[br_lat_samples / 2] / 1e3;
  *r99 = raw[br_lat_samples * 99 / 100] / 1e3;
}

static int br_swapin(br_t *b, br_out_t *r, double *p50, double *p99, double *raw50, double *raw99) {
  const mmc_impl_t *im = b->im;
  mmc_vcpu_t *v = NULL;
  mmc_error_t err = {0};
  double *lat = calloc(br_lat_samples, sizeof *lat), *raw = calloc(br_lat_samples, sizeof *raw);
  int fd = br_swap_file(b);
  if (!lat || !raw || fd < 0 || im->vcpu_enter(r->h, r->vm, 0, &v, &err)) {
    free(lat);
    free(raw);
    if (fd >= 0)
      close(fd);
    return br_fail(b, "swap-in setup", &err);
  }
  uint64_t x = 12345;
  size_t n = 0;
  for (size_t tries = 0; n < br_lat_samples && tries < 64 * br_lat_samples; tries++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t g = (x >> 11) % r->written, before, after;
    mmc_vm_stats_t st;
    im->vm_stats(r->h, r->vm, &st, NULL);
    before = st.swapped_pages;
    uint64_t t0 = bu_now_ns();
    void *p;
    while (!(p = im->page(v, g, false, &err)) && err.code == MMC_ERETRY)
      im->quiesce(v);
    double dt = (double)(bu_now_ns() - t0);
    im->quiesce(v);
    im->vm_stats(r->h, r->vm, &st, NULL);
    after = st.swapped_pages;
    if (p && after < before)
      lat[n++] = dt; /* this access was a swap-in */
  }
  im->vcpu_exit(v);
  br_pread_peer(fd, x, 0, r->swapped, raw);
  close(fd);
  br_latency_percentiles(lat, n, raw, p50, p99, raw50, raw99);
  free(lat);
  free(raw);
  return n ? 0 : br_fail(b, "no swap-in was observed", NULL);
}

/* The swap-out's peers, each measured on as many bytes right after the
 * period it is compared with. */
enum { BR_RAW, BR_HOT, BR_PUNCH, BR_FLOOR1, BR_FLOOR2, BR_NPEERS };
static const struct {
  const char *label, *target;
} br_peer[BR_NPEERS] = {
    [BR_RAW] = {"raw sequential pwrite, 256 KB", ">= 0.8"},
    [BR_HOT] = {"same, one hot 256 KB buffer", "(info)"},
    /* the write plus giving each frame back alone (the pools' memfd method) */
    [BR_PUNCH] = {"raw pwrite + punch-hole per page", "(info)"},
    [BR_FLOOR1] = {"raw floor: hash+pwrite+punch, runs", "(info)"},
    [BR_FLOOR2] = {"2 threads: pwrite || hash+punch", "(info)"},
};
enum { br_swap_rounds = 5, br_swap_rounds_max = 64 };

/* One round: a fresh host's swap-out period, then every peer on as many
 * bytes (seconds in peer_s). The host stays in r->h. */
static int br_swap_round(br_t *b, br_out_t *r, double peer_s[BR_NPEERS]) {
  int rc = br_reclaim(b, false, false, r);
  if (rc || !r->swapped)
    return rc ? rc : br_fail(b, "swap: nothing was swapped", NULL);
  uint64_t bytes = r->swapped * MMC_PAGE_SIZE;
  double punch = br_punch_secs(r->swapped);
  peer_s[BR_RAW] = br_raw_write(b, bytes, true);
  peer_s[BR_HOT] = br_raw_write(b, bytes, false);
  peer_s[BR_PUNCH] = punch > 0 ? peer_s[BR_RAW] + punch : -1;
  peer_s[BR_FLOOR1] = br_floor_secs(b, r->swapped, 1);
  peer_s[BR_FLOOR2] = br_floor_secs(b, r->swapped, 2);
  for (int i = 0; i < BR_NPEERS; i++)
    if (peer_s[i] <= 0)
      return br_fail(b, br_peer[i].label, NULL);
  return 0;
}

/* Swap-out: rounds of (period, peers); each row is the median of the
 * rounds' rates and of their ratios (a 67 MB period lasts ~30 ms: one
 * round alone moves by 10-30 % on a shared machine). Then swap-in latency
 * on the last round's host. */
static int br_swap(br_t *b) {
  unsigned rounds = b->o->repeat > 1 ? b->o->repeat : br_swap_rounds; /* --repeat N: N rounds */
  rounds = rounds < br_swap_rounds_max ? rounds : br_swap_rounds_max;
  double rate[br_swap_rounds_max], peer[BR_NPEERS][br_swap_rounds_max];
  double ratio[BR_NPEERS][br_swap_rounds_max];
  br_out_t r = {0};
  for (unsigned k = 0; k < rounds; k++) {
    if (r.h)
      b->im->host_destroy(r.h);
    r = (br_out_t){0};
    double s[BR_NPEERS];
    if (br_swap_round(b, &r, s)) {
      if (r.h)
        b->im->host_destroy(r.h);
      return 1;
    }
    double mb = (double)r.swapped * MMC_PAGE_SIZE / BR_MIB;
    rate[k] = mb / r.secs;
    for (int i = 0; i < BR_NPEERS; i++) {
      peer[i][k] = mb / s[i];
      ratio[i][k] = rate[k] / peer[i][k];
    }
  }
  fprintf(b->o->out,
          "  swap-out: %llu pages (%.1f MB) per reclaim period; median of %u rounds, each "
          "followed by its peers\n",
          (unsigned long long)r.swapped, (double)r.swapped * MMC_PAGE_SIZE / BR_MIB, rounds);
  double lo = ratio[BR_RAW][0], hi = lo;
  for (unsigned k = 1; k < rounds; k++) {
    lo = ratio[BR_RAW][k] < lo ? ratio[BR_RAW][k] : lo;
    hi = ratio[BR_RAW][k] > hi ? ratio[BR_RAW][k] : hi;
  }
  /* Medians shown; every round recorded as a sample (compare tests them). */
  for (int i = 0; i < BR_NPEERS; i++)
    bu_row_rounds(b->o->out, "swap-out (reclaim period)", rate, "MB/s", br_peer[i].label, peer[i],
                  rounds, rounds, br_peer[i].target, false);
  fprintf(b->o->out, "  swap-out / raw sequential pwrite per round: %.3f..%.3f\n", lo, hi);
  double p50 = 0, p99 = 0, r50 = 0, r99 = 0;
  int rc = br_swapin(b, &r, &p50, &p99, &r50, &r99);
  if (rc == 0) {
    bu_row(b->o->out, "swap-in latency p50", p50, "us", "raw 4 KB random pread p50", r50, r50 / p50,
           "(info)");
    bu_row(b->o->out, "swap-in latency p99", p99, "us", "raw 4 KB random pread p99", r99, r99 / p99,
           "(info)");
  }
  b->im->host_destroy(r.h);
  return rc;
}

/* ---------------------------------------------------------------- pressure */

/* A guest with a balloon driver (60 % free memory, all touched at boot) on
 * its own live threads. */
static int br_guest(br_t *b, mmc_host_t *h, uint64_t pages, uint64_t seed, wl_vm_t **vm,
                    wl_live_t **live) {
  wl_guest_cfg_t g = WL_GUEST_FREE_MEMORY;
  g.driver = true;
  g.writes_per_step = 4;
  g.reads_per_step = 4;
  mmc_vm_config_t c;
  mmc_vm_config_init(&c);
  c.memory_bytes = pages * MMC_PAGE_SIZE;
  mmc_error_t err = {0};
  wl_live_cfg_t lc = {0};
  if (wl_vm_boot(vm, b->im, h, &c, seed, &wl_guest_ops, &g, &err) ||
      wl_live_start(live, vm, 1, &lc, &err))
    return br_fail(b, "guest", &err);
  return 0;
}

static uint32_t br_state(br_t *b, mmc_host_t *h) {
  mmc_host_stats_t s;
  b->im->host_stats(h, &s, NULL);
  return s.mem_state;
}

/* Wait until `want(state)`; returns the time or 0 at the deadline. */
static uint64_t br_wait_state(br_t *b, mmc_host_t *h, bool high, uint64_t deadline) {
  while (bu_now_ns() < deadline) {
    if ((br_state(b, h) == MMC_STATE_HIGH) == high)
      return bu_now_ns();
    sched_yield();
  }
  return 0;
}

static int br_pressure(br_t *b) {
  mmc_host_t *h = NULL;
  if (br_host(b, MMC_CLOCK_LIVE, NULL, 0, &h))
    return 1;
  uint64_t min_free = 0, cap = br_free(b, h, &min_free);
  wl_vm_t *a = NULL, *c = NULL;
  wl_live_t *la = NULL, *lc = NULL;
  uint64_t deadline = bu_now_ns() + br_pressure_deadline_s * BR_TICK_NS, t0 = 0, t_low = 0;
  uint64_t t_high = 0;
  /* A fills the host to its high level (400 % of minFree + margin free). */
  int rc = br_guest(b, h, cap - 5 * min_free, 1, &a, &la);
  while (rc == 0 && !wl_guest_booted(a) && bu_now_ns() < deadline)
    sched_yield();
  if (rc == 0 && br_wait_state(b, h, true, deadline)) {
    t0 = bu_now_ns(); /* the pressure event: a new VM of half the host */
    rc = br_guest(b, h, cap / 2, 2, &c, &lc);
    t_low = rc ? 0 : br_wait_state(b, h, false, deadline);
    t_high = t_low ? br_wait_state(b, h, true, deadline) : 0;
  }
  mmc_error_t err = {0};
  if (la) {
    wl_live_stop(la);
    wl_live_join(la, &err);
  }
  if (lc) {
    wl_live_stop(lc);
    wl_live_join(lc, &err);
  }
  if (a)
    wl_vm_destroy(a);
  if (c)
    wl_vm_destroy(c);
  b->im->host_destroy(h);
  if (rc)
    return rc;
  if (!t_high)
    return br_fail(b, "the host did not leave and return to the high state in time", NULL);
  bu_row(b->o->out, "pressure -> back to high (new VM)", (double)(t_high - t0) / 1e6, "ms",
         "of which until it left high", (double)(t_low - t0) / 1e6,
         (double)(t_low - t0) / (double)(t_high - t0), "(info)");
  return 0;
}

/* ---------------------------------------------------------------- a live implementation
 * The Linux implementation reclaims on its own thread (no advance() to time)
 * and without memory states: its swap-out is MADV_PAGEOUT of what a host
 * holds above its memory. So: a host capped to bench_host_mib, compression
 * off (Mem.MemZipEnable=0: pages go to the swap file), a VM of 1.5 x that,
 * written; the swap-out rate is the pages of its MMC_EV_SWAP_OUT events
 * over the time the implementation says its page-outs took ("us=N"), beside
 * the same peers as the reference's swap-out. Swap-in: the first access to a
 * page pagemap shows swapped (root), timed, beside raw 4 KB random preads of
 * the VM's swap file. Balloon as the reference's; compression and the
 * memory-state pressure are not measured (compressed pages are not
 * observable, there are no states): the rows say so. */
enum { br_live_rounds = 3, br_live_deadline_s = 60 };

static uint64_t pagemap_entry(const void *p) {
  static int fd = -1;
  if (fd < 0)
    fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  uint64_t e = 0;
  if (fd < 0 || pread(fd, &e, 8, (off_t)((uintptr_t)p / MMC_PAGE_SIZE * 8)) != 8)
    return 0;
  return e;
}
#define BR_PM_SWAPPED(e) ((e) >> 62 & 1)

typedef struct br_live_out {
  uint64_t pages, us; /* swapped out, and the page-outs' own time */
  uint64_t written;
  char error[32]; /* the first MMC_EV_ERROR's reason */
} br_live_out_t;

static void br_live_events(br_t *b, mmc_host_t *h, uint64_t *cursor, br_live_out_t *r) {
  mmc_event_t ev[256];
  size_t n;
  while ((n = b->im->events_read(h, cursor, ev, 256)) > 0)
    for (size_t i = 0; i < n; i++) {
      const char *us = strstr(ev[i].reason, "us=");
      unsigned long long t = 0;
      if (ev[i].type == MMC_EV_ERROR && !r->error[0])
        memcpy(r->error, ev[i].reason, sizeof r->error);
      if (ev[i].type != MMC_EV_SWAP_OUT || !us || sscanf(us, "us=%llu", &t) != 1)
        continue;
      r->pages += ev[i].count;
      r->us += t;
    }
}

/* One round: a fresh host, its VM written, until the excess is out. The
 * host stays in *hp and the VM in *vm for the swap-in part. */
static int br_live_round(br_t *b, br_live_out_t *r, mmc_host_t **hp, mmc_vm_id_t *vm) {
  const mmc_impl_t *im = b->im;
  if (br_host(b, MMC_CLOCK_LIVE, NULL, 0, hp))
    return 1;
  mmc_error_t err = {0};
  im->setting_set(*hp, "Mem.MemZipEnable", 0, &err);
  uint64_t cap = br_free(b, *hp, NULL), cursor = 0;
  memset(r, 0, sizeof *r);
  mmc_vm_config_t c;
  mmc_vm_config_init(&c);
  c.memory_bytes = (cap + cap / 2) * MMC_PAGE_SIZE;
  c.balloon_driver = false;
  mmc_vcpu_t *v = NULL;
  if (im->vm_power_on(*hp, &c, vm, &err) || im->vcpu_enter(*hp, *vm, 0, &v, &err))
    return br_fail(b, "power on", &err);
  for (; r->written < cap + cap / 2; r->written++) { /* every page, incompressible */
    uint8_t *p = im->page(v, r->written, true, &err);
    if (!p) {
      im->vcpu_exit(v);
      return br_fail(b, "write", &err);
    }
    br_fill(p, r->written, false);
  }
  im->vcpu_exit(v);
  uint64_t want = (r->written - cap) * 9 / 10,
           deadline = bu_now_ns() + br_live_deadline_s * BR_TICK_NS;
  while (r->pages < want && bu_now_ns() < deadline) {
    br_live_events(b, *hp, &cursor, r);
    struct timespec ts = {0, 10000000}; /* polling the event stream, not synchronising */
    nanosleep(&ts, NULL);
  }
  if (r->pages < want || !r->us) {
    fprintf(b->o->err,
            "mmcert bench reclaim: swap-out: %llu of %llu pages paged out in %d s (MMC_EV_SWAP_OUT "
            "with its time)%s%s\n",
            (unsigned long long)r->pages, (unsigned long long)want, br_live_deadline_s,
            r->error[0] ? "; the implementation reported: " : "", r->error);
    return 1;
  }
  return 0;
}

/* First accesses to swapped pages, timed; and raw preads of the swap file. */
static int br_live_swapin(br_t *b, mmc_host_t *h, mmc_vm_id_t vm, uint64_t written,
                          uint64_t swapped, double *p50, double *p99, double *r50, double *r99) {
  const mmc_impl_t *im = b->im;
  mmc_vcpu_t *v = NULL;
  mmc_error_t err = {0};
  double *lat = calloc(br_lat_samples, sizeof *lat), *raw = calloc(br_lat_samples, sizeof *raw);
  int fd = br_swap_file(b);
  if (!lat || !raw || fd < 0 || im->vcpu_enter(h, vm, 0, &v, &err)) {
    free(lat);
    free(raw);
    if (fd >= 0)
      close(fd);
    return br_fail(b, "swap-in setup", &err);
  }
  uint64_t x = 12345;
  size_t n = 0;
  for (size_t tries = 0; n < br_lat_samples && tries < 64 * br_lat_samples; tries++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const volatile uint8_t *p = im->page(v, (x >> 11) % written, false, &err);
    if (!p || !BR_PM_SWAPPED(pagemap_entry((const void *)p)))
      continue; /* resident: not a swap-in */
    uint64_t t0 = bu_now_ns();
    (void)p[0]; /* the hardware's fault brings the page back */
    lat[n++] = (double)(bu_now_ns() - t0);
  }
  im->vcpu_exit(v);
  br_pread_peer(fd, x, 1, swapped, raw);
  close(fd);
  br_latency_percentiles(lat, n, raw, p50, p99, r50, r99);
  free(lat);
  free(raw);
  return n ? 0
           : br_fail(b, "no swapped page was found by pagemap (root is needed to see it)", NULL);
}

static int br_live_swap(br_t *b) {
  double rate[br_live_rounds], peer[br_live_rounds], ratio[br_live_rounds];
  br_live_out_t r = {0};
  mmc_host_t *h = NULL;
  mmc_vm_id_t vm = 0;
  for (unsigned k = 0; k < br_live_rounds; k++) {
    if (h)
      b->im->host_destroy(h);
    h = NULL;
    if (br_live_round(b, &r, &h, &vm)) {
      if (h)
        b->im->host_destroy(h);
      return 1;
    }
    double mb = (double)r.pages * MMC_PAGE_SIZE / BR_MIB;
    double raw = br_raw_write(b, r.pages * MMC_PAGE_SIZE, true);
    rate[k] = mb / ((double)r.us / 1e6);
    peer[k] = raw > 0 ? mb / raw : 0;
    ratio[k] = peer[k] > 0 ? rate[k] / peer[k] : 0;
  }
  fprintf(b->o->out,
          "  swap-out: MADV_PAGEOUT of what the host holds above its memory (%llu pages, %.1f "
          "MB, compression off), timed by the implementation's page-outs; median of %d "
          "rounds\n",
          (unsigned long long)r.pages, (double)r.pages * MMC_PAGE_SIZE / BR_MIB, br_live_rounds);
  bu_row(b->o->out, "swap-out (MADV_PAGEOUT)", suite_stats_median(rate, br_live_rounds), "MB/s",
         br_peer[BR_RAW].label, suite_stats_median(peer, br_live_rounds),
         suite_stats_median(ratio, br_live_rounds), "(info)");
  double p50 = 0, p99 = 0, r50 = 0, r99 = 0;
  int rc = br_live_swapin(b, h, vm, r.written, r.pages, &p50, &p99, &r50, &r99);
  if (rc == 0) {
    bu_row(b->o->out, "swap-in latency p50 (first access)", p50, "us", "raw 4 KB random pread p50",
           r50, r50 / p50, "(info)");
    bu_row(b->o->out, "swap-in latency p99 (first access)", p99, "us", "raw 4 KB random pread p99",
           r99, r99 / p99, "(info)");
  }
  b->im->host_destroy(h);
  return rc;
}

static int br_live(br_t *b) {
  fprintf(b->o->out,
          "  compression: not measured (%s: compressed pages are not observable "
          "per VM, MMC_VMSTAT_COMPRESSED)\n",
          b->im->name);
  fprintf(b->o->out, "  pressure -> back to high: not measured (%s has no memory states: %s)\n",
          b->im->name,
          b->im->why_not && b->im->why_not(MMC_CAP_MEMSTATE) ? b->im->why_not(MMC_CAP_MEMSTATE)
                                                             : "MMC_CAP_MEMSTATE clear");
  return br_balloon(b) | br_live_swap(b);
}

int suite_bench_reclaim(const suite_bench_opts_t *o) {
  suite_impl_t si;
  if (bu_load_impl(o, &si))
    return 1;
  br_t b = {.o = o, .im = si.impl};
  int failed = 1;
  snprintf(b.dir, sizeof b.dir, "%s/mmcert-bench-swap-XXXXXX", mmc_tmpdir());
  if (!mkdtemp(b.dir)) {
    fprintf(o->err,
            "mmcert bench reclaim: cannot make a directory in %s ($TMPDIR, else /tmp): %s\n",
            mmc_tmpdir(), strerror(errno));
    goto out;
  }
  mmc_error_t err = {0};
  if (bu_load_topology(o, NULL, &b.topo))
    goto out_dir;
  uint64_t total = 0;
  for (uint32_t n = 0; n < b.topo->desc.nnodes; n++)
    total += b.topo->desc.nodes[n].memory_bytes;
  if (total > bench_host_mib * BR_MIB && mmt_cap_memory(b.topo, bench_host_mib * BR_MIB, &err)) {
    fprintf(o->err, "mmcert bench reclaim: capping memory: %s\n", err.msg);
    goto out_topo;
  }
  uint64_t live_need = MMC_CAP_BALLOON | MMC_CAP_SWAP | MMC_CAP_CLOCK_LIVE;
  if (!(b.im->capabilities & MMC_CAP_CLOCK_STEPPED) &&
      (b.im->capabilities & live_need) == live_need) {
    fprintf(o->out, "  %s %s, live clock, host capped to %d MiB, swap directory %s\n", b.im->name,
            b.im->version, bench_host_mib, b.dir);
    bu_header(o->out);
    failed = br_live(&b);
    goto out_topo;
  }
  uint64_t need = MMC_CAP_BALLOON | MMC_CAP_SWAP | MMC_CAP_COMPRESSION | MMC_CAP_MEMSTATE;
  if ((b.im->capabilities & need) != need) {
    fprintf(o->err, "mmcert bench reclaim: %s lacks balloon/swap/compression/memstate\n",
            b.im->name);
    goto out_topo;
  }
  fprintf(o->out, "  %s %s, host capped to %d MiB, swap directory %s\n", b.im->name, b.im->version,
          bench_host_mib, b.dir);
  bu_header(o->out);
  failed = br_balloon(&b) | br_zip(&b) | br_swap(&b) | br_pressure(&b);
out_topo:
  mmt_free(b.topo);
out_dir:
  rmdir(b.dir);
out:
  suite_impl_unload(&si);
  return failed;
}
