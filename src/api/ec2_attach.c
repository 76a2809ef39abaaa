/* ec2_attach: AttachVolume and DetachVolume as records (docs/api.md#volume-
 * attachments) — the volume's one attachment (attaching → attached,
 * detaching → detached) and the ec2/instancevolume/<i>/<vol> index, written
 * in the request's transaction — and their reconciler step, which carries
 * each attachment to where its instance is and writes what happened. */
#include "ec2.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leader.h"
#include "log.h"
#include "reconcile.h"

/* ward-controller's VOL_MAX: volumes one instance's card serves. */
#define ATTACH_MAX 4

/* The filterable mirror of the attachment (DescribeVolumes' attachment.*
 * filters read top-level keys) and the volume's status. */
static void attach_mirror(json_t *v)
{
	json_t *a = json_array_get(json_object_get(v, "Attachments"), 0);

	json_object_set_new(v, "AttachedTo", json_string(ec2_jstr(a, "InstanceId")));
	json_object_set_new(v, "AttachState", json_string(ec2_jstr(a, "State")));
	json_object_set_new(v, "AttachDevice", json_string(ec2_jstr(a, "Device")));
	json_object_set_new(v, "State", json_string(a ? "in-use" : "available"));
}

static void write_attachment(struct ec2_req *q, const json_t *v, const json_t *a)
{
	struct xml x;
	char t[40];

	ec2_begin(q, &x);
	api_iso8601(json_real_value(json_object_get(a, "AttachTime")), t);
	xml_text(&x, "attachTime", t);
	xml_text(&x, "device", ec2_jstr(a, "Device"));
	xml_text(&x, "instanceId", ec2_jstr(a, "InstanceId"));
	xml_text(&x, "status", ec2_jstr(a, "State"));
	xml_text(&x, "volumeId", ec2_jstr(v, "VolumeId"));
	xml_text(&x, "deleteOnTermination",
		 json_is_true(json_object_get(a, "DeleteOnTermination")) ? "true" : "false");
	ec2_end(q, &x);
}

struct inst_vols {
	struct ec2_req *q;
	json_t *vols;	/* the instance's volume documents */
};

static int vol_of(const char *key, const char *value, void *arg)
{
	struct inst_vols *iv = arg;
	const char *id = strrchr(key, '/');
	json_t *v;

	(void)value;
	if (!id || !(v = ec2_load(iv->q, "volume", id + 1)))
		return -EIO;
	return json_array_append_new(iv->vols, v) ? -ENOMEM : 0;
}

/* The volume documents ec2/instancevolume/<instance>/ names; NULL on error. */
static json_t *instance_volumes(struct ec2_req *q, const char *instance)
{
	struct inst_vols iv = { q, json_array() };
	char prefix[STORE_KEY_MAX];

	snprintf(prefix, sizeof(prefix), "ec2/instancevolume/%s/", instance);
	if (!iv.vols || store_list(q->t, prefix, vol_of, &iv)) {
		json_decref(iv.vols);
		return NULL;
	}
	return iv.vols;
}

json_t *ec2_attach_mappings(struct ec2_req *q, const char *instance)
{
	json_t *vols = instance_volumes(q, instance), *out = json_array(), *v, *a;
	size_t i;

	if (!vols || !out) {
		json_decref(vols);
		json_decref(out);
		return NULL;
	}
	json_array_foreach(vols, i, v) {
		a = json_array_get(json_object_get(v, "Attachments"), 0);
		json_array_append_new(out, json_pack("{ssssssso*so*}", "Device",
						     ec2_jstr(a, "Device"), "VolumeId",
						     ec2_jstr(v, "VolumeId"), "State",
						     ec2_jstr(a, "State"), "AttachTime",
						     json_copy(json_object_get(a, "AttachTime")),
						     "DeleteOnTermination",
						     json_copy(json_object_get(a, "DeleteOnTermination"))));
	}
	json_decref(vols);
	return out;
}

size_t ec2_attach_count(struct ec2_req *q, const char *instance)
{
	return ec2_index_count(q, "instancevolume", instance);
}

int ec2_attach_release_all(struct ec2_req *q, const char *instance)
{
	json_t *vols = instance_volumes(q, instance), *v, *a;
	size_t i;
	int rc = 0;

	if (!vols)
		return -EIO;
	json_array_foreach(vols, i, v) {
		a = json_array_get(json_object_get(v, "Attachments"), 0);
		if (!a || strcmp(ec2_jstr(a, "InstanceId"), instance) ||
		    !strcmp(ec2_jstr(a, "State"), "detaching"))
			continue;
		json_object_set_new(a, "State", json_string("detaching"));
		attach_mirror(v);
		if ((rc = ec2_save(q, false, "volume", ec2_jstr(v, "VolumeId"), v)))
			break;
	}
	json_decref(vols);
	return rc;
}

static void param_error(struct ec2_req *q, int rc, const char *err)
{
	ec2_error(q, 400, rc == -ENOENT ? "MissingParameter" : rc == -EBADF ?
		  "InvalidVolumeID.Malformed" : rc == -ESRCH ? "InvalidInstanceID.Malformed" :
		  "InvalidParameterValue", "%s", err);
}

void ec2_attach_volume(struct ec2_req *q)
{
	struct ec2_attach p;
	char err[256], arn_i[128], arn_v[128];
	json_t *in = NULL, *v = NULL, *vols = NULL, *a, *o;
	const char *state;
	size_t i;
	int rc;

	if ((rc = ec2_parse_attach(q->q, &p, err, sizeof(err)))) {
		param_error(q, rc, err);
		return;
	}
	ec2_arn(q, arn_i, sizeof(arn_i), "instance", p.instance);
	ec2_arn(q, arn_v, sizeof(arn_v), "volume", p.volume);
	if (!ec2_allowed(q, (const char *const[]){ arn_i, arn_v }, 2))
		return;
	if (!(in = ec2_load(q, "instance", p.instance))) {
		ec2_error(q, 400, "InvalidInstanceID.NotFound", "The instance ID '%s' does not "
			  "exist", p.instance);
		goto out;
	}
	if (!(v = ec2_load(q, "volume", p.volume))) {
		ec2_error(q, 400, "InvalidVolume.NotFound", "The volume '%s' does not exist.",
			  p.volume);
		goto out;
	}
	if (strcmp(ec2_jstr(v, "AvailabilityZone"), ec2_jstr(in, "AvailabilityZone"))) {
		ec2_error(q, 400, "InvalidVolume.ZoneMismatch", "The volume '%s' is not in the "
			  "same availability zone as instance '%s'", p.volume, p.instance);
		goto out;
	}
	if ((a = json_array_get(json_object_get(v, "Attachments"), 0))) {
		ec2_error(q, 400, "VolumeInUse", "%s is already attached to an instance (%s)",
			  p.volume, ec2_jstr(a, "InstanceId"));
		goto out;
	}
	if (strcmp(ec2_jstr(v, "State"), "available")) {
		ec2_error(q, 400, "IncorrectState", "The volume '%s' is '%s', not 'available'",
			  p.volume, ec2_jstr(v, "State"));
		goto out;
	}
	/* ward-hv has no hot-plug: a volume goes to the host with its
	 * instance's launch, so only a stopped instance (which holds no host)
	 * takes one (docs/attach.md "Limits"). */
	state = ec2_jstr(in, "State");
	if (strcmp(state, "stopped")) {
		ec2_error(q, 400, "IncorrectState", "Instance '%s' is %s: ward attaches volumes "
			  "to a stopped instance (ward-hv has no hot-plug)", p.instance, state);
		goto out;
	}
	if (!(vols = instance_volumes(q, p.instance))) {
		ec2_error(q, 500, "InternalError", "cannot read the instance's volumes");
		goto out;
	}
	json_array_foreach(vols, i, o)
		if (!strcmp(ec2_jstr(json_array_get(json_object_get(o, "Attachments"), 0),
				     "Device"), p.device)) {
			ec2_error(q, 400, "InvalidParameterValue", "Attachment point %s is already "
				  "in use", p.device);
			goto out;
		}
	if (json_array_size(vols) >= ATTACH_MAX) {
		ec2_error(q, 400, "AttachmentLimitExceeded", "Instance '%s' has %d volumes, as "
			  "many as a ward host serves one instance", p.instance, ATTACH_MAX);
		goto out;
	}
	a = json_pack("{ss ss ss sf sb}", "InstanceId", p.instance, "Device", p.device,
		      "State", "attaching", "AttachTime", q->now, "DeleteOnTermination", 0);
	if (!a || json_object_set_new(v, "Attachments", json_pack("[o]", a))) {
		ec2_error(q, 500, "InternalError", "out of memory");
		goto out;
	}
	attach_mirror(v);
	rc = ec2_save(q, false, "volume", p.volume, v);
	if (!rc)
		rc = ec2_index_put(q, "instancevolume", p.instance, p.volume);
	if (ec2_failed(q, rc, "attachment"))
		goto out;
	write_attachment(q, v, a);
	reconcile_kick();
out:
	json_decref(vols);
	json_decref(in);
	json_decref(v);
}

void ec2_detach_volume(struct ec2_req *q)
{
	struct ec2_detach p;
	char err[256], arn_i[128], arn_v[128];
	const char *arns[2] = { arn_v, arn_i };
	json_t *v = NULL, *a;
	int rc;

	if ((rc = ec2_parse_detach(q->q, &p, err, sizeof(err)))) {
		param_error(q, rc, err);
		return;
	}
	ec2_arn(q, arn_v, sizeof(arn_v), "volume", p.volume);
	/* The volume's record names the instance when the caller does not:
	 * read it first, so that both ARNs are authorised either way. */
	v = ec2_load(q, "volume", p.volume);
	a = json_array_get(json_object_get(v, "Attachments"), 0);
	ec2_arn(q, arn_i, sizeof(arn_i), "instance",
		p.instance ? p.instance : a ? ec2_jstr(a, "InstanceId") : "*");
	if (!ec2_allowed(q, arns, 2))
		goto out;
	if (!v) {
		ec2_error(q, 400, "InvalidVolume.NotFound", "The volume '%s' does not exist.",
			  p.volume);
		goto out;
	}
	if (!a) {
		ec2_error(q, 400, "IncorrectState", "Volume '%s' is in the '%s' state.", p.volume,
			  ec2_jstr(v, "State"));
		goto out;
	}
	if ((p.instance && strcmp(p.instance, ec2_jstr(a, "InstanceId"))) ||
	    (p.device && strcmp(p.device, ec2_jstr(a, "Device")))) {
		ec2_error(q, 400, "InvalidAttachment.NotFound", "Volume '%s' is not attached to "
			  "%s%s%s", p.volume, p.instance ? p.instance : "",
			  p.instance && p.device ? " at " : "", p.device ? p.device : "");
		goto out;
	}
	/* Again (or with Force after a plain one) is the same detach. */
	json_object_set_new(a, "State", json_string("detaching"));
	if (p.force)
		json_object_set_new(a, "Force", json_true());
	attach_mirror(v);
	if (ec2_failed(q, ec2_save(q, false, "volume", p.volume, v), "attachment"))
		goto out;
	write_attachment(q, v, a);
	reconcile_kick();
out:
	json_decref(v);
}

/* ---- the reconciler's step (reconcile.h) ---------------------------------- */

/* Compare-and-set of one volume's attachment: written only while the
 * record still has was's attachment (instance and state); with now NULL
 * the attachment is removed, its index entry with it. Fenced. */
static int vol_transition(struct store *s, const json_t *was, const char *state)
{
	const json_t *wa = json_array_get(json_object_get(was, "Attachments"), 0);
	const char *vid = ec2_jstr(was, "VolumeId"), *iid = ec2_jstr(wa, "InstanceId");
	struct store_txn *t;
	char key[STORE_KEY_MAX], *raw = NULL, *doc = NULL;
	json_t *cur = NULL, *ca;
	int rc;

	snprintf(key, sizeof(key), "ec2/volume/%s", vid);
	if ((rc = store_txn_begin(s, true, &t)))
		return rc;
	if ((rc = store_get(t, key, &raw)))
		goto abort;
	cur = json_loads(raw, 0, NULL);
	ca = json_array_get(json_object_get(cur, "Attachments"), 0);
	if (!cur || !ca || strcmp(ec2_jstr(ca, "InstanceId"), iid) ||
	    strcmp(ec2_jstr(ca, "State"), ec2_jstr(wa, "State"))) {
		rc = -EAGAIN;
		goto abort;
	}
	if (state)
		json_object_set_new(ca, "State", json_string(state));
	else
		json_object_set_new(cur, "Attachments", json_array());
	attach_mirror(cur);
	if (!(doc = json_dumps(cur, JSON_COMPACT | JSON_SORT_KEYS))) {
		rc = -ENOMEM;
		goto abort;
	}
	rc = leader_fence(t);
	if (!rc)
		rc = store_put(t, key, doc);
	if (!rc && !state) {
		snprintf(key, sizeof(key), "ec2/instancevolume/%s/%s", iid, vid);
		rc = store_del(t, key);
	}
	if (rc)
		goto abort;
	rc = store_txn_commit(t);
	goto out;
abort:
	store_txn_abort(t);
out:
	free(raw);
	free(doc);
	json_decref(cur);
	return rc;
}

static const json_t *by_key(const json_t *arr, const char *k, const char *id)
{
	size_t i;
	json_t *o;

	json_array_foreach(arr, i, o)
		if (!strcmp(ec2_jstr(o, k), id))
			return o;
	return NULL;
}

/* One volume's attachment toward where its instance is. */
static int attach_step(struct store *s, const json_t *hosts, const json_t *insts,
		       const json_t *v)
{
	const json_t *a = json_array_get(json_object_get(v, "Attachments"), 0), *in, *host;
	const char *st = ec2_jstr(a, "State"), *vid = ec2_jstr(v, "VolumeId"), *ist, *hid;
	bool force = json_is_true(json_object_get(a, "Force"));
	json_t *rep = NULL;
	char path[160];
	long code;
	int rc;

	in = by_key(insts, "InstanceId", ec2_jstr(a, "InstanceId"));
	ist = ec2_jstr(in, "State");
	hid = ec2_jstr(in, "HostInstance");
	if (!strcmp(st, "attaching")) {
		/* Only a stopped instance takes a volume (AttachVolume): it holds
		 * no host, so the attachment is the launch's to carry. One that
		 * left "stopped" since (a terminate) ends the attach. */
		if (in && !strcmp(ist, "stopped") && !hid[0])
			rc = vol_transition(s, v, "attached");
		else if (!in || !strcmp(ist, "terminated") || !strcmp(ist, "shutting-down"))
			rc = vol_transition(s, v, NULL);
		else
			return 0;
		if (!rc)
			log_info(in && !strcmp(ist, "stopped") ? "volume attached" :
				 "volume attach ended", "volume=%s instance=%s", vid,
				 ec2_jstr(a, "InstanceId"));
		return rc;
	}
	if (strcmp(st, "detaching"))
		return 0;
	/* An instance on its way down: its end detaches the card (keys wiped,
	 * docs/attach.md); the record follows once the reconciler saw it end. */
	if (in && (!strcmp(ist, "stopping") || !strcmp(ist, "shutting-down")) && !force)
		return 0;
	if (in && hid[0]) {
		host = by_key(hosts, "HostId", ec2_jstr(in, "HostId"));
		if (!host || strcmp(ec2_jstr(host, "State"), "admitted")) {
			/* A drained host is never driven from here (docs/api.md):
			 * only Force lets the record go without the host's word. */
			if (!force)
				return 0;
		} else {
			snprintf(path, sizeof(path), "/v1/instances/%.64s/volumes/%.32s", hid, vid);
			code = reconcile_call(host, "DELETE", path, NULL, &rep);
			json_decref(rep);
			if (code != 200 && code != 404 && !force) {
				log_warn("volume detach failed", "volume=%s instance=%s status=%ld",
					 vid, ec2_jstr(a, "InstanceId"), code);
				return 0;
			}
		}
	}
	rc = vol_transition(s, v, NULL);
	if (!rc)
		log_info("volume detached", "volume=%s instance=%s%s", vid,
			 ec2_jstr(a, "InstanceId"), force ? " force=1" : "");
	return rc;
}

static int collect(const char *key, const char *value, void *arg)
{
	json_t *o;

	(void)key;
	if ((o = json_loads(value, 0, NULL)))
		json_array_append_new(arg, o);
	return 0;
}

int reconcile_volumes(struct store *s, const json_t *hosts, const json_t *insts)
{
	struct store_txn *t;
	json_t *vols = json_array(), *v;
	size_t i;
	int rc;

	if (!vols || store_txn_begin(s, false, &t)) {
		json_decref(vols);
		return -EIO;
	}
	rc = store_list(t, "ec2/volume/", collect, vols);
	store_txn_abort(t);
	json_array_foreach(vols, i, v) {
		const char *st = ec2_jstr(json_array_get(json_object_get(v, "Attachments"), 0),
					  "State");

		if (rc || (strcmp(st, "attaching") && strcmp(st, "detaching")))
			continue;
		rc = attach_step(s, hosts, insts, v);
		if (rc != -ESTALE)
			rc = 0;	/* -EAGAIN: changed meanwhile, seen next round */
	}
	json_decref(vols);
	return rc;
}
