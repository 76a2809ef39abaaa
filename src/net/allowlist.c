/* net/allowlist: the one seccomp allowlist of ward-net. One thread serves
 * every ENI (vhost-user messages, kicks, guest memory), so there is one
 * list; each syscall has its reason, anything else kills the process. */
#include "allowlist.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#ifndef F_GET_SEALS
#define F_GET_SEALS 1034
#endif

/* Per ENI: listener, vhost-user socket, 2 x (kick, call, err), 8 memory
 * regions and the memory-table fds in flight; 64 ENIs. */
#define NET_FD_HEADROOM (64 * 32)

static const struct { int nr; const char *why; } net_calls[] = {
	{ SCMP_SYS(poll), "the one loop: signals, sockets, kicks" },
	{ SCMP_SYS(recvmsg), "vhost-user messages with their fds" },
	{ SCMP_SYS(recvfrom), "vhost-user payload after the header (recv)" },
	{ SCMP_SYS(sendmsg), "vhost-user replies" },
	{ SCMP_SYS(accept4), "the next frontend on an ENI's listening socket" },
	{ SCMP_SYS(eventfd2), "vu_dev learns the eventfd inode once" },
	{ SCMP_SYS(getsockopt), "netctl: SO_TYPE of an ATTACH's socket" },
	{ SCMP_SYS(munlock), "secmem_free: IMDS's token key and credential pages at exit" },
};

static const int net_fcntls[] = { F_GETFL, F_SETFL, F_GETFD, F_SETFD, F_GET_SEALS };

/* The underlay: Geneve datagrams on the passed UDP socket, and the
 * key-exchange thread (started after lockdown) answering on the passed
 * listening socket and dialing through the dialer (dialer.c), never with a
 * socket of its own. */
static const struct { int nr; const char *why; } underlay_calls[] = {
	{ SCMP_SYS(sendto), "sealed Geneve datagrams to a peer's underlay address" },
	{ SCMP_SYS(setsockopt), "keyxd: the exchange's SO_RCVTIMEO/SO_SNDTIMEO" },
	{ SCMP_SYS(getrandom), "TLS 1.3 handshakes of the key exchange (OpenSSL's DRBG)" },
	{ SCMP_SYS(set_robust_list), "the key-exchange thread starting" },
	{ SCMP_SYS(rseq), "the key-exchange thread starting" },
	{ SCMP_SYS(sched_getaffinity), "sanitizer runtime: pthread_getattr_np in a new thread" },
	{ SCMP_SYS(memfd_secret), "secmem: exported key material and the cipher keys" },
	{ SCMP_SYS(ftruncate), "sizing a memfd_secret key page (secmem)" },
	{ SCMP_SYS(mlock), "secmem fallback pages" },
};

static int allow_underlay(scmp_filter_ctx ctx)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < sizeof(underlay_calls) / sizeof(underlay_calls[0]); i++)
		rc = sandbox_allow(ctx, underlay_calls[i].nr);
	/* glibc installs its SIGSETXID handler (SIGRTMIN + 1) at the first
	 * pthread_create: keyxd's. */
	if (!rc)
		rc = sandbox_allow_if(ctx, SCMP_SYS(rt_sigaction), 0, SCMP_CMP_EQ, 33, 0);
	/* Threads, never processes: clone only with CLONE_THREAD; clone3's
	 * flags are out of seccomp's sight, so it fails and glibc uses clone. */
	if (!rc)
		rc = sandbox_allow_if(ctx, SCMP_SYS(clone), 0, SCMP_CMP_MASKED_EQ, CLONE_THREAD,
				      CLONE_THREAD);
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	return rc;
}

static int allow_net(scmp_filter_ctx ctx)
{
	int rc = sandbox_allow_runtime(ctx);

	for (size_t i = 0; !rc && i < sizeof(net_calls) / sizeof(net_calls[0]); i++)
		rc = sandbox_allow(ctx, net_calls[i].nr);
	for (size_t i = 0; !rc && i < sizeof(net_fcntls) / sizeof(net_fcntls[0]); i++)
		rc = sandbox_allow_if(ctx, SCMP_SYS(fcntl), 1, SCMP_CMP_EQ, (scmp_datum_t)net_fcntls[i], 0);
	/* fstat of passed fds (memory regions, eventfds), never a path. */
	if (!rc)
		rc = sandbox_allow_if(ctx, SCMP_SYS(newfstatat), 3, SCMP_CMP_MASKED_EQ,
				      AT_EMPTY_PATH, AT_EMPTY_PATH);
	return rc;
}

int net_sandbox_lock(const struct sandbox_cfg *c, bool underlay, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int rc;

	if (!c->enabled)
		return 0;
	rc = sandbox_drop_privileges(c, NET_FD_HEADROOM, err, errlen);
	if (rc)
		return rc;
	ctx = sandbox_filter_new(false);
	rc = ctx ? allow_net(ctx) : 0;
	if (!rc && ctx && underlay)
		rc = allow_underlay(ctx);
	rc = sandbox_filter_load(ctx, rc, c);
	if (rc) {
		snprintf(err, errlen, "sandbox: loading the seccomp allowlist: %s", strerror(-rc));
		return rc;
	}
	return 0;
}
