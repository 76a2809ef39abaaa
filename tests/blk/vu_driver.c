/* vu_driver: a small userspace vhost-user-blk frontend for ward-blk tests and
 * the storage benchmark. It maps its own memfd as "guest memory" (sealed
 * against shrinking, unless --unsealed), builds one split virtqueue, and
 * drives a backend over a unix socket (or, with --spawn-ctl, plays the
 * controller: opens the store, and hands ward-blk the store fd and one end of
 * a socketpair with blkctl_attach). Same driver for ward-blk and
 * qemu-storage-daemon. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "blkctl.h"
#include "vhost_user.h"
#include "virtq.h"
#include "vu_request.h"

#define QSZ        256
#define MAXQD      64
#define RING_AREA  (1u << 20)
#define SECT       4096u

struct vuf {
	int sock;
	uint8_t *mem;
	size_t memsz;
	uint64_t features, proto;
	struct vq_desc_raw *desc;
	volatile uint16_t *avail, *used;
	int kick, call, err;
	uint16_t avail_idx, used_last;
	uint64_t capacity;
	uint32_t blk_size;
	size_t maxbs;
	uint8_t *hdr, *status, *data;
	bool busy[MAXQD];
};

static bool unsealed; /* --unsealed: a memfd the frontend could still shrink */

static void die(const char *what)
{
	fprintf(stderr, "vu_driver: %s\n", what);
	exit(1);
}

static int msg(struct vuf *f, uint32_t req, const void *p, uint32_t sz,
	       const int *fds, size_t nfds, void *reply, uint32_t rsz, bool ack)
{
	return vu_request(f->sock, f->proto, req, p, sz, fds, nfds, reply, rsz, ack);
}

static void setup(struct vuf *f, int sock, size_t memsz, size_t maxbs)
{
	uint64_t v;
	int memfd, fds[1];
	struct vu_mem_table t = { 0 };
	struct vu_config cfg = { 0 };
	struct vu_vring_state st;
	struct vu_vring_addr a = { 0 };
	uint64_t want = (1ull << VIRTIO_F_VERSION_1) | (1ull << 2) | (1ull << 6) | (1ull << 9) |
			(1ull << 12) | (1ull << 13) | (1ull << 14) | (1ull << 5);

	memset(f, 0, sizeof(*f));
	f->sock = sock;
	f->maxbs = maxbs;
	f->memsz = memsz;
	memfd = memfd_create("vu_driver", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0 || ftruncate(memfd, (off_t)memsz) < 0)
		die("memfd");
	/* As ward-hv and QEMU's memory-backend-memfd do: a backend maps this
	 * for good, so it must not shrink under it. */
	if (!unsealed && fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		die("sealing the memfd");
	f->mem = mmap(NULL, memsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, memfd, 0);
	if (f->mem == MAP_FAILED)
		die("mmap");
	f->desc = (struct vq_desc_raw *)f->mem;
	f->avail = (volatile uint16_t *)(f->mem + 16 * QSZ);
	f->used = (volatile uint16_t *)(f->mem + 8192);
	f->hdr = f->mem + 65536;
	f->status = f->mem + 65536 + 16 * MAXQD;
	f->data = f->mem + RING_AREA;
	if (RING_AREA + MAXQD * maxbs > memsz)
		die("memory too small for queue depth x block size");

	if (msg(f, VU_GET_FEATURES, NULL, 0, NULL, 0, &v, 8, false))
		die("GET_FEATURES");
	if (!(v & (1ull << VU_F_PROTOCOL_FEATURES)))
		die("backend lacks PROTOCOL_FEATURES");
	f->features = (v & want) | (1ull << VU_F_PROTOCOL_FEATURES);
	if (msg(f, VU_GET_PROTOCOL_FEATURES, NULL, 0, NULL, 0, &v, 8, false))
		die("GET_PROTOCOL_FEATURES");
	f->proto = v & ((1ull << VU_PROTOCOL_F_MQ) | (1ull << VU_PROTOCOL_F_REPLY_ACK) |
			(1ull << VU_PROTOCOL_F_CONFIG));
	if (msg(f, VU_SET_PROTOCOL_FEATURES, &f->proto, 8, NULL, 0, NULL, 0, false))
		die("SET_PROTOCOL_FEATURES");
	if (msg(f, VU_SET_OWNER, NULL, 0, NULL, 0, NULL, 0, true))
		die("SET_OWNER");
	if (msg(f, VU_SET_FEATURES, &f->features, 8, NULL, 0, NULL, 0, true))
		die("SET_FEATURES");
	cfg.size = 60;
	{
		struct vu_config out;

		if (vu_send(f->sock, VU_GET_CONFIG, 0, &cfg, 12 + 60, NULL, 0))
			die("GET_CONFIG");
		{
			struct vu_msg m;

			if (vu_recv(f->sock, &m) != 1 || m.hdr.size != 12 + 60)
				die("GET_CONFIG reply");
			memcpy(&out, &m.p, sizeof(out));
		}
		memcpy(&f->capacity, out.region, 8);
		memcpy(&f->blk_size, out.region + 20, 4);
		f->capacity *= 512;
	}
	t.nregions = 1;
	t.regions[0].guest_phys_addr = 0;
	t.regions[0].memory_size = memsz;
	t.regions[0].userspace_addr = (uint64_t)(uintptr_t)f->mem;
	t.regions[0].mmap_offset = 0;
	fds[0] = memfd;
	if (msg(f, VU_SET_MEM_TABLE, &t, 8 + sizeof(t.regions[0]), fds, 1, NULL, 0, true)) {
		if (unsealed) {
			/* With REPLY_ACK the refusal is in-band; without, the
			 * backend drops the connection. Either way: refused. */
			printf("SET_MEM_TABLE refused: unsealed memfd\n");
			exit(3);
		}
		die("SET_MEM_TABLE");
	}
	if (unsealed)
		die("backend accepted an unsealed memfd as guest memory");
	close(memfd);
	st.index = 0; st.num = QSZ;
	if (msg(f, VU_SET_VRING_NUM, &st, sizeof(st), NULL, 0, NULL, 0, true))
		die("SET_VRING_NUM");
	st.num = 0;
	if (msg(f, VU_SET_VRING_BASE, &st, sizeof(st), NULL, 0, NULL, 0, true))
		die("SET_VRING_BASE");
	a.index = 0;
	a.desc_user_addr = (uint64_t)(uintptr_t)f->desc;
	a.avail_user_addr = (uint64_t)(uintptr_t)f->avail;
	a.used_user_addr = (uint64_t)(uintptr_t)f->used;
	if (msg(f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, NULL, 0, true))
		die("SET_VRING_ADDR");
	f->kick = eventfd(0, EFD_CLOEXEC);
	f->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	v = 0;
	if (msg(f, VU_SET_VRING_CALL, &v, 8, &f->call, 1, NULL, 0, true) ||
	    msg(f, VU_SET_VRING_ERR, &v, 8, &f->err, 1, NULL, 0, true) ||
	    msg(f, VU_SET_VRING_KICK, &v, 8, &f->kick, 1, NULL, 0, true))
		die("SET_VRING_CALL/ERR/KICK");
	st.index = 0; st.num = 1;
	if (msg(f, VU_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0, NULL, 0, true))
		die("SET_VRING_ENABLE");
}

static void kick(struct vuf *f)
{
	uint64_t one = 1;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (write(f->kick, &one, 8) != 8)
		die("kick");
}

/* Queue request in slot s (descriptors 3s..3s+2). */
static void queue_req(struct vuf *f, unsigned int s, uint32_t type, uint64_t off, size_t len)
{
	struct vq_desc_raw *d = &f->desc[3 * s];
	uint8_t *h = f->hdr + 16 * s;
	uint64_t sector = off / 512;
	uint16_t n = 0;

	memset(h, 0, 16);
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	f->status[s] = 0xff;
	d[n++] = (struct vq_desc_raw){ (uint64_t)(h - f->mem), 16, VIRTQ_DESC_F_NEXT, (uint16_t)(3 * s + 1) };
	if (len) {
		d[n - 1].next = (uint16_t)(3 * s + n);
		d[n] = (struct vq_desc_raw){ (uint64_t)(f->data + s * f->maxbs - f->mem), (uint32_t)len,
					    (uint16_t)(VIRTQ_DESC_F_NEXT | (type == 0 || type == 8 ? VIRTQ_DESC_F_WRITE : 0)),
					    (uint16_t)(3 * s + n + 1) };
		n++;
	}
	d[n - 1].next = (uint16_t)(3 * s + n);
	d[n] = (struct vq_desc_raw){ (uint64_t)(f->status + s - f->mem), 1, VIRTQ_DESC_F_WRITE, 0 };
	f->avail[2 + f->avail_idx % QSZ] = (uint16_t)(3 * s);
	f->avail_idx++;
	__atomic_store_n(&f->avail[1], f->avail_idx, __ATOMIC_RELEASE);
	f->busy[s] = true;
}

/* Wait for at least one completion; returns slots completed via cb. */
static int reap(struct vuf *f, int timeout_ms, void (*cb)(struct vuf *, unsigned int, void *), void *arg)
{
	int got = 0;

	for (;;) {
		uint16_t ui = __atomic_load_n(&f->used[1], __ATOMIC_ACQUIRE);

		while (f->used_last != ui) {
			volatile uint32_t *e = (volatile uint32_t *)(f->used + 2) + 2 * (f->used_last % QSZ);
			unsigned int s = e[0] / 3;

			f->used_last++;
			if (s >= MAXQD || !f->busy[s])
				die("backend returned an unknown descriptor");
			f->busy[s] = false;
			if (f->status[s] != 0)
				fprintf(stderr, "vu_driver: request in slot %u failed with status %u\n", s, f->status[s]);
			if (cb)
				cb(f, s, arg);
			got++;
		}
		if (got)
			return got;
		{
			struct pollfd p = { f->call, POLLIN, 0 };
			uint64_t v;
			int rc = poll(&p, 1, timeout_ms);

			if (rc == 0)
				return 0;
			if (rc > 0 && read(f->call, &v, 8) < 0 && errno != EAGAIN)
				die("call fd");
		}
	}
}

static int one(struct vuf *f, uint32_t type, uint64_t off, size_t len)
{
	queue_req(f, 0, type, off, len);
	kick(f);
	if (reap(f, 10000, NULL, NULL) != 1)
		die("no completion within 10 s");
	return f->status[0];
}

/* The plaintext a test writes: greppable text, recomputable by the Python
 * interop test (tests/blk/xts_interop.py). */
static void pattern(uint8_t *buf, uint64_t sector, unsigned int pat)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "WARD-PLAINTEXT sector=%08llu pattern=%04x\n",
			 (unsigned long long)sector, pat);

	for (size_t o = 0; o < SECT; o += (size_t)n)
		memcpy(buf + o, line, SECT - o < (size_t)n ? SECT - o : (size_t)n);
}

static int cmd_write(struct vuf *f, uint64_t first, uint64_t count, unsigned int pat, bool verify)
{
	uint8_t *buf = f->data, exp[SECT];
	size_t per = f->maxbs / SECT;

	for (uint64_t s = first; s < first + count; s += per) {
		size_t n = first + count - s < per ? (size_t)(first + count - s) : per;

		if (!verify)
			for (size_t i = 0; i < n; i++)
				pattern(buf + i * SECT, s + i, pat);
		if (one(f, verify ? 0 : 1, s * SECT, n * SECT)) {
			fprintf(stderr, "vu_driver: %s at sector %llu failed\n", verify ? "read" : "write",
				(unsigned long long)s);
			return 1;
		}
		/* A write must leave the guest's buffer as it was: the
		 * backend encrypts into memory of its own. */
		for (size_t i = 0; !verify && i < n; i++) {
			pattern(exp, s + i, pat);
			if (memcmp(exp, buf + i * SECT, SECT)) {
				fprintf(stderr, "vu_driver: the write of sector %llu altered the "
					"guest's buffer\n", (unsigned long long)(s + i));
				return 1;
			}
		}
		for (size_t i = 0; verify && i < n; i++) {
			pattern(exp, s + i, pat);
			if (memcmp(exp, buf + i * SECT, SECT)) {
				fprintf(stderr, "vu_driver: sector %llu does not hold pattern %04x\n",
					(unsigned long long)(s + i), pat);
				return 1;
			}
		}
	}
	return 0;
}

/* One request whose data is split over `nseg` guest buffers at 512-byte
 * (not 4096-byte) boundaries, in separate places of guest memory, so XTS
 * sectors straddle buffers: descriptors from 128 up, buffers 8 KiB apart
 * from data slot 1 on. */
static int split_req(struct vuf *f, uint32_t type, uint64_t sector4k, const size_t *seg,
		     unsigned int nseg, uint8_t **bufs)
{
	struct vq_desc_raw *d = &f->desc[128];
	const unsigned int slot = 128 / 3; /* what reap() makes of head 128 */
	uint8_t *h = f->hdr + 16 * slot, *base = f->data + f->maxbs; /* slot 1 on */
	uint64_t sector = sector4k * (SECT / 512);
	uint16_t n = 0;

	if (base + (size_t)nseg * 8192 > f->mem + f->memsz)
		die("split: memory too small");
	memset(h, 0, 16);
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	f->status[slot] = 0xff;
	d[n] = (struct vq_desc_raw){ (uint64_t)(h - f->mem), 16, VIRTQ_DESC_F_NEXT, (uint16_t)(129 + n) };
	n++;
	for (unsigned int k = 0; k < nseg; k++) {
		bufs[k] = base + (size_t)k * 8192 + 512; /* 512-aligned, not page-aligned */
		d[n] = (struct vq_desc_raw){ (uint64_t)(bufs[k] - f->mem), (uint32_t)seg[k],
					    (uint16_t)(VIRTQ_DESC_F_NEXT | (type == 0 ? VIRTQ_DESC_F_WRITE : 0)),
					    (uint16_t)(129 + n) };
		n++;
	}
	d[n] = (struct vq_desc_raw){ (uint64_t)(f->status + slot - f->mem), 1, VIRTQ_DESC_F_WRITE, 0 };
	f->avail[2 + f->avail_idx % QSZ] = 128;
	f->avail_idx++;
	__atomic_store_n(&f->avail[1], f->avail_idx, __ATOMIC_RELEASE);
	f->busy[slot] = true;
	kick(f);
	if (reap(f, 10000, NULL, NULL) != 1)
		die("split: no completion within 10 s");
	return f->status[slot];
}

/* Write `count` sectors from buffers split at odd places, read them back
 * into buffers split elsewhere; both must see the plain pattern, and the
 * write must not alter the guest's buffers. */
static int cmd_split(struct vuf *f, uint64_t first, unsigned int pat)
{
	static const size_t wseg[] = { 512, 5120, 2560, 1536, 4608, 2048 };   /* 4 sectors */
	static const size_t rseg[] = { 3584, 1024, 6656, 512, 3072, 1536 };   /* 4 sectors */
	uint8_t *bufs[6], exp[4 * SECT];
	size_t o = 0;
	int rc;

	for (unsigned int i = 0; i < 4; i++)
		pattern(exp + i * SECT, first + i, pat);
	for (unsigned int k = 0; k < 6; o += wseg[k], k++)
		memcpy(f->data + f->maxbs + (size_t)k * 8192 + 512, exp + o, wseg[k]);
	o = 0;
	rc = split_req(f, 1, first, wseg, 6, bufs) != 0;
	for (unsigned int k = 0; k < 6; o += wseg[k], k++)
		rc |= memcmp(bufs[k], exp + o, wseg[k]) != 0; /* unaltered by the write */
	o = 0;
	for (unsigned int k = 0; k < 6; k++)
		memset(f->data + f->maxbs + (size_t)k * 8192 + 512, 0xa5, rseg[k]);
	rc |= split_req(f, 0, first, rseg, 6, bufs) != 0;
	for (unsigned int k = 0; k < 6; o += rseg[k], k++)
		rc |= memcmp(bufs[k], exp + o, rseg[k]) != 0;
	return rc;
}

/* A read that the backend fails part-way (ward-blk's torn-read test hook):
 * the guest's buffer must hold zeroes, neither ciphertext nor plaintext. */
static int cmd_torn(struct vuf *f, uint64_t first, uint64_t count)
{
	size_t len = (size_t)count * SECT;

	if (len > f->maxbs)
		die("torn: longer than one request");
	memset(f->data, 0xa5, len);
	if (one(f, 0, first * SECT, len) != 1) {
		fprintf(stderr, "vu_driver: the torn read did not fail\n");
		return 1;
	}
	for (size_t i = 0; i < len; i++)
		if (f->data[i]) {
			fprintf(stderr, "vu_driver: after a failed read the guest's buffer holds "
				"non-zero byte 0x%02x at %zu\n", f->data[i], i);
			return 1;
		}
	return 0;
}

/* Malformed rings, each of which must break only this device. */
static int cmd_break(struct vuf *f, const char *how)
{
	struct vq_desc_raw *d = f->desc;
	struct pollfd p = { f->err, POLLIN, 0 };

	if (!strcmp(how, "loop")) {
		d[0] = (struct vq_desc_raw){ 65536, 16, VIRTQ_DESC_F_NEXT, 1 };
		d[1] = (struct vq_desc_raw){ 65536, 16, VIRTQ_DESC_F_NEXT, 0 };
	} else if (!strcmp(how, "oob")) {
		d[0] = (struct vq_desc_raw){ f->memsz - 8, 16, VIRTQ_DESC_F_NEXT, 1 };
		d[1] = (struct vq_desc_raw){ 65536 + 1024, 1, VIRTQ_DESC_F_WRITE, 0 };
	} else if (!strcmp(how, "next")) {
		d[0] = (struct vq_desc_raw){ 65536, 16, VIRTQ_DESC_F_NEXT, 60000 };
	} else if (!strcmp(how, "overflow")) {
		d[0] = (struct vq_desc_raw){ ~0ull - 4, 16, VIRTQ_DESC_F_NEXT, 1 };
		d[1] = (struct vq_desc_raw){ 65536, 1, VIRTQ_DESC_F_WRITE, 0 };
	} else if (!strcmp(how, "head")) {
		f->avail[2 + f->avail_idx % QSZ] = 4000;
		f->avail_idx++;
		__atomic_store_n(&f->avail[1], f->avail_idx, __ATOMIC_RELEASE);
		kick(f);
		goto wait;
	} else {
		die("break: loop|oob|next|overflow|head");
	}
	f->avail[2 + f->avail_idx % QSZ] = 0;
	f->avail_idx++;
	__atomic_store_n(&f->avail[1], f->avail_idx, __ATOMIC_RELEASE);
	kick(f);
wait:
	if (poll(&p, 1, 5000) != 1) {
		fprintf(stderr, "vu_driver: backend did not signal the vring err fd\n");
		return 1;
	}
	printf("ring broken as expected (%s)\n", how);
	return 0;
}

static uint64_t rng = 88172645463325252ull;

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct bench { uint64_t next_off, span; size_t bs; bool rnd; uint32_t type; };

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t bench_off(struct bench *b)
{
	uint64_t o;

	if (b->rnd)
		return (xorshift() % (b->span / b->bs)) * b->bs;
	o = b->next_off;
	b->next_off = (o + b->bs) % b->span;
	return o;
}

static void bench_cb(struct vuf *f, unsigned int s, void *arg)
{
	(void)f; (void)s; (void)arg;
}

static int cmd_bench(struct vuf *f, const char *wl, unsigned int qd, size_t bs,
		     double secs, uint64_t span)
{
	struct bench b = { 0 };
	uint64_t ops = 0;
	double t0, t;

	b.bs = bs;
	b.span = span ? span : f->capacity;
	b.rnd = !strncmp(wl, "rand", 4);
	b.type = strstr(wl, "write") ? 1 : 0;
	if (qd > MAXQD || bs > f->maxbs || b.span < bs)
		die("bench: bad queue depth / block size / span");
	for (unsigned int s = 0; s < qd; s++)
		memset(f->data + s * f->maxbs, 0x5a ^ (int)s, bs);
	t0 = now();
	for (unsigned int s = 0; s < qd; s++)
		queue_req(f, s, b.type, bench_off(&b), bs);
	kick(f);
	for (;;) {
		unsigned int done[MAXQD], nd = 0;
		int got = 0;

		{
			uint16_t ui;

			/* Collect completions, resubmit their slots as one batch. */
			if (reap(f, 10000, NULL, NULL) == 0)
				die("bench: no completion within 10 s");
			for (unsigned int s = 0; s < qd; s++)
				if (!f->busy[s])
					done[nd++] = s;
			ui = 0;
			(void)ui;
		}
		got = (int)nd;
		ops += (uint64_t)got;
		t = now();
		if (t - t0 >= secs)
			break;
		for (unsigned int i = 0; i < nd; i++)
			queue_req(f, done[i], b.type, bench_off(&b), bs);
		kick(f);
	}
	while (1) {
		bool any = false;

		for (unsigned int s = 0; s < qd; s++)
			any |= f->busy[s];
		if (!any)
			break;
		if (reap(f, 10000, bench_cb, NULL) == 0)
			die("bench: drain timed out");
	}
	t = now() - t0;
	printf("{\"workload\":\"%s\",\"qd\":%u,\"bs\":%zu,\"seconds\":%.3f,\"iops\":%.0f,\"mbps\":%.1f}\n",
	       wl, qd, bs, t, (double)ops / t, (double)ops * (double)bs / t / 1e6);
	return 0;
}

static int connect_path(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	for (int i = 0; i < 200; i++) {
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
			return s;
		usleep(25000);
	}
	die("cannot connect to the backend socket");
	return -1;
}

/* Controller path: play the controller. Start ward-blk with a control
 * socketpair (plus extra ward-blk arguments), open the store the way the
 * controller does (blkctl_open_store: a file fd, or a connected NBD socket),
 * attach one volume with blkctl_attach and hand ward-blk the store fd and one
 * end of a vhost-user socketpair. */
struct ctl_opts {
	const char *wardblk, *backing, *keyfile;
	uint64_t size;
	bool readonly, wrong_mode;
	char *blk_args[8];
	int nblk_args;
};

static pid_t spawn_blk(const struct ctl_opts *o, int *ctl_out)
{
	int ctl[2];
	char fdarg[16];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, ctl))
		die("socketpair");
	pid = fork();
	if (pid == 0) {
		char *av[16] = { (char *)o->wardblk, "--control-fd", fdarg };
		int n = 3;

		close(ctl[0]);
		snprintf(fdarg, sizeof(fdarg), "%d", ctl[1]);
		for (int i = 0; i < o->nblk_args; i++)
			av[n++] = o->blk_args[i];
		av[n] = NULL;
		execv(o->wardblk, av);
		_exit(127);
	}
	close(ctl[1]);
	*ctl_out = ctl[0];
	return pid;
}

/* ATTACH volume `id` over ctl. Returns our end of its vhost-user socket, or
 * a negative errno with ward-blk's reason in err. */
static int ctl_attach(int ctl, const struct ctl_opts *o, const char *id, char *err, size_t errlen)
{
	struct blkctl_attach a = { 0 };
	uint8_t key[64] = { 0 };
	int vu[2], store, rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, vu))
		die("socketpair");
	snprintf(a.id, sizeof(a.id), "%s", id);
	a.size = o->size;
	a.num_queues = 1;
	if (o->readonly)
		a.flags |= BLKCTL_F_READONLY;
	if (o->keyfile) {
		FILE *kf = fopen(o->keyfile, "rb");

		if (!kf || fread(key, 1, 64, kf) != 64)
			die("key file");
		fclose(kf);
	} else {
		a.flags |= BLKCTL_F_NO_ENCRYPTION;
	}
	store = blkctl_open_store(o->backing, &a, err, errlen);
	if (store >= 0 && o->wrong_mode) {
		/* A controller bug: a read-write fd for a read-only volume. */
		close(store);
		store = open(o->backing, O_RDWR | O_CLOEXEC);
	}
	if (store < 0) {
		fprintf(stderr, "vu_driver: %s\n", err);
		exit(1);
	}
	rc = blkctl_attach(ctl, &a, key, vu[1], store, NULL, NULL, err, errlen);
	memset(key, 0, sizeof(key));
	close(vu[1]);
	close(store); /* ward-blk holds its own copy now */
	if (rc) {
		close(vu[0]);
		return rc;
	}
	return vu[0];
}

static int spawn_ctl(const struct ctl_opts *o, int *ctl_out, pid_t *pid_out)
{
	char err[256];
	pid_t pid = spawn_blk(o, ctl_out);
	int vu = ctl_attach(*ctl_out, o, "vol-ctl", err, sizeof(err));

	if (vu < 0) {
		fprintf(stderr, "vu_driver: ATTACH refused: %s (%d)\n", err, vu);
		exit(1);
	}
	printf("attach: %s pid=%d\n", err, (int)pid);
	fflush(stdout);
	*pid_out = pid;
	return vu;
}

/* The frontend side of a connection: what setup() made. */
static void teardown(struct vuf *f)
{
	close(f->sock);
	close(f->kick);
	close(f->call);
	close(f->err);
	munmap(f->mem, f->memsz);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "fd", required_argument, NULL, 'F' },	/* an inherited, connected socket */
		{ "spawn-ctl", required_argument, NULL, 'w' },
		{ "backing", required_argument, NULL, 'b' },
		{ "size", required_argument, NULL, 'z' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "mem", required_argument, NULL, 'm' },
		{ "max-bs", required_argument, NULL, 'x' },
		{ "unsealed", no_argument, NULL, 'U' },
		{ "readonly", no_argument, NULL, 'R' },
		{ "wrong-mode", no_argument, NULL, 'W' },
		{ "blk-arg", required_argument, NULL, 'A' },
		{ 0 },
	};
	const char *sock_path = NULL;
	struct ctl_opts co = { 0 };
	size_t memsz = 0, maxbs = 1 << 20;
	int opt, sock = -1, rc = 0, ctl = -1;
	pid_t child = -1;
	struct vuf f;
	struct { char id[BLKCTL_ID_LEN]; int vu; } extra[8];
	int nextra = 0;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0); /* tests watch the output live */
	while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (opt) {
		case 's': sock_path = optarg; break;
		case 'F': sock = atoi(optarg); break;
		case 'w': co.wardblk = optarg; break;
		case 'b': co.backing = optarg; break;
		case 'z': co.size = strtoull(optarg, NULL, 0); break;
		case 'k': co.keyfile = optarg; break;
		case 'U': unsealed = true; break;
		case 'R': co.readonly = true; break;
		case 'W': co.wrong_mode = true; break;
		case 'A':
			if (co.nblk_args == 8)
				die("at most 8 --blk-arg");
			co.blk_args[co.nblk_args++] = optarg;
			break;
		case 'm': memsz = strtoull(optarg, NULL, 0); break;
		case 'x': maxbs = strtoull(optarg, NULL, 0); break;
		default: return 2;
		}
	}
	if (!memsz)
		memsz = RING_AREA + MAXQD * maxbs;
	if (co.wardblk) {
		if (!co.backing)
			die("--spawn-ctl needs --backing STORE");
		sock = spawn_ctl(&co, &ctl, &child);
	}
	else if (sock_path)
		sock = connect_path(sock_path);
	else if (sock < 0)
		die("need --socket PATH, --fd N or --spawn-ctl WARD_BLK");
	/* handoff CMD ARGS...: give the vhost-user end to another frontend
	 * (ward-hv --blk-fd), as the controller does, and return its status. */
	if (optind < argc && !strcmp(argv[optind], "handoff")) {
		char fdarg[16];
		pid_t hv;
		int st;

		snprintf(fdarg, sizeof(fdarg), "%d", sock);
		hv = fork();
		if (hv == 0) {
			char **av = calloc((size_t)(argc - optind + 3), sizeof(char *));
			int n = 0;

			fcntl(sock, F_SETFD, 0);
			for (int i = optind + 1; i < argc; i++)
				av[n++] = argv[i];
			av[n++] = "--blk-fd";
			av[n++] = fdarg;
			execv(av[0], av);
			_exit(127);
		}
		close(sock);
		waitpid(hv, &st, 0);
		printf("handoff: frontend exited with status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128);
		rc = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
		if (child > 0) {
			close(ctl);
			waitpid(child, &st, 0);
		}
		return rc;
	}
	setup(&f, sock, memsz, maxbs);
	printf("connected: capacity=%llu blk_size=%u features=0x%llx\n",
	       (unsigned long long)f.capacity, f.blk_size, (unsigned long long)f.features);

	/* Commands: write S N P | verify S N P | split S P | torn S N | flush | break HOW | bench WL QD BS SECS [SPAN] |
	 * getid | readonly-check | stats | detach | reattach | attach-extra ID |
	 * expect-attach-refused ID | detach-extra ID | wait-file PATH */
	for (int i = optind; i < argc && !rc; i++) {
		const char *c = argv[i];

		if ((!strcmp(c, "write") || !strcmp(c, "verify")) && i + 3 < argc) {
			rc = cmd_write(&f, strtoull(argv[i + 1], NULL, 0), strtoull(argv[i + 2], NULL, 0),
				       (unsigned int)strtoul(argv[i + 3], NULL, 16), c[0] == 'v');
			if (!rc)
				printf("%s %s %s %s: ok\n", c, argv[i + 1], argv[i + 2], argv[i + 3]);
			i += 3;
		} else if (!strcmp(c, "split") && i + 2 < argc) {
			rc = cmd_split(&f, strtoull(argv[i + 1], NULL, 0),
				       (unsigned int)strtoul(argv[i + 2], NULL, 16));
			printf("split %s %s: %s\n", argv[i + 1], argv[i + 2], rc ? "wrong" : "ok");
			i += 2;
		} else if (!strcmp(c, "torn") && i + 2 < argc) {
			rc = cmd_torn(&f, strtoull(argv[i + 1], NULL, 0), strtoull(argv[i + 2], NULL, 0));
			printf("torn %s %s: %s\n", argv[i + 1], argv[i + 2], rc ? "wrong" : "ok");
			i += 2;
		} else if (!strcmp(c, "flush")) {
			rc = one(&f, 4, 0, 0);
			printf("flush: %s\n", rc ? "failed" : "ok");
		} else if (!strcmp(c, "getid")) {
			memset(f.data, 0, 20);
			rc = one(&f, 8, 0, 20);
			printf("id: %.20s\n", (char *)f.data);
		} else if ((!strcmp(c, "zeroes") || !strcmp(c, "discard")) && i + 2 < argc) {
			/* WRITE_ZEROES / DISCARD one range, then it must read as zeroes
			 * (ward-blk implements discard as encrypted zeroes). */
			uint64_t s0 = strtoull(argv[i + 1], NULL, 0), n = strtoull(argv[i + 2], NULL, 0);
			struct { uint64_t sector; uint32_t num, flags; } seg = { s0 * 8, (uint32_t)(n * 8), 0 };
			static const uint8_t zero[SECT];

			memcpy(f.data, &seg, sizeof(seg));
			rc = one(&f, c[0] == 'z' ? 13 : 11, 0, sizeof(seg));
			for (uint64_t k = 0; !rc && k < n; k++) {
				rc = one(&f, 0, (s0 + k) * SECT, SECT);
				rc |= memcmp(f.data, zero, SECT) != 0;
			}
			printf("%s %s %s: %s\n", c, argv[i + 1], argv[i + 2], rc ? "wrong" : "ok");
			i += 2;
		} else if (!strcmp(c, "expect-write-error")) {
			pattern(f.data, 0, 1);
			rc = one(&f, 1, 0, SECT) == 1 ? 0 : 1;
			printf("write refused: %s\n", rc ? "no" : "yes");
		} else if (!strcmp(c, "bad-requests")) {
			/* Hostile but well-formed chains: must fail with a status,
			 * not break the ring. */
			int a = one(&f, 0, f.capacity, SECT);             /* past the end */
			int b = one(&f, 0, f.capacity - 512, SECT);       /* straddles the end */
			int d = one(&f, 77, 0, SECT);                     /* unknown type */
			int e = one(&f, 0, 0, 100);                       /* not 512-byte units */

			rc = !(a == 1 && b == 1 && d == 2 && e == 1);
			printf("bad requests: end=%d straddle=%d type=%d partial=%d -> %s\n", a, b, d, e,
			       rc ? "wrong" : "ok");
		} else if (!strcmp(c, "rmw")) {
			/* 512-byte writes inside 4096-byte XTS sectors keep the
			 * neighbouring 512-byte blocks intact. */
			uint8_t exp[2 * SECT];

			pattern(f.data, 5000, 0x11);
			pattern(f.data + SECT, 5001, 0x11);
			rc = one(&f, 1, 5000 * SECT, 2 * SECT);
			memset(f.data, 0xee, 1536);
			rc |= one(&f, 1, 5000 * SECT + 3584, 1536);          /* crosses a sector boundary */
			pattern(exp, 5000, 0x11);
			pattern(exp + SECT, 5001, 0x11);
			memset(exp + 3584, 0xee, 1536);
			memset(f.data, 0, 2 * SECT);
			rc |= one(&f, 0, 5000 * SECT, 2 * SECT);
			rc |= memcmp(f.data, exp, 2 * SECT) != 0;
			memset(f.data, 0, 512);
			rc |= one(&f, 0, 5000 * SECT + 3584, 512);
			rc |= memcmp(f.data, exp + 3584, 512) != 0;
			printf("read-modify-write: %s\n", rc ? "wrong" : "ok");
		} else if (!strcmp(c, "break") && i + 1 < argc) {
			rc = cmd_break(&f, argv[++i]);
		} else if (!strcmp(c, "bench") && i + 4 < argc) {
			uint64_t span = 0;

			if (i + 5 < argc && argv[i + 5][0] >= '0' && argv[i + 5][0] <= '9')
				span = strtoull(argv[i + 5], NULL, 0);
			rc = cmd_bench(&f, argv[i + 1], (unsigned int)atoi(argv[i + 2]),
				       strtoull(argv[i + 3], NULL, 0), atof(argv[i + 4]), span);
			i += span ? 5 : 4;
		} else if (!strcmp(c, "stats") && ctl >= 0) {
			/* BLKCTL_STATS, printed as key=value for the test to check */
			struct blkctl_stats st;
			char err[256];
			int d = blkctl_stats(ctl, "vol-ctl", NULL, NULL, &st, err, sizeof(err));

			if (d == 0)
				printf("stats: reads=%llu writes=%llu flushes=%llu other=%llu "
				       "bytes_read=%llu bytes_written=%llu errors=%llu latency_count=%llu\n",
				       (unsigned long long)st.ops[BLKCTL_OP_READ],
				       (unsigned long long)st.ops[BLKCTL_OP_WRITE],
				       (unsigned long long)st.ops[BLKCTL_OP_FLUSH],
				       (unsigned long long)st.ops[BLKCTL_OP_OTHER],
				       (unsigned long long)st.bytes_read,
				       (unsigned long long)st.bytes_written,
				       (unsigned long long)st.errors, (unsigned long long)st.lat_count);
			else
				printf("stats: %s (%d)\n", err, d);
			fflush(stdout);
			rc = d != 0;
		} else if (!strcmp(c, "detach") && ctl >= 0) {
			char err[256];
			int d = blkctl_detach(ctl, "vol-ctl", NULL, NULL, err, sizeof(err));

			printf("detach: %s (%d)\n", err, d);
			fflush(stdout);
			rc = d != 0;
		} else if (!strcmp(c, "reattach") && ctl >= 0) {
			/* After detach: the same volume again, on a new connection. */
			char err[256];
			int vu = ctl_attach(ctl, &co, "vol-ctl", err, sizeof(err));

			printf("reattach: %s (%d)\n", err, vu < 0 ? vu : 0);
			rc = vu < 0;
			if (!rc) {
				teardown(&f);
				setup(&f, vu, memsz, maxbs);
			}
		} else if (!strcmp(c, "attach-extra") && ctl >= 0 && i + 1 < argc) {
			/* Another volume on the same store, left without a frontend. */
			char err[256];
			int vu = ctl_attach(ctl, &co, argv[++i], err, sizeof(err));

			printf("attach %s: %s (%d)\n", argv[i], err, vu < 0 ? vu : 0);
			rc = vu < 0 || nextra == 8;
			if (!rc) {
				snprintf(extra[nextra].id, sizeof(extra[nextra].id), "%s", argv[i]);
				extra[nextra++].vu = vu;
			}
		} else if (!strcmp(c, "expect-attach-refused") && ctl >= 0 && i + 1 < argc) {
			char err[256];
			int vu = ctl_attach(ctl, &co, argv[++i], err, sizeof(err));

			printf("attach %s refused: %s (%d)\n", argv[i], vu < 0 ? err : "no", vu < 0 ? vu : 0);
			rc = vu >= 0;
			if (vu >= 0)
				close(vu);
		} else if (!strcmp(c, "detach-extra") && ctl >= 0 && i + 1 < argc) {
			char err[256];
			int d = blkctl_detach(ctl, argv[++i], NULL, NULL, err, sizeof(err));

			printf("detach %s: %s (%d)\n", argv[i], err, d);
			rc = d != 0;
			for (int k = 0; k < nextra; k++)
				if (!strcmp(extra[k].id, argv[i])) {
					close(extra[k].vu);
					extra[k] = extra[--nextra];
					break;
				}
		} else if (!strcmp(c, "wait-file") && i + 1 < argc) {
			/* Let the test look at ward-blk at this point. */
			const char *path = argv[++i];
			int n = 0;

			printf("waiting for %s\n", path);
			while (access(path, F_OK) && n++ < 2400) /* 2 min bound */
				usleep(50000);
			rc = access(path, F_OK) != 0;
		} else if (!strcmp(c, "expect-broken-event") && ctl >= 0) {
			/* The controller hears about a broken ring on blkctl. */
			struct blkctl_rx rx;
			struct blkctl_msg m;
			struct pollfd p = { ctl, POLLIN, 0 };
			char err[256];

			rc = 1;
			if (!blkctl_rx_init(&rx) && poll(&p, 1, 5000) == 1 && blkctl_recv(ctl, &rx) == 1 &&
			    !blkctl_parse(&rx, &m, err, sizeof(err)) && m.type == BLKCTL_EVENT &&
			    m.u.event.event == BLKCTL_EV_BROKEN) {
				printf("event: volume %s broken: %s\n", m.u.event.id, m.u.event.msg);
				rc = 0;
			}
			blkctl_rx_destroy(&rx);
		} else if (!strcmp(c, "sleep") && i + 1 < argc) {
			usleep((useconds_t)(atof(argv[++i]) * 1e6));
		} else {
			fprintf(stderr, "vu_driver: bad command '%s'\n", c);
			rc = 2;
		}
	}
	close(f.sock);
	for (int k = 0; k < nextra; k++)
		close(extra[k].vu);
	if (child > 0) {
		int st;

		close(ctl);
		waitpid(child, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "vu_driver: ward-blk exited with status 0x%x\n", st);
			rc = rc ? rc : 1;
		}
	}
	return rc;
}
