/* sigv4: AWS Signature Version 4, header form, as described in the IAM
 * "create a signed request" documentation. The verifier (ward-kms) rebuilds
 * the canonical request from what it received; the signer builds the same. */
#include "sigv4.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

/* A growable string; on allocation failure it stays failed and the caller
 * sees -ENOMEM at the end. */
struct sb {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_putn(struct sb *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_puts(struct sb *b, const char *s) { sb_putn(b, s, strlen(s)); }
static void sb_putc(struct sb *b, char c) { sb_putn(b, &c, 1); }

static int sb_finish(struct sb *b, char **out)
{
	if (b->oom || !b->p) {
		free(b->p);
		return -ENOMEM;
	}
	*out = b->p;
	return 0;
}

static void to_hex(const uint8_t *in, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[in[i] >> 4];
		hex[2 * i + 1] = digits[in[i] & 15];
	}
	hex[2 * n] = '\0';
}

void sigv4_sha256_hex(const void *data, size_t len, char hex[65])
{
	uint8_t md[SHA256_DIGEST_LENGTH];

	SHA256(data, len, md);
	to_hex(md, sizeof(md), hex);
}

static int hmac256(const void *key, size_t klen, const void *msg, size_t mlen,
		   uint8_t out[32])
{
	unsigned int olen = 32;

	if (!HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &olen))
		return -EIO;
	return 0;
}

static int cmp_header(const void *a, const void *b)
{
	const struct sigv4_header *x = a, *y = b;

	return strcasecmp(x->name, y->name);
}

/* Header values: leading/trailing spaces trimmed, inner runs collapsed
 * (aws-c-auth "get-header-value-trim"). */
static void put_header_value(struct sb *b, const char *v)
{
	bool space = false;

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			space = true;
			continue;
		}
		if (space)
			sb_putc(b, ' ');
		space = false;
		sb_putc(b, *v);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Query parameters sorted by name then value; they are taken as already
 * URI-encoded by the client (KMS requests carry no query at all). */
static int put_query(struct sb *b, const char *query)
{
	char *copy, *save = NULL, *tok;
	char *parts[64];
	size_t n = 0;

	if (!query || !*query)
		return 0;
	copy = strdup(query);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, "&", &save); tok; tok = strtok_r(NULL, "&", &save)) {
		if (n == 64) {
			free(copy);
			return -EINVAL;
		}
		parts[n++] = tok;
	}
	qsort(parts, n, sizeof(parts[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_putc(b, '&');
		sb_puts(b, parts[i]);
		if (!strchr(parts[i], '='))
			sb_putc(b, '=');
	}
	free(copy);
	return 0;
}

int sigv4_canonical_request(const struct sigv4_request *req, char **out)
{
	struct sigv4_header sorted[SIGV4_MAX_SIGNED_HEADERS];
	struct sb b = { 0 };
	int rc;

	if (!req->method || !req->path || req->path[0] != '/' ||
	    req->n_headers == 0 || req->n_headers > SIGV4_MAX_SIGNED_HEADERS ||
	    !req->payload_hash || strlen(req->payload_hash) != 64)
		return -EINVAL;
	memcpy(sorted, req->headers, req->n_headers * sizeof(sorted[0]));
	qsort(sorted, req->n_headers, sizeof(sorted[0]), cmp_header);

	sb_puts(&b, req->method);
	sb_putc(&b, '\n');
	sb_puts(&b, req->path);
	sb_putc(&b, '\n');
	rc = put_query(&b, req->query);
	if (rc) {
		free(b.p);
		return rc;
	}
	sb_putc(&b, '\n');
	for (size_t i = 0; i < req->n_headers; i++) {
		for (const char *c = sorted[i].name; *c; c++)
			sb_putc(&b, (char)tolower((unsigned char)*c));
		sb_putc(&b, ':');
		put_header_value(&b, sorted[i].value ? sorted[i].value : "");
		sb_putc(&b, '\n');
	}
	sb_putc(&b, '\n');
	for (size_t i = 0; i < req->n_headers; i++) {
		if (i)
			sb_putc(&b, ';');
		for (const char *c = sorted[i].name; *c; c++)
			sb_putc(&b, (char)tolower((unsigned char)*c));
	}
	sb_putc(&b, '\n');
	sb_puts(&b, req->payload_hash);
	return sb_finish(&b, out);
}

int sigv4_string_to_sign(const char *amz_date, const char *region,
			 const char *service, const char *creq, char **out)
{
	char hex[65];
	struct sb b = { 0 };

	if (strlen(amz_date) != 16)
		return -EINVAL;
	sigv4_sha256_hex(creq, strlen(creq), hex);
	sb_puts(&b, SIGV4_ALGORITHM "\n");
	sb_puts(&b, amz_date);
	sb_putc(&b, '\n');
	sb_putn(&b, amz_date, 8);
	sb_putc(&b, '/');
	sb_puts(&b, region);
	sb_putc(&b, '/');
	sb_puts(&b, service);
	sb_puts(&b, "/aws4_request\n");
	sb_puts(&b, hex);
	return sb_finish(&b, out);
}

int sigv4_signing_key(const char *secret, const char *date8, const char *region,
		      const char *service, uint8_t key[32])
{
	size_t slen = strlen(secret);
	uint8_t k[32];
	char *ks;
	int rc = -ENOMEM;

	ks = malloc(slen + 5);
	if (!ks)
		return -ENOMEM;
	memcpy(ks, "AWS4", 4);
	memcpy(ks + 4, secret, slen + 1);
	if (hmac256(ks, slen + 4, date8, strlen(date8), k) ||
	    hmac256(k, 32, region, strlen(region), k) ||
	    hmac256(k, 32, service, strlen(service), k) ||
	    hmac256(k, 32, "aws4_request", 12, key))
		rc = -EIO;
	else
		rc = 0;
	OPENSSL_cleanse(ks, slen + 4);
	OPENSSL_cleanse(k, sizeof(k));
	free(ks);
	return rc;
}

void sigv4_signature(const uint8_t key[32], const char *sts, char hex[65])
{
	uint8_t mac[32];

	if (hmac256(key, 32, sts, strlen(sts), mac)) {
		memset(hex, '0', 64);	/* never matches a real signature */
		hex[64] = '\0';
		return;
	}
	to_hex(mac, 32, hex);
}

/* The Authorization parser works on indices into the one header string,
 * each checked against the string's length where it is used (never a
 * pointer plus a length handed on separately): every access is then
 * within the string for a reader that does not track relations between
 * variables, which is how Frama-C's Eva shows it (docs/proofs.md). */

/* Index of the first c in s[i, to), or to. */
static size_t find_char(const char *s, size_t i, size_t to, char c)
{
	for (; i < to; i++)
		if (s[i] == c)
			return i;
	return to;
}

/* Copies s[from, to) into dst (size cap) if it is non-empty and fits. */
static int copy_range(char *dst, size_t cap, const char *s, size_t from, size_t to)
{
	size_t j = 0;

	if (from >= to)
		return -EINVAL;
	/* Terminated as it goes, so the bound on j is checked at each write. */
	for (size_t k = from; k < to; k++, j++) {
		if (j >= cap - 1)	/* cap > 0: every caller's is an array */
			return -EINVAL;
		dst[j] = s[k];
		dst[j + 1] = '\0';
	}
	return 0;
}

/* True when s[from, to) is exactly lit. */
static bool range_is(const char *s, size_t from, size_t to, const char *lit)
{
	size_t k = from;

	for (; *lit; lit++, k++)
		if (k >= to || s[k] != *lit)
			return false;
	return k == to;
}

/* Credential=AKID/YYYYMMDD/region/service/aws4_request in s[from, to). */
static int parse_credential(const char *s, size_t from, size_t to, struct sigv4_auth *a)
{
	size_t k = from, slash;

	slash = find_char(s, k, to, '/');
	if (slash == to || copy_range(a->access_key_id, sizeof(a->access_key_id), s, k, slash))
		return -EINVAL;
	k = slash + 1;
	slash = find_char(s, k, to, '/');
	if (slash == to || copy_range(a->date, sizeof(a->date), s, k, slash))
		return -EINVAL;
	k = slash + 1;
	slash = find_char(s, k, to, '/');
	if (slash == to || copy_range(a->region, sizeof(a->region), s, k, slash))
		return -EINVAL;
	k = slash + 1;
	slash = find_char(s, k, to, '/');
	if (slash == to || copy_range(a->service, sizeof(a->service), s, k, slash))
		return -EINVAL;
	if (!range_is(s, slash + 1, to, "aws4_request"))
		return -EINVAL;
	if (strlen(a->date) != 8)
		return -EINVAL;
	for (int i = 0; i < 8; i++)
		if (!isdigit((unsigned char)a->date[i]))
			return -EINVAL;
	return 0;
}

/* True when sh[a0, a1) sorts strictly before sh[b0, b1) (strcmp order). */
static bool name_before(const char *sh, size_t a0, size_t a1, size_t b0, size_t b1)
{
	for (; a0 < a1 && b0 < b1; a0++, b0++)
		if (sh[a0] != sh[b0])
			return (unsigned char)sh[a0] < (unsigned char)sh[b0];
	return a0 == a1 && b0 < b1;
}

/* SignedHeaders=a;b;c in s[from, to): lowercase names, sorted, unique, no
 * empty name. The names are split in place in a->signed_headers. */
static int parse_signed_headers(const char *s, size_t from, size_t to, struct sigv4_auth *a)
{
	char *sh = a->signed_headers;
	size_t n, i, start, prev = 0, prev_end = 0;

	if (copy_range(sh, sizeof(a->signed_headers), s, from, to))
		return -EINVAL;
	n = strlen(sh);
	a->n_headers = 0;
	for (i = 0; i <= n; i++) {
		start = i;
		i = find_char(sh, i, n, ';');
		if (i == start)		/* leading, trailing or doubled ';' */
			return -EINVAL;
		for (size_t c = start; c < i; c++)
			if (!(islower((unsigned char)sh[c]) || isdigit((unsigned char)sh[c]) ||
			      sh[c] == '-' || sh[c] == '_' || sh[c] == '.'))
				return -EINVAL;
		if (a->n_headers >= SIGV4_MAX_SIGNED_HEADERS)
			return -EINVAL;
		/* Sorted and unique, as every conforming signer sends them. */
		if (a->n_headers && !name_before(sh, prev, prev_end, start, i))
			return -EINVAL;
		sh[i] = '\0';
		a->header_names[a->n_headers++] = sh + start;
		prev = start;
		prev_end = i;
	}
	return 0;
}

int sigv4_parse_authorization(const char *value, struct sigv4_auth *out)
{
	bool have_cred = false, have_sh = false, have_sig = false;
	size_t alen = strlen(SIGV4_ALGORITHM), len, i;

	memset(out, 0, sizeof(*out));
	if (!value)
		return -EINVAL;
	len = strlen(value);
	if (len <= alen || memcmp(value, SIGV4_ALGORITHM, alen) != 0 || value[alen] != ' ')
		return -EINVAL;
	i = alen;
	while (i < len) {
		size_t eq, end, vend;

		while (i < len && value[i] == ' ')
			i++;
		eq = find_char(value, i, len, '=');
		if (eq == len)
			return -EINVAL;
		end = find_char(value, eq + 1, len, ',');
		vend = end;
		while (vend > eq + 1 && value[vend - 1] == ' ')
			vend--;
		if (range_is(value, i, eq, "Credential") && !have_cred) {
			if (parse_credential(value, eq + 1, vend, out))
				return -EINVAL;
			have_cred = true;
		} else if (range_is(value, i, eq, "SignedHeaders") && !have_sh) {
			if (parse_signed_headers(value, eq + 1, vend, out))
				return -EINVAL;
			have_sh = true;
		} else if (range_is(value, i, eq, "Signature") && !have_sig) {
			if (vend - (eq + 1) != 64 ||
			    copy_range(out->signature, sizeof(out->signature), value, eq + 1, vend))
				return -EINVAL;
			for (int k = 0; k < 64; k++)
				if (!isxdigit((unsigned char)out->signature[k]) ||
				    isupper((unsigned char)out->signature[k]))
					return -EINVAL;
			have_sig = true;
		} else {
			return -EINVAL;
		}
		i = end < len ? end + 1 : end;
	}
	return have_cred && have_sh && have_sig ? 0 : -EINVAL;
}

int sigv4_parse_amz_date(const char *s, time_t *out)
{
	struct tm tm = { 0 };
	int v[6];
	static const int off[6] = { 0, 4, 6, 9, 11, 13 };
	static const int len[6] = { 4, 2, 2, 2, 2, 2 };

	if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		v[i] = 0;
		for (int j = 0; j < len[i]; j++) {
			char c = s[off[i] + j];

			if (c < '0' || c > '9')
				return -EINVAL;
			v[i] = v[i] * 10 + (c - '0');
		}
	}
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 ||
	    v[4] > 59 || v[5] > 60 || v[0] < 1970)
		return -EINVAL;
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	*out = timegm(&tm);
	return 0;
}

void sigv4_format_amz_date(time_t t, char out[17])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

int sigv4_authorization(const struct sigv4_request *req, const char *amz_date,
			const char *access_key_id, const char *secret,
			const char *region, const char *service, char **out)
{
	struct sigv4_header sorted[SIGV4_MAX_SIGNED_HEADERS];
	char *creq = NULL, *sts = NULL, sig[65], date8[9];
	uint8_t key[32];
	struct sb b = { 0 };
	int rc;

	if (req->n_headers == 0 || req->n_headers > SIGV4_MAX_SIGNED_HEADERS ||
	    strlen(amz_date) != 16)
		return -EINVAL;
	rc = sigv4_canonical_request(req, &creq);
	if (rc)
		return rc;
	rc = sigv4_string_to_sign(amz_date, region, service, creq, &sts);
	if (rc)
		goto out_creq;
	memcpy(date8, amz_date, 8);
	date8[8] = '\0';
	rc = sigv4_signing_key(secret, date8, region, service, key);
	if (rc)
		goto out_sts;
	sigv4_signature(key, sts, sig);
	OPENSSL_cleanse(key, sizeof(key));

	memcpy(sorted, req->headers, req->n_headers * sizeof(sorted[0]));
	qsort(sorted, req->n_headers, sizeof(sorted[0]), cmp_header);
	sb_puts(&b, SIGV4_ALGORITHM " Credential=");
	sb_puts(&b, access_key_id);
	sb_putc(&b, '/');
	sb_puts(&b, date8);
	sb_putc(&b, '/');
	sb_puts(&b, region);
	sb_putc(&b, '/');
	sb_puts(&b, service);
	sb_puts(&b, "/aws4_request, SignedHeaders=");
	for (size_t i = 0; i < req->n_headers; i++) {
		if (i)
			sb_putc(&b, ';');
		for (const char *c = sorted[i].name; *c; c++)
			sb_putc(&b, (char)tolower((unsigned char)*c));
	}
	sb_puts(&b, ", Signature=");
	sb_puts(&b, sig);
	rc = sb_finish(&b, out);
out_sts:
	free(sts);
out_creq:
	free(creq);
	return rc;
}
