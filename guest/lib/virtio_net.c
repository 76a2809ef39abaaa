/* guest/lib/virtio_net.c: polled virtio-net, rx queue 0 and tx queue 1.
 * Buffers are tied to descriptor indices (one descriptor per buffer), so
 * a used entry names its buffer without any search, and a used id the
 * driver never posted is caught. */
#include "virtio_net.h"
#include "io.h"
#include "mem.h"

#define NET_CFG_MAC		0
#define NET_CFG_MTU		10

/* Takes the next used entry if it names a buffer we posted: -1 if there
 * is none, -2 (entry skipped) if the device returned an id that is not in
 * flight, which virtq_get would otherwise splice into the free list twice. */
static int get_checked(struct virtq *q, bool *posted, uint32_t *len)
{
	uint32_t id;
	int head;

	if (q->used->idx == q->last_used)
		return -1;
	barrier();
	id = q->used->ring[q->last_used % q->size].id;
	if (id >= q->size || !posted[id]) {
		q->last_used++;
		return -2;
	}
	head = virtq_get(q, len);
	if (head >= 0)
		posted[head] = false;
	return head;
}

/* Posts the rx buffer that belongs to descriptor free_head. */
static int post_rx(struct vnet *n)
{
	uint16_t d = n->rx.free_head;
	struct virtq_buf b;

	if (!n->rx.num_free || d >= VNET_RX_BUFS)
		return -1;
	b = (struct virtq_buf){ n->rx_bufs[d], VNET_BUF_SIZE, true };
	n->rx_posted[d] = true;
	return virtq_add(&n->rx, &b, 1);
}

int vnet_open(struct vnet *n, int index)
{
	int r;

	memset(n, 0, sizeof(*n));
	r = virtio_pci_open(&n->vd, VIRTIO_ID_NET, index);
	if (r)
		return r;
	r = virtio_negotiate(&n->vd, VIRTIO_NET_F_MAC | VIRTIO_NET_F_MTU | VIRTIO_NET_F_MRG_RXBUF, 0);
	if (r)
		return r;
	if ((n->vd.features & VIRTIO_NET_F_MAC) && n->vd.device_cfg)
		for (int i = 0; i < 6; i++)
			n->mac[i] = virtio_cfg_read8(&n->vd, NET_CFG_MAC + i);
	if ((n->vd.features & VIRTIO_NET_F_MTU) && n->vd.device_cfg)
		n->mtu = virtio_cfg_read16(&n->vd, NET_CFG_MTU);
	n->max_frame = (n->vd.features & VIRTIO_NET_F_MRG_RXBUF) ? VNET_JUMBO_FRAME : VNET_MAX_FRAME;
	if ((r = virtq_setup(&n->vd, &n->rx, 0, VNET_RX_BUFS)) ||
	    (r = virtq_setup(&n->vd, &n->tx, 1, VNET_TX_BUFS))) {
		virtio_reset(&n->vd);
		return r;
	}
	for (int i = 0; i < n->tx.size; i++)
		n->tx_bufs[i] = mem_alloc(VNET_HDR_LEN + VNET_JUMBO_FRAME, 64);
	for (int i = 0; i < n->rx.size; i++)
		n->rx_bufs[i] = mem_alloc(VNET_BUF_SIZE, 64);
	for (int i = 0; i < n->rx.size; i++) {
		if (post_rx(n) < 0) {
			virtio_reset(&n->vd);
			return -VIRTIO_EQUEUE;
		}
	}
	virtio_driver_ok(&n->vd);
	virtq_kick(&n->rx);
	return 0;
}

unsigned int vnet_tx_pending(struct vnet *n)
{
	int r;

	while (n->tx_inflight && (r = get_checked(&n->tx, n->tx_posted, NULL)) != -1)
		if (r >= 0)
			n->tx_inflight--;
	return n->tx_inflight;
}

int vnet_queue(struct vnet *n, const void *frame, uint32_t len)
{
	struct virtq_buf b;
	uint16_t d;
	uint8_t *p;

	if (n->tx_inflight >= n->tx.size / 2)
		vnet_tx_pending(n);
	d = n->tx.free_head;
	if (len > VNET_JUMBO_FRAME || !n->tx.num_free || d >= VNET_TX_BUFS)
		return -1;
	p = n->tx_bufs[d];
	/* No offloads negotiated: an all-zero header (gso_type NONE). */
	memset(p, 0, VNET_HDR_LEN);
	memcpy(p + VNET_HDR_LEN, frame, len);
	b = (struct virtq_buf){ p, len + VNET_HDR_LEN, false };
	if (virtq_add(&n->tx, &b, 1) < 0)
		return -1;
	n->tx_posted[d] = true;
	n->tx_inflight++;
	return 0;
}

void vnet_flush(struct vnet *n)
{
	virtq_kick(&n->tx);
}

int vnet_send(struct vnet *n, const void *frame, uint32_t len)
{
	vnet_tx_pending(n);
	if (vnet_queue(n, frame, len))
		return -1;
	vnet_flush(n);
	return 0;
}

int vnet_recv(struct vnet *n, void *buf, uint32_t len)
{
	bool mrg = n->vd.features & VIRTIO_NET_F_MRG_RXBUF;
	uint32_t got_len, total = 0, id;
	uint16_t nbufs = 1, ready;
	int head, r = 0;

	ready = (uint16_t)(n->rx.used->idx - n->rx.last_used);
	if (!ready)
		return -1;
	barrier();
	id = n->rx.used->ring[n->rx.last_used % n->rx.size].id;
	if (mrg && id < n->rx.size && n->rx_posted[id] &&
	    n->rx.used->ring[n->rx.last_used % n->rx.size].len >= VNET_HDR_LEN) {
		nbufs = ((const struct virtio_net_hdr *)n->rx_bufs[id])->num_buffers;
		if (nbufs && nbufs <= n->rx.size && ready < nbufs)
			return -1;	/* the rest of the frame is not published yet */
		if (!nbufs || nbufs > n->rx.size)
			nbufs = 1;	/* consume this one, report it malformed */
	}
	for (uint16_t k = 0; k < nbufs; k++) {
		const uint8_t *p;
		uint32_t skip = k ? 0 : VNET_HDR_LEN, take;

		head = get_checked(&n->rx, n->rx_posted, &got_len);
		if (head < 0) {
			r = -2;
			break;
		}
		p = n->rx_bufs[head];
		/* The length and count are the device's word: bound them by
		 * what we posted and what we negotiated. */
		if (got_len < skip || got_len > VNET_BUF_SIZE ||
		    (!k && (mrg ? ((const struct virtio_net_hdr *)p)->num_buffers != nbufs
			       : ((const struct virtio_net_hdr *)p)->num_buffers != 1))) {
			r = -2;
			post_rx(n);
			continue;
		}
		take = got_len - skip;
		if (total < len)
			memcpy((uint8_t *)buf + total, p + skip, take < len - total ? take : len - total);
		total += take;
		post_rx(n);
	}
	virtq_kick(&n->rx);
	return r ? r : (int)total;
}
