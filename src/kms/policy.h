/* policy: JSON key policies and identity policies (the IAM policy grammar
 * subset ward-kms understands) and their evaluation. The decision across all
 * documents is made by the caller: any explicit Deny wins, then any Allow. */
#ifndef WARD_KMS_POLICY_H
#define WARD_KMS_POLICY_H

#include <jansson.h>
#include <stddef.h>

enum policy_effect { POLICY_NONE = 0, POLICY_ALLOW, POLICY_DENY };

/* The request's condition keys (kms:RecipientAttestation:PCR0, ...): the
 * keys a request does not have are absent, as in AWS. Names compare
 * case-insensitively. */
struct policy_ctx_entry {
	const char *key;
	const char *value;
};

struct policy_ctx {
	const struct policy_ctx_entry *e;
	size_t n;
};

enum policy_kind {
	POLICY_KEY,		/* statements must name a Principal */
	POLICY_IDENTITY,	/* attached to one principal: no Principal element */
};

/* Checks the grammar: Version optional string, Statement object or array
 * of {Sid?, Effect, Principal (key policies only), Action, Resource,
 * Condition?}; any other element (NotAction, ...) is refused rather than
 * ignored, because ignoring a restriction would widen access. Condition
 * takes the String* operators (…IfExists too) and Null, on the condition
 * keys ward-kms knows (policy_condition_key_known). 0 or -EINVAL + err. */
int policy_validate(const json_t *doc, enum policy_kind kind, char *err, size_t errlen);

/* Evaluates one validated document for principal_arn doing action
 * ("kms:Decrypt") on resource (a key ARN, or "*" for CreateKey/ListKeys)
 * with the request's condition keys ctx (NULL: none).
 * Returns POLICY_DENY if any matching statement denies, else POLICY_ALLOW if
 * one allows, else POLICY_NONE. */
enum policy_effect policy_eval(const json_t *doc, enum policy_kind kind,
			       const char *principal_arn, const char *action,
			       const char *resource, const struct policy_ctx *ctx);

/* kms:RecipientAttestation:ImageSha384 and kms:RecipientAttestation:PCR0
 * to PCR31 (any case). 1 when known. */
int policy_condition_key_known(const char *key);

/* Combines: DENY if any is DENY, ALLOW if any is ALLOW, else NONE. */
enum policy_effect policy_combine(enum policy_effect a, enum policy_effect b);

/* Glob match with '*' and '?' (IAM wildcards); ci: ASCII case-insensitive. */
int policy_match(const char *pattern, const char *s, int ci);

#endif
