/* ec2_vpc: VPCs and subnets — the network objects ward-net's VPC model
 * (docs/formats.md#ward-net-vpc-config) is made from: CIDRs /16../28
 * without host bits, subnets inside their VPC and overlapping no other
 * subnet of it. Documents ec2/vpc/<id>, ec2/subnet/<id>; indexes
 * ec2/vpcsubnet/<vpc>/<subnet> and ec2/vpcsg/<vpc>/<sg> for dependencies. */
#include "ec2.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool id_param_ok(const char *v, const char *prefix)
{
	size_t l = strlen(prefix), n = strlen(v);

	return strncmp(v, prefix, l) == 0 && n > l && n < 32 &&
	       strspn(v + l, "0123456789abcdef") == n - l;
}

/* The id parameter name, of the form "<prefix>...", or NULL with the
 * error made (MissingParameter, or not_found for a malformed id, as AWS's
 * .Malformed codes would be; clients treat both as "no such object"). */
static const char *id_arg(struct ec2_req *q, const char *name, const char *prefix,
			  const char *not_found, const char *noun)
{
	const char *v = ec2_required(q, name);

	if (v && !id_param_ok(v, prefix)) {
		ec2_error(q, 400, not_found, "The %s '%.32s' does not exist", noun, v);
		return NULL;
	}
	return v;
}

static const char *cidr_arg(struct ec2_req *q, uint32_t *addr, unsigned *plen)
{
	const char *c = ec2_required(q, "CidrBlock");
	int rc;

	if (!c)
		return NULL;
	rc = ec2_parse_cidr(c, 16, 28, addr, plen);
	if (rc == -ERANGE) {
		ec2_error(q, 400, "InvalidVpc.Range", "The CIDR '%.32s' is invalid: the prefix "
			  "length must be between /16 and /28.", c);
		return NULL;
	}
	if (rc) {
		ec2_error(q, 400, "InvalidParameterValue", "Value (%.32s) for parameter cidrBlock "
			  "is invalid. This is not a valid CIDR block.", c);
		return NULL;
	}
	return c;
}

static bool tags_arg(struct ec2_req *q, const char *rtype, struct ec2_tags *tags)
{
	char err[256];

	if (ec2_parse_tags(q->q, rtype, tags, err, sizeof(err))) {
		ec2_error(q, 400, "InvalidParameterValue", "%s", err);
		return false;
	}
	return true;
}

/* ---- VPCs ------------------------------------------------------------------ */

static void write_vpc(struct xml *x, const json_t *v)
{
	xml_text(x, "vpcId", ec2_jstr(v, "VpcId"));
	xml_text(x, "ownerId", ec2_jstr(v, "OwnerId"));
	xml_text(x, "state", ec2_jstr(v, "State"));
	xml_text(x, "cidrBlock", ec2_jstr(v, "CidrBlock"));
	xml_open(x, "cidrBlockAssociationSet", NULL);
	xml_open(x, "item", NULL);
	xml_textf(x, "associationId", "vpc-cidr-assoc-%s", ec2_jstr(v, "VpcId") + 4);
	xml_text(x, "cidrBlock", ec2_jstr(v, "CidrBlock"));
	xml_open(x, "cidrBlockState", NULL);
	xml_text(x, "state", "associated");
	xml_close(x);
	xml_close(x);
	xml_close(x);
	xml_text(x, "dhcpOptionsId", "default");
	xml_text(x, "instanceTenancy", ec2_jstr(v, "InstanceTenancy"));
	xml_text(x, "isDefault", "false");
	ec2_write_tags(x, v);
}

void ec2_create_vpc(struct ec2_req *q)
{
	const char *cidr, *tenancy = query_get(q->q, "InstanceTenancy");
	struct ec2_tags tags;
	char id[32], sg[32], arn[128];
	uint32_t addr;
	unsigned plen;
	json_t *v;
	struct xml x;

	if (!(cidr = cidr_arg(q, &addr, &plen)) || !tags_arg(q, "vpc", &tags))
		return;
	/* Dedicated tenancy is a host property ward does not offer. */
	if (tenancy && strcmp(tenancy, "default") != 0) {
		ec2_error(q, 400, "InvalidParameterValue", "Value (%.16s) for parameter "
			  "instanceTenancy is invalid: only 'default' is offered", tenancy);
		return;
	}
	if (!ec2_new_id(q, "vpc", id))
		return;
	ec2_arn(q, arn, sizeof(arn), "vpc", id);
	if (!ec2_allowed(q, (const char *const[]){ arn }, 1))
		return;
	v = json_pack("{ssssssssssss}", "VpcId", id, "CidrBlock", cidr, "State", "available",
		      "OwnerId", q->a->account, "InstanceTenancy", "default", "Arn", arn);
	if (!v) {
		ec2_error(q, 500, "InternalError", "out of memory");
		return;
	}
	ec2_tags_set(v, &tags);
	if (ec2_failed(q, ec2_sg_create_default(q, id, sg), "default security group"))
		goto out;
	json_object_set_new(v, "DefaultGroupId", json_string(sg));
	if (ec2_failed(q, ec2_save(q, true, "vpc", id, v), "vpc"))
		goto out;
	ec2_begin(q, &x);
	xml_open(&x, "vpc", NULL);
	write_vpc(&x, v);
	xml_close(&x);
	ec2_end(q, &x);
out:
	json_decref(v);
}

void ec2_delete_vpc(struct ec2_req *q)
{
	const char *id = id_arg(q, "VpcId", "vpc-", "InvalidVpcID.NotFound", "vpc ID");
	char arn[128];
	json_t *v;
	size_t subnets, groups;
	int rc;

	if (!id)
		return;
	ec2_arn(q, arn, sizeof(arn), "vpc", id);
	if (!ec2_allowed(q, (const char *const[]){ arn }, 1))
		return;
	if (!(v = ec2_load(q, "vpc", id))) {
		ec2_error(q, 400, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", id);
		return;
	}
	subnets = ec2_index_count(q, "vpcsubnet", id);
	groups = ec2_index_count(q, "vpcsg", id);
	if (subnets == (size_t)-1 || groups == (size_t)-1) {
		ec2_error(q, 500, "InternalError", "cannot read the vpc's dependencies");
	} else if (subnets > 0 || groups > 1) {
		/* Only the default group may go with the VPC. */
		ec2_error(q, 400, "DependencyViolation", "The vpc '%s' has dependencies and "
			  "cannot be deleted.", id);
	} else {
		json_t *g = ec2_load(q, "sg", ec2_jstr(v, "DefaultGroupId"));

		rc = g ? ec2_sg_drop(q, g) : -EIO;
		if (!rc)
			rc = ec2_drop(q, "vpc", id);
		if (!ec2_failed(q, rc, "deletion"))
			ec2_reply_return(q);
		json_decref(g);
	}
	json_decref(v);
}

static const struct ec2_field vpc_fields[] = {
	{ "vpc-id", "VpcId" },
	{ "cidr", "CidrBlock" },
	{ "cidr-block-association.cidr-block", "CidrBlock" },
	{ "state", "State" },
	{ "owner-id", "OwnerId" },
	{ "is-default", "IsDefault" },
	{ "instance-tenancy", "InstanceTenancy" },
	{ NULL, NULL },
};

void ec2_describe_vpcs(struct ec2_req *q)
{
	static const struct ec2_describe d = {
		"vpc", "VpcId", "VpcId", "InvalidVpcID.NotFound", "vpc ID", "vpcSet", vpc_fields,
		5, 1000, write_vpc,
	};

	ec2_describe(q, &d);
}

/* ---- subnets ------------------------------------------------------------------ */

static void write_subnet(struct xml *x, const json_t *s)
{
	xml_text(x, "subnetId", ec2_jstr(s, "SubnetId"));
	xml_text(x, "subnetArn", ec2_jstr(s, "Arn"));
	xml_text(x, "state", ec2_jstr(s, "State"));
	xml_text(x, "ownerId", ec2_jstr(s, "OwnerId"));
	xml_text(x, "vpcId", ec2_jstr(s, "VpcId"));
	xml_text(x, "cidrBlock", ec2_jstr(s, "CidrBlock"));
	xml_textf(x, "availableIpAddressCount", "%lld",
		  (long long)json_integer_value(json_object_get(s, "AvailableIpAddressCount")));
	xml_text(x, "availabilityZone", ec2_jstr(s, "AvailabilityZone"));
	xml_text(x, "defaultForAz", "false");
	xml_text(x, "mapPublicIpOnLaunch", "false");
	ec2_write_tags(x, s);
}

struct overlap {
	struct ec2_req *q;
	uint32_t addr, mask;
	const char *hit;
	char hit_buf[32];
};

static int overlap_cb(const char *key, const char *value, void *arg)
{
	struct overlap *o = arg;
	const char *sid = strrchr(key, '/') + 1;
	json_t *s = ec2_load(o->q, "subnet", sid);
	uint32_t a, m;
	unsigned p;
	int rc = -EIO;

	if (s && ec2_parse_cidr(ec2_jstr(s, "CidrBlock"), 0, 32, &a, &p) == 0) {
		m = p ? ~0u << (32 - p) : 0;
		/* Two aligned ranges overlap iff one contains the other's base. */
		if ((a & o->mask) == o->addr || (o->addr & m) == a) {
			snprintf(o->hit_buf, sizeof(o->hit_buf), "%s", sid);
			o->hit = o->hit_buf;
		}
		rc = 0;
	}
	json_decref(s);
	return rc;
}

void ec2_create_subnet(struct ec2_req *q)
{
	const char *vpc = id_arg(q, "VpcId", "vpc-", "InvalidVpcID.NotFound", "vpc ID"), *cidr,
		   *zone;
	struct ec2_tags tags;
	struct overlap ov = { .q = q };
	char id[32], arn[128], varn[128], prefix[64], first[40];
	uint32_t addr, vaddr;
	unsigned plen, vplen;
	json_t *v = NULL, *s = NULL;
	struct xml x;
	int rc;

	if (!vpc || !(cidr = cidr_arg(q, &addr, &plen)))
		return;
	zone = ec2_zone(q, "AvailabilityZone", false);
	if (!zone && query_get(q->q, "AvailabilityZone"))
		return;
	if (!zone) {
		snprintf(first, sizeof(first), "%sa", q->a->region);
		zone = first;
	}
	if (!tags_arg(q, "subnet", &tags) || !ec2_new_id(q, "subnet", id))
		return;
	ec2_arn(q, arn, sizeof(arn), "subnet", id);
	ec2_arn(q, varn, sizeof(varn), "vpc", vpc);
	if (!ec2_allowed(q, (const char *const[]){ arn, varn }, 2))
		return;
	if (!(v = ec2_load(q, "vpc", vpc))) {
		ec2_error(q, 400, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", vpc);
		return;
	}
	ec2_parse_cidr(ec2_jstr(v, "CidrBlock"), 0, 32, &vaddr, &vplen);
	if (plen < vplen || (addr & (vplen ? ~0u << (32 - vplen) : 0)) != vaddr) {
		ec2_error(q, 400, "InvalidSubnet.Range", "The CIDR '%s' is invalid for the vpc "
			  "'%s' (%s).", cidr, vpc, ec2_jstr(v, "CidrBlock"));
		goto out;
	}
	ov.addr = addr;
	ov.mask = ~0u << (32 - plen);
	snprintf(prefix, sizeof(prefix), "ec2/vpcsubnet/%s/", vpc);
	if ((rc = store_list(q->t, prefix, overlap_cb, &ov))) {
		ec2_error(q, 500, "InternalError", "cannot read the vpc's subnets");
		goto out;
	}
	if (ov.hit) {
		ec2_error(q, 400, "InvalidSubnet.Conflict", "The CIDR '%s' conflicts with another "
			  "subnet (%s)", cidr, ov.hit);
		goto out;
	}
	/* AWS keeps the first four addresses and the last one. */
	s = json_pack("{sssssssssssssssI}", "SubnetId", id, "VpcId", vpc, "CidrBlock", cidr,
		      "AvailabilityZone", zone, "State", "available", "OwnerId", q->a->account,
		      "Arn", arn, "AvailableIpAddressCount", (json_int_t)((1u << (32 - plen)) - 5));
	if (!s) {
		ec2_error(q, 500, "InternalError", "out of memory");
		goto out;
	}
	ec2_tags_set(s, &tags);
	if (ec2_failed(q, ec2_save(q, true, "subnet", id, s), "subnet") ||
	    ec2_failed(q, ec2_index_put(q, "vpcsubnet", vpc, id), "subnet index"))
		goto out;
	ec2_begin(q, &x);
	xml_open(&x, "subnet", NULL);
	write_subnet(&x, s);
	xml_close(&x);
	ec2_end(q, &x);
out:
	json_decref(s);
	json_decref(v);
}

void ec2_delete_subnet(struct ec2_req *q)
{
	const char *id = id_arg(q, "SubnetId", "subnet-", "InvalidSubnetID.NotFound",
				"subnet ID");
	char arn[128];
	json_t *s;
	size_t users;

	if (!id)
		return;
	ec2_arn(q, arn, sizeof(arn), "subnet", id);
	if (!ec2_allowed(q, (const char *const[]){ arn }, 1))
		return;
	if (!(s = ec2_load(q, "subnet", id))) {
		ec2_error(q, 400, "InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist",
			  id);
		return;
	}
	/* Instances in the subnet (ec2/subnetinstance/<subnet>/<i-...>). */
	users = ec2_index_count(q, "subnetinstance", id);
	if (users == (size_t)-1)
		ec2_error(q, 500, "InternalError", "cannot read the subnet's dependencies");
	else if (users)
		ec2_error(q, 400, "DependencyViolation", "The subnet '%s' has dependencies and "
			  "cannot be deleted.", id);
	else if (!ec2_failed(q, ec2_drop(q, "subnet", id), "deletion") &&
		 !ec2_failed(q, ec2_index_del(q, "vpcsubnet", ec2_jstr(s, "VpcId"), id),
			     "deletion"))
		ec2_reply_return(q);
	json_decref(s);
}

static const struct ec2_field subnet_fields[] = {
	{ "subnet-id", "SubnetId" },
	{ "vpc-id", "VpcId" },
	{ "cidr", "CidrBlock" },
	{ "cidr-block", "CidrBlock" },
	{ "cidrBlock", "CidrBlock" },
	{ "availability-zone", "AvailabilityZone" },
	{ "availabilityZone", "AvailabilityZone" },
	{ "state", "State" },
	{ "owner-id", "OwnerId" },
	{ "subnet-arn", "Arn" },
	{ "available-ip-address-count", "AvailableIpAddressCount" },
	{ NULL, NULL },
};

void ec2_describe_subnets(struct ec2_req *q)
{
	static const struct ec2_describe d = {
		"subnet", "SubnetId", "SubnetId", "InvalidSubnetID.NotFound", "subnet ID",
		"subnetSet", subnet_fields, 5, 1000, write_subnet,
	};

	ec2_describe(q, &d);
}
