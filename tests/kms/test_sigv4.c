/* Unit tests of src/lib/sigv4 against vectors from the AWS SigV4 test suite
 * as shipped in awslabs/aws-c-auth, tests/aws-signing-test-suite/v4/
 * (get-vanilla, get-vanilla-query-order-key-case, post-vanilla-query,
 * get-header-value-trim, post-header-key-sort, post-x-www-form-urlencoded);
 * credentials AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
 * 2015-08-30T12:36:00Z, us-east-1, service "service". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sigv4.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define DATE "20150830T123600Z"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct vector {
	const char *name;
	const char *method, *query;
	struct sigv4_header headers[6];
	size_t n;
	const char *body;
	const char *creq;	/* header-canonical-request.txt */
	const char *sig;	/* header-signature.txt */
};

static const struct vector vectors[] = {
	{ "get-vanilla", "GET", NULL,
	  { { "Host", "example.amazonaws.com" }, { "X-Amz-Date", DATE } }, 2, "",
	  "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:" DATE "\n\n"
	  "host;x-amz-date\n" EMPTY_SHA,
	  "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31" },
	{ "get-vanilla-query-order-key-case", "GET", "Param2=value2&Param1=value1",
	  { { "Host", "example.amazonaws.com" }, { "X-Amz-Date", DATE } }, 2, "",
	  "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
	  "x-amz-date:" DATE "\n\nhost;x-amz-date\n" EMPTY_SHA,
	  "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500" },
	{ "post-vanilla-query", "POST", "Param1=value1",
	  { { "Host", "example.amazonaws.com" }, { "X-Amz-Date", DATE } }, 2, "",
	  "POST\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:" DATE
	  "\n\nhost;x-amz-date\n" EMPTY_SHA,
	  "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11" },
	{ "get-header-value-trim", "GET", NULL,
	  { { "Host", "example.amazonaws.com" }, { "My-Header1", " value1" },
	    { "My-Header2", " \"a   b   c\"" }, { "X-Amz-Date", DATE } }, 4, "",
	  "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\n"
	  "my-header2:\"a b c\"\nx-amz-date:" DATE "\n\n"
	  "host;my-header1;my-header2;x-amz-date\n" EMPTY_SHA,
	  "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736" },
	{ "post-header-key-sort", "POST", NULL,
	  { { "Host", "example.amazonaws.com" }, { "My-Header1", "value1" },
	    { "X-Amz-Date", DATE } }, 3, "",
	  "POST\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\n"
	  "x-amz-date:" DATE "\n\nhost;my-header1;x-amz-date\n" EMPTY_SHA,
	  "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c" },
	{ "post-x-www-form-urlencoded", "POST", NULL,
	  { { "Content-Type", "application/x-www-form-urlencoded" },
	    { "Host", "example.amazonaws.com" }, { "Content-Length", "13" },
	    { "X-Amz-Date", DATE },
	    { "x-amz-content-sha256", "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e" } },
	  5, "Param1=value1",
	  "POST\n/\n\ncontent-length:13\ncontent-type:application/x-www-form-urlencoded\n"
	  "host:example.amazonaws.com\n"
	  "x-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\n"
	  "x-amz-date:" DATE "\n\n"
	  "content-length;content-type;host;x-amz-content-sha256;x-amz-date\n"
	  "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
	  "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b" },
};

static void build(const struct vector *v, struct sigv4_request *r, char hash[65])
{
	sigv4_sha256_hex(v->body, strlen(v->body), hash);
	r->method = v->method;
	r->path = "/";
	r->query = v->query;
	r->headers = v->headers;
	r->n_headers = v->n;
	r->payload_hash = hash;
}

static void test_vectors(void **state)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		struct sigv4_request r;
		char hash[65], *creq, *sts, sig[65], *auth;
		uint8_t key[32];
		struct sigv4_auth pa;

		build(v, &r, hash);
		assert_int_equal(sigv4_canonical_request(&r, &creq), 0);
		assert_string_equal(creq, v->creq);
		assert_int_equal(sigv4_string_to_sign(DATE, "us-east-1", "service", creq, &sts), 0);
		assert_int_equal(sigv4_signing_key(SECRET, "20150830", "us-east-1", "service", key), 0);
		sigv4_signature(key, sts, sig);
		assert_string_equal(sig, v->sig);

		/* The client-side helper produces a header the parser accepts
		 * and that carries the same signature. */
		assert_int_equal(sigv4_authorization(&r, DATE, AKID, SECRET, "us-east-1",
						     "service", &auth), 0);
		assert_int_equal(sigv4_parse_authorization(auth, &pa), 0);
		assert_string_equal(pa.signature, v->sig);
		assert_string_equal(pa.access_key_id, AKID);
		assert_int_equal(pa.n_headers, v->n);
		free(auth);
		free(sts);
		free(creq);
	}
}

static void test_string_to_sign(void **state)
{
	/* post-x-www-form-urlencoded/header-string-to-sign.txt */
	struct sigv4_request r;
	char hash[65], *creq, *sts;

	build(&vectors[5], &r, hash);
	assert_int_equal(sigv4_canonical_request(&r, &creq), 0);
	assert_int_equal(sigv4_string_to_sign(DATE, "us-east-1", "service", creq, &sts), 0);
	assert_string_equal(sts, "AWS4-HMAC-SHA256\n" DATE "\n20150830/us-east-1/service/aws4_request\n"
			    "b1edd1d03544c25390e32085d55b57acc9a3961bb59415ff86c45c3d89d16cfb");
	free(sts);
	free(creq);
}

static void test_parse_authorization(void **state)
{
	struct sigv4_auth a;
	const char *good = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		"SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, "
		"Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b";

	assert_int_equal(sigv4_parse_authorization(good, &a), 0);
	assert_string_equal(a.date, "20150830");
	assert_string_equal(a.region, "us-east-1");
	assert_string_equal(a.service, "service");
	assert_int_equal(a.n_headers, 5);
	assert_string_equal(a.header_names[2], "host");

	/* Each malformed form is refused rather than half-parsed. */
	const char *bad[] = {
		"AWS4-HMAC-SHA1 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, Signature=" EMPTY_SHA,
		"AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_reques, SignedHeaders=host, Signature=" EMPTY_SHA,
		"AWS4-HMAC-SHA256 Credential=A/2015083/r/s/aws4_request, SignedHeaders=host, Signature=" EMPTY_SHA,
		"AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host;Host, Signature=" EMPTY_SHA,
		"AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=x;host, Signature=" EMPTY_SHA,
		"AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, Signature=abc",
		"AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host",
		"AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, Signature=" EMPTY_SHA ", Signature=" EMPTY_SHA,
		"AWS4-HMAC-SHA256 Credential=//20150830/r/s/aws4_request, SignedHeaders=host, Signature=" EMPTY_SHA,
		"AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=, Signature=" EMPTY_SHA,
		"AWS4-HMAC-SHA256 Bogus=1, Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, Signature=" EMPTY_SHA,
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sigv4_parse_authorization(bad[i], &a), -22);
}

static void test_amz_date(void **state)
{
	time_t t;
	char buf[17];

	assert_int_equal(sigv4_parse_amz_date(DATE, &t), 0);
	assert_int_equal((long)t, 1440938160L);
	sigv4_format_amz_date(t, buf);
	assert_string_equal(buf, DATE);
	assert_int_equal(sigv4_parse_amz_date("20150830T123600", &t), -22);
	assert_int_equal(sigv4_parse_amz_date("2015083XT123600Z", &t), -22);
	assert_int_equal(sigv4_parse_amz_date("20151330T123600Z", &t), -22);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_string_to_sign),
		cmocka_unit_test(test_parse_authorization),
		cmocka_unit_test(test_amz_date),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
