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

#include "vpc.h"

#define NETCTL_MAGIC      0x54454e57u  /* "WNET" little-endian */
#define NETCTL_VERSION    1
#define NETCTL_ID_LEN     64           /* ENI id field, NUL-padded */
#define NETCTL_MSG_LEN    200
#define NETCTL_MAX_COUNTERS 64
#define NETCTL_MAX_PACKET 16384        /* an SG_SET of 2 x 60 rules is 10212 */
#define NETCTL_MAX_RULES  (2 * VPC_MAX_SG_RULES)

enum netctl_type {
	NETCTL_ATTACH = 1,   /* id + fd: serve this ENI on the connected socket */
	NETCTL_DETACH = 2,   /* id: stop serving it (its guest loses the network) */
	NETCTL_STATS = 3,    /* id: its counters */
	NETCTL_QUERY = 4,    /* id: attached? its frontend still there? */
	/* The underlay (docs/net.md "Underlay: joining the data path"): */
	NETCTL_PEER = 5,     /* host id + underlay IPv4: a host to exchange keys with */
	NETCTL_MAP = 6,      /* host id + VPC id + VNI + IPv4: who owns that address */
	/* Live model changes (docs/net.md "Changing the model live"): */
	NETCTL_SG_SET = 7,   /* create a group, or replace all of its rules */
	NETCTL_SG_DEL = 8,   /* delete a group no ENI and no rule uses */
	NETCTL_SG_RULE_ADD = 9,
	NETCTL_SG_RULE_DEL = 10,
	NETCTL_NACL_SET = 11, /* replace all of a NACL's rules */
	NETCTL_ENI_SGS = 12, /* replace an ENI's groups (1..5) */
	NETCTL_UNMAP = 13,   /* MAP's payload: forget that address's owner */
	NETCTL_PEER_DEL = 14, /* host id: forget a host, its keys and its mappings */
	NETCTL_ENI_META = 15, /* an ENI's instance metadata and IAM credentials (IMDS) */
	NETCTL_REPLY = 0x81,
};

struct netctl_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t seq;
	uint32_t len;        /* payload bytes after the header */
} __attribute__((packed));

/* One rule as it travels (SG_SET, SG_RULE_ADD/DEL, NACL_SET): 84 bytes.
 * The peer is net/prefix, or the group named in sg when sg is not empty
 * (groups only). number and allow: NACLs only (0 and 1 for groups). */
struct netctl_wire_rule {
	int16_t proto;       /* -1 all, or 0..255 */
	uint16_t port_lo, port_hi;   /* TCP/UDP; 0, 65535 otherwise */
	int16_t icmp_type, icmp_code; /* ICMP, -1 any; -1, -1 otherwise */
	uint16_t number;     /* NACL: 1..32766 */
	uint8_t allow;       /* NACL: 1 allow, 0 deny; groups: 1 */
	uint8_t prefix;      /* 0..32 */
	uint16_t pad;        /* 0 */
	uint32_t net;        /* network byte order, no host bits */
	char sg[NETCTL_ID_LEN];
} __attribute__((packed));

/* SG_SET and NACL_SET: the group's (or NACL's) id, its VPC, then n_in
 * ingress rules followed by n_out egress rules. */
struct netctl_set_hdr {
	char id[NETCTL_ID_LEN];
	char vpc[NETCTL_ID_LEN];
	uint16_t n_in, n_out;
} __attribute__((packed));

/* SG_RULE_ADD / SG_RULE_DEL. */
struct netctl_rule_msg {
	char id[NETCTL_ID_LEN];      /* the group */
	uint8_t dir;                 /* 0 ingress, 1 egress */
	uint8_t pad[3];
	struct netctl_wire_rule rule;
} __attribute__((packed));

/* ENI_SGS. */
struct netctl_eni_sgs {
	char id[NETCTL_ID_LEN];      /* the ENI */
	uint32_t n;                  /* 1..5 */
	char sgs[VPC_MAX_SGS][NETCTL_ID_LEN];   /* the first n used, the rest zero */
} __attribute__((packed));

/* ENI_META (docs/formats.md "ENI_META"): what IMDS serves to the ENI's
 * guest. Fixed part, then secret_len bytes of SecretAccessKey and
 * token_len bytes of the session Token. Empty fields are "not set" (those
 * paths are 404); no role means no credentials, and then every credential
 * field is empty. A new ENI_META replaces the old one whole. */
#define NETCTL_SECRET_MAX 128
#define NETCTL_STOKEN_MAX 2048
#define NETCTL_AKID_LEN   32
#define NETCTL_TIME_LEN   24           /* YYYY-MM-DDTHH:MM:SSZ, NUL-padded */
struct netctl_eni_meta {
	char id[NETCTL_ID_LEN];          /* the ENI */
	char instance[NETCTL_ID_LEN];    /* [A-Za-z0-9-] */
	char az[NETCTL_ID_LEN];          /* [a-z0-9-] */
	char role[NETCTL_ID_LEN];        /* [A-Za-z0-9+=,.@_-] */
	char access_key_id[NETCTL_AKID_LEN];   /* [A-Z0-9]{16,31} */
	char last_updated[NETCTL_TIME_LEN];
	char expiration[NETCTL_TIME_LEN];
	uint32_t device_number;          /* 0..255 */
	uint16_t secret_len;             /* role: 1..128, else 0; [A-Za-z0-9+/=] */
	uint16_t token_len;              /* role: 1..2048, else 0; [A-Za-z0-9+/=] */
} __attribute__((packed));

/* ENI_META checked for form; the secret parts are wiped by whoever holds
 * the message once IMDS has its copy. */
struct netctl_meta {
	char instance[NETCTL_ID_LEN + 1], az[NETCTL_ID_LEN + 1], role[NETCTL_ID_LEN + 1];
	char access_key_id[NETCTL_AKID_LEN + 1];
	char last_updated[NETCTL_TIME_LEN + 1], expiration[NETCTL_TIME_LEN + 1];
	uint32_t device_number;
	char secret[NETCTL_SECRET_MAX + 1];
	char token[NETCTL_STOKEN_MAX + 1];
};

/* A rule checked for form; the group it names (if any) is resolved
 * against the model by model.c. */
struct netctl_rule {
	struct vpc_rule r;           /* r.sg is -1 here */
	char sg[NETCTL_ID_LEN + 1];  /* "" : the CIDR applies */
};

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
	/* Model changes: id is the group, NACL or ENI; vpc the owner VPC
	 * (SG_SET, NACL_SET). */
	uint8_t dir;         /* SG_RULE_ADD/DEL: 0 ingress, 1 egress */
	unsigned int n_in, n_out;    /* SG_SET/NACL_SET: rules[0..n_in) in, then out */
	struct netctl_rule rules[NETCTL_MAX_RULES];
	unsigned int n_sgs;  /* ENI_SGS */
	char sgs[VPC_MAX_SGS][NETCTL_ID_LEN + 1];
	struct netctl_meta meta;     /* ENI_META (id is the ENI) */
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
