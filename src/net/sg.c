/* sg: security-group rules (see sg.h). A non-first fragment has no ports:
 * only a rule that covers every port (or every ICMP type) can match it. */
#include "sg.h"

static bool ports_match(const struct vpc_rule *r, const struct frame *f)
{
	uint16_t port;

	if (f->l4 == L4_TCP)
		port = f->u.tcp.dport;
	else if (f->l4 == L4_UDP)
		port = f->u.udp.dport;
	else
		return r->port_lo == 0 && r->port_hi == 65535;
	return port >= r->port_lo && port <= r->port_hi;
}

static bool icmp_match(const struct vpc_rule *r, const struct frame *f)
{
	if (f->l4 != L4_ICMP)
		return r->icmp_type == VPC_ANY && r->icmp_code == VPC_ANY;
	return (r->icmp_type == VPC_ANY || r->icmp_type == f->u.icmp.type) &&
	       (r->icmp_code == VPC_ANY || r->icmp_code == f->u.icmp.code);
}

static bool peer_match(const struct vpc_cfg *cfg, unsigned int vpc, const struct vpc_rule *r,
		       uint32_t peer)
{
	int o;

	if (r->sg < 0)
		return vpc_in(peer, r->net, r->prefix);
	o = vpc_find_owner(cfg, vpc, peer);
	return o >= 0 && vpc_eni_in_sg(&cfg->enis[o], (unsigned int)r->sg);
}

bool sg_rule_matches(const struct vpc_cfg *cfg, unsigned int vpc, const struct vpc_rule *r,
		     const struct frame *f, uint32_t peer)
{
	if (r->proto != VPC_PROTO_ALL) {
		if (r->proto != f->ip.proto)
			return false;
		if ((r->proto == IPPROTO_TCP_ || r->proto == IPPROTO_UDP_) && !ports_match(r, f))
			return false;
		if (r->proto == IPPROTO_ICMP_ && !icmp_match(r, f))
			return false;
	}
	return peer_match(cfg, vpc, r, peer);
}

bool sg_allows(const struct vpc_cfg *cfg, unsigned int eni, enum dp_dir dir, const struct frame *f)
{
	const struct vpc_eni *e = &cfg->enis[eni];
	uint32_t peer = dir == DP_EGRESS ? f->ip.dst : f->ip.src;

	for (unsigned int g = 0; g < e->n_sgs; g++) {
		const struct vpc_sg *sg = &cfg->sgs[e->sgs[g]];
		const struct vpc_rules *rs = dir == DP_EGRESS ? &sg->out : &sg->in;

		for (unsigned int i = 0; i < rs->n; i++)
			if (sg_rule_matches(cfg, e->vpc, &rs->r[i], f, peer))
				return true;
	}
	return false;
}
