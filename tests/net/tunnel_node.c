/* tests/net/tunnel_node: one host's end of the underlay for the two-namespace
 * test (tunnel_netns.sh). The responder listens for key exchanges (TCP 6082)
 * and Geneve (UDP 6081), echoes every frame it accepts back sealed, and
 * exits after --expect datagrams; the initiator runs --epochs key exchanges,
 * sending --count marked frames under each and checking their echoes, and
 * with --spoof N sends N frames from an inner address nobody owns, and
 * with --hold FILE seals one more frame into FILE without sending it. Both
 * print their counters as key=value lines. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "keyx.h"
#include "log.h"
#include "tunnel.h"

#define KEYX_PORT 6082
#define MARKER "WARD-INNER-PLAINTEXT-MARKER"

struct opts {
	const char *role, *id, *cert, *key, *ca, *peer_id, *save;
	uint32_t local, peer, my_ip, peer_ip, vni;
	long count, epochs, expect, spoof;
	bool plaintext;
};

static uint64_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static int die(const char *what)
{
	fprintf(stderr, "tunnel_node: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct sockaddr_in sin_of(uint32_t addr, uint16_t port)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = addr };

	return s;
}

static size_t frame(uint8_t *f, uint32_t src, uint32_t dst, long n)
{
	int len;

	memset(f, 0, 34);
	memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	f[12] = 0x08;
	f[14] = 0x45;
	f[14 + 9] = 17;
	memcpy(f + 26, &src, 4);
	memcpy(f + 30, &dst, 4);
	len = snprintf((char *)f + 34, 200, "%s n=%ld", MARKER, n);
	return 34 + (size_t)len;
}

static void print_stats(const struct tunnel *t)
{
	struct tunnel_stats st, *s = &st;

	tunnel_stats_read(t, &st);
	printf("tx_ok=%lu\ntx_no_key=%lu\ntx_unknown_dst=%lu\nrx_ok=%lu\nrx_malformed=%lu\n"
	       "rx_plaintext=%lu\nrx_unknown_peer=%lu\nrx_unknown_key=%lu\nrx_auth_fail=%lu\n"
	       "rx_replay=%lu\nrx_spoofed=%lu\nrx_bad_frame=%lu\n",
	       s->tx_ok, s->tx_no_key, s->tx_unknown_dst, s->rx_ok, s->rx_malformed, s->rx_plaintext,
	       s->rx_unknown_peer, s->rx_unknown_key, s->rx_auth_fail, s->rx_replay, s->rx_spoofed,
	       s->rx_bad_frame);
	fflush(stdout);
}

static int udp_open(uint32_t local)
{
	struct sockaddr_in s = sin_of(local, TUNNEL_UDP_PORT);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&s, sizeof(s)))
		die("udp bind");
	return fd;
}

static void responder(const struct opts *o, struct tunnel *t, struct keyx *kx)
{
	struct sockaddr_in s = sin_of(o->local, KEYX_PORT);
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ufd = udp_open(o->local);
	uint8_t pkt[TUNNEL_MAX_FRAME + TUNNEL_OVERHEAD], in[TUNNEL_MAX_FRAME], f[256];
	long got = 0;

	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&s, sizeof(s)) || listen(lfd, 4))
		die("tcp listen");
	printf("ready\n");
	fflush(stdout);
	while (got < o->expect) {
		struct pollfd p[2] = { { .fd = lfd, .events = POLLIN }, { .fd = ufd, .events = POLLIN } };
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		char peer[TUNNEL_HOST_ID_MAX + 1];
		uint32_t vni, dst;
		long n, r;

		if (poll(p, 2, -1) < 0)
			die("poll");
		if (p[0].revents & POLLIN) {
			int c = accept4(lfd, (struct sockaddr *)&from, &fl, SOCK_CLOEXEC);

			if (c < 0)
				die("accept");
			keyx_respond(kx, t, c, from.sin_addr.s_addr, now_s(), peer);
			close(c);
			continue;
		}
		n = recvfrom(ufd, pkt, sizeof(pkt), 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			die("recvfrom");
		got++;
		r = tunnel_decap(t, from.sin_addr.s_addr, pkt, (size_t)n, in, sizeof(in), &vni, now_s());
		if (r < 0 || !memmem(in, (size_t)r, MARKER, strlen(MARKER)))
			continue;
		/* echo: same payload, addresses swapped */
		memcpy(f, in, (size_t)r < sizeof(f) ? (size_t)r : sizeof(f));
		memcpy(f + 26, in + 30, 4);
		memcpy(f + 30, in + 26, 4);
		n = tunnel_encap(t, vni, f, (size_t)r < sizeof(f) ? (size_t)r : sizeof(f), pkt, sizeof(pkt), &dst, now_s());
		if (n > 0) {
			struct sockaddr_in d = sin_of(dst, TUNNEL_UDP_PORT);

			sendto(ufd, pkt, (size_t)n, 0, (struct sockaddr *)&d, sizeof(d));
		}
	}
	close(lfd);
	close(ufd);
}

static void initiator(const struct opts *o, struct tunnel *t, struct keyx *kx)
{
	uint8_t pkt[TUNNEL_MAX_FRAME + TUNNEL_OVERHEAD], in[TUNNEL_MAX_FRAME], f[256];
	int ufd = udp_open(o->local);
	long last = 0, echoes = 0;

	for (long e = 0; e < o->epochs; e++) {
		if (!o->plaintext) {
			struct sockaddr_in s = sin_of(o->peer, KEYX_PORT);
			int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

			if (c < 0 || connect(c, (struct sockaddr *)&s, sizeof(s)))
				die("connect");
			if (keyx_initiate(kx, t, c, o->peer_id, now_s())) {
				fprintf(stderr, "tunnel_node: key exchange failed\n");
				exit(1);
			}
			close(c);
		}
		for (long i = 0; i < o->count; i++) {
			uint32_t dst, vni;
			size_t fl = frame(f, o->my_ip, o->peer_ip, e * o->count + i);
			struct sockaddr_in d;
			long n = tunnel_encap(t, o->vni, f, fl, pkt, sizeof(pkt), &dst, now_s()), r;

			if (n < 0) {
				fprintf(stderr, "tunnel_node: encap: %s\n", strerror((int)-n));
				exit(1);
			}
			d = sin_of(dst, TUNNEL_UDP_PORT);
			if (sendto(ufd, pkt, (size_t)n, 0, (struct sockaddr *)&d, sizeof(d)) != n)
				die("sendto");
			last = n;
			n = recv(ufd, pkt, sizeof(pkt), 0);
			if (n < 0)
				die("recv");
			r = tunnel_decap(t, o->peer, pkt, (size_t)n, in, sizeof(in), &vni, now_s());
			if (r == (long)fl && !memcmp(in + 34, f + 34, fl - 34) && vni == o->vni)
				echoes++;
		}
	}
	/* Frames whose inner source is an address no host owns in this VPC
	 * (10.0.0.99): sealed fine, refused by the peer's receive check. */
	for (long i = 0; i < o->spoof; i++) {
		uint32_t dst, bogus = htonl(0x0a000063);
		size_t fl = frame(f, bogus, o->peer_ip, 1000 + i);
		long n = tunnel_encap(t, o->vni, f, fl, pkt, sizeof(pkt), &dst, now_s());
		struct sockaddr_in d = sin_of(dst, TUNNEL_UDP_PORT);

		if (n < 0 || sendto(ufd, pkt, (size_t)n, 0, (struct sockaddr *)&d, sizeof(d)) != n)
			die("spoof");
	}
	if (o->save) {
		/* One more frame sealed under the current key but held back, for
		 * the test to send itself: genuine, altered, replayed. */
		uint32_t dst;
		size_t fl = frame(f, o->my_ip, o->peer_ip, o->epochs * o->count);
		long n = tunnel_encap(t, o->vni, f, fl, pkt, sizeof(pkt), &dst, now_s());
		FILE *fp = fopen(o->save, "wb");

		if (n < 0 || !fp || fwrite(pkt, 1, (size_t)n, fp) != (size_t)n || fclose(fp))
			die("hold");
	}
	printf("echoes=%ld\nlast_len=%ld\nepoch=%u\n", echoes, last, tunnel_peer_epoch(t, o->peer_id));
	close(ufd);
}

static uint32_t addr_arg(const char *s)
{
	uint32_t a;

	if (inet_pton(AF_INET, s, &a) != 1) {
		fprintf(stderr, "tunnel_node: bad IPv4 address %s\n", s);
		exit(2);
	}
	return a;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "role", 1, 0, 'r' }, { "id", 1, 0, 'i' }, { "cert", 1, 0, 'c' }, { "key", 1, 0, 'k' },
		{ "ca", 1, 0, 'a' }, { "local", 1, 0, 'l' }, { "peer-id", 1, 0, 'P' },
		{ "peer", 1, 0, 'p' }, { "my-ip", 1, 0, 'm' }, { "peer-ip", 1, 0, 'M' },
		{ "vni", 1, 0, 'v' }, { "count", 1, 0, 'n' }, { "epochs", 1, 0, 'e' },
		{ "expect", 1, 0, 'x' }, { "hold", 1, 0, 's' }, { "debug-plaintext", 0, 0, 'D' }, { "spoof", 1, 0, 'S' },
		{ 0, 0, 0, 0 }
	};
	struct opts o = { .count = 1, .epochs = 1, .expect = 1 };
	struct tunnel_cfg cfg = { 0 };
	struct tunnel *t;
	struct keyx *kx = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'r': o.role = optarg; break;
		case 'i': o.id = optarg; break;
		case 'c': o.cert = optarg; break;
		case 'k': o.key = optarg; break;
		case 'a': o.ca = optarg; break;
		case 'l': o.local = addr_arg(optarg); break;
		case 'P': o.peer_id = optarg; break;
		case 'p': o.peer = addr_arg(optarg); break;
		case 'm': o.my_ip = addr_arg(optarg); break;
		case 'M': o.peer_ip = addr_arg(optarg); break;
		case 'v': o.vni = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'n': o.count = strtol(optarg, NULL, 10); break;
		case 'e': o.epochs = strtol(optarg, NULL, 10); break;
		case 'x': o.expect = strtol(optarg, NULL, 10); break;
		case 's': o.save = optarg; break;
		case 'D': o.plaintext = true; break;
		case 'S': o.spoof = strtol(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (!o.role || !o.id || !o.peer_id || !o.local || !o.peer || (!o.plaintext && (!o.cert || !o.key || !o.ca))) {
		fprintf(stderr, "usage: tunnel_node --role initiator|responder --id ID --peer-id ID --local A --peer A ...\n");
		return 2;
	}
	log_init("tunnel-node", LOG_INFO);
	signal(SIGPIPE, SIG_IGN);
	cfg.local_id = o.id;
	cfg.debug_plaintext = o.plaintext;
	if (tunnel_create(&cfg, &t) || tunnel_peer_add(t, o.peer_id, o.peer) ||
	    tunnel_map_set(t, o.vni, o.my_ip, o.id) || tunnel_map_set(t, o.vni, o.peer_ip, o.peer_id)) {
		fprintf(stderr, "tunnel_node: tunnel setup failed\n");
		return 1;
	}
	if (!o.plaintext && keyx_create(o.cert, o.key, o.ca, &kx)) {
		fprintf(stderr, "tunnel_node: cannot load host certificate\n");
		return 1;
	}
	if (!strcmp(o.role, "responder"))
		responder(&o, t, kx);
	else
		initiator(&o, t, kx);
	print_stats(t);
	keyx_destroy(kx);
	tunnel_destroy(t);
	return 0;
}
