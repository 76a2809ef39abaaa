/* conntrack: per-ENI flow table with pf-style TCP window tracking (see
 * conntrack.h). The TCP check is pf_tcp_track_full() as OpenBSD pf and
 * OVS's conntrack-tcp.c do it: a segment passes only if it ends within what
 * the receiver has offered (seqhi), starts no further back than one of the
 * receiver's windows, and acknowledges nothing far outside what was sent. */
#include "conntrack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define CT_NIL         UINT32_MAX
#define MAXACKWINDOW   (65535 + 1500)
#define SEQ_LT(a, b)   ((int32_t)((a) - (b)) < 0)
#define SEQ_LEQ(a, b)  ((int32_t)((a) - (b)) <= 0)
#define SEQ_GT(a, b)   ((int32_t)((a) - (b)) > 0)
#define SEQ_GEQ(a, b)  ((int32_t)((a) - (b)) >= 0)

enum { TCPS_NONE, TCPS_SYN_SENT, TCPS_ESTABLISHED, TCPS_CLOSING, TCPS_CLOSED };

struct key {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint8_t proto;
};

int ct_init(struct ct_table *t, uint32_t cap)
{
	memset(t, 0, sizeof(*t));
	t->cap = cap;
	t->nbuckets = 16;
	while (t->nbuckets < cap)
		t->nbuckets <<= 1;
	/* A guest chooses its flows' addresses and ports: with a hash it
	 * could predict, it would pile them into one chain and slow the one
	 * data-path thread that every ENI shares. */
	if (getrandom(t->hkey, sizeof(t->hkey), 0) != sizeof(t->hkey))
		return -EIO;
	t->e = calloc(cap, sizeof(*t->e));
	t->bucket = malloc(t->nbuckets * sizeof(*t->bucket));
	if (!t->e || !t->bucket) {
		ct_destroy(t);
		return -ENOMEM;
	}
	ct_flush(t);
	return 0;
}

void ct_destroy(struct ct_table *t)
{
	free(t->e);
	free(t->bucket);
	memset(t, 0, sizeof(*t));
}

void ct_flush(struct ct_table *t)
{
	for (uint32_t i = 0; i < t->nbuckets; i++)
		t->bucket[i] = CT_NIL;
	for (uint32_t i = 0; i < t->cap; i++) {
		t->e[i].used = false;
		t->e[i].next = i + 1 < t->cap ? i + 1 : CT_NIL;
	}
	t->free_head = t->cap ? 0 : CT_NIL;
	t->count = 0;
}

bool ct_tcp_flags_invalid(uint8_t flags)
{
	if (flags & TCP_SYN) {
		if (flags & (TCP_RST | TCP_FIN))
			return true;
	} else if (!(flags & (TCP_ACK | TCP_RST))) {
		return true;
	}
	return !(flags & TCP_ACK) && (flags & (TCP_FIN | TCP_PSH | TCP_URG));
}

/* The flow key of f. ICMP echo is keyed by its id: request (id, 0), reply
 * (0, id), so a reply is the request's reverse. */
static bool key_of(const struct frame *f, struct key *k)
{
	k->src = f->ip.src;
	k->dst = f->ip.dst;
	k->proto = f->ip.proto;
	k->sport = k->dport = 0;
	switch (f->l4) {
	case L4_TCP:
		k->sport = f->u.tcp.sport;
		k->dport = f->u.tcp.dport;
		return true;
	case L4_UDP:
		k->sport = f->u.udp.sport;
		k->dport = f->u.udp.dport;
		return true;
	case L4_ICMP:
		if (f->u.icmp.type == 8)
			k->sport = f->u.icmp.id;
		else if (f->u.icmp.type == 0)
			k->dport = f->u.icmp.id;
		else
			return false;
		return true;
	case L4_OTHER:
		return true;
	default:
		return false;   /* a non-first fragment has no key */
	}
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
} while (0)

/* SipHash-2-4 of the two words m[0], m[1] (a 16-byte message). */
static uint64_t siphash16(const uint64_t key[2], const uint64_t m[2])
{
	uint64_t v0 = key[0] ^ 0x736f6d6570736575ull, v1 = key[1] ^ 0x646f72616e646f6dull;
	uint64_t v2 = key[0] ^ 0x6c7967656e657261ull, v3 = key[1] ^ 0x7465646279746573ull;
	uint64_t b = (uint64_t)16 << 56;

	for (int i = 0; i < 2; i++) {
		v3 ^= m[i];
		SIPROUND;
		SIPROUND;
		v0 ^= m[i];
	}
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static uint32_t hash(const struct ct_table *t, const struct key *k)
{
	/* Symmetric in the two endpoints (both directions share a bucket):
	 * the lower endpoint first, the protocol above the higher one. */
	uint64_t a = (uint64_t)k->src << 16 | k->sport, b = (uint64_t)k->dst << 16 | k->dport;
	uint64_t m[2] = { a < b ? a : b, (a < b ? b : a) | (uint64_t)k->proto << 48 };

	return (uint32_t)siphash16(t->hkey, m) & (t->nbuckets - 1);
}

static void unlink_entry(struct ct_table *t, uint32_t idx)
{
	struct ct_entry *e = &t->e[idx];
	struct key k = { e->src, e->dst, e->sport, e->dport, e->proto };
	uint32_t *p = &t->bucket[hash(t, &k)];

	while (*p != CT_NIL && *p != idx)
		p = &t->e[*p].next;
	if (*p == idx)
		*p = e->next;
	e->used = false;
	e->next = t->free_head;
	t->free_head = idx;
	t->count--;
}

/* Find the flow of k; *dir = 0 for the opener's direction, 1 for replies.
 * Expired flows found on the way are freed. */
static struct ct_entry *find(struct ct_table *t, const struct key *k, uint64_t now, int *dir)
{
	uint32_t idx = t->bucket[hash(t, k)];

	while (idx != CT_NIL) {
		struct ct_entry *e = &t->e[idx];
		uint32_t next = e->next;

		if (e->expires <= now) {
			unlink_entry(t, idx);
		} else if (e->proto == k->proto) {
			if (e->src == k->src && e->dst == k->dst && e->sport == k->sport && e->dport == k->dport) {
				*dir = 0;
				return e;
			}
			if (e->src == k->dst && e->dst == k->src && e->sport == k->dport && e->dport == k->sport) {
				*dir = 1;
				return e;
			}
		}
		idx = next;
	}
	return NULL;
}

static uint64_t tcp_timeout(const struct ct_entry *e)
{
	uint8_t a = e->peer[0].state, b = e->peer[1].state;

	if (a == TCPS_CLOSED || b == TCPS_CLOSED)
		return CT_TCP_CLOSED;
	if (a == TCPS_CLOSING || b == TCPS_CLOSING)
		return CT_TCP_CLOSING;
	if (a == TCPS_ESTABLISHED && b == TCPS_ESTABLISHED)
		return CT_TCP_ESTABLISHED;
	return CT_TCP_OPENING;
}

static uint32_t seg_end(const struct frame *f)
{
	const struct frame_tcp *t = &f->u.tcp;

	return t->seq + (uint32_t)f->payload_len + !!(t->flags & TCP_SYN) + !!(t->flags & TCP_FIN);
}

/* A SYN's window is never scaled (RFC 7323 §2.2); later windows are. pf
 * keeps max_win in the scaled units, rounding the SYN's up. */
static void unscale_syn_window(struct ct_peer *p)
{
	if (p->wscale != 0xff && p->wscale)
		p->max_win = (p->max_win + (1u << p->wscale) - 1) >> p->wscale;
}

/* pf_tcp_track_full(), without the sequence modulation and sloppy modes. */
static bool tcp_track(struct ct_entry *e, int dir, const struct frame *f)
{
	const struct frame_tcp *th = &f->u.tcp;
	struct ct_peer *src = &e->peer[dir], *dst = &e->peer[!dir];
	uint8_t sws = 0, dws = 0;
	uint32_t seq = th->seq, ack = th->ack, end = seg_end(f), win = th->win;
	int32_t ackskew;

	/* Window scaling counts only if both sides offered it on their SYN. */
	if (src->wscale != 0xff && dst->wscale != 0xff && !(th->flags & TCP_SYN)) {
		sws = src->wscale;
		dws = dst->wscale;
	}
	if (src->state == TCPS_NONE) {
		/* The responder's first segment: its SYN-ACK. */
		if ((th->flags & (TCP_SYN | TCP_ACK)) != (TCP_SYN | TCP_ACK))
			return false;
		src->wscale = th->wscale;
		if (src->wscale == 0xff || dst->wscale == 0xff) {
			src->wscale = dst->wscale = 0xff;
		} else {
			/* The opener's SYN window was counted scaled: now
			 * scaling is agreed, keep it in its own units. */
			unscale_syn_window(dst);
		}
		src->seqlo = seq;
		src->state = TCPS_SYN_SENT;
		if (src->seqhi == 1 || SEQ_GEQ(end + (dst->max_win << dws > 1 ? dst->max_win << dws : 1),
					       src->seqhi))
			src->seqhi = end + (dst->max_win << dws > 1 ? dst->max_win << dws : 1);
		if (win > src->max_win)
			src->max_win = win;
	}
	if (!(th->flags & TCP_ACK))
		ack = dst->seqlo;
	if (seq == end) {
		/* No data: ease sequencing as pf does. */
		seq = src->seqlo;
		end = seq;
	}
	ackskew = (int32_t)(dst->seqlo - ack);
	if (!(SEQ_GEQ(src->seqhi, end) &&
	      SEQ_GEQ(seq, src->seqlo - (dst->max_win << dws)) &&
	      ackskew >= -MAXACKWINDOW && ackskew <= (MAXACKWINDOW << sws)))
		return false;
	if (src->max_win < win)
		src->max_win = win;
	if (SEQ_GT(end, src->seqlo))
		src->seqlo = end;
	if (th->flags & TCP_ACK && SEQ_GEQ(ack + (win << sws), dst->seqhi))
		dst->seqhi = ack + ((win << sws) > 1 ? (win << sws) : 1);
	if (th->flags & TCP_RST) {
		src->state = dst->state = TCPS_CLOSED;
	} else if (th->flags & TCP_FIN) {
		src->state = TCPS_CLOSING;
	} else if ((th->flags & TCP_ACK) && src->state == TCPS_SYN_SENT && dst->state >= TCPS_SYN_SENT) {
		src->state = TCPS_ESTABLISHED;
		if (dst->state == TCPS_SYN_SENT)
			dst->state = TCPS_ESTABLISHED;
	}
	return true;
}

static uint64_t timeout(const struct ct_entry *e)
{
	switch (e->proto) {
	case IPPROTO_TCP_: return tcp_timeout(e);
	case IPPROTO_UDP_: return e->replied ? CT_UDP_STREAM : CT_UDP;
	case IPPROTO_ICMP_: return CT_ICMP;
	default: return CT_OTHER;
	}
}

/* RFC 792 errors quote the offending packet: related to its flow. */
static enum ct_verdict related(struct ct_table *t, const struct frame *f, uint64_t now)
{
	const struct frame_icmp *ic = &f->u.icmp;
	struct key k = { ic->in_src, ic->in_dst, ic->in_sport, ic->in_dport, ic->in_proto };
	int dir;

	if (ic->in_proto == IPPROTO_ICMP_) {
		/* The quoted packet was an echo request (id in in_sport). */
		k.dport = 0;
	}
	/* The error goes back to whoever sent the quoted packet. */
	if (k.src != f->ip.dst)
		return CT_MISS;
	return find(t, &k, now, &dir) ? CT_PASS : CT_MISS;
}

enum ct_verdict ct_lookup(struct ct_table *t, const struct frame *f, uint64_t now)
{
	struct ct_entry *e;
	struct key k;
	int dir;

	if (f->l4 == L4_TCP && ct_tcp_flags_invalid(f->u.tcp.flags)) {
		t->invalid++;
		return CT_INVALID;
	}
	if (f->l4 == L4_ICMP && f->u.icmp.inner)
		return related(t, f, now);
	if (!key_of(f, &k))
		return CT_MISS;
	e = find(t, &k, now, &dir);
	if (!e)
		return CT_MISS;
	if (e->proto == IPPROTO_TCP_ && !tcp_track(e, dir, f)) {
		t->invalid++;
		return CT_INVALID;
	}
	if (dir == 1)
		e->replied = true;
	e->expires = now + timeout(e);
	return CT_PASS;
}

int ct_add(struct ct_table *t, const struct frame *f, uint64_t now)
{
	struct ct_entry *e;
	struct key k;
	uint32_t idx, b;

	/* pf's "flags S/SA": only a lone SYN opens a TCP flow. */
	if (f->l4 == L4_TCP && (f->u.tcp.flags & (TCP_SYN | TCP_ACK | TCP_RST)) != TCP_SYN) {
		t->invalid++;
		return -EINVAL;
	}
	/* ICMP other than an echo request opens nothing; nor does a fragment. */
	if (!key_of(f, &k) || (f->l4 == L4_ICMP && f->u.icmp.type != 8))
		return 1;
	if (t->free_head == CT_NIL) {
		/* Full: reclaim whatever has idled out before refusing. */
		for (uint32_t i = 0; i < t->cap; i++)
			if (t->e[i].used && t->e[i].expires <= now)
				unlink_entry(t, i);
	}
	if (t->free_head == CT_NIL) {
		t->exceeded++;
		return -ENOSPC;
	}
	idx = t->free_head;
	e = &t->e[idx];
	t->free_head = e->next;
	memset(e, 0, sizeof(*e));
	e->used = true;
	e->src = k.src;
	e->dst = k.dst;
	e->sport = k.sport;
	e->dport = k.dport;
	e->proto = k.proto;
	if (f->l4 == L4_TCP) {
		/* OVS tcp_new_conn(): the opener's side from its SYN, the
		 * responder's unknown until its SYN-ACK. */
		struct ct_peer *src = &e->peer[0], *dst = &e->peer[1];

		src->seqlo = seg_end(f);
		src->seqhi = src->seqlo + 1;
		src->max_win = f->u.tcp.win > 1 ? f->u.tcp.win : 1;
		src->wscale = f->u.tcp.wscale;
		unscale_syn_window(src);
		src->state = TCPS_SYN_SENT;
		dst->seqhi = 1;
		dst->max_win = 1;
		dst->wscale = 0;
		dst->state = TCPS_NONE;
	}
	e->expires = now + timeout(e);
	b = hash(t, &k);
	e->next = t->bucket[b];
	t->bucket[b] = idx;
	t->count++;
	return 0;
}
