/* netdev: the vhost-user-net backend of one ENI (see netdev.h). Virtio 1.2
 * §5.1: TX chains are device-readable, a 12-byte virtio_net_hdr then the
 * frame; RX chains are device-writable, and with MRG_RXBUF one frame may
 * span several of them, num_buffers in the first header saying how many. No
 * offloads are offered (no CSUM/GSO), so every header field but num_buffers
 * is zero both ways. */
#include "netdev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define VIRTIO_NET_F_MTU       3
#define VIRTIO_NET_F_MAC       5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS    16
#define MAX_RX_BUFS            64   /* receive buffers one frame may span */

struct rxslot {
	uint32_t len;
	uint8_t data[FRAME_MAX_LEN];
};

struct netdev {
	struct vu_dev vu;
	struct vu_dev_ops ops;
	unsigned int eni;
	const struct vpc_eni *cfg;
	struct dp_counters *c;
	int listen_fd;
	bool connected;
	struct rxslot *backlog;
	unsigned int head, count;
	struct vq_chain chain, first;
	uint8_t txbuf[FRAME_MAX_LEN];
};

static int get_config(struct vu_dev *vu, uint8_t *buf, uint32_t off, uint32_t len)
{
	const struct netdev *n = vu->priv;
	/* struct virtio_net_config: mac, status, max_virtqueue_pairs, mtu */
	uint8_t cfg[12] = { 0 };

	memcpy(cfg, n->cfg->mac, 6);
	cfg[6] = 1;                               /* VIRTIO_NET_S_LINK_UP */
	cfg[8] = 1;                               /* one queue pair */
	cfg[10] = (uint8_t)n->cfg->mtu;           /* little endian (VERSION_1) */
	cfg[11] = (uint8_t)(n->cfg->mtu >> 8);
	if ((uint64_t)off + len > sizeof(cfg))
		return -EINVAL;
	memcpy(buf, cfg + off, len);
	return 0;
}

int netdev_create(struct netdev **out, unsigned int eni, const struct vpc_eni *cfg,
		  int listen_fd, int sock, struct dp_counters *c)
{
	struct netdev *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->backlog = calloc(NETDEV_BACKLOG, sizeof(*n->backlog));
	if (!n->backlog) {
		free(n);
		return -ENOMEM;
	}
	n->eni = eni;
	n->cfg = cfg;
	n->c = c;
	n->listen_fd = listen_fd;
	n->ops.features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MAC) |
			  (1ull << VIRTIO_NET_F_MRG_RXBUF) | (1ull << VIRTIO_NET_F_STATUS) |
			  (1ull << VIRTIO_NET_F_MTU);
	n->ops.protocol_features = (1ull << VU_PROTOCOL_F_REPLY_ACK) | (1ull << VU_PROTOCOL_F_CONFIG);
	n->ops.num_queues = 2;
	n->ops.get_config = get_config;
	/* Single-threaded: nothing is in flight between calls, no quiesce. */
	vu_dev_init(&n->vu, sock, &n->ops, n);
	n->connected = sock >= 0;
	*out = n;
	return 0;
}

static void disconnect(struct netdev *n, const char *why)
{
	/* Two formats, not the quotes passed as %s values: the log module
	 * escapes a value's quotes, which left broken=\"...\" in the line. */
	if (n->vu.broken)
		log_info("frontend gone", "eni=%s reason=\"%s\" broken=\"%s\"", n->cfg->id, why,
			 n->vu.why);
	else
		log_info("frontend gone", "eni=%s reason=\"%s\"", n->cfg->id, why);
	vu_dev_reset(&n->vu);
	close(n->vu.sock);
	n->vu.sock = -1;
	n->connected = false;
	n->head = n->count = 0;   /* frames for the old guest are not for the next */
}

void netdev_destroy(struct netdev *n)
{
	if (!n)
		return;
	if (n->connected)
		disconnect(n, "shutdown");
	if (n->listen_fd >= 0)
		close(n->listen_fd);
	free(n->backlog);
	free(n);
}

bool netdev_connected(const struct netdev *n) { return n->connected; }

unsigned int netdev_pollfds(struct netdev *n, struct pollfd *p)
{
	unsigned int k = 0;

	if (!n->connected) {
		if (n->listen_fd >= 0)
			p[k++] = (struct pollfd){ .fd = n->listen_fd, .events = POLLIN };
		return k;
	}
	p[k++] = (struct pollfd){ .fd = n->vu.sock, .events = POLLIN };
	for (unsigned int q = 0; q < 2; q++)
		if (vu_dev_ring_live(&n->vu, q))
			p[k++] = (struct pollfd){ .fd = n->vu.vr[q].kick_fd, .events = POLLIN };
	return k;
}

void netdev_events(struct netdev *n, const struct pollfd *p, unsigned int np)
{
	if (!np)
		return;
	if (!n->connected) {
		if (p[0].revents & POLLIN) {
			int s = accept4(n->listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (s >= 0) {
				vu_dev_init(&n->vu, s, &n->ops, n);
				n->connected = true;
				log_info("frontend connected", "eni=%s", n->cfg->id);
			}
		}
		return;
	}
	for (unsigned int i = 1; i < np; i++) {
		uint64_t v;

		if (p[i].revents & POLLIN)
			(void)!read(p[i].fd, &v, sizeof(v));
	}
	if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
		int rc = vu_dev_dispatch(&n->vu);

		if (rc <= 0)
			disconnect(n, rc == 0 ? "closed" : "protocol error");
	}
}

unsigned int netdev_tx(struct netdev *n, struct dp *dp, unsigned int budget)
{
	struct vu_vring *vr = &n->vu.vr[NETDEV_TXQ];
	struct vq_chain *c = &n->chain;
	unsigned int done = 0;

	if (!n->connected)
		return 0;
	while (done < budget && vu_dev_ring_live(&n->vu, NETDEV_TXQ)) {
		int rc = vq_pop(&vr->vq, c);
		size_t len;

		if (rc < 0) {
			n->c->drop_bad_header++;
			vu_dev_ring_broken(&n->vu, NETDEV_TXQ, vr->vq.why);
			break;
		}
		if (rc == 0)
			break;
		done++;
		/* §5.1.6.2: a TX chain is readable only and starts with the
		 * whole header. Anything else is a broken driver: its ring
		 * stops, nobody else's. */
		if (c->nin || c->out_bytes < NETDEV_HDR_LEN) {
			n->c->drop_bad_header++;
			vu_dev_ring_broken(&n->vu, NETDEV_TXQ,
					   "tx chain is writable or shorter than the 12-byte header");
			break;
		}
		len = (size_t)(c->out_bytes - NETDEV_HDR_LEN);
		if (len > FRAME_MAX_LEN) {
			n->c->tx_frames++;
			n->c->drop_oversize++;
		} else {
			/* Copied before parsing: the guest can rewrite its
			 * memory while we look (no double fetch). */
			vq_iov_to_buf(c->iov, c->nout, NETDEV_HDR_LEN, n->txbuf, len);
			vq_push(&vr->vq, c->head, 0);
			dp_input(dp, n->eni, n->txbuf, len);
			continue;
		}
		vq_push(&vr->vq, c->head, 0);
	}
	if (done)
		vu_dev_notify(&n->vu, NETDEV_TXQ);
	return done;
}

int netdev_enqueue(struct netdev *n, const uint8_t *frame, size_t len)
{
	struct rxslot *s;

	if (!n->connected || !vu_dev_ring_live(&n->vu, NETDEV_RXQ) || n->count == NETDEV_BACKLOG ||
	    len > FRAME_MAX_LEN)
		return -ENOBUFS;
	s = &n->backlog[(n->head + n->count) % NETDEV_BACKLOG];
	memcpy(s->data, frame, len);
	s->len = (uint32_t)len;
	n->count++;
	return 0;
}

/* Put one frame into receive buffers. 1: done; 0: not enough buffers yet
 * (those popped are given back, the frame waits); 2: the buffers are so
 * small that the frame would need more than MAX_RX_BUFS (dropped, the
 * buffers given back); -1: the ring broke. */
static int rx_one(struct netdev *n, const struct rxslot *s)
{
	struct vq *vq = &n->vu.vr[NETDEV_RXQ].vq;
	bool mrg = n->vu.features & (1ull << VIRTIO_NET_F_MRG_RXBUF);
	size_t total = NETDEV_HDR_LEN + s->len, off = 0;
	uint16_t heads[MAX_RX_BUFS];
	uint32_t lens[MAX_RX_BUFS];
	uint8_t hdr[NETDEV_HDR_LEN] = { 0 };
	unsigned int nb = 0;

	while (off < total) {
		struct vq_chain *c = nb ? &n->chain : &n->first;
		size_t take;
		int rc;

		if (nb == MAX_RX_BUFS) {
			/* Buffers so small a frame needs more than 64: the frame
			 * is dropped, the buffers stay for smaller ones. */
			vq_unpop(vq, nb);
			return 2;
		}
		rc = vq_pop(vq, c);
		if (rc < 0) {
			/* Counted like a broken TX chain: the bad input is the
			 * guest's, whichever ring it posted it on. */
			n->c->drop_bad_header++;
			vu_dev_ring_broken(&n->vu, NETDEV_RXQ, vq->why);
			return -1;
		}
		if (rc == 0) {
			vq_unpop(vq, nb);
			return 0;
		}
		if (c->nout || c->in_bytes < NETDEV_HDR_LEN || (!mrg && c->in_bytes < total)) {
			n->c->drop_bad_header++;
			vu_dev_ring_broken(&n->vu, NETDEV_RXQ, mrg ?
					   "rx buffer is readable or smaller than the header" :
					   "rx chain is readable or too small for the frame (no MRG_RXBUF)");
			return -1;
		}
		take = c->in_bytes < total - off ? (size_t)c->in_bytes : total - off;
		if (nb == 0)       /* header written last, once num_buffers is known */
			vq_buf_to_iov(c->iov, c->nin, NETDEV_HDR_LEN, s->data, take - NETDEV_HDR_LEN);
		else
			vq_buf_to_iov(c->iov, c->nin, 0, s->data + off - NETDEV_HDR_LEN, take);
		heads[nb] = c->head;
		lens[nb] = (uint32_t)take;
		nb++;
		off += take;
	}
	hdr[10] = (uint8_t)nb;    /* num_buffers, little endian; 1 without MRG_RXBUF */
	vq_buf_to_iov(n->first.iov, n->first.nin, 0, hdr, NETDEV_HDR_LEN);
	for (unsigned int i = 0; i < nb; i++)
		vq_push(vq, heads[i], lens[i]);
	return 1;
}

unsigned int netdev_rx(struct netdev *n)
{
	unsigned int done = 0;

	while (n->connected && n->count && vu_dev_ring_live(&n->vu, NETDEV_RXQ)) {
		int rc = rx_one(n, &n->backlog[n->head]);

		if (rc <= 0)
			break;
		if (rc == 2)
			n->c->drop_rx_full++;
		n->head = (n->head + 1) % NETDEV_BACKLOG;
		n->count--;
		done++;
	}
	if (!vu_dev_ring_live(&n->vu, NETDEV_RXQ))
		n->head = n->count = 0;
	if (done)
		vu_dev_notify(&n->vu, NETDEV_RXQ);
	return done;
}
