/* nacl: first-match evaluation of a subnet's NACL (see nacl.h). Rules are
 * sorted by number when the config is loaded (vpc.c). */
#include "nacl.h"

#include "sg.h"

bool nacl_allows(const struct vpc_cfg *cfg, unsigned int subnet, enum dp_dir dir, const struct frame *f)
{
	const struct vpc_subnet *s = &cfg->subnets[subnet];
	const struct vpc_rules *rs;
	uint32_t peer = dir == DP_EGRESS ? f->ip.dst : f->ip.src;

	if (s->nacl < 0)
		return true;
	rs = dir == DP_EGRESS ? &cfg->nacls[s->nacl].out : &cfg->nacls[s->nacl].in;
	for (unsigned int i = 0; i < rs->n; i++)
		if (sg_rule_matches(cfg, s->vpc, &rs->r[i], f, peer))
			return rs->r[i].allow;
	return false;   /* the final, implicit deny (AWS's rule "*") */
}
