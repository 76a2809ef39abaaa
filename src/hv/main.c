/* ward-hv: one KVM virtual machine per process. Parses the instance
 * description (command line, or fds inherited from ward-controller), builds
 * the VM, boots the kernel and waits; the exit status is the guest's
 * debug-exit value, or HV_EXIT_SETUP / HV_EXIT_CRASH (see docs/hv.md). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cliopt.h"
#include "cpupart.h"
#include "hv/boot/boot.h"
#include "hv/dev/pci.h"
#include "hv/dev/virtio_pci.h"
#include "hv/allowlist.h"
#include "hv/serial.h"
#include "hugepool.h"
#include "hv/vm.h"
#include "log.h"

#define MAX_DEVICES      8
#define MAX_IMAGE_BYTES  (1ULL << 30)
#define MIN_MEMORY_MIB   4
#define MAX_CMDLINE      4096
#define CMDLINE_ENV      "WARD_GUEST_CMDLINE" /* --cmdline-env */

struct device_arg {
	char kind;          /* 'b' blk, 'n' net */
	const char *path;   /* unix socket path, or NULL when fd >= 0 */
	int fd;
};

struct opts {
	const char *kernel, *initrd;
	int kernel_fd, initrd_fd;
	const char *cmdline;
	uint64_t memory_mib;
	int vcpus;
	int cpus[VM_MAX_VCPUS];
	int ncpus;
	struct device_arg dev[MAX_DEVICES];
	int ndev;
	struct sandbox_cfg sandbox;
	bool burstable;     /* shares host cores with other instances */
	uint64_t huge_page; /* 0, or the hugepage size backing guest memory */
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: ward-hv --kernel FILE [--initrd FILE] [--cmdline STR] [--memory SIZE]\n"
"               [--vcpus N] [--cpus LIST] [--blk SOCKET]... [--net SOCKET]...\n"
"  Runs one VM. The guest console is on stdout; the exit status is the value\n"
"  the guest wrote to the debug-exit port (0xf4), 125 for a setup error and\n"
"  126 when the guest crashed (triple fault, KVM internal error).\n"
"  Controller mode passes inherited fds instead of paths:\n"
"  --kernel-fd N --initrd-fd N --blk-fd N --net-fd N\n"
"  Sandbox: --uid N --gid N (default 65534), --no-sandbox (debugging only)\n"
"  --sched fixed|burstable: burstable instances share cores, so they get a\n"
"  core-scheduling cookie, L1D flush and indirect-branch isolation where\n"
"  the kernel offers them (refusals are reported on stderr)\n"
"  --cmdline-env: the kernel command line from $WARD_GUEST_CMDLINE (kept out of\n"
"  the world-readable /proc/PID/cmdline)\n"
"  --hugepages 2M|1G: back guest memory with hugepages from the host's pool\n"
"  (--memory must be a multiple; a short pool is refused at start)\n"
"  --memory SIZE: 64M, 1G, 65536K (a bare number is MiB), default 128M\n"
"  --vcpus N: 1 to %d, default 1\n"
"  --help, --version\n"
"exit status: the guest's debug-exit value (0..124); 125 setup or usage error\n"
"  (not 2: that value is the guest's); 126 guest crash (docs/cli.md)\n", VM_MAX_VCPUS);
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("ward-hv: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return HV_EXIT_SETUP;
}

static int parse_uint(const char *s, const char *what, unsigned long long max,
		      unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || *out > max) {
		fail("%s must be a number from 0 to %llu, got '%s'", what, max, s);
		return -1;
	}
	return 0;
}

static int parse_fd(const char *s, const char *what)
{
	unsigned long long v;

	if (parse_uint(s, what, INT_MAX, &v) || v <= 2 || fcntl((int)v, F_GETFD) < 0) {
		fail("%s must name an inherited open file descriptor above 2, got '%s'", what, s);
		return -1;
	}
	return (int)v;
}

/* "0,2-3" -> {0,2,3}; every CPU must be one we may run on. */
static int parse_cpus(const char *s, struct opts *o)
{
	cpu_set_t allowed;
	const char *p = s;

	sched_getaffinity(0, sizeof(allowed), &allowed);
	while (*p) {
		char *end;
		long a = strtol(p, &end, 10), b;

		if (end == p || a < 0)
			goto bad;
		b = a;
		if (*end == '-') {
			p = end + 1;
			b = strtol(p, &end, 10);
			if (end == p || b < a)
				goto bad;
		}
		for (long c = a; c <= b; c++) {
			if (c >= CPU_SETSIZE || !CPU_ISSET(c, &allowed))
				return fail("--cpus: host CPU %ld does not exist or is not available to ward-hv", c), -1;
			if (o->ncpus == VM_MAX_VCPUS)
				goto bad;
			o->cpus[o->ncpus++] = (int)c;
		}
		if (*end == ',')
			end++;
		else if (*end)
			goto bad;
		p = end;
	}
	if (o->ncpus)
		return 0;
bad:
	fail("--cpus wants a list like 0,2-3, got '%s'", s);
	return -1;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	enum { O_KERNEL_FD = 256, O_INITRD_FD, O_BLK_FD, O_NET_FD, O_UID, O_GID, O_NO_SANDBOX, O_SCHED,
	       O_HUGEPAGES, O_CMDLINE_ENV, O_VERSION };
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "memory", required_argument, NULL, 'm' },
		{ "vcpus", required_argument, NULL, 'v' },
		{ "cpus", required_argument, NULL, 'p' },
		{ "blk", required_argument, NULL, 'b' },
		{ "net", required_argument, NULL, 'n' },
		{ "kernel-fd", required_argument, NULL, O_KERNEL_FD },
		{ "initrd-fd", required_argument, NULL, O_INITRD_FD },
		{ "blk-fd", required_argument, NULL, O_BLK_FD },
		{ "net-fd", required_argument, NULL, O_NET_FD },
		{ "uid", required_argument, NULL, O_UID },
		{ "gid", required_argument, NULL, O_GID },
		{ "no-sandbox", no_argument, NULL, O_NO_SANDBOX },
		{ "sched", required_argument, NULL, O_SCHED },
		{ "hugepages", required_argument, NULL, O_HUGEPAGES },
		{ "cmdline-env", no_argument, NULL, O_CMDLINE_ENV },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ 0 }
	};
	unsigned long long v;
	uint64_t sz;
	char *end;
	int c;

	*o = (struct opts){ .kernel_fd = -1, .initrd_fd = -1, .cmdline = "",
			    .memory_mib = 128, .vcpus = 1,
			    .sandbox = { .uid = 65534, .gid = 65534, .enabled = true } };
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': o->kernel = optarg; break;
		case 'i': o->initrd = optarg; break;
		case 'c':
			if (strlen(optarg) >= MAX_CMDLINE)
				return fail("--cmdline is longer than %d bytes", MAX_CMDLINE - 1), -1;
			o->cmdline = optarg;
			break;
		case O_CMDLINE_ENV:
			/* Controller mode: the customer's command line stays out
			 * of /proc/PID/cmdline, which every user can read. */
			if (!(o->cmdline = getenv(CMDLINE_ENV)))
				return fail("--cmdline-env: %s is not set", CMDLINE_ENV), -1;
			if (strlen(o->cmdline) >= MAX_CMDLINE)
				return fail("%s is longer than %d bytes", CMDLINE_ENV, MAX_CMDLINE - 1), -1;
			break;
		case 'm':
			/* The size syntax of every ward binary (cliopt). */
			if (cliopt_parse_size(optarg, CLI_UNIT_MIB, &sz) || sz % (1ULL << 20) ||
			    sz > (1ULL << 50))
				return fail("--memory must be a size in whole MiB up to 1G MiB "
					    "(64M, 1G; a bare number is MiB), got '%s'", optarg), -1;
			o->memory_mib = sz >> 20;
			break;
		case 'v':
			/* The message names the range that is enforced (0 never was). */
			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || v < 1 ||
			    v > VM_MAX_VCPUS)
				return fail("--vcpus must be a number from 1 to %d, got '%s'",
					    VM_MAX_VCPUS, optarg), -1;
			o->vcpus = (int)v;
			break;
		case 'p':
			if (parse_cpus(optarg, o))
				return -1;
			break;
		case 'b': case 'n': case O_BLK_FD: case O_NET_FD: {
			struct device_arg *d = &o->dev[o->ndev];

			if (o->ndev == MAX_DEVICES)
				return fail("at most %d devices per VM", MAX_DEVICES), -1;
			d->kind = (c == 'b' || c == O_BLK_FD) ? 'b' : 'n';
			d->fd = -1;
			if (c == 'b' || c == 'n') {
				d->path = optarg;
			} else if ((d->fd = parse_fd(optarg, c == O_BLK_FD ? "--blk-fd" : "--net-fd")) < 0) {
				return -1;
			}
			o->ndev++;
			break;
		}
		case O_KERNEL_FD:
			if ((o->kernel_fd = parse_fd(optarg, "--kernel-fd")) < 0)
				return -1;
			break;
		case O_INITRD_FD:
			if ((o->initrd_fd = parse_fd(optarg, "--initrd-fd")) < 0)
				return -1;
			break;
		case O_UID: case O_GID:
			if (parse_uint(optarg, c == O_UID ? "--uid" : "--gid", 0xfffffffe, &v))
				return -1;
			if (v == 0)
				return fail("%s 0 would leave the VM running as root", c == O_UID ? "--uid" : "--gid"), -1;
			if (c == O_UID)
				o->sandbox.uid = (uid_t)v;
			else
				o->sandbox.gid = (gid_t)v;
			break;
		case O_NO_SANDBOX:
			o->sandbox.enabled = false;
			break;
		case O_SCHED:
			if (strcmp(optarg, "fixed") && strcmp(optarg, "burstable"))
				return fail("--sched must be fixed or burstable, got '%s'", optarg), -1;
			o->burstable = optarg[0] == 'b';
			break;
		case O_HUGEPAGES:
			if (!(o->huge_page = hugepage_parse(optarg)))
				return fail("--hugepages must be 2M or 1G, got '%s'", optarg), -1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case O_VERSION:
			cliopt_version("ward-hv");
			exit(0);
		default:
			/* 125, not 2: every status below 125 is the guest's. */
			cliopt_bad_option("ward-hv", argv, longopts);
			return -1;
		}
	}
	if (optind < argc)
		return fail("unexpected argument '%s'", argv[optind]), -1;
	if (!o->kernel && o->kernel_fd < 0)
		return usage(stderr), fail("--kernel is required"), -1;
	if (o->vcpus < 1)
		return fail("--vcpus must be at least 1"), -1;
	if (o->huge_page && (o->memory_mib << 20) % o->huge_page)
		return fail("--memory %llu MiB is not a multiple of the %s hugepage size",
			    (unsigned long long)o->memory_mib, hugepage_name(o->huge_page)), -1;
	if (o->ncpus && o->ncpus != o->vcpus)
		return fail("--cpus lists %d host CPUs for %d vCPUs: give one per vCPU",
			    o->ncpus, o->vcpus), -1;
	return 0;
}

static int check_memory(uint64_t mib)
{
	struct sysinfo si;
	uint64_t total;

	if (mib < MIN_MEMORY_MIB)
		return fail("--memory must be at least %d MiB, got %llu", MIN_MEMORY_MIB,
			    (unsigned long long)mib), -1;
	if (sysinfo(&si) == 0) {
		total = (uint64_t)si.totalram * si.mem_unit;
		if (mib << 20 > total)
			return fail("--memory %llu MiB is more than this host has (%llu MiB)",
				    (unsigned long long)mib, (unsigned long long)(total >> 20)), -1;
	}
	return 0;
}

/* Read a whole image (path or inherited fd) into a heap buffer. */
static int read_image(const char *path, int fd, const char *what, uint8_t **buf, size_t *len)
{
	struct stat st;
	size_t off = 0;
	int own = 0;

	if (fd < 0) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail("cannot open %s '%s': %s", what, path, strerror(errno)), -1;
		own = 1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		fail("%s '%s' is not a regular file", what, path ? path : "(fd)");
		goto err;
	}
	if (st.st_size == 0 || (uint64_t)st.st_size > MAX_IMAGE_BYTES) {
		fail("%s '%s' has %lld bytes: it must be 1 byte to 1 GiB", what,
		     path ? path : "(fd)", (long long)st.st_size);
		goto err;
	}
	*len = (size_t)st.st_size;
	*buf = malloc(*len);
	if (!*buf) {
		fail("no memory to read %s", what);
		goto err;
	}
	while (off < *len) {
		ssize_t n = pread(fd, *buf + off, *len - off, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fail("reading %s failed: %s", what, n < 0 ? strerror(errno) : "file shrank");
			free(*buf);
			*buf = NULL;
			goto err;
		}
		off += (size_t)n;
	}
	if (own)
		close(fd);
	return 0;
err:
	if (own)
		close(fd);
	return -1;
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return fail("socket path '%s' is too long", path), -1;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fail("cannot connect to vhost-user backend '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Turn socket paths into fds first, while ward-hv can still see the
 * filesystem; everything after works on fds only. */
static int connect_devices(struct opts *o)
{
	for (int i = 0; i < o->ndev; i++) {
		struct device_arg *d = &o->dev[i];

		if (d->path && (d->fd = connect_unix(d->path)) < 0)
			return -1;
	}
	return 0;
}

static int add_devices(struct vm *vm, struct opts *o)
{
	char err[256];

	if (pci_init(vm) < 0)
		return fail("cannot set up the PCI host bridge"), -1;
	for (int i = 0; i < o->ndev; i++) {
		struct device_arg *d = &o->dev[i];
		int rc = d->kind == 'b' ? virtio_blk_add(vm, d->fd, err, sizeof(err))
					: virtio_net_add(vm, d->fd, err, sizeof(err));

		if (rc < 0)
			return fail("%s device %d: %s", d->kind == 'b' ? "blk" : "net", i, err), -1;
	}
	return 0;
}

/* Close every inherited fd but stdio and the ones named on the command
 * line: a leaked fd from the parent is a way out of the sandbox. */
static void close_inherited_fds(const struct opts *o)
{
	int keep[MAX_DEVICES + 2], n = 0, lo = 3;

	if (o->kernel_fd >= 0)
		keep[n++] = o->kernel_fd;
	if (o->initrd_fd >= 0)
		keep[n++] = o->initrd_fd;
	for (int i = 0; i < o->ndev; i++)
		if (o->dev[i].fd >= 0)
			keep[n++] = o->dev[i].fd;
	for (int i = 1; i < n; i++) /* insertion sort: at most 10 fds */
		for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (int i = 0; i < n; i++) {
		if (keep[i] > lo)
			close_range((unsigned)lo, (unsigned)keep[i] - 1, 0);
		if (keep[i] >= lo)
			lo = keep[i] + 1;
	}
	close_range((unsigned)lo, ~0U, 0);
}

/* Phase clock stamps, on with WARD_HV_TIMING=1 (docs/benchmarks.md): one
 * stderr line at exit says where start-up and teardown time went, so the
 * distance to the floor VMM (bench/hv/floor.c) can be attributed. What is
 * not in any phase (exec, dynamic linking) is the process's wall time
 * minus their sum. */
enum phase { PH_MAIN, PH_IMAGES, PH_CONNECT, PH_VM, PH_ISOLATE, PH_DEVICES, PH_LOAD,
	     PH_VCPUS, PH_LOCK, PH_RUN, PH_STOP, PH_TEARDOWN, PH_N };
static const char *const phase_names[PH_N] = {
	"main", "images", "connect", "vm+memory", "isolate", "devices", "load",
	"vcpus", "seccomp", "guest", "stop", "teardown",
};
static struct timespec phase_t[PH_N];
static bool phase_on;

static void phase(enum phase p)
{
	if (phase_on)
		clock_gettime(CLOCK_MONOTONIC, &phase_t[p]);
}

static void phase_report(void)
{
	char line[512];
	size_t off = 0;
	double total = 0;

	if (!phase_on)
		return;
	off += (size_t)snprintf(line, sizeof(line), "ward-hv: phases (ms):");
	for (int i = 1; i < PH_N && off < sizeof(line); i++) {
		const struct timespec *a = &phase_t[i - 1], *b = &phase_t[i];
		double ms;

		if (!a->tv_sec || !b->tv_sec)	/* a phase an error skipped */
			continue;
		ms = (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
		total += ms;
		off += (size_t)snprintf(line + off, sizeof(line) - off, " %s=%.3f",
					phase_names[i], ms);
	}
	if (off < sizeof(line))
		snprintf(line + off, sizeof(line) - off, " total=%.3f\n", total);
	fputs(line, stderr);
}

/* Wait until a vCPU or device stops the VM, or we get SIGTERM/SIGINT. */
static void wait_for_stop(struct vm *vm, int sigfd)
{
	struct pollfd pfd[2] = {
		{ .fd = vm->stop_efd, .events = POLLIN },
		{ .fd = sigfd, .events = POLLIN },
	};

	while (!atomic_load(&vm->stopping)) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
			fprintf(stderr, "ward-hv: waiting for the VM failed: %s\n", strerror(errno));
			vm_stop(vm, HV_EXIT_CRASH);
			break;
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
				log_info("stopping on signal", "signo=%u", si.ssi_signo);
				vm_stop(vm, 128 + (int)si.ssi_signo);
			}
		}
	}
}

int main(int argc, char **argv)
{
	static struct vm vm;
	struct opts o;
	struct boot_image img = { 0 };
	struct boot_entry entry;
	uint8_t *kernel = NULL, *initrd = NULL;
	char err[256];
	sigset_t sigs;
	int sigfd, status = HV_EXIT_SETUP;

	phase_on = getenv("WARD_HV_TIMING") && !strcmp(getenv("WARD_HV_TIMING"), "1");
	phase(PH_MAIN);
	log_init("hv", LOG_WARN);
	if (parse_opts(argc, argv, &o) || check_memory(o.memory_mib))
		return HV_EXIT_SETUP;
	close_inherited_fds(&o);
	if (read_image(o.kernel, o.kernel_fd, "kernel", &kernel, &img.kernel_len))
		return HV_EXIT_SETUP;
	if ((o.initrd || o.initrd_fd >= 0) &&
	    read_image(o.initrd, o.initrd_fd, "initrd", &initrd, &img.initrd_len))
		goto out_free;
	phase(PH_IMAGES);
	if (connect_devices(&o))
		goto out_free;
	phase(PH_CONNECT);
	img.kernel = kernel;
	img.initrd = initrd;
	img.cmdline = o.cmdline;

	/* Signals: SIGTERM/SIGINT arrive on a signalfd; the vCPU kick signal is
	 * blocked everywhere except inside the vCPU threads. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sigdelset(&sigs, SIGUSR1);
	sigdelset(&sigs, SIGPIPE);
	sigfd = signalfd(-1, &sigs, SFD_CLOEXEC);

	vm.serial_out_fd = STDOUT_FILENO;
	vm.sandbox = &o.sandbox;
	if (vm_create(&vm, o.memory_mib << 20, o.huge_page, err, sizeof(err))) {
		fail("%s", err);
		goto out_free;
	}
	phase(PH_VM);
	/* Before any thread exists, so every thread carries the cookie. */
	if (o.burstable && cpupart_harden_self(err, sizeof(err)))
		fprintf(stderr, "ward-hv: burstable instance: %s(this host lacks these "
			"protections; see docs/threat-model.md)\n", err);
	/* Everything ward-hv will ever need from the host is open now. */
	if (sandbox_isolate(&o.sandbox, "ward-hv", err, sizeof(err))) {
		fail("%s", err);
		goto out_vm;
	}
	phase(PH_ISOLATE);
	if (platform_devices_init(&vm) || add_devices(&vm, &o))
		goto out_devices;
	phase(PH_DEVICES);
	if (boot_load(&vm.mem, &img, o.vcpus, &entry, err, sizeof(err))) {
		fail("%s", err);
		goto out_devices;
	}
	phase(PH_LOAD);
	/* The images are in guest memory now; nothing else needs them. */
	free(kernel);
	free(initrd);
	kernel = initrd = NULL;
	if (vcpus_create(&vm, o.vcpus, o.ncpus ? o.cpus : NULL, err, sizeof(err)) ||
	    boot_setup_vcpu(vm.vcpus[0].fd, &entry, &vm.mem, err, sizeof(err)) ||
	    vcpus_start(&vm, err, sizeof(err)) ||
	    (phase(PH_VCPUS), 0) ||	/* a stamp between the two; never fails */
	    hv_sandbox_lock(&o.sandbox, err, sizeof(err))) {
		fail("%s", err);
		vm_stop(&vm, HV_EXIT_SETUP);
		vcpus_stop(&vm);
		goto out_vcpus;
	}
	hv_sandbox_test_forbidden("vmm");
	phase(PH_LOCK);
	vcpus_go(&vm);
	wait_for_stop(&vm, sigfd);
	phase(PH_RUN);
	vcpus_stop(&vm);
	phase(PH_STOP);
	status = vm.exit_status;
out_vcpus:
	vcpus_destroy(&vm);
out_devices:
	virtio_devices_destroy(&vm);
out_vm:
	serial_flush();
	vm_destroy(&vm);
	phase(PH_TEARDOWN);
	phase_report();
out_free:
	free(kernel);
	free(initrd);
	return status;
}
