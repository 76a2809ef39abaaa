/* imds_tcp: the TCP responder behind IMDS (see imds.h): passive opens
 * only, one request and one reply per connection, then the card closes.
 * Bounded by construction: IMDS_CONNS slots per ENI (a SYN beyond them is
 * dropped and counted, after idle slots are reclaimed), a request head of
 * at most IMDS_REQ_MAX bytes, in-order data only. The ISN is a MAC of the
 * connection under the card's key (RFC 6528's scheme), so it is not
 * predictable from outside. There are no timers: the card retransmits
 * when the client shows it lost something (a retransmitted request or
 * FIN, a duplicate ACK), and an idle slot is taken back when a new SYN
 * needs it. Nothing here touches another ENI's state. */
#include "imds_int.h"

#include <string.h>


#define SEQ_LT(a, b)  ((int32_t)((a) - (b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((a) - (b)) <= 0)
#define MIN_MSS 88               /* as Linux: a tiny MSS must not mean thousands of frames */

struct seg {
	uint32_t ip;
	uint16_t port;
	uint32_t seq, ack;
	uint8_t flags, ttl;
	uint16_t mss;                /* SYN-ACK: the MSS option; 0 none */
	const void *data;
	size_t len;
};

static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* Ethernet (router MAC to the ENI's) + IPv4 (DF, no options) + TCP. */
static void emit(struct dp *dp, unsigned int ei, const struct seg *s)
{
	const struct vpc_eni *x = &dp->cfg->enis[ei];
	uint8_t *o = dp->scratch, *ip = o + FRAME_ETH_HLEN, *tcp = ip + 20, pseudo[12];
	size_t thl = s->mss ? 24 : 20, total = 20 + thl + s->len, n = FRAME_ETH_HLEN + total;
	uint16_t sum;

	memcpy(o, x->mac, 6);
	memcpy(o + 6, vpc_router_mac, 6);
	wr16(o + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	wr16(ip + 2, (uint16_t)total);
	wr16(ip + 6, 0x4000);
	ip[8] = s->ttl;
	ip[9] = IPPROTO_TCP_;
	wr32(ip + 12, IMDS_IP);
	wr32(ip + 16, s->ip);
	wr16(ip + 10, frame_csum(ip, 20, 0));
	memset(tcp, 0, thl);
	wr16(tcp, IMDS_PORT);
	wr16(tcp + 2, s->port);
	wr32(tcp + 4, s->seq);
	wr32(tcp + 8, s->ack);
	tcp[12] = (uint8_t)(thl / 4) << 4;
	tcp[13] = s->flags;
	wr16(tcp + 14, IMDS_WINDOW);
	if (s->mss) {
		tcp[20] = 2;
		tcp[21] = 4;
		wr16(tcp + 22, s->mss);
	}
	if (s->len)
		memcpy(tcp + thl, s->data, s->len);
	wr32(pseudo, IMDS_IP);
	wr32(pseudo + 4, s->ip);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_TCP_;
	wr16(pseudo + 10, (uint16_t)(thl + s->len));
	sum = (uint16_t)~frame_csum(pseudo, sizeof(pseudo), 0);
	wr16(tcp + 16, frame_csum(tcp, thl + s->len, sum));
	if (n < 60) {
		memset(o + n, 0, 60 - n);
		n = 60;
	}
	dp_to_guest(dp, ei, o, n);
}

static void emit_conn(struct dp *dp, unsigned int ei, const struct imds_conn *c, uint32_t seq,
		      uint8_t flags, const void *data, size_t len)
{
	struct seg s = { .ip = c->cip, .port = c->cport, .seq = seq, .ack = c->rcv_nxt,
			 .flags = flags, .ttl = c->ttl1 ? 1 : 64, .data = data, .len = len };

	emit(dp, ei, &s);
}

static void ack_now(struct dp *dp, unsigned int ei, const struct imds_conn *c)
{
	emit_conn(dp, ei, c, c->iss + 1 + c->sent + (c->fin_sent ? 1 : 0), TCP_ACK, NULL, 0);
}

/* Send what the client's window allows of the reply, FIN with the last
 * byte. Returns the segments sent. */
static unsigned int push(struct dp *dp, unsigned int ei, struct imds_conn *c)
{
	unsigned int segs = 0;
	uint32_t inflight;

	while (c->sent < c->len) {
		size_t room, n;
		bool last;

		inflight = c->iss + 1 + c->sent - c->snd_una;
		room = c->snd_wnd > inflight ? c->snd_wnd - inflight : 0;
		n = c->len - c->sent;
		if (n > c->mss)
			n = c->mss;
		if (n > room)
			n = room;
		if (!n)
			break;
		last = c->sent + n == c->len && room > n;   /* the FIN fits too */
		emit_conn(dp, ei, c, c->iss + 1 + c->sent, TCP_ACK | (last ? TCP_PSH | TCP_FIN : 0),
			  c->buf + c->sent, n);
		c->sent += (uint32_t)n;
		c->fin_sent = last;
		segs++;
	}
	inflight = c->iss + 1 + c->sent - c->snd_una;
	if (c->sent == c->len && !c->fin_sent && c->snd_wnd > inflight) {
		emit_conn(dp, ei, c, c->iss + 1 + c->len, TCP_ACK | TCP_FIN, NULL, 0);
		c->fin_sent = true;
		segs++;
	}
	return segs;
}

/* The client lost something of ours: send again the one segment its last
 * ACK asks for, never a whole window: one replayed guest frame must buy
 * one frame back, not dozens on the thread every ENI shares (the next
 * duplicate ACK asks for the next segment). What was sent stays counted
 * as sent, so ACKs the client may still send for it stay acceptable. */
static void resend(struct dp *dp, unsigned int ei, struct imds_conn *c)
{
	uint32_t off = c->snd_una - c->iss - 1;
	size_t n;
	bool last;

	if (c->st != C_REPLIED || off > c->len)
		return;                   /* everything, FIN included, acknowledged */
	if (off >= c->sent) {             /* nothing of ours outstanding but the FIN */
		if (c->fin_sent)
			emit_conn(dp, ei, c, c->iss + 1 + c->len, TCP_ACK | TCP_FIN, NULL, 0);
		else if (!push(dp, ei, c))
			ack_now(dp, ei, c);
		return;
	}
	n = c->sent - off;
	if (n > c->mss)
		n = c->mss;
	last = off + n == c->len && c->fin_sent;
	emit_conn(dp, ei, c, c->iss + 1 + off, TCP_ACK | (last ? TCP_PSH | TCP_FIN : 0),
		  c->buf + off, n);
}

static void respond(struct imds *m, struct dp *dp, unsigned int ei, struct imds_conn *c, size_t head)
{
	static char out[IMDS_REPLY_MAX];
	size_t n;
	bool ttl1;

	/* head 0: the request cannot be one (too long, or cut by a FIN): 400. */
	n = imds_respond(m, ei, c->buf, head, imds_now_ms() / 1000, out, sizeof(out), &ttl1);
	explicit_bzero(c->buf, sizeof(c->buf));
	memcpy(c->buf, out, n);
	explicit_bzero(out, n);
	c->len = n;
	c->ttl1 = ttl1;
	c->st = C_REPLIED;
	c->sent = 0;
	c->fin_sent = false;
	dp->c[ei].imds_requests++;
	if (n > 12 && c->buf[9] != '2')
		dp->c[ei].imds_refused++;
	else if (ttl1)
		dp->c[ei].imds_tokens++;
	if (!push(dp, ei, c))
		ack_now(dp, ei, c);
}

static void conn_drop(struct imds_conn *c)
{
	explicit_bzero(c, sizeof(*c));
}

/* A segment nobody expects gets an RST (RFC 9293 §3.10.7.1), never
 * more than one frame for one. */
static void reset(struct dp *dp, unsigned int ei, const struct frame *f)
{
	const struct frame_tcp *t = &f->u.tcp;
	struct seg s = { .ip = f->ip.src, .port = t->sport, .ttl = 64 };

	if (t->flags & TCP_RST)
		return;
	if (t->flags & TCP_ACK) {
		s.seq = t->ack;
		s.flags = TCP_RST;
	} else {
		s.ack = t->seq + (uint32_t)f->payload_len + ((t->flags & TCP_SYN) ? 1 : 0) +
			((t->flags & TCP_FIN) ? 1 : 0);
		s.flags = TCP_RST | TCP_ACK;
	}
	emit(dp, ei, &s);
}

static void syn(struct imds *m, struct dp *dp, unsigned int ei, const struct frame *f, uint64_t now_ms)
{
	struct imds_eni *e = &m->e[ei];
	const struct frame_tcp *t = &f->u.tcp;
	struct imds_conn *c = NULL;
	uint16_t mtu_mss = (uint16_t)(dp->cfg->enis[ei].mtu - 40);
	uint64_t now = now_ms / 1000;
	uint8_t mac[32];
	uint32_t parts[4];

	for (unsigned int i = 0; i < IMDS_CONNS && !c; i++)
		if (e->conns[i].st == C_FREE)
			c = &e->conns[i];
	/* Idle slots (a client that vanished) are taken back only now. */
	for (unsigned int i = 0; i < IMDS_CONNS && !c; i++)
		if (e->conns[i].last + IMDS_IDLE_SECS <= now) {
			conn_drop(&e->conns[i]);
			c = &e->conns[i];
		}
	if (!c) {
		dp->c[ei].imds_conn_full++;
		return;
	}
	if (!imds_throttle_take(m, ei, now_ms)) {
		dp->c[ei].imds_throttled++;
		return;
	}
	parts[0] = f->ip.src;
	parts[1] = t->sport;
	parts[2] = t->seq;
	parts[3] = (uint32_t)++m->isn_count;
	imds_mac(m, mac, "isn", 3, dp->cfg->enis[ei].id, strlen(dp->cfg->enis[ei].id), parts, sizeof(parts));
	c->st = C_SYN_RCVD;
	c->cip = f->ip.src;
	c->cport = t->sport;
	c->irs = t->seq;
	c->rcv_nxt = t->seq + 1;
	memcpy(&c->iss, mac, 4);
	c->snd_una = c->iss;
	c->snd_wnd = t->win;
	c->mss = t->mss ? t->mss : 536;
	if (c->mss > mtu_mss)
		c->mss = mtu_mss;
	if (c->mss < MIN_MSS)
		c->mss = MIN_MSS;
	c->last = now;
	struct seg s = { .ip = c->cip, .port = c->cport, .seq = c->iss, .ack = c->rcv_nxt,
			 .flags = TCP_SYN | TCP_ACK, .ttl = 64, .mss = mtu_mss };
	emit(dp, ei, &s);
}

void imds_input(void *opaque, struct dp *dp, unsigned int ei, const struct frame *f)
{
	struct imds *m = opaque;
	struct imds_eni *e = &m->e[ei];
	const struct frame_tcp *t = &f->u.tcp;
	const uint8_t *data = f->buf + f->payload_off;
	size_t len = f->payload_len, head;
	uint64_t now_ms = imds_now_ms();
	struct imds_conn *c = NULL;
	uint32_t seq = t->seq, snd_max;
	bool was_open;

	/* Only TCP to port 80, sent to the router's MAC (169.254.169.254 is
	 * off every subnet), whole (no fragments). */
	if (memcmp(f->dst, vpc_router_mac, 6) || f->l4 != L4_TCP || t->dport != IMDS_PORT || f->ip.fragment) {
		dp->c[ei].imds_drop++;
		return;
	}
	for (unsigned int i = 0; i < IMDS_CONNS && !c; i++)
		if (e->conns[i].st != C_FREE && e->conns[i].cip == f->ip.src && e->conns[i].cport == t->sport)
			c = &e->conns[i];
	if (!c) {
		if ((t->flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) == TCP_SYN)
			syn(m, dp, ei, f, now_ms);
		else {
			dp->c[ei].imds_drop++;
			reset(dp, ei, f);
		}
		return;
	}
	c->last = now_ms / 1000;
	if (t->flags & TCP_RST) {
		/* RFC 5961 §3: only the exact next sequence resets; in the
		 * window, a challenge ACK; else nothing. */
		if (seq == c->rcv_nxt)
			conn_drop(c);
		else if (SEQ_LT(c->rcv_nxt, seq) && SEQ_LT(seq, c->rcv_nxt + IMDS_WINDOW))
			ack_now(dp, ei, c);
		return;
	}
	if (t->flags & TCP_SYN) {
		if (c->st == C_SYN_RCVD && seq == c->irs && !(t->flags & TCP_ACK)) {
			struct seg s = { .ip = c->cip, .port = c->cport, .seq = c->iss, .ack = c->rcv_nxt,
					 .flags = TCP_SYN | TCP_ACK, .ttl = 64,
					 .mss = (uint16_t)(dp->cfg->enis[ei].mtu - 40) };
			emit(dp, ei, &s);         /* our SYN-ACK was lost */
		} else {
			ack_now(dp, ei, c);       /* RFC 5961 §4: challenge ACK */
		}
		return;
	}
	if (!(t->flags & TCP_ACK)) {
		dp->c[ei].imds_drop++;
		return;
	}
	/* The ACK must cover nothing we have not sent. */
	snd_max = c->st == C_SYN_RCVD ? c->iss + 1 : c->iss + 1 + c->sent + (c->fin_sent ? 1 : 0);
	if (c->st == C_SYN_RCVD) {
		if (t->ack != c->iss + 1) {
			dp->c[ei].imds_drop++;
			reset(dp, ei, f);
			return;
		}
		c->st = C_OPEN;
		c->snd_una = t->ack;
	} else if (SEQ_LT(t->ack, c->snd_una) || SEQ_LT(snd_max, t->ack)) {
		dp->c[ei].imds_drop++;
		ack_now(dp, ei, c);
		return;
	} else {
		/* A duplicate ACK of data we sent after it says a segment was lost. */
		bool dup = t->ack == c->snd_una && SEQ_LT(c->snd_una, snd_max) && !len &&
			   !(t->flags & TCP_FIN) && t->win == c->snd_wnd;

		c->snd_una = t->ack;
		c->snd_wnd = t->win;
		if (dup) {
			resend(dp, ei, c);
			return;
		}
	}
	c->snd_wnd = t->win;
	if (len || (t->flags & TCP_FIN)) {
		if (SEQ_LT(seq, c->rcv_nxt)) {
			uint32_t off = c->rcv_nxt - seq;

			if (off >= len + ((t->flags & TCP_FIN) ? 1u : 0u)) {
				/* All of it seen before: the client missed our
				 * answer; the same reply goes again. */
				if (c->st == C_REPLIED)
					resend(dp, ei, c);
				else
					ack_now(dp, ei, c);
				return;
			}
			data += off;
			len -= off;
			seq = c->rcv_nxt;
		}
		if (seq != c->rcv_nxt) {
			dp->c[ei].imds_drop++;   /* out of order: the client sends it again */
			ack_now(dp, ei, c);
			return;
		}
		c->rcv_nxt += (uint32_t)len;
		was_open = c->st == C_OPEN;
		if (len && c->st == C_OPEN) {
			if (c->len + len > IMDS_REQ_MAX) {
				respond(m, dp, ei, c, 0);
			} else {
				memcpy(c->buf + c->len, data, len);
				c->len += len;
				head = imds_http_head_len(c->buf, c->len);
				/* Bytes after the head (a pipelined request) are
				 * not answered: one request per connection. */
				if (head)
					respond(m, dp, ei, c, head);
			}
		}
		if (t->flags & TCP_FIN) {
			c->rcv_nxt++;
			c->fin_rcvd = true;
			if (c->st == C_OPEN)
				respond(m, dp, ei, c, 0);
			else
				ack_now(dp, ei, c);
		} else if (len && (c->st == C_OPEN || !was_open)) {
			ack_now(dp, ei, c);       /* more head to come, or bytes after the reply */
		}
	}
	if (c->st == C_REPLIED) {
		if (c->fin_sent && c->snd_una == c->iss + 2 + (uint32_t)c->len) {
			if (c->fin_rcvd)
				conn_drop(c);         /* both sides closed */
			return;
		}
		push(dp, ei, c);
	}
}
