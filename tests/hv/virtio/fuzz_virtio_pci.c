/* fuzz_virtio_pci: libFuzzer harness for ward-hv's two untrusted inputs of
 * the device model — a hostile guest's config cycles and BAR accesses
 * (mode 0, well-behaved backend), and a hostile vhost-user backend's reply
 * stream (mode 1, a fixed guest bring-up). Input: mode byte, then for mode
 * 0 12-byte records {op, len, off16, val64}, for mode 1 raw reply bytes. */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hv/bus.h"
#include "hv/dev/pci.h"
#include "hv/dev/virtio_pci.h"
#include "hv/mem.h"
#include "hv/vm.h"
#include "log.h"
#include "vhost_user.h"

int vm_irq_line(struct vm *vm, uint32_t gsi, int level) { return 0; }

static struct vm vm;

struct backend {
	int sock;
	const uint8_t *raw;       /* mode 1: reply stream */
	size_t rawlen;
	int call;
};

/* Mode 0: answers like a correct backend, keeps the last call fd. */
static void *good_backend(void *arg)
{
	struct backend *b = arg;
	uint64_t features = 1ull << VIRTIO_F_VERSION_1 | 1ull << VU_F_PROTOCOL_FEATURES |
			    1ull << VIRTIO_F_RING_EVENT_IDX | 1ull << 12 /* BLK_F_MQ */;
	uint64_t proto = 1ull << VU_PROTOCOL_F_MQ | 1ull << VU_PROTOCOL_F_REPLY_ACK |
			 1ull << VU_PROTOCOL_F_CONFIG;
	struct vu_msg m;

	while (vu_recv(b->sock, &m) > 0) {
		uint64_t u = 0;
		bool replied = true;

		switch (m.hdr.request) {
		case VU_GET_FEATURES: u = features; break;
		case VU_GET_PROTOCOL_FEATURES: u = proto; break;
		case VU_GET_QUEUE_NUM: u = 2; break;
		case VU_GET_CONFIG: {
			struct vu_config c = m.p.config;

			memset(c.region, 0, sizeof(c.region));
			c.region[0] = 0x80;            /* capacity */
			c.region[34] = 2;              /* num_queues */
			vu_send(b->sock, m.hdr.request, VU_FLAG_REPLY, &c, 12 + c.size, NULL, 0);
			vu_msg_close_fds(&m);
			continue;
		}
		case VU_GET_VRING_BASE:
			vu_send(b->sock, m.hdr.request, VU_FLAG_REPLY, &m.p.state, 8, NULL, 0);
			vu_msg_close_fds(&m);
			continue;
		case VU_SET_VRING_CALL:
			if (m.nfds) {
				if (b->call >= 0)
					close(b->call);
				b->call = m.fds[0];
				m.nfds = 0;
			}
			replied = false;
			break;
		default:
			replied = false;
		}
		if (replied)
			vu_send(b->sock, m.hdr.request, VU_FLAG_REPLY, &u, 8, NULL, 0);
		else if (m.hdr.flags & VU_FLAG_NEED_REPLY)
			vu_send(b->sock, m.hdr.request, VU_FLAG_REPLY, &u, 8, NULL, 0);
		vu_msg_close_fds(&m);
	}
	return NULL;
}

/* Mode 1: sends the fuzzer's bytes as its whole reply stream, then only
 * drains requests: the frontend must survive whatever it reads. */
static void *raw_backend(void *arg)
{
	struct backend *b = arg;
	struct vu_msg m;

	if (b->rawlen)
		send(b->sock, b->raw, b->rawlen, MSG_NOSIGNAL);
	shutdown(b->sock, SHUT_WR);
	while (vu_recv(b->sock, &m) > 0)
		vu_msg_close_fds(&m);
	return NULL;
}

static void cfg(int write, uint16_t off, unsigned int len, uint32_t *val)
{
	uint32_t a = 0x80000000u | (uint32_t)((off >> 8) & 7) << 11 | (off & 0xfc);

	bus_dispatch(BUS_PIO, 0xcf8, (uint8_t *)&a, 4, true);
	bus_dispatch(BUS_PIO, 0xcfc + (off & 3), (uint8_t *)val, len, write);
}

static void mmio(uint64_t addr, unsigned int len, uint64_t *val, bool write)
{
	bus_dispatch(BUS_MMIO, addr, (uint8_t *)val, len, write);
}

/* A driver that brings queue 0 up with rings at `gpa`. */
static void bring_up(uint64_t bar, uint64_t gpa)
{
	uint64_t v;

	v = 3; mmio(bar + 0x14, 1, &v, true);
	v = 0; mmio(bar + 0x08, 4, &v, true);
	v = 1ull << 29; mmio(bar + 0x0c, 4, &v, true);
	v = 1; mmio(bar + 0x08, 4, &v, true);
	v = 1; mmio(bar + 0x0c, 4, &v, true);
	v = 0x0b; mmio(bar + 0x14, 1, &v, true);
	v = 0; mmio(bar + 0x16, 2, &v, true);
	v = 16; mmio(bar + 0x18, 2, &v, true);
	v = gpa; mmio(bar + 0x20, 8, &v, true);
	v = gpa + 0x100; mmio(bar + 0x28, 8, &v, true);
	v = gpa + 0x200; mmio(bar + 0x30, 8, &v, true);
	v = 1; mmio(bar + 0x1c, 2, &v, true);
	v = 0x0f; mmio(bar + 0x14, 1, &v, true);
}

static void run_ops(struct backend *b, const uint8_t *p, size_t n)
{
	for (; n >= 12; p += 12, n -= 12) {
		uint8_t op = p[0] % 7;
		uint16_t off = (uint16_t)(p[2] | p[3] << 8);
		uint64_t val;
		uint32_t v32;

		memcpy(&val, p + 4, 8);
		v32 = (uint32_t)val;
		switch (op) {
		case 0: cfg(1, off, 1u << (p[1] % 3), &v32); break;
		case 1: cfg(0, off, 1u << (p[1] % 3), &v32); break;
		case 2: mmio(MEM_PCI_MMIO_BASE + off, 1u << (p[1] % 4), &val, true); break;
		case 3: mmio(MEM_PCI_MMIO_BASE + off, 1u << (p[1] % 4), &val, false); break;
		case 4: {                   /* anywhere in the 32-bit hole */
			uint64_t d = off;

			mmio(0xc0000000u | (v32 & 0x3fffffff), 1u << (p[1] % 4), &d, p[1] & 0x80);
			break;
		}
		case 5:
			if (b->call >= 0)
				eventfd_write(b->call, 1);
			break;
		case 6: bring_up(MEM_PCI_MMIO_BASE, val % (4 << 20)); break;
		}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	log_init("hv", LOG_ERROR);
	vm.vm_fd = vm.kvm_fd = -1;
	if (mem_create(&vm.mem, 2 << 20, 0, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_virtio_pci: %s\n", err);
		return -1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct backend b = { .call = -1 };
	pthread_t t;
	char err[256];
	int sv[2];

	if (size < 1 || size > 4096)
		return 0;
	if (pci_init(&vm) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	b.sock = sv[1];
	b.raw = data + 1;
	b.rawlen = size - 1;
	pthread_create(&t, NULL, data[0] & 1 ? raw_backend : good_backend, &b);
	if (virtio_blk_add(&vm, sv[0], err, sizeof(err)) == 0) {
		if (data[0] & 1)
			bring_up(MEM_PCI_MMIO_BASE, 0x10000);
		else
			run_ops(&b, data + 1, size - 1);
		virtio_devices_destroy(&vm);   /* closes sv[0] */
	} else {
		close(sv[0]);
	}
	pthread_join(t, NULL);
	close(sv[1]);
	if (b.call >= 0)
		close(b.call);
	pci_destroy(&vm);
	return 0;
}
