/*
 * impl_load.c — an implementation under test, through the contract
 * (suite/include/mmcert/impl.h): dlopen, dlsym(MMCERT_IMPL_SYMBOL), then
 * refuse anything this mmcert cannot safely call.
 *
 * mmcert itself never loads the object: its constructors run as it is
 * loaded, and a table may hold garbage. A short-lived child (supervise.c,
 * with a deadline) loads it and inspects the table: ABI, struct_size,
 * required functions, capabilities, name and version (copied with
 * process_vm_readv, so a pointer to nowhere is an error, not a crash, and
 * refused unless printable), why_not() of every clear capability. It sends
 * that summary back as records, telling the parent each step before it
 * takes it, so a crash or a hang names where. The parent keeps the summary;
 * every case child loads the object again (suite_impl_open) and checks it is
 * still what was inspected.
 *
 * Invariant: a summary that passes suite_impl_load has our ABI version, a
 * table at least as large as our mmc_impl_t with every required function
 * pointer set (move_range may be NULL unless MMC_CAP_MOVE_RANGE is claimed),
 * and a printable name and version.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mmc_error.h"
#include "runner.h"
#include "supervise.h"

/* Required entry points, by offset, so the check is a loop over a table. */
#define FN(f)                                                                                      \
  { #f, offsetof(mmc_impl_t, f) }
static const struct {
  const char *name;
  size_t off;
} required_fns[] = {
    FN(host_create),    FN(host_destroy),    FN(setting_set),  FN(setting_get),
    FN(setting_info),   FN(advance),         FN(now),          FN(vm_power_on),
    FN(vm_reconfigure), FN(vm_power_off),    FN(vcpu_enter),   FN(page),
    FN(quiesce),        FN(vcpu_set_demand), FN(vcpu_exit),    FN(vcpu_info),
    FN(balloon_target), FN(balloon_give),    FN(balloon_take), FN(vm_stats),
    FN(host_stats),     FN(events_read),
};
#undef FN

static const char *const cap_names[] = {
    "CLOCK_STEPPED",   "CLOCK_LIVE",      "PLACEMENT",     "REBALANCE",
    "MIGRATION",       "MOVE_RANGE",      "SHARING",       "WSS",
    "ALLOC_TARGETS",   "BALLOON",         "COMPRESSION",   "SWAP",
    "MEMSTATE",        "VNUMA",           "NODE_MAPPINGS", "SALTING",
    "REAL_NODES_ONLY", "FAULT_INJECTION", "NODE_AFFINITY",
};

const char *suite_cap_name(uint64_t cap) {
  for (size_t i = 0; i < sizeof cap_names / sizeof cap_names[0]; i++)
    if (cap == 1ull << i)
      return cap_names[i];
  return NULL;
}

static bool fn_is_null(const mmc_impl_t *t, size_t off) {
  void (*fn)(void);
  memcpy(&fn, (const char *)t + off, sizeof fn);
  return fn == NULL;
}

static int check_table(const char *path, const mmc_impl_t *t, mmc_error_t *err) {
  if (t->abi_version != MMCERT_ABI_VERSION)
    return mmc_fail(err, MMC_EINVAL,
                    "--impl %s: built for ABI %u, this mmcert speaks ABI %u; rebuild it "
                    "against this mmcert's <mmcert/impl.h>",
                    path, t->abi_version, MMCERT_ABI_VERSION);
  if (t->struct_size < sizeof(mmc_impl_t))
    return mmc_fail(err, MMC_EINVAL,
                    "--impl %s: its %s table is %u bytes, this mmcert needs at least %zu "
                    "(struct_size too small)",
                    path, MMCERT_IMPL_SYMBOL, t->struct_size, sizeof(mmc_impl_t));
  for (size_t i = 0; i < sizeof required_fns / sizeof required_fns[0]; i++)
    if (fn_is_null(t, required_fns[i].off))
      return mmc_fail(err, MMC_EINVAL,
                      "--impl %s: required function %s is NULL (an unsupported mechanism "
                      "must still be a function that returns MMC_ENOTSUP)",
                      path, required_fns[i].name);
  if ((t->capabilities & MMC_CAP_MOVE_RANGE) && !t->move_range)
    return mmc_fail(err, MMC_EINVAL, "--impl %s: claims MMC_CAP_MOVE_RANGE but move_range is NULL",
                    path);
  if ((t->capabilities & MMC_CAP_FAULT_INJECTION) && !t->inject_fault)
    return mmc_fail(err, MMC_EINVAL,
                    "--impl %s: claims MMC_CAP_FAULT_INJECTION but inject_fault is NULL", path);
  if ((t->capabilities & MMC_CAP_SALTING) && !(t->capabilities & MMC_CAP_SHARING))
    return mmc_fail(err, MMC_EINVAL,
                    "--impl %s: claims MMC_CAP_SALTING without MMC_CAP_SHARING (salts decide "
                    "who shares)",
                    path);
  if (!t->name || !t->version)
    return mmc_fail(err, MMC_EINVAL, "--impl %s: name or version is NULL", path);
  return 0;
}

/* ------------------------------------------------------------ in the child */

/* Copy n bytes at addr without faulting: process_vm_readv on ourselves, or
 * (where that is refused) write(2) into a pipe, which says EFAULT too. */
static bool safe_read(const void *addr, void *dst, size_t n) {
  struct iovec local = {dst, n}, remote = {(void *)addr, n};
  if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)n)
    return true;
  if (errno == EFAULT)
    return false;
  int p[2];
  if (n > 4096 || pipe(p) != 0)
    return false;
  bool ok = write(p[1], addr, n) == (ssize_t)n && read(p[0], dst, n) == (ssize_t)n;
  close(p[0]);
  close(p[1]);
  return ok;
}

/* A string at s into buf (cap bytes with its NUL), read safely one byte at
 * a time up to cap; "" and a message when it is not a readable, printable
 * (no control character) string that fits. */
static bool safe_string(const char *s, char *buf, size_t cap, const char **why) {
  buf[0] = '\0';
  if (!s)
    return *why = "NULL", false;
  for (size_t i = 0; i < cap; i++) {
    if (!safe_read(s + i, &buf[i], 1))
      return buf[0] = '\0', *why = "not readable memory", false;
    unsigned char c = (unsigned char)buf[i];
    if (!c)
      return i ? true : (*why = "empty", false);
    if (c < 0x20 || c == 0x7f)
      return buf[0] = '\0', *why = "not printable (a control character)", false;
  }
  buf[0] = '\0';
  *why = "too long or not terminated";
  return false;
}

static void say(int fd, suite_rec_kind_t kind, const char *name, const char *text,
                const int64_t ival[4]) {
  suite_rec_t r = {.kind = kind, .name = (char *)name, .text = (char *)text};
  if (ival)
    memcpy(r.ival, ival, sizeof r.ival);
  if (suite_rec_send(fd, &r) != 0)
    _exit(3);
}

/* The step about to be taken: the last one sent is where a crash or a hang
 * happened. */
static void step(int fd, const char *what) {
  say(fd, SUITE_REC_DIAG, "step", what, NULL);
}

static _Noreturn void refuse(int fd, const mmc_error_t *err) {
  say(fd, SUITE_REC_BROKEN, NULL, err->msg, NULL);
  _exit(0);
}

/* dlopen searches the library path for a name without '/': make it a path. */
static void *open_object(const char *path, const mmc_impl_t **t, mmc_error_t *err) {
  char full[PATH_MAX];
  snprintf(full, sizeof full, "%s%s", strchr(path, '/') ? "" : "./", path);
  void *h = dlopen(full, RTLD_NOW | RTLD_LOCAL);
  if (!h)
    return mmc_fail(err, MMC_EINVAL, "--impl %s: not a loadable shared object: %s", path,
                    dlerror()),
           NULL;
  dlerror();
  *t = dlsym(h, MMCERT_IMPL_SYMBOL);
  const char *why = dlerror();
  if (why || !*t) {
    mmc_fail(err, MMC_EINVAL, "--impl %s: does not export the contract symbol '%s' (%s)", path,
             MMCERT_IMPL_SYMBOL, why ? why : "symbol is NULL");
    dlclose(h);
    return NULL;
  }
  return h;
}

/* The table copied out safely: its head first (struct_size says how much
 * of it there is to read). */
static void copy_table(int fd, const char *path, const mmc_impl_t *t, mmc_impl_t *copy) {
  mmc_error_t err = {0};
  memset(copy, 0, sizeof *copy);
  if (!safe_read(t, copy, offsetof(mmc_impl_t, name))) {
    mmc_fail(&err, MMC_EINVAL, "--impl %s: its %s table is not readable memory", path,
             MMCERT_IMPL_SYMBOL);
    refuse(fd, &err);
  }
  size_t n = copy->struct_size < sizeof *copy ? copy->struct_size : sizeof *copy;
  if (copy->abi_version == MMCERT_ABI_VERSION && n > offsetof(mmc_impl_t, name) &&
      !safe_read(t, copy, n)) {
    mmc_fail(&err, MMC_EINVAL, "--impl %s: its %s table claims %u bytes that are not readable",
             path, MMCERT_IMPL_SYMBOL, copy->struct_size);
    refuse(fd, &err);
  }
}

static void send_strings(int fd, const char *path, const mmc_impl_t *t) {
  static const char *const which[] = {"name", "version"};
  const char *ptr[] = {t->name, t->version}, *why = NULL;
  char buf[2][MMC_NAME_MAX];
  for (int i = 0; i < 2; i++) {
    step(fd, i ? "reading its version string" : "reading its name string");
    if (!safe_string(ptr[i], buf[i], sizeof buf[i], &why)) {
      mmc_error_t err = {0};
      mmc_fail(&err, MMC_EINVAL,
               "--impl %s: %s is %s (pointer %p); expected a printable string of 1..%u "
               "bytes",
               path, which[i], why, (const void *)ptr[i], MMC_NAME_MAX - 1);
      refuse(fd, &err);
    }
  }
  int64_t nums[4] = {t->abi_version, t->struct_size, (int64_t)t->capabilities, 0};
  say(fd, SUITE_REC_SETTING, buf[0], buf[1], nums);
}

static void send_why_not(int fd, const mmc_impl_t *t) {
  for (int b = 0; t->why_not && b < 64; b++) {
    if (t->capabilities & (1ull << b))
      continue;
    char what[96], text[512];
    const char *name = suite_cap_name(1ull << b), *why = NULL;
    snprintf(what, sizeof what, "calling why_not(MMC_CAP_%s)", name ? name : "?");
    step(fd, what);
    const char *because = t->why_not(1ull << b);
    if (because && safe_string(because, text, sizeof text, &why)) {
      int64_t bit[4] = {b, 0, 0, 0};
      say(fd, SUITE_REC_DIAG, "why_not", text, bit);
    }
  }
}

static _Noreturn void inspect(void *arg, int fd) {
  const char *path = arg;
  mmc_error_t err = {0};
  const mmc_impl_t *t = NULL;
  step(fd, "loading it (dlopen runs its constructors)");
  if (!open_object(path, &t, &err))
    refuse(fd, &err);
  step(fd, "reading its table");
  mmc_impl_t copy;
  copy_table(fd, path, t, &copy);
  if (check_table(path, &copy, &err) != 0)
    refuse(fd, &err);
  send_strings(fd, path, &copy);
  send_why_not(fd, &copy);
  say(fd, SUITE_REC_DONE, NULL, NULL, NULL);
  _exit(0);
}

/* ------------------------------------------------------------ in the parent */

static const char *last_step(const suite_result_t *r) {
  const char *s = "starting";
  for (size_t i = 0; i < r->nrecs; i++)
    if (r->recs[i].kind == SUITE_REC_DIAG && !strcmp(r->recs[i].name, "step"))
      s = r->recs[i].text;
  return s;
}

/* The summary from the records; 0, or why the object is refused. */
static int take_summary(const char *path, const suite_result_t *r, const suite_sup_end_t *end,
                        suite_impl_t *out, mmc_error_t *err) {
  const suite_rec_t *info = NULL;
  bool done = false;
  for (size_t i = 0; i < r->nrecs; i++) {
    const suite_rec_t *x = &r->recs[i];
    if (x->kind == SUITE_REC_BROKEN)
      return mmc_fail(err, MMC_EINVAL, "%s", x->text);
    if (x->kind == SUITE_REC_SETTING)
      info = x;
    if (x->kind == SUITE_REC_DIAG && !strcmp(x->name, "why_not") && x->ival[0] >= 0 &&
        x->ival[0] < 64)
      snprintf(out->why_not[x->ival[0]], sizeof out->why_not[0], "%s", x->text);
    done |= x->kind == SUITE_REC_DONE;
  }
  if (end->timed_out)
    return mmc_fail(err, MMC_EINVAL,
                    "--impl %s: inspecting it did not finish in %g s (it hung while %s); "
                    "mmcert did not load it",
                    path, suite_sup_load_timeout(), last_step(r));
  if (WIFSIGNALED(end->status))
    return mmc_fail(err, MMC_EINVAL,
                    "--impl %s: inspecting it crashed with signal %d (%s) while %s; mmcert did "
                    "not load it",
                    path, WTERMSIG(end->status), strsignal(WTERMSIG(end->status)), last_step(r));
  if (!done || !info || end->malformed)
    return mmc_fail(err, MMC_EINVAL,
                    "--impl %s: inspecting it ended (exit status %d) while %s, before it was "
                    "done; mmcert did not load it",
                    path, WIFEXITED(end->status) ? WEXITSTATUS(end->status) : -1, last_step(r));
  snprintf(out->name, sizeof out->name, "%s", info->name);
  snprintf(out->version, sizeof out->version, "%s", info->text);
  out->summary = (mmc_impl_t){.abi_version = (uint32_t)info->ival[0],
                              .struct_size = (uint32_t)info->ival[1],
                              .capabilities = (uint64_t)info->ival[2],
                              .name = out->name,
                              .version = out->version};
  out->impl = &out->summary;
  return 0;
}

int suite_impl_load(const char *path, suite_impl_t *out, mmc_error_t *err) {
  struct stat st;
  memset(out, 0, sizeof *out);
  if (stat(path, &st) != 0)
    return mmc_fail(err, MMC_ENOENT,
                    "--impl %s: %s (give the path of a shared object "
                    "exporting '%s')",
                    path, strerror(errno), MMCERT_IMPL_SYMBOL);
  if (!S_ISREG(st.st_mode))
    return mmc_fail(err, MMC_EINVAL,
                    "--impl %s: not a regular file (a shared object .so "
                    "is expected)",
                    path);
  snprintf(out->path, sizeof out->path, "%s", path);
  suite_result_t r = {0};
  suite_sup_job_t job = {.what = "inspection of the implementation",
                         .child = inspect,
                         .arg = out->path,
                         .consume = suite_rec_take,
                         .ctx = &r,
                         .timeout_s = suite_sup_load_timeout(),
                         .stdout_to_err = true};
  suite_sup_end_t end;
  int rc = suite_sup_run(&job, &end) != 0
               ? mmc_fail(err, MMC_EIO, "--impl %s: cannot inspect it: %s", path, end.error)
               : take_summary(path, &r, &end, out, err);
  for (size_t i = 0; i < r.nrecs; i++)
    suite_rec_free(&r.recs[i]);
  free(r.recs);
  if (rc)
    memset(out, 0, sizeof *out);
  return rc;
}

void suite_impl_unload(suite_impl_t *si) {
  memset(si, 0, sizeof *si);
}

int suite_impl_open(const suite_impl_t *si, const mmc_impl_t **impl, mmc_error_t *err) {
  if (si->impl && si->impl->host_create) { /* a table linked into the program (tests) */
    *impl = si->impl;
    return 0;
  }
  const mmc_impl_t *t;
  if (!open_object(si->path, &t, err))
    return MMC_EINVAL;
  if (t->abi_version != si->summary.abi_version || t->struct_size != si->summary.struct_size ||
      t->capabilities != si->summary.capabilities)
    return mmc_fail(err, MMC_EINVAL,
                    "--impl %s: the object changed since mmcert inspected it (ABI, table size or "
                    "capabilities differ)",
                    si->path);
  *impl = t;
  return 0;
}
