/* auth: SigV4 verification for ward-kms. The canonical request is rebuilt
 * from exactly the headers the client says it signed; host, x-amz-date and
 * x-amz-target must be among them so neither the operation nor the time can
 * be swapped under a valid signature. */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"
#include "sigv4.h"

static int deny(struct kms_reply *err, const char *type, const char *msg)
{
	kms_reply_error(err, 400, type, msg);
	return -1;
}

static int has_header(const struct sigv4_auth *a, const char *name)
{
	for (size_t i = 0; i < a->n_headers; i++)
		if (strcmp(a->header_names[i], name) == 0)
			return 1;
	return 0;
}

/* Signing keys are derived once per principal and day (4 HMACs plus an HSM
 * unwrap of the secret) and cached in secure memory. */
static int signing_key(struct kms *k, const struct kms_principal *p,
		       const struct sigv4_auth *a, uint8_t key[32])
{
	char scope[144], secret[64];
	struct kms_sigkey *e;
	int rc;

	snprintf(scope, sizeof(scope), "%s/%s/%s", a->date, a->region, a->service);
	for (unsigned i = 0; i < KMS_SIGKEY_CACHE; i++) {
		e = &k->sigkeys[i];
		if (strcmp(e->akid, p->akid) == 0 && strcmp(e->scope, scope) == 0) {
			memcpy(key, e->key, 32);
			return 0;
		}
	}
	rc = kms_user_secret(k, p, secret, sizeof(secret));
	if (rc)
		return rc;
	rc = sigv4_signing_key(secret, a->date, a->region, a->service, key);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (rc)
		return rc;
	e = &k->sigkeys[k->sigkey_next++ % KMS_SIGKEY_CACHE];
	snprintf(e->akid, sizeof(e->akid), "%s", p->akid);
	snprintf(e->scope, sizeof(e->scope), "%s", scope);
	memcpy(e->key, key, 32);
	return 0;
}

static int verify_sigv4(struct kms *k, const struct auth_http *h, const char *authz,
			double now, struct kms_caller *out, struct kms_reply *err)
{
	struct sigv4_header hdrs[SIGV4_MAX_SIGNED_HEADERS];
	struct sigv4_request req;
	struct sigv4_auth a;
	struct kms_principal p;
	const char *amz_date, *sent_hash;
	char payload_hash[65], sig[65], *creq = NULL, *sts = NULL;
	uint8_t key[32];
	time_t t;
	int count, rc = -1;

	if (sigv4_parse_authorization(authz, &a))
		return deny(err, "IncompleteSignatureException",
			    "Authorization header is not a valid AWS4-HMAC-SHA256 header");
	if (!has_header(&a, "host") || !has_header(&a, "x-amz-date") ||
	    !has_header(&a, "x-amz-target"))
		return deny(err, "IncompleteSignatureException",
			    "host, x-amz-date and x-amz-target must be signed");
	amz_date = h->header(h->ctx, "x-amz-date", &count);
	if (!amz_date || count != 1 || sigv4_parse_amz_date(amz_date, &t))
		return deny(err, "IncompleteSignatureException",
			    "X-Amz-Date is missing or malformed");
	if (strncmp(amz_date, a.date, 8) != 0 || strcmp(a.service, "kms") != 0 ||
	    strcmp(a.region, k->region) != 0)
		return deny(err, "InvalidSignatureException",
			    "Credential scope does not match this KMS region, service or date");
	if ((double)t < now - AUTH_MAX_SKEW || (double)t > now + AUTH_MAX_SKEW)
		return deny(err, "InvalidSignatureException",
			    "Signature expired: the request time is more than 5 minutes "
			    "from the server time");
	for (size_t i = 0; i < a.n_headers; i++) {
		hdrs[i].name = a.header_names[i];
		hdrs[i].value = h->header(h->ctx, a.header_names[i], &count);
		/* Joining repeated headers is ambiguous across HTTP stacks:
		 * refuse them instead. */
		if (!hdrs[i].value || count != 1)
			return deny(err, "IncompleteSignatureException",
				    "a signed header is missing or repeated");
	}
	sigv4_sha256_hex(h->body, h->body_len, payload_hash);
	sent_hash = h->header(h->ctx, "x-amz-content-sha256", &count);
	if (sent_hash && strcmp(sent_hash, payload_hash) != 0)
		return deny(err, "InvalidSignatureException",
			    "x-amz-content-sha256 does not match the body");

	if (kms_principal_by_akid(k, a.access_key_id, now, &p))
		return deny(err, "UnrecognizedClientException",
			    "The security token included in the request is invalid.");
	if (p.kind != PRINCIPAL_USER) {
		deny(err, "UnrecognizedClientException",
		     "The security token included in the request is invalid.");
		goto out;
	}
	req = (struct sigv4_request){ h->method, h->path, h->query, hdrs, a.n_headers,
				      payload_hash };
	if (sigv4_canonical_request(&req, &creq) ||
	    sigv4_string_to_sign(amz_date, a.region, a.service, creq, &sts)) {
		deny(err, "IncompleteSignatureException", "cannot build the canonical request");
		goto out;
	}
	if (signing_key(k, &p, &a, key)) {
		kms_reply_error(err, 500, "KMSInternalException", "credential unavailable");
		goto out;
	}
	sigv4_signature(key, sts, sig);
	OPENSSL_cleanse(key, sizeof(key));
	if (CRYPTO_memcmp(sig, a.signature, 64) != 0) {
		deny(err, "InvalidSignatureException",
		     "The request signature we calculated does not match the signature "
		     "you provided.");
		goto out;
	}
	snprintf(out->arn, sizeof(out->arn), "%s", p.arn);
	snprintf(out->name, sizeof(out->name), "%s", p.name);
	out->kind = PRINCIPAL_USER;
	out->policy = p.policy;
	p.policy = NULL;
	rc = 0;
out:
	free(creq);
	free(sts);
	store_principal_clear(&p);
	return rc;
}

int auth_caller(struct kms *k, const struct auth_http *h, double now,
		struct kms_caller *out, struct kms_reply *err)
{
	struct kms_principal p;
	const char *authz;
	int count;

	memset(out, 0, sizeof(*out));
	authz = h->header(h->ctx, "authorization", &count);
	if (authz) {
		if (count != 1)
			return deny(err, "IncompleteSignatureException",
				    "more than one Authorization header");
		return verify_sigv4(k, h, authz, now, out, err);
	}
	if (!h->tls_subject)
		return deny(err, "MissingAuthenticationTokenException",
			    "Request is missing Authentication Token");
	if (store_principal_by_subject(k->store, h->tls_subject, &p))
		return deny(err, "UnrecognizedClientException",
			    "client certificate is not registered for a host");
	snprintf(out->arn, sizeof(out->arn), "%s", p.arn);
	snprintf(out->name, sizeof(out->name), "%s", p.name);
	out->kind = PRINCIPAL_HOST;
	out->policy = p.policy;
	p.policy = NULL;
	store_principal_clear(&p);
	return 0;
}
