/* Stand-in for OpenSSL's bn.h, cut for Frama-C (declarations only: no
 * parser analysed so far reaches a BIGNUM call; checkpoint.c uses them
 * to build an ECDSA signature, after parsing). */
#ifndef WARD_PROOFS_OPENSSL_BN_H
#define WARD_PROOFS_OPENSSL_BN_H
typedef struct bignum_st BIGNUM;
BIGNUM *BN_bin2bn(const unsigned char *s, int len, BIGNUM *ret);
void BN_free(BIGNUM *a);
#endif
