/* ec2_volume: EBS volumes as records (ec2/volume/<id>) — CreateVolume with
 * ClientToken idempotency, DescribeVolumes, DeleteVolume (VolumeInUse while
 * attached). Attachments are ec2_attach.c's; the backing export and the
 * KMS half of the attach flow (grant, forward access session) are not
 * built yet (docs/api.md#volume-attachments). */
#include "ec2.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void write_volume(struct xml *x, const json_t *v)
{
	size_t i;
	json_t *a;
	char t[40];

	xml_text(x, "volumeId", ec2_jstr(v, "VolumeId"));
	xml_textf(x, "size", "%lld", (long long)json_integer_value(json_object_get(v, "Size")));
	xml_text(x, "snapshotId", "");
	xml_text(x, "availabilityZone", ec2_jstr(v, "AvailabilityZone"));
	xml_text(x, "status", ec2_jstr(v, "State"));
	api_iso8601(json_real_value(json_object_get(v, "Created")), t);
	xml_text(x, "createTime", t);
	xml_open(x, "attachmentSet", NULL);
	json_array_foreach(json_object_get(v, "Attachments"), i, a) {
		xml_open(x, "item", NULL);
		xml_text(x, "volumeId", ec2_jstr(v, "VolumeId"));
		xml_text(x, "instanceId", ec2_jstr(a, "InstanceId"));
		xml_text(x, "device", ec2_jstr(a, "Device"));
		xml_text(x, "status", ec2_jstr(a, "State"));
		api_iso8601(json_real_value(json_object_get(a, "AttachTime")), t);
		xml_text(x, "attachTime", t);
		xml_text(x, "deleteOnTermination",
			 json_is_true(json_object_get(a, "DeleteOnTermination")) ? "true" : "false");
		xml_close(x);
	}
	xml_close(x);
	ec2_write_tags(x, v);
	xml_text(x, "volumeType", ec2_jstr(v, "VolumeType"));
	xml_textf(x, "iops", "%lld", (long long)json_integer_value(json_object_get(v, "Iops")));
	xml_text(x, "encrypted", json_is_true(json_object_get(v, "Encrypted")) ? "true" : "false");
	if (json_is_true(json_object_get(v, "Encrypted")))
		xml_text(x, "kmsKeyId", ec2_jstr(v, "KmsKeyId"));
	xml_text(x, "multiAttachEnabled", "false");
}

static void reply_volume(struct ec2_req *q, const json_t *v)
{
	struct xml x;

	ec2_begin(q, &x);
	write_volume(&x, v);
	ec2_end(q, &x);
}

/* A retried ClientToken: the same request gets the same volume (as it is
 * now, or as made if deleted since); another request with the token is
 * IdempotentParameterMismatch. true when it answered. */
static bool replay(struct ec2_req *q, const char *tid, const char *fp)
{
	json_t *t = ec2_load(q, "clienttoken", tid), *v;
	const char *vid;
	char arn[128];

	if (!t)
		return false;
	vid = ec2_jstr(t, "VolumeId");
	ec2_arn(q, arn, sizeof(arn), "volume", vid);
	if (strcmp(ec2_jstr(t, "Request"), fp) != 0) {
		ec2_error(q, 400, "IdempotentParameterMismatch", "The client token you have "
			  "provided is associated with a resource that has different parameters.");
	} else if (ec2_allowed(q, (const char *const[]){ arn }, 1)) {
		v = ec2_load(q, "volume", vid);
		if (!v) {
			v = json_deep_copy(json_object_get(t, "Volume"));
			json_object_set_new(v, "State", json_string("deleted"));
		}
		reply_volume(q, v);
		json_decref(v);
	}
	json_decref(t);
	return true;
}

static bool kms_key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > 2048)
		return false;
	for (; *k; k++)
		if (*k <= 0x20 || *k >= 0x7f)
			return false;
	return true;
}

void ec2_create_volume(struct ec2_req *q)
{
	const char *zone, *type = query_get(q->q, "VolumeType"), *kms = query_get(q->q, "KmsKeyId"),
		   *token = query_get(q->q, "ClientToken");
	struct ec2_tags tags;
	char id[32], arn[128], err[256], fp[65], tid[65], kms_default[160];
	bool encrypted;
	long size = 0;
	json_t *v = NULL, *rec = NULL;
	int rc;

	if (!(zone = ec2_zone(q, "AvailabilityZone", true)))
		return;
	if (query_get(q->q, "SnapshotId")) {
		ec2_error(q, 400, "InvalidSnapshot.NotFound", "The snapshot '%.32s' does not exist.",
			  query_get(q->q, "SnapshotId"));
		return;
	}
	if (query_get(q->q, "Iops") || query_get(q->q, "Throughput") ||
	    query_get(q->q, "MultiAttachEnabled") || query_get(q->q, "OutpostArn")) {
		ec2_error(q, 400, "InvalidParameterCombination", "Iops, Throughput, "
			  "MultiAttachEnabled and OutpostArn are not offered by ward");
		return;
	}
	if (!type)
		type = "gp2";
	if (strcmp(type, "gp2") && strcmp(type, "gp3") && strcmp(type, "standard")) {
		ec2_error(q, 400, "InvalidParameterValue", "Value (%.16s) for parameter volumeType "
			  "is invalid: gp2, gp3 or standard", type);
		return;
	}
	rc = ec2_parse_int(q->q, "Size", 1, 16384, &size);
	if (rc == -ENOENT) {
		ec2_error(q, 400, "MissingParameter", "The request must contain the parameter size "
			  "or snapshotId");
		return;
	}
	if (rc) {
		ec2_error(q, 400, "InvalidParameterValue", "Volume size must be between 1 and "
			  "16384 GiB");
		return;
	}
	if (ec2_parse_bool(q->q, "Encrypted", false, &encrypted)) {
		ec2_error(q, 400, "InvalidParameterValue", "Invalid value for parameter Encrypted");
		return;
	}
	if (kms && !encrypted) {
		ec2_error(q, 400, "InvalidParameterDependency", "The parameter KmsKeyId requires "
			  "the parameter Encrypted to be set.");
		return;
	}
	if (kms && !kms_key_ok(kms)) {
		ec2_error(q, 400, "InvalidParameterValue", "Invalid value for KmsKeyId");
		return;
	}
	if (token && (!token[0] || strlen(token) > 64 ||
		      strspn(token, " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			     "[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") != strlen(token))) {
		ec2_error(q, 400, "InvalidParameterValue", "The client token must be 1-64 "
			  "printable ASCII characters");
		return;
	}
	if (ec2_parse_tags(q->q, "volume", &tags, err, sizeof(err))) {
		ec2_error(q, 400, "InvalidParameterValue", "%s", err);
		return;
	}
	if (token) {
		ec2_token_fingerprint(q->q, fp);
		ec2_token_id("CreateVolume", token, tid);
		if (replay(q, tid, fp))
			return;
	}
	if (!ec2_new_id(q, "vol", id))
		return;
	ec2_arn(q, arn, sizeof(arn), "volume", id);
	if (!ec2_allowed(q, (const char *const[]){ arn }, 1))
		return;
	/* The account's default EBS key until ward-kms resolves aliases here. */
	snprintf(kms_default, sizeof(kms_default), "arn:aws:kms:%s:%s:alias/aws/ebs",
		 q->a->region, q->a->account);
	v = json_pack("{sssIsssssfsbsssssIs[]ss}", "VolumeId", id, "Size", (json_int_t)size,
		      "AvailabilityZone", zone, "State", "available", "Created", q->now,
		      "Encrypted", encrypted, "KmsKeyId", encrypted ? (kms ? kms : kms_default) : "",
		      "VolumeType", type, "Iops",
		      (json_int_t)(strcmp(type, "gp3") == 0 ? 3000 :
				   size * 3 < 100 ? 100 : size * 3 > 16000 ? 16000 : size * 3),
		      "Attachments", "Arn", arn);
	if (!v) {
		ec2_error(q, 500, "InternalError", "out of memory");
		return;
	}
	ec2_tags_set(v, &tags);
	rc = ec2_save(q, true, "volume", id, v);
	if (!rc && token) {
		rec = json_pack("{sssssO}", "VolumeId", id, "Request", fp, "Volume", v);
		rc = rec ? ec2_save(q, true, "clienttoken", tid, rec) : -ENOMEM;
	}
	if (!ec2_failed(q, rc, "volume"))
		reply_volume(q, v);
	json_decref(rec);
	json_decref(v);
}

void ec2_delete_volume(struct ec2_req *q)
{
	const char *id = ec2_required(q, "VolumeId");
	char arn[128];
	json_t *v;

	if (!id)
		return;
	if (strlen(id) >= 32 || strncmp(id, "vol-", 4) != 0 ||
	    strspn(id + 4, "0123456789abcdef") != strlen(id + 4)) {
		ec2_error(q, 400, "InvalidVolume.NotFound", "The volume '%.32s' does not exist.",
			  id);
		return;
	}
	ec2_arn(q, arn, sizeof(arn), "volume", id);
	if (!ec2_allowed(q, (const char *const[]){ arn }, 1))
		return;
	if (!(v = ec2_load(q, "volume", id))) {
		ec2_error(q, 400, "InvalidVolume.NotFound", "The volume '%s' does not exist.", id);
		return;
	}
	if (json_array_size(json_object_get(v, "Attachments")) ||
	    strcmp(ec2_jstr(v, "State"), "available") != 0) {
		ec2_error(q, 400, "VolumeInUse", "Volume %s is currently attached to %s", id,
			  ec2_jstr(json_array_get(json_object_get(v, "Attachments"), 0),
				   "InstanceId"));
	} else if (!ec2_failed(q, ec2_drop(q, "volume", id), "deletion")) {
		ec2_reply_return(q);
	}
	json_decref(v);
}

static const struct ec2_field volume_fields[] = {
	{ "volume-id", "VolumeId" },
	{ "size", "Size" },
	{ "status", "State" },
	{ "availability-zone", "AvailabilityZone" },
	{ "encrypted", "Encrypted" },
	{ "volume-type", "VolumeType" },
	{ "kms-key-id", "KmsKeyId" },
	{ "attachment.instance-id", "AttachedTo" },
	{ "attachment.status", "AttachState" },
	{ "attachment.device", "AttachDevice" },
	{ NULL, NULL },
};

void ec2_describe_volumes(struct ec2_req *q)
{
	static const struct ec2_describe d = {
		"volume", "VolumeId", "VolumeId", "InvalidVolume.NotFound", "volume",
		"volumeSet", volume_fields, 5, 500, write_volume,
	};

	ec2_describe(q, &d);
}
