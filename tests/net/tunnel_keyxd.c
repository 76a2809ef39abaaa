/* tests/net/tunnel_keyxd: the card's key service (src/net/tunnel/keyxd.c)
 * between two hosts on loopback (127.0.0.1 and 127.0.0.2): the initiating
 * host keys the pair on its own, rotates when its (test) clock says the key
 * is due, the other host never initiates, and a connection that trickles
 * bytes into the responder costs it one deadline, not the pair its keys. Waits are on
 * conditions (epochs, counters), never on time. argv[1]: tunnel_pki.sh dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "keyxd.h"

#define VNI 9
static const char *pki;
static uint64_t fake_now;

static uint64_t test_clock(void *arg)
{
	(void)arg;
	return __atomic_load_n(&fake_now, __ATOMIC_SEQ_CST);
}

struct host {
	const char *id, *peer;
	uint32_t addr, peer_addr;
	struct tunnel *t;
	struct keyx *kx;
	struct keyxd *d;
	int lfd;
};

static int listen_on(uint32_t addr, uint16_t *port)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(*port), .sin_addr.s_addr = addr };
	socklen_t sl = sizeof(s);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (bind(fd, (struct sockaddr *)&s, sizeof(s)) || listen(fd, 8)) {
		close(fd);
		return -1;
	}
	assert_int_equal(getsockname(fd, (struct sockaddr *)&s, &sl), 0);
	*port = ntohs(s.sin_port);
	return fd;
}

static void host_start(struct host *h, uint16_t port)
{
	struct tunnel_cfg c = { .local_id = h->id, .rekey_after_s = 3600, .grace_s = 60 };
	struct keyxd_cfg kc = { .listen_fd = h->lfd, .port = port, .io_timeout_ms = 300,
				.check_ms = 20, .now = test_clock };
	char cert[512], key[512], ca[512];

	snprintf(cert, sizeof(cert), "%s/%s.pem", pki, h->id);
	snprintf(key, sizeof(key), "%s/%s.key", pki, h->id);
	snprintf(ca, sizeof(ca), "%s/ca.pem", pki);
	assert_int_equal(keyx_create(cert, key, ca, &h->kx), 0);
	assert_int_equal(tunnel_create(&c, &h->t), 0);
	assert_int_equal(tunnel_peer_add(h->t, h->peer, h->peer_addr), 0);
	assert_int_equal(tunnel_map_set(h->t, VNI, htonl(0x0a000001), "hostA"), 0);
	assert_int_equal(tunnel_map_set(h->t, VNI, htonl(0x0a000002), "hostB"), 0);
	kc.kx = h->kx;
	kc.t = h->t;
	assert_int_equal(keyxd_start(&kc, &h->d), 0);
}

static void host_stop(struct host *h)
{
	keyxd_stop(h->d);
	close(h->lfd);
	keyx_destroy(h->kx);
	tunnel_destroy(h->t);
}

static struct keyxd_stats stats(struct host *h)
{
	struct keyxd_stats s;

	keyxd_stats_read(h->d, &s);
	return s;
}

static void pause_a_little(void)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* until both ends have completed exchange number `n` */
static void wait_exchanges(struct host *a, struct host *b, uint64_t n)
{
	while (stats(a).init_ok < n || stats(b).resp_ok < n)
		pause_a_little();
}

static long one_way(struct host *from, struct host *to, uint32_t s, uint32_t d)
{
	uint8_t f[64] = { 0 }, pkt[128], out[128];
	uint32_t dst, vni;
	long n;

	f[12] = 0x08;
	f[14] = 0x45;
	memcpy(f + 26, &s, 4);
	memcpy(f + 30, &d, 4);
	n = tunnel_encap(from->t, VNI, f, sizeof(f), pkt, sizeof(pkt), &dst, test_clock(NULL));
	if (n < 0)
		return n;
	assert_int_equal(dst, to->addr);
	return tunnel_decap(to->t, from->addr, pkt, (size_t)n, out, sizeof(out), &vni, test_clock(NULL));
}

struct trickle {
	uint32_t addr;
	uint16_t port;
	bool connected, stop;
};

static void *trickle_run(void *p)
{
	static const uint8_t head[5] = { 0x16, 0x03, 0x01, 0x40, 0x00 }; /* 16 KiB handshake record */
	struct trickle *tr = p;
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(tr->port), .sin_addr.s_addr = tr->addr };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_int_equal(connect(fd, (struct sockaddr *)&s, sizeof(s)), 0);
	__atomic_store_n(&tr->connected, true, __ATOMIC_SEQ_CST);
	for (size_t i = 0; !__atomic_load_n(&tr->stop, __ATOMIC_SEQ_CST); i++) {
		uint8_t b = i < sizeof(head) ? head[i] : 0x01;
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		if (send(fd, &b, 1, MSG_NOSIGNAL) != 1)
			break; /* the service hung up on us: fine */
		nanosleep(&ts, NULL);
	}
	close(fd);
	return NULL;
}

static void test_service(void **state)
{
	struct host a = { .id = "hostA", .peer = "hostB" }, b = { .id = "hostB", .peer = "hostA" };
	struct trickle trickle = { 0 };
	uint16_t port = 0;
	pthread_t th;

	(void)state;
	a.addr = b.peer_addr = htonl(0x7f000001);
	b.addr = a.peer_addr = htonl(0x7f000002);
	/* the same port on both addresses, as on real underlays */
	for (int tries = 0; tries < 20; tries++) {
		port = 0;
		a.lfd = listen_on(a.addr, &port);
		b.lfd = a.lfd >= 0 ? listen_on(b.addr, &port) : -1;
		if (b.lfd >= 0)
			break;
		if (a.lfd >= 0)
			close(a.lfd);
	}
	assert_true(b.lfd >= 0);
	host_start(&b, port);
	host_start(&a, port);

	/* no key yet: due at once, hostA (sorts first) keys the pair */
	wait_exchanges(&a, &b, 1);
	assert_int_equal(tunnel_peer_epoch(a.t, "hostB"), 1);
	assert_int_equal(tunnel_peer_epoch(b.t, "hostA"), 1);
	assert_int_equal(one_way(&a, &b, htonl(0x0a000001), htonl(0x0a000002)), 64);
	assert_int_equal(one_way(&b, &a, htonl(0x0a000002), htonl(0x0a000001)), 64);

	/* A connection that trickles a never-ending ClientHello into hostB's
	 * service, a byte at a time: the exchange's one deadline ends it (a
	 * per-read timeout never would), it counts as a failure, and the
	 * rotation that is now due still happens. */
	trickle.port = port;
	trickle.addr = b.addr;
	assert_int_equal(pthread_create(&th, NULL, trickle_run, &trickle), 0);
	while (!__atomic_load_n(&trickle.connected, __ATOMIC_SEQ_CST))
		pause_a_little();
	__atomic_store_n(&fake_now, 3600, __ATOMIC_SEQ_CST);
	keyxd_poke(a.d);
	wait_exchanges(&a, &b, 2);
	/* a rotated epoch: 2, or more if an attempt timed out half-way (an
	 * installed epoch is never reused) */
	assert_true(tunnel_peer_epoch(a.t, "hostB") >= 2);
	assert_int_equal(tunnel_peer_epoch(b.t, "hostA"), tunnel_peer_epoch(a.t, "hostB"));
	while (stats(&b).resp_fail < 1)
		pause_a_little();
	__atomic_store_n(&trickle.stop, true, __ATOMIC_SEQ_CST);
	pthread_join(th, NULL);
	assert_int_equal(one_way(&a, &b, htonl(0x0a000001), htonl(0x0a000002)), 64);
	assert_int_equal(one_way(&b, &a, htonl(0x0a000002), htonl(0x0a000001)), 64);
	/* A TLS client at an address that is no peer's (127.0.0.3) is cut
	 * off before any TLS: it never even sees hostB's certificate (a
	 * responder that handshook first would have sent it in its first
	 * flight). */
	{
		struct sockaddr_in src = { .sin_family = AF_INET,
					   .sin_addr.s_addr = htonl(0x7f000003) };
		struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(port),
					   .sin_addr.s_addr = b.addr };
		struct timeval tv = { .tv_sec = 60 };
		uint64_t fails = stats(&b).resp_fail;
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
		SSL *ssl;

		assert_true(c >= 0 && ctx);
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		assert_int_equal(bind(c, (struct sockaddr *)&src, sizeof(src)), 0);
		assert_int_equal(connect(c, (struct sockaddr *)&dst, sizeof(dst)), 0);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		ssl = SSL_new(ctx);
		assert_non_null(ssl);
		SSL_set_fd(ssl, c);
		assert_true(SSL_connect(ssl) <= 0);
		assert_null(SSL_get0_peer_certificate(ssl));
		SSL_free(ssl);
		SSL_CTX_free(ctx);
		close(c);
		while (stats(&b).resp_fail < fails + 1)
			pause_a_little();
	}
	/* not due: nothing more happens on a poke */
	keyxd_poke(a.d);
	assert_false(tunnel_peer_rekey_due(a.t, "hostB", test_clock(NULL)));
	/* hostB never initiates */
	assert_int_equal(stats(&b).init_ok + stats(&b).init_fail, 0);
	host_stop(&a);
	host_stop(&b);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s PKI_DIR (made by tunnel_pki.sh)\n", argv[0]);
		return 2;
	}
	pki = argv[1];
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
