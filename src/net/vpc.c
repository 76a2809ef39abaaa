/* vpc: load and validate ward-net's VPC model from JSON (jansson). The
 * controller is trusted to mean well but not to be right: overlapping
 * subnets, an ENI address that is reserved or taken, a multicast MAC or the
 * router's own are refused here, naming the field, so the data path never
 * sees an ambiguous model. */
#include "vpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const uint8_t vpc_router_mac[6] = { 0x02, 0x77, 0x61, 0x72, 0x64, 0x01 };

const char *vpc_ip_str(uint32_t ip, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
	return buf;
}

bool vpc_reserved(const struct vpc_subnet *s, uint32_t ip)
{
	uint32_t off = ip - s->net;

	return off < 4 || ip == (s->net | ~vpc_mask(s->prefix));
}

uint32_t vpc_router_ip(const struct vpc_subnet *s) { return s->net + 1; }
uint32_t vpc_dns_ip(const struct vpc *v) { return v->net + 2; }

bool vpc_eni_in_sg(const struct vpc_eni *e, unsigned int sg)
{
	for (unsigned int i = 0; i < e->n_sgs; i++)
		if (e->sgs[i] == sg)
			return true;
	return false;
}

bool vpc_eni_owns(const struct vpc_eni *e, uint32_t ip)
{
	if (e->ip == ip)
		return true;
	for (unsigned int i = 0; i < e->n_sec_ips; i++)
		if (e->sec_ips[i] == ip)
			return true;
	return false;
}

int vpc_find_owner(const struct vpc_cfg *cfg, unsigned int vpc, uint32_t ip)
{
	for (unsigned int i = 0; i < cfg->n_enis; i++)
		if (cfg->enis[i].vpc == vpc && vpc_eni_owns(&cfg->enis[i], ip))
			return (int)i;
	return -1;
}

int vpc_find_eni(const struct vpc_cfg *cfg, const char *id)
{
	for (unsigned int i = 0; i < cfg->n_enis; i++)
		if (!strcmp(cfg->enis[i].id, id))
			return (int)i;
	return -1;
}

struct ctx {
	char *err;
	size_t errlen;
};

static int fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool valid_id(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > VPC_ID_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return false;
	return true;
}

static int get_id(struct ctx *c, json_t *o, const char *where, const char *key, char out[VPC_ID_LEN + 1])
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s || !valid_id(s))
		return fail(c, "%s.%s: must be 1-%d characters of [A-Za-z0-9_-]", where, key, VPC_ID_LEN);
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

/* Dotted quad, strictly (inet_pton refuses leading zeros and short forms). */
static int parse_ip(const char *s, uint32_t *ip)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*ip = ntohl(a.s_addr);
	return 0;
}

static int get_ip(struct ctx *c, json_t *v, const char *where, uint32_t *ip)
{
	if (parse_ip(json_string_value(v), ip))
		return fail(c, "%s: must be an IPv4 address \"a.b.c.d\"", where);
	return 0;
}

/* "a.b.c.d/n" with n in [16, 28] (AWS's VPC and subnet sizes) and no host
 * bits set, so one CIDR has one spelling. */
static int parse_cidr(struct ctx *c, json_t *v, const char *where, unsigned int min,
		      unsigned int max, uint32_t *net, uint8_t *prefix)
{
	const char *s = json_string_value(v);
	char buf[32], *slash, *end;
	unsigned long n;

	if (!s || strlen(s) >= sizeof(buf))
		return fail(c, "%s.cidr: must be \"a.b.c.d/n\"", where);
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return fail(c, "%s.cidr: must be \"a.b.c.d/n\"", where);
	*slash = 0;
	n = strtoul(slash + 1, &end, 10);
	if (parse_ip(buf, net) || *end || end == slash + 1 || (slash[1] == '0' && slash[2]) ||
	    n < min || n > max)
		return fail(c, "%s.cidr: must be \"a.b.c.d/n\" with n from %u to %u, got \"%s\"", where,
			    min, max, s);
	*prefix = (uint8_t)n;
	if (*net & ~vpc_mask(*prefix))
		return fail(c, "%s.cidr: %s has host bits set", where, s);
	return 0;
}

static int get_cidr(struct ctx *c, json_t *o, const char *where, uint32_t *net, uint8_t *prefix)
{
	return parse_cidr(c, json_object_get(o, "cidr"), where, 16, 28, net, prefix);
}

static int get_mac(struct ctx *c, json_t *o, const char *where, uint8_t mac[6])
{
	const char *s = json_string_value(json_object_get(o, "mac"));
	unsigned int b[6];
	char tail;

	if (!s || strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
		return fail(c, "%s.mac: must be \"xx:xx:xx:xx:xx:xx\"", where);
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	if (mac[0] & 1)
		return fail(c, "%s.mac: %s is a multicast address", where, s);
	if (!memcmp(mac, vpc_router_mac, 6) || !memcmp(mac, "\0\0\0\0\0\0", 6))
		return fail(c, "%s.mac: %s is reserved (the router's, or zero)", where, s);
	return 0;
}

/* Unknown keys are refused: a misspelt "source_dest_check" must not
 * silently leave the default in force. keys ends with NULL. */
static int check_keys(struct ctx *c, json_t *o, const char *where, const char *const *keys)
{
	const char *key;
	json_t *val;

	json_object_foreach(o, key, val) {
		size_t i = 0;

		while (keys[i] && strcmp(keys[i], key))
			i++;
		if (!keys[i])
			return fail(c, "%s: unknown key \"%s\"", where, key);
	}
	return 0;
}

static int find_by_id(const char *id, const void *arr, size_t stride, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (!strcmp((const char *)arr + i * stride, id))
			return (int)i;
	return -1;
}

static int load_vpcs(struct ctx *c, json_t *arr, struct vpc_cfg *cfg)
{
	size_t i;
	json_t *o;
	char where[48];

	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > VPC_MAX_VPCS)
		return fail(c, "vpcs: must be an array of 1-%d VPCs", VPC_MAX_VPCS);
	json_array_foreach(arr, i, o) {
		struct vpc *v = &cfg->vpcs[i];

		snprintf(where, sizeof(where), "vpcs[%zu]", i);
		if (!json_is_object(o))
			return fail(c, "%s: must be an object", where);
		if (check_keys(c, o, where, (const char *const[]){ "id", "cidr", NULL }) ||
		    get_id(c, o, where, "id", v->id) || get_cidr(c, o, where, &v->net, &v->prefix))
			return -EINVAL;
		if (find_by_id(v->id, cfg->vpcs, sizeof(*v), (unsigned int)i) >= 0)
			return fail(c, "%s.id: %s appears twice", where, v->id);
		cfg->n_vpcs++;
	}
	return 0;
}

static int load_subnets(struct ctx *c, json_t *arr, struct vpc_cfg *cfg)
{
	size_t i;
	json_t *o;
	char where[48], vid[VPC_ID_LEN + 1];

	if (!json_is_array(arr) || json_array_size(arr) > VPC_MAX_SUBNETS)
		return fail(c, "subnets: must be an array of at most %d subnets", VPC_MAX_SUBNETS);
	json_array_foreach(arr, i, o) {
		struct vpc_subnet *s = &cfg->subnets[i];
		const struct vpc *v;
		int vi;

		snprintf(where, sizeof(where), "subnets[%zu]", i);
		if (!json_is_object(o))
			return fail(c, "%s: must be an object", where);
		if (check_keys(c, o, where, (const char *const[]){ "id", "vpc", "cidr", NULL }) ||
		    get_id(c, o, where, "id", s->id) || get_id(c, o, where, "vpc", vid) ||
		    get_cidr(c, o, where, &s->net, &s->prefix))
			return -EINVAL;
		if (find_by_id(s->id, cfg->subnets, sizeof(*s), (unsigned int)i) >= 0)
			return fail(c, "%s.id: %s appears twice", where, s->id);
		vi = find_by_id(vid, cfg->vpcs, sizeof(cfg->vpcs[0]), cfg->n_vpcs);
		if (vi < 0)
			return fail(c, "%s.vpc: no VPC %s", where, vid);
		s->vpc = (unsigned int)vi;
		s->nacl = -1;
		v = &cfg->vpcs[vi];
		if (s->prefix < v->prefix || !vpc_in(s->net, v->net, v->prefix))
			return fail(c, "%s.cidr: not inside VPC %s", where, v->id);
		for (size_t j = 0; j < i; j++) {
			const struct vpc_subnet *t = &cfg->subnets[j];
			uint8_t p = t->prefix < s->prefix ? t->prefix : s->prefix;

			if (t->vpc == s->vpc && (t->net & vpc_mask(p)) == (s->net & vpc_mask(p)))
				return fail(c, "%s.cidr: overlaps subnet %s", where, t->id);
		}
		cfg->n_subnets++;
	}
	return 0;
}

static int get_proto(struct ctx *c, json_t *v, const char *where, int16_t *proto)
{
	const char *s = json_string_value(v);

	if (s && !strcmp(s, "all"))
		*proto = VPC_PROTO_ALL;
	else if (s && !strcmp(s, "tcp"))
		*proto = 6;
	else if (s && !strcmp(s, "udp"))
		*proto = 17;
	else if (s && !strcmp(s, "icmp"))
		*proto = 1;
	else if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 255)
		*proto = (int16_t)json_integer_value(v);
	else
		return fail(c, "%s.proto: must be \"all\", \"tcp\", \"udp\", \"icmp\" or 0-255", where);
	return 0;
}

/* [a, b] with lo <= a <= b <= hi. */
static int get_pair(struct ctx *c, json_t *v, const char *where, const char *key, long lo, long hi,
		    bool ordered, long *a, long *b)
{
	json_t *x = json_array_get(v, 0), *y = json_array_get(v, 1);

	if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(x) || !json_is_integer(y) ||
	    json_integer_value(x) < lo || json_integer_value(x) > hi || json_integer_value(y) < lo ||
	    json_integer_value(y) > hi || (ordered && json_integer_value(x) > json_integer_value(y)))
		return fail(c, "%s.%s: must be [a, b] with %ld <= a%sb <= %ld", where, key, lo,
			    ordered ? " <= " : ", ", hi);
	*a = (long)json_integer_value(x);
	*b = (long)json_integer_value(y);
	return 0;
}

/* One rule. nacl: number and action are required and sg is not allowed. */
static int load_rule(struct ctx *c, json_t *o, const char *where, struct vpc_cfg *cfg,
		     unsigned int vpc, bool nacl, struct vpc_rule *r)
{
	json_t *ports = json_object_get(o, "ports"), *icmp = json_object_get(o, "icmp");
	json_t *cidr = json_object_get(o, "cidr"), *sg = json_object_get(o, "sg");
	long a, b;

	if (!json_is_object(o))
		return fail(c, "%s: must be an object", where);
	if (check_keys(c, o, where, nacl ? (const char *const[]){ "rule", "action", "proto", "ports",
								   "icmp", "cidr", NULL }
					 : (const char *const[]){ "proto", "ports", "icmp", "cidr", "sg",
								   NULL }))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->sg = -1;
	r->allow = true;
	r->port_hi = 65535;
	r->icmp_type = r->icmp_code = VPC_ANY;
	if (get_proto(c, json_object_get(o, "proto"), where, &r->proto))
		return -EINVAL;
	if (r->proto == 6 || r->proto == 17) {
		if (!ports)
			return fail(c, "%s.ports: required for tcp and udp", where);
		if (get_pair(c, ports, where, "ports", 0, 65535, true, &a, &b))
			return -EINVAL;
		r->port_lo = (uint16_t)a;
		r->port_hi = (uint16_t)b;
	} else if (ports) {
		return fail(c, "%s.ports: only for tcp and udp", where);
	}
	if (icmp && r->proto != 1)
		return fail(c, "%s.icmp: only for icmp", where);
	if (icmp) {
		if (get_pair(c, icmp, where, "icmp", -1, 255, false, &a, &b))
			return -EINVAL;
		r->icmp_type = (int16_t)a;
		r->icmp_code = (int16_t)b;
	}
	if (!cidr == !sg)
		return fail(c, "%s: needs exactly one of cidr%s", where, nacl ? "" : " and sg");
	if (cidr && parse_cidr(c, cidr, where, 0, 32, &r->net, &r->prefix))
		return -EINVAL;
	if (sg) {
		const char *id = json_string_value(sg);
		int g = id ? find_by_id(id, cfg->sgs, sizeof(cfg->sgs[0]), cfg->n_sgs) : -1;

		if (g < 0 || cfg->sgs[g].vpc != vpc)
			return fail(c, "%s.sg: no security group %s in this VPC", where, id ? id : "");
		r->sg = g;
	}
	if (nacl) {
		json_t *n = json_object_get(o, "rule");
		const char *act = json_string_value(json_object_get(o, "action"));

		if (!json_is_integer(n) || json_integer_value(n) < 1 || json_integer_value(n) > 32766)
			return fail(c, "%s.rule: must be 1-32766", where);
		r->number = (uint16_t)json_integer_value(n);
		if (!act || (strcmp(act, "allow") && strcmp(act, "deny")))
			return fail(c, "%s.action: must be \"allow\" or \"deny\"", where);
		r->allow = !strcmp(act, "allow");
	}
	return 0;
}

static int load_rules(struct ctx *c, json_t *arr, const char *where, struct vpc_cfg *cfg,
		      unsigned int vpc, bool nacl, struct vpc_rules *rs)
{
	unsigned int max = nacl ? VPC_MAX_NACL_RULES : VPC_MAX_SG_RULES;
	char w[128];
	size_t i;
	json_t *o;

	if (arr && (!json_is_array(arr) || json_array_size(arr) > max))
		return fail(c, "%s: must be an array of at most %u rules", where, max);
	json_array_foreach(arr, i, o) {
		snprintf(w, sizeof(w), "%s[%zu]", where, i);
		if (load_rule(c, o, w, cfg, vpc, nacl, &rs->r[i]))
			return -EINVAL;
		for (size_t j = 0; nacl && j < i; j++)
			if (rs->r[j].number == rs->r[i].number)
				return fail(c, "%s.rule: number %u used twice", w, rs->r[i].number);
		rs->n++;
	}
	/* First match wins, in rule-number order: sort once here. */
	for (unsigned int k = 1; nacl && k < rs->n; k++)
		for (unsigned int j = k; j > 0 && rs->r[j - 1].number > rs->r[j].number; j--) {
			struct vpc_rule t = rs->r[j];

			rs->r[j] = rs->r[j - 1];
			rs->r[j - 1] = t;
		}
	return 0;
}

static int load_owner_vpc(struct ctx *c, json_t *o, const char *where, struct vpc_cfg *cfg,
			  unsigned int *vpc)
{
	char vid[VPC_ID_LEN + 1];
	int vi;

	if (get_id(c, o, where, "vpc", vid))
		return -EINVAL;
	vi = find_by_id(vid, cfg->vpcs, sizeof(cfg->vpcs[0]), cfg->n_vpcs);
	if (vi < 0)
		return fail(c, "%s.vpc: no VPC %s", where, vid);
	*vpc = (unsigned int)vi;
	return 0;
}

/* Two passes: every group's id first, so a rule may name any group. */
static int load_sgs(struct ctx *c, json_t *arr, struct vpc_cfg *cfg)
{
	char where[48], w[64];
	size_t i;
	json_t *o;

	if (arr && (!json_is_array(arr) || json_array_size(arr) > VPC_MAX_GROUPS))
		return fail(c, "security_groups: must be an array of at most %d groups", VPC_MAX_GROUPS);
	json_array_foreach(arr, i, o) {
		struct vpc_sg *g = &cfg->sgs[i];

		snprintf(where, sizeof(where), "security_groups[%zu]", i);
		if (!json_is_object(o))
			return fail(c, "%s: must be an object", where);
		if (check_keys(c, o, where, (const char *const[]){ "id", "vpc", "ingress", "egress", NULL }) ||
		    get_id(c, o, where, "id", g->id) || load_owner_vpc(c, o, where, cfg, &g->vpc))
			return -EINVAL;
		if (find_by_id(g->id, cfg->sgs, sizeof(*g), (unsigned int)i) >= 0)
			return fail(c, "%s.id: %s appears twice", where, g->id);
		cfg->n_sgs++;
	}
	json_array_foreach(arr, i, o) {
		struct vpc_sg *g = &cfg->sgs[i];

		snprintf(w, sizeof(w), "security_groups[%zu].ingress", i);
		if (load_rules(c, json_object_get(o, "ingress"), w, cfg, g->vpc, false, &g->in))
			return -EINVAL;
		snprintf(w, sizeof(w), "security_groups[%zu].egress", i);
		if (load_rules(c, json_object_get(o, "egress"), w, cfg, g->vpc, false, &g->out))
			return -EINVAL;
	}
	return 0;
}

static int load_nacls(struct ctx *c, json_t *arr, struct vpc_cfg *cfg)
{
	char where[48], w[64];
	size_t i, j;
	json_t *o, *sn;

	if (arr && (!json_is_array(arr) || json_array_size(arr) > VPC_MAX_NACLS))
		return fail(c, "nacls: must be an array of at most %d NACLs", VPC_MAX_NACLS);
	json_array_foreach(arr, i, o) {
		struct vpc_nacl *n = &cfg->nacls[i];
		json_t *subs;

		snprintf(where, sizeof(where), "nacls[%zu]", i);
		if (!json_is_object(o))
			return fail(c, "%s: must be an object", where);
		if (check_keys(c, o, where, (const char *const[]){ "id", "vpc", "subnets", "ingress",
								   "egress", NULL }) ||
		    get_id(c, o, where, "id", n->id) || load_owner_vpc(c, o, where, cfg, &n->vpc))
			return -EINVAL;
		if (find_by_id(n->id, cfg->nacls, sizeof(*n), (unsigned int)i) >= 0)
			return fail(c, "%s.id: %s appears twice", where, n->id);
		snprintf(w, sizeof(w), "%s.ingress", where);
		if (load_rules(c, json_object_get(o, "ingress"), w, cfg, n->vpc, true, &n->in))
			return -EINVAL;
		snprintf(w, sizeof(w), "%s.egress", where);
		if (load_rules(c, json_object_get(o, "egress"), w, cfg, n->vpc, true, &n->out))
			return -EINVAL;
		subs = json_object_get(o, "subnets");
		if (!json_is_array(subs))
			return fail(c, "%s.subnets: must be an array of subnet ids", where);
		json_array_foreach(subs, j, sn) {
			const char *id = json_string_value(sn);
			int si = id ? find_by_id(id, cfg->subnets, sizeof(cfg->subnets[0]), cfg->n_subnets) : -1;

			if (si < 0 || cfg->subnets[si].vpc != n->vpc)
				return fail(c, "%s.subnets[%zu]: no subnet %s in this VPC", where, j, id ? id : "");
			if (cfg->subnets[si].nacl >= 0)
				return fail(c, "%s.subnets[%zu]: %s already has a NACL", where, j, id);
			cfg->subnets[si].nacl = (int)i;
		}
		cfg->n_nacls++;
	}
	return 0;
}

static int load_eni_ips(struct ctx *c, json_t *o, const char *where, struct vpc_cfg *cfg,
			struct vpc_eni *e)
{
	const struct vpc_subnet *s = &cfg->subnets[e->subnet];
	json_t *sec = json_object_get(o, "secondary_ips"), *v;
	char ipb[16], w[96];
	size_t i;

	snprintf(w, sizeof(w), "%s.ip", where);
	if (get_ip(c, json_object_get(o, "ip"), w, &e->ip))
		return -EINVAL;
	if (sec && (!json_is_array(sec) || json_array_size(sec) > VPC_MAX_SEC_IPS))
		return fail(c, "%s.secondary_ips: must be an array of at most %d addresses", where,
			    VPC_MAX_SEC_IPS);
	json_array_foreach(sec, i, v) {
		snprintf(w, sizeof(w), "%s.secondary_ips[%zu]", where, i);
		if (get_ip(c, v, w, &e->sec_ips[i]))
			return -EINVAL;
		e->n_sec_ips++;
	}
	for (i = 0; i <= e->n_sec_ips; i++) {
		uint32_t ip = i ? e->sec_ips[i - 1] : e->ip;

		vpc_ip_str(ip, ipb);
		if (!vpc_in(ip, s->net, s->prefix))
			return fail(c, "%s: %s is not inside subnet %s", where, ipb, s->id);
		if (vpc_reserved(s, ip))
			return fail(c, "%s: %s is reserved in subnet %s (first four and last)", where,
				    ipb, s->id);
		if (vpc_find_owner(cfg, e->vpc, ip) >= 0)
			return fail(c, "%s: %s is already another ENI's in VPC %s", where, ipb,
				    cfg->vpcs[e->vpc].id);
		for (size_t j = 0; j < i; j++)
			if ((j ? e->sec_ips[j - 1] : e->ip) == ip)
				return fail(c, "%s: %s is listed twice", where, ipb);
	}
	return 0;
}

static int load_eni(struct ctx *c, json_t *o, const char *where, struct vpc_cfg *cfg, struct vpc_eni *e)
{
	json_t *sgs = json_object_get(o, "security_groups"), *v, *chk, *mtu, *ctm;
	char sid[VPC_ID_LEN + 1], w[96];
	size_t i;
	int si;

	if (!json_is_object(o))
		return fail(c, "%s: must be an object", where);
	if (check_keys(c, o, where, (const char *const[]){ "id", "subnet", "mac", "ip",
			"secondary_ips", "security_groups", "source_dest_check", "mtu", "conntrack_max",
			NULL }) ||
	    get_id(c, o, where, "id", e->id) || get_id(c, o, where, "subnet", sid) ||
	    get_mac(c, o, where, e->mac))
		return -EINVAL;
	if (vpc_find_eni(cfg, e->id) >= 0)
		return fail(c, "%s.id: %s appears twice", where, e->id);
	for (unsigned int j = 0; j < cfg->n_enis; j++)
		if (!memcmp(cfg->enis[j].mac, e->mac, 6))
			return fail(c, "%s.mac: already ENI %s's", where, cfg->enis[j].id);
	si = find_by_id(sid, cfg->subnets, sizeof(cfg->subnets[0]), cfg->n_subnets);
	if (si < 0)
		return fail(c, "%s.subnet: no subnet %s", where, sid);
	e->subnet = (unsigned int)si;
	e->vpc = cfg->subnets[si].vpc;
	if (load_eni_ips(c, o, where, cfg, e))
		return -EINVAL;
	/* AWS: every ENI is in one to five groups. */
	if (!json_is_array(sgs) || json_array_size(sgs) < 1 || json_array_size(sgs) > VPC_MAX_SGS)
		return fail(c, "%s.security_groups: must be an array of 1-%d group ids", where, VPC_MAX_SGS);
	json_array_foreach(sgs, i, v) {
		const char *s = json_string_value(v);
		int g = s ? find_by_id(s, cfg->sgs, sizeof(cfg->sgs[0]), cfg->n_sgs) : -1;

		if (g < 0)
			return fail(c, "%s.security_groups[%zu]: no security group %s", where, i, s ? s : "");
		if (cfg->sgs[g].vpc != e->vpc)
			return fail(c, "%s.security_groups[%zu]: %s belongs to another VPC", where, i, s);
		for (unsigned int j = 0; j < e->n_sgs; j++)
			if (e->sgs[j] == (unsigned int)g)
				return fail(c, "%s.security_groups[%zu]: %s listed twice", where, i, s);
		e->sgs[e->n_sgs++] = (unsigned int)g;
	}
	ctm = json_object_get(o, "conntrack_max");
	if (ctm && (!json_is_integer(ctm) || json_integer_value(ctm) < 1 ||
		    json_integer_value(ctm) > VPC_CT_MAX))
		return fail(c, "%s.conntrack_max: must be 1-%d", where, VPC_CT_MAX);
	e->ct_max = ctm ? (uint32_t)json_integer_value(ctm) : VPC_CT_DEFAULT;
	chk = json_object_get(o, "source_dest_check");
	if (chk && !json_is_boolean(chk))
		return fail(c, "%s.source_dest_check: must be true or false", where);
	e->src_dst_check = chk ? json_is_true(chk) : true;   /* AWS: on by default */
	mtu = json_object_get(o, "mtu");
	e->mtu = mtu ? (uint16_t)json_integer_value(mtu) : 9001;
	snprintf(w, sizeof(w), "%s.mtu", where);
	if (mtu && (!json_is_integer(mtu) || (json_integer_value(mtu) != 9001 &&
					      json_integer_value(mtu) != 1500)))
		return fail(c, "%s: must be 9001 or 1500", w);
	return 0;
}

static int load_enis(struct ctx *c, json_t *arr, struct vpc_cfg *cfg)
{
	size_t i;
	json_t *o;
	char where[48];

	if (!json_is_array(arr) || json_array_size(arr) > VPC_MAX_ENIS)
		return fail(c, "enis: must be an array of at most %d ENIs", VPC_MAX_ENIS);
	json_array_foreach(arr, i, o) {
		snprintf(where, sizeof(where), "enis[%zu]", i);
		memset(&cfg->enis[i], 0, sizeof(cfg->enis[i]));
		if (load_eni(c, o, where, cfg, &cfg->enis[i]))
			return -EINVAL;
		cfg->n_enis++;
	}
	return 0;
}

int vpc_load(const char *text, size_t len, struct vpc_cfg *cfg, char *err, size_t errlen)
{
	struct ctx c = { err, errlen };
	json_error_t je;
	json_t *root, *ver;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return fail(&c, "config: invalid JSON at line %d: %s", je.line, je.text);
	rc = -EINVAL;
	if (!json_is_object(root)) {
		fail(&c, "config: must be a JSON object");
		goto out;
	}
	ver = json_object_get(root, "version");
	if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
		fail(&c, "config.version: must be 1");
		goto out;
	}
	if (check_keys(&c, root, "config", (const char *const[]){ "version", "vpcs", "subnets",
								"security_groups", "nacls", "enis", NULL }))
		goto out;
	if (load_vpcs(&c, json_object_get(root, "vpcs"), cfg) ||
	    load_subnets(&c, json_object_get(root, "subnets"), cfg) ||
	    load_sgs(&c, json_object_get(root, "security_groups"), cfg) ||
	    load_nacls(&c, json_object_get(root, "nacls"), cfg) ||
	    load_enis(&c, json_object_get(root, "enis"), cfg))
		goto out;
	rc = 0;
out:
	json_decref(root);
	if (rc)
		memset(cfg, 0, sizeof(*cfg));
	return rc;
}
