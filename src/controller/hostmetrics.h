/* hostmetrics: ward-controller's Prometheus metrics (docs/observability.md)
 * — instances and the vCPUs and memory granted to them, CPU time per
 * instance, card (ward-blk) health, audit-log size, volume attach latency —
 * written for GET /v1/metrics, a control-plane route (routes.c): the
 * series name instances, which is tenant activity. Event-loop thread only,
 * except hostmetrics_attach_observe (atomic). */
#ifndef WARD_CONTROLLER_HOSTMETRICS_H
#define WARD_CONTROLLER_HOSTMETRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "controller/ctl.h"
#include "metrics.h"

/* One launch's volume attach (every volume of it): how long, and whether
 * all of them attached. */
void hostmetrics_attach_observe(uint64_t ns, bool ok);

void hostmetrics_render(struct ctl *c, struct metrics_buf *b);

#endif
