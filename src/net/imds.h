/* imds: the instance metadata service (IMDSv2 semantics) that ward-net
 * serves to each ENI's own guest at 169.254.169.254:80, from inside the
 * data path: a small TCP responder (imds_tcp.c), a strict HTTP parser
 * (imds_http.c) and this module: per-ENI metadata pushed by the controller
 * (netctl ENI_META), session tokens (HMAC-SHA256 under a per-card key in
 * locked memory), per-instance throttling, the path tree. Rules:
 * docs/net.md, "Instance metadata (IMDS)". */
#ifndef WARD_NET_IMDS_H
#define WARD_NET_IMDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp.h"
#include "frame.h"
#include "netctl.h"
#include "vpc.h"

#define IMDS_IP           DP_IMDS_IP    /* 169.254.169.254 */
#define IMDS_PORT         80
#define IMDS_CONNS        8             /* connections per ENI */
#define IMDS_IDLE_SECS    10            /* an idle connection's slot may be reused */
#define IMDS_RATE_DEFAULT 50            /* new connections per second per instance */
#define IMDS_BURST_DEFAULT 100

struct imds;

/* Before the sandbox: the card's token key (getrandom into locked memory)
 * and a locked page per ENI for its credentials. rate (per second, 0: no
 * refill) and burst: the per-instance token bucket of new connections.
 * 0 or -errno. */
int imds_init(struct imds **out, const struct vpc_cfg *cfg, unsigned int rate, unsigned int burst);
void imds_destroy(struct imds *m);

/* ENI_META: replace ENI eni's metadata whole (the old credentials are
 * wiped first). Nothing of it is logged. */
void imds_set_meta(struct imds *m, unsigned int eni, const struct netctl_meta *meta);
/* DETACH: wipe the ENI's metadata, credentials and connections. */
void imds_clear(struct imds *m, unsigned int eni);

/* One validated IPv4 frame from ENI eni's guest addressed to IMDS_IP
 * (after the source/destination check); opaque is the struct imds (a
 * dp_imds_fn). Replies go through dp. */
void imds_input(void *opaque, struct dp *dp, unsigned int eni, const struct frame *f);

/* The HTTP layer on its own (unit tests, fuzzing): answer the request
 * head req[0..len) from ENI eni at time now (monotonic seconds). Writes
 * the reply into out (cap bytes) and returns its length; *ttl1 says the
 * reply must leave with IP TTL 1 (a token). */
size_t imds_respond(struct imds *m, unsigned int eni, const char *req, size_t len, uint64_t now,
		    char *out, size_t cap, bool *ttl1);

#endif
