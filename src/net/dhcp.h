/* dhcp: the DHCPv4 server ward-net runs for every ENI (RFC 2131/2132). The
 * card knows each ENI's one address, so there is no pool and no state: a
 * DISCOVER gets an OFFER of the ENI's primary IP, a REQUEST for it an ACK,
 * a REQUEST for anything else a NAK. dhcp_handle() parses the untrusted
 * BOOTP payload (fuzzed: fuzz/net/) and writes the reply payload. */
#ifndef WARD_NET_DHCP_H
#define WARD_NET_DHCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
#define DHCP_LEASE_SECS  3600
#define DHCP_MAX_REPLY   548      /* RFC 2131 §2: minimum a client must accept */

/* What the ENI is told (host order). */
struct dhcp_lease {
	uint8_t mac[6];
	uint32_t ip, mask, router, dns;
	uint16_t mtu;
	uint32_t lease_secs;
};

struct dhcp_reply {
	uint8_t msg_type;             /* 2 OFFER, 5 ACK, 6 NAK */
	bool broadcast;               /* the client asked for a broadcast reply */
	size_t len;                   /* bytes of BOOTP payload in out */
};

/* Handle one client message (the UDP payload). Returns 1 with a reply in
 * out[0..r->len), 0 when no reply is due (RELEASE, DECLINE, another
 * server's REQUEST), or -EINVAL with a static reason in *why for a message
 * that is malformed or not from this ENI (chaddr must be its MAC). */
int dhcp_handle(const struct dhcp_lease *l, const uint8_t *msg, size_t len,
		uint8_t out[DHCP_MAX_REPLY], struct dhcp_reply *r, const char **why);

#endif
