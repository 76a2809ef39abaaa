/* boot_test: helpers shared by the boot-loader tests (see boot_test.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "boot_test.h"


/* ---- guest memory over an anonymous mapping (mem_gpa from src/hv/mem.c) */

struct guest_mem *tmem_create(uint64_t size)
{
	struct guest_mem *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	m->fd = -1;
	m->host = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(m->host != MAP_FAILED);
	m->size = size;
	m->low = size < MEM_LOW_MAX ? size : MEM_LOW_MAX;
	/* Garbage where kernels go, so missing zeroing shows up. */
	if (size > MIB)
		memset(m->host + MIB, 0xaa, size - MIB < 3 * MIB ? size - MIB : 3 * MIB);
	return m;
}

void tmem_destroy(struct guest_mem *m)
{
	munmap(m->host, m->size);
	free(m);
}

uint8_t *tmem_at(struct guest_mem *m, uint64_t a)
{
	uint8_t *p = mem_gpa(m, a, 1);

	assert_non_null(p);
	return p;
}

/* ---- PVH ELF builder ---------------------------------------------------- */



/* Program header field offsets for ELF64 (o64) and ELF32 (o32). */
static const int o64[] = { 0, 8, 24, 32, 40, 48 };
static const int o32[] = { 0, 4, 12, 16, 20, 28 };

void ph_set(struct img *im, int idx, enum ph_field f, uint64_t v)
{
	bool is64 = im->buf[4] == 2;
	uint8_t *p = im->buf + ELF_PHOFF + idx * (is64 ? 56 : 32);

	if (f == PH_TYPE)
		put32(p, (uint32_t)v);
	else if (is64)
		put64(p + o64[f], v);
	else
		put32(p + o32[f], (uint32_t)v);
}

/* A valid PVH image: PT_LOAD of the code at 1 MiB with a bss tail, and a
 * PT_NOTE with the Xen PHYS32_ENTRY note pointing at the code. */
struct img make_elf(bool is64, const uint8_t *code, size_t code_len)
{
	struct img im = { .len = ELF_CODE_OFF + ELF_FILESZ };
	uint8_t *b;

	im.buf = calloc(1, im.len);
	assert_non_null(im.buf);
	b = im.buf;
	memcpy(b, "\x7f" "ELF", 4);
	b[4] = is64 ? 2 : 1;        /* class */
	b[5] = 1;                   /* little-endian */
	b[6] = 1;                   /* EV_CURRENT */
	put16(b + 16, 2);           /* ET_EXEC */
	put16(b + 18, is64 ? 62 : 3);
	put32(b + 20, 1);
	if (is64) {
		put64(b + 24, ELF_LOAD);            /* e_entry (unused by PVH) */
		put64(b + 32, ELF_PHOFF);
		put16(b + 52, 64);
		put16(b + 54, 56);
		put16(b + 56, 2);
	} else {
		put32(b + 24, ELF_LOAD);
		put32(b + 28, ELF_PHOFF);
		put16(b + 40, 52);
		put16(b + 42, 32);
		put16(b + 44, 2);
	}
	ph_set(&im, 0, PH_TYPE, 1);                 /* PT_LOAD */
	ph_set(&im, 0, PH_OFFSET, ELF_CODE_OFF);
	ph_set(&im, 0, PH_PADDR, ELF_LOAD);
	ph_set(&im, 0, PH_FILESZ, ELF_FILESZ);
	ph_set(&im, 0, PH_MEMSZ, ELF_MEMSZ);
	ph_set(&im, 0, PH_ALIGN, 0x1000);
	ph_set(&im, 1, PH_TYPE, 4);                 /* PT_NOTE */
	ph_set(&im, 1, PH_OFFSET, ELF_NOTE_OFF);
	ph_set(&im, 1, PH_FILESZ, 20);
	ph_set(&im, 1, PH_ALIGN, 4);
	put32(b + ELF_NOTE_OFF, 4);                 /* namesz */
	put32(b + ELF_NOTE_OFF + 4, 4);             /* descsz */
	put32(b + ELF_NOTE_OFF + 8, 18);            /* PHYS32_ENTRY */
	memcpy(b + ELF_NOTE_OFF + 12, "Xen", 4);
	put32(b + ELF_NOTE_OFF + 16, ELF_LOAD);
	for (size_t i = 0; i < ELF_FILESZ; i++)
		b[ELF_CODE_OFF + i] = (uint8_t)(i * 7 + 1);
	if (code)
		memcpy(b + ELF_CODE_OFF, code, code_len);
	return im;
}

void set_pvh_entry(struct img *im, uint32_t entry)
{
	put32(im->buf + ELF_NOTE_OFF + 16, entry);
}

/* ---- bzImage builder ---------------------------------------------------- */


struct img make_bzimage(size_t pm_size, const uint8_t *code, size_t code_len)
{
	struct img im = { .len = BZ_PM_OFF + pm_size };
	uint8_t *b;

	im.buf = calloc(1, im.len);
	assert_non_null(im.buf);
	b = im.buf;
	b[0x1f1] = BZ_SETUP_SECTS;
	put32(b + 0x1f4, (uint32_t)(pm_size / 16));   /* syssize */
	put16(b + 0x1fe, 0xaa55);
	b[0x200] = 0xeb;                              /* jmp short */
	b[0x201] = 0x268 - 0x202;                     /* header length */
	memcpy(b + 0x202, "HdrS", 4);
	put16(b + 0x206, 0x020f);
	b[0x211] = 0x01;                              /* LOADED_HIGH */
	put32(b + 0x214, 0x100000);
	put32(b + 0x22c, 0x7fffffff);                 /* initrd_addr_max */
	put32(b + 0x230, 0x200000);                   /* kernel_alignment */
	b[0x234] = 1;                                 /* relocatable */
	put16(b + 0x236, 0x0003);                     /* XLF_KERNEL_64 | above 4G */
	put32(b + 0x238, 2047);                       /* cmdline_size */
	put64(b + 0x258, 16 * MIB);                   /* pref_address */
	put32(b + 0x260, 8 * MIB);                    /* init_size */
	for (size_t i = 0; i < pm_size; i++)
		b[BZ_PM_OFF + i] = (uint8_t)(i * 13 + 5);
	if (code)
		memcpy(b + BZ_PM_OFF + 0x200, code, code_len);
	return im;
}


/* ---- a bare KVM VM with one vCPU -------------------------------------- */

void tvm_open(struct tvm *v, uint64_t size)
{
	struct kvm_userspace_memory_region r;
	struct kvm_cpuid2 *cpuid;
	int n = 256;

	v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	assert_true(v->kvm >= 0);
	v->vm = ioctl(v->kvm, KVM_CREATE_VM, 0);
	assert_true(v->vm >= 0);
	v->mem = tmem_create(size);
	r = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = 0, .memory_size = size,
		.userspace_addr = (uintptr_t)v->mem->host,
	};
	assert_int_equal(ioctl(v->vm, KVM_SET_USER_MEMORY_REGION, &r), 0);
	(void)ioctl(v->vm, KVM_SET_TSS_ADDR, 0xfffbd000UL);
	v->vcpu = ioctl(v->vm, KVM_CREATE_VCPU, 0);
	assert_true(v->vcpu >= 0);
	v->run_size = (size_t)ioctl(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->vcpu, 0);
	assert_true(v->run != MAP_FAILED);
	/* Long mode needs CPUID.LM in the guest's CPUID. */
	cpuid = calloc(1, sizeof(*cpuid) + n * sizeof(cpuid->entries[0]));
	assert_non_null(cpuid);
	cpuid->nent = n;
	assert_int_equal(ioctl(v->kvm, KVM_GET_SUPPORTED_CPUID, cpuid), 0);
	assert_int_equal(ioctl(v->vcpu, KVM_SET_CPUID2, cpuid), 0);
	free(cpuid);
}

void tvm_close(struct tvm *v)
{
	munmap(v->run, v->run_size);
	close(v->vcpu);
	close(v->vm);
	close(v->kvm);
	tmem_destroy(v->mem);
}

