/* frame: the one module of ward-net that reads and writes raw packet bytes.
 * frame_parse() turns an untrusted Ethernet frame from a guest into a
 * validated, host-order struct frame (Ethernet, ARP, IPv4 with header
 * checksum, options and fragments, ICMP, UDP, TCP); the builders write the
 * frames the card itself originates (ARP replies, DHCP replies). Everything
 * else in src/net works on struct frame. Rules: docs/net.md, "Frame parser". */
#ifndef WARD_NET_FRAME_H
#define WARD_NET_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_ETH_HLEN   14
#define FRAME_MAX_MTU    9001                       /* AWS jumbo MTU */
#define FRAME_MAX_LEN    (FRAME_ETH_HLEN + FRAME_MAX_MTU)
#define FRAME_MIN_LEN    FRAME_ETH_HLEN

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP  0x0806

#define IPPROTO_ICMP_ 1
#define IPPROTO_TCP_  6
#define IPPROTO_UDP_  17

#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY   2

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

enum frame_kind { FRAME_ARP = 1, FRAME_IPV4 };
enum frame_l4 { L4_NONE = 0, L4_ICMP, L4_UDP, L4_TCP, L4_OTHER };

struct frame_arp {
	uint16_t op;
	uint8_t sha[6], tha[6];
	uint32_t spa, tpa;           /* host order */
};

struct frame_ipv4 {
	uint32_t src, dst;           /* host order */
	uint8_t proto, ttl, tos, ihl; /* ihl in bytes */
	uint16_t total_len, id;
	uint16_t frag_off;           /* in bytes */
	bool df, mf;
	bool fragment;               /* mf or frag_off != 0 */
	bool has_options;
};

struct frame_icmp {
	uint8_t type, code;
	uint16_t id, seq;
	/* Errors (destination unreachable, time exceeded, parameter problem)
	 * quote the packet that caused them: its addresses and ports (for a
	 * quoted echo request, its id in in_sport). */
	bool inner;
	uint8_t in_proto;
	uint32_t in_src, in_dst;
	uint16_t in_sport, in_dport;
};
struct frame_udp  { uint16_t sport, dport, len; };
struct frame_tcp {
	uint16_t sport, dport, win;
	uint32_t seq, ack;
	uint8_t flags, doff;         /* doff in bytes */
	uint8_t wscale;              /* 0xff: no window scale option */
	uint16_t mss;                /* 0: no MSS option */
	bool sack_ok;
};

struct frame {
	const uint8_t *buf;          /* the frame (a copy the guest cannot change) */
	size_t len;                  /* Ethernet padding removed for IPv4 */
	uint8_t dst[6], src[6];
	uint16_t ethertype;
	enum frame_kind kind;
	struct frame_arp arp;
	struct frame_ipv4 ip;
	enum frame_l4 l4;            /* L4_NONE for a non-first fragment */
	union {
		struct frame_icmp icmp;
		struct frame_udp udp;
		struct frame_tcp tcp;
	} u;
	size_t l3_off, l4_off, payload_off, payload_len;
};

/* Parse and validate. Returns 0, or -EINVAL / -EPROTONOSUPPORT with a short
 * static reason in *why (never NULL on error). The struct keeps a pointer
 * to buf. */
int frame_parse(const uint8_t *buf, size_t len, struct frame *f, const char **why);

/* The Internet checksum (RFC 1071) of buf, folded, starting from sum. */
uint16_t frame_csum(const void *buf, size_t len, uint32_t sum);

bool frame_mac_is_multicast(const uint8_t mac[6]);   /* includes broadcast */
bool frame_mac_is_broadcast(const uint8_t mac[6]);

/* Builders for frames the card originates. Each returns the frame length,
 * or 0 if out is smaller than needed. */
size_t frame_build_arp_reply(uint8_t *out, size_t cap, const uint8_t src_mac[6], uint32_t src_ip,
			     const uint8_t dst_mac[6], uint32_t dst_ip);
/* Ethernet + IPv4 (no options, DF clear, TTL ttl) + UDP around payload. */
size_t frame_build_udp(uint8_t *out, size_t cap, const uint8_t src_mac[6], const uint8_t dst_mac[6],
		       uint32_t src_ip, uint32_t dst_ip, uint16_t sport, uint16_t dport,
		       uint8_t ttl, const void *payload, size_t plen);

/* Rewrite the MAC addresses of a frame in place (the router's hop). */
void frame_set_macs(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6]);

#endif
