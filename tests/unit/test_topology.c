/*
 * test_topology.c — the topology module (common/topology.c, common/size.c):
 * every source (this machine, hwloc XML, synthetic with distances/memory,
 * builtin:N), odd machines from our own fixtures (tests/fixtures/topo-*.xml:
 * gapped node ids, memory-only nodes, a node without memory, a restricted
 * nodeset), bad input with its messages, size parsing, the memory cap and the
 * printout. When hwloc's real-machine exports are beside the checkout
 * (../shared/topologies), each one is loaded and compared with what
 * lstopo-no-graphics reports for it, parsed here from lstopo's own output.
 *
 * Invariant checked for every loaded topology (check_invariants): node OS ids
 * strictly increase, CPU lists ascend and never share a CPU, the distance
 * matrix is full and positive, desc points into the owned storage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "mmc_error.h"
#include "mmc_topology.h"
#include "test_util.h"

#define FIXTURES MMCERT_SOURCE_DIR "/tests/fixtures/"
#define GIB (1ull << 30)

/* ---------------------------------------------------------------- helpers */

static mmt_topology_t *load_ok(const char *spec) {
  mmt_topology_t *t = NULL;
  mmc_error_t err = {0};
  int rc = mmt_load(spec, &t, &err);
  if (rc)
    fail_msg("mmt_load(%s) failed: %s", spec ? spec : "NULL", err.msg);
  assert_non_null(t);
  return t;
}

/* Expect a failure with `code` and a message containing each of the NULL-ended
 * fragments. */
static void load_fails(const char *spec, int code, ...) {
  mmt_topology_t *t = (mmt_topology_t *)0x1;
  mmc_error_t err = {0};
  int rc = mmt_load(spec, &t, &err);
  if (rc != code)
    fail_msg("mmt_load(%s): expected %s, got %s (%s)", spec, mmc_status_name(code),
             mmc_status_name(rc), err.msg);
  assert_null(t);
  assert_int_equal(err.code, code);
  va_list ap;
  va_start(ap, code);
  for (const char *frag; (frag = va_arg(ap, const char *));)
    if (!strstr(err.msg, frag))
      fail_msg("mmt_load(%s): message '%s' lacks '%s'", spec, err.msg, frag);
  va_end(ap);
}

static void check_invariants(const mmt_topology_t *t) {
  const mmc_topology_t *d = &t->desc;
  assert_true(d->nnodes >= 1 && d->nnodes <= MMC_MAX_NODES);
  assert_ptr_equal(d->nodes, t->nodes);
  assert_ptr_equal(d->distance, t->distance);
  assert_ptr_equal(d->name, t->source);
  assert_non_null(t->distance_origin);
  uint32_t cpus = 0, cores = 0;
  for (uint32_t i = 0; i < d->nnodes; i++) {
    const mmc_node_t *n = &d->nodes[i];
    if (i)
      assert_true(n->os_index > d->nodes[i - 1].os_index);
    assert_true(n->ncpus == 0 ? n->cpus == NULL : n->cpus != NULL);
    for (uint32_t c = 1; c < n->ncpus; c++)
      assert_true(n->cpus[c] > n->cpus[c - 1]);
    assert_true(n->ncores <= n->ncpus);
    assert_int_equal(n->real, t->is_this_machine && n->real);
    cpus += n->ncpus;
    cores += n->ncores;
    for (uint32_t j = 0; j < d->nnodes; j++)
      assert_true(mmt_distance(t, i, j) > 0);
  }
  for (uint32_t i = 0; i < d->nnodes; i++) /* no CPU in two nodes */
    for (uint32_t j = i + 1; j < d->nnodes; j++)
      for (uint32_t a = 0; a < d->nodes[i].ncpus; a++)
        for (uint32_t b = 0; b < d->nodes[j].ncpus; b++)
          assert_int_not_equal(d->nodes[i].cpus[a], d->nodes[j].cpus[b]);
  assert_true(cpus <= t->npus);
  assert_true(cores <= d->ncores);
}

static void expect_matrix(const mmt_topology_t *t, const uint32_t *want) {
  uint32_t n = t->desc.nnodes;
  for (uint32_t i = 0; i < n; i++)
    for (uint32_t j = 0; j < n; j++)
      if (t->desc.distance[i * n + j] != want[i * n + j])
        fail_msg("distance[%u][%u] = %u, expected %u", i, j, t->desc.distance[i * n + j],
                 want[i * n + j]);
}

static char *print_to_string(const mmt_topology_t *t) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  mmt_print(f, t);
  fclose(f);
  return buf;
}

/* ---------------------------------------------------------------- sizes */

static void test_size_valid(void **state) {
  static const struct {
    const char *text;
    uint64_t bytes;
  } cases[] = {
      {"0", 0},
      {"1048576", 1048576},
      {"4k", 4096},
      {"4K", 4096},
      {"512M", 512ull << 20},
      {"4G", 4 * GIB},
      {"2GB", 2 * GIB},
      {"2GiB", 2 * GIB},
      {"2gib", 2 * GIB},
      {"1.5G", 3 * GIB / 2},
      {"0.5K", 512},
      {"1.25M", 1310720},
      {"16T", 16ull << 40},
      {"100B", 100},
      {"0.1K", 102}, /* rounded down to whole bytes */
      {"18446744073709551615", UINT64_MAX},
      {"16777215T", UINT64_MAX - (1ull << 40) + 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint64_t got = 12345;
    mmc_error_t err = {0};
    int rc = mmt_parse_size(cases[i].text, &got, &err);
    if (rc || got != cases[i].bytes)
      fail_msg("'%s': rc %d (%s), got %llu, expected %llu", cases[i].text, rc, err.msg,
               (unsigned long long)got, (unsigned long long)cases[i].bytes);
  }
}

static void test_size_invalid(void **state) {
  static const struct {
    const char *text;
    int code;
    const char *frag;
  } cases[] = {
      {"", MMC_EINVAL, "empty"},
      {"-1G", MMC_EINVAL, "negative"},
      {"abc", MMC_EINVAL, "'abc'"},
      {" 1G", MMC_EINVAL, "' 1G'"},
      {"1 G", MMC_EINVAL, "'1 G'"},
      {"1Q", MMC_EINVAL, "unknown unit 'Q'"},
      {"1GBB", MMC_EINVAL, "unknown unit"},
      {"1iB", MMC_EINVAL, "unknown unit"},
      {"1.", MMC_EINVAL, "decimal point"},
      {"1.5.5G", MMC_EINVAL, "unknown unit"},
      {"1.5", MMC_EINVAL, "fraction of a byte"},
      {"18446744073709551616", MMC_ERANGE, "too large"},
      {"16777216T", MMC_ERANGE, "too large"},
      {"99999999999999999999999G", MMC_ERANGE, "too large"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint64_t got = 777;
    mmc_error_t err = {0};
    int rc = mmt_parse_size(cases[i].text, &got, &err);
    if (rc != cases[i].code || !strstr(err.msg, cases[i].frag))
      fail_msg("'%s': rc %d, message '%s', expected %s with '%s'", cases[i].text, rc, err.msg,
               mmc_status_name(cases[i].code), cases[i].frag);
    assert_int_equal(got, 777); /* untouched on error */
  }
}

/* ---------------------------------------------------------------- this machine */

/* The kernel's own view: /sys/devices/system/node/nodeN/{distance,meminfo}. */
static int sys_distances(uint32_t os, uint32_t *row, uint32_t max) {
  char path[96];
  snprintf(path, sizeof path, "/sys/devices/system/node/node%u/distance", os);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  int n = 0;
  while (n < (int)max && fscanf(f, "%u", &row[n]) == 1)
    n++;
  fclose(f);
  return n;
}

static void test_this_machine(void **state) {
  mmt_topology_t *t = load_ok(NULL);
  check_invariants(t);
  assert_true(t->is_this_machine);
  assert_string_equal(t->source, "this machine");
  uint32_t real = 0;
  for (uint32_t i = 0; i < t->desc.nnodes; i++) {
    const mmc_node_t *n = &t->desc.nodes[i];
    char path[96];
    snprintf(path, sizeof path, "/sys/devices/system/node/node%u", n->os_index);
    assert_int_equal(n->real, access(path, F_OK) == 0);
    real += n->real;
  }
  if (access("/sys/devices/system/node", F_OK) == 0)
    assert_true(real >= 1);
  assert_true(t->npus >= 1);
  assert_true(t->npus <= (uint32_t)sysconf(_SC_NPROCESSORS_CONF));
  assert_true(t->desc.ncores >= 1 && t->desc.ncores <= t->npus);

  /* The CPU this test runs on belongs to some node. */
  int cpu = sched_getcpu();
  bool found = false;
  for (uint32_t i = 0; i < t->desc.nnodes; i++)
    for (uint32_t c = 0; c < t->desc.nodes[i].ncpus; c++)
      found |= t->desc.nodes[i].cpus[c] == (uint32_t)cpu;
  assert_true(cpu < 0 || found);

  /* Memory and distances agree with the kernel's per-node files; the kernel
   * lists distances to every online node by OS id, so compare by OS id. */
  uint64_t phys = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
  uint64_t total = 0;
  for (uint32_t i = 0; i < t->desc.nnodes; i++)
    total += t->desc.nodes[i].memory_bytes;
  assert_true(total > 0 && total <= phys + phys / 10);
  for (uint32_t i = 0; i < t->desc.nnodes; i++) {
    uint32_t row[MMC_MAX_NODES * 2];
    int n = sys_distances(t->desc.nodes[i].os_index, row, MMC_MAX_NODES * 2);
    if (n != (int)t->desc.nnodes)
      continue; /* offline/disallowed nodes in the kernel list: not comparable */
    for (uint32_t j = 0; j < t->desc.nnodes; j++)
      assert_int_equal(mmt_distance(t, i, j), row[j]);
  }
  assert_true(t->desc.cpu_mhz < 100000);
  mmt_free(t);
}

/* HWLOC_XMLFILE (even with HWLOC_THISSYSTEM=1) makes hwloc describe another
 * machine: nothing of it may be called real. */
static void test_this_machine_redirected(void **state) {
  setenv("HWLOC_XMLFILE", FIXTURES "topo-gapped-ids.xml", 1);
  setenv("HWLOC_THISSYSTEM", "1", 1);
  mmt_topology_t *t = NULL;
  mmc_error_t err = {0};
  int rc = mmt_load(NULL, &t, &err);
  unsetenv("HWLOC_XMLFILE");
  unsetenv("HWLOC_THISSYSTEM");
  if (rc)
    fail_msg("%s", err.msg);
  check_invariants(t);
  assert_false(t->is_this_machine);
  assert_int_equal(t->desc.nnodes, 3);
  for (uint32_t i = 0; i < t->desc.nnodes; i++)
    assert_false(t->desc.nodes[i].real);
  assert_non_null(strstr(t->source, "redirected"));
  mmt_free(t);
}

/* The measured matrix: on this machine's real nodes a pointer chase gives a
 * plausible load latency and a well-formed matrix; emulated nodes refuse. */
static void test_measure_distances(void **state) {
  mmt_topology_t *t = load_ok(NULL);
  uint32_t n = t->desc.nnodes;
  double *ns = calloc((size_t)n * n, sizeof *ns);
  assert_non_null(ns);
  cpu_set_t before, after;
  assert_int_equal(sched_getaffinity(0, sizeof before, &before), 0);
  mmc_error_t err = {0};
  assert_int_equal(mmt_measure_distances(t, 1000, ns, &err), MMC_EINVAL);
  int rc = mmt_measure_distances(t, 4u << 20, ns, &err);
  assert_int_equal(sched_getaffinity(0, sizeof after, &after), 0);
  assert_true(CPU_EQUAL(&before, &after));
  if (rc == MMC_ENOTSUP) {
    free(ns);
    mmt_free(t);
    test_skip("measured distances: %s", err.msg);
  }
  if (rc)
    fail_msg("%s", err.msg);
  assert_non_null(strstr(t->distance_origin, "measured"));
  assert_false(t->distances_from_firmware);
  for (uint32_t i = 0; i < n; i++) {
    assert_int_equal(mmt_distance(t, i, i), 10);
    if (t->desc.nodes[i].ncpus && t->desc.nodes[i].memory_bytes)
      assert_true(ns[i * n + i] > 0.1 && ns[i * n + i] < 10000.0);
    for (uint32_t j = 0; j < n; j++)
      if (i != j)
        assert_true(mmt_distance(t, i, j) > 10);
  }
  printf("# local load latency on node %u: %.1f ns\n", t->desc.nodes[0].os_index, ns[0]);
  free(ns);
  mmt_free(t);

  t = load_ok("builtin:2");
  assert_int_equal(mmt_measure_distances(t, 0, NULL, &err), MMC_ENOTSUP);
  assert_non_null(strstr(err.msg, "emulated"));
  assert_int_equal(mmt_distance(t, 0, 1), 21); /* unchanged */
  mmt_free(t);
}

/* ---------------------------------------------------------------- fixtures */

static void test_xml_gapped_ids(void **state) {
  mmt_topology_t *t = load_ok(FIXTURES "topo-gapped-ids.xml");
  check_invariants(t);
  assert_false(t->is_this_machine);
  assert_int_equal(t->desc.nnodes, 3);
  static const uint32_t os[] = {0, 2, 5};
  static const uint64_t mem[] = {1 * GIB, 2 * GIB, 4 * GIB};
  for (uint32_t i = 0; i < 3; i++) {
    const mmc_node_t *n = &t->desc.nodes[i];
    assert_int_equal(n->os_index, os[i]);
    assert_int_equal(n->memory_bytes, mem[i]);
    assert_int_equal(n->ncpus, 2);
    assert_int_equal(n->cpus[0], 2 * i);
    assert_int_equal(n->cpus[1], 2 * i + 1);
    assert_int_equal(n->ncores, 2);
    assert_false(n->real);
  }
  assert_int_equal(t->desc.ncores, 6);
  assert_int_equal(t->npus, 6);
  static const uint32_t d[] = {10, 21, 31, 21, 10, 21, 31, 21, 10};
  expect_matrix(t, d);
  assert_true(t->distances_from_firmware);
  assert_non_null(strstr(t->distance_origin, "file"));
  assert_int_equal(t->desc.cpu_mhz, 0); /* the file names no frequency */
  mmt_free(t);
}

static void test_xml_memory_only(void **state) {
  mmt_topology_t *t = load_ok(FIXTURES "topo-memory-only.xml");
  check_invariants(t);
  assert_int_equal(t->desc.nnodes, 3);
  const mmc_node_t *n = t->desc.nodes;
  /* Node 0 (DDR) owns the CPUs its MCDRAM sibling shares in hwloc. */
  assert_int_equal(n[0].ncpus, 4);
  assert_int_equal(n[0].ncores, 2);
  assert_int_equal(n[0].memory_bytes, 2 * GIB);
  assert_int_equal(n[1].ncpus, 0);
  assert_null(n[1].cpus);
  assert_int_equal(n[1].ncores, 0);
  assert_int_equal(n[1].memory_bytes, 4 * GIB);
  assert_int_equal(n[2].ncpus, 0);
  assert_int_equal(n[2].memory_bytes, 8 * GIB);
  assert_int_equal(t->desc.ncores, 2);
  assert_int_equal(t->npus, 4);
  /* No matrix in the file: assumed, and said so. */
  static const uint32_t d[] = {10, 20, 20, 20, 10, 20, 20, 20, 10};
  expect_matrix(t, d);
  assert_false(t->distances_from_firmware);
  assert_non_null(strstr(t->distance_origin, "assumed"));
  char *out = print_to_string(t);
  assert_non_null(strstr(out, "memory-only"));
  assert_non_null(strstr(out, "assumed"));
  free(out);
  mmt_free(t);
}

static void test_xml_no_memory(void **state) {
  mmt_topology_t *t = load_ok(FIXTURES "topo-no-memory.xml");
  check_invariants(t);
  assert_int_equal(t->desc.nnodes, 2);
  assert_int_equal(t->desc.nodes[0].memory_bytes, GIB);
  assert_int_equal(t->desc.nodes[1].memory_bytes, 0);
  assert_int_equal(t->desc.nodes[1].ncpus, 2);
  static const uint32_t d[] = {10, 20, 20, 10};
  expect_matrix(t, d);
  assert_true(t->distances_from_firmware); /* given by the file, though 10/20 */
  char *out = print_to_string(t);
  assert_non_null(strstr(out, "no memory"));
  free(out);
  /* Capping leaves the memory-less node at 0 and gives the rest to node 0. */
  mmc_error_t err = {0};
  assert_int_equal(mmt_cap_memory(t, GIB / 2, &err), 0);
  assert_int_equal(t->desc.nodes[0].memory_bytes, GIB / 2);
  assert_int_equal(t->desc.nodes[1].memory_bytes, 0);
  mmt_free(t);
}

static void test_xml_restricted(void **state) {
  mmt_topology_t *t = load_ok(FIXTURES "topo-restricted.xml");
  check_invariants(t);
  /* Only the allowed nodes 0 and 2 and their PUs, as lstopo shows. */
  assert_int_equal(t->desc.nnodes, 2);
  assert_int_equal(t->desc.nodes[0].os_index, 0);
  assert_int_equal(t->desc.nodes[1].os_index, 2);
  assert_int_equal(t->desc.nodes[1].cpus[0], 4);
  assert_int_equal(t->desc.nodes[1].cpus[1], 5);
  assert_int_equal(t->npus, 4);
  static const uint32_t d[] = {10, 30, 30, 10};
  expect_matrix(t, d);
  /* The file's only matrix is user-given: used, but not called firmware. */
  assert_false(t->distances_from_firmware);
  assert_non_null(strstr(t->distance_origin, "user-provided"));
  mmt_free(t);
}

/* ---------------------------------------------------------------- synthetic, builtin */

static void test_synthetic_distances(void **state) {
  mmt_topology_t *t = load_ok("synthetic:pack:2 node:2 core:4 pu:2;"
                              "distances=10,21,31,31,21,10,31,31,31,31,10,21,31,31,21,10;"
                              "memory=1.5G");
  check_invariants(t);
  assert_false(t->is_this_machine);
  assert_int_equal(t->desc.nnodes, 4);
  assert_int_equal(t->desc.ncores, 16);
  assert_int_equal(t->npus, 32);
  for (uint32_t i = 0; i < 4; i++) {
    assert_int_equal(t->desc.nodes[i].os_index, i);
    assert_int_equal(t->desc.nodes[i].ncpus, 8);
    assert_int_equal(t->desc.nodes[i].ncores, 4);
    assert_int_equal(t->desc.nodes[i].memory_bytes, 3 * GIB / 2);
    assert_false(t->desc.nodes[i].real);
  }
  static const uint32_t d[] = {10, 21, 31, 31, 21, 10, 31, 31, 31, 31, 10, 21, 31, 31, 21, 10};
  expect_matrix(t, d);
  assert_false(t->distances_from_firmware);
  assert_non_null(strstr(t->distance_origin, "synthetic"));
  assert_non_null(strstr(t->source, "synthetic:pack:2"));
  mmt_free(t);
}

static void test_synthetic_defaults(void **state) {
  /* No matrix, no memory=: hwloc's default node size, assumed distances. */
  mmt_topology_t *t = load_ok("synthetic:node:3 core:2 pu:1");
  check_invariants(t);
  assert_int_equal(t->desc.nnodes, 3);
  for (uint32_t i = 0; i < 3; i++) {
    assert_true(t->desc.nodes[i].memory_bytes > 0);
    assert_int_equal(t->desc.nodes[i].memory_bytes, t->desc.nodes[0].memory_bytes);
  }
  assert_int_equal(mmt_distance(t, 0, 0), 10);
  assert_int_equal(mmt_distance(t, 0, 2), 20);
  assert_false(t->distances_from_firmware);
  assert_non_null(strstr(t->distance_origin, "assumed"));
  mmt_free(t);
}

static void test_builtin(void **state) {
  static const uint32_t sizes[] = {2, 4, 8};
  for (size_t k = 0; k < 3; k++) {
    char spec[32];
    snprintf(spec, sizeof spec, "builtin:%u", sizes[k]);
    mmt_topology_t *t = load_ok(spec);
    check_invariants(t);
    uint32_t n = t->desc.nnodes;
    assert_int_equal(n, sizes[k]);
    assert_false(t->is_this_machine);
    assert_non_null(strstr(t->distance_origin, "built-in"));
    uint32_t distinct_remote[64] = {0}, ndistinct = 0;
    for (uint32_t i = 0; i < n; i++) {
      assert_int_equal(t->desc.nodes[i].ncores, 4);
      assert_int_equal(t->desc.nodes[i].memory_bytes, 2 * GIB);
      assert_false(t->desc.nodes[i].real);
      for (uint32_t j = 0; j < n; j++) {
        uint32_t v = mmt_distance(t, i, j);
        assert_int_equal(v, mmt_distance(t, j, i));
        if (i == j) {
          assert_int_equal(v, 10);
          continue;
        }
        assert_true(v > 10);
        bool seen = false;
        for (uint32_t s = 0; s < ndistinct; s++)
          seen |= distinct_remote[s] == v;
        if (!seen)
          distinct_remote[ndistinct++] = v;
      }
    }
    /* 4 and 8 nodes are asymmetric machines: more than one remote distance. */
    assert_true(ndistinct == 1 || sizes[k] > 2);
    if (sizes[k] > 2)
      assert_true(ndistinct >= 2);
    mmt_free(t);
  }
}

/* ---------------------------------------------------------------- bad input */

static void test_bad_files(void **state) {
  load_fails(FIXTURES "does-not-exist.xml", MMC_ENOENT, "does-not-exist.xml", NULL);
  load_fails(FIXTURES "topo-not-xml.txt", MMC_EINVAL, "topo-not-xml.txt", "not hwloc XML", NULL);
  load_fails(FIXTURES "topo-truncated.xml", MMC_EINVAL, "topo-truncated.xml", "cannot load", NULL);
  load_fails(FIXTURES, MMC_EINVAL, "not a regular file", NULL);
}

static void test_bad_specs(void **state) {
  load_fails("builtin:3", MMC_EINVAL, "builtin:3", "builtin:2, builtin:4, builtin:8", NULL);
  load_fails("builtin:16", MMC_EINVAL, "allowed", NULL);
  load_fails("builtin:", MMC_EINVAL, "allowed", NULL);
  load_fails("builtin:04", MMC_EINVAL, "allowed", NULL);
  load_fails("synthetic:", MMC_EINVAL, "empty description", NULL);
  load_fails("synthetic:bogus:3 pu:1", MMC_EINVAL, "'bogus:3 pu:1'", "hwloc rejects", NULL);
  load_fails("synthetic:node:2 pu:1;colour=red", MMC_EINVAL, "unknown option 'colour=red'", NULL);
  load_fails("synthetic:node:2 pu:1;memory=1G;memory=2G", MMC_EINVAL, "given twice", NULL);
  load_fails("synthetic:node:2 pu:1;memory=lots", MMC_EINVAL, "'lots'", NULL);
  load_fails("synthetic:node:2 pu:1;memory=-1G", MMC_EINVAL, "negative", NULL);
  load_fails("synthetic:node:2 pu:1;memory=100", MMC_EINVAL, "less than one page", NULL);
  load_fails("synthetic:node:65 pu:1", MMC_EINVAL, "65 NUMA nodes", "at most 64", NULL);
}

static void test_bad_distances(void **state) {
  load_fails("synthetic:node:2 pu:1;distances=10,20,20", MMC_EINVAL, "3 values given", "needs 4",
             NULL);
  load_fails("synthetic:node:2 pu:1;distances=10,20,20,10,10", MMC_EINVAL, "5 values given", NULL);
  load_fails("synthetic:node:2 pu:1;distances=10,20,x,10", MMC_EINVAL, "#3 ('x', row 1, column 0)",
             NULL);
  load_fails("synthetic:node:2 pu:1;distances=10,0,20,10", MMC_EINVAL, "#2 ('0', row 0, column 1)",
             NULL);
  load_fails("synthetic:node:2 pu:1;distances=10,-20,20,10", MMC_EINVAL, "#2 ('-20'", NULL);
  load_fails("synthetic:node:2 pu:1;distances=10,20,,10", MMC_EINVAL, "#3 (''", NULL);
  load_fails("synthetic:node:2 pu:1;distances=10,20,5,10", MMC_EINVAL, "row 1",
             "not smaller than 5 at column 0", NULL);
  load_fails("synthetic:node:2 pu:1;distances=10,10,20,10", MMC_EINVAL, "row 0", NULL);
  load_fails("synthetic:node:2 pu:1;distances=10,20,20,99999999999", MMC_EINVAL, "#4", NULL);
}

/* ---------------------------------------------------------------- cap, distance, print */

static void test_cap_memory(void **state) {
  mmt_topology_t *t = load_ok(FIXTURES "topo-gapped-ids.xml"); /* 1, 2, 4 GiB */
  mmc_error_t err = {0};
  /* Above the total: nothing changes. */
  assert_int_equal(mmt_cap_memory(t, 100 * GIB, &err), 0);
  assert_int_equal(t->desc.nodes[2].memory_bytes, 4 * GIB);
  /* 3.5 GiB of 7: half of each node. */
  assert_int_equal(mmt_cap_memory(t, 7 * GIB / 2, &err), 0);
  assert_int_equal(t->desc.nodes[0].memory_bytes, GIB / 2);
  assert_int_equal(t->desc.nodes[1].memory_bytes, GIB);
  assert_int_equal(t->desc.nodes[2].memory_bytes, 2 * GIB);
  /* An odd cap: page multiples, in proportion, never above the cap. */
  uint64_t cap = 1000000007ull;
  assert_int_equal(mmt_cap_memory(t, cap, &err), 0);
  uint64_t sum = 0;
  for (uint32_t i = 0; i < 3; i++) {
    assert_int_equal(t->desc.nodes[i].memory_bytes % MMC_PAGE_SIZE, 0);
    sum += t->desc.nodes[i].memory_bytes;
  }
  assert_true(sum <= cap && sum > cap - 3 * MMC_PAGE_SIZE);
  assert_true(t->desc.nodes[2].memory_bytes / MMC_PAGE_SIZE ==
              2 * (t->desc.nodes[1].memory_bytes / MMC_PAGE_SIZE));
  /* Tiny nodes keep a page without pushing the sum over the cap. */
  mmc_node_t nodes[3] = {{.memory_bytes = MMC_PAGE_SIZE},
                         {.os_index = 1, .memory_bytes = GIB},
                         {.os_index = 2, .memory_bytes = MMC_PAGE_SIZE}};
  mmt_topology_t hand = {.desc = {.nnodes = 3, .nodes = nodes}, .nodes = nodes};
  assert_int_equal(mmt_cap_memory(&hand, 4 * MMC_PAGE_SIZE, &err), 0);
  assert_int_equal(nodes[0].memory_bytes, MMC_PAGE_SIZE);
  assert_int_equal(nodes[1].memory_bytes, 2 * MMC_PAGE_SIZE);
  assert_int_equal(nodes[2].memory_bytes, MMC_PAGE_SIZE);
  /* Below one page per node: refused, sizes kept. */
  uint64_t before = t->desc.nodes[0].memory_bytes;
  assert_int_equal(mmt_cap_memory(t, 2 * MMC_PAGE_SIZE, &err), MMC_ERANGE);
  assert_non_null(strstr(err.msg, "one page"));
  assert_int_equal(t->desc.nodes[0].memory_bytes, before);
  mmt_free(t);
}

static void test_distance_out_of_range(void **state) {
  mmt_topology_t *t = load_ok("builtin:2");
  assert_int_equal(mmt_distance(t, 0, 1), 21);
  assert_int_equal(mmt_distance(t, 5, 5), 10);
  assert_int_equal(mmt_distance(t, 0, 9), 20);
  mmt_free(t);
}

static void test_print(void **state) {
  mmt_topology_t *t = load_ok(FIXTURES "topo-gapped-ids.xml");
  char *out = print_to_string(t);
  assert_non_null(strstr(out, "topo-gapped-ids.xml"));
  assert_non_null(strstr(out, "OS id"));
  assert_non_null(strstr(out, "emulated"));
  assert_non_null(strstr(out, "4.0 GiB"));
  assert_non_null(strstr(out, "firmware table"));
  assert_non_null(strstr(out, "   31"));
  free(out);

  /* CPU lists print compactly: a hand-made node with runs and a single. */
  static const uint32_t cpus[] = {0, 1, 2, 3, 8, 9, 10, 11, 13};
  mmc_node_t node = {.os_index = 7, .memory_bytes = GIB, .ncpus = 9, .cpus = cpus, .ncores = 9};
  uint32_t dist = 10;
  mmt_topology_t hand = {.desc = {.nnodes = 1, .nodes = &node, .distance = &dist, .ncores = 9},
                         .distance_origin = "test",
                         .npus = 9};
  snprintf(hand.source, sizeof hand.source, "hand-made");
  out = print_to_string(&hand);
  assert_non_null(strstr(out, "0-3,8-11,13"));
  assert_non_null(strstr(out, "frequency unknown"));
  free(out);

  mmt_free(t);
}

/* Golden printouts (the .print files in tests/fixtures); MMCERT_REGENERATE=1 rewrites
 * them on purpose. The source line names the file without its directory so
 * the output does not depend on where the checkout is. */
static void test_print_golden(void **state) {
  static const struct {
    const char *spec, *name, *golden;
  } cases[] = {
      {FIXTURES "topo-gapped-ids.xml", "topo-gapped-ids.xml", "topo-gapped-ids.print"},
      {FIXTURES "topo-memory-only.xml", "topo-memory-only.xml", "topo-memory-only.print"},
      {"builtin:4", NULL, "builtin-4.print"},
  };
  const char *regen = getenv("MMCERT_REGENERATE");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    mmt_topology_t *t = load_ok(cases[i].spec);
    if (cases[i].name)
      snprintf(t->source, sizeof t->source, "%s", cases[i].name);
    t->desc.cpu_mhz = 0; /* builtin: this machine's clock, not golden */
    char *out = print_to_string(t);
    char path[512];
    snprintf(path, sizeof path, FIXTURES "%s", cases[i].golden);
    if (regen && strcmp(regen, "1") == 0) {
      FILE *f = fopen(path, "w");
      assert_non_null(f);
      fputs(out, f);
      fclose(f);
    }
    FILE *f = fopen(path, "r");
    if (!f)
      fail_msg("%s is missing; run with MMCERT_REGENERATE=1 to create it", path);
    char want[8192];
    size_t len = fread(want, 1, sizeof want - 1, f);
    fclose(f);
    want[len] = '\0';
    if (strcmp(out, want) != 0)
      fail_msg("mmt_print(%s) differs from %s:\n%s", cases[i].spec, path, out);
    free(out);
    mmt_free(t);
  }
}

/* ---------------------------------------------------------------- real machines vs lstopo */

/* What lstopo says about one file: nodes (os id, memory), PUs, the matrix. */
typedef struct lstopo_view {
  uint32_t nnodes;
  uint32_t os[MMC_MAX_NODES * 2];
  uint64_t mem[MMC_MAX_NODES * 2];
  uint32_t npus;
  bool have_matrix;
  uint32_t dist[MMC_MAX_NODES * MMC_MAX_NODES]; /* by our node order (ascending os id) */
} lstopo_view_t;

static char *run(const char *cmd) {
  FILE *p = popen(cmd, "r");
  if (!p)
    return NULL;
  size_t cap = 1 << 16, len = 0, got;
  char *buf = malloc(cap);
  while (buf && (got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
    len += got;
    if (cap - len < 1024) {
      char *bigger = realloc(buf, cap *= 2);
      if (!bigger)
        free(buf);
      buf = bigger;
    }
  }
  int status = pclose(p);
  if (!buf || status != 0) {
    free(buf);
    return NULL;
  }
  buf[len] = '\0';
  return buf;
}

static const char *attr_in_tag(const char *tag, const char *end, const char *name) {
  char key[48];
  snprintf(key, sizeof key, " %s=\"", name);
  const char *a = strstr(tag, key);
  return a && a < end ? a + strlen(key) : NULL;
}

/* `lstopo --of xml`: NUMANode objects (os_index, local_memory) and PUs. */
static void parse_lstopo_xml(const char *xml, lstopo_view_t *v) {
  for (const char *p = xml; (p = strstr(p, "<object type=\"")); p++) {
    const char *end = strchr(p, '>');
    assert_non_null(end);
    if (strncmp(p, "<object type=\"PU\"", 17) == 0)
      v->npus++;
    if (strncmp(p, "<object type=\"NUMANode\"", 23) != 0)
      continue;
    assert_true(v->nnodes < MMC_MAX_NODES * 2);
    const char *os = attr_in_tag(p, end, "os_index");
    const char *mem = attr_in_tag(p, end, "local_memory");
    assert_non_null(os);
    v->os[v->nnodes] = (uint32_t)strtoul(os, NULL, 10);
    v->mem[v->nnodes] = mem ? strtoull(mem, NULL, 10) : 0;
    v->nnodes++;
  }
  /* Our order: ascending os id (insertion sort, n is small). */
  for (uint32_t i = 1; i < v->nnodes; i++)
    for (uint32_t j = i; j > 0 && v->os[j] < v->os[j - 1]; j--) {
      uint32_t o = v->os[j];
      uint64_t m = v->mem[j];
      v->os[j] = v->os[j - 1];
      v->mem[j] = v->mem[j - 1];
      v->os[j - 1] = o;
      v->mem[j - 1] = m;
    }
}

static int index_of_os(const lstopo_view_t *v, uint32_t os) {
  for (uint32_t i = 0; i < v->nnodes; i++)
    if (v->os[i] == os)
      return (int)i;
  return -1;
}

/* `lstopo -p --distances`: the NUMANode latency matrices, by physical index.
 * Pick as mmcert documents: one covering every node, from the OS first. */
static void parse_lstopo_distances(const char *text, lstopo_view_t *v) {
  for (int pass = 0; pass < 2 && !v->have_matrix; pass++) {
    for (const char *p = text; (p = strstr(p, "Relative latency matrix (name ")); p++) {
      const char *kind = strstr(p, " kind ");
      const char *eol = strchr(p, '\n');
      unsigned long k;
      unsigned n;
      if (!kind || !eol || kind > eol ||
          sscanf(kind, " kind %lu) between %u NUMANodes", &k, &n) != 2)
        continue;
      if ((pass == 0) != ((k & 1) != 0) || n != v->nnodes)
        continue;
      /* Header: " index  os os os ...", then n rows "os v v v". */
      const char *q = eol + 1;
      q += strspn(q, " ");
      assert_int_equal(strncmp(q, "index", 5), 0);
      q += 5;
      int col[MMC_MAX_NODES * 2];
      for (unsigned c = 0; c < n; c++) {
        char *e;
        col[c] = index_of_os(v, (uint32_t)strtoul(q, &e, 10));
        q = e;
      }
      for (unsigned r = 0; r < n; r++) {
        char *e;
        int row = index_of_os(v, (uint32_t)strtoul(q, &e, 10));
        q = e;
        for (unsigned c = 0; c < n; c++) {
          unsigned long val = strtoul(q, &e, 10);
          q = e;
          assert_true(row >= 0 && col[c] >= 0);
          v->dist[(unsigned)row * n + (unsigned)col[c]] = (uint32_t)val;
        }
      }
      v->have_matrix = true;
      break;
    }
  }
}

static void test_shared_topology(void **state) {
  const char *path = *state;
  if (access(MMCERT_LSTOPO, X_OK) != 0) {
    test_skip("%s: %s is not installed", path, MMCERT_LSTOPO);
  }
  char cmd[1024];
  lstopo_view_t *v = calloc(1, sizeof *v);
  assert_non_null(v);
  snprintf(cmd, sizeof cmd, "%s --input '%s' --of xml - 2>/dev/null", MMCERT_LSTOPO, path);
  char *xml = run(cmd);
  assert_non_null(xml);
  parse_lstopo_xml(xml, v);
  free(xml);
  snprintf(cmd, sizeof cmd, "%s --input '%s' -p --distances 2>/dev/null", MMCERT_LSTOPO, path);
  char *text = run(cmd);
  assert_non_null(text);
  parse_lstopo_distances(text, v);
  free(text);

  mmt_topology_t *t = NULL;
  mmc_error_t err = {0};
  int rc = mmt_load(path, &t, &err);
  if (v->nnodes > MMC_MAX_NODES) {
    assert_int_equal(rc, MMC_EINVAL);
    assert_non_null(strstr(err.msg, "at most"));
    free(v);
    return;
  }
  if (rc)
    fail_msg("%s: %s", path, err.msg);
  check_invariants(t);
  uint32_t n = t->desc.nnodes;
  assert_int_equal(n, v->nnodes);
  assert_int_equal(t->npus, v->npus);
  for (uint32_t i = 0; i < n; i++) {
    assert_int_equal(t->desc.nodes[i].os_index, v->os[i]);
    assert_int_equal(t->desc.nodes[i].memory_bytes, v->mem[i]);
    assert_false(t->desc.nodes[i].real);
  }
  for (uint32_t i = 0; i < n; i++)
    for (uint32_t j = 0; j < n; j++) {
      uint32_t want = v->have_matrix ? v->dist[i * n + j] : i == j ? 10 : 20;
      if (mmt_distance(t, i, j) != want)
        fail_msg("%s: distance %u->%u (os %u->%u) is %u, lstopo says %u", path, i, j, v->os[i],
                 v->os[j], mmt_distance(t, i, j), want);
    }
  assert_int_equal(t->distances_from_firmware, v->have_matrix);
  mmt_free(t);
  free(v);
}

static void test_shared_topologies_missing(void **state) {
  test_skip("%s", (const char *)*state);
}

/* ../shared/topologies beside the checkout (CI) or beside the worktree. */
static const char *shared_dir(void) {
  static const char *const candidates[] = {MMCERT_SOURCE_DIR "/../shared/topologies",
                                           MMCERT_SOURCE_DIR "/../../shared/topologies"};
  const char *env = getenv("MMCERT_TOPOLOGIES");
  if (env && *env)
    return env;
  for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++)
    if (access(candidates[i], R_OK | X_OK) == 0)
      return candidates[i];
  return NULL;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void) {
  static const struct CMUnitTest fixed[] = {
      cmocka_unit_test(test_size_valid),
      cmocka_unit_test(test_size_invalid),
      cmocka_unit_test(test_this_machine),
      cmocka_unit_test(test_this_machine_redirected),
      cmocka_unit_test(test_measure_distances),
      cmocka_unit_test(test_xml_gapped_ids),
      cmocka_unit_test(test_xml_memory_only),
      cmocka_unit_test(test_xml_no_memory),
      cmocka_unit_test(test_xml_restricted),
      cmocka_unit_test(test_synthetic_distances),
      cmocka_unit_test(test_synthetic_defaults),
      cmocka_unit_test(test_builtin),
      cmocka_unit_test(test_bad_files),
      cmocka_unit_test(test_bad_specs),
      cmocka_unit_test(test_bad_distances),
      cmocka_unit_test(test_cap_memory),
      cmocka_unit_test(test_distance_out_of_range),
      cmocka_unit_test(test_print),
      cmocka_unit_test(test_print_golden),
  };
  size_t nfixed = sizeof fixed / sizeof fixed[0];

  /* One test per real-machine file, in one group so TAP has one plan. */
  char **paths = NULL;
  size_t npaths = 0;
  const char *dir = shared_dir();
  DIR *d = dir ? opendir(dir) : NULL;
  for (struct dirent *e; d && (e = readdir(d));) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".xml") != 0)
      continue;
    char **more = realloc(paths, (npaths + 1) * sizeof *paths);
    if (!more)
      return 1;
    paths = more;
    if (asprintf(&paths[npaths++], "%s/%s", dir, e->d_name) < 0)
      return 1;
  }
  if (d)
    closedir(d);
  if (npaths) /* qsort(NULL, 0) is undefined (UBSAN stops the test) */
    qsort(paths, npaths, sizeof *paths, by_name);

  struct CMUnitTest *all = calloc(nfixed + (npaths ? npaths : 1), sizeof *all);
  if (!all)
    return 1;
  memcpy(all, fixed, sizeof fixed);
  size_t ntests = nfixed;
  static char missing[512];
  if (npaths == 0) {
    if (dir)
      snprintf(missing, sizeof missing, "real-machine topologies: no *.xml in %s", dir);
    else
      snprintf(missing, sizeof missing,
               "real-machine topologies: ../shared/topologies is not beside the checkout (set "
               "MMCERT_TOPOLOGIES=DIR to point at hwloc XML exports)");
    all[ntests++] = (struct CMUnitTest){"shared_topologies", test_shared_topologies_missing, NULL,
                                        NULL, missing};
  }
  for (size_t i = 0; i < npaths; i++) {
    const char *base = strrchr(paths[i], '/') + 1;
    all[ntests++] = (struct CMUnitTest){base, test_shared_topology, NULL, NULL, paths[i]};
  }
  int failed = _cmocka_run_group_tests("topology", all, ntests, NULL, NULL);
  for (size_t i = 0; i < npaths; i++)
    free(paths[i]);
  free(paths);
  free(all);
  return failed;
}
