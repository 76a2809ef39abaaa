/* netctl: the control channel between ward-controller and ward-net, as
 * blkctl is for ward-blk: typed binary messages over an inherited
 * SOCK_SEQPACKET socketpair, one message per packet, each ENI's vhost-user
 * socket passed with SCM_RIGHTS so ward-net needs no path. netctl_parse()
 * is the only code that reads the raw bytes. Format: docs/net.md, "Control
 * channel". (The VPC model itself still arrives at start, --config-fd.) */
#ifndef WARD_NET_NETCTL_H
#define WARD_NET_NETCTL_H

#include <stddef.h>
#include <stdint.h>

#define NETCTL_MAGIC      0x54454e57u  /* "WNET" little-endian */
#define NETCTL_VERSION    1
#define NETCTL_ID_LEN     64           /* ENI id field, NUL-padded */
#define NETCTL_MSG_LEN    200
#define NETCTL_MAX_COUNTERS 64
#define NETCTL_MAX_PACKET 1024

enum netctl_type {
	NETCTL_ATTACH = 1,   /* id + fd: serve this ENI on the connected socket */
	NETCTL_DETACH = 2,   /* id: stop serving it (its guest loses the network) */
	NETCTL_STATS = 3,    /* id: its counters */
	NETCTL_QUERY = 4,    /* id: attached? its frontend still there? */
	/* The underlay (docs/net.md "Underlay: joining the data path"): */
	NETCTL_PEER = 5,     /* host id + underlay IPv4: a host to exchange keys with */
	NETCTL_MAP = 6,      /* host id + VPC id + VNI + IPv4: who owns that address */
	NETCTL_REPLY = 0x81,
};

struct netctl_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t seq;
	uint32_t len;        /* payload bytes after the header */
} __attribute__((packed));

/* A validated request. */
struct netctl_msg {
	uint16_t type;
	uint32_t seq;
	char id[NETCTL_ID_LEN + 1];
	int fd;              /* ATTACH: the vhost-user socket (a stream socket), else -1 */
	/* PEER and MAP: id is the host id ([A-Za-z0-9_-]{1,63}). */
	char vpc[NETCTL_ID_LEN + 1];   /* MAP: the VPC's id in the VPC config */
	uint32_t vni;        /* MAP: 1..0xFFFFFF */
	uint32_t addr;       /* PEER: underlay IPv4; MAP: the inner IPv4 (network order) */
};

/* Payloads (little-endian numbers, NUL-padded ids). ATTACH, DETACH, STATS
 * and QUERY carry the ENI id alone. */
struct netctl_peer {
	char host[NETCTL_ID_LEN];
	uint32_t addr;       /* network byte order, not 0, not multicast/broadcast */
} __attribute__((packed));

struct netctl_map {
	char host[NETCTL_ID_LEN];
	char vpc[NETCTL_ID_LEN];
	uint32_t vni;
	uint32_t ip;         /* network byte order */
} __attribute__((packed));

/* Receive and parse one request. 1: got one in *m; 0: the controller
 * closed the channel; -EPROTO: malformed (reason in err, m->seq set when
 * the header was readable, every passed fd closed): reply and go on; other
 * negative errno: the channel failed. */
int netctl_recv(int sock, struct netctl_msg *m, char *err, size_t errlen);

/* Parse the bytes of one packet with nfds passed fds (taken on success,
 * closed on failure). Exposed for the fuzzer. */
int netctl_parse(const uint8_t *buf, size_t len, int *fds, size_t nfds, struct netctl_msg *m,
		 char *err, size_t errlen);

/* Reply: status (0 or negative errno), a message, and n counters (STATS). */
int netctl_reply(int sock, uint32_t seq, int32_t status, const char *msg,
		 const uint64_t *counters, uint32_t n);

#endif
