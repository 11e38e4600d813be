/*
 * compare.h — `mmcert compare OLD NEW` (prefix suite_cmp_).
 *
 * Per metric: old and new median, their ratio, and a verdict from the
 * two-sided Mann–Whitney U test (stats.h) like benchstat: "improved" or
 * "regressed" only when p < alpha AND the medians differ by at least
 * min_effect (relative to the old median), in the metric's better
 * direction; otherwise "no change". With one sample on either side there is
 * no test: "no change (1 sample: cannot test)" unless
 *   - both sides ran under the same seed and the other side's samples are
 *     all equal (the metric is determined by the seed: a stepped-clock
 *     figure), so any difference of at least min_effect is a change, or
 *   - the medians differ by more than single_effect (unless it is off, or
 *     the sides ran under different seeds: one sample under another seed
 *     supports nothing),
 * then improved/regressed marked "(1 sample: ...)".
 * Metrics without a better direction are "info" and never gate. Per check:
 * newly failing, newly passing; per case: newly failing (fail or broken
 * where it passed or skipped). Per judged metric also the smallest change
 * its samples could detect, and, for metrics that cannot yet catch
 * min_effect, the --repeat that would (mde.h). Rules in
 * doc/results-schema.md.
 */
#ifndef SUITE_COMPARE_H
#define SUITE_COMPARE_H

#include <stdbool.h>
#include <stdio.h>

#include "results_read.h"

typedef struct suite_cmp_opts {
  double alpha;         /* default 0.05 */
  double min_effect;    /* default 0.05 (5 %) */
  double single_effect; /* default 0.5 (50 %): the bar with one sample a side;
                           < 0: off (only what the samples support) */
  bool force;           /* compare different topologies or modes */
  bool seeds_differ;    /* the sides ran under different seeds (suite_cmp_run sets it) */
} suite_cmp_opts_t;

#define SUITE_CMP_OPTS_DEFAULT                                                                     \
  { .alpha = 0.05, .min_effect = 0.05, .single_effect = 0.5 }

typedef enum suite_cmp_verdict {
  SUITE_CMP_NO_CHANGE = 0,
  SUITE_CMP_IMPROVED,
  SUITE_CMP_REGRESSED,
  SUITE_CMP_INFO, /* no better direction: shown, never judged */
} suite_cmp_verdict_t;

typedef struct suite_cmp_metric {
  double old_median, new_median, ratio, p; /* p NaN when not tested */
  double detectable;                       /* mde.h: relative change these samples would flag in the
                                              worse direction; NaN: never (sizes); INFINITY: old median 0 */
  double spread; /* relative noise of both sides (mde.h), NaN when not judged */
  suite_cmp_verdict_t verdict;
  char note[128]; /* why: "p=0.31", "1 sample: cannot test", "below 5 % effect" */
} suite_cmp_metric_t;

/* Judge one metric's samples. */
void suite_cmp_metric(const double *old, size_t nold, const double *new_, size_t nnew,
                      const char *better, const suite_cmp_opts_t *o, suite_cmp_metric_t *out);

/* Print the comparison to `out`. Returns 0 nothing regressed or newly
 * failed, 1 something did; MMC_EINVAL (negative, message in err) when the
 * sides differ in topology or mode and !o->force. */
int suite_cmp_run(const suite_rr_t *old, const suite_rr_t *new_, const suite_cmp_opts_t *o,
                  FILE *out, mmc_error_t *err);

const char *suite_cmp_verdict_name(suite_cmp_verdict_t v);

#endif
