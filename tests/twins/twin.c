/*
 * twin.c — which twin libmmref-twins.so runs as (see reference-impl/twin.h):
 * the table of twins, and at load the choice by the file name the library
 * was loaded by (build/tests/twins/NAME.so, a symbolic link to it). Linked
 * only into the twin build; twin-list (twin_list.c) prints the same table.
 *
 * Invariant: ref_twin_active is set here once, in the constructor, before
 * any contract call; an unknown name leaves it REF_TWIN_ID_NONE (the
 * reference) and says so on stderr.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "mmcert/impl.h"
#include "twin_table.h"

int ref_twin_active = REF_TWIN_ID_NONE;

/* The contract table of the twin build is writable (REF_TWIN_CONST): the
 * implementation's name says which twin runs. */
extern mmc_impl_t mmcert_impl;

/* NAME of ".../NAME.so" into out; false when the path has another form. */
static bool name_of_path(const char *path, char *out, size_t len) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t n = strlen(base);
  if (n < 4 || strcmp(base + n - 3, ".so") != 0 || n - 3 >= len)
    return false;
  memcpy(out, base, n - 3);
  out[n - 3] = '\0';
  return true;
}

__attribute__((constructor)) static void twin_select(void) {
  static char impl_name[REF_TWIN_NAME_MAX + 8];
  Dl_info self;
  char name[REF_TWIN_NAME_MAX];
  ref_twin_table_init();
  if (!dladdr((void *)twin_select, &self) || !self.dli_fname ||
      !name_of_path(self.dli_fname, name, sizeof name))
    return;
  for (int i = 1; i < REF_TWIN_ID_COUNT; i++) {
    if (strcmp(name, ref_twin_table[i].name) != 0)
      continue;
    ref_twin_active = i;
    snprintf(impl_name, sizeof impl_name, "twin:%s", name);
    mmcert_impl.name = impl_name;
    return;
  }
  if (strcmp(name, "libmmref-twins") != 0)
    fprintf(stderr,
            "libmmref-twins: no twin is named \"%s\" (twin-list lists them): running as "
            "the reference\n",
            name);
}
