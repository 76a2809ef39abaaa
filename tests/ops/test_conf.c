/* Unit tests of src/lib/conf.c: the configuration file syntax, the typed
 * checks with file:line errors, and conf_args' rule that flags override the
 * file (docs/operations.md). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"

static const struct conf_key keys[] = {
	{ "state-dir", CONF_PATH, 0, 0, 0 },
	{ "listen", CONF_STRING, 0, 0, 0 },
	{ "request-timeout", CONF_INT, 1, 300, 0 },
	{ "volume-dir", CONF_PATH, 0, 0, 1 },
	{ "verbose", CONF_BOOL, 0, 0, 0 },
	{ NULL, 0, 0, 0, 0 },
};

static const struct option lo[] = {
	{ "state-dir", required_argument, NULL, 's' },
	{ "listen", required_argument, NULL, 'l' },
	{ "request-timeout", required_argument, NULL, 'r' },
	{ "volume-dir", required_argument, NULL, 'V' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "port-file", required_argument, NULL, 'p' },
	{ NULL, 0, NULL, 0 },
};

struct seen {
	char out[1024];
};

static int record(void *arg, const struct conf_key *k, const char *v, unsigned line)
{
	struct seen *s = arg;
	size_t n = strlen(s->out);

	snprintf(s->out + n, sizeof(s->out) - n, "%u:%s=%s;", line, k->name, v ? v : "(off)");
	return 0;
}

static int parse(const char *text, struct seen *s, char *err)
{
	memset(s, 0, sizeof(*s));
	err[0] = '\0';
	return conf_parse("t.conf", text, strlen(text), keys, record, s, err, 256);
}

static void test_syntax(void **st)
{
	struct seen s;
	char err[256];

	assert_int_equal(parse("# a comment\n\n  state-dir = /var/lib/ward  \n"
			       "listen=127.0.0.1:8443\r\n\t# indented comment\n"
			       "volume-dir = /a\nvolume-dir = /b c\nverbose = no\n"
			       "request-timeout = 30", &s, err), 0);
	assert_string_equal(s.out, "3:state-dir=/var/lib/ward;4:listen=127.0.0.1:8443;"
			    "6:volume-dir=/a;7:volume-dir=/b c;8:verbose=(off);9:request-timeout=30;");
	/* '#' inside a value is part of it: paths may hold one. */
	assert_int_equal(parse("listen = a#b\n", &s, err), 0);
	assert_string_equal(s.out, "1:listen=a#b;");
	assert_int_equal(parse("", &s, err), 0);
	assert_string_equal(s.out, "");
}

static void expect_error(const char *text, const char *want)
{
	struct seen s;
	char err[256];

	assert_int_equal(parse(text, &s, err), -EINVAL);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
}

static void test_errors(void **st)
{
	expect_error("listen = x\nbogus = 1\n", "t.conf:2: unknown key 'bogus'");
	expect_error("request-timeout = 0\n", "t.conf:1: 'request-timeout' must be an integer from 1 to 300, got '0'");
	expect_error("request-timeout = 301\n", "from 1 to 300");
	expect_error("request-timeout = 3x\n", "got '3x'");
	expect_error("request-timeout = 99999999999999999999999\n", "from 1 to 300");
	expect_error("request-timeout = \n", "t.conf:1: 'request-timeout' needs a value");
	expect_error("state-dir = var/lib\n", "'state-dir' must be an absolute path, got 'var/lib'");
	expect_error("verbose = maybe\n", "'verbose' must be true or false, got 'maybe'");
	expect_error("\nlisten = a\nlisten = b\n", "t.conf:3: 'listen' given twice (first on line 2)");
	expect_error("just words\n", "t.conf:1: expected 'key = value'");
	expect_error("= value\n", "expected 'key = value' with a key");
	expect_error("Listen = x\n", "with a key of a-z");
	expect_error("listen = a\tb\001\n", "control character in the value of 'listen'");

	struct seen s;
	char err[256];
	static const char nul[] = "listen = a\0b\n";

	assert_int_equal(conf_parse("t.conf", nul, sizeof(nul) - 1, keys, record, &s, err, 256),
			 -EINVAL);
	assert_non_null(strstr(err, "t.conf:1: NUL byte"));
	char big[2048];

	memset(big, 'a', sizeof(big));
	memcpy(big, "listen = ", 9);
	big[sizeof(big) - 1] = '\0';
	expect_error(big, "t.conf:1: line longer than 1024 bytes");
}

static char dir[] = "/tmp/ward-conf-test.XXXXXX";

static void write_file(const char *name, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_non_null(f = fopen(p, "w"));
	fputs(text, f);
	fclose(f);
}

/* Runs conf_args over a copy of args; returns the new argv joined by ' '. */
static int run_args(const char *const *args, char *out, size_t outlen)
{
	char *av[16];
	char **argv = av;
	int argc = 0, rc;

	while (args[argc]) {
		av[argc] = (char *)args[argc];
		argc++;
	}
	av[argc] = NULL;
	rc = conf_args("test", "none-such.conf", keys, lo, &argc, &argv);
	out[0] = '\0';
	for (int i = 0; !rc && i < argc; i++)
		snprintf(out + strlen(out), outlen - strlen(out), "%s%s", i ? " " : "", argv[i]);
	if (!rc)
		assert_null(argv[argc]);
	conf_args_release();
	return rc;
}

static void test_args(void **st)
{
	char cfg[300], cfg_eq[310], out[1024];

	snprintf(cfg, sizeof(cfg), "%s/a.conf", dir);
	snprintf(cfg_eq, sizeof(cfg_eq), "--config=%s", cfg);
	write_file("a.conf", "state-dir = /s\nlisten = 0.0.0.0:1\nvolume-dir = /v1\n"
		   "volume-dir = /v2\nverbose = yes\n");

	/* The file's settings come first; --config is taken out. */
	assert_int_equal(run_args((const char *[]){ "d", "--config", cfg, "serve", NULL }, out,
				  sizeof(out)), 0);
	assert_string_equal(out, "d --state-dir=/s --listen=0.0.0.0:1 --volume-dir=/v1 "
			    "--volume-dir=/v2 --verbose serve");

	/* A flag overrides its key (all of a repeated key's lines), in both forms;
	 * an option's value that looks like a key is not taken for one. */
	assert_int_equal(run_args((const char *[]){ "d", "--listen", "127.0.0.1:2", cfg_eq,
				  "--volume-dir=/v3", "--port-file", "--state-dir", NULL },
				  out, sizeof(out)), 0);
	assert_string_equal(out, "d --state-dir=/s --verbose --listen 127.0.0.1:2 "
			    "--volume-dir=/v3 --port-file --state-dir");

	/* Without --config, a missing default file changes nothing. */
	assert_int_equal(run_args((const char *[]){ "d", "--listen", "x", NULL }, out,
				  sizeof(out)), 0);
	assert_string_equal(out, "d --listen x");

	/* --help and --version read nothing, not even a broken file. */
	write_file("bad.conf", "listen = x\nnope = 1\n");
	snprintf(cfg, sizeof(cfg), "%s/bad.conf", dir);
	assert_int_equal(run_args((const char *[]){ "d", "--config", cfg, "--help", NULL }, out,
				  sizeof(out)), 0);
	char want[400];

	snprintf(want, sizeof(want), "d --config %s --help", cfg);
	assert_string_equal(out, want);
	snprintf(cfg, sizeof(cfg), "%s/a.conf", dir);

	/* A named file must exist; errors name file and line; --config twice. */
	assert_int_equal(run_args((const char *[]){ "d", "--config", "/nonexistent/x.conf",
				  NULL }, out, sizeof(out)), -1);
	assert_int_equal(run_args((const char *[]){ "d", "--config", NULL }, out, sizeof(out)),
			 -1);
	assert_int_equal(run_args((const char *[]){ "d", cfg_eq, cfg_eq, NULL }, out,
				  sizeof(out)), -1);
	write_file("bad.conf", "listen = x\nnope = 1\n");
	snprintf(cfg, sizeof(cfg), "%s/bad.conf", dir);
	assert_int_equal(run_args((const char *[]){ "d", "--config", cfg, NULL }, out,
				  sizeof(out)), -1);
	/* A directory is not a configuration file. */
	assert_int_equal(run_args((const char *[]){ "d", "--config", dir, NULL }, out,
				  sizeof(out)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_args),
	};
	int rc;

	if (!mkdtemp(dir))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		rc = rc ? rc : 1;
	return rc;
}
