/* test_ec2_units: ward-api's EC2 pieces in-process — the structured
 * parameter parsers (Filter.N, TagSpecification.N, IpPermissions.N,
 * CIDRs), the API scope of the SigV4 service, pagination while items are
 * added between pages, DeleteVolume's VolumeInUse (an attachment put
 * straight into the store: AttachVolume is not built yet), and placement. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api.h"
#include "ec2.h"
#include "ec2_place.h"
#include "seal.h"

static int parse(const char *body, struct query *q)
{
	char err[128];

	return query_parse(body, strlen(body), q, err, sizeof(err));
}

static void test_params(void **state)
{
	static const struct {
		const char *body;
		int which;	/* 0 filters, 1 tags (vpc), 2 rules */
		bool ok;
	} cases[] = {
		{ "Filter.1.Name=a&Filter.1.Value.1=x&Filter.1.Value.2=y&Filter.2.Name=b&Filter.2.Value.1=z", 0, true },
		{ "Filter.1.Name=a&Filter.1.Value.1=x&Filter.3.Name=b&Filter.3.Value.1=z", 0, false },	/* gap */
		{ "Filter.1.Name=a&Filter.1.Value.1=x&Filter.1.Nmae=b", 0, false },	/* unread member */
		{ "Filter.1.Name=a", 0, false },	/* no values */
		{ "TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=k&TagSpecification.1.Tag.1.Value=v", 1, true },
		{ "TagSpecification.1.ResourceType=volume&TagSpecification.1.Tag.1.Key=k", 1, false },
		{ "TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=aws%3Ax", 1, false },
		{ "TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=k&TagSpecification.1.Tag.2.Key=k", 1, false },
		{ "TagSpecification.1.Tag.1.Key=k", 1, false },	/* no type */
		{ "IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=22&IpPermissions.1.ToPort=22&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0%2F8", 2, true },
		{ "IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=22&IpPermissions.1.ToPort=22&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.1%2F8", 2, false },	/* host bits */
		{ "IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=30&IpPermissions.1.ToPort=22&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0%2F8", 2, false },
		{ "IpPermissions.1.IpProtocol=tcp&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0%2F8", 2, false },	/* no ports */
		{ "IpPermissions.1.IpProtocol=icmp&IpPermissions.1.FromPort=8&IpPermissions.1.ToPort=-1&IpPermissions.1.Groups.1.GroupId=sg-1", 2, true },
		{ "IpPermissions.1.IpProtocol=-1", 2, false },	/* no peer */
		{ "IpPermissions.1.IpProtocol=gre&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0%2F0", 2, false },
		{ "IpProtocol=-1&CidrIp=0.0.0.0%2F0", 2, true },
		{ "IpPermissions.1.IpProtocol=udp&IpPermissions.1.FromPort=53&IpPermissions.1.ToPort=53&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0%2F0&IpPermissions.1.IpRanges.2.CidrIp=0.0.0.0%2F0", 2, false },	/* twice */
	};
	static struct ec2_filters f;
	static struct ec2_tags t;
	struct ec2_rule rules[EC2_MAX_RULES];
	char err[256];
	size_t n;
	uint32_t addr;
	unsigned plen;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct query q;
		int rc;

		assert_int_equal(parse(cases[i].body, &q), 0);
		rc = cases[i].which == 0 ? ec2_parse_filters(&q, &f, err, sizeof(err)) :
		     cases[i].which == 1 ? ec2_parse_tags(&q, "vpc", &t, err, sizeof(err)) :
		     ec2_parse_rules(&q, rules, EC2_MAX_RULES, &n, err, sizeof(err));
		if ((rc == 0) != cases[i].ok)
			fail_msg("case %zu (%s): rc %d, %s", i, cases[i].body, rc, err);
		query_free(&q);
	}
	assert_int_equal(ec2_parse_cidr("10.0.0.0/16", 16, 28, &addr, &plen), 0);
	assert_int_equal(plen, 16);
	assert_int_equal(ec2_parse_cidr("10.0.0.0/8", 16, 28, &addr, &plen), -ERANGE);
	assert_int_equal(ec2_parse_cidr("010.0.0.0/16", 16, 28, &addr, &plen), -EINVAL);
	assert_int_equal(ec2_parse_cidr("10.0.0.0/16x", 16, 28, &addr, &plen), -EINVAL);
	assert_int_equal(ec2_parse_cidr("256.0.0.0/16", 16, 28, &addr, &plen), -EINVAL);
}

struct env {
	struct api a;
	struct store *s;
	struct api_caller c;
};

static void env_open(struct env *e)
{
	static const uint8_t master[32] = { 9 };
	char akid[21], secret[41];

	memset(e, 0, sizeof(*e));
	assert_int_equal(store_sqlite_open(":memory:", &e->s), 0);
	assert_int_equal(api_open(&e->a, e->s, "111122223333", master), 0);
	assert_int_equal(iam_bootstrap_admin(&e->a, "admin", 1000, akid, secret), 0);
	e->c.kind = CALLER_USER;
	strcpy(e->c.arn, "arn:aws:iam::111122223333:user/admin");
	strcpy(e->c.userid, "AIDAADMIN");
	strcpy(e->c.name, "admin");
	strcpy(e->c.service, "ec2");
}

static void env_close(struct env *e)
{
	api_close(&e->a);
	store_close(e->s);
}

/* Runs body; the reply is in r (the caller frees r->body). */
static int call(struct env *e, const char *body, struct api_reply *r)
{
	struct query q;

	assert_int_equal(parse(body, &q), 0);
	api_dispatch(&e->a, &e->c, &q, 2000, r);
	query_free(&q);
	return r->status;
}

/* The text of the first <tag> in body, into out. */
static void first(const char *body, const char *tag, char *out, size_t len)
{
	char open[64];
	const char *p, *end;

	snprintf(open, sizeof(open), "<%s>", tag);
	p = strstr(body, open);
	assert_non_null(p);
	p += strlen(open);
	end = strchr(p, '<');
	assert_non_null(end);
	snprintf(out, len, "%.*s", (int)(end - p), p);
}

static void test_scope(void **state)
{
	struct env e;
	struct api_reply r;

	(void)state;
	env_open(&e);
	/* An ec2-signed request reaches EC2's actions only, and the reverse. */
	assert_int_equal(call(&e, "Action=CreateUser&Version=2010-05-08&UserName=x", &r), 400);
	assert_non_null(strstr(r.body, "<Response><Errors>"));
	free(r.body);
	strcpy(e.c.service, "iam");
	assert_int_equal(call(&e, "Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0%2F16", &r), 400);
	assert_non_null(strstr(r.body, "<ErrorResponse"));
	free(r.body);
	strcpy(e.c.service, "ec2");
	assert_int_equal(call(&e, "Action=CreateVpc&Version=2010-05-08&CidrBlock=10.0.0.0%2F16", &r), 400);
	free(r.body);
	/* A DryRun is an error reply: its transaction is aborted. */
	assert_int_equal(call(&e, "Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0%2F16&DryRun=true", &r), 412);
	assert_non_null(strstr(r.body, "<Code>DryRunOperation</Code>"));
	free(r.body);
	assert_int_equal(call(&e, "Action=DescribeVpcs&Version=2016-11-15", &r), 200);
	assert_non_null(strstr(r.body, "<vpcSet></vpcSet>"));
	free(r.body);
	env_close(&e);
}

static void test_pages_with_inserts(void **state)
{
	struct env e;
	struct api_reply r;
	char made[12][32], seen[64][32], token[64] = "", body[256];
	size_t n_seen = 0;

	(void)state;
	env_open(&e);
	for (int i = 0; i < 12; i++) {
		assert_int_equal(call(&e, "Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0%2F16", &r), 200);
		first(r.body, "vpcId", made[i], sizeof(made[i]));
		free(r.body);
	}
	for (int page = 0; page < 10; page++) {
		const char *p;

		snprintf(body, sizeof(body), "Action=DescribeVpcs&Version=2016-11-15&MaxResults=5%s%s",
			 token[0] ? "&NextToken=" : "", token);
		assert_int_equal(call(&e, body, &r), 200);
		for (p = r.body; (p = strstr(p, "<item><vpcId>")); p++) {
			assert_true(n_seen < 64);
			snprintf(seen[n_seen], 32, "%.21s", p + strlen("<item><vpcId>"));
			n_seen++;
		}
		token[0] = '\0';
		if (strstr(r.body, "<nextToken>"))
			first(r.body, "nextToken", token, sizeof(token));
		free(r.body);
		if (!token[0])
			break;
		/* New VPCs between pages: they may or may not show up, but
		 * nothing that was there is skipped or repeated. */
		assert_int_equal(call(&e, "Action=CreateVpc&Version=2016-11-15&CidrBlock=10.1.0.0%2F16", &r), 200);
		free(r.body);
	}
	for (size_t i = 0; i < n_seen; i++)
		for (size_t j = i + 1; j < n_seen; j++)
			assert_string_not_equal(seen[i], seen[j]);
	for (int i = 0; i < 12; i++) {
		size_t k;

		for (k = 0; k < n_seen && strcmp(seen[k], made[i]) != 0; k++)
			;
		assert_true(k < n_seen);
	}
	/* Above the page size is the page size (the CLI asks for 1000 volumes). */
	assert_int_equal(call(&e, "Action=DescribeVolumes&Version=2016-11-15&MaxResults=1000", &r), 200);
	free(r.body);
	assert_int_equal(call(&e, "Action=DescribeVpcs&Version=2016-11-15&MaxResults=4", &r), 400);
	free(r.body);
	assert_int_equal(call(&e, "Action=DescribeVpcs&Version=2016-11-15&NextToken=..%2Fx", &r), 400);
	free(r.body);
	env_close(&e);
}

static void test_volume_in_use(void **state)
{
	struct env e;
	struct api_reply r;
	struct store_txn *t;
	char vol[32], key[64], body[128], *v, *att;
	const char *hole;

	(void)state;
	env_open(&e);
	assert_int_equal(call(&e, "Action=CreateVolume&Version=2016-11-15&Size=1&AvailabilityZone=us-east-1a", &r), 200);
	first(r.body, "volumeId", vol, sizeof(vol));
	free(r.body);
	snprintf(key, sizeof(key), "ec2/volume/%s", vol);
	assert_int_equal(store_txn_begin(e.s, true, &t), 0);
	assert_int_equal(store_get(t, key, &v), 0);
	hole = strstr(v, "\"Attachments\":[]");
	assert_non_null(hole);
	assert_true(asprintf(&att, "%.*s\"Attachments\":[{\"InstanceId\":\"i-0123456789abcdef0\","
			     "\"Device\":\"/dev/vdb\",\"State\":\"attached\"}]%s", (int)(hole - v), v,
			     hole + strlen("\"Attachments\":[]")) > 0);
	assert_int_equal(store_put(t, key, att), 0);
	assert_int_equal(store_txn_commit(t), 0);
	snprintf(body, sizeof(body), "Action=DeleteVolume&Version=2016-11-15&VolumeId=%s", vol);
	assert_int_equal(call(&e, body, &r), 400);
	assert_non_null(strstr(r.body, "<Code>VolumeInUse</Code>"));
	assert_non_null(strstr(r.body, "i-0123456789abcdef0"));
	free(r.body);
	/* The control: detached, it goes. */
	assert_int_equal(store_txn_begin(e.s, true, &t), 0);
	assert_int_equal(store_put(t, key, v), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(call(&e, body, &r), 200);
	free(r.body);
	free(att);
	free(v);
	env_close(&e);
}

static void test_client_token(void **state)
{
	static const char mk[] = "Action=CreateVolume&Version=2016-11-15&AvailabilityZone=us-east-1a"
		"&ClientToken=retry+me%2F1&Size=";
	struct env e;
	struct api_reply r;
	char a[32], b[32], body[256];

	(void)state;
	env_open(&e);
	snprintf(body, sizeof(body), "%s2", mk);
	assert_int_equal(call(&e, body, &r), 200);
	first(r.body, "volumeId", a, sizeof(a));
	free(r.body);
	assert_int_equal(call(&e, body, &r), 200);
	first(r.body, "volumeId", b, sizeof(b));
	free(r.body);
	assert_string_equal(a, b);
	snprintf(body, sizeof(body), "%s3", mk);
	assert_int_equal(call(&e, body, &r), 400);
	assert_non_null(strstr(r.body, "<Code>IdempotentParameterMismatch</Code>"));
	free(r.body);
	/* Same parameters in another order: the same request. */
	assert_int_equal(call(&e, "Action=CreateVolume&Version=2016-11-15&Size=2&ClientToken=retry+me%2F1"
			      "&AvailabilityZone=us-east-1a", &r), 200);
	first(r.body, "volumeId", b, sizeof(b));
	free(r.body);
	assert_string_equal(a, b);
	env_close(&e);
}

static void test_place(void **state)
{
	struct ec2_host_cap h[] = {
		/* SMT host: fixed needs even vCPUs; one with no pool. */
		{ "host-a", 2, 2, 1, 16384, 0 },
		{ "host-b", 1, 4, 0, 65536, 0 },
	};
	const struct ec2_itype *m5 = ec2_itype_find("m5.large"), *m5x = ec2_itype_find("m5.xlarge"),
			       *t3 = ec2_itype_find("t3.micro");
	int i;

	(void)state;
	assert_non_null(m5);
	assert_non_null(t3);
	assert_null(ec2_itype_find("x1.32xlarge"));
	/* Burstable: only host-a has a pool. */
	assert_int_equal(ec2_place(h, 2, t3), 0);
	/* Fixed instances spread: fewest instances first, then free memory. */
	assert_int_equal(ec2_place(h, 2, m5), 1);
	ec2_place_take(&h[1], m5);
	assert_int_equal(h[1].fixed_free_cores, 2);
	assert_int_equal(ec2_place(h, 2, m5), 0);
	ec2_place_take(&h[0], m5);	/* 2 vCPUs = 1 core of an SMT-2 host */
	assert_int_equal(h[0].fixed_free_cores, 1);
	/* m5.xlarge: 4 vCPUs is 2 cores on host-a (1 free) or 4 on host-b (2 free). */
	assert_int_equal(ec2_place(h, 2, m5x), -ENOSPC);
	i = ec2_place(h, 2, m5);
	assert_true(i == 0 || i == 1);
	/* Memory: a t3.micro needs 1024 MiB on the only host with a pool. */
	h[0].memory_free_mib = 1024;
	assert_int_equal(ec2_place(h, 2, t3), 0);
	h[0].memory_free_mib = 1023;
	assert_int_equal(ec2_place(h, 2, t3), -ENOSPC);
}

/* UnauthorizedOperation's encoded message opens, whole, with the
 * operator's key, even for the longest caller ARN. */
static void test_unauthorized_message(void **state)
{
	struct env e;
	struct api_reply r;
	const char *m, *end;
	char *b64;
	uint8_t *pt = NULL;
	size_t len;

	(void)state;
	env_open(&e);
	strcpy(e.c.name, "nobody");
	snprintf(e.c.arn, sizeof(e.c.arn), "arn:aws:iam::111122223333:user/%0550d", 7);
	assert_int_equal(call(&e, "Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0%2F16", &r), 403);
	assert_non_null(strstr(r.body, "<Code>UnauthorizedOperation</Code>"));
	m = strstr(r.body, "message: ");
	assert_non_null(m);
	m += strlen("message: ");
	end = strstr(m, "</Message>");
	assert_non_null(end);
	b64 = strndup(m, (size_t)(end - m));
	assert_int_equal(seal_open_b64(e.a.authz_key, "ec2-authorization-message", b64, &pt, &len), 0);
	assert_non_null(strstr((char *)pt, "\"action\":\"ec2:CreateVpc\""));
	assert_non_null(strstr((char *)pt, e.c.arn));
	assert_null(strstr(r.body, "CreateVpc"));	/* only sealed */
	free(pt);
	free(b64);
	free(r.body);
	env_close(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_scope),
		cmocka_unit_test(test_pages_with_inserts),
		cmocka_unit_test(test_volume_in_use),
		cmocka_unit_test(test_client_token),
		cmocka_unit_test(test_place),
		cmocka_unit_test(test_unauthorized_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
