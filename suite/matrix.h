/*
 * matrix.h — the conformance matrix (suite/matrix.c, prefix suite_matrix_):
 * certificates of several implementations side by side, one row per SPEC
 * id, as markdown (doc/conformance.md).
 */
#ifndef SUITE_MATRIX_H
#define SUITE_MATRIX_H

#include <stddef.h>
#include <stdio.h>

#include "mmc_error.h"

/* The matrix of `files` (results files with a certificate, or certificates
 * of mmcert certify --json) to `f`. MMC_EINVAL naming the file that is not
 * one of those; nothing is written then. */
int suite_matrix_write(const char *const *files, size_t n, FILE *f, mmc_error_t *err);
/* `mmcert report --matrix`: to `out` (whole or not at all) or stdout; an
 * exit status (2 with a message on bad input). */
int suite_matrix_main(const char *const *files, size_t n, const char *out);

#endif
