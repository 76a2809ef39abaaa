/* guest/lib/tcp.h: one TCP connection for the guest kit (RFC 9293 subset):
 * active or passive open, MSS and window scale options, in-order receive (anything else is
 * answered with a duplicate ACK), go-back-N retransmission on a fixed RTO,
 * FIN both ways. The byte stream is not buffered: the application gives a
 * generator for the bytes it sends (by stream offset, so a retransmission
 * regenerates them) and a sink that checks the bytes it receives. */
#ifndef GUEST_TCP_H
#define GUEST_TCP_H

#include <stdbool.h>
#include <stdint.h>

struct inet;

enum tcp_state {
	TCP_CLOSED, TCP_LISTEN, TCP_SYN_SENT, TCP_SYN_RCVD, TCP_OPEN,
	TCP_DONE,		/* both FINs sent, received and acknowledged (or
				 * ours acked and c->rcv_done) */
	TCP_FAILED,		/* c->err says why */
};

struct tcp_conn {
	enum tcp_state state;
	uint32_t rip;			/* network order */
	uint16_t lport, rport;		/* host order */
	uint8_t rmac[6];
	uint32_t iss, irs;
	uint32_t snd_una, snd_nxt, snd_max, snd_wnd;
	uint16_t mss;			/* the peer's, from its SYN (536 without) */
	bool wscale_ok;			/* both SYNs carried window scale */
	uint8_t snd_wscale;		/* the peer's shift for the windows it sends */
	uint64_t snd_len;		/* stream bytes to send; may grow */
	bool snd_close;			/* FIN once snd_len bytes are sent */
	bool fin_sent, fin_acked;
	uint32_t rcv_nxt;
	uint64_t rcv_bytes;
	bool fin_rcvd;
	bool rcv_done;			/* the application needs nothing more: done
					 * once our FIN is acked, with or without theirs */
	uint64_t rto_at;		/* TSC; 0 = no timer */
	uint32_t rto_ms;
	uint32_t max_segs;		/* segments in flight at most */
	/* application */
	void (*gen)(struct tcp_conn *c, uint64_t off, uint8_t *dst, uint32_t len);
	int (*sink)(struct tcp_conn *c, uint64_t off, const uint8_t *src, uint32_t len);
	void *app;
	const char *err;
	/* counters */
	uint64_t segs_tx, segs_rx, retransmits, rx_dup, rx_bad;
	uint32_t max_flight;		/* most bytes ever in flight */
};

/* Starts listening on port (host order); s->tcp = c. */
void tcp_listen(struct inet *s, struct tcp_conn *c, uint16_t port);

/* Active open to dst:dport via dmac (next hop) from lport; s->tcp = c. */
int tcp_connect(struct inet *s, struct tcp_conn *c, const uint8_t *dmac,
		uint32_t dst, uint16_t lport, uint16_t dport);

/* Called by inet_poll: a TCP segment (checksum not yet verified). */
void tcp_input(struct inet *s, const uint8_t *eth, const uint8_t *ip, const uint8_t *seg, uint32_t len);

/* Called by inet_poll on every round: timers and sending. */
void tcp_tick(struct inet *s);

#endif
