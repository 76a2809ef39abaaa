/* hostmetrics: the controller's metrics, gathered when scraped (see
 * hostmetrics.h): instance list, /proc/PID/stat for CPU time, the cards'
 * pidfds, the audit log's counters, and the attach histogram kept here. */
#include "controller/hostmetrics.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "blkctl.h"
#include "controller/instances.h"
#include "controller/volumes.h"

static struct metrics_hist attach_ok, attach_failed;

void hostmetrics_attach_observe(uint64_t ns, bool ok)
{
	metrics_hist_observe(ok ? &attach_ok : &attach_failed, ns);
}

/* utime + stime of a process in seconds, if it is still the one started
 * at start_time (a pid can be reused). 0 or -1. */
static int cpu_seconds(pid_t pid, uint64_t start_time, double *out)
{
	char path[64], buf[1024], *p;
	unsigned long long utime, stime, start;
	ssize_t n;
	int fd;

	/* open + read, as inst_proc_stat: no stdio buffer in a locked-down process */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	/* fields after the command name, which may hold spaces and ')' */
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
		   "%*d %*d %llu", &utime, &stime, &start) != 3 ||
	    start != start_time)
		return -1;
	*out = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

static void instances(struct ctl *c, struct metrics_buf *b)
{
	unsigned running = 0, exited = 0;
	uint64_t vcpus = 0, mem = 0;
	struct instance *in;
	double s;

	for (in = inst_list(c->inst); in; in = in->next) {
		if (in->state != INST_RUNNING) {
			exited++;
			continue;
		}
		running++;
		vcpus += in->vcpus;
		mem += (uint64_t)in->memory_mib << 20;
	}
	metrics_family(b, "ward_instances", "gauge", "instances this host holds, by state");
	metrics_sample(b, "ward_instances", running, "state", "running", (char *)NULL);
	metrics_sample(b, "ward_instances", exited, "state", "exited", (char *)NULL);
	metrics_family(b, "ward_vcpus_granted", "gauge", "vCPUs granted to running instances");
	metrics_sample(b, "ward_vcpus_granted", (double)vcpus, (char *)NULL);
	metrics_family(b, "ward_memory_granted_bytes", "gauge",
		       "guest memory granted to running instances");
	metrics_sample(b, "ward_memory_granted_bytes", (double)mem, (char *)NULL);
	metrics_family(b, "ward_instance_cpu_seconds_total", "counter",
		       "CPU time (user + system) of each running instance's ward-hv");
	for (in = inst_list(c->inst); in; in = in->next)
		if (in->state == INST_RUNNING && !cpu_seconds(in->pid, in->start_time, &s))
			metrics_sample(b, "ward_instance_cpu_seconds_total", s, "instance", in->id,
				       (char *)NULL);
}

struct card_tally {
	struct metrics_buf *b;
	unsigned cards, up;
};

static void card_one(void *arg, const char *instance, bool up)
{
	struct card_tally *t = arg;

	t->cards++;
	t->up += up;
	metrics_sample(t->b, "ward_card_up", up, "instance", instance, "card", "blk",
		       (char *)NULL);
}

static void cards(struct ctl *c, struct metrics_buf *b)
{
	struct card_tally t = { b, 0, 0 };

	metrics_family(b, "ward_card_up", "gauge",
		       "1 while an instance's ward-blk card process is alive, 0 once it is gone");
	vol_cards_foreach(c->vols, card_one, &t);
	metrics_family(b, "ward_cards", "gauge", "card processes this controller holds, by health");
	metrics_sample(b, "ward_cards", t.up, "state", "up", (char *)NULL);
	metrics_sample(b, "ward_cards", t.cards - t.up, "state", "down", (char *)NULL);
}

/* ward-blk's counters per volume, asked over each card's control channel
 * (it has no network): collected first, since a family's samples must be
 * written together. */
struct blk_vol {
	char instance[40], volume[BLKCTL_ID_LEN + 1];
	struct blkctl_stats st;
};

struct blk_set {
	struct blk_vol *v;
	size_t n, cap;
};

static void blk_one(void *arg, const char *instance, const char *volume,
		    const struct blkctl_stats *st)
{
	struct blk_set *set = arg;

	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 8;
		struct blk_vol *v = realloc(set->v, cap * sizeof(*v));

		if (!v)
			return;
		set->v = v;
		set->cap = cap;
	}
	snprintf(set->v[set->n].instance, sizeof(set->v[set->n].instance), "%s", instance);
	snprintf(set->v[set->n].volume, sizeof(set->v[set->n].volume), "%s", volume);
	set->v[set->n++].st = *st;
}

static void blk_volumes(struct ctl *c, struct metrics_buf *b)
{
	static const char *const ops[BLKCTL_NOPS] = { "read", "write", "flush", "other" };
	struct blk_set set = { 0 };
	size_t i;
	unsigned k;

	vol_blk_stats_foreach(c->vols, blk_one, &set);
	metrics_family(b, "ward_blk_requests_total", "counter",
		       "virtio-blk requests ward-blk completed per volume, by kind (IOPS: rate())");
	for (i = 0; i < set.n; i++)
		for (k = 0; k < BLKCTL_NOPS; k++)
			metrics_sample(b, "ward_blk_requests_total", (double)set.v[i].st.ops[k],
				       "instance", set.v[i].instance, "volume", set.v[i].volume,
				       "op", ops[k], (char *)NULL);
	metrics_family(b, "ward_blk_bytes_total", "counter",
		       "data bytes ward-blk read or wrote for the guest per volume");
	for (i = 0; i < set.n; i++) {
		metrics_sample(b, "ward_blk_bytes_total", (double)set.v[i].st.bytes_read, "instance",
			       set.v[i].instance, "volume", set.v[i].volume, "direction", "read",
			       (char *)NULL);
		metrics_sample(b, "ward_blk_bytes_total", (double)set.v[i].st.bytes_written,
			       "instance", set.v[i].instance, "volume", set.v[i].volume,
			       "direction", "write", (char *)NULL);
	}
	metrics_family(b, "ward_blk_errors_total", "counter",
		       "requests ward-blk answered with an error status per volume");
	for (i = 0; i < set.n; i++)
		metrics_sample(b, "ward_blk_errors_total", (double)set.v[i].st.errors, "instance",
			       set.v[i].instance, "volume", set.v[i].volume, (char *)NULL);
	metrics_family(b, "ward_blk_request_duration_seconds", "histogram",
		       "a request's arrival in ward-blk to its answer, per volume");
	for (i = 0; i < set.n; i++) {
		struct metrics_hist h;

		for (k = 0; k < BLKCTL_STATS_BUCKETS; k++)
			atomic_init(&h.bucket[k], set.v[i].st.lat_bucket[k]);
		atomic_init(&h.count, set.v[i].st.lat_count);
		atomic_init(&h.sum_ns, set.v[i].st.lat_sum_ns);
		metrics_hist_write(b, "ward_blk_request_duration_seconds", &h, "instance",
				   set.v[i].instance, "volume", set.v[i].volume, (char *)NULL);
	}
	free(set.v);
}

static void audit_log(struct ctl *c, struct metrics_buf *b)
{
	struct audit_cp_health h;

	audit_checkpoint_health(c->audit, &h);
	metrics_family(b, "ward_audit_records", "gauge", "durable records in the audit log");
	metrics_sample(b, "ward_audit_records", (double)audit_size(c->audit), (char *)NULL);
	metrics_family(b, "ward_audit_checkpointed_records", "gauge",
		       "records covered by the last signed checkpoint");
	metrics_sample(b, "ward_audit_checkpointed_records", (double)h.checkpointed, (char *)NULL);
	metrics_family(b, "ward_audit_checkpoint_failures", "gauge",
		       "consecutive failed checkpoint attempts (0: the last one succeeded)");
	metrics_sample(b, "ward_audit_checkpoint_failures", (double)h.failures, (char *)NULL);
}

void hostmetrics_render(struct ctl *c, struct metrics_buf *b)
{
	metrics_family(b, "ward_host_in_service", "gauge",
		       "1 while the host is in service (measured boot verified, not draining)");
	metrics_sample(b, "ward_host_in_service", c->state == HOST_IN_SERVICE, (char *)NULL);
	instances(c, b);
	cards(c, b);
	blk_volumes(c, b);
	audit_log(c, b);
	metrics_family(b, "ward_volume_attach_duration_seconds", "histogram",
		       "attaching a launch's volumes: KMS Decrypt, TPM unseal, card start, ATTACH");
	metrics_hist_write(b, "ward_volume_attach_duration_seconds", &attach_ok, "outcome", "ok",
			   (char *)NULL);
	metrics_hist_write(b, "ward_volume_attach_duration_seconds", &attach_failed, "outcome",
			   "failed", (char *)NULL);
}
