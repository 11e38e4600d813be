/*
 * runner.c — the parent side of `mmcert run`: select
 * cases, write SKIP reasons from their needs, fork one child per case with a
 * timeout, collect its records, print TAP version 13 with KTAP-indented
 * subtests, a "# Totals" line and a summary table.
 *
 * Why a child per case: an implementation under test may crash or hang;
 * that must cost one `not ok` (verdict broken) while the run goes on. The
 * children are supervise.c's: each in its own process group with a
 * deadline, dying with mmcert even on SIGKILL, what they leave behind
 * (processes, temporary files) removed and reported; an interrupted mmcert
 * (INT, TERM, HUP, or PIPE when the TAP reader went away) kills the running
 * child's group first, so no hung implementation outlives it. A child sends
 * records (ctx.c); a malformed one breaks the case, said so. Invariant:
 * stdout carries only TAP (children write to stderr).
 *
 * Variants and clock forms (case.h): the runner picks a case's clock form
 * once (pick_clock: --clock, else stepped where the case and the
 * implementation both have it, else live), then takes only its variants of
 * that form as test points; the others are not run, a TAP comment names
 * them, and the certificate does not count them. A variant of the other
 * form is a test point only when --case names it and none of the form
 * (then not shown [clock], with why the case runs the other form).
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "certificate.h"
#include "mmc_error.h"
#include "runner.h"
#include "supervise.h"
#include "tap.h"

enum { DEFAULT_TIMEOUT_S = 60, FULL_MODE_FACTOR = 20, PREFLIGHT_TIMEOUT_S = 30 };

const char *suite_mode_name(suite_mode_t m) {
  return m == SUITE_MODE_FULL ? "full" : m == SUITE_MODE_BENCH ? "bench" : "quick";
}

const char *suite_verdict_name(suite_verdict_t v) {
  static const char *const names[] = {"pass", "fail", "skip", "broken"};
  return v <= SUITE_BROKEN ? names[v] : "?";
}

double suite_mono_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double suite_real_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ needs */

static unsigned real_nodes(const mmt_topology_t *t) {
  unsigned n = 0;
  for (uint32_t i = 0; i < t->desc.nnodes; i++)
    n += t->desc.nodes[i].real;
  return n;
}

static bool have_pmu(void) {
  struct perf_event_attr a = {.type = PERF_TYPE_HARDWARE,
                              .size = sizeof a,
                              .config = PERF_COUNT_HW_CPU_CYCLES,
                              .disabled = 1,
                              .exclude_kernel = 1,
                              .exclude_hv = 1};
  long fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
  if (fd < 0)
    return false;
  close((int)fd);
  return true;
}

__attribute__((format(printf, 3, 4))) static void append(char *buf, size_t cap, const char *fmt,
                                                         ...) {
  size_t len = strlen(buf);
  if (len + 1 >= cap)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + len, cap - len, fmt, ap);
  va_end(ap);
}

void suite_caps_reason(const suite_impl_t *si, uint64_t missing, char *reason, size_t cap) {
  snprintf(reason, cap, "needs");
  for (int b = 0; b < 64; b++)
    if (missing & (1ull << b)) {
      const char *n = suite_cap_name(1ull << b);
      append(reason, cap, " MMC_CAP_%s", n ? n : "(unknown bit)");
    }
  append(reason, cap, " (implementation %s lacks it", si->impl->name);
  for (int b = 0; b < 64; b++) {
    bool said = false; /* one sentence once, however many flags it explains */
    for (int e = 0; e < b && !said; e++)
      said = missing & (1ull << e) && !strcmp(si->why_not[e], si->why_not[b]);
    if (missing & (1ull << b) && si->why_not[b][0] && !said)
      append(reason, cap, ": %s", si->why_not[b]);
  }
  append(reason, cap, ")");
}

bool suite_not_applicable(const suite_impl_t *si, const mmt_topology_t *t, char *reason,
                          size_t cap) {
  if (!(si->impl->capabilities & MMC_CAP_REAL_NODES_ONLY) || real_nodes(t) == t->desc.nnodes)
    return false;
  snprintf(reason, cap,
           "not applicable: implementation %s runs only on this machine's kernel NUMA nodes "
           "(MMC_CAP_REAL_NODES_ONLY) and topology '%s' has %u emulated node%s",
           si->impl->name, t->source, t->desc.nnodes - real_nodes(t),
           t->desc.nnodes - real_nodes(t) == 1 ? "" : "s");
  return true;
}

static const char *clock_name(mmc_clock_mode_t m) {
  return m == MMC_CLOCK_LIVE ? "live" : "stepped";
}

static uint32_t form_of(mmc_clock_mode_t m) {
  return m == MMC_CLOCK_LIVE ? SUITE_CLOCKS_LIVE : SUITE_CLOCKS_STEPPED;
}

/* The clock form of case `c` in this run, over the forms its variants have
 * (case.h, "Variants and clock forms"): forced by --clock, else stepped
 * when the case and the implementation both have it (deterministic), else
 * live. */
static suite_notshown_kind_t pick_clock(const suite_run_t *run, const suite_case_t *c,
                                        mmc_clock_mode_t *clock, char *reason, size_t cap) {
  uint32_t forms = suite_case_clocks(c, NULL);
  const char *name = c->id;
  uint64_t caps = run->si->impl->capabilities;
  bool impl_stepped = caps & MMC_CAP_CLOCK_STEPPED, impl_live = caps & MMC_CAP_CLOCK_LIVE;
  bool case_stepped = forms & SUITE_CLOCKS_STEPPED, case_live = forms & SUITE_CLOCKS_LIVE;
  if (run->clock_forced) {
    mmc_clock_mode_t m = run->clock_force;
    bool case_has = m == MMC_CLOCK_LIVE ? case_live : case_stepped;
    bool impl_has = m == MMC_CLOCK_LIVE ? impl_live : impl_stepped;
    if (!case_has && m == MMC_CLOCK_LIVE && c->no_live)
      snprintf(reason, cap, "case %s has no live form (--clock live): %s", name, c->no_live);
    else if (!case_has)
      snprintf(reason, cap, "case %s has no %s form (--clock %s)", name, clock_name(m),
               clock_name(m));
    else if (!impl_has)
      suite_caps_reason(run->si, m == MMC_CLOCK_LIVE ? MMC_CAP_CLOCK_LIVE : MMC_CAP_CLOCK_STEPPED,
                        reason, cap);
    *clock = m;
    return case_has && impl_has ? SUITE_NOTSHOWN_NONE : SUITE_NOTSHOWN_CLOCK;
  }
  if (case_stepped && impl_stepped)
    *clock = MMC_CLOCK_STEPPED;
  else if (case_live && impl_live)
    *clock = MMC_CLOCK_LIVE;
  else if (!case_live && impl_live && c->no_live) {
    snprintf(reason, cap, "case %s has no live form (implementation %s runs only a live clock): %s",
             name, run->si->impl->name, c->no_live);
    return SUITE_NOTSHOWN_CLOCK;
  } else {
    snprintf(reason, cap, "case %s has %s; implementation %s runs %s", name,
             case_stepped && case_live ? "both clock forms"
             : case_stepped            ? "only a stepped-clock form"
                                       : "only a live-clock form",
             run->si->impl->name,
             impl_stepped && impl_live ? "both clocks"
             : impl_stepped            ? "only a stepped clock"
             : impl_live               ? "only a live clock"
                                       : "no clock (neither MMC_CAP_CLOCK_STEPPED nor _LIVE)");
    return SUITE_NOTSHOWN_CLOCK;
  }
  return SUITE_NOTSHOWN_NONE;
}

/* The form pick_clock picks for `c` (SUITE_CLOCKS_STEPPED or _LIVE), 0 when
 * it has none the implementation has. */
static uint32_t case_form(const suite_run_t *run, const suite_case_t *c) {
  char reason[512];
  mmc_clock_mode_t m = MMC_CLOCK_STEPPED;
  return pick_clock(run, c, &m, reason, sizeof reason) ? 0 : form_of(m);
}

/* Why the case runs its `m` form here, for a variant of the other one. */
static void form_why(const suite_run_t *run, mmc_clock_mode_t m, char *buf, size_t cap) {
  if (run->clock_forced)
    snprintf(buf, cap, "--clock %s", clock_name(m));
  else if (m == MMC_CLOCK_STEPPED)
    snprintf(buf, cap,
             "the case and implementation %s both have the stepped clock; --clock live "
             "runs the live form",
             run->si->impl->name);
  else
    snprintf(buf, cap, "implementation %s runs only a live clock", run->si->impl->name);
}

/* A variant of the form the case did not pick is not run (case.h): named
 * alone by --case, it is not shown [clock]. */
static suite_notshown_kind_t variant_form_unmet(const suite_run_t *run, const suite_case_t *c,
                                                const suite_variant_t *v, mmc_clock_mode_t m,
                                                char *reason, size_t cap) {
  if (!v || suite_case_clocks(c, v) & form_of(m))
    return SUITE_NOTSHOWN_NONE;
  char why[256];
  form_why(run, m, why, sizeof why);
  snprintf(reason, cap,
           "variant %s/%s belongs to the %s form and case %s runs its %s form here (%s): not run "
           "on this clock form",
           c->id, v->name, clock_name(m == MMC_CLOCK_LIVE ? MMC_CLOCK_STEPPED : MMC_CLOCK_LIVE),
           c->id, clock_name(m), why);
  return SUITE_NOTSHOWN_CLOCK;
}

static suite_notshown_kind_t topology_unmet(const suite_run_t *run, const suite_case_t *c,
                                            char *reason, size_t cap) {
  uint32_t want_real = c->min_nodes > 2 ? c->min_nodes : 2;
  if (c->needs & SUITE_NEED_REAL_NUMA && real_nodes(run->topo) < want_real) {
    snprintf(reason, cap, "needs %u real NUMA nodes, topology '%s' has %u", want_real,
             run->topo->source, real_nodes(run->topo));
    return SUITE_NOTSHOWN_TOPOLOGY;
  }
  if (c->min_nodes && run->topo->desc.nnodes < c->min_nodes) {
    snprintf(reason, cap, "needs %u NUMA nodes, topology '%s' has %u", c->min_nodes,
             run->topo->source, run->topo->desc.nnodes);
    return SUITE_NOTSHOWN_TOPOLOGY;
  }
  uint64_t mem = 0;
  for (uint32_t i = 0; i < run->topo->desc.nnodes; i++)
    mem += run->topo->desc.nodes[i].memory_bytes;
  if (c->min_memory && mem < c->min_memory) {
    snprintf(reason, cap, "needs %llu MiB of host memory, the run has %llu MiB",
             (unsigned long long)(c->min_memory >> 20), (unsigned long long)(mem >> 20));
    return SUITE_NOTSHOWN_TOPOLOGY;
  }
  return SUITE_NOTSHOWN_NONE;
}

static suite_notshown_kind_t machine_unmet(const suite_case_t *c, char *reason, size_t cap) {
  if (c->needs & SUITE_NEED_ROOT && geteuid() != 0) {
    snprintf(reason, cap, "needs root (running as uid %u)", (unsigned)geteuid());
    return SUITE_NOTSHOWN_MACHINE;
  }
  if (c->needs & SUITE_NEED_PMU && !have_pmu()) {
    snprintf(reason, cap, "needs hardware perf events (PMU): perf_event_open cycles refused");
    return SUITE_NOTSHOWN_MACHINE;
  }
  if (c->needs & SUITE_NEED_KSM && access("/sys/kernel/mm/ksm/run", W_OK) != 0) {
    snprintf(reason, cap, "needs KSM: /sys/kernel/mm/ksm/run not writable");
    return SUITE_NOTSHOWN_MACHINE;
  }
  return SUITE_NOTSHOWN_NONE;
}

suite_notshown_kind_t suite_needs_unmet(const suite_run_t *run, const suite_case_t *c,
                                        const suite_variant_t *v, mmc_clock_mode_t *clock,
                                        char *reason, size_t cap) {
  reason[0] = '\0';
  mmc_clock_mode_t dummy;
  clock = clock ? clock : &dummy;
  *clock = MMC_CLOCK_STEPPED;
  uint64_t missing = c->needs_caps & ~run->si->impl->capabilities;
  if (missing) {
    suite_caps_reason(run->si, missing, reason, cap);
    return SUITE_NOTSHOWN_CAPABILITY;
  }
  suite_notshown_kind_t k = pick_clock(run, c, clock, reason, cap);
  if (k || (k = variant_form_unmet(run, c, v, *clock, reason, cap)))
    return k;
  if (suite_not_applicable(run->si, run->topo, reason, cap))
    return SUITE_NOTSHOWN_NOT_APPLICABLE;
  if ((k = topology_unmet(run, c, reason, cap)))
    return k;
  return machine_unmet(c, reason, cap);
}

/* ------------------------------------------------------------ children */

void suite_result_add_rec(suite_result_t *r, const suite_rec_t *rec) {
  if (r->nrecs == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 16;
    suite_rec_t *n = realloc(r->recs, cap * sizeof *n);
    if (!n)
      abort(); /* the parent itself is out of memory: nothing sensible is left */
    r->recs = n;
    r->cap = cap;
  }
  r->recs[r->nrecs++] = *rec;
}

typedef enum child_kind { CHILD_CASE, CHILD_PREFLIGHT } child_kind_t;

typedef struct child_job {
  const suite_run_t *run;
  child_kind_t kind;
  const suite_case_t *c;
  const suite_variant_t *v;
  mmc_clock_mode_t clock;
} child_job_t;

/* In the child (supervise.c made it its own process group, with stdout on
 * stderr: stdout is the parent's TAP stream). */
static _Noreturn void child_main(void *arg, int fd) {
  const child_job_t *j = arg;
  if (j->kind == CHILD_PREFLIGHT)
    suite_child_preflight(j->run, fd);
  suite_child_case(j->run, j->c, j->v, j->clock, fd);
}

/* Run one child to completion or timeout; fill res (records, timing) and
 * return its wait status (or -1 when it could not be started). Processes it
 * left outside its group are reported as a diagnostic of the case. */
static int run_child(const suite_run_t *run, child_kind_t kind, double timeout_s,
                     suite_result_t *res) {
  child_job_t j = {.run = run, .kind = kind, .c = res->c, .v = res->v, .clock = res->clock};
  char what[128];
  snprintf(what, sizeof what, "case %s", kind == CHILD_CASE ? res->name : "preflight");
  suite_sup_job_t job = {.what = what,
                         .child = child_main,
                         .arg = &j,
                         .consume = suite_rec_take,
                         .ctx = res,
                         .timeout_s = timeout_s,
                         .stdout_to_err = true};
  suite_sup_end_t end;
  if (suite_sup_run(&job, &end) != 0) {
    snprintf(res->reason, sizeof res->reason, "%s", end.error);
    return -1;
  }
  res->timed_out = end.timed_out;
  res->duration_s = end.duration_s;
  if (end.nescaped) {
    suite_rec_t d = {.kind = SUITE_REC_DIAG};
    if (asprintf(&d.text,
                 "%u process%s the implementation started left the case's process group and "
                 "outlived it (killed): %s",
                 end.nescaped, end.nescaped == 1 ? "" : "es", end.escaped) < 0)
      abort();
    d.name = strdup(""), d.unit = strdup(""), d.better = strdup("");
    suite_result_add_rec(res, &d);
    fprintf(run->err, "mmcert: %s: %s\n", what, d.text);
  }
  return end.status;
}

static const suite_rec_t *end_record(const suite_result_t *r) {
  for (size_t i = r->nrecs; i-- > 0;) {
    suite_rec_kind_t k = r->recs[i].kind;
    if (k == SUITE_REC_DONE || k == SUITE_REC_SKIP || k == SUITE_REC_BROKEN)
      return &r->recs[i];
  }
  return NULL;
}

static void count_checks(const suite_result_t *r, unsigned *n, unsigned *failed) {
  *n = *failed = 0;
  for (size_t i = 0; i < r->nrecs; i++)
    if (r->recs[i].kind == SUITE_REC_CHECK) {
      (*n)++;
      *failed += !r->recs[i].ok;
    }
}

/* What the case said it could not judge (sc_not_shown), joined; *kind is
 * the first part's (unprobed when a record names none). */
static bool unprobed_reasons(const suite_result_t *r, char *buf, size_t cap,
                             suite_notshown_kind_t *kind) {
  buf[0] = '\0';
  bool any = false;
  for (size_t i = 0; i < r->nrecs; i++)
    if (r->recs[i].kind == SUITE_REC_NOT_SHOWN) {
      if (!any)
        *kind = r->recs[i].ival[0] > SUITE_NOTSHOWN_NONE &&
                        r->recs[i].ival[0] <= SUITE_NOTSHOWN_UNPROBED
                    ? (suite_notshown_kind_t)r->recs[i].ival[0]
                    : SUITE_NOTSHOWN_UNPROBED;
      append(buf, cap, "%s%s", any ? "; " : "", r->recs[i].text);
      any = true;
    }
  return any;
}

/* How did a child end? Fills verdict and reason. */
static void judge(suite_result_t *r, int status, double timeout_s, bool need_checks) {
  const suite_rec_t *end = end_record(r);
  unsigned n, failed;
  count_checks(r, &n, &failed);
  if (r->timed_out) {
    r->verdict = SUITE_BROKEN;
    snprintf(r->reason, sizeof r->reason, "TIMEOUT after %.1f s (process group killed)", timeout_s);
  } else if (status < 0) {
    r->verdict = SUITE_BROKEN; /* reason set by run_child */
  } else if (WIFSIGNALED(status)) {
    r->verdict = SUITE_BROKEN;
    snprintf(r->reason, sizeof r->reason, "child killed by signal %d (%s)%s", WTERMSIG(status),
             strsignal(WTERMSIG(status)), end ? " after it finished" : "");
  } else if (r->stream_error[0]) {
    r->verdict = SUITE_BROKEN;
    snprintf(r->reason, sizeof r->reason, "the child sent %s (exit status %d)", r->stream_error,
             WEXITSTATUS(status));
  } else if (!end || WEXITSTATUS(status) != 0) {
    r->verdict = SUITE_BROKEN;
    snprintf(r->reason, sizeof r->reason, "child exited with status %d before finishing",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  } else if (end->kind == SUITE_REC_BROKEN) {
    r->verdict = SUITE_BROKEN;
    snprintf(r->reason, sizeof r->reason, "%s", end->text);
  } else if (failed) {
    r->verdict = SUITE_FAIL;
    snprintf(r->reason, sizeof r->reason, "%u of %u checks failed", failed, n);
  } else if (end->kind == SUITE_REC_SKIP) {
    r->verdict = SUITE_SKIP;
    r->notshown_kind = end->ival[0] ? (suite_notshown_kind_t)end->ival[0] : SUITE_NOTSHOWN_UNPROBED;
    snprintf(r->reason, sizeof r->reason, "%s", end->text);
  } else if (unprobed_reasons(r, r->reason, sizeof r->reason, &r->notshown_kind)) {
    r->verdict = SUITE_SKIP;
  } else if (n == 0 && need_checks) {
    r->verdict = SUITE_BROKEN;
    snprintf(r->reason, sizeof r->reason, "the case reported no checks");
  } else {
    r->verdict = SUITE_PASS;
  }
}

static double case_timeout(const suite_run_t *run, const suite_case_t *c) {
  double t = c->timeout_s ? c->timeout_s : DEFAULT_TIMEOUT_S;
  if (run->mode == SUITE_MODE_FULL)
    t *= FULL_MODE_FACTOR;
  return t * run->timeout_scale;
}

/* ------------------------------------------------------------ TAP */

static void print_case(tap_t *top, const suite_result_t *r, unsigned repeat) {
  unsigned n, failed;
  count_checks(r, &n, &failed);
  tap_t sub, *where = top;
  if (n) {
    tap_subtest(top, &sub, r->name);
    tap_plan(&sub, n);
    where = &sub;
  }
  for (size_t i = 0; i < r->nrecs; i++) {
    const suite_rec_t *rec = &r->recs[i];
    if (rec->kind == SUITE_REC_CHECK) {
      tap_ok(where, rec->ok, "%s", rec->name);
      if (!rec->ok && rec->text[0])
        tap_diag(where, "%s", rec->text);
    } else if (rec->kind == SUITE_REC_DIAG) {
      tap_diag(where, "%s", rec->text);
    } else if (rec->kind == SUITE_REC_NOT_SHOWN) {
      tap_diag(where, "not shown: %s", rec->text);
    } else if (rec->kind == SUITE_REC_METRIC && rec->text[0]) {
      tap_diag(where, "metric %s unsupported: %s", rec->name, rec->text);
    } else if (rec->kind == SUITE_REC_METRIC) {
      tap_diag(where, "metric %s = %g %s%s%s", rec->name, rec->value, rec->unit,
               rec->better[0] ? ", better " : "", rec->better);
    }
  }
  char desc[512];
  snprintf(desc, sizeof desc, "%s %s", r->name, r->c->title);
  if (r->v && r->v->title) {
    size_t len = strlen(desc);
    snprintf(desc + len, sizeof desc - len, " (%s)", r->v->title);
  }
  uint32_t forms = suite_case_clocks(r->c, r->v);
  if (r->verdict != SUITE_SKIP &&
      (forms == (SUITE_CLOCKS_STEPPED | SUITE_CLOCKS_LIVE) || r->clock == MMC_CLOCK_LIVE)) {
    size_t len = strlen(desc); /* which form ran, when the case has a choice */
    snprintf(desc + len, sizeof desc - len, " [%s clock]", clock_name(r->clock));
  }
  if (repeat > 1) {
    size_t len = strlen(desc);
    snprintf(desc + len, sizeof desc - len, " (repetition %u of %u)", r->rep + 1, repeat);
  }
  switch (r->verdict) {
  case SUITE_PASS: tap_ok(top, true, "%s", desc); break;
  case SUITE_SKIP:
    tap_skip(top, desc, "not shown (%s): %s", suite_notshown_kind_name(r->notshown_kind),
             r->reason);
    break;
  case SUITE_FAIL:
    tap_ok(top, false, "%s", desc);
    tap_diag(top, "FAIL: %s", r->reason);
    break;
  case SUITE_BROKEN:
    if (r->timed_out)
      tap_ok_note(top, false, desc, "%s", r->reason);
    else
      tap_ok(top, false, "%s", desc);
    tap_diag(top, "BROKEN: %s", r->reason);
    break;
  }
}

static void print_summary(const suite_run_t *run) {
  FILE *f = run->err;
  fprintf(f, "\nmmcert summary: %s %s, topology %s, seed %llu, mode %s\n", run->si->impl->name,
          run->si->impl->version, run->topo->source, (unsigned long long)run->seed,
          suite_mode_name(run->mode));
  fprintf(f, "  %-24s %-7s %-9s %9s  %s\n", "case", "verdict", "checks", "time", "reason");
  for (size_t i = 0; i < run->nresults; i++) {
    const suite_result_t *r = &run->results[i];
    unsigned n, failed;
    count_checks(r, &n, &failed);
    char checks[32];
    snprintf(checks, sizeof checks, "%u/%u", n - failed, n);
    fprintf(f, "  %-24s %-7s %-9s %8.2fs  %s\n", r->name, suite_verdict_name(r->verdict), checks,
            r->duration_s, r->reason);
  }
  fprintf(f, "  pass %u, fail %u, skip %u, broken %u\n", run->totals[SUITE_PASS],
          run->totals[SUITE_FAIL], run->totals[SUITE_SKIP], run->totals[SUITE_BROKEN]);
}

/* ------------------------------------------------------------ the run */

static const suite_case_t *case_table(const suite_run_t *run) {
  return run->cases ? run->cases : suite_cases;
}

/* Does a SPEC id named by `c` match `glob`? */
static bool names_match(const suite_case_t *c, const char *glob) {
  char id[64];
  for (const char *p = c->spec_ids ? c->spec_ids : ""; *p;) {
    p += strspn(p, " ");
    size_t len = strcspn(p, " ");
    snprintf(id, sizeof id, "%.*s", (int)len, p);
    if (len && fnmatch(glob, id, 0) == 0)
      return true;
    p += len;
  }
  return false;
}

/* Does the --case glob select variant `v` of `c` (NULL: a case without)?
 * "CASE" selects every variant; "CASE/VARIANT" one, each part a glob. */
static bool glob_selects(const char *glob, const suite_case_t *c, const suite_variant_t *v) {
  const char *slash = strchr(glob, '/');
  if (!slash)
    return fnmatch(glob, c->id, 0) == 0;
  char case_glob[128];
  snprintf(case_glob, sizeof case_glob, "%.*s", (int)(slash - glob), glob);
  return v && fnmatch(case_glob, c->id, 0) == 0 && fnmatch(slash + 1, v->name, 0) == 0;
}

static bool selected(const suite_run_t *run, const suite_case_t *c, const suite_variant_t *v) {
  if (!run->nglobs && !run->nspec_globs)
    return true;
  for (size_t g = 0; g < run->nglobs; g++)
    if (glob_selects(run->globs[g], c, v))
      return true;
  for (size_t g = 0; g < run->nspec_globs; g++)
    if (names_match(c, run->spec_globs[g]))
      return true;
  return false;
}

/* The test points of `c`: each variant, or the case once (v = NULL). */
static const suite_variant_t *point_variant(const suite_case_t *c, size_t k) {
  return c->variants ? &c->variants[k] : NULL;
}
static size_t npoints(const suite_case_t *c) {
  return c->variants ? suite_case_nvariants(c) : 1;
}

static bool glob_matches_any(const char *glob, const suite_case_t *table) {
  for (const suite_case_t *c = table; c->id; c++)
    for (size_t k = 0; k < npoints(c); k++)
      if (glob_selects(glob, c, point_variant(c, k)))
        return true;
  return false;
}

/* Every glob must select something: a typo must not shrink a certificate. */
static int check_globs(const suite_run_t *run, const suite_case_t *table) {
  for (size_t g = 0; g < run->nglobs; g++) {
    if (!glob_matches_any(run->globs[g], table)) {
      fprintf(run->err,
              "mmcert run: --case '%s' matches no case; 'mmcert list' shows the case ids, "
              "'mmcert list --variants' their variants (globs as in the shell: 'SET-*', "
              "'NUMA-?', 'NUMA-2/builtin-*'; --spec selects by SPEC id)\n",
              run->globs[g]);
      return SUITE_EXIT_USAGE;
    }
  }
  for (size_t g = 0; g < run->nspec_globs; g++) {
    bool any = false;
    for (const suite_case_t *c = table; c->id && !any; c++)
      any = names_match(c, run->spec_globs[g]);
    if (!any) {
      fprintf(run->err,
              "mmcert run: --spec '%s' matches no SPEC id a case checks; 'mmcert list' shows "
              "the SPEC ids of every case (globs as in the shell: 'SEC-*', 'NUMA-?')\n",
              run->spec_globs[g]);
      return SUITE_EXIT_USAGE;
    }
  }
  return SUITE_EXIT_OK;
}

/* Does the run take test point k of `c`, whose clock form is `form`? A
 * selected variant of the other form only when no selected one is of the
 * form (case.h, "Variants and clock forms"): named alone, it is reported
 * not shown [clock] rather than vanish. */
static bool takes(const suite_run_t *run, const suite_case_t *c, uint32_t form, size_t k) {
  const suite_variant_t *v = point_variant(c, k);
  if (!selected(run, c, v))
    return false;
  if (!v || !form || suite_case_clocks(c, v) & form)
    return true;
  for (size_t j = 0; j < npoints(c); j++)
    if (selected(run, c, point_variant(c, j)) && suite_case_clocks(c, point_variant(c, j)) & form)
      return false;
  return true;
}

static int select_cases(suite_run_t *run) {
  const suite_case_t *table = case_table(run);
  int rc = check_globs(run, table);
  if (rc)
    return rc;
  size_t n = 0;
  unsigned reps = run->repeat ? run->repeat : 1;
  for (const suite_case_t *c = table; c->id; c++)
    for (size_t k = 0; k < npoints(c); k++)
      n += takes(run, c, case_form(run, c), k);
  n *= reps;
  run->results = calloc(n ? n : 1, sizeof *run->results);
  if (!run->results) {
    fprintf(run->err, "mmcert: out of memory\n");
    return SUITE_EXIT_FAIL;
  }
  /* Repetition-major, so a slow drift of the machine spreads over every
   * case instead of biasing the last repetitions of one. */
  for (unsigned rep = 0; rep < reps; rep++)
    for (const suite_case_t *c = table; c->id; c++) {
      uint32_t form = case_form(run, c);
      for (size_t k = 0; k < npoints(c); k++) {
        if (!takes(run, c, form, k))
          continue;
        suite_result_t *r = &run->results[run->nresults++];
        r->c = c;
        r->v = point_variant(c, k);
        r->form = form;
        r->rep = rep;
        suite_case_name(c, r->v, r->name, sizeof r->name);
      }
    }
  return SUITE_EXIT_OK;
}

static bool user_set(const suite_run_t *run, const char *name) {
  for (size_t i = 0; i < run->nsets; i++)
    if (!strcmp(run->sets[i].name, name))
      return true;
  return false;
}

/* Read every setting, validate --set. SUITE_EXIT_USAGE when a --set value
 * was refused; a preflight that cannot run is noted, not fatal: the cases
 * will then report the implementation broken one by one. */
int suite_run_preflight(suite_run_t *run) {
  suite_result_t pr = {0};
  char na[512];
  if (suite_not_applicable(run->si, run->topo, na, sizeof na)) {
    snprintf(run->settings_note, sizeof run->settings_note, "settings not read: %s", na);
    return SUITE_EXIT_OK;
  }
  int status = run_child(run, CHILD_PREFLIGHT, PREFLIGHT_TIMEOUT_S * run->timeout_scale, &pr);
  int rc = SUITE_EXIT_OK;
  size_t nset = 0;
  for (size_t i = 0; i < pr.nrecs; i++) {
    if (pr.recs[i].kind == SUITE_REC_SET_ERROR) {
      fprintf(run->err, "mmcert run: %s\n", pr.recs[i].text);
      rc = SUITE_EXIT_USAGE;
    }
    nset += pr.recs[i].kind == SUITE_REC_SETTING;
  }
  static const suite_case_t preflight_case = {.id = "preflight", .title = "read settings"};
  pr.c = &preflight_case;
  judge(&pr, status, PREFLIGHT_TIMEOUT_S * run->timeout_scale, false);
  if (pr.verdict == SUITE_BROKEN)
    snprintf(run->settings_note, sizeof run->settings_note,
             "settings not read: a host could not be created: %s", pr.reason);
  if (nset && pr.verdict != SUITE_BROKEN) {
    run->settings = calloc(nset, sizeof *run->settings);
    for (size_t i = 0; run->settings && i < pr.nrecs; i++) {
      const suite_rec_t *r = &pr.recs[i];
      if (r->kind != SUITE_REC_SETTING)
        continue;
      suite_setting_t *s = &run->settings[run->nsettings++];
      snprintf(s->name, sizeof s->name, "%s", r->name);
      snprintf(s->unit, sizeof s->unit, "%s", r->unit);
      snprintf(s->meaning, sizeof s->meaning, "%s", r->text);
      s->value = r->ival[0];
      s->def = r->ival[1];
      s->min = r->ival[2];
      s->max = r->ival[3];
      s->user_set = user_set(run, s->name);
    }
  }
  for (size_t i = 0; i < pr.nrecs; i++)
    suite_rec_free(&pr.recs[i]);
  free(pr.recs);
  return rc;
}

static void print_header(const suite_run_t *run, tap_t *top) {
  const mmc_impl_t *im = run->si->impl;
  tap_version(top);
  tap_plan(top, (unsigned)run->nresults);
  tap_diag(top, "mmcert %s", MMCERT_VERSION);
  tap_diag(top, "seed: %llu", (unsigned long long)run->seed);
  tap_diag(top, "implementation: %s %s (ABI %u) from %s", im->name, im->version, im->abi_version,
           run->si->path);
  tap_diag(top, "topology: %s, %u node%s (%u real)%s", run->topo->source, run->topo->desc.nnodes,
           run->topo->desc.nnodes == 1 ? "" : "s", real_nodes(run->topo),
           run->host_memory ? ", memory capped by --host-memory" : "");
  tap_diag(top, "mode: %s, profile: %s, timeout scale %g", suite_mode_name(run->mode), run->profile,
           run->timeout_scale);
  if (run->settings_note[0])
    tap_diag(top, "%s", run->settings_note);
}

/* One line, rewritten in place: only ever written to a terminal. */
static void progress(const suite_run_t *run, size_t i, double t0) {
  const suite_result_t *r = &run->results[i];
  unsigned el = (unsigned)(suite_mono_now() - t0);
  char rep[48] = "";
  if (run->repeat > 1)
    snprintf(rep, sizeof rep, " (repetition %u of %u)", r->rep + 1, run->repeat);
  fprintf(run->err, "\r\033[Kmmcert: case %zu of %zu, %u:%02u elapsed, running %s%s", i + 1,
          run->nresults, el / 60, el % 60, r->name, rep);
  fflush(run->err);
}

/* The SPEC ids this run certifies (see certificate.h, "Scope"). */
static const char **run_scope(const suite_run_t *run, const char **kind, char *sel, size_t cap) {
  const char *const *all = suite_cert_all_ids(case_table(run));
  size_t n = 0, k = 0;
  while (all[n])
    n++;
  const char **scope = calloc(n + 1, sizeof *scope);
  if (!scope)
    return NULL;
  sel[0] = '\0';
  for (size_t g = 0; g < run->nglobs; g++)
    append(sel, cap, "%s--case '%s'", sel[0] ? " " : "", run->globs[g]);
  for (size_t g = 0; g < run->nspec_globs; g++)
    append(sel, cap, "%s--spec '%s'", sel[0] ? " " : "", run->spec_globs[g]);
  *kind = run->nglobs ? "case" : run->nspec_globs ? "spec" : "all";
  for (size_t i = 0; i < n; i++) {
    bool in = !run->nglobs && !run->nspec_globs;
    for (size_t g = 0; g < run->nspec_globs && !in; g++)
      in = fnmatch(run->spec_globs[g], all[i], 0) == 0;
    for (size_t r = 0; r < run->nresults && !in && run->nglobs; r++)
      in = suite_cert_names(run->results[r].c->spec_ids, all[i]);
    if (in)
      scope[k++] = all[i];
  }
  return scope;
}

/* The certificate of the run, printed after the TAP stream; its exit code. */
static int certify(suite_run_t *run, tap_t *top) {
  suite_cert_case_t *ran = calloc(run->nresults ? run->nresults : 1, sizeof *ran);
  const char *kind = "all";
  char sel[512];
  const char **scope = run_scope(run, &kind, sel, sizeof sel);
  suite_cert_t *cert = calloc(1, sizeof *cert);
  mmc_error_t err = {0};
  int rc = SUITE_EXIT_FAIL;
  if (!ran || !scope || !cert) {
    fprintf(run->err, "mmcert: out of memory building the certificate\n");
    goto out;
  }
  size_t n = suite_cert_cases_of_run(run, ran);
  if (suite_cert_build(scope, case_table(run), ran, n, kind, sel, cert, &err) != 0) {
    fprintf(run->err, "mmcert: certificate: %s\n", err.msg);
    goto out;
  }
  char title[512];
  snprintf(title, sizeof title, "%s %s on %s", run->si->impl->name, run->si->impl->version,
           run->topo->source);
  fflush(run->out);
  suite_cert_print(run->out, cert, title);
  (void)top;
  run->cert = cert;
  cert = NULL;
  rc = suite_cert_exit(run->cert);
out:
  free(cert);
  free(scope);
  free(ran);
  return rc;
}

/* Before the first test point of a case: its selected variants of the
 * other clock form, not run (case.h, "Variants and clock forms"). */
static void note_not_run(const suite_run_t *run, tap_t *top, size_t i) {
  const suite_result_t *r = &run->results[i];
  if (!r->v || !r->form || (i && run->results[i - 1].c == r->c) ||
      !(suite_case_clocks(r->c, r->v) & r->form))
    return;
  char names[512] = "";
  unsigned n = 0;
  for (size_t k = 0; k < npoints(r->c); k++) {
    const suite_variant_t *v = point_variant(r->c, k);
    if (selected(run, r->c, v) && !(suite_case_clocks(r->c, v) & r->form))
      append(names, sizeof names, "%s%s", n++ ? ", " : "", v->name);
  }
  mmc_clock_mode_t m = r->form == SUITE_CLOCKS_LIVE ? MMC_CLOCK_LIVE : MMC_CLOCK_STEPPED;
  if (n)
    tap_diag(top, "%s runs its %s form here; variant%s %s not run on this clock form", r->c->id,
             clock_name(m), n == 1 ? "" : "s", names);
}

int suite_run(suite_run_t *run) {
  int rc = select_cases(run);
  if (rc)
    return rc;
  run->start_time = suite_real_now();
  suite_sup_start();
  rc = suite_run_preflight(run);
  if (rc)
    return rc;
  tap_t top;
  tap_init(&top, run->out, 0);
  print_header(run, &top);
  double t0 = suite_mono_now();
  for (size_t i = 0; i < run->nresults; i++) {
    suite_result_t *r = &run->results[i];
    double t = case_timeout(run, r->c);
    if (run->progress)
      progress(run, i, t0);
    note_not_run(run, &top, i);
    r->notshown_kind = suite_needs_unmet(run, r->c, r->v, &r->clock, r->reason, sizeof r->reason);
    if (r->notshown_kind)
      r->verdict = SUITE_SKIP;
    else
      judge(r, run_child(run, CHILD_CASE, t, r), t, true);
    run->totals[r->verdict]++;
    print_case(&top, r, run->repeat);
    fflush(run->out);
  }
  if (run->progress) /* wipe the progress line before the summary */
    fprintf(run->err, "\r\033[K");
  run->end_time = suite_real_now();
  tap_diag(&top, "Totals: pass:%u fail:%u skip:%u broken:%u", run->totals[SUITE_PASS],
           run->totals[SUITE_FAIL], run->totals[SUITE_SKIP], run->totals[SUITE_BROKEN]);
  rc = certify(run, &top);
  fflush(run->out);
  print_summary(run);
  if (run->cert)
    fprintf(run->err, "  certificate: %s (%u shown, %u failed, %u not shown; exit %d)\n",
            suite_cert_verdict_name(suite_cert_verdict(run->cert)), run->cert->shown,
            run->cert->failed, run->cert->not_shown, rc);
  return rc;
}

void suite_run_free(suite_run_t *run) {
  for (size_t i = 0; i < run->nresults; i++) {
    for (size_t j = 0; j < run->results[i].nrecs; j++)
      suite_rec_free(&run->results[i].recs[j]);
    free(run->results[i].recs);
  }
  free(run->results);
  free(run->settings);
  if (run->cert) {
    suite_cert_free(run->cert);
    free(run->cert);
  }
  run->cert = NULL;
  run->results = NULL;
  run->settings = NULL;
  run->nresults = run->nsettings = 0;
}
