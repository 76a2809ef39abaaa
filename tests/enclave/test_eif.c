/* tests/enclave/test_eif: eif_parse's strictness, one rule at a time — a
 * good image from eif_build is changed in one field (and its CRC32 made
 * right again, so that the rule itself must catch it) and must be refused
 * with the message that names the rule. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "eif.h"

static const uint8_t kernel[100] = { 1, 2, 3 }, rd1[50] = { 4 }, rd2[20] = { 5 };

static uint8_t *good(size_t *len)
{
	const uint8_t *rd[2] = { rd1, rd2 };
	const size_t rl[2] = { sizeof(rd1), sizeof(rd2) };
	struct eif_build_in in = { .kernel = kernel, .kernel_len = sizeof(kernel),
				   .cmdline = "console=ttyS0", .nramdisks = 2, .ramdisk = rd,
				   .ramdisk_len = rl, .metadata = (const uint8_t *)"{}", .metadata_len = 2 };
	struct eif_pcrs p;
	uint8_t *out;
	char err[256];

	assert_int_equal(eif_build(&in, &out, len, &p, err, sizeof(err)), 0);
	return out;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static void fix_crc(uint8_t *b, size_t len)
{
	uint32_t c = eif_crc32(eif_crc32(0, b, EIF_CRC_OFF), b + EIF_HDR_LEN, len - EIF_HDR_LEN);

	b[544] = (uint8_t)(c >> 24);
	b[545] = (uint8_t)(c >> 16);
	b[546] = (uint8_t)(c >> 8);
	b[547] = (uint8_t)c;
}

static void refused(uint8_t *b, size_t len, const char *why)
{
	struct eif_image img;
	char err[256] = "";

	fix_crc(b, len);
	assert_int_equal(eif_parse(b, len, &img, err, sizeof(err)), -EPROTO);
	if (!strstr(err, why))
		fail_msg("expected \"%s\", got \"%s\"", why, err);
}

/* Offsets: kernel section header at 548, cmdline after it, then metadata,
 * the two ramdisks. */
#define SECT(i) (28 + 8 * (i))
#define SIZE(i) (284 + 8 * (i))
#define CMDLINE_HDR (548 + 12 + sizeof(kernel))

static void good_image_parses(void **state)
{
	struct eif_image img;
	struct eif_pcrs p;
	size_t len;
	uint8_t *b = good(&len);
	char err[256];

	assert_int_equal(eif_parse(b, len, &img, err, sizeof(err)), 0);
	assert_int_equal(img.nsections, 5);
	assert_int_equal(img.default_mem, EIF_DEFAULT_MEM);
	assert_int_equal(img.sect[0].type, EIF_SECT_KERNEL);
	assert_int_equal(img.sect[2].type, EIF_SECT_METADATA);
	assert_int_equal(eif_measure(&img, &p, err, sizeof(err)), 0);
	assert_false(p.has_pcr8);
	free(b);
}

static void each_rule(void **state)
{
	size_t len;
	uint8_t *b = good(&len), *c = malloc(len + 64);

#define CASE(mutation, why)                     \
	do {                                    \
		memcpy(c, b, len);              \
		mutation;                       \
		refused(c, len, why);           \
	} while (0)
	CASE(c[0] = 'E', "magic");
	CASE(put16(c + 4, 3), "version 3");
	CASE(put16(c + 6, 2), "unknown flags");
	CASE(put16(c + 24, 1), "reserved");
	CASE(c[543] = 1, "reserved");
	CASE(put16(c + 26, 0), "0 sections");
	CASE(put16(c + 26, 33), "33 sections");
	CASE(put64(c + SECT(7), 9), "unused section slot 7");
	CASE(put64(c + SIZE(31), 1), "unused section slot 31");
	CASE(put64(c + SECT(1), 548), "section 1 at offset 548");
	CASE(put64(c + SIZE(0), sizeof(kernel) + 1), "the table 101");
	CASE(put16(c + 548, 9), "unknown type 9");
	CASE(put16(c + 548 + 2, 1), "non-zero flags");
	CASE(put64(c + 548 + 4, 99), "header says 99 bytes");
	CASE(put16(c + CMDLINE_HDR, EIF_SECT_KERNEL), "exactly one kernel");
	CASE(c[CMDLINE_HDR + 12 + 3] = 0, "NUL");
	CASE(put16(c + len - 20 - 12, EIF_SECT_METADATA), "more than one metadata");
	/* Both ramdisks relabelled as signatures: no ramdisk left. */
	CASE(put16(c + len - 20 - 12, EIF_SECT_SIGNATURE); put16(c + len - 20 - 12 - 50 - 12, EIF_SECT_SIGNATURE),
	     "no ramdisk");
	CASE(put16(c + 26, 4), "unused section slot 4");
	memcpy(c, b, len);
	c[len] = 0;
	refused(c, len + 1, "bytes after the last section");
	/* Declared past the end of the file. */
	CASE(put16(c + 26, 5); put64(c + SIZE(4), 1u << 30), "runs past the end");
#undef CASE
	/* Shorter than a header. */
	{
		struct eif_image img;
		char err[256];

		assert_int_equal(eif_parse(b, EIF_HDR_LEN - 1, &img, err, sizeof(err)), -EPROTO);
	}
	free(c);
	free(b);
}

static void crc_mismatch(void **state)
{
	struct eif_image img;
	size_t len;
	uint8_t *b = good(&len);
	char err[256];

	b[len - 1] ^= 1;
	assert_int_equal(eif_parse(b, len, &img, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "CRC32"));
	free(b);
}

static void build_refuses(void **state)
{
	const uint8_t *rd[1] = { rd1 };
	const size_t rl[1] = { sizeof(rd1) };
	struct eif_build_in in = { .kernel = kernel, .kernel_len = sizeof(kernel), .cmdline = "",
				   .nramdisks = 0, .ramdisk = rd, .ramdisk_len = rl };
	struct eif_pcrs p;
	uint8_t *out;
	size_t len;
	char err[256];

	assert_int_equal(eif_build(&in, &out, &len, &p, err, sizeof(err)), -EINVAL);
	in.nramdisks = 29;
	assert_int_equal(eif_build(&in, &out, &len, &p, err, sizeof(err)), -EINVAL);
	in.nramdisks = 1;
	in.flags = 4;
	assert_int_equal(eif_build(&in, &out, &len, &p, err, sizeof(err)), -EINVAL);
	in.flags = 0;
	in.cert_pem = (const uint8_t *)"x";
	in.cert_pem_len = 1;
	assert_int_equal(eif_build(&in, &out, &len, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "both"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_image_parses),
		cmocka_unit_test(each_rule),
		cmocka_unit_test(crc_mismatch),
		cmocka_unit_test(build_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
