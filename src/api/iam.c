/* iam: the IAM API subset the `aws iam` CLI needs (docs/iam.md) — users,
 * access keys, groups, roles and their inline policies — as documents in
 * the store (store.h) under iam/<kind>/<name>. Every handler authorises
 * the caller for its action on the entity's ARN before touching anything. */
#include "api.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "log.h"
#include "seal.h"

#define UPPER_ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
#define SECRET_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

struct req {
	struct api *a;
	struct store_txn *t;
	const struct api_caller *c;
	const struct query *q;
	double now;
	struct api_reply *r;
};

/* ---- validation (the IAM API reference's patterns) ------------------------ */

/* [\w+=,.@-]{1,max} */
static bool name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_+=,.@-", *s))
			return false;
	return true;
}

/* "/" or /(\x21-\x7e)+/ up to 512 */
static bool path_ok(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n > 512 || p[0] != '/' || p[n - 1] != '/')
		return false;
	for (; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			return false;
	return true;
}

static const char *param(struct req *q, const char *name, size_t max, bool required)
{
	const char *v = query_get(q->q, name);

	if (!v && !required)
		return NULL;
	if (!v) {
		api_error(q->r, 400, IAM_NS, "ValidationError",
			  "1 validation error detected: Value null at '%s' failed to satisfy "
			  "constraint: Member must not be null", name);
		return NULL;
	}
	if (max && !name_ok(v, max)) {
		api_error(q->r, 400, IAM_NS, "ValidationError",
			  "The specified value for '%s' is invalid: it must be 1-%zu characters "
			  "of letters, digits and _+=,.@-", name, max);
		return NULL;
	}
	return v;
}

static const char *path_param(struct req *q)
{
	const char *p = query_get(q->q, "Path");

	if (!p)
		return "/";
	if (!path_ok(p)) {
		api_error(q->r, 400, IAM_NS, "ValidationError", "The specified value for path is "
			  "invalid. It must begin and end with / and contain only printable ASCII");
		return NULL;
	}
	return p;
}

/* ---- store helpers ---------------------------------------------------------- */

/* Keys: prefix + a, then "/" + b when b is given ("iam/userpolicy/" alice
 * "admin" -> "iam/userpolicy/alice/admin"; b "" makes a listing prefix).
 * Names are validated ([\w+=,.@-]), so '/' never comes from input. */
static void keyf(char *out, size_t len, const char *prefix, const char *a, const char *b)
{
	snprintf(out, len, "%s%s%s%s", prefix, a, b ? "/" : "", b ? b : "");
}

static json_t *load(struct req *q, const char *fmt, const char *a, const char *b)
{
	char key[STORE_KEY_MAX + 1], *v;
	json_t *o;

	keyf(key, sizeof(key), fmt, a, b);
	if (store_get(q->t, key, &v))
		return NULL;
	o = json_loads(v, 0, NULL);
	free(v);
	return o;
}

static int save(struct req *q, bool create, json_t *o, const char *fmt, const char *a,
		const char *b)
{
	char key[STORE_KEY_MAX + 1], *v = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	int rc;

	if (!v)
		return -ENOMEM;
	keyf(key, sizeof(key), fmt, a, b);
	rc = create ? store_create(q->t, key, v) : store_put(q->t, key, v);
	free(v);
	return rc;
}

/* An index entry ("iam/userkey/alice/AKIA..."): its key is its content. */
static int save_marker(struct req *q, const char *fmt, const char *a, const char *b)
{
	char key[STORE_KEY_MAX + 1];

	keyf(key, sizeof(key), fmt, a, b);
	return store_put(q->t, key, "{}");
}

static int drop(struct req *q, const char *fmt, const char *a, const char *b)
{
	char key[STORE_KEY_MAX + 1];

	keyf(key, sizeof(key), fmt, a, b);
	return store_del(q->t, key);
}

static int count_cb(const char *k, const char *v, void *arg)
{
	(*(size_t *)arg)++;
	return 0;
}

static size_t count(struct req *q, const char *fmt, const char *a)
{
	char prefix[STORE_KEY_MAX + 1];
	size_t n = 0;

	keyf(prefix, sizeof(prefix), fmt, a, "");
	if (store_list(q->t, prefix, count_cb, &n))
		return (size_t)-1;
	return n;
}

static bool failed_store(struct req *q, int rc, const char *what)
{
	if (rc == 0)
		return false;
	api_error(q->r, 500, IAM_NS, "ServiceFailure", "cannot store the %s", what);
	return true;
}

static void arn_of(struct req *q, char *out, size_t len, const char *kind, const char *path,
		   const char *name)
{
	snprintf(out, len, "arn:aws:iam::%s:%s%s%s", q->a->account, kind, path, name);
}

static bool authorized(struct req *q, const char *action, const char *resource)
{
	return api_authorize(q->a, q->t, q->c, action, resource, q->now, IAM_NS, q->r) == 0;
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static bool new_id(struct req *q, const char *prefix, char *out, size_t n)
{
	strcpy(out, prefix);
	if (seal_random_chars(out + strlen(prefix), n, UPPER_ALNUM)) {
		api_error(q->r, 500, IAM_NS, "ServiceFailure", "no randomness");
		return false;
	}
	return true;
}

/* ---- entities and replies -------------------------------------------------- */

/* What each kind of entity is called in keys, ARNs, actions and errors. */
struct entity {
	const char *param, *kind, *title, *store_fmt, *policy_fmt, *put, *get, *del;
	size_t max;
};

static const struct entity E_USER = { "UserName", "user", "User", "iam/user/",
	"iam/userpolicy/", "PutUserPolicy", "GetUserPolicy", "DeleteUserPolicy", 64 };
static const struct entity E_GROUP = { "GroupName", "group", "Group", "iam/group/",
	"iam/grouppolicy/", "PutGroupPolicy", "GetGroupPolicy", "DeleteGroupPolicy", 128 };
static const struct entity E_ROLE = { "RoleName", "role", "Role", "iam/role/",
	"iam/rolepolicy/", "PutRolePolicy", "GetRolePolicy", "DeleteRolePolicy", 64 };

/* The entity's ARN for authorisation: the stored one, or the one it would
 * have, so that a missing entity yields AccessDenied/NoSuchEntity as in AWS. */
static json_t *entity_for(struct req *q, const struct entity *e, const char *name, char *arn,
			  size_t len)
{
	json_t *o = load(q, e->store_fmt, name, NULL);

	if (o)
		snprintf(arn, len, "%s", jstr(o, "Arn"));
	else
		arn_of(q, arn, len, e->kind, "/", name);
	return o;
}

static void no_such(struct req *q, const char *kind, const char *name)
{
	api_error(q->r, 404, IAM_NS, "NoSuchEntity", "The %s with name %s cannot be found.",
		  kind, name);
}

/* The stored entity name of kind e, when the caller may do action ("GetUser")
 * on it; otherwise NULL with the error reply made. arn gets its ARN. */
static json_t *entity_authorized(struct req *q, const struct entity *e, const char *name,
				 const char *action, char *arn, size_t len)
{
	json_t *o = entity_for(q, e, name, arn, len);
	char act[64];

	snprintf(act, sizeof(act), "iam:%s", action);
	if (!authorized(q, act, arn)) {
		json_decref(o);
		return NULL;
	}
	if (!o)
		no_such(q, e->kind, name);
	return o;
}

/* The reply of an action that returns nothing but success. */
static void reply_empty(struct req *q, const char *action)
{
	struct xml x;

	api_begin(&x, action, IAM_NS, false);
	api_end(&x, q->r, false);
}

/* The reply of an action that returns one entity, as element e->title. */
static void reply_entity(struct req *q, const struct entity *e, const char *action,
			 void (*write)(struct xml *, const json_t *), const json_t *o)
{
	struct xml x;

	api_begin(&x, action, IAM_NS, true);
	xml_open(&x, e->title, NULL);
	write(&x, o);
	xml_close(&x);
	api_end(&x, q->r, true);
}

/* Stores a new entity o (NULL: out of memory) under name and answers
 * "Create<Title>" with it, or EntityAlreadyExists. */
static void create_entity(struct req *q, const struct entity *e, const char *name, json_t *o,
			  void (*write)(struct xml *, const json_t *))
{
	char action[32];
	int rc = o ? save(q, true, o, e->store_fmt, name, NULL) : -ENOMEM;

	if (rc == -EEXIST) {
		api_error(q->r, 409, IAM_NS, "EntityAlreadyExists", "%s with name %s already "
			  "exists.", e->title, name);
	} else if (!failed_store(q, rc, e->kind)) {
		snprintf(action, sizeof(action), "Create%s", e->title);
		reply_entity(q, e, action, write, o);
	}
}

/* The entity name of kind e for "Get<Title>". */
static void get_entity(struct req *q, const struct entity *e, const char *name,
		       void (*write)(struct xml *, const json_t *))
{
	char arn[600], action[32];
	json_t *o;

	snprintf(action, sizeof(action), "Get%s", e->title);
	if ((o = entity_authorized(q, e, name, action, arn, sizeof(arn))))
		reply_entity(q, e, action, write, o);
	json_decref(o);
}

/* ---- users -------------------------------------------------------------------- */

static void write_user(struct xml *x, const json_t *u)
{
	xml_text(x, "Path", jstr(u, "Path"));
	xml_text(x, "UserName", jstr(u, "UserName"));
	xml_text(x, "UserId", jstr(u, "UserId"));
	xml_text(x, "Arn", jstr(u, "Arn"));
	xml_text(x, "CreateDate", jstr(u, "CreateDate"));
}

static void create_user(struct req *q)
{
	const char *name = param(q, "UserName", 64, true), *path = name ? path_param(q) : NULL;
	char arn[600], id[32], date[32];
	json_t *u;

	if (!name || !path)
		return;
	arn_of(q, arn, sizeof(arn), "user", path, name);
	if (!authorized(q, "iam:CreateUser", arn) || !new_id(q, "AIDA", id, 17))
		return;
	api_iso8601(q->now, date);
	u = json_pack("{ssssssssss}", "UserName", name, "UserId", id, "Arn", arn, "Path", path,
		      "CreateDate", date);
	create_entity(q, &E_USER, name, u, write_user);
	json_decref(u);
}

/* UserName, or the calling user when omitted (GetUser, access keys). */
static const char *user_param(struct req *q)
{
	if (query_get(q->q, "UserName"))
		return param(q, "UserName", 64, true);
	if (q->c->kind != CALLER_USER) {
		api_error(q->r, 400, IAM_NS, "ValidationError", "Must specify userName when "
			  "calling with non-User credentials");
		return NULL;
	}
	return q->c->name;
}

static void get_user(struct req *q)
{
	const char *name = user_param(q);

	if (name)
		get_entity(q, &E_USER, name, write_user);
}

static void delete_user(struct req *q)
{
	const char *name = param(q, "UserName", 64, true);
	char arn[600];
	json_t *u;

	if (!name || !(u = entity_authorized(q, &E_USER, name, "DeleteUser", arn, sizeof(arn))))
		return;
	/* As in AWS: a user with keys, policies or groups is not deleted
	 * from under them; the caller removes those first. */
	if (count(q, "iam/userkey/", name) || count(q, "iam/userpolicy/", name) ||
	    count(q, "iam/usergroup/", name)) {
		api_error(q->r, 409, IAM_NS, "DeleteConflict", "Cannot delete entity, must "
			  "delete access keys, policies and group memberships first.");
	} else if (!failed_store(q, drop(q, "iam/user/", name, NULL), "deletion")) {
		reply_empty(q, "DeleteUser");
	}
	json_decref(u);
}

static int list_user_cb(const char *k, const char *v, void *arg)
{
	struct xml *x = arg;
	json_t *u = json_loads(v, 0, NULL);

	if (!u)
		return -EIO;
	xml_open(x, "member", NULL);
	write_user(x, u);
	xml_close(x);
	json_decref(u);
	return 0;
}

static void list_users(struct req *q)
{
	char arn[600];
	struct xml x;

	arn_of(q, arn, sizeof(arn), "user", "/", "");
	if (!authorized(q, "iam:ListUsers", arn))
		return;
	api_begin(&x, "ListUsers", IAM_NS, true);
	xml_text(&x, "IsTruncated", "false");
	xml_open(&x, "Users", NULL);
	if (store_list(q->t, "iam/user/", list_user_cb, &x)) {
		xml_free(&x);
		api_error(q->r, 500, IAM_NS, "ServiceFailure", "cannot list users");
		return;
	}
	xml_close(&x);
	api_end(&x, q->r, true);
}

/* ---- access keys ------------------------------------------------------------------ */

static void create_access_key(struct req *q)
{
	const char *name = user_param(q);
	char arn[600], akid[32], secret[41], date[32], *sealed = NULL;
	struct xml x;
	json_t *u, *k = NULL;
	int rc;

	if (!name)
		return;
	u = entity_authorized(q, &E_USER, name, "CreateAccessKey", arn, sizeof(arn));
	if (!u)
		goto out;
	/* AWS allows two keys per user, so one can rotate. */
	if (count(q, "iam/userkey/", name) >= 2) {
		api_error(q->r, 409, IAM_NS, "LimitExceeded", "Cannot exceed quota for "
			  "AccessKeysPerUser: 2");
		goto out;
	}
	if (!new_id(q, "AKIA", akid, 16) || seal_random_chars(secret, 40, SECRET_CHARS) ||
	    seal_b64(q->a->secret_key, akid, secret, 40, &sealed)) {
		api_error(q->r, 500, IAM_NS, "ServiceFailure", "cannot make a key");
		goto out;
	}
	api_iso8601(q->now, date);
	k = json_pack("{ssssssssss}", "UserName", name, "AccessKeyId", akid, "Status", "Active",
		      "CreateDate", date, "SealedSecret", sealed);
	rc = k ? save(q, true, k, "iam/accesskey/", akid, NULL) : -ENOMEM;
	if (!rc)
		rc = save_marker(q, "iam/userkey/", name, akid);
	if (failed_store(q, rc, "access key"))
		goto out;
	api_begin(&x, "CreateAccessKey", IAM_NS, true);
	xml_open(&x, "AccessKey", NULL);
	xml_text(&x, "UserName", name);
	xml_text(&x, "AccessKeyId", akid);
	xml_text(&x, "Status", "Active");
	xml_text(&x, "SecretAccessKey", secret);
	xml_text(&x, "CreateDate", date);
	xml_close(&x);
	api_end(&x, q->r, true);
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	free(sealed);
	json_decref(k);
	json_decref(u);
}

static void delete_access_key(struct req *q)
{
	const char *name = user_param(q), *akid = name ? param(q, "AccessKeyId", 128, true) : NULL;
	char arn[600];
	json_t *u, *k = NULL;

	if (!akid)
		return;
	u = entity_for(q, &E_USER, name, arn, sizeof(arn));
	if (!authorized(q, "iam:DeleteAccessKey", arn))
		goto out;
	k = load(q, "iam/accesskey/", akid, NULL);
	if (!u || !k || strcmp(jstr(k, "UserName"), name) != 0) {
		api_error(q->r, 404, IAM_NS, "NoSuchEntity", "The Access Key with id %s cannot "
			  "be found.", akid);
		goto out;
	}
	if (!failed_store(q, drop(q, "iam/accesskey/", akid, NULL) ||
			     drop(q, "iam/userkey/", name, akid), "deletion"))
		reply_empty(q, "DeleteAccessKey");
out:
	json_decref(k);
	json_decref(u);
}

struct keylist {
	struct req *q;
	struct xml *x;
};

static int list_key_cb(const char *key, const char *v, void *arg)
{
	struct keylist *l = arg;
	json_t *k = load(l->q, "iam/accesskey/", strrchr(key, '/') + 1, NULL);

	if (!k)
		return -EIO;
	xml_open(l->x, "member", NULL);
	xml_text(l->x, "UserName", jstr(k, "UserName"));
	xml_text(l->x, "AccessKeyId", jstr(k, "AccessKeyId"));
	xml_text(l->x, "Status", jstr(k, "Status"));
	xml_text(l->x, "CreateDate", jstr(k, "CreateDate"));
	xml_close(l->x);
	json_decref(k);
	return 0;
}

static void list_access_keys(struct req *q)
{
	const char *name = user_param(q);
	char arn[600], prefix[STORE_KEY_MAX];
	struct keylist l = { q, NULL };
	struct xml x;
	json_t *u;

	if (!name)
		return;
	u = entity_authorized(q, &E_USER, name, "ListAccessKeys", arn, sizeof(arn));
	if (!u)
		return;
	api_begin(&x, "ListAccessKeys", IAM_NS, true);
	xml_text(&x, "UserName", name);
	xml_open(&x, "AccessKeyMetadata", NULL);
	l.x = &x;
	keyf(prefix, sizeof(prefix), "iam/userkey/", name, "");
	if (store_list(q->t, prefix, list_key_cb, &l)) {
		xml_free(&x);
		api_error(q->r, 500, IAM_NS, "ServiceFailure", "cannot list keys");
		goto out;
	}
	xml_close(&x);
	xml_text(&x, "IsTruncated", "false");
	api_end(&x, q->r, true);
out:
	json_decref(u);
}

int iam_access_key_secret(struct api *a, struct store_txn *t, const char *akid, char *user,
			  size_t ulen, char *userid, size_t idlen, char *arn, size_t arnlen,
			  char secret[41])
{
	char key[STORE_KEY_MAX], *v;
	json_t *k = NULL, *u = NULL;
	uint8_t *pt = NULL;
	size_t len;
	int rc = -ENOENT;

	snprintf(key, sizeof(key), "iam/accesskey/%s", akid);
	if (strlen(akid) > 128 || store_get(t, key, &v))
		return -ENOENT;
	k = json_loads(v, 0, NULL);
	free(v);
	if (!k || strcmp(jstr(k, "Status"), "Active") != 0)
		goto out;
	snprintf(key, sizeof(key), "iam/user/%s", jstr(k, "UserName"));
	if (store_get(t, key, &v))
		goto out;
	u = json_loads(v, 0, NULL);
	free(v);
	if (!u)
		goto out;
	/* The AAD is the key id: a sealed secret copied to another key's
	 * record does not open. */
	rc = seal_open_b64(a->secret_key, akid, jstr(k, "SealedSecret"), &pt, &len);
	if (rc || len != 40) {
		log_error("an access key's secret does not open", "akid=%s", akid);
		rc = -EIO;
		goto out;
	}
	memcpy(secret, pt, 41);
	snprintf(user, ulen, "%s", jstr(u, "UserName"));
	snprintf(userid, idlen, "%s", jstr(u, "UserId"));
	snprintf(arn, arnlen, "%s", jstr(u, "Arn"));
	rc = 0;
out:
	if (pt) {
		OPENSSL_cleanse(pt, len);
		free(pt);
	}
	json_decref(k);
	json_decref(u);
	return rc;
}

/* ---- groups ----------------------------------------------------------------------- */

static void write_group(struct xml *x, const json_t *g)
{
	xml_text(x, "Path", jstr(g, "Path"));
	xml_text(x, "GroupName", jstr(g, "GroupName"));
	xml_text(x, "GroupId", jstr(g, "GroupId"));
	xml_text(x, "Arn", jstr(g, "Arn"));
	xml_text(x, "CreateDate", jstr(g, "CreateDate"));
}

static void create_group(struct req *q)
{
	const char *name = param(q, "GroupName", 128, true), *path = name ? path_param(q) : NULL;
	char arn[600], id[32], date[32];
	json_t *g;

	if (!name || !path)
		return;
	arn_of(q, arn, sizeof(arn), "group", path, name);
	if (!authorized(q, "iam:CreateGroup", arn) || !new_id(q, "AGPA", id, 17))
		return;
	api_iso8601(q->now, date);
	g = json_pack("{ssssssssss}", "GroupName", name, "GroupId", id, "Arn", arn, "Path", path,
		      "CreateDate", date);
	create_entity(q, &E_GROUP, name, g, write_group);
	json_decref(g);
}

static void add_user_to_group(struct req *q)
{
	const char *group = param(q, "GroupName", 128, true);
	const char *user = group ? param(q, "UserName", 64, true) : NULL;
	char arn[600];
	json_t *g, *u = NULL;
	int rc;

	if (!user)
		return;
	g = entity_authorized(q, &E_GROUP, group, "AddUserToGroup", arn, sizeof(arn));
	if (!g)
		return;
	u = load(q, "iam/user/", user, NULL);
	if (!u) {
		no_such(q, "user", user);
		goto out;
	}
	rc = save_marker(q, "iam/usergroup/", user, group);
	if (!rc)
		rc = save_marker(q, "iam/groupmember/", group, user);
	if (!failed_store(q, rc, "membership"))
		reply_empty(q, "AddUserToGroup");
out:
	json_decref(u);
	json_decref(g);
}

static void remove_user_from_group(struct req *q)
{
	const char *group = param(q, "GroupName", 128, true);
	const char *user = group ? param(q, "UserName", 64, true) : NULL;
	char arn[600];
	json_t *g;

	if (!user)
		return;
	g = entity_authorized(q, &E_GROUP, group, "RemoveUserFromGroup", arn, sizeof(arn));
	if (!g)
		return;
	if (drop(q, "iam/usergroup/", user, group) == -ENOENT)
		api_error(q->r, 404, IAM_NS, "NoSuchEntity", "The user with name %s is not in "
			  "group %s.", user, group);
	else if (!failed_store(q, drop(q, "iam/groupmember/", group, user), "membership"))
		reply_empty(q, "RemoveUserFromGroup");
	json_decref(g);
}

/* ---- inline policies ------------------------------------------------------------------ */

static bool policy_ok(struct req *q, const char *doc, enum iampolicy_kind kind)
{
	struct iampolicy *p;
	char err[256];

	if (iampolicy_parse(doc, strlen(doc), kind, &p, err, sizeof(err))) {
		api_error(q->r, 400, IAM_NS, "MalformedPolicyDocument", "%s", err);
		return false;
	}
	iampolicy_free(p);
	return true;
}

enum pol_op { POL_PUT, POL_GET, POL_DEL };

static void inline_policy(struct req *q, const struct entity *e, enum pol_op op)
{
	const char *name = param(q, e->param, e->max, true);
	const char *pname = name ? param(q, "PolicyName", 128, true) : NULL;
	const char *doc = NULL, *action = op == POL_PUT ? e->put : op == POL_GET ? e->get : e->del;
	char arn[600];
	struct xml x;
	json_t *o, *p = NULL;
	int rc;

	if (!pname)
		return;
	if (op == POL_PUT && !(doc = param(q, "PolicyDocument", 0, true)))
		return;
	o = entity_authorized(q, e, name, action, arn, sizeof(arn));
	if (!o)
		return;
	if (op == POL_PUT) {
		if (!policy_ok(q, doc, IAMPOLICY_IDENTITY))
			goto out;
		p = json_pack("{ss}", "PolicyDocument", doc);
		rc = p ? save(q, false, p, e->policy_fmt, name, pname) : -ENOMEM;
		if (failed_store(q, rc, "policy"))
			goto out;
	} else {
		p = load(q, e->policy_fmt, name, pname);
		if (!p) {
			api_error(q->r, 404, IAM_NS, "NoSuchEntity", "The %s policy with name %s "
				  "cannot be found.", e->kind, pname);
			goto out;
		}
		if (op == POL_DEL && failed_store(q, drop(q, e->policy_fmt, name, pname), "deletion"))
			goto out;
	}
	api_begin(&x, action, IAM_NS, op == POL_GET);
	if (op == POL_GET) {
		char *enc = NULL;

		/* IAM returns documents URL-encoded; botocore decodes them. */
		xml_text(&x, e->param, name);
		xml_text(&x, "PolicyName", pname);
		enc = query_escape(jstr(p, "PolicyDocument"));
		xml_text(&x, "PolicyDocument", enc ? enc : "");
		free(enc);
	}
	api_end(&x, q->r, op == POL_GET);
out:
	json_decref(p);
	json_decref(o);
}

/* ---- roles ------------------------------------------------------------------------------ */

static void write_role(struct xml *x, const json_t *ro)
{
	char *enc = query_escape(jstr(ro, "AssumeRolePolicyDocument"));

	xml_text(x, "Path", jstr(ro, "Path"));
	xml_text(x, "RoleName", jstr(ro, "RoleName"));
	xml_text(x, "RoleId", jstr(ro, "RoleId"));
	xml_text(x, "Arn", jstr(ro, "Arn"));
	xml_text(x, "CreateDate", jstr(ro, "CreateDate"));
	xml_text(x, "AssumeRolePolicyDocument", enc ? enc : "");
	if (json_object_get(ro, "Description"))
		xml_text(x, "Description", jstr(ro, "Description"));
	xml_textf(x, "MaxSessionDuration", "%lld",
		  (long long)json_integer_value(json_object_get(ro, "MaxSessionDuration")));
	free(enc);
}

static void create_role(struct req *q)
{
	const char *name = param(q, "RoleName", 64, true), *path = name ? path_param(q) : NULL;
	const char *trust = path ? param(q, "AssumeRolePolicyDocument", 0, true) : NULL;
	const char *desc = query_get(q->q, "Description"), *max = query_get(q->q, "MaxSessionDuration");
	char arn[600], id[32], date[32], *end;
	long long maxs = 3600;
	json_t *ro;

	if (!trust)
		return;
	if (max) {
		maxs = strtoll(max, &end, 10);
		if (*end || !*max || maxs < 3600 || maxs > 43200) {
			api_error(q->r, 400, IAM_NS, "ValidationError", "MaxSessionDuration must be "
				  "3600 to 43200 seconds");
			return;
		}
	}
	if (desc && strlen(desc) > 1000) {
		api_error(q->r, 400, IAM_NS, "ValidationError", "Description is over 1000 characters");
		return;
	}
	arn_of(q, arn, sizeof(arn), "role", path, name);
	if (!authorized(q, "iam:CreateRole", arn) || !policy_ok(q, trust, IAMPOLICY_TRUST) ||
	    !new_id(q, "AROA", id, 17))
		return;
	api_iso8601(q->now, date);
	ro = json_pack("{sssssssssssssI}", "RoleName", name, "RoleId", id, "Arn", arn, "Path", path,
		       "CreateDate", date, "AssumeRolePolicyDocument", trust,
		       "MaxSessionDuration", (json_int_t)maxs);
	if (ro && desc)
		json_object_set_new(ro, "Description", json_string(desc));
	create_entity(q, &E_ROLE, name, ro, write_role);
	json_decref(ro);
}

static void get_role(struct req *q)
{
	const char *name = param(q, "RoleName", 64, true);

	if (name)
		get_entity(q, &E_ROLE, name, write_role);
}

static void delete_role(struct req *q)
{
	const char *name = param(q, "RoleName", 64, true);
	char arn[600];
	json_t *ro;

	if (!name || !(ro = entity_authorized(q, &E_ROLE, name, "DeleteRole", arn, sizeof(arn))))
		return;
	if (count(q, "iam/rolepolicy/", name))
		api_error(q->r, 409, IAM_NS, "DeleteConflict", "Cannot delete entity, must delete "
			  "policies first.");
	else if (!failed_store(q, drop(q, "iam/role/", name, NULL), "deletion"))
		reply_empty(q, "DeleteRole");
	json_decref(ro);
}

int iam_role_lookup(struct store_txn *t, const char *role, char **json)
{
	char key[STORE_KEY_MAX];

	if (!name_ok(role, 64))
		return -ENOENT;
	snprintf(key, sizeof(key), "iam/role/%s", role);
	return store_get(t, key, json);
}

/* ---- dispatch and bootstrap ----------------------------------------------------------------- */

static void put_user_policy(struct req *q) { inline_policy(q, &E_USER, POL_PUT); }
static void get_user_policy(struct req *q) { inline_policy(q, &E_USER, POL_GET); }
static void delete_user_policy(struct req *q) { inline_policy(q, &E_USER, POL_DEL); }
static void put_group_policy(struct req *q) { inline_policy(q, &E_GROUP, POL_PUT); }
static void put_role_policy(struct req *q) { inline_policy(q, &E_ROLE, POL_PUT); }
static void get_role_policy(struct req *q) { inline_policy(q, &E_ROLE, POL_GET); }
static void delete_role_policy(struct req *q) { inline_policy(q, &E_ROLE, POL_DEL); }

static const struct {
	const char *action;
	void (*fn)(struct req *q);
} handlers[] = {
	{ "CreateUser", create_user },
	{ "GetUser", get_user },
	{ "DeleteUser", delete_user },
	{ "ListUsers", list_users },
	{ "CreateAccessKey", create_access_key },
	{ "DeleteAccessKey", delete_access_key },
	{ "ListAccessKeys", list_access_keys },
	{ "CreateGroup", create_group },
	{ "AddUserToGroup", add_user_to_group },
	{ "RemoveUserFromGroup", remove_user_from_group },
	{ "PutUserPolicy", put_user_policy },
	{ "GetUserPolicy", get_user_policy },
	{ "DeleteUserPolicy", delete_user_policy },
	{ "PutGroupPolicy", put_group_policy },
	{ "CreateRole", create_role },
	{ "GetRole", get_role },
	{ "DeleteRole", delete_role },
	{ "PutRolePolicy", put_role_policy },
	{ "GetRolePolicy", get_role_policy },
	{ "DeleteRolePolicy", delete_role_policy },
};

bool iam_handle(struct api *a, struct store_txn *t, const struct api_caller *c,
		const struct query *q, double now, struct api_reply *r)
{
	const char *action = query_get(q, "Action"), *version = query_get(q, "Version");
	struct req rq = { a, t, c, q, now, r };

	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		if (strcmp(handlers[i].action, action) != 0)
			continue;
		if (strcmp(c->service, "iam") != 0) {
			api_error(r, 403, IAM_NS, "SignatureDoesNotMatch", "Credential should be "
				  "scoped to correct service: 'iam'.");
			return true;
		}
		if (!version || strcmp(version, "2010-05-08") != 0) {
			api_error(r, 400, IAM_NS, "InvalidParameterValue", "IAM's Version is "
				  "2010-05-08");
			return true;
		}
		handlers[i].fn(&rq);
		return true;
	}
	return false;
}

int iam_bootstrap_admin(struct api *a, const char *name, double now, char akid[21],
			char secret[41])
{
	static const char admin_policy[] = "{\"Version\":\"2012-10-17\",\"Statement\":"
		"[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}";
	struct api_reply r = { 0 };
	struct store_txn *t;
	char id[32], arn[600], date[32], *sealed = NULL;
	struct req q = { a, NULL, NULL, NULL, now, &r };
	json_t *u = NULL, *k = NULL, *p = NULL;
	int rc;

	if (!name_ok(name, 64))
		return -EINVAL;
	if ((rc = store_txn_begin(a->store, true, &t)))
		return rc;
	q.t = t;
	rc = -EIO;
	if (!new_id(&q, "AIDA", id, 17) || !new_id(&q, "AKIA", akid, 16) ||
	    seal_random_chars(secret, 40, SECRET_CHARS) ||
	    seal_b64(a->secret_key, akid, secret, 40, &sealed))
		goto err;
	arn_of(&q, arn, sizeof(arn), "user", "/", name);
	api_iso8601(now, date);
	u = json_pack("{ssssssssss}", "UserName", name, "UserId", id, "Arn", arn, "Path", "/",
		      "CreateDate", date);
	k = json_pack("{ssssssssss}", "UserName", name, "AccessKeyId", akid, "Status", "Active",
		      "CreateDate", date, "SealedSecret", sealed);
	p = json_pack("{ss}", "PolicyDocument", admin_policy);
	if (!u || !k || !p)
		goto err;
	if ((rc = save(&q, true, u, "iam/user/", name, NULL)) ||
	    (rc = save(&q, true, k, "iam/accesskey/", akid, NULL)) ||
	    (rc = save_marker(&q, "iam/userkey/", name, akid)) ||
	    (rc = save(&q, true, p, "iam/userpolicy/", name, "AdministratorAccess")))
		goto err;
	rc = store_txn_commit(t);
	t = NULL;
err:
	store_txn_abort(t);
	free(r.body);
	free(sealed);
	json_decref(u);
	json_decref(k);
	json_decref(p);
	if (rc)
		OPENSSL_cleanse(secret, 41);
	return rc;
}
