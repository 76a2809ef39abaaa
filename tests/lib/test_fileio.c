/* fileio: regular files only (a FIFO is refused at once, never waited on),
 * symlinks and directories refused, size limits, whole reads of large
 * files, create-new and atomic replace that leave no temporary file behind,
 * and a full disk reported as ENOSPC with the old file intact. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "fileio.h"
#include "secmem.h"

static char dir[64];

static void path_of(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

static void put(const char *name, const void *buf, size_t len)
{
	char p[256];
	FILE *f;

	path_of(p, sizeof(p), name);
	f = fopen(p, "we");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Entries of d other than . and .. */
static int entries(const char *d)
{
	DIR *dd = opendir(d);
	struct dirent *e;
	int n = 0;

	assert_non_null(dd);
	while ((e = readdir(dd)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(dd);
	return n;
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/ward-fileio-XXXXXX");
	assert_non_null(mkdtemp(dir));
	/* A FIFO that nobody ever writes: an open that blocks would wait for
	 * ever, so a hang is turned into a failure here. */
	alarm(60);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void read_large_file(void **state)
{
	size_t n = (3u << 20) + 12345, len;
	uint8_t *b = malloc(n), *got;
	char p[256];

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 131 + (i >> 13));
	put("big", b, n);
	path_of(p, sizeof(p), "big");
	assert_int_equal(fileio_read(p, n, 0, &got, &len), 0);
	assert_int_equal(len, n);
	assert_memory_equal(got, b, n);
	assert_int_equal(got[len], 0);
	free(got);
	assert_int_equal(fileio_read(p, n - 1, 0, &got, &len), -EFBIG);
	free(b);
}

static void read_empty_and_exact(void **state)
{
	char p[256], small[8];
	uint8_t *got;
	size_t len;

	put("empty", "", 0);
	path_of(p, sizeof(p), "empty");
	assert_int_equal(fileio_read(p, 0, 0, &got, &len), 0);
	assert_int_equal(len, 0);
	free(got);
	put("seven", "1234567", 7);
	path_of(p, sizeof(p), "seven");
	assert_int_equal(fileio_read_into(p, 0, small, 8, &len), 0);
	assert_int_equal(len, 7);
	assert_string_equal(small, "1234567");
	assert_int_equal(fileio_read_into(p, 0, small, 7, &len), -EFBIG);
}

static void fifo_refused_promptly(void **state)
{
	char p[256];
	uint8_t *got = NULL;
	size_t len;
	char b[16];

	path_of(p, sizeof(p), "fifo");
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(fileio_read(p, 4096, 0, &got, &len), -EMEDIUMTYPE);
	assert_int_equal(fileio_read(p, 4096, FILEIO_FOLLOW, &got, &len), -EMEDIUMTYPE);
	assert_int_equal(fileio_read_into(p, 0, b, sizeof(b), &len), -EMEDIUMTYPE);
	assert_int_equal(fileio_open(p, O_WRONLY | O_APPEND | O_CREAT, 0600, 0), -EMEDIUMTYPE);
	assert_int_equal(fileio_open(p, O_RDWR, 0, 0), -EMEDIUMTYPE);
	assert_null(got);
	assert_string_equal(fileio_strerror(-EMEDIUMTYPE),
			    "not a regular file (a FIFO, socket or device)");
}

static void device_refused(void **state)
{
	uint8_t *got;
	size_t len;

	assert_int_equal(fileio_read("/dev/null", 10, FILEIO_FOLLOW, &got, &len), -EMEDIUMTYPE);
	assert_int_equal(fileio_read("/dev/zero", 10, FILEIO_FOLLOW, &got, &len), -EMEDIUMTYPE);
}

static void symlink_refused_unless_asked(void **state)
{
	char p[256], target[256];
	uint8_t *got;
	size_t len;

	put("real", "data", 4);
	path_of(target, sizeof(target), "real");
	path_of(p, sizeof(p), "link");
	assert_int_equal(symlink(target, p), 0);
	assert_int_equal(fileio_read(p, 100, 0, &got, &len), -ELOOP);
	assert_int_equal(fileio_open(p, O_RDONLY, 0, 0), -ELOOP);
	assert_int_equal(fileio_read(p, 100, FILEIO_FOLLOW, &got, &len), 0);
	assert_int_equal(len, 4);
	free(got);
}

static void directory_refused(void **state)
{
	char p[256];
	uint8_t *got;
	size_t len;

	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	path_of(p, sizeof(p), "sub");
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(fileio_read(p, 100, 0, &got, &len), -EISDIR);
	assert_int_equal(fileio_read_fd(fd, 100, &got, &len), -EISDIR);
	close(fd);
}

static void missing_file(void **state)
{
	char p[256];
	uint8_t *got;
	size_t len;

	path_of(p, sizeof(p), "nope");
	assert_int_equal(fileio_read(p, 100, 0, &got, &len), -ENOENT);
}

static void secret_into_secmem(void **state)
{
	char p[256];
	size_t len;
	char *s = secmem_alloc(256);

	assert_non_null(s);
	put("pin", "1234\n", 5);
	path_of(p, sizeof(p), "pin");
	assert_int_equal(fileio_read_into(p, 0, s, 256, &len), 0);
	assert_int_equal(len, 5);
	assert_string_equal(s, "1234\n");
	secmem_free(s, 256);
}

static void replace_and_write_new(void **state)
{
	char d[128], p[256];
	uint8_t *got;
	size_t len;
	struct stat st;

	path_of(d, sizeof(d), "rw");
	assert_int_equal(mkdir(d, 0700), 0);
	snprintf(p, sizeof(p), "%s/state", d);
	assert_int_equal(fileio_replace(p, "one", 3, 0600), 0);
	assert_int_equal(fileio_replace(p, "second", 6, 0600), 0);
	assert_int_equal(fileio_read(p, 100, 0, &got, &len), 0);
	assert_string_equal((char *)got, "second");
	free(got);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(entries(d), 1);	/* no temporary file left */

	snprintf(p, sizeof(p), "%s/new", d);
	assert_int_equal(fileio_write_new(p, "first", 5, 0644), 0);
	assert_int_equal(fileio_write_new(p, "other", 5, 0644), -EEXIST);
	assert_int_equal(fileio_read(p, 100, 0, &got, &len), 0);
	assert_string_equal((char *)got, "first");
	free(got);
	assert_int_equal(entries(d), 2);

	/* A FIFO in place of a state file is replaced, not written into. */
	snprintf(p, sizeof(p), "%s/was-fifo", d);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(fileio_replace(p, "x", 1, 0600), 0);
	assert_int_equal(fileio_read(p, 100, 0, &got, &len), 0);
	free(got);
	assert_int_equal(entries(d), 3);

	snprintf(p, sizeof(p), "%s/no-such-dir/f", d);
	assert_int_equal(fileio_replace(p, "x", 1, 0600), -ENOENT);
	assert_int_equal(fileio_write_new(p, "x", 1, 0600), -ENOENT);
}

static void replacev_joins(void **state)
{
	struct iovec v[3] = { { "ab", 2 }, { "", 0 }, { "cde", 3 } };
	char p[256];
	uint8_t *got;
	size_t len;

	path_of(p, sizeof(p), "vec");
	assert_int_equal(fileio_replacev(p, v, 3, 0600), 0);
	assert_int_equal(fileio_read(p, 100, 0, &got, &len), 0);
	assert_string_equal((char *)got, "abcde");
	free(got);
}

static void sweep_removes_only_tmp(void **state)
{
	char d[128], p[256];
	const char *keep[] = { "a", ".a.tmp", ".a.tmp-0123abc", ".a.tmp-0123ABCD", "a.tmp-0123abcd" };

	path_of(d, sizeof(d), "sweep");
	assert_int_equal(mkdir(d, 0700), 0);
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", d, keep[i]);
		assert_int_equal(fileio_replace(p, "k", 1, 0600), 0);
	}
	snprintf(p, sizeof(p), "%s/.a.tmp-0123abcd", d);
	assert_int_equal(close(open(p, O_CREAT | O_WRONLY, 0600)), 0);
	snprintf(p, sizeof(p), "%s/.host-id.tmp-ffffffff", d);
	assert_int_equal(close(open(p, O_CREAT | O_WRONLY, 0600)), 0);
	assert_int_equal(fileio_sweep(d), 2);
	assert_int_equal(entries(d), 5);
}

/* A 64 KiB tmpfs in a private mount namespace: writes past it get ENOSPC
 * from the kernel, as on a full disk. */
static void disk_full_is_enospc(void **state)
{
	char d[128], p[256];
	size_t n = 256 * 1024;
	uint8_t *big = calloc(1, n), *got;
	size_t len;

	path_of(d, sizeof(d), "full");
	assert_int_equal(mkdir(d, 0700), 0);
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("tmpfs", d, "tmpfs", 0, "size=64k")) {
		free(big);
		print_message("SKIP: no CAP_SYS_ADMIN to mount a private tmpfs (%s)\n",
			      strerror(errno));
		skip();
	}
	snprintf(p, sizeof(p), "%s/state", d);
	assert_int_equal(fileio_replace(p, "old", 3, 0600), 0);
	assert_int_equal(fileio_replace(p, big, n, 0600), -ENOSPC);
	assert_string_equal(fileio_strerror(-ENOSPC), "no space left on device (disk full)");
	assert_int_equal(fileio_read(p, 100, 0, &got, &len), 0);
	assert_string_equal((char *)got, "old");
	free(got);
	assert_int_equal(entries(d), 1);	/* the temporary file is gone */
	snprintf(p, sizeof(p), "%s/new", d);
	assert_int_equal(fileio_write_new(p, big, n, 0600), -ENOSPC);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(entries(d), 1);
	umount(d);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(read_large_file),
		cmocka_unit_test(read_empty_and_exact),
		cmocka_unit_test(fifo_refused_promptly),
		cmocka_unit_test(device_refused),
		cmocka_unit_test(symlink_refused_unless_asked),
		cmocka_unit_test(directory_refused),
		cmocka_unit_test(missing_file),
		cmocka_unit_test(secret_into_secmem),
		cmocka_unit_test(replace_and_write_new),
		cmocka_unit_test(replacev_joins),
		cmocka_unit_test(sweep_removes_only_tmp),
		cmocka_unit_test(disk_full_is_enospc),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
