/* frame: strict parser and small builders for the frames ward-net switches
 * (see frame.h). Guests are untrusted: every length is checked against what
 * is really there before a byte is read, and anything ambiguous (a bad
 * header checksum, source routing, a tiny or overlapping fragment, TCP
 * options that run past the header) is refused rather than interpreted. */
#include "frame.h"

#include <errno.h>
#include <string.h>

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

uint16_t frame_csum(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	size_t even = len & ~(size_t)1, i;
	uint64_t s = sum;

	/* Indices, not a moving pointer: each read is checked against the
	 * length where it happens (docs/proofs.md). */
	for (i = 0; i < even; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[even] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

bool frame_mac_is_multicast(const uint8_t mac[6]) { return mac[0] & 1; }

bool frame_mac_is_broadcast(const uint8_t mac[6])
{
	static const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	return !memcmp(mac, bc, 6);
}

#define FAIL(reason) do { *why = (reason); return -EINVAL; } while (0)

static int parse_arp(struct frame *f, const uint8_t *p, size_t len, const char **why)
{
	/* Ethernet/IPv4 ARP only (RFC 826): 28 bytes; trailing padding is fine. */
	if (len < 28)
		FAIL("arp: truncated");
	if (rd16(p) != 1 || rd16(p + 2) != ETHERTYPE_IPV4 || p[4] != 6 || p[5] != 4)
		FAIL("arp: not Ethernet/IPv4");
	f->arp.op = rd16(p + 6);
	if (f->arp.op != ARP_OP_REQUEST && f->arp.op != ARP_OP_REPLY)
		FAIL("arp: unknown operation");
	memcpy(f->arp.sha, p + 8, 6);
	f->arp.spa = rd32(p + 14);
	memcpy(f->arp.tha, p + 18, 6);
	f->arp.tpa = rd32(p + 24);
	if (frame_mac_is_multicast(f->arp.sha))
		FAIL("arp: multicast sender address");
	f->kind = FRAME_ARP;
	return 0;
}

/* IPv4 options (RFC 791): well formed, and no source routing or record
 * route, which would let a guest steer or observe the VPC's path. The
 * option walks read the length byte once into olen and check the option's
 * end, i + olen, against len (len is at most 40, so nothing wraps): each
 * read's bound is then a check on its own index (docs/proofs.md). */
static int check_ip_options(const uint8_t *o, size_t len, const char **why)
{
	size_t i = 0, olen, end;

	while (i < len) {
		uint8_t type = o[i];

		if (type == 0)          /* end of list: the rest is padding */
			return 0;
		if (type == 1) {        /* no-op */
			i++;
			continue;
		}
		if (i + 1 >= len)
			FAIL("ipv4: malformed option");
		olen = o[i + 1];
		if (olen < 2)
			FAIL("ipv4: malformed option");
		end = i + olen;
		if (end > len)
			FAIL("ipv4: malformed option");
		if (type == 131 || type == 137 || type == 7)
			FAIL("ipv4: source route or record route option");
		i = end;
	}
	return 0;
}

static int parse_tcp_options(struct frame_tcp *t, const uint8_t *o, size_t len, const char **why)
{
	size_t i = 0, olen, end;

	while (i < len) {
		uint8_t kind = o[i];

		if (kind == 0)
			return 0;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			FAIL("tcp: malformed option");
		olen = o[i + 1];
		if (olen < 2)
			FAIL("tcp: malformed option");
		end = i + olen;
		if (end > len)
			FAIL("tcp: malformed option");
		/* An option's value is read back from its end (o[end - 2] is
		 * o[i + 2] for the 4-byte MSS, o[end - 1] for the 3-byte
		 * window scale). */
		if (kind == 2) {
			if (olen != 4)
				FAIL("tcp: bad MSS option");
			t->mss = rd16(o + end - 2);
		} else if (kind == 3) {
			if (olen != 3)
				FAIL("tcp: bad window scale option");
			/* RFC 7323 §2.3: larger shifts are treated as 14. */
			t->wscale = o[end - 1] > 14 ? 14 : o[end - 1];
		} else if (kind == 4) {
			if (olen != 2)
				FAIL("tcp: bad SACK-permitted option");
			t->sack_ok = true;
		}
		i = end;
	}
	return 0;
}

/* The quoted IPv4 header and the first 8 bytes after it (RFC 792). */
static int parse_icmp_inner(struct frame_icmp *ic, const uint8_t *p, size_t len, const char **why)
{
	size_t ihl;

	if (len < 28 || p[0] >> 4 != 4)
		FAIL("icmp: error without the quoted IPv4 header");
	ihl = (size_t)(p[0] & 0xf) * 4;
	if (ihl < 20 || ihl + 8 > len)
		FAIL("icmp: quoted header truncated");
	ic->inner = true;
	ic->in_proto = p[9];
	ic->in_src = rd32(p + 12);
	ic->in_dst = rd32(p + 16);
	if (ic->in_proto == IPPROTO_TCP_ || ic->in_proto == IPPROTO_UDP_) {
		ic->in_sport = rd16(p + ihl);
		ic->in_dport = rd16(p + ihl + 2);
	} else if (ic->in_proto == IPPROTO_ICMP_) {
		if (p[ihl] != 8)
			FAIL("icmp: error about something other than an echo request");
		ic->in_sport = rd16(p + ihl + 4);
	}
	return 0;
}

static int parse_l4(struct frame *f, const uint8_t *p, size_t len, const char **why)
{
	switch (f->ip.proto) {
	case IPPROTO_ICMP_:
		if (len < 8)
			FAIL("icmp: truncated");
		f->u.icmp.type = p[0];
		f->u.icmp.code = p[1];
		f->u.icmp.id = rd16(p + 4);
		f->u.icmp.seq = rd16(p + 6);
		if ((p[0] == 3 || p[0] == 11 || p[0] == 12) && parse_icmp_inner(&f->u.icmp, p + 8, len - 8, why))
			return -EINVAL;
		f->l4 = L4_ICMP;
		f->payload_off = f->l4_off + 8;
		break;
	case IPPROTO_UDP_:
		if (len < 8)
			FAIL("udp: truncated");
		f->u.udp.sport = rd16(p);
		f->u.udp.dport = rd16(p + 2);
		f->u.udp.len = rd16(p + 4);
		/* Unfragmented: the UDP length is exactly what IPv4 carries. */
		if (!f->ip.fragment && f->u.udp.len != len)
			FAIL("udp: length disagrees with the IPv4 length");
		if (f->u.udp.len < 8)
			FAIL("udp: length below header");
		f->l4 = L4_UDP;
		f->payload_off = f->l4_off + 8;
		break;
	case IPPROTO_TCP_: {
		struct frame_tcp *t = &f->u.tcp;

		if (len < 20)
			FAIL("tcp: truncated");
		t->sport = rd16(p);
		t->dport = rd16(p + 2);
		t->seq = rd32(p + 4);
		t->ack = rd32(p + 8);
		t->doff = (uint8_t)((p[12] >> 4) * 4);
		t->flags = p[13];
		t->win = rd16(p + 14);
		t->wscale = 0xff;
		if (t->doff < 20 || t->doff > len)
			FAIL("tcp: bad data offset");
		if (parse_tcp_options(t, p + 20, t->doff - 20u, why))
			return -EINVAL;
		f->l4 = L4_TCP;
		f->payload_off = f->l4_off + t->doff;
		break;
	}
	default:
		f->l4 = L4_OTHER;
		f->payload_off = f->l4_off;
		break;
	}
	f->payload_len = f->len - f->payload_off;
	return 0;
}

static int parse_ipv4(struct frame *f, const uint8_t *p, size_t len, const char **why)
{
	struct frame_ipv4 *ip = &f->ip;
	uint16_t fo;
	size_t min_l4;

	if (len < 20)
		FAIL("ipv4: truncated header");
	if (p[0] >> 4 != 4)
		FAIL("ipv4: version is not 4");
	ip->ihl = (uint8_t)((p[0] & 0xf) * 4);
	ip->tos = p[1];
	ip->total_len = rd16(p + 2);
	ip->id = rd16(p + 4);
	fo = rd16(p + 6);
	ip->ttl = p[8];
	ip->proto = p[9];
	ip->src = rd32(p + 12);
	ip->dst = rd32(p + 16);
	if (ip->ihl < 20 || ip->ihl > len)
		FAIL("ipv4: bad header length");
	/* For Eva: each header length on its own, so the transport header's
	 * place in the frame is exact (docs/proofs.md). */
	//@ split ip->ihl;
	if (ip->total_len < ip->ihl || ip->total_len > len)
		FAIL("ipv4: total length disagrees with the frame");
	if (ip->total_len > FRAME_MAX_MTU)
		FAIL("ipv4: larger than the MTU");
	if (frame_csum(p, ip->ihl, 0) != 0)
		FAIL("ipv4: bad header checksum");
	if (fo & 0x8000)
		FAIL("ipv4: reserved flag set");
	ip->df = fo & 0x4000;
	ip->mf = fo & 0x2000;
	ip->frag_off = (uint16_t)((fo & 0x1fff) * 8);
	ip->fragment = ip->mf || ip->frag_off;
	if (ip->df && ip->fragment)
		FAIL("ipv4: fragment with DF set");
	if ((uint32_t)ip->frag_off + ip->total_len - ip->ihl > 65535)
		FAIL("ipv4: fragment ends past 65535");
	if (ip->mf && (ip->total_len - ip->ihl) % 8)
		FAIL("ipv4: non-final fragment not a multiple of 8");
	if (ip->total_len == ip->ihl && ip->fragment)
		FAIL("ipv4: empty fragment");
	/* RFC 1858: a fragment at offset 8 can rewrite a TCP header's flags. */
	if (ip->proto == IPPROTO_TCP_ && ip->frag_off == 8)
		FAIL("ipv4: TCP fragment at offset 8 (RFC 1858)");
	if ((ip->src >> 24) == 127 || (ip->dst >> 24) == 127 || (ip->src >> 28) == 0xe ||
	    ip->src == 0xffffffffu)
		FAIL("ipv4: loopback or multicast/broadcast source");
	ip->has_options = ip->ihl > 20;
	if (ip->has_options && check_ip_options(p + 20, ip->ihl - 20u, why))
		return -EINVAL;
	f->len = f->l3_off + ip->total_len;      /* drop Ethernet padding */
	f->l4_off = f->l3_off + ip->ihl;
	f->kind = FRAME_IPV4;
	if (ip->frag_off) {
		f->l4 = L4_NONE;                  /* no ports: filters see the fragment as such */
		f->payload_off = f->l4_off;
		f->payload_len = f->len - f->payload_off;
		return 0;
	}
	/* RFC 1858: a first fragment must hold the whole transport header. */
	min_l4 = ip->proto == IPPROTO_TCP_ ? 20 : (ip->proto == IPPROTO_UDP_ || ip->proto == IPPROTO_ICMP_) ? 8 : 0;
	if (ip->mf && (size_t)(ip->total_len - ip->ihl) < min_l4)
		FAIL("ipv4: first fragment shorter than the transport header");
	return parse_l4(f, p + ip->ihl, ip->total_len - ip->ihl, why);
}

int frame_parse(const uint8_t *buf, size_t len, struct frame *f, const char **why)
{
	memset(f, 0, sizeof(*f));
	f->buf = buf;
	f->len = len;
	if (len < FRAME_MIN_LEN)
		FAIL("ethernet: shorter than a header");
	if (len > FRAME_MAX_LEN)
		FAIL("ethernet: longer than the MTU allows");
	memcpy(f->dst, buf, 6);
	memcpy(f->src, buf + 6, 6);
	f->ethertype = rd16(buf + 12);
	f->l3_off = FRAME_ETH_HLEN;
	if (frame_mac_is_multicast(f->src))
		FAIL("ethernet: multicast source address");
	if (f->ethertype == ETHERTYPE_ARP)
		return parse_arp(f, buf + 14, len - 14, why);
	if (f->ethertype == ETHERTYPE_IPV4)
		return parse_ipv4(f, buf + 14, len - 14, why);
	*why = f->ethertype == 0x8100 || f->ethertype == 0x88a8 ? "ethernet: VLAN tags are not carried"
								 : "ethernet: unsupported ethertype";
	return -EPROTONOSUPPORT;
}

void frame_set_macs(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6])
{
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
}

static void put_eth(uint8_t *out, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
	frame_set_macs(out, dst, src);
	wr16(out + 12, type);
}

size_t frame_build_arp_reply(uint8_t *out, size_t cap, const uint8_t src_mac[6], uint32_t src_ip,
			     const uint8_t dst_mac[6], uint32_t dst_ip)
{
	/* Padded to the 60-byte Ethernet minimum, as a NIC would. */
	if (cap < 60)
		return 0;
	memset(out, 0, 60);
	put_eth(out, dst_mac, src_mac, ETHERTYPE_ARP);
	wr16(out + 14, 1);
	wr16(out + 16, ETHERTYPE_IPV4);
	out[18] = 6;
	out[19] = 4;
	wr16(out + 20, ARP_OP_REPLY);
	memcpy(out + 22, src_mac, 6);
	wr32(out + 28, src_ip);
	memcpy(out + 32, dst_mac, 6);
	wr32(out + 38, dst_ip);
	return 60;
}

size_t frame_build_udp(uint8_t *out, size_t cap, const uint8_t src_mac[6], const uint8_t dst_mac[6],
		       uint32_t src_ip, uint32_t dst_ip, uint16_t sport, uint16_t dport,
		       uint8_t ttl, const void *payload, size_t plen)
{
	size_t total = 14 + 20 + 8 + plen;
	uint8_t *ip = out + 14, *udp = out + 34, pseudo[12];
	uint32_t sum;
	uint16_t c;

	if (plen > FRAME_MAX_MTU - 28 || cap < total || cap < 60)
		return 0;
	put_eth(out, dst_mac, src_mac, ETHERTYPE_IPV4);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	wr16(ip + 2, (uint16_t)(20 + 8 + plen));
	ip[8] = ttl;
	ip[9] = IPPROTO_UDP_;
	wr32(ip + 12, src_ip);
	wr32(ip + 16, dst_ip);
	wr16(ip + 10, frame_csum(ip, 20, 0));
	wr16(udp, sport);
	wr16(udp + 2, dport);
	wr16(udp + 4, (uint16_t)(8 + plen));
	wr16(udp + 6, 0);
	memcpy(udp + 8, payload, plen);
	/* RFC 768 pseudo-header checksum; 0 is sent as 0xffff. */
	wr32(pseudo, src_ip);
	wr32(pseudo + 4, dst_ip);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_UDP_;
	wr16(pseudo + 10, (uint16_t)(8 + plen));
	sum = (uint16_t)~frame_csum(pseudo, sizeof(pseudo), 0);
	c = frame_csum(udp, 8 + plen, sum);
	wr16(udp + 6, c ? c : 0xffff);
	return total < 60 ? (memset(out + total, 0, 60 - total), 60) : total;
}
