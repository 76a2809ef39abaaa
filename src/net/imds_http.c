/* imds_http: a strict HTTP/1.1 request-head parser for IMDS (see
 * imds_http.h). Strict on purpose: RFC 9112's grammar with no leniency
 * (no obs-fold, no bare LF, no body), so that a request smuggled past it
 * cannot be read two ways. Every index is checked against len. */
#include "imds_http.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#define FAIL(reason) do { *why = (reason); return -EINVAL; } while (0)

size_t imds_http_head_len(const char *buf, size_t len)
{
	/* LF LF ends a head too, so that a client using bare LFs is told
	 * 400 at once rather than left waiting. */
	for (size_t i = 1; i < len; i++)
		if (buf[i] == '\n' && (buf[i - 1] == '\n' ||
					(i >= 3 && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r')))
			return i + 1;
	return 0;
}

/* RFC 9110 tchar. */
static bool tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool name_is(const char *n, size_t nl, const char *want)
{
	return nl == strlen(want) && !strncasecmp(n, want, nl);
}

/* The TTL header: 1..21600 in plain decimal, else -1 (a 400 later). */
static long parse_ttl(const char *v, size_t vl)
{
	long t = 0;

	if (!vl || vl > 5)
		return -1;
	for (size_t i = 0; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		t = t * 10 + (v[i] - '0');
	}
	return t >= 1 && t <= 21600 ? t : -1;
}

static int request_line(const char *b, size_t end, struct imds_req *r, const char **why)
{
	size_t i = 0, m, p;

	while (i < end && b[i] >= 'A' && b[i] <= 'Z')
		i++;
	if (!i || i > 16 || i >= end || b[i] != ' ')
		FAIL("bad method");
	m = i;
	if (m == 3 && !memcmp(b, "GET", 3))
		r->method = IMDS_GET;
	else if (m == 4 && !memcmp(b, "HEAD", 4))
		r->method = IMDS_HEAD;
	else if (m == 3 && !memcmp(b, "PUT", 3))
		r->method = IMDS_PUT;
	else
		r->method = IMDS_OTHER;
	p = ++i;
	if (i >= end || b[i] != '/')
		FAIL("request target must be an absolute path");
	while (i < end && b[i] > 0x20 && b[i] < 0x7f)
		i++;
	if (i - p > IMDS_PATH_MAX)
		FAIL("request target too long");
	if (i >= end || b[i] != ' ')
		FAIL("bad request target");
	memcpy(r->path, b + p, i - p);
	r->path[i - p] = 0;
	i++;
	if (end - i != 8 || (memcmp(b + i, "HTTP/1.1", 8) && memcmp(b + i, "HTTP/1.0", 8)))
		FAIL("not HTTP/1.0 or HTTP/1.1");
	return 0;
}

static int header(const char *b, size_t end, struct imds_req *r, unsigned int *seen, const char **why)
{
	size_t i = 0, nl, vs, ve;

	while (i < end && tchar((unsigned char)b[i]))
		i++;
	if (!i || i >= end || b[i] != ':')
		FAIL("bad header name");   /* also a folded line (starts with SP/HT) */
	nl = i++;
	for (size_t k = i; k < end; k++)
		if ((unsigned char)b[k] < 0x20 ? b[k] != '\t' : b[k] == 0x7f)
			FAIL("control character in a header value");
	while (i < end && (b[i] == ' ' || b[i] == '\t'))
		i++;
	vs = i;
	ve = end;
	while (ve > vs && (b[ve - 1] == ' ' || b[ve - 1] == '\t'))
		ve--;
	if (name_is(b, nl, "X-aws-ec2-metadata-token")) {
		if (*seen & 1)
			FAIL("token header repeated");
		*seen |= 1;
		r->has_token = true;
		/* Too long to be ours: kept empty, so it is refused as invalid (401). */
		if (ve - vs <= IMDS_TOKEN_MAX) {
			memcpy(r->token, b + vs, ve - vs);
			r->token[ve - vs] = 0;
		}
	} else if (name_is(b, nl, "X-aws-ec2-metadata-token-ttl-seconds")) {
		if (*seen & 2)
			FAIL("TTL header repeated");
		*seen |= 2;
		r->has_ttl = true;
		r->ttl = parse_ttl(b + vs, ve - vs);
	} else if (name_is(b, nl, "X-Forwarded-For")) {
		r->forwarded = true;
	} else if (name_is(b, nl, "Content-Length")) {
		if (ve - vs != 1 || b[vs] != '0')
			FAIL("a request body is not accepted");
	} else if (name_is(b, nl, "Transfer-Encoding")) {
		FAIL("a request body is not accepted");
	} else if (name_is(b, nl, "Host")) {
		if (*seen & 4)
			FAIL("Host repeated");
		*seen |= 4;
	}
	return 0;
}

int imds_http_parse(const char *buf, size_t len, struct imds_req *r, const char **why)
{
	size_t pos = 0, n = 0;
	unsigned int seen = 0;
	bool first = true;

	memset(r, 0, sizeof(*r));
	if (len < 4 || len > IMDS_REQ_MAX || imds_http_head_len(buf, len) != len)
		FAIL("not one complete request head");
	for (;;) {
		size_t e = pos;

		/* Lines end in CRLF; a CR or LF alone anywhere is refused. */
		while (e < len && buf[e] != '\r' && buf[e] != '\n')
			e++;
		if (e + 1 >= len || buf[e] != '\r' || buf[e + 1] != '\n')
			FAIL("bare CR or LF");
		if (e == pos)
			break;                        /* the blank line */
		if (first) {
			if (request_line(buf + pos, e - pos, r, why))
				return -EINVAL;
			first = false;
		} else {
			if (++n > IMDS_HEADERS_MAX)
				FAIL("too many headers");
			if (header(buf + pos, e - pos, r, &seen, why))
				return -EINVAL;
		}
		pos = e + 2;
	}
	if (first)
		FAIL("no request line");
	if (pos + 2 != len)
		FAIL("bytes after the head");
	return 0;
}
