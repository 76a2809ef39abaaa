/* bench/hv/floor.c: the floor ward-hv's start time is measured against
 * (issue 12): the least a VMM can do to run the guest kit's PVH images.
 * Loads the ELF's PT_LOAD segments, builds hvm_start_info with one memmap
 * entry, enters the PVH entry point in 32-bit flat protected mode, discards
 * COM1 output (the line status register always reads "transmitter empty"),
 * and exits with the value the guest writes to the debug-exit port 0xf4.
 * Lazily mapped anonymous memory, one vCPU, no sandbox, no devices.
 * usage: floor ELF MEMORY_MIB. Not a product: a benchmark reference. */
#include <elf.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define START_INFO	0x1000u		/* hvm_start_info, then its memmap */
#define PVH_NOTE	18		/* XEN_ELFNOTE_PHYS32_ENTRY */
#define DEBUG_EXIT	0xf4
#define COM1_LSR	0x3fd

static void die(const char *what)
{
	perror(what);
	exit(125);
}

/* The PVH entry from the ELF's Xen notes, or 0. */
static uint32_t pvh_entry(const uint8_t *f, size_t len, const Elf64_Ehdr *eh)
{
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const void *)(f + eh->e_phoff + i * sizeof(*ph));
		size_t off = ph->p_offset, end = off + ph->p_filesz;

		if (ph->p_type != PT_NOTE || end > len)
			continue;
		while (off + sizeof(Elf64_Nhdr) <= end) {
			const Elf64_Nhdr *n = (const void *)(f + off);
			size_t name = off + sizeof(*n), desc = name + ((n->n_namesz + 3) & ~3u);

			if (desc + n->n_descsz > end)
				break;
			if (n->n_type == PVH_NOTE && n->n_namesz == 4 &&
			    !memcmp(f + name, "Xen", 4) && n->n_descsz >= 4) {
				uint32_t e;

				memcpy(&e, f + desc, 4);
				return e;
			}
			off = desc + ((n->n_descsz + 3) & ~3u);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct { uint32_t magic, version, flags, nr_modules; uint64_t modlist, cmdline, rsdp,
		 memmap; uint32_t memmap_entries, reserved; } si = { 0 };
	struct { uint64_t addr, size; uint32_t type, reserved; } mm;
	struct kvm_userspace_memory_region slot = { 0 };
	struct kvm_sregs sr;
	struct kvm_regs r = { 0 };
	struct kvm_run *run;
	const Elf64_Ehdr *eh;
	uint8_t *f, *ram;
	uint64_t size;
	struct stat st;
	int fd, kvm, vm, cpu;
	uint32_t entry;

	if (argc != 3)
		return fprintf(stderr, "usage: floor ELF MEMORY_MIB\n"), 2;
	size = strtoull(argv[2], NULL, 10) << 20;
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || st.st_size < (off_t)sizeof(*eh))
		die(argv[1]);
	f = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (f == MAP_FAILED)
		die("mmap ELF");
	eh = (const void *)f;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > (uint64_t)st.st_size)
		return fprintf(stderr, "floor: not a 64-bit ELF\n"), 125;
	entry = pvh_entry(f, (size_t)st.st_size, eh);
	if (!entry)
		return fprintf(stderr, "floor: no PVH entry note\n"), 125;

	ram = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (ram == MAP_FAILED)
		die("mmap RAM");
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const void *)(f + eh->e_phoff + i * sizeof(*ph));

		if (ph->p_type != PT_LOAD)
			continue;
		if (ph->p_paddr + ph->p_memsz > size || ph->p_filesz > ph->p_memsz ||
		    ph->p_offset + ph->p_filesz > (uint64_t)st.st_size)
			return fprintf(stderr, "floor: segment outside RAM or file\n"), 125;
		memcpy(ram + ph->p_paddr, f + ph->p_offset, ph->p_filesz);
	}
	si.magic = 0x336ec578;		/* XEN_HVM_START_MAGIC_VALUE */
	si.version = 1;
	si.memmap = START_INFO + sizeof(si);
	si.memmap_entries = 1;
	mm.addr = 0;
	mm.size = size;
	mm.type = 1;
	mm.reserved = 0;
	memcpy(ram + START_INFO, &si, sizeof(si));
	memcpy(ram + si.memmap, &mm, sizeof(mm));

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		die("KVM_CREATE_VM");
	slot.memory_size = size;
	slot.userspace_addr = (uintptr_t)ram;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot))
		die("KVM_SET_USER_MEMORY_REGION");
	cpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (cpu < 0)
		die("KVM_CREATE_VCPU");
	run = mmap(NULL, (size_t)ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE,
		   MAP_SHARED, cpu, 0);
	if (run == MAP_FAILED || ioctl(cpu, KVM_GET_SREGS, &sr))
		die("vCPU set-up");
	/* PVH: 32-bit protected mode, paging off, flat 4 GiB segments. */
	struct kvm_segment flat = { .base = 0, .limit = 0xffffffff, .present = 1, .s = 1,
				    .db = 1, .g = 1 };
	flat.type = 11;			/* code: execute/read, accessed */
	flat.selector = 0x08;
	sr.cs = flat;
	flat.type = 3;			/* data: read/write, accessed */
	flat.selector = 0x10;
	sr.ds = sr.es = sr.fs = sr.gs = sr.ss = flat;
	sr.cr0 = (sr.cr0 | 1) & ~0x80000000ull;	/* PE on, PG off */
	sr.cr4 = 0;
	sr.efer = 0;
	if (ioctl(cpu, KVM_SET_SREGS, &sr))
		die("KVM_SET_SREGS");
	r.rip = entry;
	r.rbx = START_INFO;
	r.rflags = 2;
	if (ioctl(cpu, KVM_SET_REGS, &r))
		die("KVM_SET_REGS");

	for (;;) {
		if (ioctl(cpu, KVM_RUN, 0) < 0)
			die("KVM_RUN");
		if (run->exit_reason == KVM_EXIT_IO) {
			uint8_t *data = (uint8_t *)run + run->io.data_offset;

			if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == DEBUG_EXIT) {
				uint32_t v = 0;

				memcpy(&v, data, run->io.size < 4 ? run->io.size : 4);
				return (int)(v & 0xff);
			}
			if (run->io.direction == KVM_EXIT_IO_IN)
				memset(data, run->io.port == COM1_LSR ? 0x60 : 0,
				       (size_t)run->io.size * run->io.count);
			continue;		/* other port writes: COM1, discarded */
		}
		if (run->exit_reason == KVM_EXIT_HLT)
			return fprintf(stderr, "floor: guest halted\n"), 124;
		return fprintf(stderr, "floor: exit reason %u\n", run->exit_reason), 124;
	}
}
