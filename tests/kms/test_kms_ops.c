/* test_kms_ops: ward-kms operations run in-process (kms_dispatch) against a
 * throw-away SoftHSM2 token and SQLite store — what must happen when the
 * random generator fails, and grants whose stored constraints are damaged. */
#define OPENSSL_SUPPRESS_DEPRECATED	/* RAND_METHOD: the one way to make RAND_bytes fail */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/rand.h>

#include "kms.h"

#define ALICE "arn:aws:iam::111122223333:user/alice"
#define BOB "arn:aws:iam::111122223333:user/bob"

static char dir[] = "/tmp/ward-kms-ops.XXXXXX";
static struct kms *k;
static struct kms_caller alice = { ALICE, "alice", PRINCIPAL_USER,
	"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
	"\"Action\":\"kms:*\",\"Resource\":\"*\"}]}" };
static struct kms_caller bob = { BOB, "bob", PRINCIPAL_USER, NULL };

/* ---- a generator that fails on its n-th call ---- */

static int rand_calls, rand_fail_at;

static int bad_bytes(unsigned char *buf, int num)
{
	if (++rand_calls == rand_fail_at)
		return 0;
	return RAND_OpenSSL()->bytes(buf, num);
}

static int bad_status(void)
{
	return 1;
}

static const RAND_METHOD bad_rand = { NULL, bad_bytes, NULL, NULL, bad_bytes, bad_status };

static void rand_fail_on(int nth)
{
	rand_calls = 0;
	rand_fail_at = nth;
	assert_int_equal(RAND_set_rand_method(&bad_rand), 1);
}

static void rand_restore(void)
{
	assert_int_equal(RAND_set_rand_method(RAND_OpenSSL()), 1);
}

/* ---- calls ---- */

static int call(const struct kms_caller *c, enum kms_op op, const char *body, json_t **resp)
{
	struct kms_reply out;

	kms_dispatch(k, c, op, body, strlen(body), kms_now(), &out);
	*resp = out.body ? json_loadb(out.body, out.len, 0, NULL) : NULL;
	free(out.body);
	free(out.context_keys);
	return out.status;
}

static void expect_error(int status, json_t *resp, int want_status, const char *type)
{
	assert_int_equal(status, want_status);
	assert_non_null(resp);
	assert_string_equal(json_string_value(json_object_get(resp, "__type")), type);
}

static char *create_key(void)
{
	json_t *r;
	char *id;

	assert_int_equal(call(&alice, OP_CREATE_KEY, "{}", &r), 200);
	id = strdup(json_string_value(json_object_get(json_object_get(r, "KeyMetadata"), "KeyId")));
	json_decref(r);
	assert_non_null(id);
	return id;
}

static size_t count_keys(void)
{
	json_t *r;
	size_t n;

	assert_int_equal(call(&alice, OP_LIST_KEYS, "{\"Limit\":1000}", &r), 200);
	n = json_array_size(json_object_get(r, "Keys"));
	json_decref(r);
	return n;
}

static size_t count_grants(const char *key_id)
{
	char body[128];
	json_t *r;
	size_t n;

	snprintf(body, sizeof(body), "{\"KeyId\":\"%s\"}", key_id);
	assert_int_equal(call(&alice, OP_LIST_GRANTS, body, &r), 200);
	n = json_array_size(json_object_get(r, "Grants"));
	json_decref(r);
	return n;
}

/* ---- the generator fails: no id, no token, the request fails ---- */

static void test_rand_fail_create_key(void **st)
{
	size_t before = count_keys();
	json_t *r;
	int s;

	/* The first draw is the key id (the HSM draws later, for material). */
	rand_fail_on(1);
	s = call(&alice, OP_CREATE_KEY, "{}", &r);
	rand_restore();
	expect_error(s, r, 500, "KMSInternalException");
	json_decref(r);
	assert_int_equal(count_keys(), before);
}

static void test_rand_fail_grant(void **st)
{
	char *id = create_key(), body[512];
	json_t *r;
	int s;

	snprintf(body, sizeof(body), "{\"KeyId\":\"%s\",\"GranteePrincipal\":\"" BOB "\","
		 "\"Operations\":[\"Encrypt\"]}", id);
	/* 1: the grant id, 2: the grant token. */
	for (int nth = 1; nth <= 2; nth++) {
		rand_fail_on(nth);
		s = call(&alice, OP_CREATE_GRANT, body, &r);
		rand_restore();
		expect_error(s, r, 500, "KMSInternalException");
		assert_null(json_object_get(r, "GrantToken"));
		json_decref(r);
		assert_int_equal(count_grants(id), 0);
	}
	/* The same request with a working generator succeeds. */
	assert_int_equal(call(&alice, OP_CREATE_GRANT, body, &r), 200);
	assert_non_null(json_object_get(r, "GrantToken"));
	json_decref(r);
	assert_int_equal(count_grants(id), 1);
	free(id);
}

static void test_rand_fail_fas(void **st)
{
	char *id = create_key(), body[512];
	json_t *r;
	int s;

	snprintf(body, sizeof(body), "{\"KeyId\":\"%s\",\"CallerPrincipal\":\"" BOB "\"}", id);
	rand_fail_on(1);
	s = call(&alice, OP_CREATE_FORWARD_ACCESS_SESSION, body, &r);
	rand_restore();
	expect_error(s, r, 500, "KMSInternalException");
	assert_null(json_object_get(r, "SessionToken"));
	json_decref(r);
	assert_int_equal(call(&alice, OP_CREATE_FORWARD_ACCESS_SESSION, body, &r), 200);
	assert_non_null(json_object_get(r, "SessionToken"));
	json_decref(r);
	free(id);
}

/* ---- grants whose stored constraints are damaged confer nothing ---- */

static int bob_encrypt(const char *key_id, const char *ec)
{
	char body[4096];
	json_t *r;
	int s;

	snprintf(body, sizeof(body), "{\"KeyId\":\"%s\",\"Plaintext\":\"aGk=\","
		 "\"EncryptionContext\":%s}", key_id, ec);
	s = call(&bob, OP_ENCRYPT, body, &r);
	if (s != 200)
		expect_error(s, r, 400, "AccessDeniedException");
	json_decref(r);
	return s;
}

static void with_grant(const char *key_id, const char *constraints)
{
	struct kms_grant g = { .ops = GRANT_OP_ENCRYPT, .created = 1 };

	snprintf(g.id, sizeof(g.id), "%064x", 0);
	memcpy(g.key_id, key_id, 37);
	g.token = "test-token";
	g.grantee = BOB;
	g.issuer = ALICE;
	g.constraints = (char *)constraints;
	store_grant_delete(k->store, g.id);
	assert_int_equal(store_grant_insert(k->store, &g), 0);
}

static void test_grant_malformed_constraints(void **st)
{
	char *id = create_key(), big_cons[4096], big_ec[4096];
	size_t n, m;
	static const char *const bad[] = {
		/* A non-string value: matching stopped there, and {"a":"1"} matched. */
		"{\"EncryptionContextSubset\":{\"a\":\"1\",\"b\":2}}",
		"{\"EncryptionContextSubset\":{\"a\":\"1\",\"b\":null}}",
		"{\"EncryptionContextSubset\":{\"a\":\"1\"},\"X\":1}",
		"{\"EncryptionContextSubset\":[\"a\"]}",
		"{\"EncryptionContextSubset\":{\"a\":\"1\",\"a\":\"1\"}}",
		"{\"Bogus\":{\"a\":\"1\"}}",
		"[]",
		"{\"EncryptionContextSubset\":{\"a\":\"1\"",
	};

	/* The well-formed grant works, so a refusal below is the constraint's. */
	with_grant(id, "{\"EncryptionContextSubset\":{\"a\":\"1\"}}");
	assert_int_equal(bob_encrypt(id, "{\"a\":\"1\"}"), 200);
	assert_int_equal(bob_encrypt(id, "{\"a\":\"2\"}"), 400);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		with_grant(id, bad[i]);
		if (bob_encrypt(id, "{\"a\":\"1\"}") != 400)
			fail_msg("grant with constraints %s was honoured", bad[i]);
	}
	/* One pair more than a request may carry: the 65th ("z") was never
	 * compared, so a context with the first 64 satisfied the grant. */
	n = (size_t)snprintf(big_cons, sizeof(big_cons), "{\"EncryptionContextSubset\":{");
	m = (size_t)snprintf(big_ec, sizeof(big_ec), "{");
	for (int i = 0; i < REQ_MAX_EC; i++) {
		n += (size_t)snprintf(big_cons + n, sizeof(big_cons) - n, "\"k%02d\":\"v\",", i);
		m += (size_t)snprintf(big_ec + m, sizeof(big_ec) - m, "%s\"k%02d\":\"v\"",
				      i ? "," : "", i);
	}
	snprintf(big_cons + n, sizeof(big_cons) - n, "\"z\":\"secret\"}}");
	snprintf(big_ec + m, sizeof(big_ec) - m, "}");
	with_grant(id, big_cons);
	assert_int_equal(bob_encrypt(id, big_ec), 400);
	free(id);
}

/* ---- set-up: a private SoftHSM2 token and database ---- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **st)
{
	char path[256], akid[21], secret[41];
	struct kms_config cfg = { .module = HSM_DEFAULT_MODULE, .token_label = "ward-test",
		.pin = "1234", .region = "us-east-1", .account = "111122223333" };
	FILE *f;

	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/tokens", dir);
	if (mkdir(path, 0700))
		return -1;
	snprintf(path, sizeof(path), "%s/softhsm2.conf", dir);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "directories.tokendir = %s/tokens\nobjectstore.backend = file\n"
		"log.level = ERROR\n", dir);
	fclose(f);
	setenv("SOFTHSM2_CONF", path, 1);
	if (hsm_init_token(cfg.module, cfg.token_label, "87654321", cfg.pin))
		return -1;
	snprintf(path, sizeof(path), "%s/kms.db", dir);
	cfg.db_path = path;
	if (kms_open(&cfg, &k))
		return -1;
	/* bob exists as a principal: forward access sessions name him. */
	return kms_add_user(k, "bob", NULL, akid, secret) ? -1 : 0;
}

static int teardown(void **st)
{
	kms_close(k);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rand_fail_create_key),
		cmocka_unit_test(test_rand_fail_grant),
		cmocka_unit_test(test_rand_fail_fas),
		cmocka_unit_test(test_grant_malformed_constraints),
	};

	if (access(HSM_DEFAULT_MODULE, R_OK)) {
		printf("SKIP: the SoftHSM2 PKCS#11 module %s is not installed\n", HSM_DEFAULT_MODULE);
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
