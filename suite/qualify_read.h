/*
 * qualify_read.h — reading `mmcert qualify` reports back (prefix
 * suite_qr_): the history stores them beside results, and the
 * fleet report compares their figures across the machines of a class.
 *
 * The validator accepts schema "mmcert-qualify" version
 * SUITE_QUALIFY_SCHEMA and checks every field a reader uses: run_id,
 * machine.hostname and machine.class, start_time, the topology's node count
 * and its n x n firmware distances, the latency and bandwidth matrices
 * (n x n, a number or null where not measured), the migration pairs (from,
 * to, measured, gb_per_s when measured) of move_pages(2) and of the engine.
 * A report of version 1 (before run ids and machine classes) is refused
 * with the advice to run qualify again.
 */
#ifndef SUITE_QUALIFY_READ_H
#define SUITE_QUALIFY_READ_H

#include <jansson.h>

#include "mmc_error.h"

/* 2: run_id and machine.class. */
#define SUITE_QUALIFY_SCHEMA 2

int suite_qr_validate(const json_t *doc, mmc_error_t *err);

/* doc's n x n matrix at "section.key" as doubles (NAN where null) into a
 * malloc'd array; NULL when absent or out of memory. */
double *suite_qr_matrix(const json_t *doc, const char *section, const char *key, size_t *n);

#endif
