/* vpcstore: the VPC model behind the host API's network routes (see
 * vpcstore.h). Every change is made on a copy of the model, checked with
 * vpc_load (ward-net's loader), written with statefile (atomic rename) and
 * only then swapped in: a refused or unwritable change leaves the model
 * as it was. Ids are the kind's prefix and 8 random hex digits (AWS's
 * shape); MACs are locally administered (02:…), random; an ENI's address
 * is the first free one of its subnet unless the request names one. */
#include "controller/vpcstore.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "controller/statefile.h"
#include "fileio.h"
#include "net/vpc.h"

struct vpcstore {
	char *dir;
	json_t *model;
};

/* What one request produced: status, reply or error. */
struct res {
	int status;
	json_t *reply;
	const char *code;
	char *msg;
	size_t msglen;
};

static int err_(struct res *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int err_(struct res *r, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, r->msglen, fmt, ap);
	va_end(ap);
	r->code = code;
	r->status = status;
	return status;
}

static const char *const kinds[] = { "vpcs", "subnets", "security_groups", "nacls", "enis" };

static json_t *empty_model(void)
{
	json_t *m = json_pack("{s:i}", "version", 1);

	for (size_t i = 0; m && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		json_object_set_new(m, kinds[i], json_array());
	return m;
}

/* ward-net's loader is the one judge of a model (it wants at least one
 * VPC: a model without any is the empty one, and then nothing else may
 * exist either). */
static int check_model(const json_t *m, char *err, size_t errlen)
{
	struct vpc_cfg *cfg;
	char *txt;
	int rc;

	if (!json_array_size(json_object_get(m, "vpcs"))) {
		for (size_t i = 1; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			if (json_array_size(json_object_get(m, kinds[i]))) {
				snprintf(err, errlen, "%s without a VPC", kinds[i]);
				return -EINVAL;
			}
		return 0;
	}
	cfg = malloc(sizeof(*cfg));
	txt = json_dumps(m, JSON_COMPACT);
	rc = cfg && txt ? vpc_load(txt, strlen(txt), cfg, err, errlen) : -ENOMEM;
	free(txt);
	free(cfg);
	return rc;
}

int vpcstore_open(const char *state_dir, struct vpcstore **out, char *err, size_t errlen)
{
	struct vpcstore *s = calloc(1, sizeof(*s));
	char path[4096], why[256];
	int rc;

	if (!s || !(s->dir = strdup(state_dir)))
		goto err_nomem;
	snprintf(path, sizeof(path), "%s/net.json", state_dir);
	rc = statefile_read_json(path, &s->model);
	if (rc == -ENOENT) {
		s->model = empty_model();
		if (!s->model)
			goto err_nomem;
	} else if (rc) {
		snprintf(err, errlen, "%s: %s", path, rc == -EBADMSG ? "not JSON" : fileio_strerror(rc));
		goto err_free;
	} else if ((rc = check_model(s->model, why, sizeof(why)))) {
		snprintf(err, errlen, "%s: %s", path, why);
		goto err_free;
	}
	*out = s;
	return 0;
err_nomem:
	rc = -ENOMEM;
	snprintf(err, errlen, "out of memory");
err_free:
	vpcstore_close(s);
	return rc;
}

void vpcstore_close(struct vpcstore *s)
{
	if (!s)
		return;
	json_decref(s->model);
	free(s->dir);
	free(s);
}

const json_t *vpcstore_model(const struct vpcstore *s)
{
	return s->model;
}

/* ---- helpers on the model's arrays ---- */

static json_t *find(json_t *m, const char *kind, const char *id, size_t *at)
{
	json_t *arr = json_object_get(m, kind), *o;
	size_t i;

	json_array_foreach(arr, i, o) {
		const char *oid = json_string_value(json_object_get(o, "id"));

		if (oid && !strcmp(oid, id)) {
			if (at)
				*at = i;
			return o;
		}
	}
	return NULL;
}

/* Does any object of kind have field key equal to id (a string, or an
 * array holding it)? Returns that object's id. */
static const char *used_by(json_t *m, const char *kind, const char *key, const char *id)
{
	json_t *arr = json_object_get(m, kind), *o, *v, *x;
	size_t i, j;

	json_array_foreach(arr, i, o) {
		v = json_object_get(o, key);
		if (json_is_string(v) && !strcmp(json_string_value(v), id))
			return json_string_value(json_object_get(o, "id"));
		json_array_foreach(v, j, x)
			if (json_is_string(x) && !strcmp(json_string_value(x), id))
				return json_string_value(json_object_get(o, "id"));
	}
	return NULL;
}

/* Does a rule of group g's direction dir name group id? */
static bool rules_name(json_t *g, const char *dir, const char *id)
{
	json_t *x;
	size_t i;

	json_array_foreach(json_object_get(g, dir), i, x) {
		const char *sg = json_string_value(json_object_get(x, "sg"));

		if (sg && !strcmp(sg, id))
			return true;
	}
	return false;
}

static int new_id(const char *prefix, char out[32])
{
	uint8_t b[4];

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return -EIO;
	snprintf(out, 32, "%s-%02x%02x%02x%02x", prefix, b[0], b[1], b[2], b[3]);
	return 0;
}

static int parse_body(const char *body, size_t len, json_t **o, struct res *r)
{
	json_error_t je;

	*o = json_loadb(len ? body : "{}", len ? len : 2, JSON_REJECT_DUPLICATES, &je);
	if (!*o || !json_is_object(*o)) {
		json_decref(*o);
		*o = NULL;
		return err_(r, 400, "bad_request", "body must be a JSON object");
	}
	return 0;
}

/* Only these keys: a misspelt field must not be ignored. */
static int only_keys(json_t *o, const char *const *keys, struct res *r)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v) {
		size_t i;

		for (i = 0; keys[i] && strcmp(keys[i], k); i++)
			;
		if (!keys[i])
			return err_(r, 400, "bad_request", "unknown field \"%.64s\"", k);
	}
	return 0;
}

static const char *get_str(json_t *o, const char *key, struct res *r)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s || !*s || strlen(s) > VPC_ID_LEN) {
		err_(r, 400, "bad_request", "\"%s\" must be a string of 1-%d bytes", key, VPC_ID_LEN);
		return NULL;
	}
	return s;
}

/* Check the changed copy, write it, swap it in. */
static int commit(struct vpcstore *s, json_t *m, struct res *r)
{
	char why[256];
	int rc = check_model(m, why, sizeof(why));

	if (rc) {
		json_decref(m);
		return err_(r, 400, "invalid_model", "%s", why);
	}
	rc = statefile_write_json(s->dir, "net", m);
	if (rc) {
		json_decref(m);
		return err_(r, 500, "state_write_failed", "cannot store the model: %s", fileio_strerror(rc));
	}
	json_decref(s->model);
	s->model = m;
	return 0;
}

/* A create's end: append o (new, its reference ours) to m's list (m a
 * fresh copy of the model), commit m, answer 201 with o. Consumes m and
 * o, either of which may be NULL (out of memory). */
static int add_new(struct vpcstore *s, json_t *m, const char *list, json_t *o,
		   const char *audit_key, const char *id, json_t *audit, struct res *r)
{
	if (!m || !o) {
		json_decref(m);
		json_decref(o);
		return err_(r, 500, "internal", "out of memory");
	}
	json_array_append(json_object_get(m, list), o);
	json_object_set_new(audit, audit_key, json_string(id));
	if (commit(s, m, r)) {
		json_decref(o);
		return r->status;
	}
	r->reply = o;
	return r->status = 201;
}

static json_t *listing(struct vpcstore *s, const char *kind)
{
	return json_pack("{s:O}", kind, json_object_get(s->model, kind));
}

/* ---- the routes ---- */

static int vpc_create(struct vpcstore *s, json_t *b, json_t *audit, struct res *r)
{
	static const char *const keys[] = { "cidr", NULL };
	char id[32], sg[32];
	const char *cidr;
	json_t *m, *v, *g;

	if (only_keys(b, keys, r) || !(cidr = get_str(b, "cidr", r)))
		return r->status;
	if (new_id("vpc", id) || new_id("sg", sg))
		return err_(r, 500, "internal", "no random bytes for an id");
	m = json_deep_copy(s->model);
	v = json_pack("{s:s, s:s}", "id", id, "cidr", cidr);
	/* AWS's default group: inbound from its own members, all outbound. */
	g = json_pack("{s:s, s:s, s:[{s:s, s:s}], s:[{s:s, s:s}]}", "id", sg, "vpc", id, "ingress",
		      "proto", "all", "sg", sg, "egress", "proto", "all", "cidr", "0.0.0.0/0");
	if (!m || !v || !g) {
		json_decref(m);
		json_decref(v);
		json_decref(g);
		return err_(r, 500, "internal", "out of memory");
	}
	json_array_append(json_object_get(m, "vpcs"), v);
	json_array_append_new(json_object_get(m, "security_groups"), g);
	json_object_set_new(audit, "vpc", json_string(id));
	if (commit(s, m, r)) {
		json_decref(v);
		return r->status;
	}
	/* The reply is a copy: v is the model's own object now. */
	r->reply = json_deep_copy(v);
	json_decref(v);
	json_object_set_new(r->reply, "default_security_group", json_string(sg));
	return r->status = 201;
}

static int subnet_create(struct vpcstore *s, json_t *b, json_t *audit, struct res *r)
{
	static const char *const keys[] = { "vpc", "cidr", NULL };
	const char *vpc, *cidr;
	char id[32];
	json_t *m, *o;

	if (only_keys(b, keys, r) || !(vpc = get_str(b, "vpc", r)) || !(cidr = get_str(b, "cidr", r)))
		return r->status;
	if (!find(s->model, "vpcs", vpc, NULL))
		return err_(r, 404, "not_found", "no VPC %s", vpc);
	if (new_id("subnet", id))
		return err_(r, 500, "internal", "no random bytes for an id");
	m = json_deep_copy(s->model);
	o = json_pack("{s:s, s:s, s:s}", "id", id, "vpc", vpc, "cidr", cidr);
	return add_new(s, m, "subnets", o, "subnet", id, audit, r);
}

/* The start of a create whose body is only {"vpc": ID}: the body, the VPC
 * and a new id with the given prefix. 0, or the error status in r. */
static int in_vpc_start(struct vpcstore *s, json_t *b, const char *prefix, const char **vpc,
			char id[32], struct res *r)
{
	static const char *const keys[] = { "vpc", NULL };

	if (only_keys(b, keys, r) || !(*vpc = get_str(b, "vpc", r)))
		return r->status;
	if (!find(s->model, "vpcs", *vpc, NULL))
		return err_(r, 404, "not_found", "no VPC %s", *vpc);
	if (new_id(prefix, id))
		return err_(r, 500, "internal", "no random bytes for an id");
	return 0;
}

static int sg_create(struct vpcstore *s, json_t *b, json_t *audit, struct res *r)
{
	const char *vpc;
	char id[32];
	json_t *m, *o;

	if (in_vpc_start(s, b, "sg", &vpc, id, r))
		return r->status;
	m = json_deep_copy(s->model);
	/* A new group: no inbound, all outbound (AWS). */
	o = json_pack("{s:s, s:s, s:[], s:[{s:s, s:s}]}", "id", id, "vpc", vpc, "ingress", "egress",
		      "proto", "all", "cidr", "0.0.0.0/0");
	return add_new(s, m, "security_groups", o, "security_group", id, audit, r);
}

/* authorize / revoke: the body is a rule as in the model, plus
 * "direction". The model's loader judges the rule itself. */
static int sg_rule(struct vpcstore *s, const char *id, bool add, json_t *b, json_t *audit,
		   struct res *r)
{
	const char *d = json_string_value(json_object_get(b, "direction"));
	json_t *m, *g, *rules, *x;
	char dir[8];
	size_t i;

	json_object_set_new(audit, "security_group", json_string(id));
	if (!d || (strcmp(d, "ingress") && strcmp(d, "egress")))
		return err_(r, 400, "bad_request", "\"direction\" must be \"ingress\" or \"egress\"");
	strcpy(dir, d);   /* the body's string goes when "direction" is removed below */
	json_object_set_new(audit, "direction", json_string(dir));
	if (!find(s->model, "security_groups", id, NULL))
		return err_(r, 404, "not_found", "no security group %s", id);
	m = json_deep_copy(s->model);
	if (!m)
		return err_(r, 500, "internal", "out of memory");
	g = find(m, "security_groups", id, NULL);
	rules = json_object_get(g, dir);
	if (!rules) {
		rules = json_array();
		json_object_set_new(g, dir, rules);
	}
	json_object_del(b, "direction");
	json_array_foreach(rules, i, x)
		if (json_equal(x, b))
			break;
	if (add && i < json_array_size(rules)) {
		json_decref(m);
		return err_(r, 409, "duplicate_rule", "%s already has that %s rule", id, dir);
	}
	if (!add && i == json_array_size(rules)) {
		json_decref(m);
		return err_(r, 404, "no_such_rule", "%s has no such %s rule", id, dir);
	}
	if (add)
		json_array_append(rules, b);
	else
		json_array_remove(rules, i);
	if (commit(s, m, r))
		return r->status;
	r->reply = json_deep_copy(find(s->model, "security_groups", id, NULL));
	return r->status = 200;
}

static int nacl_create(struct vpcstore *s, json_t *b, json_t *audit, struct res *r)
{
	const char *vpc;
	char id[32];
	json_t *m, *o;

	if (in_vpc_start(s, b, "acl", &vpc, id, r))
		return r->status;
	m = json_deep_copy(s->model);
	/* A new NACL denies everything until entries are added (AWS); it
	 * applies to no subnet until one is associated. */
	o = json_pack("{s:s, s:s, s:[], s:[], s:[]}", "id", id, "vpc", vpc, "subnets", "ingress", "egress");
	return add_new(s, m, "nacls", o, "nacl", id, audit, r);
}

/* authorize: an entry as the model writes it ("rule", "action", ...);
 * revoke: {"direction", "rule": N}, entries being unique by number. */
static int nacl_entry(struct vpcstore *s, const char *id, bool add, json_t *b, json_t *audit,
		      struct res *r)
{
	const char *d = json_string_value(json_object_get(b, "direction"));
	json_t *num = json_object_get(b, "rule"), *m, *rules, *x;
	char dir[8];
	size_t i;

	json_object_set_new(audit, "nacl", json_string(id));
	if (!d || (strcmp(d, "ingress") && strcmp(d, "egress")))
		return err_(r, 400, "bad_request", "\"direction\" must be \"ingress\" or \"egress\"");
	strcpy(dir, d);   /* the body's string goes when "direction" is removed below */
	if (!json_is_integer(num))
		return err_(r, 400, "bad_request", "\"rule\" must be the entry's number");
	if (!add && json_object_size(b) != 2)
		return err_(r, 400, "bad_request", "revoke takes only \"direction\" and \"rule\"");
	json_object_set_new(audit, "direction", json_string(dir));
	json_object_set_new(audit, "rule", json_integer(json_integer_value(num)));
	if (!find(s->model, "nacls", id, NULL))
		return err_(r, 404, "not_found", "no NACL %s", id);
	m = json_deep_copy(s->model);
	if (!m)
		return err_(r, 500, "internal", "out of memory");
	rules = json_object_get(find(m, "nacls", id, NULL), dir);
	json_array_foreach(rules, i, x)
		if (json_equal(json_object_get(x, "rule"), num))
			break;
	if (add && i < json_array_size(rules)) {
		json_decref(m);
		return err_(r, 409, "duplicate_rule", "%s already has %s entry %lld", id, dir,
			    (long long)json_integer_value(num));
	}
	if (!add && i == json_array_size(rules)) {
		json_decref(m);
		return err_(r, 404, "no_such_rule", "%s has no %s entry %lld", id, dir,
			    (long long)json_integer_value(num));
	}
	json_object_del(b, "direction");
	if (add)
		json_array_append(rules, b);
	else
		json_array_remove(rules, i);
	if (commit(s, m, r))
		return r->status;
	r->reply = json_deep_copy(find(s->model, "nacls", id, NULL));
	return r->status = 200;
}

/* associate: the subnet leaves whatever NACL it had for this one;
 * disassociate: back to the VPC's default NACL (allow all). */
static int nacl_assoc(struct vpcstore *s, const char *id, bool add, json_t *b, json_t *audit,
		      struct res *r)
{
	static const char *const keys[] = { "subnet", NULL };
	const char *sub;
	json_t *m, *n, *x;
	size_t i, j;

	json_object_set_new(audit, "nacl", json_string(id));
	if (only_keys(b, keys, r) || !(sub = get_str(b, "subnet", r)))
		return r->status;
	json_object_set_new(audit, "subnet", json_string(sub));
	if (!find(s->model, "nacls", id, NULL))
		return err_(r, 404, "not_found", "no NACL %s", id);
	if (!add && !used_by(s->model, "nacls", "subnets", sub))
		return err_(r, 404, "not_associated", "subnet %s has no NACL of its own", sub);
	if (!add && strcmp(used_by(s->model, "nacls", "subnets", sub), id))
		return err_(r, 404, "not_associated", "subnet %s is not associated with %s", sub, id);
	m = json_deep_copy(s->model);
	if (!m)
		return err_(r, 500, "internal", "out of memory");
	json_array_foreach(json_object_get(m, "nacls"), i, n) {
		json_t *subs = json_object_get(n, "subnets");

		for (j = json_array_size(subs); j-- > 0;) {
			x = json_array_get(subs, j);
			if (!strcmp(json_string_value(x), sub))
				json_array_remove(subs, j);
		}
	}
	if (add)
		json_array_append_new(json_object_get(find(m, "nacls", id, NULL), "subnets"),
				      json_string(sub));
	if (commit(s, m, r))
		return r->status;
	r->reply = json_deep_copy(find(s->model, "nacls", id, NULL));
	return r->status = 200;
}

/* An ENI's groups replaced (AWS ModifyNetworkInterfaceAttribute; ward-net's
 * ENI_SGS): 1-5 groups of its VPC, which the loader checks. */
static int eni_sgs(struct vpcstore *s, const char *id, json_t *b, json_t *audit, struct res *r)
{
	static const char *const keys[] = { "security_groups", NULL };
	json_t *m, *sgs = json_object_get(b, "security_groups");

	json_object_set_new(audit, "eni", json_string(id));
	if (only_keys(b, keys, r))
		return r->status;
	if (!json_is_array(sgs))
		return err_(r, 400, "bad_request", "\"security_groups\" must be an array of group ids");
	if (!find(s->model, "enis", id, NULL))
		return err_(r, 404, "not_found", "no eni %s", id);
	m = json_deep_copy(s->model);
	if (!m)
		return err_(r, 500, "internal", "out of memory");
	json_object_set(find(m, "enis", id, NULL), "security_groups", sgs);
	if (commit(s, m, r))
		return r->status;
	r->reply = json_deep_copy(find(s->model, "enis", id, NULL));
	return r->status = 200;
}

/* The subnet's CIDR, host order. */
static int subnet_net(json_t *sub, uint32_t *net, unsigned int *prefix)
{
	const char *c = json_string_value(json_object_get(sub, "cidr"));
	char buf[32], *slash;
	struct in_addr a;

	if (!c || strlen(c) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, c);
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = 0;
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	*net = ntohl(a.s_addr);
	*prefix = (unsigned int)atoi(slash + 1);
	return *prefix >= 16 && *prefix <= 28 ? 0 : -EINVAL;
}

static bool ip_taken(json_t *m, const char *vpc, const char *ip)
{
	json_t *e, *sub, *x;
	size_t i, j;

	json_array_foreach(json_object_get(m, "enis"), i, e) {
		sub = find(m, "subnets", json_string_value(json_object_get(e, "subnet")), NULL);
		if (!sub || strcmp(json_string_value(json_object_get(sub, "vpc")), vpc))
			continue;
		if (!strcmp(json_string_value(json_object_get(e, "ip")), ip))
			return true;
		json_array_foreach(json_object_get(e, "secondary_ips"), j, x)
			if (!strcmp(json_string_value(x), ip))
				return true;
	}
	return false;
}

/* The first address of the subnet after AWS's four reserved ones that no
 * ENI of the VPC has. */
static int pick_ip(json_t *m, json_t *sub, char out[16])
{
	const char *vpc = json_string_value(json_object_get(sub, "vpc"));
	unsigned int prefix;
	uint32_t net;

	if (subnet_net(sub, &net, &prefix))
		return -EINVAL;
	for (uint32_t h = 4; h < (1u << (32 - prefix)) - 1; h++) {
		struct in_addr a = { htonl(net + h) };

		inet_ntop(AF_INET, &a, out, 16);
		if (!ip_taken(m, vpc, out))
			return 0;
	}
	return -ENOSPC;
}

static int eni_create(struct vpcstore *s, json_t *b, json_t *audit, struct res *r)
{
	static const char *const keys[] = { "subnet", "security_groups", "ip", "source_dest_check",
					    "mtu", NULL };
	json_t *m, *o, *sub, *sgs = json_object_get(b, "security_groups");
	const char *subnet, *ip = json_string_value(json_object_get(b, "ip"));
	char id[32], mac[18], addr[16];
	uint8_t mb[5];

	if (only_keys(b, keys, r) || !(subnet = get_str(b, "subnet", r)))
		return r->status;
	sub = find(s->model, "subnets", subnet, NULL);
	if (!sub)
		return err_(r, 404, "not_found", "no subnet %s", subnet);
	if (ip && strlen(ip) < sizeof(addr))
		strcpy(addr, ip);
	else if (ip || json_object_get(b, "ip"))
		return err_(r, 400, "bad_request", "\"ip\" must be an IPv4 address");
	else if (pick_ip(s->model, sub, addr))
		return err_(r, 409, "subnet_full", "subnet %s has no free address", subnet);
	if (new_id("eni", id) || getrandom(mb, sizeof(mb), 0) != sizeof(mb))
		return err_(r, 500, "internal", "no random bytes for an id");
	snprintf(mac, sizeof(mac), "02:%02x:%02x:%02x:%02x:%02x", mb[0], mb[1], mb[2], mb[3], mb[4]);
	m = json_deep_copy(s->model);
	o = json_deep_copy(b);
	/* On NULL these do nothing; add_new answers for it. */
	json_object_set_new(o, "id", json_string(id));
	json_object_set_new(o, "mac", json_string(mac));
	json_object_set_new(o, "ip", json_string(addr));
	if (!sgs) {
		/* As AWS: an ENI without groups gets its VPC's default one, the
		 * first group created with the VPC. */
		const char *vpc = json_string_value(json_object_get(sub, "vpc"));
		json_t *g, *first = NULL;
		size_t i;

		json_array_foreach(json_object_get(s->model, "security_groups"), i, g)
			if (!first && !strcmp(json_string_value(json_object_get(g, "vpc")), vpc))
				first = g;
		if (first)
			json_object_set_new(o, "security_groups", json_pack("[O]", json_object_get(first, "id")));
	}
	return add_new(s, m, "enis", o, "eni", id, audit, r);
}

/* DELETE of any kind: refused while something still uses the object. */
static int delete_obj(struct vpcstore *s, const char *kind, const char *what, const char *id,
		      json_t *audit, struct res *r)
{
	const char *user = NULL;
	json_t *m, *g;
	size_t at, i;

	json_object_set_new(audit, what, json_string(id));
	if (!find(s->model, kind, id, NULL))
		return err_(r, 404, "not_found", "no %s %s", what, id);
	if (!strcmp(kind, "vpcs"))
		user = used_by(s->model, "subnets", "vpc", id);
	else if (!strcmp(kind, "subnets"))
		user = used_by(s->model, "enis", "subnet", id);
	else if (!strcmp(kind, "nacls"))
		user = json_string_value(json_array_get(json_object_get(find(s->model, kind, id, NULL),
								       "subnets"), 0));
	else if (!strcmp(kind, "security_groups")) {
		const char *vpc = json_string_value(json_object_get(find(s->model, kind, id, NULL), "vpc"));

		json_t *first = NULL;

		/* As AWS: the default group (its VPC's first) goes only with the VPC. */
		json_array_foreach(json_object_get(s->model, "security_groups"), i, g)
			if (!first && !strcmp(json_string_value(json_object_get(g, "vpc")), vpc))
				first = g;
		if (first && !strcmp(json_string_value(json_object_get(first, "id")), id))
			return err_(r, 409, "in_use", "%s is the default group of %s: it goes with the VPC",
				    id, vpc);
		user = used_by(s->model, "enis", "security_groups", id);
		json_array_foreach(json_object_get(s->model, "security_groups"), i, g) {
			const char *gid = json_string_value(json_object_get(g, "id"));

			if (!user && strcmp(gid, id) && (rules_name(g, "ingress", id) || rules_name(g, "egress", id)))
				user = gid;
		}
	}
	if (user)
		return err_(r, 409, "in_use", "%s %s is still used by %s", what, id, user);
	m = json_deep_copy(s->model);
	if (!m)
		return err_(r, 500, "internal", "out of memory");
	find(m, kind, id, &at);
	json_array_remove(json_object_get(m, kind), at);
	if (!strcmp(kind, "vpcs")) {
		/* Its groups and NACLs go with it (nothing can use them: it has
		 * no subnets). */
		for (int k = 0; k < 2; k++) {
			json_t *gs = json_object_get(m, k ? "nacls" : "security_groups");

			for (i = json_array_size(gs); i-- > 0;)
				if (!strcmp(json_string_value(json_object_get(json_array_get(gs, i), "vpc")), id))
					json_array_remove(gs, i);
		}
	}
	if (commit(s, m, r))
		return r->status;
	r->reply = json_pack("{s:s, s:s}", "id", id, "state", "deleted");
	return r->status = 200;
}

struct kind_route {
	const char *base;     /* "/v1/vpcs" */
	const char *kind;     /* model array */
	const char *what;     /* audit field and messages */
	int (*create)(struct vpcstore *, json_t *, json_t *, struct res *);
};

static const struct kind_route kroutes[] = {
	{ "/v1/vpcs", "vpcs", "vpc", vpc_create },
	{ "/v1/subnets", "subnets", "subnet", subnet_create },
	{ "/v1/security-groups", "security_groups", "security_group", sg_create },
	{ "/v1/enis", "enis", "eni", eni_create },
	{ "/v1/network-acls", "nacls", "nacl", nacl_create },
};

int vpcstore_request(struct vpcstore *s, const char *method, const char *pattern,
		     char params[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX + 1], const char *body,
		     size_t body_len, json_t *audit, json_t **reply, const char **code, char *msg,
		     size_t msglen)
{
	struct res r = { 500, NULL, "internal", msg, msglen };
	json_t *b = NULL;

	snprintf(msg, msglen, "no such network route");
	for (size_t i = 0; i < sizeof(kroutes) / sizeof(kroutes[0]); i++) {
		const struct kind_route *k = &kroutes[i];
		size_t n = strlen(k->base);

		if (strncmp(pattern, k->base, n))
			continue;
		if (!strcmp(method, "GET") && !pattern[n])
			r.status = 200, r.reply = listing(s, k->kind);
		else if (!strcmp(method, "DELETE") && !strcmp(pattern + n, "/{id}"))
			delete_obj(s, k->kind, k->what, params[0], audit, &r);
		else if (!parse_body(body, body_len, &b, &r)) {
			if (!strcmp(method, "POST") && !pattern[n])
				k->create(s, b, audit, &r);
			else if (!strcmp(pattern + n, "/{id}/authorize") || !strcmp(pattern + n, "/{id}/revoke")) {
				bool add = !strcmp(pattern + n, "/{id}/authorize");

				if (!strcmp(k->kind, "nacls"))
					nacl_entry(s, params[0], add, b, audit, &r);
				else
					sg_rule(s, params[0], add, b, audit, &r);
			} else if (!strcmp(pattern + n, "/{id}/associate"))
				nacl_assoc(s, params[0], true, b, audit, &r);
			else if (!strcmp(pattern + n, "/{id}/disassociate"))
				nacl_assoc(s, params[0], false, b, audit, &r);
			else if (!strcmp(pattern + n, "/{id}/security-groups"))
				eni_sgs(s, params[0], b, audit, &r);
		}
		break;
	}
	json_decref(b);
	if (r.status < 300 && !r.reply)
		r.status = 500, r.code = "internal", snprintf(msg, msglen, "out of memory");
	*reply = r.reply;
	*code = r.code;
	return r.status;
}
