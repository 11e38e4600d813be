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

static bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.';
}

/* Digits after an optional sign, nothing else, within int64. */
static bool parse_value(const char *s, int64_t *out) {
  const char *d = s + (*s == '-' || *s == '+');
  if (*d < '0' || *d > '9')
    return false;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end)
    return false;
  *out = v;
  return true;
}

int suite_cli_parse_set(const char *arg, char **name, int64_t *value, char *why, size_t cap) {
  static const char expect[] = "expected NAME=VALUE, NAME of letters, digits, '_' and '.', VALUE "
                               "an integer, e.g. --set Numa.RebalancePeriod=1000";
  *name = NULL;
  const char *eq = strchr(arg, '=');
  size_t n = eq ? (size_t)(eq - arg) : 0;
  size_t ok = 0;
  while (ok < n && name_char(arg[ok]))
    ok++;
  /* The argument is quoted only when it is printable: a control character
   * from a script's variable must not reach the terminal as it is. */
  bool printable = true;
  for (const char *p = arg; *p; p++)
    printable &= (unsigned char)*p >= 0x20 && *p != 0x7f;
  const char *shown = printable ? arg : "(holds a control character)";
  if (!eq || n == 0 || ok < n) {
    snprintf(why, cap, "--set '%s': %s", shown, expect);
    return -1;
  }
  if (n > SUITE_CLI_SET_NAME_MAX) {
    snprintf(why, cap, "--set: the name is %zu bytes long; at most %d", n, SUITE_CLI_SET_NAME_MAX);
    return -1;
  }
  if (!parse_value(eq + 1, value)) {
    snprintf(why, cap, "--set '%s': VALUE must be an integer from %lld to %lld (%s)", shown,
             (long long)INT64_MIN, (long long)INT64_MAX, expect);
    return -1;
  }
  if (!(*name = strndup(arg, n))) {
    snprintf(why, cap, "--set: out of memory");
    return -1;
  }
  return 0;
}
