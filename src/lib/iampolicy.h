/* iampolicy: the one IAM policy evaluator of ward (docs/iam.md). Parses
 * policy documents strictly (an element it does not understand is refused,
 * never ignored) and evaluates requests with AWS's documented logic:
 * implicit deny, explicit deny wins, identity allows intersected with
 * session policies, trust policies for sts:AssumeRole. */
#ifndef WARD_IAMPOLICY_H
#define WARD_IAMPOLICY_H

#include <stdbool.h>
#include <stddef.h>

/* AWS's limit for a role's trust policy and managed policies is 10 KiB
 * (6 KiB for managed, 2 KiB inline per user); ward applies one bound. */
#define IAMPOLICY_MAX_LEN 10240

enum iampolicy_kind {
	IAMPOLICY_IDENTITY,	/* user/group/role/session policy: Resource, no Principal */
	IAMPOLICY_TRUST,	/* a role's AssumeRolePolicyDocument: Principal, no Resource */
};

enum iampolicy_decision {
	IAMPOLICY_IMPLICIT_DENY = 0,
	IAMPOLICY_ALLOW,
	IAMPOLICY_EXPLICIT_DENY,
};

/* One request-context key ("aws:username", "aws:SourceIp"); multi-valued
 * keys carry several values. Key names compare case-insensitively. */
struct iampolicy_ctx_entry {
	const char *key;
	const char *const *values;
	size_t n;
};

struct iampolicy_request {
	const char *action;	/* "iam:CreateUser" */
	const char *resource;	/* an ARN, or "*" for actions on no resource */
	const char *principal;	/* caller ARN (trust policies match it) */
	const char *account;	/* caller's 12-digit account (trust policies) */
	/* A service principal ("ec2.amazonaws.com") instead of an AWS one:
	 * then only a Principal's "Service" values can name the caller, and
	 * otherwise only its "AWS" values (never Federated/CanonicalUser). */
	const char *service;
	const struct iampolicy_ctx_entry *ctx;
	size_t n_ctx;
};

struct iampolicy;

/* Parses and validates a document of the given kind. 0, or -EINVAL with a
 * message in err naming the offending element. */
int iampolicy_parse(const char *json, size_t len, enum iampolicy_kind kind,
		    struct iampolicy **out, char *err, size_t errlen);
void iampolicy_free(struct iampolicy *p);

/* One document: EXPLICIT_DENY if a matching statement denies, ALLOW if one
 * allows, else IMPLICIT_DENY. */
enum iampolicy_decision iampolicy_eval(const struct iampolicy *p,
				       const struct iampolicy_request *r);

/* The identity-based decision for a principal: any explicit deny in any
 * identity or session policy wins; otherwise the identity policies must
 * allow, and when session policies are present (n_session > 0, an assumed
 * role session with a Policy) they must allow too. */
enum iampolicy_decision iampolicy_authorize(const struct iampolicy *const *identity,
					    size_t n_identity,
					    const struct iampolicy *const *session,
					    size_t n_session,
					    const struct iampolicy_request *r);

/* For a trust policy: whether the allowing statement named the caller
 * itself (its ARN) rather than only its account ("123456789012" or
 * "arn:aws:iam::123456789012:root"). A role in the same account trusted
 * through the account also needs the caller's identity policy to allow
 * sts:AssumeRole, as in AWS. Valid after iampolicy_eval returned ALLOW. */
bool iampolicy_trust_names_principal(const struct iampolicy *p,
				     const struct iampolicy_request *r);

/* IAM wildcard match: '*' any run (also empty), '?' one character;
 * ci: ASCII case-insensitive. */
bool iampolicy_wildcard(const char *pattern, const char *s, bool ci);

#endif
