/*
 * cli.c — option parsing shared by the commands (see cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The option whose getopt value is o: its index in opts, or -1. */
static int index_of(const struct option *opts, int o) {
  for (int i = 0; opts[i].name && i < 64; i++)
    if (!opts[i].flag && opts[i].val == o)
      return i;
  return -1;
}

static int again_index = -1; /* the option suite_cli_getopt found repeated */

int suite_cli_getopt(int argc, char **argv, const char *optstring, const struct option *opts,
                     const int *repeatable, uint64_t *seen) {
  int o = getopt_long(argc, argv, optstring, opts, NULL);
  int i = o == -1 || o == '?' || o == ':' ? -1 : index_of(opts, o);
  if (i < 0 || opts[i].has_arg == no_argument)
    return o;
  for (const int *r = repeatable; r && *r; r++)
    if (*r == o)
      return o;
  if (*seen & (1ull << i)) {
    again_index = i;
    return SUITE_CLI_AGAIN;
  }
  *seen |= 1ull << i;
  return o;
}

const char *suite_cli_why(int o, int argc, char **argv, const struct option *opts, char *buf,
                          size_t cap) {
  const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
  if (o == SUITE_CLI_AGAIN && again_index >= 0)
    snprintf(buf, cap, "option '--%s' given twice: it takes one value (give it once)",
             opts[again_index].name);
  else if (o == ':')
    snprintf(buf, cap, "option '%s' needs a value", arg);
  else
    snprintf(buf, cap, "unknown option '%s'", arg);
  return buf;
}

int suite_cli_check_output(const char *json, char *why, size_t cap) {
  char buf[PATH_MAX], probe[PATH_MAX + 32];
  struct stat st;
  const char *dir, *what = json ? json : "results/runs/ (the default)";
  if (json) {
    snprintf(buf, sizeof buf, "%s", json);
    dir = dirname(buf);
    if (stat(json, &st) == 0 && S_ISDIR(st.st_mode))
      return snprintf(why, cap, "--json %s: is a directory (give a file name)", json), -1;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
      return snprintf(why, cap, "--json %s: directory %s does not exist", json, dir), -1;
  } else { /* made at the end when missing: where it would be made must be writable */
    dir = stat("results/runs", &st) == 0 ? "results/runs"
          : stat("results", &st) == 0    ? "results"
                                         : ".";
  }
  snprintf(probe, sizeof probe, "%s/.mmcert-write-test.XXXXXX", dir);
  int fd = mkstemp(probe);
  if (fd < 0)
    return snprintf(why, cap,
                    "%s: cannot write in %s: %s (checked before running, so no result is "
                    "lost at the end)",
                    what, dir, strerror(errno)),
           -1;
  close(fd);
  unlink(probe);
  return 0;
}
