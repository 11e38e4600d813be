/*
 * results.c — the JSON results writer declared in results.h (issue 2
 * item 8). Machine facts are read here from the kernel (uname, hostname,
 * /proc/cpuinfo, /sys/devices/system/node) rather than taken from the
 * topology, because a run's topology may be emulated.
 */
#include "results.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "mmc_error.h"

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

static json_t *machine_json(void) {
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  return json_pack("{s:s, s:o, s:I, s:i, s:I}", "hostname", host, "cpu_model", cpu_model(), "cpus",
                   (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "numa_nodes", kernel_nodes(),
                   "memory_bytes",
                   (json_int_t)sysconf(_SC_PHYS_PAGES) * (json_int_t)sysconf(_SC_PAGESIZE));
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
  return json_pack("{s:s, s:s?, s:b, s:i, s:o, s:o, s:b, s:I}", "source", t->source, "spec",
                   run->topology_spec, "is_this_machine", t->is_this_machine, "nnodes",
                   (int)t->desc.nnodes, "nodes", nodes, "distances", dist,
                   "distances_from_firmware", t->distances_from_firmware, "host_memory_cap_bytes",
                   (json_int_t)run->host_memory);
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

static json_t *case_json(const suite_result_t *r) {
  json_t *checks = json_array(), *metrics = json_array(), *diags = json_array();
  for (size_t i = 0; i < r->nrecs; i++) {
    const suite_rec_t *rec = &r->recs[i];
    if (rec->kind == SUITE_REC_CHECK)
      json_array_append_new(checks, json_pack("{s:s, s:b, s:s}", "name", rec->name, "ok", rec->ok,
                                              "diag", rec->text));
    else if (rec->kind == SUITE_REC_METRIC && rec->text[0]) /* sc_metric_unsupported */
      json_array_append_new(metrics, json_pack("{s:s, s:s, s:s, s:n, s:s}", "name", rec->name,
                                               "unit", rec->unit, "better", rec->better, "value",
                                               "unsupported", rec->text));
    else if (rec->kind == SUITE_REC_METRIC)
      json_array_append_new(metrics,
                            json_pack("{s:s, s:s, s:s, s:f}", "name", rec->name, "unit", rec->unit,
                                      "better", rec->better, "value", rec->value));
    else if (rec->kind == SUITE_REC_DIAG)
      json_array_append_new(diags, json_string(rec->text));
  }
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:f, s:o, s:o, s:o}", "id", r->c->id, "spec_ids",
                   r->c->spec_ids ? r->c->spec_ids : "", "title", r->c->title, "verdict",
                   suite_verdict_name(r->verdict), "reason", r->reason, "timed_out", r->timed_out,
                   "duration_s", r->duration_s, "checks", checks, "metrics", metrics, "diags",
                   diags);
}

json_t *suite_results_json(const suite_run_t *run) {
  char start[32], end[32];
  iso_time(run->start_time, start, sizeof start);
  iso_time(run->end_time, end, sizeof end);
  json_t *cases = json_array();
  for (size_t i = 0; i < run->nresults; i++)
    json_array_append_new(cases, case_json(&run->results[i]));
  json_t *totals = json_pack("{s:i, s:i, s:i, s:i}", "pass", run->totals[SUITE_PASS], "fail",
                             run->totals[SUITE_FAIL], "skip", run->totals[SUITE_SKIP], "broken",
                             run->totals[SUITE_BROKEN]);
  json_t *doc = json_pack(
      "{s:s, s:i, s:s, s:o, s:o, s:o, s:o, s:s, s:s, s:I, s:f}", "schema", "mmcert-results",
      "schema_version", SUITE_RESULTS_SCHEMA, "mmcert_version", MMCERT_VERSION, "machine",
      machine_json(), "kernel", kernel_json(), "topology", topology_json(run), "implementation",
      impl_json(run), "mode", run->mode == SUITE_MODE_FULL ? "full" : "quick", "profile",
      run->profile, "seed", (json_int_t)run->seed, "timeout_scale", run->timeout_scale);
  if (!doc)
    return NULL;
  json_object_set_new(doc, "settings", settings_json(run));
  json_object_set_new(doc, "settings_from_command_line", sets_json(run));
  if (run->settings_note[0])
    json_object_set_new(doc, "settings_note", json_string(run->settings_note));
  json_object_set_new(doc, "start_time", json_string(start));
  json_object_set_new(doc, "end_time", json_string(end));
  json_object_set_new(doc, "duration_s", json_real(run->end_time - run->start_time));
  json_object_set_new(doc, "totals", totals);
  json_object_set_new(doc, "cases", cases);
  return doc;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

int suite_results_write_file(const char *path, const json_t *doc, mmc_error_t *err) {
  char dirbuf[PATH_MAX], tmp[PATH_MAX + 32];
  snprintf(dirbuf, sizeof dirbuf, "%s", path);
  const char *dir = dirname(dirbuf);
  char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (!text)
    return mmc_fail(err, MMC_ENOMEM, "results %s: cannot serialise the JSON", path);
  snprintf(tmp, sizeof tmp, "%s/.mmcert-results.XXXXXX", dir);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    int e = errno;
    free(text);
    return mmc_fail(err, MMC_EIO, "results %s: cannot create a file in %s: %s", path, dir,
                    strerror(e));
  }
  int rc = 0;
  const char *what = NULL;
  if (write_all(fd, text, strlen(text)) || write_all(fd, "\n", 1))
    what = "write";
  else if (fchmod(fd, 0644) || fsync(fd))
    what = "fsync";
  int e = errno;
  if (close(fd) && !what)
    what = "close", e = errno;
  if (!what && rename(tmp, path))
    what = "rename", e = errno;
  if (what) {
    unlink(tmp);
    rc = mmc_fail(err, MMC_EIO, "results %s: %s failed: %s (nothing written)", path, what,
                  strerror(e));
  } else {
    fsync_dir(dir);
  }
  free(text);
  return rc;
}

int suite_results_write(const char *path, const suite_run_t *run, mmc_error_t *err) {
  json_t *doc = suite_results_json(run);
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
