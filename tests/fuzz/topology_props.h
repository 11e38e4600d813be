/*
 * topology_props.h — the properties fuzz_synthetic.c and
 * fuzz_topology_wire.c check on a topology they got loaded or decoded.
 */
#ifndef MMCERT_FUZZ_TOPOLOGY_PROPS_H
#define MMCERT_FUZZ_TOPOLOGY_PROPS_H

#include "fuzz.h"
#include "mmc_topology.h"

/* The wire form is a fixed point: what decodes encodes to what decodes to
 * the same bytes again (the parent sees what the child loaded), and the
 * printout (mmcert topology) reads only what is there. */
static inline void fuzz_topology_props(const mmt_topology_t *t) {
  fuzz_require(t->desc.nnodes >= 1 && t->desc.nnodes <= MMC_MAX_NODES);
  void *a, *b;
  size_t alen, blen;
  fuzz_require(mmt_encode(t, &a, &alen) == 0);
  mmt_topology_t *u;
  mmc_error_t err = {0};
  fuzz_require(mmt_decode(a, alen, &u, &err) == 0);
  fuzz_require(mmt_encode(u, &b, &blen) == 0);
  fuzz_require(alen == blen && memcmp(a, b, alen) == 0);
  FILE *null = fopen("/dev/null", "w");
  if (null) {
    mmt_print(null, u);
    fclose(null);
  }
  mmt_free(u);
  free(a);
  free(b);
}

#endif
