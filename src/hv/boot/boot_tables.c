/* boot_tables: the firmware tables a kernel reads instead of asking a BIOS —
 * the e820 memory map, the command line, the PVH hvm_start_info (Xen
 * start_info.h, version 1) and an Intel MultiProcessor 1.4 table so Linux
 * finds the vCPUs, the IOAPIC and the IRQ routing without ACPI. */
#include <errno.h>
#include <string.h>

#include "hv/boot/boot_priv.h"
#include "hv/vm.h"

int boot_e820(const struct guest_mem *m, struct boot_e820 *out, int max)
{
	struct boot_e820 map[BOOT_E820_MAX];
	int n = 0;

	/* Base memory up to the EBDA, then the legacy BIOS/VGA area that
	 * holds our MP table, then RAM from 1 MiB to the hole. */
	map[n++] = (struct boot_e820){ 0, BOOT_EBDA, BOOT_E820_RAM };
	map[n++] = (struct boot_e820){ BOOT_EBDA, BOOT_1M - BOOT_EBDA,
				       BOOT_E820_RESERVED };
	if (m->low > BOOT_1M)
		map[n++] = (struct boot_e820){ BOOT_1M, m->low - BOOT_1M,
					       BOOT_E820_RAM };
	/* IOAPIC, LAPIC and the top-of-4G firmware area are reserved the way
	 * a PC BIOS reserves them; the rest of the hole is left a gap, which
	 * Linux takes as the range for PCI BARs (ward-hv puts them at
	 * MEM_PCI_MMIO_BASE inside it). */
	map[n++] = (struct boot_e820){ MEM_IOAPIC_BASE,
				       MEM_HIGH_BASE - MEM_IOAPIC_BASE,
				       BOOT_E820_RESERVED };
	if (m->size > m->low)
		map[n++] = (struct boot_e820){ MEM_HIGH_BASE, m->size - m->low,
					       BOOT_E820_RAM };
	if (n > max)
		n = max;
	memcpy(out, map, n * sizeof(map[0]));
	return n;
}

int boot_write_cmdline(struct boot_ctx *c)
{
	uint8_t *dst = mem_gpa(c->mem, BOOT_CMDLINE, BOOT_CMDLINE_MAX);

	if (!dst)
		return boot_err(c, -ENOMEM, "guest RAM does not cover the command line");
	memset(dst, 0, BOOT_CMDLINE_MAX);
	if (c->cmdline_len)
		memcpy(dst, c->img->cmdline, c->cmdline_len);
	return 0;
}

/* xen/include/public/arch-x86/hvm/start_info.h */
#define PVH_MAGIC          0x336ec578
#define SI_MAGIC           0
#define SI_VERSION         4
#define SI_FLAGS           8
#define SI_NR_MODULES      12
#define SI_MODLIST         16
#define SI_CMDLINE         24
#define SI_RSDP            32
#define SI_MEMMAP          40
#define SI_MEMMAP_ENTRIES  48
#define SI_SIZE            56
#define MOD_SIZE           32
#define MEMMAP_ENTRY_SIZE  24

int boot_write_pvh(struct boot_ctx *c)
{
	struct boot_e820 map[BOOT_E820_MAX];
	uint8_t *si, *mod, *mm;
	int n = boot_e820(c->mem, map, BOOT_E820_MAX);

	si = mem_gpa(c->mem, BOOT_START_INFO, SI_SIZE);
	mod = mem_gpa(c->mem, BOOT_MODLIST, MOD_SIZE);
	mm = mem_gpa(c->mem, BOOT_MEMMAP, BOOT_E820_MAX * MEMMAP_ENTRY_SIZE);
	if (!si || !mod || !mm)
		return boot_err(c, -ENOMEM, "guest RAM does not cover the PVH start_info");
	memset(si, 0, SI_SIZE);
	boot_wr32(si + SI_MAGIC, PVH_MAGIC);
	boot_wr32(si + SI_VERSION, 1);
	boot_wr64(si + SI_CMDLINE, BOOT_CMDLINE);
	/* No ACPI: rsdp 0 sends Linux to the MP table. */
	boot_wr64(si + SI_MEMMAP, BOOT_MEMMAP);
	boot_wr32(si + SI_MEMMAP_ENTRIES, (uint32_t)n);
	for (int i = 0; i < n; i++) {
		uint8_t *e = mm + i * MEMMAP_ENTRY_SIZE;

		boot_wr64(e, map[i].addr);
		boot_wr64(e + 8, map[i].size);
		boot_wr32(e + 16, map[i].type);
		boot_wr32(e + 20, 0);
	}
	memset(mod, 0, MOD_SIZE);
	if (c->initrd_gpa) {
		boot_wr64(mod, c->initrd_gpa);
		boot_wr64(mod + 8, c->img->initrd_len);
		boot_wr32(si + SI_NR_MODULES, 1);
		boot_wr64(si + SI_MODLIST, BOOT_MODLIST);
	}
	return 0;
}

uint8_t boot_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return (uint8_t)-sum;
}

/* Intel MultiProcessor Specification 1.4, chapter 4. */
#define MPF_SIZE          16
#define MPC_HDR_SIZE      44
#define MPC_CPU_SIZE      20
#define MPC_ENTRY_SIZE    8
#define MP_CPU            0
#define MP_BUS            1
#define MP_IOAPIC         2
#define MP_INTSRC         3
#define MP_LINTSRC        4
#define MP_INT            0
#define MP_NMI            1
#define MP_EXTINT         3
#define MP_BUS_PCI        0     /* must equal the PCI bus number */
#define MP_BUS_ISA        1
#define MP_IRQ_LEVEL_LOW  0x0f  /* trigger level, polarity active low */
#define MP_LAPIC_VERSION  0x14  /* KVM's in-kernel LAPIC */
#define MP_IOAPIC_VERSION 0x11  /* KVM's in-kernel IOAPIC, 24 pins */

/* Bytes the config table needs for n vCPUs. */
static size_t mpc_size(int n)
{
	return MPC_HDR_SIZE + (size_t)n * MPC_CPU_SIZE +
	       (2 + 1 + 16 + VM_PCI_IRQ_COUNT + 2) * MPC_ENTRY_SIZE;
}

static uint8_t *mp_entry8(uint8_t *p, uint8_t a, uint8_t b, uint16_t c16,
			  uint8_t d, uint8_t e, uint8_t f, uint8_t g)
{
	p[0] = a, p[1] = b;
	boot_wr16(p + 2, c16);
	p[4] = d, p[5] = e, p[6] = f, p[7] = g;
	return p + MPC_ENTRY_SIZE;
}

static uint8_t *mp_bus(uint8_t *p, uint8_t id, const char type[6])
{
	p[0] = MP_BUS;
	p[1] = id;
	memcpy(p + 2, type, 6);
	return p + MPC_ENTRY_SIZE;
}

int boot_write_mptable(struct boot_ctx *c)
{
	size_t size = mpc_size(c->nr_vcpus);
	uint8_t ioapic_id = (uint8_t)c->nr_vcpus;   /* first free APIC id */
	uint8_t *mpf, *mpc, *p;
	uint16_t count = 0;

	if (MPF_SIZE + size > BOOT_MPTABLE_MAX)
		return boot_err(c, -E2BIG, "MP table for %d vCPUs does not fit", c->nr_vcpus);
	mpf = mem_gpa(c->mem, BOOT_MPTABLE, MPF_SIZE + size);
	if (!mpf)
		return boot_err(c, -ENOMEM, "guest RAM does not cover the MP table");
	memset(mpf, 0, MPF_SIZE + size);
	mpc = mpf + MPF_SIZE;

	p = mpc + MPC_HDR_SIZE;
	for (int i = 0; i < c->nr_vcpus; i++) {
		p[0] = MP_CPU;
		p[1] = (uint8_t)i;                    /* APIC id = vCPU id */
		p[2] = MP_LAPIC_VERSION;
		p[3] = 0x01 | (i == 0 ? 0x02 : 0);    /* enabled, BSP */
		boot_wr32(p + 4, 0x600);              /* family 6 */
		boot_wr32(p + 8, 0x201);              /* FPU, APIC */
		p += MPC_CPU_SIZE;
		count++;
	}
	p = mp_bus(p, MP_BUS_PCI, "PCI   ");
	p = mp_bus(p, MP_BUS_ISA, "ISA   ");
	p[0] = MP_IOAPIC;
	p[1] = ioapic_id;
	p[2] = MP_IOAPIC_VERSION;
	p[3] = 0x01;                                  /* enabled */
	boot_wr32(p + 4, (uint32_t)MEM_IOAPIC_BASE);
	p += MPC_ENTRY_SIZE;
	count += 3;
	/* ISA IRQ n -> IOAPIC pin n, as KVM's default GSI routing has it. */
	for (int irq = 0; irq < 16; irq++, count++)
		p = mp_entry8(p, MP_INTSRC, MP_INT, 0, MP_BUS_ISA, (uint8_t)irq,
			      ioapic_id, (uint8_t)irq);
	/* PCI slot s INTA# -> pin VM_PCI_IRQ_BASE + s; source irq is
	 * (device << 2) | pin. */
	for (int s = 0; s < VM_PCI_IRQ_COUNT; s++, count++)
		p = mp_entry8(p, MP_INTSRC, MP_INT, MP_IRQ_LEVEL_LOW, MP_BUS_PCI,
			      (uint8_t)(s << 2), ioapic_id,
			      (uint8_t)(VM_PCI_IRQ_BASE + s));
	p = mp_entry8(p, MP_LINTSRC, MP_EXTINT, 0, MP_BUS_ISA, 0, 0xff, 0);
	p = mp_entry8(p, MP_LINTSRC, MP_NMI, 0, MP_BUS_ISA, 0, 0xff, 1);
	count += 2;

	memcpy(mpc, "PCMP", 4);
	boot_wr16(mpc + 4, (uint16_t)size);
	mpc[6] = 4;                                   /* spec 1.4 */
	memcpy(mpc + 8, "WARD    ", 8);
	memcpy(mpc + 16, "WARD-HV     ", 12);
	boot_wr16(mpc + 34, count);
	boot_wr32(mpc + 36, (uint32_t)MEM_LAPIC_BASE);
	mpc[7] = boot_checksum(mpc, size);

	memcpy(mpf, "_MP_", 4);
	boot_wr32(mpf + 4, (uint32_t)(BOOT_MPTABLE + MPF_SIZE));
	mpf[8] = 1;                                   /* length in 16 bytes */
	mpf[9] = 4;
	mpf[10] = boot_checksum(mpf, MPF_SIZE);
	return 0;
}
