/* guest/lib/boot.S: PVH entry of every test guest. 32-bit protected mode,
 * paging off, %ebx -> hvm_start_info; we switch to 64-bit long mode on
 * static identity page tables (first 4 GiB, 2 MiB pages, U/S set so ring-3
 * benchmark loops can touch everything) and call guest_start(). Also holds
 * the exception stubs, the ring-3 jump and the AP real-mode trampoline. */

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define SEL_CODE64	0x08
#define SEL_DATA	0x10
#define SEL_CODE32	0x18
#define SEL_UDATA	0x20
#define SEL_UCODE64	0x28
#define AP_TRAMP_BASE	0x8000
#define STACK_SIZE	16384

/* PVH entry point note. The descriptor is 8 bytes (low 32 bits = entry)
 * because QEMU reads a size_t there, as Linux's vmlinux provides. */
	.section .note.Xen, "a", @note
	.p2align 2
	.long 4f - 3f			/* namesz */
	.long 6f - 5f			/* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY
3:	.asciz "Xen"
4:	.p2align 2
5:	.quad _start32
6:	.p2align 2

/* Paging on, long mode on, then far jump to \target in 64-bit code. */
.macro ENTER_LONG target
	movl $pml4, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $0x20, %eax			/* PAE */
	movl %eax, %cr4
	movl $0xC0000080, %ecx		/* EFER */
	rdmsr
	orl $0x100, %eax		/* LME */
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax		/* PG | PE */
	movl %eax, %cr0
	ljmp $SEL_CODE64, $\target
.endm

	.section .text.boot, "ax"
	.code32
	.globl _start32
_start32:
	cli
	cld
	movl %ebx, boot_start_info
	lgdt gdt_ptr
	movw $SEL_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	ENTER_LONG start64

	.code64
start64:
	movw $SEL_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorl %eax, %eax
	movw %ax, %fs
	movw %ax, %gs
	leaq boot_stack_top(%rip), %rsp
	/* The loader zero-fills .bss in practice, but the PVH ABI does not
	 * promise it; one rep stosq is cheap even when ring 0 is emulated. */
	leaq __bss_start(%rip), %rdi
	leaq __bss_end(%rip), %rcx
	subq %rdi, %rcx
	shrq $3, %rcx
	xorl %eax, %eax
	rep stosq
	movl boot_start_info(%rip), %edi
	call guest_start
1:	cli
	hlt
	jmp 1b

/* Exception stubs, 16 bytes apart so C can compute their addresses. */
.macro TRAP vec
	.p2align 4
	.if (\vec == 8) || ((\vec >= 10) && (\vec <= 14)) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq $0
	.endif
	pushq $\vec
	jmp trap_common
.endm

	.text
	.p2align 4
	.globl trap_stubs
trap_stubs:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	TRAP \v
	.endr

/* Saves every GPR (struct trap_frame in start.c) so trap_handle() can
 * emulate a ring-3 port access and resume it; anything else it reports
 * and exits. */
trap_common:
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rbx
	pushq %rbp
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	movq %rsp, %rbx
	andq $-16, %rsp
	call trap_handle
	movq %rbx, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rbp
	popq %rbx
	popq %rdx
	popq %rcx
	popq %rax
	addq $16, %rsp			/* vector, error code */
	iretq

/* void ring3_jump(uint64_t rip, uint64_t rsp, uint64_t arg):
 * iretq to CPL 3 with IOPL=3 (port I/O for the console and debug exit
 * stays possible; where the host ignores IOPL, as kvm_pvm does, the #GP
 * handler performs the access) and IF=0 (nothing is injected; we poll). */
	.globl ring3_jump
ring3_jump:
	movw $(SEL_UDATA | 3), %ax
	movw %ax, %ds
	movw %ax, %es
	pushq $(SEL_UDATA | 3)
	pushq %rsi
	pushq $0x3002
	pushq $(SEL_UCODE64 | 3)
	pushq %rdi
	movq %rdx, %rdi
	iretq

/* AP trampoline: copied to AP_TRAMP_BASE (SIPI vector 0x08) by smp.c.
 * Real mode -> 32-bit protected mode on our GDT -> same long-mode switch. */
	.code16
	.globl ap_tramp_start, ap_tramp_end
ap_tramp_start:
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ds
	lgdtl AP_TRAMP_BASE + (ap_gdt_ptr - ap_tramp_start)
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $SEL_CODE32, $ap_entry32
	.p2align 2
ap_gdt_ptr:
	.word gdt_end - gdt - 1
	.long gdt
ap_tramp_end:

	.code32
ap_entry32:
	movw $SEL_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	ENTER_LONG ap_entry64

	.code64
ap_entry64:
	lock incl smp_ap_count(%rip)
1:	cli
	hlt
	jmp 1b

	.data
	.globl boot_start_info, smp_ap_count, gdt
	.p2align 3
boot_start_info:
	.quad 0
smp_ap_count:
	.long 0
	.p2align 4
gdt:
	.quad 0
	.quad 0x00AF9A000000FFFF	/* 0x08 kernel code, 64-bit */
	.quad 0x00CF92000000FFFF	/* 0x10 kernel data */
	.quad 0x00CF9A000000FFFF	/* 0x18 kernel code, 32-bit (AP trampoline) */
	.quad 0x00CFF2000000FFFF	/* 0x20 user data, DPL 3 */
	.quad 0x00AFFA000000FFFF	/* 0x28 user code, 64-bit, DPL 3 */
	.quad 0, 0			/* 0x30 TSS, filled by ring3.c */
gdt_end:
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt

/* Static identity map of 0-4 GiB: no page-table loop runs at boot, which
 * matters when ring 0 is emulated at ~1M instructions/s. The top GiB
 * (MMIO: PCI windows, ECAM, APIC) is mapped uncached. */
	.section .data.pagetables, "aw"
	.p2align 12
pml4:
	.quad pdpt + 0x7
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x0000 + 0x7
	.quad pd + 0x1000 + 0x7
	.quad pd + 0x2000 + 0x7
	.quad pd + 0x3000 + 0x7
	.fill 508, 8, 0
pd:
	.set i, 0
	.rept 2048
	.if i >= 1536
	.quad (i << 21) | 0x9F		/* P RW US PWT PCD PS */
	.else
	.quad (i << 21) | 0x87		/* P RW US PS */
	.endif
	.set i, i + 1
	.endr

	.bss
	.p2align 4
boot_stack:
	.skip STACK_SIZE
	.globl boot_stack_top
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
