/* fuzz_eventlog: libFuzzer harness for the measured-boot event log parser
 * and replay (src/lib/tpm_eventlog.c), which read logs from hosts the
 * verifier does not trust. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tpm_eventlog.h"

static int touch(const struct tpm_event *ev, void *arg)
{
	size_t *sum = arg;

	/* Read every byte the parser hands out, so ASan sees any overrun. */
	for (uint32_t i = 0; i < ev->data_len; i++)
		*sum += ev->data[i];
	*sum += ev->pcr + ev->type + ev->digest[0] + ev->digest[31];
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tpm_replay r;
	char err[256];
	size_t sum = 0;
	int a, b;

	a = tpm_eventlog_parse(data, size, touch, &sum, err, sizeof(err));
	b = tpm_eventlog_replay(data, size, &r, err, sizeof(err));
	/* One parser: walking and replaying must agree on validity. */
	if ((a == 0) != (b == 0))
		__builtin_trap();
	if (b == 0 && r.mask >> TPM_NUM_PCRS)
		__builtin_trap();
	if (b != 0 && !memchr(err, '\0', sizeof(err)))
		__builtin_trap();
	return 0;
}
