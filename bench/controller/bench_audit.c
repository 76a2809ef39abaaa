/* bench_audit: audit log append throughput with durability. W writer
 * threads append for T seconds; every append returns only once its record
 * is fdatasync'ed (group commit batches concurrent appends). Reference in
 * the same run, same disk: one fdatasync per append (what the log would do
 * without group commit), measured with 1 writer.
 * With BURST > 1 each writer keeps BURST appends in flight (audit_append_nowait,
 * then audit_wait on the last) — how a server with many requests in flight
 * uses the log.
 * usage: bench_audit DIR WRITERS SECONDS [--no-group | BURST] -> key=value line */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"

static struct audit *log_;
static atomic_bool stop;
static atomic_ulong done;
static int fd_ref = -1;
static int burst = 1;	/* appends in flight per writer before it waits */

static void *writer(void *arg)
{
	unsigned long id = (unsigned long)arg, n = 0;

	while (!atomic_load(&stop)) {
		json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I}", "type", "api", "client",
				      "/O=ward bench/OU=control-plane/CN=bench", "method", "GET",
				      "path", "/v1/health", "status", 200, "writer", (json_int_t)id);
		uint64_t idx;

		/* Pipelined: enqueue a burst, then wait until its last record is
		 * durable — every record of the burst is then on disk. */
		for (int k = 0; k < burst; k++)
			if (audit_append_nowait(log_, r, &idx)) {
				fprintf(stderr, "append failed\n");
				exit(1);
			}
		if (audit_wait(log_, idx)) {
			fprintf(stderr, "append failed\n");
			exit(1);
		}
		json_decref(r);
		n += (unsigned long)burst;
	}
	atomic_fetch_add(&done, n);
	return NULL;
}

/* Reference: the same record bytes, write + fdatasync per append. */
static void *writer_ref(void *arg)
{
	static const char rec[] = "{\"client\":\"/O=ward bench/OU=control-plane/CN=bench\","
		"\"index\":0,\"method\":\"GET\",\"path\":\"/v1/health\",\"status\":200,"
		"\"time\":\"2026-01-01T00:00:00.000000Z\",\"type\":\"api\",\"writer\":0}\n";
	unsigned long n = 0;

	while (!atomic_load(&stop)) {
		if (write(fd_ref, rec, sizeof(rec) - 1) < 0 || fdatasync(fd_ref)) {
			perror("reference write");
			exit(1);
		}
		n++;
	}
	atomic_fetch_add(&done, n);
	return NULL;
}

int main(int argc, char **argv)
{
	int w, secs, i, ref;
	pthread_t *th;
	struct timespec t0, t1;
	char err[256], path[4096];
	double el;

	if (argc < 4) {
		fprintf(stderr, "usage: bench_audit DIR WRITERS SECONDS [--no-group]\n");
		return 2;
	}
	w = atoi(argv[2]);
	secs = atoi(argv[3]);
	ref = argc > 4 && !strcmp(argv[4], "--no-group");
	if (argc > 4 && !ref)
		burst = atoi(argv[4]) > 0 ? atoi(argv[4]) : 1;
	if (ref) {
		snprintf(path, sizeof(path), "%s/ref-leaves", argv[1]);
		fd_ref = open(path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0600);
		if (fd_ref < 0)
			return 1;
	} else if (audit_open(argv[1], "ward/bench/audit", NULL, &log_, NULL, err, sizeof(err))) {
		fprintf(stderr, "audit_open: %s\n", err);
		return 1;
	}
	th = calloc((size_t)w, sizeof(*th));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < w; i++)
		pthread_create(&th[i], NULL, ref ? writer_ref : writer, (void *)(unsigned long)i);
	sleep((unsigned)secs);
	atomic_store(&stop, true);
	for (i = 0; i < w; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("writers=%d burst=%d appends=%lu seconds=%.2f appends_per_s=%.0f", w, burst, atomic_load(&done), el,
	       (double)atomic_load(&done) / el);
	if (!ref)
		printf(" fsync_batches=%llu avg_batch=%.1f",
		       (unsigned long long)audit_flushes(log_),
		       (double)atomic_load(&done) / (double)(audit_flushes(log_) ? audit_flushes(log_) : 1));
	printf("\n");
	audit_close(log_);
	free(th);
	return 0;
}
