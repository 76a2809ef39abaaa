/* guest/lib/virtio.h: virtio-pci modern transport (virtio 1.2 §4.1) and
 * split virtqueues (§2.7), polled: no interrupts, no MSI-X vectors. The
 * queue functions are plain C with no privileged instruction, so the
 * ring-3 benchmark loop calls them too. */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>
#include "pci.h"

#define VIRTIO_PCI_VENDOR	0x1AF4
#define VIRTIO_PCI_MODERN_BASE	0x1040	/* + virtio device id */

#define VIRTIO_F_VERSION_1	(1ull << 32)

#define VIRTIO_STATUS_ACK	1
#define VIRTIO_STATUS_DRIVER	2
#define VIRTIO_STATUS_DRIVER_OK	4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_FAILED	128

#define VIRTQ_DESC_F_NEXT	1
#define VIRTQ_DESC_F_WRITE	2
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[];
};

struct virtq {
	uint16_t index, size;
	volatile struct virtq_desc *desc;
	volatile struct virtq_avail *avail;
	volatile struct virtq_used *used;
	uint16_t free_head, num_free;
	uint16_t avail_idx;		/* next avail slot, our copy */
	uint16_t last_used;
	uint16_t chain_len[1024];	/* descriptors per in-flight head */
	uint64_t notify;		/* MMIO address of this queue's doorbell */
	uint64_t kicks;
};

struct virtio_dev {
	struct pci_dev pci;
	uint64_t common, notify_base, isr, device_cfg;
	uint32_t notify_mult;
	uint64_t features;		/* negotiated */
};

/* One buffer of a request: device-readable (out) or -writable (in). */
struct virtq_buf {
	void *addr;
	uint32_t len;
	bool write;			/* device writes it */
};

enum {
	VIRTIO_ENODEV = 1,		/* no such device / caps missing */
	VIRTIO_EFEATURES,		/* negotiation failed */
	VIRTIO_EQUEUE,			/* queue unavailable */
};

/* Finds the index-th modern virtio device of this type, enables its BARs
 * and maps its capabilities. 0 or -VIRTIO_ENODEV. */
int virtio_pci_open(struct virtio_dev *vd, uint16_t virtio_id, int index);
/* Reset, ACKNOWLEDGE, DRIVER, features (VERSION_1 always required), then
 * FEATURES_OK. 0 or -VIRTIO_EFEATURES (device left FAILED). */
int virtio_negotiate(struct virtio_dev *vd, uint64_t wanted, uint64_t required);
/* Sets up queue `index` with at most `size` entries (power of two). */
int virtq_setup(struct virtio_dev *vd, struct virtq *q, uint16_t index, uint16_t size);
void virtio_driver_ok(struct virtio_dev *vd);
void virtio_reset(struct virtio_dev *vd);

uint8_t virtio_cfg_read8(struct virtio_dev *vd, uint32_t off);
uint16_t virtio_cfg_read16(struct virtio_dev *vd, uint32_t off);
uint32_t virtio_cfg_read32(struct virtio_dev *vd, uint32_t off);
uint64_t virtio_cfg_read64(struct virtio_dev *vd, uint32_t off);

/* Chains bufs (device-readable ones must come first) and publishes the
 * head; returns it, or -1 if the ring is full. Does not notify. */
int virtq_add(struct virtq *q, const struct virtq_buf *bufs, int n);
/* Notifies the device unless it asked not to be (VIRTQ_USED_F_NO_NOTIFY). */
void virtq_kick(struct virtq *q);
/* Polls once: a completed head (its chain returned to the free list) and
 * the written length, or -1 if nothing completed. */
int virtq_get(struct virtq *q, uint32_t *len);

#endif
