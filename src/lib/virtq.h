/* virtq: the device side of a split virtqueue (virtio 1.2 §2.7) for card
 * processes that serve vhost-user devices. Guest memory is reached only
 * through a validated table of mapped regions; every ring address,
 * descriptor index, length and chain is checked before use, because the
 * guest and the frontend that hands us the rings are untrusted. */
#ifndef WARD_VIRTQ_H
#define WARD_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define VQ_MAX_REGIONS 8
#define VQ_MAX_SIZE    1024      /* largest queue we accept (power of 2) */
#define VQ_MAX_CHAIN   256       /* descriptors (and iovecs) per request */
#define VQ_MAX_BYTES   (16u << 20) /* bytes one chain may describe */

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

struct vq_region {
	uint64_t gpa;     /* guest-physical start */
	uint64_t size;
	uint64_t uva;     /* the frontend's address for it (ring addresses) */
	uint8_t *host;    /* where it is mapped here */
};

struct vq_mem {
	unsigned int nregions;
	struct vq_region r[VQ_MAX_REGIONS];
};

/* Host pointer for [addr, addr+len) if it lies inside one region, else NULL. */
void *vq_mem_gpa(const struct vq_mem *m, uint64_t gpa, uint64_t len);
void *vq_mem_uva(const struct vq_mem *m, uint64_t uva, uint64_t len);

struct vq_desc_raw {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vq {
	unsigned int num;
	bool event_idx;
	bool indirect;
	bool broken;
	uint16_t last_avail;
	uint16_t used_idx;
	uint16_t signalled_used;
	bool signalled_valid;
	const struct vq_mem *mem;
	volatile struct vq_desc_raw *desc;
	volatile uint16_t *avail;   /* flags, idx, ring[num], used_event */
	volatile uint16_t *used;    /* flags, idx, {u32 id, u32 len}[num], avail_event */
	char why[96];               /* first reason the ring broke */
};

/* One popped request: `nout` device-readable iovecs followed by `nin`
 * device-writable ones, all pointing into mapped guest memory. */
struct vq_chain {
	uint16_t head;
	unsigned int nout, nin;
	uint64_t out_bytes, in_bytes;
	struct iovec iov[VQ_MAX_CHAIN];
};

/* Bind a ring: sizes and alignment (§2.7), and all three parts must lie in
 * mapped memory (addresses are frontend "user" addresses, vhost-user style).
 * Returns 0 or -EINVAL with vq->why filled in. */
int vq_setup(struct vq *vq, const struct vq_mem *mem, unsigned int num,
	     uint64_t desc_uva, uint64_t avail_uva, uint64_t used_uva,
	     uint16_t base, bool event_idx, bool indirect);

/* Pop the next available chain. Returns 1 with *c filled, 0 when the ring
 * is empty, -EIO when the ring is malformed (vq->broken set, vq->why says
 * why; the ring is dead until vq_setup is called again). */
int vq_pop(struct vq *vq, struct vq_chain *c);

/* Give back the last n popped chains that were not pushed (a merged
 * receive buffer that ran out of room part way): they will pop again. */
void vq_unpop(struct vq *vq, unsigned int n);

/* Publish a used entry (`len` = bytes written to the device-writable part). */
void vq_push(struct vq *vq, uint16_t head, uint32_t len);

/* Whether the driver wants an interrupt for what was pushed since the last
 * call that returned true (EVENT_IDX or NO_INTERRUPT). */
bool vq_should_notify(struct vq *vq);

/* With EVENT_IDX: ask for a kick at the next avail entry, then re-check;
 * returns true if more work arrived meanwhile (call vq_pop again). */
bool vq_enable_notify(struct vq *vq);

/* Copy helpers across an iovec array, bounded by its total length. */
size_t vq_iov_to_buf(const struct iovec *iov, unsigned int n, size_t skip,
		     void *buf, size_t len);
size_t vq_buf_to_iov(const struct iovec *iov, unsigned int n, size_t skip,
		     const void *buf, size_t len);

#endif
