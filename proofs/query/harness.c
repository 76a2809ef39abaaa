/* Frama-C EVA harness for the Query protocol's form parser
 * (src/api/query.c), the parts Eva closes: name_ok() on a NUL-terminated
 * string of unknown bytes and any length up to QUERY_MAX_BODY (a decoded
 * name is never longer), hexval() on any byte, and utf8_valid() and
 * decode() on unknown bytes in a block of exactly the input's length,
 * one analysis per length up to UTF8_MAX and DECODE_MAX. decode() and
 * utf8_valid() at every length up to QUERY_MAX_BODY are WP's (wp.c: the
 * write index is bounded by the read index, a relation Eva's intervals do
 * not keep); query_parse()'s pair walk is not analysed (docs/proofs.md). */
#include "shims.h"
#include "query.c"

#include <limits.h>

#define UTF8_MAX 8
#define DECODE_MAX 3

static char name[QUERY_MAX_BODY + 1];

int main(void)
{
	char err[128], *out;
	size_t n;
	uint8_t *u;
	char *s;

	Frama_C_make_unknown(name, QUERY_MAX_BODY);
	name[QUERY_MAX_BODY] = '\0';
	(void)name_ok(name);
	(void)hexval((char)Frama_C_interval(CHAR_MIN, CHAR_MAX));

	n = Frama_C_size_t_interval(0, UTF8_MAX);
	//@ split n;
	u = malloc(n ? n : 1);
	if (u) {
		Frama_C_make_unknown((char *)u, n);
		(void)utf8_valid(u, n);
		free(u);
	}
	//@ merge n;

	n = Frama_C_size_t_interval(0, DECODE_MAX);
	//@ split n;
	s = malloc(n ? n : 1);
	if (s) {
		Frama_C_make_unknown(s, n);
		if (decode(s, n, &out, err, sizeof(err)) == 0)
			free(out);
		free(s);
	}
	//@ merge n;
	return 0;
}
