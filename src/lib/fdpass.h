/* fdpass: send a message together with file descriptors (SCM_RIGHTS) over a
 * unix socket — how ward processes hand each other every resource (vhost-user
 * memory and eventfds, ward-blk's sockets and stores). */
#ifndef WARD_FDPASS_H
#define WARD_FDPASS_H

#include <stddef.h>
#include <sys/uio.h>

#define FDPASS_MAX 8

/* Send all of iov in one sendmsg (no SIGPIPE, EINTR retried) with nfds fds.
 * Returns 0; -EINVAL for more than FDPASS_MAX fds; -EIO for a short send
 * (on a stream socket the peer is gone); or the negative errno. */
int fdpass_send(int sock, const struct iovec *iov, int iovcnt, const int *fds, size_t nfds);

#endif
