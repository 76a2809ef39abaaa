/* help: the `ward` CLI's help texts, one per command and subcommand
 * (`ward instance --help`, `ward volume attach --help`); --help prints to
 * stdout, a usage error prints the same text to stderr (docs/cli.md). */
#ifndef WARD_CLI_HELP_H
#define WARD_CLI_HELP_H

#include <stdio.h>

/* Exit status of `ward` (docs/cli.md): 0 done, 1 the request or check
 * failed, 2 the command line was wrong. */
#define WARD_EXIT_FAILED 1
#define WARD_EXIT_USAGE  2

/* The help of COMMAND [SUB] (either may be NULL: the overview). Returns 0,
 * or -ENOENT when there is no such command (nothing printed). */
int help_print(FILE *f, const char *cmd, const char *sub);

/* --help anywhere in argv[0..argc) (after the global options): prints the
 * help of the command it belongs to on stdout and returns 1; 0 when argv
 * has no --help; -1 for an unknown command (message on stderr). */
int help_requested(int argc, char **argv);

/* A usage error: "ward: WHY" (when why is non-NULL), then the usage of
 * COMMAND [SUB] on stderr. Returns WARD_EXIT_USAGE. */
int help_usage_error(const char *cmd, const char *sub, const char *why);

#endif
