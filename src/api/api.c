/* api: dispatch, reply shapes and authorisation shared by IAM and STS.
 * Every request runs in one store transaction, committed only if the reply
 * is a success, so a failed request changes nothing. */
#include "api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "errmsg.h"
#include "log.h"
#include "seal.h"
#include "secmem.h"

int api_open(struct api *a, struct store *s, const char *account, const uint8_t master[32])
{
	memset(a, 0, sizeof(*a));
	a->store = s;
	snprintf(a->account, sizeof(a->account), "%s", account);
	a->secret_key = secmem_alloc(32);
	a->token_key = secmem_alloc(32);
	a->authz_key = secmem_alloc(32);
	snprintf(a->region, sizeof(a->region), "us-east-1");
	if (!a->secret_key || !a->token_key || !a->authz_key ||
	    seal_derive(master, "ward-api access-key secrets v1", a->secret_key) ||
	    seal_derive(master, "ward-api sts session tokens v1", a->token_key) ||
	    seal_derive(master, "ward-api ec2 authorization messages v1", a->authz_key)) {
		api_close(a);
		return -ENOMEM;
	}
	return 0;
}

void api_close(struct api *a)
{
	if (a->secret_key)
		secmem_free(a->secret_key, 32);
	if (a->token_key)
		secmem_free(a->token_key, 32);
	if (a->authz_key)
		secmem_free(a->authz_key, 32);
	a->secret_key = a->token_key = a->authz_key = NULL;
}

void api_caller_clear(struct api_caller *c)
{
	iampolicy_free(c->session_policy);
	c->session_policy = NULL;
}

void api_iso8601(double t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void api_request_id(char rid[37])
{
	uint8_t b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		memset(b, 0, sizeof(b));
	snprintf(rid, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
}

void api_set_body(struct api_reply *r, struct xml *x, int status)
{
	free(r->body);
	r->body = NULL;
	r->status = status;
	if (xml_finish(x, &r->body, &r->len)) {
		r->status = 500;
		r->body = NULL;
		r->len = 0;
	}
}

void api_error(struct api_reply *r, int status, const char *ns, const char *code,
	       const char *fmt, ...)
{
	char msg[2048], rid[37];	/* EC2's encoded messages run to ~1.3 KB */
	struct xml x;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	api_request_id(rid);
	xml_init(&x);
	if (r->ec2 || (ns && strcmp(ns, EC2_NS) == 0)) {
		/* EC2's own shape, which botocore's ec2 parser reads (RequestID). */
		r->ec2 = true;
		xml_open(&x, "Response", NULL);
		xml_open(&x, "Errors", NULL);
		xml_open(&x, "Error", NULL);
		xml_text(&x, "Code", code);
		xml_text(&x, "Message", msg);
		xml_close(&x);
		xml_close(&x);
		xml_text(&x, "RequestID", rid);
		xml_close(&x);
		api_set_body(r, &x, status);
		return;
	}
	xml_open(&x, "ErrorResponse", ns);
	xml_open(&x, "Error", NULL);
	xml_text(&x, "Type", status >= 500 ? "Receiver" : "Sender");
	xml_text(&x, "Code", code);
	xml_text(&x, "Message", msg);
	xml_close(&x);
	xml_text(&x, "RequestId", rid);
	xml_close(&x);
	api_set_body(r, &x, status);
}

void api_begin(struct xml *x, const char *action, const char *ns, bool result)
{
	char tag[96];

	xml_init(x);
	snprintf(tag, sizeof(tag), "%sResponse", action);
	xml_open(x, tag, ns);
	if (result) {
		snprintf(tag, sizeof(tag), "%sResult", action);
		xml_open(x, tag, NULL);
	}
}

void api_end(struct xml *x, struct api_reply *r, bool result)
{
	char rid[37];

	api_request_id(rid);
	if (result)
		xml_close(x);
	xml_open(x, "ResponseMetadata", NULL);
	xml_text(x, "RequestId", rid);
	xml_close(x);
	xml_close(x);
	api_set_body(r, x, 200);
}

/* ---- authorisation ------------------------------------------------------- */

struct plist {
	struct iampolicy *p[64];
	size_t n;
	int err;
};

static int add_policy(const char *key, const char *value, void *arg)
{
	struct plist *l = arg;
	json_t *o = json_loads(value, 0, NULL);
	const char *doc = json_string_value(json_object_get(o, "PolicyDocument"));
	char err[128];

	if (!doc || l->n == 64 ||
	    iampolicy_parse(doc, strlen(doc), IAMPOLICY_IDENTITY, &l->p[l->n], err, sizeof(err))) {
		/* Stored documents were validated when put: refuse loudly. */
		log_error("stored policy does not parse", "key=%s", key);
		l->err = -EIO;
	} else {
		l->n++;
	}
	json_decref(o);
	return 0;
}

struct glist {
	struct store_txn *t;
	struct plist *pl;
};

static int add_group(const char *key, const char *value, void *arg)
{
	struct glist *g = arg;
	const char *group = strrchr(key, '/') + 1;
	char prefix[STORE_KEY_MAX];

	snprintf(prefix, sizeof(prefix), "iam/grouppolicy/%s/", group);
	return store_list(g->t, prefix, add_policy, g->pl);
}

void api_context_fill(struct api_context *x, const struct api *a, const struct api_caller *c,
		      double now)
{
	size_t n = 0;

	api_iso8601(now, x->cur);
	snprintf(x->epoch, sizeof(x->epoch), "%lld", (long long)now);
	x->v_user[0] = c->name;
	x->v_id[0] = c->userid;
	x->v_arn[0] = c->arn;
	x->v_type[0] = c->kind == CALLER_USER ? "User" : "AssumedRole";
	x->v_ip[0] = c->source_ip;
	x->v_cur[0] = x->cur;
	x->v_ep[0] = x->epoch;
	x->v_tls[0] = "true";
	x->v_acct[0] = a->account;
	x->v_iss[0] = x->issued;
	/* aws:username exists only for IAM users (IAM guide, policy variables). */
	if (c->kind == CALLER_USER)
		x->e[n++] = (struct iampolicy_ctx_entry){ "aws:username", x->v_user, 1 };
	x->e[n++] = (struct iampolicy_ctx_entry){ "aws:userid", x->v_id, 1 };
	x->e[n++] = (struct iampolicy_ctx_entry){ "aws:PrincipalArn", x->v_arn, 1 };
	x->e[n++] = (struct iampolicy_ctx_entry){ "aws:PrincipalType", x->v_type, 1 };
	x->e[n++] = (struct iampolicy_ctx_entry){ "aws:PrincipalAccount", x->v_acct, 1 };
	if (c->source_ip[0])
		x->e[n++] = (struct iampolicy_ctx_entry){ "aws:SourceIp", x->v_ip, 1 };
	x->e[n++] = (struct iampolicy_ctx_entry){ "aws:CurrentTime", x->v_cur, 1 };
	x->e[n++] = (struct iampolicy_ctx_entry){ "aws:EpochTime", x->v_ep, 1 };
	x->e[n++] = (struct iampolicy_ctx_entry){ "aws:SecureTransport", x->v_tls, 1 };
	if (c->kind == CALLER_ROLE) {
		api_iso8601(c->token_issued, x->issued);
		x->e[n++] = (struct iampolicy_ctx_entry){ "aws:TokenIssueTime", x->v_iss, 1 };
	}
	x->n = n;
}

int api_authorize(struct api *a, struct store_txn *t, const struct api_caller *c,
		  const char *action, const char *resource, double now, const char *ns,
		  struct api_reply *r)
{
	struct plist pl = { .n = 0 };
	struct glist gl = { t, &pl };
	char prefix[STORE_KEY_MAX];
	struct api_context x;
	const struct iampolicy *sess[1] = { c->session_policy };
	enum iampolicy_decision d;
	int rc;

	api_context_fill(&x, a, c, now);
	if (c->kind == CALLER_USER) {
		snprintf(prefix, sizeof(prefix), "iam/userpolicy/%s/", c->name);
		rc = store_list(t, prefix, add_policy, &pl);
		snprintf(prefix, sizeof(prefix), "iam/usergroup/%s/", c->name);
		if (!rc)
			rc = store_list(t, prefix, add_group, &gl);
	} else {
		snprintf(prefix, sizeof(prefix), "iam/rolepolicy/%s/", c->name);
		rc = store_list(t, prefix, add_policy, &pl);
	}
	if (rc || pl.err) {
		api_error(r, 500, ns, "ServiceFailure", "cannot read the caller's policies");
		rc = -EIO;
		goto out;
	}
	d = iampolicy_authorize((const struct iampolicy *const *)pl.p, pl.n, sess,
				c->session_policy ? 1 : 0,
				&(struct iampolicy_request){ .action = action, .resource = resource,
							     .principal = c->arn, .account = a->account,
							     .ctx = x.e, .n_ctx = x.n });
	if (d != IAMPOLICY_ALLOW) {
		/* AWS's wording, which names the principal, action and resource
		 * but not which policy decided. */
		api_error(r, 403, ns, "AccessDenied", "User: %s is not authorized to perform: %s "
			  "on resource: %s%s", c->arn, action, resource,
			  d == IAMPOLICY_EXPLICIT_DENY ? " with an explicit deny" : "");
		rc = d == IAMPOLICY_EXPLICIT_DENY ? -EPERM : -EACCES;
	}
out:
	for (size_t i = 0; i < pl.n; i++)
		iampolicy_free(pl.p[i]);
	return rc;
}

void api_dispatch(struct api *a, const struct api_caller *c, const struct query *q,
		  double now, struct api_reply *r)
{
	struct store_txn *t;
	const char *action = query_get(q, "Action");

	memset(r, 0, sizeof(*r));
	/* The SigV4 scope names the service; an ec2-signed request reaches
	 * only EC2's actions, an iam/sts-signed one only IAM's and STS's. */
	r->ec2 = strcmp(c->service, "ec2") == 0;
	if (!action) {
		api_error(r, 400, IAM_NS, "MissingAction", "the request names no Action");
		return;
	}
	/* A replicated store (etcd) answers -EAGAIN when another replica
	 * changed what this request read: the whole request runs again on
	 * fresh state (nothing of the failed run was stored). */
	for (int attempt = 0;; attempt++) {
		bool ec2 = r->ec2;
		int rc;

		if (store_txn_begin(a->store, true, &t)) {
			api_error(r, 500, IAM_NS, "ServiceFailure", "the store is unavailable");
			return;
		}
		if (r->ec2 ? !ec2_handle(a, t, c, q, now, r) :
			     (!iam_handle(a, t, c, q, now, r) && !sts_handle(a, t, c, q, now, r)))
			api_error(r, 400, IAM_NS, "InvalidAction", "Could not find operation %.64s",
				  action);
		if (r->status != 200) {
			store_txn_abort(t);
			return;
		}
		if (!(rc = store_txn_commit(t)))
			return;
		if (r->body) {	/* may hold a secret (CreateAccessKey) */
			OPENSSL_cleanse(r->body, r->len);
			free(r->body);
		}
		memset(r, 0, sizeof(*r));
		r->ec2 = ec2;
		if (rc == -EAGAIN && attempt < 8)
			continue;
		/* 503: botocore retries it; a ClientToken keeps the retry safe. */
		api_error(r, 503, IAM_NS, "ServiceUnavailable", "the change was not stored");
		log_error("commit failed", "action=%s errno=%s", action, errname(-rc));
		return;
	}
}
