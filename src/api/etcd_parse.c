/* etcd_parse: the one place that reads etcd's JSON gateway replies — the
 * header revision, error bodies, base64 kvs, watch stream messages. etcd
 * is trusted to be etcd, but a broken proxy or a bad member must yield an
 * error, never a crash: fuzzed by fuzz-api-etcd_resp. */
#include "etcd.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

int64_t etcd_int(const json_t *obj, const char *name)
{
	const json_t *v = json_object_get(obj, name);
	const char *s;
	char *end;
	long long n;

	if (!v)
		return 0;
	if (json_is_integer(v))
		return json_integer_value(v) < 0 ? -1 : json_integer_value(v);
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || *end || n < 0)
		return -1;
	return n;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_b64(const void *p, size_t n)
{
	const unsigned char *b = p;
	char *o = malloc((n + 2) / 3 * 4 + 1), *q = o;

	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)b[i] << 16 | (i + 1 < n ? (unsigned)b[i + 1] << 8 : 0) |
			     (i + 2 < n ? b[i + 2] : 0);

		*q++ = B64[v >> 18 & 63];
		*q++ = B64[v >> 12 & 63];
		*q++ = i + 1 < n ? B64[v >> 6 & 63] : '=';
		*q++ = i + 2 < n ? B64[v & 63] : '=';
	}
	*q = '\0';
	return o;
}

static int b64_val(char c)
{
	const char *p = c ? strchr(B64, c) : NULL;

	return p ? (int)(p - B64) : -1;
}

int etcd_unb64(const char *s, char **out, size_t *n)
{
	size_t len = strlen(s), o = 0;
	char *buf;

	if (len % 4)
		return -EPROTO;
	if (!(buf = malloc(len / 4 * 3 + 1)))
		return -ENOMEM;
	for (size_t i = 0; i < len; i += 4) {
		int a = b64_val(s[i]), b = b64_val(s[i + 1]), c = b64_val(s[i + 2]),
		    d = b64_val(s[i + 3]);
		bool last = i + 4 == len;

		/* '=' only at the very end, as "x=" or "=="-style padding. */
		if (a < 0 || b < 0 || (c < 0 && !(last && s[i + 2] == '=' && s[i + 3] == '=')) ||
		    (d < 0 && !(last && s[i + 3] == '=')))
			goto err;
		buf[o++] = (char)(a << 2 | b >> 4);
		if (c >= 0)
			buf[o++] = (char)((b & 15) << 4 | c >> 2);
		if (d >= 0)
			buf[o++] = (char)((c & 3) << 6 | d);
	}
	buf[o] = '\0';
	*out = buf;
	*n = o;
	return 0;
err:
	free(buf);
	return -EPROTO;
}

void etcd_resp_free(struct etcd_resp *r)
{
	json_decref(r->root);
	r->root = NULL;
}

int etcd_resp_parse(const char *buf, size_t len, struct etcd_resp *r)
{
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL), *v, *h;
	const char *msg;
	bool is_error = false;
	size_t i = 0;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(j))
		goto err;
	/* Streams (watch, keepalive) wrap each message in "result", or an
	 * "error" object; plain calls carry an error as code + message. */
	if ((v = json_object_get(j, "error")) && json_is_object(v)) {
		json_incref(v);
		json_decref(j);
		j = v;
		is_error = true;
	} else if ((v = json_object_get(j, "result"))) {
		if (!json_is_object(v))
			goto err;
		json_incref(v);
		json_decref(j);
		j = v;
	}
	r->root = j;
	if (is_error || json_object_get(j, "code")) {
		/* A stream's error object names it grpc_code. */
		int64_t code = etcd_int(j, json_object_get(j, "code") ? "code" : "grpc_code");

		if (code == 0)
			code = 2;	/* gRPC Unknown */

		if (code <= 0 || code > 64)
			goto err;
		r->code = (int)code;
		msg = json_string_value(json_object_get(j, "message"));
		for (; msg && msg[i] && i + 1 < sizeof(r->message); i++)
			r->message[i] = msg[i] >= 0x20 && msg[i] < 0x7f ? msg[i] : '?';
		r->message[i] = '\0';
		return 0;
	}
	h = json_object_get(j, "header");
	if (h && !json_is_object(h))
		goto err;
	if ((r->revision = etcd_int(h, "revision")) < 0)
		goto err;
	return 0;
err:
	json_decref(j);
	memset(r, 0, sizeof(*r));
	return -EPROTO;
}

void etcd_kvs_free(struct etcd_kv *kvs, size_t n)
{
	for (size_t i = 0; kvs && i < n; i++) {
		free(kvs[i].key);
		free(kvs[i].value);
	}
	free(kvs);
}

static int kv_parse(const json_t *o, struct etcd_kv *kv)
{
	const char *k = json_string_value(json_object_get(o, "key"));
	const json_t *vj = json_object_get(o, "value");
	const char *v = vj ? json_string_value(vj) : "";

	if (!json_is_object(o) || !k || !v)
		return -EPROTO;
	kv->create_rev = etcd_int(o, "create_revision");
	kv->mod_rev = etcd_int(o, "mod_revision");
	kv->lease = etcd_int(o, "lease");
	if (kv->create_rev < 0 || kv->mod_rev < 0 || kv->lease < 0)
		return -EPROTO;
	if (etcd_unb64(k, &kv->key, &kv->klen))
		return -EPROTO;
	if (etcd_unb64(v, &kv->value, &kv->vlen))
		return -EPROTO;
	return 0;
}

int etcd_resp_kvs(const json_t *range, struct etcd_kv **kvs, size_t *n)
{
	const json_t *a = json_object_get(range, "kvs");
	size_t cnt = a ? json_array_size(a) : 0;
	struct etcd_kv *out;

	*kvs = NULL;
	*n = 0;
	if (!json_is_object(range) || (a && !json_is_array(a)))
		return -EPROTO;
	if (!cnt)
		return 0;
	if (!(out = calloc(cnt, sizeof(*out))))
		return -ENOMEM;
	for (size_t i = 0; i < cnt; i++) {
		if (kv_parse(json_array_get(a, i), &out[i])) {
			etcd_kvs_free(out, cnt);
			return -EPROTO;
		}
	}
	*kvs = out;
	*n = cnt;
	return 0;
}

int etcd_watch_parse(const struct etcd_resp *r, struct etcd_watch_msg *m)
{
	const json_t *evs = json_object_get(r->root, "events"), *e;
	size_t i;

	memset(m, 0, sizeof(*m));
	if (r->code || !json_is_object(r->root) || (evs && !json_is_array(evs)))
		return -EPROTO;
	m->created = json_is_true(json_object_get(r->root, "created"));
	m->canceled = json_is_true(json_object_get(r->root, "canceled"));
	m->revision = r->revision;
	if ((m->compact_revision = etcd_int(r->root, "compact_revision")) < 0)
		return -EPROTO;
	json_array_foreach(evs, i, e) {
		const char *t = json_string_value(json_object_get(e, "type"));
		int64_t mr = etcd_int(json_object_get(e, "kv"), "mod_revision");

		if (!json_is_object(e) || mr < 0 || (t && strcmp(t, "DELETE") && strcmp(t, "PUT")))
			return -EPROTO;
		/* PUT is the enum's zero value: the gateway omits it. */
		if (m->nev < 16) {
			m->ev[m->nev] = t && !strcmp(t, "DELETE") ? ETCD_EV_DELETE : ETCD_EV_PUT;
			m->ev_mod_rev[m->nev] = mr;
		}
		m->nev++;
	}
	if (m->nev > 16)
		m->nev = 16;
	return 0;
}
