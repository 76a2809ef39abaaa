/* blk/allowlist: ward-blk's seccomp allowlist (the generic lockdown is
 * src/lib/sandbox.h). Order in main.c: open every store and socket (standalone)
 * or nothing but the control channel (controller mode), sandbox_isolate()
 * while single-threaded, then blk_sandbox_lock(); device threads are started
 * afterwards and inherit the filter. */
#ifndef WARD_BLK_ALLOWLIST_H
#define WARD_BLK_ALLOWLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "sandbox.h"

/* Drop privileges (uid/gid, capabilities, RLIMIT_NOFILE with room for the
 * fds of every volume) and load the allowlist. standalone adds accept4 for
 * the listening sockets. */
int blk_sandbox_lock(const struct sandbox_cfg *c, bool standalone, char *err, size_t errlen);

/* Test builds: WARD_BLK_TEST_FORBIDDEN=main|volume. */
#define blk_sandbox_test_forbidden(kind) sandbox_test_forbidden("WARD_BLK_TEST_FORBIDDEN", kind)

#endif
