/* fuzz_size: lib/cliopt's size and port parsers, every ward binary's
 * command-line numbers, against a reference written differently (128-bit
 * arithmetic, suffix table): same accept/reject and the same value. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cliopt.h"

static int reference(const char *s, unsigned bare, uint64_t *out)
{
	static const char *const suffix[] = { "", "K", "M", "G", "T" };
	unsigned __int128 v = 0;
	size_t n = strspn(s, "0123456789");
	unsigned shift = bare;

	if (!n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		v = v * 10 + (unsigned)(s[i] - '0');
		if (v > UINT64_MAX)
			v = (unsigned __int128)UINT64_MAX + 1;	/* saturate: too big */
	}
	if (s[n]) {
		int found = 0;

		for (unsigned u = 1; u < 5 && !found; u++)
			for (int form = 0; form < 3 && !found; form++) {
				char want[8];

				for (int lower = 0; lower < 2 && !found; lower++) {
					want[0] = lower ? (char)(suffix[u][0] + 32) : suffix[u][0];
					strcpy(want + 1, form == 0 ? "" : form == 1 ? "iB" : "B");
					if (!strcmp(s + n, want)) {
						found = 1;
						shift = 10 * u;
					}
				}
			}
		if (!found)
			return -EINVAL;
	}
	v <<= shift;
	if (v > UINT64_MAX)
		return -ERANGE;
	*out = (uint64_t)v;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	uint64_t a = 0, b = 0;
	unsigned port;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	for (unsigned bare = 0; bare <= 20; bare += 20) {
		int ra = cliopt_parse_size(s, bare, &a), rb = reference(s, bare, &b);

		if (ra != rb || (ra == 0 && a != b))
			abort();
	}
	if (cliopt_parse_port(s, &port) == 0 &&
	    (port > 65535 || reference(s, 0, &b) || b != port || strspn(s, "0123456789") != strlen(s)))
		abort();
	free(s);
	return 0;
}
