/* underlay: ward-net's side of the encrypted underlay (src/net/tunnel). It
 * owns the tunnel (mapping table, peers, keys), the key-exchange service
 * (keyxd, its own thread) and the two sockets the controller passes in: the
 * UDP socket that carries Geneve and the listening socket of the key
 * exchange. The data path asks it where a destination lives, hands it the
 * frames for other hosts, and gets the frames it opened (docs/net.md,
 * "Underlay: joining the data path"). */
#ifndef WARD_NET_UNDERLAY_H
#define WARD_NET_UNDERLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp.h"
#include "sandbox.h"
#include "vpc.h"

struct underlay_cfg {
	const char *cert, *key, *ca;  /* this host's certificate (CN = host id) and CA */
	int udp_fd;                   /* bound UDP socket, port 6081, on the underlay address */
	int keyx_fd;                  /* listening TCP socket of the key exchange */
	uint16_t keyx_port;           /* the peers' key-exchange port */
	bool debug_plaintext;         /* Geneve without encryption: debug only, logged */
};

/* Underlay counters not in tunnel_stats (those are the tunnel's own). */
#define UNDERLAY_COUNTERS(X) \
	X(tx_sent) X(tx_send_fail) X(rx_datagrams) X(rx_no_vpc) X(rx_not_local) \
	X(rx_bad_frame) X(rx_filtered)

struct underlay;

/* Before lockdown: read the certificates, make the tunnel, fork the dialer
 * (the one process that may still connect to peers' key exchange). The
 * VPC config must outlive the underlay. 0 or -errno. */
int underlay_open(const struct underlay_cfg *c, const struct vpc_cfg *cfg,
		  const struct sandbox_cfg *sb, struct underlay **out);
/* After lockdown: start the key-exchange thread. */
int underlay_start(struct underlay *u);
void underlay_close(struct underlay *u);
int underlay_fd(const struct underlay *u);
const char *underlay_local_id(const struct underlay *u);

/* Control plane (netctl PEER and MAP). -errno with a reason in err. */
int underlay_peer(struct underlay *u, const char *host, uint32_t addr, char *err, size_t errlen);
int underlay_map(struct underlay *u, const char *vpc, uint32_t vni, uint32_t ip, const char *host,
		 char *err, size_t errlen);

/* netctl UNMAP (only if host owns it now) and PEER_DEL (the host, its keys
 * and its mappings). */
int underlay_unmap(struct underlay *u, const char *vpc, uint32_t vni, uint32_t ip, const char *host,
		   char *err, size_t errlen);
int underlay_peer_del(struct underlay *u, const char *host, char *err, size_t errlen);

/* dp's route hook: where does ip of VPC index vpc live? */
enum dp_where underlay_where(void *u, unsigned int vpc, uint32_t ip);
/* dp's send hook: seal and send a frame of VPC vpc (its IPv4 destination
 * is remote). 0 or -errno (counted). */
int underlay_send(void *u, unsigned int vpc, const uint8_t *frame, size_t len);
/* Drain the UDP socket: open each datagram and hand its frame to
 * dp_input_remote(). Returns the datagrams read. */
unsigned int underlay_rx(struct underlay *u, struct dp *dp);

/* "key=value ..." of every underlay counter, for the SIGUSR1 dump. */
void underlay_log_counters(struct underlay *u);

#endif
