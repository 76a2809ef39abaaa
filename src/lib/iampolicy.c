/* iampolicy: IAM policy grammar and evaluation, following the IAM User
 * Guide's "policy evaluation logic", "IAM JSON policy elements" and
 * "condition operators" pages. Documents are validated once at parse time
 * so evaluation never meets a shape it does not know. */
#include "iampolicy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "errmsg.h"

struct iampolicy {
	json_t *doc;
	enum iampolicy_kind kind;
	bool vars;		/* Version 2012-10-17: ${...} policy variables */
};

/* ---- wildcards ---------------------------------------------------------- */

/* lit, when given, marks characters that came from a substituted variable
 * or an escape (${*}): they match themselves only. */
static bool wc_match(const char *p, const char *lit, const char *s, bool ci)
{
	size_t pi = 0, si = 0, star_p = 0, star_s = 0;
	bool star = false;

	while (s[si]) {
		char pc = p[pi], sc = s[si];
		bool l = lit && p[pi] && lit[pi];

		if (ci) {
			pc = (char)tolower((unsigned char)pc);
			sc = (char)tolower((unsigned char)sc);
		}
		if (p[pi] == '*' && !l) {
			star = true;
			star_p = ++pi;
			star_s = si;
		} else if (p[pi] && ((p[pi] == '?' && !l) || pc == sc)) {
			pi++;
			si++;
		} else if (star) {
			pi = star_p;
			si = ++star_s;
		} else {
			return false;
		}
	}
	while (p[pi] == '*' && !(lit && lit[pi]))
		pi++;
	return p[pi] == '\0';
}

bool iampolicy_wildcard(const char *pattern, const char *s, bool ci)
{
	return wc_match(pattern, NULL, s, ci);
}

/* ---- request context and policy variables ------------------------------- */

static const struct iampolicy_ctx_entry *ctx_get(const struct iampolicy_request *r,
						 const char *key, size_t klen)
{
	for (size_t i = 0; i < r->n_ctx; i++)
		if (strlen(r->ctx[i].key) == klen && strncasecmp(r->ctx[i].key, key, klen) == 0)
			return r->ctx[i].n ? &r->ctx[i] : NULL;
	return NULL;
}

struct expanded {
	char *s;
	char *lit;
	size_t len, cap;
};

static int ex_put(struct expanded *e, const char *s, size_t n, bool lit)
{
	if (e->len + n + 1 > e->cap) {
		size_t cap = (e->len + n + 1) * 2;
		char *ns = realloc(e->s, cap), *nl;

		if (!ns)
			return -ENOMEM;
		e->s = ns;
		nl = realloc(e->lit, cap);
		if (!nl)
			return -ENOMEM;
		e->lit = nl;
		e->cap = cap;
	}
	memcpy(e->s + e->len, s, n);
	memset(e->lit + e->len, lit, n);
	e->len += n;
	e->s[e->len] = '\0';
	e->lit[e->len] = 0;
	return 0;
}

static void ex_free(struct expanded *e)
{
	free(e->s);
	free(e->lit);
}

/* Expands ${key}, ${key, 'default'}, ${*}, ${?}, ${$}. -ENOENT when a
 * variable has no single value and no default: AWS treats that element as
 * not matching. Substituted text is literal (never a wildcard). */
static int expand(const char *t, const struct iampolicy_request *r, bool vars,
		  struct expanded *e)
{
	int rc;

	memset(e, 0, sizeof(*e));
	if ((rc = ex_put(e, "", 0, false)))
		return rc;
	while (*t) {
		const char *open = vars ? strstr(t, "${") : NULL, *close, *comma;

		if (!open || !(close = strchr(open + 2, '}')))
			return ex_put(e, t, strlen(t), false);
		if ((rc = ex_put(e, t, (size_t)(open - t), false)))
			return rc;
		const char *name = open + 2;
		size_t nlen = (size_t)(close - name);

		if (nlen == 1 && strchr("*?$", name[0])) {
			rc = ex_put(e, name, 1, true);
		} else {
			const char *def = NULL;
			size_t dlen = 0;
			const struct iampolicy_ctx_entry *v;

			comma = memchr(name, ',', nlen);
			if (comma) {
				const char *q = comma + 1;

				while (*q == ' ')
					q++;
				if (*q == '\'' && close[-1] == '\'' && close - 1 > q) {
					def = q + 1;
					dlen = (size_t)(close - 1 - def);
				}
				nlen = (size_t)(comma - name);
				while (nlen && name[nlen - 1] == ' ')
					nlen--;
			}
			v = ctx_get(r, name, nlen);
			if (v && v->n == 1)
				rc = ex_put(e, v->values[0], strlen(v->values[0]), true);
			else if (def)
				rc = ex_put(e, def, dlen, true);
			else
				return -ENOENT;
		}
		if (rc)
			return rc;
		t = close + 1;
	}
	return 0;
}

/* ---- value parsers shared by validation and evaluation ------------------ */

static int parse_num(const char *s, double *out)
{
	char *end;

	if (!*s || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	*out = strtod(s, &end);
	if (*end || errno || !isfinite(*out))
		return -EINVAL;
	return 0;
}

static int digits(const char *s, int n, int *out)
{
	*out = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		*out = *out * 10 + (s[i] - '0');
	}
	return 0;
}

/* ISO 8601 (YYYY-MM-DD, optionally THH:MM[:SS[.f]] and Z or +-HH:MM) or
 * epoch seconds, the forms IAM accepts in Date conditions. */
static int parse_date(const char *s, double *out)
{
	struct tm tm = { 0 };
	int y, mo, d, h = 0, mi = 0, sec = 0, oh, om;
	double frac = 0, off = 0;
	const char *p;

	if (*s && strspn(s, "0123456789") == strlen(s) && strlen(s) <= 12) {
		*out = strtod(s, NULL);
		return 0;
	}
	if (strlen(s) < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
	    s[7] != '-' || digits(s + 8, 2, &d))
		return -EINVAL;
	p = s + 10;
	if (*p == 'T') {
		if (digits(p + 1, 2, &h) || p[3] != ':' || digits(p + 4, 2, &mi))
			return -EINVAL;
		p += 6;
		if (*p == ':') {
			if (digits(p + 1, 2, &sec))
				return -EINVAL;
			p += 3;
			if (*p == '.') {
				char *end;

				if (!isdigit((unsigned char)p[1]))
					return -EINVAL;
				frac = strtod(p, &end);
				p = end;
			}
		}
		if (*p == 'Z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om))
				return -EINVAL;
			off = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
			p += 6;
		}
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = (double)timegm(&tm) + frac - off;
	return 0;
}

struct ipnet {
	int af;
	uint8_t a[16];
	int bits;
};

static int parse_ip(const char *s, bool cidr, struct ipnet *n)
{
	char buf[64];
	const char *slash = cidr ? strchr(s, '/') : NULL;
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	int max;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(n, 0, sizeof(*n));
	if (inet_pton(AF_INET, buf, n->a) == 1) {
		n->af = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, n->a) == 1) {
		n->af = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	n->bits = max;
	if (slash) {
		int b;
		size_t dl = strlen(slash + 1);

		if (dl == 0 || dl > 3 || digits(slash + 1, (int)dl, &b) || b > max)
			return -EINVAL;
		n->bits = b;
	}
	return 0;
}

static bool ip_in(const struct ipnet *net, const struct ipnet *ip)
{
	int full = net->bits / 8, rest = net->bits % 8;

	if (net->af != ip->af)
		return false;
	if (memcmp(net->a, ip->a, (size_t)full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		return (net->a[full] & mask) == (ip->a[full] & mask);
	}
	return true;
}

/* ArnLike/ArnEquals: the six colon-separated parts each matched on their
 * own, so a '*' in the region never swallows the account. */
static bool arn_match(const char *p, const char *plit, const char *s)
{
	const char *ps = p, *ss = s;
	char pb[2048], lb[2048], sb[2048];

	for (int part = 0; part < 6; part++) {
		const char *pe = part < 5 ? strchr(ps, ':') : ps + strlen(ps);
		const char *se = part < 5 ? strchr(ss, ':') : ss + strlen(ss);
		size_t pl, sl;

		if (!pe || !se)
			return false;
		pl = (size_t)(pe - ps);
		sl = (size_t)(se - ss);
		if (pl >= sizeof(pb) || sl >= sizeof(sb))
			return false;
		memcpy(pb, ps, pl);
		pb[pl] = '\0';
		if (plit)
			memcpy(lb, plit + (ps - p), pl);
		memcpy(sb, ss, sl);
		sb[sl] = '\0';
		if (!wc_match(pb, plit ? lb : NULL, sb, false))
			return false;
		ps = pe + (part < 5);
		ss = se + (part < 5);
	}
	return true;
}

/* ---- condition operators ------------------------------------------------ */

enum optype { OP_STR, OP_STRI, OP_LIKE, OP_NUM, OP_DATE, OP_BOOL, OP_IP, OP_ARN, OP_NULL };
enum cmp { C_EQ, C_LT, C_LE, C_GT, C_GE };

struct opdef {
	const char *name;
	enum optype type;
	enum cmp cmp;
	bool neg;
};

static const struct opdef ops[] = {
	{ "StringEquals", OP_STR, C_EQ, false },
	{ "StringNotEquals", OP_STR, C_EQ, true },
	{ "StringEqualsIgnoreCase", OP_STRI, C_EQ, false },
	{ "StringNotEqualsIgnoreCase", OP_STRI, C_EQ, true },
	{ "StringLike", OP_LIKE, C_EQ, false },
	{ "StringNotLike", OP_LIKE, C_EQ, true },
	{ "NumericEquals", OP_NUM, C_EQ, false },
	{ "NumericNotEquals", OP_NUM, C_EQ, true },
	{ "NumericLessThan", OP_NUM, C_LT, false },
	{ "NumericLessThanEquals", OP_NUM, C_LE, false },
	{ "NumericGreaterThan", OP_NUM, C_GT, false },
	{ "NumericGreaterThanEquals", OP_NUM, C_GE, false },
	{ "DateEquals", OP_DATE, C_EQ, false },
	{ "DateNotEquals", OP_DATE, C_EQ, true },
	{ "DateLessThan", OP_DATE, C_LT, false },
	{ "DateLessThanEquals", OP_DATE, C_LE, false },
	{ "DateGreaterThan", OP_DATE, C_GT, false },
	{ "DateGreaterThanEquals", OP_DATE, C_GE, false },
	{ "Bool", OP_BOOL, C_EQ, false },
	{ "BinaryEquals", OP_STR, C_EQ, false },
	{ "IpAddress", OP_IP, C_EQ, false },
	{ "NotIpAddress", OP_IP, C_EQ, true },
	{ "ArnEquals", OP_ARN, C_EQ, false },
	{ "ArnLike", OP_ARN, C_EQ, false },
	{ "ArnNotEquals", OP_ARN, C_EQ, true },
	{ "ArnNotLike", OP_ARN, C_EQ, true },
	{ "Null", OP_NULL, C_EQ, false },
};

enum setop { SET_NONE, SET_ALL, SET_ANY };

struct opname {
	const struct opdef *def;
	enum setop set;
	bool if_exists;
};

static int parse_opname(const char *name, struct opname *o)
{
	size_t len;

	o->set = SET_NONE;
	o->if_exists = false;
	if (strncmp(name, "ForAllValues:", 13) == 0) {
		o->set = SET_ALL;
		name += 13;
	} else if (strncmp(name, "ForAnyValue:", 12) == 0) {
		o->set = SET_ANY;
		name += 12;
	}
	len = strlen(name);
	if (len > 8 && strcmp(name + len - 8, "IfExists") == 0) {
		o->if_exists = true;
		len -= 8;
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strlen(ops[i].name) == len && strncmp(ops[i].name, name, len) == 0) {
			o->def = &ops[i];
			/* Null tests presence itself: IfExists or a set makes no sense. */
			if (ops[i].type == OP_NULL && (o->if_exists || o->set != SET_NONE))
				return -EINVAL;
			return 0;
		}
	}
	return -EINVAL;
}

/* A condition value as text: policies may write numbers and booleans bare. */
static const char *value_text(const json_t *v, char *buf, size_t len)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_true(v))
		return "true";
	if (json_is_false(v))
		return "false";
	if (json_is_integer(v)) {
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	if (json_is_real(v)) {
		snprintf(buf, len, "%.17g", json_real_value(v));
		return buf;
	}
	return NULL;
}

static int check_value(const struct opdef *d, const char *s)
{
	double x;
	struct ipnet n;

	switch (d->type) {
	case OP_NUM:
		return parse_num(s, &x);
	case OP_DATE:
		return parse_date(s, &x);
	case OP_BOOL:
	case OP_NULL:
		return strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0 ? 0 : -EINVAL;
	case OP_IP:
		return parse_ip(s, true, &n);
	default:
		return 0;
	}
}

static bool cmp_num(enum cmp c, double a, double b)
{
	switch (c) {
	case C_EQ: return a == b;
	case C_LT: return a < b;
	case C_LE: return a <= b;
	case C_GT: return a > b;
	case C_GE: return a >= b;
	}
	return false;
}

/* Does the request value v satisfy the (positive form of the) operator
 * for the policy value pv? */
static bool value_match(const struct iampolicy *pol, const struct opdef *d,
			const char *pv, const char *v, const struct iampolicy_request *r)
{
	struct expanded e;
	double a, b;
	struct ipnet net, ip;
	bool m = false;

	switch (d->type) {
	case OP_NUM:
		return parse_num(v, &a) == 0 && parse_num(pv, &b) == 0 && cmp_num(d->cmp, a, b);
	case OP_DATE:
		return parse_date(v, &a) == 0 && parse_date(pv, &b) == 0 && cmp_num(d->cmp, a, b);
	case OP_BOOL:
		return strcasecmp(v, pv) == 0;
	case OP_IP:
		return parse_ip(pv, true, &net) == 0 && parse_ip(v, false, &ip) == 0 &&
		       ip_in(&net, &ip);
	case OP_NULL:
		return false;
	default:
		break;
	}
	if (expand(pv, r, pol->vars, &e) == 0) {
		switch (d->type) {
		case OP_STR:
			m = strcmp(e.s, v) == 0;
			break;
		case OP_STRI:
			m = strcasecmp(e.s, v) == 0;
			break;
		case OP_LIKE:
			m = wc_match(e.s, e.lit, v, false);
			break;
		case OP_ARN:
			m = arn_match(e.s, e.lit, v);
			break;
		default:
			break;
		}
	}
	ex_free(&e);
	return m;
}

static bool any_policy_value(const struct iampolicy *pol, const struct opdef *d,
			     const json_t *pvals, const char *v,
			     const struct iampolicy_request *r)
{
	char buf[64];
	size_t i;
	json_t *pv;

	if (!json_is_array(pvals))
		return value_match(pol, d, value_text(pvals, buf, sizeof(buf)), v, r);
	json_array_foreach(pvals, i, pv)
		if (value_match(pol, d, value_text(pv, buf, sizeof(buf)), v, r))
			return true;
	return false;
}

/* One key of one operator. Semantics from the IAM User Guide: a missing
 * key fails positive operators and satisfies negated ones; IfExists makes
 * it satisfy anything; ForAllValues holds vacuously, ForAnyValue fails. */
static bool key_holds(const struct iampolicy *pol, const struct opname *o,
		      const char *key, const json_t *pvals,
		      const struct iampolicy_request *r)
{
	const struct iampolicy_ctx_entry *c = ctx_get(r, key, strlen(key));
	const struct opdef *d = o->def;

	if (d->type == OP_NULL) {
		char buf[64];
		size_t i;
		json_t *pv;

		if (!json_is_array(pvals))
			return (strcasecmp(value_text(pvals, buf, sizeof(buf)), "true") == 0) == !c;
		json_array_foreach(pvals, i, pv)
			if ((strcasecmp(value_text(pv, buf, sizeof(buf)), "true") == 0) == !c)
				return true;
		return false;
	}
	if (!c) {
		if (o->if_exists || o->set == SET_ALL)
			return true;
		if (o->set == SET_ANY)
			return false;
		return d->neg;
	}
	if (o->set == SET_ALL) {
		for (size_t i = 0; i < c->n; i++)
			if (any_policy_value(pol, d, pvals, c->values[i], r) == d->neg)
				return false;
		return true;
	}
	if (o->set == SET_ANY) {
		for (size_t i = 0; i < c->n; i++)
			if (any_policy_value(pol, d, pvals, c->values[i], r) != d->neg)
				return true;
		return false;
	}
	for (size_t i = 0; i < c->n; i++)
		if (any_policy_value(pol, d, pvals, c->values[i], r))
			return !d->neg;
	return d->neg;
}

static bool condition_holds(const struct iampolicy *pol, const json_t *cond,
			    const struct iampolicy_request *r)
{
	const char *opn, *key;
	json_t *keys, *pvals;

	if (!cond)
		return true;
	json_object_foreach((json_t *)cond, opn, keys) {
		struct opname o;

		if (parse_opname(opn, &o))
			return false;	/* validated at parse: unreachable */
		json_object_foreach(keys, key, pvals)
			if (!key_holds(pol, &o, key, pvals, r))
				return false;
	}
	return true;
}

/* ---- statements --------------------------------------------------------- */

static bool any_string(const json_t *v, bool (*pred)(const char *, const void *),
		       const void *arg)
{
	size_t i;
	json_t *e;

	if (json_is_string(v))
		return pred(json_string_value(v), arg);
	json_array_foreach(v, i, e)
		if (pred(json_string_value(e), arg))
			return true;
	return false;
}

static bool action_pred(const char *pat, const void *arg)
{
	return wc_match(pat, NULL, arg, true);
}

struct res_arg {
	const struct iampolicy *pol;
	const struct iampolicy_request *r;
};

static bool resource_pred(const char *pat, const void *arg)
{
	const struct res_arg *a = arg;
	struct expanded e;
	bool m = false;

	if (expand(pat, a->r, a->pol->vars, &e) == 0)
		m = wc_match(e.s, e.lit, a->r->resource, false);
	ex_free(&e);
	return m;
}

/* Principal values: "*", an account id, the account's root ARN, or a
 * principal's exact ARN (IAM never applies wildcards inside a principal). */
enum pmatch { PM_NONE = 0, PM_ACCOUNT, PM_NAMED };

static enum pmatch principal_value(const char *type, const char *v,
				   const struct iampolicy_request *r)
{
	char root[64];

	/* A type is compared only with a caller of that type: an ARN or an
	 * account id under "Service" names no IAM user, and an IAM user's
	 * ARN under "AWS" names no service. */
	if (r->service)
		return strcmp(type, "Service") == 0 && strcmp(v, r->service) == 0 ? PM_NAMED : PM_NONE;
	if (strcmp(type, "AWS") != 0)
		return PM_NONE;
	if (strcmp(v, "*") == 0)
		return PM_NAMED;
	if (r->account) {
		snprintf(root, sizeof(root), "arn:aws:iam::%s:root", r->account);
		if (strcmp(v, r->account) == 0 || strcmp(v, root) == 0)
			return PM_ACCOUNT;
	}
	return r->principal && strcmp(v, r->principal) == 0 ? PM_NAMED : PM_NONE;
}

static enum pmatch principal_match(const json_t *p, const struct iampolicy_request *r)
{
	enum pmatch best = PM_NONE;
	const char *type;
	json_t *vals, *e;
	size_t i;

	if (json_is_string(p))	/* only "*" passes validation */
		return PM_NAMED;
	json_object_foreach((json_t *)p, type, vals) {
		if (json_is_string(vals)) {
			enum pmatch m = principal_value(type, json_string_value(vals), r);

			best = m > best ? m : best;
			continue;
		}
		json_array_foreach(vals, i, e) {
			enum pmatch m = principal_value(type, json_string_value(e), r);

			best = m > best ? m : best;
		}
	}
	return best;
}

static enum pmatch stmt_matches(const struct iampolicy *pol, const json_t *st,
				const struct iampolicy_request *r)
{
	struct res_arg ra = { pol, r };
	enum pmatch pm = PM_NAMED;
	json_t *v;

	if ((v = json_object_get(st, "Action")) && !any_string(v, action_pred, r->action))
		return PM_NONE;
	if ((v = json_object_get(st, "NotAction")) && any_string(v, action_pred, r->action))
		return PM_NONE;
	if ((v = json_object_get(st, "Resource")) && !any_string(v, resource_pred, &ra))
		return PM_NONE;
	if ((v = json_object_get(st, "NotResource")) && any_string(v, resource_pred, &ra))
		return PM_NONE;
	if ((v = json_object_get(st, "Principal")) && !(pm = principal_match(v, r)))
		return PM_NONE;
	if ((v = json_object_get(st, "NotPrincipal")) && principal_match(v, r))
		return PM_NONE;
	if (!condition_holds(pol, json_object_get(st, "Condition"), r))
		return PM_NONE;
	return pm;
}

static const json_t *statements(const struct iampolicy *p, size_t *n)
{
	const json_t *s = json_object_get(p->doc, "Statement");

	*n = json_is_array(s) ? json_array_size(s) : 1;
	return s;
}

static const json_t *statement_at(const json_t *s, size_t i)
{
	return json_is_array(s) ? json_array_get(s, i) : s;
}

enum iampolicy_decision iampolicy_eval(const struct iampolicy *p,
				       const struct iampolicy_request *r)
{
	enum iampolicy_decision d = IAMPOLICY_IMPLICIT_DENY;
	size_t n;
	const json_t *s = statements(p, &n);

	for (size_t i = 0; i < n; i++) {
		const json_t *st = statement_at(s, i);

		if (!stmt_matches(p, st, r))
			continue;
		if (strcmp(json_string_value(json_object_get(st, "Effect")), "Deny") == 0)
			return IAMPOLICY_EXPLICIT_DENY;
		d = IAMPOLICY_ALLOW;
	}
	return d;
}

bool iampolicy_trust_names_principal(const struct iampolicy *p,
				     const struct iampolicy_request *r)
{
	size_t n;
	const json_t *s = statements(p, &n);

	for (size_t i = 0; i < n; i++) {
		const json_t *st = statement_at(s, i);

		if (strcmp(json_string_value(json_object_get(st, "Effect")), "Allow") == 0 &&
		    json_object_get(st, "Principal") && stmt_matches(p, st, r) == PM_NAMED)
			return true;
	}
	return false;
}

enum iampolicy_decision iampolicy_authorize(const struct iampolicy *const *identity,
					    size_t n_identity,
					    const struct iampolicy *const *session,
					    size_t n_session,
					    const struct iampolicy_request *r)
{
	bool id_allow = false, sess_allow = false;

	for (size_t i = 0; i < n_identity; i++) {
		enum iampolicy_decision d = iampolicy_eval(identity[i], r);

		if (d == IAMPOLICY_EXPLICIT_DENY)
			return d;
		id_allow |= d == IAMPOLICY_ALLOW;
	}
	for (size_t i = 0; i < n_session; i++) {
		enum iampolicy_decision d = iampolicy_eval(session[i], r);

		if (d == IAMPOLICY_EXPLICIT_DENY)
			return d;
		sess_allow |= d == IAMPOLICY_ALLOW;
	}
	if (!id_allow || (n_session && !sess_allow))
		return IAMPOLICY_IMPLICIT_DENY;
	return IAMPOLICY_ALLOW;
}

/* ---- validation --------------------------------------------------------- */

static int check_strings(const json_t *v, const char *elem, size_t si, char *err,
			 size_t errlen)
{
	size_t i;
	json_t *e;

	if (json_is_string(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) == 0)
		return errmsg(err, errlen, -EINVAL,
			      "Statement %zu: %s must be a string or a non-empty array of strings",
			      si, elem);
	json_array_foreach(v, i, e)
		if (!json_is_string(e))
			return errmsg(err, errlen, -EINVAL,
				      "Statement %zu: %s[%zu] is not a string", si, elem, i);
	return 0;
}

static bool valid_action(const char *a)
{
	const char *colon;

	if (strcmp(a, "*") == 0)
		return true;
	colon = strchr(a, ':');
	if (!colon || colon == a || !colon[1])
		return false;
	for (const char *c = a; c < colon; c++)
		if (!isalnum((unsigned char)*c) && *c != '-')
			return false;
	for (const char *c = colon + 1; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("*?-_", *c))
			return false;
	return true;
}

static int check_actions(const json_t *v, const char *elem, size_t si, char *err,
			 size_t errlen)
{
	size_t i;
	json_t *e;
	int rc = check_strings(v, elem, si, err, errlen);

	if (rc)
		return rc;
	if (json_is_string(v))
		return valid_action(json_string_value(v)) ? 0 :
		       errmsg(err, errlen, -EINVAL, "Statement %zu: %s \"%.64s\" is not "
			      "\"service:Action\" or \"*\"", si, elem, json_string_value(v));
	json_array_foreach(v, i, e)
		if (!valid_action(json_string_value(e)))
			return errmsg(err, errlen, -EINVAL, "Statement %zu: %s \"%.64s\" is not "
				      "\"service:Action\" or \"*\"", si, elem,
				      json_string_value(e));
	return 0;
}

static int check_principal(const json_t *v, const char *elem, size_t si, char *err,
			   size_t errlen)
{
	const char *type;
	json_t *vals;

	if (json_is_string(v))
		return strcmp(json_string_value(v), "*") == 0 ? 0 :
		       errmsg(err, errlen, -EINVAL, "Statement %zu: %s must be \"*\" or an "
			      "object such as {\"AWS\": ARN}", si, elem);
	if (!json_is_object(v) || json_object_size(v) == 0)
		return errmsg(err, errlen, -EINVAL, "Statement %zu: %s must be \"*\" or an "
			      "object such as {\"AWS\": ARN}", si, elem);
	json_object_foreach((json_t *)v, type, vals) {
		if (strcmp(type, "AWS") && strcmp(type, "Service") && strcmp(type, "Federated") &&
		    strcmp(type, "CanonicalUser"))
			return errmsg(err, errlen, -EINVAL, "Statement %zu: %s type \"%.32s\" is "
				      "not AWS, Service, Federated or CanonicalUser", si, elem, type);
		if (check_strings(vals, elem, si, err, errlen))
			return -EINVAL;
	}
	return 0;
}

static int check_condition(const json_t *c, size_t si, char *err, size_t errlen)
{
	const char *opn, *key;
	json_t *keys, *pvals, *e;
	char buf[64];
	size_t i;

	if (!json_is_object(c) || json_object_size(c) == 0)
		return errmsg(err, errlen, -EINVAL, "Statement %zu: Condition must be a "
			      "non-empty object", si);
	json_object_foreach((json_t *)c, opn, keys) {
		struct opname o;

		if (parse_opname(opn, &o))
			return errmsg(err, errlen, -EINVAL, "Statement %zu: unknown condition "
				      "operator \"%.64s\"", si, opn);
		if (!json_is_object(keys) || json_object_size(keys) == 0)
			return errmsg(err, errlen, -EINVAL, "Statement %zu: %s must map "
				      "condition keys to values", si, opn);
		json_object_foreach(keys, key, pvals) {
			const json_t *one = pvals;

			if (!*key || strlen(key) > 128)
				return errmsg(err, errlen, -EINVAL, "Statement %zu: %s: a condition "
					      "key must be 1-128 characters", si, opn);
			if (json_is_array(pvals) && json_array_size(pvals) == 0)
				return errmsg(err, errlen, -EINVAL, "Statement %zu: %s %.64s: empty "
					      "value list", si, opn, key);
			for (i = 0; json_is_array(pvals) ? i < json_array_size(pvals) : i < 1; i++) {
				const char *s;

				e = json_is_array(pvals) ? json_array_get(pvals, i) : (json_t *)one;
				s = value_text(e, buf, sizeof(buf));
				if (!s || check_value(o.def, s))
					return errmsg(err, errlen, -EINVAL, "Statement %zu: %s %.64s: "
						      "value %zu is not valid for this operator",
						      si, opn, key, i);
			}
		}
	}
	return 0;
}

static int check_statement(const json_t *st, enum iampolicy_kind kind, size_t si,
			   char *err, size_t errlen)
{
	static const char *const allowed[] = { "Sid", "Effect", "Action", "NotAction",
		"Resource", "NotResource", "Principal", "NotPrincipal", "Condition" };
	const char *k;
	json_t *v;
	int rc;

	if (!json_is_object(st))
		return errmsg(err, errlen, -EINVAL, "Statement %zu is not an object", si);
	json_object_foreach((json_t *)st, k, v) {
		size_t i;

		for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
			if (strcmp(k, allowed[i]) == 0)
				break;
		if (i == sizeof(allowed) / sizeof(allowed[0]))
			return errmsg(err, errlen, -EINVAL, "Statement %zu: unknown element "
				      "\"%.32s\"", si, k);
	}
	if ((v = json_object_get(st, "Sid"))) {
		if (!json_is_string(v))
			return errmsg(err, errlen, -EINVAL, "Statement %zu: Sid must be a string", si);
		for (const char *c = json_string_value(v); *c; c++)
			if (!isalnum((unsigned char)*c))
				return errmsg(err, errlen, -EINVAL, "Statement %zu: Sid may hold "
					      "only letters and digits", si);
	}
	v = json_object_get(st, "Effect");
	if (!json_is_string(v) || (strcmp(json_string_value(v), "Allow") &&
				   strcmp(json_string_value(v), "Deny")))
		return errmsg(err, errlen, -EINVAL, "Statement %zu: Effect must be \"Allow\" "
			      "or \"Deny\"", si);
	if (!json_object_get(st, "Action") == !json_object_get(st, "NotAction"))
		return errmsg(err, errlen, -EINVAL, "Statement %zu: exactly one of Action "
			      "and NotAction is required", si);
	if ((v = json_object_get(st, "Action")) && (rc = check_actions(v, "Action", si, err, errlen)))
		return rc;
	if ((v = json_object_get(st, "NotAction")) &&
	    (rc = check_actions(v, "NotAction", si, err, errlen)))
		return rc;
	if (kind == IAMPOLICY_IDENTITY) {
		if (json_object_get(st, "Principal") || json_object_get(st, "NotPrincipal"))
			return errmsg(err, errlen, -EINVAL, "Statement %zu: an identity policy "
				      "cannot name a Principal", si);
		if (!json_object_get(st, "Resource") == !json_object_get(st, "NotResource"))
			return errmsg(err, errlen, -EINVAL, "Statement %zu: exactly one of "
				      "Resource and NotResource is required", si);
	} else {
		if (json_object_get(st, "Resource") || json_object_get(st, "NotResource"))
			return errmsg(err, errlen, -EINVAL, "Statement %zu: a trust policy "
				      "cannot name a Resource (the role is the resource)", si);
		if (!json_object_get(st, "Principal") == !json_object_get(st, "NotPrincipal"))
			return errmsg(err, errlen, -EINVAL, "Statement %zu: exactly one of "
				      "Principal and NotPrincipal is required", si);
	}
	if ((v = json_object_get(st, "Resource")) &&
	    (rc = check_strings(v, "Resource", si, err, errlen)))
		return rc;
	if ((v = json_object_get(st, "NotResource")) &&
	    (rc = check_strings(v, "NotResource", si, err, errlen)))
		return rc;
	if ((v = json_object_get(st, "Principal")) &&
	    (rc = check_principal(v, "Principal", si, err, errlen)))
		return rc;
	if ((v = json_object_get(st, "NotPrincipal")) &&
	    (rc = check_principal(v, "NotPrincipal", si, err, errlen)))
		return rc;
	if ((v = json_object_get(st, "Condition")) && (rc = check_condition(v, si, err, errlen)))
		return rc;
	return 0;
}

int iampolicy_parse(const char *json, size_t len, enum iampolicy_kind kind,
		    struct iampolicy **out, char *err, size_t errlen)
{
	struct iampolicy *p;
	json_error_t jerr;
	const char *k;
	json_t *doc, *v, *st;
	size_t i;
	int rc;

	*out = NULL;
	if (len > IAMPOLICY_MAX_LEN)
		return errmsg(err, errlen, -EINVAL, "policy document is %zu bytes, the limit "
			      "is %d", len, IAMPOLICY_MAX_LEN);
	doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return errmsg(err, errlen, -EINVAL, "policy is not valid JSON: %s at line %d "
			      "column %d", jerr.text, jerr.line, jerr.column);
	rc = -EINVAL;
	if (!json_is_object(doc)) {
		errmsg(err, errlen, -EINVAL, "policy must be a JSON object");
		goto err_doc;
	}
	json_object_foreach(doc, k, v) {
		if (strcmp(k, "Version") && strcmp(k, "Id") && strcmp(k, "Statement")) {
			errmsg(err, errlen, -EINVAL, "unknown top-level element \"%.32s\"", k);
			goto err_doc;
		}
	}
	v = json_object_get(doc, "Version");
	if (v && (!json_is_string(v) || (strcmp(json_string_value(v), "2012-10-17") &&
					 strcmp(json_string_value(v), "2008-10-17")))) {
		errmsg(err, errlen, -EINVAL, "Version must be \"2012-10-17\" or \"2008-10-17\"");
		goto err_doc;
	}
	if ((k = NULL, v = json_object_get(doc, "Id")) && !json_is_string(v)) {
		errmsg(err, errlen, -EINVAL, "Id must be a string");
		goto err_doc;
	}
	st = json_object_get(doc, "Statement");
	if (!st || (json_is_array(st) && json_array_size(st) == 0)) {
		errmsg(err, errlen, -EINVAL, "Statement is missing or empty");
		goto err_doc;
	}
	if (json_is_array(st)) {
		json_array_foreach(st, i, v)
			if (check_statement(v, kind, i, err, errlen))
				goto err_doc;
	} else if (check_statement(st, kind, 0, err, errlen)) {
		goto err_doc;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		rc = -ENOMEM;
		goto err_doc;
	}
	v = json_object_get(doc, "Version");
	p->doc = doc;
	p->kind = kind;
	p->vars = v && strcmp(json_string_value(v), "2012-10-17") == 0;
	*out = p;
	return 0;
err_doc:
	json_decref(doc);
	return rc;
}

void iampolicy_free(struct iampolicy *p)
{
	if (!p)
		return;
	json_decref(p->doc);
	free(p);
}
