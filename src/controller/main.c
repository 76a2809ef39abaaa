/* ward-controller: the Nitro Controller analogue. Boots the firmware
 * chain (fw_boot: verify + measure, launches nothing), records the verdict
 * in the audit log, re-adopts the VMs a previous run left, and serves the
 * mTLS host API until SIGTERM. VMs outlive the controller. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "controller/allowlist.h"
#include "controller/api.h"
#include "audit.h"
#include "controller/ctl.h"
#include "controller/firmware.h"
#ifndef WARD_FW_DEV
#include "controller/fw/fw_chain.h"
#endif
#include "controller/hostattest.h"
#include "controller/instances.h"
#include "controller/launcher.h"
#include "controller/netcard.h"
#include "controller/tpmsign.h"
#include "controller/volumes.h"
#include "controller/vpcstore.h"
#include "cliopt.h"
#include "conf.h"
#include "fileio.h"
#include "errmsg.h"
#include "log.h"
#include "tpm.h"

struct opts {
	const char *state_dir, *tcti, *listen, *cert, *key, *client_ca;
	const char *dev_images, *images, *port_file;
	const char *kms_url, *kms_cert, *kms_key, *kms_ca, *host_id;
	const char *cpu_topology;
	const char *underlay, *host_cert, *host_key, *host_ca;
	unsigned short underlay_port, keyx_port;
	const char *volume_dirs[CTL_MAX_VOLUME_DIRS];
	unsigned short nbd_ports[CTL_MAX_NBD_PORTS];
	int n_volume_dirs, n_nbd_ports;
	int deadline_s, checkpoint_s, card_cores, burst_cores;
	unsigned long uid_base;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: ward-controller --state-dir DIR --tcti TCTI --listen ADDR:PORT\n"
"                       --tls-cert PEM --tls-key PEM --client-ca PEM\n"
"                       [--images DIR] [--port-file FILE] [--request-timeout S]\n"
"                       [--checkpoint-interval S] [--uid-base N]\n"
"                       [--cpu-topology DIR] [--card-cores N] [--burst-cores N]\n"
"                       [--kms-url URL --kms-cert PEM --kms-key PEM --kms-ca PEM\n"
"                        --host-id NAME]   (encrypted volumes, docs/attach.md)\n"
"                       [--underlay ADDR --host-cert PEM --host-key PEM --host-ca PEM\n"
"                        [--underlay-port P] [--keyx-port P]]   (ward-net's encrypted\n"
"                        underlay, docs/net.md)\n"
"                       [--volume-dir DIR]... [--nbd-port PORT]...   (where backing\n"
"                        stores are; the lockdown reaches no others, up to 4 each)\n"
#ifdef WARD_FW_DEV
"                       [--dev-images BUILD_DIR]   (development build only)\n"
#endif
"                       [--help] [--version]\n"
"See docs/controller.md.\n"
"exit status: 0 stopped cleanly; 1 runtime error (out of service, cannot\n"
"  listen); 2 usage error (docs/cli.md)\n");
}

/* /etc/ward/controller.conf: every option but --dev-images (docs/operations.md). */
static const struct conf_key conf_keys[] = {
	{ "state-dir", CONF_PATH, 0, 0, 0 }, { "tcti", CONF_STRING, 0, 0, 0 },
	{ "listen", CONF_STRING, 0, 0, 0 }, { "tls-cert", CONF_PATH, 0, 0, 0 },
	{ "tls-key", CONF_PATH, 0, 0, 0 }, { "client-ca", CONF_PATH, 0, 0, 0 },
	{ "images", CONF_PATH, 0, 0, 0 }, { "port-file", CONF_PATH, 0, 0, 0 },
	{ "request-timeout", CONF_INT, 1, 300, 0 },
	{ "checkpoint-interval", CONF_INT, 1, 86400, 0 },
	{ "uid-base", CONF_INT, 1000, 4294963200LL, 0 },
	{ "kms-url", CONF_STRING, 0, 0, 0 }, { "kms-cert", CONF_PATH, 0, 0, 0 },
	{ "kms-key", CONF_PATH, 0, 0, 0 }, { "kms-ca", CONF_PATH, 0, 0, 0 },
	{ "host-id", CONF_STRING, 0, 0, 0 }, { "cpu-topology", CONF_PATH, 0, 0, 0 },
	{ "card-cores", CONF_INT, 1, 4096, 0 }, { "burst-cores", CONF_INT, 0, 4096, 0 },
	{ "volume-dir", CONF_PATH, 0, 0, 1 }, { "nbd-port", CONF_INT, 1, 65535, 1 },
	{ "underlay", CONF_STRING, 0, 0, 0 }, { "host-cert", CONF_PATH, 0, 0, 0 },
	{ "host-key", CONF_PATH, 0, 0, 0 }, { "host-ca", CONF_PATH, 0, 0, 0 },
	{ "underlay-port", CONF_INT, 1, 65535, 0 }, { "keyx-port", CONF_INT, 1, 65535, 0 },
	{ NULL, 0, 0, 0, 0 },
};

/* A numeric option, strictly (cliopt_parse_uint: "4x" and overflow are
 * refused, not read as 4 or wrapped), in the range the config file's key
 * has. */
static int num_opt(const char *opt, const char *val, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char want[64];

	if (!cliopt_parse_uint(val, lo, hi, out))
		return 0;
	snprintf(want, sizeof(want), "a number from %llu to %llu", (unsigned long long)lo,
		 (unsigned long long)hi);
	cliopt_bad_value("ward-controller", opt, want, val);
	return -1;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "tcti", required_argument, NULL, 't' },
		{ "listen", required_argument, NULL, 'l' },
		{ "tls-cert", required_argument, NULL, 'c' },
		{ "tls-key", required_argument, NULL, 'k' },
		{ "client-ca", required_argument, NULL, 'a' },
		{ "dev-images", required_argument, NULL, 'd' },
		{ "images", required_argument, NULL, 'i' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "request-timeout", required_argument, NULL, 'r' },
		{ "checkpoint-interval", required_argument, NULL, 'C' },
		{ "uid-base", required_argument, NULL, 'u' },
		{ "kms-url", required_argument, NULL, 'K' },
		{ "kms-cert", required_argument, NULL, 'E' },
		{ "kms-key", required_argument, NULL, 'Y' },
		{ "kms-ca", required_argument, NULL, 'A' },
		{ "host-id", required_argument, NULL, 'H' },
		{ "cpu-topology", required_argument, NULL, 'T' },
		{ "card-cores", required_argument, NULL, 'N' },
		{ "burst-cores", required_argument, NULL, 'B' },
		{ "volume-dir", required_argument, NULL, 'V' },
		{ "nbd-port", required_argument, NULL, 'P' },
		{ "underlay", required_argument, NULL, 0x200 },
		{ "host-cert", required_argument, NULL, 0x201 },
		{ "host-key", required_argument, NULL, 0x202 },
		{ "host-ca", required_argument, NULL, 0x203 },
		{ "underlay-port", required_argument, NULL, 0x204 },
		{ "keyx-port", required_argument, NULL, 0x205 },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ 0 }
	};
	uint64_t v;
	int c;

	*o = (struct opts){ .deadline_s = 10, .checkpoint_s = 10, .uid_base = 200000,
			    .cpu_topology = "/sys/devices/system/cpu", .card_cores = 1,
			    .burst_cores = -1, .underlay_port = 6081, .keyx_port = 6082 };
	if (conf_args("ward-controller", "controller.conf", conf_keys, lo, &argc, &argv))
		return -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': o->state_dir = optarg; break;
		case 't': o->tcti = optarg; break;
		case 'l': o->listen = optarg; break;
		case 'c': o->cert = optarg; break;
		case 'k': o->key = optarg; break;
		case 'a': o->client_ca = optarg; break;
		case 'd':
#ifndef WARD_FW_DEV
			fprintf(stderr, "ward-controller: --dev-images exists only in ward-controller-dev\n");
			return -1;
#endif
			o->dev_images = optarg;
			break;
		case 'i': o->images = optarg; break;
		case 'p': o->port_file = optarg; break;
		case 'r':
			if (num_opt("--request-timeout", optarg, 1, 300, &v))
				return -1;
			o->deadline_s = (int)v;
			break;
		case 'C':
			if (num_opt("--checkpoint-interval", optarg, 1, 86400, &v))
				return -1;
			o->checkpoint_s = (int)v;
			break;
		case 'u':
			if (num_opt("--uid-base", optarg, 1000, 4294963200ULL, &v))
				return -1;
			o->uid_base = (unsigned long)v;
			break;
		case 'K': o->kms_url = optarg; break;
		case 'E': o->kms_cert = optarg; break;
		case 'Y': o->kms_key = optarg; break;
		case 'A': o->kms_ca = optarg; break;
		case 'H': o->host_id = optarg; break;
		case 'T': o->cpu_topology = optarg; break;
		case 'N':
			if (num_opt("--card-cores", optarg, 1, 4096, &v))
				return -1;
			o->card_cores = (int)v;
			break;
		case 'B':
			if (num_opt("--burst-cores", optarg, 0, 4096, &v))
				return -1;
			o->burst_cores = (int)v;
			break;
		case 'V':
			if (o->n_volume_dirs == CTL_MAX_VOLUME_DIRS) {
				fprintf(stderr, "ward-controller: at most %d --volume-dir\n",
					CTL_MAX_VOLUME_DIRS);
				return -1;
			}
			o->volume_dirs[o->n_volume_dirs++] = optarg;
			break;
		case 'P': {
			char *end;
			unsigned long port = strtoul(optarg, &end, 10);

			if (o->n_nbd_ports == CTL_MAX_NBD_PORTS || *end || end == optarg ||
			    !port || port > 65535) {
				fprintf(stderr, "ward-controller: --nbd-port must be a TCP port "
					"1..65535 (at most %d of them), got '%s'\n",
					CTL_MAX_NBD_PORTS, optarg);
				return -1;
			}
			o->nbd_ports[o->n_nbd_ports++] = (unsigned short)port;
			break;
		}
		case 0x200: o->underlay = optarg; break;
		case 0x201: o->host_cert = optarg; break;
		case 0x202: o->host_key = optarg; break;
		case 0x203: o->host_ca = optarg; break;
		case 0x204:
		case 0x205:
			if (num_opt(c == 0x204 ? "--underlay-port" : "--keyx-port", optarg, 1, 65535, &v))
				return -1;
			*(c == 0x204 ? &o->underlay_port : &o->keyx_port) = (unsigned short)v;
			break;
		/* --help and --version: 1, which main turns into exit 0. */
		case 'h': usage(stdout); return 1;
		case 'v': cliopt_version("ward-controller"); return 1;
		default: cliopt_bad_option("ward-controller", argv, lo); return -1;
		}
	}
	if (optind != argc || !o->state_dir || !o->listen || !o->cert || !o->key ||
	    !o->client_ca) {
		usage(stderr);
		return -1;
	}
	if ((o->underlay || o->host_cert || o->host_key || o->host_ca) &&
	    (!o->underlay || !o->host_cert || !o->host_key || !o->host_ca)) {
		fprintf(stderr, "ward-controller: --underlay needs --host-cert, --host-key and "
			"--host-ca (and they need --underlay)\n");
		return -1;
	}
	if (o->underlay) {
		struct in_addr a;

		if (inet_pton(AF_INET, o->underlay, &a) != 1) {
			cliopt_bad_value("ward-controller", "--underlay", "an IPv4 address", o->underlay);
			return -1;
		}
	}
	if (o->card_cores < 1 || o->burst_cores < -1) {
		fprintf(stderr, "ward-controller: --card-cores must be at least 1 and --burst-cores "
			"at least 0\n");
		return -1;
	}
	if (o->deadline_s < 1 || o->deadline_s > 300 || o->checkpoint_s < 1 || o->uid_base < 1000 ||
	    o->uid_base > 0xfffff000ul) {
		fprintf(stderr, "ward-controller: --request-timeout 1..300, --checkpoint-interval >= 1, "
			"--uid-base 1000..4294963200\n");
		return -1;
	}
	/* Refused now, not at the lockdown that would grant it read-write. */
	if (o->port_file) {
		char dir[PATH_MAX], err[768];

		if (ctl_port_dir_check(o->port_file, dir, sizeof(dir), err, sizeof(err))) {
			fprintf(stderr, "ward-controller: %s\n", err);
			return -1;
		}
	}
	return 0;
}

/* A log exists once anything was appended or checkpointed: from then on
 * the host's identity files are never made again (docs/audit.md). */
static bool audit_log_exists(const char *state_dir)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/audit/checkpoint", state_dir);
	if (!lstat(path, &st))
		return true;
	snprintf(path, sizeof(path), "%s/audit/leaves", state_dir);
	return !lstat(path, &st) && st.st_size > 0;
}

/* A stable random host id names the log: origin "ward/<id>/audit". Made
 * on a host's first start only; a log without it is refused, not renamed. */
static int host_id(const char *state_dir, bool may_create, char *out, size_t len, char *err,
		   size_t errlen)
{
	char path[PATH_MAX], buf[33];
	uint8_t b[8];
	size_t n;
	int i, rc;

	snprintf(path, sizeof(path), "%s/host-id", state_dir);
	/* fileio: a FIFO here is refused, not waited on; 17 bytes or more
	 * is -EFBIG, i.e. malformed. */
	rc = fileio_read_into(path, 0, buf, 18, &n);
	if (!rc || rc == -EFBIG) {
		for (i = 0; !rc && n == 16 && i < 16; i++)
			if (!strchr("0123456789abcdef", buf[i]))
				n = 0;
		if (rc || n != 16) {
			snprintf(err, errlen, "%.300s is malformed (not 16 hex digits); the audit log's "
				 "name depends on it: restore it", path);
			return -EBADMSG;
		}
		buf[16] = 0;
		snprintf(out, len, "%s", buf);
		return 0;
	}
	if (rc != -ENOENT || !may_create) {
		snprintf(err, errlen, "%.300s is %s; the audit log is named after it: restore it "
			 "(not making a new one)", path, rc == -ENOENT ? "missing" : fileio_strerror(rc));
		return rc;
	}
	if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
		snprintf(err, errlen, "no randomness for the host id");
		return -EIO;
	}
	for (i = 0; i < 8; i++)
		snprintf(buf + 2 * i, 3, "%02x", b[i]);
	/* Complete or absent after a crash, never over an existing id. */
	rc = fileio_write_new(path, buf, 16, 0644);
	if (rc) {
		snprintf(err, errlen, "cannot write %.300s: %s", path, fileio_strerror(rc));
		return rc;
	}
	snprintf(out, len, "%s", buf);
	return 0;
}

/* The card domain: the controller and every ward-blk it starts (they
 * inherit the affinity) run on the card CPUs only, never on a guest's. */
static void pin_to_card(struct ctl *c)
{
	int cpus[CPUPART_MAX_CPUS], n, i;
	cpu_set_t have, want;

	n = cpupart_card_cpus(c->cpu, cpus, CPUPART_MAX_CPUS);
	if (sched_getaffinity(0, sizeof(have), &have)) {
		log_warn("cannot read the CPU affinity; controller not pinned", "errno=%s", errname(errno));
		return;
	}
	CPU_ZERO(&want);
	for (i = 0; i < n; i++) {
		if (cpus[i] >= CPU_SETSIZE || !CPU_ISSET(cpus[i], &have)) {
			snprintf(c->cpu_note, sizeof(c->cpu_note), "controller not pinned: card cpu %d "
				 "is not available on this host (fake topology?)", cpus[i]);
			log_info("not pinning the controller: the topology names a CPU this host "
				 "does not give it", "cpu=%d", cpus[i]);
			return;
		}
		CPU_SET(cpus[i], &want);
	}
	if (sched_setaffinity(0, sizeof(want), &want)) {
		snprintf(c->cpu_note, sizeof(c->cpu_note), "controller not pinned: %s",
			 strerror(errno));
		log_warn("cannot pin the controller to the card CPUs", "errno=%s", errname(errno));
		return;
	}
	log_info("controller pinned to the card CPUs", "count=%d first=%d", n, cpus[0]);
}

/* Read the topology and split it. Defaults: --card-cores 1, and of the
 * guest cores half (rounded down) burstable, the rest fixed; with fewer
 * than two guest cores all of them are burstable, so small hosts still run
 * instances. A one-core host has no partition (reported on GET /v1/host);
 * a split the operator asked for that cannot be made is fatal. */
static int cpu_setup(struct ctl *c, const struct opts *o, bool explicit)
{
	static struct cpu_topo topo;
	static struct cpu_alloc alloc;
	char err[256];
	int burst, guest;

	cpupart_probe_sidechan(&c->side);
	log_info("side-channel controls", "core_sched=%d l1d_flush=%d ib_isolation=%d smt=%d "
		 "refused=\"%s\"", c->side.core_sched, c->side.l1d_flush, c->side.ib_isolation,
		 c->side.smt_active, c->side.detail);
	if (cpupart_read_topology(o->cpu_topology, &topo, err, sizeof(err))) {
		log_error("cannot read the CPU topology", "error=\"%s\"", err);
		return -1;
	}
	if (topo.ncores < 2 && !explicit) {
		snprintf(c->cpu_note, sizeof(c->cpu_note), "one core: no card/guest partition, "
			 "instances are not pinned");
		log_warn("one core: no card/guest CPU partition", "cores=%d", topo.ncores);
		return 0;
	}
	guest = topo.ncores - o->card_cores;
	burst = o->burst_cores >= 0 ? o->burst_cores : guest < 2 ? guest : guest / 2;
	if (cpupart_split(&alloc, &topo, o->card_cores, burst, err, sizeof(err))) {
		log_error("cannot partition the CPUs", "error=\"%s\"", err);
		return -1;
	}
	c->topo = &topo;
	c->cpu = &alloc;
	log_info("CPU partition", "cores=%d threads_per_core=%d card_cores=%d burst_cores=%d "
		 "fixed_cores=%d", topo.ncores, topo.threads_per_core, o->card_cores, burst,
		 guest - burst);
	pin_to_card(c);
	return 0;
}

/* The audit log's checkpoints are numbered by a TPM NV counter, so the
 * log and its checkpoint cannot be rolled back together unnoticed. */
static int counter_read(void *ctx, uint64_t *v)
{
	return tpm_nvcounter_read(ctx, TPM_NV_AUDIT_COUNTER, v);
}

static int counter_advance(void *ctx, uint64_t *v)
{
	return tpm_nvcounter_increment(ctx, TPM_NV_AUDIT_COUNTER, v);
}

/* The counter is defined only once the log has a signed checkpoint: a
 * log without one while the counter exists lost it (tampering), and a
 * controller whose key will not sign (not the measured one) cannot start
 * a new log — it leaves no counter behind that would brand the next,
 * measured start's log as tampered. */
static int anchor_audit(struct ctl *c, struct tpm *tpm, char *err, size_t errlen)
{
	static struct audit_anchor anchor = { counter_read, counter_advance, NULL, false };
	char *note = NULL;
	size_t len;
	uint64_t v;
	int rc = tpm_nvcounter_read(tpm, TPM_NV_AUDIT_COUNTER, &v);

	if (rc == -ENOENT) {
		if (audit_last_checkpoint(c->audit, &note, &len) == -ENOENT &&
		    (rc = audit_checkpoint(c->audit, c->signer, &note, &len))) {
			snprintf(err, errlen, "cannot sign the new log's first checkpoint (%s): the "
				 "audit key is bound to the measured controller", strerror(-rc));
			return rc;
		}
		free(note);
		rc = tpm_nvcounter_define(tpm, TPM_NV_AUDIT_COUNTER);
		anchor.defined_now = rc == 0;
	}
	if (rc && rc != -EEXIST) {
		snprintf(err, errlen, "cannot read or define the audit log's TPM counter (NV 0x%08x): "
			 "%s", TPM_NV_AUDIT_COUNTER, tpm_error(tpm));
		return rc;
	}
	anchor.ctx = tpm;
	return audit_anchor(c->audit, &anchor, err, errlen);
}

static bool instance_running(void *opaque, const char *id)
{
	struct ctl *c = opaque;
	struct instance *in = inst_find(c->inst, id);

	return in && in->state == INST_RUNNING;
}

static void on_instance(void *opaque, const struct instance *in, const char *event)
{
	struct ctl *c = opaque;

	/* A VM that is gone needs no volume keys: wipe them in ward-blk;
	 * nor its ENIs: detached from ward-net. */
	if (strcmp(event, "launch") && strcmp(event, "adopt")) {
		vol_instance_gone(c->vols, in->id, event);
		netcard_instance_gone(c->net, in->id, event);
	}
	ctl_audit(c, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:o}", "type", "instance", "event",
			       event, "instance", in->id, "image", in->image, "pid",
			       (json_int_t)in->pid, "uid", (json_int_t)in->uid, "exit_code",
			       in->exit_code >= 0 && in->state == INST_EXITED ?
			       json_integer(in->exit_code) : json_null()));
}

static void vol_audit(void *opaque, json_t *rec)
{
	ctl_audit(opaque, rec);
}

static void net_audit(void *opaque, json_t *rec)
{
	ctl_audit(opaque, rec);
}

static void checkpoint_tick(evutil_socket_t fd, short what, void *arg)
{
	struct ctl *c = arg;
	char *note;
	size_t len;

	if (!audit_checkpoint(c->audit, c->signer, &note, &len))
		free(note);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	log_info("stopping on signal (instances keep running)", "signal=%d", (int)sig);
	event_base_loopbreak(arg);
}

/* Replaced atomically: a reader never sees half a number. */
static int write_port(const char *path, int port)
{
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%d\n", port);

	return fileio_replace(path, buf, (size_t)n, 0644);
}

int main(int argc, char **argv)
{
	static struct ctl c;
	struct opts o;
	struct tpm *tpm = NULL;
	struct tpmsign *ts = NULL;
	struct checkpoint_signer signer;
	struct event_base *base = NULL;
	struct event *sig_term = NULL, *sig_int = NULL, *tick = NULL;
	struct api *api = NULL;
	struct inst_cfg icfg = { 0 };
	struct vol_cfg vcfg = { 0 };
	char blk_path[PATH_MAX];
	struct api_cfg acfg;
	struct launcher_images limg = { .hv_fd = -1, .blk_fd = -1, .net_fd = -1 };
	struct ctl_sandbox sb;
	char err[512] = "", path[PATH_MAX], hv_path[PATH_MAX], img_dir[PATH_MAX], hid[33];
	char net_path[PATH_MAX];
	struct netcard_cfg ncfg;
	uint64_t repaired = 0, rebuilt;
	const char *rebuilt_why;
	int created, rc = 1, n;
	bool fresh;
	struct timeval tv;

	log_init("controller", LOG_INFO);
	tpm_quiet_tss_log();	/* before the first tss2 call: TPM errors are ours to name */
	if ((n = parse_opts(argc, argv, &o)))
		return n > 0 ? 0 : CLI_EXIT_USAGE;
	signal(SIGPIPE, SIG_IGN);
	if (mkdir(o.state_dir, 0700) && errno != EEXIST) {
		log_error("cannot create the state dir", "dir=%s errno=%s", o.state_dir, errname(errno));
		return 1;
	}
	c.state_dir = o.state_dir;
	c.tcti = o.tcti;
	c.checkpoint_s = o.checkpoint_s;
	/* 0. CPUs: pinned to the card domain before anything is started. */
	if (cpu_setup(&c, &o, o.card_cores != 1 || o.burst_cores >= 0))
		return 1;

	/* 1. The boot chain: verify and measure, launch nothing. */
	if (fw_boot(o.state_dir, o.tcti, &c.fw)) {
		c.fw.in_service = false;
		c.fw.img.hv_fd = c.fw.img.blk_fd = c.fw.img.net_fd = -1;
		if (!c.fw.reason[0])
			snprintf(c.fw.reason, sizeof(c.fw.reason), "firmware verification failed");
	}
	snprintf(c.reason, sizeof(c.reason), "%s", c.fw.reason);
	/* The launcher: forked now, holding only the verified executables,
	 * before the TPM, keys or any client is in this process. */
	if (o.dev_images) {
		snprintf(hv_path, sizeof(hv_path), "%s/src/hv/ward-hv", o.dev_images);
		snprintf(blk_path, sizeof(blk_path), "%s/src/blk/ward-blk", o.dev_images);
		limg.hv_path = hv_path;
		limg.blk_path = blk_path;
		snprintf(net_path, sizeof(net_path), "%s/src/net/ward-net", o.dev_images);
		limg.net_path = net_path;
	}
	/* Instances use uid_base + [0, INST_MAX), storage cards the next
	 * INST_MAX, ward-net the one after. */
	limg.id_lo = o.uid_base;
	limg.id_hi = o.uid_base + 2 * INST_MAX;
	limg.hv_fd = c.fw.img.hv_fd;
	limg.blk_fd = c.fw.img.blk_fd;
	limg.net_fd = c.fw.img.net_fd;
	if (launcher_start(&limg, err, sizeof(err))) {
		log_error("cannot start the launcher", "error=\"%s\"", err);
		goto out;
	}
	ctl_sandbox_prepare(o.tcti);
	if (c.fw.in_service) {
		c.state = HOST_IN_SERVICE;
	} else {
		c.state = HOST_OUT_OF_SERVICE;
#ifdef WARD_FW_DEV
		/* Never in service: the development state is its own. */
		if (!strncmp(c.fw.reason, "unverified-dev", 14))
			c.state = HOST_UNVERIFIED_DEV;
		c.dev = true;
#endif
	}

	/* 2. The audit log and its TPM-resident checkpoint key. */
	if (tpm_open(o.tcti, &tpm, err, sizeof(err))) {
		log_error("cannot open the TPM: the audit log needs it", "error=\"%s\"", err);
		goto out;
	}
	fresh = !audit_log_exists(o.state_dir);
	/* Only a development host makes its own (unbound) audit key; a
	 * verified host gets it, PCR-bound, from provisioning. */
	if (tpmsign_open(tpm, o.state_dir, fresh && c.dev, &ts, &created, err, sizeof(err))) {
		log_error("audit signing key unavailable", "error=\"%s\"", err);
		goto out;
	}
	if (created)
		log_info("audit signing key created in the TPM", "pub=%s/" TPMSIGN_PUB, o.state_dir);
	if (host_id(o.state_dir, fresh, hid, sizeof(hid), err, sizeof(err))) {
		log_error("host id unavailable", "error=\"%s\"", err);
		goto out;
	}
	snprintf(c.origin, sizeof(c.origin), "ward/%s/audit", hid);
	/* Host attestation for ward-api (docs/attestation.md). A development
	 * build measures nothing, so it has no event log to show: its keys
	 * are served, its quotes refused. */
	err[0] = 0;
#ifdef WARD_FW_DEV
	n = hostattest_open(tpm, o.state_dir, NULL, &c.attest, err, sizeof(err));
#else
	n = hostattest_open(tpm, o.state_dir, fw_eventlog_path(), &c.attest, err, sizeof(err));
#endif
	if (n)
		log_warn("host attestation unavailable", "error=\"%s\"", err);
	c.audit_pub_pem = (char *)tpmsign_pub_pem(ts);
	if (tpmsign_signer(ts, c.origin, &signer))
		goto out;
	c.signer = &signer;
	snprintf(path, sizeof(path), "%s/audit", o.state_dir);
	if (audit_open(path, c.origin, tpmsign_pub(ts), &c.audit, &repaired, err, sizeof(err)) ||
	    anchor_audit(&c, tpm, err, sizeof(err))) {
		log_error("audit log refused; not starting", "error=\"%s\"", err);
		goto out;
	}
	rebuilt = audit_hashes_rebuilt(c.audit, &rebuilt_why);
	ctl_audit(&c, json_pack("{s:s, s:s, s:I, s:I, s:s?}", "type", "controller", "event", "start",
				"repaired_bytes", (json_int_t)repaired, "hashes_rebuilt",
				(json_int_t)rebuilt, "hashes_damage", rebuilt_why));
	ctl_audit(&c, json_pack("{s:s, s:s, s:s, s:b}", "type", "boot", "verdict",
				ctl_state_name(c.state), "reason", c.reason, "in_service",
				c.fw.in_service));
	log_info("boot verdict", "state=%s reason=\"%s\"", ctl_state_name(c.state), c.reason);

	/* 3. Instances: re-adopt what a previous run left running. */
	base = event_base_new();
	if (!base)
		goto out;
	icfg.state_dir = o.state_dir;
	icfg.hv_fd = c.fw.img.hv_fd;
	icfg.uid_base = (uid_t)o.uid_base;
	icfg.cpu = c.cpu;
	if (o.dev_images) {
		snprintf(img_dir, sizeof(img_dir), "%s/guest", o.dev_images);
		icfg.hv_path = hv_path;
		icfg.images_dir = img_dir;
	} else {
		/* Guest images come verified from the firmware store; --images
		 * adds a directory of (customer) images besides. */
		icfg.fw = &c.fw.img;
	}
	if (o.images)
		icfg.images_dir = o.images;
	if (inst_init(&c.inst, &icfg, base, on_instance, &c)) {
		log_error("cannot set up instances", "dir=%s", o.state_dir);
		goto out;
	}
	/* Encrypted volumes: the host key (TPM) and the KMS client. */
	vcfg = (struct vol_cfg){ .state_dir = o.state_dir, .tpm = tpm, .dev = c.dev,
				 .blk_fd = c.fw.img.blk_fd, .kms_url = o.kms_url,
				 .kms_ca = o.kms_ca, .kms_cert = o.kms_cert, .kms_key = o.kms_key,
				 .host_id = o.host_id, .audit = vol_audit, .audit_opaque = &c,
				 /* instances use uid_base + [0, 64), cards the next 64 */
				 .uid_base = (uid_t)o.uid_base + INST_MAX, .max_sets = INST_MAX };
	if (o.dev_images)
		vcfg.blk_path = blk_path;
	err[0] = 0;
	if (vol_init(&c.vols, &vcfg, err, sizeof(err))) {
		log_error("cannot set up encrypted volumes", "error=\"%s\"", err);
		goto out;
	}
	/* The VPC model (VPCs, subnets, groups, ENIs): checked as it loads. */
	err[0] = 0;
	if (vpcstore_open(o.state_dir, &c.vpcs, err, sizeof(err))) {
		log_error("cannot load the VPC model", "error=\"%s\"", err);
		goto out;
	}
	n = inst_adopt(c.inst);
	if (n > 0)
		log_info("instance records loaded", "count=%d running=%u", n, inst_running(c.inst));
	/* Then the cards of those instances, with their volumes still in use. */
	n = vol_adopt(c.vols, instance_running, &c);
	if (n < 0)
		log_error("cannot read the card records", "errno=%s", errname(-n));
	else if (n > 0)
		log_info("card records handled", "count=%d", n);
	/* The VPC card: taken back or started, its model brought up to
	 * date, the ENIs of running instances attached. */
	ncfg = (struct netcard_cfg){ .state_dir = o.state_dir, .base = base, .vpcs = c.vpcs,
				     .have_image = limg.net_fd >= 0 || limg.net_path,
				     .uid = (uid_t)(o.uid_base + 2 * INST_MAX),
				     .underlay_port = o.underlay_port, .keyx_port = o.keyx_port,
				     .host_cert = o.host_cert, .host_key = o.host_key,
				     .host_ca = o.host_ca,
				     .running = instance_running, .audit = net_audit, .opaque = &c };
	if (o.underlay) {
		struct in_addr ua;

		inet_pton(AF_INET, o.underlay, &ua);	/* checked in parse_opts */
		ncfg.underlay_addr = ua.s_addr;
	}
	err[0] = 0;
	if (netcard_open(&c.net, &ncfg, err, sizeof(err)) && err[0]) {
		log_error("cannot set up ward-net", "error=\"%s\"", err);
		goto out;
	}

	/* 4. Lock down: everything above is open, no client has been heard
	 * yet, and this is still the only thread (the API starts the audit
	 * flusher, which inherits the Landlock domain and the filter). */
	sb = (struct ctl_sandbox){ .state_dir = o.state_dir, .tcti = o.tcti, .listen = o.listen,
				   .port_file = o.port_file, .images_dir = icfg.images_dir,
				   .tls = { o.cert, o.key, o.client_ca }, .kms_url = o.kms_url,
				   .kms_files = { o.kms_cert, o.kms_key, o.kms_ca } };
	memcpy(sb.volume_dirs, o.volume_dirs, sizeof(sb.volume_dirs));
	memcpy(sb.nbd_ports, o.nbd_ports, sizeof(sb.nbd_ports));
	err[0] = 0;
	if (ctl_sandbox_lock(&sb, err, sizeof(err))) {
		log_error("cannot lock down", "error=\"%s\"", err);
		goto out;
	}
	ctl_sandbox_test_forbidden("main");

	/* 5. The API. */
	acfg = (struct api_cfg){ .listen = o.listen, .cert = o.cert, .key = o.key,
				 .client_ca = o.client_ca, .deadline_s = o.deadline_s };
	err[0] = 0;
	if (api_start(&api, base, &c, &acfg, err, sizeof(err))) {
		log_error("cannot start the API", "error=\"%s\"", err);
		goto out;
	}
	checkpoint_tick(-1, 0, &c);
	sig_term = evsignal_new(base, SIGTERM, on_signal, base);
	sig_int = evsignal_new(base, SIGINT, on_signal, base);
	tick = event_new(base, -1, EV_PERSIST, checkpoint_tick, &c);
	tv = (struct timeval){ .tv_sec = o.checkpoint_s };
	if (!sig_term || !sig_int || !tick || evsignal_add(sig_term, NULL) ||
	    evsignal_add(sig_int, NULL) || event_add(tick, &tv))
		goto out;
	/* The port file says "ready": only once SIGTERM stops the loop
	 * cleanly (audited, checkpointed). Before, a SIGTERM sent as soon as
	 * the file appeared killed the controller with the default action. */
	if (o.port_file && write_port(o.port_file, api_port(api))) {
		log_error("cannot write the port file", "file=%s", o.port_file);
		goto out;
	}
	log_info("serving", "listen=%s port=%d state=%s", o.listen, api_port(api),
		 ctl_state_name(c.state));
	event_base_dispatch(base);
	ctl_audit(&c, json_pack("{s:s, s:s, s:I}", "type", "controller", "event", "stop",
				"instances_running", (json_int_t)inst_running(c.inst)));
	checkpoint_tick(-1, 0, &c);
	rc = 0;
out:
	if (tick)
		event_free(tick);
	if (sig_term)
		event_free(sig_term);
	if (sig_int)
		event_free(sig_int);
	api_stop(api);
	vol_destroy(c.vols);
	c.vols = NULL;
	netcard_close(c.net);
	c.net = NULL;
	vpcstore_close(c.vpcs);
	c.vpcs = NULL;
	inst_destroy(c.inst);
	audit_close(c.audit);
	c.audit = NULL;
	if (base)
		event_base_free(base);
	hostattest_close(c.attest);
	tpmsign_close(ts);
	tpm_close(tpm);
	fw_state_release(&c.fw);
	launcher_stop();
	return rc;
}
