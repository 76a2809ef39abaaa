/* store_etcd: ward-api's store on an etcd cluster (docs/ha.md), for
 * several replicas sharing one state. A transaction reads a snapshot (every
 * read at the revision of its first read), buffers its writes, and commits
 * them as ONE etcd Txn whose compares say that nothing it read has changed
 * since: a key read present keeps its mod_revision, a key read absent is
 * still absent, a prefix listed has no key modified after the snapshot
 * (a key deleted from it is not seen: docs/ha.md, "Limits").
 * A failed compare is a conflict (-EAGAIN): the caller re-runs the whole
 * request. A guard (store_guard) adds the leader's fencing compare.
 * Every write Txn also bumps this store's commit marker (one key per open
 * store, only ever written by it), compared first: a Txn that etcd_call
 * resends after a lost reply cannot apply twice, and its failure branch
 * reads the marker back, which says whether the first send applied. */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "errmsg.h"
#include "etcd.h"
#include "log.h"

#define ET_PREFIX "ward/data/"
#define ET_MARK_PREFIX "ward/commit/"

struct et_store {
	struct store base;
	struct etcd *c;
	bool in_txn;
	/* The commit marker: ward/commit/<128 random bits> = the number of
	 * this store's applied write Txns (absent: none yet). */
	char mark_key[64];
	uint64_t seq;		/* its value as last known */
	bool mark_unsure;	/* a commit's outcome is unknown: read it back first */
	uint64_t sent;		/* the highest number ever sent: never reused, since
				 * an unanswered Txn can still apply later */
};

struct et_read {
	char *key;		/* full etcd key */
	int64_t mod_rev;	/* 0: absent */
	bool prefix;
};

struct et_write {
	char *key;		/* full etcd key */
	char *value;		/* NULL: delete */
};

struct et_txn {
	struct store_txn base;
	bool write;
	int64_t rev;		/* the snapshot; 0 before the first read */
	struct et_read *rd;
	size_t nrd;
	struct et_write *wr;
	size_t nwr;
	char *guard_key;
	int64_t guard_rev;
};

static char *full_key(const char *key)
{
	size_t n = strlen(ET_PREFIX) + strlen(key) + 1;
	char *k = malloc(n);

	if (k)
		snprintf(k, n, "%s%s", ET_PREFIX, key);
	return k;
}

static char *rev_str(int64_t v, char buf[24])
{
	snprintf(buf, 24, "%lld", (long long)v);
	return buf;
}

/* The end of a prefix range: the prefix with its last byte incremented. */
static char *b64_range_end(const char *prefix)
{
	size_t n = strlen(prefix);
	char *e = strdup(prefix), *out;

	if (!e)
		return NULL;
	while (n && (unsigned char)e[n - 1] == 0xff)
		n--;
	if (n)
		e[n - 1]++;
	out = etcd_b64(e, n);
	free(e);
	return out;
}

static int add_read(struct et_txn *t, const char *key, int64_t mod_rev, bool prefix)
{
	struct et_read *r;

	for (size_t i = 0; i < t->nrd; i++)
		if (t->rd[i].prefix == prefix && !strcmp(t->rd[i].key, key))
			return 0;
	if (!(r = realloc(t->rd, (t->nrd + 1) * sizeof(*r))))
		return -ENOMEM;
	t->rd = r;
	if (!(r[t->nrd].key = strdup(key)))
		return -ENOMEM;
	r[t->nrd].mod_rev = mod_rev;
	r[t->nrd].prefix = prefix;
	t->nrd++;
	return 0;
}

static struct et_write *find_write(struct et_txn *t, const char *key)
{
	for (size_t i = t->nwr; i-- > 0;)
		if (!strcmp(t->wr[i].key, key))
			return &t->wr[i];
	return NULL;
}

static int add_write(struct et_txn *t, const char *key, const char *value)
{
	struct et_write *w = find_write(t, key);
	char *v = value ? strdup(value) : NULL;

	if (value && !v)
		return -ENOMEM;
	if (w) {
		free(w->value);
		w->value = v;
		return 0;
	}
	if (!(w = realloc(t->wr, (t->nwr + 1) * sizeof(*w)))) {
		free(v);
		return -ENOMEM;
	}
	t->wr = w;
	if (!(w[t->nwr].key = strdup(key))) {
		free(v);
		return -ENOMEM;
	}
	w[t->nwr].value = v;
	t->nwr++;
	return 0;
}

/* A range at the snapshot; fixes the snapshot on the first read. */
static int et_range(struct et_txn *t, const char *key, bool prefix, struct etcd_kv **kvs,
		    size_t *n)
{
	struct et_store *s = (struct et_store *)t->base.s;
	char *k = etcd_b64(key, strlen(key)), *end = prefix ? b64_range_end(key) : NULL, rb[24];
	struct etcd_resp r;
	json_t *req;
	int rc;

	req = k && (!prefix || end) ? json_pack("{ss}", "key", k) : NULL;
	if (req && end)
		json_object_set_new(req, "range_end", json_string(end));
	if (req && t->rev)
		json_object_set_new(req, "revision", json_string(rev_str(t->rev, rb)));
	free(k);
	free(end);
	if (!req)
		return -ENOMEM;
	if ((rc = etcd_call(s->c, "/v3/kv/range", req, &r)))
		return rc == -ENOMEM ? rc : -EIO;
	if (!t->rev)
		t->rev = r.revision;
	rc = r.revision > 0 ? etcd_resp_kvs(r.root, kvs, n) : -EPROTO;
	etcd_resp_free(&r);
	return rc;
}

static int et_begin(struct store *st, bool write, struct store_txn **out)
{
	struct et_store *s = (struct et_store *)st;
	struct et_txn *t;

	if (s->in_txn)
		return -EBUSY;
	if (!(t = calloc(1, sizeof(*t))))
		return -ENOMEM;
	t->base.s = st;
	t->write = write;
	s->in_txn = true;
	*out = &t->base;
	return 0;
}

static void et_free(struct et_txn *t)
{
	((struct et_store *)t->base.s)->in_txn = false;
	for (size_t i = 0; i < t->nrd; i++)
		free(t->rd[i].key);
	for (size_t i = 0; i < t->nwr; i++) {
		free(t->wr[i].key);
		free(t->wr[i].value);
	}
	free(t->rd);
	free(t->wr);
	free(t->guard_key);
	free(t);
}

static void et_abort(struct store_txn *tx)
{
	et_free((struct et_txn *)tx);
}

static int et_get_full(struct et_txn *t, const char *fk, char **value)
{
	struct et_write *w = find_write(t, fk);
	struct etcd_kv *kvs;
	size_t n;
	int rc;

	if (w) {
		if (!w->value)
			return -ENOENT;
		return (*value = strdup(w->value)) ? 0 : -ENOMEM;
	}
	if ((rc = et_range(t, fk, false, &kvs, &n)))
		return rc;
	rc = add_read(t, fk, n ? kvs[0].mod_rev : 0, false);
	if (!rc && n != 1)
		rc = n ? -EPROTO : -ENOENT;
	if (!rc) {
		*value = kvs[0].value;
		kvs[0].value = NULL;
	}
	etcd_kvs_free(kvs, n);
	return rc;
}

static int et_get(struct store_txn *tx, const char *key, char **value)
{
	char *fk = full_key(key);
	int rc = fk ? et_get_full((struct et_txn *)tx, fk, value) : -ENOMEM;

	free(fk);
	return rc;
}

static int et_write_op(struct store_txn *tx, const char *key, const char *value, int mode)
{
	struct et_txn *t = (struct et_txn *)tx;
	char *fk, *old = NULL;
	int rc;

	if (!t->write || strlen(key) > STORE_KEY_MAX)
		return -EINVAL;
	if (!(fk = full_key(key)))
		return -ENOMEM;
	/* create and del must know the key's state now: the read joins the
	 * compares, so the answer still holds when the Txn applies. */
	rc = mode == 1 ? 0 : et_get_full(t, fk, &old);
	free(old);
	if (mode == 0)	/* create */
		rc = rc == 0 ? -EEXIST : rc == -ENOENT ? add_write(t, fk, value) : rc;
	else if (mode == 1)	/* put */
		rc = add_write(t, fk, value);
	else	/* del */
		rc = rc == 0 ? add_write(t, fk, NULL) : rc;
	free(fk);
	return rc;
}

static int et_create(struct store_txn *t, const char *k, const char *v) { return et_write_op(t, k, v, 0); }
static int et_put(struct store_txn *t, const char *k, const char *v) { return et_write_op(t, k, v, 1); }
static int et_del(struct store_txn *t, const char *k) { return et_write_op(t, k, NULL, 2); }

struct item {
	char *key;	/* store key (without the prefix), borrowed */
	const char *value;
};

static int item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->key, ((const struct item *)b)->key);
}

/* etcd's view at the snapshot with this transaction's own writes laid
 * over it, in byte order (handlers read their own writes). */
static int et_list(struct store_txn *tx, const char *prefix, store_list_cb cb, void *arg)
{
	struct et_txn *t = (struct et_txn *)tx;
	char *fp = full_key(prefix);
	size_t plen = strlen(ET_PREFIX), n = 0, ni = 0;
	struct etcd_kv *kvs = NULL;
	struct item *it = NULL;
	int rc;

	if (!fp)
		return -ENOMEM;
	if ((rc = et_range(t, fp, true, &kvs, &n)) || (rc = add_read(t, fp, 0, true)))
		goto out;
	rc = -ENOMEM;
	if (!(it = calloc(n + t->nwr + 1, sizeof(*it))))
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (kvs[i].klen != strlen(kvs[i].key) || strncmp(kvs[i].key, fp, strlen(fp))) {
			rc = -EPROTO;	/* not what was asked for */
			goto out;
		}
		if (!find_write(t, kvs[i].key))
			it[ni++] = (struct item){ kvs[i].key + plen, kvs[i].value };
	}
	for (size_t i = 0; i < t->nwr; i++)
		if (t->wr[i].value && !strncmp(t->wr[i].key, fp, strlen(fp)))
			it[ni++] = (struct item){ t->wr[i].key + plen, t->wr[i].value };
	qsort(it, ni, sizeof(*it), item_cmp);
	rc = 0;
	for (size_t i = 0; i < ni && !rc; i++)
		rc = cb(it[i].key, it[i].value, arg);
out:
	free(it);
	etcd_kvs_free(kvs, n);
	free(fp);
	return rc;
}

static int et_guard(struct store_txn *tx, const char *key, int64_t create_rev)
{
	struct et_txn *t = (struct et_txn *)tx;

	free(t->guard_key);
	t->guard_key = strdup(key);	/* a raw etcd key: the election's */
	t->guard_rev = create_rev;
	return t->guard_key ? 0 : -ENOMEM;
}

static json_t *cmp_json(const char *key, const char *range_end, const char *target,
			const char *result, const char *field, int64_t v)
{
	char *k = etcd_b64(key, strlen(key)), rb[24];
	json_t *c = k ? json_pack("{ssssssss}", "key", k, "target", target, "result", result,
				   field, rev_str(v, rb)) : NULL;

	free(k);
	if (c && range_end)
		json_object_set_new(c, "range_end", json_string(range_end));
	return c;
}

/* The marker's compare (it still holds s->seq), its bump to seq, and its
 * read-back in the failure branch: responses[0] of a failed Txn. */
static int mark_json(struct et_store *s, uint64_t seq, json_t *cmp, json_t *ok, json_t *fail)
{
	char *k = etcd_b64(s->mark_key, strlen(s->mark_key)), *old = NULL, *v = NULL, n[24];
	json_t *c = NULL;
	int bad;

	snprintf(n, sizeof(n), "%llu", (unsigned long long)s->seq);
	if (k && s->seq && (old = etcd_b64(n, strlen(n))))
		c = json_pack("{ssssssss}", "key", k, "target", "VALUE", "result", "EQUAL",
			      "value", old);
	else if (k && !s->seq)
		c = cmp_json(s->mark_key, NULL, "CREATE", "EQUAL", "create_revision", 0);
	snprintf(n, sizeof(n), "%llu", (unsigned long long)seq);
	v = etcd_b64(n, strlen(n));
	bad = !k || !v || json_array_append_new(cmp, c) ||
	      json_array_append_new(ok, json_pack("{s{ssss}}", "request_put", "key", k, "value", v)) ||
	      json_array_append_new(fail, json_pack("{s{ss}}", "request_range", "key", k));
	free(k);
	free(old);
	free(v);
	return bad ? -ENOMEM : 0;
}

static json_t *txn_json(struct et_txn *t, uint64_t seq)
{
	json_t *cmp = json_array(), *ok = json_array(), *fail = json_array();
	json_t *req = json_pack("{sososo}", "compare", cmp, "success", ok, "failure", fail);
	int bad = !req;

	/* First, so that its read-back is responses[0] of a failed Txn. */
	if (!bad && t->nwr)
		bad = mark_json((struct et_store *)t->base.s, seq, cmp, ok, fail) != 0;

	for (size_t i = 0; i < t->nrd && !bad; i++) {
		struct et_read *r = &t->rd[i];
		char *end = r->prefix ? b64_range_end(r->key) : NULL;

		if (r->prefix)
			bad |= !end || json_array_append_new(cmp, cmp_json(r->key, end, "MOD",
						"LESS", "mod_revision", t->rev + 1));
		else if (r->mod_rev)
			bad |= json_array_append_new(cmp, cmp_json(r->key, NULL, "MOD", "EQUAL",
							"mod_revision", r->mod_rev));
		else
			bad |= json_array_append_new(cmp, cmp_json(r->key, NULL, "CREATE", "EQUAL",
							"create_revision", 0));
		free(end);
	}
	for (size_t i = 0; i < t->nwr && !bad; i++) {
		struct et_write *w = &t->wr[i];
		char *k = etcd_b64(w->key, strlen(w->key));
		char *v = w->value ? etcd_b64(w->value, strlen(w->value)) : NULL;

		bad |= !k || (w->value && !v) ||
		       json_array_append_new(ok, w->value ?
				json_pack("{s{ssss}}", "request_put", "key", k, "value", v) :
				json_pack("{s{ss}}", "request_delete_range", "key", k));
		free(k);
		free(v);
	}
	if (t->guard_key && !bad) {
		char *k = etcd_b64(t->guard_key, strlen(t->guard_key));

		bad |= !k || json_array_append_new(cmp, cmp_json(t->guard_key, NULL, "CREATE", "EQUAL",
						"create_revision", t->guard_rev)) ||
		       json_array_append_new(fail, json_pack("{s{ss}}", "request_range", "key", k));
		free(k);
	}
	if (bad) {
		json_decref(req);
		return NULL;
	}
	return req;
}

/* After a failed Txn with a guard: was it the guard? (Its read-back is
 * responses[idx].) */
static bool guard_failed(struct et_txn *t, const struct etcd_resp *r, size_t idx)
{
	json_t *res = json_array_get(json_object_get(r->root, "responses"), idx);
	struct etcd_kv *kvs;
	size_t n;
	bool fenced = true;

	if (etcd_resp_kvs(json_object_get(res, "response_range"), &kvs, &n) == 0) {
		fenced = !(n == 1 && kvs[0].create_rev == t->guard_rev);
		etcd_kvs_free(kvs, n);
	}
	return fenced;
}

/* The marker's value in a kvs array: 0 when absent, -1 when not a number. */
static int64_t mark_value(const json_t *range)
{
	struct etcd_kv *kvs;
	size_t n;
	int64_t v = -1;
	char *end;

	if (etcd_resp_kvs(range, &kvs, &n))
		return -1;
	if (n == 0) {
		v = 0;
	} else if (n == 1 && kvs[0].vlen && kvs[0].vlen < 20 &&
		   strspn(kvs[0].value, "0123456789") == kvs[0].vlen) {
		v = strtoll(kvs[0].value, &end, 10);
	}
	etcd_kvs_free(kvs, n);
	return v;
}

/* The marker read back holds v (0: absent). A value this store sent is the
 * outcome of an earlier commit (perhaps one that applied after we gave up
 * on it); anything else was not written by this store (an etcd restore, a
 * hand edit) and is adopted all the same, loudly, so the store goes on
 * rather than failing every write until a restart. */
static void mark_adopt(struct et_store *s, uint64_t v)
{
	if (v < s->seq || v > s->sent)
		log_error("store commit marker holds what this store did not write; adopting it",
			  "key=%s value=%llu expected=%llu..%llu", s->mark_key,
			  (unsigned long long)v, (unsigned long long)s->seq,
			  (unsigned long long)s->sent);
	s->seq = v;
	if (v > s->sent)
		s->sent = v;
}

/* After a commit whose outcome is unknown: read the marker to learn it. */
static int mark_sync(struct et_store *s)
{
	char *k = etcd_b64(s->mark_key, strlen(s->mark_key));
	json_t *req = k ? json_pack("{ss}", "key", k) : NULL;
	struct etcd_resp r;
	int64_t v;
	int rc;

	free(k);
	if (!req)
		return -ENOMEM;
	if ((rc = etcd_call(s->c, "/v3/kv/range", req, &r)))
		return rc == -ENOMEM ? rc : -EIO;
	v = mark_value(r.root);
	etcd_resp_free(&r);
	if (v < 0) {
		log_error("store commit marker is not a number", "key=%s", s->mark_key);
		return -EIO;
	}
	log_warn("store commit with an unknown outcome, read back", "applied=%s",
		 (uint64_t)v > s->seq ? "yes" : "no");
	mark_adopt(s, (uint64_t)v);
	s->mark_unsure = false;
	return 0;
}

/* A failed Txn: applied already by an earlier send of etcd_call's (its
 * reply lost), a conflict, or fenced off. */
static int commit_failed(struct et_store *s, struct et_txn *t, const struct etcd_resp *r,
			 uint64_t seq)
{
	int64_t m = 0;
	int rc;

	if (t->nwr) {
		m = mark_value(json_object_get(json_array_get(json_object_get(r->root,
						"responses"), 0), "response_range"));
		if (m >= 0 && (uint64_t)m == seq) {
			log_info("store commit applied by an earlier send whose reply was lost",
				 "writes=%zu", t->nwr);
			s->seq = seq;
			return 0;
		}
		if (m < 0) {
			log_error("store commit marker is not a number", "key=%s", s->mark_key);
			return -EIO;
		}
		/* The marker moved under us: an earlier commit whose outcome
		 * was unknown applied late, or someone else wrote it. This Txn
		 * applied nothing, so it is a conflict: re-run on the value. */
		if ((uint64_t)m != s->seq) {
			if ((uint64_t)m > s->seq && (uint64_t)m <= s->sent)
				log_warn("store commit of unknown outcome applied late",
					 "marker=%lld", (long long)m);
			mark_adopt(s, (uint64_t)m);
			return -EAGAIN;
		}
	}
	rc = t->guard_key && guard_failed(t, r, t->nwr ? 1 : 0) ? -ESTALE : -EAGAIN;
	log_info(rc == -ESTALE ? "store write fenced off: the leader changed" :
		 "store transaction conflict", "reads=%zu writes=%zu", t->nrd, t->nwr);
	return rc;
}

static int et_commit(struct store_txn *tx)
{
	struct et_txn *t = (struct et_txn *)tx;
	struct et_store *s = (struct et_store *)tx->s;
	struct etcd_resp r;
	uint64_t seq;
	json_t *req;
	int rc;

	if (!t->nwr && !t->guard_key) {
		et_free(t);	/* read-only: each read was linearizable, at one snapshot */
		return 0;
	}
	/* The marker's value must be known to build the compare. */
	if (s->mark_unsure && (rc = mark_sync(s))) {
		et_free(t);
		return rc;
	}
	seq = (s->sent > s->seq ? s->sent : s->seq) + 1;
	if (!(req = txn_json(t, seq))) {
		et_free(t);
		return -ENOMEM;
	}
	rc = etcd_call(s->c, "/v3/kv/txn", req, &r);
	if (rc != -ENOMEM && t->nwr)	/* sent (perhaps): never use seq again */
		s->sent = seq;
	if (rc == 0) {
		if (json_is_true(json_object_get(r.root, "succeeded"))) {
			if (t->nwr)
				s->seq = seq;
		} else {
			rc = commit_failed(s, t, &r, seq);
		}
		etcd_resp_free(&r);
	} else if (rc != -ENOMEM) {	/* -ENOMEM: nothing was sent */
		/* Sent, perhaps applied, no answer: the outcome is unknown.
		 * Answered as a failure (-EIO, not a conflict: the request is
		 * not re-run); the next commit reads the marker first. */
		if (t->nwr)
			s->mark_unsure = true;
		log_warn("store commit outcome unknown", "writes=%zu error=%s", t->nwr,
			 errname(rc));
		rc = -EIO;
	}
	et_free(t);
	return rc;
}

static void et_close(struct store *st)
{
	struct et_store *s = (struct et_store *)st;
	char *k = s->seq || s->mark_unsure ? etcd_b64(s->mark_key, strlen(s->mark_key)) : NULL;
	struct etcd_resp r;

	/* The marker is this store's alone: gone with it (a crashed
	 * replica's stays; docs/ha.md). */
	if (k && etcd_call(s->c, "/v3/kv/deleterange", json_pack("{ss}", "key", k), &r) == 0)
		etcd_resp_free(&r);
	free(k);
	etcd_close(s->c);
	free(s);
}

static const struct store_ops et_ops = {
	.txn_begin = et_begin, .txn_commit = et_commit, .txn_abort = et_abort,
	.get = et_get, .create = et_create, .put = et_put, .del = et_del, .list = et_list,
	.guard = et_guard, .close = et_close,
};

int store_etcd_open(const char *endpoints, const struct etcd_tls *tls, struct store **out)
{
	struct et_store *s = calloc(1, sizeof(*s));
	unsigned char id[16];
	size_t o;
	int rc;

	if (!s)
		return -ENOMEM;
	if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
		free(s);
		return -EIO;
	}
	o = (size_t)snprintf(s->mark_key, sizeof(s->mark_key), "%s", ET_MARK_PREFIX);
	for (size_t i = 0; i < sizeof(id); i++)
		o += (size_t)snprintf(s->mark_key + o, sizeof(s->mark_key) - o, "%02x", id[i]);
	s->base.ops = &et_ops;
	if ((rc = etcd_open(endpoints, tls, &s->c))) {
		free(s);
		return rc;
	}
	*out = &s->base;
	return 0;
}
