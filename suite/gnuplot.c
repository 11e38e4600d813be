/*
 * gnuplot.c — running gnuplot for the reports (see gnuplot.h).
 */
#include "gnuplot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "html.h"

static int run(const char *gnuplot, const char *dir, const char *script) {
  char log[4096];
  snprintf(log, sizeof log, "%s/gnuplot.log", dir);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    if (chdir(dir) != 0)
      _exit(127);
    execl(gnuplot, gnuplot, script, (char *)NULL);
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void suite_gp_init(suite_gp_t *p, const char *dir) {
  *p = (suite_gp_t){0};
  const char *g = getenv("MMCERT_GNUPLOT");
  if (!g)
    g = MMCERT_GNUPLOT;
  if (!g[0]) {
    snprintf(p->note, sizeof p->note,
             "plots skipped: configure found no gnuplot (install the Debian package gnuplot-nox "
             "and run ./configure again)");
    return;
  }
  if (access(g, X_OK) != 0) {
    snprintf(p->note, sizeof p->note, "plots skipped: gnuplot %s is not executable: %s", g,
             strerror(errno));
    return;
  }
  char probe[4096];
  snprintf(probe, sizeof probe, "%s/probe.gp", dir);
  FILE *f = fopen(probe, "w");
  if (!f) {
    snprintf(p->note, sizeof p->note, "plots skipped: cannot write %.300s", probe);
    return;
  }
  fputs("set terminal pngcairo\n", f);
  fclose(f);
  p->gnuplot = g;
  p->terminal = run(g, dir, "probe.gp") == 0 ? "pngcairo size 900,500" : "png size 900,500";
  unlink(probe);
}

void suite_gp_draw(suite_gp_t *p, const char *dir, const char *name, const char *caption,
                   const char *body) {
  if (!p->gnuplot || p->n == SUITE_GP_MAX)
    return;
  char path[4096], png[512], gp[512];
  snprintf(gp, sizeof gp, "%s.gp", name);
  snprintf(png, sizeof png, "%s.png", name);
  snprintf(path, sizeof path, "%s/%s", dir, gp);
  FILE *f = fopen(path, "w");
  if (!f)
    return;
  fprintf(f, "set terminal %s noenhanced\nset output '%s'\nset grid\nset key outside right\n%s",
          p->terminal, png, body);
  fclose(f);
  if (run(p->gnuplot, dir, gp) != 0) {
    snprintf(p->note, sizeof p->note, "gnuplot failed on %.200s (see gnuplot.log)", gp);
    return;
  }
  p->png[p->n] = strdup(png);
  p->caption[p->n++] = strdup(caption);
}

void suite_gp_text(const char *s, char *buf, size_t cap) {
  size_t o = 0;
  for (; *s && o + 1 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    buf[o++] = c < 0x20 || c == 0x7f || strchr("'\"\\`@$", c) ? ' ' : *s;
  }
  buf[o] = '\0';
}

void suite_gp_free(suite_gp_t *p) {
  for (size_t i = 0; i < p->n; i++) {
    free(p->png[i]);
    free(p->caption[i]);
  }
  p->n = 0;
}

void suite_gp_html(FILE *f, const suite_gp_t *p) {
  if (p->note[0]) {
    fputs("<p class=\"note\">", f);
    suite_html_text(f, p->note);
    fputs("</p>\n", f);
  }
  for (size_t i = 0; i < p->n; i++) { /* file names are ours: NAME.png */
    fprintf(f, "<figure><a href=\"%s\"><img src=\"%s\" alt=\"", p->png[i], p->png[i]);
    suite_html_text(f, p->caption[i]);
    fputs("\"></a><figcaption>", f);
    suite_html_text(f, p->caption[i]);
    fputs("</figcaption></figure>\n", f);
  }
}
