/* ec2_image: DescribeImages over what the fleet can launch — the images of
 * each admitted host's firmware-verified store (and its image directory),
 * as the host's controller lists them (GET /v1/images), recorded by the
 * reconciler in ec2/hostimages/<host> (docs/api.md#images). */
#include "ec2.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hosts.h"
#include "leader.h"
#include "log.h"
#include "reconcile.h"

#define IMAGE_HOSTS_MAX 256

/* ---- the reconciler's step: a host's list, written on change ------------- */

int reconcile_images(struct store *s, const json_t *host, const json_t *rep)
{
	const char *hid = ec2_jstr(host, "HostId");
	json_t *names = json_array(), *e, *o;
	char key[STORE_KEY_MAX], *doc = NULL;
	size_t i, kept = 0;
	int rc;

	if (!names)
		return -ENOMEM;
	/* Only names RunInstances can name ("ami-" + [a-z0-9-]): the others
	 * cannot be launched through EC2, so they are not EC2 images. */
	json_array_foreach(json_object_get(rep, "images"), i, e) {
		char id[EC2_IMAGE_ID_MAX + 8];
		const char *n = ec2_jstr(e, "name");

		snprintf(id, sizeof(id), "ami-%s", n);
		if (strlen(n) + 4 > EC2_IMAGE_ID_MAX || !ec2_image_id_ok(id))
			continue;
		if (!json_array_append_new(names, json_pack("{ssss}", "Name", n, "Source",
							    ec2_jstr(e, "source"))))
			kept++;
	}
	o = json_pack("{ssso}", "HostId", hid, "Images", names);
	doc = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (!doc)
		return -ENOMEM;
	snprintf(key, sizeof(key), "ec2/hostimages/%s", hid);
	rc = reconcile_put_changed(s, key, doc);
	if (rc == 1)
		log_info("host images", "host=%s images=%zu", hid, kept);
	free(doc);
	return rc < 0 ? rc : 0;
}

/* ---- DescribeImages ------------------------------------------------------ */

static const struct ec2_field image_fields[] = {
	{ "image-id", "ImageId" },
	{ "name", "Name" },
	{ "state", "State" },
	{ "owner-id", "OwnerId" },
	{ "architecture", "Architecture" },
	{ "image-type", "ImageType" },
	{ "is-public", "Public" },
	{ "root-device-type", "RootDeviceType" },
	{ "virtualization-type", "VirtualizationType" },
	{ "hypervisor", "Hypervisor" },
	{ "description", "Description" },
	{ NULL, NULL },
};

static void write_image(struct xml *x, const json_t *o)
{
	xml_text(x, "imageId", ec2_jstr(o, "ImageId"));
	xml_text(x, "imageLocation", ec2_jstr(o, "Location"));
	xml_text(x, "imageState", "available");
	xml_text(x, "imageOwnerId", ec2_jstr(o, "OwnerId"));
	xml_text(x, "isPublic", "false");
	xml_text(x, "architecture", "x86_64");
	xml_text(x, "imageType", "machine");
	xml_text(x, "name", ec2_jstr(o, "Name"));
	xml_text(x, "description", ec2_jstr(o, "Description"));
	xml_text(x, "rootDeviceType", "instance-store");
	xml_text(x, "virtualizationType", "hvm");
	xml_text(x, "hypervisor", "nitro");
	xml_text(x, "platformDetails", "Linux/UNIX");
}

/* image name → its document; every admitted host's list merged. */
static int images_load(struct ec2_req *q, json_t *by_name)
{
	char (*ids)[HOST_ID_MAX + 1] = calloc(IMAGE_HOSTS_MAX, sizeof(*ids));
	size_t n = 0, i, k;
	json_t *rec, *e, *o;
	int rc;

	if (!ids)
		return -ENOMEM;
	if ((rc = hosts_list_schedulable(q->t, ids, IMAGE_HOSTS_MAX, &n)))
		goto out;
	for (i = 0; i < n; i++) {
		if (!(rec = ec2_load(q, "hostimages", ids[i])))
			continue;
		json_array_foreach(json_object_get(rec, "Images"), k, e) {
			const char *name = ec2_jstr(e, "Name");
			char id[EC2_IMAGE_ID_MAX + 8], loc[96];
			json_int_t hosts = 1;

			if ((o = json_object_get(by_name, name)))
				hosts += json_integer_value(json_object_get(o, "Hosts"));
			snprintf(id, sizeof(id), "ami-%s", name);
			snprintf(loc, sizeof(loc), "%s/%s", ec2_jstr(e, "Source"), name);
			o = json_pack("{ss ss ss ss ss ss sb ss ss ss ss sI}", "ImageId", id,
				      "Name", name, "Location", loc, "State", "available",
				      "OwnerId", q->a->account, "Architecture", "x86_64",
				      "Public", 0, "ImageType", "machine", "RootDeviceType",
				      "instance-store", "VirtualizationType", "hvm", "Hypervisor",
				      "nitro", "Hosts", hosts);
			if (o) {
				char d[96];

				snprintf(d, sizeof(d), "ward guest image (%s), on %lld admitted "
					 "host(s)", ec2_jstr(e, "Source"), (long long)hosts);
				json_object_set_new(o, "Description", json_string(d));
			}
			if (!o || json_object_set_new(by_name, name, o)) {
				rc = -ENOMEM;
				break;
			}
		}
		json_decref(rec);
	}
out:
	free(ids);
	return rc;
}

static bool owner_match(const struct ec2_req *q, const char *const *v, size_t n, bool exec)
{
	if (!n)
		return true;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], "self") || !strcmp(v[i], q->a->account) ||
		    (exec && !strcmp(v[i], "all")))
			return true;
	return false;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(ec2_jstr(*(json_t *const *)a, "ImageId"),
		      ec2_jstr(*(json_t *const *)b, "ImageId"));
}

void ec2_describe_images(struct ec2_req *q)
{
	struct ec2_images *p = calloc(1, sizeof(*p));
	struct ec2_filters *f = calloc(1, sizeof(*f));
	json_t *by_name = json_object(), **all = NULL, *o;
	const char *token = query_get(q->q, "NextToken"), *bad, *k, *last = "";
	size_t n = 0, shown = 0;
	char err[256];
	long max = 0;
	struct xml x;
	int rc;

	if (!p || !f || !by_name) {
		ec2_error(q, 500, "InternalError", "out of memory");
		goto out;
	}
	if ((rc = ec2_parse_images(q->q, p, err, sizeof(err)))) {
		ec2_error(q, 400, rc == -EBADF ? "InvalidAMIID.Malformed" : "InvalidParameterValue",
			  "%s", err);
		goto out;
	}
	if (ec2_parse_filters(q->q, f, err, sizeof(err))) {
		ec2_error(q, 400, "InvalidParameterValue", "%s", err);
		goto out;
	}
	if ((bad = ec2_filters_unknown(f, image_fields))) {
		ec2_error(q, 400, "InvalidParameterValue", "The filter '%.64s' is invalid", bad);
		goto out;
	}
	rc = ec2_parse_int(q->q, "MaxResults", 5, 1000, &max);
	if (rc == -EINVAL) {
		ec2_error(q, 400, "InvalidParameterValue", "Value for parameter MaxResults is "
			  "invalid. Expecting a value between 5 and 1000.");
		goto out;
	}
	if (max && p->n_ids) {
		ec2_error(q, 400, "InvalidParameterCombination", "The parameter ImageIds cannot "
			  "be used with the parameter maxResults");
		goto out;
	}
	if (token && !ec2_image_id_ok(token)) {
		ec2_error(q, 400, "InvalidParameterValue", "Invalid NextToken");
		goto out;
	}
	/* IncludeDeprecated/IncludeDisabled: ward's images are neither. */
	if (ec2_parse_bool(q->q, "IncludeDeprecated", false, &(bool){ 0 }) ||
	    ec2_parse_bool(q->q, "IncludeDisabled", false, &(bool){ 0 })) {
		ec2_error(q, 400, "InvalidParameterValue", "IncludeDeprecated and IncludeDisabled "
			  "are true or false");
		goto out;
	}
	if (!ec2_allowed(q, (const char *const[]){ "*" }, 1))
		goto out;
	if (images_load(q, by_name)) {
		ec2_error(q, 500, "InternalError", "cannot read the hosts' images");
		goto out;
	}
	for (size_t i = 0; i < p->n_ids; i++)
		if (!json_object_get(by_name, p->ids[i] + 4)) {
			ec2_error(q, 400, "InvalidAMIID.NotFound", "The image id '[%s]' does not "
				  "exist", p->ids[i]);
			goto out;
		}
	if (!(all = calloc(json_object_size(by_name) + 1, sizeof(*all)))) {
		ec2_error(q, 500, "InternalError", "out of memory");
		goto out;
	}
	json_object_foreach(by_name, k, o)
		all[n++] = o;
	qsort(all, n, sizeof(*all), by_id);
	ec2_begin(q, &x);
	xml_open(&x, "imagesSet", NULL);
	for (size_t i = 0; i < n; i++) {
		const char *id = ec2_jstr(all[i], "ImageId");
		bool listed = !p->n_ids;

		for (size_t j = 0; j < p->n_ids; j++)
			listed |= !strcmp(p->ids[j], id);
		if ((token && strcmp(id, token) <= 0) || !listed ||
		    !owner_match(q, p->owners, p->n_owners, false) ||
		    !owner_match(q, p->exec_by, p->n_exec_by, true) ||
		    !ec2_filters_match(f, image_fields, all[i]))
			continue;
		if (max && shown == (size_t)max) {
			xml_close(&x);
			xml_text(&x, "nextToken", last);
			goto done;
		}
		xml_open(&x, "item", NULL);
		write_image(&x, all[i]);
		xml_close(&x);
		shown++;
		last = id;
	}
	xml_close(&x);
done:
	ec2_end(q, &x);
out:
	free(all);
	json_decref(by_name);
	free(f);
	free(p);
}
