/* guest/lib/virtio_net.h: minimal virtio-net driver (virtio 1.2 §5.1):
 * one rx and one tx queue, polled, no offloads. A skeleton for the later
 * ward-net tests. */
#ifndef GUEST_VIRTIO_NET_H
#define GUEST_VIRTIO_NET_H

#include "virtio.h"

#define VIRTIO_ID_NET		1
#define VIRTIO_NET_F_MAC	(1ull << 5)
#define VNET_RX_BUFS		16
#define VNET_BUF_SIZE		2048

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
	uint8_t *rx_bufs[VNET_RX_BUFS];
	uint8_t *tx_buf;
	bool tx_busy;
};

/* 0 or -VIRTIO_E*; rx buffers are posted, DRIVER_OK set. */
int vnet_open(struct vnet *n, int index);
/* Sends one Ethernet frame (<= VNET_BUF_SIZE - header) and waits for the
 * device to take it. 0, or -1 on a full/stuck ring or oversize frame. */
int vnet_send(struct vnet *n, const void *frame, uint32_t len);
/* Polls rx once: copies a frame into buf, returns its length, -1 if none.
 * The buffer is re-posted. */
int vnet_recv(struct vnet *n, void *buf, uint32_t len);

#endif
