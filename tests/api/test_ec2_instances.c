/* test_ec2_instances: RunInstances' placement in-process, over hosts put
 * straight into the store (two admitted, one drained): burstable
 * instances spread across hosts, fixed ones take whole cores, MinCount
 * that cannot be met is InsufficientInstanceCapacity and stores nothing,
 * a drained host gets nothing, a stopped instance frees its host and is
 * placed again on start; an instance goes only where its image is; EC2's
 * state codes; RunInstances' parameters. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "api.h"
#include "ec2.h"

struct env {
	struct api a;
	struct store *s;
	struct api_caller c;
};

static int parse(const char *body, struct query *q)
{
	char err[128];

	return query_parse(body, strlen(body), q, err, sizeof(err));
}

static void put(struct env *e, const char *key, const char *value)
{
	struct store_txn *t;

	assert_int_equal(store_txn_begin(e->s, true, &t), 0);
	assert_int_equal(store_put(t, key, value), 0);
	assert_int_equal(store_txn_commit(t), 0);
}

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
	/* Two admitted hosts of 2 fixed cores and a pool core; a drained one
	 * with more room than both. */
	put(e, "ec2/host/h-a", "{\"HostId\":\"h-a\",\"State\":\"admitted\"}");
	put(e, "ec2/host/h-b", "{\"HostId\":\"h-b\",\"State\":\"admitted\"}");
	put(e, "ec2/host/h-c", "{\"HostId\":\"h-c\",\"State\":\"drained\"}");
	put(e, "ec2/hostcap/h-a", "{\"ThreadsPerCore\":1,\"FixedCores\":2,\"PoolCores\":1}");
	put(e, "ec2/hostcap/h-b", "{\"ThreadsPerCore\":1,\"FixedCores\":2,\"PoolCores\":1}");
	put(e, "ec2/hostcap/h-c", "{\"ThreadsPerCore\":1,\"FixedCores\":64,\"PoolCores\":8}");
	/* What each host's store holds (GET /v1/images, as the reconciler
	 * records it): an instance goes only where its image is. */
	put(e, "ec2/hostimages/h-a", "{\"HostId\":\"h-a\",\"Images\":[{\"Name\":\"hello\"},"
	    "{\"Name\":\"only-a\"}]}");
	put(e, "ec2/hostimages/h-b", "{\"HostId\":\"h-b\",\"Images\":[{\"Name\":\"hello\"}]}");
	put(e, "ec2/hostimages/h-c", "{\"HostId\":\"h-c\",\"Images\":[{\"Name\":\"hello\"},"
	    "{\"Name\":\"only-c\"}]}");
}

static void env_close(struct env *e)
{
	api_close(&e->a);
	store_close(e->s);
}

static int call(struct env *e, const char *body, struct api_reply *r)
{
	struct query q;

	assert_int_equal(parse(body, &q), 0);
	api_dispatch(&e->a, &e->c, &q, 2000, r);
	query_free(&q);
	return r->status;
}

struct count {
	int a, b, c, live;
};

static int count_cb(const char *key, const char *value, void *arg)
{
	struct count *n = arg;
	json_t *o = json_loads(value, 0, NULL);
	const char *h = json_string_value(json_object_get(o, "HostId"));

	(void)key;
	assert_non_null(h);
	n->a += !strcmp(h, "h-a");
	n->b += !strcmp(h, "h-b");
	n->c += !strcmp(h, "h-c");
	n->live++;
	json_decref(o);
	return 0;
}

static struct count hosts_of(struct env *e)
{
	struct count n = { 0 };
	struct store_txn *t;

	assert_int_equal(store_txn_begin(e->s, false, &t), 0);
	assert_int_equal(store_list(t, "ec2/instance/", count_cb, &n), 0);
	store_txn_abort(t);
	return n;
}

#define RUN "Action=RunInstances&Version=2016-11-15&ImageId=ami-hello"

static void test_spread_and_capacity(void **state)
{
	struct env e;
	struct api_reply r;
	struct count n;
	char body[256], id[32];
	const char *p;

	(void)state;
	env_open(&e);
	/* Fixed m5.large (2 vCPUs = 2 whole cores): one per host, never the
	 * drained one; three at least is refused with nothing stored. */
	assert_int_equal(call(&e, RUN "&InstanceType=m5.large&MinCount=3&MaxCount=3", &r), 500);
	assert_non_null(strstr(r.body, "<Code>InsufficientInstanceCapacity</Code>"));
	free(r.body);
	assert_int_equal(hosts_of(&e).live, 0);
	assert_int_equal(call(&e, RUN "&InstanceType=m5.large&MinCount=1&MaxCount=3", &r), 200);
	assert_non_null(strstr(r.body, "<code>0</code><name>pending</name>"));
	free(r.body);
	n = hosts_of(&e);
	assert_int_equal(n.a, 1);
	assert_int_equal(n.b, 1);
	assert_int_equal(n.c, 0);
	/* The fixed cores are gone; burstable ones use the pools, spread. */
	assert_int_equal(call(&e, RUN "&InstanceType=c5.large", &r), 500);
	free(r.body);
	assert_int_equal(call(&e, RUN "&InstanceType=t3.micro&MinCount=4&MaxCount=4", &r), 200);
	free(r.body);
	n = hosts_of(&e);
	assert_int_equal(n.a, 3);
	assert_int_equal(n.b, 3);
	assert_int_equal(n.c, 0);
	/* A stopped fixed instance frees its cores: another fits, and a
	 * start is placed again (here: no room until the other stops). */
	assert_int_equal(call(&e, "Action=DescribeInstances&Version=2016-11-15&"
			      "Filter.1.Name=instance-type&Filter.1.Value.1=m5.large", &r), 200);
	p = strstr(r.body, "<instanceId>");
	assert_non_null(p);
	snprintf(id, sizeof(id), "%.19s", p + strlen("<instanceId>"));
	free(r.body);
	snprintf(body, sizeof(body), "Action=StopInstances&Version=2016-11-15&InstanceId.1=%s", id);
	assert_int_equal(call(&e, body, &r), 200);
	assert_non_null(strstr(r.body, "<currentState><code>64</code><name>stopping</name>"));
	free(r.body);
	/* stopping still holds the host until the reconciler confirms. */
	assert_int_equal(call(&e, RUN "&InstanceType=m5.large", &r), 500);
	free(r.body);
	/* What the reconciler writes once the controller ended it. */
	{
		struct store_txn *t;
		char key[64], *v, *w;
		json_t *o;

		snprintf(key, sizeof(key), "ec2/instance/%s", id);
		assert_int_equal(store_txn_begin(e.s, true, &t), 0);
		assert_int_equal(store_get(t, key, &v), 0);
		o = json_loads(v, 0, NULL);
		json_object_set_new(o, "State", json_string("stopped"));
		json_object_set_new(o, "HostId", json_string(""));
		w = json_dumps(o, JSON_COMPACT);
		assert_int_equal(store_put(t, key, w), 0);
		assert_int_equal(store_txn_commit(t), 0);
		free(v);
		free(w);
		json_decref(o);
	}
	assert_int_equal(call(&e, RUN "&InstanceType=m5.large", &r), 200);
	free(r.body);
	snprintf(body, sizeof(body), "Action=StartInstances&Version=2016-11-15&InstanceId.1=%s", id);
	assert_int_equal(call(&e, body, &r), 500);
	assert_non_null(strstr(r.body, "<Code>InsufficientInstanceCapacity</Code>"));
	free(r.body);
	snprintf(body, sizeof(body), "Action=TerminateInstances&Version=2016-11-15&InstanceId.1=%s", id);
	assert_int_equal(call(&e, body, &r), 200);
	assert_non_null(strstr(r.body, "<previousState><code>80</code><name>stopped</name>"));
	free(r.body);
	snprintf(body, sizeof(body), "Action=StartInstances&Version=2016-11-15&InstanceId.1=%s", id);
	assert_int_equal(call(&e, body, &r), 400);
	assert_non_null(strstr(r.body, "<Code>IncorrectInstanceState</Code>"));
	free(r.body);
	assert_int_equal(call(&e, "Action=StopInstances&Version=2016-11-15&InstanceId.1=i-0123456789abcdef0", &r), 400);
	assert_non_null(strstr(r.body, "<Code>InvalidInstanceID.NotFound</Code>"));
	free(r.body);
	env_close(&e);
}

/* An instance goes only where its image is (the hosts' recorded lists);
 * an image no admitted host holds is InvalidAMIID.NotFound. */
static void test_image_placement(void **state)
{
	struct env e;
	struct api_reply r;
	struct count n;

	(void)state;
	env_open(&e);
	assert_int_equal(call(&e, RUN "x", &r), 400);	/* ami-hellox */
	assert_non_null(strstr(r.body, "<Code>InvalidAMIID.NotFound</Code>"));
	free(r.body);
	/* only-c is on the drained host alone: not an image of the fleet. */
	assert_int_equal(call(&e, "Action=RunInstances&Version=2016-11-15&ImageId=ami-only-c", &r),
			 400);
	assert_non_null(strstr(r.body, "<Code>InvalidAMIID.NotFound</Code>"));
	free(r.body);
	/* only-a: every instance on h-a, though h-b has as much room. */
	assert_int_equal(call(&e, "Action=RunInstances&Version=2016-11-15&ImageId=ami-only-a&"
			      "InstanceType=t3.micro&MinCount=3&MaxCount=3", &r), 200);
	free(r.body);
	n = hosts_of(&e);
	assert_int_equal(n.a, 3);
	assert_int_equal(n.b, 0);
	assert_int_equal(hosts_of(&e).live, 3);
	env_close(&e);
}

static void test_run_params(void **state)
{
	static const struct {
		const char *body;
		int rc;
	} cases[] = {
		{ "ImageId=ami-hello", 0 },
		{ "InstanceType=t3.micro", -ENOENT },
		{ "ImageId=hello", -EINVAL },
		{ "ImageId=ami-Hello", -EINVAL },
		{ "ImageId=ami-", -EINVAL },
		{ "ImageId=ami-hello&InstanceType=m1.small", -EINVAL },
		{ "ImageId=ami-hello&MinCount=2&MaxCount=1", -EINVAL },
		{ "ImageId=ami-hello&MaxCount=21", -EINVAL },
		{ "ImageId=ami-hello&MinCount=0", -EINVAL },
		{ "ImageId=ami-hello&ClientToken=%01", -EINVAL },
		{ "ImageId=ami-hello&UserData=eA%3D%3D", -EOPNOTSUPP },
		{ "ImageId=ami-hello&SecurityGroupId.2=sg-1", -EINVAL },
		{ "ImageId=ami-hello&SubnetId=subnet-0a1b", 0 },
		{ "ImageId=ami-hello&SubnetId=vpc-0a1b", -EINVAL },
		{ "ImageId=ami-hello&SubnetId=subnet-0a1b%2Fx", -EINVAL },
		{ "ImageId=ami-hello&SubnetId=subnet-00000000000000000000000000000", -EINVAL },
	};
	struct ec2_run run;
	struct query q;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].body, &q), 0);
		assert_int_equal(ec2_parse_run(&q, &run, err, sizeof(err)), cases[i].rc);
		if (i == 0) {
			assert_int_equal(run.min, 1);
			assert_int_equal(run.max, 1);
			assert_non_null(run.type);
		}
		query_free(&q);
	}
	assert_int_equal(ec2_instance_state_code("pending"), 0);
	assert_int_equal(ec2_instance_state_code("running"), 16);
	assert_int_equal(ec2_instance_state_code("shutting-down"), 32);
	assert_int_equal(ec2_instance_state_code("terminated"), 48);
	assert_int_equal(ec2_instance_state_code("stopping"), 64);
	assert_int_equal(ec2_instance_state_code("stopped"), 80);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_params),
		cmocka_unit_test(test_spread_and_capacity),
		cmocka_unit_test(test_image_placement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
