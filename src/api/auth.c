/* auth: SigV4 verification for ward-api. host and x-amz-date must be
 * signed (so neither the target nor the time can be swapped), and so must
 * X-Amz-Security-Token when present; the body is bound by its hash. */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"
#include "sigv4.h"

static int deny(struct api_reply *err, int status, const char *code, const char *msg)
{
	api_error(err, status, IAM_NS, code, "%s", msg);
	return -1;
}

static bool signed_header(const struct sigv4_auth *a, const char *name)
{
	for (size_t i = 0; i < a->n_headers; i++)
		if (strcmp(a->header_names[i], name) == 0)
			return true;
	return false;
}

/* The secret for the request's key: an active access key, or a session
 * whose sealed token names it. */
static int credentials(struct api *a, const struct api_http *h, const struct sigv4_auth *sa,
		       double now, struct api_caller *c, char secret[41], struct api_reply *err)
{
	const char *token;
	struct store_txn *t;
	int count, rc;

	token = h->header(h->ctx, "x-amz-security-token", &count);
	if (token && (count != 1 || !signed_header(sa, "x-amz-security-token")))
		return deny(err, 400, "IncompleteSignature",
			    "X-Amz-Security-Token must be sent once and signed");
	if (store_txn_begin(a->store, false, &t))
		return deny(err, 500, "ServiceFailure", "the store is unavailable");
	if (strncmp(sa->access_key_id, "ASIA", 4) == 0) {
		rc = token ? sts_session_open(a, t, sa->access_key_id, token, now, c, secret) :
			     -EACCES;
		store_txn_abort(t);
		if (rc == -ETIME)
			return deny(err, 400, "ExpiredToken",
				    "The security token included in the request is expired");
		if (rc)
			return deny(err, 403, "InvalidClientTokenId",
				    "The security token included in the request is invalid.");
		return 0;
	}
	rc = token ? -EACCES :
	     iam_access_key_secret(a, t, sa->access_key_id, c->name, sizeof(c->name), c->userid,
				   sizeof(c->userid), c->arn, sizeof(c->arn), secret);
	store_txn_abort(t);
	if (rc)
		return deny(err, 403, "InvalidClientTokenId",
			    "The security token included in the request is invalid.");
	c->kind = CALLER_USER;
	snprintf(c->akid, sizeof(c->akid), "%.31s", sa->access_key_id);
	return 0;
}

int auth_caller(struct api *a, const struct api_http *h, double now, struct api_caller *out,
		struct api_reply *err)
{
	struct sigv4_header hdrs[SIGV4_MAX_SIGNED_HEADERS];
	struct sigv4_request req;
	struct sigv4_auth sa;
	const char *authz, *amz_date, *sent_hash;
	char payload_hash[65], sig[65], secret[41], *creq = NULL, *sts = NULL;
	uint8_t key[32];
	time_t t;
	int count, rc = -1;

	memset(out, 0, sizeof(*out));
	authz = h->header(h->ctx, "authorization", &count);
	if (!authz)
		return deny(err, 403, "MissingAuthenticationToken",
			    "Request is missing Authentication Token");
	if (count != 1 || sigv4_parse_authorization(authz, &sa))
		return deny(err, 400, "IncompleteSignature",
			    "Authorization header is not a valid AWS4-HMAC-SHA256 header");
	if (!signed_header(&sa, "host") || !signed_header(&sa, "x-amz-date"))
		return deny(err, 400, "IncompleteSignature", "host and x-amz-date must be signed");
	amz_date = h->header(h->ctx, "x-amz-date", &count);
	if (!amz_date || count != 1 || sigv4_parse_amz_date(amz_date, &t))
		return deny(err, 400, "IncompleteSignature", "X-Amz-Date is missing or malformed");
	if (strncmp(amz_date, sa.date, 8) != 0 ||
	    (strcmp(sa.service, "iam") != 0 && strcmp(sa.service, "sts") != 0 &&
	     strcmp(sa.service, "ec2") != 0))
		return deny(err, 403, "SignatureDoesNotMatch",
			    "Credential scope must name this date and the iam, sts or ec2 service");
	if ((double)t < now - API_MAX_SKEW || (double)t > now + API_MAX_SKEW)
		return deny(err, 403, "SignatureDoesNotMatch",
			    "Signature expired: the request time is more than 5 minutes from "
			    "the server time");
	for (size_t i = 0; i < sa.n_headers; i++) {
		hdrs[i].name = sa.header_names[i];
		hdrs[i].value = h->header(h->ctx, sa.header_names[i], &count);
		/* Joining repeated headers is ambiguous across HTTP stacks. */
		if (!hdrs[i].value || count != 1)
			return deny(err, 400, "IncompleteSignature",
				    "a signed header is missing or repeated");
	}
	sigv4_sha256_hex(h->body, h->body_len, payload_hash);
	sent_hash = h->header(h->ctx, "x-amz-content-sha256", &count);
	if (sent_hash && strcmp(sent_hash, payload_hash) != 0)
		return deny(err, 400, "IncompleteSignature",
			    "x-amz-content-sha256 does not match the body");
	if (credentials(a, h, &sa, now, out, secret, err))
		goto out;
	req = (struct sigv4_request){ h->method, h->path, h->query, hdrs, sa.n_headers,
				      payload_hash };
	if (sigv4_canonical_request(&req, &creq) ||
	    sigv4_string_to_sign(amz_date, sa.region, sa.service, creq, &sts) ||
	    sigv4_signing_key(secret, sa.date, sa.region, sa.service, key)) {
		deny(err, 400, "IncompleteSignature", "cannot build the canonical request");
		goto out;
	}
	sigv4_signature(key, sts, sig);
	OPENSSL_cleanse(key, sizeof(key));
	if (CRYPTO_memcmp(sig, sa.signature, 64) != 0) {
		deny(err, 403, "SignatureDoesNotMatch", "The request signature we calculated does "
		     "not match the signature you provided. Check your AWS Secret Access Key and "
		     "signing method.");
		goto out;
	}
	snprintf(out->service, sizeof(out->service), "%.7s", sa.service);
	snprintf(out->source_ip, sizeof(out->source_ip), "%s", h->source_ip ? h->source_ip : "");
	rc = 0;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	if (rc)
		api_caller_clear(out);
	free(creq);
	free(sts);
	return rc;
}
