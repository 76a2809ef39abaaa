/* fuzz_hostmsg: libFuzzer harness for ward-api's parser of a controller's
 * attestation replies (src/api/hostmsg.c): the keys, the activated secret
 * and the quote message with its event log, all from the host being
 * judged; the first byte picks which, and base64 on its own. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "hostmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hostmsg_keys k;
	struct hostmsg_quote q;
	uint8_t out[256];
	size_t n;
	char err[128];

	if (!size)
		return 0;
	switch (data[0] % 4) {
	case 0:
		hostmsg_keys((const char *)data + 1, size - 1, &k, err, sizeof(err));
		break;
	case 1:
		hostmsg_secret((const char *)data + 1, size - 1, out, &n, err, sizeof(err));
		break;
	case 2:
		if (!hostmsg_quote((const char *)data + 1, size - 1, &q, err, sizeof(err)))
			hostmsg_quote_free(&q);
		break;
	default:
		hostmsg_b64_decode((const char *)data + 1, size - 1, out, sizeof(out), &n);
		break;
	}
	return 0;
}
