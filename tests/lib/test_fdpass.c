/* test_fdpass: the one receive path for fds from a peer (fdpass_recv, used
 * by the vhost-user and ward-blk control channels): fds arrive
 * close-on-exec; too many fds, a truncated control message or a truncated
 * packet are refused with -EMSGSIZE and leave no fd open; the socket keeps
 * working after a refusal. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "fdpass.h"

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Send buf with n fresh pipe ends attached (closed here once sent). */
static void send_with_fds(int sock, const void *buf, size_t len, size_t n)
{
	int fds[16], p[2];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	union {
		char b[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	assert_true(n <= 16);
	for (size_t i = 0; i < n; i += 2) {
		assert_int_equal(pipe(p), 0);
		fds[i] = p[0];
		if (i + 1 < n)
			fds[i + 1] = p[1];
		else
			close(p[1]);
	}
	/* Raw sendmsg: fdpass_send refuses more than FDPASS_MAX, a peer need not. */
	memset(&ctl, 0, sizeof(ctl));
	if (n) {
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	}
	assert_int_equal(sendmsg(sock, &mh, 0), (ssize_t)len);
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

static void pair(int type, int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0);
}

static void test_fds_arrive_cloexec(void **state)
{
	int sv[2], fds[FDPASS_MAX];
	size_t nfds;
	char buf[16];
	ssize_t n;

	(void)state;
	pair(SOCK_SEQPACKET, sv);
	send_with_fds(sv[0], "abc", 3, 2);
	n = fdpass_recv(sv[1], buf, sizeof(buf), 0, fds, 4, &nfds);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(nfds, 2);
	for (size_t i = 0; i < nfds; i++) {
		assert_true(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
		close(fds[i]);
	}
	close(sv[0]);
	close(sv[1]);
}

/* Too many fds, in every way a peer can send them: one more than the
 * caller's room (fits the control buffer: closed one by one), and many
 * more (the kernel truncates the control message). Then the socket still
 * delivers the next message. */
static void test_too_many_fds(void **state)
{
	static const size_t sent[] = { 5, 9, 16 };
	static const size_t room[] = { 4, 8, 8 };
	int sv[2], fds[FDPASS_MAX];
	size_t nfds;
	char buf[16];

	(void)state;
	pair(SOCK_SEQPACKET, sv);
	for (size_t t = 0; t < sizeof(sent) / sizeof(sent[0]); t++) {
		int before = open_fds();

		send_with_fds(sv[0], "x", 1, sent[t]);
		assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), 0, fds, room[t], &nfds),
				 -EMSGSIZE);
		assert_int_equal(nfds, 0);
		assert_int_equal(open_fds(), before);
	}
	send_with_fds(sv[0], "ok", 2, 1);
	assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), 0, fds, 1, &nfds), 2);
	assert_int_equal(nfds, 1);
	close(fds[0]);
	close(sv[0]);
	close(sv[1]);
}

static void test_truncated_packet(void **state)
{
	int sv[2], fds[FDPASS_MAX];
	size_t nfds;
	char big[64] = { 0 }, buf[8];
	int before;

	(void)state;
	pair(SOCK_SEQPACKET, sv);
	before = open_fds();
	send_with_fds(sv[0], big, sizeof(big), 1);
	assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), 0, fds, 2, &nfds), -EMSGSIZE);
	assert_int_equal(nfds, 0);
	assert_int_equal(open_fds(), before);
	close(sv[0]);
	close(sv[1]);
}

static void test_stream_eof_and_limits(void **state)
{
	int sv[2], fds[FDPASS_MAX + 1];
	size_t nfds;
	char buf[8];

	(void)state;
	pair(SOCK_STREAM, sv);
	assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), 0, fds, FDPASS_MAX + 1, &nfds), -EINVAL);
	assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT, fds, 1, &nfds), -EAGAIN);
	close(sv[0]);
	assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), 0, fds, 1, &nfds), 0);
	assert_int_equal(nfds, 0);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fds_arrive_cloexec),
		cmocka_unit_test(test_too_many_fds),
		cmocka_unit_test(test_truncated_packet),
		cmocka_unit_test(test_stream_eof_and_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
