/* Frama-C EVA harness for the ward-kms ciphertext blob parser
 * (src/kms/blob.c): blob_parse() on a buffer of unknown bytes allocated
 * with exactly the input's length (a read past the input is an alarm), for
 * every length the request parser can hand it (CiphertextBlob decodes to
 * at most 6144 bytes, request.c's get_b64 bound): one analysis per length
 * up to one past the fixed overhead, where every check is decided, then
 * one for all longer inputs together (an allocation whose size is only
 * known to be in that range: any access past its smallest size is an
 * alarm); and blob_is_key_id(), the key-reference check, on any string up
 * to a bound above the UUID length, one analysis per length. */
#include "shims.h"
#include "blob.c"

#include <stdlib.h>

#define BLOB_INPUT_MAX 6144

static uint8_t *input(size_t len)
{
	uint8_t *b = malloc(len ? len : 1);

	if (b)
		Frama_C_make_unknown((char *)b, len);
	return b;
}

int main(void)
{
	struct blob out;
	size_t len;
	uint8_t *b;

	len = Frama_C_size_t_interval(0, BLOB_OVERHEAD + 1);
	//@ split len;
	b = input(len);
	if (b) {
		(void)blob_parse(b, len, &out);
		free(b);
	}
	//@ merge len;

	/* Longer inputs: Eva can write unknown bytes only where the block
	 * surely exists, so the bytes past the smallest size stay
	 * uninitialised and reading them is an alarm as well. */
	len = Frama_C_size_t_interval(BLOB_OVERHEAD + 2, BLOB_INPUT_MAX);
	b = malloc(len);
	if (b) {
		Frama_C_make_unknown((char *)b, BLOB_OVERHEAD + 2);
		(void)blob_parse(b, len, &out);
		free(b);
	}

	len = Frama_C_size_t_interval(0, 2 * BLOB_KEY_ID_LEN);
	//@ split len;
	b = input(len);
	if (b) {
		(void)blob_is_key_id((const char *)b, len);
		free(b);
	}
	return 0;
}
