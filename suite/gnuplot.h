/*
 * gnuplot.h — PNG plots drawn by gnuplot for mmcert's HTML reports (prefix
 * suite_gp_): which gnuplot (MMCERT_GNUPLOT from config.h, or the
 * environment variable of that name), its PNG terminal (pngcairo when this
 * gnuplot has it, else png), one script per figure run as a child in the
 * report's directory with its messages appended to DIR/gnuplot.log.
 *
 * Text from results files reaches scripts only through suite_gp_text,
 * which keeps gnuplot from reading it as a command: strings are quoted in
 * scripts and a newline would end one command and start another (gnuplot
 * runs shell commands with '!' and `backquotes`), so control characters,
 * quotes, backslashes, backquotes and the macro and data-block signs '@'
 * and '$' become spaces.
 */
#ifndef SUITE_GNUPLOT_H
#define SUITE_GNUPLOT_H

#include <stddef.h>
#include <stdio.h>

#define SUITE_GP_MAX 256 /* plots a report draws at most */

typedef struct suite_gp {
  const char *gnuplot;  /* NULL when plots are skipped (note says why) */
  const char *terminal; /* "pngcairo size 900,500" or "png size 900,500" */
  char note[512];       /* why plots were skipped or one failed */
  char *png[SUITE_GP_MAX], *caption[SUITE_GP_MAX];
  size_t n;
} suite_gp_t;

/* Find gnuplot and its terminal (runs a probe script in dir). */
void suite_gp_init(suite_gp_t *p, const char *dir);
/* Write dir/NAME.gp (terminal and output lines, then body), run it, and
 * keep NAME.png with its caption when it was drawn. */
void suite_gp_draw(suite_gp_t *p, const char *dir, const char *name, const char *caption,
                   const char *body);
void suite_gp_text(const char *s, char *buf, size_t cap);
/* The note (when plots were skipped or failed) and every figure as HTML. */
void suite_gp_html(FILE *f, const suite_gp_t *p);
void suite_gp_free(suite_gp_t *p);

#endif
