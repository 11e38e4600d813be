/*
 * ref_util.h — helpers shared by the reference's white-box unit tests
 * (test_memstate_mech.c, test_balloon.c, test_swap.c, test_alloc_mech.c,
 * test_wss_mech.c): one emulated node of a given size, VM power-on, page
 * access with retries, page patterns, statistics, stepped ticks, events.
 * Header-only (static functions), included by those tests only.
 */
#ifndef TESTS_REF_UTIL_H
#define TESTS_REF_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mech.h"
#include "ref.h"

#include "ref_test.h" /* mmcert_impl: the reference, from libmmref.a */
static const mmc_impl_t *I = &mmcert_impl;

typedef struct rt_topo {
  mmc_node_t node;
  uint32_t cpus[2];
  mmc_topology_t t;
} rt_topo_t;

static inline void rt_topo(rt_topo_t *tp, uint64_t mb) {
  memset(tp, 0, sizeof *tp);
  tp->cpus[0] = 0;
  tp->cpus[1] = 1;
  tp->node = (mmc_node_t){
      .os_index = 0, .memory_bytes = mb << 20, .ncpus = 2, .cpus = tp->cpus, .ncores = 2};
  tp->t = (mmc_topology_t){.nnodes = 1, .nodes = &tp->node, .ncores = 2, .name = "rt"};
}

static inline mmc_host_t *rt_host(rt_topo_t *tp, mmc_clock_mode_t clock, const char *swap_dir,
                                  const mmc_setting_value_t *s, size_t ns) {
  mmc_host_config_t cfg = {.topology = &tp->t,
                           .clock = clock,
                           .seed = 7,
                           .settings = s,
                           .nsettings = ns,
                           .swap_dir = swap_dir};
  mmc_host_t *h = NULL;
  mmc_error_t err = {0};
  if (I->host_create(&cfg, &h, &err))
    fail_msg("host_create: %s", err.msg);
  return h;
}

/* Power a VM of config c on; any error fails the test. */
static inline mmc_vm_id_t rt_power_on(mmc_host_t *h, const mmc_vm_config_t *c) {
  mmc_vm_id_t id = 0;
  mmc_error_t err = {0};
  if (I->vm_power_on(h, c, &id, &err))
    fail_msg("vm_power_on: %s", err.msg);
  return id;
}

static inline mmc_vm_id_t rt_vm(mmc_host_t *h, uint64_t mb, bool driver) {
  mmc_vm_config_t c;
  mmc_vm_config_init(&c);
  c.memory_bytes = mb << 20;
  c.balloon_driver = driver;
  return rt_power_on(h, &c);
}

/* page() retrying MMC_ERETRY (quiescing first); NULL with err otherwise. */
static inline void *rt_page(mmc_vcpu_t *v, uint64_t g, bool write, mmc_error_t *err) {
  for (;;) {
    void *p = I->page(v, g, write, err);
    if (p || err->code != MMC_ERETRY)
      return p;
    I->quiesce(v);
  }
}

/* Page content: incompressible (xorshift of gpfn and tag) or compressible
 * (a header and zeros). */
static inline void rt_fill(uint8_t *p, uint64_t g, uint64_t tag, bool compressible) {
  uint64_t x = (g + 1) * 0x9e3779b97f4a7c15ull ^ tag;
  uint64_t *w = (uint64_t *)p;
  memset(p, 0, MMC_PAGE_SIZE);
  for (size_t i = 0; i < MMC_PAGE_SIZE / 8; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    if (!compressible || i < 4)
      w[i] = x;
  }
}

static inline bool rt_check(const uint8_t *p, uint64_t g, uint64_t tag, bool compressible) {
  uint8_t want[MMC_PAGE_SIZE];
  rt_fill(want, g, tag, compressible);
  return memcmp(p, want, MMC_PAGE_SIZE) == 0;
}

/* Write pages [0, n) of vm with pattern `tag` on vCPU 0 (entered here). */
static inline void rt_write(mmc_host_t *h, mmc_vm_id_t vm, uint64_t n, uint64_t tag,
                            bool compressible) {
  mmc_vcpu_t *v;
  mmc_error_t err = {0};
  assert_int_equal(I->vcpu_enter(h, vm, 0, &v, &err), 0);
  for (uint64_t g = 0; g < n; g++) {
    uint8_t *p = rt_page(v, g, true, &err);
    if (!p)
      fail_msg("write page %llu: %s", (unsigned long long)g, err.msg);
    rt_fill(p, g, tag, compressible);
    I->quiesce(v);
  }
  I->vcpu_exit(v);
}

/* Pages of [0, n) whose content is not the pattern (reading them back). */
static inline uint64_t rt_verify(mmc_host_t *h, mmc_vm_id_t vm, uint64_t n, uint64_t tag,
                                 bool compressible) {
  mmc_vcpu_t *v;
  mmc_error_t err = {0};
  uint64_t bad = 0;
  assert_int_equal(I->vcpu_enter(h, vm, 0, &v, &err), 0);
  for (uint64_t g = 0; g < n; g++) {
    uint8_t *p = rt_page(v, g, false, &err);
    if (!p)
      fail_msg("read page %llu: %s", (unsigned long long)g, err.msg);
    bad += !rt_check(p, g, tag, compressible);
    I->quiesce(v);
  }
  I->vcpu_exit(v);
  return bad;
}

static inline mmc_vm_stats_t rt_vstats(mmc_host_t *h, mmc_vm_id_t vm) {
  mmc_vm_stats_t s;
  assert_int_equal(I->vm_stats(h, vm, &s, NULL), 0);
  return s;
}

static inline mmc_host_stats_t rt_hstats(mmc_host_t *h) {
  mmc_host_stats_t s;
  assert_int_equal(I->host_stats(h, &s, NULL), 0);
  return s;
}

/* Advance the stepped clock by `ticks` reclaim periods (100 ms default). */
static inline void rt_ticks(mmc_host_t *h, unsigned ticks) {
  int64_t ms = 0;
  assert_int_equal(I->setting_get(h, "Ref.ReclaimPeriod", &ms, NULL), 0);
  for (unsigned i = 0; i < ticks; i++)
    assert_int_equal(I->advance(h, I->now(h) + (uint64_t)ms * 1000000ull, NULL), 0);
}

/* Count events of `type` since *cursor (advanced); the last one in *last. */
static inline uint64_t rt_events(mmc_host_t *h, uint64_t *cursor, uint32_t type,
                                 mmc_event_t *last) {
  mmc_event_t buf[256];
  uint64_t n = 0;
  size_t k;
  while ((k = I->events_read(h, cursor, buf, 256)) > 0)
    for (size_t i = 0; i < k; i++)
      if (buf[i].type == type) {
        n++;
        if (last)
          *last = buf[i];
      }
  return n;
}

#endif
