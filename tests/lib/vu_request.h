/* vu_request: one request/reply round trip of a vhost-user frontend, shared
 * by the test drivers (tests/net/net_driver.c, tests/blk/vu_driver.c). */
#ifndef WARD_TESTS_VU_REQUEST_H
#define WARD_TESTS_VU_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sends req with payload p (sz bytes) and fds on sock. With reply: waits for
 * the backend's reply, which must be exactly rsz bytes, and copies it there.
 * Without: when ack is asked and the backend negotiated REPLY_ACK (in
 * proto), sets NEED_REPLY and checks the ack. 0 or negative errno. */
int vu_request(int sock, uint64_t proto, uint32_t req, const void *p, uint32_t sz,
	       const int *fds, size_t nfds, void *reply, uint32_t rsz, bool ack);

#endif
