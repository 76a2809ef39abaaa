/* fuzz_query: the Query-protocol form body parser (src/api/query.c) — any
 * bytes either parse into NUL-free, valid names, or are refused. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct query q;
	char err[256];

	if (query_parse((const char *)data, size, &q, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < q.n; i++) {
			if (!q.p[i].name[0] || query_get(&q, q.p[i].name) != q.p[i].value)
				abort();	/* names are unique and non-empty */
			free(query_escape(q.p[i].value));
		}
		query_free(&q);
	}
	return 0;
}
