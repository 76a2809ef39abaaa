/* test_net_filter: ward-net's security groups, conntrack and NACLs, driven
 * with crafted frames through the real data path (dp_input with the filter
 * on its hook): allowed, dropped, replies allowed, a rule removed mid-flow,
 * TCP window violations, invalid flag combinations, ICMP related, fragments,
 * NACL first match and final deny, a full table, idle expiry. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "net/conntrack.h"
#include "net/dp.h"
#include "net/filter.h"
#include "net/frame.h"
#include "net/vpc.h"

static const char model[] =
	"{\"version\":1,\"vpcs\":[{\"id\":\"v\",\"cidr\":\"10.0.0.0/16\"}],"
	"\"subnets\":[{\"id\":\"s1\",\"vpc\":\"v\",\"cidr\":\"10.0.1.0/24\"},"
	"            {\"id\":\"s2\",\"vpc\":\"v\",\"cidr\":\"10.0.2.0/24\"}],"
	"\"security_groups\":["
	" {\"id\":\"sg-client\",\"vpc\":\"v\",\"egress\":[{\"proto\":\"all\",\"cidr\":\"0.0.0.0/0\"}]},"
	" {\"id\":\"sg-web\",\"vpc\":\"v\",\"ingress\":["
	"    {\"proto\":\"tcp\",\"ports\":[80,80],\"cidr\":\"10.0.0.0/16\"},"
	"    {\"proto\":\"udp\",\"ports\":[53,53],\"cidr\":\"10.0.1.0/24\"},"
	"    {\"proto\":\"icmp\",\"icmp\":[8,-1],\"cidr\":\"10.0.0.0/16\"}],"
	"  \"egress\":[{\"proto\":\"all\",\"cidr\":\"0.0.0.0/0\"}]},"
	" {\"id\":\"sg-self\",\"vpc\":\"v\",\"ingress\":[{\"proto\":\"all\",\"sg\":\"sg-self\"}],"
	"  \"egress\":[{\"proto\":\"all\",\"cidr\":\"0.0.0.0/0\"}]}],"
	"\"nacls\":[{\"id\":\"acl-s2\",\"vpc\":\"v\",\"subnets\":[\"s2\"],"
	"  \"ingress\":[{\"rule\":110,\"action\":\"allow\",\"proto\":\"icmp\",\"cidr\":\"10.0.0.0/16\"},"
	"             {\"rule\":90,\"action\":\"deny\",\"proto\":\"icmp\",\"cidr\":\"10.0.1.10/32\"},"
	"             {\"rule\":100,\"action\":\"allow\",\"proto\":\"tcp\",\"ports\":[80,80],\"cidr\":\"10.0.0.0/16\"}],"
	"  \"egress\":[{\"rule\":100,\"action\":\"allow\",\"proto\":\"tcp\",\"ports\":[1024,65535],\"cidr\":\"10.0.0.0/16\"},"
	"            {\"rule\":110,\"action\":\"allow\",\"proto\":\"icmp\",\"cidr\":\"10.0.0.0/16\"}]}],"
	"\"enis\":["
	" {\"id\":\"c\",\"subnet\":\"s1\",\"mac\":\"02:00:00:00:00:0c\",\"ip\":\"10.0.1.10\","
	"  \"security_groups\":[\"sg-client\"],\"conntrack_max\":12},"
	" {\"id\":\"w\",\"subnet\":\"s1\",\"mac\":\"02:00:00:00:00:0d\",\"ip\":\"10.0.1.20\","
	"  \"security_groups\":[\"sg-web\"]},"
	" {\"id\":\"n\",\"subnet\":\"s2\",\"mac\":\"02:00:00:00:00:0e\",\"ip\":\"10.0.2.10\","
	"  \"security_groups\":[\"sg-web\"]},"
	" {\"id\":\"m1\",\"subnet\":\"s1\",\"mac\":\"02:00:00:00:00:0f\",\"ip\":\"10.0.1.30\","
	"  \"security_groups\":[\"sg-self\"]},"
	" {\"id\":\"m2\",\"subnet\":\"s1\",\"mac\":\"02:00:00:00:00:10\",\"ip\":\"10.0.1.31\","
	"  \"security_groups\":[\"sg-self\"]}]}";

enum { C, W, N, M1, M2 };

static struct vpc_cfg cfg;
static struct dp dp;
static struct filter fl;
static unsigned int delivered[VPC_MAX_ENIS];

static int deliver(void *opaque, unsigned int eni, const uint8_t *frame, size_t len)
{
	delivered[eni]++;
	return 0;
}

static int setup(void **s)
{
	char err[256];

	if (vpc_load(model, sizeof(model) - 1, &cfg, err, sizeof(err))) {
		fprintf(stderr, "model: %s\n", err);
		return -1;
	}
	dp_init(&dp, &cfg, deliver, NULL);
	if (filter_init(&fl, &cfg, dp.c))
		return -1;
	dp.filter = filter_check;
	dp.filter_opaque = &fl;
	fl.now = 1000;
	return 0;
}

static int teardown(void **s)
{
	filter_destroy(&fl);
	return 0;
}

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v); }

/* Ethernet + IPv4 from ENI `from` to `to` (routed through the router when
 * they are in different subnets), l4 bytes after the header. */
static size_t frame(uint8_t *b, unsigned int from, unsigned int to, uint8_t proto, uint16_t frag,
		    const uint8_t *l4, size_t l4len)
{
	const struct vpc_eni *s = &cfg.enis[from], *d = &cfg.enis[to];
	uint8_t *ip = b + 14;
	uint16_t c;

	memset(b, 0, 14 + 20);
	memcpy(b, s->subnet == d->subnet ? d->mac : vpc_router_mac, 6);
	memcpy(b + 6, s->mac, 6);
	b[12] = 0x08;
	ip[0] = 0x45;
	put16(ip + 2, (uint32_t)(20 + l4len));
	put16(ip + 6, frag);
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, s->ip);
	put32(ip + 16, d->ip);
	c = frame_csum(ip, 20, 0);
	put16(ip + 10, c);
	memcpy(ip + 20, l4, l4len);
	return 14 + 20 + l4len;
}

/* Send and say whether it was delivered. */
static bool send_frame(unsigned int from, unsigned int to, uint8_t *b, size_t n)
{
	unsigned int before = delivered[to];

	dp_input(&dp, from, b, n);
	return delivered[to] == before + 1;
}

static bool tcp(unsigned int from, unsigned int to, uint16_t sport, uint16_t dport, uint8_t flags,
		uint32_t seq, uint32_t ack, uint16_t win, size_t plen)
{
	uint8_t l4[20 + 1400] = { 0 }, b[1500];

	put16(l4, sport);
	put16(l4 + 2, dport);
	put32(l4 + 4, seq);
	put32(l4 + 8, ack);
	l4[12] = 5 << 4;
	l4[13] = flags;
	put16(l4 + 14, win);
	return send_frame(from, to, b, frame(b, from, to, 6, 0, l4, 20 + plen));
}

static bool udp(unsigned int from, unsigned int to, uint16_t sport, uint16_t dport, uint16_t frag)
{
	uint8_t l4[16] = { 0 }, b[128];

	put16(l4, sport);
	put16(l4 + 2, dport);
	put16(l4 + 4, 16);
	return send_frame(from, to, b, frame(b, from, to, 17, frag, l4, 16));
}

static bool icmp(unsigned int from, unsigned int to, uint8_t type, uint16_t id)
{
	uint8_t l4[8] = { type, 0, 0, 0 }, b[128];

	put16(l4 + 4, id);
	return send_frame(from, to, b, frame(b, from, to, 1, 0, l4, 8));
}

/* Destination unreachable from `from` to `to`, quoting a TCP segment that
 * `to` sent to `from` from port sport to dport. */
static bool icmp_unreach(unsigned int from, unsigned int to, uint16_t sport, uint16_t dport)
{
	uint8_t l4[8 + 28] = { 3, 3 }, b[128], *q = l4 + 8;

	q[0] = 0x45;
	put16(q + 2, 40);
	q[9] = 6;
	put32(q + 12, cfg.enis[to].ip);
	put32(q + 16, cfg.enis[from].ip);
	put16(q + 20, sport);
	put16(q + 22, dport);
	return send_frame(from, to, b, frame(b, from, to, 1, 0, l4, sizeof(l4)));
}

static void test_tcp_flow(void **s)
{
	/* Allowed by sg-web (tcp 80), dropped for 22. */
	assert_true(tcp(C, W, 40000, 80, TCP_SYN, 1000, 0, 65535, 0));
	assert_false(tcp(C, W, 40001, 22, TCP_SYN, 5000, 0, 65535, 0));
	assert_int_equal(dp.c[W].drop_sg, 1);
	/* The reply reaches c, which allows no inbound at all: stateful. */
	assert_true(tcp(W, C, 80, 40000, TCP_SYN | TCP_ACK, 9000, 1001, 65535, 0));
	assert_true(tcp(C, W, 40000, 80, TCP_ACK, 1001, 9001, 65535, 0));
	assert_true(tcp(C, W, 40000, 80, TCP_ACK | TCP_PSH, 1001, 9001, 65535, 100));
	assert_true(tcp(W, C, 80, 40000, TCP_ACK | TCP_PSH, 9001, 1101, 65535, 1000));
	/* Window violations: far beyond what c offered; an ack of data never sent. */
	assert_false(tcp(W, C, 80, 40000, TCP_ACK | TCP_PSH, 9001 + 200000, 1101, 65535, 100));
	assert_int_equal(dp.c[W].drop_ct_invalid, 1);
	assert_false(tcp(C, W, 40000, 80, TCP_ACK, 1101, 9001 + 1000 + 300000, 65535, 0));
	assert_int_equal(dp.c[C].drop_ct_invalid, 1);
	/* Invalid flag combinations, even on the tracked flow. */
	assert_false(tcp(C, W, 40000, 80, TCP_SYN | TCP_FIN, 1101, 0, 65535, 0));
	assert_false(tcp(C, W, 40000, 80, 0, 1101, 0, 65535, 0));
	assert_false(tcp(C, W, 40000, 80, TCP_FIN | TCP_PSH | TCP_URG, 1101, 0, 65535, 0));
	assert_int_equal(dp.c[C].drop_ct_invalid, 4);
	/* Only a lone SYN opens a flow: a stray ACK to port 80 does not. */
	assert_false(tcp(C, W, 40002, 80, TCP_ACK, 1, 1, 65535, 0));
	assert_int_equal(dp.c[C].drop_ct_invalid, 5);
	/* Still fine in window afterwards. */
	assert_true(tcp(W, C, 80, 40000, TCP_ACK, 10001, 1101, 65535, 0));
}

static void test_rule_removed_mid_flow(void **s)
{
	struct vpc_rules saved = cfg.sgs[1].in;

	assert_true(tcp(C, W, 41000, 80, TCP_SYN, 7000, 0, 65535, 0));
	assert_true(tcp(W, C, 80, 41000, TCP_SYN | TCP_ACK, 3000, 7001, 65535, 0));
	assert_true(tcp(C, W, 41000, 80, TCP_ACK, 7001, 3001, 65535, 0));
	/* The tcp 80 rule goes: the tracked flow lives on, a new one is refused. */
	cfg.sgs[1].in.r[0] = cfg.sgs[1].in.r[2];
	cfg.sgs[1].in.n = 2;
	assert_true(tcp(C, W, 41000, 80, TCP_ACK | TCP_PSH, 7001, 3001, 65535, 10));
	assert_true(tcp(W, C, 80, 41000, TCP_ACK, 3001, 7011, 65535, 0));
	assert_false(tcp(C, W, 41001, 80, TCP_SYN, 8000, 0, 65535, 0));
	assert_int_equal(dp.c[W].drop_sg, 2);
	cfg.sgs[1].in = saved;
}

static void test_icmp(void **s)
{
	unsigned int drops = dp.c[C].drop_sg;

	assert_true(icmp(C, W, 8, 77));           /* echo request: sg-web allows type 8 */
	assert_true(icmp(W, C, 0, 77));           /* its reply: tracked */
	assert_false(icmp(W, C, 8, 78));          /* c allows no inbound */
	assert_int_equal(dp.c[C].drop_sg, drops + 1);
	/* An error about c's tracked TCP flow is related; about no flow, not. */
	assert_true(icmp_unreach(W, C, 40000, 80));
	assert_false(icmp_unreach(W, C, 45555, 80));
	assert_int_equal(dp.c[C].drop_sg, drops + 2);
}

static void test_fragments(void **s)
{
	unsigned int drops = dp.c[W].drop_sg;

	assert_true(udp(C, W, 5353, 53, 0x2000));  /* first fragment: has ports */
	assert_false(udp(C, W, 5353, 53, 0x0002)); /* later one: no rule covers every port */
	assert_int_equal(dp.c[W].drop_sg, drops + 1);
}

static void test_default_group_self(void **s)
{
	assert_true(icmp(M2, M1, 8, 1));          /* member to member */
	assert_false(icmp(C, M1, 8, 2));          /* not a member */
	assert_true(tcp(M2, M1, 1234, 9999, TCP_SYN, 1, 0, 100, 0));
}

static void test_nacl(void **s)
{
	unsigned int d = dp.c[N].drop_nacl;

	assert_true(tcp(C, N, 42000, 80, TCP_SYN, 100, 0, 65535, 0));      /* rule 100 */
	assert_true(tcp(N, C, 80, 42000, TCP_SYN | TCP_ACK, 500, 101, 65535, 0)); /* egress 100 */
	assert_false(icmp(C, N, 8, 5));           /* rule 90 denies before 110 allows */
	assert_int_equal(dp.c[N].drop_nacl, d + 1);
	assert_true(icmp(W, N, 8, 6));            /* 110 for everyone else */
	assert_false(udp(C, N, 5353, 53, 0));     /* no rule: the final deny */
	assert_int_equal(dp.c[N].drop_nacl, d + 2);
	/* Stateless: a reply to a low port is not in the egress rules. */
	assert_true(tcp(W, N, 80, 80, TCP_SYN, 1, 0, 100, 0));
	assert_false(tcp(N, W, 80, 80, TCP_SYN | TCP_ACK, 1, 2, 100, 0));
	assert_int_equal(dp.c[N].drop_nacl, d + 3);
}

static void test_table_full_and_expiry(void **s)
{
	unsigned int opened = 0;
	uint16_t port = 50000;

	/* c's table holds 12: fill it, then one more is refused and counted. */
	while (fl.ct[C].count < 12) {
		assert_true(udp(C, W, port++, 53, 0));
		opened++;
	}
	assert_true(opened > 0);
	assert_false(udp(C, W, port, 53, 0));
	assert_int_equal(dp.c[C].conntrack_allowance_exceeded, 1);
	/* Tracked flows still pass while the table is full. */
	assert_true(udp(W, C, 53, (uint16_t)(port - 1), 0));
	/* UDP idles out after 30 s (180 s once answered); TCP established
	 * flows stay for days. */
	fl.now += CT_UDP + 1;
	assert_true(udp(C, W, port, 53, 0));      /* room again */
	assert_false(udp(W, C, 53, (uint16_t)(port - 2), 0));
	assert_true(tcp(W, C, 80, 40000, TCP_ACK, 10001, 1101, 65535, 0));
	fl.now += CT_TCP_ESTABLISHED + 1;
	assert_false(tcp(W, C, 80, 40000, TCP_ACK, 10001, 1101, 65535, 0));
}

/* Flows a guest picks so that the old unkeyed hash (reproduced here as
 * the attacker's model) put all of them in one bucket: with the table's
 * random SipHash key they spread like any others. */
static uint32_t unkeyed_hash(uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp, uint8_t pr,
			     uint32_t nb)
{
	uint64_t h = ((uint64_t)(src ^ dst) << 17) ^ (uint64_t)(src + dst) ^
		     ((uint64_t)(sp ^ dp) << 8) ^ (uint64_t)(sp + dp) ^ pr;

	h *= 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 32) & (nb - 1);
}

static void test_ct_hash_keyed(void **s)
{
	struct ct_table t;
	struct frame f;
	unsigned int picked = 0, longest = 0;

	(void)s;
	assert_int_equal(ct_init(&t, 1024), 0);
	memset(&f, 0, sizeof(f));
	f.l4 = L4_UDP;
	f.ip.proto = 17;
	f.ip.src = 0x0a00010a;
	f.ip.dst = 0x0a000114;
	f.u.udp.dport = 53;
	for (uint32_t sp = 1; sp < 65536 && picked < 48; sp++) {
		if (unkeyed_hash(f.ip.src, f.ip.dst, (uint16_t)sp, 53, 17, t.nbuckets) != 0)
			continue;
		f.u.udp.sport = (uint16_t)sp;
		assert_int_equal(ct_add(&t, &f, 0), 0);
		picked++;
	}
	assert_int_equal(picked, 48);
	for (uint32_t b = 0; b < t.nbuckets; b++) {
		unsigned int n = 0;

		for (uint32_t i = t.bucket[b]; i != UINT32_MAX; i = t.e[i].next)	/* CT_NIL */
			n++;
		if (n > longest)
			longest = n;
	}
	/* 48 flows in 1024 buckets: a chain of 12 has odds below 2^-60. */
	assert_true(longest < 12);
	ct_destroy(&t);
}

int main(void)
{
	/* In order: later cases rely on the flows earlier ones opened. */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ct_hash_keyed),
		cmocka_unit_test(test_tcp_flow),
		cmocka_unit_test(test_rule_removed_mid_flow),
		cmocka_unit_test(test_icmp),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_default_group_self),
		cmocka_unit_test(test_nacl),
		cmocka_unit_test(test_table_full_and_expiry),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
