/*
 * wire_seeds.c — writes the seed inputs of fuzz_topology_wire: the wire
 * form (mmt_encode) of each topology named on the command line, as
 * OUTDIR/<index>. `make fuzz-wire-seeds` runs it on the built-in
 * topologies, a few synthetic ones and the XML fixtures into
 * tests/fuzz/corpus/fuzz_topology_wire/.
 */
#include <stdio.h>
#include <stdlib.h>

#include "mmc_error.h"
#include "mmc_topology.h"

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: wire_seeds OUTDIR TOPOLOGY...\n");
    return 2;
  }
  for (int i = 2; i < argc; i++) {
    mmt_topology_t *t;
    mmc_error_t err = {0};
    if (mmt_load(argv[i], &t, &err) != 0) {
      fprintf(stderr, "wire_seeds: %s: %s\n", argv[i], err.msg);
      return 1;
    }
    void *buf;
    size_t len;
    char path[4096];
    snprintf(path, sizeof path, "%s/seed-%d", argv[1], i - 1);
    FILE *f = fopen(path, "wb");
    int bad = !f || mmt_encode(t, &buf, &len) != 0;
    if (!bad) {
      bad = fwrite(buf, 1, len, f) != len;
      free(buf);
    }
    if (f && fclose(f) != 0)
      bad = 1;
    mmt_free(t);
    if (bad) {
      fprintf(stderr, "wire_seeds: cannot write %s\n", path);
      return 1;
    }
  }
  return 0;
}
