/* kms: the KMS operations. Every call: parse (request.c) → resolve key →
 * authorise (key policy + identity policy + grants + forward access session;
 * explicit deny wins) → check key state → HSM work → JSON reply. Backing
 * key material stays in the HSM; data-key plaintext only in secmem scratch. */
#include "kms.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "blob.h"
#include "hpke.h"
#include "log.h"
#include "policy.h"
#include "recipient.h"
#include "secmem.h"

#define SCRATCH_LEN 8192
#define DEFAULT_ROTATION_DAYS 365
#define MAX_EC_ENC (2 + REQ_MAX_EC * 4 + 8192)

/* The request's condition keys from its attestation document:
 * ImageSha384 and PCR0..31, as many as the document has. */
#define CTX_MAX (1 + ATTEST_NPCRS)

struct call {
	struct kms *k;
	const struct kms_caller *c;
	struct kms_request *r;
	struct kms_reply *out;
	double now;
	json_t *resp;
	struct recipient_att att;	/* valid when r->attestation_doc */
	struct policy_ctx ctx;
	struct policy_ctx_entry ctx_e[CTX_MAX];
	char ctx_key[CTX_MAX][40];
	char ctx_val[CTX_MAX][RECIPIENT_HEX_LEN + 1];
};

double kms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void kms_key_arn(const struct kms *k, const char *id, char arn[128])
{
	snprintf(arn, 128, "arn:aws:kms:%s:%s:key/%s", k->region, k->account, id);
}

void kms_principal_arn(const struct kms *k, enum principal_kind kind,
		       const char *name, char arn[160])
{
	snprintf(arn, 160, "arn:aws:iam::%s:%s/%s", k->account,
		 kind == PRINCIPAL_HOST ? "role/ward-host" : "user", name);
}

void kms_caller_clear(struct kms_caller *c)
{
	free(c->policy);
	c->policy = NULL;
}

void kms_reply_error(struct kms_reply *out, int status, const char *type,
		     const char *msg)
{
	json_t *o = json_pack("{s:s, s:s}", "__type", type, "message", msg);

	out->status = status;
	out->error = type;
	out->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	out->len = out->body ? strlen(out->body) : 0;
	json_decref(o);
}

__attribute__((format(printf, 3, 4)))
static int fail(struct call *x, const char *type, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kms_reply_error(x->out, strcmp(type, "KMSInternalException") == 0 ? 500 : 400,
			type, msg);
	return -1;
}

static void label_of(const char *id, uint32_t version, char label[HSM_LABEL_MAX])
{
	snprintf(label, HSM_LABEL_MAX, "ward-kms/%s/v%u", id, version);
}

/* HSM object handles are looked up once per (key, version): C_FindObjects
 * is far slower than the encryption itself. */
static int key_handle(struct kms *k, const char *id, uint32_t version,
		      unsigned long *h)
{
	char label[HSM_LABEL_MAX];
	unsigned idx;
	uint32_t hash = version * 2654435761u;
	int rc;

	for (const char *p = id; *p; p++)
		hash = (hash ^ (uint8_t)*p) * 16777619u;
	idx = hash % KMS_HANDLE_CACHE;
	if (k->handles[idx].version == version && strcmp(k->handles[idx].id, id) == 0) {
		*h = k->handles[idx].handle;
		return 0;
	}
	label_of(id, version, label);
	rc = hsm_key_find(k->hsm, k->sess, label, h);
	if (rc)
		return rc;
	snprintf(k->handles[idx].id, sizeof(k->handles[idx].id), "%s", id);
	k->handles[idx].version = version;
	k->handles[idx].handle = *h;
	return 0;
}

static void handles_forget(struct kms *k, const char *id)
{
	for (unsigned i = 0; i < KMS_HANDLE_CACHE; i++)
		if (strcmp(k->handles[i].id, id) == 0)
			memset(&k->handles[i], 0, sizeof(k->handles[i]));
}

static unsigned str_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

const json_t *kms_policy_doc(struct kms *k, const char *text)
{
	unsigned i;

	if (!text)
		return NULL;
	i = str_hash(text) % KMS_POLICY_CACHE;
	if (k->policies[i].text && strcmp(k->policies[i].text, text) == 0)
		return k->policies[i].doc;
	free(k->policies[i].text);
	json_decref(k->policies[i].doc);
	k->policies[i].text = strdup(text);
	k->policies[i].doc = k->policies[i].text ? json_loads(text, 0, NULL) : NULL;
	return k->policies[i].doc;
}

static int key_copy(const struct kms_key *src, struct kms_key *dst)
{
	*dst = *src;
	dst->description = strdup(src->description);
	dst->policy = strdup(src->policy);
	if (!dst->description || !dst->policy) {
		store_key_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

int kms_key_get(struct kms *k, const char *id, struct kms_key *out)
{
	unsigned i = str_hash(id) % KMS_ROW_CACHE;
	uint64_t gen = store_generation(k->store);
	int rc;

	if (k->keys[i].gen == gen && k->keys[i].key.policy &&
	    strcmp(k->keys[i].key.id, id) == 0)
		return key_copy(&k->keys[i].key, out);
	rc = store_key_get(k->store, id, out);
	if (rc)
		return rc;
	store_key_clear(&k->keys[i].key);
	if (key_copy(out, &k->keys[i].key) == 0)
		k->keys[i].gen = gen;
	return 0;
}

static int principal_copy(const struct kms_principal *src, struct kms_principal *dst)
{
	*dst = *src;
	dst->secret_wrapped = NULL;
	dst->policy = src->policy ? strdup(src->policy) : NULL;
	dst->cert_subject = src->cert_subject ? strdup(src->cert_subject) : NULL;
	if (src->secret_wrapped && (dst->secret_wrapped = malloc(src->secret_wrapped_len)))
		memcpy(dst->secret_wrapped, src->secret_wrapped, src->secret_wrapped_len);
	if ((src->policy && !dst->policy) || (src->cert_subject && !dst->cert_subject) ||
	    (src->secret_wrapped && !dst->secret_wrapped)) {
		store_principal_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

int kms_principal_by_akid(struct kms *k, const char *akid, double now,
			  struct kms_principal *out)
{
	unsigned i = str_hash(akid) % KMS_ROW_CACHE;
	uint64_t gen = store_generation(k->store);
	int rc;

	if (k->principals[i].gen == gen && now - k->principals[i].loaded < KMS_PRINCIPAL_TTL &&
	    now >= k->principals[i].loaded && strcmp(k->principals[i].p.akid, akid) == 0)
		return principal_copy(&k->principals[i].p, out);
	rc = store_principal_by_akid(k->store, akid, out);
	if (rc)
		return rc;
	store_principal_clear(&k->principals[i].p);
	if (principal_copy(out, &k->principals[i].p) == 0) {
		k->principals[i].gen = gen;
		k->principals[i].loaded = now;
	}
	return 0;
}

/* KeyId as a key id or key ARN of this region/account; aliases are not
 * implemented and are reported as not found. */
static int resolve(struct call *x, const char *ref, char id[37])
{
	char prefix[96];
	size_t n;

	n = (size_t)snprintf(prefix, sizeof(prefix), "arn:aws:kms:%s:%s:key/",
			     x->k->region, x->k->account);
	if (strncmp(ref, prefix, n) == 0)
		ref += n;
	if (!blob_is_key_id(ref, strlen(ref)))
		return fail(x, "NotFoundException", "Invalid keyId %.128s", ref);
	memcpy(id, ref, 37);
	return 0;
}

static int load_key(struct call *x, const char *ref, struct kms_key *key)
{
	char id[37];
	int rc;

	if (resolve(x, ref, id))
		return -1;
	/* the trail names the key asked for, found or not */
	memcpy(x->out->key_id, id, sizeof(x->out->key_id));
	rc = kms_key_get(x->k, id, key);
	if (rc == -ENOENT) {
		char arn[128];

		kms_key_arn(x->k, id, arn);
		return fail(x, "NotFoundException", "Key '%s' does not exist", arn);
	}
	if (rc)
		return fail(x, "KMSInternalException", "metadata store unavailable");
	return 0;
}

static int ec_match(const struct ec_pair *want, size_t n_want,
		    const struct ec_pair *have, size_t n_have, int equals)
{
	if (equals && n_want != n_have)
		return 0;
	for (size_t i = 0; i < n_want; i++) {
		size_t j;

		for (j = 0; j < n_have; j++)
			if (want[i].klen == have[j].klen &&
			    memcmp(want[i].key, have[j].key, want[i].klen) == 0)
				break;
		if (j == n_have || want[i].vlen != have[j].vlen ||
		    memcmp(want[i].value, have[j].value, want[i].vlen) != 0)
			return 0;
	}
	return 1;
}

struct grant_q {
	unsigned op;
	const struct ec_pair *ec;
	size_t n_ec;
	int found;
	char grant_id[65];	/* the grant that allowed it, for the trail */
};

/* A stored constraint is {"EncryptionContextEquals"|"EncryptionContextSubset":
 * {key: string, ...}} with at most REQ_MAX_EC pairs, as op_create_grant
 * writes it. Anything else (a damaged or hand-edited row) makes the grant
 * confer nothing: matching against the part that could be read would widen
 * it. Returns the pair count, or -EINVAL. */
static int grant_constraints(json_t *doc, struct ec_pair cons[REQ_MAX_EC], int *equals)
{
	const char *kname;
	json_t *m, *v;
	int n = 0;

	if (!json_is_object(doc) || json_object_size(doc) != 1)
		return -EINVAL;
	m = json_object_get(doc, "EncryptionContextEquals");
	*equals = m != NULL;
	if (!m)
		m = json_object_get(doc, "EncryptionContextSubset");
	if (!json_is_object(m) || json_object_size(m) > REQ_MAX_EC)
		return -EINVAL;
	json_object_foreach(m, kname, v) {
		if (!json_is_string(v))
			return -EINVAL;
		cons[n].key = kname;
		cons[n].klen = strlen(kname);
		cons[n].value = json_string_value(v);
		cons[n].vlen = json_string_length(v);
		n++;
	}
	return n;
}

static int grant_allows(void *arg, const struct kms_grant *g)
{
	struct grant_q *q = arg;
	struct ec_pair cons[REQ_MAX_EC];
	json_t *doc;
	int n, equals = 0;

	if (!(g->ops & q->op))
		return 0;
	if (!g->constraints) {
		q->found = 1;
		memcpy(q->grant_id, g->id, sizeof(q->grant_id));
		return 1;
	}
	doc = json_loads(g->constraints, JSON_REJECT_DUPLICATES, NULL);
	n = doc ? grant_constraints(doc, cons, &equals) : -EINVAL;
	if (n < 0)
		log_warn("grant with malformed constraints ignored", "grant=%s key=%s",
			 g->id, g->key_id);
	else if (ec_match(cons, (size_t)n, q->ec, q->n_ec, equals)) {
		q->found = 1;
		memcpy(q->grant_id, g->id, sizeof(q->grant_id));
	}
	json_decref(doc);
	return q->found;
}

/* The policy decision for one principal: explicit Deny in the key policy or
 * the principal's identity policy wins over everything, including grants;
 * then Allow from either policy; then a grant for this operation whose
 * constraints the request's encryption context satisfies. */
static int decide(struct call *x, const char *arn, const char *identity_policy,
		  const char *action, const struct kms_key *key, unsigned grant_op,
		  const struct ec_pair *ec, size_t n_ec)
{
	char key_arn[128];
	const char *resource = "*";
	enum policy_effect eff = POLICY_NONE;

	if (key) {
		kms_key_arn(x->k, key->id, key_arn);
		resource = key_arn;
		eff = policy_eval(kms_policy_doc(x->k, key->policy), POLICY_KEY, arn,
				  action, resource, &x->ctx);
	}
	if (identity_policy && eff != POLICY_DENY)
		eff = policy_combine(eff, policy_eval(kms_policy_doc(x->k, identity_policy),
						      POLICY_IDENTITY, arn, action, resource,
						      &x->ctx));
	if (eff == POLICY_DENY)
		return -EACCES;
	if (eff == POLICY_ALLOW)
		return 0;
	if (key && grant_op) {
		struct grant_q q = { grant_op, ec, n_ec, 0, "" };

		store_grant_foreach(x->k->store, key->id, arn, grant_allows, &q);
		if (q.found) {
			memcpy(x->out->grant_id, q.grant_id, sizeof(x->out->grant_id));
			return 0;
		}
	}
	return -EACCES;
}

static int authorize(struct call *x, const char *action, const struct kms_key *key,
		     unsigned grant_op)
{
	char key_arn[128];

	if (decide(x, x->c->arn, x->c->policy, action, key, grant_op,
		   x->r->ec, x->r->n_ec) == 0)
		return 0;
	if (key)
		kms_key_arn(x->k, key->id, key_arn);
	return fail(x, "AccessDeniedException",
		    "User: %s is not authorized to perform: %s on resource: %s",
		    x->c->arn, action, key ? key_arn : "*");
}

static int usable(struct call *x, const struct kms_key *key)
{
	char arn[128];

	kms_key_arn(x->k, key->id, arn);
	if (key->state == KEY_PENDING_DELETION)
		return fail(x, "KMSInvalidStateException", "%s is pending deletion.", arn);
	if (key->state == KEY_DISABLED)
		return fail(x, "DisabledException", "%s is disabled.", arn);
	return 0;
}

static int not_dry(struct call *x)
{
	if (x->r->dry_run)
		return fail(x, "DryRunOperationException",
			    "The request would have succeeded, but the DryRun option is set.");
	return 0;
}

static const char *state_name(enum key_state s)
{
	switch (s) {
	case KEY_ENABLED: return "Enabled";
	case KEY_DISABLED: return "Disabled";
	case KEY_PENDING_DELETION: return "PendingDeletion";
	}
	return "Unavailable";
}

static json_t *key_metadata(struct kms *k, const struct kms_key *key)
{
	char arn[128];
	json_t *m;

	kms_key_arn(k, key->id, arn);
	m = json_pack("{s:s, s:s, s:s, s:f, s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
		      " s:[s], s:b}",
		      "AWSAccountId", k->account, "KeyId", key->id, "Arn", arn,
		      "CreationDate", key->created, "Enabled", key->state == KEY_ENABLED,
		      "Description", key->description, "KeyUsage", "ENCRYPT_DECRYPT",
		      "KeyState", state_name(key->state), "Origin", "AWS_KMS",
		      "KeyManager", "CUSTOMER", "CustomerMasterKeySpec", "SYMMETRIC_DEFAULT",
		      "KeySpec", "SYMMETRIC_DEFAULT", "EncryptionAlgorithms",
		      "SYMMETRIC_DEFAULT", "MultiRegion", 0);
	if (m && key->state == KEY_PENDING_DELETION) {
		json_object_set_new(m, "DeletionDate", json_real(key->deletion_date));
		json_object_set_new(m, "PendingDeletionWindowInDays",
				    json_integer(key->pending_days));
	}
	return m;
}

static int set_b64(json_t *o, const char *name, const uint8_t *data, size_t len)
{
	char *s = kms_b64_encode(data, len);
	int rc;

	if (!s)
		return -ENOMEM;
	rc = json_object_set_new(o, name, json_string(s));
	OPENSSL_cleanse(s, strlen(s));
	free(s);
	return rc;
}

/* Key ids, grant ids and tokens name or grant access to keys: when the
 * generator fails the request fails (KMSInternalException) rather than
 * going on with whatever the stack held. */
static int uuid4(char out[37])
{
	uint8_t b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
		 b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	OPENSSL_cleanse(b, sizeof(b));
	return 0;
}

/* ---- key lifecycle ---- */

static int op_create_key(struct call *x)
{
	struct kms_key key = { 0 };
	char label[HSM_LABEL_MAX], err[256], *policy = NULL;
	unsigned long h;
	json_t *doc;
	int rc;

	if (authorize(x, "kms:CreateKey", NULL, 0))
		return -1;
	if (x->r->policy) {
		doc = json_loads(x->r->policy, JSON_REJECT_DUPLICATES, NULL);
		if (!doc || policy_validate(doc, POLICY_KEY, err, sizeof(err))) {
			json_decref(doc);
			return fail(x, "MalformedPolicyDocumentException", "%s",
				    doc ? err : "policy is not valid JSON");
		}
		json_decref(doc);
		policy = strdup(x->r->policy);
	} else {
		/* Default: the creating principal administers and uses the key. */
		doc = json_pack("{s:s, s:[{s:s, s:s, s:{s:s}, s:s, s:s}]}",
				"Version", "2012-10-17", "Statement", "Sid", "creator",
				"Effect", "Allow", "Principal", "AWS", x->c->arn,
				"Action", "kms:*", "Resource", "*");
		policy = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
		json_decref(doc);
	}
	if (!policy)
		return fail(x, "KMSInternalException", "out of memory");
	if (uuid4(key.id)) {
		free(policy);
		return fail(x, "KMSInternalException", "the random generator failed");
	}
	key.description = (char *)(x->r->description ? x->r->description : "");
	key.policy = policy;
	key.created = x->now;
	key.state = KEY_ENABLED;
	key.version = 1;
	key.rotation_days = DEFAULT_ROTATION_DAYS;
	key.last_rotated = x->now;
	/* HSM first, then the durable row: a crash in between leaves an
	 * unreferenced HSM object, never a key row without material. */
	label_of(key.id, 1, label);
	rc = hsm_key_create(x->k->hsm, x->k->sess, label, &h);
	if (rc == 0)
		rc = store_key_insert(x->k->store, &key);
	if (rc) {
		free(policy);
		return fail(x, "KMSInternalException", "could not create the key");
	}
	x->resp = json_pack("{s:o}", "KeyMetadata", key_metadata(x->k, &key));
	free(policy);
	log_info("key created", "key=%s by=%s", key.id, x->c->arn);
	memcpy(x->out->key_id, key.id, sizeof(x->out->key_id));
	return 0;
}

static int op_describe_key(struct call *x, struct kms_key *key)
{
	if (authorize(x, "kms:DescribeKey", key, GRANT_OP_DESCRIBE_KEY))
		return -1;
	x->resp = json_pack("{s:o}", "KeyMetadata", key_metadata(x->k, key));
	return 0;
}

static void list_cb(void *arg, const char *id)
{
	struct call *x = arg;
	json_t *keys = json_object_get(x->resp, "Keys");
	char arn[128];

	kms_key_arn(x->k, id, arn);
	json_array_append_new(keys, json_pack("{s:s, s:s}", "KeyId", id, "KeyArn", arn));
}

static int op_list_keys(struct call *x)
{
	unsigned limit = x->r->limit ? x->r->limit : 100;
	json_t *keys;
	int more = 0;

	if (authorize(x, "kms:ListKeys", NULL, 0))
		return -1;
	x->resp = json_pack("{s:[]}", "Keys");
	if (!x->resp || store_key_list(x->k->store, x->r->marker, limit, list_cb, x, &more))
		return fail(x, "KMSInternalException", "metadata store unavailable");
	json_object_set_new(x->resp, "Truncated", json_boolean(more));
	keys = json_object_get(x->resp, "Keys");
	if (more && json_array_size(keys))
		json_object_set(x->resp, "NextMarker", json_object_get(
			json_array_get(keys, json_array_size(keys) - 1), "KeyId"));
	return 0;
}

static int op_enable_disable(struct call *x, struct kms_key *key, int enable)
{
	if (authorize(x, enable ? "kms:EnableKey" : "kms:DisableKey", key, 0))
		return -1;
	if (key->state == KEY_PENDING_DELETION)
		return usable(x, key);
	if (store_key_set_state(x->k->store, key->id, enable ? KEY_ENABLED : KEY_DISABLED, 0, 0))
		return fail(x, "KMSInternalException", "metadata store unavailable");
	x->resp = json_object();
	return 0;
}

static int rotate(struct kms *k, const char *id, uint32_t cur, double now)
{
	char label[HSM_LABEL_MAX];
	unsigned long h;
	int rc;

	label_of(id, cur + 1, label);
	rc = hsm_key_create(k->hsm, k->sess, label, &h);
	/* A crash after creating the object but before the row: reuse it. */
	if (rc == -EEXIST)
		rc = 0;
	if (rc == 0)
		rc = store_key_add_version(k->store, id, cur + 1, now);
	if (rc == 0)
		log_info("key rotated", "key=%s version=%u", id, cur + 1);
	return rc;
}

static int op_rotation(struct call *x, struct kms_key *key)
{
	enum kms_op op = x->r->op;
	static const char *const act[] = { "kms:EnableKeyRotation",
		"kms:DisableKeyRotation", "kms:GetKeyRotationStatus", "kms:RotateKeyOnDemand" };
	int i = op == OP_ENABLE_KEY_ROTATION ? 0 : op == OP_DISABLE_KEY_ROTATION ? 1 :
		op == OP_GET_KEY_ROTATION_STATUS ? 2 : 3;
	char arn[128];

	if (authorize(x, act[i], key, 0))
		return -1;
	kms_key_arn(x->k, key->id, arn);
	if (i == 2) {
		x->resp = json_pack("{s:b, s:s, s:i}", "KeyRotationEnabled", key->rotation,
				    "KeyId", arn, "RotationPeriodInDays", key->rotation_days);
		return 0;
	}
	if (usable(x, key))
		return -1;
	if (i == 3) {
		if (rotate(x->k, key->id, key->version, x->now))
			return fail(x, "KMSInternalException", "rotation failed");
		x->resp = json_pack("{s:s}", "KeyId", arn);
		return 0;
	}
	if (store_key_set_rotation(x->k->store, key->id, i == 0,
				   x->r->rotation_days > 0 ? x->r->rotation_days :
				   key->rotation_days))
		return fail(x, "KMSInternalException", "metadata store unavailable");
	x->resp = json_object();
	return 0;
}

static int op_schedule_deletion(struct call *x, struct kms_key *key)
{
	int days = x->r->pending_days ? x->r->pending_days : 30;
	double when = x->now + days * 86400.0;
	char arn[128];

	if (authorize(x, "kms:ScheduleKeyDeletion", key, 0))
		return -1;
	if (key->state == KEY_PENDING_DELETION)
		return usable(x, key);
	if (store_key_set_state(x->k->store, key->id, KEY_PENDING_DELETION, when, days))
		return fail(x, "KMSInternalException", "metadata store unavailable");
	kms_key_arn(x->k, key->id, arn);
	x->resp = json_pack("{s:s, s:f, s:s, s:i}", "KeyId", arn, "DeletionDate", when,
			    "KeyState", "PendingDeletion", "PendingWindowInDays", days);
	log_info("key deletion scheduled", "key=%s days=%d", key->id, days);
	return 0;
}

static int op_cancel_deletion(struct call *x, struct kms_key *key)
{
	char arn[128];

	if (authorize(x, "kms:CancelKeyDeletion", key, 0))
		return -1;
	kms_key_arn(x->k, key->id, arn);
	if (key->state != KEY_PENDING_DELETION)
		return fail(x, "KMSInvalidStateException", "%s is not pending deletion.", arn);
	/* As in AWS KMS, a key whose deletion is cancelled comes back disabled. */
	if (store_key_set_state(x->k->store, key->id, KEY_DISABLED, 0, 0))
		return fail(x, "KMSInternalException", "metadata store unavailable");
	x->resp = json_pack("{s:s}", "KeyId", arn);
	return 0;
}

static int op_key_policy(struct call *x, struct kms_key *key)
{
	char err[256];
	json_t *doc;

	if (x->r->op == OP_GET_KEY_POLICY) {
		if (authorize(x, "kms:GetKeyPolicy", key, 0))
			return -1;
		x->resp = json_pack("{s:s, s:s}", "Policy", key->policy, "PolicyName", "default");
		return 0;
	}
	if (authorize(x, "kms:PutKeyPolicy", key, 0))
		return -1;
	doc = json_loads(x->r->policy, JSON_REJECT_DUPLICATES, NULL);
	if (!doc || policy_validate(doc, POLICY_KEY, err, sizeof(err))) {
		json_decref(doc);
		return fail(x, "MalformedPolicyDocumentException", "%s",
			    doc ? err : "policy is not valid JSON");
	}
	json_decref(doc);
	if (store_key_set_policy(x->k->store, key->id, x->r->policy))
		return fail(x, "KMSInternalException", "metadata store unavailable");
	x->resp = json_object();
	return 0;
}

/* ---- cryptographic operations ---- */

static int ec_encode(struct call *x, uint8_t *buf, size_t cap, size_t *len)
{
	struct ec_pair pairs[REQ_MAX_EC];

	memcpy(pairs, x->r->ec, x->r->n_ec * sizeof(pairs[0]));
	if (blob_ec_encode(pairs, x->r->n_ec, buf, cap, len))
		return fail(x, "ValidationException", "EncryptionContext has duplicate keys");
	return 0;
}

/* Seals pt under the key's current version; writes the blob. */
static int seal(struct call *x, const struct kms_key *key, const uint8_t *pt,
		size_t len, uint8_t *blob, size_t cap, size_t *blob_len)
{
	uint8_t aad[BLOB_HEADER_LEN + MAX_EC_ENC], iv[BLOB_IV_LEN], tag[BLOB_TAG_LEN];
	uint8_t ct[BLOB_MAX_PLAINTEXT];
	size_t ec_len;
	unsigned long h;

	if (ec_encode(x, aad + BLOB_HEADER_LEN, MAX_EC_ENC, &ec_len))
		return -1;
	if (RAND_bytes(iv, sizeof(iv)) != 1 ||
	    blob_header(key->id, key->version, iv, aad) ||
	    key_handle(x->k, key->id, key->version, &h) ||
	    hsm_gcm_encrypt(x->k->hsm, x->k->sess, h, iv, aad, BLOB_HEADER_LEN + ec_len, pt, len,
			    ct, tag))
		return fail(x, "KMSInternalException", "the HSM could not encrypt");
	*blob_len = blob_assemble(aad, tag, ct, len, blob, cap);
	return *blob_len ? 0 : fail(x, "KMSInternalException", "blob too large");
}

/* Seals a plaintext to the registered public key of Recipient.HostId; a
 * key sent in the request is never trusted. A host may only ask for
 * material sealed to itself. */
static int seal_for_recipient(struct call *x, const char *key_arn, const uint8_t *pt,
			      size_t len)
{
	struct kms_principal host;
	uint8_t out[BLOB_MAX_PLAINTEXT + HPKE_SEALED_OVERHEAD];
	size_t out_len;
	int rc;

	if (x->c->kind == PRINCIPAL_HOST && strcmp(x->c->name, x->r->recipient_host) != 0)
		return fail(x, "AccessDeniedException",
			    "a host may only request key material sealed to itself");
	rc = store_principal_by_name(x->k->store, x->r->recipient_host, &host);
	if (rc || host.kind != PRINCIPAL_HOST || host.pubkey_len != HPKE_PK_LEN) {
		if (rc == 0)
			store_principal_clear(&host);
		return fail(x, "NotFoundException", "no host %.64s with a registered public key",
			    x->r->recipient_host);
	}
	/* aad = the KeyId ARN of the response: the seal names its key. */
	rc = hpke_seal_blob(host.pubkey, (const uint8_t *)KMS_HPKE_INFO,
			    strlen(KMS_HPKE_INFO), (const uint8_t *)key_arn, strlen(key_arn),
			    pt, len, out, sizeof(out), &out_len);
	store_principal_clear(&host);
	if (rc)
		return fail(x, "KMSInternalException", "HPKE seal failed");
	return set_b64(x->resp, "CiphertextForRecipient", out, out_len);
}

/* Seals a plaintext to the public_key of the Recipient's attestation
 * document (checked in check_attestation) as CMS EnvelopedData. The
 * document is spent here: one document releases key material once. */
static int seal_for_enclave(struct call *x, const uint8_t *pt, size_t len)
{
	uint8_t *der = NULL;
	size_t der_len;
	int rc;

	rc = store_attest_consume(x->k->store, x->att.replay_id,
				  (double)x->att.timestamp_ms / 1000.0 + RECIPIENT_MAX_AGE_S, x->now);
	if (rc == -EEXIST)
		return fail(x, "AccessDeniedException", "this attestation document was already "
			    "used: a document releases key material once; ask the NSM for a new one");
	if (rc)
		return fail(x, "KMSInternalException", "metadata store unavailable");
	if (recipient_cms_seal(x->att.pub, pt, len, &der, &der_len))
		return fail(x, "KMSInternalException", "could not seal to the recipient");
	rc = set_b64(x->resp, "CiphertextForRecipient", der, der_len);
	OPENSSL_free(der);
	return rc;
}

/* Key material leaves in one of three ways: sealed to a host, sealed to an
 * attested enclave, or in the clear (Plaintext) to the caller. */
static int deliver(struct call *x, const char *key_arn, const uint8_t *pt, size_t len)
{
	if (x->r->recipient_host)
		return seal_for_recipient(x, key_arn, pt, len);
	if (x->r->attestation_doc)
		return seal_for_enclave(x, pt, len);
	return set_b64(x->resp, "Plaintext", pt, len);
}

/* Who the material was for, for the activity trail: CloudTrail's
 * additionalEventData.recipient fields (module id, image digest = PCR0,
 * PCR1-4 and PCR8), none of them secret. */
static void trail_recipient(struct call *x)
{
	static const unsigned pcrs[] = { 1, 2, 3, 4, 8 };
	char hex[RECIPIENT_HEX_LEN + 1], name[48], *text;
	json_t *o = json_pack("{s:s}", "attestationDocumentModuleId", x->att.module_id);

	if (o && recipient_pcr_hex(&x->att, 0, hex) == 0)
		json_object_set_new(o, "attestationDocumentEnclaveImageDigest", json_string(hex));
	for (size_t i = 0; o && i < sizeof(pcrs) / sizeof(pcrs[0]); i++) {
		if (recipient_pcr_hex(&x->att, pcrs[i], hex))
			continue;
		snprintf(name, sizeof(name), "attestationDocumentEnclavePCR%u", pcrs[i]);
		json_object_set_new(o, name, json_string(hex));
	}
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (text && strlen(text) < sizeof(x->out->recipient))
		memcpy(x->out->recipient, text, strlen(text) + 1);
	free(text);
	json_decref(o);
}

/* Before authorisation: the document must be good for its PCRs to be
 * condition keys. Malformed documents are the caller's input errors; one
 * that fails a trust check (root, signature, age, debug mode) is refused. */
static int check_attestation(struct call *x)
{
	static const char pfx[] = "kms:RecipientAttestation:";
	char err[256];
	size_t n = 0;
	int rc;

	if (!x->r->attestation_doc)
		return 0;
	rc = recipient_check(x->k->attest_root, x->r->attestation_doc, x->r->attestation_doc_len,
			     x->now, &x->att, err, sizeof(err));
	if (rc == -EPROTO || rc == -EINVAL || rc == -ENOKEY || rc == -EMSGSIZE)
		return fail(x, "ValidationException", "Recipient.AttestationDocument: %s", err);
	if (rc)
		return fail(x, "AccessDeniedException", "Recipient.AttestationDocument: %s", err);
	/* ImageSha384 is PCR0, as AWS defines it. */
	for (unsigned i = 0; i < ATTEST_NPCRS; i++) {
		if (recipient_pcr_hex(&x->att, i, x->ctx_val[n]))
			continue;
		snprintf(x->ctx_key[n], sizeof(x->ctx_key[n]), "%sPCR%u", pfx, i);
		x->ctx_e[n].key = x->ctx_key[n];
		x->ctx_e[n].value = x->ctx_val[n];
		n++;
		if (i == 0) {
			memcpy(x->ctx_val[n], x->ctx_val[n - 1], sizeof(x->ctx_val[n]));
			snprintf(x->ctx_key[n], sizeof(x->ctx_key[n]), "%sImageSha384", pfx);
			x->ctx_e[n].key = x->ctx_key[n];
			x->ctx_e[n].value = x->ctx_val[n];
			n++;
		}
	}
	x->ctx.e = x->ctx_e;
	x->ctx.n = n;
	trail_recipient(x);
	return 0;
}

/* Hosts get key material only HPKE-sealed to their registered, TPM-held
 * key (docs/attach.md): the controller never handles plaintext keys. */
static int host_needs_recipient(struct call *x)
{
	if (x->c->kind == PRINCIPAL_HOST && !x->r->recipient_host)
		return fail(x, "AccessDeniedException",
			    "hosts receive key material only sealed to their registered "
			    "key: use Recipient");
	return 0;
}

static int op_encrypt(struct call *x, struct kms_key *key)
{
	uint8_t blob[BLOB_OVERHEAD + BLOB_MAX_PLAINTEXT];
	size_t blen;
	char arn[128];

	if (authorize(x, "kms:Encrypt", key, GRANT_OP_ENCRYPT) || usable(x, key) ||
	    not_dry(x) || seal(x, key, x->r->plaintext, x->r->plaintext_len, blob,
			       sizeof(blob), &blen))
		return -1;
	kms_key_arn(x->k, key->id, arn);
	x->resp = json_pack("{s:s, s:s}", "KeyId", arn, "EncryptionAlgorithm",
			    "SYMMETRIC_DEFAULT");
	return set_b64(x->resp, "CiphertextBlob", blob, blen);
}

static int op_generate_data_key(struct call *x, struct kms_key *key, int with_pt)
{
	uint8_t blob[BLOB_OVERHEAD + BLOB_MAX_PLAINTEXT];
	size_t blen, n = x->r->number_of_bytes;
	char arn[128];
	int rc = -1;

	if (authorize(x, with_pt ? "kms:GenerateDataKey" : "kms:GenerateDataKeyWithoutPlaintext",
		      key, with_pt ? GRANT_OP_GENERATE_DATA_KEY :
		      GRANT_OP_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT) ||
	    (with_pt && host_needs_recipient(x)) || usable(x, key) || not_dry(x))
		return -1;
	/* Data keys come from the HSM's generator, straight into secmem. */
	if (hsm_random(x->k->hsm, x->k->sess, x->k->scratch, n))
		return fail(x, "KMSInternalException", "the HSM could not generate a key");
	if (seal(x, key, x->k->scratch, n, blob, sizeof(blob), &blen))
		goto out;
	kms_key_arn(x->k, key->id, arn);
	x->resp = json_pack("{s:s}", "KeyId", arn);
	if (!x->resp || set_b64(x->resp, "CiphertextBlob", blob, blen))
		goto out;
	rc = with_pt ? deliver(x, arn, x->k->scratch, n) : 0;
out:
	OPENSSL_cleanse(x->k->scratch, n);
	return rc;
}

/* A forward access session names the caller on whose behalf a host acts;
 * KMS re-checks that caller's own permission and burns the session. */
static int check_fas(struct call *x, const struct kms_key *key)
{
	struct kms_principal p;
	uint8_t hash[32];
	char caller[160], arn[128];
	int rc;

	SHA256((const uint8_t *)x->r->fas_token, strlen(x->r->fas_token), hash);
	rc = store_fas_consume(x->k->store, hash, key->id, x->now, caller);
	if (rc == -ENOENT)
		return fail(x, "AccessDeniedException",
			    "forward access session is invalid, expired or already used");
	if (rc)
		return fail(x, "KMSInternalException", "metadata store unavailable");
	if (store_principal_by_arn(x->k->store, caller, &p))
		return fail(x, "AccessDeniedException", "forward access session caller is unknown");
	rc = decide(x, caller, p.policy, "kms:Decrypt", key, GRANT_OP_DECRYPT,
		    x->r->ec, x->r->n_ec);
	store_principal_clear(&p);
	if (rc == 0)
		return 0;
	kms_key_arn(x->k, key->id, arn);
	return fail(x, "AccessDeniedException",
		    "User: %s (forward access session) is not authorized to perform: "
		    "kms:Decrypt on resource: %s", caller, arn);
}

static int op_decrypt(struct call *x)
{
	uint8_t aad[BLOB_HEADER_LEN + MAX_EC_ENC];
	struct kms_key key;
	struct blob b;
	size_t ec_len;
	unsigned long h;
	char arn[128], want[37];
	int rc = -1;

	if (host_needs_recipient(x))
		return -1;
	if (blob_parse(x->r->blob, x->r->blob_len, &b))
		return fail(x, "InvalidCiphertextException",
			    "The ciphertext is not a ward-kms ciphertext blob");
	if (x->r->key_id) {
		if (resolve(x, x->r->key_id, want))
			return -1;
		if (strcmp(want, b.key_id) != 0)
			return fail(x, "IncorrectKeyException",
				    "The key ID in the request does not identify the key "
				    "that encrypted the ciphertext.");
	}
	if (load_key(x, b.key_id, &key))
		return -1;
	if (authorize(x, "kms:Decrypt", &key, GRANT_OP_DECRYPT) ||
	    (x->r->fas_token && check_fas(x, &key)) || usable(x, &key) || not_dry(x))
		goto out_key;
	memcpy(aad, b.header, BLOB_HEADER_LEN);
	if (ec_encode(x, aad + BLOB_HEADER_LEN, MAX_EC_ENC, &ec_len))
		goto out_key;
	if (b.key_version > key.version || key_handle(x->k, key.id, b.key_version, &h)) {
		fail(x, "InvalidCiphertextException", "unknown key version");
		goto out_key;
	}
	rc = hsm_gcm_decrypt(x->k->hsm, x->k->sess, h, b.iv, aad, BLOB_HEADER_LEN + ec_len,
			     b.ct, b.ct_len, b.tag, x->k->scratch);
	if (rc) {
		rc = fail(x, rc == -EBADMSG ? "InvalidCiphertextException" : "KMSInternalException",
			  rc == -EBADMSG ? "The ciphertext or its encryption context is invalid"
					 : "the HSM could not decrypt");
		goto out_key;
	}
	kms_key_arn(x->k, key.id, arn);
	x->resp = json_pack("{s:s, s:s}", "KeyId", arn, "EncryptionAlgorithm",
			    "SYMMETRIC_DEFAULT");
	rc = -1;
	if (x->resp)
		rc = deliver(x, arn, x->k->scratch, b.ct_len);
	OPENSSL_cleanse(x->k->scratch, b.ct_len);
out_key:
	store_key_clear(&key);
	return rc;
}

/* GenerateRandom is on no key: only identity policies (resource "*")
 * allow it, with the attestation's condition keys when there is one. */
static int op_generate_random(struct call *x)
{
	size_t n = x->r->number_of_bytes;
	int rc = -1;

	if (authorize(x, "kms:GenerateRandom", NULL, 0) || host_needs_recipient(x))
		return -1;
	/* Refused before the HSM is asked: a request that cannot be answered
	 * costs no HSM call. */
	if (x->r->recipient_host)
		return fail(x, "ValidationException", "GenerateRandom takes an "
			    "AttestationDocument Recipient only");
	if (hsm_random(x->k->hsm, x->k->sess, x->k->scratch, n))
		return fail(x, "KMSInternalException", "the HSM could not generate random bytes");
	x->resp = json_object();
	if (x->resp)
		rc = deliver(x, NULL, x->k->scratch, n);
	OPENSSL_cleanse(x->k->scratch, n);
	return rc;
}

/* ---- grants ---- */

static int random_hex(char *out, size_t nbytes)
{
	uint8_t b[64];

	if (nbytes > sizeof(b) || RAND_bytes(b, (int)nbytes) != 1)
		return -EIO;
	for (size_t i = 0; i < nbytes; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	OPENSSL_cleanse(b, sizeof(b));
	return 0;
}

/* NULL when the generator fails or memory runs out. */
static char *random_token(size_t nbytes)
{
	uint8_t b[64];
	char *t;

	if (nbytes > sizeof(b) || RAND_bytes(b, (int)nbytes) != 1)
		return NULL;
	t = kms_b64_encode(b, nbytes);
	OPENSSL_cleanse(b, sizeof(b));
	/* URL-safe alphabet, no padding: tokens travel in JSON and logs of
	 * clients; they are capabilities only together with a signature. */
	for (char *p = t; p && *p; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
		else if (*p == '=')
			*p = '\0';
	}
	return t;
}

static int op_create_grant(struct call *x, struct kms_key *key)
{
	struct kms_grant g = { 0 };
	json_t *cons = NULL;
	int rc;

	if (authorize(x, "kms:CreateGrant", key, GRANT_OP_CREATE_GRANT))
		return -1;
	if (key->state == KEY_PENDING_DELETION)
		return usable(x, key);
	if (strncmp(x->r->grantee, "arn:", 4) != 0 ||
	    (x->r->retiring && strncmp(x->r->retiring, "arn:", 4) != 0))
		return fail(x, "ValidationException", "principals must be ARNs");
	if (not_dry(x))
		return -1;
	if (x->r->constraint) {
		json_t *m = json_object();

		for (size_t i = 0; m && i < x->r->n_cons; i++)
			json_object_set_new(m, x->r->cons[i].key, json_string(x->r->cons[i].value));
		cons = json_pack("{s:o}", x->r->constraint == 2 ? "EncryptionContextEquals"
				 : "EncryptionContextSubset", m);
		g.constraints = cons ? json_dumps(cons, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(cons);
		if (!g.constraints)
			return fail(x, "KMSInternalException", "out of memory");
	}
	memcpy(g.key_id, key->id, 37);
	if (random_hex(g.id, 32) || !(g.token = random_token(48))) {
		free(g.constraints);
		return fail(x, "KMSInternalException", "could not generate the grant id and token");
	}
	g.name = (char *)x->r->grant_name;
	g.grantee = (char *)x->r->grantee;
	g.retiring = (char *)x->r->retiring;
	g.issuer = (char *)x->c->arn;
	g.ops = x->r->grant_ops;
	g.created = x->now;
	rc = store_grant_insert(x->k->store, &g);
	if (rc == 0)
		x->resp = json_pack("{s:s, s:s}", "GrantToken", g.token, "GrantId", g.id);
	free(g.token);
	free(g.constraints);
	if (rc)
		return fail(x, "KMSInternalException", "could not store the grant");
	log_info("grant created", "key=%s grant=%s grantee=%s", key->id, g.id, x->r->grantee);
	memcpy(x->out->grant_id, g.id, sizeof(x->out->grant_id));
	return 0;
}

struct list_q {
	struct call *x;
	json_t *arr;
	unsigned limit, n;
	int skipping, more;
	const char *last;
};

static int list_grant_cb(void *arg, const struct kms_grant *g)
{
	struct list_q *q = arg;
	struct call *x = q->x;
	char arn[128], acct[64];
	json_t *o;

	if (x->r->grant_id && strcmp(x->r->grant_id, g->id) != 0)
		return 0;
	if (x->r->grantee && strcmp(x->r->grantee, g->grantee) != 0)
		return 0;
	if (q->skipping) {
		if (strcmp(g->id, x->r->marker) == 0)
			q->skipping = 0;
		return 0;
	}
	if (q->n == q->limit) {
		q->more = 1;
		return 1;
	}
	kms_key_arn(x->k, g->key_id, arn);
	snprintf(acct, sizeof(acct), "arn:aws:iam::%s:root", x->k->account);
	o = json_pack("{s:s, s:s, s:f, s:s, s:s, s:o}", "KeyId", arn, "GrantId", g->id,
		      "CreationDate", g->created, "GranteePrincipal", g->grantee,
		      "IssuingAccount", acct, "Operations", kms_grant_ops_json(g->ops));
	if (!o)
		return 1;
	if (g->name)
		json_object_set_new(o, "Name", json_string(g->name));
	if (g->retiring)
		json_object_set_new(o, "RetiringPrincipal", json_string(g->retiring));
	if (g->constraints)
		json_object_set_new(o, "Constraints", json_loads(g->constraints, 0, NULL));
	json_array_append_new(q->arr, o);
	q->n++;
	return 0;
}

static int op_list_grants(struct call *x, struct kms_key *key)
{
	struct list_q q = { x, json_array(), x->r->limit ? x->r->limit : 50, 0,
			    x->r->marker != NULL, 0, NULL };
	size_t n;

	if (authorize(x, "kms:ListGrants", key, 0)) {
		json_decref(q.arr);
		return -1;
	}
	if (!q.arr || store_grant_foreach(x->k->store, key->id, NULL, list_grant_cb, &q)) {
		json_decref(q.arr);
		return fail(x, "KMSInternalException", "metadata store unavailable");
	}
	x->resp = json_pack("{s:o, s:b}", "Grants", q.arr, "Truncated", q.more);
	n = json_array_size(q.arr);
	if (q.more && n)
		json_object_set(x->resp, "NextMarker",
				json_object_get(json_array_get(q.arr, n - 1), "GrantId"));
	return 0;
}

static int op_retire_grant(struct call *x)
{
	struct kms_grant g;
	char id[37];
	int rc;

	if (x->r->grant_token) {
		rc = store_grant_by_token(x->k->store, x->r->grant_token, &g);
	} else {
		if (resolve(x, x->r->key_id, id))
			return -1;
		rc = store_grant_get(x->k->store, x->r->grant_id, &g);
		if (rc == 0 && strcmp(g.key_id, id) != 0) {
			store_grant_clear(&g);
			rc = -ENOENT;
		}
	}
	if (rc == -ENOENT)
		return fail(x, "NotFoundException", "Grant does not exist");
	if (rc)
		return fail(x, "KMSInternalException", "metadata store unavailable");
	/* Who may retire: the retiring principal, or the grantee when the
	 * grant includes RetireGrant (AWS KMS rules). */
	if (!((g.retiring && strcmp(g.retiring, x->c->arn) == 0) ||
	      (strcmp(g.grantee, x->c->arn) == 0 && (g.ops & GRANT_OP_RETIRE_GRANT)))) {
		store_grant_clear(&g);
		return fail(x, "AccessDeniedException",
			    "User: %s is not authorized to retire this grant", x->c->arn);
	}
	rc = not_dry(x) ? -1 : store_grant_delete(x->k->store, g.id) ? -2 : 0;
	if (rc == 0)
		log_info("grant retired", "grant=%s by=%s", g.id, x->c->arn);
	store_grant_clear(&g);
	if (rc == -2)
		return fail(x, "KMSInternalException", "metadata store unavailable");
	if (rc == 0)
		x->resp = json_object();
	return rc;
}

static int op_revoke_grant(struct call *x, struct kms_key *key)
{
	struct kms_grant g;
	int rc;

	if (authorize(x, "kms:RevokeGrant", key, 0) || not_dry(x))
		return -1;
	rc = store_grant_get(x->k->store, x->r->grant_id, &g);
	if (rc == 0 && strcmp(g.key_id, key->id) != 0)
		rc = -ENOENT;
	if (rc == 0)
		store_grant_clear(&g);
	if (rc == 0)
		rc = store_grant_delete(x->k->store, x->r->grant_id);
	if (rc == -ENOENT)
		return fail(x, "NotFoundException", "Grant does not exist");
	if (rc)
		return fail(x, "KMSInternalException", "metadata store unavailable");
	log_info("grant revoked", "grant=%s by=%s", x->r->grant_id, x->c->arn);
	x->resp = json_object();
	return 0;
}

static int op_create_fas(struct call *x, struct kms_key *key)
{
	struct kms_principal p;
	uint8_t hash[32];
	double expires = x->now + (x->r->duration ? x->r->duration : 300);
	char *token;

	/* Policy only: no grant can confer the right to speak for others. */
	if (authorize(x, "kms:CreateForwardAccessSession", key, 0))
		return -1;
	if (store_principal_by_arn(x->k->store, x->r->caller_arn, &p))
		return fail(x, "NotFoundException", "no principal %.160s", x->r->caller_arn);
	store_principal_clear(&p);
	token = random_token(32);
	if (!token)
		return fail(x, "KMSInternalException", "could not generate the session token");
	SHA256((const uint8_t *)token, strlen(token), hash);
	if (store_fas_insert(x->k->store, hash, x->r->caller_arn, key->id, expires)) {
		free(token);
		return fail(x, "KMSInternalException", "metadata store unavailable");
	}
	x->resp = json_pack("{s:s, s:f}", "SessionToken", token, "Expiration", expires);
	free(token);
	return 0;
}

static int run_op(struct call *x)
{
	struct kms_key key;
	int rc;

	switch (x->r->op) {
	case OP_CREATE_KEY: return op_create_key(x);
	case OP_LIST_KEYS: return op_list_keys(x);
	case OP_DECRYPT: return op_decrypt(x);
	case OP_RETIRE_GRANT: return op_retire_grant(x);
	case OP_GENERATE_RANDOM: return op_generate_random(x);
	default: break;
	}
	if (load_key(x, x->r->key_id, &key))
		return -1;
	switch (x->r->op) {
	case OP_DESCRIBE_KEY: rc = op_describe_key(x, &key); break;
	case OP_ENABLE_KEY: rc = op_enable_disable(x, &key, 1); break;
	case OP_DISABLE_KEY: rc = op_enable_disable(x, &key, 0); break;
	case OP_GENERATE_DATA_KEY: rc = op_generate_data_key(x, &key, 1); break;
	case OP_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT: rc = op_generate_data_key(x, &key, 0); break;
	case OP_ENCRYPT: rc = op_encrypt(x, &key); break;
	case OP_CREATE_GRANT: rc = op_create_grant(x, &key); break;
	case OP_LIST_GRANTS: rc = op_list_grants(x, &key); break;
	case OP_REVOKE_GRANT: rc = op_revoke_grant(x, &key); break;
	case OP_ENABLE_KEY_ROTATION: case OP_DISABLE_KEY_ROTATION:
	case OP_GET_KEY_ROTATION_STATUS: case OP_ROTATE_KEY_ON_DEMAND:
		rc = op_rotation(x, &key); break;
	case OP_SCHEDULE_KEY_DELETION: rc = op_schedule_deletion(x, &key); break;
	case OP_CANCEL_KEY_DELETION: rc = op_cancel_deletion(x, &key); break;
	case OP_GET_KEY_POLICY: case OP_PUT_KEY_POLICY: rc = op_key_policy(x, &key); break;
	case OP_CREATE_FORWARD_ACCESS_SESSION: rc = op_create_fas(x, &key); break;
	default: rc = fail(x, "UnknownOperationException", "unknown operation"); break;
	}
	store_key_clear(&key);
	return rc;
}

/* The encryption context's keys as a JSON array, for the trail: which
 * context a call used, never its values (they may name tenants' data).
 * Bounded to fit a trail record (4 KiB, escaped once more there): while
 * the text is over 1.5 KiB the last key is left out, and the count of the
 * keys left out ends the array as an integer (never a key: keys are strings). */
static char *context_keys(const struct kms_request *r)
{
	size_t n = r->n_ec;
	char *text = NULL;

	if (!r->has_ec)
		return NULL;
	for (;;) {
		json_t *a = json_array();

		for (size_t i = 0; a && i < n; i++)
			if (json_array_append_new(a, json_stringn(r->ec[i].key, r->ec[i].klen)))
				goto fail;
		if (a && n < r->n_ec &&
		    json_array_append_new(a, json_integer((json_int_t)(r->n_ec - n))))
			goto fail;
		text = a ? json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
		json_decref(a);
		if (!text || strlen(text) <= 1536 || n == 0)
			return text;
		free(text);
		n--;
		continue;
fail:
		json_decref(a);
		return NULL;
	}
}

void kms_dispatch(struct kms *k, const struct kms_caller *c, enum kms_op op,
		  const char *body, size_t len, double now, struct kms_reply *out)
{
	static const char *const etype[] = { "", "UnknownOperationException",
		"SerializationException", "ValidationException",
		"UnsupportedOperationException" };
	struct kms_request r;
	char err[256];
	struct call x = { .k = k, .c = c, .r = &r, .out = out, .now = now };
	int rc;

	memset(out, 0, sizeof(*out));
	rc = kms_request_parse(op, body, len, &r, err, sizeof(err));
	if (rc) {
		kms_reply_error(out, 400, etype[-rc], err);
		return;
	}
	out->context_keys = context_keys(&r);
	if (check_attestation(&x) == 0 && run_op(&x) == 0) {
		out->status = 200;
		out->body = x.resp ? json_dumps(x.resp, JSON_COMPACT) : NULL;
		if (!out->body)
			kms_reply_error(out, 500, "KMSInternalException", "out of memory");
		else
			out->len = strlen(out->body);
	} else if (!out->body) {
		kms_reply_error(out, 500, "KMSInternalException", "internal error");
	}
	/* Responses may carry plaintext keys: scrub the tree's strings. */
	if (x.resp) {
		json_t *pt = json_object_get(x.resp, "Plaintext");

		if (pt)
			OPENSSL_cleanse((char *)json_string_value(pt), json_string_length(pt));
		json_decref(x.resp);
	}
	recipient_att_clear(&x.att);
	kms_request_free(&r);
}

/* ---- maintenance ---- */

struct sweep_ctx {
	struct kms *k;
	double now;
	int n;
};

static void sweep_delete(void *arg, const char *id)
{
	struct sweep_ctx *s = arg;
	char label[HSM_LABEL_MAX];
	struct kms_key key;

	if (store_key_get(s->k->store, id, &key))
		return;
	/* Material first: once the row is gone nobody would retry. */
	for (uint32_t v = 1; v <= key.version; v++) {
		label_of(id, v, label);
		hsm_key_destroy(s->k->hsm, s->k->sess, label);
	}
	handles_forget(s->k, id);
	if (store_key_delete(s->k->store, id) == 0) {
		log_info("key deleted", "key=%s versions=%u", id, key.version);
		s->n++;
	}
	store_key_clear(&key);
}

static void sweep_rotate(void *arg, const char *id)
{
	struct sweep_ctx *s = arg;
	struct kms_key key;

	if (store_key_get(s->k->store, id, &key))
		return;
	if (rotate(s->k, id, key.version, s->now) == 0)
		s->n++;
	store_key_clear(&key);
}

int kms_sweep(struct kms *k, double now)
{
	struct sweep_ctx s = { k, now, 0 };

	if (store_keys_due(k->store, now, 1, sweep_delete, &s) < 0 ||
	    store_keys_due(k->store, now, 0, sweep_rotate, &s) < 0)
		return -EIO;
	return s.n;
}

/* ---- principals ---- */

#define SECRET_AAD "ward-kms principal secret v1:"

static int wrap_aad(const char *akid, uint8_t *aad)
{
	size_t n = strlen(SECRET_AAD), m = strlen(akid);

	memcpy(aad, SECRET_AAD, n);
	memcpy(aad + n, akid, m);
	return (int)(n + m);
}

int kms_add_user(struct kms *k, const char *name, const char *policy,
		 char akid[21], char secret[41])
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct kms_principal p = { 0 };
	uint8_t rnd[56], aad[96], wrapped[12 + 16 + 40];
	int alen, rc;

	if (strlen(name) == 0 || strlen(name) >= sizeof(p.name))
		return -EINVAL;
	if (hsm_random(k->hsm, k->sess, rnd, sizeof(rnd)))
		return -EIO;
	memcpy(akid, "AKIA", 4);
	for (int i = 0; i < 16; i++)
		akid[4 + i] = alpha[rnd[i] & 31];
	akid[20] = '\0';
	for (int i = 0; i < 40; i++)
		secret[i] = b64[rnd[16 + i] & 63];
	secret[40] = '\0';
	OPENSSL_cleanse(rnd, sizeof(rnd));
	/* The secret is kept sealed by the HSM wrap key: the database alone
	 * cannot sign requests. */
	alen = wrap_aad(akid, aad);
	if (RAND_bytes(wrapped, 12) != 1 ||
	    hsm_gcm_encrypt(k->hsm, k->sess, k->wrap_key, wrapped, aad, (size_t)alen,
			    (const uint8_t *)secret, 40, wrapped + 28, wrapped + 12))
		return -EIO;
	snprintf(p.name, sizeof(p.name), "%s", name);
	kms_principal_arn(k, PRINCIPAL_USER, name, p.arn);
	p.kind = PRINCIPAL_USER;
	memcpy(p.akid, akid, 21);
	p.secret_wrapped = wrapped;
	p.secret_wrapped_len = sizeof(wrapped);
	p.policy = (char *)policy;
	rc = store_principal_insert(k->store, &p);
	return rc;
}

int kms_user_secret(struct kms *k, const struct kms_principal *p, char *secret,
		    size_t cap)
{
	uint8_t aad[96];
	size_t n;
	int alen;

	if (!p->secret_wrapped || p->secret_wrapped_len <= 28)
		return -EINVAL;
	n = p->secret_wrapped_len - 28;
	if (n + 1 > cap)
		return -ENOSPC;
	alen = wrap_aad(p->akid, aad);
	if (hsm_gcm_decrypt(k->hsm, k->sess, k->wrap_key, p->secret_wrapped, aad, (size_t)alen,
			    p->secret_wrapped + 28, n, p->secret_wrapped + 12,
			    (uint8_t *)secret))
		return -EACCES;
	secret[n] = '\0';
	return 0;
}

int kms_add_host(struct kms *k, const char *name, const char *cert_subject,
		 const uint8_t pub[65], const char *policy)
{
	struct kms_principal p = { 0 };

	if (strlen(name) == 0 || strlen(name) >= sizeof(p.name))
		return -EINVAL;
	snprintf(p.name, sizeof(p.name), "%s", name);
	kms_principal_arn(k, PRINCIPAL_HOST, name, p.arn);
	p.kind = PRINCIPAL_HOST;
	p.cert_subject = (char *)cert_subject;
	memcpy(p.pubkey, pub, 65);
	p.pubkey_len = 65;
	p.policy = (char *)policy;
	return store_principal_insert(k->store, &p);
}

/* ---- lifetime ---- */

int kms_open(const struct kms_config *cfg, struct kms **out)
{
	struct kms *k = calloc(1, sizeof(*k));
	int rc;

	if (!k)
		return -ENOMEM;
	snprintf(k->region, sizeof(k->region), "%s", cfg->region);
	snprintf(k->account, sizeof(k->account), "%s", cfg->account);
	if (cfg->attest_root) {
		char err[256];

		k->attest_root = recipient_load_root(cfg->attest_root, err, sizeof(err));
		if (!k->attest_root) {
			log_error("attestation root unusable", "err=\"%s\"", err);
			free(k);
			return -EINVAL;
		}
	}
	k->scratch_len = SCRATCH_LEN;
	k->scratch = secmem_alloc(SCRATCH_LEN);
	k->sigkeys = secmem_alloc(KMS_SIGKEY_CACHE * sizeof(struct kms_sigkey));
	rc = -ENOMEM;
	if (!k->scratch || !k->sigkeys)
		goto err;
	k->hsm = cfg->hsm;
	k->sess = cfg->sess;
	if (!k->hsm) {
		rc = hsm_open(cfg->module, cfg->token_label, cfg->pin, 1, &k->hsm);
		if (rc)
			goto err;
		k->own_hsm = 1;
		k->sess = 0;
	}
	rc = store_open(cfg->db_path, &k->store);
	if (rc)
		goto err_hsm;
	rc = hsm_key_find(k->hsm, k->sess, KMS_WRAP_LABEL, &k->wrap_key);
	if (rc == -ENOENT)
		rc = hsm_key_create(k->hsm, k->sess, KMS_WRAP_LABEL, &k->wrap_key);
	if (rc)
		goto err_store;
	*out = k;
	return 0;
err_store:
	store_close(k->store);
err_hsm:
	if (k->own_hsm)
		hsm_close(k->hsm);
err:
	X509_free(k->attest_root);
	secmem_free(k->scratch, SCRATCH_LEN);
	secmem_free(k->sigkeys, KMS_SIGKEY_CACHE * sizeof(struct kms_sigkey));
	free(k);
	return rc;
}

void kms_close(struct kms *k)
{
	if (!k)
		return;
	for (unsigned i = 0; i < KMS_POLICY_CACHE; i++) {
		free(k->policies[i].text);
		json_decref(k->policies[i].doc);
	}
	for (unsigned i = 0; i < KMS_ROW_CACHE; i++) {
		store_key_clear(&k->keys[i].key);
		store_principal_clear(&k->principals[i].p);
	}
	store_close(k->store);
	if (k->own_hsm)
		hsm_close(k->hsm);
	X509_free(k->attest_root);
	secmem_free(k->scratch, SCRATCH_LEN);
	secmem_free(k->sigkeys, KMS_SIGKEY_CACHE * sizeof(struct kms_sigkey));
	free(k);
}
