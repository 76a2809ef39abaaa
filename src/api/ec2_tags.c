/* ec2_tags: CreateTags, DeleteTags and DescribeTags over the resources
 * ward-api stores (VPCs, subnets, security groups, volumes, instances):
 * the same "Tags" object of each document that TagSpecification.N fills
 * at creation and every Describe's tag: filters read (docs/api.md#tags). */
#include "ec2.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct kind {
	const char *prefix, *store, *arn, *not_found;
} kinds[] = {
	{ "vpc-", "vpc", "vpc", "InvalidVpcID.NotFound" },
	{ "subnet-", "subnet", "subnet", "InvalidSubnetID.NotFound" },
	{ "sg-", "sg", "security-group", "InvalidGroup.NotFound" },
	{ "vol-", "volume", "volume", "InvalidVolume.NotFound" },
	{ "i-", "instance", "instance", "InvalidInstanceID.NotFound" },
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

static const struct kind *kind_of(const char *id)
{
	for (size_t i = 0; i < N_KINDS; i++)
		if (!strncmp(id, kinds[i].prefix, strlen(kinds[i].prefix)))
			return &kinds[i];
	return NULL;
}

/* Parses, checks every id's kind, authorises ec2:<Action> on each ARN. */
static bool tag_begin(struct ec2_req *q, bool deleting, struct ec2_tag_request *p,
		      const struct kind **k)
{
	char (*arnbuf)[128] = NULL, err[256];
	const char *arns[EC2_MAX_IDS];
	bool ok = false;
	int rc;

	if ((rc = ec2_parse_tag_request(q->q, deleting, p, err, sizeof(err)))) {
		ec2_error(q, 400, rc == -ENOENT ? "MissingParameter" : rc == -EBADF ?
			  "InvalidID" : "InvalidParameterValue", "%s", err);
		return false;
	}
	if (!(arnbuf = calloc(p->n_ids, sizeof(*arnbuf)))) {
		ec2_error(q, 500, "InternalError", "out of memory");
		return false;
	}
	for (size_t i = 0; i < p->n_ids; i++) {
		if (!(k[i] = kind_of(p->ids[i]))) {
			ec2_error(q, 400, "InvalidID", "The ID '%s' is not valid: ward tags vpc-, "
				  "subnet-, sg-, vol- and i- resources", p->ids[i]);
			goto out;
		}
		ec2_arn(q, arnbuf[i], sizeof(arnbuf[i]), k[i]->arn, p->ids[i]);
		arns[i] = arnbuf[i];
	}
	ok = ec2_allowed(q, arns, p->n_ids);
out:
	free(arnbuf);
	return ok;
}

static void tags_change(struct ec2_req *q, bool deleting)
{
	struct ec2_tag_request *p = calloc(1, sizeof(*p));
	const struct kind *k[EC2_MAX_IDS];
	json_t *o = NULL;
	int rc = 0;

	if (!p) {
		ec2_error(q, 500, "InternalError", "out of memory");
		return;
	}
	if (!tag_begin(q, deleting, p, k))
		goto out;
	/* Every resource must exist before any changes (the request is one
	 * transaction: a refusal part-way writes nothing either). */
	for (size_t i = 0; i < p->n_ids && !rc; i++) {
		json_t *tags;

		if (!(o = ec2_load(q, k[i]->store, p->ids[i]))) {
			ec2_error(q, 400, k[i]->not_found, "The ID '%s' does not exist", p->ids[i]);
			goto out;
		}
		tags = json_object_get(o, "Tags");
		if (!json_is_object(tags)) {
			tags = json_object();
			json_object_set_new(o, "Tags", tags);
		}
		if (deleting && !p->n_tags)
			json_object_clear(tags);
		for (size_t j = 0; j < p->n_tags; j++) {
			const struct ec2_tag *t = &p->tags[j];
			const char *cur = json_string_value(json_object_get(tags, t->key));

			if (!deleting)
				json_object_set_new(tags, t->key, json_string(t->value));
			else if (cur && (!t->value || !strcmp(cur, t->value)))
				json_object_del(tags, t->key);
		}
		if (json_object_size(tags) > EC2_MAX_TAGS) {
			ec2_error(q, 400, "TagLimitExceeded", "The maximum number of tags (%d) "
				  "for %s would be exceeded", EC2_MAX_TAGS, p->ids[i]);
			goto out;
		}
		rc = ec2_save(q, false, k[i]->store, p->ids[i], o);
		json_decref(o);
		o = NULL;
	}
	if (!ec2_failed(q, rc, "tags"))
		ec2_reply_return(q);
out:
	json_decref(o);
	free(p);
}

void ec2_create_tags(struct ec2_req *q)
{
	tags_change(q, false);
}

void ec2_delete_tags(struct ec2_req *q)
{
	tags_change(q, true);
}

/* ---- DescribeTags: one item per (resource, key), in that order ------------ */

static const struct ec2_field tag_fields[] = {
	{ "key", "key" },
	{ "value", "value" },
	{ "resource-id", "resource-id" },
	{ "resource-type", "resource-type" },
	{ NULL, NULL },
};

struct gather {
	json_t *items;
	const struct kind *k;
	size_t skip;
};

static int gather_cb(const char *key, const char *value, void *arg)
{
	struct gather *g = arg;
	json_t *o, *v;
	const char *tk, *id = key + g->skip;

	if (strchr(id, '/'))	/* an index key under the kind, not a document */
		return 0;
	if (!(o = json_loads(value, 0, NULL)))
		return -EIO;
	json_object_foreach(json_object_get(o, "Tags"), tk, v)
		json_array_append_new(g->items, json_pack("{ssssssss}", "resource-id", id,
							  "resource-type", g->k->arn, "key", tk,
							  "value", json_string_value(v) ?
							  json_string_value(v) : ""));
	json_decref(o);
	return 0;
}

static int item_cmp(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(ec2_jstr(x, "resource-id"), ec2_jstr(y, "resource-id"));

	return c ? c : strcmp(ec2_jstr(x, "key"), ec2_jstr(y, "key"));
}

/* NextToken: "<resource-id>.<hex of the key>" of the last item shown, so
 * a page resumes after it whatever changed in between. */
static void token_of(const json_t *it, char *out, size_t len)
{
	const char *k = ec2_jstr(it, "key");
	size_t n = (size_t)snprintf(out, len, "%s.", ec2_jstr(it, "resource-id"));

	for (; *k && n + 3 <= len; k++, n += 2)
		snprintf(out + n, len - n, "%02x", (unsigned char)*k);
}

static bool token_ok(const char *t)
{
	size_t n = strlen(t);
	const char *dot = strchr(t, '.');

	return n > 2 && n < 32 + 1 + 2 * 128 && dot &&
	       strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789-.") == n;
}

void ec2_describe_tags(struct ec2_req *q)
{
	struct ec2_filters *f = calloc(1, sizeof(*f));
	const char *token = query_get(q->q, "NextToken"), *bad;
	json_t *items = json_array(), **all = NULL, *it;
	char err[256], prefix[32], tok[320], last[320] = "";
	size_t n = 0, shown = 0, i;
	long max = 0;
	struct xml x;
	int rc;

	if (!f || !items) {
		ec2_error(q, 500, "InternalError", "out of memory");
		goto out;
	}
	if (ec2_parse_filters(q->q, f, err, sizeof(err))) {
		ec2_error(q, 400, "InvalidParameterValue", "%s", err);
		goto out;
	}
	/* The items are tags themselves: tag:<k> and tag-key mean nothing. */
	bad = ec2_filters_unknown(f, tag_fields);
	for (i = 0; !bad && i < f->n; i++)
		if (!strncmp(f->f[i].name, "tag:", 4) || !strcmp(f->f[i].name, "tag-key"))
			bad = f->f[i].name;
	if (bad) {
		ec2_error(q, 400, "InvalidParameterValue", "The filter '%.64s' is invalid", bad);
		goto out;
	}
	rc = ec2_parse_int(q->q, "MaxResults", 5, 1000, &max);
	if (rc == -EINVAL) {
		ec2_error(q, 400, "InvalidParameterValue", "Value for parameter MaxResults is "
			  "invalid. Expecting a value between 5 and 1000.");
		goto out;
	}
	if (token && !token_ok(token)) {
		ec2_error(q, 400, "InvalidParameterValue", "Invalid NextToken");
		goto out;
	}
	if (!ec2_allowed(q, (const char *const[]){ "*" }, 1))
		goto out;
	for (i = 0; i < N_KINDS; i++) {
		struct gather g = { items, &kinds[i], 0 };

		snprintf(prefix, sizeof(prefix), "ec2/%s/", kinds[i].store);
		g.skip = strlen(prefix);
		if (store_list(q->t, prefix, gather_cb, &g)) {
			ec2_error(q, 500, "InternalError", "cannot list the tags");
			goto out;
		}
	}
	if (!(all = calloc(json_array_size(items) + 1, sizeof(*all)))) {
		ec2_error(q, 500, "InternalError", "out of memory");
		goto out;
	}
	json_array_foreach(items, i, it)
		all[n++] = it;
	qsort(all, n, sizeof(*all), item_cmp);
	ec2_begin(q, &x);
	xml_open(&x, "tagSet", NULL);
	for (i = 0; i < n; i++) {
		token_of(all[i], tok, sizeof(tok));
		/* Tokens order as items do: resource id, then key (hex keeps
		 * the byte order). */
		if ((token && strcmp(tok, token) <= 0) || !ec2_filters_match(f, tag_fields, all[i]))
			continue;
		if (max && shown == (size_t)max) {
			xml_close(&x);
			xml_text(&x, "nextToken", last);
			goto done;
		}
		xml_open(&x, "item", NULL);
		xml_text(&x, "resourceId", ec2_jstr(all[i], "resource-id"));
		xml_text(&x, "resourceType", ec2_jstr(all[i], "resource-type"));
		xml_text(&x, "key", ec2_jstr(all[i], "key"));
		xml_text(&x, "value", ec2_jstr(all[i], "value"));
		xml_close(&x);
		shown++;
		memcpy(last, tok, sizeof(last));
	}
	xml_close(&x);
done:
	ec2_end(q, &x);
out:
	free(all);
	json_decref(items);
	free(f);
}
