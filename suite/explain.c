/*
 * explain.c — `mmcert explain ID|GLOB...` and `mmcert list --spec`: the
 * specification compiled into mmcert (spec.h, from doc/spec.md), so a user
 * reading "TPS-3: failed" in a certificate can look it up where the
 * certificate was made.
 *
 * explain prints, per id: its title and area, the statement, the documented
 * source, the settings with defaults, the cases that judge it — from the case
 * table (suite_cases[]), with their titles and their variants (name, clock
 * forms, title, param) — the checks of those cases
 * that decide it, and what of the statement no check decides. Arguments are ids or fnmatch(3)
 * globs, case-insensitive; every argument must match some id, else nothing is printed and the exit
 * status is 2 (SUITE_EXIT_USAGE) with a message naming the argument.
 */
#include "explain.h"

#include <fnmatch.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "case.h"
#include "runner.h"
#include "spec.h"

enum { WRAP_COLUMNS = 78, TEXT_INDENT = 2 };

/* Columns a UTF-8 string takes (continuation bytes take none). */
static size_t columns(const char *s, size_t n) {
  size_t w = 0;
  for (size_t i = 0; i < n && s[i]; i++)
    w += ((unsigned char)s[i] & 0xc0) != 0x80;
  return w;
}

/* `text` as a paragraph indented by `indent`, broken at spaces before
 * WRAP_COLUMNS; a word longer than a line stands alone. */
static void print_wrapped(FILE *out, const char *text, int indent) {
  const char *p = text;
  size_t width = WRAP_COLUMNS - (size_t)indent, used = 0;
  while (*p) {
    while (*p == ' ')
      p++;
    size_t len = strcspn(p, " ");
    if (!len)
      break;
    size_t w = columns(p, len);
    if (used && used + 1 + w > width) {
      fputc('\n', out);
      used = 0;
    }
    if (!used)
      fprintf(out, "%*s", indent, "");
    else
      fputc(' ', out);
    fwrite(p, 1, len, out);
    used += (used ? 1 : 0) + w;
    p += len;
  }
  if (used)
    fputc('\n', out);
}

/* Whether the space-separated list `ids` holds `id`. */
static bool names_id(const char *ids, const char *id) {
  size_t n = strlen(id);
  for (const char *p = ids ? ids : ""; *p;) {
    p += strspn(p, " ");
    size_t len = strcspn(p, " ");
    if (len == n && !strncmp(p, id, n))
      return true;
    p += len;
  }
  return false;
}

/* The variants of `c` under its line: CASE/NAME, clock forms, title, and
 * the param the body reads. */
static void print_variants(FILE *out, const suite_case_t *c) {
  size_t nv = suite_case_nvariants(c), width = 0;
  char name[96];
  for (size_t k = 0; k < nv; k++) {
    suite_case_name(c, &c->variants[k], name, sizeof name);
    width = strlen(name) > width ? strlen(name) : width;
  }
  for (size_t k = 0; k < nv; k++) {
    const suite_variant_t *v = &c->variants[k];
    suite_case_name(c, v, name, sizeof name);
    fprintf(out, "%*s%-*s  %-12s  %s", 2 * TEXT_INDENT, "", (int)width, name,
            suite_clocks_name(suite_case_clocks(c, v)), v->title ? v->title : c->title);
    if (v->param)
      fprintf(out, " (param '%s')", v->param);
    fputc('\n', out);
  }
}

static void print_cases(FILE *out, const char *id) {
  size_t width = 0;
  for (const suite_case_t *c = suite_cases; c->id; c++)
    if (names_id(c->spec_ids, id) && strlen(c->id) > width)
      width = strlen(c->id);
  bool any = false, variants = false;
  for (const suite_case_t *c = suite_cases; c->id; c++)
    if (names_id(c->spec_ids, id)) {
      fprintf(out, "%*s%-*s  %s\n", TEXT_INDENT, "", (int)width, c->id, c->title);
      print_variants(out, c);
      any = true;
      variants |= c->variants != NULL;
    }
  if (!any)
    fprintf(out, "%*s(no case of this mmcert names %s)\n", TEXT_INDENT, "", id);
  if (variants)
    print_wrapped(out,
                  "(each variant is a test point of its own, with its clock forms: a run picks "
                  "each case's clock form and judges the id by that form's variants; those of "
                  "the other form are not run there)",
                  TEXT_INDENT);
}

static void print_lines(FILE *out, const char *text) {
  for (const char *p = text; *p;) {
    size_t len = strcspn(p, "\n");
    fprintf(out, "%*s%.*s\n", TEXT_INDENT, "", (int)len, p);
    p += len + (p[len] == '\n');
  }
}

static void explain_one(FILE *out, const suite_spec_t *s) {
  fprintf(out, "%s · %s (%s)\n", s->id, s->title, s->area);
  fputs("Statement\n", out);
  print_wrapped(out, s->statement, TEXT_INDENT);
  fputs("Source\n", out);
  print_wrapped(out, s->source, TEXT_INDENT);
  fputs("Settings\n", out);
  print_wrapped(out, s->settings, TEXT_INDENT);
  fputs("Judged by the cases\n", out);
  print_cases(out, s->id);
  fputs("Decided by the checks (case: check, as printed in TAP; <x> varies)\n", out);
  print_lines(out, s->checks);
  if (*s->gaps) {
    fputs("Not decided by any check (shown does not cover it)\n", out);
    print_wrapped(out, s->gaps, TEXT_INDENT);
  }
}

static bool matches(const char *pattern, const char *id) {
  return fnmatch(pattern, id, FNM_CASEFOLD) == 0;
}

/* The case whose id is `arg` (any case), or NULL: a user may give a case
 * id (NUMA-8b) where a SPEC id is wanted. */
static const suite_case_t *case_named(const char *arg) {
  for (const suite_case_t *c = suite_cases; c->id; c++)
    if (!strcasecmp(c->id, arg))
      return c;
  return NULL;
}

static int no_match(const char *arg) {
  fprintf(stderr, "mmcert explain: no SPEC id matches '%s'", arg);
  const suite_case_t *c = case_named(arg);
  if (c)
    fprintf(stderr, " ('%s' is a case; it checks %s)", c->id, c->spec_ids);
  fprintf(stderr, "; 'mmcert list --spec' lists the %zu ids\n", suite_spec_count());
  return SUITE_EXIT_USAGE;
}

static const char explain_usage[] =
    "Usage: mmcert explain ID|GLOB...\n"
    "Print what a SPEC id states, where it is documented, the settings it depends on,\n"
    "and the cases (with their variants) and checks that judge it (doc/spec.md,\n"
    "compiled in). Ids and globs are case-insensitive: mmcert explain TPS-3,\n"
    "mmcert explain 'NUMA-*'.\n"
    "mmcert list --spec lists every id.\n";

int suite_cmd_explain(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "mmcert explain: expected one or more SPEC ids or globs, e.g. 'mmcert explain "
                    "TPS-3' or 'mmcert explain \"NUMA-*\"'; 'mmcert list --spec' lists them\n");
    return SUITE_EXIT_USAGE;
  }
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(explain_usage, stdout);
      return SUITE_EXIT_OK;
    }
    if (argv[i][0] == '-') {
      fprintf(stderr, "mmcert explain: unknown option '%s' (explain takes SPEC ids or globs)\n",
              argv[i]);
      return SUITE_EXIT_USAGE;
    }
  }
  /* Every argument must match before anything is printed. */
  for (int i = 1; i < argc; i++) {
    bool any = false;
    for (const suite_spec_t *s = suite_spec; s->id && !any; s++)
      any = matches(argv[i], s->id);
    if (!any)
      return no_match(argv[i]);
  }
  bool first = true;
  for (const suite_spec_t *s = suite_spec; s->id; s++) {
    bool want = false;
    for (int i = 1; i < argc && !want; i++)
      want = matches(argv[i], s->id);
    if (!want)
      continue;
    if (!first)
      fputc('\n', stdout);
    explain_one(stdout, s);
    first = false;
  }
  return SUITE_EXIT_OK;
}

/* "NUMA-1,NUMA-3": the cases naming `id`, from the case table. */
static void case_list(const char *id, char *buf, size_t cap) {
  size_t o = 0;
  buf[0] = '\0';
  for (const suite_case_t *c = suite_cases; c->id && o < cap; c++)
    if (names_id(c->spec_ids, id))
      o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? "," : "", c->id);
  if (!o)
    snprintf(buf, cap, "-");
}

int suite_cmd_list_spec(FILE *out) {
  char cases[256];
  size_t wid = strlen("SPEC ID"), wcases = strlen("CASES");
  for (const suite_spec_t *s = suite_spec; s->id; s++) {
    case_list(s->id, cases, sizeof cases);
    wid = strlen(s->id) > wid ? strlen(s->id) : wid;
    wcases = strlen(cases) > wcases ? strlen(cases) : wcases;
  }
  /* The title last: it is the one column of free length. */
  fprintf(out, "%-*s %-*s %s\n", (int)wid, "SPEC ID", (int)wcases, "CASES", "TITLE");
  for (const suite_spec_t *s = suite_spec; s->id; s++) {
    case_list(s->id, cases, sizeof cases);
    fprintf(out, "%-*s %-*s %s\n", (int)wid, s->id, (int)wcases, cases, s->title);
  }
  return SUITE_EXIT_OK;
}
