/* test_ec2_attach: AttachVolume/DetachVolume and DescribeImages in-process
 * (docs/api.md#volume-attachments, #images), over hosts put straight into
 * the store: every error path of attach and detach, the attachment's states
 * through reconcile_round (attaching → attached, detaching → detached; a
 * running instance's detach waits for its admitted host's answer unless
 * Force), TerminateInstances releasing volumes, StartInstances refusing an
 * instance with volumes, DeleteVolume's VolumeInUse, authorisation on both
 * ARNs, DryRun; DescribeImages from the hosts' recorded lists (admitted hosts
 * only) and reconcile_images keeping only names RunInstances can take;
 * CreateTags/DeleteTags/DescribeTags. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "api.h"
#include "ec2.h"
#include "reconcile.h"

struct env {
	struct api a;
	struct store *s;
	struct api_caller c;
};

static void put(struct env *e, const char *key, const char *value)
{
	struct store_txn *t;

	assert_int_equal(store_txn_begin(e->s, true, &t), 0);
	assert_int_equal(store_put(t, key, value), 0);
	assert_int_equal(store_txn_commit(t), 0);
}

static json_t *get(struct env *e, const char *kind, const char *id)
{
	struct store_txn *t;
	char key[128], *v = NULL;
	json_t *o = NULL;

	snprintf(key, sizeof(key), "ec2/%s/%s", kind, id);
	assert_int_equal(store_txn_begin(e->s, false, &t), 0);
	if (!store_get(t, key, &v))
		o = json_loads(v, 0, NULL);
	store_txn_abort(t);
	free(v);
	return o;
}

/* Sets fields of a stored document (what the reconciler would write). */
static void patch(struct env *e, const char *kind, const char *id, const char *k1,
		  const char *v1, const char *k2, const char *v2)
{
	json_t *o = get(e, kind, id);
	char key[128], *d;

	assert_non_null(o);
	json_object_set_new(o, k1, json_string(v1));
	if (k2)
		json_object_set_new(o, k2, json_string(v2));
	d = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	snprintf(key, sizeof(key), "ec2/%s/%s", kind, id);
	put(e, key, d);
	free(d);
	json_decref(o);
}

static void env_open(struct env *e)
{
	static const uint8_t master[32] = { 9 };
	static const struct reconcile_cfg rc = { NULL, NULL, 2 };
	char akid[21], secret[41];

	memset(e, 0, sizeof(*e));
	reconcile_configure(&rc);
	assert_int_equal(store_sqlite_open(":memory:", &e->s), 0);
	assert_int_equal(api_open(&e->a, e->s, "111122223333", master), 0);
	assert_int_equal(iam_bootstrap_admin(&e->a, "admin", 1000, akid, secret), 0);
	e->c.kind = CALLER_USER;
	strcpy(e->c.arn, "arn:aws:iam::111122223333:user/admin");
	strcpy(e->c.userid, "AIDAADMIN");
	strcpy(e->c.name, "admin");
	strcpy(e->c.service, "ec2");
	/* An admitted host whose controller does not answer (port 1: refused
	 * at once), so that the reconciler's host calls fail for real; and
	 * a drained one. */
	put(e, "ec2/host/h-a", "{\"HostId\":\"h-a\",\"State\":\"admitted\","
	    "\"Endpoint\":\"https://127.0.0.1:1\",\"CaPem\":\"\"}");
	put(e, "ec2/host/h-c", "{\"HostId\":\"h-c\",\"State\":\"drained\"}");
	put(e, "ec2/hostcap/h-a", "{\"ThreadsPerCore\":1,\"FixedCores\":2,\"PoolCores\":1}");
	put(e, "ec2/hostimages/h-a", "{\"HostId\":\"h-a\",\"Images\":[{\"Name\":\"hello\"}]}");
}

static void env_close(struct env *e)
{
	api_close(&e->a);
	store_close(e->s);
}

static int call(struct env *e, const char *body, struct api_reply *r)
{
	struct query q;
	char err[128];

	assert_int_equal(query_parse(body, strlen(body), &q, err, sizeof(err)), 0);
	api_dispatch(&e->a, &e->c, &q, 2000, r);
	query_free(&q);
	return r->status;
}

/* call() and the reply's <Code> (or "" on success), body freed. */
__attribute__((format(printf, 3, 4)))
static const char *code_of(struct env *e, int want_status, const char *fmt, ...)
{
	static char code[96];
	struct api_reply r;
	char body[1024];
	const char *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	assert_int_equal(call(e, body, &r), want_status);
	code[0] = 0;
	if ((p = strstr(r.body, "<Code>")))
		snprintf(code, sizeof(code), "%.*s", (int)(strcspn(p + 6, "<")), p + 6);
	free(r.body);
	return code;
}

/* The text of the first <tag> of a successful reply. */
static void first(struct env *e, const char *body, const char *tag, char *out, size_t len)
{
	struct api_reply r;
	char open[64];
	const char *p;

	assert_int_equal(call(e, body, &r), 200);
	snprintf(open, sizeof(open), "<%s>", tag);
	p = strstr(r.body, open);
	assert_non_null(p);
	p += strlen(open);
	snprintf(out, len, "%.*s", (int)strcspn(p, "<"), p);
	free(r.body);
}

#define V "&Version=2016-11-15"

static const char *att_state(struct env *e, const char *vol)
{
	static char s[32];
	json_t *v = get(e, "volume", vol);

	snprintf(s, sizeof(s), "%s/%s", json_string_value(json_object_get(v, "State")),
		 json_string_value(json_object_get(v, "AttachState")) ?
		 json_string_value(json_object_get(v, "AttachState")) : "");
	json_decref(v);
	return s;
}

static void test_attach_detach(void **state)
{
	struct env e;
	char i1[32], i2[32], v1[32], v2[32], v3[32], vb[32], buf[128], body[160];

	(void)state;
	env_open(&e);
	first(&e, "Action=RunInstances" V "&ImageId=ami-hello", "instanceId", i1, sizeof(i1));
	first(&e, "Action=RunInstances" V "&ImageId=ami-hello", "instanceId", i2, sizeof(i2));
	first(&e, "Action=CreateVolume" V "&Size=1&AvailabilityZone=us-east-1a", "volumeId", v1,
	      sizeof(v1));
	first(&e, "Action=CreateVolume" V "&Size=1&AvailabilityZone=us-east-1a", "volumeId", v2,
	      sizeof(v2));
	first(&e, "Action=CreateVolume" V "&Size=1&AvailabilityZone=us-east-1b", "volumeId", vb,
	      sizeof(vb));

	/* Parameters: each missing one, malformed ids, a device name. */
	assert_string_equal(code_of(&e, 400, "Action=AttachVolume" V "&InstanceId=%s&Device=/dev/sdf",
				    i1), "MissingParameter");
	assert_string_equal(code_of(&e, 400, "Action=AttachVolume" V "&VolumeId=%s&Device=/dev/sdf",
				    v1), "MissingParameter");
	assert_string_equal(code_of(&e, 400, "Action=AttachVolume" V "&VolumeId=%s&InstanceId=%s",
				    v1, i1), "MissingParameter");
	assert_string_equal(code_of(&e, 400, "Action=AttachVolume" V "&VolumeId=vol-xyz&InstanceId=%s"
				    "&Device=/dev/sdf", i1), "InvalidVolumeID.Malformed");
	assert_string_equal(code_of(&e, 400, "Action=AttachVolume" V "&VolumeId=%s&InstanceId=x-1"
				    "&Device=/dev/sdf", v1), "InvalidInstanceID.Malformed");
	assert_string_equal(code_of(&e, 400, "Action=AttachVolume" V "&VolumeId=%s&InstanceId=%s"
				    "&Device=/dev/sda", v1, i1), "InvalidParameterValue");
	/* Existence, after authorisation. */
	assert_string_equal(code_of(&e, 400, "Action=AttachVolume" V "&VolumeId=%s&InstanceId="
				    "i-0123456789abcdef0&Device=/dev/sdf", v1),
			    "InvalidInstanceID.NotFound");
	assert_string_equal(code_of(&e, 400, "Action=AttachVolume" V "&VolumeId=vol-0123456789abcdef0"
				    "&InstanceId=%s&Device=/dev/sdf", i1), "InvalidVolume.NotFound");
	assert_string_equal(code_of(&e, 400, "Action=AttachVolume" V "&VolumeId=%s&InstanceId=%s"
				    "&Device=/dev/sdf", vb, i1), "InvalidVolume.ZoneMismatch");
	/* A pending (or running) instance: no hot-plug in ward-hv. */
	assert_string_equal(code_of(&e, 400, "Action=AttachVolume" V "&VolumeId=%s&InstanceId=%s"
				    "&Device=/dev/sdf", v1, i1), "IncorrectState");
	patch(&e, "instance", i1, "State", "stopped", "HostId", "");
	/* DryRun: validated and authorised, nothing written. */
	assert_string_equal(code_of(&e, 412, "Action=AttachVolume" V "&VolumeId=%s&InstanceId=%s"
				    "&Device=/dev/sdf&DryRun=true", v1, i1), "DryRunOperation");
	assert_string_equal(att_state(&e, v1), "available/");

	assert_string_equal(code_of(&e, 200, "Action=AttachVolume" V "&VolumeId=%s&InstanceId=%s"
				    "&Device=/dev/sdf", v1, i1), "");
	assert_string_equal(att_state(&e, v1), "in-use/attaching");
	snprintf(buf, sizeof(buf), "ec2/instancevolume/%s/%s", i1, v1);
	/* Again, anywhere: VolumeInUse; the device again: in use. */
	assert_string_equal(code_of(&e, 400, "Action=AttachVolume" V "&VolumeId=%s&InstanceId=%s"
				    "&Device=/dev/sdg", v1, i1), "VolumeInUse");
	assert_string_equal(code_of(&e, 400, "Action=AttachVolume" V "&VolumeId=%s&InstanceId=%s"
				    "&Device=/dev/sdf", v2, i1), "InvalidParameterValue");
	assert_string_equal(code_of(&e, 400, "Action=DeleteVolume" V "&VolumeId=%s", v1),
			    "VolumeInUse");
	/* Its start waits for the launch that carries volumes. */
	assert_string_equal(code_of(&e, 400, "Action=StartInstances" V "&InstanceId.1=%s", i1),
			    "UnsupportedOperation");
	/* The reconciler: a stopped instance holds no host, attached. */
	assert_int_equal(reconcile_round(e.s, NULL), 0);
	assert_string_equal(att_state(&e, v1), "in-use/attached");
	/* DescribeInstances lists it in the instance's blockDeviceMapping. */
	{
		struct api_reply r;
		char want[160];

		snprintf(body, sizeof(body), "Action=DescribeInstances" V
			 "&InstanceId.1=%s", i1);
		assert_int_equal(call(&e, body, &r), 200);
		snprintf(want, sizeof(want), "<item><deviceName>/dev/sdf</deviceName><ebs>"
			 "<volumeId>%s</volumeId><status>attached</status>", v1);
		assert_non_null(strstr(r.body, want));
		free(r.body);
	}
	/* A fourth volume is the last one (the host's card serves 4). */
	assert_string_equal(code_of(&e, 200, "Action=AttachVolume" V "&VolumeId=%s&InstanceId=%s"
				    "&Device=/dev/xvdg", v2, i1), "");
	for (int k = 0; k < 2; k++) {
		char vk[32];

		first(&e, "Action=CreateVolume" V "&Size=1&AvailabilityZone=us-east-1a", "volumeId",
		      vk, sizeof(vk));
		assert_string_equal(code_of(&e, 200, "Action=AttachVolume" V "&VolumeId=%s"
					    "&InstanceId=%s&Device=/dev/vd%c", vk, i1, 'h' + k), "");
	}
	first(&e, "Action=CreateVolume" V "&Size=1&AvailabilityZone=us-east-1a", "volumeId", v3,
	      sizeof(v3));
	assert_string_equal(code_of(&e, 400, "Action=AttachVolume" V "&VolumeId=%s&InstanceId=%s"
				    "&Device=/dev/sdz", v3, i1), "AttachmentLimitExceeded");
	/* DescribeVolumes' attachment filters. */
	first(&e, "Action=DescribeVolumes" V "&Filter.1.Name=attachment.status&Filter.1.Value.1="
	      "attached", "volumeId", buf, sizeof(buf));
	assert_string_equal(buf, v1);

	/* Detach: parameters, state, the attachment named. */
	assert_string_equal(code_of(&e, 400, "Action=DetachVolume" V), "MissingParameter");
	assert_string_equal(code_of(&e, 400, "Action=DetachVolume" V "&VolumeId=%s&Force=maybe", v1),
			    "InvalidParameterValue");
	assert_string_equal(code_of(&e, 400, "Action=DetachVolume" V "&VolumeId=%s", v3),
			    "IncorrectState");
	assert_string_equal(code_of(&e, 400, "Action=DetachVolume" V "&VolumeId=vol-0123456789abcdef0"),
			    "InvalidVolume.NotFound");
	assert_string_equal(code_of(&e, 400, "Action=DetachVolume" V "&VolumeId=%s&InstanceId=%s",
				    v1, i2), "InvalidAttachment.NotFound");
	assert_string_equal(code_of(&e, 400, "Action=DetachVolume" V "&VolumeId=%s&Device=/dev/sdg",
				    v1), "InvalidAttachment.NotFound");
	assert_string_equal(code_of(&e, 412, "Action=DetachVolume" V "&VolumeId=%s&DryRun=true", v1),
			    "DryRunOperation");
	assert_string_equal(code_of(&e, 200, "Action=DetachVolume" V "&VolumeId=%s&InstanceId=%s"
				    "&Device=/dev/sdf", v1, i1), "");
	assert_string_equal(att_state(&e, v1), "in-use/detaching");
	assert_int_equal(reconcile_round(e.s, NULL), 0);
	assert_string_equal(att_state(&e, v1), "available/");
	assert_string_equal(code_of(&e, 200, "Action=DeleteVolume" V "&VolumeId=%s", v1), "");

	/* A running instance on an admitted host (as a launch that carries
	 * volumes will leave it): the detach needs the host's answer, which
	 * this one does not give; Force lets the record go without it. */
	patch(&e, "instance", i1, "State", "running", "HostId", "h-a");
	patch(&e, "instance", i1, "HostInstance", "x-1", NULL, NULL);
	assert_string_equal(code_of(&e, 200, "Action=DetachVolume" V "&VolumeId=%s", v2), "");
	assert_int_equal(reconcile_round(e.s, NULL), 0);
	assert_string_equal(att_state(&e, v2), "in-use/detaching");
	assert_string_equal(code_of(&e, 200, "Action=DetachVolume" V "&VolumeId=%s&Force=true", v2),
			    "");
	assert_int_equal(reconcile_round(e.s, NULL), 0);
	assert_string_equal(att_state(&e, v2), "available/");
	/* On a drained host nothing is driven: only Force frees it. */
	patch(&e, "instance", i1, "State", "stopped", "HostInstance", "");
	assert_string_equal(code_of(&e, 200, "Action=AttachVolume" V "&VolumeId=%s&InstanceId=%s"
				    "&Device=/dev/sdz", v3, i1), "");
	assert_int_equal(reconcile_round(e.s, NULL), 0);
	assert_string_equal(att_state(&e, v3), "in-use/attached");
	patch(&e, "instance", i1, "State", "running", "HostId", "h-c");
	patch(&e, "instance", i1, "HostInstance", "x-1", NULL, NULL);
	assert_string_equal(code_of(&e, 200, "Action=DetachVolume" V "&VolumeId=%s", v3), "");
	assert_int_equal(reconcile_round(e.s, NULL), 0);
	assert_string_equal(att_state(&e, v3), "in-use/detaching");
	assert_string_equal(code_of(&e, 200, "Action=DetachVolume" V "&VolumeId=%s&Force=true", v3),
			    "");
	assert_int_equal(reconcile_round(e.s, NULL), 0);
	assert_string_equal(att_state(&e, v3), "available/");
	/* Terminate: its volumes detach once it has ended. */
	patch(&e, "instance", i1, "State", "stopped", "HostInstance", "");
	patch(&e, "instance", i1, "HostId", "", NULL, NULL);
	assert_string_equal(code_of(&e, 200, "Action=TerminateInstances" V "&InstanceId.1=%s", i1), "");
	first(&e, "Action=DescribeVolumes" V "&Filter.1.Name=attachment.status&Filter.1.Value.1="
	      "detaching&Filter.2.Name=attachment.instance-id&Filter.2.Value.1=i-*", "status", buf,
	      sizeof(buf));
	assert_string_equal(buf, "in-use");
	assert_int_equal(reconcile_round(e.s, NULL), 0);
	{
		struct api_reply r;

		assert_int_equal(call(&e, "Action=DescribeVolumes" V "&Filter.1.Name=status"
				      "&Filter.1.Value.1=in-use", &r), 200);
		assert_non_null(strstr(r.body, "<volumeSet></volumeSet>"));
		free(r.body);
	}
	/* A terminated instance takes nothing. */
	assert_string_equal(code_of(&e, 400, "Action=AttachVolume" V "&VolumeId=%s&InstanceId=%s"
				    "&Device=/dev/sdf", v3, i1), "IncorrectState");
	env_close(&e);
}

/* ec2:AttachVolume is authorised on the instance and on the volume. */
static void test_authz_both_arns(void **state)
{
	struct env e;
	char i1[32], v1[32], body[1024];
	struct api_reply r;

	(void)state;
	env_open(&e);
	first(&e, "Action=RunInstances" V "&ImageId=ami-hello", "instanceId", i1, sizeof(i1));
	first(&e, "Action=CreateVolume" V "&Size=1&AvailabilityZone=us-east-1a", "volumeId", v1,
	      sizeof(v1));
	patch(&e, "instance", i1, "State", "stopped", "HostId", "");
	strcpy(e.c.service, "iam");
	assert_int_equal(call(&e, "Action=CreateUser&Version=2010-05-08&UserName=bob", &r), 200);
	free(r.body);
	/* bob may attach volumes, to no instance. */
	snprintf(body, sizeof(body), "Action=PutUserPolicy&Version=2010-05-08&UserName=bob&"
		 "PolicyName=p&PolicyDocument=%s", "%7B%22Version%22%3A%222012-10-17%22%2C%22"
		 "Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22ec2%3A"
		 "AttachVolume%22%2C%22Resource%22%3A%22arn%3Aaws%3Aec2%3A*%3A*%3Avolume%2F*"
		 "%22%7D%5D%7D");
	assert_int_equal(call(&e, body, &r), 200);
	free(r.body);
	strcpy(e.c.service, "ec2");
	strcpy(e.c.name, "bob");
	strcpy(e.c.arn, "arn:aws:iam::111122223333:user/bob");
	assert_string_equal(code_of(&e, 403, "Action=AttachVolume" V "&VolumeId=%s&InstanceId=%s"
				    "&Device=/dev/sdf", v1, i1), "UnauthorizedOperation");
	assert_string_equal(att_state(&e, v1), "available/");
	strcpy(e.c.service, "iam");
	strcpy(e.c.name, "admin");
	strcpy(e.c.arn, "arn:aws:iam::111122223333:user/admin");
	snprintf(body, sizeof(body), "Action=PutUserPolicy&Version=2010-05-08&UserName=bob&"
		 "PolicyName=p&PolicyDocument=%s", "%7B%22Version%22%3A%222012-10-17%22%2C%22"
		 "Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22ec2%3A"
		 "AttachVolume%22%2C%22Resource%22%3A%5B%22arn%3Aaws%3Aec2%3A*%3A*%3Avolume%2F*"
		 "%22%2C%22arn%3Aaws%3Aec2%3A*%3A*%3Ainstance%2F*%22%5D%7D%5D%7D");
	assert_int_equal(call(&e, body, &r), 200);
	free(r.body);
	strcpy(e.c.service, "ec2");
	strcpy(e.c.name, "bob");
	strcpy(e.c.arn, "arn:aws:iam::111122223333:user/bob");
	assert_string_equal(code_of(&e, 200, "Action=AttachVolume" V "&VolumeId=%s&InstanceId=%s"
				    "&Device=/dev/sdf", v1, i1), "");
	/* ...but not detach them. */
	assert_string_equal(code_of(&e, 403, "Action=DetachVolume" V "&VolumeId=%s", v1),
			    "UnauthorizedOperation");
	env_close(&e);
}

static void test_images(void **state)
{
	struct env e;
	struct api_reply r;
	json_t *host = json_pack("{ssss}", "HostId", "h-a", "State", "admitted");
	json_t *rep = json_pack("{s[{ssss}{ssss}{ssss}{ssss}]}", "images",
				"name", "hello", "source", "firmware-store",
				"name", "blk-check", "source", "firmware-store",
				"name", "Bad_Name", "source", "directory",
				"name", "zeta", "source", "directory");
	json_t *o;

	(void)state;
	env_open(&e);
	/* A host that reported nothing has no images. */
	put(&e, "ec2/hostimages/h-a", "{\"HostId\":\"h-a\",\"Images\":[]}");
	assert_int_equal(call(&e, "Action=DescribeImages" V, &r), 200);
	assert_non_null(strstr(r.body, "<imagesSet></imagesSet>"));
	free(r.body);
	assert_int_equal(reconcile_images(e.s, host, rep), 0);
	o = get(&e, "hostimages", "h-a");
	assert_int_equal(json_array_size(json_object_get(o, "Images")), 3);	/* not Bad_Name */
	json_decref(o);
	/* A drained host's list is not the fleet's. */
	put(&e, "ec2/hostimages/h-c", "{\"HostId\":\"h-c\",\"Images\":[{\"Name\":\"only-c\","
	    "\"Source\":\"directory\"}]}");
	assert_int_equal(call(&e, "Action=DescribeImages" V, &r), 200);
	assert_non_null(strstr(r.body, "<imageId>ami-blk-check</imageId>"));
	assert_non_null(strstr(r.body, "<imageId>ami-hello</imageId>"));
	assert_non_null(strstr(r.body, "<imageLocation>firmware-store/hello</imageLocation>"));
	assert_null(strstr(r.body, "only-c"));
	assert_null(strstr(r.body, "Bad_Name"));
	/* In id order. */
	assert_true(strstr(r.body, "ami-blk-check") < strstr(r.body, "ami-hello"));
	free(r.body);
	assert_int_equal(call(&e, "Action=DescribeImages" V "&ImageId.1=ami-zeta", &r), 200);
	assert_non_null(strstr(r.body, "<name>zeta</name>"));
	assert_null(strstr(r.body, "ami-hello"));
	free(r.body);
	assert_string_equal(code_of(&e, 400, "Action=DescribeImages" V "&ImageId.1=ami-only-c"),
			    "InvalidAMIID.NotFound");
	assert_string_equal(code_of(&e, 400, "Action=DescribeImages" V "&ImageId.1=ami-Bad"),
			    "InvalidAMIID.Malformed");
	assert_string_equal(code_of(&e, 400, "Action=DescribeImages" V "&ImageId.2=ami-zeta"),
			    "InvalidParameterValue");
	assert_string_equal(code_of(&e, 400, "Action=DescribeImages" V "&Filter.1.Name=kernel-id"
				    "&Filter.1.Value.1=x"), "InvalidParameterValue");
	assert_string_equal(code_of(&e, 400, "Action=DescribeImages" V "&MaxResults=5&ImageId.1="
				    "ami-zeta"), "InvalidParameterCombination");
	assert_string_equal(code_of(&e, 412, "Action=DescribeImages" V "&DryRun=true"),
			    "DryRunOperation");
	/* Filters, owners, pages. */
	assert_int_equal(call(&e, "Action=DescribeImages" V "&Filter.1.Name=name&Filter.1.Value.1=h*",
			      &r), 200);
	assert_non_null(strstr(r.body, "ami-hello"));
	assert_null(strstr(r.body, "ami-zeta"));
	free(r.body);
	assert_int_equal(call(&e, "Action=DescribeImages" V "&Owner.1=amazon", &r), 200);
	assert_non_null(strstr(r.body, "<imagesSet></imagesSet>"));
	free(r.body);
	assert_int_equal(call(&e, "Action=DescribeImages" V "&Owner.1=self&ExecutableBy.1=all", &r),
			 200);
	assert_non_null(strstr(r.body, "ami-zeta"));
	free(r.body);
	for (int k = 0; k < 6; k++) {
		char name[32];

		snprintf(name, sizeof(name), "img-%d", k);
		json_array_append_new(json_object_get(rep, "images"),
				      json_pack("{ssss}", "name", name, "source", "directory"));
	}
	assert_int_equal(reconcile_images(e.s, host, rep), 0);
	assert_int_equal(call(&e, "Action=DescribeImages" V "&MaxResults=5&Filter.1.Name=name&"
			      "Filter.1.Value.1=img-*", &r), 200);
	assert_non_null(strstr(r.body, "<nextToken>ami-img-4</nextToken>"));
	free(r.body);
	assert_int_equal(call(&e, "Action=DescribeImages" V "&MaxResults=5&NextToken=ami-img-4&"
			      "Filter.1.Name=name&Filter.1.Value.1=img-*", &r), 200);
	assert_non_null(strstr(r.body, "ami-img-5"));
	assert_null(strstr(r.body, "ami-img-4"));
	assert_null(strstr(r.body, "nextToken"));
	free(r.body);
	json_decref(host);
	json_decref(rep);
	env_close(&e);
}

/* CreateTags/DeleteTags/DescribeTags over stored resources. */
static void test_tags(void **state)
{
	struct env e;
	struct api_reply r;
	char i1[32], v1[32], vpc[32];

	(void)state;
	env_open(&e);
	first(&e, "Action=RunInstances" V "&ImageId=ami-hello", "instanceId", i1, sizeof(i1));
	first(&e, "Action=CreateVolume" V "&Size=1&AvailabilityZone=us-east-1a", "volumeId", v1,
	      sizeof(v1));
	first(&e, "Action=CreateVpc" V "&CidrBlock=10.0.0.0%2F16", "vpcId", vpc, sizeof(vpc));
	assert_string_equal(code_of(&e, 200, "Action=CreateTags" V "&ResourceId.1=%s&ResourceId.2=%s"
				    "&ResourceId.3=%s&Tag.1.Key=team&Tag.1.Value=blue&Tag.2.Key=env",
				    i1, v1, vpc), "");
	/* Every id must exist, or nothing changes. */
	assert_string_equal(code_of(&e, 400, "Action=CreateTags" V "&ResourceId.1=%s&ResourceId.2="
				    "vol-0123456789abcdef0&Tag.1.Key=x", i1), "InvalidVolume.NotFound");
	assert_string_equal(code_of(&e, 400, "Action=CreateTags" V "&ResourceId.1=ami-hello"
				    "&Tag.1.Key=x"), "InvalidID");
	assert_string_equal(code_of(&e, 400, "Action=CreateTags" V "&ResourceId.1=%s", i1),
			    "MissingParameter");
	assert_string_equal(code_of(&e, 400, "Action=CreateTags" V "&ResourceId.1=%s&Tag.1.Key="
				    "aws:x", i1), "InvalidParameterValue");
	assert_string_equal(code_of(&e, 400, "Action=CreateTags" V "&ResourceId.1=%s&Tag.1.Key=a"
				    "&Tag.1.Vlaue=b", i1), "InvalidParameterValue");
	assert_string_equal(code_of(&e, 412, "Action=CreateTags" V "&ResourceId.1=%s&Tag.1.Key=a"
				    "&DryRun=true", i1), "DryRunOperation");
	/* Seen by the resource's own Describe and by DescribeTags. */
	assert_int_equal(call(&e, "Action=DescribeInstances" V "&Filter.1.Name=tag:team&"
			      "Filter.1.Value.1=blue", &r), 200);
	assert_non_null(strstr(r.body, i1));
	free(r.body);
	assert_int_equal(call(&e, "Action=DescribeTags" V "&Filter.1.Name=resource-type&"
			      "Filter.1.Value.1=volume", &r), 200);
	assert_non_null(strstr(r.body, "<resourceId>"));
	assert_non_null(strstr(r.body, v1));
	assert_null(strstr(r.body, i1));
	assert_non_null(strstr(r.body, "<key>env</key><value></value>"));
	free(r.body);
	/* 6 tags in pages of 5: each once. */
	assert_int_equal(call(&e, "Action=DescribeTags" V "&MaxResults=5", &r), 200);
	{
		const char *t = strstr(r.body, "<nextToken>");
		char tok[400], body[600];

		assert_non_null(t);
		snprintf(tok, sizeof(tok), "%.*s", (int)strcspn(t + 11, "<"), t + 11);
		free(r.body);
		snprintf(body, sizeof(body), "Action=DescribeTags" V "&MaxResults=5&NextToken=%s", tok);
		assert_int_equal(call(&e, body, &r), 200);
		assert_null(strstr(r.body, "<nextToken>"));
		assert_non_null(strstr(r.body, "<item>"));
		assert_null(strstr(strstr(r.body, "<item>") + 1, "<item>"));
	}
	free(r.body);
	assert_string_equal(code_of(&e, 400, "Action=DescribeTags" V "&Filter.1.Name=tag:team&"
				    "Filter.1.Value.1=x"), "InvalidParameterValue");
	/* DeleteTags: a value must match; no value is any; no tag is all. */
	assert_string_equal(code_of(&e, 200, "Action=DeleteTags" V "&ResourceId.1=%s&Tag.1.Key=team"
				    "&Tag.1.Value=red", i1), "");
	assert_int_equal(call(&e, "Action=DescribeTags" V "&Filter.1.Name=key&Filter.1.Value.1=team",
			      &r), 200);
	assert_non_null(strstr(r.body, i1));
	free(r.body);
	assert_string_equal(code_of(&e, 200, "Action=DeleteTags" V "&ResourceId.1=%s&Tag.1.Key=team",
				    i1), "");
	assert_string_equal(code_of(&e, 200, "Action=DeleteTags" V "&ResourceId.1=%s", v1), "");
	assert_int_equal(call(&e, "Action=DescribeTags" V, &r), 200);
	assert_non_null(strstr(r.body, vpc));
	assert_null(strstr(r.body, v1));
	free(r.body);
	assert_int_equal(call(&e, "Action=DescribeTags" V "&Filter.1.Name=key&Filter.1.Value.1=team"
			      "&Filter.2.Name=resource-type&Filter.2.Value.1=instance", &r), 200);
	assert_non_null(strstr(r.body, "<tagSet></tagSet>"));
	free(r.body);
	/* The reconciler's transitions keep the tags (a stop here). */
	assert_string_equal(code_of(&e, 200, "Action=StopInstances" V "&InstanceId.1=%s", i1), "");
	assert_int_equal(reconcile_round(e.s, NULL), 0);
	assert_int_equal(call(&e, "Action=DescribeInstances" V, &r), 200);
	assert_non_null(strstr(r.body, "<name>stopped</name>"));
	assert_non_null(strstr(r.body, "<key>env</key>"));
	free(r.body);
	env_close(&e);
}

/* A CreateTags made while a reconciler round is between its read of the
 * instances and its write of a transition survives that write. The round
 * is held in its first host call: the admitted host's "controller" is a
 * listener here that accepts the round's connection (so the round has
 * read the instances) and lets it go only after the CreateTags. */
struct round_arg {
	struct store *s;
	int rc;
};

static void *round_thread(void *p)
{
	struct round_arg *a = p;

	a->rc = reconcile_round(a->s, NULL);
	return NULL;
}

static void test_tags_survive_round(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	struct round_arg ra;
	struct api_reply r;
	struct pollfd pf;
	pthread_t th;
	char i1[32], doc[16384], ca[8192] = "";
	FILE *fp;
	json_t *h;
	char *d;
	int l, c;
	struct env e;

	(void)state;
	env_open(&e);
	/* Any well-formed CA: the handshake never completes. */
	if ((fp = fopen("/etc/ssl/certs/ca-certificates.crt", "r"))) {
		size_t n = fread(ca, 1, sizeof(ca) - 1, fp);

		ca[n] = 0;
		fclose(fp);
		if ((d = strstr(ca, "-----END CERTIFICATE-----")))
			d[strlen("-----END CERTIFICATE-----")] = 0;
	}
	l = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 8), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &sl), 0);
	h = json_pack("{ssssssss}", "HostId", "h-x", "State", "admitted", "CaPem", ca, "Endpoint", "");
	snprintf(doc, sizeof(doc), "https://127.0.0.1:%u", ntohs(sa.sin_port));
	json_object_set_new(h, "Endpoint", json_string(doc));
	d = json_dumps(h, JSON_COMPACT);
	put(&e, "ec2/host/h-a", "{\"HostId\":\"h-a\",\"State\":\"drained\"}");
	put(&e, "ec2/host/h-x", d);
	put(&e, "ec2/hostcap/h-x", "{\"ThreadsPerCore\":1,\"FixedCores\":2,\"PoolCores\":1}");
	put(&e, "ec2/hostimages/h-x", "{\"HostId\":\"h-x\",\"Images\":[{\"Name\":\"hello\"}]}");
	free(d);
	json_decref(h);
	first(&e, "Action=RunInstances" V "&ImageId=ami-hello&TagSpecification.1.ResourceType="
	      "instance&TagSpecification.1.Tag.1.Key=old", "instanceId", i1, sizeof(i1));
	/* Stopping with no host instance: the round's transition to stopped
	 * needs no host call of its own. */
	patch(&e, "instance", i1, "State", "stopping", "Desired", "stopped");
	ra = (struct round_arg){ e.s, -1 };
	assert_int_equal(pthread_create(&th, NULL, round_thread, &ra), 0);
	pf = (struct pollfd){ l, POLLIN, 0 };
	assert_int_equal(poll(&pf, 1, 20000), 1);
	c = accept(l, NULL, NULL);
	assert_true(c >= 0);
	assert_string_equal(code_of(&e, 200, "Action=CreateTags" V "&ResourceId.1=%s&Tag.1.Key=new",
				    i1), "");
	close(c);
	/* The round's other calls to this host: refused at once. */
	close(l);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(ra.rc, 0);
	assert_int_equal(call(&e, "Action=DescribeInstances" V, &r), 200);
	assert_non_null(strstr(r.body, "<name>stopped</name>"));
	assert_non_null(strstr(r.body, "<key>old</key>"));
	assert_non_null(strstr(r.body, "<key>new</key>"));
	free(r.body);
	env_close(&e);
}

static void test_params(void **state)
{
	static const struct {
		const char *body;
		int attach, detach;
	} cases[] = {
		{ "VolumeId=vol-0a&InstanceId=i-0b&Device=/dev/sdf", 0, 0 },
		{ "VolumeId=vol-0a&InstanceId=i-0b&Device=/dev/xvdz", 0, 0 },
		{ "VolumeId=vol-0a&InstanceId=i-0b&Device=/dev/vdb", 0, 0 },
		{ "VolumeId=vol-0a&InstanceId=i-0b&Device=/dev/sda", -EINVAL, -EINVAL },
		{ "VolumeId=vol-0a&InstanceId=i-0b&Device=/dev/sdf1", -EINVAL, -EINVAL },
		{ "VolumeId=vol-0a&InstanceId=i-0b&Device=sdf", -EINVAL, -EINVAL },
		{ "VolumeId=vol-0A&InstanceId=i-0b&Device=/dev/sdf", -EBADF, -EBADF },
		{ "VolumeId=vol-&InstanceId=i-0b&Device=/dev/sdf", -EBADF, -EBADF },
		{ "VolumeId=vol-0a&InstanceId=i-0b%2F&Device=/dev/sdf", -ESRCH, -ESRCH },
		{ "VolumeId=vol-0000000000000000000000000000&InstanceId=i-0b&Device=/dev/sdf",
		  -EBADF, -EBADF },
		{ "VolumeId=vol-0a", -ENOENT, 0 },
		{ "VolumeId=vol-0a&Force=true", -ENOENT, 0 },
		{ "VolumeId=vol-0a&Force=yes", -ENOENT, -EINVAL },
		{ "InstanceId=i-0b", -ENOENT, -ENOENT },
	};
	struct ec2_attach a;
	struct ec2_detach d;
	struct query q;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(query_parse(cases[i].body, strlen(cases[i].body), &q, err,
					     sizeof(err)), 0);
		assert_int_equal(ec2_parse_attach(&q, &a, err, sizeof(err)), cases[i].attach);
		assert_int_equal(ec2_parse_detach(&q, &d, err, sizeof(err)), cases[i].detach);
		query_free(&q);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_attach_detach),
		cmocka_unit_test(test_authz_both_arns),
		cmocka_unit_test(test_images),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_tags_survive_round),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
