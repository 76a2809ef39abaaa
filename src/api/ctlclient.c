/* ctlclient: one mTLS request from ward-api to a host's controller
 * (libcurl): the CA pinned from the host record, ward-api's client
 * certificate, a timeout and a cap on the reply's size. */
#include "ctlclient.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "ec2.h"

struct sink {
	struct ctlclient_reply *r;
	size_t max;
};

static size_t on_data(char *d, size_t sz, size_t nm, void *arg)
{
	struct sink *s = arg;
	struct ctlclient_reply *b = s->r;
	size_t n = sz * nm;
	char *p;

	/* Over the cap: curl aborts the transfer (CURLE_WRITE_ERROR). */
	if (b->n + n > s->max)
		return 0;
	p = realloc(b->p, b->n + n + 1);
	if (!p)
		return 0;
	memcpy(p + b->n, d, n);
	b->p = p;
	b->n += n;
	p[b->n] = 0;
	return n;
}

int ctlclient_call(const json_t *host, const struct ctlclient_id *id, const char *method,
		   const char *path, const char *body, size_t max_reply, long *status,
		   struct ctlclient_reply *out, char *err, size_t errlen)
{
	const char *ca = ec2_jstr(host, "CaPem");
	struct curl_blob cab = { (void *)ca, strlen(ca), CURL_BLOB_COPY };
	struct curl_slist *hd = NULL;
	struct sink sk = { out, max_reply };
	char url[512];
	CURL *c = curl_easy_init();
	CURLcode cc;

	*out = (struct ctlclient_reply){ 0 };
	*status = 0;
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(url, sizeof(url), "%s%s", ec2_jstr(host, "Endpoint"), path);
	hd = curl_slist_append(hd, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &cab);
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(c, CURLOPT_SSLCERT, id->client_cert);
	curl_easy_setopt(c, CURLOPT_SSLKEY, id->client_key);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)id->timeout_s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sk);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	else if (strcmp(method, "GET"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(hd);
	curl_easy_cleanup(c);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "controller unreachable: %s", curl_easy_strerror(cc));
		free(out->p);
		*out = (struct ctlclient_reply){ 0 };
		return -EIO;
	}
	return 0;
}
