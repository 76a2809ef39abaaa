/* fileio_crash: the three kinds of file write the controller does, run in
 * a loop for fileio_kill_test.sh to kill -9 at any point: a record replaced
 * (statefile_write_json, as instances and cards do), a file created once
 * (fileio_write_new, as host-id and the host key), and a record read
 * (statefile_read_json) while another process replaces it. Every payload
 * checks itself, so a torn file is caught wherever the kill landed.
 *   fileio_crash replace DIR      replace DIR/rec.json for ever, one line per write
 *   fileio_crash new DIR          create DIR/new-N for N = 0, 1, ..., one line each
 *   fileio_crash read DIR COUNT   read DIR/rec.json COUNT times, each must be whole
 *   fileio_crash cut N DIR        as replace + new, but SIGKILL itself at the N-th
 *                                 write step (half a write first): exit 0 if N is
 *                                 past the last step; needs a test-hooks build
 *   fileio_crash check DIR        after a kill: every file whole, then the sweep
 *                                 leaves no temporary file */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "controller/statefile.h"
#include "fileio.h"

#define PAD(v) ((size_t)(100 + ((v) * 7919) % 60000))	/* sizes vary: many pages, odd ends */

static json_t *record(long v)
{
	size_t n = PAD(v);
	char *pad = malloc(n + 1);
	json_t *o;

	memset(pad, 'a' + (int)(v % 26), n);
	pad[n] = 0;
	o = json_pack("{s:I, s:s}", "v", (json_int_t)v, "pad", pad);
	free(pad);
	return o;
}

/* 0 when o is exactly record(v) for its own v. */
static int whole(json_t *o, long *vout)
{
	json_int_t v;
	const char *pad;
	size_t n;

	if (json_unpack(o, "{s:I, s:s}", "v", &v, "pad", &pad) || v < 0)
		return -1;
	n = strlen(pad);
	if (n != PAD(v))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (pad[i] != 'a' + (int)(v % 26))
			return -1;
	*vout = (long)v;
	return 0;
}

static int replace_one(const char *dir, long v)
{
	json_t *o = record(v);
	int rc = statefile_write_json(dir, "rec", o);

	json_decref(o);
	return rc;
}

static int new_one(const char *dir, long v)
{
	char path[PATH_MAX], *txt;
	json_t *o = record(v);
	int rc;

	snprintf(path, sizeof(path), "%s/new-%ld", dir, v);
	txt = json_dumps(o, JSON_COMPACT);
	rc = fileio_write_new(path, txt, strlen(txt), 0600);
	free(txt);
	json_decref(o);
	return rc;
}

static int check_file(const char *path, const char *name)
{
	json_t *o;
	long v;
	int rc = statefile_read_json(path, &o);

	if (rc) {
		fprintf(stderr, "%s: %s\n", name, fileio_strerror(rc));
		return -1;
	}
	rc = whole(o, &v);
	json_decref(o);
	if (rc)
		fprintf(stderr, "%s: torn (not one whole record)\n", name);
	return rc;
}

static int check(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *e;
	int bad = 0, swept, left = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/rec.json", dir);
	bad |= check_file(path, "rec.json");
	swept = fileio_sweep(dir);
	if (!(d = opendir(dir)))
		return 1;
	while ((e = readdir(d))) {
		if (!strncmp(e->d_name, "new-", 4)) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			bad |= check_file(path, e->d_name);
		} else if (strstr(e->d_name, ".tmp")) {
			fprintf(stderr, "%s: temporary file left after the sweep\n", e->d_name);
			left++;
		}
	}
	closedir(d);
	printf("swept=%d\n", swept);
	return bad || left || swept < 0;
}

#ifdef WARD_TEST_HOOKS
static long cut_at, steps;

static void cut(const char *op, const char *path, int fd, const void *buf, size_t len)
{
	if (++steps != cut_at)
		return;
	if (fd >= 0 && buf && len > 1) {
		ssize_t r = write(fd, buf, len / 2);	/* a torn write */
		(void)r;
	}
	raise(SIGKILL);
}
#endif

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "", *dir = argv[argc - 1];
	long v;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(mode, "replace") && argc == 3) {
		for (v = 1;; v++) {
			if (replace_one(dir, v))
				return 1;
			printf("%ld\n", v);
		}
	}
	if (!strcmp(mode, "new") && argc == 3) {
		for (v = 0;; v++) {
			if (new_one(dir, v))
				return 1;
			printf("%ld\n", v);
		}
	}
	if (!strcmp(mode, "read") && argc == 4) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/rec.json", dir);
		for (long n = atol(argv[2]); n > 0; n--)
			if (check_file(path, "rec.json (read while replaced)"))
				return 1;
		return 0;
	}
	if (!strcmp(mode, "seed") && argc == 3)
		return replace_one(dir, 0) != 0;
	if (!strcmp(mode, "cut") && argc == 4) {
#ifdef WARD_TEST_HOOKS
		cut_at = atol(argv[2]);
		fileio_set_test_hook(cut);
		for (v = 1; v <= 3; v++)
			if (replace_one(dir, v) || new_one(dir, v))
				return 1;
		return 0;
#else
		fprintf(stderr, "this build has no test hooks (-Dtest_hooks=true)\n");
		return 77;
#endif
	}
	if (!strcmp(mode, "check") && argc == 3)
		return check(dir);
	fprintf(stderr, "usage: see the top of tests/controller/fileio_crash.c\n");
	return 2;
}
