/* test_routes: the route x role table and the request body parser —
 * operator gets exactly its short list, path parameters are constrained,
 * and bodies outside the schema are rejected with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "controller/request.h"
#include "controller/routes.h"
#include "controller/volumes.h"

static void test_operator_list(void **st)
{
	static const char *const allowed[] = {
		"GET /v1/health", "POST /v1/drain", "GET /v1/instances", "GET /v1/audit/checkpoint",
		"GET /v1/audit/leaves", "GET /v1/audit/proof", "POST /v1/updates",
	};
	size_t i, j, n = 0;
	char key[128];

	for (i = 0; i < routes_count; i++) {
		snprintf(key, sizeof(key), "%s %s", routes[i].method, routes[i].pattern);
		bool op = route_allows(&routes[i], ROLE_OPERATOR), listed = false;

		for (j = 0; j < sizeof(allowed) / sizeof(allowed[0]); j++)
			listed |= !strcmp(key, allowed[j]);
		if (op != listed)
			fail_msg("operator access to %s is %d, expected %d", key, op, listed);
		n += op;
		assert_false(route_allows(&routes[i], ROLE_NONE));
	}
	assert_int_equal(n, sizeof(allowed) / sizeof(allowed[0]));
}

static void test_match(void **st)
{
	char p[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX + 1];
	const struct route *r;
	bool known;
	char longid[80];

	r = route_match("DELETE", "/v1/instances/abc-1/volumes/v_2", p, &known);
	assert_non_null(r);
	assert_string_equal(r->pattern, "/v1/instances/{id}/volumes/{vid}");
	assert_string_equal(p[0], "abc-1");
	assert_string_equal(p[1], "v_2");
	r = route_match("GET", "/v1/instances", p, &known);
	assert_non_null(r);
	assert_true(route_allows(r, ROLE_OPERATOR));
	/* The serial console is the customer's: control plane only. */
	r = route_match("GET", "/v1/instances/abc-1/console", p, &known);
	assert_non_null(r);
	assert_true(route_allows(r, ROLE_CONTROL_PLANE));
	assert_false(route_allows(r, ROLE_OPERATOR));
	assert_null(route_match("PUT", "/v1/instances", p, &known));
	assert_true(known);	/* 405, not 404 */
	assert_null(route_match("GET", "/v1/instances/", p, &known));
	assert_false(known);
	assert_null(route_match("GET", "/v1/instances/a/../b", p, &known));
	assert_null(route_match("GET", "/v1/instances/a%2Fb", p, &known));
	assert_null(route_match("GET", "/v1/health/", p, &known));
	assert_null(route_match("GET", "/v1/healthz", p, &known));
	memset(longid, 'a', 65);
	snprintf(longid, sizeof(longid), "/v1/instances/%.65s", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_null(route_match("GET", longid, p, &known));
	assert_string_equal(role_name(role_parse("operator")), "operator");
	assert_int_equal(role_parse("Operator"), ROLE_NONE);
	assert_int_equal(role_parse(""), ROLE_NONE);
}

#define VOL(b, ...) req_parse_volume(b, strlen(b), __VA_ARGS__)
#define UPD(b, ...) req_parse_update(b, strlen(b), __VA_ARGS__)
#define EMP(b, ...) req_parse_empty(b, strlen(b), __VA_ARGS__)
#define RUN(b) req_parse_run(b, strlen(b), &rr, err, sizeof(err))

static void test_bodies(void **st)
{
	struct run_req rr;
	struct volume_req vr;
	struct update_req ur;
	char err[256];

	assert_int_equal(RUN("{\"image\":\"hello\"}"), 0);
	assert_string_equal(rr.image, "hello");
	assert_int_equal(rr.memory_mib, 32);
	assert_int_equal(RUN("{\"image\":\"spin\",\"memory_mib\":64,\"vcpus\":2}"), 0);
	assert_int_equal(rr.vcpus, 2);
	assert_false(rr.cpu_fixed);			/* burstable by default */
	assert_int_equal(RUN("{\"image\":\"a\",\"vcpus\":4,\"cpu\":\"fixed\"}"), 0);
	assert_true(rr.cpu_fixed);
	assert_int_equal(RUN("{\"image\":\"a\",\"cpu\":\"burstable\"}"), 0);
	assert_false(rr.cpu_fixed);
	assert_int_not_equal(RUN("{\"image\":\"a\",\"cpu\":\"dedicated\"}"), 0);
	assert_non_null(strstr(err, "\"fixed\" or \"burstable\""));
	assert_int_not_equal(RUN("{\"image\":\"a\",\"cpu\":1}"), 0);
	assert_int_not_equal(RUN(""), 0);		/* image required */
	assert_non_null(strstr(err, "required"));
	assert_int_not_equal(RUN("{\"image\":1}"), 0);
	assert_int_not_equal(RUN("{\"image\":\"a\",\"x\":1}"), 0);
	assert_non_null(strstr(err, "unknown field \"x\""));
	assert_int_not_equal(RUN("{\"image\":\"a\",\"memory_mib\":1.5}"), 0);
	assert_int_not_equal(RUN("{\"image\":\"a\",\"memory_mib\":-1}"), 0);
	assert_int_not_equal(RUN("{\"image\":\"a\",\"vcpus\":0}"), 0);
	assert_int_not_equal(RUN("{\"image\":\"../a\"}"), 0);
	assert_int_not_equal(RUN("{\"image\":\"a/b\"}"), 0);
	assert_int_not_equal(RUN("{\"image\":\"a\",\"image\":\"b\"}"), 0);
	assert_int_not_equal(RUN("[1]"), 0);
	assert_int_not_equal(RUN("{\"image\":\"a\""), 0);
	assert_non_null(strstr(err, "malformed JSON"));
	assert_int_not_equal(RUN("{\"image\":\"a\",\"\\u0001\":1}"), 0);
	assert_null(strchr(err, 1));	/* control bytes are not echoed */

	assert_int_equal(VOL("{\"volume_id\":\"v1\",\"size_bytes\":8192,\"read_only\":true,"
					  "\"sealed_key\":{}}", &vr, err, sizeof(err)), 0);
	assert_true(vr.read_only && vr.has_sealed_key);
	assert_int_not_equal(VOL("{\"volume_id\":\"v1\",\"size_bytes\":100}", &vr,
					      err, sizeof(err)), 0);
	assert_int_not_equal(req_parse_volume("{\"volume_id\":\"v1\",\"size_bytes\":4096,\"key\":\"00\"}",
					      47, &vr, err, sizeof(err)), 0);
	assert_int_equal(UPD("{\"package\":\"fw-2.pkg\"}", &ur, err, sizeof(err)), 0);
	assert_int_not_equal(UPD("{\"package\":\".hidden\"}", &ur, err, sizeof(err)), 0);
	assert_int_equal(EMP("", err, sizeof(err)), 0);
	assert_int_equal(EMP("{}", err, sizeof(err)), 0);
	assert_int_not_equal(EMP("{\"force\":true}", err, sizeof(err)), 0);
}

/* Attach a volume (the spec parser) with this id: 0 or -EINVAL. */
static int attach_id(const char *id)
{
	struct vol_spec specs[VOL_MAX];
	char err[256];
	unsigned n;
	/* _nocheck: bytes a JSON parser would refuse reach volspec too. */
	json_t *arr = json_pack("[{s:o, s:s, s:i, s:s, s:s, s:{s:o}, s:s, s:s}]",
				"volume_id", json_string_nocheck(id), "backing", "/dev/null",
				"size", 4096, "key_id", "k", "encrypted_key", "AAAA",
				"encryption_context", "ward:volume", json_string_nocheck(id),
				"grant_token", "g", "fas_token", "f");
	int rc;

	assert_non_null(arr);
	rc = vol_spec_parse(arr, specs, &n, err, sizeof(err));
	if (rc == 0)
		assert_string_equal(specs[0].volume_id, id);
	json_decref(arr);
	return rc;
}

/* The detach route names this volume: matched, and to the same id. */
static bool detach_matches(const char *id)
{
	char p[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX + 1], path[256];
	const struct route *r;
	bool known;

	snprintf(path, sizeof(path), "/v1/instances/i-1/volumes/%s", id);
	r = route_match("DELETE", path, p, &known);
	return r && r->fn == api_volume_detach && !strcmp(p[1], id);
}

/* One id grammar: every volume id attach accepts can be detached, and
 * attach refuses what the detach route cannot name. */
static void test_volume_ids(void **st)
{
	static const char *const bad[] = { ".", "..", "a.b", "v1.", "a/b", "../x", "a b", "a%2e",
		"v\xc3\xa9", "" };
	char id[80];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (attach_id(bad[i]) == 0)
			fail_msg("attach accepted volume id \"%s\"", bad[i]);
	/* Every single byte in an id: accepted by attach iff matched by detach. */
	for (int c = 1; c < 256; c++) {
		snprintf(id, sizeof(id), "v%cx", c);
		if (attach_id(id) == 0 && !detach_matches(id))
			fail_msg("volume id with byte 0x%02x attaches but cannot be detached", c);
	}
	/* The longest id attach takes still fits the route. */
	memset(id, 'a', VOL_ID_MAX);
	id[VOL_ID_MAX] = 0;
	assert_int_equal(attach_id(id), 0);
	assert_true(detach_matches(id));
	id[VOL_ID_MAX] = 'a';
	id[VOL_ID_MAX + 1] = 0;
	assert_int_not_equal(attach_id(id), 0);
	assert_true(detach_matches("vol-0123_ABC"));
	assert_int_equal(attach_id("vol-0123_ABC"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_operator_list),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_volume_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
