/* vu_net_load: a vhost-user-net frontend that drives a backend with frames
 * from one socket (port 0: it fills that device's TX ring) to another (port
 * 1: it drains that device's RX ring), counting, for bench/net/run.sh
 * (ward-net against DPDK testpmd, the same program for both) and for
 * tests/net/hostile_test.py (the well-behaved ENI pair, every frame checked).
 *
 *   vu_net_load --tx SOCK --rx SOCK --size BYTES
 *               [--seconds S | --count N] [--lat N] [--verify] [--window W]
 *               [--src MAC,IP --dst MAC,IP]
 *
 * Each frame is Ethernet + IPv4 + UDP (checksummed IPv4, so a real card's
 * parser takes it), the payload a sequence number, a CLOCK_MONOTONIC send
 * time and a pattern derived from the sequence number. Guest memory is one
 * sealed memfd given to both devices; avail NO_INTERRUPT is set (this side
 * busy-polls the used rings) and the backend's used NO_NOTIFY is obeyed
 * (a polling backend such as DPDK's vhost PMD needs no kick; a sleeping one
 * such as ward-net gets one per batch).
 *
 *   --seconds S  throughput: keep the TX ring full for S seconds; prints
 *                sent= recv= pps= gbps= (frame bytes, no virtio header)
 *   --count N    send exactly N frames, at most --window (default 32) in
 *                flight, wait for all of them (a hang guard of 20 s between
 *                frames ends a stalled run)
 *   --until-eof  as --count, but sends until stdin has a line or reaches
 *                its end, then waits for the frames in flight
 *   --lat N      then N frames one at a time: lat_p50_us= lat_p99_us=
 *   --verify     every frame received must be the next one sent, whole and
 *                unaltered (exit 1 and bad= otherwise)
 * The last line is key=value pairs; exit 0 only if the run completed. */
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
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "vhost_user.h"
#include "virtq.h"
#include "vu_request.h"

#define QSZ       1024u
#define HDR       12u
#define RING_SZ   (64u << 10)             /* desc 16 KiB, avail, used at +20 KiB */
#define TXSLOT    (9u << 10)              /* header + the largest frame (9001 + 14) */
#define TX_OFF    (1u << 20)
#define RXBUF     4096u                   /* MRG_RXBUF: a 9015-byte frame takes 3 */
#define RX_OFF(p) ((12u << 20) + (p) * (4u << 20))
#define MEMSZ     (20u << 20)
#define MAXFRAME  (14u + 9001u)
#define BATCH     32u
#define PAYLOAD   42u                     /* Ethernet 14 + IPv4 20 + UDP 8 */

struct ring {
	struct vq_desc_raw *desc;
	volatile uint16_t *avail, *used;
	uint16_t avail_idx, used_last;
	int kick, call;
};

struct port {
	int sock;
	uint64_t proto;
	struct ring rx, tx;
};

static uint8_t *mem;
static struct port ports[2];
static uint16_t txfree[QSZ];
static unsigned int ntxfree;
static uint8_t frame_tmpl[MAXFRAME], rxframe[MAXFRAME + RXBUF];
static size_t fsize = 64;
static uint64_t sent, recvd, rbytes, bad;
static bool verify;

static void die(const char *what)
{
	fprintf(stderr, "vu_net_load: %s (errno %d)\n", what, errno);
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int msg(struct port *p, uint32_t req, const void *b, uint32_t sz, const int *fds, size_t nfds,
	       void *reply, uint32_t rsz)
{
	return vu_request(p->sock, p->proto, req, b, sz, fds, nfds, reply, rsz, !reply);
}

static void ring_setup(struct port *p, struct ring *r, unsigned int idx, uint32_t off)
{
	struct vu_vring_state st = { idx, QSZ };
	struct vu_vring_addr a = { 0 };
	uint64_t v = idx;
	int err;

	r->desc = (struct vq_desc_raw *)(mem + off);
	r->avail = (volatile uint16_t *)(mem + off + 16 * QSZ);
	r->used = (volatile uint16_t *)(mem + off + (20u << 10));
	r->avail[0] = VIRTQ_AVAIL_F_NO_INTERRUPT;   /* we poll the used ring */
	if (msg(p, VU_SET_VRING_NUM, &st, sizeof(st), NULL, 0, NULL, 0))
		die("SET_VRING_NUM");
	st.num = 0;
	if (msg(p, VU_SET_VRING_BASE, &st, sizeof(st), NULL, 0, NULL, 0))
		die("SET_VRING_BASE");
	a.index = idx;
	a.desc_user_addr = (uint64_t)(uintptr_t)r->desc;
	a.avail_user_addr = (uint64_t)(uintptr_t)r->avail;
	a.used_user_addr = (uint64_t)(uintptr_t)r->used;
	if (msg(p, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, NULL, 0))
		die("SET_VRING_ADDR");
	r->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (msg(p, VU_SET_VRING_CALL, &v, 8, &r->call, 1, NULL, 0) ||
	    msg(p, VU_SET_VRING_ERR, &v, 8, &err, 1, NULL, 0) ||
	    msg(p, VU_SET_VRING_KICK, &v, 8, &r->kick, 1, NULL, 0))
		die("SET_VRING_CALL/ERR/KICK");
	close(err);
	st.num = 1;
	if (msg(p, VU_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0, NULL, 0))
		die("SET_VRING_ENABLE");
}

static void kick(struct ring *r)
{
	uint64_t one = 1;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&r->used[0], __ATOMIC_ACQUIRE) & VIRTQ_USED_F_NO_NOTIFY)
		return;
	if (write(r->kick, &one, 8) != 8 && errno != EAGAIN)
		die("kick");
}

static void publish(struct ring *r)
{
	__atomic_store_n(&r->avail[1], r->avail_idx, __ATOMIC_RELEASE);
}

static void connect_port(struct port *p, const char *path, int memfd, unsigned int pi)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct vu_mem_table t = { 0 };
	uint64_t v, feat, need = (1ull << VIRTIO_F_VERSION_1) | (1ull << 15);   /* MRG_RXBUF */
	uint64_t nice = (1ull << 5) | (1ull << 16) | (1ull << 3);              /* MAC STATUS MTU */

	p->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (p->sock < 0 || connect(p->sock, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	if (msg(p, VU_GET_FEATURES, NULL, 0, NULL, 0, &v, 8))
		die("GET_FEATURES");
	if ((v & need) != need)
		die("backend lacks VERSION_1 or MRG_RXBUF");
	feat = need | (v & nice) | (v & (1ull << VU_F_PROTOCOL_FEATURES));
	if (v & (1ull << VU_F_PROTOCOL_FEATURES)) {
		if (msg(p, VU_GET_PROTOCOL_FEATURES, NULL, 0, NULL, 0, &v, 8))
			die("GET_PROTOCOL_FEATURES");
		v &= 1ull << VU_PROTOCOL_F_REPLY_ACK;
		if (msg(p, VU_SET_PROTOCOL_FEATURES, &v, 8, NULL, 0, NULL, 0))
			die("SET_PROTOCOL_FEATURES");
		p->proto = v;   /* REPLY_ACK holds from the next message */
	}
	if (msg(p, VU_SET_OWNER, NULL, 0, NULL, 0, NULL, 0) ||
	    msg(p, VU_SET_FEATURES, &feat, 8, NULL, 0, NULL, 0))
		die("feature negotiation");
	t.nregions = 1;
	t.regions[0].memory_size = MEMSZ;
	t.regions[0].userspace_addr = (uint64_t)(uintptr_t)mem;
	if (msg(p, VU_SET_MEM_TABLE, &t, 8 + sizeof(t.regions[0]), &memfd, 1, NULL, 0))
		die("SET_MEM_TABLE");
	/* Receive buffers posted before the ring starts. */
	p->rx.desc = (struct vq_desc_raw *)(mem + (2 * pi) * RING_SZ);
	p->rx.avail = (volatile uint16_t *)((uint8_t *)p->rx.desc + 16 * QSZ);
	for (uint16_t i = 0; i < QSZ; i++) {
		p->rx.desc[i] = (struct vq_desc_raw){ RX_OFF(pi) + (uint64_t)i * RXBUF, RXBUF,
						      VIRTQ_DESC_F_WRITE, 0 };
		p->rx.avail[2 + p->rx.avail_idx++ % QSZ] = i;
	}
	publish(&p->rx);
	ring_setup(p, &p->rx, 0, (2 * pi) * RING_SZ);
	ring_setup(p, &p->tx, 1, (2 * pi + 1) * RING_SZ);
	kick(&p->rx);
}

static uint16_t csum(const uint8_t *b, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static int parse_ep(const char *s, uint8_t mac[6], uint8_t ip[4])
{
	char ipbuf[32];

	if (sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx,%31s", &mac[0], &mac[1], &mac[2], &mac[3],
		   &mac[4], &mac[5], ipbuf) != 7 || inet_pton(AF_INET, ipbuf, ip) != 1)
		return -EINVAL;
	return 0;
}

static void build_template(const uint8_t smac[6], const uint8_t sip[4], const uint8_t dmac[6],
			   const uint8_t dip[4])
{
	uint8_t *f = frame_tmpl, *ip = f + 14, *udp = ip + 20;
	uint16_t iplen = (uint16_t)(fsize - 14), c;

	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(iplen >> 8);
	ip[3] = (uint8_t)iplen;
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, sip, 4);
	memcpy(ip + 16, dip, 4);
	c = csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	udp[0] = 0xc3;                     /* 50000 -> 9 (discard); checksum 0 */
	udp[1] = 0x50;
	udp[3] = 9;
	udp[4] = (uint8_t)((iplen - 20) >> 8);
	udp[5] = (uint8_t)(iplen - 20);
}

/* The payload after seq and time: a pattern that moves with seq, so a frame
 * delivered twice, reordered or altered does not compare equal. */
static uint8_t pattern(uint64_t seq, size_t i) { return (uint8_t)(seq * 7 + i); }

static void fill(uint8_t *f, uint64_t seq, bool full)
{
	uint64_t t = now_ns();

	if (full) {
		memcpy(f, frame_tmpl, PAYLOAD);
		for (size_t i = PAYLOAD + 16; i < fsize; i++)
			f[i] = pattern(seq, i);
	}
	memcpy(f + PAYLOAD, &seq, 8);
	memcpy(f + PAYLOAD + 8, &t, 8);
}

static void tx_reclaim(struct ring *r)
{
	while (__atomic_load_n(&r->used[1], __ATOMIC_ACQUIRE) != r->used_last) {
		volatile uint32_t *u = (volatile uint32_t *)(r->used + 2) + 2 * (r->used_last % QSZ);

		if (u[0] >= QSZ)
			die("backend returned a bad TX descriptor id");
		txfree[ntxfree++] = (uint16_t)u[0];
		r->used_last++;
	}
}

static unsigned int tx_post(unsigned int max)
{
	struct ring *r = &ports[0].tx;
	unsigned int n = 0;

	tx_reclaim(r);
	while (n < max && ntxfree) {
		uint16_t s = txfree[--ntxfree];
		uint8_t *b = mem + TX_OFF + (size_t)s * TXSLOT;

		/* Slots keep their frame: with --verify every frame is
		 * rewritten (its pattern depends on seq), else only seq/time. */
		fill(b + HDR, sent, verify || b[HDR + 12] != 0x08);
		r->desc[s] = (struct vq_desc_raw){ TX_OFF + (uint64_t)s * TXSLOT, (uint32_t)(HDR + fsize), 0, 0 };
		r->avail[2 + r->avail_idx++ % QSZ] = s;
		sent++;
		n++;
	}
	if (n) {
		publish(r);
		kick(r);
	}
	return n;
}

static void check_frame(const uint8_t *f, size_t len)
{
	uint64_t seq;

	if (len != fsize) {
		bad++;
		return;
	}
	memcpy(&seq, f + PAYLOAD, 8);
	if (seq != recvd || memcmp(f, frame_tmpl, PAYLOAD)) {
		bad++;
		return;
	}
	for (size_t i = PAYLOAD + 16; i < len; i++)
		if (f[i] != pattern(seq, i)) {
			bad++;
			return;
		}
}

/* Drain port 1's RX used ring; each frame's latency into lat[] when given. */
static unsigned int rx_drain(uint64_t *lat, size_t *nlat, size_t maxlat)
{
	struct ring *r = &ports[1].rx;
	unsigned int frames = 0, posted = 0;

	while (__atomic_load_n(&r->used[1], __ATOMIC_ACQUIRE) != r->used_last) {
		volatile uint32_t *u = (volatile uint32_t *)(r->used + 2) + 2 * (r->used_last % QSZ);
		uint32_t id = u[0], len = u[1];
		const uint8_t *b = mem + RX_OFF(1) + (size_t)id * RXBUF;
		unsigned int nbuf = b[10] | b[11] << 8;
		size_t flen = 0;

		if (id >= QSZ || len < HDR || len > RXBUF || !nbuf)
			die("backend returned a bad RX used entry");
		/* The rest of a merged frame may not be published yet. */
		if ((uint16_t)(__atomic_load_n(&r->used[1], __ATOMIC_ACQUIRE) - r->used_last) < nbuf)
			break;
		for (unsigned int k = 0; k < nbuf; k++) {
			u = (volatile uint32_t *)(r->used + 2) + 2 * (r->used_last % QSZ);
			id = u[0];
			len = u[1];
			if (id >= QSZ || len > RXBUF)
				die("backend returned a bad RX used entry");
			b = mem + RX_OFF(1) + (size_t)id * RXBUF;
			if (k == 0) {
				b += HDR;
				len -= HDR;
			}
			if (flen + len <= sizeof(rxframe))
				memcpy(rxframe + flen, b, len);
			flen += len;
			r->avail[2 + r->avail_idx++ % QSZ] = (uint16_t)id;
			r->used_last++;
			posted++;
		}
		if (lat && *nlat < maxlat && flen >= PAYLOAD + 16) {
			uint64_t t;

			memcpy(&t, rxframe + PAYLOAD + 8, 8);
			lat[(*nlat)++] = now_ns() - t;
		}
		if (verify)
			check_frame(rxframe, flen);
		rbytes += flen;
		recvd++;
		frames++;
	}
	if (posted) {
		publish(r);
		kick(r);
	}
	return frames;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void usage(void)
{
	fprintf(stderr, "usage: vu_net_load --tx SOCK --rx SOCK [--size BYTES] [--seconds S | --count N] "
			"[--lat N] [--verify] [--window W] [--src MAC,IP --dst MAC,IP]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tx", 1, 0, 't' }, { "rx", 1, 0, 'r' }, { "size", 1, 0, 'z' },
		{ "seconds", 1, 0, 's' }, { "count", 1, 0, 'c' }, { "lat", 1, 0, 'l' },
		{ "verify", 0, 0, 'v' }, { "window", 1, 0, 'w' }, { "src", 1, 0, 'S' },
		{ "dst", 1, 0, 'D' }, { "until-eof", 0, 0, 'e' }, { 0, 0, 0, 0 },
	};
	const char *txs = NULL, *rxs = NULL;
	uint8_t smac[6] = { 2, 0, 0, 0, 0, 1 }, dmac[6] = { 2, 0, 0, 0, 0, 2 };
	uint8_t sip[4] = { 10, 0, 1, 10 }, dip[4] = { 10, 0, 1, 20 };
	double secs = 0;
	uint64_t count = 0, nlat_want = 0, window = 32;
	uint64_t *lat = NULL;
	size_t nlat = 0;
	int o, memfd;

	signal(SIGPIPE, SIG_IGN);
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 't': txs = optarg; break;
		case 'r': rxs = optarg; break;
		case 'z': fsize = strtoul(optarg, NULL, 0); break;
		case 's': secs = strtod(optarg, NULL); break;
		case 'c': count = strtoull(optarg, NULL, 0); break;
		case 'l': nlat_want = strtoull(optarg, NULL, 0); break;
		case 'v': verify = true; break;
		case 'w': window = strtoull(optarg, NULL, 0); break;
		case 'S': if (parse_ep(optarg, smac, sip)) usage(); break;
		case 'D': if (parse_ep(optarg, dmac, dip)) usage(); break;
		case 'e': count = UINT64_MAX; break;
		default: usage();
		}
	}
	if (!txs || !rxs || fsize < PAYLOAD + 16 || fsize > MAXFRAME || (secs > 0) == (count > 0) ||
	    !window || window > QSZ / 4)
		usage();
	build_template(smac, sip, dmac, dip);
	memfd = memfd_create("vu_net_load", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0 || ftruncate(memfd, MEMSZ) < 0 ||
	    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		die("memfd");
	mem = mmap(NULL, MEMSZ, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, memfd, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	for (unsigned int i = 0; i < QSZ; i++)
		txfree[ntxfree++] = (uint16_t)(QSZ - 1 - i);
	connect_port(&ports[0], txs, memfd, 0);
	connect_port(&ports[1], rxs, memfd, 1);
	close(memfd);

	if (secs > 0) {
		uint64_t t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9), t = t0;
		uint64_t r0 = 0, b0 = 0, tw = t0 + (uint64_t)(0.2e9);   /* 0.2 s warm-up not counted */
		unsigned long it = 0;

		while (t < end) {
			tx_post(BATCH);
			rx_drain(NULL, NULL, 0);
			if (!(++it & 63)) {
				t = now_ns();
				if (tw && t >= tw) {
					r0 = recvd;
					b0 = rbytes;
					t0 = t;
					tw = 0;
				}
			}
		}
		t = now_ns();
		printf("sent=%lu recv=%lu bytes=%lu secs=%.3f pps=%.0f gbps=%.3f\n", (unsigned long)sent,
		       (unsigned long)recvd, (unsigned long)rbytes, (double)(t - t0) / 1e9,
		       (double)(recvd - r0) * 1e9 / (double)(t - t0),
		       (double)(rbytes - b0) * 8 / (double)(t - t0));
		/* Let in-flight frames land before the latency run counts. */
		for (uint64_t q = now_ns(); now_ns() - q < 200000000u;)
			rx_drain(NULL, NULL, 0);
		recvd = sent;   /* what is lost at saturation is not a verify error */
	} else {
		uint64_t last = now_ns();
		bool until_eof = count == UINT64_MAX;
		unsigned long it = 0;

		while (recvd < count) {
			struct pollfd in = { 0, POLLIN, 0 };

			if (until_eof && !(++it & 1023) && poll(&in, 1, 0) > 0) {
				count = sent;   /* stop sending; wait for what is in flight */
				until_eof = false;
			}
			if (sent < count && sent - recvd < window)
				tx_post((unsigned int)(window - (sent - recvd) < count - sent ?
						       window - (sent - recvd) : count - sent));
			if (rx_drain(NULL, NULL, 0))
				last = now_ns();
			else if (now_ns() - last > 20000000000ull)
				break;   /* a hang guard: the verdict is recv= below */
		}
		if (count == UINT64_MAX)
			count = sent;
		printf("sent=%lu recv=%lu bad=%lu\n", (unsigned long)sent, (unsigned long)recvd,
		       (unsigned long)bad);
	}
	if (nlat_want) {
		lat = calloc(nlat_want, sizeof(*lat));
		if (!lat)
			die("calloc");
		for (uint64_t i = 0; i < nlat_want; i++) {
			uint64_t want = recvd + 1, t = now_ns();

			tx_post(1);
			while (recvd < want && now_ns() - t < 1000000000u)
				rx_drain(lat, &nlat, nlat_want);
			if (recvd < want)
				break;
		}
		qsort(lat, nlat, sizeof(*lat), cmp_u64);
		printf("lat_n=%zu lat_p50_us=%.2f lat_p99_us=%.2f\n", nlat,
		       nlat ? (double)lat[nlat / 2] / 1e3 : 0.0,
		       nlat ? (double)lat[nlat * 99 / 100] / 1e3 : 0.0);
		free(lat);
	}
	return bad || (count && recvd < count) || (nlat_want && nlat < nlat_want) ? 1 : 0;
}
