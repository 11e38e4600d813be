/*
 * results_read.c — reading results files and pooling runs (see
 * results_read.h; the rules themselves are results_schema.c).
 *
 * Reading: the file is streamed into jansson through a read(2) callback
 * that also hashes every byte (the history's duplicate test), so what is
 * parsed is exactly the file: a NUL byte or text after the document is an
 * error, told apart from a document that stops early ("truncated") and from
 * text that is not JSON at all. Duplicate keys are refused (which one would
 * count is not defined by JSON).
 *
 * Pooling: every (case, name) occurrence of a metric or check, and every
 * case, is one reference tagged with its position in the input; one sort by
 * (case, name, position) brings equal keys together in input order, so each
 * group is pooled in one pass; a second sort of the groups by first
 * position gives the order of first appearance. The key-ordered group list
 * stays as the lookup index (binary search). O(n log n) in all, where one
 * linear search per entry made 100 000 metrics of one case take minutes.
 */
#include "results_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* ------------------------------------------------------------ loading */

typedef struct feed {
  int fd;
  XXH3_state_t *hash;
  size_t bytes;
  int error; /* errno of a failed read */
} feed_t;

static size_t feed_read(void *buf, size_t len, void *data) {
  feed_t *f = data;
  for (;;) {
    ssize_t n = read(f->fd, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      f->error = errno;
      return (size_t)-1;
    }
    XXH3_64bits_update(f->hash, buf, (size_t)n);
    f->bytes += (size_t)n;
    return (size_t)n;
  }
}

/* jansson's messages: "end of file expected near 'x'" for text after the
 * document; "... near end of file" or "premature end of input" when the
 * text stops early. */
static int parse_error(const char *label, const json_error_t *je, size_t size, mmc_error_t *err) {
  if (size == 0)
    return mmc_fail(err, MMC_EINVAL, "%s: empty file, expected an mmcert results JSON document",
                    label);
  const char *what = strstr(je->text, "end of file expected") ? "text after the JSON document"
                     : strstr(je->text, "near end of file") || strstr(je->text, "premature end")
                         ? "truncated JSON (the text ends early)"
                         : "not valid JSON";
  return mmc_fail(err, MMC_EINVAL,
                  "%s: %s at line %d, column %d (byte %d): %s (expected one mmcert results JSON "
                  "document and nothing after it)",
                  label, what, je->line, je->column, je->position, je->text);
}

static int validated(json_t *doc, const char *label, json_t **out, mmc_error_t *err) {
  mmc_error_t e = {0};
  if (suite_rr_validate(doc, &e) != 0) {
    json_decref(doc);
    return mmc_fail(err, MMC_EINVAL, "%s: not a valid mmcert results file: %s", label, e.msg);
  }
  *out = doc;
  return 0;
}

int suite_rr_load_text(const char *text, size_t len, const char *label, json_t **out,
                       mmc_error_t *err) {
  json_error_t je;
  *out = NULL;
  json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!doc)
    return parse_error(label, &je, len, err);
  return validated(doc, label, out, err);
}

int suite_rr_parse_file(const char *path, json_t **out, char *hash, size_t hashcap,
                        mmc_error_t *err) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return mmc_fail(err, errno == ENOENT ? MMC_ENOENT : MMC_EIO, "%s: cannot open: %s", path,
                    strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return mmc_fail(err, MMC_EINVAL,
                    "%s: not a regular file (expected an mmcert results JSON file)", path);
  }
  feed_t f = {.fd = fd, .hash = XXH3_createState()};
  if (!f.hash) {
    close(fd);
    return mmc_fail(err, MMC_ENOMEM, "%s: out of memory", path);
  }
  XXH3_64bits_reset(f.hash);
  json_error_t je;
  json_t *doc = json_load_callback(feed_read, &f, JSON_REJECT_DUPLICATES, &je);
  close(fd);
  if (hash)
    snprintf(hash, hashcap, "xxh3:%016llx", (unsigned long long)XXH3_64bits_digest(f.hash));
  XXH3_freeState(f.hash);
  if (f.error) {
    json_decref(doc);
    return mmc_fail(err, MMC_EIO, "%s: cannot read: %s", path, strerror(f.error));
  }
  if (!doc)
    return parse_error(path, &je, f.bytes, err);
  *out = doc;
  return 0;
}

int suite_rr_load_file(const char *path, json_t **out, char *hash, size_t hashcap,
                       mmc_error_t *err) {
  json_t *doc;
  int rc = suite_rr_parse_file(path, &doc, hash, hashcap, err);
  return rc ? rc : validated(doc, path, out, err);
}

/* ------------------------------------------------------------ pooling */

typedef struct ref {
  const char *cid, *name; /* the key */
  const json_t *j;        /* the metric, check or case object */
  size_t seq;             /* position in the input */
} ref_t;

typedef struct refs {
  ref_t *r;
  size_t n, cap;
} refs_t;

static int add_ref(refs_t *rs, const char *cid, const char *name, const json_t *j) {
  if (rs->n == rs->cap) {
    size_t cap = rs->cap ? 2 * rs->cap : 256;
    ref_t *r = realloc(rs->r, cap * sizeof *r);
    if (!r)
      return -1;
    rs->r = r;
    rs->cap = cap;
  }
  rs->r[rs->n] = (ref_t){.cid = cid, .name = name, .j = j, .seq = rs->n};
  rs->n++;
  return 0;
}

static int cmp_key(const char *c1, const char *n1, const char *c2, const char *n2) {
  int c = strcmp(c1, c2);
  return c ? c : strcmp(n1, n2);
}

static int cmp_ref(const void *a, const void *b) {
  const ref_t *x = a, *y = b;
  int c = cmp_key(x->cid, x->name, y->cid, y->name);
  return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* A group of equal keys: refs r[first .. first+n), input order. */
typedef struct group {
  size_t first, n;
  size_t seq; /* of its first occurrence */
} group_t;

static int cmp_group_seq(const void *a, const void *b) {
  const group_t *x = a, *y = b;
  return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Sort refs and cut them into groups (in key order); *ng groups. */
static group_t *group_refs(refs_t *rs, size_t *ng) {
  if (rs->n) /* no refs: rs->r may be NULL, which qsort must not get */
    qsort(rs->r, rs->n, sizeof *rs->r, cmp_ref);
  group_t *g = calloc(rs->n ? rs->n : 1, sizeof *g);
  if (!g)
    return NULL;
  size_t n = 0;
  for (size_t i = 0; i < rs->n; i++) {
    if (n && !cmp_key(rs->r[i].cid, rs->r[i].name, rs->r[g[n - 1].first].cid,
                      rs->r[g[n - 1].first].name)) {
      g[n - 1].n++;
      continue;
    }
    g[n++] = (group_t){.first = i, .n = 1, .seq = rs->r[i].seq};
  }
  *ng = n;
  return g;
}

/* From groups in key order: the order of first appearance into *order
 * (group numbers) and the key index (final position of each key-ordered
 * group) into *index. */
static int orders(const group_t *g, size_t ng, size_t **order, size_t **index) {
  group_t *by_seq = malloc((ng ? ng : 1) * sizeof *by_seq);
  *order = malloc((ng ? ng : 1) * sizeof **order);
  *index = malloc((ng ? ng : 1) * sizeof **index);
  if (!by_seq || !*order || !*index) {
    free(by_seq);
    return -1;
  }
  for (size_t k = 0; k < ng; k++)
    by_seq[k] = (group_t){.first = k, .seq = g[k].seq}; /* .first: the group number */
  qsort(by_seq, ng, sizeof *by_seq, cmp_group_seq);
  for (size_t pos = 0; pos < ng; pos++) {
    (*order)[pos] = by_seq[pos].first;
    (*index)[by_seq[pos].first] = pos;
  }
  free(by_seq);
  return 0;
}

static const char *js(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "";
}

static int pool_metric(suite_rr_metric_t *m, const ref_t *r, size_t n) {
  size_t total = 0;
  for (size_t i = 0; i < n; i++)
    total += json_array_size(json_object_get(r[i].j, "samples"));
  *m = (suite_rr_metric_t){.case_id = r[0].cid,
                           .name = r[0].name,
                           .unit = js(r[0].j, "unit"),
                           .better = js(r[0].j, "better"),
                           .samples = malloc((total ? total : 1) * sizeof *m->samples)};
  if (!m->samples)
    return -1;
  for (size_t i = 0; i < n; i++) {
    json_t *s = json_object_get(r[i].j, "samples"), *why = json_object_get(r[i].j, "unsupported");
    if (why && !m->unsupported)
      m->unsupported = json_string_value(why);
    for (size_t k = 0; k < json_array_size(s); k++)
      m->samples[m->n++] = json_number_value(json_array_get(s, k));
  }
  return 0;
}

static void pool_check(suite_rr_check_t *c, const ref_t *r, size_t n) {
  *c = (suite_rr_check_t){.case_id = r[0].cid,
                          .id = js(r[0].j, "id"),
                          .name = r[0].name,
                          .spec_ids = js(r[0].j, "spec_ids"),
                          .diag = js(r[0].j, "diag"),
                          .ok = true};
  for (size_t i = 0; i < n && c->ok; i++)
    if (!json_is_true(json_object_get(r[i].j, "ok"))) {
      c->ok = false;
      c->diag = js(r[i].j, "diag");
    }
}

static int verdict_rank(const char *v) {
  static const char *const order[] = {"pass", "skip", "fail", "broken"};
  for (int i = 0; i < 4; i++)
    if (!strcmp(v, order[i]))
      return i;
  return 0;
}

static void pool_case(suite_rr_case_t *c, const ref_t *r, size_t n) {
  *c = (suite_rr_case_t){.id = r[0].cid, .verdict = js(r[0].j, "verdict")};
  for (size_t i = 1; i < n; i++)
    if (verdict_rank(js(r[i].j, "verdict")) > verdict_rank(c->verdict))
      c->verdict = js(r[i].j, "verdict");
}

typedef enum { POOL_METRICS, POOL_CHECKS, POOL_CASES } pool_kind_t;

/* Every reference of one kind, pooled by key into the rr's array of that
 * kind, in order of first appearance, with its key index. */
static int pool_all(suite_rr_t *rr, refs_t *rs, pool_kind_t kind) {
  size_t ng = 0, *order = NULL, *index = NULL;
  group_t *g = group_refs(rs, &ng);
  if (!g || orders(g, ng, &order, &index)) {
    free(g);
    free(order);
    free(index);
    return -1;
  }
  int rc = 0;
  if (kind == POOL_METRICS) {
    rr->metrics = calloc(ng ? ng : 1, sizeof *rr->metrics);
    for (size_t pos = 0; rr->metrics && pos < ng && !rc; pos++, rr->nmetrics++)
      rc = pool_metric(&rr->metrics[pos], &rs->r[g[order[pos]].first], g[order[pos]].n);
    rc = rc || !rr->metrics ? -1 : 0;
    rr->metric_index = index;
  } else if (kind == POOL_CHECKS) {
    rr->checks = calloc(ng ? ng : 1, sizeof *rr->checks);
    for (size_t pos = 0; rr->checks && pos < ng; pos++, rr->nchecks++)
      pool_check(&rr->checks[pos], &rs->r[g[order[pos]].first], g[order[pos]].n);
    rc = rr->checks ? 0 : -1;
    rr->check_index = index;
  } else {
    rr->cases = calloc(ng ? ng : 1, sizeof *rr->cases);
    for (size_t pos = 0; rr->cases && pos < ng; pos++, rr->ncases++)
      pool_case(&rr->cases[pos], &rs->r[g[order[pos]].first], g[order[pos]].n);
    rc = rr->cases ? 0 : -1;
    rr->case_index = index;
  }
  free(g);
  free(order);
  return rc;
}

static const char *str_at(const json_t *doc, const char *obj, const char *key) {
  return js(obj ? json_object_get(doc, obj) : doc, key);
}

/* Runs pooled together must agree on topology and mode. */
static int same_ground(suite_rr_t *rr, const json_t *d, const char *label, mmc_error_t *err) {
  if (!strcmp(str_at(d, "topology", "hash"), rr->topo_hash) &&
      !strcmp(str_at(d, NULL, "mode"), rr->mode))
    return 0;
  return mmc_fail(err, MMC_EINVAL,
                  "%s: the selected runs differ in topology or mode (run %s: %s, %s; run %s: %s, "
                  "%s): narrow the selection, e.g. with mode= or topology=",
                  label, rr->run_id, rr->topo_summary, rr->mode, str_at(d, NULL, "run_id"),
                  str_at(d, "topology", "summary"), str_at(d, NULL, "mode"));
}

static int collect(suite_rr_t *rr, refs_t rs[3], const char *label, mmc_error_t *err) {
  size_t i, k, j;
  json_t *d, *c, *x;
  json_array_foreach(rr->docs, i, d) {
    int rc = same_ground(rr, d, label, err);
    if (rc)
      return rc;
    rr->seeds_differ |= json_integer_value(json_object_get(d, "seed")) != rr->seed;
    json_array_foreach(json_object_get(d, "cases"), k, c) {
      const char *cid = js(c, "id");
      int bad = add_ref(&rs[POOL_CASES], cid, "", c);
      json_array_foreach(json_object_get(c, "metrics"), j, x) bad |=
          add_ref(&rs[POOL_METRICS], cid, js(x, "name"), x);
      json_array_foreach(json_object_get(c, "checks"), j, x) bad |=
          add_ref(&rs[POOL_CHECKS], cid, js(x, "name"), x);
      if (bad)
        return mmc_fail(err, MMC_ENOMEM, "%s: out of memory pooling the runs", label);
    }
  }
  return 0;
}

int suite_rr_from_docs(json_t *docs, const char *label, suite_rr_t *out, mmc_error_t *err) {
  *out = (suite_rr_t){.docs = docs};
  snprintf(out->label, sizeof out->label, "%s", label);
  if (json_array_size(docs) == 0) {
    json_decref(docs);
    out->docs = NULL;
    return mmc_fail(err, MMC_ENOENT, "%s: no run selected", label);
  }
  json_t *first = json_array_get(docs, 0);
  out->impl = str_at(first, "implementation", "name");
  out->version = str_at(first, "implementation", "version");
  out->machine_class = str_at(first, "machine", "class");
  out->topo_hash = str_at(first, "topology", "hash");
  out->topo_summary = str_at(first, "topology", "summary");
  out->mode = str_at(first, NULL, "mode");
  out->run_id = str_at(first, NULL, "run_id");
  out->seed = json_integer_value(json_object_get(first, "seed"));
  refs_t rs[3] = {{0}};
  int rc = collect(out, rs, label, err);
  for (int kind = 0; kind < 3 && !rc; kind++)
    if (pool_all(out, &rs[kind], (pool_kind_t)kind))
      rc = mmc_fail(err, MMC_ENOMEM, "%s: out of memory pooling the runs", label);
  for (int kind = 0; kind < 3; kind++)
    free(rs[kind].r);
  if (rc)
    suite_rr_free(out);
  return rc;
}

int suite_rr_open_file(const char *path, suite_rr_t *out, mmc_error_t *err) {
  json_t *doc;
  *out = (suite_rr_t){0};
  int rc = suite_rr_load_file(path, &doc, NULL, 0, err);
  if (rc)
    return rc;
  json_t *docs = json_array();
  if (!docs || json_array_append_new(docs, doc)) {
    json_decref(docs);
    return mmc_fail(err, MMC_ENOMEM, "%s: out of memory", path);
  }
  return suite_rr_from_docs(docs, path, out, err);
}

/* ------------------------------------------------------------ lookups */

/* Binary search of index[0..n) (positions in an array of `size`-byte
 * entries whose key is (case id, name) at the given offsets). */
static const void *find(const void *base, size_t size, const size_t *index, size_t n,
                        const char *(*key)(const void *, const char **), const char *cid,
                        const char *name) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const void *e = (const char *)base + index[mid] * size;
    const char *ename, *ecid = key(e, &ename);
    int c = cmp_key(ecid, ename, cid, name);
    if (!c)
      return e;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

static const char *metric_key(const void *e, const char **name) {
  *name = ((const suite_rr_metric_t *)e)->name;
  return ((const suite_rr_metric_t *)e)->case_id;
}

static const char *check_key(const void *e, const char **name) {
  *name = ((const suite_rr_check_t *)e)->name;
  return ((const suite_rr_check_t *)e)->case_id;
}

static const char *case_key(const void *e, const char **name) {
  *name = "";
  return ((const suite_rr_case_t *)e)->id;
}

const suite_rr_metric_t *suite_rr_find_metric(const suite_rr_t *rr, const char *case_id,
                                              const char *name) {
  return find(rr->metrics, sizeof *rr->metrics, rr->metric_index, rr->nmetrics, metric_key, case_id,
              name);
}

const suite_rr_check_t *suite_rr_find_check(const suite_rr_t *rr, const char *case_id,
                                            const char *name) {
  return find(rr->checks, sizeof *rr->checks, rr->check_index, rr->nchecks, check_key, case_id,
              name);
}

const suite_rr_case_t *suite_rr_find_case(const suite_rr_t *rr, const char *id) {
  return find(rr->cases, sizeof *rr->cases, rr->case_index, rr->ncases, case_key, id, "");
}

void suite_rr_free(suite_rr_t *rr) {
  for (size_t i = 0; i < rr->nmetrics; i++)
    free(rr->metrics[i].samples);
  free(rr->metrics);
  free(rr->checks);
  free(rr->cases);
  free(rr->metric_index);
  free(rr->check_index);
  free(rr->case_index);
  json_decref(rr->docs);
  *rr = (suite_rr_t){0};
}
