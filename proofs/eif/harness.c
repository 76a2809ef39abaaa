/* Frama-C EVA harness for eif_parse() (src/lib/eif.c), the Enclave Image
 * File parser: header, section table, section headers, CRC-32. The image
 * is unknown bytes in a buffer allocated with exactly its length (so a
 * read one past the input is an alarm), every length from 0 to EIF_MODEL_MAX
 * (one analysis each): the header and three section headers (the smallest
 * valid image: kernel, cmdline, ramdisk) with up to 4 bytes of content
 * between them, so every check and the cmdline's NUL scan are reached. */
#include "shims.h"

#include <string.h>

/* memchr(): Frama-C's contract for it is stated with a logic function Eva
 * cannot evaluate (its preconditions stay unknown); cut here by the C
 * library's definition, exact, under its own name so the contract does not
 * apply. <string.h> is read first, so the product file's include of it
 * does not declare the model with the contract. */
static void *fc_memchr(const void *s, int c, size_t n)
{
	const unsigned char *p = s;

	for (size_t i = 0; i < n; i++)
		if (p[i] == (unsigned char)c)
			return (void *)(p + i);
	return NULL;
}
#define memchr fc_memchr

#include "eif.c"

#include <stdlib.h>

#define EIF_MODEL_MAX (EIF_HDR_LEN + 3 * EIF_SECT_HDR_LEN + 4)


int main(void)
{
	char err[160];
	size_t len = Frama_C_size_t_interval(0, EIF_MODEL_MAX);
	uint8_t *b;

	//@ split len;
	b = malloc(len ? len : 1);
	if (b) {
		struct eif_image img;

		Frama_C_make_unknown((char *)b, len);
		(void)eif_parse(b, len, &img, err, sizeof(err));
		free(b);
	}
	return 0;
}
