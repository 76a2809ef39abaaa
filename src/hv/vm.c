/* vm: creation of the KVM VM — in-kernel irqchip (PIC, IOAPIC, LAPICs), PIT,
 * guest memory slots — and the stop/IRQ primitives shared by the devices. */
#include "hv/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"

/* Three pages the VMX implementation needs below 4 GiB, inside the MMIO hole
 * and outside anything we map (same place QEMU and kvmtool use). */
#define KVM_TSS_ADDR      0xfffbd000ULL
#define KVM_IDENTITY_ADDR 0xfffbc000ULL

void vm_stop(struct vm *vm, int status)
{
	bool expected = false;
	uint64_t one = 1;

	if (atomic_compare_exchange_strong(&vm->stopping, &expected, true)) {
		vm->exit_status = status;
		(void)!write(vm->stop_efd, &one, sizeof(one));
	}
}

int vm_irq_line(struct vm *vm, uint32_t gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = (uint32_t)level };

	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}

static int set_slot(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *host)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};

	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno : 0;
}

int vm_create(struct vm *vm, uint64_t mem_bytes, uint64_t huge_page, char *err, size_t errlen)
{
	struct kvm_pit_config pit = { .flags = 0 };
	struct mem_region regs[2];
	int n, rc;

	vm->kvm_fd = vm->vm_fd = -1;
	vm->mem.fd = -1;
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		return -errno;
	}
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open /dev/kvm: %s (is KVM enabled and are you in the kvm group?)",
			 strerror(errno));
		goto err;
	}
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		rc = -ENOTSUP;
		snprintf(err, errlen, "/dev/kvm speaks an unexpected API version");
		goto err;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "KVM_CREATE_VM failed: %s", strerror(errno));
		goto err;
	}
	/* Only VMX needs these; other implementations may refuse them. */
	(void)ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR);
	{
		uint64_t idmap = KVM_IDENTITY_ADDR;

		(void)ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		rc = -errno;
		snprintf(err, errlen, "KVM_CREATE_IRQCHIP failed: %s", strerror(errno));
		goto err;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		rc = -errno;
		snprintf(err, errlen, "KVM_CREATE_PIT2 failed: %s", strerror(errno));
		goto err;
	}
	rc = mem_create(&vm->mem, mem_bytes, huge_page, err, errlen);
	if (rc)
		goto err;
	n = mem_regions(&vm->mem, regs);
	for (int i = 0; i < n; i++) {
		rc = set_slot(vm, (uint32_t)i, regs[i].gpa, regs[i].size, vm->mem.host + regs[i].offset);
		if (rc) {
			snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION failed: %s", strerror(-rc));
			goto err;
		}
	}
	return 0;
err:
	vm_destroy(vm);
	return rc;
}

void vm_destroy(struct vm *vm)
{
	mem_destroy(&vm->mem);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	vm->vm_fd = vm->kvm_fd = vm->stop_efd = -1;
}
