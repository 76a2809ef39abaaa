/* hostattest: the controller's attestation routes (docs/attestation.md):
 * GET /v1/attestation/keys, POST /v1/attestation/activate and
 * POST /v1/attestation/quote. The TPM work is src/lib/tpm_keys.c's. */
#include "controller/hostattest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "controller/kmsclient.h"
#include "fileio.h"
#include "log.h"
#include "tpm_eventlog.h"

#define LOG_MAX (64u << 20)	/* tpm_eventlog_parse's own limit */

struct hostattest {
	struct tpm *tpm;
	uint8_t *ak_blob;
	size_t ak_blob_len;
	char *ek_pub_b64, *ak_pub_b64;
	char *log_b64;		/* NULL: no event log in this boot */
	size_t log_len;
};

static int ak_load_or_create(struct hostattest *h, const char *state_dir, char *err,
			     size_t errlen)
{
	char path[4096];
	uint8_t spki[TPM_SPKI_LEN];
	int rc;

	snprintf(path, sizeof(path), "%s/keys", state_dir);
	if (mkdir(path, 0700) && errno != EEXIST) {
		int e = errno;

		snprintf(err, errlen, "cannot create %s: %s", path, strerror(e));
		return -e;
	}
	snprintf(path, sizeof(path), "%s/" HOSTATTEST_AK_BLOB, state_dir);
	rc = fileio_read(path, 65536, 0, &h->ak_blob, &h->ak_blob_len);
	if (rc != -ENOENT) {
		if (rc)
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(-rc));
		return rc;
	}
	/* Not PCR-bound: the AK proves the PCRs, it need not be gated by
	 * them; restricted, so it signs only what the TPM generated. */
	rc = tpm_signkey_create(h->tpm, TPM_SIGNKEY_RESTRICTED, 0, NULL, &h->ak_blob,
				&h->ak_blob_len, spki);
	if (rc) {
		snprintf(err, errlen, "cannot create the attestation key: %s",
			 tpm_error(h->tpm));
		return rc;
	}
	rc = fileio_replace(path, h->ak_blob, h->ak_blob_len, 0600);
	if (rc)
		snprintf(err, errlen, "cannot store %s: %s", path, strerror(-rc));
	else
		log_info("attestation key created in the TPM", "blob=%s", path);
	return rc;
}

int hostattest_open(struct tpm *t, const char *state_dir, const char *log_path,
		    struct hostattest **out, char *err, size_t errlen)
{
	struct hostattest *h = calloc(1, sizeof(*h));
	uint8_t *pub = NULL, *log = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (!h)
		return -ENOMEM;
	h->tpm = t;
	rc = ak_load_or_create(h, state_dir, err, errlen);
	if (rc)
		goto err;
	rc = tpm_blob_public(h->ak_blob, h->ak_blob_len, &pub, &len);
	if (rc) {
		snprintf(err, errlen, "%s/" HOSTATTEST_AK_BLOB " is not a signing key blob",
			 state_dir);
		goto err;
	}
	h->ak_pub_b64 = kmsc_b64_encode(pub, len);
	free(pub);
	pub = NULL;
	rc = tpm_ek_public(t, &pub, &len);
	if (rc) {
		snprintf(err, errlen, "endorsement key: %s", tpm_error(t));
		goto err;
	}
	h->ek_pub_b64 = kmsc_b64_encode(pub, len);
	free(pub);
	if (!h->ak_pub_b64 || !h->ek_pub_b64) {
		rc = -ENOMEM;
		goto err;
	}
	rc = log_path ? fileio_read(log_path, LOG_MAX, 0, &log, &len) : -ENOENT;
	if (rc == 0) {
		h->log_b64 = kmsc_b64_encode(log, len);
		h->log_len = len;
		free(log);
		if (!h->log_b64) {
			rc = -ENOMEM;
			goto err;
		}
	} else {
		log_warn("no event log: quotes will be refused", "path=%s errno=%s",
			 log_path ? log_path : "(none)", strerror(-rc));
	}
	*out = h;
	return 0;
err:
	hostattest_close(h);
	return rc;
}

void hostattest_close(struct hostattest *h)
{
	if (!h)
		return;
	free(h->ak_blob);
	free(h->ek_pub_b64);
	free(h->ak_pub_b64);
	free(h->log_b64);
	free(h);
}

static int failmsg(const char **code, char *msg, size_t msglen, int st, const char *c,
		   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int failmsg(const char **code, char *msg, size_t msglen, int st, const char *c,
		   const char *fmt, ...)
{
	va_list ap;

	*code = c;
	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return st;
}

/* The body: a JSON object with exactly the string fields named. */
static json_t *body_parse(const char *body, size_t len, const char *const *fields,
			  size_t n, char *msg, size_t msglen)
{
	json_error_t je;
	json_t *o = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
	const char *k;
	json_t *v;

	if (!o || !json_is_object(o)) {
		snprintf(msg, msglen, "body must be a JSON object");
		json_decref(o);
		return NULL;
	}
	json_object_foreach(o, k, v) {
		size_t i;

		for (i = 0; i < n && strcmp(k, fields[i]); i++)
			;
		if (i == n || !json_is_string(v)) {
			snprintf(msg, msglen, "unknown or non-string field \"%.32s\"", k);
			json_decref(o);
			return NULL;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!json_object_get(o, fields[i])) {
			snprintf(msg, msglen, "field \"%s\" is required", fields[i]);
			json_decref(o);
			return NULL;
		}
	return o;
}

static int b64_field(json_t *o, const char *f, uint8_t *out, size_t cap, size_t *len)
{
	const char *s = json_string_value(json_object_get(o, f));

	return s ? kmsc_b64_decode(s, out, cap, len) : -EINVAL;
}

static int activate(struct hostattest *h, const char *body, size_t body_len, json_t *audit,
		    json_t **reply, const char **code, char *msg, size_t msglen)
{
	static const char *const fields[] = { "credential", "secret" };
	uint8_t cred[1024], sec[1024], out[64];
	size_t cl = 0, sl = 0, ol = 0;
	char *b64;
	json_t *o = body_parse(body, body_len, fields, 2, msg, msglen);
	int rc;

	if (!o)
		return failmsg(code, msg, msglen, 400, "bad_request", "%s", msg);
	if (b64_field(o, "credential", cred, sizeof(cred), &cl) ||
	    b64_field(o, "secret", sec, sizeof(sec), &sl)) {
		json_decref(o);
		return failmsg(code, msg, msglen, 400, "bad_request",
			       "credential and secret are base64 of at most 1024 bytes");
	}
	json_decref(o);
	rc = tpm_activate_credential(h->tpm, h->ak_blob, h->ak_blob_len, cred, cl, sec, sl,
				     out, &ol);
	json_object_set_new(audit, "activated", json_boolean(rc == 0));
	if (rc == -EINVAL || rc == -EACCES)
		return failmsg(code, msg, msglen, 422, "credential_refused", "%s",
			       tpm_error(h->tpm));
	if (rc)
		return failmsg(code, msg, msglen, 503, "tpm_unavailable", "%s", tpm_error(h->tpm));
	/* The secret is the verifier's challenge, not ours to keep: it goes
	 * back to the caller (who made it) and is wiped here. */
	b64 = kmsc_b64_encode(out, ol);
	OPENSSL_cleanse(out, sizeof(out));
	if (!b64)
		return failmsg(code, msg, msglen, 500, "internal", "out of memory");
	*reply = json_pack("{s:s}", "secret", b64);
	OPENSSL_cleanse(b64, strlen(b64));
	free(b64);
	return *reply ? 200 : failmsg(code, msg, msglen, 500, "internal", "out of memory");
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int quote(struct hostattest *h, const char *body, size_t body_len, json_t *audit,
		 json_t **reply, const char **code, char *msg, size_t msglen)
{
	static const char *const fields[] = { "nonce" };
	struct tpm_quote q;
	uint8_t nonce[64];
	char *att = NULL, *sig = NULL, hex[2 * TPM_DIGEST_LEN + 1], k[4];
	json_t *o = body_parse(body, body_len, fields, 1, msg, msglen), *pcrs;
	const char *n;
	size_t nl;
	int rc;

	if (!o)
		return failmsg(code, msg, msglen, 400, "bad_request", "%s", msg);
	n = json_string_value(json_object_get(o, "nonce"));
	nl = strlen(n);
	if (nl < 32 || nl > 128 || nl % 2) {
		json_decref(o);
		return failmsg(code, msg, msglen, 400, "bad_request",
			       "nonce is 16-64 bytes in lowercase hex");
	}
	for (size_t i = 0; i < nl / 2; i++) {
		int a = hexval(n[2 * i]), b = hexval(n[2 * i + 1]);

		if (a < 0 || b < 0) {
			json_decref(o);
			return failmsg(code, msg, msglen, 400, "bad_request",
				       "nonce is 16-64 bytes in lowercase hex");
		}
		nonce[i] = (uint8_t)(a << 4 | b);
	}
	json_object_set_new(audit, "nonce", json_string(n));
	json_decref(o);
	if (!h->log_b64)
		return failmsg(code, msg, msglen, 503, "no_event_log",
			       "this boot has no event log: nothing to attest");
	rc = tpm_quote(h->tpm, h->ak_blob, h->ak_blob_len, TPM_BOOT_PCRS, nonce, nl / 2, &q);
	if (rc)
		return failmsg(code, msg, msglen, 503, "tpm_unavailable", "%s", tpm_error(h->tpm));
	att = kmsc_b64_encode(q.attest, q.attest_len);
	sig = kmsc_b64_encode(q.sig, q.sig_len);
	pcrs = json_object();
	for (unsigned i = 0; pcrs && i < TPM_NUM_PCRS; i++) {
		if (!(TPM_BOOT_PCRS & TPM_PCR_BIT(i)))
			continue;
		for (unsigned j = 0; j < TPM_DIGEST_LEN; j++)
			snprintf(hex + 2 * j, 3, "%02x", q.pcrs[i][j]);
		snprintf(k, sizeof(k), "%u", i);
		json_object_set_new(pcrs, k, json_string(hex));
	}
	/* pcrs is informative (what the TPM read); a verifier recomputes the
	 * values from the event log and never trusts these. */
	*reply = NULL;
	if (att && sig && pcrs)	/* json_pack takes pcrs ("o"), even when it fails */
		*reply = json_pack("{s:s, s:s, s:s, s:o, s:s}", "quote", att, "signature", sig,
				   "pcr_select", "sha256:12,13,15", "pcrs", pcrs, "event_log",
				   h->log_b64);
	else
		json_decref(pcrs);
	free(att);
	free(sig);
	tpm_quote_free(&q);
	return *reply ? 200 : failmsg(code, msg, msglen, 500, "internal", "out of memory");
}

int hostattest_request(struct hostattest *h, const char *method, const char *pattern,
		       const char *body, size_t body_len, json_t *audit, json_t **reply,
		       const char **code, char *msg, size_t msglen)
{
	*reply = NULL;
	if (!h)
		return failmsg(code, msg, msglen, 503, "attestation_unavailable",
			       "this controller has no attestation key");
	if (!strcmp(method, "GET") && !strcmp(pattern, "/v1/attestation/keys")) {
		*reply = json_pack("{s:s, s:s, s:b}", "ek_public", h->ek_pub_b64, "ak_public",
				   h->ak_pub_b64, "event_log", h->log_b64 != NULL);
		return *reply ? 200 : failmsg(code, msg, msglen, 500, "internal", "out of memory");
	}
	if (!strcmp(method, "POST") && !strcmp(pattern, "/v1/attestation/activate"))
		return activate(h, body, body_len, audit, reply, code, msg, msglen);
	if (!strcmp(method, "POST") && !strcmp(pattern, "/v1/attestation/quote"))
		return quote(h, body, body_len, audit, reply, code, msg, msglen);
	return failmsg(code, msg, msglen, 404, "not_found", "no such attestation route");
}
