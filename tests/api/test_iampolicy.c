/* test_iampolicy: table-driven tests of src/lib/iampolicy — grammar errors
 * and evaluation cases, many taken from the examples in the IAM User Guide
 * (policy variables, condition operators, evaluation logic). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iampolicy.h"

#define A IAMPOLICY_ALLOW
#define I IAMPOLICY_IMPLICIT_DENY
#define D IAMPOLICY_EXPLICIT_DENY
#define V "\"Version\":\"2012-10-17\","
#define ALICE "arn:aws:iam::111122223333:user/alice"

/* ctx: "key=v1|v2;key2=v3" */
struct ectx {
	struct iampolicy_ctx_entry e[16];
	const char *vals[16][8];
	char buf[1024];
	size_t n;
};

static void parse_ctx(const char *spec, struct ectx *c)
{
	char *save = NULL, *tok;

	memset(c, 0, sizeof(*c));
	if (!spec)
		return;
	snprintf(c->buf, sizeof(c->buf), "%s", spec);
	for (tok = strtok_r(c->buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(tok, '='), *vs = NULL, *v;
		struct iampolicy_ctx_entry *e = &c->e[c->n];

		assert_non_null(eq);
		*eq = '\0';
		e->key = tok;
		for (v = strtok_r(eq + 1, "|", &vs); v; v = strtok_r(NULL, "|", &vs))
			c->vals[c->n][e->n++] = v;
		e->values = c->vals[c->n];
		c->n++;
	}
}

struct ecase {
	const char *name, *policy, *action, *resource, *ctx;
	enum iampolicy_decision want;
};

#define STMT(s) "{" V "\"Statement\":[" s "]}"
#define ALLOW_ALL_IF(cond) STMT("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":" cond "}")

static const struct ecase ecases[] = {
	{ "implicit deny: nothing matches",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}"),
	  "iam:CreateUser", "*", NULL, I },
	{ "service wildcard",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"*\"}"),
	  "iam:CreateUser", "*", NULL, A },
	{ "action match is case-insensitive",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"IAM:createUSER\",\"Resource\":\"*\"}"),
	  "iam:CreateUser", "*", NULL, A },
	{ "action '?' wildcard",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"iam:?etUser\",\"Resource\":\"*\"}"),
	  "iam:GetUser", "*", NULL, A },
	{ "action prefix wildcard",
	  STMT("{\"Effect\":\"Allow\",\"Action\":[\"iam:Get*\",\"iam:List*\"],\"Resource\":\"*\"}"),
	  "iam:DeleteUser", "*", NULL, I },
	{ "explicit deny wins over allow",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},"
	       "{\"Effect\":\"Deny\",\"Action\":\"iam:DeleteUser\",\"Resource\":\"*\"}"),
	  "iam:DeleteUser", ALICE, NULL, D },
	{ "deny elsewhere leaves the allow",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},"
	       "{\"Effect\":\"Deny\",\"Action\":\"iam:DeleteUser\",\"Resource\":\"*\"}"),
	  "iam:GetUser", ALICE, NULL, A },
	{ "NotAction allows everything else",
	  STMT("{\"Effect\":\"Allow\",\"NotAction\":\"iam:*\",\"Resource\":\"*\"}"),
	  "sts:GetCallerIdentity", "*", NULL, A },
	{ "NotAction excludes its actions",
	  STMT("{\"Effect\":\"Allow\",\"NotAction\":\"iam:*\",\"Resource\":\"*\"}"),
	  "iam:CreateUser", "*", NULL, I },
	{ "Deny with NotResource spares the listed resource",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"*\"},"
	       "{\"Effect\":\"Deny\",\"Action\":\"iam:*\",\"NotResource\":\"" ALICE "\"}"),
	  "iam:GetUser", ALICE, NULL, A },
	{ "Deny with NotResource hits the others",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"*\"},"
	       "{\"Effect\":\"Deny\",\"Action\":\"iam:*\",\"NotResource\":\"" ALICE "\"}"),
	  "iam:GetUser", "arn:aws:iam::111122223333:user/bob", NULL, D },
	{ "resource match is case-sensitive",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"arn:aws:iam::111122223333:user/Alice\"}"),
	  "iam:GetUser", ALICE, NULL, I },
	{ "resource wildcard spans ':' and '/'",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"arn:aws:iam::*\"}"),
	  "iam:GetUser", ALICE, NULL, A },
	{ "resource '?' matches exactly one",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"arn:aws:iam::111122223333:user/alic?\"}"),
	  "iam:GetUser", ALICE, NULL, A },
	{ "resource '?' needs a character",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"arn:aws:iam::111122223333:user/alice?\"}"),
	  "iam:GetUser", ALICE, NULL, I },
	/* IAM User Guide, "IAM policy elements: Variables and tags". */
	{ "${aws:username} in Resource: own user",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"iam:*AccessKey*\",\"Resource\":\"arn:aws:iam::*:user/${aws:username}\"}"),
	  "iam:CreateAccessKey", ALICE, "aws:username=alice", A },
	{ "${aws:username} in Resource: another user",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"iam:*AccessKey*\",\"Resource\":\"arn:aws:iam::*:user/${aws:username}\"}"),
	  "iam:CreateAccessKey", "arn:aws:iam::111122223333:user/bob", "aws:username=alice", I },
	{ "variable names are case-insensitive",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"arn:aws:iam::*:user/${AWS:UserName}\"}"),
	  "iam:GetUser", ALICE, "aws:username=alice", A },
	{ "Version 2008-10-17: ${...} is literal",
	  "{\"Version\":\"2008-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"arn:aws:iam::*:user/${aws:username}\"}}",
	  "iam:GetUser", ALICE, "aws:username=alice", I },
	{ "missing variable: no match",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"arn:aws:iam::*:user/${aws:username}\"}"),
	  "iam:GetUser", ALICE, NULL, I },
	{ "missing variable: default value",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"arn:aws:iam::*:user/${aws:username, 'alice'}\"}"),
	  "iam:GetUser", ALICE, NULL, A },
	{ "substituted value is literal, not a wildcard",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"arn:aws:iam::*:user/${aws:username}\"}"),
	  "iam:GetUser", ALICE, "aws:username=*", I },
	{ "${*} is a literal star",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"arn:aws:iam::111122223333:user/a${*}\"}"),
	  "iam:GetUser", "arn:aws:iam::111122223333:user/a*", NULL, A },
	{ "${*} does not match other text",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"arn:aws:iam::111122223333:user/a${*}\"}"),
	  "iam:GetUser", "arn:aws:iam::111122223333:user/abc", NULL, I },
	/* String operators. */
	{ "StringEquals match", ALLOW_ALL_IF("{\"StringEquals\":{\"aws:username\":\"alice\"}}"),
	  "iam:GetUser", "*", "aws:username=alice", A },
	{ "StringEquals is case-sensitive", ALLOW_ALL_IF("{\"StringEquals\":{\"aws:username\":\"Alice\"}}"),
	  "iam:GetUser", "*", "aws:username=alice", I },
	{ "StringEquals: condition key names are case-insensitive",
	  ALLOW_ALL_IF("{\"StringEquals\":{\"AWS:UserName\":\"alice\"}}"),
	  "iam:GetUser", "*", "aws:username=alice", A },
	{ "StringEquals: missing key fails", ALLOW_ALL_IF("{\"StringEquals\":{\"aws:username\":\"alice\"}}"),
	  "iam:GetUser", "*", NULL, I },
	{ "StringEquals: policy values are ORed",
	  ALLOW_ALL_IF("{\"StringEquals\":{\"aws:username\":[\"bob\",\"alice\"]}}"),
	  "iam:GetUser", "*", "aws:username=alice", A },
	{ "StringNotEquals: different value", ALLOW_ALL_IF("{\"StringNotEquals\":{\"aws:username\":\"bob\"}}"),
	  "iam:GetUser", "*", "aws:username=alice", A },
	{ "StringNotEquals: same value", ALLOW_ALL_IF("{\"StringNotEquals\":{\"aws:username\":[\"bob\",\"alice\"]}}"),
	  "iam:GetUser", "*", "aws:username=alice", I },
	{ "StringNotEquals: missing key holds", ALLOW_ALL_IF("{\"StringNotEquals\":{\"aws:username\":\"bob\"}}"),
	  "iam:GetUser", "*", NULL, A },
	{ "StringEqualsIgnoreCase", ALLOW_ALL_IF("{\"StringEqualsIgnoreCase\":{\"aws:username\":\"ALICE\"}}"),
	  "iam:GetUser", "*", "aws:username=alice", A },
	{ "StringNotEqualsIgnoreCase", ALLOW_ALL_IF("{\"StringNotEqualsIgnoreCase\":{\"aws:username\":\"ALICE\"}}"),
	  "iam:GetUser", "*", "aws:username=alice", I },
	{ "StringLike wildcard", ALLOW_ALL_IF("{\"StringLike\":{\"s3:prefix\":[\"home/*\"]}}"),
	  "s3:ListBucket", "*", "s3:prefix=home/alice/x", A },
	{ "StringLike no match", ALLOW_ALL_IF("{\"StringLike\":{\"s3:prefix\":[\"home/*\"]}}"),
	  "s3:ListBucket", "*", "s3:prefix=etc/passwd", I },
	{ "StringLike with a variable (IAM guide: home/${aws:username}/*)",
	  ALLOW_ALL_IF("{\"StringLike\":{\"s3:prefix\":\"home/${aws:username}/*\"}}"),
	  "s3:ListBucket", "*", "s3:prefix=home/alice/docs;aws:username=alice", A },
	{ "StringLike with a variable: another user's prefix",
	  ALLOW_ALL_IF("{\"StringLike\":{\"s3:prefix\":\"home/${aws:username}/*\"}}"),
	  "s3:ListBucket", "*", "s3:prefix=home/bob/docs;aws:username=alice", I },
	{ "StringNotLike", ALLOW_ALL_IF("{\"StringNotLike\":{\"s3:prefix\":\"home/*\"}}"),
	  "s3:ListBucket", "*", "s3:prefix=etc", A },
	{ "StringEquals against a variable",
	  ALLOW_ALL_IF("{\"StringEquals\":{\"aws:PrincipalTag/owner\":\"${aws:username}\"}}"),
	  "iam:GetUser", "*", "aws:PrincipalTag/owner=alice;aws:username=alice", A },
	{ "operators and keys are ANDed (one fails)",
	  ALLOW_ALL_IF("{\"StringEquals\":{\"aws:username\":\"alice\",\"aws:RequestedRegion\":\"us-east-1\"},"
		       "\"Bool\":{\"aws:SecureTransport\":\"true\"}}"),
	  "iam:GetUser", "*", "aws:username=alice;aws:RequestedRegion=eu-west-1;aws:SecureTransport=true", I },
	{ "operators and keys are ANDed (all hold)",
	  ALLOW_ALL_IF("{\"StringEquals\":{\"aws:username\":\"alice\",\"aws:RequestedRegion\":\"us-east-1\"},"
		       "\"Bool\":{\"aws:SecureTransport\":\"true\"}}"),
	  "iam:GetUser", "*", "aws:username=alice;aws:RequestedRegion=us-east-1;aws:SecureTransport=true", A },
	{ "StringEqualsIfExists: missing key holds",
	  ALLOW_ALL_IF("{\"StringEqualsIfExists\":{\"ec2:InstanceType\":[\"t2.micro\"]}}"),
	  "ec2:RunInstances", "*", NULL, A },
	{ "StringEqualsIfExists: present key is checked",
	  ALLOW_ALL_IF("{\"StringEqualsIfExists\":{\"ec2:InstanceType\":[\"t2.micro\"]}}"),
	  "ec2:RunInstances", "*", "ec2:InstanceType=m5.24xlarge", I },
	/* Bool and Null (IAM guide: "Condition with BoolIfExists" / MFA). */
	{ "Bool true", ALLOW_ALL_IF("{\"Bool\":{\"aws:MultiFactorAuthPresent\":\"true\"}}"),
	  "iam:GetUser", "*", "aws:MultiFactorAuthPresent=true", A },
	{ "Bool bare JSON true", ALLOW_ALL_IF("{\"Bool\":{\"aws:MultiFactorAuthPresent\":true}}"),
	  "iam:GetUser", "*", "aws:MultiFactorAuthPresent=true", A },
	{ "Bool missing key fails", ALLOW_ALL_IF("{\"Bool\":{\"aws:MultiFactorAuthPresent\":\"true\"}}"),
	  "iam:GetUser", "*", NULL, I },
	{ "Deny BoolIfExists false: long-term key (key missing) denied",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},"
	       "{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"BoolIfExists\":{\"aws:MultiFactorAuthPresent\":\"false\"}}}"),
	  "iam:GetUser", "*", NULL, D },
	{ "Deny BoolIfExists false: MFA session allowed",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},"
	       "{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"BoolIfExists\":{\"aws:MultiFactorAuthPresent\":\"false\"}}}"),
	  "iam:GetUser", "*", "aws:MultiFactorAuthPresent=true", A },
	{ "Null true: key absent", ALLOW_ALL_IF("{\"Null\":{\"aws:TokenIssueTime\":\"true\"}}"),
	  "iam:GetUser", "*", NULL, A },
	{ "Null true: key present", ALLOW_ALL_IF("{\"Null\":{\"aws:TokenIssueTime\":\"true\"}}"),
	  "iam:GetUser", "*", "aws:TokenIssueTime=2026-01-01T00:00:00Z", I },
	{ "Null false: key present", ALLOW_ALL_IF("{\"Null\":{\"aws:TokenIssueTime\":\"false\"}}"),
	  "iam:GetUser", "*", "aws:TokenIssueTime=2026-01-01T00:00:00Z", A },
	/* Numeric. */
	{ "NumericLessThan holds", ALLOW_ALL_IF("{\"NumericLessThan\":{\"s3:max-keys\":\"10\"}}"),
	  "s3:ListBucket", "*", "s3:max-keys=5", A },
	{ "NumericLessThan boundary", ALLOW_ALL_IF("{\"NumericLessThan\":{\"s3:max-keys\":\"10\"}}"),
	  "s3:ListBucket", "*", "s3:max-keys=10", I },
	{ "NumericLessThanEquals boundary", ALLOW_ALL_IF("{\"NumericLessThanEquals\":{\"s3:max-keys\":10}}"),
	  "s3:ListBucket", "*", "s3:max-keys=10", A },
	{ "NumericGreaterThan", ALLOW_ALL_IF("{\"NumericGreaterThan\":{\"aws:MultiFactorAuthAge\":\"3600\"}}"),
	  "iam:GetUser", "*", "aws:MultiFactorAuthAge=3601.5", A },
	{ "NumericGreaterThanEquals fails", ALLOW_ALL_IF("{\"NumericGreaterThanEquals\":{\"n\":\"3600\"}}"),
	  "iam:GetUser", "*", "n=12", I },
	{ "NumericEquals", ALLOW_ALL_IF("{\"NumericEquals\":{\"n\":\"42\"}}"),
	  "iam:GetUser", "*", "n=42.0", A },
	{ "NumericNotEquals", ALLOW_ALL_IF("{\"NumericNotEquals\":{\"n\":\"42\"}}"),
	  "iam:GetUser", "*", "n=42", I },
	{ "Numeric: a non-number request value never matches",
	  ALLOW_ALL_IF("{\"NumericLessThan\":{\"n\":\"10\"}}"), "iam:GetUser", "*", "n=abc", I },
	/* Dates (IAM guide: "aws:CurrentTime" examples). */
	{ "DateLessThan holds", ALLOW_ALL_IF("{\"DateLessThan\":{\"aws:CurrentTime\":\"2027-01-01T00:00:00Z\"}}"),
	  "iam:GetUser", "*", "aws:CurrentTime=2026-12-07T16:00:00Z", A },
	{ "DateLessThan expired", ALLOW_ALL_IF("{\"DateLessThan\":{\"aws:CurrentTime\":\"2026-01-01T00:00:00Z\"}}"),
	  "iam:GetUser", "*", "aws:CurrentTime=2026-12-07T16:00:00Z", I },
	{ "DateGreaterThan with a date-only value", ALLOW_ALL_IF("{\"DateGreaterThan\":{\"aws:CurrentTime\":\"2026-12-07\"}}"),
	  "iam:GetUser", "*", "aws:CurrentTime=2026-12-07T00:00:01Z", A },
	{ "DateLessThanEquals epoch seconds", ALLOW_ALL_IF("{\"DateLessThanEquals\":{\"aws:EpochTime\":\"1796659200\"}}"),
	  "iam:GetUser", "*", "aws:EpochTime=1796659200", A },
	{ "DateEquals across time zones", ALLOW_ALL_IF("{\"DateEquals\":{\"t\":\"2026-12-07T18:00:00+02:00\"}}"),
	  "iam:GetUser", "*", "t=2026-12-07T16:00:00Z", A },
	{ "DateNotEquals", ALLOW_ALL_IF("{\"DateNotEquals\":{\"t\":\"2026-12-07T16:00:00Z\"}}"),
	  "iam:GetUser", "*", "t=2026-12-07T16:00:00Z", I },
	/* IP addresses (IAM guide: "Denies access based on the source IP"). */
	{ "IpAddress in the range", ALLOW_ALL_IF("{\"IpAddress\":{\"aws:SourceIp\":[\"192.0.2.0/24\",\"203.0.113.0/24\"]}}"),
	  "iam:GetUser", "*", "aws:SourceIp=203.0.113.7", A },
	{ "IpAddress outside", ALLOW_ALL_IF("{\"IpAddress\":{\"aws:SourceIp\":[\"192.0.2.0/24\",\"203.0.113.0/24\"]}}"),
	  "iam:GetUser", "*", "aws:SourceIp=198.51.100.1", I },
	{ "IpAddress single host", ALLOW_ALL_IF("{\"IpAddress\":{\"aws:SourceIp\":\"127.0.0.1\"}}"),
	  "iam:GetUser", "*", "aws:SourceIp=127.0.0.1", A },
	{ "IpAddress /0", ALLOW_ALL_IF("{\"IpAddress\":{\"aws:SourceIp\":\"0.0.0.0/0\"}}"),
	  "iam:GetUser", "*", "aws:SourceIp=10.1.2.3", A },
	{ "IpAddress non-octet prefix", ALLOW_ALL_IF("{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/12\"}}"),
	  "iam:GetUser", "*", "aws:SourceIp=10.16.0.1", I },
	{ "IpAddress IPv6", ALLOW_ALL_IF("{\"IpAddress\":{\"aws:SourceIp\":\"2001:DB8:1234:5678::/64\"}}"),
	  "iam:GetUser", "*", "aws:SourceIp=2001:db8:1234:5678::9", A },
	{ "IpAddress family mismatch", ALLOW_ALL_IF("{\"IpAddress\":{\"aws:SourceIp\":\"2001:DB8::/32\"}}"),
	  "iam:GetUser", "*", "aws:SourceIp=10.0.0.1", I },
	{ "Deny NotIpAddress from outside",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},"
	       "{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"NotIpAddress\":{\"aws:SourceIp\":[\"192.0.2.0/24\"]}}}"),
	  "iam:GetUser", "*", "aws:SourceIp=198.51.100.1", D },
	{ "Deny NotIpAddress from inside",
	  STMT("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},"
	       "{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"NotIpAddress\":{\"aws:SourceIp\":[\"192.0.2.0/24\"]}}}"),
	  "iam:GetUser", "*", "aws:SourceIp=192.0.2.9", A },
	/* ARNs. */
	{ "ArnLike per component", ALLOW_ALL_IF("{\"ArnLike\":{\"aws:PrincipalArn\":\"arn:aws:iam::*:role/dev-*\"}}"),
	  "iam:GetUser", "*", "aws:PrincipalArn=arn:aws:iam::111122223333:role/dev-ops", A },
	{ "ArnLike: '*' does not cross components",
	  ALLOW_ALL_IF("{\"ArnLike\":{\"aws:PrincipalArn\":\"arn:aws:*:role/dev-*\"}}"),
	  "iam:GetUser", "*", "aws:PrincipalArn=arn:aws:iam::111122223333:role/dev-ops", I },
	{ "ArnEquals exact", ALLOW_ALL_IF("{\"ArnEquals\":{\"aws:PrincipalArn\":\"" ALICE "\"}}"),
	  "iam:GetUser", "*", "aws:PrincipalArn=" ALICE, A },
	{ "ArnNotLike: missing key holds", ALLOW_ALL_IF("{\"ArnNotLike\":{\"aws:SourceArn\":\"arn:aws:iam::*:*\"}}"),
	  "iam:GetUser", "*", NULL, A },
	{ "ArnNotEquals: same ARN fails", ALLOW_ALL_IF("{\"ArnNotEquals\":{\"aws:PrincipalArn\":\"" ALICE "\"}}"),
	  "iam:GetUser", "*", "aws:PrincipalArn=" ALICE, I },
	/* Multi-valued keys and set operators (IAM guide: "multivalued context keys"). */
	{ "ForAllValues: every request value allowed",
	  ALLOW_ALL_IF("{\"ForAllValues:StringEquals\":{\"aws:TagKeys\":[\"team\",\"env\"]}}"),
	  "iam:TagUser", "*", "aws:TagKeys=team|env", A },
	{ "ForAllValues: one value outside the set",
	  ALLOW_ALL_IF("{\"ForAllValues:StringEquals\":{\"aws:TagKeys\":[\"team\",\"env\"]}}"),
	  "iam:TagUser", "*", "aws:TagKeys=team|cost", I },
	{ "ForAllValues: missing key holds vacuously",
	  ALLOW_ALL_IF("{\"ForAllValues:StringEquals\":{\"aws:TagKeys\":[\"team\"]}}"),
	  "iam:TagUser", "*", NULL, A },
	{ "ForAnyValue: one value in the set",
	  ALLOW_ALL_IF("{\"ForAnyValue:StringEquals\":{\"aws:TagKeys\":[\"team\"]}}"),
	  "iam:TagUser", "*", "aws:TagKeys=cost|team", A },
	{ "ForAnyValue: missing key fails",
	  ALLOW_ALL_IF("{\"ForAnyValue:StringEquals\":{\"aws:TagKeys\":[\"team\"]}}"),
	  "iam:TagUser", "*", NULL, I },
	{ "ForAnyValue:StringLike",
	  ALLOW_ALL_IF("{\"ForAnyValue:StringLike\":{\"aws:TagKeys\":[\"cost-*\"]}}"),
	  "iam:TagUser", "*", "aws:TagKeys=team|cost-center", A },
	{ "ForAllValues:StringNotEquals: none may be listed",
	  ALLOW_ALL_IF("{\"ForAllValues:StringNotEquals\":{\"aws:TagKeys\":[\"secret\"]}}"),
	  "iam:TagUser", "*", "aws:TagKeys=team|secret", I },
	{ "multi-valued key without set operator: any value",
	  ALLOW_ALL_IF("{\"StringEquals\":{\"aws:TagKeys\":\"team\"}}"),
	  "iam:TagUser", "*", "aws:TagKeys=cost|team", A },
};

static void test_eval_table(void **state)
{
	unsigned failed = 0;

	for (size_t i = 0; i < sizeof(ecases) / sizeof(ecases[0]); i++) {
		const struct ecase *c = &ecases[i];
		struct iampolicy *p;
		struct ectx ctx;
		char err[256] = "";
		struct iampolicy_request r;
		enum iampolicy_decision got;

		if (iampolicy_parse(c->policy, strlen(c->policy), IAMPOLICY_IDENTITY, &p, err,
				    sizeof(err))) {
			printf("case \"%s\": parse failed: %s\n", c->name, err);
			failed++;
			continue;
		}
		parse_ctx(c->ctx, &ctx);
		r = (struct iampolicy_request){ .action = c->action, .resource = c->resource,
						.ctx = ctx.e, .n_ctx = ctx.n };
		got = iampolicy_eval(p, &r);
		if (got != c->want) {
			printf("case \"%s\": got %d, want %d\n", c->name, got, c->want);
			failed++;
		}
		iampolicy_free(p);
	}
	printf("%zu evaluation cases, %u failed\n", sizeof(ecases) / sizeof(ecases[0]), failed);
	assert_int_equal(failed, 0);
}

struct pcase {
	const char *name, *policy;
	enum iampolicy_kind kind;
	const char *err_has;	/* NULL: must parse */
};

#define ST1(s) "{" V "\"Statement\":{" s "}}"
#define OK1 "\"Effect\":\"Allow\",\"Action\":\"iam:GetUser\",\"Resource\":\"*\""

static const struct pcase pcases[] = {
	{ "minimal identity policy", ST1(OK1), IAMPOLICY_IDENTITY, NULL },
	{ "not JSON", "{\"Version\":", IAMPOLICY_IDENTITY, "not valid JSON" },
	{ "top level not an object", "[1]", IAMPOLICY_IDENTITY, "JSON object" },
	{ "duplicate keys", "{" V V "\"Statement\":{" OK1 "}}", IAMPOLICY_IDENTITY, "not valid JSON" },
	{ "unknown top-level element", "{" V "\"Statment\":[]}", IAMPOLICY_IDENTITY, "Statment" },
	{ "bad Version", "{\"Version\":\"2012-10-18\",\"Statement\":{" OK1 "}}", IAMPOLICY_IDENTITY, "Version" },
	{ "empty Statement", "{" V "\"Statement\":[]}", IAMPOLICY_IDENTITY, "Statement is missing" },
	{ "unknown statement element", ST1(OK1 ",\"Foo\":1"), IAMPOLICY_IDENTITY, "unknown element \"Foo\"" },
	{ "Effect is case-sensitive", ST1("\"Effect\":\"allow\",\"Action\":\"*\",\"Resource\":\"*\""),
	  IAMPOLICY_IDENTITY, "Effect" },
	{ "Action and NotAction", ST1(OK1 ",\"NotAction\":\"iam:*\""), IAMPOLICY_IDENTITY, "exactly one of Action" },
	{ "no Action", ST1("\"Effect\":\"Allow\",\"Resource\":\"*\""), IAMPOLICY_IDENTITY, "exactly one of Action" },
	{ "Action without a service", ST1("\"Effect\":\"Allow\",\"Action\":\"GetUser\",\"Resource\":\"*\""),
	  IAMPOLICY_IDENTITY, "service:Action" },
	{ "Action list with a number", ST1("\"Effect\":\"Allow\",\"Action\":[\"iam:GetUser\",1],\"Resource\":\"*\""),
	  IAMPOLICY_IDENTITY, "Action[1]" },
	{ "empty Action list", ST1("\"Effect\":\"Allow\",\"Action\":[],\"Resource\":\"*\""),
	  IAMPOLICY_IDENTITY, "non-empty array" },
	{ "identity policy without Resource", ST1("\"Effect\":\"Allow\",\"Action\":\"*\""),
	  IAMPOLICY_IDENTITY, "Resource" },
	{ "identity policy with Principal", ST1(OK1 ",\"Principal\":\"*\""), IAMPOLICY_IDENTITY, "Principal" },
	{ "trust policy", ST1("\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Principal\":{\"AWS\":\"" ALICE "\"}"),
	  IAMPOLICY_TRUST, NULL },
	{ "trust policy with Resource", ST1("\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Principal\":\"*\",\"Resource\":\"*\""),
	  IAMPOLICY_TRUST, "cannot name a Resource" },
	{ "trust policy without Principal", ST1("\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\""),
	  IAMPOLICY_TRUST, "Principal" },
	{ "bad Principal type", ST1("\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Principal\":{\"Root\":\"x\"}"),
	  IAMPOLICY_TRUST, "Root" },
	{ "Principal string other than *", ST1("\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Principal\":\"" ALICE "\""),
	  IAMPOLICY_TRUST, "Principal must be" },
	{ "Sid with a dash", ST1("\"Sid\":\"a-b\"," OK1), IAMPOLICY_IDENTITY, "Sid" },
	{ "unknown condition operator", ST1(OK1 ",\"Condition\":{\"StringEqual\":{\"k\":\"v\"}}"),
	  IAMPOLICY_IDENTITY, "StringEqual" },
	{ "empty Condition", ST1(OK1 ",\"Condition\":{}"), IAMPOLICY_IDENTITY, "Condition" },
	{ "condition value is an object", ST1(OK1 ",\"Condition\":{\"StringEquals\":{\"k\":{}}}"),
	  IAMPOLICY_IDENTITY, "not valid for this operator" },
	{ "bad number", ST1(OK1 ",\"Condition\":{\"NumericLessThan\":{\"k\":\"ten\"}}"),
	  IAMPOLICY_IDENTITY, "not valid" },
	{ "bad date", ST1(OK1 ",\"Condition\":{\"DateLessThan\":{\"k\":\"2026-13-01T00:00:00Z\"}}"),
	  IAMPOLICY_IDENTITY, "not valid" },
	{ "bad CIDR", ST1(OK1 ",\"Condition\":{\"IpAddress\":{\"k\":\"10.0.0.0/33\"}}"),
	  IAMPOLICY_IDENTITY, "not valid" },
	{ "bad Bool", ST1(OK1 ",\"Condition\":{\"Bool\":{\"k\":\"yes\"}}"), IAMPOLICY_IDENTITY, "not valid" },
	{ "NullIfExists", ST1(OK1 ",\"Condition\":{\"NullIfExists\":{\"k\":\"true\"}}"),
	  IAMPOLICY_IDENTITY, "NullIfExists" },
	{ "set operator with IfExists", ST1(OK1 ",\"Condition\":{\"ForAnyValue:StringLikeIfExists\":{\"k\":\"a*\"}}"),
	  IAMPOLICY_IDENTITY, NULL },
	{ "empty condition value list", ST1(OK1 ",\"Condition\":{\"StringEquals\":{\"k\":[]}}"),
	  IAMPOLICY_IDENTITY, "empty value list" },
	{ "NUL in a string", "{" V "\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"iam:\\u0000\",\"Resource\":\"*\"}}",
	  IAMPOLICY_IDENTITY, "not valid JSON" },
};

static void test_parse_table(void **state)
{
	unsigned failed = 0;

	for (size_t i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		const struct pcase *c = &pcases[i];
		struct iampolicy *p = NULL;
		char err[256] = "";
		int rc = iampolicy_parse(c->policy, strlen(c->policy), c->kind, &p, err, sizeof(err));

		if (!c->err_has && rc) {
			printf("case \"%s\": refused: %s\n", c->name, err);
			failed++;
		} else if (c->err_has && (rc != -22 || p || !strstr(err, c->err_has))) {
			printf("case \"%s\": rc=%d err=\"%s\", want an error naming \"%s\"\n",
			       c->name, rc, err, c->err_has);
			failed++;
		}
		iampolicy_free(p);
	}
	assert_int_equal(failed, 0);
}

static void test_too_long(void **state)
{
	size_t n = IAMPOLICY_MAX_LEN + 1;
	char *big = malloc(n + 1), err[128];
	struct iampolicy *p;

	assert_non_null(big);
	memset(big, ' ', n);
	big[n] = '\0';
	assert_int_equal(iampolicy_parse(big, n, IAMPOLICY_IDENTITY, &p, err, sizeof(err)), -22);
	assert_non_null(strstr(err, "limit"));
	free(big);
}

static struct iampolicy *must(const char *json, enum iampolicy_kind kind)
{
	struct iampolicy *p;
	char err[256];

	if (iampolicy_parse(json, strlen(json), kind, &p, err, sizeof(err))) {
		printf("parse: %s\n", err);
		fail();
	}
	return p;
}

/* Role sessions: effective permissions are the intersection of the role's
 * policies and the session policy (IAM guide, "Session policies"). */
static void test_session_intersection(void **state)
{
	struct iampolicy *role = must(STMT("{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"*\"}"),
				      IAMPOLICY_IDENTITY);
	struct iampolicy *sess = must(STMT("{\"Effect\":\"Allow\",\"Action\":[\"iam:Get*\",\"s3:*\"],\"Resource\":\"*\"}"),
				      IAMPOLICY_IDENTITY);
	struct iampolicy *deny = must(STMT("{\"Effect\":\"Deny\",\"Action\":\"iam:GetRole\",\"Resource\":\"*\"}"),
				      IAMPOLICY_IDENTITY);
	const struct iampolicy *id[] = { role }, *s1[] = { sess }, *s2[] = { sess, deny };
	struct iampolicy_request r = { .resource = "*" };

	r.action = "iam:GetUser";
	assert_int_equal(iampolicy_authorize(id, 1, NULL, 0, &r), A);
	assert_int_equal(iampolicy_authorize(id, 1, s1, 1, &r), A);
	r.action = "iam:CreateUser";	/* role allows, session does not */
	assert_int_equal(iampolicy_authorize(id, 1, NULL, 0, &r), A);
	assert_int_equal(iampolicy_authorize(id, 1, s1, 1, &r), I);
	r.action = "s3:GetObject";	/* session allows, role does not: no grant */
	assert_int_equal(iampolicy_authorize(id, 1, s1, 1, &r), I);
	r.action = "iam:GetRole";	/* a deny anywhere wins */
	assert_int_equal(iampolicy_authorize(id, 1, s2, 2, &r), D);
	assert_int_equal(iampolicy_authorize(NULL, 0, NULL, 0, &r), I);
	iampolicy_free(role);
	iampolicy_free(sess);
	iampolicy_free(deny);
}

static void test_trust(void **state)
{
	struct iampolicy *named = must(STMT("{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Principal\":{\"AWS\":[\"" ALICE "\"]}}"),
				       IAMPOLICY_TRUST);
	struct iampolicy *acct = must(STMT("{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:root\"}},"
					   "{\"Effect\":\"Deny\",\"Action\":\"sts:AssumeRole\",\"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:user/mallory\"}}"),
				      IAMPOLICY_TRUST);
	struct iampolicy *cond = must(STMT("{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Principal\":\"*\","
					   "\"Condition\":{\"StringEquals\":{\"sts:ExternalId\":\"x-42\"}}}"),
				      IAMPOLICY_TRUST);
	const char *ext[] = { "x-42" };
	struct iampolicy_ctx_entry ce = { "sts:ExternalId", ext, 1 };
	struct iampolicy_request r = { .action = "sts:AssumeRole", .resource = "arn:aws:iam::111122223333:role/r",
				       .principal = ALICE, .account = "111122223333" };

	assert_int_equal(iampolicy_eval(named, &r), A);
	assert_true(iampolicy_trust_names_principal(named, &r));
	r.action = "sts:TagSession";
	assert_int_equal(iampolicy_eval(named, &r), I);
	r.action = "sts:AssumeRole";
	assert_int_equal(iampolicy_eval(acct, &r), A);
	assert_false(iampolicy_trust_names_principal(acct, &r));
	r.principal = "arn:aws:iam::111122223333:user/bob";
	assert_int_equal(iampolicy_eval(named, &r), I);
	r.principal = "arn:aws:iam::111122223333:user/mallory";
	assert_int_equal(iampolicy_eval(acct, &r), D);
	r.principal = "arn:aws:iam::444455556666:user/alice";
	r.account = "444455556666";
	assert_int_equal(iampolicy_eval(acct, &r), I);
	assert_int_equal(iampolicy_eval(cond, &r), I);
	r.ctx = &ce;
	r.n_ctx = 1;
	assert_int_equal(iampolicy_eval(cond, &r), A);
	iampolicy_free(named);
	/* Principal types: an IAM user's ARN or the account under "Service"
	 * (or "Federated") names no IAM user; a service is named only under
	 * "Service", never by an "AWS" value or the account. */
	named = must(STMT("{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Principal\":{\"Service\":[\"" ALICE "\",\"111122223333\"],"
			  "\"Federated\":\"" ALICE "\"}}"), IAMPOLICY_TRUST);
	r = (struct iampolicy_request){ .action = "sts:AssumeRole", .resource = "arn:aws:iam::111122223333:role/r",
					.principal = ALICE, .account = "111122223333" };
	assert_int_equal(iampolicy_eval(named, &r), I);
	iampolicy_free(named);
	named = must(STMT("{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Principal\":{\"Service\":\"ec2.amazonaws.com\"}}"),
		     IAMPOLICY_TRUST);
	assert_int_equal(iampolicy_eval(named, &r), I);
	r.service = "ec2.amazonaws.com";
	assert_int_equal(iampolicy_eval(named, &r), A);
	assert_int_equal(iampolicy_eval(acct, &r), I);
	r.service = "lambda.amazonaws.com";
	assert_int_equal(iampolicy_eval(named, &r), I);
	iampolicy_free(named);
	iampolicy_free(acct);
	iampolicy_free(cond);
}

static void test_wildcard(void **state)
{
	assert_true(iampolicy_wildcard("*", "", false));
	assert_true(iampolicy_wildcard("a*b*c", "aXXbYYc", false));
	assert_false(iampolicy_wildcard("a*b*c", "aXXbYY", false));
	assert_true(iampolicy_wildcard("a**", "a", false));
	assert_false(iampolicy_wildcard("?", "", false));
	assert_true(iampolicy_wildcard("AbC", "abc", true));
	assert_false(iampolicy_wildcard("AbC", "abc", false));
	assert_true(iampolicy_wildcard("*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", false));
	assert_false(iampolicy_wildcard("*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eval_table),
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_session_intersection),
		cmocka_unit_test(test_trust),
		cmocka_unit_test(test_wildcard),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
