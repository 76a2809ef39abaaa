/* fw_format: strict parsers and encoders for the firmware store's formats
 * (manifest, update package, golden set, slot pointer, sealed secret).
 * All input is hostile: exact lengths, reserved fields zero, no duplicates.
 * Fuzzed by fuzz/fw/fuzz_fw_formats.c. Layouts: docs/firmware.md. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "errmsg.h"
#include "fw_format.h"

static const char manifest_magic[4] = { 'W', 'F', 'W', 'M' };
static const char package_magic[4] = { 'W', 'F', 'U', 'P' };
static const char golden_magic[4] = { 'W', 'F', 'G', 'S' };
static const char pointer_magic[4] = { 'W', 'F', 'S', 'P' };
static const char secret_magic[4] = { 'W', 'F', 'S', 'K' };

/* Domain separation: a vendor signature over a manifest can never be taken
 * for a signature over anything else the vendor key signs. */
static const char manifest_domain[] = "ward firmware manifest v1";
static const char golden_domain[] = "ward golden measurement set v1";

#define MANIFEST_HDR	36
#define MANIFEST_TRAILER (4 + FW_ED25519_SIG_LEN)
#define SIG_TYPE_ED25519 1

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}
static void put16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static void sha256(const void *a, size_t alen, const void *b, size_t blen,
		   uint8_t out[FW_SHA256_LEN])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(c, a, alen) || (blen && !EVP_DigestUpdate(c, b, blen)) ||
	    !EVP_DigestFinal_ex(c, out, NULL))
		memset(out, 0, FW_SHA256_LEN);	/* cannot match anything real */
	EVP_MD_CTX_free(c);
}

const char *fw_role_name(enum fw_role r)
{
	switch (r) {
	case FW_ROLE_HV: return "hv";
	case FW_ROLE_BLK: return "blk";
	case FW_ROLE_NET: return "net";
	case FW_ROLE_GUEST: return "guest";
	}
	return "?";
}

int fw_role_parse(const char *s, enum fw_role *out)
{
	for (int r = FW_ROLE_HV; r <= FW_ROLE_GUEST; r++)
		if (!strcmp(s, fw_role_name(r))) {
			*out = r;
			return 0;
		}
	return -EINVAL;
}

/* Names become file names in a slot: a conservative character set, no
 * leading dot, so nothing can name "..", a hidden file or a path. */
static bool name_ok(const uint8_t *p, size_t n)
{
	if (n < 1 || n > FW_NAME_MAX || p[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int fw_manifest_parse(const uint8_t *buf, size_t len, struct fw_manifest *m,
		      char *err, size_t errlen)
{
	size_t off = MANIFEST_HDR;
	unsigned seen_role[FW_ROLE_GUEST + 1] = { 0 };

	memset(m, 0, sizeof(*m));
	if (len < MANIFEST_HDR + MANIFEST_TRAILER)
		return errmsg(err, errlen, -EBADMSG, "manifest: %zu bytes is too short", len);
	if (memcmp(buf, manifest_magic, 4))
		return errmsg(err, errlen, -EBADMSG, "manifest: bad magic");
	m->format = get16(buf + 4);
	if (m->format != 1)
		return errmsg(err, errlen, -EBADMSG, "manifest: format %u not supported (want 1)", m->format);
	m->n_images = get16(buf + 6);
	if (m->n_images < 1 || m->n_images > FW_MAX_IMAGES)
		return errmsg(err, errlen, -EBADMSG, "manifest: %u images (1..%d allowed)",
			   m->n_images, FW_MAX_IMAGES);
	m->version = get64(buf + 8);
	m->counter = get64(buf + 16);
	m->expiry = get64(buf + 24);
	if (get32(buf + 32))
		return errmsg(err, errlen, -EBADMSG, "manifest: reserved flags not zero");
	for (unsigned i = 0; i < m->n_images; i++) {
		struct fw_image_desc *d = &m->img[i];
		size_t nl;

		if (len - off < 1)
			return errmsg(err, errlen, -EBADMSG, "manifest: truncated at image %u", i);
		nl = buf[off];
		if (len - off < 1 + nl + 2 + 8 + FW_SHA256_LEN)
			return errmsg(err, errlen, -EBADMSG, "manifest: truncated at image %u", i);
		if (!name_ok(buf + off + 1, nl))
			return errmsg(err, errlen, -EBADMSG, "manifest: image %u has an invalid name", i);
		memcpy(d->name, buf + off + 1, nl);
		d->name[nl] = 0;
		off += 1 + nl;
		if (buf[off] < FW_ROLE_HV || buf[off] > FW_ROLE_GUEST)
			return errmsg(err, errlen, -EBADMSG, "manifest: image %s has unknown role %u",
				   d->name, buf[off]);
		d->role = buf[off];
		if (buf[off + 1])
			return errmsg(err, errlen, -EBADMSG, "manifest: image %s reserved byte not zero", d->name);
		d->size = get64(buf + off + 2);
		if (d->size < 1 || d->size > FW_IMAGE_MAX)
			return errmsg(err, errlen, -EBADMSG, "manifest: image %s size %llu out of range",
				   d->name, (unsigned long long)d->size);
		memcpy(d->sha256, buf + off + 10, FW_SHA256_LEN);
		off += 10 + FW_SHA256_LEN;
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(m->img[j].name, d->name))
				return errmsg(err, errlen, -EBADMSG, "manifest: image name %s repeated", d->name);
		if (d->role != FW_ROLE_GUEST && seen_role[d->role]++)
			return errmsg(err, errlen, -EBADMSG, "manifest: more than one %s image",
				   fw_role_name(d->role));
	}
	if (len - off != MANIFEST_TRAILER)
		return errmsg(err, errlen, -EBADMSG, "manifest: %zu bytes after the images, want %d",
			   len - off, MANIFEST_TRAILER);
	if (get16(buf + off) != SIG_TYPE_ED25519 || get16(buf + off + 2) != FW_ED25519_SIG_LEN)
		return errmsg(err, errlen, -EBADMSG, "manifest: signature is not Ed25519/64");
	m->body = buf;
	m->body_len = off;
	m->sig = buf + off + 4;
	m->total_len = len;
	sha256(buf, len, NULL, 0, m->digest);
	return 0;
}

static uint8_t *manifest_msg(const uint8_t *body, size_t body_len, size_t *n)
{
	uint8_t *msg = malloc(sizeof(manifest_domain) + body_len);

	if (!msg)
		return NULL;
	memcpy(msg, manifest_domain, sizeof(manifest_domain));	/* with NUL */
	memcpy(msg + sizeof(manifest_domain), body, body_len);
	*n = sizeof(manifest_domain) + body_len;
	return msg;
}

int fw_manifest_verify(const struct fw_manifest *m, const uint8_t *pub)
{
	EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
						  FW_ED25519_PUB_LEN);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t *msg;
	size_t n;
	int rc = -EKEYREJECTED;

	msg = manifest_msg(m->body, m->body_len, &n);
	if (!k || !c || !msg) {
		rc = -ENOMEM;
		goto out;
	}
	if (EVP_DigestVerifyInit(c, NULL, NULL, NULL, k) == 1 &&
	    EVP_DigestVerify(c, m->sig, FW_ED25519_SIG_LEN, msg, n) == 1)
		rc = 0;
out:
	free(msg);
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(k);
	return rc;
}

int fw_manifest_build(const struct fw_manifest *m, const char *key_pem_path,
		      uint8_t **out, size_t *out_len, char *err, size_t errlen)
{
	size_t len = MANIFEST_HDR, off, n, siglen = FW_ED25519_SIG_LEN;
	EVP_PKEY *k = NULL;
	EVP_MD_CTX *c = NULL;
	uint8_t *buf = NULL, *msg = NULL;
	FILE *f;
	int rc = -EINVAL;

	if (m->n_images < 1 || m->n_images > FW_MAX_IMAGES) {
		errmsg(err, errlen, -EBADMSG, "need 1..%d images", FW_MAX_IMAGES);
		return -EINVAL;
	}
	for (unsigned i = 0; i < m->n_images; i++)
		len += 1 + strlen(m->img[i].name) + 10 + FW_SHA256_LEN;
	len += MANIFEST_TRAILER;
	buf = calloc(1, len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, manifest_magic, 4);
	put16(buf + 4, 1);
	put16(buf + 6, (uint16_t)m->n_images);
	put64(buf + 8, m->version);
	put64(buf + 16, m->counter);
	put64(buf + 24, m->expiry);
	off = MANIFEST_HDR;
	for (unsigned i = 0; i < m->n_images; i++) {
		const struct fw_image_desc *d = &m->img[i];
		size_t nl = strlen(d->name);

		buf[off] = (uint8_t)nl;
		memcpy(buf + off + 1, d->name, nl);
		off += 1 + nl;
		buf[off] = (uint8_t)d->role;
		put64(buf + off + 2, d->size);
		memcpy(buf + off + 10, d->sha256, FW_SHA256_LEN);
		off += 10 + FW_SHA256_LEN;
	}
	put16(buf + off, SIG_TYPE_ED25519);
	put16(buf + off + 2, FW_ED25519_SIG_LEN);

	f = fopen(key_pem_path, "r");
	if (!f) {
		rc = -errno;
		errmsg(err, errlen, -EBADMSG, "cannot open vendor key %s: %s", key_pem_path, strerror(errno));
		goto out;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519) {
		errmsg(err, errlen, -EBADMSG, "%s is not a PEM Ed25519 private key", key_pem_path);
		goto out;
	}
	msg = manifest_msg(buf, off, &n);
	c = EVP_MD_CTX_new();
	if (!msg || !c || EVP_DigestSignInit(c, NULL, NULL, NULL, k) != 1 ||
	    EVP_DigestSign(c, buf + off + 4, &siglen, msg, n) != 1 ||
	    siglen != FW_ED25519_SIG_LEN) {
		errmsg(err, errlen, -EBADMSG, "Ed25519 signing failed");
		rc = -EIO;
		goto out;
	}
	/* Round-trip through the one parser: never emit what we would refuse. */
	{
		struct fw_manifest chk;

		rc = fw_manifest_parse(buf, len, &chk, err, errlen);
		if (rc)
			goto out;
	}
	*out = buf;
	*out_len = len;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	free(msg);
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(k);
	return rc;
}

int fw_package_parse(const uint8_t *buf, size_t len, struct fw_package *p,
		     char *err, size_t errlen)
{
	size_t mlen, off;
	int rc;

	memset(p, 0, sizeof(*p));
	if (len < 12)
		return errmsg(err, errlen, -EBADMSG, "package: %zu bytes is too short", len);
	if (memcmp(buf, package_magic, 4))
		return errmsg(err, errlen, -EBADMSG, "package: bad magic (not a ward update package)");
	if (get16(buf + 4) != 1 || get16(buf + 6))
		return errmsg(err, errlen, -EBADMSG, "package: version %u not supported", get16(buf + 4));
	mlen = get32(buf + 8);
	if (mlen > len - 12)
		return errmsg(err, errlen, -EBADMSG, "package: manifest length %zu beyond the file", mlen);
	rc = fw_manifest_parse(buf + 12, mlen, &p->m, err, errlen);
	if (rc)
		return rc;
	off = 12 + mlen;
	for (unsigned i = 0; i < p->m.n_images; i++) {
		const struct fw_image_desc *d = &p->m.img[i];
		uint8_t h[FW_SHA256_LEN];

		if (len - off < d->size)
			return errmsg(err, errlen, -EBADMSG, "package: image %s truncated", d->name);
		sha256(buf + off, d->size, NULL, 0, h);
		if (CRYPTO_memcmp(h, d->sha256, FW_SHA256_LEN))
			return errmsg(err, errlen, -EBADMSG, "package: image %s does not match its manifest hash",
				   d->name);
		p->image[i] = buf + off;
		off += d->size;
	}
	if (off != len)
		return errmsg(err, errlen, -EBADMSG, "package: %zu trailing bytes", len - off);
	return 0;
}

#define GOLDEN_HDR	8
#define GOLDEN_ENTRY	(1 + FW_SHA256_LEN)

int fw_golden_body(const struct fw_golden *g, uint8_t *out, size_t cap,
		   size_t *out_len, uint8_t digest[FW_SHA256_LEN])
{
	size_t n = GOLDEN_HDR + g->n * GOLDEN_ENTRY;

	if (g->n < 1 || g->n > FW_GOLDEN_MAX_PCRS || cap < n)
		return -EINVAL;
	memcpy(out, golden_magic, 4);
	put16(out + 4, 1);
	out[6] = (uint8_t)g->n;
	out[7] = 0;
	for (unsigned i = 0; i < g->n; i++) {
		out[GOLDEN_HDR + i * GOLDEN_ENTRY] = g->pcr[i];
		memcpy(out + GOLDEN_HDR + i * GOLDEN_ENTRY + 1, g->value[i], FW_SHA256_LEN);
	}
	*out_len = n;
	if (digest)
		sha256(golden_domain, sizeof(golden_domain), out, n, digest);
	return 0;
}

int fw_golden_encode(const struct fw_golden *g, uint8_t *out, size_t cap,
		     size_t *out_len)
{
	size_t n;

	if (fw_golden_body(g, out, cap, &n, NULL) || g->sig_len < 8 ||
	    g->sig_len > FW_GOLDEN_SIG_MAX || cap < n + 2 + g->sig_len)
		return -EINVAL;
	put16(out + n, (uint16_t)g->sig_len);
	memcpy(out + n + 2, g->sig, g->sig_len);
	*out_len = n + 2 + g->sig_len;
	return 0;
}

int fw_golden_parse(const uint8_t *buf, size_t len, struct fw_golden *g,
		    char *err, size_t errlen)
{
	size_t body;

	memset(g, 0, sizeof(*g));
	if (len < GOLDEN_HDR || memcmp(buf, golden_magic, 4))
		return errmsg(err, errlen, -EBADMSG, "golden set: bad magic");
	if (get16(buf + 4) != 1 || buf[7])
		return errmsg(err, errlen, -EBADMSG, "golden set: version not supported");
	g->n = buf[6];
	if (g->n < 1 || g->n > FW_GOLDEN_MAX_PCRS)
		return errmsg(err, errlen, -EBADMSG, "golden set: %u PCRs (1..%d)", g->n, FW_GOLDEN_MAX_PCRS);
	/* proofs/fw_format: Eva follows each PCR count on its own */
	//@ split g->n;
	body = GOLDEN_HDR + g->n * GOLDEN_ENTRY;
	if (len < body + 2)
		return errmsg(err, errlen, -EBADMSG, "golden set: truncated");
	for (unsigned i = 0; i < g->n; i++) {
		const uint8_t *e = buf + GOLDEN_HDR + i * GOLDEN_ENTRY;

		g->pcr[i] = e[0];
		if (g->pcr[i] >= 24 || (i && g->pcr[i] <= g->pcr[i - 1]))
			return errmsg(err, errlen, -EBADMSG, "golden set: PCR indices must be < 24 and ascending");
		memcpy(g->value[i], e + 1, FW_SHA256_LEN);
	}
	g->sig_len = get16(buf + body);
	if (g->sig_len < 8 || g->sig_len > FW_GOLDEN_SIG_MAX || len - body - 2 != g->sig_len)
		return errmsg(err, errlen, -EBADMSG, "golden set: bad signature length");
	memcpy(g->sig, buf + body + 2, g->sig_len);
	sha256(golden_domain, sizeof(golden_domain), buf, body, g->digest);
	return 0;
}

int fw_pointer_parse(const uint8_t *buf, size_t len, struct fw_pointer *p,
		     char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	if (len != FW_POINTER_LEN || memcmp(buf, pointer_magic, 4) || buf[4] != 1)
		return errmsg(err, errlen, -EBADMSG, "slot pointer: bad magic, version or length");
	if (buf[5] != 'A' && buf[5] != 'B')
		return errmsg(err, errlen, -EBADMSG, "slot pointer: unknown slot");
	if (buf[6] > FW_SLOT_TRIAL)
		return errmsg(err, errlen, -EBADMSG, "slot pointer: unknown state");
	if (get64(buf + 16))
		return errmsg(err, errlen, -EBADMSG, "slot pointer: reserved bytes not zero");
	p->active = (char)buf[5];
	p->state = buf[6];
	p->tries = buf[7];
	p->version = get64(buf + 8);
	return 0;
}

void fw_pointer_encode(const struct fw_pointer *p, uint8_t out[FW_POINTER_LEN])
{
	memset(out, 0, FW_POINTER_LEN);
	memcpy(out, pointer_magic, 4);
	out[4] = 1;
	out[5] = (uint8_t)p->active;
	out[6] = (uint8_t)p->state;
	out[7] = p->tries;
	put64(out + 8, p->version);
}

int fw_secret_parse(const uint8_t *buf, size_t len, struct fw_secret *s)
{
	if (len != FW_SECRET_LEN || memcmp(buf, secret_magic, 4) || buf[4] != 1 ||
	    buf[5] || buf[6] || buf[7])
		return -EBADMSG;
	s->nv_base = get64(buf + 8);
	memcpy(s->key, buf + 16, FW_STORE_KEY_LEN);
	memcpy(s->golden_key_id, buf + 48, FW_SHA256_LEN);
	return 0;
}

void fw_secret_encode(const struct fw_secret *s, uint8_t out[FW_SECRET_LEN])
{
	memset(out, 0, FW_SECRET_LEN);
	memcpy(out, secret_magic, 4);
	out[4] = 1;
	put64(out + 8, s->nv_base);
	memcpy(out + 16, s->key, FW_STORE_KEY_LEN);
	memcpy(out + 48, s->golden_key_id, FW_SHA256_LEN);
}
