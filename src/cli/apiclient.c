/* apiclient: one HTTPS request to the host API with the caller's client
 * certificate (TLS 1.2 or later, https only), shared by every `ward`
 * subcommand. */
#include "cli/apiclient.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cliopt.h"

int api_launch_opt(json_t *req, const char *opt, const char *val)
{
	static const struct { const char *opt, *field, *choice[2]; } opts[] = {
		{ "--memory", "memory_mib", { NULL } },
		{ "--vcpus", "vcpus", { NULL } },
		{ "--cpu", "cpu", { "fixed", "burstable" } },
		{ "--hugepages", "hugepages", { "2M", "1G" } },
		{ "--cmdline", "cmdline", { NULL } },
	};

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		char *end;
		unsigned long v;

		if (strcmp(opt, opts[i].opt))
			continue;
		if (!val) {
			fprintf(stderr, "ward: %s needs a value\n", opt);
			return -1;
		}
		if (!strcmp(opt, "--cmdline")) {	/* the host checks it */
			json_object_set_new(req, opts[i].field, json_string(val));
			return 1;
		}
		if (opts[i].choice[0]) {
			if (strcmp(val, opts[i].choice[0]) && strcmp(val, opts[i].choice[1])) {
				fprintf(stderr, "ward: %s must be %s or %s, got '%s'\n", opt,
					opts[i].choice[0], opts[i].choice[1], val);
				return -1;
			}
			json_object_set_new(req, opts[i].field, json_string(val));
			return 1;
		}
		if (!strcmp(opt, "--memory")) {
			uint64_t bytes;

			/* The size syntax of every ward binary; a bare number is MiB. */
			if (cliopt_parse_size(val, CLI_UNIT_MIB, &bytes) || bytes % (1u << 20) ||
			    (bytes >> 20) > 1000000) {
				fprintf(stderr, "ward: --memory must be a size in whole MiB (64M, 1G; "
					"a bare number is MiB), got '%s'\n", val);
				return -1;
			}
			json_object_set_new(req, opts[i].field, json_integer((json_int_t)(bytes >> 20)));
			return 1;
		}
		errno = 0;
		v = strtoul(val, &end, 10);
		if (errno || end == val || *end || val[0] == '-' || v > 1000000) {
			fprintf(stderr, "ward: %s must be a number, got '%s'\n", opt, val);
			return -1;
		}
		json_object_set_new(req, opts[i].field, json_integer((json_int_t)v));
		return 1;
	}
	return 0;
}

size_t api_buf_append(struct api_buf *b, const char *data, size_t add)
{
	char *p = realloc(b->p, b->len + add + 1);

	if (!p)
		return 0;
	memcpy(p + b->len, data, add);
	b->p = p;
	b->len += add;
	p[b->len] = 0;
	return add;
}

static size_t on_data(char *ptr, size_t size, size_t n, void *arg)
{
	return api_buf_append(arg, ptr, size * n);
}

long api_call(const struct api_cfg *c, const char *method, const char *path, const char *body,
		 struct api_buf *out)
{
	return api_call_hdrs(c, method, path, body, out, NULL);
}

long api_call_hdrs(const struct api_cfg *c, const char *method, const char *path,
		   const char *body, struct api_buf *out, struct api_buf *hdrs)
{
	char url[2048], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = NULL;
	long status = 0;
	CURL *h;
	CURLcode rc;

	out->p = NULL;
	out->len = 0;
	if (!c->url || !c->cert || !c->key || !c->ca) {
		fprintf(stderr, "ward: need --url, --cert, --key and --ca (or WARD_URL, WARD_CERT, "
			"WARD_KEY, WARD_CA)\n");
		return 0;
	}
	snprintf(url, sizeof(url), "%s%s", c->url, path);
	h = curl_easy_init();
	if (!h)
		return 0;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
	curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
	curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	if (hdrs) {
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_data);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, hdrs);
	}
	if (body) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	}
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK)
		fprintf(stderr, "ward: %s %s: %s\n", method, url, errbuf[0] ? errbuf :
			curl_easy_strerror(rc));
	else
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return status;
}


int api_print_call(const struct api_cfg *c, const char *method, const char *path,
		   const char *body)
{
	struct api_buf b;
	long st = api_call(c, method, path, body, &b);
	int ok = st >= 200 && st < 300;

	if (b.p)
		fputs(b.p, ok ? stdout : stderr);
	if (st && !ok)
		fprintf(stderr, "ward: HTTP %ld\n", st);
	free(b.p);
	return ok ? 0 : 1;
}
