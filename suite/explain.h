/*
 * explain.h — `mmcert explain ID|GLOB...` and `mmcert list --spec`
 * (explain.c): the specification compiled into mmcert (spec.h).
 */
#ifndef SUITE_EXPLAIN_H
#define SUITE_EXPLAIN_H

#include <stdio.h>

/* argv[0] is "explain"; returns the exit status (0, or 2 for bad usage:
 * no argument, an option, or an argument that matches no SPEC id). */
int suite_cmd_explain(int argc, char **argv);

/* Every SPEC id a line: id, the cases that name it, title. Returns 0. */
int suite_cmd_list_spec(FILE *out);

#endif
