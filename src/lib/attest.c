/* attest: parse, verify and generate Nitro attestation documents (see
 * attest.h). The checks follow AWS's "Verifying the root of trust" and the
 * nsm-api's attestation_process.md: COSE_Sign1/ES384, the payload's
 * syntax, the certificate chain and the signature. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/x509_vfy.h>

#include "attest.h"
#include "cbor_io.h"
#include "cose.h"
#include "errmsg.h"

enum field { F_MODULE_ID, F_DIGEST, F_TIMESTAMP, F_PCRS, F_CERT, F_CABUNDLE,
	     F_PUBKEY, F_USER_DATA, F_NONCE, F_COUNT };
static const char *const field_name[F_COUNT] = {
	"module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle",
	"public_key", "user_data", "nonce",
};

static int field_of(const struct cbr_item *k)
{
	int i;

	if (k->type != CBR_TEXT)
		return -1;
	for (i = 0; i < F_COUNT; i++)
		if (k->val == strlen(field_name[i]) && !memcmp(k->ptr, field_name[i], k->val))
			return i;
	return -1;
}

static int bad(char *err, size_t errlen, enum field f, const char *what)
{
	return errmsg(err, errlen, -EPROTO, "attestation document: %s %s", field_name[f], what);
}

static int read_pcrs(struct cbor_rd *r, struct attest_doc *doc, char *err, size_t errlen)
{
	struct cbr_item m, k, v;
	uint64_t i;

	if (cbr_next(r, &m) || m.type != CBR_MAP)
		return bad(err, errlen, F_PCRS, "must be a map");
	for (i = 0; m.indef ? !cbr_at_break(r) : i < m.val; i++) {
		if (i >= ATTEST_NPCRS)
			return bad(err, errlen, F_PCRS, "has more than 32 entries");
		if (cbr_next(r, &k) || k.type != CBR_UINT || k.val >= ATTEST_NPCRS)
			return bad(err, errlen, F_PCRS, "index must be an integer 0..31");
		if (doc->pcr_mask & (1u << k.val))
			return bad(err, errlen, F_PCRS, "has a duplicate index");
		if (cbr_next(r, &v) || v.type != CBR_BYTES || v.val != ATTEST_PCR_LEN)
			return bad(err, errlen, F_PCRS, "value must be 48 bytes (SHA-384)");
		memcpy(doc->pcr[k.val], v.ptr, ATTEST_PCR_LEN);
		doc->pcr_mask |= 1u << k.val;
	}
	if (!doc->pcr_mask)
		return bad(err, errlen, F_PCRS, "is empty");
	return 0;
}

static int read_cabundle(struct cbor_rd *r, struct attest_doc *doc, char *err, size_t errlen)
{
	struct cbr_item a, c;
	uint64_t i;

	if (cbr_next(r, &a) || a.type != CBR_ARRAY)
		return bad(err, errlen, F_CABUNDLE, "must be an array");
	for (i = 0; a.indef ? !cbr_at_break(r) : i < a.val; i++) {
		if (i >= ATTEST_MAX_CABUNDLE)
			return bad(err, errlen, F_CABUNDLE, "has more than 16 certificates");
		if (cbr_next(r, &c) || c.type != CBR_BYTES || !c.val || c.val > ATTEST_CERT_MAX)
			return bad(err, errlen, F_CABUNDLE, "entries must be 1..1024-byte certificates");
		doc->cabundle[i] = (struct attest_blob){ true, c.ptr, c.val };
	}
	doc->ncabundle = (unsigned)i;
	if (!i)
		return bad(err, errlen, F_CABUNDLE, "is empty");
	return 0;
}

/* A bstr of min..max bytes; for an optional field also null. */
static int read_blob(struct cbor_rd *r, enum field f, size_t min, size_t max, bool optional,
		     struct attest_blob *b, char *err, size_t errlen)
{
	struct cbr_item v;

	if (cbr_next(r, &v))
		return bad(err, errlen, f, "is truncated");
	if (optional && v.type == CBR_NULL)
		return 0;
	if (v.type != CBR_BYTES || v.val < min || v.val > max)
		return errmsg(err, errlen, -EPROTO, "attestation document: %s must be %s%zu..%zu bytes",
			      field_name[f], optional ? "null or " : "", min, max);
	*b = (struct attest_blob){ true, v.ptr, v.val };
	return 0;
}

static int read_field(struct cbor_rd *r, enum field f, struct attest_doc *doc,
		      char *err, size_t errlen)
{
	struct cbr_item v;

	switch (f) {
	case F_MODULE_ID:
		if (cbr_next(r, &v) || v.type != CBR_TEXT || !v.val || v.val > ATTEST_MODULE_ID_MAX ||
		    memchr(v.ptr, 0, v.val))
			return bad(err, errlen, f, "must be a non-empty text of at most 255 bytes");
		memcpy(doc->module_id, v.ptr, v.val);
		doc->module_id[v.val] = 0;
		return 0;
	case F_DIGEST:
		if (cbr_next(r, &v) || v.type != CBR_TEXT || v.val != 6 || memcmp(v.ptr, "SHA384", 6))
			return bad(err, errlen, f, "must be \"SHA384\"");
		return 0;
	case F_TIMESTAMP:
		if (cbr_next(r, &v) || v.type != CBR_UINT || !v.val)
			return bad(err, errlen, f, "must be a positive integer (ms since the epoch)");
		doc->timestamp_ms = v.val;
		return 0;
	case F_PCRS:
		return read_pcrs(r, doc, err, errlen);
	case F_CERT:
		return read_blob(r, f, 1, ATTEST_CERT_MAX, false, &doc->certificate, err, errlen);
	case F_CABUNDLE:
		return read_cabundle(r, doc, err, errlen);
	case F_PUBKEY:
		return read_blob(r, f, 1, ATTEST_PUBKEY_MAX, true, &doc->public_key, err, errlen);
	case F_USER_DATA:
		return read_blob(r, f, 0, ATTEST_USER_DATA_MAX, true, &doc->user_data, err, errlen);
	case F_NONCE:
		return read_blob(r, f, 0, ATTEST_NONCE_MAX, true, &doc->nonce, err, errlen);
	default:
		return -EINVAL;
	}
}

static int parse_payload(const uint8_t *p, size_t n, struct attest_doc *doc, char *err, size_t errlen)
{
	struct cbor_rd r;
	struct cbr_item m, k;
	unsigned seen = 0;
	uint64_t i;
	int f, rc;

	cbr_init(&r, p, n);
	/* AWS writes this map with a definite length in older documents and
	 * an indefinite one in newer ones: both are accepted. */
	if (cbr_next(&r, &m) || m.type != CBR_MAP)
		return errmsg(err, errlen, -EPROTO, "attestation document: payload is not a CBOR map");
	for (i = 0; m.indef ? !cbr_at_break(&r) : i < m.val; i++) {
		if (i >= F_COUNT || cbr_next(&r, &k))
			return errmsg(err, errlen, -EPROTO, "attestation document: payload has too many or truncated entries");
		if ((f = field_of(&k)) < 0)
			return errmsg(err, errlen, -EPROTO, "attestation document: unknown payload key");
		if (seen & (1u << f))
			return bad(err, errlen, f, "appears twice");
		seen |= 1u << f;
		if ((rc = read_field(&r, f, doc, err, errlen)))
			return rc;
	}
	if (!cbr_done(&r))
		return errmsg(err, errlen, -EPROTO, "attestation document: bytes after the payload map");
	for (f = F_MODULE_ID; f <= F_CABUNDLE; f++)
		if (!(seen & (1u << f)))
			return bad(err, errlen, f, "is missing");
	return 0;
}

static int parse_doc(const uint8_t *buf, size_t len, struct cose_sign1 *cs,
		     struct attest_doc *doc, char *err, size_t errlen)
{
	int rc;

	memset(doc, 0, sizeof(*doc));
	if ((rc = cose_sign1_parse(buf, len, cs, err, errlen)))
		return rc;
	return parse_payload(cs->payload, cs->payload_len, doc, err, errlen);
}

int attest_parse(const uint8_t *buf, size_t len, struct attest_doc *doc, char *err, size_t errlen)
{
	struct cose_sign1 cs;

	return parse_doc(buf, len, &cs, doc, err, errlen);
}

/* DER that must be exactly one certificate, nothing after it. */
static X509 *der_cert(const struct attest_blob *b)
{
	const uint8_t *p = b->data;
	X509 *x = d2i_X509(NULL, &p, (long)b->len);

	if (x && p != b->data + b->len) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int root_matches(X509 *root, const struct attest_blob *first)
{
	uint8_t *der = NULL;
	int n = i2d_X509(root, &der), ok;

	ok = n > 0 && (size_t)n == first->len && !memcmp(der, first->data, first->len);
	OPENSSL_free(der);
	return ok;
}

static int verify_chain(const struct attest_doc *doc, const struct attest_verify_opts *o,
			X509 *leaf, char *err, size_t errlen)
{
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *param;
	int64_t at = o->at == ATTEST_AT_DOC_TIME ? (int64_t)(doc->timestamp_ms / 1000) : o->at;
	unsigned i;
	X509 *x;
	int rc = -ENOMEM;

	if (!untrusted || !store || !ctx || X509_STORE_add_cert(store, o->root) != 1)
		goto out;
	/* cabundle[0] is the root: the pinned one is the anchor, not it. */
	for (i = 1; i < doc->ncabundle; i++) {
		if (!(x = der_cert(&doc->cabundle[i]))) {
			rc = errmsg(err, errlen, -EPROTO, "attestation document: cabundle[%u] is not a DER certificate", i);
			goto out;
		}
		if (!sk_X509_push(untrusted, x)) {
			X509_free(x);
			goto out;
		}
	}
	if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1)
		goto out;
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(param, (time_t)at);
	/* Not X509_V_FLAG_X509_STRICT: AWS's own leaf and intermediate
	 * certificates carry no authority key identifier, which strict mode
	 * refuses; the path is still built by name and signature. */
	if (X509_verify_cert(ctx) != 1)
		rc = errmsg(err, errlen, -EKEYREJECTED,
			    "attestation document: certificate chain does not verify at %lld: %s",
			    (long long)at, X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	else
		rc = 0;
out:
	if (rc == -ENOMEM)
		errmsg(err, errlen, rc, "attestation document: out of memory");
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_pop_free(untrusted, X509_free);
	return rc;
}

int attest_verify(const uint8_t *buf, size_t len, const struct attest_verify_opts *o,
		  struct attest_doc *doc, char *err, size_t errlen)
{
	struct cose_sign1 cs;
	X509 *leaf;
	int rc;

	if (!o->root)
		return errmsg(err, errlen, -EINVAL, "no pinned root certificate");
	if ((rc = parse_doc(buf, len, &cs, doc, err, errlen)))
		return rc;
	if (!root_matches(o->root, &doc->cabundle[0]))
		return errmsg(err, errlen, -EKEYREJECTED,
			      "attestation document: cabundle[0] is not the pinned root");
	if (!(leaf = der_cert(&doc->certificate)))
		return errmsg(err, errlen, -EPROTO, "attestation document: certificate is not a DER certificate");
	/* The signature first: one verification refuses an altered document
	 * before the chain's several (a cheap refusal for ward-kms). */
	rc = cose_sign1_verify(&cs, X509_get0_pubkey(leaf), err, errlen) ?:
	     verify_chain(doc, o, leaf, err, errlen);
	X509_free(leaf);
	if (rc)
		return rc;
	if (o->nonce && (!doc->nonce.present || doc->nonce.len != o->nonce_len ||
			 CRYPTO_memcmp(doc->nonce.data, o->nonce, o->nonce_len)))
		return errmsg(err, errlen, -EBADMSG, "attestation document: nonce is not the one asked for");
	return 0;
}

static void put_opt(struct cbor_wr *w, const struct attest_blob *b)
{
	if (b->present)
		cbw_bytes(w, b->data, b->len);
	else
		cbw_null(w);
}

int attest_generate(const struct attest_doc *doc, const struct attest_signer *s,
		    uint8_t **out, size_t *out_len, char *err, size_t errlen)
{
	struct cbor_wr w;
	uint8_t *payload;
	size_t plen;
	unsigned i, n = 0;
	int rc;

	if (!doc->module_id[0] || !doc->timestamp_ms || !doc->pcr_mask)
		return errmsg(err, errlen, -EINVAL, "attestation: module_id, timestamp and PCRs are required");
	if (!s->ncabundle || s->ncabundle > ATTEST_MAX_CABUNDLE || !s->cert_len || s->cert_len > ATTEST_CERT_MAX)
		return errmsg(err, errlen, -EINVAL, "attestation: signer needs a certificate and 1..16 CA certificates");
	if ((doc->public_key.present && (!doc->public_key.len || doc->public_key.len > ATTEST_PUBKEY_MAX)) ||
	    (doc->user_data.present && doc->user_data.len > ATTEST_USER_DATA_MAX) ||
	    (doc->nonce.present && doc->nonce.len > ATTEST_NONCE_MAX))
		return errmsg(err, errlen, -EMSGSIZE, "attestation: public_key, user_data or nonce is too large");
	for (i = 0; i < ATTEST_NPCRS; i++)
		n += !!(doc->pcr_mask & (1u << i));
	cbw_init(&w);
	cbw_map(&w, F_COUNT);
	cbw_text(&w, "module_id");
	cbw_text(&w, doc->module_id);
	cbw_text(&w, "digest");
	cbw_text(&w, "SHA384");
	cbw_text(&w, "timestamp");
	cbw_uint(&w, doc->timestamp_ms);
	cbw_text(&w, "pcrs");
	cbw_map(&w, n);
	for (i = 0; i < ATTEST_NPCRS; i++)
		if (doc->pcr_mask & (1u << i)) {
			cbw_uint(&w, i);
			cbw_bytes(&w, doc->pcr[i], ATTEST_PCR_LEN);
		}
	cbw_text(&w, "certificate");
	cbw_bytes(&w, s->cert, s->cert_len);
	cbw_text(&w, "cabundle");
	cbw_array(&w, s->ncabundle);
	for (i = 0; i < s->ncabundle; i++)
		cbw_bytes(&w, s->cabundle[i], s->cabundle_len[i]);
	cbw_text(&w, "public_key");
	put_opt(&w, &doc->public_key);
	cbw_text(&w, "user_data");
	put_opt(&w, &doc->user_data);
	cbw_text(&w, "nonce");
	put_opt(&w, &doc->nonce);
	if ((rc = cbw_finish(&w, &payload, &plen)))
		return errmsg(err, errlen, rc, "attestation: cannot encode the payload");
	rc = cose_sign1_sign(payload, plen, s->key, out, out_len, err, errlen);
	free(payload);
	return rc;
}
