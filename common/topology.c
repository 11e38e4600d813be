/*
 * topology.c — host topologies from hwloc (used by the NUMA-* cases and by
 * the reference implementation's node model).
 *
 * One loader per source, side by side as in hwloc: this machine (hwloc
 * discovery), an hwloc XML file, an hwloc synthetic string with an optional
 * distance matrix and memory size, and the built-in emulated topologies
 * (which are synthetic strings with a fixed distance table). All of them end
 * in fill_from_hwloc(), which turns an hwloc topology into the contract's
 * plain mmc_topology_t, so nothing downstream needs hwloc.
 *
 * Choices, and why:
 * - Nodes are ordered by OS index (what numactl and /sys show), not by hwloc's
 *   logical index; os_index keeps the firmware's number, gaps included.
 * - Only allowed nodes and PUs are kept (hwloc's default, and what
 *   `lstopo-no-graphics --input FILE` shows): a restricted cpuset/nodeset in
 *   a file, or this process's cgroup on this machine, hides the rest, since
 *   the implementation could not use them.
 * - In hwloc 2 a NUMA node's cpuset is its locality, so several nodes can
 *   share CPUs (KNL: DDR + MCDRAM under one parent). Each PU is given to one
 *   node, as Linux does: the lowest-OS-index node containing it with no hwloc
 *   subtype (plain DRAM), else the lowest-OS-index one containing it. The
 *   others are memory-only (ncpus = 0).
 * - Distances: hwloc's NUMA latency matrix covering every node, preferring
 *   one from the OS (ACPI SLIT) over a user-provided one. Without one the
 *   matrix is 10 local / 20 remote and distance_origin says it is assumed.
 *   Matrices from files are taken as they are (a note in mmt_print points
 *   out odd rows); matrices typed in a synthetic string must be well formed.
 * - XML and synthetic topologies are never this system, whatever
 *   HWLOC_THISSYSTEM says: their nodes are emulated and nothing is bound.
 *   Nor is "this machine" when HWLOC_XMLFILE/HWLOC_SYNTHETIC/HWLOC_FSROOT
 *   redirect hwloc's discovery.
 *
 * Invariants of a loaded topology: 1 <= nnodes <= MMC_MAX_NODES; node os
 * indices strictly increase; every PU appears in at most one node's cpus,
 * each list ascending; distance is always a full nnodes*nnodes matrix of
 * positive values; real is true only for kernel NUMA nodes of this machine.
 */
#include <ctype.h>
#include <errno.h>
#include <hwloc.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmc_error.h"
#include "mmc_topology.h"

#define LOCAL_DISTANCE 10u  /* ACPI SLIT convention */
#define REMOTE_DISTANCE 20u /* assumed when the source has no matrix */
#define DISTANCE_MAX 1000000u
/* Ours, for synthetic descriptions: a described host this large is a typo,
 * not a machine, and hwloc's synthetic build slows with the square of the
 * children under one parent: 'node:64 pu:1024' (65536 PUs) and 'node:4
 * pu:4096' did not finish in 30 s, 'node:1 pu:4096' took 6 s, 'node:4
 * pu:1024' 1.4 s, 'node:64 core:16 pu:4' 0.25 s (2 loaded cores). */
#define SYNTHETIC_MAX_PUS 4096u
#define SYNTHETIC_MAX_ARITY 1024u

/* Built-in emulated topologies (used when this machine has one node). */
#define BUILTIN_CORES_PER_NODE 4u
#define BUILTIN_NODE_MEMORY (2ull << 30)
#define BUILTIN_SAME_PACKAGE 16u /* two nodes in one package (cluster-on-die) */
#define BUILTIN_NEXT_PACKAGE 22u /* neighbouring package in the ring */
#define BUILTIN_FAR_PACKAGE 28u  /* two hops away */
#define BUILTIN_TWO_NODE 21u     /* typical 2-socket SLIT */

static const char ORIGIN_FIRMWARE[] = "firmware table (ACPI SLIT, via hwloc)";
static const char ORIGIN_FILE_OS[] = "the file (the exported machine's firmware table)";
static const char ORIGIN_FILE_USER[] = "the file (a user-provided hwloc matrix)";
static const char ORIGIN_SYNTHETIC[] = "the synthetic string";
static const char ORIGIN_BUILTIN[] = "the built-in table";
static const char ORIGIN_ASSUMED[] = "assumed: 10 local, 20 remote (the source has no NUMA "
                                     "latency matrix)";

static const char SYNTHETIC_FORM[] =
    "synthetic:<hwloc synthetic string>[;distances=v,v,...][;memory=SIZE], e.g. "
    "'synthetic:pack:2 node:2 core:4 pu:1;distances=10,16,22,22,16,10,22,22,22,22,10,16,22,22,"
    "16,10;memory=2G'";

enum source_kind { SRC_THIS_MACHINE, SRC_XML, SRC_SYNTHETIC, SRC_BUILTIN };

/* ---------------------------------------------------------------- helpers */

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

static int cmp_node_obj(const void *a, const void *b) {
  hwloc_obj_t x = *(hwloc_obj_t const *)a, y = *(hwloc_obj_t const *)b;
  return (x->os_index > y->os_index) - (x->os_index < y->os_index);
}

/* A kernel NUMA node of this machine: mbind/move_pages accept it. */
static bool kernel_has_node(unsigned os_index) {
  char path[64];
  snprintf(path, sizeof path, "/sys/devices/system/node/node%u", os_index);
  return access(path, F_OK) == 0;
}

/* "... @ 2.40GHz" in hwloc's CPUModel info (x86 brand strings): nominal MHz. */
static uint32_t mhz_from_cpumodel(hwloc_topology_t topo) {
  hwloc_obj_t obj = NULL;
  while ((obj = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_PACKAGE, obj))) {
    const char *model = hwloc_obj_get_info_by_name(obj, "CPUModel");
    const char *at = model ? strrchr(model, '@') : NULL;
    if (!at)
      continue;
    char *end;
    double ghz = strtod(at + 1, &end);
    if (ghz > 0 && ghz < 100 && strncasecmp(end, "GHz", 3) == 0)
      return (uint32_t)(ghz * 1000 + 0.5);
  }
  return 0;
}

/* This machine's CPU frequency as the kernel reports it ("cpu MHz"). */
static uint32_t mhz_from_proc(void) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f)
    return 0;
  char line[256];
  uint32_t mhz = 0;
  while (fgets(line, sizeof line, f)) {
    double v;
    if (strncmp(line, "cpu MHz", 7) == 0 &&
        sscanf(strchr(line, ':') ? strchr(line, ':') + 1 : "", "%lf", &v) == 1 && v > 0) {
      mhz = (uint32_t)(v + 0.5);
      break;
    }
  }
  fclose(f);
  return mhz;
}

static uint32_t this_machine_mhz(hwloc_topology_t topo) {
  uint32_t mhz = topo ? mhz_from_cpumodel(topo) : 0;
  return mhz ? mhz : mhz_from_proc();
}

/* Check a full matrix: positive, at most DISTANCE_MAX, and each row's diagonal
 * strictly its smallest value. Returns 0 or fills `why`. */
static int check_matrix(const uint32_t *d, uint32_t n, char *why, size_t whylen) {
  for (uint32_t i = 0; i < n; i++) {
    for (uint32_t j = 0; j < n; j++) {
      uint32_t v = d[i * n + j];
      if (v == 0 || v > DISTANCE_MAX) {
        snprintf(why, whylen,
                 "value %" PRIu32 " at row %" PRIu32 ", column %" PRIu32 " (position %" PRIu32
                 ") is outside 1..%u",
                 v, i, j, i * n + j, DISTANCE_MAX);
        return -1;
      }
    }
    for (uint32_t j = 0; j < n; j++) {
      if (j != i && d[i * n + j] <= d[i * n + i]) {
        snprintf(why, whylen,
                 "row %" PRIu32 ": the local distance %" PRIu32 " at column %" PRIu32
                 " is not smaller than %" PRIu32 " at column %" PRIu32
                 " (the diagonal must be the smallest value of its row)",
                 i, d[i * n + i], i, d[i * n + j], j);
        return -1;
      }
    }
  }
  return 0;
}

static void assume_distances(mmt_topology_t *t) {
  uint32_t n = t->desc.nnodes;
  for (uint32_t i = 0; i < n; i++)
    for (uint32_t j = 0; j < n; j++)
      t->distance[i * n + j] = i == j ? LOCAL_DISTANCE : REMOTE_DISTANCE;
  t->distances_from_firmware = false;
  t->distance_origin = ORIGIN_ASSUMED;
}

/* ---------------------------------------------------------------- from hwloc */

/* The node that owns a PU (see the file comment), or -1. */
static int owner_of_pu(hwloc_obj_t const *objs, uint32_t n, unsigned pu) {
  int fallback = -1;
  for (uint32_t i = 0; i < n; i++) {
    if (!objs[i]->cpuset || !hwloc_bitmap_isset(objs[i]->cpuset, pu))
      continue;
    if (!objs[i]->subtype)
      return (int)i;
    if (fallback < 0)
      fallback = (int)i;
  }
  return fallback;
}

/* Copy one hwloc matrix into t->distance if it covers every node. */
static bool take_hwloc_matrix(mmt_topology_t *t, hwloc_obj_t const *objs,
                              const struct hwloc_distances_s *d) {
  uint32_t n = t->desc.nnodes;
  int map[MMC_MAX_NODES]; /* our index -> index in d */
  for (uint32_t i = 0; i < n; i++) {
    map[i] = -1;
    for (unsigned k = 0; k < d->nbobjs; k++)
      if (d->objs[k] == objs[i])
        map[i] = (int)k;
    if (map[i] < 0)
      return false;
  }
  for (uint32_t i = 0; i < n; i++) {
    for (uint32_t j = 0; j < n; j++) {
      hwloc_uint64_t v = d->values[(unsigned)map[i] * d->nbobjs + (unsigned)map[j]];
      if (v == 0 || v > DISTANCE_MAX)
        return false;
    }
  }
  for (uint32_t i = 0; i < n; i++)
    for (uint32_t j = 0; j < n; j++)
      t->distance[i * n + j] = (uint32_t)d->values[(unsigned)map[i] * d->nbobjs + (unsigned)map[j]];
  return true;
}

static void distances_from_hwloc(mmt_topology_t *t, hwloc_topology_t topo, hwloc_obj_t const *objs,
                                 enum source_kind kind) {
  unsigned nr = 0;
  assume_distances(t);
  if (hwloc_distances_get_by_type(topo, HWLOC_OBJ_NUMANODE, &nr, NULL,
                                  HWLOC_DISTANCES_KIND_MEANS_LATENCY, 0) < 0 ||
      nr == 0)
    return;
  struct hwloc_distances_s **all = calloc(nr, sizeof *all);
  if (!all)
    return; /* assumed matrix stays; origin says so */
  if (hwloc_distances_get_by_type(topo, HWLOC_OBJ_NUMANODE, &nr, all,
                                  HWLOC_DISTANCES_KIND_MEANS_LATENCY, 0) < 0)
    nr = 0;
  /* Two passes: from the OS first, then anything else. */
  for (int pass = 0; pass < 2; pass++) {
    for (unsigned k = 0; k < nr; k++) {
      bool from_os = all[k]->kind & HWLOC_DISTANCES_KIND_FROM_OS;
      if ((pass == 0) != from_os || !take_hwloc_matrix(t, objs, all[k]))
        continue;
      t->distances_from_firmware = from_os;
      t->distance_origin = kind == SRC_THIS_MACHINE ? ORIGIN_FIRMWARE
                           : from_os                ? ORIGIN_FILE_OS
                                                    : ORIGIN_FILE_USER;
      goto out;
    }
  }
out:
  for (unsigned k = 0; k < nr; k++)
    hwloc_distances_release(topo, all[k]);
  free(all);
}

/* Give each PU to its owner node and lay the nodes' lists out one after
 * another in t->cpu_storage: count[i] CPUs from offset[i], ascending. */
static void layout_cpus(mmt_topology_t *t, hwloc_topology_t topo, hwloc_obj_t const *objs,
                        uint32_t *count, uint32_t *offset) {
  uint32_t n = t->desc.nnodes, fill[MMC_MAX_NODES] = {0}, next = 0;
  for (uint32_t p = 0; p < t->npus; p++) {
    int o = owner_of_pu(objs, n, hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, p)->os_index);
    if (o >= 0)
      count[o]++;
  }
  for (uint32_t i = 0; i < n; i++) {
    offset[i] = next;
    next += count[i];
  }
  for (uint32_t p = 0; p < t->npus; p++) {
    unsigned os = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, p)->os_index;
    int o = owner_of_pu(objs, n, os);
    if (o >= 0)
      t->cpu_storage[offset[o] + fill[o]++] = os;
  }
  for (uint32_t i = 0; i < n; i++)
    qsort(&t->cpu_storage[offset[i]], count[i], sizeof(uint32_t), cmp_u32);
}

/* Cores go to the node owning their first PU; without a Core level (a
 * synthetic "node:2 pu:4") each PU counts as a core. */
static void count_cores(mmt_topology_t *t, hwloc_topology_t topo, hwloc_obj_t const *objs,
                        const uint32_t *count, uint32_t *cores) {
  int ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
  if (ncores <= 0) {
    memcpy(cores, count, t->desc.nnodes * sizeof *cores);
    t->desc.ncores = t->npus;
    return;
  }
  hwloc_obj_t core = NULL;
  while ((core = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_CORE, core))) {
    int first = hwloc_bitmap_first(core->cpuset);
    int o = first >= 0 ? owner_of_pu(objs, t->desc.nnodes, (unsigned)first) : -1;
    if (o >= 0)
      cores[o]++;
  }
  t->desc.ncores = (uint32_t)ncores;
}

/* Fill nodes, CPUs and cores of t from a loaded hwloc topology. */
static int fill_from_hwloc(mmt_topology_t *t, hwloc_topology_t topo, enum source_kind kind,
                           mmc_error_t *err) {
  int nn = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
  if (nn <= 0)
    return mmc_fail(err, MMC_EINVAL, "the topology has no NUMA node");
  if ((unsigned)nn > MMC_MAX_NODES)
    return mmc_fail(err, MMC_EINVAL,
                    "the topology has %d NUMA nodes; mmcert supports at most %u (MMC_MAX_NODES)",
                    nn, MMC_MAX_NODES);
  uint32_t n = (uint32_t)nn;
  hwloc_obj_t objs[MMC_MAX_NODES];
  for (uint32_t i = 0; i < n; i++)
    objs[i] = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, i);
  qsort(objs, n, sizeof objs[0], cmp_node_obj);

  int npus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
  t->npus = npus > 0 ? (uint32_t)npus : 0;
  t->nodes = calloc(n, sizeof *t->nodes);
  t->distance = calloc((size_t)n * n, sizeof *t->distance);
  t->cpu_storage = calloc(t->npus ? t->npus : 1, sizeof *t->cpu_storage);
  if (!t->nodes || !t->distance || !t->cpu_storage)
    return mmc_fail(err, MMC_ENOMEM, "out of memory for a %" PRIu32 "-node topology", n);
  t->desc.nnodes = n;

  uint32_t count[MMC_MAX_NODES] = {0}, offset[MMC_MAX_NODES], cores[MMC_MAX_NODES] = {0};
  layout_cpus(t, topo, objs, count, offset);
  count_cores(t, topo, objs, count, cores);
  for (uint32_t i = 0; i < n; i++) {
    mmc_node_t *nd = &t->nodes[i];
    nd->os_index = objs[i]->os_index;
    nd->memory_bytes = objs[i]->attr ? objs[i]->attr->numanode.local_memory : 0;
    nd->ncpus = count[i];
    nd->cpus = count[i] ? &t->cpu_storage[offset[i]] : NULL;
    nd->ncores = cores[i];
    nd->real = kind == SRC_THIS_MACHINE && kernel_has_node(nd->os_index);
  }
  distances_from_hwloc(t, topo, objs, kind);
  return MMC_OK;
}

/* No I/O objects: we never read them. Caches stay: NUMA nodes attached to an
 * L3 (sub-NUMA clustering) would otherwise move up to the package and take
 * its whole cpuset as their locality. */
static void set_filters(hwloc_topology_t topo) {
  hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE);
}

/* ---------------------------------------------------------------- sources */

/* hwloc honours these before any API call (even HWLOC_THISSYSTEM=1 next to
 * an XML file): then the nodes are not this machine's and must not be real. */
static bool discovery_redirected(void) {
  static const char *const vars[] = {"HWLOC_XMLFILE", "HWLOC_SYNTHETIC", "HWLOC_FSROOT",
                                     "HWLOC_CPUID_PATH"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v)
      return true;
  }
  return false;
}

static int load_this_machine(mmt_topology_t *t, mmc_error_t *err) {
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) < 0)
    return mmc_fail(err, MMC_ENOMEM, "hwloc_topology_init failed: %s", strerror(errno));
  set_filters(topo);
  int rc = MMC_OK;
  if (hwloc_topology_load(topo) < 0) {
    rc = mmc_fail(err, MMC_EIO, "hwloc cannot discover this machine: %s", strerror(errno));
    goto out;
  }
  bool mine = hwloc_topology_is_thissystem(topo) && !discovery_redirected();
  rc = fill_from_hwloc(t, topo, mine ? SRC_THIS_MACHINE : SRC_XML, err);
  if (rc)
    goto out;
  t->is_this_machine = mine;
  t->desc.cpu_mhz = this_machine_mhz(topo);
  snprintf(t->source, sizeof t->source, "%s",
           mine ? "this machine"
                : "this machine as redirected by HWLOC_XMLFILE/HWLOC_SYNTHETIC/HWLOC_FSROOT "
                  "(emulated)");
out:
  hwloc_topology_destroy(topo);
  return rc;
}

/* The file exists and looks like hwloc XML; hwloc's own errors are terse. */
static int check_xml_file(const char *path, mmc_error_t *err) {
  struct stat st;
  if (stat(path, &st) < 0) {
    int code = errno == ENOENT || errno == ENOTDIR ? MMC_ENOENT : MMC_EIO;
    return mmc_fail(err, code,
                    "topology file %s: %s (expected an hwloc XML export, e.g. from "
                    "`lstopo FILE.xml`, or builtin:N / synthetic:...)",
                    path, strerror(errno));
  }
  if (!S_ISREG(st.st_mode))
    return mmc_fail(err, MMC_EINVAL, "topology file %s is not a regular file", path);
  FILE *f = fopen(path, "r");
  if (!f)
    return mmc_fail(err, MMC_EIO, "topology file %s: %s", path, strerror(errno));
  char head[4096];
  size_t len = fread(head, 1, sizeof head - 1, f);
  fclose(f);
  head[len] = '\0';
  if (!strstr(head, "<topology"))
    return mmc_fail(err, MMC_EINVAL,
                    "topology file %s is not hwloc XML (no <topology> element near the start); "
                    "export one with `lstopo-no-graphics --of xml FILE.xml`",
                    path);
  return MMC_OK;
}

/* Does this hwloc read XML comments? Only its libxml2 backend does, and that
 * comes as a plugin (Debian's libhwloc-plugins, a Recommends that minimal
 * installs leave out); the built-in parser refuses any comment. Asked once
 * with a one-node document, only to explain a failed load. */
static bool xml_reads_comments(void) {
  static const char doc[] =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE topology SYSTEM \"hwloc2.dtd\">\n"
      "<!-- comment -->\n<topology version=\"2.0\">\n"
      "<object type=\"Machine\" os_index=\"0\" cpuset=\"0x1\" complete_cpuset=\"0x1\""
      " allowed_cpuset=\"0x1\" nodeset=\"0x1\" complete_nodeset=\"0x1\" allowed_nodeset=\"0x1\""
      " gp_index=\"1\">\n<object type=\"NUMANode\" os_index=\"0\" cpuset=\"0x1\""
      " complete_cpuset=\"0x1\" nodeset=\"0x1\" complete_nodeset=\"0x1\" gp_index=\"3\""
      " local_memory=\"1073741824\"/>\n<object type=\"PU\" os_index=\"0\" cpuset=\"0x1\""
      " complete_cpuset=\"0x1\" nodeset=\"0x1\" complete_nodeset=\"0x1\" gp_index=\"2\"/>\n"
      "</object>\n</topology>\n";
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) < 0)
    return true; /* cannot tell: do not blame the parser */
  bool ok = hwloc_topology_set_xmlbuffer(topo, doc, (int)sizeof doc) == 0 &&
            hwloc_topology_load(topo) == 0;
  hwloc_topology_destroy(topo);
  return ok;
}

static bool file_has_comment(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return false;
  bool found = false;
  char line[4096];
  while (!found && fgets(line, sizeof line, f))
    found = strstr(line, "<!--") != NULL;
  fclose(f);
  return found;
}

static int load_xml(mmt_topology_t *t, const char *path, mmc_error_t *err) {
  int rc = check_xml_file(path, err);
  if (rc)
    return rc;
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) < 0)
    return mmc_fail(err, MMC_ENOMEM, "hwloc_topology_init failed: %s", strerror(errno));
  set_filters(topo);
  /* set_xml fails early with libxml2; with hwloc's own parser load fails.
   * Either way hwloc must not fall back to discovering this machine. */
  if (hwloc_topology_set_xml(topo, path) < 0 || hwloc_topology_load(topo) < 0) {
    if (file_has_comment(path) && !xml_reads_comments()) {
      rc = mmc_fail(err, MMC_EINVAL,
                    "topology file %s has XML comments and this hwloc reads XML with its "
                    "built-in parser, which refuses them: install the Debian package "
                    "libhwloc-plugins (hwloc's libxml2 support), or run ./configure "
                    "--install-deps",
                    path);
      goto out;
    }
    rc = mmc_fail(err, MMC_EINVAL,
                  "topology file %s: hwloc cannot load it as an XML topology (truncated or "
                  "malformed?); check with `lstopo-no-graphics --input %s`",
                  path, path);
    goto out;
  }
  rc = fill_from_hwloc(t, topo, SRC_XML, err);
  if (rc) {
    mmc_error_prefix(err, "topology file %s", path);
    goto out;
  }
  t->desc.cpu_mhz = mhz_from_cpumodel(topo);
  snprintf(t->source, sizeof t->source, "%s", path);
out:
  hwloc_topology_destroy(topo);
  return rc;
}

/* "v,v,..." into t->distance; exactly nnodes*nnodes positive integers. */
static int parse_distances(mmt_topology_t *t, const char *text, mmc_error_t *err) {
  uint32_t n = t->desc.nnodes, want = n * n, got = 0;
  const char *p = text;
  for (;;) {
    const char *start = p;
    uint64_t v = 0;
    while (isdigit((unsigned char)*p) && v <= DISTANCE_MAX)
      v = v * 10 + (uint64_t)(*p++ - '0');
    size_t len = strcspn(start, ",");
    if (p == start || (*p && *p != ',') || v == 0 || v > DISTANCE_MAX)
      return mmc_fail(err, MMC_EINVAL,
                      "distances: value #%" PRIu32 " ('%.*s', row %" PRIu32 ", column %" PRIu32
                      ") is not an integer in 1..%u",
                      got + 1, (int)(len > 32 ? 32 : len), start, n ? got / n : 0, n ? got % n : 0,
                      DISTANCE_MAX);
    if (got < want)
      t->distance[got] = (uint32_t)v;
    got++;
    if (!*p)
      break;
    p++;
  }
  if (got != want)
    return mmc_fail(err, MMC_EINVAL,
                    "distances: %" PRIu32 " values given; this %" PRIu32
                    "-node topology needs %" PRIu32 " (row-major, nnodes*nnodes)",
                    got, n, want);
  char why[MMC_ERRMSG_MAX];
  if (check_matrix(t->distance, n, why, sizeof why))
    return mmc_fail(err, MMC_EINVAL, "distances: %s", why);
  return MMC_OK;
}

/* What a synthetic description asks hwloc to build, from the string alone:
 * levels "type:count" (attributes in parentheses and "[numa]" memory
 * children as hwloc allows), their product the number of leaves, the
 * product down to a NUMA level the number of nodes. Refused before hwloc
 * builds anything: "node:10000 pu:1" took a minute to be built, then
 * refused for its node count. Levels it cannot read are left to hwloc. */
static int check_synthetic_size(const char *desc, mmc_error_t *err) {
  uint64_t objects = 1; /* at most SYNTHETIC_MAX_PUS between levels */
  for (const char *p = desc; *p;) {
    p += strspn(p, " \t");
    size_t len = strcspn(p, " \t");
    bool numa =
        !strncasecmp(p, "numa", 4) || !strncasecmp(p, "node", 4) || !strncasecmp(p, "[numa", 5);
    const char *colon = memchr(p, ':', len);
    /* The count: after "type:", or the whole level when hwloc is left to
     * pick the types ("2 2 4", "482048"). */
    const char *count = isdigit((unsigned char)*p) ? p : colon && *p != '[' ? colon + 1 : NULL;
    unsigned long long n = 0;
    if (count) {
      char *end;
      n = strtoull(count, &end, 10);
      if (end == count)
        n = 0;
      else if (isalpha((unsigned char)*end))
        len = (size_t)(end - p); /* hwloc reads "node:40pu:818" as two levels */
      if (n)
        objects = n > UINT64_MAX / objects ? UINT64_MAX : objects * n;
    }
    /* The node count first: it is the limit a user meets ('node:10000'). */
    if (numa && objects > MMC_MAX_NODES)
      return mmc_fail(err, MMC_EINVAL,
                      "synthetic topology '%s': %llu NUMA nodes at level '%.*s'; mmcert "
                      "supports at most %u (MMC_MAX_NODES)",
                      desc, (unsigned long long)objects, (int)len, p, MMC_MAX_NODES);
    if (n > SYNTHETIC_MAX_ARITY)
      return mmc_fail(err, MMC_EINVAL,
                      "synthetic topology '%s': %llu objects under each parent at level "
                      "'%.*s'; mmcert builds at most %u (and %u PUs in all)",
                      desc, n, (int)len, p, SYNTHETIC_MAX_ARITY, SYNTHETIC_MAX_PUS);
    if (objects > SYNTHETIC_MAX_PUS)
      return mmc_fail(err, MMC_EINVAL,
                      "synthetic topology '%s': more than %u objects at level '%.*s' "
                      "(mmcert builds at most %u PUs)",
                      desc, SYNTHETIC_MAX_PUS, (int)len, p, SYNTHETIC_MAX_PUS);
    p += len;
  }
  return MMC_OK;
}

/* Split "desc;key=value;..." and load. `dist` overrides the string's own
 * distances (the built-in tables). */
static int load_synthetic(mmt_topology_t *t, const char *spec, mmc_error_t *err) {
  int rc = MMC_OK;
  char *copy = strdup(spec);
  if (!copy)
    return mmc_fail(err, MMC_ENOMEM, "out of memory");
  const char *dist = NULL, *mem = NULL;
  char *save = NULL;
  char *desc = strtok_r(copy, ";", &save);
  for (char *opt = strtok_r(NULL, ";", &save); opt; opt = strtok_r(NULL, ";", &save)) {
    const char **slot = strncmp(opt, "distances=", 10) == 0 ? &dist
                        : strncmp(opt, "memory=", 7) == 0   ? &mem
                                                            : NULL;
    if (!slot) {
      rc = mmc_fail(err, MMC_EINVAL, "synthetic topology: unknown option '%s'; allowed: %s", opt,
                    SYNTHETIC_FORM);
      goto out_copy;
    }
    if (*slot) {
      rc = mmc_fail(err, MMC_EINVAL, "synthetic topology: option '%.*s' given twice",
                    (int)strcspn(opt, "="), opt);
      goto out_copy;
    }
    *slot = strchr(opt, '=') + 1;
  }
  if (!desc || !*desc || spec[0] == ';') {
    rc = mmc_fail(err, MMC_EINVAL, "synthetic topology: empty description; expected %s",
                  SYNTHETIC_FORM);
    goto out_copy;
  }
  uint64_t node_mem = 0;
  if (mem && (rc = mmt_parse_size(mem, &node_mem, err)) != 0) {
    mmc_error_prefix(err, "synthetic topology memory=");
    goto out_copy;
  }
  if (mem && node_mem < MMC_PAGE_SIZE) {
    rc = mmc_fail(err, MMC_EINVAL, "synthetic topology: memory=%s is less than one page (%u bytes)",
                  mem, MMC_PAGE_SIZE);
    goto out_copy;
  }

  if ((rc = check_synthetic_size(desc, err)) != 0)
    goto out_copy;
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) < 0) {
    rc = mmc_fail(err, MMC_ENOMEM, "hwloc_topology_init failed: %s", strerror(errno));
    goto out_copy;
  }
  if (hwloc_topology_set_synthetic(topo, desc) < 0 || hwloc_topology_load(topo) < 0) {
    rc = mmc_fail(err, MMC_EINVAL,
                  "synthetic topology '%s': hwloc rejects it (levels like 'pack:2 node:2 core:4 "
                  "pu:1', see hwloc's synthetic topology syntax)",
                  desc);
    goto out_topo;
  }
  rc = fill_from_hwloc(t, topo, SRC_SYNTHETIC, err);
  if (rc) {
    mmc_error_prefix(err, "synthetic topology '%s'", desc);
    goto out_topo;
  }
  if (mem)
    for (uint32_t i = 0; i < t->desc.nnodes; i++)
      t->nodes[i].memory_bytes = node_mem;
  if (dist) {
    rc = parse_distances(t, dist, err);
    if (rc) {
      mmc_error_prefix(err, "synthetic topology");
      goto out_topo;
    }
    t->distance_origin = ORIGIN_SYNTHETIC;
  }
  /* An emulated topology runs on this machine's CPUs. */
  t->desc.cpu_mhz = this_machine_mhz(NULL);
out_topo:
  hwloc_topology_destroy(topo);
out_copy:
  free(copy);
  return rc;
}

/* Package of node i in the built-in layouts: two nodes per package from 4. */
static uint32_t builtin_distance(uint32_t n, uint32_t i, uint32_t j) {
  if (i == j)
    return LOCAL_DISTANCE;
  if (n == 2)
    return BUILTIN_TWO_NODE;
  uint32_t pi = i / 2, pj = j / 2, npack = n / 2;
  if (pi == pj)
    return BUILTIN_SAME_PACKAGE;
  uint32_t hop = pi > pj ? pi - pj : pj - pi;
  if (hop > npack - hop)
    hop = npack - hop; /* packages form a ring */
  return hop == 1 ? BUILTIN_NEXT_PACKAGE : BUILTIN_FAR_PACKAGE;
}

static int load_builtin(mmt_topology_t *t, const char *arg, mmc_error_t *err) {
  static const char allowed[] = "builtin:2, builtin:4, builtin:8";
  unsigned long n = strcmp(arg, "2") == 0   ? 2
                    : strcmp(arg, "4") == 0 ? 4
                    : strcmp(arg, "8") == 0 ? 8
                                            : 0;
  if (!n)
    return mmc_fail(err, MMC_EINVAL, "no built-in topology 'builtin:%s'; allowed: %s", arg,
                    allowed);
  char spec[128];
  if (n == 2)
    snprintf(spec, sizeof spec, "node:2 core:%u pu:1", BUILTIN_CORES_PER_NODE);
  else
    snprintf(spec, sizeof spec, "pack:%lu node:2 core:%u pu:1", n / 2, BUILTIN_CORES_PER_NODE);
  int rc = load_synthetic(t, spec, err);
  if (rc)
    return rc;
  for (uint32_t i = 0; i < t->desc.nnodes; i++) {
    t->nodes[i].memory_bytes = BUILTIN_NODE_MEMORY;
    for (uint32_t j = 0; j < t->desc.nnodes; j++)
      t->distance[i * t->desc.nnodes + j] = builtin_distance(t->desc.nnodes, i, j);
  }
  t->distance_origin = ORIGIN_BUILTIN;
  snprintf(t->source, sizeof t->source, "builtin:%lu (emulated: %s, %llu GiB per node)", n, spec,
           (unsigned long long)(BUILTIN_NODE_MEMORY >> 30));
  return MMC_OK;
}

/* ---------------------------------------------------------------- API */

void mmt_free(mmt_topology_t *t) {
  if (!t)
    return;
  free(t->nodes);
  free(t->distance);
  free(t->cpu_storage);
  free(t);
}

int mmt_load(const char *spec, mmt_topology_t **out, mmc_error_t *err) {
  *out = NULL;
  mmt_topology_t *t = calloc(1, sizeof *t);
  if (!t)
    return mmc_fail(err, MMC_ENOMEM, "out of memory");
  int rc;
  if (!spec || !*spec) {
    rc = load_this_machine(t, err);
  } else if (strncmp(spec, "builtin:", 8) == 0) {
    rc = load_builtin(t, spec + 8, err);
  } else if (strncmp(spec, "synthetic:", 10) == 0) {
    rc = load_synthetic(t, spec + 10, err);
    if (!rc)
      snprintf(t->source, sizeof t->source, "%s", spec);
  } else {
    rc = load_xml(t, spec, err);
  }
  if (rc) {
    mmt_free(t);
    return rc;
  }
  t->desc.nodes = t->nodes;
  t->desc.distance = t->distance;
  t->desc.name = t->source;
  *out = t;
  return MMC_OK;
}

int mmt_cap_memory(mmt_topology_t *t, uint64_t bytes, mmc_error_t *err) {
  uint64_t total = 0;
  uint32_t with_memory = 0;
  for (uint32_t i = 0; i < t->desc.nnodes; i++) {
    total += t->nodes[i].memory_bytes;
    with_memory += t->nodes[i].memory_bytes > 0;
  }
  if (bytes >= total)
    return MMC_OK; /* nothing to take away */
  if (bytes / MMC_PAGE_SIZE < with_memory)
    return mmc_fail(err, MMC_ERANGE,
                    "memory cap of %" PRIu64 " bytes is below one page (%u bytes) for each of the "
                    "%" PRIu32 " nodes with memory",
                    bytes, MMC_PAGE_SIZE, with_memory);
  /* Floor of each proportional share in pages, at least one page; pages
   * given to tiny nodes that way come back from the largest shares, so the
   * sum never exceeds the cap (bytes >= one page per node makes that
   * possible). */
  uint64_t share[MMC_MAX_NODES] = {0}, sum = 0;
  for (uint32_t i = 0; i < t->desc.nnodes; i++) {
    uint64_t m = t->nodes[i].memory_bytes;
    if (!m)
      continue;
    share[i] = (uint64_t)((unsigned __int128)m * bytes / total);
    share[i] -= share[i] % MMC_PAGE_SIZE;
    if (!share[i])
      share[i] = MMC_PAGE_SIZE;
    sum += share[i];
  }
  while (sum > bytes) {
    uint32_t big = 0;
    for (uint32_t i = 1; i < t->desc.nnodes; i++)
      if (share[i] > share[big])
        big = i;
    uint64_t excess = sum - bytes, take = excess + (MMC_PAGE_SIZE - excess % MMC_PAGE_SIZE) %
                                                       MMC_PAGE_SIZE; /* whole pages */
    if (take > share[big] - MMC_PAGE_SIZE)
      take = share[big] - MMC_PAGE_SIZE;
    share[big] -= take;
    sum -= take;
  }
  for (uint32_t i = 0; i < t->desc.nnodes; i++)
    t->nodes[i].memory_bytes = share[i];
  return MMC_OK;
}

uint32_t mmt_distance(const mmt_topology_t *t, uint32_t from, uint32_t to) {
  uint32_t n = t->desc.nnodes;
  if (from < n && to < n && t->desc.distance)
    return t->desc.distance[from * n + to];
  return from == to ? LOCAL_DISTANCE : REMOTE_DISTANCE;
}

/* ---------------------------------------------------------------- printing */

/* "0-3,8-11" from an ascending list. */
static void format_cpus(char *buf, size_t len, const uint32_t *cpus, uint32_t n) {
  size_t used = 0;
  buf[0] = '\0';
  if (n == 0) {
    snprintf(buf, len, "none");
    return;
  }
  for (uint32_t i = 0; i < n && used < len;) {
    uint32_t j = i;
    while (j + 1 < n && cpus[j + 1] == cpus[j] + 1)
      j++;
    int w = j == i ? snprintf(buf + used, len - used, "%s%" PRIu32, i ? "," : "", cpus[i])
                   : snprintf(buf + used, len - used, "%s%" PRIu32 "-%" PRIu32, i ? "," : "",
                              cpus[i], cpus[j]);
    if (w < 0)
      return;
    used += (size_t)w;
    i = j + 1;
  }
}

static void format_bytes(char *buf, size_t len, uint64_t b) {
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  double v = (double)b;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    u++;
  }
  if (u == 0)
    snprintf(buf, len, "%" PRIu64 " B", b);
  else
    snprintf(buf, len, "%.1f %s", v, unit[u]);
}

static const char *node_note(const mmc_node_t *nd) {
  if (nd->ncpus)
    return nd->memory_bytes ? "" : ", no memory";
  return nd->memory_bytes ? ", memory-only" : ", no CPUs, no memory";
}

void mmt_print(FILE *f, const mmt_topology_t *t) {
  const mmc_topology_t *d = &t->desc;
  uint64_t total = 0;
  for (uint32_t i = 0; i < d->nnodes; i++)
    total += d->nodes[i].memory_bytes;
  char mem[32], cpus[512];
  format_bytes(mem, sizeof mem, total);
  fprintf(f, "topology: %s\n", t->source);
  fprintf(f, "nodes: %" PRIu32 " (%s), cores: %" PRIu32 ", PUs: %" PRIu32 ", memory: %s, CPU: ",
          d->nnodes, t->is_this_machine ? "this machine" : "emulated", d->ncores, t->npus, mem);
  if (d->cpu_mhz)
    fprintf(f, "%" PRIu32 " MHz\n", d->cpu_mhz);
  else
    fprintf(f, "frequency unknown\n");
  fprintf(f, "%5s %6s %6s %11s  %-22s %s\n", "index", "OS id", "cores", "memory", "kind", "CPUs");
  for (uint32_t i = 0; i < d->nnodes; i++) {
    const mmc_node_t *nd = &d->nodes[i];
    format_cpus(cpus, sizeof cpus, nd->cpus, nd->ncpus);
    format_bytes(mem, sizeof mem, nd->memory_bytes);
    char kind[48];
    snprintf(kind, sizeof kind, "%s%s", nd->real ? "real" : "emulated", node_note(nd));
    fprintf(f, "%5" PRIu32 " %6" PRIu32 " %6" PRIu32 " %11s  %-22s %s\n", i, nd->os_index,
            nd->ncores, mem, kind, cpus);
  }
  fprintf(f, "distances (by index, 10 = local), source: %s\n", t->distance_origin);
  fprintf(f, "%5s", "");
  for (uint32_t j = 0; j < d->nnodes; j++)
    fprintf(f, " %4" PRIu32, j);
  fputc('\n', f);
  for (uint32_t i = 0; i < d->nnodes; i++) {
    fprintf(f, "%5" PRIu32, i);
    for (uint32_t j = 0; j < d->nnodes; j++)
      fprintf(f, " %4" PRIu32, mmt_distance(t, i, j));
    fputc('\n', f);
  }
  char why[MMC_ERRMSG_MAX];
  if (d->distance && check_matrix(d->distance, d->nnodes, why, sizeof why))
    fprintf(f, "note: the matrix is unusual: %s\n", why);
}

/* ---------------------------------------------------------------- wire form */

/* A topology as bytes, so a child that read an untrusted file can hand it
 * over: a head, each node, every node's CPUs in order, the distances. The
 * origin texts are static: sent as an index into this list. */
static const char *const origins[] = {ORIGIN_FIRMWARE,  ORIGIN_FILE_OS, ORIGIN_FILE_USER,
                                      ORIGIN_SYNTHETIC, ORIGIN_BUILTIN, ORIGIN_ASSUMED};
enum { WIRE_MAGIC = 0x6d6d7470 };

typedef struct wire_head {
  uint32_t magic, nnodes, npus, ncores, cpu_mhz, ncpus, origin;
  uint8_t is_this_machine, from_firmware;
  char source[256];
} wire_head_t;

typedef struct wire_node {
  uint64_t memory_bytes;
  uint32_t os_index, ncpus, ncores;
  uint8_t real;
} wire_node_t;

int mmt_encode(const mmt_topology_t *t, void **out, size_t *len) {
  uint32_t n = t->desc.nnodes, ncpus = 0;
  for (uint32_t i = 0; i < n; i++)
    ncpus += t->nodes[i].ncpus;
  *len = sizeof(wire_head_t) + n * sizeof(wire_node_t) + (ncpus + (size_t)n * n) * sizeof(uint32_t);
  unsigned char *b = calloc(1, *len);
  if (!(*out = b))
    return MMC_ENOMEM;
  wire_head_t h = {.magic = WIRE_MAGIC,
                   .nnodes = n,
                   .npus = t->npus,
                   .ncores = t->desc.ncores,
                   .cpu_mhz = t->desc.cpu_mhz,
                   .ncpus = ncpus,
                   .is_this_machine = t->is_this_machine,
                   .from_firmware = t->distances_from_firmware};
  for (uint32_t k = 0; k < sizeof origins / sizeof origins[0]; k++)
    if (t->distance_origin == origins[k])
      h.origin = k;
  snprintf(h.source, sizeof h.source, "%s", t->source);
  memcpy(b, &h, sizeof h);
  size_t o = sizeof h;
  for (uint32_t i = 0; i < n; i++, o += sizeof(wire_node_t)) {
    const mmc_node_t *nd = &t->nodes[i];
    wire_node_t w = {.memory_bytes = nd->memory_bytes,
                     .os_index = nd->os_index,
                     .ncpus = nd->ncpus,
                     .ncores = nd->ncores,
                     .real = nd->real};
    memcpy(b + o, &w, sizeof w);
  }
  for (uint32_t i = 0; i < n; i++, o += t->nodes[i - 1].ncpus * sizeof(uint32_t))
    if (t->nodes[i].ncpus) /* a CPU-less node's cpus is NULL: memcpy from NULL is undefined */
      memcpy(b + o, t->nodes[i].cpus, t->nodes[i].ncpus * sizeof(uint32_t));
  memcpy(b + o, t->distance, (size_t)n * n * sizeof(uint32_t));
  return MMC_OK;
}

/* The invariants of a loaded topology (see the top of this file), checked
 * on what arrived. */
static int check_decoded(const mmt_topology_t *t, mmc_error_t *err) {
  uint32_t n = t->desc.nnodes;
  for (uint32_t i = 0; i < n; i++) {
    const mmc_node_t *nd = &t->nodes[i];
    if (i && nd->os_index <= t->nodes[i - 1].os_index)
      return mmc_fail(err, MMC_EINVAL, "node OS indices not increasing");
    /* Real nodes get mbind/move_pages/sched_setaffinity: only this
     * machine's own topology has them (a file or string never does). */
    if (nd->real && !t->is_this_machine)
      return mmc_fail(err, MMC_EINVAL, "node %" PRIu32 " real in a topology not this machine's", i);
    for (uint32_t c = 1; c < nd->ncpus; c++)
      if (nd->cpus[c] <= nd->cpus[c - 1])
        return mmc_fail(err, MMC_EINVAL, "node %" PRIu32 ": CPU list not ascending", i);
    for (uint32_t j = 0; j < n; j++)
      if (!t->distance[i * n + j] || t->distance[i * n + j] > DISTANCE_MAX)
        return mmc_fail(err, MMC_EINVAL, "distance %" PRIu32 ",%" PRIu32 " outside 1..%u", i, j,
                        DISTANCE_MAX);
  }
  return MMC_OK;
}

int mmt_decode(const void *buf, size_t len, mmt_topology_t **out, mmc_error_t *err) {
  wire_head_t h;
  *out = NULL;
  if (len < sizeof h)
    return mmc_fail(err, MMC_EINVAL, "topology data: %zu bytes, too short", len);
  memcpy(&h, buf, sizeof h);
  if (h.magic != WIRE_MAGIC || h.nnodes < 1 || h.nnodes > MMC_MAX_NODES || h.ncpus > h.npus ||
      h.origin >= sizeof origins / sizeof origins[0] || h.source[sizeof h.source - 1])
    return mmc_fail(err, MMC_EINVAL, "topology data: malformed head");
  uint32_t n = h.nnodes;
  if (len != sizeof h + n * sizeof(wire_node_t) + (h.ncpus + (size_t)n * n) * sizeof(uint32_t))
    return mmc_fail(err, MMC_EINVAL, "topology data: %zu bytes, not what the head says", len);
  mmt_topology_t *t = calloc(1, sizeof *t);
  if (!t || !(t->nodes = calloc(n, sizeof *t->nodes)) ||
      !(t->distance = calloc((size_t)n * n, sizeof *t->distance)) ||
      !(t->cpu_storage = calloc(h.ncpus ? h.ncpus : 1, sizeof *t->cpu_storage))) {
    mmt_free(t);
    return mmc_fail(err, MMC_ENOMEM, "out of memory");
  }
  const unsigned char *b = buf;
  size_t o = sizeof h;
  uint32_t used = 0;
  for (uint32_t i = 0; i < n; i++, o += sizeof(wire_node_t)) {
    wire_node_t w;
    memcpy(&w, b + o, sizeof w);
    if (w.ncpus > h.ncpus - used) {
      mmt_free(t);
      return mmc_fail(err, MMC_EINVAL, "topology data: more CPUs in the nodes than sent");
    }
    t->nodes[i] = (mmc_node_t){.os_index = w.os_index,
                               .memory_bytes = w.memory_bytes,
                               .ncpus = w.ncpus,
                               .cpus = w.ncpus ? &t->cpu_storage[used] : NULL,
                               .ncores = w.ncores,
                               .real = w.real != 0};
    used += w.ncpus;
  }
  memcpy(t->cpu_storage, b + o, (size_t)h.ncpus * sizeof(uint32_t));
  o += (size_t)h.ncpus * sizeof(uint32_t);
  memcpy(t->distance, b + o, (size_t)n * n * sizeof(uint32_t));
  t->desc = (mmc_topology_t){.nnodes = n, .ncores = h.ncores, .cpu_mhz = h.cpu_mhz};
  t->npus = h.npus;
  t->is_this_machine = h.is_this_machine;
  t->distances_from_firmware = h.from_firmware;
  t->distance_origin = origins[h.origin];
  memcpy(t->source, h.source, sizeof t->source);
  int rc = used == h.ncpus ? check_decoded(t, err)
                           : mmc_fail(err, MMC_EINVAL, "topology data: CPUs sent but in no node");
  if (rc) {
    mmt_free(t);
    mmc_error_prefix(err, "topology data");
    return rc;
  }
  t->desc.nodes = t->nodes;
  t->desc.distance = t->distance;
  t->desc.name = t->source;
  *out = t;
  return MMC_OK;
}
