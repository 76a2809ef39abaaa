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

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "auth.h"
#include "fileio.h"
#include "log.h"

struct server {
	struct api *a;
	SSL_CTX *ctx;
	struct event_base *base;
	struct evhttp *http;
};

static struct bufferevent *bev_cb(struct event_base *base, void *arg)
{
	struct server *s = arg;
	SSL *ssl = SSL_new(s->ctx);

	if (!ssl)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					      BEV_OPT_CLOSE_ON_FREE);
}

static const char *hdr_get(void *ctx, const char *name, int *count)
{
	struct evkeyvalq *h = ctx;
	struct evkeyval *kv;
	const char *v = NULL;

	*count = 0;
	for (kv = h->tqh_first; kv; kv = kv->next.tqe_next) {
		if (strcasecmp(kv->key, name) == 0) {
			if (!v)
				v = kv->value;
			(*count)++;
		}
	}
	return v;
}

static void wipe_free(const void *data, size_t len, void *arg)
{
	OPENSSL_cleanse((void *)data, len);
	free((void *)data);
}

static void respond(struct evhttp_request *req, struct api_reply *r)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	struct evbuffer *buf = evbuffer_new();

	evhttp_add_header(oh, "Content-Type", "text/xml");
	if (buf && r->body && evbuffer_add_reference(buf, r->body, r->len, wipe_free, NULL) == 0)
		r->body = NULL;
	evhttp_send_reply(req, r->status ? r->status : 500, r->status == 200 ? "OK" : "Error", buf);
	if (buf)
		evbuffer_free(buf);
	if (r->body) {
		OPENSSL_cleanse(r->body, r->len);
		free(r->body);
		r->body = NULL;
	}
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
	ctype = hdr_get(ih, "content-type", &count);
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
	if (conn)
		evhttp_connection_get_peer(conn, (char **)&peer, &port);
	ah = (struct api_http){ .method = "POST", .path = "/", .query = NULL, .header = hdr_get,
				.ctx = ih, .body = body, .body_len = len, .source_ip = peer };
	if (auth_caller(s->a, &ah, now, &caller, &reply) == 0) {
		api_dispatch(s->a, &caller, &q, now, &reply);
		log_info("request", "action=%s caller=%s status=%d", query_get(&q, "Action") ?: "-",
			 caller.arn, reply.status);
		api_caller_clear(&caller);
	} else {
		log_info("request refused", "action=%s status=%d", query_get(&q, "Action") ?: "-",
			 reply.status);
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

static SSL_CTX *tls_context(const struct server_config *cfg)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_error("cannot load the server certificate or key", "cert=%s", cfg->cert);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static int write_port(const struct server_config *cfg, struct evhttp_bound_socket *bound)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	unsigned port = cfg->port;
	char txt[16];
	int n, rc;

	if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl) == 0)
		port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
			     ((struct sockaddr_in *)&ss)->sin_port);
	log_info("listening", "addr=%s port=%u", cfg->listen_addr, port);
	if (!cfg->port_file)
		return 0;
	n = snprintf(txt, sizeof(txt), "%u\n", port);
	/* Replaced atomically so a reader never sees half a number. */
	if ((rc = fileio_replace(cfg->port_file, txt, (size_t)n, 0644)))
		log_error("cannot write the port file", "file=%s error=\"%s\"", cfg->port_file,
			  fileio_strerror(rc));
	return rc;
}

int server_run(struct api *a, const struct server_config *cfg)
{
	struct server s = { .a = a };
	struct evhttp_bound_socket *bound;
	struct event *sigint = NULL, *sigterm = NULL;
	int rc = -EIO, one = 1;

	signal(SIGPIPE, SIG_IGN);
	if (!(s.ctx = tls_context(cfg)))
		return -EINVAL;
	s.base = event_base_new();
	s.http = s.base ? evhttp_new(s.base) : NULL;
	if (!s.http)
		goto out;
	evhttp_set_bevcb(s.http, bev_cb, &s);
	evhttp_set_max_body_size(s.http, QUERY_MAX_BODY);
	evhttp_set_max_headers_size(s.http, 16384);
	evhttp_set_timeout(s.http, 60);
	evhttp_set_allowed_methods(s.http, EVHTTP_REQ_POST | EVHTTP_REQ_GET);
	evhttp_set_gencb(s.http, handle, &s);
	bound = evhttp_bind_socket_with_handle(s.http, cfg->listen_addr, (ev_uint16_t)cfg->port);
	if (!bound) {
		log_error("cannot listen", "addr=%s port=%u", cfg->listen_addr, cfg->port);
		goto out;
	}
	/* Replies go out as several TLS records: without NODELAY the last
	 * one waits for the client's delayed ACK. */
	setsockopt(evhttp_bound_socket_get_fd(bound), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (write_port(cfg, bound))
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
