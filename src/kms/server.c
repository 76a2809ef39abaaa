/* server: evhttp + OpenSSL for ward-kms. One event loop; each request is
 * authenticated (auth.c), dispatched (kms.c) and answered with the AWS JSON
 * 1.1 envelope. Reply bodies, which may hold plaintext keys, are handed to
 * libevent by reference and wiped when libevent is done with them. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "auth.h"
#include "httpsd.h"
#include "log.h"
#include "sandbox.h"
#include "stats.h"
#include "trail.h"

/* One per worker thread: its own event loop, KMS context (SQLite
 * connection, HSM session, caches); the listening socket is shared. */
struct server {
	struct kms *k;
	struct event_base *base;
	struct evhttp *http;
	pthread_t th;
	struct trail *trail;	/* shared by all workers, or NULL */
	const char *metrics_subject;	/* who may GET /metrics */
	struct server *all;
	unsigned n;
};

/* RFC 2253 subject of a verified client certificate, or NULL. */
static char *peer_subject(struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	X509 *cert;
	BIO *bio;
	char *out = NULL;
	long n;

	if (!ssl || !(cert = SSL_get0_peer_certificate(ssl)) ||
	    SSL_get_verify_result(ssl) != X509_V_OK)
		return NULL;
	bio = BIO_new(BIO_s_mem());
	if (!bio)
		return NULL;
	if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
		char *p;

		n = BIO_get_mem_data(bio, &p);
		if (n > 0 && n < 1024 && (out = malloc((size_t)n + 1))) {
			memcpy(out, p, (size_t)n);
			out[n] = '\0';
		}
	}
	BIO_free(bio);
	return out;
}

static void respond(struct evhttp_request *req, struct kms_reply *r)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	char rid[37];
	uint8_t b[16];

	/* The request id only correlates logs, but on a generator failure the
	 * buffer must not carry uninitialised stack into a response header. */
	if (RAND_bytes(b, sizeof(b)) != 1)
		memset(b, 0, sizeof(b));
	snprintf(rid, sizeof(rid), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5], b[6],
		 b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	evhttp_add_header(oh, "Content-Type", "application/x-amz-json-1.1");
	evhttp_add_header(oh, "x-amzn-RequestId", rid);
	if (r->error)
		evhttp_add_header(oh, "x-amzn-ErrorType", r->error);
	httpsd_send(req, r->status, r->status == 200 ? "OK" : "Bad Request", &r->body, r->len);
}

/* Why X-Amz-Target names no operation ward-kms serves, in the AWS JSON
 * error shape. An operation of the KMS API that ward-kms does not
 * implement (ListAliases, Sign, ...) is UnsupportedOperationException
 * naming it, so a client sees what is missing, not a malformed request.
 * Only a plain name is echoed back: the header is the caller's text. */
static void target_error(const char *target, int count, struct kms_reply *reply)
{
	static const char prefix[] = "TrentService.";
	const char *name;
	char msg[160];
	size_t n;

	if (!target) {
		kms_reply_error(reply, 400, "UnknownOperationException",
				"missing X-Amz-Target header (TrentService.<Operation>)");
		return;
	}
	if (count != 1) {
		kms_reply_error(reply, 400, "UnknownOperationException",
				"more than one X-Amz-Target header");
		return;
	}
	name = target + sizeof(prefix) - 1;
	n = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
	if (strncmp(target, prefix, sizeof(prefix) - 1) || !n || n > 64 || name[n]) {
		kms_reply_error(reply, 400, "UnknownOperationException",
				"X-Amz-Target must be TrentService.<Operation>");
		return;
	}
	snprintf(msg, sizeof(msg), "%s is not supported by ward-kms (docs/kms.md lists the "
		 "operations it serves)", name);
	kms_reply_error(reply, 400, "UnsupportedOperationException", msg);
}

/* The activity trail's record of a request that named an operation, on
 * disk before the answer leaves: an answer the trail could not record is
 * replaced by an error (its body, which may hold a plaintext key, wiped). */
static void record(struct server *s, struct evhttp_request *req, enum kms_op op,
		   const char *principal, struct kms_reply *reply)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct trail_event ev = {
		.op = kms_op_name(op), .principal = principal, .key_id = reply->key_id,
		.grant_id = reply->grant_id, .context_keys = reply->context_keys,
		.recipient = reply->recipient,
		.status = reply->status, .error = reply->error,
	};
	char source[INET6_ADDRSTRLEN + 8] = "";
	char *addr = NULL;
	ev_uint16_t port = 0;

	if (!s->trail)
		goto out;
	if (conn)
		evhttp_connection_get_peer(conn, &addr, &port);
	if (addr) {
		snprintf(source, sizeof(source), strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr,
			 (unsigned)port);
		ev.source = source;
	}
	if (trail_record(s->trail, &ev)) {
		if (reply->body) {
			OPENSSL_cleanse(reply->body, reply->len);
			free(reply->body);
		}
		kms_reply_error(reply, 500, "KMSInternalException",
				"the activity trail cannot record this request");
	}
out:
	free(reply->context_keys);
	reply->context_keys = NULL;
}

/* GET /metrics: only for a verified client certificate whose subject is
 * the configured monitoring identity (docs/observability.md: metrics show
 * which operations run and how often, so they stay behind the TLS
 * listener's own authentication rather than on an open port). */
static void serve_metrics(struct server *s, struct evhttp_request *req)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	struct metrics_buf b = { 0 };
	char *subject = peer_subject(req);

	if (!s->metrics_subject || !subject || strcmp(subject, s->metrics_subject)) {
		log_info("metrics refused", "subject=%s", subject ? subject : "-");
		free(subject);
		evhttp_add_header(oh, "Content-Type", "text/plain");
		b.p = strdup("metrics need the monitoring client certificate (--metrics-subject)\n");
		httpsd_send(req, 403, "Forbidden", &b.p, b.p ? strlen(b.p) : 0);
		return;
	}
	free(subject);
	kms_stats_render(&b, s->trail ? (int64_t)trail_size(s->trail) : -1);
	if (b.err) {
		metrics_buf_free(&b);
		httpsd_send(req, 500, "Internal Server Error", &b.p, 0);
		return;
	}
	evhttp_add_header(oh, "Content-Type", METRICS_CONTENT_TYPE);
	httpsd_send(req, 200, "OK", &b.p, b.len);
}

static void handle(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	struct evkeyvalq *ih = evhttp_request_get_input_headers(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct kms_reply reply = { 0 };
	struct kms_caller caller;
	struct auth_http ah;
	const char *target, *path;
	enum kms_op op;
	size_t len;
	char *subject;
	int count;
	double now = kms_now();
	uint64_t t0 = metrics_now_ns();

	path = uri ? evhttp_uri_get_path(uri) : NULL;
	if (path && !strcmp(path, "/metrics") && evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
		serve_metrics(s, req);
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST || !path || strcmp(path, "/") != 0) {
		kms_reply_error(&reply, 404, "UnknownOperationException",
				"KMS takes POST / with an X-Amz-Target header");
		respond(req, &reply);
		return;
	}
	target = httpsd_header(ih, "x-amz-target", &count);
	if (!target || count != 1 || kms_op_from_target(target, &op)) {
		target_error(target, count, &reply);
		respond(req, &reply);
		return;
	}
	len = evbuffer_get_length(in);
	subject = peer_subject(req);
	ah = (struct auth_http){
		.method = "POST", .path = "/", .query = evhttp_uri_get_query(uri),
		.header = httpsd_header, .ctx = ih,
		.body = len ? evbuffer_pullup(in, -1) : (const uint8_t *)"",
		.body_len = len, .tls_subject = subject,
	};
	if (auth_caller(s->k, &ah, now, &caller, &reply) == 0) {
		kms_dispatch(s->k, &caller, op, (const char *)ah.body, len, now, &reply);
		log_debug("request", "op=%s caller=%s status=%d", kms_op_name(op),
			  caller.arn, reply.status);
		record(s, req, op, caller.arn, &reply);
		kms_caller_clear(&caller);
	} else {
		log_info("request refused", "op=%s error=%s", kms_op_name(op), reply.error);
		record(s, req, op, NULL, &reply);
	}
	/* The request body may hold plaintext (Encrypt): wipe it. */
	if (len)
		OPENSSL_cleanse(evbuffer_pullup(in, -1), len);
	free(subject);
	kms_stats_observe(op, trail_outcome(reply.status, reply.error), metrics_now_ns() - t0);
	respond(req, &reply);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	/* loopexit, not loopbreak: a worker whose loop has not started yet
	 * would clear a break flag on entry and never stop (a SIGTERM right
	 * after start hung ward-kms); loopexit is an event its loop runs. */
	for (unsigned i = 0; i < s->n; i++)
		event_base_loopexit(s->all[i].base, NULL);
}

static void *worker(void *arg)
{
	struct server *s = arg;

	sandbox_test_forbidden("WARD_KMS_TEST_FORBIDDEN", "worker");
	event_base_dispatch(s->base);
	return NULL;
}

static int worker_init(struct server *s, struct kms *k, SSL_CTX *ctx)
{
	s->k = k;
	s->base = event_base_new();
	s->http = s->base ? httpsd_new(s->base, ctx, REQ_MAX_BODY, handle, s) : NULL;
	return s->http ? 0 : -ENOMEM;
}

static void on_trail_checkpoint(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	trail_checkpoint(s->trail);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	int n = kms_sweep(s->k, kms_now());

	if (n > 0)
		log_info("maintenance", "keys_changed=%d", n);
}

int server_run(struct kms **ks, unsigned n, const struct server_config *cfg)
{
	struct server *w = calloc(n, sizeof(*w));
	struct evhttp_bound_socket *bound;
	struct event *sigint = NULL, *sigterm = NULL, *sweep = NULL, *trail_cp = NULL;
	struct timeval minute = { 60, 0 };
	SSL_CTX *ctx = NULL;
	unsigned started = 0;
	int rc = -EIO;

	if (!w)
		return -ENOMEM;
	signal(SIGPIPE, SIG_IGN);
	/* Several loops share the listener and signal each other. */
	if (evthread_use_pthreads() != 0)
		goto out;
	ctx = httpsd_tls_context(cfg->cert, cfg->key, cfg->client_ca);
	if (!ctx) {
		rc = -EINVAL;
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		w[i].all = w;
		w[i].n = n;
		w[i].trail = cfg->trail;
		w[i].metrics_subject = cfg->metrics_subject;
		if (worker_init(&w[i], ks[i], ctx))
			goto out;
	}
	bound = httpsd_bind(w[0].http, cfg->listen_addr, cfg->port);
	if (!bound)
		goto out;
	for (unsigned i = 1; i < n; i++)
		if (evhttp_accept_socket(w[i].http, evhttp_bound_socket_get_fd(bound)) != 0)
			goto out;
	{
		unsigned port = httpsd_bound_port(bound, cfg->port);

		log_info("listening", "addr=%s port=%u mtls=%s threads=%u", cfg->listen_addr,
			 port, cfg->client_ca ? "optional" : "off", n);
		if (cfg->port_file && httpsd_write_port(cfg->port_file, port))
			goto out;
	}
	sigint = evsignal_new(w[0].base, SIGINT, on_signal, &w[0]);
	sigterm = evsignal_new(w[0].base, SIGTERM, on_signal, &w[0]);
	sweep = event_new(w[0].base, -1, EV_PERSIST, on_sweep, &w[0]);
	if (!sigint || !sigterm || !sweep)
		goto out;
	event_add(sigint, NULL);
	event_add(sigterm, NULL);
	event_add(sweep, &minute);
	on_sweep(-1, 0, &w[0]);
	if (cfg->trail && cfg->trail_checkpoint_s) {
		struct timeval every = { cfg->trail_checkpoint_s, 0 };

		trail_cp = event_new(w[0].base, -1, EV_PERSIST, on_trail_checkpoint, &w[0]);
		if (!trail_cp || event_add(trail_cp, &every))
			goto out;
	}
	/* Still single-threaded, nothing accepted yet: the workers inherit
	 * whatever lockdown the caller applies now. */
	if (cfg->lockdown && cfg->lockdown(cfg->lockdown_arg)) {
		rc = -EPERM;
		goto out;
	}
	for (started = 1; started < n; started++)
		if (pthread_create(&w[started].th, NULL, worker, &w[started]) != 0)
			break;
	rc = event_base_dispatch(w[0].base) < 0 ? -EIO : 0;
	on_signal(-1, 0, &w[0]);
	for (unsigned i = 1; i < started; i++)
		pthread_join(w[i].th, NULL);
	log_info("stopping");
out:
	if (trail_cp)
		event_free(trail_cp);
	if (sweep)
		event_free(sweep);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	for (unsigned i = 0; i < n; i++) {
		if (w[i].http)
			evhttp_free(w[i].http);
		if (w[i].base)
			event_base_free(w[i].base);
	}
	SSL_CTX_free(ctx);
	free(w);
	return rc;
}
