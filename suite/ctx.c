/*
 * ctx.c — the child side of a case (the sc_* functions of case.h) and the
 * record wire format between a case's child and the runner.
 *
 * Every sc_* report is written to the pipe at once as one record, so a
 * crash or hang later in the case loses nothing reported before it. The
 * child never writes to stdout (the runner points it at stderr): stdout is
 * the parent's TAP. Invariants: a child ends with exactly one of DONE, SKIP
 * or BROKEN (or dies, which the parent notices); hosts made by sc_host are
 * destroyed before DONE/SKIP/BROKEN is sent.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmc_error.h"
#include "probes/perf.h"
#include "runner.h"

enum { WIRE_MAGIC = 0x6d6d6372, WIRE_STR_MAX = 8192, SC_MAX_HOSTS = 64, SETTINGS_MAX = 4096 };

typedef struct wire_hdr {
  uint32_t magic;
  uint32_t kind;
  uint32_t ok;
  uint32_t len[4]; /* name, text, unit, better */
  double value;
  int64_t ival[4];
} wire_hdr_t;

struct suite_ctx {
  const suite_run_t *run;
  const suite_case_t *c;
  const suite_variant_t *v; /* the variant it runs; NULL for a case without */
  mmc_clock_mode_t clock;   /* the form the runner chose */
  int fd;
  const mmc_impl_t *impl; /* loaded in this child (load_impl) */
  mmc_host_t *hosts[SC_MAX_HOSTS];
};

/* ------------------------------------------------------------ wire format */

int suite_write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
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

int suite_rec_send(int fd, const suite_rec_t *r) {
  const char *s[4] = {r->name, r->text, r->unit, r->better};
  wire_hdr_t h = {.magic = WIRE_MAGIC, .kind = r->kind, .ok = r->ok, .value = r->value};
  memcpy(h.ival, r->ival, sizeof h.ival);
  size_t total = sizeof h;
  for (int i = 0; i < 4; i++) {
    size_t n = s[i] ? strlen(s[i]) : 0;
    h.len[i] = (uint32_t)(n > WIRE_STR_MAX ? WIRE_STR_MAX : n);
    total += h.len[i];
  }
  /* One write per record: nothing interleaves and a crash after it keeps it. */
  char *buf = malloc(total);
  if (!buf)
    return -1;
  memcpy(buf, &h, sizeof h);
  size_t o = sizeof h;
  for (int i = 0; i < 4; i++) {
    if (h.len[i])
      memcpy(buf + o, s[i], h.len[i]);
    o += h.len[i];
  }
  int rc = suite_write_all(fd, buf, total);
  free(buf);
  return rc;
}

long suite_rec_decode(const unsigned char *buf, size_t len, suite_rec_t *out) {
  wire_hdr_t h;
  if (len < sizeof h)
    return 0;
  memcpy(&h, buf, sizeof h);
  if (h.magic != WIRE_MAGIC || h.kind < SUITE_REC_CHECK || h.kind > SUITE_REC_NOT_SHOWN)
    return -1;
  size_t total = sizeof h;
  for (int i = 0; i < 4; i++) {
    if (h.len[i] > WIRE_STR_MAX)
      return -1;
    total += h.len[i];
  }
  if (len < total)
    return 0;
  *out = (suite_rec_t){.kind = h.kind, .ok = h.ok != 0, .value = h.value};
  memcpy(out->ival, h.ival, sizeof h.ival);
  char **dst[4] = {&out->name, &out->text, &out->unit, &out->better};
  size_t o = sizeof h;
  for (int i = 0; i < 4; i++) {
    *dst[i] = strndup((const char *)buf + o, h.len[i]);
    o += h.len[i];
  }
  return (long)total;
}

int suite_rec_take(void *ctx, const unsigned char *buf, size_t len, size_t *used) {
  suite_result_t *res = ctx;
  *used = 0;
  for (;;) {
    suite_rec_t rec;
    long n = suite_rec_decode(buf + *used, len - *used, &rec);
    if (n < 0) {
      snprintf(res->stream_error, sizeof res->stream_error,
               "a malformed record on its result pipe after %zu good one%s", res->nrecs,
               res->nrecs == 1 ? "" : "s");
      return -1;
    }
    if (n == 0)
      return 0;
    suite_result_add_rec(res, &rec);
    *used += (size_t)n;
  }
}

void suite_rec_free(suite_rec_t *r) {
  free(r->name);
  free(r->text);
  free(r->unit);
  free(r->better);
  *r = (suite_rec_t){0};
}

/* ------------------------------------------------------------ child side */

/* The message of a printf-like sc_* function, formatted into the array
 * `buf` from its arguments after `fmt` (a macro: va_start needs the
 * variadic function's own frame). */
#define SC_FORMAT(buf, fmt)                                                                        \
  do {                                                                                             \
    va_list ap_;                                                                                   \
    va_start(ap_, fmt);                                                                            \
    vsnprintf(buf, sizeof buf, fmt, ap_);                                                          \
    va_end(ap_);                                                                                   \
  } while (0)

static void send_rec(suite_ctx_t *c, suite_rec_kind_t kind, bool ok, const char *name,
                     const char *text) {
  suite_rec_t r = {.kind = kind, .ok = ok, .name = (char *)name, .text = (char *)text};
  /* The parent is gone or the pipe broke: nobody can read the result. */
  if (suite_rec_send(c->fd, &r) != 0)
    _exit(3);
}

static void destroy_hosts(suite_ctx_t *c) {
  for (int i = 0; i < SC_MAX_HOSTS; i++)
    if (c->hosts[i]) {
      c->impl->host_destroy(c->hosts[i]);
      c->hosts[i] = NULL;
    }
}

/* End the case; `notshown` is the not-shown kind of a SKIP. */
static _Noreturn void finish_kind(suite_ctx_t *c, suite_rec_kind_t kind,
                                  suite_notshown_kind_t notshown, const char *text) {
  destroy_hosts(c);
  suite_rec_t r = {.kind = kind, .ok = kind == SUITE_REC_DONE, .text = (char *)text};
  r.ival[0] = notshown;
  if (suite_rec_send(c->fd, &r) != 0)
    _exit(3);
  _exit(0);
}

static _Noreturn void finish(suite_ctx_t *c, suite_rec_kind_t kind, const char *text) {
  finish_kind(c, kind, kind == SUITE_REC_SKIP ? SUITE_NOTSHOWN_UNPROBED : SUITE_NOTSHOWN_NONE,
              text);
}

const mmc_impl_t *sc_impl(suite_ctx_t *c) {
  return c->impl;
}

/* The implementation, loaded in this child: the parent never loads it. */
static void load_impl(suite_ctx_t *c) {
  mmc_error_t err = {0};
  if (suite_impl_open(c->run->si, &c->impl, &err) != 0)
    finish(c, SUITE_REC_BROKEN, err.msg);
}
const mmt_topology_t *sc_topology(suite_ctx_t *c) {
  return c->run->topo;
}
suite_mode_t sc_mode(suite_ctx_t *c) {
  return c->run->mode;
}
uint64_t sc_seed(suite_ctx_t *c) {
  return c->run->seed;
}
mmc_clock_mode_t sc_clock(suite_ctx_t *c) {
  return c->clock;
}
const suite_variant_t *sc_variant(suite_ctx_t *c) {
  return c->v;
}

bool sc_check(suite_ctx_t *c, bool ok, const char *name, const char *diag_fmt, ...) {
  char diag[1024] = "";
  if (!ok && diag_fmt) {
    SC_FORMAT(diag, diag_fmt);
  }
  send_rec(c, SUITE_REC_CHECK, ok, name, diag);
  return ok;
}

bool sc_check_int(suite_ctx_t *c, const char *name, long long expected, long long seen) {
  return sc_check(c, expected == seen, name, "expected %lld, saw %lld", expected, seen);
}

bool sc_check_range(suite_ctx_t *c, const char *name, double lo, double hi, double seen) {
  return sc_check(c, seen >= lo && seen <= hi, name, "expected %g..%g, saw %g", lo, hi, seen);
}

void sc_metric(suite_ctx_t *c, const char *name, const char *unit, const char *better,
               double value) {
  suite_rec_t r = {.kind = SUITE_REC_METRIC,
                   .name = (char *)name,
                   .unit = (char *)unit,
                   .better = (char *)(better ? better : ""),
                   .value = value};
  if (suite_rec_send(c->fd, &r) != 0)
    _exit(3);
}

double suite_rec_series_t(const suite_rec_t *r) {
  double t;
  memcpy(&t, &r->ival[0], sizeof t);
  return t;
}

void sc_series(suite_ctx_t *c, const char *name, const char *unit, double t, double value) {
  suite_rec_t r = {.kind = SUITE_REC_SERIES,
                   .name = (char *)name,
                   .unit = (char *)(unit ? unit : ""),
                   .better = (char *)"",
                   .value = value};
  memcpy(&r.ival[0], &t, sizeof t);
  if (suite_rec_send(c->fd, &r) != 0)
    _exit(3);
}

/* Same record as a metric; a non-empty text (the reason) marks it
 * unsupported and the value is ignored by the parent. */
void sc_metric_unsupported(suite_ctx_t *c, const char *name, const char *unit, const char *reason) {
  suite_rec_t r = {.kind = SUITE_REC_METRIC,
                   .name = (char *)name,
                   .unit = (char *)(unit ? unit : ""),
                   .better = "",
                   .text = (char *)(reason && *reason ? reason : "unsupported"),
                   .value = 0};
  if (suite_rec_send(c->fd, &r) != 0)
    _exit(3);
}

void sc_diag(suite_ctx_t *c, const char *fmt, ...) {
  char text[2048];
  SC_FORMAT(text, fmt);
  send_rec(c, SUITE_REC_DIAG, true, NULL, text);
}

void sc_skip(suite_ctx_t *c, const char *fmt, ...) {
  char text[1024];
  SC_FORMAT(text, fmt);
  finish(c, SUITE_REC_SKIP, text);
}

void sc_skip_kind(suite_ctx_t *c, suite_notshown_kind_t kind, const char *fmt, ...) {
  char text[1024];
  SC_FORMAT(text, fmt);
  finish_kind(c, SUITE_REC_SKIP, kind == SUITE_NOTSHOWN_NONE ? SUITE_NOTSHOWN_UNPROBED : kind,
              text);
}

static void not_shown_part(suite_ctx_t *c, suite_notshown_kind_t kind, const char *text) {
  suite_rec_t r = {.kind = SUITE_REC_NOT_SHOWN, .ok = true, .text = (char *)text};
  r.ival[0] = kind == SUITE_NOTSHOWN_NONE ? SUITE_NOTSHOWN_UNPROBED : kind;
  if (suite_rec_send(c->fd, &r) != 0)
    _exit(3);
}

void sc_not_shown(suite_ctx_t *c, const char *fmt, ...) {
  char text[1024];
  SC_FORMAT(text, fmt);
  not_shown_part(c, SUITE_NOTSHOWN_UNPROBED, text);
}

void sc_not_shown_kind(suite_ctx_t *c, suite_notshown_kind_t kind, const char *fmt, ...) {
  char text[1024];
  SC_FORMAT(text, fmt);
  not_shown_part(c, kind, text);
}

void sc_broken(suite_ctx_t *c, const char *fmt, ...) {
  char text[1024];
  SC_FORMAT(text, fmt);
  finish(c, SUITE_REC_BROKEN, text);
}

void sc_require(suite_ctx_t *c, int rc, const mmc_error_t *err, const char *what) {
  if (rc == 0)
    return;
  sc_broken(c, "%s: %s (%s)", what, err && err->msg[0] ? err->msg : "no message",
            mmc_status_name(rc));
}

static mmc_host_config_t host_config(const suite_run_t *run, const mmt_topology_t *topo,
                                     mmc_clock_mode_t clock) {
  return (mmc_host_config_t){.topology = &(topo ? topo : run->topo)->desc,
                             .clock = clock,
                             .seed = run->seed,
                             .profile = run->profile};
}

mmc_host_t *sc_host(suite_ctx_t *c, const mmt_topology_t *topo, mmc_clock_mode_t clock,
                    const mmc_setting_value_t *extra, size_t nextra) {
  return sc_host_swap(c, topo, clock, extra, nextra, NULL);
}

mmc_host_t *sc_host_swap(suite_ctx_t *c, const mmt_topology_t *topo, mmc_clock_mode_t clock,
                         const mmc_setting_value_t *extra, size_t nextra, const char *swap_dir) {
  const suite_run_t *run = c->run;
  char na[512];
  /* A case that builds its own emulated topology cannot run an
   * implementation that only runs on real nodes: not applicable, named. */
  if (suite_not_applicable(run->si, topo ? topo : run->topo, na, sizeof na))
    finish_kind(c, SUITE_REC_SKIP, SUITE_NOTSHOWN_NOT_APPLICABLE, na);
  int slot = 0;
  while (slot < SC_MAX_HOSTS && c->hosts[slot])
    slot++;
  if (slot == SC_MAX_HOSTS)
    sc_broken(c, "sc_host: more than %d hosts alive in one case", SC_MAX_HOSTS);
  /* The run's --set values first, then the case's own. */
  size_t n = run->nsets + (extra ? nextra : 0);
  mmc_setting_value_t *all = calloc(n ? n : 1, sizeof *all);
  if (!all)
    sc_broken(c, "sc_host: out of memory");
  if (run->nsets)
    memcpy(all, run->sets, run->nsets * sizeof *all);
  if (extra && nextra)
    memcpy(all + run->nsets, extra, nextra * sizeof *all);
  mmc_host_config_t cfg = host_config(run, topo, clock);
  cfg.settings = all;
  cfg.nsettings = n;
  cfg.swap_dir = swap_dir;
  mmc_error_t err = {0};
  mmc_host_t *h = NULL;
  int rc = c->impl->host_create(&cfg, &h, &err);
  free(all);
  if (rc == 0 && !h)
    sc_broken(c, "host_create returned 0 but no host");
  sc_require(c, rc, &err, "host_create");
  c->hosts[slot] = h;
  return h;
}

void sc_host_destroy(suite_ctx_t *c, mmc_host_t *h) {
  for (int i = 0; i < SC_MAX_HOSTS; i++)
    if (c->hosts[i] == h) {
      c->hosts[i] = NULL;
      c->impl->host_destroy(h);
      return;
    }
  sc_broken(c, "sc_host_destroy: host %p was not made by sc_host", (void *)h);
}

void suite_child_case(const suite_run_t *run, const suite_case_t *kase, const suite_variant_t *v,
                      mmc_clock_mode_t clock, int fd) {
  suite_ctx_t c = {.run = run, .c = kase, .v = v, .clock = clock, .fd = fd};
  load_impl(&c);
  /* Counters of the case's whole process, vCPU threads included (they are
   * inherited): software events everywhere, hardware ones where the PMU
   * has them, otherwise "unsupported" with the reason. */
  sc_perf_t *perf = run->perf ? sc_perf_begin(&c, NULL, 0) : NULL;
  kase->run(&c);
  if (perf)
    sc_perf_end(&c, perf);
  finish(&c, SUITE_REC_DONE, NULL);
}

/* ------------------------------------------------------------ preflight */

static bool find_info(const mmc_impl_t *im, mmc_host_t *h, const char *name,
                      mmc_setting_info_t *out) {
  for (size_t i = 0; i < SETTINGS_MAX; i++) {
    if (im->setting_info(h, i, out) != 0)
      return false;
    if (out->name && !strcmp(out->name, name))
      return true;
  }
  return false;
}

/* Apply one --set: refused values are reported with the allowed range. */
static void preflight_set(suite_ctx_t *c, mmc_host_t *h, const mmc_setting_value_t *sv) {
  const mmc_impl_t *im = c->impl;
  char msg[1024];
  mmc_setting_info_t info = {0};
  if (!find_info(im, h, sv->name, &info)) {
    snprintf(msg, sizeof msg,
             "--set %s=%lld: unknown setting '%s' (this implementation has no such setting; "
             "see the settings in a run's JSON or doc/spec.md, 'Advanced settings')",
             sv->name, (long long)sv->value, sv->name);
    send_rec(c, SUITE_REC_SET_ERROR, false, sv->name, msg);
    return;
  }
  mmc_error_t err = {0};
  int rc = im->setting_set(h, sv->name, sv->value, &err);
  bool in_range = sv->value >= info.min && sv->value <= info.max;
  if (rc == 0 && in_range)
    return;
  /* Name the range ourselves unless the implementation's message does. */
  char lo[24], hi[24], range[96] = "";
  snprintf(lo, sizeof lo, "%lld", (long long)info.min);
  snprintf(hi, sizeof hi, "%lld", (long long)info.max);
  if (!rc || !strstr(err.msg, lo) || !strstr(err.msg, hi))
    snprintf(range, sizeof range, " (allowed %s..%s%s%s)", lo, hi,
             info.unit && *info.unit ? " " : "", info.unit ? info.unit : "");
  snprintf(msg, sizeof msg, "--set %s=%lld: %s%s", sv->name, (long long)sv->value,
           rc ? err.msg : "accepted although outside the implementation's own range", range);
  send_rec(c, SUITE_REC_SET_ERROR, false, sv->name, msg);
}

void suite_child_preflight(const suite_run_t *run, int fd) {
  suite_ctx_t c = {.run = run, .fd = fd};
  load_impl(&c);
  const mmc_impl_t *im = c.impl;
  mmc_clock_mode_t clock =
      (im->capabilities & MMC_CAP_CLOCK_STEPPED) ? MMC_CLOCK_STEPPED : MMC_CLOCK_LIVE;
  mmc_host_config_t cfg = host_config(run, NULL, clock);
  mmc_error_t err = {0};
  mmc_host_t *h = NULL;
  int rc = im->host_create(&cfg, &h, &err);
  if (rc || !h)
    finish(&c, SUITE_REC_BROKEN, rc ? err.msg : "host_create returned 0 but no host");
  c.hosts[0] = h;
  for (size_t i = 0; i < run->nsets; i++)
    preflight_set(&c, h, &run->sets[i]);
  for (size_t i = 0; i < SETTINGS_MAX; i++) {
    mmc_setting_info_t info = {0};
    if (im->setting_info(h, i, &info) != 0)
      break;
    int64_t v = 0;
    if (!info.name || im->setting_get(h, info.name, &v, &err) != 0)
      continue;
    suite_rec_t r = {.kind = SUITE_REC_SETTING,
                     .name = (char *)info.name,
                     .unit = (char *)(info.unit ? info.unit : ""),
                     .text = (char *)(info.meaning ? info.meaning : ""),
                     .ival = {v, info.default_value, info.min, info.max}};
    if (suite_rec_send(fd, &r) != 0)
      _exit(3);
  }
  finish(&c, SUITE_REC_DONE, NULL);
}
