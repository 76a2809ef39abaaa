/* apiclient: the `ward` CLI's client of the host API (mutual TLS). */
#ifndef WARD_CLI_APICLIENT_H
#define WARD_CLI_APICLIENT_H

#include <stddef.h>

struct api_cfg {
	const char *url, *cert, *key, *ca;   /* WARD_URL, WARD_CERT, ... */
};

/* A response body, NUL-terminated; the caller frees p. */
struct api_buf {
	char *p;
	size_t len;
};

/* Append to a buffer (kept NUL-terminated); returns add, or 0 when out of
 * memory. */
size_t api_buf_append(struct api_buf *b, const char *data, size_t add);

/* One request; body (JSON) may be NULL. Returns the HTTP status, or 0 on a
 * transport failure (already reported on stderr). */
long api_call(const struct api_cfg *c, const char *method, const char *path,
	      const char *body, struct api_buf *out);

#endif
