/* blk/ringpool: the io_uring rings of ward-blk, all created before lockdown.
 * io_uring requests never pass through seccomp, so io_uring_setup is not on
 * the allowlist and every ring ward-blk will ever have is made here, disabled,
 * with a one-slot registered-file table, its completion eventfd and
 * IORING_REGISTER_RESTRICTIONS (read/write/fsync of the fixed file only), and
 * only then enabled. ATTACH borrows one (blkdev.c) and puts the volume's store
 * into slot 0; DETACH empties the slot and gives the ring back. */
#ifndef WARD_BLK_RINGPOOL_H
#define WARD_BLK_RINGPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include <liburing.h>

#define RINGPOOL_MAX 64		/* = ward-blk's MAX_VOLUMES */
#define RINGPOOL_STORE_SLOT 0	/* registered-file index of the store */

struct blk_ring {
	struct io_uring uring;
	int efd;		/* completion eventfd, registered with the ring */
	bool busy;
	bool broken;		/* could not be reset: never lent again */
};

struct ringpool;

/* n rings (1..RINGPOOL_MAX). Before lockdown: needs io_uring_setup and
 * io_uring_register operations the sandbox forbids afterwards. */
int ringpool_create(struct ringpool **out, unsigned int n, char *err, size_t errlen);
/* Every ring must have been put back. */
void ringpool_destroy(struct ringpool *p);

/* Lend a free ring with store_fd (a file or block device; -1 for none, e.g.
 * an NBD store) in slot RINGPOOL_STORE_SLOT. -ENOSPC names --max-volumes. */
int ringpool_get(struct ringpool *p, int store_fd, struct blk_ring **out,
		 char *err, size_t errlen);
/* Give a ring back once none of its requests is in flight: empties the slot
 * (the store file is released), discards any CQE left and resets the
 * eventfd, so the next volume starts clean. */
void ringpool_put(struct blk_ring *r);

/* Test builds, WARD_BLK_TEST_FORBIDDEN=volume/ring-ops: submit requests the
 * ring's restrictions refuse (OPENAT, a READ of raw_fd without
 * IOSQE_FIXED_FILE) and one they allow, and log each result. Call on the
 * thread that owns the ring, before any I/O. */
void ringpool_test_probe(struct blk_ring *r, int raw_fd);

#endif
