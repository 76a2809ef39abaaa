/* reconcile: the instance reconciler (docs/api.md#the-reconciler). Reads
 * the records, talks to each admitted host's controller over its mTLS API
 * with ward-api's control-plane identity (libcurl), and writes each
 * transition in a fenced transaction that re-checks the record first. */
#include "reconcile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ctlclient.h"
#include "ec2.h"
#include "ec2_place.h"
#include "leader.h"
#include "log.h"
#include "ticker.h"

#define REPLY_MAX (4u << 20)

static struct reconcile_cfg C;

void reconcile_configure(const struct reconcile_cfg *cfg)
{
	C = *cfg;
	if (C.timeout_s <= 0)
		C.timeout_s = 10;
}

/* ---- one request to a controller ---- */

/* The HTTP status (0: unreachable) and, for any answer, its JSON body in
 * *out (NULL when it was not JSON). */
static long call(const json_t *host, const char *method, const char *path, const char *body,
		 json_t **out)
{
	const struct ctlclient_id id = { C.client_cert, C.client_key, C.timeout_s };
	struct ctlclient_reply b;
	long status = 0;
	char err[128];

	*out = NULL;
	if (ctlclient_call(host, &id, method, path, body, REPLY_MAX, &status, &b, err,
			   sizeof(err)))
		return 0;
	if (b.p)
		*out = json_loadb(b.p, b.n, 0, NULL);
	free(b.p);
	return status;
}

long reconcile_call(const json_t *host, const char *method, const char *path, const char *body,
		    json_t **out)
{
	return call(host, method, path, body, out);
}

/* ---- store helpers ---- */

struct docs {
	json_t *all;
};

static int collect(const char *key, const char *value, void *arg)
{
	struct docs *d = arg;
	json_t *o;

	(void)key;
	if ((o = json_loads(value, 0, NULL)))
		json_array_append_new(d->all, o);
	return 0;
}

static json_t *list(struct store *s, const char *prefix, bool top_only)
{
	struct store_txn *t;
	struct docs d = { json_array() };
	json_t *out = json_array(), *o;
	size_t i;

	if (!d.all || !out || store_txn_begin(s, false, &t))
		goto fail;
	if (store_list(t, prefix, collect, &d)) {
		store_txn_abort(t);
		goto fail;
	}
	store_txn_abort(t);
	/* The host registry keeps sub-keys under a host; only the documents. */
	json_array_foreach(d.all, i, o)
		if (!top_only || json_object_get(o, "HostId"))
			json_array_append(out, o);
	json_decref(d.all);
	return out;
fail:
	json_decref(d.all);
	json_decref(out);
	return NULL;
}

/* Compare-and-set of ec2/instance/<id>: applied only while the record still
 * has was's State, Desired and HostInstance (a request or another round
 * changed it otherwise: -EAGAIN, the next round sees the new record),
 * fenced by the leader's term. 0, -EAGAIN, -ESTALE (deposed), -errno. */
static int transition(struct store *s, const json_t *was, json_t *now)
{
	static const char *const keys[] = { "State", "Desired", "HostInstance", "HostId" };
	struct store_txn *t;
	char key[STORE_KEY_MAX], *v = NULL, *doc;
	json_t *cur;
	int rc;

	snprintf(key, sizeof(key), "ec2/instance/%s", ec2_jstr(was, "InstanceId"));
	if ((rc = store_txn_begin(s, true, &t)))
		return rc;
	rc = store_get(t, key, &v);
	cur = rc ? NULL : json_loads(v, 0, NULL);
	free(v);
	for (size_t i = 0; cur && i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(ec2_jstr(cur, keys[i]), ec2_jstr(was, keys[i]))) {
			json_decref(cur);
			cur = NULL;
		}
	if (!cur) {
		store_txn_abort(t);
		return rc ? rc : -EAGAIN;
	}
	/* Tags are the requests' to change at any time (CreateTags): kept as
	 * they are now, not as the round read them. */
	json_object_set(now, "Tags", json_object_get(cur, "Tags") ? json_object_get(cur, "Tags") :
			json_object_get(now, "Tags"));
	json_decref(cur);
	doc = json_dumps(now, JSON_COMPACT | JSON_SORT_KEYS);
	rc = doc ? leader_fence(t) : -ENOMEM;
	if (!rc)
		rc = store_put(t, key, doc);
	free(doc);
	if (rc) {
		store_txn_abort(t);
		return rc;
	}
	return store_txn_commit(t);
}

/* ec2/hostcap/<id>: what placement may use, from the host's own report of
 * its CPU partition (GET /v1/host "cpu"): the fixed cores are every guest
 * core outside the burstable pool, free or not (placement subtracts the
 * stored instances itself), and the pool's cores. Written only on change. */
static int observe_host(struct store *s, const json_t *host, const json_t *rep)
{
	const json_t *cpu = json_object_get(rep, "cpu");
	long tpc = json_integer_value(json_object_get(cpu, "threads_per_core"));
	size_t guest = json_array_size(json_object_get(cpu, "guest_cpus"));
	size_t pool = json_array_size(json_object_get(cpu, "burst_pool"));
	const char *id = ec2_jstr(host, "HostId");
	char key[STORE_KEY_MAX], *doc;
	json_t *o;
	int rc;

	if (tpc < 1)
		tpc = 1;
	/* An unpartitioned host (one core) pins nothing: a burstable pool of
	 * one, no fixed cores (docs/controller.md#cpu-placement). */
	if (!json_is_true(json_object_get(cpu, "partitioned")))
		o = json_pack("{sisisi}", "ThreadsPerCore", 1, "FixedCores", 0, "PoolCores", 1);
	else
		o = json_pack("{sIsIsI}", "ThreadsPerCore", (json_int_t)tpc, "FixedCores",
			      (json_int_t)((guest - pool) / (size_t)tpc), "PoolCores",
			      (json_int_t)((pool + (size_t)tpc - 1) / (size_t)tpc));
	doc = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (!doc)
		return -ENOMEM;
	snprintf(key, sizeof(key), "ec2/hostcap/%s", id);
	rc = reconcile_put_changed(s, key, doc);
	if (rc == 1)
		log_info("host capacity", "host=%s cap=%s", id, doc);
	free(doc);
	return rc < 0 ? rc : 0;
}

int reconcile_put_changed(struct store *s, const char *key, const char *doc)
{
	struct store_txn *t;
	char *old = NULL;
	int rc;

	if ((rc = store_txn_begin(s, true, &t)))
		return rc;
	rc = store_get(t, key, &old);
	if (rc == 0 && strcmp(old, doc) == 0) {
		store_txn_abort(t);
		free(old);
		return 0;
	}
	free(old);
	rc = leader_fence(t);
	if (!rc)
		rc = store_put(t, key, doc);
	if (rc) {
		store_txn_abort(t);
		return rc;
	}
	rc = store_txn_commit(t);
	return rc ? rc : 1;
}

static json_t *find_host(const json_t *hosts, const char *id)
{
	size_t i;
	json_t *h;

	json_array_foreach(hosts, i, h)
		if (strcmp(ec2_jstr(h, "HostId"), id) == 0)
			return h;
	return NULL;
}

static json_t *with(const json_t *was, const char *state)
{
	json_t *o = json_deep_copy(was);

	if (o)
		json_object_set_new(o, "State", json_string(state));
	return o;
}

static int set_reason(json_t *o, const char *code, const char *msg)
{
	json_object_set_new(o, "StateReasonCode", json_string(code));
	return json_object_set_new(o, "StateReason", json_string(msg));
}

/* A launch answered while a request changed the record (a terminate or a
 * stop during the POST): the host instance is written onto the record as
 * it is now, so that the stop or terminate ends it on the host instead of
 * leaving it running there unrecorded. */
static int adopt(struct store *s, const json_t *was, json_t *hid)
{
	struct store_txn *t;
	char key[STORE_KEY_MAX], *v = NULL, *doc = NULL;
	json_t *cur;
	int rc;

	snprintf(key, sizeof(key), "ec2/instance/%s", ec2_jstr(was, "InstanceId"));
	if ((rc = store_txn_begin(s, true, &t)))
		return rc;
	rc = store_get(t, key, &v);
	cur = rc ? NULL : json_loads(v, 0, NULL);
	free(v);
	if (cur && !ec2_jstr(cur, "HostInstance")[0] &&
	    !strcmp(ec2_jstr(cur, "HostId"), ec2_jstr(was, "HostId"))) {
		json_object_set(cur, "HostInstance", hid);
		doc = json_dumps(cur, JSON_COMPACT | JSON_SORT_KEYS);
		rc = doc ? leader_fence(t) : -ENOMEM;
		if (!rc)
			rc = store_put(t, key, doc);
	}
	json_decref(cur);
	free(doc);
	if (rc || !doc) {
		store_txn_abort(t);
		return rc == -ENOENT ? 0 : rc;
	}
	rc = store_txn_commit(t);
	if (!rc)
		log_info("instance launch adopted", "instance=%s on_host=%s",
			 ec2_jstr(was, "InstanceId"), json_string_value(hid));
	return rc;
}

/* pending on an admitted host: launch it there. */
static int launch(struct store *s, const json_t *host, const json_t *in)
{
	const struct ec2_itype *ty = ec2_itype_find(ec2_jstr(in, "InstanceType"));
	const char *id = ec2_jstr(in, "InstanceId");
	json_t *req, *rep = NULL, *now = NULL;
	char *body;
	long st;
	int rc = 0;

	if (!ty)
		return 0;
	/* The instance id is the launch's client_token (docs/controller.md
	 * "Idempotent launch"): if this process died after the host started
	 * it but before the record said so, the next round's POST is
	 * answered 200 with that instance instead of starting a second. */
	req = json_pack("{sssisissss}", "image", ec2_jstr(in, "ImageId") + 4, "vcpus",
			(int)ty->vcpus, "memory_mib", (int)ty->memory_mib, "cpu",
			ty->fixed ? "fixed" : "burstable", "client_token", id);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		return -ENOMEM;
	st = call(host, "POST", "/v1/instances", body, &rep);
	free(body);
	if ((st == 201 || st == 200) && json_is_string(json_object_get(rep, "id"))) {
		now = with(in, "running");
		if (now)
			json_object_set_new(now, "HostInstance",
					    json_copy(json_object_get(rep, "id")));
	} else if (st >= 400 && st < 500) {
		/* Refused for good (the image is not in the host's store, the
		 * shape does not fit): terminated, with the controller's reason. */
		const json_t *e = json_object_get(rep, "error");
		char msg[256];

		snprintf(msg, sizeof(msg), "Server.InternalError: the host refused the launch: "
			 "%.64s", ec2_jstr(e, "code"));
		now = with(in, "terminated");
		if (now) {
			json_object_set_new(now, "Desired", json_string("terminated"));
			set_reason(now, "Server.InternalError", msg);
		}
		log_warn("instance launch refused", "instance=%s host=%s status=%ld code=%s", id,
			 ec2_jstr(host, "HostId"), st, ec2_jstr(e, "code"));
	} else {
		/* Unreachable or a server error: tried again next round. */
		log_warn("instance launch failed", "instance=%s host=%s status=%ld", id,
			 ec2_jstr(host, "HostId"), st);
	}
	if (now) {
		rc = transition(s, in, now);
		if (rc == -EAGAIN && (st == 201 || st == 200) &&
		    !(rc = adopt(s, in, json_object_get(now, "HostInstance"))))
			rc = -EAGAIN;	/* logged there */
		if (!rc)
			log_info(strcmp(ec2_jstr(now, "State"), "running") ? "instance terminated" :
				 "instance running", "instance=%s host=%s on_host=%s", id,
				 ec2_jstr(host, "HostId"), ec2_jstr(now, "HostInstance"));
	}
	json_decref(rep);
	json_decref(now);
	return rc;
}

/* stopping / shutting-down: end it on its host (a 404 is already gone),
 * then stopped (holding no host) or terminated. */
static int finish(struct store *s, const json_t *host, const json_t *in, bool stop)
{
	const char *hid = ec2_jstr(in, "HostInstance"), *id = ec2_jstr(in, "InstanceId");
	json_t *rep = NULL, *now;
	char path[128];
	long st = 200;
	int rc;

	if (hid[0]) {
		if (!host)
			return 0;
		snprintf(path, sizeof(path), "/v1/instances/%.64s", hid);
		st = call(host, "DELETE", path, NULL, &rep);
		json_decref(rep);
		if (st != 200 && st != 404) {
			log_warn("instance stop failed", "instance=%s host=%s status=%ld", id,
				 ec2_jstr(in, "HostId"), st);
			return 0;
		}
	}
	now = with(in, stop ? "stopped" : "terminated");
	if (!now)
		return -ENOMEM;
	json_object_set_new(now, "HostInstance", json_string(""));
	if (stop) {
		json_object_set_new(now, "HostId", json_string(""));
		set_reason(now, "Client.UserInitiatedShutdown",
			   "Client.UserInitiatedShutdown: User initiated shutdown");
	}
	rc = transition(s, in, now);
	if (!rc)
		log_info(stop ? "instance stopped" : "instance terminated", "instance=%s host=%s",
			 id, ec2_jstr(in, "HostId"));
	json_decref(now);
	return rc;
}

/* running: the controller lists it, or it ended on its own (the guest
 * exited, or the host lost it): stopped, as EC2's default for an
 * instance-initiated shutdown. */
static int observe(struct store *s, const json_t *listing, const json_t *in)
{
	const char *hid = ec2_jstr(in, "HostInstance");
	json_t *e, *now;
	size_t i;
	int rc;

	json_array_foreach(json_object_get(listing, "instances"), i, e)
		if (strcmp(ec2_jstr(e, "id"), hid) == 0) {
			if (strcmp(ec2_jstr(e, "state"), "running") == 0)
				return 0;
			break;
		}
	now = with(in, "stopped");
	if (!now)
		return -ENOMEM;
	json_object_set_new(now, "HostInstance", json_string(""));
	json_object_set_new(now, "HostId", json_string(""));
	json_object_set_new(now, "Desired", json_string("stopped"));
	set_reason(now, "Client.InstanceInitiatedShutdown",
		   "Client.InstanceInitiatedShutdown: Instance initiated shutdown");
	rc = transition(s, in, now);
	if (!rc)
		log_info("instance stopped", "instance=%s host=%s reason=ended", ec2_jstr(in,
			 "InstanceId"), ec2_jstr(in, "HostId"));
	json_decref(now);
	return rc;
}

int reconcile_round(struct store *s, void *arg)
{
	json_t *hosts, *insts, *listings, *h, *in;
	size_t i;
	int rc = 0;

	(void)arg;
	hosts = list(s, "ec2/host/", true);
	insts = list(s, "ec2/instance/", false);
	listings = json_object();
	if (!hosts || !insts || !listings) {
		rc = -EIO;
		goto out;
	}
	/* Only admitted hosts are driven or read. A drained host's instances
	 * keep their last state: reported, never killed from here. */
	json_array_foreach(hosts, i, h) {
		json_t *rep = NULL;

		if (strcmp(ec2_jstr(h, "State"), "admitted"))
			continue;
		/* The images before anything RunInstances reads of the host:
		 * a host with capacity always has its image list too. */
		if (call(h, "GET", "/v1/images", NULL, &rep) == 200 && rep)
			rc = reconcile_images(s, h, rep);
		json_decref(rep);
		rep = NULL;
		if (rc == -ESTALE)
			goto out;
		if (call(h, "GET", "/v1/host", NULL, &rep) == 200 && rep)
			rc = observe_host(s, h, rep);
		json_decref(rep);
		rep = NULL;
		if (rc == -ESTALE)
			goto out;
		if (call(h, "GET", "/v1/instances", NULL, &rep) == 200 && rep)
			json_object_set_new(listings, ec2_jstr(h, "HostId"), rep);
		else
			json_decref(rep);
	}
	json_array_foreach(insts, i, in) {
		const char *state = ec2_jstr(in, "State"), *hid = ec2_jstr(in, "HostId");
		json_t *host = find_host(hosts, hid);
		bool up = host && !strcmp(ec2_jstr(host, "State"), "admitted");

		if (!strcmp(state, "pending") && up && !ec2_jstr(in, "HostInstance")[0])
			rc = launch(s, host, in);
		else if (!strcmp(state, "stopping") || !strcmp(state, "shutting-down"))
			rc = finish(s, up ? host : NULL, in, !strcmp(state, "stopping"));
		else if (!strcmp(state, "running") && up && json_object_get(listings, hid))
			rc = observe(s, json_object_get(listings, hid), in);
		if (rc == -ESTALE)
			break;
		rc = 0;	/* -EAGAIN: changed meanwhile, seen next round */
	}
	/* Attachments after the instances, which they follow: a detach
	 * waits for its instance's end, which this round may have written. */
	if (rc != -ESTALE) {
		json_decref(insts);
		insts = list(s, "ec2/instance/", false);
		rc = insts ? reconcile_volumes(s, hosts, insts) : 0;
	}
out:
	json_decref(hosts);
	json_decref(insts);
	json_decref(listings);
	return rc == -ESTALE ? rc : 0;
}

/* ---- the SQLite replica's own schedule ---- */

static struct ticker T = TICKER_INIT(reconcile_round, NULL);

int reconcile_thread_start(const char *db)
{
	return ticker_start(&T, db);
}

void reconcile_thread_stop(void)
{
	ticker_stop(&T);
}

void reconcile_kick(void)
{
	ticker_kick(&T);
}
