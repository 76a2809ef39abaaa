/* ec2_params: the EC2 Query protocol's structured parameters (Filter.N,
 * ID lists, TagSpecification.N, IpPermissions.N) read out of a parsed form
 * body, strictly: numbered members from 1 without gaps, nothing under a
 * list's prefix left unread, every value checked. fuzz/api/fuzz_ec2_params.c. */
#include "ec2.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const char *getf(const struct query *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static const char *getf(const struct query *q, const char *fmt, ...)
{
	char name[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(name))
		return NULL;
	return query_get(q, name);
}

/* Parameters whose name starts with prefix (e.g. "Filter."). */
static size_t count_prefixed(const struct query *q, const char *prefix)
{
	size_t n = 0, l = strlen(prefix);

	for (size_t i = 0; i < q->n; i++)
		if (strncmp(q->p[i].name, prefix, l) == 0)
			n++;
	return n;
}

/* The top-level name of a list (before its first '.') must be read in
 * full: a member we did not read (Filter.3 after a gap, Filter.1.Nmae)
 * is an error, not silently ignored. */
static int all_read(const struct query *q, const char *prefix, size_t used, char *err,
		    size_t len)
{
	if (count_prefixed(q, prefix) != used)
		return fail(err, len, "The parameter %s* has members that are not numbered from 1 "
			    "without gaps or are not known", prefix);
	return 0;
}

int ec2_parse_filters(const struct query *q, struct ec2_filters *out, char *err, size_t len)
{
	size_t used = 0;

	memset(out, 0, sizeof(*out));
	for (unsigned i = 1;; i++) {
		const char *name = getf(q, "Filter.%u.Name", i);
		struct ec2_filter *f;

		if (!name)
			break;
		if (out->n == EC2_MAX_FILTERS)
			return fail(err, len, "The request has more than %d filters", EC2_MAX_FILTERS);
		if (!name[0] || strlen(name) > 128)
			return fail(err, len, "The filter name of Filter.%u is empty or too long", i);
		f = &out->f[out->n++];
		f->name = name;
		f->values = &out->value[out->n_values];
		used++;
		for (unsigned j = 1;; j++) {
			const char *v = getf(q, "Filter.%u.Value.%u", i, j);

			if (!v)
				break;
			if (out->n_values == EC2_MAX_FILTER_VALUES)
				return fail(err, len, "The request has more than %d filter values",
					    EC2_MAX_FILTER_VALUES);
			if (strlen(v) > 255)
				return fail(err, len, "A value of filter '%.64s' is too long", name);
			out->value[out->n_values++] = v;
			f->n++;
			used++;
		}
		if (f->n == 0)
			return fail(err, len, "The filter '%.64s' has no values", name);
	}
	return all_read(q, "Filter.", used, err, len);
}

/* Ids are short words of [a-z0-9-] (vpc-0123..., sg-...). */
static bool id_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < 32 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

bool ec2_id_ok(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix)) && id_ok(s);
}

int ec2_parse_ids(const struct query *q, const char *prefix, const char **ids, size_t *n,
		  char *err, size_t len)
{
	char dot[64];

	*n = 0;
	for (unsigned i = 1;; i++) {
		const char *v = getf(q, "%s.%u", prefix, i);

		if (!v)
			break;
		if (*n == EC2_MAX_IDS)
			return fail(err, len, "The request names more than %d ids", EC2_MAX_IDS);
		if (!id_ok(v))
			return fail(err, len, "Invalid id: \"%.64s\"", v);
		ids[(*n)++] = v;
	}
	snprintf(dot, sizeof(dot), "%s.", prefix);
	return all_read(q, dot, *n, err, len);
}

/* Tag text: printable, no control characters (what reaches logs and
 * ward-net's tables must not carry them). */
bool ec2_text_ok(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int ec2_parse_tags(const struct query *q, const char *rtype, struct ec2_tags *out, char *err,
		   size_t len)
{
	size_t used = 0;

	memset(out, 0, sizeof(*out));
	for (unsigned i = 1;; i++) {
		const char *type = getf(q, "TagSpecification.%u.ResourceType", i);

		if (!type) {
			/* A spec with tags but no type is an error, not skipped. */
			if (getf(q, "TagSpecification.%u.Tag.1.Key", i))
				return fail(err, len, "TagSpecification.%u has no ResourceType", i);
			break;
		}
		used++;
		if (strcmp(type, rtype) != 0)
			return fail(err, len, "'%.64s' is not a valid taggable resource type for "
				    "this operation.", type);
		if (i > 1)
			return fail(err, len, "The same resource type may not be specified more "
				    "than once in tag specifications");
		for (unsigned j = 1;; j++) {
			const char *k = getf(q, "TagSpecification.%u.Tag.%u.Key", i, j);
			const char *v = getf(q, "TagSpecification.%u.Tag.%u.Value", i, j);

			if (!k) {
				if (v)
					return fail(err, len, "Tag %u has a value but no key", j);
				break;
			}
			used += v ? 2 : 1;
			if (!v)
				v = "";
			if (out->n == EC2_MAX_TAGS)
				return fail(err, len, "The request has more than %d tags",
					    EC2_MAX_TAGS);
			if (!ec2_text_ok(k, 1, 128) || !ec2_text_ok(v, 0, 256))
				return fail(err, len, "Tag keys are 1-128 and values 0-256 "
					    "printable characters");
			if (strncmp(k, "aws:", 4) == 0)
				return fail(err, len, "Tag keys starting with 'aws:' are reserved "
					    "for internal use");
			for (size_t m = 0; m < out->n; m++)
				if (strcmp(out->t[m].key, k) == 0)
					return fail(err, len, "The tag key '%.128s' is given more "
						    "than once", k);
			out->t[out->n++] = (struct ec2_tag){ k, v };
		}
	}
	return all_read(q, "TagSpecification.", used, err, len);
}

int ec2_parse_cidr(const char *s, unsigned min, unsigned max, uint32_t *addr, unsigned *plen)
{
	unsigned a[4], p;
	char tail;
	uint32_t v, mask;

	if (strlen(s) > 18 || strspn(s, "0123456789./") != strlen(s) ||
	    sscanf(s, "%3u.%3u.%3u.%3u/%2u%c", &a[0], &a[1], &a[2], &a[3], &p, &tail) != 5)
		return -EINVAL;
	for (int i = 0; i < 4; i++)
		if (a[i] > 255)
			return -EINVAL;
	/* One canonical spelling: no leading zeros (010 is not 10 everywhere). */
	{
		char canon[20] = "";

		snprintf(canon, sizeof(canon), "%u.%u.%u.%u/%u", a[0], a[1], a[2], a[3], p);
		/* Always so (at most "255.255.255.255/99"); said for Frama-C, whose
		 * snprintf contract does not say where the NUL is (docs/proofs.md). */
		canon[sizeof(canon) - 1] = '\0';
		if (strcmp(canon, s) != 0)
			return -EINVAL;
	}
	if (p < min || p > max)
		return -ERANGE;
	v = a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3];
	mask = p ? ~0u << (32 - p) : 0;
	if (v & ~mask)
		return -EINVAL;
	*addr = v;
	*plen = p;
	return 0;
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s[0] || strlen(s) > 12 || (s[0] != '-' && (s[0] < '0' || s[0] > '9')))
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int ec2_parse_int(const struct query *q, const char *name, long min, long max, long *out)
{
	const char *v = query_get(q, name);

	return v ? parse_long(v, min, max, out) : -ENOENT;
}

int ec2_parse_bool(const struct query *q, const char *name, bool def, bool *out)
{
	const char *v = query_get(q, name);

	if (!v)
		*out = def;
	else if (strcmp(v, "true") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0)
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/* The protocol in ward-net's words; AWS also takes the IANA numbers. */
static int rule_proto(const char *p, char out[8])
{
	long n;

	if (strcmp(p, "-1") == 0 || strcmp(p, "all") == 0)
		snprintf(out, 8, "all");
	else if (strcmp(p, "tcp") == 0 || strcmp(p, "6") == 0)
		snprintf(out, 8, "tcp");
	else if (strcmp(p, "udp") == 0 || strcmp(p, "17") == 0)
		snprintf(out, 8, "udp");
	else if (strcmp(p, "icmp") == 0 || strcmp(p, "1") == 0)
		snprintf(out, 8, "icmp");
	else if (parse_long(p, 0, 255, &n) == 0)
		snprintf(out, 8, "%ld", n);
	else
		return -EINVAL;
	return 0;
}

/* Ports of one permission: tcp/udp need 0 <= from <= to <= 65535; icmp
 * takes type and code, -1 = any; other protocols take none (AWS ignores
 * them; we store -1/-1 so that equal rules compare equal). */
static int rule_ports(const char *proto, const char *fs, const char *ts, int *from, int *to,
		      char *err, size_t len)
{
	long f = -1, t = -1;

	if (strcmp(proto, "tcp") == 0 || strcmp(proto, "udp") == 0) {
		if (!fs || !ts)
			return fail(err, len, "Invalid value for portRange. Must specify both from "
				    "and to ports with TCP/UDP.");
		if (parse_long(fs, 0, 65535, &f) || parse_long(ts, 0, 65535, &t) || f > t)
			return fail(err, len, "Invalid TCP/UDP port range %.8s-%.8s", fs, ts);
	} else if (strcmp(proto, "icmp") == 0) {
		if ((fs && parse_long(fs, -1, 255, &f)) || (ts && parse_long(ts, -1, 255, &t)))
			return fail(err, len, "Invalid ICMP type or code");
	}
	*from = (int)f;
	*to = (int)t;
	return 0;
}

static int add_rule(struct ec2_rule *out, size_t max, size_t *n, const struct ec2_rule *r,
		    char *err, size_t len)
{
	if (*n == max)
		return fail(err, len, "The request has more than %zu rules", max);
	for (size_t i = 0; i < *n; i++)
		if (strcmp(out[i].proto, r->proto) == 0 && out[i].from == r->from &&
		    out[i].to == r->to && strcmp(out[i].cidr, r->cidr) == 0 &&
		    strcmp(out[i].group, r->group) == 0)
			return fail(err, len, "The same rule is given twice in the request");
	out[(*n)++] = *r;
	return 0;
}

static int rule_cidr(const char *c, struct ec2_rule *r, char *err, size_t len)
{
	uint32_t a;
	unsigned p;

	if (ec2_parse_cidr(c, 0, 32, &a, &p))
		return fail(err, len, "CIDR block %.32s is malformed", c);
	snprintf(r->cidr, sizeof(r->cidr), "%s", c);
	return 0;
}

static int rule_desc(const char *d, struct ec2_rule *r, char *err, size_t len)
{
	if (d && !ec2_text_ok(d, 0, 255))
		return fail(err, len, "Invalid rule description");
	r->desc = d;
	return 0;
}

int ec2_parse_rules(const struct query *q, struct ec2_rule *out, size_t max, size_t *n,
		    char *err, size_t len)
{
	size_t used = 0;
	const char *top = query_get(q, "IpProtocol");
	int rc;

	*n = 0;
	for (unsigned i = 1;; i++) {
		const char *proto = getf(q, "IpPermissions.%u.IpProtocol", i);
		const char *fs = getf(q, "IpPermissions.%u.FromPort", i);
		const char *ts = getf(q, "IpPermissions.%u.ToPort", i);
		struct ec2_rule r = { .desc = NULL };
		size_t peers = 0;

		if (!proto)
			break;
		used += 1 + (fs != NULL) + (ts != NULL);
		if (rule_proto(proto, r.proto))
			return fail(err, len, "Invalid value '%.16s' for IP protocol. Unknown "
				    "protocol.", proto);
		if ((rc = rule_ports(r.proto, fs, ts, &r.from, &r.to, err, len)))
			return rc;
		for (unsigned j = 1;; j++) {
			const char *c = getf(q, "IpPermissions.%u.IpRanges.%u.CidrIp", i, j);
			const char *d = getf(q, "IpPermissions.%u.IpRanges.%u.Description", i, j);
			struct ec2_rule one = r;

			if (!c)
				break;
			used += 1 + (d != NULL);
			if ((rc = rule_cidr(c, &one, err, len)) || (rc = rule_desc(d, &one, err, len)) ||
			    (rc = add_rule(out, max, n, &one, err, len)))
				return rc;
			peers++;
		}
		for (unsigned j = 1;; j++) {
			const char *g = getf(q, "IpPermissions.%u.Groups.%u.GroupId", i, j);
			const char *d = getf(q, "IpPermissions.%u.Groups.%u.Description", i, j);
			struct ec2_rule one = r;

			if (!g)
				break;
			used += 1 + (d != NULL);
			if (strncmp(g, "sg-", 3) != 0 || !id_ok(g))
				return fail(err, len, "Invalid id: \"%.32s\" (expecting \"sg-...\")", g);
			snprintf(one.group, sizeof(one.group), "%s", g);
			if ((rc = rule_desc(d, &one, err, len)) ||
			    (rc = add_rule(out, max, n, &one, err, len)))
				return rc;
			peers++;
		}
		/* ward-net's rules always name their peer (docs/formats.md). */
		if (peers == 0)
			return fail(err, len, "IpPermissions.%u names no IpRanges or Groups", i);
	}
	if ((rc = all_read(q, "IpPermissions.", used, err, len)))
		return rc;
	if (top) {
		const char *c = query_get(q, "CidrIp");
		struct ec2_rule r = { .desc = NULL };

		if (*n)
			return fail(err, len, "The parameter IpPermissions cannot be used with the "
				    "parameter IpProtocol");
		if (!c)
			return fail(err, len, "IpProtocol needs CidrIp");
		if (rule_proto(top, r.proto))
			return fail(err, len, "Invalid value '%.16s' for IP protocol. Unknown "
				    "protocol.", top);
		if ((rc = rule_ports(r.proto, query_get(q, "FromPort"), query_get(q, "ToPort"),
				     &r.from, &r.to, err, len)) ||
		    (rc = rule_cidr(c, &r, err, len)) || (rc = add_rule(out, max, n, &r, err, len)))
			return rc;
	}
	if (*n == 0)
		return fail(err, len, "The request names no rules (IpPermissions)");
	return 0;
}
