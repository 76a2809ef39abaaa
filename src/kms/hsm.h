/* hsm: the PKCS#11 HSM holding ward-kms's backing keys (SoftHSM2 by default,
 * any PKCS#11 module by configuration). Key material is generated inside the
 * token as sensitive, non-extractable AES-256 objects and only ever used
 * through C_Encrypt/C_Decrypt with CKM_AES_GCM. */
#ifndef WARD_KMS_HSM_H
#define WARD_KMS_HSM_H

#include <stddef.h>
#include <stdint.h>

#define HSM_DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define HSM_LABEL_MAX 96

struct hsm;

/* Initialises a new token labelled `label` in the first slot without an
 * initialised token, with the given SO and user PINs. */
int hsm_init_token(const char *module, const char *label, const char *so_pin,
		   const char *pin);

/* Loads the module, finds the token by label, opens a R/W session and logs
 * in as user. `sessions` sessions are opened for concurrent use. */
int hsm_open(const char *module, const char *token_label, const char *pin,
	     unsigned sessions, struct hsm **out);
void hsm_close(struct hsm *h);

/* Creates a token AES-256 key labelled `label`; -EEXIST if one exists. */
int hsm_key_create(struct hsm *h, unsigned sess, const char *label, unsigned long *handle);
/* -ENOENT if absent. */
int hsm_key_find(struct hsm *h, unsigned sess, const char *label, unsigned long *handle);
int hsm_key_destroy(struct hsm *h, unsigned sess, const char *label);

/* AES-256-GCM inside the HSM with a caller-chosen 96-bit IV and 128-bit tag.
 * pt/ct at most 4096 bytes. Decrypt returns -EBADMSG when authentication
 * fails. `sess` picks the session (one per thread). */
int hsm_gcm_encrypt(struct hsm *h, unsigned sess, unsigned long key,
		    const uint8_t iv[12], const uint8_t *aad, size_t aad_len,
		    const uint8_t *pt, size_t len, uint8_t *ct, uint8_t tag[16]);
int hsm_gcm_decrypt(struct hsm *h, unsigned sess, unsigned long key,
		    const uint8_t iv[12], const uint8_t *aad, size_t aad_len,
		    const uint8_t *ct, size_t len, const uint8_t tag[16], uint8_t *pt);

/* Random bytes from the token's generator. */
int hsm_random(struct hsm *h, unsigned sess, uint8_t *buf, size_t len);

/* A PKCS#11 return value's name, "CKR_PIN_INCORRECT" (unknown: "CKR_0x..."). */
const char *hsm_rv_name(unsigned long rv);

#endif
