/* recipient: ward-kms's side of the enclave key release (docs/enclaves.md,
 * "KMS with an attestation"): checks a Recipient's attestation document
 * (chain to the configured ward attestation root, signature, freshness,
 * not debug mode, an RSA public_key) and seals plaintext to that key as a
 * CMS EnvelopedData, the CiphertextForRecipient AWS KMS returns. */
#ifndef WARD_KMS_RECIPIENT_H
#define WARD_KMS_RECIPIENT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attest.h"

/* A document must be at most this old when it is used, and may be at most
 * RECIPIENT_MAX_SKEW_S ahead of ward-kms's clock (the host's clock may run
 * a little fast). Together they bound the replay cache (docs/enclaves.md). */
#define RECIPIENT_MAX_AGE_S 300
#define RECIPIENT_MAX_SKEW_S 60
/* An RSA public_key below this is refused (AWS's SDK sends 2048). */
#define RECIPIENT_MIN_RSA_BITS 2048
#define RECIPIENT_HEX_LEN (2 * ATTEST_PCR_LEN)

/* What a checked document tells the rest of ward-kms. */
struct recipient_att {
	char module_id[ATTEST_MODULE_ID_MAX + 1];
	uint32_t pcr_mask;
	uint8_t pcr[ATTEST_NPCRS][ATTEST_PCR_LEN];
	uint64_t timestamp_ms;
	uint8_t replay_id[32];	/* SHA-256 of the signed payload */
	EVP_PKEY *pub;		/* the document's public_key (RSA) */
};

/* Loads a PEM certificate (the ward attestation root). NULL + err. */
X509 *recipient_load_root(const char *path, char *err, size_t errlen);

/* 0 when ts_ms is within [now - RECIPIENT_MAX_AGE_S, now + RECIPIENT_MAX_SKEW_S];
 * -ETIMEDOUT (too old) or -ERANGE (too far ahead). */
int recipient_fresh(uint64_t ts_ms, double now);

/* Everything about the document except replay (the caller's store does
 * that with out->replay_id): attest_verify against root at the document's
 * own time, freshness against now, debug mode, public_key. On success the
 * caller owns out->pub (recipient_att_clear). */
int recipient_check(X509 *root, const uint8_t *doc, size_t len, double now,
		    struct recipient_att *out, char *err, size_t errlen);
void recipient_att_clear(struct recipient_att *a);

/* The policy condition value of kms:RecipientAttestation:PCRi (lower-case
 * hex) into hex[RECIPIENT_HEX_LEN + 1]; -ENOENT when the document has no
 * such PCR. ImageSha384 is PCR0, as AWS defines it. */
int recipient_pcr_hex(const struct recipient_att *a, unsigned i, char *hex);

/* CMS EnvelopedData (RFC 5652) in BER as AWS KMS sends it (indefinite-
 * length outer structures, docs/enclaves.md): a fresh AES-256-CBC content key
 * wraps pt, and is itself wrapped with RSAES-OAEP (SHA-256, MGF1-SHA-256)
 * to pub, the recipient named by subjectKeyIdentifier (version 2), as
 * aws-nitro-enclaves-sdk-c's CMS reader expects. *der: OPENSSL_free it. */
int recipient_cms_seal(EVP_PKEY *pub, const uint8_t *pt, size_t len,
		       uint8_t **der, size_t *der_len);

#endif
