/* fdpass: send and receive a message together with file descriptors
 * (SCM_RIGHTS) over a unix socket — how ward processes hand each other every
 * resource (vhost-user memory and eventfds, ward-blk's sockets and stores).
 * The one place that reads ancillary data from a peer. */
#ifndef WARD_FDPASS_H
#define WARD_FDPASS_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#define FDPASS_MAX 8

/* Send all of iov in one sendmsg (no SIGPIPE, EINTR retried) with nfds fds.
 * Returns 0; -EINVAL for more than FDPASS_MAX fds; -EIO for a short send
 * (on a stream socket the peer is gone); or the negative errno. */
int fdpass_send(int sock, const struct iovec *iov, int iovcnt, const int *fds, size_t nfds);

/* One recvmsg into buf[0..len) (EINTR retried; flags such as MSG_DONTWAIT
 * are passed on), taking at most maxfds (<= FDPASS_MAX) fds, received
 * close-on-exec, into fds[0..*nfds). Returns the bytes received — 0 is an
 * orderly EOF on a stream, or an empty packet when *nfds > 0 — or a negative
 * errno; on every error no received fd is left open. -EMSGSIZE: the data
 * (MSG_TRUNC, datagram sockets), the control data (MSG_CTRUNC) or the fds
 * (more than maxfds) did not fit; the message is consumed and the socket
 * stays usable. -EINVAL: maxfds > FDPASS_MAX. */
ssize_t fdpass_recv(int sock, void *buf, size_t len, int flags,
		    int *fds, size_t maxfds, size_t *nfds);

/* Close every fd from 3 up, however high, except those in keep[0..n)
 * (close_range between them; a loop up to RLIMIT_NOFILE where the kernel
 * has no close_range). For a new process that must hold nothing it was
 * not given: fds above any fixed bound count too. */
void fdpass_close_others(const int *keep, size_t n);

#endif
