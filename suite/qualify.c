/*
 * qualify.c — `mmcert qualify`: qualify the machine this runs on
 * for a NUMA memory manager. Phases, in order: topology and firmware
 * distances (hwloc), a measured latency matrix (topology_measure.c's
 * pointer chase), a STREAM-like bandwidth matrix, move_pages(2) migration
 * throughput per node pair, with --impl the same through the contract's
 * move_range (qualify_engine.c), the perf events available (probes/perf.c); then
 * checks, a text table on stdout, a JSON report written atomically
 * (results.c's writer) and gnuplot heatmaps when gnuplot exists.
 *
 * Checks (each pass, fail, or not applicable with the reason):
 *  - latency ordering follows the firmware distances: Spearman's rho over
 *    every measured (CPU node, memory node) pair >= QUALIFY_RHO_MIN;
 *  - local faster than remote: in every row, the local entry is the lowest;
 *  - symmetric: |lat(i,j) - lat(j,i)| <= QUALIFY_SYMMETRY_TOL of the smaller.
 *
 * Invariants: nothing measured is invented (entries that cannot be measured
 * are null in JSON and "n/a" in text, with the reason); a SIGINT or SIGTERM
 * stops at the next poll, the report is written with "complete": false and
 * the command exits 128+signal; usage errors exit 2 before anything runs.
 */
#include "qualify.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "probes/perf.h"
#include "qualify_read.h"
#include "results.h"
#include "runner.h"
#include "supervise.h"

#define QUALIFY_RHO_MIN 0.7       /* rank agreement demanded of latency vs firmware */
#define QUALIFY_SYMMETRY_TOL 0.10 /* allowed relative difference of i->j and j->i */
#define MIB ((size_t)1 << 20)
#define LLC_FALLBACK (32 * MIB) /* when sysfs gives no cache sizes */
/* Buffer sizes: multiples of the LLC with a floor, capped by node memory. */
#define LAT_LLC_X_FULL 8
#define LAT_LLC_X_QUICK 4
#define LAT_FLOOR_FULL (256 * MIB)
#define LAT_FLOOR_QUICK (64 * MIB)
#define BW_LLC_X_FULL 4 /* STREAM: each array at least 4x the caches */
#define BW_LLC_X_QUICK 2
#define BW_FLOOR (16 * MIB)
#define BW_REPS_FULL 10
#define BW_REPS_QUICK 3
#define MIG_BYTES_FULL (256 * MIB)
#define MIG_BYTES_QUICK (64 * MIB)
#define NODE_MEM_DIVISOR 4 /* never ask one node for more than this share */
#define ENGINE_HOST_X 4    /* the engine's host gets this many VMs' worth per node */
#define PMU_MAX_EVENTS 64
#define PMU_TOUCH_PAGES 256 /* a little work for the PMU readings */
#define EXIT_SIGNAL_BASE 128
#define DIR_MAX 1024 /* -o DIR length limit, so file names under it always fit */

typedef enum { ST_NOT_RUN = 0, ST_DONE, ST_NA, ST_ERROR, ST_INTERRUPTED } status_t;
static const char *const status_names[] = {"not run", "measured", "not applicable", "error",
                                           "interrupted"};

typedef struct phase {
  status_t st;
  char reason[640];
} phase_t;

typedef enum { CK_PASS, CK_FAIL, CK_NA } check_status_t;
static const char *const check_names[] = {"pass", "fail", "not applicable"};

typedef struct check {
  const char *name;
  check_status_t st;
  char detail[512];
} check_t;

typedef struct mig_pair {
  uint32_t from, to; /* indices */
  bool measured;
  suite_qm_migration_t m;
  char error[MMC_ERRMSG_MAX + 32];
} mig_pair_t;

typedef struct opts {
  const char *impl; /* --impl: also measure mmcert's engine (move_range) */
  const char *json;
  const char *outdir;
  bool quick;
  char *events_buf;
  const char **events;
  size_t nevents;
} opts_t;

typedef struct report {
  opts_t *o;
  mmt_topology_t *t;
  uint32_t n;
  uint32_t *fw; /* distances as loaded (mmt_measure_distances replaces the topology's) */
  const char *fw_origin;
  bool fw_from_firmware;
  double start, end;
  suite_qm_virt_t virt;
  size_t llc;
  bool llc_known;
  phase_t lat, bw, mig, pmu, eng;
  const suite_impl_t *si; /* --impl, loaded */
  mig_pair_t *eng_pairs;
  size_t neng;
  size_t lat_bytes, bw_bytes, mig_bytes;
  unsigned bw_reps;
  double *lat_ns, *copy, *triad; /* n*n, NAN = not measured */
  char lat_note[256];
  mig_pair_t *pairs;
  size_t npairs;
  perf_probe_reading_t *ev;
  size_t nev;
  char raw_note[512]; /* named raw NUMA events: what was tried, or why none */
  int paranoid;
  bool privileged;
  check_t checks[3];
  char plots_note[2 * DIR_MAX];
  char plot_files[4][32];
  int nplots;
  char json_path[PATH_MAX + 16];
  char dir[DIR_MAX];
} report_t;

static const char usage[] =
    "Usage: mmcert qualify [--quick] [--json FILE] [-o DIR] [--events LIST] [--impl PATH]\n"
    "Measure this machine: firmware NUMA distances, latency and bandwidth matrices,\n"
    "move_pages throughput, available perf events; check them; write a report.\n"
    "  --quick         smaller buffers and fewer repetitions\n"
    "  --json FILE     JSON report (default DIR/qualify.json)\n"
    "  -o, --output DIR  directory for the report and the heatmaps\n"
    "                  (default results/qualify-<time>; created when missing)\n"
    "  --events LIST   comma-separated perf events to probe (default all built-in;\n"
    "                  pfm:NAME for named raw events when built with libpfm4)\n"
    "  --impl PATH     also time mmcert's own engine: move_range of a VM from each\n"
    "                  node to each other (needs MMC_CAP_MOVE_RANGE)\n"
    "Plots need gnuplot (configure's, or $MMCERT_GNUPLOT); without it they are skipped.\n"
    "Exit: 0 complete and every applicable check passed, 1 a check failed or a\n"
    "measurement failed, 2 bad usage, 128+N interrupted by signal N (partial report;\n"
    "a second SIGINT/SIGTERM ends it at once, without a report).\n";

static int usage_err(const char *fmt, const char *arg) {
  fprintf(stderr, "mmcert qualify: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nTry 'mmcert qualify --help'.\n");
  return 2;
}

static double now_wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void progress(const char *fmt, const char *arg) {
  fprintf(stderr, "qualify: ");
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  fflush(stderr);
}

/* ------------------------------------------------------------ options */

static int split_events(opts_t *o, const char *list) {
  free(o->events_buf);
  free(o->events);
  o->events_buf = strdup(list);
  o->events = calloc(strlen(list) / 2 + 2, sizeof *o->events);
  o->nevents = 0;
  if (!o->events_buf || !o->events)
    return usage_err("%s", "out of memory");
  for (char *save = NULL, *tok = strtok_r(o->events_buf, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save)) {
    mmc_error_t err = {0};
    if (perf_probe_check_name(tok, &err) != 0)
      return usage_err("--events: %s", err.msg);
    o->events[o->nevents++] = tok;
  }
  if (!o->nevents)
    return usage_err("--events '%s': expected a comma-separated list of event names", list);
  return 0;
}

static int check_paths(const opts_t *o) {
  struct stat st;
  if (o->json) {
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", o->json);
    const char *d = dirname(buf);
    if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode))
      return usage_err("--json: the directory of '%s' does not exist", o->json);
    if (stat(o->json, &st) == 0 && S_ISDIR(st.st_mode))
      return usage_err("--json '%s' is a directory (give a file name)", o->json);
  }
  if (o->outdir && strlen(o->outdir) >= DIR_MAX - 32)
    return usage_err("-o '%s': the path is too long", o->outdir);
  if (o->outdir && stat(o->outdir, &st) == 0 && !S_ISDIR(st.st_mode))
    return usage_err("-o '%s' exists and is not a directory", o->outdir);
  return 0;
}

/* 0 to go on, -1 help shown, 2 usage error. */
static int parse(int argc, char **argv, opts_t *o) {
  enum { O_JSON = 256, O_QUICK, O_EVENTS, O_TOPO, O_HOSTMEM, O_IMPL };
  static const struct option lo[] = {{"json", required_argument, NULL, O_JSON},
                                     {"output", required_argument, NULL, 'o'},
                                     {"quick", no_argument, NULL, O_QUICK},
                                     {"events", required_argument, NULL, O_EVENTS},
                                     {"topology", required_argument, NULL, O_TOPO},
                                     {"host-memory", required_argument, NULL, O_HOSTMEM},
                                     {"impl", required_argument, NULL, O_IMPL},
                                     {"help", no_argument, NULL, 'h'},
                                     {0}};
  int c, rc = 0;
  uint64_t seen = 0;
  char why[256];
  optind = 1;
  while (!rc && (c = suite_cli_getopt(argc, argv, ":o:h", lo, NULL, &seen)) != -1) {
    switch (c) {
    case O_JSON: o->json = optarg; break;
    case 'o': o->outdir = optarg; break;
    case O_QUICK: o->quick = true; break;
    case O_IMPL: o->impl = optarg; break;
    case O_EVENTS: rc = split_events(o, optarg); break;
    case O_TOPO:
      return usage_err("--topology '%s' is not meaningful for qualify: it measures this "
                       "machine's real hardware (use 'mmcert topology --topology SPEC' to "
                       "look at a described topology)",
                       optarg);
    case O_HOSTMEM:
      return usage_err("--host-memory '%s' is not meaningful for qualify: it measures the "
                       "machine's memory as it is",
                       optarg);
    case 'h': fputs(usage, stdout); return -1;
    case ':':
    case SUITE_CLI_AGAIN: return usage_err("%s", suite_cli_why(c, argc, argv, lo, why, sizeof why));
    default:
      return usage_err("unknown option '%s' (allowed: --quick, --json FILE, -o DIR, --events "
                       "LIST, --impl PATH, --help)",
                       argv[optind - 1]);
    }
  }
  if (!rc && optind < argc)
    return usage_err("unexpected argument '%s' (qualify takes options only)", argv[optind]);
  return rc ? rc : check_paths(o);
}

/* ------------------------------------------------------------ signals */

/* First signal: finish the current step and write a partial report. A
 * second one: the default action (no report), for a user who cannot wait. */
static void on_signal(int sig) {
  if (suite_qm_stop) {
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  suite_qm_stop = sig;
}

static void install_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* A phase about to start (or go on) stops here when a signal came. */
static bool interrupted(phase_t *p) {
  if (!suite_qm_stop)
    return false;
  p->st = ST_INTERRUPTED;
  snprintf(p->reason, sizeof p->reason, "interrupted by %s before it finished",
           suite_qm_stop == SIGINT ? "SIGINT" : "SIGTERM");
  return true;
}

/* ------------------------------------------------------------ helpers */

static bool has_cpus(const report_t *r, uint32_t i) {
  return r->t->desc.nodes[i].ncpus > 0;
}
static bool has_mem(const report_t *r, uint32_t i) {
  return r->t->desc.nodes[i].memory_bytes > 0;
}
static uint32_t os_id(const report_t *r, uint32_t i) {
  return r->t->desc.nodes[i].os_index;
}

static size_t min_node_memory(const report_t *r) {
  uint64_t m = 0;
  for (uint32_t i = 0; i < r->n; i++)
    if (has_mem(r, i) && (!m || r->t->desc.nodes[i].memory_bytes < m))
      m = r->t->desc.nodes[i].memory_bytes;
  return (size_t)m;
}

static size_t page_round(size_t b) {
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  return b / pg * pg;
}

/* max(floor, llc * x), capped at the smallest node's share. */
static size_t pick_size(const report_t *r, size_t x, size_t floor_bytes) {
  size_t want = r->llc * x > floor_bytes ? r->llc * x : floor_bytes;
  size_t cap = min_node_memory(r) / NODE_MEM_DIVISOR;
  return page_round(want < cap ? want : cap);
}

static void human(size_t b, char *buf, size_t cap) {
  if (b >= (1u << 30))
    snprintf(buf, cap, "%.1f GiB", (double)b / (1u << 30));
  else
    snprintf(buf, cap, "%zu MiB", b / MIB);
}

static double *nan_matrix(uint32_t n) {
  double *m = malloc((size_t)n * n * sizeof *m);
  for (size_t i = 0; m && i < (size_t)n * n; i++)
    m[i] = NAN;
  return m;
}

/* Why entry (i, j) cannot be measured, or NULL. */
static const char *na_why(const report_t *r, uint32_t i, uint32_t j) {
  if (!has_cpus(r, i))
    return "the row's node has no CPUs to run from";
  if (!has_mem(r, j))
    return "the column's node has no memory to bind";
  return NULL;
}

static void note_missing_nodes(const report_t *r, phase_t *p, bool memory_only) {
  size_t o = strlen(p->reason);
  for (uint32_t i = 0; i < r->n; i++) {
    if (memory_only && has_mem(r, i))
      continue; /* a CPU-less node still sends and receives pages */
    const char *what = !has_cpus(r, i) && !has_mem(r, i) ? "neither CPUs nor memory"
                       : !has_cpus(r, i)                 ? "no CPUs (its row is not applicable)"
                       : !has_mem(r, i) ? "no memory (its column is not applicable)"
                                        : NULL;
    if (what && o < sizeof p->reason)
      o += (size_t)snprintf(p->reason + o, sizeof p->reason - o, "%snode %" PRIu32 " has %s",
                            o ? "; " : "", os_id(r, i), what);
  }
}

/* ------------------------------------------------------------ phases */

static void phase_latency(report_t *r) {
  r->lat_bytes = pick_size(r, r->o->quick ? LAT_LLC_X_QUICK : LAT_LLC_X_FULL,
                           r->o->quick ? LAT_FLOOR_QUICK : LAT_FLOOR_FULL);
  if (r->lat_bytes < 2 * r->llc)
    snprintf(r->lat_note, sizeof r->lat_note,
             "the buffer is only %.1fx the largest cache (node memory limits it): some loads "
             "hit in cache",
             (double)r->lat_bytes / (double)r->llc);
  char h[32];
  human(r->lat_bytes, h, sizeof h);
  progress("measuring latency (pointer chase, buffer %s per node)", h);
  if (interrupted(&r->lat))
    return;
  double *ns = calloc((size_t)r->n * r->n, sizeof *ns);
  mmc_error_t err = {0};
  int rc = ns ? mmt_measure_distances(r->t, r->lat_bytes, ns, &err)
              : mmc_fail(&err, MMC_ENOMEM, "out of memory");
  if (rc) {
    r->lat.st = rc == MMC_ENOTSUP ? ST_NA : ST_ERROR;
    snprintf(r->lat.reason, sizeof r->lat.reason, "%s", err.msg);
  } else {
    for (uint32_t i = 0; i < r->n; i++)
      for (uint32_t j = 0; j < r->n; j++)
        if (!na_why(r, i, j) && ns[i * r->n + j] > 0)
          r->lat_ns[i * r->n + j] = ns[i * r->n + j];
    r->lat.st = ST_DONE;
    note_missing_nodes(r, &r->lat, false);
  }
  free(ns);
  /* The chase cannot be cut short: a signal during it stops the next phase. */
}

static void phase_bandwidth(report_t *r) {
  r->bw_bytes = pick_size(r, r->o->quick ? BW_LLC_X_QUICK : BW_LLC_X_FULL, BW_FLOOR);
  r->bw_reps = r->o->quick ? BW_REPS_QUICK : BW_REPS_FULL;
  char h[32];
  human(r->bw_bytes, h, sizeof h);
  progress("measuring bandwidth (copy and triad, 3 arrays of %s per node pair)", h);
  for (uint32_t j = 0; j < r->n; j++) {
    for (uint32_t i = 0; i < r->n; i++) {
      if (interrupted(&r->bw))
        return;
      if (na_why(r, i, j))
        continue;
      mmc_error_t err = {0};
      double c = 0, t = 0;
      int rc = suite_qm_bandwidth(&r->t->desc.nodes[i], &r->t->desc.nodes[j], r->bw_bytes,
                                  r->bw_reps, &c, &t, &err);
      if (rc) {
        r->bw.st = rc == MMC_ENOTSUP ? ST_NA : ST_ERROR;
        snprintf(r->bw.reason, sizeof r->bw.reason, "node %" PRIu32 " -> %" PRIu32 ": %s",
                 os_id(r, i), os_id(r, j), err.msg);
        return;
      }
      if (c > 0)
        r->copy[i * r->n + j] = c;
      if (t > 0)
        r->triad[i * r->n + j] = t;
    }
  }
  if (interrupted(&r->bw))
    return;
  r->bw.st = ST_DONE;
  note_missing_nodes(r, &r->bw, false);
}

static void phase_migration(report_t *r) {
  r->mig_bytes = pick_size(r, 0, r->o->quick ? MIG_BYTES_QUICK : MIG_BYTES_FULL);
  uint32_t nmem = 0;
  for (uint32_t i = 0; i < r->n; i++)
    nmem += has_mem(r, i);
  if (nmem < 2) {
    r->mig.st = ST_NA;
    snprintf(r->mig.reason, sizeof r->mig.reason,
             "page migration needs at least 2 nodes with memory; this machine has %" PRIu32, nmem);
    return;
  }
  char h[32];
  human(r->mig_bytes, h, sizeof h);
  progress("measuring page migration (move_pages of %s per node pair)", h);
  r->pairs = calloc((size_t)nmem * nmem, sizeof *r->pairs);
  if (!r->pairs) {
    r->mig.st = ST_ERROR;
    snprintf(r->mig.reason, sizeof r->mig.reason, "out of memory");
    return;
  }
  for (uint32_t a = 0; a < r->n; a++)
    for (uint32_t b = 0; b < r->n; b++) {
      if (a == b || !has_mem(r, a) || !has_mem(r, b))
        continue;
      if (interrupted(&r->mig))
        return;
      mig_pair_t *p = &r->pairs[r->npairs++];
      p->from = a;
      p->to = b;
      mmc_error_t err = {0};
      int rc = suite_qm_migrate(os_id(r, a), os_id(r, b), r->mig_bytes, &p->m, &err);
      if (rc == MMC_ENOTSUP) {
        r->mig.st = ST_NA;
        snprintf(r->mig.reason, sizeof r->mig.reason, "%s", err.msg);
        return;
      }
      p->measured = rc == 0;
      if (rc)
        snprintf(p->error, sizeof p->error, "%s", err.msg);
    }
  r->mig.st = ST_DONE;
  note_missing_nodes(r, &r->mig, true);
}

/* mmcert's own engine runs in a child (supervise.c): the implementation is
 * loaded there, never in qualify, and a crash costs the pairs not yet
 * measured. The child writes each pair into memory it shares with qualify
 * as soon as it is measured. */
typedef struct engine_shared {
  status_t st;
  char reason[640];
  size_t neng;
  mig_pair_t pairs[]; /* n * n */
} engine_shared_t;

/* A host capped to a few VMs' worth of memory per node (a fresh topology,
 * so the report's stays as measured). */
static void engine_pairs(report_t *r, const mmc_impl_t *im, mmc_host_t *h, engine_shared_t *sh) {
  for (uint32_t a = 0; a < r->n; a++)
    for (uint32_t b = 0; b < r->n; b++) {
      if (a == b || !has_mem(r, a) || !has_mem(r, b))
        continue;
      mig_pair_t *p = &sh->pairs[sh->neng];
      p->from = a;
      p->to = b;
      mmc_error_t err = {0};
      int rc = suite_qm_engine_migrate(im, h, a, has_cpus(r, a), b, r->mig_bytes, &p->m, &err);
      p->measured = rc == 0;
      if (rc)
        snprintf(p->error, sizeof p->error, "%s (%s)", err.msg, mmc_status_name(rc));
      sh->neng++;
    }
  sh->st = ST_DONE;
}

typedef struct engine_job {
  report_t *r;
  engine_shared_t *sh;
} engine_job_t;

static _Noreturn void engine_child(void *arg, int fd) {
  engine_job_t *j = arg;
  report_t *r = j->r;
  const mmc_impl_t *im = NULL;
  mmt_topology_t *t = NULL;
  mmc_host_t *h = NULL;
  mmc_error_t err = {0};
  uint32_t nmem = 0;
  for (uint32_t i = 0; i < r->n; i++)
    nmem += has_mem(r, i);
  int rc = suite_impl_open(r->si, &im, &err);
  if (!rc)
    rc = mmt_load(NULL, &t, &err);
  if (!rc)
    rc = mmt_cap_memory(t, (uint64_t)nmem * ENGINE_HOST_X * r->mig_bytes, &err);
  if (!rc)
    rc = suite_qm_engine_host(im, t, &h, &err);
  if (rc) {
    j->sh->st = rc == MMC_ENOTSUP ? ST_NA : ST_ERROR;
    snprintf(j->sh->reason, sizeof j->sh->reason, "%s", err.msg);
  } else {
    engine_pairs(r, im, h, j->sh);
  }
  if (h)
    im->host_destroy(h);
  mmt_free(t);
  (void)fd;
  _exit(0);
}

static int ignore_bytes(void *ctx, const unsigned char *buf, size_t len, size_t *used) {
  (void)ctx, (void)buf;
  *used = len;
  return 0;
}

/* The child's end as the phase's status; the pairs it measured are kept. */
static void engine_end(report_t *r, const engine_shared_t *sh, const suite_sup_end_t *e) {
  r->eng.st = sh->st;
  snprintf(r->eng.reason, sizeof r->eng.reason, "%s", sh->reason);
  if (sh->st == ST_DONE || sh->st == ST_NA)
    return;
  r->eng.st = ST_ERROR;
  if (suite_qm_stop)
    interrupted(&r->eng);
  else if (e->status < 0)
    snprintf(r->eng.reason, sizeof r->eng.reason, "%s", e->error);
  else if (WIFSIGNALED(e->status))
    snprintf(r->eng.reason, sizeof r->eng.reason,
             "the implementation's process was killed by signal %d (%s) after %zu node "
             "pair%s; the pairs measured are kept",
             WTERMSIG(e->status), strsignal(WTERMSIG(e->status)), sh->neng,
             sh->neng == 1 ? "" : "s");
  else if (!sh->reason[0])
    snprintf(r->eng.reason, sizeof r->eng.reason,
             "the implementation's process exited with status %d after %zu node pair%s",
             WIFEXITED(e->status) ? WEXITSTATUS(e->status) : -1, sh->neng,
             sh->neng == 1 ? "" : "s");
}

static void phase_engine(report_t *r) {
  if (!r->si) {
    r->eng.st = ST_NA;
    snprintf(r->eng.reason, sizeof r->eng.reason,
             "not measured: give --impl PATH (an implementation with MMC_CAP_MOVE_RANGE)");
    return;
  }
  if (r->mig.st == ST_NA && !r->npairs) {
    r->eng.st = ST_NA;
    snprintf(r->eng.reason, sizeof r->eng.reason, "%s", r->mig.reason);
    return;
  }
  if (interrupted(&r->eng))
    return;
  progress("measuring mmcert's engine (move_range with %s)", r->si->path);
  size_t bytes = sizeof(engine_shared_t) + (size_t)r->n * r->n * sizeof(mig_pair_t);
  engine_shared_t *sh =
      mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  r->eng_pairs = calloc((size_t)r->n * r->n, sizeof *r->eng_pairs);
  if (sh == MAP_FAILED || !r->eng_pairs) {
    r->eng.st = ST_ERROR;
    snprintf(r->eng.reason, sizeof r->eng.reason, "out of memory");
    if (sh != MAP_FAILED)
      munmap(sh, bytes);
    return;
  }
  sh->st = ST_NOT_RUN;
  engine_job_t j = {.r = r, .sh = sh};
  suite_sup_job_t job = {.what = "qualify engine measurement",
                         .child = engine_child,
                         .arg = &j,
                         .consume = ignore_bytes,
                         .stop = &suite_qm_stop};
  suite_sup_end_t e;
  suite_sup_run(&job, &e);
  r->neng = sh->neng;
  memcpy(r->eng_pairs, sh->pairs, r->neng * sizeof *r->eng_pairs);
  engine_end(r, sh, &e);
  if (e.nescaped)
    fprintf(stderr,
            "mmcert qualify: %u process%s the implementation started outlived it "
            "(killed): %s\n",
            e.nescaped, e.nescaped == 1 ? "" : "es", e.escaped);
  munmap(sh, bytes);
}

/* Fresh anonymous pages (not recycled heap), so each touch is a fault. */
static void touch_pages(size_t n) {
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  char *b = mmap(NULL, n * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (b == MAP_FAILED)
    return;
  for (size_t i = 0; i < n; i++)
    ((volatile char *)b)[i * pg] = 1;
  munmap(b, n * pg);
}

/* Which numatop-style remote/local DRAM events this CPU has (through
 * libpfm4); they are probed with the others unless --events chose. */
static void raw_numa_note(report_t *r) {
#if MMCERT_HAVE_LIBPFM
  size_t n, known = 0, o = 0;
  const char *const *names = perf_probe_numa_raw_events(&n);
  for (size_t i = 0; i < n; i++) {
    mmc_error_t err = {0};
    if (perf_probe_check_name(names[i], &err) == 0 && o < sizeof r->raw_note) {
      known++;
      o += (size_t)snprintf(r->raw_note + o, sizeof r->raw_note - o, "%s%s", o ? ", " : "",
                            names[i]);
    }
  }
  if (!known)
    snprintf(r->raw_note, sizeof r->raw_note,
             "libpfm4 knows none of the remote/local DRAM events mmcert looks for on this CPU "
             "(Intel Skylake+/Haswell, AMD Zen 4 names)");
#else
  snprintf(r->raw_note, sizeof r->raw_note,
           "unsupported: named raw PMU events (remote/local DRAM loads, as numatop reads them) "
           "need libpfm4, and this mmcert was built without it (libpfm4-dev, then ./configure)");
#endif
}

static void phase_pmu(report_t *r) {
  progress("%s", "probing perf events");
  r->paranoid = perf_probe_paranoid();
  r->privileged = perf_probe_privileged();
  if (interrupted(&r->pmu))
    return;
  perf_probe_t *p = NULL;
  mmc_error_t err = {0};
  raw_numa_note(r);
  /* Default set: every built-in event, plus the raw NUMA events libpfm4 knows. */
  const char *all[PMU_MAX_EVENTS];
  const char **names = r->o->events;
  size_t nn = r->o->nevents, nb, nraw;
  const perf_probe_event_info_t *b = perf_probe_events(&nb);
  const char *const *raw = perf_probe_numa_raw_events(&nraw);
  if (!names) {
    for (size_t i = 0; i < nb && nn < PMU_MAX_EVENTS; i++)
      all[nn++] = b[i].name;
    for (size_t i = 0; MMCERT_HAVE_LIBPFM && i < nraw && nn < PMU_MAX_EVENTS; i++)
      if (perf_probe_check_name(raw[i], &err) == 0)
        all[nn++] = raw[i];
    names = all;
  }
  if (perf_probe_open(&p, names, nn, NULL, 0, &err) != 0) {
    r->pmu.st = ST_ERROR;
    snprintf(r->pmu.reason, sizeof r->pmu.reason, "%s", err.msg);
    return;
  }
  touch_pages(PMU_TOUCH_PAGES);
  r->nev = perf_probe_count(p);
  r->ev = calloc(r->nev ? r->nev : 1, sizeof *r->ev);
  if (r->ev)
    perf_probe_read(p, r->ev);
  else
    r->nev = 0;
  perf_probe_close(p);
  r->pmu.st = ST_DONE;
}

/* ------------------------------------------------------------ checks */

static void check_rank(report_t *r, check_t *c) {
  c->name = "latency ordering follows the firmware distances";
  c->st = CK_NA;
  size_t cap = (size_t)r->n * r->n, k = 0;
  double *x = malloc(cap * sizeof *x), *y = malloc(cap * sizeof *y);
  for (uint32_t i = 0; x && y && i < r->n; i++)
    for (uint32_t j = 0; j < r->n; j++)
      if (!isnan(r->lat_ns[i * r->n + j])) {
        x[k] = r->fw[i * r->n + j];
        y[k++] = r->lat_ns[i * r->n + j];
      }
  if (r->n < 2)
    snprintf(c->detail, sizeof c->detail, "needs at least 2 NUMA nodes; this machine has 1");
  else if (!r->fw_from_firmware)
    snprintf(c->detail, sizeof c->detail, "no firmware distance table to compare with (%s)",
             r->fw_origin);
  else if (k < 3)
    snprintf(c->detail, sizeof c->detail, "only %zu node pairs were measured; needs 3", k);
  else {
    double rho = suite_qm_spearman(x, y, k);
    if (isnan(rho))
      snprintf(c->detail, sizeof c->detail,
               "Spearman's rho is undefined: the firmware distances or the latencies of the %zu "
               "measured pairs are all equal",
               k);
    else {
      c->st = rho >= QUALIFY_RHO_MIN ? CK_PASS : CK_FAIL;
      snprintf(c->detail, sizeof c->detail,
               "Spearman's rho = %.3f over %zu measured pairs (threshold %.2f)", rho, k,
               QUALIFY_RHO_MIN);
    }
  }
  free(x);
  free(y);
}

static void check_local(report_t *r, check_t *c) {
  c->name = "local memory is faster than remote";
  c->st = CK_NA;
  size_t rows = 0, bad = 0, o = 0;
  for (uint32_t i = 0; i < r->n; i++) {
    double local = r->lat_ns[i * r->n + i];
    if (isnan(local))
      continue;
    for (uint32_t j = 0; j < r->n; j++) {
      double v = r->lat_ns[i * r->n + j];
      if (j == i || isnan(v))
        continue;
      rows++;
      if (v <= local) {
        bad++;
        if (o < sizeof c->detail)
          o += (size_t)snprintf(c->detail + o, sizeof c->detail - o,
                                "%snode %" PRIu32 ": local %.1f ns, node %" PRIu32 " %.1f ns",
                                o ? "; " : "", os_id(r, i), local, os_id(r, j), v);
      }
    }
  }
  if (!rows) {
    snprintf(c->detail, sizeof c->detail,
             r->n < 2 ? "needs at least 2 NUMA nodes; this machine has 1"
                      : "no node has both a local and a remote entry measured");
    return;
  }
  c->st = bad ? CK_FAIL : CK_PASS;
  if (!bad)
    snprintf(c->detail, sizeof c->detail, "%zu remote entries, each slower than its row's local",
             rows);
}

static void check_symmetry(report_t *r, check_t *c) {
  c->name = "latency is symmetric";
  c->st = CK_NA;
  size_t pairs = 0, bad = 0;
  double worst = 0;
  uint32_t wi = 0, wj = 0;
  for (uint32_t i = 0; i < r->n; i++)
    for (uint32_t j = i + 1; j < r->n; j++) {
      double a = r->lat_ns[i * r->n + j], b = r->lat_ns[j * r->n + i];
      if (isnan(a) || isnan(b))
        continue;
      pairs++;
      double rel = fabs(a - b) / fmin(a, b);
      bad += rel > QUALIFY_SYMMETRY_TOL;
      if (rel > worst)
        worst = rel, wi = i, wj = j;
    }
  if (!pairs) {
    snprintf(c->detail, sizeof c->detail,
             r->n < 2 ? "needs at least 2 NUMA nodes; this machine has 1"
                      : "no pair of nodes was measured in both directions");
    return;
  }
  c->st = bad ? CK_FAIL : CK_PASS;
  snprintf(c->detail, sizeof c->detail,
           "%zu of %zu pairs differ by more than %.0f%%; worst %.1f%% (nodes %" PRIu32
           " and %" PRIu32 ")",
           bad, pairs, 100 * QUALIFY_SYMMETRY_TOL, 100 * worst, os_id(r, wi), os_id(r, wj));
}

static void run_checks(report_t *r) {
  check_rank(r, &r->checks[0]);
  check_local(r, &r->checks[1]);
  check_symmetry(r, &r->checks[2]);
  if (r->lat.st != ST_DONE)
    for (int k = 0; k < 3; k++)
      if (r->checks[k].st == CK_NA && r->n >= 2)
        snprintf(r->checks[k].detail, sizeof r->checks[k].detail, "latency was not measured (%s)",
                 status_names[r->lat.st]);
}

/* ------------------------------------------------------------ text */

static void print_matrix(FILE *f, const report_t *r, const double *m, const char *fmt) {
  fprintf(f, "  %8s", "cpu\\mem");
  for (uint32_t j = 0; j < r->n; j++)
    fprintf(f, " %9" PRIu32, os_id(r, j));
  fputc('\n', f);
  for (uint32_t i = 0; i < r->n; i++) {
    fprintf(f, "  %8" PRIu32, os_id(r, i));
    for (uint32_t j = 0; j < r->n; j++) {
      double v = m[i * r->n + j];
      if (isnan(v))
        fprintf(f, " %9s", "n/a");
      else
        fprintf(f, fmt, v);
    }
    fputc('\n', f);
  }
}

static void print_phase(FILE *f, const char *title, const phase_t *p) {
  fprintf(f, "\n%s: %s", title, status_names[p->st]);
  if (p->st != ST_DONE && p->reason[0])
    fprintf(f, ": %s", p->reason);
  fputc('\n', f);
  if (p->st == ST_DONE && p->reason[0])
    fprintf(f, "  note: %s\n", p->reason);
}

static void print_header(FILE *f, const report_t *r) {
  fprintf(f, "mmcert qualify %s — %s\n", MMCERT_VERSION, r->t->source);
  if (r->virt.is_virtual)
    fprintf(f, "machine: VIRTUAL (%s): these are not hardware numbers\n", r->virt.evidence);
  else
    fprintf(f, "machine: no sign of a hypervisor (%s)\n",
            r->virt.evidence[0] ? r->virt.evidence : "CPUID hypervisor bit clear");
  fprintf(f, "NUMA nodes: %" PRIu32 "%s\n", r->n,
          r->n == 1 ? " — this machine has ONE node: every matrix below has one entry, and "
                      "checks that compare nodes are not applicable"
                    : "");
  for (uint32_t i = 0; i < r->n; i++) {
    const mmc_node_t *nd = &r->t->desc.nodes[i];
    char h[32];
    human((size_t)nd->memory_bytes, h, sizeof h);
    fprintf(f, "  node %" PRIu32 ": %" PRIu32 " CPUs, %s\n", nd->os_index, nd->ncpus,
            nd->memory_bytes ? h : "no memory");
  }
  fprintf(f, "\nfirmware distances (%s):\n", r->fw_origin);
  double *fw = nan_matrix(r->n);
  for (size_t k = 0; fw && k < (size_t)r->n * r->n; k++)
    fw[k] = r->fw[k];
  if (fw)
    print_matrix(f, r, fw, " %9.0f");
  free(fw);
}

static void print_text(FILE *f, const report_t *r) {
  print_header(f, r);
  char h[32];
  human(r->lat_bytes, h, sizeof h);
  print_phase(f, "latency (ns per dependent load; rows: CPUs of node, columns: memory of node)",
              &r->lat);
  if (r->lat.st == ST_DONE) {
    fprintf(f, "  buffer %s, largest cache %zu MiB%s%s\n", h, r->llc / MIB,
            r->llc_known ? "" : " (assumed: sysfs gives none)", r->lat_note[0] ? "; " : "");
    if (r->lat_note[0])
      fprintf(f, "  %s\n", r->lat_note);
    print_matrix(f, r, r->lat_ns, " %9.1f");
  }
  human(r->bw_bytes, h, sizeof h);
  print_phase(f, "bandwidth (GB/s, best of repetitions; threads on every CPU of the row's node)",
              &r->bw);
  if (r->bw.st == ST_DONE || (r->bw.st == ST_INTERRUPTED && r->bw_bytes)) {
    fprintf(f, "  arrays of %s, %u repetitions\n  copy:\n", h, r->bw_reps);
    print_matrix(f, r, r->copy, " %9.2f");
    fprintf(f, "  triad:\n");
    print_matrix(f, r, r->triad, " %9.2f");
  }
  print_phase(f, "page migration (move_pages(2))", &r->mig);
  for (size_t k = 0; k < r->npairs; k++) {
    const mig_pair_t *p = &r->pairs[k];
    if (p->measured)
      fprintf(f,
              "  %" PRIu32 " -> %" PRIu32 ": %.2f GB/s (%" PRIu64 " of %" PRIu64
              " pages moved in %.3f s, %u call%s)%s%s\n",
              os_id(r, p->from), os_id(r, p->to), p->m.gbs, p->m.moved, p->m.pages, p->m.seconds,
              p->m.calls, p->m.calls == 1 ? "" : "s",
              p->m.first_bad_status ? "; first page left behind: " : "",
              p->m.first_bad_status ? strerror(-p->m.first_bad_status) : "");
    else
      fprintf(f, "  %" PRIu32 " -> %" PRIu32 ": error: %s\n", os_id(r, p->from), os_id(r, p->to),
              p->error);
  }
  print_phase(f, "page migration by mmcert's engine (move_range)", &r->eng);
  for (size_t k = 0; k < r->neng; k++) {
    const mig_pair_t *p = &r->eng_pairs[k];
    if (p->measured)
      fprintf(f,
              "  %" PRIu32 " -> %" PRIu32 ": %.2f GB/s (%" PRIu64 " of %" PRIu64
              " pages moved in %.3f s)\n",
              os_id(r, p->from), os_id(r, p->to), p->m.gbs, p->m.moved, p->m.pages, p->m.seconds);
    else
      fprintf(f, "  %" PRIu32 " -> %" PRIu32 ": error: %s\n", os_id(r, p->from), os_id(r, p->to),
              p->error);
  }
  print_phase(f, "perf events", &r->pmu);
  if (r->pmu.st == ST_DONE)
    fprintf(f, "  perf_event_paranoid %d, %s, libpfm4 %s\n", r->paranoid,
            r->privileged ? "privileged" : "unprivileged",
            MMCERT_HAVE_LIBPFM ? "built in" : "not built in (no named raw events)");
  if (r->pmu.st == ST_DONE)
    fprintf(f, "  raw NUMA events (libpfm4): %s\n", r->raw_note);
  for (size_t k = 0; k < r->nev; k++) {
    const perf_probe_reading_t *e = &r->ev[k];
    if (e->supported)
      fprintf(f, "  %-18s %-15s available (read %" PRIu64 " %s)%s%s\n", e->name,
              perf_probe_kind_name(e->kind), e->value, e->unit, e->reason[0] ? ": " : "",
              e->reason);
    else
      fprintf(f, "  %-18s %-15s unsupported: %s\n", e->name, perf_probe_kind_name(e->kind),
              e->reason);
  }
  fprintf(f, "\nchecks:\n");
  for (int k = 0; k < 3; k++)
    fprintf(f, "  %-4s %s: %s\n",
            r->checks[k].st == CK_PASS   ? "PASS"
            : r->checks[k].st == CK_FAIL ? "FAIL"
                                         : "N/A",
            r->checks[k].name, r->checks[k].detail);
  bool failed = false;
  for (int k = 0; k < 3; k++)
    failed |= r->checks[k].st == CK_FAIL;
  if (r->virt.is_virtual && failed)
    fprintf(f, "  (virtual machine: the guest's NUMA latencies are emulated, so a failed check "
               "describes the hypervisor, not hardware)\n");
  fprintf(f, "\nplots: %s\n", r->plots_note);
}

/* ------------------------------------------------------------ JSON */

static json_t *matrix_json(const report_t *r, const double *m) {
  json_t *rows = json_array();
  for (uint32_t i = 0; i < r->n; i++) {
    json_t *row = json_array();
    for (uint32_t j = 0; j < r->n; j++) {
      double v = m[i * r->n + j];
      json_array_append_new(row, isnan(v) ? json_null() : json_real(v));
    }
    json_array_append_new(rows, row);
  }
  return rows;
}

static json_t *phase_json(const phase_t *p) {
  return json_pack("{s:s, s:s}", "status", status_names[p->st], "reason", p->reason);
}

static json_t *topology_json(const report_t *r) {
  json_t *nodes = json_array(), *dist = json_array();
  for (uint32_t i = 0; i < r->n; i++) {
    const mmc_node_t *nd = &r->t->desc.nodes[i];
    json_t *cpus = json_array(), *row = json_array();
    for (uint32_t c = 0; c < nd->ncpus; c++)
      json_array_append_new(cpus, json_integer(nd->cpus[c]));
    json_array_append_new(nodes, json_pack("{s:i, s:I, s:I, s:o}", "index", (int)i, "os_index",
                                           (json_int_t)nd->os_index, "memory_bytes",
                                           (json_int_t)nd->memory_bytes, "cpus", cpus));
    for (uint32_t j = 0; j < r->n; j++)
      json_array_append_new(row, json_integer(r->fw[i * r->n + j]));
    json_array_append_new(dist, row);
  }
  return json_pack("{s:i, s:o, s:o, s:s, s:b}", "nnodes", (int)r->n, "nodes", nodes,
                   "firmware_distances", dist, "distance_origin", r->fw_origin,
                   "distances_from_firmware", r->fw_from_firmware);
}

static json_t *machine_json(const report_t *r) {
  struct utsname u;
  char host[256] = "", cls[192];
  gethostname(host, sizeof host - 1);
  suite_machine_class(cls, sizeof cls);
  if (uname(&u) != 0)
    memset(&u, 0, sizeof u);
  return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:{s:b, s:s, s:s, s:s, s:s}}", "hostname", host,
                   "class", cls, "kernel", u.release, "arch", u.machine, "cpus",
                   (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "largest_cache_bytes",
                   (json_int_t)r->llc, "virtualization", "virtual", r->virt.is_virtual,
                   "cpuid_hypervisor", r->virt.hypervisor, "dmi_sys_vendor", r->virt.dmi_vendor,
                   "dmi_product_name", r->virt.dmi_product, "evidence", r->virt.evidence);
}

static json_t *pairs_json(const report_t *r, const mig_pair_t *pairs, size_t n) {
  json_t *a = json_array();
  for (size_t k = 0; k < n; k++) {
    const mig_pair_t *p = &pairs[k];
    json_t *o = json_pack("{s:I, s:I, s:b}", "from", (json_int_t)os_id(r, p->from), "to",
                          (json_int_t)os_id(r, p->to), "measured", p->measured);
    if (p->measured) {
      json_object_set_new(o, "pages", json_integer((json_int_t)p->m.pages));
      json_object_set_new(o, "pages_moved", json_integer((json_int_t)p->m.moved));
      json_object_set_new(o, "seconds", json_real(p->m.seconds));
      json_object_set_new(o, "calls", json_integer(p->m.calls));
      json_object_set_new(o, "gb_per_s", json_real(p->m.gbs));
      if (p->m.first_bad_status)
        json_object_set_new(o, "first_unmoved_status",
                            json_string(strerror(-p->m.first_bad_status)));
    } else {
      json_object_set_new(o, "error", json_string(p->error));
    }
    json_array_append_new(a, o);
  }
  return a;
}

static json_t *migration_json(const report_t *r) {
  json_t *m = phase_json(&r->mig), *e = phase_json(&r->eng);
  json_object_set_new(m, "bytes_per_pair", json_integer((json_int_t)r->mig_bytes));
  json_object_set_new(m, "pairs", pairs_json(r, r->pairs, r->npairs));
  json_object_set_new(e, "implementation", r->si ? json_string(r->si->path) : json_null());
  json_object_set_new(e, "pairs", pairs_json(r, r->eng_pairs, r->neng));
  json_object_set_new(m, "engine", e);
  return m;
}

static json_t *pmu_json(const report_t *r) {
  json_t *evs = json_array();
  for (size_t k = 0; k < r->nev; k++) {
    const perf_probe_reading_t *e = &r->ev[k];
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:b}", "name", e->name, "kind", perf_probe_kind_name(e->kind),
                  "unit", e->unit, "supported", e->supported);
    json_object_set_new(o, "reading",
                        e->supported ? json_integer((json_int_t)e->value) : json_null());
    json_object_set_new(o, e->supported ? "note" : "reason", json_string(e->reason));
    json_array_append_new(evs, o);
  }
  json_t *p = phase_json(&r->pmu);
  json_object_set_new(p, "perf_event_paranoid", json_integer(r->paranoid));
  json_object_set_new(p, "privileged", json_boolean(r->privileged));
  json_object_set_new(p, "libpfm4", json_boolean(MMCERT_HAVE_LIBPFM));
  json_object_set_new(p, "raw_numa_events", json_string(r->raw_note));
  json_object_set_new(p, "events", evs);
  return p;
}

static json_t *report_json(const report_t *r) {
  json_t *checks = json_array(), *plots = json_array();
  for (int k = 0; k < 3; k++)
    json_array_append_new(checks,
                          json_pack("{s:s, s:s, s:s}", "name", r->checks[k].name, "status",
                                    check_names[r->checks[k].st], "detail", r->checks[k].detail));
  for (int k = 0; k < r->nplots; k++)
    json_array_append_new(plots, json_string(r->plot_files[k]));
  json_t *lat = phase_json(&r->lat), *bw = phase_json(&r->bw);
  json_object_set_new(lat, "buffer_bytes", json_integer((json_int_t)r->lat_bytes));
  json_object_set_new(lat, "note", json_string(r->lat_note));
  json_object_set_new(lat, "ns_per_load", matrix_json(r, r->lat_ns));
  json_object_set_new(bw, "array_bytes", json_integer((json_int_t)r->bw_bytes));
  json_object_set_new(bw, "repetitions", json_integer(r->bw_reps));
  json_object_set_new(bw, "copy_gb_per_s", matrix_json(r, r->copy));
  json_object_set_new(bw, "triad_gb_per_s", matrix_json(r, r->triad));
  char start[32], end[32];
  time_t s0 = (time_t)r->start, s1 = (time_t)r->end;
  struct tm tm;
  strftime(start, sizeof start, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&s0, &tm));
  strftime(end, sizeof end, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&s1, &tm));
  char id[40];
  suite_results_run_id(id, sizeof id);
  json_t *doc = json_pack(
      "{s:s, s:i, s:s, s:s, s:b, s:s?, s:b, s:s, s:s, s:f, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
      "s:o}",
      "schema", "mmcert-qualify", "schema_version", SUITE_QUALIFY_SCHEMA, "run_id", id,
      "mmcert_version", MMCERT_VERSION, "complete", !suite_qm_stop, "interrupted_by",
      suite_qm_stop == SIGINT    ? "SIGINT"
      : suite_qm_stop == SIGTERM ? "SIGTERM"
                                 : NULL,
      "quick", r->o->quick, "start_time", start, "end_time", end, "duration_s", r->end - r->start,
      "machine", machine_json(r), "topology", topology_json(r), "latency", lat, "bandwidth", bw,
      "migration", migration_json(r), "pmu", pmu_json(r), "checks", checks, "plots",
      json_pack("{s:s, s:o}", "note", r->plots_note, "files", plots));
  return doc;
}

/* ------------------------------------------------------------ plots */

static int write_matrix_file(const report_t *r, const char *name, const double *m) {
  char path[DIR_MAX + 64];
  snprintf(path, sizeof path, "%s/%s", r->dir, name);
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  for (uint32_t i = 0; i < r->n; i++) {
    for (uint32_t j = 0; j < r->n; j++)
      fprintf(f, "%s%g", j ? " " : "", isnan(m[i * r->n + j]) ? NAN : m[i * r->n + j]);
    fputc('\n', f);
  }
  return fclose(f);
}

/* One heatmap: rows = CPU node (top to bottom), columns = memory node. */
static void plot_block(FILE *gp, const report_t *r, const char *stem, const char *title,
                       const char *label_fmt) {
  fprintf(gp, "set output '%s.png'\nset title \"%s%s\"\n", stem, title,
          r->virt.is_virtual ? " (virtual machine)" : "");
  /* boxxy, not `with image`: image needs a 2x2 grid and one node gives 1x1. */
  fprintf(gp,
          "plot '%s.dat' matrix using 1:2:(0.5):(0.5):3 with boxxy fc palette fs solid "
          "notitle, '%s.dat' matrix using 1:2:($3 == $3 ? sprintf('%s', $3) : 'n/a') with "
          "labels font ',12' notitle\n",
          stem, stem, label_fmt);
}

static void plot_axes(FILE *gp, const report_t *r) {
  fprintf(gp,
          "set terminal png size 720,600\nset datafile missing 'nan'\n"
          "set xlabel 'memory node'\nset ylabel 'CPU node'\nset cblabel ''\n"
          "set palette rgbformulae 22,13,-31\nset xrange [-0.5:%u.5]\nset yrange [%u.5:-0.5]\n",
          r->n - 1, r->n - 1);
  for (int axis = 0; axis < 2; axis++) {
    fprintf(gp, "set %ctics (", axis ? 'y' : 'x');
    for (uint32_t i = 0; i < r->n; i++)
      fprintf(gp, "%s'%" PRIu32 "' %" PRIu32, i ? ", " : "", os_id(r, i), i);
    fprintf(gp, ")\n");
  }
}

static int run_gnuplot(const report_t *r, const char *gnuplot) {
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    if (chdir(r->dir) != 0)
      _exit(126);
    FILE *log = freopen("gnuplot.log", "w", stderr);
    (void)log;
    execl(gnuplot, "gnuplot", "qualify.gp", (char *)NULL);
    _exit(127);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void make_plots(report_t *r) {
  static const char *const stems[] = {"distance", "latency", "copy", "triad"};
  if (suite_qm_stop) {
    snprintf(r->plots_note, sizeof r->plots_note, "skipped: the run was interrupted");
    return;
  }
  /* $MMCERT_GNUPLOT overrides configure's path (another install, or a test). */
  const char *gnuplot = getenv("MMCERT_GNUPLOT") ? getenv("MMCERT_GNUPLOT") : MMCERT_GNUPLOT;
  if (!gnuplot[0] || access(gnuplot, X_OK) != 0) {
    snprintf(r->plots_note, sizeof r->plots_note,
             "skipped: gnuplot is not available here (%s%s); the JSON has every number",
             gnuplot[0] ? gnuplot : "configure found none", gnuplot[0] ? " is missing" : "");
    return;
  }
  double *fw = nan_matrix(r->n);
  for (size_t k = 0; fw && k < (size_t)r->n * r->n; k++)
    fw[k] = r->fw[k];
  const double *mats[] = {fw, r->lat_ns, r->copy, r->triad};
  bool have[] = {true, r->lat.st == ST_DONE, r->bw.st == ST_DONE, r->bw.st == ST_DONE};
  char path[DIR_MAX + 16];
  snprintf(path, sizeof path, "%s/qualify.gp", r->dir);
  FILE *gp = fw ? fopen(path, "w") : NULL;
  if (!gp) {
    free(fw);
    snprintf(r->plots_note, sizeof r->plots_note, "skipped: cannot write %s: %s", path,
             strerror(errno));
    return;
  }
  plot_axes(gp, r);
  static const char *const titles[] = {"Firmware distances", "Latency, ns per load",
                                       "Copy bandwidth, GB/s", "Triad bandwidth, GB/s"};
  static const char *const fmts[] = {"%.0f", "%.1f", "%.1f", "%.1f"};
  r->nplots = 0;
  for (int k = 0; k < 4; k++) {
    char dat[48];
    snprintf(dat, sizeof dat, "%s.dat", stems[k]);
    if (!have[k] || write_matrix_file(r, dat, mats[k]) != 0)
      continue;
    plot_block(gp, r, stems[k], titles[k], fmts[k]);
    snprintf(r->plot_files[r->nplots++], sizeof r->plot_files[0], "%s.png", stems[k]);
  }
  fclose(gp);
  free(fw);
  int rc = run_gnuplot(r, gnuplot);
  if (rc != 0) {
    snprintf(r->plots_note, sizeof r->plots_note, "gnuplot failed (status %d): see %s/gnuplot.log",
             rc, r->dir);
    r->nplots = 0;
    return;
  }
  size_t o = (size_t)snprintf(r->plots_note, sizeof r->plots_note, "heatmaps in %s:", r->dir);
  for (int k = 0; k < r->nplots && o < sizeof r->plots_note; k++)
    o += (size_t)snprintf(r->plots_note + o, sizeof r->plots_note - o, " %s", r->plot_files[k]);
  if (r->n == 1 && o < sizeof r->plots_note)
    snprintf(r->plots_note + o, sizeof r->plots_note - o, " (one node: one cell each)");
}

/* ------------------------------------------------------------ main */

static int make_dir(const char *d) {
  if (mkdir(d, 0755) == 0 || errno == EEXIST)
    return 0;
  fprintf(stderr, "mmcert qualify: cannot create directory %s: %s\n", d, strerror(errno));
  return -1;
}

static int prepare_output(report_t *r) {
  if (r->o->outdir) {
    snprintf(r->dir, sizeof r->dir, "%s", r->o->outdir);
  } else {
    char stamp[32];
    time_t s = (time_t)r->start;
    struct tm tm;
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", gmtime_r(&s, &tm));
    if (make_dir("results") != 0)
      return -1;
    snprintf(r->dir, sizeof r->dir, "results/qualify-%s", stamp);
  }
  if (make_dir(r->dir) != 0)
    return -1;
  if (r->o->json)
    snprintf(r->json_path, sizeof r->json_path, "%s", r->o->json);
  else
    snprintf(r->json_path, sizeof r->json_path, "%s/qualify.json", r->dir);
  return 0;
}

static int load(report_t *r) {
  mmc_error_t err = {0};
  if (mmt_load(NULL, &r->t, &err) != 0) {
    fprintf(stderr, "mmcert qualify: cannot read this machine's topology: %s\n", err.msg);
    return -1;
  }
  r->n = r->t->desc.nnodes;
  r->fw = malloc((size_t)r->n * r->n * sizeof *r->fw);
  r->lat_ns = nan_matrix(r->n);
  r->copy = nan_matrix(r->n);
  r->triad = nan_matrix(r->n);
  if (!r->fw || !r->lat_ns || !r->copy || !r->triad) {
    fprintf(stderr, "mmcert qualify: out of memory\n");
    return -1;
  }
  for (uint32_t i = 0; i < r->n; i++)
    for (uint32_t j = 0; j < r->n; j++)
      r->fw[i * r->n + j] = mmt_distance(r->t, i, j);
  r->fw_origin = r->t->distance_origin ? r->t->distance_origin : "unknown origin";
  r->fw_from_firmware = r->t->distances_from_firmware;
  r->llc = suite_qm_llc_bytes();
  r->llc_known = r->llc > 0;
  if (!r->llc)
    r->llc = LLC_FALLBACK;
  suite_qm_detect_virt(&r->virt);
  return 0;
}

static void free_report(report_t *r) {
  mmt_free(r->t);
  free(r->fw);
  free(r->lat_ns);
  free(r->copy);
  free(r->triad);
  free(r->pairs);
  free(r->eng_pairs);
  free(r->ev);
}

static int exit_status(const report_t *r) {
  if (suite_qm_stop)
    return EXIT_SIGNAL_BASE + suite_qm_stop;
  const phase_t *ph[] = {&r->lat, &r->bw, &r->mig, &r->eng, &r->pmu};
  for (int k = 0; k < 5; k++)
    if (ph[k]->st == ST_ERROR)
      return 1;
  for (size_t k = 0; k < r->npairs; k++)
    if (!r->pairs[k].measured)
      return 1;
  for (size_t k = 0; k < r->neng; k++)
    if (!r->eng_pairs[k].measured)
      return 1;
  for (int k = 0; k < 3; k++)
    if (r->checks[k].st == CK_FAIL)
      return 1;
  return 0;
}

int suite_qualify_main(int argc, char **argv) {
  opts_t o = {0};
  report_t r = {.o = &o};
  int rc = parse(argc, argv, &o);
  if (rc) {
    free(o.events_buf);
    free(o.events);
    return rc < 0 ? 0 : rc;
  }
  suite_impl_t si;
  if (o.impl) {
    mmc_error_t ierr = {0};
    if (suite_impl_load(o.impl, &si, &ierr) != 0) {
      free(o.events_buf);
      free(o.events);
      return usage_err("%s", ierr.msg);
    }
    r.si = &si;
  }
  suite_qm_stop = 0;
  install_handlers();
  r.start = now_wall();
  if (load(&r) != 0 || prepare_output(&r) != 0) {
    rc = 1;
    goto out;
  }
  phase_latency(&r);
  if (!suite_qm_stop)
    phase_bandwidth(&r);
  if (!suite_qm_stop)
    phase_migration(&r);
  if (!suite_qm_stop)
    phase_engine(&r);
  if (!suite_qm_stop)
    phase_pmu(&r);
  phase_t *rest[] = {&r.lat, &r.bw, &r.mig, &r.eng, &r.pmu};
  for (int k = 0; k < 5; k++)
    if (rest[k]->st == ST_NOT_RUN && interrupted(rest[k]))
      snprintf(rest[k]->reason, sizeof rest[k]->reason, "not started: interrupted by %s",
               suite_qm_stop == SIGINT ? "SIGINT" : "SIGTERM");
  run_checks(&r);
  r.end = now_wall();
  make_plots(&r);
  print_text(stdout, &r);
  json_t *doc = report_json(&r);
  mmc_error_t err = {0};
  if (!doc || suite_results_write_file(r.json_path, doc, &err) != 0) {
    fprintf(stderr, "mmcert qualify: %s\n", doc ? err.msg : "out of memory building the JSON");
    rc = 1;
  } else {
    printf("report: %s\nstatus: %s\n", r.json_path,
           suite_qm_stop ? "INCOMPLETE (interrupted: the report holds what was measured)"
                         : "complete");
    rc = exit_status(&r);
  }
  json_decref(doc);
out:
  free_report(&r);
  if (r.si)
    suite_impl_unload(&si);
  free(o.events_buf);
  free(o.events);
  return rc;
}
