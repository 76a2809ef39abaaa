/* fileio: whole-file reads, create-new and atomic replace for every ward
 * process (see fileio.h). One implementation, so every state file gets the
 * same rules: regular files only, opened without blocking, every byte
 * written and fsynced, the directory fsynced after a rename. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

#define TMP_TAG ".tmp-"
#define TMP_HEX 8

#ifdef WARD_TEST_HOOKS
static fileio_hook_fn test_hook;

void fileio_set_test_hook(fileio_hook_fn fn)
{
	test_hook = fn;
}

static void hook(const char *op, const char *path, int fd, const void *buf, size_t len)
{
	if (test_hook)
		test_hook(op, path, fd, buf, len);
}
#else
static inline void hook(const char *op, const char *path, int fd, const void *buf,
			size_t len) {}
#endif

static int type_error(mode_t m)
{
	if (S_ISREG(m))
		return 0;
	if (S_ISDIR(m))
		return -EISDIR;
	if (S_ISLNK(m))
		return -ELOOP;
	return -EMEDIUMTYPE;
}

int fileio_open(const char *path, int flags, mode_t mode, unsigned fflags)
{
	const int follow = fflags & FILEIO_FOLLOW;
	struct stat st;
	int fd, fl, rc;

	/* Look before opening: opening a device can have effects of its own,
	 * and a FIFO opened for reading without O_NONBLOCK waits for a writer
	 * forever. The second check below closes the race with a swap. */
	if (!fstatat(AT_FDCWD, path, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW)) {
		if ((rc = type_error(st.st_mode)))
			return rc;
	} else if (errno != ENOENT || !(flags & O_CREAT)) {
		return -errno;
	}
	fd = open(path, flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW),
		  mode);
	if (fd < 0)	/* ENXIO: a FIFO with no reader, or a socket */
		return errno == ENXIO ? -EMEDIUMTYPE : -errno;
	if (fstat(fd, &st)) {
		rc = -errno;
		goto err_close;
	}
	if ((rc = type_error(st.st_mode)))
		goto err_close;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK)) {
		rc = -errno;
		goto err_close;
	}
	return fd;
err_close:
	close(fd);
	return rc;
}

/* pread from `off` until EOF or `end`; returns the new offset or -errno. */
static long long pread_until(int fd, uint8_t *b, size_t off, size_t end)
{
	while (off < end) {
		ssize_t r = pread(fd, b + off, end - off, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		off += (size_t)r;
	}
	return (long long)off;
}

/* True when the file has a byte at `off` (it grew past what we read). */
static int has_more(int fd, size_t off)
{
	uint8_t c;
	ssize_t r;

	do
		r = pread(fd, &c, 1, (off_t)off);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r > 0;
}

int fileio_read_fd(int fd, size_t max, uint8_t **out, size_t *len)
{
	struct stat st;
	size_t cap, off = 0;
	uint8_t *b, *nb;
	long long r;
	int rc;

	if (fstat(fd, &st))
		return -errno;
	if ((rc = type_error(st.st_mode)))
		return rc;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	/* st_size is a hint: the file may shrink or grow while it is read. */
	cap = (size_t)st.st_size;
	if (!(b = malloc(cap + 1)))
		return -ENOMEM;
	for (;;) {
		if ((r = pread_until(fd, b, off, cap)) < 0) {
			rc = (int)r;
			goto err_free;
		}
		off = (size_t)r;
		if (off < cap || (rc = has_more(fd, off)) == 0)
			break;
		if (rc < 0)
			goto err_free;
		if (cap >= max) {
			rc = -EFBIG;
			goto err_free;
		}
		cap = cap > max / 2 ? max : cap * 2 + 4096;
		cap = cap > max ? max : cap;
		if (!(nb = realloc(b, cap + 1))) {
			rc = -ENOMEM;
			goto err_free;
		}
		b = nb;
	}
	b[off] = 0;
	*out = b;
	*len = off;
	return 0;
err_free:
	free(b);
	return rc;
}

int fileio_read(const char *path, size_t max, unsigned fflags, uint8_t **buf, size_t *len)
{
	int fd = fileio_open(path, O_RDONLY, 0, fflags), rc;

	if (fd < 0)
		return fd;
	rc = fileio_read_fd(fd, max, buf, len);
	close(fd);
	return rc;
}

int fileio_read_into(const char *path, unsigned fflags, void *buf, size_t cap, size_t *len)
{
	long long r;
	int fd, rc = 0;

	if (!cap)
		return -EINVAL;
	fd = fileio_open(path, O_RDONLY, 0, fflags);
	if (fd < 0)
		return fd;
	r = pread_until(fd, buf, 0, cap - 1);
	if (r < 0)
		rc = (int)r;
	else if ((size_t)r == cap - 1 && (rc = has_more(fd, cap - 1)) > 0)
		rc = -EFBIG;
	close(fd);
	if (rc)
		return rc;
	((uint8_t *)buf)[r] = 0;
	*len = (size_t)r;
	return 0;
}

int fileio_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int fileio_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	/* EINVAL: a file system that cannot sync directories (nothing to do). */
	if (fsync(fd) && errno != EINVAL)
		rc = -errno;
	close(fd);
	return rc;
}

int fileio_fsync_parent(const char *path)
{
	const char *s = strrchr(path, '/');
	char dir[PATH_MAX];

	if (!s)
		return fileio_fsync_dir(".");
	if (s == path)
		return fileio_fsync_dir("/");
	if ((size_t)(s - path) >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, (size_t)(s - path));
	dir[s - path] = 0;
	return fileio_fsync_dir(dir);
}

/* DIR/.NAME.tmp-XXXXXXXX, created O_EXCL: two writers never share one,
 * and a name left by a killed writer is recognised by fileio_sweep. */
static int tmp_create(const char *path, mode_t mode, char *tmp, size_t cap)
{
	static unsigned counter;
	const char *s = strrchr(path, '/'), *base = s ? s + 1 : path;
	int dirlen = s ? (int)(s - path + 1) : 0;

	if (!*base)
		return -EISDIR;
	for (int i = 0; i < 16; i++) {
		uint32_t r;
		int fd;

		if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
			r = (uint32_t)getpid() * 2654435761u + __atomic_add_fetch(&counter, 1,
										  __ATOMIC_RELAXED);
		if (snprintf(tmp, cap, "%.*s.%s" TMP_TAG "%08x", dirlen, path, base, r) >= (int)cap)
			return -ENAMETOOLONG;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* Move tmp to path only if path does not exist. renameat2 is atomic; on a
 * file system without RENAME_NOREPLACE, link() gives the same guarantee
 * (it never replaces) at the cost of a second name until the unlink. */
static int move_noreplace(const char *tmp, const char *path)
{
	if (!renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE))
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (link(tmp, path))
		return -errno;
	unlink(tmp);
	return 0;
}

static int commit(const char *path, const struct iovec *iov, int iovcnt, mode_t mode,
		  bool noreplace)
{
	char tmp[PATH_MAX];
	int fd, rc = 0;

	fd = tmp_create(path, mode, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	hook("write", path, fd, iovcnt ? iov[0].iov_base : NULL, iovcnt ? iov[0].iov_len : 0);
	for (int i = 0; !rc && i < iovcnt; i++)
		rc = fileio_write_all(fd, iov[i].iov_base, iov[i].iov_len);
	if (!rc) {
		hook("fsync", path, -1, NULL, 0);
		if (fsync(fd))
			rc = -errno;
	}
	if (close(fd) && !rc)
		rc = -errno;
	if (rc)
		goto err_unlink;
	hook("rename", path, -1, NULL, 0);
	if (noreplace)
		rc = move_noreplace(tmp, path);
	else if (rename(tmp, path))
		rc = -errno;
	if (rc)
		goto err_unlink;
	hook("fsync-dir", path, -1, NULL, 0);
	return fileio_fsync_parent(path);
err_unlink:
	unlink(tmp);
	return rc;
}

int fileio_replacev(const char *path, const struct iovec *iov, int iovcnt, mode_t mode)
{
	return commit(path, iov, iovcnt, mode, false);
}

int fileio_replace(const char *path, const void *buf, size_t len, mode_t mode)
{
	struct iovec v = { .iov_base = (void *)buf, .iov_len = len };

	return commit(path, &v, 1, mode, false);
}

int fileio_write_newv(const char *path, const struct iovec *iov, int iovcnt, mode_t mode)
{
	struct stat st;

	/* Fail early; the move itself is what guarantees it. */
	if (!fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW))
		return -EEXIST;
	return commit(path, iov, iovcnt, mode, true);
}

int fileio_write_new(const char *path, const void *buf, size_t len, mode_t mode)
{
	struct iovec v = { .iov_base = (void *)buf, .iov_len = len };

	return fileio_write_newv(path, &v, 1, mode);
}

static bool is_tmp_name(const char *n)
{
	size_t l = strlen(n), tag = sizeof(TMP_TAG) - 1;

	if (n[0] != '.' || l < 2 + tag + TMP_HEX || memcmp(n + l - TMP_HEX - tag, TMP_TAG, tag))
		return false;
	for (size_t i = l - TMP_HEX; i < l; i++)
		if (!strchr("0123456789abcdef", n[i]))
			return false;
	return true;
}

int fileio_sweep(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (is_tmp_name(e->d_name) && !unlinkat(dirfd(d), e->d_name, 0))
			n++;
	closedir(d);
	if (n)
		fileio_fsync_dir(dir);
	return n;
}

const char *fileio_strerror(int rc)
{
	switch (rc < 0 ? -rc : rc) {
	case EMEDIUMTYPE:
		return "not a regular file (a FIFO, socket or device)";
	case EISDIR:
		return "is a directory, not a file";
	case ELOOP:
		return "is a symbolic link (refused)";
	case EFBIG:
		return "larger than allowed";
	case ENOSPC:
		return "no space left on device (disk full)";
	default:
		return strerror(rc < 0 ? -rc : rc);
	}
}
