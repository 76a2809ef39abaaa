/* The OpenSSL EVP declarations the parsers' files use, cut for Frama-C (it
 * cannot parse the real headers). Contracts only on what a parser reaches
 * (SHA-256 of a buffer): each reads exactly the bytes it is given and
 * writes at most the 32-byte digest; docs/proofs.md lists them. */
#ifndef WARD_PROOFS_OPENSSL_EVP_H
#define WARD_PROOFS_OPENSSL_EVP_H
#include <stddef.h>
#include "crypto.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef struct evp_md_st EVP_MD;
typedef struct evp_pkey_st EVP_PKEY;
typedef struct engine_st ENGINE;
typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;
#define EVP_PKEY_ED25519 1087

extern char __fc_evp_ctx[64];
extern const char __fc_evp_sha256[1];
/* Eva alone cannot use the contracts below that hand out an object
 * (EVP_MD_CTX_new, EVP_sha256, EVP_MD_fetch): it reads them as NULL only
 * or as false, and the code after the call is silently dead. A harness
 * that reaches them includes ../evp_model.h (C models, same results). */

/*@ assigns \result \from __fc_evp_ctx[0];
    ensures \result == \null || \result == (EVP_MD_CTX *)__fc_evp_ctx; */
EVP_MD_CTX *EVP_MD_CTX_new(void);
/*@ assigns \nothing; */
void EVP_MD_CTX_free(EVP_MD_CTX *ctx);
/*@ assigns \result \from \nothing;
    ensures \result == (const EVP_MD *)__fc_evp_sha256; */
const EVP_MD *EVP_sha256(void);
/*@ requires \valid((char *)ctx);
    assigns ((char *)ctx)[0 .. 63], \result \from type, indirect: impl;
    ensures \result == 0 || \result == 1; */
int EVP_DigestInit_ex(EVP_MD_CTX *ctx, const EVP_MD *type, ENGINE *impl);
/*@ requires \valid((char *)ctx);
    requires \valid_read((const char *)d + (0 .. cnt - 1));
    assigns ((char *)ctx)[0 .. 63], \result \from ((const char *)d)[0 .. cnt - 1], cnt;
    ensures \result == 0 || \result == 1; */
int EVP_DigestUpdate(EVP_MD_CTX *ctx, const void *d, size_t cnt);
/*@ requires \valid((char *)ctx);
    requires \valid(md + (0 .. 31));
    requires s == \null;
    assigns md[0 .. 31], \result \from ((char *)ctx)[0 .. 63];
    ensures \result == 0 || \result == 1;
    ensures \result == 1 ==> \initialized(md + (0 .. 31)); */
int EVP_DigestFinal_ex(EVP_MD_CTX *ctx, unsigned char *md, unsigned int *s);
/* merkle.c: the digest fetched once, and the one-shot/init-ex2 forms. */
typedef struct ossl_lib_ctx_st OSSL_LIB_CTX;
typedef struct ossl_param_st OSSL_PARAM;
/*@ assigns \result \from __fc_evp_sha256[0];
    ensures \result == \null || \result == (EVP_MD *)__fc_evp_sha256; */
EVP_MD *EVP_MD_fetch(OSSL_LIB_CTX *libctx, const char *algorithm, const char *properties);
/*@ requires \valid((char *)ctx);
    assigns ((char *)ctx)[0 .. 63], \result \from type;
    ensures \result == 0 || \result == 1; */
int EVP_DigestInit_ex2(EVP_MD_CTX *ctx, const EVP_MD *type, const OSSL_PARAM *params);
/*@ requires \valid_read((const char *)data + (0 .. count - 1));
    requires \valid(md + (0 .. 31));
    requires size == \null;
    assigns md[0 .. 31], \result \from ((const char *)data)[0 .. count - 1], count;
    ensures \result == 0 || \result == 1;
    ensures \result == 1 ==> \initialized(md + (0 .. 31)); */
int EVP_Digest(const void *data, size_t count, unsigned char *md, unsigned int *size,
	       const EVP_MD *type, ENGINE *impl);

/* Not reached by any parser (signing and verification). */
const EVP_MD *EVP_sha384(void);
EVP_PKEY *EVP_PKEY_new_raw_public_key(int type, ENGINE *e, const unsigned char *pub, size_t len);
void EVP_PKEY_free(EVP_PKEY *pkey);
int EVP_PKEY_get_base_id(const EVP_PKEY *pkey);
int EVP_DigestSignInit(EVP_MD_CTX *ctx, EVP_PKEY_CTX **pctx, const EVP_MD *type, ENGINE *e, EVP_PKEY *pkey);
int EVP_DigestSign(EVP_MD_CTX *ctx, unsigned char *sigret, size_t *siglen, const unsigned char *tbs, size_t tbslen);
int EVP_DigestVerifyInit(EVP_MD_CTX *ctx, EVP_PKEY_CTX **pctx, const EVP_MD *type, ENGINE *e, EVP_PKEY *pkey);
int EVP_DigestVerify(EVP_MD_CTX *ctx, const unsigned char *sigret, size_t siglen, const unsigned char *tbs, size_t tbslen);
#endif
