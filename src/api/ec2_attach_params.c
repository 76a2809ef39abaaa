/* ec2_attach_params: the parameters of AttachVolume, DetachVolume,
 * DescribeImages and Create/DeleteTags (ec2.h's ec2_parse_attach/_detach/
 * _images/_tag_request), pure over a parsed query so the fuzz harness
 * (fuzz/api/fuzz_ec2_params.c) links them with the other parsers only. */
#include "ec2.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static bool hex_id(const char *s, const char *prefix)
{
	size_t p = strlen(prefix), n = strlen(s);

	return n > p && n < 32 && !strncmp(s, prefix, p) &&
	       strspn(s + p, "0123456789abcdef") == n - p;
}

bool ec2_volume_id_ok(const char *s)
{
	return hex_id(s, "vol-");
}

bool ec2_instance_id_ok(const char *s)
{
	return hex_id(s, "i-");
}

/* The device names a guest may be given: /dev/sd[b-z], /dev/xvd[b-z] or
 * /dev/vd[b-z] (the root is the image, not a volume; ward's guests see
 * virtio-blk, so the letter only orders the volumes of an instance). */
bool ec2_device_ok(const char *s)
{
	static const char *const pre[] = { "/dev/sd", "/dev/xvd", "/dev/vd" };

	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		size_t n = strlen(pre[i]);

		if (!strncmp(s, pre[i], n) && s[n] >= 'b' && s[n] <= 'z' && !s[n + 1])
			return true;
	}
	return false;
}

/* ami- + an image name of a host's store as RunInstances takes it. */
bool ec2_image_id_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 5 && n <= EC2_IMAGE_ID_MAX && !strncmp(s, "ami-", 4) &&
	       strspn(s + 4, "abcdefghijklmnopqrstuvwxyz0123456789-") == n - 4;
}

__attribute__((format(printf, 4, 5)))
static int bad(char *err, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return rc;
}

int ec2_parse_attach(const struct query *q, struct ec2_attach *out, char *err, size_t len)
{
	memset(out, 0, sizeof(*out));
	out->volume = query_get(q, "VolumeId");
	out->instance = query_get(q, "InstanceId");
	out->device = query_get(q, "Device");
	if (!out->volume)
		return bad(err, len, -ENOENT, "The request must contain the parameter %s", "VolumeId");
	if (!out->instance)
		return bad(err, len, -ENOENT, "The request must contain the parameter %s", "InstanceId");
	if (!out->device)
		return bad(err, len, -ENOENT, "The request must contain the parameter %s", "Device");
	if (!ec2_volume_id_ok(out->volume))
		return bad(err, len, -EBADF, "Invalid id: \"%.32s\" (expecting \"vol-...\")",
			   out->volume);
	if (!ec2_instance_id_ok(out->instance))
		return bad(err, len, -ESRCH, "Invalid id: \"%.32s\" (expecting \"i-...\")",
			   out->instance);
	if (!ec2_device_ok(out->device))
		return bad(err, len, -EINVAL, "Value (%.32s) for parameter device is invalid: "
			   "/dev/sd[b-z], /dev/xvd[b-z] or /dev/vd[b-z]", out->device);
	return 0;
}

int ec2_parse_detach(const struct query *q, struct ec2_detach *out, char *err, size_t len)
{
	const char *f;

	memset(out, 0, sizeof(*out));
	out->volume = query_get(q, "VolumeId");
	out->instance = query_get(q, "InstanceId");
	out->device = query_get(q, "Device");
	if (!out->volume)
		return bad(err, len, -ENOENT, "The request must contain the parameter %s", "VolumeId");
	if (!ec2_volume_id_ok(out->volume))
		return bad(err, len, -EBADF, "Invalid id: \"%.32s\" (expecting \"vol-...\")",
			   out->volume);
	if (out->instance && !ec2_instance_id_ok(out->instance))
		return bad(err, len, -ESRCH, "Invalid id: \"%.32s\" (expecting \"i-...\")",
			   out->instance);
	if (out->device && !ec2_device_ok(out->device))
		return bad(err, len, -EINVAL, "Value (%.32s) for parameter device is invalid",
			   out->device);
	f = query_get(q, "Force");
	if (f && strcmp(f, "true") && strcmp(f, "false"))
		return bad(err, len, -EINVAL, "Invalid value for parameter Force: %.8s", f);
	out->force = f && !strcmp(f, "true");
	return 0;
}

/* <prefix>.1 … <prefix>.N, no gaps, no stray <prefix>.* parameter. */
static int list(const struct query *q, const char *prefix, const char **out, size_t max,
		size_t *n, char *err, size_t len)
{
	char name[48];
	size_t seen = 0, pl = strlen(prefix);

	*n = 0;
	for (;;) {
		const char *v;

		snprintf(name, sizeof(name), "%s.%zu", prefix, *n + 1);
		if (!(v = query_get(q, name)))
			break;
		if (*n == max)
			return bad(err, len, -EINVAL, "The request names more than %s values",
				   max == EC2_MAX_IDS ? "200" : "the allowed number of");
		out[(*n)++] = v;
	}
	for (size_t i = 0; i < q->n; i++)
		if (!strncmp(q->p[i].name, prefix, pl) && q->p[i].name[pl] == '.')
			seen++;
	if (seen != *n)
		return bad(err, len, -EINVAL, "%s.N must be numbered from 1 without gaps", prefix);
	return 0;
}

int ec2_parse_images(const struct query *q, struct ec2_images *out, char *err, size_t len)
{
	const char *v;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = list(q, "ImageId", out->ids, EC2_MAX_IDS, &out->n_ids, err, len)) ||
	    (rc = list(q, "Owner", out->owners, EC2_MAX_OWNERS, &out->n_owners, err, len)) ||
	    (rc = list(q, "ExecutableBy", out->exec_by, EC2_MAX_OWNERS, &out->n_exec_by, err, len)))
		return rc;
	for (size_t i = 0; i < out->n_ids; i++)
		if (!ec2_image_id_ok(out->ids[i]))
			return bad(err, len, -EBADF, "Invalid id: \"%.64s\" (expecting \"ami-...\")",
				   out->ids[i]);
	/* Owners and executors: aliases or 12-digit accounts. */
	for (size_t i = 0; i < out->n_owners + out->n_exec_by; i++) {
		v = i < out->n_owners ? out->owners[i] : out->exec_by[i - out->n_owners];
		if (strcmp(v, "self") && strcmp(v, "amazon") && strcmp(v, "aws-marketplace") &&
		    strcmp(v, "all") && (strlen(v) != 12 || strspn(v, "0123456789") != 12))
			return bad(err, len, -EINVAL, "Invalid owner or executor: \"%.16s\"", v);
	}
	return 0;
}

int ec2_parse_tag_request(const struct query *q, bool deleting, struct ec2_tag_request *out,
			  char *err, size_t len)
{
	size_t used = 0;
	char name[48];
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = list(q, "ResourceId", out->ids, EC2_MAX_IDS, &out->n_ids, err, len)))
		return rc;
	if (!out->n_ids)
		return bad(err, len, -ENOENT, "The request must contain the parameter %s",
			   "resourceIdSet");
	for (size_t i = 0; i < out->n_ids; i++)
		if (!ec2_id_ok(out->ids[i], ""))
			return bad(err, len, -EBADF, "Invalid id: \"%.64s\"", out->ids[i]);
	for (size_t j = 1;; j++) {
		const char *k, *v;

		snprintf(name, sizeof(name), "Tag.%zu.Key", j);
		k = query_get(q, name);
		snprintf(name, sizeof(name), "Tag.%zu.Value", j);
		v = query_get(q, name);
		if (!k) {
			if (v)
				return bad(err, len, -EINVAL, "Tag %zu has a value but no key", j);
			break;
		}
		used += v ? 2 : 1;
		/* CreateTags: an absent value is "" (AWS); DeleteTags: any value. */
		if (!v && !deleting)
			v = "";
		if (out->n_tags == EC2_MAX_TAGS)
			return bad(err, len, -EINVAL, "The request has more than %d tags",
				   EC2_MAX_TAGS);
		if (!ec2_text_ok(k, 1, 128) || (v && !ec2_text_ok(v, 0, 256)))
			return bad(err, len, -EINVAL, "Tag keys are 1-128 and values 0-256 "
				   "printable characters");
		if (!strncmp(k, "aws:", 4))
			return bad(err, len, -EINVAL, "Tag keys starting with 'aws:' are reserved "
				   "for internal use");
		for (size_t m = 0; m < out->n_tags; m++)
			if (!strcmp(out->tags[m].key, k))
				return bad(err, len, -EINVAL, "The tag key '%.128s' is given more "
					   "than once", k);
		out->tags[out->n_tags++] = (struct ec2_tag){ k, v };
	}
	if (!deleting && !out->n_tags)
		return bad(err, len, -ENOENT, "The request must contain the parameter %s", "tagSet");
	/* No stray Tag.* parameter (Tag.1.Vlaue, Tag.3 after a gap). */
	for (size_t i = 0; i < q->n; i++)
		if (!strncmp(q->p[i].name, "Tag.", 4))
			used--;
	if (used != 0)
		return bad(err, len, -EINVAL, "Tag.N.Key/Value must be numbered from 1 without "
			   "gaps, with no other members");
	return 0;
}
