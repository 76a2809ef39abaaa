/* conntrack: the per-ENI connection table behind ward-net's stateful
 * security groups. A flow is keyed by protocol and both endpoints; TCP is
 * tracked with sequence windows (the pf / OVS conntrack-tcp algorithm:
 * each side's highest sequence sent, highest acceptable, largest window),
 * so a packet outside the window, or with an impossible flag combination,
 * is refused even on an established flow. Idle flows expire (AWS's
 * timeouts); a full table refuses new flows (conntrack_allowance_exceeded). */
#ifndef WARD_NET_CONNTRACK_H
#define WARD_NET_CONNTRACK_H

#include <stdbool.h>
#include <stdint.h>

#include "frame.h"

/* AWS's documented idle timeouts, seconds; the TCP opening and closing
 * ones follow pf. */
#define CT_TCP_ESTABLISHED 432000
#define CT_TCP_OPENING     60
#define CT_TCP_CLOSING     60
#define CT_TCP_CLOSED      10
#define CT_UDP             30
#define CT_UDP_STREAM      180
#define CT_ICMP            30
#define CT_OTHER           60

enum ct_verdict {
	CT_MISS = 0,      /* no flow: the rules decide (and ct_add if they allow) */
	CT_PASS,          /* part of a tracked flow (or ICMP error related to one) */
	CT_INVALID,       /* matches a flow but breaks its TCP state: drop */
};

struct ct_peer {
	uint32_t seqlo;   /* highest sequence number this side has sent (end) */
	uint32_t seqhi;   /* highest sequence end the other side will accept */
	uint32_t max_win; /* largest (unscaled) window this side advertised */
	uint8_t wscale;   /* 0xff: none */
	uint8_t state;
};

struct ct_entry {
	uint32_t src, dst;            /* the direction that opened the flow */
	uint16_t sport, dport;        /* ICMP echo: id, 0 */
	uint8_t proto;
	bool used, replied;
	uint32_t next;                /* bucket chain, CT_NIL ends */
	uint64_t expires;             /* seconds, monotonic */
	struct ct_peer peer[2];       /* [0] opener, [1] responder */
};

struct ct_table {
	struct ct_entry *e;
	uint32_t *bucket;
	uint32_t cap, nbuckets, count, free_head;
	uint64_t hkey[2];             /* SipHash key, random per table */
	uint64_t invalid, exceeded;   /* counted for the ENI's counters */
};

int ct_init(struct ct_table *t, uint32_t cap);
void ct_destroy(struct ct_table *t);

/* Look f up (either direction) at time now. CT_PASS updates the flow. */
enum ct_verdict ct_lookup(struct ct_table *t, const struct frame *f, uint64_t now);

/* A new flow opened by f, after the rules allowed it. Returns 0 (tracked),
 * 1 when f opens no flow but may pass (ICMP other than an echo request, a
 * non-first fragment), -EINVAL for TCP that is not a lone SYN (counted as
 * invalid), or -ENOSPC when the table is full of live flows (counted as
 * exceeded). */
int ct_add(struct ct_table *t, const struct frame *f, uint64_t now);

/* Drop every flow (a test or a detach). */
void ct_flush(struct ct_table *t);

/* TCP flag combinations no stack sends (null, SYN+FIN, SYN+RST, FIN/PSH/URG
 * without ACK): dropped whether or not a flow exists. */
bool ct_tcp_flags_invalid(uint8_t flags);

#endif
