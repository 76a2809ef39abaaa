/* attest: Nitro attestation documents — a COSE_Sign1 (ES384) over a CBOR
 * map of module_id, digest, timestamp, pcrs, certificate, cabundle and the
 * optional public_key/user_data/nonce — verified as AWS documents it (the
 * chain from a pinned root through cabundle to the leaf, at a given time)
 * and generated for ward's own per-host attestation key. docs/enclaves.md. */
#ifndef WARD_ATTEST_H
#define WARD_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define ATTEST_NPCRS 32
#define ATTEST_PCR_LEN 48		/* digest "SHA384" */
#define ATTEST_MAX_CABUNDLE 16
#define ATTEST_MODULE_ID_MAX 255
/* AWS's limits (attestation_process.md, "syntactical validation"). */
#define ATTEST_CERT_MAX 1024
#define ATTEST_PUBKEY_MAX 1024
#define ATTEST_USER_DATA_MAX 512
#define ATTEST_NONCE_MAX 512

/* An optional field: absent (or null) when !present; data points into the
 * document buffer, which must outlive the struct. */
struct attest_blob {
	bool present;
	const uint8_t *data;
	size_t len;
};

struct attest_doc {
	char module_id[ATTEST_MODULE_ID_MAX + 1];
	uint64_t timestamp_ms;
	uint32_t pcr_mask;		/* bit i: PCR i present */
	uint8_t pcr[ATTEST_NPCRS][ATTEST_PCR_LEN];
	struct attest_blob certificate;	/* DER leaf */
	unsigned ncabundle;
	struct attest_blob cabundle[ATTEST_MAX_CABUNDLE];	/* [0] = root */
	struct attest_blob public_key, user_data, nonce;
};

/* Check the time the document says it was made at. */
#define ATTEST_AT_DOC_TIME INT64_MIN

struct attest_verify_opts {
	X509 *root;		/* pinned trust anchor; must equal cabundle[0] */
	int64_t at;		/* seconds since the epoch, or ATTEST_AT_DOC_TIME */
	const uint8_t *nonce;	/* when set, the document must carry exactly it */
	size_t nonce_len;
};

/* Structure and syntax only (COSE_Sign1 envelope, payload fields and their
 * sizes); no chain, no signature. For tools that display a document. */
int attest_parse(const uint8_t *buf, size_t len, struct attest_doc *doc, char *err, size_t errlen);

/* Everything: structure, chain to the pinned root valid at `at`, the ES384
 * signature by the leaf, and the nonce. 0 when the document is good. */
int attest_verify(const uint8_t *buf, size_t len, const struct attest_verify_opts *o,
		  struct attest_doc *doc, char *err, size_t errlen);

/* The signer of ward's documents: the per-host P-384 leaf key, its DER
 * certificate and the bundle from the ward attestation root (first) to
 * the leaf's issuer. */
struct attest_signer {
	EVP_PKEY *key;
	const uint8_t *cert;
	size_t cert_len;
	unsigned ncabundle;
	const uint8_t *const *cabundle;
	const size_t *cabundle_len;
};

/* Make a document in AWS's layout (all nine keys, null for an absent
 * optional field) from doc's module_id, timestamp, pcrs and optional
 * fields; doc's certificate and cabundle are ignored (taken from s). */
int attest_generate(const struct attest_doc *doc, const struct attest_signer *s,
		    uint8_t **out, size_t *out_len, char *err, size_t errlen);

#endif
