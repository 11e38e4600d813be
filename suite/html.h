/*
 * html.h — text into the HTML of mmcert's reports (prefix suite_html_):
 * every string that comes from a results file or the history goes through
 * suite_html_text, so '<', '>', '&' and '"' never open markup.
 */
#ifndef SUITE_HTML_H
#define SUITE_HTML_H

#include <stdio.h>

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
