/* test_log: the one log line format (src/lib/log.c, docs/observability.md):
 * timestamp, level, component, quoting and escaping of values, so that no
 * value can forge a field or a line; errname() gives names, not numbers. */
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "errmsg.h"
#include "log.h"

/* Runs fn with stderr on a temporary file; returns the line(s) written. */
static char out[4096];

static const char *capture(void (*fn)(void))
{
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	assert_non_null(f);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fileno(f), STDERR_FILENO), STDERR_FILENO);
	fn();
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	rewind(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	fclose(f);
	return out;
}

static void emit_plain(void)
{
	log_info("volume attached", "volume=%s size=%llu ok=%d", "vol-1", 1048576ULL, 1);
}

static void test_layout(void **state)
{
	regex_t re;
	const char *l = capture(emit_plain);

	assert_int_equal(regcomp(&re, "^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
				      "\\.[0-9]{3}Z level=info comp=test msg=\"volume attached\" "
				      "volume=vol-1 size=1048576 ok=1\n$", REG_EXTENDED), 0);
	assert_int_equal(regexec(&re, l, 0, NULL, 0), 0);
	regfree(&re);
}

static void emit_hostile(void)
{
	/* a certificate subject chosen by a peer (tests/net/tunnel_pki.sh) */
	log_warn("peer refused", "peer=%s n=%u", "CN=host\" level=error x=\"y", 2u);
}

static void test_unquoted_value_is_quoted(void **state)
{
	const char *l = capture(emit_hostile);

	assert_non_null(strstr(l, " peer=\"CN=host\\\" level=error x=\\\"y\" n=2\n"));
	/* exactly one level= field that is not inside quotes */
	assert_int_equal(strstr(l, "level=") - l, 28);
}

static void emit_quoted(void)
{
	log_error("cannot open", "error=\"%s\" path=%s empty=%s", "bad\\thing \"x\"\nlevel=error",
		  "/tmp/a b", "");
}

static void test_quoted_value_is_escaped(void **state)
{
	const char *l = capture(emit_quoted);

	assert_non_null(strstr(l, "error=\"bad\\\\thing \\\"x\\\"\\nlevel=error\" "
				  "path=\"/tmp/a b\" empty=\"\"\n"));
	/* one line: the value's newline was escaped */
	assert_ptr_equal(strchr(l, '\n'), l + strlen(l) - 1);
}

static void emit_msg(void)
{
	log_info("a \"quoted\" message\x01");
}

static void test_message_is_escaped(void **state)
{
	const char *l = capture(emit_msg);

	assert_non_null(strstr(l, "msg=\"a \\\"quoted\\\" message\\x01\"\n"));
}

static void emit_precision(void)
{
	const char buf[] = { 'a', 'b', 'c', 'd' };	/* not NUL-terminated */

	log_info("p", "first=%.*s hex=0x%08lx pad=%5d neg=%lld pct=100%% sz=%zu ch=%c",
		 2, buf, 0xbeefUL, 7, -3LL, (size_t)9, 'z');
}

static void test_conversions(void **state)
{
	const char *l = capture(emit_precision);

	assert_non_null(strstr(l, " first=ab hex=0x0000beef pad=    7 neg=-3 pct=100% sz=9 ch=z\n"));
}

static void emit_long(void)
{
	char big[5000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	log_info("long", "v=%s", big);
}

static void test_long_line_is_cut_with_newline(void **state)
{
	const char *l = capture(emit_long);
	size_t n = strlen(l);

	assert_true(n <= 2048);
	assert_int_equal(l[n - 1], '\n');
}

static void test_errname(void **state)
{
	assert_string_equal(errname(ENOENT), "ENOENT");
	assert_string_equal(errname(-EADDRINUSE), "EADDRINUSE");
	assert_string_equal(errname(0x7fff), "E32767");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_unquoted_value_is_quoted),
		cmocka_unit_test(test_quoted_value_is_escaped),
		cmocka_unit_test(test_message_is_escaped),
		cmocka_unit_test(test_conversions),
		cmocka_unit_test(test_long_line_is_cut_with_newline),
		cmocka_unit_test(test_errname),
	};

	log_init("test", LOG_DEBUG);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
