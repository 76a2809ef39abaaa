/* test_blkctl: the control-channel parser accepts exactly what the client
 * sends (round trip over a SOCK_SEQPACKET pair, key and both fds included)
 * and rejects truncated, oversized, mistyped, wrong-version messages and
 * ATTACHes with missing or wrong kinds of fds; blkctl_open_store opens a file
 * with exactly the volume's access mode and connects NBD sockets. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "blkctl.h"
#include "fdpass.h"

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

/* Send raw bytes (+ fds) and parse them on the other side. */
static int rawn(const void *buf, size_t len, const int *fds, size_t nfds, struct blkctl_msg *m)
{
	char err[256];
	struct iovec iov = { (void *)buf, len };

	assert_int_equal(fdpass_send(pair[0], &iov, 1, fds, nfds), 0);
	assert_int_equal(blkctl_recv(pair[1], &rx), 1);
	return blkctl_parse(&rx, m, err, sizeof(err));
}

/* A vhost-user socket and a store: a regular file (memfd), or for NBD a
 * socket. */
static int vu_fd(void)
{
	return pair[0];
}

static int file_fd(void)
{
	static int fd = -1;

	if (fd < 0)
		fd = memfd_create("store", MFD_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static int raw(const void *buf, size_t len, bool with_fds, struct blkctl_msg *m)
{
	int fds[2] = { vu_fd(), file_fd() };

	return rawn(buf, len, fds, with_fds ? 2 : 0, m);
}

static size_t attach_pkt_v(uint8_t *p, uint16_t version, const char *id, uint64_t size,
			   uint32_t flags, uint16_t nq, const char *export_name)
{
	struct blkctl_hdr h = { BLKCTL_MAGIC, version, BLKCTL_ATTACH, 7, 0 };
	uint16_t el = (uint16_t)strlen(export_name);
	uint8_t *q = p + sizeof(h);

	memset(q, 0, 144);
	strcpy((char *)q, id);
	memcpy(q + 64, &size, 8);
	memcpy(q + 72, &flags, 4);
	memcpy(q + 76, &nq, 2);
	memcpy(q + 78, &el, 2);
	memset(q + 80, 0x11, 32);
	memset(q + 112, 0x22, 32);
	memcpy(q + 144, export_name, el);
	h.len = 144u + el;
	memcpy(p, &h, sizeof(h));
	return sizeof(h) + h.len;
}

static size_t attach_pkt(uint8_t *p, const char *id, uint64_t size, uint32_t flags,
			 uint16_t nq, const char *export_name)
{
	return attach_pkt_v(p, BLKCTL_VERSION, id, size, flags, nq, export_name);
}

static void test_attach_ok(void **state)
{
	uint8_t p[2048];
	struct blkctl_msg m;
	size_t n = attach_pkt(p, "vol-1", 1 << 20, BLKCTL_F_READONLY, 2, "");

	(void)state;
	assert_int_equal(raw(p, n, true, &m), 0);
	assert_int_equal(m.type, BLKCTL_ATTACH);
	assert_int_equal(m.seq, 7);
	assert_string_equal(m.u.attach.id, "vol-1");
	assert_string_equal(m.u.attach.export_name, "");
	assert_int_equal(m.u.attach.num_queues, 2);
	assert_int_equal(m.u.attach.key[0], 0x11);
	assert_int_equal(m.u.attach.key[63], 0x22);
	assert_true(m.fd >= 0 && m.backing_fd >= 0 && m.fd != m.backing_fd);
	close(m.fd);
	close(m.backing_fd);
	blkctl_rx_clear(&rx);
	for (int i = 0; i < 64; i++)
		assert_int_equal(rx.buf[16 + 80 + i], 0); /* key wiped */
}

static void test_attach_nbd_ok(void **state)
{
	uint8_t p[2048];
	struct blkctl_msg m;
	int fds[2] = { pair[0], pair[0] };      /* two sockets */
	size_t n = attach_pkt(p, "vol-2", 1 << 20, BLKCTL_F_NBD, 1, "export-a");

	(void)state;
	assert_int_equal(rawn(p, n, fds, 2, &m), 0);
	assert_string_equal(m.u.attach.export_name, "export-a");
	assert_true(m.u.attach.flags & BLKCTL_F_NBD);
	close(m.fd);
	close(m.backing_fd);
}

static void test_attach_rejects(void **state)
{
	uint8_t p[2048];
	struct blkctl_msg m;
	int fds[3] = { pair[0], file_fd(), file_fd() }, pp[2];
	size_t n;

	(void)state;
	n = attach_pkt(p, "vol-1", 1 << 20, 0, 1, "");
	assert_int_not_equal(raw(p, n, false, &m), 0);        /* no fds */
	assert_int_not_equal(rawn(p, n, fds, 1, &m), 0);      /* only the socket */
	assert_int_not_equal(rawn(p, n, fds, 3, &m), 0);      /* one too many */
	fds[0] = file_fd();
	assert_int_not_equal(rawn(p, n, fds, 2, &m), 0);      /* vhost-user fd not a socket */
	assert_int_equal(pipe(pp), 0);
	fds[0] = pair[0];
	fds[1] = pp[0];
	assert_int_not_equal(rawn(p, n, fds, 2, &m), 0);      /* store is a pipe */
	close(pp[0]);
	close(pp[1]);
	n = attach_pkt(p, "vol-1", 1 << 20, BLKCTL_F_NBD, 1, "x");
	assert_int_not_equal(raw(p, n, true, &m), 0);         /* NBD store must be a socket */
	n = attach_pkt(p, "vol-1", 1 << 20, 0, 1, "x");
	assert_int_not_equal(raw(p, n, true, &m), 0);         /* export name without NBD */
	n = attach_pkt_v(p, 1, "vol-1", 1 << 20, 0, 1, "");
	assert_int_not_equal(raw(p, n, true, &m), 0);         /* version 1 (path in the message) */
	assert_int_not_equal(raw(p, n - 1, true, &m), 0);     /* truncated */
	n = attach_pkt(p, "bad id!", 1 << 20, 0, 1, "");
	assert_int_not_equal(raw(p, n, true, &m), 0);
	n = attach_pkt(p, "v", 1000, 0, 1, "");               /* size not 4K multiple */
	assert_int_not_equal(raw(p, n, true, &m), 0);
	n = attach_pkt(p, "v", 4096, 0x80, 1, "");            /* unknown flag */
	assert_int_not_equal(raw(p, n, true, &m), 0);
	n = attach_pkt(p, "v", 4096, 0, 9, "");               /* too many queues */
	assert_int_not_equal(raw(p, n, true, &m), 0);
	n = attach_pkt(p, "v", 4096, 0, 1, "");
	memset(p + 16, 'a', 64);                              /* id not terminated */
	assert_int_not_equal(raw(p, n, true, &m), 0);
	n = attach_pkt(p, "v", 4096, 0, 1, "");
	p[0] ^= 1;                                            /* magic */
	assert_int_not_equal(raw(p, n, false, &m), 0);
	assert_int_not_equal(raw(p, 8, false, &m), 0);        /* shorter than header */
	blkctl_rx_clear(&rx);
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

/* blkctl_attach sends both fds and the fields; runs after the DETACH test
 * (the client's sequence counter is then 2). */
static void test_attach_client(void **state)
{
	struct blkctl_attach a = { 0 };
	struct blkctl_msg m;
	uint8_t key[64];
	char err[256];

	(void)state;
	memset(key, 0x5a, 32);
	memset(key + 32, 0xa5, 32);
	snprintf(a.id, sizeof(a.id), "v3");
	a.size = 1 << 20;
	a.num_queues = 1;
	assert_int_equal(blkctl_send_reply(pair[1], 2, 0, "attached"), 0);
	assert_int_equal(blkctl_attach(pair[0], &a, key, pair[0], file_fd(), NULL, NULL,
				       err, sizeof(err)), 0);
	assert_int_equal(blkctl_recv(pair[1], &rx), 1);
	assert_int_equal(blkctl_parse(&rx, &m, err, sizeof(err)), 0);
	assert_string_equal(m.u.attach.id, "v3");
	assert_int_equal(m.u.attach.key[0], 0x5a);
	close(m.fd);
	close(m.backing_fd);
	blkctl_rx_clear(&rx);
	assert_int_equal(blkctl_attach(pair[0], &a, key, pair[0], -1, NULL, NULL,
				       err, sizeof(err)), -EINVAL);
}

/* ward-blk's side of a QUERY, on a thread: reply -ENOLINK with its seq. */
static void *query_responder(void *arg)
{
	struct blkctl_msg m;
	char err[256];

	(void)arg;
	if (blkctl_recv(pair[1], &rx) != 1 || blkctl_parse(&rx, &m, err, sizeof(err)) ||
	    m.type != BLKCTL_QUERY || strcmp(m.u.detach.id, "v7"))
		return (void *)1;
	blkctl_send_reply(pair[1], m.seq, -ENOLINK, "frontend gone");
	return NULL;
}

/* A channel taken over from a dead controller: what it left unread is
 * dropped, and a QUERY then gets its own answer. */
static void test_resync_query(void **state)
{
	char err[256], b;
	pthread_t t;
	void *ret;

	(void)state;
	assert_int_equal(blkctl_send_event(pair[1], "v7", BLKCTL_EV_DISCONNECTED, "x"), 0);
	assert_int_equal(blkctl_send_reply(pair[1], 12345, 0, "stale"), 0);
	blkctl_resync(pair[0]);
	assert_int_equal(recv(pair[0], &b, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(pthread_create(&t, NULL, query_responder, NULL), 0);
	assert_int_equal(blkctl_query(pair[0], "v7", NULL, NULL, err, sizeof(err)), -ENOLINK);
	assert_string_equal(err, "frontend gone");
	pthread_join(t, &ret);
	assert_null(ret);
	assert_int_equal(blkctl_query(pair[0], "bad id!", NULL, NULL, err, sizeof(err)), -EINVAL);
}

static void test_open_store(void **state)
{
	char dir[] = "/tmp/test_blkctl.XXXXXX", path[128], uri[256], err[256];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct blkctl_attach a = { 0 };
	int fd, ls;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/store", dir);
	fd = open(path, O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);
	close(fd);
	/* Exactly the access the volume needs. */
	a.flags = BLKCTL_F_READONLY;
	fd = blkctl_open_store(path, &a, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	close(fd);
	a.flags = 0;
	snprintf(uri, sizeof(uri), "file:%s", path);
	fd = blkctl_open_store(uri, &a, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	assert_false(a.flags & BLKCTL_F_NBD);
	close(fd);
	/* NBD over a unix socket: connected, export name taken from the URI. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/nbd.sock", dir);
	ls = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 1), 0);
	snprintf(uri, sizeof(uri), "nbd+unix:///exp1?socket=%s", sa.sun_path);
	fd = blkctl_open_store(uri, &a, err, sizeof(err));
	assert_true(fd >= 0);
	assert_true(a.flags & BLKCTL_F_NBD);
	assert_string_equal(a.export_name, "exp1");
	close(fd);
	assert_int_equal(blkctl_open_store("nbds://host/x", &a, err, sizeof(err)), -EPROTONOSUPPORT);
	assert_int_equal(blkctl_open_store("nbd+unix:///x", &a, err, sizeof(err)), -EINVAL);
	assert_true(blkctl_open_store("/nonexistent/store", &a, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/nonexistent/store"));
	close(ls);
	unlink(sa.sun_path);
	unlink(path);
	rmdir(dir);
}

/* STATS_REPLY as ward-blk sends it parses back field for field; a packet
 * of another length or without a valid volume id is refused. */
static void test_stats_reply(void **state)
{
	struct blkctl_stats st, *got;
	struct blkctl_msg m;
	char err[256];
	uint8_t bad[16 + 64 + 8];
	struct blkctl_hdr h = { BLKCTL_MAGIC, BLKCTL_VERSION, BLKCTL_STATS_REPLY, 9, 64 + 8 };

	memset(&st, 0, sizeof(st));
	st.ops[BLKCTL_OP_READ] = 3;
	st.ops[BLKCTL_OP_OTHER] = 1;
	st.bytes_read = 12288;
	st.bytes_written = 1ull << 40;
	st.errors = 1;
	st.lat_bucket[0] = 2;
	st.lat_bucket[BLKCTL_STATS_BUCKETS - 1] = 2;
	st.lat_count = 4;
	st.lat_sum_ns = 123456789;
	assert_int_equal(blkctl_send_stats(pair[0], 9, "vol-s", &st), 0);
	assert_int_equal(blkctl_recv(pair[1], &rx), 1);
	assert_int_equal(blkctl_parse(&rx, &m, err, sizeof(err)), 0);
	assert_int_equal(m.type, BLKCTL_STATS_REPLY);
	assert_int_equal(m.seq, 9);
	assert_string_equal(m.u.stats.id, "vol-s");
	got = &m.u.stats.st;
	assert_memory_equal(got, &st, sizeof(st));
	blkctl_rx_clear(&rx);

	memcpy(bad, &h, sizeof(h));
	memset(bad + 16, 0, sizeof(bad) - 16);
	memcpy(bad + 16, "vol-s", 5);
	assert_int_equal(raw(bad, sizeof(bad), false, &m), -EPROTO);
	blkctl_rx_clear(&rx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_attach_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_nbd_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detach_reply_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resync_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_reply, setup, teardown),
		cmocka_unit_test(test_open_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
