/* Frama-C EVA harness for blkctl_parse() (src/lib/blkctl.c), the ward-blk
 * control-channel parser: a packet of any length up to the receive buffer
 * (BLKCTL_MAX_PACKET, what blkctl_recv() can return) with unknown bytes,
 * up to four unknown fds (the size of rx.fds, fdpass_recv()'s bound). */
#include "shims.h"

/* glibc's <endian.h> conversions, which Frama-C's libc lacks: identities
 * on the little-endian x86_64 the analysis is made for. Linux's value of
 * SOCK_CLOEXEC (used by the NBD connect code, not by the parser). */
#define le16toh(x) ((uint16_t)(x))
#define le32toh(x) ((uint32_t)(x))
#define le64toh(x) ((uint64_t)(x))
#define htole16(x) ((uint16_t)(x))
#define htole32(x) ((uint32_t)(x))
#define htole64(x) ((uint64_t)(x))
#define SOCK_CLOEXEC 02000000

#include "blkctl.c"

/* fstat() (Frama-C's libc spec leaves *buf's initialisation open): fails,
 * or fills the whole struct stat with values the analysis cannot know. */
int fstat(int fildes, struct stat *buf)
{
	(void)fildes;
	if (Frama_C_nondet(0, 1))
		return -1;
	Frama_C_make_unknown((char *)buf, sizeof(*buf));
	return 0;
}

static uint8_t buf[BLKCTL_MAX_PACKET];

int main(void)
{
	struct blkctl_rx rx;
	struct blkctl_msg msg;
	char err[160];

	Frama_C_make_unknown((char *)buf, sizeof(buf));
	rx.buf = buf;
	rx.len = Frama_C_size_t_interval(0, BLKCTL_MAX_PACKET);
	Frama_C_make_unknown((char *)rx.fds, sizeof(rx.fds));
	rx.nfds = Frama_C_size_t_interval(0, 4);
	(void)blkctl_parse(&rx, &msg, err, sizeof(err));
	return 0;
}
