/* store: ward-kms metadata in SQLite — keys and their versions, grants,
 * principals and forward access sessions. WAL + synchronous=FULL: a call is
 * acknowledged only after its transaction is durable, so a crash at any
 * point loses no acknowledged key or grant. Single-writer: the server. */
#ifndef WARD_KMS_STORE_H
#define WARD_KMS_STORE_H

#include <stddef.h>
#include <stdint.h>

enum key_state { KEY_ENABLED = 0, KEY_DISABLED, KEY_PENDING_DELETION };

struct kms_key {
	char id[37];
	char *description;
	char *policy;		/* key policy JSON text */
	double created;
	enum key_state state;
	uint32_t version;	/* current (newest) version */
	int rotation;
	int rotation_days;
	double last_rotated;
	double deletion_date;	/* when state == KEY_PENDING_DELETION */
	int pending_days;
};

/* Grant operations as a bit mask. */
enum {
	GRANT_OP_DECRYPT = 1 << 0,
	GRANT_OP_ENCRYPT = 1 << 1,
	GRANT_OP_GENERATE_DATA_KEY = 1 << 2,
	GRANT_OP_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT = 1 << 3,
	GRANT_OP_RE_ENCRYPT_FROM = 1 << 4,
	GRANT_OP_RE_ENCRYPT_TO = 1 << 5,
	GRANT_OP_CREATE_GRANT = 1 << 6,
	GRANT_OP_RETIRE_GRANT = 1 << 7,
	GRANT_OP_DESCRIBE_KEY = 1 << 8,
};

struct kms_grant {
	char id[65];
	char key_id[37];
	char *token;
	char *name;
	char *grantee;		/* principal ARN */
	char *retiring;		/* principal ARN or NULL */
	char *issuer;		/* principal ARN that created it */
	char *constraints;	/* JSON text or NULL */
	unsigned ops;
	double created;
};

enum principal_kind { PRINCIPAL_USER = 0, PRINCIPAL_HOST = 1 };

struct kms_principal {
	char name[65];
	char arn[160];
	enum principal_kind kind;
	char akid[33];		/* users */
	uint8_t *secret_wrapped;	/* users: HSM-sealed secret access key */
	size_t secret_wrapped_len;
	char *policy;		/* identity policy JSON text or NULL */
	char *cert_subject;	/* hosts: mTLS client certificate subject */
	uint8_t pubkey[65];	/* hosts: P-256 uncompressed point for HPKE */
	size_t pubkey_len;
};

struct store;

int store_open(const char *path, struct store **out);
/* Incremented by every write: lets callers cache rows safely. */
uint64_t store_generation(const struct store *s);
void store_close(struct store *s);

void store_key_clear(struct kms_key *k);
int store_key_insert(struct store *s, const struct kms_key *k);
int store_key_get(struct store *s, const char *id, struct kms_key *out);	/* -ENOENT */
/* Calls cb for every key id in id order after `after` (NULL: from the start),
 * at most limit; *more set when keys remain. */
int store_key_list(struct store *s, const char *after, unsigned limit,
		   void (*cb)(void *arg, const char *id), void *arg, int *more);
int store_key_set_state(struct store *s, const char *id, enum key_state st,
			double deletion_date, int pending_days);
int store_key_set_policy(struct store *s, const char *id, const char *policy);
int store_key_set_rotation(struct store *s, const char *id, int on, int days);
int store_key_add_version(struct store *s, const char *id, uint32_t version, double now);
int store_key_delete(struct store *s, const char *id);
/* Ids of keys due for deletion / rotation at `now`. */
int store_keys_due(struct store *s, double now, int deletion,
		   void (*cb)(void *arg, const char *id), void *arg);

void store_grant_clear(struct kms_grant *g);
int store_grant_insert(struct store *s, const struct kms_grant *g);
int store_grant_get(struct store *s, const char *id, struct kms_grant *out);
int store_grant_by_token(struct store *s, const char *token, struct kms_grant *out);
int store_grant_delete(struct store *s, const char *id);
/* Every grant of key_id (grantee NULL) or only those for grantee. cb returns
 * nonzero to stop. */
int store_grant_foreach(struct store *s, const char *key_id, const char *grantee,
			int (*cb)(void *arg, const struct kms_grant *g), void *arg);

void store_principal_clear(struct kms_principal *p);
int store_principal_insert(struct store *s, const struct kms_principal *p);
int store_principal_by_akid(struct store *s, const char *akid, struct kms_principal *out);
int store_principal_by_name(struct store *s, const char *name, struct kms_principal *out);
int store_principal_by_subject(struct store *s, const char *subject, struct kms_principal *out);
int store_principal_by_arn(struct store *s, const char *arn, struct kms_principal *out);
int store_principal_set_policy(struct store *s, const char *name, const char *policy);
/* Every principal of one kind, by name; the wrapped secret is not read
 * (secret_wrapped stays NULL). cb returns nonzero to stop. */
int store_principal_foreach(struct store *s, enum principal_kind kind,
			    int (*cb)(void *arg, const struct kms_principal *p), void *arg);

/* Forward access sessions: token hash -> caller, key, expiry; single use. */
int store_fas_insert(struct store *s, const uint8_t hash[32], const char *caller_arn,
		     const char *key_id, double expires);
/* Marks the session used and returns its caller; -ENOENT when unknown,
 * expired, already used or minted for another key. */
int store_fas_consume(struct store *s, const uint8_t hash[32], const char *key_id,
		      double now, char caller_arn[160]);
/* Records that the attestation document with payload hash id released key
 * material; it may be forgotten after `expires`. -EEXIST: it already did
 * (a replay). Rows past their time are dropped on the way. */
int store_attest_consume(struct store *s, const uint8_t id[32], double expires, double now);

#endif
