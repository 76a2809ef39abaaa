/* vu-net-echo: a vhost-user-net backend for tests, not a product. Every
 * frame the driver transmits comes back on its receive queue, so the guest
 * kit's net-check can prove ward-hv's (or QEMU's) virtio-net path end to end.
 * Built on the card processes' vu_dev/virtq; everything from the guest goes
 * through virtq's checks. `--corrupt N` flips one byte of the N-th echoed
 * frame (1-based) so the test can see the guest catch it. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "vu_dev.h"

#define VIRTIO_NET_F_MAC	5
#define NET_RXQ			0
#define NET_TXQ			1
#define NET_HDR_LEN		12	/* VERSION_1: with num_buffers */
#define NET_HDR_LEN_LEGACY	10
#define MAX_FRAME		65535	/* no GSO offered: one frame per chain */
#define FIFO_LEN		32	/* echoes waiting for a receive buffer */

/* 52:54:00 is QEMU's prefix; "war" makes the rest easy to grep. */
static const uint8_t echo_mac[6] = { 0x52, 0x54, 0x00, 0x77, 0x61, 0x72 };

struct frame {
	uint32_t len;
	uint8_t data[MAX_FRAME];
};

struct echo {
	struct vu_dev vu;
	struct vu_dev_ops ops;
	struct frame *fifo;
	unsigned int head, count;
	uint64_t echoed, dropped, corrupt_at;
};

static int get_config(struct vu_dev *vu, uint8_t *buf, uint32_t off, uint32_t len)
{
	/* struct virtio_net_config: mac, status, max_virtqueue_pairs, mtu */
	uint8_t cfg[12] = { 0 };

	memcpy(cfg, echo_mac, 6);
	cfg[6] = 1;	/* VIRTIO_NET_S_LINK_UP */
	cfg[8] = 1;	/* one queue pair */
	if ((uint64_t)off + len > sizeof(cfg))
		return -EINVAL;
	memcpy(buf, cfg + off, len);
	return 0;
}

static size_t hdr_len(const struct echo *e)
{
	return (e->vu.features & (1ull << VIRTIO_F_VERSION_1)) ? NET_HDR_LEN : NET_HDR_LEN_LEGACY;
}

/* Take transmitted frames into the FIFO. Returns the number taken, or -1
 * if the ring broke. A TX chain is device-readable only (§5.1.6.2). */
static int take_tx(struct echo *e)
{
	struct vu_vring *vr = &e->vu.vr[NET_TXQ];
	size_t hl = hdr_len(e);
	struct vq_chain c;
	int n = 0;

	while (e->count < FIFO_LEN && vu_dev_ring_live(&e->vu, NET_TXQ)) {
		struct frame *f = &e->fifo[(e->head + e->count) % FIFO_LEN];
		int rc = vq_pop(&vr->vq, &c);

		if (rc < 0) {
			vu_dev_ring_broken(&e->vu, NET_TXQ, vr->vq.why);
			return -1;
		}
		if (rc == 0)
			break;
		if (c.nin || c.out_bytes < hl) {
			vu_dev_ring_broken(&e->vu, NET_TXQ, "tx chain is writable or shorter than the header");
			return -1;
		}
		if (c.out_bytes - hl > MAX_FRAME) {
			e->dropped++;
			log_warn("oversized frame dropped", "bytes=%llu", (unsigned long long)c.out_bytes);
		} else {
			f->len = (uint32_t)(c.out_bytes - hl);
			vq_iov_to_buf(c.iov, c.nout, hl, f->data, f->len);
			e->count++;
		}
		vq_push(&vr->vq, c.head, 0);
		n++;
	}
	return n;
}

/* Echo queued frames into receive buffers while both exist. Without
 * MRG_RXBUF one chain must hold header + frame: a driver that posts less
 * broke §5.1.6.3.1, and the ring is stopped rather than the frame cut. */
static int fill_rx(struct echo *e)
{
	struct vu_vring *vr = &e->vu.vr[NET_RXQ];
	size_t hl = hdr_len(e);
	uint8_t hdr[NET_HDR_LEN] = { 0 };
	struct vq_chain c;
	int n = 0;

	hdr[10] = 1;	/* num_buffers = 1 (§5.1.6.4: without MRG_RXBUF) */
	while (e->count && vu_dev_ring_live(&e->vu, NET_RXQ)) {
		struct frame *f = &e->fifo[e->head];
		int rc = vq_pop(&vr->vq, &c);

		if (rc < 0) {
			vu_dev_ring_broken(&e->vu, NET_RXQ, vr->vq.why);
			return -1;
		}
		if (rc == 0)
			break;
		if (c.nout || c.in_bytes < hl + f->len) {
			vu_dev_ring_broken(&e->vu, NET_RXQ, "rx chain is readable or too small for the frame");
			return -1;
		}
		if (++e->echoed == e->corrupt_at && f->len)
			f->data[f->len / 2] ^= 0x5a;
		vq_buf_to_iov(c.iov, c.nin, 0, hdr, hl);
		vq_buf_to_iov(c.iov, c.nin, hl, f->data, f->len);
		vq_push(&vr->vq, c.head, (uint32_t)(hl + f->len));
		e->head = (e->head + 1) % FIFO_LEN;
		e->count--;
		n++;
	}
	return n;
}

static void process(struct echo *e)
{
	int tx, rx;

	do {
		tx = take_tx(e);
		rx = fill_rx(e);
		if (tx > 0)
			vu_dev_notify(&e->vu, NET_TXQ);
		if (rx > 0)
			vu_dev_notify(&e->vu, NET_RXQ);
	} while (tx > 0 || rx > 0);
}

/* Serve one frontend until it hangs up. 0 on an orderly close. */
static int serve(struct echo *e)
{
	for (;;) {
		struct pollfd p[1 + 2];
		unsigned int n = 0;
		int rc;

		p[n++] = (struct pollfd){ .fd = e->vu.sock, .events = POLLIN };
		for (unsigned int q = 0; q < 2; q++)
			if (vu_dev_ring_live(&e->vu, q))
				p[n++] = (struct pollfd){ .fd = e->vu.vr[q].kick_fd, .events = POLLIN };
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (unsigned int i = 1; i < n; i++) {
			uint64_t v;

			if ((p[i].revents & POLLIN) && read(p[i].fd, &v, sizeof(v)) < 0 &&
			    errno != EAGAIN && errno != EINTR)
				return -errno;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			rc = vu_dev_dispatch(&e->vu);
			if (rc <= 0)
				return rc;
		}
		/* Also after every message: a ring that just started may
		 * already hold buffers posted before its kick fd existed. */
		process(e);
	}
}

static int listen_accept(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int l, s;

	if (strlen(path) >= sizeof(a.sun_path)) {
		fprintf(stderr, "vu-net-echo: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(a.sun_path, path);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0) {
		fprintf(stderr, "vu-net-echo: cannot listen on %s: %s\n", path, strerror(errno));
		if (l >= 0)
			close(l);
		return -1;
	}
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		fprintf(stderr, "vu-net-echo: accept: %s\n", strerror(errno));
	close(l);
	unlink(path);
	return s;
}

static void usage(void)
{
	fprintf(stderr, "usage: vu-net-echo [--corrupt N] SOCKET_PATH\n"
			"       vu-net-echo [--corrupt N] --fd N   (a connected vhost-user socket)\n");
}

int main(int argc, char **argv)
{
	static struct echo e;
	const char *path = NULL;
	char *end;
	int sock = -1, rc;
	bool broken;

	log_init("net-echo", LOG_INFO);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--corrupt") && i + 1 < argc) {
			e.corrupt_at = strtoull(argv[++i], &end, 10);
			if (*end || !e.corrupt_at)
				goto bad_args;
		} else if (!strcmp(argv[i], "--fd") && i + 1 < argc) {
			sock = (int)strtol(argv[++i], &end, 10);
			if (*end || sock < 0)
				goto bad_args;
		} else if (argv[i][0] != '-' && !path) {
			path = argv[i];
		} else {
			goto bad_args;
		}
	}
	if ((sock < 0) == !path)
		goto bad_args;
	e.fifo = calloc(FIFO_LEN, sizeof(*e.fifo));
	if (!e.fifo)
		return 1;
	if (path)
		sock = listen_accept(path);
	if (sock < 0) {
		free(e.fifo);
		return 1;
	}
	e.ops.features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MAC);
	e.ops.protocol_features = (1ull << VU_PROTOCOL_F_REPLY_ACK) | (1ull << VU_PROTOCOL_F_CONFIG);
	e.ops.num_queues = 2;
	e.ops.get_config = get_config;
	/* Nothing is ever in flight between calls: no quiesce needed. */
	vu_dev_init(&e.vu, sock, &e.ops, &e);
	rc = serve(&e);
	fprintf(stderr, "vu-net-echo: frontend gone: frames=%llu dropped=%llu queued=%u broken=%s%s%s\n",
		(unsigned long long)e.echoed, (unsigned long long)e.dropped, e.count,
		e.vu.broken ? "yes (" : "no", e.vu.broken ? e.vu.why : "", e.vu.broken ? ")" : "");
	broken = e.vu.broken;	/* vu_dev_reset forgets it */
	vu_dev_reset(&e.vu);
	close(sock);
	free(e.fifo);
	return rc < 0 || broken ? 1 : 0;
bad_args:
	usage();
	return 2;
}
