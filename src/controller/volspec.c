/* volspec: the one parser of the "volumes" attach specs in POST
 * /v1/instances (untrusted JSON from the control plane) into validated
 * struct vol_spec; no I/O, so the request fuzzer covers it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "errmsg.h"
#include "blkctl.h"
#include "controller/routes.h"
#include "controller/volumes.h"

_Static_assert(VOL_ID_MAX <= ROUTE_PARAM_MAX && VOL_ID_MAX < BLKCTL_ID_LEN,
	       "a volume id must fit a path segment and a ward-blk id");

/* Standard base64 with padding; 0 or -EINVAL (bad input, over cap). */
static int b64_decode(const char *in, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t n = strlen(in), pad = 0;
	uint8_t tmp[(VOL_BLOB_MAX + 2) / 3 * 3 + 3];
	int got;

	if (n == 0 || n % 4 || n / 4 * 3 > sizeof(tmp))
		return -EINVAL;
	pad = (in[n - 1] == '=') + (in[n - 2] == '=');
	got = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)n);
	if (got < 0 || (size_t)got < pad || (size_t)got - pad > cap)
		return -EINVAL;
	*out_len = (size_t)got - pad;
	memcpy(out, tmp, *out_len);
	return 0;
}

static int get_str(json_t *v, const char *key, char *out, size_t cap, char *err, size_t errlen)
{
	const char *s = json_string_value(v);

	if (!s || !s[0] || strlen(s) >= cap)
		return errmsg(err, errlen, -EINVAL, "volume \"%s\" must be a string of 1-%zu bytes", key,
			   cap - 1);
	for (const char *p = s; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			return errmsg(err, errlen, -EINVAL, "volume \"%s\" must be printable ASCII", key);
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int parse_one(json_t *o, struct vol_spec *s, char *err, size_t errlen)
{
	const char *key, *ev;
	json_t *v, *ec = NULL;
	const char *b64 = NULL;
	json_int_t sz;
	int rc = 0;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(o))
		return errmsg(err, errlen, -EINVAL, "each entry of \"volumes\" must be an object");
	json_object_foreach(o, key, v) {
		if (!strcmp(key, "volume_id")) {
			rc = get_str(v, key, s->volume_id, sizeof(s->volume_id), err, errlen);
			/* Detach names the volume in the URL: accept only ids
			 * the route matcher (and ward-blk) accept too. */
			if (!rc && !route_id_valid(s->volume_id, VOL_ID_MAX))
				rc = errmsg(err, errlen, -EINVAL, "\"volume_id\" must be 1-%d of [A-Za-z0-9_-]",
					    VOL_ID_MAX);
		} else if (!strcmp(key, "backing")) {
			rc = get_str(v, key, s->backing, sizeof(s->backing), err, errlen);
		} else if (!strcmp(key, "size")) {
			sz = json_is_integer(v) ? json_integer_value(v) : -1;
			if (sz < 4096 || sz % 4096 || (uint64_t)sz > (1ull << 50))
				rc = errmsg(err, errlen, -EINVAL, "volume \"size\" must be a multiple of 4096 "
					 "between 4096 and 2^50");
			s->size = (uint64_t)sz;
		} else if (!strcmp(key, "read_only")) {
			if (!json_is_boolean(v))
				rc = errmsg(err, errlen, -EINVAL, "volume \"read_only\" must be a boolean");
			s->read_only = json_is_true(v);
		} else if (!strcmp(key, "key_id")) {
			rc = get_str(v, key, s->key_id, sizeof(s->key_id), err, errlen);
		} else if (!strcmp(key, "encrypted_key")) {
			if (!(b64 = json_string_value(v)))
				rc = errmsg(err, errlen, -EINVAL, "volume \"encrypted_key\" must be base64");
		} else if (!strcmp(key, "encryption_context")) {
			ec = v;
		} else if (!strcmp(key, "grant_token")) {
			rc = get_str(v, key, s->grant_token, sizeof(s->grant_token), err, errlen);
		} else if (!strcmp(key, "fas_token")) {
			rc = get_str(v, key, s->fas_token, sizeof(s->fas_token), err, errlen);
		} else {
			rc = errmsg(err, errlen, -EINVAL, "unknown volume field \"%.32s\"", key);
		}
		if (rc)
			return rc;
	}
	if (!s->volume_id[0] || !s->backing[0] || !s->size || !s->key_id[0] || !b64 || !ec ||
	    !s->grant_token[0] || !s->fas_token[0])
		return errmsg(err, errlen, -EINVAL, "a volume needs volume_id, backing, size, key_id, "
			   "encrypted_key, encryption_context, grant_token and fas_token");
	if (b64_decode(b64, s->encrypted_key, sizeof(s->encrypted_key), &s->encrypted_key_len))
		return errmsg(err, errlen, -EINVAL, "volume \"encrypted_key\" is not base64 of at most %d bytes",
			   VOL_BLOB_MAX);
	/* The context binds the data key to this volume: a spec may not name
	 * one volume and carry another's key. */
	ev = json_string_value(json_object_get(ec, "ward:volume"));
	if (!json_is_object(ec) || json_object_size(ec) != 1 || !ev || strcmp(ev, s->volume_id))
		return errmsg(err, errlen, -EINVAL, "\"encryption_context\" must be exactly "
			   "{\"ward:volume\": \"%s\"}", s->volume_id);
	return 0;
}

int vol_spec_parse(json_t *arr, struct vol_spec *out, unsigned *n, char *err, size_t errlen)
{
	size_t i, j;
	json_t *v;
	int rc;

	if (!json_is_array(arr) || json_array_size(arr) < 1 || json_array_size(arr) > VOL_MAX)
		return errmsg(err, errlen, -EINVAL, "\"volumes\" must be an array of 1-%d volumes", VOL_MAX);
	json_array_foreach(arr, i, v) {
		if ((rc = parse_one(v, &out[i], err, errlen)))
			return rc;
		for (j = 0; j < i; j++)
			if (!strcmp(out[j].volume_id, out[i].volume_id))
				return errmsg(err, errlen, -EINVAL, "volume %s is listed twice", out[i].volume_id);
	}
	*n = (unsigned)json_array_size(arr);
	return 0;
}

