/* test_imds: unit tests of ward-net's IMDS HTTP parser (imds_http.c) and
 * its token and reply rules (imds.c), without the TCP layer: what a
 * request head may and may not be, tokens bound to ENI, instance and
 * expiry, the error codes in AWS's order. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/imds.h"
#include "net/imds_http.h"
#include "net/imds_int.h"
#include "net/vpc.h"

static const char model[] =
	"{\"version\":1,\"vpcs\":[{\"id\":\"vpc-1\",\"cidr\":\"10.0.0.0/16\"}],"
	"\"subnets\":[{\"id\":\"subnet-1\",\"vpc\":\"vpc-1\",\"cidr\":\"10.0.1.0/24\"}],"
	"\"security_groups\":[{\"id\":\"sg-1\",\"vpc\":\"vpc-1\"}],"
	"\"enis\":[{\"id\":\"eni-a\",\"subnet\":\"subnet-1\",\"security_groups\":[\"sg-1\"],"
	"\"mac\":\"02:00:00:00:00:01\",\"ip\":\"10.0.1.10\"},"
	"{\"id\":\"eni-b\",\"subnet\":\"subnet-1\",\"security_groups\":[\"sg-1\"],"
	"\"mac\":\"02:00:00:00:00:02\",\"ip\":\"10.0.1.20\"}]}";

static int parse(const char *s, struct imds_req *r)
{
	const char *why = NULL;
	int rc = imds_http_parse(s, strlen(s), r, &why);

	assert_true(rc == 0 || why != NULL);
	return rc;
}

static void test_http_good(void **state)
{
	struct imds_req r;

	(void)state;
	assert_int_equal(parse("PUT /latest/api/token HTTP/1.1\r\nHost: x\r\n"
			       "x-AWS-ec2-metadata-token-ttl-seconds:  21600 \r\n\r\n", &r), 0);
	assert_int_equal(r.method, IMDS_PUT);
	assert_string_equal(r.path, "/latest/api/token");
	assert_true(r.has_ttl);
	assert_int_equal(r.ttl, 21600);
	assert_false(r.has_token);
	assert_int_equal(parse("GET /latest/meta-data/ HTTP/1.0\r\nX-aws-ec2-metadata-token: abc\r\n"
			       "Content-Length: 0\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n", &r), 0);
	assert_int_equal(r.method, IMDS_GET);
	assert_string_equal(r.token, "abc");
	assert_true(r.forwarded);
	assert_int_equal(parse("BREW / HTTP/1.1\r\n\r\n", &r), 0);
	assert_int_equal(r.method, IMDS_OTHER);
	/* TTLs outside 1..21600 parse, and are refused later (400). */
	static const char *ttls[] = { "0", "21601", "1a", "-1", "", "000001" };
	for (size_t i = 0; i < sizeof(ttls) / sizeof(ttls[0]); i++) {
		char req[128];

		snprintf(req, sizeof(req), "PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: %s\r\n\r\n",
			 ttls[i]);
		assert_int_equal(parse(req, &r), 0);
		assert_int_equal(r.ttl, -1);
	}
}

static void test_http_hostile(void **state)
{
	static const char *bad[] = {
		"GET / HTTP/1.1\n\n",                                   /* bare LF */
		"GET / HTTP/1.1\r\nA: b\n\r\n",
		"GET / HTTP/1.1\r\n folded: x\r\n\r\n",                 /* obs-fold */
		"GET x HTTP/1.1\r\n\r\n",                               /* not an absolute path */
		"GET / HTTP/2.0\r\n\r\n",
		"GET / HTTP/1.1 \r\n\r\n",
		"GET  / HTTP/1.1\r\n\r\n",
		"get / HTTP/1.1\r\n\r\n",
		"GET /a\tb HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nNo-colon\r\n\r\n",
		"GET / HTTP/1.1\r\nBad name: x\r\n\r\n",
		"GET / HTTP/1.1\r\nA: \x01\r\n\r\n",                    /* control character */
		"GET / HTTP/1.1\r\nContent-Length: 4\r\n\r\n",          /* a body */
		"GET / HTTP/1.1\r\nContent-Length: 00\r\n\r\n",
		"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",         /* two Hosts */
		"GET / HTTP/1.1\r\nX-aws-ec2-metadata-token: a\r\nX-aws-ec2-metadata-token: b\r\n\r\n",
		("PUT / HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 1\r\n"
		 "X-aws-ec2-metadata-token-ttl-seconds: 2\r\n\r\n"),
		"\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n",          /* two heads in one */
		"",
	};
	char many[IMDS_REQ_MAX], longpath[400];
	struct imds_req r;
	size_t o;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;

		assert_int_equal(imds_http_parse(bad[i], strlen(bad[i]), &r, &why), -EINVAL);
		assert_non_null(why);
	}
	/* A NUL inside a header name. */
	assert_int_equal(imds_http_parse("GET / HTTP/1.1\r\nA\0: b\r\n\r\n", 24, &r, &(const char *){ 0 }), -EINVAL);
	o = (size_t)snprintf(many, sizeof(many), "GET / HTTP/1.1\r\n");
	for (int i = 0; i <= IMDS_HEADERS_MAX; i++)
		o += (size_t)snprintf(many + o, sizeof(many) - o, "H%d: v\r\n", i);
	snprintf(many + o, sizeof(many) - o, "\r\n");
	assert_int_equal(parse(many, &r), -EINVAL);                /* too many headers */
	memset(longpath, 'a', sizeof(longpath));
	memcpy(longpath, "GET /", 5);
	memcpy(longpath + 300, " HTTP/1.1\r\n\r\n", 14);
	assert_int_equal(parse(longpath, &r), -EINVAL);            /* path over 255 */
	/* A token too long to be one of ours is kept empty: refused later. */
	o = (size_t)snprintf(many, sizeof(many), "GET / HTTP/1.1\r\nX-aws-ec2-metadata-token: ");
	memset(many + o, 'A', 200);
	memcpy(many + o + 200, "\r\n\r\n", 5);
	assert_int_equal(parse(many, &r), 0);
	assert_true(r.has_token);
	assert_string_equal(r.token, "");
	assert_int_equal(imds_http_head_len("GET / HTTP/1.1\r\n", 16), 0);
	/* Bare LFs end a head too, so that the client gets its 400 at once. */
	assert_int_equal(imds_http_head_len("GET / HTTP/1.1\n\nX", 17), 16);
	assert_int_equal(imds_http_head_len("GET / HTTP/1.1\r\n\r\nXX", 20), 18);
}

struct ctx {
	struct vpc_cfg cfg;
	struct imds *m;
};

static int code_of(const char *out, size_t n)
{
	int c = 0;

	assert_true(n > 12);
	assert_memory_equal(out, "HTTP/1.1 ", 9);
	sscanf(out + 9, "%d", &c);
	return c;
}

static int ask(struct imds *m, unsigned int eni, const char *req, uint64_t now, char *out, size_t cap, bool *ttl1)
{
	memset(out, 0, cap);
	return code_of(out, imds_respond(m, eni, req, strlen(req), now, out, cap - 1, ttl1));
}

static const char *body(const char *out)
{
	const char *b = strstr(out, "\r\n\r\n");

	assert_non_null(b);
	return b + 4;
}

static void mint(struct imds *m, unsigned int eni, int ttl, uint64_t now, char tok[80])
{
	char req[160], out[1024];
	bool ttl1;

	snprintf(req, sizeof(req), "PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: %d\r\n\r\n", ttl);
	assert_int_equal(ask(m, eni, req, now, out, sizeof(out), &ttl1), 200);
	assert_true(ttl1);
	snprintf(tok, 80, "%s", body(out));
	assert_int_equal(strlen(tok), 64);
}

static void test_tokens(void **state)
{
	static struct ctx c;
	struct netctl_meta meta = { .instance = "i-1", .az = "az-1" };
	char a[80], a2[80], req[256], out[2048];
	char err[256];
	bool ttl1;

	(void)state;
	assert_int_equal(vpc_load(model, sizeof(model) - 1, &c.cfg, err, sizeof(err)), 0);
	assert_int_equal(imds_init(&c.m, &c.cfg, 10, 10), 0);
	imds_set_meta(c.m, 0, &meta);
	mint(c.m, 0, 60, 1000, a);
	mint(c.m, 0, 60, 1000, a2);
	assert_string_not_equal(a, a2);                          /* each token its own */
	snprintf(req, sizeof(req), "GET /latest/meta-data/instance-id HTTP/1.1\r\nX-aws-ec2-metadata-token: %s\r\n\r\n", a);
	assert_int_equal(ask(c.m, 0, req, 1059, out, sizeof(out), &ttl1), 200);
	assert_string_equal(body(out), "i-1");
	assert_false(ttl1);
	assert_int_equal(ask(c.m, 0, req, 1060, out, sizeof(out), &ttl1), 401);   /* expired */
	assert_int_equal(ask(c.m, 1, req, 1001, out, sizeof(out), &ttl1), 401);   /* another ENI */
	meta.instance[2] = '2';
	imds_set_meta(c.m, 0, &meta);                             /* the ENI moved */
	assert_int_equal(ask(c.m, 0, req, 1001, out, sizeof(out), &ttl1), 401);
	/* Order of checks: 405 before anything, 403 before the TTL, 401 before 404. */
	assert_int_equal(ask(c.m, 0, "PUT /latest/api/token HTTP/1.1\r\nX-Forwarded-For: a\r\n\r\n", 1, out,
			     sizeof(out), &ttl1), 403);
	assert_int_equal(ask(c.m, 0, "PUT /latest/api/token HTTP/1.1\r\n\r\n", 1, out, sizeof(out), &ttl1), 400);
	assert_int_equal(ask(c.m, 0, "POST /latest/api/token HTTP/1.1\r\nX-Forwarded-For: a\r\n\r\n", 1, out,
			     sizeof(out), &ttl1), 405);
	assert_non_null(strstr(out, "\r\nAllow: PUT\r\n"));
	assert_int_equal(ask(c.m, 0, "PUT /latest/meta-data/ HTTP/1.1\r\n\r\n", 1, out, sizeof(out), &ttl1), 405);
	assert_non_null(strstr(out, "\r\nAllow: GET, HEAD\r\n"));
	assert_int_equal(ask(c.m, 0, "GET /nothing HTTP/1.1\r\n\r\n", 1, out, sizeof(out), &ttl1), 401);
	mint(c.m, 0, 21600, 5, a);
	snprintf(req, sizeof(req), "GET /nothing HTTP/1.1\r\nX-aws-ec2-metadata-token: %s\r\n\r\n", a);
	assert_int_equal(ask(c.m, 0, req, 6, out, sizeof(out), &ttl1), 404);
	/* An altered token: every position matters. */
	for (size_t i = 0; i < 64; i += 7) {
		char t[80];

		memcpy(t, a, sizeof(t));
		t[i] = t[i] == 'A' ? 'B' : 'A';
		snprintf(req, sizeof(req), "GET /latest/meta-data/ HTTP/1.1\r\nX-aws-ec2-metadata-token: %s\r\n\r\n", t);
		assert_int_equal(ask(c.m, 0, req, 6, out, sizeof(out), &ttl1), 401);
	}
	/* A reply that does not fit is never a partial one. */
	assert_int_equal(imds_respond(c.m, 0, req, strlen(req), 6, out, 20, &ttl1), 0);
	imds_destroy(c.m);
}

static void test_throttle(void **state)
{
	static struct ctx c;
	struct netctl_meta meta = { .instance = "i-1" };
	char err[256];

	(void)state;
	assert_int_equal(vpc_load(model, sizeof(model) - 1, &c.cfg, err, sizeof(err)), 0);
	assert_int_equal(imds_init(&c.m, &c.cfg, 2, 3), 0);
	/* A burst of 3, then 2 per second; both ENIs of i-1 share it, an
	 * ENI of no instance has its own. */
	imds_set_meta(c.m, 0, &meta);
	for (int i = 0; i < 3; i++)
		assert_true(imds_throttle_take(c.m, 0, 1000));
	assert_false(imds_throttle_take(c.m, 0, 1000));
	assert_true(imds_throttle_take(c.m, 1, 1000));            /* eni-b: no instance yet */
	imds_set_meta(c.m, 1, &meta);
	assert_false(imds_throttle_take(c.m, 1, 1000));           /* now i-1's bucket */
	assert_false(imds_throttle_take(c.m, 0, 1499));
	assert_true(imds_throttle_take(c.m, 1, 1500));            /* half a second: one more */
	assert_false(imds_throttle_take(c.m, 0, 1500));
	imds_clear(c.m, 0);                                       /* a detach does not refill it */
	assert_false(imds_throttle_take(c.m, 0, 1500));
	assert_false(imds_throttle_take(c.m, 1, 1500));           /* i-1's bucket moved to eni-b, as it was */
	assert_true(imds_throttle_take(c.m, 1, 2000));
	assert_true(imds_throttle_take(c.m, 0, 1000000));
	imds_destroy(c.m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_good),
		cmocka_unit_test(test_http_hostile),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_throttle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
