/* xml: escaping writer. Characters XML 1.0 cannot carry at all (C0
 * controls other than tab/LF/CR) and invalid UTF-8 become U+FFFD; CR is
 * written as &#13; so parsers' line-end normalisation keeps it. */
#include "xml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void xml_init(struct xml *x)
{
	memset(x, 0, sizeof(*x));
}

static void put(struct xml *x, const char *s, size_t n)
{
	if (x->failed)
		return;
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 1024;
		char *nb;

		while (cap < x->len + n + 1)
			cap *= 2;
		/* Not realloc: replies carry secret keys and session tokens,
		 * and realloc would free the old copy unwiped. */
		nb = malloc(cap);
		if (!nb) {
			x->failed = true;
			return;
		}
		if (x->buf) {
			memcpy(nb, x->buf, x->len);
			OPENSSL_cleanse(x->buf, x->cap);
			free(x->buf);
		}
		x->buf = nb;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, s, n);
	x->len += n;
	x->buf[x->len] = '\0';
}

static void puts_(struct xml *x, const char *s) { put(x, s, strlen(s)); }

/* Length of a valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const uint8_t *s)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)	/* also stops at the NUL */
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
		return 0;
	return len;
}

void xml_escape(struct xml *x, const char *s)
{
	const uint8_t *p = (const uint8_t *)s;

	while (*p) {
		size_t n;

		switch (*p) {
		case '&': puts_(x, "&amp;"); p++; continue;
		case '<': puts_(x, "&lt;"); p++; continue;
		case '>': puts_(x, "&gt;"); p++; continue;
		case '"': puts_(x, "&quot;"); p++; continue;
		case '\'': puts_(x, "&apos;"); p++; continue;
		case '\r': puts_(x, "&#13;"); p++; continue;
		case '\t': case '\n': put(x, (const char *)p, 1); p++; continue;
		default: break;
		}
		if (*p < 0x20 || !(n = utf8_len(p))) {
			puts_(x, "\xef\xbf\xbd");
			p++;
			continue;
		}
		put(x, (const char *)p, n);
		p += n;
	}
}

void xml_open(struct xml *x, const char *name, const char *ns)
{
	if (x->depth == XML_MAX_DEPTH || strlen(name) >= sizeof(x->stack[0])) {
		x->failed = true;
		return;
	}
	snprintf(x->stack[x->depth++], sizeof(x->stack[0]), "%s", name);
	put(x, "<", 1);
	puts_(x, name);
	if (ns) {
		puts_(x, " xmlns=\"");
		xml_escape(x, ns);
		put(x, "\"", 1);
	}
	put(x, ">", 1);
}

void xml_close(struct xml *x)
{
	if (x->depth == 0) {
		x->failed = true;
		return;
	}
	x->depth--;
	puts_(x, "</");
	puts_(x, x->stack[x->depth]);
	put(x, ">", 1);
}

void xml_text(struct xml *x, const char *name, const char *text)
{
	xml_open(x, name, NULL);
	xml_escape(x, text ? text : "");
	xml_close(x);
}

void xml_textf(struct xml *x, const char *name, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	xml_text(x, name, buf);
}

void xml_free(struct xml *x)
{
	if (x->buf)
		OPENSSL_cleanse(x->buf, x->cap);
	free(x->buf);
	x->buf = NULL;
	x->len = x->cap = 0;
}

int xml_finish(struct xml *x, char **out, size_t *len)
{
	if (x->failed || x->depth || !x->buf) {
		int rc = x->failed && x->depth < XML_MAX_DEPTH ? -ENOMEM : -EINVAL;

		xml_free(x);
		return rc;
	}
	*out = x->buf;
	*len = x->len;
	x->buf = NULL;
	return 0;
}
