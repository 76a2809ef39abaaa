/* test_launcher: ward-controller's launcher (src/controller/launcher.c) on
 * its own, no KVM needed. It starts the real ward-blk from a sealed-image fd
 * with socketpair fds, as volumes.c does; tests/blk/vu_driver then does real
 * I/O through the card; exit statuses reach the caller (CLONE_PARENT). Then
 * every refusal — options outside the allowlist, uids below 1000, loader
 * variables, an unknown image, malformed requests sent raw on the channel —
 * each answered with its reason while the launcher keeps serving. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <limits.h>
#include <sys/random.h>
#include <sys/stat.h>

/* The unit itself, for its channel (static chan) and message layout: the
 * malformed requests are ones launcher_spawn() never builds. */
#include "controller/launcher.c"

#include "blkctl.h"

#define VOL_SIZE (32u << 20)	/* rmw uses sectors past 16 MiB */

static char build_root[2048], tmpdir[2048], blk_path[PATH_MAX], hv_path[PATH_MAX];
static char uid[16];
static pid_t started[64];	/* killed at teardown if a failed test left them */
static unsigned n_started;
static char *const path_env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };

#define STRAY_FD 5000

static int group_setup(void **st)
{
	const char *b = getenv("WARD_BUILD_ROOT");
	struct launcher_images img = { .hv_fd = -1, .blk_fd = -1, .net_fd = -1 };
	struct timeval tv = { .tv_sec = 60 };
	char err[256];

	if (!b)
		return -1;
	snprintf(build_root, sizeof(build_root), "%s", b);
	snprintf(blk_path, sizeof(blk_path), "%s/src/blk/ward-blk", b);
	snprintf(hv_path, sizeof(hv_path), "%s/src/hv/ward-hv", b);
	snprintf(tmpdir, sizeof(tmpdir), "%s/ward-launcher-test.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	/* A uid of its own per run; ward-blk drops to it (>= 1000). */
	snprintf(uid, sizeof(uid), "%u", 320000u + (unsigned)getpid() % 20000u);
	/* ward-blk as an fd (what a verified build hands over: the launcher
	 * fexecve()s it), ward-hv as a path (the development build). */
	img.blk_fd = open(blk_path, O_RDONLY | O_CLOEXEC);
	img.hv_path = hv_path;
	if (img.blk_fd < 0) {
		fprintf(stderr, "cannot open %s: the build did not produce it\n", blk_path);
		return -1;
	}
	/* An fd far above 4096 in the controller: the launcher must not
	 * inherit it (test_no_stray_fds). */
	if (dup2(STDIN_FILENO, STRAY_FD) != STRAY_FD)
		return -1;
	/* The range the launcher accepts: this run's uid and its neighbours. */
	img.id_lo = (unsigned long)strtoul(uid, NULL, 10) - 10;
	img.id_hi = img.id_lo + 20;
	if (launcher_start(&img, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	close(img.blk_fd);
	/* A launcher that does not answer fails the test instead of hanging
	 * it (a request refused without a reply, a crashed launcher). */
	setsockopt(chan, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

static int group_teardown(void **st)
{
	char cmd[PATH_MAX + 16];

	for (unsigned i = 0; i < n_started; i++)
		if (started[i] > 0 && !kill(started[i], SIGKILL))
			waitpid(started[i], NULL, 0);
	launcher_stop();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int exit_code(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	for (unsigned i = 0; i < n_started; i++)
		if (started[i] == pid)
			started[i] = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static pid_t ppid_of(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int ppid = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		sscanf(p + 2, "%*c %d", &ppid);
	fclose(f);
	return ppid;
}

/* ward-blk as volumes.c starts it, with a given control fd. */
static pid_t spawn_blk(int ctl, int keep, int go, char *err, size_t errlen)
{
	char *const argv[] = { "ward-blk", "--control-fd", "3", "--keep-fd", "4", "--max-volumes",
			       "1", "--uid", uid, "--gid", uid, NULL };
	int fds[2] = { ctl, keep };
	struct launch_req r = { .image = LAUNCH_BLK, .argv = argv, .envp = path_env, .fds = fds,
				.n_fds = 2, .go_fd = go };
	pid_t pid = launcher_spawn(&r, err, errlen);

	if (pid > 0 && n_started < sizeof(started) / sizeof(started[0]))
		started[n_started++] = pid;
	return pid;
}

/* The launcher still starts processes: a ward-blk whose control fd is a
 * stream socket, which it refuses at once with its setup status, 2. */
static void assert_serving(void)
{
	char err[256] = "";
	int sp[2];
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	pid = spawn_blk(sp[0], sp[1], -1, err, sizeof(err));
	close(sp[0]);
	close(sp[1]);
	if (pid <= 0)
		fail_msg("the launcher stopped serving: %s (%d)", err, (int)pid);
	assert_int_equal(exit_code(pid), 2);
}

/* ---- a real card, real I/O ---- */

static int run_driver(int vu, const char *out, const char *const *cmds)
{
	char drv[PATH_MAX], fdarg[16];
	char *av[24];
	int n = 0;
	pid_t pid;

	snprintf(drv, sizeof(drv), "%s/tests/blk/vu_driver", build_root);
	snprintf(fdarg, sizeof(fdarg), "%d", vu);
	av[n++] = drv;
	av[n++] = "--fd";
	av[n++] = fdarg;
	for (; *cmds && n < 23; cmds++)
		av[n++] = (char *)*cmds;
	av[n] = NULL;
	pid = fork();
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (o < 0 || dup2(o, 1) < 0 || fcntl(vu, F_SETFD, 0))
			_exit(126);
		execv(drv, av);
		_exit(127);
	}
	return pid < 0 ? -1 : exit_code(pid);
}

static bool file_has(const char *path, const char *what)
{
	char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return strstr(buf, what) != NULL;
}

/* ATTACH store_path again with key on a new connection and run cmds:
 * the driver's exit status. */
static int reattach_verify(int ctl, struct blkctl_attach *a, const char *store_path,
			   const uint8_t *key, const char *out, const char *const *cmds)
{
	char err[256] = "";
	int vu[2], store, rc;

	store = blkctl_open_store(store_path, a, err, sizeof(err));
	assert_true(store >= 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, vu), 0);
	rc = blkctl_attach(ctl, a, key, vu[1], store, NULL, NULL, err, sizeof(err));
	close(vu[1]);
	close(store);
	if (rc)
		fail_msg("re-ATTACH: %s (%d)", err, rc);
	rc = run_driver(vu[0], out, cmds);
	close(vu[0]);
	return rc;
}

static void test_blk_io(void **st)
{
	static const char *const io[] = { "write", "0", "64", "7", "flush", "verify", "0", "64",
					  "7", "getid", "rmw", NULL };
	static const char *const again[] = { "verify", "0", "64", "7", NULL };
	struct blkctl_attach a = { 0 };
	char err[256] = "", store_path[PATH_MAX], out[PATH_MAX], status[PATH_MAX];
	uint8_t key[BLKCTL_KEY_LEN], head[4096], zero[4096] = { 0 };
	int sp[2], vu[2], store, rc;
	unsigned u = 0;
	FILE *f;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	pid = spawn_blk(sp[1], sp[0], -1, err, sizeof(err));
	if (pid <= 0)
		fail_msg("spawn ward-blk: %s (%d)", err, (int)pid);
	close(sp[1]);
	/* CLONE_PARENT: the card is the caller's child, not the launcher's. */
	assert_int_equal(ppid_of(pid), getpid());

	snprintf(store_path, sizeof(store_path), "%s/vol.img", tmpdir);
	store = open(store_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(store >= 0);
	assert_int_equal(ftruncate(store, VOL_SIZE), 0);
	close(store);
	snprintf(a.id, sizeof(a.id), "vol-launcher");
	a.size = VOL_SIZE;
	a.num_queues = 1;
	store = blkctl_open_store(store_path, &a, err, sizeof(err));
	assert_true(store >= 0);
	assert_int_equal(getrandom(key, sizeof(key), 0), (ssize_t)sizeof(key));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, vu), 0);
	rc = blkctl_attach(sp[0], &a, key, vu[1], store, NULL, NULL, err, sizeof(err));
	close(vu[1]);
	close(store);
	if (rc)
		fail_msg("ATTACH into the launched ward-blk: %s (%d)", err, rc);

	/* The card runs as the uid the launcher let through. */
	snprintf(status, sizeof(status), "/proc/%d/status", (int)pid);
	assert_non_null(f = fopen(status, "r"));
	while (fgets(err, sizeof(err), f))
		if (sscanf(err, "Uid: %u", &u) == 1)
			break;
	fclose(f);
	assert_int_equal(u, (unsigned)atoi(uid));

	snprintf(out, sizeof(out), "%s/driver.out", tmpdir);
	assert_int_equal(run_driver(vu[0], out, io), 0);
	close(vu[0]);
	assert_true(file_has(out, "verify 0 64 7: ok"));
	assert_true(file_has(out, "id: vol-launcher"));
	assert_true(file_has(out, "read-modify-write: ok"));
	/* What landed in the store is not zeros and not the driver's
	 * plaintext: the first sector decrypted would start with its pattern;
	 * here it is enough that it changed and that a fresh connection
	 * reads back the plaintext. */
	store = open(store_path, O_RDONLY | O_CLOEXEC);
	assert_int_equal(pread(store, head, sizeof(head), 0), (ssize_t)sizeof(head));
	close(store);
	assert_memory_not_equal(head, zero, sizeof(head));

	/* DETACH, then the same store again on a new connection: with the
	 * same key it reads back what was written, with another it does
	 * not (the card encrypts; the store holds no plaintext). */
	rc = blkctl_detach(sp[0], "vol-launcher", NULL, NULL, err, sizeof(err));
	if (rc)
		fail_msg("DETACH: %s (%d)", err, rc);
	assert_int_equal(reattach_verify(sp[0], &a, store_path, key, out, again), 0);
	rc = blkctl_detach(sp[0], "vol-launcher", NULL, NULL, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_int_equal(getrandom(key, sizeof(key), 0), (ssize_t)sizeof(key));
	assert_int_not_equal(reattach_verify(sp[0], &a, store_path, key, out, again), 0);
	memset(key, 0, sizeof(key));

	/* Exit status: SIGTERM wipes what is attached and exits 0, and the
	 * caller reaps it (it is the caller's child). */
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(exit_code(pid), 0);
	close(sp[0]);
	assert_serving();
}

/* A process's own exit status reaches the caller: ward-blk's setup
 * refusal (2), and 127 when the start pipe closes without its byte. */
static void test_exit_status(void **st)
{
	char err[256] = "";
	int sp[2], go[2];
	pid_t pid;

	assert_serving();
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	pid = spawn_blk(sp[1], sp[0], go[0], err, sizeof(err));
	assert_true(pid > 0);
	close(go[0]);
	assert_int_equal(ppid_of(pid), getpid());
	close(go[1]);		/* EOF: never exec'd */
	assert_int_equal(exit_code(pid), 127);
	/* With the byte, it runs: ward-blk, stopped by SIGTERM, exits 0. */
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	pid = spawn_blk(sp[1], sp[0], go[0], err, sizeof(err));
	assert_true(pid > 0);
	close(go[0]);
	assert_int_equal(write(go[1], "g", 1), 1);
	close(go[1]);
	/* An empty QUERY round trip proves it is up before the signal. */
	assert_int_equal(blkctl_query(sp[0], "nothing", NULL, NULL, err, sizeof(err)), -ENOENT);
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(exit_code(pid), 0);
	close(sp[0]);
	close(sp[1]);
}

/* ---- refusals through launcher_spawn ---- */

/* Spawn argv/envp as image; must be refused with a reason containing
 * want (and never the text in secret), then the launcher serves again. */
static void refused(enum launch_image image, char *const *argv, char *const *envp,
		    const char *want, const char *secret)
{
	struct launch_req r = { .image = image, .argv = argv, .envp = envp ? envp : path_env,
				.go_fd = -1 };
	char err[512] = "";
	pid_t pid = launcher_spawn(&r, err, sizeof(err));

	if (pid > 0) {
		kill(pid, SIGKILL);
		exit_code(pid);
		fail_msg("launched (pid %d) instead of refusing: %s ...", (int)pid, argv[1]);
	}
	assert_int_equal(pid, -EPERM);
	if (!strstr(err, want))
		fail_msg("the refusal \"%s\" does not say \"%s\"", err, want);
	if (secret && strstr(err, secret))
		fail_msg("the refusal \"%s\" repeats the value \"%s\"", err, secret);
	assert_serving();
}

static void test_refuse_options(void **st)
{
	char *const nosb[] = { "ward-blk", "--control-fd", "3", "--no-sandbox", NULL };
	char *const nosb_hv[] = { "ward-hv", "--kernel-fd", "3", "--no-sandbox", NULL };
	char *const abbrev[] = { "ward-blk", "--no-s", NULL };
	char *const eq[] = { "ward-blk", "--uid=0", NULL };
	char *const volume[] = { "ward-blk", "--volume", "id=v,socket=/tmp/x.sock,backing=/etc/shadow",
				 NULL };
	char *const kernel[] = { "ward-hv", "--kernel", "/boot/vmlinuz", "--memory", "16", NULL };
	char *const cross[] = { "ward-blk", "--kernel-fd", "3", NULL };
	char *const noval[] = { "ward-blk", "--control-fd", NULL };
	char *const argv0[] = { "/bin/sh", "-c", "id", NULL };

	refused(LAUNCH_BLK, nosb, NULL, "option \"--no-sandbox\" is not one the controller passes",
		NULL);
	refused(LAUNCH_HV, nosb_hv, NULL, "ward-hv option \"--no-sandbox\"", NULL);
	refused(LAUNCH_BLK, abbrev, NULL, "\"--no-s\"", NULL);
	refused(LAUNCH_BLK, eq, NULL, "\"--uid=0\"", NULL);
	refused(LAUNCH_BLK, volume, NULL, "\"--volume\"", NULL);
	refused(LAUNCH_HV, kernel, NULL, "\"--kernel\"", NULL);
	refused(LAUNCH_BLK, cross, NULL, "ward-blk option \"--kernel-fd\"", NULL);
	refused(LAUNCH_BLK, noval, NULL, "--control-fd has no value", NULL);
	refused(LAUNCH_BLK, argv0, NULL, "argv[0] must be \"ward-blk\"", NULL);
}

static void test_refuse_uids(void **st)
{
	static const char *const bad[] = { "0", "999", "-1", "4294967295", "4294967296",
					   "1000x", " 1000", "+1000", "", "99999999999",
					   "1000", "4294967294", NULL };	/* outside the range */
	char range[64];

	snprintf(range, sizeof(range), "must be a number from %lu to %lu",
		 strtoul(uid, NULL, 10) - 10, strtoul(uid, NULL, 10) + 10);

	for (const char *const *b = bad; *b; b++) {
		char *const u[] = { "ward-blk", "--control-fd", "3", "--uid", (char *)*b, NULL };
		char *const g[] = { "ward-hv", "--kernel-fd", "3", "--gid", (char *)*b, NULL };

		refused(LAUNCH_BLK, u, NULL, "--uid", NULL);
		refused(LAUNCH_HV, g, NULL, range, NULL);
	}
}

/* The environment reaches the dynamic loader of a root process outside
 * every filter: only PATH, and ward-hv's guest command line. */
static void test_refuse_env(void **st)
{
	char *const blk[] = { "ward-blk", "--control-fd", "3", NULL };
	char *const hv[] = { "ward-hv", "--kernel-fd", "3", NULL };
	char *const preload[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
				  "LD_PRELOAD=/var/lib/ward/evil.so", NULL };
	char *const libpath[] = { "LD_LIBRARY_PATH=/var/lib/ward", NULL };
	char *const gconv[] = { "GCONV_PATH=/var/lib/ward/x", NULL };
	char *const otherpath[] = { "PATH=/var/lib/ward", NULL };
	char *const cmdline[] = { "WARD_GUEST_CMDLINE=console=ttyS0", NULL };

	refused(LAUNCH_BLK, blk, preload, "environment variable LD_PRELOAD", "evil.so");
	refused(LAUNCH_HV, hv, libpath, "environment variable LD_LIBRARY_PATH", "/var/lib/ward");
	refused(LAUNCH_HV, hv, gconv, "environment variable GCONV_PATH", "/var/lib/ward");
	refused(LAUNCH_BLK, blk, otherpath, "environment variable PATH", "/var/lib/ward");
	/* The guest command line is ward-hv's only. */
	refused(LAUNCH_BLK, blk, cmdline, "environment variable WARD_GUEST_CMDLINE",
		"console=ttyS0");
}

static void test_refuse_image(void **st)
{
	char *const argv[] = { "ward-blk", "--control-fd", "3", NULL };

	char *const net[] = { "ward-net", "--control-fd", "3", "--no-sandbox", "x", NULL };

	refused((enum launch_image)4, argv, NULL, "unknown image kind 4", NULL);
	refused((enum launch_image)0, argv, NULL, "unknown image kind 0", NULL);
	/* ward-net (3) runs only as ward-net, with the controller's options. */
	refused(LAUNCH_NET, argv, NULL, "argv[0] must be \"ward-net\"", NULL);
	refused(LAUNCH_NET, net, NULL, "ward-net option \"--no-sandbox\" is not one the "
		"controller passes", NULL);
}

/* ---- malformed requests, raw on the channel ---- */

static struct launch_msg raw;

/* A good request's header and strings, for the tests to break. */
static size_t raw_good(uint32_t n_fds)
{
	static const char s[] = "ward-blk\0--max-volumes\0001\0PATH=/usr/sbin:/usr/bin:/sbin:/bin";

	memset(&raw, 0, offsetof(struct launch_msg, str));
	raw.image = LAUNCH_BLK;
	raw.n_fds = n_fds;
	raw.argc = 3;
	raw.envc = 1;
	raw.str_len = sizeof(s);
	memcpy(raw.str, s, sizeof(s));
	return offsetof(struct launch_msg, str) + sizeof(s);
}

/* Send len bytes of buf with nfds copies of fd 0; expect a refusal whose
 * reason contains want, then the launcher serves again. */
static void raw_refused(const void *buf, size_t len, unsigned nfds, int32_t want_rc,
			const char *want)
{
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	union {
		char b[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct launch_reply rep;
	ssize_t n;

	if (nfds) {
		struct cmsghdr *c;

		mh.msg_control = cbuf.b;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		for (unsigned i = 0; i < nfds; i++) {
			int z = 0;

			memcpy(CMSG_DATA(c) + i * sizeof(int), &z, sizeof(int));
		}
	}
	assert_int_equal(sendmsg(chan, &mh, MSG_NOSIGNAL), (ssize_t)len);
	n = recv(chan, &rep, sizeof(rep), 0);
	if (n != (ssize_t)sizeof(rep))
		fail_msg("no whole reply to a malformed request (%zd bytes, errno %d): the "
			 "launcher %s", n, n < 0 ? errno : 0, n == 0 ? "died" : "did not answer");
	rep.why[sizeof(rep.why) - 1] = 0;
	if (rep.rc > 0) {
		kill(rep.rc, SIGKILL);
		exit_code(rep.rc);
		fail_msg("a malformed request started pid %d", (int)rep.rc);
	}
	assert_int_equal(rep.rc, want_rc);
	if (!strstr(rep.why, want))
		fail_msg("the refusal \"%s\" does not say \"%s\"", rep.why, want);
	assert_serving();
}

static void test_malformed(void **st)
{
	static char big[sizeof(struct launch_msg) + 512];
	size_t len;

	/* The checks below only mean something if the unbroken request
	 * passes: started (then stopped: --max-volumes alone is a usage
	 * error, 2). */
	{
		struct launch_reply rep;
		struct iovec iov;

		len = raw_good(0);
		iov = (struct iovec){ &raw, len };
		assert_int_equal(fdpass_send(chan, &iov, 1, NULL, 0), 0);
		assert_int_equal(recv(chan, &rep, sizeof(rep), 0), (ssize_t)sizeof(rep));
		assert_true(rep.rc > 0);
		assert_int_equal(exit_code(rep.rc), 2);
	}
	raw_refused(&raw, 8, 0, -EPERM, "short request: 8 bytes");
	raw_refused(&raw, offsetof(struct launch_msg, str) - 1, 0, -EPERM, "short request");
	memset(big, 'A', sizeof(big));
	raw_refused(big, sizeof(big), 0, -EMSGSIZE, "request larger than");
	/* Wrong fd counts: named but missing, sent but not named, too many
	 * for the message, more than a message may carry. */
	len = raw_good(2);
	raw_refused(&raw, len, 1, -EPERM, "request names 2 fds, 1 came with it");
	len = raw_good(0);
	raw_refused(&raw, len, 2, -EPERM, "request names 0 fds, 2 came with it");
	len = raw_good(LAUNCH_MAX_FDS + 1);
	raw_refused(&raw, len, LAUNCH_MAX_FDS + 1, -EPERM, "7 fds (at most 6)");
	len = raw_good(0);
	raw_refused(&raw, len, FDPASS_MAX + 1, -EMSGSIZE, "more than 8 fds");
	len = raw_good(0);
	raw.flags = 0x80;
	raw_refused(&raw, len, 0, -EPERM, "flags 0x80");
	/* The string block: its length, its count, its terminators. */
	len = raw_good(0);
	raw.str_len += 1;
	raw_refused(&raw, len, 0, -EPERM, "request says");
	len = raw_good(0);
	raw.argc = 0;
	raw_refused(&raw, len, 0, -EPERM, "0 arguments");
	len = raw_good(0);
	raw.argc = 5;
	raw_refused(&raw, len, 0, -EPERM, "not 6 NUL-terminated");
	len = raw_good(0);
	raw.argc = 2;
	raw_refused(&raw, len, 0, -EPERM, "not 3 NUL-terminated");
	len = raw_good(0);
	raw.str[len - offsetof(struct launch_msg, str) - 1] = 'x';	/* last NUL */
	raw_refused(&raw, len, 0, -EPERM, "NUL-terminated");
	/* Counts whose uint32_t sum wraps to a small number. */
	len = raw_good(0);
	raw.argc = 0xffffffffu;
	raw.envc = 2;
	raw_refused(&raw, len, 0, -EPERM, "4294967295 arguments");
	/* ... with exactly as many strings as the wrapped sum: argv[argc]
	 * would be written 32 GiB past the array. */
	len = raw_good(0);
	raw.argc = 0xffffffffu;
	raw.envc = 2;
	raw.str_len = sizeof("ward-blk");
	len = offsetof(struct launch_msg, str) + raw.str_len;
	raw_refused(&raw, len, 0, -EPERM, "4294967295 arguments");
	len = raw_good(0);
	raw.argc = 2;
	raw.envc = 0xffffffffu;
	raw_refused(&raw, len, 0, -EPERM, "4294967295 environment strings");
	len = raw_good(0);
	raw.image = 0xffffffffu;
	raw_refused(&raw, len, 0, -EPERM, "unknown image kind 4294967295");
}

/* The launcher holds only its channel and the two images: an fd the
 * controller had open above any fixed loop bound is closed too. */
static void test_no_stray_fds(void **st)
{
	char path[64];

	(void)st;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)launcher_pid, STRAY_FD);
	assert_int_equal(access(path, F_OK), -1);
	/* The control: its fds are visible here (0 is kept, like 1 and 2). */
	snprintf(path, sizeof(path), "/proc/%d/fd/0", (int)launcher_pid);
	assert_int_equal(access(path, F_OK), 0);
	close(STRAY_FD);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(test_blk_io),
		cmocka_unit_test(test_exit_status),
		cmocka_unit_test(test_refuse_options),
		cmocka_unit_test(test_refuse_uids),
		cmocka_unit_test(test_refuse_env),
		cmocka_unit_test(test_refuse_image),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_no_stray_fds),
	};

	if (geteuid() != 0) {
		/* ward-blk switches to the uid it is given and makes namespaces. */
		printf("SKIP: ward-blk's sandbox (uid switch, namespaces) needs root\n");
		return 77;
	}
	return cmocka_run_group_tests(t, group_setup, group_teardown);
}
