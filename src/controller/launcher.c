/* launcher: a small unfiltered process that starts ward-hv, ward-blk and
 * ward-net for the locked-down controller (launcher.h). It trusts nothing
 * it is sent: the image is one of the three it was given at fork, the options are the
 * ones the controller's launch code uses, --uid/--gid are never root. */
#include "controller/launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdpass.h"
#include "log.h"

#define LAUNCH_STR_MAX 8192
#define LAUNCH_MAX_ARGS 48
#define LF_NULL_STDOUT 1u
#define LF_GO 2u
#define LF_CPUS 4u
#define LF_STDOUT 8u		/* the fd after the go fd becomes fd 1 */

struct launch_msg {
	uint32_t image, n_fds, flags, argc, envc, str_len;
	cpu_set_t cpus;
	char str[LAUNCH_STR_MAX];	/* argv then envp, each NUL-terminated */
};

/* The answer to every request, refused ones included, so the controller
 * never waits for one that will not come. */
struct launch_reply {
	int32_t rc;			/* the new pid, or negative errno */
	char why[196];			/* a refusal's reason, NUL-terminated */
};

static int chan = -1;		/* controller side */
static pid_t launcher_pid;

/* ---- the new process (after clone, before exec) ---- */

/* Only async-signal-safe calls: this runs in a copy of the launcher. */
static void child_exec(const struct launcher_images *img, const struct launch_msg *m,
		       int *fds, unsigned n, int go, int out, char **argv, char **envp)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int exe = m->image == LAUNCH_HV ? img->hv_fd : m->image == LAUNCH_BLK ? img->blk_fd :
		  img->net_fd;
	const char *path = m->image == LAUNCH_HV ? img->hv_path :
			   m->image == LAUNCH_BLK ? img->blk_path : img->net_path;
	sigset_t none;
	char c;

	setsid();
	/* Leave the card CPUs for the instance's own (ward-hv checks --cpus
	 * against its affinity). */
	if (m->flags & LF_CPUS)
		(void)sched_setaffinity(0, sizeof(m->cpus), &m->cpus);
	/* Exec only once the controller has recorded the process: if it dies
	 * first, EOF, and nothing runs that a restarted one would not know. */
	if (go >= 0 && read(go, &c, 1) != 1)
		_exit(127);
	/* Everything out of the way of 0..3+n first, then into place. */
	if (null < 0 || (null = fcntl(null, F_DUPFD_CLOEXEC, 64)) < 0)
		_exit(127);
	if (exe >= 0 && (exe = fcntl(exe, F_DUPFD_CLOEXEC, 64)) < 0)
		_exit(127);
	if (out >= 0 && (out = fcntl(out, F_DUPFD_CLOEXEC, 64)) < 0)
		_exit(127);
	for (unsigned i = 0; i < n; i++)
		if ((fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 64)) < 0)
			_exit(127);
	for (unsigned i = 0; i < n; i++)
		if (dup2(fds[i], 3 + (int)i) < 0)
			_exit(127);
	if (dup2(null, 0) < 0 || (out >= 0 && dup2(out, 1) < 0) ||
	    (out < 0 && (m->flags & LF_NULL_STDOUT) && dup2(null, 1) < 0))
		_exit(127);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (exe >= 0)
		fexecve(exe, argv, envp);
	else if (path)
		execve(path, argv, envp);
	_exit(127);
}

/* ---- the launcher ---- */

/* The options the controller's launch code passes (instances.c,
 * volumes.c), each with a value; anything else is refused, so a subverted
 * controller cannot ask for --no-sandbox, a kernel path or a socket path. */
static const char *const hv_opts[] = { "--kernel-fd", "--memory", "--vcpus", "--uid", "--gid",
				       "--hugepages", "--cpus", "--sched", "--blk-fd", "--net-fd",
				       NULL };
static const char *const blk_opts[] = { "--control-fd", "--keep-fd", "--max-volumes", "--uid",
					"--gid", NULL };
/* ward-net (netcard.c): its channel, the kept end, the model as a memfd;
 * with an underlay its two sockets, the peers' key-exchange port and the
 * host certificate's files (the operator's --host-cert/-key/-ca). */
static const char *const net_opts[] = { "--control-fd", "--keep-fd", "--config-fd", "--uid",
					"--gid", "--underlay-fd", "--keyx-fd", "--keyx-port",
					"--host-cert", "--host-key", "--ca", NULL };

/* The environment is the controller's fixed PATH and, for ward-hv, the
 * guest command line: nothing the dynamic loader or libc reads
 * (LD_PRELOAD, LD_LIBRARY_PATH, GCONV_PATH, MALLOC_*), which would run a
 * subverted controller's code as root outside every filter. */
#define LAUNCH_PATH_ENV "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
#define LAUNCH_CMDLINE_ENV "WARD_GUEST_CMDLINE="	/* instances.h HV_CMDLINE_ENV */

static bool opt_known(const char *const *opts, const char *a)
{
	for (; *opts; opts++)
		if (!strcmp(*opts, a))
			return true;
	return false;
}

/* The ids a new process may get (launcher_main sets them from the
 * controller's range): never root or a system account, never
 * (uid_t)-1 ("unchanged" to setresuid: root), never another range. */
static unsigned long long id_lo = 1000, id_hi = 0xfffffffeULL;

/* A uid or gid for the new process: decimal digits only, in range. */
static bool id_ok(const char *s)
{
	unsigned long long v = 0;

	if (!*s || strlen(s) > 10)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned)(*s - '0');
	}
	return v >= id_lo && v <= id_hi;
}

/* The first 40 bytes of an argument, non-printable bytes as '?': a
 * refusal names what it refused without echoing a whole request. */
static const char *shown(const char *a, char *buf, size_t len)
{
	size_t i;

	for (i = 0; a[i] && i + 1 < len && i < 40; i++)
		buf[i] = a[i] >= 0x20 && a[i] < 0x7f ? a[i] : '?';
	buf[i] = 0;
	return buf;
}

static bool argv_ok(uint32_t image, char **argv, unsigned argc, char *why, size_t wlen)
{
	const char *const *opts = image == LAUNCH_HV ? hv_opts : image == LAUNCH_BLK ? blk_opts :
				  net_opts;
	const char *name = image == LAUNCH_HV ? "ward-hv" : image == LAUNCH_BLK ? "ward-blk" :
			   "ward-net";
	char b[48];

	if (argc < 1 || strcmp(argv[0], name)) {
		snprintf(why, wlen, "argv[0] must be \"%s\"", name);
		return false;
	}
	for (unsigned i = 1; i < argc; i++) {
		/* ward-hv --cmdline-env takes no value (the env names it). */
		if (image == LAUNCH_HV && !strcmp(argv[i], "--cmdline-env"))
			continue;
		if (!opt_known(opts, argv[i])) {
			snprintf(why, wlen, "%s option \"%s\" is not one the controller passes",
				 name, shown(argv[i], b, sizeof(b)));
			return false;
		}
		if (i + 1 >= argc) {
			snprintf(why, wlen, "%s option %s has no value", name, argv[i]);
			return false;
		}
		/* The new process drops to this uid: never root, never a
		 * system account. */
		if ((!strcmp(argv[i], "--uid") || !strcmp(argv[i], "--gid")) &&
		    !id_ok(argv[i + 1])) {
			snprintf(why, wlen, "%s %s \"%s\": must be a number from %llu to %llu",
				 name, argv[i], shown(argv[i + 1], b, sizeof(b)), id_lo, id_hi);
			return false;
		}
		i++;
	}
	return true;
}

static bool envp_ok(uint32_t image, char **envp, unsigned envc, char *why, size_t wlen)
{
	char b[48];

	for (unsigned i = 0; i < envc; i++) {
		if (!strcmp(envp[i], LAUNCH_PATH_ENV))
			continue;
		if (image == LAUNCH_HV && !strncmp(envp[i], LAUNCH_CMDLINE_ENV,
						   strlen(LAUNCH_CMDLINE_ENV)))
			continue;
		/* The name only: a value may be a customer's command line. */
		snprintf(why, wlen, "environment variable %.*s is not one the controller passes",
			 (int)strcspn(shown(envp[i], b, sizeof(b)), "="), b);
		return false;
	}
	return true;
}

/* Split m->str into argv and envp (NULL-terminated); false if malformed. */
static bool split_strings(struct launch_msg *m, size_t got, char **argv, char **envp,
			  char *why, size_t wlen)
{
	size_t hdr = offsetof(struct launch_msg, str), off = 0;
	unsigned k;

	if (got < hdr) {
		snprintf(why, wlen, "short request: %zu bytes, the header alone is %zu", got, hdr);
		return false;
	}
	if (m->str_len != got - hdr) {
		snprintf(why, wlen, "request says %u bytes of strings, carries %zu", m->str_len,
			 got - hdr);
		return false;
	}
	/* Each bound alone first: the sum of two uint32_t wraps. */
	if (!m->argc || m->argc > LAUNCH_MAX_ARGS || m->envc > LAUNCH_MAX_ARGS ||
	    m->argc + m->envc > LAUNCH_MAX_ARGS) {
		snprintf(why, wlen, "%u arguments and %u environment strings: 1..%d in all",
			 m->argc, m->envc, LAUNCH_MAX_ARGS);
		return false;
	}
	for (k = 0; k < m->argc + m->envc; k++) {
		char *s;
		size_t l;

		if (off >= m->str_len)
			break;
		s = m->str + off;
		l = strnlen(s, m->str_len - off);
		if (off + l >= m->str_len)
			break;
		if (k < m->argc)
			argv[k] = s;
		else
			envp[k - m->argc] = s;
		off += l + 1;
	}
	if (k < m->argc + m->envc || off != m->str_len) {
		snprintf(why, wlen, "the strings are not %u NUL-terminated ones", m->argc + m->envc);
		return false;
	}
	argv[m->argc] = NULL;
	envp[m->envc] = NULL;
	return true;
}

static int32_t serve_one(const struct launcher_images *img, struct launch_msg *m, size_t got,
			 int *fds, size_t nfds, char *why, size_t wlen)
{
	char *argv[LAUNCH_MAX_ARGS + 1], *envp[LAUNCH_MAX_ARGS + 1];
	size_t hdr = offsetof(struct launch_msg, str);
	unsigned want;
	int go, out;
	long pid;

	if (got < hdr) {
		snprintf(why, wlen, "short request: %zu bytes, the header alone is %zu", got, hdr);
		return -EPERM;
	}
	if (m->image != LAUNCH_HV && m->image != LAUNCH_BLK && m->image != LAUNCH_NET) {
		snprintf(why, wlen, "unknown image kind %u: only ward-hv (%d), ward-blk (%d) and "
			 "ward-net (%d)", m->image, LAUNCH_HV, LAUNCH_BLK, LAUNCH_NET);
		return -EPERM;
	}
	if (m->n_fds > LAUNCH_MAX_FDS || m->flags & ~(LF_NULL_STDOUT | LF_GO | LF_CPUS | LF_STDOUT) ||
	    ((m->flags & LF_STDOUT) && m->image != LAUNCH_HV)) {
		snprintf(why, wlen, "%u fds (at most %d), flags 0x%x", m->n_fds, LAUNCH_MAX_FDS,
			 m->flags);
		return -EPERM;
	}
	want = m->n_fds + ((m->flags & LF_GO) ? 1 : 0) + ((m->flags & LF_STDOUT) ? 1 : 0);
	if (want != nfds) {
		snprintf(why, wlen, "request names %u fds, %zu came with it", want, nfds);
		return -EPERM;
	}
	if (!split_strings(m, got, argv, envp, why, wlen) ||
	    !argv_ok(m->image, argv, m->argc, why, wlen) ||
	    !envp_ok(m->image, envp, m->envc, why, wlen))
		return -EPERM;
	go = (m->flags & LF_GO) ? fds[0] : -1;
	out = (m->flags & LF_STDOUT) ? fds[go >= 0] : -1;
	/* CLONE_PARENT: the new process is the controller's child, so the
	 * controller waits for it and reads its exit status as before. */
	pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, 0);
	if (pid < 0) {
		snprintf(why, wlen, "clone: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0)
		child_exec(img, m, fds + (go >= 0) + (out >= 0), m->n_fds, go, out, argv, envp);
	return (int32_t)pid;
}

static __attribute__((noreturn)) void launcher_main(int sock, const struct launcher_images *img)
{
	static struct launch_msg m;
	int keep[4] = { sock, img->hv_fd, img->blk_fd, img->net_fd }, fds[FDPASS_MAX];
	struct launch_reply rep;
	size_t nfds;
	ssize_t got;

	prctl(PR_SET_NAME, "ward-launcher");
	if (img->id_hi) {
		id_lo = img->id_lo > 1000 ? img->id_lo : 1000;
		id_hi = img->id_hi < 0xfffffffeULL ? img->id_hi : 0xfffffffeULL;
	}
	/* It holds nothing of the controller's: no TPM, keys or sockets. */
	fdpass_close_others(keep, 4);
	prctl(PR_SET_DUMPABLE, 0);
	for (;;) {
		memset(&rep, 0, sizeof(rep));
		got = fdpass_recv(sock, &m, sizeof(m), 0, fds, FDPASS_MAX, &nfds);
		if (got == 0 && nfds == 0)
			_exit(0);	/* the controller is gone */
		if (got == -EMSGSIZE) {
			/* Consumed, its fds closed: refused like any other. */
			rep.rc = -EMSGSIZE;
			snprintf(rep.why, sizeof(rep.why), "request larger than %zu bytes or with "
				 "more than %d fds", sizeof(m), FDPASS_MAX);
		} else if (got < 0) {
			_exit(1);
		} else {
			rep.rc = serve_one(img, &m, (size_t)got, fds, nfds, rep.why,
					   sizeof(rep.why));
			for (size_t i = 0; i < nfds; i++)
				close(fds[i]);
		}
		if (rep.rc < 0)
			log_warn("launcher: request refused", "reason=\"%s\"", rep.why);
		if (send(sock, &rep, sizeof(rep), MSG_NOSIGNAL) != sizeof(rep))
			_exit(1);
	}
}

int launcher_start(const struct launcher_images *img, char *err, size_t errlen)
{
	int sp[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp)) {
		snprintf(err, errlen, "launcher: socketpair: %s", strerror(errno));
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "launcher: fork: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return -EAGAIN;
	}
	if (pid == 0) {
		close(sp[0]);
		launcher_main(sp[1], img);
	}
	close(sp[1]);
	chan = sp[0];
	launcher_pid = pid;
	log_info("launcher started", "pid=%d", (int)pid);
	return 0;
}

static size_t put_strings(char *out, size_t cap, char *const *v, uint32_t *count, bool *ok)
{
	size_t off = 0;

	for (*count = 0; v && v[*count]; (*count)++) {
		size_t l = strlen(v[*count]) + 1;

		if (off + l > cap) {
			*ok = false;
			return off;
		}
		memcpy(out + off, v[*count], l);
		off += l;
	}
	return off;
}

/* One reply, whole; its reason made a string whatever arrived. */
static int launcher_reply(struct launch_reply *rep)
{
	ssize_t n;

	do {
		n = recv(chan, rep, sizeof(*rep), 0);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(*rep))
		return n < 0 ? -errno : -EPIPE;
	rep->why[sizeof(rep->why) - 1] = 0;
	return 0;
}

pid_t launcher_spawn(const struct launch_req *r, char *err, size_t errlen)
{
	static struct launch_msg m;
	struct launch_reply rep;
	int fds[FDPASS_MAX];
	size_t nfds = 0, len;
	struct iovec iov;
	bool ok = true;
	int rc;

	if (chan < 0) {
		snprintf(err, errlen, "no launcher: ward-hv, ward-blk and ward-net cannot be started");
		return -ENOEXEC;
	}
	if (r->n_fds > LAUNCH_MAX_FDS) {
		snprintf(err, errlen, "launcher: too many fds (%u)", r->n_fds);
		return -EINVAL;
	}
	memset(&m, 0, offsetof(struct launch_msg, str));
	m.image = (uint32_t)r->image;
	m.n_fds = r->n_fds;
	m.flags = (r->null_stdout ? LF_NULL_STDOUT : 0) | (r->go_fd >= 0 ? LF_GO : 0) |
		  (r->cpus ? LF_CPUS : 0) | (r->stdout_fd > 0 ? LF_STDOUT : 0);
	if (r->cpus)
		m.cpus = *r->cpus;
	len = put_strings(m.str, sizeof(m.str), r->argv, &m.argc, &ok);
	len += put_strings(m.str + len, sizeof(m.str) - len, r->envp, &m.envc, &ok);
	if (!ok) {
		snprintf(err, errlen, "launcher: arguments too long");
		return -E2BIG;
	}
	m.str_len = (uint32_t)len;
	if (r->go_fd >= 0)
		fds[nfds++] = r->go_fd;
	if (r->stdout_fd > 0)
		fds[nfds++] = r->stdout_fd;
	for (unsigned i = 0; i < r->n_fds; i++)
		fds[nfds++] = r->fds[i];
	iov = (struct iovec){ &m, offsetof(struct launch_msg, str) + len };
	rc = fdpass_send(chan, &iov, 1, fds, nfds);
	if (!rc)
		rc = launcher_reply(&rep);
	if (rc) {
		snprintf(err, errlen, "the launcher is gone: %s", strerror(-rc));
		return rc;
	}
	if (rep.rc < 0)
		snprintf(err, errlen, "the launcher refused: %s", rep.why[0] ? rep.why :
			 strerror(-rep.rc));
	return rep.rc;
}

void launcher_stop(void)
{
	if (chan < 0)
		return;
	close(chan);
	chan = -1;
	waitpid(launcher_pid, NULL, 0);
}

void launcher_stop_card(int pidfd, pid_t pid, bool child, int ms, const char *name)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	if (pidfd >= 0)
		syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0);
	if (pidfd < 0 || poll(&p, 1, ms) != 1) {
		log_warn("card did not exit on SIGTERM, killing it", "card=%s pid=%d", name, (int)pid);
		if (pidfd >= 0)
			syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	}
	if (child)
		waitpid(pid, NULL, 0);
}
