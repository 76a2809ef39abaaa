/* hv/allowlist: the seccomp allowlists of ward-hv's two thread kinds. Every
 * syscall here has its reason; anything else kills the process. Counts are
 * published in docs/hv.md. */
#include "hv/allowlist.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Device-model ioctls on the VM fd: ring setup at DRIVER_OK and reset run on
 * the vCPU thread that trapped; INTx delivery runs on the device thread. */
static const unsigned long device_ioctls[] = {
	KVM_IOEVENTFD, KVM_IRQFD, KVM_IRQ_LINE, KVM_SET_GSI_ROUTING,
	KVM_SIGNAL_MSI, KVM_CHECK_EXTENSION,
};

/* Both thread kinds: the ward runtime, vhost-user traffic, eventfds,
 * device ioctls, KVM_RUN and KVM_GET_REGS (crash report). */
static int allow_hv_common(scmp_filter_ctx ctx)
{
	static const int calls[] = {
		SCMP_SYS(eventfd2),   /* kick/call eventfds at DRIVER_OK */
		SCMP_SYS(sendmsg),    /* vhost-user requests (ring setup, reset) */
		SCMP_SYS(recvmsg),    /* vhost-user replies */
		SCMP_SYS(recvfrom),   /* vhost-user reply payloads (recv) */
	};
	int rc = sandbox_allow_runtime(ctx);

	for (size_t i = 0; !rc && i < sizeof(calls) / sizeof(calls[0]); i++)
		rc = sandbox_allow(ctx, calls[i]);
	for (size_t i = 0; !rc && i < sizeof(device_ioctls) / sizeof(device_ioctls[0]); i++)
		rc = sandbox_allow_if(ctx, SCMP_SYS(ioctl), 1, SCMP_CMP_EQ, device_ioctls[i], 0);
	if (!rc)
		rc = sandbox_allow_if(ctx, SCMP_SYS(ioctl), 1, SCMP_CMP_EQ, KVM_RUN, 0);
	if (!rc)
		rc = sandbox_allow_if(ctx, SCMP_SYS(ioctl), 1, SCMP_CMP_EQ, KVM_GET_REGS, 0);
	return rc;
}

int hv_sandbox_lock(const struct sandbox_cfg *c, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int rc;

	if (!c->enabled)
		return 0;
	/* Headroom for the eventfds a guest's DRIVER_OK creates. */
	rc = sandbox_drop_privileges(c, 64, err, errlen);
	if (rc)
		return rc;
	/* One filter for every thread that exists now (main, device I/O thread,
	 * vCPUs waiting to start); the vCPU threads then add their own, so the
	 * VMM filter must allow everything a vCPU needs as well. */
	ctx = sandbox_filter_new(true);
	rc = ctx ? allow_hv_common(ctx) : -ENOMEM;
	if (!rc)
		rc = sandbox_allow(ctx, SCMP_SYS(poll));    /* main wait, device thread */
	if (!rc)
		rc = sandbox_allow(ctx, SCMP_SYS(seccomp)); /* vCPUs narrow themselves */
	/* The exit wipe finds guest memory's populated extents (mem.c):
	 * lseek with SEEK_DATA or SEEK_HOLE only, never a plain seek. */
	if (!rc)
		rc = sandbox_allow_if(ctx, SCMP_SYS(lseek), 2, SCMP_CMP_EQ, SEEK_DATA, 0);
	if (!rc)
		rc = sandbox_allow_if(ctx, SCMP_SYS(lseek), 2, SCMP_CMP_EQ, SEEK_HOLE, 0);
	rc = sandbox_filter_load(ctx, rc, c);
	if (rc) {
		snprintf(err, errlen, "sandbox: loading the seccomp allowlist: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

int hv_sandbox_vcpu(const struct sandbox_cfg *c)
{
	scmp_filter_ctx ctx;

	if (!c->enabled)
		return 0;
	ctx = sandbox_filter_new(false);
	return sandbox_filter_load(ctx, ctx ? allow_hv_common(ctx) : 0, c);
}
