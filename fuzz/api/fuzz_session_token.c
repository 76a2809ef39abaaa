/* fuzz_session_token: X-Amz-Security-Token values (src/api/sts.c) as an
 * attacker sends them — through sts_session_open with a real store and
 * role. Input starting with '{' is taken as the sealed payload instead and
 * sealed first (as only ward-api could), so the checks behind the AEAD —
 * the payload's JSON, key id, expiry, role id, session policy — see
 * fuzzed input too; anything else is fed to base64 and GCM as sent. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "seal.h"

static struct api a;

static int setup(void)
{
	static const uint8_t master[32] = { 7 };
	struct store *s;
	struct store_txn *t;

	/* An in-memory database: nothing left behind by a fuzzing run. */
	if (store_sqlite_open(":memory:", &s) || api_open(&a, s, "111122223333", master) ||
	    store_txn_begin(s, true, &t))
		return -1;
	store_put(t, "iam/role/ops", "{\"RoleName\":\"ops\",\"RoleId\":\"AROAFUZZ\","
		  "\"Arn\":\"arn:aws:iam::111122223333:role/ops\"}");
	return store_txn_commit(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct api_caller c;
	struct store_txn *t;
	char *tok, secret[41];

	if (!ready && setup() == 0)
		ready = 1;
	if (!ready || !(tok = malloc(size + 1)))
		return 0;
	memcpy(tok, data, size);
	tok[size] = '\0';
	if (size && data[0] == '{') {
		char *sealed;

		if (seal_b64(a.token_key, "ward-api sts session token v1", data, size, &sealed)) {
			free(tok);
			return 0;
		}
		free(tok);
		tok = sealed;
	}
	memset(&c, 0, sizeof(c));
	if (store_txn_begin(a.store, false, &t) == 0) {
		if (sts_session_open(&a, t, "ASIAFUZZFUZZFUZZFUZZ", tok, 1.8e9, &c, secret) == 0)
			api_caller_clear(&c);
		store_txn_abort(t);
	}
	free(tok);
	return 0;
}
