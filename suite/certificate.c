/*
 * certificate.c — a verdict per SPEC id from a run's case outcomes, and
 * certificates combined over runs (see certificate.h).
 *
 * Invariants of a built certificate: every id of the scope appears once, in
 * spec order; shown + failed + not_shown == n; a failed id names a case and
 * why; a not-shown id names the kind and the reason of each case that could
 * not judge it.
 */
#include "certificate.h"

#include "spec.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_IDS = 256, MAX_ID_LEN = 31 };

static const char *const notshown_names[] = {
    [SUITE_NOTSHOWN_NONE] = "",
    [SUITE_NOTSHOWN_CAPABILITY] = "capability",
    [SUITE_NOTSHOWN_CLOCK] = "clock",
    [SUITE_NOTSHOWN_TOPOLOGY] = "topology",
    [SUITE_NOTSHOWN_MACHINE] = "machine",
    [SUITE_NOTSHOWN_NOT_APPLICABLE] = "not applicable",
    [SUITE_NOTSHOWN_UNPROBED] = "unprobed",
};

const char *suite_notshown_kind_name(suite_notshown_kind_t k) {
  return (size_t)k < sizeof notshown_names / sizeof notshown_names[0] ? notshown_names[k] : "";
}

suite_notshown_kind_t suite_notshown_kind_parse(const char *name) {
  for (size_t k = 1; name && k < sizeof notshown_names / sizeof notshown_names[0]; k++)
    if (!strcmp(notshown_names[k], name))
      return (suite_notshown_kind_t)k;
  return SUITE_NOTSHOWN_NONE;
}

const char *suite_cert_status_name(suite_cert_status_t s) {
  static const char *const names[] = {"shown", "failed", "not shown"};
  return s <= SUITE_CERT_NOT_SHOWN ? names[s] : "?";
}

const char *suite_cert_verdict_name(suite_cert_verdict_t v) {
  static const char *const names[] = {"CERTIFIED", "NOT CERTIFIED", "INCOMPLETE"};
  return v <= SUITE_INCOMPLETE ? names[v] : "?";
}

suite_cert_verdict_t suite_cert_verdict(const suite_cert_t *cert) {
  if (cert->failed)
    return SUITE_NOT_CERTIFIED;
  return cert->not_shown ? SUITE_INCOMPLETE : SUITE_CERTIFIED;
}

int suite_cert_exit(const suite_cert_t *cert) {
  static const int codes[] = {
      [SUITE_CERTIFIED] = 0, [SUITE_NOT_CERTIFIED] = 1, [SUITE_INCOMPLETE] = SUITE_EXIT_INCOMPLETE};
  return codes[suite_cert_verdict(cert)];
}

/* ------------------------------------------------------------ ids */

bool suite_cert_names(const char *spec_ids, const char *id) {
  size_t n = strlen(id);
  for (const char *p = spec_ids ? spec_ids : ""; *p;) {
    p += strspn(p, " ");
    size_t len = strcspn(p, " ");
    if (len == n && !strncmp(p, id, n))
      return true;
    p += len;
  }
  return false;
}

/* The specification's order (doc/spec.md); ids it does not have (a test's
 * own table) after them, by prefix and number. */
static long spec_rank(const char *id) {
  const suite_spec_t *s = suite_spec_find(id);
  return s ? (long)(s - suite_spec) : LONG_MAX;
}

static int cmp_ids(const void *a, const void *b) {
  const char *x = *(const char *const *)a, *y = *(const char *const *)b;
  long ra = spec_rank(x), rb = spec_rank(y);
  if (ra != rb)
    return (ra > rb) - (ra < rb);
  size_t lx = strcspn(x, "-"), ly = strcspn(y, "-");
  int prefix = strncmp(x, y, lx < ly ? lx : ly);
  if (lx != ly || prefix)
    return prefix ? prefix : (lx > ly) - (lx < ly);
  const char *dx = strchr(x, '-'), *dy = strchr(y, '-');
  long nx = dx ? strtol(dx + 1, NULL, 10) : 0, ny = dy ? strtol(dy + 1, NULL, 10) : 0;
  return nx != ny ? (nx > ny) - (nx < ny) : strcmp(x, y);
}

const char *const *suite_cert_all_ids(const suite_case_t *table) {
  static char store[MAX_IDS][MAX_ID_LEN + 1];
  static const char *ids[MAX_IDS + 1];
  size_t n = 0;
  if (table == suite_cases) { /* the product's specification, whole */
    for (const suite_spec_t *s = suite_spec; s->id && n < MAX_IDS; s++)
      ids[n++] = s->id;
    ids[n] = NULL;
    return ids;
  }
  for (const suite_case_t *c = table; c->id; c++) {
    for (const char *p = c->spec_ids ? c->spec_ids : ""; *p;) {
      p += strspn(p, " ");
      size_t len = strcspn(p, " ");
      bool seen = false;
      for (size_t i = 0; i < n && !seen; i++)
        seen = strlen(ids[i]) == len && !strncmp(ids[i], p, len);
      if (len && !seen && len <= MAX_ID_LEN && n < MAX_IDS) {
        memcpy(store[n], p, len);
        store[n][len] = '\0';
        ids[n] = store[n];
        n++;
      }
      p += len;
    }
  }
  qsort(ids, n, sizeof ids[0], cmp_ids);
  ids[n] = NULL;
  return ids;
}

/* ------------------------------------------------------------ building */

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

static int verdict_rank(suite_verdict_t v) {
  static const int rank[] = {
      [SUITE_PASS] = 0, [SUITE_SKIP] = 1, [SUITE_FAIL] = 2, [SUITE_BROKEN] = 3};
  return rank[v];
}

static bool same_variant(const char *a, const char *b) {
  return a == b || (a && b && !strcmp(a, b));
}

/* The worst outcome of variant `variant` (NULL: a case without) of case
 * `id` among those that ran; NULL if it did not. */
static const suite_cert_case_t *outcome(const suite_cert_case_t *ran, size_t nran, const char *id,
                                        const char *variant) {
  const suite_cert_case_t *w = NULL;
  for (size_t i = 0; i < nran; i++)
    if (!strcmp(ran[i].id, id) && same_variant(ran[i].variant, variant) &&
        (!w || verdict_rank(ran[i].verdict) > verdict_rank(w->verdict)))
      w = &ran[i];
  return w;
}

/* What judge_id gathers over the cases (and variants) that judge an id. */
typedef struct id_judgement {
  bool failed, missing;
  char fail_why[1024], ns_why[1024];
  suite_notshown_kind_t first_kind;
  const char *ns_last; /* the reason of the not-shown point folded in last */
} id_judgement_t;

/* Fold the outcome `o` of the test point `name` ("NUMA-2/builtin-4") in. */
static void judge_point(id_judgement_t *j, const char *name, const suite_cert_case_t *o) {
  if (!o) {
    j->missing = true;
    j->ns_last = NULL; /* "the same" refers to the entry just before it */
    append(j->ns_why, sizeof j->ns_why, "%scase %s not selected", j->ns_why[0] ? "; " : "", name);
  } else if (o->verdict == SUITE_FAIL) {
    j->failed = true;
    append(j->fail_why, sizeof j->fail_why, "%scase %s: check '%s' failed%s%s",
           j->fail_why[0] ? "; " : "", name, o->check ? o->check : "?",
           o->diag && *o->diag ? ": " : "", o->diag ? o->diag : "");
  } else if (o->verdict == SUITE_BROKEN) {
    j->failed = true;
    append(j->fail_why, sizeof j->fail_why, "%scase %s broken: %s", j->fail_why[0] ? "; " : "",
           name, o->reason ? o->reason : "");
  } else if (o->verdict == SUITE_SKIP) {
    if (j->first_kind == SUITE_NOTSHOWN_NONE)
      j->first_kind = o->kind ? o->kind : SUITE_NOTSHOWN_UNPROBED;
    /* Variants of one case, folded in one after another, often share their
     * reason (no live form, a missing capability): said once, then "the
     * same". */
    const char *why = o->reason && *o->reason ? o->reason : "";
    bool said = *why && j->ns_last && strcmp(j->ns_last, why) == 0;
    j->ns_last = why;
    append(j->ns_why, sizeof j->ns_why, "%scase %s: %s", j->ns_why[0] ? "; " : "", name,
           said ? "the same" : why);
  }
}

/* A point of case `id` that ran, or NULL. */
static const suite_cert_case_t *ran_any(const suite_cert_case_t *ran, size_t nran, const char *id) {
  for (size_t i = 0; i < nran; i++)
    if (!strcmp(ran[i].id, id))
      return &ran[i];
  return NULL;
}

/* A case judges an id in each of its variants of the clock form the run
 * picked for it: shown only when all of those passed; a variant of the
 * other form that did not run does not count (case.h). A case none of
 * whose variants ran is "not selected" once, as a whole. */
static void judge_case(id_judgement_t *j, const suite_case_t *c, const suite_cert_case_t *ran,
                       size_t nran) {
  size_t nv = suite_case_nvariants(c);
  const suite_cert_case_t *any = ran_any(ran, nran, c->id);
  if (!any) {
    judge_point(j, c->id, NULL);
    return;
  }
  for (size_t k = 0; k < (nv ? nv : 1); k++) {
    const suite_variant_t *v = nv ? &c->variants[k] : NULL;
    const suite_cert_case_t *o = outcome(ran, nran, c->id, v ? v->name : NULL);
    if (!o && v && any->form && !(suite_case_clocks(c, v) & any->form))
      continue; /* not run on this clock form */
    char name[96];
    suite_case_name(c, v, name, sizeof name);
    judge_point(j, name, o);
  }
}

static void judge_id(suite_cert_id_t *e, const suite_case_t *table, const suite_cert_case_t *ran,
                     size_t nran) {
  id_judgement_t j = {0};
  for (const suite_case_t *c = table; c->id; c++) {
    if (!suite_cert_names(c->spec_ids, e->id))
      continue;
    append(e->cases, sizeof e->cases, "%s%s", e->cases[0] ? " " : "", c->id);
    judge_case(&j, c, ran, nran);
  }
  if (j.failed) {
    e->status = SUITE_CERT_FAILED;
    snprintf(e->reason, sizeof e->reason, "%s", j.fail_why);
  } else if (j.ns_why[0] || !e->cases[0]) {
    e->status = SUITE_CERT_NOT_SHOWN;
    snprintf(e->kind, sizeof e->kind, "%s",
             j.first_kind ? suite_notshown_kind_name(j.first_kind)
             : j.missing  ? "not selected"
                          : "no case");
    snprintf(e->reason, sizeof e->reason, "%s", e->cases[0] ? j.ns_why : "no case judges it");
  } else {
    e->status = SUITE_CERT_SHOWN;
  }
}

static void count(suite_cert_t *cert) {
  cert->shown = cert->failed = cert->not_shown = 0;
  for (size_t i = 0; i < cert->n; i++) {
    suite_cert_status_t s = cert->ids[i].status;
    cert->shown += s == SUITE_CERT_SHOWN;
    cert->failed += s == SUITE_CERT_FAILED;
    cert->not_shown += s == SUITE_CERT_NOT_SHOWN;
  }
}

int suite_cert_build(const char *const *scope, const suite_case_t *table,
                     const suite_cert_case_t *ran, size_t nran, const char *scope_kind,
                     const char *selection, suite_cert_t *out, mmc_error_t *err) {
  *out = (suite_cert_t){0};
  size_t n = 0;
  while (scope[n])
    n++;
  out->ids = calloc(n ? n : 1, sizeof *out->ids);
  if (!out->ids)
    return mmc_fail(err, MMC_ENOMEM, "certificate: out of memory");
  snprintf(out->scope, sizeof out->scope, "%s", scope_kind ? scope_kind : "all");
  snprintf(out->selection, sizeof out->selection, "%s", selection ? selection : "");
  for (size_t i = 0; i < n; i++) {
    suite_cert_id_t *e = &out->ids[out->n++];
    snprintf(e->id, sizeof e->id, "%s", scope[i]);
    judge_id(e, table, ran, nran);
  }
  count(out);
  return 0;
}

size_t suite_cert_cases_of_run(const suite_run_t *run, suite_cert_case_t *out) {
  size_t n = 0;
  for (size_t i = 0; i < run->nresults; i++) {
    const suite_result_t *r = &run->results[i];
    suite_cert_case_t o = {.id = r->c->id,
                           .variant = r->v ? r->v->name : NULL,
                           .spec_ids = r->c->spec_ids,
                           .verdict = r->verdict,
                           .kind = r->notshown_kind,
                           .reason = r->reason,
                           .form = r->form};
    for (size_t k = 0; k < r->nrecs && !o.check; k++)
      if (r->recs[k].kind == SUITE_REC_CHECK && !r->recs[k].ok) {
        o.check = r->recs[k].name;
        o.diag = r->recs[k].text;
      }
    out[n++] = o;
  }
  return n;
}

/* ------------------------------------------------------------ combining */

static suite_cert_id_t *find_id(suite_cert_t *c, const char *id) {
  for (size_t i = 0; i < c->n; i++)
    if (!strcmp(c->ids[i].id, id))
      return &c->ids[i];
  return NULL;
}

static int cmp_entries(const void *a, const void *b) {
  const char *x = ((const suite_cert_id_t *)a)->id, *y = ((const suite_cert_id_t *)b)->id;
  return cmp_ids(&x, &y);
}

/* Fold one run's entry `e` (from the run labelled `label`, NULL when it is
 * the only run) into `into`. */
static void fold(suite_cert_id_t *into, const suite_cert_id_t *e, const char *label) {
  if (!into->cases[0])
    snprintf(into->cases, sizeof into->cases, "%s", e->cases);
  if (e->status == SUITE_CERT_FAILED) {
    if (into->status != SUITE_CERT_FAILED)
      into->reason[0] = '\0', into->kind[0] = '\0';
    into->status = SUITE_CERT_FAILED;
    append(into->reason, sizeof into->reason, "%s%s%s%s", into->reason[0] ? "; " : "",
           label ? label : "", label ? ": " : "", e->reason);
  } else if (e->status == SUITE_CERT_SHOWN && into->status == SUITE_CERT_NOT_SHOWN) {
    into->status = SUITE_CERT_SHOWN;
    into->reason[0] = into->kind[0] = '\0';
  } else if (e->status == SUITE_CERT_NOT_SHOWN && into->status == SUITE_CERT_NOT_SHOWN) {
    if (!into->kind[0])
      snprintf(into->kind, sizeof into->kind, "%s", e->kind);
    append(into->reason, sizeof into->reason, "%s%s%s%s", into->reason[0] ? "; " : "",
           label ? label : "", label ? ": " : "", e->reason);
  }
}

int suite_cert_combine(const suite_cert_t *certs, const char *const *labels, size_t n,
                       suite_cert_t *out, mmc_error_t *err) {
  *out = (suite_cert_t){0};
  size_t cap = 0;
  for (size_t r = 0; r < n; r++)
    cap += certs[r].n;
  out->ids = calloc(cap ? cap : 1, sizeof *out->ids);
  if (!out->ids)
    return mmc_fail(err, MMC_ENOMEM, "certificate: out of memory");
  bool all = n > 0;
  for (size_t r = 0; r < n; r++)
    all &= !strcmp(certs[r].scope, "all");
  snprintf(out->scope, sizeof out->scope, "%s", all ? "all" : "combined");
  for (size_t r = 0; r < n; r++) {
    if (certs[r].selection[0])
      append(out->selection, sizeof out->selection, "%s%s: %s", out->selection[0] ? "; " : "",
             labels[r], certs[r].selection);
    for (size_t i = 0; i < certs[r].n; i++) {
      const suite_cert_id_t *e = &certs[r].ids[i];
      suite_cert_id_t *into = find_id(out, e->id);
      if (!into) {
        into = &out->ids[out->n++];
        *into = (suite_cert_id_t){.status = SUITE_CERT_NOT_SHOWN};
        snprintf(into->id, sizeof into->id, "%s", e->id);
      }
      fold(into, e, n > 1 ? labels[r] : NULL);
    }
  }
  qsort(out->ids, out->n, sizeof *out->ids, cmp_entries);
  count(out);
  return 0;
}

void suite_cert_free(suite_cert_t *cert) {
  free(cert->ids);
  *cert = (suite_cert_t){0};
}

/* ------------------------------------------------------------ JSON */

json_t *suite_cert_json(const suite_cert_t *cert) {
  json_t *ids = json_array();
  for (size_t i = 0; i < cert->n; i++) {
    const suite_cert_id_t *e = &cert->ids[i];
    json_array_append_new(ids, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", e->id, "status",
                                         suite_cert_status_name(e->status), "cases", e->cases,
                                         "kind", e->kind, "reason", e->reason));
  }
  return json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:o}", "verdict",
                   suite_cert_verdict_name(suite_cert_verdict(cert)), "scope", cert->scope,
                   "selection", cert->selection, "shown", cert->shown, "failed", cert->failed,
                   "not_shown", cert->not_shown, "ids", ids);
}

static const char *str(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "";
}

int suite_cert_from_json(const json_t *doc, suite_cert_t *out, mmc_error_t *err) {
  *out = (suite_cert_t){0};
  const json_t *c = json_object_get(doc, "certificate");
  if (!c)
    return mmc_fail(err, MMC_ENOENT,
                    "no certificate in this results file (a bench file, or "
                    "written before certificates)");
  const json_t *ids = json_object_get(c, "ids");
  if (!json_is_object(c) || !json_is_array(ids))
    return mmc_fail(err, MMC_EINVAL, "certificate: expected an object with an array 'ids'");
  size_t n = json_array_size(ids);
  out->ids = calloc(n ? n : 1, sizeof *out->ids);
  if (!out->ids)
    return mmc_fail(err, MMC_ENOMEM, "certificate: out of memory");
  snprintf(out->scope, sizeof out->scope, "%s", str(c, "scope"));
  snprintf(out->selection, sizeof out->selection, "%s", str(c, "selection"));
  for (size_t i = 0; i < n; i++) {
    const json_t *e = json_array_get(ids, i);
    const char *status = str(e, "status");
    suite_cert_id_t *d = &out->ids[out->n++];
    snprintf(d->id, sizeof d->id, "%s", str(e, "id"));
    snprintf(d->cases, sizeof d->cases, "%s", str(e, "cases"));
    snprintf(d->kind, sizeof d->kind, "%s", str(e, "kind"));
    snprintf(d->reason, sizeof d->reason, "%s", str(e, "reason"));
    if (!strcmp(status, "shown"))
      d->status = SUITE_CERT_SHOWN;
    else if (!strcmp(status, "failed"))
      d->status = SUITE_CERT_FAILED;
    else if (!strcmp(status, "not shown"))
      d->status = SUITE_CERT_NOT_SHOWN;
    else {
      suite_cert_free(out);
      return mmc_fail(err, MMC_EINVAL,
                      "certificate.ids[%zu].status: \"%s\" is not \"shown\", \"failed\" or "
                      "\"not shown\"",
                      i, status);
    }
  }
  count(out);
  return 0;
}

/* ------------------------------------------------------------ printing */

void suite_cert_print(FILE *f, const suite_cert_t *cert, const char *title) {
  fprintf(f, "# ---- certificate: %s ----\n", title);
  if (!strcmp(cert->scope, "all"))
    fprintf(f, "# scope: every SPEC id (%zu)\n", cert->n);
  else
    fprintf(f, "# scope: %zu SPEC id%s only (%s): this certifies no other id\n", cert->n,
            cert->n == 1 ? "" : "s",
            cert->selection[0] ? cert->selection : "the ids of the runs combined");
  for (size_t i = 0; i < cert->n; i++) {
    const suite_cert_id_t *e = &cert->ids[i];
    if (e->status == SUITE_CERT_SHOWN)
      fprintf(f, "# %-10s %-9s by %s\n", "shown", e->id, e->cases);
    else if (e->status == SUITE_CERT_FAILED)
      fprintf(f, "# %-10s %-9s %s\n", "FAILED", e->id, e->reason);
    else
      fprintf(f, "# %-10s %-9s [%s] %s\n", "not shown", e->id, e->kind, e->reason);
  }
  fprintf(f, "# verdict: %s (%u shown, %u failed, %u not shown)\n",
          suite_cert_verdict_name(suite_cert_verdict(cert)), cert->shown, cert->failed,
          cert->not_shown);
}
