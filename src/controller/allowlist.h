/* controller/allowlist: ward-controller's lockdown (the generic parts are
 * src/lib/sandbox.h). Order in main.c: CPUs, the boot chain, the launcher
 * (launcher.h: it alone starts ward-hv and ward-blk), the TPM, the audit
 * log, instances and cards re-adopted (pidfd_getfd), then ctl_sandbox_lock()
 * while single-threaded, then the API (the audit flusher thread starts
 * there and inherits both the Landlock domain and the filter). */
#ifndef WARD_CONTROLLER_ALLOWLIST_H
#define WARD_CONTROLLER_ALLOWLIST_H

#include <stddef.h>

#include "sandbox.h"

#define CTL_MAX_VOLUME_DIRS 4	/* --volume-dir */
#define CTL_MAX_NBD_PORTS 4	/* --nbd-port */

struct ctl_sandbox {
	const char *state_dir;		/* read-write: store, audit log, records */
	const char *tcti;		/* device:PATH, or swtpm/mssim host and port */
	const char *listen;		/* ADDR:PORT: the one port bind may use */
	const char *port_file;		/* its directory is writable, or NULL */
	const char *images_dir;		/* guest images read per launch, or NULL */
	const char *tls[3];		/* API cert, key, client CA (read at API start) */
	const char *kms_url;		/* its port is the one connect may reach, or NULL */
	const char *kms_files[3];	/* KMS client cert, key, CA (read per request) */
	/* Where volumes' backing stores are: files opened read-write per
	 * ATTACH under these directories, NBD servers on these TCP ports. */
	const char *volume_dirs[CTL_MAX_VOLUME_DIRS];
	unsigned short nbd_ports[CTL_MAX_NBD_PORTS];
};

/* The port file's directory becomes writable under Landlock (the file is
 * written beside itself and renamed): refuse a directory that would hand
 * the locked-down controller the system — /, /etc, /usr, /var, /home,
 * /root, /boot, /run and /proc, /sys, /dev or anything beneath /etc,
 * /usr, /boot, /proc, /sys, /dev — and one that anyone may write without
 * the sticky bit (others could swap the file). The directory is resolved
 * (realpath) first. 0, or -EINVAL / -errno with err naming --port-file. */
int ctl_port_dir_check(const char *port_file, char *dir, size_t dirlen, char *err,
		       size_t errlen);

/* Before the lockdown: load what the controller could otherwise only
 * load later with calls the filter forbids (the TCTI library that a
 * firmware update's new TPM connection dlopen()s, OpenSSL's config). */
void ctl_sandbox_prepare(const char *tcti);

/* Landlock (state dir read-write, /proc and the hugepage counters
 * read-only, the named files; TCP bind to the API port, connect to the
 * TPM and KMS ports) and the seccomp allowlist. 0 or negative errno. */
int ctl_sandbox_lock(const struct ctl_sandbox *s, char *err, size_t errlen);

/* Test builds: WARD_CTL_TEST_FORBIDDEN=main[/CALL] (sandbox.h). */
#define ctl_sandbox_test_forbidden(kind) sandbox_test_forbidden("WARD_CTL_TEST_FORBIDDEN", kind)

#endif
