/* ec2_instance: EC2 instances as records (ec2/instance/<id>) — RunInstances
 * (placement over admitted hosts in the same transaction as the record and
 * its ClientToken), DescribeInstances, Stop/Start/TerminateInstances. The
 * records say what is wanted ("Desired"); reconcile.c drives each host's
 * controller there and writes the transitions (docs/api.md#instances). */
#include "ec2.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec2_place.h"
#include "hosts.h"
#include "reconcile.h"

#define RUN_MAX 20		/* MaxCount per request */
#define PLACE_HOSTS_MAX 256

/* ---- the shape botocore parses ------------------------------------------- */

static void write_state(struct xml *x, const char *tag, const char *state)
{
	xml_open(x, tag, NULL);
	xml_textf(x, "code", "%d", ec2_instance_state_code(state));
	xml_text(x, "name", state);
	xml_close(x);
}

static void write_instance(struct xml *x, const json_t *o)
{
	const char *reason = ec2_jstr(o, "StateReason");
	json_t *g;
	size_t i;
	char t[40];

	xml_text(x, "instanceId", ec2_jstr(o, "InstanceId"));
	xml_text(x, "imageId", ec2_jstr(o, "ImageId"));
	write_state(x, "instanceState", ec2_jstr(o, "State"));
	xml_text(x, "privateDnsName", "");
	xml_text(x, "dnsName", "");
	xml_text(x, "reason", reason);
	xml_textf(x, "amiLaunchIndex", "%lld",
		  (long long)json_integer_value(json_object_get(o, "LaunchIndex")));
	xml_text(x, "instanceType", ec2_jstr(o, "InstanceType"));
	api_iso8601(json_real_value(json_object_get(o, "Launched")), t);
	xml_text(x, "launchTime", t);
	xml_open(x, "placement", NULL);
	xml_text(x, "availabilityZone", ec2_jstr(o, "AvailabilityZone"));
	xml_text(x, "tenancy", "default");
	/* ward's host, where placed (EC2's hostId is for dedicated hosts). */
	if (ec2_jstr(o, "HostId")[0])
		xml_text(x, "hostId", ec2_jstr(o, "HostId"));
	xml_close(x);
	xml_open(x, "monitoring", NULL);
	xml_text(x, "state", "disabled");
	xml_close(x);
	if (ec2_jstr(o, "SubnetId")[0]) {
		xml_text(x, "subnetId", ec2_jstr(o, "SubnetId"));
		xml_text(x, "vpcId", ec2_jstr(o, "VpcId"));
	}
	xml_text(x, "architecture", "x86_64");
	xml_text(x, "rootDeviceType", "instance-store");
	/* The attached volumes, as DescribeInstances looked them up
	 * ("BlockDevices" is never stored). */
	if (json_array_size(json_object_get(o, "BlockDevices"))) {
		xml_open(x, "blockDeviceMapping", NULL);
		json_array_foreach(json_object_get(o, "BlockDevices"), i, g) {
			xml_open(x, "item", NULL);
			xml_text(x, "deviceName", ec2_jstr(g, "Device"));
			xml_open(x, "ebs", NULL);
			xml_text(x, "volumeId", ec2_jstr(g, "VolumeId"));
			xml_text(x, "status", ec2_jstr(g, "State"));
			api_iso8601(json_real_value(json_object_get(g, "AttachTime")), t);
			xml_text(x, "attachTime", t);
			xml_text(x, "deleteOnTermination",
				 json_is_true(json_object_get(g, "DeleteOnTermination")) ? "true" :
				 "false");
			xml_close(x);
			xml_close(x);
		}
		xml_close(x);
	}
	xml_open(x, "groupSet", NULL);
	json_array_foreach(json_object_get(o, "SecurityGroupIds"), i, g) {
		xml_open(x, "item", NULL);
		xml_text(x, "groupId", json_string_value(g));
		xml_close(x);
	}
	xml_close(x);
	ec2_write_tags(x, o);
	if (reason[0]) {
		xml_open(x, "stateReason", NULL);
		xml_text(x, "code", ec2_jstr(o, "StateReasonCode"));
		xml_text(x, "message", reason);
		xml_close(x);
	}
	xml_text(x, "hypervisor", "nitro");
	xml_text(x, "virtualizationType", "hvm");
}

int ec2_instance_state_code(const char *state)
{
	static const struct {
		const char *name;
		int code;
	} codes[] = {
		{ "pending", 0 }, { "running", 16 }, { "shutting-down", 32 },
		{ "terminated", 48 }, { "stopping", 64 }, { "stopped", 80 },
	};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(codes[i].name, state) == 0)
			return codes[i].code;
	return 0;
}

/* <reservationId/><ownerId/><groupSet/><instancesSet>… for the instances
 * of one reservation. */
static void write_reservation(struct ec2_req *q, struct xml *x, json_t *const *v, size_t n)
{
	xml_text(x, "reservationId", ec2_jstr(v[0], "ReservationId"));
	xml_text(x, "ownerId", q->a->account);
	xml_open(x, "groupSet", NULL);
	xml_close(x);
	xml_open(x, "instancesSet", NULL);
	for (size_t i = 0; i < n; i++) {
		xml_open(x, "item", NULL);
		write_instance(x, v[i]);
		xml_close(x);
	}
	xml_close(x);
}

/* ---- placement ---------------------------------------------------------- */

struct usage {
	struct ec2_host_cap *caps;
	size_t n;
};

/* What each live instance takes from its host (stopped and terminated
 * ones hold nothing: a start places again). */
static int use_one(const char *key, const char *value, void *arg)
{
	struct usage *u = arg;
	const struct ec2_itype *t;
	const char *state;
	json_t *o;

	(void)key;
	o = json_loads(value, 0, NULL);
	if (!o)
		return 0;
	state = ec2_jstr(o, "State");
	t = ec2_itype_find(ec2_jstr(o, "InstanceType"));
	if (t && strcmp(state, "stopped") && strcmp(state, "terminated"))
		for (size_t i = 0; i < u->n; i++)
			if (strcmp(u->caps[i].id, ec2_jstr(o, "HostId")) == 0)
				ec2_place_take(&u->caps[i], t);
	json_decref(o);
	return 0;
}

struct fleet {
	char ids[PLACE_HOSTS_MAX][HOST_ID_MAX + 1];
	struct ec2_host_cap caps[PLACE_HOSTS_MAX];
	size_t n;
	/* fleet_image(): which hosts hold the image being placed, and the
	 * capacities placement sees for it (the others' as none). */
	bool has[PLACE_HOSTS_MAX];
	struct ec2_host_cap view[PLACE_HOSTS_MAX];
};

/* The admitted hosts whose controller the reconciler has read (capacity
 * as the host reports it: its CPU partition; see reconcile.h), less what
 * the stored instances take. Read in q's transaction, so the placement
 * and the records written with it are one consistent step. */
static int fleet_load(struct ec2_req *q, struct fleet *f)
{
	char (*ids)[HOST_ID_MAX + 1] = f->ids;
	size_t n = 0, k = 0;
	struct usage u;
	int rc = hosts_list_schedulable(q->t, ids, PLACE_HOSTS_MAX, &n);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		json_t *c = ec2_load(q, "hostcap", ids[i]);

		if (!c)
			continue;
		if (k != i)
			memcpy(f->ids[k], ids[i], sizeof(f->ids[k]));
		f->caps[k] = (struct ec2_host_cap){
			.id = f->ids[k],
			.threads_per_core = (unsigned)json_integer_value(json_object_get(c, "ThreadsPerCore")),
			.fixed_free_cores = (unsigned)json_integer_value(json_object_get(c, "FixedCores")),
			.burst_pool_cores = (unsigned)json_integer_value(json_object_get(c, "PoolCores")),
			/* Not reported by controllers yet: not a constraint here; the
			 * controller still refuses what it cannot hold. */
			.memory_free_mib = UINT_MAX,
		};
		json_decref(c);
		k++;
	}
	f->n = k;
	u = (struct usage){ f->caps, k };
	return store_list(q->t, "ec2/instance/", use_one, &u);
}

/* Which hosts of f hold image ("ami-<name>") in their store, as the
 * reconciler last read it (GET /v1/images into ec2/hostimages/<host>,
 * ec2_image.c): an instance goes only where its image is, so that a host
 * never refuses a launch for want of it. The number that do. */
static size_t fleet_image(struct ec2_req *q, struct fleet *f, const char *image)
{
	size_t k = 0, i, j;
	json_t *rec, *e;

	for (i = 0; i < f->n; i++) {
		f->has[i] = false;
		if ((rec = ec2_load(q, "hostimages", f->ids[i]))) {
			json_array_foreach(json_object_get(rec, "Images"), j, e)
				if (!strcmp(ec2_jstr(e, "Name"), image + 4))
					f->has[i] = true;
			json_decref(rec);
		}
		k += f->has[i];
	}
	return k;
}

/* ec2_place over the hosts that hold the image fleet_image() looked for. */
static int fleet_place(struct fleet *f, const struct ec2_itype *t)
{
	for (size_t i = 0; i < f->n; i++) {
		f->view[i] = f->caps[i];
		if (!f->has[i])
			f->view[i].fixed_free_cores = f->view[i].burst_pool_cores =
				f->view[i].memory_free_mib = 0;
	}
	return ec2_place(f->view, f->n, t);
}

/* ---- actions ------------------------------------------------------------ */

static bool id_shape(const char *id)
{
	size_t n = strlen(id);

	return n > 2 && n < 32 && strncmp(id, "i-", 2) == 0 &&
	       strspn(id + 2, "0123456789abcdef") == n - 2;
}

/* ec2/subnetinstance/<subnet>/<i-…> and ec2/sginstance/<sg>/<i-…>: what
 * DeleteSubnet and DeleteSecurityGroup refuse to remove while an
 * instance that is not terminating uses it. */
static int index_instance(struct ec2_req *q, const json_t *o, bool put)
{
	const char *id = ec2_jstr(o, "InstanceId"), *sn = ec2_jstr(o, "SubnetId");
	json_t *g;
	size_t i;
	int rc = 0;

	if (sn[0])
		rc = put ? ec2_index_put(q, "subnetinstance", sn, id) :
			   ec2_index_del(q, "subnetinstance", sn, id);
	json_array_foreach(json_object_get(o, "SecurityGroupIds"), i, g)
		if (!rc)
			rc = put ? ec2_index_put(q, "sginstance", json_string_value(g), id) :
				   ec2_index_del(q, "sginstance", json_string_value(g), id);
	return rc;
}

static void reply_reservation(struct ec2_req *q, json_t *const *v, size_t n)
{
	struct xml x;

	ec2_begin(q, &x);
	write_reservation(q, &x, v, n);
	ec2_end(q, &x);
}

/* A retried ClientToken answers the reservation as it is now. */
static bool replay(struct ec2_req *q, const char *tid, const char *fp)
{
	json_t *t = ec2_load(q, "clienttoken", tid), *ids, *id;
	json_t *v[RUN_MAX] = { 0 };
	char arn[128];
	size_t i, n = 0;

	if (!t)
		return false;
	ids = json_object_get(t, "InstanceIds");
	ec2_arn(q, arn, sizeof(arn), "instance", json_string_value(json_array_get(ids, 0)));
	if (strcmp(ec2_jstr(t, "Request"), fp) != 0) {
		ec2_error(q, 400, "IdempotentParameterMismatch", "The client token you have "
			  "provided is associated with a resource that has different parameters.");
	} else if (ec2_allowed(q, (const char *const[]){ arn }, 1)) {
		json_array_foreach(ids, i, id)
			if (n < RUN_MAX && (v[n] = ec2_load(q, "instance", json_string_value(id))))
				n++;
		if (n)
			reply_reservation(q, v, n);
		else
			ec2_error(q, 500, "InternalError", "the token's instances are gone");
		for (i = 0; i < n; i++)
			json_decref(v[i]);
	}
	json_decref(t);
	return true;
}

void ec2_run_instances(struct ec2_req *q)
{
	struct ec2_run r;
	struct fleet *f = NULL;
	json_t *v[RUN_MAX] = { 0 }, *ids = NULL, *sn = NULL, *groups = NULL, *rec;
	struct ec2_tags tags;
	const char *zone, *vpc = "";
	char err[256], fp[65], tid[65], rid[32], arn[128], zbuf[48];
	size_t n = 0;
	int rc;

	rc = ec2_parse_run(q->q, &r, err, sizeof(err));
	if (rc) {
		ec2_error(q, 400, rc == -ENOENT ? "MissingParameter" : rc == -EOPNOTSUPP ?
			  "Unsupported" : "InvalidParameterValue", "%s", err);
		return;
	}
	/* Hosts carry no zone yet: every host serves the region's first
	 * zone, the default when none is asked for. */
	snprintf(zbuf, sizeof(zbuf), "%sa", q->a->region);
	zone = zbuf;
	if (query_get(q->q, "Placement.AvailabilityZone") &&
	    !(zone = ec2_zone(q, "Placement.AvailabilityZone", true)))
		return;
	if (ec2_parse_tags(q->q, "instance", &tags, err, sizeof(err))) {
		ec2_error(q, 400, "InvalidParameterValue", "%s", err);
		return;
	}
	if (r.token) {
		ec2_token_fingerprint(q->q, fp);
		ec2_token_id("RunInstances", r.token, tid);
		if (replay(q, tid, fp))
			return;
	}
	ec2_arn(q, arn, sizeof(arn), "instance", "*");
	if (!ec2_allowed(q, (const char *const[]){ arn }, 1))
		return;
	/* The network card is a later step: what it will need is checked and
	 * stored now, so a request that names nothing real is refused. */
	if (r.subnet) {
		if (!(sn = ec2_load(q, "subnet", r.subnet))) {
			ec2_error(q, 400, "InvalidSubnetID.NotFound", "The subnet ID '%.32s' does "
				  "not exist", r.subnet);
			return;
		}
		vpc = ec2_jstr(sn, "VpcId");
		if (query_get(q->q, "Placement.AvailabilityZone") &&
		    strcmp(zone, ec2_jstr(sn, "AvailabilityZone"))) {
			ec2_error(q, 400, "InvalidParameterCombination", "The subnet %s is in %s",
				  r.subnet, ec2_jstr(sn, "AvailabilityZone"));
			goto out;
		}
		zone = ec2_jstr(sn, "AvailabilityZone");
	}
	groups = json_array();
	for (size_t i = 0; i < r.n_groups; i++) {
		json_t *g = ec2_load(q, "sg", r.groups[i]);

		if (!g) {
			ec2_error(q, 400, "InvalidGroup.NotFound", "The security group '%.32s' does "
				  "not exist", r.groups[i]);
			goto out;
		}
		if (sn && strcmp(ec2_jstr(g, "VpcId"), vpc)) {
			json_decref(g);
			ec2_error(q, 400, "InvalidParameter", "Security group %s and subnet %s "
				  "belong to different networks.", r.groups[i], r.subnet);
			goto out;
		}
		json_decref(g);
		json_array_append_new(groups, json_string(r.groups[i]));
	}
	f = calloc(1, sizeof(*f));
	if (!f || fleet_load(q, f)) {
		ec2_error(q, 500, "InternalError", "cannot read the fleet");
		goto out;
	}
	/* An image no admitted host holds is not an image (DescribeImages);
	 * with no admitted host at all, it is the capacity that is missing. */
	if (!fleet_image(q, f, r.image) && f->n) {
		ec2_error(q, 400, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist",
			  r.image);
		goto out;
	}
	if (!ec2_new_id(q, "r", rid))
		goto out;
	/* As many as fit, up to MaxCount; fewer than MinCount is no launch. */
	for (; n < r.max; n++) {
		int h = fleet_place(f, r.type);
		char id[32];

		if (h < 0)
			break;
		if (!ec2_new_id(q, "i", id))
			goto out;
		ec2_arn(q, arn, sizeof(arn), "instance", id);
		v[n] = json_pack("{ss ss ss ss ss ss ss ss sI sf ss ss ss sO ss ss ss}",
				 "InstanceId", id, "ReservationId", rid, "ImageId", r.image,
				 "InstanceType", r.type->name, "State", "pending", "Desired", "running",
				 "HostId", f->caps[h].id, "HostInstance", "",
				 "LaunchIndex", (json_int_t)n, "Launched", q->now,
				 "AvailabilityZone", zone, "SubnetId", r.subnet ? r.subnet : "",
				 "VpcId", vpc, "SecurityGroupIds", groups, "Arn", arn,
				 "StateReason", "", "StateReasonCode", "");
		if (!v[n]) {
			ec2_error(q, 500, "InternalError", "out of memory");
			goto out;
		}
		ec2_tags_set(v[n], &tags);
		ec2_place_take(&f->caps[h], r.type);
	}
	if (n < r.min) {
		ec2_error(q, 500, "InsufficientInstanceCapacity", "There is not enough capacity "
			  "for %u %s instance(s) on the admitted hosts (%zu fit).", r.min,
			  r.type->name, n);
		goto out;
	}
	ids = json_array();
	rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		json_array_append_new(ids, json_string(ec2_jstr(v[i], "InstanceId")));
		rc = ec2_save(q, true, "instance", ec2_jstr(v[i], "InstanceId"), v[i]);
		if (!rc)
			rc = index_instance(q, v[i], true);
	}
	/* The token in the same transaction: a crash either keeps the
	 * reservation and its token or neither. */
	if (!rc && r.token) {
		rec = json_pack("{sssO}", "Request", fp, "InstanceIds", ids);
		rc = rec ? ec2_save(q, true, "clienttoken", tid, rec) : -ENOMEM;
		json_decref(rec);
	}
	if (!ec2_failed(q, rc, "reservation")) {
		reply_reservation(q, v, n);
		reconcile_kick();
	}
out:
	for (size_t i = 0; i < RUN_MAX; i++)
		json_decref(v[i]);
	json_decref(ids);
	json_decref(sn);
	json_decref(groups);
	free(f);
}

/* Stop, Start, Terminate: validate every id, authorise each ARN, then
 * change each record; the reply lists previous and current states. */
enum change { STOP, START, TERMINATE };

void ec2_change_instances(struct ec2_req *q, int how)
{
	const char *ids[EC2_MAX_IDS];
	json_t *v[EC2_MAX_IDS] = { 0 };
	char prev[EC2_MAX_IDS][16], err[256];
	const char *arns[EC2_MAX_IDS];
	char (*arnbuf)[128] = calloc(EC2_MAX_IDS, 128);
	struct fleet *f = NULL;
	size_t n = 0, i;
	struct xml x;
	int rc = 0;

	if (!arnbuf) {
		ec2_error(q, 500, "InternalError", "out of memory");
		return;
	}
	if (ec2_parse_ids(q->q, "InstanceId", ids, &n, err, sizeof(err))) {
		ec2_error(q, 400, "InvalidParameterValue", "%s", err);
		goto out;
	}
	if (!n) {
		ec2_error(q, 400, "MissingParameter", "The request must contain the parameter "
			  "InstanceId");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!id_shape(ids[i])) {
			ec2_error(q, 400, "InvalidInstanceID.Malformed", "Invalid id: \"%.32s\"",
				  ids[i]);
			goto out;
		}
		ec2_arn(q, arnbuf[i], sizeof(arnbuf[i]), "instance", ids[i]);
		arns[i] = arnbuf[i];
	}
	if (!ec2_allowed(q, arns, n))
		goto out;
	for (i = 0; i < n; i++) {
		if (!(v[i] = ec2_load(q, "instance", ids[i]))) {
			ec2_error(q, 400, "InvalidInstanceID.NotFound", "The instance ID '%s' does "
				  "not exist", ids[i]);
			goto out;
		}
		snprintf(prev[i], sizeof(prev[i]), "%s", ec2_jstr(v[i], "State"));
	}
	if (how == START && !(f = calloc(1, sizeof(*f)))) {
		ec2_error(q, 500, "InternalError", "out of memory");
		goto out;
	}
	if (f && fleet_load(q, f)) {
		ec2_error(q, 500, "InternalError", "cannot read the fleet");
		goto out;
	}
	for (i = 0; i < n && !rc; i++) {
		const char *s = prev[i];
		bool gone = !strcmp(s, "terminated") || !strcmp(s, "shutting-down");

		if (how == TERMINATE) {
			if (!gone && (rc = index_instance(q, v[i], false)))
				break;
			/* Its volumes detach (AttachVolume's DeleteOnTermination
			 * is false): freed once the instance has ended. */
			if (!gone && (rc = ec2_attach_release_all(q, ids[i])))
				break;
			if (!gone) {
				json_object_set_new(v[i], "Desired", json_string("terminated"));
				json_object_set_new(v[i], "State", json_string("shutting-down"));
			}
		} else if (how == STOP) {
			if (gone) {
				ec2_error(q, 400, "IncorrectInstanceState", "This instance '%s' is not "
					  "in a state from which it can be stopped.", ids[i]);
				goto out;
			}
			if (strcmp(s, "stopped")) {
				json_object_set_new(v[i], "Desired", json_string("stopped"));
				json_object_set_new(v[i], "State", json_string("stopping"));
			}
		} else {
			const struct ec2_itype *t = ec2_itype_find(ec2_jstr(v[i], "InstanceType"));
			size_t nv;
			int h;

			if (!strcmp(s, "pending") || !strcmp(s, "running"))
				continue;
			if (strcmp(s, "stopped")) {
				ec2_error(q, 400, "IncorrectInstanceState", "The instance '%s' is not "
					  "in a state from which it can be started.", ids[i]);
				goto out;
			}
			/* The launch does not carry volumes yet (the KMS grant
			 * and forward access session step, docs/api.md): an
			 * instance with one attached is not started without it. */
			nv = ec2_attach_count(q, ids[i]);
			if (nv == (size_t)-1) {
				ec2_error(q, 500, "InternalError", "cannot read the instance's volumes");
				goto out;
			}
			if (nv) {
				ec2_error(q, 400, "UnsupportedOperation", "Instance '%s' has EBS "
					  "volumes attached: ward-api does not yet launch an instance "
					  "with its volumes; detach them first", ids[i]);
				goto out;
			}
			/* A stopped instance holds no host: placed again, where
			 * its image is. */
			fleet_image(q, f, ec2_jstr(v[i], "ImageId"));
			if (!t || (h = fleet_place(f, t)) < 0) {
				ec2_error(q, 500, "InsufficientInstanceCapacity", "There is not "
					  "enough capacity to start %s on the admitted hosts.", ids[i]);
				goto out;
			}
			ec2_place_take(&f->caps[h], t);
			json_object_set_new(v[i], "HostId", json_string(f->caps[h].id));
			json_object_set_new(v[i], "Desired", json_string("running"));
			json_object_set_new(v[i], "State", json_string("pending"));
		}
		json_object_set_new(v[i], "StateReason", json_string(""));
		json_object_set_new(v[i], "StateReasonCode", json_string(""));
		rc = ec2_save(q, false, "instance", ids[i], v[i]);
	}
	if (ec2_failed(q, rc, "instance"))
		goto out;
	reconcile_kick();
	ec2_begin(q, &x);
	xml_open(&x, "instancesSet", NULL);
	for (i = 0; i < n; i++) {
		xml_open(&x, "item", NULL);
		xml_text(&x, "instanceId", ids[i]);
		write_state(&x, "currentState", ec2_jstr(v[i], "State"));
		write_state(&x, "previousState", prev[i]);
		xml_close(&x);
	}
	xml_close(&x);
	ec2_end(q, &x);
out:
	for (i = 0; i < EC2_MAX_IDS; i++)
		json_decref(v[i]);
	free(arnbuf);
	free(f);
}

void ec2_stop_instances(struct ec2_req *q)
{
	ec2_change_instances(q, STOP);
}

void ec2_start_instances(struct ec2_req *q)
{
	ec2_change_instances(q, START);
}

void ec2_terminate_instances(struct ec2_req *q)
{
	ec2_change_instances(q, TERMINATE);
}

/* ---- DescribeInstances: instances paged, grouped into reservations ---------- */

static const struct ec2_field instance_fields[] = {
	{ "instance-id", "InstanceId" },
	{ "instance-state-name", "State" },
	{ "instance-type", "InstanceType" },
	{ "image-id", "ImageId" },
	{ "reservation-id", "ReservationId" },
	{ "availability-zone", "AvailabilityZone" },
	{ "subnet-id", "SubnetId" },
	{ "vpc-id", "VpcId" },
	{ "host-id", "HostId" },
	{ NULL, NULL },
};

struct collect {
	json_t *all;
};

static int collect_cb(const char *key, const char *value, void *arg)
{
	struct collect *c = arg;
	json_t *o;

	(void)key;
	if ((o = json_loads(value, 0, NULL)))
		json_array_append_new(c->all, o);
	return 0;
}

static bool listed(const char *const *ids, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return true;
	return false;
}

void ec2_describe_instances(struct ec2_req *q)
{
	const char *ids[EC2_MAX_IDS], *token = query_get(q->q, "NextToken"), *bad, *next = NULL;
	struct ec2_filters *f = calloc(1, sizeof(*f));
	struct collect c = { json_array() };
	json_t **page = NULL, *o;
	size_t n_ids = 0, shown = 0, i;
	bool *done = NULL;
	char err[256];
	long max = 0;
	struct xml x;
	int rc;

	if (!f || !c.all) {
		ec2_error(q, 500, "InternalError", "out of memory");
		goto out;
	}
	if (ec2_parse_ids(q->q, "InstanceId", ids, &n_ids, err, sizeof(err)) ||
	    ec2_parse_filters(q->q, f, err, sizeof(err))) {
		ec2_error(q, 400, "InvalidParameterValue", "%s", err);
		goto out;
	}
	if ((bad = ec2_filters_unknown(f, instance_fields))) {
		ec2_error(q, 400, "InvalidParameterValue", "The filter '%.64s' is invalid", bad);
		goto out;
	}
	rc = ec2_parse_int(q->q, "MaxResults", 5, 1L << 31, &max);
	if (max > 1000)
		max = 1000;
	if (rc == -EINVAL) {
		ec2_error(q, 400, "InvalidParameterValue", "Value for parameter MaxResults is "
			  "invalid. Expecting a value between 5 and 1000.");
		goto out;
	}
	if (max && n_ids) {
		ec2_error(q, 400, "InvalidParameterCombination", "The parameter instancesSet "
			  "cannot be used with the parameter maxResults");
		goto out;
	}
	/* NextToken: the last instance id of the previous page (ids unique, in
	 * key order: each instance once, whatever changes between pages). */
	if (token && !id_shape(token)) {
		ec2_error(q, 400, "InvalidParameterValue", "Invalid NextToken");
		goto out;
	}
	for (i = 0; i < n_ids; i++)
		if (!id_shape(ids[i])) {
			ec2_error(q, 400, "InvalidInstanceID.Malformed", "Invalid id: \"%.32s\"",
				  ids[i]);
			goto out;
		}
	if (!ec2_allowed(q, (const char *const[]){ "*" }, 1))
		goto out;
	if (store_list(q->t, "ec2/instance/", collect_cb, &c)) {
		ec2_error(q, 500, "InternalError", "cannot list the instances");
		goto out;
	}
	for (size_t k = 0; k < n_ids; k++) {
		bool found = false;

		json_array_foreach(c.all, i, o)
			found |= strcmp(ec2_jstr(o, "InstanceId"), ids[k]) == 0;
		if (!found) {
			ec2_error(q, 400, "InvalidInstanceID.NotFound", "The instance ID '%s' does "
				  "not exist", ids[k]);
			goto out;
		}
	}
	page = calloc(json_array_size(c.all) + 1, sizeof(*page));
	done = calloc(json_array_size(c.all) + 1, sizeof(*done));
	if (!page || !done) {
		ec2_error(q, 500, "InternalError", "out of memory");
		goto out;
	}
	json_array_foreach(c.all, i, o) {
		const char *id = ec2_jstr(o, "InstanceId");

		if ((token && strcmp(id, token) <= 0) || (n_ids && !listed(ids, n_ids, id)) ||
		    !ec2_filters_match(f, instance_fields, o))
			continue;
		if (max && shown == (size_t)max) {
			next = ec2_jstr(page[shown - 1], "InstanceId");
			break;
		}
		page[shown++] = o;
	}
	for (i = 0; i < shown; i++) {
		json_t *m = ec2_attach_mappings(q, ec2_jstr(page[i], "InstanceId"));

		if (!m) {
			ec2_error(q, 500, "InternalError", "cannot read the instances' volumes");
			goto out;
		}
		json_object_set_new(page[i], "BlockDevices", m);
	}
	ec2_begin(q, &x);
	xml_open(&x, "reservationSet", NULL);
	/* Each reservation once, with its instances of this page. */
	for (i = 0; i < shown; i++) {
		json_t *grp[RUN_MAX];
		size_t g = 0;

		if (done[i])
			continue;
		for (size_t j = i; j < shown; j++)
			if (!done[j] && g < RUN_MAX &&
			    !strcmp(ec2_jstr(page[j], "ReservationId"),
				    ec2_jstr(page[i], "ReservationId"))) {
				grp[g++] = page[j];
				done[j] = true;
			}
		xml_open(&x, "item", NULL);
		write_reservation(q, &x, grp, g);
		xml_close(&x);
	}
	xml_close(&x);
	if (next)
		xml_text(&x, "nextToken", next);
	ec2_end(q, &x);
out:
	free(page);
	free(done);
	json_decref(c.all);
	free(f);
}
