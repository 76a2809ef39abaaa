/* cpupart: topology from sysfs, whole-core partitioning, and probing of the
 * kernel's side-channel controls (core scheduling, L1D flush, STIBP/IBPB).
 * Nothing here assumes a control exists: each one is asked for and the
 * refusal is reported, because hosts differ (see docs/threat-model.md). */
#include "cpupart.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PR_SCHED_CORE
#define PR_SCHED_CORE 62
#endif
#define SCHED_CORE_GET 0
#define SCHED_CORE_CREATE 1
#define SCHED_CORE_SCOPE_THREAD_GROUP 1
#ifndef PR_SPEC_INDIRECT_BRANCH
#define PR_SPEC_INDIRECT_BRANCH 1
#endif
#ifndef PR_SPEC_L1D_FLUSH
#define PR_SPEC_L1D_FLUSH 2
#endif

static int read_small(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return 0;
}

/* "0-3,8,10-11" -> callback per cpu. Returns 0 or -EINVAL. */
static int harden(char *report, size_t len);

static int parse_cpulist(const char *s, void (*fn)(void *ctx, int cpu), void *ctx)
{
	while (*s && *s != '\n') {
		char *end;
		long a = strtol(s, &end, 10), b;

		if (end == s || a < 0 || a >= CPUPART_MAX_CPUS)
			return -EINVAL;
		b = a;
		if (*end == '-') {
			s = end + 1;
			b = strtol(s, &end, 10);
			if (end == s || b < a || b >= CPUPART_MAX_CPUS)
				return -EINVAL;
		}
		for (long c = a; c <= b; c++)
			fn(ctx, (int)c);
		if (*end == ',')
			end++;
		else if (*end && *end != '\n')
			return -EINVAL;
		s = end;
	}
	return 0;
}

struct online_ctx { bool on[CPUPART_MAX_CPUS]; int max; };

static void mark_online(void *p, int cpu)
{
	struct online_ctx *o = p;

	o->on[cpu] = true;
	if (cpu + 1 > o->max)
		o->max = cpu + 1;
}

struct sib_ctx { struct cpu_topo *t; int core; int count; };

static void mark_sibling(void *p, int cpu)
{
	struct sib_ctx *s = p;

	if (s->t->core_of[cpu] < 0)
		s->t->core_of[cpu] = (int16_t)s->core;
	s->count++;
}

int cpupart_read_topology(const char *root, struct cpu_topo *t, char *err, size_t errlen)
{
	struct online_ctx on;
	char path[512], buf[4096];
	int rc;

	memset(t, 0, sizeof(*t));
	memset(&on, 0, sizeof(on));
	for (int i = 0; i < CPUPART_MAX_CPUS; i++)
		t->core_of[i] = t->socket_of[i] = -1;
	snprintf(path, sizeof(path), "%s/online", root);
	if ((rc = read_small(path, buf, sizeof(buf))) ||
	    (rc = parse_cpulist(buf, mark_online, &on))) {
		snprintf(err, errlen, "cannot read the online CPU list %s: %s", path, strerror(-rc));
		return rc;
	}
	t->ncpus = on.max;
	for (int cpu = 0; cpu < on.max; cpu++) {
		struct sib_ctx sib = { .t = t, .core = t->ncores };

		if (!on.on[cpu] || t->core_of[cpu] >= 0)
			continue; /* offline, or already placed as a sibling */
		snprintf(path, sizeof(path), "%s/cpu%d/topology/core_cpus_list", root, cpu);
		if (read_small(path, buf, sizeof(buf))) {
			snprintf(path, sizeof(path), "%s/cpu%d/topology/thread_siblings_list", root, cpu);
			if ((rc = read_small(path, buf, sizeof(buf)))) {
				snprintf(err, errlen, "cpu%d has no core topology in %s", cpu, root);
				return rc;
			}
		}
		if (parse_cpulist(buf, mark_sibling, &sib) || t->core_of[cpu] != t->ncores) {
			snprintf(err, errlen, "cpu%d: malformed or inconsistent sibling list '%.40s'", cpu, buf);
			return -EINVAL;
		}
		if (sib.count > t->threads_per_core)
			t->threads_per_core = sib.count;
		t->ncores++;
	}
	for (int cpu = 0; cpu < on.max; cpu++) {
		if (!on.on[cpu]) {
			t->core_of[cpu] = -1; /* an offline sibling is never handed out */
			continue;
		}
		snprintf(path, sizeof(path), "%s/cpu%d/topology/physical_package_id", root, cpu);
		t->socket_of[cpu] = read_small(path, buf, sizeof(buf)) ? 0 : (int16_t)atoi(buf);
	}
	if (t->ncores == 0) {
		snprintf(err, errlen, "no online CPU found under %s", root);
		return -ENOENT;
	}
	return 0;
}

static int core_cpus(const struct cpu_topo *t, int core, int *cpus, int max)
{
	int n = 0;

	for (int c = 0; c < t->ncpus && n < max; c++)
		if (t->core_of[c] == core)
			cpus[n++] = c;
	return n;
}

int cpupart_split(struct cpu_alloc *a, const struct cpu_topo *t, int card_cores,
		  int burst_cores, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	a->topo = t;
	if (card_cores < 1 || burst_cores < 0 || card_cores >= t->ncores ||
	    card_cores + burst_cores > t->ncores) {
		snprintf(err, errlen, "cannot give %d card cores and %d burstable cores out of %d: "
			 "the card domain needs at least one core and guests at least one",
			 card_cores, burst_cores, t->ncores);
		return -EINVAL;
	}
	for (int core = 0; core < t->ncores; core++) {
		a->owner[core] = -1;
		if (core < card_cores)
			a->role[core] = CORE_CARD;
		else if (core < card_cores + burst_cores)
			a->role[core] = CORE_BURST;
		else
			a->role[core] = CORE_GUEST_FREE;
	}
	return 0;
}

int cpupart_alloc_fixed(struct cpu_alloc *a, int owner, int vcpus, int *cpus,
			char *err, size_t errlen)
{
	const struct cpu_topo *t = a->topo;
	int tpc = t->threads_per_core, need, got = 0, n = 0;
	int picked[CPUPART_MAX_CPUS];

	if (vcpus < 1 || vcpus % tpc) {
		snprintf(err, errlen, "a fixed-performance instance gets whole cores: %d vCPUs on "
			 "%d-thread cores cannot be placed; ask for a multiple of %d", vcpus, tpc, tpc);
		return -EINVAL;
	}
	need = vcpus / tpc;
	/* Prefer one socket: try each socket first, then any core. */
	for (int pass = 0; pass < 2 && got < need; pass++) {
		int socket = -1;

		got = 0;
		for (int core = 0; core < t->ncores && got < need; core++) {
			int cc[64], k = core_cpus(t, core, cc, 64);

			if (a->role[core] != CORE_GUEST_FREE || k != tpc)
				continue; /* taken, or a core with an offline sibling */
			if (pass == 0) {
				if (socket < 0)
					socket = t->socket_of[cc[0]];
				if (t->socket_of[cc[0]] != socket)
					continue;
			}
			picked[got++] = core;
		}
	}
	if (got < need) {
		snprintf(err, errlen, "no room for %d whole cores (%d vCPUs): the guest domain has "
			 "fewer free cores; refusing rather than sharing a core", need, vcpus);
		return -ENOSPC;
	}
	for (int i = 0; i < got; i++) {
		a->role[picked[i]] = CORE_GUEST_FIXED;
		a->owner[picked[i]] = owner;
		n += core_cpus(t, picked[i], cpus + n, vcpus - n);
	}
	return 0;
}

void cpupart_release(struct cpu_alloc *a, int owner)
{
	for (int core = 0; core < a->topo->ncores; core++)
		if (a->role[core] == CORE_GUEST_FIXED && a->owner[core] == owner) {
			a->role[core] = CORE_GUEST_FREE;
			a->owner[core] = -1;
		}
}

int cpupart_claim_fixed(struct cpu_alloc *a, int owner, const int *cpus, int n,
			char *err, size_t errlen)
{
	const struct cpu_topo *t = a->topo;

	for (int i = 0; i < n; i++) {
		int c = cpus[i], core = c >= 0 && c < t->ncpus ? t->core_of[c] : -1;

		if (core < 0 || !(a->role[core] == CORE_GUEST_FREE ||
				  (a->role[core] == CORE_GUEST_FIXED && a->owner[core] == owner))) {
			cpupart_release(a, owner);
			snprintf(err, errlen, "cpu %d is not a free fixed-performance guest core's", c);
			return -EBUSY;
		}
		a->role[core] = CORE_GUEST_FIXED;
		a->owner[core] = owner;
	}
	return 0;
}

static int role_cpus(const struct cpu_alloc *a, enum core_role role, int *cpus, int max)
{
	int n = 0;

	for (int core = 0; core < a->topo->ncores; core++)
		if (a->role[core] == role)
			n += core_cpus(a->topo, core, cpus + n, max - n);
	return n;
}

int cpupart_burst_cpus(const struct cpu_alloc *a, int *cpus, int max)
{
	return role_cpus(a, CORE_BURST, cpus, max);
}

int cpupart_card_cpus(const struct cpu_alloc *a, int *cpus, int max)
{
	return role_cpus(a, CORE_CARD, cpus, max);
}

static void append(char *buf, size_t len, const char *what, int e)
{
	size_t used = strlen(buf);

	if (used < len)
		snprintf(buf + used, len - used, "%s: %s; ", what, strerror(e));
}

/* Probe by asking: a child process requests each control and reports which
 * were refused, so "offered" means exactly "an instance would get it". */
void cpupart_probe_sidechan(struct sidechan_caps *c)
{
	char buf[32];
	int status = 0, p[2];
	ssize_t n;
	pid_t pid;

	memset(c, 0, sizeof(*c));
	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		snprintf(c->detail, sizeof(c->detail), "probe failed: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		char report[sizeof(c->detail)];
		int mask = harden(report, sizeof(report));

		(void)!write(p[1], report, strlen(report));
		_exit(mask);
	}
	close(p[1]);
	n = read(p[0], c->detail, sizeof(c->detail) - 1);
	c->detail[n > 0 ? n : 0] = '\0';
	close(p[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		snprintf(c->detail, sizeof(c->detail), "probe child failed");
		return;
	}
	status = WEXITSTATUS(status);
	c->core_sched = !(status & 1);
	c->l1d_flush = !(status & 2);
	c->ib_isolation = !(status & 4);
	c->smt_active = read_small("/sys/devices/system/cpu/smt/active", buf, sizeof(buf)) == 0 &&
			buf[0] == '1';
}

/* Returns a bitmask of refused controls: 1 core scheduling, 2 L1D flush,
 * 4 indirect-branch isolation. */
static int harden(char *report, size_t len)
{
	int failed = 0, r;

	report[0] = '\0';
	if (prctl(PR_SCHED_CORE, SCHED_CORE_CREATE, 0, SCHED_CORE_SCOPE_THREAD_GROUP, 0) < 0) {
		append(report, len, "core-scheduling cookie refused", errno);
		failed |= 1;
	}
	if (prctl(PR_SET_SPECULATION_CTRL, PR_SPEC_L1D_FLUSH, PR_SPEC_ENABLE, 0, 0) < 0) {
		append(report, len, "L1D flush on switch refused", errno);
		failed |= 2;
	}
	/* Already isolated (forced on by the kernel) counts as granted. */
	r = prctl(PR_GET_SPECULATION_CTRL, PR_SPEC_INDIRECT_BRANCH, 0, 0, 0);
	if (!(r >= 0 && (r & (PR_SPEC_DISABLE | PR_SPEC_FORCE_DISABLE))) &&
	    prctl(PR_SET_SPECULATION_CTRL, PR_SPEC_INDIRECT_BRANCH, PR_SPEC_DISABLE, 0, 0) < 0) {
		append(report, len, "indirect-branch isolation refused", errno);
		failed |= 4;
	}
	return failed;
}

int cpupart_harden_self(char *report, size_t len)
{
	int mask = harden(report, len);

	return (mask & 1) + !!(mask & 2) + !!(mask & 4);
}
