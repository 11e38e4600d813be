/*
 * case_util.c — helpers shared by the conformance cases; see case_util.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "case_util.h"
#include "mmc_error.h"
#include "runner.h"

mmc_clock_mode_t cu_clock(suite_ctx_t *c) {
  return sc_clock(c);
}

mmt_topology_t *cu_topology(suite_ctx_t *c, const char *spec) {
  mmt_topology_t *t = NULL;
  mmc_error_t err = {0};
  sc_require(c, mmt_load(spec, &t, &err), &err, spec ? spec : "this machine's topology");
  return t;
}

mmt_topology_t *cu_run_topology_copy(suite_ctx_t *c) {
  /* A deep copy: the run's topology may come from a spec the case cannot
   * see (builtin:N, --host-memory), so it is not reloaded. Storage is
   * allocated as mmt_load does, so mmt_free releases it. */
  const mmt_topology_t *run = sc_topology(c);
  uint32_t nn = run->desc.nnodes, ncpus = 0;
  for (uint32_t i = 0; i < nn; i++)
    ncpus += run->desc.nodes[i].ncpus;
  mmt_topology_t *t = calloc(1, sizeof *t);
  if (t) {
    *t = *run;
    t->nodes = calloc(nn, sizeof *t->nodes);
    t->cpu_storage = calloc(ncpus ? ncpus : 1, sizeof *t->cpu_storage);
    t->distance = run->desc.distance ? calloc((size_t)nn * nn, sizeof *t->distance) : NULL;
  }
  if (!t || !t->nodes || !t->cpu_storage || (run->desc.distance && !t->distance)) {
    mmt_free(t);
    sc_broken(c, "out of memory copying the topology");
  }
  uint32_t at = 0;
  for (uint32_t i = 0; i < nn; i++) {
    t->nodes[i] = run->desc.nodes[i];
    if (run->desc.nodes[i].ncpus) /* a memory-only node's cpus may be NULL */
      memcpy(t->cpu_storage + at, run->desc.nodes[i].cpus,
             run->desc.nodes[i].ncpus * sizeof *t->cpu_storage);
    t->nodes[i].cpus = t->cpu_storage + at;
    at += run->desc.nodes[i].ncpus;
  }
  if (t->distance)
    memcpy(t->distance, run->desc.distance, (size_t)nn * nn * sizeof *t->distance);
  t->desc.nodes = t->nodes;
  t->desc.distance = t->distance;
  return t;
}

bool cu_all_real(const mmc_topology_t *t) {
  for (uint32_t i = 0; i < t->nnodes; i++)
    if (!t->nodes[i].real)
      return false;
  return true;
}

uint64_t cu_min_node_memory(const mmc_topology_t *t) {
  uint64_t m = UINT64_MAX;
  for (uint32_t i = 0; i < t->nnodes; i++)
    if (t->nodes[i].memory_bytes && t->nodes[i].ncpus && t->nodes[i].memory_bytes < m)
      m = t->nodes[i].memory_bytes;
  return m == UINT64_MAX ? 0 : m;
}

uint32_t cu_min_node_cores(const mmc_topology_t *t) {
  uint32_t m = UINT32_MAX;
  for (uint32_t i = 0; i < t->nnodes; i++) {
    uint32_t cores = t->nodes[i].ncores ? t->nodes[i].ncores : t->nodes[i].ncpus;
    if (cores && cores < m)
      m = cores;
  }
  return m == UINT32_MAX ? 1 : m;
}

uint64_t cu_total_memory(const mmc_topology_t *t) {
  uint64_t s = 0;
  for (uint32_t i = 0; i < t->nnodes; i++)
    s += t->nodes[i].memory_bytes;
  return s;
}

uint64_t cu_home_nodes(const mmc_topology_t *t) {
  uint64_t m = 0;
  for (uint32_t i = 0; i < t->nnodes && i < 64; i++)
    if (t->nodes[i].ncpus && t->nodes[i].memory_bytes)
      m |= 1ull << i;
  return m;
}

uint64_t cu_memory_only_nodes(const mmc_topology_t *t) {
  uint64_t m = 0;
  for (uint32_t i = 0; i < t->nnodes && i < 64; i++)
    if (!t->nodes[i].ncpus && t->nodes[i].memory_bytes)
      m |= 1ull << i;
  return m;
}

uint64_t cu_nodes_memory(const mmc_topology_t *t, uint64_t mask) {
  uint64_t s = 0;
  for (uint32_t i = 0; i < t->nnodes && i < 64; i++)
    if (mask >> i & 1)
      s += t->nodes[i].memory_bytes;
  return s;
}

mmc_vm_config_t cu_vm(const char *name, uint32_t vcpus, uint64_t bytes) {
  mmc_vm_config_t cfg;
  mmc_vm_config_init(&cfg);
  cfg.name = name;
  cfg.vcpus = vcpus;
  bytes -= bytes % MMC_PAGE_SIZE;
  cfg.memory_bytes = bytes ? bytes : MMC_PAGE_SIZE;
  return cfg;
}

mmc_vm_id_t cu_power_on(suite_ctx_t *c, mmc_host_t *h, const mmc_vm_config_t *cfg) {
  mmc_vm_id_t id = 0;
  mmc_error_t err = {0};
  int rc = sc_impl(c)->vm_power_on(h, cfg, &id, &err);
  if (rc == MMC_ENOTSUP)
    cu_enotsup_verdict(c, cfg, &err, "vm_power_on");
  sc_require(c, rc, &err, cfg->name ? cfg->name : "vm_power_on");
  return id;
}

void cu_reconfigure(suite_ctx_t *c, mmc_host_t *h, mmc_vm_id_t vm, const mmc_vm_config_t *cfg,
                    const char *what) {
  mmc_error_t err = {0};
  int rc = sc_impl(c)->vm_reconfigure(h, vm, cfg, &err);
  if (rc == MMC_ENOTSUP)
    cu_enotsup_verdict(c, cfg, &err, "vm_reconfigure");
  sc_require(c, rc, &err, what);
}

/* ---------------------------------------------------------------- not shown */

void cu_not_shown(suite_ctx_t *c, const char *fmt, ...) {
  char why[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  sc_not_shown(c, "%s", why);
}

const char *cu_cap_reason(suite_ctx_t *c, uint64_t cap, char *buf, size_t len) {
  const mmc_impl_t *im = sc_impl(c);
  const char *name = suite_cap_name(cap), *why = im->why_not ? im->why_not(cap) : NULL;
  snprintf(buf, len, "MMC_CAP_%s%s%s", name ? name : "(unknown)", why ? ": " : "", why ? why : "");
  return buf;
}

void cu_enotsup_verdict(suite_ctx_t *c, const mmc_vm_config_t *cfg, const mmc_error_t *err,
                        const char *what) {
  uint64_t caps = sc_impl(c)->capabilities, clear = 0;
  if (cfg->salt && !(caps & MMC_CAP_SALTING))
    clear = MMC_CAP_SALTING;
  else if (cfg->node_affinity && !(caps & MMC_CAP_NODE_AFFINITY))
    clear = MMC_CAP_NODE_AFFINITY;
  if (clear) {
    char reason[320];
    sc_skip(c, "the case needs %s (%s refused a VM asking for it: %s)",
            cu_cap_reason(c, clear, reason, sizeof reason), what, err->msg);
  }
  sc_broken(c,
            "%s answered MMC_ENOTSUP for a VM that asks for no mechanism whose capability flag "
            "is clear (impl.h: powering on and reconfiguring VMs must work in every "
            "implementation): %s",
            what, err->msg);
}

mmc_vm_stats_t cu_vm_stats(suite_ctx_t *c, mmc_host_t *h, mmc_vm_id_t vm) {
  mmc_vm_stats_t s;
  memset(&s, 0, sizeof s);
  mmc_error_t err = {0};
  sc_require(c, sc_impl(c)->vm_stats(h, vm, &s, &err), &err, "vm_stats");
  return s;
}

mmc_host_stats_t cu_host_stats(suite_ctx_t *c, mmc_host_t *h) {
  mmc_host_stats_t s;
  memset(&s, 0, sizeof s);
  mmc_error_t err = {0};
  sc_require(c, sc_impl(c)->host_stats(h, &s, &err), &err, "host_stats");
  return s;
}

void *cu_page(const mmc_impl_t *im, mmc_vcpu_t *v, uint64_t gpfn, bool write, mmc_error_t *err) {
  for (;;) {
    err->code = 0;
    err->msg[0] = '\0';
    void *p = im->page(v, gpfn, write, err);
    if (!p && !err->msg[0]) /* the contract wants a message: say what we saw instead */
      mmc_fail(err, err->code ? err->code : MMC_EIO,
               "page(gpfn %llu, %s) returned NULL without an error message (error code %s)",
               (unsigned long long)gpfn, write ? "write" : "read",
               err->code ? mmc_status_name(err->code) : "not set either");
    if (p || err->code != MMC_ERETRY)
      return p;
    im->quiesce(v);
  }
}

void cu_locator_init(suite_ctx_t *c, cu_locator_t *l, const mmc_topology_t *topo) {
  memset(l, 0, sizeof *l);
  l->topo = topo;
  bool maps = sc_impl(c)->capabilities & MMC_CAP_NODE_MAPPINGS;
  if (cu_all_real(topo))
    l->by = CU_BY_MOVE_PAGES;
  else if (maps)
    l->by = CU_BY_MAPS;
  else
    sc_skip(c, "pages on emulated nodes can be attributed only through node mappings: "
               "the implementation lacks MMC_CAP_NODE_MAPPINGS");
  if (l->by == CU_BY_MAPS)
    cu_locator_refresh(c, l);
}

void cu_locator_refresh(suite_ctx_t *c, cu_locator_t *l) {
  if (l->by != CU_BY_MAPS)
    return;
  mmc_error_t err = {0};
  probe_maps_free(&l->maps);
  sc_require(c, probe_maps_load(&l->maps, NULL, &err), &err, "reading /proc/self/maps");
}

void cu_locator_free(cu_locator_t *l) {
  probe_maps_free(&l->maps);
}

const char *cu_locator_name(const cu_locator_t *l) {
  return l->by == CU_BY_MAPS ? "/proc/self/maps" : "move_pages";
}

static bool locate_pass(cu_locator_t *l, void *const *pages, size_t n, int *node) {
  bool all = true;
  for (size_t i = 0; i < n; i++) {
    node[i] = probe_node_index(l->topo, probe_maps_os_node(&l->maps, pages[i]));
    all = all && node[i] >= 0;
  }
  return all;
}

int cu_locate_snapshot(const cu_locator_t *l, void *const *pages, size_t n, int *node,
                       mmc_error_t *err) {
  if (l->by == CU_BY_MOVE_PAGES) {
    int rc = probe_move_pages_query(pages, n, node, err);
    for (size_t i = 0; rc == 0 && i < n; i++) /* a status (-errno) stays: callers may name it */
      node[i] = node[i] < 0 ? node[i] : probe_node_index(l->topo, node[i]);
    return rc;
  }
  for (size_t i = 0; i < n; i++)
    node[i] = probe_node_index(l->topo, probe_maps_os_node(&l->maps, pages[i]));
  return 0;
}

void cu_locate(suite_ctx_t *c, cu_locator_t *l, void *const *pages, size_t n, int *node) {
  if (l->by == CU_BY_MOVE_PAGES) {
    mmc_error_t err = {0};
    sc_require(c, cu_locate_snapshot(l, pages, n, node, &err), &err, "move_pages query");
    return;
  }
  if (!locate_pass(l, pages, n, node)) {
    cu_locator_refresh(c, l);
    locate_pass(l, pages, n, node);
  }
}

int64_t cu_pages_off(suite_ctx_t *c, cu_locator_t *l, mmc_vcpu_t *v, uint64_t first, uint64_t n,
                     uint32_t node) {
  const mmc_impl_t *im = sc_impl(c);
  void **ptrs = calloc(n ? n : 1, sizeof *ptrs);
  int *where = calloc(n ? n : 1, sizeof *where);
  if (!ptrs || !where)
    sc_broken(c, "out of memory for page pointers");
  mmc_error_t err = {0};
  for (uint64_t i = 0; i < n; i++)
    if (!(ptrs[i] = cu_page(im, v, first + i, false, &err)))
      sc_broken(c, "page %llu: %s", (unsigned long long)(first + i), err.msg);
  cu_locate(c, l, ptrs, n, where); /* pointers valid: not quiesced yet */
  im->quiesce(v);
  int64_t off = 0;
  bool unknown = false;
  for (uint64_t i = 0; i < n; i++) {
    unknown |= where[i] < 0;
    off += where[i] != (int)node;
  }
  free(ptrs);
  free(where);
  return unknown ? -1 : off;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double cu_percentile(double *v, size_t n, double p) {
  if (n == 0)
    return 0;
  qsort(v, n, sizeof *v, cmp_double);
  /* Nearest rank: the smallest value with at least p% of values <= it. */
  size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
  if (rank < 1)
    rank = 1;
  if (rank > n)
    rank = n;
  return v[rank - 1];
}

uint64_t cu_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void cu_sleep_until_ns(uint64_t t) {
  struct timespec ts = {(time_t)(t / 1000000000ull), (long)(t % 1000000000ull)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
    ;
}

uint64_t cu_rand(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

typedef struct touch_job {
  const mmc_impl_t *im;
  mmc_host_t *h;
  const mmc_topology_t *topo;
  mmc_vm_id_t vm;
  uint32_t index, stride;
  uint64_t npages, fill;
  const uint64_t *list; /* when not NULL: touch list[0..nlist) instead */
  size_t nlist;
  bool write;
  void **ptrs;
  cu_vcpu_run_t out;
  mmc_error_t err;
  const char *what; /* the failing step, NULL on success */
} touch_job_t;

static bool page_is_zero(const unsigned char *p) {
  for (size_t i = 0; i < MMC_PAGE_SIZE; i++)
    if (p[i])
      return false;
  return true;
}

/* The k-th page a job touches; UINT64_MAX past the last. */
static uint64_t job_gpfn(const touch_job_t *j, uint64_t k) {
  if (j->list)
    return k < j->nlist ? j->list[k] : UINT64_MAX;
  uint64_t g = j->index % j->stride + k * j->stride;
  return g < j->npages ? g : UINT64_MAX;
}

/* Quiesce this often so a long walk does not pin every frame at once. */
enum { cu_quiesce_every = 256 };

static void *touch_thread(void *arg) {
  touch_job_t *j = arg;
  mmc_vcpu_t *v = NULL;
  if (j->im->vcpu_enter(j->h, j->vm, j->index, &v, &j->err) != 0) {
    j->what = "vcpu_enter";
    return NULL;
  }
  if (probe_thread_affinity(j->topo, 0, &j->out.affinity, &j->err) != 0) {
    j->what = "probe affinity";
    j->im->vcpu_exit(v);
    return NULL;
  }
  /* Without placement and affinity a vCPU has no node to report (impl.h). */
  bool nodeless = !(j->im->capabilities & (MMC_CAP_PLACEMENT | MMC_CAP_NODE_AFFINITY));
  int rc = j->im->vcpu_info(j->h, j->vm, j->index, &j->out.info, &j->err);
  if (rc == MMC_ENOTSUP && nodeless) {
    j->out.info = (mmc_vcpu_info_t){.node = UINT32_MAX};
  } else if (rc != 0) {
    j->what = "vcpu_info";
    j->im->vcpu_exit(v);
    return NULL;
  }
  uint64_t n = 0, g;
  for (uint64_t k = 0; (g = job_gpfn(j, k)) != UINT64_MAX; k++) {
    unsigned char *p = cu_page(j->im, v, g, j->write, &j->err);
    if (!p) {
      j->what = "page";
      break;
    }
    if (!page_is_zero(p))
      j->out.nonzero_pages++;
    if (j->write) {
      /* The whole page, never zero, so a frame reused unzeroed shows. */
      uint64_t word[2] = {j->fill, g};
      memset(p, (int)((j->fill & 0x7f) | 0x80), MMC_PAGE_SIZE);
      memcpy(p, word, sizeof word);
    }
    if (j->ptrs)
      j->ptrs[j->list ? k : g] = p;
    j->out.pages++;
    if (++n % cu_quiesce_every == 0)
      j->im->quiesce(v);
  }
  j->im->vcpu_exit(v);
  return NULL;
}

static void run_touch(suite_ctx_t *c, touch_job_t *jp, cu_vcpu_run_t *out);

void cu_vcpu_touch(suite_ctx_t *c, mmc_host_t *h, const mmc_topology_t *topo, mmc_vm_id_t vm,
                   uint32_t index, uint32_t stride, uint64_t npages, bool write, uint64_t fill,
                   void **ptrs, cu_vcpu_run_t *out) {
  touch_job_t j = {.im = sc_impl(c),
                   .h = h,
                   .topo = topo,
                   .vm = vm,
                   .index = index,
                   .stride = stride ? stride : 1,
                   .npages = npages,
                   .fill = fill,
                   .write = write,
                   .ptrs = ptrs};
  run_touch(c, &j, out);
}

void cu_vcpu_touch_list(suite_ctx_t *c, mmc_host_t *h, const mmc_topology_t *topo, mmc_vm_id_t vm,
                        uint32_t index, const uint64_t *gpfns, size_t n, bool write, uint64_t fill,
                        void **ptrs, cu_vcpu_run_t *out) {
  touch_job_t j = {.im = sc_impl(c),
                   .h = h,
                   .topo = topo,
                   .vm = vm,
                   .index = index,
                   .stride = 1,
                   .list = gpfns,
                   .nlist = n,
                   .fill = fill,
                   .write = write,
                   .ptrs = ptrs};
  run_touch(c, &j, out);
}

static void run_touch(suite_ctx_t *c, touch_job_t *jp, cu_vcpu_run_t *out) {
  touch_job_t j = *jp;
  mmc_vm_id_t vm = j.vm;
  uint32_t index = j.index;
  pthread_t t;
  int rc = pthread_create(&t, NULL, touch_thread, &j);
  if (rc != 0)
    sc_broken(c, "pthread_create for a vCPU thread: %s", strerror(rc));
  pthread_join(t, NULL);
  if (j.what)
    sc_broken(c, "VM %u vCPU %u: %s: %s", vm, index, j.what, j.err.msg);
  *out = j.out;
}

bool cu_locator_try(suite_ctx_t *c, cu_locator_t *l, const mmc_topology_t *topo, const char *what) {
  memset(l, 0, sizeof *l);
  l->topo = topo;
  if (cu_all_real(topo)) {
    l->by = CU_BY_MOVE_PAGES;
    return true;
  }
  if (!(sc_impl(c)->capabilities & MMC_CAP_NODE_MAPPINGS)) {
    cu_not_shown(c,
                 "%s: page placement on emulated nodes can be probed only through node "
                 "mappings, and the implementation lacks MMC_CAP_NODE_MAPPINGS",
                 what);
    return false;
  }
  l->by = CU_BY_MAPS;
  cu_locator_refresh(c, l);
  return true;
}

enum { cu_event_batch = 256 };

mmc_event_t *cu_read_events(suite_ctx_t *c, mmc_host_t *h, uint64_t *cursor, size_t *n) {
  mmc_event_t *ev = NULL;
  size_t cap = 0;
  *n = 0;
  for (size_t got = 1; got > 0; *n += got) {
    if (cap - *n < cu_event_batch) {
      cap = cap ? 2 * cap : 4 * cu_event_batch;
      mmc_event_t *more = realloc(ev, cap * sizeof *ev);
      if (!more) {
        free(ev);
        sc_broken(c, "out of memory for the host's events");
      }
      ev = more;
    }
    got = sc_impl(c)->events_read(h, cursor, ev + *n, cu_event_batch);
  }
  if (*n == 0) {
    free(ev);
    return NULL;
  }
  return ev;
}

uint64_t cu_count_events(suite_ctx_t *c, mmc_host_t *h, uint64_t *cursor, uint32_t type,
                         mmc_vm_id_t vm) {
  mmc_event_t buf[cu_event_batch];
  uint64_t count = 0;
  size_t n;
  while ((n = sc_impl(c)->events_read(h, cursor, buf, cu_event_batch)) > 0)
    for (size_t i = 0; i < n; i++)
      if (buf[i].type == type && (vm == 0 || buf[i].vm == vm))
        count++;
  return count;
}

void cu_advance(suite_ctx_t *c, mmc_host_t *h, uint64_t ns) {
  const mmc_impl_t *im = sc_impl(c);
  mmc_error_t err = {0};
  sc_require(c, im->advance(h, im->now(h) + ns, &err), &err, "advance");
}

int64_t cu_setting(suite_ctx_t *c, mmc_host_t *h, const char *name) {
  int64_t v = 0;
  mmc_error_t err = {0};
  sc_require(c, sc_impl(c)->setting_get(h, name, &v, &err), &err, name);
  return v;
}

/* ---------------------------------------------------------------- frames */

bool cu_frames_init(suite_ctx_t *c, cu_frames_t *f, const char *what) {
  memset(f, 0, sizeof *f);
  f->pm.fd = f->pm.flags_fd = -1;
  mmc_error_t err = {0};
  if (probe_pagemap_open(&f->pm, NULL, NULL, &err) == 0 && f->pm.pfns) {
    f->by = CU_FRAMES_PFN;
    return true;
  }
  probe_pagemap_close(&f->pm);
  if (sc_impl(c)->capabilities & MMC_CAP_NODE_MAPPINGS) {
    f->by = CU_FRAMES_MAPS;
    sc_require(c, probe_maps_load(&f->maps, NULL, &err), &err, "reading /proc/self/maps");
    return true;
  }
  cu_not_shown(c,
               "%s: frame identity needs /proc/self/pagemap frame numbers (visible to root "
               "only%s) or MMC_CAP_NODE_MAPPINGS, which the implementation lacks",
               what, err.msg[0] ? "; " : "");
  return false;
}

void cu_frames_free(cu_frames_t *f) {
  probe_pagemap_close(&f->pm);
  probe_maps_free(&f->maps);
}

const char *cu_frames_name(const cu_frames_t *f) {
  return f->by == CU_FRAMES_PFN ? "pagemap PFN" : "node mapping offset";
}

enum { cu_frames_batch = 512 };

static void frames_pfn(suite_ctx_t *c, cu_frames_t *f, void *const *ptrs, size_t n, uint64_t *id) {
  probe_pagemap_entry_t e[cu_frames_batch];
  mmc_error_t err = {0};
  for (size_t i = 0; i < n; i += cu_frames_batch) {
    size_t k = n - i < cu_frames_batch ? n - i : cu_frames_batch;
    sc_require(c, probe_pagemap_read(&f->pm, ptrs + i, k, e, &err), &err, "pagemap");
    for (size_t j = 0; j < k; j++)
      id[i + j] = e[j].present ? e[j].pfn : 0;
  }
}

void cu_frames_of(suite_ctx_t *c, cu_frames_t *f, void *const *ptrs, size_t n, uint64_t *id) {
  if (f->by == CU_FRAMES_PFN) {
    frames_pfn(c, f, ptrs, n, id);
    return;
  }
  bool refreshed = false;
  for (size_t i = 0; i < n; i++) {
    id[i] = probe_maps_frame(&f->maps, ptrs[i]);
    if (!id[i] && !refreshed) { /* the pools may have grown since the snapshot */
      mmc_error_t err = {0};
      probe_maps_free(&f->maps);
      sc_require(c, probe_maps_load(&f->maps, NULL, &err), &err, "reading /proc/self/maps");
      refreshed = true;
      id[i] = probe_maps_frame(&f->maps, ptrs[i]);
    }
  }
}

uint64_t cu_frame_of(suite_ctx_t *c, cu_frames_t *f, const void *ptr) {
  void *p = (void *)ptr;
  uint64_t id = 0;
  cu_frames_of(c, f, &p, 1, &id);
  return id;
}

/* ---------------------------------------------------------------- statistics in verdicts */

static const char *const vmstat_names[] = {
    "home_node",
    "vnuma_nodes",
    "pages_per_node",
    "resident_pages",
    "shared_pages",
    "zero_pages",
    "ballooned_pages",
    "compressed_pages",
    "swapped_pages",
    "wss_estimate_pages",
    "target_pages",
    "balloon_target_pages",
    "home_changes",
    "pages_migrated",
    "cow_breaks",
    "pages_scanned",
    "pages_sampled",
    "exec_ns",
    "remote_fallback_pages",
};
static const char *const hoststat_names[] = {
    "node_capacity_pages", "node_free_pages", "shared_frames",     "saved_pages",
    "mem_state",           "min_free_pages",  "rebalance_periods",
};

static const char *bit_name(const char *const *names, size_t n, uint64_t bit) {
  for (size_t i = 0; i < n; i++)
    if (bit == 1ull << i)
      return names[i];
  return "(several statistics)";
}

const char *cu_vmstat_name(uint64_t bit) {
  return bit_name(vmstat_names, sizeof vmstat_names / sizeof vmstat_names[0], bit);
}

const char *cu_hoststat_name(uint64_t bit) {
  return bit_name(hoststat_names, sizeof hoststat_names / sizeof hoststat_names[0], bit);
}

static bool crosscheck(suite_ctx_t *c, bool unobserved, const char *stat, const char *name,
                       long long probe, long long value, long long tol) {
  char full[320];
  snprintf(full, sizeof full, "cross-check: %s (statistic %s against the probe)", name, stat);
  if (unobserved) { /* only the cross-check goes: the probe's check carries the verdict */
    sc_diag(c, "%s not shown: the implementation does not observe %s", full, stat);
    return false;
  }
  long long d = value > probe ? value - probe : probe - value;
  return sc_check(c, d <= tol, full,
                  "the implementation says %lld, the probe saw %lld (tolerance %lld)", value, probe,
                  tol);
}

bool cu_crosscheck_vm(suite_ctx_t *c, const mmc_vm_stats_t *st, uint64_t bit, const char *name,
                      long long probe, long long stat, long long tol) {
  return crosscheck(c, st->unobserved & bit, cu_vmstat_name(bit), name, probe, stat, tol);
}

bool cu_crosscheck_host(suite_ctx_t *c, const mmc_host_stats_t *st, uint64_t bit, const char *name,
                        long long probe, long long stat, long long tol) {
  return crosscheck(c, st->unobserved & bit, cu_hoststat_name(bit), name, probe, stat, tol);
}

bool cu_crosscheck_vm_range(suite_ctx_t *c, const mmc_vm_stats_t *st, uint64_t bit,
                            const char *name, long long lo, long long hi, long long stat) {
  char full[320];
  const char *sname = cu_vmstat_name(bit);
  snprintf(full, sizeof full, "cross-check: %s (statistic %s within what the probe allows)", name,
           sname);
  if (st->unobserved & bit) {
    sc_diag(c, "%s not shown: the implementation does not observe %s", full, sname);
    return false;
  }
  return sc_check(c, stat >= lo && stat <= hi, full,
                  "the implementation says %lld, the probe allows %lld..%lld", stat, lo, hi);
}

bool cu_crosscheck_value(suite_ctx_t *c, const char *name, const char *what, long long probe,
                         long long value, long long tol) {
  return crosscheck(c, false, what, name, probe, value, tol);
}

bool cu_crosscheck_events(suite_ctx_t *c, mmc_host_t *h, uint32_t type, const char *name,
                          long long probe, long long events, long long tol) {
  char stat[48];
  snprintf(stat, sizeof stat, "event type %u", type);
  bool unobserved = cu_host_stats(c, h).unobserved_events & (1ull << type);
  return crosscheck(c, unobserved, stat, name, probe, events, tol);
}

static bool reported(suite_ctx_t *c, uint64_t missing, const char *(*name)(uint64_t),
                     const char *what) {
  if (!missing)
    return true;
  uint64_t first = missing & -missing;
  cu_not_shown(c, "%s: the implementation does not observe %s%s", what, name(first),
               missing != first ? " (and more)" : "");
  return false;
}

bool cu_reported_vm(suite_ctx_t *c, const mmc_vm_stats_t *st, uint64_t bits, const char *what) {
  return reported(c, st->unobserved & bits, cu_vmstat_name, what);
}

bool cu_reported_host(suite_ctx_t *c, const mmc_host_stats_t *st, uint64_t bits, const char *what) {
  return reported(c, st->unobserved & bits, cu_hoststat_name, what);
}

bool cu_reported_events(suite_ctx_t *c, mmc_host_t *h, uint64_t type_bits, const char *what) {
  uint64_t missing = cu_host_stats(c, h).unobserved_events & type_bits;
  if (!missing)
    return true;
  cu_not_shown(c, "%s: the implementation never reports event type %d%s", what,
               __builtin_ctzll(missing), missing & (missing - 1) ? " (and more)" : "");
  return false;
}
