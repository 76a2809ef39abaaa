/* test_store_etcd: the etcd store's transaction semantics against a real
 * etcd (started by ha_store.sh, endpoint in WARD_TEST_ETCD): two stores
 * stand for two replicas, their transactions interleaved by hand. What
 * one read and another changed makes the first commit fail with -EAGAIN
 * (a key read present, a key read absent, a listed prefix); a guarded
 * commit after the guard key changed fails with -ESTALE; a transaction
 * sees its own writes; a failed commit stores nothing. Each store's
 * commit marker counts its applied write Txns only, and goes with the
 * store (ha_resend.sh shows what it is for). And api_dispatch
 * re-runs a request whose commit conflicted: two replicas making a volume
 * with one ClientToken at once both answer the same volume. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api.h"
#include "etcd.h"
#include "leader.h"
#include "query.h"
#include "store.h"

static struct store *A, *B;
static int seq;

static int setup(void **state)
{
	const char *ep = getenv("WARD_TEST_ETCD");

	assert_non_null(ep);
	assert_int_equal(store_etcd_open(ep, NULL, &A), 0);
	assert_int_equal(store_etcd_open(ep, NULL, &B), 0);
	return 0;
}

static int teardown(void **state)
{
	store_close(A);
	store_close(B);
	return 0;
}

/* A fresh key per test: the tests share one etcd. */
static void key(char *k, size_t n, const char *what)
{
	snprintf(k, n, "test/%s/%d", what, ++seq);
}

static void put1(struct store *s, const char *k, const char *v)
{
	struct store_txn *t;

	assert_int_equal(store_txn_begin(s, true, &t), 0);
	assert_int_equal(store_put(t, k, v), 0);
	assert_int_equal(store_txn_commit(t), 0);
}

static char *get1(struct store *s, const char *k)
{
	struct store_txn *t;
	char *v = NULL;
	int rc;

	assert_int_equal(store_txn_begin(s, false, &t), 0);
	rc = store_get(t, k, &v);
	store_txn_abort(t);
	assert_true(rc == 0 || rc == -ENOENT);
	return v;
}

/* Both replicas create the same absent key (a ClientToken): one wins. */
static void test_create_race(void **state)
{
	struct store_txn *ta, *tb;
	char k[64], *v;

	key(k, sizeof(k), "token");
	assert_int_equal(store_txn_begin(A, true, &ta), 0);
	assert_int_equal(store_txn_begin(B, true, &tb), 0);
	assert_int_equal(store_create(ta, k, "{\"by\":\"a\"}"), 0);
	assert_int_equal(store_create(tb, k, "{\"by\":\"b\"}"), 0);
	assert_int_equal(store_txn_commit(tb), 0);
	assert_int_equal(store_txn_commit(ta), -EAGAIN);
	v = get1(A, k);
	assert_string_equal(v, "{\"by\":\"b\"}");
	free(v);
	/* The re-run sees the winner's key. */
	assert_int_equal(store_txn_begin(A, true, &ta), 0);
	assert_int_equal(store_create(ta, k, "{\"by\":\"a\"}"), -EEXIST);
	store_txn_abort(ta);
}

/* A read-modify-write on a key another replica changed in between. */
static void test_lost_update(void **state)
{
	struct store_txn *ta;
	char k[64], k2[64], *v;

	key(k, sizeof(k), "counter");
	key(k2, sizeof(k2), "other");
	put1(A, k, "1");
	assert_int_equal(store_txn_begin(A, true, &ta), 0);
	assert_int_equal(store_get(ta, k, &v), 0);
	free(v);
	put1(B, k, "2");
	assert_int_equal(store_put(ta, k2, "derived from 1"), 0);
	assert_int_equal(store_txn_commit(ta), -EAGAIN);
	assert_null(get1(A, k2));	/* nothing of the failed txn landed */
	v = get1(B, k);
	assert_string_equal(v, "2");
	free(v);
}

static int count_cb(const char *k, const char *v, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

/* A listing (DescribeVolumes-style decision) and a key added under it. */
static void test_list_phantom(void **state)
{
	struct store_txn *ta;
	char p[64], k[96], out[96];
	int n = 0;

	key(p, sizeof(p), "dir");
	snprintf(k, sizeof(k), "%s/x", p);
	put1(A, k, "{}");
	strcat(p, "/");
	assert_int_equal(store_txn_begin(A, true, &ta), 0);
	assert_int_equal(store_list(ta, p, count_cb, &n), 0);
	assert_int_equal(n, 1);
	snprintf(k, sizeof(k), "%sy", p);
	put1(B, k, "{}");
	key(out, sizeof(out), "summary");
	assert_int_equal(store_put(ta, out, "1"), 0);
	assert_int_equal(store_txn_commit(ta), -EAGAIN);
}

/* Reads within a transaction see its own writes, in order. */
static void test_own_writes(void **state)
{
	struct store_txn *t;
	char p[64], k1[96], k2[96], *v;
	int n = 0;

	key(p, sizeof(p), "own");
	snprintf(k1, sizeof(k1), "%s/a", p);
	snprintf(k2, sizeof(k2), "%s/b", p);
	put1(A, k2, "old");
	assert_int_equal(store_txn_begin(A, true, &t), 0);
	assert_int_equal(store_create(t, k1, "new"), 0);
	assert_int_equal(store_create(t, k1, "again"), -EEXIST);
	assert_int_equal(store_get(t, k1, &v), 0);
	assert_string_equal(v, "new");
	free(v);
	assert_int_equal(store_del(t, k2), 0);
	assert_int_equal(store_del(t, k2), -ENOENT);
	strcat(p, "/");
	assert_int_equal(store_list(t, p, count_cb, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_txn_commit(t), 0);
	assert_null(get1(B, k2));
	v = get1(B, k1);
	assert_string_equal(v, "new");
	free(v);
}

/* A guarded (fenced) write after the guard key got a new incarnation. */
static void test_guard(void **state)
{
	const char *ep = getenv("WARD_TEST_ETCD");
	struct etcd *c;
	struct etcd_resp r;
	struct store_txn *t;
	char g[64], gb[80], *b64;
	int64_t rev;

	key(g, sizeof(g), "guard");
	snprintf(gb, sizeof(gb), "ward/%s", g);	/* a raw etcd key */
	assert_int_equal(etcd_open(ep, NULL, &c), 0);
	b64 = etcd_b64(gb, strlen(gb));
	assert_int_equal(etcd_call(c, "/v3/kv/put", json_pack("{ssss}", "key", b64, "value", "eA=="),
				   &r), 0);
	rev = r.revision;
	etcd_resp_free(&r);
	/* Under the guard as it is: applies. */
	assert_int_equal(store_txn_begin(A, true, &t), 0);
	assert_int_equal(store_guard(t, gb, rev), 0);
	assert_int_equal(store_put(t, "test/fenced", "1"), 0);
	assert_int_equal(store_txn_commit(t), 0);
	/* The key deleted and re-created (a new leader's term): refused. */
	assert_int_equal(etcd_call(c, "/v3/kv/deleterange", json_pack("{ss}", "key", b64), &r), 0);
	etcd_resp_free(&r);
	assert_int_equal(etcd_call(c, "/v3/kv/put", json_pack("{ssss}", "key", b64, "value", "eQ=="),
				   &r), 0);
	etcd_resp_free(&r);
	assert_int_equal(store_txn_begin(A, true, &t), 0);
	assert_int_equal(store_guard(t, gb, rev), 0);
	assert_int_equal(store_put(t, "test/fenced", "2"), 0);
	assert_int_equal(store_txn_commit(t), -ESTALE);
	free(b64);
	etcd_close(c);
	b64 = get1(A, "test/fenced");
	assert_string_equal(b64, "1");
	free(b64);
}

/* The commit markers in etcd now (ward/commit/...): their count, and
 * "key=value " for each into out. */
static size_t markers(char *out, size_t on)
{
	char *k = etcd_b64("ward/commit/", 12), *end = etcd_b64("ward/commit0", 12);
	struct etcd_kv *kvs;
	struct etcd_resp r;
	struct etcd *c;
	size_t n, o = 0;

	assert_int_equal(etcd_open(getenv("WARD_TEST_ETCD"), NULL, &c), 0);
	assert_int_equal(etcd_call(c, "/v3/kv/range", json_pack("{ssss}", "key", k, "range_end",
								 end), &r), 0);
	assert_int_equal(etcd_resp_kvs(r.root, &kvs, &n), 0);
	out[0] = '\0';
	for (size_t i = 0; i < n && o < on; i++)
		o += (size_t)snprintf(out + o, on - o, "%s=%s ", kvs[i].key, kvs[i].value);
	assert_true(o < on);
	etcd_kvs_free(kvs, n);
	etcd_resp_free(&r);
	etcd_close(c);
	free(k);
	free(end);
	return n;
}

/* The value of the one marker in now whose key is not in before. */
static void new_marker(const char *now, const char *before, char *v, size_t vn)
{
	char buf[4096], *save = NULL, *tok;
	int found = 0;

	snprintf(buf, sizeof(buf), "%s", now);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '='), key[256];

		assert_non_null(eq);
		snprintf(key, sizeof(key), "%.*s=", (int)(eq - tok), tok);
		if (!strstr(before, key)) {
			snprintf(v, vn, "%s", eq + 1);
			found++;
		}
	}
	assert_int_equal(found, 1);
}

/* A store's marker: made by its first write Txn, bumped by each applied
 * one (not by a read-only one, nor by one that conflicted), deleted when
 * the store closes. */
static void test_marker(void **state)
{
	char k[64], v[32], before[4096], now[4096], *old = NULL;
	struct store_txn *t;
	struct store *S;
	size_t n0;

	/* A's marker exists before the snapshot (A writes below). */
	key(k, sizeof(k), "marker");
	put1(A, k, "0");
	n0 = markers(before, sizeof(before));
	assert_int_equal(store_etcd_open(getenv("WARD_TEST_ETCD"), NULL, &S), 0);
	free(get1(S, k));
	assert_int_equal(markers(now, sizeof(now)), n0);
	put1(S, k, "1");
	put1(S, k, "2");
	put1(S, k, "3");
	assert_int_equal(markers(now, sizeof(now)), n0 + 1);
	new_marker(now, before, v, sizeof(v));
	assert_string_equal(v, "3");
	/* A conflict: S read k, A changed it, S's commit fails. */
	assert_int_equal(store_txn_begin(S, true, &t), 0);
	assert_int_equal(store_get(t, k, &old), 0);
	free(old);
	put1(A, k, "A");
	assert_int_equal(store_put(t, k, "S"), 0);
	assert_int_equal(store_txn_commit(t), -EAGAIN);
	markers(now, sizeof(now));
	new_marker(now, before, v, sizeof(v));
	assert_string_equal(v, "3");
	/* The next commit's marker compare still holds; it takes 5, not 4:
	 * a number once sent is never reused (an unanswered send of it could
	 * still apply later, docs/ha.md). */
	put1(S, k, "4");
	markers(now, sizeof(now));
	new_marker(now, before, v, sizeof(v));
	assert_string_equal(v, "5");
	store_close(S);
	assert_int_equal(markers(now, sizeof(now)), n0);
}

/* A store in front of A whose first commit is preceded by another
 * replica's whole request (api_dispatch on B): the interleaving two
 * replicas get when they serve one ClientToken at the same moment. */
struct wtxn {
	struct store_txn base;
	struct store_txn *in;
};
static struct api api_b;
static struct query q_b;
static struct api_caller c_b;
static struct api_reply r_b;
static int interfere = 1;

static int w_begin(struct store *s, bool write, struct store_txn **out)
{
	struct wtxn *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	w->base.s = s;
	assert_int_equal(store_txn_begin(A, write, &w->in), 0);
	*out = &w->base;
	return 0;
}
static int w_commit(struct store_txn *t)
{
	struct wtxn *w = (struct wtxn *)t;
	int rc;

	if (interfere && !--interfere)
		api_dispatch(&api_b, &c_b, &q_b, 1000, &r_b);
	rc = store_txn_commit(w->in);
	free(w);
	return rc;
}
static void w_abort(struct store_txn *t) { store_txn_abort(((struct wtxn *)t)->in); free(t); }
static int w_get(struct store_txn *t, const char *k, char **v) { return store_get(((struct wtxn *)t)->in, k, v); }
static int w_create(struct store_txn *t, const char *k, const char *v) { return store_create(((struct wtxn *)t)->in, k, v); }
static int w_put(struct store_txn *t, const char *k, const char *v) { return store_put(((struct wtxn *)t)->in, k, v); }
static int w_del(struct store_txn *t, const char *k) { return store_del(((struct wtxn *)t)->in, k); }
static int w_list(struct store_txn *t, const char *p, store_list_cb cb, void *arg)
{ return store_list(((struct wtxn *)t)->in, p, cb, arg); }
static void w_close(struct store *s) { (void)s; }
static const struct store_ops w_ops = {
	.txn_begin = w_begin, .txn_commit = w_commit, .txn_abort = w_abort, .get = w_get,
	.create = w_create, .put = w_put, .del = w_del, .list = w_list, .close = w_close,
};

static void test_dispatch_conflict(void **state)
{
	static const uint8_t master[32] = { 9 };
	static const char body[] = "Action=CreateVolume&Version=2016-11-15&AvailabilityZone=us-east-1a"
		"&Size=1&ClientToken=race-1";
	struct store wrapped = { .ops = &w_ops };
	struct api api_a;
	struct api_caller c = { .kind = CALLER_USER };
	struct api_reply r;
	struct query q;
	char err[128], akid[21], secret[41], *va, *vb;

	assert_int_equal(api_open(&api_a, &wrapped, "111122223333", master), 0);
	assert_int_equal(api_open(&api_b, B, "111122223333", master), 0);
	interfere = 0;
	assert_int_equal(iam_bootstrap_admin(&api_b, "admin", 1000, akid, secret), 0);
	strcpy(c.arn, "arn:aws:iam::111122223333:user/admin");
	strcpy(c.name, "admin");
	strcpy(c.service, "ec2");
	c_b = c;
	assert_int_equal(query_parse(body, strlen(body), &q, err, sizeof(err)), 0);
	assert_int_equal(query_parse(body, strlen(body), &q_b, err, sizeof(err)), 0);
	interfere = 1;
	api_dispatch(&api_a, &c, &q, 1000, &r);
	assert_int_equal(r_b.status, 200);
	assert_int_equal(r.status, 200);
	va = strstr(r.body, "<volumeId>");
	vb = strstr(r_b.body, "<volumeId>");
	assert_non_null(va);
	assert_non_null(vb);
	assert_memory_equal(va, vb, 31);	/* <volumeId>vol-<17 hex> */
	free(r.body);
	free(r_b.body);
	query_free(&q);
	query_free(&q_b);
	api_close(&api_a);
	api_close(&api_b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_race),
		cmocka_unit_test(test_lost_update),
		cmocka_unit_test(test_list_phantom),
		cmocka_unit_test(test_own_writes),
		cmocka_unit_test(test_guard),
		cmocka_unit_test(test_marker),
		cmocka_unit_test(test_dispatch_conflict),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
