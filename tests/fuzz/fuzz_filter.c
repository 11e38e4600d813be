/*
 * fuzz_filter.c — history selections, the text after "db:" in `compare`,
 * `report` and `results list` (suite_hist_parse_filter), run against a
 * real SQLite history (suite_hist_select, suite_hist_list) made once per
 * process from the committed results fixtures, one of them renamed to a
 * run id with SQL LIKE wildcards in it. Properties: a refusal has a
 * message; a parsed selection runs without a database error, and every
 * run it selects matches it: impl, version, machine class, mode, topology
 * and host equal, run id a prefix compared as text (a '%' or '_' in it
 * matches only itself), at most `last` runs.
 */
#include <ftw.h>
#include <jansson.h>
#include <unistd.h>

#include "fuzz.h"
#include "history.h"
#include "mmc_error.h"

#ifndef MMCERT_SOURCE_DIR
#define MMCERT_SOURCE_DIR "."
#endif

static char dir[256];
static suite_hist_t *hist;
static FILE *devnull;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
  return remove(p);
}

static void cleanup(void) {
  suite_hist_close(hist);
  if (devnull)
    fclose(devnull);
  if (dir[0])
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* A copy of a fixture under another run id. */
static void write_renamed(const char *from, const char *run_id, const char *to) {
  json_error_t je;
  json_t *d = json_load_file(from, 0, &je);
  fuzz_require(d != NULL);
  json_object_set_new(d, "run_id", json_string(run_id));
  fuzz_require(json_dump_file(d, to, JSON_INDENT(1)) == 0);
  json_decref(d);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(dir, sizeof dir, "%s/mmcert-fuzz-XXXXXX", tmp);
  fuzz_require(mkdtemp(dir) != NULL);
  atexit(cleanup);
  char db[300], old[512], single[512], wild[300];
  snprintf(db, sizeof db, "%s/history.db", dir);
  snprintf(old, sizeof old, "%s/tests/fixtures/results/old.json", MMCERT_SOURCE_DIR);
  snprintf(single, sizeof single, "%s/tests/fixtures/results/single-a.json", MMCERT_SOURCE_DIR);
  snprintf(wild, sizeof wild, "%s/wild.json", dir);
  write_renamed(old, "a%b_c", wild);
  mmc_error_t err = {0};
  fuzz_require(suite_hist_open(db, true, NULL, &hist, &err) == 0);
  const char *files[] = {old, single, wild};
  size_t imported, skipped;
  devnull = fopen("/dev/null", "w");
  fuzz_require(devnull != NULL);
  if (suite_hist_import(hist, files, 3, devnull, &imported, &skipped, &err) != 0) {
    fprintf(stderr, "fuzz_filter: import failed: %s\n", err.msg);
    abort();
  }
  fuzz_require(imported == 3);
  return 0;
}

static const char *str_at(json_t *d, const char *obj, const char *key) {
  json_t *o = obj ? json_object_get(d, obj) : d;
  return json_string_value(json_object_get(o, key));
}

static void require_equal(const char *want, const char *have) {
  fuzz_require(!want || (have && strcmp(want, have) == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_cstr(data, size);
  if (!text)
    return 0;
  char buf[512];
  suite_hist_filter_t f;
  mmc_error_t err = {0};
  if (suite_hist_parse_filter(text, buf, sizeof buf, &f, &err) != 0) {
    fuzz_require(err.msg[0] != '\0');
    free(text);
    return 0;
  }
  json_t *docs = NULL;
  if (suite_hist_select(hist, &f, &docs, &err) != 0) {
    fprintf(stderr, "fuzz_filter: '%s': %s\n", text, err.msg);
    abort();
  }
  fuzz_require(!f.last || json_array_size(docs) <= f.last);
  size_t i;
  json_t *d;
  json_array_foreach(docs, i, d) {
    require_equal(f.impl, str_at(d, "implementation", "name"));
    require_equal(f.version, str_at(d, "implementation", "version"));
    require_equal(f.machine, str_at(d, "machine", "class"));
    require_equal(f.host, str_at(d, "machine", "hostname"));
    require_equal(f.topology, str_at(d, "topology", "hash"));
    require_equal(f.mode, str_at(d, NULL, "mode"));
    const char *run = str_at(d, NULL, "run_id");
    fuzz_require(!f.run || (run && strncmp(run, f.run, strlen(f.run)) == 0));
  }
  json_decref(docs);
  fuzz_require(suite_hist_list(hist, &f, devnull, &err) == 0);
  free(text);
  return 0;
}
