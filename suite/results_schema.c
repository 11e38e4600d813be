/*
 * results_schema.c — results schema 2 as one table of rules, the mirror of
 * doc/results.schema.json (suite_rr_validate, suite_rr_scrub; see
 * results_read.h and doc/results-schema.md).
 *
 * Each rule says which JSON kinds a value may be and, by kind, what else
 * holds: strings their character class (names: no control character; free
 * text: tab and newline only; C1 controls U+0080..U+009F count as control
 * characters), a minimum length, a fixed set of values or a pattern;
 * integers a minimum or a constant; objects their fields (required or not);
 * arrays their items and minimum size. Properties the schema does not name
 * are allowed, as in the JSON Schema. Only the rules the JSON Schema states
 * are here, nothing stricter (tests/cli/schema.t compares the two on
 * mutated files): e.g. a series whose t and v differ in length is valid,
 * and readers use the shorter.
 *
 * The same walk scrubs what mmcert writes: a string breaking its class has
 * the offending characters replaced with '?', so the writer's output always
 * validates (an implementation's setting names or a topology path come from
 * outside).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "results.h"
#include "results_read.h"

enum { K_OBJ = 1, K_ARR = 2, K_STR = 4, K_INT = 8, K_NUM = 16, K_BOOL = 32, K_NULL = 64 };
enum str_class { S_ANY = 0, S_NAME, S_TEXT };

typedef struct vctx {
  mmc_error_t *err;
  int rc;
  bool scrub; /* fix strings instead of failing; ignore every other problem */
} vctx_t;

typedef struct rule rule_t;
typedef struct field {
  const char *key;
  bool required;
  const rule_t *rule;
} field_t;

struct rule {
  unsigned kinds;
  enum str_class cls;             /* strings */
  size_t min_len;                 /* strings */
  const char *const *one_of;      /* strings: the allowed values */
  bool (*pattern)(const char *s); /* strings */
  const char *pattern_says;       /* what the pattern allows, for messages */
  bool has_min;                   /* integers */
  long long min;
  bool has_const; /* integers */
  long long const_int;
  const field_t *fields; /* objects; {0} ends (name NULL) */
  const rule_t *items;   /* arrays */
  size_t min_items;
  /* objects: a rule over several fields (the metric's if/then) */
  void (*also)(vctx_t *v, json_t *o, const char *path);
};

/* ------------------------------------------------------------ messages */

__attribute__((format(printf, 3, 4))) static void bad(vctx_t *v, const char *path, const char *fmt,
                                                      ...) {
  if (v->rc || v->scrub)
    return;
  char what[MMC_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  v->rc = mmc_fail(v->err, MMC_EINVAL, "%s: %s", *path ? path : "(top)", what);
}

static const char *kind_name(const json_t *j) {
  switch (json_typeof(j)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: return "an integer";
  case JSON_REAL: return "a number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  default: return "null";
  }
}

/* "a string or null" from a kinds mask. */
static void kinds_text(unsigned kinds, char *buf, size_t cap) {
  static const struct {
    unsigned k;
    const char *name;
  } names[] = {{K_OBJ, "an object"},  {K_ARR, "an array"}, {K_STR, "a string"},
               {K_INT, "an integer"}, {K_NUM, "a number"}, {K_BOOL, "a boolean"},
               {K_NULL, "null"}};
  size_t o = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (kinds & names[i].k && o < cap)
      o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? " or " : "", names[i].name);
}

/* ------------------------------------------------------------ kinds */

/* JSON Schema counts 5.0 as an integer; JSON integers here are 64-bit. */
static bool integral_real(const json_t *x) {
  if (!json_is_real(x))
    return false;
  double d = json_real_value(x);
  /* The range first: converting a double outside long long is undefined
   * (fuzz_results found 1e300). */
  return d >= -9.2e18 && d <= 9.2e18 && d == (double)(long long)d;
}

static unsigned kind_of(const json_t *x) {
  switch (json_typeof(x)) {
  case JSON_OBJECT: return K_OBJ;
  case JSON_ARRAY: return K_ARR;
  case JSON_STRING: return K_STR;
  case JSON_INTEGER: return K_INT | K_NUM;
  case JSON_REAL: return K_NUM | (integral_real(x) ? K_INT : 0);
  case JSON_TRUE:
  case JSON_FALSE: return K_BOOL;
  default: return K_NULL;
  }
}

/* ------------------------------------------------------------ strings */

/* Length of the control character at s (0 when none): C0 and DEL are one
 * byte, C1 (U+0080..U+009F) the two bytes C2 80..C2 9F of its UTF-8. Tab
 * and newline count only for names. */
static size_t control_at(const unsigned char *s, enum str_class cls) {
  if (*s == '\t' || *s == '\n')
    return cls == S_NAME;
  if (*s < 0x20 || *s == 0x7f)
    return 1;
  return s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f ? 2 : 0;
}

static void check_chars(vctx_t *v, json_t *x, enum str_class cls, const char *path) {
  const unsigned char *s = (const unsigned char *)json_string_value(x);
  size_t len = json_string_length(x);
  for (size_t i = 0; i < len; i++) {
    size_t n = control_at(s + i, cls);
    if (!n)
      continue;
    if (!v->scrub) {
      unsigned cp = n == 2 ? s[i + 1] : s[i];
      bad(v, path, "control character U+%04X at byte %zu (%s)", cp, i,
          cls == S_NAME ? "names, ids and units allow none"
                        : "free text allows tab and newline only");
      return;
    }
    char *fixed = strndup((const char *)s, len);
    if (!fixed)
      return;
    for (size_t k = i; k < len; k++) {
      size_t m = control_at((unsigned char *)fixed + k, cls);
      memset(fixed + k, '?', m);
      k += m ? m - 1 : 0;
    }
    json_string_setn(x, fixed, len);
    free(fixed);
    return;
  }
}

/* A value from the file as a message may show it: at most 64 bytes, no
 * control character (a message goes to a terminal). */
static const char *shown(const char *s, char *buf, size_t cap) {
  size_t o = 0;
  while (*s && o + 1 < cap && o < 64) {
    size_t n = control_at((const unsigned char *)s, S_NAME);
    buf[o++] = n ? '?' : *s;
    s += n ? n : 1;
  }
  buf[o] = '\0';
  return buf;
}

static void check_string(vctx_t *v, json_t *x, const rule_t *r, const char *path) {
  if (r->cls)
    check_chars(v, x, r->cls, path);
  char sb[80];
  const char *s = shown(json_string_value(x), sb, sizeof sb);
  if (json_string_length(x) < r->min_len)
    bad(v, path, "empty, expected at least %zu character%s", r->min_len,
        r->min_len == 1 ? "" : "s");
  if (r->pattern && !r->pattern(json_string_value(x)))
    bad(v, path, "\"%s\" does not have the form %s", s, r->pattern_says);
  if (!r->one_of)
    return;
  for (int i = 0; r->one_of[i]; i++)
    if (!strcmp(json_string_value(x), r->one_of[i]))
      return;
  char list[256] = "";
  for (int i = 0; r->one_of[i]; i++)
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%s\"", i ? ", " : "",
             r->one_of[i]);
  bad(v, path, "\"%s\" is not one of %s", s, list);
}

/* ------------------------------------------------------------ the walk */

static void check_value(vctx_t *v, json_t *x, const rule_t *r, const char *path);

/* 5.0 where an integer is expected becomes 5, so readers need one accessor. */
static json_t *as_integer(json_t *x) {
  return json_integer((json_int_t)json_real_value(x));
}

static void check_fields(vctx_t *v, json_t *o, const rule_t *r, const char *path) {
  for (const field_t *f = r->fields; f->key && !v->rc; f++) {
    char p[256];
    snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", f->key);
    json_t *m = json_object_get(o, f->key);
    if (!m) {
      char kinds[96];
      kinds_text(f->rule->kinds, kinds, sizeof kinds);
      if (f->required)
        bad(v, p, "missing (required, %s)", kinds);
      continue;
    }
    if ((f->rule->kinds & K_INT) && integral_real(m)) {
      json_object_set_new(o, f->key, as_integer(m));
      m = json_object_get(o, f->key);
    }
    check_value(v, m, f->rule, p);
  }
  if (r->also && !v->rc)
    r->also(v, o, path);
}

static void check_items(vctx_t *v, json_t *a, const rule_t *r, const char *path) {
  if (json_array_size(a) < r->min_items)
    bad(v, path, "expected at least %zu value%s", r->min_items, r->min_items == 1 ? "" : "s");
  if (!r->items)
    return;
  for (size_t i = 0; i < json_array_size(a) && !v->rc; i++) {
    char p[256];
    snprintf(p, sizeof p, "%s[%zu]", path, i);
    json_t *x = json_array_get(a, i);
    if ((r->items->kinds & K_INT) && integral_real(x)) {
      json_array_set_new(a, i, as_integer(x));
      x = json_array_get(a, i);
    }
    check_value(v, x, r->items, p);
  }
}

static void check_value(vctx_t *v, json_t *x, const rule_t *r, const char *path) {
  if (v->rc)
    return;
  if (!(kind_of(x) & r->kinds)) {
    char kinds[96];
    kinds_text(r->kinds, kinds, sizeof kinds);
    bad(v, path, "expected %s, found %s", kinds, kind_name(x));
    return;
  }
  if (json_is_string(x))
    check_string(v, x, r, path);
  else if (json_is_integer(x) && r->has_const && json_integer_value(x) != r->const_int)
    bad(v, path, "%lld, expected %lld", (long long)json_integer_value(x), r->const_int);
  else if (json_is_integer(x) && r->has_min && json_integer_value(x) < r->min)
    bad(v, path, "%lld is below the minimum %lld", (long long)json_integer_value(x), r->min);
  else if (json_is_object(x) && r->fields)
    check_fields(v, x, r, path);
  else if (json_is_array(x))
    check_items(v, x, r, path);
}

/* ------------------------------------------------------------ patterns */

static bool digits(const char **s) {
  const char *p = *s;
  while (**s >= '0' && **s <= '9')
    (*s)++;
  return *s > p;
}

/* ^[0-9]+c-[0-9]+g-[0-9]+n-[a-z0-9-]+$ */
static bool class_form(const char *s) {
  static const char *const seps[] = {"c-", "g-", "n-"};
  for (int i = 0; i < 3; i++) {
    if (!digits(&s) || strncmp(s, seps[i], 2))
      return false;
    s += 2;
  }
  if (!*s)
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
      return false;
  return true;
}

/* ^xxh64:[0-9a-f]{16}$ */
static bool hash_form(const char *s) {
  if (strncmp(s, "xxh64:", 6))
    return false;
  s += 6;
  for (int i = 0; i < 16; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  return s[16] == '\0';
}

/* ------------------------------------------------------------ the rules */

#define STR(c)                                                                                     \
  { .kinds = K_STR, .cls = (c) }
static const rule_t r_name = STR(S_NAME), r_text = STR(S_TEXT);
static const rule_t r_name_or_null = {.kinds = K_STR | K_NULL, .cls = S_NAME};
static const rule_t r_text_or_null = {.kinds = K_STR | K_NULL, .cls = S_TEXT};
static const rule_t r_int = {.kinds = K_INT}, r_num = {.kinds = K_NUM}, r_bool = {.kinds = K_BOOL};
static const rule_t r_num_or_null = {.kinds = K_NUM | K_NULL};
static const rule_t r_int_min0 = {.kinds = K_INT, .has_min = true, .min = 0};
static const rule_t r_int_min1 = {.kinds = K_INT, .has_min = true, .min = 1};
static const rule_t r_any_array = {.kinds = K_ARR};
static const rule_t r_numbers = {.kinds = K_ARR, .items = &r_num};
static const rule_t r_texts = {.kinds = K_ARR, .items = &r_text};
static const rule_t r_int_row = {.kinds = K_ARR, .items = &r_int};
static const rule_t r_int_matrix = {.kinds = K_ARR, .items = &r_int_row};

static const char *const verdicts[] = {"pass", "fail", "skip", "broken", NULL};
static const char *const check_verdicts[] = {"pass", "fail", NULL};
static const char *const betters[] = {"lower", "higher", "", NULL};
static const char *const modes[] = {"quick", "full", "bench", NULL};
static const char *const not_shown_kinds[] = {"",        "capability",     "clock",    "topology",
                                              "machine", "not applicable", "unprobed", NULL};
static const char *const clocks[] = {"", "stepped", "live", NULL};
static const char *const cert_verdicts[] = {"CERTIFIED", "NOT CERTIFIED", "INCOMPLETE", NULL};
static const char *const cert_scopes[] = {"all", "spec", "case", "combined", NULL};
static const char *const cert_statuses[] = {"shown", "failed", "not shown", NULL};
static const rule_t r_verdict = {.kinds = K_STR, .cls = S_NAME, .one_of = verdicts};

static const rule_t r_machine = {
    .kinds = K_OBJ,
    .fields = (const field_t[]){
        {"hostname", true, &r_name},
        {"cpu_model", true, &r_name_or_null},
        {"cpus", true, &r_int_min1},
        {"numa_nodes", true, &r_int_min0},
        {"memory_bytes", true, &r_int_min0},
        {"class", true,
         &(const rule_t){.kinds = K_STR,
                         .cls = S_NAME,
                         .pattern = class_form,
                         .pattern_says = "<cpus>c-<GiB>g-<nodes>n-<cpu model>, e.g. "
                                         "2c-24g-1n-amd-epyc"}},
        {0}}};

static const rule_t r_kernel = {.kinds = K_OBJ | K_NULL,
                                .fields = (const field_t[]){{"sysname", false, &r_name},
                                                            {"release", false, &r_name},
                                                            {"version", false, &r_name},
                                                            {"machine", false, &r_name},
                                                            {0}}};

static const rule_t r_topology = {
    .kinds = K_OBJ,
    .fields =
        (const field_t[]){{"summary", true, &r_name},
                          {"hash", true,
                           &(const rule_t){.kinds = K_STR,
                                           .cls = S_NAME,
                                           .pattern = hash_form,
                                           .pattern_says = "xxh64:<16 lower-case hex digits>"}},
                          {"source", false, &r_text},
                          {"spec", false, &r_text_or_null},
                          {"is_this_machine", false, &r_bool},
                          {"nnodes", true, &r_int_min1},
                          {"nodes", false, &r_any_array},
                          {"distances", false, &r_int_matrix},
                          {"distances_from_firmware", false, &r_bool},
                          {"host_memory_cap_bytes", false, &r_int},
                          {0}}};

static const rule_t r_impl = {.kinds = K_OBJ,
                              .fields = (const field_t[]){{"name", true, &r_name},
                                                          {"version", true, &r_name},
                                                          {"abi_version", true, &r_int},
                                                          {"path", false, &r_text},
                                                          {"capabilities", false, &r_any_array},
                                                          {0}}};

static const rule_t r_setting = {.kinds = K_OBJ,
                                 .fields = (const field_t[]){{"name", true, &r_name},
                                                             {"value", true, &r_int},
                                                             {"default", false, &r_int},
                                                             {"min", false, &r_int},
                                                             {"max", false, &r_int},
                                                             {"unit", false, &r_name},
                                                             {"meaning", false, &r_text},
                                                             {"set", false, &r_bool},
                                                             {0}}};

static const rule_t r_totals = {.kinds = K_OBJ,
                                .fields = (const field_t[]){{"pass", false, &r_int},
                                                            {"fail", false, &r_int},
                                                            {"skip", false, &r_int},
                                                            {"broken", false, &r_int},
                                                            {0}}};

static const rule_t r_run = {.kinds = K_OBJ,
                             .fields = (const field_t[]){{"rep", true, &r_int_min0},
                                                         {"verdict", true, &r_verdict},
                                                         {"reason", false, &r_text},
                                                         {"duration_s", false, &r_num},
                                                         {"timed_out", false, &r_bool},
                                                         {0}}};

static const rule_t r_check = {
    .kinds = K_OBJ,
    .fields = (const field_t[]){
        {"id", true, &r_name},
        {"name", true, &r_name},
        {"spec_ids", true, &r_name},
        {"verdict", true, &(const rule_t){.kinds = K_STR, .cls = S_NAME, .one_of = check_verdicts}},
        {"ok", true, &r_bool},
        {"diag", true, &r_text},
        {"failed", false, &r_int_min0},
        {"seen", false, &r_int_min0},
        {0}}};

/* "if": {"not": {"required": ["unsupported"]}}, "then": samples minItems 1. */
static void metric_samples(vctx_t *v, json_t *m, const char *path) {
  json_t *s = json_object_get(m, "samples");
  if (!json_object_get(m, "unsupported") && json_is_array(s) && json_array_size(s) == 0) {
    char p[256];
    snprintf(p, sizeof p, "%s.samples", path);
    bad(v, p,
        "expected at least one value (a metric without samples says why in "
        "\"unsupported\")");
  }
}

static const rule_t r_metric = {
    .kinds = K_OBJ,
    .fields = (const field_t[]){{"name", true, &r_name},
                                {"unit", true, &r_name},
                                {"better", true,
                                 &(const rule_t){.kinds = K_STR, .cls = S_NAME, .one_of = betters}},
                                {"samples", true, &r_numbers},
                                {"value", false, &r_num_or_null},
                                {"unsupported", false, &r_text},
                                {0}},
    .also = metric_samples};

static const rule_t r_series = {.kinds = K_OBJ,
                                .fields = (const field_t[]){{"name", true, &r_name},
                                                            {"unit", true, &r_name},
                                                            {"rep", true, &r_int_min0},
                                                            {"t", true, &r_numbers},
                                                            {"v", true, &r_numbers},
                                                            {0}}};

static const rule_t r_case = {
    .kinds = K_OBJ,
    .fields = (const field_t[]){
        {"id", true, &r_name},
        {"case", false, &r_name},
        {"variant", false, &r_name},
        {"spec_ids", true, &r_name},
        {"title", true, &r_text},
        {"verdict", true, &r_verdict},
        {"reason", false, &r_text},
        {"not_shown_kind", false,
         &(const rule_t){.kinds = K_STR, .cls = S_NAME, .one_of = not_shown_kinds}},
        {"clock", false, &(const rule_t){.kinds = K_STR, .cls = S_NAME, .one_of = clocks}},
        {"timed_out", false, &r_bool},
        {"duration_s", false, &r_num},
        {"repetitions", true, &r_int_min1},
        {"runs", false, &(const rule_t){.kinds = K_ARR, .items = &r_run}},
        {"checks", true, &(const rule_t){.kinds = K_ARR, .items = &r_check}},
        {"metrics", true, &(const rule_t){.kinds = K_ARR, .items = &r_metric}},
        {"series", true, &(const rule_t){.kinds = K_ARR, .items = &r_series}},
        {"diags", false, &r_texts},
        {0}}};

/* The verdict per SPEC id (suite/certificate.h). */
static const rule_t r_cert_id = {
    .kinds = K_OBJ,
    .fields = (const field_t[]){
        {"id", true, &r_name},
        {"status", true, &(const rule_t){.kinds = K_STR, .cls = S_NAME, .one_of = cert_statuses}},
        {"cases", true, &r_name},
        {"kind", true, &r_name},
        {"reason", true, &r_text},
        {0}}};

static const rule_t r_certificate = {
    .kinds = K_OBJ,
    .fields = (const field_t[]){
        {"verdict", true, &(const rule_t){.kinds = K_STR, .cls = S_NAME, .one_of = cert_verdicts}},
        {"scope", true, &(const rule_t){.kinds = K_STR, .cls = S_NAME, .one_of = cert_scopes}},
        {"selection", true, &r_text},
        {"shown", true, &r_int_min0},
        {"failed", true, &r_int_min0},
        {"not_shown", true, &r_int_min0},
        {"ids", true, &(const rule_t){.kinds = K_ARR, .items = &r_cert_id}},
        {0}}};

/* Everything but "schema" and "schema_version", checked first on their own
 * (their messages say which version this mmcert reads). */
static const rule_t r_document = {
    .kinds = K_OBJ,
    .fields = (const field_t[]){
        {"run_id", true, &(const rule_t){.kinds = K_STR, .cls = S_NAME, .min_len = 1}},
        {"mmcert_version", true, &r_name},
        {"machine", true, &r_machine},
        {"kernel", true, &r_kernel},
        {"topology", true, &r_topology},
        {"implementation", true, &r_impl},
        {"mode", true, &(const rule_t){.kinds = K_STR, .cls = S_NAME, .one_of = modes}},
        {"profile", true, &r_name},
        {"seed", true, &r_int_min0},
        {"timeout_scale", false, &r_num},
        {"repeat", true, &r_int_min1},
        {"settings", true, &(const rule_t){.kinds = K_ARR, .items = &r_setting}},
        {"settings_from_command_line", false, &r_any_array},
        {"settings_note", false, &r_text},
        {"start_time", true, &r_name},
        {"end_time", true, &r_name},
        {"duration_s", false, &r_num},
        {"totals", true, &r_totals},
        {"cases", true, &(const rule_t){.kinds = K_ARR, .items = &r_case}},
        {"certificate", false, &r_certificate},
        {0}}};

/* ------------------------------------------------------------ API */

static int check_header(json_t *doc, mmc_error_t *err) {
  json_t *s = json_object_get(doc, "schema");
  if (!s)
    return mmc_fail(err, MMC_EINVAL, "schema: missing (required, \"mmcert-results\")");
  if (!json_is_string(s))
    return mmc_fail(err, MMC_EINVAL, "schema: expected the string \"mmcert-results\", found %s",
                    kind_name(s));
  char sb[80];
  if (strcmp(json_string_value(s), "mmcert-results"))
    return mmc_fail(err, MMC_EINVAL, "schema is \"%s\", expected \"mmcert-results\"",
                    shown(json_string_value(s), sb, sizeof sb));
  json_t *ver = json_object_get(doc, "schema_version");
  if (ver && integral_real(ver)) {
    json_object_set_new(doc, "schema_version", as_integer(ver));
    ver = json_object_get(doc, "schema_version");
  }
  if (!ver)
    return mmc_fail(err, MMC_EINVAL, "schema_version: missing (required, an integer)");
  if (!json_is_integer(ver))
    return mmc_fail(err, MMC_EINVAL, "schema_version: expected an integer, found %s",
                    kind_name(ver));
  if (json_integer_value(ver) != SUITE_RESULTS_SCHEMA)
    return mmc_fail(err, MMC_EINVAL,
                    "schema_version %lld, this mmcert reads version %d only (run the suite again "
                    "with this mmcert to get a version-%d file)",
                    (long long)json_integer_value(ver), SUITE_RESULTS_SCHEMA, SUITE_RESULTS_SCHEMA);
  return 0;
}

int suite_rr_validate(json_t *doc, mmc_error_t *err) {
  if (!json_is_object(doc))
    return mmc_fail(err, MMC_EINVAL, "expected a JSON object at the top, found %s", kind_name(doc));
  int rc = check_header(doc, err);
  if (rc)
    return rc;
  vctx_t v = {.err = err};
  check_value(&v, doc, &r_document, "");
  return v.rc;
}

void suite_rr_scrub(json_t *doc) {
  vctx_t v = {.scrub = true};
  if (json_is_object(doc))
    check_value(&v, doc, &r_document, "");
}
