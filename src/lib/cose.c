/* cose: COSE_Sign1 ES384 parse/verify/sign (RFC 9052 §4.2-4.4, RFC 9053
 * §2.1: ECDSA signatures are raw r||s, each 48 bytes for P-384). Used by
 * eif.c (PCR0 signature section) and attest.c (attestation documents). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "cbor_io.h"
#include "cose.h"
#include "errmsg.h"

#define COSE_TAG_SIGN1 18
#define P384_COORD 48

int cose_key_is_p384(EVP_PKEY *key)
{
	char group[64];
	size_t glen = 0;

	if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC)
		return 0;
	if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
					    sizeof(group), &glen))
		return 0;
	return !strcmp(group, SN_secp384r1);
}

/* The protected header, a bstr holding exactly the map {1: alg}. */
static int parse_prot(struct cose_sign1 *cs, char *err, size_t errlen)
{
	struct cbor_rd r;
	struct cbr_item it;

	cbr_init(&r, cs->prot, cs->prot_len);
	if (cbr_next(&r, &it) || it.type != CBR_MAP || it.indef || it.val != 1)
		return errmsg(err, errlen, -EPROTO, "COSE protected header must be a map with one entry (alg)");
	if (cbr_next(&r, &it) || it.type != CBR_UINT || it.val != 1)
		return errmsg(err, errlen, -EPROTO, "COSE protected header: the only label must be 1 (alg)");
	if (cbr_next(&r, &it) || (it.type != CBR_NEGINT && it.type != CBR_UINT) || it.val > INT32_MAX)
		return errmsg(err, errlen, -EPROTO, "COSE protected header: alg must be an integer");
	if (!cbr_done(&r))
		return errmsg(err, errlen, -EPROTO, "COSE protected header: bytes after the map");
	cs->alg = it.type == CBR_NEGINT ? -1 - (int64_t)it.val : (int64_t)it.val;
	return 0;
}

int cose_sign1_parse(const uint8_t *buf, size_t len, struct cose_sign1 *cs,
		     char *err, size_t errlen)
{
	struct cbor_rd r;
	struct cbr_item it;
	int rc;

	memset(cs, 0, sizeof(*cs));
	cbr_init(&r, buf, len);
	if ((rc = cbr_next(&r, &it)))
		return errmsg(err, errlen, -EPROTO, "COSE_Sign1: not CBOR (truncated or malformed)");
	if (it.type == CBR_TAG) {
		if (it.val != COSE_TAG_SIGN1)
			return errmsg(err, errlen, -EPROTO, "COSE_Sign1: tag %llu, expected 18",
				      (unsigned long long)it.val);
		if (cbr_next(&r, &it))
			return errmsg(err, errlen, -EPROTO, "COSE_Sign1: truncated after the tag");
	}
	if (it.type != CBR_ARRAY || it.indef || it.val != 4)
		return errmsg(err, errlen, -EPROTO, "COSE_Sign1 must be an array of 4 items");
	if (cbr_next(&r, &it) || it.type != CBR_BYTES)
		return errmsg(err, errlen, -EPROTO, "COSE_Sign1: protected header must be a byte string");
	cs->prot = it.ptr;
	cs->prot_len = it.val;
	if ((rc = parse_prot(cs, err, errlen)))
		return rc;
	if (cbr_next(&r, &it) || it.type != CBR_MAP)
		return errmsg(err, errlen, -EPROTO, "COSE_Sign1: unprotected header must be a map");
	/* Nothing in it would be covered by the signature: we take none. */
	if (it.indef ? !cbr_at_break(&r) : it.val != 0)
		return errmsg(err, errlen, -EPROTO, "COSE_Sign1: unprotected header must be empty");
	if (cbr_next(&r, &it) || it.type != CBR_BYTES)
		return errmsg(err, errlen, -EPROTO, "COSE_Sign1: payload must be an attached byte string");
	cs->payload = it.ptr;
	cs->payload_len = it.val;
	if (cbr_next(&r, &it) || it.type != CBR_BYTES)
		return errmsg(err, errlen, -EPROTO, "COSE_Sign1: signature must be a byte string");
	cs->sig = it.ptr;
	cs->sig_len = it.val;
	if (!cbr_done(&r))
		return errmsg(err, errlen, -EPROTO, "COSE_Sign1: %zu bytes after the structure",
			      r.len - r.off);
	if (cs->alg != COSE_ALG_ES384)
		return errmsg(err, errlen, -EPROTO, "COSE_Sign1: alg %lld, only ES384 (-35) is accepted",
			      (long long)cs->alg);
	if (cs->sig_len != COSE_ES384_SIG_LEN)
		return errmsg(err, errlen, -EPROTO, "COSE_Sign1: ES384 signature must be 96 bytes, got %zu",
			      cs->sig_len);
	return 0;
}

/* Sig_structure = ["Signature1", body_protected, external_aad, payload]. */
static int sig_structure(const uint8_t *prot, size_t prot_len, const uint8_t *payload,
			 size_t plen, uint8_t **out, size_t *out_len)
{
	struct cbor_wr w;

	cbw_init(&w);
	cbw_array(&w, 4);
	cbw_text(&w, "Signature1");
	cbw_bytes(&w, prot, prot_len);
	cbw_bytes(&w, NULL, 0);
	cbw_bytes(&w, payload, plen);
	return cbw_finish(&w, out, out_len);
}

int cose_sign1_verify(const struct cose_sign1 *cs, EVP_PKEY *pub, char *err, size_t errlen)
{
	uint8_t *tbs = NULL, *der = NULL;
	size_t tbs_len;
	ECDSA_SIG *sig = NULL;
	BIGNUM *r = NULL, *s = NULL;
	EVP_MD_CTX *md = NULL;
	int der_len, rc;

	if (cs->alg != COSE_ALG_ES384 || cs->sig_len != COSE_ES384_SIG_LEN)
		return errmsg(err, errlen, -EPROTO, "COSE_Sign1: not an ES384 signature");
	if (!cose_key_is_p384(pub))
		return errmsg(err, errlen, -EKEYREJECTED, "COSE_Sign1: the signing key is not a P-384 key");
	if ((rc = sig_structure(cs->prot, cs->prot_len, cs->payload, cs->payload_len, &tbs, &tbs_len)))
		return errmsg(err, errlen, rc, "COSE_Sign1: out of memory");
	rc = -ENOMEM;
	r = BN_bin2bn(cs->sig, P384_COORD, NULL);
	s = BN_bin2bn(cs->sig + P384_COORD, P384_COORD, NULL);
	sig = ECDSA_SIG_new();
	if (!r || !s || !sig || !ECDSA_SIG_set0(sig, r, s))
		goto err_bn;
	r = s = NULL;
	der_len = i2d_ECDSA_SIG(sig, &der);
	md = EVP_MD_CTX_new();
	if (der_len <= 0 || !md)
		goto err_sig;
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, pub) != 1) {
		rc = errmsg(err, errlen, -EKEYREJECTED, "COSE_Sign1: cannot use the signing key");
		goto err_sig;
	}
	if (EVP_DigestVerify(md, der, (size_t)der_len, tbs, tbs_len) != 1)
		rc = errmsg(err, errlen, -EBADMSG, "COSE_Sign1: the ES384 signature does not verify");
	else
		rc = 0;
err_sig:
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
err_bn:
	BN_free(r);
	BN_free(s);
	free(tbs);
	if (rc == -ENOMEM)
		errmsg(err, errlen, rc, "COSE_Sign1: out of memory");
	return rc;
}

int cose_sign1_sign(const uint8_t *payload, size_t plen, EVP_PKEY *key,
		    uint8_t **out, size_t *out_len, char *err, size_t errlen)
{
	static const uint8_t prot[] = { 0xa1, 0x01, 0x38, 0x22 };	/* {1: -35} */
	uint8_t *tbs = NULL, *der = NULL, raw[COSE_ES384_SIG_LEN];
	const uint8_t *dp;
	size_t tbs_len, der_len = 0;
	ECDSA_SIG *sig = NULL;
	EVP_MD_CTX *md = NULL;
	struct cbor_wr w;
	int rc;

	if (!cose_key_is_p384(key))
		return errmsg(err, errlen, -EKEYREJECTED, "signing key must be an EC P-384 key (ES384)");
	if ((rc = sig_structure(prot, sizeof(prot), payload, plen, &tbs, &tbs_len)))
		return errmsg(err, errlen, rc, "COSE_Sign1: out of memory");
	rc = -EKEYREJECTED;
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &der_len, tbs, tbs_len) != 1 ||
	    !(der = OPENSSL_malloc(der_len)) ||
	    EVP_DigestSign(md, der, &der_len, tbs, tbs_len) != 1)
		goto err_md;
	dp = der;
	sig = d2i_ECDSA_SIG(NULL, &dp, (long)der_len);
	if (!sig || BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, P384_COORD) != P384_COORD ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + P384_COORD, P384_COORD) != P384_COORD)
		goto err_sig;
	cbw_init(&w);
	cbw_array(&w, 4);
	cbw_bytes(&w, prot, sizeof(prot));
	cbw_map(&w, 0);
	cbw_bytes(&w, payload, plen);
	cbw_bytes(&w, raw, sizeof(raw));
	rc = cbw_finish(&w, out, out_len);
err_sig:
	ECDSA_SIG_free(sig);
err_md:
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	free(tbs);
	if (rc)
		errmsg(err, errlen, rc, "COSE_Sign1: signing failed");
	return rc;
}
