/* leader: the election of ward-api's leader on etcd (leader.h). The
 * election thread grants a lease and campaigns with a create-if-absent Txn
 * on LEADER_KEY carrying the lease; the winner runs the leader-only tasks
 * each ttl/3 while a second thread, the keeper, renews the lease every
 * ttl/3 on its own etcd connection (a task may take longer than the
 * lease); the others watch the key and campaign again when it goes (a
 * compacted watch re-lists: it campaigns, which reads the key, and
 * watches from that revision). */
#include "leader.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "etcd.h"
#include "log.h"

#define MAX_TASKS 8

static struct {
	pthread_mutex_t mu;
	bool elected;		/* an election runs (--etcd) */
	bool leading;		/* the hint: cleared by the keeper when the lease is lost */
	bool term;		/* tok is this replica's term (the election thread's view) */
	struct leader_token tok;
	atomic_bool stop;	/* set by leader_stop, read by the threads */
	atomic_bool lost;	/* the keeper: the lease is gone, end the term */
	atomic_bool term_over;	/* the election thread: the keeper may go */
	pthread_t th;
	struct leader_config cfg;
	char id[128];
	struct etcd *c;
	struct etcd *kc;	/* the keeper's connection */
	struct store *s;
	leader_task_fn task[MAX_TASKS];
	void *arg[MAX_TASKS];
	size_t ntask;
} L = { .mu = PTHREAD_MUTEX_INITIALIZER };

int leader_add_task(leader_task_fn fn, void *arg)
{
	if (L.ntask == MAX_TASKS)
		return -ENOSPC;
	L.task[L.ntask] = fn;
	L.arg[L.ntask++] = arg;
	return 0;
}

bool leader_is_me(void)
{
	bool r;

	pthread_mutex_lock(&L.mu);
	r = !L.elected || L.leading;
	pthread_mutex_unlock(&L.mu);
	return r;
}

int leader_token(struct leader_token *out)
{
	int rc = 0;

	/* The term's token, even once the keeper found the lease lost: a
	 * task's write with it is refused by etcd, which is the fence's
	 * guarantee (the hint only saves work). */
	pthread_mutex_lock(&L.mu);
	if (!L.elected)
		rc = -EOPNOTSUPP;
	else if (!L.term)
		rc = -ENOENT;
	else
		*out = L.tok;
	pthread_mutex_unlock(&L.mu);
	return rc;
}

int leader_fence(struct store_txn *t)
{
	struct leader_token tok;
	int rc = leader_token(&tok);

	if (rc == -EOPNOTSUPP)
		return 0;
	return rc ? rc : store_guard(t, LEADER_KEY, tok.create_rev);
}

static void set_leading(bool on, const struct leader_token *tok)
{
	pthread_mutex_lock(&L.mu);
	L.leading = L.term = on;
	if (tok)
		L.tok = *tok;
	pthread_mutex_unlock(&L.mu);
}

/* Sleeps ms, or less once *also (if given) or L.stop turns true. */
static void nap_ms_or(long ms, const atomic_bool *also)
{
	for (; ms > 0 && !L.stop && !(also && atomic_load(also)); ms -= 50) {
		struct timespec ts = { 0, (ms < 50 ? ms : 50) * 1000000L };

		nanosleep(&ts, NULL);
	}
}

static void nap_ms(long ms)
{
	nap_ms_or(ms, NULL);
}

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static char *i64s(int64_t v, char buf[24])
{
	snprintf(buf, 24, "%lld", (long long)v);
	return buf;
}

static int64_t lease_grant(void)
{
	struct etcd_resp r;
	int64_t id;

	if (etcd_call(L.c, "/v3/lease/grant", json_pack("{si}", "TTL", L.cfg.ttl_s), &r))
		return -1;
	id = etcd_int(r.root, "ID");
	etcd_resp_free(&r);
	return id > 0 ? id : -1;
}

static void lease_revoke(int64_t id)
{
	struct etcd_resp r;
	char b[24];

	if (etcd_call(L.c, "/v3/lease/revoke", json_pack("{ss}", "ID", i64s(id, b)), &r) == 0)
		etcd_resp_free(&r);
}

/* The lease's remaining TTL: 0 when etcd no longer knows it, -1 when
 * etcd could not be asked. */
static int64_t lease_keepalive(struct etcd *c, int64_t id)
{
	struct etcd_resp r;
	int64_t ttl;
	char b[24];

	if (etcd_call(c, "/v3/lease/keepalive", json_pack("{ss}", "ID", i64s(id, b)), &r))
		return -1;
	ttl = etcd_int(r.root, "TTL");
	etcd_resp_free(&r);
	return ttl;
}

/* One create-if-absent Txn. 1: elected (tok filled); 0: another leads
 * (*rev: the revision to watch from); <0: etcd unreachable. */
static int campaign(int64_t lease, struct leader_token *tok, int64_t *rev)
{
	char *k = etcd_b64(LEADER_KEY, strlen(LEADER_KEY)), *v = etcd_b64(L.id, strlen(L.id));
	char b[24];
	struct etcd_resp r;
	json_t *req = k && v ? json_pack("{s[{ssssssss}]s[{s{ssssss}}]s[{s{ss}}]}",
		"compare", "key", k, "target", "CREATE", "result", "EQUAL", "create_revision", "0",
		"success", "request_put", "key", k, "value", v, "lease", i64s(lease, b),
		"failure", "request_range", "key", k) : NULL;
	int rc;

	free(k);
	free(v);
	if (!req)
		return -ENOMEM;
	if ((rc = etcd_call(L.c, "/v3/kv/txn", req, &r)))
		return rc;
	if (json_is_true(json_object_get(r.root, "succeeded"))) {
		tok->create_rev = r.revision;
		tok->lease = lease;
		rc = r.revision > 0 ? 1 : -EPROTO;
	} else {
		struct etcd_kv *kvs;
		size_t n;

		/* etcd_call resends after a lost reply: the key may hold our
		 * own lease, the first send's win. */
		*rev = r.revision;
		rc = 0;
		if (etcd_resp_kvs(json_object_get(json_array_get(json_object_get(r.root,
				"responses"), 0), "response_range"), &kvs, &n) == 0) {
			if (n == 1 && kvs[0].lease == lease && kvs[0].create_rev > 0) {
				tok->create_rev = kvs[0].create_rev;
				tok->lease = lease;
				rc = 1;
			}
			etcd_kvs_free(kvs, n);
		}
	}
	etcd_resp_free(&r);
	return rc;
}

enum { W_DELETED = 1, W_COMPACTED, W_CANCELED };

static int on_watch(const struct etcd_watch_msg *m, void *arg)
{
	if (m->compact_revision) {
		log_info("election watch compacted, re-listing", "compact_revision=%lld",
			 (long long)m->compact_revision);
		return W_COMPACTED;
	}
	if (m->canceled)
		return W_CANCELED;
	for (size_t i = 0; i < m->nev; i++)
		if (m->ev[i] == ETCD_EV_DELETE)
			return W_DELETED;
	return 0;
}

/* The keeper: renews the term's lease every ttl/3, on its own thread and
 * etcd connection, so that a leader task slower than the lease (a
 * controller call has a 10 s timeout, the lease 5 s) does not let it
 * expire. A lease etcd no longer knows, or one not renewed within a TTL
 * of the last renewal sent, is lost: the hint (leader_is_me) turns false
 * at once and the election thread ends the term after its round. */
static void *keep(void *unused)
{
	long tick = L.cfg.ttl_s * 1000L / 3, renewed = mono_ms();
	const char *why = NULL;

	(void)unused;
	pthread_setname_np(pthread_self(), "ward-lease");
	while (!L.stop && !atomic_load(&L.term_over) && !why) {
		long sent;
		int64_t ttl;

		nap_ms_or(tick, &L.term_over);
		if (L.stop || atomic_load(&L.term_over))
			break;
		sent = mono_ms();
		ttl = lease_keepalive(L.kc, L.tok.lease);
		if (ttl == 0)
			why = "leader lease lost";
		else if (ttl > 0)
			renewed = sent;
		else if (mono_ms() - renewed >= L.cfg.ttl_s * 1000L)
			/* Unreachable for longer than the lease: etcd has let it go. */
			why = "leader lease not renewed in time";
	}
	if (why) {
		log_warn(why, "id=%s token=%lld", L.id, (long long)L.tok.create_rev);
		pthread_mutex_lock(&L.mu);
		L.leading = false;
		pthread_mutex_unlock(&L.mu);
		atomic_store(&L.lost, true);
	}
	return NULL;
}

/* While leading: each tick, the tasks, whatever the keeper found. The
 * tasks are not skipped when the lease is known lost on purpose: a leader
 * that was frozen (or partitioned) past its lease acts before it learns
 * it was deposed, and the fence, not the hint, is what must stop it (and
 * ha_fence shows it does). The term ends after the round. */
static void lead(void)
{
	long tick = L.cfg.ttl_s * 1000L / 3;
	pthread_t kt;

	atomic_store(&L.lost, false);
	atomic_store(&L.term_over, false);
	if (pthread_create(&kt, NULL, keep, NULL)) {
		log_error("cannot start the lease keeper, stepping down", "id=%s", L.id);
		set_leading(false, NULL);
		lease_revoke(L.tok.lease);
		return;
	}
	while (!L.stop) {
		nap_ms(tick);
		if (L.stop)
			break;
		for (size_t i = 0; i < L.ntask; i++) {
			if (L.task[i](L.s, L.arg[i]) == -ESTALE) {
				log_warn("leader write fenced off, stepping down", "id=%s token=%lld",
					 L.id, (long long)L.tok.create_rev);
				goto deposed;
			}
		}
		if (atomic_load(&L.lost)) {
			log_warn("leader lease gone, stepping down", "id=%s token=%lld", L.id,
				 (long long)L.tok.create_rev);
			break;
		}
	}
deposed:
	atomic_store(&L.term_over, true);
	pthread_join(kt, NULL);
	set_leading(false, NULL);
	lease_revoke(L.tok.lease);
}

static void *run(void *unused)
{
	int64_t first = L.cfg.first_watch_rev;

	(void)unused;
	/* ha_fence finds this thread by its name. */
	pthread_setname_np(pthread_self(), "ward-leader");
	while (!L.stop) {
		struct leader_token tok;
		int64_t lease = lease_grant(), rev = 0;
		int rc;

		if (lease < 0) {
			nap_ms(500);
			continue;
		}
		rc = campaign(lease, &tok, &rev);
		if (rc == 1) {
			log_info("elected leader", "id=%s token=%lld lease=%lld", L.id,
				 (long long)tok.create_rev, (long long)lease);
			set_leading(true, &tok);
			lead();
			continue;
		}
		lease_revoke(lease);
		if (rc < 0) {
			nap_ms(500);
			continue;
		}
		rc = etcd_watch(L.c, LEADER_KEY, first ? first : rev + 1, L.cfg.ttl_s * 2000L,
				on_watch, NULL, &L.stop);
		first = 0;
		if (rc == -EIO || rc == -EPROTO)
			nap_ms(200);
	}
	return NULL;
}

/* The built-in leader task: a fenced record of who leads, for operators
 * (and the fencing test): leader/heartbeat = {Id, Token, Time}. */
static int heartbeat(struct store *s, void *arg)
{
	struct store_txn *t;
	char val[256];
	int rc;

	(void)arg;
	snprintf(val, sizeof(val), "{\"Id\":\"%s\",\"Token\":%lld,\"Time\":%lld}", L.id,
		 (long long)L.tok.create_rev, (long long)time(NULL));
	if ((rc = store_txn_begin(s, true, &t)))
		return rc;
	if ((rc = leader_fence(t)) || (rc = store_put(t, "leader/heartbeat", val))) {
		store_txn_abort(t);
		return rc;
	}
	return store_txn_commit(t);
}

/* The tests' slow leader task (leader_config.test_slow_task_ms, set only
 * by a test-hooks build): it stands for a controller answering only after
 * that long, then makes a fenced write leader/slowtask = {Id, Token,
 * Round}. ha_lease shows that such a round, longer than the lease, keeps
 * the lead and its write is accepted. */
static int slow_task(struct store *s, void *arg)
{
	static long round;
	struct store_txn *t;
	char val[256];
	int rc;

	(void)arg;
	log_info("test hook: slow leader task", "ms=%ld", L.cfg.test_slow_task_ms);
	nap_ms(L.cfg.test_slow_task_ms);
	snprintf(val, sizeof(val), "{\"Id\":\"%s\",\"Token\":%lld,\"Round\":%ld}", L.id,
		 (long long)L.tok.create_rev, ++round);
	if ((rc = store_txn_begin(s, true, &t)))
		return rc;
	if ((rc = leader_fence(t)) || (rc = store_put(t, "leader/slowtask", val))) {
		store_txn_abort(t);
		return rc;
	}
	return store_txn_commit(t);
}

int leader_start(const struct leader_config *cfg)
{
	int rc;

	if (cfg->ttl_s < 1 || strlen(cfg->id) >= sizeof(L.id) ||
	    strspn(cfg->id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./:") !=
		    strlen(cfg->id))
		return -EINVAL;
	L.cfg = *cfg;
	snprintf(L.id, sizeof(L.id), "%s", cfg->id);
	if ((rc = etcd_open(cfg->endpoints, cfg->tls, &L.c)))
		return rc;
	if ((rc = etcd_open(cfg->endpoints, cfg->tls, &L.kc)))
		goto err_c;
	if ((rc = store_etcd_open(cfg->endpoints, cfg->tls, &L.s)))
		goto err_kc;
	if (cfg->test_slow_task_ms > 0 && (rc = leader_add_task(slow_task, NULL)))
		goto err_s;
	if ((rc = leader_add_task(heartbeat, NULL)))
		goto err_s;
	L.stop = false;
	L.elected = true;
	if ((rc = -pthread_create(&L.th, NULL, run, NULL))) {
		L.elected = false;
		goto err_s;
	}
	return 0;
err_s:
	store_close(L.s);
err_kc:
	etcd_close(L.kc);
err_c:
	etcd_close(L.c);
	return rc;
}

void leader_stop(void)
{
	if (!L.elected)
		return;
	L.stop = true;
	pthread_join(L.th, NULL);
	store_close(L.s);
	etcd_close(L.kc);
	etcd_close(L.c);
	pthread_mutex_lock(&L.mu);
	L.elected = L.leading = false;
	pthread_mutex_unlock(&L.mu);
}
