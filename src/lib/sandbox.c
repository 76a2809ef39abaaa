/* sandbox: namespaces, empty root, Landlock, privilege drop and seccomp
 * building blocks shared by ward-hv and the card processes. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <linux/landlock.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "errmsg.h"
#include "log.h"

#ifndef CAP_LAST_CAP
#define CAP_LAST_CAP 40
#endif

#ifdef SANDBOX_SANITIZED
#include <sanitizer/lsan_interface.h>
#endif

int sandbox_parse_id(const char *prog, const char *what, const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > 0xfffffffeul) {
		fprintf(stderr, "%s: --%s must be a non-zero id (running as root is refused)\n",
			prog, what);
		return -EINVAL;
	}
	*out = (unsigned int)v;
	return 0;
}

static int fail(char *err, size_t errlen, int rc, const char *what)
{
	snprintf(err, errlen, "sandbox: %s: %s", what, strerror(-rc));
	return rc;
}

/* An empty, read-only tmpfs becomes "/": nothing to open, exec or pivot to.
 * Any existing directory can serve as the mount point inside our private
 * mount namespace; /proc always exists. */
static int empty_root(char *err, size_t errlen)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail(err, errlen, -errno, "making mounts private");
	if (mount("ward-empty-root", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=4k,nr_inodes=2,mode=0555") < 0)
		return fail(err, errlen, -errno, "mounting the empty root");
	if (chdir("/proc") < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		return fail(err, errlen, -errno, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return fail(err, errlen, -errno, "detaching the old root");
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return fail(err, errlen, -errno, "remounting the root read-only");
	return 0;
}

/* Landlock: handle every filesystem access right this kernel knows and
 * grant none. Best effort: reported, not fatal, where unsupported. */
static void landlock_deny_all(void)
{
	struct landlock_ruleset_attr attr = { 0 };
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	int fd;

	if (abi < 1) {
		log_warn("Landlock not available on this kernel", "errno=%s", errname(errno));
		return;
	}
	attr.handled_access_fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;  /* ABI 1 */
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER << 1;    /* TRUNCATE */
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd < 0 || syscall(SYS_landlock_restrict_self, fd, 0) < 0)
		log_warn("Landlock restriction failed", "errno=%s", errname(errno));
	if (fd >= 0)
		close(fd);
}

/* The start every lockdown shares: 1 if the sandbox is off (--no-sandbox),
 * else no core dumps and not dumpable (guest memory, keys and backend state
 * must never reach a core file); 0 or a negative errno. */
static int lockdown_begin(const struct sandbox_cfg *c, char *err, size_t errlen)
{
	struct rlimit no_core = { 0, 0 };

	if (!c->enabled) {
		log_warn("sandbox disabled by --no-sandbox: for debugging only");
		return 1;
	}
#ifdef SANDBOX_SANITIZED
	/* LeakSanitizer's exit-time scan needs /proc and ptrace (it clones a
	 * tracer), which the lockdown takes away: scan now, which also
	 * disables the exit scan. */
	__lsan_do_leak_check();
#endif
	if (setrlimit(RLIMIT_CORE, &no_core) < 0 || prctl(PR_SET_DUMPABLE, 0) < 0)
		return fail(err, errlen, -errno, "disabling core dumps");
	return 0;
}

int sandbox_isolate(const struct sandbox_cfg *c, const char *hostname,
		    char *err, size_t errlen)
{
	int rc;

	if ((rc = lockdown_begin(c, err, errlen)) != 0)
		return rc < 0 ? rc : 0;
	if (geteuid() == 0) {
		if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
			return fail(err, errlen, -errno, "unshare of mount/net/ipc/uts namespaces");
		rc = empty_root(err, errlen);
		if (rc)
			return rc;
		(void)!sethostname(hostname, strlen(hostname));
	} else {
		log_warn("not started as root: no namespaces, empty root or uid change; "
			 "no_new_privs, Landlock and seccomp still apply");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(err, errlen, -errno, "no_new_privs");
	landlock_deny_all();
	return 0;
}

/* Landlock beyond what Debian 12's <linux/landlock.h> (Linux 6.1, ABI 2)
 * spells: the attribute grows with the ABI, so it is ours, sized per ABI. */
#define LL_FS_TRUNCATE   (1ULL << 14)	/* ABI 3 */
#define LL_FS_IOCTL_DEV  (1ULL << 15)	/* ABI 5 */
#define LL_NET_BIND_TCP    (1ULL << 0)	/* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL        (1ULL << 1)
#define LL_RULE_NET_PORT 2

struct ll_ruleset_attr {
	__u64 handled_access_fs, handled_access_net, scoped;
};

struct ll_net_port_attr {
	__u64 allowed_access, port;
};

/* Rights that may sit on a rule for a file rather than a directory. */
#define LL_FILE_RIGHTS (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
			LANDLOCK_ACCESS_FS_READ_FILE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV)

static __u64 ll_fs_rights(long abi)
{
	__u64 fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;	/* ABI 1 */

	if (abi >= 2)
		fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		fs |= LL_FS_TRUNCATE;
	if (abi >= 5)
		fs |= LL_FS_IOCTL_DEV;
	return fs;
}

static __u64 ll_path_rights(enum sandbox_access a, __u64 handled)
{
	switch (a) {
	case SANDBOX_RO:
		return LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
	case SANDBOX_DEV:
		return (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
			LL_FS_IOCTL_DEV) & handled;
	case SANDBOX_RW:
	default:
		/* Everything but execute and device nodes. */
		return handled & ~(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
				   LANDLOCK_ACCESS_FS_MAKE_BLOCK | LL_FS_IOCTL_DEV);
	}
}

static int ll_add_path(int rfd, const struct sandbox_path *p, __u64 handled)
{
	struct landlock_path_beneath_attr pb = { 0 };
	struct stat st;
	int fd = open(p->path, O_PATH | O_CLOEXEC);

	if (fd < 0) {
		log_info("Landlock: path absent, nothing to grant", "path=%s", p->path);
		return 0;
	}
	pb.parent_fd = fd;
	pb.allowed_access = ll_path_rights(p->access, handled);
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		pb.allowed_access &= LL_FILE_RIGHTS;
	if (syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

static int ll_add_ports(int rfd, const unsigned short *ports, size_t n, __u64 access)
{
	for (size_t i = 0; i < n; i++) {
		struct ll_net_port_attr np = { .allowed_access = access, .port = ports[i] };

		if (syscall(SYS_landlock_add_rule, rfd, LL_RULE_NET_PORT, &np, 0) < 0)
			return -errno;
	}
	return 0;
}

/* The ruleset: filesystem always, TCP from ABI 4, scopes from ABI 6; the
 * attribute is passed at the size the kernel's ABI knows. */
static int ll_confine(const struct sandbox_confine_cfg *cc, long abi)
{
	struct ll_ruleset_attr attr = { .handled_access_fs = ll_fs_rights(abi) };
	size_t size = sizeof(__u64);
	int rfd, rc = 0;

	if (abi >= 4 && cc->restrict_tcp) {
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		size = 2 * sizeof(__u64);
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | (cc->scope_signals ? LL_SCOPE_SIGNAL : 0);
		size = 3 * sizeof(__u64);
	}
	rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (rfd < 0)
		return -errno;
	for (size_t i = 0; !rc && i < cc->n_paths; i++)
		rc = ll_add_path(rfd, &cc->paths[i], attr.handled_access_fs);
	if (!rc && attr.handled_access_net)
		rc = ll_add_ports(rfd, cc->bind_ports, cc->n_bind, LL_NET_BIND_TCP);
	if (!rc && attr.handled_access_net)
		rc = ll_add_ports(rfd, cc->connect_ports, cc->n_connect, LL_NET_CONNECT_TCP);
	if (!rc && syscall(SYS_landlock_restrict_self, rfd, 0) < 0)
		rc = -errno;
	close(rfd);
	return rc;
}

int sandbox_confine(const struct sandbox_cfg *c, const struct sandbox_confine_cfg *cc,
		    int *abi, char *err, size_t errlen)
{
	long v;
	int rc;

	if (abi)
		*abi = 0;
	if ((rc = lockdown_begin(c, err, errlen)) != 0)
		return rc < 0 ? rc : 0;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(err, errlen, -errno, "no_new_privs");
	v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (v < 1) {
		log_warn("Landlock not available on this kernel: filesystem and network not "
			 "confined (seccomp still applies)", "errno=%s", errname(errno));
		return 0;
	}
	rc = ll_confine(cc, v);
	if (rc)
		return fail(err, errlen, rc, "Landlock ruleset");
	if (abi)
		*abi = (int)v;
	return 0;
}

static void tighten_nofile(unsigned int headroom)
{
	int top = 0;
	struct rlimit rl;

	for (int fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			top = fd;
	rl.rlim_cur = rl.rlim_max = (rlim_t)top + 1 + headroom;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

int sandbox_drop_privileges(const struct sandbox_cfg *c, unsigned int fd_headroom,
			    char *err, size_t errlen)
{
	if (!c->enabled)
		return 0;
	tighten_nofile(fd_headroom);
	if (geteuid() != 0)
		return 0;
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return fail(err, errlen, -errno, "dropping the capability bounding set");
	if (setgroups(0, NULL) < 0 || setresgid(c->gid, c->gid, c->gid) < 0 ||
	    setresuid(c->uid, c->uid, c->uid) < 0)
		return fail(err, errlen, -errno, "changing to the unprivileged uid/gid");
	/* A uid change from 0 clears the capability sets; make sure. */
	if (setresuid(0, 0, 0) == 0)
		return fail(err, errlen, -EPERM, "could regain root after dropping it");
	return 0;
}

int sandbox_keep_caps(const int *keep, size_t n, char *err, size_t errlen)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct now[2], d[2];
	bool kept;

	memset(d, 0, sizeof(d));
	/* Keep only what is held now (a controller run by an unprivileged
	 * user for development holds nothing). */
	if (syscall(SYS_capget, &h, now) < 0)
		return fail(err, errlen, -errno, "reading capabilities");
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
		kept = false;
		for (size_t i = 0; i < n; i++)
			kept |= keep[i] == cap;
		if (kept) {
			d[cap / 32].permitted |= now[cap / 32].permitted & (1u << (cap % 32));
			d[cap / 32].effective |= d[cap / 32].permitted & (1u << (cap % 32));
		} else if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 &&
			   prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			/* Dropping needs CAP_SETPCAP; one already out of the
			 * set (a systemd unit's bounding set) needs nothing. */
			return fail(err, errlen, -errno, "dropping the capability bounding set");
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 ||
	    syscall(SYS_capset, &h, d) < 0)
		return fail(err, errlen, -errno, "dropping capabilities");
	return 0;
}

int sandbox_allow_socket(scmp_filter_ctx ctx, int family, const int *types, size_t n)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < n; i++) {
		/* The type's low bits; the flags above them are free. */
		struct scmp_arg_cmp cmp[2] = {
			{ .arg = 0, .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)family },
			{ .arg = 1, .op = SCMP_CMP_MASKED_EQ, .datum_a = 0xf,
			  .datum_b = (scmp_datum_t)types[i] },
		};

		rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2, cmp);
	}
	return rc;
}

scmp_filter_ctx sandbox_filter_new(bool tsync)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);

	if (!ctx)
		return NULL;
	/* no_new_privs is already set (sandbox_isolate); libseccomp must not
	 * call prctl itself, which later filters forbid. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) ||
	    (tsync && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1))) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

int sandbox_allow(scmp_filter_ctx ctx, int nr)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

/* Spelled out: libseccomp's SCMP_Ax macros leave fields implicit, which
 * clang's -Wmissing-field-initializers rejects. */
int sandbox_allow_if(scmp_filter_ctx ctx, int nr, unsigned int arg,
		     enum scmp_compare op, scmp_datum_t a, scmp_datum_t b)
{
	struct scmp_arg_cmp cmp = { .arg = arg, .op = op, .datum_a = a, .datum_b = b };

	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp);
}

int sandbox_allow_calls(scmp_filter_ctx ctx, const struct sandbox_call *calls, size_t n)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < n; i++)
		rc = sandbox_allow(ctx, calls[i].nr);
	return rc;
}

int sandbox_allow_values(scmp_filter_ctx ctx, int nr, unsigned int arg, const int *vals,
			 size_t n)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < n; i++)
		rc = sandbox_allow_if(ctx, nr, arg, SCMP_CMP_EQ, (scmp_datum_t)vals[i], 0);
	return rc;
}

int sandbox_allow_threads(scmp_filter_ctx ctx)
{
	int rc = sandbox_allow_if(ctx, SCMP_SYS(clone), 0, SCMP_CMP_MASKED_EQ, CLONE_THREAD,
				  CLONE_THREAD);

	return rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
}

int sandbox_allow_runtime(scmp_filter_ctx ctx)
{
	return sandbox_allow_runtime_tgid(ctx, 0);
}

int sandbox_allow_runtime_tgid(scmp_filter_ctx ctx, pid_t tgid)
{
	static const struct { int nr; const char *why; } base[] = {
		{ SCMP_SYS(read), "eventfds, sockets, pipes" },
		{ SCMP_SYS(write), "console, eventfds, log lines" },
		{ SCMP_SYS(close), "fds of reset devices" },
		{ SCMP_SYS(futex), "locks, thread join" },
		{ SCMP_SYS(rt_sigreturn), "return from a signal handler" },
		{ SCMP_SYS(rt_sigprocmask), "glibc around thread exit" },
		{ SCMP_SYS(exit), "thread exit" },
		{ SCMP_SYS(exit_group), "process exit" },
		{ SCMP_SYS(madvise), "glibc returns a dead thread's stack, free()" },
		{ SCMP_SYS(munmap), "free() of large blocks, teardown" },
		{ SCMP_SYS(brk), "malloc" },
		{ SCMP_SYS(getpid), "pthread_kill" },
		{ SCMP_SYS(gettid), "pthread_kill" },
		{ SCMP_SYS(clock_gettime), "when the vDSO is unavailable" },
		{ SCMP_SYS(restart_syscall), "interrupted sleeps" },
#ifdef SANDBOX_SANITIZED
		{ SCMP_SYS(sigaltstack), "sanitizer runtime" },
		{ SCMP_SYS(prlimit64), "sanitizer runtime" },
		{ SCMP_SYS(sched_yield), "sanitizer runtime" },
#endif
	};
	int rc;

	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		if ((rc = sandbox_allow(ctx, base[i].nr)))
			return rc;
	/* tgkill: pthread_kill (wake a thread), raise/abort, glibc's set*id
	 * broadcast. With a tgid, only into this process: a root process's
	 * tgkill could otherwise signal any thread of any process of its
	 * uid. */
	rc = tgid > 0 ? sandbox_allow_if(ctx, SCMP_SYS(tgkill), 0, SCMP_CMP_EQ, (scmp_datum_t)tgid, 0)
		      : sandbox_allow(ctx, SCMP_SYS(tgkill));
	if (rc)
		return rc;
	/* malloc may map memory, never executable memory. */
	if ((rc = sandbox_allow_if(ctx, SCMP_SYS(mmap), 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)))
		return rc;
	return sandbox_allow_if(ctx, SCMP_SYS(mprotect), 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
}

/* glibc's allocator reaches for the host lazily, in places no allowlist
 * should open: the first time a thread's arena shrinks it reads
 * /proc/sys/vm/overcommit_memory (openat), and the ninth arena asks how many
 * CPUs there are (sched_getaffinity). Both would kill a locked-down process
 * in the middle of ordinary free() calls. Fix the answers before the filter
 * goes on: thread heaps are never trimmed (freed memory stays in the arena
 * for the next request; blocks over the mmap threshold still go back with
 * munmap) and the arena count is fixed. */
static void malloc_settle(void)
{
	/* mallopt makes no syscall, so a thread that already sits under an
	 * inherited filter (a vCPU stacking its own) may call this too. */
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	mallopt(M_MMAP_THRESHOLD, 128 << 10);
	mallopt(M_ARENA_MAX, 8);
}

int sandbox_filter_load(scmp_filter_ctx ctx, int build_rc, const struct sandbox_cfg *c)
{
	int rc;

	if (!ctx)
		return -ENOMEM;
	if (build_rc) {
		seccomp_release(ctx);
		return build_rc;
	}
	if (c->enabled)
		malloc_settle();
	rc = c->enabled ? seccomp_load(ctx) : 0;

	seccomp_release(ctx);
	return rc;
}

int sandbox_filter_apply(int (*allow)(scmp_filter_ctx), const struct sandbox_cfg *c,
			 char *err, size_t errlen)
{
	scmp_filter_ctx ctx = sandbox_filter_new(false);
	int rc = sandbox_filter_load(ctx, ctx ? allow(ctx) : 0, c);

	if (rc)
		snprintf(err, errlen, "sandbox: loading the seccomp allowlist: %s", strerror(-rc));
	return rc;
}

void sandbox_test_forbidden(const char *env, const char *kind)
{
#ifdef WARD_TEST_HOOKS
	const char *want = getenv(env);
	size_t kl = strlen(kind);
	const char *call;

	/* "KIND" or "KIND/socket": socket(); "KIND/io_uring_setup": a new
	 * ring, which a process that must not bypass seccomp may not make;
	 * "KIND/io_uring_register": IORING_REGISTER_EVENTFD. */
	if (!want || strncmp(want, kind, kl) != 0)
		return;
	call = want[kl] == '/' ? want + kl + 1 : want[kl] ? NULL : "socket";
	if (!call)
		return;
	if (!strcmp(call, "socket")) {
		fprintf(stderr, "test hook: %s thread attempts socket()\n", kind);
		(void)socket(AF_INET, SOCK_STREAM, 0);
	} else if (!strcmp(call, "rawsocket")) {
		/* Forbidden twice over: seccomp allows no SOCK_RAW, and the
		 * capability it needs (CAP_NET_RAW) is gone. */
		fprintf(stderr, "test hook: %s thread attempts rawsocket()\n", kind);
		(void)socket(AF_INET, SOCK_RAW, 1 /* ICMP */);
	} else if (!strcmp(call, "io_uring_setup")) {
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		fprintf(stderr, "test hook: %s thread attempts io_uring_setup()\n", kind);
		(void)syscall(SYS_io_uring_setup, 4, &p);
	} else if (!strcmp(call, "io_uring_register")) {
		/* Any operation but FILES_UPDATE: seccomp looks at the opcode
		 * before the kernel looks at the (bad) fd. */
		fprintf(stderr, "test hook: %s thread attempts io_uring_register()\n", kind);
		(void)syscall(SYS_io_uring_register, -1, IORING_REGISTER_EVENTFD, NULL, 0);
	} else if (!strcmp(call, "kill")) {
		/* Another root process, init (pid 1; getppid is not on the
		 * allowlists): signal 0 only asks whether it may be signalled. */
		fprintf(stderr, "test hook: %s thread attempts kill()\n", kind);
		(void)kill(1, 0);
	} else if (!strcmp(call, "tgkill")) {
		fprintf(stderr, "test hook: %s thread attempts tgkill()\n", kind);
		(void)syscall(SYS_tgkill, 1, 1, 0);
	} else if (!strcmp(call, "tgkill-self")) {
		/* Not forbidden: raise() and pthread_kill need it. */
		long r = syscall(SYS_tgkill, getpid(), gettid(), 0);

		fprintf(stderr, "test hook: %s tgkill(self) = %s\n", kind, r == 0 ? "ok" :
			strerror(errno));
		return;
	} else if (!strcmp(call, "ptrace")) {
		fprintf(stderr, "test hook: %s thread attempts ptrace()\n", kind);
		(void)ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	} else if (!strcmp(call, "unixstream")) {
		/* Where a filter answers EACCES instead of killing (ward-kms:
		 * syslog's fallback): report what socket() said. */
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		fprintf(stderr, "test hook: %s socket(AF_UNIX, SOCK_STREAM) = %s\n", kind,
			fd >= 0 ? "ok" : strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	} else if (!strncmp(call, "open:", 5)) {
		/* Not forbidden by seccomp: Landlock answers EACCES. */
		int fd = open(call + 5, O_RDONLY | O_CLOEXEC);

		fprintf(stderr, "test hook: %s open(%s) = %s\n", kind, call + 5,
			fd >= 0 ? "ok" : strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	} else if (!strcmp(call, "slow")) {
		/* Not forbidden: a thread that is late (a loaded host). */
		struct timespec t = { 0, 300 * 1000 * 1000 };

		fprintf(stderr, "test hook: %s is slow\n", kind);
		/* glibc's set*id broadcast interrupts the sleep: sleep it out. */
		while (nanosleep(&t, &t) < 0 && errno == EINTR)
			;
		return;
	} else if (!strcmp(call, "heap")) {
		/* Not forbidden: ordinary malloc/free churn that makes glibc
		 * shrink this thread's arena, which must not reach a syscall
		 * the filter kills (see sandbox_filter_load). */
		enum { N = 256, SZ = 64 << 10 };
		void *blocks[N];

		for (int i = 0; i < N; i++)
			if ((blocks[i] = malloc(SZ)))
				memset(blocks[i], 0xa5, SZ);
		for (int i = N - 1; i >= 0; i--)
			free(blocks[i]);
		fprintf(stderr, "test hook: %s thread heap churn survived\n", kind);
		return;
	} else {
		return; /* a hook of the process itself (ward-blk: ring-ops) */
	}
	fprintf(stderr, "test hook: %s() was NOT blocked\n", call);
#else
	(void)env;
	(void)kind;
#endif
}
