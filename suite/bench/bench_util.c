/*
 * bench_util.c — shared helpers of the benchmarks; see bench_util.h.
 */
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "config.h"
#include "mmc_error.h"
#include "supervise.h"

/* The implementation's own table, loaded in this process: a benchmark runs
 * in a child of mmcert bench (suite_bench_run), which inspected the object
 * already (o->si); a benchmark called otherwise has it inspected first. */
int bu_load_impl(const suite_bench_opts_t *o, suite_impl_t *si) {
  mmc_error_t err = {0};
  const mmc_impl_t *table;
  if (o->si) {
    *si = *o->si;
    si->impl = &si->summary;
    si->summary.name = si->name;
    si->summary.version = si->version;
    if (suite_impl_open(si, &table, &err) != 0) {
      fprintf(o->err, "mmcert bench: %s\n", err.msg);
      return 1;
    }
    si->impl = table;
    return 0;
  }
  char path[PATH_MAX];
  const char *env = getenv("MMCERT_IMPL");
  if (o->impl_path && *o->impl_path) { /* what mmcert bench chose: --impl, else as below */
    snprintf(path, sizeof path, "%s", o->impl_path);
  } else if (env && *env) {
    snprintf(path, sizeof path, "%s", env);
  } else {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    path[0] = '\0';
    if (n > 0) {
      exe[n] = '\0';
      snprintf(path, sizeof path, "%s/libmmref.so", dirname(exe));
    }
    if (!path[0] || access(path, R_OK) != 0)
      snprintf(path, sizeof path, "%s/libmmref.so", MMCERT_LIBDIR);
  }
  if (suite_impl_load(path, si, &err) != 0 || suite_impl_open(si, &table, &err) != 0) {
    fprintf(o->err, "mmcert bench: %s\n", err.msg);
    return 1;
  }
  si->impl = table;
  return 0;
}

int bu_load_topology(const suite_bench_opts_t *o, const char *spec, mmt_topology_t **out) {
  mmc_error_t err = {0};
  if (mmt_load(spec, out, &err) != 0) {
    fprintf(o->err, "mmcert bench: topology %s: %s\n", spec ? spec : "of this machine", err.msg);
    return 1;
  }
  return 0;
}

int bu_host(const suite_bench_opts_t *o, const mmc_impl_t *im, const mmt_topology_t *topo,
            uint64_t seed, mmc_host_t **out) {
  return bu_host_swap(o, im, topo, seed, NULL, out);
}

int bu_host_swap(const suite_bench_opts_t *o, const mmc_impl_t *im, const mmt_topology_t *topo,
                 uint64_t seed, const char *swap_dir, mmc_host_t **out) {
  mmc_host_config_t cfg = {
      .topology = &topo->desc,
      .clock = (im->capabilities & MMC_CAP_CLOCK_STEPPED) ? MMC_CLOCK_STEPPED : MMC_CLOCK_LIVE,
      .seed = seed,
      .swap_dir = swap_dir,
  };
  mmc_error_t err = {0};
  if (im->host_create(&cfg, out, &err) != 0) {
    fprintf(o->err, "mmcert bench: host_create on %s: %s\n", topo->source, err.msg);
    return 1;
  }
  return 0;
}

uint64_t bu_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t bu_thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double bu_percentile(double *v, size_t n, double p) {
  if (n == 0)
    return 0;
  qsort(v, n, sizeof *v, cmp_double);
  size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
  rank = rank < 1 ? 1 : rank > n ? n : rank;
  return v[rank - 1];
}

void bu_header(FILE *f) {
  fprintf(f, "  %-34s %12s %-6s  %-34s %12s  %7s  %s\n", "figure", "value", "unit", "peer", "value",
          "ratio", "target");
}

/* ---- the results file of `mmcert bench` (suite_mode BENCH) */

static suite_result_t *bu_sink; /* the benchmark running now records here */
static int bu_fd = -1;          /* and, in a benchmark's child, sends here */

void suite_bench_record_into(suite_result_t *r) {
  bu_sink = r;
}

static char *dup_or_die(const char *t) {
  char *d = strdup(t ? t : "");
  if (!d)
    abort(); /* as the runner: the parent out of memory has nothing sensible left */
  return d;
}

static void sink_add(suite_rec_kind_t kind, const char *name, const char *unit, const char *better,
                     double value, bool ok, const char *text) {
  suite_rec_t r = {.kind = kind,
                   .ok = ok,
                   .value = value,
                   .name = dup_or_die(name),
                   .unit = dup_or_die(unit),
                   .better = dup_or_die(better),
                   .text = dup_or_die(text)};
  if (bu_fd >= 0 && suite_rec_send(bu_fd, &r) != 0)
    _exit(3); /* mmcert bench is gone: nobody reads the figures */
  suite_result_add_rec(bu_sink, &r);
}

static bool sink_has(suite_rec_kind_t kind, const char *name) {
  for (size_t i = 0; i < bu_sink->nrecs; i++)
    if (bu_sink->recs[i].kind == kind && !strcmp(bu_sink->recs[i].name, name))
      return true;
  return false;
}

/* A metric name not yet used by this benchmark: a sample under a name
 * already there would be taken for a repetition of it. "NAME", else
 * "NAME (2)", "NAME (3)"...: the same in every run, so runs compare. */
static void unique_name(suite_rec_kind_t kind, const char *base, char *buf, size_t cap) {
  snprintf(buf, cap, "%s", base);
  for (unsigned k = 2; sink_has(kind, buf); k++)
    snprintf(buf, cap, "%s (%u)", base, k);
}

static bool is_time_unit(const char *u) {
  return !strcmp(u, "ns") || !strcmp(u, "us") || !strcmp(u, "ms") || !strcmp(u, "s");
}

/* A figure's better direction from its unit: times lower, rates and
 * ratios higher. */
static const char *better_of(const char *unit) {
  return is_time_unit(unit) ? "lower" : "higher";
}

/* A target "[WORD] >= X [UNIT]" or "<= X [UNIT]": with a unit it bounds
 * the figure's value (in the row's unit), without one the ratio. Returns
 * false when the text is no target ("", "(info)"). */
static bool parse_target(const char *t, bool *at_least, double *bound, char *unit, size_t cap) {
  const char *op = strstr(t, ">=");
  if (!op)
    op = strstr(t, "<=");
  if (!op)
    return false;
  *at_least = op[0] == '>';
  char *end;
  *bound = strtod(op + 2, &end);
  if (end == op + 2)
    return false;
  while (*end == ' ')
    end++;
  snprintf(unit, cap, "%s", end);
  return true;
}

/* Every round's figure v[i], peer pv[i] (NULL: no peer) and ratio r[i]
 * as samples of three metrics; the target judged on the row printed
 * (figure jv, ratio jr). */
static void record_rounds(const char *figure, const double *v, const char *unit, const char *peer,
                          const double *pv, const double *r, size_t n, double jv, double jr,
                          const char *target, const char *ratio_better) {
  char name[192], pname[192], unit_t[32];
  unique_name(SUITE_REC_METRIC, figure, name, sizeof name);
  bool has_peer = pv && peer && *peer && strcmp(peer, "-") != 0;
  if (has_peer)
    unique_name(SUITE_REC_METRIC, peer, pname, sizeof pname);
  bool at_least = true;
  double bound = 0;
  bool targeted = parse_target(target, &at_least, &bound, unit_t, sizeof unit_t);
  char rname[400];
  snprintf(rname, sizeof rname, "%s / %s", name, peer ? peer : "");
  for (size_t i = 0; i < n; i++) {
    if (isfinite(v[i]))
      sink_add(SUITE_REC_METRIC, name, unit, better_of(unit), v[i], true, NULL);
    if (has_peer && isfinite(pv[i]))
      sink_add(SUITE_REC_METRIC, pname, unit, better_of(unit), pv[i], true, NULL);
    /* Its direction is known from a target on the ratio, or when given. */
    if (has_peer && isfinite(r[i]))
      sink_add(SUITE_REC_METRIC, rname, "ratio",
               targeted && !unit_t[0] ? (at_least ? "higher" : "lower") : ratio_better, r[i], true,
               NULL);
  }
  if (!targeted)
    return;
  char cname[400], diag[400];
  snprintf(cname, sizeof cname, "%s: %s", name, target);
  if (unit_t[0] && strcmp(unit_t, unit) != 0) {
    snprintf(diag, sizeof diag, "target unit '%s' differs from the figure's '%s': not judged",
             unit_t, unit);
    sink_add(SUITE_REC_DIAG, "", "", "", 0, true, diag);
    return;
  }
  double x = unit_t[0] ? jv : jr;
  bool ok = at_least ? x >= bound : x <= bound;
  snprintf(diag, sizeof diag, "%s %.4g %s the target %s", unit_t[0] ? "value" : "ratio", x,
           ok ? "meets" : "misses", target);
  sink_add(SUITE_REC_CHECK, cname, "", "", 0, ok, ok ? "" : diag);
}

static void print_row(FILE *f, const char *figure, double value, const char *unit, const char *peer,
                      double peer_value, double ratio, const char *target) {
  fprintf(f, "  %-34s %12.3f %-6s  %-34s %12.3f  %7.3f  %s\n", figure, value, unit, peer,
          peer_value, ratio, target);
  fflush(f);
}

void bu_row(FILE *f, const char *figure, double value, const char *unit, const char *peer,
            double peer_value, double ratio, const char *target) {
  print_row(f, figure, value, unit, peer, peer_value, ratio, target);
  if (bu_sink && isfinite(value))
    record_rounds(figure, &value, unit, peer, &peer_value, &ratio, 1, value, ratio,
                  target ? target : "", "");
}

void bu_row_rounds(FILE *f, const char *figure, const double *v, const char *unit, const char *peer,
                   const double *pv, size_t n, size_t shown, const char *target,
                   bool ratio_higher) {
  double *r = calloc(n ? n : 1, sizeof *r), *sv = calloc(n ? n : 1, sizeof *sv);
  double *sp = calloc(n ? n : 1, sizeof *sp);
  if (!r || !sv || !sp)
    abort(); /* as dup_or_die */
  bool lower = !strcmp(better_of(unit), "lower");
  for (size_t i = 0; i < n; i++) {
    double p = pv ? pv[i] : NAN;
    r[i] = !(p > 0) || !(v[i] > 0) ? NAN : lower ? p / v[i] : v[i] / p;
    sv[i] = v[i];
    sp[i] = p;
  }
  double fig, peer_v, ratio;
  if (shown < n) {
    fig = v[shown], peer_v = pv ? pv[shown] : 0, ratio = r[shown];
  } else { /* medians of the rounds (bu_percentile sorts its copy) */
    double *sr = calloc(n ? n : 1, sizeof *sr);
    if (!sr)
      abort();
    memcpy(sr, r, n * sizeof *sr);
    fig = bu_percentile(sv, n, 50), peer_v = pv ? bu_percentile(sp, n, 50) : 0;
    ratio = bu_percentile(sr, n, 50);
    free(sr);
  }
  print_row(f, figure, fig, unit, pv ? peer : "-", peer_v, isfinite(ratio) ? ratio : 0,
            target ? target : "");
  if (bu_sink)
    record_rounds(figure, v, unit, pv ? peer : NULL, pv, r, n, fig, ratio, target ? target : "",
                  ratio_higher ? "higher" : "");
  free(r);
  free(sv);
  free(sp);
}

/* ---- each benchmark in its own process */

typedef struct bench_job {
  const suite_bench_t *b;
  const suite_bench_opts_t *o;
} bench_job_t;

static _Noreturn void bench_child(void *arg, int fd) {
  const bench_job_t *j = arg;
  suite_result_t mine = {0}; /* the names used so far (unique_name) */
  bu_sink = &mine;
  bu_fd = fd;
  int rc = j->b->run(j->o);
  fflush(NULL);
  suite_rec_t end = {.kind = rc ? SUITE_REC_BROKEN : SUITE_REC_DONE,
                     .text = rc ? "the benchmark could not measure (messages above)" : ""};
  _exit(suite_rec_send(fd, &end) ? 3 : 0);
}

static bool rec_of(const suite_result_t *r, suite_rec_kind_t kind, const char **text) {
  for (size_t i = 0; i < r->nrecs; i++)
    if (r->recs[i].kind == kind) {
      *text = r->recs[i].text;
      return true;
    }
  return false;
}

/* How the benchmark's child ended: its verdict and reason. */
static void bench_verdict(suite_result_t *r, const suite_sup_end_t *e) {
  const char *text = "";
  bool missed = false;
  for (size_t i = 0; i < r->nrecs; i++)
    missed |= r->recs[i].kind == SUITE_REC_CHECK && !r->recs[i].ok;
  r->verdict = SUITE_BROKEN;
  if (e->status < 0)
    snprintf(r->reason, sizeof r->reason, "%s", e->error);
  else if (WIFSIGNALED(e->status))
    snprintf(r->reason, sizeof r->reason,
             "the benchmark's process was killed by signal %d (%s); the figures measured "
             "before are kept",
             WTERMSIG(e->status), strsignal(WTERMSIG(e->status)));
  else if (r->stream_error[0])
    snprintf(r->reason, sizeof r->reason, "the benchmark's process sent %s", r->stream_error);
  else if (rec_of(r, SUITE_REC_BROKEN, &text))
    snprintf(r->reason, sizeof r->reason, "%s", text);
  else if (!rec_of(r, SUITE_REC_DONE, &text))
    snprintf(r->reason, sizeof r->reason,
             "the benchmark's process exited with status %d before finishing; the figures "
             "measured before are kept",
             WIFEXITED(e->status) ? WEXITSTATUS(e->status) : -1);
  else
    r->verdict = missed ? SUITE_FAIL : SUITE_PASS;
}

void suite_bench_run(const suite_bench_t *b, const suite_bench_opts_t *o, suite_result_t *r) {
  bench_job_t j = {.b = b, .o = o};
  char what[96];
  snprintf(what, sizeof what, "benchmark %s", b->name);
  suite_sup_job_t job = {
      .what = what, .child = bench_child, .arg = &j, .consume = suite_rec_take, .ctx = r};
  suite_sup_end_t e;
  suite_sup_run(&job, &e);
  r->duration_s = e.duration_s;
  bench_verdict(r, &e);
  if (e.nescaped) {
    suite_rec_t d = {.kind = SUITE_REC_DIAG};
    if (asprintf(&d.text,
                 "%u process%s the implementation started left the benchmark's process "
                 "group and outlived it (killed): %s",
                 e.nescaped, e.nescaped == 1 ? "" : "es", e.escaped) < 0)
      abort();
    d.name = strdup(""), d.unit = strdup(""), d.better = strdup("");
    fprintf(o->err, "mmcert bench: %s\n", d.text);
    suite_result_add_rec(r, &d);
  }
}
