/* request: the one parser of ward-kms request bodies (AWS KMS JSON 1.1).
 * Each operation has its own table of accepted members and their types;
 * anything else is refused, so handlers only ever see validated structs. */
#ifndef WARD_KMS_REQUEST_H
#define WARD_KMS_REQUEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "blob.h"

#define REQ_MAX_BODY 65536
#define REQ_MAX_EC 64
#define REQ_MAX_GRANT_TOKENS 10
/* Recipient.AttestationDocument: AWS allows up to 256 KiB; a Nitro
 * document is about 4.5 KiB and ward's attest.h limits bound one to
 * well under this. */
#define REQ_MAX_ATTESTATION_DOC 16384

enum kms_op {
	OP_CREATE_KEY, OP_DESCRIBE_KEY, OP_LIST_KEYS, OP_ENABLE_KEY, OP_DISABLE_KEY,
	OP_GENERATE_DATA_KEY, OP_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT, OP_ENCRYPT,
	OP_DECRYPT, OP_CREATE_GRANT, OP_LIST_GRANTS, OP_RETIRE_GRANT, OP_REVOKE_GRANT,
	OP_ENABLE_KEY_ROTATION, OP_DISABLE_KEY_ROTATION, OP_GET_KEY_ROTATION_STATUS,
	OP_ROTATE_KEY_ON_DEMAND, OP_SCHEDULE_KEY_DELETION, OP_CANCEL_KEY_DELETION,
	OP_GET_KEY_POLICY, OP_PUT_KEY_POLICY, OP_CREATE_FORWARD_ACCESS_SESSION,
	OP_GENERATE_RANDOM, OP_COUNT
};

enum req_error {
	REQ_OK = 0,
	REQ_UNKNOWN_OP = -1,	/* UnknownOperationException */
	REQ_SERIALIZATION = -2,	/* SerializationException: not a JSON object */
	REQ_VALIDATION = -3,	/* ValidationException */
	REQ_UNSUPPORTED = -4,	/* UnsupportedOperationException */
};

struct kms_request {
	enum kms_op op;
	json_t *root;		/* owns every string below */

	const char *key_id, *description, *policy, *policy_name, *marker;
	struct ec_pair ec[REQ_MAX_EC];
	size_t n_ec;
	int has_ec;
	uint8_t *plaintext;	/* wiped and freed by kms_request_free */
	size_t plaintext_len;
	uint8_t *blob;
	size_t blob_len;
	unsigned number_of_bytes;	/* 0: not given */
	int has_key_spec;	/* KeySpec given (it sets number_of_bytes) */
	const char *grant_tokens[REQ_MAX_GRANT_TOKENS];
	size_t n_grant_tokens;
	const char *recipient_host;	/* Recipient.HostId (HPKE to a host) */
	uint8_t *attestation_doc;	/* Recipient.AttestationDocument (CMS to an enclave) */
	size_t attestation_doc_len;
	const char *grantee, *retiring, *grant_name, *grant_id, *grant_token;
	unsigned grant_ops;
	int constraint;		/* 0 none, 1 subset, 2 equals */
	struct ec_pair cons[REQ_MAX_EC];
	size_t n_cons;
	unsigned limit;		/* 0: not given */
	int pending_days;	/* 0: not given */
	int rotation_days;	/* RotationPeriodInDays; 0: not given */
	int dry_run;
	const char *fas_token, *caller_arn;
	int duration;
};

/* Maps "TrentService.Decrypt" (the X-Amz-Target value) to an op. */
int kms_op_from_target(const char *target, enum kms_op *op);
const char *kms_op_name(enum kms_op op);

/* Parses body for op; on error returns a req_error and writes a message
 * fit for the client (never containing secret input) into err. */
int kms_request_parse(enum kms_op op, const char *body, size_t len,
		      struct kms_request *out, char *err, size_t errlen);
void kms_request_free(struct kms_request *r);

/* Grant operation names <-> bits (store.h GRANT_OP_*). */
int kms_grant_op_bit(const char *name, unsigned *bit);
json_t *kms_grant_ops_json(unsigned ops);

/* Strict base64 (RFC 4648, padded). Returns decoded length or -1. */
long kms_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap);
/* Returns a malloc'd NUL-terminated encoding. */
char *kms_b64_encode(const uint8_t *in, size_t len);

#endif
