/* recipient: attestation-bound key release for ward-kms. The document is
 * checked with the same verifier as `ward attestation verify` (lib/attest),
 * then the answer is built with OpenSSL's CMS: EnvelopedData, RSA-OAEP
 * key transport to the enclave's key, AES-256-CBC content. */
#include "recipient.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "cose.h"
#include "errmsg.h"

X509 *recipient_load_root(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (!f) {
		errmsg(err, errlen, -errno, "cannot open the attestation root %s", path);
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		errmsg(err, errlen, -EINVAL, "%s is not a PEM certificate", path);
	return x;
}

int recipient_fresh(uint64_t ts_ms, double now)
{
	double ts = (double)ts_ms / 1000.0;

	if (ts < now - RECIPIENT_MAX_AGE_S)
		return -ETIMEDOUT;
	if (ts > now + RECIPIENT_MAX_SKEW_S)
		return -ERANGE;
	return 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* The public_key field: exactly one DER SubjectPublicKeyInfo of an RSA key,
 * as aws-nitro-enclaves-sdk-c puts there. */
static int parse_pubkey(const struct attest_blob *b, EVP_PKEY **out, char *err, size_t errlen)
{
	const uint8_t *p = b->data;
	EVP_PKEY *k;
	int bits;

	if (!b->present || !b->len)
		return errmsg(err, errlen, -ENOKEY, "the attestation document has no public_key "
			      "to seal the answer to");
	k = d2i_PUBKEY(NULL, &p, (long)b->len);
	if (!k || p != b->data + b->len) {
		EVP_PKEY_free(k);
		return errmsg(err, errlen, -EINVAL, "the attestation document's public_key is not "
			      "a DER SubjectPublicKeyInfo");
	}
	bits = EVP_PKEY_get_bits(k);
	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA || bits < RECIPIENT_MIN_RSA_BITS ||
	    bits > 8192) {
		EVP_PKEY_free(k);
		return errmsg(err, errlen, -EINVAL, "the attestation document's public_key must be "
			      "an RSA key of 2048 to 8192 bits for RSAES_OAEP_SHA_256");
	}
	*out = k;
	return 0;
}

int recipient_check(X509 *root, const uint8_t *buf, size_t len, double now,
		    struct recipient_att *out, char *err, size_t errlen)
{
	struct attest_verify_opts o = { .root = root, .at = ATTEST_AT_DOC_TIME };
	struct attest_doc doc;
	struct cose_sign1 cs;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!root)
		return errmsg(err, errlen, -ENOKEY, "this ward-kms has no attestation root "
			      "configured (--attestation-root): it cannot accept an "
			      "AttestationDocument");
	/* Chain validity at the document's own time; its age is checked next,
	 * against this server's clock, so an old document cannot lean on a
	 * certificate that was valid then. */
	rc = attest_verify(buf, len, &o, &doc, err, errlen);
	if (rc)
		return rc;
	rc = recipient_fresh(doc.timestamp_ms, now);
	if (rc)
		return errmsg(err, errlen, rc, "the attestation document was made %s (timestamp "
			      "%llu ms): it must be at most %d s old and %d s ahead",
			      rc == -ETIMEDOUT ? "too long ago" : "in the future",
			      (unsigned long long)doc.timestamp_ms, RECIPIENT_MAX_AGE_S,
			      RECIPIENT_MAX_SKEW_S);
	/* A debug-mode enclave reports every PCR as zero and its console is
	 * readable from the parent: sealing to it is sealing to the parent. */
	if (!(doc.pcr_mask & 1u) || all_zero(doc.pcr[0], ATTEST_PCR_LEN))
		return errmsg(err, errlen, -EPERM, "the attestation document is from a debug-mode "
			      "enclave (PCR0 is zero or absent): key material is never released "
			      "to one");
	rc = parse_pubkey(&doc.public_key, &out->pub, err, errlen);
	if (rc)
		return rc;
	/* Replay identity: the signed payload, not the envelope (an ECDSA
	 * signature can be re-encoded, the payload cannot change). */
	rc = cose_sign1_parse(buf, len, &cs, err, errlen);
	if (rc) {
		recipient_att_clear(out);
		return rc;
	}
	SHA256(cs.payload, cs.payload_len, out->replay_id);
	memcpy(out->module_id, doc.module_id, sizeof(out->module_id));
	out->pcr_mask = doc.pcr_mask;
	memcpy(out->pcr, doc.pcr, sizeof(out->pcr));
	out->timestamp_ms = doc.timestamp_ms;
	return 0;
}

void recipient_att_clear(struct recipient_att *a)
{
	EVP_PKEY_free(a->pub);
	memset(a, 0, sizeof(*a));
}

int recipient_pcr_hex(const struct recipient_att *a, unsigned i, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	if (i >= ATTEST_NPCRS || !(a->pcr_mask & (1u << i)))
		return -ENOENT;
	for (unsigned j = 0; j < ATTEST_PCR_LEN; j++) {
		hex[2 * j] = digits[a->pcr[i][j] >> 4];
		hex[2 * j + 1] = digits[a->pcr[i][j] & 15];
	}
	hex[RECIPIENT_HEX_LEN] = '\0';
	return 0;
}

/* OpenSSL's CMS names a key-transport recipient by a certificate: one
 * carrying the key and its subjectKeyIdentifier (RFC 5280 §4.2.1.2
 * method 1, SHA-1 of the key bits) stands in. It is never sent; OpenSSL
 * only reads it whole (it hashes it), so it must be complete and signed:
 * by a throwaway Ed25519 key, the cheapest to make. */
static X509 *keyid_holder(EVP_PKEY *pub)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	X509 *x = X509_new();
	EVP_PKEY *signer = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	/* Encodable (OpenSSL hashes the certificate when it caches its
	 * extensions): a serial and a validity, though nobody reads them. */
	if (!x || X509_set_pubkey(x, pub) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 60))
		goto err;
	X509V3_set_ctx(&ctx, NULL, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_key_identifier, "hash");
	if (!ext)
		goto err;
	if (X509_add_ext(x, ext, -1) != 1) {
		X509_EXTENSION_free(ext);
		goto err;
	}
	X509_EXTENSION_free(ext);
	if (!signer || X509_sign(x, signer, NULL) <= 0)
		goto err;
	EVP_PKEY_free(signer);
	return x;
err:
	EVP_PKEY_free(signer);
	X509_free(x);
	return NULL;
}

int recipient_cms_seal(EVP_PKEY *pub, const uint8_t *pt, size_t len,
		       uint8_t **der, size_t *der_len)
{
	unsigned flags = CMS_BINARY | CMS_PARTIAL | CMS_KEY_PARAM | CMS_USE_KEYID | CMS_STREAM;
	CMS_ContentInfo *cms = NULL;
	CMS_RecipientInfo *ri;
	EVP_PKEY_CTX *pctx;
	BIO *out = NULL, *b = NULL, *next;
	X509 *holder;
	BUF_MEM *mem;
	int rc = -EIO;

	*der = NULL;
	if (len > INT_MAX)
		return -EMSGSIZE;
	holder = keyid_holder(pub);
	if (!holder)
		return -ENOMEM;
	cms = CMS_encrypt(NULL, NULL, EVP_aes_256_cbc(), flags);
	ri = cms ? CMS_add1_recipient_cert(cms, holder, flags) : NULL;
	pctx = ri ? CMS_RecipientInfo_get0_pkey_ctx(ri) : NULL;
	if (!pctx || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0)
		goto out;
	/* Streamed, as AWS KMS answers: indefinite-length ContentInfo, [0],
	 * EnvelopedData and EncryptedContentInfo, the content as a constructed
	 * [0] of OCTET STRINGs — the BER aws-nitro-enclaves-sdk-c's reader
	 * walks (it steps into those four by their headers alone). The
	 * plaintext goes straight into the cipher BIO, which wipes its buffer
	 * when freed (CMS_final's copy loop would leave it on the stack). */
	out = BIO_new(BIO_s_mem());
	b = out ? BIO_new_CMS(out, cms) : NULL;
	if (!b || BIO_write(b, pt, (int)len) != (int)len || BIO_flush(b) != 1)
		goto out;
	rc = 0;
out:
	/* The chain up to, not including, out. */
	while (b && b != out) {
		next = BIO_pop(b);
		BIO_free(b);
		b = next;
	}
	if (rc == 0) {
		BIO_get_mem_ptr(out, &mem);
		*der = OPENSSL_malloc(mem->length ? mem->length : 1);
		if (*der) {
			memcpy(*der, mem->data, mem->length);
			*der_len = mem->length;
		} else {
			rc = -ENOMEM;
		}
	}
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	X509_free(holder);
	return rc;
}
