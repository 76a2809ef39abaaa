/* tpm: ward's only TPM 2.0 code, over tpm2-tss ESAPI and the TCTI loader.
 * PCR extend/read, sealing to a PCR policy, the TPM-resident host (ECDH) and
 * signing keys, quotes and the NV monotonic counter. See docs/tpm.md. */
#ifndef WARD_TPM_H
#define WARD_TPM_H

#include <stddef.h>
#include <stdint.h>

#define TPM_DIGEST_LEN		32	/* SHA-256: the only bank ward uses */
#define TPM_NUM_PCRS		24
#define TPM_PCR_BIT(n)		(1u << (n))
#define TPM_PCR_ALL		((1u << TPM_NUM_PCRS) - 1)
#define TPM_ECC_POINT_LEN	65	/* uncompressed P-256 point 0x04||X||Y */
#define TPM_ECDH_Z_LEN		32	/* X coordinate of the shared point */
#define TPM_SPKI_LEN		91	/* DER SubjectPublicKeyInfo, P-256 */
#define TPM_SIG_MAX		72	/* DER ECDSA-Sig-Value, P-256 */
#define TPM_SEAL_MAX		128	/* MAX_SYM_DATA: largest sealed secret */

/* PCR allocation (docs/tpm.md): 0-7 are the firmware's; 8-15 the OS's,
 * where GRUB takes 8-9, IMA 10, systemd-stub (UKI) 11 and shim 14. */
#define TPM_PCR_BOOT		12	/* ward-boot: the controller binary */
#define TPM_PCR_COMPONENTS	13	/* component images from the store */
#define TPM_PCR_CONFIG		15	/* manifest and host configuration */
#define TPM_BOOT_PCRS \
	(TPM_PCR_BIT(TPM_PCR_BOOT) | TPM_PCR_BIT(TPM_PCR_COMPONENTS) | \
	 TPM_PCR_BIT(TPM_PCR_CONFIG))

/* Default NV index of the firmware security counter: in the owner range
 * 0x01800000-0x01BFFFFF of the TCG handle registry. */
#define TPM_NV_FW_COUNTER	0x01800100u
/* The audit log's checkpoint counter (docs/audit.md, "Anchoring"). */
#define TPM_NV_AUDIT_COUNTER	0x01800101u

/* TCTI used when tpm_open() gets NULL and WARD_TPM_TCTI is unset. */
#define TPM_DEFAULT_TCTI	"device:/dev/tpmrm0"

struct tpm;

/* Connect through the TCTI loader ("device:/dev/tpmrm0",
 * "swtpm:host=127.0.0.1,port=2321"). NULL means $WARD_TPM_TCTI, else
 * TPM_DEFAULT_TCTI. A struct tpm is not thread-safe: serialise calls. */
/* Silence tpm2-tss's own stderr lines ("ERROR:esys:...") for answers ward
 * expects and reports itself, unless the operator set TSS2_LOG. Call in
 * main() before the first tss2 call: the library reads it once. */
void tpm_quiet_tss_log(void);
int tpm_open(const char *tcti, struct tpm **out, char *err, size_t errlen);
void tpm_close(struct tpm *t);

/* Text of the last failure on t ("PCR policy not satisfied", a decoded TSS
 * return code, ...). Never contains secret material. */
const char *tpm_error(const struct tpm *t);

/* SHA-256 bank. pcr_read fills out[i] for every bit i set in mask. */
int tpm_pcr_extend(struct tpm *t, unsigned pcr,
		   const uint8_t digest[TPM_DIGEST_LEN]);
int tpm_pcr_read(struct tpm *t, uint32_t mask,
		 uint8_t out[TPM_NUM_PCRS][TPM_DIGEST_LEN]);

/* Append an event to the log at log_path (tpm_eventlog.h), then extend. */
int tpm_measure(struct tpm *t, const char *log_path, unsigned pcr,
		uint32_t type, const uint8_t digest[TPM_DIGEST_LEN],
		const void *desc, size_t desc_len);

/* Key blobs (sealed data, host key, signing key) are opaque, storable bytes
 * (docs/tpm.md: header + TPM2B_PUBLIC + TPM2B_PRIVATE), usable only on the
 * TPM that made them. *blob is malloc'd: free() it. `expected` gives the PCR
 * values the policy must match (indexed by PCR number, only bits in pcr_mask
 * read); NULL binds to the values the PCRs hold now. */
int tpm_seal(struct tpm *t, uint32_t pcr_mask,
	     const uint8_t (*expected)[TPM_DIGEST_LEN],
	     const void *data, size_t len, uint8_t **blob, size_t *blob_len);
/* -EACCES when the PCRs differ from the sealed policy. out needs up to
 * TPM_SEAL_MAX bytes; wipe it after use. */
int tpm_unseal(struct tpm *t, const uint8_t *blob, size_t blob_len,
	       uint8_t *out, size_t cap, size_t *out_len);

/* The host key: non-exportable P-256 ECDH key usable only under a PolicyPCR
 * session over pcr_mask (non-zero). pub gets the uncompressed point. */
int tpm_hostkey_create(struct tpm *t, uint32_t pcr_mask,
		       const uint8_t (*expected)[TPM_DIGEST_LEN],
		       uint8_t **blob, size_t *blob_len,
		       uint8_t pub[TPM_ECC_POINT_LEN]);
/* z = X coordinate of d_host * peer (TPM2_ECDH_ZGen). Wipe z after use. */
int tpm_ecdh_zgen(struct tpm *t, const uint8_t *blob, size_t blob_len,
		  const uint8_t peer[TPM_ECC_POINT_LEN],
		  uint8_t z[TPM_ECDH_Z_LEN]);

/* Signing keys: non-exportable ECDSA P-256/SHA-256. pcr_mask 0 = usable in
 * any PCR state (audit checkpoints, golden set). TPM_SIGNKEY_RESTRICTED makes
 * an attestation key that signs only TPM-generated data (quotes): a verifier
 * of quotes should insist on one. spki gets DER SubjectPublicKeyInfo. */
#define TPM_SIGNKEY_RESTRICTED	0x1u
int tpm_signkey_create(struct tpm *t, unsigned flags, uint32_t pcr_mask,
		       const uint8_t (*expected)[TPM_DIGEST_LEN],
		       uint8_t **blob, size_t *blob_len,
		       uint8_t spki[TPM_SPKI_LEN]);
/* A signing key bound to PolicyPCR over pcr_mask (non-zero) with the
 * `expected` values (NULL: the values now) that signs `digest` once, now,
 * whatever the PCRs hold: for provisioning, which signs before the boot
 * the key is bound to. The one-time authorisation is random and wiped. */
int tpm_signkey_create_signed(struct tpm *t, uint32_t pcr_mask,
			      const uint8_t (*expected)[TPM_DIGEST_LEN],
			      const uint8_t digest[TPM_DIGEST_LEN],
			      uint8_t sig[TPM_SIG_MAX], size_t *sig_len,
			      uint8_t **blob, size_t *blob_len,
			      uint8_t spki[TPM_SPKI_LEN]);
/* sig gets a DER ECDSA-Sig-Value (what OpenSSL's EVP_DigestVerify takes). */
int tpm_sign(struct tpm *t, const uint8_t *blob, size_t blob_len,
	     const uint8_t digest[TPM_DIGEST_LEN],
	     uint8_t sig[TPM_SIG_MAX], size_t *sig_len);

/* Public half of an ECC key blob, no TPM needed. */
int tpm_blob_pubkey(const uint8_t *blob, size_t blob_len,
		    uint8_t spki[TPM_SPKI_LEN], uint8_t point[TPM_ECC_POINT_LEN]);

/* A TPM2_Quote over pcr_mask (SHA-256 bank) with the given nonce (<= 64
 * bytes), and the PCR values it covers. */
struct tpm_quote {
	uint8_t *attest;	/* TPMS_ATTEST, marshalled (what was signed) */
	size_t attest_len;
	uint8_t *sig;		/* TPMT_SIGNATURE, marshalled */
	size_t sig_len;
	uint8_t sig_der[TPM_SIG_MAX];
	size_t sig_der_len;
	uint32_t pcr_mask;
	uint8_t pcrs[TPM_NUM_PCRS][TPM_DIGEST_LEN];
	uint8_t nonce[64];
	size_t nonce_len;
	uint8_t spki[TPM_SPKI_LEN];
};
int tpm_quote(struct tpm *t, const uint8_t *blob, size_t blob_len,
	      uint32_t pcr_mask, const void *nonce, size_t nonce_len,
	      struct tpm_quote *q);
void tpm_quote_free(struct tpm_quote *q);
/* Verify a quote in software (no TPM): the ECDSA signature by spki over
 * SHA-256(attest), and that attest is a TPM-generated quote over exactly
 * pcr_mask with these PCR values and this nonce. 0, or -EBADMSG with err. */
int tpm_quote_verify(const uint8_t spki[TPM_SPKI_LEN],
		     const uint8_t *attest, size_t attest_len,
		     const uint8_t *sig_der, size_t sig_der_len,
		     const void *nonce, size_t nonce_len, uint32_t pcr_mask,
		     const uint8_t (*pcrs)[TPM_DIGEST_LEN],
		     char *err, size_t errlen);
/* Write the files `tpm2_checkquote -u ak.pem -m quote.msg -s quote.sig
 * -f quote.pcrs -l <pcr_list> -q quote.nonce -g sha256` takes, into dir;
 * pcr_list gets the "sha256:8,9,10" string. */
int tpm_quote_write_files(const struct tpm_quote *q, const char *dir,
			  char *pcr_list, size_t pcr_list_len);

/* Host attestation (docs/attestation.md). The endorsement key: the TCG EK
 * Credential Profile's ECC NIST P-256 template (L-2), a primary key re-made
 * from the endorsement seed on each call and flushed; *pub gets its
 * TPM2B_PUBLIC in TPM wire format (malloc'd). */
int tpm_ek_public(struct tpm *t, uint8_t **pub, size_t *pub_len);
/* The TPM2B_PUBLIC (wire format, malloc'd) of a key blob, no TPM needed:
 * what a verifier computes the key's TPM name from. */
int tpm_blob_public(const uint8_t *blob, size_t blob_len, uint8_t **pub,
		    size_t *pub_len);
/* TPM2_ActivateCredential: release the secret that MakeCredential wrapped
 * for (EK, name of the key in blob). cred is a TPM2B_ID_OBJECT, secret a
 * TPM2B_ENCRYPTED_SECRET, both in wire format; out gets up to 64 bytes.
 * -EACCES when the blob is not the object the credential names or the EK
 * is not the one it was made for (the TPM's integrity check fails). */
int tpm_activate_credential(struct tpm *t, const uint8_t *blob,
			    size_t blob_len, const uint8_t *cred,
			    size_t cred_len, const uint8_t *secret,
			    size_t secret_len, uint8_t out[64], size_t *out_len);

/* NV monotonic counters (TPM2_NT_COUNTER, owner hierarchy, empty owner
 * auth). define returns -EEXIST if the index exists and leaves the counter
 * readable (incremented once: a new counter starts at the highest value any
 * counter of this TPM ever had, not at 0). read/increment refuse an index
 * that is not a counter. */
int tpm_nvcounter_define(struct tpm *t, uint32_t nv_index);
int tpm_nvcounter_read(struct tpm *t, uint32_t nv_index, uint64_t *value);
int tpm_nvcounter_increment(struct tpm *t, uint32_t nv_index,
			    uint64_t *new_value);

/* The PolicyPCR policy digest (TPM 2.0 Part 3 §23.7) for these PCR values,
 * from a zero starting digest: what a sealed object's authPolicy holds. */
int tpm_policy_pcr_digest(uint32_t pcr_mask,
			  const uint8_t (*pcrs)[TPM_DIGEST_LEN],
			  uint8_t policy[TPM_DIGEST_LEN]);

#endif
