/* sandbox: namespaces, empty root, privilege drop, Landlock and per-thread
 * seccomp allowlists of ward-hv. Every allowed syscall has its reason next
 * to it; anything else kills the process (SECCOMP_RET_KILL_PROCESS). */
#include "hv/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/kvm.h>
#include <linux/landlock.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

#ifndef CAP_LAST_CAP
#define CAP_LAST_CAP 40
#endif

#if defined(__SANITIZE_ADDRESS__)
#define WARD_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WARD_SANITIZED 1
#endif
#endif

#ifdef WARD_SANITIZED
#include <sanitizer/lsan_interface.h>
#endif

static int fail(char *err, size_t errlen, int rc, const char *what)
{
	snprintf(err, errlen, "sandbox: %s: %s", what, strerror(-rc));
	return rc;
}

/* An empty, read-only tmpfs becomes "/": nothing to open, exec or pivot to.
 * Any existing directory can serve as the mount point inside our private
 * mount namespace; /proc always exists. */
static int empty_root(char *err, size_t errlen)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail(err, errlen, -errno, "making mounts private");
	if (mount("ward-hv-root", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=4k,nr_inodes=2,mode=0555") < 0)
		return fail(err, errlen, -errno, "mounting the empty root");
	if (chdir("/proc") < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		return fail(err, errlen, -errno, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return fail(err, errlen, -errno, "detaching the old root");
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return fail(err, errlen, -errno, "remounting the root read-only");
	return 0;
}

/* Landlock: handle every filesystem access right this kernel knows and
 * grant none. Best effort: reported, not fatal, where unsupported. */
static void landlock_deny_all(void)
{
	struct landlock_ruleset_attr attr = { 0 };
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	int fd;

	if (abi < 1) {
		log_warn("Landlock not available on this kernel", "errno=%d", errno);
		return;
	}
	attr.handled_access_fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;  /* ABI 1 */
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER << 1;    /* TRUNCATE */
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd < 0 || syscall(SYS_landlock_restrict_self, fd, 0) < 0)
		log_warn("Landlock restriction failed", "errno=%d", errno);
	if (fd >= 0)
		close(fd);
}

int sandbox_isolate(const struct sandbox_cfg *c, char *err, size_t errlen)
{
	struct rlimit no_core = { 0, 0 };
	int rc;

	if (!c->enabled) {
		log_warn("sandbox disabled by --no-sandbox: for debugging only");
		return 0;
	}
#ifdef WARD_SANITIZED
	/* LeakSanitizer's exit-time scan needs /proc and ptrace, which the
	 * sandbox takes away: scan now (this also disables the exit scan). */
	__lsan_do_leak_check();
#endif
	/* Guest memory and backend state must never reach a core file. */
	if (setrlimit(RLIMIT_CORE, &no_core) < 0 || prctl(PR_SET_DUMPABLE, 0) < 0)
		return fail(err, errlen, -errno, "disabling core dumps");
	if (geteuid() == 0) {
		if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
			return fail(err, errlen, -errno, "unshare of mount/net/ipc/uts namespaces");
		rc = empty_root(err, errlen);
		if (rc)
			return rc;
		(void)!sethostname("ward-hv", 7);
	} else {
		log_warn("not started as root: no namespaces, empty root or uid change; "
			 "no_new_privs, Landlock and seccomp still apply");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(err, errlen, -errno, "no_new_privs");
	landlock_deny_all();
	return 0;
}

static int drop_privileges(const struct sandbox_cfg *c, char *err, size_t errlen)
{
	if (geteuid() != 0)
		return 0;
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return fail(err, errlen, -errno, "dropping the capability bounding set");
	if (setgroups(0, NULL) < 0 || setresgid(c->gid, c->gid, c->gid) < 0 ||
	    setresuid(c->uid, c->uid, c->uid) < 0)
		return fail(err, errlen, -errno, "changing to the instance uid/gid");
	/* A uid change from 0 clears the capability sets; make sure. */
	if (setresuid(0, 0, 0) == 0)
		return fail(err, errlen, -EPERM, "could regain root after dropping it");
	return 0;
}

/* Highest open fd + headroom for the eventfds a guest's DRIVER_OK creates. */
static void tighten_nofile(void)
{
	int top = 0;
	struct rlimit rl;

	for (int fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			top = fd;
	rl.rlim_cur = rl.rlim_max = (rlim_t)top + 1 + 4 * 16;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

#define ALLOW(ctx, name) \
	do { if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(name), 0))) goto out; } while (0)
#define ALLOW_IOCTL(ctx, req) \
	do { if ((rc = allow_if(ctx, SCMP_SYS(ioctl), 1, SCMP_CMP_EQ, (req), 0))) goto out; } while (0)

/* Allow syscall `nr` when argument `arg` compares `op` with a (and b for
 * masked compares). Spelled out: libseccomp's SCMP_Ax macros leave fields
 * implicit, which clang's -Wmissing-field-initializers rejects. */
static int allow_if(scmp_filter_ctx ctx, int nr, unsigned int arg, enum scmp_compare op,
		    scmp_datum_t a, scmp_datum_t b)
{
	struct scmp_arg_cmp cmp = { .arg = arg, .op = op, .datum_a = a, .datum_b = b };

	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp);
}

/* Syscalls both thread kinds need. */
static int allow_common(scmp_filter_ctx ctx)
{
	int rc = 0;

	ALLOW(ctx, read);           /* eventfds, signalfd, vhost-user replies */
	ALLOW(ctx, write);          /* console, eventfds, log lines */
	ALLOW(ctx, close);          /* eventfds of a reset device */
	ALLOW(ctx, futex);          /* the bus lock, thread join */
	ALLOW(ctx, rt_sigreturn);   /* return from the vCPU kick handler */
	ALLOW(ctx, rt_sigprocmask); /* glibc around thread exit */
	ALLOW(ctx, exit);           /* thread exit */
	ALLOW(ctx, exit_group);     /* process exit */
	ALLOW(ctx, madvise);        /* glibc returns a dead thread's stack, free() */
	ALLOW(ctx, munmap);         /* free() of large blocks, teardown */
	ALLOW(ctx, brk);            /* malloc */
	ALLOW(ctx, getpid);         /* pthread_kill */
	ALLOW(ctx, gettid);         /* pthread_kill */
	ALLOW(ctx, tgkill);         /* kick a vCPU out of KVM_RUN */
	ALLOW(ctx, eventfd2);       /* kick/call eventfds at DRIVER_OK */
	ALLOW(ctx, sendmsg);        /* vhost-user requests (ring setup, reset) */
	ALLOW(ctx, recvmsg);        /* vhost-user replies */
	ALLOW(ctx, recvfrom);       /* vhost-user reply payloads (recv) */
	ALLOW(ctx, clock_gettime);  /* when the vDSO is unavailable */
	ALLOW(ctx, restart_syscall);
	/* malloc may map memory, never executable memory. */
	if ((rc = allow_if(ctx, SCMP_SYS(mmap), 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) ||
	    (rc = allow_if(ctx, SCMP_SYS(mprotect), 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)))
		goto out;
	/* Device-model ioctls on the VM fd (virtio-pci at DRIVER_OK / reset,
	 * INTx delivery). */
	ALLOW_IOCTL(ctx, KVM_IOEVENTFD);
	ALLOW_IOCTL(ctx, KVM_IRQFD);
	ALLOW_IOCTL(ctx, KVM_IRQ_LINE);
	ALLOW_IOCTL(ctx, KVM_SET_GSI_ROUTING);
	ALLOW_IOCTL(ctx, KVM_SIGNAL_MSI);
	ALLOW_IOCTL(ctx, KVM_CHECK_EXTENSION);
#ifdef WARD_SANITIZED
	ALLOW(ctx, sigaltstack);    /* sanitizer runtime, per thread */
	ALLOW(ctx, prlimit64);
	ALLOW(ctx, sched_yield);
#endif
out:
	return rc;
}

int sandbox_lock(const struct sandbox_cfg *c, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int rc;

	if (!c->enabled)
		return 0;
	tighten_nofile();
	rc = drop_privileges(c, err, errlen);
	if (rc)
		return rc;
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return fail(err, errlen, -ENOMEM, "seccomp_init");
	/* One filter for every thread that exists now (main, device I/O thread,
	 * vCPUs waiting to start); vCPU threads then add their own. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!rc) /* no_new_privs is already set (sandbox_isolate) */
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (!rc)
		rc = allow_common(ctx);
	if (!rc) {
		ALLOW(ctx, poll);       /* main thread (stop eventfd + signalfd), device I/O thread */
		ALLOW(ctx, seccomp);    /* vCPU threads narrow themselves */
		ALLOW_IOCTL(ctx, KVM_RUN);      /* vCPU threads (narrowed below) */
		ALLOW_IOCTL(ctx, KVM_GET_REGS); /* crash report */
	}
out:
	if (!rc)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc)
		return fail(err, errlen, rc, "loading the seccomp allowlist");
	return 0;
}

int sandbox_vcpu(const struct sandbox_cfg *c)
{
	scmp_filter_ctx ctx;
	int rc;

	if (!c->enabled)
		return 0;
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (!rc)
		rc = allow_common(ctx);
	if (!rc) {
		ALLOW_IOCTL(ctx, KVM_RUN);
		ALLOW_IOCTL(ctx, KVM_GET_REGS); /* crash report */
	}
out:
	if (!rc)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc;
}

void sandbox_test_forbidden(const char *thread_kind)
{
#ifdef WARD_TEST_HOOKS
	const char *want = getenv("WARD_HV_TEST_FORBIDDEN");

	if (!want || strcmp(want, thread_kind) != 0)
		return;
	fprintf(stderr, "ward-hv: test hook: %s thread attempts socket()\n", thread_kind);
	(void)socket(AF_INET, SOCK_STREAM, 0);
	fprintf(stderr, "ward-hv: test hook: socket() was NOT blocked\n");
#else
	(void)thread_kind;
#endif
}
