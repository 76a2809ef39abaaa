/* Frama-C EVA harness for the SigV4 header parsers (src/lib/sigv4.c):
 * sigv4_parse_authorization() and sigv4_parse_amz_date() on NUL-terminated
 * strings of unknown bytes and any length up to what the HTTP front end
 * lets through (httpsd caps the whole header block at 16384 bytes, so no
 * header value is longer). */
#include "shims.h"

#include <time.h>

/* timegm() (glibc, not in Frama-C's libc): reads the broken-down time the
 * parser filled in, writes nothing else. */
/*@ requires \valid(tm);
    assigns *tm, \result \from *tm; */
time_t timegm(struct tm *tm);

#include "sigv4.c"

#define HEADER_MAX 16384

static char authz[HEADER_MAX + 1];
static char amz_date[HEADER_MAX + 1];

int main(void)
{
	struct sigv4_auth a;
	time_t t;

	/* Any string up to HEADER_MAX bytes: unknown bytes (a NUL anywhere
	 * ends it) and a terminator at the end of the buffer. */
	Frama_C_make_unknown(authz, HEADER_MAX);
	authz[HEADER_MAX] = '\0';
	(void)sigv4_parse_authorization(authz, &a);

	Frama_C_make_unknown(amz_date, HEADER_MAX);
	amz_date[HEADER_MAX] = '\0';
	(void)sigv4_parse_amz_date(amz_date, &t);
	return 0;
}
