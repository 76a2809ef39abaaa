/* boot: loads a guest kernel image (PVH ELF or Linux bzImage), its initrd
 * and command line into guest RAM, writes the tables a kernel needs to find
 * memory and CPUs without firmware (e820, PVH start_info, MP table), and
 * puts the boot vCPU into the state its entry protocol requires. */
#ifndef WARD_HV_BOOT_H
#define WARD_HV_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "hv/mem.h"

struct boot_image {
	const uint8_t *kernel;
	size_t kernel_len;
	const uint8_t *initrd;       /* NULL or initrd_len == 0: none */
	size_t initrd_len;
	const char *cmdline;         /* NULL: empty */
};

enum boot_mode {
	BOOT_PVH,       /* 32-bit protected mode, %ebx = hvm_start_info */
	BOOT_LINUX64,   /* 64-bit long mode, %rsi = boot_params (zero page) */
};

struct boot_entry {
	enum boot_mode mode;
	uint64_t entry;     /* guest-physical entry point */
	uint64_t boot_arg;  /* PVH: start_info GPA (ebx); Linux: zero page GPA (rsi) */
	uint64_t pml4;      /* LINUX64: identity page tables (cr3); PVH: 0 */
};

/* Load `img` into `mem` for a VM of `nr_vcpus` vCPUs. The image is untrusted:
 * every failure returns a negative errno and a message in err naming what
 * is wrong with it. On success *out says how to start the boot vCPU. */
int boot_load(struct guest_mem *mem, const struct boot_image *img,
	      int nr_vcpus, struct boot_entry *out, char *err, size_t errlen);

/* Set the registers of the boot vCPU (vCPU 0 only: the others wait for
 * INIT/SIPI from the in-kernel LAPIC) as *e requires. The caller has already
 * set CPUID (KVM_SET_CPUID2); long mode needs it. */
int boot_setup_vcpu(int vcpu_fd, const struct boot_entry *e,
		    const struct guest_mem *mem, char *err, size_t errlen);

#endif
