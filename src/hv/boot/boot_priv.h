/* boot_priv: what the boot loaders share inside src/hv/boot — the fixed
 * low-memory map of the boot structures, the load context and the helpers
 * that keep every read of the (hostile) image and every write to guest RAM
 * in bounds. Not for use outside src/hv/boot and its tests. */
#ifndef WARD_HV_BOOT_PRIV_H
#define WARD_HV_BOOT_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hv/boot/boot.h"

/*
 * Guest-physical map of what boot_load writes (docs/hv-boot.md):
 *
 *   0x00000-0x004ff  real-mode IVT and BIOS data area: left zero
 *   0x00500-0x0052f  GDT: null, null, code 0x10, data 0x18, TSS 0x20
 *   0x01000-0x01037  PVH hvm_start_info
 *   0x01040-0x0105f  PVH module list (one entry: the initrd)
 *   0x01080-0x0113f  PVH memory map (<= BOOT_E820_MAX entries)
 *   0x02000-0x02fff  kernel command line (NUL-terminated)
 *   0x07000-0x07fff  Linux boot_params ("zero page")
 *   0x08000-0x08fff  boot stack (rsp = 0x8ff0)
 *   0x09000-0x09fff  PML4
 *   0x0a000-0x0afff  PDPT
 *   0x0b000-0x0efff  4 page directories: 4 GiB identity map, 2 MiB pages
 *   0x9fc00-0xfffff  reserved in e820 (EBDA, VGA, BIOS); the MP table lives
 *                    at 0xf0000 where Linux scans for "_MP_"
 *
 * Kernel segments, the bzImage and the initrd must stay out of both
 * [0, BOOT_LOW_END) and [BOOT_EBDA, 1 MiB).
 */
#define BOOT_GDT          0x00500ULL
#define BOOT_GDT_ENTRIES  6
#define BOOT_START_INFO   0x01000ULL
#define BOOT_MODLIST      0x01040ULL
#define BOOT_MEMMAP       0x01080ULL
#define BOOT_CMDLINE      0x02000ULL
#define BOOT_CMDLINE_MAX  0x01000ULL   /* bytes including the NUL */
#define BOOT_ZERO_PAGE    0x07000ULL
#define BOOT_STACK_TOP    0x08ff0ULL
#define BOOT_PML4         0x09000ULL
#define BOOT_PDPT         0x0a000ULL
#define BOOT_PD           0x0b000ULL   /* 4 pages */
#define BOOT_LOW_END      0x10000ULL
#define BOOT_EBDA         0x9fc00ULL
#define BOOT_MPTABLE      0xf0000ULL
#define BOOT_MPTABLE_MAX  0x01000ULL
#define BOOT_1M           0x100000ULL
#define BOOT_MIN_LOW_RAM  (2ULL << 20)  /* tables + a little kernel */

#define BOOT_SEL_CODE     0x10   /* boot.rst __BOOT_CS */
#define BOOT_SEL_DATA     0x18   /* boot.rst __BOOT_DS */
#define BOOT_SEL_TSS      0x20

/* e820 / PVH memory map entry types */
#define BOOT_E820_RAM       1
#define BOOT_E820_RESERVED  2
#define BOOT_E820_MAX       8

struct boot_e820 {
	uint64_t addr, size;
	uint32_t type;
};

/* One boot_load call: the inputs and what the loaders have decided. */
struct boot_ctx {
	struct guest_mem *mem;
	const struct boot_image *img;
	int nr_vcpus;
	size_t cmdline_len;     /* strlen(cmdline) */
	uint64_t kernel_end;    /* first GPA above everything the kernel uses */
	uint64_t initrd_gpa;    /* 0: no initrd */
	char *err;
	size_t errlen;
};

/* Format err, return rc (a negative errno). */
int boot_err(struct boot_ctx *c, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* True when [off, off+len) lies inside [0, total), without overflow. */
static inline bool boot_in(uint64_t off, uint64_t len, uint64_t total)
{
	return off <= total && len <= total - off;
}

/* Little-endian field access; callers bounds-check first. */
static inline uint16_t boot_rd16(const uint8_t *p)
{ uint16_t v; memcpy(&v, p, sizeof(v)); return v; }
static inline uint32_t boot_rd32(const uint8_t *p)
{ uint32_t v; memcpy(&v, p, sizeof(v)); return v; }
static inline uint64_t boot_rd64(const uint8_t *p)
{ uint64_t v; memcpy(&v, p, sizeof(v)); return v; }
static inline void boot_wr16(uint8_t *p, uint16_t v) { memcpy(p, &v, sizeof(v)); }
static inline void boot_wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, sizeof(v)); }
static inline void boot_wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, sizeof(v)); }

/* Check that the kernel may occupy [gpa, gpa+len): inside guest RAM and
 * clear of the boot structures. `what` names it in the error. */
int boot_check_load(struct boot_ctx *c, uint64_t gpa, uint64_t len,
		    const char *what);

/* Put the initrd at the highest page-aligned address at or below
 * `max_last` (inclusive last byte) in low RAM, above c->kernel_end. */
int boot_place_initrd(struct boot_ctx *c, uint64_t max_last);

/* Format loaders (boot_elf.c, boot_bzimage.c). boot_elf_load expects the
 * ELF magic already matched; boot_bzimage_is reports a "HdrS" signature. */
int boot_elf_load(struct boot_ctx *c, struct boot_entry *out);
bool boot_bzimage_is(const uint8_t *k, size_t len);
int boot_bzimage_load(struct boot_ctx *c, struct boot_entry *out);

/* Tables (boot_tables.c). */
int boot_e820(const struct guest_mem *m, struct boot_e820 *out, int max);
int boot_write_cmdline(struct boot_ctx *c);
int boot_write_pvh(struct boot_ctx *c);
int boot_write_mptable(struct boot_ctx *c);

/* vCPU structures in guest RAM (boot_cpu.c). */
int boot_write_gdt(struct boot_ctx *c, enum boot_mode mode);
int boot_write_page_tables(struct boot_ctx *c);

/* Checksum helper for MP tables: the byte that makes the sum zero. */
uint8_t boot_checksum(const uint8_t *p, size_t len);

#endif
