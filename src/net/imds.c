/* imds: IMDSv2 semantics for ward-net (see imds.h): the order of checks
 * follows AWS (method, then X-Forwarded-For and TTL on PUT, then the token
 * on GET/HEAD before the path is even looked at), tokens are MACed rather
 * than stored (nothing to exhaust), and every value served was checked
 * for its alphabet when it arrived, so no escaping is needed. */
#include "imds_int.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <openssl/hmac.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "secmem.h"

#define KEY_LEN   32
#define TOKEN_RAW 48             /* expiry 8, nonce 8, MAC 32 */
#define TOKEN_B64 64

static const char tag_token[] = "ward-imds-token-v1";

#ifdef WARD_TEST_HOOKS
/* Test builds only: WARD_NET_TEST_IMDS_CLOCK_STEP_MS=N makes the IMDS
 * clock a virtual one that moves N ms at each reading, so idle expiry is
 * tested by counting segments rather than by waiting. */
static uint64_t test_step = UINT64_MAX, test_clock;
#endif

uint64_t imds_now_ms(void)
{
	struct timespec ts;

#ifdef WARD_TEST_HOOKS
	if (test_step == UINT64_MAX) {
		const char *s = getenv("WARD_NET_TEST_IMDS_CLOCK_STEP_MS");

		test_step = s ? strtoull(s, NULL, 10) : 0;
	}
	if (test_step)
		return test_clock += test_step;
#endif

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void imds_mac(const struct imds *m, uint8_t out[32], const void *a, size_t al, const void *b, size_t bl,
	      const void *c, size_t cl)
{
	uint8_t buf[3 * 256];
	unsigned int ol = 32;
	size_t n = 0;

	/* Each part is length-prefixed so no two inputs collide. */
	const void *p[3] = { a, b, c };
	size_t l[3] = { al, bl, cl };

	for (int i = 0; i < 3; i++) {
		if (l[i] > 250)
			l[i] = 250;          /* callers pass ids and small numbers only */
		buf[n++] = (uint8_t)l[i];
		if (l[i])            /* an absent part is (NULL, 0): memcpy wants non-NULL */
			memcpy(buf + n, p[i], l[i]);
		n += l[i];
	}
	if (!HMAC(EVP_sha256(), m->key, (int)m->key_len, buf, n, out, &ol))
		memset(out, 0, 32);          /* never matches a MAC of ours: fail closed */
	OPENSSL_cleanse(buf, sizeof(buf));
}

int imds_init(struct imds **out, const struct vpc_cfg *cfg, unsigned int rate, unsigned int burst)
{
	struct imds *m = calloc(1, sizeof(*m));
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t probe[32];

	if (!m)
		return -ENOMEM;
	m->cfg = cfg;
	m->rate = rate;
	m->burst = burst;
	m->key_len = KEY_LEN;
	m->key = secmem_alloc(KEY_LEN);
	if (!m->key)
		goto err_free;
	if (getrandom(m->key, KEY_LEN, 0) != KEY_LEN)
		goto err_key;
	/* One page per ENI of the model (ENIs are not added live), so a
	 * small RLIMIT_MEMLOCK is enough for a small card. */
	m->secrets_len = (size_t)pg * (cfg->n_enis ? cfg->n_enis : 1);
	_Static_assert(sizeof(struct imds_secret) <= 4096, "a secret fits a page");
	m->secrets = secmem_alloc(m->secrets_len);
	if (!m->secrets)
		goto err_key;
	for (unsigned int i = 0; i < VPC_MAX_ENIS; i++) {
		if (i < cfg->n_enis)
			m->e[i].sec = (struct imds_secret *)((uint8_t *)m->secrets + (size_t)pg * i);
		m->e[i].bucket_mtok = (uint64_t)burst * 1000u;
	}
	/* OpenSSL loads what HMAC needs now, before the sandbox forbids it. */
	imds_mac(m, probe, "x", 1, NULL, 0, NULL, 0);
	*out = m;
	return 0;
err_key:
	secmem_free(m->key, KEY_LEN);
err_free:
	free(m);
	return -ENOMEM;
}

static unsigned int bucket_of(const struct imds *m, unsigned int ei);

/* ENI ei is about to leave its instance (new ENI_META, detach). If it
 * holds the instance's bucket, the next ENI of the instance takes it over
 * as it is: the instance's budget must not refill because one of its
 * ENIs went. */
static void bucket_hand_over(struct imds *m, unsigned int ei)
{
	struct imds_eni *e = &m->e[ei];

	if (!e->instance[0] || bucket_of(m, ei) != ei)
		return;
	for (unsigned int j = ei + 1; j < VPC_MAX_ENIS; j++)
		if (!strcmp(m->e[j].instance, e->instance)) {
			m->e[j].bucket_mtok = e->bucket_mtok;
			m->e[j].bucket_ms = e->bucket_ms;
			return;
		}
}

static void conn_free(struct imds_conn *c)
{
	explicit_bzero(c, sizeof(*c));
}

void imds_clear(struct imds *m, unsigned int ei)
{
	struct imds_eni *e = &m->e[ei];
	struct imds_secret *sec = e->sec;
	uint64_t tok, ms, nonce = e->nonce;

	bucket_hand_over(m, ei);
	tok = e->bucket_mtok;
	ms = e->bucket_ms;
	if (sec)
		explicit_bzero(sec, sizeof(*sec));
	for (unsigned int i = 0; i < IMDS_CONNS; i++)
		conn_free(&e->conns[i]);
	explicit_bzero(e, sizeof(*e));
	/* The bucket is not reset: a detach/attach cycle must not refill it. */
	e->sec = sec;
	e->bucket_mtok = tok;
	e->bucket_ms = ms;
	e->nonce = nonce;
}

void imds_destroy(struct imds *m)
{
	if (!m)
		return;
	for (unsigned int i = 0; i < VPC_MAX_ENIS; i++)
		imds_clear(m, i);
	secmem_free(m->secrets, m->secrets_len);
	secmem_free(m->key, m->key_len);
	explicit_bzero(m, sizeof(*m));
	free(m);
}

void imds_set_meta(struct imds *m, unsigned int ei, const struct netctl_meta *x)
{
	struct imds_eni *e = &m->e[ei];

	if (strcmp(e->instance, x->instance))
		bucket_hand_over(m, ei);
	explicit_bzero(e->sec, sizeof(*e->sec));
	/* A connection may hold a reply built from the old metadata (the
	 * old credentials): it must not be served again. */
	for (unsigned int i = 0; i < IMDS_CONNS; i++)
		conn_free(&e->conns[i]);
	e->meta = true;
	memcpy(e->instance, x->instance, sizeof(e->instance));
	memcpy(e->az, x->az, sizeof(e->az));
	memcpy(e->role, x->role, sizeof(e->role));
	memcpy(e->akid, x->access_key_id, sizeof(e->akid));
	memcpy(e->updated, x->last_updated, sizeof(e->updated));
	memcpy(e->expires, x->expiration, sizeof(e->expires));
	e->device_number = x->device_number;
	memcpy(e->sec->secret, x->secret, sizeof(e->sec->secret));
	memcpy(e->sec->token, x->token, sizeof(e->sec->token));
}

/* The ENI whose bucket eni's instance uses: the first ENI with the same
 * instance id (AWS throttles per instance), else its own. */
static unsigned int bucket_of(const struct imds *m, unsigned int ei)
{
	if (!m->e[ei].instance[0])
		return ei;
	for (unsigned int i = 0; i < ei; i++)
		if (!strcmp(m->e[i].instance, m->e[ei].instance))
			return i;
	return ei;
}

bool imds_throttle_take(struct imds *m, unsigned int ei, uint64_t now_ms)
{
	struct imds_eni *b = &m->e[bucket_of(m, ei)];
	uint64_t cap = (uint64_t)m->burst * 1000u;

	if (now_ms > b->bucket_ms) {
		uint64_t add = (now_ms - b->bucket_ms) * m->rate;   /* ms x per-second = thousandths */

		b->bucket_mtok = add >= cap - b->bucket_mtok ? cap : b->bucket_mtok + add;
		b->bucket_ms = now_ms;
	}
	if (b->bucket_mtok < 1000)
		return false;
	b->bucket_mtok -= 1000;
	return true;
}

/* --- tokens --- */

static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = b64u[v >> 18];
		out[o++] = b64u[(v >> 12) & 63];
		out[o++] = b64u[(v >> 6) & 63];
		out[o++] = b64u[v & 63];
	}
	out[o] = 0;
}

static int b64_decode(const char *in, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i += 4) {
		uint32_t v = 0;

		for (size_t k = 0; k < 4; k++) {
			const char *p = in[i + k] ? strchr(b64u, in[i + k]) : NULL;

			if (!p)
				return -EINVAL;
			v = v << 6 | (uint32_t)(p - b64u);
		}
		out[i / 4 * 3] = (uint8_t)(v >> 16);
		out[i / 4 * 3 + 1] = (uint8_t)(v >> 8);
		out[i / 4 * 3 + 2] = (uint8_t)v;
	}
	return 0;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The MAC binds the token to this ENI and the instance it belongs to now:
 * a token from another ENI, or from before the ENI moved, is refused. */
static void token_mac(const struct imds *m, unsigned int ei, const uint8_t head[16], uint8_t mac[32])
{
	char who[2 * (VPC_ID_LEN + 1) + sizeof(tag_token)];
	int n = snprintf(who, sizeof(who), "%s|%s|%s", tag_token, m->cfg->enis[ei].id, m->e[ei].instance);

	imds_mac(m, mac, who, n > 0 ? (size_t)n : 0, head, 16, NULL, 0);
}

static void token_mint(struct imds *m, unsigned int ei, uint64_t now, long ttl, char out[TOKEN_B64 + 1])
{
	uint8_t raw[TOKEN_RAW];

	put64(raw, now + (uint64_t)ttl);
	put64(raw + 8, ++m->e[ei].nonce);
	token_mac(m, ei, raw, raw + 16);
	b64_encode(raw, sizeof(raw), out);
}

static bool token_ok(const struct imds *m, unsigned int ei, const char *tok, uint64_t now)
{
	uint8_t raw[TOKEN_RAW], mac[32];

	if (strlen(tok) != TOKEN_B64 || b64_decode(tok, TOKEN_B64, raw))
		return false;
	token_mac(m, ei, raw, mac);
	return !CRYPTO_memcmp(mac, raw + 16, 32) && get64(raw) > now;
}

/* --- the path tree --- */

struct body {
	char *p;
	size_t cap, len;
	bool over;
};

static void add(struct body *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct body *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len)
		b->over = true;
	else
		b->len += (size_t)n;
}

static const char *mac_str(const uint8_t *mac, char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

/* Does ENI j belong to the same instance as ENI ei (itself included)? */
static bool same_instance(const struct imds *m, unsigned int ei, unsigned int j)
{
	return j == ei || (m->e[ei].instance[0] && !strcmp(m->e[ei].instance, m->e[j].instance));
}

static int leaf_of_mac(const struct imds *m, unsigned int ei, unsigned int j, const char *leaf, struct body *b)
{
	const struct vpc_cfg *cfg = m->cfg;
	const struct vpc_eni *x = &cfg->enis[j];
	const struct vpc_subnet *s = &cfg->subnets[x->subnet];
	const struct vpc *v = &cfg->vpcs[x->vpc];
	char ip[16], mac[18];

	(void)ei;
	if (!*leaf) {
		add(b, "device-number\ninterface-id\nlocal-ipv4s\nmac\nsecurity-group-ids\nsubnet-id\n"
		       "subnet-ipv4-cidr-block\nvpc-id\nvpc-ipv4-cidr-block");
	} else if (!strcmp(leaf, "device-number")) {
		if (!m->e[j].meta)
			return -ENOENT;
		add(b, "%u", m->e[j].device_number);
	} else if (!strcmp(leaf, "interface-id")) {
		add(b, "%s", x->id);
	} else if (!strcmp(leaf, "local-ipv4s")) {
		add(b, "%s", vpc_ip_str(x->ip, ip));
		for (unsigned int i = 0; i < x->n_sec_ips; i++)
			add(b, "\n%s", vpc_ip_str(x->sec_ips[i], ip));
	} else if (!strcmp(leaf, "mac")) {
		add(b, "%s", mac_str(x->mac, mac));
	} else if (!strcmp(leaf, "security-group-ids")) {
		for (unsigned int i = 0; i < x->n_sgs; i++)
			add(b, "%s%s", i ? "\n" : "", cfg->sgs[x->sgs[i]].id);
	} else if (!strcmp(leaf, "subnet-id")) {
		add(b, "%s", s->id);
	} else if (!strcmp(leaf, "subnet-ipv4-cidr-block")) {
		add(b, "%s/%u", vpc_ip_str(s->net, ip), s->prefix);
	} else if (!strcmp(leaf, "vpc-id")) {
		add(b, "%s", v->id);
	} else if (!strcmp(leaf, "vpc-ipv4-cidr-block")) {
		add(b, "%s/%u", vpc_ip_str(v->net, ip), v->prefix);
	} else {
		return -ENOENT;
	}
	return 0;
}

static int macs_tree(const struct imds *m, unsigned int ei, const char *rest, struct body *b)
{
	char mac[18];

	if (!*rest) {
		bool first = true;

		for (unsigned int j = 0; j < m->cfg->n_enis; j++)
			if (same_instance(m, ei, j)) {
				add(b, "%s%s/", first ? "" : "\n", mac_str(m->cfg->enis[j].mac, mac));
				first = false;
			}
		return 0;
	}
	for (unsigned int j = 0; j < m->cfg->n_enis; j++) {
		size_t l = 17;

		if (!same_instance(m, ei, j) || strncmp(rest, mac_str(m->cfg->enis[j].mac, mac), l))
			continue;
		if (rest[l] == 0)
			return leaf_of_mac(m, ei, j, "", b);
		if (rest[l] == '/')
			return leaf_of_mac(m, ei, j, rest + l + 1, b);
	}
	return -ENOENT;
}

/* path: below /latest/meta-data/, without a trailing slash. */
static int meta_data(const struct imds *m, unsigned int ei, const char *path, struct body *b)
{
	const struct imds_eni *e = &m->e[ei];
	const struct vpc_eni *x = &m->cfg->enis[ei];
	char buf[18];

	if (!*path) {
		add(b, "%sinstance-id\nlocal-ipv4\nmac\nnetwork/\nplacement/", e->role[0] ? "iam/\n" : "");
	} else if (!strcmp(path, "instance-id")) {
		if (!e->instance[0])
			return -ENOENT;
		add(b, "%s", e->instance);
	} else if (!strcmp(path, "local-ipv4")) {
		add(b, "%s", vpc_ip_str(x->ip, buf));
	} else if (!strcmp(path, "mac")) {
		add(b, "%s", mac_str(x->mac, buf));
	} else if (!strcmp(path, "placement")) {
		add(b, "availability-zone");
	} else if (!strcmp(path, "placement/availability-zone")) {
		if (!e->az[0])
			return -ENOENT;
		add(b, "%s", e->az);
	} else if (!strcmp(path, "network")) {
		add(b, "interfaces/");
	} else if (!strcmp(path, "network/interfaces")) {
		add(b, "macs/");
	} else if (!strcmp(path, "network/interfaces/macs")) {
		return macs_tree(m, ei, "", b);
	} else if (!strncmp(path, "network/interfaces/macs/", 24)) {
		return macs_tree(m, ei, path + 24, b);
	} else if (!e->role[0]) {
		return -ENOENT;          /* iam/ exists only with a role */
	} else if (!strcmp(path, "iam")) {
		add(b, "security-credentials/");
	} else if (!strcmp(path, "iam/security-credentials")) {
		add(b, "%s", e->role);
	} else if (!strncmp(path, "iam/security-credentials/", 25) && !strcmp(path + 25, e->role)) {
		add(b, "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"%s\",\n  \"Type\" : \"AWS-HMAC\",\n"
		       "  \"AccessKeyId\" : \"%s\",\n  \"SecretAccessKey\" : \"%s\",\n  \"Token\" : \"%s\",\n"
		       "  \"Expiration\" : \"%s\"\n}", e->updated, e->akid, e->sec->secret, e->sec->token,
		    e->expires);
	} else {
		return -ENOENT;
	}
	return 0;
}

static int lookup(const struct imds *m, unsigned int ei, const char *path, struct body *b)
{
	char p[IMDS_PATH_MAX + 1];
	size_t n = strlen(path);

	/* A directory answers with or without its trailing slash, as AWS's. */
	memcpy(p, path, n + 1);
	if (n > 1 && p[n - 1] == '/')
		p[--n] = 0;
	if (!strcmp(p, "/")) {
		add(b, "latest");
		return 0;
	}
	if (!strcmp(p, "/latest")) {
		add(b, "meta-data");
		return 0;
	}
	if (!strcmp(p, "/latest/meta-data"))
		return meta_data(m, ei, "", b);
	if (!strncmp(p, "/latest/meta-data/", 18) && p[18] != '/')
		return meta_data(m, ei, p + 18, b);
	return -ENOENT;
}

/* --- replies --- */

static const char *reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	default: return "Error";
	}
}

static size_t reply(char *out, size_t cap, int code, const char *extra, const char *body, size_t blen,
		    bool head_only)
{
	char err[256];
	int n;

	if (code != 200) {
		/* The body AWS's IMDS sends with an error. */
		n = snprintf(err, sizeof(err),
			     "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<html><head><title>%d - %s</title>"
			     "</head><body><h1>%d - %s</h1></body></html>\n", code, reason(code), code, reason(code));
		body = err;
		blen = (size_t)n;
	}
	n = snprintf(out, cap, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
			       "Connection: close\r\nServer: EC2ws\r\n\r\n", code, reason(code),
		     code == 200 ? "text/plain" : "text/html", blen, extra ? extra : "");
	if (n < 0 || (size_t)n >= cap)
		return 0;
	if (head_only)
		return (size_t)n;
	if (blen > cap - (size_t)n)
		return 0;
	memcpy(out + n, body, blen);
	return (size_t)n + blen;
}

size_t imds_respond(struct imds *m, unsigned int ei, const char *req, size_t len, uint64_t now,
		    char *out, size_t cap, bool *ttl1)
{
	static char body_buf[IMDS_REPLY_MAX];
	struct body b = { body_buf, sizeof(body_buf), 0, false };
	struct imds_req r;
	const char *why;
	char extra[96], tok[TOKEN_B64 + 1];
	bool token_path;
	size_t n;

	*ttl1 = false;
	if (imds_http_parse(req, len, &r, &why))
		return reply(out, cap, 400, NULL, NULL, 0, false);
	token_path = !strcmp(r.path, "/latest/api/token");
	if (r.method == IMDS_OTHER || (r.method == IMDS_PUT) != token_path)
		return reply(out, cap, 405, token_path ? "Allow: PUT\r\n" : "Allow: GET, HEAD\r\n", NULL, 0, false);
	if (r.method == IMDS_PUT) {
		/* A PUT that went through a proxy is refused: the token must
		 * not be obtainable by a request relayed from outside. */
		if (r.forwarded)
			return reply(out, cap, 403, NULL, NULL, 0, false);
		if (!r.has_ttl || r.ttl < 1)
			return reply(out, cap, 400, NULL, NULL, 0, false);
		token_mint(m, ei, now, r.ttl, tok);
		snprintf(extra, sizeof(extra), "X-aws-ec2-metadata-token-ttl-seconds: %ld\r\n", r.ttl);
		*ttl1 = true;
		n = reply(out, cap, 200, extra, tok, TOKEN_B64, false);
		explicit_bzero(tok, sizeof(tok));
		return n;
	}
	if (!r.has_token || !token_ok(m, ei, r.token, now))
		return reply(out, cap, 401, NULL, NULL, 0, r.method == IMDS_HEAD);
	if (lookup(m, ei, r.path, &b) || b.over) {
		explicit_bzero(body_buf, b.len);
		return reply(out, cap, 404, NULL, NULL, 0, r.method == IMDS_HEAD);
	}
	n = reply(out, cap, 200, NULL, b.p, b.len, r.method == IMDS_HEAD);
	explicit_bzero(body_buf, b.len);     /* may hold the credentials */
	return n;
}
