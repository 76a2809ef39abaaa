/* conring: the bounded ring that holds an instance's serial console on the
 * card side (issue 16 §3; docs/observability.md "Serial console"). The
 * console is the customer's data: the ring lives in secure memory (not in
 * core dumps, wiped when freed), writes never block and overwrite the
 * oldest bytes, and a reader asks by absolute offset and learns what it
 * missed. One writer and readers on the same thread (no locking). */
#ifndef WARD_CONRING_H
#define WARD_CONRING_H

#include <stddef.h>
#include <stdint.h>

#define CONRING_MAX (1u << 20)	/* largest ring: 1 MiB */

struct conring {
	uint8_t *buf;
	size_t cap;		/* a power of two, 4 KiB .. CONRING_MAX */
	uint64_t written;	/* bytes ever written: the next byte's offset */
};

/* 0, -EINVAL (cap not a power of two in range) or -ENOMEM. */
int conring_init(struct conring *r, size_t cap);
void conring_free(struct conring *r);	/* wipes */

void conring_write(struct conring *r, const void *data, size_t len);

/* One read(2) from fd straight into the ring at the write position (up to
 * the wrap point), so console bytes never pass through another buffer that
 * would need wiping. Returns the bytes read, 0 at EOF, or -errno (-EAGAIN
 * on an empty non-blocking fd). */
long conring_fill(struct conring *r, int fd);

/* Up to len bytes from absolute offset from into out. Bytes before the
 * oldest one kept are gone: the copy starts at max(from, oldest), told in
 * *start (so *start - from bytes were lost). Returns the bytes copied;
 * 0 when from is at or past the end. */
size_t conring_read(const struct conring *r, uint64_t from, void *out, size_t len,
		    uint64_t *start);

#endif
