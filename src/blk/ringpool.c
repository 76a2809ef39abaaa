/* blk/ringpool: restricted io_uring rings made before lockdown (ringpool.h).
 * A ring's restrictions (IORING_REGISTER_RESTRICTIONS, kernel 5.10) are set
 * while it is still disabled and cannot be changed afterwards; seccomp then
 * forbids io_uring_setup, so these are the only rings ward-blk can use. */
#include "ringpool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "errmsg.h"
#include "log.h"

#define RING_ENTRIES 256

struct ringpool {
	unsigned int n;
	struct blk_ring rings[];
};

/* Exactly what blkdev.c submits: bounce-buffered chunks (READ, WRITE),
 * zero-copy unencrypted requests (READV, WRITEV), FLUSH (FSYNC). */
static const uint8_t ring_ops[] = {
	IORING_OP_READ, IORING_OP_WRITE, IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC,
};

/* Every SQE must carry IOSQE_FIXED_FILE and nothing else (no SQE_FLAGS_ALLOWED
 * entry: no links, drains, async or buffer selection), so a request can only
 * name the one registered file. After enabling, FILES_UPDATE is the only
 * io_uring_register operation: it installs an fd the process already holds. */
static int ring_restrict(struct io_uring *u)
{
	struct io_uring_restriction res[sizeof(ring_ops) + 2];
	unsigned int n = 0;

	memset(res, 0, sizeof(res));
	for (size_t i = 0; i < sizeof(ring_ops); i++) {
		res[n].opcode = IORING_RESTRICTION_SQE_OP;
		res[n++].sqe_op = ring_ops[i];
	}
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED;
	res[n++].sqe_flags = IOSQE_FIXED_FILE;
	res[n].opcode = IORING_RESTRICTION_REGISTER_OP;
	res[n++].register_op = IORING_REGISTER_FILES_UPDATE;
	/* liburing 2.3 declares io_uring_register_restrictions() and
	 * io_uring_enable_rings() but does not export them (fixed in 2.4). */
	return io_uring_register(u->ring_fd, IORING_REGISTER_RESTRICTIONS, res, n);
}

static int ring_init(struct blk_ring *r, char *err, size_t errlen)
{
	struct io_uring_params prm = { .flags = IORING_SETUP_R_DISABLED };
	const char *step;
	int rc;

	r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->efd < 0) {
		rc = -errno;
		snprintf(err, errlen, "I/O ring: eventfd: %s", strerror(-rc));
		return rc;
	}
	rc = io_uring_queue_init_params(RING_ENTRIES, &r->uring, &prm);
	if (rc) {
		snprintf(err, errlen, "I/O ring: io_uring_setup: %s", strerror(-rc));
		close(r->efd);
		return rc;
	}
	step = "one-slot file table";
	rc = io_uring_register_files_sparse(&r->uring, 1);
	if (!rc) {
		step = "completion eventfd";
		rc = io_uring_register_eventfd(&r->uring, r->efd);
	}
	if (!rc) {
		step = "restrictions";
		rc = ring_restrict(&r->uring);
	}
	if (!rc) {
		step = "enabling";
		rc = io_uring_register(r->uring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	}
	if (rc) {
		snprintf(err, errlen, "I/O ring: %s: %s", step, strerror(-rc));
		io_uring_queue_exit(&r->uring);
		close(r->efd);
		return rc;
	}
	return 0;
}

int ringpool_create(struct ringpool **out, unsigned int n, char *err, size_t errlen)
{
	struct ringpool *p;
	int rc;

	*out = NULL;
	if (n < 1 || n > RINGPOOL_MAX) {
		snprintf(err, errlen, "--max-volumes %u: 1..%d allowed", n, RINGPOOL_MAX);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p) + n * sizeof(p->rings[0]));
	if (!p) {
		snprintf(err, errlen, "I/O rings: out of memory");
		return -ENOMEM;
	}
	for (p->n = 0; p->n < n; p->n++) {
		rc = ring_init(&p->rings[p->n], err, errlen);
		if (rc) {
			ringpool_destroy(p);
			return rc;
		}
	}
	*out = p;
	return 0;
}

void ringpool_destroy(struct ringpool *p)
{
	if (!p)
		return;
	for (unsigned int i = 0; i < p->n; i++) {
		io_uring_queue_exit(&p->rings[i].uring);
		close(p->rings[i].efd);
	}
	free(p);
}

int ringpool_get(struct ringpool *p, int store_fd, struct blk_ring **out,
		 char *err, size_t errlen)
{
	struct blk_ring *r = NULL;
	int rc;

	*out = NULL;
	for (unsigned int i = 0; i < p->n && !r; i++)
		if (!p->rings[i].busy && !p->rings[i].broken)
			r = &p->rings[i];
	if (!r) {
		snprintf(err, errlen, "no free I/O ring: ward-blk was started with --max-volumes %u",
			 p->n);
		return -ENOSPC;
	}
	if (store_fd >= 0) {
		rc = io_uring_register_files_update(&r->uring, RINGPOOL_STORE_SLOT, &store_fd, 1);
		if (rc != 1) {
			rc = rc < 0 ? rc : -EIO;
			snprintf(err, errlen, "cannot install the store in its I/O ring: %s",
				 strerror(-rc));
			return rc;
		}
	}
	r->busy = true;
	*out = r;
	return 0;
}

void ringpool_put(struct blk_ring *r)
{
	int none = -1;
	uint64_t v;

	if (!r)
		return;
	/* The slot first: the store is released, and nothing left in the ring
	 * could reach it or the next volume's store. */
	if (io_uring_register_files_update(&r->uring, RINGPOOL_STORE_SLOT, &none, 1) != 1 ||
	    io_uring_sq_ready(&r->uring)) {
		/* An unsubmitted SQE would run against the next volume's store. */
		log_error("I/O ring cannot be reset, retired from the pool", "fd=%d", r->uring.ring_fd);
		r->broken = true;
	}
	io_uring_cq_advance(&r->uring, io_uring_cq_ready(&r->uring));
	if (read(r->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("I/O ring eventfd not readable", "errno=%s", errname(errno));
	r->busy = false;
}

#ifdef WARD_TEST_HOOKS
/* One SQE, submitted alone (a request the ring refuses at submission ends
 * that io_uring_enter), and its result. */
static int probe_one(struct blk_ring *r, const char *what, uint8_t op, int fd, uint8_t flags,
		     void *buf)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);
	struct io_uring_cqe *cqe;
	int rc, res;

	if (!sqe)
		return -EBUSY;
	if (op == IORING_OP_OPENAT)
		io_uring_prep_openat(sqe, AT_FDCWD, "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	else if (op == IORING_OP_FADVISE)
		io_uring_prep_fadvise(sqe, fd, 0, 4096, POSIX_FADV_NORMAL);
	else
		io_uring_prep_read(sqe, fd, buf, 4096, 0);
	sqe->flags = flags;
	io_uring_sqe_set_data64(sqe, 0x7e57);
	rc = io_uring_submit_and_wait(&r->uring, 1);
	if (rc >= 0)
		rc = io_uring_wait_cqe(&r->uring, &cqe);
	if (rc < 0) {
		log_error("test hook: io_uring probe failed", "op=%s errno=%s", what, errname(-rc));
		return rc;
	}
	res = cqe->res;
	io_uring_cqe_seen(&r->uring, cqe);
	log_warn("test hook: io_uring request on the volume ring", "op=%s res=%d", what, res);
	return 0;
}
#endif

void ringpool_test_probe(struct blk_ring *r, int raw_fd)
{
#ifdef WARD_TEST_HOOKS
	const char *want = getenv("WARD_BLK_TEST_FORBIDDEN");
	const int slot = RINGPOOL_STORE_SLOT;
	/* Not malloc: glibc trimming a thread arena on free() reads /proc,
	 * which the sandbox would punish before the results are logged.
	 * Aligned for O_DIRECT stores. */
	static _Alignas(4096) uint8_t buf[4096];

	if (!want || strcmp(want, "volume/ring-ops") != 0)
		return;
	fprintf(stderr, "test hook: volume thread submits refused requests to its ring\n");
	/* Opcodes outside the list, on a path and on the store itself. */
	probe_one(r, "openat", IORING_OP_OPENAT, AT_FDCWD, 0, buf);
	probe_one(r, "openat-fixed", IORING_OP_OPENAT, slot, IOSQE_FIXED_FILE, buf);
	probe_one(r, "fadvise-fixed", IORING_OP_FADVISE, slot, IOSQE_FIXED_FILE, buf);
	/* An allowed opcode on a raw fd, or with a flag besides FIXED_FILE. */
	probe_one(r, "read-unfixed", IORING_OP_READ, raw_fd, 0, buf);
	probe_one(r, "read-fixed-async", IORING_OP_READ, slot, IOSQE_FIXED_FILE | IOSQE_ASYNC, buf);
	/* The one shape ward-blk uses, so a refusal above is the restriction. */
	probe_one(r, "read-fixed", IORING_OP_READ, slot, IOSQE_FIXED_FILE, buf);
#else
	(void)r;
	(void)raw_fd;
#endif
}
