/* dialer: connects to peers' key exchange for a sandboxed ward-net (see
 * dialer.h). Requests are one 4-byte IPv4 address (network order); the
 * reply is an int32 status (0 or -errno) with the socket attached on 0. */
#include "dialer.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "fdpass.h"
#include "log.h"

static int child_lock(const struct sandbox_cfg *sb)
{
	scmp_filter_ctx ctx;
	char err[160];
	int rc;

	if (!sb->enabled)
		return 0;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	rc = sandbox_drop_privileges(sb, 8, err, sizeof(err));
	if (rc)
		return rc;
	ctx = sandbox_filter_new(false);
	rc = ctx ? sandbox_allow_runtime(ctx) : 0;
	if (!rc)
		rc = sandbox_allow_if(ctx, SCMP_SYS(socket), 0, SCMP_CMP_EQ, AF_INET, 0);
	if (!rc)
		rc = sandbox_allow(ctx, SCMP_SYS(connect));
	if (!rc)
		rc = sandbox_allow(ctx, SCMP_SYS(setsockopt));
	if (!rc)
		rc = sandbox_allow(ctx, SCMP_SYS(recvmsg));
	if (!rc)
		rc = sandbox_allow(ctx, SCMP_SYS(sendmsg));
	return sandbox_filter_load(ctx, rc, sb);
}

static int child_connect(uint32_t addr, uint16_t port, int timeout_ms)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	int c, rc;

	to.sin_addr.s_addr = addr;
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		return -errno;
	/* connect() gives up at SO_SNDTIMEO; keyx sets its own deadline after. */
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c, (struct sockaddr *)&to, sizeof(to))) {
		rc = -errno;
		close(c);
		return rc;
	}
	return c;
}

static void child_run(int sock, uint16_t port, int timeout_ms, const struct sandbox_cfg *sb)
{
	fdpass_close_others(&sock, 1);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() == 1)
		_exit(1);
	if (child_lock(sb)) {
		log_error("underlay dialer: cannot lock down", "");
		_exit(1);
	}
	for (;;) {
		int fds[FDPASS_MAX];
		size_t nfds = 0;
		uint32_t addr;
		int32_t st;
		ssize_t n = fdpass_recv(sock, &addr, sizeof(addr), 0, fds, 0, &nfds);
		struct iovec iov = { &st, sizeof(st) };
		int c;

		if (n <= 0)
			_exit(0);       /* the card is gone */
		c = n == sizeof(addr) ? child_connect(addr, port, timeout_ms) : -EINVAL;
		st = c < 0 ? c : 0;
		if (fdpass_send(sock, &iov, 1, c < 0 ? NULL : &c, c < 0 ? 0 : 1) < 0)
			_exit(0);
		if (c >= 0)
			close(c);
	}
}

int dialer_fork(struct dialer *d, uint16_t port, int timeout_ms, const struct sandbox_cfg *sb)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (pid == 0)
		child_run(sv[1], port, timeout_ms, sb);
	close(sv[1]);
	d->pid = pid;
	d->sock = sv[0];
	d->port = port;
	return 0;
}

int dialer_dial(void *arg, uint32_t addr, uint16_t port)
{
	struct dialer *d = arg;
	struct iovec iov = { &addr, sizeof(addr) };
	int fds[FDPASS_MAX];
	size_t nfds = 0;
	int32_t st;
	ssize_t n;
	int rc;

	if (port != d->port)
		return -EINVAL;
	rc = fdpass_send(d->sock, &iov, 1, NULL, 0);
	if (rc)
		return rc;
	n = fdpass_recv(d->sock, &st, sizeof(st), 0, fds, 1, &nfds);
	if (n < 0)
		return (int)n;
	if (n != sizeof(st) || (st == 0) != (nfds == 1) || st > 0) {
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		return -EPROTO;
	}
	return st ? st : fds[0];
}

void dialer_close(struct dialer *d)
{
	if (d->sock < 0)
		return;
	/* The child exits on EOF; the sandboxed card may not wait(), so its
	 * zombie is reaped by whoever reaps the card. */
	close(d->sock);
	d->sock = -1;
}
