/*
 * minimal.c — the smallest correct implementation, for the suite's own
 * tests: the documented settings (doc/spec.md "Advanced settings"), a stepped
 * clock, and VMs that run — one anonymous mapping per VM, page() = base +
 * offset, admission control on reservations (ALLOC-1) — with no memory
 * management at all: every mechanism's capability flag is clear and its
 * calls answer MMC_ENOTSUP, statistics it does not keep are marked
 * unobserved. Its honest certificate is INCOMPLETE (exit 4): what it does
 * is shown, everything else "not shown" with the flag named.
 *
 * Variants include this file with one TESTIMPL_* switch: crash_create.c,
 * hang_create.c, wrong_default.c, crash_on_set.c, noisy.c, null_fn.c,
 * small_struct.c, wrong_abi.c, no_symbol.c, and novm.c (TESTIMPL_NO_VMS:
 * power-on answers MMC_ENOTSUP, which the contract does not allow); for
 * process supervision (supervise.c): crash_ctor.c and hang_ctor.c (a
 * constructor that crashes or never returns), bad_name.c (a name pointer to
 * nowhere), escape.c (host_create leaves a helper in its own session),
 * tmp_hang.c (host_create writes a swap-like file under $TMPDIR, then hangs)
 * crash_big.c (claims placement, crashes on a host of 16 nodes or more, as
 * the placement benchmark makes), junk_pipe.c (writes garbage into every
 * pipe it can reach) and null_page.c (page() returns NULL without an
 * error). The helper's pid, or the directory
 * written, goes to the file $MMCERT_TEST_PIDFILE names. A test asset, not an
 * implementation to certify.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmc_error.h"
#include "mmcert/impl.h"

#ifndef TESTIMPL_NAME
#define TESTIMPL_NAME "test-minimal"
#endif
#ifdef TESTIMPL_WRONG_DEFAULT
#define REBALANCE_PERIOD_DEFAULT 1000 /* deliberately not the documented 2000 */
#else
#define REBALANCE_PERIOD_DEFAULT 2000
#endif

typedef struct tsetting {
  const char *name;
  int64_t def, def_osdi02, min, max;
  const char *unit;
} tsetting_t;

static const tsetting_t table[] = {
    {"Numa.RebalanceEnable", 1, 1, 0, 1, ""},
    {"Numa.RebalancePeriod", REBALANCE_PERIOD_DEFAULT, REBALANCE_PERIOD_DEFAULT, 100, 60000, "ms"},
    {"Numa.MigImbalanceThreshold", 10, 10, 1, 200, "%"},
    {"Numa.RebalanceCoresTotal", 4, 4, 1, 32, ""},
    {"Numa.RebalanceCoresNode", 2, 2, 1, 8, ""},
    {"Numa.PageMigEnable", 1, 1, 0, 1, ""},
    {"Numa.PageMigRateMax", 8000, 8000, 0, 250000, "pages/s"},
    {"Numa.MigThreshold", 2, 2, 0, 100, "%"},
    {"Numa.MigThrashThreshold", 50, 50, 0, 100, "%"},
    {"Numa.LocalityWeightMem", 1, 1, 0, 100, ""},
    {"Numa.SwapInterval", 3, 3, 1, 10000, ""},
    {"Numa.LatencyProbePeriod", 500, 500, 10, 100000, "ms"},
    {"Mem.ShareScanTime", 60, 60, 10, 600, "min"},
    {"Mem.ShareScanGHz", 4, 4, 0, 32, "MB/s/GHz"},
    {"Mem.ShareRateMax", 1024, 1024, 0, 32768, "pages/s"},
    {"Mem.ShareForceSalting", 2, 2, 0, 2, ""},
    {"Mem.IdleTax", 75, 75, 0, 99, "%"},
    {"Mem.IdleTaxType", 1, 1, 0, 1, ""},
    {"Mem.SamplePeriod", 60, 30, 1, 3600, "s"},
    {"Mem.SampleActivePctMin", 1, 1, 0, 10, "%"},
    {"Mem.BalancePeriod", 15, 15, 1, 3600, "s"},
    {"Mem.CtlMaxPercent", 65, 65, 0, 99, "%"},
    {"Mem.MemMinFreePct", 0, 0, 0, 50, "%"},
    {"Mem.MemZipEnable", 1, 1, 0, 1, ""},
    {"Mem.MemZipMaxPct", 10, 10, 5, 100, "%"},
};
#define NSETTINGS (sizeof table / sizeof table[0])

enum { TVM_MAX = 256 };

typedef struct tvm {
  bool on;
  uint64_t pages;    /* configured */
  uint64_t reserved; /* pages */
  uint32_t vcpus;
  uint8_t *mem;     /* pages * 4096 bytes, anonymous */
  uint32_t entered; /* vCPUs entered */
} tvm_t;

struct mmc_host {
  bool osdi02;
  int64_t value[NSETTINGS];
  uint64_t now;
  pthread_mutex_t lock; /* guards vms, nvms, reserved */
  uint64_t capacity;    /* pages: the topology's memory */
  uint64_t reserved;    /* pages reserved by running VMs */
  uint32_t nvms;        /* ids handed out; vms[id - 1] */
  tvm_t vms[TVM_MAX];
  mmc_event_t ev[2 * TVM_MAX]; /* power-on/off events, in order */
  uint64_t nev;
};

struct mmc_vcpu {
  mmc_host_t *h;
  mmc_vm_id_t vm;
};

static int find(const char *name) {
  for (size_t i = 0; i < NSETTINGS; i++)
    if (name && !strcmp(table[i].name, name))
      return (int)i;
  return -1;
}

static int t_setting_set(mmc_host_t *h, const char *name, int64_t v, mmc_error_t *err) {
#ifdef TESTIMPL_CRASH_ON_SET
  if (name && !strcmp(name, TESTIMPL_CRASH_ON_SET))
    raise(SIGSEGV); /* mid-case: the checks reported before must survive */
#endif
  int i = find(name);
  if (i < 0)
    return mmc_fail(err, MMC_ENOENT, "%s: no such setting", name ? name : "(null)");
  if (v < table[i].min || v > table[i].max)
    return mmc_fail(err, MMC_ERANGE, "%s: %lld is out of range %lld..%lld %s", name, (long long)v,
                    (long long)table[i].min, (long long)table[i].max, table[i].unit);
  h->value[i] = v;
  return 0;
}

static int t_setting_get(mmc_host_t *h, const char *name, int64_t *v, mmc_error_t *err) {
  int i = find(name);
  if (i < 0)
    return mmc_fail(err, MMC_ENOENT, "%s: no such setting", name ? name : "(null)");
  *v = h->value[i];
  return 0;
}

__attribute__((unused)) static int t_setting_info(mmc_host_t *h, size_t index,
                                                  mmc_setting_info_t *out) {
  if (index >= NSETTINGS)
    return MMC_ENOENT;
  const tsetting_t *s = &table[index];
  *out = (mmc_setting_info_t){.name = s->name,
                              .default_value = h->osdi02 ? s->def_osdi02 : s->def,
                              .min = s->min,
                              .max = s->max,
                              .unit = s->unit,
                              .meaning = "test implementation"};
  return 0;
}

#if defined(TESTIMPL_ESCAPE) || defined(TESTIMPL_TMP_HANG)
/* Say what was made (a pid, a directory) in $MMCERT_TEST_PIDFILE. */
static void tell(const char *what) {
  const char *f = getenv("MMCERT_TEST_PIDFILE");
  int fd = f ? open(f, O_WRONLY | O_CREAT | O_APPEND, 0644) : -1;
  if (fd >= 0) {
    (void)!write(fd, what, strlen(what));
    close(fd);
  }
}
#endif

#ifdef TESTIMPL_CTOR_CRASH
__attribute__((constructor)) static void crash_on_load(void) {
  raise(SIGSEGV); /* runs in whatever process loads the object */
}
#endif
#ifdef TESTIMPL_CTOR_HANG
__attribute__((constructor)) static void hang_on_load(void) {
  for (;;)
    pause();
}
#endif

static int t_host_create(const mmc_host_config_t *cfg, mmc_host_t **out, mmc_error_t *err) {
#ifdef TESTIMPL_JUNK_PIPE
  /* Garbage into every pipe it can reach: the runner's record pipe among them.
   * SIGPIPE ignored: a pipe inherited from whoever started mmcert may have no
   * reader left (under make check one had), and dying of SIGPIPE there would
   * end the case before the garbage on the record pipe is what it meets. */
  signal(SIGPIPE, SIG_IGN);
  for (int fd = 3; fd < 256; fd++) {
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
      (void)!write(fd, "garbage, not a record", 21);
  }
#endif
#ifdef TESTIMPL_ESCAPE
  int ready[2];
  if (pipe(ready) == 0 && fork() == 0) { /* a helper that leaves the caller's process group */
    setsid();
    char pid[32];
    snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    tell(pid);
    close(ready[1]); /* told: the caller may go on */
    for (;;)
      pause();
  }
  close(ready[1]);
  char c;
  (void)!read(ready[0], &c, 1); /* EOF once the helper is in place */
  close(ready[0]);
#endif
#ifdef TESTIMPL_TMP_HANG
  char dir[4096], file[4200];
  snprintf(dir, sizeof dir, "%s/mmcert-swap-test-XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (mkdtemp(dir)) {
    snprintf(file, sizeof file, "%s/vm0.vswp", dir);
    int fd = open(file, O_WRONLY | O_CREAT, 0600);
    if (fd >= 0 && ftruncate(fd, 1 << 20) == 0)
      tell(dir);
    if (fd >= 0)
      close(fd);
  }
  for (;;)
    pause(); /* until killed, with its files in place */
#endif
#ifdef TESTIMPL_CRASH_BIG
  if (cfg && cfg->topology && cfg->topology->nnodes >= 16)
    raise(SIGSEGV);
#endif
#ifdef TESTIMPL_CRASH_CREATE
  raise(SIGSEGV); /* as a NULL dereference would, without undefined behaviour */
#endif
#ifdef TESTIMPL_HANG_CREATE
  for (;;)
    pause(); /* hangs until killed: the runner's timeout must end it */
#endif
#ifdef TESTIMPL_NOISY
  printf("noise from host_create on stdout\n"); /* must not reach the TAP */
  fflush(stdout);
#endif
  if (!cfg || !cfg->topology || cfg->topology->nnodes == 0)
    return mmc_fail(err, MMC_EINVAL, "host_create: no topology");
  if (cfg->clock != MMC_CLOCK_STEPPED)
    return mmc_fail(err, MMC_ENOTSUP, "host_create: only the stepped clock is implemented");
  bool osdi02 = cfg->profile && !strcmp(cfg->profile, "osdi02");
  if (cfg->profile && !osdi02 && strcmp(cfg->profile, "esxi-6.7"))
    return mmc_fail(err, MMC_EINVAL, "profile '%s': expected esxi-6.7 or osdi02", cfg->profile);
  mmc_host_t *h = calloc(1, sizeof *h);
  if (!h)
    return mmc_fail(err, MMC_ENOMEM, "host_create: out of memory");
  h->osdi02 = osdi02;
  pthread_mutex_init(&h->lock, NULL);
  for (uint32_t n = 0; n < cfg->topology->nnodes; n++)
    h->capacity += cfg->topology->nodes[n].memory_bytes / MMC_PAGE_SIZE;
  for (size_t i = 0; i < NSETTINGS; i++)
    h->value[i] = osdi02 ? table[i].def_osdi02 : table[i].def;
  for (size_t i = 0; i < cfg->nsettings; i++) {
    int rc = t_setting_set(h, cfg->settings[i].name, cfg->settings[i].value, err);
    if (rc) {
      free(h);
      return rc;
    }
  }
  *out = h;
  return 0;
}

static void t_host_destroy(mmc_host_t *h) {
  for (uint32_t i = 0; i < h->nvms; i++)
    if (h->vms[i].on)
      munmap(h->vms[i].mem, h->vms[i].pages * MMC_PAGE_SIZE);
  pthread_mutex_destroy(&h->lock);
  free(h);
}

static int t_advance(mmc_host_t *h, uint64_t now, mmc_error_t *err) {
  if (now < h->now)
    return mmc_fail(err, MMC_ESTATE, "advance: %llu is before now %llu", (unsigned long long)now,
                    (unsigned long long)h->now);
  h->now = now;
  return 0;
}
static uint64_t t_now(mmc_host_t *h) {
  return h->now;
}

#define NOTSUP(what) mmc_fail(err, MMC_ENOTSUP, "%s: not implemented by " TESTIMPL_NAME, what)

static void emit(mmc_host_t *h, uint32_t type, mmc_vm_id_t vm) {
  if (h->nev < sizeof h->ev / sizeof h->ev[0])
    h->ev[h->nev] = (mmc_event_t){
        .seq = h->nev, .time_ns = h->now, .type = type, .vm = vm, .node_from = -1, .node_to = -1};
  h->nev++;
}

static int check_config(const mmc_vm_config_t *c, mmc_error_t *err) {
  if (!c || c->vcpus == 0 || c->vcpus > MMC_MAX_VCPUS)
    return mmc_fail(err, MMC_EINVAL, "vcpus must be 1..%u", MMC_MAX_VCPUS);
  if (c->memory_bytes == 0 || c->memory_bytes % MMC_PAGE_SIZE)
    return mmc_fail(err, MMC_EINVAL, "memory_bytes %llu is not a positive multiple of %u",
                    (unsigned long long)c->memory_bytes, MMC_PAGE_SIZE);
  if (c->reservation_bytes > c->memory_bytes)
    return mmc_fail(err, MMC_EINVAL, "reservation %llu is above the VM's %llu bytes",
                    (unsigned long long)c->reservation_bytes, (unsigned long long)c->memory_bytes);
  if (c->salt)
    return NOTSUP("sched.mem.pshare.salt (no MMC_CAP_SALTING)");
  if (c->node_affinity)
    return NOTSUP("numa.nodeAffinity (no MMC_CAP_NODE_AFFINITY)");
  return 0;
}

static int t_power_on(mmc_host_t *h, const mmc_vm_config_t *c, mmc_vm_id_t *id, mmc_error_t *err) {
#ifdef TESTIMPL_NO_VMS
  (void)h, (void)c, (void)id;
  return NOTSUP("vm_power_on");
#endif
  int rc = check_config(c, err);
  if (rc)
    return rc;
  uint64_t pages = c->memory_bytes / MMC_PAGE_SIZE;
  uint64_t res = (c->reservation_bytes + MMC_PAGE_SIZE - 1) / MMC_PAGE_SIZE;
  pthread_mutex_lock(&h->lock);
  if (h->nvms == TVM_MAX)
    rc = mmc_fail(err, MMC_ENOMEM, "more than %d VMs", TVM_MAX);
  else if (h->reserved + res > h->capacity)
    rc = mmc_fail(err, MMC_EADMISSION,
                  "reservation of %llu pages cannot be guaranteed: %llu of %llu reserved",
                  (unsigned long long)res, (unsigned long long)h->reserved,
                  (unsigned long long)h->capacity);
  uint8_t *mem = MAP_FAILED;
  if (!rc) {
    mem = mmap(NULL, pages * MMC_PAGE_SIZE, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED)
      rc = mmc_fail(err, MMC_ENOMEM, "mmap of %llu bytes failed",
                    (unsigned long long)c->memory_bytes);
  }
  if (!rc) {
    h->vms[h->nvms] =
        (tvm_t){.on = true, .pages = pages, .reserved = res, .vcpus = c->vcpus, .mem = mem};
    h->reserved += res;
    *id = ++h->nvms;
    emit(h, MMC_EV_POWER_ON, *id);
  }
  pthread_mutex_unlock(&h->lock);
  return rc;
}

/* The running VM `id`, with h->lock held; NULL with err filled. */
static tvm_t *vm_of(mmc_host_t *h, mmc_vm_id_t id, mmc_error_t *err) {
  if (id == 0 || id > h->nvms) {
    mmc_fail(err, MMC_ENOENT, "no VM %u", id);
    return NULL;
  }
  if (!h->vms[id - 1].on) {
    mmc_fail(err, MMC_ESTATE, "VM %u is powered off", id);
    return NULL;
  }
  return &h->vms[id - 1];
}

static int t_reconfigure(mmc_host_t *h, mmc_vm_id_t vm, const mmc_vm_config_t *c,
                         mmc_error_t *err) {
  int rc = check_config(c, err);
  if (rc)
    return rc;
  pthread_mutex_lock(&h->lock);
  tvm_t *v = vm_of(h, vm, err);
  uint64_t res = (c->reservation_bytes + MMC_PAGE_SIZE - 1) / MMC_PAGE_SIZE;
  if (!v)
    rc = err ? err->code : MMC_ENOENT;
  else if (c->memory_bytes / MMC_PAGE_SIZE != v->pages || c->vcpus != v->vcpus)
    rc = mmc_fail(err, MMC_EINVAL, "reconfigure: vcpus and memory_bytes must stay as they were");
  else if (h->reserved - v->reserved + res > h->capacity)
    rc = mmc_fail(err, MMC_EADMISSION, "reservation of %llu pages cannot be guaranteed",
                  (unsigned long long)res);
  else {
    h->reserved = h->reserved - v->reserved + res;
    v->reserved = res;
  }
  pthread_mutex_unlock(&h->lock);
  return rc;
}

static int t_power_off(mmc_host_t *h, mmc_vm_id_t vm, mmc_error_t *err) {
  pthread_mutex_lock(&h->lock);
  tvm_t *v = vm_of(h, vm, err);
  int rc = !v ? (err ? err->code : MMC_ENOENT) : 0;
  if (v && v->entered)
    rc = mmc_fail(err, MMC_EBUSY, "VM %u has %u vCPUs entered", vm, v->entered);
  else if (v) {
    munmap(v->mem, v->pages * MMC_PAGE_SIZE); /* the kernel frees the frames */
    h->reserved -= v->reserved;
    *v = (tvm_t){0};
    emit(h, MMC_EV_POWER_OFF, vm);
  }
  pthread_mutex_unlock(&h->lock);
  return rc;
}

static int t_vcpu_enter(mmc_host_t *h, mmc_vm_id_t vm, uint32_t i, mmc_vcpu_t **o,
                        mmc_error_t *err) {
  pthread_mutex_lock(&h->lock);
  tvm_t *v = vm_of(h, vm, err);
  int rc = !v ? (err ? err->code : MMC_ENOENT) : 0;
  if (v && i >= v->vcpus)
    rc = mmc_fail(err, MMC_ERANGE, "VM %u has %u vCPUs, not %u", vm, v->vcpus, i + 1);
  mmc_vcpu_t *vc = rc ? NULL : calloc(1, sizeof *vc);
  if (!rc && !vc)
    rc = mmc_fail(err, MMC_ENOMEM, "vcpu_enter: out of memory");
  if (!rc) {
    *vc = (mmc_vcpu_t){.h = h, .vm = vm};
    v->entered++;
    *o = vc;
  }
  pthread_mutex_unlock(&h->lock);
  return rc;
}

/* Hardware translation: the pointer stays valid while the VM runs. */
static void *t_page(mmc_vcpu_t *vc, uint64_t g, bool w, mmc_error_t *err) {
  (void)w;
#ifdef TESTIMPL_NULL_PAGE
  return NULL; /* and no error: the contract says a NULL return fills err */
#endif
  tvm_t *v = &vc->h->vms[vc->vm - 1];
  if (g >= v->pages) {
    mmc_fail(err, MMC_ERANGE, "gpfn %llu is beyond the VM's %llu pages", (unsigned long long)g,
             (unsigned long long)v->pages);
    return NULL;
  }
  return v->mem + g * MMC_PAGE_SIZE;
}
static void t_quiesce(mmc_vcpu_t *v) {
  (void)v; /* nothing is ever remapped */
}
static void t_set_demand(mmc_vcpu_t *v, uint32_t p) {
  (void)v, (void)p;
}
static void t_vcpu_exit(mmc_vcpu_t *vc) {
  pthread_mutex_lock(&vc->h->lock);
  vc->h->vms[vc->vm - 1].entered--;
  pthread_mutex_unlock(&vc->h->lock);
  free(vc);
}
/* No placement and no affinity: a vCPU has no node (impl.h allows this). */
static int t_vcpu_info(mmc_host_t *h, mmc_vm_id_t vm, uint32_t i, mmc_vcpu_info_t *o,
                       mmc_error_t *err) {
  return NOTSUP("vcpu_info (no MMC_CAP_PLACEMENT, no MMC_CAP_NODE_AFFINITY)");
}
static int t_balloon_target(mmc_host_t *h, mmc_vm_id_t vm, uint64_t *p, mmc_error_t *err) {
  return NOTSUP("balloon_target");
}
static int t_balloon_give(mmc_host_t *h, mmc_vm_id_t vm, const uint64_t *g, size_t n,
                          mmc_error_t *err) {
  return NOTSUP("balloon_give");
}
static int t_balloon_take(mmc_host_t *h, mmc_vm_id_t vm, const uint64_t *g, size_t n,
                          mmc_error_t *err) {
  return NOTSUP("balloon_take");
}

/* Pages the kernel has backed, by mincore over the VM's mapping. */
static uint64_t resident(const tvm_t *v) {
  uint64_t n = 0;
  unsigned char vec[4096];
  for (uint64_t off = 0; off < v->pages; off += sizeof vec) {
    uint64_t k = v->pages - off < sizeof vec ? v->pages - off : sizeof vec;
    if (mincore(v->mem + off * MMC_PAGE_SIZE, k * MMC_PAGE_SIZE, vec) != 0)
      return 0;
    for (uint64_t i = 0; i < k; i++)
      n += vec[i] & 1;
  }
  return n;
}

static int t_vm_stats(mmc_host_t *h, mmc_vm_id_t vm, mmc_vm_stats_t *o, mmc_error_t *err) {
  pthread_mutex_lock(&h->lock);
  tvm_t *v = vm_of(h, vm, err);
  if (v) {
    *o = (mmc_vm_stats_t){.configured_pages = v->pages,
                          .vnuma_nodes = 1,
                          .resident_pages = resident(v),
                          .target_pages = v->pages};
    /* Everything but size and residency is beyond what this one keeps. */
    o->unobserved = ~(uint64_t)(MMC_VMSTAT_RESIDENT | MMC_VMSTAT_VNUMA_NODES);
  }
  pthread_mutex_unlock(&h->lock);
  return v ? 0 : (err ? err->code : MMC_ENOENT);
}

static int t_host_stats(mmc_host_t *h, mmc_host_stats_t *o, mmc_error_t *err) {
  (void)err;
  pthread_mutex_lock(&h->lock);
  *o = (mmc_host_stats_t){.nnodes = 1, .now_ns = h->now};
  for (uint32_t i = 0; i < h->nvms; i++)
    o->nvms += h->vms[i].on;
  o->unobserved = ~(uint64_t)0;
  o->unobserved_events = ~(uint64_t)(1ull << MMC_EV_POWER_ON | 1ull << MMC_EV_POWER_OFF);
  pthread_mutex_unlock(&h->lock);
  return 0;
}

static size_t t_events_read(mmc_host_t *h, uint64_t *c, mmc_event_t *b, size_t m) {
  size_t n = 0;
  pthread_mutex_lock(&h->lock);
  uint64_t cap = sizeof h->ev / sizeof h->ev[0], end = h->nev < cap ? h->nev : cap;
  for (; *c < end && n < m; (*c)++)
    b[n++] = h->ev[*c];
  pthread_mutex_unlock(&h->lock);
  return n;
}

static const char *t_why_not(uint64_t cap) {
  (void)cap;
  return "the minimal test implementation runs VMs and nothing else";
}

#ifndef TESTIMPL_NO_SYMBOL
__attribute__((visibility("default")))
#endif
const mmc_impl_t
#ifdef TESTIMPL_NO_SYMBOL
    not_the_contract_symbol
#else
    mmcert_impl
#endif
    = {
#ifdef TESTIMPL_ABI
        .abi_version = TESTIMPL_ABI,
#else
        .abi_version = MMCERT_ABI_VERSION,
#endif
#ifdef TESTIMPL_STRUCT_SIZE
        .struct_size = TESTIMPL_STRUCT_SIZE,
#else
        .struct_size = sizeof(mmc_impl_t),
#endif
#ifdef TESTIMPL_BAD_NAME
        .name = (const char *)(uintptr_t)16, /* points nowhere */
#else
        .name = TESTIMPL_NAME,
#endif
        .version = "0.0.1",
#ifdef TESTIMPL_CRASH_BIG
        .capabilities = MMC_CAP_CLOCK_STEPPED | MMC_CAP_PLACEMENT,
#else
        .capabilities = MMC_CAP_CLOCK_STEPPED,
#endif
        .host_create = t_host_create,
        .host_destroy = t_host_destroy,
        .setting_set = t_setting_set,
        .setting_get = t_setting_get,
#ifndef TESTIMPL_NULL_FN
        .setting_info = t_setting_info,
#endif
        .advance = t_advance,
        .now = t_now,
        .vm_power_on = t_power_on,
        .vm_reconfigure = t_reconfigure,
        .vm_power_off = t_power_off,
        .vcpu_enter = t_vcpu_enter,
        .page = t_page,
        .quiesce = t_quiesce,
        .vcpu_set_demand = t_set_demand,
        .vcpu_exit = t_vcpu_exit,
        .vcpu_info = t_vcpu_info,
        .balloon_target = t_balloon_target,
        .balloon_give = t_balloon_give,
        .balloon_take = t_balloon_take,
        .vm_stats = t_vm_stats,
        .host_stats = t_host_stats,
        .events_read = t_events_read,
        .why_not = t_why_not,
};
