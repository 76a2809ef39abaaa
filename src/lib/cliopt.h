/* cliopt: what every ward binary's command line shares (docs/cli.md):
 * --version, the one size syntax, and how a usage error is reported
 * (stderr, naming the option, exit status CLI_EXIT_USAGE). */
#ifndef WARD_CLIOPT_H
#define WARD_CLIOPT_H

#include <getopt.h>
#include <stdint.h>

/* Exit status of every ward binary for a malformed command line. */
#define CLI_EXIT_USAGE 2

/* Units a bare number (no suffix) counts in, for cliopt_parse_size. */
#define CLI_UNIT_BYTES 0
#define CLI_UNIT_MIB   20

/* "ward-hv 0.1.0" on stdout. */
void cliopt_version(const char *prog);

/* The size syntax of every ward command line: decimal digits, then an
 * optional K, M, G or T (binary: 2^10 ... 2^40, either case, optionally
 * followed by "iB" or "B"). A bare number counts in 2^bare_shift bytes
 * (bytes for --size, MiB for --memory, as before suffixes existed).
 * Returns 0, -EINVAL when malformed, -ERANGE when over 2^64-1. */
int cliopt_parse_size(const char *s, unsigned bare_shift, uint64_t *out);

/* A TCP port, decimal, 0 to 65535 (0: the daemon picks a free one).
 * Returns 0 or -EINVAL. */
int cliopt_parse_port(const char *s, unsigned *port);

/* A whole number, decimal digits only (no sign, no hex, no suffix, no
 * trailing text: "4x" and "" are malformed), from min to max. Returns 0,
 * -EINVAL when malformed, -ERANGE when outside [min, max] (overflow
 * included). */
int cliopt_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* After getopt_long (opterr = 0) returned '?' or ':': print on stderr
 * "PROG: option --NAME needs a value" or "PROG: unknown option 'ARG'",
 * then "Try 'PROG --help'."; returns CLI_EXIT_USAGE. */
int cliopt_bad_option(const char *prog, char **argv, const struct option *lo);

/* The same for a value that is out of range or malformed:
 * "PROG: OPT must be WANT, got 'VAL'"; returns CLI_EXIT_USAGE. */
int cliopt_bad_value(const char *prog, const char *opt, const char *want, const char *val);

#endif
