/* metrics: Prometheus text exposition format 0.0.4 (docs/observability.md)
 * for every ward daemon — lock-free counters and histograms that any thread
 * updates, and a writer for # HELP / # TYPE / samples / histogram series
 * with escaped label values. */
#ifndef WARD_METRICS_H
#define WARD_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Latency buckets (seconds) every ward histogram uses: 100 us .. 10 s. */
#define METRICS_LATENCY_BUCKETS 12
extern const double metrics_latency_bounds[METRICS_LATENCY_BUCKETS];

/* A histogram over metrics_latency_bounds: counts per bucket (not
 * cumulative; the writer sums them), total count, sum in nanoseconds. */
struct metrics_hist {
	_Atomic uint64_t bucket[METRICS_LATENCY_BUCKETS + 1];	/* last: +Inf */
	_Atomic uint64_t count;
	_Atomic uint64_t sum_ns;
};

void metrics_hist_observe(struct metrics_hist *h, uint64_t ns);

/* Monotonic nanoseconds, for latencies. */
uint64_t metrics_now_ns(void);

/* A growing text buffer for one exposition. */
struct metrics_buf {
	char *p;
	size_t len, cap;
	int err;	/* -ENOMEM once an append failed: the text is incomplete */
};

/* # HELP and # TYPE lines of a family (type: counter, gauge, histogram). */
void metrics_family(struct metrics_buf *b, const char *name, const char *type, const char *help);
/* name{labels} value. labels: NULL, or "k1", "v1", "k2", "v2", ..., NULL —
 * values escaped as the format says (\\, \", \n). */
void metrics_sample(struct metrics_buf *b, const char *name, double value, ...)
	__attribute__((sentinel));
/* name_bucket{labels,le="..."} (cumulative), name_sum, name_count. */
void metrics_hist_write(struct metrics_buf *b, const char *name, const struct metrics_hist *h,
			...) __attribute__((sentinel));
void metrics_buf_free(struct metrics_buf *b);

/* The HTTP Content-Type of this format. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
