/* fuzz_conf: the configuration file parser (src/lib/conf.c) — any bytes
 * either parse into settings that obey their key's type, or are refused
 * with an error naming the file and line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

static const struct conf_key keys[] = {
	{ "state-dir", CONF_PATH, 0, 0, 0 },
	{ "listen", CONF_STRING, 0, 0, 0 },
	{ "request-timeout", CONF_INT, 1, 300, 0 },
	{ "uid-base", CONF_INT, 1000, 4294963200LL, 0 },
	{ "volume-dir", CONF_PATH, 0, 0, 1 },
	{ "admin", CONF_BOOL, 0, 0, 0 },
	{ NULL, 0, 0, 0, 0 },
};

static int check(void *arg, const struct conf_key *k, const char *v, unsigned line)
{
	if (!line || (!v && k->type != CONF_BOOL))
		abort();
	if (v && (!*v || strpbrk(v, "\n\r")))
		abort();
	if (v && k->type == CONF_PATH && v[0] != '/')
		abort();
	if (v && k->type == CONF_INT) {
		long long n = strtoll(v, NULL, 10);

		if (n < k->min || n > k->max)
			abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];

	err[0] = '\0';
	if (conf_parse("fuzz.conf", (const char *)data, size, keys, check, NULL, err,
		       sizeof(err)) && strncmp(err, "fuzz.conf:", 10))
		abort();	/* every refusal names the file (and line) */
	return 0;
}
