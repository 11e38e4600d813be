/*
 * html.c — writing a report page (see html.h).
 */
#include "html.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void tmp_path(const char *dir, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/.index.html.tmp", dir);
}

int suite_html_dir(const char *dir, mmc_error_t *err) {
  struct stat st;
  if (mkdir(dir, 0755) != 0 && (errno != EEXIST || stat(dir, &st) || !S_ISDIR(st.st_mode)))
    return mmc_fail(err, MMC_EIO, "-o %s: cannot create the directory: %s", dir,
                    errno == EEXIST ? "a file of that name exists" : strerror(errno));
  return 0;
}

FILE *suite_html_begin(const char *dir, const char *title, mmc_error_t *err) {
  char tmp[4200];
  tmp_path(dir, tmp, sizeof tmp);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    mmc_fail(err, MMC_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    return NULL;
  }
  fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>", f);
  suite_html_text(f, title);
  fputs("</title>\n<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
        ".fail,.broken{background:#fdd}.skip{background:#ffd}.note{color:#a00}</style>\n"
        "</head><body>\n",
        f);
  return f;
}

int suite_html_end(FILE *f, const char *dir, mmc_error_t *err) {
  char path[4096], tmp[4200];
  snprintf(path, sizeof path, "%s/index.html", dir);
  tmp_path(dir, tmp, sizeof tmp);
  fputs("</body></html>\n", f);
  if (fclose(f) != 0 || rename(tmp, path) != 0) {
    unlink(tmp);
    return mmc_fail(err, MMC_EIO, "%s: cannot write: %s", path, strerror(errno));
  }
  return 0;
}
