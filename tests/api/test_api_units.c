/* test_api_units: ward-api's parsers and building blocks in-process —
 * the strict Query form parser, the XML writer's escaping, the store
 * interface on SQLite (transactions roll back), and sealing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api.h"
#include "query.h"
#include "seal.h"
#include "store.h"
#include "xml.h"

static const struct {
	const char *body;
	const char *err_has;	/* NULL: accepted */
} qcases[] = {
	{ "Action=CreateUser&Version=2010-05-08&UserName=bob", NULL },
	{ "", NULL },
	{ "Action=A&Empty=", NULL },
	{ "Flag", NULL },
	{ "Policy=%7B%22a%22%3A1%7D+x", NULL },
	{ "Name=caf%C3%A9", NULL },
	{ "Action=A&Action=B", "given twice" },
	{ "Action=A&&B=c", "empty parameter" },
	{ "Action=A&", "trailing" },
	{ "A=%4", "malformed" },
	{ "A=%G1", "malformed" },
	{ "A=%00", "NUL" },
	{ "A=%C3%28", "UTF-8" },
	{ "A=%ED%A0%80", "UTF-8" },		/* a surrogate */
	{ "A=%C0%AF", "UTF-8" },		/* overlong '/' */
	{ "A b=c", "unencoded" },
	{ "A=b\nc", "unencoded" },
	{ "=v", "not valid" },
	{ "a%2Fb=v", "not valid" },
};

static void test_query(void **state)
{
	struct query q;
	char err[128];

	for (size_t i = 0; i < sizeof(qcases) / sizeof(qcases[0]); i++) {
		int rc = query_parse(qcases[i].body, strlen(qcases[i].body), &q, err, sizeof(err));

		if (!qcases[i].err_has) {
			if (rc)
				printf("\"%s\" refused: %s\n", qcases[i].body, err);
			assert_int_equal(rc, 0);
			query_free(&q);
		} else {
			if (rc != -EINVAL || !strstr(err, qcases[i].err_has))
				printf("\"%s\": rc=%d err=%s\n", qcases[i].body, rc, err);
			assert_int_equal(rc, -EINVAL);
			assert_non_null(strstr(err, qcases[i].err_has));
		}
	}
	assert_int_equal(query_parse("Policy=%7B%22a%22%3A1%7D+x&Flag", 31, &q, err, sizeof(err)), 0);
	assert_string_equal(query_get(&q, "Policy"), "{\"a\":1} x");
	assert_string_equal(query_get(&q, "Flag"), "");
	assert_null(query_get(&q, "policy"));	/* names are case-sensitive */
	query_free(&q);
}

static void test_query_limits(void **state)
{
	char body[QUERY_MAX_PARAMS * 8 + 16], err[128];
	struct query q;
	size_t n = 0;

	for (int i = 0; i <= QUERY_MAX_PARAMS; i++)
		n += (size_t)sprintf(body + n, "%sa%d=1", i ? "&" : "", i);
	assert_int_equal(query_parse(body, n, &q, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "more than"));
	assert_int_equal(query_parse(body, QUERY_MAX_BODY + 1, &q, err, sizeof(err)), -EINVAL);
}

static void test_query_escape(void **state)
{
	char *e = query_escape("{\"a\": \"b/c~\"}");

	assert_string_equal(e, "%7B%22a%22%3A%20%22b%2Fc~%22%7D");
	free(e);
}

static char *render(const char *text)
{
	struct xml x;
	char *out;
	size_t len;

	xml_init(&x);
	xml_text(&x, "M", text);
	assert_int_equal(xml_finish(&x, &out, &len), 0);
	assert_int_equal(strlen(out), len);
	return out;
}

static void test_xml(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain", "<M>plain</M>" },
		{ "</M><Code>x</Code>", "<M>&lt;/M&gt;&lt;Code&gt;x&lt;/Code&gt;</M>" },
		{ "a&b\"c'd", "<M>a&amp;b&quot;c&apos;d</M>" },
		{ "tab\tnl\ncr\r", "<M>tab\tnl\ncr&#13;</M>" },
		{ "bell\x07", "<M>bell\xef\xbf\xbd</M>" },
		{ "bad\xc3", "<M>bad\xef\xbf\xbd</M>" },
		{ "\xed\xa0\x80", "<M>\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd</M>" },
		{ "caf\xc3\xa9 \xf0\x9f\x94\x91", "<M>caf\xc3\xa9 \xf0\x9f\x94\x91</M>" },
		{ "\xef\xbf\xbe", "<M>\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd</M>" },
	};
	struct xml x;
	char *out;
	size_t len;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = render(cases[i].in);
		assert_string_equal(out, cases[i].out);
		free(out);
	}
	/* Misnesting is refused, not written. */
	xml_init(&x);
	xml_open(&x, "A", NULL);
	assert_int_equal(xml_finish(&x, &out, &len), -EINVAL);
	xml_init(&x);
	xml_close(&x);
	assert_int_not_equal(xml_finish(&x, &out, &len), 0);
	xml_init(&x);
	xml_open(&x, "R", "https://iam.amazonaws.com/doc/2010-05-08/");
	xml_textf(&x, "N", "%d", 42);
	xml_close(&x);
	assert_int_equal(xml_finish(&x, &out, &len), 0);
	assert_string_equal(out, "<R xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><N>42</N></R>");
	free(out);
}

static int collect(const char *k, const char *v, void *arg)
{
	char *acc = arg;

	strcat(acc, k);
	strcat(acc, "=");
	strcat(acc, v);
	strcat(acc, ";");
	return 0;
}

/* A listing inside a listing, as api_authorize does (a user's groups, then
 * each group's policies): the outer listing must still see every key. */
struct nested { struct store_txn *t; char acc[512]; };

static int inner(const char *k, const char *v, void *arg)
{
	return collect(k, v, ((struct nested *)arg)->acc);
}

static int outer(const char *k, const char *v, void *arg)
{
	struct nested *n = arg;
	char prefix[64];

	(void)v;
	snprintf(prefix, sizeof(prefix), "pol/%s/", k + strlen("grp/"));
	return store_list(n->t, prefix, inner, n);
}

static void test_store_nested_list(void **state)
{
	char dir[] = "/tmp/ward-api-store.XXXXXX", path[64], cmd[80];
	struct nested n = { .acc = "" };
	struct store *s;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/db", dir);
	assert_int_equal(store_sqlite_open(path, &s), 0);
	assert_int_equal(store_txn_begin(s, true, &n.t), 0);
	assert_int_equal(store_create(n.t, "grp/a", "{}"), 0);
	assert_int_equal(store_create(n.t, "grp/b", "{}"), 0);
	assert_int_equal(store_create(n.t, "grp/c", "{}"), 0);
	assert_int_equal(store_create(n.t, "pol/a/1", "{}"), 0);
	assert_int_equal(store_create(n.t, "pol/b/1", "{}"), 0);
	assert_int_equal(store_create(n.t, "pol/c/1", "{}"), 0);
	assert_int_equal(store_list(n.t, "grp/", outer, &n), 0);
	assert_string_equal(n.acc, "pol/a/1={};pol/b/1={};pol/c/1={};");
	store_txn_abort(n.t);
	store_close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_store(void **state)
{
	char dir[] = "/tmp/ward-api-store.XXXXXX", path[64], acc[512] = "", *v;
	struct store *s;
	struct store_txn *t, *t2;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/db", dir);
	assert_int_equal(store_sqlite_open(path, &s), 0);
	assert_int_equal(store_txn_begin(s, true, &t), 0);
	assert_int_equal(store_txn_begin(s, true, &t2), -EBUSY);
	assert_int_equal(store_create(t, "iam/user/b", "{\"n\":2}"), 0);
	assert_int_equal(store_create(t, "iam/user/a", "{\"n\":1}"), 0);
	assert_int_equal(store_create(t, "iam/userx", "{}"), 0);
	assert_int_equal(store_create(t, "iam/user/a", "{}"), -EEXIST);
	assert_int_equal(store_txn_commit(t), 0);

	/* An aborted transaction leaves nothing behind. */
	assert_int_equal(store_txn_begin(s, true, &t), 0);
	assert_int_equal(store_put(t, "iam/user/a", "{\"n\":9}"), 0);
	assert_int_equal(store_del(t, "iam/user/b"), 0);
	assert_int_equal(store_create(t, "iam/user/c", "{}"), 0);
	store_txn_abort(t);

	assert_int_equal(store_txn_begin(s, false, &t), 0);
	assert_int_equal(store_put(t, "iam/user/z", "{}"), -EINVAL);	/* read-only */
	assert_int_equal(store_list(t, "iam/user/", collect, acc), 0);
	assert_string_equal(acc, "iam/user/a={\"n\":1};iam/user/b={\"n\":2};");
	assert_int_equal(store_get(t, "iam/user/c", &v), -ENOENT);
	assert_int_equal(store_get(t, "iam/user/a", &v), 0);
	assert_string_equal(v, "{\"n\":1}");
	free(v);
	store_txn_abort(t);

	assert_int_equal(store_txn_begin(s, true, &t), 0);
	assert_int_equal(store_del(t, "iam/user/nope"), -ENOENT);
	assert_int_equal(store_del(t, "iam/user/a"), 0);
	assert_int_equal(store_txn_commit(t), 0);
	store_close(s);

	/* Reopened: what was committed is there. */
	assert_int_equal(store_sqlite_open(path, &s), 0);
	assert_int_equal(store_txn_begin(s, false, &t), 0);
	acc[0] = '\0';
	assert_int_equal(store_list(t, "iam/", collect, acc), 0);
	assert_string_equal(acc, "iam/user/b={\"n\":2};iam/userx={};");
	store_txn_abort(t);
	store_close(s);
	snprintf(acc, sizeof(acc), "rm -rf %s", dir);
	assert_int_equal(system(acc), 0);
}

static void test_seal(void **state)
{
	uint8_t master[32] = { 1 }, k1[32], k2[32], *pt;
	char *b64;
	size_t len;

	assert_int_equal(seal_derive(master, "a", k1), 0);
	assert_int_equal(seal_derive(master, "b", k2), 0);
	assert_memory_not_equal(k1, k2, 32);
	assert_int_equal(seal_b64(k1, "AKIA1", "secret", 6, &b64), 0);
	assert_int_equal(seal_open_b64(k1, "AKIA1", b64, &pt, &len), 0);
	assert_int_equal(len, 6);
	assert_string_equal((char *)pt, "secret");
	free(pt);
	/* Another key id (AAD), another key, or one flipped bit: refused. */
	assert_int_equal(seal_open_b64(k1, "AKIA2", b64, &pt, &len), -EBADMSG);
	assert_int_equal(seal_open_b64(k2, "AKIA1", b64, &pt, &len), -EBADMSG);
	b64[5] = b64[5] == 'A' ? 'B' : 'A';
	assert_int_equal(seal_open_b64(k1, "AKIA1", b64, &pt, &len), -EBADMSG);
	free(b64);
	assert_int_equal(seal_open_b64(k1, "x", "abc", &pt, &len), -EBADMSG);
	assert_int_equal(seal_open_b64(k1, "x", "AAAA", &pt, &len), -EBADMSG);
}

/* A session token is checked behind its seal: the key id it names, its
 * expiry (ExpiredToken), and that its role still exists with the same id. */
static void test_session_token(void **state)
{
	static const uint8_t master[32] = { 9 };
	static const char payload[] = "{\"v\":1,\"k\":\"ASIATESTTESTTESTTEST\","
		"\"s\":\"0123456789012345678901234567890123456789\",\"r\":\"ops\","
		"\"ri\":\"AROA1\",\"n\":\"s1\",\"i\":1000.0,\"x\":2000.0,"
		"\"src\":\"arn:aws:iam::111122223333:user/alice\"}";
	struct api a;
	struct store *s;
	struct store_txn *t;
	struct api_caller c = { 0 };
	char *tok, secret[41];

	assert_int_equal(store_sqlite_open(":memory:", &s), 0);
	assert_int_equal(api_open(&a, s, "111122223333", master), 0);
	assert_int_equal(store_txn_begin(s, true, &t), 0);
	assert_int_equal(store_put(t, "iam/role/ops", "{\"RoleName\":\"ops\",\"RoleId\":\"AROA1\"}"), 0);
	assert_int_equal(seal_b64(a.token_key, "ward-api sts session token v1", payload,
				  strlen(payload), &tok), 0);
	assert_int_equal(sts_session_open(&a, t, "ASIATESTTESTTESTTEST", tok, 1500, &c, secret), 0);
	assert_string_equal(c.arn, "arn:aws:sts::111122223333:assumed-role/ops/s1");
	assert_string_equal(c.userid, "AROA1:s1");
	assert_string_equal(secret, "0123456789012345678901234567890123456789");
	api_caller_clear(&c);
	assert_int_equal(sts_session_open(&a, t, "ASIATESTTESTTESTTEST", tok, 2000, &c, secret), -ETIME);
	assert_int_equal(sts_session_open(&a, t, "ASIAOTHEROTHEROTHERO", tok, 1500, &c, secret), -EACCES);
	/* The role re-created under the same name: a new id, the old sessions end. */
	assert_int_equal(store_put(t, "iam/role/ops", "{\"RoleName\":\"ops\",\"RoleId\":\"AROA2\"}"), 0);
	assert_int_equal(sts_session_open(&a, t, "ASIATESTTESTTESTTEST", tok, 1500, &c, secret), -EACCES);
	assert_int_equal(store_del(t, "iam/role/ops"), 0);
	assert_int_equal(sts_session_open(&a, t, "ASIATESTTESTTESTTEST", tok, 1500, &c, secret), -EACCES);
	free(tok);
	/* Sealed under another purpose's key (the access-key secrets): refused. */
	assert_int_equal(seal_b64(a.secret_key, "ward-api sts session token v1", payload,
				  strlen(payload), &tok), 0);
	assert_int_equal(sts_session_open(&a, t, "ASIATESTTESTTESTTEST", tok, 1500, &c, secret), -EACCES);
	free(tok);
	store_txn_abort(t);
	api_close(&a);
	store_close(s);
}

/* AssumeRole when the caller's own policies cannot be read (here: a stored
 * policy that no longer parses) must refuse, even under a trust policy that
 * names the caller: a Deny among the unreadable policies cannot be ruled out. */
static void test_assume_role_unreadable_policies(void **state)
{
	static const uint8_t master[32] = { 7 };
	static const char body[] = "Action=AssumeRole&Version=2011-06-15&RoleArn="
		"arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fops&RoleSessionName=s1";
	struct api a;
	struct store *s;
	struct store_txn *t;
	struct api_caller c = { .kind = CALLER_USER };
	struct api_reply r;
	struct query q;
	char err[128];

	(void)state;
	strcpy(c.arn, "arn:aws:iam::111122223333:user/alice");
	strcpy(c.userid, "AIDAALICE");
	strcpy(c.name, "alice");
	strcpy(c.service, "sts");
	assert_int_equal(store_sqlite_open(":memory:", &s), 0);
	assert_int_equal(api_open(&a, s, "111122223333", master), 0);
	assert_int_equal(store_txn_begin(s, true, &t), 0);
	assert_int_equal(store_put(t, "iam/role/ops", "{\"RoleName\":\"ops\",\"RoleId\":\"AROA1\","
		"\"Arn\":\"arn:aws:iam::111122223333:role/ops\",\"MaxSessionDuration\":3600,"
		"\"AssumeRolePolicyDocument\":\"{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":"
		"[{\\\"Effect\\\":\\\"Allow\\\",\\\"Principal\\\":{\\\"AWS\\\":"
		"\\\"arn:aws:iam::111122223333:user/alice\\\"},\\\"Action\\\":\\\"sts:AssumeRole\\\"}]}\"}"), 0);
	assert_int_equal(store_put(t, "iam/userpolicy/alice/p", "{\"PolicyDocument\":\"not json\"}"), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(query_parse(body, strlen(body), &q, err, sizeof(err)), 0);
	api_dispatch(&a, &c, &q, 1000, &r);
	assert_int_equal(r.status, 500);
	assert_null(strstr(r.body, "SecretAccessKey"));
	free(r.body);
	/* The control: with the broken policy gone, the trust policy that
	 * names alice is enough. */
	assert_int_equal(store_txn_begin(s, true, &t), 0);
	assert_int_equal(store_del(t, "iam/userpolicy/alice/p"), 0);
	assert_int_equal(store_txn_commit(t), 0);
	api_dispatch(&a, &c, &q, 1000, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "SecretAccessKey"));
	free(r.body);
	/* A trust policy sees the whole request context: conditions on
	 * aws:SecureTransport, aws:PrincipalType and aws:CurrentTime hold. */
	assert_int_equal(store_txn_begin(s, true, &t), 0);
	assert_int_equal(store_put(t, "iam/role/ops", "{\"RoleName\":\"ops\",\"RoleId\":\"AROA1\","
		"\"Arn\":\"arn:aws:iam::111122223333:role/ops\",\"MaxSessionDuration\":3600,"
		"\"AssumeRolePolicyDocument\":\"{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":"
		"[{\\\"Effect\\\":\\\"Allow\\\",\\\"Principal\\\":{\\\"AWS\\\":"
		"\\\"arn:aws:iam::111122223333:user/alice\\\"},\\\"Action\\\":\\\"sts:AssumeRole\\\","
		"\\\"Condition\\\":{\\\"Bool\\\":{\\\"aws:SecureTransport\\\":\\\"true\\\"},"
		"\\\"StringEquals\\\":{\\\"aws:PrincipalType\\\":\\\"User\\\"},"
		"\\\"DateGreaterThan\\\":{\\\"aws:CurrentTime\\\":\\\"1970-01-01T00:10:00Z\\\"}}}]}\"}"), 0);
	assert_int_equal(store_txn_commit(t), 0);
	api_dispatch(&a, &c, &q, 1000, &r);
	assert_int_equal(r.status, 200);
	free(r.body);
	api_dispatch(&a, &c, &q, 500, &r);	/* before 00:10: refused */
	assert_int_equal(r.status, 403);
	free(r.body);
	query_free(&q);
	api_close(&a);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_query_limits),
		cmocka_unit_test(test_query_escape),
		cmocka_unit_test(test_xml),
		cmocka_unit_test(test_store),
		cmocka_unit_test(test_store_nested_list),
		cmocka_unit_test(test_seal),
		cmocka_unit_test(test_session_token),
		cmocka_unit_test(test_assume_role_unreadable_policies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
