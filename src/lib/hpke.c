/* hpke: RFC 9180 base mode from OpenSSL 3.0 EVP primitives (3.0 has no HPKE
 * API): DHKEM(P-256, HKDF-SHA256) §4.1/§7.1, key schedule §5.1, AEAD §5.2,
 * export §5.3. KMS seals volume keys with it; the host opens them with its
 * TPM-resident key through the dh callback. */
#include "hpke.h"

#include "secmem.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/params.h>

#define NH 32 /* HKDF-SHA256 Nh */
#define NN 12 /* AES-GCM Nn */
#define NSK 32
#define NSECRET 32
#define MAX_EXPORT_CTX 512 /* OpenSSL 3.0 bounds the HKDF info it keeps */
#define MAX_PT (1u << 30)

struct hpke_ctx {
	uint16_t aead_id;
	size_t nk;
	uint64_t seq;
	uint8_t key[32];
	uint8_t base_nonce[NN];
	uint8_t exporter_secret[NH];
};

/* §4.1: suite_id for the KEM's own labeled functions. */
static const uint8_t kem_suite[5] = { 'K', 'E', 'M', 0x00, 0x10 };

static void hpke_suite(uint16_t aead_id, uint8_t s[10])
{
	/* §5.1: "HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2) */
	static const uint8_t head[8] = { 'H', 'P', 'K', 'E', 0x00, 0x10, 0x00, 0x01 };

	memcpy(s, head, 8);
	s[8] = (uint8_t)(aead_id >> 8);
	s[9] = (uint8_t)aead_id;
}

static size_t aead_nk(uint16_t aead_id)
{
	switch (aead_id) {
	case HPKE_AEAD_AES128GCM:
		return 16;
	case HPKE_AEAD_AES256GCM:
		return 32;
	default:
		return 0;
	}
}

/* Fetched once: name lookups in the provider store on every HKDF call and
 * a fresh P-256 group (with its precomputation) on every key check cost a
 * KMS answering Decrypt-with-Recipient ~15 % of its time. Both objects are
 * only read after this, which OpenSSL allows from any thread. */
static EVP_KDF *hkdf_alg;
static EC_GROUP *p256;
static pthread_once_t fetched = PTHREAD_ONCE_INIT;

static void fetch_once(void)
{
	hkdf_alg = EVP_KDF_fetch(NULL, "HKDF", NULL);
	p256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
}

static const EC_GROUP *p256_group(void)
{
	pthread_once(&fetched, fetch_once);
	return p256;
}

static int hkdf_run(int mode, const uint8_t *key, size_t key_len, const char *pname,
		    const uint8_t *p, size_t p_len, uint8_t *out, size_t out_len)
{
	OSSL_PARAM params[5], *q = params;
	EVP_KDF_CTX *kctx;
	int rc = -EIO;

	pthread_once(&fetched, fetch_once);
	if (!hkdf_alg)
		return -ENOSYS;
	kctx = EVP_KDF_CTX_new(hkdf_alg);
	if (!kctx)
		return -ENOMEM;
	*q++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, key_len);
	*q++ = OSSL_PARAM_construct_octet_string(pname, (void *)p, p_len);
	*q = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, out_len, params) > 0)
		rc = 0;
	EVP_KDF_CTX_free(kctx);
	return rc;
}

/* §4: LabeledExtract(salt, label, ikm) =
 *     Extract(salt, "HPKE-v1" || suite_id || label || ikm) */
static int labeled_extract(const uint8_t *suite, size_t suite_len, const uint8_t *salt,
			   size_t salt_len, const char *label, const uint8_t *ikm,
			   size_t ikm_len, uint8_t prk[NH])
{
	/* RFC 5869 §2.2: an absent salt is HashLen zeros (same HMAC key). */
	static const uint8_t zeros[NH];
	size_t label_len = strlen(label), n = 7 + suite_len + label_len + ikm_len;
	uint8_t *buf;
	int rc;

	buf = OPENSSL_malloc(n);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, "HPKE-v1", 7);
	memcpy(buf + 7, suite, suite_len);
	memcpy(buf + 7 + suite_len, label, label_len);
	if (ikm_len)
		memcpy(buf + 7 + suite_len + label_len, ikm, ikm_len);
	rc = hkdf_run(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, buf, n, OSSL_KDF_PARAM_SALT,
		      salt_len ? salt : zeros, salt_len ? salt_len : NH, prk, NH);
	OPENSSL_clear_free(buf, n); /* ikm is often a DH output or shared secret */
	return rc;
}

/* §4: LabeledExpand(prk, label, info, L) =
 *     Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info, L) */
static int labeled_expand(const uint8_t *suite, size_t suite_len, const uint8_t prk[NH],
			  const char *label, const uint8_t *info, size_t info_len,
			  uint8_t *out, size_t L)
{
	size_t label_len = strlen(label), n = 2 + 7 + suite_len + label_len + info_len;
	uint8_t *buf;
	int rc;

	if (L > 255 * NH)
		return -EINVAL;
	buf = OPENSSL_malloc(n);
	if (!buf)
		return -ENOMEM;
	buf[0] = (uint8_t)(L >> 8);
	buf[1] = (uint8_t)L;
	memcpy(buf + 2, "HPKE-v1", 7);
	memcpy(buf + 9, suite, suite_len);
	memcpy(buf + 9 + suite_len, label, label_len);
	if (info_len)
		memcpy(buf + 9 + suite_len + label_len, info, info_len);
	rc = hkdf_run(EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, NH, OSSL_KDF_PARAM_INFO, buf, n, out, L);
	OPENSSL_free(buf);
	return rc;
}

/* Deserialize and validate a P-256 public key (§7.1.4: the recipient MUST
 * validate enc; an off-curve point would turn the TPM's ECDH into an oracle
 * on its private key). Uncompressed form only. */
static int p256_check(const uint8_t pk[HPKE_PK_LEN])
{
	const EC_GROUP *g = p256_group();
	EC_POINT *pt = NULL;
	int ok = 0;

	if (pk[0] != 0x04)
		return -EINVAL;
	if (g)
		pt = EC_POINT_new(g);
	/* oct2point also refuses coordinates outside [0, p). P-256 has
	 * cofactor 1: on the curve and not infinity is full validation. */
	if (pt)
		ok = EC_POINT_oct2point(g, pt, pk, HPKE_PK_LEN, NULL) == 1 &&
		     !EC_POINT_is_at_infinity(g, pt) && EC_POINT_is_on_curve(g, pt, NULL) == 1;
	EC_POINT_free(pt);
	return ok ? 0 : -EINVAL;
}

static int p256_from_params(OSSL_PARAM *params, int selection, EVP_PKEY **out)
{
	EVP_PKEY_CTX *pctx;
	int rc = -EINVAL;

	*out = NULL;
	pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!pctx)
		return -ENOMEM;
	if (EVP_PKEY_fromdata_init(pctx) > 0 && EVP_PKEY_fromdata(pctx, out, selection, params) > 0)
		rc = 0;
	EVP_PKEY_CTX_free(pctx);
	return rc;
}

static int p256_public_pkey(const uint8_t pk[HPKE_PK_LEN], EVP_PKEY **out)
{
	OSSL_PARAM params[3];
	int rc;

	rc = p256_check(pk);
	if (rc)
		return rc;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pk, HPKE_PK_LEN);
	params[2] = OSSL_PARAM_construct_end();
	return p256_from_params(params, EVP_PKEY_PUBLIC_KEY, out);
}

int hpke_public_key(const EVP_PKEY *key, uint8_t pk[HPKE_PK_LEN])
{
	char group[32];
	size_t len = 0;

	if (!key || !EVP_PKEY_is_a(key, "EC") ||
	    !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) ||
	    (strcmp(group, "prime256v1") && strcmp(group, "P-256")))
		return -EINVAL;
	if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pk, HPKE_PK_LEN, &len) ||
	    len != HPKE_PK_LEN || pk[0] != 0x04)
		return -EINVAL;
	return 0;
}

int hpke_dh_pkey(void *ctx, const uint8_t peer_pub[HPKE_PK_LEN], uint8_t z[HPKE_DH_LEN])
{
	EVP_PKEY *sk = ctx, *peer = NULL;
	EVP_PKEY_CTX *dctx = NULL;
	size_t zlen = HPKE_DH_LEN;
	int rc;

	if (!sk)
		return -EINVAL;
	rc = p256_public_pkey(peer_pub, &peer);
	if (rc)
		return rc;
	rc = -EIO;
	dctx = EVP_PKEY_CTX_new_from_pkey(NULL, sk, NULL);
	/* The peer passed p256_check (full validation for a cofactor-1
	 * curve); OpenSSL's own check would add a scalar multiplication. */
	if (dctx && EVP_PKEY_derive_init(dctx) > 0 && EVP_PKEY_derive_set_peer_ex(dctx, peer, 0) > 0 &&
	    EVP_PKEY_derive(dctx, z, &zlen) > 0 && zlen == HPKE_DH_LEN)
		rc = 0;
	if (rc)
		OPENSSL_cleanse(z, HPKE_DH_LEN);
	EVP_PKEY_CTX_free(dctx);
	EVP_PKEY_free(peer);
	return rc;
}

int hpke_generate_keypair(EVP_PKEY **out)
{
	*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return *out ? 0 : -EIO;
}

/* sk as a key pair: pk = sk * G, both handed to the provider. */
static int p256_keypair(const BIGNUM *sk, const EC_GROUP *g, EVP_PKEY **out)
{
	uint8_t pub[HPKE_PK_LEN];
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EC_POINT *pt;
	int rc = -EIO;

	pt = EC_POINT_new(g);
	if (!pt || !EC_POINT_mul(g, pt, sk, NULL, NULL, NULL) ||
	    EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof(pub), NULL) != sizeof(pub))
		goto out;
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, sk) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	if (params)
		rc = p256_from_params(params, EVP_PKEY_KEYPAIR, out);
out:
	OSSL_PARAM_free(params); /* clears its (secure-heap) copy of sk */
	OSSL_PARAM_BLD_free(bld);
	EC_POINT_free(pt);
	return rc;
}

int hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len, EVP_PKEY **out)
{
	uint8_t prk[NH], cand[NSK];
	BIGNUM *sk = NULL;
	EC_GROUP *g;
	int rc = -EIO;

	*out = NULL;
	/* §7.1.3: ikm SHOULD carry at least Nsk bytes of entropy. */
	if (!ikm || ikm_len < NSK || ikm_len > HPKE_MAX_INFO)
		return -EINVAL;
	g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	sk = BN_secure_new();
	if (!g || !sk)
		goto out;
	rc = labeled_extract(kem_suite, sizeof(kem_suite), NULL, 0, "dkp_prk", ikm, ikm_len, prk);
	if (rc)
		goto out;
	/* Rejection sampling: candidates until 0 < sk < order (bitmask 0xff). */
	rc = -EIO;
	for (unsigned counter = 0; counter < 256; counter++) {
		uint8_t c = (uint8_t)counter;

		if (labeled_expand(kem_suite, sizeof(kem_suite), prk, "candidate", &c, 1, cand, NSK) ||
		    !BN_bin2bn(cand, NSK, sk))
			goto out;
		if (!BN_is_zero(sk) && BN_cmp(sk, EC_GROUP_get0_order(g)) < 0) {
			rc = 0;
			break;
		}
	}
	if (!rc)
		rc = p256_keypair(sk, g, out);
out:
	OPENSSL_cleanse(prk, sizeof(prk));
	OPENSSL_cleanse(cand, sizeof(cand));
	BN_clear_free(sk);
	EC_GROUP_free(g);
	return rc;
}

/* §4.1 ExtractAndExpand(dh, kem_context) with kem_context = enc || pkRm. */
static int kem_shared_secret(const uint8_t z[HPKE_DH_LEN], const uint8_t enc[HPKE_ENC_LEN],
			     const uint8_t pkR[HPKE_PK_LEN], uint8_t ss[NSECRET])
{
	uint8_t kem_ctx[HPKE_ENC_LEN + HPKE_PK_LEN], prk[NH];
	int rc;

	memcpy(kem_ctx, enc, HPKE_ENC_LEN);
	memcpy(kem_ctx + HPKE_ENC_LEN, pkR, HPKE_PK_LEN);
	rc = labeled_extract(kem_suite, sizeof(kem_suite), NULL, 0, "eae_prk", z, HPKE_DH_LEN, prk);
	if (!rc)
		rc = labeled_expand(kem_suite, sizeof(kem_suite), prk, "shared_secret", kem_ctx,
				    sizeof(kem_ctx), ss, NSECRET);
	OPENSSL_cleanse(prk, sizeof(prk));
	return rc;
}

/* §5.1 KeyScheduleS/R for mode_base (psk and psk_id empty). */
static int key_schedule(uint16_t aead_id, const uint8_t ss[NSECRET], const uint8_t *info,
			size_t info_len, struct hpke_ctx **out)
{
	uint8_t suite[10], ksc[1 + 2 * NH], secret[NH];
	struct hpke_ctx *c;
	int rc;

	hpke_suite(aead_id, suite);
	ksc[0] = 0x00; /* mode_base */
	rc = labeled_extract(suite, sizeof(suite), NULL, 0, "psk_id_hash", NULL, 0, ksc + 1);
	if (!rc)
		rc = labeled_extract(suite, sizeof(suite), NULL, 0, "info_hash", info, info_len,
				     ksc + 1 + NH);
	if (!rc)
		rc = labeled_extract(suite, sizeof(suite), ss, NSECRET, "secret", NULL, 0, secret);
	if (rc)
		goto out;
	c = secmem_alloc(sizeof(*c));
	if (!c) {
		rc = -ENOMEM;
		goto out;
	}
	c->aead_id = aead_id;
	c->nk = aead_nk(aead_id);
	c->seq = 0;
	rc = labeled_expand(suite, sizeof(suite), secret, "key", ksc, sizeof(ksc), c->key, c->nk);
	if (!rc)
		rc = labeled_expand(suite, sizeof(suite), secret, "base_nonce", ksc, sizeof(ksc),
				    c->base_nonce, NN);
	if (!rc)
		rc = labeled_expand(suite, sizeof(suite), secret, "exp", ksc, sizeof(ksc),
				    c->exporter_secret, NH);
	if (rc)
		hpke_ctx_free(c);
	else
		*out = c;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	return rc;
}

static int setup_args_ok(uint16_t aead_id, const uint8_t *info, size_t info_len,
			 struct hpke_ctx **out)
{
	if (!out)
		return 0;
	*out = NULL;
	return aead_nk(aead_id) && (info || !info_len) && info_len <= HPKE_MAX_INFO;
}

/* §4.1 Encap with a given ephemeral key, then the key schedule. */
static int setup_s_with(uint16_t aead_id, const uint8_t pkR[HPKE_PK_LEN], const uint8_t *info,
			size_t info_len, EVP_PKEY *skE, uint8_t enc[HPKE_ENC_LEN],
			struct hpke_ctx **out)
{
	uint8_t z[HPKE_DH_LEN], ss[NSECRET];
	int rc;

	rc = hpke_public_key(skE, enc);
	if (!rc)
		rc = hpke_dh_pkey(skE, pkR, z); /* validates pkR */
	if (!rc)
		rc = kem_shared_secret(z, enc, pkR, ss);
	if (!rc)
		rc = key_schedule(aead_id, ss, info, info_len, out);
	OPENSSL_cleanse(z, sizeof(z));
	OPENSSL_cleanse(ss, sizeof(ss));
	return rc;
}

int hpke_setup_base_s(uint16_t aead_id, const uint8_t pkR[HPKE_PK_LEN],
		      const uint8_t *info, size_t info_len,
		      uint8_t enc[HPKE_ENC_LEN], struct hpke_ctx **out)
{
	EVP_PKEY *skE;
	int rc;

	if (!setup_args_ok(aead_id, info, info_len, out) || !pkR || !enc)
		return -EINVAL;
	rc = hpke_generate_keypair(&skE);
	if (rc)
		return rc;
	rc = setup_s_with(aead_id, pkR, info, info_len, skE, enc, out);
	EVP_PKEY_free(skE);
	return rc;
}

int hpke_setup_base_s_derand(uint16_t aead_id, const uint8_t pkR[HPKE_PK_LEN],
			     const uint8_t *info, size_t info_len,
			     const uint8_t *ikmE, size_t ikmE_len,
			     uint8_t enc[HPKE_ENC_LEN], struct hpke_ctx **out)
{
	EVP_PKEY *skE;
	int rc;

	if (!setup_args_ok(aead_id, info, info_len, out) || !pkR || !enc)
		return -EINVAL;
	rc = hpke_derive_keypair(ikmE, ikmE_len, &skE);
	if (rc)
		return rc;
	rc = setup_s_with(aead_id, pkR, info, info_len, skE, enc, out);
	EVP_PKEY_free(skE);
	return rc;
}

int hpke_setup_base_r(uint16_t aead_id, const uint8_t enc[HPKE_ENC_LEN],
		      const uint8_t pkR[HPKE_PK_LEN], hpke_dh_fn dh, void *dh_ctx,
		      const uint8_t *info, size_t info_len, struct hpke_ctx **out)
{
	uint8_t z[HPKE_DH_LEN], ss[NSECRET];
	int rc;

	if (!setup_args_ok(aead_id, info, info_len, out) || !enc || !pkR || !dh)
		return -EINVAL;
	rc = p256_check(enc);
	if (!rc)
		rc = p256_check(pkR);
	if (rc)
		return rc;
	rc = dh(dh_ctx, enc, z);
	if (!rc)
		rc = kem_shared_secret(z, enc, pkR, ss);
	if (!rc)
		rc = key_schedule(aead_id, ss, info, info_len, out);
	OPENSSL_cleanse(z, sizeof(z));
	OPENSSL_cleanse(ss, sizeof(ss));
	return rc;
}

/* §5.2 ComputeNonce: base_nonce XOR I2OSP(seq, Nn). */
static void compute_nonce(const struct hpke_ctx *c, uint8_t nonce[NN])
{
	memcpy(nonce, c->base_nonce, NN);
	for (int i = 0; i < 8; i++)
		nonce[NN - 1 - i] ^= (uint8_t)(c->seq >> (8 * i));
}

static const EVP_CIPHER *aead_cipher(const struct hpke_ctx *c)
{
	return c->aead_id == HPKE_AEAD_AES128GCM ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
}

static int aead_args_ok(const struct hpke_ctx *c, const uint8_t *aad, size_t aad_len,
			const uint8_t *in, size_t in_len, const uint8_t *out)
{
	return c && (aad || !aad_len) && aad_len <= HPKE_MAX_INFO && (in || !in_len) &&
	       in_len <= MAX_PT + HPKE_TAG_LEN && out;
}

int hpke_seal(struct hpke_ctx *c, const uint8_t *aad, size_t aad_len,
	      const uint8_t *pt, size_t pt_len, uint8_t *ct)
{
	uint8_t nonce[NN];
	EVP_CIPHER_CTX *x;
	int len, rc = -EIO;

	if (!aead_args_ok(c, aad, aad_len, pt, pt_len, ct) || pt_len > MAX_PT)
		return -EINVAL;
	/* §5.2: the sequence number must never wrap and repeat a nonce. */
	if (c->seq == UINT64_MAX)
		return -EOVERFLOW;
	x = EVP_CIPHER_CTX_new();
	if (!x)
		return -ENOMEM;
	compute_nonce(c, nonce);
	if (EVP_EncryptInit_ex(x, aead_cipher(c), NULL, c->key, nonce) == 1 &&
	    (!aad_len || EVP_EncryptUpdate(x, NULL, &len, aad, (int)aad_len) == 1) &&
	    (!pt_len || EVP_EncryptUpdate(x, ct, &len, pt, (int)pt_len) == 1) &&
	    EVP_EncryptFinal_ex(x, ct + pt_len, &len) == 1 &&
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, HPKE_TAG_LEN, ct + pt_len) == 1)
		rc = 0;
	EVP_CIPHER_CTX_free(x);
	if (!rc)
		c->seq++;
	return rc;
}

int hpke_open(struct hpke_ctx *c, const uint8_t *aad, size_t aad_len,
	      const uint8_t *ct, size_t ct_len, uint8_t *pt)
{
	uint8_t nonce[NN], tag[HPKE_TAG_LEN];
	size_t pt_len;
	EVP_CIPHER_CTX *x;
	int len, rc = -EIO;

	if (!aead_args_ok(c, aad, aad_len, ct, ct_len, pt))
		return -EINVAL;
	if (ct_len < HPKE_TAG_LEN)
		return -EBADMSG;
	if (c->seq == UINT64_MAX)
		return -EOVERFLOW;
	pt_len = ct_len - HPKE_TAG_LEN;
	memcpy(tag, ct + pt_len, HPKE_TAG_LEN);
	x = EVP_CIPHER_CTX_new();
	if (!x)
		return -ENOMEM;
	compute_nonce(c, nonce);
	if (EVP_DecryptInit_ex(x, aead_cipher(c), NULL, c->key, nonce) == 1 &&
	    (!aad_len || EVP_DecryptUpdate(x, NULL, &len, aad, (int)aad_len) == 1) &&
	    (!pt_len || EVP_DecryptUpdate(x, pt, &len, ct, (int)pt_len) == 1) &&
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, HPKE_TAG_LEN, tag) == 1)
		rc = EVP_DecryptFinal_ex(x, pt + pt_len, &len) == 1 ? 0 : -EBADMSG;
	EVP_CIPHER_CTX_free(x);
	if (rc) {
		/* Unauthenticated plaintext never leaves this function. */
		OPENSSL_cleanse(pt, pt_len);
		return rc;
	}
	c->seq++;
	return 0;
}

int hpke_export(const struct hpke_ctx *c, const uint8_t *exp_ctx, size_t exp_len,
		uint8_t *out, size_t L)
{
	uint8_t suite[10];

	if (!c || !out || (!exp_ctx && exp_len) || exp_len > MAX_EXPORT_CTX || L == 0 ||
	    L > 255 * NH)
		return -EINVAL;
	hpke_suite(c->aead_id, suite);
	return labeled_expand(suite, sizeof(suite), c->exporter_secret, "sec", exp_ctx, exp_len,
			      out, L);
}

void hpke_ctx_free(struct hpke_ctx *c)
{
	secmem_free(c, sizeof(*c));
}

int hpke_seal_blob(const uint8_t pkR[HPKE_PK_LEN], const uint8_t *info, size_t info_len,
		   const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
		   uint8_t *out, size_t out_size, size_t *out_len)
{
	struct hpke_ctx *c;
	int rc;

	if (!out || !out_len)
		return -EINVAL;
	*out_len = 0;
	if (out_size < HPKE_SEALED_OVERHEAD || pt_len > out_size - HPKE_SEALED_OVERHEAD)
		return -ENOSPC;
	rc = hpke_setup_base_s(HPKE_AEAD_AES256GCM, pkR, info, info_len, out, &c);
	if (rc)
		return rc;
	rc = hpke_seal(c, aad, aad_len, pt, pt_len, out + HPKE_ENC_LEN);
	hpke_ctx_free(c);
	if (!rc)
		*out_len = pt_len + HPKE_SEALED_OVERHEAD;
	return rc;
}

int hpke_open_with_dh(const uint8_t *blob, size_t blob_len, const uint8_t pkR[HPKE_PK_LEN],
		      hpke_dh_fn dh, void *dh_ctx, const uint8_t *info, size_t info_len,
		      const uint8_t *aad, size_t aad_len,
		      uint8_t *pt, size_t pt_size, size_t *pt_len)
{
	struct hpke_ctx *c;
	int rc;

	if (!blob || !pt_len)
		return -EINVAL;
	*pt_len = 0;
	if (blob_len < HPKE_SEALED_OVERHEAD)
		return -EBADMSG;
	if (pt_size < blob_len - HPKE_SEALED_OVERHEAD)
		return -ENOSPC;
	rc = hpke_setup_base_r(HPKE_AEAD_AES256GCM, blob, pkR, dh, dh_ctx, info, info_len, &c);
	if (rc)
		return rc;
	rc = hpke_open(c, aad, aad_len, blob + HPKE_ENC_LEN, blob_len - HPKE_ENC_LEN, pt);
	hpke_ctx_free(c);
	if (!rc)
		*pt_len = blob_len - HPKE_SEALED_OVERHEAD;
	return rc;
}
