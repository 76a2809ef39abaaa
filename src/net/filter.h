/* filter: ward-net's packet filter on the dp hook — per ENI a conntrack
 * table and its security groups, per subnet its NACL. Egress: the source
 * subnet's NACL (when the frame leaves the subnet), then the flow table,
 * then the groups' egress rules for a new flow. Ingress: the destination
 * subnet's NACL, then the flow table, then the ingress rules. Replies of a
 * tracked flow never meet the group rules (stateful), but always meet the
 * NACLs (stateless). */
#ifndef WARD_NET_FILTER_H
#define WARD_NET_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "conntrack.h"
#include "dp.h"
#include "vpc.h"

struct filter {
	const struct vpc_cfg *cfg;
	struct dp_counters *c;       /* dp's, indexed by ENI */
	struct ct_table ct[VPC_MAX_ENIS];
	uint64_t now;                /* seconds; set by the caller per batch */
};

/* One table per ENI of the config, each of its conntrack_max. */
int filter_init(struct filter *fl, const struct vpc_cfg *cfg, struct dp_counters *c);
void filter_destroy(struct filter *fl);

/* dp_filter_fn; opaque is the struct filter. */
bool filter_check(void *opaque, unsigned int eni, unsigned int peer, enum dp_dir dir,
		  const struct frame *f);

/* Would a TCP/UDP frame f of ENI eni be left untracked (its groups allow
 * all of that protocol from and to 0.0.0.0/0)? Such flows meet the rules
 * on every packet, so removing the rule stops them at once. */
bool filter_untracked(const struct vpc_cfg *cfg, unsigned int eni, const struct frame *f);

/* Seconds on the monotonic clock. */
uint64_t filter_clock(void);

#endif
