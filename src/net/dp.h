/* dp: ward-net's on-host data path — what happens to one frame an ENI's
 * guest sent: parse (frame.c), source/destination check, ARP answered by
 * the card, DHCP (dhcp.c), switching inside a subnet and L3 routing between
 * the subnets of one VPC through the router, the filter hook (security
 * groups / NACLs go there), delivery to the destination ENI. Other VPCs are
 * unreachable: a destination is only ever looked up in the sender's VPC.
 * Nothing is broadcast or flooded. One dp per ward-net, driven by one thread. */
#ifndef WARD_NET_DP_H
#define WARD_NET_DP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "vpc.h"

/* Per-ENI counters (ward-net logs them on SIGUSR1 and at exit; tests
 * assert on them). tx = from the guest, rx = to the guest. */
#define DP_COUNTERS(X) \
	X(tx_frames) X(tx_bytes) X(rx_frames) X(rx_bytes) \
	X(arp_replies) X(arp_unanswered) X(arp_ignored) X(dhcp_replies) \
	X(drop_malformed) X(drop_unsupported) X(drop_spoof_mac) X(drop_spoof_ip) \
	X(drop_no_route) X(drop_to_router) X(drop_broadcast) X(drop_dhcp) \
	X(drop_filter) X(drop_rx_full) X(drop_oversize) X(drop_bad_header) \
	X(drop_sg) X(drop_nacl) X(drop_ct_invalid) X(conntrack_allowance_exceeded) \
	X(drop_no_mapping) X(tx_underlay) X(drop_underlay) X(rx_underlay) \
	X(imds_requests) X(imds_tokens) X(imds_refused) X(imds_throttled) X(imds_conn_full) \
	X(imds_drop)

struct dp_counters {
#define DP_FIELD(n) uint64_t n;
	DP_COUNTERS(DP_FIELD)
#undef DP_FIELD
};

enum dp_dir { DP_EGRESS, DP_INGRESS };

/* Where an address of a VPC lives, per the controller's mapping table
 * (underlay.c): on this host, on another (through the underlay), or
 * nowhere known (dropped and counted as drop_no_mapping, never flooded). */
enum dp_where { DP_LOCAL, DP_REMOTE, DP_UNKNOWN };
typedef enum dp_where (*dp_where_fn)(void *opaque, unsigned int vpc, uint32_t ip);
/* Seal and send a frame of VPC vpc to the host that owns its destination:
 * 0, or -errno (counted as drop_underlay on the sender). */
typedef int (*dp_send_remote_fn)(void *opaque, unsigned int vpc, const uint8_t *frame, size_t len);

/* Put a frame on ENI eni's receive queue. 0, or -ENOBUFS when it has no
 * room (counted as drop_rx_full on that ENI). */
typedef int (*dp_deliver_fn)(void *opaque, unsigned int eni, const uint8_t *frame, size_t len);

/* The filter hook (filter.c: security groups, NACLs, conntrack). Called
 * for each frame leaving eni for peer (EGRESS) and arriving at eni from
 * peer (INGRESS), after routing and before delivery; false drops it,
 * counted as drop_filter on that ENI (the filter counts the reason). NULL
 * allows everything. */
typedef bool (*dp_filter_fn)(void *opaque, unsigned int eni, unsigned int peer, enum dp_dir dir,
			     const struct frame *f);

/* Frames from ENI eni's guest to 169.254.169.254 (DP_IMDS_IP). */
#define DP_IMDS_IP 0xa9fea9feu
struct dp;
typedef void (*dp_imds_fn)(void *opaque, struct dp *dp, unsigned int eni, const struct frame *f);

struct dp {
	const struct vpc_cfg *cfg;
	struct dp_counters c[VPC_MAX_ENIS];
	dp_deliver_fn deliver;
	void *opaque;
	dp_filter_fn filter;
	void *filter_opaque;
	/* The underlay; NULL: every ENI of the config is local. */
	dp_where_fn where;
	dp_send_remote_fn send_remote;
	void *remote_opaque;
	uint8_t scratch[FRAME_MAX_LEN];   /* frames the card originates */
	/* Instance metadata (imds.h: imds_input); NULL: frames to
	 * 169.254.169.254 are dropped as unroutable. */
	dp_imds_fn imds;
	void *imds_opaque;
};

void dp_init(struct dp *dp, const struct vpc_cfg *cfg, dp_deliver_fn deliver, void *opaque);

/* A frame the card itself sends to ENI eni's guest (DHCP, ARP, IMDS
 * replies): delivered and counted as rx on that ENI. */
void dp_to_guest(struct dp *dp, unsigned int eni, const uint8_t *frame, size_t len);

/* One frame transmitted by ENI eni's guest. buf is ward-net's private copy
 * (the guest cannot change it any more) and may be rewritten in place. */
void dp_input(struct dp *dp, unsigned int eni, uint8_t *buf, size_t len);

/* One frame of VPC vpc that the underlay received and opened (its sender's
 * card already checked its source; the tunnel checked that the sending
 * host owns that source). It gets the destination side of a local frame:
 * the destination must be a local ENI of that VPC, then the ingress filter
 * (security groups, NACL), then delivery. 0 (delivered, or dropped at the
 * ENI's queue and counted there), -ENOENT (no local ENI owns the
 * destination), -EACCES (filtered, counted as drop_filter on the ENI),
 * -EBADMSG (not a unicast IPv4 frame from an ENI of the VPC). */
int dp_input_remote(struct dp *dp, unsigned int vpc, uint8_t *buf, size_t len);

#endif
