/* blkdev: a vhost-user-blk device for one volume (blkdev.h).
 * Data path: pop a chain (virtq validates it), parse the virtio-blk header
 * (virtio 1.2 §5.2.6), encrypt writes into a private bounce buffer with
 * AES-256-XTS per 4096-byte sector; read ciphertext straight into the guest's
 * buffers and decrypt it there, in place. Ciphertext moves with io_uring
 * (local store) or libnbd (remote). Plaintext never reaches the backing
 * store; a write never alters guest memory; a read the guest is answered
 * with leaves only plaintext of the sectors it asked for, or zeroes. */
#include "blkdev.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <liburing.h>
#include <openssl/crypto.h>

#include "allowlist.h"
#include "backing.h"
#include "errmsg.h"
#include "log.h"
#include "metrics.h"
#include "ringpool.h"
#include "vu_dev.h"
#include "xts.h"

/* virtio-blk (virtio 1.2 §5.2) */
#define VIRTIO_BLK_F_SEG_MAX  2
#define VIRTIO_BLK_F_RO       5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH    9
#define VIRTIO_BLK_F_TOPOLOGY 10
#define VIRTIO_BLK_F_MQ       12
#define VIRTIO_BLK_F_DISCARD  13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define BLK_SEG_MAX 254u          /* VQ_MAX_CHAIN minus header and status */
#define BLK_ZERO_MAX_SECTORS 32768u /* 16 MiB per discard/write-zeroes */
#define BOUNCE_CHUNK (128u << 10) /* fits in L2 next to the cipher state */

struct req {
	struct req *next;
	uint16_t q;
	uint32_t type;
	uint64_t off;
	size_t len;
	size_t total;            /* data bytes of the request (used length) */
	size_t done;
	size_t chunk, cdone;      /* bounce path: current chunk and its progress */
	size_t dec;              /* in-place read: bytes [0, dec) decrypted */
	uint8_t *status;
	uint8_t *buf;
	size_t bufcap;
	bool bounce;
	bool inplace;            /* encrypted read decrypted in the guest's buffers */
	unsigned int ndata;
	struct iovec data[VQ_MAX_CHAIN];
	struct iovec cur[VQ_MAX_CHAIN]; /* zero-copy: the part still to move */
	struct vq_chain c;
	uint64_t t0;             /* arrival (metrics_now_ns), for the latency histogram */
};

struct blkdev {
	char id[BLKCTL_ID_LEN];
	uint64_t size;
	bool readonly;
	unsigned int nq;
	struct backing b;
	struct xts_ctx *xts;
	struct vu_dev_ops ops;
	struct vu_dev vu;
	int listen_fd;
	int stop_fd;
	int ring_fd;             /* eventfd signalled on io_uring completions (the ring's) */
	struct blk_ring *pr;     /* borrowed from the pool (ringpool.h) */
	struct io_uring *ring;   /* &pr->uring */
	unsigned int inflight[VU_DEV_MAX_QUEUES];
	unsigned int inflight_total;
	unsigned int notify;     /* bitmap of queues with unsignalled pushes */
	bool broken_reported;
	bool frontend_gone;      /* fd mode: disconnected, key destroyed */
	bool nowait_ok;          /* the store accepts RWF_NOWAIT */
	bool test_torn;          /* test hook: reads tear and fail (docs/blk.md) */
	struct req *free;
	pthread_t thr;
	bool started;
	blkdev_event_fn on_event;
	void *opaque;
	/* I/O counters (BLKCTL_STATS): written by this device's thread,
	 * read by the control channel's. */
	_Atomic uint64_t io_ops[BLKCTL_NOPS], bytes_read, bytes_written, errors;
	struct metrics_hist lat;
};

const char *blkdev_id(const struct blkdev *d)
{
	return d->id;
}

/* ---- guest buffer cursor: walks an iovec array sector by sector ---- */

struct cur {
	const struct iovec *iov;
	unsigned int n, i;
	size_t off;
};

static uint8_t *cur_span(struct cur *c, size_t want)
{
	while (c->i < c->n && c->off == c->iov[c->i].iov_len) {
		c->i++;
		c->off = 0;
	}
	if (c->i < c->n && c->iov[c->i].iov_len - c->off >= want) {
		uint8_t *p = (uint8_t *)c->iov[c->i].iov_base + c->off;

		c->off += want;
		return p;
	}
	return NULL;
}

static void cur_xfer(struct cur *c, uint8_t *buf, size_t len, bool to_guest)
{
	while (len && c->i < c->n) {
		size_t l = c->iov[c->i].iov_len - c->off;
		uint8_t *g = (uint8_t *)c->iov[c->i].iov_base + c->off;

		if (l > len)
			l = len;
		if (to_guest)
			memcpy(g, buf, l);
		else
			memcpy(buf, g, l);
		buf += l;
		len -= l;
		c->off += l;
		if (c->off == c->iov[c->i].iov_len) {
			c->i++;
			c->off = 0;
		}
	}
}

/* Build iovecs for [skip, skip+len) of src. Returns how many. */
static unsigned int slice(const struct iovec *src, unsigned int n, size_t skip,
			  size_t len, struct iovec *out)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n && len; i++) {
		size_t l = src[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len)
			l = len;
		out[k].iov_base = (uint8_t *)src[i].iov_base + skip;
		out[k].iov_len = l;
		k++;
		len -= l;
		skip = 0;
	}
	return k;
}

/* ---- crypto between guest iovecs and the bounce buffer ---- */

/* Position a cursor `skip` bytes into the request's guest buffers. */
static struct cur cur_at(const struct req *r, size_t skip)
{
	struct cur c = { r->data, r->ndata, 0, 0 };

	while (c.i < c.n && skip >= c.iov[c.i].iov_len) {
		skip -= c.iov[c.i].iov_len;
		c.i++;
	}
	c.off = skip;
	return c;
}

/* Guest bytes [goff, goff+n) -> ciphertext in the bounce buffer. */
static int encrypt_in(struct blkdev *d, struct req *r, size_t goff, size_t n)
{
	struct cur c = cur_at(r, goff);
	uint64_t first = (r->off + goff) >> XTS_SECTOR_SHIFT;
	uint8_t tmp[XTS_SECTOR_SIZE];

	for (size_t s = 0; s < n / XTS_SECTOR_SIZE; s++) {
		uint8_t *dst = r->buf + s * XTS_SECTOR_SIZE;
		uint8_t *src = cur_span(&c, XTS_SECTOR_SIZE);

		if (!src) {
			cur_xfer(&c, tmp, XTS_SECTOR_SIZE, false);
			src = tmp;
		}
		if (d->xts) {
			if (xts_crypt_unit(d->xts, true, first + s, src, dst, XTS_SECTOR_SIZE))
				return -EIO;
		} else {
			memcpy(dst, src, XTS_SECTOR_SIZE);
		}
	}
	return 0;
}

/* Ciphertext in the bounce buffer -> plaintext at guest bytes [goff, goff+n). */
static int decrypt_out(struct blkdev *d, struct req *r, size_t goff, size_t n)
{
	struct cur c = cur_at(r, goff);
	uint64_t first = (r->off + goff) >> XTS_SECTOR_SHIFT;

	for (size_t s = 0; s < n / XTS_SECTOR_SIZE; s++) {
		uint8_t *src = r->buf + s * XTS_SECTOR_SIZE;
		struct cur save = c;
		uint8_t *dst = cur_span(&c, XTS_SECTOR_SIZE);

		if (dst) {
			if (d->xts && xts_crypt_unit(d->xts, false, first + s, src, dst, XTS_SECTOR_SIZE))
				return -EIO;
			if (!d->xts)
				memcpy(dst, src, XTS_SECTOR_SIZE);
			continue;
		}
		/* Sector straddles guest buffers: decrypt in place in the
		 * bounce buffer, then scatter. */
		c = save;
		if (d->xts && xts_crypt_unit(d->xts, false, first + s, src, src, XTS_SECTOR_SIZE))
			return -EIO;
		cur_xfer(&c, src, XTS_SECTOR_SIZE, true);
	}
	return 0;
}

/* Guest bytes [goff, goff+n) hold ciphertext read from the store: decrypt
 * them where they are. A sector that straddles guest buffers is gathered
 * into a stack copy, decrypted and scattered back; the copy is wiped. */
static int decrypt_in_place(struct blkdev *d, struct req *r, size_t goff, size_t n)
{
	struct cur c = cur_at(r, goff);
	uint64_t first = (r->off + goff) >> XTS_SECTOR_SHIFT;
	uint8_t tmp[XTS_SECTOR_SIZE];
	int rc = 0;

	for (size_t s = 0; s < n / XTS_SECTOR_SIZE && !rc; s++) {
		struct cur save = c;
		uint8_t *p = cur_span(&c, XTS_SECTOR_SIZE);

		if (p) {
			rc = xts_crypt_unit(d->xts, false, first + s, p, p, XTS_SECTOR_SIZE);
			continue;
		}
		c = save;
		cur_xfer(&c, tmp, XTS_SECTOR_SIZE, false);
		rc = xts_crypt_unit(d->xts, false, first + s, tmp, tmp, XTS_SECTOR_SIZE);
		c = save;
		if (!rc)
			cur_xfer(&c, tmp, XTS_SECTOR_SIZE, true);
		OPENSSL_cleanse(tmp, sizeof(tmp));
	}
	return rc ? -EIO : 0;
}

/* A failed in-place read: the guest's buffers may hold ciphertext and part
 * plaintext; it gets zeroes instead (virtio leaves them undefined). */
static void wipe_guest(struct req *r)
{
	for (unsigned int i = 0; i < r->ndata; i++)
		memset(r->data[i].iov_base, 0, r->data[i].iov_len);
}

/* ---- requests ---- */

static struct req *req_get(struct blkdev *d)
{
	struct req *r = d->free;

	if (r) {
		d->free = r->next;
		return r;
	}
	r = calloc(1, sizeof(*r));
	return r;
}

static void req_put(struct blkdev *d, struct req *r)
{
	r->next = d->free;
	d->free = r;
}

/* Bounce buffers hold one chunk of a request, small enough to stay in the
 * CPU cache between the store copy and the cipher pass. */
static int req_buf(struct req *r)
{
	if (r->bufcap >= BOUNCE_CHUNK)
		return 0;
	if (posix_memalign((void **)&r->buf, 4096, BOUNCE_CHUNK))
		return -ENOMEM;
	r->bufcap = BOUNCE_CHUNK;
	return 0;
}

static void count(struct blkdev *d, const struct req *r, uint8_t st)
{
	unsigned op = r->type == VIRTIO_BLK_T_IN ? BLKCTL_OP_READ :
		      r->type == VIRTIO_BLK_T_OUT ? BLKCTL_OP_WRITE :
		      r->type == VIRTIO_BLK_T_FLUSH ? BLKCTL_OP_FLUSH : BLKCTL_OP_OTHER;

	atomic_fetch_add(&d->io_ops[op], 1);
	if (st != VIRTIO_BLK_S_OK)
		atomic_fetch_add(&d->errors, 1);
	else if (op == BLKCTL_OP_READ)
		atomic_fetch_add(&d->bytes_read, r->total);
	else if (op == BLKCTL_OP_WRITE)
		atomic_fetch_add(&d->bytes_written, r->len);
	metrics_hist_observe(&d->lat, metrics_now_ns() - r->t0);
}

_Static_assert(BLKCTL_STATS_BUCKETS == METRICS_LATENCY_BUCKETS + 1,
	       "the wire format carries every bucket of a metrics histogram");

void blkdev_stats(struct blkdev *d, struct blkctl_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < BLKCTL_NOPS; i++)
		out->ops[i] = atomic_load(&d->io_ops[i]);
	out->bytes_read = atomic_load(&d->bytes_read);
	out->bytes_written = atomic_load(&d->bytes_written);
	out->errors = atomic_load(&d->errors);
	out->lat_count = atomic_load(&d->lat.count);
	out->lat_sum_ns = atomic_load(&d->lat.sum_ns);
	for (unsigned i = 0; i < BLKCTL_STATS_BUCKETS; i++)
		out->lat_bucket[i] = atomic_load(&d->lat.bucket[i]);
}

static void complete(struct blkdev *d, struct req *r, uint8_t st)
{
	struct vu_vring *vr = &d->vu.vr[r->q];
	uint32_t written = 1;

	count(d, r, st);
	if (st != VIRTIO_BLK_S_OK && r->inplace)
		wipe_guest(r);
	if (st == VIRTIO_BLK_S_OK &&
	    (r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_GET_ID))
		written += (uint32_t)r->total;
	*r->status = st;
	if (!vr->vq.broken) {
		vq_push(&vr->vq, r->c.head, written);
		d->notify |= 1u << r->q;
	}
	d->inflight[r->q]--;
	d->inflight_total--;
	req_put(d, r);
}

static struct io_uring_sqe *get_sqe(struct blkdev *d);

/* Every SQE names the store by its registered slot, with no other flag:
 * the ring refuses anything else (ringpool.c). */
static void store_sqe(struct io_uring_sqe *sqe, struct req *r)
{
	io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
	io_uring_sqe_set_data(sqe, r);
}

static bool chunk_progress(struct blkdev *d, struct req *r, int res);

/* Page-cache stores (buffered files): a transfer that cannot block is
 * cheaper done right here than handed to an io_uring worker thread. RWF_NOWAIT
 * fails with EAGAIN whenever it would block, and then io_uring takes it; a
 * store that refuses RWF_NOWAIT (tmpfs, on kernel 6.18) goes to io_uring
 * from then on. Doing tmpfs transfers inline without the flag was measured
 * and is slower, per core too: the worker copies while this thread decrypts
 * (docs/benchmarks.md). Returns flags for preadv2/pwritev2, or -1 to use
 * io_uring. */
static int inline_flags(struct blkdev *d)
{
	return d->b.direct || !d->nowait_ok ? -1 : RWF_NOWAIT;
}

/* Returns bytes moved, or 0 to use io_uring. */
static ssize_t try_nowait(struct blkdev *d, struct req *r)
{
	struct iovec v = { r->buf + r->cdone, r->chunk - r->cdone };
	off_t at = (off_t)(r->off + r->done + r->cdone);
	int fl = inline_flags(d);
	ssize_t n;

	if (fl < 0)
		return 0;
	n = r->type == VIRTIO_BLK_T_IN ? preadv2(d->b.fd, &v, 1, at, fl)
				       : pwritev2(d->b.fd, &v, 1, at, fl);
	if (n < 0 && errno == EOPNOTSUPP && fl)
		d->nowait_ok = false;
	return n > 0 ? n : 0;
}

static bool direct_progress(struct blkdev *d, struct req *r, int res);

/* Zero-copy transfers (try_nowait's twin): straight between the store and
 * the guest's buffers. An in-place read moves BOUNCE_CHUNK at a time, so each
 * piece is decrypted while it is still in cache; the rest move whole. */
static ssize_t try_nowait_direct(struct blkdev *d, struct req *r)
{
	size_t left = r->len - r->done;
	size_t want = r->inplace && left > BOUNCE_CHUNK ? BOUNCE_CHUNK : left;
	unsigned int n = slice(r->data, r->ndata, r->done, want, r->cur);
	off_t at = (off_t)(r->off + r->done);
	int fl = inline_flags(d);
	ssize_t m;

	if (fl < 0)
		return 0;
	m = r->type == VIRTIO_BLK_T_IN ? preadv2(d->b.fd, r->cur, (int)n, at, fl)
				       : pwritev2(d->b.fd, r->cur, (int)n, at, fl);
	if (m < 0 && errno == EOPNOTSUPP && fl)
		d->nowait_ok = false;
	return m > 0 ? m : 0;
}

static void submit_rw(struct blkdev *d, struct req *r)
{
	struct io_uring_sqe *sqe;
	bool rd = r->type == VIRTIO_BLK_T_IN;
	ssize_t n;

	if (r->bounce) {
		while ((n = try_nowait(d, r)) > 0)
			if (!chunk_progress(d, r, (int)n))
				return; /* completed */
	} else {
		while ((n = try_nowait_direct(d, r)) > 0)
			if (!direct_progress(d, r, (int)n))
				return;
	}
	sqe = get_sqe(d);
	if (r->bounce) {
		/* The current chunk: [done, done + chunk), cdone of it moved. */
		uint8_t *p = r->buf + r->cdone;
		unsigned int n = (unsigned int)(r->chunk - r->cdone);
		uint64_t at = r->off + r->done + r->cdone;

		if (rd)
			io_uring_prep_read(sqe, RINGPOOL_STORE_SLOT, p, n, at);
		else
			io_uring_prep_write(sqe, RINGPOOL_STORE_SLOT, p, n, at);
	} else {
		/* Zero copy: what is not done yet, in one request (r->cur
		 * stays valid until it completes). */
		unsigned int k = slice(r->data, r->ndata, r->done, r->len - r->done, r->cur);

		if (rd)
			io_uring_prep_readv(sqe, RINGPOOL_STORE_SLOT, r->cur, k, r->off + r->done);
		else
			io_uring_prep_writev(sqe, RINGPOOL_STORE_SLOT, r->cur, k, r->off + r->done);
	}
	store_sqe(sqe, r);
}

/* Set up the chunk at r->done of a bounce-buffered request; a write chunk
 * is encrypted into the bounce buffer here. */
static int prep_chunk(struct blkdev *d, struct req *r)
{
	r->chunk = r->len - r->done < BOUNCE_CHUNK ? r->len - r->done : BOUNCE_CHUNK;
	r->cdone = 0;
	if (r->type == VIRTIO_BLK_T_OUT && encrypt_in(d, r, r->done, r->chunk))
		return -EIO;
	return 0;
}

/* Account `res` bytes (>= 0) moved for the current chunk. Returns true when
 * more I/O must be submitted, false when the request was completed. */
static bool chunk_progress(struct blkdev *d, struct req *r, int res)
{
	if (res == 0 && r->type == VIRTIO_BLK_T_IN) {
		memset(r->buf + r->cdone, 0, r->chunk - r->cdone); /* sparse tail */
		res = (int)(r->chunk - r->cdone);
	} else if (res == 0) {
		complete(d, r, VIRTIO_BLK_S_IOERR);
		return false;
	}
	r->cdone += (size_t)res;
	if (r->cdone < r->chunk)
		return true;
	if (r->type == VIRTIO_BLK_T_IN && decrypt_out(d, r, r->done, r->chunk)) {
		complete(d, r, VIRTIO_BLK_S_IOERR);
		return false;
	}
	r->done += r->chunk;
	if (r->done == r->len) {
		complete(d, r, VIRTIO_BLK_S_OK);
		return false;
	}
	if (prep_chunk(d, r)) {
		complete(d, r, VIRTIO_BLK_S_IOERR);
		return false;
	}
	return true;
}

/* Account `res` bytes (>= 0) moved by a zero-copy transfer; an in-place read
 * decrypts every sector that has fully landed. Returns true when more I/O
 * must be submitted, false when the request was completed. */
static bool direct_progress(struct blkdev *d, struct req *r, int res)
{
	size_t landed;

	if (res == 0 && r->inplace) {
		/* Past the store's end: zeroes, decrypted like any ciphertext
		 * (as the bounce path always did). */
		struct cur c = cur_at(r, r->done);
		size_t n = r->len - r->done;

		while (n) {
			size_t l = n < XTS_SECTOR_SIZE ? n : XTS_SECTOR_SIZE;
			static const uint8_t zero[XTS_SECTOR_SIZE];

			cur_xfer(&c, (uint8_t *)zero, l, true);
			n -= l;
		}
		res = (int)(r->len - r->done);
	} else if (res == 0) {
		complete(d, r, VIRTIO_BLK_S_IOERR);
		return false;
	}
#ifdef WARD_TEST_HOOKS
	/* A torn read: the store delivers all but half a sector of the last
	 * transfer, then fails. The guest must be left with zeroes. */
	if (d->test_torn && r->inplace && r->done + (size_t)res == r->len &&
	    r->len > XTS_SECTOR_SIZE) {
		r->done += (size_t)res - XTS_SECTOR_SIZE / 2;
		landed = r->done & ~(size_t)(XTS_SECTOR_SIZE - 1);
		if (landed > r->dec && !decrypt_in_place(d, r, r->dec, landed - r->dec))
			r->dec = landed;
		log_warn("test hook: torn read", "volume=%s", d->id);
		complete(d, r, VIRTIO_BLK_S_IOERR);
		return false;
	}
#endif
	r->done += (size_t)res;
	landed = r->done & ~(size_t)(XTS_SECTOR_SIZE - 1);
	if (r->inplace && landed > r->dec) {
		if (decrypt_in_place(d, r, r->dec, landed - r->dec)) {
			complete(d, r, VIRTIO_BLK_S_IOERR);
			return false;
		}
		r->dec = landed;
	}
	if (r->done < r->len)
		return true;
	complete(d, r, VIRTIO_BLK_S_OK);
	return false;
}

static void on_cqe(struct blkdev *d, struct req *r, int res)
{
	if (r->type == VIRTIO_BLK_T_FLUSH) {
		complete(d, r, res < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
		return;
	}
	if (res < 0) {
		log_warn("backing I/O failed", "volume=%s errno=%s", d->id, errname(-res));
		complete(d, r, VIRTIO_BLK_S_IOERR);
		return;
	}
	if (r->bounce ? chunk_progress(d, r, res) : direct_progress(d, r, res))
		submit_rw(d, r);
}

/* Completions are copied out and the CQ advanced before any is handled:
 * handling one may submit more I/O (next chunk, short transfer), and with a
 * full SQ that waits for and reaps completions itself. */
static void reap(struct blkdev *d)
{
	for (;;) {
		struct io_uring_cqe *cqes[64];
		struct { struct req *r; int res; } done[64];
		unsigned int n = io_uring_peek_batch_cqe(d->ring, cqes, 64);

		if (!n)
			break;
		for (unsigned int i = 0; i < n; i++) {
			done[i].r = io_uring_cqe_get_data(cqes[i]);
			done[i].res = cqes[i]->res;
		}
		io_uring_cq_advance(d->ring, n);
		for (unsigned int i = 0; i < n; i++)
			on_cqe(d, done[i].r, done[i].res);
	}
	if (io_uring_sq_ready(d->ring))
		io_uring_submit(d->ring);
}

static struct io_uring_sqe *get_sqe(struct blkdev *d)
{
	struct io_uring_sqe *sqe;

	while (!(sqe = io_uring_get_sqe(d->ring))) {
		struct io_uring_cqe *cqe;

		io_uring_submit(d->ring);
		if (io_uring_wait_cqe(d->ring, &cqe) == 0)
			reap(d);
	}
	return sqe;
}

/* Wait for in-flight requests of queue q (all for q < 0). */
static void drain(struct blkdev *d, int q)
{
	while (q < 0 ? d->inflight_total : d->inflight[q]) {
		struct io_uring_cqe *cqe;

		io_uring_submit(d->ring);
		if (io_uring_wait_cqe(d->ring, &cqe) == 0)
			reap(d);
	}
	for (unsigned int i = 0; i < d->nq; i++)
		if (d->notify & (1u << i))
			vu_dev_notify(&d->vu, i);
	d->notify = 0;
}

static void quiesce(struct vu_dev *vu, int q)
{
	drain(vu->priv, q);
}

/* Synchronous path: NBD stores, and writes of zeroes. */
static uint8_t sync_rw(struct blkdev *d, struct req *r)
{
	int rc;

	if (req_buf(r))
		return VIRTIO_BLK_S_IOERR;
	for (size_t done = 0; done < r->len; done += BOUNCE_CHUNK) {
		size_t n = r->len - done < BOUNCE_CHUNK ? r->len - done : BOUNCE_CHUNK;

		if (r->type == VIRTIO_BLK_T_IN) {
			rc = backing_pread(&d->b, r->buf, n, r->off + done);
			if (!rc)
				rc = decrypt_out(d, r, done, n);
		} else {
			rc = encrypt_in(d, r, done, n);
			if (!rc)
				rc = backing_pwrite(&d->b, r->buf, n, r->off + done);
		}
		if (rc)
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

static uint8_t write_zeroes(struct blkdev *d, struct req *r)
{
	struct { uint64_t sector; uint32_t num; uint32_t flags; } seg;
	const size_t chunk = 256 * 1024;
	uint8_t *z = NULL;
	uint64_t off, len;
	uint8_t st = VIRTIO_BLK_S_IOERR;

	if (r->len != sizeof(seg))
		return VIRTIO_BLK_S_UNSUPP; /* we advertise one segment */
	vq_iov_to_buf(r->data, r->ndata, 0, &seg, sizeof(seg));
	if (seg.flags & ~1u || (r->type == VIRTIO_BLK_T_DISCARD && seg.flags))
		return VIRTIO_BLK_S_UNSUPP;
	off = seg.sector * 512;
	len = (uint64_t)seg.num * 512;
	if (seg.sector > d->size / 512 || off % XTS_SECTOR_SIZE || len % XTS_SECTOR_SIZE ||
	    seg.num > BLK_ZERO_MAX_SECTORS || off + len > d->size)
		return VIRTIO_BLK_S_IOERR;
	if (posix_memalign((void **)&z, 4096, chunk))
		return VIRTIO_BLK_S_IOERR;
	/* Discard is implemented as write-zeroes: a hole would decrypt to
	 * noise, and zeroes never leak anything. */
	for (uint64_t done = 0; done < len;) {
		size_t n = len - done < chunk ? (size_t)(len - done) : chunk;

		memset(z, 0, n);
		if (d->xts && xts_encrypt_sectors(d->xts, (off + done) >> XTS_SECTOR_SHIFT,
						  z, z, n / XTS_SECTOR_SIZE))
			goto out;
		if (backing_pwrite(&d->b, z, n, off + done))
			goto out;
		done += n;
	}
	st = VIRTIO_BLK_S_OK;
out:
	free(z);
	return st;
}

/* Requests in 512-byte units that do not cover whole 4096-byte XTS sectors
 * (drivers that ignore blk_size): read-modify-write of the covering sectors,
 * synchronously and with nothing else in flight, so no concurrent write to
 * the same XTS sector can be lost. Slow, but correct. */
static uint8_t rmw(struct blkdev *d, struct req *r)
{
	uint64_t a0 = r->off & ~(uint64_t)(XTS_SECTOR_SIZE - 1);
	uint64_t a1 = (r->off + r->len + XTS_SECTOR_SIZE - 1) & ~(uint64_t)(XTS_SECTOR_SIZE - 1);
	size_t n = (size_t)(a1 - a0), skip = (size_t)(r->off - a0);
	uint8_t *buf = NULL;
	uint8_t st = VIRTIO_BLK_S_IOERR;

	/* Everything but this request itself. */
	while (d->inflight_total > 1) {
		struct io_uring_cqe *cqe;

		io_uring_submit(d->ring);
		if (io_uring_wait_cqe(d->ring, &cqe) == 0)
			reap(d);
	}
	if (posix_memalign((void **)&buf, 4096, n))
		return st;
	if (backing_pread(&d->b, buf, n, a0))
		goto out;
	if (d->xts && xts_decrypt_sectors(d->xts, a0 >> XTS_SECTOR_SHIFT, buf, buf, n / XTS_SECTOR_SIZE))
		goto out;
	if (r->type == VIRTIO_BLK_T_IN) {
		vq_buf_to_iov(r->data, r->ndata, 0, buf + skip, r->len);
	} else {
		vq_iov_to_buf(r->data, r->ndata, 0, buf + skip, r->len);
		if (d->xts && xts_encrypt_sectors(d->xts, a0 >> XTS_SECTOR_SHIFT, buf, buf, n / XTS_SECTOR_SIZE))
			goto out;
		if (backing_pwrite(&d->b, buf, n, a0))
			goto out;
	}
	st = VIRTIO_BLK_S_OK;
out:
	OPENSSL_cleanse(buf, n); /* plaintext of neighbouring sectors */
	free(buf);
	return st;
}

static bool iov_aligned(const struct iovec *iov, unsigned int n, uintptr_t align)
{
	for (unsigned int i = 0; i < n; i++)
		if (((uintptr_t)iov[i].iov_base | iov[i].iov_len) & (align - 1))
			return false;
	return true;
}

/* Parse and start one request. Returns a status to complete with now, or
 * -1 when the request went to io_uring. */
static int start_req(struct blkdev *d, struct req *r)
{
	struct vq_chain *c = &r->c;
	struct { uint32_t type; uint32_t ioprio; uint64_t sector; } h;

	r->t0 = metrics_now_ns();
	r->type = UINT32_MAX;	/* no readable header: counted as "other" */
	if (vq_iov_to_buf(c->iov, c->nout, 0, &h, sizeof(h)) != sizeof(h))
		return VIRTIO_BLK_S_IOERR;
	r->type = h.type;
	r->done = 0;
	r->total = 0;
	switch (h.type) {
	case VIRTIO_BLK_T_IN:
		r->len = c->in_bytes - 1;
		r->ndata = slice(c->iov + c->nout, c->nin, 0, r->len, r->data);
		break;
	case VIRTIO_BLK_T_OUT: case VIRTIO_BLK_T_DISCARD: case VIRTIO_BLK_T_WRITE_ZEROES:
		if (d->readonly)
			return VIRTIO_BLK_S_IOERR;
		r->len = c->out_bytes - sizeof(h);
		r->ndata = slice(c->iov, c->nout, sizeof(h), r->len, r->data);
		if (h.type != VIRTIO_BLK_T_OUT)
			return write_zeroes(d, r);
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (d->b.kind == BACKING_NBD)
			return backing_flush(&d->b) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
		{
			struct io_uring_sqe *sqe = get_sqe(d);

			io_uring_prep_fsync(sqe, RINGPOOL_STORE_SLOT, IORING_FSYNC_DATASYNC);
			store_sqe(sqe, r);
		}
		return -1;
	case VIRTIO_BLK_T_GET_ID:
		r->len = c->in_bytes - 1 < 20 ? c->in_bytes - 1 : 20;
		r->ndata = slice(c->iov + c->nout, c->nin, 0, r->len, r->data);
		r->total = r->len;
		{
			char serial[20] = { 0 }; /* NUL-padded, not terminated at 20 */

			memcpy(serial, d->id, strnlen(d->id, sizeof(serial)));
			vq_buf_to_iov(r->data, r->ndata, 0, serial, r->len);
		}
		return VIRTIO_BLK_S_OK;
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
	/* IN / OUT: 512-byte units inside the volume. */
	if (h.sector > d->size / 512 || r->len % 512 || h.sector * 512 + r->len > d->size)
		return VIRTIO_BLK_S_IOERR;
	r->off = h.sector * 512;
	r->total = r->len;
	if (r->len == 0)
		return VIRTIO_BLK_S_OK;
	/* We advertise blk_size 4096; a driver that still sends partial XTS
	 * sectors takes the slow path. */
	if (r->off % XTS_SECTOR_SIZE || r->len % XTS_SECTOR_SIZE)
		return rmw(d, r);
	if (d->b.kind == BACKING_NBD)
		return sync_rw(d, r);
	/* Reads land in the guest's buffers and are decrypted there (XTS
	 * works in place): no bounce buffer, no second copy. Writes are
	 * encrypted into a private buffer: guest memory is never altered.
	 * O_DIRECT needs buffers aligned to the device's logical block: 512
	 * bytes on most, 4096 on 4Kn devices. The bounce buffer always was
	 * page-aligned, so an encrypted read goes in place only when the
	 * guest's buffers are too; unencrypted volumes keep 512. */
	{
		bool dio_ok = !d->b.direct || iov_aligned(r->data, r->ndata, 512);
		bool dio_4k = !d->b.direct || iov_aligned(r->data, r->ndata, XTS_SECTOR_SIZE);

		r->dec = 0;
		r->inplace = d->xts && r->type == VIRTIO_BLK_T_IN && dio_4k;
		r->bounce = !r->inplace && (d->xts || !dio_ok);
	}
	if (r->bounce) {
		if (req_buf(r) || prep_chunk(d, r))
			return VIRTIO_BLK_S_IOERR;
		submit_rw(d, r); /* may complete the request right away */
		return -1;
	}
	submit_rw(d, r);
	return -1;
}

static void process_queue(struct blkdev *d, unsigned int q)
{
	struct vu_vring *vr = &d->vu.vr[q];

	for (;;) {
		for (;;) {
			struct req *r;
			int rc;

			if (!vu_dev_ring_live(&d->vu, q))
				return;
			r = req_get(d);
			if (!r) {
				drain(d, -1); /* out of memory: let I/O finish */
				continue;
			}
			rc = vq_pop(&vr->vq, &r->c);
			if (rc <= 0) {
				req_put(d, r);
				if (rc < 0)
					vu_dev_ring_broken(&d->vu, q, vr->vq.why);
				break;
			}
			r->q = (uint16_t)q;
			r->bounce = false;
			r->inplace = false;
			d->inflight[q]++;
			d->inflight_total++;
			/* The status byte is the last byte the device may write. */
			if (r->c.nin == 0 || r->c.in_bytes < 1) {
				d->inflight[q]--;
				d->inflight_total--;
				req_put(d, r);
				vu_dev_ring_broken(&d->vu, q, "request without a status byte");
				return;
			}
			{
				struct iovec *last = &r->c.iov[r->c.nout + r->c.nin - 1];

				r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
			}
			rc = start_req(d, r);
			if (rc >= 0)
				complete(d, r, (uint8_t)rc);
		}
		if (!vq_enable_notify(&vr->vq))
			break;
	}
	io_uring_submit(d->ring);
	reap(d);
}

/* ---- vhost-user device ops ---- */

static int get_config(struct vu_dev *vu, uint8_t *buf, uint32_t off, uint32_t len)
{
	struct blkdev *d = vu->priv;
	uint8_t cfg[VU_MAX_CONFIG_SIZE] = { 0 };
	uint64_t cap = d->size / 512;
	uint32_t v32;
	uint16_t v16;

	memcpy(cfg + 0, &cap, 8);
	v32 = BLK_SEG_MAX; memcpy(cfg + 12, &v32, 4);
	v32 = XTS_SECTOR_SIZE; memcpy(cfg + 20, &v32, 4);
	cfg[24] = 0; /* physical_block_exp: physical == logical (4096) */
	v16 = 1; memcpy(cfg + 26, &v16, 2);  /* min_io_size in blocks */
	v16 = (uint16_t)d->nq; memcpy(cfg + 34, &v16, 2);
	v32 = BLK_ZERO_MAX_SECTORS; memcpy(cfg + 36, &v32, 4);
	v32 = 1; memcpy(cfg + 40, &v32, 4);
	v32 = XTS_SECTOR_SIZE / 512; memcpy(cfg + 44, &v32, 4);
	v32 = BLK_ZERO_MAX_SECTORS; memcpy(cfg + 48, &v32, 4);
	v32 = 1; memcpy(cfg + 52, &v32, 4);
	if ((uint64_t)off + len > sizeof(cfg))
		return -EINVAL;
	memcpy(buf, cfg + off, len);
	return 0;
}

static void report(struct blkdev *d, uint32_t ev, const char *msg)
{
	if (d->on_event)
		d->on_event(d->opaque, d->id, ev, msg);
}

static void disconnect(struct blkdev *d)
{
	vu_dev_reset(&d->vu);
	if (d->vu.sock >= 0)
		close(d->vu.sock);
	d->vu.sock = -1;
	d->broken_reported = false;
	log_info("frontend disconnected", "volume=%s", d->id);
}

/* Only the device thread uses the key schedule, so it may drop it. */
static void forget_key(struct blkdev *d)
{
	if (d->xts) {
		xts_destroy(d->xts);
		d->xts = NULL;
		log_info("key destroyed: the frontend is gone", "volume=%s", d->id);
	}
	__atomic_store_n(&d->frontend_gone, true, __ATOMIC_RELEASE);
}

bool blkdev_frontend_gone(const struct blkdev *d)
{
	return __atomic_load_n(&d->frontend_gone, __ATOMIC_ACQUIRE);
}

static void *dev_thread(void *arg)
{
	struct blkdev *d = arg;
	char name[16];

	/* For ps and the sandbox tests; PR_SET_NAME on the calling thread only. */
	memcpy(name, "vol:", 4);
	snprintf(name + 4, sizeof(name) - 4, "%.11s", d->id);
	pthread_setname_np(pthread_self(), name);
	blk_sandbox_test_forbidden("volume");
	ringpool_test_probe(d->pr, d->b.fd);
	for (;;) {
		struct pollfd p[3 + VU_DEV_MAX_QUEUES];
		unsigned int qs[VU_DEV_MAX_QUEUES];
		unsigned int n = 0, nk = 0;
		int rc;

		p[n++] = (struct pollfd){ .fd = d->stop_fd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = d->vu.sock >= 0 ? d->vu.sock : d->listen_fd,
					  .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = d->ring_fd, .events = POLLIN };
		for (unsigned int q = 0; q < d->nq; q++) {
			if (!vu_dev_ring_live(&d->vu, q))
				continue;
			qs[nk++] = q;
			p[n++] = (struct pollfd){ .fd = d->vu.vr[q].kick_fd, .events = POLLIN };
		}
		rc = poll(p, n, -1);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0 || (p[0].revents & POLLIN))
			break;
		if (p[2].revents & POLLIN) {
			uint64_t v;

			if (read(d->ring_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				break;
			reap(d);
		}
		for (unsigned int k = 0; k < nk; k++) {
			uint64_t v;

			if (!(p[3 + k].revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)))
				continue;
			if (read(p[3 + k].fd, &v, sizeof(v)) < 0 && errno != EAGAIN && errno != EINTR) {
				vu_dev_ring_broken(&d->vu, qs[k], "kick fd is not readable");
				continue;
			}
			process_queue(d, qs[k]);
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (d->vu.sock < 0) {
				int s = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);

				if (s >= 0) {
					d->vu.sock = s;
					log_info("frontend connected", "volume=%s", d->id);
				}
			} else {
				rc = vu_dev_dispatch(&d->vu);
				if (rc <= 0) {
					disconnect(d);
					if (d->listen_fd < 0) {
						/* fd mode: the VM is gone and cannot
						 * come back on this socket, so its key
						 * goes now, controller or not. */
						d->listen_fd = -2;
						forget_key(d);
						report(d, BLKCTL_EV_DISCONNECTED, "frontend closed the "
						       "vhost-user socket; key destroyed");
					} else {
						report(d, BLKCTL_EV_DISCONNECTED,
						       "frontend closed the vhost-user socket");
					}
				}
			}
		}
		for (unsigned int q = 0; q < d->nq; q++)
			if (d->notify & (1u << q))
				vu_dev_notify(&d->vu, q);
		d->notify = 0;
		if (d->vu.broken && !d->broken_reported) {
			d->broken_reported = true;
			report(d, BLKCTL_EV_BROKEN, d->vu.why);
		}
		if (d->listen_fd == -2 && d->vu.sock < 0) {
			/* Wait for detach only. */
			struct pollfd sp = { .fd = d->stop_fd, .events = POLLIN };

			while (poll(&sp, 1, -1) < 0 && errno == EINTR)
				;
			break;
		}
	}
	if (d->vu.sock >= 0)
		disconnect(d);
	return NULL;
}

int blkdev_create(struct blkdev **out, const struct blkdev_cfg *cfg, char *err, size_t errlen)
{
	struct blkdev *d;
	int rc;

	*out = NULL;
	if (cfg->num_queues < 1 || cfg->num_queues > VU_DEV_MAX_QUEUES) {
		snprintf(err, errlen, "volume %s: %u queues, 1..%d allowed", cfg->id,
			 cfg->num_queues, VU_DEV_MAX_QUEUES);
		return -EINVAL;
	}
	if (cfg->size == 0 || cfg->size % XTS_SECTOR_SIZE) {
		snprintf(err, errlen, "volume %s: size %llu is not a non-zero multiple of 4096",
			 cfg->id, (unsigned long long)cfg->size);
		return -EINVAL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	snprintf(d->id, sizeof(d->id), "%s", cfg->id);
	d->size = cfg->size;
	d->readonly = cfg->readonly;
	d->nq = cfg->num_queues;
	d->on_event = cfg->on_event;
	d->opaque = cfg->opaque;
	d->stop_fd = d->ring_fd = -1;
	d->nowait_ok = true;
#ifdef WARD_TEST_HOOKS
	d->test_torn = getenv("WARD_BLK_TEST_TORN_READ") != NULL;
#endif
	d->b = *cfg->store;
	d->b.fd = -1;
	d->b.nbd = NULL;
	d->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (d->stop_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto err_backing;
	}
	/* A ring made before lockdown: this process can make no new one. */
	rc = ringpool_get(cfg->pool, cfg->store->kind == BACKING_FILE ? cfg->store->fd : -1,
			  &d->pr, err, errlen);
	if (rc)
		goto err_backing;
	d->ring = &d->pr->uring;
	d->ring_fd = d->pr->efd;

	d->ops.features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_EVENT_IDX) |
		(1ull << VIRTIO_F_RING_INDIRECT_DESC) | (1ull << VIRTIO_BLK_F_SEG_MAX) |
		(1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_FLUSH) |
		(1ull << VIRTIO_BLK_F_TOPOLOGY) | (1ull << VIRTIO_BLK_F_MQ);
	if (cfg->readonly)
		d->ops.features |= 1ull << VIRTIO_BLK_F_RO;
	else
		d->ops.features |= (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES);
	d->ops.protocol_features = (1ull << VU_PROTOCOL_F_MQ) | (1ull << VU_PROTOCOL_F_REPLY_ACK) |
		(1ull << VU_PROTOCOL_F_CONFIG);
	d->ops.num_queues = d->nq;
	d->ops.get_config = get_config;
	d->ops.quiesce = quiesce;
	vu_dev_init(&d->vu, cfg->sock, &d->ops, d);
	d->listen_fd = cfg->listen_fd;
	d->xts = cfg->xts;
	/* Success: the store is the device's now. */
	d->b = *cfg->store;
	cfg->store->fd = -1;
	cfg->store->nbd = NULL;
	log_info("volume attached", "volume=%s size=%llu queues=%u encrypted=%s readonly=%s store=%s",
		 d->id, (unsigned long long)d->size, d->nq, d->xts ? "yes" : "no",
		 d->readonly ? "yes" : "no", d->b.kind == BACKING_NBD ? "nbd" :
		 d->b.direct ? "file-direct" : "file");
	*out = d;
	return 0;
err_backing:
	ringpool_put(d->pr);
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	free(d);
	return rc;
}

int blkdev_start(struct blkdev *d, char *err, size_t errlen)
{
	int rc = pthread_create(&d->thr, NULL, dev_thread, d);

	if (rc) {
		snprintf(err, errlen, "volume %s: cannot start its thread: %s", d->id, strerror(rc));
		return -rc;
	}
	d->started = true;
	return 0;
}

void blkdev_destroy(struct blkdev *d)
{
	uint64_t one = 1;
	struct req *r;

	if (!d)
		return;
	if (d->started) {
		if (write(d->stop_fd, &one, sizeof(one)) < 0)
			log_warn("cannot stop device thread", "volume=%s", d->id);
		pthread_join(d->thr, NULL);
	} else if (d->vu.sock >= 0) {
		close(d->vu.sock); /* never started: the socket is still ours */
	}
	drain(d, -1);
	/* Before the store closes: the ring lets go of its file here. */
	ringpool_put(d->pr);
	close(d->stop_fd);
	if (d->listen_fd >= 0)
		close(d->listen_fd);
	backing_close(&d->b);
	/* Cryptographic detach: the only copy of the key schedule goes. */
	xts_destroy(d->xts);
	while ((r = d->free)) {
		d->free = r->next;
		free(r->buf);
		free(r);
	}
	log_info("volume detached, key wiped", "volume=%s", d->id);
	free(d);
}
