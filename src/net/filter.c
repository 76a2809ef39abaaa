/* filter: security groups + conntrack + NACLs on the dp hook (see
 * filter.h). Every flow a group allows is tracked (AWS leaves flows under
 * "allow all both ways" untracked as an optimisation; ward-net does not),
 * so when a rule goes, flows it let in live on until they idle out. */
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
