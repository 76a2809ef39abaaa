/* The OpenSSL crypto.h declarations the parsers' files use, cut for
 * Frama-C (which cannot parse the real header). */
#ifndef WARD_PROOFS_OPENSSL_CRYPTO_H
#define WARD_PROOFS_OPENSSL_CRYPTO_H
#include <stddef.h>
/*@ requires \valid((char *)ptr + (0 .. len - 1));
    assigns ((char *)ptr)[0 .. len - 1] \from \nothing; */
void OPENSSL_cleanse(void *ptr, size_t len);
/* Constant-time compare: reads len bytes of each, returns 0 iff equal. */
/*@ requires \valid_read((const char *)a + (0 .. len - 1));
    requires \valid_read((const char *)b + (0 .. len - 1));
    assigns \result \from ((const char *)a)[0 .. len - 1], ((const char *)b)[0 .. len - 1]; */
int CRYPTO_memcmp(const void *a, const void *b, size_t len);
/* Not reached by any parser. */
void CRYPTO_free(void *ptr, const char *file, int line);
#define OPENSSL_free(p) CRYPTO_free((p), __FILE__, __LINE__)
#endif
