/*
 * fuzz_topology_wire.c — the topology a child hands back after reading an
 * untrusted hwloc XML file (suite/topology_load.c): mmt_decode. The child
 * may have been corrupted by what it parsed, so the parent checks every
 * invariant on the bytes that arrived. Properties: a refusal has a message;
 * what is accepted re-encodes to a fixed point and prints
 * (topology_props.h).
 */
#include "fuzz.h"
#include "mmc_error.h"
#include "mmc_topology.h"
#include "topology_props.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mmt_topology_t *t = NULL;
  mmc_error_t err = {0};
  if (mmt_decode(data, size, &t, &err) != 0) {
    fuzz_require(err.msg[0] != '\0' && t == NULL);
    return 0;
  }
  fuzz_topology_props(t);
  mmt_free(t);
  return 0;
}
