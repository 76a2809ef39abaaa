/* guest/lib/virtio_net.c: polled virtio-net, rx queue 0 and tx queue 1. */
#include "virtio_net.h"
#include "io.h"
#include "mem.h"

#define NET_CFG_MAC		0

static int post_rx(struct vnet *n, int i)
{
	struct virtq_buf b = { n->rx_bufs[i], VNET_BUF_SIZE, true };

	return virtq_add(&n->rx, &b, 1);
}

int vnet_open(struct vnet *n, int index)
{
	int r;

	r = virtio_pci_open(&n->vd, VIRTIO_ID_NET, index);
	if (r)
		return r;
	r = virtio_negotiate(&n->vd, VIRTIO_NET_F_MAC, 0);
	if (r)
		return r;
	if ((n->vd.features & VIRTIO_NET_F_MAC) && n->vd.device_cfg)
		for (int i = 0; i < 6; i++)
			n->mac[i] = virtio_cfg_read8(&n->vd, NET_CFG_MAC + i);
	if ((r = virtq_setup(&n->vd, &n->rx, 0, VNET_RX_BUFS)) ||
	    (r = virtq_setup(&n->vd, &n->tx, 1, 4))) {
		virtio_reset(&n->vd);
		return r;
	}
	n->tx_buf = mem_alloc(VNET_BUF_SIZE, 64);
	for (int i = 0; i < VNET_RX_BUFS && i < n->rx.size; i++) {
		n->rx_bufs[i] = mem_alloc(VNET_BUF_SIZE, 64);
		if (post_rx(n, i) < 0)
			return -VIRTIO_EQUEUE;
	}
	virtio_driver_ok(&n->vd);
	virtq_kick(&n->rx);
	return 0;
}

int vnet_send(struct vnet *n, const void *frame, uint32_t len)
{
	struct virtq_buf b;
	int head, got = -1;

	if (len > VNET_BUF_SIZE - sizeof(struct virtio_net_hdr))
		return -1;
	memset(n->tx_buf, 0, sizeof(struct virtio_net_hdr));
	memcpy(n->tx_buf + sizeof(struct virtio_net_hdr), frame, len);
	b = (struct virtq_buf){ n->tx_buf, len + sizeof(struct virtio_net_hdr), false };
	head = virtq_add(&n->tx, &b, 1);
	if (head < 0)
		return -1;
	virtq_kick(&n->tx);
	for (uint32_t i = 0; i < (1u << 24) && got < 0; i++) {
		got = virtq_get(&n->tx, NULL);
		if (got < 0)
			cpu_relax();
	}
	return got == head ? 0 : -1;
}

int vnet_recv(struct vnet *n, void *buf, uint32_t len)
{
	uint32_t got_len;
	int head = virtq_get(&n->rx, &got_len), slot = -1;
	uint32_t payload;

	if (head < 0)
		return -1;
	for (int i = 0; i < VNET_RX_BUFS; i++)
		if (n->rx_bufs[i] && (uintptr_t)n->rx_bufs[i] == n->rx.desc[head].addr)
			slot = i;
	if (slot < 0)
		return -1;
	payload = got_len > sizeof(struct virtio_net_hdr) ?
		  got_len - sizeof(struct virtio_net_hdr) : 0;
	if (payload > len)
		payload = len;
	memcpy(buf, n->rx_bufs[slot] + sizeof(struct virtio_net_hdr), payload);
	post_rx(n, slot);
	virtq_kick(&n->rx);
	return (int)payload;
}
