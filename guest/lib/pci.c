/* guest/lib/pci.c: configuration space access and BAR policy.
 * Type 1 (0xCF8/0xCFC) is used when a host bridge answers there (ward-hv);
 * else ECAM, whose base comes from ACPI (MCFG, or microvm's DSDT _CBA).
 * Zero BARs are assigned from the platform's 32-bit window (QEMU microvm
 * firmware assigns none); non-zero BARs are the host's choice and kept. */
#include "pci.h"
#include "acpi.h"
#include "console.h"
#include "io.h"

#define PCI_CMD			0x04
#define PCI_CMD_MEM		0x0002
#define PCI_CMD_MASTER		0x0004
#define PCI_STATUS		0x06
#define PCI_STATUS_CAPS		0x10
#define PCI_HDR_TYPE		0x0E
#define PCI_BAR0		0x10
#define PCI_CAP_PTR		0x34

/* QEMU 7.2 hw/i386/microvm: PCIE_MMIO_BASE/SIZE (ECAM sits right above). */
#define MICROVM_MMIO32_BASE	0xC0000000ull
#define MICROVM_MMIO32_END	0xE0000000ull
/* ward-hv pre-assigns BARs in 0xD0000000-0xDFFFFFFF; a zero BAR there
 * (should not happen) gets the top half so it cannot collide. */
#define WARDHV_MMIO32_BASE	0xD8000000ull
#define WARDHV_MMIO32_END	0xE0000000ull

static enum pci_access access;
static uint64_t ecam_base;
static uint64_t win_next, win_end;

static uint32_t type1_addr(const struct pci_dev *d, uint16_t off)
{
	return 0x80000000u | (uint32_t)d->bus << 16 | (uint32_t)d->dev << 11 |
	       (uint32_t)d->fn << 8 | (off & 0xFC);
}

static uint64_t ecam_addr(const struct pci_dev *d, uint16_t off)
{
	return ecam_base + ((uint64_t)d->bus << 20 | (uint64_t)d->dev << 15 |
			    (uint64_t)d->fn << 12 | off);
}

enum pci_access pci_init(void)
{
	if (access != PCI_NONE)
		return access;
	/* The classic probe (Linux pci_check_type1): the address register
	 * of a real host bridge reads back what was written. */
	outl(0xCF8, 0x80000000u);
	if (inl(0xCF8) == 0x80000000u) {
		access = PCI_TYPE1;
		win_next = WARDHV_MMIO32_BASE;
		win_end = WARDHV_MMIO32_END;
		return access;
	}
	if (!acpi_find_ecam(&ecam_base)) {
		access = PCI_ECAM;
		win_next = MICROVM_MMIO32_BASE;
		win_end = MICROVM_MMIO32_END;
	}
	return access;
}

const char *pci_describe(void)
{
	static char buf[32];

	switch (pci_init()) {
	case PCI_TYPE1:
		return "type1 (0xcf8)";
	case PCI_ECAM:
		snprintf(buf, sizeof(buf), "ecam@%#lx", ecam_base);
		return buf;
	default:
		return "none";
	}
}

uint32_t pci_read32(const struct pci_dev *d, uint16_t off)
{
	if (access == PCI_TYPE1) {
		outl(0xCF8, type1_addr(d, off));
		return inl(0xCFC);
	}
	if (access == PCI_ECAM)
		return mmio_read32(ecam_addr(d, off));
	return 0xFFFFFFFFu;
}

uint16_t pci_read16(const struct pci_dev *d, uint16_t off)
{
	if (access == PCI_TYPE1) {
		outl(0xCF8, type1_addr(d, off));
		return inw(0xCFC + (off & 2));
	}
	if (access == PCI_ECAM)
		return mmio_read16(ecam_addr(d, off));
	return 0xFFFF;
}

uint8_t pci_read8(const struct pci_dev *d, uint16_t off)
{
	if (access == PCI_TYPE1) {
		outl(0xCF8, type1_addr(d, off));
		return inb(0xCFC + (off & 3));
	}
	if (access == PCI_ECAM)
		return mmio_read8(ecam_addr(d, off));
	return 0xFF;
}

void pci_write32(const struct pci_dev *d, uint16_t off, uint32_t v)
{
	if (access == PCI_TYPE1) {
		outl(0xCF8, type1_addr(d, off));
		outl(0xCFC, v);
	} else if (access == PCI_ECAM) {
		mmio_write32(ecam_addr(d, off), v);
	}
}

void pci_write16(const struct pci_dev *d, uint16_t off, uint16_t v)
{
	if (access == PCI_TYPE1) {
		outl(0xCF8, type1_addr(d, off));
		outw(0xCFC + (off & 2), v);
	} else if (access == PCI_ECAM) {
		mmio_write16(ecam_addr(d, off), v);
	}
}

void pci_write8(const struct pci_dev *d, uint16_t off, uint8_t v)
{
	if (access == PCI_TYPE1) {
		outl(0xCF8, type1_addr(d, off));
		outb(0xCFC + (off & 3), v);
	} else if (access == PCI_ECAM) {
		mmio_write8(ecam_addr(d, off), v);
	}
}

bool pci_find(uint16_t vendor, uint16_t device, int index, struct pci_dev *out)
{
	if (pci_init() == PCI_NONE)
		return false;
	for (uint8_t dev = 0; dev < 32; dev++) {
		for (uint8_t fn = 0; fn < 8; fn++) {
			struct pci_dev d = { .bus = 0, .dev = dev, .fn = fn };
			uint32_t id = pci_read32(&d, 0);

			if ((id & 0xFFFF) == 0xFFFF) {
				if (fn == 0)
					break;
				continue;
			}
			if ((id & 0xFFFF) == vendor && (id >> 16) == device &&
			    index-- == 0) {
				d.vendor = vendor;
				d.device = device;
				*out = d;
				return true;
			}
			if (fn == 0 && !(pci_read8(&d, PCI_HDR_TYPE) & 0x80))
				break;	/* single-function device */
		}
	}
	return false;
}

int pci_enable(struct pci_dev *d)
{
	uint16_t cmd = pci_read16(d, PCI_CMD);

	/* No decoding while BARs hold the all-ones sizing pattern. */
	pci_write16(d, PCI_CMD, cmd & ~(PCI_CMD_MEM | PCI_CMD_MASTER));
	for (int i = 0; i < 6; i++) {
		uint16_t off = PCI_BAR0 + 4 * i;
		uint32_t lo = pci_read32(d, off), hi = 0, slo, shi = 0xFFFFFFFFu;
		bool is64 = (lo & 0x7) == 0x4;
		uint64_t addr, size;

		d->bar[i] = d->bar_size[i] = 0;
		if (lo & 1)		/* I/O BAR: nothing here needs one */
			continue;
		if (is64 && i < 5)
			hi = pci_read32(d, off + 4);
		pci_write32(d, off, 0xFFFFFFFFu);
		slo = pci_read32(d, off);
		pci_write32(d, off, lo);
		if (is64 && i < 5) {
			pci_write32(d, off + 4, 0xFFFFFFFFu);
			shi = pci_read32(d, off + 4);
			pci_write32(d, off + 4, hi);
		}
		size = ~(((uint64_t)shi << 32) | (slo & ~0xFull)) + 1;
		if (!is64)
			size &= 0xFFFFFFFFull;
		addr = ((uint64_t)hi << 32) | (lo & ~0xFull);
		if ((slo & ~0xFull) == 0)
			goto next;	/* unimplemented BAR */
		if (!addr) {
			/* Sizes are powers of two; natural alignment. 64-bit
			 * BARs go below 4 GiB too: only 4 GiB is mapped. */
			addr = (win_next + size - 1) & ~(size - 1);
			if (addr + size > win_end)
				return -1;
			win_next = addr + size;
			pci_write32(d, off, (uint32_t)addr | (lo & 0xF));
			if (is64)
				pci_write32(d, off + 4, (uint32_t)(addr >> 32));
		}
		d->bar[i] = addr;
		d->bar_size[i] = size;
next:
		if (is64)
			i++;
	}
	pci_write16(d, PCI_CMD, cmd | PCI_CMD_MEM | PCI_CMD_MASTER);
	return 0;
}

uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id, uint8_t from)
{
	uint8_t p;
	int guard = 48;

	if (!(pci_read16(d, PCI_STATUS) & PCI_STATUS_CAPS))
		return 0;
	p = from ? pci_read8(d, from + 1) : pci_read8(d, PCI_CAP_PTR);
	while (p && guard--) {
		p &= 0xFC;
		if (pci_read8(d, p) == id)
			return p;
		p = pci_read8(d, p + 1);
	}
	return 0;
}
