/* api: ward-api's request model — the caller (authenticated by auth.c),
 * the reply (an XML body as botocore parses it), and the dispatch of a
 * Query-protocol Action to IAM (iam.c) or STS (sts.c). */
#ifndef WARD_API_API_H
#define WARD_API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iampolicy.h"
#include "query.h"
#include "store.h"
#include "xml.h"

#define IAM_NS "https://iam.amazonaws.com/doc/2010-05-08/"
#define STS_NS "https://sts.amazonaws.com/doc/2011-06-15/"
#define EC2_NS "http://ec2.amazonaws.com/doc/2016-11-15/"
#define EC2_VERSION "2016-11-15"
#define API_MAX_SKEW 300.0

struct api {
	struct store *store;
	char account[13];
	uint8_t *secret_key;	/* secmem: seals access-key secrets at rest */
	uint8_t *token_key;	/* secmem: seals STS session tokens */
	uint8_t *authz_key;	/* secmem: seals EC2's encoded authorization messages */
	char region[32];	/* EC2 resource ARNs and availability zones */
};

enum caller_kind { CALLER_USER, CALLER_ROLE };

struct api_caller {
	enum caller_kind kind;
	char arn[600];
	char userid[200];	/* AIDA... for users, AROA...:session for roles */
	char name[129];		/* user name, or role name */
	char session[65];	/* role session name */
	char akid[32];
	char source_ip[64];
	char service[8];	/* the SigV4 scope's service: "iam", "sts" or "ec2" */
	double token_issued;
	struct iampolicy *session_policy;	/* owned; NULL when none */
};

struct api_reply {
	bool ec2;	/* errors in EC2's shape (<Response><Errors>...) */
	int status;
	char *body;
	size_t len;
};

/* Opens the store and derives the purpose keys from the 32-byte master key. */
int api_open(struct api *a, struct store *s, const char *account, const uint8_t master[32]);
void api_close(struct api *a);

/* Runs q's Action for caller c. Always fills r. */
void api_dispatch(struct api *a, const struct api_caller *c, const struct query *q,
		  double now, struct api_reply *r);
void api_caller_clear(struct api_caller *c);

/* Error shape of the Query protocol; type Sender for 4xx, Receiver for 5xx.
 * EC2's shape instead when r->ec2 is set or ns is EC2_NS. */
void api_error(struct api_reply *r, int status, const char *ns, const char *code,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Starts <ActionResponse xmlns><ActionResult> and ends them with the request id. */
void api_begin(struct xml *x, const char *action, const char *ns, bool result);
void api_end(struct xml *x, struct api_reply *r, bool result);
/* A random request id (UUID form). */
void api_request_id(char rid[37]);
/* Finishes x into r's body with status; 500 when the writer failed. */
void api_set_body(struct api_reply *r, struct xml *x, int status);

/* Authorisation of c for action on resource with AWS's logic over the
 * caller's identity policies (user + groups, or role) and session policy.
 * 0, or -EACCES (implicit deny) / -EPERM (explicit deny) with an
 * AccessDenied reply filled. */
/* The request context every policy is evaluated in (aws:username,
 * aws:PrincipalArn, aws:CurrentTime, aws:SourceIp, ...), filled from the
 * caller; e[0..n) point into x itself, so x must not be copied. Room is
 * left for the caller's own keys (sts:ExternalId). */
struct api_context {
	char cur[32], epoch[32], issued[32];
	const char *v_user[1], *v_id[1], *v_arn[1], *v_type[1], *v_ip[1], *v_cur[1],
		   *v_ep[1], *v_tls[1], *v_acct[1], *v_iss[1];
	struct iampolicy_ctx_entry e[14];
	size_t n;
};
void api_context_fill(struct api_context *x, const struct api *a, const struct api_caller *c,
		      double now);

int api_authorize(struct api *a, struct store_txn *t, const struct api_caller *c,
		  const char *action,
		  const char *resource, double now, const char *ns, struct api_reply *r);

/* Long-term credentials: the user and secret of an active access key.
 * secret: 41 bytes; the caller wipes it. -ENOENT if unknown/inactive. */
int iam_access_key_secret(struct api *a, struct store_txn *t, const char *akid, char *user, size_t ulen,
			  char *userid, size_t idlen, char *arn, size_t arnlen, char secret[41]);

/* Admin bootstrap: creates user `name` with an AdministratorAccess inline
 * policy and one access key; akid/secret returned for printing once. */
int iam_bootstrap_admin(struct api *a, const char *name, double now, char akid[21],
			char secret[41]);

/* The stored JSON of role `role` (RoleId, Arn, AssumeRolePolicyDocument,
 * MaxSessionDuration); caller frees. -ENOENT. */
int iam_role_lookup(struct store_txn *t, const char *role, char **json);

/* Handlers: return true when the action is theirs. */
/* Run inside the request's one write transaction, committed by
 * api_dispatch only when the reply is a success. */
bool iam_handle(struct api *a, struct store_txn *t, const struct api_caller *c,
		const struct query *q, double now, struct api_reply *r);
/* EC2 Query API (ec2.c): every action of a request signed for "ec2". */
bool ec2_handle(struct api *a, struct store_txn *t, const struct api_caller *c,
		const struct query *q, double now, struct api_reply *r);
bool sts_handle(struct api *a, struct store_txn *t, const struct api_caller *c,
		const struct query *q, double now, struct api_reply *r);

/* Verifies an STS session: token sealed by this ward-api, naming akid,
 * unexpired, its role still the same role. Fills c; secret[41] for SigV4. */
int sts_session_open(struct api *a, struct store_txn *t, const char *akid, const char *token, double now,
		     struct api_caller *c, char secret[41]);

void api_iso8601(double t, char out[32]);

#endif
