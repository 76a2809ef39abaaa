/* kms_load: load generator for ward-kms. N keep-alive TLS connections, one
 * thread each, send signed KMS requests back to back for a fixed time and
 * record each request's latency. Prints requests/s, p50 and p99. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "sigv4.h"

struct cfg {
	const char *host, *ca, *akid, *secret, *op, *body;
	int port, conns, unsigned_req;
	double seconds;
};

struct worker {
	const struct cfg *c;
	SSL_CTX *ctx;
	double *lat;
	size_t n, cap;
	long errors;
	pthread_t th;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int build(const struct cfg *c, char *out, size_t cap)
{
	char amz[17], target[96], hosthdr[64], hash[65], *auth = NULL;
	int n;

	sigv4_format_amz_date(time(NULL), amz);
	snprintf(target, sizeof(target), "TrentService.%s", c->op);
	snprintf(hosthdr, sizeof(hosthdr), "%s:%d", c->host, c->port);
	if (!c->unsigned_req) {
		struct sigv4_header sh[] = {
			{ "content-type", "application/x-amz-json-1.1" },
			{ "host", hosthdr }, { "x-amz-date", amz }, { "x-amz-target", target },
		};
		struct sigv4_request req = { "POST", "/", NULL, sh, 4, hash };

		sigv4_sha256_hex(c->body, strlen(c->body), hash);
		if (sigv4_authorization(&req, amz, c->akid, c->secret, "us-east-1", "kms", &auth))
			return -1;
	}
	n = snprintf(out, cap, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: "
		     "application/x-amz-json-1.1\r\nX-Amz-Date: %s\r\nX-Amz-Target: %s\r\n"
		     "%s%s%sContent-Length: %zu\r\n\r\n%s", hosthdr, amz, target,
		     auth ? "Authorization: " : "", auth ? auth : "", auth ? "\r\n" : "",
		     strlen(c->body), c->body);
	free(auth);
	return n > 0 && (size_t)n < cap ? n : -1;
}

static SSL *connect_tls(struct worker *w)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)w->c->port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	SSL *ssl;

	inet_pton(AF_INET, w->c->host, &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ssl = SSL_new(w->ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	return ssl;
}

/* Reads one HTTP response; returns its status or -1. */
static int read_response(SSL *ssl, char *buf, size_t cap)
{
	size_t have = 0, need = 0;
	char *end = NULL;

	for (;;) {
		int r = SSL_read(ssl, buf + have, (int)(cap - have - 1));

		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = '\0';
		if (!end && (end = strstr(buf, "\r\n\r\n"))) {
			char *cl = strcasestr(buf, "content-length:");

			need = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
		}
		if (end && have >= need)
			break;
		if (have + 1 >= cap)
			return -1;
	}
	return atoi(buf + 9);
}

static void *run(void *arg)
{
	struct worker *w = arg;
	char req[16384], resp[16384];
	double start = now_s(), signed_at = 0, t0, t1;
	int len = 0;
	SSL *ssl = connect_tls(w);

	if (!ssl) {
		w->errors++;
		return NULL;
	}
	while ((t0 = now_s()) - start < w->c->seconds) {
		if (t0 - signed_at > 1.0) {	/* a fresh X-Amz-Date every second */
			len = build(w->c, req, sizeof(req));
			signed_at = t0;
		}
		if (len <= 0 || SSL_write(ssl, req, len) != len)
			break;
		int st = read_response(ssl, resp, sizeof(resp));

		t1 = now_s();
		if (st < 0)
			break;
		if (st != 200 && !w->c->unsigned_req)
			w->errors++;
		if (w->n == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 65536;
			w->lat = realloc(w->lat, w->cap * sizeof(double));
		}
		w->lat[w->n++] = t1 - t0;
	}
	SSL_shutdown(ssl);
	close(SSL_get_fd(ssl));
	SSL_free(ssl);
	return NULL;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct cfg c = { .host = "127.0.0.1", .conns = 8, .seconds = 5, .op = "Decrypt" };
	struct worker *w;
	double *all, t0, el;
	size_t total = 0, k = 0;
	long errors = 0;
	SSL_CTX *ctx;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--port") && i + 1 < argc) c.port = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--ca") && i + 1 < argc) c.ca = argv[++i];
		else if (!strcmp(argv[i], "--akid") && i + 1 < argc) c.akid = argv[++i];
		else if (!strcmp(argv[i], "--secret") && i + 1 < argc) c.secret = argv[++i];
		else if (!strcmp(argv[i], "--op") && i + 1 < argc) c.op = argv[++i];
		else if (!strcmp(argv[i], "--body") && i + 1 < argc) c.body = argv[++i];
		else if (!strcmp(argv[i], "--conns") && i + 1 < argc) c.conns = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) c.seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--unsigned")) c.unsigned_req = 1;
		else {
			fprintf(stderr, "usage: kms_load --port P --ca CA --akid A --secret S "
				"--op OP --body JSON [--conns N] [--seconds S] [--unsigned]\n");
			return 2;
		}
	}
	if (!c.port || !c.body || (!c.unsigned_req && (!c.akid || !c.secret)))
		return 2;
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (!c.ca || SSL_CTX_load_verify_locations(ctx, c.ca, NULL) != 1)
		return 2;
	w = calloc((size_t)c.conns, sizeof(*w));
	t0 = now_s();
	for (int i = 0; i < c.conns; i++) {
		w[i].c = &c;
		w[i].ctx = ctx;
		pthread_create(&w[i].th, NULL, run, &w[i]);
	}
	for (int i = 0; i < c.conns; i++) {
		pthread_join(w[i].th, NULL);
		total += w[i].n;
		errors += w[i].errors;
	}
	el = now_s() - t0;
	all = malloc((total ? total : 1) * sizeof(double));
	for (int i = 0; i < c.conns; i++) {
		memcpy(all + k, w[i].lat, w[i].n * sizeof(double));
		k += w[i].n;
		free(w[i].lat);
	}
	qsort(all, total, sizeof(double), cmp_d);
	printf("op=%s conns=%d requests=%zu errors=%ld per_s=%.0f p50_ms=%.3f p99_ms=%.3f\n",
	       c.op, c.conns, total, errors, total / el,
	       total ? all[total / 2] * 1e3 : 0, total ? all[(size_t)(total * 0.99)] * 1e3 : 0);
	free(all);
	free(w);
	SSL_CTX_free(ctx);
	return errors ? 1 : 0;
}
