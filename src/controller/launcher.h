/* launcher: the one part of ward-controller that may start processes.
 * Forked before the controller locks itself down (seccomp filters and
 * Landlock domains are inherited across fork and execve, and ward-hv and
 * ward-blk need calls the controller must never make), it holds the two
 * verified executables and starts them on typed requests over a socketpair
 * (OpenBSD vmd's parent, Chromium's zygote). Each process it starts is made
 * with CLONE_PARENT: the controller's own child, waited for as before. */
#ifndef WARD_CONTROLLER_LAUNCHER_H
#define WARD_CONTROLLER_LAUNCHER_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum launch_image { LAUNCH_HV = 1, LAUNCH_BLK = 2, LAUNCH_NET = 3 };

#define LAUNCH_MAX_FDS 6	/* ward-hv: image + VOL_MAX card sockets + one ENI's;
				 * + go fd + console <= FDPASS_MAX */

struct launch_req {
	enum launch_image image;
	char *const *argv, *const *envp;
	const int *fds;		/* become fds 3, 4, ... of the new process */
	unsigned n_fds;
	bool null_stdout;	/* fd 1 to /dev/null too (fd 0 always is) */
	int stdout_fd;		/* > 0: the fd that becomes fd 1 (ward-hv's console
				 * pipe; wins over null_stdout); 0 or -1: none, so
				 * a request that does not name it passes none */
	const cpu_set_t *cpus;	/* NULL: keep the card CPUs */
	int go_fd;		/* -1, or exec only after one byte from it (EOF: exit 127) */
};

/* The images the launcher will ever run: sealed memfds (fd >= 0) or, in
 * the development build, paths. */
struct launcher_images {
	int hv_fd, blk_fd, net_fd;
	const char *hv_path, *blk_path, *net_path;
	/* The uids and gids a new process may be given: id_lo to id_hi
	 * (the controller's --uid-base range); 0 and 0: 1000 and up. */
	unsigned long id_lo, id_hi;
};

/* Fork the launcher; call while single-threaded, before the lockdown and
 * before any secret or untrusted input is in memory. */
int launcher_start(const struct launcher_images *img, char *err, size_t errlen);

/* Start one process: its pid (a child of the caller) or negative errno
 * (-ENOEXEC: no launcher was started; -EPERM: the launcher refused). */
pid_t launcher_spawn(const struct launch_req *r, char *err, size_t errlen);

/* Close the channel (the launcher exits on EOF) and reap it. */
void launcher_stop(void);

/* Stops a card (ward-blk, ward-net) through its pidfd: SIGTERM, then
 * SIGKILL if it has not exited within ms; reaps it when it is our child.
 * name is for the log. The pidfd stays open. */
void launcher_stop_card(int pidfd, pid_t pid, bool child, int ms, const char *name);

#endif
