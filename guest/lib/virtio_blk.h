/* guest/lib/virtio_blk.h: virtio-blk requests (virtio 1.2 §5.2) over the
 * polled virtio-pci transport: header, data buffers, status byte. */
#ifndef GUEST_VIRTIO_BLK_H
#define GUEST_VIRTIO_BLK_H

#include "virtio.h"

#define VIRTIO_ID_BLK		2

#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1
#define VIRTIO_BLK_T_FLUSH	4
#define VIRTIO_BLK_T_GET_ID	8

#define VIRTIO_BLK_S_OK		0
#define VIRTIO_BLK_S_IOERR	1
#define VIRTIO_BLK_S_UNSUPP	2

#define VIRTIO_BLK_F_SIZE_MAX	(1ull << 1)
#define VIRTIO_BLK_F_SEG_MAX	(1ull << 2)
#define VIRTIO_BLK_F_RO		(1ull << 5)
#define VIRTIO_BLK_F_BLK_SIZE	(1ull << 6)
#define VIRTIO_BLK_F_FLUSH	(1ull << 9)

#define VBLK_ID_BYTES		20

struct vblk_req {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;		/* always in 512-byte units */
	uint8_t status;			/* written by the device */
} __attribute__((aligned(16)));

struct vblk {
	struct virtio_dev vd;
	struct virtq q;
	uint64_t capacity;		/* 512-byte sectors */
	uint32_t blk_size;		/* 512 unless VIRTIO_BLK_F_BLK_SIZE */
	uint32_t seg_max;		/* data segments per request */
};

/* Opens the index-th virtio-blk (queue 0, up to qsize entries) and sets
 * DRIVER_OK. 0, -VIRTIO_ENODEV, -VIRTIO_EFEATURES or -VIRTIO_EQUEUE. */
int vblk_open(struct vblk *b, int index, uint16_t qsize);

/* Queues header + data + status as one chain (data buffers device-
 * writable for IN/GET_ID); returns the head or -1. No notify. */
int vblk_submit(struct vblk *b, struct vblk_req *r, uint32_t type,
		uint64_t sector, const struct virtq_buf *data, int n);

/* Submits, kicks and polls until done. Returns the status byte, or -1 if
 * the ring was full or the device never answered. */
int vblk_do(struct vblk *b, uint32_t type, uint64_t sector,
	    const struct virtq_buf *data, int n);

#endif
