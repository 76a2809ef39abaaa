/* Frama-C EVA harness for the value parsers of the EC2 Query protocol
 * (src/api/ec2_params.c): ec2_parse_cidr(), ec2_text_ok(), id_ok(),
 * parse_long() (behind ec2_parse_int() and the port ranges) and
 * rule_proto(), each on a NUL-terminated string of unknown bytes and any
 * length up to QUERY_MAX_BODY (a decoded form value is never longer), with
 * any bounds the callers can pass: CIDR prefix bounds 0 <= min <= max <= 32
 * (ec2_vpc.c passes 16..28 and 0..32), any text-length and integer
 * bounds. The list walkers (Filter.N, TagSpecification.N, IpPermissions.N)
 * build names with vsnprintf and are not part of this harness. */
#include "shims.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

/* strtol(): an exact C model for base 10, the only base the parsers use
 * (Frama-C's contract puts *endptr anywhere after nptr, so the parser's
 * check of **endptr could not be shown to stay in the string). Leading
 * white space, an optional sign, the longest run of digits; LONG_MAX or
 * LONG_MIN and ERANGE on overflow; *endptr after the digits, or nptr when
 * there are none. */
long strtol(const char *restrict nptr, char **restrict endptr, int base)
{
	const char *p = nptr;
	unsigned long lim, acc = 0;
	int neg = 0, any = 0, over = 0;

	(void)base;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	lim = neg ? (unsigned long)LONG_MAX + 1 : (unsigned long)LONG_MAX;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		any = 1;
		if (over || acc > (lim - d) / 10)
			over = 1;
		else
			acc = acc * 10 + d;
	}
	if (endptr)
		*endptr = (char *)(any ? p : nptr);
	if (over) {
		errno = ERANGE;
		return neg ? LONG_MIN : LONG_MAX;
	}
	return neg ? (long)(0 - acc) : (long)acc;
}

#include "ec2_params.c"

static char s[QUERY_MAX_BODY + 1];

int main(void)
{
	uint32_t addr;
	unsigned plen, min, max;
	long v;
	char out[8];

	Frama_C_make_unknown(s, QUERY_MAX_BODY);
	s[QUERY_MAX_BODY] = '\0';

	min = Frama_C_unsigned_int_interval(0, 32);
	max = Frama_C_unsigned_int_interval(min, 32);
	(void)ec2_parse_cidr(s, min, max, &addr, &plen);

	(void)ec2_text_ok(s, Frama_C_size_t_interval(0, QUERY_MAX_BODY),
			  Frama_C_size_t_interval(0, QUERY_MAX_BODY));
	(void)id_ok(s);
	{
		long lo = Frama_C_long_interval(LONG_MIN, LONG_MAX);
		long hi = Frama_C_long_interval(lo, LONG_MAX);

		(void)parse_long(s, lo, hi, &v);
	}
	(void)rule_proto(s, out);
	return 0;
}
