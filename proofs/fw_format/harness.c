/* Frama-C EVA harness for the small firmware-store formats
 * (src/controller/fw/fw_format.c): fw_golden_parse(), fw_pointer_parse()
 * and fw_secret_parse(), each on a buffer of unknown bytes allocated with
 * exactly its length (so a read one past the input is an alarm), for every
 * length up to a bound above each format's largest valid size, one
 * analysis per length. */
#include "shims.h"
#include "fw_format.c"

#include <stdlib.h>

/* The digest calls' objects (EVP_MD_CTX_new() and EVP_sha256() by their
 * contracts alone left the SHA-256 path dead: see evp_model.h). */
#include "evp_model.h"

static uint8_t *input(size_t len)
{
	uint8_t *b = malloc(len ? len : 1);

	if (b)
		Frama_C_make_unknown((char *)b, len);
	return b;
}

int main(void)
{
	char err[160];
	size_t len;
	uint8_t *b;

	/* golden set: at most 8 + 8 * 33 + 2 + 80 = 354 bytes are valid */
	len = Frama_C_size_t_interval(0, 360);
	//@ split len;
	b = input(len);
	if (b) {
		struct fw_golden g;

		(void)fw_golden_parse(b, len, &g, err, sizeof(err));
		free(b);
	}
	//@ merge len;

	len = Frama_C_size_t_interval(0, 2 * FW_POINTER_LEN);
	//@ split len;
	b = input(len);
	if (b) {
		struct fw_pointer p;

		(void)fw_pointer_parse(b, len, &p, err, sizeof(err));
		free(b);
	}
	//@ merge len;

	len = Frama_C_size_t_interval(0, 2 * FW_SECRET_LEN);
	//@ split len;
	b = input(len);
	if (b) {
		struct fw_secret s;

		(void)fw_secret_parse(b, len, &s);
		free(b);
	}
	return 0;
}
