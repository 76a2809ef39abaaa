/* hv/allowlist: ward-hv's seccomp allowlists (the generic lockdown is
 * src/lib/sandbox.h). Order, forced by the kernel:
 *   sandbox_isolate()  single-threaded, after /dev/kvm, guest memory and the
 *                      backend sockets are open (src/lib/sandbox.c)
 *   hv_sandbox_lock()  after setup, before the vCPUs run: privileges dropped,
 *                      the VMM allowlist on every thread (TSYNC)
 *   hv_sandbox_vcpu()  each vCPU thread narrows itself further. */
#ifndef WARD_HV_ALLOWLIST_H
#define WARD_HV_ALLOWLIST_H

#include <stddef.h>

#include "sandbox.h"

int hv_sandbox_lock(const struct sandbox_cfg *c, char *err, size_t errlen);
int hv_sandbox_vcpu(const struct sandbox_cfg *c);

/* Test builds: WARD_HV_TEST_FORBIDDEN=vmm|vcpu. */
#define hv_sandbox_test_forbidden(kind) sandbox_test_forbidden("WARD_HV_TEST_FORBIDDEN", kind)

#endif
