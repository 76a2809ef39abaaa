/* apiclient: the `ward` CLI's client of the host API (mutual TLS). */
#ifndef WARD_CLI_APICLIENT_H
#define WARD_CLI_APICLIENT_H

#include <stddef.h>

#include <jansson.h>

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
/* The same, with the response's header lines appended to hdrs (NULL:
 * not kept). */
long api_call_hdrs(const struct api_cfg *c, const char *method, const char *path,
		   const char *body, struct api_buf *out, struct api_buf *hdrs);

/* One request, its body printed: on stdout for a 2xx answer (returns 0),
 * else on stderr with the status (returns 1). */
int api_print_call(const struct api_cfg *c, const char *method, const char *path,
		   const char *body);

/* The launch options `instance run` and `volume attach` share:
 *   --memory SIZE (64M, 1G; bare: MiB), --vcpus N, --cpu fixed|burstable, --hugepages 2M|1G,
 *   --cmdline STR (the guest kernel's command line)
 * sets the matching field of the launch request `req`. Returns 1 when
 * `opt` is one of them, 0 when it is not, -1 (after a message on stderr)
 * when its value is malformed. Ranges are the host's to enforce. */
int api_launch_opt(json_t *req, const char *opt, const char *val);
#define API_LAUNCH_USAGE "[--memory SIZE] [--vcpus N] [--cpu fixed|burstable] [--hugepages 2M|1G]" \
	" [--cmdline STR]"

#endif
