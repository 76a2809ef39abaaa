/* vpc: ward-net's model of the VPCs it serves — VPCs (an IPv4 CIDR),
 * subnets inside them, and ENIs (MAC, primary and secondary IPs, subnet,
 * security groups, source/destination check, MTU). Loaded from the JSON the
 * controller hands over (format: docs/formats.md, "ward-net VPC config");
 * vpc_load() validates all of it, so the data path trusts these structs. */
#ifndef WARD_NET_VPC_H
#define WARD_NET_VPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VPC_ID_LEN       63
#define VPC_MAX_VPCS     64
#define VPC_MAX_SUBNETS  256
#define VPC_MAX_ENIS     64
#define VPC_MAX_SEC_IPS  16
#define VPC_MAX_SGS      5       /* AWS: security groups per ENI */
#define VPC_MAX_GROUPS   64      /* security groups in a config */
#define VPC_MAX_SG_RULES 60      /* AWS: rules per direction per group */
#define VPC_MAX_NACLS    64
#define VPC_MAX_NACL_RULES 20    /* AWS: rules per direction per NACL */
#define VPC_CT_DEFAULT   4096    /* tracked flows per ENI unless it says */
#define VPC_CT_MAX       65536

#define VPC_PROTO_ALL    (-1)
#define VPC_ANY          (-1)    /* ICMP type/code wildcard */

/* The router's fixed, locally administered MAC (02:..: "ward" + 01). */
extern const uint8_t vpc_router_mac[6];

struct vpc {
	char id[VPC_ID_LEN + 1];
	uint32_t net;                /* host order */
	uint8_t prefix;
};

struct vpc_subnet {
	char id[VPC_ID_LEN + 1];
	unsigned int vpc;            /* index into vpcs */
	uint32_t net;
	uint8_t prefix;
	int nacl;                    /* index into nacls, -1: the default NACL (allow all) */
};

/* One security group or NACL rule. The peer is the source for ingress and
 * the destination for egress: a CIDR, or (security groups only) the
 * members of group sg. */
struct vpc_rule {
	int16_t proto;               /* VPC_PROTO_ALL or an IP protocol number */
	uint16_t port_lo, port_hi;   /* TCP/UDP; 0-65535 for the others */
	int16_t icmp_type, icmp_code; /* ICMP; VPC_ANY matches all */
	uint32_t net;
	uint8_t prefix;
	int sg;                      /* -1: the CIDR applies */
	uint16_t number;             /* NACL rule number (1-32766) */
	bool allow;                  /* NACL action; always true for groups */
};

struct vpc_rules {
	struct vpc_rule r[VPC_MAX_SG_RULES];
	unsigned int n;
};

struct vpc_sg {
	char id[VPC_ID_LEN + 1];
	unsigned int vpc;
	struct vpc_rules in, out;
};

struct vpc_nacl {
	char id[VPC_ID_LEN + 1];
	unsigned int vpc;
	struct vpc_rules in, out;    /* sorted by number */
};

struct vpc_eni {
	char id[VPC_ID_LEN + 1];
	unsigned int subnet;         /* index into subnets */
	unsigned int vpc;            /* the subnet's VPC, for convenience */
	uint8_t mac[6];
	uint32_t ip;
	uint32_t sec_ips[VPC_MAX_SEC_IPS];
	unsigned int n_sec_ips;
	unsigned int sgs[VPC_MAX_SGS]; /* indices into sgs */
	unsigned int n_sgs;
	uint32_t ct_max;             /* tracked-flow limit of this ENI */
	bool src_dst_check;
	uint16_t mtu;                /* 9001 or 1500 */
};

struct vpc_cfg {
	struct vpc vpcs[VPC_MAX_VPCS];
	unsigned int n_vpcs;
	struct vpc_subnet subnets[VPC_MAX_SUBNETS];
	unsigned int n_subnets;
	struct vpc_eni enis[VPC_MAX_ENIS];
	unsigned int n_enis;
	struct vpc_sg sgs[VPC_MAX_GROUPS];
	unsigned int n_sgs;
	struct vpc_nacl nacls[VPC_MAX_NACLS];
	unsigned int n_nacls;
};

/* Parse and validate a config document. Returns 0 or -EINVAL with the
 * first problem named in err ("enis[2].ip: 10.0.1.3 is reserved ..."). */
int vpc_load(const char *json, size_t len, struct vpc_cfg *cfg, char *err, size_t errlen);

/* Subnet address helpers. */
static inline uint32_t vpc_mask(uint8_t prefix)
{
	return prefix ? ~0u << (32 - prefix) : 0;
}
static inline bool vpc_in(uint32_t ip, uint32_t net, uint8_t prefix)
{
	return (ip & vpc_mask(prefix)) == net;
}
/* The first four and the last address of a subnet are AWS's. */
bool vpc_reserved(const struct vpc_subnet *s, uint32_t ip);
uint32_t vpc_router_ip(const struct vpc_subnet *s);      /* base + 1 */
uint32_t vpc_dns_ip(const struct vpc *v);                /* VPC base + 2 */

/* Is ENI e a member of group sg? */
bool vpc_eni_in_sg(const struct vpc_eni *e, unsigned int sg);

/* Does the ENI own ip (primary or secondary)? */
bool vpc_eni_owns(const struct vpc_eni *e, uint32_t ip);

/* The ENI of vpc that owns ip, or -1. */
int vpc_find_owner(const struct vpc_cfg *cfg, unsigned int vpc, uint32_t ip);
int vpc_find_eni(const struct vpc_cfg *cfg, const char *id);

/* "a.b.c.d" for logs; buf of 16 bytes. */
const char *vpc_ip_str(uint32_t ip, char buf[16]);

#endif
