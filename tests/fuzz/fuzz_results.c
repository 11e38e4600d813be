/*
 * fuzz_results.c — results files from other machines (`results import`,
 * `show`, `compare`, `report`): the one reader, suite/results_read.c.
 * The bytes go through the file path (streamed, as a file named on the
 * command line is read) and through the text path (as a document stored
 * in the history is read back). Properties:
 *  - a refusal has a message;
 *  - what the file path accepts the text path accepts (an imported file
 *    is read back from the history);
 *  - the writer's scrub keeps an accepted document valid;
 *  - an accepted document pools with a copy of itself (a history
 *    selection of two runs), and every pooled metric, check and case is
 *    found by its key, with twice the samples.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "mmc_error.h"
#include "results_read.h"

static void pool_props(json_t *doc) {
  mmc_error_t err = {0};
  json_t *docs = json_array();
  fuzz_require(docs != NULL);
  json_array_append(docs, doc);
  json_array_append_new(docs, json_deep_copy(doc));
  suite_rr_t one, two;
  json_t *single = json_array();
  json_array_append(single, doc);
  fuzz_require(suite_rr_from_docs(single, "fuzz", &one, &err) == 0);
  if (suite_rr_from_docs(docs, "fuzz x2", &two, &err) != 0) {
    fuzz_require(err.msg[0] != '\0');
    suite_rr_free(&one);
    return;
  }
  fuzz_require(one.nmetrics == two.nmetrics && one.nchecks == two.nchecks &&
               one.ncases == two.ncases);
  for (size_t i = 0; i < two.nmetrics; i++) {
    const suite_rr_metric_t *m = &two.metrics[i];
    const suite_rr_metric_t *o = suite_rr_find_metric(&one, m->case_id, m->name);
    fuzz_require(suite_rr_find_metric(&two, m->case_id, m->name) == m);
    fuzz_require(o != NULL && m->n == 2 * o->n);
  }
  for (size_t i = 0; i < two.nchecks; i++) {
    const suite_rr_check_t *c = &two.checks[i];
    fuzz_require(suite_rr_find_check(&two, c->case_id, c->name) == c);
  }
  for (size_t i = 0; i < two.ncases; i++)
    fuzz_require(suite_rr_find_case(&two, two.cases[i].id) == &two.cases[i]);
  suite_rr_free(&one);
  suite_rr_free(&two);
}

/* The bytes as a file (an anonymous one: nothing on disk to clean up). */
static int load_as_file(const uint8_t *data, size_t size, json_t **doc, mmc_error_t *err) {
  int fd = memfd_create("fuzz-results", MFD_CLOEXEC);
  fuzz_require(fd >= 0);
  for (size_t off = 0; off < size;) {
    ssize_t w = write(fd, data + off, size - off);
    fuzz_require(w > 0);
    off += (size_t)w;
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  int rc = suite_rr_load_file(path, doc, NULL, 0, err);
  close(fd);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mmc_error_t err = {0};
  json_t *doc = NULL;
  if (load_as_file(data, size, &doc, &err) != 0) {
    fuzz_require(err.msg[0] != '\0' && doc == NULL);
    return 0;
  }
  json_t *again = NULL;
  mmc_error_t err2 = {0};
  fuzz_require(suite_rr_load_text((const char *)data, size, "fuzz", &again, &err2) == 0);
  json_decref(again);

  json_t *scrubbed = json_deep_copy(doc);
  suite_rr_scrub(scrubbed);
  fuzz_require(suite_rr_validate(scrubbed, &err) == 0);
  json_decref(scrubbed);

  pool_props(doc);
  json_decref(doc);
  return 0;
}
