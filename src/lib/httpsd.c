/* httpsd: TLS context, evhttp setup, header lookup, wiped reply bodies and
 * the port file for ward's HTTPS daemons (ward-api, ward-kms). Reply bodies
 * may carry secrets: libevent gets them by reference and wipes them. */
#include "httpsd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "errmsg.h"
#include "fileio.h"
#include "log.h"

SSL_CTX *httpsd_tls_context(const char *cert, const char *key, const char *client_ca)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_error("cannot load the server certificate or key", "cert=%s", cert);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (client_ca) {
		/* Hosts authenticate with a client certificate; users may
		 * connect without one and sign with SigV4 instead. */
		if (SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1) {
			log_error("cannot load the client CA", "file=%s", client_ca);
			SSL_CTX_free(ctx);
			return NULL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(client_ca));
	}
	return ctx;
}

static struct bufferevent *bev_cb(struct event_base *base, void *arg)
{
	SSL *ssl = SSL_new(arg);

	if (!ssl)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					      BEV_OPT_CLOSE_ON_FREE);
}

struct evhttp *httpsd_new(struct event_base *base, SSL_CTX *ctx, size_t max_body,
			  void (*cb)(struct evhttp_request *, void *), void *arg)
{
	struct evhttp *http = evhttp_new(base);

	if (!http)
		return NULL;
	evhttp_set_bevcb(http, bev_cb, ctx);
	evhttp_set_max_body_size(http, max_body);
	evhttp_set_max_headers_size(http, 16384);
	evhttp_set_timeout(http, 60);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_POST | EVHTTP_REQ_GET);
	evhttp_set_gencb(http, cb, arg);
	return http;
}

struct evhttp_bound_socket *httpsd_bind(struct evhttp *http, const char *addr, unsigned port)
{
	struct evhttp_bound_socket *bound;
	int one = 1;

	bound = evhttp_bind_socket_with_handle(http, addr, (ev_uint16_t)port);
	if (!bound) {
		/* The reason by name: EADDRINUSE tells the operator what to do. */
		int e = errno;

		log_error("cannot listen", "addr=%s port=%u errno=%s reason=\"%s\"", addr, port,
			  errname(e), strerror(e));
		return NULL;
	}
	/* Replies go out as several TLS records; with Nagle on, the last
	 * waits for the client's delayed ACK (~40 ms). Accepted sockets
	 * inherit the option from the listener on Linux. */
	setsockopt(evhttp_bound_socket_get_fd(bound), IPPROTO_TCP, TCP_NODELAY, &one,
		   sizeof(one));
	return bound;
}

unsigned httpsd_bound_port(struct evhttp_bound_socket *bound, unsigned fallback)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl) != 0)
		return fallback;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
		     ((struct sockaddr_in *)&ss)->sin_port);
}

int httpsd_write_port(const char *file, unsigned port)
{
	char txt[16];
	int n = snprintf(txt, sizeof(txt), "%u\n", port), rc;

	/* Replaced atomically so a reader never sees half a number. */
	if ((rc = fileio_replace(file, txt, (size_t)n, 0644)))
		log_error("cannot write the port file", "file=%s error=\"%s\"", file,
			  fileio_strerror(rc));
	return rc;
}

const char *httpsd_header(void *ctx, const char *name, int *count)
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

void httpsd_send(struct evhttp_request *req, int status, const char *reason, char **body,
		 size_t len)
{
	struct evbuffer *buf = evbuffer_new();

	if (buf && *body && evbuffer_add_reference(buf, *body, len, wipe_free, NULL) == 0)
		*body = NULL;
	evhttp_send_reply(req, status, reason, buf);
	if (buf)
		evbuffer_free(buf);
	if (*body) {
		OPENSSL_cleanse(*body, len);
		free(*body);
		*body = NULL;
	}
}
