/* fuzz_etcd_resp: etcd's JSON gateway replies as ward-api parses them
 * (src/api/etcd_parse.c) — a reply, its kvs (base64 keys and values), a
 * txn's nested range, a watch stream message; anything else is refused,
 * and what parses round-trips through the base64 encoder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etcd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct etcd_resp r;
	struct etcd_watch_msg m;
	struct etcd_kv *kvs;
	size_t n;

	if (etcd_resp_parse((const char *)data, size, &r))
		return 0;
	if (r.code && (r.code > 64 || strlen(r.message) >= sizeof(r.message)))
		abort();
	if (etcd_resp_kvs(r.root, &kvs, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			char *enc = etcd_b64(kvs[i].key, kvs[i].klen), *dec;
			size_t dl;

			/* decode(encode(x)) == x */
			if (!enc || etcd_unb64(enc, &dec, &dl) || dl != kvs[i].klen ||
			    memcmp(dec, kvs[i].key, dl))
				abort();
			free(dec);
			free(enc);
		}
		etcd_kvs_free(kvs, n);
	}
	json_t *res = json_array_get(json_object_get(r.root, "responses"), 0);
	if (etcd_resp_kvs(json_object_get(res, "response_range"), &kvs, &n) == 0)
		etcd_kvs_free(kvs, n);
	if (etcd_watch_parse(&r, &m) == 0 && (m.nev > 16 || m.compact_revision < 0))
		abort();
	(void)etcd_int(r.root, "TTL");
	etcd_resp_free(&r);
	return 0;
}
