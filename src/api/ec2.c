/* ec2: the EC2 Query protocol's dispatch and what its actions share —
 * EC2's reply and error shapes, authorisation of "ec2:<Action>" on
 * resource ARNs through the shared evaluator with DryRun, store helpers,
 * tags, and one generic Describe (IDs, Filter.N, MaxResults/NextToken). */
#include "ec2.h"
#include "hosts.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "log.h"
#include "seal.h"

void ec2_error(struct ec2_req *q, int status, const char *code, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	q->r->ec2 = true;
	api_error(q->r, status, EC2_NS, code, "%s", msg);
}

void ec2_begin(struct ec2_req *q, struct xml *x)
{
	char tag[96], rid[37];

	xml_init(x);
	snprintf(tag, sizeof(tag), "%sResponse", q->action);
	xml_open(x, tag, EC2_NS);
	api_request_id(rid);
	xml_text(x, "requestId", rid);
}

void ec2_end(struct ec2_req *q, struct xml *x)
{
	xml_close(x);
	api_set_body(q->r, x, 200);
}

void ec2_reply_return(struct ec2_req *q)
{
	struct xml x;

	ec2_begin(q, &x);
	xml_text(&x, "return", "true");
	ec2_end(q, &x);
}

void ec2_arn(struct ec2_req *q, char *out, size_t len, const char *type, const char *id)
{
	snprintf(out, len, "arn:aws:ec2:%s:%s:%s/%s", q->a->region, q->a->account, type, id);
}

/* EC2's UnauthorizedOperation carries the decision's context sealed, so
 * that only the operator (who holds the master key) can read which
 * action and resource were refused; the caller learns nothing more than
 * "no". Sealed with its own purpose key. */
static void unauthorized(struct ec2_req *q, const char *action, const char *arn, bool explicit)
{
	json_t *o = json_pack("{sbsbs{ssssss}}", "allowed", 0, "explicitDeny", explicit,
			      "context", "principal", q->c->arn, "action", action,
			      "resource", arn);
	char *js = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL, *sealed = NULL;

	if (!js || seal_b64(q->a->authz_key, "ec2-authorization-message", js, strlen(js),
			    &sealed)) {
		ec2_error(q, 403, "UnauthorizedOperation",
			  "You are not authorized to perform this operation.");
	} else {
		/* Whole or not at all: a cut message cannot be opened. The
		 * sealed text is bounded (ARN 600, action 80, resource 128). */
		ec2_error(q, 403, "UnauthorizedOperation", "You are not authorized to perform "
			  "this operation. Encoded authorization failure message: %s", sealed);
	}
	free(sealed);
	free(js);
	json_decref(o);
}

bool ec2_allowed(struct ec2_req *q, const char *const *arns, size_t n)
{
	char action[80];
	bool dry;

	if (ec2_parse_bool(q->q, "DryRun", false, &dry)) {
		ec2_error(q, 400, "InvalidParameterValue", "Invalid value for parameter DryRun");
		return false;
	}
	snprintf(action, sizeof(action), "ec2:%s", q->action);
	for (size_t i = 0; i < n; i++) {
		struct api_reply scratch = { 0 };
		int rc = api_authorize(q->a, q->t, q->c, action, arns[i], q->now, EC2_NS, &scratch);

		free(scratch.body);
		if (rc == -EACCES || rc == -EPERM) {
			unauthorized(q, action, arns[i], rc == -EPERM);
			return false;
		}
		if (rc) {
			ec2_error(q, 500, "InternalError", "cannot read the caller's policies");
			return false;
		}
	}
	if (dry) {
		ec2_error(q, 412, "DryRunOperation",
			  "Request would have succeeded, but DryRun flag is set.");
		return false;
	}
	return true;
}

bool ec2_new_id(struct ec2_req *q, const char *prefix, char out[32])
{
	size_t l = strlen(prefix);

	snprintf(out, 32, "%s-", prefix);
	if (seal_random_chars(out + l + 1, 17, "0123456789abcdef")) {
		ec2_error(q, 500, "InternalError", "no randomness");
		return false;
	}
	return true;
}

const char *ec2_required(struct ec2_req *q, const char *name)
{
	const char *v = query_get(q->q, name);

	if (!v)
		ec2_error(q, 400, "MissingParameter", "The request must contain the parameter %s",
			  name);
	return v;
}

const char *ec2_zone(struct ec2_req *q, const char *name, bool required)
{
	const char *z = query_get(q->q, name);
	size_t rl = strlen(q->a->region);

	if (!z && !required)
		return NULL;
	if (!z) {
		ec2_error(q, 400, "MissingParameter", "The request must contain the parameter %s",
			  name);
		return NULL;
	}
	/* Three zones per region, as ward's hosts are labelled. */
	if (strncmp(z, q->a->region, rl) != 0 || strlen(z) != rl + 1 || z[rl] < 'a' ||
	    z[rl] > 'c') {
		ec2_error(q, 400, "InvalidParameterValue", "Invalid availability zone: [%.32s]", z);
		return NULL;
	}
	return z;
}

/* ---- ClientToken ---------------------------------------------------------- */

/* sha256 of the parts, in hex; all zeros if OpenSSL fails (no allocation). */
static void sha_hex(const void *const *parts, const size_t *lens, size_t n, char out[65])
{
	uint8_t md[SHA256_DIGEST_LENGTH];
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	memset(md, 0, sizeof(md));
	if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL)) {
		for (size_t i = 0; i < n; i++)
			EVP_DigestUpdate(c, parts[i], lens[i]);
		EVP_DigestFinal_ex(c, md, NULL);
	}
	EVP_MD_CTX_free(c);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void ec2_token_fingerprint(const struct query *q, char out[65])
{
	const struct query_param *p[QUERY_MAX_PARAMS];
	const void *parts[2 * QUERY_MAX_PARAMS];
	size_t lens[2 * QUERY_MAX_PARAMS], n = 0;

	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->p[i].name, "ClientToken") && strcmp(q->p[i].name, "DryRun") &&
		    strcmp(q->p[i].name, "Version"))
			p[n++] = &q->p[i];
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(p[j - 1]->name, p[j]->name) > 0; j--) {
			const struct query_param *t = p[j];

			p[j] = p[j - 1];
			p[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		parts[2 * i] = p[i]->name;
		lens[2 * i] = strlen(p[i]->name) + 1;
		parts[2 * i + 1] = p[i]->value;
		lens[2 * i + 1] = strlen(p[i]->value) + 1;
	}
	sha_hex(parts, lens, 2 * n, out);
}

void ec2_token_id(const char *action, const char *token, char out[65])
{
	const void *parts[2] = { action, token };
	size_t lens[2] = { strlen(action) + 1, strlen(token) };

	sha_hex(parts, lens, 2, out);
}

/* ---- store --------------------------------------------------------------- */

json_t *ec2_load(struct ec2_req *q, const char *kind, const char *id)
{
	char key[STORE_KEY_MAX], *v;
	json_t *o;

	snprintf(key, sizeof(key), "ec2/%s/%s", kind, id);
	if (store_get(q->t, key, &v))
		return NULL;
	o = json_loads(v, 0, NULL);
	free(v);
	return o;
}

int ec2_save(struct ec2_req *q, bool create, const char *kind, const char *id, json_t *o)
{
	char key[STORE_KEY_MAX], *v = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	int rc;

	if (!v)
		return -ENOMEM;
	snprintf(key, sizeof(key), "ec2/%s/%s", kind, id);
	rc = create ? store_create(q->t, key, v) : store_put(q->t, key, v);
	free(v);
	return rc;
}

int ec2_drop(struct ec2_req *q, const char *kind, const char *id)
{
	char key[STORE_KEY_MAX];

	snprintf(key, sizeof(key), "ec2/%s/%s", kind, id);
	return store_del(q->t, key);
}

int ec2_index_put(struct ec2_req *q, const char *kind, const char *a, const char *b)
{
	char key[STORE_KEY_MAX];

	snprintf(key, sizeof(key), "ec2/%s/%s/%s", kind, a, b);
	return store_put(q->t, key, "{}");
}

int ec2_index_del(struct ec2_req *q, const char *kind, const char *a, const char *b)
{
	char key[STORE_KEY_MAX];

	snprintf(key, sizeof(key), "ec2/%s/%s/%s", kind, a, b);
	return store_del(q->t, key);
}

static int count_cb(const char *k, const char *v, void *arg)
{
	(*(size_t *)arg)++;
	return 0;
}

size_t ec2_index_count(struct ec2_req *q, const char *kind, const char *a)
{
	char prefix[STORE_KEY_MAX];
	size_t n = 0;

	snprintf(prefix, sizeof(prefix), "ec2/%s/%s/", kind, a);
	if (store_list(q->t, prefix, count_cb, &n))
		return (size_t)-1;
	return n;
}

bool ec2_failed(struct ec2_req *q, int rc, const char *what)
{
	if (rc == 0)
		return false;
	ec2_error(q, 500, "InternalError", "cannot store the %s", what);
	return true;
}

const char *ec2_jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

void ec2_tags_set(json_t *o, const struct ec2_tags *tags)
{
	json_t *t = json_object();

	for (size_t i = 0; t && i < tags->n; i++)
		json_object_set_new(t, tags->t[i].key, json_string(tags->t[i].value));
	json_object_set_new(o, "Tags", t);
}

void ec2_write_tags(struct xml *x, const json_t *o)
{
	json_t *tags = json_object_get(o, "Tags"), *v;
	const char *k;

	if (!json_object_size(tags))
		return;
	xml_open(x, "tagSet", NULL);
	json_object_foreach(tags, k, v) {
		xml_open(x, "item", NULL);
		xml_text(x, "key", k);
		xml_text(x, "value", json_string_value(v) ? json_string_value(v) : "");
		xml_close(x);
	}
	xml_close(x);
}

/* ---- filters and Describe --------------------------------------------------- */

static const struct ec2_field *field_of(const struct ec2_field *fields, const char *name)
{
	for (; fields && fields->filter; fields++)
		if (strcmp(fields->filter, name) == 0)
			return fields;
	return NULL;
}

const char *ec2_filters_unknown(const struct ec2_filters *f, const struct ec2_field *fields)
{
	for (size_t i = 0; i < f->n; i++) {
		const char *n = f->f[i].name;

		if (strncmp(n, "tag:", 4) != 0 && strcmp(n, "tag-key") != 0 && !field_of(fields, n))
			return n;
	}
	return NULL;
}

static bool value_matches(const struct ec2_filter *f, const char *s)
{
	for (size_t i = 0; i < f->n; i++)
		if (iampolicy_wildcard(f->values[i], s, false))
			return true;
	return false;
}

/* A document value as filters see it: strings, integers and booleans as
 * their text; arrays match when any element does. */
static bool json_matches(const struct ec2_filter *f, const json_t *v)
{
	char num[32];
	size_t i;
	json_t *e;

	if (json_is_string(v))
		return value_matches(f, json_string_value(v));
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		return value_matches(f, num);
	}
	if (json_is_boolean(v))
		return value_matches(f, json_is_true(v) ? "true" : "false");
	if (json_is_array(v))
		json_array_foreach(v, i, e)
			if (json_matches(f, e))
				return true;
	return false;
}

bool ec2_filters_match(const struct ec2_filters *f, const struct ec2_field *fields,
		       const json_t *o)
{
	json_t *tags = json_object_get(o, "Tags");

	for (size_t i = 0; i < f->n; i++) {
		const struct ec2_filter *fl = &f->f[i];
		bool ok = false;

		if (strncmp(fl->name, "tag:", 4) == 0) {
			json_t *v = json_object_get(tags, fl->name + 4);

			ok = v && json_matches(fl, v);
		} else if (strcmp(fl->name, "tag-key") == 0) {
			const char *k;
			json_t *v;

			json_object_foreach(tags, k, v)
				if (value_matches(fl, k))
					ok = true;
		} else {
			const struct ec2_field *fd = field_of(fields, fl->name);

			ok = fd && json_matches(fl, json_object_get(o, fd->key));
		}
		if (!ok)
			return false;
	}
	return true;
}

struct collect {
	json_t *all;
	size_t skip;	/* prefix length of the kind's keys */
};

static int collect_cb(const char *key, const char *value, void *arg)
{
	struct collect *c = arg;
	json_t *o;

	/* Only documents ("ec2/vpc/<id>"), not deeper index keys. */
	if (strchr(key + c->skip, '/'))
		return 0;
	if (!(o = json_loads(value, 0, NULL)))
		return -EIO;
	return json_array_append_new(c->all, o) ? -ENOMEM : 0;
}

static bool listed(const char *const *ids, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return true;
	return false;
}

void ec2_describe(struct ec2_req *q, const struct ec2_describe *d)
{
	const char *ids[EC2_MAX_IDS], *token = query_get(q->q, "NextToken"), *bad;
	struct ec2_filters *f = calloc(1, sizeof(*f));
	struct collect c = { json_array(), 0 };
	char err[256], prefix[64];
	size_t n_ids = 0, shown = 0, i;
	long max = 0;
	json_t *o;
	struct xml x;
	int rc;

	if (!f || !c.all) {
		ec2_error(q, 500, "InternalError", "out of memory");
		goto out;
	}
	if (ec2_parse_ids(q->q, d->id_param, ids, &n_ids, err, sizeof(err)) ||
	    ec2_parse_filters(q->q, f, err, sizeof(err))) {
		ec2_error(q, 400, "InvalidParameterValue", "%s", err);
		goto out;
	}
	if ((bad = ec2_filters_unknown(f, d->fields))) {
		ec2_error(q, 400, "InvalidParameterValue", "The filter '%.64s' is invalid", bad);
		goto out;
	}
	/* Above the kind's page limit is that limit, as in AWS (the CLI asks
	 * for 1000 volumes a page). */
	rc = ec2_parse_int(q->q, "MaxResults", d->max_min, 1L << 31, &max);
	if (max > d->max_max)
		max = d->max_max;
	if (rc == -EINVAL) {
		ec2_error(q, 400, "InvalidParameterValue", "Value for parameter MaxResults is "
			  "invalid. Expecting a value between %ld and %ld.", d->max_min, d->max_max);
		goto out;
	}
	if (max && n_ids) {
		ec2_error(q, 400, "InvalidParameterCombination", "The parameter %ss cannot be "
			  "used with the parameter maxResults", d->id_param);
		goto out;
	}
	/* NextToken: the id of the last item of the previous page; ids are
	 * unique and listed in key order, so each item is returned once even
	 * when items are added or removed between pages. */
	if (token && (!token[0] || strlen(token) > 31 ||
		      strspn(token, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(token))) {
		ec2_error(q, 400, "InvalidParameterValue", "Invalid NextToken");
		goto out;
	}
	if (!ec2_allowed(q, (const char *const[]){ "*" }, 1))
		goto out;
	snprintf(prefix, sizeof(prefix), "ec2/%s/", d->kind);
	c.skip = strlen(prefix);
	if (store_list(q->t, prefix, collect_cb, &c)) {
		ec2_error(q, 500, "InternalError", "cannot list the %ss", d->kind);
		goto out;
	}
	/* Every id asked for must exist (AWS names the first missing one). */
	for (size_t k = 0; k < n_ids; k++) {
		bool found = false;

		json_array_foreach(c.all, i, o)
			if (strcmp(ec2_jstr(o, d->id_key), ids[k]) == 0)
				found = true;
		if (!found) {
			ec2_error(q, 400, d->not_found, "The %s '%.32s' does not exist", d->noun,
				  ids[k]);
			goto out;
		}
	}
	ec2_begin(q, &x);
	xml_open(&x, d->set, NULL);
	token = token ? token : "";
	json_array_foreach(c.all, i, o) {
		const char *id = ec2_jstr(o, d->id_key);

		if (strcmp(id, token) <= 0 || (n_ids && !listed(ids, n_ids, id)) ||
		    !ec2_filters_match(f, d->fields, o))
			continue;
		if (max && shown == (size_t)max) {
			/* A page is full and more match: hand the token out. */
			xml_close(&x);
			xml_text(&x, "nextToken", ec2_jstr(json_array_get(c.all, i - 1), d->id_key));
			goto done;
		}
		xml_open(&x, "item", NULL);
		d->write(&x, o);
		xml_close(&x);
		shown++;
		token = "";
	}
	xml_close(&x);
done:
	ec2_end(q, &x);
out:
	json_decref(c.all);
	free(f);
}

/* ---- dispatch ----------------------------------------------------------------- */

static const struct {
	const char *action;
	void (*fn)(struct ec2_req *q);
} actions[] = {
	{ "CreateVpc", ec2_create_vpc },
	{ "DeleteVpc", ec2_delete_vpc },
	{ "DescribeVpcs", ec2_describe_vpcs },
	{ "CreateSubnet", ec2_create_subnet },
	{ "DeleteSubnet", ec2_delete_subnet },
	{ "DescribeSubnets", ec2_describe_subnets },
	{ "CreateSecurityGroup", ec2_create_security_group },
	{ "DeleteSecurityGroup", ec2_delete_security_group },
	{ "DescribeSecurityGroups", ec2_describe_security_groups },
	{ "AuthorizeSecurityGroupIngress", ec2_authorize_ingress },
	{ "AuthorizeSecurityGroupEgress", ec2_authorize_egress },
	{ "RevokeSecurityGroupIngress", ec2_revoke_ingress },
	{ "RevokeSecurityGroupEgress", ec2_revoke_egress },
	{ "CreateVolume", ec2_create_volume },
	{ "DeleteVolume", ec2_delete_volume },
	{ "DescribeVolumes", ec2_describe_volumes },
	{ "AttachVolume", ec2_attach_volume },
	{ "DetachVolume", ec2_detach_volume },
	{ "DescribeImages", ec2_describe_images },
	{ "CreateTags", ec2_create_tags },
	{ "DeleteTags", ec2_delete_tags },
	{ "DescribeTags", ec2_describe_tags },
	{ "RunInstances", ec2_run_instances },
	{ "DescribeInstances", ec2_describe_instances },
	{ "StopInstances", ec2_stop_instances },
	{ "StartInstances", ec2_start_instances },
	{ "TerminateInstances", ec2_terminate_instances },
	/* Host registry and attestation state (hosts.c, docs/attestation.md). */
	{ "DescribeHosts", ec2_describe_hosts },
};

bool ec2_handle(struct api *a, struct store_txn *t, const struct api_caller *c,
		const struct query *q, double now, struct api_reply *r)
{
	const char *action = query_get(q, "Action"), *version = query_get(q, "Version");
	struct ec2_req req = { a, t, c, q, now, r, action };

	r->ec2 = true;
	if (!version || strcmp(version, EC2_VERSION) != 0) {
		ec2_error(&req, 400, "InvalidParameterValue", "ward-api speaks EC2 API version "
			  EC2_VERSION " only");
		return true;
	}
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (strcmp(actions[i].action, action) == 0) {
			actions[i].fn(&req);
			return true;
		}
	}
	return false;
}
