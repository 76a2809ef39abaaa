/* fuzz_iampolicy: policy documents (src/lib/iampolicy.c) — parsed as both
 * kinds, and every accepted one evaluated against a request with a full
 * context, so condition operators and policy variables run on fuzzed input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iampolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const user[] = { "alice" }, *const ip[] = { "203.0.113.7" },
		*const tags[] = { "team", "env", "cost-center" }, *const t[] = { "2026-12-07T16:00:00Z" },
		*const n[] = { "42" }, *const b[] = { "true" }, *const arn[] = {
			"arn:aws:iam::111122223333:user/alice" };
	static const struct iampolicy_ctx_entry ctx[] = {
		{ "aws:username", user, 1 }, { "aws:SourceIp", ip, 1 }, { "aws:TagKeys", tags, 3 },
		{ "aws:CurrentTime", t, 1 }, { "s3:max-keys", n, 1 }, { "aws:SecureTransport", b, 1 },
		{ "aws:PrincipalArn", arn, 1 },
	};
	struct iampolicy_request r = { .action = "iam:CreateUser",
		.resource = "arn:aws:iam::111122223333:user/alice",
		.principal = "arn:aws:iam::111122223333:user/alice", .account = "111122223333",
		.ctx = ctx, .n_ctx = sizeof(ctx) / sizeof(ctx[0]) };
	struct iampolicy *p;
	char err[256];

	if (iampolicy_parse((const char *)data, size, IAMPOLICY_IDENTITY, &p, err, sizeof(err)) == 0) {
		const struct iampolicy *one[] = { p };

		iampolicy_eval(p, &r);
		iampolicy_authorize(one, 1, one, 1, &r);
		iampolicy_free(p);
	}
	if (iampolicy_parse((const char *)data, size, IAMPOLICY_TRUST, &p, err, sizeof(err)) == 0) {
		r.action = "sts:AssumeRole";
		if (iampolicy_eval(p, &r) == IAMPOLICY_ALLOW)
			iampolicy_trust_names_principal(p, &r);
		iampolicy_free(p);
	}
	return 0;
}
