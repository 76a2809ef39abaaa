/* imds_int: state shared by imds.c (HTTP semantics, tokens, metadata) and
 * imds_tcp.c (the TCP responder); nothing else includes it. */
#ifndef WARD_NET_IMDS_INT_H
#define WARD_NET_IMDS_INT_H

#include "imds.h"
#include "imds_http.h"

#define IMDS_REPLY_MAX 6144      /* the largest reply: credentials JSON + head */
#define IMDS_WINDOW    8192      /* what the card advertises: more than a request may be */

enum imds_state { C_FREE = 0, C_SYN_RCVD, C_OPEN, C_REPLIED };

struct imds_conn {
	enum imds_state st;
	uint32_t cip;                /* the client: ENI address and port */
	uint16_t cport;
	uint16_t mss;                /* what we send per segment */
	uint32_t irs, rcv_nxt;       /* client's initial and next expected sequence */
	uint32_t iss;                /* ours; reply byte k has iss + 1 + k, FIN iss + 1 + len */
	uint32_t snd_una;            /* oldest unacknowledged */
	uint32_t sent;               /* reply bytes sent so far (FIN after all of them) */
	uint16_t snd_wnd;            /* client's window (no scaling is offered) */
	bool fin_sent, fin_rcvd, ttl1;
	uint64_t last;               /* monotonic seconds of the last segment */
	size_t len;                  /* request bytes so far, or reply bytes once C_REPLIED */
	char buf[IMDS_REPLY_MAX];    /* the request head, then the reply; wiped when freed */
};

struct imds_secret {             /* one locked page per ENI */
	char secret[NETCTL_SECRET_MAX + 1];
	char token[NETCTL_STOKEN_MAX + 1];
};

struct imds_eni {
	bool meta;                   /* ENI_META received */
	char instance[NETCTL_ID_LEN + 1], az[NETCTL_ID_LEN + 1], role[NETCTL_ID_LEN + 1];
	char akid[NETCTL_AKID_LEN + 1], updated[NETCTL_TIME_LEN + 1], expires[NETCTL_TIME_LEN + 1];
	uint32_t device_number;
	struct imds_secret *sec;
	uint64_t bucket_mtok;        /* throttle tokens, in thousandths */
	uint64_t bucket_ms;          /* when it was last refilled */
	uint64_t nonce;              /* tokens minted */
	struct imds_conn conns[IMDS_CONNS];
};

struct imds {
	const struct vpc_cfg *cfg;
	uint8_t *key;                /* 32 bytes, locked, never logged */
	size_t key_len;
	struct imds_secret *secrets; /* locked: one page per ENI */
	size_t secrets_len;
	unsigned int rate, burst;
	uint64_t isn_count;
	struct imds_eni e[VPC_MAX_ENIS];
};

/* HMAC-SHA256 under the card's key of the parts (NULL-terminated list of
 * (pointer, length) pairs). */
void imds_mac(const struct imds *m, uint8_t out[32], const void *a, size_t al, const void *b, size_t bl,
	      const void *c, size_t cl);

/* The per-instance token bucket: may ENI eni open one more connection? */
bool imds_throttle_take(struct imds *m, unsigned int eni, uint64_t now_ms);

uint64_t imds_now_ms(void);

#endif
