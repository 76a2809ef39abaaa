/* bus: port-I/O and MMIO ranges of the device models, looked up on every
 * userspace exit. A handful of ranges per VM, so a linear scan is the
 * simplest correct structure. */
#include "hv/bus.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

struct bus {
	struct bus_range r[BUS_MAX_RANGES];
	int n;
};

static struct bus buses[2];
static pthread_mutex_t bus_lock = PTHREAD_MUTEX_INITIALIZER;

static bool overlaps(const struct bus *b, uint64_t base, uint64_t len, int skip)
{
	for (int i = 0; i < b->n; i++)
		if (i != skip && base < b->r[i].base + b->r[i].len &&
		    b->r[i].base < base + len)
			return true;
	return false;
}

static int bus_add_locked(struct bus *b, uint64_t base, uint64_t len,
			  bus_io_fn fn, void *opaque)
{
	if (len == 0 || base + len < base)
		return -EINVAL;
	if (overlaps(b, base, len, -1))
		return -EEXIST;
	if (b->n == BUS_MAX_RANGES)
		return -ENOSPC;
	b->r[b->n++] = (struct bus_range){ base, len, fn, opaque };
	return 0;
}

int bus_register(enum bus_space sp, uint64_t base, uint64_t len, bus_io_fn fn, void *opaque)
{
	int rc;

	pthread_mutex_lock(&bus_lock);
	rc = bus_add_locked(&buses[sp], base, len, fn, opaque);
	pthread_mutex_unlock(&bus_lock);
	return rc;
}

static int find(const struct bus *b, void *opaque, uint64_t base)
{
	for (int i = 0; i < b->n; i++)
		if (b->r[i].opaque == opaque && b->r[i].base == base)
			return i;
	return -1;
}

int bus_move(enum bus_space sp, void *opaque, uint64_t old_base, uint64_t new_base)
{
	struct bus *b = &buses[sp];
	int i = find(b, opaque, old_base);

	if (i < 0)
		return -ENOENT;
	if (new_base + b->r[i].len < new_base || overlaps(b, new_base, b->r[i].len, i))
		return -EEXIST;
	b->r[i].base = new_base;
	return 0;
}

void bus_unregister(enum bus_space sp, void *opaque, uint64_t base)
{
	struct bus *b = &buses[sp];
	int i;

	pthread_mutex_lock(&bus_lock);
	i = find(b, opaque, base);
	if (i >= 0) {
		b->r[i] = b->r[b->n - 1];
		b->n--;
	}
	pthread_mutex_unlock(&bus_lock);
}

bool bus_dispatch(enum bus_space sp, uint64_t addr, uint8_t *data,
		  uint32_t len, bool is_write)
{
	struct bus *b = &buses[sp];
	bool found = false;

	if (!is_write)
		memset(data, 0xff, len);
	pthread_mutex_lock(&bus_lock);
	for (int i = 0; i < b->n; i++) {
		struct bus_range *r = &b->r[i];

		if (addr >= r->base && addr - r->base < r->len &&
		    len <= r->len - (addr - r->base)) {
			r->fn(r->opaque, addr - r->base, data, len, is_write);
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&bus_lock);
	return found;
}
