/*
 * report.c — the HTML report with gnuplot plots (see report.h).
 *
 * Plots: one gnuplot script per figure (DIR/NAME.gp, data in DIR/NAME-*.dat,
 * output DIR/NAME.png), run as a child with its output in DIR/gnuplot.log.
 * The PNG terminal is pngcairo when this gnuplot has it (Debian's
 * gnuplot-nox does), else the libgd "png" terminal. Series come from the
 * newest run of the side (a selection may pool several); trends pool every
 * run of the history with the same implementation name, machine class and
 * mode, one point per implementation version in order of first run.
 */
#include "report.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "gnuplot.h"
#include "history.h"
#include "html.h"
#include "stats.h"

/* Bounds on what one report draws, whatever a file holds: lines per plot
 * (plots: SUITE_GP_MAX). */
enum { MAX_LINES = 32 };

typedef struct plots {
  suite_gp_t gp;
  char trend_note[512];
} plots_t;

/* ------------------------------------------------------------ series */

static const char *js(const json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

/* The group of a series: the part before '/', or the whole name. */
static void group_of(const char *name, char *buf, size_t cap) {
  snprintf(buf, cap, "%.*s", (int)strcspn(name, "/"), name);
}

static void series_plot(plots_t *p, const char *dir, const json_t *c, const char *group,
                        size_t *fig) {
  char name[64], body[16384] = "", title[320], unit[64] = "", unit2[64] = "";
  snprintf(name, sizeof name, "series-%zu", (*fig)++);
  size_t o = 0, k = 0, i;
  json_t *s;
  json_array_foreach(json_object_get(c, "series"), i, s) {
    char g[128];
    group_of(js(s, "name"), g, sizeof g);
    if (strcmp(g, group) || k == MAX_LINES)
      continue;
    char dat[4096], label[160];
    snprintf(dat, sizeof dat, "%s/%s-%zu.dat", dir, name, k);
    FILE *f = fopen(dat, "w");
    if (!f)
      continue;
    json_t *t = json_object_get(s, "t"), *v = json_object_get(s, "v");
    size_t points =
        json_array_size(t) < json_array_size(v) ? json_array_size(t) : json_array_size(v);
    for (size_t j = 0; j < points; j++)
      fprintf(f, "%.9g %.9g\n", json_number_value(json_array_get(t, j)),
              json_number_value(json_array_get(v, j)));
    fclose(f);
    suite_gp_text(js(s, "name"), label, sizeof label);
    char u[64], title_s[320];
    suite_gp_text(js(s, "unit"), u, sizeof u);
    if (!k)
      snprintf(unit, sizeof unit, "%s", u);
    /* A second unit in the group ("reclaimed MiB" beside "free fraction")
     * goes on the right-hand axis. */
    bool y2 = strcmp(u, unit) != 0;
    if (y2 && !unit2[0])
      snprintf(unit2, sizeof unit2, "%s", u);
    long long rep = json_integer_value(json_object_get(s, "rep"));
    if (rep)
      snprintf(title_s, sizeof title_s, "%s (repetition %lld)", label, rep + 1);
    else
      snprintf(title_s, sizeof title_s, "%s%s%s%s", label, y2 ? " [" : "", y2 ? u : "",
               y2 ? ", right axis]" : "");
    o += (size_t)snprintf(body + o, o < sizeof body ? sizeof body - o : 0,
                          "%s'%s-%zu.dat' using 1:2 axes x1y%d with linespoints title '%s'",
                          k ? ", \\\n  " : "plot ", name, k, y2 ? 2 : 1, title_s);
    k++;
  }
  if (!k || o >= sizeof body)
    return;
  char head[1024], cid[128], grp[128];
  suite_gp_text(js(c, "id"), cid, sizeof cid);
  suite_gp_text(group, grp, sizeof grp);
  snprintf(title, sizeof title, "%s: %s over time", cid, grp);
  snprintf(head, sizeof head, "set title '%s'\nset xlabel 'time (s)'\nset ylabel '%s'\n%s%s%s%s",
           title, unit, unit2[0] ? "set y2tics\nset ytics nomirror\nset y2label '" : "", unit2,
           unit2[0] ? "'\n" : "", "set key below\n");
  char *all = malloc(strlen(head) + o + 2);
  if (!all)
    return;
  sprintf(all, "%s%s\n", head, body);
  suite_gp_draw(&p->gp, dir, name, title, all);
  free(all);
}

static void series_plots(plots_t *p, const char *dir, const suite_rr_t *rr) {
  const json_t *doc = json_array_get(rr->docs, json_array_size(rr->docs) - 1);
  size_t fig = 0, i, j;
  json_t *c, *s;
  json_array_foreach(json_object_get(doc, "cases"), i, c) {
    char done[64][128];
    size_t ndone = 0;
    json_array_foreach(json_object_get(c, "series"), j, s) {
      char g[128];
      group_of(js(s, "name"), g, sizeof g);
      bool seen = false;
      for (size_t d = 0; d < ndone && !seen; d++)
        seen = !strcmp(done[d], g);
      if (seen || ndone == 64 || fig == SUITE_GP_MAX)
        continue;
      snprintf(done[ndone++], sizeof done[0], "%s", g);
      series_plot(p, dir, c, g, &fig);
    }
  }
}

/* ------------------------------------------------------------ trends */

/* One point per version: the metric pooled over that version's runs. */
static void trend_plot(plots_t *p, const char *dir, const suite_rr_t *byver, size_t nver,
                       const suite_rr_metric_t *m, size_t fig) {
  char name[64], dat[4096];
  snprintf(name, sizeof name, "trend-%zu", fig);
  snprintf(dat, sizeof dat, "%s/%s.dat", dir, name);
  FILE *f = fopen(dat, "w");
  if (!f)
    return;
  size_t points = 0;
  for (size_t vi = 0; vi < nver; vi++) {
    const suite_rr_metric_t *x = suite_rr_find_metric(&byver[vi], m->case_id, m->name);
    if (!x || !x->n)
      continue;
    suite_summary_t s;
    suite_stats_summary(x->samples, x->n, &s);
    char v[64];
    suite_gp_text(byver[vi].version, v, sizeof v);
    fprintf(f, "%zu \"%s\" %.9g %.9g %.9g %zu\n", vi, v, s.median, s.q1, s.q3, x->n);
    points++;
  }
  fclose(f);
  if (!points)
    return;
  char body[2048], title[320], mn[128], cid[128], unit[64];
  suite_gp_text(m->name, mn, sizeof mn);
  suite_gp_text(m->case_id, cid, sizeof cid);
  suite_gp_text(m->unit, unit, sizeof unit);
  snprintf(title, sizeof title, "%s/%s across versions (median, IQR)", cid, mn);
  snprintf(body, sizeof body,
           "set title '%s'\nset xlabel 'implementation version'\nset ylabel '%s (%s is better)'\n"
           "set xrange [-0.5:%zu.5]\nset offsets 0, 0, graph 0.1, graph 0.1\n"
           "plot '%s.dat' using 1:3:4:5:xticlabels(2) with yerrorlines title '%s'\n",
           title, unit, m->better[0] ? m->better : "neither", nver - 1, name, mn);
  suite_gp_draw(&p->gp, dir, name, title, body);
}

/* The runs of `docs` pooled per implementation version, oldest version
 * first; *n sides in *out (free each). */
static int split_versions(json_t *docs, suite_rr_t **out, size_t *n, mmc_error_t *err) {
  *out = NULL;
  *n = 0;
  size_t i;
  json_t *d;
  json_array_foreach(docs, i, d) {
    const char *v = js(json_object_get(d, "implementation"), "version");
    size_t k = 0;
    while (k < *n && strcmp((*out)[k].label, v))
      k++;
    if (k < *n)
      continue; /* pooled with its version below */
    suite_rr_t *grown = realloc(*out, (*n + 1) * sizeof *grown);
    json_t *mine = json_array();
    if (!grown || !mine) {
      json_decref(mine);
      return mmc_fail(err, MMC_ENOMEM, "out of memory");
    }
    *out = grown;
    for (size_t j = i; j < json_array_size(docs); j++) {
      json_t *e = json_array_get(docs, j);
      if (!strcmp(js(json_object_get(e, "implementation"), "version"), v))
        json_array_append(mine, e);
    }
    int rc = suite_rr_from_docs(mine, v, &(*out)[*n], err);
    if (rc)
      return rc;
    (*n)++;
  }
  return 0;
}

static void trend_plots(plots_t *p, const char *dir, const suite_rr_t *rr,
                        const suite_report_opts_t *o, mmc_error_t *err, int *rc) {
  suite_hist_t *db = NULL;
  mmc_error_t e = {0};
  if (suite_hist_open(o->db, false, o->err, &db, &e) != 0) {
    if (o->db_required)
      *rc = mmc_fail(err, e.code, "%s", e.msg);
    snprintf(p->trend_note, sizeof p->trend_note, "trends across versions skipped: %s", e.msg);
    return;
  }
  /* Figures of other topologies or modes do not compare (compare.c). */
  suite_hist_filter_t f = {
      .impl = rr->impl, .machine = rr->machine_class, .mode = rr->mode, .topology = rr->topo_hash};
  json_t *docs = NULL;
  char where[256];
  snprintf(where, sizeof where, "%s", suite_hist_label(db));
  if (suite_hist_select(db, &f, &docs, &e) != 0) {
    suite_hist_close(db);
    *rc = mmc_fail(err, e.code, "%s", e.msg);
    return;
  }
  suite_hist_close(db);
  suite_rr_t *byver = NULL;
  size_t nver = 0;
  if (split_versions(docs, &byver, &nver, &e) != 0)
    *rc = mmc_fail(err, e.code, "%s", e.msg);
  size_t nplots = rr->nmetrics < SUITE_GP_MAX ? rr->nmetrics : SUITE_GP_MAX;
  snprintf(p->trend_note, sizeof p->trend_note,
           "trends: %zu run%s of %s on %s (%s mode, this topology) in %s, %zu version%s%s",
           json_array_size(docs), json_array_size(docs) == 1 ? "" : "s", rr->impl,
           rr->machine_class, rr->mode, where, nver, nver == 1 ? "" : "s",
           nplots < rr->nmetrics ? "; only the first metrics are plotted" : "");
  for (size_t m = 0; !*rc && nver && m < nplots; m++)
    trend_plot(p, dir, byver, nver, &rr->metrics[m], m);
  for (size_t k = 0; k < nver; k++)
    suite_rr_free(&byver[k]);
  free(byver);
  json_decref(docs);
}

/* ------------------------------------------------------------ HTML */

static void row(FILE *f, int n, ...) {
  va_list ap;
  va_start(ap, n);
  fputs("<tr>", f);
  for (int i = 0; i < n; i++) {
    const char *cell = va_arg(ap, const char *);
    fputs("<td>", f);
    suite_html_text(f, cell);
    fputs("</td>", f);
  }
  fputs("</tr>\n", f);
  va_end(ap);
}

static void facts(FILE *f, const suite_rr_t *rr) {
  const json_t *d = json_array_get(rr->docs, json_array_size(rr->docs) - 1);
  char runs[32];
  snprintf(runs, sizeof runs, "%zu", json_array_size(rr->docs));
  fputs("<table>\n", f);
  row(f, 2, "results", rr->label);
  row(f, 2, "runs pooled", runs);
  row(f, 2, "implementation", rr->impl);
  row(f, 2, "version", rr->version);
  row(f, 2, "machine class", rr->machine_class);
  row(f, 2, "hostname", js(json_object_get(d, "machine"), "hostname"));
  row(f, 2, "CPU", js(json_object_get(d, "machine"), "cpu_model"));
  row(f, 2, "kernel", js(json_object_get(d, "kernel"), "release"));
  row(f, 2, "topology", rr->topo_summary);
  row(f, 2, "topology hash", rr->topo_hash);
  row(f, 2, "mode", rr->mode);
  row(f, 2, "mmcert", js(d, "mmcert_version"));
  row(f, 2, "start (newest run)", js(d, "start_time"));
  row(f, 2, "end", js(d, "end_time"));
  fputs("</table>\n", f);
}

static void tables(FILE *f, const suite_rr_t *rr) {
  fputs("<h2 id=\"cases\">Cases</h2>\n<table>\n<tr><th>case</th><th>verdict</th></tr>\n", f);
  for (size_t i = 0; i < rr->ncases; i++) {
    fprintf(f, "<tr class=\"%s\"><td>", rr->cases[i].verdict); /* one of four words */
    suite_html_text(f, rr->cases[i].id);
    fprintf(f, "</td><td>%s</td></tr>\n", rr->cases[i].verdict);
  }
  fputs("</table>\n<h2 id=\"metrics\">Metrics</h2>\n<table>\n<tr><th>case</th><th>metric</th>"
        "<th>unit</th><th>better</th><th>n</th><th>median</th><th>IQR</th><th>min..max</th>"
        "</tr>\n",
        f);
  for (size_t i = 0; i < rr->nmetrics; i++) {
    const suite_rr_metric_t *m = &rr->metrics[i];
    char n[16], med[32], iqr[64], mm[64];
    snprintf(n, sizeof n, "%zu", m->n);
    if (m->n == 0) { /* no run measured it: its reason, not statistics of nothing ("nan") */
      char why[300];
      snprintf(why, sizeof why, "unsupported: %s", m->unsupported ? m->unsupported : "not measured");
      row(f, 8, m->case_id, m->name, m->unit, m->better, n, why, "-", "-");
      continue;
    }
    suite_summary_t s;
    suite_stats_summary(m->samples, m->n, &s);
    snprintf(med, sizeof med, "%.4g", s.median);
    snprintf(iqr, sizeof iqr, "%.4g..%.4g", s.q1, s.q3);
    snprintf(mm, sizeof mm, "%.4g..%.4g", s.min, s.max);
    row(f, 8, m->case_id, m->name, m->unit, m->better, n, med, iqr, mm);
  }
  fputs("</table>\n<h2 id=\"checks\">Checks</h2>\n<table>\n<tr><th>case</th><th>check</th>"
        "<th>name</th><th>SPEC ids</th><th>verdict</th><th>diagnostic</th></tr>\n",
        f);
  for (size_t i = 0; i < rr->nchecks; i++) {
    const suite_rr_check_t *c = &rr->checks[i];
    fprintf(f, "<tr class=\"%s\">", c->ok ? "pass" : "fail");
    fputs("<td>", f);
    suite_html_text(f, c->case_id);
    fputs("</td><td>", f);
    suite_html_text(f, c->id);
    fputs("</td><td>", f);
    suite_html_text(f, c->name);
    fputs("</td><td>", f);
    suite_html_text(f, c->spec_ids);
    fprintf(f, "</td><td>%s</td><td>", c->ok ? "pass" : "fail");
    suite_html_text(f, c->diag);
    fputs("</td></tr>\n", f);
  }
  fputs("</table>\n", f);
}

static void figures(FILE *f, const plots_t *p) {
  fputs("<h2 id=\"plots\">Plots</h2>\n", f);
  if (p->trend_note[0]) {
    fputs("<p>", f);
    suite_html_text(f, p->trend_note);
    fputs("</p>\n", f);
  }
  if (!p->gp.n && !p->gp.note[0])
    fputs("<p>No time series recorded in this run and no history trends.</p>\n", f);
  suite_gp_html(f, &p->gp);
}

static int write_html(const char *dir, const suite_rr_t *rr, const plots_t *p, mmc_error_t *err) {
  FILE *f = suite_html_begin(dir, "mmcert report", err);
  if (!f)
    return err->code;
  fputs("<h1>mmcert report: ", f);
  suite_html_text(f, rr->impl);
  fputc(' ', f);
  suite_html_text(f, rr->version);
  fputs("</h1>\n<p><a href=\"#cases\">cases</a> | <a href=\"#metrics\">metrics</a> | "
        "<a href=\"#checks\">checks</a> | <a href=\"#plots\">plots</a>",
        f);
  char abs[PATH_MAX];
  if (strncmp(rr->label, "db:", 3) && realpath(rr->label, abs)) {
    fputs(" | <a href=\"file://", f);
    suite_html_text(f, abs);
    fputs("\">results JSON</a>", f);
  }
  fputs("</p>\n", f);
  facts(f, rr);
  tables(f, rr);
  figures(f, p);
  return suite_html_end(f, dir, err);
}

int suite_report_write(const suite_rr_t *rr, const suite_report_opts_t *o, mmc_error_t *err) {
  int rc = suite_html_dir(o->dir, err);
  if (rc)
    return rc;
  plots_t p = {0};
  suite_gp_init(&p.gp, o->dir);
  series_plots(&p, o->dir, rr);
  trend_plots(&p, o->dir, rr, o, err, &rc);
  if (!rc)
    rc = write_html(o->dir, rr, &p, err);
  if (!rc && p.gp.note[0])
    fprintf(o->err, "mmcert report: %s\n", p.gp.note);
  suite_gp_free(&p.gp);
  return rc;
}
