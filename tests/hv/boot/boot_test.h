/* boot_test: helpers the boot-loader tests share — guest memory over an
 * anonymous mapping (real mem_gpa from src/hv/mem.c) and builders of PVH ELF
 * and bzImage kernels in memory. */
#ifndef WARD_TESTS_BOOT_TEST_H
#define WARD_TESTS_BOOT_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hv/mem.h"

struct kvm_run;

#define MIB (1ULL << 20)

/* PVH ELF layout of make_elf() */
#define ELF_PHOFF     64
#define ELF_NOTE_OFF  0x100
#define ELF_CODE_OFF  0x200
#define ELF_LOAD      (1 * MIB)
#define ELF_FILESZ    0x100
#define ELF_MEMSZ     0x2000

/* bzImage layout of make_bzimage() */
#define BZ_SETUP_SECTS 4
#define BZ_PM_OFF      ((BZ_SETUP_SECTS + 1) * 512)
#define BZ_PM_SIZE     0x4000

struct img {
	uint8_t *buf;
	size_t len;
};

enum ph_field { PH_TYPE, PH_OFFSET, PH_PADDR, PH_FILESZ, PH_MEMSZ, PH_ALIGN };

struct guest_mem *tmem_create(uint64_t size);
void tmem_destroy(struct guest_mem *m);
uint8_t *tmem_at(struct guest_mem *m, uint64_t gpa);

/* A valid PVH image: PT_LOAD of ELF_FILESZ bytes (code, then a pattern) at
 * 1 MiB with a bss tail to ELF_MEMSZ, and a PT_NOTE whose Xen PHYS32_ENTRY
 * note points at the start of the code. */
struct img make_elf(bool is64, const uint8_t *code, size_t code_len);
void ph_set(struct img *im, int idx, enum ph_field f, uint64_t v);
void set_pvh_entry(struct img *im, uint32_t entry);

/* A valid bzImage (protocol 2.15, relocatable, 64-bit entry, pref_address
 * 16 MiB, init_size 8 MiB) with `code` at the 64-bit entry (+0x200). */
struct img make_bzimage(size_t pm_size, const uint8_t *code, size_t code_len);

/* One VM with RAM from tmem_create at GPA 0 and one vCPU whose CPUID is
 * KVM's supported set (long mode needs it). No irqchip: HLT must reach us. */
struct tvm {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	size_t run_size;
	struct guest_mem *mem;
};

void tvm_open(struct tvm *v, uint64_t size);
void tvm_close(struct tvm *v);

static inline void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

#endif
