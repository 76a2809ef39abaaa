/* sandbox: the lockdown every ward process applies to itself (OpenBSD
 * vmd's pledge, done with Linux tools): namespaces and an empty read-only
 * root, no core dumps, no_new_privs, Landlock, an unprivileged uid/gid with
 * no capabilities, and helpers to build seccomp allowlists whose default is
 * kill-process. Each process keeps its own allowlist, with a reason per
 * syscall, next to its code (src/hv/allowlist.c, src/blk/allowlist.c). */
#ifndef WARD_SANDBOX_H
#define WARD_SANDBOX_H

#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Sanitizer builds: their runtime makes a few syscalls of its own, which
 * allowlists add under this macro. */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZED 1
#endif
#endif

struct sandbox_cfg {
	uid_t uid;        /* unprivileged uid/gid the process runs as */
	gid_t gid;
	bool enabled;     /* false only for --no-sandbox (debugging; logged) */
};

/* The argument of --uid/--gid (what): a non-zero id, since running as root
 * is refused. 0, or -EINVAL with the reason on stderr after "prog: ". */
int sandbox_parse_id(const char *prog, const char *what, const char *s, unsigned int *out);

/* Single-threaded, after every file, device and socket the process will
 * ever need is open: no core dumps, not dumpable; as root: new mount, net,
 * IPC and UTS namespaces and an empty read-only root; no_new_privs;
 * Landlock denying all filesystem access. */
int sandbox_isolate(const struct sandbox_cfg *c, const char *hostname,
		    char *err, size_t errlen);

/* RLIMIT_NOFILE = highest open fd + 1 + fd_headroom; as root: empty
 * capability bounding set, no supplementary groups, setresgid/setresuid to
 * the configured ids (and check root cannot be regained). */
int sandbox_drop_privileges(const struct sandbox_cfg *c, unsigned int fd_headroom,
			    char *err, size_t errlen);

/* For a process that stays uid 0 (ward-controller): the bounding,
 * ambient, inheritable, permitted and effective sets shrink to `keep`
 * (CAP_* numbers). Root without capabilities still owns root's files but
 * can no longer open raw sockets, override file permissions, load modules
 * and the like. */
int sandbox_keep_caps(const int *keep, size_t n, char *err, size_t errlen);

/* socket() for one family, allowed only for the types in `types`
 * (SOCK_STREAM, SOCK_DGRAM, ...; SOCK_CLOEXEC/SOCK_NONBLOCK may be or-ed in). */
int sandbox_allow_socket(scmp_filter_ctx ctx, int family, const int *types, size_t n);

/* seccomp allowlists: default action kill-process, no_new_privs already
 * set by sandbox_isolate. tsync applies the filter to every thread. */
scmp_filter_ctx sandbox_filter_new(bool tsync);
int sandbox_allow(scmp_filter_ctx ctx, int nr);
/* Allow nr when argument `arg` compares `op` with a (and b, for masked). */
int sandbox_allow_if(scmp_filter_ctx ctx, int nr, unsigned int arg,
		     enum scmp_compare op, scmp_datum_t a, scmp_datum_t b);
/* One line of a process's allowlist: a syscall and why it is there. */
struct sandbox_call {
	int nr;
	const char *why;
};
/* Allow every call of the table. */
int sandbox_allow_calls(scmp_filter_ctx ctx, const struct sandbox_call *calls, size_t n);
/* Allow nr when argument `arg` equals one of vals (fcntl commands, signal
 * numbers, socket families). */
int sandbox_allow_values(scmp_filter_ctx ctx, int nr, unsigned int arg, const int *vals,
			 size_t n);
/* Threads, never processes: clone only with CLONE_THREAD; clone3 hides
 * its flags from seccomp, so it answers ENOSYS and glibc falls back to
 * clone. */
int sandbox_allow_threads(scmp_filter_ctx ctx);
/* What any ward thread needs to live and die: read/write/close, futex,
 * signals return, exit, memory for malloc (never PROT_EXEC), clocks. */
int sandbox_allow_runtime(scmp_filter_ctx ctx);
/* The same with tgkill only into thread group tgid (arg 0 compared): for
 * a process that must not signal others (ward-controller, ward-kms).
 * Build the filter in that process: a child forked after loading it could
 * not raise() in itself. */
int sandbox_allow_runtime_tgid(scmp_filter_ctx ctx, pid_t tgid);
/* Finish a filter built from sandbox_filter_new: ctx NULL gives -ENOMEM,
 * a non-zero build_rc (the rule additions' result) releases ctx and is
 * returned, otherwise the filter is loaded (unless the sandbox is disabled)
 * and released. Returns 0 or negative errno. */
int sandbox_filter_load(scmp_filter_ctx ctx, int build_rc, const struct sandbox_cfg *c);
/* A new filter (no tsync) built by allow and loaded as sandbox_filter_load
 * does; a failure is described in err. Returns 0 or negative errno. */
int sandbox_filter_apply(int (*allow)(scmp_filter_ctx), const struct sandbox_cfg *c,
			 char *err, size_t errlen);

/* Lockdown for daemons that keep the host's filesystem and network
 * (ward-controller, ward-kms): no namespaces or uid change, but no core
 * dumps, not dumpable, no_new_privs and Landlock: every filesystem right
 * this kernel knows is handled and only the listed paths get some back;
 * with ABI 4+ TCP bind/connect are handled too and only the listed ports
 * stay reachable; with ABI 6+ abstract unix sockets outside the domain are
 * closed, and signals too where scope_signals. Landlock is per thread:
 * call it while single-threaded. A kernel without Landlock is reported
 * (log_warn) and the rest still applies; a listed path that does not
 * exist is skipped (logged at info). */
enum sandbox_access {
	SANDBOX_RO,		/* read files, list directories */
	SANDBOX_RW,		/* anything but execute: create, write, rename, remove */
	SANDBOX_DEV,		/* a device node: read, write, ioctl */
};

struct sandbox_path {
	const char *path;
	enum sandbox_access access;
};

struct sandbox_confine_cfg {
	const struct sandbox_path *paths;
	size_t n_paths;
	bool restrict_tcp;		/* handle TCP bind/connect (ABI 4+) */
	const unsigned short *bind_ports, *connect_ports;
	size_t n_bind, n_connect;
	bool scope_signals;		/* no signals to processes outside (ABI 6+) */
};

/* Returns 0 or negative errno; *abi (may be NULL) gets the Landlock ABI
 * that was applied, 0 when none. */
int sandbox_confine(const struct sandbox_cfg *c, const struct sandbox_confine_cfg *cc,
		    int *abi, char *err, size_t errlen);

/* Test builds only: when environment variable `env` equals `kind` (or
 * "kind/socket"), attempt socket(); "kind/io_uring_setup" and
 * "kind/io_uring_register" (IORING_REGISTER_EVENTFD) attempt those:
 * forbidden syscalls, so tests can watch the process die of SIGSYS;
 * "kind/ptrace" attempts ptrace(PTRACE_TRACEME); "kind/open:PATH" opens
 * PATH read-only and prints the result (Landlock denies with EACCES). Other
 * "kind/..." values are left to the caller. */
void sandbox_test_forbidden(const char *env, const char *kind);

#endif
