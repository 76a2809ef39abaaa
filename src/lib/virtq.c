/* virtq: split-virtqueue device side with hostile-input checks (virtq.h).
 * Each descriptor field is loaded from shared memory exactly once into a
 * local copy, and only that copy is validated and used, so a guest
 * rewriting the ring concurrently cannot change what was checked. */
#include "virtq.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void *lookup(const struct vq_mem *m, uint64_t a, uint64_t len, bool uva)
{
	/* for proofs/virtq: Eva keeps one state per region; WP's invariant */
	/*@ loop unroll VQ_MAX_REGIONS;
	    loop invariant 0 <= i <= m->nregions;
	    loop assigns i;
	    loop variant m->nregions - i; */
	for (unsigned int i = 0; i < m->nregions; i++) {
		const struct vq_region *r = &m->r[i];
		uint64_t base = uva ? r->uva : r->gpa;
		uint64_t off = a - base;

		/* off + len <= size, written so that nothing can wrap (not
		 * even base + size) and so that the bound on off is a direct
		 * comparison the analysis in proofs/virtq can follow. */
		if (a >= base && len <= r->size && off <= r->size - len)
			return r->host + off;
	}
	return NULL;
}

void *vq_mem_gpa(const struct vq_mem *m, uint64_t gpa, uint64_t len)
{
	return lookup(m, gpa, len, false);
}

void *vq_mem_uva(const struct vq_mem *m, uint64_t uva, uint64_t len)
{
	return lookup(m, uva, len, true);
}

static int fail(struct vq *vq, const char *why, unsigned long a, unsigned long b)
{
	if (!vq->broken)
		snprintf(vq->why, sizeof(vq->why), "%s (%lu, %lu)", why, a, b);
	vq->broken = true;
	return -EIO;
}

int vq_setup(struct vq *vq, const struct vq_mem *mem, unsigned int num,
	     uint64_t desc_uva, uint64_t avail_uva, uint64_t used_uva,
	     uint16_t base, bool event_idx, bool indirect)
{
	uint64_t dsz = 16ull * num, asz = 6 + 2ull * num, usz = 6 + 8ull * num;

	memset(vq, 0, sizeof(*vq));
	if (num == 0 || num > VQ_MAX_SIZE || (num & (num - 1)))
		return fail(vq, "queue size must be a power of 2 up to 1024", num, 0), -EINVAL;
	if ((desc_uva & 15) || (avail_uva & 1) || (used_uva & 3))
		return fail(vq, "misaligned ring", desc_uva, used_uva), -EINVAL;
	vq->desc = vq_mem_uva(mem, desc_uva, dsz);
	vq->avail = vq_mem_uva(mem, avail_uva, asz);
	vq->used = vq_mem_uva(mem, used_uva, usz);
	if (!vq->desc || !vq->avail || !vq->used)
		return fail(vq, "ring outside guest memory", desc_uva, avail_uva), -EINVAL;
	vq->num = num;
	vq->mem = mem;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	vq->last_avail = base;
	vq->used_idx = base;
	return 0;
}

static inline uint16_t ld16(volatile uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* One descriptor out of guest memory: one volatile load per field. A
 * memcpy from the table with its volatile cast away would let the compiler
 * fetch a field from guest memory again after it was checked (the double
 * fetch of XSA-155); a volatile access is done exactly once, as written. */
static struct vq_desc_raw desc_load(const volatile struct vq_desc_raw *p)
{
	struct vq_desc_raw d;

	d.addr = p->addr;
	d.len = p->len;
	d.flags = p->flags;
	d.next = p->next;
	return d;
}

/* Append [gpa, gpa+len) to the chain, splitting at region boundaries. */
static int add_buf(struct vq *vq, struct vq_chain *c, uint64_t gpa,
		   uint32_t len, bool write)
{
	if (!write && c->nin)
		return fail(vq, "readable descriptor after a writable one", c->head, 0);
	if (write)
		c->in_bytes += len;
	else
		c->out_bytes += len;
	if (c->in_bytes + c->out_bytes > VQ_MAX_BYTES)
		return fail(vq, "chain describes too many bytes", c->head, 0);
	while (len) {
		const struct vq_region *r = NULL;
		uint64_t chunk;
		unsigned int k = c->nout + c->nin; /* the slot checked is the slot written */

		for (unsigned int i = 0; i < vq->mem->nregions; i++)
			if (gpa >= vq->mem->r[i].gpa &&
			    gpa - vq->mem->r[i].gpa < vq->mem->r[i].size)
				r = &vq->mem->r[i];
		if (!r)
			return fail(vq, "buffer outside guest memory", gpa, len);
		chunk = r->size - (gpa - r->gpa);
		if (chunk > len)
			chunk = len;
		if (k >= VQ_MAX_CHAIN)
			return fail(vq, "chain too long", c->head, VQ_MAX_CHAIN);
		c->iov[k].iov_base = r->host + (gpa - r->gpa);
		c->iov[k].iov_len = chunk;
		if (write)
			c->nin++;
		else
			c->nout++;
		gpa += chunk;
		len -= (uint32_t)chunk;
	}
	return 0;
}

static int walk_indirect(struct vq *vq, struct vq_chain *c, const struct vq_desc_raw *d)
{
	volatile struct vq_desc_raw *tbl;
	unsigned int n;
	uint16_t i = 0;

	if (!vq->indirect)
		return fail(vq, "indirect descriptor without the feature", c->head, 0);
	if (d->len == 0 || d->len % 16 || d->len > 16 * VQ_MAX_CHAIN)
		return fail(vq, "bad indirect table length", c->head, d->len);
	if (d->flags & VIRTQ_DESC_F_NEXT)
		return fail(vq, "indirect descriptor with NEXT", c->head, 0);
	n = d->len / 16;
	/* For proofs/virtq: Eva follows each table length on its own. */
	//@ split n;
	tbl = vq_mem_gpa(vq->mem, d->addr, 16ull * n); /* == d->len */
	if (!tbl || (d->addr & 15))
		return fail(vq, "indirect table outside guest memory", d->addr, d->len);
	for (unsigned int seen = 0;; seen++) {
		struct vq_desc_raw e;

		if (seen >= n)
			return fail(vq, "loop in indirect table", c->head, n);
		e = desc_load(&tbl[i]);
		if (e.flags & VIRTQ_DESC_F_INDIRECT)
			return fail(vq, "nested indirect table", c->head, i);
		if (add_buf(vq, c, e.addr, e.len, e.flags & VIRTQ_DESC_F_WRITE))
			return -EIO;
		if (!(e.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (e.next >= n)
			return fail(vq, "indirect next index out of range", e.next, n);
		i = e.next;
	}
}

int vq_pop(struct vq *vq, struct vq_chain *c)
{
	uint16_t avail_idx, head, i;

	if (vq->broken)
		return -EIO;
	avail_idx = ld16(&vq->avail[1]);
	if (avail_idx == vq->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->num)
		return fail(vq, "avail index ran ahead of the ring", avail_idx, vq->last_avail);
	head = vq->avail[2 + vq->last_avail % vq->num]; /* volatile: one load */
	if (head >= vq->num)
		return fail(vq, "head index out of range", head, vq->num);
	vq->last_avail++;

	c->head = head;
	c->nout = c->nin = 0;
	c->out_bytes = c->in_bytes = 0;
	i = head;
	for (unsigned int seen = 0;; seen++) {
		struct vq_desc_raw d;

		if (seen >= vq->num)
			return fail(vq, "descriptor loop", head, seen);
		d = desc_load(&vq->desc[i]);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (seen != 0)
				return fail(vq, "indirect descriptor inside a chain", head, i);
			return walk_indirect(vq, c, &d) ? -EIO : 1;
		}
		if (add_buf(vq, c, d.addr, d.len, d.flags & VIRTQ_DESC_F_WRITE))
			return -EIO;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 1;
		if (d.next >= vq->num)
			return fail(vq, "next index out of range", d.next, vq->num);
		i = d.next;
	}
}

void vq_unpop(struct vq *vq, unsigned int n)
{
	vq->last_avail = (uint16_t)(vq->last_avail - n);
}

void vq_push(struct vq *vq, uint16_t head, uint32_t len)
{
	volatile uint32_t *ring = (volatile uint32_t *)(vq->used + 2);
	unsigned int slot = vq->used_idx % vq->num;

	ring[2 * slot] = head;
	ring[2 * slot + 1] = len;
	vq->used_idx++;
	__atomic_store_n(&vq->used[1], vq->used_idx, __ATOMIC_RELEASE);
}

bool vq_should_notify(struct vq *vq)
{
	uint16_t old = vq->signalled_used, new = vq->used_idx, ev;
	bool valid = vq->signalled_valid;

	/* Order the used-index store before reading the driver's suppression
	 * state (virtio 1.2 §2.7.10: both sides need a full barrier here). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(ld16(&vq->avail[0]) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	vq->signalled_used = new;
	vq->signalled_valid = true;
	if (!valid)
		return true;
	ev = ld16(&vq->avail[2 + vq->num]);
	return (uint16_t)(new - ev - 1) < (uint16_t)(new - old);
}

bool vq_enable_notify(struct vq *vq)
{
	if (vq->broken)
		return false;
	if (vq->event_idx)
		__atomic_store_n(&vq->used[2 + 4 * vq->num], vq->last_avail, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return ld16(&vq->avail[1]) != vq->last_avail;
}

size_t vq_iov_to_buf(const struct iovec *iov, unsigned int n, size_t skip,
		     void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len - done)
			l = len - done;
		memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + skip, l);
		done += l;
		skip = 0;
	}
	return done;
}

size_t vq_buf_to_iov(const struct iovec *iov, unsigned int n, size_t skip,
		     const void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len - done)
			l = len - done;
		memcpy((uint8_t *)iov[i].iov_base + skip, (const uint8_t *)buf + done, l);
		done += l;
		skip = 0;
	}
	return done;
}
