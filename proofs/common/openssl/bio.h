/* Stand-in for OpenSSL's bio.h (not reached by any parser: eif.c's
 * signing reads PEM through a memory BIO). */
#ifndef WARD_PROOFS_OPENSSL_BIO_H
#define WARD_PROOFS_OPENSSL_BIO_H
typedef struct bio_st BIO;
BIO *BIO_new_mem_buf(const void *buf, int len);
int BIO_free(BIO *a);
#endif
