/* test_api: failure paths of the host API server that no client can force
 * on demand — the fixed out-of-memory reply, and a connection whose TLS
 * set-up fails (libevent's own refusal, injected with -Wl,--wrap) — run
 * against a real api_start on loopback. Build under ASan to see misuse. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "controller/api.h"
#include "controller/ctl.h"

#define ORIGIN "ward/test/api"

static char dir[] = "/tmp/ward-api-test.XXXXXX";
static EVP_PKEY *audit_key;

/* ---- the out-of-memory reply ---- */

static void test_oom_reply(void **st)
{
	struct evbuffer *b = evbuffer_new();
	size_t n;
	char *body;
	json_t *o;

	assert_non_null(b);
	evbuffer_add(b, "stale", 5);
	assert_int_equal(api_reply_oom(b), 0);
	n = evbuffer_get_length(b);
	body = (char *)evbuffer_pullup(b, -1);
	/* Exactly the JSON text and its newline: no byte from beyond it. */
	assert_null(memchr(body, 0, n));
	assert_true(n > 1 && body[n - 1] == '\n');
	o = json_loadb(body, n, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "error"), "code")),
			    "internal");
	json_decref(o);
	evbuffer_free(b);
}

/* ---- TLS set-up failure for a new connection ---- */

struct bufferevent *__real_bufferevent_openssl_socket_new(struct event_base *base,
							  evutil_socket_t fd, SSL *ssl,
							  enum bufferevent_ssl_state state,
							  int options);
static int tls_fail, tls_failed;

/* libevent refuses an SSL that already holds a socket other than the one
 * given; with BEV_OPT_CLOSE_ON_FREE it frees the SSL on that refusal. */
struct bufferevent *__wrap_bufferevent_openssl_socket_new(struct event_base *base,
							  evutil_socket_t fd, SSL *ssl,
							  enum bufferevent_ssl_state state,
							  int options)
{
	if (tls_fail) {
		assert_int_equal(SSL_set_fd(ssl, 1000), 1);
		fd = 1001;
		tls_failed++;
	}
	return __real_bufferevent_openssl_socket_new(base, fd, ssl, state, options);
}

struct client {
	int port, wake;
	char reply[4096];
	size_t len;
};

/* A plain-TCP client: after a failed TLS set-up evhttp serves the socket
 * without TLS, and the server must still refuse (no certificate). */
static void *client_main(void *arg)
{
	static const char req[] = "GET /v1/health HTTP/1.0\r\n\r\n";
	struct client *c = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)c->port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ssize_t n;

	if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    send(s, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)sizeof(req) - 1)
		while (c->len < sizeof(c->reply) - 1 &&
		       (n = recv(s, c->reply + c->len, sizeof(c->reply) - 1 - c->len, 0)) > 0)
			c->len += (size_t)n;
	c->reply[c->len] = 0;
	if (s >= 0)
		close(s);
	if (write(c->wake, "x", 1) != 1)
		abort();
	return NULL;
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void test_tls_setup_failure(void **st)
{
	char pki[128], cert[160], key[160], ca[160], adir[128], err[256] = "";
	struct api_cfg cfg = { "127.0.0.1:0", cert, key, ca, 30 };
	struct ctl ctl = { .state = HOST_UNVERIFIED_DEV, .dev = true };
	struct event_base *base = event_base_new();
	struct client c = { 0 };
	struct event *wake_ev;
	struct api *api = NULL;
	pthread_t th;
	int p[2];

	snprintf(pki, sizeof(pki), "%s/pki", dir);
	snprintf(cert, sizeof(cert), "%s/server.pem", pki);
	snprintf(key, sizeof(key), "%s/server.key", pki);
	snprintf(ca, sizeof(ca), "%s/ca.pem", pki);
	snprintf(adir, sizeof(adir), "%s/audit", dir);
	assert_non_null(base);
	assert_int_equal(audit_open(adir, ORIGIN, audit_key, &ctl.audit, NULL, err, sizeof(err)), 0);
	if (api_start(&api, base, &ctl, &cfg, err, sizeof(err)))
		fail_msg("api_start: %s", err);
	assert_int_equal(pipe(p), 0);
	wake_ev = event_new(base, p[0], EV_READ, wake_cb, base);
	assert_non_null(wake_ev);
	event_add(wake_ev, NULL);

	tls_fail = 1;
	c.port = api_port(api);
	c.wake = p[1];
	assert_int_equal(pthread_create(&th, NULL, client_main, &c), 0);
	assert_int_equal(event_base_dispatch(base), 0);
	pthread_join(th, NULL);
	tls_fail = 0;

	assert_int_equal(tls_failed, 1);
	/* The server lived through it, and the TLS-less socket got no service. */
	if (strncmp(c.reply, "HTTP/1.1 401", 12) && strncmp(c.reply, "HTTP/1.0 401", 12))
		fail_msg("reply after a failed TLS set-up: \"%.80s\"", c.reply);

	event_free(wake_ev);
	close(p[0]);
	close(p[1]);
	api_stop(api);
	audit_close(ctl.audit);
	event_base_free(base);
}

/* ---- set-up ---- */

static int setup(void **st)
{
	const char *src = getenv("WARD_SOURCE_ROOT");
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	char cmd[512];

	if (!src || !c || !mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "bash '%s/tests/controller/mkpki.sh' '%s/pki'", src, dir);
	if (system(cmd))
		return -1;
	if (EVP_PKEY_keygen_init(c) != 1 || EVP_PKEY_keygen(c, &audit_key) != 1)
		return -1;
	EVP_PKEY_CTX_free(c);
	return 0;
}

static int teardown(void **st)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	EVP_PKEY_free(audit_key);
	return system(cmd) ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oom_reply),
		cmocka_unit_test(test_tls_setup_failure),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
