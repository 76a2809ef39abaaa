/* blkctl: framing, the single parser and the controller-side client of the
 * ward-blk control channel (blkctl.h, docs/blk.md). */
#include "errmsg.h"
#include "fdpass.h"
#include "blkctl.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "secmem.h"

#define ATTACH_FIXED (BLKCTL_ID_LEN + 8 + 4 + 2 + 2 + BLKCTL_KEY_LEN) /* then the export name */
#define DETACH_LEN   BLKCTL_ID_LEN
#define REPLY_LEN    (4 + BLKCTL_MSG_LEN)
#define EVENT_LEN    (BLKCTL_ID_LEN + 4 + BLKCTL_MSG_LEN)
#define STATS_N      (BLKCTL_NOPS + 3 + BLKCTL_STATS_BUCKETS + 2)	/* u64 fields */
#define STATS_LEN    (BLKCTL_ID_LEN + 8 * STATS_N)

bool blkctl_valid_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > BLKCTL_ID_LEN - 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

int blkctl_rx_init(struct blkctl_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
	rx->buf = secmem_alloc(BLKCTL_MAX_PACKET);
	return rx->buf ? 0 : -ENOMEM;
}

void blkctl_rx_clear(struct blkctl_rx *rx)
{
	OPENSSL_cleanse(rx->buf, BLKCTL_MAX_PACKET);
	rx->len = 0;
	for (size_t i = 0; i < rx->nfds; i++)
		if (rx->fds[i] >= 0)
			close(rx->fds[i]);
	rx->nfds = 0;
}

void blkctl_rx_destroy(struct blkctl_rx *rx)
{
	if (!rx->buf)
		return;
	blkctl_rx_clear(rx);
	secmem_free(rx->buf, BLKCTL_MAX_PACKET);
	rx->buf = NULL;
}

static int recv_flags(int sock, struct blkctl_rx *rx, int flags)
{
	ssize_t n;

	blkctl_rx_clear(rx);
	n = fdpass_recv(sock, rx->buf, BLKCTL_MAX_PACKET, flags, rx->fds,
			sizeof(rx->fds) / sizeof(rx->fds[0]), &rx->nfds);
	if (n < 0) {
		/* fdpass has closed the fds; wipe whatever part of a refused
		 * packet (it may hold a key) landed in the buffer. */
		blkctl_rx_clear(rx);
		return (int)n;
	}
	if (n == 0 && rx->nfds == 0)
		return 0;
	rx->len = (size_t)n;
	return 1;
}

int blkctl_recv(int sock, struct blkctl_rx *rx)
{
	return recv_flags(sock, rx, 0);
}

/* A fixed-size text field: must contain a NUL, nothing after it matters.
 * out has field + 1 bytes; the whole field is copied and out terminated at
 * its end too, so that every byte of out is defined (proofs/blkctl). */
static int get_str(const uint8_t *p, size_t field, char *out)
{
	if (!memchr(p, 0, field))
		return -1;
	memcpy(out, p, field);
	out[field] = 0;
	return 0;
}

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return le16toh(v); }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return le64toh(v); }

/* The fds of an ATTACH: exactly [vhost-user socket, backing store]. Their
 * kinds are checked here so that nothing later mistakes a pipe or a
 * directory for a store; sizes and access modes are checked by the store. */
static int check_attach_fds(const struct blkctl_rx *rx, uint32_t flags, char *err, size_t errlen)
{
	struct stat vu, st;

	if (rx->nfds != 2)
		return errmsg(err, errlen, -EPROTO, "ATTACH: %zu fds passed, exactly 2 (vhost-user socket, "
			   "backing store) expected", rx->nfds);
	if (fstat(rx->fds[0], &vu) < 0 || !S_ISSOCK(vu.st_mode))
		return errmsg(err, errlen, -EPROTO, "ATTACH: the first fd (vhost-user) is not a socket");
	if (fstat(rx->fds[1], &st) < 0)
		return errmsg(err, errlen, -EPROTO, "ATTACH: the backing fd cannot be inspected");
	if ((flags & BLKCTL_F_NBD) && !S_ISSOCK(st.st_mode))
		return errmsg(err, errlen, -EPROTO, "ATTACH: the NBD backing fd is not a connected socket");
	if (!(flags & BLKCTL_F_NBD) && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return errmsg(err, errlen, -EPROTO, "ATTACH: the backing fd is neither a regular file nor a block device");
	return 0;
}

static int parse_attach(struct blkctl_rx *rx, const uint8_t *p, size_t len,
			struct blkctl_attach *a, char *err, size_t errlen)
{
	uint16_t elen;

	if (len < ATTACH_FIXED)
		return errmsg(err, errlen, -EPROTO, "ATTACH: payload of %zu bytes, at least %d needed", len, ATTACH_FIXED);
	if (get_str(p, BLKCTL_ID_LEN, a->id) || !blkctl_valid_id(a->id))
		return errmsg(err, errlen, -EPROTO, "ATTACH: volume id must be 1-63 characters of [A-Za-z0-9._-]");
	a->size = rd64(p + 64);
	a->flags = rd32(p + 72);
	a->num_queues = rd16(p + 76);
	elen = rd16(p + 78);
	a->key = p + 80;
	if (a->size == 0 || a->size % 4096 || a->size > (1ull << 50))
		return errmsg(err, errlen, -EPROTO, "ATTACH: size %llu must be a non-zero multiple of 4096 up to 1 PiB",
			   (unsigned long long)a->size);
	if (a->flags & ~(uint32_t)(BLKCTL_F_READONLY | BLKCTL_F_NO_ENCRYPTION | BLKCTL_F_NBD))
		return errmsg(err, errlen, -EPROTO, "ATTACH: unknown flags 0x%x", a->flags);
	if (a->num_queues < 1 || a->num_queues > 8)
		return errmsg(err, errlen, -EPROTO, "ATTACH: %u queues, 1..8 allowed", a->num_queues);
	if (elen > BLKCTL_EXPORT_MAX || len != (size_t)ATTACH_FIXED + elen)
		return errmsg(err, errlen, -EPROTO, "ATTACH: export name of %u bytes in a %zu-byte payload", elen, len);
	if (elen && !(a->flags & BLKCTL_F_NBD))
		return errmsg(err, errlen, -EPROTO, "ATTACH: an export name is only valid with an NBD store");
	memcpy(a->export_name, p + ATTACH_FIXED, elen);
	a->export_name[elen] = 0;
	if (memchr(p + ATTACH_FIXED, 0, elen))
		return errmsg(err, errlen, -EPROTO, "ATTACH: export name contains a NUL byte");
	return check_attach_fds(rx, a->flags, err, errlen);
}

/* The counters in wire order: ops[], bytes read, written, errors,
 * buckets[], count, sum (little-endian u64 each). */
static uint64_t *stats_field(struct blkctl_stats *st, size_t i)
{
	if (i < BLKCTL_NOPS)
		return &st->ops[i];
	i -= BLKCTL_NOPS;
	if (i < 3)
		return i == 0 ? &st->bytes_read : i == 1 ? &st->bytes_written : &st->errors;
	i -= 3;
	if (i < BLKCTL_STATS_BUCKETS)
		return &st->lat_bucket[i];
	return i == BLKCTL_STATS_BUCKETS ? &st->lat_count : &st->lat_sum_ns;
}

static void stats_get(const uint8_t *p, struct blkctl_stats *st)
{
	for (size_t i = 0; i < STATS_N; i++)
		*stats_field(st, i) = rd64(p + 8 * i);
}

int blkctl_parse(struct blkctl_rx *rx, struct blkctl_msg *msg, char *err, size_t errlen)
{
	const uint8_t *p = rx->buf + sizeof(struct blkctl_hdr);
	size_t len;
	int rc = 0;

	memset(msg, 0, offsetof(struct blkctl_msg, u));
	msg->fd = msg->backing_fd = -1;
	if (rx->len < sizeof(struct blkctl_hdr))
		return errmsg(err, errlen, -EPROTO, "packet of %zu bytes is shorter than the header", rx->len);
	if (rd32(rx->buf) != BLKCTL_MAGIC || rd16(rx->buf + 4) != BLKCTL_VERSION)
		return errmsg(err, errlen, -EPROTO, "bad magic or version %u (expected %u)", rd16(rx->buf + 4), BLKCTL_VERSION);
	msg->type = rd16(rx->buf + 6);
	msg->seq = rd32(rx->buf + 8);
	len = rd32(rx->buf + 12);
	if (len != rx->len - sizeof(struct blkctl_hdr))
		return errmsg(err, errlen, -EPROTO, "header says %zu payload bytes, packet has %zu",
			   len, rx->len - sizeof(struct blkctl_hdr));
	if (msg->type != BLKCTL_ATTACH && rx->nfds)
		return errmsg(err, errlen, -EPROTO, "message type %u carries no fds, got %zu", msg->type, rx->nfds);

	switch (msg->type) {
	case BLKCTL_ATTACH:
		rc = parse_attach(rx, p, len, &msg->u.attach, err, errlen);
		if (!rc) {
			msg->fd = rx->fds[0];
			msg->backing_fd = rx->fds[1];
			rx->fds[0] = rx->fds[1] = -1;
		}
		return rc;
	case BLKCTL_DETACH:
	case BLKCTL_QUERY:
	case BLKCTL_STATS:
		if (len != DETACH_LEN || get_str(p, BLKCTL_ID_LEN, msg->u.detach.id) ||
		    !blkctl_valid_id(msg->u.detach.id))
			return errmsg(err, errlen, -EPROTO, "%s: bad length %zu or volume id",
				      msg->type == BLKCTL_DETACH ? "DETACH" :
				      msg->type == BLKCTL_QUERY ? "QUERY" : "STATS", len);
		return 0;
	case BLKCTL_STATS_REPLY:
		if (len != STATS_LEN || get_str(p, BLKCTL_ID_LEN, msg->u.stats.id) ||
		    !blkctl_valid_id(msg->u.stats.id))
			return errmsg(err, errlen, -EPROTO, "STATS_REPLY: bad length %zu or volume id",
				      len);
		stats_get(p + BLKCTL_ID_LEN, &msg->u.stats.st);
		return 0;
	case BLKCTL_REPLY:
		if (len != REPLY_LEN || get_str(p + 4, BLKCTL_MSG_LEN, msg->u.reply.msg))
			return errmsg(err, errlen, -EPROTO, "REPLY: bad length %zu or message", len);
		msg->u.reply.status = (int32_t)rd32(p);
		if (msg->u.reply.status > 0 || msg->u.reply.status < -4095)
			return errmsg(err, errlen, -EPROTO, "REPLY: status %d is not 0 or -errno", msg->u.reply.status);
		return 0;
	case BLKCTL_EVENT:
		if (len != EVENT_LEN || get_str(p, BLKCTL_ID_LEN, msg->u.event.id) ||
		    get_str(p + 68, BLKCTL_MSG_LEN, msg->u.event.msg))
			return errmsg(err, errlen, -EPROTO, "EVENT: bad length %zu or text fields", len);
		msg->u.event.event = rd32(p + 64);
		return 0;
	default:
		return errmsg(err, errlen, -EPROTO, "unknown message type %u", msg->type);
	}
}

static int send_pkt(int sock, uint16_t type, uint32_t seq, const uint8_t *payload,
		    uint32_t len, const int *fds, size_t nfds)
{
	struct blkctl_hdr h = { htole32(BLKCTL_MAGIC), htole16(BLKCTL_VERSION),
				htole16(type), htole32(seq), htole32(len) };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, len } };

	return fdpass_send(sock, iov, 2, fds, nfds);
}

static void put_str(uint8_t *p, size_t field, const char *s)
{
	size_t n = s ? strnlen(s, field - 1) : 0;

	memset(p, 0, field);
	if (n)
		memcpy(p, s, n);
}

int blkctl_send_reply(int sock, uint32_t seq, int32_t status, const char *msg)
{
	uint8_t p[REPLY_LEN];
	uint32_t st = htole32((uint32_t)status);

	memcpy(p, &st, 4);
	put_str(p + 4, BLKCTL_MSG_LEN, msg);
	return send_pkt(sock, BLKCTL_REPLY, seq, p, sizeof(p), NULL, 0);
}

int blkctl_send_event(int sock, const char *id, uint32_t event, const char *msg)
{
	uint8_t p[EVENT_LEN];
	uint32_t ev = htole32(event);

	put_str(p, BLKCTL_ID_LEN, id);
	memcpy(p + 64, &ev, 4);
	put_str(p + 68, BLKCTL_MSG_LEN, msg);
	return send_pkt(sock, BLKCTL_EVENT, 0, p, sizeof(p), NULL, 0);
}

int blkctl_send_stats(int sock, uint32_t seq, const char *id, const struct blkctl_stats *st)
{
	uint8_t p[STATS_LEN];
	struct blkctl_stats copy = *st;

	put_str(p, BLKCTL_ID_LEN, id);
	for (size_t i = 0; i < STATS_N; i++) {
		uint64_t v = htole64(*stats_field(&copy, i));

		memcpy(p + BLKCTL_ID_LEN + 8 * i, &v, 8);
	}
	return send_pkt(sock, BLKCTL_STATS_REPLY, seq, p, sizeof(p), NULL, 0);
}

static uint32_t next_seq = 1;

static int wait_reply(int sock, uint32_t seq, blkctl_event_fn on_event, void *opaque,
		      struct blkctl_stats *stats, char *err, size_t errlen)
{
	struct blkctl_rx rx;
	struct blkctl_msg m;
	int rc;

	rc = blkctl_rx_init(&rx);
	if (rc)
		return rc;
	for (;;) {
		rc = blkctl_recv(sock, &rx);
		if (rc <= 0) {
			rc = rc ? rc : -EPIPE;
			snprintf(err, errlen, "control channel to ward-blk closed");
			break;
		}
		rc = blkctl_parse(&rx, &m, err, errlen);
		if (rc)
			break;
		if (m.type == BLKCTL_EVENT) {
			if (on_event)
				on_event(opaque, &m);
			continue;
		}
		if (m.type == BLKCTL_REPLY && m.seq == seq) {
			snprintf(err, errlen, "%s", m.u.reply.msg);
			rc = m.u.reply.status;
			break;
		}
		if (m.type == BLKCTL_STATS_REPLY && m.seq == seq && stats) {
			*stats = m.u.stats.st;
			rc = 0;
			break;
		}
	}
	blkctl_rx_destroy(&rx);
	return rc;
}

int blkctl_attach(int sock, const struct blkctl_attach *a, const uint8_t key[BLKCTL_KEY_LEN],
		  int vu_fd, int backing_fd, blkctl_event_fn on_event, void *opaque,
		  char *err, size_t errlen)
{
	size_t elen = strlen(a->export_name);
	uint32_t seq = __atomic_fetch_add(&next_seq, 1, __ATOMIC_RELAXED);
	int fds[2] = { vu_fd, backing_fd };
	uint8_t *p;
	uint64_t v64;
	uint32_t v32;
	uint16_t v16;
	int rc;

	if (!blkctl_valid_id(a->id) || elen > BLKCTL_EXPORT_MAX || vu_fd < 0 || backing_fd < 0) {
		snprintf(err, errlen, "invalid volume id, export name or fds");
		return -EINVAL;
	}
	p = secmem_alloc(ATTACH_FIXED + BLKCTL_EXPORT_MAX);
	if (!p)
		return -ENOMEM;
	put_str(p, BLKCTL_ID_LEN, a->id);
	v64 = htole64(a->size); memcpy(p + 64, &v64, 8);
	v32 = htole32(a->flags); memcpy(p + 72, &v32, 4);
	v16 = htole16(a->num_queues); memcpy(p + 76, &v16, 2);
	v16 = htole16((uint16_t)elen); memcpy(p + 78, &v16, 2);
	if (key)
		memcpy(p + 80, key, BLKCTL_KEY_LEN);
	memcpy(p + ATTACH_FIXED, a->export_name, elen);
	rc = send_pkt(sock, BLKCTL_ATTACH, seq, p, (uint32_t)(ATTACH_FIXED + elen), fds, 2);
	secmem_free(p, ATTACH_FIXED + BLKCTL_EXPORT_MAX);
	if (rc) {
		snprintf(err, errlen, "cannot send ATTACH to ward-blk");
		return rc;
	}
	return wait_reply(sock, seq, on_event, opaque, NULL, err, errlen);
}

/* ---- controller side: opening a store ---- */

static int connect_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s, e;

	if (strlen(path) >= sizeof(a.sun_path)) {
		snprintf(err, errlen, "NBD socket path is too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(a.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		e = errno;
		snprintf(err, errlen, "cannot connect to NBD socket %s: %s", path, strerror(e));
		if (s >= 0)
			close(s);
		return -e;
	}
	return s;
}

static int connect_tcp(const char *host, const char *port, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int s = -1, rc = getaddrinfo(host, port, &hints, &res);

	if (rc) {
		snprintf(err, errlen, "cannot resolve NBD server %s: %s", host, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (s >= 0 && connect(s, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (s >= 0)
			close(s);
		s = -1;
	}
	freeaddrinfo(res);
	if (s < 0) {
		snprintf(err, errlen, "cannot connect to NBD server %s port %s", host, port);
		return -ECONNREFUSED;
	}
	return s;
}

/* "nbd://HOST[:PORT]/EXPORT" or "nbd+unix:///EXPORT?socket=PATH". No
 * percent-decoding: export names and paths are taken verbatim. */
static int open_nbd_uri(const char *spec, struct blkctl_attach *a, char *err, size_t errlen)
{
	char buf[BLKCTL_EXPORT_MAX + 256], *rest, *exp, *q, *host, *port = "10809";
	bool unix_sock = !strncmp(spec, "nbd+unix://", 11);
	int fd;

	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "NBD URI is too long");
		return -ENAMETOOLONG;
	}
	strcpy(buf, spec);
	rest = buf + (unix_sock ? 11 : 6);
	exp = strchr(rest, '/');
	q = strchr(rest, '?');
	if (q)
		*q++ = 0;
	if (exp)
		*exp++ = 0;
	if (strlen(exp ? exp : "") > BLKCTL_EXPORT_MAX) {
		snprintf(err, errlen, "NBD export name is longer than %d bytes", BLKCTL_EXPORT_MAX);
		return -ENAMETOOLONG;
	}
	if (unix_sock) {
		if (*rest || !q || strncmp(q, "socket=", 7) || strchr(q, '&')) {
			snprintf(err, errlen, "NBD URI must be nbd+unix:///EXPORT?socket=PATH");
			return -EINVAL;
		}
		fd = connect_unix(q + 7, err, errlen);
	} else {
		if (q || !*rest) {
			snprintf(err, errlen, "NBD URI must be nbd://HOST[:PORT]/EXPORT");
			return -EINVAL;
		}
		host = rest;
		if (*host == '[') {           /* [IPv6]:port */
			char *end = strchr(host, ']');

			if (!end) {
				snprintf(err, errlen, "NBD URI has an unterminated [IPv6] host");
				return -EINVAL;
			}
			*end = 0;
			host++;
			if (end[1] == ':')
				port = end + 2;
		} else if ((q = strchr(host, ':'))) {
			*q = 0;
			port = q + 1;
		}
		fd = connect_tcp(host, port, err, errlen);
	}
	if (fd >= 0) {
		snprintf(a->export_name, sizeof(a->export_name), "%s", exp ? exp : "");
		a->flags |= BLKCTL_F_NBD;
	}
	return fd;
}

int blkctl_open_store(const char *spec, struct blkctl_attach *a, char *err, size_t errlen)
{
	bool ro = a->flags & BLKCTL_F_READONLY;
	int fd;

	a->flags &= ~(uint32_t)BLKCTL_F_NBD;
	a->export_name[0] = 0;
	if (!strncmp(spec, "nbds", 4)) {
		snprintf(err, errlen, "NBD over TLS is not supported in controller mode: ward-blk "
			 "cannot read certificate files after lockdown (the store sees only ciphertext)");
		return -EPROTONOSUPPORT;
	}
	if (!strncmp(spec, "nbd://", 6) || !strncmp(spec, "nbd+unix://", 11))
		return open_nbd_uri(spec, a, err, errlen);
	if (!strncmp(spec, "nbd+", 4)) {
		snprintf(err, errlen, "unsupported NBD transport in %s", spec);
		return -EPROTONOSUPPORT;
	}
	if (!strncmp(spec, "file:", 5))
		spec += 5;
	/* Exactly the access the volume needs: a read-only volume never holds
	 * a writable fd. ward-blk sets O_DIRECT itself where it helps. */
	fd = open(spec, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		fd = -errno;
		snprintf(err, errlen, "cannot open backing %s: %s", spec, strerror(-fd));
	}
	return fd;
}

/* DETACH, QUERY and STATS: a volume id and nothing else. */
static int id_request(int sock, uint16_t type, const char *id, blkctl_event_fn on_event,
		      void *opaque, struct blkctl_stats *stats, char *err, size_t errlen)
{
	uint8_t p[DETACH_LEN];
	uint32_t seq = __atomic_fetch_add(&next_seq, 1, __ATOMIC_RELAXED);
	int rc;

	if (!blkctl_valid_id(id)) {
		snprintf(err, errlen, "invalid volume id");
		return -EINVAL;
	}
	put_str(p, BLKCTL_ID_LEN, id);
	rc = send_pkt(sock, type, seq, p, sizeof(p), NULL, 0);
	if (rc) {
		snprintf(err, errlen, "cannot send %s to ward-blk",
			 type == BLKCTL_DETACH ? "DETACH" : type == BLKCTL_QUERY ? "QUERY" : "STATS");
		return rc;
	}
	return wait_reply(sock, seq, on_event, opaque, stats, err, errlen);
}

int blkctl_detach(int sock, const char *id, blkctl_event_fn on_event, void *opaque,
		  char *err, size_t errlen)
{
	return id_request(sock, BLKCTL_DETACH, id, on_event, opaque, NULL, err, errlen);
}

int blkctl_query(int sock, const char *id, blkctl_event_fn on_event, void *opaque,
		 char *err, size_t errlen)
{
	return id_request(sock, BLKCTL_QUERY, id, on_event, opaque, NULL, err, errlen);
}

void blkctl_resync(int sock)
{
	struct blkctl_rx rx;
	uint32_t seed;

	/* Packets the last owner left unread: wiped, their fds closed. */
	if (blkctl_rx_init(&rx) == 0) {
		int rc;

		while ((rc = recv_flags(sock, &rx, MSG_DONTWAIT)) == 1 || rc == -EMSGSIZE)
			blkctl_rx_clear(&rx);
		blkctl_rx_destroy(&rx);
	}
	if (getrandom(&seed, sizeof(seed), 0) == sizeof(seed))
		__atomic_store_n(&next_seq, seed | 1, __ATOMIC_RELAXED);
}

int blkctl_stats(int sock, const char *id, blkctl_event_fn on_event, void *opaque,
		 struct blkctl_stats *out, char *err, size_t errlen)
{
	return id_request(sock, BLKCTL_STATS, id, on_event, opaque, out, err, errlen);
}
