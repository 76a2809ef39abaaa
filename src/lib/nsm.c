/* nsm: Nitro Secure Module request handling (see nsm.h). The wire form is
 * serde's externally tagged enums as aws-nitro-enclaves-nsm-api encodes
 * them: a unit variant is its name as a text string ("DescribeNSM"), a
 * struct variant a one-entry map {"ExtendPCR": {"index": 3, "data": h''}},
 * Error(code) is {"Error": "ReadOnlyIndex"}; byte fields are byte strings. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cbor_io.h"
#include "nsm.h"

enum nsm_err { E_NONE, E_INVALID_ARGUMENT, E_INVALID_INDEX, E_READ_ONLY_INDEX,
	       E_INVALID_OPERATION, E_INPUT_TOO_LARGE, E_INTERNAL };
static const char *const err_name[] = {
	"Success", "InvalidArgument", "InvalidIndex", "ReadOnlyIndex",
	"InvalidOperation", "InputTooLarge", "InternalError",
};

int nsm_init(struct nsm *n, const char *module_id, const struct attest_signer *signer)
{
	if (!module_id || !*module_id || strlen(module_id) > ATTEST_MODULE_ID_MAX)
		return -EINVAL;
	memset(n, 0, sizeof(*n));
	strcpy(n->module_id, module_id);
	n->signer = signer;
	/* Only the host measures into the reserved range: were they open,
	 * an enclave could extend PCR0..8 to any value it can reach by
	 * extension and attest as another image. */
	n->locked = (1u << NSM_ATTEST_PCRS) - 1;
	return 0;
}

int nsm_set_pcr(struct nsm *n, unsigned index, const uint8_t value[NSM_PCR_LEN])
{
	if (index >= NSM_NPCRS)
		return -EINVAL;
	if (n->started || (index >= NSM_ATTEST_PCRS && (n->locked & (1u << index))))
		return -EPERM;
	memcpy(n->pcr[index], value, NSM_PCR_LEN);
	return 0;
}

void nsm_lock(struct nsm *n, unsigned index)
{
	if (index < NSM_NPCRS)
		n->locked |= 1u << index;
}

/* ---- request parsing ---- */

struct req {
	enum { R_DESCRIBE_PCR, R_EXTEND_PCR, R_LOCK_PCR, R_LOCK_PCRS, R_DESCRIBE_NSM,
	       R_GET_RANDOM, R_ATTESTATION } kind;
	uint64_t index;		/* index or range */
	struct attest_blob data, user_data, nonce, public_key;
};

static int text_is(const struct cbr_item *it, const char *s)
{
	return it->type == CBR_TEXT && it->val == strlen(s) && !memcmp(it->ptr, s, it->val);
}

/* The fields of a struct variant: a definite or indefinite map whose keys
 * must each be one of `names`, at most once; `need` are required. */
static int read_fields(struct cbor_rd *r, struct req *q, const char *const *names,
		       unsigned nnames, unsigned need)
{
	struct cbr_item m, k, v;
	unsigned seen = 0, i, f;

	if (cbr_next(r, &m) || m.type != CBR_MAP)
		return -EPROTO;
	for (i = 0; m.indef ? !cbr_at_break(r) : i < m.val; i++) {
		if (i >= nnames || cbr_next(r, &k))
			return -EPROTO;
		for (f = 0; f < nnames && !text_is(&k, names[f]); f++)
			;
		if (f == nnames || (seen & (1u << f)) || cbr_next(r, &v))
			return -EPROTO;
		seen |= 1u << f;
		if (!strcmp(names[f], "index") || !strcmp(names[f], "range")) {
			if (v.type != CBR_UINT || v.val > UINT16_MAX)
				return -EPROTO;
			q->index = v.val;
		} else {
			struct attest_blob *b = !strcmp(names[f], "data") ? &q->data :
				!strcmp(names[f], "user_data") ? &q->user_data :
				!strcmp(names[f], "nonce") ? &q->nonce : &q->public_key;

			if (v.type == CBR_NULL && strcmp(names[f], "data"))
				continue;	/* Option::None */
			if (v.type != CBR_BYTES)
				return -EPROTO;
			*b = (struct attest_blob){ true, v.ptr, v.val };
		}
	}
	return (seen & need) == need ? 0 : -EPROTO;
}

static int parse_req(const uint8_t *buf, size_t len, struct req *q)
{
	static const char *const idx[] = { "index" }, *const rng[] = { "range" },
		*const ext[] = { "index", "data" },
		*const att[] = { "user_data", "nonce", "public_key" };
	struct cbor_rd r;
	struct cbr_item it, name;
	int rc;

	memset(q, 0, sizeof(*q));
	cbr_init(&r, buf, len);
	if (cbr_next(&r, &it))
		return -EPROTO;
	if (it.type == CBR_TEXT) {
		if (text_is(&it, "DescribeNSM"))
			q->kind = R_DESCRIBE_NSM;
		else if (text_is(&it, "GetRandom"))
			q->kind = R_GET_RANDOM;
		else
			return -EPROTO;
		return cbr_done(&r) ? 0 : -EPROTO;
	}
	if (it.type != CBR_MAP || (!it.indef && it.val != 1) || cbr_next(&r, &name))
		return -EPROTO;
	if (text_is(&name, "DescribePCR")) {
		q->kind = R_DESCRIBE_PCR;
		rc = read_fields(&r, q, idx, 1, 1);
	} else if (text_is(&name, "ExtendPCR")) {
		q->kind = R_EXTEND_PCR;
		rc = read_fields(&r, q, ext, 2, 3);
	} else if (text_is(&name, "LockPCR")) {
		q->kind = R_LOCK_PCR;
		rc = read_fields(&r, q, idx, 1, 1);
	} else if (text_is(&name, "LockPCRs")) {
		q->kind = R_LOCK_PCRS;
		rc = read_fields(&r, q, rng, 1, 1);
	} else if (text_is(&name, "Attestation")) {
		q->kind = R_ATTESTATION;
		rc = read_fields(&r, q, att, 3, 0);
	} else
		return -EPROTO;
	if (rc || (it.indef && !cbr_at_break(&r)))
		return -EPROTO;
	return cbr_done(&r) ? 0 : -EPROTO;
}

/* ---- responses ---- */

static void error_resp(struct cbor_wr *w, enum nsm_err e)
{
	cbw_map(w, 1);
	cbw_text(w, "Error");
	cbw_text(w, err_name[e]);
}

static enum nsm_err extend(struct nsm *n, const struct req *q, struct cbor_wr *w)
{
	EVP_MD_CTX *md;
	unsigned out = 0;
	int ok;

	if (q->index >= NSM_NPCRS)
		return E_INVALID_INDEX;
	if (n->locked & (1u << q->index))
		return E_READ_ONLY_INDEX;
	if (q->data.len > NSM_EXTEND_MAX)
		return E_INPUT_TOO_LARGE;
	/* PCR = SHA-384(PCR ‖ data), as a TPM extend. */
	if (!(md = EVP_MD_CTX_new()))
		return E_INTERNAL;
	ok = EVP_DigestInit_ex(md, EVP_sha384(), NULL) == 1 &&
	     EVP_DigestUpdate(md, n->pcr[q->index], NSM_PCR_LEN) == 1 &&
	     EVP_DigestUpdate(md, q->data.data, q->data.len) == 1 &&
	     EVP_DigestFinal_ex(md, n->pcr[q->index], &out) == 1 && out == NSM_PCR_LEN;
	EVP_MD_CTX_free(md);
	if (!ok)
		return E_INTERNAL;
	cbw_map(w, 1);
	cbw_text(w, "ExtendPCR");
	cbw_map(w, 1);
	cbw_text(w, "data");
	cbw_bytes(w, n->pcr[q->index], NSM_PCR_LEN);
	return E_NONE;
}

static enum nsm_err attestation(struct nsm *n, const struct req *q, struct cbor_wr *w)
{
	struct attest_doc *d;
	struct timespec ts;
	uint8_t *doc = NULL;
	size_t len;
	unsigned i;
	int rc;

	if ((q->user_data.present && q->user_data.len > ATTEST_USER_DATA_MAX) ||
	    (q->nonce.present && q->nonce.len > ATTEST_NONCE_MAX) ||
	    (q->public_key.present && q->public_key.len > ATTEST_PUBKEY_MAX))
		return E_INPUT_TOO_LARGE;
	if (q->public_key.present && !q->public_key.len)
		return E_INVALID_ARGUMENT;
	if (!n->signer)
		return E_INVALID_OPERATION;
	if (!(d = calloc(1, sizeof(*d))))
		return E_INTERNAL;
	strcpy(d->module_id, n->module_id);
	clock_gettime(CLOCK_REALTIME, &ts);
	d->timestamp_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (i = 0; i < NSM_ATTEST_PCRS; i++)
		memcpy(d->pcr[i], n->pcr[i], NSM_PCR_LEN);
	d->pcr_mask = (1u << NSM_ATTEST_PCRS) - 1;
	d->user_data = q->user_data;
	d->nonce = q->nonce;
	d->public_key = q->public_key;
	rc = attest_generate(d, n->signer, &doc, &len, NULL, 0);
	free(d);
	if (rc)
		return E_INTERNAL;
	cbw_map(w, 1);
	cbw_text(w, "Attestation");
	cbw_map(w, 1);
	cbw_text(w, "document");
	cbw_bytes(w, doc, len);
	free(doc);
	return E_NONE;
}

static enum nsm_err dispatch(struct nsm *n, const struct req *q, struct cbor_wr *w)
{
	uint8_t rnd[NSM_RANDOM_LEN];
	unsigned i, cnt = 0;

	switch (q->kind) {
	case R_DESCRIBE_PCR:
		if (q->index >= NSM_NPCRS)
			return E_INVALID_INDEX;
		cbw_map(w, 1);
		cbw_text(w, "DescribePCR");
		cbw_map(w, 2);
		cbw_text(w, "lock");
		cbw_bool(w, n->locked & (1u << q->index));
		cbw_text(w, "data");
		cbw_bytes(w, n->pcr[q->index], NSM_PCR_LEN);
		return E_NONE;
	case R_EXTEND_PCR:
		return extend(n, q, w);
	case R_LOCK_PCR:
		if (q->index >= NSM_NPCRS)
			return E_INVALID_INDEX;
		n->locked |= 1u << q->index;
		cbw_text(w, "LockPCR");
		return E_NONE;
	case R_LOCK_PCRS:
		if (q->index > NSM_NPCRS)
			return E_INVALID_INDEX;
		for (i = 0; i < q->index; i++)
			n->locked |= 1u << i;
		cbw_text(w, "LockPCRs");
		return E_NONE;
	case R_DESCRIBE_NSM:
		for (i = 0; i < NSM_NPCRS; i++)
			cnt += !!(n->locked & (1u << i));
		cbw_map(w, 1);
		cbw_text(w, "DescribeNSM");
		cbw_map(w, 7);
		cbw_text(w, "version_major");
		cbw_uint(w, 1);
		cbw_text(w, "version_minor");
		cbw_uint(w, 0);
		cbw_text(w, "version_patch");
		cbw_uint(w, 0);
		cbw_text(w, "module_id");
		cbw_text(w, n->module_id);
		cbw_text(w, "max_pcrs");
		cbw_uint(w, NSM_NPCRS);
		cbw_text(w, "locked_pcrs");
		cbw_array(w, cnt);
		for (i = 0; i < NSM_NPCRS; i++)
			if (n->locked & (1u << i))
				cbw_uint(w, i);
		cbw_text(w, "digest");
		cbw_text(w, "SHA384");
		return E_NONE;
	case R_GET_RANDOM:
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return E_INTERNAL;
		cbw_map(w, 1);
		cbw_text(w, "GetRandom");
		cbw_map(w, 1);
		cbw_text(w, "random");
		cbw_bytes(w, rnd, sizeof(rnd));
		return E_NONE;
	case R_ATTESTATION:
		return attestation(n, q, w);
	}
	return E_INVALID_OPERATION;
}

int nsm_handle(struct nsm *n, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len)
{
	struct cbor_wr w;
	struct req q;
	enum nsm_err e;

	n->started = true;
	cbw_init(&w);
	if (len > NSM_REQUEST_MAX)
		e = E_INPUT_TOO_LARGE;
	else if (parse_req(req, len, &q))
		e = E_INVALID_ARGUMENT;
	else
		e = dispatch(n, &q, &w);
	if (e != E_NONE) {
		cbw_free(&w);	/* drop a partly written success */
		error_resp(&w, e);
	}
	return cbw_finish(&w, resp, resp_len);
}
