/* boot_elf: loads an ELF32/ELF64 kernel that carries a PVH entry note
 * (XEN_ELFNOTE_PHYS32_ENTRY, owner "Xen") — the guest kit's images and a
 * Linux vmlinux built with CONFIG_PVH — and writes hvm_start_info for it. */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "hv/boot/boot_priv.h"

#define ELF_MAX_PHDRS          64
#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* A program header, whichever the ELF class. */
struct phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz, align;
};

struct elf {
	const uint8_t *k;
	size_t len;
	bool is64;
	uint16_t phnum;
	uint64_t phoff;
	struct phdr ph[ELF_MAX_PHDRS];
};

static int parse_ehdr(struct boot_ctx *c, struct elf *f)
{
	const uint8_t *k = f->k;
	uint16_t machine, type, phentsize;
	size_t ehsize;

	if (f->len < EI_NIDENT)
		return boot_err(c, -ENOEXEC, "ELF header truncated: file has %zu bytes", f->len);
	if (k[EI_CLASS] != ELFCLASS32 && k[EI_CLASS] != ELFCLASS64)
		return boot_err(c, -ENOEXEC, "ELF class %u is neither ELF32 nor ELF64", k[EI_CLASS]);
	if (k[EI_DATA] != ELFDATA2LSB)
		return boot_err(c, -ENOEXEC, "ELF image is not little-endian");
	if (k[EI_VERSION] != EV_CURRENT)
		return boot_err(c, -ENOEXEC, "ELF version %u is not %u", k[EI_VERSION], EV_CURRENT);
	f->is64 = k[EI_CLASS] == ELFCLASS64;
	ehsize = f->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	if (f->len < ehsize)
		return boot_err(c, -ENOEXEC, "ELF header truncated: file has %zu bytes, %zu needed",
				f->len, ehsize);
	if (f->is64) {
		Elf64_Ehdr h;

		memcpy(&h, k, sizeof(h));
		type = h.e_type, machine = h.e_machine;
		phentsize = h.e_phentsize, f->phnum = h.e_phnum;
		f->phoff = h.e_phoff;
	} else {
		Elf32_Ehdr h;

		memcpy(&h, k, sizeof(h));
		type = h.e_type, machine = h.e_machine;
		phentsize = h.e_phentsize, f->phnum = h.e_phnum;
		f->phoff = h.e_phoff;
	}
	if (type != ET_EXEC)
		return boot_err(c, -ENOEXEC, "ELF type %u is not an executable (ET_EXEC)", type);
	if (machine != EM_X86_64 && machine != EM_386)
		return boot_err(c, -ENOEXEC, "ELF machine %u is not x86", machine);
	if (phentsize != (f->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
		return boot_err(c, -ENOEXEC, "ELF program header size %u is wrong for the class", phentsize);
	if (f->phnum == 0)
		return boot_err(c, -ENOEXEC, "ELF image has no program headers");
	if (f->phnum > ELF_MAX_PHDRS)
		return boot_err(c, -ENOEXEC, "ELF image has %u program headers: at most %d allowed",
				f->phnum, ELF_MAX_PHDRS);
	if (!boot_in(f->phoff, (uint64_t)f->phnum * phentsize, f->len))
		return boot_err(c, -ENOEXEC, "ELF program header table at offset 0x%llx (%u entries) lies beyond the %zu-byte file",
				(unsigned long long)f->phoff, f->phnum, f->len);
	return 0;
}

static void read_phdrs(struct elf *f)
{
	for (unsigned i = 0; i < f->phnum; i++) {
		struct phdr *p = &f->ph[i];

		if (f->is64) {
			Elf64_Phdr h;

			memcpy(&h, f->k + f->phoff + i * sizeof(h), sizeof(h));
			*p = (struct phdr){ h.p_type, h.p_offset, h.p_paddr,
					    h.p_filesz, h.p_memsz, h.p_align };
		} else {
			Elf32_Phdr h;

			memcpy(&h, f->k + f->phoff + i * sizeof(h), sizeof(h));
			*p = (struct phdr){ h.p_type, h.p_offset, h.p_paddr,
					    h.p_filesz, h.p_memsz, h.p_align };
		}
	}
}

/* Search one PT_NOTE segment for the PVH entry note. 1: found. */
static int find_pvh_note(struct boot_ctx *c, const struct elf *f,
			 const struct phdr *p, uint64_t *entry)
{
	/* Notes are 4-byte aligned except in segments that say 8 (gABI). */
	uint64_t pad = p->align == 8 ? 7 : 3;
	uint64_t off = 0, len = p->filesz;
	const uint8_t *n;

	if (!boot_in(p->offset, p->filesz, f->len))
		return boot_err(c, -ENOEXEC, "ELF note segment at offset 0x%llx (0x%llx bytes) lies beyond the %zu-byte file",
				(unsigned long long)p->offset,
				(unsigned long long)p->filesz, f->len);
	n = f->k + p->offset;
	while (len - off >= 12) {
		uint64_t namesz = boot_rd32(n + off);
		uint64_t descsz = boot_rd32(n + off + 4);
		uint32_t type = boot_rd32(n + off + 8);
		/* Offsets from the note's start are aligned (binutils'
		 * ELF_NOTE_DESC_OFFSET / ELF_NOTE_NEXT_OFFSET). */
		uint64_t name = off + 12;
		uint64_t desc = off + ((12 + namesz + pad) & ~pad);
		uint64_t next = desc + ((descsz + pad) & ~pad);

		if (!boot_in(name, namesz, len) || !boot_in(desc, descsz, len))
			return boot_err(c, -ENOEXEC, "ELF note at segment offset 0x%llx runs past its segment",
					(unsigned long long)off);
		if (namesz == 4 && memcmp(n + name, "Xen", 4) == 0 &&
		    type == XEN_ELFNOTE_PHYS32_ENTRY) {
			if (descsz == 4)
				*entry = boot_rd32(n + desc);
			else if (descsz == 8)
				*entry = boot_rd64(n + desc);
			else
				return boot_err(c, -ENOEXEC, "PVH entry note has a %llu-byte value: 4 or 8 expected",
						(unsigned long long)descsz);
			if (*entry > UINT32_MAX)
				return boot_err(c, -ENOEXEC, "PVH entry point 0x%llx is above 4 GiB: it must be a 32-bit address",
						(unsigned long long)*entry);
			return 1;
		}
		if (next > len)
			break;
		off = next;
	}
	return 0;
}

static int load_segments(struct boot_ctx *c, const struct elf *f)
{
	unsigned nload = 0;

	for (unsigned i = 0; i < f->phnum; i++) {
		const struct phdr *p = &f->ph[i];
		uint8_t *dst;
		int rc;

		if (p->type != PT_LOAD || p->memsz == 0)
			continue;
		if (p->filesz > p->memsz)
			return boot_err(c, -ENOEXEC, "ELF segment %u has p_filesz 0x%llx larger than p_memsz 0x%llx",
					i, (unsigned long long)p->filesz,
					(unsigned long long)p->memsz);
		if (!boot_in(p->offset, p->filesz, f->len))
			return boot_err(c, -ENOEXEC, "ELF segment %u at file offset 0x%llx (0x%llx bytes) lies beyond the %zu-byte file",
					i, (unsigned long long)p->offset,
					(unsigned long long)p->filesz, f->len);
		rc = boot_check_load(c, p->paddr, p->memsz, "ELF segment");
		if (rc)
			return rc;
		dst = mem_gpa(c->mem, p->paddr, p->memsz);
		memcpy(dst, f->k + p->offset, p->filesz);
		memset(dst + p->filesz, 0, p->memsz - p->filesz);
		if (p->paddr + p->memsz > c->kernel_end)
			c->kernel_end = p->paddr + p->memsz;
		nload++;
	}
	if (!nload)
		return boot_err(c, -ENOEXEC, "ELF image has no loadable segment");
	return 0;
}

static bool entry_in_segment(const struct elf *f, uint64_t entry)
{
	for (unsigned i = 0; i < f->phnum; i++) {
		const struct phdr *p = &f->ph[i];

		if (p->type == PT_LOAD && entry >= p->paddr &&
		    entry - p->paddr < p->filesz)
			return true;
	}
	return false;
}

int boot_elf_load(struct boot_ctx *c, struct boot_entry *out)
{
	struct elf elf = { .k = c->img->kernel, .len = c->img->kernel_len };
	struct elf *f = &elf;
	uint64_t entry = 0;
	int found = 0, rc;

	rc = parse_ehdr(c, f);
	if (rc)
		return rc;
	read_phdrs(f);
	for (unsigned i = 0; i < f->phnum && !found; i++) {
		if (f->ph[i].type != PT_NOTE)
			continue;
		found = find_pvh_note(c, f, &f->ph[i], &entry);
		if (found < 0)
			return found;
	}
	if (!found)
		return boot_err(c, -ENOEXEC, "ELF image has no PVH entry note (Xen note type %d): only PVH ELF kernels can be booted",
				XEN_ELFNOTE_PHYS32_ENTRY);
	rc = load_segments(c, f);
	if (rc)
		return rc;
	if (!entry_in_segment(f, entry))
		return boot_err(c, -ENOEXEC, "PVH entry point 0x%llx is outside the loaded segments",
				(unsigned long long)entry);
	rc = boot_place_initrd(c, UINT32_MAX);
	if (rc)
		return rc;
	rc = boot_write_cmdline(c);
	if (rc)
		return rc;
	rc = boot_write_pvh(c);
	if (rc)
		return rc;
	*out = (struct boot_entry){ .mode = BOOT_PVH, .entry = entry,
				    .boot_arg = BOOT_START_INFO };
	return 0;
}
