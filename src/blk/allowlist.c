/* blk/allowlist: the one seccomp allowlist of ward-blk (main thread and
 * volume threads alike: they share the control path, the store path and the
 * vhost-user path). Every syscall here has its reason; anything else kills
 * the process. The count is published in docs/blk.md. */
#include "allowlist.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/io_uring.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#ifndef F_GET_SEALS
#define F_GET_SEALS 1034
#endif

#if defined(__SANITIZE_ADDRESS__)
#define BLK_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BLK_SANITIZED 1
#endif
#endif

/* fds per volume after lockdown: vhost-user socket, store, stop eventfd, up
 * to 8 queues x (kick, call, err), 8 memory regions, plus the memory-table
 * fds in flight; 64 volumes. (Rings and their eventfds are made before
 * lockdown and counted in the highest open fd.) */
#define BLK_FD_HEADROOM (64 * 48)

static const struct { int nr; const char *why; } blk_calls[] = {
	{ SCMP_SYS(poll), "main loop; volume threads wait on socket, kicks, completions" },
	{ SCMP_SYS(recvmsg), "blkctl and vhost-user messages with their fds" },
	{ SCMP_SYS(sendmsg), "blkctl replies and events, vhost-user replies" },
	{ SCMP_SYS(recvfrom), "libnbd reads the NBD socket (recv)" },
	{ SCMP_SYS(sendto), "libnbd writes the NBD socket (send)" },
	{ SCMP_SYS(eventfd2), "per-volume stop eventfd" },
	/* No io_uring_setup: io_uring requests bypass this filter, so every
	 * ring is made before lockdown, restricted (ringpool.c). */
	{ SCMP_SYS(io_uring_enter), "submit and reap store I/O on a pool ring" },
	{ SCMP_SYS(pread64), "store reads off the ring (read-modify-write, zeroes)" },
	{ SCMP_SYS(pwrite64), "store writes off the ring (read-modify-write, zeroes)" },
	{ SCMP_SYS(preadv2), "RWF_NOWAIT reads from page-cache stores" },
	{ SCMP_SYS(pwritev2), "RWF_NOWAIT writes to page-cache stores" },
	{ SCMP_SYS(fstatfs), "tmpfs stores skip O_DIRECT" },
	{ SCMP_SYS(ftruncate), "sizing a memfd_secret key page (secmem)" },
	{ SCMP_SYS(memfd_secret), "key schedules of a new volume (secmem)" },
	{ SCMP_SYS(mlock), "secmem fallback pages" },
	{ SCMP_SYS(munlock), "secmem_free" },
	{ SCMP_SYS(shutdown), "nbd_shutdown ends an NBD connection at detach" },
	{ SCMP_SYS(set_robust_list), "new volume thread (glibc)" },
	{ SCMP_SYS(rseq), "new volume thread (glibc)" },
#ifdef BLK_SANITIZED
	{ SCMP_SYS(sched_getaffinity), "sanitizer runtime: pthread_getattr_np in a new thread" },
#endif
};

/* Listed above: 19 (sanitizer builds: 20); with sandbox_allow_runtime's 18 and the 7 argument-
 * checked ones below, 44 syscalls (45 standalone, with accept4). */

/* fcntl commands: access mode and O_DIRECT of a store, O_NONBLOCK of
 * call/err eventfds, seals of guest memory memfds, libnbd's FD_CLOEXEC check. */
static const int blk_fcntls[] = { F_GETFL, F_SETFL, F_GETFD, F_SETFD, F_GET_SEALS };

static int allow_blk(scmp_filter_ctx ctx, bool standalone)
{
	int rc = sandbox_allow_runtime(ctx);

	for (size_t i = 0; !rc && i < sizeof(blk_calls) / sizeof(blk_calls[0]); i++)
		rc = sandbox_allow(ctx, blk_calls[i].nr);
	for (size_t i = 0; !rc && i < sizeof(blk_fcntls) / sizeof(blk_fcntls[0]); i++)
		rc = sandbox_allow_if(ctx, SCMP_SYS(fcntl), 1, SCMP_CMP_EQ, (scmp_datum_t)blk_fcntls[i], 0);
	/* glibc's fstat is newfstatat(fd, "", AT_EMPTY_PATH): kinds and sizes
	 * of passed fds (store, memory regions, eventfds), never a path. */
	if (!rc)
		rc = sandbox_allow_if(ctx, SCMP_SYS(newfstatat), 3, SCMP_CMP_MASKED_EQ,
				      AT_EMPTY_PATH, AT_EMPTY_PATH);
	/* Size of a block-device store. */
	if (!rc)
		rc = sandbox_allow_if(ctx, SCMP_SYS(ioctl), 1, SCMP_CMP_EQ, BLKGETSIZE64, 0);
	/* ATTACH puts the store into its ring's one file slot, DETACH empties
	 * it; nothing else (the rings' own restrictions say the same). */
	if (!rc)
		rc = sandbox_allow_if(ctx, SCMP_SYS(io_uring_register), 1, SCMP_CMP_EQ,
				      IORING_REGISTER_FILES_UPDATE, 0);
	/* A volume thread names itself (PR_SET_NAME); no other prctl. */
	if (!rc)
		rc = sandbox_allow_if(ctx, SCMP_SYS(prctl), 0, SCMP_CMP_EQ, PR_SET_NAME, 0);
	/* glibc installs its SIGSETXID handler (SIGRTMIN + 1) at the first
	 * pthread_create, which in controller mode is the first ATTACH. */
	if (!rc)
		rc = sandbox_allow_if(ctx, SCMP_SYS(rt_sigaction), 0, SCMP_CMP_EQ, 33, 0);
	/* Threads, never processes: clone only with CLONE_THREAD. clone3 passes
	 * its flags in memory seccomp cannot read, so it fails with ENOSYS and
	 * glibc falls back to clone. */
	if (!rc)
		rc = sandbox_allow_if(ctx, SCMP_SYS(clone), 0, SCMP_CMP_MASKED_EQ,
				      CLONE_THREAD, CLONE_THREAD);
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/* Standalone: the next frontend on a listening socket. */
	if (!rc && standalone)
		rc = sandbox_allow(ctx, SCMP_SYS(accept4));
	return rc;
}

int blk_sandbox_lock(const struct sandbox_cfg *c, bool standalone, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int rc;

	if (!c->enabled)
		return 0;
	rc = sandbox_drop_privileges(c, BLK_FD_HEADROOM, err, errlen);
	if (rc)
		return rc;
	/* Single-threaded here: every volume thread inherits this filter. */
	ctx = sandbox_filter_new(false);
	rc = sandbox_filter_load(ctx, ctx ? allow_blk(ctx, standalone) : 0, c);
	if (rc) {
		snprintf(err, errlen, "sandbox: loading the seccomp allowlist: %s", strerror(-rc));
		return rc;
	}
	return 0;
}
