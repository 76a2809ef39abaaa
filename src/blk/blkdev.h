/* blkdev: one ward-blk volume served as a vhost-user-blk device. Each device
 * has its own thread, io_uring (borrowed from ringpool.h) and vhost-user
 * connection; a malformed ring stops that device only. */
#ifndef WARD_BLK_BLKDEV_H
#define WARD_BLK_BLKDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "backing.h"
#include "blkctl.h"

struct blkdev;
struct ringpool;
struct xts_ctx;

/* Called from the device thread when the device breaks or its frontend
 * goes away (event is enum blkctl_event). */
typedef void (*blkdev_event_fn)(void *opaque, const char *id, uint32_t event,
				const char *msg);

struct blkdev_cfg {
	const char *id;
	struct backing *store;  /* open store; moved into the device on success */
	uint64_t size;
	bool readonly;
	unsigned int num_queues;
	struct xts_ctx *xts;    /* NULL: no encryption. Owned by the device. */
	int sock;               /* connected vhost-user socket, or -1 */
	int listen_fd;          /* standalone: accept connections here, or -1 */
	struct ringpool *pool;  /* the device borrows its io_uring from here */
	blkdev_event_fn on_event;
	void *opaque;
};

/* Set up the device on an already open store: its stop eventfd, and a ring
 * borrowed from cfg->pool with the store in its file table (-ENOSPC when the
 * pool is empty). No thread yet, so standalone mode can create every device
 * before the single-threaded sandbox setup. On failure the store, the xts
 * context and the fds in cfg are still the caller's. */
int blkdev_create(struct blkdev **out, const struct blkdev_cfg *cfg, char *err, size_t errlen);

/* Start the device thread. Returns 0 or negative errno (then only
 * blkdev_destroy is left to do). */
int blkdev_start(struct blkdev *d, char *err, size_t errlen);

/* Stop the thread, finish in-flight I/O, give the ring back (its file slot
 * emptied), close everything and wipe the key schedule (cryptographic
 * detach). */
void blkdev_destroy(struct blkdev *d);

const char *blkdev_id(const struct blkdev *d);

/* fd mode: the frontend closed its socket, so the VM is gone and the key
 * schedule has already been destroyed; only DETACH is left to do. */
bool blkdev_frontend_gone(const struct blkdev *d);
/* Its I/O counters since creation (BLKCTL_STATS; docs/observability.md). */
void blkdev_stats(struct blkdev *d, struct blkctl_stats *out);

#endif
