/* fuzz_virtq: the split-virtqueue parser and the virtio-blk request framing
 * ward-blk applies to each chain (header in the readable part, status byte
 * last in the writable part). Input: [u8 log2 queue size][u8 flags][u16 avail
 * base][rest = guest memory: descriptor table at 0, avail ring at 0x1000,
 * used ring at 0x2000]. Two memory regions, the second mapped right after
 * the first in guest-physical space, to exercise region splitting. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtq.h"

#define MEMSZ 0x8000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *mem;
	struct vq_mem table = { 0 };
	struct vq vq;
	struct vq_chain *c;
	unsigned int num;
	uint16_t base;

	if (size < 4)
		return 0;
	if (!mem)
		mem = aligned_alloc(4096, 2 * MEMSZ);
	memset(mem, 0, 2 * MEMSZ);
	memcpy(mem, data + 4, size - 4 < 2 * MEMSZ ? size - 4 : 2 * MEMSZ);
	num = 1u << (data[0] % 11);
	memcpy(&base, data + 2, 2);
	table.nregions = 2;
	table.r[0] = (struct vq_region){ .gpa = 0, .size = MEMSZ, .uva = 0x10000, .host = mem };
	table.r[1] = (struct vq_region){ .gpa = MEMSZ, .size = MEMSZ, .uva = 0x90000, .host = mem + MEMSZ };
	if (vq_setup(&vq, &table, num, 0x10000, 0x10000 + 0x1000 + (data[1] & 0x80 ? 0x4000 : 0),
		     0x10000 + 0x2000, base, data[1] & 1, data[1] & 2))
		return 0;
	c = malloc(sizeof(*c));
	for (int n = 0; n < 256; n++) {
		struct { uint32_t type, ioprio; uint64_t sector; } h;
		int rc = vq_pop(&vq, c);

		if (rc <= 0)
			break;
		if (vq_iov_to_buf(c->iov, c->nout, 0, &h, sizeof(h)) == sizeof(h) && c->nin) {
			struct iovec *last = &c->iov[c->nout + c->nin - 1];
			uint8_t *status = (uint8_t *)last->iov_base + last->iov_len - 1;
			uint8_t tmp[512];

			if (last->iov_len)
				*status = 0;
			vq_buf_to_iov(c->iov + c->nout, c->nin, 0, tmp, sizeof(tmp) < c->in_bytes ? sizeof(tmp) : c->in_bytes);
		}
		vq_push(&vq, c->head, 1);
		(void)vq_should_notify(&vq);
	}
	(void)vq_enable_notify(&vq);
	free(c);
	return 0;
}
