/*
 * test_variants.c — cases that declare variants (case.h, "Variants"): the
 * suite's table declares them well (names [a-z0-9-], unique in their case,
 * a list never empty, a clock form left in each); the runner runs each
 * variant as a test point named CASE/VARIANT with sc_variant() set,
 * `--case CASE/VARIANT` selects one and `--case CASE` all; the certificate
 * shows an id only when every variant passed and names the variant that
 * failed or was not selected. Variants and clock forms: the runner picks
 * the case's form and runs only its variants of that form — stepped on the
 * reference, live with --clock live or on a live-only implementation — and
 * the certificate shows the id from those alone. Against the reference
 * linked in (libmmref.a).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "certificate.h"
#include "runner.h"

#include "suite_run_util.h" /* the reference (libmmref.a) run in memory */

static void table_declares_variants_well(void **state) {
  (void)state;
  size_t with = 0;
  for (const suite_case_t *c = suite_cases; c->id; c++) {
    size_t n = suite_case_nvariants(c);
    if (c->variants)
      assert_true(n > 0); /* an empty list would run nothing */
    with += n > 0;
    assert_int_not_equal(suite_case_clocks(c, NULL), 0);
    for (size_t k = 0; k < n; k++) {
      const suite_variant_t *v = &c->variants[k];
      assert_true(v->name[0]);
      assert_int_equal(strspn(v->name, "abcdefghijklmnopqrstuvwxyz0123456789-"), strlen(v->name));
      assert_ptr_equal(suite_case_variant(c, v->name), v); /* the first of its name */
      assert_non_null(v->title);
      assert_int_not_equal(suite_case_clocks(c, v), 0);
    }
  }
  assert_true(with >= 2); /* NUMA-2 and NUMA-3 at least */
}

/* Passes in variant "a", fails in "b": the body reads its variant. */
static void t_by_variant(suite_ctx_t *c) {
  const suite_variant_t *v = sc_variant(c);
  sc_check(c, v && strcmp(v->param, "bad") != 0, "the parameter is good", "param '%s'",
           v ? v->param : "(no variant)");
}
static void t_plain(suite_ctx_t *c) {
  sc_check(c, sc_variant(c) == NULL, "a case without variants sees none", NULL);
}

static const suite_case_t cases[] = {
    {.id = "T-VAR",
     .spec_ids = "X-1",
     .title = "has variants",
     .timeout_s = 10,
     .run = t_by_variant,
     .variants = (const suite_variant_t[]){{.name = "a", .param = "good", .title = "the good one"},
                                           {.name = "b", .param = "bad", .title = "the bad one"},
                                           {.name = "c",
                                            .param = "good",
                                            .title = "stepped only",
                                            .clocks = SUITE_CLOCKS_STEPPED},
                                           {0}}},
    {.id = "T-PLAIN", .spec_ids = "X-2", .title = "has none", .timeout_s = 10, .run = t_plain},
    {0},
};

/* Passes in the form its variant's param names: the runner chose it. */
static void t_form(suite_ctx_t *c) {
  const suite_variant_t *v = sc_variant(c);
  const char *form = sc_clock(c) == MMC_CLOCK_LIVE ? "live" : "stepped";
  sc_check(c, v && !strcmp(v->param, form), "runs in its own clock form",
           "variant param '%s', clock %s", v ? v->param : "(no variant)", form);
}

/* Like the sharing cases: emulated topologies on the stepped clock, the
 * run's machine on the live one. */
static const suite_case_t form_cases[] = {
    {.id = "T-FORM",
     .spec_ids = "X-3",
     .title = "stepped-only and live-only variants",
     .timeout_s = 10,
     .run = t_form,
     .variants =
         (const suite_variant_t[]){
             {.name = "s1",
              .param = "stepped",
              .title = "stepped one",
              .clocks = SUITE_CLOCKS_STEPPED},
             {.name = "s2",
              .param = "stepped",
              .title = "stepped two",
              .clocks = SUITE_CLOCKS_STEPPED},
             {.name = "l1", .param = "live", .title = "live one", .clocks = SUITE_CLOCKS_LIVE},
             {0}}},
    {0},
};

/* How run_table runs: the table, --case globs, a forced clock, or the
 * reference offered as a live-only implementation. */
typedef struct how {
  const suite_case_t *table;
  const char **globs;
  size_t nglobs;
  bool force, live_only;
  mmc_clock_mode_t clock;
} how_t;

static void run_table(test_run_t *r, const how_t *how) {
  static mmc_impl_t live_only; /* the reference without MMC_CAP_CLOCK_STEPPED */
  test_run_init(r, how->table ? how->table : cases);
  if (how->live_only) {
    live_only = mmcert_impl;
    live_only.capabilities &= ~MMC_CAP_CLOCK_STEPPED;
    r->si.impl = &live_only;
  }
  r->run.seed = 5;
  r->run.globs = how->globs;
  r->run.nglobs = how->nglobs;
  r->run.clock_forced = how->force;
  r->run.clock_force = how->clock;
  test_run_go(r);
}

static void run_globs(test_run_t *r, const char **globs, size_t nglobs) {
  run_table(r, &(how_t){.globs = globs, .nglobs = nglobs});
}

static const suite_cert_id_t *cert_id(const suite_cert_t *c, const char *id) {
  for (size_t i = 0; i < c->n; i++)
    if (!strcmp(c->ids[i].id, id))
      return &c->ids[i];
  fail_msg("id %s missing", id);
  return NULL;
}

static void each_variant_is_a_test_point(void **state) {
  (void)state;
  test_run_t r;
  run_globs(&r, NULL, 0);
  assert_int_equal(r.rc, SUITE_EXIT_FAIL);
  assert_int_equal(r.run.nresults, 4);
  assert_string_equal(r.run.results[0].name, "T-VAR/a");
  assert_string_equal(r.run.results[1].name, "T-VAR/b");
  assert_string_equal(r.run.results[3].name, "T-PLAIN");
  assert_int_equal(r.run.results[0].verdict, SUITE_PASS);
  assert_int_equal(r.run.results[1].verdict, SUITE_FAIL);
  assert_int_equal(r.run.results[2].verdict, SUITE_PASS);
  assert_int_equal(r.run.results[3].verdict, SUITE_PASS);
  assert_non_null(strstr(r.out, "not ok 2 - T-VAR/b has variants (the bad one)"));
  assert_non_null(strstr(r.out, "# Subtest: T-VAR/a"));
  /* The failed id names the variant and its check. */
  const suite_cert_id_t *x1 = cert_id(r.run.cert, "X-1");
  assert_int_equal(x1->status, SUITE_CERT_FAILED);
  assert_non_null(strstr(x1->reason, "case T-VAR/b: check 'the parameter is good' failed"));
  assert_null(strstr(x1->reason, "T-VAR/a"));
  assert_int_equal(cert_id(r.run.cert, "X-2")->status, SUITE_CERT_SHOWN);
  test_run_free(&r);
}

static void case_slash_variant_selects_one(void **state) {
  (void)state;
  test_run_t r;
  const char *one[] = {"T-VAR/a"};
  run_globs(&r, one, 1);
  assert_int_equal(r.run.nresults, 1);
  assert_string_equal(r.run.results[0].name, "T-VAR/a");
  /* Passed, but X-1 is shown only when every variant passed. */
  const suite_cert_id_t *x1 = cert_id(r.run.cert, "X-1");
  assert_int_equal(x1->status, SUITE_CERT_NOT_SHOWN);
  assert_string_equal(x1->kind, "not selected");
  assert_non_null(strstr(x1->reason, "case T-VAR/b not selected"));
  assert_int_equal(r.rc, SUITE_EXIT_INCOMPLETE);
  test_run_free(&r);

  const char *all[] = {"T-VAR"};
  run_globs(&r, all, 1);
  assert_int_equal(r.run.nresults, 3);
  test_run_free(&r);

  const char *glob[] = {"T-*/[ac]"};
  run_globs(&r, glob, 1);
  assert_int_equal(r.run.nresults, 2);
  assert_int_equal(r.rc, SUITE_EXIT_INCOMPLETE);
  test_run_free(&r);

  const char *none[] = {"T-VAR/z"}, *plain[] = {"T-PLAIN/a"};
  run_globs(&r, none, 1);
  assert_int_equal(r.rc, SUITE_EXIT_USAGE);
  assert_non_null(strstr(r.errs, "--case 'T-VAR/z' matches no case"));
  test_run_free(&r);
  run_globs(&r, plain, 1);
  assert_int_equal(r.rc, SUITE_EXIT_USAGE);
  test_run_free(&r);
}

/* A variant's own clock forms narrow its case's: --clock live skips it. */
static void variant_clock_forms(void **state) {
  (void)state;
  const suite_case_t *c = &cases[0];
  assert_int_equal(suite_case_clocks(c, NULL), SUITE_CLOCKS_STEPPED | SUITE_CLOCKS_LIVE);
  assert_int_equal(suite_case_clocks(c, suite_case_variant(c, "c")), SUITE_CLOCKS_STEPPED);
  assert_null(suite_case_variant(c, "z"));
  char name[96];
  suite_case_name(c, suite_case_variant(c, "c"), name, sizeof name);
  assert_string_equal(name, "T-VAR/c");
  suite_impl_t si = {.impl = &mmcert_impl, .path = "/fake/libmmref.so"};
  mmt_topology_t *topo = NULL;
  mmc_error_t err;
  assert_int_equal(mmt_load("builtin:2", &topo, &err), 0);
  suite_run_t run = {.si = &si, .topo = topo, .clock_forced = true, .clock_force = MMC_CLOCK_LIVE};
  char reason[256];
  mmc_clock_mode_t clk;
  assert_int_equal(
      suite_needs_unmet(&run, c, suite_case_variant(c, "c"), &clk, reason, sizeof reason),
      SUITE_NOTSHOWN_CLOCK);
  assert_non_null(strstr(reason, "variant T-VAR/c belongs to the stepped form and case T-VAR runs "
                                 "its live form here (--clock live): not run on this clock form"));
  assert_int_equal(
      suite_needs_unmet(&run, c, suite_case_variant(c, "a"), &clk, reason, sizeof reason),
      SUITE_NOTSHOWN_NONE);
  mmt_free(topo);
}

/* The runner picks T-FORM's form, runs only its variants of that form,
 * and the certificate shows X-3 from them. */
static void only_the_chosen_forms_variants_run(void **state) {
  (void)state;
  static const struct {
    how_t how;
    const char *names[3];
    const char *form, *not_run;
  } runs[] = {
      {{.table = form_cases}, {"T-FORM/s1", "T-FORM/s2"}, "stepped", " l1"},
      {{.table = form_cases, .force = true, .clock = MMC_CLOCK_LIVE},
       {"T-FORM/l1"},
       "live",
       "s s1, s2"},
      {{.table = form_cases, .live_only = true}, {"T-FORM/l1"}, "live", "s s1, s2"},
      {{.table = form_cases, .force = true, .clock = MMC_CLOCK_STEPPED},
       {"T-FORM/s1", "T-FORM/s2"},
       "stepped",
       " l1"},
  };
  for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
    test_run_t r;
    run_table(&r, &runs[i].how);
    size_t want = runs[i].names[1] ? 2 : 1;
    assert_int_equal(r.run.nresults, want);
    for (size_t k = 0; k < want; k++) {
      assert_string_equal(r.run.results[k].name, runs[i].names[k]);
      assert_int_equal(r.run.results[k].verdict, SUITE_PASS);
    }
    char note[160];
    snprintf(note, sizeof note,
             "# T-FORM runs its %s form here; variant%s not run on this clock form", runs[i].form,
             runs[i].not_run);
    assert_non_null(strstr(r.out, note));
    const suite_cert_id_t *x3 = cert_id(r.run.cert, "X-3");
    assert_int_equal(x3->status, SUITE_CERT_SHOWN);
    assert_int_equal(r.rc, SUITE_EXIT_OK);
    test_run_free(&r);
  }
}

/* A variant of the other form named alone by --case is not shown [clock],
 * never run in a form the case did not pick; X-3 is then not shown. */
static void other_forms_variant_named_alone(void **state) {
  (void)state;
  const char *l1[] = {"T-FORM/l1"}, *s2[] = {"T-FORM/s2"};
  test_run_t r;
  run_table(&r, &(how_t){.table = form_cases, .globs = l1, .nglobs = 1});
  assert_int_equal(r.run.nresults, 1);
  assert_int_equal(r.run.results[0].verdict, SUITE_SKIP);
  assert_int_equal(r.run.results[0].notshown_kind, SUITE_NOTSHOWN_CLOCK);
  assert_non_null(strstr(r.run.results[0].reason,
                         "variant T-FORM/l1 belongs to the live form and case T-FORM runs its "
                         "stepped form here"));
  const suite_cert_id_t *x3 = cert_id(r.run.cert, "X-3");
  assert_int_equal(x3->status, SUITE_CERT_NOT_SHOWN);
  assert_string_equal(x3->kind, "clock");
  assert_int_equal(r.rc, SUITE_EXIT_INCOMPLETE);
  test_run_free(&r);
  /* One of the two stepped ones: the other is not selected, l1 does not count. */
  run_table(&r, &(how_t){.table = form_cases, .globs = s2, .nglobs = 1});
  assert_int_equal(r.run.nresults, 1);
  assert_int_equal(r.run.results[0].verdict, SUITE_PASS);
  x3 = cert_id(r.run.cert, "X-3");
  assert_int_equal(x3->status, SUITE_CERT_NOT_SHOWN);
  assert_non_null(strstr(x3->reason, "case T-FORM/s1 not selected"));
  assert_null(strstr(x3->reason, "T-FORM/l1"));
  test_run_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(table_declares_variants_well),
      cmocka_unit_test(each_variant_is_a_test_point),
      cmocka_unit_test(case_slash_variant_selects_one),
      cmocka_unit_test(variant_clock_forms),
      cmocka_unit_test(only_the_chosen_forms_variants_run),
      cmocka_unit_test(other_forms_variant_named_alone),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
