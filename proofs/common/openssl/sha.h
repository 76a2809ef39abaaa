/* Stand-in for OpenSSL's sha.h, cut for Frama-C. SHA256() is not reached by
 * any parser analysed (sigv4 hashes the canonical request after parsing). */
#ifndef WARD_PROOFS_OPENSSL_SHA_H
#define WARD_PROOFS_OPENSSL_SHA_H
#include <stddef.h>
#define SHA256_DIGEST_LENGTH 32
unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md);
#endif
