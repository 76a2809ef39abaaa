/* test_boot_kvm: boots the loaders' output on a real KVM vCPU. Tiny kernels
 * (a PVH ELF and a bzImage with a 64-bit entry) report through port 0xf4
 * what the entry state gave them, so the register setup of boot_setup_vcpu
 * is checked by the CPU, not by reading back our own structures.
 * Exits 77 (skip) where /dev/kvm cannot be used. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "boot_test.h"
#include "hv/boot/boot.h"
#include "hv/boot/boot_priv.h"

/* x86 code the KVM test runs: out %eax (= ebx/rsi) to 0xf4, then hlt. */
static const uint8_t pvh_code[] = {
	0x89, 0xd8,             /* mov %ebx, %eax */
	0x66, 0xba, 0xf4, 0x00, /* mov $0xf4, %dx */
	0xef,                   /* out %eax, (%dx) */
	0xf4,                   /* hlt */
};

/* 64-bit entry: prove long mode by computing 1 from a 64-bit immediate,
 * then out %eax to 0xf4 twice: 1, then the low half of %rsi. */
static const uint8_t linux64_code[] = {
	0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	                              /* movabs $0x100000000, %rax */
	0x48, 0xc1, 0xe8, 0x20,       /* shr $32, %rax */
	0x66, 0xba, 0xf4, 0x00,       /* mov $0xf4, %dx */
	0xef,                         /* out %eax, (%dx) */
	0x48, 0x89, 0xf0,             /* mov %rsi, %rax */
	0xef,                         /* out %eax, (%dx) */
	0xf4,                         /* hlt */
};

/* Run until the next port 0xf4 write; return its 32-bit value. */
static uint32_t run_to_out(struct tvm *v)
{
	for (int i = 0; i < 100; i++) {
		struct kvm_regs regs;
		int rc = ioctl(v->vcpu, KVM_RUN, 0);

		if (rc < 0 && errno == EINTR)
			continue;
		assert_int_equal(rc, 0);
		switch (v->run->exit_reason) {
		case KVM_EXIT_IO:
			if (v->run->io.port == 0xf4 &&
			    v->run->io.direction == KVM_EXIT_IO_OUT) {
				uint32_t val;

				assert_int_equal(v->run->io.size, 4);
				memcpy(&val, (uint8_t *)v->run + v->run->io.data_offset, 4);
				return val;
			}
			continue;
		default:
			ioctl(v->vcpu, KVM_GET_REGS, &regs);
			fail_msg("unexpected exit %u at rip 0x%llx", v->run->exit_reason,
				 (unsigned long long)regs.rip);
		}
	}
	fail_msg("no write to port 0xf4");
	return 0;
}

static void run_to_hlt(struct tvm *v)
{
	int rc;

	do
		rc = ioctl(v->vcpu, KVM_RUN, 0);
	while (rc < 0 && errno == EINTR);
	assert_int_equal(rc, 0);
	assert_int_equal(v->run->exit_reason, KVM_EXIT_HLT);
}

static void test_pvh_entry_state(void **state)
{
	struct tvm v;
	struct img k = make_elf(true, pvh_code, sizeof(pvh_code));
	struct boot_image bi = { .kernel = k.buf, .kernel_len = k.len };
	struct boot_entry e;
	struct kvm_sregs s;
	struct kvm_regs r;
	char err[256];

	tvm_open(&v, 64 * MIB);
	assert_int_equal(boot_load(v.mem, &bi, 1, &e, err, sizeof(err)), 0);
	assert_int_equal(boot_setup_vcpu(v.vcpu, &e, v.mem, err, sizeof(err)), 0);
	assert_int_equal(ioctl(v.vcpu, KVM_GET_SREGS, &s), 0);
	assert_int_equal(s.cr0 & 0x80000001, 1);          /* PE, no PG */
	assert_int_equal(s.efer & 0x500, 0);
	assert_int_equal(s.cs.db, 1);
	assert_int_equal(s.cs.l, 0);
	assert_int_equal(s.cs.limit, 0xffffffff);
	assert_int_equal(ioctl(v.vcpu, KVM_GET_REGS, &r), 0);
	assert_int_equal(r.rflags, 2);
	assert_int_equal(r.rip, ELF_LOAD);
	/* The guest reads %ebx: the start_info address. */
	assert_int_equal(run_to_out(&v), BOOT_START_INFO);
	run_to_hlt(&v);
	free(k.buf);
	tvm_close(&v);
}

static void test_linux64_entry_state(void **state)
{
	struct tvm v;
	struct img k = make_bzimage(BZ_PM_SIZE, linux64_code, sizeof(linux64_code));
	struct boot_image bi = { .kernel = k.buf, .kernel_len = k.len,
				 .cmdline = "console=ttyS0" };
	struct boot_entry e;
	struct kvm_sregs s;
	char err[256];

	tvm_open(&v, 64 * MIB);
	assert_int_equal(boot_load(v.mem, &bi, 1, &e, err, sizeof(err)), 0);
	assert_int_equal(boot_setup_vcpu(v.vcpu, &e, v.mem, err, sizeof(err)), 0);
	/* 1 only if the movabs/shr ran as 64-bit code */
	assert_int_equal(run_to_out(&v), 1);
	assert_int_equal(run_to_out(&v), BOOT_ZERO_PAGE);
	run_to_hlt(&v);
	assert_int_equal(ioctl(v.vcpu, KVM_GET_SREGS, &s), 0);
	assert_true(s.efer & 0x400);                      /* LMA */
	assert_int_equal(s.cs.selector, 0x10);
	assert_int_equal(s.cs.l, 1);
	assert_int_equal(s.ds.selector, 0x18);
	assert_int_equal(s.cr3, BOOT_PML4);
	free(k.buf);
	tvm_close(&v);
}

static void test_bad_mode(void **state)
{
	struct tvm v;
	struct boot_entry e = { .mode = 7 };
	char err[256];

	tvm_open(&v, 64 * MIB);
	assert_int_equal(boot_setup_vcpu(v.vcpu, &e, v.mem, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown boot mode"));
	tvm_close(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pvh_entry_state),
		cmocka_unit_test(test_linux64_entry_state),
		cmocka_unit_test(test_bad_mode),
	};
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm;

	if (kvm < 0) {
		printf("SKIP: /dev/kvm: %s\n", strerror(errno));
		return 77;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		printf("SKIP: KVM_CREATE_VM: %s\n", strerror(errno));
		close(kvm);
		return 77;
	}
	close(vm);
	close(kvm);
	alarm(120);   /* ring 0 may be emulated: slow, but never this slow */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
