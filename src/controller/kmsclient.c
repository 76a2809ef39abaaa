/* kmsclient: ward-kms calls over libcurl — mTLS for hosts, SigV4 (src/lib/
 * sigv4.c) for control-plane and user principals. Errors are KMS's own
 * {"__type","message"} passed through, so a refusal names its reason. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "controller/kmsclient.h"
#include "sigv4.h"

#define KMSC_MAX_ANSWER (256 * 1024)

struct kmsc {
	CURL *h;
	char *url, *ca, *cert, *key, *akid, *secret;
	char region[64];
	char host[256];		/* Host header, as signed */
};

struct abuf {
	char *p;
	size_t n;
};

static size_t on_data(char *d, size_t sz, size_t n, void *arg)
{
	struct abuf *b = arg;
	size_t add = sz * n;
	char *np;

	if (b->n + add > KMSC_MAX_ANSWER || !(np = realloc(b->p, b->n + add + 1)))
		return 0;
	memcpy(np + b->n, d, add);
	b->p = np;
	b->n += add;
	b->p[b->n] = 0;
	return add;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void kmsc_free(struct kmsc *k)
{
	if (!k)
		return;
	if (k->h)
		curl_easy_cleanup(k->h);
	free(k->url);
	free(k->ca);
	free(k->cert);
	free(k->key);
	free(k->akid);
	if (k->secret) {
		OPENSSL_cleanse(k->secret, strlen(k->secret));
		free(k->secret);
	}
	free(k);
}

int kmsc_new(const struct kmsc_cfg *cfg, struct kmsc **out)
{
	struct kmsc *k;
	const char *hs;

	if (!cfg->url || strncmp(cfg->url, "https://", 8))
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->url = strdup(cfg->url);
	k->ca = dup_or_null(cfg->ca);
	k->cert = dup_or_null(cfg->cert);
	k->key = dup_or_null(cfg->key);
	k->akid = dup_or_null(cfg->akid);
	k->secret = dup_or_null(cfg->secret);
	snprintf(k->region, sizeof(k->region), "%s", cfg->region ? cfg->region : "us-east-1");
	hs = cfg->url + 8;
	snprintf(k->host, sizeof(k->host), "%.*s", (int)strcspn(hs, "/"), hs);
	k->h = curl_easy_init();
	if (!k->url || !k->h || (cfg->ca && !k->ca) || (cfg->cert && !k->cert) ||
	    (cfg->key && !k->key) || (cfg->akid && !k->akid) || (cfg->secret && !k->secret)) {
		kmsc_free(k);
		return -ENOMEM;
	}
	*out = k;
	return 0;
}

int kmsc_set_signer(struct kmsc *k, const char *akid, const char *secret)
{
	char *a = strdup(akid), *s = strdup(secret);

	if (!a || !s) {
		free(a);
		free(s);
		return -ENOMEM;
	}
	free(k->akid);
	if (k->secret) {
		OPENSSL_cleanse(k->secret, strlen(k->secret));
		free(k->secret);
	}
	k->akid = a;
	k->secret = s;
	return 0;
}

/* Authorization header for this body; -errno on failure. */
static int sign(struct kmsc *k, const char *amz, const char *target, const char *body,
		struct curl_slist **h)
{
	struct sigv4_header sh[] = {
		{ "content-type", "application/x-amz-json-1.1" },
		{ "host", k->host }, { "x-amz-date", amz }, { "x-amz-target", target },
	};
	char hash[65], hdr[2048], *auth = NULL;
	struct sigv4_request req = { "POST", "/", NULL, sh, 4, hash };
	struct curl_slist *n;

	sigv4_sha256_hex(body, strlen(body), hash);
	if (sigv4_authorization(&req, amz, k->akid, k->secret, k->region, "kms", &auth))
		return -EINVAL;
	snprintf(hdr, sizeof(hdr), "Authorization: %s", auth);
	free(auth);
	if (!(n = curl_slist_append(*h, hdr)))
		return -ENOMEM;
	*h = n;
	return 0;
}

static int kms_error(const char *op, long status, const struct abuf *ans, char *etype,
		     size_t etlen, char *err, size_t errlen)
{
	json_t *o = ans->p ? json_loads(ans->p, 0, NULL) : NULL;
	const char *t = json_string_value(json_object_get(o, "__type"));
	const char *m = json_string_value(json_object_get(o, "message"));
	int rc;

	if (!t) {
		snprintf(etype, etlen, "%s", "");
		snprintf(err, errlen, "KMS %s: HTTP %ld without a KMS error", op, status);
		json_decref(o);
		return -EIO;
	}
	/* Only the type after a '#' (AWS sometimes prefixes a namespace). */
	if (strchr(t, '#'))
		t = strrchr(t, '#') + 1;
	snprintf(etype, etlen, "%.63s", t);
	snprintf(err, errlen, "KMS %s refused: %.63s: %.300s", op, t, m ? m : "");
	rc = !strcmp(t, "AccessDeniedException") ? -EACCES : -EPERM;
	json_decref(o);
	return rc;
}

int kmsc_call(struct kmsc *k, const char *op, json_t *body, json_t **resp, char *etype,
	      size_t etlen, char *err, size_t errlen)
{
	char amz[17], target[96], hdr[160], cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = NULL;
	struct abuf ans = { 0 };
	char *txt;
	long status = 0;
	CURLcode cc;
	int rc = -EIO;

	*resp = NULL;
	etype[0] = 0;
	if (!(txt = json_dumps(body, JSON_COMPACT))) {
		snprintf(err, errlen, "KMS %s: cannot encode the request", op);
		return -ENOMEM;
	}
	sigv4_format_amz_date(time(NULL), amz);
	snprintf(target, sizeof(target), "TrentService.%s", op);
	h = curl_slist_append(h, "Content-Type: application/x-amz-json-1.1");
	snprintf(hdr, sizeof(hdr), "X-Amz-Date: %s", amz);
	h = curl_slist_append(h, hdr);
	snprintf(hdr, sizeof(hdr), "X-Amz-Target: %s", target);
	h = curl_slist_append(h, hdr);
	h = curl_slist_append(h, "Expect:");
	if (!h || (k->akid && k->secret && sign(k, amz, target, txt, &h))) {
		snprintf(err, errlen, "KMS %s: cannot build the request", op);
		goto out;
	}
	curl_easy_reset(k->h);
	curl_easy_setopt(k->h, CURLOPT_URL, k->url);
	curl_easy_setopt(k->h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(k->h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(k->h, CURLOPT_POSTFIELDS, txt);
	curl_easy_setopt(k->h, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(k->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(k->h, CURLOPT_WRITEDATA, &ans);
	curl_easy_setopt(k->h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(k->h, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(k->h, CURLOPT_NOSIGNAL, 1L);
	if (k->ca)
		curl_easy_setopt(k->h, CURLOPT_CAINFO, k->ca);
	if (k->cert && k->key) {
		curl_easy_setopt(k->h, CURLOPT_SSLCERT, k->cert);
		curl_easy_setopt(k->h, CURLOPT_SSLKEY, k->key);
	}
	cc = curl_easy_perform(k->h);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "KMS %s: cannot reach %s: %s", op, k->url,
			 cerr[0] ? cerr : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(k->h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		rc = kms_error(op, status, &ans, etype, etlen, err, errlen);
		goto out;
	}
	*resp = ans.p ? json_loads(ans.p, JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (!json_is_object(*resp)) {
		json_decref(*resp);
		*resp = NULL;
		snprintf(err, errlen, "KMS %s: the answer is not a JSON object", op);
		goto out;
	}
	rc = 0;
out:
	curl_slist_free_all(h);
	free(txt);
	free(ans.p);
	return rc;
}

int kmsc_b64_decode(const char *in, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t n = strlen(in), pad = 0;
	uint8_t *tmp;
	int got;

	if (n == 0 || n % 4 || n / 4 * 3 > cap + 2)
		return -EINVAL;
	if (in[n - 1] == '=')
		pad++;
	if (in[n - 2] == '=')
		pad++;
	if (!(tmp = malloc(n / 4 * 3)))
		return -ENOMEM;
	got = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)n);
	if (got < 0 || (size_t)got < pad || (size_t)got - pad > cap) {
		free(tmp);
		return -EINVAL;
	}
	*out_len = (size_t)got - pad;
	memcpy(out, tmp, *out_len);
	free(tmp);
	return 0;
}

char *kmsc_b64_encode(const uint8_t *in, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}
