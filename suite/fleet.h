/*
 * fleet.h — `mmcert report --fleet db:machine=CLASS,...` (prefix
 * suite_fleet_): the machines of one class side by side, from the
 * history, with the ones outside the class's spread flagged — the bad DIMM,
 * the socket with a slow link, the misconfigured BIOS.
 *
 * Per machine (by hostname): the qualification figures of its newest
 * `mmcert qualify` report in the history (latency matrix cell by cell, copy
 * and triad bandwidth matrices, the rank agreement of latency with the
 * firmware distances as Spearman's rho, move_pages(2) and engine migration
 * throughput per node pair) and the suite's metrics with a better direction
 * (the median of every sample of the selected runs of that machine). The
 * selection's host, file and run narrow both kinds (history.h).
 *
 * The rule, per figure over the machines that have it (at least
 * SUITE_FLEET_MIN_MACHINES): with M the median and MAD the median absolute
 * deviation from it, a machine is outside when
 *     |x - M| > k * max(1.4826 MAD, SUITE_FLEET_FLOOR * |M|)
 * (k = SUITE_FLEET_K unless --mad-k; 1.4826 MAD estimates a standard
 * deviation under normal noise, and the floor keeps a class of near-equal
 * machines from flagging a 0.1 % difference). The rule and k are printed
 * with the report. Both directions are flagged (a machine much faster than
 * its class is as suspect as a slow one: a wrong class, a missing load);
 * the report says which is worse.
 *
 * Strings of the files (hostnames, metric names, units, times) reach the
 * summary on one line each, the page escaped, gnuplot through
 * suite_gp_text only.
 */
#ifndef SUITE_FLEET_H
#define SUITE_FLEET_H

#include <stdio.h>

#include "history.h"
#include "mmc_error.h"

#define SUITE_FLEET_K 3.5
#define SUITE_FLEET_FLOOR 0.01
#define SUITE_FLEET_MIN_MACHINES 3

typedef struct suite_fleet_opts {
  const char *dir;       /* created when missing */
  const char *selection; /* "db:..." as given, for the page */
  double k;
  FILE *out; /* the summary: one line per machine, FLAGGED with its figures */
  FILE *err;
} suite_fleet_opts_t;

/* f->machine is required. MMC_ENOENT when the selection finds no machine. */
int suite_fleet_report(suite_hist_t *h, const suite_hist_filter_t *f, const suite_fleet_opts_t *o,
                       mmc_error_t *err);

#endif
