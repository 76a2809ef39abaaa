/* Stand-in for OpenSSL's x509.h (not reached by any parser: eif.c uses it
 * to measure the signing certificate, after parsing). */
#ifndef WARD_PROOFS_OPENSSL_X509_H
#define WARD_PROOFS_OPENSSL_X509_H
#include "evp.h"
typedef struct x509_st X509;
void X509_free(X509 *a);
EVP_PKEY *X509_get0_pubkey(const X509 *x);
int i2d_X509(const X509 *a, unsigned char **out);
#endif
