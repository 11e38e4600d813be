/*
 * commands.h — the results-over-releases commands of `mmcert`:
 * `results import|list`, `compare`, `report`. Each takes argc/argv from
 * the command name on and returns the exit status (0, 1, or 2 for bad
 * usage or input, SUITE_EXIT_*).
 */
#ifndef SUITE_COMMANDS_H
#define SUITE_COMMANDS_H

int suite_cmd_results(int argc, char **argv);
int suite_cmd_compare(int argc, char **argv);
int suite_cmd_report(int argc, char **argv);
/* certify.c: combine the certificates of several runs (exit 0, 1, 4 or 2). */
int suite_cmd_certify(int argc, char **argv);

#endif
