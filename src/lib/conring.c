/* conring: bounded console ring in secure memory (see conring.h). */
#include "conring.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "secmem.h"

int conring_init(struct conring *r, size_t cap)
{
	memset(r, 0, sizeof(*r));
	if (cap < 4096 || cap > CONRING_MAX || (cap & (cap - 1)))
		return -EINVAL;
	r->buf = secmem_alloc(cap);
	if (!r->buf)
		return -ENOMEM;
	r->cap = cap;
	return 0;
}

void conring_free(struct conring *r)
{
	if (r->buf)
		secmem_free(r->buf, r->cap);	/* wipes */
	memset(r, 0, sizeof(*r));
}

void conring_write(struct conring *r, const void *data, size_t len)
{
	const uint8_t *p = data;

	/* Of a write larger than the ring only its tail can stay. */
	if (len > r->cap) {
		r->written += len - r->cap;
		p += len - r->cap;
		len = r->cap;
	}
	while (len) {
		size_t at = (size_t)(r->written & (r->cap - 1));
		size_t n = r->cap - at < len ? r->cap - at : len;

		memcpy(r->buf + at, p, n);
		r->written += n;
		p += n;
		len -= n;
	}
}

long conring_fill(struct conring *r, int fd)
{
	size_t at = (size_t)(r->written & (r->cap - 1));
	ssize_t n;

	/* The bytes at [at, at + n) are the oldest ones: a read overwrites
	 * exactly what conring_write would. */
	do {
		n = read(fd, r->buf + at, r->cap - at);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	r->written += (uint64_t)n;
	return (long)n;
}

size_t conring_read(const struct conring *r, uint64_t from, void *out, size_t len,
		    uint64_t *start)
{
	uint64_t oldest = r->written > r->cap ? r->written - r->cap : 0;
	uint8_t *o = out;
	size_t done = 0;

	if (from < oldest)
		from = oldest;
	*start = from;
	if (from >= r->written)
		return 0;
	if (len > r->written - from)
		len = (size_t)(r->written - from);
	while (done < len) {
		size_t at = (size_t)((from + done) & (r->cap - 1));
		size_t n = r->cap - at < len - done ? r->cap - at : len - done;

		memcpy(o + done, r->buf + at, n);
		done += n;
	}
	return done;
}
