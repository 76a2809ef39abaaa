/* httpsd: the pieces ward's HTTPS daemons (ward-api, ward-kms) share on top
 * of libevent evhttp over bufferevent_openssl: the TLS context, the evhttp
 * limits, header lookup, wiped reply bodies and the bound port file. */
#ifndef WARD_HTTPSD_H
#define WARD_HTTPSD_H

#include <stddef.h>

#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

/* A TLS 1.2+ server context for cert/key (PEM); with client_ca, client
 * certificates are requested and verified against it but not required.
 * NULL on failure (logged). */
SSL_CTX *httpsd_tls_context(const char *cert, const char *key, const char *client_ca);

/* An evhttp on base that accepts TLS with ctx (which must outlive it),
 * takes POST and GET, bodies up to max_body, 16 KiB of headers and a 60 s
 * timeout, and hands every request to cb. NULL on failure. */
struct evhttp *httpsd_new(struct event_base *base, SSL_CTX *ctx, size_t max_body,
			  void (*cb)(struct evhttp_request *, void *), void *arg);

/* Binds http to addr:port with TCP_NODELAY on the listener. NULL on
 * failure (logged). */
struct evhttp_bound_socket *httpsd_bind(struct evhttp *http, const char *addr,
					unsigned port);

/* The port bound actually has (fallback when it cannot be read). */
unsigned httpsd_bound_port(struct evhttp_bound_socket *bound, unsigned fallback);

/* Writes "port\n" to file, atomically replaced. 0 or negative errno (logged). */
int httpsd_write_port(const char *file, unsigned port);

/* First value of header name in the evkeyvalq ctx, case-insensitive, and
 * in *count how many times it stands there (the auth header callback). */
const char *httpsd_header(void *ctx, const char *name, int *count);

/* Sends *body (malloc'd, len bytes, may be NULL) as the reply; the body is
 * wiped and freed once sent or on failure, and *body set to NULL. */
void httpsd_send(struct evhttp_request *req, int status, const char *reason, char **body,
		 size_t len);

#endif
