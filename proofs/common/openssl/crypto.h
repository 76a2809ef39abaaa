/* The one OpenSSL declaration the parsers' files use, cut for Frama-C
 * (which cannot parse the real header): wipes len bytes at ptr. */
#ifndef WARD_PROOFS_OPENSSL_CRYPTO_H
#define WARD_PROOFS_OPENSSL_CRYPTO_H
#include <stddef.h>
/*@ requires \valid((char *)ptr + (0 .. len - 1));
    assigns ((char *)ptr)[0 .. len - 1] \from \nothing; */
void OPENSSL_cleanse(void *ptr, size_t len);
#endif
