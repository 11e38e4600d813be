/*
 * set.c — case SET-1 (doc/spec.md "Advanced settings"): every documented
 * setting exists with its documented default and range; a value outside the
 * range is rejected with MMC_ERANGE and a message naming the setting and the
 * range, and the old value stays; an unknown name is MMC_ENOENT.
 *
 * The expected values are the specification's own table (spec.h,
 * suite_spec_settings, compiled from doc/spec.md), on purpose: the suite
 * checks an implementation against the documentation, never against what
 * the implementation says about itself. Where the documentation gives no
 * maximum ("≥1") the upper bound is the implementation's own (from
 * setting_info), and only its consistency is checked. Defaults are checked
 * on hosts the case makes itself, under the esxi-6.7 profile and then
 * osdi02 (which documents Mem.SamplePeriod 30), with no --set values, so a
 * run's --profile or --set cannot hide a wrong default.
 *
 * A setting the implementation cannot honour answers MMC_ENOTSUP (impl.h):
 * it must still be listed by setting_info with the documented default and
 * range, and answer set and get alike; SET-1 is then not shown for it
 * (sc_not_shown, with the implementation's reason), never passed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "case.h"
#include "mmc_error.h"
#include "spec.h"

enum { SETTINGS_SCAN_MAX = 4096 };
#define NO_MAX INT64_MAX /* the documentation gives no upper bound */

typedef suite_spec_setting_t documented_t;

static bool find_info(const mmc_impl_t *im, mmc_host_t *h, const char *name,
                      mmc_setting_info_t *out) {
  for (size_t i = 0; i < SETTINGS_SCAN_MAX; i++) {
    if (im->setting_info(h, i, out) != 0)
      return false;
    if (out->name && !strcmp(out->name, name))
      return true;
  }
  return false;
}

/* A value outside the range: MMC_ERANGE, a message naming the setting and
 * the range, and the old value kept. */
static void check_rejected(suite_ctx_t *c, mmc_host_t *h, const documented_t *d, int64_t bad,
                           int64_t max) {
  const mmc_impl_t *im = sc_impl(c);
  mmc_error_t err = {0};
  int64_t before = 0, after = 0;
  char what[160], lo[24], hi[24];
  im->setting_get(h, d->name, &before, NULL);
  int rc = im->setting_set(h, d->name, bad, &err);
  snprintf(what, sizeof what, "%s rejects %" PRId64 " with MMC_ERANGE", d->name, bad);
  sc_check(c, rc == MMC_ERANGE, what, "returned %d (%s): %s", rc, mmc_status_name(rc), err.msg);
  snprintf(lo, sizeof lo, "%" PRId64, d->min);
  snprintf(hi, sizeof hi, "%" PRId64, max);
  snprintf(what, sizeof what, "%s error for %" PRId64 " names the setting and range", d->name, bad);
  sc_check(c, rc != 0 && strstr(err.msg, d->name) && strstr(err.msg, lo) && strstr(err.msg, hi),
           what, "message \"%s\" should contain \"%s\", \"%s\" and \"%s\"", err.msg, d->name, lo,
           hi);
  int grc = im->setting_get(h, d->name, &after, NULL);
  snprintf(what, sizeof what, "%s keeps %" PRId64 " after %" PRId64 " is rejected", d->name, before,
           bad);
  sc_check(c, grc == 0 && after == before, what, "get returned %d, value %" PRId64, grc, after);
}

static void check_accepted(suite_ctx_t *c, mmc_host_t *h, const char *name, int64_t v) {
  const mmc_impl_t *im = sc_impl(c);
  mmc_error_t err = {0};
  int64_t seen = 0;
  char what[160];
  int rc = im->setting_set(h, name, v, &err);
  int grc = rc ? rc : im->setting_get(h, name, &seen, &err);
  snprintf(what, sizeof what, "%s accepts %" PRId64, name, v);
  sc_check(c, rc == 0 && grc == 0 && seen == v, what,
           "set returned %d, get %d, value %" PRId64 ": %s", rc, grc, seen, err.msg);
}

/* A documented setting the implementation cannot honour: listed anyway with
 * the documented default and range, set refused alike, and not shown. */
static void check_unsupported(suite_ctx_t *c, mmc_host_t *h, const documented_t *d,
                              const char *why) {
  const mmc_impl_t *im = sc_impl(c);
  mmc_setting_info_t info = {0};
  mmc_error_t err = {0};
  char what[160];
  snprintf(what, sizeof what,
           "%s (not honoured) is listed by setting_info with its documented "
           "default and minimum",
           d->name);
  bool listed = find_info(im, h, d->name, &info);
  sc_check(c, listed && info.default_value == d->def && info.min == d->min, what,
           "%s: default %" PRId64 ", min %" PRId64, listed ? "setting_info says" : "not listed",
           info.default_value, info.min);
  int rc = im->setting_set(h, d->name, d->def, &err);
  snprintf(what, sizeof what, "%s (not honoured): setting_set answers MMC_ENOTSUP too", d->name);
  sc_check(c, rc == MMC_ENOTSUP && err.msg[0], what, "returned %d (%s): '%s'", rc,
           mmc_status_name(rc), err.msg);
  sc_not_shown(c, "%s: the implementation does not honour it (%s)", d->name, why);
}

static void check_setting(suite_ctx_t *c, mmc_host_t *h, const documented_t *d) {
  const mmc_impl_t *im = sc_impl(c);
  mmc_error_t err = {0};
  mmc_setting_info_t info = {0};
  int64_t v = 0, def = d->def;
  char what[160];
  int rc = im->setting_get(h, d->name, &v, &err);
  if (rc == MMC_ENOTSUP) {
    check_unsupported(c, h, d, err.msg);
    return;
  }
  snprintf(what, sizeof what, "%s exists", d->name);
  if (!sc_check(c, rc == 0, what, "setting_get returned %d (%s): %s", rc, mmc_status_name(rc),
                err.msg))
    return;
  snprintf(what, sizeof what, "%s is %" PRId64 " by default", d->name, def);
  sc_check(c, v == def, what, "expected %" PRId64 ", saw %" PRId64, def, v);
  snprintf(what, sizeof what, "%s is listed by setting_info", d->name);
  bool listed = find_info(im, h, d->name, &info);
  sc_check(c, listed, what, "setting_info never returned this name");
  int64_t max = d->max == NO_MAX ? info.max : d->max;
  if (listed) {
    snprintf(what, sizeof what, "%s setting_info default %" PRId64 ", range %" PRId64 "..%" PRId64,
             d->name, def, d->min, max);
    sc_check(c,
             info.default_value == def && info.min == d->min && info.max == max &&
                 info.max >= info.min,
             what, "setting_info says default %" PRId64 ", range %" PRId64 "..%" PRId64,
             info.default_value, info.min, info.max);
  }
  check_accepted(c, h, d->name, d->min);
  if (listed || d->max != NO_MAX)
    check_accepted(c, h, d->name, max);
  im->setting_set(h, d->name, def, NULL);
  if (d->min > INT64_MIN)
    check_rejected(c, h, d, d->min - 1, max);
  if ((listed || d->max != NO_MAX) && max < INT64_MAX)
    check_rejected(c, h, d, max + 1, max);
  im->setting_set(h, d->name, v, NULL);
}

/* A host under `profile` with no --set values: the defaults checked are the
 * documented ones, whatever the run's --profile and --set say. */
static mmc_host_t *plain_host(suite_ctx_t *c, const char *profile) {
  const mmc_impl_t *im = sc_impl(c);
  mmc_host_config_t cfg = {.topology = &sc_topology(c)->desc,
                           .clock = (im->capabilities & MMC_CAP_CLOCK_STEPPED) ? MMC_CLOCK_STEPPED
                                                                               : MMC_CLOCK_LIVE,
                           .seed = sc_seed(c),
                           .profile = profile};
  mmc_error_t err = {0};
  mmc_host_t *h = NULL;
  int rc = im->host_create(&cfg, &h, &err);
  if (rc == 0 && !h)
    sc_broken(c, "host_create (profile %s) returned 0 but no host", profile);
  sc_require(c, rc, &err, profile);
  return h;
}

/* The osdi02 profile swaps in the paper's values where they differ. */
static void check_osdi02(suite_ctx_t *c) {
  const mmc_impl_t *im = sc_impl(c);
  mmc_host_t *h = plain_host(c, "osdi02");
  for (const documented_t *d = suite_spec_settings; d->name; d++) {
    if (d->def_osdi02 == d->def)
      continue;
    int64_t v = 0;
    int rc = im->setting_get(h, d->name, &v, NULL);
    char what[160];
    snprintf(what, sizeof what, "osdi02 profile: %s is %" PRId64, d->name, d->def_osdi02);
    sc_check(c, rc == 0 && v == d->def_osdi02, what, "get returned %d, value %" PRId64, rc, v);
  }
  im->host_destroy(h);
}

void case_set_1(suite_ctx_t *c);
void case_set_1(suite_ctx_t *c) {
  const mmc_impl_t *im = sc_impl(c);
  mmc_host_t *h = plain_host(c, "esxi-6.7");
  for (const documented_t *d = suite_spec_settings; d->name; d++)
    check_setting(c, h, d);
  mmc_error_t err = {0};
  int rc = im->setting_set(h, "Mem.NoSuchSetting", 1, &err);
  sc_check(c, rc == MMC_ENOENT, "unknown setting Mem.NoSuchSetting is rejected with MMC_ENOENT",
           "setting_set returned %d (%s): %s", rc, mmc_status_name(rc), err.msg);
  int64_t v;
  rc = im->setting_get(h, "Mem.NoSuchSetting", &v, &err);
  sc_check(c, rc == MMC_ENOENT, "unknown setting Mem.NoSuchSetting: get is MMC_ENOENT",
           "setting_get returned %d (%s)", rc, mmc_status_name(rc));
  im->host_destroy(h);
  check_osdi02(c);
}
