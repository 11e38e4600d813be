/*
 * results.c — the JSON results writer declared in results.h. Machine facts are read here from the kernel (uname, hostname,
 * /proc/cpuinfo, /sys/devices/system/node) rather than taken from the
 * topology, because a run's topology may be emulated.
 */
#include "results.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "certificate.h"
#include "mmc_error.h"
#include "results_read.h"
#include "stats.h"
#include <xxhash.h>

static void iso_time(double t, char *buf, size_t cap) {
  time_t s = (time_t)t;
  struct tm tm;
  gmtime_r(&s, &tm);
  strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *cpu_model(void) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[512];
  json_t *v = NULL;
  while (f && !v && fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) != 0)
      continue;
    char *colon = strchr(line, ':');
    if (!colon)
      continue;
    colon += strspn(colon + 1, " \t") + 1;
    colon[strcspn(colon, "\n")] = '\0';
    v = json_string(colon);
  }
  if (f)
    fclose(f);
  return v ? v : json_null();
}

static int kernel_nodes(void) {
  DIR *d = opendir("/sys/devices/system/node");
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    n += !strncmp(e->d_name, "node", 4) && e->d_name[4] >= '0' && e->d_name[4] <= '9';
  if (d)
    closedir(d);
  return n;
}

/* "AMD EPYC 7B13 64-Core Processor" -> "amd-epyc-7b13-64-core"; trademarks,
 * "CPU", "Processor" and the "@ 2.40GHz" clock are dropped. */
static void cpu_short(const char *model, char *buf, size_t cap) {
  static const char *const drop[] = {"(r)", "(tm)", "cpu", "processor", NULL};
  char low[256];
  size_t n = 0;
  for (const char *p = model; *p && *p != '@' && n + 1 < sizeof low; p++)
    low[n++] = (char)tolower((unsigned char)*p);
  low[n] = '\0';
  for (int d = 0; drop[d]; d++)
    for (char *h; (h = strstr(low, drop[d]));)
      memset(h, ' ', strlen(drop[d]));
  size_t o = 0;
  bool dash = false;
  for (const char *p = low; *p && o + 2 < cap; p++) {
    if (isalnum((unsigned char)*p)) {
      if (dash && o)
        buf[o++] = '-';
      buf[o++] = *p;
      dash = false;
    } else {
      dash = true;
    }
  }
  buf[o] = '\0';
  if (!o)
    snprintf(buf, cap, "unknown-cpu");
}

void suite_machine_class(char *buf, size_t cap) {
  json_t *m = cpu_model();
  char cpu[128];
  cpu_short(json_is_string(m) ? json_string_value(m) : "", cpu, sizeof cpu);
  json_decref(m);
  double gib = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / (1u << 30);
  int nodes = kernel_nodes();
  snprintf(buf, cap, "%ldc-%.0fg-%dn-%s", sysconf(_SC_NPROCESSORS_ONLN), gib, nodes ? nodes : 1,
           cpu);
}

static json_t *machine_json(void) {
  char host[256] = "", cls[192];
  gethostname(host, sizeof host - 1);
  suite_machine_class(cls, sizeof cls);
  return json_pack(
      "{s:s, s:o, s:I, s:i, s:I, s:s}", "hostname", host, "cpu_model", cpu_model(), "cpus",
      (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "numa_nodes", kernel_nodes(), "memory_bytes",
      (json_int_t)sysconf(_SC_PHYS_PAGES) * (json_int_t)sysconf(_SC_PAGESIZE), "class", cls);
}

/* Over what placement depends on: per node its memory and CPUs, and the
 * distance matrix (not the source text: the same machine described twice
 * hashes alike). */
void suite_topology_hash(const mmt_topology_t *t, char *buf, size_t cap) {
  XXH64_state_t *st = XXH64_createState();
  XXH64_reset(st, 0);
  uint64_t n = t->desc.nnodes;
  XXH64_update(st, &n, sizeof n);
  for (uint32_t i = 0; i < t->desc.nnodes; i++) {
    const mmc_node_t *nd = &t->desc.nodes[i];
    uint64_t v[2] = {nd->memory_bytes, nd->ncpus};
    XXH64_update(st, v, sizeof v);
    for (uint32_t c = 0; c < nd->ncpus; c++) {
      uint64_t cpu = nd->cpus[c];
      XXH64_update(st, &cpu, sizeof cpu);
    }
    for (uint32_t j = 0; j < t->desc.nnodes; j++) {
      uint64_t d = mmt_distance(t, i, j);
      XXH64_update(st, &d, sizeof d);
    }
  }
  snprintf(buf, cap, "xxh64:%016llx", (unsigned long long)XXH64_digest(st));
  XXH64_freeState(st);
}

static void topology_summary(const mmt_topology_t *t, char *buf, size_t cap) {
  uint64_t mem = 0;
  unsigned cpus = 0;
  for (uint32_t i = 0; i < t->desc.nnodes; i++) {
    mem += t->desc.nodes[i].memory_bytes;
    cpus += t->desc.nodes[i].ncpus;
  }
  snprintf(buf, cap, "%u node%s, %u cpus, %.1f GiB", t->desc.nnodes, t->desc.nnodes == 1 ? "" : "s",
           cpus, (double)mem / (1u << 30));
}

static json_t *kernel_json(void) {
  struct utsname u;
  if (uname(&u) != 0)
    return json_null();
  return json_pack("{s:s, s:s, s:s, s:s}", "sysname", u.sysname, "release", u.release, "version",
                   u.version, "machine", u.machine);
}

static json_t *topology_json(const suite_run_t *run) {
  const mmt_topology_t *t = run->topo;
  json_t *nodes = json_array(), *dist = json_array();
  for (uint32_t i = 0; i < t->desc.nnodes; i++) {
    const mmc_node_t *n = &t->desc.nodes[i];
    json_t *cpus = json_array(), *row = json_array();
    for (uint32_t c = 0; c < n->ncpus; c++)
      json_array_append_new(cpus, json_integer(n->cpus[c]));
    json_array_append_new(nodes, json_pack("{s:i, s:I, s:I, s:o, s:i, s:b}", "index", (int)i,
                                           "os_index", (json_int_t)n->os_index, "memory_bytes",
                                           (json_int_t)n->memory_bytes, "cpus", cpus, "cores",
                                           (int)n->ncores, "real", n->real));
    for (uint32_t j = 0; j < t->desc.nnodes; j++)
      json_array_append_new(row, json_integer(mmt_distance(t, i, j)));
    json_array_append_new(dist, row);
  }
  char hash[40], summary[96];
  suite_topology_hash(t, hash, sizeof hash);
  topology_summary(t, summary, sizeof summary);
  return json_pack("{s:s, s:s, s:s, s:s?, s:b, s:i, s:o, s:o, s:b, s:I}", "summary", summary,
                   "hash", hash, "source", t->source, "spec", run->topology_spec, "is_this_machine",
                   t->is_this_machine, "nnodes", (int)t->desc.nnodes, "nodes", nodes, "distances",
                   dist, "distances_from_firmware", t->distances_from_firmware,
                   "host_memory_cap_bytes", (json_int_t)run->host_memory);
}

static json_t *impl_json(const suite_run_t *run) {
  const mmc_impl_t *im = run->si->impl;
  json_t *caps = json_array();
  for (int b = 0; b < 64; b++)
    if (im->capabilities & (1ull << b)) {
      const char *n = suite_cap_name(1ull << b);
      json_array_append_new(caps, n ? json_string(n) : json_integer(b));
    }
  return json_pack("{s:s, s:s, s:i, s:s, s:o}", "name", im->name, "version", im->version,
                   "abi_version", (int)im->abi_version, "path", run->si->path, "capabilities",
                   caps);
}

static json_t *settings_json(const suite_run_t *run) {
  json_t *a = json_array();
  for (size_t i = 0; i < run->nsettings; i++) {
    const suite_setting_t *s = &run->settings[i];
    json_array_append_new(a, json_pack("{s:s, s:I, s:I, s:I, s:I, s:s, s:s, s:b}", "name", s->name,
                                       "value", (json_int_t)s->value, "default", (json_int_t)s->def,
                                       "min", (json_int_t)s->min, "max", (json_int_t)s->max, "unit",
                                       s->unit, "meaning", s->meaning, "set", s->user_set));
  }
  return a;
}

static json_t *sets_json(const suite_run_t *run) {
  json_t *a = json_array();
  for (size_t i = 0; i < run->nsets; i++)
    json_array_append_new(a, json_pack("{s:s, s:I}", "name", run->sets[i].name, "value",
                                       (json_int_t)run->sets[i].value));
  return a;
}

/* ---- cases: the repetitions of one case folded into one record */

/* Worst first: broken > fail > skip > pass (a skip in one repetition and a
 * pass in another is worse than all passing: something was not checked). */
static int verdict_rank(suite_verdict_t v) {
  static const int rank[] = {
      [SUITE_PASS] = 0, [SUITE_SKIP] = 1, [SUITE_FAIL] = 2, [SUITE_BROKEN] = 3};
  return rank[v];
}

static json_t *find_named(json_t *arr, const char *name) {
  size_t i;
  json_t *v;
  json_array_foreach(arr, i,
                     v) if (!strcmp(json_string_value(json_object_get(v, "name")), name)) return v;
  return NULL;
}

static void add_check(json_t *checks, const suite_result_t *r, const suite_rec_t *rec) {
  json_t *ck = find_named(checks, rec->name);
  if (!ck) {
    char id[128];
    snprintf(id, sizeof id, "%s/%zu", r->name, json_array_size(checks) + 1);
    ck = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:i, s:i}", "id", id, "name", rec->name,
                   "spec_ids", r->c->spec_ids ? r->c->spec_ids : "", "verdict", "pass", "ok", 1,
                   "diag", "", "failed", 0, "seen", 0);
    json_array_append_new(checks, ck);
  }
  json_object_set_new(ck, "seen",
                      json_integer(json_integer_value(json_object_get(ck, "seen")) + 1));
  if (rec->ok)
    return;
  json_object_set_new(ck, "failed",
                      json_integer(json_integer_value(json_object_get(ck, "failed")) + 1));
  if (json_is_true(json_object_get(ck, "ok"))) { /* the first failure's diagnostic */
    json_object_set_new(ck, "ok", json_false());
    json_object_set_new(ck, "verdict", json_string("fail"));
    json_object_set_new(ck, "diag", json_string(rec->text));
  }
}

static void add_sample(json_t *metrics, const char *name, const char *unit, const char *better,
                       double v) {
  json_t *m = find_named(metrics, name);
  if (!m) {
    m = json_pack("{s:s, s:s, s:s, s:[]}", "name", name, "unit", unit, "better", better, "samples");
    json_array_append_new(metrics, m);
  }
  json_array_append_new(json_object_get(m, "samples"), json_real(v));
}

/* sc_metric_unsupported: no sample, the reason instead (never a zero). */
static void add_unsupported(json_t *metrics, const suite_rec_t *rec) {
  json_t *m = find_named(metrics, rec->name);
  if (!m) {
    m = json_pack("{s:s, s:s, s:s, s:[]}", "name", rec->name, "unit", rec->unit, "better",
                  rec->better, "samples");
    json_array_append_new(metrics, m);
  }
  json_object_set_new(m, "unsupported", json_string(rec->text));
}

static void add_point(json_t *series, unsigned rep, const suite_rec_t *rec) {
  size_t i;
  json_t *s, *found = NULL;
  json_array_foreach(series, i, s) if (json_integer_value(json_object_get(s, "rep")) == rep &&
                                       !strcmp(json_string_value(json_object_get(s, "name")),
                                               rec->name)) found = s;
  if (!found) {
    found = json_pack("{s:s, s:s, s:i, s:[], s:[]}", "name", rec->name, "unit", rec->unit, "rep",
                      (int)rep, "t", "v");
    json_array_append_new(series, found);
  }
  json_array_append_new(json_object_get(found, "t"), json_real(suite_rec_series_t(rec)));
  json_array_append_new(json_object_get(found, "v"), json_real(rec->value));
}

/* JSON has no NaN or infinity: such a value is left out and said so. */
static void dropped(json_t *diags, const char *what, const suite_rec_t *rec, unsigned rep) {
  char msg[512];
  snprintf(msg, sizeof msg,
           "%s %s: non-finite value %g in repetition %u left out (JSON cannot hold it)", what,
           rec->name, rec->value, rep + 1);
  json_array_append_new(diags, json_string(msg));
}

/* "value": the median, for readers of schema 1 that looked at one number. */
static void set_medians(json_t *metrics) {
  size_t i;
  json_t *m;
  json_array_foreach(metrics, i, m) {
    json_t *a = json_object_get(m, "samples");
    size_t n = json_array_size(a);
    if (n == 0) { /* unsupported everywhere: no value, never a zero */
      json_object_set_new(m, "value", json_null());
      continue;
    }
    double *x = calloc(n, sizeof *x);
    if (!x)
      continue;
    for (size_t k = 0; k < n; k++)
      x[k] = json_real_value(json_array_get(a, k));
    json_object_set_new(m, "value", json_real(suite_stats_median(x, n)));
    free(x);
  }
}

/* Results of one test point: the same case in the same variant. */
static bool same_point(const suite_result_t *a, const suite_result_t *b) {
  return a->c == b->c && a->v == b->v;
}

/* Every repetition of the test point at results[first]. */
static json_t *case_json(const suite_run_t *run, size_t first) {
  const suite_result_t *worst = &run->results[first];
  json_t *checks = json_array(), *metrics = json_array(), *diags = json_array(),
         *series = json_array(), *reps = json_array();
  bool timed_out = false;
  double dur = 0;
  for (size_t k = first; k < run->nresults; k++) {
    const suite_result_t *r = &run->results[k];
    if (!same_point(r, worst))
      continue;
    if (verdict_rank(r->verdict) > verdict_rank(worst->verdict))
      worst = r;
    timed_out |= r->timed_out;
    dur += r->duration_s;
    json_array_append_new(reps,
                          json_pack("{s:i, s:s, s:s, s:f, s:b}", "rep", (int)r->rep, "verdict",
                                    suite_verdict_name(r->verdict), "reason", r->reason,
                                    "duration_s", r->duration_s, "timed_out", r->timed_out));
    for (size_t i = 0; i < r->nrecs; i++) {
      const suite_rec_t *rec = &r->recs[i];
      if (rec->kind == SUITE_REC_CHECK)
        add_check(checks, r, rec);
      else if (rec->kind == SUITE_REC_METRIC && rec->text && rec->text[0])
        add_unsupported(metrics, rec);
      else if (rec->kind == SUITE_REC_METRIC)
        if (isfinite(rec->value))
          add_sample(metrics, rec->name, rec->unit, rec->better, rec->value);
        else
          dropped(diags, "metric", rec, r->rep);
      else if (rec->kind == SUITE_REC_SERIES)
        if (isfinite(rec->value) && isfinite(suite_rec_series_t(rec)))
          add_point(series, r->rep, rec);
        else
          dropped(diags, "series point", rec, r->rep);
      else if (rec->kind == SUITE_REC_DIAG && r->rep == 0)
        json_array_append_new(diags, json_string(rec->text));
    }
  }
  /* The runner's own measurement of each repetition that ran:
   * informational (no better direction), because it includes process start
   * and host creation; a case that measures speed records its own metric. */
  for (size_t k = first; k < run->nresults; k++) {
    const suite_result_t *r = &run->results[k];
    if (same_point(r, worst) && r->verdict != SUITE_SKIP)
      add_sample(metrics, "wall_time", "s", "", r->duration_s);
  }
  set_medians(metrics);
  const suite_case_t *c = worst->c;
  json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:f, s:i}", "id", worst->name, "spec_ids",
                        c->spec_ids ? c->spec_ids : "", "title", c->title, "verdict",
                        suite_verdict_name(worst->verdict), "reason", worst->reason, "timed_out",
                        timed_out, "duration_s", dur, "repetitions", (int)json_array_size(reps));
  json_object_set_new(o, "not_shown_kind",
                      json_string(worst->verdict == SUITE_SKIP
                                      ? suite_notshown_kind_name(worst->notshown_kind)
                                      : ""));
  json_object_set_new(o, "clock",
                      json_string(worst->verdict == SUITE_SKIP     ? ""
                                  : worst->clock == MMC_CLOCK_LIVE ? "live"
                                                                   : "stepped"));
  if (worst->v) { /* "id" names the test point; these say what it is a variant of */
    json_object_set_new(o, "case", json_string(c->id));
    json_object_set_new(o, "variant", json_string(worst->v->name));
  }
  json_object_set_new(o, "runs", reps);
  json_object_set_new(o, "checks", checks);
  json_object_set_new(o, "metrics", metrics);
  json_object_set_new(o, "series", series);
  json_object_set_new(o, "diags", diags);
  return o;
}

static json_t *cases_json(const suite_run_t *run) {
  json_t *cases = json_array();
  for (size_t i = 0; i < run->nresults; i++) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++)
      seen = same_point(&run->results[j], &run->results[i]);
    if (!seen)
      json_array_append_new(cases, case_json(run, i));
  }
  return cases;
}

void suite_results_run_id(char *buf, size_t cap) {
  uint64_t r[2] = {0};
  if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) { /* no entropy: time and pid */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    r[0] = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    r[1] = (uint64_t)getpid();
  }
  snprintf(buf, cap, "%016llx%016llx", (unsigned long long)r[0], (unsigned long long)r[1]);
}

json_t *suite_results_json(const suite_run_t *run) {
  char start[32], end[32];
  iso_time(run->start_time, start, sizeof start);
  iso_time(run->end_time, end, sizeof end);
  json_t *cases = cases_json(run);
  char id[40];
  suite_results_run_id(id, sizeof id);
  json_t *totals = json_pack("{s:i, s:i, s:i, s:i}", "pass", run->totals[SUITE_PASS], "fail",
                             run->totals[SUITE_FAIL], "skip", run->totals[SUITE_SKIP], "broken",
                             run->totals[SUITE_BROKEN]);
  json_t *doc = json_pack(
      "{s:s, s:i, s:s, s:o, s:o, s:o, s:o, s:s, s:s, s:I, s:f}", "schema", "mmcert-results",
      "schema_version", SUITE_RESULTS_SCHEMA, "mmcert_version", MMCERT_VERSION, "machine",
      machine_json(), "kernel", kernel_json(), "topology", topology_json(run), "implementation",
      impl_json(run), "mode", suite_mode_name(run->mode), "profile", run->profile, "seed",
      (json_int_t)run->seed, "timeout_scale", run->timeout_scale);
  if (!doc)
    return NULL;
  json_object_set_new(doc, "run_id", json_string(id));
  json_object_set_new(doc, "repeat", json_integer(run->repeat ? run->repeat : 1));
  json_object_set_new(doc, "settings", settings_json(run));
  json_object_set_new(doc, "settings_from_command_line", sets_json(run));
  if (run->settings_note[0])
    json_object_set_new(doc, "settings_note", json_string(run->settings_note));
  json_object_set_new(doc, "start_time", json_string(start));
  json_object_set_new(doc, "end_time", json_string(end));
  json_object_set_new(doc, "duration_s", json_real(run->end_time - run->start_time));
  json_object_set_new(doc, "totals", totals);
  json_object_set_new(doc, "cases", cases);
  if (run->cert)
    json_object_set_new(doc, "certificate", suite_cert_json(run->cert));
  return doc;
}

static void fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

/* doc into a new temporary file beside path, fsynced; its name in tmp. */
static int write_temp(const char *path, const json_t *doc, char *tmp, size_t cap,
                      mmc_error_t *err) {
  char dirbuf[PATH_MAX];
  snprintf(dirbuf, sizeof dirbuf, "%s", path);
  const char *dir = dirname(dirbuf);
  char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (!text)
    return mmc_fail(err, MMC_ENOMEM, "results %s: cannot serialise the JSON", path);
  snprintf(tmp, cap, "%s/.mmcert-results.XXXXXX", dir);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    int e = errno;
    free(text);
    return mmc_fail(err, MMC_EIO, "results %s: cannot create a file in %s: %s", path, dir,
                    strerror(e));
  }
  const char *what = NULL;
  if (suite_write_all(fd, text, strlen(text)) || suite_write_all(fd, "\n", 1))
    what = "write";
  else if (fchmod(fd, 0644) || fsync(fd))
    what = "fsync";
  int e = errno;
  if (close(fd) && !what)
    what = "close", e = errno;
  free(text);
  if (!what)
    return 0;
  unlink(tmp);
  return mmc_fail(err, MMC_EIO, "results %s: %s failed: %s (nothing written)", path, what,
                  strerror(e));
}

static void fsync_dir_of(const char *path) {
  char dirbuf[PATH_MAX];
  snprintf(dirbuf, sizeof dirbuf, "%s", path);
  fsync_dir(dirname(dirbuf));
}

int suite_results_write_file(const char *path, const json_t *doc, mmc_error_t *err) {
  char tmp[PATH_MAX + 32];
  int rc = write_temp(path, doc, tmp, sizeof tmp, err);
  if (rc)
    return rc;
  if (rename(tmp, path)) {
    int e = errno;
    unlink(tmp);
    return mmc_fail(err, MMC_EIO, "results %s: rename failed: %s (nothing written)", path,
                    strerror(e));
  }
  fsync_dir_of(path);
  return 0;
}

/* tmp under the name `path`, only if no file has it: link(2), or where the
 * file system has no hard links an O_EXCL placeholder then rename. 0, 1
 * when the name is taken, -1 with errno. */
static int place_new(const char *tmp, const char *path) {
  if (link(tmp, path) == 0)
    return unlink(tmp), 0;
  if (errno == EEXIST)
    return 1;
  if (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP)
    return -1;
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return errno == EEXIST ? 1 : -1;
  close(fd);
  return rename(tmp, path) == 0 ? 0 : -1;
}

int suite_results_write_new(char *path, size_t cap, const json_t *doc, mmc_error_t *err) {
  char tmp[PATH_MAX + 32], stem[PATH_MAX];
  int rc = write_temp(path, doc, tmp, sizeof tmp, err);
  if (rc)
    return rc;
  size_t len = strlen(path);
  snprintf(stem, sizeof stem, "%.*s",
           (int)(len > 5 && !strcmp(path + len - 5, ".json") ? len - 5 : len), path);
  for (unsigned k = 2; k < 100000; k++) {
    int placed = place_new(tmp, path);
    if (placed == 0) {
      fsync_dir_of(path);
      return 0;
    }
    if (placed < 0) {
      int e = errno;
      unlink(tmp);
      return mmc_fail(err, MMC_EIO, "results %s: cannot create it: %s (nothing written)", path,
                      strerror(e));
    }
    snprintf(path, cap, "%s-%u.json", stem, k);
  }
  unlink(tmp);
  return mmc_fail(err, MMC_EIO, "results %s.json: every name up to -99999 is taken", stem);
}

/* The run's document, strings scrubbed to the reader's rules; NULL when
 * out of memory. */
static json_t *run_doc(const suite_run_t *run) {
  json_t *doc = suite_results_json(run);
  /* Strings from outside (an implementation's setting names, a topology
   * path) obey the reader's rules, so the file always reads back. */
  if (doc)
    suite_rr_scrub(doc);
  return doc;
}

int suite_results_write_run_new(char *path, size_t cap, const suite_run_t *run, mmc_error_t *err) {
  json_t *doc = run_doc(run);
  if (!doc)
    return mmc_fail(err, MMC_ENOMEM, "results %s: out of memory building the JSON", path);
  int rc = suite_results_write_new(path, cap, doc, err);
  json_decref(doc);
  return rc;
}

int suite_results_write(const char *path, const suite_run_t *run, mmc_error_t *err) {
  json_t *doc = run_doc(run);
  if (!doc)
    return mmc_fail(err, MMC_ENOMEM, "results %s: out of memory building the JSON", path);
  int rc = suite_results_write_file(path, doc, err);
  json_decref(doc);
  return rc;
}

static int mkdir_one(const char *d, mmc_error_t *err) {
  if (mkdir(d, 0755) == 0 || errno == EEXIST)
    return 0;
  return mmc_fail(err, MMC_EIO, "results: cannot create directory %s: %s (give --json FILE)", d,
                  strerror(errno));
}

int suite_results_default_path(const char *impl_name, double when, char *buf, size_t cap,
                               mmc_error_t *err) {
  int rc = mkdir_one("results", err);
  if (!rc)
    rc = mkdir_one("results/runs", err);
  if (rc)
    return rc;
  char stamp[32], name[64];
  time_t s = (time_t)when;
  struct tm tm;
  gmtime_r(&s, &tm);
  strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  /* The implementation's name goes into a file name: keep it tame. */
  snprintf(name, sizeof name, "%s", impl_name);
  for (char *p = name; *p; p++)
    if (!(*p == '-' || *p == '_' || *p == '.' || (*p >= '0' && *p <= '9') ||
          (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
      *p = '_';
  snprintf(buf, cap, "results/runs/%s-%s.json", stamp, name);
  return 0;
}
