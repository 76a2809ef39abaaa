/* test_checkpoint: C2SP checkpoints — real ECDSA-signed checkpoints of
 * public logs, the Go sumdb/note Ed25519 vector, sign/verify round trips
 * and a table of malformed notes the strict parser must refuse. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/x509.h>

#include "checkpoint.h"

static size_t b64d(const char *s, uint8_t *out)
{
	size_t n = strlen(s), pad = (n && s[n - 1] == '=') + (n > 1 && s[n - 2] == '=');
	int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);

	assert_true(r >= 0);
	return (size_t)r - pad;
}

/* transparency-dev/formats note/note_verifier_test.go: the Sigstore Rekor
 * and Pixel 6 transparency log keys (0x02 || DER SPKI, with their key
 * hashes) and checkpoints those logs signed with ECDSA P-256. */
static const char rekor_key[] =
	"AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNhtmPtrWm3U1eQXBogSMdGvXwBcK5AW5i0hrZLOC96l+smGNM7nwZ4QvFK/4sueRoVj//QP22Ni4Qt9DPfkWLc=";
static const char rekor_note[] =
	"Rekor\n798034\nf+7CoKgXKE/tNys9TTXcr/ad6U/K3xvznmzew9y6SP0=\n\n"
	"\xe2\x80\x94 rekor.sigstore.dev wNI9ajBEAiARInWIWyCdyG27CO6LPnPekyw20qO0YJfoaPaowGp/XgIgc+qEHS3+GKVClgqq20uDLet7MCoTURUCRdxwWBHHufk=\n";
static const char pixel_key[] =
	"AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABN+4x0Jk1yTwvLFI9A4NDdGZcX0aiWVdWM5XJVy0M4VWD3AvyW5Q6Hs9A0mcDkpUoYgn+KKPNzFC0H3nN3q6JQ8=";
static const char pixel_note[] =
	"DEFAULT\n10\nbsWRucJU5xJPHb5eBdOm6+DM+VelCZBuvtI3sHERJ9Y=\n\n"
	"\xe2\x80\x94 pixel6_transparency_log kcFuMDBFAiEAhqMAP8P6qf6QxtUJhzMhbN+MbZ9dwfUHzGQJmffJHtoCIGD0cNe47dHWBoPwYdgBCepB06/+g5O1FmYjXl06owL4\n";

static EVP_PKEY *spki_key(const char *material)
{
	uint8_t buf[256];
	const unsigned char *p = buf + 1;
	size_t n = b64d(material, buf);
	EVP_PKEY *k;

	assert_int_equal(buf[0], CHECKPOINT_ALG_ECDSA);
	k = d2i_PUBKEY(NULL, &p, (long)(n - 1));
	assert_non_null(k);
	return k;
}

static void test_ecdsa_public_checkpoints(void **state)
{
	EVP_PKEY *rekor = spki_key(rekor_key), *pixel = spki_key(pixel_key);
	struct checkpoint *cp;
	uint8_t alg, root[48];
	uint32_t id;
	char *bad;

	assert_int_equal(checkpoint_key_id("rekor.sigstore.dev", rekor, &alg, &id), 0);
	assert_int_equal(alg, CHECKPOINT_ALG_ECDSA);
	assert_int_equal(id, 0xc0d23d6a);
	assert_int_equal(checkpoint_key_id("pixel6_transparency_log", pixel, &alg, &id), 0);
	assert_int_equal(id, 0x91c16e30);

	assert_int_equal(checkpoint_verify(rekor_note, strlen(rekor_note), rekor,
					   "rekor.sigstore.dev", &cp), 0);
	assert_string_equal(cp->origin, "Rekor");
	assert_int_equal(cp->size, 798034);
	b64d("f+7CoKgXKE/tNys9TTXcr/ad6U/K3xvznmzew9y6SP0=", root);
	assert_memory_equal(cp->root, root, 32);
	assert_int_equal(cp->n_ext, 0);
	assert_int_equal(cp->n_sigs, 1);
	checkpoint_free(cp);
	assert_int_equal(checkpoint_verify(pixel_note, strlen(pixel_note), pixel,
					   "pixel6_transparency_log", NULL), 0);

	/* Same key, other name; other key, same name: not this signer. */
	assert_int_equal(checkpoint_verify(rekor_note, strlen(rekor_note), rekor,
					   "bananas.sigstore.dev", NULL), -ENOKEY);
	assert_int_equal(checkpoint_verify(rekor_note, strlen(rekor_note), pixel,
					   "rekor.sigstore.dev", NULL), -ENOKEY);
	/* A changed tree size under the real signature. */
	bad = strdup(rekor_note);
	bad[11] = '5';
	assert_int_equal(checkpoint_verify(bad, strlen(bad), rekor, "rekor.sigstore.dev", NULL), -EBADMSG);
	free(bad);
	/* The formats test's garbage signature. */
	static const char garbage[] =
		"Rekor\n798034\nf+7CoKgXKE/tNys9TTXcr/ad6U/K3xvznmzew9y6SP0=\n\n"
		"\xe2\x80\x94 rekor.sigstore.dev THIS/IS/PROBABLY/NOT/A/VALID/SIGNATURE/ANy/MOREowGp/XgIgc+qEHS3+GKVClgqq20uDLet7MCoTURUCRdxwWBHHufk=\n";
	assert_int_not_equal(checkpoint_verify(garbage, strlen(garbage), rekor, "rekor.sigstore.dev", NULL), 0);
	EVP_PKEY_free(rekor);
	EVP_PKEY_free(pixel);
}

/* golang.org/x/mod/sumdb/note note_test.go / package doc example: the
 * PeterNeumann key (seed and public key, each after a 0x01 type byte) and
 * its signature of the two-line text. Ed25519 is deterministic, so the
 * signer must reproduce it byte for byte. */
static void test_ed25519_go_vector(void **state)
{
	static const char text[] = "If you think cryptography is the answer to your problem,\n"
				   "then you don't know what your problem is.\n";
	uint8_t seed[48], pub[48], blob[96], sig[128], raw[32];
	size_t siglen = sizeof(sig), rawlen = sizeof(raw);
	EVP_PKEY *priv, *vk;
	uint8_t alg;
	uint32_t id;

	assert_int_equal(b64d("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", seed), 33);
	assert_int_equal(b64d("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", pub), 33);
	assert_int_equal(b64d("x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=", blob), 68);
	priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed + 1, 32);
	vk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub + 1, 32);
	assert_non_null(priv);
	assert_non_null(vk);
	assert_int_equal(EVP_PKEY_get_raw_public_key(priv, raw, &rawlen), 1);
	assert_memory_equal(raw, pub + 1, 32);

	assert_int_equal(checkpoint_key_id("PeterNeumann", vk, &alg, &id), 0);
	assert_int_equal(alg, CHECKPOINT_ALG_ED25519);
	assert_int_equal(id, 0xc74f20a3);
	assert_int_equal((uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 | blob[3],
			 0xc74f20a3);
	assert_int_equal(checkpoint_pkey_sign(priv, (const uint8_t *)text, strlen(text), sig, &siglen), 0);
	assert_int_equal(siglen, 64);
	assert_memory_equal(sig, blob + 4, 64);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(vk);
}

static EVP_PKEY *ed_key, *ec_key, *ec_other;
static const uint8_t root0[32] = { 0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
				   0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
				   0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55 };

static int setup_keys(void **state)
{
	ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ec_other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return ed_key && ec_key && ec_other ? 0 : -1;
}

static int teardown_keys(void **state)
{
	EVP_PKEY_free(ed_key);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(ec_other);
	return 0;
}

/* A TPM-shaped ECDSA signer: the "TPM" returns r and s, the callback turns
 * them into DER with checkpoint_ecdsa_der. */
static int tpm_like_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t *sig, size_t *siglen)
{
	uint8_t der[80], r[32], s[32];
	size_t dlen = sizeof(der);
	const unsigned char *p = der;
	const BIGNUM *br, *bs;
	ECDSA_SIG *es;
	int rc;

	rc = checkpoint_pkey_sign(ctx, msg, len, der, &dlen);
	if (rc)
		return rc;
	es = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
	if (!es)
		return -EIO;
	ECDSA_SIG_get0(es, &br, &bs);
	BN_bn2binpad(br, r, 32);
	BN_bn2binpad(bs, s, 32);
	ECDSA_SIG_free(es);
	return checkpoint_ecdsa_der(r, s, sig, siglen);
}

static void test_round_trip(void **state)
{
	const char *ext[] = { "extension one", "ext\xc3\xa9nsion two" };
	struct checkpoint_signer signers[3];
	struct checkpoint *cp;
	char *body, *note;
	size_t body_len, note_len;

	assert_int_equal(checkpoint_format("ward.example/host-17/audit", 18446744073709551615ull, root0,
					   ext, 2, &body, &body_len), 0);
	assert_string_equal(body, "ward.example/host-17/audit\n18446744073709551615\n"
				  "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
				  "extension one\next\xc3\xa9nsion two\n");
	assert_int_equal(checkpoint_signer_pkey(&signers[0], "ward.example/host-17/audit", ec_key), 0);
	signers[0].sign = tpm_like_sign;
	assert_int_equal(checkpoint_signer_pkey(&signers[1], "vendor.example/witness", ed_key), 0);
	assert_int_equal(checkpoint_signer_pkey(&signers[2], "other.example/log", ec_other), 0);
	assert_int_equal(checkpoint_sign(body, body_len, signers, 3, &note, &note_len), 0);
	assert_int_equal(strlen(note), note_len);

	assert_int_equal(checkpoint_verify(note, note_len, ec_key, "ward.example/host-17/audit", &cp), 0);
	assert_string_equal(cp->origin, "ward.example/host-17/audit");
	assert_true(cp->size == 18446744073709551615ull);
	assert_memory_equal(cp->root, root0, 32);
	assert_int_equal(cp->n_ext, 2);
	assert_string_equal(cp->ext[1], "ext\xc3\xa9nsion two");
	assert_int_equal(cp->n_sigs, 3);
	assert_int_equal(cp->body_len, body_len);
	assert_memory_equal(cp->body, body, body_len);
	checkpoint_free(cp);
	assert_int_equal(checkpoint_verify(note, note_len, ed_key, "vendor.example/witness", NULL), 0);
	assert_int_equal(checkpoint_verify(note, note_len, ec_other, "other.example/log", NULL), 0);
	/* a key that did not sign, and a signer's key under another name */
	assert_int_equal(checkpoint_verify(note, note_len, ec_other, "ward.example/host-17/audit", NULL),
			 -ENOKEY);
	assert_int_equal(checkpoint_verify(note, note_len, ed_key, "ward.example/host-17/audit", NULL),
			 -ENOKEY);

	/* Any changed byte of the signed text or of our signature line is
	 * refused (the other signers' lines are, correctly, ignored). */
	size_t end = (size_t)((char *)memchr(note + body_len + 1, '\n', note_len - body_len - 1) - note);
	for (size_t i = 0; i <= end; i++) {
		char *bad = malloc(note_len);
		int rc;

		memcpy(bad, note, note_len);
		bad[i] ^= 0x01;
		rc = checkpoint_verify(bad, note_len, ec_key, "ward.example/host-17/audit", NULL);
		assert_int_not_equal(rc, 0);
		free(bad);
	}
	free(note);
	free(body);

	/* The smallest checkpoint: an empty tree. */
	assert_int_equal(checkpoint_format("o", 0, root0, NULL, 0, &body, &body_len), 0);
	assert_int_equal(checkpoint_sign(body, body_len, &signers[1], 1, &note, &note_len), 0);
	assert_int_equal(checkpoint_verify(note, note_len, ed_key, "vendor.example/witness", &cp), 0);
	assert_int_equal(cp->size, 0);
	checkpoint_free(cp);
	free(note);
	free(body);
}

static void test_format_refuses(void **state)
{
	const char *nl[] = { "a\nb" }, *empty[] = { "" }, *ctl[] = { "a\tb" };
	struct checkpoint_signer s;
	char *body, *note;
	size_t len, nlen;

	assert_int_equal(checkpoint_format("", 1, root0, NULL, 0, &body, &len), -EINVAL);
	assert_int_equal(checkpoint_format("a\n0", 1, root0, NULL, 0, &body, &len), -EINVAL);
	assert_int_equal(checkpoint_format("a\r", 1, root0, NULL, 0, &body, &len), -EINVAL);
	assert_int_equal(checkpoint_format("\xff", 1, root0, NULL, 0, &body, &len), -EINVAL);
	assert_int_equal(checkpoint_format("o", 1, root0, nl, 1, &body, &len), -EINVAL);
	assert_int_equal(checkpoint_format("o", 1, root0, empty, 1, &body, &len), -EINVAL);
	assert_int_equal(checkpoint_format("o", 1, root0, ctl, 1, &body, &len), -EINVAL);

	assert_int_equal(checkpoint_format("o", 1, root0, NULL, 0, &body, &len), 0);
	assert_int_equal(checkpoint_signer_pkey(&s, "bad name", ed_key), -EINVAL);
	assert_int_equal(checkpoint_signer_pkey(&s, "bad+name", ed_key), -EINVAL);
	assert_int_equal(checkpoint_signer_pkey(&s, "", ed_key), -EINVAL);
	assert_int_equal(checkpoint_signer_pkey(&s, "name", ed_key), 0);
	/* Not a checkpoint body: refused before anything is signed. */
	assert_int_equal(checkpoint_sign("hello\n", 6, &s, 1, &note, &nlen), -EINVAL);
	assert_int_equal(checkpoint_sign(body, len - 1, &s, 1, &note, &nlen), -EINVAL);
	free(body);
}

/* Each of these must be refused by the parser (hostile input). */
static const char *const malformed[] = {
	"",
	"\n",
	"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",              /* no blank line */
	"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n",            /* no signature */
	"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k AAAAAAA=",  /* no final newline */
	"o\n01\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k AAAAAAA=\n", /* leading zero */
	"o\n-1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k AAAAAAA=\n",
	"o\n+1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k AAAAAAA=\n",
	"o\n 1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k AAAAAAA=\n",
	"o\n18446744073709551616\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k AAAAAAA=\n",
	"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\n\n\xe2\x80\x94 k AAAAAAA=\n", /* pad bits */
	"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF==\n\n\xe2\x80\x94 k AAAAAAA=\n", /* 31 bytes */
	"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n\n\xe2\x80\x94 k AAAAAAA=\n",  /* unpadded */
	"o\n1\n47DEQpj8HBSa-_TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k AAAAAAA=\n", /* base64url */
	"o\n1\n 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k AAAAAAA=\n",
	"\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k AAAAAAA=\n",   /* empty origin */
	"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\nx\n\n\xe2\x80\x94 k AAAAAAA=\n", /* empty ext */
	"o\n1\n\n\xe2\x80\x94 k AAAAAAA=\n",                                  /* two lines */
	"o\r\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k AAAAAAA=\n", /* CR */
	"o\t\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k AAAAAAA=\n",
	"o\xff\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k AAAAAAA=\n", /* not UTF-8 */
	"o\xc0\xaf\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k AAAAAAA=\n", /* overlong */
	"o\xed\xa0\x80\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k AAAAAAA=\n", /* surrogate */
	"o\xf4\x90\x80\x80\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k AAAAAAA=\n",
	"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n-- k AAAAAAA=\n",           /* no em dash */
	"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94k AAAAAAA=\n",
	"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94  k AAAAAAA=\n", /* empty name */
	"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k+1 AAAAAAA=\n", /* '+' */
	"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k\xc2\xa0x AAAAAAA=\n", /* NBSP */
	"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k  AAAAAAA=\n",
	"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k AAAAAAA= \n",
	"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k AAAAAA==\n",   /* 4 bytes: no sig */
	"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k\n",
	"o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k AAAAAAA=\nnot a signature\n",
};

static void test_parse_malformed(void **state)
{
	struct checkpoint *cp;

	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		int rc = checkpoint_parse(malformed[i], strlen(malformed[i]), &cp);

		if (rc != -EBADMSG)
			fail_msg("malformed[%zu] gave %d", i, rc);
		assert_null(cp);
	}
	/* An embedded NUL is a control character too. */
	static const char nul[] = "o\0\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\xe2\x80\x94 k AAAAAAA=\n";
	assert_int_equal(checkpoint_parse(nul, sizeof(nul) - 1, &cp), -EBADMSG);
	assert_int_equal(checkpoint_parse(NULL, 5, &cp), -EINVAL);
}

static void test_parse_limits(void **state)
{
	static const char head[] = "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\nx\n\n";
	static const char sig[] = "\xe2\x80\x94 k AAAAAAA=\n";
	char buf[CHECKPOINT_MAX_LEN + 64];
	struct checkpoint *cp;
	size_t len;

	/* 16 signatures (signed-note's floor) parse; a 17th is over our cap. */
	len = (size_t)sprintf(buf, "%s", head);
	for (int i = 0; i < 16; i++)
		len += (size_t)sprintf(buf + len, "%s", sig);
	assert_int_equal(checkpoint_parse(buf, len, &cp), 0);
	assert_int_equal(cp->n_sigs, 16);
	assert_string_equal(cp->sigs[15].name, "k");
	assert_int_equal(cp->sigs[15].key_id, 0);
	assert_int_equal(cp->sigs[15].sig_len, 1);
	assert_int_equal(cp->n_ext, 1);
	assert_string_equal(cp->ext[0], "x");
	checkpoint_free(cp);
	len += (size_t)sprintf(buf + len, "%s", sig);
	assert_int_equal(checkpoint_parse(buf, len, &cp), -E2BIG);

	/* Oversized notes are refused before they are looked at. */
	memset(buf, 'a', sizeof(buf));
	assert_int_equal(checkpoint_parse(buf, CHECKPOINT_MAX_LEN + 1, &cp), -E2BIG);

	/* The tree size is a full uint64. */
	static const char max[] = "o\n18446744073709551615\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n"
				  "\xe2\x80\x94 k AAAAAAA=\n";
	assert_int_equal(checkpoint_parse(max, strlen(max), &cp), 0);
	assert_true(cp->size == UINT64_MAX);
	checkpoint_free(cp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ecdsa_public_checkpoints),
		cmocka_unit_test(test_ed25519_go_vector),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_format_refuses),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_limits),
	};

	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
