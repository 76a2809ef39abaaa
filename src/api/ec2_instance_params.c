/* ec2_instance_params: RunInstances' own parameters (ec2.h's ec2_parse_run),
 * pure over a parsed query, apart from the action so the fuzz harness
 * (fuzz/api/fuzz_ec2_params.c) links it with the other parsers only. */
#include "ec2.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ec2_place.h"

#define RUN_MAX 20		/* MaxCount per request (ec2_instance.c's too) */

static bool token_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

int ec2_parse_run(const struct query *q, struct ec2_run *out, char *err, size_t len)
{
	const char *s;
	long v;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!(s = query_get(q, "ImageId"))) {
		snprintf(err, len, "The request must contain the parameter ImageId");
		return -ENOENT;
	}
	/* Until DescribeImages lands, an AMI id names an image of the host's
	 * firmware-verified store: "ami-" + its name ([a-z0-9-], 1-48). */
	if (strncmp(s, "ami-", 4) || strlen(s) < 5 || strlen(s) > 52 ||
	    strspn(s + 4, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(s + 4)) {
		snprintf(err, len, "Invalid id: \"%.52s\" (expecting \"ami-...\")", s);
		return -EINVAL;
	}
	out->image = s;
	/* EC2's default is m1.small, which ward does not offer: t3.micro. */
	s = query_get(q, "InstanceType");
	out->type = ec2_itype_find(s ? s : "t3.micro");
	if (!out->type) {
		snprintf(err, len, "The instance type '%.32s' is not offered by ward", s);
		return -EINVAL;
	}
	out->min = out->max = 1;
	rc = ec2_parse_int(q, "MinCount", 1, RUN_MAX, &v);
	if (rc == -EINVAL)
		goto bad_count;
	if (!rc)
		out->min = (unsigned)v;
	rc = ec2_parse_int(q, "MaxCount", 1, RUN_MAX, &v);
	if (rc == -EINVAL)
		goto bad_count;
	if (!rc)
		out->max = (unsigned)v;
	if (out->min > out->max) {
		snprintf(err, len, "MinCount must be no more than MaxCount");
		return -EINVAL;
	}
	out->token = query_get(q, "ClientToken");
	if (out->token && !token_ok(out->token)) {
		snprintf(err, len, "The client token must be 1-64 printable ASCII characters");
		return -EINVAL;
	}
	out->subnet = query_get(q, "SubnetId");
	if (out->subnet && !ec2_id_ok(out->subnet, "subnet-")) {
		snprintf(err, len, "Invalid id: \"%.64s\"", out->subnet);
		return -EINVAL;
	}
	if (ec2_parse_ids(q, "SecurityGroupId", out->groups, &out->n_groups, err, len))
		return -EINVAL;
	if (out->n_groups > 5) {
		snprintf(err, len, "at most 5 security groups");
		return -EINVAL;
	}
	if (query_get(q, "SecurityGroup.1") || query_get(q, "IamInstanceProfile.Arn") ||
	    query_get(q, "IamInstanceProfile.Name") || query_get(q, "NetworkInterface.1.DeviceIndex") ||
	    query_get(q, "BlockDeviceMapping.1.DeviceName") || query_get(q, "UserData")) {
		snprintf(err, len, "SecurityGroup (by name), IamInstanceProfile, NetworkInterface, "
			 "BlockDeviceMapping and UserData are not offered by ward yet");
		return -EOPNOTSUPP;
	}
	return 0;
bad_count:
	snprintf(err, len, "MinCount and MaxCount are 1..%d", RUN_MAX);
	return -EINVAL;
}
