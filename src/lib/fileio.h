/* fileio: the one way ward processes read and write whole files (state,
 * keys, records, configuration). Only regular files are ever opened, never
 * blocking on a FIFO; new files appear complete or not at all; replaced
 * files are the old or the new, never a mix, across a crash or power cut.
 * The durability rules are in docs/architecture.md ("Files on disk"). */
#ifndef WARD_FILEIO_H
#define WARD_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* The last path component may be a symbolic link. Only for paths a user
 * named (command-line arguments); state files never follow links. */
#define FILEIO_FOLLOW 0x1u

/* Open a regular file. `flags` is O_RDONLY, O_WRONLY or O_RDWR, optionally
 * with O_CREAT, O_EXCL, O_APPEND, O_TRUNC; O_CLOEXEC and O_NOCTTY are
 * always added. The type is checked before the open (a device is never
 * opened) and again on the open fd, which is opened non-blocking (a FIFO
 * cannot stall the open) and made blocking again once it is known to be a
 * regular file. Returns the fd, -EMEDIUMTYPE for a FIFO, socket or device,
 * -EISDIR, -ELOOP for a symlink without FILEIO_FOLLOW, or -errno. */
int fileio_open(const char *path, int flags, mode_t mode, unsigned fflags);

/* Read a whole regular file of at most `max` bytes into a malloc'd buffer,
 * NUL-terminated one past *len (text callers can use it as a string).
 * Short reads and EINTR are handled; a file over `max` is -EFBIG. */
int fileio_read(const char *path, size_t max, unsigned fflags, uint8_t **buf, size_t *len);

/* Same into the caller's buffer of `cap` bytes, e.g. secmem for a secret:
 * nothing of the file passes through other memory. The file must be at
 * most cap - 1 bytes (else -EFBIG); buf[*len] is set to 0. */
int fileio_read_into(const char *path, unsigned fflags, void *buf, size_t cap, size_t *len);

/* Read all of an already open fd from offset 0 (pread), at most `max`
 * bytes, into a malloc'd NUL-terminated buffer. */
int fileio_read_fd(int fd, size_t max, uint8_t **buf, size_t *len);

/* Write all of buf to fd, retrying short writes and EINTR. */
int fileio_write_all(int fd, const void *buf, size_t len);

/* Create `path` with exactly these bytes, or fail with -EEXIST if it
 * exists. Written to a temporary file, fsynced, then moved into place
 * without replacing anything (renameat2 RENAME_NOREPLACE, else link), and
 * the directory fsynced: after a crash the file is absent or complete. */
int fileio_write_new(const char *path, const void *buf, size_t len, mode_t mode);
int fileio_write_newv(const char *path, const struct iovec *iov, int iovcnt, mode_t mode);

/* Atomically replace (or create) `path`: a temporary file with a unique
 * name in the same directory (O_EXCL), every byte written, fsync, rename
 * over path, fsync of the directory. On every failure the temporary file
 * is removed and path is untouched. -ENOSPC is returned as such. */
int fileio_replace(const char *path, const void *buf, size_t len, mode_t mode);
int fileio_replacev(const char *path, const struct iovec *iov, int iovcnt, mode_t mode);

/* fsync the directory holding `path` (after a rename or unlink in it). */
int fileio_fsync_parent(const char *path);
/* fsync the directory `dir` itself. */
int fileio_fsync_dir(const char *dir);

/* Remove the temporary files a killed writer left in `dir` (names
 * ".NAME.tmp-XXXXXXXX"). Call when no writer of that directory runs, e.g.
 * at start-up. Returns the number removed or -errno. */
int fileio_sweep(const char *dir);

/* strerror, with the module's own codes said plainly ("not a regular file
 * (FIFO, socket or device)", "is a symbolic link", "disk full", ...). */
const char *fileio_strerror(int rc);

#ifdef WARD_TEST_HOOKS
/* Called before every write step (op = "write", "fsync", "rename",
 * "fsync-dir"; fd/buf/len set for "write"), for power-cut tests. */
typedef void (*fileio_hook_fn)(const char *op, const char *path, int fd,
			       const void *buf, size_t len);
void fileio_set_test_hook(fileio_hook_fn fn);
#endif

#endif
