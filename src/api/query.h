/* query: the AWS Query protocol's request body (application/x-www-form-
 * urlencoded: Action=CreateUser&Version=2010-05-08&UserName=bob), parsed
 * strictly in this one place into decoded name/value pairs. */
#ifndef WARD_API_QUERY_H
#define WARD_API_QUERY_H

#include <stddef.h>

/* EC2 requests list filters, rules and tags as numbered parameters. */
#define QUERY_MAX_PARAMS 256
#define QUERY_MAX_BODY (64 * 1024)

struct query_param {
	char *name;
	char *value;	/* decoded; never contains NUL */
};

struct query {
	struct query_param p[QUERY_MAX_PARAMS];
	size_t n;
};

/* Refuses: malformed or truncated %-escapes, encoded NULs, names outside
 * [A-Za-z0-9._-], a name given twice, empty names, more than
 * QUERY_MAX_PARAMS pairs, bodies over QUERY_MAX_BODY, invalid UTF-8.
 * 0 or -EINVAL with err naming what was wrong. */
int query_parse(const char *body, size_t len, struct query *q, char *err, size_t errlen);
void query_free(struct query *q);

/* The decoded value, or NULL. */
const char *query_get(const struct query *q, const char *name);

/* RFC 3986 percent-encoding of everything but unreserved characters
 * (how IAM returns policy documents); malloc'd, or NULL. */
char *query_escape(const char *s);

#endif
