/* boot_bzimage: loads a Linux bzImage through the 64-bit boot protocol
 * (Documentation/arch/x86/boot.rst, protocol >= 2.12): protected-mode
 * kernel in RAM, setup header copied into a zero page we complete (loader
 * id, command line, initrd, e820), entry at the load address + 0x200. */
#include <errno.h>
#include <string.h>

#include "hv/boot/boot_priv.h"

/* setup_header fields, as offsets into the image and into boot_params. */
#define HDR_START           0x1f1
#define HDR_SETUP_SECTS     0x1f1
#define HDR_SYSSIZE         0x1f4
#define HDR_VID_MODE        0x1fa
#define HDR_BOOT_FLAG       0x1fe
#define HDR_JUMP            0x200
#define HDR_MAGIC           0x202
#define HDR_VERSION         0x206
#define HDR_TYPE_OF_LOADER  0x210
#define HDR_LOADFLAGS       0x211
#define HDR_CODE32_START    0x214
#define HDR_RAMDISK_IMAGE   0x218
#define HDR_RAMDISK_SIZE    0x21c
#define HDR_CMD_LINE_PTR    0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_KERNEL_ALIGN    0x230
#define HDR_RELOCATABLE     0x234
#define HDR_XLOADFLAGS      0x236
#define HDR_CMDLINE_SIZE    0x238
#define HDR_PREF_ADDRESS    0x258
#define HDR_INIT_SIZE       0x260
#define HDR_END_2_12        0x268   /* kernel_info_offset ends the 2.15 header */
#define HDR_END_MAX         0x290   /* boot_params.edd_mbr_sig_buffer */

/* boot_params outside the setup header */
#define BP_E820_ENTRIES     0x1e8
#define BP_E820_TABLE       0x2d0
#define BP_E820_MAX         128

#define LOADED_HIGH         0x01
#define XLF_KERNEL_64       0x01
#define PROTO_MIN           0x020c
#define ENTRY64_OFFSET      0x200

bool boot_bzimage_is(const uint8_t *k, size_t len)
{
	return len >= HDR_MAGIC + 4 && memcmp(k + HDR_MAGIC, "HdrS", 4) == 0;
}

/* The validated facts of a bzImage header. */
struct bz {
	size_t hdr_end;         /* end of setup header in the file */
	uint64_t pm_off;        /* protected-mode kernel in the file */
	uint64_t pm_size;
	uint32_t initrd_addr_max;
	uint32_t cmdline_size;
	uint32_t align;
	bool relocatable;
	uint64_t pref;
	uint64_t init_size;
};

static int parse_header(struct boot_ctx *c, struct bz *b)
{
	const uint8_t *k = c->img->kernel;
	size_t len = c->img->kernel_len;
	uint16_t version, xlf;
	unsigned setup_sects;
	uint64_t syssize;

	if (len < HDR_VERSION + 2)
		return boot_err(c, -ENOEXEC, "bzImage setup header truncated: file has %zu bytes", len);
	version = boot_rd16(k + HDR_VERSION);
	if (version < PROTO_MIN)
		return boot_err(c, -ENOEXEC, "bzImage boot protocol %u.%02u is too old: 2.12 or later needed",
				version >> 8, version & 0xff);
	if (boot_rd16(k + HDR_BOOT_FLAG) != 0xaa55)
		return boot_err(c, -ENOEXEC, "bzImage boot_flag is 0x%04x, 0xaa55 expected",
				boot_rd16(k + HDR_BOOT_FLAG));
	/* The header's own length is in the jump instruction at 0x200. */
	b->hdr_end = HDR_JUMP + 2 + k[HDR_JUMP + 1];
	if (b->hdr_end < HDR_END_2_12 || b->hdr_end > HDR_END_MAX)
		return boot_err(c, -ENOEXEC, "bzImage setup header ends at 0x%zx: between 0x%x and 0x%x expected",
				b->hdr_end, HDR_END_2_12, HDR_END_MAX);
	if (b->hdr_end > len)
		return boot_err(c, -ENOEXEC, "bzImage setup header truncated: ends at 0x%zx, file has %zu bytes",
				b->hdr_end, len);
	xlf = boot_rd16(k + HDR_XLOADFLAGS);
	if (!(xlf & XLF_KERNEL_64))
		return boot_err(c, -ENOEXEC, "bzImage has no 64-bit entry point (XLF_KERNEL_64 not set in xloadflags 0x%04x)", xlf);
	if (!(k[HDR_LOADFLAGS] & LOADED_HIGH))
		return boot_err(c, -ENOEXEC, "zImage (kernel not loaded at 1 MiB) is not supported: bzImage needed");

	setup_sects = k[HDR_SETUP_SECTS] ? k[HDR_SETUP_SECTS] : 4;
	b->pm_off = (uint64_t)(setup_sects + 1) * 512;
	if (b->pm_off >= len)
		return boot_err(c, -ENOEXEC, "bzImage setup_sects %u puts the kernel at byte %llu, beyond the end of the %zu-byte file",
				setup_sects, (unsigned long long)b->pm_off, len);
	b->pm_size = len - b->pm_off;
	syssize = (uint64_t)boot_rd32(k + HDR_SYSSIZE) * 16;
	if (syssize > b->pm_size)
		return boot_err(c, -ENOEXEC, "bzImage truncated: syssize says %llu bytes of kernel, the file has %llu",
				(unsigned long long)syssize, (unsigned long long)b->pm_size);
	if (b->pm_size <= ENTRY64_OFFSET)
		return boot_err(c, -ENOEXEC, "bzImage kernel of %llu bytes is too short to hold the 64-bit entry at +0x%x",
				(unsigned long long)b->pm_size, ENTRY64_OFFSET);

	b->initrd_addr_max = boot_rd32(k + HDR_INITRD_ADDR_MAX);
	b->cmdline_size = boot_rd32(k + HDR_CMDLINE_SIZE);
	b->align = boot_rd32(k + HDR_KERNEL_ALIGN);
	b->relocatable = k[HDR_RELOCATABLE] != 0;
	b->pref = boot_rd64(k + HDR_PREF_ADDRESS);
	b->init_size = boot_rd32(k + HDR_INIT_SIZE);
	if (b->relocatable && (b->align == 0 || (b->align & (b->align - 1))))
		return boot_err(c, -ENOEXEC, "bzImage kernel_alignment 0x%x is not a power of two", b->align);
	return 0;
}

/*
 * Where the kernel runs after it moved itself: the 64-bit decompressor
 * (arch/x86/boot/compressed/head_64.S) aligns a relocatable kernel's load
 * address up to kernel_alignment and never goes below LOAD_PHYSICAL_ADDR
 * (= pref_address); a fixed kernel always runs at pref_address. It then
 * needs init_size bytes from there.
 */
static uint64_t run_address(const struct bz *b, uint64_t load)
{
	uint64_t at = load;

	if (b->relocatable)
		at = (load + b->align - 1) & ~((uint64_t)b->align - 1);
	if (b->pref > at || (!b->relocatable && b->pref))
		at = b->pref;
	return at;
}

static int place_kernel(struct boot_ctx *c, const struct bz *b, uint64_t *load)
{
	uint64_t need = b->init_size > b->pm_size ? b->init_size : b->pm_size;
	uint64_t at, run;
	int rc;

	/* A relocatable kernel loaded at its preferred address need not move. */
	*load = BOOT_1M;
	if (b->relocatable && b->pref >= BOOT_1M && !(b->pref & (b->align - 1)) &&
	    b->pref + need > b->pref && b->pref + need <= c->mem->low)
		*load = b->pref;
	rc = boot_check_load(c, *load, b->pm_size, "bzImage kernel");
	if (rc)
		return rc;
	run = run_address(b, *load);
	if (run + b->init_size < run)
		return boot_err(c, -ENOEXEC, "bzImage pref_address 0x%llx with init_size 0x%llx wraps around",
				(unsigned long long)b->pref,
				(unsigned long long)b->init_size);
	rc = boot_check_load(c, run, b->init_size, "bzImage decompression area (init_size)");
	if (rc)
		return rc;
	at = *load + b->pm_size;
	c->kernel_end = run + b->init_size > at ? run + b->init_size : at;
	return 0;
}

static void write_e820(struct boot_ctx *c, uint8_t *zp)
{
	struct boot_e820 map[BOOT_E820_MAX];
	int n = boot_e820(c->mem, map, BOOT_E820_MAX);

	for (int i = 0; i < n && i < BP_E820_MAX; i++) {
		uint8_t *e = zp + BP_E820_TABLE + i * 20;

		boot_wr64(e, map[i].addr);
		boot_wr64(e + 8, map[i].size);
		boot_wr32(e + 16, map[i].type);
	}
	zp[BP_E820_ENTRIES] = (uint8_t)n;
}

int boot_bzimage_load(struct boot_ctx *c, struct boot_entry *out)
{
	const uint8_t *k = c->img->kernel;
	struct bz b = { 0 };
	uint64_t load;
	uint8_t *zp, *dst;
	int rc;

	rc = parse_header(c, &b);
	if (rc)
		return rc;
	if (c->cmdline_len > b.cmdline_size)
		return boot_err(c, -E2BIG, "command line of %zu bytes is longer than the kernel's cmdline_size %u",
				c->cmdline_len, b.cmdline_size);
	rc = place_kernel(c, &b, &load);
	if (rc)
		return rc;
	dst = mem_gpa(c->mem, load, b.pm_size);
	memcpy(dst, k + b.pm_off, b.pm_size);

	rc = boot_place_initrd(c, b.initrd_addr_max);
	if (rc)
		return rc;
	rc = boot_write_cmdline(c);
	if (rc)
		return rc;

	/* Zero page: zero, then the kernel's own setup header, then what a
	 * boot loader is required to fill in (boot.rst "Details of header
	 * fields"). Leaving the sentinel at 0x1ef zero tells the kernel the
	 * rest of boot_params was cleared on purpose. */
	zp = mem_gpa(c->mem, BOOT_ZERO_PAGE, 4096);
	memset(zp, 0, 4096);
	memcpy(zp + HDR_START, k + HDR_START, b.hdr_end - HDR_START);
	boot_wr16(zp + HDR_VID_MODE, 0xffff);            /* "normal" */
	zp[HDR_TYPE_OF_LOADER] = 0xff;                   /* undefined loader */
	boot_wr32(zp + HDR_CODE32_START, (uint32_t)load);
	boot_wr32(zp + HDR_CMD_LINE_PTR, (uint32_t)BOOT_CMDLINE);
	boot_wr32(zp + HDR_RAMDISK_IMAGE, (uint32_t)c->initrd_gpa);
	boot_wr32(zp + HDR_RAMDISK_SIZE,
		  c->initrd_gpa ? (uint32_t)c->img->initrd_len : 0);
	write_e820(c, zp);

	*out = (struct boot_entry){ .mode = BOOT_LINUX64,
				    .entry = load + ENTRY64_OFFSET,
				    .boot_arg = BOOT_ZERO_PAGE };
	return 0;
}
