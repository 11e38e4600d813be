/*
 * report.h — `mmcert report SIDE -o DIR` (prefix suite_report_):
 * DIR/index.html with the run's facts, the case, check and metric tables,
 * and PNG plots drawn by gnuplot (MMCERT_GNUPLOT from config.h, or the
 * MMCERT_GNUPLOT environment variable): every recorded time series (series
 * "group/label" share one plot per case and group) and, when a history
 * database exists, each metric's median and IQR across the implementation's
 * versions on this machine class and mode. Without gnuplot the page says
 * the plots were skipped and why. index.html is written to a temporary
 * file and renamed, so a reader never sees half a page.
 */
#ifndef SUITE_REPORT_H
#define SUITE_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "results_read.h"

typedef struct suite_report_opts {
  const char *dir;  /* created when missing */
  const char *db;   /* history for trends */
  bool db_required; /* --db given: a missing/bad database is an error, not a note */
  FILE *err;
} suite_report_opts_t;

int suite_report_write(const suite_rr_t *rr, const suite_report_opts_t *o, mmc_error_t *err);

#endif
