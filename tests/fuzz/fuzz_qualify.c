/*
 * fuzz_qualify.c — `mmcert qualify` reports from other machines (`results
 * import` stores them, `report --fleet` compares them): read as import
 * reads a file (suite_rr_parse_file, streamed), then suite_qr_validate and
 * the matrices the fleet report takes (suite_qr_matrix). Properties: a
 * refusal has a message; an accepted report's matrices are absent or
 * topology.nnodes square.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "mmc_error.h"
#include "qualify_read.h"
#include "results_read.h"

static json_t *load_as_file(const uint8_t *data, size_t size) {
  int fd = memfd_create("fuzz-qualify", MFD_CLOEXEC);
  fuzz_require(fd >= 0);
  for (size_t off = 0; off < size;) {
    ssize_t w = write(fd, data + off, size - off);
    fuzz_require(w > 0);
    off += (size_t)w;
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  json_t *doc = NULL;
  mmc_error_t err = {0};
  if (suite_rr_parse_file(path, &doc, NULL, 0, &err) != 0)
    fuzz_require(err.msg[0] != '\0' && doc == NULL);
  close(fd);
  return doc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *doc = load_as_file(data, size);
  if (!doc)
    return 0;
  mmc_error_t err = {0};
  if (suite_qr_validate(doc, &err) != 0) {
    fuzz_require(err.msg[0] != '\0');
    json_decref(doc);
    return 0;
  }
  json_int_t nnodes =
      json_integer_value(json_object_get(json_object_get(doc, "topology"), "nnodes"));
  static const char *const m[][2] = {{"latency", "ns_per_load"},
                                     {"topology", "firmware_distances"},
                                     {"bandwidth", "copy_gb_per_s"},
                                     {"bandwidth", "triad_gb_per_s"}};
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
    size_t n = 0;
    double *x = suite_qr_matrix(doc, m[i][0], m[i][1], &n);
    fuzz_require(!x || (json_int_t)n == nnodes);
    free(x);
  }
  json_decref(doc);
  return 0;
}
