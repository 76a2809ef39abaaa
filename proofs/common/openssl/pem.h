/* Stand-in for OpenSSL's pem.h (not reached by any parser). */
#ifndef WARD_PROOFS_OPENSSL_PEM_H
#define WARD_PROOFS_OPENSSL_PEM_H
#include <stdio.h>
#include "evp.h"
typedef int pem_password_cb(char *buf, int size, int rwflag, void *u);
EVP_PKEY *PEM_read_PrivateKey(FILE *fp, EVP_PKEY **x, pem_password_cb *cb, void *u);
EVP_PKEY *PEM_read_bio_PrivateKey(struct bio_st *bp, EVP_PKEY **x, pem_password_cb *cb, void *u);
struct x509_st *PEM_read_bio_X509(struct bio_st *bp, struct x509_st **x, pem_password_cb *cb, void *u);
#endif
