/* policy: evaluation of IAM-style JSON policies for ward-kms. Explicit deny
 * wins over allow, and no statement matching means no access (implicit deny). */
#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int policy_match(const char *p, const char *s, int ci)
{
	const char *star = NULL, *ss = NULL;

	while (*s) {
		char pc = *p, sc = *s;

		if (ci) {
			pc = (char)tolower((unsigned char)pc);
			sc = (char)tolower((unsigned char)sc);
		}
		if (*p == '*') {
			star = p++;
			ss = s;
		} else if (*p && (*p == '?' || pc == sc)) {
			p++;
			s++;
		} else if (star) {
			p = star + 1;
			s = ++ss;
		} else {
			return 0;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* A string or a non-empty array of strings. */
static int check_strings(const json_t *v)
{
	size_t i;
	json_t *e;

	if (json_is_string(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) == 0)
		return -EINVAL;
	json_array_foreach(v, i, e)
		if (!json_is_string(e))
			return -EINVAL;
	return 0;
}

static int any_match(const json_t *v, const char *s, int ci)
{
	size_t i;
	json_t *e;

	if (json_is_string(v))
		return policy_match(json_string_value(v), s, ci);
	json_array_foreach(v, i, e)
		if (policy_match(json_string_value(e), s, ci))
			return 1;
	return 0;
}

static int check_principal(const json_t *p)
{
	const char *k;
	json_t *v;

	if (json_is_string(p))
		return strcmp(json_string_value(p), "*") == 0 ? 0 : -EINVAL;
	if (!json_is_object(p) || json_object_size(p) == 0)
		return -EINVAL;
	json_object_foreach((json_t *)p, k, v) {
		if (strcmp(k, "AWS") != 0 || check_strings(v))
			return -EINVAL;
	}
	return 0;
}

/* Principal ARNs match exactly (or "*"): there is no account-root
 * delegation in ward-kms, identity policies always apply (docs/kms.md). */
static int principal_match(const json_t *p, const char *arn)
{
	const json_t *aws;
	size_t i;
	json_t *e;

	if (json_is_string(p))
		return 1;	/* validated: "*" */
	aws = json_object_get(p, "AWS");
	if (json_is_string(aws))
		return strcmp(json_string_value(aws), "*") == 0 ||
		       strcmp(json_string_value(aws), arn) == 0;
	json_array_foreach(aws, i, e)
		if (strcmp(json_string_value(e), "*") == 0 ||
		    strcmp(json_string_value(e), arn) == 0)
			return 1;
	return 0;
}

/* ---- Condition: String* operators and Null (IAM User Guide semantics) ---- */

enum cmp { CMP_EQ, CMP_EQ_CI, CMP_LIKE, CMP_NULL };

struct cond_op {
	enum cmp cmp;
	int neg, if_exists;
};

static const struct { const char *name; enum cmp cmp; int neg; } cond_ops[] = {
	{ "StringEquals", CMP_EQ, 0 }, { "StringNotEquals", CMP_EQ, 1 },
	{ "StringEqualsIgnoreCase", CMP_EQ_CI, 0 }, { "StringNotEqualsIgnoreCase", CMP_EQ_CI, 1 },
	{ "StringLike", CMP_LIKE, 0 }, { "StringNotLike", CMP_LIKE, 1 },
	{ "Null", CMP_NULL, 0 },
};

static int cond_op_parse(const char *name, struct cond_op *o)
{
	size_t len = strlen(name);

	o->if_exists = len > 8 && strcmp(name + len - 8, "IfExists") == 0;
	if (o->if_exists)
		len -= 8;
	for (size_t i = 0; i < sizeof(cond_ops) / sizeof(cond_ops[0]); i++)
		if (strlen(cond_ops[i].name) == len && strncmp(cond_ops[i].name, name, len) == 0) {
			o->cmp = cond_ops[i].cmp;
			o->neg = cond_ops[i].neg;
			/* Null tests presence itself: "NullIfExists" means nothing. */
			return o->cmp == CMP_NULL && o->if_exists ? -EINVAL : 0;
		}
	return -EINVAL;
}

int policy_condition_key_known(const char *key)
{
	static const char pfx[] = "kms:RecipientAttestation:";
	const char *p;
	char *end;
	long n;

	if (strncasecmp(key, pfx, sizeof(pfx) - 1) != 0)
		return 0;
	p = key + sizeof(pfx) - 1;
	if (strcasecmp(p, "ImageSha384") == 0)
		return 1;
	if (strncasecmp(p, "PCR", 3) != 0 || !isdigit((unsigned char)p[3]) ||
	    (p[3] == '0' && p[4] != '\0'))
		return 0;
	n = strtol(p + 3, &end, 10);
	return *end == '\0' && n >= 0 && n < 32;
}

/* Condition values: a string (a boolean for Null) or a non-empty array. */
static int check_cond_values(const json_t *v, enum cmp cmp)
{
	size_t i;
	json_t *e;

	if (cmp == CMP_NULL && json_is_boolean(v))
		return 0;
	if (json_is_string(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) == 0)
		return -EINVAL;
	json_array_foreach(v, i, e)
		if (!json_is_string(e) && !(cmp == CMP_NULL && json_is_boolean(e)))
			return -EINVAL;
	return 0;
}

static int check_condition(const json_t *c, char *err, size_t errlen, size_t idx)
{
	const char *opn, *key;
	json_t *keys, *vals;

	if (!json_is_object(c) || json_object_size(c) == 0) {
		snprintf(err, errlen, "Statement %zu: Condition must be a non-empty object", idx);
		return -EINVAL;
	}
	json_object_foreach((json_t *)c, opn, keys) {
		struct cond_op o;

		if (cond_op_parse(opn, &o)) {
			snprintf(err, errlen, "Statement %zu: unsupported condition operator %.64s",
				 idx, opn);
			return -EINVAL;
		}
		if (!json_is_object(keys) || json_object_size(keys) == 0) {
			snprintf(err, errlen, "Statement %zu: %.64s needs an object of keys", idx, opn);
			return -EINVAL;
		}
		json_object_foreach(keys, key, vals) {
			if (!policy_condition_key_known(key)) {
				snprintf(err, errlen, "Statement %zu: unsupported condition key %.64s",
					 idx, key);
				return -EINVAL;
			}
			if (check_cond_values(vals, o.cmp)) {
				snprintf(err, errlen, "Statement %zu: %.64s values must be strings",
					 idx, key);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static const char *ctx_get(const struct policy_ctx *ctx, const char *key)
{
	for (size_t i = 0; ctx && i < ctx->n; i++)
		if (strcasecmp(ctx->e[i].key, key) == 0)
			return ctx->e[i].value;
	return NULL;
}

static int value_match(enum cmp cmp, const json_t *pv, const char *have)
{
	const char *want = json_string_value(pv);

	switch (cmp) {
	case CMP_EQ: return strcmp(want, have) == 0;
	case CMP_EQ_CI: return strcasecmp(want, have) == 0;
	case CMP_LIKE: return policy_match(want, have, 0);
	case CMP_NULL: break;
	}
	return 0;
}

static int null_wants_absent(const json_t *pv)
{
	return json_is_true(pv) || (json_is_string(pv) &&
				    strcasecmp(json_string_value(pv), "true") == 0);
}

/* One key under one operator: a missing key fails a positive operator and
 * satisfies a negated one; …IfExists makes it satisfy any. */
static int key_holds(const struct cond_op *o, const json_t *vals, const char *have)
{
	size_t i;
	json_t *pv;
	int any = 0;

	if (o->cmp == CMP_NULL) {
		if (!json_is_array(vals))
			return null_wants_absent(vals) == !have;
		json_array_foreach(vals, i, pv)
			if (null_wants_absent(pv) == !have)
				return 1;
		return 0;
	}
	if (!have)
		return o->if_exists || o->neg;
	if (!json_is_array(vals))
		any = value_match(o->cmp, vals, have);
	else
		json_array_foreach(vals, i, pv)
			if ((any = value_match(o->cmp, pv, have)))
				break;
	return o->neg ? !any : any;
}

static int condition_holds(const json_t *c, const struct policy_ctx *ctx)
{
	const char *opn, *key;
	json_t *keys, *vals;

	if (!c)
		return 1;
	json_object_foreach((json_t *)c, opn, keys) {
		struct cond_op o;

		if (cond_op_parse(opn, &o))
			return 0;	/* validated on the way in: unreachable */
		json_object_foreach(keys, key, vals)
			if (!key_holds(&o, vals, ctx_get(ctx, key)))
				return 0;
	}
	return 1;
}

static int check_statement(const json_t *st, enum policy_kind kind, char *err,
			   size_t errlen, size_t idx)
{
	const char *k, *effect;
	json_t *v;

	if (!json_is_object(st)) {
		snprintf(err, errlen, "Statement %zu is not an object", idx);
		return -EINVAL;
	}
	json_object_foreach((json_t *)st, k, v) {
		if (strcmp(k, "Sid") == 0 && json_is_string(v))
			continue;
		if (strcmp(k, "Effect") == 0 && json_is_string(v))
			continue;
		if ((strcmp(k, "Action") == 0 || strcmp(k, "Resource") == 0) &&
		    check_strings(v) == 0)
			continue;
		if (strcmp(k, "Principal") == 0 && kind == POLICY_KEY &&
		    check_principal(v) == 0)
			continue;
		if (strcmp(k, "Condition") == 0) {
			if (check_condition(v, err, errlen, idx))
				return -EINVAL;
			continue;
		}
		snprintf(err, errlen, "Statement %zu: unsupported or malformed element %.64s",
			 idx, k);
		return -EINVAL;
	}
	effect = json_string_value(json_object_get(st, "Effect"));
	if (!effect || (strcmp(effect, "Allow") != 0 && strcmp(effect, "Deny") != 0)) {
		snprintf(err, errlen, "Statement %zu: Effect must be Allow or Deny", idx);
		return -EINVAL;
	}
	if (!json_object_get(st, "Action") || !json_object_get(st, "Resource")) {
		snprintf(err, errlen, "Statement %zu: Action and Resource are required", idx);
		return -EINVAL;
	}
	if (kind == POLICY_KEY && !json_object_get(st, "Principal")) {
		snprintf(err, errlen, "Statement %zu: key policy statements need a Principal", idx);
		return -EINVAL;
	}
	return 0;
}

int policy_validate(const json_t *doc, enum policy_kind kind, char *err, size_t errlen)
{
	const char *k;
	json_t *v, *st;
	size_t i;

	if (!json_is_object(doc)) {
		snprintf(err, errlen, "policy must be a JSON object");
		return -EINVAL;
	}
	json_object_foreach((json_t *)doc, k, v) {
		if (strcmp(k, "Version") == 0 && json_is_string(v))
			continue;
		if (strcmp(k, "Id") == 0 && json_is_string(v))
			continue;
		if (strcmp(k, "Statement") == 0)
			continue;
		snprintf(err, errlen, "unsupported policy element %.64s", k);
		return -EINVAL;
	}
	st = json_object_get(doc, "Statement");
	if (json_is_object(st))
		return check_statement(st, kind, err, errlen, 0);
	if (!json_is_array(st) || json_array_size(st) == 0) {
		snprintf(err, errlen, "Statement must be an object or a non-empty array");
		return -EINVAL;
	}
	json_array_foreach(st, i, v)
		if (check_statement(v, kind, err, errlen, i))
			return -EINVAL;
	return 0;
}

static enum policy_effect eval_statement(const json_t *st, enum policy_kind kind,
					 const char *arn, const char *action,
					 const char *resource, const struct policy_ctx *ctx)
{
	if (kind == POLICY_KEY && !principal_match(json_object_get(st, "Principal"), arn))
		return POLICY_NONE;
	if (!any_match(json_object_get(st, "Action"), action, 1))
		return POLICY_NONE;
	if (!any_match(json_object_get(st, "Resource"), resource, 0))
		return POLICY_NONE;
	if (!condition_holds(json_object_get(st, "Condition"), ctx))
		return POLICY_NONE;
	return strcmp(json_string_value(json_object_get(st, "Effect")), "Deny") == 0 ?
	       POLICY_DENY : POLICY_ALLOW;
}

enum policy_effect policy_combine(enum policy_effect a, enum policy_effect b)
{
	if (a == POLICY_DENY || b == POLICY_DENY)
		return POLICY_DENY;
	if (a == POLICY_ALLOW || b == POLICY_ALLOW)
		return POLICY_ALLOW;
	return POLICY_NONE;
}

enum policy_effect policy_eval(const json_t *doc, enum policy_kind kind,
			       const char *arn, const char *action, const char *resource,
			       const struct policy_ctx *ctx)
{
	const json_t *st;
	enum policy_effect r = POLICY_NONE;
	size_t i;
	json_t *v;

	if (!doc)
		return POLICY_NONE;
	st = json_object_get(doc, "Statement");
	if (json_is_object(st))
		return eval_statement(st, kind, arn, action, resource, ctx);
	json_array_foreach(st, i, v) {
		r = policy_combine(r, eval_statement(v, kind, arn, action, resource, ctx));
		if (r == POLICY_DENY)
			break;
	}
	return r;
}
