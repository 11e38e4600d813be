/*
 * fuzz_size.c — sizes as users and files give them (--host-memory,
 * synthetic topologies' memory=, settings of sizes): mmt_parse_size.
 * Properties: a refusal has a message; an accepted size printed back as a
 * plain byte count parses to the same number.
 */
#include <inttypes.h>

#include "fuzz.h"
#include "mmc_error.h"
#include "mmc_topology.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_cstr(data, size);
  if (!text)
    return 0;
  mmc_error_t err = {0};
  uint64_t bytes;
  if (mmt_parse_size(text, &bytes, &err) != 0) {
    fuzz_require(err.msg[0] != '\0');
  } else {
    char back[32];
    uint64_t again;
    snprintf(back, sizeof back, "%" PRIu64, bytes);
    fuzz_require(mmt_parse_size(back, &again, NULL) == 0 && again == bytes);
  }
  free(text);
  return 0;
}
