/* fuzz_ec2_params: the EC2 Query protocol's structured parameters
 * (src/api/ec2_params.c) — Filter.N, ID lists, TagSpecification.N and
 * IpPermissions.N, RunInstances', AttachVolume's, DetachVolume's,
 * DescribeImages' and Create/DeleteTags' parameters from any form body:
 * each either parses into values that keep the documented limits, or is
 * refused. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ec2.h"

static void check_rules(const struct ec2_rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool tcpudp = !strcmp(r[i].proto, "tcp") || !strcmp(r[i].proto, "udp");

		/* Exactly one peer; ports in range, ordered, for tcp/udp. */
		if (!r[i].cidr[0] == !r[i].group[0])
			abort();
		if (tcpudp && (r[i].from < 0 || r[i].to > 65535 || r[i].from > r[i].to))
			abort();
		if (!tcpudp && (r[i].from < -1 || r[i].from > 255 || r[i].to < -1 || r[i].to > 255))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ec2_filters f;
	static struct ec2_tags t;
	static struct ec2_rule rules[EC2_MAX_RULES];
	static struct ec2_run run;
	static struct ec2_images img;
	static struct ec2_tag_request treq;
	struct ec2_attach att;
	struct ec2_detach det;
	const char *ids[EC2_MAX_IDS];
	struct query q;
	char err[256];
	size_t n;
	uint32_t addr;
	unsigned plen;

	if (query_parse((const char *)data, size, &q, err, sizeof(err)))
		return 0;
	if (ec2_parse_filters(&q, &f, err, sizeof(err)) == 0) {
		size_t total = 0;

		for (size_t i = 0; i < f.n; i++) {
			if (!f.f[i].name || !f.f[i].n)
				abort();
			for (size_t j = 0; j < f.f[i].n; j++)
				if (!f.f[i].values[j])
					abort();
			total += f.f[i].n;
		}
		if (total != f.n_values || total > EC2_MAX_FILTER_VALUES)
			abort();
	}
	if (ec2_parse_ids(&q, "VpcId", ids, &n, err, sizeof(err)) == 0 && n > EC2_MAX_IDS)
		abort();
	if (ec2_parse_tags(&q, "volume", &t, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < t.n; i++)
			if (!t.t[i].key[0] || strlen(t.t[i].key) > 128 || strlen(t.t[i].value) > 256 ||
			    !strncmp(t.t[i].key, "aws:", 4))
				abort();
	}
	if (ec2_parse_rules(&q, rules, EC2_MAX_RULES, &n, err, sizeof(err)) == 0)
		check_rules(rules, n);
	/* RunInstances: an image name the controller accepts, counts in order. */
	if (ec2_parse_run(&q, &run, err, sizeof(err)) == 0 &&
	    (strncmp(run.image, "ami-", 4) || !run.type || run.min < 1 || run.min > run.max ||
	     run.max > 20 || run.n_groups > 5 ||
	     strspn(run.image + 4, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(run.image + 4)))
		abort();
	/* AttachVolume/DetachVolume: ids and a device a path segment and the
	 * guest may carry; DescribeImages: ids RunInstances can take. */
	if (ec2_parse_attach(&q, &att, err, sizeof(err)) == 0 &&
	    (!ec2_volume_id_ok(att.volume) || !ec2_instance_id_ok(att.instance) ||
	     !ec2_device_ok(att.device) || strlen(att.device) > 10 || strchr(att.volume, '/') ||
	     strchr(att.instance, '/')))
		abort();
	if (ec2_parse_detach(&q, &det, err, sizeof(err)) == 0 &&
	    (!ec2_volume_id_ok(det.volume) || (det.instance && !ec2_instance_id_ok(det.instance)) ||
	     (det.device && !ec2_device_ok(det.device))))
		abort();
	if (ec2_parse_images(&q, &img, err, sizeof(err)) == 0) {
		if (img.n_ids > EC2_MAX_IDS || img.n_owners > EC2_MAX_OWNERS ||
		    img.n_exec_by > EC2_MAX_OWNERS)
			abort();
		for (size_t i = 0; i < img.n_ids; i++)
			if (!ec2_image_id_ok(img.ids[i]) || strlen(img.ids[i]) > EC2_IMAGE_ID_MAX ||
			    strspn(img.ids[i] + 4, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
				    strlen(img.ids[i] + 4))
				abort();
	}
	/* Create/DeleteTags: ids, and tags within TagSpecification's rules. */
	for (int del = 0; del < 2; del++)
		if (ec2_parse_tag_request(&q, del, &treq, err, sizeof(err)) == 0) {
			if (!treq.n_ids || treq.n_ids > EC2_MAX_IDS || treq.n_tags > EC2_MAX_TAGS ||
			    (!del && !treq.n_tags))
				abort();
			for (size_t i = 0; i < treq.n_tags; i++)
				if (!treq.tags[i].key[0] || strlen(treq.tags[i].key) > 128 ||
				    !strncmp(treq.tags[i].key, "aws:", 4) ||
				    (!del && !treq.tags[i].value) ||
				    (treq.tags[i].value && strlen(treq.tags[i].value) > 256))
					abort();
		}
	for (size_t i = 0; i < q.n; i++)
		if (ec2_parse_cidr(q.p[i].value, 0, 32, &addr, &plen) == 0 &&
		    (plen > 32 || (plen < 32 && (addr & (0xffffffffu >> plen)))))
			abort();
	query_free(&q);
	return 0;
}
