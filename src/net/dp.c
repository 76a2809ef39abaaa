/* dp: switching and routing of guest frames inside ward-net (see dp.h and
 * docs/net.md, "Data path"). The order of checks matters: parse first (only
 * validated frames go further), then the source/destination check (a
 * spoofed frame must not even get an ARP or DHCP answer), then what the
 * card answers itself, then forwarding. */
#include "dp.h"

#include <errno.h>
#include <string.h>

#include "dhcp.h"
#include "log.h"

static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

void dp_init(struct dp *dp, const struct vpc_cfg *cfg, dp_deliver_fn deliver, void *opaque)
{
	memset(dp, 0, sizeof(*dp));
	dp->cfg = cfg;
	dp->deliver = deliver;
	dp->opaque = opaque;
}

static const struct vpc_eni *eni_of(const struct dp *dp, unsigned int i) { return &dp->cfg->enis[i]; }
static const struct vpc_subnet *subnet_of(const struct dp *dp, const struct vpc_eni *e)
{
	return &dp->cfg->subnets[e->subnet];
}

static void deliver(struct dp *dp, unsigned int to, const uint8_t *buf, size_t len)
{
	if (dp->deliver(dp->opaque, to, buf, len)) {
		dp->c[to].drop_rx_full++;
		return;
	}
	dp->c[to].rx_frames++;
	dp->c[to].rx_bytes += len;
}

void dp_to_guest(struct dp *dp, unsigned int eni, const uint8_t *frame, size_t len)
{
	deliver(dp, eni, frame, len);
}

/* RFC 826 request for tpa: the card answers with the owner's MAC inside the
 * subnet, the router's for the router, DNS and anything off the subnet, and
 * not at all for its own address (duplicate address detection) or for an
 * address nobody has. Replies go only to the asker. */
static void do_arp(struct dp *dp, unsigned int ei, const struct frame *f)
{
	const struct vpc_eni *e = eni_of(dp, ei);
	const struct vpc_subnet *s = subnet_of(dp, e);
	uint32_t tpa = f->arp.tpa;
	const uint8_t *mac = NULL;
	size_t n;

	if (f->arp.op != ARP_OP_REQUEST) {
		dp->c[ei].arp_ignored++;       /* gratuitous replies teach the card nothing */
		return;
	}
	if (!vpc_in(tpa, s->net, s->prefix)) {
		mac = vpc_router_mac;
	} else if (tpa == vpc_router_ip(s) || tpa == s->net + 2 || tpa == s->net + 3) {
		mac = vpc_router_mac;
	} else {
		int o = vpc_find_owner(dp->cfg, e->vpc, tpa);

		if (o >= 0 && (unsigned int)o != ei && eni_of(dp, (unsigned int)o)->subnet == e->subnet)
			mac = eni_of(dp, (unsigned int)o)->mac;
	}
	if (!mac) {
		dp->c[ei].arp_unanswered++;
		return;
	}
	n = frame_build_arp_reply(dp->scratch, sizeof(dp->scratch), mac, tpa, f->arp.sha, f->arp.spa);
	dp->c[ei].arp_replies++;
	deliver(dp, ei, dp->scratch, n);
}

static bool is_dhcp(const struct frame *f)
{
	return f->kind == FRAME_IPV4 && f->l4 == L4_UDP && f->u.udp.sport == DHCP_CLIENT_PORT &&
	       f->u.udp.dport == DHCP_SERVER_PORT;
}

static void do_dhcp(struct dp *dp, unsigned int ei, const struct frame *f)
{
	const struct vpc_eni *e = eni_of(dp, ei);
	const struct vpc_subnet *s = subnet_of(dp, e);
	struct dhcp_lease l = {
		.ip = e->ip, .mask = vpc_mask(s->prefix), .router = vpc_router_ip(s),
		.dns = vpc_dns_ip(&dp->cfg->vpcs[e->vpc]), .mtu = e->mtu, .lease_secs = DHCP_LEASE_SECS,
	};
	uint8_t out[DHCP_MAX_REPLY];
	struct dhcp_reply r;
	const char *why;
	size_t n;
	int rc;

	memcpy(l.mac, e->mac, 6);
	rc = dhcp_handle(&l, f->buf + f->payload_off, f->payload_len, out, &r, &why);
	if (rc < 0) {
		dp->c[ei].drop_dhcp++;
		log_debug("dhcp message refused", "eni=%s reason=\"%s\"", e->id, why);
		return;
	}
	if (rc == 0)
		return;
	/* Only this ENI can hear it: Ethernet unicast to its MAC even when the
	 * client asked for an IP broadcast (RFC 2131 §4.1). */
	n = frame_build_udp(dp->scratch, sizeof(dp->scratch), vpc_router_mac, e->mac, l.router,
			    r.broadcast ? 0xffffffffu : e->ip, DHCP_SERVER_PORT, DHCP_CLIENT_PORT, 64,
			    out, r.len);
	dp->c[ei].dhcp_replies++;
	deliver(dp, ei, dp->scratch, n);
}

/* Is dst one of the VPC's reserved addresses (some subnet's first four or
 * last)? Those are the router's, and it serves nothing yet on them. */
static bool to_router(const struct dp *dp, unsigned int vpc, uint32_t dst)
{
	for (unsigned int i = 0; i < dp->cfg->n_subnets; i++) {
		const struct vpc_subnet *s = &dp->cfg->subnets[i];

		if (s->vpc == vpc && vpc_in(dst, s->net, s->prefix) && vpc_reserved(s, dst))
			return true;
	}
	return false;
}

static void forward_ipv4(struct dp *dp, unsigned int ei, uint8_t *buf, const struct frame *f)
{
	const struct vpc_eni *e = eni_of(dp, ei), *d;
	bool routed = !memcmp(f->dst, vpc_router_mac, 6);
	enum dp_where where;
	int di;

	if (frame_mac_is_multicast(f->dst)) {
		dp->c[ei].drop_broadcast++;      /* never flooded */
		return;
	}
	if (to_router(dp, e->vpc, f->ip.dst)) {
		dp->c[ei].drop_to_router++;
		return;
	}
	/* The destination is looked up in the sender's VPC only: that is
	 * what makes other VPCs unreachable, even at the same address. */
	di = vpc_find_owner(dp->cfg, e->vpc, f->ip.dst);
	if (di < 0 && !routed) {
		/* An ENI with its check off may receive for addresses it does
		 * not own (a NAT instance): L2 to its MAC inside the subnet. */
		for (unsigned int i = 0; i < dp->cfg->n_enis; i++)
			if (!memcmp(dp->cfg->enis[i].mac, f->dst, 6) && !dp->cfg->enis[i].src_dst_check)
				di = (int)i;
	}
	if (di < 0) {
		dp->c[ei].drop_no_route++;
		return;
	}
	d = eni_of(dp, (unsigned int)di);
	/* Switched (not routed) frames stay inside the subnet, to the MAC the
	 * card's ARP gave out. */
	if (!routed && (d->subnet != e->subnet || memcmp(f->dst, d->mac, 6))) {
		dp->c[ei].drop_no_route++;
		return;
	}
	/* Where the destination ENI lives (its primary address: an ENI with
	 * its check off may be the destination of an address it does not own). */
	where = dp->where ? dp->where(dp->remote_opaque, e->vpc, d->ip) : DP_LOCAL;
	if (where == DP_UNKNOWN) {
		dp->c[ei].drop_no_mapping++;
		return;
	}
	if (dp->filter && !dp->filter(dp->filter_opaque, ei, (unsigned int)di, DP_EGRESS, f)) {
		dp->c[ei].drop_filter++;
		return;
	}
	if (where == DP_REMOTE) {
		/* The destination side (ingress rules, delivery) is the
		 * receiving card's: dp_input_remote() there. */
		if (routed)
			frame_set_macs(buf, d->mac, vpc_router_mac);
		if (dp->send_remote(dp->remote_opaque, e->vpc, buf, f->len))
			dp->c[ei].drop_underlay++;
		else
			dp->c[ei].tx_underlay++;
		return;
	}
	if (dp->filter && !dp->filter(dp->filter_opaque, (unsigned int)di, ei, DP_INGRESS, f)) {
		dp->c[di].drop_filter++;
		return;
	}
	/* The router's hop: AWS's VPC router does not show in traceroute,
	 * so the TTL is left alone; only the MACs change. */
	if (routed)
		frame_set_macs(buf, d->mac, vpc_router_mac);
	deliver(dp, (unsigned int)di, buf, f->len);
}

void dp_input(struct dp *dp, unsigned int ei, uint8_t *buf, size_t len)
{
	const struct vpc_eni *e = eni_of(dp, ei);
	struct frame f;
	const char *why;
	int rc;

	dp->c[ei].tx_frames++;
	dp->c[ei].tx_bytes += len;
	rc = frame_parse(buf, len, &f, &why);
	if (rc) {
		if (rc == -EPROTONOSUPPORT)
			dp->c[ei].drop_unsupported++;
		else
			dp->c[ei].drop_malformed++;
		log_debug("frame dropped", "eni=%s reason=\"%s\"", e->id, why);
		return;
	}
	if (e->src_dst_check) {
		if (memcmp(f.src, e->mac, 6) || (f.kind == FRAME_ARP && memcmp(f.arp.sha, e->mac, 6))) {
			dp->c[ei].drop_spoof_mac++;
			return;
		}
		/* 0.0.0.0 is how a client without a lease speaks (DHCP, ARP probes). */
		if ((f.kind == FRAME_ARP && f.arp.spa && !vpc_eni_owns(e, f.arp.spa)) ||
		    (f.kind == FRAME_IPV4 && !vpc_eni_owns(e, f.ip.src) && !(f.ip.src == 0 && is_dhcp(&f)))) {
			dp->c[ei].drop_spoof_ip++;
			return;
		}
	}
	if (f.kind == FRAME_ARP) {
		do_arp(dp, ei, &f);
		return;
	}
	if (is_dhcp(&f) && (f.ip.dst == 0xffffffffu || f.ip.dst == vpc_router_ip(subnet_of(dp, e))) &&
	    (!memcmp(f.dst, bcast_mac, 6) || !memcmp(f.dst, vpc_router_mac, 6))) {
		do_dhcp(dp, ei, &f);
		return;
	}
	/* 0.0.0.0 passed the source check for the DHCP server only: a
	 * DHCP-shaped frame to anyone else would leave with no sender. */
	if (f.ip.src == 0) {
		dp->c[ei].drop_spoof_ip++;
		return;
	}
	/* The metadata service answers the ENI's own guest only, past the
	 * source check and before any security group (as AWS's). */
	if (dp->imds && f.ip.dst == DP_IMDS_IP) {
		dp->imds(dp->imds_opaque, dp, ei, &f);
		return;
	}
	/* Link-local (169.254.0.0/16) is the card's own: a guest with its
	 * source/destination check off must not pose as the metadata service
	 * to its neighbours, nor reach anything there. */
	if ((f.ip.src >> 16) == 0xa9feu || (f.ip.dst >> 16) == 0xa9feu) {
		dp->c[ei].drop_spoof_ip++;
		return;
	}
	forward_ipv4(dp, ei, buf, &f);
}

int dp_input_remote(struct dp *dp, unsigned int vpc, uint8_t *buf, size_t len)
{
	const struct vpc_eni *d, *s;
	struct frame f;
	const char *why;
	int di, si;

	if (frame_parse(buf, len, &f, &why) || f.kind != FRAME_IPV4 || frame_mac_is_multicast(f.dst))
		return -EBADMSG;
	di = vpc_find_owner(dp->cfg, vpc, f.ip.dst);
	if (di < 0 || (dp->where && dp->where(dp->remote_opaque, vpc, f.ip.dst) != DP_LOCAL))
		return -ENOENT;
	/* The filter's peer: the ENI that owns the source in the same VPC. */
	si = vpc_find_owner(dp->cfg, vpc, f.ip.src);
	if (si < 0)
		return -EBADMSG;
	if (dp->filter && !dp->filter(dp->filter_opaque, (unsigned int)di, (unsigned int)si, DP_INGRESS, &f)) {
		dp->c[di].drop_filter++;
		return -EACCES;
	}
	/* As the card would hand it over on one host: from the peer's MAC
	 * inside a subnet, from the router's across subnets. */
	d = eni_of(dp, (unsigned int)di);
	s = eni_of(dp, (unsigned int)si);
	frame_set_macs(buf, d->mac, s->subnet == d->subnet ? s->mac : vpc_router_mac);
	dp->c[di].rx_underlay++;
	deliver(dp, (unsigned int)di, buf, f.len);
	return 0;
}
