/*
 * cli.h — what the option parsing of every mmcert command shares (prefix
 * suite_cli_; suite/cli.c).
 *
 * Options are read wherever they stand among the arguments (GNU getopt's
 * permutation; "--" ends them), in every command: `results import FILE --db
 * PATH` imported FILE into the default history, then failed on "--db" as a
 * file name. An option that takes one value may be given once: a repeated
 * --json, --db or --seed silently took the last value; options that add to
 * a list (--case, --spec, --set, --events) repeat. Every problem is one
 * message for the command's usage error (exit 2).
 */
#ifndef SUITE_CLI_H
#define SUITE_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

/* getopt_long over opts (at most 64 entries) that returns SUITE_CLI_AGAIN
 * for the second use of an option with a value not in `repeatable` (its
 * getopt values, 0-terminated; may be NULL). `seen` starts at 0. optstring
 * should start with ':' (and not with '+'). */
enum { SUITE_CLI_AGAIN = '!' };
int suite_cli_getopt(int argc, char **argv, const char *optstring, const struct option *opts,
                     const int *repeatable, uint64_t *seen);

/* The message for what suite_cli_getopt returned when it was none of the
 * command's options: a missing value (':'), an unknown option ('?') or a
 * repeated one (SUITE_CLI_AGAIN). */
const char *suite_cli_why(int o, int argc, char **argv, const struct option *opts, char *buf,
                          size_t cap);

/* The results file a command will write can be written, checked before it
 * runs (a run whose --json directory was unwritable lost every result at
 * the end): `json`, or with NULL the default directory results/runs (or
 * where it would be made: results/, else the working directory; nothing is
 * made now). A file is made there and removed at once (root passes
 * access(2) where it cannot write, e.g. /proc). 0, or -1 with the message
 * in why. */
int suite_cli_check_output(const char *json, char *why, size_t cap);

/* --set NAME=VALUE: NAME a setting's documented form (letters, digits, '_'
 * and '.', at most SUITE_CLI_SET_NAME_MAX bytes: it reaches the terminal,
 * the results file and the implementation), VALUE a decimal integer in
 * int64 range with an optional sign and nothing else (strtoll alone took
 * " 12" and skipped the blank). *name is malloc'd. 0, or -1 with the
 * message in why. Whether the implementation has the setting and allows
 * the value is the preflight's to say. */
#define SUITE_CLI_SET_NAME_MAX 64
int suite_cli_parse_set(const char *arg, char **name, int64_t *value, char *why, size_t cap);

#endif
