/*
 * perf.c — perf_event_open(2) counters declared in perf.h (the perf_event
 * probes; SPEC NUMA-7/MIG-1 remote-access metrics build on it).
 *
 * One counter per (event, thread): perf_event_open(pid = tid, cpu = -1),
 * counting from the moment it opens, read with time_enabled/time_running so
 * multiplexing is visible and scaled. The whole-process target opens every
 * task in /proc/self/task with `inherit`, so threads started later are
 * counted too (their counts join the parent counter when they exit).
 *
 * Invariants: a refused open makes the event unsupported with the reason and
 * closes whatever it had opened for other threads (no partial sums); a
 * counter the kernel never scheduled is unsupported, not zero; nothing here
 * changes the caller's state except file descriptors, all closed by
 * perf_probe_close. Under perf_event_paranoid 2 (no kernel-side counting
 * for unprivileged users) an event is retried user-space only and says so.
 */
#include "probes/perf.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"

#if MMCERT_HAVE_LIBPFM
#include <perfmon/pfmlib_perf_event.h>
#endif

#define CACHE_CFG(cache, op, result)                                                               \
  ((uint64_t)(cache) | ((uint64_t)(op) << 8) | ((uint64_t)(result) << 16))

static const perf_probe_event_info_t events[] = {
    {"task-clock", "ns", "CPU time of the threads", PERF_PROBE_SOFTWARE, PERF_TYPE_SOFTWARE,
     PERF_COUNT_SW_TASK_CLOCK},
    {"page-faults", "faults", "page faults, minor and major", PERF_PROBE_SOFTWARE,
     PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS},
    {"minor-faults", "faults", "page faults served without I/O", PERF_PROBE_SOFTWARE,
     PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MIN},
    {"major-faults", "faults", "page faults that waited for I/O", PERF_PROBE_SOFTWARE,
     PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MAJ},
    {"context-switches", "switches", "context switches", PERF_PROBE_SOFTWARE, PERF_TYPE_SOFTWARE,
     PERF_COUNT_SW_CONTEXT_SWITCHES},
    {"cpu-migrations", "migrations", "moves of a thread between CPUs", PERF_PROBE_SOFTWARE,
     PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS},
    {"cycles", "cycles", "CPU cycles", PERF_PROBE_HARDWARE, PERF_TYPE_HARDWARE,
     PERF_COUNT_HW_CPU_CYCLES},
    {"instructions", "instructions", "instructions retired", PERF_PROBE_HARDWARE,
     PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS},
    {"LLC-load-misses", "misses", "last-level cache read misses", PERF_PROBE_CACHE,
     PERF_TYPE_HW_CACHE,
     CACHE_CFG(PERF_COUNT_HW_CACHE_LL, PERF_COUNT_HW_CACHE_OP_READ,
               PERF_COUNT_HW_CACHE_RESULT_MISS)},
    {"node-loads", "loads", "NUMA node reads (generic node cache event: access)", PERF_PROBE_CACHE,
     PERF_TYPE_HW_CACHE,
     CACHE_CFG(PERF_COUNT_HW_CACHE_NODE, PERF_COUNT_HW_CACHE_OP_READ,
               PERF_COUNT_HW_CACHE_RESULT_ACCESS)},
    {"node-load-misses", "loads", "NUMA node reads served remotely (generic node cache miss)",
     PERF_PROBE_CACHE, PERF_TYPE_HW_CACHE,
     CACHE_CFG(PERF_COUNT_HW_CACHE_NODE, PERF_COUNT_HW_CACHE_OP_READ,
               PERF_COUNT_HW_CACHE_RESULT_MISS)},
};
#define NEVENTS (sizeof events / sizeof events[0])

static const char RAW_PREFIX[] = "pfm:";

/* libpfm4 names of local/remote DRAM load events, per family. */
static const char *const numa_raw[] = {
    "pfm:MEM_LOAD_L3_MISS_RETIRED:LOCAL_DRAM", /* Intel Skylake and later */
    "pfm:MEM_LOAD_L3_MISS_RETIRED:REMOTE_DRAM",
    "pfm:MEM_LOAD_UOPS_L3_MISS_RETIRED:LOCAL_DRAM", /* Intel Haswell, Broadwell */
    "pfm:MEM_LOAD_UOPS_L3_MISS_RETIRED:REMOTE_DRAM",
    "pfm:DEMAND_DATA_CACHE_FILLS_FROM_SYSTEM:DRAM_IO_NEAR", /* AMD Zen 4 */
    "pfm:DEMAND_DATA_CACHE_FILLS_FROM_SYSTEM:DRAM_IO_FAR",
};

const char *const *perf_probe_numa_raw_events(size_t *n) {
  *n = sizeof numa_raw / sizeof numa_raw[0];
  return numa_raw;
}
#define PARANOID_PATH "/proc/sys/kernel/perf_event_paranoid"
#define PMU_DIR "/sys/bus/event_source/devices"
/* Capability bits of /proc/self/status CapEff (linux/capability.h). */
#define CAP_BIT_SYS_ADMIN 21
#define CAP_BIT_PERFMON 38

typedef struct counter {
  char name[PERF_PROBE_NAME_MAX];
  const char *unit;
  perf_probe_kind_t kind;
  struct perf_event_attr attr;
  int *fds; /* one per thread; all -1 when unsupported */
  bool supported;
  bool user_only;
  char reason[PERF_PROBE_REASON_MAX];
} counter_t;

struct perf_probe {
  counter_t *c;
  size_t n;
  pid_t *tids;
  size_t ntids;
  bool inherit;
};

const perf_probe_event_info_t *perf_probe_events(size_t *n) {
  *n = NEVENTS;
  return events;
}

const char *perf_probe_kind_name(perf_probe_kind_t k) {
  switch (k) {
  case PERF_PROBE_SOFTWARE: return "software";
  case PERF_PROBE_HARDWARE: return "hardware";
  case PERF_PROBE_CACHE: return "hardware cache";
  case PERF_PROBE_RAW: return "raw (libpfm4)";
  }
  return "?";
}

static const perf_probe_event_info_t *find_builtin(const char *name) {
  for (size_t i = 0; i < NEVENTS; i++)
    if (!strcmp(events[i].name, name))
      return &events[i];
  return NULL;
}

static void builtin_list(char *buf, size_t cap) {
  size_t o = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < NEVENTS && o < cap; i++)
    o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", events[i].name);
}

/* ------------------------------------------------------------ libpfm4 */

#if MMCERT_HAVE_LIBPFM
static int pfm_ready(void) {
  static int rc = -1;
  if (rc < 0)
    rc = pfm_initialize() == PFM_SUCCESS ? 1 : 0;
  return rc;
}

/* Encode a named raw event into a perf_event_attr; the libpfm4 error text
 * on failure. */
static int pfm_encode(const char *name, struct perf_event_attr *attr, char *why, size_t cap) {
  if (!pfm_ready()) {
    snprintf(why, cap, "libpfm4 failed to initialise (no PMU it knows on this CPU)");
    return -1;
  }
  pfm_perf_encode_arg_t arg;
  memset(&arg, 0, sizeof arg);
  memset(attr, 0, sizeof *attr);
  arg.attr = attr;
  arg.size = sizeof arg;
  int rc = pfm_get_os_event_encoding(name, PFM_PLM0 | PFM_PLM3, PFM_OS_PERF_EVENT, &arg);
  if (rc != PFM_SUCCESS) {
    snprintf(why, cap, "libpfm4 does not know '%s' on this CPU: %s", name, pfm_strerror(rc));
    return -1;
  }
  attr->size = sizeof *attr;
  return 0;
}
#endif

int perf_probe_check_name(const char *name, mmc_error_t *err) {
  char list[512];
  if (find_builtin(name))
    return MMC_OK;
  builtin_list(list, sizeof list);
  if (strncmp(name, RAW_PREFIX, sizeof RAW_PREFIX - 1) != 0)
    return mmc_fail(err, MMC_EINVAL,
                    "unknown event '%s': built-in events are %s; named raw PMU events are "
                    "written pfm:NAME",
                    name, list);
#if MMCERT_HAVE_LIBPFM
  struct perf_event_attr attr;
  char why[256];
  if (pfm_encode(name + sizeof RAW_PREFIX - 1, &attr, why, sizeof why) != 0)
    return mmc_fail(err, MMC_EINVAL, "unknown event '%s': %s", name, why);
  return MMC_OK;
#else
  return mmc_fail(err, MMC_EINVAL,
                  "event '%s': named raw PMU events need libpfm4, which this mmcert was built "
                  "without (install libpfm4-dev and re-run ./configure); built-in events are %s",
                  name, list);
#endif
}

/* ------------------------------------------------------------ reasons */

int perf_probe_paranoid(void) {
  FILE *f = fopen(PARANOID_PATH, "r");
  int v = -1;
  if (f) {
    if (fscanf(f, "%d", &v) != 1)
      v = -1;
    fclose(f);
  }
  return v;
}

bool perf_probe_privileged(void) {
  if (geteuid() == 0)
    return true;
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  unsigned long long caps = 0;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "CapEff: %llx", &caps) == 1)
      break;
  if (f)
    fclose(f);
  return caps & ((1ull << CAP_BIT_SYS_ADMIN) | (1ull << CAP_BIT_PERFMON));
}

/* "breakpoint msr software tracepoint uprobe" */
static void pmu_list(char *buf, size_t cap) {
  DIR *d = opendir(PMU_DIR);
  size_t o = 0;
  buf[0] = '\0';
  for (struct dirent *e; d && (e = readdir(d)) && o < cap;)
    if (e->d_name[0] != '.')
      o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? " " : "", e->d_name);
  if (d)
    closedir(d);
}

void perf_probe_reason(int errnum, perf_probe_kind_t kind, int paranoid, bool privileged,
                       const char *pmus, char *buf, size_t cap) {
  bool hw = kind != PERF_PROBE_SOFTWARE;
  const char *name = strerrorname_np(errnum);
  const char *text = strerror(errnum);
  char pmu_note[256] = "";
  if (hw && pmus)
    snprintf(pmu_note, sizeof pmu_note, "; the kernel exposes only these PMUs: %s",
             *pmus ? pmus : "(none)");
  switch (errnum) {
  case ENOENT:
  case EOPNOTSUPP:
  case ENODEV:
    if (hw)
      snprintf(buf, cap, "%s (%s): no hardware PMU provides this event here%s", name ? name : "?",
               text, pmu_note);
    else
      snprintf(buf, cap, "%s (%s): this kernel does not provide the software event",
               name ? name : "?", text);
    return;
  case EACCES:
  case EPERM:
    if (!privileged && paranoid >= 2)
      snprintf(buf, cap,
               "%s (%s): perf_event_paranoid is %d, too high for %s (needs %s, or root / "
               "CAP_PERFMON)",
               name ? name : "?", text, paranoid,
               paranoid >= 3 ? "any unprivileged counter" : "kernel-side counting",
               paranoid >= 3 ? "2 or less" : "1 or less");
    else
      snprintf(buf, cap,
               "%s (%s): no permission although perf_event_paranoid is %d%s (a seccomp filter, "
               "LSM or container policy refuses perf_event_open)",
               name ? name : "?", text, paranoid,
               privileged ? " and the caller is privileged" : "");
    return;
  case ESRCH: snprintf(buf, cap, "ESRCH (%s): the thread is gone", text); return;
  case ENOSYS: snprintf(buf, cap, "ENOSYS (%s): this kernel has no perf_event_open", text); return;
  case EMFILE:
  case ENFILE:
    snprintf(buf, cap, "%s (%s): out of file descriptors for counters", name ? name : "?", text);
    return;
  case EINVAL:
    snprintf(buf, cap, "EINVAL (%s): the kernel refused the event's attributes%s", text, pmu_note);
    return;
  default:
    snprintf(buf, cap, "%s (%s): perf_event_open refused the event", name ? name : "?", text);
  }
}

/* ------------------------------------------------------------ opening */

static long sys_perf_event_open(struct perf_event_attr *a, pid_t pid) {
  return syscall(SYS_perf_event_open, a, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static void close_fds(counter_t *c, size_t ntids) {
  for (size_t t = 0; t < ntids; t++)
    if (c->fds[t] >= 0) {
      close(c->fds[t]);
      c->fds[t] = -1;
    }
}

/* Open one event on every thread; all or nothing. */
static void open_counter(counter_t *c, const pid_t *tids, size_t ntids, bool inherit) {
  c->attr.size = sizeof c->attr;
  c->attr.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
  c->attr.inherit = inherit;
  c->attr.disabled = 0;
  for (size_t t = 0; t < ntids; t++) {
    long fd = sys_perf_event_open(&c->attr, tids[t]);
    int e = errno;
    if (fd < 0 && (e == EACCES || e == EPERM) && !c->attr.exclude_kernel) {
      /* perf_event_paranoid 2: user-space counting is still allowed. */
      c->attr.exclude_kernel = c->attr.exclude_hv = 1;
      c->user_only = true;
      fd = sys_perf_event_open(&c->attr, tids[t]);
      e = errno;
    }
    if (fd < 0) {
      char pmus[200];
      pmu_list(pmus, sizeof pmus);
      perf_probe_reason(e, c->kind, perf_probe_paranoid(), perf_probe_privileged(), pmus, c->reason,
                        sizeof c->reason);
      if (t > 0 || e == ESRCH) { /* the event itself works: say which thread failed */
        size_t l = strlen(c->reason);
        snprintf(c->reason + l, sizeof c->reason - l, " (thread %d)", (int)tids[t]);
      }
      close_fds(c, ntids);
      c->supported = false;
      return;
    }
    c->fds[t] = (int)fd;
  }
  c->supported = true;
}

static int init_counter(counter_t *c, const char *name, size_t ntids, mmc_error_t *err) {
  memset(c, 0, sizeof *c);
  snprintf(c->name, sizeof c->name, "%s", name);
  c->fds = malloc(ntids * sizeof *c->fds);
  if (!c->fds)
    return mmc_fail(err, MMC_ENOMEM, "out of memory");
  for (size_t t = 0; t < ntids; t++)
    c->fds[t] = -1;
  const perf_probe_event_info_t *e = find_builtin(name);
  if (e) {
    c->unit = e->unit;
    c->kind = e->kind;
    c->attr.type = e->type;
    c->attr.config = e->config;
    return MMC_OK;
  }
  c->unit = "events";
  c->kind = PERF_PROBE_RAW;
#if MMCERT_HAVE_LIBPFM
  if (pfm_encode(name + sizeof RAW_PREFIX - 1, &c->attr, c->reason, sizeof c->reason) != 0)
    return mmc_fail(err, MMC_EINVAL, "event '%s': %s", name, c->reason);
#endif
  return MMC_OK;
}

/* Every task of this process, for the whole-process target. */
static int self_tasks(pid_t **out, size_t *n, mmc_error_t *err) {
  DIR *d = opendir("/proc/self/task");
  size_t cap = 16;
  pid_t *v = malloc(cap * sizeof *v);
  *n = 0;
  if (!d || !v) {
    if (d)
      closedir(d);
    free(v);
    /* Without /proc the calling thread alone (inherit still follows its children). */
    if (!d && (v = malloc(sizeof *v))) {
      v[0] = (pid_t)syscall(SYS_gettid);
      *out = v;
      *n = 1;
      return MMC_OK;
    }
    return mmc_fail(err, MMC_ENOMEM, "out of memory");
  }
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    if (*n == cap) {
      pid_t *nv = realloc(v, 2 * cap * sizeof *v);
      if (!nv) {
        closedir(d);
        free(v);
        return mmc_fail(err, MMC_ENOMEM, "out of memory");
      }
      v = nv;
      cap *= 2;
    }
    v[(*n)++] = (pid_t)atoi(e->d_name);
  }
  closedir(d);
  *out = v;
  return MMC_OK;
}

int perf_probe_open(perf_probe_t **out, const char *const *names, size_t nevents, const pid_t *tids,
                    size_t ntids, mmc_error_t *err) {
  *out = NULL;
  if (!names)
    nevents = NEVENTS;
  for (size_t i = 0; names && i < nevents; i++) {
    int rc = perf_probe_check_name(names[i], err);
    if (rc)
      return rc;
  }
  perf_probe_t *p = calloc(1, sizeof *p);
  if (!p)
    return mmc_fail(err, MMC_ENOMEM, "out of memory");
  int rc = MMC_OK;
  if (tids && ntids) {
    p->tids = malloc(ntids * sizeof *p->tids);
    if (!p->tids)
      rc = mmc_fail(err, MMC_ENOMEM, "out of memory");
    else
      memcpy(p->tids, tids, ntids * sizeof *tids);
    p->ntids = ntids;
  } else {
    p->inherit = true;
    rc = self_tasks(&p->tids, &p->ntids, err);
  }
  if (!rc && !(p->c = calloc(nevents, sizeof *p->c)))
    rc = mmc_fail(err, MMC_ENOMEM, "out of memory");
  for (size_t i = 0; !rc && i < nevents; i++) {
    rc = init_counter(&p->c[i], names ? names[i] : events[i].name, p->ntids, err);
    if (!rc)
      p->n++;
  }
  for (size_t i = 0; !rc && i < p->n; i++) {
    counter_t *c = &p->c[i];
#if !MMCERT_HAVE_LIBPFM
    if (c->kind == PERF_PROBE_RAW) { /* unreachable: check_name refused it */
      snprintf(c->reason, sizeof c->reason, "libpfm4 not built in");
      continue;
    }
#endif
    open_counter(c, p->tids, p->ntids, p->inherit);
  }
  if (rc) {
    perf_probe_close(p);
    return rc;
  }
  *out = p;
  return MMC_OK;
}

size_t perf_probe_count(const perf_probe_t *p) {
  return p ? p->n : 0;
}

static void read_counter(counter_t *c, size_t ntids, perf_probe_reading_t *r) {
  uint64_t sum = 0, enabled = 0, running = 0;
  for (size_t t = 0; t < ntids; t++) {
    uint64_t v[3];
    ssize_t got = read(c->fds[t], v, sizeof v);
    if (got != (ssize_t)sizeof v) {
      snprintf(r->reason, sizeof r->reason, "reading the counter failed: %s",
               got < 0 ? strerror(errno) : "short read");
      return;
    }
    sum += v[0];
    enabled += v[1];
    running += v[2];
  }
  if (running == 0) {
    /* Never a zero reading: a counter that never ran counted nothing. */
    snprintf(r->reason, sizeof r->reason,
             "the kernel never ran the counter (time_running 0 of %" PRIu64 " ns enabled)%s",
             enabled, c->kind == PERF_PROBE_SOFTWARE ? "" : ": no PMU slot was free");
    return;
  }
  r->supported = true;
  r->running_fraction = enabled ? (double)running / (double)enabled : 1.0;
  r->value = running < enabled ? (uint64_t)((double)sum * (double)enabled / (double)running) : sum;
  if (running < enabled)
    snprintf(r->reason, sizeof r->reason,
             "multiplexed: counted %.0f%% of the time, value scaled up",
             100.0 * r->running_fraction);
  if (c->user_only) {
    size_t l = strlen(r->reason);
    snprintf(r->reason + l, sizeof r->reason - l, "%suser space only (perf_event_paranoid %d)",
             l ? "; " : "", perf_probe_paranoid());
  }
}

void perf_probe_read(perf_probe_t *p, perf_probe_reading_t *out) {
  for (size_t i = 0; i < p->n; i++) {
    counter_t *c = &p->c[i];
    perf_probe_reading_t *r = &out[i];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", c->name);
    r->unit = c->unit;
    r->kind = c->kind;
    r->user_only = c->user_only;
    if (!c->supported) {
      snprintf(r->reason, sizeof r->reason, "%s", c->reason);
      continue;
    }
    read_counter(c, p->ntids, r);
  }
}

void perf_probe_close(perf_probe_t *p) {
  if (!p)
    return;
  for (size_t i = 0; i < p->n; i++) {
    close_fds(&p->c[i], p->ntids);
    free(p->c[i].fds);
  }
  free(p->c);
  free(p->tids);
  free(p);
}

/* ------------------------------------------------------------ cases */

struct sc_perf {
  perf_probe_t *probe;
};

sc_perf_t *sc_perf_begin(suite_ctx_t *c, const pid_t *tids, size_t ntids) {
  sc_perf_t *s = calloc(1, sizeof *s);
  mmc_error_t err = {0};
  if (!s)
    sc_broken(c, "sc_perf_begin: out of memory");
  int rc = perf_probe_open(&s->probe, NULL, 0, tids, ntids, &err);
  if (rc) {
    free(s);
    sc_require(c, rc, &err, "sc_perf_begin");
  }
  return s;
}

/* NUMA-7/MIG-1's remote-access fraction: node-load-misses / node-loads
 * (the generic node cache events count reads served by a remote node as
 * misses). Unsupported, with the reason, when either event is. */
static void remote_fraction(suite_ctx_t *c, const perf_probe_reading_t *r, size_t n) {
  const perf_probe_reading_t *loads = NULL, *misses = NULL;
  for (size_t i = 0; i < n; i++) {
    if (!strcmp(r[i].name, "node-loads"))
      loads = &r[i];
    else if (!strcmp(r[i].name, "node-load-misses"))
      misses = &r[i];
  }
  char why[PERF_PROBE_REASON_MAX + PERF_PROBE_NAME_MAX + 8];
  if (!loads || !misses)
    return;
  if (!loads->supported || !misses->supported) {
    snprintf(why, sizeof why, "%s: %s", loads->supported ? misses->name : loads->name,
             loads->supported ? misses->reason : loads->reason);
    sc_metric_unsupported(c, "perf.remote_access_fraction", "fraction", why);
  } else if (loads->value == 0) {
    sc_metric_unsupported(c, "perf.remote_access_fraction", "fraction",
                          "node-loads counted no loads: no fraction to compute");
  } else {
    sc_metric(c, "perf.remote_access_fraction", "fraction", "lower",
              (double)misses->value / (double)loads->value);
  }
}

void sc_perf_end(suite_ctx_t *c, sc_perf_t *s) {
  if (!s)
    return;
  size_t n = perf_probe_count(s->probe);
  perf_probe_reading_t *r = calloc(n ? n : 1, sizeof *r);
  if (!r)
    sc_broken(c, "sc_perf_end: out of memory");
  perf_probe_read(s->probe, r);
  for (size_t i = 0; i < n; i++) {
    char name[PERF_PROBE_NAME_MAX + 8];
    snprintf(name, sizeof name, "perf.%s", r[i].name);
    if (r[i].supported)
      sc_metric(c, name, r[i].unit, "", (double)r[i].value);
    else
      sc_metric_unsupported(c, name, r[i].unit, r[i].reason);
    if (r[i].supported && r[i].reason[0])
      sc_diag(c, "%s: %s", name, r[i].reason);
  }
  remote_fraction(c, r, n);
  free(r);
  perf_probe_close(s->probe);
  free(s);
}
