/* kms/allowlist: the one seccomp allowlist of ward-kms (the main thread and
 * the worker threads run the same code: an event loop that accepts, speaks
 * TLS, reads SQLite and calls the PKCS#11 module), and its Landlock paths.
 * Every syscall has its reason; anything else kills the process. The count
 * is published in docs/threat-model.md. */
#include "allowlist.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

static const struct sandbox_call kms_calls[] = {
	{ SCMP_SYS(epoll_wait), "event loop (libevent)" },
	{ SCMP_SYS(epoll_ctl), "event loop: connections come and go" },
	{ SCMP_SYS(accept4), "the next client on the shared listening socket" },
	{ SCMP_SYS(shutdown), "evhttp closes a connection" },
	{ SCMP_SYS(openat), "SQLite journal, SoftHSM2 object and lock files (Landlock says where)" },
	{ SCMP_SYS(newfstatat), "SQLite and SoftHSM2 stat their files" },
	{ SCMP_SYS(lseek), "SoftHSM2 object files" },
	{ SCMP_SYS(pread64), "SQLite pages" },
	{ SCMP_SYS(pwrite64), "SQLite pages" },
	{ SCMP_SYS(ftruncate), "SQLite journal, SoftHSM2 object rewrite" },
	{ SCMP_SYS(fsync), "SQLite commit, file writes that must be durable" },
	{ SCMP_SYS(fdatasync), "SQLite commit" },
	{ SCMP_SYS(unlink), "SQLite journal, SoftHSM2 DestroyObject" },
	{ SCMP_SYS(unlinkat), "file removal by directory fd" },
	{ SCMP_SYS(rename), "atomic replace of a file" },
	{ SCMP_SYS(renameat), "atomic replace of a file by directory fd" },
	{ SCMP_SYS(renameat2), "atomic replace of a file by directory fd" },
	{ SCMP_SYS(getdents64), "SoftHSM2 rescans its token directory" },
	{ SCMP_SYS(clock_nanosleep), "SQLite busy handler waits for a lock" },
	{ SCMP_SYS(getrandom), "OpenSSL reseeds its DRBG" },
	{ SCMP_SYS(memfd_secret), "secmem: key material of a request" },
	{ SCMP_SYS(mlock), "secmem fallback pages" },
	{ SCMP_SYS(munlock), "secmem_free" },
	{ SCMP_SYS(connect), "SoftHSM2's syslog() to /dev/log (TCP: Landlock denies)" },
	{ SCMP_SYS(sendto), "SoftHSM2's syslog()" },
	{ SCMP_SYS(set_robust_list), "new worker thread (glibc)" },
	{ SCMP_SYS(rseq), "new worker thread (glibc)" },
#ifdef SANDBOX_SANITIZED
	{ SCMP_SYS(sched_getaffinity), "sanitizer runtime: pthread_getattr_np in a new thread" },
#endif
};

/* Listed above: 27 (sanitizer builds: 28); with sandbox_allow_runtime's 18
 * and the 4 argument-checked ones below (fcntl, socket, rt_sigaction,
 * clone), 49 syscalls. */

/* fcntl: O_NONBLOCK of accepted sockets (libevent), FD_CLOEXEC, and the
 * POSIX record locks SQLite and SoftHSM2 take on their files. */
static const int kms_fcntls[] = { F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETLK, F_SETLK, F_SETLKW };

static const int kms_signals[] = { SIGINT, SIGTERM, 33 };

static int allow_kms(scmp_filter_ctx ctx)
{
	/* tgkill only into the KMS itself (raise, pthread_kill). */
	int rc = sandbox_allow_runtime_tgid(ctx, getpid());

	if (!rc)
		rc = sandbox_allow_calls(ctx, kms_calls, sizeof(kms_calls) / sizeof(kms_calls[0]));
	if (!rc)
		rc = sandbox_allow_values(ctx, SCMP_SYS(fcntl), 1, kms_fcntls,
					  sizeof(kms_fcntls) / sizeof(kms_fcntls[0]));
	/* syslog's datagram socket, and no other kind: the KMS never opens a
	 * network connection, nor a unix stream (D-Bus, systemd, other
	 * daemons' control sockets). glibc's syslog falls back to a stream
	 * when /dev/log is one: that gets EACCES (no log line), not a kill. */
	if (!rc)
		rc = sandbox_allow_socket(ctx, AF_UNIX, (const int[]){ SOCK_DGRAM }, 1);
	if (!rc) {
		struct scmp_arg_cmp stream[2] = {
			{ .arg = 0, .op = SCMP_CMP_EQ, .datum_a = AF_UNIX },
			{ .arg = 1, .op = SCMP_CMP_MASKED_EQ, .datum_a = 0xf, .datum_b = SOCK_STREAM },
		};

		rc = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 2,
					    stream);
	}
	/* glibc's SIGSETXID handler at the first pthread_create; libevent puts
	 * back the SIGINT and SIGTERM handlers when the server stops. */
	if (!rc)
		rc = sandbox_allow_values(ctx, SCMP_SYS(rt_sigaction), 0, kms_signals,
					  sizeof(kms_signals) / sizeof(kms_signals[0]));
	if (!rc)
		rc = sandbox_allow_threads(ctx);
	return rc;
}

int kms_sandbox_token_dir(char *out, size_t len)
{
	const char *conf = getenv("SOFTHSM2_CONF");
	char line[PATH_MAX + 64], *v, *end;
	FILE *f = fopen(conf ? conf : "/etc/softhsm/softhsm2.conf", "r");
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (rc && fgets(line, sizeof(line), f)) {
		v = line + strspn(line, " \t");
		if (strncmp(v, "directories.tokendir", 20))
			continue;
		v += 20 + strspn(v + 20, " \t");
		if (*v++ != '=')
			continue;
		v += strspn(v, " \t");
		end = v + strcspn(v, "\r\n");
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		*end = 0;
		if (*v && (size_t)snprintf(out, len, "%s", v) < len)
			rc = 0;
	}
	fclose(f);
	return rc;
}

int kms_sandbox_lock(const struct kms_sandbox *s, char *err, size_t errlen)
{
	static const struct sandbox_cfg on = { .enabled = true };
	char db[PATH_MAX], *db_dir;
	struct sandbox_path paths[4];
	struct sandbox_confine_cfg cc = { .paths = paths, .restrict_tcp = true,
					  .scope_signals = true };
	int rc, abi;

	/* The database's directory: SQLite makes and removes its journal
	 * beside the database and fsyncs the directory. */
	if (!realpath(s->db_path, db)) {
		snprintf(err, errlen, "sandbox: cannot resolve the database path %s", s->db_path);
		return -errno;
	}
	db_dir = dirname(db);
	paths[cc.n_paths++] = (struct sandbox_path){ db_dir, SANDBOX_RW };
	if (s->token_dir)
		paths[cc.n_paths++] = (struct sandbox_path){ s->token_dir, SANDBOX_RW };
	/* The activity trail: appends, and checkpoints replaced by rename. */
	if (s->trail_dir)
		paths[cc.n_paths++] = (struct sandbox_path){ s->trail_dir, SANDBOX_RW };
	/* SQLite seeds its PRNG from /dev/urandom when a connection first
	 * needs randomness (a temporary file name). */
	paths[cc.n_paths++] = (struct sandbox_path){ "/dev/urandom", SANDBOX_RO };
	rc = sandbox_confine(&on, &cc, &abi, err, errlen);
	if (rc)
		return rc;
	rc = sandbox_filter_apply(allow_kms, &on, err, errlen);
	if (rc)
		return rc;
	log_info("locked down", "landlock_abi=%d db_dir=%s token_dir=%s", abi, db_dir,
		 s->token_dir ? s->token_dir : "-");
	return 0;
}
