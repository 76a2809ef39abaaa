/* Stand-in for OpenSSL's ec.h, cut for Frama-C (declarations only: not
 * reached by any parser analysed; checkpoint.c uses them for ECDSA keys
 * and signatures, after parsing). */
#ifndef WARD_PROOFS_OPENSSL_EC_H
#define WARD_PROOFS_OPENSSL_EC_H
#include <stddef.h>
#include "bn.h"
#include "evp.h"
typedef struct ECDSA_SIG_st ECDSA_SIG;
ECDSA_SIG *ECDSA_SIG_new(void);
void ECDSA_SIG_free(ECDSA_SIG *sig);
int ECDSA_SIG_set0(ECDSA_SIG *sig, BIGNUM *r, BIGNUM *s);
int i2d_ECDSA_SIG(const ECDSA_SIG *sig, unsigned char **pp);
int i2d_PUBKEY(const EVP_PKEY *a, unsigned char **pp);
int EVP_PKEY_get_raw_public_key(const EVP_PKEY *pkey, unsigned char *pub, size_t *len);
int EVP_PKEY_get_utf8_string_param(const EVP_PKEY *pkey, const char *key_name, char *str,
				   size_t max_buf_sz, size_t *out_sz);
int EVP_PKEY_is_a(const EVP_PKEY *pkey, const char *name);
char *CRYPTO_strndup(const char *str, size_t s, const char *file, int line);
#define OPENSSL_strndup(s, n) CRYPTO_strndup((s), (n), __FILE__, __LINE__)
#endif
