/* evp_model: C models of the OpenSSL calls that hand out an object, for
 * the harnesses that reach them. Eva reads a contract's "ensures \result
 * == object" with "assigns \result \from \nothing" as false (the path after
 * the call is then dead, silently), and "\null or the object" as \null
 * only; these bodies return exactly what the contracts in openssl/evp.h
 * say, both outcomes where the call can fail. Include after the product
 * file. */
#ifndef WARD_PROOFS_EVP_MODEL_H
#define WARD_PROOFS_EVP_MODEL_H

char __fc_evp_ctx[64];
const char __fc_evp_sha256[1];

const EVP_MD *EVP_sha256(void)
{
	return (const EVP_MD *)__fc_evp_sha256;
}

EVP_MD *EVP_MD_fetch(OSSL_LIB_CTX *libctx, const char *algorithm, const char *properties)
{
	(void)libctx, (void)algorithm, (void)properties;
	return Frama_C_nondet(0, 1) ? NULL : (EVP_MD *)__fc_evp_sha256;
}

EVP_MD_CTX *EVP_MD_CTX_new(void)
{
	return Frama_C_nondet(0, 1) ? NULL : (EVP_MD_CTX *)__fc_evp_ctx;
}

#endif
