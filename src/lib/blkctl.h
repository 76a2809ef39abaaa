/* blkctl: the control channel between ward-controller and ward-blk.
 * Typed binary messages over an inherited SOCK_SEQPACKET socketpair (one
 * message per packet), volume keys inline; the vhost-user socket and the
 * backing store (an open file/block device, or a connected NBD socket) of
 * each device are passed with SCM_RIGHTS, so ward-blk needs no path and no
 * network. blkctl_parse() is the only code that reads the raw bytes.
 * Format: docs/blk.md, "Control protocol". */
#ifndef WARD_BLKCTL_H
#define WARD_BLKCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLKCTL_MAGIC      0x4b4c4257u  /* "WBLK" little-endian */
#define BLKCTL_VERSION    2            /* 2: backing store passed as an fd */
#define BLKCTL_ID_LEN     64           /* volume id field, NUL-padded */
#define BLKCTL_KEY_LEN    64
#define BLKCTL_EXPORT_MAX 1024       /* NBD export name */
#define BLKCTL_MSG_LEN    200
#define BLKCTL_MAX_PACKET 2048

enum blkctl_type {
	BLKCTL_ATTACH = 1,
	BLKCTL_DETACH = 2,
	BLKCTL_QUERY = 3,           /* is this volume attached? (re-adoption) */
	BLKCTL_STATS = 4,           /* a volume's I/O counters (metrics) */
	BLKCTL_REPLY = 0x81,
	BLKCTL_EVENT = 0x82,
	BLKCTL_STATS_REPLY = 0x83,  /* the answer to STATS (a REPLY if it fails) */
};

enum blkctl_flags {
	BLKCTL_F_READONLY = 1u << 0,
	BLKCTL_F_NO_ENCRYPTION = 1u << 1,
	BLKCTL_F_NBD = 1u << 2,     /* backing fd is a connected NBD socket */
};

enum blkctl_event {
	BLKCTL_EV_BROKEN = 1,       /* a ring was malformed; device stopped */
	BLKCTL_EV_DISCONNECTED = 2, /* the frontend closed the vhost-user socket */
};

struct blkctl_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t seq;
	uint32_t len;      /* payload bytes after the header */
} __attribute__((packed));

/* Validated, host-order views of the messages. */
struct blkctl_attach {
	char id[BLKCTL_ID_LEN + 1];
	uint64_t size;              /* bytes, multiple of 4096 */
	uint32_t flags;
	uint16_t num_queues;        /* 1..8 */
	char export_name[BLKCTL_EXPORT_MAX + 1]; /* NBD only; "" otherwise */
	const uint8_t *key;         /* points into the receive buffer (secmem) */
};

/* A volume's I/O since it was attached (docs/blk.md "Control protocol"):
 * completed requests by kind, data bytes, requests answered with an error
 * status, and a latency histogram over metrics_latency_bounds (last
 * bucket: above them), from the request's arrival to its answer. */
#define BLKCTL_STATS_BUCKETS 13
enum { BLKCTL_OP_READ, BLKCTL_OP_WRITE, BLKCTL_OP_FLUSH, BLKCTL_OP_OTHER, BLKCTL_NOPS };
struct blkctl_stats {
	uint64_t ops[BLKCTL_NOPS];
	uint64_t bytes_read, bytes_written;
	uint64_t errors;
	uint64_t lat_bucket[BLKCTL_STATS_BUCKETS];
	uint64_t lat_count, lat_sum_ns;
};

struct blkctl_msg {
	uint16_t type;
	uint32_t seq;
	int fd;                     /* ATTACH: the vhost-user socket, else -1 */
	int backing_fd;             /* ATTACH: file, block device or NBD socket */
	union {
		struct blkctl_attach attach;
		struct { char id[BLKCTL_ID_LEN + 1]; } detach;	/* and QUERY, STATS */
		struct { char id[BLKCTL_ID_LEN + 1]; struct blkctl_stats st; } stats;
		struct { int32_t status; char msg[BLKCTL_MSG_LEN + 1]; } reply;
		struct { char id[BLKCTL_ID_LEN + 1]; uint32_t event;
			 char msg[BLKCTL_MSG_LEN + 1]; } event;
	} u;
};

/* A receive buffer in secure memory (ATTACH carries a key). */
struct blkctl_rx {
	uint8_t *buf;               /* BLKCTL_MAX_PACKET bytes of secmem */
	size_t len;
	int fds[4];
	size_t nfds;
};

int blkctl_rx_init(struct blkctl_rx *rx);
void blkctl_rx_destroy(struct blkctl_rx *rx);
/* Wipe the buffer and close any fds not taken by the caller. */
void blkctl_rx_clear(struct blkctl_rx *rx);

/* Receive one packet. 1: got one, 0: peer closed, negative errno. */
int blkctl_recv(int sock, struct blkctl_rx *rx);

/* The one parser. On success an ATTACH's msg->fd and msg->backing_fd take
 * the passed fds out of rx (their kinds checked with fstat: a socket; a
 * regular file or block device, or a socket for NBD). Returns 0 or -EPROTO
 * with a reason in err. */
int blkctl_parse(struct blkctl_rx *rx, struct blkctl_msg *msg, char *err, size_t errlen);

/* Senders. Key bytes are copied into a wiped stack buffer only while sent. */
int blkctl_send_reply(int sock, uint32_t seq, int32_t status, const char *msg);
int blkctl_send_event(int sock, const char *id, uint32_t event, const char *msg);
int blkctl_send_stats(int sock, uint32_t seq, const char *id, const struct blkctl_stats *st);

/* Controller side: open a volume's store for ATTACH. spec is "PATH",
 * "file:PATH" (opened O_RDWR, or O_RDONLY when readonly), or an NBD URI
 * "nbd://HOST[:PORT]/EXPORT" / "nbd+unix:///EXPORT?socket=PATH" (a connected
 * socket; a->flags gets BLKCTL_F_NBD and a->export_name the export). TLS
 * (nbds://) is refused: ward-blk would need certificate files. Returns the
 * fd or negative errno with a reason in err. */
int blkctl_open_store(const char *spec, struct blkctl_attach *a, char *err, size_t errlen);

/* Controller side: send ATTACH / DETACH and wait for the matching reply.
 * ATTACH passes vu_fd and backing_fd (the caller keeps and closes its
 * copies). Events arriving meanwhile go to on_event (may be NULL). Returns
 * the status ward-blk replied with (0 or negative errno) and its message in
 * err, or a negative errno when the channel failed. */
typedef void (*blkctl_event_fn)(void *opaque, const struct blkctl_msg *ev);
int blkctl_attach(int sock, const struct blkctl_attach *a, const uint8_t key[BLKCTL_KEY_LEN],
		  int vu_fd, int backing_fd, blkctl_event_fn on_event, void *opaque,
		  char *err, size_t errlen);
int blkctl_detach(int sock, const char *id, blkctl_event_fn on_event, void *opaque,
		  char *err, size_t errlen);
/* QUERY: 0 attached and served; -ENOLINK attached but its frontend is gone
 * (key already destroyed); -ENOENT not attached. */
int blkctl_query(int sock, const char *id, blkctl_event_fn on_event, void *opaque,
		 char *err, size_t errlen);
/* A channel taken over from an earlier controller process: drop whatever
 * it left unread (replies to its requests, events, their fds) and start
 * sequence numbers at a random point, so a late reply to one of its
 * requests cannot be taken for ours. */
void blkctl_resync(int sock);
/* STATS: 0 with *out filled, or ward-blk's REPLY status (-ENOENT: not
 * attached; -EOPNOTSUPP: a ward-blk older than STATS). */
int blkctl_stats(int sock, const char *id, blkctl_event_fn on_event, void *opaque,
		 struct blkctl_stats *out, char *err, size_t errlen);

bool blkctl_valid_id(const char *id);

#endif
