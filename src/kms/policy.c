/* policy: evaluation of IAM-style JSON policies for ward-kms. Explicit deny
 * wins over allow, and no statement matching means no access (implicit deny). */
#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

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
					 const char *resource)
{
	if (kind == POLICY_KEY && !principal_match(json_object_get(st, "Principal"), arn))
		return POLICY_NONE;
	if (!any_match(json_object_get(st, "Action"), action, 1))
		return POLICY_NONE;
	if (!any_match(json_object_get(st, "Resource"), resource, 0))
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
			       const char *arn, const char *action, const char *resource)
{
	const json_t *st;
	enum policy_effect r = POLICY_NONE;
	size_t i;
	json_t *v;

	if (!doc)
		return POLICY_NONE;
	st = json_object_get(doc, "Statement");
	if (json_is_object(st))
		return eval_statement(st, kind, arn, action, resource);
	json_array_foreach(st, i, v) {
		r = policy_combine(r, eval_statement(v, kind, arn, action, resource));
		if (r == POLICY_DENY)
			break;
	}
	return r;
}
