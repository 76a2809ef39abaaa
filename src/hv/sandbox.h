/* sandbox: ward-hv's lockdown before the first guest instruction, in the
 * order the kernel allows it (OpenBSD vmd's pledge, done with Linux tools):
 *   sandbox_isolate()  single-threaded, after /dev/kvm, guest memory and the
 *                      backend sockets are open: namespaces, empty root,
 *                      rlimits, not dumpable
 *   sandbox_lock()     after setup, before the vCPUs run: drop uid/gid and
 *                      capabilities, no_new_privs, Landlock, and the seccomp
 *                      allowlist of the VMM threads (all threads, TSYNC)
 *   sandbox_vcpu()     each vCPU thread narrows itself further.
 * The allowlists, with a reason per syscall, are in sandbox.c. */
#ifndef WARD_HV_SANDBOX_H
#define WARD_HV_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct sandbox_cfg {
	uid_t uid;        /* unprivileged uid/gid this instance runs as */
	gid_t gid;
	bool enabled;     /* false only for --no-sandbox (debugging; logged) */
};

int sandbox_isolate(const struct sandbox_cfg *c, char *err, size_t errlen);
int sandbox_lock(const struct sandbox_cfg *c, char *err, size_t errlen);
int sandbox_vcpu(const struct sandbox_cfg *c);

/* Test builds only: WARD_HV_TEST_FORBIDDEN=vmm|vcpu makes that thread kind
 * attempt a forbidden syscall so tests can see the process die of SIGSYS. */
void sandbox_test_forbidden(const char *thread_kind);

#endif
