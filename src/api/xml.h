/* xml: the XML writer of ward-api's Query-protocol responses. Elements are
 * opened and closed in order (the writer checks the nesting); text is
 * escaped so that no value can end an element or open a new one. */
#ifndef WARD_API_XML_H
#define WARD_API_XML_H

#include <stdbool.h>
#include <stddef.h>

#define XML_MAX_DEPTH 16

struct xml {
	char *buf;
	size_t len, cap;
	char stack[XML_MAX_DEPTH][64];	/* open element names */
	unsigned depth;
	bool failed;	/* allocation failure or misnesting: xml_finish fails */
};

void xml_init(struct xml *x);
/* <name xmlns="ns"> (ns may be NULL); name is an element name of at
 * most 63 bytes, from the caller's code, never from input. */
void xml_open(struct xml *x, const char *name, const char *ns);
void xml_close(struct xml *x);
/* <name>escaped text</name> */
void xml_text(struct xml *x, const char *name, const char *text);
void xml_textf(struct xml *x, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Appends the escaped form of s (for tests and the fuzzer). */
void xml_escape(struct xml *x, const char *s);
/* 0 and *out (malloc'd, NUL-terminated), or -ENOMEM/-EINVAL. Frees x. */
int xml_finish(struct xml *x, char **out, size_t *len);
void xml_free(struct xml *x);

#endif
