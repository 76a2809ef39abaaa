/* fuzz_audit_record: libFuzzer harness for the audit log format parsers
 * (src/controller/audit_fmt.c) that `ward audit verify` runs on exported,
 * untrusted logs: one record, and a whole leaves file. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit_fmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_record rec;
	uint8_t (*hashes)[MERKLE_HASH_LEN] = NULL;
	uint64_t n = 0;
	char err[256];

	if (!audit_record_parse((const char *)data, size, &rec, err, sizeof(err)) &&
	    (size > AUDIT_RECORD_MAX || memchr(data, '\n', size)))
		abort();
	if (!audit_leaves_hash((const char *)data, size, &hashes, &n, err, sizeof(err))) {
		if (n && (!size || data[size - 1] != '\n'))
			abort();
		free(hashes);
	}
	return 0;
}
