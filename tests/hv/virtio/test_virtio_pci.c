/* test_virtio_pci: unit tests of ward-hv's PCI bus, virtio-pci transport and
 * vhost-user frontend, driven through the real I/O bus (bus.c) and guest
 * memory (mem.c) against a scripted vhost-user backend thread. No KVM: the
 * VM fd is -1, so kicks take the userspace notify path and INTx levels are
 * recorded by a fake vm_irq_line(). */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hv/bus.h"
#include "hv/dev/pci.h"
#include "hv/dev/virtio_pci.h"
#include "hv/mem.h"
#include "hv/vm.h"
#include "vhost_user.h"

/* ---- fakes for the parts of the hv core a unit test does without ---- */

static atomic_int irq_level[32];

int vm_irq_line(struct vm *vm, uint32_t gsi, int level)
{
	if (gsi < 32)
		atomic_store(&irq_level[gsi], level);
	return 0;
}

/* ---- scripted vhost-user backend ---- */

#define BLK_F_SIZE_MAX   1
#define BLK_F_SEG_MAX    2
#define BLK_F_CONFIG_WCE 11
#define BLK_F_MQ         12
#define F_LOG_ALL        26
#define F_RING_PACKED    34

struct fake_backend {
	int sock;                        /* backend end of the socketpair */
	uint64_t features, protocol;
	uint32_t queues;
	uint8_t config[VU_MAX_CONFIG_SIZE];
	uint32_t die_at;                 /* close on receiving this request */
	uint32_t refuse;                 /* nack this request */
	pthread_t thread;
	pthread_mutex_t lock;
	/* what it saw */
	uint32_t reqs[512];
	int nreq;
	int bad_msgs;
	char bad[256];
	uint64_t set_features;
	struct vu_vring_addr addr;
	struct vu_vring_state num, base, enable;
	struct vu_mem_region region0;
	int kick, call;
};

static void fb_reply(struct fake_backend *b, const struct vu_msg *m, const void *p, uint32_t size)
{
	vu_send(b->sock, m->hdr.request, VU_FLAG_REPLY, p, size, NULL, 0);
}

static void *fb_main(void *arg)
{
	struct fake_backend *b = arg;
	struct vu_msg m;
	char err[256];

	while (vu_recv(b->sock, &m) > 0) {
		uint32_t req = m.hdr.request;
		bool acked = false;

		pthread_mutex_lock(&b->lock);
		if (b->nreq < 512)
			b->reqs[b->nreq++] = req;
		/* the frontend's messages must pass the backend-side parser */
		if (vu_msg_validate(&m, 8, err, sizeof(err)) < 0) {
			b->bad_msgs++;
			snprintf(b->bad, sizeof(b->bad), "%s", err);
		}
		pthread_mutex_unlock(&b->lock);
		if (req == b->die_at) {
			vu_msg_close_fds(&m);
			break;
		}
		switch (req) {
		case VU_GET_FEATURES:
			fb_reply(b, &m, &b->features, 8); acked = true; break;
		case VU_GET_PROTOCOL_FEATURES:
			fb_reply(b, &m, &b->protocol, 8); acked = true; break;
		case VU_GET_QUEUE_NUM: {
			uint64_t q = b->queues;

			fb_reply(b, &m, &q, 8); acked = true; break;
		}
		case VU_GET_CONFIG: {
			struct vu_config c = m.p.config;

			memcpy(c.region, b->config + c.offset, c.size);
			fb_reply(b, &m, &c, 12 + c.size); acked = true; break;
		}
		case VU_GET_VRING_BASE: {
			struct vu_vring_state st = { .index = m.p.state.index, .num = 7 };

			fb_reply(b, &m, &st, sizeof(st)); acked = true; break;
		}
		case VU_SET_FEATURES: b->set_features = m.p.u64; break;
		case VU_SET_VRING_ADDR: b->addr = m.p.addr; break;
		case VU_SET_VRING_NUM: b->num = m.p.state; break;
		case VU_SET_VRING_BASE: b->base = m.p.state; break;
		case VU_SET_VRING_ENABLE: b->enable = m.p.state; break;
		case VU_SET_MEM_TABLE: {
			struct stat st;

			b->region0 = m.p.mem.regions[0];
			/* it must be the guest memfd, big enough for the region */
			if (m.nfds < 1 || fstat(m.fds[0], &st) < 0 ||
			    (uint64_t)st.st_size < b->region0.mmap_offset + b->region0.memory_size)
				b->bad_msgs++;
			break;
		}
		case VU_SET_VRING_KICK:
			if (b->kick >= 0)
				close(b->kick);
			b->kick = m.fds[0];
			m.nfds = 0;
			break;
		case VU_SET_VRING_CALL:
			if (b->call >= 0)
				close(b->call);
			b->call = m.fds[0];
			m.nfds = 0;
			break;
		default: break;
		}
		vu_msg_close_fds(&m);
		if (!acked && (m.hdr.flags & VU_FLAG_NEED_REPLY)) {
			uint64_t status = req == b->refuse ? 1 : 0;

			fb_reply(b, &m, &status, 8);
		}
	}
	close(b->sock);
	b->sock = -1;
	return NULL;
}

/* Start a backend; returns the frontend's end of the socket. */
static int fb_start(struct fake_backend *b)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	b->sock = sv[1];
	b->kick = b->call = -1;
	pthread_mutex_init(&b->lock, NULL);
	assert_int_equal(pthread_create(&b->thread, NULL, fb_main, b), 0);
	return sv[0];
}

static void fb_join(struct fake_backend *b)
{
	pthread_join(b->thread, NULL);
	if (b->kick >= 0)
		close(b->kick);
	if (b->call >= 0)
		close(b->call);
}

static int fb_count(struct fake_backend *b, uint32_t req)
{
	int n = 0;

	pthread_mutex_lock(&b->lock);
	for (int i = 0; i < b->nreq; i++)
		n += b->reqs[i] == req;
	pthread_mutex_unlock(&b->lock);
	return n;
}

static void blk_backend(struct fake_backend *b)
{
	memset(b, 0, sizeof(*b));
	b->features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_EVENT_IDX) |
		      (1ull << VU_F_PROTOCOL_FEATURES) | (1ull << F_LOG_ALL) |
		      (1ull << F_RING_PACKED) | (1ull << BLK_F_SIZE_MAX) |
		      (1ull << BLK_F_CONFIG_WCE);
	b->protocol = (1ull << VU_PROTOCOL_F_MQ) | (1ull << VU_PROTOCOL_F_REPLY_ACK) |
		      (1ull << VU_PROTOCOL_F_CONFIG) | (1ull << VU_PROTOCOL_F_LOG_SHMFD);
	b->queues = 1;
	b->config[0] = 0x00;             /* capacity 0x1000 sectors */
	b->config[1] = 0x10;
	b->config[8] = 0x00;             /* size_max 65536 */
	b->config[10] = 0x01;
}

/* ---- the world: one VM with 32 MiB, the PCI bus ---- */

static struct vm vm;
static struct fake_backend fb, fb2;

static int setup(void **state)
{
	char err[256];

	memset(&vm, 0, sizeof(vm));
	vm.vm_fd = -1;
	vm.kvm_fd = -1;
	if (mem_create(&vm.mem, 32 << 20, 0, err, sizeof(err)) < 0) {
		print_error("mem_create: %s\n", err);
		return -1;
	}
	for (int i = 0; i < 32; i++)
		irq_level[i] = 0;
	return pci_init(&vm);
}

static int teardown(void **state)
{
	virtio_devices_destroy(&vm);
	pci_destroy(&vm);
	if (fb.thread)
		fb_join(&fb);
	if (fb2.thread)
		fb_join(&fb2);
	memset(&fb, 0, sizeof(fb));
	memset(&fb2, 0, sizeof(fb2));
	mem_destroy(&vm.mem);
	return 0;
}

static uint32_t cfg_addr(int slot, unsigned int reg)
{
	return 0x80000000u | (uint32_t)slot << 11 | (reg & 0xfc);
}

static uint32_t cfg_read(int slot, unsigned int reg, unsigned int len)
{
	uint32_t a = cfg_addr(slot, reg), v = 0;
	uint8_t d[4];

	bus_dispatch(BUS_PIO, 0xcf8, (uint8_t *)&a, 4, true);
	bus_dispatch(BUS_PIO, 0xcfc + (reg & 3), d, len, false);
	memcpy(&v, d, len);
	return v;
}

static void cfg_write(int slot, unsigned int reg, uint32_t v, unsigned int len)
{
	uint32_t a = cfg_addr(slot, reg);

	bus_dispatch(BUS_PIO, 0xcf8, (uint8_t *)&a, 4, true);
	bus_dispatch(BUS_PIO, 0xcfc + (reg & 3), (uint8_t *)&v, len, true);
}

static uint64_t bar0(int slot)
{
	return cfg_read(slot, 0x10, 4) & ~0xfu;
}

static uint64_t mmio_read(uint64_t addr, unsigned int len)
{
	uint64_t v = 0;

	bus_dispatch(BUS_MMIO, addr, (uint8_t *)&v, len, false);
	return v;
}

static void mmio_write(uint64_t addr, uint64_t v, unsigned int len)
{
	bus_dispatch(BUS_MMIO, addr, (uint8_t *)&v, len, true);
}

/* BAR0 map (docs/hv-devices.md) */
#define COMMON 0x0000
#define ISR    0x1000
#define DEVCFG 0x2000
#define NOTIFY 0x3000
#define MSIX_TABLE 0x4000
#define MSIX_PBA   0x5000

enum {
	QMSIX = 0x1a,
	DFSEL = 0x00, DF = 0x04, GFSEL = 0x08, GF = 0x0c, MSIX = 0x10, NUMQ = 0x12,
	STATUS = 0x14, QSEL = 0x16, QSIZE = 0x18, QENABLE = 0x1c, QNOFF = 0x1e,
	QDESC = 0x20, QDRIVER = 0x28, QDEVICE = 0x30,
};

static int add_blk(void)
{
	char err[256] = "";
	int s = fb_start(&fb);
	int rc = virtio_blk_add(&vm, s, err, sizeof(err));

	if (rc < 0) {
		print_error("virtio_blk_add: %s\n", err);
		close(s);
	}
	return rc;
}

static uint64_t offered(uint64_t base)
{
	uint64_t lo, hi;

	mmio_write(base + DFSEL, 0, 4);
	lo = mmio_read(base + DF, 4);
	mmio_write(base + DFSEL, 1, 4);
	hi = mmio_read(base + DF, 4);
	return lo | hi << 32;
}

static void set_features(uint64_t base, uint64_t f)
{
	mmio_write(base + GFSEL, 0, 4);
	mmio_write(base + GF, (uint32_t)f, 4);
	mmio_write(base + GFSEL, 1, 4);
	mmio_write(base + GF, f >> 32, 4);
}

/* Guest ring for queue 0 at 1 MiB: desc, avail, used (size 64). */
#define RING_GPA 0x100000ull
static void setup_queue0(uint64_t base, uint64_t desc)
{
	mmio_write(base + QSEL, 0, 2);
	mmio_write(base + QSIZE, 64, 2);
	mmio_write(base + QDESC, (uint32_t)desc, 4);        /* two halves, as Linux */
	mmio_write(base + QDESC + 4, desc >> 32, 4);
	mmio_write(base + QDRIVER, RING_GPA + 0x1000, 8);
	mmio_write(base + QDEVICE, RING_GPA + 0x2000, 8);
	mmio_write(base + QENABLE, 1, 2);
}

static void drive_to_driver_ok(uint64_t base, uint64_t desc)
{
	mmio_write(base + STATUS, 1 | 2, 1);
	set_features(base, 1ull << VIRTIO_F_VERSION_1);
	mmio_write(base + STATUS, 1 | 2 | 8, 1);
	assert_int_equal(mmio_read(base + STATUS, 1), 1 | 2 | 8);
	setup_queue0(base, desc);
	mmio_write(base + STATUS, 1 | 2 | 8 | 4, 1);
}

static bool wait_for(bool (*cond)(void))
{
	for (int i = 0; i < 300; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		if (cond())
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/* ---- tests ---- */

static void host_bridge_and_empty_slots(void **state)
{
	uint32_t a = 0x80000000u;

	/* Linux's type-1 probe: 0xCF8 reads back what was written */
	bus_dispatch(BUS_PIO, 0xcf8, (uint8_t *)&a, 4, true);
	a = 0;
	bus_dispatch(BUS_PIO, 0xcf8, (uint8_t *)&a, 4, false);
	assert_int_equal(a, 0x80000000u);

	assert_int_equal(cfg_read(0, 0x00, 4), 0x29c08086);
	assert_int_equal(cfg_read(0, 0x08, 4) >> 8, 0x060000);
	assert_int_equal(cfg_read(0, 0x0e, 1), 0);
	assert_int_equal(cfg_read(3, 0x00, 4), 0xffffffff);      /* empty slot */
	assert_int_equal(cfg_read(0, 0x00, 2), 0x8086);
	assert_int_equal(cfg_read(0, 0x02, 2), 0x29c0);
	/* function 1 and bus 1 do not exist */
	a = 0x80000100u;
	bus_dispatch(BUS_PIO, 0xcf8, (uint8_t *)&a, 4, true);
	a = 0;
	bus_dispatch(BUS_PIO, 0xcfc, (uint8_t *)&a, 4, false);
	assert_int_equal(a, 0xffffffff);
	a = 0x80010000u;
	bus_dispatch(BUS_PIO, 0xcf8, (uint8_t *)&a, 4, true);
	bus_dispatch(BUS_PIO, 0xcfc, (uint8_t *)&a, 4, false);
	assert_int_equal(a, 0xffffffff);
	/* read-only: the vendor id cannot be written */
	cfg_write(0, 0x00, 0x12345678, 4);
	assert_int_equal(cfg_read(0, 0x00, 4), 0x29c08086);
}

static void blk_header_and_capabilities(void **state)
{
	int types_seen = 0;
	unsigned int cap;

	blk_backend(&fb);
	assert_int_equal(add_blk(), 0);
	assert_int_equal(cfg_read(1, 0x00, 4), 0x10421af4);
	assert_int_equal(cfg_read(1, 0x08, 1), 1);                 /* revision */
	assert_int_equal(cfg_read(1, 0x08, 4) >> 8, 0x018000);
	assert_int_equal(cfg_read(1, 0x2c, 4), 0x00021af4);        /* subsystem */
	assert_int_equal(cfg_read(1, 0x3d, 1), 1);                 /* INTA# */
	assert_int_equal(cfg_read(1, 0x3c, 1), 17);                /* GSI 16+1 */
	assert_true(cfg_read(1, 0x06, 2) & 0x10);                  /* caps list */
	assert_true(cfg_read(1, 0x04, 2) & 0x2);                   /* mem enabled */
	assert_int_equal(bar0(1), MEM_PCI_MMIO_BASE);
	assert_int_equal(cfg_read(1, 0x14, 4), 0);                 /* no BAR1 */

	for (cap = cfg_read(1, 0x34, 1); cap; cap = cfg_read(1, cap + 1, 1)) {
		unsigned int type = cfg_read(1, cap + 3, 1);
		uint32_t off = cfg_read(1, cap + 8, 4), len = cfg_read(1, cap + 12, 4);

		assert_true(cap >= 0x40 && cap % 4 == 0);
		if (cfg_read(1, cap, 1) == 0x11) {             /* MSI-X */
			assert_int_equal(cfg_read(1, cap + 2, 2), 1);      /* 2 vectors, off */
			assert_int_equal(cfg_read(1, cap + 4, 4), MSIX_TABLE);
			assert_int_equal(cfg_read(1, cap + 8, 4), MSIX_PBA);
			types_seen |= 1 << 8;
			continue;
		}
		assert_int_equal(cfg_read(1, cap, 1), 0x09);       /* vendor */
		assert_int_equal(cfg_read(1, cap + 4, 1), 0);      /* BAR0 */
		switch (type) {
		case 1: assert_int_equal(off, COMMON); assert_int_equal(len, 0x38);
			assert_int_equal(cfg_read(1, cap + 2, 1), 16); break;
		case 2: assert_int_equal(off, NOTIFY); assert_int_equal(len, 4);
			assert_int_equal(cfg_read(1, cap + 2, 1), 20);
			assert_int_equal(cfg_read(1, cap + 16, 4), 4); break;
		case 3: assert_int_equal(off, ISR); assert_true(len >= 1); break;
		case 4: assert_int_equal(off, DEVCFG); assert_int_equal(len, 60); break;
		case 5: assert_int_equal(cfg_read(1, cap + 2, 1), 20); break;  /* PCI_CFG */
		default: fail_msg("unexpected virtio cap type %u", type);
		}
		types_seen |= 1 << type;
	}
	assert_int_equal(types_seen, 0x3e | 1 << 8);        /* types 1-5, MSI-X */
	assert_int_equal(fb.bad_msgs, 0);
	/* handshake order */
	assert_int_equal(fb.reqs[0], VU_GET_FEATURES);
	assert_int_equal(fb.reqs[1], VU_GET_PROTOCOL_FEATURES);
	assert_int_equal(fb.reqs[2], VU_SET_PROTOCOL_FEATURES);
	assert_int_equal(fb.reqs[3], VU_SET_OWNER);
	assert_int_equal(fb.reqs[4], VU_GET_QUEUE_NUM);
	assert_int_equal(fb.reqs[5], VU_SET_MEM_TABLE);
	assert_int_equal(fb.reqs[6], VU_GET_CONFIG);
	/* the region's user address is ward-hv's own mapping */
	assert_int_equal(fb.region0.guest_phys_addr, 0);
	assert_int_equal(fb.region0.userspace_addr, (uint64_t)(uintptr_t)vm.mem.host);
	assert_int_equal(fb.region0.memory_size, vm.mem.low);
}

static void bar_sizing_move_and_disable(void **state)
{
	uint64_t old, nb = 0xd8000000ull;

	blk_backend(&fb);
	assert_int_equal(add_blk(), 0);
	old = bar0(1);
	assert_int_equal(mmio_read(old + NUMQ, 2), 1);

	/* sizing: all-ones reads back the 32 KiB size mask, BAR inert */
	cfg_write(1, 0x10, 0xffffffff, 4);
	assert_int_equal(cfg_read(1, 0x10, 4), 0xffff8000);
	assert_int_equal(mmio_read(old + NUMQ, 2), 0xffff);
	/* move */
	cfg_write(1, 0x10, (uint32_t)nb, 4);
	assert_int_equal(bar0(1), nb);
	assert_int_equal(mmio_read(nb + NUMQ, 2), 1);
	assert_false(bus_dispatch(BUS_MMIO, old + NUMQ, (uint8_t[2]){ 0 }, 2, false));
	/* memory space disabled: no decoding; enabled again: back */
	cfg_write(1, 0x04, 0x0000, 2);
	assert_int_equal(mmio_read(nb + NUMQ, 2), 0xffff);
	cfg_write(1, 0x04, 0x0006, 2);
	assert_int_equal(mmio_read(nb + NUMQ, 2), 1);
	/* an address over guest RAM is not decoded */
	cfg_write(1, 0x10, 0x100000, 4);
	assert_int_equal(mmio_read(nb + NUMQ, 2), 0xffff);
	assert_int_equal(mmio_read(0x100000 + NUMQ, 2), 0xffff);
	cfg_write(1, 0x10, (uint32_t)nb, 4);
	assert_int_equal(mmio_read(nb + NUMQ, 2), 1);
	/* a second device's BAR moved over the first is not decoded, and
	 * the first keeps working */
	{
		char err[256];
		int s;

		blk_backend(&fb2);
		s = fb_start(&fb2);
		assert_int_equal(virtio_blk_add(&vm, s, err, sizeof(err)), 0);
		assert_int_equal(mmio_read(bar0(2) + NUMQ, 2), 1);
		cfg_write(2, 0x10, (uint32_t)nb, 4);
		assert_int_equal(mmio_read(nb + STATUS, 1), 0);
		mmio_write(nb + STATUS, 1, 1);
		assert_int_equal(mmio_read(nb + STATUS, 1), 1);  /* device 1's */
		cfg_write(2, 0x10, 0xdc000000u, 4);
		assert_int_equal(mmio_read(0xdc000000ull + STATUS, 1), 0);
	}
}

static void common_cfg_semantics(void **state)
{
	uint64_t b, f;

	blk_backend(&fb);
	assert_int_equal(add_blk(), 0);
	b = bar0(1);

	/* offered: backend's features minus LOG_ALL, PROTOCOL_FEATURES,
	 * RING_PACKED, CONFIG_WCE */
	f = offered(b);
	assert_int_equal(f, (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_EVENT_IDX) |
			    (1ull << BLK_F_SIZE_MAX));
	mmio_write(b + DFSEL, 7, 4);
	assert_int_equal(mmio_read(b + DF, 4), 0);
	/* read-only fields ignore writes */
	mmio_write(b + NUMQ, 5, 2);
	assert_int_equal(mmio_read(b + NUMQ, 2), 1);
	mmio_write(b + DF, 0xffffffff, 4);
	mmio_write(b + DFSEL, 0, 4);
	assert_int_equal(mmio_read(b + DF, 4), (uint32_t)f);
	assert_int_equal(mmio_read(b + MSIX, 2), 0xffff);          /* no MSI-X */
	/* queue 0 */
	assert_int_equal(mmio_read(b + QSIZE, 2), 256);
	assert_int_equal(mmio_read(b + QNOFF, 2), 0);
	mmio_write(b + QSIZE, 3, 2);                                /* not 2^n */
	assert_int_equal(mmio_read(b + QSIZE, 2), 256);
	mmio_write(b + QSIZE, 512, 2);                              /* > max */
	assert_int_equal(mmio_read(b + QSIZE, 2), 256);
	mmio_write(b + QSIZE, 0, 2);
	assert_int_equal(mmio_read(b + QSIZE, 2), 256);
	mmio_write(b + QSIZE, 64, 2);
	assert_int_equal(mmio_read(b + QSIZE, 2), 64);
	/* 64-bit fields in halves and whole */
	mmio_write(b + QDESC, 0x12345000, 4);
	mmio_write(b + QDESC + 4, 0x1, 4);
	assert_int_equal(mmio_read(b + QDESC, 8), 0x112345000ull);
	/* a wrong-width access reads 0 and writes nothing */
	mmio_write(b + QDESC + 1, 0xff, 1);
	assert_int_equal(mmio_read(b + QDESC, 8), 0x112345000ull);
	assert_int_equal(mmio_read(b + QSIZE, 4), 0);
	/* queue_select beyond num_queues: size 0, writes ignored */
	mmio_write(b + QSEL, 1, 2);
	assert_int_equal(mmio_read(b + QSIZE, 2), 0);
	mmio_write(b + QSIZE, 16, 2);
	mmio_write(b + QENABLE, 1, 2);
	mmio_write(b + QDESC, 0x1000, 8);
	assert_int_equal(mmio_read(b + QSIZE, 2), 0);
	assert_int_equal(mmio_read(b + QENABLE, 2), 0);
	mmio_write(b + QSEL, 0xffff, 2);
	assert_int_equal(mmio_read(b + QDESC, 8), 0);
	/* device config: capacity from the backend's GET_CONFIG, read-only */
	assert_int_equal(mmio_read(b + DEVCFG, 8), 0x1000);
	mmio_write(b + DEVCFG, 0xdead, 8);
	assert_int_equal(mmio_read(b + DEVCFG, 8), 0x1000);
	assert_int_equal(mmio_read(b + DEVCFG + 8, 4), 0x10000);
	assert_int_equal(mmio_read(b + DEVCFG + 0x200, 4), 0);
	/* the device-owned NEEDS_RESET bit cannot be set by the driver */
	mmio_write(b + STATUS, 0x41, 1);
	assert_int_equal(mmio_read(b + STATUS, 1), 0x01);
}

static void features_ok_refuses_unoffered(void **state)
{
	uint64_t b;

	blk_backend(&fb);
	assert_int_equal(add_blk(), 0);
	b = bar0(1);
	mmio_write(b + STATUS, 3, 1);
	set_features(b, (1ull << VIRTIO_F_VERSION_1) | (1ull << F_LOG_ALL));
	mmio_write(b + STATUS, 3 | 8, 1);
	assert_int_equal(mmio_read(b + STATUS, 1), 3);          /* FEATURES_OK refused */
	assert_int_equal(fb_count(&fb, VU_SET_FEATURES), 0);
	/* without VERSION_1 too */
	set_features(b, 1ull << BLK_F_SIZE_MAX);
	mmio_write(b + STATUS, 3 | 8, 1);
	assert_int_equal(mmio_read(b + STATUS, 1), 3);
	/* DRIVER_OK without FEATURES_OK fails the device */
	mmio_write(b + STATUS, 3 | 4, 1);
	assert_true(mmio_read(b + STATUS, 1) & 0x40);
	assert_int_equal(fb_count(&fb, VU_SET_VRING_ADDR), 0);
	/* reset clears it, and a good negotiation then works */
	mmio_write(b + STATUS, 0, 1);
	assert_int_equal(mmio_read(b + STATUS, 1), 0);
	mmio_write(b + STATUS, 3, 1);
	set_features(b, (1ull << VIRTIO_F_VERSION_1) | (1ull << BLK_F_SIZE_MAX));
	mmio_write(b + STATUS, 3 | 8, 1);
	assert_int_equal(mmio_read(b + STATUS, 1), 3 | 8);
	/* vhost-user needs its own bit echoed, the guest never sees it */
	assert_int_equal(fb.set_features, (1ull << VIRTIO_F_VERSION_1) |
			 (1ull << BLK_F_SIZE_MAX) | (1ull << VU_F_PROTOCOL_FEATURES));
	/* driver features are frozen after FEATURES_OK */
	mmio_write(b + GFSEL, 0, 4);
	mmio_write(b + GF, 0, 4);
	assert_int_equal(mmio_read(b + GF, 4), 1u << BLK_F_SIZE_MAX);
}

static bool isr_pending(void) { return atomic_load(&irq_level[17]) == 1; }

static void driver_ok_starts_rings_and_reset_stops_them(void **state)
{
	uint64_t b, one = 1;
	eventfd_t v;

	blk_backend(&fb);
	assert_int_equal(add_blk(), 0);
	b = bar0(1);
	drive_to_driver_ok(b, RING_GPA);
	assert_int_equal(mmio_read(b + STATUS, 1), 0x0f);
	assert_int_equal(fb.bad_msgs, 0);
	assert_int_equal(fb.num.num, 64);
	assert_int_equal(fb.base.num, 0);
	assert_int_equal(fb.enable.num, 1);
	assert_int_equal(fb.addr.index, 0);
	assert_int_equal(fb.addr.desc_user_addr, (uint64_t)(uintptr_t)(vm.mem.host + RING_GPA));
	assert_int_equal(fb.addr.avail_user_addr, (uint64_t)(uintptr_t)(vm.mem.host + RING_GPA + 0x1000));
	assert_int_equal(fb.addr.used_user_addr, (uint64_t)(uintptr_t)(vm.mem.host + RING_GPA + 0x2000));
	assert_true(fb.kick >= 0 && fb.call >= 0);
	/* queue fields are frozen once enabled */
	mmio_write(b + QSIZE, 32, 2);
	assert_int_equal(mmio_read(b + QSIZE, 2), 64);

	/* a notify write reaches the backend's kick eventfd */
	mmio_write(b + NOTIFY, 0, 2);
	assert_int_equal(eventfd_read(fb.kick, &v), 0);
	assert_int_equal(v, 1);
	/* notify for a queue that does not exist is dropped */
	mmio_write(b + NOTIFY + 4, 1, 2);

	/* the backend's call raises INTx GSI 17 with ISR bit 0 ... */
	assert_int_equal(write(fb.call, &one, 8), 8);
	assert_true(wait_for(isr_pending));
	assert_true(cfg_read(1, 0x06, 2) & 0x08);                  /* INTx status */
	/* ... and reading ISR acknowledges and lowers it */
	assert_int_equal(mmio_read(b + ISR, 1), 1);
	assert_int_equal(irq_level[17], 0);
	assert_int_equal(mmio_read(b + ISR, 1), 0);
	/* INTx disable in the command register keeps the line low */
	cfg_write(1, 0x04, 0x0406, 2);
	assert_int_equal(write(fb.call, &one, 8), 8);
	for (int i = 0; i < 20 && !(cfg_read(1, 0x06, 2) & 0x08); i++)
		usleep(10000);
	assert_true(cfg_read(1, 0x06, 2) & 0x08);
	assert_int_equal(irq_level[17], 0);
	assert_int_equal(mmio_read(b + ISR, 1), 1);
	cfg_write(1, 0x04, 0x0006, 2);

	/* reset: the ring is stopped with GET_VRING_BASE, state is initial */
	mmio_write(b + STATUS, 0, 1);
	assert_int_equal(fb_count(&fb, VU_GET_VRING_BASE), 1);
	assert_int_equal(mmio_read(b + STATUS, 1), 0);
	assert_int_equal(mmio_read(b + QSIZE, 2), 256);
	assert_int_equal(mmio_read(b + QENABLE, 2), 0);
	assert_int_equal(mmio_read(b + QDESC, 8), 0);
	/* and it can be brought up again */
	drive_to_driver_ok(b, RING_GPA);
	assert_int_equal(mmio_read(b + STATUS, 1), 0x0f);
	assert_int_equal(fb_count(&fb, VU_SET_VRING_KICK), 2);
	assert_int_equal(fb.bad_msgs, 0);
}

static bool config_irq(void) { return atomic_load(&irq_level[17]) == 1; }

static void ring_outside_ram_fails_only_that_device(void **state)
{
	uint64_t b;

	blk_backend(&fb);
	assert_int_equal(add_blk(), 0);
	b = bar0(1);
	/* descriptors straddling the end of RAM */
	drive_to_driver_ok(b, (32 << 20) - 0x200);
	assert_int_equal(mmio_read(b + STATUS, 1), 0x4f);
	assert_int_equal(fb_count(&fb, VU_SET_VRING_ADDR), 0);
	assert_true(config_irq());
	assert_int_equal(mmio_read(b + ISR, 1), 2);                /* config change */
	mmio_write(b + STATUS, 0, 1);
	/* misaligned descriptor table */
	drive_to_driver_ok(b, RING_GPA + 8);
	assert_true(mmio_read(b + STATUS, 1) & 0x40);
	mmio_write(b + STATUS, 0, 1);
	/* in the MMIO hole, far beyond RAM */
	drive_to_driver_ok(b, 0xfffffffff000ull);
	assert_true(mmio_read(b + STATUS, 1) & 0x40);
	mmio_write(b + STATUS, 0, 1);
	assert_int_equal(mmio_read(b + STATUS, 1), 0);
	/* the bus and the device still work */
	assert_int_equal(cfg_read(1, 0, 4), 0x10421af4);
	drive_to_driver_ok(b, RING_GPA);
	assert_int_equal(mmio_read(b + STATUS, 1), 0x0f);
}

static void expect_add_error(const char *want)
{
	char err[256] = "";
	int s = fb_start(&fb);

	assert_true(virtio_blk_add(&vm, s, err, sizeof(err)) < 0);
	if (!strstr(err, want))
		fail_msg("error '%s' lacks '%s'", err, want);
	close(s);
	fb_join(&fb);
	/* nothing was added */
	assert_int_equal(cfg_read(1, 0, 4), 0xffffffff);
}

static void handshake_errors_name_the_step(void **state)
{
	blk_backend(&fb);
	fb.die_at = VU_GET_PROTOCOL_FEATURES;
	expect_add_error("vhost-user blk backend closed the connection during GET_PROTOCOL_FEATURES");

	blk_backend(&fb);
	fb.die_at = VU_SET_MEM_TABLE;
	expect_add_error("closed the connection during SET_MEM_TABLE");

	blk_backend(&fb);
	fb.refuse = VU_SET_MEM_TABLE;
	expect_add_error("vhost-user blk backend refused SET_MEM_TABLE");

	blk_backend(&fb);
	fb.features &= ~(1ull << VIRTIO_F_VERSION_1);
	expect_add_error("does not offer VIRTIO_F_VERSION_1");

	blk_backend(&fb);
	fb.protocol &= ~(1ull << VU_PROTOCOL_F_CONFIG);
	expect_add_error("CONFIG protocol feature");
	memset(&fb, 0, sizeof(fb));
}

static bool needs_reset(void)
{
	return (mmio_read(bar0(1) + STATUS, 1) & 0x40) != 0;
}

static void backend_disconnect_breaks_only_the_device(void **state)
{
	uint64_t b;

	blk_backend(&fb);
	fb.die_at = VU_GET_VRING_BASE;     /* dies when asked to stop */
	assert_int_equal(add_blk(), 0);
	b = bar0(1);
	drive_to_driver_ok(b, RING_GPA);
	assert_int_equal(mmio_read(b + STATUS, 1), 0x0f);
	/* the backend goes away (as if killed) */
	shutdown(fb.sock, SHUT_RDWR);
	assert_true(wait_for(needs_reset));
	assert_int_equal(mmio_read(b + ISR, 1), 2);
	/* reset and renegotiation fail cleanly, registers keep working */
	mmio_write(b + STATUS, 0, 1);
	mmio_write(b + STATUS, 3, 1);
	set_features(b, 1ull << VIRTIO_F_VERSION_1);
	mmio_write(b + STATUS, 3 | 8, 1);
	assert_int_equal(mmio_read(b + STATUS, 1) & 0x48, 0x40);
	assert_int_equal(cfg_read(1, 0, 4), 0x10421af4);
}

static void net_without_config(void **state)
{
	char err[256] = "";
	uint64_t b, f;
	int s;

	memset(&fb, 0, sizeof(fb));
	fb.features = (1ull << VIRTIO_F_VERSION_1) | (1ull << 5) /* MAC */ |
		      (1ull << 0) /* CSUM */ | (1ull << 17) /* CTRL_VQ */ |
		      (1ull << 22) /* MQ */;
	s = fb_start(&fb);
	assert_int_equal(virtio_net_add(&vm, s, err, sizeof(err)), 0);
	assert_int_equal(cfg_read(1, 0, 4), 0x10411af4);
	assert_int_equal(cfg_read(1, 0x08, 4) >> 8, 0x020000);
	b = bar0(1);
	f = offered(b);
	assert_int_equal(f, (1ull << VIRTIO_F_VERSION_1) | 1);
	/* no vhost-user MQ: the backend serves the two queues rx and tx */
	assert_int_equal(mmio_read(b + NUMQ, 2), 2);
	mmio_write(b + QSEL, 1, 2);
	assert_int_equal(mmio_read(b + QNOFF, 2), 1);
	assert_int_equal(mmio_read(b + DEVCFG, 4), 0);
}

static void slots_run_out_cleanly(void **state)
{
	struct fake_backend b[8];
	char err[256];
	int i;

	memset(b, 0, sizeof(b));
	for (i = 0; i < 8; i++) {
		int s;

		blk_backend(&b[i]);
		s = fb_start(&b[i]);
		if (virtio_blk_add(&vm, s, err, sizeof(err)) < 0) {
			close(s);
			break;
		}
		assert_int_equal(bar0(i + 1), MEM_PCI_MMIO_BASE + (uint64_t)i * 0x1000000);
	}
	assert_int_equal(i, PCI_LAST_DEV_SLOT);
	assert_non_null(strstr(err, "no free PCI slot"));
	virtio_devices_destroy(&vm);
	for (int j = 0; j <= i && j < 8; j++)
		fb_join(&b[j]);
}

static unsigned int msix_cap(int slot)
{
	for (unsigned int c = cfg_read(slot, 0x34, 1); c; c = cfg_read(slot, c + 1, 1))
		if (cfg_read(slot, c, 1) == 0x11)
			return c;
	fail_msg("no MSI-X capability");
	return 0;
}

static bool pba_set(void) { return mmio_read(bar0(1) + MSIX_PBA, 8) == 2; }

static void msix_registers_and_pending_bits(void **state)
{
	uint64_t b, one = 1;
	unsigned int cap;
	eventfd_t v;

	blk_backend(&fb);
	assert_int_equal(add_blk(), 0);
	b = bar0(1);
	cap = msix_cap(1);
	/* vectors: 0..nq valid, anything else reads back NO_VECTOR */
	mmio_write(b + MSIX, 0, 2);
	assert_int_equal(mmio_read(b + MSIX, 2), 0);
	mmio_write(b + MSIX, 5, 2);
	assert_int_equal(mmio_read(b + MSIX, 2), 0xffff);
	mmio_write(b + QSEL, 0, 2);
	assert_int_equal(mmio_read(b + QMSIX, 2), 0xffff);
	mmio_write(b + QMSIX, 2, 2);
	assert_int_equal(mmio_read(b + QMSIX, 2), 0xffff);
	mmio_write(b + QMSIX, 1, 2);
	assert_int_equal(mmio_read(b + QMSIX, 2), 1);
	/* table: entries start masked, only the mask bit of control sticks */
	assert_int_equal(mmio_read(b + MSIX_TABLE + 12, 4), 1);
	assert_int_equal(mmio_read(b + MSIX_TABLE + 16 + 12, 4), 1);
	mmio_write(b + MSIX_TABLE + 16, 0xfee00000, 4);
	mmio_write(b + MSIX_TABLE + 16 + 8, 0x41, 4);
	mmio_write(b + MSIX_TABLE + 16 + 12, 0xfffffffe, 4);
	assert_int_equal(mmio_read(b + MSIX_TABLE + 16, 8), 0xfee00000);
	assert_int_equal(mmio_read(b + MSIX_TABLE + 16 + 8, 4), 0x41);
	assert_int_equal(mmio_read(b + MSIX_TABLE + 16 + 12, 4), 0);
	mmio_write(b + MSIX_TABLE + 16 + 12, 1, 4);                 /* mask again */
	/* beyond the table, odd widths: nothing */
	mmio_write(b + MSIX_TABLE + 32, 0x1234, 4);
	assert_int_equal(mmio_read(b + MSIX_TABLE + 32, 4), 0);
	assert_int_equal(mmio_read(b + MSIX_TABLE + 16 + 8, 2), 0);
	/* PBA is read-only */
	mmio_write(b + MSIX_PBA, 0xff, 8);
	assert_int_equal(mmio_read(b + MSIX_PBA, 8), 0);

	/* MSI-X on: a call on a masked vector sets its pending bit, no INTx */
	cfg_write(1, cap + 2, 0x8000, 2);
	assert_int_equal(cfg_read(1, cap + 2, 2), 0x8001);          /* size RO */
	mmio_write(b + MSIX, 0, 2);
	mmio_write(b + STATUS, 0, 1);                   /* reset forgets vectors */
	assert_int_equal(mmio_read(b + QMSIX, 2), 0xffff);
	assert_int_equal(mmio_read(b + MSIX, 2), 0xffff);
	mmio_write(b + STATUS, 3, 1);
	set_features(b, 1ull << VIRTIO_F_VERSION_1);
	mmio_write(b + STATUS, 3 | 8, 1);
	mmio_write(b + QSEL, 0, 2);
	mmio_write(b + QMSIX, 1, 2);
	setup_queue0(b, RING_GPA);
	mmio_write(b + STATUS, 0x0f, 1);
	assert_int_equal(mmio_read(b + STATUS, 1), 0x0f);
	assert_int_equal(write(fb.call, &one, 8), 8);
	assert_true(wait_for(pba_set));
	assert_int_equal(irq_level[17], 0);
	/* unmask: the pending message is delivered and the bit cleared */
	mmio_write(b + MSIX_TABLE + 16 + 12, 0, 4);
	assert_int_equal(mmio_read(b + MSIX_PBA, 8), 0);
	assert_int_equal(eventfd_read(fb.call, &v), -1);            /* consumed */
	/* function mask holds messages too */
	cfg_write(1, cap + 2, 0xc000, 2);
	assert_int_equal(write(fb.call, &one, 8), 8);
	assert_true(wait_for(pba_set));
	cfg_write(1, cap + 2, 0x8000, 2);
	assert_int_equal(mmio_read(b + MSIX_PBA, 8), 0);
	/* MSI-X off again: INTx is back */
	cfg_write(1, cap + 2, 0x0000, 2);
	assert_int_equal(write(fb.call, &one, 8), 8);
	assert_true(wait_for(isr_pending));
	assert_int_equal(mmio_read(b + ISR, 1) & 1, 1);
}

/* With a real KVM VM (in-kernel irqchip), an unmasked vector's route is
 * installed and the backend's call eventfd is bound to it by KVM_IRQFD:
 * KVM, not ward-hv, consumes the signal. */
static int setup_kvm(void **state)
{
	int rc = setup(state);

	if (rc)
		return rc;
	vm.kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm.kvm_fd >= 0)
		vm.vm_fd = ioctl(vm.kvm_fd, KVM_CREATE_VM, 0);
	if (vm.vm_fd >= 0 && ioctl(vm.vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		close(vm.vm_fd);
		vm.vm_fd = -1;
	}
	return 0;
}

static int teardown_kvm(void **state)
{
	int vmfd = vm.vm_fd, kvmfd = vm.kvm_fd;

	teardown(state);
	if (vmfd >= 0)
		close(vmfd);
	if (kvmfd >= 0)
		close(kvmfd);
	return 0;
}

static void msix_irqfd_with_kvm(void **state)
{
	uint64_t b, one = 1;
	unsigned int cap;
	eventfd_t v;

	if (vm.vm_fd < 0) {
		print_message("no usable /dev/kvm with an irqchip: skipped\n");
		skip();
	}
	blk_backend(&fb);
	assert_int_equal(add_blk(), 0);
	b = bar0(1);
	cap = msix_cap(1);
	cfg_write(1, cap + 2, 0x8000, 2);
	mmio_write(b + MSIX_TABLE + 16, 0xfee00000, 4);
	mmio_write(b + MSIX_TABLE + 16 + 8, 0x41, 4);
	mmio_write(b + MSIX_TABLE + 16 + 12, 0, 4);
	mmio_write(b + STATUS, 3, 1);
	set_features(b, 1ull << VIRTIO_F_VERSION_1);
	mmio_write(b + STATUS, 3 | 8, 1);
	mmio_write(b + QSEL, 0, 2);
	mmio_write(b + QMSIX, 1, 2);
	setup_queue0(b, RING_GPA);
	mmio_write(b + STATUS, 0x0f, 1);
	assert_int_equal(mmio_read(b + STATUS, 1), 0x0f);
	assert_int_equal(write(fb.call, &one, 8), 8);
	/* KVM's irqfd drains the counter synchronously on the write */
	assert_int_equal(eventfd_read(fb.call, &v), -1);
	assert_int_equal(mmio_read(b + MSIX_PBA, 8), 0);
	assert_int_equal(irq_level[17], 0);
	/* masking unbinds: the signal then waits in the PBA */
	mmio_write(b + MSIX_TABLE + 16 + 12, 1, 4);
	assert_int_equal(write(fb.call, &one, 8), 8);
	assert_true(wait_for(pba_set));
	/* reset unbinds and stops the ring */
	mmio_write(b + STATUS, 0, 1);
	assert_int_equal(fb_count(&fb, VU_GET_VRING_BASE), 1);
}

static unsigned int pci_cfg_cap(int slot)
{
	for (unsigned int c = cfg_read(slot, 0x34, 1); c; c = cfg_read(slot, c + 1, 1))
		if (cfg_read(slot, c, 1) == 0x09 && cfg_read(slot, c + 3, 1) == 5)
			return c;
	fail_msg("no PCI_CFG capability");
	return 0;
}

static void window(unsigned int cap, uint8_t bar, uint32_t off, uint32_t len)
{
	cfg_write(1, cap + 4, bar, 1);
	cfg_write(1, cap + 8, off, 4);
	cfg_write(1, cap + 12, len, 4);
}

static void pci_cfg_window(void **state)
{
	unsigned int cap;

	blk_backend(&fb);
	assert_int_equal(add_blk(), 0);
	cap = pci_cfg_cap(1);
	/* read num_queues and the device config through config space */
	window(cap, 0, NUMQ, 2);
	assert_int_equal(cfg_read(1, cap + 16, 2), 1);
	window(cap, 0, DEVCFG, 4);
	assert_int_equal(cfg_read(1, cap + 16, 4), 0x1000);
	/* write device_status through it */
	window(cap, 0, STATUS, 1);
	cfg_write(1, cap + 16, 0x01, 1);
	assert_int_equal(mmio_read(bar0(1) + STATUS, 1), 0x01);
	/* it works with memory decoding off (that is what it is for) */
	cfg_write(1, 0x04, 0, 2);
	cfg_write(1, cap + 16, 0x03, 1);
	cfg_write(1, 0x04, 0x0006, 2);
	assert_int_equal(mmio_read(bar0(1) + STATUS, 1), 0x03);
	/* a misaligned, oversized, out-of-BAR or other-BAR window does nothing */
	window(cap, 0, STATUS - 1, 2);
	cfg_write(1, cap + 16, 0, 2);
	window(cap, 0, STATUS, 3);
	cfg_write(1, cap + 16, 0, 4);
	window(cap, 0, 0xfffffffc, 4);
	cfg_write(1, cap + 16, 0, 4);
	window(cap, 1, STATUS, 1);
	cfg_write(1, cap + 16, 0, 1);
	assert_int_equal(mmio_read(bar0(1) + STATUS, 1), 0x03);
	/* the type and the BAR size fields stay read-only */
	cfg_write(1, cap + 3, 1, 1);
	assert_int_equal(cfg_read(1, cap + 3, 1), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(host_bridge_and_empty_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(blk_header_and_capabilities, setup, teardown),
		cmocka_unit_test_setup_teardown(bar_sizing_move_and_disable, setup, teardown),
		cmocka_unit_test_setup_teardown(common_cfg_semantics, setup, teardown),
		cmocka_unit_test_setup_teardown(features_ok_refuses_unoffered, setup, teardown),
		cmocka_unit_test_setup_teardown(driver_ok_starts_rings_and_reset_stops_them, setup, teardown),
		cmocka_unit_test_setup_teardown(ring_outside_ram_fails_only_that_device, setup, teardown),
		cmocka_unit_test_setup_teardown(handshake_errors_name_the_step, setup, teardown),
		cmocka_unit_test_setup_teardown(backend_disconnect_breaks_only_the_device, setup, teardown),
		cmocka_unit_test_setup_teardown(net_without_config, setup, teardown),
		cmocka_unit_test_setup_teardown(slots_run_out_cleanly, setup, teardown),
		cmocka_unit_test_setup_teardown(msix_registers_and_pending_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(msix_irqfd_with_kvm, setup_kvm, teardown_kvm),
		cmocka_unit_test_setup_teardown(pci_cfg_window, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
