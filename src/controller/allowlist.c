/* controller/allowlist: the one seccomp allowlist of ward-controller (the
 * event loop thread and the audit flusher: the flusher only writes, fsyncs
 * and signals, all of which the loop needs too) and its Landlock paths and
 * ports. Every syscall has its reason; anything else kills the process.
 * Starting processes is not here: the launcher does it. The count is
 * published in docs/threat-model.md. */
#include "controller/allowlist.h"

#include <dlfcn.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "log.h"
#include "tpm.h"

#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#endif

static const struct sandbox_call ctl_calls[] = {
	{ SCMP_SYS(epoll_wait), "event loop (libevent)" },
	{ SCMP_SYS(epoll_ctl), "event loop: connections, pidfds, timers" },
	{ SCMP_SYS(poll), "curl (KMS), waits for a stopping ward-hv/ward-blk pidfd" },
	{ SCMP_SYS(ppoll), "curl on newer builds" },
	{ SCMP_SYS(accept4), "API clients" },
	{ SCMP_SYS(bind), "the API listener (Landlock: its port only); netlink for getaddrinfo" },
	{ SCMP_SYS(listen), "the API listener" },
	{ SCMP_SYS(connect), "TPM (swtpm TCTI reconnects per command) and KMS (Landlock: those ports)" },
	{ SCMP_SYS(shutdown), "evhttp closes a connection" },
	{ SCMP_SYS(getsockname), "the API's bound port, curl" },
	{ SCMP_SYS(getpeername), "curl, evhttp: the client's address" },
	{ SCMP_SYS(setsockopt), "SO_RCVTIMEO on ward-blk channels, TCP options (libevent, curl)" },
	{ SCMP_SYS(getsockopt), "curl: SO_ERROR of a connect" },
	{ SCMP_SYS(sendto), "curl, TPM TCTI, netlink" },
	{ SCMP_SYS(recvfrom), "curl, TPM TCTI" },
	{ SCMP_SYS(sendmsg), "blkctl requests with fds, launch requests" },
	{ SCMP_SYS(sendmmsg), "glibc's resolver: the A and AAAA queries of a KMS host name" },
	{ SCMP_SYS(recvmsg), "blkctl replies, netlink" },
	{ SCMP_SYS(socketpair), "ward-blk control and vhost-user channels" },
	{ SCMP_SYS(pipe2), "the start pipe of a new ward-hv" },
	{ SCMP_SYS(eventfd2), "audit flusher wake-up" },
	{ SCMP_SYS(openat), "state files, /proc/PID/stat, images (Landlock says where)" },
	{ SCMP_SYS(newfstatat), "file kinds and sizes" },
	{ SCMP_SYS(statx), "file sizes (fileio)" },
	{ SCMP_SYS(lseek), "audit log, state files" },
	{ SCMP_SYS(pread64), "audit log records, firmware slots" },
	{ SCMP_SYS(pwrite64), "audit log, firmware slots" },
	{ SCMP_SYS(ftruncate), "audit log repair, memfds of firmware images" },
	{ SCMP_SYS(fsync), "durable audit log, checkpoints, records" },
	{ SCMP_SYS(fdatasync), "durable audit log" },
	{ SCMP_SYS(flock), "the firmware store's lock" },
	{ SCMP_SYS(rename), "atomic replace of a record or checkpoint" },
	{ SCMP_SYS(renameat), "atomic replace by directory fd (fileio)" },
	{ SCMP_SYS(renameat2), "RENAME_NOREPLACE (fileio)" },
	{ SCMP_SYS(linkat), "publish a file without replacing (fileio)" },
	{ SCMP_SYS(unlink), "a stopped instance's or card's record" },
	{ SCMP_SYS(unlinkat), "temporary files (fileio)" },
	{ SCMP_SYS(mkdir), "cards/ and instances/ on demand" },
	{ SCMP_SYS(mkdirat), "directories by fd (fileio)" },
	{ SCMP_SYS(getdents64), "re-adoption, firmware store listing" },
	{ SCMP_SYS(memfd_create), "a firmware slot read back for verification" },
	{ SCMP_SYS(pidfd_open), "watch a new ward-hv or ward-blk" },
	{ SCMP_SYS(pidfd_send_signal), "stop an instance or a card" },
	{ SCMP_SYS(wait4), "reap ward-hv and ward-blk (the controller's children)" },
	{ SCMP_SYS(waitid), "reap (glibc may use waitid)" },
	{ SCMP_SYS(getrandom), "instance ids, OpenSSL reseeding" },
	{ SCMP_SYS(memfd_secret), "secmem: volume keys on their way to ward-blk" },
	{ SCMP_SYS(mlock), "secmem fallback pages" },
	{ SCMP_SYS(munlock), "secmem_free" },
	{ SCMP_SYS(clock_nanosleep), "retry pauses" },
	{ SCMP_SYS(getuid), "curl, OpenSSL" },
	{ SCMP_SYS(geteuid), "curl, OpenSSL" },
	{ SCMP_SYS(uname), "glibc's resolver: the default search domain (gethostname)" },
	{ SCMP_SYS(set_robust_list), "new thread: audit flusher, curl resolver (glibc)" },
	{ SCMP_SYS(rseq), "new thread (glibc)" },
#ifdef SANDBOX_SANITIZED
	{ SCMP_SYS(sched_getaffinity), "sanitizer runtime: pthread_getattr_np in a new thread" },
#endif
};

/* Listed above: 55 (sanitizer builds: 56); with sandbox_allow_runtime's
 * 18 (tgkill only into this process) and the 4 argument-checked ones below
 * (fcntl, socket, rt_sigaction, clone), 77 syscalls. No kill(2): ward-hv
 * and ward-blk are signalled through their pidfds only, so the controller
 * (uid 0, CAP_KILL) can signal no other process. */

/* fcntl: O_NONBLOCK (libevent, curl), FD_CLOEXEC, a guest image's fd
 * above 3 for the launch request, seals of firmware memfds. */
static const int ctl_fcntls[] = { F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC,
				  F_ADD_SEALS, F_GET_SEALS };
/* Signal handlers the loop installs after lockdown (libevent's SIGTERM
 * and SIGINT), curl's SIGPIPE, glibc's SIGSETXID at the first thread. */
static const int ctl_signals[] = { SIGINT, SIGTERM, SIGPIPE, 33 };
/* Sockets: TCP to TPM/KMS, UDP for the resolver when the KMS is named by
 * host name, unix streams to a re-adopted ward-blk's control socket, and
 * the route netlink getaddrinfo(AI_ADDRCONFIG) asks. No packet, raw or
 * unix datagram sockets (the last would reach syslog and journald). */
static const int ctl_inet_types[] = { SOCK_STREAM, SOCK_DGRAM };
static const int ctl_unix_types[] = { SOCK_STREAM };

static int allow_ctl(scmp_filter_ctx ctx)
{
	int rc = sandbox_allow_runtime_tgid(ctx, getpid());

	if (!rc)
		rc = sandbox_allow_calls(ctx, ctl_calls, sizeof(ctl_calls) / sizeof(ctl_calls[0]));
	if (!rc)
		rc = sandbox_allow_values(ctx, SCMP_SYS(fcntl), 1, ctl_fcntls,
					  sizeof(ctl_fcntls) / sizeof(ctl_fcntls[0]));
	if (!rc)
		rc = sandbox_allow_values(ctx, SCMP_SYS(rt_sigaction), 0, ctl_signals,
					  sizeof(ctl_signals) / sizeof(ctl_signals[0]));
	if (!rc)
		rc = sandbox_allow_socket(ctx, AF_INET, ctl_inet_types, 2);
	if (!rc)
		rc = sandbox_allow_socket(ctx, AF_INET6, ctl_inet_types, 2);
	if (!rc)
		rc = sandbox_allow_socket(ctx, AF_UNIX, ctl_unix_types, 1);
	if (!rc) {
		struct scmp_arg_cmp nl[2] = {
			{ .arg = 0, .op = SCMP_CMP_EQ, .datum_a = AF_NETLINK },
			{ .arg = 2, .op = SCMP_CMP_EQ, .datum_a = NETLINK_ROUTE },
		};

		rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2, nl);
	}
	/* Threads, never processes (the launcher starts those). */
	if (!rc)
		rc = sandbox_allow_threads(ctx);
	return rc;
}

/* "device:/dev/tpmrm0" -> the node; "swtpm:host=H,port=P" / "mssim:..."
 * -> P and P + 1 (command and platform ports). */
static void tcti_targets(const char *tcti, char *dev, size_t devlen, unsigned short *ports,
			 size_t *n)
{
	const char *p;
	unsigned long port;

	dev[0] = 0;
	if (!tcti || !tcti[0])
		tcti = TPM_DEFAULT_TCTI;
	if (!strncmp(tcti, "device", 6)) {
		snprintf(dev, devlen, "%s", tcti[6] == ':' && tcti[7] ? tcti + 7 : "/dev/tpmrm0");
		return;
	}
	p = strstr(tcti, "port=");
	port = p ? strtoul(p + 5, NULL, 10) : 2321;
	if (port > 0 && port < 65535) {
		ports[(*n)++] = (unsigned short)port;
		ports[(*n)++] = (unsigned short)(port + 1);
	}
}

/* Whether a URL's host is a name that libc's resolver must look up (not
 * an IPv4 or bracketed IPv6 literal, not "localhost", which curl answers
 * itself). */
static bool url_host_is_name(const char *url)
{
	const char *h = strstr(url, "://");
	char host[256];
	size_t n;
	unsigned char a[16];

	h = h ? h + 3 : url;
	if (*h == '[')
		return false;
	n = strcspn(h, ":/");
	if (!n || n >= sizeof(host))
		return n != 0;
	memcpy(host, h, n);
	host[n] = 0;
	return inet_pton(AF_INET, host, a) != 1 && strcasecmp(host, "localhost");
}

/* The port of an https://HOST:PORT/ URL (443 without one). */
static int url_port(const char *url)
{
	const char *h = strstr(url, "://"), *c, *end;

	h = h ? h + 3 : url;
	end = h + strcspn(h, "/");
	if (*h == '[')
		h = strchr(h, ']') ? strchr(h, ']') : h;
	c = memchr(h, ':', (size_t)(end - h));
	return c ? atoi(c + 1) : 443;
}

void ctl_sandbox_prepare(const char *tcti)
{
	char lib[96];
	size_t n;

	if (!tcti || !tcti[0])
		tcti = TPM_DEFAULT_TCTI;
	/* tss2-tctildr dlopen()s libtss2-tcti-NAME.so.0 for every new
	 * connection; keep it loaded so that is no new mapping later. */
	n = strcspn(tcti, ":");
	if (n < 32) {
		snprintf(lib, sizeof(lib), "libtss2-tcti-%.*s.so.0", (int)n, tcti);
		if (!dlopen(lib, RTLD_NOW | RTLD_NODELETE))
			log_warn("cannot preload the TCTI library: a firmware update after "
				 "lockdown will not reach the TPM", "lib=%s", lib);
	}
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG | OPENSSL_INIT_LOAD_SSL_STRINGS, NULL);
}

int ctl_port_dir_check(const char *port_file, char *dir, size_t dirlen, char *err,
		       size_t errlen)
{
	/* Refused themselves (a service's own directory beneath is fine:
	 * /run/ward, /var/lib/ward) ... */
	static const char *const exact[] = { "/", "/etc", "/usr", "/var", "/home", "/root",
					     "/boot", "/proc", "/sys", "/dev", "/run" };
	/* ... and with everything beneath them. */
	static const char *const tree[] = { "/etc/", "/usr/", "/boot/", "/proc/", "/sys/", "/dev/" };
	char given[PATH_MAX], *slash;
	struct stat sb;

	snprintf(given, sizeof(given), "%s", port_file);
	slash = strrchr(given, '/');
	if (slash && slash != given)
		*slash = 0;
	else
		snprintf(given, sizeof(given), "%s", slash ? "/" : ".");
	if (!realpath(given, dir) || strlen(dir) >= dirlen || stat(dir, &sb)) {
		int rc = -errno;

		snprintf(err, errlen, "--port-file %s: its directory %s: %s", port_file, given,
			 strerror(-rc));
		return rc ? rc : -EINVAL;
	}
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (!strcmp(dir, exact[i]))
			goto system_dir;
	for (size_t i = 0; i < sizeof(tree) / sizeof(tree[0]); i++)
		if (!strncmp(dir, tree[i], strlen(tree[i])))
			goto system_dir;
	if ((sb.st_mode & S_IWOTH) && !(sb.st_mode & S_ISVTX)) {
		snprintf(err, errlen, "--port-file %s: its directory %s is world-writable without "
			 "the sticky bit (the controller is given it read-write, and anyone could "
			 "replace the port file): use a directory of its own, such as /run/ward",
			 port_file, dir);
		return -EINVAL;
	}
	return 0;
system_dir:
	snprintf(err, errlen, "--port-file %s: its directory %s is a system directory, which the "
		 "locked-down controller would be given read-write: use a directory of its own, "
		 "such as /run/ward", port_file, dir);
	return -EINVAL;
}

int ctl_sandbox_lock(const struct ctl_sandbox *s, char *err, size_t errlen)
{
	static const struct sandbox_cfg on = { .enabled = true };
	/* Files glibc's resolver reads to look up a KMS host name. */
	static const char *const resolver_files[] = { "/etc/hosts", "/etc/resolv.conf",
						      "/etc/nsswitch.conf", "/etc/host.conf",
						      "/etc/gai.conf" };
	struct sandbox_path paths[32];
	unsigned short bind_port[1], connect_ports[4 + CTL_MAX_NBD_PORTS];
	char dev[PATH_MAX], port_dir[PATH_MAX];
	struct sandbox_confine_cfg cc = { .paths = paths, .restrict_tcp = true,
					  .bind_ports = bind_port, .connect_ports = connect_ports };
	const char *colon = strrchr(s->listen, ':');
	int rc, abi;

	paths[cc.n_paths++] = (struct sandbox_path){ s->state_dir, SANDBOX_RW };
	/* /proc/PID/stat of ward-hv and ward-blk (start times). Landlock keeps
	 * ptrace-class access (environ, mem, fds) to processes outside the
	 * controller's domain closed even so. */
	paths[cc.n_paths++] = (struct sandbox_path){ "/proc", SANDBOX_RO };
	paths[cc.n_paths++] = (struct sandbox_path){ "/sys/kernel/mm/hugepages", SANDBOX_RO };
	if (s->images_dir)
		paths[cc.n_paths++] = (struct sandbox_path){ s->images_dir, SANDBOX_RO };
	for (int i = 0; i < 3; i++) {
		if (s->tls[i])
			paths[cc.n_paths++] = (struct sandbox_path){ s->tls[i], SANDBOX_RO };
		if (s->kms_files[i])
			paths[cc.n_paths++] = (struct sandbox_path){ s->kms_files[i], SANDBOX_RO };
	}
	/* The port file is written next to itself and renamed into place:
	 * its directory read-write, never a system one (checked again here,
	 * whoever calls this). */
	if (s->port_file) {
		if ((rc = ctl_port_dir_check(s->port_file, port_dir, sizeof(port_dir), err, errlen)))
			return rc;
		paths[cc.n_paths++] = (struct sandbox_path){ port_dir, SANDBOX_RW };
	}
	tcti_targets(s->tcti, dev, sizeof(dev), connect_ports, &cc.n_connect);
	if (dev[0])
		paths[cc.n_paths++] = (struct sandbox_path){ dev, SANDBOX_DEV };
	if (s->kms_url)
		connect_ports[cc.n_connect++] = (unsigned short)url_port(s->kms_url);
	/* A KMS reached by name: the resolver's files, and DNS over TCP
	 * (port 53) when an answer does not fit a UDP datagram. UDP is not
	 * under Landlock's TCP rules. */
	if (s->kms_url && url_host_is_name(s->kms_url)) {
		for (size_t i = 0; i < sizeof(resolver_files) / sizeof(resolver_files[0]); i++)
			paths[cc.n_paths++] = (struct sandbox_path){ resolver_files[i], SANDBOX_RO };
		connect_ports[cc.n_connect++] = 53;
	}
	/* Backing stores: opened read-write per ATTACH (blkctl_open_store). */
	for (int i = 0; i < CTL_MAX_VOLUME_DIRS; i++)
		if (s->volume_dirs[i])
			paths[cc.n_paths++] = (struct sandbox_path){ s->volume_dirs[i], SANDBOX_RW };
	for (int i = 0; i < CTL_MAX_NBD_PORTS; i++)
		if (s->nbd_ports[i])
			connect_ports[cc.n_connect++] = s->nbd_ports[i];
	bind_port[0] = colon ? (unsigned short)atoi(colon + 1) : 0;
	cc.n_bind = 1;
	rc = sandbox_confine(&on, &cc, &abi, err, errlen);
	if (rc)
		return rc;
	/* The controller stays uid 0 (the TPM, the state dir); of root's
	 * capabilities it keeps only CAP_KILL, to stop ward-hv and ward-blk,
	 * which run under their own uids: through their pidfds, the only way
	 * the filter below lets it signal anything. */
	rc = sandbox_keep_caps((const int[]){ CAP_KILL }, 1, err, errlen);
	if (rc)
		return rc;
	rc = sandbox_filter_apply(allow_ctl, &on, err, errlen);
	if (rc)
		return rc;
	log_info("locked down", "landlock_abi=%d state_dir=%s tpm=%s", abi, s->state_dir,
		 dev[0] ? dev : "tcp");
	return 0;
}
