/*
 * compare.c — the verdicts of `mmcert compare` (see compare.h for the
 * rule). The effect is |new/old - 1| of the medians; an old median of zero
 * makes any non-zero new median an unbounded effect. Output is a plain
 * table: one line per metric, then the checks and cases that changed, then
 * one "verdict:" line a script can grep.
 */
#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "certificate.h"
#include "mde.h"
#include "stats.h"

const char *suite_cmp_verdict_name(suite_cmp_verdict_t v) {
  static const char *const names[] = {"no change", "improved", "regressed", "info"};
  return v <= SUITE_CMP_INFO ? names[v] : "?";
}

static double effect_of(double o, double n) {
  if (o == n)
    return 0;
  if (o == 0)
    return INFINITY;
  return fabs(n / o - 1);
}

/* Did the new median move in the better direction? */
static suite_cmp_verdict_t direction(double o, double n, const char *better) {
  bool up = n > o;
  return up == !strcmp(better, "higher") ? SUITE_CMP_IMPROVED : SUITE_CMP_REGRESSED;
}

/* Every sample the same value (a figure the seed determines). */
static bool constant(const double *x, size_t n) {
  for (size_t i = 1; i < n; i++)
    if (x[i] != x[0])
      return false;
  return n >= 2;
}

/* One sample on a side: see compare.h for what it can support. */
static void single_sample(const double *old, size_t nold, const double *new_, size_t nnew,
                          double eff, const char *better, const suite_cmp_opts_t *o,
                          suite_cmp_metric_t *out) {
  double om = out->old_median, nm = out->new_median;
  const double *many = nold >= 2 ? old : new_;
  size_t nmany = nold >= 2 ? nold : nnew;
  if (!o->seeds_differ && constant(many, nmany)) {
    if (eff >= o->min_effect) {
      out->verdict = direction(om, nm, better);
      snprintf(out->note, sizeof out->note, "1 sample: same seed, %s always %.6g",
               nold >= 2 ? "old" : "new", many[0]);
    } else {
      snprintf(out->note, sizeof out->note, "1 sample: same seed, same value");
    }
    return;
  }
  if (o->seeds_differ) {
    snprintf(out->note, sizeof out->note, "1 sample under another seed: cannot test");
  } else if (o->single_effect >= 0 && eff > o->single_effect) {
    out->verdict = direction(om, nm, better);
    snprintf(out->note, sizeof out->note, "1 sample: beyond %.0f %%", o->single_effect * 100);
  } else {
    snprintf(out->note, sizeof out->note, "1 sample: cannot test");
  }
}

void suite_cmp_metric(const double *old, size_t nold, const double *new_, size_t nnew,
                      const char *better, const suite_cmp_opts_t *o, suite_cmp_metric_t *out) {
  *out = (suite_cmp_metric_t){.old_median = suite_stats_median(old, nold),
                              .new_median = suite_stats_median(new_, nnew),
                              .p = NAN,
                              .detectable = NAN,
                              .spread = NAN};
  double om = out->old_median, nm = out->new_median, eff = effect_of(om, nm);
  out->ratio = om != 0 ? nm / om : (nm == 0 ? 1 : INFINITY);
  bool directed = better && (!strcmp(better, "lower") || !strcmp(better, "higher"));
  if (!directed) {
    out->verdict = SUITE_CMP_INFO;
    snprintf(out->note, sizeof out->note, "no better direction");
    return;
  }
  if (nold < 2 || nnew < 2) {
    single_sample(old, nold, new_, nnew, eff, better, o, out);
    return;
  }
  int worse = !strcmp(better, "higher") ? -1 : +1;
  out->detectable = suite_mde_now(old, nold, new_, nnew, o->alpha, worse);
  out->spread = suite_mde_spread(old, nold, new_, nnew);
  suite_mw_t mw;
  suite_stats_mann_whitney(old, nold, new_, nnew, &mw);
  out->p = mw.p;
  double floor_p = suite_stats_mw_min_p(nold, nnew);
  if (mw.p < o->alpha && eff >= o->min_effect) {
    out->verdict = direction(om, nm, better);
    snprintf(out->note, sizeof out->note, "p=%.3g", mw.p);
  } else if (floor_p >= o->alpha) {
    snprintf(out->note, sizeof out->note, "too few samples: p >= %.2g for %zu+%zu", floor_p, nold,
             nnew);
  } else if (mw.p >= o->alpha) {
    snprintf(out->note, sizeof out->note, "p=%.3g", mw.p);
  } else {
    snprintf(out->note, sizeof out->note, "p=%.3g, below %.3g %% effect", mw.p,
             o->min_effect * 100);
  }
}

static const char *case_verdict(const suite_rr_t *rr, const char *id) {
  const suite_rr_case_t *c = suite_rr_find_case(rr, id);
  return c ? c->verdict : NULL;
}

/* Free text on one line: a diagnostic's tabs and newlines (all the control
 * characters a results file may hold) become spaces, so nothing it says can
 * pass for a line of ours ("verdict: ..."). */
static const char *one_line(const char *s, char *buf, size_t cap) {
  size_t o = 0;
  for (; *s && o + 1 < cap; s++)
    buf[o++] = *s == '\n' || *s == '\t' ? ' ' : *s;
  buf[o] = '\0';
  return buf;
}

static bool bad_verdict(const char *v) {
  return v && (!strcmp(v, "fail") || !strcmp(v, "broken"));
}

static void spread(const suite_rr_metric_t *m, char *buf, size_t cap) {
  suite_summary_t s;
  suite_stats_summary(m->samples, m->n, &s);
  if (m->n == 0)
    snprintf(buf, cap, "unsupported");
  else if (m->n < 2)
    snprintf(buf, cap, "%.4g (n=1)", s.median);
  else
    snprintf(buf, cap, "%.4g [%.4g..%.4g] (n=%zu)", s.median, s.q1, s.q3, m->n);
}

static int refuse(const suite_rr_t *a, const suite_rr_t *b, const suite_cmp_opts_t *o,
                  mmc_error_t *err) {
  if (o->force)
    return 0;
  if (strcmp(a->topo_hash, b->topo_hash))
    return mmc_fail(err, MMC_EINVAL,
                    "OLD and NEW ran on different topologies (OLD: %s, %s; NEW: %s, %s): "
                    "their figures are not comparable; --force compares anyway",
                    a->topo_summary, a->topo_hash, b->topo_summary, b->topo_hash);
  if (strcmp(a->mode, b->mode))
    return mmc_fail(err, MMC_EINVAL,
                    "OLD and NEW ran in different modes (OLD: %s; NEW: %s): quick and full "
                    "runs use different periods; --force compares anyway",
                    a->mode, b->mode);
  return 0;
}

/* Repetitions behind a side (each run's --repeat), for samples per repetition. */
static double repetitions(const suite_rr_t *rr) {
  double reps = 0;
  size_t i;
  json_t *d;
  json_array_foreach(rr->docs, i, d) {
    json_int_t r = json_integer_value(json_object_get(d, "repeat"));
    reps += r > 0 ? (double)r : 1;
  }
  return reps > 0 ? reps : 1;
}

/* "7.3 %", "never (3+3)": the detectable column. */
static void detectable_text(const suite_cmp_metric_t *r, size_t nold, size_t nnew,
                            const suite_cmp_opts_t *o, char *buf, size_t cap) {
  if (r->verdict == SUITE_CMP_INFO)
    snprintf(buf, cap, "-");
  else if (isnan(r->detectable))
    snprintf(buf, cap, "never (%zu+%zu)", nold, nnew);
  else if (isinf(r->detectable))
    snprintf(buf, cap, "n/a (old median 0)");
  else
    snprintf(buf, cap, "%.3g %%%s", fmax(r->detectable, o->min_effect) * 100,
             r->detectable < o->min_effect ? " (min effect)" : "");
}

/* k samples a side in what gives them: --repeat (in each of the side's
 * runs, when it pools several) when every repetition adds at least one
 * sample, else runs (a benchmark that records one figure a run, whatever
 * its --repeat). */
static void samples_in_words(size_t k, const suite_rr_metric_t *nm, const suite_rr_t *side,
                             FILE *out) {
  double runs = (double)json_array_size(side->docs);
  double per_rep = (double)nm->n / repetitions(side), per_run = (double)nm->n / fmax(1, runs);
  if (per_rep >= 1 && runs <= 1)
    fprintf(out, "%zu a side: --repeat %.0f\n", k, ceil((double)k / per_rep));
  else if (per_rep >= 1)
    fprintf(out, "%zu a side: --repeat %.0f in each of %.0f runs\n", k,
            ceil((double)k / per_rep / runs), runs);
  else
    fprintf(out, "%zu a side: %.0f runs a side (%.3g sample%s a run, whatever its --repeat)\n", k,
            ceil((double)k / per_run), per_run, per_run == 1 ? "" : "s");
}

/* One guidance line when the metric cannot yet catch min_effect. */
static void guidance(const suite_rr_metric_t *nm, const suite_rr_t *side,
                     const suite_cmp_metric_t *r, size_t nold, const suite_cmp_opts_t *o, FILE *out,
                     unsigned *lines) {
  if (r->verdict == SUITE_CMP_INFO || nold < 2 || nm->n < 2 || !isfinite(r->spread))
    return;
  size_t have = nold < nm->n ? nold : nm->n;
  double now = suite_mde_at(have, o->alpha, SUITE_MDE_POWER) * r->spread;
  if (isfinite(now) && now <= o->min_effect)
    return;
  size_t k = suite_mde_samples_for(o->min_effect, r->spread, o->alpha, SUITE_MDE_POWER);
  if (!(*lines)++)
    fprintf(out,
            "\nrepeat guidance: to catch a %.3g %% change %.0f %% of the time at alpha %g "
            "(noise from each metric's samples):\n",
            o->min_effect * 100, SUITE_MDE_POWER * 100, o->alpha);
  char nowtxt[48];
  if (isfinite(now))
    snprintf(nowtxt, sizeof nowtxt, "%.3g %%", now * 100);
  else
    snprintf(nowtxt, sizeof nowtxt, "never");
  fprintf(out, "  %s/%s [%s]: noise %.3g %%, %zu a side catch %s; ", nm->case_id, nm->name,
          nm->unit, r->spread * 100, have, nowtxt);
  if (k)
    samples_in_words(k, nm, side, out);
  else
    fprintf(out, "more than %d samples a side\n", SUITE_MDE_MAX_SAMPLES);
}

static unsigned print_metrics(const suite_rr_t *a, const suite_rr_t *b, const suite_cmp_opts_t *o,
                              FILE *out, unsigned *improved) {
  unsigned regressed = 0, lines = 0;
  fprintf(out, "%-34s %-38s %-38s %7s  %-36s %s\n", "metric [unit]", "old median [IQR]",
          "new median [IQR]", "ratio", "verdict", "detectable");
  suite_cmp_metric_t *rs = calloc(b->nmetrics ? b->nmetrics : 1, sizeof *rs);
  const suite_rr_metric_t **olds = calloc(b->nmetrics ? b->nmetrics : 1, sizeof *olds);
  if (!rs || !olds) {
    free(rs);
    free(olds);
    fprintf(out, "out of memory\n");
    return 0;
  }
  for (size_t i = 0; i < b->nmetrics; i++) {
    const suite_rr_metric_t *nm = &b->metrics[i],
                            *om = suite_rr_find_metric(a, nm->case_id, nm->name);
    char name[160], os[64], ns[64], verdict[160], det[64];
    snprintf(name, sizeof name, "%s/%s [%s]", nm->case_id, nm->name, nm->unit);
    spread(nm, ns, sizeof ns);
    if (!om) {
      fprintf(out, "%-34s %-38s %-38s %7s  %s\n", name, "-", ns, "-", "only in new");
      continue;
    }
    spread(om, os, sizeof os);
    if (!om->n || !nm->n) { /* nothing to judge: say why, never "nan" */
      const suite_rr_metric_t *u = !om->n ? om : nm;
      fprintf(out, "%-34s %-38s %-38s %7s  not compared (%s unsupported: %s)\n", name, os, ns, "-",
              u == om ? "old" : "new", u->unsupported ? u->unsupported : "no samples");
      continue;
    }
    olds[i] = om;
    suite_cmp_metric_t *r = &rs[i];
    suite_cmp_metric(om->samples, om->n, nm->samples, nm->n, nm->better, o, r);
    regressed += r->verdict == SUITE_CMP_REGRESSED;
    *improved += r->verdict == SUITE_CMP_IMPROVED;
    snprintf(verdict, sizeof verdict, "%s (%s)", suite_cmp_verdict_name(r->verdict), r->note);
    detectable_text(r, om->n, nm->n, o, det, sizeof det);
    fprintf(out, "%-34s %-38s %-38s %7.3f  %-36s %s\n", name, os, ns, r->ratio, verdict, det);
  }
  for (size_t i = 0; i < a->nmetrics; i++)
    if (!suite_rr_find_metric(b, a->metrics[i].case_id, a->metrics[i].name))
      fprintf(out, "%s/%s: only in old\n", a->metrics[i].case_id, a->metrics[i].name);
  for (size_t i = 0; i < b->nmetrics; i++)
    if (olds[i])
      guidance(&b->metrics[i], b, &rs[i], olds[i]->n, o, out, &lines);
  if (lines)
    fprintf(out, "  (the other judged metrics already catch %.3g %%)\n", o->min_effect * 100);
  free(rs);
  free(olds);
  return regressed;
}

static unsigned print_checks(const suite_rr_t *a, const suite_rr_t *b, FILE *out,
                             unsigned *passing) {
  unsigned newly_failing = 0, changes = 0;
  fprintf(out, "\nchecks and cases that changed:\n");
  for (size_t i = 0; i < b->nchecks; i++) {
    const suite_rr_check_t *nc = &b->checks[i], *oc = suite_rr_find_check(a, nc->case_id, nc->name);
    if (!oc || oc->ok == nc->ok)
      continue;
    changes++;
    newly_failing += !nc->ok;
    *passing += nc->ok;
    char diag[1024];
    fprintf(out, "  %-14s %s: %s [%s]%s%s\n", nc->ok ? "newly passing" : "newly failing",
            nc->case_id, nc->name, nc->spec_ids, nc->ok ? "" : ": ",
            nc->ok ? "" : one_line(nc->diag, diag, sizeof diag));
  }
  for (size_t i = 0; i < b->ncases; i++) {
    const char *ov = case_verdict(a, b->cases[i].id), *nv = b->cases[i].verdict;
    if (!ov || bad_verdict(ov) == bad_verdict(nv))
      continue;
    changes++;
    newly_failing += bad_verdict(nv);
    *passing += !bad_verdict(nv);
    fprintf(out, "  %-14s case %s (%s -> %s)\n",
            bad_verdict(nv) ? "newly failing" : "newly passing", b->cases[i].id, ov, nv);
  }
  if (!changes)
    fprintf(out, "  none\n");
  return newly_failing;
}

/* The certificate of one side: its runs' certificates combined. false when
 * no run has one (bench files, files from before certificates). */
static bool side_cert(const suite_rr_t *rr, suite_cert_t *out) {
  size_t n = json_array_size(rr->docs), k = 0;
  suite_cert_t *certs = calloc(n ? n : 1, sizeof *certs);
  const char **labels = calloc(n ? n : 1, sizeof *labels);
  mmc_error_t err = {0};
  for (size_t i = 0; certs && labels && i < n; i++) {
    const json_t *doc = json_array_get(rr->docs, i);
    if (suite_cert_from_json(doc, &certs[k], &err) != 0)
      continue;
    const char *id = json_string_value(json_object_get(doc, "run_id"));
    labels[k++] = id ? id : "run";
  }
  bool ok = k > 0 && suite_cert_combine(certs, labels, k, out, &err) == 0;
  for (size_t i = 0; i < k; i++)
    suite_cert_free(&certs[i]);
  free(certs);
  free(labels);
  return ok;
}

/* SPEC ids whose certificate status changed. A shown id that is now failed
 * or not shown counts against the new side (it gates like a newly failing
 * check); the rest are listed. */
static unsigned print_spec_changes(const suite_rr_t *a, const suite_rr_t *b, FILE *out,
                                   unsigned *gained) {
  suite_cert_t ca, cb;
  fprintf(out, "\nSPEC ids whose certificate status changed:\n");
  if (!side_cert(a, &ca)) {
    fprintf(out, "  (old side has no certificate: not compared)\n");
    return 0;
  }
  if (!side_cert(b, &cb)) {
    suite_cert_free(&ca);
    fprintf(out, "  (new side has no certificate: not compared)\n");
    return 0;
  }
  unsigned lost = 0, changes = 0;
  for (size_t i = 0; i < cb.n; i++) {
    const suite_cert_id_t *nb = &cb.ids[i], *na = NULL;
    for (size_t j = 0; j < ca.n && !na; j++)
      na = !strcmp(ca.ids[j].id, nb->id) ? &ca.ids[j] : NULL;
    if (!na || na->status == nb->status)
      continue;
    changes++;
    bool worse = na->status == SUITE_CERT_SHOWN || nb->status == SUITE_CERT_FAILED;
    lost += worse;
    *gained += !worse;
    fprintf(out, "  %-9s %s -> %s%s%s\n", nb->id, suite_cert_status_name(na->status),
            suite_cert_status_name(nb->status), nb->reason[0] ? ": " : "", nb->reason);
  }
  fprintf(out, "  certificate: %s -> %s%s\n", suite_cert_verdict_name(suite_cert_verdict(&ca)),
          suite_cert_verdict_name(suite_cert_verdict(&cb)), changes ? "" : " (no id changed)");
  suite_cert_free(&ca);
  suite_cert_free(&cb);
  return lost;
}

/* Which seeds the sides ran under, and what that lets one sample say. */
static void print_seeds(const suite_rr_t *a, const suite_rr_t *b, const suite_cmp_opts_t *o,
                        FILE *out) {
  char os[32], ns[32];
  snprintf(os, sizeof os, a->seeds_differ ? "several" : "%lld", a->seed);
  snprintf(ns, sizeof ns, b->seeds_differ ? "several" : "%lld", b->seed);
  if (!o->seeds_differ)
    fprintf(out, "seeds: both %s: figures the seed determines compare like with like%s\n", os,
            o->single_effect < 0 ? "; a single sample is judged only where the other side "
                                   "never varied"
                                 : "");
  else
    fprintf(out,
            "seeds: old %s, new %s: a metric with one sample on a side is not judged "
            "(under another seed it supports nothing); run with --seed %s or --repeat\n",
            os, ns, os);
}

int suite_cmp_run(const suite_rr_t *a, const suite_rr_t *b, const suite_cmp_opts_t *opts, FILE *out,
                  mmc_error_t *err) {
  suite_cmp_opts_t o1 = *opts, *o = &o1;
  o->seeds_differ = a->seeds_differ || b->seeds_differ || a->seed != b->seed;
  int rc = refuse(a, b, o, err);
  if (rc)
    return rc;
  fprintf(out, "old: %s: %s %s, %s, %s mode, %zu run%s\n", a->label, a->impl, a->version,
          a->machine_class, a->mode, json_array_size(a->docs),
          json_array_size(a->docs) == 1 ? "" : "s");
  fprintf(out, "new: %s: %s %s, %s, %s mode, %zu run%s\n", b->label, b->impl, b->version,
          b->machine_class, b->mode, json_array_size(b->docs),
          json_array_size(b->docs) == 1 ? "" : "s");
  if (strcmp(a->topo_hash, b->topo_hash) || strcmp(a->mode, b->mode))
    fprintf(out, "warning: --force: topologies (%s vs %s) or modes (%s vs %s) differ\n",
            a->topo_summary, b->topo_summary, a->mode, b->mode);
  if (strcmp(a->machine_class, b->machine_class))
    fprintf(out, "note: different machine classes (%s vs %s)\n", a->machine_class,
            b->machine_class);
  print_seeds(a, b, o, out);
  fprintf(out, "test: two-sided Mann-Whitney U, alpha %g, minimum effect %g %%\n", o->alpha,
          o->min_effect * 100);
  fprintf(out, "detectable: the smallest change of NEW's median, in the worse direction, that "
               "these samples would flag (never: too few samples to reach alpha)\n\n");
  unsigned improved = 0, passing = 0;
  unsigned regressed = print_metrics(a, b, o, out, &improved);
  unsigned failing = print_checks(a, b, out, &passing);
  unsigned gained = 0, lost = print_spec_changes(a, b, out, &gained);
  const char *overall = regressed || failing || lost    ? "REGRESSED"
                        : improved || passing || gained ? "improved"
                                                        : "no change";
  fprintf(out, "\nverdict: %s: %u regressed, %u newly failing, %u improved, %u newly passing",
          overall, regressed, failing, improved, passing);
  if (lost || gained)
    fprintf(out, ", %u SPEC id%s no longer shown, %u newly shown", lost, lost == 1 ? "" : "s",
            gained);
  fputc('\n', out);
  return regressed || failing || lost ? 1 : 0;
}
