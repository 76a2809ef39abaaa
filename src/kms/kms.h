/* kms: the ward-kms service core — one context holding the HSM, the
 * metadata store and small caches, and the dispatcher that runs one
 * authenticated KMS call. Transport (HTTPS, SigV4, mTLS) is in server.c/auth.c. */
#ifndef WARD_KMS_KMS_H
#define WARD_KMS_KMS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "hsm.h"
#include "request.h"
#include "store.h"

#define KMS_WRAP_LABEL "ward-kms/principal-wrap"
#define KMS_HPKE_INFO "ward-kms recipient v1"
#define KMS_HANDLE_CACHE 1024
#define KMS_SIGKEY_CACHE 64
#define KMS_POLICY_CACHE 64
#define KMS_ROW_CACHE 256
#define KMS_PRINCIPAL_TTL 2.0	/* admin CLI changes show within this */

struct kms_config {
	const char *db_path;
	const char *module;
	const char *token_label;
	const char *pin;
	const char *region;
	const char *account;
	struct hsm *hsm;	/* shared HSM (not owned) or NULL to open one */
	unsigned sess;		/* this context's HSM session */
	/* PEM of the ward attestation root that Recipient.AttestationDocument
	 * must chain to; NULL: such a Recipient is refused. */
	const char *attest_root;
};

struct kms_sigkey {
	char akid[33];
	char scope[144];	/* date/region/service */
	uint8_t key[32];
};

struct kms {
	struct store *store;
	struct hsm *hsm;
	int own_hsm;
	unsigned sess;
	char region[32];
	char account[16];
	unsigned long wrap_key;
	X509 *attest_root;	/* NULL: no AttestationDocument accepted */
	uint8_t *scratch;	/* secmem: plaintext data keys live only here */
	size_t scratch_len;
	struct {
		char id[37];
		uint32_t version;
		unsigned long handle;
	} handles[KMS_HANDLE_CACHE];
	struct kms_sigkey *sigkeys;	/* secmem, KMS_SIGKEY_CACHE entries */
	unsigned sigkey_next;
	/* Parsed policies by text: parsing JSON per request was a hot spot. */
	struct {
		char *text;
		json_t *doc;
	} policies[KMS_POLICY_CACHE];
	/* Key rows, valid while the store's write generation is unchanged
	 * (this process is the only writer of keys). */
	struct {
		uint64_t gen;
		struct kms_key key;
	} keys[KMS_ROW_CACHE];
	/* Principal rows by access key id, also bounded by a short TTL since
	 * the admin CLI may add principals or policies while we run. */
	struct {
		uint64_t gen;
		double loaded;
		struct kms_principal p;
	} principals[KMS_ROW_CACHE];
};

/* Cached lookups (copies the caller must clear). */
int kms_key_get(struct kms *k, const char *id, struct kms_key *out);
int kms_principal_by_akid(struct kms *k, const char *akid, double now,
			  struct kms_principal *out);
/* A parsed, cached policy document (owned by the cache) or NULL. */
const json_t *kms_policy_doc(struct kms *k, const char *text);

/* Who is calling: an authenticated user (SigV4) or host (mTLS). */
struct kms_caller {
	char arn[160];
	char name[65];
	enum principal_kind kind;
	char *policy;		/* identity policy text or NULL (owned) */
};

/* The outcome of a call: HTTP status and a JSON body (malloc'd). */
struct kms_reply {
	int status;
	char *body;
	size_t len;
	const char *error;	/* AWS error type, NULL on success */
	/* What the call touched, for the activity trail (server.c, trail.h):
	 * ids and names only, never values or key material. */
	char key_id[37];	/* the key it resolved, "" if none */
	char grant_id[65];	/* the grant that allowed it or that it created */
	char *context_keys;	/* JSON array of the encryption context's keys (malloc'd) */
	/* The attested recipient, as CloudTrail records it: a JSON object of
	 * the document's module id and image measurements, "" if none. */
	char recipient[1024];
};

int kms_open(const struct kms_config *cfg, struct kms **out);
void kms_close(struct kms *k);

/* Runs op for caller on body. now: seconds since the epoch. */
void kms_dispatch(struct kms *k, const struct kms_caller *c, enum kms_op op,
		  const char *body, size_t len, double now, struct kms_reply *out);

/* Builds an AWS JSON 1.1 error reply. */
void kms_reply_error(struct kms_reply *out, int status, const char *type,
		     const char *msg);

/* Deletes keys whose waiting period ended and rotates keys due for it. */
int kms_sweep(struct kms *k, double now);

/* Principals (admin CLI). The secret is sealed with the HSM wrap key. */
int kms_add_user(struct kms *k, const char *name, const char *policy,
		 char akid[21], char secret[41]);
int kms_add_host(struct kms *k, const char *name, const char *cert_subject,
		 const uint8_t pub[65], const char *policy);
int kms_user_secret(struct kms *k, const struct kms_principal *p, char *secret,
		    size_t cap);
void kms_caller_clear(struct kms_caller *c);
void kms_principal_arn(const struct kms *k, enum principal_kind kind,
		       const char *name, char arn[160]);
void kms_key_arn(const struct kms *k, const char *id, char arn[128]);

double kms_now(void);

#endif
