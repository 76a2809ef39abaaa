/* fuzz_vu_msg: vhost-user message handling of a backend (vu_msg_validate +
 * vu_dev state machine) fed a sequence of messages from a hostile frontend:
 * memory tables (backed by small memfds pre-filled with fuzz bytes), ring
 * setup, kick/call/err fds, config reads. Rings that start are then popped,
 * so descriptors in the fuzzed memory reach the virtqueue parser too.
 * Input: repeated [u32 request][u32 flags][u32 size][size bytes], then the
 * rest fills guest memory. */
#include <fcntl.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "vu_dev.h"

#define MEMSZ 65536

static int get_config(struct vu_dev *d, uint8_t *buf, uint32_t off, uint32_t len)
{
	if ((uint64_t)off + len > 60)
		return -1;
	memset(buf, 0xab, len);
	return 0;
}

static void quiesce(struct vu_dev *d, int q) { (void)d; (void)q; }

static const struct vu_dev_ops ops = {
	.features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_EVENT_IDX) |
		    (1ull << VIRTIO_F_RING_INDIRECT_DESC),
	.protocol_features = (1ull << VU_PROTOCOL_F_MQ) | (1ull << VU_PROTOCOL_F_REPLY_ACK) |
			     (1ull << VU_PROTOCOL_F_CONFIG),
	.num_queues = 2,
	.get_config = get_config,
	.quiesce = quiesce,
};

static int mkmem(const uint8_t *fill, size_t n)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	/* Sealed like ward-hv's guest memory: vu_dev refuses anything else. */
	if (fd < 0 || ftruncate(fd, MEMSZ) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
		return -1;
	if (n > MEMSZ)
		n = MEMSZ;
	if (n && pwrite(fd, fill, n, 0) < 0)
		return -1;
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct vu_dev d;
	int sp[2];
	size_t pos = 0, tail;
	const uint8_t *fill;
	struct vq_chain *c;

	if (!init) {
		log_init("fuzz", LOG_ERROR + 1);
		init = 1;
	}
	/* Where guest memory contents start: after the last whole message. */
	for (tail = 0; tail + 12 <= size;) {
		uint32_t sz;

		memcpy(&sz, data + tail + 8, 4);
		if (sz > sizeof(union vu_payload) || tail + 12 + sz > size)
			break;
		tail += 12 + sz;
	}
	fill = data + tail;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp))
		return 0;
	vu_dev_init(&d, sp[0], &ops, NULL);
	while (pos + 12 <= tail) {
		struct vu_msg m;

		memset(&m, 0, sizeof(m));
		memcpy(&m.hdr, data + pos, 12);
		memcpy(&m.p, data + pos + 12, m.hdr.size);
		pos += 12 + m.hdr.size;
		if (m.hdr.request == VU_SET_MEM_TABLE) {
			for (uint32_t i = 0; i < m.p.mem.nregions && i < VU_MAX_FDS; i++)
				m.fds[m.nfds++] = mkmem(fill, size - tail);
		} else if ((m.hdr.request == VU_SET_VRING_KICK || m.hdr.request == VU_SET_VRING_CALL ||
			    m.hdr.request == VU_SET_VRING_ERR) && !(m.p.u64 & VU_VRING_NOFD_MASK)) {
			m.fds[m.nfds++] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		}
		if (vu_dev_handle(&d, &m) < 0)
			break;
		{
			char drain[4096];

			while (recv(sp[1], drain, sizeof(drain), MSG_DONTWAIT) > 0)
				;
		}
	}
	c = malloc(sizeof(*c));
	for (unsigned int q = 0; c && q < ops.num_queues; q++) {
		for (int n = 0; n < 64 && vu_dev_ring_live(&d, q); n++) {
			int rc = vq_pop(&d.vr[q].vq, c);

			if (rc < 0)
				vu_dev_ring_broken(&d, q, d.vr[q].vq.why);
			if (rc <= 0)
				break;
			/* touch every byte the chain describes: ASan checks the mapping */
			for (unsigned int i = 0; i < c->nout + c->nin; i++)
				if (c->iov[i].iov_len)
					((volatile uint8_t *)c->iov[i].iov_base)[c->iov[i].iov_len - 1] ^= 0;
			vq_push(&d.vr[q].vq, c->head, 1);
			vu_dev_notify(&d, q);
		}
	}
	free(c);
	vu_dev_reset(&d);
	close(sp[0]);
	close(sp[1]);
	return 0;
}
