/* tests/kms/test_recipient: the pieces of attestation-bound key release
 * that need no server — RecipientAttestation policy conditions (operators,
 * a missing key, IfExists, Null, unknown keys refused), the freshness
 * window's edges, the Recipient request forms, documents refused by
 * recipient_check, and the CMS answer opened with OpenSSL's CMS_decrypt
 * and walked the way aws-nitro-enclaves-sdk-c reads it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "policy.h"
#include "recipient.h"
#include "request.h"

#define ALICE "arn:aws:iam::111122223333:user/alice"
#define PCR0_KEY "kms:RecipientAttestation:PCR0"
#define H_LO "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
#define H_UP "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"

static json_t *cond_doc(const char *op, const char *key, const char *value_json)
{
	char text[1024];
	char err[256];
	json_t *d;

	snprintf(text, sizeof(text), "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\","
		 "\"Action\":\"kms:Decrypt\",\"Resource\":\"*\",\"Condition\":{\"%s\":{\"%s\":%s}}}}",
		 op, key, value_json);
	d = json_loads(text, 0, NULL);
	assert_non_null(d);
	if (policy_validate(d, POLICY_KEY, err, sizeof(err))) {
		json_decref(d);
		return NULL;
	}
	return d;
}

static enum policy_effect eval(json_t *d, const char *pcr0)
{
	struct policy_ctx_entry e[] = { { "kms:RecipientAttestation:PCR0", pcr0 },
					{ "kms:RecipientAttestation:ImageSha384", pcr0 } };
	struct policy_ctx ctx = { e, 2 };

	return policy_eval(d, POLICY_KEY, ALICE, "kms:Decrypt", "*", pcr0 ? &ctx : NULL);
}

static void test_condition_operators(void **state)
{
	static const struct {
		const char *op, *value;
		enum policy_effect with_lo, with_other, absent;
	} c[] = {
		{ "StringEquals", "\"" H_LO "\"", POLICY_ALLOW, POLICY_NONE, POLICY_NONE },
		{ "StringEquals", "\"" H_UP "\"", POLICY_NONE, POLICY_NONE, POLICY_NONE },
		{ "StringEqualsIgnoreCase", "\"" H_UP "\"", POLICY_ALLOW, POLICY_NONE, POLICY_NONE },
		{ "StringEqualsIgnoreCase", "[\"00\",\"" H_UP "\"]", POLICY_ALLOW, POLICY_ALLOW, POLICY_NONE },
		{ "StringLike", "\"abcdef*\"", POLICY_ALLOW, POLICY_NONE, POLICY_NONE },
		/* A missing key satisfies negated operators, as in AWS. */
		{ "StringNotEquals", "\"" H_LO "\"", POLICY_NONE, POLICY_ALLOW, POLICY_ALLOW },
		{ "StringNotEqualsIgnoreCase", "\"" H_UP "\"", POLICY_NONE, POLICY_ALLOW, POLICY_ALLOW },
		{ "StringNotLike", "\"abc*\"", POLICY_NONE, POLICY_ALLOW, POLICY_ALLOW },
		/* …IfExists: a request without a Recipient passes. */
		{ "StringEqualsIfExists", "\"" H_LO "\"", POLICY_ALLOW, POLICY_NONE, POLICY_ALLOW },
		{ "Null", "\"true\"", POLICY_NONE, POLICY_NONE, POLICY_ALLOW },
		{ "Null", "false", POLICY_ALLOW, POLICY_ALLOW, POLICY_NONE },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		json_t *d = cond_doc(c[i].op, PCR0_KEY, c[i].value);

		assert_non_null(d);
		assert_int_equal(eval(d, H_LO), c[i].with_lo);
		assert_int_equal(eval(d, "00"), c[i].with_other);
		assert_int_equal(eval(d, NULL), c[i].absent);
		json_decref(d);
	}
	/* Key names compare case-insensitively; ImageSha384 is a key too. */
	json_t *d = cond_doc("StringEquals", "KMS:recipientattestation:imagesha384", "\"" H_LO "\"");
	assert_non_null(d);
	assert_int_equal(eval(d, H_LO), POLICY_ALLOW);
	json_decref(d);
}

static void test_condition_grammar(void **state)
{
	static const char *const bad_keys[] = {
		"kms:RecipientAttestation:PCR32", "kms:RecipientAttestation:PCR01",
		"kms:RecipientAttestation:PCR", "kms:RecipientAttestation:PCR-1",
		"kms:EncryptionContext:x", "aws:SourceIp", "kms:RecipientAttestation:ImageSha256",
	};

	for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++)
		assert_null(cond_doc("StringEquals", bad_keys[i], "\"00\""));
	assert_null(cond_doc("NumericEquals", PCR0_KEY, "\"00\""));
	assert_null(cond_doc("NullIfExists", PCR0_KEY, "\"true\""));
	assert_null(cond_doc("StringEquals", PCR0_KEY, "[]"));
	assert_null(cond_doc("StringEquals", PCR0_KEY, "1"));
	assert_true(policy_condition_key_known("kms:RecipientAttestation:PCR31"));
	assert_true(policy_condition_key_known("kms:RecipientAttestation:PCR0"));
	assert_false(policy_condition_key_known("kms:RecipientAttestation:PCR00"));
}

static void test_freshness(void **state)
{
	double now = 1800000000.0;
	uint64_t ms = (uint64_t)now * 1000;

	assert_int_equal(recipient_fresh(ms, now), 0);
	assert_int_equal(recipient_fresh(ms - RECIPIENT_MAX_AGE_S * 1000, now), 0);
	assert_int_equal(recipient_fresh(ms - RECIPIENT_MAX_AGE_S * 1000 - 1, now), -ETIMEDOUT);
	assert_int_equal(recipient_fresh(ms + RECIPIENT_MAX_SKEW_S * 1000, now), 0);
	assert_int_equal(recipient_fresh(ms + RECIPIENT_MAX_SKEW_S * 1000 + 1, now), -ERANGE);
}

static int parse(enum kms_op op, const char *body, struct kms_request *r, char *err)
{
	return kms_request_parse(op, body, strlen(body), r, err, 256);
}

static void test_recipient_forms(void **state)
{
	struct kms_request r;
	char err[256];

	assert_int_equal(parse(OP_GENERATE_RANDOM, "{\"NumberOfBytes\":32,\"Recipient\":"
			       "{\"KeyEncryptionAlgorithm\":\"RSAES_OAEP_SHA_256\","
			       "\"AttestationDocument\":\"AAEC\"}}", &r, err), REQ_OK);
	assert_int_equal(r.attestation_doc_len, 3);
	assert_null(r.recipient_host);
	kms_request_free(&r);
	assert_int_equal(parse(OP_DECRYPT, "{\"CiphertextBlob\":\"AAEC\",\"Recipient\":"
			       "{\"KeyEncryptionAlgorithm\":\"HPKE_P256_SHA256_AES256GCM\","
			       "\"HostId\":\"host1\"}}", &r, err), REQ_OK);
	kms_request_free(&r);
	/* The algorithm must fit the form; exactly one of the two forms. */
	assert_int_equal(parse(OP_DECRYPT, "{\"CiphertextBlob\":\"AAEC\",\"Recipient\":"
			       "{\"KeyEncryptionAlgorithm\":\"HPKE_P256_SHA256_AES256GCM\","
			       "\"AttestationDocument\":\"AAEC\"}}", &r, err), REQ_UNSUPPORTED);
	assert_int_equal(parse(OP_DECRYPT, "{\"CiphertextBlob\":\"AAEC\",\"Recipient\":"
			       "{\"KeyEncryptionAlgorithm\":\"RSAES_OAEP_SHA_256\","
			       "\"AttestationDocument\":\"AAEC\",\"HostId\":\"h\"}}", &r, err),
			 REQ_VALIDATION);
	assert_int_equal(parse(OP_DECRYPT, "{\"CiphertextBlob\":\"AAEC\",\"Recipient\":"
			       "{\"AttestationDocument\":\"AAEC\"}}", &r, err), REQ_VALIDATION);
	assert_int_equal(parse(OP_GENERATE_RANDOM, "{}", &r, err), REQ_VALIDATION);
	assert_int_equal(parse(OP_GENERATE_RANDOM, "{\"NumberOfBytes\":1025}", &r, err),
			 REQ_VALIDATION);
	assert_int_equal(parse(OP_GENERATE_RANDOM, "{\"NumberOfBytes\":8,\"CustomKeyStoreId\":"
			       "\"cks-1\"}", &r, err), REQ_UNSUPPORTED);
	/* GenerateDataKeyWithoutPlaintext has nothing to seal. */
	assert_int_equal(parse(OP_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT, "{\"KeyId\":\"k\","
			       "\"NumberOfBytes\":8,\"Recipient\":{}}", &r, err), REQ_VALIDATION);
}

static void test_check_refusals(void **state)
{
	struct recipient_att a;
	uint8_t junk[64] = { 0x84 };
	char err[256];

	/* No root configured: refused with the reason, whatever the bytes. */
	assert_int_equal(recipient_check(NULL, junk, sizeof(junk), 0, &a, err, sizeof(err)),
			 -ENOKEY);
	assert_non_null(strstr(err, "--attestation-root"));
	assert_null(a.pub);
}

static void test_cms_round_trip(void **state)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);
	uint8_t pt[32], *der = NULL, got[64];
	const uint8_t *p;
	size_t len;
	CMS_ContentInfo *cms;
	BIO *out;
	long n;

	assert_non_null(k);
	assert_int_equal(RAND_bytes(pt, sizeof(pt)), 1);
	assert_int_equal(recipient_cms_seal(k, pt, sizeof(pt), &der, &len), 0);
	p = der;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	assert_non_null(cms);
	assert_ptr_equal(p, der + len);
	assert_int_equal(OBJ_obj2nid(CMS_get0_type(cms)), NID_pkcs7_enveloped);
	out = BIO_new(BIO_s_mem());
	assert_int_equal(CMS_decrypt(cms, k, NULL, NULL, out, CMS_BINARY), 1);
	n = BIO_read(out, got, sizeof(got));
	assert_int_equal(n, sizeof(pt));
	assert_memory_equal(got, pt, sizeof(pt));
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

/* ---- the answer as aws-nitro-enclaves-sdk-c reads it ----
 * The SDK's aws_cms_parse_enveloped_data (source/cms.c) does not decode
 * CMS: it steps through the bytes. It enters ContentInfo, its [0],
 * EnvelopedData and EncryptedContentInfo by their headers alone, which
 * works only when they are indefinite-length (as AWS KMS sends them); it
 * takes the version-2 KeyTransRecipientInfo's encrypted key, the IV after
 * the aes-256-cbc OID, and the content from a constructed [0] of OCTET
 * STRINGs. This walk follows the same steps, so the test fails for an
 * answer the SDK could not read. */
struct walk {
	const uint8_t *p;
	size_t n;
};

/* One TLV header (low tag numbers only, as CMS uses). */
static int tlv(const struct walk *w, uint8_t *tag, size_t *hlen, size_t *clen, int *indef)
{
	size_t i, nb;

	if (w->n < 2)
		return -1;
	*tag = w->p[0];
	*indef = w->p[1] == 0x80;
	*clen = 0;
	if (w->p[1] < 0x80) {
		*clen = w->p[1];
		*hlen = 2;
	} else if (*indef) {
		*hlen = 2;
	} else {
		nb = w->p[1] & 0x7f;
		if (nb > 4 || w->n < 2 + nb)
			return -1;
		for (i = 0; i < nb; i++)
			*clen = *clen << 8 | w->p[2 + i];
		*hlen = 2 + nb;
	}
	return *indef || *hlen + *clen <= w->n ? 0 : -1;
}

/* Step into an indefinite-length element by its header. */
static int enter(struct walk *w, uint8_t want)
{
	uint8_t tag;
	size_t h, c;
	int indef;

	if (tlv(w, &tag, &h, &c, &indef) || tag != want || !indef)
		return -1;
	w->p += h;
	w->n -= h;
	return 0;
}

/* Take a definite-length element's content. */
static int take(struct walk *w, uint8_t want, struct walk *content)
{
	uint8_t tag;
	size_t h, c;
	int indef;

	if (tlv(w, &tag, &h, &c, &indef) || tag != want || indef)
		return -1;
	content->p = w->p + h;
	content->n = c;
	w->p += h + c;
	w->n -= h + c;
	return 0;
}

static const uint8_t oid_enveloped[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03 };
static const uint8_t oid_data[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01 };
static const uint8_t oid_aes256cbc[] = { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a };

static void sdk_walk(const uint8_t *der, size_t len, struct walk *ekey, struct walk *iv,
		     uint8_t *ct, size_t *ct_len)
{
	struct walk w = { der, len }, x, set, ktri, y, alg;

	assert_int_equal(enter(&w, 0x30), 0);			/* ContentInfo */
	assert_int_equal(take(&w, 0x06, &x), 0);
	assert_int_equal(x.n, sizeof(oid_enveloped));
	assert_memory_equal(x.p, oid_enveloped, x.n);
	assert_int_equal(enter(&w, 0xa0), 0);			/* [0] */
	assert_int_equal(enter(&w, 0x30), 0);			/* EnvelopedData */
	assert_int_equal(take(&w, 0x02, &x), 0);
	assert_true(x.n == 1 && x.p[0] == 2);			/* version 2 */
	assert_int_equal(take(&w, 0x31, &set), 0);		/* recipientInfos */
	assert_int_equal(take(&set, 0x30, &ktri), 0);		/* the one KTRI */
	assert_int_equal(take(&ktri, 0x02, &x), 0);
	assert_true(x.n == 1 && x.p[0] == 2);			/* subjectKeyIdentifier */
	assert_int_equal(take(&ktri, 0x80, &x), 0);		/* rid */
	assert_int_equal(take(&ktri, 0x30, &x), 0);		/* keyEncryptionAlgorithm */
	assert_int_equal(take(&ktri, 0x04, ekey), 0);
	assert_int_equal(enter(&w, 0x30), 0);			/* EncryptedContentInfo */
	assert_int_equal(take(&w, 0x06, &x), 0);
	assert_memory_equal(x.p, oid_data, sizeof(oid_data));
	assert_int_equal(take(&w, 0x30, &alg), 0);
	assert_int_equal(take(&alg, 0x06, &x), 0);
	assert_int_equal(x.n, sizeof(oid_aes256cbc));
	assert_memory_equal(x.p, oid_aes256cbc, x.n);
	assert_int_equal(take(&alg, 0x04, iv), 0);
	assert_int_equal(enter(&w, 0xa0), 0);			/* [0] of OCTET STRINGs */
	*ct_len = 0;
	while (take(&w, 0x04, &y) == 0) {
		memcpy(ct + *ct_len, y.p, y.n);
		*ct_len += y.n;
	}
	assert_true(w.n >= 2 && w.p[0] == 0 && w.p[1] == 0);	/* end of contents */
}

static void test_cms_as_the_sdk_reads_it(void **state)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);
	EVP_PKEY_CTX *pc;
	EVP_CIPHER_CTX *cc;
	struct walk ekey, iv;
	uint8_t pt[48], *der = NULL, ct[256], cek[512], out[256];
	size_t len, ct_len, cek_len = sizeof(cek);
	int n1, n2;

	assert_non_null(k);
	assert_int_equal(RAND_bytes(pt, sizeof(pt)), 1);
	assert_int_equal(recipient_cms_seal(k, pt, sizeof(pt), &der, &len), 0);
	sdk_walk(der, len, &ekey, &iv, ct, &ct_len);
	/* What the SDK does next: RSA-OAEP-SHA256 for the key, AES-256-CBC. */
	pc = EVP_PKEY_CTX_new(k, NULL);
	assert_non_null(pc);
	assert_int_equal(EVP_PKEY_decrypt_init(pc), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(pc, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_decrypt(pc, cek, &cek_len, ekey.p, ekey.n), 1);
	assert_int_equal(cek_len, 32);
	assert_int_equal(iv.n, 16);
	cc = EVP_CIPHER_CTX_new();
	assert_int_equal(EVP_DecryptInit_ex(cc, EVP_aes_256_cbc(), NULL, cek, iv.p), 1);
	assert_int_equal(EVP_DecryptUpdate(cc, out, &n1, ct, (int)ct_len), 1);
	assert_int_equal(EVP_DecryptFinal_ex(cc, out + n1, &n2), 1);
	assert_int_equal(n1 + n2, sizeof(pt));
	assert_memory_equal(out, pt, sizeof(pt));
	EVP_CIPHER_CTX_free(cc);
	EVP_PKEY_CTX_free(pc);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_condition_operators),
		cmocka_unit_test(test_condition_grammar),
		cmocka_unit_test(test_freshness),
		cmocka_unit_test(test_recipient_forms),
		cmocka_unit_test(test_check_refusals),
		cmocka_unit_test(test_cms_round_trip),
		cmocka_unit_test(test_cms_as_the_sdk_reads_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
