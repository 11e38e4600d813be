/*
 * tap.c — the TAP writer declared in tap.h (no SPEC ids: output format).
 * Every line is built in a buffer and written with one fputs, so lines from
 * one writer never interleave mid-line.
 */
#include "tap.h"

#include <stdarg.h>
#include <string.h>

enum { TAP_LINE_MAX = 4096 };

void tap_init(tap_t *t, FILE *out, unsigned indent) {
  *t = (tap_t){.out = out, .indent = indent};
}

static void put_line(tap_t *t, const char *text) {
  fprintf(t->out, "%*s%s\n", (int)t->indent, "", text);
}

/* Copy src into dst escaping what would end a description early. */
static void escape_desc(char *dst, size_t cap, const char *src) {
  size_t o = 0;
  for (; *src && o + 3 < cap; src++) {
    if (*src == '#')
      dst[o++] = '\\';
    dst[o++] = (*src == '\n' || *src == '\r') ? ' ' : *src;
  }
  dst[o] = '\0';
}

void tap_version(tap_t *t) {
  put_line(t, "TAP version 13");
}

void tap_plan(tap_t *t, unsigned n) {
  char line[32];
  snprintf(line, sizeof line, "1..%u", n);
  put_line(t, line);
}

static void result_line(tap_t *t, bool ok, const char *desc, const char *directive,
                        const char *note) {
  char esc[TAP_LINE_MAX], line[TAP_LINE_MAX + 512];
  escape_desc(esc, sizeof esc, desc);
  t->count++;
  int n = snprintf(line, sizeof line, "%s %u%s%s", ok ? "ok" : "not ok", t->count,
                   *esc ? " - " : "", esc);
  if (note && n > 0 && (size_t)n < sizeof line)
    snprintf(line + n, sizeof line - (size_t)n, " # %s%s%s", directive, *directive ? " " : "",
             note);
  put_line(t, line);
}

bool tap_ok(tap_t *t, bool ok, const char *fmt, ...) {
  char desc[TAP_LINE_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(desc, sizeof desc, fmt, ap);
  va_end(ap);
  result_line(t, ok, desc, "", NULL);
  return ok;
}

void tap_skip(tap_t *t, const char *desc, const char *reason_fmt, ...) {
  char reason[TAP_LINE_MAX];
  va_list ap;
  va_start(ap, reason_fmt);
  vsnprintf(reason, sizeof reason, reason_fmt, ap);
  va_end(ap);
  /* A newline in a reason would end the line: flatten it. */
  for (char *p = reason; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  result_line(t, true, desc, "SKIP", reason);
}

bool tap_ok_note(tap_t *t, bool ok, const char *desc, const char *note_fmt, ...) {
  char note[TAP_LINE_MAX];
  va_list ap;
  va_start(ap, note_fmt);
  vsnprintf(note, sizeof note, note_fmt, ap);
  va_end(ap);
  for (char *p = note; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  result_line(t, ok, desc, "", note);
  return ok;
}

void tap_diag(tap_t *t, const char *fmt, ...) {
  char text[TAP_LINE_MAX], line[TAP_LINE_MAX + 4];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  size_t len = strlen(text);
  if (len && text[len - 1] == '\n') /* a trailing newline adds no empty line */
    text[len - 1] = '\0';
  for (char *p = text;;) {
    char *nl = strchr(p, '\n');
    if (nl)
      *nl = '\0';
    snprintf(line, sizeof line, "#%s%s", *p ? " " : "", p);
    put_line(t, line);
    if (!nl)
      break;
    p = nl + 1;
  }
}

void tap_subtest(tap_t *parent, tap_t *child, const char *name) {
  char esc[TAP_LINE_MAX], line[TAP_LINE_MAX + 16];
  tap_init(child, parent->out, parent->indent + 4);
  escape_desc(esc, sizeof esc, name);
  snprintf(line, sizeof line, "# Subtest: %s", esc);
  put_line(child, line);
}
