/* test_blkctl: the control-channel parser accepts exactly what the client
 * sends (round trip over a SOCK_SEQPACKET pair, key and fd included) and
 * rejects truncated, oversized, mistyped and fd-less messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "blkctl.h"

static int pair[2];
static struct blkctl_rx rx;

static int setup(void **state)
{
	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair), 0);
	assert_int_equal(blkctl_rx_init(&rx), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	blkctl_rx_destroy(&rx);
	close(pair[0]);
	close(pair[1]);
	return 0;
}

/* Send raw bytes (+ optional fd) and parse them on the other side. */
static int raw(const void *buf, size_t len, int fd, struct blkctl_msg *m)
{
	char err[256];
	struct iovec iov = { (void *)buf, len };
	union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr a; } ctl;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	assert_true(sendmsg(pair[0], &mh, 0) == (ssize_t)len);
	assert_int_equal(blkctl_recv(pair[1], &rx), 1);
	return blkctl_parse(&rx, m, err, sizeof(err));
}

static size_t attach_pkt(uint8_t *p, const char *id, uint64_t size, uint32_t flags,
			 uint16_t nq, const char *backing)
{
	struct blkctl_hdr h = { BLKCTL_MAGIC, BLKCTL_VERSION, BLKCTL_ATTACH, 7, 0 };
	uint16_t bl = (uint16_t)strlen(backing);
	uint8_t *q = p + sizeof(h);

	memset(q, 0, 144);
	strcpy((char *)q, id);
	memcpy(q + 64, &size, 8);
	memcpy(q + 72, &flags, 4);
	memcpy(q + 76, &nq, 2);
	memcpy(q + 78, &bl, 2);
	memset(q + 80, 0x11, 32);
	memset(q + 112, 0x22, 32);
	memcpy(q + 144, backing, bl);
	h.len = 144u + bl;
	memcpy(p, &h, sizeof(h));
	return sizeof(h) + h.len;
}

static void test_attach_ok(void **state)
{
	uint8_t p[2048];
	struct blkctl_msg m;
	size_t n = attach_pkt(p, "vol-1", 1 << 20, BLKCTL_F_READONLY, 2, "/tmp/x");

	(void)state;
	assert_int_equal(raw(p, n, 0, &m), 0);
	assert_int_equal(m.type, BLKCTL_ATTACH);
	assert_int_equal(m.seq, 7);
	assert_string_equal(m.u.attach.id, "vol-1");
	assert_string_equal(m.u.attach.backing, "/tmp/x");
	assert_int_equal(m.u.attach.num_queues, 2);
	assert_int_equal(m.u.attach.key[0], 0x11);
	assert_int_equal(m.u.attach.key[63], 0x22);
	assert_true(m.fd >= 0);
	close(m.fd);
	blkctl_rx_clear(&rx);
	for (int i = 0; i < 64; i++)
		assert_int_equal(rx.buf[16 + 80 + i], 0); /* key wiped */
}

static void test_attach_rejects(void **state)
{
	uint8_t p[2048];
	struct blkctl_msg m;
	size_t n;

	(void)state;
	n = attach_pkt(p, "vol-1", 1 << 20, 0, 1, "/tmp/x");
	assert_int_not_equal(raw(p, n, -1, &m), 0);          /* no fd */
	assert_int_not_equal(raw(p, n - 1, 0, &m), 0);       /* truncated */
	blkctl_rx_clear(&rx);
	n = attach_pkt(p, "bad id!", 1 << 20, 0, 1, "/tmp/x");
	assert_int_not_equal(raw(p, n, 0, &m), 0);
	blkctl_rx_clear(&rx);
	n = attach_pkt(p, "v", 1000, 0, 1, "/tmp/x");        /* size not 4K multiple */
	assert_int_not_equal(raw(p, n, 0, &m), 0);
	blkctl_rx_clear(&rx);
	n = attach_pkt(p, "v", 4096, 0x80, 1, "/tmp/x");     /* unknown flag */
	assert_int_not_equal(raw(p, n, 0, &m), 0);
	blkctl_rx_clear(&rx);
	n = attach_pkt(p, "v", 4096, 0, 9, "/tmp/x");        /* too many queues */
	assert_int_not_equal(raw(p, n, 0, &m), 0);
	blkctl_rx_clear(&rx);
	n = attach_pkt(p, "v", 4096, 0, 1, "/tmp/x");
	p[16 + 63] = 'x';                                     /* id not terminated */
	memset(p + 16, 'a', 64);
	assert_int_not_equal(raw(p, n, 0, &m), 0);
	blkctl_rx_clear(&rx);
	n = attach_pkt(p, "v", 4096, 0, 1, "/tmp/x");
	p[0] ^= 1;                                            /* magic */
	assert_int_not_equal(raw(p, n, -1, &m), 0);
	assert_int_not_equal(raw(p, 8, -1, &m), 0);           /* shorter than header */
}

static int got_event;

static void on_ev(void *o, const struct blkctl_msg *ev)
{
	(void)o;
	got_event = ev->u.event.event == BLKCTL_EV_BROKEN && !strcmp(ev->u.event.id, "v9");
}

static void test_detach_reply_event(void **state)
{
	struct blkctl_msg m;
	char err[256];
	uint8_t p[64];

	(void)state;
	/* Pretend to be ward-blk: an event, then the reply, before the client reads. */
	assert_int_equal(blkctl_send_event(pair[1], "v9", BLKCTL_EV_BROKEN, "ring"), 0);
	assert_int_equal(blkctl_send_reply(pair[1], 1, -2, "volume v9 is not attached"), 0);
	/* blkctl_detach uses its own sequence counter; the first is 1. */
	assert_int_equal(blkctl_detach(pair[0], "v9", on_ev, NULL, err, sizeof(err)), -2);
	assert_string_equal(err, "volume v9 is not attached");
	assert_true(got_event);
	/* the DETACH it sent parses */
	assert_int_equal(blkctl_recv(pair[1], &rx), 1);
	assert_int_equal(blkctl_parse(&rx, &m, err, sizeof(err)), 0);
	assert_int_equal(m.type, BLKCTL_DETACH);
	assert_string_equal(m.u.detach.id, "v9");
	(void)p;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_attach_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detach_reply_event, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
