/* kms_call: a minimal signed KMS client for the integration tests — the
 * calls and faults the aws CLI cannot make (Recipient + HPKE open, mTLS host
 * identity, forward access sessions, forged signatures, stale timestamps).
 * Prints the response body; exit 0 on HTTP 200, 1 otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/pem.h>

#include "hpke.h"
#include "request.h"
#include "sigv4.h"

struct buf {
	char *p;
	size_t n;
};

static size_t on_data(char *d, size_t sz, size_t n, void *arg)
{
	struct buf *b = arg;
	char *np = realloc(b->p, b->n + sz * n + 1);

	if (!np)
		return 0;
	memcpy(np + b->n, d, sz * n);
	b->p = np;
	b->n += sz * n;
	b->p[b->n] = '\0';
	return sz * n;
}

static int open_recipient(const char *body, const char *field, const char *keyfile)
{
	json_t *o = json_loads(body, 0, NULL);
	const char *b64 = json_string_value(json_object_get(o, field));
	const char *arn = json_string_value(json_object_get(o, "KeyId"));
	uint8_t blob[8192], pt[8192], pk[65];
	size_t ptlen;
	long n;
	EVP_PKEY *key;
	FILE *f;

	if (!b64 || !arn || !(f = fopen(keyfile, "r"))) {
		json_decref(o);
		return 1;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	n = kms_b64_decode(b64, strlen(b64), blob, sizeof(blob));
	if (!key || n <= 0 || hpke_public_key(key, pk) ||
	    hpke_open_with_dh(blob, (size_t)n, pk, hpke_dh_pkey, key,
			      (const uint8_t *)"ward-kms recipient v1", 21,
			      (const uint8_t *)arn, strlen(arn),
			      pt, sizeof(pt), &ptlen)) {
		fprintf(stderr, "kms_call: cannot open %s\n", field);
		EVP_PKEY_free(key);
		json_decref(o);
		return 1;
	}
	for (size_t i = 0; i < ptlen; i++)
		printf("%02x", pt[i]);
	printf("\n");
	EVP_PKEY_free(key);
	json_decref(o);
	return 0;
}

int main(int argc, char **argv)
{
	const char *url = NULL, *ca = NULL, *akid = NULL, *secret = NULL, *date = NULL;
	const char *cert = NULL, *key = NULL, *open_field = NULL, *open_key = NULL;
	const char *region = "us-east-1";
	int bad_sig = 0, i;
	char amz[17], target[128], hosthdr[256], hash[65], *auth = NULL, hdr[2048];
	struct buf out = { 0 };
	struct curl_slist *h = NULL;
	long status = 0;
	CURL *c;

	for (i = 1; i < argc - 2; i++) {
		if (!strcmp(argv[i], "--url")) url = argv[++i];
		else if (!strcmp(argv[i], "--ca")) ca = argv[++i];
		else if (!strcmp(argv[i], "--akid")) akid = argv[++i];
		else if (!strcmp(argv[i], "--secret")) secret = argv[++i];
		else if (!strcmp(argv[i], "--date")) date = argv[++i];
		else if (!strcmp(argv[i], "--region")) region = argv[++i];
		else if (!strcmp(argv[i], "--cert")) cert = argv[++i];
		else if (!strcmp(argv[i], "--key")) key = argv[++i];
		else if (!strcmp(argv[i], "--bad-sig")) bad_sig = 1;
		else if (!strcmp(argv[i], "--open")) { open_field = argv[++i]; open_key = argv[++i]; }
		else break;
	}
	if (!url || argc - i != 2) {
		fprintf(stderr, "usage: kms_call --url U --ca CA [--akid A --secret S] [--date D] "
			"[--cert C --key K] [--bad-sig] [--open FIELD KEY.pem] OP JSON\n");
		return 2;
	}
	const char *op = argv[i], *body = argv[i + 1];

	if (date)
		snprintf(amz, sizeof(amz), "%s", date);
	else
		sigv4_format_amz_date(time(NULL), amz);
	snprintf(target, sizeof(target), "TrentService.%s", op);
	{
		const char *hs = strstr(url, "://");
		snprintf(hosthdr, sizeof(hosthdr), "%s", hs ? hs + 3 : url);
		hosthdr[strcspn(hosthdr, "/")] = '\0';
	}
	if (akid) {
		struct sigv4_header sh[] = {
			{ "content-type", "application/x-amz-json-1.1" },
			{ "host", hosthdr }, { "x-amz-date", amz }, { "x-amz-target", target },
		};
		struct sigv4_request req = { "POST", "/", NULL, sh, 4, hash };

		sigv4_sha256_hex(body, strlen(body), hash);
		if (sigv4_authorization(&req, amz, akid, secret, region, "kms", &auth))
			return 2;
		if (bad_sig) {
			char *s = strstr(auth, "Signature=") + 10;
			s[0] = s[0] == '0' ? '1' : '0';
		}
		snprintf(hdr, sizeof(hdr), "Authorization: %s", auth);
		h = curl_slist_append(h, hdr);
	}
	h = curl_slist_append(h, "Content-Type: application/x-amz-json-1.1");
	snprintf(hdr, sizeof(hdr), "X-Amz-Date: %s", amz);
	h = curl_slist_append(h, hdr);
	snprintf(hdr, sizeof(hdr), "X-Amz-Target: %s", target);
	h = curl_slist_append(h, hdr);
	h = curl_slist_append(h, "Expect:");

	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
	if (ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	if (cert) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	}
	if (curl_easy_perform(c) != CURLE_OK) {
		fprintf(stderr, "kms_call: request failed\n");
		return 3;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	free(auth);
	if (status == 200 && open_field) {
		int rc = open_recipient(out.p, open_field, open_key);

		free(out.p);
		return rc;
	}
	printf("%s\n", out.p ? out.p : "");
	free(out.p);
	return status == 200 ? 0 : 1;
}
