/*
 * test_alloc_mech.c — the allocation-target mechanism of the reference host
 * (idletax.c "mechanism", ALLOC-2..6) through the contract: targets exist
 * right after power-on and follow shares under contention (tau = 0), are
 * recomputed at power-on/off, on setting_set and vm_reconfigure and every
 * Mem.BalancePeriod (and at no other moment, even while working-set
 * estimates move), the idle VM is taxed with tau = 0.75, and the exported
 * reader (ref_alloc_target) agrees with vm_stats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "idletax.h"
#include "memstate.h"
#include "ref.h"

#include "ref_util.h" /* I: the reference, from libmmref.a; rt_* helpers */

#define NS 1000000000ull
#define MS 1000000ull
#define HOST_MB 64u
#define VM_MB 48u
#define VM_PAGES (VM_MB * 256u)

typedef struct topo {
  mmc_node_t node;
  uint32_t cpus[2];
  mmc_topology_t t;
} topo_t;

static mmc_host_t *host(topo_t *tp, const mmc_setting_value_t *s, size_t ns) {
  memset(tp, 0, sizeof *tp);
  tp->cpus[0] = 0, tp->cpus[1] = 1;
  tp->node = (mmc_node_t){
      .memory_bytes = (uint64_t)HOST_MB << 20, .ncpus = 2, .cpus = tp->cpus, .ncores = 2};
  tp->t = (mmc_topology_t){.nnodes = 1, .nodes = &tp->node, .ncores = 2, .name = "alloc"};
  mmc_host_config_t cfg = {
      .topology = &tp->t, .clock = MMC_CLOCK_STEPPED, .seed = 3, .settings = s, .nsettings = ns};
  mmc_host_t *h = NULL;
  mmc_error_t err = {0};
  if (I->host_create(&cfg, &h, &err))
    fail_msg("host_create: %s", err.msg);
  return h;
}

static mmc_vm_id_t power_on(mmc_host_t *h, int64_t shares) {
  mmc_vm_config_t c;
  mmc_vm_config_init(&c);
  c.memory_bytes = (uint64_t)VM_PAGES * MMC_PAGE_SIZE;
  c.shares = shares;
  return rt_power_on(h, &c);
}

static uint64_t target(mmc_host_t *h, mmc_vm_id_t id) {
  mmc_vm_stats_t s = rt_vstats(h, id);
  ref_host_lock(h);
  uint64_t t = ref_alloc_target(h, ref_vm_get(h, id));
  ref_host_unlock(h);
  assert_int_equal(t, s.target_pages);
  return s.target_pages;
}

static void set(mmc_host_t *h, const char *name, int64_t v) {
  mmc_error_t err = {0};
  if (I->setting_set(h, name, v, &err))
    fail_msg("%s: %s", name, err.msg);
}

static uint64_t available(void) {
  uint64_t cap = (uint64_t)HOST_MB * 256u;
  return cap - memstate_min_free(cap, 0);
}

static void shares_power_on_off_and_reconfigure(void **state) {
  (void)state;
  topo_t tp;
  mmc_setting_value_t s[] = {{"Mem.IdleTax", 0}};
  mmc_host_t *h = host(&tp, s, 1);
  mmc_vm_id_t a = power_on(h, 1000);
  assert_int_equal(target(h, a), VM_PAGES); /* alone: fits */
  mmc_vm_id_t b = power_on(h, 2000);        /* contention from this moment on */
  uint64_t ta = target(h, a), tb = target(h, b);
  assert_int_equal(ta + tb, available());
  assert_true(fabs((double)tb / (double)ta - 2.0) < 0.01);
  /* Reconfigure: equal shares now. */
  mmc_vm_config_t c;
  mmc_vm_config_init(&c);
  c.memory_bytes = (uint64_t)VM_PAGES * MMC_PAGE_SIZE;
  c.shares = 2000;
  mmc_error_t err = {0};
  assert_int_equal(I->vm_reconfigure(h, a, &c, &err), 0);
  assert_true(llabs((long long)target(h, a) - (long long)target(h, b)) <= 1);
  /* A reservation is honoured. */
  c.reservation_bytes = 40ull << 20;
  assert_int_equal(I->vm_reconfigure(h, a, &c, &err), 0);
  assert_int_equal(target(h, a), 40u * 256u);
  /* Power-off: the other VM gets everything it can hold at once. */
  assert_int_equal(I->vm_power_off(h, a, &err), 0);
  assert_int_equal(target(h, b), VM_PAGES);
  I->host_destroy(h);
}

/* Targets change only at BalancePeriod boundaries while estimates decay,
 * and at once on a setting change. VM a is idle (nothing touched); b is
 * entered and touches half its memory every 100 ms. */
static void recomputed_only_at_the_documented_moments(void **state) {
  (void)state;
  topo_t tp;
  mmc_setting_value_t s[] = {
      {"Mem.SamplePeriod", 1}, {"Mem.BalancePeriod", 3}, {"Mem.IdleTaxType", 0}};
  mmc_host_t *h = host(&tp, s, 3);
  mmc_vm_id_t a = power_on(h, MMC_SHARES_NORMAL), b = power_on(h, MMC_SHARES_NORMAL);
  mmc_vcpu_t *va = NULL, *vb = NULL;
  assert_int_equal(I->vcpu_enter(h, a, 0, &va, NULL), 0);
  assert_int_equal(I->vcpu_enter(h, b, 0, &vb, NULL), 0);
  uint64_t half = available() / 2;
  assert_true(llabs((long long)target(h, a) - (long long)half) <= 1);
  uint64_t n0 = ref_alloc_recomputes(h), last_a = target(h, a);
  int changes = 0;
  mmc_error_t err = {0};
  for (uint64_t t = 100 * MS; t <= 30 * NS; t += 100 * MS) {
    for (uint64_t g = 0; g < VM_PAGES / 2; g++)
      if (!I->page(vb, g, true, &err))
        fail_msg("page: %s", err.msg);
    I->quiesce(vb);
    assert_int_equal(I->advance(h, t, &err), 0);
    uint64_t ta = target(h, a);
    if (ta != last_a) {
      changes++;
      assert_int_equal(t % (3 * NS), 0); /* only at balance periods */
      print_message("# t %2llu s: idle VM target %llu pages\n", (unsigned long long)(t / NS),
                    (unsigned long long)ta);
    }
    last_a = ta;
  }
  assert_true(changes >= 3);
  assert_int_equal(ref_alloc_recomputes(h) - n0, 10); /* 3, 6, ..., 30 s */
  /* The idle VM lost memory to the active one, within the tax bound:
   * at most tau (0.75) of its idle memory at the shares-only target. */
  uint64_t ta = target(h, a), tb = target(h, b);
  assert_true(ta < tb);
  double idle0 = (double)half - 0.01 * VM_PAGES;
  assert_true((double)(half - ta) <= 0.75 * idle0 + 1);
  /* A setting change recomputes at once. */
  set(h, "Mem.IdleTax", 0);
  assert_true(llabs((long long)target(h, a) - (long long)half) <= 1);
  assert_int_equal(ref_alloc_recomputes(h) - n0, 11);
  I->vcpu_exit(va);
  I->vcpu_exit(vb);
  I->host_destroy(h);
}

static void available_follows_min_free(void **state) {
  (void)state;
  topo_t tp;
  mmc_setting_value_t s[] = {{"Mem.IdleTax", 0}, {"Mem.MemMinFreePct", 25}};
  mmc_host_t *h = host(&tp, s, 2);
  mmc_vm_id_t a = power_on(h, MMC_SHARES_NORMAL), b = power_on(h, MMC_SHARES_NORMAL);
  assert_int_equal(target(h, a) + target(h, b), HOST_MB * 256u * 3u / 4u);
  set(h, "Mem.MemMinFreePct", 50);
  assert_int_equal(target(h, a) + target(h, b), HOST_MB * 256u / 2u);
  I->host_destroy(h);
}

/* A burst of power-ons costs one recompute, done before the first read. */
static void events_are_applied_before_the_next_read(void **state) {
  (void)state;
  topo_t tp;
  mmc_setting_value_t s[] = {{"Mem.IdleTax", 0}};
  mmc_host_t *h = host(&tp, s, 1);
  uint64_t n0 = ref_alloc_recomputes(h);
  mmc_vm_id_t id[8];
  for (int i = 0; i < 8; i++) {
    mmc_vm_config_t c;
    mmc_vm_config_init(&c);
    c.memory_bytes = 16ull << 20;
    assert_int_equal(I->vm_power_on(h, &c, &id[i], NULL), 0);
  }
  assert_int_equal(ref_alloc_recomputes(h), n0);
  uint64_t t = target(h, id[0]);
  assert_int_equal(ref_alloc_recomputes(h), n0 + 1);
  assert_true(llabs((long long)t * 8 - (long long)available()) <= 8);
  assert_int_equal(I->vm_power_off(h, id[7], NULL), 0);
  assert_true(llabs((long long)target(h, id[0]) * 7 - (long long)available()) <= 7);
  assert_int_equal(ref_alloc_recomputes(h), n0 + 2);
  I->host_destroy(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(shares_power_on_off_and_reconfigure),
      cmocka_unit_test(recomputed_only_at_the_documented_moments),
      cmocka_unit_test(available_follows_min_free),
      cmocka_unit_test(events_are_applied_before_the_next_read),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
