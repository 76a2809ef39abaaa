/* model: live model changes (see model.h). Each request is resolved into
 * complete new values first (rules with their group references as indices)
 * and only then written, so a refused request changes nothing. The data
 * path runs in the same thread as the control channel, so a change takes
 * effect from the next frame on. */
#include "model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static int find_vpc(const struct vpc_cfg *cfg, const char *id)
{
	for (unsigned int i = 0; i < cfg->n_vpcs; i++)
		if (!strcmp(cfg->vpcs[i].id, id))
			return (int)i;
	return -1;
}

static int find_sg(const struct vpc_cfg *cfg, const char *id)
{
	for (unsigned int i = 0; i < cfg->n_sgs; i++)
		if (!strcmp(cfg->sgs[i].id, id))
			return (int)i;
	return -1;
}

static int find_nacl(const struct vpc_cfg *cfg, const char *id)
{
	for (unsigned int i = 0; i < cfg->n_nacls; i++)
		if (!strcmp(cfg->nacls[i].id, id))
			return (int)i;
	return -1;
}

/* A rule's group reference as an index. self/self_idx: the group being
 * created, which its own rules may name before it exists. */
static int resolve(const struct vpc_cfg *cfg, unsigned int vpc, const struct netctl_rule *in,
		   const char *self, int self_idx, struct vpc_rule *out, char *err, size_t errlen)
{
	int g;

	*out = in->r;
	if (!in->sg[0])
		return 0;
	g = self && !strcmp(in->sg, self) ? self_idx : find_sg(cfg, in->sg);
	if (g < 0 || (g != self_idx && cfg->sgs[g].vpc != vpc))
		return fail(err, errlen, -ENOENT, "no security group %s in this VPC", in->sg);
	out->sg = g;
	return 0;
}

static bool rule_eq(const struct vpc_rule *a, const struct vpc_rule *b)
{
	return a->proto == b->proto && a->port_lo == b->port_lo && a->port_hi == b->port_hi &&
	       a->icmp_type == b->icmp_type && a->icmp_code == b->icmp_code && a->sg == b->sg &&
	       (a->sg >= 0 || (a->net == b->net && a->prefix == b->prefix));
}

/* rules[first, first + n) into rs; groups: no rule twice (AWS refuses a
 * duplicate permission); NACLs: no number twice, sorted by number. */
static int build_rules(const struct vpc_cfg *cfg, unsigned int vpc, const struct netctl_msg *m,
		       unsigned int first, unsigned int n, bool nacl, int self_idx,
		       struct vpc_rules *rs, char *err, size_t errlen)
{
	memset(rs, 0, sizeof(*rs));
	for (unsigned int i = 0; i < n; i++) {
		struct vpc_rule *r = &rs->r[i];
		int rc = resolve(cfg, vpc, &m->rules[first + i], m->id, self_idx, r, err, errlen);

		if (rc)
			return rc;
		for (unsigned int j = 0; j < i; j++) {
			if (nacl && rs->r[j].number == r->number)
				return fail(err, errlen, -EINVAL, "NACL rule number %u used twice", r->number);
			if (!nacl && rule_eq(&rs->r[j], r))
				return fail(err, errlen, -EEXIST, "the same rule twice");
		}
		rs->n++;
	}
	for (unsigned int k = 1; nacl && k < rs->n; k++)   /* first match wins, in number order */
		for (unsigned int j = k; j > 0 && rs->r[j - 1].number > rs->r[j].number; j--) {
			struct vpc_rule t = rs->r[j];

			rs->r[j] = rs->r[j - 1];
			rs->r[j - 1] = t;
		}
	return 0;
}

/* SG_SET and NACL_SET share the decoding: the owner VPC, the rule lists. */
static int owner_vpc(const struct vpc_cfg *cfg, const struct netctl_msg *m, char *err, size_t errlen)
{
	int v = find_vpc(cfg, m->vpc);

	return v < 0 ? fail(err, errlen, -ENOENT, "no VPC %s", m->vpc) : v;
}

static int sg_set(struct vpc_cfg *cfg, const struct netctl_msg *m, char *err, size_t errlen)
{
	struct vpc_rules in, out;
	int v = owner_vpc(cfg, m, err, errlen), g, rc;

	if (v < 0)
		return v;
	g = find_sg(cfg, m->id);
	if (g >= 0 && cfg->sgs[g].vpc != (unsigned int)v)
		return fail(err, errlen, -EINVAL, "security group %s belongs to another VPC", m->id);
	if (g < 0 && cfg->n_sgs == VPC_MAX_GROUPS)
		return fail(err, errlen, -ENOSPC, "already %d security groups", VPC_MAX_GROUPS);
	if (g < 0)
		g = (int)cfg->n_sgs;
	rc = build_rules(cfg, (unsigned int)v, m, 0, m->n_in, false, g, &in, err, errlen);
	if (!rc)
		rc = build_rules(cfg, (unsigned int)v, m, m->n_in, m->n_out, false, g, &out, err, errlen);
	if (rc)
		return rc;
	if ((unsigned int)g == cfg->n_sgs) {
		memset(&cfg->sgs[g], 0, sizeof(cfg->sgs[g]));
		memcpy(cfg->sgs[g].id, m->id, strlen(m->id) + 1);
		cfg->sgs[g].vpc = (unsigned int)v;
		cfg->n_sgs++;
	}
	cfg->sgs[g].in = in;
	cfg->sgs[g].out = out;
	return 0;
}

static bool rules_name(const struct vpc_rules *rs, int g)
{
	for (unsigned int i = 0; i < rs->n; i++)
		if (rs->r[i].sg == g)
			return true;
	return false;
}

static void rules_renumber(struct vpc_rules *rs, int from, int to)
{
	for (unsigned int i = 0; i < rs->n; i++)
		if (rs->r[i].sg == from)
			rs->r[i].sg = to;
}

/* As AWS: a group an ENI uses, or another group's rule names, stays. The
 * last group moves into the freed slot, so references to it are renumbered. */
static int sg_del(struct vpc_cfg *cfg, const struct netctl_msg *m, char *err, size_t errlen)
{
	int g = find_sg(cfg, m->id), last;

	if (g < 0)
		return fail(err, errlen, -ENOENT, "no security group %s", m->id);
	for (unsigned int e = 0; e < cfg->n_enis; e++)
		if (vpc_eni_in_sg(&cfg->enis[e], (unsigned int)g))
			return fail(err, errlen, -EBUSY, "ENI %s still uses %s", cfg->enis[e].id, m->id);
	for (unsigned int i = 0; i < cfg->n_sgs; i++)
		if ((int)i != g && (rules_name(&cfg->sgs[i].in, g) || rules_name(&cfg->sgs[i].out, g)))
			return fail(err, errlen, -EBUSY, "a rule of %s names %s", cfg->sgs[i].id, m->id);
	last = (int)--cfg->n_sgs;
	if (g != last) {
		cfg->sgs[g] = cfg->sgs[last];
		for (unsigned int i = 0; i < cfg->n_sgs; i++) {
			rules_renumber(&cfg->sgs[i].in, last, g);
			rules_renumber(&cfg->sgs[i].out, last, g);
		}
		for (unsigned int e = 0; e < cfg->n_enis; e++)
			for (unsigned int k = 0; k < cfg->enis[e].n_sgs; k++)
				if (cfg->enis[e].sgs[k] == (unsigned int)last)
					cfg->enis[e].sgs[k] = (unsigned int)g;
	}
	memset(&cfg->sgs[last], 0, sizeof(cfg->sgs[last]));
	return 0;
}

static int sg_rule(struct vpc_cfg *cfg, const struct netctl_msg *m, char *err, size_t errlen)
{
	int g = find_sg(cfg, m->id), rc;
	struct vpc_rules *rs;
	struct vpc_rule r;
	unsigned int i;

	if (g < 0)
		return fail(err, errlen, -ENOENT, "no security group %s", m->id);
	rc = resolve(cfg, cfg->sgs[g].vpc, &m->rules[0], NULL, -1, &r, err, errlen);
	if (rc)
		return rc;
	rs = m->dir ? &cfg->sgs[g].out : &cfg->sgs[g].in;
	for (i = 0; i < rs->n && !rule_eq(&rs->r[i], &r); i++)
		;
	if (m->type == NETCTL_SG_RULE_ADD) {
		if (i < rs->n)
			return fail(err, errlen, -EEXIST, "%s has that rule already", m->id);
		if (rs->n == VPC_MAX_SG_RULES)
			return fail(err, errlen, -ENOSPC, "%s has %d rules in that direction already",
				    m->id, VPC_MAX_SG_RULES);
		rs->r[rs->n++] = r;
		return 0;
	}
	if (i == rs->n)
		return fail(err, errlen, -ENOENT, "%s has no such rule", m->id);
	memmove(&rs->r[i], &rs->r[i + 1], (rs->n - i - 1) * sizeof(rs->r[0]));
	rs->n--;
	return 0;
}

static int nacl_set(struct vpc_cfg *cfg, const struct netctl_msg *m, char *err, size_t errlen)
{
	struct vpc_rules in, out;
	int v = owner_vpc(cfg, m, err, errlen), n, rc;

	if (v < 0)
		return v;
	n = find_nacl(cfg, m->id);
	if (n < 0)
		return fail(err, errlen, -ENOENT, "no NACL %s", m->id);
	if (cfg->nacls[n].vpc != (unsigned int)v)
		return fail(err, errlen, -EINVAL, "NACL %s belongs to another VPC", m->id);
	rc = build_rules(cfg, (unsigned int)v, m, 0, m->n_in, true, -1, &in, err, errlen);
	if (!rc)
		rc = build_rules(cfg, (unsigned int)v, m, m->n_in, m->n_out, true, -1, &out, err, errlen);
	if (rc)
		return rc;
	cfg->nacls[n].in = in;
	cfg->nacls[n].out = out;
	return 0;
}

static int eni_sgs(struct vpc_cfg *cfg, const struct netctl_msg *m, char *err, size_t errlen)
{
	int e = vpc_find_eni(cfg, m->id);
	unsigned int sgs[VPC_MAX_SGS];

	if (e < 0)
		return fail(err, errlen, -ENOENT, "no ENI %s", m->id);
	for (unsigned int i = 0; i < m->n_sgs; i++) {
		int g = find_sg(cfg, m->sgs[i]);

		if (g < 0 || cfg->sgs[g].vpc != cfg->enis[e].vpc)
			return fail(err, errlen, -ENOENT, "no security group %s in the ENI's VPC", m->sgs[i]);
		sgs[i] = (unsigned int)g;
	}
	memcpy(cfg->enis[e].sgs, sgs, m->n_sgs * sizeof(sgs[0]));
	cfg->enis[e].n_sgs = m->n_sgs;
	return 0;
}

int model_apply(struct vpc_cfg *cfg, const struct netctl_msg *m, char *err, size_t errlen)
{
	switch (m->type) {
	case NETCTL_SG_SET:
		return sg_set(cfg, m, err, errlen);
	case NETCTL_SG_DEL:
		return sg_del(cfg, m, err, errlen);
	case NETCTL_SG_RULE_ADD:
	case NETCTL_SG_RULE_DEL:
		return sg_rule(cfg, m, err, errlen);
	case NETCTL_NACL_SET:
		return nacl_set(cfg, m, err, errlen);
	case NETCTL_ENI_SGS:
		return eni_sgs(cfg, m, err, errlen);
	default:
		return fail(err, errlen, -EINVAL, "not a model change");
	}
}
