/*
 * cases_list.h — the run functions of every conformance case, by the file
 * in suite/cases/ that holds them. suite/cases.c holds their rows (SPEC ids,
 * needs, clock forms, timeouts); each function documents what it checks.
 */
#ifndef SUITE_CASES_LIST_H
#define SUITE_CASES_LIST_H

#include "case.h"

/* set.c, set2.c: settings */
void case_set_1(suite_ctx_t *c); /* SET-1 */
void case_set_2(suite_ctx_t *c); /* SET-2 */

/* numa.c, numa_ctl.c: initial placement and the rebalancer's controls */
void case_numa_1(suite_ctx_t *c);  /* NUMA-1 */
void case_numa_2(suite_ctx_t *c);  /* NUMA-2 */
void case_numa_3(suite_ctx_t *c);  /* NUMA-3 */
void case_numa_8(suite_ctx_t *c);  /* NUMA-8: RebalanceEnable=0 */
void case_numa_8b(suite_ctx_t *c); /* NUMA-8: cores thresholds */
void case_numa_9(suite_ctx_t *c);  /* NUMA-9 */
void case_numa_11(suite_ctx_t *c); /* NUMA-11 */

/* rebalance.c: the NUMA rebalancer (scenarios in numa_scen.h) */
void case_numa_4(suite_ctx_t *c);  /* NUMA-4: period boundaries, live spacing */
void case_numa_5(suite_ctx_t *c);  /* NUMA-5: threshold, entitlement */
void case_numa_6(suite_ctx_t *c);  /* NUMA-6: destination preference */
void case_numa_7(suite_ctx_t *c);  /* NUMA-7: new memory on the new home */
void case_numa_10(suite_ctx_t *c); /* NUMA-10: steady state after churn */
/* churn_live.c: NUMA-10's live form (case_numa_10 calls it on the live clock) */
void case_numa_10_live(suite_ctx_t *c);
void case_numa_12(suite_ctx_t *c); /* NUMA-12: locality moves and swaps */

/* migrate.c: page migration */
void case_mig_1(suite_ctx_t *c); /* MIG-1, MIG-2 */
void case_mig_3(suite_ctx_t *c); /* MIG-3 */
void case_mig_4(suite_ctx_t *c); /* MIG-4 */
void case_mig_5(suite_ctx_t *c); /* MIG-5 */

/* share.c: transparent page sharing and salting */
void case_tps_1(suite_ctx_t *c);  /* TPS-1 */
void case_tps_2(suite_ctx_t *c);  /* TPS-2 */
void case_tps_3(suite_ctx_t *c);  /* TPS-3 */
void case_tps_4(suite_ctx_t *c);  /* TPS-4 */
void case_tps_5(suite_ctx_t *c);  /* TPS-5 */
void case_tps_6(suite_ctx_t *c);  /* TPS-6 */
void case_tps_8(suite_ctx_t *c);  /* TPS-8 */
void case_salt_1(suite_ctx_t *c); /* SALT-1 */
void case_salt_2(suite_ctx_t *c); /* SALT-2 */

/* alloc.c, idletax.c: reservations, shares and the idle memory tax */
void case_alloc_1(suite_ctx_t *c);      /* ALLOC-1 */
void case_alloc_2(suite_ctx_t *c);      /* ALLOC-2 */
void case_alloc_3(suite_ctx_t *c);      /* ALLOC-3 */
void case_alloc_5(suite_ctx_t *c);      /* ALLOC-5 */
void case_alloc_6(suite_ctx_t *c);      /* ALLOC-6 */
void case_alloc_osdi02(suite_ctx_t *c); /* ALLOC-4, ALLOC-3: the OSDI02 idle-tax experiment */

/* wss.c: working-set sampling */
void case_wss_1(suite_ctx_t *c); /* WSS-1 */
void case_wss_2(suite_ctx_t *c); /* WSS-2 */
void case_wss_3(suite_ctx_t *c); /* WSS-3 */
void case_wss_4(suite_ctx_t *c); /* WSS-4 */

/* reclaim.c: free-memory states, ballooning, swapping, compression */
void case_state_1(suite_ctx_t *c);     /* STATE-1 */
void case_bal_1(suite_ctx_t *c);       /* BAL-1 BAL-2 BAL-3 */
void case_swap_1(suite_ctx_t *c);      /* SWAP-1 SEC-2 + refusals */
void case_swap_2(suite_ctx_t *c);      /* SWAP-2 SWAP-3 */
void case_zip_1(suite_ctx_t *c);       /* ZIP-1 */
void case_swap_enospc(suite_ctx_t *c); /* fault injection */
void case_tps_7(suite_ctx_t *c);       /* TPS-7 */
void case_int_1_full(suite_ctx_t *c);  /* INT-1 full form */

/* sec.c, integrity.c: isolation and integrity */
void case_sec_1(suite_ctx_t *c); /* SEC-1 */
void case_int_1(suite_ctx_t *c); /* INT-1 */

#endif
