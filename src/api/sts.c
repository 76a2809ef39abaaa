/* sts: AssumeRole and GetCallerIdentity (docs/iam.md#sts). Session
 * credentials are stateless: the session token is the session — its key
 * id, secret, role, expiry and session policy — sealed with AES-256-GCM
 * under a key only ward-api holds, so it cannot be forged or altered, and
 * nothing is written per session. */
#include "api.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "log.h"
#include "seal.h"

#define TOKEN_AAD "ward-api sts session token v1"
#define SESSION_POLICY_MAX 2048	/* AWS's limit for the Policy parameter */
#define SECRET_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

static bool session_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_+=,.@-", *s))
			return false;
	return true;
}

/* arn:aws:iam::<account>:role/<path...>/<name>: the name is the last part. */
static const char *role_name_of(const char *arn, const char *account)
{
	char prefix[64];
	const char *rest, *slash;

	snprintf(prefix, sizeof(prefix), "arn:aws:iam::%s:role/", account);
	if (strncmp(arn, prefix, strlen(prefix)) != 0 || strlen(arn) > 2048)
		return NULL;
	rest = arn + strlen(prefix);
	slash = strrchr(rest, '/');
	return slash ? slash + 1 : rest;
}

static void assume_role(struct api *a, struct store_txn *t, const struct api_caller *c,
			const struct query *q, double now, struct api_reply *r)
{
	const char *role_arn = query_get(q, "RoleArn"), *sess = query_get(q, "RoleSessionName");
	const char *dur = query_get(q, "DurationSeconds"), *policy = query_get(q, "Policy");
	const char *ext = query_get(q, "ExternalId"), *rname;
	const char *v_ext[] = { ext };
	struct api_context cx;
	struct iampolicy *trust = NULL, *sp = NULL;
	char *role_json = NULL, akid[32], secret[41], exp[32], err[256], *payload = NULL,
	     *token = NULL, userid[256], arn[600];
	long long duration = 3600, max;
	enum iampolicy_decision d;
	json_t *role = NULL, *tok = NULL;
	struct xml x;
	int rc;

	memset(secret, 0, sizeof(secret));
	if (!role_arn || !sess) {
		api_error(r, 400, STS_NS, "ValidationError", "RoleArn and RoleSessionName are "
			  "required");
		return;
	}
	if (!session_name_ok(sess)) {
		api_error(r, 400, STS_NS, "ValidationError", "RoleSessionName must be 2-64 "
			  "characters of letters, digits and _+=,.@-");
		return;
	}
	if (dur) {
		char *end;

		duration = strtoll(dur, &end, 10);
		if (!*dur || *end || duration < 900 || duration > 43200) {
			api_error(r, 400, STS_NS, "ValidationError", "DurationSeconds must be 900 "
				  "to 43200");
			return;
		}
	}
	if (ext && (strlen(ext) < 2 || strlen(ext) > 1224)) {
		api_error(r, 400, STS_NS, "ValidationError", "ExternalId must be 2-1224 characters");
		return;
	}
	if (!(rname = role_name_of(role_arn, a->account)) || iam_role_lookup(t, rname, &role_json) ||
	    !(role = json_loads(role_json, 0, NULL)) ||
	    strcmp(json_string_value(json_object_get(role, "Arn")), role_arn) != 0) {
		/* Same answer as a refused trust policy: no probing for roles. */
		api_error(r, 403, STS_NS, "AccessDenied", "User: %s is not authorized to "
			  "perform: sts:AssumeRole on resource: %s", c->arn, role_arn);
		goto out;
	}
	max = json_integer_value(json_object_get(role, "MaxSessionDuration"));
	/* Role chaining is limited to one hour, as in AWS. */
	if (c->kind == CALLER_ROLE && max > 3600)
		max = 3600;
	if (duration > max) {
		api_error(r, 400, STS_NS, "ValidationError", "The requested DurationSeconds "
			  "exceeds the MaxSessionDuration set for this role (%lld).", max);
		goto out;
	}
	if (policy) {
		if (strlen(policy) > SESSION_POLICY_MAX) {
			api_error(r, 400, STS_NS, "PackedPolicyTooLarge", "The session policy is "
				  "over %d characters", SESSION_POLICY_MAX);
			goto out;
		}
		if (iampolicy_parse(policy, strlen(policy), IAMPOLICY_IDENTITY, &sp, err,
				    sizeof(err))) {
			api_error(r, 400, STS_NS, "MalformedPolicyDocument", "%s", err);
			goto out;
		}
	}

	const char *tdoc = json_string_value(json_object_get(role, "AssumeRolePolicyDocument"));

	if (!tdoc || iampolicy_parse(tdoc, strlen(tdoc), IAMPOLICY_TRUST, &trust, err, sizeof(err))) {
		api_error(r, 500, STS_NS, "ServiceFailure", "the role's trust policy does not parse");
		goto out;
	}
	/* The trust policy sees the same context as any policy (aws:CurrentTime,
	 * aws:PrincipalType, aws:SecureTransport, ...), plus the external id. */
	api_context_fill(&cx, a, c, now);
	if (ext)
		cx.e[cx.n++] = (struct iampolicy_ctx_entry){ "sts:ExternalId", v_ext, 1 };
	struct iampolicy_request tr = { .action = "sts:AssumeRole", .resource = role_arn,
					.principal = c->arn, .account = a->account,
					.ctx = cx.e, .n_ctx = cx.n };

	d = iampolicy_eval(trust, &tr);
	if (d != IAMPOLICY_ALLOW) {
		api_error(r, 403, STS_NS, "AccessDenied", "User: %s is not authorized to perform: "
			  "sts:AssumeRole on resource: %s", c->arn, role_arn);
		goto out;
	}
	/* The caller's own policies: an explicit deny always wins; and a trust
	 * policy that trusts only the account delegates the decision to them. */
	rc = api_authorize(a, t, c, "sts:AssumeRole", role_arn, now, STS_NS, r);
	/* Only an implicit deny (-EACCES) is overridden by a trust policy that
	 * names the caller; an explicit deny, or policies that could not be
	 * read (-EIO: a deny among them cannot be ruled out), refuse. */
	if (rc && (rc != -EACCES || !iampolicy_trust_names_principal(trust, &tr)))
		goto out;
	free(r->body);
	memset(r, 0, sizeof(*r));

	if (seal_random_chars(akid + 4, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") ||
	    seal_random_chars(secret, 40, SECRET_CHARS)) {
		api_error(r, 500, STS_NS, "ServiceFailure", "no randomness");
		goto out;
	}
	memcpy(akid, "ASIA", 4);
	tok = json_pack("{sisssssssssssfsfss}", "v", 1, "k", akid, "s", secret,
			"r", rname, "ri", json_string_value(json_object_get(role, "RoleId")),
			"n", sess, "i", now, "x", now + (double)duration, "src", c->arn);
	if (tok && policy)
		json_object_set_new(tok, "p", json_string(policy));
	payload = tok ? json_dumps(tok, JSON_COMPACT) : NULL;
	if (!payload || seal_b64(a->token_key, TOKEN_AAD, payload, strlen(payload), &token)) {
		api_error(r, 500, STS_NS, "ServiceFailure", "cannot issue the session");
		goto out;
	}
	api_iso8601(now + (double)duration, exp);
	snprintf(userid, sizeof(userid), "%s:%s",
		 json_string_value(json_object_get(role, "RoleId")), sess);
	snprintf(arn, sizeof(arn), "arn:aws:sts::%s:assumed-role/%s/%s", a->account, rname, sess);
	api_begin(&x, "AssumeRole", STS_NS, true);
	xml_open(&x, "Credentials", NULL);
	xml_text(&x, "AccessKeyId", akid);
	xml_text(&x, "SecretAccessKey", secret);
	xml_text(&x, "SessionToken", token);
	xml_text(&x, "Expiration", exp);
	xml_close(&x);
	xml_open(&x, "AssumedRoleUser", NULL);
	xml_text(&x, "AssumedRoleId", userid);
	xml_text(&x, "Arn", arn);
	xml_close(&x);
	if (policy)
		xml_textf(&x, "PackedPolicySize", "%zu", strlen(policy) * 100 / SESSION_POLICY_MAX);
	api_end(&x, r, true);
	log_info("session issued", "role=%s session=%s caller=%s akid=%s", rname, sess, c->arn, akid);
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	if (payload) {
		OPENSSL_cleanse(payload, strlen(payload));
		free(payload);
	}
	free(token);
	if (tok && json_string_value(json_object_get(tok, "s")))
		OPENSSL_cleanse((char *)json_string_value(json_object_get(tok, "s")), 40);
	json_decref(tok);
	json_decref(role);
	free(role_json);
	iampolicy_free(trust);
	iampolicy_free(sp);
}

int sts_session_open(struct api *a, struct store_txn *t, const char *akid, const char *token,
		     double now, struct api_caller *c, char secret[41])
{
	uint8_t *pt = NULL;
	size_t len = 0;
	json_t *tok = NULL, *role = NULL;
	char *role_json = NULL, err[128];
	const char *k, *s, *rn, *ri, *n, *p;
	int rc = -EACCES;

	if (seal_open_b64(a->token_key, TOKEN_AAD, token, &pt, &len))
		return -EACCES;
	tok = json_loadb((const char *)pt, len, 0, NULL);
	if (!tok)
		goto out;
	k = json_string_value(json_object_get(tok, "k"));
	s = json_string_value(json_object_get(tok, "s"));
	rn = json_string_value(json_object_get(tok, "r"));
	ri = json_string_value(json_object_get(tok, "ri"));
	n = json_string_value(json_object_get(tok, "n"));
	p = json_string_value(json_object_get(tok, "p"));
	if (!k || !s || !rn || !ri || !n || strlen(s) != 40 || strcmp(k, akid) != 0)
		goto out;
	if (json_real_value(json_object_get(tok, "x")) <= now) {
		rc = -ETIME;
		goto out;
	}
	/* A role deleted (and perhaps re-created under the same name) ends
	 * its sessions: the token names the role's unique id. */
	if (iam_role_lookup(t, rn, &role_json) || !(role = json_loads(role_json, 0, NULL)) ||
	    strcmp(json_string_value(json_object_get(role, "RoleId")) ?: "", ri) != 0)
		goto out;
	if (p && iampolicy_parse(p, strlen(p), IAMPOLICY_IDENTITY, &c->session_policy, err,
				 sizeof(err)))
		goto out;
	c->kind = CALLER_ROLE;
	snprintf(c->name, sizeof(c->name), "%s", rn);
	snprintf(c->session, sizeof(c->session), "%s", n);
	snprintf(c->akid, sizeof(c->akid), "%s", akid);
	snprintf(c->userid, sizeof(c->userid), "%s:%s", ri, n);
	snprintf(c->arn, sizeof(c->arn), "arn:aws:sts::%s:assumed-role/%s/%s", a->account, rn, n);
	c->token_issued = json_real_value(json_object_get(tok, "i"));
	memcpy(secret, s, 41);
	rc = 0;
out:
	OPENSSL_cleanse(pt, len);
	free(pt);
	if (tok && (s = json_string_value(json_object_get(tok, "s"))))
		OPENSSL_cleanse((char *)s, strlen(s));	/* jansson's copy of the secret */
	json_decref(tok);
	json_decref(role);
	free(role_json);
	return rc;
}

static void get_caller_identity(struct api *a, const struct api_caller *c, struct api_reply *r)
{
	struct xml x;

	/* Needs no permission, as in AWS: it only tells callers who they are. */
	api_begin(&x, "GetCallerIdentity", STS_NS, true);
	xml_text(&x, "Arn", c->arn);
	xml_text(&x, "UserId", c->userid);
	xml_text(&x, "Account", a->account);
	api_end(&x, r, true);
}

bool sts_handle(struct api *a, struct store_txn *t, const struct api_caller *c,
		const struct query *q, double now, struct api_reply *r)
{
	const char *action = query_get(q, "Action"), *version = query_get(q, "Version");
	bool ours = strcmp(action, "AssumeRole") == 0 || strcmp(action, "GetCallerIdentity") == 0;

	if (!ours)
		return false;
	if (strcmp(c->service, "sts") != 0) {
		api_error(r, 403, STS_NS, "SignatureDoesNotMatch", "Credential should be scoped "
			  "to correct service: 'sts'.");
		return true;
	}
	if (!version || strcmp(version, "2011-06-15") != 0) {
		api_error(r, 400, STS_NS, "InvalidParameterValue", "STS's Version is 2011-06-15");
		return true;
	}
	if (strcmp(action, "AssumeRole") == 0)
		assume_role(a, t, c, q, now, r);
	else
		get_caller_identity(a, c, r);
	return true;
}
