/* boot_cpu: the boot vCPU's starting state — GDT and identity page tables
 * in guest RAM, then segment, control and general registers through
 * KVM_SET_SREGS/KVM_SET_REGS for the PVH (32-bit protected mode) or Linux
 * 64-bit (long mode) entry protocol. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "hv/boot/boot_priv.h"

#define CR0_PE    (1ULL << 0)
#define CR0_ET    (1ULL << 4)
#define CR0_PG    (1ULL << 31)
#define CR4_PAE   (1ULL << 5)
#define EFER_LME  (1ULL << 8)
#define EFER_LMA  (1ULL << 10)

#define PTE_P     0x001ULL
#define PTE_RW    0x002ULL
#define PTE_PS    0x080ULL

/* Descriptor access byte | flags nibble << 12 (G, D/B, L, AVL). */
#define DESC_CODE64 0xa09b   /* P, S, exec/read accessed; G, L */
#define DESC_CODE32 0xc09b   /* P, S, exec/read accessed; G, D */
#define DESC_DATA   0xc093   /* P, S, read/write accessed; G, B */
#define DESC_TSS    0x008b   /* P, busy TSS */

static uint64_t desc(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000) << 32) |
	       ((uint64_t)(flags & 0xf0ff) << 40) |
	       ((uint64_t)(limit & 0xf0000) << 32) |
	       ((uint64_t)(base & 0x00ffffff) << 16) |
	       (limit & 0xffff);
}

/* The GDT both protocols use: boot.rst wants __BOOT_CS 0x10 and
 * __BOOT_DS 0x18; PVH leaves selectors to us, so it gets the same slots
 * with a 32-bit code segment. */
static void gdt_for(enum boot_mode mode, uint64_t gdt[BOOT_GDT_ENTRIES])
{
	memset(gdt, 0, BOOT_GDT_ENTRIES * sizeof(gdt[0]));
	gdt[BOOT_SEL_CODE >> 3] = desc(mode == BOOT_LINUX64 ? DESC_CODE64 :
				       DESC_CODE32, 0, 0xfffff);
	gdt[BOOT_SEL_DATA >> 3] = desc(DESC_DATA, 0, 0xfffff);
	gdt[BOOT_SEL_TSS >> 3] = desc(DESC_TSS, 0, 0x67);
}

int boot_write_gdt(struct boot_ctx *c, enum boot_mode mode)
{
	uint64_t gdt[BOOT_GDT_ENTRIES];
	uint8_t *dst = mem_gpa(c->mem, BOOT_GDT, sizeof(gdt));

	if (!dst)
		return boot_err(c, -ENOMEM, "guest RAM does not cover the GDT");
	gdt_for(mode, gdt);
	memcpy(dst, gdt, sizeof(gdt));
	return 0;
}

int boot_write_page_tables(struct boot_ctx *c)
{
	uint8_t *pml4 = mem_gpa(c->mem, BOOT_PML4, 4096);
	uint8_t *pdpt = mem_gpa(c->mem, BOOT_PDPT, 4096);
	uint8_t *pd = mem_gpa(c->mem, BOOT_PD, 4 * 4096);

	if (!pml4 || !pdpt || !pd)
		return boot_err(c, -ENOMEM, "guest RAM does not cover the page tables");
	/* Identity-map the first 4 GiB with 2 MiB pages: boot.rst wants the
	 * kernel, its init_size, the zero page and the command line mapped;
	 * all of them lie below the hole. */
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	boot_wr64(pml4, BOOT_PDPT | PTE_P | PTE_RW);
	for (int i = 0; i < 4; i++)
		boot_wr64(pdpt + i * 8, (BOOT_PD + i * 4096ULL) | PTE_P | PTE_RW);
	for (uint64_t i = 0; i < 4 * 512; i++)
		boot_wr64(pd + i * 8, (i << 21) | PTE_P | PTE_RW | PTE_PS);
	return 0;
}

static struct kvm_segment seg_from(uint64_t d, uint16_t sel)
{
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	struct kvm_segment s = {
		.base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000),
		.selector = sel,
		.type = (d >> 40) & 0xf,
		.s = (d >> 44) & 1,
		.dpl = (d >> 45) & 3,
		.present = (d >> 47) & 1,
		.avl = (d >> 52) & 1,
		.l = (d >> 53) & 1,
		.db = (d >> 54) & 1,
		.g = (d >> 55) & 1,
	};

	s.limit = s.g ? (limit << 12) | 0xfff : limit;
	return s;
}

static int fail(char *err, size_t errlen, const char *what)
{
	int rc = -errno;

	if (err && errlen)
		snprintf(err, errlen, "%s failed: %s", what, strerror(errno));
	return rc;
}

int boot_setup_vcpu(int vcpu_fd, const struct boot_entry *e,
		    const struct guest_mem *mem, char *err, size_t errlen)
{
	uint64_t gdt[BOOT_GDT_ENTRIES];
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu;
	struct kvm_segment data;

	if (e->mode != BOOT_PVH && e->mode != BOOT_LINUX64) {
		if (err && errlen)
			snprintf(err, errlen, "unknown boot mode %d", (int)e->mode);
		return -EINVAL;
	}
	if (!mem_gpa(mem, BOOT_GDT, sizeof(gdt)) ||
	    (e->mode == BOOT_LINUX64 && !mem_gpa(mem, e->pml4, 4096))) {
		if (err && errlen)
			snprintf(err, errlen, "boot tables are outside guest RAM");
		return -EINVAL;
	}
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return fail(err, errlen, "KVM_GET_SREGS");

	gdt_for(e->mode, gdt);
	sregs.gdt.base = BOOT_GDT;
	sregs.gdt.limit = sizeof(gdt) - 1;
	/* No IDT until the kernel installs one: a fault before that is a
	 * triple fault, i.e. a clean VM shutdown. */
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cs = seg_from(gdt[BOOT_SEL_CODE >> 3], BOOT_SEL_CODE);
	data = seg_from(gdt[BOOT_SEL_DATA >> 3], BOOT_SEL_DATA);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr = seg_from(gdt[BOOT_SEL_TSS >> 3], BOOT_SEL_TSS);

	/* ET is hardwired on anything with an FPU; CD/NW from reset are
	 * cleared so the guest runs with caches on. */
	sregs.cr0 = CR0_PE | CR0_ET;
	sregs.cr4 = 0;
	sregs.efer = 0;
	sregs.cr3 = 0;
	if (e->mode == BOOT_LINUX64) {
		sregs.cr3 = e->pml4;
		sregs.cr4 = CR4_PAE;
		sregs.cr0 |= CR0_PG;
		sregs.efer = EFER_LME | EFER_LMA;
	}
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return fail(err, errlen, "KVM_SET_SREGS");

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = e->entry;
	if (e->mode == BOOT_PVH) {
		regs.rbx = e->boot_arg;
	} else {
		regs.rsi = e->boot_arg;
		regs.rsp = BOOT_STACK_TOP;
		regs.rbp = BOOT_STACK_TOP;
	}
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return fail(err, errlen, "KVM_SET_REGS");

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;        /* x87 reset value: all exceptions masked */
	fpu.mxcsr = 0x1f80;     /* SSE reset value */
	if (ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0)
		return fail(err, errlen, "KVM_SET_FPU");
	return 0;
}
