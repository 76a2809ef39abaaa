/* vu_request: one request/reply round trip of a vhost-user frontend, shared
 * by the test drivers. A reply must match the request and carry no fds
 * that outlive it. */
#include "vu_request.h"

#include <errno.h>
#include <string.h>

#include "vhost_user.h"

int vu_request(int sock, uint64_t proto, uint32_t req, const void *p, uint32_t sz,
	       const int *fds, size_t nfds, void *reply, uint32_t rsz, bool ack)
{
	struct vu_msg m;
	bool want_ack = ack && (proto & (1ull << VU_PROTOCOL_F_REPLY_ACK));

	if (vu_send(sock, req, want_ack ? VU_FLAG_NEED_REPLY : 0, p, sz, fds, nfds))
		return -EIO;
	if (!reply && !want_ack)
		return 0;
	if (vu_recv(sock, &m) != 1 || !(m.hdr.flags & VU_FLAG_REPLY) || m.hdr.request != req)
		return -EPROTO;
	vu_msg_close_fds(&m);
	if (reply) {
		if (m.hdr.size != rsz)
			return -EPROTO;
		memcpy(reply, &m.p, rsz);
		return 0;
	}
	return m.p.u64 ? -EIO : 0;
}
