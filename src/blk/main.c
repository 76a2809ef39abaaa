/* ward-blk: the storage card (the analogue of the Nitro EBS card). Serves one
 * vhost-user-blk device per attached volume, encrypting every sector with
 * AES-256-XTS. Controller mode (--control-fd) takes volumes, keys, stores and
 * vhost-user sockets over the blkctl channel; standalone mode (--volume)
 * listens on socket paths for development and QEMU interop. Either way the
 * process makes every io_uring it will have (ringpool.h, --max-volumes) and
 * locks itself down (allowlist.h) before serving. See docs/blk.md. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "allowlist.h"
#include "cliopt.h"
#include "blkctl.h"
#include "blkdev.h"
#include "lockedheap.h"
#include "errmsg.h"
#include "log.h"
#include "ringpool.h"
#include "secmem.h"
#include "vu_dev.h"
#include "xts.h"

#define MAX_VOLUMES RINGPOOL_MAX
#define DEFAULT_MAX_VOLUMES 8 /* controller mode without --max-volumes */
#define OPENSSL_HEAP_BYTES (1 << 20) /* locked arena for OpenSSL (lockedheap.h) */

struct vol {
	char id[BLKCTL_ID_LEN + 1];
	struct blkdev *dev;
};

static struct vol vols[MAX_VOLUMES];
static int ctl_fd = -1;
static struct ringpool *pool; /* every io_uring ward-blk will have */
static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER;

static void usage(FILE *f)
{
	fprintf(f,
"usage: ward-blk --control-fd N [--keep-fd N] [--max-volumes N] [SANDBOX]\n"
"       ward-blk --volume SPEC [--volume SPEC ...]\n"
"       ward-blk --socket PATH --backing STORE --size BYTES\n"
"                (--key-file F | --no-encryption) [--readonly] [--queues N] [--id NAME] [--create]\n"
"SPEC: id=NAME,socket=PATH,backing=STORE,size=BYTES,key-file=F|no-encryption\n"
"      [,readonly][,queues=N][,create]\n"
"STORE: a file or block device path, or an NBD URI (nbd://..., nbd+unix://...)\n"
"BYTES: a number with an optional K, M, G or T suffix (4096K, 64M, 1G); a multiple of 4096\n"
"key file: exactly 64 raw bytes (AES-256-XTS, the two halves must differ)\n"
"--max-volumes: volumes attached at once (1..%d, default %d; standalone: the --volume\n"
"      count); one io_uring each, all made before the sandbox closes\n"
"--keep-fd: the controller's end of the control channel, held and never used, so the\n"
"      channel outlives a controller restart (the next one takes it with pidfd_getfd);\n"
"      ward-blk then stops on SIGTERM; a volume's key goes when its frontend goes\n"
"SANDBOX: --uid N --gid N (default 65534; 0 is refused), --no-sandbox (debugging only)\n"
"--help, --version\n"
"exit status: 0 stopped cleanly; 1 runtime error; 2 usage error (docs/cli.md)\n",
		MAX_VOLUMES, DEFAULT_MAX_VOLUMES);
}

static void on_event(void *opaque, const char *id, uint32_t ev, const char *msg)
{
	if (ev == BLKCTL_EV_BROKEN)
		log_error("device broken", "volume=%s reason=\"%s\"", id, msg);
	if (ctl_fd < 0)
		return;
	pthread_mutex_lock(&ctl_lock);
	if (blkctl_send_event(ctl_fd, id, ev, msg))
		log_warn("cannot send event to the controller", "volume=%s", id);
	pthread_mutex_unlock(&ctl_lock);
}

/* The size syntax of every ward binary (cliopt); a bare number is bytes. */
static int parse_size(const char *s, uint64_t *out)
{
	return cliopt_parse_size(s, CLI_UNIT_BYTES, out);
}

/* Read a 64-byte key file straight into secure memory. */
static int load_key(const char *path, uint8_t *key)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	uint8_t extra;

	if (fd < 0) {
		log_error("cannot open key file", "path=%s errno=%s", path, errname(errno));
		return -errno;
	}
	n = read(fd, key, XTS_KEY_LEN);
	if (n == XTS_KEY_LEN && read(fd, &extra, 1) == 0) {
		close(fd);
		return 0;
	}
	close(fd);
	log_error("volume key file must hold exactly 64 bytes", "path=%s", path);
	return -EINVAL;
}

static int listen_on(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s;

	if (strlen(path) >= sizeof(a.sun_path)) {
		log_error("socket path too long", "path=%s", path);
		return -ENAMETOOLONG;
	}
	strcpy(a.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	unlink(path);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || chmod(path, 0600) < 0 ||
	    listen(s, 4) < 0) {
		int e = errno;

		log_error("cannot listen on socket", "path=%s errno=%s", path, errname(e));
		close(s);
		return -e;
	}
	return s;
}

struct vspec {
	const char *id, *socket, *backing, *key_file;
	uint64_t size;
	bool no_enc, ro, create;
	unsigned int queues;
	int listen_fd;
	dev_t sock_dev;         /* the socket file we bound, for the reaper */
	ino_t sock_ino;
};

static int parse_queues(const char *opt, const char *s, unsigned int *out);

static int parse_vspec(char *s, struct vspec *v)
{
	char *save = NULL;

	for (char *kv = strtok_r(s, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *val = strchr(kv, '=');

		if (val)
			*val++ = 0;
		if (!strcmp(kv, "id") && val) v->id = val;
		else if (!strcmp(kv, "socket") && val) v->socket = val;
		else if (!strcmp(kv, "backing") && val) v->backing = val;
		else if (!strcmp(kv, "key-file") && val) v->key_file = val;
		else if (!strcmp(kv, "size") && val) { if (parse_size(val, &v->size)) return -EINVAL; }
		else if (!strcmp(kv, "queues") && val) {
			if (parse_queues("queues=", val, &v->queues))
				return -EINVAL;
		}
		else if (!strcmp(kv, "no-encryption") && !val) v->no_enc = true;
		else if (!strcmp(kv, "readonly") && !val) v->ro = true;
		else if (!strcmp(kv, "create") && !val) v->create = true;
		else {
			fprintf(stderr, "ward-blk: unknown volume option '%s'\n", kv);
			return -EINVAL;
		}
	}
	return 0;
}

static int make_xts(const uint8_t *key, struct xts_ctx **x, char *err, size_t errlen)
{
	int rc = xts_create(x, key);

	if (rc == -EINVAL)
		snprintf(err, errlen, "volume key halves are equal; AES-XTS needs two different 256-bit keys");
	else if (rc)
		snprintf(err, errlen, "cannot set up AES-256-XTS (%s)", strerror(-rc));
	return rc;
}

static int check_vspec(struct vspec *v)
{
	if (!v->id)
		v->id = "vol0";
	if (!v->socket || !v->backing || (!v->key_file && !v->no_enc) || (v->key_file && v->no_enc)) {
		fprintf(stderr, "ward-blk: volume %s needs socket=, backing=, and exactly one of "
			"key-file= or no-encryption\n", v->id);
		return -EINVAL;
	}
	if (!v->size) {
		fprintf(stderr, "ward-blk: volume %s needs size=BYTES\n", v->id);
		return -EINVAL;
	}
	return 0;
}

/* Standalone, phase 1 (no key loaded yet): bind the socket. */
static int listen_standalone(struct vspec *v)
{
	struct stat st;

	v->listen_fd = listen_on(v->socket);
	if (v->listen_fd < 0)
		return v->listen_fd;
	if (stat(v->socket, &st) == 0) {
		v->sock_dev = st.st_dev;
		v->sock_ino = st.st_ino;
	}
	return 0;
}

/* After lockdown ward-blk cannot touch a path, so a helper forked before the
 * keys are loaded removes the socket paths once ward-blk is gone (also after
 * kill -9): it holds only the read end of a pipe whose write end dies with
 * ward-blk, and unlinks a path only if it is still the socket we bound (a new
 * ward-blk may already have bound the same path). */
static void spawn_path_reaper(const struct vspec *specs, int n)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0) {
		log_warn("no socket-path reaper: socket files stay after exit", "errno=%s", errname(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		log_warn("no socket-path reaper: socket files stay after exit", "errno=%s", errname(errno));
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid > 0) {
		close(p[0]); /* p[1] stays open, unused, for the life of ward-blk */
		return;
	}
	/* SIGINT/SIGTERM are blocked (inherited mask): only EOF ends us. */
	close(p[1]);
	for (int fd = 3; fd < 4096; fd++)
		if (fd != p[0])
			close(fd);
	while (read(p[0], &c, 1) < 0 && errno == EINTR)
		;
	for (int i = 0; i < n; i++) {
		struct stat st;

		if (specs[i].socket && lstat(specs[i].socket, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    st.st_dev == specs[i].sock_dev && st.st_ino == specs[i].sock_ino)
			unlink(specs[i].socket);
	}
	_exit(0);
}

/* Standalone, phase 2 (before lockdown): key, store, device; the device
 * thread starts after lockdown. */
static int prepare_standalone(struct vspec *v, int slot)
{
	struct blkdev_cfg cfg = { 0 };
	struct backing store;
	struct xts_ctx *x = NULL;
	char err[256];
	int rc;

	if (!v->no_enc) {
		uint8_t *key = secmem_alloc(XTS_KEY_LEN);

		if (!key)
			return -ENOMEM;
		rc = load_key(v->key_file, key);
		if (!rc) {
			rc = make_xts(key, &x, err, sizeof(err));
			if (rc)
				fprintf(stderr, "ward-blk: volume %s: %s\n", v->id, err);
		}
		secmem_free(key, XTS_KEY_LEN);
		if (rc)
			return rc;
	}
	/* Standalone NBD connects (and does TLS) here, before the sandbox
	 * takes the network away: the connection is all it needs afterwards. */
	rc = backing_open(&store, v->backing, v->size, v->ro, v->create, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "ward-blk: volume %s: %s\n", v->id, err);
		xts_destroy(x);
		return rc;
	}
	cfg.id = v->id;
	cfg.store = &store;
	cfg.size = v->size;
	cfg.readonly = v->ro;
	cfg.num_queues = v->queues ? v->queues : 1;
	cfg.xts = x;
	cfg.sock = -1;
	cfg.on_event = on_event;
	cfg.listen_fd = v->listen_fd;
	cfg.pool = pool;
	rc = blkdev_create(&vols[slot].dev, &cfg, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "ward-blk: %s\n", err);
		backing_close(&store);
		xts_destroy(x);
		return rc;
	}
	v->listen_fd = -1; /* the device's now */
	snprintf(vols[slot].id, sizeof(vols[slot].id), "%s", v->id);
	return 0;
}

static struct vol *find_vol(const char *id)
{
	for (int i = 0; i < MAX_VOLUMES; i++)
		if (vols[i].dev && !strcmp(vols[i].id, id))
			return &vols[i];
	return NULL;
}

static void ctl_reply(uint32_t seq, int status, const char *msg)
{
	pthread_mutex_lock(&ctl_lock);
	if (blkctl_send_reply(ctl_fd, seq, status, msg))
		log_warn("cannot reply to the controller", "seq=%u", seq);
	pthread_mutex_unlock(&ctl_lock);
}

static void do_attach(struct blkctl_msg *m)
{
	struct blkctl_attach *a = &m->u.attach;
	struct blkdev_cfg cfg = { 0 };
	struct backing store = { .fd = -1 };
	struct xts_ctx *x = NULL;
	struct vol *slot = NULL;
	char err[256] = "";
	int rc;

	if (find_vol(a->id)) {
		rc = -EEXIST;
		snprintf(err, sizeof(err), "volume %s is already attached", a->id);
		goto fail;
	}
	for (int i = 0; i < MAX_VOLUMES && !slot; i++)
		if (!vols[i].dev)
			slot = &vols[i];
	if (!slot) {
		rc = -ENOSPC;
		snprintf(err, sizeof(err), "at most %d volumes can be attached", MAX_VOLUMES);
		goto fail;
	}
	/* The store arrives open (file, block device) or connected (NBD):
	 * ward-blk itself can reach no path and no network. */
	rc = backing_open_fd(&store, m->backing_fd, a->flags & BLKCTL_F_NBD, a->export_name,
			     a->size, a->flags & BLKCTL_F_READONLY, a->id, err, sizeof(err));
	m->backing_fd = -1;
	if (rc)
		goto fail;
	if (!(a->flags & BLKCTL_F_NO_ENCRYPTION)) {
		rc = make_xts(a->key, &x, err, sizeof(err));
		if (rc)
			goto fail;
	}
	cfg.id = a->id;
	cfg.store = &store;
	cfg.size = a->size;
	cfg.readonly = a->flags & BLKCTL_F_READONLY;
	cfg.num_queues = a->num_queues;
	cfg.xts = x;
	cfg.sock = m->fd;
	cfg.listen_fd = -1;
	cfg.on_event = on_event;
	cfg.pool = pool;
	rc = blkdev_create(&slot->dev, &cfg, err, sizeof(err));
	if (rc) {
		xts_destroy(x);
		goto fail;
	}
	m->fd = -1; /* the device's now */
	rc = blkdev_start(slot->dev, err, sizeof(err));
	if (rc) {
		blkdev_destroy(slot->dev);
		slot->dev = NULL;
		goto fail;
	}
	snprintf(slot->id, sizeof(slot->id), "%s", a->id);
	ctl_reply(m->seq, 0, "attached");
	return;
fail:
	backing_close(&store);
	if (m->fd >= 0)
		close(m->fd);
	if (m->backing_fd >= 0)
		close(m->backing_fd);
	log_warn("attach refused", "volume=%s reason=\"%s\"", a->id, err);
	ctl_reply(m->seq, rc, err);
}

/* Re-adoption: a restarted controller asks what it left attached. */
static void do_query(struct blkctl_msg *m)
{
	struct vol *v = find_vol(m->u.detach.id);

	if (!v)
		ctl_reply(m->seq, -ENOENT, "not attached");
	else if (blkdev_frontend_gone(v->dev))
		ctl_reply(m->seq, -ENOLINK, "attached; the frontend is gone and the key destroyed");
	else
		ctl_reply(m->seq, 0, "attached and served");
}

/* STATS: the volume's counters, for the controller's metrics. */
static void do_stats(struct blkctl_msg *m)
{
	struct vol *v = find_vol(m->u.detach.id);
	struct blkctl_stats st;

	if (!v) {
		ctl_reply(m->seq, -ENOENT, "not attached");
		return;
	}
	blkdev_stats(v->dev, &st);
	if (blkctl_send_stats(ctl_fd, m->seq, m->u.detach.id, &st))
		log_warn("cannot send STATS_REPLY");
}

static void do_detach(struct blkctl_msg *m)
{
	struct vol *v = find_vol(m->u.detach.id);
	char msg[BLKCTL_ID_LEN + 64];

	if (!v) {
		snprintf(msg, sizeof(msg), "volume %s is not attached", m->u.detach.id);
		ctl_reply(m->seq, -ENOENT, msg);
		return;
	}
	blkdev_destroy(v->dev);
	v->dev = NULL;
	ctl_reply(m->seq, 0, "detached, key destroyed");
}

/* Returns 1 to keep going, 0 when the controller went away. */
static int ctl_step(struct blkctl_rx *rx)
{
	struct blkctl_msg m;
	char err[256];
	int rc = blkctl_recv(ctl_fd, rx);

	if (rc == 0)
		return 0;
	if (rc < 0) {
		log_warn("control channel receive failed", "errno=%s", errname(-rc));
		return rc == -EMSGSIZE ? 1 : 0;
	}
	rc = blkctl_parse(rx, &m, err, sizeof(err));
	if (rc) {
		log_warn("rejected control message", "reason=\"%s\"", err);
		ctl_reply(m.seq, rc, err);
	} else if (m.type == BLKCTL_ATTACH) {
		do_attach(&m);
	} else if (m.type == BLKCTL_DETACH) {
		do_detach(&m);
	} else if (m.type == BLKCTL_QUERY) {
		do_query(&m);
	} else if (m.type == BLKCTL_STATS) {
		do_stats(&m);
	} else {
		ctl_reply(m.seq, -EOPNOTSUPP, "ward-blk accepts ATTACH, DETACH, QUERY and STATS only");
	}
	blkctl_rx_clear(rx); /* wipes the key bytes of an ATTACH */
	return 1;
}

/* Load OpenSSL's configuration and default provider now: the first
 * EVP_CIPHER_fetch reads files, which the sandbox will not allow. */
static int warm_crypto(void)
{
	EVP_CIPHER *c;

	if (!OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL))
		return -EIO;
	c = EVP_CIPHER_fetch(NULL, "AES-256-XTS", NULL);
	if (!c)
		return -EIO;
	EVP_CIPHER_free(c);
	return 0;
}

/* Inherited fds we were not told about are a way out of the sandbox. */
static void close_stray_fds(int keep, int keep2)
{
	for (int fd = 3; fd < 4096; fd++)
		if (fd != keep && fd != keep2)
			close(fd);
}

/* --queues / queues=: 1 to VU_DEV_MAX_QUEUES virtqueues. */
static int parse_queues(const char *opt, const char *s, unsigned int *out)
{
	uint64_t v;
	char want[48];

	if (cliopt_parse_uint(s, 1, VU_DEV_MAX_QUEUES, &v)) {
		snprintf(want, sizeof(want), "a number from 1 to %d", VU_DEV_MAX_QUEUES);
		cliopt_bad_value("ward-blk", opt, want, s);
		return -EINVAL;
	}
	*out = (unsigned int)v;
	return 0;
}

/* --control-fd / --keep-fd: an inherited fd, never 0..2. */
static int parse_fd_opt(const char *opt, const char *s, int *out)
{
	uint64_t v;

	if (cliopt_parse_uint(s, 3, INT_MAX, &v)) {
		cliopt_bad_value("ward-blk", opt, "an inherited fd number from 3 to 2147483647", s);
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

static int parse_max_volumes(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > MAX_VOLUMES) {
		fprintf(stderr, "ward-blk: --max-volumes must be 1..%d, got '%s'\n", MAX_VOLUMES, s);
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

/* Returns 1 to keep going, 0 when the controller went away or a signal
 * asked us to stop. */
static int serve_step(int sfd, struct blkctl_rx *rx)
{
	struct pollfd p[2] = { { sfd, POLLIN, 0 }, { ctl_fd, POLLIN, 0 } };

	if (poll(p, ctl_fd >= 0 ? 2 : 1, -1) < 0)
		return errno == EINTR;
	if (p[0].revents & POLLIN) {
		log_info("signal received, detaching all volumes", "mode=%s",
			 ctl_fd >= 0 ? "controller" : "standalone");
		return 0;
	}
	if (ctl_fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) && !ctl_step(rx)) {
		log_info("controller closed the control channel, detaching all volumes", "fd=%d", ctl_fd);
		return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	enum { O_UID = 0x100, O_GID, O_NO_SANDBOX, O_MAX_VOLUMES, O_KEEP_FD, O_VERSION };
	static const struct option opts[] = {
		{ "control-fd", required_argument, NULL, 'c' },
		{ "volume", required_argument, NULL, 'v' },
		{ "socket", required_argument, NULL, 's' },
		{ "backing", required_argument, NULL, 'b' },
		{ "size", required_argument, NULL, 'z' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "no-encryption", no_argument, NULL, 'n' },
		{ "readonly", no_argument, NULL, 'r' },
		{ "queues", required_argument, NULL, 'q' },
		{ "id", required_argument, NULL, 'i' },
		{ "create", no_argument, NULL, 'C' },
		{ "uid", required_argument, NULL, O_UID },
		{ "gid", required_argument, NULL, O_GID },
		{ "no-sandbox", no_argument, NULL, O_NO_SANDBOX },
		{ "max-volumes", required_argument, NULL, O_MAX_VOLUMES },
		{ "keep-fd", required_argument, NULL, O_KEEP_FD },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 },
	};
	struct sandbox_cfg sb = { .uid = 65534, .gid = 65534, .enabled = true };
	struct vspec specs[MAX_VOLUMES], one = { 0 };
	struct blkctl_rx rx = { 0 };
	int nspecs = 0, opt, sfd, rc = 0, max_volumes = 0, keep_fd = -1;
	bool single = false;
	char err[256];
	unsigned int id;
	sigset_t ss;

	log_init("blk", LOG_INFO);
	/* Before OpenSSL's first allocation: its cipher contexts hold the
	 * expanded volume keys, so they too live in locked, non-dumpable
	 * memory, never in swap. */
	if (lockedheap_route_openssl(OPENSSL_HEAP_BYTES, err, sizeof(err))) {
		fprintf(stderr, "ward-blk: %s\n", err);
		return 1;
	}
	memset(specs, 0, sizeof(specs));
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (parse_fd_opt("--control-fd", optarg, &ctl_fd))
				return 2;
			break;
		case O_KEEP_FD:
			if (parse_fd_opt("--keep-fd", optarg, &keep_fd))
				return 2;
			break;
		case 'v':
			if (nspecs == MAX_VOLUMES || parse_vspec(optarg, &specs[nspecs++])) {
				usage(stderr);
				return 2;
			}
			break;
		case 's': one.socket = optarg; single = true; break;
		case 'b': one.backing = optarg; single = true; break;
		case 'z':
			if (parse_size(optarg, &one.size)) {
				return cliopt_bad_value("ward-blk", "--size", "a size such as 4096, "
							"64M or 1G", optarg);
			}
			break;
		case 'k': one.key_file = optarg; break;
		case 'n': one.no_enc = true; break;
		case 'r': one.ro = true; break;
		case 'q':
			if (parse_queues("--queues", optarg, &one.queues))
				return 2;
			break;
		case 'i': one.id = optarg; break;
		case 'C': one.create = true; break;
		case O_UID:
			if (sandbox_parse_id("ward-blk", "uid", optarg, &id))
				return 2;
			sb.uid = (uid_t)id;
			break;
		case O_GID:
			if (sandbox_parse_id("ward-blk", "gid", optarg, &id))
				return 2;
			sb.gid = (gid_t)id;
			break;
		case O_NO_SANDBOX: sb.enabled = false; break;
		case O_MAX_VOLUMES:
			if (parse_max_volumes(optarg, &max_volumes))
				return 2;
			break;
		case 'h': usage(stdout); return 0;
		case O_VERSION: cliopt_version("ward-blk"); return 0;
		default: return cliopt_bad_option("ward-blk", argv, opts);
		}
	}
	if (single && nspecs < MAX_VOLUMES)
		specs[nspecs++] = one;
	if ((ctl_fd < 0) == (nspecs == 0) || (keep_fd >= 0 && (ctl_fd < 0 || keep_fd <= 2 ||
								keep_fd == ctl_fd))) {
		usage(stderr);
		return 2;
	}
	for (int i = 0; i < nspecs; i++) {
		specs[i].listen_fd = -1;
		if (check_vspec(&specs[i]))
			return 2;
	}
	/* Standalone serves its --volume specs and never attaches more. */
	if (nspecs && max_volumes && max_volumes < nspecs) {
		fprintf(stderr, "ward-blk: --max-volumes %d is less than the %d volumes given\n",
			max_volumes, nspecs);
		return 2;
	}
	if (nspecs)
		max_volumes = nspecs;
	else if (!max_volumes)
		max_volumes = DEFAULT_MAX_VOLUMES;
	close_stray_fds(ctl_fd, keep_fd);

	/* Keys will live in this process: no core dumps, no ptrace. */
	if (secmem_process_harden())
		log_warn("cannot make the process non-dumpable", "errno=%s", errname(errno));
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &ss, NULL); /* inherited by device threads */
	sfd = signalfd(-1, &ss, SFD_CLOEXEC);

	if (ctl_fd >= 0) {
		int type = 0;
		socklen_t tl = sizeof(type);

		if (getsockopt(ctl_fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_SEQPACKET) {
			fprintf(stderr, "ward-blk: --control-fd %d must be a SOCK_SEQPACKET socket\n", ctl_fd);
			return 2;
		}
		fcntl(ctl_fd, F_SETFD, FD_CLOEXEC);
		if (keep_fd >= 0 && (getsockopt(keep_fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
				     type != SOCK_SEQPACKET)) {
			fprintf(stderr, "ward-blk: --keep-fd %d must be a SOCK_SEQPACKET socket\n", keep_fd);
			return 2;
		}
		if (blkctl_rx_init(&rx)) {
			fprintf(stderr, "ward-blk: cannot allocate the control receive buffer in secure memory\n");
			return 1;
		}
	}
	if (warm_crypto()) {
		fprintf(stderr, "ward-blk: OpenSSL has no AES-256-XTS\n");
		rc = -EIO;
		goto out;
	}
	/* io_uring_setup is not on the allowlist: every ring is made now,
	 * restricted to read/write/fsync of one registered file. */
	rc = ringpool_create(&pool, (unsigned int)max_volumes, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "ward-blk: %s\n", err);
		goto out;
	}
	/* Standalone: everything is opened, bound and connected now. */
	for (int i = 0; i < nspecs; i++) {
		rc = listen_standalone(&specs[i]);
		if (rc) {
			while (i--)
				unlink(specs[i].socket); /* no reaper yet */
			goto out;
		}
	}
	if (nspecs)
		spawn_path_reaper(specs, nspecs);
	for (int i = 0; i < nspecs; i++) {
		rc = prepare_standalone(&specs[i], i);
		if (rc)
			goto out;
	}
	/* Lockdown. From here on ward-blk reaches no path and no network;
	 * volume threads (standalone now, controller mode per ATTACH) are
	 * created under the filter and inherit it. */
	rc = sandbox_isolate(&sb, "ward-blk", err, sizeof(err));
	if (!rc)
		rc = blk_sandbox_lock(&sb, nspecs > 0, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "ward-blk: %s\n", err);
		goto out;
	}
	blk_sandbox_test_forbidden("main");
	for (int i = 0; i < nspecs; i++) {
		rc = blkdev_start(vols[i].dev, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "ward-blk: %s\n", err);
			goto out;
		}
	}
	log_info("ward-blk ready", "mode=%s volumes=%d max_volumes=%d sandbox=%s "
		 "openssl_locked_bytes=%zu", ctl_fd >= 0 ? "controller" : "standalone", nspecs,
		 max_volumes, sb.enabled ? "on" : "off", lockedheap_in_use());
	while (serve_step(sfd, &rx))
		;
out:
	for (int i = 0; i < MAX_VOLUMES; i++)
		if (vols[i].dev) {
			blkdev_destroy(vols[i].dev);
			vols[i].dev = NULL;
		}
	ringpool_destroy(pool);
	for (int i = 0; i < nspecs; i++)
		if (specs[i].listen_fd >= 0)
			close(specs[i].listen_fd);
	if (ctl_fd >= 0)
		blkctl_rx_destroy(&rx);
	/* Standalone socket paths: removed by the reaper once we are gone. */
	return rc ? 1 : 0;
}
