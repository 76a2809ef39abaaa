/* etcd: the transport half of the etcd client (etcd.h) — one libcurl easy
 * handle per client (one thread each), POST of JSON to the v3 gateway,
 * failover to the next endpoint on connection errors and on etcd's
 * "unavailable" answers (a member without a leader, a member being
 * killed), bounded by a deadline. */
#include "etcd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "log.h"

#define ETCD_MAX_ENDPOINTS 8
#define ETCD_MAX_REPLY (4u << 20)

struct etcd {
	CURL *h;
	char *ep[ETCD_MAX_ENDPOINTS];
	size_t n, cur;
	struct etcd_tls tls;
	long deadline_ms;	/* one call's total, across endpoints */
};

struct buf {
	char *p;
	size_t len;
	bool overflow;
};

static size_t on_data(char *d, size_t sz, size_t nm, void *arg)
{
	struct buf *b = arg;
	size_t n = sz * nm;
	char *p;

	if (b->len + n > ETCD_MAX_REPLY) {
		b->overflow = true;
		return 0;
	}
	if (!(p = realloc(b->p, b->len + n + 1)))
		return 0;
	memcpy(p + b->len, d, n);
	b->p = p;
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void setup(struct etcd *c, const char *path, struct curl_slist *hdr, char *url,
		  size_t ulen)
{
	snprintf(url, ulen, "%s%s", c->ep[c->cur], path);
	curl_easy_reset(c->h);
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, c->tls.cacert ? "https" : "http");
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, 500L);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdr);
	if (c->tls.cacert) {
		curl_easy_setopt(c->h, CURLOPT_CAINFO, c->tls.cacert);
		curl_easy_setopt(c->h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	}
	if (c->tls.cert) {
		curl_easy_setopt(c->h, CURLOPT_SSLCERT, c->tls.cert);
		curl_easy_setopt(c->h, CURLOPT_SSLKEY, c->tls.key);
	}
}

/* Answers worth another endpoint: Unavailable (no leader, shutting down),
 * DeadlineExceeded, Aborted, and "leader changed". */
static bool retryable(const struct etcd_resp *r)
{
	return r->code == 14 || r->code == 4 || r->code == 10 ||
	       strstr(r->message, "leader") != NULL;
}

int etcd_call(struct etcd *c, const char *path, json_t *req, struct etcd_resp *r)
{
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	char *body = json_dumps(req, JSON_COMPACT), url[512];
	long deadline = now_ms() + c->deadline_ms;
	size_t tried = 0;
	int rc = -EIO;

	json_decref(req);
	memset(r, 0, sizeof(*r));
	if (!body || !hdr) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		struct buf b = { 0 };
		CURLcode cc;
		long status = 0;

		setup(c, path, hdr, url, sizeof(url));
		curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, 2000L);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &b);
		cc = curl_easy_perform(c->h);
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
		if (cc == CURLE_OK && b.p && etcd_resp_parse(b.p, b.len, r) == 0) {
			free(b.p);
			if (!r->code && status == 200) {
				rc = 0;
				goto out;
			}
			if (!retryable(r)) {
				/* NotFound: a lease that expired (the caller decides). */
				log_emit(r->code == 5 ? LOG_DEBUG : LOG_WARN, "etcd refused a request",
					 "path=%s code=%d message=\"%s\"", path, r->code, r->message);
				/* OutOfRange: a compacted revision was asked for. */
				rc = r->code == 11 ? -ERANGE : r->code == 5 ? -ENOENT : -EINVAL;
				etcd_resp_free(r);
				goto out;
			}
			log_debug("etcd member unavailable", "endpoint=%s message=\"%s\"",
				  c->ep[c->cur], r->message);
			etcd_resp_free(r);
		} else {
			free(b.p);
			if (b.overflow || (cc == CURLE_OK && status == 200)) {
				log_warn("etcd reply is not an etcd reply", "endpoint=%s path=%s",
					 c->ep[c->cur], path);
				rc = -EPROTO;
				goto out;
			}
			log_debug("etcd endpoint failed", "endpoint=%s error=\"%s\"",
				  c->ep[c->cur], curl_easy_strerror(cc));
		}
		c->cur = (c->cur + 1) % c->n;
		if (++tried % c->n == 0) {
			if (now_ms() >= deadline)
				break;
			pause_ms(100);
		}
	}
	log_warn("no etcd endpoint answered", "path=%s endpoints=%zu", path, c->n);
out:
	curl_slist_free_all(hdr);
	free(body);
	return rc;
}

struct watch_ctx {
	struct buf line;
	int (*cb)(const struct etcd_watch_msg *m, void *arg);
	void *arg;
	int rc;
	const atomic_bool *stop;
};

/* The stream is one JSON object per line. */
static size_t on_watch(char *d, size_t sz, size_t nm, void *arg)
{
	struct watch_ctx *w = arg;
	size_t n = sz * nm;
	char *nl;

	if (on_data(d, 1, n, &w->line) != n)
		return 0;
	while ((nl = memchr(w->line.p, '\n', w->line.len))) {
		size_t l = (size_t)(nl - w->line.p) + 1;
		struct etcd_resp r;
		struct etcd_watch_msg m;

		if (etcd_resp_parse(w->line.p, l, &r) || etcd_watch_parse(&r, &m)) {
			w->rc = r.root && r.code ? -EIO : -EPROTO;
			etcd_resp_free(&r);
			return 0;
		}
		etcd_resp_free(&r);
		memmove(w->line.p, w->line.p + l, w->line.len - l);
		w->line.len -= l;
		if ((w->rc = w->cb(&m, w->arg)))
			return 0;
	}
	return n;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct watch_ctx *w = arg;

	return atomic_load(w->stop) ? 1 : 0;
}

int etcd_watch(struct etcd *c, const char *key, int64_t start_rev, long timeout_ms,
	       int (*cb)(const struct etcd_watch_msg *m, void *arg), void *arg,
	       const atomic_bool *stop)
{
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	struct watch_ctx w = { .cb = cb, .arg = arg, .stop = stop };
	char *k = etcd_b64(key, strlen(key)), *body = NULL, url[512], rev[24];
	json_t *req;
	CURLcode cc;

	snprintf(rev, sizeof(rev), "%lld", (long long)start_rev);
	req = k ? json_pack("{s{ssss}}", "create_request", "key", k, "start_revision", rev) : NULL;
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	free(k);
	if (!body || !hdr) {
		w.rc = -ENOMEM;
		goto out;
	}
	setup(c, "/v3/watch", hdr, url, sizeof(url));
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_watch);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &w);
	curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c->h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, &w);
	cc = curl_easy_perform(c->h);
	if (w.rc)
		goto out;
	if (atomic_load(stop))
		w.rc = -ECANCELED;
	else if (cc == CURLE_OPERATION_TIMEDOUT)
		w.rc = -ETIMEDOUT;
	else {
		/* A broken stream: the next watch goes to the next member. */
		c->cur = (c->cur + 1) % c->n;
		w.rc = -EIO;
	}
out:
	free(w.line.p);
	free(body);
	curl_slist_free_all(hdr);
	return w.rc;
}

int etcd_open(const char *endpoints, const struct etcd_tls *tls, struct etcd **out)
{
	struct etcd *c = calloc(1, sizeof(*c));
	const char *p = endpoints;

	if (!c)
		return -ENOMEM;
	c->deadline_ms = 8000;
	if (tls)
		c->tls = *tls;
	while (*p) {
		size_t l = strcspn(p, ",");
		bool https = l > 8 && !strncmp(p, "https://", 8);

		if (c->n == ETCD_MAX_ENDPOINTS || l == 0 || l > 200 ||
		    !(https || (l > 7 && !strncmp(p, "http://", 7))) ||
		    https != (c->tls.cacert != NULL) ||
		    !(c->ep[c->n] = strndup(p, l)))
			goto err;
		c->n++;
		p += l;
		if (*p == ',')
			p++;
	}
	if (!c->n || !(c->h = curl_easy_init()))
		goto err;
	*out = c;
	return 0;
err:
	etcd_close(c);
	return -EINVAL;
}

void etcd_close(struct etcd *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->ep[i]);
	if (c->h)
		curl_easy_cleanup(c->h);
	free(c);
}
