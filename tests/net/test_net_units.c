/* test_net_units: ward-net's parsers and model, one rule per case — the
 * frame parser's refusals (checksum, source routing, RFC 1858 fragments,
 * lengths, TCP options), the VPC config's validation, and the DHCP server's
 * answers and refusals. The end-to-end path is tests/net/dp_test.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/dhcp.h"
#include "net/frame.h"
#include "net/vpc.h"

static const uint8_t mac_a[6] = { 2, 0, 0, 0, 0, 1 }, mac_b[6] = { 2, 0, 0, 0, 0, 2 };

/* An Ethernet + IPv4 + proto frame with a correct header checksum. */
static size_t ipv4(uint8_t *b, uint8_t proto, const uint8_t *opts, size_t olen, uint16_t frag,
		   const uint8_t *l4, size_t l4len)
{
	size_t ihl = 20 + olen, tot = ihl + l4len;
	uint8_t *ip = b + 14;
	uint16_t c;

	memset(b, 0, 14 + tot);
	memcpy(b, mac_b, 6);
	memcpy(b + 6, mac_a, 6);
	b[12] = 0x08;
	ip[0] = (uint8_t)(0x40 | ihl / 4);
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[6] = (uint8_t)(frag >> 8);
	ip[7] = (uint8_t)frag;
	ip[8] = 64;
	ip[9] = proto;
	ip[12] = 10; ip[13] = 0; ip[14] = 1; ip[15] = 10;
	ip[16] = 10; ip[17] = 0; ip[18] = 2; ip[19] = 10;
	if (olen)
		memcpy(ip + 20, opts, olen);
	memcpy(ip + ihl, l4, l4len);
	c = frame_csum(ip, ihl, 0);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	return 14 + tot;
}

static int parse(const uint8_t *b, size_t n, struct frame *f)
{
	const char *why = NULL;
	int rc = frame_parse(b, n, f, &why);

	if (rc)
		assert_non_null(why);
	return rc;
}

static void test_frame_udp_icmp(void **s)
{
	uint8_t b[128], udp[12] = { 0, 68, 0, 67, 0, 12, 0, 0, 'a', 'b', 'c', 'd' };
	uint8_t icmp[8] = { 8, 0, 0, 0, 0, 7, 0, 1 };
	struct frame f;

	assert_int_equal(parse(b, ipv4(b, 17, NULL, 0, 0, udp, sizeof(udp)), &f), 0);
	assert_int_equal(f.l4, L4_UDP);
	assert_int_equal(f.u.udp.sport, 68);
	assert_int_equal(f.payload_len, 4);
	assert_int_equal(f.ip.src, 0x0a00010a);
	udp[5] = 11;    /* UDP length disagrees with IPv4's */
	assert_int_not_equal(parse(b, ipv4(b, 17, NULL, 0, 0, udp, sizeof(udp)), &f), 0);
	assert_int_equal(parse(b, ipv4(b, 1, NULL, 0, 0, icmp, sizeof(icmp)), &f), 0);
	assert_int_equal(f.u.icmp.type, 8);
	assert_int_equal(f.u.icmp.seq, 1);
	/* Ethernet padding after the IPv4 packet is not part of it. */
	memset(b + 42, 0xee, 18);
	assert_int_equal(parse(b, 60, &f), 0);
	assert_int_equal(f.len, 42);
}

static void test_frame_ipv4_refusals(void **s)
{
	uint8_t b[128], icmp[8] = { 8 }, lsrr[8] = { 131, 7, 4, 0, 0, 0, 0, 0 }, nop[4] = { 1, 1, 1, 0 };
	uint8_t badopt[4] = { 68, 9, 0, 0 };
	struct frame f;
	size_t n;

	n = ipv4(b, 1, NULL, 0, 0, icmp, 8);
	b[14 + 10] ^= 1;                                   /* header checksum */
	assert_int_not_equal(parse(b, n, &f), 0);
	assert_int_not_equal(parse(b, ipv4(b, 1, lsrr, 8, 0, icmp, 8), &f), 0);  /* source route */
	assert_int_not_equal(parse(b, ipv4(b, 1, badopt, 4, 0, icmp, 8), &f), 0); /* runs past */
	assert_int_equal(parse(b, ipv4(b, 1, nop, 4, 0, icmp, 8), &f), 0);
	assert_true(f.ip.has_options);
	n = ipv4(b, 1, NULL, 0, 0, icmp, 8);
	assert_int_not_equal(parse(b, n - 1, &f), 0);      /* total length past the frame */
	b[14] = 0x55;                                       /* version 5 */
	assert_int_not_equal(parse(b, n, &f), 0);
	n = ipv4(b, 1, NULL, 0, 0, icmp, 8);
	b[14 + 12] = 127;                                   /* loopback source */
	b[14 + 10] = b[14 + 11] = 0;
	{
		uint16_t c = frame_csum(b + 14, 20, 0);

		b[24] = (uint8_t)(c >> 8);
		b[25] = (uint8_t)c;
	}
	assert_int_not_equal(parse(b, n, &f), 0);
	b[12] = 0x81;                                       /* VLAN tag */
	b[13] = 0x00;
	assert_int_equal(parse(b, n, &f), -EPROTONOSUPPORT);
	assert_int_not_equal(parse(b, 13, &f), 0);
	memset(b, 0, 14);
	b[6] = 1;                                           /* multicast source MAC */
	b[12] = 0x08;
	assert_int_not_equal(parse(b, 14, &f), 0);
}

static void test_frame_fragments(void **s)
{
	uint8_t b[128], tcp[24] = { 0 }, data[16] = { 0 };
	struct frame f;

	tcp[12] = 5 << 4;
	/* First fragment (MF) that holds only part of a TCP header: RFC 1858. */
	assert_int_not_equal(parse(b, ipv4(b, 6, NULL, 0, 0x2000, tcp, 16), &f), 0);
	/* TCP fragment at offset 8 could rewrite the flags: refused. */
	assert_int_not_equal(parse(b, ipv4(b, 6, NULL, 0, 1, data, 16), &f), 0);
	/* A later fragment: no ports, marked as a fragment. */
	assert_int_equal(parse(b, ipv4(b, 6, NULL, 0, 3, data, 16), &f), 0);
	assert_true(f.ip.fragment);
	assert_int_equal(f.l4, L4_NONE);
	/* DF with MF; a non-final fragment not a multiple of 8. */
	assert_int_not_equal(parse(b, ipv4(b, 17, NULL, 0, 0x6000, data, 16), &f), 0);
	assert_int_not_equal(parse(b, ipv4(b, 17, NULL, 0, 0x2003, data, 12), &f), 0);
	/* Ending past 65535. */
	assert_int_not_equal(parse(b, ipv4(b, 17, NULL, 0, 0x1fff, data, 16), &f), 0);
}

static void test_frame_tcp_options(void **s)
{
	uint8_t b[128], tcp[32] = { 0 };
	struct frame f;

	tcp[12] = 8 << 4;
	tcp[13] = TCP_SYN;
	tcp[20] = 2; tcp[21] = 4; tcp[22] = 0x23; tcp[23] = 0x28;   /* MSS 9000 */
	tcp[24] = 1;
	tcp[25] = 3; tcp[26] = 3; tcp[27] = 20;                       /* wscale 20 -> 14 */
	tcp[28] = 4; tcp[29] = 2; tcp[30] = 0; tcp[31] = 0;
	assert_int_equal(parse(b, ipv4(b, 6, NULL, 0, 0, tcp, 32), &f), 0);
	assert_int_equal(f.u.tcp.mss, 9000);
	assert_int_equal(f.u.tcp.wscale, 14);
	assert_true(f.u.tcp.sack_ok);
	tcp[29] = 9;                                                 /* option past the header */
	assert_int_not_equal(parse(b, ipv4(b, 6, NULL, 0, 0, tcp, 32), &f), 0);
	tcp[12] = 9 << 4;                                            /* data offset past the segment */
	assert_int_not_equal(parse(b, ipv4(b, 6, NULL, 0, 0, tcp, 32), &f), 0);
}

static void test_frame_arp(void **s)
{
	uint8_t b[60] = { 0 };
	struct frame f;
	size_t n = frame_build_arp_reply(b, sizeof(b), mac_a, 0x0a000101, mac_b, 0x0a00010a);

	assert_int_equal(n, 60);
	assert_int_equal(parse(b, n, &f), 0);
	assert_int_equal(f.kind, FRAME_ARP);
	assert_int_equal(f.arp.op, ARP_OP_REPLY);
	assert_int_equal(f.arp.spa, 0x0a000101);
	assert_memory_equal(f.arp.sha, mac_a, 6);
	b[14 + 7] = 9;                                               /* unknown op */
	assert_int_not_equal(parse(b, n, &f), 0);
	assert_int_not_equal(parse(b, 14 + 27, &f), 0);
}

static const char *cfg_head =
	"{\"version\":1,\"vpcs\":[{\"id\":\"v\",\"cidr\":\"10.0.0.0/16\"}],"
	"\"security_groups\":[{\"id\":\"g\",\"vpc\":\"v\"}],"
	"\"subnets\":[{\"id\":\"s\",\"vpc\":\"v\",\"cidr\":\"10.0.1.0/24\"}";

static int load(const char *tail, struct vpc_cfg *c, char *err)
{
	char doc[2048];

	snprintf(doc, sizeof(doc), "%s%s", cfg_head, tail);
	return vpc_load(doc, strlen(doc), c, err, 256);
}

static void test_vpc_load(void **s)
{
	static struct vpc_cfg c;
	char err[256];

	assert_int_equal(load("],\"enis\":[{\"id\":\"e\",\"subnet\":\"s\",\"security_groups\":[\"g\"],\"mac\":\"02:00:00:00:00:01\","
			      "\"ip\":\"10.0.1.4\",\"secondary_ips\":[\"10.0.1.5\"]}]}", &c, err), 0);
	assert_int_equal(c.n_enis, 1);
	assert_true(c.enis[0].src_dst_check);
	assert_int_equal(c.enis[0].mtu, 9001);
	assert_true(vpc_eni_owns(&c.enis[0], 0x0a000105));
	assert_int_equal(vpc_dns_ip(&c.vpcs[0]), 0x0a000002);
	/* Reserved: .3 and the broadcast address. */
	assert_int_not_equal(load("],\"enis\":[{\"id\":\"e\",\"subnet\":\"s\",\"security_groups\":[\"g\"],\"mac\":\"02:00:00:00:00:01\","
				  "\"ip\":\"10.0.1.3\"}]}", &c, err), 0);
	assert_non_null(strstr(err, "reserved"));
	assert_int_not_equal(load("],\"enis\":[{\"id\":\"e\",\"subnet\":\"s\",\"security_groups\":[\"g\"],\"mac\":\"02:00:00:00:00:01\","
				  "\"ip\":\"10.0.1.255\"}]}", &c, err), 0);
	/* Another ENI's address; the router's MAC; a multicast MAC. */
	assert_int_not_equal(load("],\"enis\":[{\"id\":\"e\",\"subnet\":\"s\",\"security_groups\":[\"g\"],\"mac\":\"02:00:00:00:00:01\","
				  "\"ip\":\"10.0.1.9\"},{\"id\":\"f\",\"subnet\":\"s\",\"security_groups\":[\"g\"],\"mac\":\"02:00:00:00:00:02\","
				  "\"ip\":\"10.0.1.9\"}]}", &c, err), 0);
	assert_non_null(strstr(err, "already"));
	assert_int_not_equal(load("],\"enis\":[{\"id\":\"e\",\"subnet\":\"s\",\"security_groups\":[\"g\"],\"mac\":\"02:77:61:72:64:01\","
				  "\"ip\":\"10.0.1.9\"}]}", &c, err), 0);
	assert_int_not_equal(load("],\"enis\":[{\"id\":\"e\",\"subnet\":\"s\",\"security_groups\":[\"g\"],\"mac\":\"03:00:00:00:00:01\","
				  "\"ip\":\"10.0.1.9\"}]}", &c, err), 0);
	/* A misspelt key is refused, not ignored. */
	assert_int_not_equal(load("],\"enis\":[{\"id\":\"e\",\"subnet\":\"s\",\"security_groups\":[\"g\"],\"mac\":\"02:00:00:00:00:01\","
				  "\"ip\":\"10.0.1.9\",\"source_dst_check\":false}]}", &c, err), 0);
	assert_non_null(strstr(err, "source_dst_check"));
	/* Overlapping subnets; a subnet outside its VPC; host bits set. */
	assert_int_not_equal(load(",{\"id\":\"t\",\"vpc\":\"v\",\"cidr\":\"10.0.1.0/25\"}],\"enis\":[]}", &c, err), 0);
	assert_non_null(strstr(err, "overlaps"));
	assert_int_not_equal(load(",{\"id\":\"t\",\"vpc\":\"v\",\"cidr\":\"10.1.1.0/24\"}],\"enis\":[]}", &c, err), 0);
	assert_int_not_equal(load(",{\"id\":\"t\",\"vpc\":\"v\",\"cidr\":\"10.0.2.1/24\"}],\"enis\":[]}", &c, err), 0);
	assert_int_not_equal(load("],\"enis\":[{\"id\":\"e\",\"subnet\":\"s\",\"security_groups\":[\"g\"],\"mac\":\"02:00:00:00:00:01\","
				  "\"ip\":\"10.0.1.9\",\"mtu\":1400}]}", &c, err), 0);
	assert_int_not_equal(vpc_load("{", 1, &c, err, sizeof(err)), 0);
	/* Every ENI is in 1-5 groups, which exist. */
	{
		char doc[1024];

		snprintf(doc, sizeof(doc), "%s],\"enis\":[{\"id\":\"e\",\"subnet\":\"s\","
			 "\"mac\":\"02:00:00:00:00:01\",\"ip\":\"10.0.1.9\"}]}", cfg_head);
		assert_int_not_equal(vpc_load(doc, strlen(doc), &c, err, sizeof(err)), 0);
		assert_non_null(strstr(err, "security_groups"));
		snprintf(doc, sizeof(doc), "%s],\"enis\":[{\"id\":\"e\",\"subnet\":\"s\","
			 "\"security_groups\":[\"nope\"],\"mac\":\"02:00:00:00:00:01\",\"ip\":\"10.0.1.9\"}]}",
			 cfg_head);
		assert_int_not_equal(vpc_load(doc, strlen(doc), &c, err, sizeof(err)), 0);
	}
}

static size_t dhcp_msg(uint8_t *m, uint8_t type, const uint8_t *extra, size_t elen)
{
	memset(m, 0, 300);
	m[0] = 1; m[1] = 1; m[2] = 6;
	m[4] = 0xde; m[7] = 0xef;
	memcpy(m + 28, mac_a, 6);
	m[236] = 0x63; m[237] = 0x82; m[238] = 0x53; m[239] = 0x63;
	m[240] = 53; m[241] = 1; m[242] = type;
	if (elen)
		memcpy(m + 243, extra, elen);
	m[243 + elen] = 255;
	return 244 + elen;
}

static void test_dhcp(void **s)
{
	struct dhcp_lease l = { .ip = 0x0a00010a, .mask = 0xffffff00, .router = 0x0a000101,
				.dns = 0x0a000002, .mtu = 9001, .lease_secs = 3600 };
	uint8_t m[300], out[DHCP_MAX_REPLY], want_ip[6] = { 50, 4, 10, 0, 1, 10 };
	uint8_t other_ip[6] = { 50, 4, 10, 0, 1, 99 }, other_srv[6] = { 54, 4, 10, 9, 9, 9 };
	uint8_t overload[3] = { 52, 1, 3 }, runs[2] = { 12, 200 };
	struct dhcp_reply r;
	const char *why;
	size_t n;

	memcpy(l.mac, mac_a, 6);
	assert_int_equal(dhcp_handle(&l, m, dhcp_msg(m, 1, NULL, 0), out, &r, &why), 1);
	assert_int_equal(r.msg_type, 2);
	assert_int_equal(out[0], 2);
	assert_memory_equal(out + 4, m + 4, 4);                      /* xid echoed */
	assert_int_equal(out[16], 10);
	assert_int_equal(out[19], 10);                               /* yiaddr */
	assert_int_equal(dhcp_handle(&l, m, dhcp_msg(m, 3, want_ip, 6), out, &r, &why), 1);
	assert_int_equal(r.msg_type, 5);
	assert_int_equal(dhcp_handle(&l, m, dhcp_msg(m, 3, other_ip, 6), out, &r, &why), 1);
	assert_int_equal(r.msg_type, 6);
	assert_int_equal(dhcp_handle(&l, m, dhcp_msg(m, 3, other_srv, 6), out, &r, &why), 0);
	assert_int_equal(dhcp_handle(&l, m, dhcp_msg(m, 7, NULL, 0), out, &r, &why), 0);   /* RELEASE */
	assert_int_equal(dhcp_handle(&l, m, dhcp_msg(m, 2, NULL, 0), out, &r, &why), -EINVAL); /* OFFER from a client */
	assert_int_equal(dhcp_handle(&l, m, dhcp_msg(m, 1, overload, 3), out, &r, &why), -EINVAL);
	assert_int_equal(dhcp_handle(&l, m, dhcp_msg(m, 1, runs, 2), out, &r, &why), -EINVAL);
	n = dhcp_msg(m, 1, NULL, 0);
	m[n - 1] = 0;                                                /* no end option */
	assert_int_equal(dhcp_handle(&l, m, n, out, &r, &why), -EINVAL);
	n = dhcp_msg(m, 1, NULL, 0);
	m[33] ^= 1;                                                  /* someone else's chaddr */
	assert_int_equal(dhcp_handle(&l, m, n, out, &r, &why), -EINVAL);
	assert_int_equal(dhcp_handle(&l, m, 239, out, &r, &why), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_udp_icmp),
		cmocka_unit_test(test_frame_ipv4_refusals),
		cmocka_unit_test(test_frame_fragments),
		cmocka_unit_test(test_frame_tcp_options),
		cmocka_unit_test(test_frame_arp),
		cmocka_unit_test(test_vpc_load),
		cmocka_unit_test(test_dhcp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
