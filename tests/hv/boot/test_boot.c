/* test_boot: unit tests of the kernel-image loaders (src/hv/boot) on images
 * built in memory — PVH ELF32/ELF64 and a synthetic bzImage — checking the
 * tables they write and every way a hostile image is refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "hv/boot/boot.h"
#include "hv/boot/boot_priv.h"
#include "hv/vm.h"
#include "boot_test.h"

/* ---- helpers ------------------------------------------------------------ */

static int load(struct guest_mem *m, const struct img *k, const void *initrd,
		size_t initrd_len, const char *cmdline, int nr_vcpus,
		struct boot_entry *e, char *err)
{
	struct boot_image bi = {
		.kernel = k->buf, .kernel_len = k->len,
		.initrd = initrd, .initrd_len = initrd_len, .cmdline = cmdline,
	};

	return boot_load(m, &bi, nr_vcpus, e, err, 256);
}

/* Load `k` expecting failure rc with `needle` in the message. */
static void expect_reject(struct guest_mem *m, const struct img *k,
			  size_t initrd_len, const char *cmdline, int rc,
			  const char *needle)
{
	struct boot_entry e;
	char err[256];
	uint8_t *initrd = NULL;
	int got;

	if (initrd_len) {
		initrd = calloc(1, initrd_len);
		assert_non_null(initrd);
	}
	got = load(m, k, initrd, initrd_len, cmdline, 1, &e, err);
	free(initrd);
	if (got != rc || !strstr(err, needle))
		fail_msg("expected rc %d with \"%s\", got rc %d: \"%s\"",
			 rc, needle, got, err);
}

/* ---- PVH ---------------------------------------------------------------- */

static void check_pvh_load(bool is64)
{
	struct guest_mem *m = tmem_create(64 * MIB);
	struct img k = make_elf(is64, NULL, 0);
	static const char initrd[] = "initrd-bytes";
	struct boot_entry e;
	char err[256];
	uint8_t *si, *mod, *mm;
	uint64_t mod_gpa;

	assert_int_equal(load(m, &k, initrd, sizeof(initrd), "console=ttyS0",
			      2, &e, err), 0);
	assert_int_equal(e.mode, BOOT_PVH);
	assert_int_equal(e.entry, ELF_LOAD);
	assert_int_equal(e.boot_arg, BOOT_START_INFO);
	assert_int_equal(e.pml4, 0);
	/* Segment copied, bss zeroed. */
	assert_memory_equal(tmem_at(m, ELF_LOAD), k.buf + ELF_CODE_OFF, ELF_FILESZ);
	for (uint64_t a = ELF_LOAD + ELF_FILESZ; a < ELF_LOAD + ELF_MEMSZ; a++)
		assert_int_equal(*tmem_at(m, a), 0);
	assert_int_equal(*tmem_at(m, ELF_LOAD + ELF_MEMSZ), 0xaa);

	si = tmem_at(m, BOOT_START_INFO);
	assert_int_equal(get32(si), 0x336ec578);
	assert_int_equal(get32(si + 4), 1);
	assert_string_equal((char *)tmem_at(m, get64(si + 24)), "console=ttyS0");
	assert_int_equal(get64(si + 32), 0);                /* no RSDP */
	/* initrd module: page-aligned, in low RAM, above the kernel */
	assert_int_equal(get32(si + 12), 1);
	mod = tmem_at(m, get64(si + 16));
	mod_gpa = get64(mod);
	assert_int_equal(mod_gpa & 0xfff, 0);
	assert_true(mod_gpa >= ELF_LOAD + ELF_MEMSZ);
	assert_true(mod_gpa + sizeof(initrd) <= 64 * MIB);
	assert_int_equal(get64(mod + 8), sizeof(initrd));
	assert_memory_equal(tmem_at(m, mod_gpa), initrd, sizeof(initrd));
	/* memory map: 4 entries, RAM from 1 MiB to the end of RAM */
	assert_int_equal(get32(si + 48), 4);
	mm = tmem_at(m, get64(si + 40));
	assert_int_equal(get64(mm + 0), 0);
	assert_int_equal(get64(mm + 8), 0x9fc00);
	assert_int_equal(get32(mm + 16), 1);
	assert_int_equal(get64(mm + 24), 0x9fc00);
	assert_int_equal(get32(mm + 40), 2);
	assert_int_equal(get64(mm + 48), MIB);
	assert_int_equal(get64(mm + 56), 63 * MIB);
	assert_int_equal(get32(mm + 64), 1);
	/* GDT: a 32-bit flat code segment at 0x10 */
	assert_int_equal(get64(tmem_at(m, BOOT_GDT + 0x10)), 0x00cf9b000000ffffULL);
	assert_int_equal(get64(tmem_at(m, BOOT_GDT + 0x18)), 0x00cf93000000ffffULL);
	free(k.buf);
	tmem_destroy(m);
}

static void test_pvh_elf64(void **state) { check_pvh_load(true); }
static void test_pvh_elf32(void **state) { check_pvh_load(false); }

static void test_pvh_no_initrd_empty_cmdline(void **state)
{
	struct guest_mem *m = tmem_create(64 * MIB);
	struct img k = make_elf(true, NULL, 0);
	struct boot_entry e;
	char err[256];
	uint8_t *si;

	assert_int_equal(load(m, &k, NULL, 0, NULL, 1, &e, err), 0);
	si = tmem_at(m, BOOT_START_INFO);
	assert_int_equal(get32(si + 12), 0);
	assert_int_equal(get64(si + 16), 0);
	assert_string_equal((char *)tmem_at(m, get64(si + 24)), "");
	free(k.buf);
	tmem_destroy(m);
}

/* A note before ours, 8-byte descriptor, in an 8-aligned segment. */
static void test_pvh_note_variants(void **state)
{
	struct guest_mem *m = tmem_create(64 * MIB);
	struct img k = make_elf(true, NULL, 0);
	uint8_t *n = k.buf + ELF_NOTE_OFF;
	struct boot_entry e;
	char err[256];

	memset(n, 0, 0x100);
	put32(n, 4), put32(n + 4, 4), put32(n + 8, 1);   /* GNU note */
	memcpy(n + 12, "GNU", 4);
	put32(n + 24, 4), put32(n + 28, 8), put32(n + 32, 18);
	memcpy(n + 36, "Xen", 4);
	put64(n + 40, ELF_LOAD + 0x10);
	ph_set(&k, 1, PH_FILESZ, 48);
	ph_set(&k, 1, PH_ALIGN, 8);
	assert_int_equal(load(m, &k, NULL, 0, "", 1, &e, err), 0);
	assert_int_equal(e.entry, ELF_LOAD + 0x10);
	free(k.buf);
	tmem_destroy(m);
}

/* ---- MP table ----------------------------------------------------------- */

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static void check_mptable(struct guest_mem *m, int nr_vcpus)
{
	uint8_t *mpf = tmem_at(m, BOOT_MPTABLE), *mpc, *p;
	int cpus = 0, buses = 0, ioapics = 0, ints = 0, lints = 0, bsp = 0;
	uint8_t ioapic_id = 0xff;
	bool pci_slot3 = false, isa_timer = false;

	assert_memory_equal(mpf, "_MP_", 4);
	assert_int_equal(mpf[8], 1);
	assert_int_equal(mpf[9], 4);
	assert_int_equal(sum(mpf, 16), 0);
	mpc = tmem_at(m, get32(mpf + 4));
	assert_true(get32(mpf + 4) >= 0xf0000 && get32(mpf + 4) < 0x100000);
	assert_memory_equal(mpc, "PCMP", 4);
	assert_int_equal(sum(mpc, get16(mpc + 4)), 0);
	assert_int_equal(get32(mpc + 36), 0xfee00000);
	p = mpc + 44;
	for (int i = 0; i < get16(mpc + 34); i++) {
		switch (p[0]) {
		case 0:
			assert_int_equal(p[1], cpus);
			assert_true(p[3] & 1);
			if (p[3] & 2)
				bsp++, assert_int_equal(p[1], 0);
			cpus++;
			p += 20;
			continue;
		case 1:
			buses++;
			if (p[1] == 0)
				assert_memory_equal(p + 2, "PCI   ", 6);
			else
				assert_memory_equal(p + 2, "ISA   ", 6);
			break;
		case 2:
			ioapics++;
			ioapic_id = p[1];
			assert_int_equal(get32(p + 4), 0xfec00000);
			break;
		case 3:
			ints++;
			assert_int_equal(p[6], ioapic_id);
			if (p[4] == 0 && p[5] == (3 << 2)) {
				pci_slot3 = true;
				assert_int_equal(p[7], VM_PCI_IRQ_BASE + 3);
				assert_int_equal(get16(p + 2), 0x0f);
			}
			if (p[4] == 1 && p[5] == 0 && p[7] == 0)
				isa_timer = true;
			break;
		case 4:
			lints++;
			break;
		default:
			fail_msg("unknown MP entry type %u", p[0]);
		}
		p += 8;
	}
	assert_int_equal(p - mpc, get16(mpc + 4));
	assert_int_equal(cpus, nr_vcpus);
	assert_int_equal(bsp, 1);
	assert_int_equal(buses, 2);
	assert_int_equal(ioapics, 1);
	assert_int_equal(ints, 16 + VM_PCI_IRQ_COUNT);
	assert_int_equal(lints, 2);
	assert_true(pci_slot3);
	assert_true(isa_timer);
	assert_true(ioapic_id >= nr_vcpus);
}

static void test_mptable(void **state)
{
	static const int counts[] = { 1, 2, 7, VM_MAX_VCPUS };

	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct guest_mem *m = tmem_create(64 * MIB);
		struct img k = make_elf(true, NULL, 0);
		struct boot_entry e;
		char err[256];

		assert_int_equal(load(m, &k, NULL, 0, "", counts[i], &e, err), 0);
		check_mptable(m, counts[i]);
		free(k.buf);
		tmem_destroy(m);
	}
}

/* ---- e820 --------------------------------------------------------------- */

static void test_e820_small(void **state)
{
	struct guest_mem m = { .size = 64 * MIB, .low = 64 * MIB };
	struct boot_e820 map[BOOT_E820_MAX];
	int n = boot_e820(&m, map, BOOT_E820_MAX);

	assert_int_equal(n, 4);
	assert_true(map[0].addr == 0 && map[0].size == 0x9fc00 && map[0].type == 1);
	assert_true(map[1].addr == 0x9fc00 && map[1].size == 0x60400 && map[1].type == 2);
	assert_true(map[2].addr == MIB && map[2].size == 63 * MIB && map[2].type == 1);
	assert_true(map[3].addr == MEM_IOAPIC_BASE && map[3].type == 2 &&
		    map[3].addr + map[3].size == MEM_HIGH_BASE);
}

/* Above 3 GiB the rest of RAM goes to 4 GiB up; computed, not allocated. */
static void test_e820_large(void **state)
{
	struct guest_mem m = { .size = 6ULL << 30, .low = MEM_LOW_MAX };
	struct boot_e820 map[BOOT_E820_MAX];
	int n = boot_e820(&m, map, BOOT_E820_MAX);

	assert_int_equal(n, 5);
	assert_true(map[2].addr == MIB && map[2].size == MEM_LOW_MAX - MIB);
	assert_true(map[4].addr == MEM_HIGH_BASE && map[4].type == 1 &&
		    map[4].size == (6ULL << 30) - MEM_LOW_MAX);
	/* exactly 3 GiB: no high entry */
	m.size = MEM_LOW_MAX;
	assert_int_equal(boot_e820(&m, map, BOOT_E820_MAX), 4);
	/* no RAM entry overlaps the hole */
	m.size = 6ULL << 30;
	n = boot_e820(&m, map, BOOT_E820_MAX);
	for (int i = 0; i < n; i++)
		if (map[i].type == 1)
			assert_true(map[i].addr + map[i].size <= MEM_LOW_MAX ||
				    map[i].addr >= MEM_HIGH_BASE);
}

/* ---- bzImage ------------------------------------------------------------ */

static void test_bzimage_zero_page(void **state)
{
	struct guest_mem *m = tmem_create(64 * MIB);
	struct img k = make_bzimage(BZ_PM_SIZE, NULL, 0);
	static const char initrd[4096 + 17] = "ramdisk";
	struct boot_entry e;
	char err[256];
	uint8_t *zp, *pd;
	uint32_t rd;

	assert_int_equal(load(m, &k, initrd, sizeof(initrd), "console=ttyS0 quiet",
			      2, &e, err), 0);
	assert_int_equal(e.mode, BOOT_LINUX64);
	/* relocatable, pref 16 MiB + init_size 8 MiB fits: loaded there */
	assert_int_equal(e.entry, 16 * MIB + 0x200);
	assert_int_equal(e.boot_arg, BOOT_ZERO_PAGE);
	assert_int_equal(e.pml4, BOOT_PML4);
	assert_memory_equal(tmem_at(m, 16 * MIB), k.buf + BZ_PM_OFF, BZ_PM_SIZE);

	zp = tmem_at(m, BOOT_ZERO_PAGE);
	assert_int_equal(zp[0x210], 0xff);                    /* type_of_loader */
	assert_memory_equal(zp + 0x202, "HdrS", 4);
	assert_int_equal(get16(zp + 0x206), 0x020f);
	assert_int_equal(get32(zp + 0x214), 16 * MIB);        /* code32_start */
	assert_int_equal(get32(zp + 0x228), BOOT_CMDLINE);
	assert_string_equal((char *)tmem_at(m, get32(zp + 0x228)), "console=ttyS0 quiet");
	rd = get32(zp + 0x218);
	assert_int_equal(get32(zp + 0x21c), sizeof(initrd));
	assert_int_equal(rd & 0xfff, 0);
	assert_true(rd >= 24 * MIB);                           /* above init_size */
	assert_true(rd + sizeof(initrd) <= 64 * MIB);
	assert_memory_equal(tmem_at(m, rd), initrd, sizeof(initrd));
	assert_int_equal(zp[0x1e8], 4);                        /* e820_entries */
	assert_int_equal(get64(zp + 0x2d0 + 2 * 20), MIB);
	assert_int_equal(get64(zp + 0x2d0 + 2 * 20 + 8), 63 * MIB);
	assert_int_equal(get32(zp + 0x2d0 + 2 * 20 + 16), 1);
	assert_int_equal(zp[0x1ef], 0);                        /* sentinel */
	assert_int_equal(get16(zp + 0x1fa), 0xffff);           /* vid_mode */
	/* identity map: 2 MiB pages over 4 GiB; 64-bit code at 0x10 */
	assert_int_equal(get64(tmem_at(m, BOOT_PML4)), BOOT_PDPT | 3);
	assert_int_equal(get64(tmem_at(m, BOOT_PDPT + 24)), (BOOT_PD + 3 * 4096) | 3);
	pd = tmem_at(m, BOOT_PD);
	assert_int_equal(get64(pd + 8 * 2047), (2047ULL << 21) | 0x83);
	assert_int_equal(get64(tmem_at(m, BOOT_GDT + 0x10)), 0x00af9b000000ffffULL);
	free(k.buf);
	tmem_destroy(m);
}

/* When pref_address + init_size does not fit, load at 1 MiB and account
 * for where the decompressor will move the kernel. */
static void test_bzimage_low_load(void **state)
{
	struct guest_mem *m = tmem_create(32 * MIB);
	struct img k = make_bzimage(BZ_PM_SIZE, NULL, 0);
	struct boot_entry e;
	char err[256];

	put32(k.buf + 0x260, 17 * MIB);   /* runs at 16 MiB: 16 + 17 > 32 */
	assert_int_equal(load(m, &k, NULL, 0, "", 1, &e, err), -ENOMEM);
	assert_non_null(strstr(err, "init_size"));
	put64(k.buf + 0x258, 30 * MIB);   /* pref too high: load low */
	put32(k.buf + 0x260, 1 * MIB);
	assert_int_equal(load(m, &k, NULL, 0, "", 1, &e, err), 0);
	assert_int_equal(e.entry, 30 * MIB + 0x200);
	put64(k.buf + 0x258, 31 * MIB + 0x1000);   /* unaligned pref: 1 MiB */
	put32(k.buf + 0x260, 0x4000);
	assert_int_equal(load(m, &k, NULL, 0, "", 1, &e, err), 0);
	assert_int_equal(e.entry, MIB + 0x200);
	free(k.buf);
	tmem_destroy(m);
}

/* ---- rejections --------------------------------------------------------- */

static void test_reject_generic(void **state)
{
	struct guest_mem *m = tmem_create(32 * MIB);
	struct img empty = { .buf = (uint8_t *)"", .len = 0 };
	struct img junk = { .buf = calloc(1, 4096), .len = 4096 };
	struct img huge = { .buf = (uint8_t *)m->host, .len = 32 * MIB + 1 };
	struct img k = make_elf(true, NULL, 0);
	struct boot_entry e;
	char err[256], cmd[BOOT_CMDLINE_MAX + 1];

	expect_reject(m, &empty, 0, "", -ENOEXEC, "empty (0 bytes)");
	expect_reject(m, &huge, 0, "", -EFBIG, "larger than guest RAM");
	memcpy(junk.buf + 0x202, "HdrX", 4);
	expect_reject(m, &junk, 0, "", -ENOEXEC, "neither an ELF file nor a Linux bzImage");
	expect_reject(m, &k, 32 * MIB + 1, "", -EFBIG, "initrd of");
	expect_reject(m, &k, 31 * MIB, "", -ENOMEM, "initrd of");
	memset(cmd, 'x', sizeof(cmd) - 1);
	cmd[sizeof(cmd) - 1] = '\0';
	expect_reject(m, &k, 0, cmd, -E2BIG, "command line is longer than");
	assert_int_equal(load(m, &k, NULL, 0, "", 0, &e, err), -EINVAL);
	assert_non_null(strstr(err, "0 vCPUs"));
	assert_int_equal(load(m, &k, NULL, 0, "", VM_MAX_VCPUS + 1, &e, err), -EINVAL);
	free(junk.buf);
	free(k.buf);
	tmem_destroy(m);

	m = tmem_create(2 * MIB);
	m->low = m->size = MIB;
	k = make_elf(true, NULL, 0);
	expect_reject(m, &k, 0, "", -ENOMEM, "too small");
	free(k.buf);
	m->low = m->size = 2 * MIB;
	tmem_destroy(m);
}

static void test_reject_elf(void **state)
{
	struct guest_mem *m = tmem_create(32 * MIB);
	struct img k;

#define FRESH() (free(k.buf), k = make_elf(true, NULL, 0))
	k = make_elf(true, NULL, 0);
	k.len = 20;
	expect_reject(m, &k, 0, "", -ENOEXEC, "ELF header truncated");
	FRESH();
	k.len = 40;
	expect_reject(m, &k, 0, "", -ENOEXEC, "ELF header truncated");
	FRESH();
	k.buf[4] = 3;
	expect_reject(m, &k, 0, "", -ENOEXEC, "ELF class 3");
	FRESH();
	k.buf[5] = 2;
	expect_reject(m, &k, 0, "", -ENOEXEC, "not little-endian");
	FRESH();
	put16(k.buf + 16, 3);
	expect_reject(m, &k, 0, "", -ENOEXEC, "not an executable");
	FRESH();
	put16(k.buf + 18, 40);
	expect_reject(m, &k, 0, "", -ENOEXEC, "not x86");
	FRESH();
	put16(k.buf + 54, 32);
	expect_reject(m, &k, 0, "", -ENOEXEC, "program header size");
	FRESH();
	put64(k.buf + 32, k.len - 100);
	expect_reject(m, &k, 0, "", -ENOEXEC, "program header table");
	FRESH();
	put64(k.buf + 32, UINT64_MAX - 8);
	expect_reject(m, &k, 0, "", -ENOEXEC, "program header table");
	FRESH();
	put16(k.buf + 56, 65);
	expect_reject(m, &k, 0, "", -ENOEXEC, "65 program headers");
	FRESH();
	put16(k.buf + 56, 0);
	expect_reject(m, &k, 0, "", -ENOEXEC, "no program headers");
	FRESH();
	ph_set(&k, 0, PH_OFFSET, k.len - 0x10);
	expect_reject(m, &k, 0, "", -ENOEXEC, "segment 0 at file offset");
	FRESH();
	ph_set(&k, 0, PH_FILESZ, UINT64_MAX - 0x100);
	ph_set(&k, 0, PH_MEMSZ, UINT64_MAX);
	expect_reject(m, &k, 0, "", -ENOEXEC, "beyond the");
	FRESH();
	ph_set(&k, 0, PH_FILESZ, ELF_MEMSZ + 1);
	expect_reject(m, &k, 0, "", -ENOEXEC, "larger than p_memsz");
	FRESH();
	ph_set(&k, 0, PH_PADDR, 0x8000);           /* over the page tables */
	set_pvh_entry(&k, 0x8000);
	expect_reject(m, &k, 0, "", -EINVAL, "overlaps the boot tables");
	FRESH();
	ph_set(&k, 0, PH_PADDR, 0xf0000);          /* over the MP table */
	set_pvh_entry(&k, 0xf0000);
	expect_reject(m, &k, 0, "", -EINVAL, "overlaps the boot tables");
	FRESH();
	ph_set(&k, 0, PH_PADDR, 0xff000);          /* ends inside 1 MiB */
	expect_reject(m, &k, 0, "", -EINVAL, "overlaps the boot tables");
	FRESH();
	ph_set(&k, 0, PH_PADDR, 32 * MIB - 0x1000); /* runs past RAM */
	expect_reject(m, &k, 0, "", -ENOMEM, "outside guest RAM");
	FRESH();
	ph_set(&k, 0, PH_PADDR, UINT64_MAX - 0x1000);
	expect_reject(m, &k, 0, "", -EINVAL, "wraps around");
	FRESH();
	set_pvh_entry(&k, ELF_LOAD + ELF_FILESZ);  /* bss, not code */
	expect_reject(m, &k, 0, "", -ENOEXEC, "outside the loaded segments");
	FRESH();
	set_pvh_entry(&k, 0x500000);
	expect_reject(m, &k, 0, "", -ENOEXEC, "outside the loaded segments");
	FRESH();
	ph_set(&k, 1, PH_TYPE, 6);                 /* PT_PHDR: no note */
	expect_reject(m, &k, 0, "", -ENOEXEC, "no PVH entry note");
	FRESH();
	put32(k.buf + ELF_NOTE_OFF + 8, 17);       /* other Xen note */
	expect_reject(m, &k, 0, "", -ENOEXEC, "no PVH entry note");
	FRESH();
	put32(k.buf + ELF_NOTE_OFF + 4, 2);
	expect_reject(m, &k, 0, "", -ENOEXEC, "2-byte value");
	FRESH();
	put32(k.buf + ELF_NOTE_OFF + 4, 0x100);    /* desc past segment */
	expect_reject(m, &k, 0, "", -ENOEXEC, "runs past its segment");
	FRESH();
	put32(k.buf + ELF_NOTE_OFF, UINT32_MAX);   /* namesz overflow */
	expect_reject(m, &k, 0, "", -ENOEXEC, "runs past its segment");
	FRESH();
	ph_set(&k, 1, PH_OFFSET, k.len);
	expect_reject(m, &k, 0, "", -ENOEXEC, "note segment");
	FRESH();
	put32(k.buf + ELF_NOTE_OFF + 4, 8);
	put32(k.buf + ELF_NOTE_OFF + 16, 0);
	put32(k.buf + ELF_NOTE_OFF + 20, 1);       /* 64-bit entry >= 4 GiB */
	ph_set(&k, 1, PH_FILESZ, 24);
	expect_reject(m, &k, 0, "", -ENOEXEC, "above 4 GiB");
	FRESH();
	ph_set(&k, 0, PH_TYPE, 6);                 /* no PT_LOAD at all */
	expect_reject(m, &k, 0, "", -ENOEXEC, "no loadable segment");
#undef FRESH
	free(k.buf);
	tmem_destroy(m);
}

static void test_reject_bzimage(void **state)
{
	struct guest_mem *m = tmem_create(64 * MIB);
	struct img k;
	char cmd[2049];

#define FRESH() (free(k.buf), k = make_bzimage(BZ_PM_SIZE, NULL, 0))
	k = make_bzimage(BZ_PM_SIZE, NULL, 0);
	put16(k.buf + 0x206, 0x020a);
	expect_reject(m, &k, 0, "", -ENOEXEC,
		      "bzImage boot protocol 2.10 is too old: 2.12 or later needed");
	FRESH();
	put16(k.buf + 0x1fe, 0x1234);
	expect_reject(m, &k, 0, "", -ENOEXEC, "boot_flag");
	FRESH();
	put16(k.buf + 0x236, 0x0002);
	expect_reject(m, &k, 0, "", -ENOEXEC, "XLF_KERNEL_64");
	FRESH();
	k.buf[0x211] = 0;
	expect_reject(m, &k, 0, "", -ENOEXEC, "zImage");
	FRESH();
	k.buf[0x201] = 0x10;
	expect_reject(m, &k, 0, "", -ENOEXEC, "setup header ends");
	FRESH();
	k.buf[0x201] = 0xff;
	expect_reject(m, &k, 0, "", -ENOEXEC, "setup header ends");
	FRESH();
	k.len = 0x220;
	expect_reject(m, &k, 0, "", -ENOEXEC, "setup header truncated");
	FRESH();
	k.len = 0x204;                             /* "HdrS" cut short */
	expect_reject(m, &k, 0, "", -ENOEXEC, "neither");
	FRESH();
	k.len = 0x207;
	expect_reject(m, &k, 0, "", -ENOEXEC, "setup header truncated");
	FRESH();
	k.buf[0x1f1] = 200;                        /* kernel beyond file */
	expect_reject(m, &k, 0, "", -ENOEXEC, "beyond the end of the");
	FRESH();
	put32(k.buf + 0x1f4, BZ_PM_SIZE / 16 + 1);
	expect_reject(m, &k, 0, "", -ENOEXEC, "syssize");
	FRESH();
	k.len = BZ_PM_OFF + 0x100;
	put32(k.buf + 0x1f4, 0);
	expect_reject(m, &k, 0, "", -ENOEXEC, "64-bit entry");
	FRESH();
	put32(k.buf + 0x230, 0x300000);
	expect_reject(m, &k, 0, "", -ENOEXEC, "power of two");
	FRESH();
	memset(cmd, 'c', 2048);
	cmd[2048] = '\0';
	expect_reject(m, &k, 0, cmd, -E2BIG, "longer than the kernel's cmdline_size 2047");
	FRESH();
	put32(k.buf + 0x260, 60 * MIB);            /* init_size past RAM */
	expect_reject(m, &k, 0, "", -ENOMEM, "init_size");
	FRESH();
	put32(k.buf + 0x260, UINT32_MAX);
	put64(k.buf + 0x258, UINT64_MAX - 0xfff);
	k.buf[0x234] = 0;
	expect_reject(m, &k, 0, "", -ENOEXEC, "wraps around");
	FRESH();
	expect_reject(m, &k, 41 * MIB, "", -ENOMEM, "initrd of");
	FRESH();
	put32(k.buf + 0x22c, 8 * MIB - 1);         /* initrd_addr_max too low */
	expect_reject(m, &k, 4096, "", -ENOMEM, "initrd of");
#undef FRESH
	free(k.buf);
	tmem_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pvh_elf64),
		cmocka_unit_test(test_pvh_elf32),
		cmocka_unit_test(test_pvh_no_initrd_empty_cmdline),
		cmocka_unit_test(test_pvh_note_variants),
		cmocka_unit_test(test_mptable),
		cmocka_unit_test(test_e820_small),
		cmocka_unit_test(test_e820_large),
		cmocka_unit_test(test_bzimage_zero_page),
		cmocka_unit_test(test_bzimage_low_load),
		cmocka_unit_test(test_reject_generic),
		cmocka_unit_test(test_reject_elf),
		cmocka_unit_test(test_reject_bzimage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
