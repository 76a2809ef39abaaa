/* eif: Enclave Image File parsing, building and measuring (see eif.h).
 * Layout from aws-nitro-enclaves-image-format (src/defs/mod.rs: EifHeader,
 * EifSectionHeader; src/utils/mod.rs: EifBuilder's order, CRC and PCRs);
 * our own description is in docs/enclaves.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cbor_io.h"
#include "cose.h"
#include "eif.h"
#include "errmsg.h"

static const uint8_t eif_magic[4] = { '.', 'e', 'i', 'f' };

/* ---- big-endian fields ---- */

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }

/* Header field offsets (EifHeader::to_be_bytes order). */
enum {
	H_MAGIC = 0, H_VERSION = 4, H_FLAGS = 6, H_MEM = 8, H_CPUS = 16,
	H_RESERVED = 24, H_NSECT = 26, H_OFFSETS = 28,
	H_SIZES = H_OFFSETS + 8 * EIF_MAX_SECTIONS, H_UNUSED = H_SIZES + 8 * EIF_MAX_SECTIONS,
};
_Static_assert(H_UNUSED + 4 == EIF_CRC_OFF && EIF_CRC_OFF + 4 == EIF_HDR_LEN, "EIF header is 548 bytes");

uint32_t eif_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
	static uint32_t table[256];
	static int ready;	/* idempotent init: racing threads write equal values */
	uint32_t c;
	unsigned i, k;

	if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
		for (i = 0; i < 256; i++) {
			c = i;
			for (k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
		__atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
	}
	crc = ~crc;
	/* Indexed, so the analysis (proofs/eif) bounds each read by n. */
	for (size_t j = 0; j < n; j++)
		crc = table[(crc ^ p[j]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- parsing ---- */

static const char *sect_name(uint16_t t)
{
	static const char *const n[] = { "invalid", "kernel", "cmdline", "ramdisk", "signature", "metadata" };

	return t <= EIF_SECT_METADATA ? n[t] : "unknown";
}

static int parse_sections(const uint8_t *buf, size_t len, struct eif_image *img,
			  char *err, size_t errlen)
{
	unsigned i, count[EIF_SECT_METADATA + 1] = { 0 };
	uint64_t cur = EIF_HDR_LEN;
	bool cmdline_nul = false;

	for (i = 0; i < EIF_MAX_SECTIONS; i++) {
		uint64_t off = get64(buf + H_OFFSETS + 8 * i), size = get64(buf + H_SIZES + 8 * i);
		struct eif_section *s = &img->sect[i];
		const uint8_t *sh;
		uint16_t type;

		if (i >= img->nsections) {
			if (off || size)
				return errmsg(err, errlen, -EPROTO, "EIF header: unused section slot %u is not zero", i);
			continue;
		}
		/* nitro-cli writes sections back to back in table order. */
		if (off != cur)
			return errmsg(err, errlen, -EPROTO, "EIF section %u at offset %llu, expected %llu",
				      i, (unsigned long long)off, (unsigned long long)cur);
		/* proofs/eif: each section offset on its own, so the
		 * section's bytes are bounded by the file's. */
		//@ split cur;
		/* cur <= len here (it starts at the header's end, len is at
		 * least that, and grows by at most len - cur), so this is
		 * len - cur < 12 without a wrap; the analysis follows it. */
		if (cur + EIF_SECT_HDR_LEN > len || size > len - cur - EIF_SECT_HDR_LEN)
			return errmsg(err, errlen, -EPROTO, "EIF section %u (%llu bytes) runs past the end of the file",
				      i, (unsigned long long)size);
		sh = buf + cur;
		type = get16(sh);
		if (type < EIF_SECT_KERNEL || type > EIF_SECT_METADATA)
			return errmsg(err, errlen, -EPROTO, "EIF section %u has unknown type %u", i, type);
		if (get16(sh + 2))
			return errmsg(err, errlen, -EPROTO, "EIF section %u has non-zero flags", i);
		if (get64(sh + 4) != size)
			return errmsg(err, errlen, -EPROTO, "EIF section %u: its header says %llu bytes, the table %llu",
				      i, (unsigned long long)get64(sh + 4), (unsigned long long)size);
		s->type = type;
		s->offset = cur;
		s->size = size;
		s->data = sh + EIF_SECT_HDR_LEN;
		count[type]++;
		/* Looked for here, where the section's bounds are at hand;
		 * reported in its place below (same error order as ever). */
		if (type == EIF_SECT_CMDLINE && memchr(sh + EIF_SECT_HDR_LEN, 0, size))
			cmdline_nul = true;
		cur += EIF_SECT_HDR_LEN + size;
	}
	if (cur != len)
		return errmsg(err, errlen, -EPROTO, "EIF: %llu bytes after the last section",
			      (unsigned long long)(len - cur));
	if (count[EIF_SECT_KERNEL] != 1 || count[EIF_SECT_CMDLINE] != 1)
		return errmsg(err, errlen, -EPROTO, "EIF must have exactly one kernel and one cmdline section");
	if (!count[EIF_SECT_RAMDISK])
		return errmsg(err, errlen, -EPROTO, "EIF has no ramdisk section");
	if (count[EIF_SECT_SIGNATURE] > 1 || count[EIF_SECT_METADATA] > 1)
		return errmsg(err, errlen, -EPROTO, "EIF has more than one %s section",
			      sect_name(count[EIF_SECT_SIGNATURE] > 1 ? EIF_SECT_SIGNATURE : EIF_SECT_METADATA));
	if (cmdline_nul)	/* the one cmdline section (counted above) */
		return errmsg(err, errlen, -EPROTO, "EIF cmdline contains a NUL byte");
	return 0;
}

int eif_parse(const uint8_t *buf, size_t len, struct eif_image *img, char *err, size_t errlen)
{
	uint32_t crc;

	memset(img, 0, sizeof(*img));
	if (len < EIF_HDR_LEN)
		return errmsg(err, errlen, -EPROTO, "EIF: %zu bytes, shorter than the %d-byte header",
			      len, EIF_HDR_LEN);
	if (memcmp(buf + H_MAGIC, eif_magic, 4))
		return errmsg(err, errlen, -EPROTO, "not an EIF file (magic is not \".eif\")");
	img->version = get16(buf + H_VERSION);
	if (img->version != EIF_VERSION)
		return errmsg(err, errlen, -EPROTO, "EIF version %u, only version %d is accepted",
			      img->version, EIF_VERSION);
	img->flags = get16(buf + H_FLAGS);
	if (img->flags & ~EIF_FLAG_ARM64)
		return errmsg(err, errlen, -EPROTO, "EIF header has unknown flags 0x%x", img->flags);
	img->default_mem = get64(buf + H_MEM);
	img->default_cpus = get64(buf + H_CPUS);
	if (get16(buf + H_RESERVED) || get32(buf + H_UNUSED))
		return errmsg(err, errlen, -EPROTO, "EIF header: reserved fields must be zero");
	img->nsections = get16(buf + H_NSECT);
	if (!img->nsections || img->nsections > EIF_MAX_SECTIONS)
		return errmsg(err, errlen, -EPROTO, "EIF header: %u sections, must be 1 to %d",
			      img->nsections, EIF_MAX_SECTIONS);
	img->crc = get32(buf + EIF_CRC_OFF);
	/* The CRC covers every byte of the file but its own four. */
	crc = eif_crc32(0, buf, EIF_CRC_OFF);
	crc = eif_crc32(crc, buf + EIF_HDR_LEN, len - EIF_HDR_LEN);
	if (crc != img->crc)
		return errmsg(err, errlen, -EBADMSG, "EIF CRC32 mismatch: header 0x%08x, content 0x%08x",
			      img->crc, crc);
	return parse_sections(buf, len, img, err, errlen);
}

/* ---- measuring ---- */

/* nitro-cli's EifHasher::tpm_extend_finalize_reset: a PCR that starts at
 * zero and is extended once with SHA-384 of the measured bytes. */
struct pcr_ctx {
	EVP_MD_CTX *md;
};

static int pcr_begin(struct pcr_ctx *c)
{
	c->md = EVP_MD_CTX_new();
	return c->md && EVP_DigestInit_ex(c->md, EVP_sha384(), NULL) == 1 ? 0 : -ENOMEM;
}

static int pcr_update(struct pcr_ctx *c, const void *p, size_t n)
{
	return EVP_DigestUpdate(c->md, p, n) == 1 ? 0 : -EIO;
}

static int pcr_end(struct pcr_ctx *c, uint8_t out[EIF_PCR_LEN])
{
	uint8_t buf[2 * EIF_PCR_LEN] = { 0 };
	unsigned n = 0;
	int rc = -EIO;

	if (EVP_DigestFinal_ex(c->md, buf + EIF_PCR_LEN, &n) == 1 && n == EIF_PCR_LEN &&
	    EVP_Digest(buf, sizeof(buf), out, &n, EVP_sha384(), NULL) == 1)
		rc = 0;
	EVP_MD_CTX_free(c->md);
	c->md = NULL;
	return rc;
}

static void pcr_abort(struct pcr_ctx *c)
{
	EVP_MD_CTX_free(c->md);
	c->md = NULL;
}

/* The parts, in image order: kernel, cmdline, ramdisks (first -> PCR1,
 * others -> PCR2; all -> PCR0). */
static int measure_parts(const struct eif_section *kernel, const struct eif_section *cmdline,
			 const struct eif_section *const *rd, unsigned nrd, struct eif_pcrs *pcrs)
{
	struct pcr_ctx p0 = { 0 }, p1 = { 0 }, p2 = { 0 };
	unsigned i;
	int rc;

	if ((rc = pcr_begin(&p0)) || (rc = pcr_begin(&p1)) || (rc = pcr_begin(&p2)))
		goto err;
	rc = pcr_update(&p0, kernel->data, kernel->size) ?: pcr_update(&p1, kernel->data, kernel->size) ?:
	     pcr_update(&p0, cmdline->data, cmdline->size) ?: pcr_update(&p1, cmdline->data, cmdline->size);
	for (i = 0; !rc && i < nrd; i++)
		rc = pcr_update(&p0, rd[i]->data, rd[i]->size) ?:
		     pcr_update(i ? &p2 : &p1, rd[i]->data, rd[i]->size);
	if (rc)
		goto err;
	return pcr_end(&p0, pcrs->pcr0) ?: pcr_end(&p1, pcrs->pcr1) ?: pcr_end(&p2, pcrs->pcr2);
err:
	pcr_abort(&p0);
	pcr_abort(&p1);
	pcr_abort(&p2);
	return rc;
}

static int cert_pcr(X509 *cert, uint8_t out[EIF_PCR_LEN])
{
	struct pcr_ctx c;
	uint8_t *der = NULL;
	int n = i2d_X509(cert, &der), rc;

	if (n <= 0)
		return -EINVAL;
	rc = pcr_begin(&c) ?: pcr_update(&c, der, (size_t)n) ?: pcr_end(&c, out);
	if (rc)
		pcr_abort(&c);
	OPENSSL_free(der);
	return rc;
}

/* serde_cbor writes a Vec<u8> as an array of small integers; a byte
 * string is taken too. *out points into the buffer or is malloc'd. */
static int read_byte_vec(struct cbor_rd *r, uint8_t **out, size_t *len)
{
	struct cbr_item it, b;
	uint64_t i;

	*out = NULL;
	if (cbr_next(r, &it))
		return -EPROTO;
	if (it.type == CBR_BYTES) {
		if (!it.val || !(*out = malloc(it.val)))
			return it.val ? -ENOMEM : -EPROTO;
		memcpy(*out, it.ptr, it.val);
		*len = it.val;
		return 0;
	}
	/* Each element is at least one byte, so the count is bounded by what
	 * is left of the section before anything is allocated. */
	if (it.type != CBR_ARRAY || it.indef || !it.val || it.val > r->len - r->off)
		return -EPROTO;
	if (!(*out = malloc(it.val)))
		return -ENOMEM;
	for (i = 0; i < it.val; i++) {
		if (cbr_next(r, &b) || b.type != CBR_UINT || b.val > 255) {
			free(*out);
			*out = NULL;
			return -EPROTO;
		}
		(*out)[i] = (uint8_t)b.val;
	}
	*len = it.val;
	return 0;
}

static int key_is(const struct cbr_item *k, const char *name)
{
	return k->type == CBR_TEXT && k->val == strlen(name) && !memcmp(k->ptr, name, k->val);
}

/* The signature section: [{signing_certificate: PEM, signature: COSE}]
 * (a Vec<PcrSignature> through serde_cbor; nitro-cli signs PCR0 only). */
static int parse_sigsect(const struct eif_section *s, uint8_t **pem, size_t *pem_len,
			 uint8_t **cose, size_t *cose_len)
{
	struct cbor_rd r;
	struct cbr_item it, k;
	unsigned i;
	int rc;

	*pem = *cose = NULL;
	cbr_init(&r, s->data, s->size);
	if (cbr_next(&r, &it) || it.type != CBR_ARRAY || it.indef || it.val != 1)
		return -EPROTO;
	if (cbr_next(&r, &it) || it.type != CBR_MAP || it.indef || it.val != 2)
		return -EPROTO;
	for (i = 0; i < 2; i++) {
		if (cbr_next(&r, &k))
			return -EPROTO;
		if (key_is(&k, "signing_certificate") && !*pem)
			rc = read_byte_vec(&r, pem, pem_len);
		else if (key_is(&k, "signature") && !*cose)
			rc = read_byte_vec(&r, cose, cose_len);
		else
			rc = -EPROTO;
		if (rc)
			return rc;
	}
	return cbr_done(&r) ? 0 : -EPROTO;
}

/* The COSE payload: PcrInfo {register_index: 0, register_value: PCR0}. */
static int check_pcrinfo(const uint8_t *p, size_t n, const uint8_t pcr0[EIF_PCR_LEN])
{
	struct cbor_rd r;
	struct cbr_item it, k;
	uint8_t *val = NULL;
	size_t vlen = 0;
	int idx_seen = 0, rc = -EPROTO;
	unsigned i;

	cbr_init(&r, p, n);
	if (cbr_next(&r, &it) || it.type != CBR_MAP || it.indef || it.val != 2)
		return -EPROTO;
	for (i = 0; i < 2; i++) {
		if (cbr_next(&r, &k))
			goto out;
		if (key_is(&k, "register_index") && !idx_seen) {
			if (cbr_next(&r, &it) || it.type != CBR_UINT || it.val != 0)
				goto out;
			idx_seen = 1;
		} else if (key_is(&k, "register_value") && !val) {
			if (read_byte_vec(&r, &val, &vlen))
				goto out;
		} else
			goto out;
	}
	if (!cbr_done(&r) || vlen != EIF_PCR_LEN)
		goto out;
	rc = CRYPTO_memcmp(val, pcr0, EIF_PCR_LEN) ? -EBADMSG : 0;
out:
	free(val);
	return rc;
}

static X509 *pem_cert(const uint8_t *pem, size_t len)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return x;
}

static int check_signature(const struct eif_section *s, struct eif_pcrs *pcrs,
			   char *err, size_t errlen)
{
	uint8_t *pem = NULL, *cose = NULL;
	size_t pem_len = 0, cose_len = 0;
	struct cose_sign1 cs;
	X509 *cert = NULL;
	EVP_PKEY *pub;
	int rc;

	if ((rc = parse_sigsect(s, &pem, &pem_len, &cose, &cose_len))) {
		rc = errmsg(err, errlen, rc, "EIF signature section is not [{signing_certificate, signature}]");
		goto out;
	}
	if (pem_len > INT32_MAX || !(cert = pem_cert(pem, pem_len))) {
		rc = errmsg(err, errlen, -EPROTO, "EIF signing certificate is not a PEM X.509 certificate");
		goto out;
	}
	if ((rc = cose_sign1_parse(cose, cose_len, &cs, err, errlen)))
		goto out;
	pub = X509_get0_pubkey(cert);
	if ((rc = cose_sign1_verify(&cs, pub, err, errlen)))
		goto out;
	if ((rc = check_pcrinfo(cs.payload, cs.payload_len, pcrs->pcr0))) {
		rc = errmsg(err, errlen, rc == -EBADMSG ? -EBADMSG : -EPROTO,
			    rc == -EBADMSG ? "EIF signature signs another PCR0 than the image's"
					   : "EIF signature payload is not {register_index: 0, register_value}");
		goto out;
	}
	if ((rc = cert_pcr(cert, pcrs->pcr8)))
		goto out;
	pcrs->has_pcr8 = true;
out:
	X509_free(cert);
	free(pem);
	free(cose);
	return rc;
}

int eif_measure(const struct eif_image *img, struct eif_pcrs *pcrs, char *err, size_t errlen)
{
	const struct eif_section *kernel = NULL, *cmdline = NULL, *sig = NULL;
	const struct eif_section *rd[EIF_MAX_SECTIONS];
	unsigned i, nrd = 0;
	int rc;

	memset(pcrs, 0, sizeof(*pcrs));
	for (i = 0; i < img->nsections; i++) {
		const struct eif_section *s = &img->sect[i];

		if (s->type == EIF_SECT_KERNEL)
			kernel = s;
		else if (s->type == EIF_SECT_CMDLINE)
			cmdline = s;
		else if (s->type == EIF_SECT_RAMDISK)
			rd[nrd++] = s;
		else if (s->type == EIF_SECT_SIGNATURE)
			sig = s;
	}
	if (!kernel || !cmdline || !nrd)
		return errmsg(err, errlen, -EINVAL, "EIF image was not parsed by eif_parse");
	if ((rc = measure_parts(kernel, cmdline, rd, nrd, pcrs)))
		return errmsg(err, errlen, rc, "EIF: hashing failed");
	return sig ? check_signature(sig, pcrs, err, errlen) : 0;
}

/* ---- building ---- */

static int sign_pcr0(const struct eif_build_in *in, const uint8_t pcr0[EIF_PCR_LEN],
		     uint8_t **sect, size_t *sect_len, char *err, size_t errlen)
{
	uint8_t *payload = NULL, *cose = NULL;
	size_t plen, clen, i;
	EVP_PKEY *key = NULL;
	struct cbor_wr w;
	BIO *b;
	int rc;

	b = in->key_pem_len <= INT32_MAX ? BIO_new_mem_buf(in->key_pem, (int)in->key_pem_len) : NULL;
	key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!key)
		return errmsg(err, errlen, -EINVAL, "the private key is not a PEM private key");
	cbw_init(&w);
	cbw_map(&w, 2);
	cbw_text(&w, "register_index");
	cbw_uint(&w, 0);
	cbw_text(&w, "register_value");
	cbw_array(&w, EIF_PCR_LEN);
	for (i = 0; i < EIF_PCR_LEN; i++)
		cbw_uint(&w, pcr0[i]);
	if ((rc = cbw_finish(&w, &payload, &plen)))
		goto out;
	if ((rc = cose_sign1_sign(payload, plen, key, &cose, &clen, err, errlen)))
		goto out;
	cbw_init(&w);
	cbw_array(&w, 1);
	cbw_map(&w, 2);
	cbw_text(&w, "signing_certificate");
	cbw_array(&w, in->cert_pem_len);
	for (i = 0; i < in->cert_pem_len; i++)
		cbw_uint(&w, in->cert_pem[i]);
	cbw_text(&w, "signature");
	cbw_array(&w, clen);
	for (i = 0; i < clen; i++)
		cbw_uint(&w, cose[i]);
	rc = cbw_finish(&w, sect, sect_len);
out:
	if (rc && err && !*err)
		errmsg(err, errlen, rc, "EIF: cannot encode the signature section");
	free(cose);
	free(payload);
	EVP_PKEY_free(key);
	return rc;
}

struct part {
	uint16_t type;
	const uint8_t *p;
	size_t n;
};

static int lay_out(const struct eif_build_in *in, const uint8_t *sig, size_t sig_len,
		   uint8_t **out, size_t *out_len, char *err, size_t errlen)
{
	struct part parts[EIF_MAX_SECTIONS];
	unsigned np = 0, i;
	uint64_t total = EIF_HDR_LEN;
	uint8_t *buf, *p;
	uint32_t crc;

	parts[np++] = (struct part){ EIF_SECT_KERNEL, in->kernel, in->kernel_len };
	parts[np++] = (struct part){ EIF_SECT_CMDLINE, (const uint8_t *)in->cmdline, strlen(in->cmdline) };
	parts[np++] = (struct part){ EIF_SECT_METADATA, in->metadata, in->metadata_len };
	for (i = 0; i < in->nramdisks; i++)
		parts[np++] = (struct part){ EIF_SECT_RAMDISK, in->ramdisk[i], in->ramdisk_len[i] };
	if (sig)
		parts[np++] = (struct part){ EIF_SECT_SIGNATURE, sig, sig_len };
	for (i = 0; i < np; i++) {
		if (parts[i].n > SIZE_MAX / 4 - total)
			return errmsg(err, errlen, -EFBIG, "EIF: image too large");
		total += EIF_SECT_HDR_LEN + parts[i].n;
	}
	if (!(buf = calloc(1, total)))
		return errmsg(err, errlen, -ENOMEM, "EIF: cannot allocate %llu bytes",
			      (unsigned long long)total);
	memcpy(buf + H_MAGIC, eif_magic, 4);
	put16(buf + H_VERSION, EIF_VERSION);
	put16(buf + H_FLAGS, in->flags);
	put64(buf + H_MEM, in->default_mem ? in->default_mem : EIF_DEFAULT_MEM);
	put64(buf + H_CPUS, in->default_cpus ? in->default_cpus : EIF_DEFAULT_CPUS);
	put16(buf + H_NSECT, (uint16_t)np);
	p = buf + EIF_HDR_LEN;
	for (i = 0; i < np; i++) {
		put64(buf + H_OFFSETS + 8 * i, (uint64_t)(p - buf));
		put64(buf + H_SIZES + 8 * i, parts[i].n);
		put16(p, parts[i].type);
		put64(p + 4, parts[i].n);
		if (parts[i].n)
			memcpy(p + EIF_SECT_HDR_LEN, parts[i].p, parts[i].n);
		p += EIF_SECT_HDR_LEN + parts[i].n;
	}
	crc = eif_crc32(0, buf, EIF_CRC_OFF);
	crc = eif_crc32(crc, buf + EIF_HDR_LEN, total - EIF_HDR_LEN);
	put32(buf + EIF_CRC_OFF, crc);
	*out = buf;
	*out_len = total;
	return 0;
}

int eif_build(const struct eif_build_in *in, uint8_t **out, size_t *out_len,
	      struct eif_pcrs *pcrs, char *err, size_t errlen)
{
	struct eif_section k = { 0 }, c = { 0 }, rs[EIF_MAX_SECTIONS];
	const struct eif_section *rd[EIF_MAX_SECTIONS];
	uint8_t *sig = NULL;
	size_t sig_len = 0;
	unsigned i;
	X509 *cert;
	int rc;

	if (err && errlen)
		*err = 0;
	memset(pcrs, 0, sizeof(*pcrs));
	/* kernel, cmdline, metadata and the signature take four slots. */
	if (!in->nramdisks || in->nramdisks > EIF_MAX_SECTIONS - 4)
		return errmsg(err, errlen, -EINVAL, "an enclave image needs 1 to %d ramdisks, got %u",
			      EIF_MAX_SECTIONS - 4, in->nramdisks);
	if (!in->kernel_len)
		return errmsg(err, errlen, -EINVAL, "the kernel is empty");
	if (in->flags & ~EIF_FLAG_ARM64)
		return errmsg(err, errlen, -EINVAL, "unknown EIF flags 0x%x", in->flags);
	if (!in->cert_pem != !in->key_pem)
		return errmsg(err, errlen, -EINVAL, "signing needs both a certificate and a private key");
	k.data = in->kernel;
	k.size = in->kernel_len;
	c.data = (const uint8_t *)in->cmdline;
	c.size = strlen(in->cmdline);
	for (i = 0; i < in->nramdisks; i++) {
		rs[i] = (struct eif_section){ .data = in->ramdisk[i], .size = in->ramdisk_len[i] };
		rd[i] = &rs[i];
	}
	if ((rc = measure_parts(&k, &c, rd, in->nramdisks, pcrs)))
		return errmsg(err, errlen, rc, "EIF: hashing failed");
	if (in->cert_pem) {
		if (in->cert_pem_len > INT32_MAX || !(cert = pem_cert(in->cert_pem, in->cert_pem_len)))
			return errmsg(err, errlen, -EINVAL, "the signing certificate is not a PEM X.509 certificate");
		if (!cose_key_is_p384(X509_get0_pubkey(cert))) {
			X509_free(cert);
			return errmsg(err, errlen, -EINVAL, "the signing certificate's key must be EC P-384");
		}
		rc = cert_pcr(cert, pcrs->pcr8);
		X509_free(cert);
		if (rc)
			return errmsg(err, errlen, rc, "EIF: hashing the certificate failed");
		pcrs->has_pcr8 = true;
		if ((rc = sign_pcr0(in, pcrs->pcr0, &sig, &sig_len, err, errlen)))
			return rc;
	}
	rc = lay_out(in, sig, sig_len, out, out_len, err, errlen);
	free(sig);
	if (rc || !in->cert_pem)
		return rc;
	/* Read a signed image back as a loader would: this is where a key
	 * that does not belong to the certificate is caught. */
	{
		struct eif_image img;
		struct eif_pcrs check;

		rc = eif_parse(*out, *out_len, &img, err, errlen) ?:
		     eif_measure(&img, &check, err, errlen);
	}
	if (rc) {
		errmsg(err, errlen, rc, "the private key does not match the signing certificate");
		free(*out);
		*out = NULL;
	}
	return rc;
}
