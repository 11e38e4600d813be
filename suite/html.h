/*
 * html.h — the HTML pages of mmcert's reports (prefix suite_html_): every
 * string that comes from a results file or the history goes through
 * suite_html_text, so '<', '>', '&' and '"' never open markup; a page is
 * written to DIR/.index.html.tmp and renamed to DIR/index.html when whole,
 * so a reader never sees half a page (suite/html.c).
 */
#ifndef SUITE_HTML_H
#define SUITE_HTML_H

#include <stdio.h>

#include "mmc_error.h"

/* DIR made when missing; MMC_EIO naming it when it cannot be. */
int suite_html_dir(const char *dir, mmc_error_t *err);
/* The temporary page with its head (the title escaped) and the opened
 * body; NULL with err filled. */
FILE *suite_html_begin(const char *dir, const char *title, mmc_error_t *err);
/* Close the body and the file, rename it to DIR/index.html; removed on
 * failure. */
int suite_html_end(FILE *f, const char *dir, mmc_error_t *err);

static inline void suite_html_text(FILE *f, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
  }
}

#endif
