/*
 * mmc_error.h — the one error-handling pattern used everywhere.
 *
 * A function that can fail returns 0 or a negative mmc_status_t and, when
 * given an mmc_error_t, fills it with the code and a one-line message that
 * names what was wrong and what is allowed. Callers unwind with `goto out_*`
 * and pass the error up unchanged; the outermost caller prints err.msg.
 */
#ifndef MMC_ERROR_H
#define MMC_ERROR_H

#include <stdarg.h>
#include <stdio.h>

#include "mmcert/impl.h"

/* Fill *err (when not NULL) and return `code`, so a failure is one line:
 *   return mmc_fail(err, MMC_ERANGE, "%s: %lld is out of range %lld..%lld", ...); */
__attribute__((format(printf, 3, 4))) static inline int mmc_fail(mmc_error_t *err, int code,
                                                                  const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* Prefix an existing message with context ("topology FILE: ..."). */
__attribute__((format(printf, 2, 3))) static inline void mmc_error_prefix(mmc_error_t *err,
                                                                         const char *fmt, ...) {
  if (!err)
    return;
  char head[MMC_ERRMSG_MAX], old[MMC_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(head, sizeof head, fmt, ap);
  va_end(ap);
  snprintf(old, sizeof old, "%s", err->msg);
  /* Using the result tells gcc the truncation of a long message is expected
   * (otherwise -O2 -Werror=format-truncation fails every caller). */
  if (snprintf(err->msg, sizeof err->msg, "%s: %s", head, old) >= (int)sizeof err->msg)
    err->msg[sizeof err->msg - 2] = '.'; /* mark the cut */
}

/* Short name of a status code ("ERANGE"), for messages and JSON. */
static inline const char *mmc_status_name(int code) {
  switch (code) {
  case MMC_OK: return "OK";
  case MMC_EINVAL: return "EINVAL";
  case MMC_ENOENT: return "ENOENT";
  case MMC_ERANGE: return "ERANGE";
  case MMC_ENOMEM: return "ENOMEM";
  case MMC_EADMISSION: return "EADMISSION";
  case MMC_ENOTSUP: return "ENOTSUP";
  case MMC_ESTATE: return "ESTATE";
  case MMC_EIO: return "EIO";
  case MMC_EBUSY: return "EBUSY";
  case MMC_ERETRY: return "ERETRY";
  default: return "E?";
  }
}

#endif
