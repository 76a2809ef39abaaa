/* netdev: one ENI's vhost-user-net device inside ward-net — the virtio-net
 * backend half (one RX and one TX queue, VERSION_1's 12-byte header,
 * MRG_RXBUF) on top of the shared vu_dev/virtq. TX chains are copied out of
 * guest memory before dp_input() sees them; frames for the guest wait in a
 * small per-ENI backlog until the driver posts receive buffers. A frontend
 * that breaks its rings stops its own ENI only. */
#ifndef WARD_NET_NETDEV_H
#define WARD_NET_NETDEV_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp.h"
#include "vpc.h"
#include "vu_dev.h"

#define NETDEV_RXQ 0
#define NETDEV_TXQ 1
#define NETDEV_HDR_LEN 12
#define NETDEV_BACKLOG 64          /* frames waiting for receive buffers */
#define NETDEV_POLLFDS 3           /* socket (or listener), kick RX, kick TX */

struct netdev;

/* Serve ENI `eni` (cfg->enis[eni]). Exactly one of listen_fd (a listening
 * unix socket: accept one frontend at a time) or sock (a connected one) is
 * >= 0; the netdev owns it. c is the ENI's counter block in the dp. */
int netdev_create(struct netdev **out, unsigned int eni, const struct vpc_eni *cfg,
		  int listen_fd, int sock, struct dp_counters *c);
void netdev_destroy(struct netdev *n);

/* Fill p[0..) with what to wait for; returns the count (<= NETDEV_POLLFDS). */
unsigned int netdev_pollfds(struct netdev *n, struct pollfd *p);
/* Handle the revents of those fds: accept, vhost-user messages, kicks. */
void netdev_events(struct netdev *n, const struct pollfd *p, unsigned int np);

/* Move up to budget transmitted frames into dp. Returns how many. */
unsigned int netdev_tx(struct netdev *n, struct dp *dp, unsigned int budget);
/* Queue a frame for the guest (dp's deliver callback). 0 or -ENOBUFS. */
int netdev_enqueue(struct netdev *n, const uint8_t *frame, size_t len);
/* Copy backlog frames into receive buffers. Returns how many. */
unsigned int netdev_rx(struct netdev *n);

bool netdev_connected(const struct netdev *n);

#endif
