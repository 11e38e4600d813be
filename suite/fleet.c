/*
 * fleet.c — the fleet report (see fleet.h for what it shows and the rule).
 *
 * Data: figures are rows (name, unit, better, qualification or suite),
 * machines are columns; a cell holds the machine's value (NAN when it has
 * none). Suite metrics gather every sample of a machine's selected runs
 * first and keep their median. Then per figure: the median M over the
 * machines that have it, the scale s = max(1.4826 MAD, FLOOR |M|), each
 * machine's robust z = (x - M) / s, flagged when |z| > k.
 *
 * Output: a summary on opts->out (one line per machine, FLAGGED with its
 * figures), DIR/index.html (the rule, the machines, the flagged values, the
 * spread of every figure, plots), written to a temporary file and renamed;
 * plots (gnuplot.h): the robust z of every machine on every qualification
 * figure and on every suite metric (the +-k band drawn), and for each
 * flagged figure (the first MAX_FIGURE_PLOTS) its value per machine beside
 * the class's band.
 */
#include "fleet.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gnuplot.h"
#include "html.h"
#include "qualify.h"
#include "qualify_read.h"
#include "stats.h"

enum { MAX_FIGURE_PLOTS = 16, MANY_MACHINES = 12 };

typedef struct fig {
  char *name;
  char unit[32];
  const char *better; /* "lower" or "higher" */
  bool qual;          /* a qualification figure (else a suite metric) */
  double *v;          /* per machine; NAN = none */
  double **s;         /* suite metrics: samples per machine, before v */
  size_t *ns, *caps;
  size_t n;             /* machines with a value */
  double median, scale; /* the class: M and max(1.4826 MAD, FLOOR |M|) */
  bool judged;          /* n >= SUITE_FLEET_MIN_MACHINES */
  unsigned flagged;
} fig_t;

typedef struct fleet {
  const suite_fleet_opts_t *o;
  const char *cls;
  char **host;
  size_t nhost;
  const json_t **qual; /* newest qualification per machine (or NULL) */
  size_t *runs;
  fig_t *fig;
  size_t nfig;
  bool oom;
} fleet_t;

static const char *js(const json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}

static void *grow(fleet_t *F, void *p, size_t n, size_t size) {
  void *q = realloc(p, (n ? n : 1) * size);
  if (!q)
    F->oom = true;
  return q ? q : p;
}

/* ------------------------------------------------------------ machines, figures */

static size_t host_index(fleet_t *F, const char *host) {
  for (size_t i = 0; i < F->nhost; i++)
    if (!strcmp(F->host[i], host))
      return i;
  F->host = grow(F, F->host, F->nhost + 1, sizeof *F->host);
  F->qual = grow(F, F->qual, F->nhost + 1, sizeof *F->qual);
  F->runs = grow(F, F->runs, F->nhost + 1, sizeof *F->runs);
  if (F->oom)
    return 0;
  F->host[F->nhost] = strdup(host);
  F->qual[F->nhost] = NULL;
  F->runs[F->nhost] = 0;
  return F->nhost++;
}

static fig_t *figure(fleet_t *F, const char *name, const char *unit, const char *better,
                     bool qual) {
  for (size_t i = F->nfig; i-- > 0;)
    if (F->fig[i].qual == qual && !strcmp(F->fig[i].name, name) && !strcmp(F->fig[i].unit, unit))
      return &F->fig[i];
  F->fig = grow(F, F->fig, F->nfig + 1, sizeof *F->fig);
  if (F->oom)
    return NULL;
  fig_t *g = &F->fig[F->nfig++];
  *g = (fig_t){.name = strdup(name), .better = better, .qual = qual};
  snprintf(g->unit, sizeof g->unit, "%s", unit);
  g->v = malloc(F->nhost * sizeof *g->v);
  if (!g->name || !g->v)
    F->oom = true;
  for (size_t m = 0; g->v && m < F->nhost; m++)
    g->v[m] = NAN;
  return g;
}

static void set_value(fleet_t *F, const char *name, const char *unit, const char *better, size_t m,
                      double x) {
  fig_t *g = isfinite(x) ? figure(F, name, unit, better, true) : NULL;
  if (g && g->v)
    g->v[m] = x;
}

static void add_sample(fleet_t *F, const char *name, const char *unit, const char *better, size_t m,
                       double x) {
  fig_t *g = figure(F, name, unit, better, false);
  if (!g)
    return;
  if (!g->s) {
    g->s = calloc(F->nhost, sizeof *g->s);
    g->ns = calloc(F->nhost, sizeof *g->ns);
    g->caps = calloc(F->nhost, sizeof *g->caps);
    if (!g->s || !g->ns || !g->caps) {
      F->oom = true;
      return;
    }
  }
  if (g->ns[m] == g->caps[m]) {
    g->caps[m] = g->caps[m] ? 2 * g->caps[m] : 8;
    g->s[m] = grow(F, g->s[m], g->caps[m], sizeof *g->s[m]);
    if (F->oom)
      return;
  }
  g->s[m][g->ns[m]++] = x;
}

/* ------------------------------------------------------------ qualification figures */

static void matrix_figures(fleet_t *F, size_t m, const json_t *q, const char *section,
                           const char *key, const char *what, const char *unit,
                           const char *better) {
  size_t n = 0;
  double *x = suite_qr_matrix(q, section, key, &n);
  for (size_t i = 0; x && i < n; i++)
    for (size_t j = 0; j < n; j++) {
      char name[96];
      snprintf(name, sizeof name, "%s %zu->%zu", what, i, j);
      set_value(F, name, unit, better, m, x[i * n + j]);
    }
  free(x);
}

/* Spearman's rho of the measured latencies against the firmware distances,
 * over every measured cell, as qualify's check computes it; NAN when the
 * distances are not the firmware's or fewer than 3 cells were measured. */
static double rank_agreement(const json_t *q) {
  const json_t *t = json_object_get(q, "topology");
  if (!json_is_true(json_object_get(t, "distances_from_firmware")))
    return NAN;
  size_t n = 0, nf = 0, k = 0;
  double *lat = suite_qr_matrix(q, "latency", "ns_per_load", &n);
  double *fw = suite_qr_matrix(q, "topology", "firmware_distances", &nf);
  double *a = lat && fw && n == nf && n >= 2 ? malloc(n * n * sizeof *a) : NULL;
  double *b = a ? malloc(n * n * sizeof *b) : NULL;
  for (size_t i = 0; b && i < n * n; i++)
    if (isfinite(lat[i])) {
      a[k] = fw[i];
      b[k++] = lat[i];
    }
  double rho = b && k >= 3 ? suite_qm_spearman(a, b, k) : NAN;
  free(lat), free(fw), free(a), free(b);
  return rho;
}

static void pair_figures(fleet_t *F, size_t m, const json_t *pairs, const char *what) {
  size_t i;
  json_t *p;
  json_array_foreach(pairs, i, p) {
    if (!json_is_true(json_object_get(p, "measured")))
      continue;
    char name[96];
    snprintf(name, sizeof name, "%s %lld->%lld", what,
             (long long)json_integer_value(json_object_get(p, "from")),
             (long long)json_integer_value(json_object_get(p, "to")));
    set_value(F, name, "GB/s", "higher", m, json_number_value(json_object_get(p, "gb_per_s")));
  }
}

static void qual_figures(fleet_t *F, size_t m, const json_t *q) {
  matrix_figures(F, m, q, "latency", "ns_per_load", "latency", "ns", "lower");
  matrix_figures(F, m, q, "bandwidth", "copy_gb_per_s", "copy bandwidth", "GB/s", "higher");
  matrix_figures(F, m, q, "bandwidth", "triad_gb_per_s", "triad bandwidth", "GB/s", "higher");
  set_value(F, "distance-rank agreement (Spearman rho)", "rho", "higher", m, rank_agreement(q));
  const json_t *mig = json_object_get(q, "migration");
  pair_figures(F, m, json_object_get(mig, "pairs"), "move_pages(2)");
  pair_figures(F, m, json_object_get(json_object_get(mig, "engine"), "pairs"), "engine move_range");
}

/* ------------------------------------------------------------ suite metrics */

static void run_figures(fleet_t *F, size_t m, const json_t *doc) {
  size_t i, j, k;
  json_t *c, *x, *v;
  json_array_foreach(json_object_get(doc, "cases"), i, c) {
    json_array_foreach(json_object_get(c, "metrics"), j, x) {
      const char *better = js(x, "better");
      bool lower = !strcmp(better, "lower");
      if (!lower && strcmp(better, "higher"))
        continue; /* informational: never judged */
      char name[256];
      snprintf(name, sizeof name, "%s/%s", js(c, "id"), js(x, "name"));
      json_array_foreach(json_object_get(x, "samples"), k, v)
          add_sample(F, name, js(x, "unit"), lower ? "lower" : "higher", m, json_number_value(v));
    }
  }
}

static void sample_medians(fleet_t *F) {
  for (size_t i = 0; i < F->nfig; i++) {
    fig_t *g = &F->fig[i];
    for (size_t m = 0; g->s && m < F->nhost; m++)
      if (g->ns[m])
        g->v[m] = suite_stats_median(g->s[m], g->ns[m]);
  }
}

/* ------------------------------------------------------------ the rule */

static void judge(fleet_t *F, fig_t *g) {
  double *x = malloc((F->nhost ? F->nhost : 1) * sizeof *x), *d = NULL;
  size_t n = 0;
  for (size_t m = 0; x && m < F->nhost; m++)
    if (isfinite(g->v[m]))
      x[n++] = g->v[m];
  g->n = n;
  g->judged = n >= SUITE_FLEET_MIN_MACHINES;
  if (x && n) {
    g->median = suite_stats_median(x, n);
    d = malloc(n * sizeof *d);
    for (size_t i = 0; d && i < n; i++)
      d[i] = fabs(x[i] - g->median);
    double mad = d ? suite_stats_median(d, n) : NAN;
    g->scale = fmax(1.4826 * mad, SUITE_FLEET_FLOOR * fabs(g->median));
  }
  free(x);
  free(d);
}

static double zscore(const fig_t *g, size_t m) {
  if (!g->judged || !isfinite(g->v[m]))
    return NAN;
  if (g->scale == 0) /* every machine exactly at a median of 0 */
    return g->v[m] == g->median ? 0 : INFINITY;
  return (g->v[m] - g->median) / g->scale;
}

static bool outside(const fleet_t *F, const fig_t *g, size_t m) {
  double z = zscore(g, m);
  return isfinite(z) ? fabs(z) > F->o->k : isinf(z);
}

static const char *side(const fig_t *g, size_t m) {
  bool up = g->v[m] > g->median;
  return up == !strcmp(g->better, "higher") ? "better" : "worse";
}

/* ------------------------------------------------------------ collecting */

static int collect(fleet_t *F, suite_hist_t *h, const suite_hist_filter_t *f, json_t **quals,
                   json_t **runs, mmc_error_t *err) {
  int rc = suite_hist_select_qualify(h, f, quals, err);
  if (!rc)
    rc = suite_hist_select(h, f, runs, err);
  if (rc)
    return rc;
  size_t i;
  json_t *d;
  json_array_foreach(*quals, i, d) {
    size_t m = host_index(F, js(json_object_get(d, "machine"), "hostname"));
    if (!F->oom)
      F->qual[m] = d; /* oldest first: the newest stays */
  }
  json_array_foreach(*runs, i, d) {
    size_t m = host_index(F, js(json_object_get(d, "machine"), "hostname"));
    if (!F->oom)
      F->runs[m]++;
  }
  if (F->oom)
    return mmc_fail(err, MMC_ENOMEM, "fleet report: out of memory");
  if (!F->nhost)
    return mmc_fail(err, MMC_ENOENT,
                    "%s (in %s): no machine of class %s: neither qualification reports (mmcert "
                    "qualify, then results import) nor runs",
                    F->o->selection, suite_hist_label(h), F->cls);
  for (size_t m = 0; m < F->nhost; m++)
    if (F->qual[m])
      qual_figures(F, m, F->qual[m]);
  json_array_foreach(*runs, i, d) {
    run_figures(F, host_index(F, js(json_object_get(d, "machine"), "hostname")), d);
  }
  sample_medians(F);
  for (size_t g = 0; g < F->nfig; g++)
    judge(F, &F->fig[g]);
  return F->oom ? mmc_fail(err, MMC_ENOMEM, "fleet report: out of memory") : 0;
}

/* ------------------------------------------------------------ summary */

/* A string of a qualify report on one terminal line: that schema leaves
 * hostnames and times free (a results file allows no control character in
 * them), and a newline in a hostname must not start a line that reads like
 * another machine's "ok". Every control character becomes a space. */
static const char *one_line(const char *s, char *buf, size_t cap) {
  size_t o = 0;
  for (; *s && o + 1 < cap; s++)
    buf[o++] = (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s;
  buf[o] = '\0';
  return buf;
}

static unsigned flags_of(const fleet_t *F, size_t m) {
  unsigned n = 0;
  for (size_t g = 0; g < F->nfig; g++)
    n += outside(F, &F->fig[g], m);
  return n;
}

static void summary(const fleet_t *F, FILE *out) {
  char cls[256];
  fprintf(out,
          "fleet: %zu machine%s of class %s; outside the class: |x - median| > %g x max(1.4826 "
          "MAD, %g %% of |median|), per figure over >= %d machines\n",
          F->nhost, F->nhost == 1 ? "" : "s", one_line(F->cls, cls, sizeof cls), F->o->k,
          SUITE_FLEET_FLOOR * 100, SUITE_FLEET_MIN_MACHINES);
  for (size_t m = 0; m < F->nhost; m++) {
    unsigned n = flags_of(F, m);
    char host[256], when[64];
    fprintf(out, "  %-24s %s qualification, %zu run%s: %s", one_line(F->host[m], host, sizeof host),
            F->qual[m] ? one_line(js(F->qual[m], "start_time"), when, sizeof when) : "no",
            F->runs[m], F->runs[m] == 1 ? "" : "s", n ? "FLAGGED" : "ok");
    if (n)
      fprintf(out, ", %u figure%s", n, n == 1 ? "" : "s");
    fputc('\n', out);
    for (size_t g = 0; g < F->nfig; g++) {
      const fig_t *f = &F->fig[g];
      char name[256];
      if (outside(F, f, m))
        fprintf(out, "    %s [%s]: %.4g, class median %.4g, band %.4g..%.4g (%s)\n",
                one_line(f->name, name, sizeof name), f->unit, f->v[m], f->median,
                f->median - F->o->k * f->scale, f->median + F->o->k * f->scale, side(f, m));
    }
  }
}

/* ------------------------------------------------------------ plots */

/* One line per figure of the group: index, label, then each machine's z. */
static size_t z_data(const fleet_t *F, bool qual, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f)
    return 0;
  fprintf(f, "index figure");
  for (size_t m = 0; m < F->nhost; m++) {
    char h[96];
    suite_gp_text(F->host[m], h, sizeof h);
    fprintf(f, " \"%s\"", h);
  }
  fputc('\n', f);
  size_t rows = 0;
  for (size_t g = 0; g < F->nfig; g++) {
    const fig_t *x = &F->fig[g];
    if (x->qual != qual || !x->judged)
      continue;
    char label[96];
    suite_gp_text(x->name, label, sizeof label);
    fprintf(f, "%zu \"%s\"", rows++, label);
    for (size_t m = 0; m < F->nhost; m++) {
      double z = zscore(x, m);
      fprintf(f, " %.6g", isfinite(z) ? z : NAN);
    }
    fputc('\n', f);
  }
  fclose(f);
  return rows;
}

static void z_plot(const fleet_t *F, suite_gp_t *p, bool qual) {
  const char *stem = qual ? "fleet-z-qualify" : "fleet-z-suite";
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.dat", F->o->dir, stem);
  size_t rows = z_data(F, qual, path);
  if (!rows)
    return;
  size_t cap = 4096 + F->nhost * 160;
  char *body = malloc(cap);
  if (!body)
    return;
  size_t o = (size_t)snprintf(
      body, cap,
      "set title '%s: each machine against its class'\nset ylabel 'robust z = (x - median) / "
      "scale'\nset xtics rotate by -30 font ',7'\nset bmargin 10\nset datafile missing "
      "'nan'\nset xrange [-0.5:%zu.5]\nplot %g with lines lc rgb 'red' dt 2 title "
      "'+-k (%g)', -%g with lines lc rgb 'red' dt 2 notitle",
      qual ? "Qualification figures" : "Suite metrics", rows - 1, F->o->k, F->o->k, F->o->k);
  for (size_t m = 0; m < F->nhost && o < cap; m++) {
    bool flagged = flags_of(F, m) > 0;
    if (F->nhost > MANY_MACHINES && !flagged)
      o += (size_t)snprintf(body + o, cap - o,
                            ", '%s.dat' using 1:%zu:xticlabels(2) with points pt 7 ps 0.6 lc "
                            "rgb '#aaaaaa' notitle",
                            stem, m + 3);
    else
      o += (size_t)snprintf(body + o, cap - o,
                            ", '%s.dat' using 1:%zu:xticlabels(2) with points pt %d ps 1.2 "
                            "title columnheader(%zu)",
                            stem, m + 3, flagged ? 9 : 7, m + 3);
  }
  if (o < cap - 2) {
    strcat(body, "\n");
    suite_gp_draw(p, F->o->dir, stem,
                  qual ? "Qualification figures: robust z of every machine (+-k band dashed)"
                       : "Suite metrics: robust z of every machine (+-k band dashed)",
                  body);
  }
  free(body);
}

/* A flagged figure: its value on every machine beside the class's band. */
static void figure_plot(const fleet_t *F, suite_gp_t *p, const fig_t *g, size_t idx) {
  char stem[64], path[4096];
  snprintf(stem, sizeof stem, "fleet-figure-%zu", idx);
  snprintf(path, sizeof path, "%s/%s.dat", F->o->dir, stem);
  FILE *f = fopen(path, "w");
  if (!f)
    return;
  for (size_t m = 0; m < F->nhost; m++) {
    char h[96];
    suite_gp_text(F->host[m], h, sizeof h);
    fprintf(f, "%zu \"%s\" %.9g\n", m, h, isfinite(g->v[m]) ? g->v[m] : NAN);
  }
  fclose(f);
  char name[200], unit[40], body[2048], caption[320];
  suite_gp_text(g->name, name, sizeof name);
  suite_gp_text(g->unit, unit, sizeof unit);
  double lo = g->median - F->o->k * g->scale, hi = g->median + F->o->k * g->scale;
  snprintf(body, sizeof body,
           "set title '%s [%s] per machine'\nset ylabel '%s (%s is better)'\nset datafile "
           "missing 'nan'\nset xrange [-0.5:%zu.5]\nset xtics rotate by -45\nplot %.9g with "
           "lines lc rgb 'black' title 'class median', %.9g with lines lc rgb 'red' dt 2 title "
           "'band (k = %g)', %.9g with lines lc rgb 'red' dt 2 notitle, '%s.dat' using "
           "1:3:xticlabels(2) with points pt 7 ps 1.5 title '%s'\n",
           name, unit, unit, g->better, F->nhost - 1, g->median, lo, F->o->k, hi, stem, name);
  snprintf(caption, sizeof caption, "%s [%s]: every machine beside the class's band", g->name,
           g->unit);
  suite_gp_draw(p, F->o->dir, stem, caption, body);
}

static void plots(const fleet_t *F, suite_gp_t *p) {
  z_plot(F, p, true);
  z_plot(F, p, false);
  size_t drawn = 0;
  for (size_t g = 0; g < F->nfig && drawn < MAX_FIGURE_PLOTS; g++)
    if (F->fig[g].flagged)
      figure_plot(F, p, &F->fig[g], drawn++);
}

/* ------------------------------------------------------------ HTML */

static void cell(FILE *f, const char *tag, const char *text) {
  fprintf(f, "<%s>", tag);
  suite_html_text(f, text);
  fprintf(f, "</%s>", tag);
}

static void num_cell(FILE *f, double x) {
  char b[48];
  snprintf(b, sizeof b, isfinite(x) ? "%.4g" : "-", x);
  cell(f, "td", b);
}

static void html_machines(const fleet_t *F, FILE *f) {
  fputs("<h2 id=\"machines\">Machines</h2>\n<table>\n<tr><th>machine</th><th>qualification "
        "(newest)</th><th>runs</th><th>figures outside the class</th></tr>\n",
        f);
  for (size_t m = 0; m < F->nhost; m++) {
    unsigned n = flags_of(F, m);
    fprintf(f, "<tr class=\"%s\">", n ? "fail" : "pass");
    cell(f, "td", F->host[m]);
    cell(f, "td", F->qual[m] ? js(F->qual[m], "start_time") : "none in the history");
    fprintf(f, "<td>%zu</td><td>%u%s</td></tr>\n", F->runs[m], n, n ? " (FLAGGED)" : "");
  }
  fputs("</table>\n", f);
}

static void html_flagged(const fleet_t *F, FILE *f) {
  fputs("<h2 id=\"flagged\">Outside the class</h2>\n<table>\n<tr><th>machine</th><th>figure</th>"
        "<th>unit</th><th>value</th><th>class median</th><th>band</th><th>robust z</th>"
        "<th>side</th></tr>\n",
        f);
  unsigned rows = 0;
  for (size_t m = 0; m < F->nhost; m++)
    for (size_t g = 0; g < F->nfig; g++) {
      const fig_t *x = &F->fig[g];
      if (!outside(F, x, m))
        continue;
      rows++;
      fputs("<tr class=\"fail\">", f);
      cell(f, "td", F->host[m]);
      cell(f, "td", x->name);
      cell(f, "td", x->unit);
      num_cell(f, x->v[m]);
      num_cell(f, x->median);
      char band[96];
      snprintf(band, sizeof band, "%.4g..%.4g", x->median - F->o->k * x->scale,
               x->median + F->o->k * x->scale);
      cell(f, "td", band);
      num_cell(f, zscore(x, m));
      cell(f, "td", side(x, m));
      fputs("</tr>\n", f);
    }
  if (!rows)
    fputs("<tr><td colspan=\"8\">none: every machine lies within its class's band</td></tr>\n", f);
  fputs("</table>\n", f);
}

static void html_figures(const fleet_t *F, FILE *f) {
  fputs("<h2 id=\"figures\">Every figure</h2>\n<table>\n<tr><th>figure</th><th>kind</th>"
        "<th>unit</th><th>better</th><th>machines</th><th>median</th><th>scale</th>"
        "<th>band</th><th>outside</th></tr>\n",
        f);
  for (size_t g = 0; g < F->nfig; g++) {
    const fig_t *x = &F->fig[g];
    fprintf(f, "<tr class=\"%s\">", x->flagged ? "fail" : x->judged ? "pass" : "skip");
    cell(f, "td", x->name);
    cell(f, "td", x->qual ? "qualification" : "suite metric");
    cell(f, "td", x->unit);
    cell(f, "td", x->better);
    fprintf(f, "<td>%zu</td>", x->n);
    num_cell(f, x->median);
    num_cell(f, x->scale);
    char band[96];
    if (x->judged)
      snprintf(band, sizeof band, "%.4g..%.4g", x->median - F->o->k * x->scale,
               x->median + F->o->k * x->scale);
    else
      snprintf(band, sizeof band, "not judged: fewer than %d machines", SUITE_FLEET_MIN_MACHINES);
    cell(f, "td", band);
    fprintf(f, "<td>%u</td></tr>\n", x->flagged);
  }
  fputs("</table>\n", f);
}

static void html_plots(const suite_gp_t *p, FILE *f) {
  fputs("<h2 id=\"plots\">Plots</h2>\n", f);
  suite_gp_html(f, p);
}

static int write_html(const fleet_t *F, const suite_gp_t *p, mmc_error_t *err) {
  FILE *f = suite_html_begin(F->o->dir, "mmcert fleet report", err);
  if (!f)
    return err->code;
  fputs("<h1>mmcert fleet report: ", f);
  suite_html_text(f, F->cls);
  fputs("</h1>\n<p><a href=\"#machines\">machines</a> | <a href=\"#flagged\">outside the class</a>"
        " | <a href=\"#figures\">every figure</a> | <a href=\"#plots\">plots</a></p>\n<p>",
        f);
  suite_html_text(f, F->o->selection);
  fprintf(f,
          ": %zu machines. Per figure, over the machines that have it (at least %d), a machine "
          "is outside its class when |x &minus; median| &gt; k &times; max(1.4826 MAD, %g %% of "
          "|median|), <b>k = %g</b> (MAD: the median absolute deviation from the median; "
          "1.4826 MAD estimates a standard deviation). Qualification figures come from each "
          "machine's newest <code>mmcert qualify</code> report in the history; suite metrics "
          "are the median of every sample of the selected runs of the machine.</p>\n",
          F->nhost, SUITE_FLEET_MIN_MACHINES, SUITE_FLEET_FLOOR * 100, F->o->k);
  html_machines(F, f);
  html_flagged(F, f);
  html_figures(F, f);
  html_plots(p, f);
  return suite_html_end(f, F->o->dir, err);
}

/* ------------------------------------------------------------ entry */

static void fleet_free(fleet_t *F) {
  for (size_t g = 0; g < F->nfig; g++) {
    fig_t *x = &F->fig[g];
    for (size_t m = 0; x->s && m < F->nhost; m++)
      free(x->s[m]);
    free(x->s), free(x->ns), free(x->caps), free(x->v), free(x->name);
  }
  for (size_t m = 0; m < F->nhost; m++)
    free(F->host[m]);
  free(F->fig), free(F->host), free(F->qual), free(F->runs);
}

int suite_fleet_report(suite_hist_t *h, const suite_hist_filter_t *f, const suite_fleet_opts_t *o,
                       mmc_error_t *err) {
  if (!f->machine)
    return mmc_fail(err, MMC_EINVAL,
                    "--fleet %s: name the machine class (db:machine=CLASS,...): a fleet report "
                    "compares machines of one class",
                    o->selection);
  int rc = suite_html_dir(o->dir, err);
  if (rc)
    return rc;
  fleet_t F = {.o = o, .cls = f->machine};
  json_t *quals = NULL, *runs = NULL;
  rc = collect(&F, h, f, &quals, &runs, err);
  if (!rc) {
    for (size_t g = 0; g < F.nfig; g++)
      for (size_t m = 0; m < F.nhost; m++)
        F.fig[g].flagged += outside(&F, &F.fig[g], m);
    suite_gp_t p;
    suite_gp_init(&p, o->dir);
    plots(&F, &p);
    rc = write_html(&F, &p, err);
    if (!rc) {
      summary(&F, o->out);
      if (p.note[0])
        fprintf(o->err, "mmcert report: %s\n", p.note);
    }
    suite_gp_free(&p);
  }
  fleet_free(&F);
  json_decref(quals);
  json_decref(runs);
  return rc;
}
