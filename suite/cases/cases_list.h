/*
 * cases_list.h — run functions of the cases in suite/cases/ written for
 * issue 3 (placement, admission, isolation, integrity). suite/cases.c holds
 * their rows (needs, timeouts); each function documents what it checks.
 */
#ifndef SUITE_CASES_LIST_H
#define SUITE_CASES_LIST_H

#include "case.h"

void case_numa_1(suite_ctx_t *c);  /* NUMA-1 */
void case_numa_2(suite_ctx_t *c);  /* NUMA-2 */
void case_numa_3(suite_ctx_t *c);  /* NUMA-3 */
void case_numa_8(suite_ctx_t *c);  /* NUMA-8: RebalanceEnable=0 */
void case_numa_8b(suite_ctx_t *c); /* NUMA-8: cores thresholds */
void case_numa_9(suite_ctx_t *c);  /* NUMA-9 */
void case_numa_11(suite_ctx_t *c); /* NUMA-11 */
void case_alloc_1(suite_ctx_t *c); /* ALLOC-1 */
void case_sec_1(suite_ctx_t *c);   /* SEC-1 */
void case_int_1(suite_ctx_t *c);   /* INT-1 */

/* issue 7 (reclamation): suite/cases/reclaim.c */
void case_state_1(suite_ctx_t *c);      /* STATE-1 */
void case_bal_1(suite_ctx_t *c);        /* BAL-1 BAL-2 BAL-3 */
void case_swap_1(suite_ctx_t *c);       /* SWAP-1 SEC-2 + refusals */
void case_swap_2(suite_ctx_t *c);       /* SWAP-2 SWAP-3 */
void case_zip_1(suite_ctx_t *c);        /* ZIP-1 */
void case_swap_enospc(suite_ctx_t *c);  /* fault injection */
void case_tps_7(suite_ctx_t *c);        /* TPS-7 */
void case_int_1_full(suite_ctx_t *c);   /* INT-1 full form */

#endif
