/* guest/lib/inet.h: a tiny polled IPv4 stack over lib/virtio_net for the
 * guest kit: Ethernet, ARP (client and responder), IPv4 (no fragments),
 * ICMP echo, UDP, a DHCP client, and the hooks lib/tcp.c plugs into. One
 * interface, no interrupts, no threads; nothing privileged, so it runs in
 * ring 3. Addresses are kept in network byte order (as on the wire). */
#ifndef GUEST_INET_H
#define GUEST_INET_H

#include <stdbool.h>
#include <stdint.h>
#include "virtio_net.h"

#define ETH_HLEN	14
#define IP_HLEN		20
#define ETHERTYPE_IP	0x0800
#define ETHERTYPE_ARP	0x0806
#define IPPROTO_ICMP	1
#define IPPROTO_TCP	6
#define IPPROTO_UDP	17
#define ARP_CACHE	8

static inline uint16_t htons(uint16_t v) { return (uint16_t)(v << 8 | v >> 8); }
static inline uint16_t ntohs(uint16_t v) { return htons(v); }
static inline uint32_t htonl(uint32_t v) { return __builtin_bswap32(v); }
static inline uint32_t ntohl(uint32_t v) { return __builtin_bswap32(v); }

struct tcp_conn;

/* What DHCP gave us (network order; lease/mtu in host order). */
struct dhcp_lease {
	uint32_t ip, mask, router, dns, server, bcast;
	uint32_t lease_s, mtu;
};

struct inet_stats {
	uint64_t rx_frames, tx_frames;
	uint64_t rx_bad;	/* malformed or failed checksum: dropped */
	uint64_t rx_other;	/* not for us or not handled */
	uint64_t arp_sent, arp_answered;
	uint64_t echo_answered;	/* echo requests we replied to */
};

struct inet {
	struct vnet *dev;
	uint8_t mac[6];
	struct dhcp_lease l;		/* l.ip == 0 until bound */
	uint32_t mtu;			/* IP MTU in use: the lease's, bounded by the device */
	uint64_t tsc_khz;
	uint16_t ip_id;
	struct { uint32_t ip; uint8_t mac[6]; } arp[ARP_CACHE];
	unsigned int arp_next;
	/* ICMP echo the ping client waits for */
	uint16_t ping_id;
	uint64_t ping_seq_seen;		/* bitmap of seq 0..63 that came back */
	uint32_t ping_replies, ping_bad;
	uint64_t ping_salt;
	/* DHCP exchange in progress */
	uint32_t dhcp_xid;
	uint8_t dhcp_got;		/* message type of the last matching reply */
	struct dhcp_lease dhcp_offer;
	struct tcp_conn *tcp;		/* the one TCP connection, if any */
	struct inet_stats st;
	uint8_t rx[VNET_JUMBO_FRAME];
	uint8_t tx[VNET_JUMBO_FRAME];
};

/* Binds the stack to an opened device (its MAC from the device config). */
void inet_init(struct inet *s, struct vnet *dev, uint64_t tsc_khz);

/* Microseconds to TSC ticks, and a deadline check. */
uint64_t inet_deadline(const struct inet *s, uint64_t ms);
static inline bool inet_expired(uint64_t deadline)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32 | lo) > deadline;
}

/* Receives and handles at most one frame: ARP, ICMP echo (answered, or
 * counted as a ping reply), DHCP replies, TCP. Returns 1 if a frame was
 * handled, 0 if none was waiting, -1 if the device returned a malformed
 * completion (fatal for the caller). */
int inet_poll(struct inet *s);

/* RFC 1071 one's-complement sum helpers. */
uint32_t inet_sum(const void *p, uint32_t len, uint32_t sum);
uint16_t inet_fold(uint32_t sum);

/* DHCP DISCOVER/OFFER/REQUEST/ACK with retransmission until timeout_ms.
 * 0 with s->l filled and s->mtu set (the lease's MTU option, or 1500,
 * bounded by what the device can receive), -1 on timeout, -2 on a NAK. */
int dhcp_run(struct inet *s, uint64_t timeout_ms);

/* RENEWING (RFC 2131 §4.3.2): a REQUEST with ciaddr = the leased address,
 * unicast to the server, resent each second until timeout_ms. 0 on an ACK
 * for the same address (lease time refreshed), -2 on a NAK, -1 else. */
int dhcp_renew(struct inet *s, uint64_t timeout_ms);

/* Next hop for dst: itself inside our subnet, else the router. */
uint32_t inet_next_hop(const struct inet *s, uint32_t dst);

/* Resolves ip to a MAC (cache, else ARP requests every 200 ms until
 * timeout_ms). 0 or -1. */
int arp_resolve(struct inet *s, uint32_t ip, uint8_t mac[6], uint64_t timeout_ms);

/* Builds Ethernet + IPv4 headers in s->tx for a payload of len bytes and
 * returns a pointer to the payload; inet_send_ip() sends it. */
uint8_t *inet_ip_begin(struct inet *s, const uint8_t *dmac, uint32_t dst, uint8_t proto);
int inet_send_ip(struct inet *s, uint32_t payload_len);

/* L4 checksum over the pseudo-header and the segment. */
uint16_t inet_l4_csum(uint32_t src, uint32_t dst, uint8_t proto, const void *seg, uint32_t len);

/* Sends echo request seq (0..63) of `size` payload bytes (<= mtu - 28)
 * to dst via dmac. */
int icmp_echo_send(struct inet *s, const uint8_t *dmac, uint32_t dst, uint16_t seq, uint32_t size);

/* Sends one UDP datagram. */
int udp_send(struct inet *s, const uint8_t *dmac, uint32_t src, uint32_t dst,
	     uint16_t sport, uint16_t dport, const void *data, uint32_t len);

/* "a.b.c.d" -> network order; 0 if malformed. */
uint32_t inet_aton(const char *str);
/* network order -> "a.b.c.d" in buf (>= 16 bytes). */
const char *inet_ntoa(uint32_t ip, char *buf);

#endif
