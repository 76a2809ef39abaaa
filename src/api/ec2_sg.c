/* ec2_sg: security groups, kept as ward-net's model keeps them
 * (docs/formats.md#ward-net-vpc-config): per VPC, rules with one peer
 * each (a CIDR or a group of the same VPC), at most 60 per direction. A
 * VPC's default group admits all traffic from its own members. Documents
 * ec2/sg/<id>; ec2/sgname/<vpc>/<name> keeps names unique per VPC. */
#include "ec2.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

/* ---- rules as stored: {"proto", "ports"|"icmp", "cidr"|"sg", "desc"} --------- */

static json_t *rule_json(const struct ec2_rule *r)
{
	json_t *o = json_pack("{ss}", "proto", r->proto);

	if (!o)
		return NULL;
	if (strcmp(r->proto, "tcp") == 0 || strcmp(r->proto, "udp") == 0)
		json_object_set_new(o, "ports", json_pack("[ii]", r->from, r->to));
	else if (strcmp(r->proto, "icmp") == 0)
		json_object_set_new(o, "icmp", json_pack("[ii]", r->from, r->to));
	if (r->cidr[0])
		json_object_set_new(o, "cidr", json_string(r->cidr));
	else
		json_object_set_new(o, "sg", json_string(r->group));
	if (r->desc && r->desc[0])
		json_object_set_new(o, "desc", json_string(r->desc));
	return o;
}

static void rule_range(const json_t *j, int *from, int *to)
{
	json_t *p = json_object_get(j, "ports");

	if (!p)
		p = json_object_get(j, "icmp");
	*from = p ? (int)json_integer_value(json_array_get(p, 0)) : -1;
	*to = p ? (int)json_integer_value(json_array_get(p, 1)) : -1;
}

/* Same protocol, range and peer (a description does not make a rule new,
 * as in AWS). */
static bool rule_equal(const json_t *j, const struct ec2_rule *r)
{
	int from, to;

	rule_range(j, &from, &to);
	return strcmp(ec2_jstr(j, "proto"), r->proto) == 0 && from == r->from && to == r->to &&
	       strcmp(ec2_jstr(j, "cidr"), r->cidr) == 0 && strcmp(ec2_jstr(j, "sg"), r->group) == 0;
}

/* ---- writing groups ---------------------------------------------------------- */

static void write_peer(struct xml *x, const json_t *r, const char *account)
{
	xml_open(x, "item", NULL);
	if (json_object_get(r, "cidr")) {
		xml_text(x, "cidrIp", ec2_jstr(r, "cidr"));
	} else {
		xml_text(x, "userId", account);
		xml_text(x, "groupId", ec2_jstr(r, "sg"));
	}
	if (json_object_get(r, "desc"))
		xml_text(x, "description", ec2_jstr(r, "desc"));
	xml_close(x);
}

/* AWS groups the rules of one protocol and range into one IpPermission,
 * its peers split into ipRanges and groups. */
static void write_permissions(struct xml *x, const char *set, const json_t *rules,
			      const char *account)
{
	size_t i, j;
	json_t *r, *s;

	xml_open(x, set, NULL);
	json_array_foreach(rules, i, r) {
		const char *proto = ec2_jstr(r, "proto");
		int from, to, f2, t2;
		bool first = true, any_cidr = false, any_sg = false;

		rule_range(r, &from, &to);
		/* Written with the first rule of its (proto, range) only. */
		for (j = 0; j < i && first; j++) {
			s = json_array_get(rules, j);
			rule_range(s, &f2, &t2);
			if (strcmp(ec2_jstr(s, "proto"), proto) == 0 && f2 == from && t2 == to)
				first = false;
		}
		if (!first)
			continue;
		xml_open(x, "item", NULL);
		xml_text(x, "ipProtocol", strcmp(proto, "all") == 0 ? "-1" : proto);
		if (json_object_get(r, "ports") || json_object_get(r, "icmp")) {
			xml_textf(x, "fromPort", "%d", from);
			xml_textf(x, "toPort", "%d", to);
		}
		for (j = i; j < json_array_size(rules); j++) {
			s = json_array_get(rules, j);
			rule_range(s, &f2, &t2);
			if (strcmp(ec2_jstr(s, "proto"), proto) == 0 && f2 == from && t2 == to) {
				any_cidr |= json_object_get(s, "cidr") != NULL;
				any_sg |= json_object_get(s, "sg") != NULL;
			}
		}
		for (int pass = 0; pass < 2; pass++) {
			if (!(pass == 0 ? any_sg : any_cidr))
				continue;
			xml_open(x, pass == 0 ? "groups" : "ipRanges", NULL);
			for (j = i; j < json_array_size(rules); j++) {
				s = json_array_get(rules, j);
				rule_range(s, &f2, &t2);
				if (strcmp(ec2_jstr(s, "proto"), proto) == 0 && f2 == from &&
				    t2 == to && (json_object_get(s, pass == 0 ? "sg" : "cidr")))
					write_peer(x, s, account);
			}
			xml_close(x);
		}
		xml_close(x);
	}
	xml_close(x);
}

static void write_group(struct xml *x, const json_t *g)
{
	const char *account = ec2_jstr(g, "OwnerId");

	xml_text(x, "ownerId", account);
	xml_text(x, "groupId", ec2_jstr(g, "GroupId"));
	xml_text(x, "groupName", ec2_jstr(g, "GroupName"));
	xml_text(x, "groupDescription", ec2_jstr(g, "Description"));
	xml_text(x, "vpcId", ec2_jstr(g, "VpcId"));
	write_permissions(x, "ipPermissions", json_object_get(g, "Ingress"), account);
	write_permissions(x, "ipPermissionsEgress", json_object_get(g, "Egress"), account);
	ec2_write_tags(x, g);
}

/* ---- creation --------------------------------------------------------------- */

/* ec2/sgname/<vpc>/<sha256(name)>: names are free text up to 255
 * characters, the key a fixed-size word. */
static void name_key(char key[STORE_KEY_MAX], const char *vpc, const char *name)
{
	uint8_t md[SHA256_DIGEST_LENGTH];
	size_t n = (size_t)snprintf(key, STORE_KEY_MAX, "ec2/sgname/%s/", vpc);

	SHA256((const uint8_t *)name, strlen(name), md);
	for (size_t i = 0; i < sizeof(md) && n + 3 < STORE_KEY_MAX; i++)
		n += (size_t)snprintf(key + n, STORE_KEY_MAX - n, "%02x", md[i]);
}

static int store_group(struct ec2_req *q, json_t *g)
{
	const char *id = ec2_jstr(g, "GroupId"), *vpc = ec2_jstr(g, "VpcId");
	char key[STORE_KEY_MAX];
	int rc;

	name_key(key, vpc, ec2_jstr(g, "GroupName"));
	if ((rc = store_create(q->t, key, "{}")))
		return rc;
	if ((rc = ec2_save(q, true, "sg", id, g)))
		return rc;
	return ec2_index_put(q, "vpcsg", vpc, id);
}

int ec2_sg_drop(struct ec2_req *q, const json_t *g)
{
	const char *id = ec2_jstr(g, "GroupId"), *vpc = ec2_jstr(g, "VpcId");
	char key[STORE_KEY_MAX];
	int rc;

	name_key(key, vpc, ec2_jstr(g, "GroupName"));
	if ((rc = store_del(q->t, key)) || (rc = ec2_index_del(q, "vpcsg", vpc, id)))
		return rc;
	return ec2_drop(q, "sg", id);
}

int ec2_sg_create_default(struct ec2_req *q, const char *vpc_id, char group_id[32])
{
	char arn[128];
	json_t *g;
	int rc;

	if (!ec2_new_id(q, "sg", group_id))
		return -EIO;
	ec2_arn(q, arn, sizeof(arn), "security-group", group_id);
	/* AWS's default group: all inbound from its members, all outbound. */
	g = json_pack("{sssssssssssss[{ssss}]s[{ssss}]s{}}", "GroupId", group_id,
		      "GroupName", "default", "Description", "default VPC security group",
		      "VpcId", vpc_id, "OwnerId", q->a->account, "Arn", arn,
		      "Ingress", "proto", "all", "sg", group_id,
		      "Egress", "proto", "all", "cidr", "0.0.0.0/0", "Tags");
	if (!g)
		return -ENOMEM;
	rc = store_group(q, g);
	json_decref(g);
	return rc;
}

void ec2_create_security_group(struct ec2_req *q)
{
	const char *name = ec2_required(q, "GroupName"), *desc, *vpc;
	struct ec2_tags tags;
	char id[32], arn[128], varn[128], err[256];
	json_t *v = NULL, *g = NULL;
	struct xml x;
	int rc;

	if (!name || !(desc = ec2_required(q, "GroupDescription")))
		return;
	if (!(vpc = query_get(q->q, "VpcId"))) {
		/* ward has no default VPC. */
		ec2_error(q, 400, "VPCIdNotSpecified", "No default VPC for this user");
		return;
	}
	if (!ec2_text_ok(name, 1, 255) || strncmp(name, "sg-", 3) == 0 || !ec2_text_ok(desc, 0, 255)) {
		ec2_error(q, 400, "InvalidParameterValue", "Invalid value for GroupName or "
			  "GroupDescription: 1-255 (0-255) printable characters, names not "
			  "starting with sg-");
		return;
	}
	if (strcmp(name, "default") == 0) {
		ec2_error(q, 400, "InvalidGroup.Reserved", "The security group 'default' is "
			  "reserved");
		return;
	}
	if (ec2_parse_tags(q->q, "security-group", &tags, err, sizeof(err))) {
		ec2_error(q, 400, "InvalidParameterValue", "%s", err);
		return;
	}
	if (strlen(vpc) >= 32 || strncmp(vpc, "vpc-", 4) != 0 ||
	    strspn(vpc + 4, "0123456789abcdef") != strlen(vpc + 4)) {
		ec2_error(q, 400, "InvalidVpcID.NotFound", "The vpc ID '%.32s' does not exist", vpc);
		return;
	}
	if (!ec2_new_id(q, "sg", id))
		return;
	ec2_arn(q, arn, sizeof(arn), "security-group", id);
	ec2_arn(q, varn, sizeof(varn), "vpc", vpc);
	if (!ec2_allowed(q, (const char *const[]){ arn, varn }, 2))
		return;
	if (!(v = ec2_load(q, "vpc", vpc))) {
		ec2_error(q, 400, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", vpc);
		return;
	}
	g = json_pack("{sssssssssssss[]s[{ssss}]}", "GroupId", id, "GroupName", name,
		      "Description", desc, "VpcId", vpc, "OwnerId", q->a->account, "Arn", arn,
		      "Ingress", "Egress", "proto", "all", "cidr", "0.0.0.0/0");
	if (!g) {
		ec2_error(q, 500, "InternalError", "out of memory");
		goto out;
	}
	ec2_tags_set(g, &tags);
	rc = store_group(q, g);
	if (rc == -EEXIST) {
		ec2_error(q, 400, "InvalidGroup.Duplicate", "The security group '%s' already "
			  "exists for VPC '%s'", name, vpc);
		goto out;
	}
	if (ec2_failed(q, rc, "security group"))
		goto out;
	ec2_begin(q, &x);
	xml_text(&x, "groupId", id);
	ec2_write_tags(&x, g);
	ec2_end(q, &x);
out:
	json_decref(g);
	json_decref(v);
}

/* ---- the group named by GroupId ------------------------------------------------ */

static json_t *group_arg(struct ec2_req *q, char *arn, size_t len)
{
	const char *id = query_get(q->q, "GroupId");
	json_t *g;

	if (!id) {
		/* By name needs a default VPC, which ward has not. */
		ec2_error(q, 400, "MissingParameter", "The request must contain the parameter "
			  "GroupId");
		return NULL;
	}
	if (strlen(id) >= 32 || strncmp(id, "sg-", 3) != 0 ||
	    strspn(id + 3, "0123456789abcdef") != strlen(id + 3)) {
		ec2_error(q, 400, "InvalidGroupId.Malformed", "Invalid id: \"%.32s\" (expecting "
			  "\"sg-...\")", id);
		return NULL;
	}
	ec2_arn(q, arn, len, "security-group", id);
	if (!ec2_allowed(q, (const char *const[]){ arn }, 1))
		return NULL;
	if (!(g = ec2_load(q, "sg", id)))
		ec2_error(q, 400, "InvalidGroup.NotFound", "The security group '%s' does not exist",
			  id);
	return g;
}

struct refs {
	struct ec2_req *q;
	const char *target;
	char by[32];
};

static bool references(const json_t *g, const char *target)
{
	const char *dirs[] = { "Ingress", "Egress" };
	size_t i;
	json_t *r;

	for (int d = 0; d < 2; d++)
		json_array_foreach(json_object_get(g, dirs[d]), i, r)
			if (strcmp(ec2_jstr(r, "sg"), target) == 0)
				return true;
	return false;
}

static int refs_cb(const char *key, const char *value, void *arg)
{
	struct refs *rf = arg;
	const char *sid = strrchr(key, '/') + 1;
	json_t *g;

	if (strcmp(sid, rf->target) == 0)
		return 0;
	if (!(g = ec2_load(rf->q, "sg", sid)))
		return -EIO;
	if (references(g, rf->target))
		snprintf(rf->by, sizeof(rf->by), "%s", sid);
	json_decref(g);
	return 0;
}

void ec2_delete_security_group(struct ec2_req *q)
{
	char arn[128], prefix[64];
	struct refs rf = { .q = q };
	json_t *g = group_arg(q, arn, sizeof(arn));
	const char *id, *vpc, *name;
	size_t users;
	int rc;

	if (!g)
		return;
	id = ec2_jstr(g, "GroupId");
	vpc = ec2_jstr(g, "VpcId");
	name = ec2_jstr(g, "GroupName");
	if (strcmp(name, "default") == 0) {
		ec2_error(q, 400, "CannotDelete", "the specified group: \"%s\" name: \"default\" "
			  "cannot be deleted by a user", id);
		goto out;
	}
	rf.target = id;
	snprintf(prefix, sizeof(prefix), "ec2/vpcsg/%s/", vpc);
	users = ec2_index_count(q, "sginstance", id);
	if (store_list(q->t, prefix, refs_cb, &rf) || users == (size_t)-1) {
		ec2_error(q, 500, "InternalError", "cannot read the group's dependencies");
		goto out;
	}
	if (rf.by[0] || users) {
		ec2_error(q, 400, "DependencyViolation", "resource %s has a dependent object%s%s", id,
			  rf.by[0] ? ": referenced by " : "", rf.by);
		goto out;
	}
	rc = ec2_sg_drop(q, g);
	if (!ec2_failed(q, rc, "deletion"))
		ec2_reply_return(q);
out:
	json_decref(g);
}

/* ---- rules ---------------------------------------------------------------------- */

static void change_rules(struct ec2_req *q, bool ingress, bool add)
{
	struct ec2_rule rules[EC2_MAX_RULES];
	const char *dir = ingress ? "Ingress" : "Egress";
	char arn[128], err[256];
	size_t n = 0, i;
	json_t *g = NULL, *list, *r;
	int rc;

	/* Parse first: a malformed request is refused whatever the caller may do. */
	if (ec2_parse_rules(q->q, rules, EC2_MAX_RULES, &n, err, sizeof(err))) {
		ec2_error(q, 400, "InvalidParameterValue", "%s", err);
		return;
	}
	if (!(g = group_arg(q, arn, sizeof(arn))))
		return;
	list = json_object_get(g, dir);
	if (!json_is_array(list)) {
		ec2_error(q, 500, "InternalError", "the stored group is malformed");
		goto out;
	}
	for (size_t k = 0; k < n; k++) {
		struct ec2_rule *nr = &rules[k];
		bool found = false;
		size_t at = 0;

		json_array_foreach(list, i, r) {
			if (rule_equal(r, nr)) {
				found = true;
				at = i;
			}
		}
		if (add && found) {
			ec2_error(q, 400, "InvalidPermission.Duplicate", "the specified rule \"peer: "
				  "%s, %s, from port: %d, to port: %d, ALLOW\" already exists",
				  nr->cidr[0] ? nr->cidr : nr->group, nr->proto, nr->from, nr->to);
			goto out;
		}
		if (!add && !found) {
			ec2_error(q, 400, "InvalidPermission.NotFound", "The specified rule does not "
				  "exist in this security group.");
			goto out;
		}
		if (!add) {
			json_array_remove(list, at);
			continue;
		}
		if (nr->group[0]) {
			/* ward-net's peers are groups of the same VPC. */
			json_t *peer = ec2_load(q, "sg", nr->group);
			bool same = peer && strcmp(ec2_jstr(peer, "VpcId"), ec2_jstr(g, "VpcId")) == 0;

			json_decref(peer);
			if (!same) {
				ec2_error(q, 400, "InvalidGroup.NotFound", "The security group '%s' "
					  "does not exist in VPC '%s'", nr->group,
					  ec2_jstr(g, "VpcId"));
				goto out;
			}
		}
		if (json_array_size(list) >= EC2_MAX_RULES) {
			ec2_error(q, 400, "RulesPerSecurityGroupLimitExceeded", "The maximum number "
				  "of rules per security group (%d per direction) has been reached.",
				  EC2_MAX_RULES);
			goto out;
		}
		if (!(r = rule_json(nr)) || json_array_append_new(list, r)) {
			ec2_error(q, 500, "InternalError", "out of memory");
			goto out;
		}
	}
	rc = ec2_save(q, false, "sg", ec2_jstr(g, "GroupId"), g);
	if (!ec2_failed(q, rc, "security group"))
		ec2_reply_return(q);
out:
	json_decref(g);
}

void ec2_authorize_ingress(struct ec2_req *q) { change_rules(q, true, true); }
void ec2_authorize_egress(struct ec2_req *q) { change_rules(q, false, true); }
void ec2_revoke_ingress(struct ec2_req *q) { change_rules(q, true, false); }
void ec2_revoke_egress(struct ec2_req *q) { change_rules(q, false, false); }

static const struct ec2_field sg_fields[] = {
	{ "group-id", "GroupId" },
	{ "group-name", "GroupName" },
	{ "vpc-id", "VpcId" },
	{ "owner-id", "OwnerId" },
	{ "description", "Description" },
	{ NULL, NULL },
};

void ec2_describe_security_groups(struct ec2_req *q)
{
	static const struct ec2_describe d = {
		"sg", "GroupId", "GroupId", "InvalidGroup.NotFound", "security group",
		"securityGroupInfo", sg_fields, 5, 1000, write_group,
	};

	if (query_get(q->q, "GroupName.1")) {
		/* Names are per VPC here (there is no default VPC). */
		ec2_error(q, 400, "InvalidParameterValue", "GroupName is not supported without a "
			  "default VPC; use the group-name filter");
		return;
	}
	ec2_describe(q, &d);
}
