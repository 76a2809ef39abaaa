/* query: strict application/x-www-form-urlencoded parser for the Query
 * protocol. A parameter named twice is refused rather than "first wins":
 * two layers picking different copies is how request smuggling starts. */
#include "query.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	/*@ loop invariant 0 <= i <= n;
	    loop assigns i;
	    loop variant n - i; */
	while (i < n) {
		uint8_t c = s[i];
		size_t len;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + len > n)
			return false;
		/*@ loop invariant 1 <= j <= len;
		    loop assigns j, cp;
		    loop variant len - j; */
		for (size_t j = 1; j < len; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

/* Decodes [s, s+n) into a new string. */
static int decode(const char *s, size_t n, char **out, char *err, size_t errlen)
{
	char *d = malloc(n + 1);
	size_t o = 0;

	if (!d)
		return -ENOMEM;
	/*@ loop invariant 0 <= o <= i <= n;
	    loop assigns i, o, d[0 .. n];
	    loop variant n - i; */
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (n - i < 3 || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0) {
				free(d);
				return errmsg(err, errlen, -EINVAL, "malformed %%-escape at byte %zu", i);
			}
			d[o] = (char)(hi << 4 | lo);
			if (!d[o]) {
				free(d);
				return errmsg(err, errlen, -EINVAL, "encoded NUL at byte %zu", i);
			}
			o++;
			i += 2;
		} else if (s[i] == '+') {
			d[o++] = ' ';
		} else if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) {
			free(d);
			return errmsg(err, errlen, -EINVAL, "unencoded byte 0x%02x at byte %zu",
				      (unsigned char)s[i], i);
		} else {
			d[o++] = s[i];
		}
	}
	d[o] = '\0';
	if (!utf8_valid((const uint8_t *)d, o)) {
		free(d);
		return errmsg(err, errlen, -EINVAL, "a value is not valid UTF-8");
	}
	*out = d;
	return 0;
}

static bool name_ok(const char *n)
{
	if (!*n)
		return false;
	for (; *n; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') ||
		      (*n >= '0' && *n <= '9') || *n == '.' || *n == '_' || *n == '-'))
			return false;
	return true;
}

int query_parse(const char *body, size_t len, struct query *q, char *err, size_t errlen)
{
	size_t i = 0;
	int rc;

	memset(q, 0, sizeof(*q));
	if (len > QUERY_MAX_BODY)
		return errmsg(err, errlen, -EINVAL, "request body is %zu bytes, the limit is %d",
			      len, QUERY_MAX_BODY);
	while (i < len) {
		const char *pair = body + i, *amp = memchr(pair, '&', len - i), *eq;
		size_t plen = amp ? (size_t)(amp - pair) : len - i;
		struct query_param *p;

		if (plen == 0) {
			rc = errmsg(err, errlen, -EINVAL, "empty parameter at byte %zu", i);
			goto err;
		}
		if (q->n == QUERY_MAX_PARAMS) {
			rc = errmsg(err, errlen, -EINVAL, "more than %d parameters", QUERY_MAX_PARAMS);
			goto err;
		}
		eq = memchr(pair, '=', plen);
		p = &q->p[q->n];
		if ((rc = decode(pair, eq ? (size_t)(eq - pair) : plen, &p->name, err, errlen)))
			goto err;
		q->n++;
		if ((rc = decode(eq ? eq + 1 : pair + plen, eq ? plen - (size_t)(eq + 1 - pair) : 0,
				 &p->value, err, errlen)))
			goto err;
		if (!name_ok(p->name)) {
			rc = errmsg(err, errlen, -EINVAL, "parameter name \"%.64s\" is not valid",
				    p->name);
			goto err;
		}
		for (size_t j = 0; j + 1 < q->n; j++) {
			if (strcmp(q->p[j].name, p->name) == 0) {
				rc = errmsg(err, errlen, -EINVAL, "parameter %.64s given twice",
					    p->name);
				goto err;
			}
		}
		i += plen + (amp ? 1 : 0);
		if (amp && i == len) {
			rc = errmsg(err, errlen, -EINVAL, "trailing '&'");
			goto err;
		}
	}
	return 0;
err:
	query_free(q);
	return rc;
}

void query_free(struct query *q)
{
	for (size_t i = 0; i < q->n; i++) {
		free(q->p[i].name);
		free(q->p[i].value);
	}
	q->n = 0;
}

const char *query_get(const struct query *q, const char *name)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->p[i].name, name) == 0)
			return q->p[i].value;
	return NULL;
}

char *query_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}
