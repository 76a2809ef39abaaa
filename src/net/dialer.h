/* dialer: the one thing a sandboxed ward-net still needs from the host's
 * network after lockdown — a TCP connection to a peer card's key exchange.
 * A small child forked before lockdown stays in the host's network
 * namespace and, asked over a socketpair, connects to a peer's address on
 * the one key-exchange port fixed at fork time and passes the connected
 * socket back. It holds no key and reads no file; its own seccomp list
 * allows socket(AF_INET), connect and the socketpair. */
#ifndef WARD_NET_DIALER_H
#define WARD_NET_DIALER_H

#include <stdint.h>
#include <sys/types.h>

#include "sandbox.h"

struct dialer {
	pid_t pid;
	int sock;
	uint16_t port;
};

/* Fork the child (before sandbox_isolate); it closes every fd but its
 * socket, and dies with its parent. 0 or -errno. */
int dialer_fork(struct dialer *d, uint16_t port, int timeout_ms, const struct sandbox_cfg *sb);
/* keyxd's dial hook: a connected socket to addr:port, or -errno. */
int dialer_dial(void *d, uint32_t addr, uint16_t port);
void dialer_close(struct dialer *d);

#endif
