/* vu_dev: vhost-user backend state machine (vu_dev.h). Follows
 * qemu docs/interop/vhost-user.rst: rings start when they have a kick fd and
 * (with PROTOCOL_FEATURES) once enabled; GET_VRING_BASE stops a ring. */
#include "vu_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errmsg.h"
#include "log.h"

void vu_dev_init(struct vu_dev *d, int sock, const struct vu_dev_ops *ops, void *priv)
{
	memset(d, 0, sizeof(*d));
	d->sock = sock;
	d->ops = ops;
	d->priv = priv;
	for (int i = 0; i < VU_DEV_MAX_QUEUES; i++)
		d->vr[i].kick_fd = d->vr[i].call_fd = d->vr[i].err_fd = -1;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void unmap_all(struct vu_dev *d)
{
	for (unsigned int i = 0; i < VQ_MAX_REGIONS; i++) {
		if (d->maps[i].addr)
			munmap(d->maps[i].addr, d->maps[i].len);
		d->maps[i].addr = NULL;
	}
	d->mem.nregions = 0;
}

void vu_dev_reset(struct vu_dev *d)
{
	if (d->ops->quiesce)
		d->ops->quiesce(d, -1);
	for (int i = 0; i < VU_DEV_MAX_QUEUES; i++) {
		struct vu_vring *r = &d->vr[i];

		close_fd(&r->kick_fd);
		close_fd(&r->call_fd);
		close_fd(&r->err_fd);
		memset(r, 0, sizeof(*r));
		r->kick_fd = r->call_fd = r->err_fd = -1;
	}
	unmap_all(d);
	d->features = d->protocol_features = 0;
	d->features_set = false;
	d->broken = false;
	d->why[0] = 0;
}

static bool has_proto(const struct vu_dev *d)
{
	return d->features & (1ull << VU_F_PROTOCOL_FEATURES);
}

/* Try to start ring q once it has everything it needs. */
static void maybe_start(struct vu_dev *d, unsigned int q)
{
	struct vu_vring *r = &d->vr[q];
	bool ev = d->features & (1ull << VIRTIO_F_RING_EVENT_IDX);
	bool ind = d->features & (1ull << VIRTIO_F_RING_INDIRECT_DESC);

	if (r->started || !r->addr_set || r->kick_fd < 0 || !r->num)
		return;
	if (vq_setup(&r->vq, &d->mem, r->num, r->desc, r->avail, r->used,
		     r->base, ev, ind)) {
		vu_dev_ring_broken(d, q, r->vq.why);
		return;
	}
	r->started = true;
	log_debug("vring started", "queue=%u num=%u base=%u", q, r->num, r->base);
}

void vu_dev_ring_broken(struct vu_dev *d, unsigned int q, const char *why)
{
	struct vu_vring *r = &d->vr[q];
	uint64_t one = 1;

	r->vq.broken = true;
	if (!d->broken)
		snprintf(d->why, sizeof(d->why), "queue %u: %s", q, why);
	d->broken = true;
	log_error("virtqueue is malformed, device stopped", "queue=%u reason=\"%s\"", q, why);
	if (r->err_fd >= 0 && write(r->err_fd, &one, sizeof(one)) < 0)
		log_warn("cannot signal vring err fd", "queue=%u errno=%s", q, errname(errno));
}

void vu_dev_notify(struct vu_dev *d, unsigned int q)
{
	struct vu_vring *r = &d->vr[q];
	uint64_t one = 1;

	if (r->call_fd >= 0 && vq_should_notify(&r->vq) &&
	    write(r->call_fd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
		/* Not an eventfd after all: drop it rather than log per request. */
		log_warn("cannot signal vring call fd, dropping it", "queue=%u errno=%s", q, errname(errno));
		close_fd(&r->call_fd);
	}
}

static int set_mem_table(struct vu_dev *d, struct vu_msg *m)
{
	const struct vu_mem_table *t = &m->p.mem;
	struct vq_mem mem = { 0 };
	struct vu_map maps[VQ_MAX_REGIONS] = { 0 };
	int rc = 0;

	for (uint32_t i = 0; i < t->nregions; i++) {
		const struct vu_mem_region *reg = &t->regions[i];
		uint64_t maplen = reg->mmap_offset + reg->memory_size; /* validated: no overflow */
		struct stat st;
		int seals;
		void *p;

		/* A region past the end of its file would SIGBUS us on first
		 * touch, so the file must be a memfd sealed against shrinking
		 * (ward-hv and QEMU's memory-backend-memfd both seal) and at
		 * least as large as the region. The seals are read first and
		 * the size second: seals can only ever be added, so once
		 * F_SEAL_SHRINK is seen the size cannot go down any more, and
		 * the fstat that follows is a size that holds for as long as
		 * the mapping. The other order leaves a window in which the
		 * frontend shrinks the file after the size check and seals it
		 * before the seal check. A file that cannot be sealed
		 * (F_GET_SEALS: EINVAL) is refused for the same reason. */
		seals = fcntl(m->fds[i], F_GET_SEALS);
		if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
			rc = -EINVAL;
			log_error("SET_MEM_TABLE: guest memory must be a memfd sealed against shrinking "
				  "(F_SEAL_SHRINK)", "region=%u seals=%d", i, seals);
			goto err;
		}
		if (fstat(m->fds[i], &st) < 0 || (S_ISREG(st.st_mode) &&
		    (uint64_t)st.st_size < maplen) || maplen > SIZE_MAX) {
			rc = -EINVAL;
			log_error("SET_MEM_TABLE: region larger than its fd", "region=%u", i);
			goto err;
		}
		p = mmap(NULL, (size_t)maplen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			 m->fds[i], 0);
		if (p == MAP_FAILED) {
			rc = -errno;
			log_error("SET_MEM_TABLE: mmap failed", "region=%u errno=%s", i, errname(errno));
			goto err;
		}
		madvise(p, (size_t)maplen, MADV_DONTDUMP);
		maps[i].addr = p;
		maps[i].len = (size_t)maplen;
		mem.r[i].gpa = reg->guest_phys_addr;
		mem.r[i].size = reg->memory_size;
		mem.r[i].uva = reg->userspace_addr;
		mem.r[i].host = (uint8_t *)p + reg->mmap_offset;
		mem.nregions = i + 1;
	}
	if (d->ops->quiesce)
		d->ops->quiesce(d, -1);
	unmap_all(d);
	d->mem = mem;
	memcpy(d->maps, maps, sizeof(maps));
	/* Rings hold pointers into the old mapping: re-bind the running ones. */
	for (unsigned int q = 0; q < VU_DEV_MAX_QUEUES; q++) {
		struct vu_vring *r = &d->vr[q];

		if (r->started && !r->vq.broken) {
			uint16_t la = r->vq.last_avail;

			r->base = la;
			r->started = false;
			maybe_start(d, q);
			r->vq.used_idx = la; /* all in flight were quiesced */
		}
	}
	return 0;
err:
	for (unsigned int i = 0; i < VQ_MAX_REGIONS; i++)
		if (maps[i].addr)
			munmap(maps[i].addr, maps[i].len);
	return rc;
}

static int reply(struct vu_dev *d, const struct vu_msg *m, const void *p, uint32_t size)
{
	return vu_send(d->sock, m->hdr.request, VU_FLAG_REPLY, p, size, NULL, 0);
}

/* Kick/call/err fds must be eventfds: any other kind of fd could block the
 * device thread on read or write (a pipe, a socket) or be busy-readable (a
 * file). Call/err writes are made non-blocking so a frontend that lets the
 * counter approach its maximum cannot stall us. /proc is gone once the card
 * is sandboxed, so the check is by inode: an eventfd is the kernel's shared
 * anonymous inode (as are timerfd, signalfd, epoll: none of them blocks a
 * polled read or a non-blocking write; the wrong kind only fails its ring). */
static dev_t eventfd_dev;
static ino_t eventfd_ino;
static bool eventfd_known;

static void learn_eventfd_inode(void)
{
	struct stat st;
	int e = eventfd(0, EFD_CLOEXEC);

	if (e >= 0 && fstat(e, &st) == 0) {
		eventfd_dev = st.st_dev;
		eventfd_ino = st.st_ino;
		eventfd_known = true;
	}
	if (e >= 0)
		close(e);
}

static bool is_eventfd(int fd)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct stat st;

	pthread_once(&once, learn_eventfd_inode);
	return eventfd_known && fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == 0 &&
	       st.st_dev == eventfd_dev && st.st_ino == eventfd_ino;
}

static int take_fd(struct vu_msg *m)
{
	int fd;

	if (!m->nfds)
		return -1;
	fd = m->fds[0];
	m->fds[0] = -1;
	return fd;
}

/* Returns >= 0 on success (1 = reply already sent), negative errno on error. */
static int handle(struct vu_dev *d, struct vu_msg *m)
{
	uint32_t q;
	uint64_t v;
	struct vu_vring *r;

	switch (m->hdr.request) {
	case VU_GET_FEATURES:
		v = d->ops->features | (1ull << VU_F_PROTOCOL_FEATURES);
		return reply(d, m, &v, sizeof(v)) ?: 1;
	case VU_SET_FEATURES:
		v = m->p.u64;
		if (v & ~(d->ops->features | (1ull << VU_F_PROTOCOL_FEATURES)))
			return -ENOTSUP;
		d->features = v;
		d->features_set = true;
		/* Without PROTOCOL_FEATURES rings are enabled from the start. */
		for (q = 0; q < VU_DEV_MAX_QUEUES; q++)
			if (!has_proto(d))
				d->vr[q].enabled = true;
		return 0;
	case VU_GET_PROTOCOL_FEATURES:
		v = d->ops->protocol_features;
		return reply(d, m, &v, sizeof(v)) ?: 1;
	case VU_SET_PROTOCOL_FEATURES:
		if (m->p.u64 & ~d->ops->protocol_features)
			return -ENOTSUP;
		d->protocol_features = m->p.u64;
		return 0;
	case VU_GET_QUEUE_NUM:
		v = d->ops->num_queues;
		return reply(d, m, &v, sizeof(v)) ?: 1;
	case VU_SET_OWNER:
		return 0;
	case VU_RESET_OWNER:
		return 0;
	case VU_SET_MEM_TABLE:
		return set_mem_table(d, m);
	case VU_SET_VRING_NUM:
		r = &d->vr[m->p.state.index];
		if (r->started || m->p.state.num == 0 || m->p.state.num > VQ_MAX_SIZE ||
		    (m->p.state.num & (m->p.state.num - 1)))
			return -EINVAL;
		r->num = m->p.state.num;
		return 0;
	case VU_SET_VRING_ADDR:
		r = &d->vr[m->p.addr.index];
		if (r->started)
			return -EBUSY;
		r->desc = m->p.addr.desc_user_addr;
		r->avail = m->p.addr.avail_user_addr;
		r->used = m->p.addr.used_user_addr;
		r->addr_set = true;
		maybe_start(d, m->p.addr.index);
		return 0;
	case VU_SET_VRING_BASE:
		r = &d->vr[m->p.state.index];
		if (r->started || m->p.state.num > 0xffff)
			return -EINVAL;
		r->base = (uint16_t)m->p.state.num;
		return 0;
	case VU_GET_VRING_BASE: {
		struct vu_vring_state st = { .index = m->p.state.index };

		q = m->p.state.index;
		r = &d->vr[q];
		if (d->ops->quiesce)
			d->ops->quiesce(d, (int)q);
		st.num = r->started ? r->vq.last_avail : r->base;
		r->started = false;
		r->base = (uint16_t)st.num;
		r->vq.broken = false;
		close_fd(&r->kick_fd);
		if (has_proto(d))
			r->enabled = false;
		return reply(d, m, &st, sizeof(st)) ?: 1;
	}
	case VU_SET_VRING_KICK: case VU_SET_VRING_CALL: case VU_SET_VRING_ERR: {
		int *slot;

		q = (uint32_t)(m->p.u64 & VU_VRING_IDX_MASK);
		r = &d->vr[q];
		slot = m->hdr.request == VU_SET_VRING_KICK ? &r->kick_fd :
		       m->hdr.request == VU_SET_VRING_CALL ? &r->call_fd : &r->err_fd;
		close_fd(slot);
		*slot = take_fd(m);
		if (*slot >= 0 && !is_eventfd(*slot)) {
			close_fd(slot);
			return -EINVAL;
		}
		if (*slot >= 0 && m->hdr.request != VU_SET_VRING_KICK)
			fcntl(*slot, F_SETFL, fcntl(*slot, F_GETFL) | O_NONBLOCK);
		if (m->hdr.request == VU_SET_VRING_KICK) {
			if (*slot < 0)
				return -ENOTSUP; /* polling mode is not offered */
			if (!has_proto(d))
				r->enabled = true;
			maybe_start(d, q);
		}
		return 0;
	}
	case VU_SET_VRING_ENABLE:
		r = &d->vr[m->p.state.index];
		if (m->p.state.num > 1)
			return -EINVAL;
		r->enabled = m->p.state.num;
		if (!r->enabled && d->ops->quiesce)
			d->ops->quiesce(d, (int)m->p.state.index);
		return 0;
	case VU_GET_CONFIG: {
		struct vu_config c = m->p.config;
		int rc;

		memset(c.region, 0, sizeof(c.region));
		rc = d->ops->get_config ? d->ops->get_config(d, c.region, c.offset, c.size) : -ENOTSUP;
		if (rc)
			c.size = 0; /* an empty reply tells the frontend it failed */
		return reply(d, m, &c, 12 + c.size) ?: 1;
	}
	case VU_SET_CONFIG:
		return 0; /* virtio-blk config is read-only except writeback; ignored */
	default:
		return -ENOTSUP;
	}
}

int vu_dev_handle(struct vu_dev *d, struct vu_msg *m)
{
	char err[160];
	int rc = vu_msg_validate(m, d->ops->num_queues, err, sizeof(err));
	bool ack = (d->protocol_features & (1ull << VU_PROTOCOL_F_REPLY_ACK)) &&
		   (m->hdr.flags & VU_FLAG_NEED_REPLY);

	if (rc) {
		log_warn("rejected vhost-user message", "reason=\"%s\"", err);
	} else {
		rc = handle(d, m);
		if (rc < 0)
			log_warn("vhost-user request failed", "request=%s errno=%s",
				 vu_request_name(m->hdr.request), errname(-rc));
	}
	vu_msg_close_fds(m);
	if (rc == 1)
		return 0;
	if (ack) {
		uint64_t status = rc ? 1 : 0;

		if (reply(d, m, &status, sizeof(status)))
			return -EPIPE;
		return 0;
	}
	/* No way to report the error in-band: a request that expected a
	 * reply, or a protocol violation, ends the connection. */
	if (rc == -EPROTO || rc == -EOPNOTSUPP || rc == -ENOTSUP)
		return rc;
	return 0;
}

int vu_dev_dispatch(struct vu_dev *d)
{
	struct vu_msg m;
	int rc = vu_recv(d->sock, &m);

	if (rc <= 0)
		return rc;
	rc = vu_dev_handle(d, &m);
	return rc < 0 ? rc : 1;
}
