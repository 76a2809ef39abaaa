/* etcd: a small client for etcd's v3 JSON gateway (POST /v3/kv/range,
 * /v3/kv/txn, /v3/lease/grant+keepalive+revoke, /v3/watch) over libcurl, with failover between
 * endpoints. etcd_parse.c holds the response parsers (fuzzed by
 * fuzz-api-etcd_resp); etcd.c the transport. docs/ha.md. */
#ifndef WARD_API_ETCD_H
#define WARD_API_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

/* etcd's int64 fields travel as JSON strings ("42"), zero ones are
 * omitted: 0 when absent, -1 when present but not a non-negative int64. */
int64_t etcd_int(const json_t *obj, const char *name);

/* Base64 (standard alphabet, padded) as the gateway encodes bytes. */
char *etcd_b64(const void *p, size_t n);
/* Decodes into a malloc'd, NUL-terminated buffer; -EPROTO if malformed. */
int etcd_unb64(const char *s, char **out, size_t *n);

struct etcd_kv {
	char *key, *value;	/* NUL-terminated copies (bytes may hold NULs) */
	size_t klen, vlen;
	int64_t create_rev, mod_rev, lease;
};

struct etcd_resp {
	json_t *root;		/* the unwrapped body ("result" of a stream) */
	int64_t revision;	/* header.revision */
	int code;		/* gRPC status of an error body; 0 when none */
	char message[128];	/* its message, printable ASCII only */
};

/* Parses one gateway reply (or one line of a watch stream). 0 with r
 * filled (r->code set for an error body); -EPROTO when it is not an etcd
 * reply. etcd_resp_free releases it. */
int etcd_resp_parse(const char *buf, size_t len, struct etcd_resp *r);
void etcd_resp_free(struct etcd_resp *r);

/* The kvs array of a range response (or of one inside a txn's
 * responses[i].response_range). *kvs malloc'd; free with etcd_kvs_free. */
int etcd_resp_kvs(const json_t *range, struct etcd_kv **kvs, size_t *n);
void etcd_kvs_free(struct etcd_kv *kvs, size_t n);

/* A watch stream message. */
enum etcd_ev_type { ETCD_EV_PUT, ETCD_EV_DELETE };
struct etcd_watch_msg {
	bool created, canceled;
	int64_t compact_revision;	/* non-zero: the start revision was compacted */
	int64_t revision;
	size_t nev;
	enum etcd_ev_type ev[16];	/* the first 16 events' types */
	int64_t ev_mod_rev[16];
};
int etcd_watch_parse(const struct etcd_resp *r, struct etcd_watch_msg *m);

/* --- transport (etcd.c) --- */
struct etcd;

struct etcd_tls {
	const char *cacert, *cert, *key;	/* NULL: plain HTTP */
};

/* endpoints: "http://h:p,http://h:p,..." (https:// with tls). */
int etcd_open(const char *endpoints, const struct etcd_tls *tls, struct etcd **out);
void etcd_close(struct etcd *c);

/* POSTs req (consumed) to path and parses the reply. Connection errors
 * and etcd's "unavailable" answers move to the next endpoint, for up to
 * the client's deadline (a few seconds, long enough for etcd to elect a
 * leader). 0 with *r filled (r->code 0); -EIO unreachable; -EPROTO; or
 * -EINVAL for a refused request (r is then freed). A request may be sent
 * more than once (a timeout or a lost reply says nothing of whether etcd
 * applied it): a write must be harmless to repeat, as store_etcd's commit
 * marker makes every write Txn (docs/ha.md). */
int etcd_call(struct etcd *c, const char *path, json_t *req, struct etcd_resp *r);

/* Watches key from start_rev; cb sees each message and returns non-zero to
 * stop (that value is returned). Ends with -ETIMEDOUT after timeout_ms,
 * -ECANCELED when *stop turns true, -EIO on a broken stream. */
int etcd_watch(struct etcd *c, const char *key, int64_t start_rev, long timeout_ms,
	       int (*cb)(const struct etcd_watch_msg *m, void *arg), void *arg,
	       const atomic_bool *stop);

#endif
