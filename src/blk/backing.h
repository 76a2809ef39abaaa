/* backing: where a ward-blk volume's ciphertext lives. A local file or block
 * device (driven through io_uring by blkdev.c; the synchronous calls here are
 * for the slow paths), or a remote NBD export through libnbd. Controller mode
 * receives the store as an fd (backing_open_fd); standalone mode opens a path
 * or connects a URI (backing_open), both before the sandbox closes. */
#ifndef WARD_BLK_BACKING_H
#define WARD_BLK_BACKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nbd_handle;

enum backing_kind { BACKING_FILE, BACKING_NBD };

struct backing {
	enum backing_kind kind;
	int fd;                 /* BACKING_FILE */
	bool direct;            /* opened with O_DIRECT */
	bool memory;            /* on tmpfs: a transfer never waits for a device */
	struct nbd_handle *nbd; /* BACKING_NBD */
	uint64_t size;          /* usable bytes of the store */
};

/* spec: "PATH", "file:PATH", or an NBD URI ("nbd://host:port/export",
 * "nbd+unix:///export?socket=PATH"). `create` lets a missing file be created
 * and a short one extended to `size` (standalone use). */
int backing_open(struct backing *b, const char *spec, uint64_t size, bool readonly,
		 bool create, char *err, size_t errlen);
/* Take ownership of fd (closed on failure too). nbd: fd is a connected
 * socket to an NBD server, export_name the export to use; otherwise a
 * regular file or block device whose access mode matches `readonly`.
 * `what` names the store in error messages. */
int backing_open_fd(struct backing *b, int fd, bool nbd, const char *export_name,
		    uint64_t size, bool readonly, const char *what, char *err, size_t errlen);
void backing_close(struct backing *b);

int backing_pread(struct backing *b, void *buf, size_t len, uint64_t off);
int backing_pwrite(struct backing *b, const void *buf, size_t len, uint64_t off);
int backing_flush(struct backing *b);

#endif
