/* Stand-in for OpenSSL's hmac.h, cut for Frama-C (it cannot parse the real
 * header). HMAC is not reached by any parser analysed (sigv4's parsers only
 * split and check text; the signature is computed after them). */
#ifndef WARD_PROOFS_OPENSSL_HMAC_H
#define WARD_PROOFS_OPENSSL_HMAC_H
#include <stddef.h>
#include "evp.h"
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len, const unsigned char *d,
		    size_t n, unsigned char *md, unsigned int *md_len);
#endif
