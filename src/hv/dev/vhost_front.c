/* vhost_front: the vhost-user frontend (qemu docs/interop/vhost-user.rst).
 * The backend is another, untrusted process: every reply is checked for
 * type, flags and size here before a field of it is used, and a backend
 * that stalls is given up on after VHF_TIMEOUT_S instead of hanging a vCPU. */
#include "hv/dev/vhost_front.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "hv/mem.h"
#include "log.h"
#include "vhost_user.h"

#define VHF_TIMEOUT_S 10

/* Protocol features ward-hv understands as a frontend. */
#define VHF_PROTOCOL_MASK ((1ull << VU_PROTOCOL_F_MQ) | \
			   (1ull << VU_PROTOCOL_F_REPLY_ACK) | \
			   (1ull << VU_PROTOCOL_F_CONFIG))

static int fail(struct vhf *f, char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(struct vhf *f, char *err, size_t errlen, int rc, const char *fmt, ...)
{
	char what[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (err && errlen)
		snprintf(err, errlen, "%s %s", f->name, what);
	return rc;
}

static int send_err(struct vhf *f, uint32_t req, int rc, char *err, size_t errlen)
{
	f->broken = true;
	return fail(f, err, errlen, rc, "is unreachable at %s: %s",
		    vu_request_name(req), strerror(-rc));
}

/* Receive the reply to `req`; payload must be exactly `size` bytes. */
static int recv_reply(struct vhf *f, uint32_t req, struct vu_msg *m, uint32_t size,
		      char *err, size_t errlen)
{
	int rc = vu_recv(f->sock, m);

	if (rc == 0) {
		f->broken = true;
		return fail(f, err, errlen, -EPIPE, "closed the connection during %s",
			    vu_request_name(req));
	}
	if (rc == -EAGAIN || rc == -EWOULDBLOCK) {
		f->broken = true;
		return fail(f, err, errlen, -ETIMEDOUT, "did not answer %s within %d s",
			    vu_request_name(req), VHF_TIMEOUT_S);
	}
	if (rc < 0) {
		f->broken = true;
		return fail(f, err, errlen, rc, "sent a malformed reply to %s: %s",
			    vu_request_name(req), strerror(-rc));
	}
	rc = 0;
	if (m->nfds)
		rc = fail(f, err, errlen, -EPROTO, "sent %zu unexpected fds with its reply to %s",
			  m->nfds, vu_request_name(req));
	else if (m->hdr.request != req)
		rc = fail(f, err, errlen, -EPROTO, "answered %s with %s",
			  vu_request_name(req), vu_request_name(m->hdr.request));
	else if ((m->hdr.flags & VU_FLAG_VERSION_MASK) != VU_VERSION ||
		 !(m->hdr.flags & VU_FLAG_REPLY))
		rc = fail(f, err, errlen, -EPROTO, "sent a reply to %s with bad flags 0x%x",
			  vu_request_name(req), m->hdr.flags);
	else if (m->hdr.size != size)
		rc = fail(f, err, errlen, -EPROTO, "sent a %u-byte reply to %s, %u expected",
			  m->hdr.size, vu_request_name(req), size);
	if (rc) {
		/* the stream can no longer be trusted to be in step */
		vu_msg_close_fds(m);
		f->broken = true;
	}
	return rc;
}

/* A request that returns nothing; with REPLY_ACK negotiated, ask for the
 * ack so a refusal is reported at the step that caused it. */
static int request(struct vhf *f, uint32_t req, const void *payload, uint32_t size,
		   const int *fds, size_t nfds, char *err, size_t errlen)
{
	bool ack = f->protocol & (1ull << VU_PROTOCOL_F_REPLY_ACK);
	struct vu_msg m;
	int rc;

	if (f->broken || f->sock < 0)
		return fail(f, err, errlen, -EPIPE, "is disconnected (at %s)", vu_request_name(req));
	rc = vu_send(f->sock, req, ack ? VU_FLAG_NEED_REPLY : 0, payload, size, fds, nfds);
	if (rc < 0)
		return send_err(f, req, rc, err, errlen);
	if (!ack)
		return 0;
	rc = recv_reply(f, req, &m, sizeof(uint64_t), err, errlen);
	if (rc < 0)
		return rc;
	if (m.p.u64 != 0)
		return fail(f, err, errlen, -EIO, "refused %s: status %llu",
			    vu_request_name(req), (unsigned long long)m.p.u64);
	return 0;
}

/* A request whose reply carries `rsize` bytes of payload into `out`. */
static int query(struct vhf *f, uint32_t req, const void *payload, uint32_t size,
		 void *out, uint32_t rsize, char *err, size_t errlen)
{
	struct vu_msg m;
	int rc;

	if (f->broken || f->sock < 0)
		return fail(f, err, errlen, -EPIPE, "is disconnected (at %s)", vu_request_name(req));
	rc = vu_send(f->sock, req, 0, payload, size, NULL, 0);
	if (rc < 0)
		return send_err(f, req, rc, err, errlen);
	rc = recv_reply(f, req, &m, rsize, err, errlen);
	if (rc < 0)
		return rc;
	memcpy(out, &m.p, rsize);
	return 0;
}

static int set_mem_table(struct vhf *f, const struct guest_mem *mem, char *err, size_t errlen)
{
	struct mem_region r[2];
	struct vu_mem_table t = { 0 };
	int fds[2];
	int n = mem_regions(mem, r);

	if (n < 1 || n > 2)
		return fail(f, err, errlen, -EINVAL, "cannot be given guest memory: %d regions", n);
	t.nregions = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		/* userspace_addr is ward-hv's own mapping, as QEMU does: ring
		 * addresses in SET_VRING_ADDR are then plain ward-hv pointers. */
		t.regions[i].guest_phys_addr = r[i].gpa;
		t.regions[i].memory_size = r[i].size;
		t.regions[i].userspace_addr = (uint64_t)(uintptr_t)(mem->host + r[i].offset);
		t.regions[i].mmap_offset = r[i].offset;
		fds[i] = mem->fd;
	}
	return request(f, VU_SET_MEM_TABLE, &t,
		       (uint32_t)(8 + (size_t)n * sizeof(struct vu_mem_region)),
		       fds, (size_t)n, err, errlen);
}

int vhf_handshake(struct vhf *f, int sock, const char *name,
		  const struct guest_mem *mem, char *err, size_t errlen)
{
	struct timeval tv = { .tv_sec = VHF_TIMEOUT_S };
	uint64_t pf = 0;
	int rc;

	memset(f, 0, sizeof(*f));
	f->sock = sock;
	f->name = name;
	f->max_queues = 0;
	if (setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return fail(f, err, errlen, -errno, "socket (fd %d) is not usable: %s",
			    sock, strerror(errno));

	rc = query(f, VU_GET_FEATURES, NULL, 0, &f->features, 8, err, errlen);
	if (rc < 0)
		return rc;
	if (f->features & (1ull << VU_F_PROTOCOL_FEATURES)) {
		rc = query(f, VU_GET_PROTOCOL_FEATURES, NULL, 0, &pf, 8, err, errlen);
		if (rc < 0)
			return rc;
		pf &= VHF_PROTOCOL_MASK;
		rc = request(f, VU_SET_PROTOCOL_FEATURES, &pf, 8, NULL, 0, err, errlen);
		if (rc < 0)
			return rc;
		f->protocol = pf;     /* REPLY_ACK applies from here on */
	}
	rc = request(f, VU_SET_OWNER, NULL, 0, NULL, 0, err, errlen);
	if (rc < 0)
		return rc;
	if (f->protocol & (1ull << VU_PROTOCOL_F_MQ)) {
		uint64_t q;

		rc = query(f, VU_GET_QUEUE_NUM, NULL, 0, &q, 8, err, errlen);
		if (rc < 0)
			return rc;
		if (q == 0)
			return fail(f, err, errlen, -EPROTO, "reported 0 queues in GET_QUEUE_NUM");
		f->max_queues = q > 0xffff ? 0xffff : (uint32_t)q;
	}
	rc = set_mem_table(f, mem, err, errlen);
	if (rc < 0)
		return rc;
	log_info("vhost-user handshake done", "backend=\"%s\" features=0x%llx protocol=0x%llx queues=%u",
		 name, (unsigned long long)f->features, (unsigned long long)f->protocol,
		 f->max_queues);
	return 0;
}

int vhf_get_config(struct vhf *f, void *buf, uint32_t len, char *err, size_t errlen)
{
	struct vu_config c = { .offset = 0, .size = len, .flags = 0 };
	struct vu_msg m;
	int rc;

	if (len > VU_MAX_CONFIG_SIZE)
		return fail(f, err, errlen, -EINVAL, "config of %u bytes is too large", len);
	if (!(f->protocol & (1ull << VU_PROTOCOL_F_CONFIG)))
		return fail(f, err, errlen, -EOPNOTSUPP,
			    "does not offer the CONFIG protocol feature (needed for GET_CONFIG)");
	if (f->broken)
		return fail(f, err, errlen, -EPIPE, "is disconnected (at GET_CONFIG)");
	rc = vu_send(f->sock, VU_GET_CONFIG, 0, &c, 12 + len, NULL, 0);
	if (rc < 0)
		return send_err(f, VU_GET_CONFIG, rc, err, errlen);
	/* libvhost-user answers a refusal with an empty payload */
	rc = vu_recv(f->sock, &m);
	if (rc <= 0 || m.hdr.request != VU_GET_CONFIG || !(m.hdr.flags & VU_FLAG_REPLY) || m.nfds) {
		vu_msg_close_fds(&m);
		f->broken = true;
		if (rc == 0)
			return fail(f, err, errlen, -EPIPE, "closed the connection during GET_CONFIG");
		return fail(f, err, errlen, rc < 0 ? rc : -EPROTO,
			    "sent a malformed reply to GET_CONFIG");
	}
	if (m.hdr.size != 12 + len || m.p.config.size != len || m.p.config.offset != 0)
		return fail(f, err, errlen, -EIO, "refused GET_CONFIG of %u bytes (reply %u bytes)",
			    len, m.hdr.size);
	memcpy(buf, m.p.config.region, len);
	return 0;
}

int vhf_set_features(struct vhf *f, uint64_t features, char *err, size_t errlen)
{
	/* With protocol features negotiated the bit must be echoed, or the
	 * backend enables rings without waiting for SET_VRING_ENABLE. */
	if (f->features & (1ull << VU_F_PROTOCOL_FEATURES))
		features |= 1ull << VU_F_PROTOCOL_FEATURES;
	return request(f, VU_SET_FEATURES, &features, 8, NULL, 0, err, errlen);
}

int vhf_vring_start(struct vhf *f, const struct vhf_vring *r, char *err, size_t errlen)
{
	struct vu_vring_state st = { .index = r->index, .num = r->num };
	struct vu_vring_addr a = {
		.index = r->index,
		.desc_user_addr = r->desc,
		.used_user_addr = r->used,
		.avail_user_addr = r->avail,
	};
	uint64_t idx = r->index;
	int rc;

	rc = request(f, VU_SET_VRING_NUM, &st, sizeof(st), NULL, 0, err, errlen);
	if (rc < 0)
		return rc;
	st.num = 0;
	rc = request(f, VU_SET_VRING_BASE, &st, sizeof(st), NULL, 0, err, errlen);
	if (rc < 0)
		return rc;
	rc = request(f, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, err, errlen);
	if (rc < 0)
		return rc;
	/* call before kick: the backend may start serving on the kick */
	rc = request(f, VU_SET_VRING_CALL, &idx, 8, &r->call, 1, err, errlen);
	if (rc < 0)
		return rc;
	rc = request(f, VU_SET_VRING_KICK, &idx, 8, &r->kick, 1, err, errlen);
	if (rc < 0)
		return rc;
	if (f->features & (1ull << VU_F_PROTOCOL_FEATURES)) {
		st.num = 1;
		rc = request(f, VU_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0, err, errlen);
	}
	return rc;
}

int vhf_vring_stop(struct vhf *f, uint32_t index, uint32_t *base, char *err, size_t errlen)
{
	struct vu_vring_state st = { .index = index };
	struct vu_vring_state out;
	int rc;

	rc = query(f, VU_GET_VRING_BASE, &st, sizeof(st), &out, sizeof(out), err, errlen);
	if (rc < 0)
		return rc;
	if (out.index != index)
		return fail(f, err, errlen, -EPROTO, "answered GET_VRING_BASE for ring %u with ring %u",
			    index, out.index);
	if (base)
		*base = out.num;
	return 0;
}

void vhf_close(struct vhf *f)
{
	if (f->sock >= 0)
		close(f->sock);
	f->sock = -1;
	f->broken = true;
}
