/* guest/lib/inet.c: Ethernet, ARP, IPv4, ICMP echo, UDP and a DHCP client
 * for the guest kit (see inet.h). Every received header is bounds-checked
 * against the frame length and every checksum verified before use: the
 * stack is also what checks that a card delivers intact packets. */
#include "inet.h"
#include "console.h"
#include "io.h"
#include "mem.h"
#include "tcp.h"

static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

#define DHCP_MAGIC	0x63825363u
#define BOOTP_FIXED	236

void inet_init(struct inet *s, struct vnet *dev, uint64_t tsc_khz)
{
	memset(s, 0, sizeof(*s));
	s->dev = dev;
	memcpy(s->mac, dev->mac, 6);
	s->tsc_khz = tsc_khz;
	s->ip_id = (uint16_t)rdtsc();
	s->mtu = 576;			/* until a lease says otherwise */
}

uint64_t inet_deadline(const struct inet *s, uint64_t ms)
{
	return rdtsc() + ms * s->tsc_khz;
}

uint32_t inet_sum(const void *p, uint32_t len, uint32_t sum)
{
	const uint8_t *b = p;

	for (; len >= 2; b += 2, len -= 2)
		sum += (uint32_t)b[0] << 8 | b[1];
	if (len)
		sum += (uint32_t)b[0] << 8;
	return sum;
}

uint16_t inet_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t inet_l4_csum(uint32_t src, uint32_t dst, uint8_t proto, const void *seg, uint32_t len)
{
	uint32_t sum = 0;

	sum = inet_sum(&src, 4, sum);
	sum = inet_sum(&dst, 4, sum);
	sum += proto + len;
	return inet_fold(inet_sum(seg, len, sum));
}

uint32_t inet_aton(const char *str)
{
	uint32_t v = 0, part = 0;
	int dots = 0, digits = 0;

	for (;; str++) {
		if (*str >= '0' && *str <= '9') {
			part = part * 10 + (uint32_t)(*str - '0');
			if (part > 255 || ++digits > 3)
				return 0;
		} else if ((*str == '.' || !*str) && digits) {
			v = v << 8 | part;
			part = 0;
			digits = 0;
			if (!*str)
				break;
			if (++dots > 3)
				return 0;
		} else {
			return 0;
		}
	}
	return dots == 3 ? htonl(v) : 0;
}

const char *inet_ntoa(uint32_t ip, char *buf)
{
	const uint8_t *b = (const uint8_t *)&ip;

	snprintf(buf, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
	return buf;
}

uint32_t inet_next_hop(const struct inet *s, uint32_t dst)
{
	return ((dst ^ s->l.ip) & s->l.mask) ? s->l.router : dst;
}

static int send_frame(struct inet *s, uint32_t len)
{
	uint64_t until = inet_deadline(s, 1000);

	/* A full tx ring only waits for the device: bounded, then an error. */
	while (vnet_send(s->dev, s->tx, len) < 0) {
		if (inet_expired(until))
			return -1;
		cpu_relax();
	}
	s->st.tx_frames++;
	return 0;
}

static void eth_header(struct inet *s, const uint8_t *dmac, uint16_t type)
{
	memcpy(s->tx, dmac, 6);
	memcpy(s->tx + 6, s->mac, 6);
	s->tx[12] = (uint8_t)(type >> 8);
	s->tx[13] = (uint8_t)type;
}

uint8_t *inet_ip_begin(struct inet *s, const uint8_t *dmac, uint32_t dst, uint8_t proto)
{
	uint8_t *ip = s->tx + ETH_HLEN;

	eth_header(s, dmac, ETHERTYPE_IP);
	ip[0] = 0x45;
	ip[1] = 0;
	ip[6] = 0x40;		/* DF: we never fragment */
	ip[7] = 0;
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, &s->l.ip, 4);
	memcpy(ip + 16, &dst, 4);
	return ip + IP_HLEN;
}

int inet_send_ip(struct inet *s, uint32_t payload_len)
{
	uint8_t *ip = s->tx + ETH_HLEN;
	uint16_t tot = (uint16_t)(IP_HLEN + payload_len), id = s->ip_id++, c;

	if (IP_HLEN + payload_len > s->mtu)
		return -1;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[4] = (uint8_t)(id >> 8);
	ip[5] = (uint8_t)id;
	ip[10] = ip[11] = 0;
	c = inet_fold(inet_sum(ip, IP_HLEN, 0));
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	return send_frame(s, ETH_HLEN + tot);
}

/* --- ARP --- */

static void arp_learn(struct inet *s, uint32_t ip, const uint8_t *mac)
{
	for (unsigned int i = 0; i < ARP_CACHE; i++) {
		if (s->arp[i].ip == ip) {
			memcpy(s->arp[i].mac, mac, 6);
			return;
		}
	}
	s->arp[s->arp_next].ip = ip;
	memcpy(s->arp[s->arp_next].mac, mac, 6);
	s->arp_next = (s->arp_next + 1) % ARP_CACHE;
}

static int arp_send(struct inet *s, uint16_t op, const uint8_t *dmac, const uint8_t *tha, uint32_t tpa)
{
	uint8_t *a = s->tx + ETH_HLEN;

	eth_header(s, dmac, ETHERTYPE_ARP);
	a[0] = 0; a[1] = 1;		/* Ethernet */
	a[2] = 0x08; a[3] = 0x00;	/* IPv4 */
	a[4] = 6; a[5] = 4;
	a[6] = 0; a[7] = (uint8_t)op;
	memcpy(a + 8, s->mac, 6);
	memcpy(a + 14, &s->l.ip, 4);
	memcpy(a + 18, tha, 6);
	memcpy(a + 24, &tpa, 4);
	memset(a + 28, 0, 60 - ETH_HLEN - 28);	/* pad to the minimum frame */
	return send_frame(s, 60);
}

static void arp_input(struct inet *s, const uint8_t *a, uint32_t len)
{
	uint32_t spa, tpa;

	if (len < 28 || a[0] != 0 || a[1] != 1 || a[2] != 8 || a[3] != 0 || a[4] != 6 || a[5] != 4) {
		s->st.rx_bad++;
		return;
	}
	memcpy(&spa, a + 14, 4);
	memcpy(&tpa, a + 24, 4);
	if (a[7] == 2 && spa) {
		arp_learn(s, spa, a + 8);
	} else if (a[7] == 1 && s->l.ip && tpa == s->l.ip) {
		/* ward-net answers every ARP itself, but another card may not */
		arp_send(s, 2, a + 8, a + 8, spa);
		s->st.arp_answered++;
	} else {
		s->st.rx_other++;
	}
}

int arp_resolve(struct inet *s, uint32_t ip, uint8_t mac[6], uint64_t timeout_ms)
{
	static const uint8_t zero[6];
	uint64_t until = inet_deadline(s, timeout_ms), resend = 0;

	for (;;) {
		for (unsigned int i = 0; i < ARP_CACHE; i++) {
			if (s->arp[i].ip == ip) {
				memcpy(mac, s->arp[i].mac, 6);
				return 0;
			}
		}
		if (inet_expired(until))
			return -1;
		if (inet_expired(resend)) {
			arp_send(s, 1, bcast_mac, zero, ip);
			s->st.arp_sent++;
			resend = inet_deadline(s, 200);
		}
		if (inet_poll(s) < 0)
			return -1;
	}
}

/* --- ICMP --- */

static uint64_t ping_word(const struct inet *s, uint16_t seq, uint32_t k)
{
	return s->ping_salt ^ ((uint64_t)seq << 48) ^ ((k + 1) * 0x9E3779B97F4A7C15ull);
}

int icmp_echo_send(struct inet *s, const uint8_t *dmac, uint32_t dst, uint16_t seq, uint32_t size)
{
	uint8_t *p = inet_ip_begin(s, dmac, dst, IPPROTO_ICMP);
	uint16_t c;

	if (IP_HLEN + 8 + size > s->mtu || seq > 63)
		return -1;
	if (!s->ping_salt) {
		s->ping_salt = rdtsc() * 0x9E3779B97F4A7C15ull | 1;
		s->ping_id = (uint16_t)(s->ping_salt >> 32);
	}
	p[0] = 8;
	p[1] = 0;
	p[2] = p[3] = 0;
	p[4] = (uint8_t)(s->ping_id >> 8);
	p[5] = (uint8_t)s->ping_id;
	p[6] = 0;
	p[7] = (uint8_t)seq;
	for (uint32_t j = 0; j < size; j += 8) {
		uint64_t w = ping_word(s, seq, j / 8);

		memcpy(p + 8 + j, &w, size - j < 8 ? size - j : 8);
	}
	c = inet_fold(inet_sum(p, 8 + size, 0));
	p[2] = (uint8_t)(c >> 8);
	p[3] = (uint8_t)c;
	return inet_send_ip(s, 8 + size);
}

static void icmp_input(struct inet *s, const uint8_t *eth, const uint8_t *ip, const uint8_t *p, uint32_t len)
{
	uint32_t src;

	if (len < 8 || inet_fold(inet_sum(p, len, 0))) {
		s->st.rx_bad++;
		return;
	}
	memcpy(&src, ip + 12, 4);
	if (p[0] == 8 && p[1] == 0) {
		/* Echo request: answer to the frame's source MAC (the router's
		 * for a routed packet, the peer's inside the subnet). */
		uint8_t *r = inet_ip_begin(s, eth + 6, src, IPPROTO_ICMP);
		uint16_t c;

		if (IP_HLEN + len > s->mtu)
			return;
		memcpy(r, p, len);
		r[0] = 0;
		r[2] = r[3] = 0;
		c = inet_fold(inet_sum(r, len, 0));
		r[2] = (uint8_t)(c >> 8);
		r[3] = (uint8_t)c;
		if (!inet_send_ip(s, len))
			s->st.echo_answered++;
		return;
	}
	if (p[0] == 0 && p[1] == 0 && s->ping_salt &&
	    (uint16_t)(p[4] << 8 | p[5]) == s->ping_id && p[6] == 0 && p[7] < 64) {
		uint16_t seq = p[7];

		for (uint32_t j = 0; j + 8 < len; j += 8) {
			uint64_t w = ping_word(s, seq, j / 8);

			if (memcmp(p + 8 + j, &w, len - 8 - j < 8 ? len - 8 - j : 8)) {
				s->ping_bad++;
				return;
			}
		}
		if (!(s->ping_seq_seen & (1ull << seq)))
			s->ping_replies++;
		s->ping_seq_seen |= 1ull << seq;
		return;
	}
	s->st.rx_other++;
}

/* --- UDP and DHCP --- */

int udp_send(struct inet *s, const uint8_t *dmac, uint32_t src, uint32_t dst,
	     uint16_t sport, uint16_t dport, const void *data, uint32_t len)
{
	uint8_t *u = inet_ip_begin(s, dmac, dst, IPPROTO_UDP);
	uint16_t c;

	if (IP_HLEN + 8 + len > s->mtu)
		return -1;
	memcpy(s->tx + ETH_HLEN + 12, &src, 4);	/* 0.0.0.0 before a lease */
	u[0] = (uint8_t)(sport >> 8); u[1] = (uint8_t)sport;
	u[2] = (uint8_t)(dport >> 8); u[3] = (uint8_t)dport;
	u[4] = (uint8_t)((len + 8) >> 8); u[5] = (uint8_t)(len + 8);
	u[6] = u[7] = 0;
	memcpy(u + 8, data, len);
	c = inet_l4_csum(src, dst, IPPROTO_UDP, u, len + 8);
	if (!c)
		c = 0xffff;
	u[6] = (uint8_t)(c >> 8);
	u[7] = (uint8_t)c;
	return inet_send_ip(s, len + 8);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Parses a BOOTP reply for our xid and MAC into s->dhcp_offer. */
static void dhcp_input(struct inet *s, const uint8_t *b, uint32_t len)
{
	struct dhcp_lease o = { 0 };
	uint8_t type = 0;
	uint32_t i;

	if (len < BOOTP_FIXED + 4 || b[0] != 2 || !s->dhcp_xid ||
	    be32(b + 4) != s->dhcp_xid || memcmp(b + 28, s->mac, 6) ||
	    be32(b + BOOTP_FIXED) != DHCP_MAGIC) {
		s->st.rx_other++;
		return;
	}
	memcpy(&o.ip, b + 16, 4);
	for (i = BOOTP_FIXED + 4; i < len;) {
		uint8_t code = b[i], olen;
		const uint8_t *v;

		if (code == 255)
			break;
		if (code == 0) {
			i++;
			continue;
		}
		if (i + 2 > len || i + 2 + b[i + 1] > len) {
			s->st.rx_bad++;
			return;
		}
		olen = b[i + 1];
		v = b + i + 2;
		if (code == 53 && olen == 1)
			type = v[0];
		else if (code == 1 && olen == 4)
			memcpy(&o.mask, v, 4);
		else if (code == 3 && olen >= 4)
			memcpy(&o.router, v, 4);
		else if (code == 6 && olen >= 4)
			memcpy(&o.dns, v, 4);
		else if (code == 28 && olen == 4)
			memcpy(&o.bcast, v, 4);
		else if (code == 51 && olen == 4)
			o.lease_s = be32(v);
		else if (code == 54 && olen == 4)
			memcpy(&o.server, v, 4);
		else if (code == 26 && olen == 2)
			o.mtu = (uint32_t)v[0] << 8 | v[1];
		i += 2u + olen;
	}
	if (type != 2 && type != 5 && type != 6) {
		s->st.rx_other++;
		return;
	}
	s->dhcp_got = type;
	s->dhcp_offer = o;
}

static void udp_input(struct inet *s, const uint8_t *ip, const uint8_t *u, uint32_t len)
{
	uint32_t src, dst;
	uint16_t ulen;

	if (len < 8) {
		s->st.rx_bad++;
		return;
	}
	ulen = (uint16_t)(u[4] << 8 | u[5]);
	memcpy(&src, ip + 12, 4);
	memcpy(&dst, ip + 16, 4);
	if (ulen < 8 || ulen > len ||
	    ((u[6] | u[7]) && inet_l4_csum(src, dst, IPPROTO_UDP, u, ulen))) {
		s->st.rx_bad++;
		return;
	}
	if (u[0] == 0 && u[1] == 67 && u[2] == 0 && u[3] == 68)
		dhcp_input(s, u + 8, ulen - 8u);
	else
		s->st.rx_other++;
}

/* A REQUEST is SELECTING (requested address + server id) unless renewing:
 * then RFC 2131 §4.3.2 wants ciaddr set and neither option. */
static uint32_t dhcp_build(struct inet *s, uint8_t *b, uint8_t type, bool renewing)
{
	uint32_t i = BOOTP_FIXED;

	memset(b, 0, 300);
	b[0] = 1;			/* BOOTREQUEST */
	b[1] = 1;
	b[2] = 6;
	b[4] = (uint8_t)(s->dhcp_xid >> 24);
	b[5] = (uint8_t)(s->dhcp_xid >> 16);
	b[6] = (uint8_t)(s->dhcp_xid >> 8);
	b[7] = (uint8_t)s->dhcp_xid;
	memcpy(b + 28, s->mac, 6);
	if (renewing)
		memcpy(b + 12, &s->l.ip, 4);
	b[i++] = 0x63; b[i++] = 0x82; b[i++] = 0x53; b[i++] = 0x63;
	b[i++] = 53; b[i++] = 1; b[i++] = type;
	if (type == 3 && !renewing) {
		b[i++] = 50; b[i++] = 4;
		memcpy(b + i, &s->dhcp_offer.ip, 4);
		i += 4;
		b[i++] = 54; b[i++] = 4;
		memcpy(b + i, &s->dhcp_offer.server, 4);
		i += 4;
	}
	/* mask, router, DNS, broadcast, lease, server id, MTU */
	b[i++] = 55; b[i++] = 7;
	b[i++] = 1; b[i++] = 3; b[i++] = 6; b[i++] = 28; b[i++] = 51; b[i++] = 54; b[i++] = 26;
	b[i++] = 255;
	return i < 300 ? 300 : i;	/* BOOTP's minimum message */
}

/* Sends `type` and polls for the matching reply for up to 1 s. */
static int dhcp_step(struct inet *s, uint8_t type, uint64_t until)
{
	uint8_t msg[320];
	uint32_t n = dhcp_build(s, msg, type, false);
	uint64_t resend;

	s->dhcp_got = 0;
	if (udp_send(s, bcast_mac, 0, 0xffffffffu, 68, 67, msg, n))
		return -1;
	resend = inet_deadline(s, 1000);
	while (!s->dhcp_got) {
		if (inet_expired(resend) || inet_expired(until))
			return -1;
		if (inet_poll(s) < 0)
			return -1;
	}
	return 0;
}

int dhcp_run(struct inet *s, uint64_t timeout_ms)
{
	uint64_t until = inet_deadline(s, timeout_ms);

	s->l = (struct dhcp_lease){ 0 };
	while (!inet_expired(until)) {
		s->dhcp_xid = (uint32_t)(rdtsc() * 0x9E3779B1u) | 1;
		if (dhcp_step(s, 1, until) || s->dhcp_got != 2 || !s->dhcp_offer.ip ||
		    !s->dhcp_offer.server)
			continue;
		if (dhcp_step(s, 3, until))
			continue;
		if (s->dhcp_got == 6)
			return -2;
		if (s->dhcp_got != 5)
			continue;
		s->l = s->dhcp_offer;
		s->dhcp_xid = 0;
		s->mtu = s->l.mtu >= 576 ? s->l.mtu : 1500;
		if (s->mtu > s->dev->max_frame - ETH_HLEN)
			s->mtu = s->dev->max_frame - ETH_HLEN;
		if (s->dev->mtu && s->mtu > s->dev->mtu)
			s->mtu = s->dev->mtu;
		return 0;
	}
	return -1;
}

int dhcp_renew(struct inet *s, uint64_t timeout_ms)
{
	uint64_t until = inet_deadline(s, timeout_ms), resend = 0;
	uint8_t msg[320], mac[6];
	uint32_t n;

	if (!s->l.ip || arp_resolve(s, inet_next_hop(s, s->l.server), mac, timeout_ms))
		return -1;
	s->dhcp_xid = (uint32_t)(rdtsc() * 0x9E3779B1u) | 1;
	s->dhcp_got = 0;
	n = dhcp_build(s, msg, 3, true);
	while (!s->dhcp_got) {
		if (inet_expired(until)) {
			s->dhcp_xid = 0;
			return -1;
		}
		if (inet_expired(resend)) {
			/* unicast to the server, from the leased address */
			if (udp_send(s, mac, s->l.ip, s->l.server, 68, 67, msg, n))
				return -1;
			resend = inet_deadline(s, 1000);
		}
		if (inet_poll(s) < 0)
			return -1;
	}
	s->dhcp_xid = 0;
	if (s->dhcp_got == 6)
		return -2;
	if (s->dhcp_got != 5 || s->dhcp_offer.ip != s->l.ip)
		return -1;
	s->l.lease_s = s->dhcp_offer.lease_s;
	return 0;
}

/* --- receive dispatch --- */

static void ip_input(struct inet *s, const uint8_t *eth, const uint8_t *ip, uint32_t len)
{
	uint32_t ihl, tot, dst;

	if (len < IP_HLEN || (ip[0] >> 4) != 4 || (ihl = (ip[0] & 15u) * 4) < IP_HLEN || ihl > len ||
	    (tot = (uint32_t)ip[2] << 8 | ip[3]) < ihl || tot > len ||
	    inet_fold(inet_sum(ip, ihl, 0))) {
		s->st.rx_bad++;
		return;
	}
	if ((ip[6] & 0x3f) || ip[7]) {	/* a fragment: we never send any */
		s->st.rx_other++;
		return;
	}
	memcpy(&dst, ip + 16, 4);
	/* Before a lease, only DHCP replies (to whatever address) count; after
	 * it, our address, or a broadcast UDP datagram (a DHCP reply too). */
	if (s->l.ip ? dst != s->l.ip && !(dst == 0xffffffffu && ip[9] == IPPROTO_UDP)
		    : ip[9] != IPPROTO_UDP) {
		s->st.rx_other++;
		return;
	}
	switch (ip[9]) {
	case IPPROTO_ICMP:
		icmp_input(s, eth, ip, ip + ihl, tot - ihl);
		break;
	case IPPROTO_UDP:
		udp_input(s, ip, ip + ihl, tot - ihl);
		break;
	case IPPROTO_TCP:
		tcp_input(s, eth, ip, ip + ihl, tot - ihl);
		break;
	default:
		s->st.rx_other++;
	}
}

int inet_poll(struct inet *s)
{
	int n = vnet_recv(s->dev, s->rx, sizeof(s->rx));
	uint16_t type;

	if (s->tcp)
		tcp_tick(s);
	if (n == -1)
		return 0;
	if (n < 0)
		return -1;
	s->st.rx_frames++;
	if (n < ETH_HLEN || (uint32_t)n > sizeof(s->rx)) {
		s->st.rx_bad++;
		return 1;
	}
	if (memcmp(s->rx, s->mac, 6) && memcmp(s->rx, bcast_mac, 6)) {
		s->st.rx_other++;
		return 1;
	}
	type = (uint16_t)(s->rx[12] << 8 | s->rx[13]);
	if (type == ETHERTYPE_ARP)
		arp_input(s, s->rx + ETH_HLEN, (uint32_t)n - ETH_HLEN);
	else if (type == ETHERTYPE_IP)
		ip_input(s, s->rx, s->rx + ETH_HLEN, (uint32_t)n - ETH_HLEN);
	else
		s->st.rx_other++;
	return 1;
}
