/*
 * test_spec.c — the specification compiled from doc/spec.md (suite/spec.h)
 * agrees with the case table (suite/cases.c): every SPEC id a case names is
 * in the spec, every spec id has a case, each entry's Cases line lists
 * exactly the cases that name it, and each of its Checks lines belongs to one
 * of those cases. Also the look-ups and the settings table's shape.
 *
 * A failure names the id or case and says which file to change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "case.h"
#include "spec.h"

/* Whether the list `list` (separated by any of `seps`) holds `word`. */
static bool list_has(const char *list, const char *seps, const char *word) {
  size_t n = strlen(word);
  for (const char *p = list; *p;) {
    p += strspn(p, seps);
    size_t len = strcspn(p, seps);
    if (len == n && !strncmp(p, word, n))
      return true;
    p += len;
  }
  return false;
}

static size_t list_len(const char *list, const char *seps) {
  size_t n = 0;
  for (const char *p = list; *p;) {
    p += strspn(p, seps);
    size_t len = strcspn(p, seps);
    n += len > 0;
    p += len;
  }
  return n;
}

static void every_case_id_is_specified(void **state) {
  (void)state;
  for (const suite_case_t *c = suite_cases; c->id; c++) {
    assert_non_null(c->spec_ids);
    if (!list_len(c->spec_ids, " "))
      fail_msg("case %s names no SPEC id (suite/cases.c)", c->id);
    for (const char *p = c->spec_ids; *p;) {
      p += strspn(p, " ");
      size_t len = strcspn(p, " ");
      char id[64];
      snprintf(id, sizeof id, "%.*s", (int)len, p);
      if (len && !suite_spec_find(id))
        fail_msg("case %s names %s, which doc/spec.md does not specify", c->id, id);
      p += len;
    }
  }
}

static void every_spec_id_has_a_case(void **state) {
  (void)state;
  for (const suite_spec_t *s = suite_spec; s->id; s++) {
    bool judged = false;
    for (const suite_case_t *c = suite_cases; c->id && !judged; c++)
      judged = list_has(c->spec_ids, " ", s->id);
    if (!judged)
      fail_msg("%s is specified in doc/spec.md but no case of suite/cases.c names it", s->id);
  }
}

/* doc/spec.md's "Cases." line is the case table's word, written out. */
static void cases_line_matches_the_case_table(void **state) {
  (void)state;
  for (const suite_spec_t *s = suite_spec; s->id; s++) {
    size_t naming = 0;
    for (const suite_case_t *c = suite_cases; c->id; c++) {
      bool names = list_has(c->spec_ids, " ", s->id);
      naming += names;
      if (names && !list_has(s->cases, ", ", c->id))
        fail_msg("%s: case %s names it, but doc/spec.md's Cases line is '%s'", s->id, c->id,
                 s->cases);
    }
    if (naming != list_len(s->cases, ", "))
      fail_msg("%s: doc/spec.md's Cases line '%s' lists a case that does not name it", s->id,
               s->cases);
  }
}

/* Each Checks line is "CASE[, CASE]: check name", every CASE among the
 * entry's cases. */
static void checks_belong_to_the_entry_s_cases(void **state) {
  (void)state;
  for (const suite_spec_t *s = suite_spec; s->id; s++) {
    if (!*s->checks)
      fail_msg("%s: no check listed in doc/spec.md", s->id);
    for (const char *p = s->checks; *p;) {
      size_t len = strcspn(p, "\n");
      char line[512], who[256];
      snprintf(line, sizeof line, "%.*s", (int)len, p);
      const char *colon = strstr(line, ": ");
      if (!colon)
        fail_msg("%s: check line '%s' does not start with 'CASE: '", s->id, line);
      snprintf(who, sizeof who, "%.*s", (int)(colon - line), line);
      for (const char *q = who; *q;) {
        q += strspn(q, ", ");
        size_t n = strcspn(q, ", ");
        char cid[64];
        snprintf(cid, sizeof cid, "%.*s", (int)n, q);
        if (n && !list_has(s->cases, ", ", cid))
          fail_msg("%s: check '%s' is given to case %s, which does not judge it", s->id, line, cid);
        q += n;
      }
      if (!colon[2])
        fail_msg("%s: check line '%s' has no check name", s->id, line);
      p += len + (p[len] == '\n');
    }
  }
}

static void entries_are_complete_and_unique(void **state) {
  (void)state;
  size_t n = 0;
  for (const suite_spec_t *s = suite_spec; s->id; s++, n++) {
    assert_true(*s->area && *s->statement && *s->source && *s->settings && *s->title);
    assert_ptr_equal(suite_spec_find(s->id), s); /* the first with that id: unique */
  }
  assert_int_equal(n, suite_spec_count());
  /* one id of every area, so a lost section of doc/spec.md shows here */
  static const char *const some[] = {"SET-1",  "SET-2",   "NUMA-12", "MIG-5",   "TPS-8",
                                     "SALT-2", "ALLOC-6", "WSS-4",   "STATE-1", "BAL-3",
                                     "SWAP-3", "ZIP-1",   "INT-1",   "SEC-2"};
  for (size_t i = 0; i < sizeof some / sizeof some[0]; i++)
    if (!suite_spec_find(some[i]))
      fail_msg("%s is missing from doc/spec.md", some[i]);
}

static void find_is_exact(void **state) {
  (void)state;
  const suite_spec_t *s = suite_spec_find("TPS-3");
  assert_non_null(s);
  assert_string_equal(s->id, "TPS-3");
  assert_string_equal(s->area, "Transparent page sharing");
  assert_null(suite_spec_find("tps-3"));
  assert_null(suite_spec_find("TPS-3 "));
  assert_null(suite_spec_find("TPS-99"));
  assert_null(suite_spec_find(""));
  assert_null(suite_spec_find(NULL));
}

static void settings_table_is_sane(void **state) {
  (void)state;
  size_t n = 0;
  for (const suite_spec_setting_t *t = suite_spec_settings; t->name; t++, n++) {
    if (!(t->min <= t->def && t->def <= t->max && t->min <= t->def_osdi02 &&
          t->def_osdi02 <= t->max))
      fail_msg("%s: defaults %lld/%lld outside %lld..%lld (doc/spec.md)", t->name,
               (long long)t->def, (long long)t->def_osdi02, (long long)t->min, (long long)t->max);
    assert_ptr_equal(suite_spec_setting_find(t->name), t);
    assert_true(*t->meaning && *t->source);
  }
  assert_int_equal(n, 25);
  const suite_spec_setting_t *sp = suite_spec_setting_find("Mem.SamplePeriod");
  assert_non_null(sp);
  assert_int_equal(sp->def, 60);
  assert_int_equal(sp->def_osdi02, 30);
  assert_int_equal(sp->max, INT64_MAX);
  assert_null(suite_spec_setting_find("Mem.NoSuchSetting"));
  assert_null(suite_spec_setting_find(NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_case_id_is_specified),
      cmocka_unit_test(every_spec_id_has_a_case),
      cmocka_unit_test(cases_line_matches_the_case_table),
      cmocka_unit_test(checks_belong_to_the_entry_s_cases),
      cmocka_unit_test(entries_are_complete_and_unique),
      cmocka_unit_test(find_is_exact),
      cmocka_unit_test(settings_table_is_sane),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
