/* request: table-driven, strict parsing of KMS JSON 1.1 request bodies.
 * Types are checked exactly (wrong type → ValidationException), unknown
 * members are refused, sizes follow the AWS KMS API reference limits. */
#include "request.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "store.h"

enum fid {
	F_KEY_ID, F_DESCRIPTION, F_POLICY, F_KEY_USAGE, F_CMK_SPEC, F_KEY_SPEC_CMK,
	F_ORIGIN, F_BYPASS, F_TAGS, F_MULTI_REGION, F_LIMIT, F_MARKER, F_EC,
	F_NUMBER_OF_BYTES, F_KEY_SPEC_DK, F_GRANT_TOKENS, F_RECIPIENT, F_DRY_RUN,
	F_PLAINTEXT, F_ALGORITHM, F_BLOB, F_GRANTEE, F_RETIRING, F_OPERATIONS,
	F_CONSTRAINTS, F_NAME, F_GRANT_ID, F_GRANT_TOKEN, F_PENDING_DAYS,
	F_ROTATION_DAYS, F_POLICY_NAME, F_FAS, F_CALLER, F_DURATION, F_CUSTOM_KEY_STORE, F_END
};

static const char *const fname[F_END] = {
	[F_KEY_ID] = "KeyId", [F_DESCRIPTION] = "Description", [F_POLICY] = "Policy",
	[F_KEY_USAGE] = "KeyUsage", [F_CMK_SPEC] = "CustomerMasterKeySpec",
	[F_KEY_SPEC_CMK] = "KeySpec", [F_ORIGIN] = "Origin",
	[F_BYPASS] = "BypassPolicyLockoutSafetyCheck", [F_TAGS] = "Tags",
	[F_MULTI_REGION] = "MultiRegion", [F_LIMIT] = "Limit", [F_MARKER] = "Marker",
	[F_EC] = "EncryptionContext", [F_NUMBER_OF_BYTES] = "NumberOfBytes",
	[F_KEY_SPEC_DK] = "KeySpec", [F_GRANT_TOKENS] = "GrantTokens",
	[F_RECIPIENT] = "Recipient", [F_DRY_RUN] = "DryRun", [F_PLAINTEXT] = "Plaintext",
	[F_ALGORITHM] = "EncryptionAlgorithm", [F_BLOB] = "CiphertextBlob",
	[F_GRANTEE] = "GranteePrincipal", [F_RETIRING] = "RetiringPrincipal",
	[F_OPERATIONS] = "Operations", [F_CONSTRAINTS] = "Constraints", [F_NAME] = "Name",
	[F_GRANT_ID] = "GrantId", [F_GRANT_TOKEN] = "GrantToken",
	[F_PENDING_DAYS] = "PendingWindowInDays", [F_ROTATION_DAYS] = "RotationPeriodInDays",
	[F_POLICY_NAME] = "PolicyName", [F_FAS] = "ForwardAccessSession",
	[F_CALLER] = "CallerPrincipal", [F_DURATION] = "DurationSeconds",
	[F_CUSTOM_KEY_STORE] = "CustomKeyStoreId",
};

/* Per operation: accepted members, required ones flagged by REQ(). */
#define REQ(f) ((f) | 0x100)
#define FMASK 0xff

static const int op_fields[OP_COUNT][16] = {
	[OP_CREATE_KEY] = { F_POLICY, F_DESCRIPTION, F_KEY_USAGE, F_CMK_SPEC,
		F_KEY_SPEC_CMK, F_ORIGIN, F_BYPASS, F_TAGS, F_MULTI_REGION, -1 },
	[OP_DESCRIBE_KEY] = { REQ(F_KEY_ID), F_GRANT_TOKENS, -1 },
	[OP_LIST_KEYS] = { F_LIMIT, F_MARKER, -1 },
	[OP_ENABLE_KEY] = { REQ(F_KEY_ID), -1 },
	[OP_DISABLE_KEY] = { REQ(F_KEY_ID), -1 },
	[OP_GENERATE_DATA_KEY] = { REQ(F_KEY_ID), F_EC, F_NUMBER_OF_BYTES,
		F_KEY_SPEC_DK, F_GRANT_TOKENS, F_RECIPIENT, F_DRY_RUN, -1 },
	[OP_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT] = { REQ(F_KEY_ID), F_EC,
		F_NUMBER_OF_BYTES, F_KEY_SPEC_DK, F_GRANT_TOKENS, F_DRY_RUN, -1 },
	[OP_ENCRYPT] = { REQ(F_KEY_ID), REQ(F_PLAINTEXT), F_EC, F_GRANT_TOKENS,
		F_ALGORITHM, F_DRY_RUN, -1 },
	[OP_DECRYPT] = { REQ(F_BLOB), F_EC, F_GRANT_TOKENS, F_KEY_ID, F_ALGORITHM,
		F_RECIPIENT, F_DRY_RUN, F_FAS, -1 },
	[OP_CREATE_GRANT] = { REQ(F_KEY_ID), REQ(F_GRANTEE), REQ(F_OPERATIONS),
		F_RETIRING, F_CONSTRAINTS, F_GRANT_TOKENS, F_NAME, F_DRY_RUN, -1 },
	[OP_LIST_GRANTS] = { REQ(F_KEY_ID), F_LIMIT, F_MARKER, F_GRANT_ID, F_GRANTEE, -1 },
	[OP_RETIRE_GRANT] = { F_GRANT_TOKEN, F_KEY_ID, F_GRANT_ID, F_DRY_RUN, -1 },
	[OP_REVOKE_GRANT] = { REQ(F_KEY_ID), REQ(F_GRANT_ID), F_DRY_RUN, -1 },
	[OP_ENABLE_KEY_ROTATION] = { REQ(F_KEY_ID), F_ROTATION_DAYS, -1 },
	[OP_DISABLE_KEY_ROTATION] = { REQ(F_KEY_ID), -1 },
	[OP_GET_KEY_ROTATION_STATUS] = { REQ(F_KEY_ID), -1 },
	[OP_ROTATE_KEY_ON_DEMAND] = { REQ(F_KEY_ID), -1 },
	[OP_SCHEDULE_KEY_DELETION] = { REQ(F_KEY_ID), F_PENDING_DAYS, -1 },
	[OP_CANCEL_KEY_DELETION] = { REQ(F_KEY_ID), -1 },
	[OP_GET_KEY_POLICY] = { REQ(F_KEY_ID), F_POLICY_NAME, -1 },
	[OP_PUT_KEY_POLICY] = { REQ(F_KEY_ID), REQ(F_POLICY), F_POLICY_NAME, F_BYPASS, -1 },
	[OP_CREATE_FORWARD_ACCESS_SESSION] = { REQ(F_KEY_ID), REQ(F_CALLER), F_DURATION, -1 },
	[OP_GENERATE_RANDOM] = { F_NUMBER_OF_BYTES, F_RECIPIENT, F_CUSTOM_KEY_STORE, -1 },
};

static const char *const op_names[OP_COUNT] = {
	[OP_CREATE_KEY] = "CreateKey", [OP_DESCRIBE_KEY] = "DescribeKey",
	[OP_LIST_KEYS] = "ListKeys", [OP_ENABLE_KEY] = "EnableKey",
	[OP_DISABLE_KEY] = "DisableKey", [OP_GENERATE_DATA_KEY] = "GenerateDataKey",
	[OP_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT] = "GenerateDataKeyWithoutPlaintext",
	[OP_ENCRYPT] = "Encrypt", [OP_DECRYPT] = "Decrypt",
	[OP_CREATE_GRANT] = "CreateGrant", [OP_LIST_GRANTS] = "ListGrants",
	[OP_RETIRE_GRANT] = "RetireGrant", [OP_REVOKE_GRANT] = "RevokeGrant",
	[OP_ENABLE_KEY_ROTATION] = "EnableKeyRotation",
	[OP_DISABLE_KEY_ROTATION] = "DisableKeyRotation",
	[OP_GET_KEY_ROTATION_STATUS] = "GetKeyRotationStatus",
	[OP_ROTATE_KEY_ON_DEMAND] = "RotateKeyOnDemand",
	[OP_SCHEDULE_KEY_DELETION] = "ScheduleKeyDeletion",
	[OP_CANCEL_KEY_DELETION] = "CancelKeyDeletion",
	[OP_GET_KEY_POLICY] = "GetKeyPolicy", [OP_PUT_KEY_POLICY] = "PutKeyPolicy",
	[OP_CREATE_FORWARD_ACCESS_SESSION] = "CreateForwardAccessSession",
	[OP_GENERATE_RANDOM] = "GenerateRandom",
};

static const struct { const char *name; unsigned bit; } grant_ops[] = {
	{ "Decrypt", GRANT_OP_DECRYPT },
	{ "Encrypt", GRANT_OP_ENCRYPT },
	{ "GenerateDataKey", GRANT_OP_GENERATE_DATA_KEY },
	{ "GenerateDataKeyWithoutPlaintext", GRANT_OP_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT },
	{ "ReEncryptFrom", GRANT_OP_RE_ENCRYPT_FROM },
	{ "ReEncryptTo", GRANT_OP_RE_ENCRYPT_TO },
	{ "CreateGrant", GRANT_OP_CREATE_GRANT },
	{ "RetireGrant", GRANT_OP_RETIRE_GRANT },
	{ "DescribeKey", GRANT_OP_DESCRIBE_KEY },
};

int kms_op_from_target(const char *target, enum kms_op *op)
{
	static const char prefix[] = "TrentService.";

	if (!target || strncmp(target, prefix, sizeof(prefix) - 1) != 0)
		return -ENOENT;
	target += sizeof(prefix) - 1;
	for (int i = 0; i < OP_COUNT; i++)
		if (strcmp(target, op_names[i]) == 0) {
			*op = (enum kms_op)i;
			return 0;
		}
	return -ENOENT;
}

const char *kms_op_name(enum kms_op op)
{
	return op < OP_COUNT ? op_names[op] : "?";
}

int kms_grant_op_bit(const char *name, unsigned *bit)
{
	for (size_t i = 0; i < sizeof(grant_ops) / sizeof(grant_ops[0]); i++)
		if (strcmp(name, grant_ops[i].name) == 0) {
			*bit = grant_ops[i].bit;
			return 0;
		}
	return -EINVAL;
}

json_t *kms_grant_ops_json(unsigned ops)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < sizeof(grant_ops) / sizeof(grant_ops[0]); i++)
		if (ops & grant_ops[i].bit)
			json_array_append_new(a, json_string(grant_ops[i].name));
	return a;
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long kms_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	size_t o = 0;

	if (len % 4)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;
		uint32_t w;

		for (int j = 0; j < 4; j++) {
			if (in[i + j] == '=' && i + 4 == len && j >= 2 &&
			    (j == 3 || in[i + 3] == '=')) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad || (v[j] = b64_val(in[i + j])) < 0)
				return -1;
		}
		/* For Eva: each padding count on its own, so the output bound
		 * below is exact for each (docs/proofs.md). */
		//@ split pad;
		w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		if (o + 3 - (size_t)pad > cap)
			return -1;
		out[o++] = (uint8_t)(w >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(w >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)w;
	}
	return (long)o;
}

char *kms_b64_encode(const uint8_t *in, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

struct pctx {
	struct kms_request *r;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3)))
static int verr(struct pctx *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
	return REQ_VALIDATION;
}

static int get_str(struct pctx *p, const char *name, json_t *v, size_t min,
		   size_t max, const char **out)
{
	size_t n;

	if (!json_is_string(v))
		return verr(p, "%s must be a string", name);
	n = json_string_length(v);
	if (n < min || n > max || strlen(json_string_value(v)) != n)
		return verr(p, "%s has an invalid length", name);
	*out = json_string_value(v);
	return 0;
}

static int get_int(struct pctx *p, const char *name, json_t *v, long min, long max,
		   long *out)
{
	if (!json_is_integer(v))
		return verr(p, "%s must be an integer", name);
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return verr(p, "%s is out of range", name);
	*out = (long)json_integer_value(v);
	return 0;
}

static int get_b64(struct pctx *p, const char *name, json_t *v, size_t max,
		   uint8_t **out, size_t *out_len)
{
	const char *s;
	size_t n;
	long got;

	if (!json_is_string(v))
		return verr(p, "%s must be a base64 string", name);
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n > 4 * ((max + 2) / 3))
		return verr(p, "%s has an invalid length", name);
	*out = malloc(n / 4 * 3 + 3);
	if (!*out)
		return verr(p, "%s: out of memory", name);
	got = kms_b64_decode(s, n, *out, n / 4 * 3 + 3);
	if (got <= 0 || (size_t)got > max) {
		OPENSSL_cleanse(*out, n / 4 * 3 + 3);
		free(*out);
		*out = NULL;
		return verr(p, "%s is not valid base64 of 1 to the maximum bytes", name);
	}
	*out_len = (size_t)got;
	return 0;
}

/* An encryption context (or grant constraint): object of string values. */
static int get_ec(struct pctx *p, const char *name, json_t *v, struct ec_pair *pairs,
		  size_t *n)
{
	const char *k;
	json_t *val;
	size_t total = 0;

	if (!json_is_object(v))
		return verr(p, "%s must be a map of strings", name);
	*n = 0;
	json_object_foreach(v, k, val) {
		if (*n == REQ_MAX_EC)
			return verr(p, "%s has too many entries", name);
		if (!json_is_string(val))
			return verr(p, "%s values must be strings", name);
		pairs[*n].key = k;
		pairs[*n].klen = strlen(k);
		pairs[*n].value = json_string_value(val);
		pairs[*n].vlen = json_string_length(val);
		if (pairs[*n].klen == 0 || strlen(pairs[*n].value) != pairs[*n].vlen)
			return verr(p, "%s keys must be non-empty strings without NUL", name);
		total += pairs[*n].klen + pairs[*n].vlen;
		(*n)++;
	}
	if (total > 8192)
		return verr(p, "%s is larger than 8192 bytes", name);
	return 0;
}

static int get_enum(struct pctx *p, const char *name, json_t *v, const char *want)
{
	const char *s = NULL;
	int rc = get_str(p, name, v, 1, 64, &s);

	if (rc)
		return rc;
	if (strcmp(s, want) != 0) {
		snprintf(p->err, p->errlen, "%s: only %s is supported", name, want);
		return REQ_UNSUPPORTED;
	}
	return 0;
}

/* Two forms: AWS's {KeyEncryptionAlgorithm: RSAES_OAEP_SHA_256,
 * AttestationDocument} (an enclave, docs/enclaves.md) and ward's
 * {KeyEncryptionAlgorithm: HPKE_P256_SHA256_AES256GCM, HostId} (a host's
 * registered key, docs/attach.md). The algorithm must fit the form. */
static int get_recipient(struct pctx *p, json_t *v)
{
	const char *k, *alg = NULL;
	json_t *val;

	if (!json_is_object(v))
		return verr(p, "%s must be an object", "Recipient");
	json_object_foreach(v, k, val) {
		int rc;

		if (json_is_null(val))
			continue;
		if (strcmp(k, "KeyEncryptionAlgorithm") == 0) {
			rc = get_str(p, "Recipient.KeyEncryptionAlgorithm", val, 1, 64, &alg);
		} else if (strcmp(k, "HostId") == 0) {
			rc = get_str(p, "Recipient.HostId", val, 1, 64, &p->r->recipient_host);
		} else if (strcmp(k, "AttestationDocument") == 0) {
			rc = get_b64(p, "Recipient.AttestationDocument", val, REQ_MAX_ATTESTATION_DOC,
				     &p->r->attestation_doc, &p->r->attestation_doc_len);
		} else {
			return verr(p, "Recipient: unknown member %.64s", k);
		}
		if (rc)
			return rc;
	}
	if (!alg || !p->r->recipient_host == !p->r->attestation_doc)
		return verr(p, "%s needs KeyEncryptionAlgorithm and one of AttestationDocument, "
			    "HostId", "Recipient");
	if (strcmp(alg, p->r->attestation_doc ? "RSAES_OAEP_SHA_256"
					      : "HPKE_P256_SHA256_AES256GCM") != 0) {
		snprintf(p->err, p->errlen, "Recipient.KeyEncryptionAlgorithm: only %s is "
			 "supported with %s", p->r->attestation_doc ? "RSAES_OAEP_SHA_256" :
			 "HPKE_P256_SHA256_AES256GCM", p->r->attestation_doc ?
			 "AttestationDocument" : "HostId");
		return REQ_UNSUPPORTED;
	}
	return 0;
}

static int get_constraints(struct pctx *p, json_t *v)
{
	const char *k;
	json_t *val;

	if (!json_is_object(v) || json_object_size(v) != 1)
		return verr(p, "%s must hold exactly one of EncryptionContextSubset, "
			    "EncryptionContextEquals", "Constraints");
	json_object_foreach(v, k, val) {
		if (strcmp(k, "EncryptionContextSubset") == 0)
			p->r->constraint = 1;
		else if (strcmp(k, "EncryptionContextEquals") == 0)
			p->r->constraint = 2;
		else
			return verr(p, "Constraints: unknown member %.64s", k);
		return get_ec(p, k, val, p->r->cons, &p->r->n_cons);
	}
	return 0;
}

static int get_tags(struct pctx *p, json_t *v)
{
	size_t i;
	json_t *t;

	if (!json_is_array(v) || json_array_size(v) > 50)
		return verr(p, "%s must be a list of at most 50 tags", "Tags");
	json_array_foreach(v, i, t) {
		const char *k, *s = NULL;
		json_t *val;

		if (!json_is_object(t))
			return verr(p, "%s entries must be objects", "Tags");
		json_object_foreach(t, k, val) {
			if ((strcmp(k, "TagKey") && strcmp(k, "TagValue")) ||
			    get_str(p, k, val, strcmp(k, "TagKey") ? 0 : 1, 256, &s))
				return verr(p, "%s entries take TagKey and TagValue strings", "Tags");
		}
	}
	return 0;
}

static int field(struct pctx *p, enum fid f, json_t *v)
{
	struct kms_request *r = p->r;
	const char *name = fname[f], *s = NULL;
	long n;
	int rc = 0;

	switch (f) {
	case F_KEY_ID: return get_str(p, name, v, 1, 2048, &r->key_id);
	case F_DESCRIPTION: return get_str(p, name, v, 0, 8192, &r->description);
	case F_POLICY: return get_str(p, name, v, 1, 32768, &r->policy);
	case F_POLICY_NAME:
		rc = get_str(p, name, v, 1, 128, &r->policy_name);
		if (!rc && strcmp(r->policy_name, "default") != 0)
			return verr(p, "%s must be \"default\"", name);
		return rc;
	case F_KEY_USAGE: return get_enum(p, name, v, "ENCRYPT_DECRYPT");
	case F_CMK_SPEC: case F_KEY_SPEC_CMK: return get_enum(p, name, v, "SYMMETRIC_DEFAULT");
	case F_ORIGIN: return get_enum(p, name, v, "AWS_KMS");
	case F_ALGORITHM: return get_enum(p, name, v, "SYMMETRIC_DEFAULT");
	case F_BYPASS:
		if (!json_is_boolean(v))
			return verr(p, "%s must be a boolean", name);
		return 0;
	case F_MULTI_REGION:
		if (!json_is_boolean(v))
			return verr(p, "%s must be a boolean", name);
		if (json_is_true(v)) {
			snprintf(p->err, p->errlen, "multi-Region keys are not supported");
			return REQ_UNSUPPORTED;
		}
		return 0;
	case F_DRY_RUN:
		if (!json_is_boolean(v))
			return verr(p, "%s must be a boolean", name);
		r->dry_run = json_is_true(v);
		return 0;
	case F_TAGS: return get_tags(p, v);
	case F_LIMIT:
		rc = get_int(p, name, v, 1, 1000, &n);
		r->limit = (unsigned)n;
		return rc;
	case F_MARKER: return get_str(p, name, v, 1, 1024, &r->marker);
	case F_EC:
		r->has_ec = 1;
		return get_ec(p, name, v, r->ec, &r->n_ec);
	case F_NUMBER_OF_BYTES:
		if (r->has_key_spec)
			return verr(p, "specify either KeySpec or NumberOfBytes, not both%s", "");
		rc = get_int(p, name, v, 1, 1024, &n);
		r->number_of_bytes = (unsigned)n;
		return rc;
	case F_KEY_SPEC_DK:
		rc = get_str(p, name, v, 1, 16, &s);
		if (rc)
			return rc;
		if (strcmp(s, "AES_256") == 0)
			n = 32;
		else if (strcmp(s, "AES_128") == 0)
			n = 16;
		else
			return verr(p, "%s must be AES_256 or AES_128", name);
		if (r->number_of_bytes)
			return verr(p, "specify either KeySpec or NumberOfBytes, not both%s", "");
		r->number_of_bytes = (unsigned)n;
		r->has_key_spec = 1;
		return 0;
	case F_GRANT_TOKENS: {
		size_t i;
		json_t *e;

		if (!json_is_array(v) || json_array_size(v) > REQ_MAX_GRANT_TOKENS)
			return verr(p, "%s must be a list of at most 10 tokens", name);
		json_array_foreach(v, i, e)
			if ((rc = get_str(p, name, e, 1, 8192, &r->grant_tokens[i])))
				return rc;
		r->n_grant_tokens = json_array_size(v);
		return 0;
	}
	case F_RECIPIENT: return get_recipient(p, v);
	case F_PLAINTEXT:
		return get_b64(p, name, v, BLOB_MAX_PLAINTEXT, &r->plaintext, &r->plaintext_len);
	case F_BLOB:
		return get_b64(p, name, v, 6144, &r->blob, &r->blob_len);
	case F_GRANTEE: return get_str(p, name, v, 1, 256, &r->grantee);
	case F_RETIRING: return get_str(p, name, v, 1, 256, &r->retiring);
	case F_NAME: return get_str(p, name, v, 1, 256, &r->grant_name);
	case F_GRANT_ID: return get_str(p, name, v, 1, 128, &r->grant_id);
	case F_GRANT_TOKEN: return get_str(p, name, v, 1, 8192, &r->grant_token);
	case F_OPERATIONS: {
		size_t i;
		json_t *e;
		unsigned bit;

		if (!json_is_array(v) || json_array_size(v) == 0)
			return verr(p, "%s must be a non-empty list", name);
		json_array_foreach(v, i, e) {
			if (!json_is_string(e) || kms_grant_op_bit(json_string_value(e), &bit))
				return verr(p, "%s holds an unknown grant operation", name);
			r->grant_ops |= bit;
		}
		return 0;
	}
	case F_CONSTRAINTS: return get_constraints(p, v);
	case F_PENDING_DAYS:
		rc = get_int(p, name, v, 7, 30, &n);
		r->pending_days = (int)n;
		return rc;
	case F_ROTATION_DAYS:
		rc = get_int(p, name, v, 90, 2560, &n);
		r->rotation_days = (int)n;
		return rc;
	case F_FAS: return get_str(p, name, v, 16, 256, &r->fas_token);
	case F_CALLER: return get_str(p, name, v, 1, 256, &r->caller_arn);
	case F_DURATION:
		rc = get_int(p, name, v, 1, 300, &n);
		r->duration = (int)n;
		return rc;
	case F_CUSTOM_KEY_STORE:
		snprintf(p->err, p->errlen, "custom key stores are not supported");
		return REQ_UNSUPPORTED;
	case F_END: break;
	}
	return verr(p, "unexpected member %s", name);
}

int kms_request_parse(enum kms_op op, const char *body, size_t len,
		      struct kms_request *r, char *err, size_t errlen)
{
	struct pctx p = { r, err, errlen };
	json_error_t jerr;
	const char *k;
	json_t *v;
	int rc;

	memset(r, 0, sizeof(*r));
	r->op = op;
	err[0] = '\0';
	if (op >= OP_COUNT) {
		snprintf(err, errlen, "unknown operation");
		return REQ_UNKNOWN_OP;
	}
	if (len > REQ_MAX_BODY) {
		snprintf(err, errlen, "request body too large");
		return REQ_VALIDATION;
	}
	/* An empty body is an empty request object (some SDKs send none). */
	if (len == 0) {
		r->root = json_object();
	} else {
		r->root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
		if (!r->root || !json_is_object(r->root)) {
			snprintf(err, errlen, "request body is not a JSON object");
			kms_request_free(r);
			return REQ_SERIALIZATION;
		}
	}
	json_object_foreach(r->root, k, v) {
		int f = -1;

		/* Null members mean "absent" in the JSON 1.1 protocol. */
		if (json_is_null(v))
			continue;
		for (const int *fp = op_fields[op]; *fp != -1; fp++)
			if (strcmp(fname[*fp & FMASK], k) == 0) {
				f = *fp & FMASK;
				break;
			}
		if (f < 0) {
			snprintf(err, errlen, "unknown member %.64s for %s", k, op_names[op]);
			kms_request_free(r);
			return REQ_VALIDATION;
		}
		rc = field(&p, (enum fid)f, v);
		if (rc) {
			kms_request_free(r);
			return rc;
		}
	}
	for (const int *fp = op_fields[op]; *fp != -1; fp++) {
		json_t *m;

		if (!(*fp & 0x100))
			continue;
		m = json_object_get(r->root, fname[*fp & FMASK]);
		if (!m || json_is_null(m)) {
			snprintf(err, errlen, "%s is required", fname[*fp & FMASK]);
			kms_request_free(r);
			return REQ_VALIDATION;
		}
	}
	if ((op == OP_GENERATE_DATA_KEY || op == OP_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT ||
	     op == OP_GENERATE_RANDOM)) {
		if (!r->number_of_bytes) {
			snprintf(err, errlen, op == OP_GENERATE_RANDOM ? "NumberOfBytes is required"
				 : "specify either KeySpec or NumberOfBytes");
			kms_request_free(r);
			return REQ_VALIDATION;
		}
	}
	if (op == OP_RETIRE_GRANT && !r->grant_token && !(r->key_id && r->grant_id)) {
		snprintf(err, errlen, "RetireGrant needs GrantToken or KeyId and GrantId");
		kms_request_free(r);
		return REQ_VALIDATION;
	}
	return REQ_OK;
}

void kms_request_free(struct kms_request *r)
{
	if (r->plaintext) {
		OPENSSL_cleanse(r->plaintext, r->plaintext_len);
		free(r->plaintext);
	}
	free(r->blob);
	free(r->attestation_doc);
	json_decref(r->root);
	r->plaintext = r->blob = r->attestation_doc = NULL;
	r->root = NULL;
}
