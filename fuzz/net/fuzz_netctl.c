/* fuzz_netctl: ward-net's control-channel parser on arbitrary packets (no
 * fds: an ATTACH must then be refused), and every model change it accepts
 * applied to a small model (model.c). A PEER, MAP or UNMAP it accepts must
 * hold what the underlay relies on (a host id of [A-Za-z0-9_-], a VPC id,
 * a VNI in 1..0xFFFFFF, a non-zero address); a rule must be well formed;
 * and after any change the model must still be one the data path can
 * trust: every group index in range, 1..5 groups per ENI, rule counts
 * within their limits, a NACL's rules in number order. An ENI_META it
 * accepts holds nothing IMDS could not put in a reply verbatim. */
#include <ctype.h>
#include <string.h>
#include <stdint.h>
#include <stdlib.h>

#include "net/model.h"
#include "net/netctl.h"
#include "net/vpc.h"

static const char model[] =
	"{\"version\":1,\"vpcs\":[{\"id\":\"v\",\"cidr\":\"10.0.0.0/16\"},{\"id\":\"w\",\"cidr\":\"10.1.0.0/16\"}],"
	"\"subnets\":[{\"id\":\"s1\",\"vpc\":\"v\",\"cidr\":\"10.0.1.0/24\"},"
	"            {\"id\":\"s2\",\"vpc\":\"w\",\"cidr\":\"10.1.1.0/24\"}],"
	"\"security_groups\":[{\"id\":\"a\",\"vpc\":\"v\",\"ingress\":[{\"proto\":\"all\",\"sg\":\"a\"}]},"
	" {\"id\":\"b\",\"vpc\":\"v\",\"egress\":[{\"proto\":\"all\",\"sg\":\"a\"}]},"
	" {\"id\":\"c\",\"vpc\":\"w\"}],"
	"\"nacls\":[{\"id\":\"n\",\"vpc\":\"v\",\"subnets\":[\"s1\"]}],"
	"\"enis\":[{\"id\":\"e\",\"subnet\":\"s1\",\"mac\":\"02:00:00:00:00:01\",\"ip\":\"10.0.1.10\","
	"  \"security_groups\":[\"a\",\"b\"]},"
	" {\"id\":\"f\",\"subnet\":\"s2\",\"mac\":\"02:00:00:00:00:02\",\"ip\":\"10.1.1.10\","
	"  \"security_groups\":[\"c\"]}]}";

static void check_rules(const struct vpc_cfg *cfg, const struct vpc_rules *rs, unsigned int vpc,
			unsigned int max, bool nacl)
{
	if (rs->n > max)
		abort();
	for (unsigned int i = 0; i < rs->n; i++) {
		const struct vpc_rule *r = &rs->r[i];

		if (r->sg >= (int)cfg->n_sgs || (r->sg >= 0 && cfg->sgs[r->sg].vpc != vpc) ||
		    r->prefix > 32 || (r->net & ~vpc_mask(r->prefix)) ||
		    r->port_lo > r->port_hi || (nacl && (r->sg >= 0 || !r->number)) ||
		    (nacl && i && rs->r[i - 1].number >= r->number))
			abort();
	}
}

static void check_model(const struct vpc_cfg *cfg)
{
	if (cfg->n_sgs > VPC_MAX_GROUPS)
		abort();
	for (unsigned int e = 0; e < cfg->n_enis; e++) {
		const struct vpc_eni *x = &cfg->enis[e];

		if (!x->n_sgs || x->n_sgs > VPC_MAX_SGS)
			abort();
		for (unsigned int k = 0; k < x->n_sgs; k++)
			if (x->sgs[k] >= cfg->n_sgs || cfg->sgs[x->sgs[k]].vpc != x->vpc)
				abort();
	}
	for (unsigned int g = 0; g < cfg->n_sgs; g++) {
		check_rules(cfg, &cfg->sgs[g].in, cfg->sgs[g].vpc, VPC_MAX_SG_RULES, false);
		check_rules(cfg, &cfg->sgs[g].out, cfg->sgs[g].vpc, VPC_MAX_SG_RULES, false);
	}
	for (unsigned int n = 0; n < cfg->n_nacls; n++) {
		check_rules(cfg, &cfg->nacls[n].in, cfg->nacls[n].vpc, VPC_MAX_NACL_RULES, true);
		check_rules(cfg, &cfg->nacls[n].out, cfg->nacls[n].vpc, VPC_MAX_NACL_RULES, true);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct netctl_msg m;
	static struct vpc_cfg cfg;
	char err[160];

	if (netctl_parse(data, size, NULL, 0, &m, err, sizeof(err)) != 0)
		return 0;
	if (m.type == NETCTL_ATTACH || m.fd != -1 || !m.id[0])
		abort();
	if (m.type == NETCTL_PEER || m.type == NETCTL_MAP || m.type == NETCTL_UNMAP ||
	    m.type == NETCTL_PEER_DEL) {
		for (size_t i = 0; m.id[i]; i++)
			if (!isalnum((unsigned char)m.id[i]) && m.id[i] != '_' && m.id[i] != '-')
				abort();
		if (m.type != NETCTL_PEER_DEL && !m.addr)
			abort();
		if (m.type != NETCTL_PEER && m.type != NETCTL_PEER_DEL &&
		    (!m.vpc[0] || !m.vni || m.vni > 0xffffff))
			abort();
	}
	if (m.type == NETCTL_ENI_META) {
		/* IMDS writes these into HTTP and JSON verbatim: nothing that
		 * could end a string, a header or a line may get through, and
		 * credentials come with a role or not at all. */
		const char *f[] = { m.meta.instance, m.meta.az, m.meta.role, m.meta.access_key_id,
				    m.meta.last_updated, m.meta.expiration, m.meta.secret, m.meta.token };

		for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
			for (const char *p = f[i]; *p; p++)
				if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
					abort();
		if (!m.meta.role[0] != !m.meta.secret[0] || !m.meta.role[0] != !m.meta.token[0] ||
		    m.meta.device_number > 255)
			abort();
		return 0;
	}
	if (m.type < NETCTL_SG_SET || m.type > NETCTL_ENI_SGS)
		return 0;
	if (m.n_in > NETCTL_MAX_RULES / 2 || m.n_out > NETCTL_MAX_RULES / 2 || m.n_sgs > VPC_MAX_SGS)
		abort();
	if (vpc_load(model, sizeof(model) - 1, &cfg, err, sizeof(err)))
		abort();
	model_apply(&cfg, &m, err, sizeof(err));
	check_model(&cfg);
	return 0;
}
