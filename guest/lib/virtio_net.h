/* guest/lib/virtio_net.h: minimal virtio-net driver (virtio 1.2 §5.1):
 * one rx and one tx queue, polled, no offloads, a 12-byte header
 * (VERSION_1). MRG_RXBUF when offered: a frame larger than one 2 KiB rx
 * buffer (up to a 9001-byte MTU) spans num_buffers of them. */
#ifndef GUEST_VIRTIO_NET_H
#define GUEST_VIRTIO_NET_H

#include "virtio.h"

#define VIRTIO_ID_NET		1
#define VIRTIO_NET_F_MTU	(1ull << 3)
#define VIRTIO_NET_F_MAC	(1ull << 5)
#define VIRTIO_NET_F_MRG_RXBUF	(1ull << 15)
#define VNET_RX_BUFS		16
#define VNET_TX_BUFS		16
/* §5.1.6.3.1: without MRG_RXBUF or GSO, rx buffers of >= 1526 bytes. */
#define VNET_BUF_SIZE		2048
#define VNET_HDR_LEN		12
/* The largest frame without MRG_RXBUF (one rx buffer)... */
#define VNET_MAX_FRAME		(VNET_BUF_SIZE - VNET_HDR_LEN)
/* ...and with it: 9001-byte MTU + Ethernet header, rounded up. Tx buffers
 * are this big either way. */
#define VNET_JUMBO_FRAME	9216

/* With VERSION_1 the header always has num_buffers (12 bytes). */
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

struct vnet {
	struct virtio_dev vd;
	struct virtq rx, tx;
	uint8_t mac[6];
	uint16_t mtu;			/* from the config space with F_MTU, else 0 */
	uint32_t max_frame;		/* what vnet_recv can return */
	uint8_t *rx_bufs[VNET_RX_BUFS];	/* by descriptor index */
	uint8_t *tx_bufs[VNET_TX_BUFS];	/* by descriptor index */
	bool rx_posted[VNET_RX_BUFS], tx_posted[VNET_TX_BUFS];
	uint16_t tx_inflight;
};

/* Opens the index-th virtio-net device: VERSION_1 required, MAC, MTU and
 * MRG_RXBUF taken if offered (then n->mac and n->mtu are the device's),
 * rx buffers posted, DRIVER_OK.
 * 0, -VIRTIO_ENODEV, -VIRTIO_EFEATURES or -VIRTIO_EQUEUE. */
int vnet_open(struct vnet *n, int index);

/* Queues one Ethernet frame (<= VNET_JUMBO_FRAME) and kicks; does not wait.
 * 0, or -1 if the frame is too big or every tx buffer is in flight. */
int vnet_send(struct vnet *n, const void *frame, uint32_t len);

/* vnet_send without the kick, for batches: vnet_flush() kicks once. */
int vnet_queue(struct vnet *n, const void *frame, uint32_t len);
void vnet_flush(struct vnet *n);

/* Collects finished transmissions; returns how many are still in flight. */
unsigned int vnet_tx_pending(struct vnet *n);

/* Polls rx once. Copies a frame (at most len bytes) into buf and returns
 * its full length; -1 if nothing (or not yet all buffers of a merged
 * frame) arrived; -2 if the device returned something malformed (unknown
 * buffer, bad length, num_buffers not 1 without MRG_RXBUF, or 0 or more
 * than the ring with it). Buffers that came back are re-posted either way. */
int vnet_recv(struct vnet *n, void *buf, uint32_t len);

#endif
