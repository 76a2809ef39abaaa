/* guest/lib/tcp.c: the guest kit's single TCP connection (see tcp.h).
 * Sequence numbers compare modulo 2^32; stream offset o is sequence
 * iss + 1 + o on the send side and irs + 1 + o on the receive side. */
#include "tcp.h"
#include "inet.h"
#include "io.h"
#include "mem.h"

#define F_FIN	0x01
#define F_SYN	0x02
#define F_RST	0x04
#define F_PSH	0x08
#define F_ACK	0x10
/* We consume every in-order byte at once, so the window is only a number:
 * 2 MiB with window scaling (RFC 7323, shift 5), else 65535. */
#define OUR_WSCALE	5
#define OUR_WND		(2u << 20)

static bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static bool seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

static void arm(struct inet *s, struct tcp_conn *c)
{
	c->rto_at = inet_deadline(s, c->rto_ms);
}

/* Sends one segment; data (if n) comes from the generator at offset off. */
static int send_seg(struct inet *s, struct tcp_conn *c, uint8_t flags, uint32_t seq, uint64_t off, uint32_t n)
{
	uint8_t *t = inet_ip_begin(s, c->rmac, c->rip, IPPROTO_TCP);
	uint32_t hl = (flags & F_SYN) ? 28 : 20, wnd = OUR_WND;
	uint16_t sum;

	put16(t, c->lport);
	put16(t + 2, c->rport);
	put32(t + 4, seq);
	put32(t + 8, (flags & F_ACK) ? c->rcv_nxt : 0);
	t[12] = (uint8_t)(hl / 4 << 4);
	t[13] = flags;
	/* SYNs carry the window unscaled (RFC 7323 §2.2) */
	wnd = (flags & F_SYN) || !c->wscale_ok ? 65535 : wnd >> OUR_WSCALE;
	put16(t + 14, (uint16_t)(wnd > 65535 ? 65535 : wnd));
	t[16] = t[17] = t[18] = t[19] = 0;
	if (flags & F_SYN) {
		t[20] = 2;		/* MSS */
		t[21] = 4;
		put16(t + 22, (uint16_t)(s->mtu - 40));	/* what we can receive */
		/* window scale: offered on our SYN, echoed on a SYN+ACK only
		 * if the peer's SYN offered it */
		t[24] = 1;		/* NOP */
		t[25] = 3;
		t[26] = 3;
		t[27] = OUR_WSCALE;
		if ((flags & F_ACK) && !c->wscale_ok) {
			hl = 24;
			t[12] = (uint8_t)(hl / 4 << 4);
		}
	}
	if (n)
		c->gen(c, off, t + hl, n);
	sum = inet_l4_csum(s->l.ip, c->rip, IPPROTO_TCP, t, hl + n);
	put16(t + 16, sum);
	c->segs_tx++;
	return inet_send_ip(s, hl + n);
}

/* A SYN's options: MSS (536 without) and window scale. */
static void syn_options(struct tcp_conn *c, const uint8_t *seg, uint32_t hl)
{
	c->mss = 536;
	c->wscale_ok = false;
	c->snd_wscale = 0;
	for (uint32_t i = 20; i < hl;) {
		uint8_t k = seg[i];

		if (k == 0)
			break;
		if (k == 1) {
			i++;
			continue;
		}
		if (i + 1 >= hl || seg[i + 1] < 2 || i + seg[i + 1] > hl)
			break;
		if (k == 2 && seg[i + 1] == 4)
			c->mss = get16(seg + i + 2);
		if (k == 3 && seg[i + 1] == 3) {
			c->wscale_ok = true;
			c->snd_wscale = seg[i + 2] > 14 ? 14 : seg[i + 2];
		}
		i += seg[i + 1];
	}
}

static void fail(struct tcp_conn *c, const char *why)
{
	c->state = TCP_FAILED;
	c->err = why;
	c->rto_at = 0;
}

void tcp_listen(struct inet *s, struct tcp_conn *c, uint16_t port)
{
	void *app = c->app;
	void (*gen)(struct tcp_conn *, uint64_t, uint8_t *, uint32_t) = c->gen;
	int (*sink)(struct tcp_conn *, uint64_t, const uint8_t *, uint32_t) = c->sink;

	memset(c, 0, sizeof(*c));
	c->app = app;
	c->gen = gen;
	c->sink = sink;
	c->state = TCP_LISTEN;
	c->lport = port;
	c->rto_ms = 300;
	c->max_segs = 16;	/* > 64 KiB in flight at 8961-byte segments */
	s->tcp = c;
}

int tcp_connect(struct inet *s, struct tcp_conn *c, const uint8_t *dmac,
		uint32_t dst, uint16_t lport, uint16_t dport)
{
	tcp_listen(s, c, lport);
	c->state = TCP_SYN_SENT;
	c->rip = dst;
	c->rport = dport;
	memcpy(c->rmac, dmac, 6);
	c->iss = (uint32_t)(rdtsc() * 0x9E3779B1u);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss + 1;
	arm(s, c);
	return send_seg(s, c, F_SYN, c->iss, 0, 0);
}

static uint32_t fin_seq(const struct tcp_conn *c)
{
	return c->iss + 1 + (uint32_t)c->snd_len;
}

/* An ACK from the peer: advances snd_una (and notices our FIN's ACK). */
static void take_ack(struct inet *s, struct tcp_conn *c, uint32_t ack, uint32_t wnd)
{
	if (seq_lt(c->snd_max, ack))
		return;			/* acks what we never sent */
	c->snd_wnd = wnd;
	if (!seq_lt(c->snd_una, ack))
		return;
	c->snd_una = ack;
	if (seq_lt(c->snd_nxt, ack))
		c->snd_nxt = ack;	/* after a go-back, the originals arrived */
	/* (ack <= snd_max above: our FIN went out, maybe before a go-back) */
	if (c->snd_close && ack == fin_seq(c) + 1)
		c->fin_acked = c->fin_sent = true;
	if (c->snd_una == c->snd_max)
		c->rto_at = 0;
	else
		arm(s, c);
}

void tcp_input(struct inet *s, const uint8_t *eth, const uint8_t *ip, const uint8_t *seg, uint32_t len)
{
	struct tcp_conn *c = s->tcp;
	uint32_t src, hl, seq, ack, n;
	uint8_t flags;

	memcpy(&src, ip + 12, 4);
	if (len < 20 || (hl = (seg[12] >> 4) * 4u) < 20 || hl > len ||
	    inet_l4_csum(src, s->l.ip, IPPROTO_TCP, seg, len)) {
		s->st.rx_bad++;
		if (c)
			c->rx_bad++;
		return;
	}
	if (!c || get16(seg + 2) != c->lport ||
	    (c->state != TCP_LISTEN && (src != c->rip || get16(seg) != c->rport))) {
		s->st.rx_other++;
		return;
	}
	c->segs_rx++;
	flags = seg[13];
	seq = get32(seg + 4);
	ack = get32(seg + 8);
	n = len - hl;

	if (c->state == TCP_LISTEN) {
		if ((flags & (F_SYN | F_ACK | F_RST | F_FIN)) != F_SYN)
			return;
		c->rip = src;
		c->rport = get16(seg);
		memcpy(c->rmac, eth + 6, 6);	/* the router's for a routed peer */
		c->irs = seq;
		c->rcv_nxt = seq + 1;
		syn_options(c, seg, hl);
		c->snd_wnd = get16(seg + 14);
		c->iss = (uint32_t)(rdtsc() * 0x9E3779B1u);
		c->snd_una = c->snd_nxt = c->snd_max = c->iss + 1;
		c->state = TCP_SYN_RCVD;
		arm(s, c);
		send_seg(s, c, F_SYN | F_ACK, c->iss, 0, 0);
		return;
	}
	if (flags & F_RST) {
		if (c->state == TCP_SYN_SENT ? ((flags & F_ACK) && ack == c->iss + 1) : seq == c->rcv_nxt)
			fail(c, "connection reset by the peer");
		return;
	}
	if (c->state == TCP_SYN_SENT) {
		if ((flags & (F_SYN | F_ACK)) != (F_SYN | F_ACK) || ack != c->iss + 1)
			return;
		c->irs = seq;
		c->rcv_nxt = seq + 1;
		syn_options(c, seg, hl);
		c->snd_wnd = get16(seg + 14);
		c->snd_una = ack;
		c->rto_at = 0;
		c->state = TCP_OPEN;
		send_seg(s, c, F_ACK, c->snd_nxt, 0, 0);
		return;
	}
	if (c->state == TCP_SYN_RCVD) {
		if (flags & F_SYN) {		/* our SYN+ACK was lost */
			send_seg(s, c, F_SYN | F_ACK, c->iss, 0, 0);
			return;
		}
		if (!(flags & F_ACK) || ack != c->iss + 1)
			return;
		c->state = TCP_OPEN;
		c->rto_at = 0;
	}
	if (c->state != TCP_OPEN || !(flags & F_ACK))
		return;
	take_ack(s, c, ack, (uint32_t)get16(seg + 14) << (c->wscale_ok ? c->snd_wscale : 0));
	if (n || (flags & F_FIN)) {
		if (seq != c->rcv_nxt || c->fin_rcvd) {
			c->rx_dup++;		/* out of order or again: say where we are */
		} else {
			if (n && c->sink(c, c->rcv_bytes, seg + hl, n)) {
				fail(c, "received data failed the application's check");
				return;
			}
			c->rcv_nxt += n;
			c->rcv_bytes += n;
			if (flags & F_FIN) {
				c->fin_rcvd = true;
				c->rcv_nxt++;
			}
		}
		send_seg(s, c, F_ACK, c->snd_nxt, 0, 0);
	}
	if ((c->fin_rcvd || c->rcv_done) && c->fin_acked)
		c->state = TCP_DONE;
}

void tcp_tick(struct inet *s)
{
	struct tcp_conn *c = s->tcp;
	uint32_t mss, limit;

	if (!c || c->state == TCP_LISTEN || c->state >= TCP_DONE)
		return;
	if (c->rto_at && inet_expired(c->rto_at)) {
		c->retransmits++;
		arm(s, c);
		if (c->state == TCP_SYN_SENT) {
			send_seg(s, c, F_SYN, c->iss, 0, 0);
			return;
		}
		if (c->state == TCP_SYN_RCVD) {
			send_seg(s, c, F_SYN | F_ACK, c->iss, 0, 0);
			return;
		}
		c->snd_nxt = c->snd_una;	/* go back N */
		if (!c->fin_acked)
			c->fin_sent = false;
	}
	if (c->state != TCP_OPEN)
		return;
	mss = c->mss < s->mtu - 40 ? c->mss : s->mtu - 40;
	limit = c->snd_wnd < c->max_segs * mss ? c->snd_wnd : c->max_segs * mss;
	for (;;) {
		uint64_t off = c->snd_nxt - (c->iss + 1);
		uint32_t n, flight = c->snd_nxt - c->snd_una;

		if (off >= c->snd_len || c->fin_sent)
			break;
		n = c->snd_len - off < mss ? (uint32_t)(c->snd_len - off) : mss;
		if (flight + n > limit)
			break;
		if (send_seg(s, c, F_ACK | F_PSH, c->snd_nxt, off, n))
			break;
		c->snd_nxt += n;
		if (c->snd_nxt - c->snd_una > c->max_flight)
			c->max_flight = c->snd_nxt - c->snd_una;
		if (seq_lt(c->snd_max, c->snd_nxt))
			c->snd_max = c->snd_nxt;
		if (!c->rto_at)
			arm(s, c);
	}
	if (c->snd_close && !c->fin_sent && c->snd_nxt == fin_seq(c) && seq_le(c->snd_nxt - c->snd_una, limit)) {
		if (send_seg(s, c, F_ACK | F_FIN, c->snd_nxt, 0, 0))
			return;
		c->fin_sent = true;
		c->snd_nxt++;
		if (seq_lt(c->snd_max, c->snd_nxt))
			c->snd_max = c->snd_nxt;
		if (!c->rto_at)
			arm(s, c);
	}
	if ((c->fin_rcvd || c->rcv_done) && c->fin_acked)
		c->state = TCP_DONE;
}
