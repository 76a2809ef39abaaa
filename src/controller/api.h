/* api: the host API server — HTTPS with mutual TLS only (libevent evhttp
 * over bufferevent_openssl), one request per connection, a total deadline
 * per connection, every request audited. Routes and roles: routes.c. */
#ifndef WARD_CONTROLLER_API_H
#define WARD_CONTROLLER_API_H

#include <stddef.h>

#include <event2/event.h>

#include "controller/ctl.h"

struct api_cfg {
	const char *listen;	/* "127.0.0.1:8443"; port 0 picks a free one */
	const char *cert, *key;	/* server certificate chain and key (PEM) */
	const char *client_ca;	/* CA that issues client certificates (PEM) */
	int deadline_s;		/* whole request, handshake included */
};

struct api;

int api_start(struct api **out, struct event_base *base, struct ctl *ctl,
	      const struct api_cfg *cfg, char *err, size_t errlen);
int api_port(const struct api *a);
void api_stop(struct api *a);

/* Replaces out's contents with the fixed 500 body sent when a reply cannot
 * be built (it needs no allocation). Its own function so a test reaches it. */
struct evbuffer;
int api_reply_oom(struct evbuffer *out);

#endif
