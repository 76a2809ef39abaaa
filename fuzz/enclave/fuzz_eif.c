/* libFuzzer harness for the EIF parser and measurer (eif_parse,
 * eif_measure: section table, signature section CBOR, COSE_Sign1). Each
 * input is tried as is and with its CRC32 made right, so that the fuzzer
 * gets past the checksum into the section and signature parsers. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eif.h"

static void try_one(const uint8_t *p, size_t n)
{
	struct eif_image img;
	struct eif_pcrs pcrs;
	char err[256];

	if (!eif_parse(p, n, &img, err, sizeof(err)))
		eif_measure(&img, &pcrs, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *c;
	uint32_t crc;

	if (size > (1u << 20))
		return 0;
	try_one(data, size);
	if (size < EIF_HDR_LEN || !(c = malloc(size)))
		return 0;
	memcpy(c, data, size);
	crc = eif_crc32(0, c, EIF_CRC_OFF);
	crc = eif_crc32(crc, c + EIF_HDR_LEN, size - EIF_HDR_LEN);
	c[EIF_CRC_OFF] = (uint8_t)(crc >> 24);
	c[EIF_CRC_OFF + 1] = (uint8_t)(crc >> 16);
	c[EIF_CRC_OFF + 2] = (uint8_t)(crc >> 8);
	c[EIF_CRC_OFF + 3] = (uint8_t)crc;
	try_one(c, size);
	free(c);
	return 0;
}
