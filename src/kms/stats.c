/* stats: ward-kms's request counters and latency histograms (stats.h). */
#include "stats.h"

#include <stdatomic.h>
#include <string.h>

static const char *const outcomes[] = { "allow", "deny", "error" };
#define N_OUTCOMES (sizeof(outcomes) / sizeof(outcomes[0]))

static _Atomic uint64_t requests[OP_COUNT][N_OUTCOMES];
static struct metrics_hist latency[OP_COUNT];

void kms_stats_observe(enum kms_op op, const char *outcome, uint64_t ns)
{
	size_t o = 0;

	if ((unsigned)op >= OP_COUNT)
		return;
	while (o < N_OUTCOMES - 1 && strcmp(outcome, outcomes[o]))
		o++;
	atomic_fetch_add(&requests[op][o], 1);
	metrics_hist_observe(&latency[op], ns);
}

void kms_stats_render(struct metrics_buf *b, int64_t trail_records)
{
	unsigned op;
	size_t o;

	/* Only operations that were called: 30 operations x 3 outcomes of
	 * zeros would bury the ones that matter. */
	metrics_family(b, "ward_kms_requests_total", "counter",
		       "KMS requests answered, by operation and outcome (allow, deny, error)");
	for (op = 0; op < OP_COUNT; op++)
		if (atomic_load(&latency[op].count))
			for (o = 0; o < N_OUTCOMES; o++)
				metrics_sample(b, "ward_kms_requests_total",
					       (double)atomic_load(&requests[op][o]), "op",
					       kms_op_name((enum kms_op)op), "outcome", outcomes[o],
					       (char *)NULL);
	metrics_family(b, "ward_kms_request_duration_seconds", "histogram",
		       "time from a request's arrival to its answer, trail record included");
	for (op = 0; op < OP_COUNT; op++)
		if (atomic_load(&latency[op].count))
			metrics_hist_write(b, "ward_kms_request_duration_seconds", &latency[op],
					   "op", kms_op_name((enum kms_op)op), (char *)NULL);
	if (trail_records >= 0) {
		metrics_family(b, "ward_kms_trail_records", "gauge",
			       "records in the activity trail (durable)");
		metrics_sample(b, "ward_kms_trail_records", (double)trail_records, (char *)NULL);
	}
}
