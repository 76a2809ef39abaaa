/* checkpoint: C2SP tlog-checkpoint / signed-note formatting, signing and the
 * one strict parser of checkpoint text (which reaches `ward audit verify`
 * from untrusted storage). Signatures: Ed25519 (type 0x01) and ECDSA P-256
 * (type 0x02, the TPM-resident host key). */
#include "checkpoint.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/x509.h>

/* U+2014 EM DASH, U+0020: how every signature line starts (signed-note). */
static const char sig_prefix[4] = { '\xe2', '\x80', '\x94', ' ' };

/* One UTF-8 code point at p (RFC 3629 §4: no overlongs, no surrogates,
 * nothing above U+10FFFF). Returns its length, or 0 if invalid. */
static size_t utf8_next(const uint8_t *p, size_t n, uint32_t *cp)
{
	uint8_t b = p[0];
	size_t len;
	uint32_t v, min;

	if (b < 0x80) {
		*cp = b;
		return 1;
	}
	if (b >= 0xc2 && b <= 0xdf) {
		len = 2;
		v = b & 0x1f;
		min = 0x80;
	} else if (b >= 0xe0 && b <= 0xef) {
		len = 3;
		v = b & 0x0f;
		min = 0x800;
	} else if (b >= 0xf0 && b <= 0xf4) {
		len = 4;
		v = b & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	/*@ loop invariant 1 <= i <= len;
	    loop assigns i, v;
	    loop variant len - i; */
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/* signed-note: valid UTF-8, no control characters other than newline. */
static bool text_ok(const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	uint32_t cp;
	size_t k;

	/*@ loop invariant 0 <= i <= n;
	    loop assigns i, k, cp;
	    loop variant n - i; */
	for (size_t i = 0; i < n; i += k) {
		//@ split i;
		k = utf8_next(p + i, n - i, &cp);
		if (!k || (cp < 0x20 && cp != '\n'))
			return false;
	}
	return true;
}

static bool unicode_space(uint32_t cp)
{
	return cp == 0x20 || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
	       (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
	       cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* signed-note: key names are non-empty, with no Unicode spaces and no '+'. */
static bool name_ok(const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	uint32_t cp;
	size_t k;

	if (n == 0 || n > 1024)
		return false;
	/*@ loop invariant 0 <= i <= n;
	    loop assigns i, k, cp;
	    loop variant n - i; */
	for (size_t i = 0; i < n; i += k) {
		//@ split i;
		k = utf8_next(p + i, n - i, &cp);
		if (!k || cp < 0x20 || cp == 0x7f || cp == '+' || unicode_space(cp))
			return false;
	}
	return true;
}

static bool b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* RFC 4648 §4 standard base64, canonical only: padded, no whitespace, and
 * zero pad bits (checked by re-encoding), so each value has one text form.
 * out must hold n / 4 * 3 bytes. */
static int b64_decode(const char *s, size_t n, uint8_t *out, size_t *out_len)
{
	unsigned char *re;
	size_t pad = 0, len;
	int rc = -EBADMSG;

	if (n == 0 || n % 4 || n > INT_MAX)
		return -EBADMSG;
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	/*@ loop invariant 0 <= i <= n - pad;
	    loop assigns i;
	    loop variant n - pad - i; */
	for (size_t i = 0; i < n - pad; i++)
		if (!b64_char(s[i]))
			return -EBADMSG;
	if (EVP_DecodeBlock(out, (const unsigned char *)s, (int)n) != (int)(n / 4 * 3))
		return -EBADMSG;
	len = n / 4 * 3 - pad;
	re = OPENSSL_malloc(n + 1);
	if (!re)
		return -ENOMEM;
	if (EVP_EncodeBlock(re, out, (int)len) == (int)n && memcmp(re, s, n) == 0) {
		*out_len = len;
		rc = 0;
	}
	OPENSSL_free(re);
	return rc;
}

static size_t b64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

static int parse_size(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	/* tlog-checkpoint: ASCII decimal, no leading zeroes except "0". */
	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return -EBADMSG;
	/*@ loop invariant 0 <= i <= n;
	    loop assigns i, v;
	    loop variant n - i; */
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EBADMSG;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -EBADMSG;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* The note text: origin, size, root hash, then extension lines, each
 * non-empty and newline-terminated. lines is a writable copy; every line is
 * NUL-terminated in place and referenced from cp. */
static int parse_body(struct checkpoint *cp, char *lines, size_t len)
{
	uint8_t root[48];
	size_t start = 0, lineno = 0, n;
	int rc;

	cp->n_ext = 0;
	for (size_t i = 0; i < len; i++) {
		char *line = lines + start;
		size_t llen = i - start;

		if (lines[i] != '\n')
			continue;
		if (llen == 0)
			return -EBADMSG;
		lines[i] = '\0';
		switch (lineno) {
		case 0:
			cp->origin = line;
			break;
		case 1:
			rc = parse_size(line, llen, &cp->size);
			if (rc)
				return rc;
			break;
		case 2:
			if (llen != b64_len(CHECKPOINT_HASH_LEN))
				return -EBADMSG;
			rc = b64_decode(line, llen, root, &n);
			if (rc)
				return rc;
			if (n != CHECKPOINT_HASH_LEN)
				return -EBADMSG;
			memcpy(cp->root, root, CHECKPOINT_HASH_LEN);
			break;
		default:
			if (cp->n_ext == CHECKPOINT_MAX_EXT)
				return -E2BIG;
			cp->ext[cp->n_ext++] = line;
		}
		lineno++;
		start = i + 1;
	}
	return (lineno >= 3 && start == len) ? 0 : -EBADMSG;
}

/* "— <name> <base64(key ID || signature)>", NUL-terminated in place. */
static int parse_sig_line(struct checkpoint *cp, char *line, size_t llen, uint8_t **sigbuf)
{
	struct checkpoint_sig *s;
	char *name, *sp, *b64;
	size_t n;
	int rc;

	if (llen < sizeof(sig_prefix) || memcmp(line, sig_prefix, sizeof(sig_prefix)))
		return -EBADMSG;
	name = line + sizeof(sig_prefix);
	sp = memchr(name, ' ', llen - sizeof(sig_prefix));
	if (!sp || !name_ok(name, (size_t)(sp - name)))
		return -EBADMSG;
	*sp = '\0';
	b64 = sp + 1;
	n = (size_t)(line + llen - b64);
	if (n > b64_len(4 + CHECKPOINT_MAX_SIG_LEN))
		return -E2BIG;
	rc = b64_decode(b64, n, *sigbuf, &n);
	if (rc)
		return rc;
	if (n < 5)
		return -EBADMSG;
	if (cp->n_sigs == CHECKPOINT_MAX_SIGS)
		return -E2BIG;
	s = &cp->sigs[cp->n_sigs++];
	s->name = name;
	s->key_id = (uint32_t)(*sigbuf)[0] << 24 | (uint32_t)(*sigbuf)[1] << 16 |
		    (uint32_t)(*sigbuf)[2] << 8 | (*sigbuf)[3];
	s->sig = *sigbuf + 4;
	s->sig_len = n - 4;
	*sigbuf += n;
	return 0;
}

/* Where the note text ends: the last empty line (signed-note §Format). */
static size_t find_separator(const char *text, size_t len)
{
	/*@ loop invariant 0 <= i <= len - 1;
	    loop assigns i;
	    loop variant i; */
	for (size_t i = len - 1; i >= 1; i--)
		if (text[i] == '\n' && text[i - 1] == '\n')
			return i;
	return 0;
}

int checkpoint_parse(const char *text, size_t len, struct checkpoint **out)
{
	struct checkpoint *cp;
	char *body, *lines;
	uint8_t *sigbuf;
	size_t sep, start;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!text)
		return -EINVAL;
	if (len > CHECKPOINT_MAX_LEN)
		return -E2BIG;
	if (len < 2 || text[len - 1] != '\n' || !text_ok(text, len))
		return -EBADMSG;
	sep = find_separator(text, len);
	if (sep == 0 || sep + 1 == len)
		return -EBADMSG;

	/* One allocation: the struct, the body, a writable copy of the whole
	 * text for NUL-terminated lines, and the decoded signatures. */
	cp = calloc(1, sizeof(*cp) + (sep + 1) + (len + 1) + len);
	if (!cp)
		return -ENOMEM;
	body = (char *)(cp + 1);
	lines = body + sep + 1;
	sigbuf = (uint8_t *)(lines + len + 1);
	memcpy(body, text, sep);
	body[sep] = '\0';
	cp->body = body;
	cp->body_len = sep;
	memcpy(lines, text, len);
	lines[len] = '\0';

	rc = parse_body(cp, lines, sep);
	if (rc)
		goto err;
	start = sep + 1;
	for (size_t i = start; i < len; i++) {
		if (text[i] != '\n')
			continue;
		lines[i] = '\0';
		rc = parse_sig_line(cp, lines + start, i - start, &sigbuf);
		if (rc)
			goto err;
		start = i + 1;
	}
	*out = cp;
	return 0;
err:
	free(cp);
	return rc;
}

void checkpoint_free(struct checkpoint *cp)
{
	free(cp);
}

/* What checkpoint_format and checkpoint_sign produce must parse. */
static int body_check(const char *body, size_t len)
{
	struct checkpoint tmp;
	char *copy;
	int rc;

	if (!body || len < 2 || len > CHECKPOINT_MAX_LEN || body[len - 1] != '\n' ||
	    !text_ok(body, len))
		return -EINVAL;
	copy = OPENSSL_strndup(body, len);
	if (!copy)
		return -ENOMEM;
	rc = parse_body(&tmp, copy, len) ? -EINVAL : 0;
	OPENSSL_free(copy);
	return rc;
}

int checkpoint_format(const char *origin, uint64_t size, const uint8_t root[CHECKPOINT_HASH_LEN],
		      const char *const *ext, size_t n_ext, char **body, size_t *body_len)
{
	size_t cap, len;
	char *out;
	int rc, w;

	if (!origin || !root || !body || !body_len || (n_ext && !ext) || n_ext > CHECKPOINT_MAX_EXT)
		return -EINVAL;
	*body = NULL;
	/* One line each: a newline inside would forge the lines after it. */
	if (strchr(origin, '\n'))
		return -EINVAL;
	cap = strlen(origin) + 1 + 21 + b64_len(CHECKPOINT_HASH_LEN) + 2;
	for (size_t i = 0; i < n_ext; i++) {
		if (!ext[i] || strchr(ext[i], '\n'))
			return -EINVAL;
		cap += strlen(ext[i]) + 1;
	}
	if (cap > CHECKPOINT_MAX_LEN)
		return -E2BIG;
	out = malloc(cap);
	if (!out)
		return -ENOMEM;
	w = snprintf(out, cap, "%s\n%llu\n", origin, (unsigned long long)size);
	if (w < 0 || (size_t)w >= cap) {
		rc = -EINVAL;
		goto err;
	}
	len = (size_t)w;
	len += (size_t)EVP_EncodeBlock((unsigned char *)out + len, root, CHECKPOINT_HASH_LEN);
	out[len++] = '\n';
	for (size_t i = 0; i < n_ext; i++) {
		size_t n = strlen(ext[i]);

		memcpy(out + len, ext[i], n);
		len += n;
		out[len++] = '\n';
	}
	out[len] = '\0';
	rc = body_check(out, len);
	if (rc)
		goto err;
	*body = out;
	*body_len = len;
	return 0;
err:
	free(out);
	return rc;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int checkpoint_sign(const char *body, size_t body_len, const struct checkpoint_signer *signers,
		    size_t n_signers, char **note, size_t *note_len)
{
	struct checkpoint *check;
	uint8_t *sig = NULL;
	size_t cap, len, siglen;
	char *out = NULL;
	int rc;

	if (!note || !note_len || !signers || n_signers == 0)
		return -EINVAL;
	*note = NULL;
	if (n_signers > CHECKPOINT_MAX_SIGS)
		return -E2BIG;
	rc = body_check(body, body_len);
	if (rc)
		return rc;
	cap = body_len + 2;
	for (size_t i = 0; i < n_signers; i++) {
		if (!signers[i].name || !signers[i].sign ||
		    !name_ok(signers[i].name, strlen(signers[i].name)))
			return -EINVAL;
		cap += sizeof(sig_prefix) + strlen(signers[i].name) + 1 +
		       b64_len(4 + CHECKPOINT_MAX_SIG_LEN) + 1;
	}
	out = malloc(cap);
	sig = malloc(4 + CHECKPOINT_MAX_SIG_LEN);
	if (!out || !sig) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(out, body, body_len);
	len = body_len;
	out[len++] = '\n';
	for (size_t i = 0; i < n_signers; i++) {
		const struct checkpoint_signer *s = &signers[i];
		size_t nlen = strlen(s->name);

		siglen = CHECKPOINT_MAX_SIG_LEN;
		put_be32(sig, s->key_id);
		rc = s->sign(s->ctx, (const uint8_t *)body, body_len, sig + 4, &siglen);
		if (rc)
			goto out;
		if (siglen == 0 || siglen > CHECKPOINT_MAX_SIG_LEN) {
			rc = -EINVAL;
			goto out;
		}
		memcpy(out + len, sig_prefix, sizeof(sig_prefix));
		len += sizeof(sig_prefix);
		memcpy(out + len, s->name, nlen);
		len += nlen;
		out[len++] = ' ';
		len += (size_t)EVP_EncodeBlock((unsigned char *)out + len, sig, (int)(4 + siglen));
		out[len++] = '\n';
	}
	out[len] = '\0';
	if (len > CHECKPOINT_MAX_LEN) {
		rc = -E2BIG;
		goto out;
	}
	/* Never emit what our own parser would refuse. */
	rc = checkpoint_parse(out, len, &check);
	if (rc)
		goto out;
	checkpoint_free(check);
	*note = out;
	*note_len = len;
	out = NULL;
out:
	free(sig);
	free(out);
	return rc;
}

static bool is_p256(EVP_PKEY *key)
{
	char group[32];

	return EVP_PKEY_is_a(key, "EC") &&
	       EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) &&
	       (!strcmp(group, "prime256v1") || !strcmp(group, "P-256"));
}

int checkpoint_key_id(const char *name, EVP_PKEY *pub, uint8_t *alg, uint32_t *key_id)
{
	uint8_t h[32], *der = NULL, *buf = NULL;
	size_t nlen, raw_len = 32;
	int der_len, rc = -EIO;

	if (!name || !pub || !alg || !key_id || !name_ok(name, strlen(name)))
		return -EINVAL;
	nlen = strlen(name);
	if (EVP_PKEY_is_a(pub, "ED25519")) {
		/* signed-note: SHA-256(name || 0x0A || 0x01 || 32-byte key)[:4] */
		buf = OPENSSL_malloc(nlen + 2 + 32);
		if (!buf)
			return -ENOMEM;
		memcpy(buf, name, nlen);
		buf[nlen] = '\n';
		buf[nlen + 1] = CHECKPOINT_ALG_ED25519;
		if (EVP_PKEY_get_raw_public_key(pub, buf + nlen + 2, &raw_len) == 1 && raw_len == 32 &&
		    EVP_Digest(buf, nlen + 2 + 32, h, NULL, EVP_sha256(), NULL) == 1) {
			*alg = CHECKPOINT_ALG_ED25519;
			rc = 0;
		}
		OPENSSL_free(buf);
	} else if (is_p256(pub)) {
		/* signed-note type 0x02 (transparency-dev/witness): the key ID
		 * is SHA-256 of the DER SubjectPublicKeyInfo, name not included. */
		der_len = i2d_PUBKEY(pub, &der);
		if (der_len > 0 && EVP_Digest(der, (size_t)der_len, h, NULL, EVP_sha256(), NULL) == 1) {
			*alg = CHECKPOINT_ALG_ECDSA;
			rc = 0;
		}
		OPENSSL_free(der);
	} else {
		return -EINVAL;
	}
	if (!rc)
		*key_id = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	return rc;
}

int checkpoint_pkey_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t *sig, size_t *siglen)
{
	EVP_PKEY *key = ctx;
	const EVP_MD *md;
	EVP_MD_CTX *m;
	size_t need = 0;
	int rc = -EIO;

	if (!key || !sig || !siglen)
		return -EINVAL;
	if (EVP_PKEY_is_a(key, "ED25519"))
		md = NULL; /* PureEdDSA over the note text (RFC 8032) */
	else if (is_p256(key))
		md = EVP_sha256();
	else
		return -EINVAL;
	m = EVP_MD_CTX_new();
	if (!m)
		return -ENOMEM;
	if (EVP_DigestSignInit(m, NULL, md, NULL, key) == 1 &&
	    EVP_DigestSign(m, NULL, &need, msg, len) == 1) {
		if (need > *siglen)
			rc = -ENOSPC;
		else if (EVP_DigestSign(m, sig, siglen, msg, len) == 1)
			rc = 0;
	}
	EVP_MD_CTX_free(m);
	return rc;
}

int checkpoint_signer_pkey(struct checkpoint_signer *s, const char *name, EVP_PKEY *key)
{
	uint8_t alg;
	int rc;

	if (!s)
		return -EINVAL;
	rc = checkpoint_key_id(name, key, &alg, &s->key_id);
	if (rc)
		return rc;
	s->name = name;
	s->sign = checkpoint_pkey_sign;
	s->ctx = key;
	return 0;
}

int checkpoint_ecdsa_der(const uint8_t r[32], const uint8_t s[32], uint8_t *der, size_t *len)
{
	BIGNUM *br, *bs;
	ECDSA_SIG *sig;
	unsigned char *p = der;
	int n, rc = -EIO;

	if (!r || !s || !der || !len)
		return -EINVAL;
	sig = ECDSA_SIG_new();
	br = BN_bin2bn(r, 32, NULL);
	bs = BN_bin2bn(s, 32, NULL);
	if (!sig || !br || !bs || !ECDSA_SIG_set0(sig, br, bs)) {
		BN_free(br);
		BN_free(bs);
		goto out;
	}
	n = i2d_ECDSA_SIG(sig, NULL);
	if (n <= 0)
		goto out;
	if ((size_t)n > *len) {
		rc = -ENOSPC;
		goto out;
	}
	if (i2d_ECDSA_SIG(sig, &p) == n) {
		*len = (size_t)n;
		rc = 0;
	}
out:
	ECDSA_SIG_free(sig);
	return rc;
}

static bool verify_one(uint8_t alg, EVP_PKEY *pub, const struct checkpoint *cp,
		       const struct checkpoint_sig *s)
{
	EVP_MD_CTX *m;
	bool ok;

	if (alg == CHECKPOINT_ALG_ED25519 && s->sig_len != 64)
		return false;
	m = EVP_MD_CTX_new();
	if (!m)
		return false;
	/* OpenSSL's ECDSA verify re-encodes the DER and refuses anything that
	 * is not the one canonical encoding (no malleable signatures). */
	ok = EVP_DigestVerifyInit(m, NULL, alg == CHECKPOINT_ALG_ECDSA ? EVP_sha256() : NULL,
				  NULL, pub) == 1 &&
	     EVP_DigestVerify(m, s->sig, s->sig_len, (const uint8_t *)cp->body, cp->body_len) == 1;
	EVP_MD_CTX_free(m);
	return ok;
}

int checkpoint_verify(const char *text, size_t len, EVP_PKEY *pub, const char *name,
		      struct checkpoint **out)
{
	struct checkpoint *cp;
	size_t matched = 0;
	uint32_t id;
	uint8_t alg;
	int rc;

	if (out)
		*out = NULL;
	rc = checkpoint_key_id(name, pub, &alg, &id);
	if (rc)
		return rc;
	rc = checkpoint_parse(text, len, &cp);
	if (rc)
		return rc;
	for (size_t i = 0; i < cp->n_sigs; i++) {
		const struct checkpoint_sig *s = &cp->sigs[i];

		/* Unknown keys are ignored; a known key's bad signature
		 * condemns the whole note (signed-note §Signatures). */
		if (s->key_id != id || strcmp(s->name, name))
			continue;
		matched++;
		if (!verify_one(alg, pub, cp, s)) {
			rc = -EBADMSG;
			goto err;
		}
	}
	if (!matched) {
		rc = -ENOKEY;
		goto err;
	}
	if (out)
		*out = cp;
	else
		checkpoint_free(cp);
	return 0;
err:
	checkpoint_free(cp);
	return rc;
}
