/* tests/net/tunnel_unit: the underlay's seal/open, replay window, tamper
 * refusal, receive owner check, mapping misses, rotation with grace and the
 * debug plaintext mode (src/net/tunnel). Two struct tunnels stand for two
 * hosts; keys are fixed test material installed as keyx would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "tunnel.h"

#define VNI 0x00abcd
#define MARKER "WARD-INNER-PLAINTEXT-MARKER"

struct pair {
	struct tunnel *a, *b;
	uint32_t addr_a, addr_b;
};

static uint32_t ip4(const char *s)
{
	uint32_t v;

	assert_int_equal(inet_pton(AF_INET, s, &v), 1);
	return v;
}

static size_t frame(uint8_t *f, const char *src, const char *dst, const char *payload)
{
	uint32_t s = ip4(src), d = ip4(dst);
	size_t n = strlen(payload);

	memset(f, 0, 34);
	memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	f[12] = 0x08;
	f[14] = 0x45;
	f[14 + 9] = 17;
	memcpy(f + 14 + 12, &s, 4);
	memcpy(f + 14 + 16, &d, 4);
	memcpy(f + 34, payload, n);
	return 34 + n;
}

static struct tunnel_stats st(const struct tunnel *t)
{
	struct tunnel_stats s;

	tunnel_stats_read(t, &s);
	return s;
}

static void material(uint8_t *m, uint8_t seed)
{
	for (size_t i = 0; i < TUNNEL_KEY_MATERIAL_LEN; i++)
		m[i] = (uint8_t)(seed + i * 7);
}

static void install(struct pair *p, uint32_t epoch, uint8_t seed, uint64_t now, bool activate)
{
	uint8_t m[TUNNEL_KEY_MATERIAL_LEN];

	material(m, seed);
	assert_int_equal(tunnel_peer_install(p->a, "hostB", epoch, TUNNEL_INITIATOR, m, now), 0);
	assert_int_equal(tunnel_peer_install(p->b, "hostA", epoch, TUNNEL_RESPONDER, m, now), 0);
	if (activate) {
		assert_int_equal(tunnel_peer_activate(p->a, "hostB", epoch, now), 0);
		assert_int_equal(tunnel_peer_activate(p->b, "hostA", epoch, now), 0);
	}
}

static void pair_make(struct pair *p, const struct tunnel_cfg *base, bool keys)
{
	struct tunnel_cfg c = base ? *base : (struct tunnel_cfg){ 0 };

	p->addr_a = ip4("198.18.0.1");
	p->addr_b = ip4("198.18.0.2");
	c.local_id = "hostA";
	assert_int_equal(tunnel_create(&c, &p->a), 0);
	c.local_id = "hostB";
	assert_int_equal(tunnel_create(&c, &p->b), 0);
	assert_int_equal(tunnel_peer_add(p->a, "hostB", p->addr_b), 0);
	assert_int_equal(tunnel_peer_add(p->b, "hostA", p->addr_a), 0);
	assert_int_equal(tunnel_peer_add(p->a, "hostC", ip4("198.18.0.3")), 0);
	assert_int_equal(tunnel_peer_add(p->b, "hostC", ip4("198.18.0.3")), 0);
	for (int i = 0; i < 2; i++) {
		struct tunnel *t = i ? p->b : p->a;

		assert_int_equal(tunnel_map_set(t, VNI, ip4("10.0.0.1"), "hostA"), 0);
		assert_int_equal(tunnel_map_set(t, VNI, ip4("10.0.0.2"), "hostB"), 0);
		assert_int_equal(tunnel_map_set(t, VNI, ip4("10.0.0.3"), "hostC"), 0);
	}
	if (keys)
		install(p, 1, 0x11, 0, true);
}

static void pair_free(struct pair *p)
{
	tunnel_destroy(p->a);
	tunnel_destroy(p->b);
}

/* a -> b: seal a frame 10.0.0.1 -> 10.0.0.2; returns the packet length. */
static long seal_ab(struct pair *p, uint8_t *pkt, uint64_t now)
{
	uint8_t f[256];
	size_t n = frame(f, "10.0.0.1", "10.0.0.2", MARKER);
	uint32_t dst = 0;
	long r = tunnel_encap(p->a, VNI, f, n, pkt, 512, &dst, now);

	if (r > 0)
		assert_int_equal(dst, p->addr_b);
	return r;
}

static long open_b(struct pair *p, const uint8_t *pkt, size_t len, uint64_t now)
{
	uint8_t out[512];
	uint32_t vni = 0;
	long r = tunnel_decap(p->b, p->addr_a, pkt, len, out, sizeof(out), &vni, now);

	if (r > 0) {
		assert_int_equal(vni, VNI);
		assert_memory_equal(out + 34, MARKER, strlen(MARKER));
	}
	return r;
}

static void test_replay_window(void **state)
{
	struct tunnel_replay w;

	(void)state;
	assert_true(TUNNEL_REPLAY_WINDOW >= 1024);
	tunnel_replay_init(&w);
	assert_int_equal(tunnel_replay_check(&w, 0), TUNNEL_REPLAY_ZERO);
	for (uint64_t s = 1; s <= 100; s++) { /* in order */
		assert_int_equal(tunnel_replay_check(&w, s), TUNNEL_REPLAY_OK);
		tunnel_replay_update(&w, s);
	}
	assert_int_equal(tunnel_replay_check(&w, 100), TUNNEL_REPLAY_DUP);
	assert_int_equal(tunnel_replay_check(&w, 1), TUNNEL_REPLAY_DUP);
	/* Reordered: 2000 arrives, then 1990..1999 late but within the window. */
	tunnel_replay_update(&w, 2000);
	for (uint64_t s = 1990; s < 2000; s++) {
		assert_int_equal(tunnel_replay_check(&w, s), TUNNEL_REPLAY_OK);
		tunnel_replay_update(&w, s);
		assert_int_equal(tunnel_replay_check(&w, s), TUNNEL_REPLAY_DUP);
	}
	/* The bottom of the window: 1024 behind (the minimum) and the
	 * last number still inside are accepted, one further is too old. */
	assert_int_equal(tunnel_replay_check(&w, 2000 - 1024), TUNNEL_REPLAY_OK);
	assert_int_equal(tunnel_replay_check(&w, 17), TUNNEL_REPLAY_DUP); /* in window, seen */
	tunnel_replay_update(&w, 5000);
	assert_int_equal(tunnel_replay_check(&w, 5000 - TUNNEL_REPLAY_WINDOW + 1), TUNNEL_REPLAY_OK);
	assert_int_equal(tunnel_replay_check(&w, 5000 - TUNNEL_REPLAY_WINDOW), TUNNEL_REPLAY_OLD);
	assert_int_equal(tunnel_replay_check(&w, 1999), TUNNEL_REPLAY_OLD);
	/* A jump far ahead clears the whole ring: old bits must not alias. */
	tunnel_replay_update(&w, 2000 + 2048 * 5);
	for (uint64_t s = 2000 + 2048 * 5 - TUNNEL_REPLAY_WINDOW + 1; s < 2000 + 2048 * 5; s++)
		assert_int_equal(tunnel_replay_check(&w, s), TUNNEL_REPLAY_OK);
}

static void test_seal_open(void **state)
{
	struct pair p;
	uint8_t pkt[512], f[256], out[512];
	uint32_t dst, vni;
	long n, r;

	(void)state;
	pair_make(&p, NULL, true);
	n = seal_ab(&p, pkt, 0);
	assert_int_equal(n, 34 + strlen(MARKER) + TUNNEL_OVERHEAD);
	/* docs/formats.md "Underlay": Geneve with one critical option. */
	assert_memory_equal(pkt, "\x04\x40\x65\x58\x00\xab\xcd\x00\xff\xf0\xd7\x03", 12);
	assert_memory_equal(pkt + 12, "\x00\x00\x00\x01", 4);                 /* epoch */
	assert_memory_equal(pkt + 16, "\x00\x00\x00\x00\x00\x00\x00\x01", 8); /* seq */
	assert_null(memmem(pkt, (size_t)n, MARKER, strlen(MARKER)));
	assert_null(memmem(pkt, (size_t)n, "\x0a\x00\x00\x01", 4)); /* inner IPs hidden */
	assert_int_equal(open_b(&p, pkt, (size_t)n, 0), 34 + strlen(MARKER));
	/* and back: b -> a with the other direction's key */
	n = tunnel_encap(p.b, VNI, f, frame(f, "10.0.0.2", "10.0.0.1", MARKER), pkt, sizeof(pkt), &dst, 0);
	assert_true(n > 0);
	assert_int_equal(dst, p.addr_a);
	r = tunnel_decap(p.a, p.addr_b, pkt, (size_t)n, out, sizeof(out), &vni, 0);
	assert_int_equal(r, 34 + strlen(MARKER));
	assert_memory_equal(out, f, (size_t)r);
	/* the direction keys differ: a packet a sealed cannot be reflected back to a */
	n = seal_ab(&p, pkt, 0);
	assert_int_equal(tunnel_decap(p.a, p.addr_b, pkt, (size_t)n, out, sizeof(out), &vni, 0), -EBADMSG);
	assert_int_equal(st(p.b).rx_ok, 1);
	assert_int_equal(st(p.a).rx_auth_fail, 1);
	pair_free(&p);
}

static void test_tamper(void **state)
{
	struct pair p;
	uint8_t pkt[512], bad[512];
	long n;

	(void)state;
	pair_make(&p, NULL, true);
	n = seal_ab(&p, pkt, 0);
	assert_true(n > 0);
	for (long i = 0; i < n * 8; i++) {
		memcpy(bad, pkt, (size_t)n);
		bad[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_true(open_b(&p, bad, (size_t)n, 0) < 0);
	}
	/* Truncated packets, each in a buffer of exactly its length so that
	 * ASan sees any read past the end (the header checks once read the
	 * option before checking the length: fuzz-tunnel-decap found it). */
	for (long l = 0; l < n; l++) {
		uint8_t *cut = malloc(l ? (size_t)l : 1);

		assert_non_null(cut);
		memcpy(cut, pkt, (size_t)l);
		assert_true(open_b(&p, cut, (size_t)l, 0) < 0);
		free(cut);
	}
	assert_int_equal(st(p.b).rx_ok, 0);
	/* No refused packet moved the window: the genuine one still opens. */
	assert_true(open_b(&p, pkt, (size_t)n, 0) > 0);
	pair_free(&p);
}

static void test_replay_and_reorder(void **state)
{
	struct pair p;
	uint8_t pkts[40][512];
	long n[40];

	(void)state;
	pair_make(&p, NULL, true);
	for (int i = 0; i < 40; i++)
		n[i] = seal_ab(&p, pkts[i], 0);
	for (int i = 39; i >= 0; i--) /* reversed: all within the window */
		assert_true(open_b(&p, pkts[i], (size_t)n[i], 0) > 0);
	assert_int_equal(open_b(&p, pkts[7], (size_t)n[7], 0), -EALREADY);
	assert_int_equal(open_b(&p, pkts[39], (size_t)n[39], 0), -EALREADY);
	assert_int_equal(st(p.b).rx_replay, 2);
	assert_int_equal(st(p.b).rx_ok, 40);
	/* too old: more than the window sent after it */
	{
		uint8_t old[512];
		long on = seal_ab(&p, old, 0);

		for (unsigned i = 0; i < TUNNEL_REPLAY_WINDOW; i++)
			assert_true(open_b(&p, pkts[0], (size_t)seal_ab(&p, pkts[0], 0), 0) > 0);
		assert_int_equal(open_b(&p, old, (size_t)on, 0), -EALREADY);
		assert_int_equal(st(p.b).rx_replay, 3);
	}
	pair_free(&p);
}

static void test_receive_check(void **state)
{
	struct pair p;
	uint8_t f[256], pkt[512], out[512];
	uint32_t dst, vni;
	long n;

	(void)state;
	pair_make(&p, NULL, true);
	/* a sends a frame whose inner source is hostC's address: b drops it */
	n = tunnel_encap(p.a, VNI, f, frame(f, "10.0.0.3", "10.0.0.2", MARKER), pkt, sizeof(pkt), &dst, 0);
	assert_true(n > 0);
	assert_int_equal(tunnel_decap(p.b, p.addr_a, pkt, (size_t)n, out, sizeof(out), &vni, 0), -EPERM);
	/* an inner source nobody owns in this VPC */
	n = tunnel_encap(p.a, VNI, f, frame(f, "10.9.9.9", "10.0.0.2", MARKER), pkt, sizeof(pkt), &dst, 0);
	assert_int_equal(tunnel_decap(p.b, p.addr_a, pkt, (size_t)n, out, sizeof(out), &vni, 0), -EPERM);
	assert_int_equal(st(p.b).rx_spoofed, 2);
	/* the same address in another VPC is another address */
	assert_int_equal(tunnel_map_set(p.a, VNI + 1, ip4("10.0.0.2"), "hostB"), 0);
	n = tunnel_encap(p.a, VNI + 1, f, frame(f, "10.0.0.1", "10.0.0.2", MARKER), pkt, sizeof(pkt), &dst, 0);
	assert_true(n > 0);
	assert_int_equal(tunnel_decap(p.b, p.addr_a, pkt, (size_t)n, out, sizeof(out), &vni, 0), -EPERM);
	/* a genuine packet from an address that is no known host */
	n = seal_ab(&p, pkt, 0);
	assert_int_equal(tunnel_decap(p.b, ip4("198.18.0.9"), pkt, (size_t)n, out, sizeof(out), &vni, 0), -ENOENT);
	assert_int_equal(st(p.b).rx_unknown_peer, 1);
	/* ... and from hostC's address (known, but no key with b) */
	assert_int_equal(tunnel_decap(p.b, ip4("198.18.0.3"), pkt, (size_t)n, out, sizeof(out), &vni, 0), -ENOKEY);
	assert_int_equal(st(p.b).rx_ok, 0);
	pair_free(&p);
}

static void test_send_misses(void **state)
{
	char id[TUNNEL_HOST_ID_MAX + 1];
	struct pair p;
	uint8_t f[256], pkt[512];
	uint32_t dst;
	size_t fl;

	(void)state;
	pair_make(&p, NULL, true);
	fl = frame(f, "10.0.0.1", "10.0.0.77", MARKER);
	assert_int_equal(tunnel_encap(p.a, VNI, f, fl, pkt, sizeof(pkt), &dst, 0), -EHOSTUNREACH);
	assert_int_equal(tunnel_encap(p.a, VNI + 5, f, frame(f, "10.0.0.1", "10.0.0.2", MARKER),
				      pkt, sizeof(pkt), &dst, 0), -EHOSTUNREACH);
	assert_int_equal(st(p.a).tx_unknown_dst, 2);
	fl = frame(f, "10.0.0.2", "10.0.0.1", MARKER);
	assert_int_equal(tunnel_encap(p.a, VNI, f, fl, pkt, sizeof(pkt), &dst, 0), -ELOOP);
	fl = frame(f, "10.0.0.1", "10.0.0.3", MARKER); /* hostC: no key yet */
	assert_int_equal(tunnel_encap(p.a, VNI, f, fl, pkt, sizeof(pkt), &dst, 0), -ENOKEY);
	f[12] = 0x86; /* not IPv4 */
	assert_int_equal(tunnel_encap(p.a, VNI, f, fl, pkt, sizeof(pkt), &dst, 0), -EINVAL);
	fl = frame(f, "10.0.0.1", "10.0.0.2", MARKER);
	assert_int_equal(tunnel_encap(p.a, VNI, f, fl, pkt, fl + TUNNEL_OVERHEAD - 1, &dst, 0), -EMSGSIZE);
	/* the table: delete, unknown host, lookup */
	assert_int_equal(tunnel_map_lookup(p.a, VNI, ip4("10.0.0.2"), id), 0);
	assert_string_equal(id, "hostB");
	assert_int_equal(tunnel_map_lookup(p.a, VNI, ip4("10.0.0.1"), id), 0);
	assert_string_equal(id, "hostA");
	assert_int_equal(tunnel_peer_count(p.a), 2);
	assert_int_equal(tunnel_peer_id(p.a, 1, id), 0);
	assert_string_equal(id, "hostC");
	assert_int_equal(tunnel_peer_id(p.a, 2, id), -ENOENT);
	assert_int_equal(tunnel_map_set(p.a, VNI, ip4("10.0.0.8"), "hostZ"), -ENOENT);
	assert_int_equal(tunnel_map_del(p.a, VNI, ip4("10.0.0.2")), 0);
	assert_int_equal(tunnel_map_lookup(p.a, VNI, ip4("10.0.0.2"), id), -ENOENT);
	assert_int_equal(tunnel_encap(p.a, VNI, f, fl, pkt, sizeof(pkt), &dst, 0), -EHOSTUNREACH);
	/* removing a host drops its mappings */
	assert_int_equal(tunnel_peer_remove(p.a, "hostC"), 0);
	assert_int_equal(tunnel_map_lookup(p.a, VNI, ip4("10.0.0.3"), id), -ENOENT);
	assert_int_equal(st(p.a).tx_ok, 0);
	pair_free(&p);
}

static void test_rotation_grace(void **state)
{
	struct tunnel_cfg c = { .rekey_after_s = 100, .expire_after_s = 200,
				.rekey_after_pkts = 1000, .expire_after_pkts = 1010, .grace_s = 30 };
	uint8_t old1[512], old2[512], pkt[512], m[TUNNEL_KEY_MATERIAL_LEN];
	struct pair p;
	long n1, n2, n;

	(void)state;
	pair_make(&p, &c, false);
	assert_true(tunnel_peer_rekey_due(p.a, "hostB", 0));
	assert_int_equal(seal_ab(&p, pkt, 0), -ENOKEY);
	install(&p, 1, 0x11, 0, true);
	assert_false(tunnel_peer_rekey_due(p.a, "hostB", 99));
	assert_true(tunnel_peer_rekey_due(p.a, "hostB", 100)); /* by time */
	n1 = seal_ab(&p, old1, 50);
	n2 = seal_ab(&p, old2, 50);
	/* Epoch 2 installed on both but not yet activated: sends stay on 1,
	 * and b already accepts 2. */
	install(&p, 2, 0x22, 150, false);
	assert_int_equal(tunnel_peer_epoch(p.a, "hostB"), 2);
	n = seal_ab(&p, pkt, 150);
	assert_memory_equal(pkt + 12, "\x00\x00\x00\x01", 4);
	assert_true(open_b(&p, pkt, (size_t)n, 150) > 0);
	assert_int_equal(tunnel_peer_activate(p.a, "hostB", 2, 150), 0);
	n = seal_ab(&p, pkt, 150);
	assert_memory_equal(pkt + 12, "\x00\x00\x00\x02", 4);
	assert_true(open_b(&p, pkt, (size_t)n, 150) > 0); /* b not activated yet: fine */
	assert_int_equal(tunnel_peer_activate(p.b, "hostA", 2, 160), 0);
	/* Epoch 1 packets still in flight: accepted until b's grace ends. */
	assert_true(open_b(&p, old1, (size_t)n1, 160 + 29) > 0);
	assert_int_equal(open_b(&p, old2, (size_t)n2, 160 + 30), -ENOKEY);
	assert_int_equal(st(p.b).rx_unknown_key, 1);
	/* An epoch never goes back. */
	material(m, 0x33);
	assert_int_equal(tunnel_peer_install(p.b, "hostA", 2, TUNNEL_RESPONDER, m, 170), -ESTALE);
	assert_int_equal(tunnel_peer_install(p.b, "hostA", 1, TUNNEL_RESPONDER, m, 170), -ESTALE);
	/* By packet count: soft limit at 1000, refused from 1010 on. */
	for (int i = 1; i < 1000; i++)
		assert_true(seal_ab(&p, pkt, 170) > 0);
	assert_true(tunnel_peer_rekey_due(p.a, "hostB", 170));
	for (int i = 1000; i < 1010; i++)
		assert_true(seal_ab(&p, pkt, 170) > 0);
	assert_int_equal(seal_ab(&p, pkt, 170), -EKEYEXPIRED);
	/* and by time past the hard limit */
	install(&p, 3, 0x44, 200, true);
	assert_true(seal_ab(&p, pkt, 399) > 0);
	assert_int_equal(seal_ab(&p, pkt, 400), -EKEYEXPIRED);
	assert_int_equal(st(p.a).tx_no_key, 3);
	pair_free(&p);
}

/* A key exchange that failed half-way: b activated epoch 2 (it got a's
 * RDY1) but a never saw b's, so a has 2 installed and still sends under 1.
 * When the next exchange installs 3 on a, b's packets under 2 are still in
 * flight and must open within the grace period. */
static void test_half_failed_rotation(void **state)
{
	struct tunnel_cfg c = { .grace_s = 30 };
	uint8_t f[256], pkt[512], out[512], m[TUNNEL_KEY_MATERIAL_LEN];
	uint32_t dst, vni;
	struct pair p;
	long n;

	(void)state;
	pair_make(&p, &c, true);
	install(&p, 2, 0x22, 100, false);
	assert_int_equal(tunnel_peer_activate(p.b, "hostA", 2, 100), 0);
	n = tunnel_encap(p.b, VNI, f, frame(f, "10.0.0.2", "10.0.0.1", MARKER), pkt, sizeof(pkt), &dst, 100);
	assert_memory_equal(pkt + 12, "\x00\x00\x00\x02", 4);
	material(m, 0x33);
	assert_int_equal(tunnel_peer_install(p.a, "hostB", 3, TUNNEL_INITIATOR, m, 110), 0);
	assert_int_equal(tunnel_decap(p.a, p.addr_b, pkt, (size_t)n, out, sizeof(out), &vni, 110), 34 + strlen(MARKER));
	/* a still sends under 1 until 3 is activated, and b still takes 1 */
	n = seal_ab(&p, pkt, 110);
	assert_memory_equal(pkt + 12, "\x00\x00\x00\x01", 4);
	assert_true(open_b(&p, pkt, (size_t)n, 110) > 0);
	/* the abandoned epoch's grace runs from its replacement */
	n = tunnel_encap(p.b, VNI, f, frame(f, "10.0.0.2", "10.0.0.1", MARKER), pkt, sizeof(pkt), &dst, 140);
	assert_int_equal(tunnel_decap(p.a, p.addr_b, pkt, (size_t)n, out, sizeof(out), &vni, 140), -ENOKEY);
	pair_free(&p);
}

static void test_plaintext_mode(void **state)
{
	struct tunnel_cfg dbg = { .debug_plaintext = true };
	struct pair enc, pl;
	uint8_t pkt[512];
	long n;

	(void)state;
	pair_make(&enc, NULL, true);
	pair_make(&pl, &dbg, false);
	n = seal_ab(&pl, pkt, 0); /* no key needed in debug mode */
	assert_int_equal(n, 8 + 34 + strlen(MARKER));
	assert_memory_equal(pkt, "\x00\x00\x65\x58\x00\xab\xcd\x00", 8);
	assert_true(open_b(&pl, pkt, (size_t)n, 0) > 0);
	/* An encrypting host refuses plaintext, and the other way round. */
	assert_int_equal(open_b(&enc, pkt, (size_t)n, 0), -EPROTO);
	assert_int_equal(st(enc.b).rx_plaintext, 1);
	n = seal_ab(&enc, pkt, 0);
	assert_int_equal(open_b(&pl, pkt, (size_t)n, 0), -EPROTO);
	pair_free(&enc);
	pair_free(&pl);
}

static void test_config(void **state)
{
	struct tunnel_cfg c = { .local_id = "bad id" };
	struct tunnel *t = NULL;

	(void)state;
	assert_int_equal(tunnel_create(&c, &t), -EINVAL);
	c.local_id = "";
	assert_int_equal(tunnel_create(&c, &t), -EINVAL);
	c.local_id = "h";
	c.rekey_after_s = 10;
	c.expire_after_s = 5;
	assert_int_equal(tunnel_create(&c, &t), -EINVAL);
	c.expire_after_s = 0;
	assert_int_equal(tunnel_create(&c, &t), 0);
	assert_int_equal(tunnel_peer_add(t, "h", 1), -EINVAL);
	assert_int_equal(tunnel_peer_add(t, "p", 1), 0);
	assert_int_equal(tunnel_peer_add(t, "p", 2), -EEXIST);
	assert_int_equal(tunnel_peer_add(t, "q", 1), -EEXIST);
	assert_int_equal(tunnel_map_set(t, 1u << 24, 1, "p"), -EINVAL);
	assert_true(tunnel_initiates(t, "p"));   /* "h" < "p" */
	assert_false(tunnel_initiates(t, "a"));
	tunnel_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay_window),
		cmocka_unit_test(test_seal_open),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_replay_and_reorder),
		cmocka_unit_test(test_receive_check),
		cmocka_unit_test(test_send_misses),
		cmocka_unit_test(test_rotation_grace),
		cmocka_unit_test(test_half_failed_rotation),
		cmocka_unit_test(test_plaintext_mode),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
