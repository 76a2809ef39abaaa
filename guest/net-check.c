/* guest/net-check.c: end-to-end checks of a virtio-net device.
 * mode=echo (default): against an echo peer (tests/hv/virtio/vu_net_echo.c,
 * or any backend that loops tx back to rx). Sends frames of varied sizes
 * (60..1514) in bursts, each with a sequence number and a per-run salted
 * pattern so a stale or reordered echo cannot pass, and checks every echo
 * arrives intact and in order. Options: frames=N (32) burst=B (16).
 * mode=client / mode=server: real networking through a VPC card (ward-net)
 * with lib/inet + lib/tcp, run in ring 3: DHCP, ARP, ICMP echo, and a TCP
 * transfer checked byte for byte both ways (see docs/guest-kit.md).
 * Polled, no interrupts. secs=S bounds the run (20, or 60 for a server).
 * Exit: 0 ok, 1 no device, 2 feature negotiation failed, 3 timeout,
 * 4 mismatch (or a malformed rx completion), 5 unusable device (queues),
 * 6 DHCP failed or the lease is wrong, 7 ARP unanswered, 8 ping replies
 * not as expected, 9 TCP failed, 10 bad command line. */
#include "lib/boot.h"
#include "lib/console.h"
#include "lib/cpu.h"
#include "lib/io.h"
#include "lib/mem.h"
#include "lib/inet.h"
#include "lib/tcp.h"
#include "lib/virtio_net.h"

enum { EX_OK, EX_NODEV, EX_FEATURES, EX_TIMEOUT, EX_MISMATCH, EX_SETUP,
       EX_DHCP, EX_ARP, EX_PING, EX_TCP, EX_USAGE };

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

static int echo_run(void)
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

/* --- mode=client / mode=server: DHCP, ARP, ping, TCP through a card --- */

#define STREAM_MAGIC	0x4b434e57u	/* "WNCK" */
#define HELLO_LEN	16		/* magic, length, salt */
#define REPLY_SALT	0x5265706c79ull	/* the reply stream's pattern differs */

struct run {
	struct inet in;
	struct tcp_conn tcp;
	uint32_t peer;
	uint16_t port;
	bool server;
	bool want_silence;		/* expect=none: nothing may come back */
	bool imds;			/* imds=1: IMDSv2 token round trip */
	bool renew;			/* renew=1: a RENEWING DHCP REQUEST after the lease */
	uint32_t pings, ping_size, conns, want_ip, want_dns, want_mtu;
	uint64_t tcp_bytes, secs;
	/* the transfer: the client sends HELLO + tcp_bytes of pattern(salt);
	 * the server checks them, then sends tcp_bytes of pattern(salt ^
	 * REPLY_SALT) back, which the client checks. */
	uint64_t salt;
	uint8_t hello[HELLO_LEN];
	uint64_t want_len;		/* server: learned from the hello */
	uint64_t checked;		/* pattern bytes verified */
	uint64_t bad_off;
	bool bad;
};

static uint8_t stream_byte(uint64_t salt, uint64_t off)
{
	uint64_t w = salt ^ ((off / 8 + 1) * 0x9E3779B97F4A7C15ull);

	return (uint8_t)(w >> (8 * (off % 8)));
}

static void client_gen(struct tcp_conn *c, uint64_t off, uint8_t *dst, uint32_t len)
{
	struct run *r = c->app;

	for (uint32_t i = 0; i < len; i++, off++)
		dst[i] = off < HELLO_LEN ? r->hello[off] : stream_byte(r->salt, off - HELLO_LEN);
}

static void server_gen(struct tcp_conn *c, uint64_t off, uint8_t *dst, uint32_t len)
{
	struct run *r = c->app;

	for (uint32_t i = 0; i < len; i++, off++)
		dst[i] = stream_byte(r->salt ^ REPLY_SALT, off);
}

static int check_bytes(struct run *r, uint64_t salt, uint64_t off, const uint8_t *src, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		if (src[i] != stream_byte(salt, off + i)) {
			r->bad = true;
			r->bad_off = off + i;
			return -1;
		}
	}
	r->checked += len;
	return 0;
}

static int client_sink(struct tcp_conn *c, uint64_t off, const uint8_t *src, uint32_t len)
{
	struct run *r = c->app;

	if (off + len > r->tcp_bytes) {
		r->bad = true;
		r->bad_off = r->tcp_bytes;
		return -1;
	}
	return check_bytes(r, r->salt ^ REPLY_SALT, off, src, len);
}

static int server_sink(struct tcp_conn *c, uint64_t off, const uint8_t *src, uint32_t len)
{
	struct run *r = c->app;

	for (; len && off < HELLO_LEN; off++, src++, len--)
		r->hello[off] = *src;
	if (off == HELLO_LEN && !r->want_len) {
		uint32_t magic, n;

		memcpy(&magic, r->hello, 4);
		memcpy(&n, r->hello + 4, 4);
		memcpy(&r->salt, r->hello + 8, 8);
		if (magic != STREAM_MAGIC || !n) {
			r->bad = true;
			return -1;
		}
		r->want_len = n;
	}
	if (!len)
		return 0;
	if (off - HELLO_LEN + len > r->want_len) {
		r->bad = true;
		r->bad_off = off;
		return -1;
	}
	if (check_bytes(r, r->salt, off - HELLO_LEN, src, len))
		return -1;
	if (r->checked == r->want_len) {
		/* all of it arrived intact: answer with as many bytes, then FIN */
		c->snd_len = r->want_len;
		c->snd_close = true;
	}
	return 0;
}

static void ip_str(const char *what, uint32_t ip)
{
	char b[16];

	printf("%s%s", what, inet_ntoa(ip, b));
}

static int run_dhcp(struct run *r)
{
	struct dhcp_lease *l = &r->in.l;
	uint32_t base;
	int e = dhcp_run(&r->in, 10000);

	if (e) {
		printf("net-check: dhcp: %s\n", e == -2 ? "NAK" : "no lease within 10 s");
		return EX_DHCP;
	}
	printf("net-check: dhcp:");
	ip_str(" ip=", l->ip);
	ip_str(" mask=", l->mask);
	ip_str(" router=", l->router);
	ip_str(" dns=", l->dns);
	ip_str(" server=", l->server);
	printf(" lease=%u mtu=%u (using %u)\n", l->lease_s, l->mtu, r->in.mtu);
	/* AWS: the router is the subnet's first address; the rest must be set */
	base = l->ip & l->mask;
	if (!l->mask || l->router != htonl(ntohl(base) + 1) || !l->dns || !l->lease_s || !l->mtu) {
		printf("net-check: dhcp: lease incomplete or router is not the subnet's .1\n");
		return EX_DHCP;
	}
	if ((r->want_ip && l->ip != r->want_ip) || (r->want_dns && l->dns != r->want_dns) ||
	    (r->want_mtu && l->mtu != r->want_mtu)) {
		printf("net-check: dhcp: lease differs from want_ip/want_dns/want_mtu\n");
		return EX_DHCP;
	}
	if (r->renew) {
		/* what a long-running guest does at T1 (lease / 2) */
		e = dhcp_renew(&r->in, 5000);
		printf("net-check: dhcp: renewing (unicast REQUEST, ciaddr set): %s\n",
		       !e ? "ACK" : e == -2 ? "NAK" : "no answer");
		if (e)
			return EX_DHCP;
	}
	return 0;
}

static int resolve(struct run *r, uint32_t ip, uint8_t mac[6])
{
	if (arp_resolve(&r->in, ip, mac, 3000)) {
		ip_str("net-check: arp: no answer for ", ip);
		printf("\n");
		return EX_ARP;
	}
	ip_str("net-check: arp: ", ip);
	print_mac(" is ", mac);
	printf("\n");
	return 0;
}

/* ping=N echo requests; expect=reply: every one answered (each resent
 * once a second until the deadline); expect=none: none answered in quiet
 * time after all were sent. */
static int run_ping(struct run *r, const uint8_t *nh_mac, uint64_t deadline)
{
	struct inet *s = &r->in;
	uint64_t interval = cmdline_u64("ping_interval_ms", 0), next = 0;

	for (uint32_t i = 0; i < r->pings; i++) {
		uint64_t resend = 0;

		/* ping_interval_ms paces the requests and logs each reply, so
		 * a test can act while a guest is in the middle of a series */
		while (interval && !inet_expired(next))
			if (inet_poll(s) < 0)
				return EX_MISMATCH;
		next = inet_deadline(s, interval);

		while (!r->want_silence && !(s->ping_seq_seen & (1ull << i))) {
			if (inet_expired(deadline)) {
				printf("net-check: ping: timeout waiting for reply %u\n", i);
				return EX_TIMEOUT;
			}
			if (inet_expired(resend)) {
				if (icmp_echo_send(s, nh_mac, r->peer, (uint16_t)i, r->ping_size)) {
					printf("net-check: ping: cannot send %u bytes (mtu %u)\n",
					       r->ping_size, s->mtu);
					return EX_USAGE;
				}
				resend = inet_deadline(s, 1000);
			}
			if (inet_poll(s) < 0)
				return EX_MISMATCH;
		}
		if (interval && !r->want_silence)
			printf("net-check: ping: reply %u\n", i);
		if (r->want_silence && icmp_echo_send(s, nh_mac, r->peer, (uint16_t)i, r->ping_size)) {
			printf("net-check: ping: cannot send %u bytes (mtu %u)\n", r->ping_size, s->mtu);
			return EX_USAGE;
		}
	}
	if (r->want_silence) {
		/* Silence is only ever the absence of a reply: the test that
		 * starts us also checks the card's drop counters. */
		uint64_t quiet = inet_deadline(s, cmdline_u64("quiet_ms", 1500));

		while (!inet_expired(quiet))
			if (inet_poll(s) < 0)
				return EX_MISMATCH;
	}
	ip_str("net-check: ping: ", r->peer);
	printf(" sent=%u received=%u bad=%u size=%u\n", r->pings, s->ping_replies, s->ping_bad, r->ping_size);
	if (s->ping_bad || s->ping_replies != (r->want_silence ? 0 : r->pings))
		return EX_PING;
	return 0;
}

static int run_tcp_client(struct run *r, const uint8_t *nh_mac, uint64_t deadline)
{
	struct tcp_conn *c = &r->tcp;
	uint16_t lport = (uint16_t)(32768 + rdtsc() % 28000);
	uint32_t n = (uint32_t)r->tcp_bytes, magic = STREAM_MAGIC;

	r->salt = rdtsc() * 0x9E3779B97F4A7C15ull;
	memcpy(r->hello, &magic, 4);
	memcpy(r->hello + 4, &n, 4);
	memcpy(r->hello + 8, &r->salt, 8);
	c->app = r;
	c->gen = client_gen;
	c->sink = client_sink;
	if (tcp_connect(&r->in, c, nh_mac, r->peer, lport, r->port))
		return EX_TCP;
	c->snd_len = HELLO_LEN + r->tcp_bytes;
	c->snd_close = true;
	while (c->state < TCP_DONE) {
		if (inet_expired(deadline)) {
			printf("net-check: tcp: timeout (state %d, %lu of %lu bytes back)\n",
			       c->state, r->checked, r->tcp_bytes);
			return EX_TIMEOUT;
		}
		if (inet_poll(&r->in) < 0)
			return EX_MISMATCH;
	}
	if (c->state == TCP_FAILED || r->checked != r->tcp_bytes) {
		printf("net-check: tcp: %s (%lu of %lu bytes back intact, first bad at %lu)\n",
		       c->err ? c->err : "closed early", r->checked, r->tcp_bytes, r->bad_off);
		return EX_TCP;
	}
	ip_str("net-check: tcp: ", r->peer);
	printf(":%u from port %u: %lu bytes sent, %lu bytes back verified, mss=%u/%u wscale=%s segs_tx=%lu segs_rx=%lu max_flight=%u retransmits=%lu dup=%lu\n",
	       r->port, lport, r->tcp_bytes, r->checked, r->in.mtu - 40, c->mss, c->wscale_ok ? "yes" : "no",
	       c->segs_tx, c->segs_rx, c->max_flight, c->retransmits, c->rx_dup);
	return 0;
}

/* --- IMDSv2 round trip: one HTTP/1.1 request per connection to the
 * card's metadata service (169.254.169.254:80, via the router) --- */

#define IMDS_ADDR	0xfea9fea9u	/* 169.254.169.254, network order on x86 */

struct http {
	char req[512];
	uint32_t req_len;
	char resp[2048];
	uint32_t resp_len;
	int code;
	uint32_t body_off, body_len;
	bool complete, overflow;
};

static bool prefix_ci(const char *s, const char *p)
{
	for (; *p; s++, p++) {
		char a = *s >= 'A' && *s <= 'Z' ? (char)(*s + 32) : *s;
		char b = *p >= 'A' && *p <= 'Z' ? (char)(*p + 32) : *p;

		if (a != b)
			return false;
	}
	return true;
}

/* Status line, Content-Length and the body, once they are all there. */
static void http_parse(struct http *h)
{
	uint32_t end = 0, clen = 0;
	bool have_len = false;

	for (uint32_t i = 0; i + 3 < h->resp_len; i++) {
		if (!memcmp(h->resp + i, "\r\n\r\n", 4)) {
			end = i + 4;
			break;
		}
	}
	if (!end || h->resp_len < 12 || memcmp(h->resp, "HTTP/1.1 ", 9))
		return;
	h->code = (h->resp[9] - '0') * 100 + (h->resp[10] - '0') * 10 + (h->resp[11] - '0');
	for (uint32_t i = 0; i + 16 < end; i++) {
		if (h->resp[i] == '\n' && prefix_ci(h->resp + i + 1, "content-length:")) {
			const char *v = h->resp + i + 16;

			while (*v == ' ')
				v++;
			for (clen = 0; *v >= '0' && *v <= '9'; v++)
				clen = clen * 10 + (uint32_t)(*v - '0');
			have_len = true;
			break;
		}
	}
	if (have_len && h->resp_len >= end + clen) {
		h->body_off = end;
		h->body_len = clen;
		h->complete = true;
	}
}

static void http_gen(struct tcp_conn *c, uint64_t off, uint8_t *dst, uint32_t len)
{
	struct http *h = c->app;

	memcpy(dst, h->req + off, len);
}

static int http_sink(struct tcp_conn *c, uint64_t off, const uint8_t *src, uint32_t len)
{
	struct http *h = c->app;

	if (h->complete || off + len > sizeof(h->resp) - 1) {
		h->overflow = true;
		return -1;
	}
	memcpy(h->resp + off, src, len);
	h->resp_len = (uint32_t)(off + len);
	h->resp[h->resp_len] = 0;
	http_parse(h);
	if (h->complete) {
		c->snd_close = true;	/* the reply is whole: FIN, done once acked */
		c->rcv_done = true;
	}
	return 0;
}

/* One request; 0 with h->code and the body, or an exit code. */
static int http_do(struct run *r, const uint8_t *rmac, struct http *h, uint64_t deadline)
{
	struct tcp_conn *c = &r->tcp;
	uint16_t lport = (uint16_t)(32768 + rdtsc() % 28000);

	h->resp_len = 0;
	h->complete = h->overflow = false;
	h->code = 0;
	c->app = h;
	c->gen = http_gen;
	c->sink = http_sink;
	if (tcp_connect(&r->in, c, rmac, IMDS_ADDR, lport, 80))
		return EX_TCP;
	c->snd_len = h->req_len;
	while (c->state < TCP_DONE) {
		if (inet_expired(deadline)) {
			printf("net-check: imds: timeout (state %d, %u reply bytes)\n", c->state, h->resp_len);
			return EX_TIMEOUT;
		}
		if (inet_poll(&r->in) < 0)
			return EX_MISMATCH;
	}
	if (c->state == TCP_FAILED || !h->complete) {
		printf("net-check: imds: %s (%u reply bytes)\n", c->err ? c->err : "closed before a whole reply",
		       h->resp_len);
		return EX_TCP;
	}
	return 0;
}

static int run_imds(struct run *r, const uint8_t *rmac, uint64_t deadline)
{
	static struct http h;
	char token[128], ip[16], want[64];
	int e;

	/* PUT a token... */
	h.req_len = (uint32_t)snprintf(h.req, sizeof(h.req),
		"PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\n"
		"X-aws-ec2-metadata-token-ttl-seconds: 21600\r\nContent-Length: 0\r\n\r\n");
	if ((e = http_do(r, rmac, &h, deadline)))
		return e;
	if (h.code != 200 || !h.body_len || h.body_len >= sizeof(token)) {
		printf("net-check: imds: PUT token: HTTP %d, %u-byte body\n", h.code, h.body_len);
		return EX_MISMATCH;
	}
	memcpy(token, h.resp + h.body_off, h.body_len);
	token[h.body_len] = 0;
	printf("net-check: imds: token: %u bytes (not shown)\n", h.body_len);
	/* ...without it, a GET is refused (IMDSv2 only)... */
	h.req_len = (uint32_t)snprintf(h.req, sizeof(h.req),
		"GET /latest/meta-data/local-ipv4 HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n");
	if ((e = http_do(r, rmac, &h, deadline)))
		return e;
	printf("net-check: imds: GET local-ipv4 without a token: HTTP %d\n", h.code);
	if (h.code != 401)
		return EX_MISMATCH;
	/* ...and with it, the card tells us our own address. */
	h.req_len = (uint32_t)snprintf(h.req, sizeof(h.req),
		"GET /latest/meta-data/local-ipv4 HTTP/1.1\r\nHost: 169.254.169.254\r\n"
		"X-aws-ec2-metadata-token: %s\r\n\r\n", token);
	if ((e = http_do(r, rmac, &h, deadline)))
		return e;
	inet_ntoa(r->in.l.ip, ip);
	printf("net-check: imds: GET local-ipv4: HTTP %d \"%s\"\n", h.code, h.resp + h.body_off);
	if (h.code != 200 || h.body_len != strlen(ip) || memcmp(h.resp + h.body_off, ip, h.body_len)) {
		printf("net-check: imds: local-ipv4 is not the leased %s\n", ip);
		return EX_MISMATCH;
	}
	if (!cmdline_get("want_instance", want, sizeof(want)))
		return 0;
	h.req_len = (uint32_t)snprintf(h.req, sizeof(h.req),
		"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\n"
		"X-aws-ec2-metadata-token: %s\r\n\r\n", token);
	if ((e = http_do(r, rmac, &h, deadline)))
		return e;
	printf("net-check: imds: GET instance-id: HTTP %d \"%s\"\n", h.code, h.resp + h.body_off);
	if (h.code != 200 || h.body_len != strlen(want) || memcmp(h.resp + h.body_off, want, h.body_len))
		return EX_MISMATCH;
	return 0;
}

static int client_run(struct run *r)
{
	uint64_t deadline = inet_deadline(&r->in, r->secs * 1000);
	uint8_t nh_mac[6];
	int e;

	if ((e = run_dhcp(r)) || (e = resolve(r, inet_next_hop(&r->in, r->peer), nh_mac)))
		return e;
	if (r->pings && (e = run_ping(r, nh_mac, deadline)))
		return e;
	if (r->tcp_bytes && !r->want_silence && (e = run_tcp_client(r, nh_mac, deadline)))
		return e;
	if (r->imds) {
		uint8_t rmac[6];

		if ((e = resolve(r, r->in.l.router, rmac)) || (e = run_imds(r, rmac, deadline)))
			return e;
	}
	printf("net-check: ok: client done, rx_frames=%lu tx_frames=%lu rx_bad=%lu\n",
	       r->in.st.rx_frames, r->in.st.tx_frames, r->in.st.rx_bad);
	return EX_OK;
}

static int server_run(struct run *r)
{
	uint64_t deadline = inet_deadline(&r->in, r->secs * 1000);
	struct tcp_conn *c = &r->tcp;
	uint8_t rmac[6];
	int e;

	if ((e = run_dhcp(r)) || (e = resolve(r, r->in.l.router, rmac)))
		return e;
	ip_str("net-check: server: listening on ", r->in.l.ip);
	printf(":%u for %u connection(s)\n", r->port, r->conns);
	for (uint32_t done = 0; done < r->conns;) {
		r->want_len = r->checked = 0;
		r->bad = false;
		c->app = r;
		c->gen = server_gen;
		c->sink = server_sink;
		tcp_listen(&r->in, c, r->port);
		while (c->state < TCP_DONE) {
			if (inet_expired(deadline)) {
				printf("net-check: server: timeout (%u of %u connections, state %d, echoed %u pings)\n",
				       done, r->conns, c->state, (unsigned int)r->in.st.echo_answered);
				return EX_TIMEOUT;
			}
			if (inet_poll(&r->in) < 0)
				return EX_MISMATCH;
		}
		if (c->state == TCP_FAILED || !r->want_len || r->checked != r->want_len) {
			printf("net-check: server: connection failed: %s (%lu of %lu bytes intact)\n",
			       c->err ? c->err : "closed early", r->checked, r->want_len);
			return EX_TCP;
		}
		done++;
		ip_str("net-check: server: connection ", c->rip);
		printf(":%u: %lu bytes verified, %lu sent back, max_flight=%u retransmits=%lu\n",
		       c->rport, r->checked, r->want_len, c->max_flight, c->retransmits);
	}
	printf("net-check: ok: server done, %u connection(s), %lu pings answered\n",
	       r->conns, r->in.st.echo_answered);
	return EX_OK;
}

static int stack_ring3(void *arg)
{
	struct run *r = arg;

	return r->server ? server_run(r) : client_run(r);
}

static uint32_t cmdline_ip(const char *key)
{
	char b[20];

	return cmdline_get(key, b, sizeof(b)) ? inet_aton(b) : 0;
}

static int stack_main(bool server)
{
	static struct vnet net;
	static struct run run;
	struct run *r = &run;
	const char *src;
	uint64_t khz;
	char b[20];
	int e;

	r->server = server;
	r->peer = cmdline_ip("peer");
	r->port = (uint16_t)cmdline_u64("port", 7);
	r->pings = (uint32_t)cmdline_u64("ping", 4);
	r->ping_size = (uint32_t)cmdline_u64("ping_size", 56);
	r->tcp_bytes = cmdline_u64("tcp", 65536);
	r->conns = (uint32_t)cmdline_u64("conns", 1);
	r->secs = cmdline_u64("secs", server ? 60 : 20);
	r->want_ip = cmdline_ip("want_ip");
	r->want_dns = cmdline_ip("want_dns");
	r->want_mtu = (uint32_t)cmdline_u64("want_mtu", 0);
	r->imds = cmdline_u64("imds", 0) != 0;
	r->renew = cmdline_u64("renew", 0) != 0;
	r->want_silence = cmdline_get("expect", b, sizeof(b)) && !strncmp(b, "none", 5);
	if ((!server && !r->peer) || r->pings > 64 || r->ping_size > 8972 ||
	    r->tcp_bytes > 0xffffffffu || !r->port) {
		printf("net-check: usage: mode=client peer=A.B.C.D [ping=N<=64] [ping_size<=8972] "
		       "[tcp=BYTES] [port=P] [expect=reply|none] [imds=1 [want_instance=ID]] [renew=1] | mode=server [port=P] [conns=N]\n");
		return EX_USAGE;
	}
	e = vnet_open(&net, 0);
	if (e == -VIRTIO_ENODEV) {
		printf("net-check: no virtio-net (1af4:1041) device found (pci: %s)\n", pci_describe());
		return EX_NODEV;
	}
	if (e == -VIRTIO_EFEATURES || (!e && !(net.vd.features & VIRTIO_NET_F_MAC))) {
		printf("net-check: feature negotiation failed (VERSION_1 and MAC required)\n");
		return EX_FEATURES;
	}
	if (e) {
		printf("net-check: queue setup failed (%d)\n", e);
		return EX_SETUP;
	}
	khz = tsc_khz(&src);
	if (!khz)
		khz = 4000000;
	printf("net-check: mode=%s device %02x:%02x.%x features=%#lx ", server ? "server" : "client",
	       net.vd.pci.bus, net.vd.pci.dev, net.vd.pci.fn, net.vd.features);
	print_mac("mac=", net.mac);
	printf(" mtu=%u mrg_rxbuf=%s tsc_khz=%lu (%s)\n", net.mtu,
	       (net.vd.features & VIRTIO_NET_F_MRG_RXBUF) ? "yes" : "no", khz, src ? src : "none");
	inet_init(&r->in, &net, khz);
	/* Everything from here is plain loads, stores and port-free polling:
	 * ring 3, where kvm_pvm runs guests natively. */
	ring3_run(stack_ring3, r);
}

int main(void)
{
	char mode[16];

	if (!cmdline_get("mode", mode, sizeof(mode)) || !strncmp(mode, "echo", 5))
		return echo_run();
	if (!strncmp(mode, "client", 7))
		return stack_main(false);
	if (!strncmp(mode, "server", 7))
		return stack_main(true);
	printf("net-check: unknown mode=%s (echo, client or server)\n", mode);
	return EX_USAGE;
}
