/* cliopt: the command-line pieces every ward binary shares: the version
 * line, the size syntax and the wording of usage errors, so that each
 * daemon and the ward CLI say the same thing the same way (docs/cli.md). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cliopt.h"
#include "ward_version.h"

void cliopt_version(const char *prog)
{
	printf("%s %s\n", prog, WARD_VERSION);
}

int cliopt_parse_size(const char *s, unsigned bare_shift, uint64_t *out)
{
	unsigned shift = bare_shift;
	bool too_big = false;
	uint64_t v = 0;
	const char *p = s;

	/* Digits only: strtoull would take a sign, spaces and hex. */
	if (!s || *p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		/* Keep reading: a malformed string is -EINVAL however long. */
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			too_big = true;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p) {
		const char *units = "KMGT", *u = strchr(units, *p & ~0x20);

		if (!u || !*u)
			return -EINVAL;
		shift = 10 * (unsigned)(u - units + 1);
		p++;
		if (!strcmp(p, "iB") || !strcmp(p, "B"))
			p += strlen(p);
		if (*p)
			return -EINVAL;
	}
	if (too_big || shift >= 64 || v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

int cliopt_parse_port(const char *s, unsigned *port)
{
	uint64_t v;

	/* The size parser's digits without a suffix: no sign, no hex. */
	if (!s || !*s || s[strspn(s, "0123456789")] || cliopt_parse_size(s, 0, &v) ||
	    v > 65535)
		return -EINVAL;
	*port = (unsigned)v;
	return 0;
}

int cliopt_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s || s[strspn(s, "0123456789")])
		return -EINVAL;
	for (; *s; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int cliopt_bad_option(const char *prog, char **argv, const struct option *lo)
{
	/* getopt_long leaves optind past what it rejected: the option itself
	 * (unknown) or the option whose value is missing (at the end). */
	const char *arg = optind > 0 && argv[optind - 1] ? argv[optind - 1] : "";
	size_t n;

	if (!strncmp(arg, "--", 2) && (n = strcspn(arg + 2, "=")) > 0)
		for (const struct option *o = lo; o && o->name; o++)
			if (o->has_arg == required_argument && strlen(o->name) == n &&
			    !strncmp(o->name, arg + 2, n) && !arg[2 + n]) {
				fprintf(stderr, "%s: option --%s needs a value\n", prog, o->name);
				goto out;
			}
	fprintf(stderr, "%s: unknown option '%s'\n", prog, arg);
out:
	fprintf(stderr, "Try '%s --help'.\n", prog);
	return CLI_EXIT_USAGE;
}

int cliopt_bad_value(const char *prog, const char *opt, const char *want, const char *val)
{
	fprintf(stderr, "%s: %s must be %s, got '%s'\n", prog, opt, want, val);
	return CLI_EXIT_USAGE;
}
