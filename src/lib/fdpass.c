/* fdpass: sendmsg/recvmsg with SCM_RIGHTS, shared by vhost_user.c and
 * blkctl.c, so that fds from a peer are taken in exactly one way. */
#include "fdpass.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

int fdpass_send(int sock, const struct iovec *iov, int iovcnt, const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(FDPASS_MAX * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
	size_t total = 0;
	ssize_t n;

	if (nfds > FDPASS_MAX)
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == total ? 0 : -EIO;
}

static void close_all(int *fds, size_t *nfds)
{
	for (size_t i = 0; i < *nfds; i++)
		close(fds[i]);
	*nfds = 0;
}

ssize_t fdpass_recv(int sock, void *buf, size_t len, int flags,
		    int *fds, size_t maxfds, size_t *nfds)
{
	/* One int more than FDPASS_MAX fits, so that a peer sending too many
	 * is seen as such (and refused) rather than as a truncated control. */
	union {
		char buf[CMSG_SPACE((FDPASS_MAX + 1) * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = CMSG_SPACE((maxfds + 1) * sizeof(int)),
	};
	bool excess = false;
	ssize_t n;

	*nfds = 0;
	if (maxfds > FDPASS_MAX)
		return -EINVAL;
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* Every fd that arrived is now ours: keep what the caller has room
	 * for and close the rest, so that no error path leaks one. */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t cnt;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < cnt; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < maxfds) {
				fds[(*nfds)++] = fd;
			} else {
				close(fd);
				excess = true;
			}
		}
	}
	if (excess || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		close_all(fds, nfds);
		return -EMSGSIZE;
	}
	return n;
}

void fdpass_close_others(const int *keep, size_t n)
{
	unsigned int lo = 3;
	struct rlimit rl;

	/* Ascending, one pass per kept fd: n is a handful. */
	for (;;) {
		unsigned int next = ~0u;

		for (size_t i = 0; i < n; i++)
			if (keep[i] >= (int)lo && (unsigned int)keep[i] < next)
				next = (unsigned int)keep[i];
		if (next > lo && close_range(lo, next - 1, 0) < 0) {
			unsigned int top = getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
					   rl.rlim_cur < (1u << 20) ? (unsigned int)rl.rlim_cur : 1u << 20;

			for (unsigned int fd = lo; fd < next && fd < top; fd++)
				(void)close((int)fd);
		}
		if (next == ~0u)
			return;
		lo = next + 1;
	}
}
