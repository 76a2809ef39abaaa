/* net/allowlist: ward-net's seccomp allowlist (the generic lockdown is
 * src/lib/sandbox.h). Order in main.c: read the VPC config, bind or take
 * every ENI socket, sandbox_isolate() while single-threaded, then
 * net_sandbox_lock(); from there ward-net reaches no path and no network. */
#ifndef WARD_NET_ALLOWLIST_H
#define WARD_NET_ALLOWLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "sandbox.h"

/* Drop privileges (uid/gid, capabilities, RLIMIT_NOFILE with room for the
 * fds of every ENI) and load the allowlist. underlay: also what the
 * underlay needs (its UDP socket, the key-exchange thread). */
int net_sandbox_lock(const struct sandbox_cfg *c, bool underlay, char *err, size_t errlen);

/* Test builds: WARD_NET_TEST_FORBIDDEN=main. */
#define net_sandbox_test_forbidden(kind) sandbox_test_forbidden("WARD_NET_TEST_FORBIDDEN", kind)

#endif
