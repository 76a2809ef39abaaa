/* test_hpke: RFC 9180 HPKE against the RFC's DHKEM(P-256) test vectors,
 * sealed-blob round trips, a pluggable DH, and every tampering the
 * recipient must refuse (ciphertext, tag, aad, info, enc, wrong key). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>

#include "hpke.h"

static size_t unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = strlen(s) / 2;

	assert_int_equal(strlen(s) % 2, 0);
	assert_true(n <= max);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

struct enc_vec {
	uint64_t seq;
	const char *aad, *ct;
};

struct export_vec {
	const char *ctx, *value;
};

struct suite_vec {
	const char *source;
	uint16_t aead_id;
	const char *info, *ikmE, *pkEm, *skEm, *ikmR, *pkRm, *skRm, *enc;
	const char *pt;
	struct enc_vec encs[6];
	struct export_vec exports[3];
};

/* RFC 9180 Appendix A.3.1: DHKEM(P-256, HKDF-SHA256), HKDF-SHA256,
 * AES-128-GCM, mode_base (identical in the CFRG test-vectors.json). It is
 * the RFC's only vector with kem_id 16 / kdf_id 1: it checks DeriveKeyPair,
 * Encap/Decap, the key schedule, nonces and Export of the code ward uses for
 * AES-256-GCM, which differs only in Nk and the suite_id byte. */
static const struct suite_vec rfc9180_a31 = {
	.source = "RFC 9180 A.3.1",
	.aead_id = HPKE_AEAD_AES128GCM,
	.info = "4f6465206f6e2061204772656369616e2055726e",
	.ikmE = "4270e54ffd08d79d5928020af4686d8f6b7d35dbe470265f1f5aa22816ce860e",
	.pkEm = "04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b32"
		"5ac98536d7b61a1af4b78e5b7f951c0900be863c403ce65c9bfcb9382657222d18c4",
	.skEm = "4995788ef4b9d6132b249ce59a77281493eb39af373d236a1fe415cb0c2d7beb",
	.ikmR = "668b37171f1072f3cf12ea8a236a45df23fc13b82af3609ad1e354f6ef817550",
	.pkRm = "04fe8c19ce0905191ebc298a9245792531f26f0cece2460639e8bc39cb7f70"
		"6a826a779b4cf969b8a0e539c7f62fb3d30ad6aa8f80e30f1d128aafd68a2ce72ea0",
	.skRm = "f3ce7fdae57e1a310d87f1ebbde6f328be0a99cdbcadf4d6589cf29de4b8ffd2",
	.enc = "04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b325"
	       "ac98536d7b61a1af4b78e5b7f951c0900be863c403ce65c9bfcb9382657222d18c4",
	.pt = "4265617574792069732074727574682c20747275746820626561757479",
	.encs = {
		{ 0, "436f756e742d30", "5ad590bb8baa577f8619db35a36311226a896e7342a6d836d8b7bcd2f20b6c7f"
				   "9076ac232e3ab2523f39513434" },
		{ 1, "436f756e742d31", "fa6f037b47fc21826b610172ca9637e82d6e5801eb31cbd3748271affd4ecb06"
				   "646e0329cbdf3c3cd655b28e82" },
		{ 2, "436f756e742d32", "895cabfac50ce6c6eb02ffe6c048bf53b7f7be9a91fc559402cbc5b8dcaeb52b"
				   "2ccc93e466c28fb55fed7a7fec" },
		{ 4, "436f756e742d34", "8787491ee8df99bc99a246c4b3216d3d57ab5076e18fa27133f520703bc70ec9"
				   "99dd36ce042e44f0c3169a6a8f" },
		{ 255, "436f756e742d323535", "2ad71c85bf3f45c6eca301426289854b31448bcf8a8ccb1deef3ebd87f60848a"
					 "a53c538c30a4dac71d619ee2cd" },
		{ 256, "436f756e742d323536", "10f179686aa2caec1758c8e554513f16472bd0a11e2a907dde0b212cbe87d74f"
					 "367f8ffe5e41cd3e9962a6afb2" },
	},
	.exports = {
		{ "", "5e9bc3d236e1911d95e65b576a8a86d478fb827e8bdfe77b741b289890490d4d" },
		{ "00", "6cff87658931bda83dc857e6353efe4987a201b849658d9b047aab4cf216e796" },
		{ "54657374436f6e74657874", "d8f1ea7942adbba7412c6d431c62d01371ea476b823eb697e1f6e6cae1dab85a" },
	},
};

static void check_private(EVP_PKEY *k, const char *want_hex)
{
	uint8_t want[32], got[32];
	BIGNUM *bn = NULL;

	unhex(want_hex, want, sizeof(want));
	assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &bn), 1);
	assert_int_equal(BN_bn2binpad(bn, got, sizeof(got)), 32);
	assert_memory_equal(got, want, 32);
	BN_clear_free(bn);
}

static void check_public(EVP_PKEY *k, const char *want_hex)
{
	uint8_t want[HPKE_PK_LEN], got[HPKE_PK_LEN];

	unhex(want_hex, want, sizeof(want));
	assert_int_equal(hpke_public_key(k, got), 0);
	assert_memory_equal(got, want, HPKE_PK_LEN);
}

static void aad_for(uint64_t seq, uint8_t *aad, size_t *len)
{
	/* The vectors' aad is "Count-<seq>" */
	*len = (size_t)snprintf((char *)aad, 32, "Count-%llu", (unsigned long long)seq);
}

static void run_vector(const struct suite_vec *v)
{
	uint8_t info[64], ikmE[32], ikmR[32], pkR[HPKE_PK_LEN], enc[HPKE_ENC_LEN], want[HPKE_ENC_LEN];
	uint8_t pt[64], aad[32], ct[257][64 + HPKE_TAG_LEN], out[64], exp_ctx[32], exp[32], exp_want[32];
	size_t info_len, pt_len, aad_len, n;
	struct hpke_ctx *s, *r;
	EVP_PKEY *skE, *skR;

	info_len = unhex(v->info, info, sizeof(info));
	unhex(v->ikmE, ikmE, sizeof(ikmE));
	unhex(v->ikmR, ikmR, sizeof(ikmR));
	pt_len = unhex(v->pt, pt, sizeof(pt));

	/* §7.1.3 DeriveKeyPair, both sides */
	assert_int_equal(hpke_derive_keypair(ikmE, sizeof(ikmE), &skE), 0);
	check_private(skE, v->skEm);
	check_public(skE, v->pkEm);
	assert_int_equal(hpke_derive_keypair(ikmR, sizeof(ikmR), &skR), 0);
	check_private(skR, v->skRm);
	check_public(skR, v->pkRm);
	unhex(v->pkRm, pkR, sizeof(pkR));

	assert_int_equal(hpke_setup_base_s_derand(v->aead_id, pkR, info, info_len, ikmE,
						  sizeof(ikmE), enc, &s), 0);
	unhex(v->enc, want, sizeof(want));
	assert_memory_equal(enc, want, HPKE_ENC_LEN);
	assert_int_equal(hpke_setup_base_r(v->aead_id, enc, pkR, hpke_dh_pkey, skR, info, info_len,
					   &r), 0);

	for (uint64_t seq = 0; seq <= 256; seq++) {
		aad_for(seq, aad, &aad_len);
		assert_int_equal(hpke_seal(s, aad, aad_len, pt, pt_len, ct[seq]), 0);
		assert_int_equal(hpke_open(r, aad, aad_len, ct[seq], pt_len + HPKE_TAG_LEN, out), 0);
		assert_memory_equal(out, pt, pt_len);
	}
	for (size_t i = 0; i < 6; i++) {
		const struct enc_vec *e = &v->encs[i];
		uint8_t wct[64 + HPKE_TAG_LEN], waad[32];

		n = unhex(e->ct, wct, sizeof(wct));
		assert_int_equal(n, pt_len + HPKE_TAG_LEN);
		aad_len = unhex(e->aad, waad, sizeof(waad));
		aad_for(e->seq, aad, &n);
		assert_int_equal(n, aad_len);
		assert_memory_equal(aad, waad, aad_len);
		assert_memory_equal(ct[e->seq], wct, pt_len + HPKE_TAG_LEN);
	}
	for (size_t i = 0; i < 3; i++) {
		n = unhex(v->exports[i].ctx, exp_ctx, sizeof(exp_ctx));
		unhex(v->exports[i].value, exp_want, sizeof(exp_want));
		assert_int_equal(hpke_export(s, exp_ctx, n, exp, 32), 0);
		assert_memory_equal(exp, exp_want, 32);
		assert_int_equal(hpke_export(r, exp_ctx, n, exp, 32), 0);
		assert_memory_equal(exp, exp_want, 32);
	}
	hpke_ctx_free(s);
	hpke_ctx_free(r);
	EVP_PKEY_free(skE);
	EVP_PKEY_free(skR);
}

static void test_rfc9180_a31(void **state)
{
	run_vector(&rfc9180_a31);
}

/* The ward suite with the A.3.1 keys: the only difference from A.3.1 is the
 * aead byte of suite_id and Nk, so the ciphertext must differ from A.3.1's
 * while still opening on the receiver. */
static void test_aes256_suite_differs(void **state)
{
	const struct suite_vec *v = &rfc9180_a31;
	uint8_t ikmE[32], ikmR[32], pkR[HPKE_PK_LEN], enc[HPKE_ENC_LEN], pt[64], ct[80], out[64];
	uint8_t a128[80], info[64];
	size_t pt_len, info_len;
	struct hpke_ctx *s, *r;
	EVP_PKEY *skR;

	info_len = unhex(v->info, info, sizeof(info));
	unhex(v->ikmE, ikmE, sizeof(ikmE));
	unhex(v->ikmR, ikmR, sizeof(ikmR));
	unhex(v->pkRm, pkR, sizeof(pkR));
	pt_len = unhex(v->pt, pt, sizeof(pt));
	unhex(v->encs[0].ct, a128, sizeof(a128));
	assert_int_equal(hpke_derive_keypair(ikmR, sizeof(ikmR), &skR), 0);
	assert_int_equal(hpke_setup_base_s_derand(HPKE_AEAD_AES256GCM, pkR, info, info_len, ikmE,
						  sizeof(ikmE), enc, &s), 0);
	assert_int_equal(hpke_seal(s, (const uint8_t *)"Count-0", 7, pt, pt_len, ct), 0);
	assert_memory_not_equal(ct, a128, pt_len + HPKE_TAG_LEN);
	assert_int_equal(hpke_setup_base_r(HPKE_AEAD_AES256GCM, enc, pkR, hpke_dh_pkey, skR, info,
					   info_len, &r), 0);
	assert_int_equal(hpke_open(r, (const uint8_t *)"Count-0", 7, ct, pt_len + HPKE_TAG_LEN, out), 0);
	assert_memory_equal(out, pt, pt_len);
	hpke_ctx_free(s);
	hpke_ctx_free(r);
	/* An AES-128 receiver cannot open an AES-256 message (suite binding). */
	assert_int_equal(hpke_setup_base_r(HPKE_AEAD_AES128GCM, enc, pkR, hpke_dh_pkey, skR, info,
					   info_len, &r), 0);
	assert_int_equal(hpke_open(r, (const uint8_t *)"Count-0", 7, ct, pt_len + HPKE_TAG_LEN, out),
			 -EBADMSG);
	hpke_ctx_free(r);
	EVP_PKEY_free(skR);
	assert_int_equal(hpke_setup_base_s(0x0003, pkR, NULL, 0, enc, &s), -EINVAL);
}

/* A DH that counts calls and can fail like a TPM refusing its policy. */
struct counting_dh {
	EVP_PKEY *sk;
	int calls;
	int fail;
};

static int counting_dh(void *ctx, const uint8_t peer[HPKE_PK_LEN], uint8_t z[HPKE_DH_LEN])
{
	struct counting_dh *c = ctx;

	c->calls++;
	if (c->fail)
		return c->fail;
	return hpke_dh_pkey(c->sk, peer, z);
}

static const uint8_t info[] = "ward volume key";
static const uint8_t aad[] = "vol-0001|key-v1";
static const uint8_t secret[64] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static EVP_PKEY *host_key;
static uint8_t host_pk[HPKE_PK_LEN];

static int setup_keys(void **state)
{
	if (hpke_generate_keypair(&host_key) || hpke_public_key(host_key, host_pk))
		return -1;
	return 0;
}

static int teardown_keys(void **state)
{
	EVP_PKEY_free(host_key);
	return 0;
}

static int open_blob(const uint8_t *blob, size_t len, struct counting_dh *dh, const uint8_t *pk,
		     const uint8_t *i, size_t il, const uint8_t *a, size_t al, uint8_t *pt,
		     size_t *pt_len)
{
	return hpke_open_with_dh(blob, len, pk, counting_dh, dh, i, il, a, al, pt, 64, pt_len);
}

static void test_blob_round_trip(void **state)
{
	uint8_t blob[64 + HPKE_SEALED_OVERHEAD], blob2[sizeof(blob)], pt[64];
	struct counting_dh dh = { .sk = host_key };
	size_t len, len2, pt_len;

	assert_int_equal(hpke_seal_blob(host_pk, info, sizeof(info), aad, sizeof(aad), secret,
					sizeof(secret), blob, sizeof(blob), &len), 0);
	assert_int_equal(len, sizeof(secret) + HPKE_SEALED_OVERHEAD);
	assert_int_equal(open_blob(blob, len, &dh, host_pk, info, sizeof(info), aad, sizeof(aad),
				   pt, &pt_len), 0);
	assert_int_equal(pt_len, sizeof(secret));
	assert_memory_equal(pt, secret, sizeof(secret));
	assert_int_equal(dh.calls, 1);

	/* Fresh ephemeral key each time: sealing twice never repeats. */
	assert_int_equal(hpke_seal_blob(host_pk, info, sizeof(info), aad, sizeof(aad), secret,
					sizeof(secret), blob2, sizeof(blob2), &len2), 0);
	assert_memory_not_equal(blob, blob2, HPKE_ENC_LEN);

	/* Empty plaintext and empty info/aad are legal. */
	assert_int_equal(hpke_seal_blob(host_pk, NULL, 0, NULL, 0, NULL, 0, blob, sizeof(blob), &len), 0);
	assert_int_equal(len, HPKE_SEALED_OVERHEAD);
	assert_int_equal(open_blob(blob, len, &dh, host_pk, NULL, 0, NULL, 0, pt, &pt_len), 0);
	assert_int_equal(pt_len, 0);
}

static void test_blob_tampering(void **state)
{
	uint8_t blob[64 + HPKE_SEALED_OVERHEAD], bad[sizeof(blob)], pt[64], zero[64] = { 0 };
	struct counting_dh dh = { .sk = host_key };
	size_t len, pt_len;
	int rc;

	assert_int_equal(hpke_seal_blob(host_pk, info, sizeof(info), aad, sizeof(aad), secret,
					sizeof(secret), blob, sizeof(blob), &len), 0);
	/* Every single-bit flip anywhere in the blob is refused. */
	for (size_t i = 0; i < len; i++) {
		memcpy(bad, blob, len);
		bad[i] ^= (uint8_t)(1u << (i % 8));
		memset(pt, 0x77, sizeof(pt));
		rc = open_blob(bad, len, &dh, host_pk, info, sizeof(info), aad, sizeof(aad), pt, &pt_len);
		if (i < HPKE_ENC_LEN)
			assert_true(rc == -EINVAL || rc == -EBADMSG); /* off-curve or wrong point */
		else
			assert_int_equal(rc, -EBADMSG);
		assert_int_equal(pt_len, 0);
		if (rc == -EBADMSG) /* no unauthenticated plaintext comes back */
			assert_memory_equal(pt, zero, sizeof(secret));
	}
	/* wrong aad, wrong info, truncated */
	assert_int_equal(open_blob(blob, len, &dh, host_pk, info, sizeof(info), aad, sizeof(aad) - 1,
				   pt, &pt_len), -EBADMSG);
	assert_int_equal(open_blob(blob, len, &dh, host_pk, info, sizeof(info) - 1, aad, sizeof(aad),
				   pt, &pt_len), -EBADMSG);
	assert_int_equal(open_blob(blob, len - 1, &dh, host_pk, info, sizeof(info), aad, sizeof(aad),
				   pt, &pt_len), -EBADMSG);
	assert_int_equal(open_blob(blob, HPKE_SEALED_OVERHEAD - 1, &dh, host_pk, info, sizeof(info),
				   aad, sizeof(aad), pt, &pt_len), -EBADMSG);
	assert_int_equal(hpke_open_with_dh(blob, len, host_pk, counting_dh, &dh, info, sizeof(info),
					   aad, sizeof(aad), pt, sizeof(secret) - 1, &pt_len), -ENOSPC);
	assert_int_equal(hpke_seal_blob(host_pk, NULL, 0, NULL, 0, secret, sizeof(secret), blob,
					sizeof(secret) + HPKE_SEALED_OVERHEAD - 1, &len), -ENOSPC);
}

static void test_wrong_recipient(void **state)
{
	uint8_t blob[64 + HPKE_SEALED_OVERHEAD], pt[64], other_pk[HPKE_PK_LEN];
	struct counting_dh dh;
	EVP_PKEY *other;
	size_t len, pt_len;

	assert_int_equal(hpke_generate_keypair(&other), 0);
	assert_int_equal(hpke_public_key(other, other_pk), 0);
	assert_int_equal(hpke_seal_blob(host_pk, info, sizeof(info), aad, sizeof(aad), secret,
					sizeof(secret), blob, sizeof(blob), &len), 0);
	/* Another host's key, with its own or with the intended public key. */
	dh = (struct counting_dh){ .sk = other };
	assert_int_equal(open_blob(blob, len, &dh, other_pk, info, sizeof(info), aad, sizeof(aad),
				   pt, &pt_len), -EBADMSG);
	assert_int_equal(open_blob(blob, len, &dh, host_pk, info, sizeof(info), aad, sizeof(aad),
				   pt, &pt_len), -EBADMSG);
	/* The right private key but a different pkR in the KEM context. */
	dh = (struct counting_dh){ .sk = host_key };
	assert_int_equal(open_blob(blob, len, &dh, other_pk, info, sizeof(info), aad, sizeof(aad),
				   pt, &pt_len), -EBADMSG);
	/* A DH failure (TPM policy refused) comes back unchanged. */
	dh = (struct counting_dh){ .sk = host_key, .fail = -EACCES };
	assert_int_equal(open_blob(blob, len, &dh, host_pk, info, sizeof(info), aad, sizeof(aad),
				   pt, &pt_len), -EACCES);
	EVP_PKEY_free(other);
}

static void test_invalid_points(void **state)
{
	uint8_t blob[64 + HPKE_SEALED_OVERHEAD], bad[sizeof(blob)], pt[64], enc[HPKE_ENC_LEN];
	struct counting_dh dh = { .sk = host_key };
	struct hpke_ctx *c;
	size_t len, pt_len;

	assert_int_equal(hpke_seal_blob(host_pk, info, sizeof(info), aad, sizeof(aad), secret,
					sizeof(secret), blob, sizeof(blob), &len), 0);
	/* compressed / hybrid / infinity prefixes */
	const uint8_t prefixes[] = { 0x00, 0x02, 0x03, 0x06, 0x07 };
	for (size_t i = 0; i < sizeof(prefixes); i++) {
		memcpy(bad, blob, len);
		bad[0] = prefixes[i];
		assert_int_equal(open_blob(bad, len, &dh, host_pk, info, sizeof(info), aad,
					   sizeof(aad), pt, &pt_len), -EINVAL);
	}
	/* off the curve: y + 1 */
	memcpy(bad, blob, len);
	bad[HPKE_ENC_LEN - 1] ^= 1;
	assert_int_equal(open_blob(bad, len, &dh, host_pk, info, sizeof(info), aad, sizeof(aad), pt,
				   &pt_len), -EINVAL);
	/* all-zero coordinates, and x = y = p (coordinates out of range) */
	memset(bad, 0, HPKE_ENC_LEN);
	bad[0] = 0x04;
	assert_int_equal(open_blob(bad, len, &dh, host_pk, info, sizeof(info), aad, sizeof(aad), pt,
				   &pt_len), -EINVAL);
	static const uint8_t p256_p[32] = {
		0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	memcpy(bad + 1, p256_p, 32);
	memcpy(bad + 33, p256_p, 32);
	assert_int_equal(open_blob(bad, len, &dh, host_pk, info, sizeof(info), aad, sizeof(aad), pt,
				   &pt_len), -EINVAL);
	/* The TPM never saw any of them. */
	assert_int_equal(dh.calls, 0);
	/* An invalid recipient key is refused on both sides. */
	memcpy(bad, host_pk, HPKE_PK_LEN);
	bad[40] ^= 0x10;
	assert_int_equal(hpke_setup_base_s(HPKE_AEAD_AES256GCM, bad, NULL, 0, enc, &c), -EINVAL);
	assert_int_equal(open_blob(blob, len, &dh, bad, info, sizeof(info), aad, sizeof(aad), pt,
				   &pt_len), -EINVAL);
	assert_int_equal(dh.calls, 0);
}

static void test_sequence_and_export(void **state)
{
	uint8_t enc[HPKE_ENC_LEN], ct1[16 + HPKE_TAG_LEN], ct2[sizeof(ct1)], pt[16], e1[32], e2[32];
	uint8_t big[255 * 32];
	struct hpke_ctx *s, *r;

	assert_int_equal(hpke_setup_base_s(HPKE_AEAD_AES256GCM, host_pk, info, sizeof(info), enc, &s), 0);
	assert_int_equal(hpke_setup_base_r(HPKE_AEAD_AES256GCM, enc, host_pk, hpke_dh_pkey, host_key,
					   info, sizeof(info), &r), 0);
	assert_int_equal(hpke_seal(s, NULL, 0, secret, 16, ct1), 0);
	assert_int_equal(hpke_seal(s, NULL, 0, secret, 16, ct2), 0);
	/* Same plaintext, next nonce: different ciphertext. */
	assert_memory_not_equal(ct1, ct2, sizeof(ct1));
	/* Out of order: the receiver is at sequence 0, ct2 used 1. */
	assert_int_equal(hpke_open(r, NULL, 0, ct2, sizeof(ct2), pt), -EBADMSG);
	assert_int_equal(hpke_open(r, NULL, 0, ct1, sizeof(ct1), pt), 0);
	assert_int_equal(hpke_open(r, NULL, 0, ct1, sizeof(ct1), pt), -EBADMSG); /* replay */
	assert_int_equal(hpke_open(r, NULL, 0, ct2, sizeof(ct2), pt), 0);
	assert_int_equal(hpke_open(r, NULL, 0, ct2, HPKE_TAG_LEN - 1, pt), -EBADMSG);

	assert_int_equal(hpke_export(s, (const uint8_t *)"ctx", 3, e1, 32), 0);
	assert_int_equal(hpke_export(r, (const uint8_t *)"ctx", 3, e2, 32), 0);
	assert_memory_equal(e1, e2, 32);
	assert_int_equal(hpke_export(r, (const uint8_t *)"ctY", 3, e2, 32), 0);
	assert_memory_not_equal(e1, e2, 32);
	assert_int_equal(hpke_export(s, NULL, 0, big, sizeof(big)), 0);
	assert_int_equal(hpke_export(s, NULL, 0, big, 255 * 32 + 1), -EINVAL);
	assert_int_equal(hpke_export(s, NULL, 0, big, 0), -EINVAL);
	hpke_ctx_free(s);
	hpke_ctx_free(r);
}

static void test_derive_keypair_args(void **state)
{
	uint8_t ikm[64] = { 1 };
	EVP_PKEY *a, *b;
	uint8_t pa[HPKE_PK_LEN], pb[HPKE_PK_LEN];

	assert_int_equal(hpke_derive_keypair(ikm, 31, &a), -EINVAL);
	assert_null(a);
	assert_int_equal(hpke_derive_keypair(ikm, 64, &a), 0);
	assert_int_equal(hpke_derive_keypair(ikm, 64, &b), 0);
	assert_int_equal(hpke_public_key(a, pa), 0);
	assert_int_equal(hpke_public_key(b, pb), 0);
	assert_memory_equal(pa, pb, HPKE_PK_LEN); /* deterministic */
	EVP_PKEY_free(b);
	ikm[63] ^= 1;
	assert_int_equal(hpke_derive_keypair(ikm, 64, &b), 0);
	assert_int_equal(hpke_public_key(b, pb), 0);
	assert_memory_not_equal(pa, pb, HPKE_PK_LEN);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	/* Not a P-256 key: refused. */
	a = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(a);
	assert_int_equal(hpke_public_key(a, pa), -EINVAL);
	EVP_PKEY_free(a);
}

/* Cross-implementation vector for ward's own suite (aead_id 2): a sealed
 * blob produced by pyca/cryptography 48.0.0 (an independent HPKE, Rust over
 * OpenSSL) with hpke.Suite(KEM.P256, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
 * .encrypt(bytes(range(64)), pkR, info=b"ward volume key v1"), pkR being
 * the A.3.1 recipient key. Its output is enc || ct || tag, the same layout
 * as hpke_seal_blob. ward must open it. (The reverse direction — python
 * opening a ward blob — was checked when this vector was made.) */
static const char pyca_blob[] =
	"04b6597aaead8bc367005ace055960bbe2cac34bd0b039339058dcd13ee67022"
	"dfd2588228a1a04fc642181576df037a6f7c48dc648816b32e380493541f2791"
	"0192f5270d7aaffe23d74b57f2af8b8cbb1605373bf02a8bd0d8789d09bd0298"
	"94d8e75ee98de00e38fa5699e51f0f81e856af6a6abb6ce909b1a381e393467d"
	"a411d992e4b5f867acd97f1c4c750f82d9";

static void test_pyca_aes256_blob(void **state)
{
	uint8_t blob[160], ikmR[32], pkR[HPKE_PK_LEN], pt[64], want[64];
	struct counting_dh dh = { 0 };
	size_t len, pt_len;
	EVP_PKEY *skR;

	len = unhex(pyca_blob, blob, sizeof(blob));
	assert_int_equal(len, 64 + HPKE_SEALED_OVERHEAD);
	unhex(rfc9180_a31.ikmR, ikmR, sizeof(ikmR));
	assert_int_equal(hpke_derive_keypair(ikmR, sizeof(ikmR), &skR), 0);
	assert_int_equal(hpke_public_key(skR, pkR), 0);
	for (int i = 0; i < 64; i++)
		want[i] = (uint8_t)i;
	dh.sk = skR;
	assert_int_equal(hpke_open_with_dh(blob, len, pkR, counting_dh, &dh,
					   (const uint8_t *)"ward volume key v1", 18, NULL, 0,
					   pt, sizeof(pt), &pt_len), 0);
	assert_int_equal(pt_len, 64);
	assert_memory_equal(pt, want, 64);
	/* and only with the info it was sealed under */
	assert_int_equal(hpke_open_with_dh(blob, len, pkR, counting_dh, &dh,
					   (const uint8_t *)"ward volume key v2", 18, NULL, 0,
					   pt, sizeof(pt), &pt_len), -EBADMSG);
	EVP_PKEY_free(skR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc9180_a31),
		cmocka_unit_test(test_aes256_suite_differs),
		cmocka_unit_test(test_blob_round_trip),
		cmocka_unit_test(test_blob_tampering),
		cmocka_unit_test(test_wrong_recipient),
		cmocka_unit_test(test_invalid_points),
		cmocka_unit_test(test_sequence_and_export),
		cmocka_unit_test(test_derive_keypair_args),
		cmocka_unit_test(test_pyca_aes256_blob),
	};

	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
