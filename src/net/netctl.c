/* netctl: ward-net's side of its control channel (see netctl.h). Requests
 * are a header and a NUL-padded 64-byte ENI id; ATTACH carries exactly one
 * fd, a stream socket, and every other request none. Replies carry a
 * status, a message and, for STATS, the ENI's counters in DP_COUNTERS
 * order (docs/net.md lists it). PEER and MAP feed the underlay: fixed
 * payloads, every field checked here. */
#include "netctl.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fdpass.h"

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static int refuse(int *fds, size_t nfds, char *err, size_t errlen, const char *why)
{
	close_fds(fds, nfds);
	snprintf(err, errlen, "%s", why);
	return -EPROTO;
}

/* A NUL-padded id field: 1..63 bytes, then only NULs. host: the
 * underlay's host-id alphabet ([A-Za-z0-9_-]), since it reaches logs. */
static const char *id_check(const char *f, bool host)
{
	size_t n = strnlen(f, NETCTL_ID_LEN);

	if (!n || n == NETCTL_ID_LEN)
		return "id empty or not NUL-terminated";
	for (size_t i = n; i < NETCTL_ID_LEN; i++)
		if (f[i])
			return "id not NUL-padded";
	for (size_t i = 0; host && i < n; i++)
		if (!isalnum((unsigned char)f[i]) && f[i] != '_' && f[i] != '-')
			return "host id outside [A-Za-z0-9_-]";
	return NULL;
}

static int parse_underlay(const struct netctl_hdr *h, const uint8_t *p, struct netctl_msg *m,
			  char *err, size_t errlen)
{
	const char *why;

	if (h->type == NETCTL_PEER) {
		struct netctl_peer pe;
		uint32_t a;

		if (h->len != sizeof(pe))
			return refuse(NULL, 0, err, errlen, "PEER payload must be 68 bytes");
		memcpy(&pe, p, sizeof(pe));
		if ((why = id_check(pe.host, true)))
			return refuse(NULL, 0, err, errlen, why);
		a = ntohl(pe.addr);
		/* A unicast host address: the key exchange connects to it and
		 * the receive check compares outer sources with it. */
		if (!a || a >= 0xe0000000u || (a >> 24) == 0 || (a >> 24) == 127)
			return refuse(NULL, 0, err, errlen, "PEER address is not a unicast host address");
		memcpy(m->id, pe.host, strlen(pe.host) + 1);
		m->addr = pe.addr;
	} else {
		struct netctl_map mp;

		if (h->len != sizeof(mp))
			return refuse(NULL, 0, err, errlen, "MAP payload must be 136 bytes");
		memcpy(&mp, p, sizeof(mp));
		if ((why = id_check(mp.host, true)) || (why = id_check(mp.vpc, false)))
			return refuse(NULL, 0, err, errlen, why);
		if (!mp.vni || mp.vni > 0xffffffu)
			return refuse(NULL, 0, err, errlen, "MAP VNI must be 1..0xFFFFFF");
		if (!mp.ip || ntohl(mp.ip) >= 0xe0000000u)
			return refuse(NULL, 0, err, errlen, "MAP address is not a unicast address");
		memcpy(m->id, mp.host, strlen(mp.host) + 1);
		memcpy(m->vpc, mp.vpc, strlen(mp.vpc) + 1);
		m->vni = mp.vni;
		m->addr = mp.ip;
	}
	m->type = h->type;
	return 0;
}

int netctl_parse(const uint8_t *buf, size_t len, int *fds, size_t nfds, struct netctl_msg *m,
		 char *err, size_t errlen)
{
	struct netctl_hdr h;
	const char *id, *why;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (len < sizeof(h))
		return refuse(fds, nfds, err, errlen, "shorter than a header");
	memcpy(&h, buf, sizeof(h));
	m->seq = h.seq;
	if (h.magic != NETCTL_MAGIC || h.version != NETCTL_VERSION)
		return refuse(fds, nfds, err, errlen, "bad magic or version");
	if (h.len != len - sizeof(h))
		return refuse(fds, nfds, err, errlen, "payload length disagrees with the packet");
	if (h.type < NETCTL_ATTACH || h.type > NETCTL_MAP)
		return refuse(fds, nfds, err, errlen,
			      "ward-net accepts ATTACH, DETACH, STATS, QUERY, PEER and MAP");
	if (nfds != (h.type == NETCTL_ATTACH ? 1u : 0u))
		return refuse(fds, nfds, err, errlen, "ATTACH takes exactly one fd, the rest none");
	if (h.type == NETCTL_PEER || h.type == NETCTL_MAP)
		return parse_underlay(&h, buf + sizeof(h), m, err, errlen);
	if (h.len != NETCTL_ID_LEN)
		return refuse(fds, nfds, err, errlen, "payload must be the 64-byte ENI id");
	id = (const char *)buf + sizeof(h);
	if ((why = id_check(id, false)))
		return refuse(fds, nfds, err, errlen, why);
	if (h.type == NETCTL_ATTACH) {
		int type = 0;
		socklen_t tl = sizeof(type);

		if (getsockopt(fds[0], SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM)
			return refuse(fds, nfds, err, errlen, "ATTACH's fd is not a stream socket");
		m->fd = fds[0];
	}
	memcpy(m->id, id, strlen(id) + 1);
	m->type = h.type;
	return 0;
}

int netctl_recv(int sock, struct netctl_msg *m, char *err, size_t errlen)
{
	uint8_t buf[NETCTL_MAX_PACKET];
	int fds[FDPASS_MAX];
	size_t nfds = 0;
	ssize_t n = fdpass_recv(sock, buf, sizeof(buf), 0, fds, 1, &nfds);

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (n == -EMSGSIZE) {
		snprintf(err, errlen, "packet or fds over the limit");
		return -EPROTO;
	}
	if (n < 0)
		return (int)n;
	if (n == 0 && !nfds)
		return 0;
	return netctl_parse(buf, (size_t)n, fds, nfds, m, err, errlen) ? -EPROTO : 1;
}

int netctl_reply(int sock, uint32_t seq, int32_t status, const char *msg,
		 const uint64_t *counters, uint32_t n)
{
	struct {
		struct netctl_hdr h;
		int32_t status;
		char msg[NETCTL_MSG_LEN];
		uint32_t n;
	} __attribute__((packed)) r;
	struct iovec iov[2];

	if (n > NETCTL_MAX_COUNTERS)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.h.magic = NETCTL_MAGIC;
	r.h.version = NETCTL_VERSION;
	r.h.type = NETCTL_REPLY;
	r.h.seq = seq;
	r.h.len = (uint32_t)(sizeof(r) - sizeof(r.h) + n * sizeof(uint64_t));
	r.status = status;
	snprintf(r.msg, sizeof(r.msg), "%s", msg);
	r.n = n;
	iov[0] = (struct iovec){ &r, sizeof(r) };
	iov[1] = (struct iovec){ (void *)counters, n * sizeof(uint64_t) };
	return fdpass_send(sock, iov, n ? 2 : 1, NULL, 0);
}
