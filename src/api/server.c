/* server: evhttp + OpenSSL for ward-api. Each request is parsed (query.c),
 * authenticated (auth.c) and dispatched in one store transaction (api.c);
 * replies, which may carry secrets (CreateAccessKey, AssumeRole), are
 * handed to libevent by reference and wiped when it is done with them. */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "auth.h"
#include "httpsd.h"
#include "log.h"

struct server {
	struct api *a;
	SSL_CTX *ctx;
	struct event_base *base;
	struct evhttp *http;
};

/* The Action as it may appear in the log: the client chose its bytes, so
 * anything but a plain action name (which could forge key=value fields or
 * whole lines) is logged as "?". */
static const char *log_action(const struct query *q)
{
	const char *a = query_get(q, "Action");
	size_t n;

	if (!a)
		return "-";
	n = strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
	return n > 0 && n <= 64 && a[n] == '\0' ? a : "?";
}

static void respond(struct evhttp_request *req, struct api_reply *r)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);

	evhttp_add_header(oh, "Content-Type", "text/xml");
	httpsd_send(req, r->status ? r->status : 500, r->status == 200 ? "OK" : "Error",
		    &r->body, r->len);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void handle(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	struct evkeyvalq *ih = evhttp_request_get_input_headers(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct api_reply reply = { 0 };
	struct api_caller caller;
	struct api_http ah;
	struct query q;
	const char *path, *ctype, *peer = NULL;
	char err[256];
	size_t len = evbuffer_get_length(in);
	const uint8_t *body = len ? evbuffer_pullup(in, -1) : (const uint8_t *)"";
	ev_uint16_t port;
	int count;
	double now = now_s();

	path = uri ? evhttp_uri_get_path(uri) : NULL;
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST || !path || strcmp(path, "/") != 0 ||
	    (uri && evhttp_uri_get_query(uri))) {
		api_error(&reply, 400, IAM_NS, "InvalidAction",
			  "ward-api takes POST / with a form-encoded Query body");
		respond(req, &reply);
		return;
	}
	ctype = httpsd_header(ih, "content-type", &count);
	if (!ctype || count != 1 ||
	    strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0) {
		api_error(&reply, 400, IAM_NS, "InvalidAction",
			  "Content-Type must be application/x-www-form-urlencoded");
		respond(req, &reply);
		return;
	}
	if (query_parse((const char *)body, len, &q, err, sizeof(err))) {
		api_error(&reply, 400, IAM_NS, "MalformedQueryString", "%s", err);
		respond(req, &reply);
		return;
	}
	/* botocore's ec2 client always sends EC2's Version: answer its
	 * authentication errors in EC2's shape too. */
	reply.ec2 = query_get(&q, "Version") && strcmp(query_get(&q, "Version"), EC2_VERSION) == 0;
	if (conn)
		evhttp_connection_get_peer(conn, (char **)&peer, &port);
	ah = (struct api_http){ .method = "POST", .path = "/", .query = NULL, .header = httpsd_header,
				.ctx = ih, .body = body, .body_len = len, .source_ip = peer };
	if (auth_caller(s->a, &ah, now, &caller, &reply) == 0) {
		api_dispatch(s->a, &caller, &q, now, &reply);
		log_info("request", "action=%s caller=%s status=%d", log_action(&q),
			 caller.arn, reply.status);
		api_caller_clear(&caller);
	} else {
		log_info("request refused", "action=%s status=%d", log_action(&q), reply.status);
	}
	query_free(&q);
	/* The body may carry a policy or, never, a secret: wipe it anyway. */
	if (len)
		OPENSSL_cleanse(evbuffer_pullup(in, -1), len);
	respond(req, &reply);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static int write_port(const struct server_config *cfg, struct evhttp_bound_socket *bound)
{
	unsigned port = httpsd_bound_port(bound, cfg->port);

	log_info("listening", "addr=%s port=%u", cfg->listen_addr, port);
	return cfg->port_file ? httpsd_write_port(cfg->port_file, port) : 0;
}

int server_run(struct api *a, const struct server_config *cfg)
{
	struct server s = { .a = a };
	struct evhttp_bound_socket *bound;
	struct event *sigint = NULL, *sigterm = NULL;
	int rc = -EIO;

	signal(SIGPIPE, SIG_IGN);
	if (!(s.ctx = httpsd_tls_context(cfg->cert, cfg->key, NULL)))
		return -EINVAL;
	s.base = event_base_new();
	s.http = s.base ? httpsd_new(s.base, s.ctx, QUERY_MAX_BODY, handle, &s) : NULL;
	if (!s.http)
		goto out;
	bound = httpsd_bind(s.http, cfg->listen_addr, cfg->port);
	if (!bound || write_port(cfg, bound))
		goto out;
	sigint = evsignal_new(s.base, SIGINT, on_signal, s.base);
	sigterm = evsignal_new(s.base, SIGTERM, on_signal, s.base);
	if (!sigint || !sigterm)
		goto out;
	event_add(sigint, NULL);
	event_add(sigterm, NULL);
	rc = event_base_dispatch(s.base) < 0 ? -EIO : 0;
	log_info("stopping");
out:
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (s.http)
		evhttp_free(s.http);
	if (s.base)
		event_base_free(s.base);
	SSL_CTX_free(s.ctx);
	return rc;
}
