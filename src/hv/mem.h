/* mem: guest RAM for one VM — a single memfd, mapped once in ward-hv and
 * handed (same fd) only to this VM's vhost-user backends.
 * Guest-physical layout (see docs/hv.md):
 *   [0, low)                 RAM, low = min(size, MEM_LOW_MAX)
 *   [MEM_LOW_MAX, 4 GiB)     MMIO hole: PCI BARs, IOAPIC, LAPIC
 *   [4 GiB, 4 GiB + high)    the rest of RAM (memfd offset `low`)        */
#ifndef WARD_HV_MEM_H
#define WARD_HV_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEM_LOW_MAX      0xC0000000ULL   /* 3 GiB: RAM below the hole */
#define MEM_HIGH_BASE    0x100000000ULL  /* 4 GiB */
#define MEM_PCI_MMIO_BASE 0xD0000000ULL  /* BAR window ward-hv assigns from */
#define MEM_PCI_MMIO_SIZE 0x10000000ULL
#define MEM_IOAPIC_BASE  0xFEC00000ULL
#define MEM_LAPIC_BASE   0xFEE00000ULL

struct guest_mem {
	int fd;          /* memfd, MFD_CLOEXEC; sealed against shrinking */
	uint8_t *host;   /* ward-hv's mapping of the whole memfd */
	uint64_t size;   /* bytes of guest RAM */
	uint64_t low;    /* bytes mapped at GPA 0 */
	uint64_t huge_page; /* 0 (4 KiB pages) or HUGEPAGE_2M / HUGEPAGE_1G */
	bool locked;     /* mlock succeeded, or hugetlb (never swapped) */
};


/* Create and (when RLIMIT_MEMLOCK allows) lock-on-fault `size` bytes, none
 * populated until the guest touches them;
 * `huge_page` 0 for normal pages, else HUGEPAGE_2M or HUGEPAGE_1G (hugepool.h) (the
 * whole size is reserved from the host's pool now, or refused). */
int mem_create(struct guest_mem *m, uint64_t size, uint64_t huge_page, char *err,
	       size_t errlen);
/* Wipe the contents, unmap, close. */
void mem_destroy(struct guest_mem *m);
/* The wipe alone: every populated extent of the memfd zeroed, holes left
 * holes (mem_destroy's first step; separate for its test). */
void mem_wipe_populated(struct guest_mem *m);

/* Host pointer for [gpa, gpa+len) if it lies wholly inside one RAM region,
 * else NULL. The only way ward-hv code turns a guest address into a pointer. */
void *mem_gpa(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* The RAM regions as (gpa, size, memfd offset); returns the count (1 or 2). */
struct mem_region { uint64_t gpa, size, offset; };
int mem_regions(const struct guest_mem *m, struct mem_region out[2]);

#endif
