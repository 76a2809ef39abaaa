/* guest/bench-net.c: virtio-net benchmark guest. Both roles take a DHCP
 * lease through the card first (lib/inet), then run a hot loop in ring 3:
 *   mode=tx peer=A.B.C.D [port=9] size=BYTES (Ethernet frame, 60..9014)
 *           count=N | secs=S [burst=B]: UDP frames of one fixed size, as
 *           fast as the device takes them, one kick per burst, then end
 *           markers for linger_ms (so a receiver whose backlog was full
 *           still sees one);
 *   mode=rx [port=9] [secs=S]: counts the frames of a tx guest and their
 *           bytes until its end marker, checking each one's size, salt,
 *           pattern and that sequence numbers only grow (a gap is a frame
 *           the card dropped, reported as lost).
 * Output: "bench-net: mode=.. size=.. frames=.. bytes=.. tsc_cycles=..
 * tsc_khz=.." then "bench-net: pps=.. mbit_s=.. ...". Exit: 0 ok, 1 no
 * device, 2 features, 3 timeout (rx: no end marker, nothing received),
 * 4 a frame failed its check, 5 queue setup, 6 DHCP, 7 ARP, 10 usage. */
#include "lib/boot.h"
#include "lib/console.h"
#include "lib/cpu.h"
#include "lib/inet.h"
#include "lib/io.h"
#include "lib/mem.h"
#include "lib/virtio_net.h"

enum { EX_OK, EX_NODEV, EX_FEATURES, EX_TIMEOUT, EX_MISMATCH, EX_SETUP,
       EX_DHCP, EX_ARP, EX_USAGE = 10 };

#define HDRS		(ETH_HLEN + IP_HLEN + 8)
#define END_SEQ		0xffffffffu
/* payload: u32 seq, u32 count, u32 salt, then pattern words */
#define BENCH_HDR	12

struct bench {
	struct vnet net;
	struct inet in;
	bool tx;
	uint32_t peer, size, burst, salt;
	uint16_t port;
	uint64_t count, secs, khz, linger_ms;
	uint8_t nh_mac[6];
	uint8_t *frame;
};

static uint32_t pat(uint32_t salt, uint32_t k)
{
	return salt ^ (k + 1) * 0x9E3779B1u;
}

/* One template frame; per frame only the sequence number changes. UDP
 * checksum 0 (none, allowed over IPv4), so no per-frame sum. */
static void build_template(struct bench *b)
{
	struct inet *s = &b->in;
	uint8_t *u = inet_ip_begin(s, b->nh_mac, b->peer, IPPROTO_UDP);
	uint32_t plen = b->size - HDRS;
	uint16_t ulen = (uint16_t)(plen + 8), c;
	uint8_t *ip = s->tx + ETH_HLEN;

	u[0] = 0x23; u[1] = 0x28;			/* 9000 */
	u[2] = (uint8_t)(b->port >> 8); u[3] = (uint8_t)b->port;
	u[4] = (uint8_t)(ulen >> 8); u[5] = (uint8_t)ulen;
	u[6] = u[7] = 0;
	memset(u + 8, 0, plen);
	memcpy(u + 12, &b->count, 4);
	memcpy(u + 16, &b->salt, 4);
	for (uint32_t j = BENCH_HDR, k = 0; j + 4 <= plen; j += 4, k++) {
		uint32_t w = pat(b->salt, k);

		memcpy(u + 8 + j, &w, 4);
	}
	ip[2] = (uint8_t)((b->size - ETH_HLEN) >> 8);
	ip[3] = (uint8_t)(b->size - ETH_HLEN);
	ip[4] = ip[5] = 0;
	ip[10] = ip[11] = 0;
	c = inet_fold(inet_sum(ip, IP_HLEN, 0));
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	memcpy(b->frame, s->tx, b->size);
}

static void report(struct bench *b, uint64_t frames, uint64_t bytes, uint64_t cycles, const char *extra)
{
	uint64_t us = b->khz ? cycles * 1000 / b->khz : 0;

	printf("bench-net: mode=%s size=%u frames=%lu bytes=%lu tsc_cycles=%lu tsc_khz=%lu\n",
	       b->tx ? "tx" : "rx", b->size, frames, bytes, cycles, b->khz);
	printf("bench-net: pps=%lu mbit_s=%lu %s cpl=3\n", us ? frames * 1000000 / us : 0,
	       us ? bytes * 8 / us : 0, extra);
}

static int tx_loop(struct bench *b)
{
	struct vnet *n = &b->net;
	uint64_t t0 = rdtsc(), until = b->secs ? t0 + b->secs * 1000 * b->khz : ~0ull, sent = 0, t1;
	uint32_t *seqp = (uint32_t *)(b->frame + HDRS);
	char extra[64];

	while (sent < b->count && rdtsc() < until) {
		uint32_t k = 0;

		for (; k < b->burst && sent < b->count; k++, sent++) {
			*seqp = (uint32_t)sent;
			if (vnet_queue(n, b->frame, b->size))
				break;
		}
		if (k)
			vnet_flush(n);
		else
			cpu_relax();
	}
	t1 = rdtsc();
	/* End markers, one every 10 ms for linger_ms: the receiver stops at
	 * the first it sees and learns how many were sent from it. */
	*seqp = END_SEQ;
	memcpy(b->frame + HDRS + 4, &sent, 4);
	for (uint64_t k = 0; k * 10 < b->linger_ms; k++) {
		uint64_t next = rdtsc() + 10 * b->khz;

		vnet_send(n, b->frame, b->size);
		while (rdtsc() < next)
			vnet_tx_pending(n);
	}
	snprintf(extra, sizeof(extra), "tx_kicks=%lu", n->tx.kicks);
	report(b, sent, sent * b->size, t1 - t0, extra);
	return EX_OK;
}

static int rx_loop(struct bench *b)
{
	struct vnet *n = &b->net;
	uint64_t until = rdtsc() + b->secs * 1000 * b->khz, frames = 0, bytes = 0, t0 = 0, t1 = 0;
	uint64_t lost = 0, others = 0, sent = 0;
	uint32_t next = 0, salt = 0, size = 0;
	uint8_t *f = b->in.rx;
	char extra[96];
	bool end = false;

	while (!end) {
		int len = vnet_recv(n, f, VNET_JUMBO_FRAME);
		uint32_t seq, k, nw;
		const uint8_t *u;

		if (len == -1) {
			if (rdtsc() > until)
				break;
			cpu_relax();
			continue;
		}
		if (len < 0 || len > VNET_JUMBO_FRAME) {
			printf("bench-net: malformed rx completion\n");
			return EX_MISMATCH;
		}
		u = f + ETH_HLEN + IP_HLEN;
		if (len < HDRS + BENCH_HDR || f[12] != 0x08 || f[13] != 0 || f[ETH_HLEN + 9] != IPPROTO_UDP ||
		    f[ETH_HLEN] != 0x45 || memcmp(f + ETH_HLEN + 16, &b->in.l.ip, 4) ||
		    (uint16_t)(u[2] << 8 | u[3]) != b->port) {
			others++;
			continue;
		}
		memcpy(&seq, u + 8, 4);
		if (!size) {
			size = (uint32_t)len;
			memcpy(&salt, u + 16, 4);
		}
		if ((uint32_t)len != size || memcmp(u + 16, &salt, 4)) {
			printf("bench-net: frame %u: %d bytes or salt differ from the first frame's\n", seq, len);
			return EX_MISMATCH;
		}
		if (seq == END_SEQ) {
			memcpy(&sent, u + 12, 4);
			end = true;
			break;
		}
		if (seq < next) {
			printf("bench-net: frame %u after frame %u: out of order or duplicated\n", seq, next - 1);
			return EX_MISMATCH;
		}
		/* the first and last pattern words: cheap, and catch a frame
		 * cut short or spliced from another */
		nw = ((uint32_t)len - HDRS - BENCH_HDR) / 4;
		for (k = 0; k < 2 && nw; k++) {
			uint32_t i = k ? nw - 1 : 0, w = pat(salt, i);

			if (memcmp(u + 8 + BENCH_HDR + 4 * i, &w, 4)) {
				printf("bench-net: frame %u: payload word %u differs\n", seq, i);
				return EX_MISMATCH;
			}
		}
		if (!frames)
			t0 = rdtsc();
		t1 = rdtsc();
		lost += seq - next;
		next = seq + 1;
		frames++;
		bytes += (uint32_t)len;
	}
	if (end && sent > next)
		lost += sent - next;
	b->size = size;
	snprintf(extra, sizeof(extra), "lost=%lu sent=%lu end=%s other_frames=%lu", lost, sent,
		 end ? "yes" : "no", others);
	report(b, frames, bytes, t1 - t0, extra);
	return end ? EX_OK : EX_TIMEOUT;
}

static int bench_ring3(void *arg)
{
	struct bench *b = arg;
	int r = dhcp_run(&b->in, 10000);

	if (r) {
		printf("bench-net: no DHCP lease\n");
		return EX_DHCP;
	}
	if (b->tx) {
		if (HDRS + BENCH_HDR > b->size || b->size - ETH_HLEN > b->in.mtu) {
			printf("bench-net: size=%u does not fit the MTU %u\n", b->size, b->in.mtu);
			return EX_USAGE;
		}
		if (arp_resolve(&b->in, inet_next_hop(&b->in, b->peer), b->nh_mac, 3000)) {
			printf("bench-net: no ARP answer for the next hop\n");
			return EX_ARP;
		}
		build_template(b);
		printf("bench-net: tx to peer, %u-byte frames, mtu %u\n", b->size, b->in.mtu);
		return tx_loop(b);
	}
	printf("bench-net: rx listening on udp port %u, mtu %u\n", b->port, b->in.mtu);
	return rx_loop(b);
}

int main(void)
{
	static struct bench b;
	const char *src;
	char buf[20];
	int r;

	b.tx = cmdline_get("mode", buf, sizeof(buf)) && !strncmp(buf, "tx", 3);
	b.peer = cmdline_get("peer", buf, sizeof(buf)) ? inet_aton(buf) : 0;
	b.port = (uint16_t)cmdline_u64("port", 9);
	b.size = (uint32_t)cmdline_u64("size", 1514);
	/* secs=S without count=N: as many frames as S seconds take */
	b.count = cmdline_u64("count", cmdline_get("secs", buf, sizeof(buf)) ? 0xfffffffeu : 100000);
	b.secs = cmdline_u64("secs", b.tx ? 0 : 30);
	b.burst = (uint32_t)cmdline_u64("burst", 8);
	b.linger_ms = cmdline_u64("linger_ms", 500);
	if ((b.tx && !b.peer) || b.size < 60 || b.size > VNET_JUMBO_FRAME || !b.burst ||
	    b.burst > VNET_TX_BUFS / 2 || !b.port || b.count > 0xfffffffeu) {
		printf("bench-net: usage: mode=tx peer=A.B.C.D size=60..9014 [count=N|secs=S] [burst<=8] "
		       "[port=P] | mode=rx [port=P] [secs=S]\n");
		return EX_USAGE;
	}
	r = vnet_open(&b.net, 0);
	if (r == -VIRTIO_ENODEV) {
		printf("bench-net: no virtio-net (1af4:1041) device found (pci: %s)\n", pci_describe());
		return EX_NODEV;
	}
	if (r == -VIRTIO_EFEATURES || (!r && !(b.net.vd.features & VIRTIO_NET_F_MAC))) {
		printf("bench-net: feature negotiation failed (VERSION_1 and MAC required)\n");
		return EX_FEATURES;
	}
	if (r)
		return EX_SETUP;
	b.khz = tsc_khz(&src);
	if (!b.khz)
		b.khz = 4000000;
	b.salt = (uint32_t)(rdtsc() * 0x9E3779B1u);
	b.frame = mem_alloc(VNET_JUMBO_FRAME, 64);
	inet_init(&b.in, &b.net, b.khz);
	printf("bench-net: mode=%s features=%#lx mrg_rxbuf=%s tsc_khz=%lu (%s), entering ring 3\n",
	       b.tx ? "tx" : "rx", b.net.vd.features,
	       (b.net.vd.features & VIRTIO_NET_F_MRG_RXBUF) ? "yes" : "no", b.khz, src ? src : "none");
	ring3_run(bench_ring3, &b);
}
