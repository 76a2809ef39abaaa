/* net_driver: a vhost-user-net frontend (driver side) for ward-net tests. It
 * connects to one socket per ENI (a path, or fd:N already connected), maps its own sealed memfd as guest memory,
 * negotiates VERSION_1 + MRG_RXBUF, posts 2 KiB receive buffers and then
 * obeys line commands on stdin, so a test script (scapy) crafts and checks
 * the frames:
 *   send I HEX        transmit a frame on ENI I (12-byte zero header first)
 *   recv I            wait for one frame on ENI I: prints "frame HEX"
 *                     (merged buffers reassembled), or "none" after 10 s
 *   config I          prints "config MAC MTU" from the device config
 *   hostile I KIND    shorthdr | baddesc | loop | huge | writable | longchain
 *                     | badnext | indirect | availjump: a broken TX chain or
 *                     ring, as a hostile frontend would post; rxbad: every
 *                     receive buffer pointed outside guest memory
 *   flood I HEX       transmit the frame on ENI I as fast as the ring takes
 *                     it until the next line arrives on stdin (that line is
 *                     consumed): prints "flooded N"
 *   quit
 * Every command answers one line. */
#include <errno.h>
#include <fcntl.h>
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
#include <unistd.h>

#include "vhost_user.h"
#include "virtq.h"
#include "vu_request.h"

#define QSZ       256
#define MEMSZ     (16u << 20)
#define RXQ_OFF   0u
#define TXQ_OFF   (64u << 10)
#define RXBUF_OFF (1u << 20)
#define RXBUF_SZ  2048u
#define TXBUF_OFF (2u << 20)
#define TXBUF_SZ  (16u << 10)
#define HUGE_OFF  (8u << 20)
#define HDR       12
#define MAXENI    8
#define MAXFRAME  65536

struct ring {
	struct vq_desc_raw *desc;
	volatile uint16_t *avail, *used;
	uint16_t avail_idx, used_last;
	int kick, call;
};

struct eni {
	int sock;
	uint8_t *mem;
	uint64_t features, proto;
	struct ring rx, tx;
};

static struct eni enis[MAXENI];
static int neni;

static void die(const char *what)
{
	fprintf(stderr, "net_driver: %s (errno %d)\n", what, errno);
	exit(1);
}

/* Every request without a reply asks for an ack when the backend offers it. */
static int msg(struct eni *e, uint32_t req, const void *p, uint32_t sz, const int *fds,
	       size_t nfds, void *reply, uint32_t rsz)
{
	return vu_request(e->sock, e->proto, req, p, sz, fds, nfds, reply, rsz, !reply);
}

static void ring_setup(struct eni *e, struct ring *r, unsigned int idx, uint32_t off)
{
	struct vu_vring_state st = { idx, QSZ };
	struct vu_vring_addr a = { 0 };
	uint64_t v = idx;
	int err;

	r->desc = (struct vq_desc_raw *)(e->mem + off);
	r->avail = (volatile uint16_t *)(e->mem + off + 16 * QSZ);
	r->used = (volatile uint16_t *)(e->mem + off + 8192);
	if (msg(e, VU_SET_VRING_NUM, &st, sizeof(st), NULL, 0, NULL, 0))
		die("SET_VRING_NUM");
	st.num = 0;
	if (msg(e, VU_SET_VRING_BASE, &st, sizeof(st), NULL, 0, NULL, 0))
		die("SET_VRING_BASE");
	a.index = idx;
	a.desc_user_addr = (uint64_t)(uintptr_t)r->desc;
	a.avail_user_addr = (uint64_t)(uintptr_t)r->avail;
	a.used_user_addr = (uint64_t)(uintptr_t)r->used;
	if (msg(e, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, NULL, 0))
		die("SET_VRING_ADDR");
	r->kick = eventfd(0, EFD_CLOEXEC);
	r->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (msg(e, VU_SET_VRING_CALL, &v, 8, &r->call, 1, NULL, 0) ||
	    msg(e, VU_SET_VRING_ERR, &v, 8, &err, 1, NULL, 0) ||
	    msg(e, VU_SET_VRING_KICK, &v, 8, &r->kick, 1, NULL, 0))
		die("SET_VRING_CALL/ERR/KICK");
	close(err);
	st.num = 1;
	if (msg(e, VU_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0, NULL, 0))
		die("SET_VRING_ENABLE");
}

static void kick(struct ring *r)
{
	uint64_t one = 1;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (write(r->kick, &one, 8) != 8)
		die("kick");
}

static void post(struct ring *r, uint16_t head)
{
	r->avail[2 + r->avail_idx % QSZ] = head;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	r->avail[1] = ++r->avail_idx;
}

static void connect_eni(struct eni *e, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct vu_mem_table t = { 0 };
	uint64_t v, want = (1ull << VIRTIO_F_VERSION_1) | (1ull << 5) | (1ull << 15) | (1ull << 16) |
			   (1ull << 3);
	int memfd;

	if (!strncmp(path, "fd:", 3)) {
		e->sock = atoi(path + 3);   /* connected by whoever started us */
	} else {
		e->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
		if (e->sock < 0 || connect(e->sock, (struct sockaddr *)&a, sizeof(a)) < 0)
			die("connect");
	}
	memfd = memfd_create("net_driver", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0 || ftruncate(memfd, MEMSZ) < 0 ||
	    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		die("memfd");
	e->mem = mmap(NULL, MEMSZ, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, memfd, 0);
	if (e->mem == MAP_FAILED)
		die("mmap");
	if (msg(e, VU_GET_FEATURES, NULL, 0, NULL, 0, &v, 8))
		die("GET_FEATURES");
	if ((v & want) != want || !(v & (1ull << VU_F_PROTOCOL_FEATURES)))
		die("backend lacks VERSION_1/MAC/MRG_RXBUF/STATUS/MTU or protocol features");
	e->features = want | (1ull << VU_F_PROTOCOL_FEATURES);
	if (msg(e, VU_GET_PROTOCOL_FEATURES, NULL, 0, NULL, 0, &v, 8))
		die("GET_PROTOCOL_FEATURES");
	v &= (1ull << VU_PROTOCOL_F_REPLY_ACK) | (1ull << VU_PROTOCOL_F_CONFIG);
	/* REPLY_ACK holds from the message after the one that acks it. */
	if (msg(e, VU_SET_PROTOCOL_FEATURES, &v, 8, NULL, 0, NULL, 0))
		die("SET_PROTOCOL_FEATURES");
	e->proto = v;
	if (msg(e, VU_SET_OWNER, NULL, 0, NULL, 0, NULL, 0) ||
	    msg(e, VU_SET_FEATURES, &e->features, 8, NULL, 0, NULL, 0))
		die("feature negotiation");
	t.nregions = 1;
	t.regions[0].memory_size = MEMSZ;
	t.regions[0].userspace_addr = (uint64_t)(uintptr_t)e->mem;
	if (msg(e, VU_SET_MEM_TABLE, &t, 8 + sizeof(t.regions[0]), &memfd, 1, NULL, 0))
		die("SET_MEM_TABLE");
	close(memfd);
	/* Receive buffers first, so the ring starts full. */
	e->rx.desc = (struct vq_desc_raw *)(e->mem + RXQ_OFF);
	e->rx.avail = (volatile uint16_t *)(e->mem + RXQ_OFF + 16 * QSZ);
	for (uint16_t i = 0; i < QSZ; i++) {
		e->rx.desc[i] = (struct vq_desc_raw){ RXBUF_OFF + (uint64_t)i * RXBUF_SZ, RXBUF_SZ,
						      VIRTQ_DESC_F_WRITE, 0 };
		post(&e->rx, i);
	}
	ring_setup(e, &e->rx, 0, RXQ_OFF);
	ring_setup(e, &e->tx, 1, TXQ_OFF);
	kick(&e->rx);
}

/* Wait until ring r has a used entry past used_last. */
static bool wait_used(struct ring *r)
{
	for (int i = 0; i < 100; i++) {
		struct pollfd p = { r->call, POLLIN, 0 };
		uint64_t v;

		if (__atomic_load_n(&r->used[1], __ATOMIC_ACQUIRE) != r->used_last)
			return true;
		if (poll(&p, 1, 100) > 0)
			(void)!read(r->call, &v, 8);
	}
	return __atomic_load_n(&r->used[1], __ATOMIC_ACQUIRE) != r->used_last;
}

static void used_entry(struct ring *r, uint32_t *id, uint32_t *len)
{
	volatile uint32_t *u = (volatile uint32_t *)(r->used + 2) + 2 * (r->used_last % QSZ);

	*id = u[0];
	*len = u[1];
	r->used_last++;
}

static uint16_t tx_slot(struct eni *e)
{
	/* Reuse a slot only once the backend has returned it. */
	while ((uint16_t)(e->tx.avail_idx - e->tx.used_last) >= QSZ) {
		uint32_t id, len;

		if (!wait_used(&e->tx))
			die("tx ring never drained");
		used_entry(&e->tx, &id, &len);
	}
	while (__atomic_load_n(&e->tx.used[1], __ATOMIC_ACQUIRE) != e->tx.used_last) {
		uint32_t id, len;

		used_entry(&e->tx, &id, &len);
	}
	return e->tx.avail_idx % QSZ;
}

static int unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s);

	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int b;

		if (sscanf(s + 2 * i, "%2x", &b) != 1)
			return -1;
		out[i] = (uint8_t)b;
	}
	return (int)(n / 2);
}

static void cmd_send(struct eni *e, const char *hex)
{
	static uint8_t f[MAXFRAME];
	int n = unhex(hex, f, TXBUF_SZ - HDR);
	uint16_t s;

	if (n < 0) {
		puts("error bad hex");
		return;
	}
	s = tx_slot(e);
	memset(e->mem + TXBUF_OFF + s * TXBUF_SZ, 0, HDR);
	memcpy(e->mem + TXBUF_OFF + s * TXBUF_SZ + HDR, f, (size_t)n);
	e->tx.desc[s] = (struct vq_desc_raw){ TXBUF_OFF + (uint64_t)s * TXBUF_SZ, (uint32_t)(HDR + n), 0, 0 };
	post(&e->tx, s);
	kick(&e->tx);
	puts("ok");
}

static void cmd_recv(struct eni *e)
{
	static uint8_t f[MAXFRAME];
	size_t len = 0;
	unsigned int nbuf = 1;

	for (unsigned int b = 0; b < nbuf; b++) {
		uint32_t id, l;
		const uint8_t *p;

		if (!wait_used(&e->rx)) {
			puts(b ? "error merged frame incomplete" : "none");
			return;
		}
		used_entry(&e->rx, &id, &l);
		if (id >= QSZ || l > RXBUF_SZ) {
			puts("error bad used entry");
			return;
		}
		p = e->mem + RXBUF_OFF + id * RXBUF_SZ;
		if (b == 0) {
			nbuf = p[10] | p[11] << 8;
			if (!nbuf || l < HDR) {
				puts("error bad num_buffers");
				return;
			}
			p += HDR;
			l -= HDR;
		}
		if (len + l > sizeof(f)) {
			puts("error frame too long");
			return;
		}
		memcpy(f + len, p, l);
		len += l;
		post(&e->rx, (uint16_t)id);
	}
	kick(&e->rx);
	printf("frame %u ", nbuf);
	for (size_t i = 0; i < len; i++)
		printf("%02x", f[i]);
	putchar('\n');
}

static void cmd_config(struct eni *e)
{
	struct vu_config c = { .offset = 0, .size = 12 };
	struct vu_msg m;
	const uint8_t *r;

	if (vu_send(e->sock, VU_GET_CONFIG, 0, &c, 12 + 12, NULL, 0) || vu_recv(e->sock, &m) != 1 ||
	    m.hdr.size != 24) {
		puts("error GET_CONFIG");
		return;
	}
	r = m.p.config.region;
	printf("config %02x:%02x:%02x:%02x:%02x:%02x %u\n", r[0], r[1], r[2], r[3], r[4], r[5],
	       r[10] | r[11] << 8);
}

static void cmd_hostile(struct eni *e, const char *kind)
{
	uint16_t s = tx_slot(e);
	struct vq_desc_raw d = { TXBUF_OFF + (uint64_t)s * TXBUF_SZ, 0, 0, 0 };

	memset(e->mem + TXBUF_OFF + s * TXBUF_SZ, 0, TXBUF_SZ);
	if (!strcmp(kind, "shorthdr")) {
		d.len = 8;                                 /* header < 12 bytes */
	} else if (!strcmp(kind, "baddesc")) {
		d.addr = MEMSZ + 4096;                     /* outside guest memory */
		d.len = 64;
	} else if (!strcmp(kind, "loop")) {
		d.len = 64;
		d.flags = VIRTQ_DESC_F_NEXT;
		d.next = s;                                /* points at itself */
	} else if (!strcmp(kind, "writable")) {
		d.len = 64;
		d.flags = VIRTQ_DESC_F_WRITE;
	} else if (!strcmp(kind, "huge")) {
		d.addr = HUGE_OFF;                         /* a 64 KiB "frame" */
		d.len = 65536;
	} else if (!strcmp(kind, "longchain")) {
		/* Every descriptor of the ring in one chain, 64 bytes each: the
		 * longest chain the ring can hold, a frame over the maximum. */
		while (e->tx.used_last != e->tx.avail_idx) {
			uint32_t id, len;

			if (!wait_used(&e->tx))
				die("tx ring never drained");
			used_entry(&e->tx, &id, &len);
		}
		for (uint16_t i = 0; i < QSZ; i++)
			e->tx.desc[i] = (struct vq_desc_raw){ TXBUF_OFF + (uint64_t)i * 64, 64,
							      i + 1 < QSZ ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1) };
		post(&e->tx, 0);
		kick(&e->tx);
		/* Reuse no descriptor until the backend has walked the chain. */
		puts(wait_used(&e->tx) ? "ok" : "error chain never returned");
		return;
	} else if (!strcmp(kind, "badnext")) {
		d.len = 64;
		d.flags = VIRTQ_DESC_F_NEXT;
		d.next = QSZ + 7;                          /* out of the table */
	} else if (!strcmp(kind, "indirect")) {
		d.len = 64;                                /* INDIRECT never offered */
		d.flags = VIRTQ_DESC_F_INDIRECT;
	} else if (!strcmp(kind, "availjump")) {
		/* The avail index runs more than a ring ahead of the backend. */
		e->tx.avail[1] = (uint16_t)(e->tx.avail_idx + QSZ + 5);
		kick(&e->tx);
		puts("ok");
		return;
	} else if (!strcmp(kind, "rxbad")) {
		/* The receive buffers already posted now point outside guest
		 * memory: the next frame for this ENI breaks its RX ring. */
		for (uint16_t i = 0; i < QSZ; i++)
			e->rx.desc[i].addr = MEMSZ + 4096;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		puts("ok");
		return;
	} else {
		puts("error unknown kind");
		return;
	}
	e->tx.desc[s] = d;
	post(&e->tx, s);
	kick(&e->tx);
	puts("ok");
}

/* Posts hex's frame over and over, kicking every 32, until stdin has a line. */
static void cmd_flood(struct eni *e, const char *hex)
{
	static uint8_t f[MAXFRAME];
	char line[64];
	int n = unhex(hex, f, TXBUF_SZ - HDR);
	unsigned long sent = 0;

	if (n < 0) {
		puts("error bad hex");
		return;
	}
	for (;;) {
		struct pollfd p = { 0, POLLIN, 0 };
		uint16_t s;

		for (unsigned int k = 0; k < 32; k++, sent++) {
			s = tx_slot(e);
			memset(e->mem + TXBUF_OFF + s * TXBUF_SZ, 0, HDR);
			memcpy(e->mem + TXBUF_OFF + s * TXBUF_SZ + HDR, f, (size_t)n);
			e->tx.desc[s] = (struct vq_desc_raw){ TXBUF_OFF + (uint64_t)s * TXBUF_SZ,
							      (uint32_t)(HDR + n), 0, 0 };
			post(&e->tx, s);
		}
		kick(&e->tx);
		if (poll(&p, 1, 0) > 0)
			break;
	}
	if (!fgets(line, sizeof(line), stdin))
		line[0] = 0;
	printf("flooded %lu\n", sent);
}

int main(int argc, char **argv)
{
	char line[2 * MAXFRAME + 64];

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || argc - 1 > MAXENI) {
		fprintf(stderr, "usage: net_driver SOCKET|fd:N... (commands on stdin, see the source)\n");
		return 2;
	}
	for (int i = 1; i < argc; i++)
		connect_eni(&enis[neni++], argv[i]);
	puts("ready");
	while (fgets(line, sizeof(line), stdin)) {
		char cmd[16], arg[2 * MAXFRAME + 1] = "";
		int i = -1;

		line[strcspn(line, "\n")] = 0;
		if (!strcmp(line, "quit"))
			break;
		if (sscanf(line, "%15s %d %131072s", cmd, &i, arg) < 2 || i < 0 || i >= neni) {
			puts("error bad command");
			continue;
		}
		if (!strcmp(cmd, "send"))
			cmd_send(&enis[i], arg);
		else if (!strcmp(cmd, "recv"))
			cmd_recv(&enis[i]);
		else if (!strcmp(cmd, "config"))
			cmd_config(&enis[i]);
		else if (!strcmp(cmd, "hostile"))
			cmd_hostile(&enis[i], arg);
		else if (!strcmp(cmd, "flood"))
			cmd_flood(&enis[i], arg);
		else
			puts("error unknown command");
	}
	return 0;
}
