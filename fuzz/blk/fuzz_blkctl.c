/* fuzz_blkctl: the blkctl parser (blkctl_parse, the only reader of control
 * messages) on arbitrary packets with an arbitrary set of passed fds. The
 * first input byte picks up to three fds among a socket, a regular file
 * (memfd) and a pipe; the rest is the packet. */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "blkctl.h"

static struct blkctl_rx rx;
static int kinds[3]; /* socket, memfd, pipe read end */

static int init(void)
{
	int sp[2], pp[2];

	if (blkctl_rx_init(&rx) || socketpair(AF_UNIX, SOCK_STREAM, 0, sp) || pipe(pp))
		return -1;
	kinds[0] = sp[0];
	kinds[1] = memfd_create("fuzz-store", MFD_CLOEXEC);
	kinds[2] = pp[0];
	return kinds[1] < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct blkctl_msg m;
	char err[256];
	size_t nfds;

	if (!ready) {
		if (init())
			return 0;
		ready = 1;
	}
	if (size < 1 || size - 1 > BLKCTL_MAX_PACKET)
		return 0;
	blkctl_rx_clear(&rx);
	nfds = data[0] & 3;
	for (size_t i = 0; i < nfds; i++)
		rx.fds[rx.nfds++] = dup(kinds[(data[0] >> (2 + 2 * i)) % 3]);
	memcpy(rx.buf, data + 1, size - 1);
	rx.len = size - 1;
	if (blkctl_parse(&rx, &m, err, sizeof(err)) == 0) {
		if (m.fd >= 0)
			close(m.fd);
		if (m.backing_fd >= 0)
			close(m.backing_fd);
	} else if (!memchr(err, 0, sizeof(err))) {
		__builtin_trap(); /* a rejection always carries a reason */
	}
	blkctl_rx_clear(&rx);
	return 0;
}
