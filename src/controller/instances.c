/* instances: ward-hv processes of this host. Launch wires only inherited
 * fds (guest image as --kernel-fd; card sockets once volumes attach), no
 * filesystem sockets; the guest console (ward-hv's stdout) is a pipe,
 * non-blocking on both ends, drained into a per-instance ring in secure
 * memory that only the control plane's console route reads. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "controller/instances.h"
#include "controller/launcher.h"
#include "controller/statefile.h"
#include "fileio.h"
#include "hugepool.h"
#include "errmsg.h"
#include "log.h"

#define STOP_GRACE_MS 5000
#define KILL_WAIT_MS 5000

struct instances {
	struct inst_cfg cfg;
	char dir[PATH_MAX - 512];
	struct event_base *base;
	inst_event_fn cb;
	void *opaque;
	struct instance *head;
	int next_owner;		/* cpu allocation keys, one per instance */
	uint64_t ram_mib;	/* the host's RAM, read at start (0: unknown) */
};

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* Field 22 (starttime) and field 3 (state) of /proc/PID/stat. The comm
 * field may contain spaces and parentheses: parse after the last ')'. */
int inst_proc_stat(pid_t pid, uint64_t *start, char *state)
{
	char path[64], buf[1024], *p;
	unsigned long long st;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EIO;
	p += 2;
	*state = *p;
	for (i = 3; i < 22; i++) {
		p = strchr(p, ' ');
		if (!p)
			return -EIO;
		p++;
	}
	if (sscanf(p, "%llu", &st) != 1)
		return -EIO;
	*start = st;
	return 0;
}

const char *inst_state_name(enum inst_state st)
{
	return st == INST_RUNNING ? "running" : "exited";
}

const char *inst_cpu_mode(const struct instance *in)
{
	return in->cpu_fixed ? "fixed" : "burstable";
}

json_t *inst_cpus_json(const struct instance *in)
{
	json_t *a = json_array();
	unsigned i;

	for (i = 0; a && i < in->ncpus; i++)
		json_array_append_new(a, json_integer(in->cpus[i]));
	return a;
}

/* A fixed instance's cores go back to the free set once: the flag keeps a
 * second release (exit, then forget) from touching a later holder. */
static void release_cores(struct instances *s, struct instance *in)
{
	if (!in->cores_held || !s->cfg.cpu)
		return;
	cpupart_release(s->cfg.cpu, in->cpu_owner);
	in->cores_held = false;
}

/* ---- the serial console (docs/observability.md "Serial console") ---- */

/* Stop reading; the ring keeps what it has until the instance ends. */
static void con_close(struct instance *in)
{
	if (in->con_ev) {
		event_free(in->con_ev);
		in->con_ev = NULL;
	}
	if (in->con_fd >= 0) {
		close(in->con_fd);
		in->con_fd = -1;
	}
}

/* The instance ended: its console is the customer's data, wiped now. */
static void con_end(struct instance *in)
{
	con_close(in);
	conring_free(&in->con);
}

/* Drain what ward-hv wrote. A few reads per wake-up, so a chatty guest
 * cannot hold the loop: the event is level-triggered and what is left
 * wakes it again. ward-hv's end is non-blocking too, so a full pipe makes
 * it drop console bytes, never stall a vCPU. */
static void on_console(evutil_socket_t fd, short what, void *arg)
{
	struct instance *in = arg;
	long n = 0;

	(void)fd;
	(void)what;
	for (int i = 0; i < 16 && (n = conring_fill(&in->con, in->con_fd)) > 0; i++)
		;
	/* EOF: ward-hv closed its stdout or is gone (its exit is handled
	 * through the pidfd). */
	if (n == 0 || (n < 0 && n != -EAGAIN))
		con_close(in);
}

/* Take fd (a pipe's read end) as the instance's console; closes it on
 * failure. */
static int con_watch(struct instances *s, struct instance *in, int fd)
{
	struct stat sb;
	int rc;

	if (fstat(fd, &sb) || !S_ISFIFO(sb.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if ((rc = conring_init(&in->con, INST_CONSOLE_RING))) {
		close(fd);
		return rc;
	}
	in->con_fd = fd;
	in->con_ino = (uint64_t)sb.st_ino;
	in->con_ev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_console, in);
	if (!in->con_ev || event_add(in->con_ev, NULL)) {
		con_end(in);
		return -ENOMEM;
	}
	return 0;
}

/* A restarted controller re-opens a running instance's console: the pipe
 * is ward-hv's fd 1, and opening /proc/PID/fd/1 for reading gives a new
 * read end of the same pipe (FIFO semantics). Only the recorded pipe is
 * taken (its inode), never whatever else fd 1 might be. Before the
 * lockdown, like the cards' pidfd_getfd. The ring starts empty: the old
 * one was the dead controller's memory. */
static void con_adopt(struct instances *s, struct instance *in, uint64_t ino)
{
	char path[64];
	struct stat sb;
	int fd, rc;

	snprintf(path, sizeof(path), "/proc/%d/fd/1", (int)in->pid);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) || !S_ISFIFO(sb.st_mode) || (uint64_t)sb.st_ino != ino) {
		log_warn("instance console not re-opened: it runs without one", "id=%s error=%s",
			 in->id, fd < 0 ? errname(errno) : "not its console pipe");
		if (fd >= 0)
			close(fd);
		return;
	}
	if ((rc = con_watch(s, in, fd)))
		log_warn("instance console not re-opened: it runs without one", "id=%s error=%s",
			 in->id, errname(-rc));
}

int inst_console_read(const struct instance *in, uint64_t from, void *out, size_t len,
		      size_t *got, uint64_t *start, uint64_t *end)
{
	*got = 0;
	*start = *end = 0;
	if (in->state != INST_RUNNING)
		return -ESRCH;
	if (!in->con.buf)
		return -ENODATA;
	*end = in->con.written;
	if (from > *end)
		return -ERANGE;
	*got = conring_read(&in->con, from, out, len, start);
	return 0;
}

static int save(struct instances *s, const struct instance *in)
{
	json_t *o;
	int rc;

	/* The mode and CPUs are recorded so a restarted controller takes a
	 * running fixed instance's cores again (load_one). */
	o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:s, s:s, s:o, s:s}",
		      "id", in->id, "image", in->image, "memory_mib", (json_int_t)in->memory_mib,
		      "vcpus", (json_int_t)in->vcpus, "pid", (json_int_t)in->pid,
		      "start_time", (json_int_t)in->start_time, "uid", (json_int_t)in->uid,
		      "state", inst_state_name(in->state), "exit_code", (json_int_t)in->exit_code,
		      "created", in->created, "cpu", inst_cpu_mode(in), "cpus", inst_cpus_json(in),
		      "hugepages", in->hugepages);
	if (o && in->con_ino &&
	    json_object_set_new(o, "console_ino", json_integer((json_int_t)in->con_ino))) {
		json_decref(o);
		o = NULL;
	}
	if (o && in->n_volumes) {
		json_t *a = json_array();

		for (unsigned i = 0; a && i < in->n_volumes; i++)
			json_array_append_new(a, json_string(in->volumes[i]));
		if (!a || json_object_set_new(o, "volumes", a)) {
			json_decref(o);
			o = NULL;
		}
	}
	if (o && in->client_token[0] &&
	    (json_object_set_new(o, "client_token", json_string(in->client_token)) ||
	     json_object_set_new(o, "launch_fp", json_string(in->launch_fp)))) {
		json_decref(o);
		o = NULL;
	}
	rc = o ? statefile_write_json(s->dir, in->id, o) : -ENOMEM;
	json_decref(o);
	if (rc)
		log_error("cannot record instance state", "id=%s errno=%s", in->id, errname(-rc));
	return rc;
}

static void forget(struct instances *s, struct instance *in)
{
	struct instance **pp;
	char path[PATH_MAX];

	for (pp = &s->head; *pp; pp = &(*pp)->next)
		if (*pp == in) {
			*pp = in->next;
			break;
		}
	snprintf(path, sizeof(path), "%s/%s.json", s->dir, in->id);
	unlink(path);
	release_cores(s, in);
	con_end(in);
	if (in->ev)
		event_free(in->ev);
	if (in->pidfd >= 0)
		close(in->pidfd);
	free(in);
}

static int wait_status(struct instance *in)
{
	int st;

	if (!in->child || waitpid(in->pid, &st, WNOHANG) != in->pid)
		return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

static void mark_exited(struct instances *s, struct instance *in, int code)
{
	in->state = INST_EXITED;
	in->exit_code = code;
	release_cores(s, in);
	con_end(in);
	if (in->ev) {
		event_free(in->ev);
		in->ev = NULL;
	}
	if (in->pidfd >= 0) {
		close(in->pidfd);
		in->pidfd = -1;
	}
	save(s, in);
}

static void on_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct instance *in = arg;
	struct instances *s = *(struct instances **)(in + 1);

	mark_exited(s, in, wait_status(in));
	log_info("instance exited", "id=%s code=%d", in->id, in->exit_code);
	if (s->cb)
		s->cb(s->opaque, in, "exit");
}

static struct instance *inst_new(struct instances *s)
{
	/* Back pointer to the set stored after the struct, for the callback. */
	struct instance *in = calloc(1, sizeof(*in) + sizeof(struct instances *));

	if (!in)
		return NULL;
	*(struct instances **)(in + 1) = s;
	in->cpu_owner = s->next_owner++;
	in->pidfd = -1;
	in->con_fd = -1;
	in->exit_code = -1;
	return in;
}

static int watch(struct instances *s, struct instance *in)
{
	in->ev = event_new(s->base, in->pidfd, EV_READ, on_exit_cb, in);
	if (!in->ev || event_add(in->ev, NULL))
		return -ENOMEM;
	return 0;
}

int inst_init(struct instances **out, const struct inst_cfg *cfg, struct event_base *base,
	      inst_event_fn cb, void *opaque)
{
	struct instances *s = calloc(1, sizeof(*s));
	struct sysinfo si;

	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	if (!s->cfg.max_instances)
		s->cfg.max_instances = INST_MAX;
	s->base = base;
	s->cb = cb;
	s->opaque = opaque;
	/* Read now: sysinfo is not on the allowlist once the controller is
	 * locked down (check_memory). */
	if (sysinfo(&si) == 0)
		s->ram_mib = (uint64_t)si.totalram * si.mem_unit >> 20;
	snprintf(s->dir, sizeof(s->dir), "%s/instances", cfg->state_dir);
	if (mkdir(s->dir, 0700) && errno != EEXIST) {
		free(s);
		return -errno;
	}
	*out = s;
	return 0;
}

static int load_one(struct instances *s, const char *name)
{
	char path[PATH_MAX + 512], st = 0;
	json_t *o;
	json_int_t pid = 0, start = 0, mem = 0, vcpus = 0, uid = 0, code = -1, con_ino = 0;
	const char *id, *image, *state, *created, *mode = "burstable", *huge = "";
	const char *token = "", *fp = "";
	json_t *cpus = NULL, *vols = NULL;
	struct instance *in;
	uint64_t now_start;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	if ((rc = statefile_read_json(path, &o))) {
		log_error("ignoring unreadable instance record", "file=%s error=\"%s\"", name,
			  fileio_strerror(rc));
		return rc;
	}
	if (json_unpack(o, "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:s}", "id", &id,
			      "image", &image, "memory_mib", &mem, "vcpus", &vcpus, "pid", &pid,
			      "start_time", &start, "uid", &uid, "state", &state, "exit_code", &code,
			      "created", &created) ||
	    json_unpack(o, "{s?s, s?o, s?s, s?o, s?I, s?s, s?s}", "cpu", &mode, "cpus", &cpus,
			"hugepages", &huge, "volumes", &vols, "console_ino", &con_ino,
			"client_token", &token, "launch_fp", &fp) ||
	    (token[0] && (!req_valid_name(token, REQ_TOKEN_MAX) || strlen(fp) != 64)) ||
	    (huge[0] && !hugepage_parse(huge)) ||
	    (vols && (!json_is_array(vols) || json_array_size(vols) > VOL_MAX)) ||
	    (cpus && (!json_is_array(cpus) || json_array_size(cpus) > INST_MAX_VCPUS)) ||
	    strlen(id) != INST_ID_LEN || !req_valid_name(image, REQ_NAME_MAX) || pid <= 0) {
		log_error("ignoring unreadable instance record", "file=%s", name);
		json_decref(o);
		return -EINVAL;
	}
	if (!(in = inst_new(s))) {
		json_decref(o);
		return -ENOMEM;
	}
	snprintf(in->id, sizeof(in->id), "%s", id);
	snprintf(in->image, sizeof(in->image), "%s", image);
	snprintf(in->created, sizeof(in->created), "%s", created);
	in->memory_mib = (uint32_t)mem;
	in->vcpus = (uint32_t)vcpus;
	in->pid = (pid_t)pid;
	in->start_time = (uint64_t)start;
	in->uid = (uid_t)uid;
	in->exit_code = (int)code;
	in->state = strcmp(state, "running") ? INST_EXITED : INST_RUNNING;
	in->cpu_fixed = !strcmp(mode, "fixed");
	snprintf(in->hugepages, sizeof(in->hugepages), "%s", huge);
	snprintf(in->client_token, sizeof(in->client_token), "%s", token);
	snprintf(in->launch_fp, sizeof(in->launch_fp), "%s", token[0] ? fp : "");
	for (size_t i = 0; cpus && i < json_array_size(cpus); i++)
		in->cpus[in->ncpus++] = (int)json_integer_value(json_array_get(cpus, i));
	for (size_t i = 0; vols && i < json_array_size(vols); i++) {
		const char *vid = json_string_value(json_array_get(vols, i));

		if (vid && strlen(vid) <= VOL_ID_MAX)
			snprintf(in->volumes[in->n_volumes++], sizeof(in->volumes[0]), "%s", vid);
	}
	json_decref(o);
	in->next = s->head;
	s->head = in;
	if (in->state != INST_RUNNING)
		return 0;
	/* pidfd first, then the start time: if it matches, the pidfd is this
	 * very process and not a later one that reused the pid. */
	in->pidfd = pidfd_open_(in->pid);
	if (in->pidfd >= 0 && !inst_proc_stat(in->pid, &now_start, &st) && now_start == in->start_time &&
	    st != 'Z' && st != 'X') {
		char cerr[128];

		/* Its cores are still its own: take them again before any
		 * new instance could be given them. */
		if (in->cpu_fixed && s->cfg.cpu && in->ncpus) {
			if (cpupart_claim_fixed(s->cfg.cpu, in->cpu_owner, in->cpus, (int)in->ncpus,
						cerr, sizeof(cerr)))
				log_warn("re-adopted instance's cores are not in this partition",
					 "id=%s error=\"%s\"", in->id, cerr);
			else
				in->cores_held = true;
		}
		if ((rc = watch(s, in)))
			return rc;
		if (con_ino > 0)
			con_adopt(s, in, (uint64_t)con_ino);
		log_info("instance re-adopted", "id=%s pid=%d", in->id, (int)in->pid);
		if (s->cb)
			s->cb(s->opaque, in, "adopt");
		return 0;
	}
	mark_exited(s, in, -1);
	log_warn("instance gone while the controller was away", "id=%s pid=%d", in->id,
		 (int)in->pid);
	if (s->cb)
		s->cb(s->opaque, in, "lost");
	return 0;
}

int inst_adopt(struct instances *s)
{
	struct dirent *d;
	DIR *dir = opendir(s->dir);
	int n = 0;

	if (!dir)
		return -errno;
	fileio_sweep(s->dir);	/* records a killed controller was replacing */
	while ((d = readdir(dir))) {
		size_t l = strlen(d->d_name);

		if (d->d_name[0] == '.' || l < 6 || strcmp(d->d_name + l - 5, ".json"))
			continue;
		if (!load_one(s, d->d_name))
			n++;
	}
	closedir(dir);
	return n;
}

void inst_destroy(struct instances *s)
{
	struct instance *in, *next;

	if (!s)
		return;
	for (in = s->head; in; in = next) {
		next = in->next;
		con_end(in);
		if (in->ev)
			event_free(in->ev);
		if (in->pidfd >= 0)
			close(in->pidfd);
		free(in);
	}
	free(s);
}

static void make_id(char out[INST_ID_LEN + 1])
{
	uint8_t b[16];

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		abort();	/* the kernel always has entropy after boot */
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, INST_ID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

unsigned inst_running(struct instances *s)
{
	struct instance *in;
	unsigned n = 0;

	for (in = s->head; in; in = in->next)
		n += in->state == INST_RUNNING;
	return n;
}

/* Each running instance gets a uid of its own. */
static int pick_uid(struct instances *s, uid_t *uid)
{
	struct instance *in;
	unsigned k;

	for (k = 0; k < s->cfg.max_instances; k++) {
		for (in = s->head; in; in = in->next)
			if (in->state == INST_RUNNING && in->uid == s->cfg.uid_base + k)
				break;
		if (!in) {
			*uid = s->cfg.uid_base + k;
			return 0;
		}
	}
	return -EBUSY;
}

static void now_text(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Host CPUs for each vCPU. Fixed: whole cores of its own, or -ENOSPC with
 * the reason (never approximated). Burstable: the pool's CPUs in CPU-number
 * order round-robin, vCPU i on pool[i % n] (Linux numbers first threads
 * before siblings, so vCPUs spread over cores first); instances share the
 * pool and ward-hv asks for a core-scheduling cookie (--sched burstable). */
static int place_cpus(struct instances *s, const struct run_req *req, struct instance *in,
		      char *err, size_t errlen)
{
	int pool[CPUPART_MAX_CPUS], n, rc;
	unsigned i;

	in->cpu_fixed = req->cpu_fixed;
	if (!s->cfg.cpu) {
		if (!req->cpu_fixed)
			return 0;
		snprintf(err, errlen, "this host has no CPU partition (one core): fixed-performance "
			 "instances cannot be placed");
		return -ENOSPC;
	}
	if (req->vcpus > INST_MAX_VCPUS) {
		snprintf(err, errlen, "at most %d vCPUs", INST_MAX_VCPUS);
		return -EINVAL;
	}
	if (req->cpu_fixed) {
		rc = cpupart_alloc_fixed(s->cfg.cpu, in->cpu_owner, (int)req->vcpus, in->cpus, err,
					 errlen);
		if (rc)
			return -ENOSPC;
		in->cores_held = true;
		in->ncpus = req->vcpus;
		return 0;
	}
	n = cpupart_burst_cpus(s->cfg.cpu, pool, CPUPART_MAX_CPUS);
	if (n <= 0) {
		snprintf(err, errlen, "this host has no burstable pool (--burst-cores 0): ask for "
			 "\"cpu\": \"fixed\"");
		return -ENOSPC;
	}
	qsort(pool, (size_t)n, sizeof(pool[0]), cmp_int);
	for (i = 0; i < req->vcpus; i++)
		in->cpus[i] = pool[i % (unsigned)n];
	in->ncpus = req->vcpus;
	return 0;
}

int inst_run(struct instances *s, const struct run_req *req, struct instance **out,
	     char *err, size_t errlen)
{
	return inst_run_fds(s, req, NULL, 0, out, err, errlen);
}

/* A hugepage instance needs its whole memory free in the pool now; ward-hv
 * reserves it at start and refuses too, but a launch that cannot start
 * should be answered, not turned into an instance that exits at once. Two
 * launches racing for the last pages: the loser's ward-hv exits 125. */
static int check_hugepages(const struct run_req *req, char *err, size_t errlen)
{
	uint64_t page = req->hugepages[0] ? hugepage_parse(req->hugepages) : 0;
	long total, avail;
	long need;

	if (!page)
		return 0;
	need = (long)(((uint64_t)req->memory_mib << 20) / page);
	if (hugepool_read(page, &total, &avail)) {
		snprintf(err, errlen, "this host has no %s hugepage pool", hugepage_name(page));
		return -ENOBUFS;
	}
	if (avail < need) {
		snprintf(err, errlen, "%u MiB on %s hugepages needs %ld free pages, the host pool "
			 "has %ld of %ld", req->memory_mib, hugepage_name(page), need, avail, total);
		return -ENOBUFS;
	}
	return 0;
}

/* Guest RAM is populated only as the guest touches it (docs/hv.md), so
 * the kernel no longer refuses an overcommitted VM at start: the host
 * would meet the OOM killer at some guest's first touch instead. So the
 * controller never gives instances more than the host's RAM less a share
 * kept for the host itself (the cards, the controller, the kernel): an
 * eighth of it, at least 1 GiB. */
static int check_memory(struct instances *s, const struct run_req *req, char *err,
			size_t errlen)
{
	uint64_t total = s->ram_mib, keep, given = 0;
	struct instance *in;

	if (!total)
		return 0;	/* cannot tell: ward-hv's own check remains */
	keep = total / 8 > 1024 ? total / 8 : 1024;
	for (in = s->head; in; in = in->next)
		if (in->state == INST_RUNNING)
			given += in->memory_mib;
	if (given + req->memory_mib + keep > total) {
		snprintf(err, errlen, "host is full: %u MiB asked, %llu of %llu MiB already given "
			 "to instances and %llu kept for the host", req->memory_mib,
			 (unsigned long long)given, (unsigned long long)total,
			 (unsigned long long)keep);
		return -EBUSY;
	}
	return 0;
}

/* Everything that can refuse a launch, with no side effect a refusal
 * would have to undo beyond inst_plan_drop: the caller fetches volume keys
 * only after this has passed (issue 16 §5: no KMS Decrypt, no TPM unseal
 * for a request that names a wrong image or asks for CPUs or hugepages
 * the host cannot give). The plan holds the uid, the placed CPUs (fixed
 * cores taken) and the image fd. */
int inst_prepare(struct instances *s, const struct run_req *req, struct inst_plan *p,
		 char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct instance *in;
	struct stat sb;
	uid_t uid;
	int kfd, rc;

	p->in = NULL;
	p->kfd = -1;
	p->net_fd = -1;
	if (s->cfg.hv_fd < 0 && !s->cfg.hv_path) {
		snprintf(err, errlen, "no verified ward-hv image is available");
		return -ENOEXEC;
	}
	if (inst_running(s) >= s->cfg.max_instances || pick_uid(s, &uid)) {
		snprintf(err, errlen, "host is full (%u instances)", s->cfg.max_instances);
		return -EBUSY;
	}
	if ((rc = check_memory(s, req, err, errlen)) || (rc = check_hugepages(req, err, errlen)))
		return rc;
	/* A guest image the boot chain verified (sealed memfd; ward-hv reads
	 * it with pread, so a shared offset does not matter), else a file. */
	kfd = -1;
	if (s->cfg.fw && fw_images_guest(s->cfg.fw, req->image) >= 0) {
		kfd = fcntl(fw_images_guest(s->cfg.fw, req->image), F_DUPFD_CLOEXEC, 3);
	} else if (s->cfg.images_dir) {
		snprintf(path, sizeof(path), "%s/%s.elf", s->cfg.images_dir, req->image);
		/* fileio_open: a FIFO here would block the event loop. */
		kfd = fileio_open(path, O_RDONLY, 0, 0);
	}
	if (kfd < 0 || fstat(kfd, &sb) || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "no guest image \"%s\"", req->image);
		if (kfd >= 0)
			close(kfd);
		return -ENOENT;
	}
	if (!(in = inst_new(s))) {
		close(kfd);
		return -ENOMEM;
	}
	if ((rc = place_cpus(s, req, in, err, errlen))) {
		close(kfd);
		free(in);
		return rc;
	}
	make_id(in->id);
	snprintf(in->image, sizeof(in->image), "%s", req->image);
	in->memory_mib = req->memory_mib;
	in->vcpus = req->vcpus;
	snprintf(in->hugepages, sizeof(in->hugepages), "%s", req->hugepages);
	if (req->client_token[0] && inst_launch_fp(req, in->launch_fp)) {
		release_cores(s, in);
		close(kfd);
		free(in);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(in->client_token, sizeof(in->client_token), "%s", req->client_token);
	in->uid = uid;
	in->child = true;
	for (unsigned i = 0; i < req->n_volumes && i < VOL_MAX; i++)
		snprintf(in->volumes[in->n_volumes++], sizeof(in->volumes[0]), "%s",
			 req->volumes[i].volume_id);
	p->in = in;
	p->kfd = kfd;
	return 0;
}

void inst_plan_drop(struct instances *s, struct inst_plan *p)
{
	if (p->kfd >= 0)
		close(p->kfd);
	if (p->in) {
		release_cores(s, p->in);
		free(p->in);
	}
	p->in = NULL;
	p->kfd = -1;
}

/* Start the planned instance; the plan is used up whatever the outcome. */
int inst_launch(struct instances *s, struct inst_plan *p, const struct run_req *req,
		const int *blk_fds, unsigned n_blk, struct instance **out, char *err,
		size_t errlen)
{
	char mem[16], vcpus[16], uidb[16], st, blkfd[VOL_MAX][12], netfd[12];
	char cpulist[INST_MAX_VCPUS * 6];
	char *argv[22 + 2 * VOL_MAX];
	char envcmd[sizeof(HV_CMDLINE_ENV) + REQ_CMDLINE_MAX + 1];
	char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL, NULL };
	cpu_set_t cpuset;
	unsigned i, na = 0;
	struct instance *in = p->in;
	uid_t uid = in->uid;
	pid_t pid;
	int kfd = p->kfd, rc, go[2], con[2], hv_fds[2 + VOL_MAX];
	unsigned n_fds;
	struct launch_req lr;

	p->in = NULL;
	p->kfd = -1;
	now_text(in->created, sizeof(in->created));
	snprintf(mem, sizeof(mem), "%u", req->memory_mib);
	snprintf(vcpus, sizeof(vcpus), "%u", req->vcpus);
	snprintf(uidb, sizeof(uidb), "%u", (unsigned)uid);
	char *const base[] = { "ward-hv", "--kernel-fd", "3", "--memory", mem, "--vcpus", vcpus,
			       "--uid", uidb, "--gid", uidb };

	if (n_blk > VOL_MAX)
		n_blk = VOL_MAX;
	for (i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		argv[na++] = base[i];
	CPU_ZERO(&cpuset);
	cpulist[0] = 0;
	for (i = 0; i < in->ncpus; i++) {
		snprintf(cpulist + strlen(cpulist), sizeof(cpulist) - strlen(cpulist), "%s%d",
			 i ? "," : "", in->cpus[i]);
		if (in->cpus[i] < CPU_SETSIZE)
			CPU_SET(in->cpus[i], &cpuset);
	}
	if (in->hugepages[0]) {
		argv[na++] = "--hugepages";
		argv[na++] = in->hugepages;
	}
	/* The guest's command line is the customer's: in the environment,
	 * which only root can read, never in the world-readable argv. */
	if (req->cmdline[0]) {
		snprintf(envcmd, sizeof(envcmd), HV_CMDLINE_ENV "=%s", req->cmdline);
		envp[1] = envcmd;
		argv[na++] = "--cmdline-env";
	}
	if (in->ncpus) {
		argv[na++] = "--cpus";
		argv[na++] = cpulist;
		argv[na++] = "--sched";
		argv[na++] = in->cpu_fixed ? "fixed" : "burstable";
	}
	for (i = 0; i < n_blk; i++) {
		snprintf(blkfd[i], sizeof(blkfd[i]), "%u", 4 + i);
		argv[na++] = "--blk-fd";
		argv[na++] = blkfd[i];
	}
	/* The ENI's vhost-user socket, after the volumes' (netcard.c). */
	if (p->net_fd >= 0) {
		snprintf(netfd, sizeof(netfd), "%u", 4 + n_blk);
		argv[na++] = "--net-fd";
		argv[na++] = netfd;
	}
	argv[na] = NULL;

	/* The console pipe is non-blocking on both ends: ward-hv drops what
	 * does not fit rather than stall on a slow reader. */
	if (pipe2(go, O_CLOEXEC)) {
		rc = -errno;
		close(kfd);
		release_cores(s, in);
		free(in);
		snprintf(err, errlen, "cannot start ward-hv: %s", strerror(-rc));
		return rc;
	}
	if (pipe2(con, O_CLOEXEC | O_NONBLOCK)) {
		rc = -errno;
		close(kfd);
		close(go[0]);
		close(go[1]);
		release_cores(s, in);
		free(in);
		snprintf(err, errlen, "cannot start ward-hv: %s", strerror(-rc));
		return rc;
	}
	/* The launcher starts it (the controller itself may not): image as
	 * fd 3, card sockets from 4, console (stdout) the pipe's write end. */
	hv_fds[0] = kfd;
	for (i = 0; i < n_blk; i++)
		hv_fds[1 + i] = blk_fds[i];
	n_fds = 1 + n_blk;
	if (p->net_fd >= 0)
		hv_fds[n_fds++] = p->net_fd;
	lr = (struct launch_req){ .image = LAUNCH_HV, .argv = argv, .envp = envp, .fds = hv_fds,
				  .n_fds = n_fds, .null_stdout = true, .stdout_fd = con[1],
				  .cpus = in->ncpus ? &cpuset : NULL, .go_fd = go[0] };
	pid = launcher_spawn(&lr, err, errlen);
	close(con[1]);
	if (pid < 0) {
		rc = pid;
		close(kfd);
		close(go[0]);
		close(go[1]);
		close(con[0]);
		release_cores(s, in);
		free(in);
		return rc;
	}
	close(kfd);
	close(go[0]);
	in->pid = pid;
	/* Not yet exec'd: it waits on the go pipe, so closing that (EOF)
	 * makes it exit without starting anything. No kill(2): the
	 * controller signals only through pidfds (docs/threat-model.md). */
	in->pidfd = pidfd_open_(pid);
	if (in->pidfd < 0 || inst_proc_stat(pid, &in->start_time, &st)) {
		rc = -EIO;
		snprintf(err, errlen, "cannot watch ward-hv (pid %d)", (int)pid);
		close(go[1]);
		close(con[0]);
		waitpid(pid, NULL, 0);
		if (in->pidfd >= 0)
			close(in->pidfd);
		release_cores(s, in);
		free(in);
		return rc;
	}
	/* A console that cannot be kept (no secure memory left) costs the
	 * instance its console, not its launch. */
	if ((rc = con_watch(s, in, con[0])))
		log_warn("instance runs without a console", "id=%s error=%s", in->id,
			 errname(-rc));
	in->state = INST_RUNNING;
	in->next = s->head;
	s->head = in;
	if ((rc = watch(s, in)) || (rc = save(s, in))) {
		snprintf(err, errlen, "cannot record the instance");
		close(go[1]);	/* EOF: the child exits without starting the VM */
		waitpid(pid, NULL, 0);
		forget(s, in);
		return rc;
	}
	if (write(go[1], "g", 1) != 1) {
		rc = -EIO;
		snprintf(err, errlen, "cannot start ward-hv");
		close(go[1]);
		pidfd_signal(in->pidfd, SIGKILL);
		waitpid(pid, NULL, 0);
		forget(s, in);
		return rc;
	}
	close(go[1]);
	log_info("instance launched", "id=%s pid=%d image=%s uid=%u", in->id, (int)pid, in->image,
		 (unsigned)uid);
	if (s->cb)
		s->cb(s->opaque, in, "launch");
	*out = in;
	return 0;
}

int inst_run_fds(struct instances *s, const struct run_req *req, const int *blk_fds,
		 unsigned n_blk, struct instance **out, char *err, size_t errlen)
{
	struct inst_plan p;
	int rc = inst_prepare(s, req, &p, err, errlen);

	return rc ? rc : inst_launch(s, &p, req, blk_fds, n_blk, out, err, errlen);
}

bool inst_had_volume(const struct instance *in, const char *volume_id)
{
	for (unsigned i = 0; i < in->n_volumes; i++)
		if (!strcmp(in->volumes[i], volume_id))
			return true;
	return false;
}

struct instance *inst_find(struct instances *s, const char *id)
{
	struct instance *in;

	for (in = s->head; in; in = in->next)
		if (!strcmp(in->id, id))
			return in;
	return NULL;
}

struct instance *inst_find_token(struct instances *s, const char *token)
{
	struct instance *in;

	for (in = s->head; in; in = in->next)
		if (in->state == INST_RUNNING && in->client_token[0] &&
		    !strcmp(in->client_token, token))
			return in;
	return NULL;
}

int inst_launch_fp(const struct run_req *req, char out[65])
{
	uint8_t md[SHA256_DIGEST_LENGTH];
	json_t *o, *vols = json_array();
	char *txt = NULL;

	/* Canonical JSON (sorted keys) of what the launch is; the per-call
	 * credentials stay out, so a retry with fresh tokens still matches. */
	for (unsigned i = 0; vols && i < req->n_volumes; i++)
		json_array_append_new(vols, json_pack("{s:s, s:s, s:I, s:b, s:s}", "volume_id",
						      req->volumes[i].volume_id, "backing",
						      req->volumes[i].backing, "size",
						      (json_int_t)req->volumes[i].size, "read_only",
						      req->volumes[i].read_only, "key_id",
						      req->volumes[i].key_id));
	o = vols ? json_pack("{s:s, s:I, s:I, s:b, s:s, s:s, s:o}", "image", req->image,
			     "memory_mib", (json_int_t)req->memory_mib, "vcpus",
			     (json_int_t)req->vcpus, "cpu_fixed", req->cpu_fixed, "hugepages",
			     req->hugepages, "cmdline", req->cmdline, "volumes", vols) : NULL;
	/* ENIs only when given: a launch without them keeps the fingerprint
	 * it had before ENIs existed (recorded instances' tokens still match). */
	if (o && req->n_enis) {
		json_t *enis = json_array();

		for (unsigned i = 0; enis && i < req->n_enis; i++)
			json_array_append_new(enis, json_string(req->enis[i]));
		if (!enis || json_object_set_new(o, "enis", enis)) {
			json_decref(o);
			o = NULL;
		}
	}
	if (o)
		txt = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (!txt)
		return -ENOMEM;
	SHA256((const uint8_t *)txt, strlen(txt), md);
	free(txt);
	for (unsigned i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

struct instance *inst_list(struct instances *s)
{
	return s->head;
}

static bool wait_pidfd(int pidfd, int ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

int inst_stop(struct instances *s, const char *id, int *exit_code, char *err, size_t errlen)
{
	struct instance *in = inst_find(s, id);
	int st;

	if (!in) {
		snprintf(err, errlen, "no instance %s", id);
		return -ENOENT;
	}
	if (in->state == INST_RUNNING) {
		/* SIGTERM: ward-hv stops the vCPUs and wipes guest memory. */
		pidfd_signal(in->pidfd, SIGTERM);
		if (!wait_pidfd(in->pidfd, STOP_GRACE_MS)) {
			log_warn("instance ignored SIGTERM, killing it", "id=%s", in->id);
			pidfd_signal(in->pidfd, SIGKILL);
			if (!wait_pidfd(in->pidfd, KILL_WAIT_MS)) {
				snprintf(err, errlen, "instance %s does not stop", id);
				return -ETIMEDOUT;
			}
		}
		in->exit_code = -1;
		if (in->child && waitpid(in->pid, &st, 0) == in->pid)
			in->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		in->state = INST_EXITED;
	}
	*exit_code = in->exit_code;
	if (s->cb)
		s->cb(s->opaque, in, "stop");
	forget(s, in);
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* Only what inst_prepare would find: a verified image by its manifest
 * name, else DIR/NAME.elf for a NAME the request parser accepts. */
json_t *inst_images_json(const struct instances *s)
{
	char names[64][REQ_NAME_MAX + 1];
	json_t *a = json_array();
	unsigned n = 0;
	DIR *d;

	if (!a)
		return NULL;
	for (unsigned i = 0; s->cfg.fw && i < s->cfg.fw->n_guests && i < FW_MAX_GUEST_IMAGES; i++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "name", s->cfg.fw->guest[i].name,
						   "source", "firmware-store"));
	if (!s->cfg.images_dir || !(d = opendir(s->cfg.images_dir)))
		return a;
	for (struct dirent *e; n < 64 && (e = readdir(d));) {
		size_t len = strlen(e->d_name);
		char path[PATH_MAX];
		struct stat sb;

		if (len <= 4 || len - 4 > REQ_NAME_MAX || strcmp(e->d_name + len - 4, ".elf"))
			continue;
		snprintf(names[n], sizeof(names[n]), "%.*s", (int)(len - 4), e->d_name);
		snprintf(path, sizeof(path), "%s/%s", s->cfg.images_dir, e->d_name);
		if (!req_valid_name(names[n], REQ_NAME_MAX) ||
		    (s->cfg.fw && fw_images_guest(s->cfg.fw, names[n]) >= 0) ||
		    stat(path, &sb) || !S_ISREG(sb.st_mode))
			continue;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (unsigned i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "name", names[i],
						   "source", "directory"));
	return a;
}
