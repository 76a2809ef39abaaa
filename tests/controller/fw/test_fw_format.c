/* test_fw_format: the firmware store's strict parsers (fw_format.c) without
 * a TPM — manifest build/parse/verify round trip, signatures under the
 * wrong key and over changed bytes, and the malformed inputs each parser
 * must refuse (names, duplicates, reserved fields, lengths, roles). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "controller/fw/fw_format.h"
#include "controller/fw/fw_vendor.h"

static char key_path[512];

static void fill(struct fw_manifest *m, unsigned n)
{
	static const char *names[] = { "ward-hv", "ward-blk", "hello", "spin" };
	static const enum fw_role roles[] = { FW_ROLE_HV, FW_ROLE_BLK, FW_ROLE_GUEST,
					      FW_ROLE_GUEST };

	memset(m, 0, sizeof(*m));
	m->version = 3;
	m->counter = 2;
	m->expiry = 4102444800ull;
	m->n_images = n;
	for (unsigned i = 0; i < n; i++) {
		snprintf(m->img[i].name, sizeof(m->img[i].name), "%s", names[i % 4]);
		m->img[i].role = roles[i % 4];
		m->img[i].size = 100 + i;
		memset(m->img[i].sha256, 0x11 * (i + 1), 32);
	}
}

static uint8_t *build(struct fw_manifest *m, size_t *len)
{
	uint8_t *out = NULL;
	char err[256];

	assert_int_equal(fw_manifest_build(m, key_path, &out, len, err, sizeof(err)), 0);
	return out;
}

static void test_roundtrip_and_signature(void **st)
{
	struct fw_manifest m, p;
	size_t len;
	uint8_t *b;
	char err[256];

	fill(&m, 4);
	b = build(&m, &len);
	assert_int_equal(fw_manifest_parse(b, len, &p, err, sizeof(err)), 0);
	assert_int_equal(p.version, 3);
	assert_int_equal(p.counter, 2);
	assert_int_equal(p.n_images, 4);
	assert_string_equal(p.img[1].name, "ward-blk");
	assert_int_equal(p.img[1].role, FW_ROLE_BLK);
	assert_memory_equal(p.img[3].sha256, m.img[3].sha256, 32);
	/* The committed TEST key is the built-in default. */
	assert_true(fw_vendor_is_test_key());
	assert_int_equal(fw_manifest_verify(&p, fw_vendor_pubkey()), 0);
	/* Any changed byte of the body or signature breaks it. */
	for (size_t i = 0; i < len; i += 7) {
		b[i] ^= 0x20;
		if (!fw_manifest_parse(b, len, &p, err, sizeof(err)))
			assert_int_not_equal(fw_manifest_verify(&p, fw_vendor_pubkey()), 0);
		b[i] ^= 0x20;
	}
	/* Another key does not verify it. */
	{
		uint8_t other[32];

		memcpy(other, fw_vendor_pubkey(), 32);
		other[0] ^= 1;
		assert_int_equal(fw_manifest_parse(b, len, &p, err, sizeof(err)), 0);
		assert_int_not_equal(fw_manifest_verify(&p, other), 0);
	}
	free(b);
}

static void expect_bad(const uint8_t *b, size_t len, const char *why)
{
	struct fw_manifest p;
	char err[256] = "";

	assert_int_equal(fw_manifest_parse(b, len, &p, err, sizeof(err)), -EBADMSG);
	if (why && !strstr(err, why))
		fail_msg("error \"%s\" does not mention \"%s\"", err, why);
}

static void test_manifest_refusals(void **st)
{
	struct fw_manifest m;
	size_t len;
	uint8_t *b, *big;

	fill(&m, 2);
	b = build(&m, &len);
	for (size_t n = 0; n < len; n++)
		expect_bad(b, n, NULL);			/* every truncation */
	big = malloc(len + 1);
	memcpy(big, b, len);
	big[len] = 0;
	expect_bad(big, len + 1, "after the images");	/* trailing byte */
	free(big);
	b[0] = 'X';
	expect_bad(b, len, "magic");
	b[0] = 'W';
	b[4] = 2;
	expect_bad(b, len, "format");
	b[4] = 1;
	b[32] = 1;
	expect_bad(b, len, "reserved");
	b[32] = 0;
	b[6] = 0;
	expect_bad(b, len, "images");
	b[6] = 2;
	free(b);

	/* Names that would escape the slot directory or hide files. */
	fill(&m, 1);
	snprintf(m.img[0].name, sizeof(m.img[0].name), "ab");
	b = build(&m, &len);
	b[37] = '.';
	b[38] = '.';
	expect_bad(b, len, "invalid name");
	b[37] = 'a';
	b[38] = '/';
	expect_bad(b, len, "invalid name");
	b[38] = 'b';
	b[39] = 9;		/* role */
	expect_bad(b, len, "unknown role");
	b[39] = FW_ROLE_HV;
	b[40] = 1;		/* reserved */
	expect_bad(b, len, "reserved");
	b[40] = 0;
	memset(b + 41, 0, 8);	/* size 0 */
	expect_bad(b, len, "size");
	free(b);

	/* Duplicates: the same name twice, two hypervisors. */
	fill(&m, 2);
	snprintf(m.img[1].name, sizeof(m.img[1].name), "ward-hv");
	m.img[1].role = FW_ROLE_GUEST;
	assert_int_not_equal(fw_manifest_build(&m, key_path, &b, &len, NULL, 0), 0);
	fill(&m, 2);
	m.img[1].role = FW_ROLE_HV;
	assert_int_not_equal(fw_manifest_build(&m, key_path, &b, &len, NULL, 0), 0);
}

static void test_package(void **st)
{
	static struct fw_package p;
	struct fw_manifest m;
	uint8_t img[2][64], *man, *pkg;
	size_t mlen, plen;
	char err[256];

	fill(&m, 2);
	for (int i = 0; i < 2; i++) {
		memset(img[i], 'a' + i, sizeof(img[i]));
		m.img[i].size = sizeof(img[i]);
		EVP_Digest(img[i], sizeof(img[i]), m.img[i].sha256, NULL, EVP_sha256(), NULL);
	}
	man = build(&m, &mlen);
	plen = 12 + mlen + 128;
	pkg = malloc(plen + 1);
	memcpy(pkg, "WFUP\1\0\0\0", 8);
	for (int i = 0; i < 4; i++)
		pkg[8 + i] = (uint8_t)(mlen >> (8 * i));
	memcpy(pkg + 12, man, mlen);
	memcpy(pkg + 12 + mlen, img[0], 64);
	memcpy(pkg + 12 + mlen + 64, img[1], 64);
	assert_int_equal(fw_package_parse(pkg, plen, &p, err, sizeof(err)), 0);
	assert_ptr_equal(p.image[1], pkg + 12 + mlen + 64);
	assert_int_equal(fw_manifest_verify(&p.m, fw_vendor_pubkey()), 0);
	pkg[plen] = 0;
	assert_int_equal(fw_package_parse(pkg, plen + 1, &p, err, sizeof(err)), -EBADMSG);
	assert_int_equal(fw_package_parse(pkg, plen - 1, &p, err, sizeof(err)), -EBADMSG);
	pkg[plen - 1] ^= 1;	/* an image byte: hash mismatch */
	assert_int_equal(fw_package_parse(pkg, plen, &p, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "does not match"));
	pkg[plen - 1] ^= 1;
	pkg[8] = 0xff;		/* manifest length beyond the file */
	assert_int_equal(fw_package_parse(pkg, plen, &p, err, sizeof(err)), -EBADMSG);
	free(pkg);
	free(man);
}

static void test_golden_pointer_secret(void **st)
{
	struct fw_golden g = { .n = 3, .pcr = { 12, 13, 15 }, .sig_len = 70 }, q;
	struct fw_pointer p = { .active = 'B', .state = FW_SLOT_TRIAL, .tries = 1,
				.version = 9 }, pp;
	struct fw_secret s = { .nv_base = 77 }, ss;
	uint8_t buf[512], pb[FW_POINTER_LEN], sb[FW_SECRET_LEN];
	size_t n;
	char err[256];

	memset(g.sig, 0x30, sizeof(g.sig));
	memset(g.value[1], 0xaa, 32);
	assert_int_equal(fw_golden_encode(&g, buf, sizeof(buf), &n), 0);
	assert_int_equal(fw_golden_parse(buf, n, &q, err, sizeof(err)), 0);
	assert_memory_equal(q.value[1], g.value[1], 32);
	assert_int_equal(fw_golden_parse(buf, n - 1, &q, err, sizeof(err)), -EBADMSG);
	buf[8 + 33] = 11;	/* PCR indices must ascend */
	assert_int_equal(fw_golden_parse(buf, n, &q, err, sizeof(err)), -EBADMSG);

	fw_pointer_encode(&p, pb);
	assert_int_equal(fw_pointer_parse(pb, sizeof(pb), &pp, err, sizeof(err)), 0);
	assert_int_equal(pp.active, 'B');
	assert_int_equal(pp.tries, 1);
	assert_int_equal(pp.version, 9);
	pb[5] = 'C';
	assert_int_equal(fw_pointer_parse(pb, sizeof(pb), &pp, err, sizeof(err)), -EBADMSG);
	pb[5] = 'A';
	pb[20] = 1;
	assert_int_equal(fw_pointer_parse(pb, sizeof(pb), &pp, err, sizeof(err)), -EBADMSG);

	memset(s.key, 0x5a, sizeof(s.key));
	fw_secret_encode(&s, sb);
	assert_int_equal(fw_secret_parse(sb, sizeof(sb), &ss), 0);
	assert_int_equal(ss.nv_base, 77);
	assert_memory_equal(ss.key, s.key, sizeof(s.key));
	assert_int_equal(fw_secret_parse(sb, sizeof(sb) - 1, &ss), -EBADMSG);
}

int main(void)
{
	const char *src = getenv("WARD_SOURCE_ROOT");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_and_signature),
		cmocka_unit_test(test_manifest_refusals),
		cmocka_unit_test(test_package),
		cmocka_unit_test(test_golden_pointer_secret),
	};

	snprintf(key_path, sizeof(key_path), "%s/src/controller/fw/keys/TEST-vendor-ed25519.pem",
		 src ? src : ".");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
