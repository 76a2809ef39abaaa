/* quote: the verifier side of host attestation (docs/attestation.md), no
 * TPM needed: parse a host's EK and AK public areas, MakeCredential in
 * software (TPM 2.0 Part 1 §24), and check a quote with its event log
 * against a golden set of the host's firmware release. Every input here
 * comes from the host being judged and is parsed as hostile. */
#ifndef WARD_QUOTE_H
#define WARD_QUOTE_H

#include <stddef.h>
#include <stdint.h>

#include "tpm.h"

#define QUOTE_NAME_LEN		34	/* TPM name: u16 nameAlg (SHA-256) || digest */
#define QUOTE_CRED_LEN		32	/* the MakeCredential secret ward-api sends */
#define QUOTE_NONCE_MIN		16
#define QUOTE_NONCE_MAX		64
#define QUOTE_PUB_MAX		1024	/* longest TPM2B_PUBLIC accepted */
#define QUOTE_GOLDEN_EVENTS	64	/* events per release */
#define QUOTE_RELEASE_MAX	64	/* bytes of a release name */

/* A key's public area as the host sent it (TPM2B_PUBLIC, wire format). */
struct quote_key {
	uint8_t name[QUOTE_NAME_LEN];	/* nameAlg || SHA-256(TPMT_PUBLIC) */
	uint8_t point[TPM_ECC_POINT_LEN];
	uint8_t spki[TPM_SPKI_LEN];
};

/* An attestation key: ECC P-256, ECDSA-SHA256, restricted signing,
 * fixedTPM, fixedParent, sensitiveDataOrigin, not decrypt. Exactly len
 * bytes. 0, or -EBADMSG with the reason in err. */
int quote_ak_parse(const uint8_t *pub, size_t len, struct quote_key *out,
		   char *err, size_t errlen);
/* An endorsement key: ECC P-256 restricted decryption key, AES-128-CFB,
 * nameAlg SHA-256 (the EK Credential Profile's L-2 template). */
int quote_ek_parse(const uint8_t *pub, size_t len, struct quote_key *out,
		   char *err, size_t errlen);

/* MakeCredential: wrap `cred` (1..64 bytes) so that only the TPM holding
 * the EK, with the key named `name` loaded, can recover it. cred_blob gets
 * a TPM2B_ID_OBJECT and secret a TPM2B_ENCRYPTED_SECRET, both in wire
 * format and malloc'd. 0 or -errno. */
int quote_make_credential(const struct quote_key *ek,
			  const uint8_t name[QUOTE_NAME_LEN],
			  const uint8_t *cred, size_t cred_len,
			  uint8_t **cred_blob, size_t *cred_blob_len,
			  uint8_t **secret, size_t *secret_len);

/* The golden set: per firmware release, the exact sequence of
 * measurements each boot PCR (12, 13, 15) receives. Text format in
 * docs/attestation.md. */
struct quote_golden;
int quote_golden_parse(const char *text, size_t len, struct quote_golden **out,
		       char *err, size_t errlen);
void quote_golden_free(struct quote_golden *g);
/* 0 if the golden set names the release. */
int quote_golden_has(const struct quote_golden *g, const char *release);
/* The log's measurements against the release: each boot PCR gets exactly
 * the release's sequence, and no other PCR is measured. 0, -EPERM with
 * the first difference, -EBADMSG for a malformed log. */
int quote_golden_check(const struct quote_golden *g, const char *release, const uint8_t *log,
		       size_t len, char *err, size_t errlen);

/* What a host answers to a nonce (all raw bytes, untrusted). */
struct quote_evidence {
	const uint8_t *attest;	/* TPMS_ATTEST as signed */
	size_t attest_len;
	const uint8_t *sig;	/* TPMT_SIGNATURE */
	size_t sig_len;
	const uint8_t *log;	/* the TCG crypto-agile event log */
	size_t log_len;
};

/* The whole check: the signature by ak (the key whose binding to the EK
 * was proved: the SAME key, docs/attestation.md), the TPM-generated quote
 * type, the nonce, a selection of exactly the boot PCRs in the SHA-256
 * bank, the PCR digest against the values the event log replays to, and
 * the log's measurements against the release's golden set. pcrs (may be
 * NULL) gets the replayed values. 0, or -EBADMSG/-EPERM with the reason. */
int quote_verify(const struct quote_key *ak, const struct quote_evidence *ev,
		 const uint8_t *nonce, size_t nonce_len,
		 const struct quote_golden *g, const char *release,
		 uint8_t (*pcrs)[TPM_DIGEST_LEN], char *err, size_t errlen);

/* A TPMS_ATTEST (untrusted): exactly len bytes, TPM_GENERATED_VALUE, a
 * quote, one SHA-256 selection, a 32-byte PCR digest. 0 or -EBADMSG. */
struct quote_attest {
	uint8_t nonce[QUOTE_NONCE_MAX];
	size_t nonce_len;
	uint32_t pcr_mask;	/* the SHA-256 bank's selection */
	uint8_t pcr_digest[TPM_DIGEST_LEN];
	uint64_t clock;		/* TPMS_CLOCK_INFO: for the record */
	uint32_t reset_count, restart_count;
};
int quote_attest_parse(const uint8_t *attest, size_t len, struct quote_attest *out,
		       char *err, size_t errlen);

/* TPMT_SIGNATURE (ECDSA, SHA-256) -> DER ECDSA-Sig-Value. 0 or -EBADMSG. */
int quote_sig_der(const uint8_t *sig, size_t sig_len, uint8_t der[TPM_SIG_MAX],
		  size_t *der_len);

#endif
