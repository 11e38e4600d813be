/*
 * test_rebalance.c — unit tests of the NUMA rebalancer policy (rebalance.h):
 * each rule on a small hand-built host (threshold NUMA-5, least loaded
 * destination NUMA-4, memory preference NUMA-6, anti-thrash, MigThreshold,
 * affinity, reservations, memory room, locality moves and swaps NUMA-12,
 * disabling NUMA-8), steady state on random hosts (NUMA-10), and a run at
 * 1000 VMs on 24 nodes that reports its cost (not a timed assertion).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mmc_clock.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rebalance.h"
#include "rng.h"

#define TH_NODES 8
#define TH_VMS 64

typedef struct th {
  rebalance_settings_t s;
  rebalance_node_t nodes[TH_NODES];
  uint32_t nn;
  rebalance_vm_t vms[TH_VMS];
  uint64_t pages[TH_VMS][TH_NODES];
  uint32_t nv;
} th_t;

static th_t H; /* one host per test, static so pages_per_node pointers stay put */

static void th_init(uint32_t nn, uint32_t cores) {
  memset(&H, 0, sizeof H);
  rebalance_settings_default(&H.s);
  H.nn = nn;
  for (uint32_t n = 0; n < nn; n++)
    H.nodes[n] = (rebalance_node_t){.cores = cores,
                                    .cpu_capacity = cores,
                                    .mem_capacity_pages = 1000000,
                                    .mem_free_pages = 1000000};
}

/* A 1-vCPU VM homed on `home` with `load` cores of demand and 1000 pages,
 * all on its home node. */
static uint32_t th_vm(uint32_t home, double load) {
  uint32_t i = H.nv++;
  H.vms[i] = (rebalance_vm_t){.home = home,
                              .vcpus = 1,
                              .cpu_demand = load,
                              .pages_per_node = H.pages[i],
                              .last_move_period = REBALANCE_NEVER};
  H.pages[i][home] = 1000;
  return i;
}

static void th_pages(uint32_t vm, uint32_t node, uint64_t n) {
  H.pages[vm][node] = n;
}

static rebalance_result_t th_step(uint64_t period) {
  rebalance_result_t r;
  assert_int_equal(rebalance_step(&H.s, H.nodes, H.nn, H.vms, H.nv, period, &r, NULL), 0);
  assert_true(rebalance_result_is_valid(&r, H.nodes, H.nn, H.vms, H.nv));
  return r;
}

static void th_apply(const rebalance_result_t *r, uint64_t period) {
  for (uint32_t k = 0; k < r->nmoves; k++) {
    assert_int_equal(H.vms[r->moves[k].vm].home, r->moves[k].from);
    H.vms[r->moves[k].vm].home = r->moves[k].to;
    H.vms[r->moves[k].vm].last_move_period = period;
  }
}

/* NUMA-5: an imbalance under Numa.MigImbalanceThreshold moves nothing; at
 * the threshold a VM moves. */
static void test_threshold(void **state) {
  (void)state;
  th_init(2, 4);
  th_vm(0, 0.2);
  uint32_t b = th_vm(0, 0.196); /* 0.396 / 4 = 9.9 % */
  rebalance_result_t r = th_step(1);
  assert_int_equal(r.nmoves, 0);
  assert_true(r.imbalance > 9.89 && r.imbalance < 9.91);
  H.vms[b].cpu_demand = 0.2; /* 10 % */
  r = th_step(1);
  assert_int_equal(r.nmoves, 1);
  assert_int_equal(r.moves[0].reason, REBALANCE_BALANCE);
  assert_int_equal(r.moves[0].to, 1);
  H.s.imbalance_threshold = 11;
  r = th_step(1);
  assert_int_equal(r.nmoves, 0);
}

/* NUMA-4: from the most loaded node to the least loaded one, one VM. */
static void test_to_least_loaded(void **state) {
  (void)state;
  th_init(4, 4);
  for (int i = 0; i < 3; i++)
    th_vm(0, 1.0);
  th_vm(1, 1.0), th_vm(1, 1.0);
  th_vm(2, 0.5);
  th_vm(3, 1.0);
  rebalance_result_t r = th_step(1);
  assert_int_equal(r.nmoves, 1);
  assert_int_equal(r.moves[0].from, 0);
  assert_int_equal(r.moves[0].to, 2);
  assert_true(r.imbalance_after < r.imbalance);
  /* the entitlement caps what counts as load: capped at 0.1, node 0 is light */
  for (int i = 0; i < 3; i++)
    H.vms[i].cpu_entitlement = 0.1;
  r = th_step(1);
  assert_int_equal(r.nmoves, 1);
  assert_int_equal(r.moves[0].from, 1);
  assert_int_equal(r.moves[0].to, 0);
}

/* NUMA-6: of two equal candidates, the one with memory on the destination
 * moves, even with LocalityWeightMem = 0 (tie-break). */
static void test_prefers_memory_on_destination(void **state) {
  (void)state;
  th_init(2, 4);
  th_vm(0, 1.0);
  uint32_t b = th_vm(0, 1.0);
  th_vm(0, 1.0);
  th_pages(b, 1, 300);
  rebalance_result_t r = th_step(1);
  assert_int_equal(r.nmoves, 1);
  assert_int_equal(r.moves[0].vm, b);
  H.s.locality_weight = 0;
  r = th_step(1);
  assert_int_equal(r.moves[0].vm, b);
  /* NUMA-9 affinity: b confined to node 0 is not a candidate */
  H.vms[b].affinity = 1u << 0;
  r = th_step(1);
  assert_int_equal(r.nmoves, 1);
  assert_true(r.moves[0].vm != b);
}

/* Anti-thrash: a move that reverses the imbalance by more than
 * MigThrashThreshold % of it is refused; a VM alone on a node never flips. */
static void test_anti_thrash(void **state) {
  (void)state;
  th_init(2, 4);
  th_vm(0, 4.0);
  rebalance_result_t r = th_step(1);
  assert_true(r.imbalance > 99.9);
  assert_int_equal(r.nmoves, 0);
  /* node 0: 1.2 (movable) + 0.8 (pinned), node 1: 0.4; D = 40 points; moving
   * the 1.2 leaves node 1 at 40 % and node 0 at 20 %: reversed by 20 = 50 % of D */
  th_init(2, 4);
  uint32_t big = th_vm(0, 1.2);
  uint32_t pinned = th_vm(0, 0.8);
  H.vms[pinned].affinity = 1u << 0;
  th_vm(1, 0.4);
  r = th_step(1);
  assert_int_equal(r.nmoves, 1);
  assert_int_equal(r.moves[0].vm, big);
  H.s.thrash_threshold = 40; /* 20 > 40 % of 40 */
  r = th_step(1);
  assert_int_equal(r.nmoves, 0);
}

/* MigThreshold: a move that improves by less is refused. */
static void test_mig_threshold(void **state) {
  (void)state;
  th_init(2, 4);
  th_vm(0, 0.5), th_vm(0, 0.5); /* 25 points; moving one: 0 left, gain 25 */
  H.s.mig_threshold = 26;
  assert_int_equal(th_step(1).nmoves, 0);
  H.s.mig_threshold = 25;
  assert_int_equal(th_step(1).nmoves, 1);
}

/* NUMA-5: the destination's reservations must still fit. */
static void test_reservations(void **state) {
  (void)state;
  th_init(2, 4);
  for (int i = 0; i < 3; i++) {
    uint32_t v = th_vm(0, 1.0);
    H.vms[v].cpu_reservation = 0.5;
  }
  uint32_t idle = th_vm(1, 0.0);
  H.vms[idle].cpu_reservation = 3.9;
  assert_int_equal(th_step(1).nmoves, 0);
  H.vms[idle].cpu_reservation = 3.5;
  assert_int_equal(th_step(1).nmoves, 1);
}

/* The destination must have room for the memory that would follow the VM. */
static void test_memory_room(void **state) {
  (void)state;
  th_init(2, 4);
  uint32_t a = th_vm(0, 1.0), b = th_vm(0, 1.0);
  th_vm(0, 1.0);
  th_pages(a, 0, 10000), th_pages(b, 0, 500);
  H.vms[2].pages_per_node = NULL; /* a VM with no memory at all */
  H.nodes[1].mem_free_pages = 600;
  rebalance_result_t r = th_step(1);
  assert_int_equal(r.nmoves, 1);
  assert_true(r.moves[0].vm != a);
}

/* NUMA-12: a locality move toward the node with most of the VM's memory when
 * it causes no contention and no imbalance to undo. */
static void test_locality_move(void **state) {
  (void)state;
  th_init(2, 4);
  uint32_t x = th_vm(0, 0.2);
  th_vm(0, 0.2);
  th_vm(1, 0.2);
  th_pages(x, 0, 100), th_pages(x, 1, 900);
  rebalance_result_t r = th_step(1);
  assert_int_equal(r.nmoves, 1);
  assert_int_equal(r.moves[0].vm, x);
  assert_int_equal(r.moves[0].to, 1);
  assert_int_equal(r.moves[0].reason, REBALANCE_LOCALITY);
  H.s.locality_weight = 0; /* locality worth nothing: no move */
  assert_int_equal(th_step(1).nmoves, 0);
  H.s.locality_weight = 1;
  H.vms[2].cpu_demand = 3.9; /* node 1 would be over capacity: no move */
  r = th_step(1);
  assert_int_equal(r.nmoves, 0);
  H.vms[2].cpu_demand = 0.6; /* pre 5 points; after the move 15 > 10: refused */
  r = th_step(1);
  assert_true(r.imbalance < 10.0);
  assert_int_equal(r.nmoves, 0);
}

/* NUMA-12: two VMs each on the other's memory node swap, on swap periods
 * only; a single locality move would unbalance the nodes. */
static void test_swap(void **state) {
  (void)state;
  th_init(2, 4);
  uint32_t a = th_vm(0, 0.5), c = th_vm(1, 0.5);
  uint32_t f0 = th_vm(0, 1.0), f1 = th_vm(1, 1.0);
  H.vms[f0].affinity = 1u << 0, H.vms[f1].affinity = 1u << 1;
  th_pages(a, 0, 0), th_pages(a, 1, 1000);
  th_pages(c, 1, 0), th_pages(c, 0, 1000);
  H.s.swap_interval = 3;
  for (uint64_t p = 1; p < 3; p++)
    assert_int_equal(th_step(p).nmoves, 0);
  rebalance_result_t r = th_step(3);
  assert_int_equal(r.nmoves, 2);
  assert_int_equal(r.moves[0].reason, REBALANCE_SWAP);
  assert_int_equal(r.moves[0].vm, a);
  assert_int_equal(r.moves[0].to, 1);
  assert_int_equal(r.moves[1].vm, c);
  assert_int_equal(r.moves[1].to, 0);
  th_apply(&r, 3);
  for (uint64_t p = 4; p < 20; p++) /* and it stays */
    assert_int_equal(th_step(p).nmoves, 0);
  /* a swap that would overload a node is refused */
  th_apply(
      &(rebalance_result_t){
          .nmoves = 2, .moves = {{.vm = a, .from = 1, .to = 0}, {.vm = c, .from = 0, .to = 1}}},
      3);
  H.vms[a].cpu_demand = 3.0; /* node 1 would reach 4.0 + 0.5... */
  H.vms[f1].cpu_demand = 1.5;
  assert_int_equal(th_step(6).nmoves, 0);
}

/* NUMA-8: off by setting, and below the cores thresholds. */
static void test_disabled(void **state) {
  (void)state;
  th_init(2, 2);
  th_vm(0, 1.0), th_vm(0, 1.0);
  rebalance_result_t r = th_step(1);
  assert_false(r.disabled);
  assert_int_equal(r.nmoves, 1);
  H.s.enable = false;
  r = th_step(1);
  assert_true(r.disabled);
  assert_int_equal(r.nmoves, 0);
  H.s.enable = true;
  H.s.cores_total_min = 5; /* 4 cores in all */
  assert_true(th_step(1).disabled);
  H.s.cores_total_min = 4;
  H.s.cores_node_min = 3; /* 2 per node */
  assert_true(th_step(1).disabled);
  H.s.cores_node_min = 2;
  assert_false(th_step(1).disabled);
  th_init(1, 8);
  th_vm(0, 1.0);
  assert_true(th_step(1).disabled);
}

static void test_bad_input(void **state) {
  (void)state;
  th_init(2, 4);
  th_vm(0, 1.0);
  H.vms[0].home = 5;
  rebalance_result_t r;
  mmc_error_t err = {0};
  assert_int_equal(rebalance_step(&H.s, H.nodes, H.nn, H.vms, H.nv, 1, &r, &err), MMC_EINVAL);
  assert_non_null(strstr(err.msg, "home node 5"));
  H.vms[0].home = 0;
  H.s.swap_interval = 0;
  assert_int_equal(rebalance_step(&H.s, H.nodes, H.nn, H.vms, H.nv, 1, &r, &err), MMC_EINVAL);
}

/* NUMA-10: random hosts with a fixed workload reach a state with no move,
 * and the imbalance at the end is under the threshold or cannot be fixed by
 * one permitted move. */
static void test_steady_state(void **state) {
  (void)state;
  ref_rng_t rng;
  ref_rng_seed(&rng, 10);
  for (int host = 0; host < 200; host++) {
    uint32_t nn = 2 + (uint32_t)ref_rng_below(&rng, 5);
    th_init(nn, 4);
    H.s.swap_interval = 1 + (uint32_t)ref_rng_below(&rng, 4);
    uint32_t nv = 4 + (uint32_t)ref_rng_below(&rng, 20);
    for (uint32_t i = 0; i < nv; i++) {
      uint32_t v = th_vm((uint32_t)ref_rng_below(&rng, nn), ref_rng_unit(&rng) * 1.5);
      for (uint32_t n = 0; n < nn; n++)
        th_pages(v, n, ref_rng_below(&rng, 1000));
    }
    uint64_t last_move = 0, moves = 0;
    for (uint64_t p = 1; p <= 300; p++) {
      rebalance_result_t r = th_step(p);
      if (r.nmoves)
        last_move = p, moves += r.nmoves;
      th_apply(&r, p);
    }
    if (last_move > 200)
      print_message("# host %d: still moving at period %llu\n", host,
                    (unsigned long long)last_move);
    assert_true(last_move <= 200);
  }
}

/* 1000 VMs on 24 nodes: runs, decides at most one thing per period; reports
 * the cost per period (the benchmark, not this test, judges the figure). */
static void test_large_host_cost(void **state) {
  (void)state;
  enum { NN = 24, NV = 1000, PERIODS = 500 };
  rebalance_node_t nodes[NN];
  rebalance_vm_t *vms = calloc(NV, sizeof *vms);
  uint64_t *pages = calloc((size_t)NV * NN, sizeof *pages);
  assert_non_null(vms);
  assert_non_null(pages);
  ref_rng_t rng;
  ref_rng_seed(&rng, 24);
  for (int n = 0; n < NN; n++)
    nodes[n] = (rebalance_node_t){.cores = 16,
                                  .cpu_capacity = 16,
                                  .mem_capacity_pages = 1u << 24,
                                  .mem_free_pages = 1u << 23};
  for (int i = 0; i < NV; i++) {
    vms[i] = (rebalance_vm_t){.home = (uint32_t)ref_rng_below(&rng, NN / 2), /* skewed */
                              .vcpus = 1 + (uint32_t)ref_rng_below(&rng, 4),
                              .cpu_demand = ref_rng_unit(&rng) * 0.6,
                              .pages_per_node = &pages[(size_t)i * NN],
                              .last_move_period = REBALANCE_NEVER};
    for (int n = 0; n < NN; n++)
      pages[(size_t)i * NN + n] = ref_rng_below(&rng, 4096);
  }
  rebalance_settings_t s;
  rebalance_settings_default(&s);
  uint64_t t0 = mmc_mono_ns();
  uint64_t moves = 0;
  double first = 0, last = 0;
  for (uint64_t p = 1; p <= PERIODS; p++) {
    rebalance_result_t r;
    assert_int_equal(rebalance_step(&s, nodes, NN, vms, NV, p, &r, NULL), 0);
    assert_true(rebalance_result_is_valid(&r, nodes, NN, vms, NV));
    if (p == 1)
      first = r.imbalance;
    last = r.imbalance_after;
    for (uint32_t k = 0; k < r.nmoves; k++)
      vms[r.moves[k].vm].home = r.moves[k].to, vms[r.moves[k].vm].last_move_period = p;
    moves += r.nmoves;
  }
  double us = (double)(mmc_mono_ns() - t0) / 1e3 / PERIODS;
  print_message("# 1000 VMs / 24 nodes: %.1f us per period, %llu moves, imbalance %.1f -> %.1f\n",
                us, (unsigned long long)moves, first, last);
  assert_true(moves > 0);
  assert_true(last < first);
  free(vms);
  free(pages);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_threshold),
      cmocka_unit_test(test_to_least_loaded),
      cmocka_unit_test(test_prefers_memory_on_destination),
      cmocka_unit_test(test_anti_thrash),
      cmocka_unit_test(test_mig_threshold),
      cmocka_unit_test(test_reservations),
      cmocka_unit_test(test_memory_room),
      cmocka_unit_test(test_locality_move),
      cmocka_unit_test(test_swap),
      cmocka_unit_test(test_disabled),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_steady_state),
      cmocka_unit_test(test_large_host_cost),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
