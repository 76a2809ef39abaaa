/* sg: security-group rule evaluation for ward-net (AWS semantics). Groups
 * are allow-only: a frame is allowed if any rule of any group of the ENI
 * matches it (protocol, destination port range or ICMP type/code, and the
 * peer — the source for ingress, the destination for egress — by CIDR or
 * by membership of another group). Statefulness is conntrack's, on top
 * (filter.c): replies never reach these rules. */
#ifndef WARD_NET_SG_H
#define WARD_NET_SG_H

#include <stdbool.h>

#include "dp.h"
#include "frame.h"
#include "vpc.h"

/* Does rule r match f, whose peer address is peer? Shared with nacl.c;
 * group references (r->sg) are resolved against the ENIs of vpc. */
bool sg_rule_matches(const struct vpc_cfg *cfg, unsigned int vpc, const struct vpc_rule *r,
		     const struct frame *f, uint32_t peer);

/* Do the groups of ENI eni allow f in direction dir? */
bool sg_allows(const struct vpc_cfg *cfg, unsigned int eni, enum dp_dir dir, const struct frame *f);

#endif
