/* hostmsg: parsing a controller's attestation replies (JSON with base64
 * members) for ward-api's host registry (hosts.c). Every byte comes from
 * the host being judged. */
#include "hostmsg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int hostmsg_b64_decode(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = 0;

	*len = 0;
	if (slen % 4)
		return -EINVAL;
	for (size_t i = 0; i < slen; i += 4) {
		int v[4];
		size_t pad = 0;

		for (int j = 0; j < 4; j++) {
			if (s[i + j] == '=' && i + 4 == slen && j >= 2 &&
			    (j == 3 || s[i + 3] == '=')) {
				v[j] = 0;
				pad++;
				continue;
			}
			v[j] = b64val(s[i + j]);
			if (v[j] < 0 || pad)
				return -EINVAL;
		}
		/* Canonical: the bits below the padding are zero. */
		if ((pad == 2 && (v[1] & 0xf)) || (pad == 1 && (v[2] & 0x3)))
			return -EINVAL;
		if (n + 3 - pad > cap)
			return -EINVAL;
		out[n++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[n++] = (uint8_t)(v[1] << 4 | v[2] >> 2);
		if (pad < 1)
			out[n++] = (uint8_t)(v[2] << 6 | v[3]);
	}
	*len = n;
	return 0;
}

char *hostmsg_b64_encode(const uint8_t *in, size_t len)
{
	char *s;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NULL;
	s = malloc((len + 2) / 3 * 4 + 1);
	if (s)
		EVP_EncodeBlock((unsigned char *)s, in, (int)len);
	return s;
}

static int fail(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "controller reply: %s", what);
	return -EBADMSG;
}

/* An object with exactly these members; types checked by the callers. */
static json_t *load(const char *body, size_t len, const char *const *names, size_t n,
		    char *err, size_t errlen)
{
	json_t *o, *v;
	const char *k;

	if (!body || len > HOSTMSG_MAX) {
		fail(err, errlen, "missing or too large");
		return NULL;
	}
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		fail(err, errlen, "not a JSON object");
		return NULL;
	}
	json_object_foreach(o, k, v) {
		size_t i;

		for (i = 0; i < n && strcmp(k, names[i]); i++)
			;
		if (i == n) {
			json_decref(o);
			fail(err, errlen, "unknown member");
			return NULL;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!json_object_get(o, names[i])) {
			json_decref(o);
			fail(err, errlen, "a member is missing");
			return NULL;
		}
	return o;
}

static int b64_member(json_t *o, const char *name, uint8_t *out, size_t cap, size_t *len)
{
	json_t *v = json_object_get(o, name);

	if (!json_is_string(v))
		return -EINVAL;
	return hostmsg_b64_decode(json_string_value(v), json_string_length(v), out, cap, len);
}

int hostmsg_keys(const char *body, size_t len, struct hostmsg_keys *out, char *err,
		 size_t errlen)
{
	static const char *const names[] = { "ek_public", "ak_public", "event_log" };
	json_t *o = load(body, len, names, 3, err, errlen);
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!o)
		return -EBADMSG;
	if (b64_member(o, "ek_public", out->ek, sizeof(out->ek), &out->ek_len) ||
	    b64_member(o, "ak_public", out->ak, sizeof(out->ak), &out->ak_len) ||
	    !json_is_boolean(json_object_get(o, "event_log")))
		rc = fail(err, errlen, "keys are not base64 public areas");
	json_decref(o);
	return rc;
}

int hostmsg_secret(const char *body, size_t len, uint8_t out[64], size_t *out_len, char *err,
		   size_t errlen)
{
	static const char *const names[] = { "secret" };
	json_t *o = load(body, len, names, 1, err, errlen);
	int rc = 0;

	*out_len = 0;
	if (!o)
		return -EBADMSG;
	if (b64_member(o, "secret", out, 64, out_len))
		rc = fail(err, errlen, "the secret is not base64 of at most 64 bytes");
	json_decref(o);
	return rc;
}

int hostmsg_quote(const char *body, size_t len, struct hostmsg_quote *out, char *err,
		  size_t errlen)
{
	static const char *const names[] = { "quote", "signature", "pcr_select", "pcrs",
					     "event_log" };
	json_t *o = load(body, len, names, 5, err, errlen), *log;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!o)
		return -EBADMSG;
	log = json_object_get(o, "event_log");
	if (b64_member(o, "quote", out->attest, sizeof(out->attest), &out->attest_len) ||
	    b64_member(o, "signature", out->sig, sizeof(out->sig), &out->sig_len) ||
	    !json_is_string(json_object_get(o, "pcr_select")) ||
	    !json_is_object(json_object_get(o, "pcrs")) || !json_is_string(log)) {
		rc = fail(err, errlen, "quote, signature or event log malformed");
		goto out;
	}
	out->log = malloc(json_string_length(log) / 4 * 3 + 1);
	if (!out->log) {
		rc = -ENOMEM;
		goto out;
	}
	if (hostmsg_b64_decode(json_string_value(log), json_string_length(log), out->log,
			       json_string_length(log) / 4 * 3 + 1, &out->log_len))
		rc = fail(err, errlen, "event log is not base64");
out:
	json_decref(o);
	if (rc)
		hostmsg_quote_free(out);
	return rc;
}

void hostmsg_quote_free(struct hostmsg_quote *q)
{
	free(q->log);
	q->log = NULL;
	q->log_len = 0;
}
