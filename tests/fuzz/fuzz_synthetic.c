/*
 * fuzz_synthetic.c — `--topology synthetic:...` strings (hwloc synthetic
 * description, ;distances=..., ;memory=...): mmt_load. The string is
 * checked by mmcert before hwloc builds anything (limits on nodes and PUs,
 * options, the distance matrix); hwloc parses the description. Properties:
 * a refusal has a message; an accepted topology has 1..MMC_MAX_NODES nodes
 * and survives the wire form unchanged (topology_props.h).
 */
#include "fuzz.h"
#include "mmc_error.h"
#include "mmc_topology.h"
#include "topology_props.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) /* longer than any description; keeps runs on what matters */
    return 0;
  char *text = fuzz_cstr(data, size);
  if (!text)
    return 0;
  char *spec = malloc(size + sizeof "synthetic:");
  if (!spec) {
    free(text);
    return 0;
  }
  snprintf(spec, size + sizeof "synthetic:", "synthetic:%s", text);
  mmt_topology_t *t = NULL;
  mmc_error_t err = {0};
  if (mmt_load(spec, &t, &err) != 0) {
    fuzz_require(err.msg[0] != '\0' && t == NULL);
  } else {
    fuzz_topology_props(t);
    mmt_free(t);
  }
  free(spec);
  free(text);
  return 0;
}
