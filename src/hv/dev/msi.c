/* msi: the GSI routing table of the VM. KVM_SET_GSI_ROUTING replaces the
 * whole table, so the default routes KVM installs with the in-kernel
 * irqchip (ISA IRQs to PIC and IOAPIC, GSI 16-23 to the IOAPIC) are
 * written back every time alongside the MSI routes. */
#include "hv/dev/msi.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "hv/vm.h"

#define MSI_GSI_BASE   24          /* after the IOAPIC's 24 pins */
#define MSI_MAX_ROUTES 128
#define IOAPIC_PINS    24

static struct {
	int n;                           /* GSIs MSI_GSI_BASE.. allocated */
	struct { uint64_t addr; uint32_t data; } r[MSI_MAX_ROUTES];
} msi;

static int push(struct vm *vm)
{
	size_t max = 16 * 2 + (IOAPIC_PINS - 16) + MSI_MAX_ROUTES;
	struct kvm_irq_routing *t;
	uint32_t n = 0;
	int rc = 0;

	t = calloc(1, sizeof(*t) + max * sizeof(t->entries[0]));
	if (!t)
		return -ENOMEM;
	for (uint32_t gsi = 0; gsi < IOAPIC_PINS; gsi++) {
		if (gsi < 16) {
			struct kvm_irq_routing_entry *e = &t->entries[n++];

			e->gsi = gsi;
			e->type = KVM_IRQ_ROUTING_IRQCHIP;
			e->u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
			e->u.irqchip.pin = gsi % 8;
		}
		t->entries[n].gsi = gsi;
		t->entries[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		t->entries[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		t->entries[n++].u.irqchip.pin = gsi;
	}
	for (int i = 0; i < msi.n; i++) {
		struct kvm_irq_routing_entry *e = &t->entries[n++];

		e->gsi = MSI_GSI_BASE + (uint32_t)i;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = (uint32_t)msi.r[i].addr;
		e->u.msi.address_hi = (uint32_t)(msi.r[i].addr >> 32);
		e->u.msi.data = msi.r[i].data;
	}
	t->nr = n;
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, t) < 0)
		rc = -errno;
	free(t);
	return rc;
}

int msi_route_alloc(struct vm *vm)
{
	if (msi.n == MSI_MAX_ROUTES)
		return -ENOSPC;
	msi.r[msi.n].addr = 0;
	msi.r[msi.n].data = 0;
	return MSI_GSI_BASE + msi.n++;
}

int msi_route_set(struct vm *vm, uint32_t gsi, uint64_t addr, uint32_t data)
{
	uint32_t i = gsi - MSI_GSI_BASE;

	if (gsi < MSI_GSI_BASE || i >= (uint32_t)msi.n)
		return -EINVAL;
	if (msi.r[i].addr == addr && msi.r[i].data == data)
		return 0;
	msi.r[i].addr = addr;
	msi.r[i].data = data;
	return push(vm);
}

int msi_signal(struct vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_msi m = {
		.address_lo = (uint32_t)addr,
		.address_hi = (uint32_t)(addr >> 32),
		.data = data,
	};

	return ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &m) < 0 ? -errno : 0;
}

void msi_routes_reset(struct vm *vm)
{
	memset(&msi, 0, sizeof(msi));
}
