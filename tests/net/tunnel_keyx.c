/* tests/net/tunnel_keyx: the underlay key exchange (src/net/tunnel/keyx.c)
 * over a socketpair: both ends derive the same keys (a sealed packet opens),
 * every epoch gets new keys, and a peer that is not the expected host, is
 * from another CA, is no known host, comes from another address, or holds
 * no host certificate gets no keys. argv[1]: a tunnel_pki.sh directory. */
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
#include <unistd.h>

#include <openssl/ssl.h>

#include "keyx.h"
#include "tunnel.h"

#define VNI 42
static const char *pki;
static uint32_t addr_a, addr_b;

struct host {
	struct tunnel *t;
	struct keyx *kx;
};

struct resp_arg {
	struct host *h;
	int fd;
	uint32_t from;
	int rc;
	char peer[TUNNEL_HOST_ID_MAX + 1];
};

static const char *ca_name = "ca"; /* the CA file hosts made next trust */

static int load(const char *name, struct keyx **kx)
{
	char c[512], k[512], ca[512];

	snprintf(c, sizeof(c), "%s/%s.pem", pki, name);
	snprintf(k, sizeof(k), "%s/%s.key", pki, name);
	snprintf(ca, sizeof(ca), "%s/%s.pem", pki, ca_name);
	return keyx_create(c, k, ca, kx);
}

static void host_make(struct host *h, const char *cert, const char *id)
{
	struct tunnel_cfg c = { .local_id = id };

	assert_int_equal(load(cert, &h->kx), 0);
	assert_int_equal(tunnel_create(&c, &h->t), 0);
	if (strcmp(id, "hostA"))
		assert_int_equal(tunnel_peer_add(h->t, "hostA", addr_a), 0);
	if (strcmp(id, "hostB"))
		assert_int_equal(tunnel_peer_add(h->t, "hostB", addr_b), 0);
	assert_int_equal(tunnel_map_set(h->t, VNI, htonl(0x0a000001), "hostA"), 0);
	assert_int_equal(tunnel_map_set(h->t, VNI, htonl(0x0a000002), "hostB"), 0);
}

static void host_free(struct host *h)
{
	keyx_destroy(h->kx);
	tunnel_destroy(h->t);
}

static void *responder(void *p)
{
	struct resp_arg *a = p;

	a->rc = keyx_respond(a->h->kx, a->h->t, a->fd, a->from, 0, a->peer);
	close(a->fd); /* the initiator sees EOF instead of waiting */
	return NULL;
}

/* One exchange: a initiates toward `peer`, b answers a connection from `from`. */
static int run(struct host *a, struct host *b, const char *peer, uint32_t from, int *resp_rc)
{
	struct resp_arg ra = { .h = b, .from = from };
	pthread_t th;
	int sv[2], rc;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ra.fd = sv[1];
	assert_int_equal(pthread_create(&th, NULL, responder, &ra), 0);
	rc = keyx_initiate(a->kx, a->t, sv[0], peer, 0);
	close(sv[0]);
	pthread_join(th, NULL);
	*resp_rc = ra.rc;
	if (!ra.rc)
		assert_string_equal(ra.peer, keyx_local_id(a->kx));
	return rc;
}

static long seal_open(struct host *a, struct host *b, uint8_t *pkt)
{
	uint8_t f[64] = { 0 }, out[128];
	uint32_t dst, vni, s = htonl(0x0a000001), d = htonl(0x0a000002);
	long n;

	f[12] = 0x08;
	f[14] = 0x45;
	memcpy(f + 26, &s, 4);
	memcpy(f + 30, &d, 4);
	n = tunnel_encap(a->t, VNI, f, sizeof(f), pkt, 128, &dst, 0);
	assert_true(n > 0);
	return tunnel_decap(b->t, addr_a, pkt, (size_t)n, out, sizeof(out), &vni, 0);
}

static void test_agree(void **state)
{
	struct host a, b;
	uint8_t p1[128], p2[128];
	int rrc;

	(void)state;
	host_make(&a, "hostA", "hostA");
	host_make(&b, "hostB", "hostB");
	assert_string_equal(keyx_local_id(a.kx), "hostA");
	assert_int_equal(run(&a, &b, "hostB", addr_a, &rrc), 0);
	assert_int_equal(rrc, 0);
	assert_int_equal(tunnel_peer_epoch(a.t, "hostB"), 1);
	assert_int_equal(tunnel_peer_epoch(b.t, "hostA"), 1);
	assert_int_equal(seal_open(&a, &b, p1), 64);
	/* rotation: a fresh handshake, epoch 2, other keys (same seq, other
	 * ciphertext), and b still opens it */
	assert_int_equal(run(&a, &b, "hostB", addr_a, &rrc), 0);
	assert_int_equal(rrc, 0);
	assert_int_equal(tunnel_peer_epoch(b.t, "hostA"), 2);
	assert_int_equal(seal_open(&a, &b, p2), 64);
	assert_memory_equal(p2 + 12, "\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01", 12);
	assert_memory_not_equal(p1 + 24, p2 + 24, 64);
	/* b restarted (lost its epochs): the responder never goes back, the
	 * initiator follows the higher epoch it is offered */
	host_free(&b);
	host_make(&b, "hostB", "hostB");
	assert_int_equal(run(&b, &a, "hostA", addr_b, &rrc), 0);
	assert_int_equal(rrc, 0);
	assert_int_equal(tunnel_peer_epoch(b.t, "hostA"), 3);
	/* An initiator that asks for an epoch near the end of the space (it
	 * would wrap the pair into -ESTALE for good) is refused; the
	 * responder stays on its epoch. */
	{
		static const uint8_t junk[TUNNEL_KEY_MATERIAL_LEN] = { 1 };

		assert_int_equal(tunnel_peer_install(a.t, "hostB", KEYX_EPOCH_MAX, TUNNEL_INITIATOR,
						     junk, 0), 0);
		(void)run(&a, &b, "hostB", addr_a, &rrc);
		assert_int_equal(rrc, -ERANGE);
		assert_int_equal(tunnel_peer_epoch(b.t, "hostA"), 3);
	}
	host_free(&a);
	host_free(&b);
}

/* Traffic both ways while the pair rotates: install-then-activate means no
 * packet is ever sealed under a key its receiver lacks, so none may fail. */
struct traffic {
	struct host *a, *b;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	long rounds, failures;
	bool stop;
};

static long one_way(struct host *from, struct host *to, uint32_t src_addr, uint32_t s, uint32_t d)
{
	uint8_t f[64] = { 0 }, pkt[128], out[128];
	uint32_t dst, vni;
	long n;

	f[12] = 0x08;
	f[14] = 0x45;
	memcpy(f + 26, &s, 4);
	memcpy(f + 30, &d, 4);
	n = tunnel_encap(from->t, VNI, f, sizeof(f), pkt, sizeof(pkt), &dst, 0);
	if (n < 0)
		return n;
	return tunnel_decap(to->t, src_addr, pkt, (size_t)n, out, sizeof(out), &vni, 0);
}

static void *traffic_run(void *p)
{
	struct traffic *tr = p;

	for (;;) {
		long r1 = one_way(tr->a, tr->b, addr_a, htonl(0x0a000001), htonl(0x0a000002));
		long r2 = one_way(tr->b, tr->a, addr_b, htonl(0x0a000002), htonl(0x0a000001));

		pthread_mutex_lock(&tr->mu);
		tr->failures += (r1 != 64) + (r2 != 64);
		tr->rounds++;
		pthread_cond_broadcast(&tr->cv);
		if (tr->stop) {
			pthread_mutex_unlock(&tr->mu);
			return NULL;
		}
		pthread_mutex_unlock(&tr->mu);
	}
}

static void test_rotate_under_traffic(void **state)
{
	struct host a, b;
	struct traffic tr = { .a = &a, .b = &b };
	pthread_t th;
	int rrc;

	(void)state;
	host_make(&a, "hostA", "hostA");
	host_make(&b, "hostB", "hostB");
	assert_int_equal(run(&a, &b, "hostB", addr_a, &rrc), 0);
	pthread_mutex_init(&tr.mu, NULL);
	pthread_cond_init(&tr.cv, NULL);
	assert_int_equal(pthread_create(&th, NULL, traffic_run, &tr), 0);
	for (int i = 0; i < 6; i++) {
		long seen;

		assert_int_equal(run(&a, &b, "hostB", addr_a, &rrc), 0);
		assert_int_equal(rrc, 0);
		/* Two more rounds before the next rotation: a packet is never
		 * sealed two epochs before it is opened (that one would rightly
		 * be refused, its key gone). */
		pthread_mutex_lock(&tr.mu);
		seen = tr.rounds;
		while (tr.rounds < seen + 2)
			pthread_cond_wait(&tr.cv, &tr.mu);
		pthread_mutex_unlock(&tr.mu);
	}
	pthread_mutex_lock(&tr.mu);
	tr.stop = true;
	pthread_mutex_unlock(&tr.mu);
	pthread_join(th, NULL);
	assert_int_equal(tunnel_peer_epoch(a.t, "hostB"), 7);
	assert_int_equal(tunnel_peer_epoch(b.t, "hostA"), 7);
	assert_int_equal(tr.failures, 0);
	assert_true(tr.rounds >= 12);
	pthread_cond_destroy(&tr.cv);
	pthread_mutex_destroy(&tr.mu);
	host_free(&a);
	host_free(&b);
}

/* A responder written here with plain OpenSSL from docs/formats.md
 * "Underlay keys" (not keyx.c): it exports with the documented label,
 * context and layout, and holds back its RDY1 so the test can look at the
 * initiator in between. */
struct manual {
	struct host *a;
	int fd, rc;
};

static void *initiator_thread(void *p)
{
	struct manual *m = p;

	m->rc = keyx_initiate(m->a->kx, m->a->t, m->fd, "hostB", 0);
	return NULL;
}

static void tls_read_all(SSL *ssl, uint8_t *b, size_t n)
{
	size_t got = 0, k;

	while (got < n) {
		assert_int_equal(SSL_read_ex(ssl, b + got, n - got, &k), 1);
		got += k;
	}
}

static long seal_epoch(struct host *a, uint8_t *pkt)
{
	uint8_t f[64] = { 0 };
	uint32_t dst, s = htonl(0x0a000001), d = htonl(0x0a000002);

	f[12] = 0x08;
	f[14] = 0x45;
	memcpy(f + 26, &s, 4);
	memcpy(f + 30, &d, 4);
	return tunnel_encap(a->t, VNI, f, sizeof(f), pkt, 128, &dst, 0);
}

static void test_documented_exporter_and_order(void **state)
{
	static const uint8_t ctx_tail[4] = { 0, 0, 0, 2 }; /* epoch 2 */
	uint8_t msg[8], km[TUNNEL_KEY_MATERIAL_LEN], ctx[64], pkt[128], out[128];
	char c[512], k[512], ca[512];
	struct tunnel_cfg cfg = { .local_id = "hostB" };
	struct manual m;
	struct host a, b;
	struct tunnel *mine;
	pthread_t th;
	SSL_CTX *sctx;
	SSL *ssl;
	size_t w;
	uint32_t vni;
	int sv[2], rrc;

	(void)state;
	host_make(&a, "hostA", "hostA");
	host_make(&b, "hostB", "hostB");
	assert_int_equal(run(&a, &b, "hostB", addr_a, &rrc), 0); /* epoch 1 */
	snprintf(c, sizeof(c), "%s/hostB.pem", pki);
	snprintf(k, sizeof(k), "%s/hostB.key", pki);
	snprintf(ca, sizeof(ca), "%s/ca.pem", pki);
	sctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(sctx);
	assert_int_equal(SSL_CTX_use_certificate_file(sctx, c, SSL_FILETYPE_PEM), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey_file(sctx, k, SSL_FILETYPE_PEM), 1);
	assert_int_equal(SSL_CTX_load_verify_locations(sctx, ca, NULL), 1);
	SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	m.a = &a;
	m.fd = sv[0];
	assert_int_equal(pthread_create(&th, NULL, initiator_thread, &m), 0);
	ssl = SSL_new(sctx);
	SSL_set_fd(ssl, sv[1]);
	assert_int_equal(SSL_accept(ssl), 1);
	assert_int_equal(SSL_version(ssl), TLS1_3_VERSION);
	tls_read_all(ssl, msg, 8);
	assert_memory_equal(msg, "WUK1\x00\x00\x00\x02", 8); /* proposes 1 + 1 */
	assert_int_equal(SSL_write_ex(ssl, msg, 8, &w), 1);     /* agree on 2 */
	tls_read_all(ssl, msg, 8);
	assert_memory_equal(msg, "RDY1\x00\x00\x00\x02", 8);
	/* The initiator has installed epoch 2 and waits for our RDY1: it must
	 * still send under epoch 1 (we might not have the key yet). */
	assert_true(seal_epoch(&a, pkt) > 0);
	assert_memory_equal(pkt + 12, "\x00\x00\x00\x01", 4);
	/* The keys, exactly as documented. */
	memcpy(ctx, "hostA", 6);
	memcpy(ctx + 6, "hostB", 6);
	memcpy(ctx + 12, ctx_tail, 4);
	assert_int_equal(SSL_export_keying_material(ssl, km, sizeof(km), "EXPORTER-ward-underlay",
						    strlen("EXPORTER-ward-underlay"), ctx, 16, 1), 1);
	assert_int_equal(SSL_write_ex(ssl, msg, 8, &w), 1); /* our RDY1 */
	pthread_join(th, NULL);
	assert_int_equal(m.rc, 0);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	SSL_CTX_free(sctx);
	close(sv[1]);
	close(sv[0]);
	/* Now epoch 2, and a tunnel keyed from our own export opens it. */
	assert_true(seal_epoch(&a, pkt) > 0);
	assert_memory_equal(pkt + 12, "\x00\x00\x00\x02", 4);
	assert_int_equal(tunnel_create(&cfg, &mine), 0);
	assert_int_equal(tunnel_peer_add(mine, "hostA", addr_a), 0);
	assert_int_equal(tunnel_map_set(mine, VNI, htonl(0x0a000001), "hostA"), 0);
	assert_int_equal(tunnel_peer_install(mine, "hostA", 2, TUNNEL_RESPONDER, km, 0), 0);
	assert_int_equal(tunnel_decap(mine, addr_a, pkt, 64 + TUNNEL_OVERHEAD, out, sizeof(out), &vni, 0), 64);
	tunnel_destroy(mine);
	host_free(&a);
	host_free(&b);
}

/* A client with a CA-issued OU=host certificate whose CN is no host id
 * (quotes, spaces: a log-injection attempt) is refused, and the responder
 * hands back (and logs) no part of that CN. */
static void test_bad_cn(void **state)
{
	char c[512], k[512], ca[512];
	struct resp_arg ra = { .from = 0 };
	struct host b;
	SSL_CTX *cctx;
	SSL *ssl;
	pthread_t th;
	int sv[2];

	(void)state;
	host_make(&b, "hostB", "hostB");
	ra.h = &b;
	ra.from = addr_a;
	snprintf(c, sizeof(c), "%s/badcn.pem", pki);
	snprintf(k, sizeof(k), "%s/badcn.key", pki);
	snprintf(ca, sizeof(ca), "%s/ca.pem", pki);
	cctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(cctx);
	assert_int_equal(SSL_CTX_use_certificate_file(cctx, c, SSL_FILETYPE_PEM), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey_file(cctx, k, SSL_FILETYPE_PEM), 1);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ra.fd = sv[1];
	memset(ra.peer, 'x', sizeof(ra.peer));
	assert_int_equal(pthread_create(&th, NULL, responder, &ra), 0);
	ssl = SSL_new(cctx);
	SSL_set_fd(ssl, sv[0]);
	SSL_connect(ssl); /* the server refuses after the handshake */
	{
		uint8_t buf[8];
		size_t n;

		(void)SSL_read_ex(ssl, buf, sizeof(buf), &n);
	}
	pthread_join(th, NULL);
	assert_int_equal(ra.rc, -EACCES);
	assert_string_equal(ra.peer, "");
	SSL_free(ssl);
	SSL_CTX_free(cctx);
	close(sv[0]);
	assert_int_equal(tunnel_peer_epoch(b.t, "hostA"), 0);
	host_free(&b);
}

static void test_refused(void **state)
{
	struct host a, b, c, rogue;
	struct keyx *kx = NULL;
	int rrc;

	(void)state;
	host_make(&a, "hostA", "hostA");
	host_make(&b, "hostB", "hostB");
	/* a wants hostC but reaches hostB's card */
	assert_int_equal(tunnel_peer_add(a.t, "hostC", htonl(0xc6120003)), 0);
	assert_int_equal(run(&a, &b, "hostC", addr_a, &rrc), -EACCES);
	assert_true(rrc < 0);
	/* hostA's certificate from a CA b does not trust */
	ca_name = "rogue-ca"; /* the rogue card trusts its own CA */
	host_make(&rogue, "rogueA", "hostA");
	ca_name = "ca";
	assert_true(run(&rogue, &b, "hostB", addr_a, &rrc) < 0);
	assert_int_equal(rrc, -EPROTO);
	/* a valid host certificate of a host b has no entry for */
	host_make(&c, "hostC", "hostC");
	assert_true(run(&c, &b, "hostB", addr_a, &rrc) < 0);
	assert_int_equal(rrc, -EACCES);
	/* hostA's genuine certificate, from another underlay address */
	assert_true(run(&a, &b, "hostB", htonl(0xc6120009), &rrc) < 0);
	assert_int_equal(rrc, -EACCES);
	/* Both ends trust a bundle of both CAs: TLS verifies, but a peer whose
	 * chain ends in another root than ours is still refused, both ways. */
	{
		struct host bb, ra, rb;

		ca_name = "bundle";
		host_make(&bb, "hostB", "hostB");
		host_make(&ra, "rogueA", "hostA");
		host_make(&rb, "rogueB", "hostB");
		assert_true(run(&ra, &bb, "hostB", addr_a, &rrc) < 0);
		assert_int_equal(rrc, -EACCES);
		assert_int_equal(tunnel_peer_epoch(bb.t, "hostA"), 0);
		host_free(&ra);
		host_make(&ra, "hostA", "hostA");
		assert_int_equal(run(&ra, &rb, "hostB", addr_a, &rrc), -EACCES);
		assert_int_equal(tunnel_peer_epoch(ra.t, "hostB"), 0);
		/* control: the genuine pair under the bundle does get keys */
		assert_int_equal(run(&ra, &bb, "hostB", addr_a, &rrc), 0);
		assert_int_equal(rrc, 0);
		host_free(&bb);
		host_free(&ra);
		host_free(&rb);
		ca_name = "ca";
	}
	/* an own certificate the CA file does not vouch for */
	ca_name = "rogue-ca";
	assert_int_equal(load("hostA", &kx), -EINVAL);
	ca_name = "ca";
	/* no keys anywhere after all that */
	assert_int_equal(tunnel_peer_epoch(b.t, "hostA"), 0);
	assert_int_equal(tunnel_peer_epoch(a.t, "hostB"), 0);
	/* an operator's certificate is no host certificate */
	{
		char c2[512], k2[512], ca[512];

		snprintf(c2, sizeof(c2), "%s/opB.pem", pki);
		snprintf(k2, sizeof(k2), "%s/opB.key", pki);
		snprintf(ca, sizeof(ca), "%s/ca.pem", pki);
		assert_int_equal(keyx_create(c2, k2, ca, &kx), -EINVAL);
	}
	/* the keyx identity must be the tunnel's */
	assert_int_equal(keyx_initiate(c.kx, a.t, -1, "hostB", 0), -EINVAL);
	host_free(&a);
	host_free(&b);
	host_free(&c);
	host_free(&rogue);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agree),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_rotate_under_traffic),
		cmocka_unit_test(test_documented_exporter_and_order),
		cmocka_unit_test(test_bad_cn),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s PKI_DIR (made by tunnel_pki.sh)\n", argv[0]);
		return 2;
	}
	pki = argv[1];
	signal(SIGPIPE, SIG_IGN); /* as the daemons: keyx.h */
	addr_a = htonl(0xc6120001); /* 198.18.0.1 */
	addr_b = htonl(0xc6120002);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
