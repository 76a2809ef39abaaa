/* guest/lib/virtio_blk.c: virtio-blk device setup and request chains. */
#include "virtio_blk.h"
#include "io.h"

#define BLK_CFG_CAPACITY	0
#define BLK_CFG_SEG_MAX		12
#define BLK_CFG_BLK_SIZE	20

int vblk_open(struct vblk *b, int index, uint16_t qsize)
{
	int r;

	r = virtio_pci_open(&b->vd, VIRTIO_ID_BLK, index);
	if (r)
		return r;
	r = virtio_negotiate(&b->vd, VIRTIO_BLK_F_SEG_MAX |
			     VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH |
			     VIRTIO_BLK_F_RO, 0);
	if (r)
		return r;
	if (!b->vd.device_cfg)
		return -VIRTIO_ENODEV;
	b->capacity = virtio_cfg_read64(&b->vd, BLK_CFG_CAPACITY);
	b->blk_size = 512;
	if (b->vd.features & VIRTIO_BLK_F_BLK_SIZE)
		b->blk_size = virtio_cfg_read32(&b->vd, BLK_CFG_BLK_SIZE);
	b->seg_max = 1;
	if (b->vd.features & VIRTIO_BLK_F_SEG_MAX)
		b->seg_max = virtio_cfg_read32(&b->vd, BLK_CFG_SEG_MAX);
	r = virtq_setup(&b->vd, &b->q, 0, qsize);
	if (r) {
		virtio_reset(&b->vd);
		return r;
	}
	virtio_driver_ok(&b->vd);
	return 0;
}

int vblk_submit(struct vblk *b, struct vblk_req *r, uint32_t type,
		uint64_t sector, const struct virtq_buf *data, int n)
{
	struct virtq_buf bufs[2 + 16];
	bool dev_writes = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;

	if (n < 0 || n > 16)
		return -1;
	r->type = type;
	r->reserved = 0;
	r->sector = sector;
	r->status = 0xFF;
	bufs[0] = (struct virtq_buf){ r, 16, false };
	for (int i = 0; i < n; i++) {
		bufs[1 + i] = data[i];
		bufs[1 + i].write = dev_writes;
	}
	bufs[1 + n] = (struct virtq_buf){ &r->status, 1, true };
	return virtq_add(&b->q, bufs, n + 2);
}

int vblk_do(struct vblk *b, uint32_t type, uint64_t sector,
	    const struct virtq_buf *data, int n)
{
	struct vblk_req r;
	int head, got = -1;

	head = vblk_submit(b, &r, type, sector, data, n);
	if (head < 0)
		return -1;
	virtq_kick(&b->q);
	/* Bounded: seconds even when ring 0 is emulated. */
	for (uint32_t i = 0; i < (1u << 24) && got < 0; i++) {
		got = virtq_get(&b->q, NULL);
		if (got < 0)
			cpu_relax();
	}
	if (got != head)
		return -1;
	return r.status;
}
