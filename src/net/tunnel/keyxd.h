/* keyxd: the underlay key service of one card. A thread that answers key
 * exchanges on a listening TCP socket (passed in: the sandboxed card never
 * binds) and starts one toward every peer this host initiates for
 * (tunnel_initiates) whenever its key is missing or due for rotation
 * (tunnel_peer_rekey_due). Each exchange has one deadline, so a peer that
 * connects and stalls or trickles delays the service by at most that much. */
#ifndef WARD_NET_KEYXD_H
#define WARD_NET_KEYXD_H

#include "keyx.h"

struct keyxd_cfg {
	struct keyx *kx;
	struct tunnel *t;
	int listen_fd;          /* listening TCP socket; stays the caller's */
	uint16_t port;          /* the peers' key-exchange port */
	int io_timeout_ms;      /* whole exchange, connect included (0: 5000) */
	unsigned check_ms;      /* how often rotation is due-checked (0: 1000) */
	/* Seconds on a monotonic clock (NULL: CLOCK_MONOTONIC). Tests pass
	 * their own so that rotation does not wait on real time. */
	uint64_t (*now)(void *arg);
	void *now_arg;
	/* A connected stream socket to addr:port (network byte order addr,
	 * host order port), or -errno. NULL: socket() + connect() here. A
	 * sandboxed card passes one that asks a helper outside its sandbox. */
	int (*dial)(void *arg, uint32_t addr, uint16_t port);
	void *dial_arg;
};

struct keyxd;

/* 0 or -errno. The service runs until keyxd_stop. */
int keyxd_start(const struct keyxd_cfg *cfg, struct keyxd **out);
/* Check for due exchanges now instead of at the next tick. */
void keyxd_poke(struct keyxd *d);
/* Counters: exchanges completed and failed, as initiator and responder. */
struct keyxd_stats {
	uint64_t init_ok, init_fail, resp_ok, resp_fail;
};
void keyxd_stats_read(struct keyxd *d, struct keyxd_stats *out);
void keyxd_stop(struct keyxd *d);

#endif
