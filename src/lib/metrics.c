/* metrics: Prometheus text format 0.0.4 writer and lock-free histograms
 * (see metrics.h). Exposition rules: prometheus.io/docs/instrumenting/
 * exposition_formats (label values escape \\ \" \n; histogram buckets are
 * cumulative and end with le="+Inf", equal to _count). */
#include "metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const double metrics_latency_bounds[METRICS_LATENCY_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1, 10,
};

uint64_t metrics_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void metrics_hist_observe(struct metrics_hist *h, uint64_t ns)
{
	double s = (double)ns / 1e9;
	size_t i = 0;

	while (i < METRICS_LATENCY_BUCKETS && s > metrics_latency_bounds[i])
		i++;
	atomic_fetch_add(&h->bucket[i], 1);
	atomic_fetch_add(&h->sum_ns, ns);
	atomic_fetch_add(&h->count, 1);
}

static void put(struct metrics_buf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(p = realloc(b->p, cap))) {
			b->err = -ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void puts_(struct metrics_buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void put_escaped(struct metrics_buf *b, const char *s, bool help)
{
	for (; *s; s++) {
		if (*s == '\\')
			puts_(b, "\\\\");
		else if (*s == '\n')
			puts_(b, "\\n");
		else if (*s == '"' && !help)
			puts_(b, "\\\"");
		else
			put(b, s, 1);
	}
}

static void put_value(struct metrics_buf *b, double v)
{
	char num[40];

	/* Integers (counts) exactly, other values with 9 significant digits;
	 * no libm: NaN and infinities are never passed here. */
	if (v > -1e15 && v < 1e15 && v == (double)(int64_t)v)
		snprintf(num, sizeof(num), "%lld", (long long)v);
	else
		snprintf(num, sizeof(num), "%.9g", v);
	puts_(b, num);
}

void metrics_family(struct metrics_buf *b, const char *name, const char *type, const char *help)
{
	puts_(b, "# HELP ");
	puts_(b, name);
	puts_(b, " ");
	put_escaped(b, help, true);
	puts_(b, "\n# TYPE ");
	puts_(b, name);
	puts_(b, " ");
	puts_(b, type);
	puts_(b, "\n");
}

/* name{k="v",...[,le="x"]} */
static void put_series(struct metrics_buf *b, const char *name, const char *suffix, va_list ap,
		       const char *le)
{
	const char *k;
	bool any = false;

	puts_(b, name);
	puts_(b, suffix);
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);

		puts_(b, any ? "," : "{");
		puts_(b, k);
		puts_(b, "=\"");
		put_escaped(b, v ? v : "", false);
		puts_(b, "\"");
		any = true;
	}
	if (le) {
		puts_(b, any ? "," : "{");
		puts_(b, "le=\"");
		puts_(b, le);
		puts_(b, "\"");
		any = true;
	}
	if (any)
		puts_(b, "}");
	puts_(b, " ");
}

void metrics_sample(struct metrics_buf *b, const char *name, double value, ...)
{
	va_list ap;

	va_start(ap, value);
	put_series(b, name, "", ap, NULL);
	va_end(ap);
	put_value(b, value);
	puts_(b, "\n");
}

void metrics_hist_write(struct metrics_buf *b, const char *name, const struct metrics_hist *h,
			...)
{
	uint64_t cum = 0, count, sum_ns;
	char le[32];
	va_list ap;

	/* The total first: an observation counts its bucket before the total,
	 * so the buckets read after it cover at least count; _count is then
	 * raised to the +Inf bucket, which the format says it equals. */
	count = atomic_load(&h->count);
	sum_ns = atomic_load(&h->sum_ns);
	for (size_t i = 0; i <= METRICS_LATENCY_BUCKETS; i++) {
		cum += atomic_load(&h->bucket[i]);
		if (i < METRICS_LATENCY_BUCKETS)
			snprintf(le, sizeof(le), "%g", metrics_latency_bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		va_start(ap, h);
		put_series(b, name, "_bucket", ap, le);
		va_end(ap);
		put_value(b, (double)cum);
		puts_(b, "\n");
	}
	if (cum > count)
		count = cum;
	va_start(ap, h);
	put_series(b, name, "_sum", ap, NULL);
	va_end(ap);
	put_value(b, (double)sum_ns / 1e9);
	puts_(b, "\n");
	va_start(ap, h);
	put_series(b, name, "_count", ap, NULL);
	va_end(ap);
	put_value(b, (double)count);
	puts_(b, "\n");
}

void metrics_buf_free(struct metrics_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
