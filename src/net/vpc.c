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
static int get_cidr(struct ctx *c, json_t *o, const char *where, uint32_t *net, uint8_t *prefix)
{
	const char *s = json_string_value(json_object_get(o, "cidr"));
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
	if (parse_ip(buf, net) || *end || end == slash + 1 || slash[1] == '0' || n < 16 || n > 28)
		return fail(c, "%s.cidr: must be \"a.b.c.d/n\" with n from 16 to 28, got \"%s\"", where, s);
	*prefix = (uint8_t)n;
	if (*net & ~vpc_mask(*prefix))
		return fail(c, "%s.cidr: %s has host bits set", where, s);
	return 0;
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
	json_t *sgs = json_object_get(o, "security_groups"), *v, *chk, *mtu;
	char sid[VPC_ID_LEN + 1], w[96];
	size_t i;
	int si;

	if (!json_is_object(o))
		return fail(c, "%s: must be an object", where);
	if (check_keys(c, o, where, (const char *const[]){ "id", "subnet", "mac", "ip",
			"secondary_ips", "security_groups", "source_dest_check", "mtu", NULL }) ||
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
	if (sgs && (!json_is_array(sgs) || json_array_size(sgs) > VPC_MAX_SGS))
		return fail(c, "%s.security_groups: must be an array of at most %d ids", where, VPC_MAX_SGS);
	json_array_foreach(sgs, i, v) {
		const char *s = json_string_value(v);

		if (!s || !valid_id(s))
			return fail(c, "%s.security_groups[%zu]: must be an id", where, i);
		memcpy(e->sgs[i], s, strlen(s) + 1);
		e->n_sgs++;
	}
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
								"enis", NULL }))
		goto out;
	if (load_vpcs(&c, json_object_get(root, "vpcs"), cfg) ||
	    load_subnets(&c, json_object_get(root, "subnets"), cfg) ||
	    load_enis(&c, json_object_get(root, "enis"), cfg))
		goto out;
	rc = 0;
out:
	json_decref(root);
	if (rc)
		memset(cfg, 0, sizeof(*cfg));
	return rc;
}
