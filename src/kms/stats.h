/* stats: ward-kms's metrics (docs/observability.md) — requests by
 * operation and outcome, latency per operation, activity-trail size —
 * updated by every worker without locks, written in the Prometheus text
 * format for GET /metrics (server.c). */
#ifndef WARD_KMS_STATS_H
#define WARD_KMS_STATS_H

#include <stdint.h>

#include "metrics.h"
#include "request.h"

/* One answered request: its operation, trail_outcome() ("allow", "deny",
 * "error") and how long it took from arrival to answer. */
void kms_stats_observe(enum kms_op op, const char *outcome, uint64_t ns);

/* The exposition; trail_records < 0: no trail. */
void kms_stats_render(struct metrics_buf *b, int64_t trail_records);

#endif
