/* ward-net: the VPC card (the analogue of the Nitro VPC card). Serves one
 * vhost-user-net device per ENI and switches/routes every frame its guests
 * send (dp.c) inside the VPC model it is given (vpc.c). Today it is started
 * with the model in a file or an inherited fd and each ENI's socket as a
 * path to listen on or an inherited connected fd; the controller's control
 * channel comes later (docs/net.md). With --underlay-fd it also carries
 * its VPCs' traffic to other hosts through the encrypted underlay
 * (underlay.c); the key exchange runs in its own thread (keyxd). The data
 * path is one thread; sandboxed before serving. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "allowlist.h"
#include "cliopt.h"
#include "dp.h"
#include "fileio.h"
#include "filter.h"
#include "fdpass.h"
#include "errmsg.h"
#include "imds.h"
#include "log.h"
#include "model.h"
#include "netctl.h"
#include "netdev.h"
#include "underlay.h"
#include "vpc.h"

#define CONFIG_MAX  (1u << 20)
#define TX_BUDGET   64      /* frames per ENI per round: a flood cannot starve the rest */

struct eni_spec {
	const char *id;
	const char *path;       /* listen here, or */
	int fd;                 /* serve this connected socket */
};

static struct vpc_cfg cfg;
static struct dp dp;
static struct filter fl;
static struct netdev *devs[VPC_MAX_ENIS];
static int ctl_fd = -1;
static int keep_fd = -1;         /* the controller's end, held so the channel outlives it */
static struct underlay *ul;      /* NULL: no underlay, every ENI is local */
static struct imds *imds;

static void usage(FILE *f)
{
	fprintf(f, "usage: ward-net (--config FILE | --config-fd N) [--control-fd N]\n"
		   "                [--eni ID=SOCKET_PATH|ID=fd:N ...] [--uid N --gid N] [--no-sandbox]\n"
		   "  --control-fd N    SOCK_SEQPACKET control channel (netctl: ATTACH, DETACH,\n"
		   "                    STATS, QUERY, model changes); ward-net exits when it closes\n"
		   "  --keep-fd N       the controller's end of that channel, held and never used, so\n"
		   "                    it outlives a controller restart (the next controller takes\n"
		   "                    it with pidfd_getfd); ward-net then stops on SIGTERM only\n"
		   "  --config FILE     the VPC model (JSON, docs/formats.md)\n"
		   "  --eni ID=PATH     serve ENI ID's vhost-user-net device on a new socket at PATH\n"
		   "  --eni ID=fd:N     ... on the inherited, connected unix socket N\n"
		   "  --underlay-fd N   bound UDP socket (port 6081) of the encrypted underlay; needs\n"
		   "                    --keyx-fd, --host-cert, --host-key, --ca (peers and the\n"
		   "                    mapping table arrive as netctl PEER and MAP)\n"
		   "  --keyx-fd N       listening TCP socket of the underlay key exchange\n"
		   "  --keyx-port P     the peers' key-exchange port (default 6082)\n"
		   "  --underlay-plaintext  DEBUG ONLY: Geneve without encryption\n"
		   "  --imds-throttle R:B  instance metadata: R new connections per second per\n"
		   "                    instance, bursts of B (default 50:100; R 0: no refill)\n"
		   "  SIGUSR1 logs every ENI's counters; SIGINT/SIGTERM stop.\n"
		   "  --help, --version\n"
		   "exit status: 0 stopped cleanly; 1 runtime error; 2 usage or configuration\n"
		   "  error (docs/cli.md)\n");
}

static int deliver(void *opaque, unsigned int eni, const uint8_t *frame, size_t len)
{
	return devs[eni] ? netdev_enqueue(devs[eni], frame, len) : -ENOBUFS;
}

static void log_counters(void)
{
	char line[2048];	/* 34 counters of up to 20 digits and their names */

	for (unsigned int i = 0; i < cfg.n_enis; i++) {
		const struct dp_counters *c = &dp.c[i];
		size_t o = 0;

		if (!devs[i])
			continue;
#define DP_PRINT(n) if (o < sizeof(line)) \
		o += (size_t)snprintf(line + o, sizeof(line) - o, " " #n "=%llu", \
				      (unsigned long long)c->n);
		DP_COUNTERS(DP_PRINT)
#undef DP_PRINT
		log_info("counters", "eni=%s%s", cfg.enis[i].id, line);
	}
	if (ul)
		underlay_log_counters(ul);
}

static int listen_on(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path)) {
		fprintf(stderr, "ward-net: socket path too long: %s\n", path);
		return -ENAMETOOLONG;
	}
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0) {
		int e = errno;

		fprintf(stderr, "ward-net: cannot listen on %s: %s (%s)\n", path, errname(e),
			strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

static int parse_eni(char *arg, struct eni_spec *s)
{
	char *eq = strchr(arg, '='), *end;

	if (!eq || eq == arg || !eq[1])
		return -EINVAL;
	*eq = 0;
	s->id = arg;
	s->fd = -1;
	if (!strncmp(eq + 1, "fd:", 3)) {
		long v = strtol(eq + 4, &end, 10);

		if (*end || end == eq + 4 || v < 3 || v > 4095)
			return -EINVAL;
		s->fd = (int)v;
	} else {
		s->path = eq + 1;
	}
	return 0;
}

static int load_config(const char *path, int fd)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char err[256];
	int rc;

	rc = path ? fileio_read(path, CONFIG_MAX, 0, &buf, &len) : fileio_read_fd(fd, CONFIG_MAX, &buf, &len);
	if (rc) {
		fprintf(stderr, "ward-net: reading the VPC config: %s\n", fileio_strerror(rc));
		return rc;
	}
	if (fd >= 0)
		close(fd);
	rc = vpc_load((const char *)buf, len, &cfg, err, sizeof(err));
	free(buf);
	if (rc)
		fprintf(stderr, "ward-net: VPC config: %s\n", err);
	return rc;
}

static int open_enis(struct eni_spec *specs, int n)
{
	for (int i = 0; i < n; i++) {
		int e = vpc_find_eni(&cfg, specs[i].id), lfd = -1, rc, type = 0;
		socklen_t tl = sizeof(type);

		if (e < 0) {
			fprintf(stderr, "ward-net: --eni %s: no such ENI in the VPC config\n", specs[i].id);
			return -ENOENT;
		}
		if (devs[e]) {
			fprintf(stderr, "ward-net: --eni %s given twice\n", specs[i].id);
			return -EEXIST;
		}
		if (specs[i].path) {
			lfd = listen_on(specs[i].path);
			if (lfd < 0)
				return lfd;
		} else if (getsockopt(specs[i].fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
			   type != SOCK_STREAM) {
			fprintf(stderr, "ward-net: --eni %s: fd %d is not a stream socket\n", specs[i].id,
				specs[i].fd);
			return -EBADF;
		} else {
			fcntl(specs[i].fd, F_SETFD, FD_CLOEXEC);
		}
		rc = netdev_create(&devs[e], (unsigned int)e, &cfg.enis[e], lfd, specs[i].fd, &dp.c[e]);
		if (rc) {
			if (lfd >= 0)
				close(lfd);
			return rc;
		}
	}
	return 0;
}

/* Inherited fds we were not told about are a way out of the sandbox. */
static void close_stray_fds(const struct eni_spec *specs, int n, int config_fd,
			    const struct underlay_cfg *uc)
{
	int keep[5 + VPC_MAX_ENIS] = { config_fd, ctl_fd, uc->udp_fd, uc->keyx_fd, keep_fd };
	size_t nk = 5;

	for (int i = 0; i < n && nk < sizeof(keep) / sizeof(keep[0]); i++)
		keep[nk++] = specs[i].fd;
	fdpass_close_others(keep, nk);
}

static void ctl_attach(const struct netctl_msg *m, int e)
{
	char msg[NETCTL_MSG_LEN];
	int rc;

	if (devs[e]) {
		close(m->fd);
		snprintf(msg, sizeof(msg), "ENI %s is already attached", m->id);
		netctl_reply(ctl_fd, m->seq, -EEXIST, msg, NULL, 0);
		return;
	}
	rc = netdev_create(&devs[e], (unsigned int)e, &cfg.enis[e], -1, m->fd, &dp.c[e]);
	if (rc) {
		close(m->fd);
		netctl_reply(ctl_fd, m->seq, rc, "no memory for the device", NULL, 0);
		return;
	}
	log_info("ENI attached", "eni=%s", m->id);
	netctl_reply(ctl_fd, m->seq, 0, "attached", NULL, 0);
}

static void ctl_stats(const struct netctl_msg *m, int e)
{
	const struct dp_counters *c = &dp.c[e];
	uint64_t v[NETCTL_MAX_COUNTERS];
	uint32_t n = 0;

#define DP_VALUE(f) v[n++] = c->f;
	DP_COUNTERS(DP_VALUE)
#undef DP_VALUE
	netctl_reply(ctl_fd, m->seq, 0, "counters in DP_COUNTERS order", v, n);
}

static void ctl_underlay(const struct netctl_msg *m)
{
	char err[160] = "";
	int rc;

	if (!ul) {
		netctl_reply(ctl_fd, m->seq, -ENOTCONN, "this card has no underlay (--underlay-fd)", NULL, 0);
		return;
	}
	if (m->type == NETCTL_PEER)
		rc = underlay_peer(ul, m->id, m->addr, err, sizeof(err));
	else if (m->type == NETCTL_MAP)
		rc = underlay_map(ul, m->vpc, m->vni, m->addr, m->id, err, sizeof(err));
	else if (m->type == NETCTL_UNMAP)
		rc = underlay_unmap(ul, m->vpc, m->vni, m->addr, m->id, err, sizeof(err));
	else
		rc = underlay_peer_del(ul, m->id, err, sizeof(err));
	if (rc)
		log_warn("underlay control message refused", "type=%u reason=\"%s\"", m->type, err);
	netctl_reply(ctl_fd, m->seq, rc, rc ? err : "ok", NULL, 0);
}

/* A live model change (model.c); logged by kind and object, never more. */
static void ctl_model(const struct netctl_msg *m)
{
	char err[160] = "";
	int rc = model_apply(&cfg, m, err, sizeof(err));

	if (rc)
		log_warn("model change refused", "type=%u id=%s reason=\"%s\"", m->type, m->id, err);
	else
		log_info("model changed", "type=%u id=%s", m->type, m->id);
	netctl_reply(ctl_fd, m->seq, rc, rc ? err : "ok", NULL, 0);
}

/* Returns 0 when the controller went away. */
static int ctl_step(void)
{
	static struct netctl_msg m;   /* 12 KiB: off the stack */
	char err[160];
	int rc = netctl_recv(ctl_fd, &m, err, sizeof(err)), e;

	if (rc == 0)
		return 0;
	if (rc == -EPROTO) {
		log_warn("rejected control message", "reason=\"%s\"", err);
		netctl_reply(ctl_fd, m.seq, -EPROTO, err, NULL, 0);
		return 1;
	}
	if (rc < 0) {
		log_warn("control channel receive failed", "errno=%s", errname(-rc));
		return 0;
	}
	if (m.type == NETCTL_PEER || m.type == NETCTL_MAP || m.type == NETCTL_UNMAP ||
	    m.type == NETCTL_PEER_DEL) {
		ctl_underlay(&m);
		return 1;
	}
	if (m.type >= NETCTL_SG_SET && m.type <= NETCTL_ENI_SGS) {
		ctl_model(&m);
		return 1;
	}
	e = vpc_find_eni(&cfg, m.id);
	if (e < 0) {
		if (m.fd >= 0)
			close(m.fd);
		explicit_bzero(&m.meta, sizeof(m.meta));
		netctl_reply(ctl_fd, m.seq, -ENOENT, "no such ENI in the VPC config", NULL, 0);
		return 1;
	}
	if (m.type == NETCTL_ENI_META) {
		/* Attached or not: the controller may set it before ATTACH.
		 * Logged without any of its values. */
		imds_set_meta(imds, (unsigned int)e, &m.meta);
		explicit_bzero(&m.meta, sizeof(m.meta));
		log_info("ENI metadata set", "eni=%s", m.id);
		netctl_reply(ctl_fd, m.seq, 0, "metadata set", NULL, 0);
	} else if (m.type == NETCTL_ATTACH) {
		ctl_attach(&m, e);
	} else if (m.type == NETCTL_DETACH) {
		/* The metadata and credentials go whether or not a frontend
		 * was ever attached: ENI_META may come before ATTACH, and an
		 * aborted launch must not leave them for the next instance. */
		imds_clear(imds, (unsigned int)e);
		if (!devs[e]) {
			netctl_reply(ctl_fd, m.seq, -ENOENT, "not attached", NULL, 0);
		} else {
			netdev_destroy(devs[e]);
			devs[e] = NULL;
			log_info("ENI detached", "eni=%s", m.id);
			netctl_reply(ctl_fd, m.seq, 0, "detached", NULL, 0);
		}
	} else if (!devs[e]) {
		netctl_reply(ctl_fd, m.seq, -ENOENT, "not attached", NULL, 0);
	} else if (m.type == NETCTL_STATS) {
		ctl_stats(&m, e);
	} else {
		netctl_reply(ctl_fd, m.seq, netdev_connected(devs[e]) ? 0 : -ENOLINK,
			     netdev_connected(devs[e]) ? "attached and served" :
			     "attached; the frontend is gone", NULL, 0);
	}
	return 1;
}

/* Returns 0 to stop. */
static int serve_step(int sfd)
{
	struct pollfd p[3 + VPC_MAX_ENIS * NETDEV_POLLFDS];
	unsigned int np = 3, at[VPC_MAX_ENIS], cnt[VPC_MAX_ENIS];
	unsigned int work;

	p[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = ctl_fd, .events = POLLIN };   /* -1: ignored */
	p[2] = (struct pollfd){ .fd = ul ? underlay_fd(ul) : -1, .events = POLLIN };
	for (unsigned int i = 0; i < cfg.n_enis; i++) {
		at[i] = np;
		cnt[i] = devs[i] ? netdev_pollfds(devs[i], &p[np]) : 0;
		np += cnt[i];
	}
	if (poll(p, np, -1) < 0)
		return errno == EINTR;
	if (p[0].revents & POLLIN) {
		struct signalfd_siginfo si;

		if (read(sfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo == SIGUSR1)
			log_counters();
		else
			return 0;
	}
	for (unsigned int i = 0; i < cfg.n_enis; i++)
		if (devs[i])
			netdev_events(devs[i], &p[at[i]], cnt[i]);
	/* After the devices: a DETACH must not free one whose events are
	 * still to be handled in this round. */
	if (ctl_fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) && !ctl_step()) {
		log_info("controller closed the control channel", "fd=%d", ctl_fd);
		return 0;
	}
	/* Round robin until every ring is drained: each ENI moves at most
	 * TX_BUDGET frames per round. */
	fl.now = filter_clock();
	do {
		work = 0;
		for (unsigned int i = 0; i < cfg.n_enis; i++)
			if (devs[i])
				work += netdev_tx(devs[i], &dp, TX_BUDGET);
		/* Frames from other hosts, before the guests' RX rings are
		 * flushed below. */
		if (ul && (p[2].revents & POLLIN))
			work += underlay_rx(ul, &dp);
		for (unsigned int i = 0; i < cfg.n_enis; i++)
			if (devs[i])
				work += netdev_rx(devs[i]);
	} while (work);
	return 1;
}

static int parse_throttle(const char *s, unsigned int *rate, unsigned int *burst)
{
	char *end;
	unsigned long r, b;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	r = strtoul(s, &end, 10);
	if (*end != ':' || end[1] < '0' || end[1] > '9')
		return -EINVAL;
	b = strtoul(end + 1, &end, 10);
	if (*end || r > 100000 || !b || b > 100000)
		return -EINVAL;
	*rate = (unsigned int)r;
	*burst = (unsigned int)b;
	return 0;
}

static int parse_fd(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *end || end == s || v < 3 || v > 4095 ? -2 : (int)v;
}

/* The underlay comes whole or not at all, and only with a controller to
 * push its peers and mapping table. */
static bool underlay_args_ok(const struct underlay_cfg *uc, int ctl, int config_fd)
{
	if (uc->udp_fd == -1 && uc->keyx_fd == -1 && !uc->cert && !uc->key && !uc->ca &&
	    !uc->debug_plaintext)
		return true;
	return uc->udp_fd >= 3 && uc->keyx_fd >= 3 && uc->udp_fd != uc->keyx_fd && uc->cert &&
	       uc->key && uc->ca && ctl >= 3 && uc->udp_fd != ctl && uc->keyx_fd != ctl &&
	       uc->udp_fd != config_fd && uc->keyx_fd != config_fd;
}

int main(int argc, char **argv)
{
	enum { O_UID = 0x100, O_GID, O_NO_SANDBOX, O_CONFIG_FD, O_CONTROL_FD, O_UNDERLAY_FD, O_KEYX_FD,
	       O_KEYX_PORT, O_CERT, O_KEY, O_CA, O_PLAINTEXT, O_VERSION, O_KEEP_FD, O_IMDS_THROTTLE };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "config-fd", required_argument, NULL, O_CONFIG_FD },
		{ "control-fd", required_argument, NULL, O_CONTROL_FD },
		{ "keep-fd", required_argument, NULL, O_KEEP_FD },
		{ "eni", required_argument, NULL, 'e' },
		{ "uid", required_argument, NULL, O_UID },
		{ "gid", required_argument, NULL, O_GID },
		{ "no-sandbox", no_argument, NULL, O_NO_SANDBOX },
		{ "underlay-fd", required_argument, NULL, O_UNDERLAY_FD },
		{ "keyx-fd", required_argument, NULL, O_KEYX_FD },
		{ "keyx-port", required_argument, NULL, O_KEYX_PORT },
		{ "host-cert", required_argument, NULL, O_CERT },
		{ "host-key", required_argument, NULL, O_KEY },
		{ "ca", required_argument, NULL, O_CA },
		{ "underlay-plaintext", no_argument, NULL, O_PLAINTEXT },
		{ "imds-throttle", required_argument, NULL, O_IMDS_THROTTLE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 },
	};
	struct sandbox_cfg sb = { .uid = 65534, .gid = 65534, .enabled = true };
	struct eni_spec specs[VPC_MAX_ENIS];
	struct underlay_cfg uc = { .udp_fd = -1, .keyx_fd = -1, .keyx_port = 6082 };
	const char *config = NULL;
	int nspecs = 0, opt, sfd, rc, config_fd = -1;
	unsigned int id, imds_rate = IMDS_RATE_DEFAULT, imds_burst = IMDS_BURST_DEFAULT;
	char err[256];
	sigset_t ss;

	log_init("net", LOG_INFO);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case O_CONFIG_FD: config_fd = atoi(optarg); break;
		case O_CONTROL_FD: ctl_fd = atoi(optarg); break;
		case O_KEEP_FD: keep_fd = parse_fd(optarg); break;
		case 'e':
			if (nspecs == VPC_MAX_ENIS || parse_eni(optarg, &specs[nspecs++])) {
				fprintf(stderr, "ward-net: --eni must be ID=PATH or ID=fd:N\n");
				return 2;
			}
			break;
		case O_UID:
			if (sandbox_parse_id("ward-net", "uid", optarg, &id))
				return 2;
			sb.uid = (uid_t)id;
			break;
		case O_GID:
			if (sandbox_parse_id("ward-net", "gid", optarg, &id))
				return 2;
			sb.gid = (gid_t)id;
			break;
		case O_NO_SANDBOX: sb.enabled = false; break;
		case O_UNDERLAY_FD: uc.udp_fd = parse_fd(optarg); break;
		case O_KEYX_FD: uc.keyx_fd = parse_fd(optarg); break;
		case O_KEYX_PORT:
			if (sandbox_parse_id("ward-net", "keyx-port", optarg, &id) || id > 65535)
				return 2;
			uc.keyx_port = (uint16_t)id;
			break;
		case O_CERT: uc.cert = optarg; break;
		case O_KEY: uc.key = optarg; break;
		case O_CA: uc.ca = optarg; break;
		case O_PLAINTEXT: uc.debug_plaintext = true; break;
		case O_IMDS_THROTTLE:
			if (parse_throttle(optarg, &imds_rate, &imds_burst)) {
				fprintf(stderr, "ward-net: --imds-throttle must be RATE:BURST (0-100000, 1-100000)\n");
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		case O_VERSION: cliopt_version("ward-net"); return 0;
		default: return cliopt_bad_option("ward-net", argv, opts);
		}
	}
	if (optind != argc || (!nspecs && ctl_fd < 3) || !config == (config_fd < 3) ||
	    (ctl_fd >= 0 && (ctl_fd < 3 || ctl_fd == config_fd)) || !underlay_args_ok(&uc, ctl_fd, config_fd) ||
	    (keep_fd != -1 && (ctl_fd < 3 || keep_fd < 3 || keep_fd == ctl_fd || keep_fd == config_fd ||
			       keep_fd == uc.udp_fd || keep_fd == uc.keyx_fd))) {
		usage(stderr);
		return 2;
	}
	close_stray_fds(specs, nspecs, config_fd, &uc);
	if (ctl_fd >= 0) {
		int type = 0;
		socklen_t tl = sizeof(type);

		if (getsockopt(ctl_fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_SEQPACKET) {
			fprintf(stderr, "ward-net: --control-fd %d must be a SOCK_SEQPACKET socket\n", ctl_fd);
			return 2;
		}
		fcntl(ctl_fd, F_SETFD, FD_CLOEXEC);
		if (keep_fd >= 0 && (getsockopt(keep_fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
				     type != SOCK_SEQPACKET)) {
			fprintf(stderr, "ward-net: --keep-fd %d must be a SOCK_SEQPACKET socket\n", keep_fd);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGUSR1);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	sfd = signalfd(-1, &ss, SFD_CLOEXEC);
	if (sfd < 0) {
		fprintf(stderr, "ward-net: signalfd: %s\n", strerror(errno));
		return 1;
	}
	if (load_config(config, config_fd))
		return 2;
	dp_init(&dp, &cfg, deliver, NULL);
	rc = filter_init(&fl, &cfg, dp.c);
	if (rc) {
		fprintf(stderr, "ward-net: no memory for the conntrack tables\n");
		goto out;
	}
	dp.filter = filter_check;
	dp.filter_opaque = &fl;
	/* The token key and the credentials' locked pages, before lockdown. */
	rc = imds_init(&imds, &cfg, imds_rate, imds_burst);
	if (rc) {
		fprintf(stderr, "ward-net: instance metadata: no locked memory for its key and credentials\n");
		goto out;
	}
	dp.imds = imds_input;
	dp.imds_opaque = imds;
	rc = open_enis(specs, nspecs);
	if (rc)
		goto out;
	if (uc.udp_fd >= 0) {
		/* Certificates are read and the dialer forked while the card
		 * can still open files and is still in the host's network. */
		rc = underlay_open(&uc, &cfg, &sb, &ul);
		if (rc)
			goto out;
		dp.where = underlay_where;
		dp.send_remote = underlay_send;
		dp.remote_opaque = ul;
	}
	/* Lockdown: from here ward-net reaches no path and no network. */
	rc = sandbox_isolate(&sb, "ward-net", err, sizeof(err));
	if (!rc)
		rc = net_sandbox_lock(&sb, ul != NULL, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "ward-net: %s\n", err);
		goto out;
	}
	net_sandbox_test_forbidden("main");
	if (ul) {
		rc = underlay_start(ul);
		if (rc) {
			fprintf(stderr, "ward-net: starting the key exchange: %s\n", strerror(-rc));
			goto out;
		}
	}
	log_info("ward-net ready", "mode=%s enis=%d vpcs=%u subnets=%u sandbox=%s underlay=%s",
		 ctl_fd >= 0 ? "controller" : "standalone", nspecs, cfg.n_vpcs, cfg.n_subnets,
		 sb.enabled ? "on" : "off", ul ? underlay_local_id(ul) : "none");
	while (serve_step(sfd))
		;
	log_info("stopping", "enis=%d", nspecs);
	log_counters();
out:
	for (unsigned int i = 0; i < VPC_MAX_ENIS; i++)
		netdev_destroy(devs[i]);
	underlay_close(ul);
	imds_destroy(imds);
	filter_destroy(&fl);
	close(sfd);
	return rc ? 1 : 0;
}
