/* test_tpm: src/lib/tpm against a private swtpm (tests/tpm/swtpm-env.sh),
 * checked independently with software crypto (OpenSSL) and tpm2-tools.
 * argv[1] picks the group: pcr, seal, keys, nv. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "tpm.h"
#include "tpm_eventlog.h"
#include "tpm_test.h"

static EVP_PKEY *ephemeral_p256(uint8_t point[65]);

static uint8_t D1[32] = { 0x01, 0x02, 0x03 };
static uint8_t D2[32] = { 0xaa, 0xbb };

static void extend_both(struct tpm *t, unsigned pcr, const uint8_t d[32])
{
	assert_int_equal(tpm_pcr_extend(t, pcr, d), 0);
}

/* ---------------------------------------------------------------- pcr */

static void test_extend_matches_software_and_tpm2_pcrread(void **state)
{
	uint8_t before[24][32], after[24][32], tools[24][32];
	char out[8192];
	struct tpm *t = tt_open();

	assert_non_null(t);
	assert_int_equal(tpm_pcr_read(t, TPM_PCR_BIT(16), before), 0);
	extend_both(t, 16, D1);
	tt_extend(before[16], D1);
	assert_int_equal(tpm_pcr_read(t, TPM_PCR_BIT(16), after), 0);
	assert_memory_equal(after[16], before[16], 32);
	/* swtpm serves one connection at a time: let tpm2-tools in. */
	tpm_close(t);

	assert_int_equal(tt_run(out, sizeof(out), "tpm2_pcrread sha256:16"), 0);
	assert_int_equal(tt_parse_pcrread(out, tools), TPM_PCR_BIT(16));
	assert_memory_equal(tools[16], before[16], 32);
}

static void test_read_all_pcrs_matches_tpm2_pcrread(void **state)
{
	uint8_t mine[24][32], tools[24][32];
	char out[16384];
	struct tpm *t = tt_open();

	assert_non_null(t);
	/* More than 8 PCRs: needs several PCR_Read round trips. */
	assert_int_equal(tpm_pcr_read(t, TPM_PCR_ALL, mine), 0);
	tpm_close(t);
	assert_int_equal(tt_run(out, sizeof(out), "tpm2_pcrread sha256"), 0);
	assert_int_equal(tt_parse_pcrread(out, tools), TPM_PCR_ALL);
	for (int i = 0; i < 24; i++)
		assert_memory_equal(mine[i], tools[i], 32);
}

static void test_bad_pcr_arguments(void **state)
{
	uint8_t v[24][32];
	struct tpm *t = tt_open();

	assert_non_null(t);
	assert_int_equal(tpm_pcr_extend(t, 24, D1), -EINVAL);
	assert_int_equal(tpm_pcr_read(t, 0, v), -EINVAL);
	assert_int_equal(tpm_pcr_read(t, 1u << 24, v), -EINVAL);
	tpm_close(t);
}

static void test_open_bad_tcti_fails_cleanly(void **state)
{
	char err[256] = "";
	struct tpm *t = (struct tpm *)1;

	assert_true(tpm_open("swtpm:host=127.0.0.1,port=1", &t, err,
			     sizeof(err)) < 0);
	assert_null(t);
	assert_non_null(strstr(err, "swtpm:host=127.0.0.1,port=1"));
}

/* Measured boot: log + extend of the ward PCRs; replaying the log predicts the
 * PCRs, and tpm2_eventlog (an independent parser) agrees. */
static void test_eventlog_replay_equals_pcrs(void **state)
{
	const char *log = tt_path("eventlog.bin");
	uint8_t img[32], pcrs[24][32], tools[24][32];
	struct tpm_replay r;
	char err[256], out[16384], *tail;
	struct tpm *t = tt_open();

	assert_non_null(t);
	assert_int_equal(tpm_eventlog_create(log), 0);
	tt_sha256("ward-controller", 15, img);
	assert_int_equal(tpm_measure(t, log, TPM_PCR_BOOT, TPM_EV_IPL, img,
				     "ward-controller", 15), 0);
	tt_sha256("ward-hv", 7, img);
	assert_int_equal(tpm_measure(t, log, TPM_PCR_COMPONENTS, TPM_EV_IPL,
				     img, "ward-hv", 7), 0);
	tt_sha256("ward-blk", 8, img);
	assert_int_equal(tpm_measure(t, log, TPM_PCR_COMPONENTS, TPM_EV_IPL,
				     img, "ward-blk", 8), 0);
	assert_int_equal(tpm_measure(t, log, TPM_PCR_CONFIG, TPM_EV_EVENT_TAG,
				     D2, NULL, 0), 0);
	assert_int_equal(tpm_eventlog_replay_file(log, &r, err, sizeof(err)),
			 0);
	assert_int_equal(r.events, 4);
	assert_int_equal(r.mask, TPM_BOOT_PCRS);
	assert_int_equal(tpm_pcr_read(t, TPM_BOOT_PCRS, pcrs), 0);
	for (int i = 0; i < 24; i++)
		if (TPM_BOOT_PCRS & TPM_PCR_BIT(i))
			assert_memory_equal(r.pcr[i], pcrs[i], 32);
	tpm_close(t);

	assert_int_equal(tt_run(out, sizeof(out), "tpm2_eventlog %s", log), 0);
	tail = strstr(out, "pcrs:");
	assert_non_null(tail);
	assert_int_equal(tt_parse_pcrread(tail, tools), TPM_BOOT_PCRS);
	for (int i = 0; i < 24; i++)
		if (TPM_BOOT_PCRS & TPM_PCR_BIT(i))
			assert_memory_equal(tools[i], pcrs[i], 32);
}

/* ---------------------------------------------------------------- seal */

static void test_seal_unseal_round_trip(void **state)
{
	static const char secret[] = "volume-store-key-0123456789abcdef";
	uint8_t *blob = NULL, out[TPM_SEAL_MAX];
	size_t blen = 0, olen = 0;
	struct tpm *t = tt_open();

	assert_non_null(t);
	assert_int_equal(tpm_seal(t, TPM_BOOT_PCRS | TPM_PCR_BIT(23), NULL,
				  secret, sizeof(secret), &blob, &blen), 0);
	assert_int_equal(tpm_unseal(t, blob, blen, out, sizeof(out), &olen), 0);
	assert_int_equal(olen, sizeof(secret));
	assert_memory_equal(out, secret, sizeof(secret));
	/* The blob is plain bytes: it works from a fresh connection too. */
	tpm_close(t);
	t = tt_open();
	assert_non_null(t);
	memset(out, 0, sizeof(out));
	assert_int_equal(tpm_unseal(t, blob, blen, out, sizeof(out), &olen), 0);
	assert_memory_equal(out, secret, sizeof(secret));
	/* Too small an output buffer is an error, not a truncation. */
	assert_int_equal(tpm_unseal(t, blob, blen, out, 4, &olen), -ENOSPC);
	OPENSSL_cleanse(out, sizeof(out));
	free(blob);
	tpm_close(t);
}

static void test_unseal_refused_after_extend(void **state)
{
	uint8_t *blob = NULL, out[TPM_SEAL_MAX];
	size_t blen = 0, olen = 0;
	struct tpm *t = tt_open();

	assert_non_null(t);
	assert_int_equal(tpm_seal(t, TPM_PCR_BIT(16) | TPM_PCR_BIT(8), NULL,
				  "k", 1, &blob, &blen), 0);
	extend_both(t, 16, D2);
	assert_int_equal(tpm_unseal(t, blob, blen, out, sizeof(out), &olen),
			 -EACCES);
	assert_non_null(strstr(tpm_error(t), "PCR policy not satisfied"));
	free(blob);
	tpm_close(t);
}

/* Sealing to predicted values: refused now, opens once the PCR reaches
 * the predicted state (what the firmware store does before an update). */
static void test_seal_to_expected_values(void **state)
{
	uint8_t pcrs[24][32], *blob = NULL, out[16];
	size_t blen = 0, olen = 0;
	struct tpm *t = tt_open();

	assert_non_null(t);
	assert_int_equal(tpm_pcr_read(t, TPM_PCR_BIT(23), pcrs), 0);
	tt_extend(pcrs[23], D1);
	assert_int_equal(tpm_seal(t, TPM_PCR_BIT(23),
				  (const uint8_t (*)[32])pcrs, "future", 6,
				  &blob, &blen), 0);
	assert_int_equal(tpm_unseal(t, blob, blen, out, sizeof(out), &olen),
			 -EACCES);
	extend_both(t, 23, D1);
	assert_int_equal(tpm_unseal(t, blob, blen, out, sizeof(out), &olen), 0);
	assert_memory_equal(out, "future", 6);
	free(blob);
	tpm_close(t);
}

/* The software PolicyPCR digest equals tpm2_createpolicy's (trial session
 * on the TPM). */
static void test_policy_digest_matches_tpm2_createpolicy(void **state)
{
	uint8_t pcrs[24][32], mine[32], theirs[32];
	char hex[65], out[256];
	struct tpm *t = tt_open();
	FILE *f;

	assert_non_null(t);
	assert_int_equal(tpm_pcr_read(t, TPM_PCR_BIT(8) | TPM_PCR_BIT(16),
				      pcrs), 0);
	assert_int_equal(tpm_policy_pcr_digest(TPM_PCR_BIT(8) | TPM_PCR_BIT(16),
					       (const uint8_t (*)[32])pcrs,
					       mine), 0);
	tpm_close(t);
	assert_int_equal(tt_run(out, sizeof(out),
				"tpm2_createpolicy --policy-pcr -l sha256:8,16 -L %s",
				tt_path("policy.bin")), 0);
	f = fopen(tt_path("policy.bin"), "rb");
	assert_non_null(f);
	assert_int_equal(fread(theirs, 1, 32, f), 32);
	fclose(f);
	tt_hex(mine, 32, hex);
	assert_memory_equal(mine, theirs, 32);
}

static int file_contains(const char *path, const void *needle, size_t n)
{
	static uint8_t buf[1 << 20];
	FILE *f = fopen(path, "rb");
	size_t len;

	assert_non_null(f);
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_true(len > 0);
	return memmem(buf, len, needle, n) != NULL;
}

/* Sealed data and ECDH output cross the TPM bus encrypted (salted sessions):
 * record the traffic with the pcap TCTI and look for the secrets in it. */
static void test_secrets_encrypted_on_the_bus(void **state)
{
	static const char secret[] = "SECRET-MARKER-7f3a9c1e55d2";
	const char *pcap = tt_path("bus.pcap");
	uint8_t *blob = NULL, *hk = NULL, out[TPM_SEAL_MAX], pub[65], z[32];
	size_t blen = 0, hlen = 0, olen = 0;
	char tcti[512], err[256];
	struct tpm *t = NULL;
	EVP_PKEY *eph;

	setenv("TCTI_PCAP_FILE", pcap, 1);
	snprintf(tcti, sizeof(tcti), "pcap:%s", getenv("WARD_TPM_TCTI"));
	if (tpm_open(tcti, &t, err, sizeof(err))) {
		unsetenv("TCTI_PCAP_FILE");
		skip();		/* libtss2-tcti-pcap not installed */
	}
	assert_int_equal(tpm_seal(t, TPM_PCR_BIT(8), NULL, secret,
				  sizeof(secret), &blob, &blen), 0);
	assert_int_equal(tpm_unseal(t, blob, blen, out, sizeof(out), &olen), 0);
	assert_memory_equal(out, secret, sizeof(secret));
	assert_int_equal(tpm_hostkey_create(t, TPM_PCR_BIT(8), NULL, &hk, &hlen,
					    pub), 0);
	eph = ephemeral_p256(out);
	assert_int_equal(tpm_ecdh_zgen(t, hk, hlen, out, z), 0);
	tpm_close(t);
	unsetenv("TCTI_PCAP_FILE");

	/* The capture works (it holds the public point) ... */
	assert_true(file_contains(pcap, pub + 1, 32));
	/* ... but neither the secret nor the shared X coordinate. */
	assert_false(file_contains(pcap, secret, sizeof(secret) - 1));
	assert_false(file_contains(pcap, z, 32));
	EVP_PKEY_free(eph);
	free(blob);
	free(hk);
}

static void test_hostile_blobs_rejected(void **state)
{
	uint8_t *blob = NULL, *hk = NULL, *bad, out[TPM_SEAL_MAX];
	uint8_t pub[65];
	size_t blen = 0, hlen = 0, olen;
	struct tpm *t = tt_open();

	assert_non_null(t);
	assert_int_equal(tpm_seal(t, TPM_PCR_BIT(8), NULL, "abc", 3, &blob,
				  &blen), 0);
	/* Every truncation is refused before anything reaches the TPM. */
	for (size_t n = 0; n < blen; n++) {
		bad = malloc(n ? n : 1);
		memcpy(bad, blob, n);
		assert_int_equal(tpm_unseal(t, bad, n, out, sizeof(out),
					    &olen), -EINVAL);
		free(bad);
	}
	/* Trailing garbage. */
	bad = malloc(blen + 1);
	memcpy(bad, blob, blen);
	bad[blen] = 0;
	assert_int_equal(tpm_unseal(t, bad, blen + 1, out, sizeof(out), &olen),
			 -EINVAL);
	/* A flipped bit in the encrypted private part: the TPM's integrity
	 * check refuses it. */
	memcpy(bad, blob, blen);
	bad[blen - 5] ^= 0x40;
	assert_int_equal(tpm_unseal(t, bad, blen, out, sizeof(out), &olen),
			 -EINVAL);
	free(bad);
	/* NULL/empty, wrong kind, and a sealed blob used as a key. */
	assert_int_equal(tpm_unseal(t, NULL, 0, out, sizeof(out), &olen),
			 -EINVAL);
	assert_int_equal(tpm_hostkey_create(t, TPM_PCR_BIT(8), NULL, &hk,
					    &hlen, pub), 0);
	assert_int_equal(tpm_unseal(t, hk, hlen, out, sizeof(out), &olen),
			 -EINVAL);
	assert_int_equal(tpm_ecdh_zgen(t, blob, blen, pub, out), -EINVAL);
	assert_int_equal(tpm_blob_pubkey(blob, blen, NULL, NULL), -EINVAL);
	/* Bad arguments. */
	assert_int_equal(tpm_seal(t, 0, NULL, "a", 1, &bad, &olen), -EINVAL);
	assert_int_equal(tpm_seal(t, TPM_PCR_BIT(8), NULL, out,
				  TPM_SEAL_MAX + 1, &bad, &olen), -EINVAL);
	free(hk);
	free(blob);
	tpm_close(t);
}

/* ---------------------------------------------------------------- keys */

static EVP_PKEY *ephemeral_p256(uint8_t point[65])
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	size_t n = 0;

	assert_non_null(k);
	assert_int_equal(EVP_PKEY_get_octet_string_param(
				 k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
				 65, &n), 1);
	assert_int_equal(n, 65);
	return k;
}

static EVP_PKEY *pkey_from_point(const uint8_t point[65])
{
	uint8_t spki[91];
	/* DER SubjectPublicKeyInfo prefix of a P-256 key. */
	static const uint8_t prefix[26] = {
		0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce,
		0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
		0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
	};
	const uint8_t *p = spki;

	memcpy(spki, prefix, 26);
	memcpy(spki + 26, point, 65);
	return d2i_PUBKEY(NULL, &p, sizeof(spki));
}

static void test_hostkey_ecdh_matches_openssl(void **state)
{
	uint8_t *blob = NULL, pub[65], peer[65], z[32], zsw[32], spki[91];
	uint8_t pt2[65];
	size_t blen = 0, zlen = sizeof(zsw);
	EVP_PKEY *eph, *host;
	EVP_PKEY_CTX *ctx;
	struct tpm *t = tt_open();

	assert_non_null(t);
	assert_int_equal(tpm_hostkey_create(t, TPM_PCR_BIT(16) | TPM_BOOT_PCRS,
					    NULL, &blob, &blen, pub), 0);
	assert_int_equal(pub[0], 0x04);
	assert_int_equal(tpm_blob_pubkey(blob, blen, spki, pt2), 0);
	assert_memory_equal(pt2, pub, 65);

	/* The sender's side of DHKEM: ephemeral key, ECDH with host pub. */
	eph = ephemeral_p256(peer);
	host = pkey_from_point(pub);
	assert_non_null(host);
	ctx = EVP_PKEY_CTX_new(eph, NULL);
	assert_int_equal(EVP_PKEY_derive_init(ctx), 1);
	assert_int_equal(EVP_PKEY_derive_set_peer(ctx, host), 1);
	assert_int_equal(EVP_PKEY_derive(ctx, zsw, &zlen), 1);
	assert_int_equal(zlen, 32);

	assert_int_equal(tpm_ecdh_zgen(t, blob, blen, peer, z), 0);
	assert_memory_equal(z, zsw, 32);

	/* A point not on the curve is refused, not computed with. */
	peer[64] ^= 1;
	assert_int_equal(tpm_ecdh_zgen(t, blob, blen, peer, z), -EINVAL);
	peer[64] ^= 1;

	/* Once a policy PCR moves, the host key is unusable. */
	extend_both(t, 16, D1);
	assert_int_equal(tpm_ecdh_zgen(t, blob, blen, peer, z), -EACCES);
	assert_non_null(strstr(tpm_error(t), "PCR policy not satisfied"));

	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(eph);
	EVP_PKEY_free(host);
	free(blob);
	tpm_close(t);
}

static int verify_der(const uint8_t spki[91], const uint8_t d[32],
		      const uint8_t *sig, size_t sig_len)
{
	const uint8_t *p = spki;
	EVP_PKEY *k = d2i_PUBKEY(NULL, &p, 91);
	EVP_PKEY_CTX *ctx;
	int ok;

	assert_non_null(k);
	ctx = EVP_PKEY_CTX_new(k, NULL);
	assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
	ok = EVP_PKEY_verify(ctx, sig, sig_len, d, 32);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(k);
	return ok;
}

static void test_sign_verifies_with_openssl(void **state)
{
	uint8_t *blob = NULL, spki[91], spki2[91], d[32], sig[TPM_SIG_MAX];
	size_t blen = 0, slen = 0;
	struct tpm *t = tt_open();

	assert_non_null(t);
	assert_int_equal(tpm_signkey_create(t, 0, 0, NULL, &blob, &blen, spki),
			 0);
	assert_int_equal(tpm_blob_pubkey(blob, blen, spki2, NULL), 0);
	assert_memory_equal(spki, spki2, 91);
	tt_sha256("checkpoint body", 15, d);
	assert_int_equal(tpm_sign(t, blob, blen, d, sig, &slen), 0);
	assert_int_equal(verify_der(spki, d, sig, slen), 1);
	d[0] ^= 1;
	assert_int_not_equal(verify_der(spki, d, sig, slen), 1);
	/* PCR-independent: still signs after a PCR changes. */
	extend_both(t, 16, D2);
	assert_int_equal(tpm_sign(t, blob, blen, d, sig, &slen), 0);
	assert_int_equal(verify_der(spki, d, sig, slen), 1);
	free(blob);
	tpm_close(t);
}

static void test_pcr_bound_signkey_and_restricted_key(void **state)
{
	uint8_t *blob = NULL, spki[91], d[32] = { 7 }, sig[TPM_SIG_MAX];
	size_t blen = 0, slen = 0;
	struct tpm *t = tt_open();

	assert_non_null(t);
	assert_int_equal(tpm_signkey_create(t, 0, TPM_PCR_BIT(16), NULL, &blob,
					    &blen, spki), 0);
	assert_int_equal(tpm_sign(t, blob, blen, d, sig, &slen), 0);
	assert_int_equal(verify_der(spki, d, sig, slen), 1);
	extend_both(t, 16, D1);
	assert_int_equal(tpm_sign(t, blob, blen, d, sig, &slen), -EACCES);
	free(blob);

	assert_int_equal(tpm_signkey_create(t, TPM_SIGNKEY_RESTRICTED, 0, NULL,
					    &blob, &blen, spki), 0);
	assert_int_equal(tpm_sign(t, blob, blen, d, sig, &slen), -EPERM);
	assert_int_equal(tpm_signkey_create(t, 0x80, 0, NULL, &blob, &blen,
					    spki), -EINVAL);
	free(blob);
	tpm_close(t);
}

static void test_quote_passes_tpm2_checkquote(void **state)
{
	static const uint8_t nonce[20] = "fresh-verifier-nonce";
	const char *dir = tt_path("");
	uint8_t *blob = NULL, spki[91];
	size_t blen = 0;
	struct tpm_quote q;
	char list[64], hex[41], out[4096];
	uint32_t mask = TPM_BOOT_PCRS | TPM_PCR_BIT(16) | TPM_PCR_BIT(23);
	struct tpm *t = tt_open();
	FILE *f;

	assert_non_null(t);
	assert_int_equal(tpm_signkey_create(t, TPM_SIGNKEY_RESTRICTED, 0, NULL,
					    &blob, &blen, spki), 0);
	assert_int_equal(tpm_quote(t, blob, blen, mask, nonce, sizeof(nonce),
				   &q), 0);
	assert_memory_equal(q.spki, spki, 91);
	assert_int_equal(tpm_quote_write_files(&q, dir, list, sizeof(list)), 0);
	assert_string_equal(list, "sha256:12,13,15,16,23");
	tt_hex(nonce, sizeof(nonce), hex);
	tpm_close(t);

	if (tt_run(out, sizeof(out),
		   "cd %s && tpm2_checkquote -u ak.pem -m quote.msg -s quote.sig "
		   "-f quote.pcrs -l %s -q %s -g sha256 2>&1", dir, list, hex)) {
		fprintf(stderr, "tpm2_checkquote failed:\n%s\n", out);
		fail();
	}
	/* The check can fail: a wrong nonce or a changed PCR value is caught. */
	assert_int_not_equal(tt_run(NULL, 0,
		"cd %s && tpm2_checkquote -u ak.pem -m quote.msg -s quote.sig "
		"-f quote.pcrs -l %s -q 00112233 -g sha256 2>/dev/null",
		dir, list), 0);
	f = fopen(tt_path("quote.pcrs"), "r+b");
	assert_non_null(f);
	fputc('X', f);
	fclose(f);
	assert_int_not_equal(tt_run(NULL, 0,
		"cd %s && tpm2_checkquote -u ak.pem -m quote.msg -s quote.sig "
		"-f quote.pcrs -l %s -q %s -g sha256 2>/dev/null",
		dir, list, hex), 0);
	/* The DER form verifies with OpenSSL over SHA-256(attest). */
	{
		uint8_t d[32];

		tt_sha256(q.attest, q.attest_len, d);
		assert_int_equal(verify_der(spki, d, q.sig_der, q.sig_der_len),
				 1);
	}
	/* ... and with ward's own verifier, which refuses every change. */
	{
		const uint8_t (*pcrs)[32] = (const uint8_t (*)[32])q.pcrs;
		char err[128];

		assert_int_equal(tpm_quote_verify(spki, q.attest, q.attest_len,
						  q.sig_der, q.sig_der_len,
						  nonce, sizeof(nonce), mask,
						  pcrs, err, sizeof(err)), 0);
		assert_int_equal(tpm_quote_verify(spki, q.attest, q.attest_len,
						  q.sig_der, q.sig_der_len,
						  "other", 5, mask, pcrs, err,
						  sizeof(err)), -EBADMSG);
		assert_string_equal(err, "quote nonce differs");
		assert_int_equal(tpm_quote_verify(spki, q.attest, q.attest_len,
						  q.sig_der, q.sig_der_len,
						  nonce, sizeof(nonce),
						  mask & ~TPM_PCR_BIT(23), pcrs,
						  err, sizeof(err)), -EBADMSG);
		q.pcrs[13][5] ^= 1;
		assert_int_equal(tpm_quote_verify(spki, q.attest, q.attest_len,
						  q.sig_der, q.sig_der_len,
						  nonce, sizeof(nonce), mask,
						  pcrs, err, sizeof(err)), -EBADMSG);
		assert_string_equal(err, "PCR values differ from the quote");
		q.pcrs[13][5] ^= 1;
		q.attest[q.attest_len - 1] ^= 1;
		assert_int_equal(tpm_quote_verify(spki, q.attest, q.attest_len,
						  q.sig_der, q.sig_der_len,
						  nonce, sizeof(nonce), mask,
						  pcrs, err, sizeof(err)), -EBADMSG);
		assert_string_equal(err, "quote signature does not verify");
		for (size_t n = 0; n < q.attest_len; n++)
			assert_int_equal(tpm_quote_verify(spki, q.attest, n,
							  q.sig_der,
							  q.sig_der_len, nonce,
							  sizeof(nonce), mask,
							  pcrs, err,
							  sizeof(err)),
					 -EBADMSG);
	}
	tpm_quote_free(&q);
	free(blob);
}

/* ---------------------------------------------------------------- nv */

static void test_nvcounter_monotonic_and_persistent(void **state)
{
	const uint32_t idx = TPM_NV_FW_COUNTER;
	uint64_t v0 = 0, v1 = 0, v2 = 0, v3 = 0;
	struct tpm *t = tt_open();

	assert_non_null(t);
	assert_int_equal(tpm_nvcounter_read(t, idx, &v0), -ENOENT);
	assert_int_equal(tpm_nvcounter_define(t, idx), 0);
	assert_int_equal(tpm_nvcounter_define(t, idx), -EEXIST);
	assert_int_equal(tpm_nvcounter_read(t, idx, &v0), 0);
	assert_int_equal(tpm_nvcounter_increment(t, idx, &v1), 0);
	assert_true(v1 == v0 + 1);
	assert_int_equal(tpm_nvcounter_read(t, idx, &v2), 0);
	assert_true(v2 == v1);
	tpm_close(t);

	t = tt_open();
	assert_non_null(t);
	assert_int_equal(tpm_nvcounter_read(t, idx, &v3), 0);
	assert_true(v3 == v1);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(tpm_nvcounter_increment(t, idx, &v2), 0);
		assert_true(v2 == v3 + 1);
		v3 = v2;
	}
	assert_int_equal(tpm_nvcounter_define(t, 0x81000001), -EINVAL);
	tpm_close(t);
}

static void test_nvcounter_refuses_ordinary_index(void **state)
{
	uint64_t v;
	struct tpm *t;

	/* An attacker with owner auth defines a writable index where the
	 * counter should be: it must not be taken for a counter. */
	assert_int_equal(tt_run(NULL, 0,
				"tpm2_nvdefine 0x01800200 -C o -s 8 "
				"-a 'ownerread|ownerwrite|authread' >/dev/null 2>&1"),
			 0);
	t = tt_open();
	assert_non_null(t);
	assert_int_equal(tpm_nvcounter_read(t, 0x01800200, &v), -EINVAL);
	assert_int_equal(tpm_nvcounter_increment(t, 0x01800200, &v), -EINVAL);
	assert_int_equal(tpm_nvcounter_define(t, 0x01800200), -EEXIST);
	tpm_close(t);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest pcr[] = {
		cmocka_unit_test(test_extend_matches_software_and_tpm2_pcrread),
		cmocka_unit_test(test_read_all_pcrs_matches_tpm2_pcrread),
		cmocka_unit_test(test_bad_pcr_arguments),
		cmocka_unit_test(test_open_bad_tcti_fails_cleanly),
		cmocka_unit_test(test_eventlog_replay_equals_pcrs),
	};
	const struct CMUnitTest seal[] = {
		cmocka_unit_test(test_seal_unseal_round_trip),
		cmocka_unit_test(test_unseal_refused_after_extend),
		cmocka_unit_test(test_seal_to_expected_values),
		cmocka_unit_test(test_policy_digest_matches_tpm2_createpolicy),
		cmocka_unit_test(test_hostile_blobs_rejected),
		cmocka_unit_test(test_secrets_encrypted_on_the_bus),
	};
	const struct CMUnitTest keys[] = {
		cmocka_unit_test(test_hostkey_ecdh_matches_openssl),
		cmocka_unit_test(test_sign_verifies_with_openssl),
		cmocka_unit_test(test_pcr_bound_signkey_and_restricted_key),
		cmocka_unit_test(test_quote_passes_tpm2_checkquote),
	};
	const struct CMUnitTest nv[] = {
		cmocka_unit_test(test_nvcounter_monotonic_and_persistent),
		cmocka_unit_test(test_nvcounter_refuses_ordinary_index),
	};
	const char *g = argc > 1 ? argv[1] : "";

	if (!getenv("WARD_TPM_TCTI")) {
		printf("WARD_TPM_TCTI not set: run under tests/tpm/swtpm-env.sh\n");
		return 77;
	}
	if (!strcmp(g, "pcr"))
		return cmocka_run_group_tests_name("tpm-pcr", pcr, NULL, NULL);
	if (!strcmp(g, "seal"))
		return cmocka_run_group_tests_name("tpm-seal", seal, NULL, NULL);
	if (!strcmp(g, "keys"))
		return cmocka_run_group_tests_name("tpm-keys", keys, NULL, NULL);
	if (!strcmp(g, "nv"))
		return cmocka_run_group_tests_name("tpm-nv", nv, NULL, NULL);
	fprintf(stderr, "usage: test_tpm pcr|seal|keys|nv\n");
	return 2;
}
