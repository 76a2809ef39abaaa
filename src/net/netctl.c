/* netctl: ward-net's side of its control channel (see netctl.h). Requests
 * are a header and a NUL-padded 64-byte ENI id; ATTACH carries exactly one
 * fd, a stream socket, and every other request none. Replies carry a
 * status, a message and, for STATS, the ENI's counters in DP_COUNTERS
 * order (docs/net.md lists it). */
#include "netctl.h"

#include <errno.h>
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

int netctl_parse(const uint8_t *buf, size_t len, int *fds, size_t nfds, struct netctl_msg *m,
		 char *err, size_t errlen)
{
	struct netctl_hdr h;
	const char *id;
	size_t idlen;

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
	if (h.type < NETCTL_ATTACH || h.type > NETCTL_QUERY)
		return refuse(fds, nfds, err, errlen, "ward-net accepts ATTACH, DETACH, STATS and QUERY");
	if (h.len != NETCTL_ID_LEN)
		return refuse(fds, nfds, err, errlen, "payload must be the 64-byte ENI id");
	id = (const char *)buf + sizeof(h);
	idlen = strnlen(id, NETCTL_ID_LEN);
	if (!idlen || idlen == NETCTL_ID_LEN)
		return refuse(fds, nfds, err, errlen, "ENI id empty or not NUL-terminated");
	for (size_t i = idlen; i < NETCTL_ID_LEN; i++)
		if (id[i])
			return refuse(fds, nfds, err, errlen, "ENI id not NUL-padded");
	if (nfds != (h.type == NETCTL_ATTACH ? 1u : 0u))
		return refuse(fds, nfds, err, errlen, "ATTACH takes exactly one fd, the rest none");
	if (h.type == NETCTL_ATTACH) {
		int type = 0;
		socklen_t tl = sizeof(type);

		if (getsockopt(fds[0], SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM)
			return refuse(fds, nfds, err, errlen, "ATTACH's fd is not a stream socket");
		m->fd = fds[0];
	}
	memcpy(m->id, id, idlen + 1);
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
