/*
 * cases_issue4.h — run functions of the cases written for issue 4 (NUMA
 * rebalancer and page migration: suite/cases/rebalance.c, migrate.c,
 * set2.c). suite/cases.c holds their rows.
 */
#ifndef SUITE_CASES_ISSUE4_H
#define SUITE_CASES_ISSUE4_H

#include "case.h"

void case_numa_4(suite_ctx_t *c);  /* NUMA-4: period boundaries, live spacing */
void case_numa_5(suite_ctx_t *c);  /* NUMA-5: threshold, entitlement */
void case_numa_6(suite_ctx_t *c);  /* NUMA-6: destination preference */
void case_numa_7(suite_ctx_t *c);  /* NUMA-7: new memory on the new home */
void case_numa_10(suite_ctx_t *c); /* NUMA-10: steady state after churn */
void case_numa_12(suite_ctx_t *c); /* NUMA-12: locality moves and swaps */
void case_mig_1(suite_ctx_t *c);   /* MIG-1, MIG-2 */
void case_mig_3(suite_ctx_t *c);   /* MIG-3 */
void case_mig_4(suite_ctx_t *c);   /* MIG-4 */
void case_mig_5(suite_ctx_t *c);   /* MIG-5 */
void case_set_2(suite_ctx_t *c);   /* SET-2 */

#endif
