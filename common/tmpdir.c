/*
 * tmpdir.c — the temporary directory (mmc_tmpdir.h).
 */
#include <stdlib.h>

#include "mmc_tmpdir.h"

const char *mmc_tmpdir(void) {
  const char *tmp = getenv("TMPDIR");
  return tmp && *tmp ? tmp : "/tmp";
}
