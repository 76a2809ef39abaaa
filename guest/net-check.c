/* guest/net-check.c: end-to-end check of a virtio-net device against an
 * echo peer (tests/hv/virtio/vu_net_echo.c, or any backend that loops tx
 * back to rx). Sends frames of varied sizes (60..1514) in bursts, each with
 * a sequence number and a per-run salted pattern so a stale or reordered
 * echo cannot pass, and checks every echo arrives intact and in order.
 * Polled, no interrupts. Command line: frames=N (32) burst=B (16) secs=S (20).
 * Exit: 0 ok, 1 no device, 2 feature negotiation failed, 3 timeout,
 * 4 mismatch (or a malformed rx completion), 5 unusable device (queues). */
#include "lib/boot.h"
#include "lib/console.h"
#include "lib/cpu.h"
#include "lib/io.h"
#include "lib/mem.h"
#include "lib/virtio_net.h"

enum { EX_OK, EX_NODEV, EX_FEATURES, EX_TIMEOUT, EX_MISMATCH, EX_SETUP };

#define ETH_MIN		60
#define ETH_MAX		1514
#define ETHERTYPE	0x88B5		/* IEEE 802 local experimental */
#define HDR_BYTES	18		/* dst, src, type, u32 seq */

static const uint8_t src_mac[6] = { 0x02, 0x77, 0x61, 0x72, 0x64, 0x01 };
static uint64_t salt;
static uint64_t deadline;

static uint32_t frame_len(uint32_t seq)
{
	/* both extremes first, then a spread over the range */
	if (seq == 0)
		return ETH_MIN;
	if (seq == 1)
		return ETH_MAX;
	return ETH_MIN + (seq * 797u) % (ETH_MAX - ETH_MIN + 1);
}

/* Payload word k of frame seq. Word-sized so that building and checking
 * a frame stay cheap where guest ring 0 is emulated (~1M instructions/s). */
static uint64_t pattern(uint32_t seq, uint32_t k)
{
	return salt ^ ((uint64_t)seq << 40) ^ ((k + 1) * 0x9E3779B97F4A7C15ull);
}

static void build(uint8_t *f, uint32_t seq, const uint8_t *dst)
{
	uint32_t len = frame_len(seq);

	memcpy(f, dst, 6);
	memcpy(f + 6, src_mac, 6);
	f[12] = ETHERTYPE >> 8;
	f[13] = ETHERTYPE & 0xff;
	memcpy(f + 14, &seq, 4);
	for (uint32_t j = HDR_BYTES, k = 0; j < len; j += 8, k++) {
		uint64_t w = pattern(seq, k);

		if (len - j >= 8)
			*(uint64_t *)(f + j) = w;	/* x86: unaligned is fine */
		else
			memcpy(f + j, &w, len - j);
	}
}

static bool expired(void)
{
	return rdtsc() > deadline;
}

static int check(const uint8_t *got, int glen, const uint8_t *want, uint32_t seq)
{
	uint32_t wlen = frame_len(seq), gseq;

	if (glen < HDR_BYTES) {
		printf("net-check: frame %u came back with %d bytes\n", seq, glen);
		return -1;
	}
	memcpy(&gseq, got + 14, 4);
	if (gseq != seq) {
		printf("net-check: frame %u arrived where frame %u was expected\n", gseq, seq);
		return -1;
	}
	if ((uint32_t)glen != wlen) {
		printf("net-check: frame %u: %d bytes echoed, %u sent\n", seq, glen, wlen);
		return -1;
	}
	if (!memcmp(got, want, wlen))
		return 0;
	for (uint32_t j = 0; j < wlen; j++) {
		if (got[j] != want[j]) {
			printf("net-check: frame %u (%u bytes): byte %u is %#x, sent %#x\n",
			       seq, wlen, j, got[j], want[j]);
			return -1;
		}
	}
	return 0;
}

static void print_mac(const char *what, const uint8_t *m)
{
	printf("%s%02x:%02x:%02x:%02x:%02x:%02x", what, m[0], m[1], m[2], m[3], m[4], m[5]);
}

int main(void)
{
	static struct vnet net;
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint32_t frames = (uint32_t)cmdline_u64("frames", 32);
	uint32_t burst = (uint32_t)cmdline_u64("burst", 16);
	uint64_t secs = cmdline_u64("secs", 20), khz, bytes = 0;
	const uint8_t *dst;
	const char *src;
	uint8_t *sent, *rbuf;
	int r;

	r = vnet_open(&net, 0);
	if (r == -VIRTIO_ENODEV) {
		printf("net-check: no virtio-net (1af4:1041) device found (pci: %s)\n", pci_describe());
		return EX_NODEV;
	}
	if (r == -VIRTIO_EFEATURES) {
		printf("net-check: feature negotiation failed (VERSION_1 required)\n");
		return EX_FEATURES;
	}
	if (r) {
		printf("net-check: queue setup failed (%d)\n", r);
		return EX_SETUP;
	}
	dst = (net.vd.features & VIRTIO_NET_F_MAC) ? net.mac : bcast;
	printf("net-check: device %02x:%02x.%x features=%#lx rxq=%u txq=%u ",
	       net.vd.pci.bus, net.vd.pci.dev, net.vd.pci.fn, net.vd.features,
	       net.rx.size, net.tx.size);
	if (net.vd.features & VIRTIO_NET_F_MAC)
		print_mac("mac=", net.mac);
	else
		printf("mac=none (frames go to broadcast)");
	printf("\n");
	if (burst < 1 || burst > net.rx.size || burst > net.tx.size)
		burst = net.rx.size < net.tx.size ? net.rx.size : net.tx.size;
	if (frames < 1 || frames > 0xffff)
		frames = 32;

	khz = tsc_khz(&src);
	if (!khz)
		khz = 4000000;	/* no clock: assume a fast TSC, so the wait is longer */
	salt = rdtsc() * 0x9E3779B97F4A7C15ull;
	deadline = rdtsc() + secs * khz * 1000;
	sent = mem_alloc((size_t)burst * ETH_MAX, 64);
	rbuf = mem_alloc(VNET_BUF_SIZE, 64);

	for (uint32_t base = 0; base < frames; base += burst) {
		uint32_t n = frames - base < burst ? frames - base : burst;

		/* The whole burst is in flight before the first echo is read,
		 * so the device has to queue and the rx ring fills up. */
		for (uint32_t k = 0; k < n; k++) {
			uint8_t *f = sent + (size_t)k * ETH_MAX;

			build(f, base + k, dst);
			while (vnet_send(&net, f, frame_len(base + k)) < 0) {
				if (expired()) {
					printf("net-check: timeout: the device took %u of %u frames\n",
					       base + k - net.tx_inflight, frames);
					return EX_TIMEOUT;
				}
				cpu_relax();
			}
			bytes += frame_len(base + k);
		}
		for (uint32_t k = 0; k < n;) {
			r = vnet_recv(&net, rbuf, VNET_BUF_SIZE);
			if (r == -1) {
				if (expired()) {
					printf("net-check: timeout: %u of %u frames echoed (%u not taken by the device)\n",
					       base + k, frames, vnet_tx_pending(&net));
					return EX_TIMEOUT;
				}
				cpu_relax();
				continue;
			}
			if (r == -2) {
				printf("net-check: malformed rx completion (unknown buffer, bad length or num_buffers != 1)\n");
				return EX_MISMATCH;
			}
			if (check(rbuf, r, sent + (size_t)k * ETH_MAX, base + k))
				return EX_MISMATCH;
			k++;
		}
	}
	while (vnet_tx_pending(&net)) {
		if (expired()) {
			printf("net-check: timeout: %u frames echoed but never completed on tx\n",
			       net.tx_inflight);
			return EX_TIMEOUT;
		}
		cpu_relax();
	}
	printf("net-check: ok: %u frames (%u..%u bytes, %lu total) in bursts of %u, ",
	       frames, ETH_MIN, ETH_MAX, bytes, burst);
	print_mac("mac=", dst);
	printf(" tx_kicks=%lu rx_kicks=%lu\n", net.tx.kicks, net.rx.kicks);
	return EX_OK;
}
