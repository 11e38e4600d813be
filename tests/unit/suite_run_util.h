/*
 * suite_run_util.h — a whole `mmcert run` inside a unit test: a case table
 * of the test's own against the reference linked in (libmmref.a), TAP and
 * diagnostics into memory, so a test asserts on results, certificate and
 * output (test_runner.c, test_variants.c, test_perf.c). Header only;
 * include after <cmocka.h>.
 */
#ifndef TESTS_SUITE_RUN_UTIL_H
#define TESTS_SUITE_RUN_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "runner.h"

#include "ref_test.h" /* mmcert_impl: the reference, from libmmref.a */

typedef struct test_run {
  suite_run_t run; /* test_run_init's defaults; change fields before test_run_go */
  suite_impl_t si; /* the reference (run.si points here: keep the struct in place) */
  mmt_topology_t *topo;
  char *out, *errs; /* the TAP stream and the diagnostics, after test_run_go */
  size_t outlen, errlen;
  int rc; /* suite_run's exit status */
} test_run_t;

/* A run of `cases` against the reference on builtin:2, seed 1, profile
 * esxi-6.7, timeout scale 1. */
static inline void test_run_init(test_run_t *r, const suite_case_t *cases) {
  mmc_error_t err;
  *r = (test_run_t){.si = {.impl = &mmcert_impl, .path = "/fake/libmmref.so"}};
  assert_int_equal(mmt_load("builtin:2", &r->topo, &err), 0);
  r->run = (suite_run_t){.si = &r->si,
                         .topology_spec = "builtin:2",
                         .topo = r->topo,
                         .seed = 1,
                         .profile = "esxi-6.7",
                         .timeout_scale = 1,
                         .cases = cases};
}

/* suite_run with the output in memory; its exit status. */
static inline int test_run_go(test_run_t *r) {
  FILE *o = open_memstream(&r->out, &r->outlen), *e = open_memstream(&r->errs, &r->errlen);
  assert_non_null(o);
  assert_non_null(e);
  r->run.out = o;
  r->run.err = e;
  r->rc = suite_run(&r->run);
  fclose(o);
  fclose(e);
  return r->rc;
}

static inline void test_run_free(test_run_t *r) {
  suite_run_free(&r->run);
  mmt_free(r->topo);
  free(r->out);
  free(r->errs);
}

#endif
