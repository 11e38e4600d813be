/*
 * qualify_measure.c — the measurements of `mmcert qualify` declared in
 * qualify.h: node-bound buffers, STREAM-like bandwidth per node
 * pair, move_pages(2) migration throughput, virtual-machine detection, the
 * LLC size and Spearman's rank correlation. The latency matrix itself is
 * common/topology_measure.c's pointer chase (mmt_measure_distances).
 *
 * Invariants: every buffer is unmapped before returning; the bandwidth
 * threads are pinned to the source node's CPUs, the caller's own affinity
 * is untouched; a buffer whose pages are not on the asked node is an error,
 * never a measurement of the wrong node. Kernel calls go through syscall(2)
 * like topology_measure.c.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/mempolicy.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "qualify.h"

volatile sig_atomic_t suite_qm_stop;

#define CPUID_HV_BIT (1u << 31)   /* CPUID.1:ECX bit 31, "hypervisor present" */
#define CPUID_HV_LEAF 0x40000000u /* hypervisor vendor signature */
#define TRIAD_SCALAR 3.0          /* STREAM's q */
#define COPY_BYTES_PER_ELEM (2 * sizeof(double))
#define TRIAD_BYTES_PER_ELEM (3 * sizeof(double))

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now_s(void) {
  return clock_s(CLOCK_MONOTONIC);
}

/* ------------------------------------------------------------ machine */

static size_t parse_cache_size(const char *text) {
  char *end;
  unsigned long long v = strtoull(text, &end, 10);
  if (*end == 'K')
    v <<= 10;
  else if (*end == 'M')
    v <<= 20;
  return (size_t)v;
}

size_t suite_qm_llc_bytes(void) {
  size_t best = 0;
  for (int i = 0; i < 16; i++) {
    char path[96], line[64];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
    FILE *f = fopen(path, "r");
    if (!f)
      break;
    if (fgets(line, sizeof line, f)) {
      size_t v = parse_cache_size(line);
      best = v > best ? v : best;
    }
    fclose(f);
  }
  return best;
}

static void read_line(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "r");
  buf[0] = '\0';
  if (!f)
    return;
  if (fgets(buf, (int)cap, f))
    buf[strcspn(buf, "\n")] = '\0';
  fclose(f);
}

/* Names DMI gives virtual machines (sys_vendor or product_name). */
static bool dmi_says_virtual(const char *s) {
  static const char *const names[] = {"QEMU",
                                      "KVM",
                                      "VMware",
                                      "VirtualBox",
                                      "innotek",
                                      "Xen",
                                      "Microsoft Corporation Virtual",
                                      "Virtual Machine",
                                      "Bochs",
                                      "Amazon EC2",
                                      "Google Compute",
                                      "OpenStack",
                                      "BHYVE",
                                      "Parallels"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strstr(s, names[i]))
      return true;
  return false;
}

static void add_evidence(suite_qm_virt_t *v, const char *fmt, const char *arg) {
  size_t o = strlen(v->evidence);
  if (o)
    o += (size_t)snprintf(v->evidence + o, sizeof v->evidence - o, "; ");
  if (o < sizeof v->evidence)
    snprintf(v->evidence + o, sizeof v->evidence - o, fmt, arg);
}

void suite_qm_detect_virt(suite_qm_virt_t *v) {
  memset(v, 0, sizeof *v);
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  if (__get_cpuid(1, &a, &b, &c, &d) && (c & CPUID_HV_BIT)) {
    unsigned sig[3];
    __cpuid(CPUID_HV_LEAF, a, sig[0], sig[1], sig[2]);
    memcpy(v->hypervisor, sig, sizeof sig);
    v->hypervisor[sizeof sig] = '\0';
    v->is_virtual = true;
    add_evidence(v, "CPUID hypervisor bit set (vendor '%s')", v->hypervisor);
  }
#endif
  char hv[64];
  read_line("/sys/hypervisor/type", hv, sizeof hv);
  if (hv[0]) {
    v->is_virtual = true;
    add_evidence(v, "/sys/hypervisor/type is '%s'", hv);
  }
  read_line("/sys/class/dmi/id/sys_vendor", v->dmi_vendor, sizeof v->dmi_vendor);
  read_line("/sys/class/dmi/id/product_name", v->dmi_product, sizeof v->dmi_product);
  if (dmi_says_virtual(v->dmi_vendor) || dmi_says_virtual(v->dmi_product)) {
    v->is_virtual = true;
    add_evidence(v, "DMI names a virtual platform (%s)",
                 dmi_says_virtual(v->dmi_vendor) ? v->dmi_vendor : v->dmi_product);
  }
  if (!v->dmi_vendor[0] && !v->dmi_product[0])
    add_evidence(v, "%s", "no DMI tables under /sys/class/dmi/id");
}

/* ------------------------------------------------------------ buffers */

/* ------------------------------------------------------------ bandwidth */

typedef struct bw_shared {
  double *a, *b, *c;
  size_t n;
  unsigned nthreads;
  pthread_barrier_t start, end;
  volatile int op; /* 0 copy, 1 triad, -1 quit; set by the coordinator before `start` */
  /* Gate opened once every thread exists: 1 go, -1 give up (a thread could
   * not be created, so the barriers would never fill). */
  pthread_mutex_t gate_lock;
  pthread_cond_t gate_cond;
  int gate;
} bw_shared_t;

typedef struct bw_thread {
  bw_shared_t *s;
  unsigned idx;
  uint32_t cpu;
  pthread_t th;
  double t0, t1; /* this pass, on the worker's own clock reads */
} bw_thread_t;

static void *bw_main(void *arg) {
  bw_thread_t *t = arg;
  bw_shared_t *s = t->s;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (t->cpu < CPU_SETSIZE)
    CPU_SET(t->cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  size_t lo = s->n * t->idx / s->nthreads, hi = s->n * (t->idx + 1) / s->nthreads;
  double *restrict a = s->a, *restrict b = s->b, *restrict c = s->c;
  pthread_mutex_lock(&s->gate_lock);
  while (!s->gate)
    pthread_cond_wait(&s->gate_cond, &s->gate_lock);
  int gate = s->gate;
  pthread_mutex_unlock(&s->gate_lock);
  if (gate < 0)
    return NULL;
  for (;;) {
    pthread_barrier_wait(&s->start);
    int op = s->op;
    if (op < 0)
      return NULL;
    t->t0 = now_s();
    if (op == 0)
      for (size_t i = lo; i < hi; i++)
        c[i] = a[i];
    else
      for (size_t i = lo; i < hi; i++)
        a[i] = b[i] + TRIAD_SCALAR * c[i];
    t->t1 = now_s();
    pthread_barrier_wait(&s->end);
  }
}

/* One timed pass of `op` over every thread's slice: from the first worker's
 * start to the last one's end, read by the workers themselves (the
 * coordinator may wake late from a barrier when every CPU is busy). */
static double bw_pass(bw_shared_t *s, bw_thread_t *th, int op) {
  s->op = op;
  pthread_barrier_wait(&s->start);
  pthread_barrier_wait(&s->end);
  double t0 = th[0].t0, t1 = th[0].t1;
  for (unsigned i = 1; i < s->nthreads; i++) {
    t0 = th[i].t0 < t0 ? th[i].t0 : t0;
    t1 = th[i].t1 > t1 ? th[i].t1 : t1;
  }
  return t1 - t0;
}

static int bw_bind_arrays(bw_shared_t *s, uint32_t os_node, size_t bytes, mmc_error_t *err) {
  double **arr[3] = {&s->a, &s->b, &s->c};
  for (int k = 0; k < 3; k++) {
    void *p = NULL;
    int rc = mmt_bind_buffer(&p, bytes, os_node, err);
    if (rc)
      return rc;
    *arr[k] = p;
  }
  for (size_t i = 0; i < s->n; i++) { /* STREAM's initial values */
    s->a[i] = 1.0;
    s->b[i] = 2.0;
    s->c[i] = 0.0;
  }
  return MMC_OK;
}

static void bw_unmap(bw_shared_t *s, size_t bytes) {
  if (s->a)
    munmap(s->a, bytes);
  if (s->b)
    munmap(s->b, bytes);
  if (s->c)
    munmap(s->c, bytes);
}

int suite_qm_bandwidth(const mmc_node_t *src, const mmc_node_t *dst, size_t array_bytes,
                       unsigned reps, double *copy_gbs, double *triad_gbs, mmc_error_t *err) {
  *copy_gbs = *triad_gbs = 0;
  if (src->ncpus == 0 || dst->memory_bytes == 0)
    return mmc_fail(err, MMC_EINVAL, "node pair %u -> %u: no CPUs or no memory", src->os_index,
                    dst->os_index);
  bw_shared_t s = {.n = array_bytes / sizeof(double), .nthreads = src->ncpus};
  int rc = bw_bind_arrays(&s, dst->os_index, array_bytes, err);
  bw_thread_t *th = rc ? NULL : calloc(src->ncpus, sizeof *th);
  if (!rc && !th)
    rc = mmc_fail(err, MMC_ENOMEM, "out of memory");
  if (rc) {
    bw_unmap(&s, array_bytes);
    return rc;
  }
  pthread_barrier_init(&s.start, NULL, s.nthreads + 1);
  pthread_barrier_init(&s.end, NULL, s.nthreads + 1);
  pthread_mutex_init(&s.gate_lock, NULL);
  pthread_cond_init(&s.gate_cond, NULL);
  unsigned started = 0;
  for (; started < s.nthreads; started++) {
    th[started] = (bw_thread_t){.s = &s, .idx = started, .cpu = src->cpus[started]};
    int e = pthread_create(&th[started].th, NULL, bw_main, &th[started]);
    if (e) {
      rc = mmc_fail(err, MMC_ENOMEM, "pthread_create: %s", strerror(e));
      break;
    }
  }
  pthread_mutex_lock(&s.gate_lock);
  s.gate = rc ? -1 : 1;
  pthread_cond_broadcast(&s.gate_cond);
  pthread_mutex_unlock(&s.gate_lock);
  if (!rc) {
    double best_copy = 0, best_triad = 0;
    bw_pass(&s, th, 0); /* warm-up: TLB and page tables */
    for (unsigned r = 0; r < reps && !suite_qm_stop; r++) {
      double tc = bw_pass(&s, th, 0), tt = bw_pass(&s, th, 1);
      best_copy = (r == 0 || tc < best_copy) ? tc : best_copy;
      best_triad = (r == 0 || tt < best_triad) ? tt : best_triad;
    }
    if (best_copy > 0)
      *copy_gbs = (double)(s.n * COPY_BYTES_PER_ELEM) / best_copy * 1e-9;
    if (best_triad > 0)
      *triad_gbs = (double)(s.n * TRIAD_BYTES_PER_ELEM) / best_triad * 1e-9;
    s.op = -1;
    pthread_barrier_wait(&s.start);
  }
  for (unsigned i = 0; i < started; i++)
    pthread_join(th[i].th, NULL);
  pthread_mutex_destroy(&s.gate_lock);
  pthread_cond_destroy(&s.gate_cond);
  pthread_barrier_destroy(&s.start);
  pthread_barrier_destroy(&s.end);
  free(th);
  bw_unmap(&s, array_bytes);
  return rc;
}

/* ------------------------------------------------------------ migration */

int suite_qm_migrate(uint32_t from, uint32_t to, size_t bytes, suite_qm_migration_t *m,
                     mmc_error_t *err) {
  memset(m, 0, sizeof *m);
  void *buf = NULL;
  int rc = mmt_bind_buffer(&buf, bytes, from, err);
  if (rc)
    return rc;
  long page = sysconf(_SC_PAGESIZE);
  size_t n = bytes / (size_t)page;
  void **pages = malloc(n * sizeof *pages);
  int *nodes = malloc(n * sizeof *nodes), *status = malloc(n * sizeof *status);
  if (!pages || !nodes || !status) {
    rc = mmc_fail(err, MMC_ENOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    pages[i] = (char *)buf + i * (size_t)page;
    nodes[i] = (int)to;
    status[i] = INT32_MIN;
  }
  m->pages = n;
  size_t left = n;
  for (unsigned call = 0; call < SUITE_QM_MOVE_TRIES && left; call++) {
    double t0 = now_s(), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    long r = syscall(SYS_move_pages, 0, left, pages, nodes, status, MPOL_MF_MOVE);
    m->cpu_seconds += clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    m->seconds += now_s() - t0;
    m->calls++;
    if (r < 0) {
      rc = mmc_fail(err, errno == EPERM || errno == ENOSYS ? MMC_ENOTSUP : MMC_EIO,
                    "move_pages %" PRIu32 " -> %" PRIu32 ": %s", from, to, strerror(errno));
      goto out;
    }
    /* Keep only the busy pages for another call (compacting in place). */
    size_t busy = 0;
    m->first_bad_status = 0;
    for (size_t i = 0; i < left; i++) {
      if (status[i] == (int)to) {
        m->moved++;
      } else if (status[i] == -EBUSY || status[i] == -EAGAIN) {
        pages[busy++] = pages[i];
        m->first_bad_status = m->first_bad_status ? m->first_bad_status : status[i];
      } else if (!m->first_bad_status) {
        m->first_bad_status = status[i] < 0 ? status[i] : -EFAULT;
      }
    }
    left = busy;
  }
  if (m->seconds > 0)
    m->gbs = (double)(m->moved * (uint64_t)page) / m->seconds * 1e-9;
out:
  free(pages);
  free(nodes);
  free(status);
  munmap(buf, bytes);
  return rc;
}

/* ------------------------------------------------------------ statistics */

static int cmp_idx(const void *a, const void *b, void *ctx) {
  const double *v = ctx;
  double x = v[*(const size_t *)a], y = v[*(const size_t *)b];
  return (x > y) - (x < y);
}

/* Ranks 1..n, ties get the average of the ranks they span. */
static void ranks(const double *v, size_t n, size_t *idx, double *rank) {
  for (size_t i = 0; i < n; i++)
    idx[i] = i;
  qsort_r(idx, n, sizeof *idx, cmp_idx, (void *)v);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && v[idx[j + 1]] == v[idx[i]])
      j++;
    double avg = (double)(i + j) / 2.0 + 1.0;
    for (size_t k = i; k <= j; k++)
      rank[idx[k]] = avg;
    i = j + 1;
  }
}

double suite_qm_spearman(const double *x, const double *y, size_t n) {
  if (n < 2)
    return NAN;
  size_t *idx = malloc(n * sizeof *idx);
  double *rx = malloc(n * sizeof *rx), *ry = malloc(n * sizeof *ry);
  double rho = NAN;
  if (idx && rx && ry) {
    ranks(x, n, idx, rx);
    ranks(y, n, idx, ry);
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++)
      mx += rx[i], my += ry[i];
    mx /= (double)n;
    my /= (double)n;
    for (size_t i = 0; i < n; i++) {
      sxy += (rx[i] - mx) * (ry[i] - my);
      sxx += (rx[i] - mx) * (rx[i] - mx);
      syy += (ry[i] - my) * (ry[i] - my);
    }
    if (sxx > 0 && syy > 0)
      rho = sxy / sqrt(sxx * syy);
  }
  free(idx);
  free(rx);
  free(ry);
  return rho;
}
