/* Unit tests of ward-kms's pure parts: policy evaluation (explicit deny
 * wins), the encryption-context encoding (AWS Encryption SDK
 * framework/structures.md) and blob layout, and the strict request parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "blob.h"
#include "policy.h"
#include "request.h"

#define ALICE "arn:aws:iam::111122223333:user/alice"
#define BOB "arn:aws:iam::111122223333:user/bob"
#define KEY "arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b"

static json_t *doc(const char *s)
{
	json_t *d = json_loads(s, 0, NULL);
	char err[256];

	assert_non_null(d);
	assert_int_equal(policy_validate(d, POLICY_KEY, err, sizeof(err)), 0);
	return d;
}

static void test_policy_deny_wins(void **state)
{
	json_t *d = doc("{\"Statement\":["
		"{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"*\"},\"Action\":\"kms:*\",\"Resource\":\"*\"},"
		"{\"Effect\":\"Deny\",\"Principal\":{\"AWS\":[\"" BOB "\"]},\"Action\":\"kms:Decrypt\",\"Resource\":\"*\"}]}");

	assert_int_equal(policy_eval(d, POLICY_KEY, ALICE, "kms:Decrypt", KEY, NULL), POLICY_ALLOW);
	assert_int_equal(policy_eval(d, POLICY_KEY, BOB, "kms:Decrypt", KEY, NULL), POLICY_DENY);
	assert_int_equal(policy_eval(d, POLICY_KEY, BOB, "kms:Encrypt", KEY, NULL), POLICY_ALLOW);
	/* Deny in one document beats Allow in another. */
	assert_int_equal(policy_combine(POLICY_ALLOW, POLICY_DENY), POLICY_DENY);
	assert_int_equal(policy_combine(POLICY_DENY, POLICY_ALLOW), POLICY_DENY);
	assert_int_equal(policy_combine(POLICY_NONE, POLICY_ALLOW), POLICY_ALLOW);
	assert_int_equal(policy_combine(POLICY_NONE, POLICY_NONE), POLICY_NONE);
	json_decref(d);
}

static void test_policy_matching(void **state)
{
	json_t *d = doc("{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
		"\"Principal\":{\"AWS\":\"" ALICE "\"},\"Action\":[\"kms:Generate*\",\"KMS:decrypt\"],"
		"\"Resource\":\"arn:aws:kms:us-east-1:111122223333:key/0f1e*\"}}");

	assert_int_equal(policy_eval(d, POLICY_KEY, ALICE, "kms:GenerateDataKey", KEY, NULL), POLICY_ALLOW);
	assert_int_equal(policy_eval(d, POLICY_KEY, ALICE, "kms:Decrypt", KEY, NULL), POLICY_ALLOW);
	assert_int_equal(policy_eval(d, POLICY_KEY, ALICE, "kms:Encrypt", KEY, NULL), POLICY_NONE);
	assert_int_equal(policy_eval(d, POLICY_KEY, BOB, "kms:Decrypt", KEY, NULL), POLICY_NONE);
	assert_int_equal(policy_eval(d, POLICY_KEY, ALICE, "kms:Decrypt",
				     "arn:aws:kms:us-east-1:111122223333:key/aaaa", NULL), POLICY_NONE);
	assert_int_equal(policy_eval(NULL, POLICY_KEY, ALICE, "kms:Decrypt", KEY, NULL), POLICY_NONE);
	assert_true(policy_match("a*b?c", "aXXbYc", 0));
	assert_false(policy_match("a*b?c", "aXXbc", 0));
	assert_true(policy_match("*", "", 0));
	json_decref(d);
}

static void test_policy_grammar(void **state)
{
	static const char *const bad[] = {
		"[]",
		"{\"Statement\":[]}",
		"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:*\"}]}",
		"{\"Statement\":[{\"Effect\":\"Permit\",\"Principal\":\"*\",\"Action\":\"kms:*\",\"Resource\":\"*\"}]}",
		"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"NotAction\":\"kms:*\",\"Resource\":\"*\"}]}",
		"{\"Statement\":[{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"kms:*\",\"Resource\":\"*\",\"Condition\":{}}]}",
		"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"x\"},\"Action\":\"kms:*\",\"Resource\":\"*\"}]}",
		"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":[],\"Resource\":\"*\"}]}",
		"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":[1],\"Resource\":\"*\"}]}",
		"{\"Bogus\":1,\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"a\",\"Resource\":\"*\"}]}",
	};
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *d = json_loads(bad[i], 0, NULL);

		assert_int_equal(policy_validate(d, POLICY_KEY, err, sizeof(err)), -22);
		json_decref(d);
	}
	/* Identity policies may not name principals; key policies must. */
	json_t *d = json_loads("{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"kms:*\",\"Resource\":\"*\"}}", 0, NULL);
	assert_int_equal(policy_validate(d, POLICY_IDENTITY, err, sizeof(err)), 0);
	assert_int_equal(policy_validate(d, POLICY_KEY, err, sizeof(err)), -22);
	assert_int_equal(policy_eval(d, POLICY_IDENTITY, BOB, "kms:Decrypt", KEY, NULL), POLICY_ALLOW);
	json_decref(d);
}

static void test_ec_encoding(void **state)
{
	struct ec_pair p[] = {
		{ "b", "2", 1, 1 }, { "a", "1", 1, 1 }, { "aa", "", 2, 0 },
	};
	static const uint8_t want[] = {
		0x00, 0x03,
		0x00, 0x01, 'a', 0x00, 0x01, '1',
		0x00, 0x02, 'a', 'a', 0x00, 0x00,
		0x00, 0x01, 'b', 0x00, 0x01, '2',
	};
	uint8_t out[64];
	size_t len;

	assert_int_equal(blob_ec_encode(p, 3, out, sizeof(out), &len), 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	/* The empty context serialises to nothing at all. */
	assert_int_equal(blob_ec_encode(p, 0, out, sizeof(out), &len), 0);
	assert_int_equal(len, 0);
	/* Duplicate keys are refused; so is a too-small buffer. */
	struct ec_pair dup[] = { { "k", "1", 1, 1 }, { "k", "2", 1, 1 } };
	assert_int_equal(blob_ec_encode(dup, 2, out, sizeof(out), &len), -22);
	struct ec_pair big[] = { { "k", "0123456789", 1, 10 } };
	assert_int_equal(blob_ec_encode(big, 1, out, 8, &len), -28);
	/* Sorting is by bytes, so UTF-8 multi-byte keys sort after ASCII. */
	struct ec_pair u[] = { { "\xc3\xa9", "x", 2, 1 }, { "z", "y", 1, 1 } };
	assert_int_equal(blob_ec_encode(u, 2, out, sizeof(out), &len), 0);
	assert_int_equal(out[4], 'z');
}

static void test_blob_layout(void **state)
{
	const char *id = "0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b";
	uint8_t iv[12], tag[16], ct[5] = { 1, 2, 3, 4, 5 }, hdr[BLOB_HEADER_LEN], buf[128];
	struct blob b;
	size_t n;

	memset(iv, 0xaa, sizeof(iv));
	memset(tag, 0xbb, sizeof(tag));
	assert_int_equal(blob_header(id, 0x01020304, iv, hdr), 0);
	n = blob_assemble(hdr, tag, ct, sizeof(ct), buf, sizeof(buf));
	assert_int_equal(n, BLOB_OVERHEAD + 5);
	assert_int_equal(buf[0], BLOB_VERSION);
	assert_int_equal(blob_parse(buf, n, &b), 0);
	assert_string_equal(b.key_id, id);
	assert_int_equal(b.key_version, 0x01020304);
	assert_memory_equal(b.iv, iv, 12);
	assert_memory_equal(b.tag, tag, 16);
	assert_memory_equal(b.ct, ct, 5);
	assert_int_equal(b.ct_len, 5);

	assert_int_equal(blob_parse(buf, BLOB_OVERHEAD, &b), -22);	/* no ciphertext */
	buf[0] = 2;
	assert_int_equal(blob_parse(buf, n, &b), -22);			/* version */
	buf[0] = BLOB_VERSION;
	buf[5] = 'X';
	assert_int_equal(blob_parse(buf, n, &b), -22);			/* key id */
	buf[5] = id[4];
	memset(buf + 37, 0, 4);
	assert_int_equal(blob_parse(buf, n, &b), -22);			/* version 0 */
	assert_int_equal(blob_header("not-a-uuid", 1, iv, hdr), -22);
}

static void test_request_parser(void **state)
{
	struct kms_request r;
	char err[256];
	enum kms_op op;

	assert_int_equal(kms_op_from_target("TrentService.Decrypt", &op), 0);
	assert_int_equal(op, OP_DECRYPT);
	assert_int_not_equal(kms_op_from_target("TrentService.Bogus", &op), 0);
	assert_int_not_equal(kms_op_from_target("Decrypt", &op), 0);

	const char *ok = "{\"KeyId\":\"k\",\"KeySpec\":\"AES_256\",\"EncryptionContext\":{\"a\":\"b\"},"
		"\"GrantTokens\":[\"t\"],\"Recipient\":{\"KeyEncryptionAlgorithm\":"
		"\"HPKE_P256_SHA256_AES256GCM\",\"HostId\":\"h\"}}";
	assert_int_equal(kms_request_parse(OP_GENERATE_DATA_KEY, ok, strlen(ok), &r, err, sizeof(err)), 0);
	assert_int_equal(r.number_of_bytes, 32);
	assert_int_equal(r.n_ec, 1);
	assert_string_equal(r.recipient_host, "h");
	/* KeySpec is its own flag, not a value smuggled into another field. */
	assert_true(r.has_key_spec);
	assert_int_equal(r.rotation_days, 0);
	kms_request_free(&r);
	const char *nb = "{\"KeyId\":\"k\",\"NumberOfBytes\":24}";
	assert_int_equal(kms_request_parse(OP_GENERATE_DATA_KEY, nb, strlen(nb), &r, err, sizeof(err)), 0);
	assert_int_equal(r.number_of_bytes, 24);
	assert_false(r.has_key_spec);
	kms_request_free(&r);
	const char *rot = "{\"KeyId\":\"k\",\"RotationPeriodInDays\":90}";
	assert_int_equal(kms_request_parse(OP_ENABLE_KEY_ROTATION, rot, strlen(rot), &r, err, sizeof(err)), 0);
	assert_int_equal(r.rotation_days, 90);
	kms_request_free(&r);

	static const struct { enum kms_op op; const char *body; int want; } bad[] = {
		{ OP_ENCRYPT, "{\"KeyId\":\"k\",\"Plaintext\":\"aGk=\",\"X\":1}", REQ_VALIDATION },
		{ OP_ENCRYPT, "{\"KeyId\":\"k\"}", REQ_VALIDATION },
		{ OP_ENCRYPT, "{\"KeyId\":\"k\",\"Plaintext\":\"aGk\"}", REQ_VALIDATION },
		{ OP_ENCRYPT, "{\"KeyId\":\"k\",\"Plaintext\":\"a=Gk\"}", REQ_VALIDATION },
		{ OP_ENCRYPT, "{\"KeyId\":7,\"Plaintext\":\"aGk=\"}", REQ_VALIDATION },
		{ OP_ENCRYPT, "{\"KeyId\":\"k\",\"Plaintext\":\"aGk=\",\"EncryptionContext\":{\"a\":1}}", REQ_VALIDATION },
		{ OP_ENCRYPT, "{\"KeyId\":\"k\",\"KeyId\":\"j\",\"Plaintext\":\"aGk=\"}", REQ_SERIALIZATION },
		{ OP_ENCRYPT, "[1]", REQ_SERIALIZATION },
		{ OP_ENCRYPT, "{", REQ_SERIALIZATION },
		{ OP_GENERATE_DATA_KEY, "{\"KeyId\":\"k\"}", REQ_VALIDATION },
		{ OP_GENERATE_DATA_KEY, "{\"KeyId\":\"k\",\"KeySpec\":\"AES_256\",\"NumberOfBytes\":32}", REQ_VALIDATION },
		{ OP_GENERATE_DATA_KEY, "{\"KeyId\":\"k\",\"NumberOfBytes\":32,\"KeySpec\":\"AES_256\"}", REQ_VALIDATION },
		{ OP_GENERATE_DATA_KEY, "{\"KeyId\":\"k\",\"NumberOfBytes\":1025}", REQ_VALIDATION },
		{ OP_GENERATE_DATA_KEY, "{\"KeyId\":\"k\",\"NumberOfBytes\":32,\"Recipient\":{\"HostId\":\"h\"}}", REQ_VALIDATION },
		{ OP_CREATE_KEY, "{\"KeySpec\":\"RSA_2048\"}", REQ_UNSUPPORTED },
		{ OP_CREATE_GRANT, "{\"KeyId\":\"k\",\"GranteePrincipal\":\"p\",\"Operations\":[\"Fly\"]}", REQ_VALIDATION },
		{ OP_CREATE_GRANT, "{\"KeyId\":\"k\",\"GranteePrincipal\":\"p\",\"Operations\":[\"Decrypt\"],"
		  "\"Constraints\":{\"EncryptionContextSubset\":{},\"EncryptionContextEquals\":{}}}", REQ_VALIDATION },
		{ OP_SCHEDULE_KEY_DELETION, "{\"KeyId\":\"k\",\"PendingWindowInDays\":6}", REQ_VALIDATION },
		{ OP_RETIRE_GRANT, "{\"GrantId\":\"g\"}", REQ_VALIDATION },
		{ OP_COUNT, "{}", REQ_UNKNOWN_OP },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = kms_request_parse(bad[i].op, bad[i].body, strlen(bad[i].body), &r, err,
					   sizeof(err));

		if (rc != bad[i].want)
			fail_msg("case %zu (%s): got %d want %d (%s)", i, bad[i].body, rc, bad[i].want, err);
		assert_true(err[0] != '\0');
	}
}

static void test_base64(void **state)
{
	uint8_t out[16];

	assert_int_equal(kms_b64_decode("aGVsbG8=", 8, out, sizeof(out)), 5);
	assert_memory_equal(out, "hello", 5);
	assert_int_equal(kms_b64_decode("aGk=", 4, out, sizeof(out)), 2);
	assert_int_equal(kms_b64_decode("aA==", 4, out, sizeof(out)), 1);
	assert_int_equal(kms_b64_decode("aA=a", 4, out, sizeof(out)), -1);
	assert_int_equal(kms_b64_decode("a===", 4, out, sizeof(out)), -1);
	assert_int_equal(kms_b64_decode("aGk=aGk=", 8, out, sizeof(out)), -1);
	assert_int_equal(kms_b64_decode("aG!=", 4, out, sizeof(out)), -1);
	char *e = kms_b64_encode((const uint8_t *)"hello", 5);
	assert_string_equal(e, "aGVsbG8=");
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_deny_wins),
		cmocka_unit_test(test_policy_matching),
		cmocka_unit_test(test_policy_grammar),
		cmocka_unit_test(test_ec_encoding),
		cmocka_unit_test(test_blob_layout),
		cmocka_unit_test(test_request_parser),
		cmocka_unit_test(test_base64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
