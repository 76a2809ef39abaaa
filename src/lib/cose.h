/* cose: COSE_Sign1 (RFC 9052 §4.2) with ES384 — the envelope of Nitro
 * attestation documents and of the PCR0 signature in a signed EIF. Parsing
 * is strict (untagged or tag 18; protected header exactly {1: -35}; empty
 * unprotected header; attached payload; 96-byte raw r||s signature). */
#ifndef WARD_COSE_H
#define WARD_COSE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define COSE_ALG_ES384 (-35)
#define COSE_ES384_SIG_LEN 96

/* Slices of the caller's buffer: valid as long as it is. */
struct cose_sign1 {
	const uint8_t *prot, *payload, *sig;
	size_t prot_len, payload_len, sig_len;
	int64_t alg;
};

int cose_sign1_parse(const uint8_t *buf, size_t len, struct cose_sign1 *cs,
		     char *err, size_t errlen);
/* ES384 over Sig_structure ["Signature1", protected, h'', payload]; `pub`
 * must be a P-384 key. 0 when the signature is good, -EBADMSG when not. */
int cose_sign1_verify(const struct cose_sign1 *cs, EVP_PKEY *pub, char *err, size_t errlen);
/* Sign `payload` with a P-384 private key; the untagged COSE_Sign1 bytes
 * are malloc'd into *out. */
int cose_sign1_sign(const uint8_t *payload, size_t plen, EVP_PKEY *key,
		    uint8_t **out, size_t *out_len, char *err, size_t errlen);

/* 1 when `key` is an EC key on P-384 (secp384r1). */
int cose_key_is_p384(EVP_PKEY *key);

#endif
