/* vhost_user: framing and validation of vhost-user messages. This is the only
 * place that interprets raw vhost-user bytes from a peer. */
#include "errmsg.h"
#include "fdpass.h"
#include "vhost_user.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *const vu_names[VU_REQUEST_MAX] = {
	[VU_GET_FEATURES] = "GET_FEATURES",
	[VU_SET_FEATURES] = "SET_FEATURES",
	[VU_SET_OWNER] = "SET_OWNER",
	[VU_RESET_OWNER] = "RESET_OWNER",
	[VU_SET_MEM_TABLE] = "SET_MEM_TABLE",
	[VU_SET_LOG_BASE] = "SET_LOG_BASE",
	[VU_SET_LOG_FD] = "SET_LOG_FD",
	[VU_SET_VRING_NUM] = "SET_VRING_NUM",
	[VU_SET_VRING_ADDR] = "SET_VRING_ADDR",
	[VU_SET_VRING_BASE] = "SET_VRING_BASE",
	[VU_GET_VRING_BASE] = "GET_VRING_BASE",
	[VU_SET_VRING_KICK] = "SET_VRING_KICK",
	[VU_SET_VRING_CALL] = "SET_VRING_CALL",
	[VU_SET_VRING_ERR] = "SET_VRING_ERR",
	[VU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
	[VU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
	[VU_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
	[VU_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	[VU_SEND_RARP] = "SEND_RARP",
	[VU_NET_SET_MTU] = "NET_SET_MTU",
	[VU_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
	[VU_IOTLB_MSG] = "IOTLB_MSG",
	[VU_SET_VRING_ENDIAN] = "SET_VRING_ENDIAN",
	[VU_GET_CONFIG] = "GET_CONFIG",
	[VU_SET_CONFIG] = "SET_CONFIG",
};

const char *vu_request_name(uint32_t request)
{
	if (request < VU_REQUEST_MAX && vu_names[request])
		return vu_names[request];
	return "UNKNOWN";
}

void vu_msg_close_fds(struct vu_msg *m)
{
	for (size_t i = 0; i < m->nfds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
}

static int read_full(int sock, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = recv(sock, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPROTO; /* EOF inside a message */
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int vu_recv(int sock, struct vu_msg *m)
{
	ssize_t n;
	int rc;

	memset(m, 0, sizeof(*m));
	/* The fds ride on the first bytes of the header (stream socket). */
	n = fdpass_recv(sock, &m->hdr, sizeof(m->hdr), 0, m->fds, VU_MAX_FDS, &m->nfds);
	if (n < 0)
		return (int)n;
	if (n == 0) {
		vu_msg_close_fds(m);
		return 0;
	}
	if ((size_t)n < sizeof(m->hdr)) {
		rc = read_full(sock, (uint8_t *)&m->hdr + n, sizeof(m->hdr) - (size_t)n);
		if (rc)
			goto err;
	}
	if (m->hdr.size > sizeof(m->p)) {
		rc = -EPROTO;
		goto err;
	}
	rc = read_full(sock, &m->p, m->hdr.size);
	if (rc)
		goto err;
	return 1;
err:
	vu_msg_close_fds(m);
	return rc;
}

int vu_send(int sock, uint32_t request, uint32_t flags, const void *payload,
	    uint32_t size, const int *fds, size_t nfds)
{
	struct vu_hdr hdr = { .request = request, .flags = flags | VU_VERSION, .size = size };
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = size },
	};

	if (nfds > VU_MAX_FDS || size > sizeof(union vu_payload))
		return -EINVAL;
	/* stream socket: a short send (-EIO) means the peer is gone */
	return fdpass_send(sock, iov, size ? 2 : 1, fds, nfds);
}

/* Expected payload size for each request, or -1 when variable/none checked. */
static int expect_size(uint32_t req)
{
	switch (req) {
	case VU_SET_FEATURES: case VU_SET_PROTOCOL_FEATURES:
	case VU_SET_LOG_BASE: case VU_SET_VRING_KICK: case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		return (int)sizeof(uint64_t);
	case VU_SET_VRING_NUM: case VU_SET_VRING_BASE: case VU_GET_VRING_BASE:
	case VU_SET_VRING_ENABLE:
		return (int)sizeof(struct vu_vring_state);
	case VU_SET_VRING_ADDR:
		return (int)sizeof(struct vu_vring_addr);
	case VU_GET_FEATURES: case VU_GET_PROTOCOL_FEATURES: case VU_SET_OWNER:
	case VU_RESET_OWNER: case VU_GET_QUEUE_NUM:
		return 0;
	default:
		return -1;
	}
}

static int validate_mem_table(const struct vu_msg *m, char *err, size_t errlen)
{
	const struct vu_mem_table *t = &m->p.mem;
	size_t need;

	if (m->hdr.size < 8)
		return errmsg(err, errlen, -EPROTO, "SET_MEM_TABLE: payload of %u bytes is too short", m->hdr.size);
	if (t->nregions == 0 || t->nregions > VU_MAX_MEM_REGIONS)
		return errmsg(err, errlen, -EPROTO, "SET_MEM_TABLE: %u regions (1..%d allowed)", t->nregions, VU_MAX_MEM_REGIONS);
	need = 8 + t->nregions * sizeof(struct vu_mem_region);
	if (m->hdr.size != need)
		return errmsg(err, errlen, -EPROTO, "SET_MEM_TABLE: payload %u bytes, %zu expected", m->hdr.size, need);
	if (m->nfds != t->nregions)
		return errmsg(err, errlen, -EPROTO, "SET_MEM_TABLE: %zu fds for %u regions", m->nfds, t->nregions);
	/* WP (proofs/vhost_user/wp.c): every region seen so far is
	 * non-empty and none of its three ranges wraps. */
	/*@ loop invariant 0 <= i <= t->nregions;
	    loop invariant \forall integer k; 0 <= k < i ==>
	        t->regions[k].memory_size != 0 &&
	        t->regions[k].guest_phys_addr + t->regions[k].memory_size <= UINT64_MAX &&
	        t->regions[k].userspace_addr + t->regions[k].memory_size <= UINT64_MAX &&
	        t->regions[k].mmap_offset + t->regions[k].memory_size <= UINT64_MAX;
	    loop assigns i;
	    loop variant t->nregions - i; */
	for (uint32_t i = 0; i < t->nregions; i++) {
		const struct vu_mem_region *r = &t->regions[i];
		uint64_t end;

		if (r->memory_size == 0)
			return errmsg(err, errlen, -EPROTO, "SET_MEM_TABLE: region %u is empty", i);
		if (__builtin_add_overflow(r->guest_phys_addr, r->memory_size, &end) ||
		    __builtin_add_overflow(r->userspace_addr, r->memory_size, &end) ||
		    __builtin_add_overflow(r->mmap_offset, r->memory_size, &end))
			return errmsg(err, errlen, -EPROTO, "SET_MEM_TABLE: region %u overflows the address space", i);
		/*@ loop invariant 0 <= j <= i;
		    loop assigns j;
		    loop variant i - j; */
		for (uint32_t j = 0; j < i; j++) {
			const struct vu_mem_region *o = &t->regions[j];

			if (r->guest_phys_addr < o->guest_phys_addr + o->memory_size &&
			    o->guest_phys_addr < r->guest_phys_addr + r->memory_size)
				return errmsg(err, errlen, -EPROTO, "SET_MEM_TABLE: regions %u and %u overlap", j, i);
		}
	}
	return 0;
}

int vu_msg_validate(const struct vu_msg *m, unsigned int max_queues,
		    char *err, size_t errlen)
{
	uint32_t req = m->hdr.request;
	int want = expect_size(req);

	if ((m->hdr.flags & VU_FLAG_VERSION_MASK) != VU_VERSION)
		return errmsg(err, errlen, -EPROTO, "%s: protocol version %u, expected 1",
			   vu_request_name(req), m->hdr.flags & VU_FLAG_VERSION_MASK);
	if (want >= 0 && m->hdr.size != (uint32_t)want)
		return errmsg(err, errlen, -EPROTO, "%s: payload %u bytes, %d expected",
			   vu_request_name(req), m->hdr.size, want);

	switch (req) {
	case VU_SET_MEM_TABLE:
		return validate_mem_table(m, err, errlen);
	case VU_SET_VRING_NUM: case VU_SET_VRING_BASE: case VU_GET_VRING_BASE:
	case VU_SET_VRING_ENABLE:
		if (m->p.state.index >= max_queues)
			return errmsg(err, errlen, -EPROTO, "%s: queue %u, device has %u",
				   vu_request_name(req), m->p.state.index, max_queues);
		if (m->nfds)
			return errmsg(err, errlen, -EPROTO, "%s: unexpected fd", vu_request_name(req));
		return 0;
	case VU_SET_VRING_ADDR:
		if (m->p.addr.index >= max_queues)
			return errmsg(err, errlen, -EPROTO, "SET_VRING_ADDR: queue %u, device has %u",
				   m->p.addr.index, max_queues);
		return 0;
	case VU_SET_VRING_KICK: case VU_SET_VRING_CALL: case VU_SET_VRING_ERR: {
		uint64_t v = m->p.u64;
		bool nofd = v & VU_VRING_NOFD_MASK;

		if ((v & VU_VRING_IDX_MASK) >= max_queues)
			return errmsg(err, errlen, -EPROTO, "%s: queue %u, device has %u",
				   vu_request_name(req), (unsigned)(v & VU_VRING_IDX_MASK), max_queues);
		if (v & ~(uint64_t)(VU_VRING_IDX_MASK | VU_VRING_NOFD_MASK))
			return errmsg(err, errlen, -EPROTO, "%s: reserved bits set", vu_request_name(req));
		if (m->nfds != (nofd ? 0u : 1u))
			return errmsg(err, errlen, -EPROTO, "%s: %zu fds, %u expected",
				   vu_request_name(req), m->nfds, nofd ? 0u : 1u);
		return 0;
	}
	case VU_GET_CONFIG: case VU_SET_CONFIG: {
		const struct vu_config *c = &m->p.config;
		uint64_t end = (uint64_t)c->offset + c->size;

		if (m->hdr.size < 12 || c->size > VU_MAX_CONFIG_SIZE ||
		    m->hdr.size != 12 + c->size || end > VU_MAX_CONFIG_SIZE)
			return errmsg(err, errlen, -EPROTO, "%s: bad offset %u / size %u / payload %u",
				   vu_request_name(req), c->offset, c->size, m->hdr.size);
		return 0;
	}
	case VU_GET_FEATURES: case VU_SET_FEATURES: case VU_SET_OWNER:
	case VU_RESET_OWNER: case VU_GET_PROTOCOL_FEATURES:
	case VU_SET_PROTOCOL_FEATURES: case VU_GET_QUEUE_NUM:
		if (m->nfds)
			return errmsg(err, errlen, -EPROTO, "%s: unexpected fd", vu_request_name(req));
		return 0;
	default:
		return errmsg(err, errlen, -EOPNOTSUPP, "request %u (%s) is not supported",
			   req, vu_request_name(req));
	}
}
