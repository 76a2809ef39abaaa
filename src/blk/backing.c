/* backing: open and synchronous access to a volume's backing store
 * (backing.h). NBD is driven synchronously from the device thread: the
 * remote path favours correctness over throughput. */
#include "backing.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <libnbd.h>

#include "log.h"

static bool is_nbd(const char *spec)
{
	return !strncmp(spec, "nbd://", 6) || !strncmp(spec, "nbd+unix://", 11) ||
	       !strncmp(spec, "nbds://", 7) || !strncmp(spec, "nbd+vsock://", 12);
}

/* Export size and read-only state, once the handle is connected. */
static int check_nbd(struct backing *b, uint64_t size, bool ro, char *err, size_t errlen)
{
	int64_t sz = nbd_get_size(b->nbd);

	if (sz < 0 || (uint64_t)sz < size) {
		snprintf(err, errlen, "NBD export has %lld bytes, volume needs %llu",
			 (long long)sz, (unsigned long long)size);
		return -ENOSPC;
	}
	if (!ro && nbd_is_read_only(b->nbd) == 1) {
		snprintf(err, errlen, "NBD export is read-only; attach the volume read-only");
		return -EROFS;
	}
	b->kind = BACKING_NBD;
	b->size = (uint64_t)sz;
	return 0;
}

/* uri: libnbd connects (and does TLS for nbds://) itself. Otherwise fd is a
 * socket the controller connected; libnbd only does the handshake on it. */
static int open_nbd(struct backing *b, const char *uri, int fd, const char *export_name,
		    uint64_t size, bool ro, char *err, size_t errlen)
{
	int rc = -EIO;

	b->nbd = nbd_create();
	if (!b->nbd) {
		snprintf(err, errlen, "libnbd: %s", nbd_get_error());
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	if (!uri && nbd_set_export_name(b->nbd, export_name) < 0) {
		close(fd);
		snprintf(err, errlen, "NBD export name: %s", nbd_get_error());
		goto err;
	}
	/* Once the handshake starts the handle owns fd (closed by nbd_close);
	 * after a failed nbd_connect_socket we never close it ourselves, since a
	 * double close in a threaded process could hit another volume's fd. */
	if (uri ? nbd_connect_uri(b->nbd, uri) < 0 : nbd_connect_socket(b->nbd, fd) < 0) {
		snprintf(err, errlen, "cannot connect to NBD export: %s", nbd_get_error());
		goto err;
	}
	rc = check_nbd(b, size, ro, err, errlen);
	if (!rc)
		return 0;
err:
	nbd_close(b->nbd);
	b->nbd = NULL;
	return rc;
}

/* O_DIRECT avoids caching the store twice (the guest caches its own
 * plaintext); some filesystems refuse it. On tmpfs the page cache is the
 * store itself, so O_DIRECT buys nothing: transfers stay buffered (tmpfs
 * refuses RWF_NOWAIT, so io_uring hands each one to a worker thread; doing
 * them inline was tried and was slower per core, docs/benchmarks.md). Set
 * on the open file, so it works on an fd the controller opened. */
static void maybe_direct(struct backing *b)
{
	struct statfs sf;
	int fl = fcntl(b->fd, F_GETFL);

	b->direct = fl >= 0 && (fl & O_DIRECT);
	b->memory = !b->direct && fstatfs(b->fd, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
	if (fl < 0 || b->direct || b->memory)
		return;
	b->direct = fcntl(b->fd, F_SETFL, fl | O_DIRECT) == 0;
}

/* fd: an open file or block device (owned from here on). Checks the kind,
 * the access mode and that the size covers the volume. */
static int take_file(struct backing *b, int fd, uint64_t size, bool ro, bool create,
		     const char *what, char *err, size_t errlen)
{
	struct stat st;
	uint64_t sz;
	int acc = fcntl(fd, F_GETFL), rc;

	if (fstat(fd, &st) < 0 || acc < 0)
		goto err_errno;
	acc &= O_ACCMODE;
	if (ro ? acc != O_RDONLY : acc != O_RDWR) {
		snprintf(err, errlen, "backing %s is open %s, a %s volume needs %s", what,
			 acc == O_RDONLY ? "read-only" : acc == O_RDWR ? "read-write" : "write-only",
			 ro ? "read-only" : "writable", ro ? "O_RDONLY" : "O_RDWR");
		rc = -EBADF;
		goto err;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &sz) < 0)
			goto err_errno;
	} else if (S_ISREG(st.st_mode)) {
		sz = (uint64_t)st.st_size;
		if (sz < size && create && !ro) {
			if (ftruncate(fd, (off_t)size) < 0)
				goto err_errno;
			sz = size;
		}
	} else {
		snprintf(err, errlen, "backing %s is neither a regular file nor a block device", what);
		rc = -EINVAL;
		goto err;
	}
	if (sz < size) {
		snprintf(err, errlen, "backing %s has %llu bytes, volume needs %llu", what,
			 (unsigned long long)sz, (unsigned long long)size);
		rc = -ENOSPC;
		goto err;
	}
	b->kind = BACKING_FILE;
	b->fd = fd;
	b->size = sz;
	maybe_direct(b);
	return 0;
err_errno:
	rc = -errno;
	snprintf(err, errlen, "backing %s: %s", what, strerror(errno));
err:
	close(fd);
	return rc;
}

static int open_file(struct backing *b, const char *path, uint64_t size, bool ro,
		     bool create, char *err, size_t errlen)
{
	int flags = (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY;
	int fd;

	if (create && !ro)
		flags |= O_CREAT;
	fd = open(path, flags, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open backing %s: %s", path, strerror(errno));
		return -errno;
	}
	return take_file(b, fd, size, ro, create, path, err, errlen);
}

int backing_open(struct backing *b, const char *spec, uint64_t size, bool ro,
		 bool create, char *err, size_t errlen)
{
	memset(b, 0, sizeof(*b));
	b->fd = -1;
	if (is_nbd(spec))
		return open_nbd(b, spec, -1, NULL, size, ro, err, errlen);
	if (!strncmp(spec, "file:", 5))
		spec += 5;
	return open_file(b, spec, size, ro, create, err, errlen);
}

int backing_open_fd(struct backing *b, int fd, bool nbd, const char *export_name,
		    uint64_t size, bool readonly, const char *what, char *err, size_t errlen)
{
	memset(b, 0, sizeof(*b));
	b->fd = -1;
	if (nbd)
		return open_nbd(b, NULL, fd, export_name, size, readonly, err, errlen);
	return take_file(b, fd, size, readonly, false, what, err, errlen);
}

void backing_close(struct backing *b)
{
	if (b->kind == BACKING_NBD && b->nbd) {
		nbd_shutdown(b->nbd, 0);
		nbd_close(b->nbd);
		b->nbd = NULL;
	}
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}

int backing_pread(struct backing *b, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	if (b->kind == BACKING_NBD)
		return nbd_pread(b->nbd, buf, len, off, 0) < 0 ? -EIO : 0;
	while (len) {
		ssize_t n = pread(b->fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) { /* past EOF of a sparse store: reads as zeros */
			memset(p, 0, len);
			return 0;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int backing_pwrite(struct backing *b, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	if (b->kind == BACKING_NBD)
		return nbd_pwrite(b->nbd, buf, len, off, 0) < 0 ? -EIO : 0;
	while (len) {
		ssize_t n = pwrite(b->fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int backing_flush(struct backing *b)
{
	if (b->kind == BACKING_NBD)
		return nbd_flush(b->nbd, 0) < 0 ? -EIO : 0;
	return fdatasync(b->fd) < 0 ? -errno : 0;
}
