/* tests/cli/test_cliopt: lib/cliopt, the command-line pieces every ward
 * binary shares: the size syntax, ports and the usage-error wording. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cliopt.h"

static void size_ok(const char *s, unsigned bare, uint64_t want)
{
	uint64_t v = 12345;

	if (cliopt_parse_size(s, bare, &v) != 0 || v != want)
		fail_msg("'%s' (bare shift %u): want %llu, got %llu", s, bare,
			 (unsigned long long)want, (unsigned long long)v);
}

static void size_bad(const char *s, int want_rc)
{
	uint64_t v = 7;

	assert_int_equal(cliopt_parse_size(s, CLI_UNIT_BYTES, &v), want_rc);
	assert_int_equal(v, 7);	/* untouched on error */
}

static void test_size_suffixes(void **state)
{
	size_ok("0", CLI_UNIT_BYTES, 0);
	size_ok("4096", CLI_UNIT_BYTES, 4096);
	size_ok("4096K", CLI_UNIT_BYTES, 4096ull << 10);
	size_ok("4096k", CLI_UNIT_BYTES, 4096ull << 10);
	size_ok("64M", CLI_UNIT_BYTES, 64ull << 20);
	size_ok("64MiB", CLI_UNIT_BYTES, 64ull << 20);
	size_ok("64MB", CLI_UNIT_BYTES, 64ull << 20);
	size_ok("1G", CLI_UNIT_BYTES, 1ull << 30);
	size_ok("2T", CLI_UNIT_BYTES, 2ull << 40);
	/* A bare number counts in the option's unit (MiB for --memory). */
	size_ok("64", CLI_UNIT_MIB, 64ull << 20);
	size_ok("64M", CLI_UNIT_MIB, 64ull << 20);
	size_ok("1G", CLI_UNIT_MIB, 1ull << 30);
	size_ok("65536K", CLI_UNIT_MIB, 64ull << 20);
	size_ok("18446744073709551615", CLI_UNIT_BYTES, UINT64_MAX);
}

static void test_size_rejects(void **state)
{
	size_bad("", -EINVAL);
	size_bad("M", -EINVAL);
	size_bad("-1", -EINVAL);
	size_bad("+1", -EINVAL);
	size_bad(" 1", -EINVAL);
	size_bad("1 ", -EINVAL);
	size_bad("0x10", -EINVAL);	/* decimal only, as documented */
	size_bad("1.5G", -EINVAL);
	size_bad("1X", -EINVAL);
	size_bad("1GG", -EINVAL);
	size_bad("1Gi", -EINVAL);
	size_bad("1iB", -EINVAL);
	size_bad("1P", -EINVAL);
	size_bad("18446744073709551616", -ERANGE);
	size_bad("16777216T", -ERANGE);	/* 2^24 TiB = 2^64 */
	size_bad("17179869184G", -ERANGE);
	/* Malformed is -EINVAL even when the digits alone overflow (fuzz-size). */
	size_bad("18446744073709551616]", -EINVAL);
	size_bad("99999999999999999999999999X", -EINVAL);
	assert_int_equal(cliopt_parse_size(NULL, 0, &(uint64_t){ 0 }), -EINVAL);
}

static void test_port(void **state)
{
	unsigned p = 9;

	assert_int_equal(cliopt_parse_port("0", &p), 0);
	assert_int_equal(p, 0);
	assert_int_equal(cliopt_parse_port("65535", &p), 0);
	assert_int_equal(p, 65535);
	assert_int_equal(cliopt_parse_port("65536", &p), -EINVAL);
	assert_int_equal(cliopt_parse_port("8443K", &p), -EINVAL);
	assert_int_equal(cliopt_parse_port("-1", &p), -EINVAL);
	assert_int_equal(cliopt_parse_port("", &p), -EINVAL);
	assert_int_equal(cliopt_parse_port("http", &p), -EINVAL);
	assert_int_equal(p, 65535);
}

/* The strict whole-number parser that replaced atoi on the daemons'
 * numeric options: "4x" and 99999999999 are refused, not read as 4 or
 * wrapped. */
static void test_uint(void **state)
{
	uint64_t v = 7;

	assert_int_equal(cliopt_parse_uint("4", 1, 8, &v), 0);
	assert_int_equal(v, 4);
	assert_int_equal(cliopt_parse_uint("0", 0, 8, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cliopt_parse_uint("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	v = 7;
	assert_int_equal(cliopt_parse_uint("4x", 1, 8, &v), -EINVAL);
	assert_int_equal(cliopt_parse_uint("", 1, 8, &v), -EINVAL);
	assert_int_equal(cliopt_parse_uint("-1", 0, 8, &v), -EINVAL);
	assert_int_equal(cliopt_parse_uint("+1", 0, 8, &v), -EINVAL);
	assert_int_equal(cliopt_parse_uint(" 1", 0, 8, &v), -EINVAL);
	assert_int_equal(cliopt_parse_uint("0x4", 0, 8, &v), -EINVAL);
	assert_int_equal(cliopt_parse_uint(NULL, 0, 8, &v), -EINVAL);
	assert_int_equal(cliopt_parse_uint("9", 1, 8, &v), -ERANGE);
	assert_int_equal(cliopt_parse_uint("0", 1, 8, &v), -ERANGE);
	assert_int_equal(cliopt_parse_uint("99999999999", 1, 8, &v), -ERANGE);
	assert_int_equal(cliopt_parse_uint("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(v, 7);
}

/* What cliopt_bad_option wrote to stderr after getopt_long stopped. */
static void bad_option(char **argv, int argc, const struct option *lo, char *out, size_t len)
{
	int fds[2], saved, c;
	ssize_t n;

	optind = 0;	/* glibc: full re-initialisation */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1 && c != '?' && c != ':')
		;
	assert_int_not_equal(c, -1);
	assert_int_equal(pipe(fds), 0);
	fflush(stderr);
	saved = dup(2);
	dup2(fds[1], 2);
	assert_int_equal(cliopt_bad_option("prog", argv, lo), CLI_EXIT_USAGE);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fds[1]);
	n = read(fds[0], out, len - 1);
	close(fds[0]);
	out[n > 0 ? n : 0] = 0;
}

static void test_bad_option_names_it(void **state)
{
	static const struct option lo[] = {
		{ "memory", required_argument, NULL, 'm' },
		{ "verbose", no_argument, NULL, 'v' },
		{ 0 },
	};
	char out[512];
	char *missing[] = { "prog", "--verbose", "--memory", NULL };
	char *unknown[] = { "prog", "--frobnicate", "x", NULL };

	bad_option(missing, 3, lo, out, sizeof(out));
	assert_non_null(strstr(out, "prog: option --memory needs a value\n"));
	assert_non_null(strstr(out, "Try 'prog --help'."));
	bad_option(unknown, 3, lo, out, sizeof(out));
	assert_non_null(strstr(out, "prog: unknown option '--frobnicate'\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_suffixes),
		cmocka_unit_test(test_size_rejects),
		cmocka_unit_test(test_port),
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_bad_option_names_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
