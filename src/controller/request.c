/* request: strict JSON body parsing for the host API (jansson, then a
 * field-by-field walk that rejects anything not in the schema). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "errmsg.h"
#include "controller/request.h"

bool req_valid_name(const char *s, size_t max)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max || s[0] == '-' || s[0] == '.')
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_' || c == '.' || (c >= 'A' && c <= 'Z')))
			return false;
	}
	return true;
}

/* Parse to an object; empty body means {}. */
static json_t *load_object(const char *body, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *o;

	if (len > REQ_BODY_MAX) {
		errmsg(err, errlen, -EINVAL, "body is larger than %d bytes", REQ_BODY_MAX);
		return NULL;
	}
	if (len == 0)
		return json_object();
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o) {
		errmsg(err, errlen, -EINVAL, "malformed JSON at line %d column %d: %.80s", jerr.line,
		    jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		errmsg(err, errlen, -EINVAL, "body must be a JSON object");
		return NULL;
	}
	return o;
}

/* Field names are echoed only if they are short printable ASCII. */
static int unknown_field(const char *key, char *err, size_t errlen)
{
	size_t i, n = strlen(key);

	for (i = 0; i < n && i < 32; i++)
		if (key[i] < 0x20 || key[i] > 0x7e)
			return errmsg(err, errlen, -EINVAL, "unknown field");
	return errmsg(err, errlen, -EINVAL, "unknown field \"%.32s\"", key);
}

static int get_uint(json_t *v, const char *key, uint64_t lo, uint64_t hi, uint64_t *out,
		    char *err, size_t errlen)
{
	json_int_t x;

	if (!json_is_integer(v))
		return errmsg(err, errlen, -EINVAL, "\"%s\" must be an integer", key);
	x = json_integer_value(v);
	if (x < 0 || (uint64_t)x < lo || (uint64_t)x > hi)
		return errmsg(err, errlen, -EINVAL, "\"%s\" must be between %llu and %llu", key,
			   (unsigned long long)lo, (unsigned long long)hi);
	*out = (uint64_t)x;
	return 0;
}

static int get_name(json_t *v, const char *key, char *out, size_t max, char *err, size_t errlen)
{
	if (!json_is_string(v))
		return errmsg(err, errlen, -EINVAL, "\"%s\" must be a string", key);
	if (!req_valid_name(json_string_value(v), max))
		return errmsg(err, errlen, -EINVAL, "\"%s\" must be 1-%zu characters of [A-Za-z0-9._-]", key,
			   max);
	snprintf(out, max + 1, "%s", json_string_value(v));
	return 0;
}

/* The guest kernel's command line is the customer's: any printable ASCII,
 * passed to ward-hv as one argv element, never logged or audited. */
static int get_cmdline(json_t *v, char *out, char *err, size_t errlen)
{
	const char *s = json_string_value(v);
	size_t n = s ? json_string_length(v) : 0;

	if (!s || n > REQ_CMDLINE_MAX)
		return errmsg(err, errlen, -EINVAL, "\"cmdline\" must be a string of at most %d "
			      "characters", REQ_CMDLINE_MAX);
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return errmsg(err, errlen, -EINVAL, "\"cmdline\" must be printable ASCII");
	memcpy(out, s, n + 1);
	return 0;
}

/* "enis": 1..REQ_MAX_ENIS ids of the shape vpcstore gives (eni- and
 * lowercase hex); whether they exist is ward-net's and vpcstore's to say. */
static int get_enis(json_t *v, struct run_req *out, char *err, size_t errlen)
{
	json_t *e;
	size_t i;

	if (!json_is_array(v) || !json_array_size(v) || json_array_size(v) > REQ_MAX_ENIS)
		return errmsg(err, errlen, -EINVAL, "\"enis\" must be an array of 1 to %d ENI ids",
			      REQ_MAX_ENIS);
	json_array_foreach(v, i, e) {
		const char *s = json_string_value(e);
		size_t n = s ? strlen(s) : 0;

		if (!s || n < 5 || n > REQ_ENI_MAX || strncmp(s, "eni-", 4) ||
		    strspn(s + 4, "0123456789abcdef") != n - 4)
			return errmsg(err, errlen, -EINVAL, "\"enis\" must hold ENI ids (eni-…)");
		memcpy(out->enis[out->n_enis++], s, n + 1);
	}
	return 0;
}

int req_parse_run(const char *body, size_t len, struct run_req *out, char *err, size_t errlen)
{
	const char *key;
	json_t *o, *v;
	uint64_t x;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->memory_mib = 32;
	out->vcpus = 1;
	if (!(o = load_object(body, len, err, errlen)))
		return -EINVAL;
	json_object_foreach(o, key, v) {
		if (!strcmp(key, "image")) {
			rc = get_name(v, key, out->image, REQ_NAME_MAX, err, errlen);
		} else if (!strcmp(key, "memory_mib")) {
			if (!(rc = get_uint(v, key, 4, 65536, &x, err, errlen)))
				out->memory_mib = (uint32_t)x;
		} else if (!strcmp(key, "vcpus")) {
			if (!(rc = get_uint(v, key, 1, 64, &x, err, errlen)))
				out->vcpus = (uint32_t)x;
		} else if (!strcmp(key, "cpu")) {
			if (!json_is_string(v) || (strcmp(json_string_value(v), "fixed") &&
						   strcmp(json_string_value(v), "burstable")))
				rc = errmsg(err, errlen, -EINVAL, "\"cpu\" must be \"fixed\" or \"burstable\"");
			else
				out->cpu_fixed = !strcmp(json_string_value(v), "fixed");
		} else if (!strcmp(key, "hugepages")) {
			if (!json_is_string(v) || (strcmp(json_string_value(v), "2M") &&
						   strcmp(json_string_value(v), "1G")))
				rc = errmsg(err, errlen, -EINVAL, "\"hugepages\" must be \"2M\" or \"1G\"");
			else
				snprintf(out->hugepages, sizeof(out->hugepages), "%s",
					 json_string_value(v));
		} else if (!strcmp(key, "cmdline")) {
			rc = get_cmdline(v, out->cmdline, err, errlen);
		} else if (!strcmp(key, "volumes")) {
			rc = vol_spec_parse(v, out->volumes, &out->n_volumes, err, errlen);
		} else if (!strcmp(key, "client_token")) {
			rc = get_name(v, key, out->client_token, REQ_TOKEN_MAX, err, errlen);
		} else if (!strcmp(key, "enis")) {
			rc = get_enis(v, out, err, errlen);
		} else {
			rc = unknown_field(key, err, errlen);
		}
		if (rc)
			break;
	}
	if (!rc && !out->image[0])
		rc = errmsg(err, errlen, -EINVAL, "\"image\" is required");
	if (!rc && out->hugepages[0] && out->memory_mib % (out->hugepages[0] == '1' ? 1024 : 2))
		rc = errmsg(err, errlen, -EINVAL, "\"memory_mib\" %u is not a multiple of the %s "
			    "hugepage size", out->memory_mib, out->hugepages[0] == '1' ? "1 GiB" : "2 MiB");
	json_decref(o);
	return rc;
}

int req_parse_volume(const char *body, size_t len, struct volume_req *out, char *err,
		     size_t errlen)
{
	const char *key;
	json_t *o, *v;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!(o = load_object(body, len, err, errlen)))
		return -EINVAL;
	json_object_foreach(o, key, v) {
		if (!strcmp(key, "volume_id")) {
			rc = get_name(v, key, out->volume_id, 64, err, errlen);
		} else if (!strcmp(key, "size_bytes")) {
			rc = get_uint(v, key, 4096, 1ull << 50, &out->size_bytes, err, errlen);
			if (!rc && out->size_bytes % 4096)
				rc = errmsg(err, errlen, -EINVAL, "\"size_bytes\" must be a multiple of 4096");
		} else if (!strcmp(key, "read_only")) {
			if (!json_is_boolean(v))
				rc = errmsg(err, errlen, -EINVAL, "\"read_only\" must be a boolean");
			else
				out->read_only = json_is_true(v);
		} else if (!strcmp(key, "sealed_key")) {
			/* Shape fixed by the KMS work (HPKE enc + ciphertext). */
			if (!json_is_object(v))
				rc = errmsg(err, errlen, -EINVAL, "\"sealed_key\" must be an object");
			else
				out->has_sealed_key = true;
		} else {
			rc = unknown_field(key, err, errlen);
		}
		if (rc)
			break;
	}
	if (!rc && !out->volume_id[0])
		rc = errmsg(err, errlen, -EINVAL, "\"volume_id\" is required");
	if (!rc && !out->size_bytes)
		rc = errmsg(err, errlen, -EINVAL, "\"size_bytes\" is required");
	json_decref(o);
	return rc;
}

int req_parse_update(const char *body, size_t len, struct update_req *out, char *err,
		     size_t errlen)
{
	const char *key;
	json_t *o, *v;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!(o = load_object(body, len, err, errlen)))
		return -EINVAL;
	json_object_foreach(o, key, v) {
		if (!strcmp(key, "package"))
			rc = get_name(v, key, out->package, 64, err, errlen);
		else
			rc = unknown_field(key, err, errlen);
		if (rc)
			break;
	}
	if (!rc && !out->package[0])
		rc = errmsg(err, errlen, -EINVAL, "\"package\" is required");
	json_decref(o);
	return rc;
}

int req_parse_empty(const char *body, size_t len, char *err, size_t errlen)
{
	const char *key;
	json_t *o, *v;
	int rc = 0;

	if (!(o = load_object(body, len, err, errlen)))
		return -EINVAL;
	json_object_foreach(o, key, v) {
		rc = unknown_field(key, err, errlen);
		break;
	}
	json_decref(o);
	return rc;
}
