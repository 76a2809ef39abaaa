/* libFuzzer harness for SigV4 header handling: the Authorization header
 * parser, X-Amz-Date parser, and canonical-request building from the
 * parsed signed-header list (what ward-kms does with untrusted headers). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sigv4_header h[SIGV4_MAX_SIGNED_HEADERS];
	struct sigv4_auth a;
	struct sigv4_request req;
	char *s, *creq = NULL, *sts = NULL;
	const char *nl;
	time_t t;

	if (size > 8192)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	/* First line: X-Amz-Date; rest: Authorization. */
	nl = strchr(s, '\n');
	if (nl) {
		s[nl - s] = '\0';
		sigv4_parse_amz_date(s, &t);
		if (sigv4_parse_authorization(nl + 1, &a) == 0) {
			for (size_t i = 0; i < a.n_headers; i++) {
				h[i].name = a.header_names[i];
				h[i].value = s;
			}
			req = (struct sigv4_request){ "POST", "/", NULL, h, a.n_headers,
				"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" };
			if (sigv4_canonical_request(&req, &creq) == 0 && strlen(s) == 16)
				sigv4_string_to_sign(s, a.region, a.service, creq, &sts);
		}
	} else {
		sigv4_parse_authorization(s, &a);
	}
	free(creq);
	free(sts);
	free(s);
	return 0;
}
