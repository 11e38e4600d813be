/*
 * impl_load.c — load an implementation under test through the contract
 * (suite/include/mmcert/impl.h): dlopen, dlsym(MMCERT_IMPL_SYMBOL), then
 * refuse anything this mmcert cannot safely call (issue 2 item 6).
 *
 * Invariant: a table that passes suite_impl_load has our ABI version, is at
 * least as large as our mmc_impl_t, and has every required function pointer
 * set; move_range may be NULL unless MMC_CAP_MOVE_RANGE is claimed.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include "mmc_error.h"
#include "runner.h"

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
    "CLOCK_STEPPED",   "CLOCK_LIVE", "PLACEMENT",       "REBALANCE",     "MIGRATION",
    "MOVE_RANGE",      "SHARING",    "WSS",             "ALLOC_TARGETS", "BALLOON",
    "COMPRESSION",     "SWAP",       "MEMSTATE",        "VNUMA",         "NODE_MAPPINGS",
    "SALTING",         "REAL_NODES_ONLY", "FAULT_INJECTION", "NODE_AFFINITY",
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

int suite_impl_load(const char *path, suite_impl_t *out, mmc_error_t *err) {
  struct stat st;
  *out = (suite_impl_t){0};
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
  /* dlopen searches the library path for a name without '/': make it a path. */
  char full[PATH_MAX];
  snprintf(full, sizeof full, "%s%s", strchr(path, '/') ? "" : "./", path);
  void *h = dlopen(full, RTLD_NOW | RTLD_LOCAL);
  if (!h)
    return mmc_fail(err, MMC_EINVAL, "--impl %s: not a loadable shared object: %s", path,
                    dlerror());
  dlerror();
  const mmc_impl_t *t = dlsym(h, MMCERT_IMPL_SYMBOL);
  const char *why = dlerror();
  if (why || !t) {
    mmc_fail(err, MMC_EINVAL, "--impl %s: does not export the contract symbol '%s' (%s)", path,
             MMCERT_IMPL_SYMBOL, why ? why : "symbol is NULL");
    dlclose(h);
    return MMC_EINVAL;
  }
  int rc = check_table(path, t, err);
  if (rc) {
    dlclose(h);
    return rc;
  }
  out->handle = h;
  out->impl = t;
  snprintf(out->path, sizeof out->path, "%s", path);
  for (int b = 0; t->why_not && b < 64; b++) {
    const char *because = (t->capabilities & (1ull << b)) ? NULL : t->why_not(1ull << b);
    if (because)
      snprintf(out->why_not[b], sizeof out->why_not[b], "%s", because);
  }
  return 0;
}

void suite_impl_unload(suite_impl_t *si) {
  if (si->handle)
    dlclose(si->handle);
  *si = (suite_impl_t){0};
}
