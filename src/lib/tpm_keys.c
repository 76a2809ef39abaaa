/* tpm_keys: objects under the storage primary — PCR-sealed secrets, the
 * host ECDH key, signing/attestation keys and quotes — and their storable
 * blobs, which are parsed here (and only here) as untrusted input. */
#include "tpm_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "fileio.h"

/* Blob: "WTPM" | u8 version | u8 kind | u16 0 | u32 pcr_mask (BE) |
 * TPM2B_PUBLIC | TPM2B_PRIVATE (TPM wire format, tss2-mu). */
#define BLOB_MAGIC	"WTPM"
#define BLOB_VERSION	1
#define BLOB_HDR_LEN	12

enum blob_kind { KIND_ANY_ECC = 0, KIND_SEALED = 1, KIND_HOSTKEY = 2,
		 KIND_SIGNKEY = 3 };

struct keyblob {
	enum blob_kind kind;
	uint32_t pcr_mask;
	TPM2B_PUBLIC pub;
	TPM2B_PRIVATE priv;
};

static const char *blob_check_public(const struct keyblob *kb)
{
	const TPMT_PUBLIC *p = &kb->pub.publicArea;
	TPMA_OBJECT a = p->objectAttributes;
	const TPMS_ECC_PARMS *ecc = &p->parameters.eccDetail;

	if (p->nameAlg != TPM2_ALG_SHA256)
		return "name algorithm is not sha256";
	if (!(a & TPMA_OBJECT_FIXEDTPM) || !(a & TPMA_OBJECT_FIXEDPARENT))
		return "object is exportable";
	if (kb->pcr_mask) {
		/* A PCR-bound signing key may also carry userWithAuth: its
		 * authValue is the one-time random secret of
		 * tpm_signkey_create_signed, wiped once it signed. */
		if (p->authPolicy.size != TPM_DIGEST_LEN ||
		    (a & TPMA_OBJECT_USERWITHAUTH && kb->kind != KIND_SIGNKEY))
			return "PCR mask set but object has no PCR policy";
	} else if (!(a & TPMA_OBJECT_USERWITHAUTH)) {
		return "no PCR mask but object needs a policy";
	}
	switch (kb->kind) {
	case KIND_SEALED:
		if (p->type != TPM2_ALG_KEYEDHASH ||
		    a & (TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_DECRYPT))
			return "not a sealed data object";
		if (!kb->pcr_mask)
			return "sealed object without PCR policy";
		return NULL;
	case KIND_HOSTKEY:
		if (p->type != TPM2_ALG_ECC || !(a & TPMA_OBJECT_DECRYPT) ||
		    a & (TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_RESTRICTED))
			return "not an ECDH key";
		if (!kb->pcr_mask)
			return "host key without PCR policy";
		break;
	case KIND_SIGNKEY:
		if (p->type != TPM2_ALG_ECC || !(a & TPMA_OBJECT_SIGN_ENCRYPT) ||
		    a & TPMA_OBJECT_DECRYPT ||
		    ecc->scheme.scheme != TPM2_ALG_ECDSA ||
		    ecc->scheme.details.ecdsa.hashAlg != TPM2_ALG_SHA256)
			return "not an ECDSA-SHA256 signing key";
		break;
	default:
		return "unknown blob kind";
	}
	if (ecc->curveID != TPM2_ECC_NIST_P256 ||
	    p->unique.ecc.x.size > 32 || p->unique.ecc.y.size > 32)
		return "not a P-256 key";
	return NULL;
}

/* want: the kind the caller needs, or KIND_ANY_ECC for host or signing key.
 * Returns NULL or why the blob is refused. */
static const char *blob_parse(const uint8_t *b, size_t len,
			      enum blob_kind want, struct keyblob *kb)
{
	size_t off = BLOB_HDR_LEN;

	memset(kb, 0, sizeof(*kb));
	if (!b || len < BLOB_HDR_LEN || memcmp(b, BLOB_MAGIC, 4))
		return "not a ward TPM blob";
	if (b[4] != BLOB_VERSION || b[6] || b[7])
		return "unsupported TPM blob version";
	kb->kind = b[5];
	if (want == KIND_ANY_ECC ? (kb->kind != KIND_HOSTKEY &&
				    kb->kind != KIND_SIGNKEY)
				 : kb->kind != want)
		return "TPM blob is of the wrong kind";
	kb->pcr_mask = (uint32_t)b[8] << 24 | (uint32_t)b[9] << 16 |
		       (uint32_t)b[10] << 8 | b[11];
	if (kb->pcr_mask & ~TPM_PCR_ALL)
		return "TPM blob PCR mask out of range";
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(b, len, &off, &kb->pub))
		return "TPM blob public area is malformed";
	if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(b, len, &off, &kb->priv))
		return "TPM blob private area is malformed";
	if (off != len)
		return "TPM blob has trailing bytes";
	return blob_check_public(kb);
}

static int blob_build(struct tpm *t, enum blob_kind kind, uint32_t mask,
		      const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv,
		      uint8_t **blob, size_t *blob_len)
{
	size_t cap = BLOB_HDR_LEN + sizeof(*pub) + sizeof(*priv), off;
	uint8_t *b = malloc(cap);

	if (!b)
		return tpm_fail(t, -ENOMEM, "out of memory");
	memcpy(b, BLOB_MAGIC, 4);
	b[4] = BLOB_VERSION;
	b[5] = (uint8_t)kind;
	b[6] = b[7] = 0;
	b[8] = (uint8_t)(mask >> 24);
	b[9] = (uint8_t)(mask >> 16);
	b[10] = (uint8_t)(mask >> 8);
	b[11] = (uint8_t)mask;
	off = BLOB_HDR_LEN;
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, b, cap, &off) ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(priv, b, cap, &off)) {
		free(b);
		return tpm_fail(t, -EINVAL, "cannot marshal key blob");
	}
	*blob = b;
	*blob_len = off;
	return 0;
}

static int blob_load(struct tpm *t, const uint8_t *blob, size_t len,
		     enum blob_kind want, struct keyblob *kb, ESYS_TR *obj)
{
	const char *why;
	ESYS_TR srk;
	TSS2_RC rc;
	int ret;

	*obj = ESYS_TR_NONE;
	why = blob_parse(blob, len, want, kb);
	if (why)
		return tpm_fail(t, -EINVAL, "%s", why);
	ret = tpm_srk(t, &srk);
	if (ret)
		return ret;
	rc = Esys_Load(t->esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE,
		       ESYS_TR_NONE, &kb->priv, &kb->pub, obj);
	if (rc) {
		*obj = ESYS_TR_NONE;
		if (tpm_rc_base(rc) == TPM2_RC_INTEGRITY)
			return tpm_fail(t, -EINVAL,
					"Load: key blob is corrupt or from another TPM");
		return tpm_fail_rc(t, "Load", rc);
	}
	return 0;
}

/* The session that authorises use of a loaded object: PolicyPCR when the
 * blob has a PCR mask, else the (empty) password. secret_out: the command
 * returns a secret (Unseal, ECDH_ZGen), have the TPM encrypt it. */
static int blob_auth(struct tpm *t, const struct keyblob *kb, int secret_out,
		     ESYS_TR *auth)
{
	if (!kb->pcr_mask && !secret_out) {
		*auth = ESYS_TR_PASSWORD;
		return 0;
	}
	if (!kb->pcr_mask)
		return tpm_session_start(t, TPM2_SE_HMAC, TPMA_SESSION_ENCRYPT,
					 auth);
	return tpm_policy_pcr_session(t, kb->pcr_mask,
				      secret_out ? TPMA_SESSION_ENCRYPT : 0,
				      auth);
}

static void auth_done(struct tpm *t, ESYS_TR *auth)
{
	if (*auth != ESYS_TR_PASSWORD)
		tpm_flush(t, auth);
}

static int create_object(struct tpm *t, enum blob_kind kind, uint32_t mask,
			 const TPM2B_SENSITIVE_CREATE *sens,
			 const TPM2B_PUBLIC *tmpl, uint8_t **blob,
			 size_t *blob_len, TPM2B_PUBLIC *pub_out)
{
	TPM2B_DATA outside = { .size = 0 };
	TPML_PCR_SELECTION none = { .count = 0 };
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_PUBLIC *pub = NULL;
	ESYS_TR srk, sess;
	TSS2_RC rc;
	int ret;

	ret = tpm_srk(t, &srk);
	if (ret)
		return ret;
	/* DECRYPT: the first parameter (inSensitive, the data to seal) goes
	 * to the TPM encrypted. */
	ret = tpm_session_start(t, TPM2_SE_HMAC, TPMA_SESSION_DECRYPT, &sess);
	if (ret)
		return ret;
	rc = Esys_Create(t->esys, srk, sess, ESYS_TR_NONE, ESYS_TR_NONE, sens,
			 tmpl, &outside, &none, &priv, &pub, NULL, NULL, NULL);
	tpm_flush(t, &sess);
	if (rc)
		return tpm_fail_rc(t, "Create", rc);
	ret = blob_build(t, kind, mask, pub, priv, blob, blob_len);
	if (!ret && pub_out)
		*pub_out = *pub;
	Esys_Free(priv);
	Esys_Free(pub);
	return ret;
}

static int check_mask(struct tpm *t, uint32_t mask, int required)
{
	if (mask & ~TPM_PCR_ALL || (required && !mask))
		return tpm_fail(t, -EINVAL, "PCR mask 0x%x invalid%s", mask,
				required ? " (a PCR policy is required)" : "");
	return 0;
}

int tpm_seal(struct tpm *t, uint32_t pcr_mask,
	     const uint8_t (*expected)[TPM_DIGEST_LEN],
	     const void *data, size_t len, uint8_t **blob, size_t *blob_len)
{
	TPM2B_SENSITIVE_CREATE sens = { .size = 0 };
	TPM2B_PUBLIC tmpl = {
		.publicArea = {
			.type = TPM2_ALG_KEYEDHASH,
			.nameAlg = TPM2_ALG_SHA256,
			/* No userWithAuth: only the PCR policy opens it;
			 * adminWithPolicy: no ChangeAuth path around it. */
			.objectAttributes = TPMA_OBJECT_FIXEDTPM |
				TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_NODA |
				TPMA_OBJECT_ADMINWITHPOLICY,
			.parameters.keyedHashDetail.scheme.scheme =
				TPM2_ALG_NULL,
		},
	};
	int ret;

	ret = check_mask(t, pcr_mask, 1);
	if (ret)
		return ret;
	if (!len || len > TPM_SEAL_MAX || !data)
		return tpm_fail(t, -EINVAL,
				"sealed data must be 1-%d bytes, got %zu",
				TPM_SEAL_MAX, len);
	ret = tpm_policy_for(t, pcr_mask, expected,
			     &tmpl.publicArea.authPolicy);
	if (ret)
		return ret;
	sens.sensitive.data.size = (UINT16)len;
	memcpy(sens.sensitive.data.buffer, data, len);
	ret = create_object(t, KIND_SEALED, pcr_mask, &sens, &tmpl, blob,
			    blob_len, NULL);
	OPENSSL_cleanse(&sens, sizeof(sens));
	return ret;
}

int tpm_unseal(struct tpm *t, const uint8_t *blob, size_t blob_len,
	       uint8_t *out, size_t cap, size_t *out_len)
{
	TPM2B_SENSITIVE_DATA *data = NULL;
	struct keyblob kb;
	ESYS_TR obj, auth = ESYS_TR_NONE;
	TSS2_RC rc;
	int ret;

	ret = blob_load(t, blob, blob_len, KIND_SEALED, &kb, &obj);
	if (ret)
		return ret;
	ret = blob_auth(t, &kb, 1, &auth);
	if (ret)
		goto out_flush;
	rc = Esys_Unseal(t->esys, obj, auth, ESYS_TR_NONE, ESYS_TR_NONE,
			 &data);
	if (rc) {
		ret = tpm_fail_rc(t, "Unseal", rc);
		goto out_auth;
	}
	if (data->size > cap) {
		ret = tpm_fail(t, -ENOSPC, "unsealed data is %u bytes, buffer %zu",
			       data->size, cap);
	} else {
		memcpy(out, data->buffer, data->size);
		*out_len = data->size;
	}
	OPENSSL_cleanse(data, sizeof(*data));
	Esys_Free(data);
out_auth:
	auth_done(t, &auth);
out_flush:
	tpm_flush(t, &obj);
	return ret;
}

/* TPM ECC coordinates may come without leading zero bytes. */
static void point_from_tpm(const TPMS_ECC_POINT *p,
			   uint8_t out[TPM_ECC_POINT_LEN])
{
	memset(out, 0, TPM_ECC_POINT_LEN);
	out[0] = 0x04;
	memcpy(out + 1 + 32 - p->x.size, p->x.buffer, p->x.size);
	memcpy(out + 33 + 32 - p->y.size, p->y.buffer, p->y.size);
}

static EVP_PKEY *pkey_from_point(const uint8_t point[TPM_ECC_POINT_LEN])
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	if (!bld ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
					     "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
					      point, TPM_ECC_POINT_LEN))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

static int spki_from_point(const uint8_t point[TPM_ECC_POINT_LEN],
			   uint8_t spki[TPM_SPKI_LEN])
{
	EVP_PKEY *pkey = pkey_from_point(point);
	uint8_t *p = spki;
	int n;

	if (!pkey)
		return -EINVAL;
	n = i2d_PUBKEY(pkey, NULL);
	if (n == TPM_SPKI_LEN)
		n = i2d_PUBKEY(pkey, &p);
	EVP_PKEY_free(pkey);
	return n == TPM_SPKI_LEN ? 0 : -EINVAL;
}

int tpm_blob_pubkey(const uint8_t *blob, size_t blob_len,
		    uint8_t spki[TPM_SPKI_LEN], uint8_t point[TPM_ECC_POINT_LEN])
{
	uint8_t pt[TPM_ECC_POINT_LEN];
	struct keyblob kb;

	if (blob_parse(blob, blob_len, KIND_ANY_ECC, &kb))
		return -EINVAL;
	point_from_tpm(&kb.pub.publicArea.unique.ecc, pt);
	if (point)
		memcpy(point, pt, sizeof(pt));
	return spki ? spki_from_point(pt, spki) : 0;
}

static void ecc_template(TPM2B_PUBLIC *tmpl, TPMA_OBJECT attrs,
			 TPMI_ALG_ECC_SCHEME scheme)
{
	memset(tmpl, 0, sizeof(*tmpl));
	tmpl->publicArea.type = TPM2_ALG_ECC;
	tmpl->publicArea.nameAlg = TPM2_ALG_SHA256;
	tmpl->publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM |
		TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
		TPMA_OBJECT_NODA | attrs;
	tmpl->publicArea.parameters.eccDetail.symmetric.algorithm =
		TPM2_ALG_NULL;
	tmpl->publicArea.parameters.eccDetail.scheme.scheme = scheme;
	if (scheme == TPM2_ALG_ECDSA)
		tmpl->publicArea.parameters.eccDetail.scheme.details.ecdsa
			.hashAlg = TPM2_ALG_SHA256;
	tmpl->publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	tmpl->publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
}

int tpm_hostkey_create(struct tpm *t, uint32_t pcr_mask,
		       const uint8_t (*expected)[TPM_DIGEST_LEN],
		       uint8_t **blob, size_t *blob_len,
		       uint8_t pub[TPM_ECC_POINT_LEN])
{
	TPM2B_SENSITIVE_CREATE sens = { .size = 0 };
	TPM2B_PUBLIC tmpl, out;
	int ret;

	ret = check_mask(t, pcr_mask, 1);
	if (ret)
		return ret;
	ecc_template(&tmpl, TPMA_OBJECT_DECRYPT | TPMA_OBJECT_ADMINWITHPOLICY,
		     TPM2_ALG_NULL);
	ret = tpm_policy_for(t, pcr_mask, expected,
			     &tmpl.publicArea.authPolicy);
	if (ret)
		return ret;
	ret = create_object(t, KIND_HOSTKEY, pcr_mask, &sens, &tmpl, blob,
			    blob_len, &out);
	if (ret)
		return ret;
	point_from_tpm(&out.publicArea.unique.ecc, pub);
	return 0;
}

int tpm_ecdh_zgen(struct tpm *t, const uint8_t *blob, size_t blob_len,
		  const uint8_t peer[TPM_ECC_POINT_LEN],
		  uint8_t z[TPM_ECDH_Z_LEN])
{
	TPM2B_ECC_POINT in = { .size = 0 }, *outp = NULL;
	struct keyblob kb;
	ESYS_TR obj, auth = ESYS_TR_NONE;
	TSS2_RC rc;
	int ret;

	if (peer[0] != 0x04)
		return tpm_fail(t, -EINVAL,
				"peer point must be uncompressed (0x04||X||Y)");
	ret = blob_load(t, blob, blob_len, KIND_HOSTKEY, &kb, &obj);
	if (ret)
		return ret;
	ret = blob_auth(t, &kb, 1, &auth);
	if (ret)
		goto out_flush;
	in.point.x.size = 32;
	memcpy(in.point.x.buffer, peer + 1, 32);
	in.point.y.size = 32;
	memcpy(in.point.y.buffer, peer + 33, 32);
	rc = Esys_ECDH_ZGen(t->esys, obj, auth, ESYS_TR_NONE, ESYS_TR_NONE,
			    &in, &outp);
	if (rc) {
		if (tpm_rc_base(rc) == TPM2_RC_ECC_POINT)
			ret = tpm_fail(t, -EINVAL, "peer point is not on P-256");
		else
			ret = tpm_fail_rc(t, "ECDH_ZGen", rc);
		goto out_auth;
	}
	if (outp->point.x.size > TPM_ECDH_Z_LEN) {
		ret = tpm_fail(t, -EIO, "ECDH_ZGen returned %u-byte X",
			       outp->point.x.size);
	} else {
		memset(z, 0, TPM_ECDH_Z_LEN);
		memcpy(z + TPM_ECDH_Z_LEN - outp->point.x.size,
		       outp->point.x.buffer, outp->point.x.size);
	}
	OPENSSL_cleanse(outp, sizeof(*outp));
	Esys_Free(outp);
out_auth:
	auth_done(t, &auth);
out_flush:
	tpm_flush(t, &obj);
	return ret;
}

int tpm_signkey_create(struct tpm *t, unsigned flags, uint32_t pcr_mask,
		       const uint8_t (*expected)[TPM_DIGEST_LEN],
		       uint8_t **blob, size_t *blob_len,
		       uint8_t spki[TPM_SPKI_LEN])
{
	TPM2B_SENSITIVE_CREATE sens = { .size = 0 };
	TPMA_OBJECT attrs = TPMA_OBJECT_SIGN_ENCRYPT;
	uint8_t point[TPM_ECC_POINT_LEN];
	TPM2B_PUBLIC tmpl, out;
	int ret;

	ret = check_mask(t, pcr_mask, 0);
	if (ret)
		return ret;
	if (flags & ~TPM_SIGNKEY_RESTRICTED)
		return tpm_fail(t, -EINVAL, "unknown signing key flags 0x%x",
				flags);
	if (flags & TPM_SIGNKEY_RESTRICTED)
		attrs |= TPMA_OBJECT_RESTRICTED;
	attrs |= pcr_mask ? TPMA_OBJECT_ADMINWITHPOLICY
			  : TPMA_OBJECT_USERWITHAUTH;
	ecc_template(&tmpl, attrs, TPM2_ALG_ECDSA);
	if (pcr_mask) {
		ret = tpm_policy_for(t, pcr_mask, expected,
				     &tmpl.publicArea.authPolicy);
		if (ret)
			return ret;
	}
	ret = create_object(t, KIND_SIGNKEY, pcr_mask, &sens, &tmpl, blob,
			    blob_len, &out);
	if (ret)
		return ret;
	point_from_tpm(&out.publicArea.unique.ecc, point);
	if (spki_from_point(point, spki)) {
		free(*blob);
		*blob = NULL;
		return tpm_fail(t, -EIO, "TPM returned an invalid public key");
	}
	return 0;
}

static int sign_loaded(struct tpm *t, ESYS_TR obj, ESYS_TR auth,
			const uint8_t digest[TPM_DIGEST_LEN],
			uint8_t sig[TPM_SIG_MAX], size_t *sig_len);

int tpm_signkey_create_signed(struct tpm *t, uint32_t pcr_mask,
			      const uint8_t (*expected)[TPM_DIGEST_LEN],
			      const uint8_t digest[TPM_DIGEST_LEN],
			      uint8_t sig[TPM_SIG_MAX], size_t *sig_len,
			      uint8_t **blob, size_t *blob_len,
			      uint8_t spki[TPM_SPKI_LEN])
{
	TPM2B_SENSITIVE_CREATE sens = { .size = 0 };
	TPM2B_AUTH auth = { .size = TPM_DIGEST_LEN };
	uint8_t point[TPM_ECC_POINT_LEN];
	TPM2B_PUBLIC tmpl, out;
	struct keyblob kb;
	ESYS_TR obj;
	TSS2_RC rc;
	int ret;

	ret = check_mask(t, pcr_mask, 1);
	if (ret)
		return ret;
	/* userWithAuth with a random authValue nobody keeps: the key signs
	 * `digest` now, before the PCRs hold the values it is bound to, and
	 * afterwards only under the PolicyPCR session. */
	if (RAND_priv_bytes(auth.buffer, TPM_DIGEST_LEN) != 1)
		return tpm_fail(t, -EIO, "no randomness for the key's one-time auth");
	sens.sensitive.userAuth = auth;
	ecc_template(&tmpl, TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH |
		     TPMA_OBJECT_ADMINWITHPOLICY, TPM2_ALG_ECDSA);
	ret = tpm_policy_for(t, pcr_mask, expected, &tmpl.publicArea.authPolicy);
	if (!ret)
		ret = create_object(t, KIND_SIGNKEY, pcr_mask, &sens, &tmpl, blob,
				    blob_len, &out);
	OPENSSL_cleanse(&sens, sizeof(sens));
	if (ret)
		goto out;
	ret = blob_load(t, *blob, *blob_len, KIND_SIGNKEY, &kb, &obj);
	if (!ret) {
		rc = Esys_TR_SetAuth(t->esys, obj, &auth);
		ret = rc ? tpm_fail_rc(t, "TR_SetAuth", rc)
			 : sign_loaded(t, obj, ESYS_TR_PASSWORD, digest, sig, sig_len);
		tpm_flush(t, &obj);
	}
	point_from_tpm(&out.publicArea.unique.ecc, point);
	if (!ret && spki_from_point(point, spki))
		ret = tpm_fail(t, -EIO, "TPM returned an invalid public key");
	if (ret) {
		free(*blob);
		*blob = NULL;
	}
out:
	OPENSSL_cleanse(&auth, sizeof(auth));
	return ret;
}

static int sig_to_der(const TPMT_SIGNATURE *s, uint8_t der[TPM_SIG_MAX],
		      size_t *der_len)
{
	const TPMS_SIGNATURE_ECC *e = &s->signature.ecdsa;
	ECDSA_SIG *sig;
	BIGNUM *r, *sv;
	uint8_t *p = der;
	int n = -1;

	if (s->sigAlg != TPM2_ALG_ECDSA || e->hash != TPM2_ALG_SHA256)
		return -EINVAL;
	sig = ECDSA_SIG_new();
	r = BN_bin2bn(e->signatureR.buffer, e->signatureR.size, NULL);
	sv = BN_bin2bn(e->signatureS.buffer, e->signatureS.size, NULL);
	if (!sig || !r || !sv || !ECDSA_SIG_set0(sig, r, sv)) {
		BN_free(r);
		BN_free(sv);
		ECDSA_SIG_free(sig);
		return -ENOMEM;
	}
	n = i2d_ECDSA_SIG(sig, NULL);
	if (n > 0 && n <= TPM_SIG_MAX)
		n = i2d_ECDSA_SIG(sig, &p);
	ECDSA_SIG_free(sig);
	if (n <= 0 || n > TPM_SIG_MAX)
		return -EINVAL;
	*der_len = (size_t)n;
	return 0;
}

int tpm_sign(struct tpm *t, const uint8_t *blob, size_t blob_len,
	     const uint8_t digest[TPM_DIGEST_LEN],
	     uint8_t sig[TPM_SIG_MAX], size_t *sig_len)
{
	struct keyblob kb;
	ESYS_TR obj, auth = ESYS_TR_NONE;
	int ret;

	ret = blob_load(t, blob, blob_len, KIND_SIGNKEY, &kb, &obj);
	if (ret)
		return ret;
	if (kb.pub.publicArea.objectAttributes & TPMA_OBJECT_RESTRICTED) {
		ret = tpm_fail(t, -EPERM,
			       "restricted (attestation) key signs only TPM-generated data: use tpm_quote");
		goto out_flush;
	}
	ret = blob_auth(t, &kb, 0, &auth);
	if (ret)
		goto out_flush;
	ret = sign_loaded(t, obj, auth, digest, sig, sig_len);
	auth_done(t, &auth);
out_flush:
	tpm_flush(t, &obj);
	return ret;
}

static int sign_loaded(struct tpm *t, ESYS_TR obj, ESYS_TR auth,
		       const uint8_t digest[TPM_DIGEST_LEN],
		       uint8_t sig[TPM_SIG_MAX], size_t *sig_len)
{
	TPMT_SIG_SCHEME scheme = {
		.scheme = TPM2_ALG_ECDSA,
		.details.ecdsa.hashAlg = TPM2_ALG_SHA256,
	};
	/* A NULL ticket: only unrestricted keys accept it. */
	TPMT_TK_HASHCHECK ticket = {
		.tag = TPM2_ST_HASHCHECK,
		.hierarchy = TPM2_RH_NULL,
	};
	TPM2B_DIGEST d = { .size = TPM_DIGEST_LEN };
	TPMT_SIGNATURE *s = NULL;
	TSS2_RC rc;
	int ret = 0;

	memcpy(d.buffer, digest, TPM_DIGEST_LEN);
	rc = Esys_Sign(t->esys, obj, auth, ESYS_TR_NONE, ESYS_TR_NONE, &d,
		       &scheme, &ticket, &s);
	if (rc)
		return tpm_fail_rc(t, "Sign", rc);
	if (sig_to_der(s, sig, sig_len))
		ret = tpm_fail(t, -EIO, "TPM returned a malformed signature");
	Esys_Free(s);
	return ret;
}

void tpm_quote_free(struct tpm_quote *q)
{
	free(q->attest);
	free(q->sig);
	memset(q, 0, sizeof(*q));
}

/* attest (untrusted bytes) must be a TPM-generated quote over exactly these
 * PCR values and this nonce. Returns NULL or what is wrong. */
static const char *attest_check(const uint8_t *attest, size_t attest_len,
				const void *nonce, size_t nonce_len,
				uint32_t mask,
				const uint8_t (*pcrs)[TPM_DIGEST_LEN])
{
	TPMS_ATTEST a;
	TPML_PCR_SELECTION sel;
	uint8_t d[TPM_DIGEST_LEN];
	EVP_MD_CTX *md;
	size_t off = 0;
	const char *why = "cannot hash PCR values";

	if (!attest || Tss2_MU_TPMS_ATTEST_Unmarshal(attest, attest_len, &off,
						     &a) || off != attest_len)
		return "attestation structure is malformed";
	if (a.magic != TPM2_GENERATED_VALUE || a.type != TPM2_ST_ATTEST_QUOTE)
		return "not a TPM-generated quote";
	if (a.extraData.size != nonce_len ||
	    (nonce_len && memcmp(a.extraData.buffer, nonce, nonce_len)))
		return "quote nonce differs";
	tpm_pcr_selection(mask, &sel);
	if (a.attested.quote.pcrSelect.count != 1 ||
	    memcmp(&a.attested.quote.pcrSelect.pcrSelections[0],
		   &sel.pcrSelections[0], sizeof(sel.pcrSelections[0])) ||
	    a.attested.quote.pcrDigest.size != TPM_DIGEST_LEN)
		return "quote covers other PCRs";
	md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		goto out;
	for (unsigned i = 0; i < TPM_NUM_PCRS; i++)
		if (mask & TPM_PCR_BIT(i) &&
		    !EVP_DigestUpdate(md, pcrs[i], TPM_DIGEST_LEN))
			goto out;
	if (!EVP_DigestFinal_ex(md, d, NULL))
		goto out;
	why = CRYPTO_memcmp(d, a.attested.quote.pcrDigest.buffer,
			    TPM_DIGEST_LEN) ? "PCR values differ from the quote"
					    : NULL;
out:
	EVP_MD_CTX_free(md);
	return why;
}

static int quote_matches(const struct tpm_quote *q)
{
	return !attest_check(q->attest, q->attest_len, q->nonce, q->nonce_len,
			     q->pcr_mask,
			     (const uint8_t (*)[TPM_DIGEST_LEN])q->pcrs);
}

int tpm_quote_verify(const uint8_t spki[TPM_SPKI_LEN],
		     const uint8_t *attest, size_t attest_len,
		     const uint8_t *sig_der, size_t sig_der_len,
		     const void *nonce, size_t nonce_len, uint32_t pcr_mask,
		     const uint8_t (*pcrs)[TPM_DIGEST_LEN],
		     char *err, size_t errlen)
{
	const uint8_t *p = spki;
	uint8_t d[TPM_DIGEST_LEN];
	EVP_PKEY *k = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	const char *why = NULL;

	if (!pcr_mask || pcr_mask & ~TPM_PCR_ALL || !pcrs || !sig_der ||
	    nonce_len > 64 || (nonce_len && !nonce)) {
		why = "bad arguments";
		goto out;
	}
	k = d2i_PUBKEY(NULL, &p, TPM_SPKI_LEN);
	if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) {
		why = "attestation key is not an EC public key";
		goto out;
	}
	if (!attest || !EVP_Digest(attest, attest_len, d, NULL, EVP_sha256(),
				   NULL)) {
		why = "cannot hash attestation structure";
		goto out;
	}
	ctx = EVP_PKEY_CTX_new(k, NULL);
	if (!ctx || EVP_PKEY_verify_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0 ||
	    EVP_PKEY_verify(ctx, sig_der, sig_der_len, d, sizeof(d)) != 1) {
		why = "quote signature does not verify";
		goto out;
	}
	why = attest_check(attest, attest_len, nonce, nonce_len, pcr_mask,
			   pcrs);
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(k);
	if (why && err && errlen)
		snprintf(err, errlen, "%s", why);
	return why ? -EBADMSG : 0;
}

static int quote_once(struct tpm *t, ESYS_TR obj, const struct keyblob *kb,
		      struct tpm_quote *q)
{
	TPM2B_DATA qd = { .size = (UINT16)q->nonce_len };
	TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_NULL };
	TPML_PCR_SELECTION sel;
	TPM2B_ATTEST *att = NULL;
	TPMT_SIGNATURE *s = NULL;
	ESYS_TR auth = ESYS_TR_NONE;
	size_t off = 0;
	TSS2_RC rc;
	int ret;

	memcpy(qd.buffer, q->nonce, q->nonce_len);
	tpm_pcr_selection(q->pcr_mask, &sel);
	ret = blob_auth(t, kb, 0, &auth);
	if (ret)
		return ret;
	rc = Esys_Quote(t->esys, obj, auth, ESYS_TR_NONE, ESYS_TR_NONE, &qd,
			&scheme, &sel, &att, &s);
	auth_done(t, &auth);
	if (rc)
		return tpm_fail_rc(t, "Quote", rc);
	free(q->attest);
	free(q->sig);
	q->attest = malloc(att->size ? att->size : 1);
	q->sig = malloc(sizeof(*s));
	if (!q->attest || !q->sig) {
		ret = tpm_fail(t, -ENOMEM, "out of memory");
		goto out;
	}
	memcpy(q->attest, att->attestationData, att->size);
	q->attest_len = att->size;
	if (Tss2_MU_TPMT_SIGNATURE_Marshal(s, q->sig, sizeof(*s), &off) ||
	    sig_to_der(s, q->sig_der, &q->sig_der_len)) {
		ret = tpm_fail(t, -EIO, "TPM returned a malformed signature");
		goto out;
	}
	q->sig_len = off;
	ret = tpm_pcr_read(t, q->pcr_mask, q->pcrs);
out:
	Esys_Free(att);
	Esys_Free(s);
	return ret;
}

int tpm_quote(struct tpm *t, const uint8_t *blob, size_t blob_len,
	      uint32_t pcr_mask, const void *nonce, size_t nonce_len,
	      struct tpm_quote *q)
{
	struct keyblob kb;
	ESYS_TR obj;
	int ret;

	memset(q, 0, sizeof(*q));
	ret = check_mask(t, pcr_mask, 1);
	if (ret)
		return ret;
	if (nonce_len > sizeof(q->nonce) || (nonce_len && !nonce))
		return tpm_fail(t, -EINVAL, "quote nonce must be <= %zu bytes",
				sizeof(q->nonce));
	q->pcr_mask = pcr_mask;
	if (nonce_len)
		memcpy(q->nonce, nonce, nonce_len);
	q->nonce_len = nonce_len;
	if (tpm_blob_pubkey(blob, blob_len, q->spki, NULL))
		return tpm_fail(t, -EINVAL, "not a signing key blob");
	ret = blob_load(t, blob, blob_len, KIND_SIGNKEY, &kb, &obj);
	if (ret)
		return ret;
	ret = -EAGAIN;
	for (int i = 0; i < 3 && ret == -EAGAIN; i++) {
		ret = quote_once(t, obj, &kb, q);
		if (!ret && !quote_matches(q))
			ret = -EAGAIN;
	}
	if (ret == -EAGAIN)
		ret = tpm_fail(t, -EAGAIN, "PCRs kept changing during Quote");
	tpm_flush(t, &obj);
	if (ret)
		tpm_quote_free(q);
	return ret;
}

static int write_file(const char *dir, const char *name, const void *buf,
		      size_t len)
{
	char path[4096];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	return fileio_replace(path, buf, len, 0644);
}

int tpm_quote_write_files(const struct tpm_quote *q, const char *dir,
			  char *pcr_list, size_t pcr_list_len)
{
	uint8_t vals[TPM_NUM_PCRS * TPM_DIGEST_LEN];
	const uint8_t *p = q->spki;
	EVP_PKEY *pkey;
	BIO *bio;
	char *pem;
	long pem_len;
	size_t n = 0, off;
	int ret;

	off = (size_t)snprintf(pcr_list, pcr_list_len, "sha256:");
	for (unsigned i = 0; i < TPM_NUM_PCRS; i++) {
		if (!(q->pcr_mask & TPM_PCR_BIT(i)))
			continue;
		memcpy(vals + n * TPM_DIGEST_LEN, q->pcrs[i], TPM_DIGEST_LEN);
		if (off < pcr_list_len)
			off += (size_t)snprintf(pcr_list + off,
						pcr_list_len - off, "%s%u",
						n ? "," : "", i);
		n++;
	}
	if (off >= pcr_list_len)
		return -ENOSPC;
	pkey = d2i_PUBKEY(NULL, &p, TPM_SPKI_LEN);
	bio = BIO_new(BIO_s_mem());
	if (!pkey || !bio || !PEM_write_bio_PUBKEY(bio, pkey)) {
		ret = -EINVAL;
		goto out;
	}
	pem_len = BIO_get_mem_data(bio, &pem);
	ret = write_file(dir, "ak.pem", pem, (size_t)pem_len);
	if (!ret)
		ret = write_file(dir, "quote.msg", q->attest, q->attest_len);
	if (!ret)
		ret = write_file(dir, "quote.sig", q->sig, q->sig_len);
	if (!ret)
		ret = write_file(dir, "quote.pcrs", vals, n * TPM_DIGEST_LEN);
	if (!ret)
		ret = write_file(dir, "quote.nonce", q->nonce, q->nonce_len);
out:
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return ret;
}

/* ---- Host attestation: EK, AK public area, ActivateCredential ---- */

/* TCG EK Credential Profile 2.x, template L-2 (ECC NIST P-256): what
 * `tpm2_createek -G ecc` and every EK certificate for that key type use.
 * authPolicy is PolicySecret(TPM_RH_ENDORSEMENT): only a caller holding
 * the endorsement authorisation may use the key. */
static const uint8_t ek_policy_a[TPM_DIGEST_LEN] = {
	0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc,
	0x8d, 0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52,
	0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};

static int ek_create(struct tpm *t, ESYS_TR *ek, TPM2B_PUBLIC **pub)
{
	TPM2B_SENSITIVE_CREATE sens = { .size = 0 };
	TPM2B_PUBLIC tmpl = { .size = 0 };
	TPM2B_DATA outside = { .size = 0 };
	TPML_PCR_SELECTION none = { .count = 0 };
	TPMT_PUBLIC *p = &tmpl.publicArea;
	TSS2_RC rc;

	p->type = TPM2_ALG_ECC;
	p->nameAlg = TPM2_ALG_SHA256;
	p->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
		TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
		TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
	p->authPolicy.size = TPM_DIGEST_LEN;
	memcpy(p->authPolicy.buffer, ek_policy_a, TPM_DIGEST_LEN);
	p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
	p->parameters.eccDetail.symmetric.keyBits.aes = 128;
	p->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
	p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	p->unique.ecc.x.size = 32;
	p->unique.ecc.y.size = 32;
	rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_ENDORSEMENT,
				ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
				&sens, &tmpl, &outside, &none, ek, pub, NULL,
				NULL, NULL);
	if (rc) {
		*ek = ESYS_TR_NONE;
		return tpm_fail_rc(t, "CreatePrimary (endorsement key)", rc);
	}
	return 0;
}

static int pub_marshal(struct tpm *t, const TPM2B_PUBLIC *p, uint8_t **out,
		       size_t *out_len)
{
	size_t off = 0;
	uint8_t *b = malloc(sizeof(*p));

	if (!b)
		return t ? tpm_fail(t, -ENOMEM, "out of memory") : -ENOMEM;
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(p, b, sizeof(*p), &off)) {
		free(b);
		return t ? tpm_fail(t, -EINVAL, "cannot marshal a public area")
			 : -EINVAL;
	}
	*out = b;
	*out_len = off;
	return 0;
}

int tpm_ek_public(struct tpm *t, uint8_t **pub, size_t *pub_len)
{
	TPM2B_PUBLIC *p = NULL;
	ESYS_TR ek;
	int ret;

	ret = ek_create(t, &ek, &p);
	if (ret)
		return ret;
	ret = pub_marshal(t, p, pub, pub_len);
	Esys_Free(p);
	tpm_flush(t, &ek);
	return ret;
}

int tpm_blob_public(const uint8_t *blob, size_t blob_len, uint8_t **pub,
		    size_t *pub_len)
{
	struct keyblob kb;

	if (blob_parse(blob, blob_len, KIND_SIGNKEY, &kb))
		return -EINVAL;
	return pub_marshal(NULL, &kb.pub, pub, pub_len);
}

/* The EK's policy: PolicySecret(TPM_RH_ENDORSEMENT) in a salted session
 * that also encrypts the response, so the released secret does not cross
 * the bus in clear. */
static int ek_policy_session(struct tpm *t, ESYS_TR *s)
{
	TSS2_RC rc;
	int ret;

	ret = tpm_session_start(t, TPM2_SE_POLICY, TPMA_SESSION_ENCRYPT, s);
	if (ret)
		return ret;
	rc = Esys_PolicySecret(t->esys, ESYS_TR_RH_ENDORSEMENT, *s,
			       ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
			       NULL, NULL, NULL, 0, NULL, NULL);
	if (rc) {
		tpm_flush(t, s);
		return tpm_fail_rc(t, "PolicySecret (endorsement)", rc);
	}
	return 0;
}

int tpm_activate_credential(struct tpm *t, const uint8_t *blob,
			    size_t blob_len, const uint8_t *cred,
			    size_t cred_len, const uint8_t *secret,
			    size_t secret_len, uint8_t out[64], size_t *out_len)
{
	TPM2B_ID_OBJECT id;
	TPM2B_ENCRYPTED_SECRET es;
	TPM2B_DIGEST *info = NULL;
	TPM2B_PUBLIC *ekpub = NULL;
	struct keyblob kb;
	ESYS_TR ak = ESYS_TR_NONE, ek = ESYS_TR_NONE, s = ESYS_TR_NONE;
	size_t off = 0;
	TSS2_RC rc;
	int ret;

	*out_len = 0;
	if (!cred || Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(cred, cred_len, &off,
						       &id) || off != cred_len)
		return tpm_fail(t, -EINVAL, "credential blob is malformed");
	off = 0;
	if (!secret || Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(secret,
			secret_len, &off, &es) || off != secret_len)
		return tpm_fail(t, -EINVAL, "credential secret is malformed");
	ret = blob_load(t, blob, blob_len, KIND_SIGNKEY, &kb, &ak);
	if (ret)
		return ret;
	if (kb.pcr_mask) {
		ret = tpm_fail(t, -EINVAL, "the attestation key must not be PCR-bound");
		goto out;
	}
	ret = ek_create(t, &ek, &ekpub);
	if (ret)
		goto out;
	ret = ek_policy_session(t, &s);
	if (ret)
		goto out;
	/* activateHandle (the AK) needs the ADMIN role: its empty password
	 * works because adminWithPolicy is clear on an unbound signing key. */
	rc = Esys_ActivateCredential(t->esys, ak, ek, ESYS_TR_PASSWORD, s,
				     ESYS_TR_NONE, &id, &es, &info);
	if (rc) {
		TSS2_RC base = tpm_rc_base(rc);

		/* INTEGRITY and ECC_POINT: the HMAC or the seed point fails,
		 * so it was made for another EK or key. SIZE and VALUE: a
		 * field's length or the unwrapped seed is wrong, which is a
		 * damaged blob as often as a foreign one: say both. */
		if (base == TPM2_RC_INTEGRITY || base == TPM2_RC_ECC_POINT)
			ret = tpm_fail(t, -EACCES, "ActivateCredential: the credential "
				       "was not made for this EK and key");
		else if (base == TPM2_RC_SIZE || base == TPM2_RC_VALUE)
			ret = tpm_fail(t, -EINVAL, "ActivateCredential: the credential is "
				       "malformed or not made for this EK and key (TPM_RC_%s)",
				       base == TPM2_RC_SIZE ? "SIZE" : "VALUE");
		else
			ret = tpm_fail_rc(t, "ActivateCredential", rc);
		goto out;
	}
	if (info->size > 64) {
		ret = tpm_fail(t, -EIO, "TPM returned an oversized credential");
		goto out;
	}
	memcpy(out, info->buffer, info->size);
	*out_len = info->size;
out:
	if (info)
		OPENSSL_cleanse(info->buffer, sizeof(info->buffer));
	Esys_Free(info);
	Esys_Free(ekpub);
	tpm_flush(t, &s);
	tpm_flush(t, &ek);
	tpm_flush(t, &ak);
	return ret;
}
