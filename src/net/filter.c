/* filter: security groups + conntrack + NACLs on the dp hook (see
 * filter.h). A flow a group allows is tracked, so when a rule goes, flows
 * it let in live on until they idle out — except, as in AWS, a TCP or UDP
 * flow the ENI's groups open to everyone both ways (an all-ports rule for
 * 0.0.0.0/0 inbound and outbound): that one is left untracked, meets the
 * rules on every packet, and stops at once when such a rule goes. */
#include "filter.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "nacl.h"
#include "sg.h"

int filter_init(struct filter *fl, const struct vpc_cfg *cfg, struct dp_counters *c)
{
	memset(fl, 0, sizeof(*fl));
	fl->cfg = cfg;
	fl->c = c;
	for (unsigned int i = 0; i < cfg->n_enis; i++) {
		int rc = ct_init(&fl->ct[i], cfg->enis[i].ct_max);

		if (rc) {
			filter_destroy(fl);
			return rc;
		}
	}
	return 0;
}

void filter_destroy(struct filter *fl)
{
	for (unsigned int i = 0; i < VPC_MAX_ENIS; i++)
		ct_destroy(&fl->ct[i]);
}

uint64_t filter_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec + 1;   /* never 0: 0 is "expired" */
}

/* Does rule r admit every port of protocol proto from/to anywhere? */
static bool open_rule(const struct vpc_rule *r, uint8_t proto)
{
	return r->sg < 0 && r->prefix == 0 &&
	       (r->proto == VPC_PROTO_ALL ||
		(r->proto == proto && r->port_lo == 0 && r->port_hi == 65535));
}

static bool open_dir(const struct vpc_cfg *cfg, const struct vpc_eni *e, bool out, uint8_t proto)
{
	for (unsigned int g = 0; g < e->n_sgs; g++) {
		const struct vpc_rules *rs = out ? &cfg->sgs[e->sgs[g]].out : &cfg->sgs[e->sgs[g]].in;

		for (unsigned int i = 0; i < rs->n; i++)
			if (open_rule(&rs->r[i], proto))
				return true;
	}
	return false;
}

/* AWS: "If a security group rule permits TCP or UDP flows for all traffic
 * (0.0.0.0/0) and there is a corresponding rule in the other direction
 * that permits all response traffic (0.0.0.0/0) for all ports, then that
 * flow of traffic is not tracked." ICMP is always tracked. */
bool filter_untracked(const struct vpc_cfg *cfg, unsigned int eni, const struct frame *f)
{
	const struct vpc_eni *e = &cfg->enis[eni];

	if (f->l4 != L4_TCP && f->l4 != L4_UDP)
		return false;
	return open_dir(cfg, e, false, f->ip.proto) && open_dir(cfg, e, true, f->ip.proto);
}

static bool stateful(struct filter *fl, unsigned int eni, enum dp_dir dir, const struct frame *f)
{
	struct ct_table *t = &fl->ct[eni];
	struct dp_counters *c = &fl->c[eni];
	enum ct_verdict v = ct_lookup(t, f, fl->now);
	int rc;

	if (v == CT_PASS)
		return true;
	if (v == CT_INVALID) {
		c->drop_ct_invalid++;
		return false;
	}
	if (!sg_allows(fl->cfg, eni, dir, f)) {
		c->drop_sg++;
		return false;
	}
	if (filter_untracked(fl->cfg, eni, f))
		return true;
	rc = ct_add(t, f, fl->now);
	if (rc == -ENOSPC) {
		c->conntrack_allowance_exceeded++;
		return false;
	}
	if (rc < 0) {
		c->drop_ct_invalid++;
		return false;
	}
	return true;   /* tracked, or (ICMP errors, fragments) allowed by the rules alone */
}

bool filter_check(void *opaque, unsigned int eni, unsigned int peer, enum dp_dir dir,
		  const struct frame *f)
{
	struct filter *fl = opaque;
	const struct vpc_eni *e = &fl->cfg->enis[eni];

	if (e->subnet != fl->cfg->enis[peer].subnet && !nacl_allows(fl->cfg, e->subnet, dir, f)) {
		fl->c[eni].drop_nacl++;
		return false;
	}
	return stateful(fl, eni, dir, f);
}
