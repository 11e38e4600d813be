/*
 * probe_maps.c — page -> node by /proc/self/maps (NUMA-1, NUMA-9, INT-1).
 *
 * An implementation with MMC_CAP_NODE_MAPPINGS keeps guest frames in
 * mappings named "mmcert-node<OSINDEX>" (a memfd shows as
 * "/memfd:mmcert-node3 (deleted)"). Parsing the kernel's own list of
 * mappings attributes any page() pointer to a node without asking the
 * implementation. Invariant: the table is sorted by start and ranges do not
 * overlap (the kernel never lists overlapping VMAs), so a lookup is a binary
 * search.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmc_error.h"
#include "probes.h"

static const char node_tag[] = "mmcert-node";

/* The OS index named in a maps line's path, or -1 when it names no node. */
static int name_os_node(const char *path) {
  const char *p = strstr(path, node_tag);
  if (!p)
    return -1;
  p += sizeof node_tag - 1;
  if (!isdigit((unsigned char)*p))
    return -1;
  char *end;
  unsigned long v = strtoul(p, &end, 10);
  /* "mmcert-node12x" is some other name, not node 12. */
  if (*end && *end != ' ' && *end != '\n' && *end != '-' && *end != '.')
    return -1;
  if (v > INT32_MAX)
    return -1;
  return (int)v;
}

static int push_range(probe_maps_t *m, size_t *cap, const probe_range_t *r, mmc_error_t *err) {
  if (m->n == *cap) {
    size_t ncap = *cap ? *cap * 2 : 16;
    probe_range_t *nr = realloc(m->ranges, ncap * sizeof *nr);
    if (!nr)
      return mmc_fail(err, MMC_ENOMEM, "probe maps: out of memory for %zu ranges", ncap);
    m->ranges = nr;
    *cap = ncap;
  }
  m->ranges[m->n++] = *r;
  return 0;
}

static int cmp_range(const void *a, const void *b) {
  const probe_range_t *x = a, *y = b;
  return (x->start > y->start) - (x->start < y->start);
}

/* Parse one maps line; 1 when it is a node mapping, 0 otherwise. */
static int parse_line(const char *line, probe_range_t *r) {
  unsigned long long start, end, off;
  char perms[8];
  int pathpos = 0;
  if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &off, &pathpos) < 4 ||
      pathpos == 0)
    return 0;
  int os = name_os_node(line + pathpos);
  if (os < 0)
    return 0;
  *r = (probe_range_t){
      .start = (uintptr_t)start, .end = (uintptr_t)end, .offset = off, .os_node = (uint32_t)os};
  return 1;
}

int probe_maps_load(probe_maps_t *m, const char *path, mmc_error_t *err) {
  *m = (probe_maps_t){0};
  const char *file = path ? path : "/proc/self/maps";
  FILE *f = fopen(file, "re");
  if (!f)
    return mmc_fail(err, MMC_EIO, "probe maps: cannot open %s: %s", file, strerror(errno));
  char line[4096 + 128];
  size_t cap = 0;
  int rc = 0;
  while (rc == 0 && fgets(line, sizeof line, f)) {
    probe_range_t r;
    if (parse_line(line, &r))
      rc = push_range(m, &cap, &r, err);
  }
  fclose(f);
  if (rc) {
    probe_maps_free(m);
    return rc;
  }
  qsort(m->ranges, m->n, sizeof *m->ranges, cmp_range);
  return 0;
}

void probe_maps_free(probe_maps_t *m) {
  free(m->ranges);
  *m = (probe_maps_t){0};
}

const probe_range_t *probe_maps_find(const probe_maps_t *m, const void *addr) {
  uintptr_t a = (uintptr_t)addr;
  size_t lo = 0, hi = m->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const probe_range_t *r = &m->ranges[mid];
    if (a < r->start)
      hi = mid;
    else if (a >= r->end)
      lo = mid + 1;
    else
      return r;
  }
  return NULL;
}

int probe_maps_os_node(const probe_maps_t *m, const void *addr) {
  const probe_range_t *r = probe_maps_find(m, addr);
  return r ? (int)r->os_node : -1;
}

uint64_t probe_maps_frame(const probe_maps_t *m, const void *addr) {
  const probe_range_t *r = probe_maps_find(m, addr);
  if (!r)
    return 0;
  uint64_t off = r->offset + ((uintptr_t)addr - r->start);
  /* +1 keeps frame 0 of node 0 distinct from "no frame". */
  return ((uint64_t)r->os_node << 48 | (off / MMC_PAGE_SIZE)) + 1;
}

int probe_node_index(const mmc_topology_t *topo, int os_node) {
  if (os_node < 0)
    return -1;
  for (uint32_t i = 0; i < topo->nnodes; i++)
    if (topo->nodes[i].os_index == (uint32_t)os_node)
      return (int)i;
  return -1;
}

int probe_pools_resident(uint64_t *pages, mmc_error_t *err) {
  probe_maps_t m = {0};
  int rc = probe_maps_load(&m, NULL, err);
  uint64_t total = 0;
  for (size_t i = 0; rc == 0 && i < m.n; i++) {
    uint64_t r = 0;
    rc = probe_mincore((const void *)m.ranges[i].start, m.ranges[i].end - m.ranges[i].start, &r,
                       NULL, err);
    total += r;
  }
  probe_maps_free(&m);
  if (rc == 0)
    *pages = total;
  return rc;
}
