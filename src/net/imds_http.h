/* imds_http: the HTTP/1.1 request parser of ward-net's instance metadata
 * service. It reads one request head (request line and headers, up to the
 * blank line) sent by a guest, which is hostile input: anything it does not
 * understand exactly is a 400. Only what IMDS needs is kept. Fuzzed:
 * fuzz/net/fuzz_imds_http.c. */
#ifndef WARD_NET_IMDS_HTTP_H
#define WARD_NET_IMDS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define IMDS_REQ_MAX      4096   /* a request head larger than this is a 400 */
#define IMDS_PATH_MAX     255
#define IMDS_TOKEN_MAX    128    /* longer than any token the card mints */
#define IMDS_HEADERS_MAX  32

enum imds_method { IMDS_GET = 1, IMDS_HEAD, IMDS_PUT, IMDS_OTHER };

struct imds_req {
	enum imds_method method;
	char path[IMDS_PATH_MAX + 1];
	bool has_token;
	char token[IMDS_TOKEN_MAX + 1];
	bool has_ttl;
	long ttl;                    /* -1: present but not a number in 1..21600 */
	bool forwarded;              /* X-Forwarded-For present */
};

/* Where the head ends: the length up to and including the first CRLFCRLF
 * (or LF LF, which the parser then refuses)
 * in buf[0..len), or 0 when it is not there yet. */
size_t imds_http_head_len(const char *buf, size_t len);

/* Parse one complete head buf[0..len) (as imds_http_head_len() measured
 * it). 0, or -EINVAL with a static reason in *why. A request with a body
 * (Content-Length other than 0, any Transfer-Encoding) is refused: no IMDS
 * request has one. */
int imds_http_parse(const char *buf, size_t len, struct imds_req *r, const char **why);

#endif
