/*
 * cases.c — the table of conformance cases (suite_cases[], see case.h).
 * One row per case; the runner reads needs and timeouts from here and
 * writes every SKIP reason itself. Keep ids in SPEC.md order.
 */
#include "case.h"

/* suite/cases/set.c */
void case_set_1(suite_ctx_t *c);

const suite_case_t suite_cases[] = {
    {.id = "SET-1",
     .spec_ids = "SET-1",
     .title = "every documented setting exists with its default and range",
     .timeout_s = 30,
     .run = case_set_1},
    {0}, /* end */
};
