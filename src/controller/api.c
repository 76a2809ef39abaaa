/* api: ward-controller's HTTPS server. TLS 1.2+ with a client certificate
 * from the configured CA is required before any HTTP is read (handshake
 * fails otherwise), the certificate's OU names the role (docs/controller.md),
 * routes.c decides what that role may call, and every request — allowed,
 * denied or cut off — is appended to the audit log before its answer is
 * sent. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "controller/api.h"
#include "controller/hostattest.h"
#include "controller/hostmetrics.h"
#include "controller/instances.h"
#include "controller/request.h"
#include "controller/routes.h"
#include "controller/netcard.h"
#include "controller/volumes.h"
#include "controller/vpcstore.h"
#include "errmsg.h"
#include "hugepool.h"
#include "log.h"

#define LEAVES_PER_CALL 10000

/* An answer held back until its request's audit record is durable. */
struct held {
	struct evhttp_request *req;
	int status;
	struct evbuffer *out;
	uint64_t index;
	struct held *next;
};

struct api {
	struct ctl *ctl;
	int efd;		/* the audit flusher's "batch durable" signal */
	struct event *efd_ev;
	struct held *held, **held_tail;
	/* Connections refused before any certificate was seen are counted and
	 * recorded once a second, so unauthenticated clients cannot grow the
	 * audit log by one record per connection. */
	struct event *rej_ev;
	unsigned long rejected[4];	/* by rej_outcome; [3]: cut by the stop */
	struct conn *conns;		/* live connections (api_stop detaches them) */
	struct event_base *base;
	struct evhttp *http;
	SSL_CTX *ssl_ctx;
	struct timeval deadline;
	int port;
};

/* Per connection, hung on the SSL object: its ex_data free callback is our
 * notice that the connection is gone (evhttp has no hook for that). */
struct conn {
	struct api *api;
	struct bufferevent *bev;
	struct event *timer;
	int dispatched;
	int timed_out;
	struct conn *next, **pprev;	/* in api->conns until freed or detached */
};

struct api_req {
	struct api *api;
	struct ctl *ctl;
	struct evhttp_request *req;
	const struct route *route;
	enum role role;
	char client[256];
	char params[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX + 1];
	const char *query;
	const char *body;
	size_t body_len;
	int status;
	struct evbuffer *out;
	const char *ctype;
	json_t *audit;		/* extra fields for this request's record */
};

static int conn_idx = -1;

/* ---- identity ---- */

/* Printable ASCII only, so the record is plain and unambiguous. */
static void clean(char *dst, size_t cap, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n && i + 1 < cap && src[i]; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = 0;
}

/* Role convention: exactly one OU, "control-plane" or "operator". */
static enum role cert_role(X509 *cert, char *ident, size_t len)
{
	X509_NAME *name = X509_get_subject_name(cert);
	char buf[512];
	int pos = -1, found = 0;
	enum role role = ROLE_NONE;

	X509_NAME_oneline(name, buf, sizeof(buf));
	clean(ident, len, buf, sizeof(buf));
	while ((pos = X509_NAME_get_index_by_NID(name, NID_organizationalUnitName, pos)) >= 0) {
		ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, pos));
		int n = ASN1_STRING_length(d);
		char ou[32];

		found++;
		if (n <= 0 || n >= (int)sizeof(ou))
			continue;
		memcpy(ou, ASN1_STRING_get0_data(d), (size_t)n);
		ou[n] = 0;
		role = role_parse(ou);
	}
	return found == 1 ? role : ROLE_NONE;
}

/* ---- responses ---- */

static void reply_text(struct api_req *r, int status, const char *ctype, const char *buf,
		       size_t len)
{
	evbuffer_drain(r->out, evbuffer_get_length(r->out));
	evbuffer_add(r->out, buf, len);
	r->status = status;
	r->ctype = ctype;
}

/* The answer when a reply cannot be built (json_pack or json_dumps failed):
 * a constant, so it needs no memory; its length comes from sizeof. */
static const char reply_oom_body[] =
	"{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}\n";

int api_reply_oom(struct evbuffer *out)
{
	evbuffer_drain(out, evbuffer_get_length(out));
	return evbuffer_add(out, reply_oom_body, sizeof(reply_oom_body) - 1);
}

static void reply_json(struct api_req *r, int status, json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(o);
	if (!s) {
		api_reply_oom(r->out);
		r->status = 500;
		r->ctype = "application/json";
		return;
	}
	reply_text(r, status, "application/json", s, strlen(s));
	evbuffer_add(r->out, "\n", 1);
	free(s);
}

static void reply_error(struct api_req *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void reply_error(struct api_req *r, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Messages may quote request bytes (a JSON parser's "near '…'"), cut at
	 * any byte: keep them printable ASCII so json_pack cannot refuse them
	 * and turn a 400 into the out-of-memory reply. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	reply_json(r, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

/* ---- query strings ---- */

struct qparam {
	const char *name;
	uint64_t val;
	int set;
};

static int parse_query(struct api_req *r, struct qparam *p, size_t np)
{
	struct evkeyvalq kv;
	struct evkeyval *e;
	size_t i;
	int rc = 0;

	TAILQ_INIT(&kv);
	if (r->query && evhttp_parse_query_str(r->query, &kv)) {
		reply_error(r, 400, "bad_request", "malformed query string");
		return -EINVAL;
	}
	TAILQ_FOREACH(e, &kv, next) {
		char *end;

		for (i = 0; i < np && strcmp(p[i].name, e->key); i++)
			;
		if (i == np) {
			reply_error(r, 400, "bad_request", "unknown query parameter");
			rc = -EINVAL;
			break;
		}
		errno = 0;
		if (p[i].set || !*e->value || *e->value == '-' ||
		    (p[i].val = strtoull(e->value, &end, 10), errno || *end)) {
			reply_error(r, 400, "bad_request", "query parameter \"%s\" must be given once, "
				    "as a non-negative integer", p[i].name);
			rc = -EINVAL;
			break;
		}
		p[i].set = 1;
	}
	evhttp_clear_headers(&kv);
	return rc;
}

/* ---- handlers (the table that maps them is routes.c) ---- */

/* Checkpoints failing for longer than one checkpoint interval: the
 * unanchored tail would grow without bound, so changes stop until a
 * checkpoint succeeds (docs/audit.md). */
static bool checkpoint_overdue(const struct ctl *c, struct audit_cp_health *h)
{
	audit_checkpoint_health(c->audit, h);
	return h->rc && h->failing_s >= (uint64_t)(c->checkpoint_s > 0 ? c->checkpoint_s : 1);
}

void api_health(struct api_req *r)
{
	struct audit_cp_health h;
	bool overdue = checkpoint_overdue(r->ctl, &h);
	json_t *cp = json_pack("{s:b, s:I, s:I, s:b}", "ok", !h.rc, "checkpointed_size",
			       (json_int_t)h.checkpointed, "unanchored_records",
			       (json_int_t)h.unanchored, "changes_refused", overdue);

	if (cp && h.rc) {
		json_object_set_new(cp, "error", json_string(h.why));
		json_object_set_new(cp, "failures", json_integer((json_int_t)h.failures));
		json_object_set_new(cp, "failing_for_s", json_integer((json_int_t)h.failing_s));
	}
	reply_json(r, 200, json_pack("{s:s, s:s, s:I, s:o}", "status", h.rc ? "degraded" : "ok",
				     "state", ctl_state_name(r->ctl->state), "audit_size",
				     (json_int_t)audit_size(r->ctl->audit), "checkpoint", cp));
}

/* The partition as the allocator holds it now: CPUs per role, and the
 * cores still free for fixed-performance instances. */
static json_t *cpu_json(const struct ctl *c)
{
	const struct cpu_topo *t = c->topo;
	json_t *card, *guest, *pool, *free_cpus;
	int cpu, core, nfree = 0;

	if (!t || !c->cpu)
		return json_pack("{s:b, s:s}", "partitioned", 0, "note", c->cpu_note);
	card = json_array();
	guest = json_array();
	pool = json_array();
	free_cpus = json_array();
	for (core = 0; core < t->ncores; core++)
		nfree += c->cpu->role[core] == CORE_GUEST_FREE;
	for (cpu = 0; cpu < t->ncpus; cpu++) {
		if ((core = t->core_of[cpu]) < 0)
			continue;
		switch (c->cpu->role[core]) {
		case CORE_CARD:
			json_array_append_new(card, json_integer(cpu));
			break;
		case CORE_BURST:
			json_array_append_new(pool, json_integer(cpu));
			json_array_append_new(guest, json_integer(cpu));
			break;
		case CORE_GUEST_FREE:
			json_array_append_new(free_cpus, json_integer(cpu));
			/* fallthrough */
		default:
			json_array_append_new(guest, json_integer(cpu));
		}
	}
	return json_pack("{s:b, s:s, s:i, s:i, s:o, s:o, s:o, s:i, s:o}", "partitioned", 1,
			 "note", c->cpu_note, "cores", t->ncores, "threads_per_core",
			 t->threads_per_core, "card_cpus", card, "guest_cpus", guest,
			 "burst_pool", pool, "fixed_free_cores", nfree, "fixed_free_cpus",
			 free_cpus);
}

/* {"2M": {"total": N, "free": M}, "1G": ...}: the pools this kernel has. */
static json_t *hugepages_json(void)
{
	static const uint64_t sizes[] = { HUGEPAGE_2M, HUGEPAGE_1G };
	json_t *o = json_object();
	long total, avail;

	for (size_t i = 0; o && i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (hugepool_read(sizes[i], &total, &avail) == 0)
			json_object_set_new(o, sizes[i] == HUGEPAGE_1G ? "1G" : "2M",
					    json_pack("{s:I, s:I}", "total", (json_int_t)total,
						      "free", (json_int_t)avail));
	return o;
}

void api_host(struct api_req *r)
{
	struct ctl *c = r->ctl;

	/* What the kernel does not offer is reported here, per host
	 * (docs/threat-model.md, side channels). */
	reply_json(r, 200, json_pack("{s:s, s:s, s:b, s:I, s:{s:s, s:I, s:s}, s:s, s:o, s:o, "
				     "s:{s:b, s:b, s:b, s:b, s:s}}",
				     "state", ctl_state_name(c->state), "reason", c->reason,
				     "dev", c->dev, "instances_running",
				     (json_int_t)inst_running(c->inst), "audit", "origin", c->origin,
				     "size", (json_int_t)audit_size(c->audit), "public_key",
				     c->audit_pub_pem ? c->audit_pub_pem : "",
				     "version", "0.1.0", "cpu", cpu_json(c), "hugepages",
				     hugepages_json(), "side_channel",
				     "core_scheduling", c->side.core_sched, "l1d_flush",
				     c->side.l1d_flush, "ib_isolation", c->side.ib_isolation,
				     "smt_active", c->side.smt_active, "detail", c->side.detail));
}

static json_t *instance_json(const struct instance *in, bool full)
{
	json_t *o = json_pack("{s:s, s:s}", "id", in->id, "state", inst_state_name(in->state));

	if (o && full) {
		json_object_set_new(o, "image", json_string(in->image));
		json_object_set_new(o, "memory_mib", json_integer(in->memory_mib));
		json_object_set_new(o, "vcpus", json_integer(in->vcpus));
		json_object_set_new(o, "cpu", json_string(inst_cpu_mode(in)));
		json_object_set_new(o, "cpus", inst_cpus_json(in));
		json_object_set_new(o, "hugepages", json_string(in->hugepages[0] ? in->hugepages : "none"));
		json_object_set_new(o, "pid", json_integer(in->pid));
		json_object_set_new(o, "uid", json_integer(in->uid));
		json_object_set_new(o, "created", json_string(in->created));
		json_object_set_new(o, "exit_code", in->exit_code >= 0 ?
				    json_integer(in->exit_code) : json_null());
		if (in->client_token[0])
			json_object_set_new(o, "client_token", json_string(in->client_token));
	}
	return o;
}

void api_instances_list(struct api_req *r)
{
	struct instance *in;
	json_t *a = json_array();

	/* The operator sees that instances exist and their state, nothing of
	 * what they are or run. */
	for (in = inst_list(r->ctl->inst); in; in = in->next)
		json_array_append_new(a, instance_json(in, r->role == ROLE_CONTROL_PLANE));
	reply_json(r, 200, json_pack("{s:o}", "instances", a));
}

/* GET /v1/images: the guest images this host can launch (read-only; the
 * request is audited like every other). */
void api_images_list(struct api_req *r)
{
	json_t *a = inst_images_json(r->ctl->inst);

	if (!a) {
		reply_error(r, 500, "internal", "out of memory");
		return;
	}
	reply_json(r, 200, json_pack("{s:o}", "images", a));
}

static void reply_launch_error(struct api_req *r, int rc, const char *err)
{
	if (rc == -ENOENT)
		reply_error(r, 422, "unknown_image", "%s", err);
	else if (rc == -EBUSY)
		reply_error(r, 409, "host_full", "%s", err);
	else if (rc == -ENOSPC)
		reply_error(r, 409, "cpu_unavailable", "%s", err);
	else if (rc == -ENOBUFS)
		reply_error(r, 409, "hugepages_unavailable", "%s", err);
	else
		reply_error(r, 500, "launch_failed", "%s", err);
}

void api_instance_run(struct api_req *r)
{
	struct inst_plan plan;
	struct run_req rq;
	struct instance *in;
	struct vol_set *vs = NULL;
	const char *why, *code;
	int hv_fds[VOL_MAX], st;
	char err[768];
	unsigned i;
	int rc;

	if (req_parse_run(r->body, r->body_len, &rq, err, sizeof(err))) {
		reply_error(r, 400, "bad_request", "%s", err);
		return;
	}
	/* What was asked for, granted or not: the shape of the VM and its
	 * isolation class are part of the record. */
	json_object_set_new(r->audit, "image", json_string(rq.image));
	json_object_set_new(r->audit, "cpu", json_string(rq.cpu_fixed ? "fixed" : "burstable"));
	json_object_set_new(r->audit, "vcpus", json_integer(rq.vcpus));
	json_object_set_new(r->audit, "memory_mib", json_integer(rq.memory_mib));
	json_object_set_new(r->audit, "hugepages", json_string(rq.hugepages[0] ? rq.hugepages : "none"));
	/* Idempotent launch (docs/controller.md "Idempotent launch"): a retry
	 * of a launch that happened is answered with that instance, even on a
	 * draining host, and starts nothing; the same token with other
	 * parameters is the client's mistake, answered 409. */
	if (rq.client_token[0]) {
		char fp[65];

		json_object_set_new(r->audit, "client_token", json_string(rq.client_token));
		if ((in = inst_find_token(r->ctl->inst, rq.client_token))) {
			json_object_set_new(r->audit, "instance", json_string(in->id));
			if (inst_launch_fp(&rq, fp)) {
				reply_error(r, 500, "internal", "out of memory");
			} else if (strcmp(fp, in->launch_fp)) {
				json_object_set_new(r->audit, "idempotent", json_string("mismatch"));
				reply_error(r, 409, "token_mismatch", "client_token %s names instance "
					    "%s, launched with other parameters", rq.client_token, in->id);
			} else {
				json_t *o = instance_json(in, true);

				json_object_set_new(r->audit, "idempotent", json_string("replay"));
				if (o)
					json_object_set_new(o, "volumes", vol_list(r->ctl->vols, in->id));
				if (o && rq.n_enis)
					json_object_set_new(o, "enis", netcard_list(r->ctl->net, in->id));
				reply_json(r, 200, o);
			}
			return;
		}
	}
	if (!ctl_can_launch(r->ctl, &why)) {
		reply_error(r, 503, r->ctl->state == HOST_DRAINING ? "draining" : "out_of_service",
			    "%s", why);
		return;
	}
	/* Every check on the launch itself first: a request the host would
	 * refuse fetches no volume key (no KMS Decrypt, no TPM unseal). */
	if ((rc = inst_prepare(r->ctl->inst, &rq, &plan, err, sizeof(err)))) {
		reply_launch_error(r, rc, err);
		return;
	}
	/* The ENI next (cheap, and refused before any volume key is
	 * fetched): ward-net serves it on a socketpair whose other end is
	 * ward-hv's --net-fd. */
	if (rq.n_enis) {
		json_object_set_new(r->audit, "eni", json_string(rq.enis[0]));
		if (netcard_attach(r->ctl->net, plan.in->id, rq.enis[0], &plan.net_fd, &st, &code,
				   err, sizeof(err))) {
			inst_plan_drop(r->ctl->inst, &plan);
			reply_error(r, st, code, "%s", err);
			return;
		}
	}
	/* Volumes attach before the VM exists (no hot-plug): KMS, TPM and
	 * ward-blk first, ward-hv only if every volume is in place. */
	if (rq.n_volumes) {
		char ids[VOL_MAX * (VOL_ID_MAX + 1)] = "";

		/* Audit fields are scalars: the ids, comma-separated. */
		for (i = 0; i < rq.n_volumes; i++)
			snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s%s", i ? "," : "",
				 rq.volumes[i].volume_id);
		json_object_set_new(r->audit, "volumes", json_string(ids));
		uint64_t t0 = metrics_now_ns();

		rc = vol_attach_all(r->ctl->vols, rq.volumes, rq.n_volumes, r->client, &vs, hv_fds,
				    &st, &code, err, sizeof(err));
		hostmetrics_attach_observe(metrics_now_ns() - t0, rc == 0);
		if (rc) {
			if (plan.net_fd >= 0) {
				close(plan.net_fd);
				netcard_instance_gone(r->ctl->net, plan.in->id, "instance launch failed");
			}
			inst_plan_drop(r->ctl->inst, &plan);
			reply_error(r, st, code, "%s", err);
			return;
		}
	}
	char launched[INST_ID_LEN + 1];
	int net_fd = plan.net_fd;

	snprintf(launched, sizeof(launched), "%s", plan.in->id);
	rc = inst_launch(r->ctl->inst, &plan, &rq, hv_fds, rq.n_volumes, &in, err, sizeof(err));
	for (i = 0; i < rq.n_volumes; i++)
		close(hv_fds[i]);
	if (net_fd >= 0) {
		close(net_fd);
		if (rc)
			netcard_instance_gone(r->ctl->net, launched, "instance launch failed");
	}
	if (vs && rc)
		vol_abort(r->ctl->vols, vs, "instance launch failed");
	else if (vs)
		vol_bind(r->ctl->vols, vs, in->id);
	if (rc)
		reply_launch_error(r, rc, err);
	else {
		json_t *o = instance_json(in, true);

		json_object_set_new(r->audit, "instance", json_string(in->id));
		if (o && rq.n_volumes)
			json_object_set_new(o, "volumes", vol_list(r->ctl->vols, in->id));
		if (o && rq.n_enis)
			json_object_set_new(o, "enis", netcard_list(r->ctl->net, in->id));
		reply_json(r, 201, o);
	}
}

void api_metrics(struct api_req *r)
{
	struct metrics_buf b = { 0 };

	hostmetrics_render(r->ctl, &b);
	if (b.err)
		reply_error(r, 500, "internal", "out of memory");
	else
		reply_text(r, 200, METRICS_CONTENT_TYPE, b.p, b.len);
	metrics_buf_free(&b);
}

void api_instance_get(struct api_req *r)
{
	struct instance *in = inst_find(r->ctl->inst, r->params[0]);

	json_t *o;

	if (!in) {
		reply_error(r, 404, "not_found", "no instance %s", r->params[0]);
		return;
	}
	o = instance_json(in, true);
	if (o)
		json_object_set_new(o, "volumes", vol_list(r->ctl->vols, in->id));
	if (o)
		json_object_set_new(o, "enis", netcard_list(r->ctl->net, in->id));
	reply_json(r, 200, o);
}

/* The serial console (docs/observability.md "Serial console"): the bytes
 * from ?offset=N (default 0) as they are, at most one ring's worth, with
 * X-Console-Start (where they begin), X-Console-Next (the offset to ask
 * for next) and X-Console-Missed (bytes between N and the start that the
 * ring had already overwritten). Control plane only (routes.c); the audit
 * record names the instance and offset, never a console byte. */
void api_instance_console(struct api_req *r)
{
	struct qparam q[1] = { { "offset", 0, 0 } };
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	struct instance *in;
	uint64_t start, end;
	char hdr[24];
	size_t got;
	uint8_t *buf;
	int rc;

	json_object_set_new(r->audit, "instance", json_string(r->params[0]));
	if (parse_query(r, q, 1))
		return;
	json_object_set_new(r->audit, "offset", json_integer((json_int_t)q[0].val));
	if (!(in = inst_find(r->ctl->inst, r->params[0]))) {
		reply_error(r, 404, "not_found", "no instance %s", r->params[0]);
		return;
	}
	if (!(buf = malloc(INST_CONSOLE_RING))) {
		reply_error(r, 500, "internal", "out of memory");
		return;
	}
	rc = inst_console_read(in, q[0].val, buf, INST_CONSOLE_RING, &got, &start, &end);
	if (rc == -ESRCH)
		reply_error(r, 410, "instance_ended", "instance %s has ended: its console was "
			    "wiped", r->params[0]);
	else if (rc == -ENODATA)
		reply_error(r, 409, "no_console", "instance %s runs without a console (it was "
			    "not re-opened after a controller restart)", r->params[0]);
	else if (rc == -ERANGE)
		reply_error(r, 416, "out_of_range", "offset %" PRIu64 " is past the console's end "
			    "%" PRIu64 " (offsets start again at 0 after a controller restart)",
			    q[0].val, end);
	if (rc) {
		free(buf);
		return;
	}
	snprintf(hdr, sizeof(hdr), "%" PRIu64, start);
	evhttp_add_header(h, "X-Console-Start", hdr);
	snprintf(hdr, sizeof(hdr), "%" PRIu64, start + got);
	evhttp_add_header(h, "X-Console-Next", hdr);
	snprintf(hdr, sizeof(hdr), "%" PRIu64, start - q[0].val);
	evhttp_add_header(h, "X-Console-Missed", hdr);
	reply_text(r, 200, "application/octet-stream", (const char *)buf, got);
	explicit_bzero(buf, got);
	free(buf);
}

void api_instance_stop(struct api_req *r)
{
	char err[256];
	int code, rc;

	json_object_set_new(r->audit, "instance", json_string(r->params[0]));
	rc = inst_stop(r->ctl->inst, r->params[0], &code, err, sizeof(err));
	if (rc == -ENOENT)
		reply_error(r, 404, "not_found", "%s", err);
	else if (rc)
		reply_error(r, 500, "stop_failed", "%s", err);
	else
		reply_json(r, 200, json_pack("{s:s, s:s, s:o}", "id", r->params[0], "state", "stopped",
					     "exit_code", code >= 0 ? json_integer(code) : json_null()));
}

void api_volume_attach(struct api_req *r)
{
	struct volume_req v;
	char err[256];

	if (!inst_find(r->ctl->inst, r->params[0])) {
		reply_error(r, 404, "not_found", "no instance %s", r->params[0]);
		return;
	}
	if (req_parse_volume(r->body, r->body_len, &v, err, sizeof(err))) {
		reply_error(r, 400, "bad_request", "%s", err);
		return;
	}
	json_object_set_new(r->audit, "volume", json_string(v.volume_id));
	reply_error(r, 409, "hot_plug_unsupported", "hot-plug is not supported: attach volumes "
		    "when the instance starts (POST /v1/instances with \"volumes\")");
}

void api_volume_detach(struct api_req *r)
{
	struct instance *in;
	char err[256];
	int rc;

	json_object_set_new(r->audit, "instance", json_string(r->params[0]));
	json_object_set_new(r->audit, "volume", json_string(r->params[1]));
	if (!(in = inst_find(r->ctl->inst, r->params[0]))) {
		reply_error(r, 404, "not_found", "no instance %s", r->params[0]);
		return;
	}
	/* The instance ended: its volumes were detached then, keys wiped in
	 * ward-blk (audited "detached"). The control plane's detach that
	 * follows is the same state, not an unknown attachment. */
	if (in->state == INST_EXITED && inst_had_volume(in, r->params[1])) {
		reply_json(r, 200, json_pack("{s:s, s:s, s:s, s:b, s:s}", "instance", r->params[0],
					     "volume_id", r->params[1], "state", "detached",
					     "key_wiped", 1, "detached_by", "instance end"));
		return;
	}
	rc = vol_detach(r->ctl->vols, r->params[0], r->params[1], err, sizeof(err));
	if (rc == -ENOENT)
		reply_error(r, 404, "not_found", "%s", err);
	else if (rc)
		reply_error(r, 500, "detach_failed", "%s", err);
	else
		reply_json(r, 200, json_pack("{s:s, s:s, s:s, s:b}", "instance", r->params[0],
					     "volume_id", r->params[1], "state", "detached",
					     "key_wiped", 1));
}

/* As AWS: an ENI attached to an instance is not deleted. */
static __attribute__((noinline)) bool eni_delete_refused(struct api_req *r)
{
	const char *eni = r->params[0], *user;

	if (strcmp(r->route->method, "DELETE") || strcmp(r->route->pattern, "/v1/enis/{id}") ||
	    !(user = netcard_eni_user(r->ctl->net, eni)))
		return false;
	json_object_set_new(r->audit, "eni", json_string(eni));
	reply_error(r, 409, "in_use", "ENI %s is attached to instance %s", eni, user);
	return true;
}

void api_net(struct api_req *r)
{
	const char *code = NULL;
	json_t *reply = NULL;
	char msg[512];
	int st;

	if (eni_delete_refused(r))
		return;
	st = vpcstore_request(r->ctl->vpcs, r->route->method, r->route->pattern, r->params,
			      r->body, r->body_len, r->audit, &reply, &code, msg, sizeof(msg));
	/* A change the model took goes to ward-net now (a GET changes
	 * nothing, and the diff is then empty). */
	if (st < 300 && strcmp(r->route->method, "GET"))
		netcard_sync(r->ctl->net, r->route->pattern);
	if (reply)
		reply_json(r, st, reply);
	else
		reply_error(r, st, code, "%s", msg);
}

void api_underlay(struct api_req *r)
{
	const char *code = NULL;
	json_t *reply = NULL;
	char msg[512];
	int st = netcard_underlay_request(r->ctl->net, r->route->method, r->route->pattern,
					  r->body, r->body_len, r->audit, &reply, &code, msg,
					  sizeof(msg));

	if (reply)
		reply_json(r, st, reply);
	else
		reply_error(r, st, code, "%s", msg);
}

/* Host attestation (hostattest.c, docs/attestation.md): keys, activate, quote. */
void api_attestation(struct api_req *r)
{
	const char *code = NULL;
	json_t *reply = NULL;
	char msg[512];
	int st = hostattest_request(r->ctl->attest, r->route->method, r->route->pattern,
				    r->body, r->body_len, r->audit, &reply, &code, msg,
				    sizeof(msg));

	if (reply)
		reply_json(r, st, reply);
	else
		reply_error(r, st, code, "%s", msg);
}

void api_drain(struct api_req *r)
{
	struct ctl *c = r->ctl;
	char err[256];

	if (req_parse_empty(r->body, r->body_len, err, sizeof(err))) {
		reply_error(r, 400, "bad_request", "%s", err);
		return;
	}
	if (c->state != HOST_OUT_OF_SERVICE) {
		c->state = HOST_DRAINING;
		snprintf(c->reason, sizeof(c->reason), "drain requested by %.200s", r->client);
	}
	reply_json(r, 200, json_pack("{s:s, s:I}", "state", ctl_state_name(c->state),
				     "instances_running", (json_int_t)inst_running(c->inst)));
}

void api_audit_checkpoint(struct api_req *r)
{
	char *note = NULL;
	size_t len;
	int rc = audit_checkpoint(r->ctl->audit, r->ctl->signer, &note, &len);

	if (rc)
		reply_error(r, 503, "audit_unavailable", "cannot produce a signed checkpoint");
	else
		reply_text(r, 200, "text/plain; charset=utf-8", note, len);
	free(note);
}

void api_audit_leaves(struct api_req *r)
{
	struct qparam q[2] = { { "from", 0, 0 }, { "to", 0, 0 } };
	uint64_t size = audit_size(r->ctl->audit), to;
	char *buf, hdr[32];
	size_t len;

	if (parse_query(r, q, 2))
		return;
	to = q[1].set ? q[1].val : size;
	if (q[0].val > to || to > size) {
		reply_error(r, 416, "out_of_range", "leaves [%" PRIu64 ", %" PRIu64 ") are not in "
			    "the log of %" PRIu64, q[0].val, to, size);
		return;
	}
	if (to - q[0].val > LEAVES_PER_CALL)
		to = q[0].val + LEAVES_PER_CALL;
	if (audit_read(r->ctl->audit, q[0].val, to, &buf, &len)) {
		reply_error(r, 500, "audit_unavailable", "cannot read the audit log");
		return;
	}
	snprintf(hdr, sizeof(hdr), "%" PRIu64, to);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "X-Ward-Audit-To", hdr);
	reply_text(r, 200, "application/x-ndjson", buf, len);
	free(buf);
}

static json_t *hex_array(uint8_t (*h)[MERKLE_HASH_LEN], size_t n)
{
	json_t *a = json_array();
	char hex[2 * MERKLE_HASH_LEN + 1];
	size_t i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < MERKLE_HASH_LEN; j++)
			snprintf(hex + 2 * j, 3, "%02x", h[i][j]);
		json_array_append_new(a, json_string(hex));
	}
	return a;
}

void api_audit_proof(struct api_req *r)
{
	struct qparam q[4] = { { "index", 0, 0 }, { "size", 0, 0 }, { "from_size", 0, 0 },
			       { "to_size", 0, 0 } };
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN], leaf[MERKLE_HASH_LEN];
	size_t n;

	if (parse_query(r, q, 4))
		return;
	if (q[0].set && q[1].set && !q[2].set && !q[3].set) {
		if (audit_inclusion(r->ctl->audit, q[0].val, q[1].val, proof, &n, leaf)) {
			reply_error(r, 416, "out_of_range", "no leaf %" PRIu64 " in a tree of %" PRIu64,
				    q[0].val, q[1].val);
			return;
		}
		json_t *lh = hex_array(&leaf, 1);

		reply_json(r, 200, json_pack("{s:I, s:I, s:O, s:o}", "index", (json_int_t)q[0].val,
					     "size", (json_int_t)q[1].val, "leaf_hash",
					     json_array_get(lh, 0), "proof", hex_array(proof, n)));
		json_decref(lh);
	} else if (q[2].set && q[3].set && !q[0].set && !q[1].set) {
		if (audit_consistency(r->ctl->audit, q[2].val, q[3].val, proof, &n)) {
			reply_error(r, 416, "out_of_range", "sizes must satisfy from_size <= to_size "
				    "<= log size");
			return;
		}
		reply_json(r, 200, json_pack("{s:I, s:I, s:o}", "from_size", (json_int_t)q[2].val,
					     "to_size", (json_int_t)q[3].val, "proof",
					     hex_array(proof, n)));
	} else {
		reply_error(r, 400, "bad_request", "give index and size (inclusion) or from_size and "
			    "to_size (consistency)");
	}
}

void api_updates(struct api_req *r)
{
	struct update_req u;
	char err[256], path[PATH_MAX];
	int rc;

	if (req_parse_update(r->body, r->body_len, &u, err, sizeof(err))) {
		reply_error(r, 400, "bad_request", "%s", err);
		return;
	}
	snprintf(path, sizeof(path), "%s/updates/%s", r->ctl->state_dir, u.package);
	err[0] = 0;
	rc = fw_update_apply(r->ctl->state_dir, r->ctl->tcti, path, err, sizeof(err));
	ctl_audit(r->ctl, json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "update", "package",
				    u.package, "result", rc ? "refused" : "applied", "reason", err,
				    "client", r->client));
	if (!rc)
		reply_json(r, 202, json_pack("{s:s, s:s}", "package", u.package, "result",
					     "applied; active after the next boot"));
	else if (rc == -ENOTSUP || rc == -EOPNOTSUPP)
		reply_error(r, 501, "not_supported", "%s", err);
	else if (rc == -ENOENT)
		reply_error(r, 404, "not_found", "no update package %s", u.package);
	else if (rc == -ENOMEM || rc == -EIO)
		reply_error(r, 500, "update_failed", "%s", err);
	else
		reply_error(r, 422, "update_refused", "%s", err);
}

/* ---- dispatch ---- */

static const char *method_name(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PATCH: return "PATCH";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	default: return "OTHER";
	}
}

static void remote_addr(struct evhttp_connection *conn, char *buf, size_t len)
{
	char *host = NULL;
	ev_uint16_t port = 0;

	evhttp_connection_get_peer(conn, &host, &port);
	snprintf(buf, len, "%s", host ? host : "?");
}

static void dispatch(struct evhttp_request *req, void *arg)
{
	struct api *api = arg;
	struct evhttp_connection *hc = evhttp_request_get_connection(req);
	struct bufferevent *bev = evhttp_connection_get_bufferevent(hc);
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	struct conn *cn = ssl ? SSL_get_ex_data(ssl, conn_idx) : NULL;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	struct api_req r = { .api = api, .ctl = api->ctl, .req = req, .status = 500 };
	const char *method = method_name(evhttp_request_get_command(req));
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	char cpath[201], remote[64];
	X509 *cert = ssl ? SSL_get1_peer_certificate(ssl) : NULL;
	bool known = false;
	struct held *h;
	uint64_t idx;
	json_t *rec;

	if (cn) {
		cn->dispatched = 1;
		evtimer_del(cn->timer);
	}
	r.out = evbuffer_new();
	r.audit = json_object();
	r.ctype = "application/json";
	strcpy(r.client, "-");
	clean(cpath, sizeof(cpath), path ? path : "", 200);
	remote_addr(hc, remote, sizeof(remote));

	/* TLS already refused anyone without a valid client certificate;
	 * this is the belt to those braces. */
	if (!cert || SSL_get_verify_result(ssl) != X509_V_OK) {
		reply_error(&r, 401, "unauthenticated", "a client certificate is required");
		goto answer;
	}
	r.role = cert_role(cert, r.client, sizeof(r.client));
	if (!path) {
		reply_error(&r, 400, "bad_request", "malformed request URI");
		goto answer;
	}
	r.query = evhttp_uri_get_query(uri);
	r.route = route_match(method, path, r.params, &known);
	if (!r.route) {
		if (known)
			reply_error(&r, 405, "method_not_allowed", "%s is not allowed on %s", method,
				    cpath);
		else
			reply_error(&r, 404, "not_found", "no such route");
		goto answer;
	}
	if (!route_allows(r.route, r.role)) {
		reply_error(&r, 403, "forbidden", "role \"%s\" may not call %s %s",
			    role_name(r.role), r.route->method, r.route->pattern);
		goto answer;
	}
	if (evbuffer_get_length(in) > REQ_BODY_MAX) {
		reply_error(&r, 413, "too_large", "body is larger than %d bytes", REQ_BODY_MAX);
		goto answer;
	}
	if (strcmp(r.route->method, "GET")) {
		struct audit_cp_health cph;

		if (checkpoint_overdue(r.ctl, &cph)) {
			reply_error(&r, 503, "audit_unanchored", "audit checkpoints have failed for "
				    "%llu s (%s): changes are refused until one succeeds",
				    (unsigned long long)cph.failing_s, cph.why);
			goto answer;
		}
	}
	r.body_len = evbuffer_get_length(in);
	r.body = r.body_len ? (const char *)evbuffer_pullup(in, -1) : "";
	r.route->fn(&r);
answer:
	rec = r.audit;
	json_object_set_new(rec, "type", json_string("api"));
	json_object_set_new(rec, "client", json_string(r.client));
	json_object_set_new(rec, "role", json_string(role_name(r.role)));
	json_object_set_new(rec, "method", json_string(method));
	json_object_set_new(rec, "path", json_string(cpath));
	json_object_set_new(rec, "route", r.route ? json_string(r.route->pattern) : json_null());
	json_object_set_new(rec, "status", json_integer(r.status));
	json_object_set_new(rec, "decision", json_string(r.status == 401 || r.status == 403 ||
							  r.status == 404 || r.status == 405 ?
							  "deny" : "allow"));
	json_object_set_new(rec, "remote", json_string(remote));
	evhttp_add_header(oh, "Connection", "close");
	evhttp_add_header(oh, "Cache-Control", "no-store");
	X509_free(cert);
	/* The answer leaves only once the record is on disk: the flusher
	 * thread batches records of concurrent requests into one fsync and
	 * wakes held_release(). */
	if (audit_append_nowait(api->ctl->audit, rec, &idx) == 0 &&
	    (h = calloc(1, sizeof(*h)))) {
		json_decref(rec);
		evhttp_add_header(oh, "Content-Type", r.ctype);
		h->req = req;
		h->status = r.status;
		h->out = r.out;
		h->index = idx;
		*api->held_tail = h;
		api->held_tail = &h->next;
		return;
	}
	json_decref(rec);
	/* Fail closed: an unrecorded request gets no answer but this. */
	reply_error(&r, 503, "audit_unavailable", "the audit log cannot record requests: %s",
		    audit_status(api->ctl->audit) ? strerror(-audit_status(api->ctl->audit)) :
		    "out of memory");
	evhttp_add_header(oh, "Content-Type", r.ctype);
	evhttp_send_reply(req, r.status, NULL, r.out);
	evbuffer_free(r.out);
}

/* Send every held answer whose record is durable; if the log failed,
 * answer the rest 503 (their records may be lost). evhttp keeps a request
 * whose client went away valid until it is answered. */
static void held_release(struct api *a, bool all)
{
	uint64_t size = audit_size(a->ctl->audit);
	bool broken = audit_status(a->ctl->audit) != 0;
	struct held *h;

	while ((h = a->held) && (h->index < size || broken || all)) {
		a->held = h->next;
		if (!a->held)
			a->held_tail = &a->held;
		if (h->index >= size) {
			/* The reason is an errno text (ENOSPC: "No space left on
			 * device"), never anything from the request. */
			evbuffer_drain(h->out, evbuffer_get_length(h->out));
			evbuffer_add_printf(h->out, "{\"error\":{\"code\":\"audit_unavailable\","
					    "\"message\":\"the audit log cannot record requests: "
					    "%s\"}}\n", strerror(-audit_status(a->ctl->audit)));
			h->status = 503;
		}
		evhttp_send_reply(h->req, h->status, NULL, h->out);
		evbuffer_free(h->out);
		free(h);
	}
}

static void on_durable(evutil_socket_t fd, short what, void *arg)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("audit wake-up read failed", "errno=%s", errname(errno));
	held_release(arg, false);
}

/* Called by the audit flusher thread after each batch. */
static void notify_durable(void *arg)
{
	struct api *a = arg;
	uint64_t one = 1;

	if (write(a->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		abort();	/* an eventfd write cannot fail but on overflow */
}

/* ---- connections ---- */

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *cn = arg;
	evutil_socket_t s;

	if (cn->dispatched)
		return;
	/* Slow or stuck client: close the socket under evhttp, which then
	 * sees EOF and frees the connection itself. */
	cn->timed_out = 1;
	s = bufferevent_getfd(cn->bev);
	if (s >= 0)
		shutdown(s, SHUT_RDWR);
}

/* SSL ex_data free: the connection is being torn down. One that never
 * reached a handler (failed handshake, timeout, malformed or oversized
 * HTTP) is audited here. */
static void conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	struct conn *cn = ptr;
	SSL *ssl = parent;
	char client[256] = "-";
	enum role role = ROLE_NONE;
	X509 *cert;

	if (!cn)
		return;
	if (cn->timer)
		event_free(cn->timer);
	if (cn->pprev) {
		*cn->pprev = cn->next;
		if (cn->next)
			cn->next->pprev = cn->pprev;
	}
	/* Detached by api_stop (counted there): the api is gone. */
	if (!cn->api) {
		free(cn);
		return;
	}
	if (!cn->dispatched && cn->api->ctl->audit) {
		int o = cn->timed_out ? 1 : (ssl && SSL_is_init_finished(ssl)) ? 2 : 0;
		struct timeval sec = { 1, 0 };

		cert = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
		/* A certificate that did not verify names nobody. */
		if (cert && (!SSL_is_init_finished(ssl) || SSL_get_verify_result(ssl) != X509_V_OK))
			cert = NULL;
		if (!cert) {
			if (!cn->api->rejected[0] && !cn->api->rejected[1] && !cn->api->rejected[2])
				event_add(cn->api->rej_ev, &sec);
			cn->api->rejected[o]++;
			free(cn);
			return;
		}
		role = cert_role(cert, client, sizeof(client));
		ctl_audit(cn->api->ctl,
			  json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", "api", "decision",
				    "deny", "client", client, "role", role_name(role), "outcome",
				    cn->timed_out ? "timeout" : "http_rejected", "remote", "-"));
	}
	free(cn);
}

static const char *const rej_outcome[4] = { "tls_rejected", "timeout", "http_rejected",
					    "shutdown" };

static void rejected_flush(evutil_socket_t fd, short what, void *arg)
{
	struct api *a = arg;
	int i;

	for (i = 0; i < 4; i++) {
		if (!a->rejected[i])
			continue;
		ctl_audit(a->ctl, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "type", "api",
					    "decision", "deny", "client", "-", "role", "none",
					    "outcome", rej_outcome[i], "count",
					    (json_int_t)a->rejected[i], "remote", "-"));
		a->rejected[i] = 0;
	}
}

static struct bufferevent *new_conn(struct event_base *base, void *arg)
{
	struct api *api = arg;
	struct conn *cn = calloc(1, sizeof(*cn));
	SSL *ssl = SSL_new(api->ssl_ctx);

	if (!cn || !ssl) {
		free(cn);
		SSL_free(ssl);
		return NULL;
	}
	cn->api = api;
	/* With BEV_OPT_CLOSE_ON_FREE libevent owns ssl from this call on, and
	 * frees it itself when the call fails. cn is attached only after, so
	 * on failure it is ours alone to free. (NULL makes evhttp fall back to
	 * a plain socket: no certificate, so dispatch answers 401.) */
	cn->bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
						 BEV_OPT_CLOSE_ON_FREE);
	if (!cn->bev) {
		free(cn);
		return NULL;
	}
	if (!SSL_set_ex_data(ssl, conn_idx, cn)) {
		bufferevent_free(cn->bev);
		free(cn);
		return NULL;
	}
	cn->next = api->conns;
	if (cn->next)
		cn->next->pprev = &cn->next;
	cn->pprev = &api->conns;
	api->conns = cn;
	cn->timer = evtimer_new(base, deadline_cb, cn);
	if (cn->timer)
		evtimer_add(cn->timer, &api->deadline);
	return cn->bev;
}

static SSL_CTX *make_ssl_ctx(const struct api_cfg *cfg, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	STACK_OF(X509_NAME) *names;

	if (!ctx)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET |
			    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1) {
		snprintf(err, errlen, "cannot load the server certificate %s", cfg->cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "cannot load the server key %s (or it does not match)",
			 cfg->key);
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, cfg->client_ca, NULL) != 1 ||
	    !(names = SSL_load_client_CA_file(cfg->client_ca))) {
		snprintf(err, errlen, "cannot load the client CA %s", cfg->client_ca);
		goto fail;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	/* No certificate from that CA, no connection: nothing below runs. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, 4);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int api_start(struct api **out, struct event_base *base, struct ctl *ctl,
	      const struct api_cfg *cfg, char *err, size_t errlen)
{
	struct api *a = calloc(1, sizeof(*a));
	struct evhttp_bound_socket *bs;

	if (a)
		a->efd = -1;
	char host[64];
	const char *colon = strrchr(cfg->listen, ':');
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	unsigned long port;
	char *end;

	if (!a)
		return -ENOMEM;
	if (!colon || (size_t)(colon - cfg->listen) >= sizeof(host) ||
	    (port = strtoul(colon + 1, &end, 10), *end || port > 65535)) {
		snprintf(err, errlen, "--listen must be ADDRESS:PORT, got \"%s\"", cfg->listen);
		free(a);
		return -EINVAL;
	}
	memcpy(host, cfg->listen, (size_t)(colon - cfg->listen));
	host[colon - cfg->listen] = 0;
	if (conn_idx < 0)
		conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free);
	a->ctl = ctl;
	a->base = base;
	a->held_tail = &a->held;
	a->rej_ev = evtimer_new(base, rejected_flush, a);
	a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!a->rej_ev || a->efd < 0 || !(a->efd_ev = event_new(base, a->efd, EV_READ | EV_PERSIST, on_durable, a)) ||
	    event_add(a->efd_ev, NULL)) {
		snprintf(err, errlen, "cannot set up the audit wake-up");
		goto fail;
	}
	a->deadline.tv_sec = cfg->deadline_s > 0 ? cfg->deadline_s : 10;
	if (!(a->ssl_ctx = make_ssl_ctx(cfg, err, errlen)))
		goto fail;
	a->http = evhttp_new(base);
	if (!a->http)
		goto fail;
	evhttp_set_bevcb(a->http, new_conn, a);
	evhttp_set_gencb(a->http, dispatch, a);
	evhttp_set_timeout(a->http, (int)a->deadline.tv_sec);
	evhttp_set_max_headers_size(a->http, 16384);
	evhttp_set_max_body_size(a->http, REQ_BODY_MAX);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
				   EVHTTP_REQ_PUT | EVHTTP_REQ_HEAD | EVHTTP_REQ_PATCH);
	bs = evhttp_bind_socket_with_handle(a->http, host, (ev_uint16_t)port);
	if (!bs) {
		int e = errno;

		/* The reason by name (EADDRINUSE), then in words. */
		snprintf(err, errlen, "cannot listen on %s: %s (%s)", cfg->listen, errname(e),
			 strerror(e));
		goto fail;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0)
		a->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
				((struct sockaddr_in *)&ss)->sin_port);
	if (audit_start_flusher(ctl->audit, notify_durable, a)) {
		snprintf(err, errlen, "cannot start the audit flusher");
		goto fail;
	}
	*out = a;
	return 0;
fail:
	if (!err[0])
		snprintf(err, errlen, "cannot start the API server");
	api_stop(a);
	return -EINVAL;
}

int api_port(const struct api *a)
{
	return a->port;
}

void api_stop(struct api *a)
{
	if (!a)
		return;
	/* Answers still held: their records are flushed when the flusher
	 * stops; then hand them to evhttp before it goes. */
	audit_stop_flusher(a->ctl->audit);
	held_release(a, true);
	if (a->http)
		evhttp_free(a->http);
	/* evhttp_free only queues its connections' teardown: libevent
	 * finalizes a bufferevent (SSL_free, and conn_free with it) in the
	 * loop's next turn, which at a stop is event_base_free, after this
	 * api is gone. Detach them now; a connection no handler reached (a
	 * handshake or request still arriving) is counted as cut by the
	 * stop, recorded below while the audit log is open. */
	for (struct conn *cn = a->conns, *next; cn; cn = next) {
		next = cn->next;
		if (!cn->dispatched)
			a->rejected[3]++;
		cn->api = NULL;
		cn->next = NULL;
		cn->pprev = NULL;
	}
	a->conns = NULL;
	if (a->rej_ev) {
		rejected_flush(-1, 0, a);
		event_free(a->rej_ev);
	}
	if (a->efd_ev)
		event_free(a->efd_ev);
	if (a->efd >= 0)
		close(a->efd);
	SSL_CTX_free(a->ssl_ctx);
	free(a);
}
