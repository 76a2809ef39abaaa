/* quote: the verifier side of host attestation — EK/AK public areas,
 * MakeCredential in software with OpenSSL, and the quote + event log +
 * golden set check (docs/attestation.md). No TPM: ward-api runs it. */
#include "quote.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "tpm_eventlog.h"

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static EVP_PKEY *pkey_from_point(const uint8_t point[TPM_ECC_POINT_LEN])
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
						 (char *)"prime256v1", 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
						  (void *)point, TPM_ECC_POINT_LEN),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL), *chk = NULL;
	EVP_PKEY *k = NULL;

	if (!c || EVP_PKEY_fromdata_init(c) <= 0 ||
	    EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	/* fromdata does not promise an on-curve check: ask for one. */
	chk = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
	if (!chk || EVP_PKEY_public_check(chk) != 1) {
		EVP_PKEY_free(k);
		k = NULL;
	}
out:
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(c);
	return k;
}

/* TPM2B_PUBLIC -> TPMT_PUBLIC, with the name computed over the bytes as
 * received (what the TPM computes over its own copy). */
static int pub_parse(const uint8_t *pub, size_t len, TPMT_PUBLIC *p,
		     struct quote_key *out, char *err, size_t errlen)
{
	size_t off = 0, n;
	EVP_PKEY *k;
	uint8_t *d;

	memset(out, 0, sizeof(*out));
	if (!pub || len < 2 || len > QUOTE_PUB_MAX)
		return fail(err, errlen, -EBADMSG, "public area length %zu out of range", len);
	n = (size_t)pub[0] << 8 | pub[1];
	if (n != len - 2)
		return fail(err, errlen, -EBADMSG, "public area says %zu bytes, has %zu", n,
			    len - 2);
	memset(p, 0, sizeof(*p));
	if (Tss2_MU_TPMT_PUBLIC_Unmarshal(pub + 2, n, &off, p) || off != n)
		return fail(err, errlen, -EBADMSG, "public area is malformed");
	if (p->type != TPM2_ALG_ECC || p->nameAlg != TPM2_ALG_SHA256 ||
	    p->parameters.eccDetail.curveID != TPM2_ECC_NIST_P256)
		return fail(err, errlen, -EBADMSG, "key is not ECC P-256 with a SHA-256 name");
	if (p->unique.ecc.x.size != 32 || p->unique.ecc.y.size != 32)
		return fail(err, errlen, -EBADMSG, "key point coordinates are not 32 bytes");
	out->name[0] = TPM2_ALG_SHA256 >> 8;
	out->name[1] = TPM2_ALG_SHA256 & 0xff;
	if (!EVP_Digest(pub + 2, n, out->name + 2, NULL, EVP_sha256(), NULL))
		return fail(err, errlen, -ENOMEM, "cannot hash the public area");
	out->point[0] = 0x04;
	memcpy(out->point + 1, p->unique.ecc.x.buffer, 32);
	memcpy(out->point + 33, p->unique.ecc.y.buffer, 32);
	k = pkey_from_point(out->point);
	if (!k)
		return fail(err, errlen, -EBADMSG, "key point is not on P-256");
	d = out->spki;
	n = (size_t)i2d_PUBKEY(k, NULL);
	if (n != TPM_SPKI_LEN || i2d_PUBKEY(k, &d) != TPM_SPKI_LEN) {
		EVP_PKEY_free(k);
		return fail(err, errlen, -EBADMSG, "cannot encode the key");
	}
	EVP_PKEY_free(k);
	return 0;
}

#define AK_ATTRS_REQUIRED (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | \
	TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT)

int quote_ak_parse(const uint8_t *pub, size_t len, struct quote_key *out,
		   char *err, size_t errlen)
{
	TPMT_PUBLIC p;
	const TPMT_ECC_SCHEME *s;
	int rc = pub_parse(pub, len, &p, out, err, errlen);

	if (rc)
		return rc;
	/* restricted: it signs only what the TPM generated, so a "quote" cannot
	 * be a digest the host chose; fixedTPM + sensitiveDataOrigin: the
	 * private key was made in this TPM and never leaves it. */
	if ((p.objectAttributes & AK_ATTRS_REQUIRED) != AK_ATTRS_REQUIRED ||
	    (p.objectAttributes & TPMA_OBJECT_DECRYPT))
		return fail(err, errlen, -EBADMSG, "attestation key attributes 0x%x are not a "
			    "restricted, fixed, TPM-generated signing key",
			    (unsigned)p.objectAttributes);
	s = &p.parameters.eccDetail.scheme;
	if (s->scheme != TPM2_ALG_ECDSA || s->details.ecdsa.hashAlg != TPM2_ALG_SHA256 ||
	    p.parameters.eccDetail.symmetric.algorithm != TPM2_ALG_NULL ||
	    p.parameters.eccDetail.kdf.scheme != TPM2_ALG_NULL)
		return fail(err, errlen, -EBADMSG, "attestation key scheme is not ECDSA-SHA256");
	return 0;
}

int quote_ek_parse(const uint8_t *pub, size_t len, struct quote_key *out,
		   char *err, size_t errlen)
{
	TPMT_PUBLIC p;
	const TPMT_SYM_DEF_OBJECT *sym;
	int rc = pub_parse(pub, len, &p, out, err, errlen);
	TPMA_OBJECT want = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
		TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;

	if (rc)
		return rc;
	sym = &p.parameters.eccDetail.symmetric;
	if ((p.objectAttributes & want) != want ||
	    (p.objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT))
		return fail(err, errlen, -EBADMSG, "endorsement key attributes 0x%x are not a "
			    "restricted decryption key", (unsigned)p.objectAttributes);
	if (sym->algorithm != TPM2_ALG_AES || sym->keyBits.aes != 128 ||
	    sym->mode.aes != TPM2_ALG_CFB || p.parameters.eccDetail.scheme.scheme != TPM2_ALG_NULL)
		return fail(err, errlen, -EBADMSG, "endorsement key is not AES-128-CFB protected");
	return 0;
}

/* ---- MakeCredential (TPM 2.0 Part 1 §24, Part 1 §11.4.10 KDFs) ---- */

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* KDFa(SHA-256, key, label, u, v, bits) for bits <= 256: one HMAC over
 * [1]32 || label || 0 || u || v || [bits]32. */
static int kdfa(const uint8_t *key, size_t key_len, const char *label,
		const uint8_t *u, size_t u_len, unsigned bits, uint8_t out[32])
{
	uint8_t buf[4 + 16 + QUOTE_NAME_LEN + 4];
	size_t ll = strlen(label) + 1, n = 0;
	unsigned int ol = 0;

	if (bits > 256 || ll > 16 || u_len > QUOTE_NAME_LEN)
		return -EINVAL;
	put32(buf, 1);
	n = 4;
	memcpy(buf + n, label, ll);
	n += ll;
	if (u_len)
		memcpy(buf + n, u, u_len);
	n += u_len;
	put32(buf + n, bits);
	n += 4;
	if (!HMAC(EVP_sha256(), key, (int)key_len, buf, n, out, &ol) || ol != 32)
		return -EIO;
	return 0;
}

/* KDFe(SHA-256, Z, label, u, v, 256): SHA-256([1]32 || Z || label || 0 ||
 * u || v), u and v the x coordinates of the ephemeral and the EK point. */
static int kdfe(const uint8_t z[32], const char *label, const uint8_t u[32],
		const uint8_t v[32], uint8_t out[32])
{
	uint8_t buf[4 + 32 + 16 + 64];
	size_t ll = strlen(label) + 1, n = 0;
	int rc;

	if (ll > 16)
		return -EINVAL;
	put32(buf, 1);
	n = 4;
	memcpy(buf + n, z, 32);
	n += 32;
	memcpy(buf + n, label, ll);
	n += ll;
	memcpy(buf + n, u, 32);
	memcpy(buf + n + 32, v, 32);
	n += 64;
	rc = EVP_Digest(buf, n, out, NULL, EVP_sha256(), NULL) ? 0 : -EIO;
	OPENSSL_cleanse(buf, sizeof(buf));	/* it holds Z: with the public point, the seed */
	return rc;
}

/* The seed: ECDH of a fresh ephemeral key with the EK (Part 1 Annex C.6.4).
 * eph gets the ephemeral public point, uncompressed. */
static int ecc_seed(const struct quote_key *ek, uint8_t seed[32],
		    uint8_t eph[TPM_ECC_POINT_LEN])
{
	EVP_PKEY *e = NULL, *peer = pkey_from_point(ek->point);
	EVP_PKEY_CTX *c = NULL;
	uint8_t z[32];
	size_t zl = sizeof(z), pl = 0;
	int rc = -EIO;

	if (!peer)
		return -EINVAL;
	e = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!e || !EVP_PKEY_get_octet_string_param(e, OSSL_PKEY_PARAM_PUB_KEY, eph,
						    TPM_ECC_POINT_LEN, &pl) ||
	    pl != TPM_ECC_POINT_LEN || eph[0] != 0x04)
		goto out;
	c = EVP_PKEY_CTX_new(e, NULL);
	if (!c || EVP_PKEY_derive_init(c) <= 0 || EVP_PKEY_derive_set_peer(c, peer) <= 0 ||
	    EVP_PKEY_derive(c, z, &zl) <= 0 || zl != sizeof(z))
		goto out;
	rc = kdfe(z, "IDENTITY", eph + 1, ek->point + 1, seed);
out:
	OPENSSL_cleanse(z, sizeof(z));
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(e);
	EVP_PKEY_free(peer);
	return rc;
}

static int aes_cfb(const uint8_t key[16], const uint8_t *in, size_t len, uint8_t *out)
{
	static const uint8_t iv[16];
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l1 = 0, l2 = 0, rc = -EIO;

	if (c && EVP_EncryptInit_ex(c, EVP_aes_128_cfb128(), NULL, key, iv) &&
	    EVP_EncryptUpdate(c, out, &l1, in, (int)len) &&
	    EVP_EncryptFinal_ex(c, out + l1, &l2) && (size_t)(l1 + l2) == len)
		rc = 0;
	EVP_CIPHER_CTX_free(c);
	return rc;
}

int quote_make_credential(const struct quote_key *ek,
			  const uint8_t name[QUOTE_NAME_LEN],
			  const uint8_t *cred, size_t cred_len,
			  uint8_t **cred_blob, size_t *cred_blob_len,
			  uint8_t **secret, size_t *secret_len)
{
	uint8_t seed[32], sym[32], hkey[32], eph[TPM_ECC_POINT_LEN];
	uint8_t plain[2 + 64], mac_in[2 + 64 + QUOTE_NAME_LEN], mac[32];
	uint8_t *cb = NULL, *sb = NULL;
	size_t enc_len = 2 + cred_len;
	unsigned int ml = 0;
	int rc;

	*cred_blob = *secret = NULL;
	if (!cred || !cred_len || cred_len > 64)
		return -EINVAL;
	rc = ecc_seed(ek, seed, eph);
	if (rc)
		return rc;
	/* symKey = KDFa(seed, "STORAGE", name, -, 128): the EK's symmetric
	 * algorithm (AES-128-CFB, checked by quote_ek_parse). */
	rc = kdfa(seed, 32, "STORAGE", name, QUOTE_NAME_LEN, 128, sym);
	if (!rc)
		rc = kdfa(seed, 32, "INTEGRITY", NULL, 0, 256, hkey);
	if (rc)
		goto out;
	cb = malloc(2 + 2 + 32 + enc_len);
	sb = malloc(2 + 2 + 32 + 2 + 32);
	if (!cb || !sb) {
		rc = -ENOMEM;
		goto out;
	}
	/* encIdentity = CFB(symKey, IV 0, TPM2B_DIGEST(cred)) */
	plain[0] = (uint8_t)(cred_len >> 8);
	plain[1] = (uint8_t)cred_len;
	memcpy(plain + 2, cred, cred_len);
	rc = aes_cfb(sym, plain, enc_len, cb + 2 + 2 + 32);
	if (rc)
		goto out;
	/* outerHMAC = HMAC(HMACkey, encIdentity || name) */
	memcpy(mac_in, cb + 36, enc_len);
	memcpy(mac_in + enc_len, name, QUOTE_NAME_LEN);
	if (!HMAC(EVP_sha256(), hkey, 32, mac_in, enc_len + QUOTE_NAME_LEN, mac, &ml) ||
	    ml != 32) {
		rc = -EIO;
		goto out;
	}
	/* TPM2B_ID_OBJECT: size || TPM2B_DIGEST(outerHMAC) || encIdentity */
	cb[0] = (uint8_t)((2 + 32 + enc_len) >> 8);
	cb[1] = (uint8_t)(2 + 32 + enc_len);
	cb[2] = 0;
	cb[3] = 32;
	memcpy(cb + 4, mac, 32);
	/* TPM2B_ENCRYPTED_SECRET holding the TPMS_ECC_POINT of the ephemeral key */
	sb[0] = 0;
	sb[1] = 68;
	sb[2] = 0;
	sb[3] = 32;
	memcpy(sb + 4, eph + 1, 32);
	sb[36] = 0;
	sb[37] = 32;
	memcpy(sb + 38, eph + 33, 32);
	*cred_blob = cb;
	*cred_blob_len = 4 + 32 + enc_len;
	*secret = sb;
	*secret_len = 70;
	cb = sb = NULL;
out:
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(sym, sizeof(sym));
	OPENSSL_cleanse(hkey, sizeof(hkey));
	OPENSSL_cleanse(plain, sizeof(plain));
	OPENSSL_cleanse(mac_in, sizeof(mac_in));
	free(cb);
	free(sb);
	return rc;
}

/* ---- Golden set ---- */

struct golden_release {
	char name[QUOTE_RELEASE_MAX + 1];
	unsigned n;
	struct {
		uint8_t pcr;
		uint8_t digest[TPM_DIGEST_LEN];
	} ev[QUOTE_GOLDEN_EVENTS];
};

struct quote_golden {
	unsigned n;
	struct golden_release *r;
};

#define GOLDEN_RELEASES_MAX	256

static bool is_boot_pcr(unsigned pcr)
{
	return pcr < TPM_NUM_PCRS && (TPM_BOOT_PCRS & TPM_PCR_BIT(pcr));
}

static bool release_char(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_';
}

static int hex32(const char *s, size_t n, uint8_t out[TPM_DIGEST_LEN])
{
	if (n != 2 * TPM_DIGEST_LEN)
		return -1;
	for (size_t i = 0; i < TPM_DIGEST_LEN; i++) {
		unsigned v = 0;

		for (int j = 0; j < 2; j++) {
			char c = s[2 * i + j];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else
				return -1;
		}
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* One line, already split at its end: "release NAME", "pcr N HEX [text]",
 * a comment or blank. */
static int golden_line(struct quote_golden *g, const char *s, size_t n,
		       char *err, size_t errlen, unsigned lineno)
{
	struct golden_release *r;
	size_t i = 0, w;
	unsigned pcr = 0;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == n || s[i] == '#')
		return 0;
	s += i;
	n -= i;
	if (n > 8 && !memcmp(s, "release ", 8)) {
		s += 8;
		n -= 8;
		for (w = 0; w < n && release_char(s[w]); w++)
			;
		if (!w || w > QUOTE_RELEASE_MAX || w != n)
			return fail(err, errlen, -EBADMSG, "golden set line %u: a release name is "
				    "1-%d of [A-Za-z0-9._-]", lineno, QUOTE_RELEASE_MAX);
		for (unsigned k = 0; k < g->n; k++)
			if (strlen(g->r[k].name) == w && !memcmp(g->r[k].name, s, w))
				return fail(err, errlen, -EBADMSG,
					    "golden set line %u: release listed twice", lineno);
		if (g->n == GOLDEN_RELEASES_MAX)
			return fail(err, errlen, -EBADMSG, "golden set: more than %d releases",
				    GOLDEN_RELEASES_MAX);
		r = realloc(g->r, (g->n + 1) * sizeof(*r));
		if (!r)
			return -ENOMEM;
		g->r = r;
		memset(&r[g->n], 0, sizeof(*r));
		memcpy(r[g->n].name, s, w);
		g->n++;
		return 0;
	}
	if (n < 4 || memcmp(s, "pcr ", 4))
		return fail(err, errlen, -EBADMSG, "golden set line %u: expected \"release\" or "
			    "\"pcr\"", lineno);
	if (!g->n)
		return fail(err, errlen, -EBADMSG, "golden set line %u: pcr before any release",
			    lineno);
	r = &g->r[g->n - 1];
	s += 4;
	n -= 4;
	for (w = 0; w < n && w < 3 && s[w] >= '0' && s[w] <= '9'; w++)
		pcr = pcr * 10 + (unsigned)(s[w] - '0');
	if (!w || w >= n || s[w] != ' ' || !is_boot_pcr(pcr))
		return fail(err, errlen, -EBADMSG, "golden set line %u: PCR must be 12, 13 or 15",
			    lineno);
	s += w + 1;
	n -= w + 1;
	for (w = 0; w < n && s[w] != ' ' && s[w] != '\t'; w++)
		;
	if (r->n == QUOTE_GOLDEN_EVENTS)
		return fail(err, errlen, -EBADMSG, "golden set line %u: more than %d "
			    "measurements in one release", lineno, QUOTE_GOLDEN_EVENTS);
	if (hex32(s, w, r->ev[r->n].digest))
		return fail(err, errlen, -EBADMSG, "golden set line %u: a digest is 64 lowercase "
			    "hex digits", lineno);
	r->ev[r->n++].pcr = (uint8_t)pcr;
	return 0;
}

int quote_golden_parse(const char *text, size_t len, struct quote_golden **out,
		       char *err, size_t errlen)
{
	struct quote_golden *g = calloc(1, sizeof(*g));
	size_t i = 0;
	unsigned lineno = 0;
	int rc = 0;

	*out = NULL;
	if (!g)
		return -ENOMEM;
	if (len > (1u << 20))
		rc = fail(err, errlen, -EBADMSG, "golden set is larger than 1 MiB");
	while (!rc && i < len) {
		size_t e = i;

		while (e < len && text[e] != '\n')
			e++;
		lineno++;
		for (size_t k = i; k < e; k++)
			if (!text[k] || (unsigned char)text[k] > 0x7e ||
			    ((unsigned char)text[k] < 0x20 && text[k] != '\t'))
				rc = fail(err, errlen, -EBADMSG,
					  "golden set line %u: not printable ASCII", lineno);
		if (!rc)
			rc = golden_line(g, text + i, e - i, err, errlen, lineno);
		i = e + 1;
	}
	for (unsigned k = 0; !rc && k < g->n; k++) {
		bool has12 = false;

		for (unsigned j = 0; j < g->r[k].n; j++)
			has12 |= g->r[k].ev[j].pcr == TPM_PCR_BOOT;
		if (!has12)
			rc = fail(err, errlen, -EBADMSG, "golden set: release %s has no PCR 12 "
				  "(controller) measurement", g->r[k].name);
	}
	if (!rc && !g->n)
		rc = fail(err, errlen, -EBADMSG, "golden set names no release");
	if (rc) {
		quote_golden_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

void quote_golden_free(struct quote_golden *g)
{
	if (!g)
		return;
	free(g->r);
	free(g);
}

static const struct golden_release *golden_find(const struct quote_golden *g,
						const char *release)
{
	for (unsigned k = 0; g && release && k < g->n; k++)
		if (!strcmp(g->r[k].name, release))
			return &g->r[k];
	return NULL;
}

int quote_golden_has(const struct quote_golden *g, const char *release)
{
	return golden_find(g, release) ? 0 : -ENOENT;
}

/* Walking the log against a release: the i-th measurement of each boot
 * PCR must be the release's i-th for that PCR, and no other PCR may be
 * measured (the quote would not cover it). */
struct golden_walk {
	const struct golden_release *r;
	unsigned seen[TPM_NUM_PCRS];
	char why[200];
};

static int golden_event(const struct tpm_event *ev, void *arg)
{
	struct golden_walk *w = arg;
	unsigned k = 0, j;

	if (ev->type == TPM_EV_NO_ACTION)
		return 0;
	if (!is_boot_pcr(ev->pcr)) {
		snprintf(w->why, sizeof(w->why), "the event log measures PCR %u, which ward's "
			 "boot does not use", ev->pcr);
		return -EPERM;
	}
	for (j = 0; j < w->r->n; j++) {
		if (w->r->ev[j].pcr != ev->pcr)
			continue;
		if (k++ < w->seen[ev->pcr])
			continue;
		break;
	}
	if (j == w->r->n) {
		snprintf(w->why, sizeof(w->why), "PCR %u has more measurements than release "
			 "%s lists", ev->pcr, w->r->name);
		return -EPERM;
	}
	w->seen[ev->pcr]++;
	if (CRYPTO_memcmp(w->r->ev[j].digest, ev->digest, TPM_DIGEST_LEN)) {
		snprintf(w->why, sizeof(w->why), "PCR %u measurement %u (digest "
			 "%02x%02x%02x%02x...) is not release %s's", ev->pcr, w->seen[ev->pcr],
			 ev->digest[0], ev->digest[1], ev->digest[2], ev->digest[3], w->r->name);
		return -EPERM;
	}
	return 0;
}

static int golden_check(const struct golden_release *r, const uint8_t *log, size_t len,
			char *err, size_t errlen)
{
	struct golden_walk w = { .r = r };
	char e[160] = "";
	int rc = tpm_eventlog_parse(log, len, golden_event, &w, e, sizeof(e));

	if (rc == -EPERM)
		return fail(err, errlen, -EPERM, "%s", w.why);
	if (rc)
		return fail(err, errlen, -EBADMSG, "event log: %s", e);
	for (unsigned j = 0, k[TPM_NUM_PCRS] = { 0 }; j < r->n; j++)
		if (++k[r->ev[j].pcr] > w.seen[r->ev[j].pcr])
			return fail(err, errlen, -EPERM, "PCR %u lacks measurement %u of release "
				    "%s", r->ev[j].pcr, k[r->ev[j].pcr], r->name);
	return 0;
}

int quote_golden_check(const struct quote_golden *g, const char *release, const uint8_t *log,
		       size_t len, char *err, size_t errlen)
{
	const struct golden_release *r = golden_find(g, release);

	if (!r)
		return fail(err, errlen, -EPERM, "no golden set for release \"%s\"",
			    release ? release : "");
	return golden_check(r, log, len, err, errlen);
}

/* ---- The quote ---- */

int quote_attest_parse(const uint8_t *attest, size_t len, struct quote_attest *out,
		       char *err, size_t errlen)
{
	const TPMS_PCR_SELECTION *ps;
	TPMS_ATTEST a;
	size_t off = 0;

	memset(out, 0, sizeof(*out));
	memset(&a, 0, sizeof(a));
	if (!attest || !len || len > sizeof(TPMS_ATTEST) ||
	    Tss2_MU_TPMS_ATTEST_Unmarshal(attest, len, &off, &a) || off != len)
		return fail(err, errlen, -EBADMSG, "attestation structure is malformed");
	if (a.magic != TPM2_GENERATED_VALUE || a.type != TPM2_ST_ATTEST_QUOTE)
		return fail(err, errlen, -EBADMSG, "not a TPM-generated quote");
	if (a.extraData.size > QUOTE_NONCE_MAX)
		return fail(err, errlen, -EBADMSG, "quote nonce is %u bytes", a.extraData.size);
	ps = &a.attested.quote.pcrSelect.pcrSelections[0];
	if (a.attested.quote.pcrSelect.count != 1 || ps->hash != TPM2_ALG_SHA256 ||
	    ps->sizeofSelect < 3 || ps->sizeofSelect > sizeof(ps->pcrSelect))
		return fail(err, errlen, -EBADMSG, "quote does not select one SHA-256 bank");
	for (unsigned i = 3; i < ps->sizeofSelect; i++)
		if (ps->pcrSelect[i])
			return fail(err, errlen, -EBADMSG, "quote selects PCRs above 23");
	if (a.attested.quote.pcrDigest.size != TPM_DIGEST_LEN)
		return fail(err, errlen, -EBADMSG, "quote PCR digest is not SHA-256");
	memcpy(out->nonce, a.extraData.buffer, a.extraData.size);
	out->nonce_len = a.extraData.size;
	out->pcr_mask = (uint32_t)ps->pcrSelect[0] | (uint32_t)ps->pcrSelect[1] << 8 |
			(uint32_t)ps->pcrSelect[2] << 16;
	memcpy(out->pcr_digest, a.attested.quote.pcrDigest.buffer, TPM_DIGEST_LEN);
	out->clock = a.clockInfo.clock;
	out->reset_count = a.clockInfo.resetCount;
	out->restart_count = a.clockInfo.restartCount;
	return 0;
}

int quote_sig_der(const uint8_t *sig, size_t sig_len, uint8_t der[TPM_SIG_MAX],
		  size_t *der_len)
{
	TPMT_SIGNATURE s;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *sv = NULL;
	unsigned char *p = der;
	size_t off = 0;
	int n, rc = -EBADMSG;

	memset(&s, 0, sizeof(s));
	if (!sig || Tss2_MU_TPMT_SIGNATURE_Unmarshal(sig, sig_len, &off, &s) ||
	    off != sig_len || s.sigAlg != TPM2_ALG_ECDSA ||
	    s.signature.ecdsa.hash != TPM2_ALG_SHA256 ||
	    !s.signature.ecdsa.signatureR.size || s.signature.ecdsa.signatureR.size > 32 ||
	    !s.signature.ecdsa.signatureS.size || s.signature.ecdsa.signatureS.size > 32)
		return -EBADMSG;
	es = ECDSA_SIG_new();
	r = BN_bin2bn(s.signature.ecdsa.signatureR.buffer, s.signature.ecdsa.signatureR.size,
		      NULL);
	sv = BN_bin2bn(s.signature.ecdsa.signatureS.buffer, s.signature.ecdsa.signatureS.size,
		       NULL);
	if (!es || !r || !sv || !ECDSA_SIG_set0(es, r, sv))
		goto out;
	r = sv = NULL;
	n = i2d_ECDSA_SIG(es, NULL);
	if (n <= 0 || n > TPM_SIG_MAX || i2d_ECDSA_SIG(es, &p) != n)
		goto out;
	*der_len = (size_t)n;
	rc = 0;
out:
	BN_free(r);
	BN_free(sv);
	ECDSA_SIG_free(es);
	return rc;
}

int quote_verify(const struct quote_key *ak, const struct quote_evidence *ev,
		 const uint8_t *nonce, size_t nonce_len,
		 const struct quote_golden *g, const char *release,
		 uint8_t (*pcrs)[TPM_DIGEST_LEN], char *err, size_t errlen)
{
	const struct golden_release *r = golden_find(g, release);
	struct quote_attest qa;
	struct tpm_replay rep;
	uint8_t der[TPM_SIG_MAX];
	size_t der_len = 0;
	char e[160] = "";
	int rc;

	if (!ak || !ev || !nonce || nonce_len < QUOTE_NONCE_MIN || nonce_len > QUOTE_NONCE_MAX)
		return fail(err, errlen, -EINVAL, "bad arguments");
	if (!r)
		return fail(err, errlen, -EPERM, "no golden set for release \"%s\"",
			    release ? release : "");
	if (quote_attest_parse(ev->attest, ev->attest_len, &qa, err, errlen))
		return -EBADMSG;
	if (qa.pcr_mask != TPM_BOOT_PCRS)
		return fail(err, errlen, -EBADMSG, "quote covers PCRs 0x%06x, not 12, 13 and 15",
			    (unsigned)qa.pcr_mask);
	if (quote_sig_der(ev->sig, ev->sig_len, der, &der_len))
		return fail(err, errlen, -EBADMSG, "quote signature is not an ECDSA-SHA256 "
			    "TPMT_SIGNATURE");
	if (!ev->log || tpm_eventlog_replay(ev->log, ev->log_len, &rep, e, sizeof(e)))
		return fail(err, errlen, -EBADMSG, "event log: %s", e[0] ? e : "missing");
	/* The PCR values are never taken from the host: they are what its
	 * log replays to, and the quote must sign exactly those. */
	if (tpm_quote_verify(ak->spki, ev->attest, ev->attest_len, der, der_len, nonce,
			     nonce_len, TPM_BOOT_PCRS,
			     (const uint8_t (*)[TPM_DIGEST_LEN])rep.pcr, e, sizeof(e)))
		return fail(err, errlen, -EBADMSG, "%s%s", e,
			    strcmp(e, "PCR values differ from the quote") ? "" :
			    " (the event log does not replay to the quoted PCRs)");
	rc = golden_check(r, ev->log, ev->log_len, err, errlen);
	if (rc)
		return rc;
	if (pcrs)
		memcpy(pcrs, rep.pcr, sizeof(rep.pcr));
	return 0;
}
