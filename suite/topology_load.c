/*
 * topology_load.c — the topology a user names (--topology), read in a child
 * (supervise.c): hwloc parses hwloc XML files with code that crashes on
 * some corrupt files (in hwloc_bitmap_* under load_xml, seen on 78 of 2000
 * mutated files), and a synthetic string goes through hwloc too. The child
 * loads it with mmt_load and sends it back in the wire form of
 * mmt_encode/mmt_decode, which checks every invariant of a loaded topology
 * on arrival; a crash or a hang of the child is a refusal (exit 2) naming
 * the input, never mmcert's own death.
 *
 * Wire: one byte, 0 then the topology's bytes, or 1 then mmc_error_t's
 * code (int32) and message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mmc_error.h"
#include "runner.h"
#include "supervise.h"
#include "topology_load.h"

/* What the child sent, gathered whole (bounded). */
typedef struct gathered {
  unsigned char *buf;
  size_t len;
  bool too_long;
} gathered_t;

enum { TOPOLOGY_BYTES_MAX = 64 << 20 };

static int gather(void *ctx, const unsigned char *buf, size_t len, size_t *used) {
  gathered_t *g = ctx;
  *used = len;
  if (g->len + len > TOPOLOGY_BYTES_MAX) {
    g->too_long = true;
    return -1;
  }
  unsigned char *n = realloc(g->buf, g->len + len);
  if (!n)
    return -1;
  memcpy(n + g->len, buf, len);
  g->buf = n;
  g->len += len;
  return 0;
}

static _Noreturn void load_child(void *arg, int fd) {
  const char *spec = arg;
  mmt_topology_t *t = NULL;
  mmc_error_t err = {0};
  void *bytes = NULL;
  size_t len = 0;
  unsigned char ok = 0;
  if (mmt_load(spec, &t, &err) == 0 && mmt_encode(t, &bytes, &len) == 0) {
    if (suite_write_all(fd, &ok, 1) || suite_write_all(fd, bytes, len))
      _exit(3);
    _exit(0);
  }
  unsigned char failed = 1;
  int32_t code = err.code ? err.code : MMC_ENOMEM;
  if (suite_write_all(fd, &failed, 1) || suite_write_all(fd, &code, sizeof code) ||
      suite_write_all(fd, err.msg, strnlen(err.msg, sizeof err.msg)))
    _exit(3);
  _exit(0);
}

/* What arrived, as the topology or the child's own error. */
static int take(const gathered_t *g, mmt_topology_t **out, mmc_error_t *err) {
  if (g->len >= 1 + sizeof(int32_t) && g->buf[0] == 1) {
    int32_t code;
    memcpy(&code, g->buf + 1, sizeof code);
    size_t n = g->len - 1 - sizeof code;
    n = n < MMC_ERRMSG_MAX - 1 ? n : MMC_ERRMSG_MAX - 1;
    mmc_fail(err, code < 0 ? code : MMC_EINVAL, "%.*s", (int)n, (const char *)g->buf + 5);
    return err->code;
  }
  if (g->len < 1 || g->buf[0] != 0)
    return mmc_fail(err, MMC_EINVAL, "the reading process sent nothing usable");
  return mmt_decode(g->buf + 1, g->len - 1, out, err);
}

int suite_topology_load(const char *spec, mmt_topology_t **out, mmc_error_t *err) {
  *out = NULL;
  gathered_t g = {0};
  suite_sup_job_t job = {.what = "reading the topology",
                         .child = load_child,
                         .arg = (void *)spec,
                         .consume = gather,
                         .ctx = &g,
                         .timeout_s = suite_sup_load_timeout(),
                         .stdout_to_err = true};
  suite_sup_end_t e;
  int rc;
  const char *what = spec && *spec ? spec : "this machine";
  if (suite_sup_run(&job, &e) != 0)
    rc = mmc_fail(err, MMC_EIO, "cannot read it: %s", e.error);
  else if (e.timed_out)
    rc = mmc_fail(err, MMC_EINVAL, "hwloc did not finish reading %s in %g s", what,
                  suite_sup_load_timeout());
  else if (WIFSIGNALED(e.status))
    rc = mmc_fail(err, MMC_EINVAL,
                  "hwloc crashed reading %s (signal %d, %s): the file is corrupt or not an "
                  "hwloc export; check it with `lstopo-no-graphics --input FILE`",
                  what, WTERMSIG(e.status), strsignal(WTERMSIG(e.status)));
  else if (g.too_long)
    rc = mmc_fail(err, MMC_EINVAL, "the topology read from %s is larger than %d MiB", what,
                  TOPOLOGY_BYTES_MAX >> 20);
  else
    rc = take(&g, out, err);
  free(g.buf);
  return rc;
}
