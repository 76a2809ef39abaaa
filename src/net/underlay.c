/* underlay: joins ward-net's data path (dp.c) to the encrypted underlay
 * (src/net/tunnel): sockets passed in, keys from keyxd's thread, the
 * controller's peers and mapping table, seal on the way out, open and hand
 * back to the data path on the way in (see underlay.h, docs/net.md). */
#include "underlay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dialer.h"
#include "keyx.h"
#include "keyxd.h"
#include "log.h"
#include "tunnel.h"

#define KEYX_TIMEOUT_MS 5000
#define RX_BUDGET 64            /* datagrams per call: the guests' rings get their turn */

struct underlay_counters {
#define U_FIELD(n) uint64_t n;
	UNDERLAY_COUNTERS(U_FIELD)
#undef U_FIELD
};

struct underlay {
	const struct vpc_cfg *cfg;
	struct tunnel *t;
	struct keyx *kx;
	struct keyxd *kd;
	struct dialer dl;
	int udp_fd, keyx_fd;
	uint16_t keyx_port;
	uint32_t vni[VPC_MAX_VPCS];     /* VPC index -> VNI; 0: not on the underlay */
	struct underlay_counters c;
	uint8_t pkt[TUNNEL_MAX_FRAME + TUNNEL_OVERHEAD];
	uint8_t frame[TUNNEL_MAX_FRAME];
};

static uint64_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static int sock_check(int fd, int want_type, bool listening)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a), tl = sizeof(int);
	int type = 0, acc = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != want_type)
		return -EBADF;
	if (getsockname(fd, (struct sockaddr *)&a, &al) < 0 || al != sizeof(a) ||
	    a.sin_family != AF_INET)
		return -EAFNOSUPPORT;
	tl = sizeof(acc);
	if (listening && (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &tl) < 0 || !acc))
		return -EINVAL;
	return 0;
}

int underlay_open(const struct underlay_cfg *c, const struct vpc_cfg *cfg,
		  const struct sandbox_cfg *sb, struct underlay **out)
{
	struct tunnel_cfg tc = { .debug_plaintext = c->debug_plaintext };
	struct underlay *u;
	int rc;

	if (sock_check(c->udp_fd, SOCK_DGRAM, false)) {
		fprintf(stderr, "ward-net: --underlay-fd %d is not a bound IPv4 UDP socket\n", c->udp_fd);
		return -EBADF;
	}
	if (sock_check(c->keyx_fd, SOCK_STREAM, true)) {
		fprintf(stderr, "ward-net: --keyx-fd %d is not a listening IPv4 TCP socket\n", c->keyx_fd);
		return -EBADF;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->cfg = cfg;
	u->udp_fd = c->udp_fd;
	u->keyx_fd = c->keyx_fd;
	u->keyx_port = c->keyx_port;
	u->dl.sock = -1;
	rc = keyx_create(c->cert, c->key, c->ca, &u->kx);
	if (rc) {
		fprintf(stderr, "ward-net: host certificate, key or CA: %s\n",
			rc == -EINVAL ? "not a host certificate or key" : strerror(-rc));
		goto err_free;
	}
	tc.local_id = keyx_local_id(u->kx);
	rc = tunnel_create(&tc, &u->t);
	if (rc)
		goto err_kx;
	/* Received datagrams are drained until EAGAIN in the card's loop. */
	fcntl(u->udp_fd, F_SETFL, fcntl(u->udp_fd, F_GETFL) | O_NONBLOCK);
	fcntl(u->udp_fd, F_SETFD, FD_CLOEXEC);
	fcntl(u->keyx_fd, F_SETFD, FD_CLOEXEC);
	rc = dialer_fork(&u->dl, u->keyx_port, KEYX_TIMEOUT_MS, sb);
	if (rc)
		goto err_t;
	if (c->debug_plaintext)
		log_warn("underlay in DEBUG PLAINTEXT mode: guest traffic crosses the underlay unencrypted",
			 "host=%s", tc.local_id);
	*out = u;
	return 0;
err_t:
	tunnel_destroy(u->t);
err_kx:
	keyx_destroy(u->kx);
err_free:
	free(u);
	return rc;
}

int underlay_start(struct underlay *u)
{
	struct keyxd_cfg kc = {
		.kx = u->kx, .t = u->t, .listen_fd = u->keyx_fd, .port = u->keyx_port,
		.io_timeout_ms = KEYX_TIMEOUT_MS, .dial = dialer_dial, .dial_arg = &u->dl,
	};

	return keyxd_start(&kc, &u->kd);
}

void underlay_close(struct underlay *u)
{
	if (!u)
		return;
	keyxd_stop(u->kd);
	dialer_close(&u->dl);
	tunnel_destroy(u->t);
	keyx_destroy(u->kx);
	close(u->udp_fd);
	close(u->keyx_fd);
	free(u);
}

int underlay_fd(const struct underlay *u) { return u->udp_fd; }
const char *underlay_local_id(const struct underlay *u) { return tunnel_local_id(u->t); }

int underlay_peer(struct underlay *u, const char *host, uint32_t addr, char *err, size_t errlen)
{
	uint32_t have;
	int rc;

	if (!strcmp(host, tunnel_local_id(u->t))) {
		snprintf(err, errlen, "a peer cannot be this host");
		return -EINVAL;
	}
	if (tunnel_peer_addr(u->t, host, &have) == 0) {
		/* Idempotent: a controller that re-pushes the list after a
		 * restart must not wipe working keys. */
		if (have == addr)
			return 0;
		snprintf(err, errlen, "host already a peer at another address");
		return -EEXIST;
	}
	rc = tunnel_peer_add(u->t, host, addr);
	if (rc) {
		snprintf(err, errlen, "cannot add the peer: %s", strerror(-rc));
		return rc;
	}
	if (u->kd)
		keyxd_poke(u->kd);      /* exchange keys now, not at the next tick */
	return 0;
}

static int vpc_index(const struct vpc_cfg *cfg, const char *id)
{
	for (unsigned int i = 0; i < cfg->n_vpcs; i++)
		if (!strcmp(cfg->vpcs[i].id, id))
			return (int)i;
	return -1;
}

int underlay_map(struct underlay *u, const char *vpc, uint32_t vni, uint32_t ip, const char *host,
		 char *err, size_t errlen)
{
	int v = vpc_index(u->cfg, vpc), rc;

	if (v < 0) {
		snprintf(err, errlen, "no such VPC in the VPC config");
		return -ENOENT;
	}
	if (!vpc_in(ntohl(ip), u->cfg->vpcs[v].net, u->cfg->vpcs[v].prefix)) {
		snprintf(err, errlen, "address outside the VPC's CIDR");
		return -EINVAL;
	}
	/* One VNI per VPC and one VPC per VNI: the VNI is what keeps VPCs
	 * apart on the wire. */
	if (u->vni[v] && u->vni[v] != vni) {
		snprintf(err, errlen, "the VPC already has another VNI");
		return -EEXIST;
	}
	for (unsigned int i = 0; !u->vni[v] && i < u->cfg->n_vpcs; i++)
		if (u->vni[i] == vni) {
			snprintf(err, errlen, "the VNI already belongs to another VPC");
			return -EEXIST;
		}
	rc = tunnel_map_set(u->t, vni, ip, host);
	if (rc) {
		snprintf(err, errlen, rc == -ENOENT ? "unknown host: send its PEER first" :
			 "cannot set the mapping");
		return rc;
	}
	u->vni[v] = vni;
	return 0;
}

int underlay_unmap(struct underlay *u, const char *vpc, uint32_t vni, uint32_t ip, const char *host,
		   char *err, size_t errlen)
{
	char owner[TUNNEL_HOST_ID_MAX + 1];
	int v = vpc_index(u->cfg, vpc);

	if (v < 0 || u->vni[v] != vni) {
		snprintf(err, errlen, "no such VPC, or it has another VNI");
		return -ENOENT;
	}
	/* Only the owner the controller names: an UNMAP that crossed a newer
	 * MAP (the ENI moved to another host) must not undo it. */
	if (tunnel_map_lookup(u->t, vni, ip, owner) || strcmp(owner, host)) {
		snprintf(err, errlen, "that address is not mapped to that host");
		return -ENOENT;
	}
	return tunnel_map_del(u->t, vni, ip);
}

int underlay_peer_del(struct underlay *u, const char *host, char *err, size_t errlen)
{
	/* The tunnel wipes the peer's keys and drops every mapping to it: its
	 * addresses become unknown (dropped, counted), never sent in clear. */
	if (tunnel_peer_remove(u->t, host)) {
		snprintf(err, errlen, "no such peer");
		return -ENOENT;
	}
	return 0;
}

enum dp_where underlay_where(void *opaque, unsigned int vpc, uint32_t ip)
{
	struct underlay *u = opaque;
	char owner[TUNNEL_HOST_ID_MAX + 1];

	/* A VPC the controller put no mapping for is served by this host alone. */
	if (!u->vni[vpc])
		return DP_LOCAL;
	if (tunnel_map_lookup(u->t, u->vni[vpc], htonl(ip), owner))
		return DP_UNKNOWN;
	return strcmp(owner, tunnel_local_id(u->t)) ? DP_REMOTE : DP_LOCAL;
}

int underlay_send(void *opaque, unsigned int vpc, const uint8_t *frame, size_t len)
{
	struct underlay *u = opaque;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(TUNNEL_UDP_PORT) };
	long n = tunnel_encap(u->t, u->vni[vpc], frame, len, u->pkt, sizeof(u->pkt),
			      &to.sin_addr.s_addr, mono_s());

	if (n < 0)
		return (int)n;          /* counted by the tunnel, by reason */
	if (sendto(u->udp_fd, u->pkt, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to)) != n) {
		u->c.tx_send_fail++;
		return -EIO;
	}
	u->c.tx_sent++;
	return 0;
}

unsigned int underlay_rx(struct underlay *u, struct dp *dp)
{
	unsigned int got = 0;

	while (got < RX_BUDGET) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(u->udp_fd, u->pkt, sizeof(u->pkt), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&from, &fl);
		uint32_t vni = 0;
		long len;
		int v = -1, rc;

		if (n < 0)
			break;          /* EAGAIN: drained */
		got++;
		u->c.rx_datagrams++;
		if (fl != sizeof(from) || from.sin_family != AF_INET || (size_t)n > sizeof(u->pkt))
			continue;       /* the tunnel counts only what it parses */
		len = tunnel_decap(u->t, from.sin_addr.s_addr, u->pkt, (size_t)n, u->frame,
				   sizeof(u->frame), &vni, mono_s());
		if (len < 0)
			continue;       /* counted by the tunnel, by reason */
		for (unsigned int i = 0; i < u->cfg->n_vpcs && v < 0; i++)
			if (u->vni[i] == vni)
				v = (int)i;
		if (v < 0) {
			u->c.rx_no_vpc++;
			continue;
		}
		rc = dp_input_remote(dp, (unsigned int)v, u->frame, (size_t)len);
		if (rc == -ENOENT)
			u->c.rx_not_local++;
		else if (rc == -EACCES)
			u->c.rx_filtered++;
		else if (rc)
			u->c.rx_bad_frame++;
	}
	return got;
}

void underlay_log_counters(struct underlay *u)
{
	struct tunnel_stats ts;
	struct keyxd_stats ks = { 0 };
	char line[1024];
	size_t o = 0;

	tunnel_stats_read(u->t, &ts);
	if (u->kd)
		keyxd_stats_read(u->kd, &ks);
#define U_PRINT(s, n) o += (size_t)snprintf(line + o, o < sizeof(line) ? sizeof(line) - o : 0, \
					   " " #n "=%llu", (unsigned long long)(s).n);
#define U_OWN(n) U_PRINT(u->c, n)
	UNDERLAY_COUNTERS(U_OWN)
#define T_LIST(X) X(tx_ok) X(tx_unknown_dst) X(tx_no_key) X(tx_bad_frame) X(tx_local) X(rx_ok) \
	X(rx_malformed) X(rx_plaintext) X(rx_unknown_peer) X(rx_unknown_key) X(rx_auth_fail) \
	X(rx_replay) X(rx_spoofed) X(rx_bad_frame)
#define T_ONE(n) o += (size_t)snprintf(line + o, o < sizeof(line) ? sizeof(line) - o : 0, \
				      " tunnel_" #n "=%llu", (unsigned long long)ts.n);
	T_LIST(T_ONE)
	U_PRINT(ks, init_ok) U_PRINT(ks, init_fail) U_PRINT(ks, resp_ok) U_PRINT(ks, resp_fail)
#undef T_ONE
#undef T_LIST
#undef U_OWN
#undef U_PRINT
	log_info("underlay counters", "host=%s%s", tunnel_local_id(u->t), line);
}
