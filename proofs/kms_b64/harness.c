/* Frama-C EVA harness for ward-kms's strict base64 decoder
 * (kms_b64_decode() in src/kms/request.c, behind every blob and plaintext
 * member of a request), called as get_b64() calls it: a JSON string's
 * bytes and length, into a block of n / 4 * 3 + 3 bytes with that cap.
 * Strings up to SHORT_MAX bytes, and the output block, are allocated at
 * exactly their lengths, one analysis per length (a read past the string
 * or a write past the output is an alarm); every longer string, up to
 * REQ_MAX_BODY (no JSON string in a body is longer), lies in a buffer of
 * that size with its output in a buffer of the largest cap, so there an
 * access past the string or the cap but inside those buffers is not
 * flagged. The rest of request.c (the JSON walk) is not part of this
 * harness; jansson is declared, not reached. */
#include "shims.h"

/* Declared for request.c's encoder (not reached). */
int EVP_EncodeBlock(unsigned char *t, const unsigned char *f, int n);

#include "request.c"

#include <stdlib.h>

#define SHORT_MAX 40

static char big_in[REQ_MAX_BODY];
static uint8_t big_out[REQ_MAX_BODY / 4 * 3 + 3];

int main(void)
{
	size_t n;
	char *in;
	uint8_t *out;

	n = Frama_C_size_t_interval(0, SHORT_MAX);
	//@ split n;
	in = malloc(n ? n : 1);
	out = malloc(n / 4 * 3 + 3);
	if (in && out) {
		Frama_C_make_unknown(in, n);
		(void)kms_b64_decode(in, n, out, n / 4 * 3 + 3);
	}
	free(in);
	free(out);
	//@ merge n;

	Frama_C_make_unknown(big_in, sizeof(big_in));
	n = Frama_C_size_t_interval(SHORT_MAX + 1, REQ_MAX_BODY);
	(void)kms_b64_decode(big_in, n, big_out, n / 4 * 3 + 3);
	return 0;
}
