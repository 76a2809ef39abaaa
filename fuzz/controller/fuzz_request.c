/* fuzz_request: libFuzzer harness for the host API's body parsers
 * (src/controller/request.c), which see untrusted JSON from mTLS clients.
 * The first byte picks the parser; invariants are checked on success. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controller/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run_req rr;
	struct volume_req vr;
	struct update_req ur;
	char err[256];

	if (size < 1)
		return 0;
	const char *body = (const char *)data + 1;
	size_t len = size - 1;

	switch (data[0] % 4) {
	case 0:
		if (req_parse_run(body, len, &rr, err, sizeof(err)))
			break;
		if (!req_valid_name(rr.image, REQ_NAME_MAX) || rr.memory_mib < 4 || rr.vcpus < 1 ||
		    rr.vcpus > 64 || rr.n_enis > REQ_MAX_ENIS)
			abort();
		/* An ENI id reaches ward-net's control channel: eni- and hex. */
		for (unsigned i = 0; i < rr.n_enis; i++)
			if (strncmp(rr.enis[i], "eni-", 4) ||
			    strspn(rr.enis[i] + 4, "0123456789abcdef") != strlen(rr.enis[i]) - 4)
				abort();
		break;
	case 1:
		if (!req_parse_volume(body, len, &vr, err, sizeof(err)) &&
		    (vr.size_bytes % 4096 || !vr.volume_id[0]))
			abort();
		break;
	case 2:
		if (!req_parse_update(body, len, &ur, err, sizeof(err)) &&
		    (strchr(ur.package, '/') || ur.package[0] == '.'))
			abort();
		break;
	default:
		req_parse_empty(body, len, err, sizeof(err));
	}
	if (memchr(err, 0, sizeof(err)) == NULL)
		abort();
	return 0;
}
